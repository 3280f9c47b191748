//! Mode A: a source tree with a `debian/` folder, built by dpkg-buildpackage in a temporary
//! copy whose changelog carries the CI version (dated with the commit time, which dpkg turns
//! into SOURCE_DATE_EPOCH), after checking the build dependencies.

use std::fs;
use std::path::{Path, PathBuf};

use cdkit::process::{Command, Stream};

use cdkit_deb::policy::RelationContext;

use crate::error::{io, Error};
use crate::options::{dpkg_compressor, BuildOptions};
use crate::tree;
use crate::variation::Variation;
use crate::versioning::{self, Commit};

/// What dpkg-buildpackage produced, in a temporary directory.
#[derive(Debug)]
pub struct Produced {
    /// The source package's name (debian/control's Source).
    pub source_name: String,
    /// The version built, with any suffix applied.
    pub version: String,
    /// .deb/.udeb/.ddeb files (everything dpkg-buildpackage built); .buildinfo and .changes
    /// are in `extras`.
    pub debs: Vec<PathBuf>,
    /// The .buildinfo and .changes files.
    pub extras: Vec<PathBuf>,
    /// Keeps the directory alive until the files are copied out.
    pub _work: tempfile::TempDir,
}

/// The top changelog entry: what the version and the new stanza are built from.
#[derive(Debug, Clone)]
pub struct TopEntry {
    /// The source package the entry is for.
    pub package: String,
    /// The version as written in the entry.
    pub version: String,
    /// The distribution (suite) named in the entry, e.g. `unstable`.
    pub distribution: String,
    /// The maintainer from the trailer line, `Name <email>`.
    pub maintainer: String,
    /// The entry's date, if it parses (RFC 2822).
    pub date: Option<chrono::DateTime<chrono::Utc>>,
}

/// The source paragraph's relation fields.
const SOURCE_RELATIONS: [&str; 6] = [
    "Build-Depends",
    "Build-Depends-Indep",
    "Build-Depends-Arch",
    "Build-Conflicts",
    "Build-Conflicts-Indep",
    "Build-Conflicts-Arch",
];

/// A binary paragraph's relation fields.
const BINARY_RELATIONS: [&str; 10] = [
    "Depends",
    "Pre-Depends",
    "Recommends",
    "Suggests",
    "Enhances",
    "Breaks",
    "Conflicts",
    "Replaces",
    "Provides",
    "Built-Using",
];

/// The 1-based line where `field` starts in paragraph `index` (0 = the first) of a deb822
/// `text`, for error messages; comment lines count as lines but do not separate paragraphs.
fn field_line(text: &str, index: usize, field: &str) -> usize {
    let mut paragraph = 0;
    let mut in_paragraph = false;
    for (n, line) in text.lines().enumerate() {
        if line.starts_with('#') {
            continue;
        }
        if line.trim().is_empty() {
            if in_paragraph {
                paragraph += 1;
                in_paragraph = false;
            }
            continue;
        }
        in_paragraph = true;
        if paragraph == index {
            if let Some((name, _)) = line.split_once(':') {
                if name.eq_ignore_ascii_case(field) {
                    return n + 1;
                }
            }
        }
    }
    0
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
    let first = paragraphs.next();
    let source = first
        .and_then(|p| p.get("Source").map(str::to_string))
        .ok_or_else(|| bad("the first paragraph has no Source field".into()))?;
    // Relation fields are checked now, by Debian's grammar, not by dpkg at the end of a build
    // of minutes ("subprocess returned exit status 25").
    let relations = |index: usize, p: &deb822_fast::Paragraph, fields: &[&str]| {
        for field in fields {
            if let Some(value) = p.get(field) {
                cdkit_deb::policy::check_relations(field, value, RelationContext::Source)
                    .map_err(|e| bad(format!("line {}: {e}", field_line(&text, index, field))))?;
            }
        }
        Ok::<(), Error>(())
    };
    if let Some(p) = first {
        relations(0, p, &SOURCE_RELATIONS)?;
    }
    let mut binaries = 0;
    for (i, p) in paragraphs.enumerate() {
        let index = i + 1;
        let name = p
            .get("Package")
            .ok_or_else(|| bad("a binary paragraph has no Package field".into()))?;
        cdkit_deb::policy::validate_package_name(name.trim()).map_err(|e| bad(e.to_string()))?;
        let arch = p
            .get("Architecture")
            .ok_or_else(|| bad(format!("package {name} has no Architecture field")))?;
        if arch.split_whitespace().next().is_none() {
            return Err(bad(format!(
                "line {}: package {name}: Architecture is empty (any, all, or architecture names)",
                field_line(&text, index, "Architecture")
            )));
        }
        relations(index, p, &BINARY_RELATIONS)?;
        binaries += 1;
    }
    if binaries == 0 {
        return Err(bad("no binary package paragraph (Package: …)".into()));
    }
    Ok(source)
}

