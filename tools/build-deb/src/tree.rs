//! Copies of the source tree: builds run in a temporary copy, never in the user's checkout
//! (mode A rewrites debian/changelog; make writes objects), and never see `.git` or the
//! output directory.
//!
//! The copy keeps every file's modification time, as `cp -a` and dpkg-source do. make decides
//! what to rebuild from mtimes: a release tarball ships generated files (configure,
//! Makefile.in, hello.info) newer than their sources, and a copy stamped "now" in walk order
//! makes automake's rebuild rules fire (`aclocal-1.14: command not found`) and texinfo stamp
//! the build day into the manual, so the package would depend on the day it was built.

use std::fs;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};

use nix::fcntl::AT_FDCWD;
use nix::sys::stat::{utimensat, UtimensatFlags};
use nix::sys::time::TimeSpec;

use crate::error::{io, Error};

/// Copy `source` into `dest` (created), keeping modes, symlinks and modification times,
/// skipping `.git` and everything under `exclude` (the output directory, if it lies inside
/// the tree).
pub fn copy_tree(source: &Path, dest: &Path, exclude: &[PathBuf]) -> Result<(), Error> {
    fs::create_dir_all(dest).map_err(io("create", dest))?;
    // A directory's mtime changes with every entry created in it: set them last.
    let mut dirs = Vec::new();
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
        let meta = entry.metadata().map_err(crate::error::walk(source))?;
        if kind.is_dir() {
            fs::create_dir_all(&target).map_err(io("create", &target))?;
            dirs.push((target, meta));
            continue;
        } else if kind.is_symlink() {
            let link = fs::read_link(entry.path()).map_err(io("read", entry.path()))?;
            std::os::unix::fs::symlink(&link, &target).map_err(io("create", &target))?;
        } else {
            fs::copy(entry.path(), &target).map_err(io("copy", entry.path()))?;
            fs::set_permissions(
                &target,
                fs::Permissions::from_mode(meta.permissions().mode()),
            )
            .map_err(io("chmod", &target))?;
        }
        keep_times(&target, &meta)?;
    }
    for (dir, meta) in dirs.iter().rev() {
        keep_times(dir, meta)?;
    }
    Ok(())
}

/// Give `target` (a symlink itself, not what it points to) the access and modification
/// times of `meta`.
fn keep_times(target: &Path, meta: &fs::Metadata) -> Result<(), Error> {
    let atime = TimeSpec::new(meta.atime(), meta.atime_nsec());
    let mtime = TimeSpec::new(meta.mtime(), meta.mtime_nsec());
    utimensat(
        AT_FDCWD,
        target,
        &atime,
        &mtime,
        UtimensatFlags::NoFollowSymlink,
    )
    .map_err(|e| io("set the times of", target)(std::io::Error::from(e)))
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

    /// A release tarball's generated files must stay newer than their sources in the copy,
    /// or make rebuilds them with tools the build machine may not have.
    #[test]
    fn keeps_the_modification_times_of_files_dirs_and_links() {
        let src = tempfile::tempdir().unwrap();
        let s = src.path();
        fs::create_dir_all(s.join("doc")).unwrap();
        fs::write(s.join("doc/hello.texi"), "source").unwrap();
        fs::write(s.join("doc/hello.info"), "generated").unwrap();
        std::os::unix::fs::symlink("hello.info", s.join("doc/link")).unwrap();
        let old = |secs: i64| TimeSpec::new(secs, 0);
        for (path, secs) in [
            ("doc/hello.texi", 1_400_000_000),
            ("doc/hello.info", 1_416_139_241),
            ("doc/link", 1_416_139_000),
            ("doc", 1_416_139_300),
        ] {
            utimensat(
                AT_FDCWD,
                &s.join(path),
                &old(secs),
                &old(secs),
                UtimensatFlags::NoFollowSymlink,
            )
            .unwrap();
        }
        let dst = tempfile::tempdir().unwrap();
        let d = dst.path().join("copy");
        copy_tree(s, &d, &[]).unwrap();
        let mtime = |p: &Path| fs::symlink_metadata(p).unwrap().mtime();
        for path in ["doc/hello.texi", "doc/hello.info", "doc/link", "doc"] {
            assert_eq!(mtime(&d.join(path)), mtime(&s.join(path)), "{path}");
        }
    }
}
