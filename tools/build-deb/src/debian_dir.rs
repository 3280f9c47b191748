//! Mode A: a source tree with a `debian/` folder, built by dpkg-buildpackage in a temporary
//! copy whose changelog carries the CI version (dated with the commit time, which dpkg turns
//! into SOURCE_DATE_EPOCH), after checking the build dependencies.

use std::fs;
use std::path::{Path, PathBuf};

use cdkit::process::{Command, Stream};
use debian_changelog::ChangeLog;

use crate::error::{io, Error};
use crate::options::{dpkg_compressor, BuildOptions};
use crate::tree;
use crate::variation::Variation;
use crate::versioning::{self, Commit};

/// What dpkg-buildpackage produced, in a temporary directory.
#[derive(Debug)]
pub struct Produced {
    pub source_name: String,
    pub version: String,
    /// .deb/.ddeb files, then .buildinfo and .changes.
    pub debs: Vec<PathBuf>,
    pub extras: Vec<PathBuf>,
    /// Keeps the directory alive until the files are copied out.
    pub _work: tempfile::TempDir,
}

/// The top changelog entry: what the version and the new stanza are built from.
#[derive(Debug, Clone)]
pub struct TopEntry {
    pub package: String,
    pub version: String,
    pub distribution: String,
    pub maintainer: String,
    /// The entry's date, if it parses (RFC 2822).
    pub date: Option<chrono::DateTime<chrono::Utc>>,
}

/// Check `debian/control` is readable deb822 with a source and at least one binary package.
pub fn check_control(path: &Path) -> Result<String, Error> {
    let text = fs::read_to_string(path).map_err(io("read", path))?;
    let bad = |message: String| Error::Control {
        path: path.to_path_buf(),
        message,
    };
    // deb822 allows '#' comment lines; the parser does not, so drop them first.
    let without_comments: String = text
        .lines()
        .filter(|l| !l.starts_with('#'))
        .map(|l| format!("{l}\n"))
        .collect();
    let parsed: deb822_fast::Deb822 = without_comments
        .parse()
        .map_err(|e: deb822_fast::Error| bad(format!("not a valid control file: {e}")))?;
    let mut paragraphs = parsed.iter();
    let source = paragraphs
        .next()
        .and_then(|p| p.get("Source").map(str::to_string))
        .ok_or_else(|| bad("the first paragraph has no Source field".into()))?;
    let mut binaries = 0;
    for p in paragraphs {
        let name = p
            .get("Package")
            .ok_or_else(|| bad("a binary paragraph has no Package field".into()))?;
        cdkit::policy::validate_package_name(name.trim()).map_err(|e| bad(e.to_string()))?;
        if p.get("Architecture").is_none() {
            return Err(bad(format!("package {name} has no Architecture field")));
        }
        binaries += 1;
    }
    if binaries == 0 {
        return Err(bad("no binary package paragraph (Package: …)".into()));
    }
    Ok(source)
}

/// Read the top entry of `debian/changelog`.
pub fn top_entry(path: &Path) -> Result<TopEntry, Error> {
    let text = fs::read_to_string(path).map_err(io("read", path))?;
    let bad = |message: String| Error::Control {
        path: path.to_path_buf(),
        message,
    };
    let changelog = <ChangeLog as std::str::FromStr>::from_str(&text).map_err(
        |e: <ChangeLog as std::str::FromStr>::Err| {
            bad(format!(
                "not a valid changelog: {}",
                e.to_string().replace('\n', " ")
            ))
        },
    )?;
    let entry = changelog
        .iter()
        .next()
        .ok_or_else(|| bad("no entries".into()))?;
    let package = entry
        .package()
        .ok_or_else(|| bad("the top entry has no package name".into()))?;
    let version = entry
        .version()
        .map(|v| v.to_string())
        .ok_or_else(|| bad("the top entry has no valid version".into()))?;
    let distribution = entry
        .distributions()
        .and_then(|d| d.into_iter().next())
        .unwrap_or_else(|| "unstable".into());
    let maintainer = match (entry.maintainer(), entry.email()) {
        (Some(name), Some(email)) => format!("{name} <{email}>"),
        _ => {
            return Err(bad(
                "the top entry has no maintainer line (' -- Name <email>  date')".into(),
            ))
        }
    };
    let date = entry
        .timestamp()
        .and_then(|t| chrono::DateTime::parse_from_rfc2822(t.trim()).ok())
        .map(|d| d.with_timezone(&chrono::Utc));
    Ok(TopEntry {
        package,
        version,
        distribution,
        maintainer,
        date,
    })
}

