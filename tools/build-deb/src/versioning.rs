//! The version a CI build gets, and the `SOURCE_DATE_EPOCH` that makes the build
//! reproducible: both from the commit being built, so two builds of one commit are identical
//! and later commits sort higher even when Jenkins build numbers restart.

use std::path::Path;

use cdkit::process::Command;
use cdkit_deb::policy::{CiVersion, Version};
use chrono::{DateTime, TimeZone, Utc};

use crate::error::Error;

/// `--version-suffix`: keep the version as written, or add the CI suffix.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Suffix {
    /// The version from debian/changelog or the manifest, unchanged.
    None,
    /// `<upstream>+<commit time>.<BUILD_NUMBER>.g<short sha>-<revision>`.
    Auto,
}

/// What the build knows about its source commit.
#[derive(Debug, Clone)]
pub struct Commit {
    pub time: DateTime<Utc>,
    pub short_sha: String,
}

/// The commit at HEAD of `tree`, if it is a git work tree.
pub fn head_commit(tree: &Path) -> Option<Commit> {
    let mut out = String::new();
    let done = Command::new("git")
        .arg("-C")
        .arg(tree)
        .args(["log", "-1", "--abbrev=8", "--format=%ct %h"])
        .quiet()
        .run(|stream, line| {
            if stream == cdkit::process::Stream::Stdout {
                out.push_str(line);
            }
        })
        .ok()?;
    if !done.success() {
        return None;
    }
    let (secs, sha) = out.trim().split_once(' ')?;
    let time = Utc.timestamp_opt(secs.parse().ok()?, 0).single()?;
    Some(Commit {
        time,
        short_sha: sha.to_string(),
    })
}

/// `SOURCE_DATE_EPOCH` for the build: the commit time, else the environment's, else `None`
/// (the caller decides: dpkg takes the changelog date, the native writer refuses to guess).
pub fn source_date_epoch(commit: Option<&Commit>) -> Option<i64> {
    commit.map(|c| c.time.timestamp()).or_else(|| {
        std::env::var("SOURCE_DATE_EPOCH")
            .ok()
            .and_then(|v| v.trim().parse().ok())
    })
}

/// Check an upstream version on its own, so that `1.0-rc1` (which would sort after 1.0) and
/// `v2.3.1` are refused with a hint about what the user wrote. An upstream version may hold a
/// `-` (`1.0-2` with revision 1 is `1.0-2-1`): only its last part is then judged, as a
/// revision would be.
pub fn check_upstream(upstream: &str) -> Result<(), cdkit_deb::policy::PolicyError> {
    Version::parse(upstream).map(|_| ())
}

/// The version to build: `upstream[-revision]` as written, or with the CI suffix.
pub fn build_version(
    upstream: &str,
    revision: Option<&str>,
    suffix: Suffix,
    commit: Option<&Commit>,
) -> Result<Version, Error> {
    let plain = match revision {
        Some(r) => format!("{upstream}-{r}"),
        None => upstream.to_string(),
    };
    // Validate what the user wrote first, so the hint is about their text: a manifest's
    // upstream version alone (`v2.3.1` gets "2.3.1", not "2.3.1-1"), then the whole version.
    check_upstream(upstream)?;
    Version::parse(&plain)?;
    match suffix {
        Suffix::None => Ok(Version::parse(&plain)?),
        Suffix::Auto => {
            let commit = commit.ok_or_else(|| {
                Error::Usage(
                    "--version-suffix auto needs a git checkout (commit time and hash); use --version-suffix none outside git"
                        .into(),
                )
            })?;
            let (base, prerelease) = match upstream.split_once('~') {
                Some((b, p)) => (b.to_string(), Some(p.to_string())),
                None => (upstream.to_string(), None),
            };
            let build_number = std::env::var("BUILD_NUMBER")
                .ok()
                .and_then(|n| n.trim().parse().ok())
                .unwrap_or(0);
            Ok(CiVersion {
                upstream: base,
                prerelease,
                commit_time: commit.time,
                build_number,
                short_sha: commit.short_sha.clone(),
                revision: revision.map(str::to_string),
            }
            .render()?)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn commit() -> Commit {
        Commit {
            time: Utc.with_ymd_and_hms(2026, 11, 26, 8, 30, 0).unwrap(),
            short_sha: "abcd1234".into(),
        }
    }

    #[test]
    fn auto_suffix_puts_prereleases_before_the_plus() {
        let v = build_version("1.2.0~rc1", Some("1"), Suffix::Auto, Some(&commit())).unwrap();
        assert!(v.as_str().starts_with("1.2.0~rc1+20261126083000."), "{v}");
        assert!(v.as_str().ends_with(".gabcd1234-1"), "{v}");
        assert!(v < Version::parse("1.2.0-1").unwrap());
        let native = build_version("3.0", None, Suffix::Auto, Some(&commit())).unwrap();
        assert!(!native.as_str().contains('-'), "{native}");
    }

    #[test]
    fn bad_versions_and_missing_git_are_usage_errors() {
        assert!(build_version("v1.2", Some("1"), Suffix::None, None).is_err());
        assert!(build_version("1.0", Some("rc1"), Suffix::None, None).is_err());
        let err = build_version("1.0", Some("1"), Suffix::Auto, None).unwrap_err();
        assert!(err.to_string().contains("git"), "{err}");
        assert_eq!(
            build_version("1.0", Some("1"), Suffix::None, None)
                .unwrap()
                .as_str(),
            "1.0-1"
        );
    }
}