/// Read the top entry of `debian/changelog` with `dpkg-parsechangelog`, the parser
/// dpkg-buildpackage itself uses (it is installed wherever dpkg-buildpackage is): build-deb
/// then accepts exactly the changelogs dpkg accepts, free-text trailers and old malformed
/// entries included, and reads the same version and date dpkg will stamp into the package.
///
/// dpkg only warns about lines it cannot parse; the build is refused when the top entry lacks
/// what a build needs (a heading with a version, a maintainer line with a date), and the
/// error is dpkg's first complaint, as `path:line: problem (expected …)`.
pub fn top_entry(path: &Path) -> Result<TopEntry, Error> {
    // dpkg-parsechangelog reads a missing file as an empty changelog; say what it is.
    fs::metadata(path).map_err(io("read", path))?;
    let mut stdout = Vec::new();
    let mut stderr = Vec::new();
    let done = Command::new("dpkg-parsechangelog")
        .arg("-l")
        .arg(path)
        .env("LC_ALL", "C.UTF-8")
        .quiet()
        .run(|stream, line| match stream {
            Stream::Stdout => stdout.push(line.to_string()),
            Stream::Stderr => stderr.push(line.to_string()),
        })?;
    let complaints = dpkg_complaints(&stderr);
    let bad = |message: String| Error::Control {
        path: path.to_path_buf(),
        message,
    };
    // The first thing dpkg could not parse, located; else `fallback`.
    let refuse = |fallback: &str| match complaints.first() {
        Some(c) => Error::Usage(c.describe(path)),
        None => bad(fallback.to_string()),
    };
    if !done.success() {
        return Err(refuse(&format!(
            "dpkg-parsechangelog cannot read it ({})",
            done.describe()
        )));
    }
    let field = |name: &str| {
        stdout.iter().find_map(|l| {
            l.strip_prefix(name)
                .and_then(|r| r.strip_prefix(':'))
                .map(|v| v.trim().to_string())
                .filter(|v| !v.is_empty())
        })
    };
    // dpkg names an entry whose heading it cannot parse "unknown (unknown) unknown".
    let version = field("Version").filter(|v| v != "unknown");
    let package = field("Source").filter(|_| version.is_some());
    let (Some(package), Some(version)) = (package, version) else {
        return Err(refuse(
            "no entry heading ('package (version) distribution; urgency=…')",
        ));
    };
    let (Some(maintainer), Some(timestamp)) = (field("Maintainer"), field("Timestamp")) else {
        return Err(refuse(
            "the top entry has no maintainer line (' -- Name <email>  date')",
        ));
    };
    for c in &complaints {
        tracing::warn!("{} (dpkg accepts it)", c.describe(path));
    }
    let distribution = field("Distribution")
        .and_then(|d| d.split_whitespace().next().map(str::to_string))
        .unwrap_or_else(|| "unstable".into());
    let date = timestamp
        .parse::<i64>()
        .ok()
        .and_then(|t| chrono::DateTime::from_timestamp(t, 0));
    Ok(TopEntry {
        package,
        version,
        distribution,
        maintainer,
        date,
    })
}

