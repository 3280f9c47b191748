//! Copies of the source tree: builds run in a temporary copy, never in the user's checkout
//! (mode A rewrites debian/changelog; make writes objects), and never see `.git` or the
//! output directory.

use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use crate::error::{io, Error};

/// Copy `source` into `dest` (created), keeping modes and symlinks, skipping `.git` and
/// everything under `exclude` (the output directory, if it lies inside the tree).
pub fn copy_tree(source: &Path, dest: &Path, exclude: &[PathBuf]) -> Result<(), Error> {
    fs::create_dir_all(dest).map_err(io("create", dest))?;
    let walker = walkdir::WalkDir::new(source)
        .follow_links(false)
        .sort_by_file_name()
        .into_iter()
        .filter_entry(|e| {
            e.file_name() != ".git" && !exclude.iter().any(|x| e.path().starts_with(x))
        });
    for entry in walker {
        let entry = entry.map_err(crate::error::walk(source))?;
        let rel = entry.path().strip_prefix(source).unwrap_or(entry.path());
        if rel.as_os_str().is_empty() {
            continue;
        }
        let target = dest.join(rel);
        let kind = entry.file_type();
        if kind.is_dir() {
            fs::create_dir_all(&target).map_err(io("create", &target))?;
        } else if kind.is_symlink() {
            let link = fs::read_link(entry.path()).map_err(io("read", entry.path()))?;
            std::os::unix::fs::symlink(&link, &target).map_err(io("create", &target))?;
        } else {
            fs::copy(entry.path(), &target).map_err(io("copy", entry.path()))?;
            let mode = entry
                .metadata()
                .map(|m| m.permissions().mode())
                .unwrap_or(0o644);
            fs::set_permissions(&target, fs::Permissions::from_mode(mode))
                .map_err(io("chmod", &target))?;
        }
    }
    Ok(())
}

/// `path` made absolute against the current directory (without touching the file system).
pub fn absolute(path: &Path) -> PathBuf {
    if path.is_absolute() {
        path.to_path_buf()
    } else {
        std::env::current_dir()
            .map(|d| d.join(path))
            .unwrap_or_else(|_| path.to_path_buf())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn copies_files_links_and_modes_but_not_git_or_excluded_dirs() {
        let src = tempfile::tempdir().unwrap();
        let s = src.path();
        fs::create_dir_all(s.join(".git/objects")).unwrap();
        fs::create_dir_all(s.join("dist")).unwrap();
        fs::create_dir_all(s.join("bin")).unwrap();
        fs::write(s.join("bin/run"), "#!/bin/sh\n").unwrap();
        fs::set_permissions(s.join("bin/run"), fs::Permissions::from_mode(0o755)).unwrap();
        fs::write(s.join("dist/old.deb"), "x").unwrap();
        std::os::unix::fs::symlink("bin/run", s.join("link")).unwrap();
        let dst = tempfile::tempdir().unwrap();
        let d = dst.path().join("copy");
        copy_tree(s, &d, &[s.join("dist")]).unwrap();
        assert!(!d.join(".git").exists());
        assert!(!d.join("dist").exists());
        assert_eq!(
            fs::metadata(d.join("bin/run"))
                .unwrap()
                .permissions()
                .mode()
                & 0o777,
            0o755
        );
        assert_eq!(
            fs::read_link(d.join("link")).unwrap(),
            PathBuf::from("bin/run")
        );
    }
}
