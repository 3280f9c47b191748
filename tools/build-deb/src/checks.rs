//! Self-checks of a built package, each a JUnit testcase: dpkg-deb can read it, it installs
//! into a scratch root and `dpkg --verify` finds nothing wrong, lintian has no errors (or
//! warnings, if asked), and optionally a second build is byte-identical.

use std::collections::BTreeMap;
use std::fs;
use std::path::Path;
use std::time::Instant;

use cdkit::junit::{Case, Problem, Status};
use cdkit::process::{Command, Stream};

use crate::options::LintianLevel;
use crate::sandbox::Sandbox;

/// Output of a command run for a check.
struct Ran {
    ok: bool,
    how: String,
    stdout: String,
    stderr: String,
}

fn run(command: Command) -> Ran {
    let mut stdout = String::new();
    let mut stderr = String::new();
    match command.quiet().run(|stream, line| {
        let buf = if stream == Stream::Stdout {
            &mut stdout
        } else {
            &mut stderr
        };
        buf.push_str(line);
        buf.push('\n');
    }) {
        Ok(done) => Ran {
            ok: done.success(),
            how: done.describe(),
            stdout,
            stderr,
        },
        Err(e) => Ran {
            ok: false,
            how: e.to_string(),
            stdout,
            stderr,
        },
    }
}

fn case(classname: &str, name: &str, started: Instant, ran: &Ran, what: &str) -> Case {
    let mut c = Case::passed(classname, name);
    c.time = started.elapsed();
    if !ran.ok {
        c.status = Status::Failed(Problem {
            message: format!("{what}: {}", first_line(&ran.stderr).unwrap_or(&ran.how)),
            kind: name
                .split_whitespace()
                .next()
                .unwrap_or("check")
                .to_string(),
            body: format!("{}\n{}", ran.stdout, ran.stderr),
            reruns: Vec::new(),
        });
    }
    c.system_out = Some(ran.stdout.clone()).filter(|s| !s.is_empty());
    c
}

fn first_line(text: &str) -> Option<&str> {
    text.lines().map(str::trim).find(|l| !l.is_empty())
}

/// `dpkg-deb --info` and `--contents` read the package.
pub fn dpkg_deb(deb: &Path, classname: &str) -> Vec<Case> {
    ["--info", "--contents"]
        .into_iter()
        .map(|flag| {
            let started = Instant::now();
            let ran = run(Command::new("dpkg-deb").arg(flag).arg(deb));
            case(
                classname,
                &format!("dpkg-deb {flag}"),
                started,
                &ran,
                "dpkg-deb cannot read the package",
            )
        })
        .collect()
}

/// Install into an empty scratch root (maintainer scripts run chrootless, in a sandbox where
/// only the scratch root is writable and the host's /run is hidden), then `dpkg --verify`.
pub fn scratch_install(deb: &Path, package: &str, classname: &str) -> Case {
    let started = Instant::now();
    let name = "install and dpkg --verify";
    let root = match tempfile::Builder::new().prefix("build-deb-root.").tempdir() {
        Ok(r) => r,
        Err(e) => {
            return failed(
                classname,
                name,
                started,
                &format!("cannot create a scratch root: {e}"),
            )
        }
    };
    let r = root.path();
    let db = r.join("var/lib/dpkg");
    let prepared = ["info", "updates", "triggers"]
        .iter()
        .try_for_each(|d| fs::create_dir_all(db.join(d)))
        .and_then(|_| fs::write(db.join("status"), ""))
        .and_then(|_| fs::write(db.join("available"), ""));
    if let Err(e) = prepared {
        return failed(
            classname,
            name,
            started,
            &format!("cannot prepare the scratch root: {e}"),
        );
    }
    let root_arg = format!("--root={}", r.display());
    let install = run(Sandbox::writable(&[r]).hide_run().command(&[
        "dpkg".into(),
        root_arg.clone(),
        "--force-script-chrootless".into(),
        "--force-depends".into(),
        "--force-not-root".into(),
        "--log=/dev/null".into(),
        "-i".into(),
        deb.display().to_string(),
    ]));
    if !install.ok {
        return case(
            classname,
            name,
            started,
            &install,
            "dpkg -i into a scratch root failed",
        );
    }
    let verify = run(Command::new("dpkg")
        .arg(&root_arg)
        .args(["--verify", package]));
    let mut c = case(classname, name, started, &verify, "dpkg --verify failed");
    if verify.ok && !verify.stdout.trim().is_empty() {
        c.status = Status::Failed(Problem {
            message: format!(
                "dpkg --verify reports changed files: {}",
                first_line(&verify.stdout).unwrap_or("")
            ),
            kind: "dpkg-verify".into(),
            body: verify.stdout.clone(),
            reruns: Vec::new(),
        });
    }
    c
}

fn failed(classname: &str, name: &str, started: Instant, message: &str) -> Case {
    let mut c = Case::passed(classname, name);
    c.time = started.elapsed();
    c.status = Status::Errored(Problem {
        message: message.to_string(),
        kind: "setup".into(),
        ..Problem::default()
    });
    c
}

/// A package for [`lintian`]: its file, its name (as lintian prints it) and the JUnit
/// classname of its checks.
pub struct Linted<'a> {
    pub deb: &'a Path,
    pub package: &'a str,
    pub classname: &'a str,
}

