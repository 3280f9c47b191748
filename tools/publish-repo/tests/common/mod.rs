//! A repository made by the publish-repo binary in a temporary directory, with its own
//! signing key, shared by the integration tests.

#![allow(dead_code)] // each test binary uses a different part

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use cdkit_testkit::apt::{AptClient, TestKey};

pub const BIN: &str = env!("CARGO_BIN_EXE_publish-repo");

pub struct Repo {
    pub dir: tempfile::TempDir,
    pub key: TestKey,
}

impl Repo {
    /// `init` a repository (suites testing and production, published empty and signed).
    pub fn new() -> Repo {
        let repo = Repo {
            dir: tempfile::tempdir().unwrap(),
            key: TestKey::generate(),
        };
        let out = repo.run(&["init", "--origin", "cdkit", "--label", "cdkit test"]);
        assert!(out.status.success(), "{}", stderr(&out));
        repo
    }

    pub fn root(&self) -> PathBuf {
        self.dir.path().join("repo")
    }

    pub fn debs(&self) -> PathBuf {
        self.dir.path().join("debs")
    }

    pub fn report(&self) -> PathBuf {
        self.dir.path().join("reports/publish.xml")
    }

    /// `publish-repo SUBCOMMAND --repo ROOT ARGS…`, signed with the test key (and writing a
    /// report) where the subcommand publishes.
    pub fn command(&self, args: &[&str]) -> Command {
        let mut cmd = Command::new(BIN);
        cmd.arg(args[0])
            .arg("--repo")
            .arg(self.root())
            .args(&args[1..]);
        if matches!(args[0], "init" | "add" | "promote" | "remove") {
            cmd.args(["--sign-key", &self.key.fingerprint]);
        }
        if matches!(args[0], "add" | "promote" | "remove") {
            cmd.arg("--junit").arg(self.report());
        }
        cmd.env("GNUPGHOME", self.key.home.path());
        cmd
    }

    pub fn run(&self, args: &[&str]) -> Output {
        self.command(args).output().unwrap()
    }

    pub fn add(&self, suite: &str, debs: &[PathBuf]) -> Output {
        let mut cmd = self.command(&["add", "--suite", suite]);
        cmd.args(debs);
        cmd.output().unwrap()
    }

    /// A hermetic apt client of `suite` over file://.
    pub fn client(&self, suite: &str) -> AptClient {
        AptClient::new(
            &format!("file://{}", self.root().display()),
            suite,
            Some(&self.key.public),
        )
    }

    /// `publish-repo verify` must pass.
    pub fn verify(&self) {
        let out = Command::new(BIN)
            .args(["verify", "--repo"])
            .arg(self.root())
            .arg("--keyring")
            .arg(&self.key.public)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "verify: {}{}",
            String::from_utf8_lossy(&out.stdout),
            stderr(&out)
        );
    }
}

pub fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

pub fn ok(out: &Output) {
    assert_eq!(out.status.code(), Some(0), "{}", stderr(out));
}

impl Repo {
    /// `publish-repo verify` of the repository at `root` (this one, or a copy of it), checked
    /// with this repository's key.
    pub fn verify_at(&self, root: &std::path::Path) -> Output {
        Command::new(BIN)
            .args(["verify", "--repo"])
            .arg(root)
            .arg("--keyring")
            .arg(&self.key.public)
            .output()
            .unwrap()
    }
}

/// Every directory, file's path and content (and every symlink's target) under `root`, except the lock
/// file: equal before and after means the repository did not change.
pub fn tree_digest(root: &std::path::Path) -> Vec<(String, String)> {
    let mut out = Vec::new();
    let mut stack = vec![root.to_path_buf()];
    while let Some(dir) = stack.pop() {
        for item in std::fs::read_dir(&dir).unwrap().flatten() {
            let path = item.path();
            let kind = item.file_type().unwrap();
            if kind.is_symlink() {
                let target = std::fs::read_link(&path).unwrap();
                out.push((
                    path.display().to_string(),
                    format!("-> {}", target.display()),
                ));
            } else if kind.is_dir() {
                // Directories too: a refused run must not leave empty ones behind.
                out.push((path.display().to_string(), "dir".into()));
                stack.push(path);
            } else if !path.ends_with("lock") {
                let sha = cdkit::hash::file_checksums(&path).unwrap().2;
                out.push((path.display().to_string(), sha));
            }
        }
    }
    out.sort();
    out
}

/// The last stderr line of a run that must have failed with `code`: one line starting
/// `publish-repo: error: ` (or `refused: `), returned for further checks.
pub fn failed_with(out: &Output, code: i32) -> String {
    assert_eq!(out.status.code(), Some(code), "{}", stderr(out));
    let text = stderr(out);
    let last = text.lines().last().unwrap_or("").to_string();
    assert!(
        last.starts_with("publish-repo: error: ") || last.starts_with("publish-repo: refused: "),
        "not one closing error line: {text}"
    );
    last
}

impl Repo {
    /// `promote --from testing --to production SPEC…`.
    pub fn promote(&self, specs: &[&str]) -> Output {
        let mut cmd = self.command(&["promote", "--from", "testing", "--to", "production"]);
        cmd.args(specs);
        cmd.output().unwrap()
    }
}

/// The run failed with `code` and said so in exactly one line on stderr, an error naming
/// each of `names` (the input and the problem); returns that line.
pub fn one_error_line(out: &Output, code: i32, names: &[&str]) -> String {
    let text = stderr(out);
    let last = failed_with(out, code);
    assert_eq!(text.lines().count(), 1, "more than one line:\n{text}");
    assert!(last.starts_with("publish-repo: error: "), "{last}");
    for name in names {
        assert!(last.contains(name), "{name:?} not named: {last}");
    }
    last
}

/// `add DEBS` into testing is refused with exit 2 in one error line naming each of `names`,
/// and the repository stays as `before` ([`tree_digest`]).
pub fn add_is_refused(repo: &Repo, debs: &[PathBuf], names: &[&str], before: &[(String, String)]) {
    let out = repo.add("testing", debs);
    let line = one_error_line(&out, 2, names);
    assert_eq!(
        tree_digest(&repo.root()),
        before,
        "changed the repository: {line}"
    );
}

/// A .deb built by dpkg-deb without its checks (`--nocheck`) from this control text, so a
/// test can hand publish-repo fields no honest build tool writes.
pub fn unchecked_deb(dir: &Path, name: &str, control: &str) -> PathBuf {
    let work = dir.join(format!("{name}.tree"));
    std::fs::create_dir_all(work.join("DEBIAN")).unwrap();
    std::fs::write(work.join("DEBIAN/control"), control).unwrap();
    let out = dir.join(format!("{name}.deb"));
    let status = Command::new("dpkg-deb")
        .args(["--nocheck", "--root-owner-group", "--build"])
        .arg(&work)
        .arg(&out)
        .stdout(Stdio::null())
        .status()
        .unwrap();
    assert!(status.success(), "dpkg-deb --build {name}");
    out
}
