//! The pool: one immutable file per package version, shared by every suite, so promotion
//! moves the same bytes and rollback finds older versions still there.

use std::collections::BTreeSet;
use std::fs;
use std::path::Path;

use crate::error::{io, Error};

/// `pool/COMPONENT/PREFIX/SOURCE/PACKAGE_VERSION_ARCH.deb`, as Debian lays it out
/// (PREFIX is the first letter, or `libX` for `lib*` sources). The epoch is not in the name.
/// Every part must already be validated ([`source_name`], the policy checks of package and
/// version, the configured component and architecture): they become directory names.
pub fn pool_path(
    component: &str,
    source: &str,
    package: &str,
    version: &str,
    arch: &str,
) -> String {
    // Characters, not bytes: a prefix never splits one.
    let take = if source.starts_with("lib") && source.chars().count() > 3 {
        4
    } else {
        1
    };
    let prefix: String = source.chars().take(take).collect();
    let version = version.split_once(':').map_or(version, |(_, v)| v);
    format!("pool/{component}/{prefix}/{source}/{package}_{version}_{arch}.deb")
}

/// The source package name from a control paragraph's `Source:` (`NAME` or
/// `NAME (VERSION)`; the binary package's name when absent), validated by Debian policy
/// because it becomes a directory of the pool path (`Source: ../../x` would write outside
/// the repository). The error says what is wrong with the field.
pub fn source_name(source_field: Option<&str>, package: &str) -> Result<String, String> {
    let Some(field) = source_field.map(str::trim).filter(|s| !s.is_empty()) else {
        return Ok(package.to_string());
    };
    let (name, rest) = field
        .split_once(char::is_whitespace)
        .map_or((field, ""), |(name, rest)| (name, rest.trim()));
    cdkit::policy::validate_package_name(name).map_err(|e| format!("Source: source {e}"))?;
    if !rest.is_empty() {
        let version = rest
            .strip_prefix('(')
            .and_then(|r| r.strip_suffix(')'))
            .ok_or_else(|| format!("Source: {field:?} is not 'NAME' or 'NAME (VERSION)'"))?;
        cdkit::policy::Version::parse(version.trim()).map_err(|e| format!("Source: {e}"))?;
    }
    Ok(name.to_string())
}

/// Copy `deb` into the pool at `rel` (temp file + rename; an existing file is left alone);
/// returns whether it created the file. Not yet durable: the publish runs
/// [`cdkit::atomic::sync_filesystem`] once before any index refers to the files.
pub fn store(repo: &Path, rel: &str, deb: &Path) -> Result<bool, Error> {
    let target = repo.join(rel);
    if target.exists() {
        return Ok(false);
    }
    // The .deb was read a moment ago: if it is gone now, it is still the input at fault.
    let mut source = fs::File::open(deb).map_err(|source| {
        Error::Deb(cdkit::deb::ReadError::Io {
            path: deb.to_path_buf(),
            source,
        })
    })?;
    cdkit::atomic::write_unsynced(&target, |w| std::io::copy(&mut source, w).map(|_| ()))?;
    Ok(true)
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
        assert_eq!(
            source_name(Some("hello-src (1.0-1)"), "hello").unwrap(),
            "hello-src"
        );
        assert_eq!(source_name(None, "hello").unwrap(), "hello");
        for hostile in ["../../x", "libé", "é", "a/b", "ok (1.0/..)", "ok 1.0"] {
            assert!(source_name(Some(hostile), "hello").is_err(), "{hostile}");
        }
        assert_eq!(
            pool_path("main", "libé", "x", "1", "all"),
            "pool/main/libé/libé/x_1_all.deb",
            "a prefix never splits a character"
        );
    }
}