/// The date of the CI stanza: the commit time, but always after the entry it follows
/// (lintian's latest-changelog-entry-without-new-date), so still a function of the commit.
pub fn stanza_date(top: &TopEntry, commit: Option<&Commit>) -> chrono::DateTime<chrono::Utc> {
    let wanted = commit.map(|c| c.time).unwrap_or_else(chrono::Utc::now);
    match top.date {
        Some(previous) if previous >= wanted => previous + chrono::Duration::seconds(1),
        _ => wanted,
    }
}

/// A changelog stanza for `version`, dated [`stanza_date`] (dpkg's SOURCE_DATE_EPOCH).
pub fn stanza(top: &TopEntry, version: &str, commit: Option<&Commit>) -> String {
    let when = stanza_date(top, commit);
    let what = match commit {
        Some(c) => format!("CI build of commit {}", c.short_sha),
        None => "CI build".to_string(),
    };
    let build = std::env::var("BUILD_NUMBER")
        .map(|n| format!(" (build {n})"))
        .unwrap_or_default();
    format!(
        "{} ({version}) {}; urgency=medium\n\n  * {what}{build}.\n\n -- {}  {}\n\n",
        top.package,
        top.distribution,
        top.maintainer,
        when.format("%a, %d %b %Y %H:%M:%S +0000")
    )
}

/// Build the tree at `opts.source` with dpkg-buildpackage, run in `variation`'s environment.
pub fn build(opts: &BuildOptions, variation: Variation) -> Result<Produced, Error> {
    let debian = opts.source.join("debian");
    let source_name = check_control(&debian.join("control"))?;
    let top = top_entry(&debian.join("changelog"))?;
    let current = cdkit::policy::Version::parse(&top.version)?;
    let commit = versioning::head_commit(&opts.source);
    let version = versioning::build_version(
        current.upstream(),
        current.revision(),
        opts.suffix,
        commit.as_ref(),
    )?;

    let work = tempfile::Builder::new()
        .prefix("build-deb.")
        .tempdir()
        .map_err(io("create a temporary directory in", std::env::temp_dir()))?;
    let tree = work.path().join(&source_name);
    tree::copy_tree(&opts.source, &tree, &[tree::absolute(&opts.out)])?;
    if version.as_str() != top.version {
        let changelog = tree.join("debian/changelog");
        let old = fs::read_to_string(&changelog).map_err(io("read", &changelog))?;
        fs::write(
            &changelog,
            format!("{}{old}", stanza(&top, version.as_str(), commit.as_ref())),
        )
        .map_err(io("write", &changelog))?;
    }

    check_build_deps(&tree)?;

    let (compressor, level) = dpkg_compressor(&opts.compression);
    let mut command = variation
        .command(&["dpkg-buildpackage", "-us", "-uc", "-b"].map(String::from))
        .current_dir(&tree)
        .env("LC_ALL", "C.UTF-8")
        .env("DPKG_DEB_COMPRESSOR_TYPE", compressor)
        .env("DPKG_DEB_COMPRESSOR_LEVEL", level);
    if version.as_str() != top.version {
        // dpkg would take the date from the new stanza anyway; say it explicitly.
        let epoch = stanza_date(&top, commit.as_ref()).timestamp();
        command = command.env("SOURCE_DATE_EPOCH", epoch.to_string());
    }
    let mut tail = Vec::new();
    let done = command.run(|_, line| keep_tail(&mut tail, line))?;
    if !done.success() {
        return Err(Error::BuildFailed {
            step: "dpkg-buildpackage".into(),
            how: done.describe(),
            detail: tail.last().cloned().unwrap_or_default(),
        });
    }

    let mut debs = Vec::new();
    let mut extras = Vec::new();
    for entry in fs::read_dir(work.path()).map_err(io("read", work.path()))? {
        let path = entry.map_err(io("read", work.path()))?.path();
        match path.extension().and_then(|e| e.to_str()) {
            Some("deb") | Some("ddeb") => debs.push(path),
            Some("buildinfo") | Some("changes") => extras.push(path),
            _ => {}
        }
    }
    debs.sort();
    extras.sort();
    if debs.is_empty() {
        return Err(Error::BuildFailed {
            step: "dpkg-buildpackage".into(),
            how: "no .deb produced".into(),
            detail: "debian/control lists packages but none was built".into(),
        });
    }
    Ok(Produced {
        source_name,
        version: version.to_string(),
        debs,
        extras,
        _work: work,
    })
}

