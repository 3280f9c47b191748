//! The pool: one immutable file per package version, shared by every suite, so promotion
//! moves the same bytes and rollback finds older versions still there.

use std::collections::BTreeSet;
use std::fs;
use std::path::Path;

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

/// Copy `deb` into the pool at `rel` (temp file + rename; an existing file is left alone).
/// Not yet durable: the caller runs [`cdkit::atomic::sync_filesystem`] once for the whole
/// batch before any index refers to the files.
pub fn store(repo: &Path, rel: &str, deb: &Path) -> Result<(), Error> {
    let target = repo.join(rel);
    if target.exists() {
        return Ok(());
    }
    let mut source = fs::File::open(deb).map_err(io("read", deb))?;
    cdkit::atomic::write_unsynced(&target, |w| std::io::copy(&mut source, w).map(|_| ()))?;
    Ok(())
}

/// Delete the pool files in `gone` (repository-relative) and the directories they leave
/// empty; returns how many files were deleted. Call only under the repository lock.
pub fn remove_files(repo: &Path, gone: &BTreeSet<String>) -> Result<usize, Error> {
    let pool = repo.join("pool");
    let mut removed = 0;
    for rel in gone {
        let path = repo.join(rel);
        match fs::remove_file(&path) {
            Ok(()) => removed += 1,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
            Err(e) => return Err(io("remove", &path)(e)),
        }
        let mut dir = path.parent();
        while let Some(d) = dir.filter(|d| d.starts_with(&pool) && *d != pool) {
            if fs::remove_dir(d).is_err() {
                break; // not empty
            }
            dir = d.parent();
        }
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
