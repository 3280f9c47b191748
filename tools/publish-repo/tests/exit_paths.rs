//! Every exit path of publish-repo leaves a schema-valid `--junit` report, and every non-zero
//! one says why in it. One table of real runs on one signed repository, in order: `add` and
//! `verify` (0), refused input (2), the repository lock held by another process (75),
//! `verify` finding a defect (1), and SIGTERM while waiting for that lock (143).
//! publish-repo has no dry run; 1 from a publishing command (a write that fails part-way)
//! needs a full or read-only file system and is not reached here.

use std::time::Duration;

use cdkit_testkit::{apt::make_deb, assert_exit_path, assert_signal_exit_path, HeldFlock};
use common::Repo;

mod common;

/// How a row prepares the repository before its run; what it returns (a lock held by
/// another process) lives until the run has ended.
type Setup = fn(&Repo) -> Option<HeldFlock>;

fn nothing(_: &Repo) -> Option<HeldFlock> {
    None
}

fn a_deb(repo: &Repo) -> Option<HeldFlock> {
    std::fs::create_dir_all(repo.debs()).unwrap();
    make_deb(&repo.debs(), "hello", "1.0-1", "all");
    None
}

fn not_a_deb(repo: &Repo) -> Option<HeldFlock> {
    std::fs::write(repo.debs().join("junk_1.0_all.deb"), "not an ar archive\n").unwrap();
    None
}

/// Another publish-repo run holds the repository's flock(2) lock.
fn lock_held(repo: &Repo) -> Option<HeldFlock> {
    Some(HeldFlock::hold(&repo.root().join(".publish-repo/lock")))
}

/// A published index changed behind the tool's back: the signature no longer matches.
fn release_edited(repo: &Repo) -> Option<HeldFlock> {
    let release = repo.root().join("dists/testing/Release");
    let mut text = std::fs::read_to_string(&release).unwrap();
    text.push_str("Edited: yes\n");
    std::fs::write(release, text).unwrap();
    None
}

#[test]
fn every_exit_path_writes_a_valid_report_with_the_reason() {
    let repo = Repo::new();
    let report = repo.report();
    let deb = repo.debs().join("hello_1.0-1_all.deb");
    let junk = repo.debs().join("junk_1.0_all.deb");
    let (deb, junk) = (deb.to_str().unwrap(), junk.to_str().unwrap());
    // (what, setup, subcommand and arguments (after it: --repo, signing), exit, reason words)
    let rows: &[(&str, Setup, &[&str], i32, &str)] = &[
        ("add", a_deb, &["add", "--suite", "testing", deb], 0, ""),
        ("verify", nothing, &["verify"], 0, ""),
        (
            "an unknown flag",
            nothing,
            &["verify", "--no-such-flag"],
            2,
            "--no-such-flag",
        ),
        (
            "an unknown suite",
            nothing,
            &["add", "--suite", "nosuch", deb],
            2,
            "nosuch",
        ),
        (
            "a file that is not a .deb",
            not_a_deb,
            &["add", "--suite", "testing", junk],
            2,
            "junk_1.0_all.deb",
        ),
        (
            "the repository lock held",
            lock_held,
            &["add", "--suite", "production", "--lock-timeout", "1s", deb],
            75,
            "lock",
        ),
        (
            "verify finding a defect",
            release_edited,
            &["verify"],
            1,
            "testing",
        ),
    ];
    for (what, setup, args, exit, reason) in rows {
        let _held = setup(&repo);
        let mut cmd = repo.command(args);
        // `command` asks for the report for the publishing subcommands only.
        if !cmd.get_args().any(|a| a == "--junit") {
            cmd.arg("--junit").arg(&report);
        }
        assert_exit_path(what, cmd, &report, *exit, reason);
    }

    // Stopped while waiting for the lock (a CI abort): at once, 143, nothing changed. It used
    // to wait out --lock-timeout and then go on as if no signal had come.
    let _held = lock_held(&repo);
    let mut cmd = repo.command(&["add", "--suite", "production", "--lock-timeout", "60s", deb]);
    if !cmd.get_args().any(|a| a == "--junit") {
        cmd.arg("--junit").arg(&report);
    }
    let after = Duration::from_millis(800);
    assert_signal_exit_path(
        "SIGTERM waiting for the lock",
        cmd,
        &report,
        cdkit_testkit::Signal::SIGTERM,
        after,
        143,
        "signal 15",
    );
}