/// One warning of dpkg's changelog parser: `path(lN): problem`, then `LINE: text`.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Complaint {
    line: Option<u32>,
    problem: String,
    text: Option<String>,
}

impl Complaint {
    /// One readable line: where, what, what was expected, and the offending text (bounded).
    fn describe(&self, path: &Path) -> String {
        let at = match self.line {
            Some(n) if n > 0 => format!("{}:{n}", path.display()),
            _ => path.display().to_string(),
        };
        let expected = if self.problem.contains("heading line") {
            " (expected 'package (version) distribution; urgency=…')".to_string()
        } else if self.problem.contains("trailer line") {
            " (expected ' -- Name <email>  Day, DD Mon YYYY HH:MM:SS +ZZZZ')".to_string()
        } else {
            // "version 'v0.31-2' is invalid: …": add build-deb's hint (`0.31-2`).
            self.problem
                .strip_prefix("version '")
                .and_then(|r| r.split_once('\''))
                .and_then(
                    |(version, _)| match cdkit_deb::policy::Version::parse(version) {
                        Err(cdkit_deb::policy::PolicyError::Version { reason, .. }) => {
                            Some(format!(" ({reason})"))
                        }
                        _ => None,
                    },
                )
                .unwrap_or_default()
        };
        let text = match &self.text {
            Some(t) => format!(": {:?}", cdkit::text::truncate(t, 120)),
            None => String::new(),
        };
        format!("{at}: {}{expected}{text}", self.problem)
    }
}