/// `dpkg-checkbuilddeps`: missing build dependencies are an input problem (exit 2), listed.
fn check_build_deps(tree: &Path) -> Result<(), Error> {
    let mut lines = Vec::new();
    let done = Command::new("dpkg-checkbuilddeps")
        .current_dir(tree)
        .env("LC_ALL", "C.UTF-8")
        .run(|stream, line| {
            if stream == Stream::Stderr {
                lines.push(line.to_string());
            }
        })?;
    if done.success() {
        return Ok(());
    }
    let unmet = lines.iter().find_map(|l| {
        l.split_once("Unmet build dependencies:")
            .map(|(_, r)| r.trim().to_string())
    });
    match unmet {
        Some(missing) => {
            let install = missing
                .split_whitespace()
                .filter(|w| {
                    !w.starts_with('(')
                        && !w.ends_with(')')
                        && !w.starts_with('|')
                        && !w.contains('=')
                })
                .collect::<Vec<_>>()
                .join(" ");
            Err(Error::MissingBuildDeps { missing, install })
        }
        None => Err(Error::Control {
            path: tree.join("debian/control"),
            message: lines.last().cloned().unwrap_or_else(|| done.describe()),
        }),
    }
}

/// Keep the last 20 lines of output for error messages.
fn keep_tail(tail: &mut Vec<String>, line: &str) {
    if tail.len() == 20 {
        tail.remove(0);
    }
    tail.push(line.to_string());
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn control_files_are_checked_with_comments_allowed() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("control");
        fs::write(&path, "# a comment\nSource: hello\nMaintainer: A <a@b>\n\nPackage: hello\nArchitecture: all\n").unwrap();
        assert_eq!(check_control(&path).unwrap(), "hello");
        for broken in [
            "Source hello\n",
            "Source: hello\n\nArchitecture: all\n",
            "Source: hello\n",
            "Source: hello\n\nPackage: Hello_World\nArchitecture: all\n",
            "Package: x\n",
        ] {
            fs::write(&path, broken).unwrap();
            let err = check_control(&path).unwrap_err().to_string();
            assert!(err.contains("control"), "{broken:?}: {err}");
            assert!(!err.contains('\n'), "{err}");
        }
    }

    #[test]
    fn the_stanza_carries_version_commit_and_date() {
        let top = TopEntry {
            package: "hello".into(),
            version: "1.0-1".into(),
            distribution: "bookworm".into(),
            maintainer: "Ops <ops@example.com>".into(),
            date: None,
        };
        let commit = Commit {
            time: chrono::TimeZone::with_ymd_and_hms(&chrono::Utc, 2026, 11, 26, 8, 0, 0).unwrap(),
            short_sha: "abcd1234".into(),
        };
        let text = stanza(&top, "1.0+20261126080000.0.gabcd1234-1", Some(&commit));
        assert!(
            text.starts_with("hello (1.0+20261126080000.0.gabcd1234-1) bookworm; urgency=medium\n")
        );
        assert!(text.contains(" -- Ops <ops@example.com>  Thu, 26 Nov 2026 08:00:00 +0000\n"));
        let earlier = TopEntry {
            date: Some(commit.time + chrono::Duration::hours(1)),
            ..top.clone()
        };
        assert_eq!(
            stanza_date(&earlier, Some(&commit)),
            commit.time + chrono::Duration::seconds(3601)
        );
        let parsed: ChangeLog = format!("{text}hello (1.0-1) bookworm; urgency=medium\n\n  * x\n\n -- Ops <ops@example.com>  Wed, 25 Nov 2026 08:00:00 +0000\n").parse().unwrap();
        assert_eq!(parsed.iter().count(), 2);
    }
}