/// lintian over all the packages of a build in ONE run (its Perl start-up and per-run work
/// dominate on small packages: once per package, -dbgsym included, was a third of a build),
/// with each package's tags attributed to it from the package name lintian prints.
///
/// Per package: one `lintian` case, plus one failing case per failing tag (all its lines in
/// the body), so Jenkins shows which tags broke the build. zstd's `malformed-deb-archive` is
/// suppressed: it only says Debian 11's tools cannot read zstd, which the user chose.
/// Returns the cases in the order of `packages`.
pub fn lintian(packages: &[Linted], level: LintianLevel, zstd: bool) -> Vec<Vec<Case>> {
    if level == LintianLevel::Off || packages.is_empty() {
        return packages.iter().map(|_| Vec::new()).collect();
    }
    let started = Instant::now();
    let mut cmd =
        Command::new("lintian").args(["--no-tag-display-limit", "--display-level", ">=warning"]);
    if zstd {
        cmd = cmd.args(["--suppress-tags", "malformed-deb-archive"]);
    }
    let ran = run(cmd.args(packages.iter().map(|p| p.deb)));
    let failing: &[char] = match level {
        LintianLevel::Warning => &['E', 'W'],
        _ => &['E'],
    };
    // "E: libfoo1: tag detail" or "W: libfoo-udeb udeb: tag detail".
    let mut output: Vec<String> = packages.iter().map(|_| String::new()).collect();
    let mut tags: Vec<BTreeMap<String, Vec<String>>> =
        packages.iter().map(|_| BTreeMap::new()).collect();
    for line in ran.stdout.lines() {
        let mut parts = line.splitn(3, ": ");
        let (Some(sev), Some(who), Some(rest)) = (parts.next(), parts.next(), parts.next()) else {
            continue;
        };
        let name = who.split_whitespace().next().unwrap_or(who);
        let Some(index) = packages.iter().position(|p| p.package == name) else {
            continue;
        };
        output[index].push_str(line);
        output[index].push('\n');
        let Some(sev) = sev.chars().next().filter(|c| failing.contains(c)) else {
            continue;
        };
        let tag = rest.split_whitespace().next().unwrap_or(rest).to_string();
        tags[index]
            .entry(format!("{sev}: {tag}"))
            .or_default()
            .push(line.to_string());
    }
    let lintian_broke = !ran.ok && tags.iter().all(BTreeMap::is_empty);
    packages
        .iter()
        .zip(output.into_iter().zip(tags))
        .map(|(package, (stdout, tags))| {
            lintian_cases(
                package.classname,
                started,
                &ran,
                lintian_broke,
                stdout,
                tags,
            )
        })
        .collect()
}

/// One package's share of a lintian run as JUnit cases.
fn lintian_cases(
    classname: &str,
    started: Instant,
    ran: &Ran,
    lintian_broke: bool,
    stdout: String,
    tags: BTreeMap<String, Vec<String>>,
) -> Vec<Case> {
    let mut summary = Case::passed(classname, "lintian");
    summary.time = started.elapsed();
    if lintian_broke {
        summary.status = Status::Errored(Problem {
            message: format!(
                "lintian did not run: {}",
                first_line(&ran.stderr).unwrap_or(&ran.how)
            ),
            kind: "lintian".into(),
            body: ran.stderr.clone(),
            reruns: Vec::new(),
        });
    } else if !tags.is_empty() {
        summary.status = Status::Failed(Problem {
            message: format!(
                "lintian: {} failing tag(s): {}",
                tags.len(),
                tags.keys().cloned().collect::<Vec<_>>().join(", ")
            ),
            kind: "lintian".into(),
            body: stdout.clone(),
            reruns: Vec::new(),
        });
    }
    summary.system_out = Some(stdout).filter(|s| !s.is_empty());
    let mut cases = vec![summary];
    for (tag, lines) in tags {
        let mut c = Case::passed(format!("{classname}.lintian"), tag.clone());
        c.status = Status::Failed(Problem {
            message: lines[0].clone(),
            kind: "lintian".into(),
            body: lines.join("\n"),
            reruns: Vec::new(),
        });
        cases.push(c);
    }
    cases
}

/// Two builds of one commit must be byte-identical.
pub fn reproducible(first: &Path, second: &Path, classname: &str, started: Instant) -> Case {
    let name = "reproducible";
    let (a, b) = match (sha256_of(first), sha256_of(second)) {
        (Ok(a), Ok(b)) => (a, b),
        (Err(e), _) | (_, Err(e)) => return failed(classname, name, started, &e),
    };
    let mut c = Case::passed(classname, name);
    c.time = started.elapsed();
    if a != b {
        c.status = Status::Failed(Problem {
            message: format!(
                "a second build, with the clock moved {} and umask {}, differs: sha256 {a} then {b}",
                crate::variation::CLOCK_SHIFT,
                crate::variation::Variation::Varied.umask()
            ),
            kind: "reproducible".into(),
            body: "compare the two packages with diffoscope to see where they differ".into(),
            reruns: Vec::new(),
        });
    }
    c
}

/// Hex SHA-256 of a file, streamed.
pub fn sha256_of(path: &Path) -> Result<String, String> {
    cdkit::hash::file_checksums(path)
        .map(|(_, _, sha)| sha)
        .map_err(|e| format!("cannot read {}: {e}", path.display()))
}
