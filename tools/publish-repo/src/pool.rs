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
    cdkit_deb::policy::validate_package_name(name).map_err(|e| format!("Source: source {e}"))?;
    if !rest.is_empty() {
        let version = rest
            .strip_prefix('(')
            .and_then(|r| r.strip_suffix(')'))
            .ok_or_else(|| format!("Source: {field:?} is not 'NAME' or 'NAME (VERSION)'"))?;
        cdkit_deb::policy::Version::parse(version.trim()).map_err(|e| format!("Source: {e}"))?;
    }
    Ok(name.to_string())
}

/// Why `deb`'s file name contradicts its control file, as one line naming the file and both
/// values; `None` when it agrees or makes no claim. Debian names a package file
/// `PACKAGE_VERSION_ARCH.deb` (also `.udeb`, `.ddeb`) with the epoch left out (dpkg-deb,
/// the pool) or kept, written `N:` or `N%3a` (apt's download cache); any of these agrees. A
/// name that is not three such parts (`app.deb`, `build-42.deb`) claims nothing, so it is
/// not checked.
pub fn file_name_mismatch(deb: &Path, package: &str, version: &str, arch: &str) -> Option<String> {
    let name = deb.file_name()?.to_str()?;
    let stem = [".deb", ".udeb", ".ddeb"]
        .iter()
        .find_map(|ext| name.strip_suffix(ext))?;
    let [file_package, file_version, file_arch] = stem.split('_').collect::<Vec<_>>()[..] else {
        return None;
    };
    let file_version = file_version.replace("%3a", ":").replace("%3A", ":");
    let claims = cdkit_deb::policy::validate_package_name(file_package).is_ok()
        && cdkit_deb::policy::Version::parse(&file_version).is_ok()
        && !file_arch.is_empty()
        && file_arch
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-');
    if !claims {
        return None;
    }
    let without_epoch = |v: &str| v.split_once(':').map_or(v, |(_, rest)| rest).to_string();
    let epoch = |v: &str| v.split_once(':').map_or("0", |(e, _)| e).to_string();
    let version_agrees = without_epoch(&file_version) == without_epoch(version)
        && (!file_version.contains(':') || epoch(&file_version) == epoch(version));
    let mut differ = Vec::new();
    if file_package != package {
        differ.push(format!(
            "package {file_package} but its control file {package}"
        ));
    }
    if !version_agrees {
        differ.push(format!(
            "version {file_version} but its control file {version}"
        ));
    }
    if file_arch != arch {
        differ.push(format!(
            "architecture {file_arch} but its control file {arch}"
        ));
    }
    if differ.is_empty() {
        return None;
    }
    Some(format!(
        "{}: the file name says {}; the control file is what apt sees",
        deb.display(),
        differ.join(", ")
    ))
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
        Error::Deb(cdkit_deb::ReadError::Io {
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

    #[test]
    fn file_names_that_follow_debian_conventions_agree() {
        for (file, package, version, arch) in [
            ("dist/hello_2.10-3_amd64.deb", "hello", "2.10-3", "amd64"),
            ("hello_2.10-3_amd64.deb", "hello", "1:2.10-3", "amd64"),
            ("hello_1%3a2.10-3_amd64.deb", "hello", "1:2.10-3", "amd64"),
            ("hello_1:2.10-3_amd64.deb", "hello", "1:2.10-3", "amd64"),
            ("hello-udeb_1.0_all.udeb", "hello-udeb", "1.0", "all"),
            (
                "hello-dbgsym_1.0_amd64.ddeb",
                "hello-dbgsym",
                "1.0",
                "amd64",
            ),
            // Names that claim nothing.
            ("hello.deb", "hello", "2.10-4", "amd64"),
            ("build_latest_x.deb", "hello", "2.10-4", "amd64"),
            ("a_b.deb", "hello", "2.10-4", "amd64"),
        ] {
            let said = file_name_mismatch(Path::new(file), package, version, arch);
            assert_eq!(said, None, "{file}");
        }
    }

    #[test]
    fn contradicting_file_names_name_both_values() {
        let said = file_name_mismatch(
            Path::new("dist/hello_2.10-3_amd64.deb"),
            "hello",
            "2.10-4",
            "amd64",
        )
        .unwrap();
        assert!(
            said.starts_with("dist/hello_2.10-3_amd64.deb: ")
                && said.contains("version 2.10-3 but its control file 2.10-4"),
            "{said}"
        );
        for (file, p, v, a) in [
            ("hello_2%3a2.10-3_amd64.deb", "hello", "1:2.10-3", "amd64"),
            ("hello_2.10-3_amd64.deb", "hello", "2.10-3", "all"),
            ("hallo_2.10-3_amd64.deb", "hello", "2.10-3", "amd64"),
        ] {
            assert!(
                file_name_mismatch(Path::new(file), p, v, a).is_some(),
                "{file}"
            );
        }
    }
}
