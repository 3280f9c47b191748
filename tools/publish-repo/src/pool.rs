//! The pool: one immutable file per package version, shared by every suite, so promotion
//! moves the same bytes and rollback finds older versions still there.

use std::collections::BTreeSet;
use std::fs;
use std::path::{Path, PathBuf};

use crate::error::{io, Error};

/// `pool/COMPONENT/PREFIX/SOURCE/PACKAGE_VERSION_ARCH.deb`, as Debian lays it out
/// (PREFIX is the first letter, or `libX` for `lib*` sources). The epoch is not in the name.
pub fn pool_path(
    component: &str,
    source: &str,
    package: &str,
    version: &str,
    arch: &str,
) -> String {
    let prefix = if source.starts_with("lib") && source.len() > 3 {
        &source[..4]
    } else {
        &source[..source.len().min(1)]
    };
    let version = version.split_once(':').map_or(version, |(_, v)| v);
    format!("pool/{component}/{prefix}/{source}/{package}_{version}_{arch}.deb")
}

/// The source package name from a control paragraph's `Source:` (which may carry a version).
pub fn source_name(source_field: Option<&str>, package: &str) -> String {
    source_field
        .and_then(|s| s.split_whitespace().next())
        .filter(|s| !s.is_empty())
        .unwrap_or(package)
        .to_string()
}

/// Copy `deb` into the pool at `rel` (atomically); an existing file there is left alone.
pub fn store(repo: &Path, rel: &str, deb: &Path) -> Result<(), Error> {
    let target = repo.join(rel);
    if target.exists() {
        return Ok(());
    }
    let mut source = fs::File::open(deb).map_err(io("read", deb))?;
    cdkit::atomic::write_with(&target, |w| std::io::copy(&mut source, w).map(|_| ()))?;
    Ok(())
}

/// Delete pool files that `referenced` does not name; returns how many were deleted. Call
/// only under the repository lock.
pub fn collect_garbage(repo: &Path, referenced: &BTreeSet<String>) -> Result<usize, Error> {
    let pool = repo.join("pool");
    let mut removed = 0;
    let mut dirs: Vec<PathBuf> = Vec::new();
    let mut stack = vec![pool.clone()];
    while let Some(dir) = stack.pop() {
        let Ok(listing) = fs::read_dir(&dir) else {
            continue;
        };
        dirs.push(dir.clone());
        for item in listing.flatten() {
            let path = item.path();
            if item.file_type().map(|t| t.is_dir()).unwrap_or(false) {
                stack.push(path);
                continue;
            }
            let rel = path
                .strip_prefix(repo)
                .map(|p| p.to_string_lossy().into_owned())
                .unwrap_or_default();
            // Unreferenced files go, including `.NAME.tmp` files of a killed publisher's
            // atomic write: the caller holds the repository lock, so none is in progress.
            if !referenced.contains(&rel) {
                fs::remove_file(&path).map_err(io("remove", &path))?;
                removed += 1;
            }
        }
    }
    // Empty directories, deepest first (never the pool itself).
    dirs.sort_by_key(|d| std::cmp::Reverse(d.components().count()));
    for dir in dirs.into_iter().filter(|d| *d != pool) {
        let _ = fs::remove_dir(dir); // fails harmlessly if not empty
    }
    Ok(removed)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pool_paths_follow_debian() {
        assert_eq!(
            pool_path("main", "hello", "hello", "1:1.0-1", "amd64"),
            "pool/main/h/hello/hello_1.0-1_amd64.deb"
        );
        assert_eq!(
            pool_path("main", "libfoo", "libfoo1", "2.0", "amd64"),
            "pool/main/libf/libfoo/libfoo1_2.0_amd64.deb"
        );
        assert_eq!(source_name(Some("hello-src (1.0-1)"), "hello"), "hello-src");
        assert_eq!(source_name(None, "hello"), "hello");
    }
}