/// dpkg-parsechangelog's warnings about the file (not about its own fields), in order.
fn dpkg_complaints(stderr: &[String]) -> Vec<Complaint> {
    let mut found: Vec<Complaint> = Vec::new();
    for line in stderr {
        if let Some(text) = line.strip_prefix("LINE: ") {
            if let Some(last) = found.last_mut().filter(|c| c.text.is_none()) {
                last.text = Some(text.to_string());
            }
            continue;
        }
        let Some(rest) = line
            .strip_prefix("dpkg-parsechangelog: warning:")
            .or_else(|| line.strip_prefix("dpkg-parsechangelog: error:"))
        else {
            continue;
        };
        // "   debian/changelog(l12): found …": the location is the last "(lN): " in the line.
        let Some(at) = rest.rfind("(l") else {
            continue;
        };
        let Some((number, problem)) = rest[at + 2..].split_once("): ") else {
            continue;
        };
        found.push(Complaint {
            line: number.parse().ok(),
            problem: problem.trim().to_string(),
            text: None,
        });
    }
    found
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
    if top.package != source_name.trim() {
        return Err(Error::Control {
            path: debian.join("changelog"),
            message: format!(
                "the top entry is for source {:?}, but debian/control names source {:?}; the changelog must be this package's",
                top.package,
                source_name.trim()
            ),
        });
    }
    let current = cdkit_deb::policy::Version::parse(&top.version)?;
    let commit = versioning::head_commit(&opts.source);
    let version = versioning::build_version(
        current.upstream(),
        current.revision(),
        opts.suffix,
        commit.as_ref(),
    )?;
    // The epoch stays: without it `1:2.0-1` would be built as the much lower `2.0-1`.
    let version = match current.epoch() {
        Some(epoch) => cdkit_deb::policy::Version::parse(&format!("{epoch}:{version}"))?,
        None => version,
    };

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
            Some("deb") | Some("udeb") | Some("ddeb") => debs.push(path),
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
        // dpkg reads the stanza as the new top entry, with the commit time as its date.
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("changelog");
        fs::write(&path, format!("{text}hello (1.0-1) bookworm; urgency=medium\n\n  * x\n\n -- Ops <ops@example.com>  Wed, 25 Nov 2026 08:00:00 +0000\n")).unwrap();
        let read = top_entry(&path).unwrap();
        assert_eq!(read.version, "1.0+20261126080000.0.gabcd1234-1");
        assert_eq!(read.distribution, "bookworm");
        assert_eq!(read.maintainer, "Ops <ops@example.com>");
        assert_eq!(read.date, Some(commit.time));
    }

    const ENTRY: &str = "hello (2.10-3) unstable; urgency=medium\n\n  * Change.\n\n -- Santiago Vila <sanvila@debian.org>  Mon, 26 Dec 2022 16:30:00 +0100\n";

    /// What dpkg-parsechangelog accepts is accepted: Debian's hello ends its changelog with
    /// free text ("Hello 1.3 Debian 1 - iwj"), and older entries may be malformed.
    #[test]
    fn changelogs_dpkg_accepts_are_read_as_dpkg_reads_them() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("changelog");
        for accepted in [
            format!("{ENTRY}\nOlder changes are not recorded here.\n\nHello 1.3 Debian 1 - iwj\nInitial release.\n"),
            format!("{ENTRY}\nhello (2.10-2 unstable; urgency=low\n\n  * x\n"),
            ENTRY.replace(">  Mon", "> Mon"),
        ] {
            fs::write(&path, &accepted).unwrap();
            let top = top_entry(&path).unwrap_or_else(|e| panic!("{accepted:?}: {e}"));
            assert_eq!(top.package, "hello");
            assert_eq!(top.version, "2.10-3");
            assert_eq!(top.maintainer, "Santiago Vila <sanvila@debian.org>");
            assert_eq!(
                top.date.map(|d| d.timestamp()),
                Some(1_672_068_600),
                "{accepted:?}"
            );
        }
    }

    /// A changelog dpkg cannot build from is refused in one line naming file:line, the
    /// problem, what was expected and the offending text.
    #[test]
    fn a_broken_top_entry_is_refused_with_file_and_line() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("changelog");
        let shown = path.display().to_string();
        for (broken, wanted) in [
            (
                ENTRY.replace("(2.10-3)", "(2.10-3"),
                format!("{shown}:1: badly formatted heading line (expected 'package (version) distribution; urgency=…'): \"hello (2.10-3 unstable; urgency=medium\""),
            ),
            (
                ENTRY.replace(" -- Santiago", "-- Santiago"),
                format!("{shown}:5: badly formatted heading line (expected 'package (version) distribution; urgency=…'): \"-- Santiago"),
            ),
            (
                ENTRY.replace(" -- Santiago Vila <sanvila@debian.org>  Mon, 26 Dec 2022 16:30:00 +0100\n", ""),
                format!("{shown}:4: found end of file where expected more change data or trailer"),
            ),
            (
                ENTRY.replace("  Mon, 26 Dec 2022 16:30:00 +0100", ""),
                format!("{shown}:5: badly formatted trailer line (expected ' -- Name <email>  Day, DD Mon YYYY HH:MM:SS +ZZZZ'): \" -- Santiago Vila <sanvila@debian.org>\""),
            ),
            (String::new(), format!("{shown}: found end of file where expected first heading")),
            (
                ENTRY.replace("(2.10-3)", "(v2.10-3)"),
                format!("{shown}:1: version 'v2.10-3' is invalid: version number does not start with digit (it must start with a digit; drop the tag prefix: 2.10-3)"),
            ),
        ] {
            fs::write(&path, &broken).unwrap();
            let err = top_entry(&path).unwrap_err().to_string();
            assert!(err.starts_with(&wanted), "{broken:?}: {err}");
            assert!(!err.contains('\n') && err.len() < 400, "{err}");
        }
        let missing = dir.path().join("nothing");
        let err = top_entry(&missing).unwrap_err().to_string();
        assert!(err.contains("nothing"), "{err}");
    }
}
