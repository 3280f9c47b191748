//! What build-deb's end-to-end tests share: a git commit at a fixed time (so versions and
//! SOURCE_DATE_EPOCH are known) and a run of the binary with a report.
// Each test binary uses part of this module.
#![allow(dead_code)]

use std::path::Path;
use std::process::{Command, Output};

pub const BIN: &str = env!("CARGO_BIN_EXE_build-deb");

/// `git init` and commit everything in `tree` at 2026-11-20 09:30 UTC.
pub fn commit_at_fixed_time(tree: &Path) {
    let git = |args: &[&str]| {
        let out = Command::new("git")
            .args(args)
            .current_dir(tree)
            .env("GIT_AUTHOR_DATE", "2026-11-20T09:30:00Z")
            .env("GIT_COMMITTER_DATE", "2026-11-20T09:30:00Z")
            .env("GIT_AUTHOR_NAME", "t")
            .env("GIT_AUTHOR_EMAIL", "t@example.com")
            .env("GIT_COMMITTER_NAME", "t")
            .env("GIT_COMMITTER_EMAIL", "t@example.com")
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "git {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    };
    git(&["init", "-q"]);
    git(&["add", "-A"]);
    git(&["commit", "-q", "-m", "example"]);
}

/// build-deb on `tree` into `out` with a JUnit report at `report`, build number 7, the
/// epoch taken from the commit.
pub fn build(tree: &Path, out: &Path, report: &Path, extra: &[&str]) -> Output {
    Command::new(BIN)
        .arg(tree)
        .arg("--out")
        .arg(out)
        .arg("--junit")
        .arg(report)
        .args(extra)
        .env("BUILD_NUMBER", "7")
        .env_remove("SOURCE_DATE_EPOCH")
        .output()
        .unwrap()
}

pub fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// A copy of `examples/NAME` in a temporary directory (the tree is `DIR/NAME`), changed by
/// `edit`, then committed at the fixed time, so versions and SOURCE_DATE_EPOCH are known.
pub fn checkout_edited(name: &str, edit: impl FnOnce(&Path)) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let tree = dir.path().join(name);
    let ok = Command::new("cp")
        .arg("-a")
        .arg(cdkit_testkit::workspace_root().join("examples").join(name))
        .arg(&tree)
        .status()
        .unwrap();
    assert!(ok.success(), "cannot copy the example {name}");
    edit(&tree);
    commit_at_fixed_time(&tree);
    dir
}
