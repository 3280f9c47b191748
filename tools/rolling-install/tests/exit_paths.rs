//! Every exit path of rolling-install that this machine can reach leaves a schema-valid
//! `--junit` report, and every non-zero one says why in it. The hosts are this machine
//! (`ansible_connection=local`) and a closed loopback port; the rollout is of dpkg to the
//! version already installed, so a real run changes nothing. Rows: refused flags and inputs
//! (2), a dry run (0), a dry run with a host that cannot be reached (75), a real run (0), the
//! deployment lock held by another rollout (75), SIGTERM while waiting for it (143). A failed
//! install (1), a host that could not be restored (3) and `--deadline` (124) need hosts whose
//! packages may change: the fleet tests reach them on the testbed (`fleet.rs`), not this
//! table.

use std::process::Command;
use std::time::Duration;

use cdkit_testkit::{
    assert_exit_path, assert_signal_exit_path, installed_version, HeldDeploymentLock,
};

const BIN: &str = env!("CARGO_BIN_EXE_rolling-install");

/// What a row checks, how it sets up (what it returns lives until the run has ended), the
/// group, extra flags, the exit status, words of the reason.
type Row<'a> = (
    &'a str,
    &'a dyn Fn() -> Option<HeldDeploymentLock>,
    &'a str,
    &'a [&'a str],
    i32,
    &'a str,
);

#[test]
fn every_exit_path_writes_a_valid_report_with_the_reason() {
    let dir = tempfile::tempdir().unwrap();
    let report = dir.path().join("reports/rolling-install.xml");
    let (inventory, here) = cdkit_testkit::local_inventory(dir.path());
    let version = installed_version("dpkg");
    let none = || None;
    let locked = || Some(HeldDeploymentLock::hold(&here, "another rollout (run r1)"));
    let rows: &[Row] = &[
        (
            "an unknown flag",
            &none,
            &here,
            &["--no-such-flag"],
            2,
            "--no-such-flag",
        ),
        (
            "a duration too long",
            &none,
            &here,
            &["--deadline", "25d"],
            2,
            "--deadline",
        ),
        (
            "a group the inventory lacks",
            &none,
            "nosuch",
            &[],
            2,
            "nosuch",
        ),
        ("a dry run", &none, &here, &["--dry-run"], 0, ""),
        (
            "a dry run with a host unreachable",
            &none,
            "gone",
            &["--dry-run"],
            75,
            "could not be checked",
        ),
        ("a rollout", &none, &here, &[], 0, ""),
        (
            "the deployment lock held",
            &locked,
            &here,
            &["--lock-timeout", "1s"],
            75,
            "another rollout",
        ),
    ];
    for (what, setup, group, extra, exit, reason) in rows {
        let _held = setup();
        let mut cmd = Command::new(BIN);
        cmd.arg("--inventory")
            .arg(&inventory)
            .args(["--inventory-reader", "native", "--group", group])
            .args(["--package", "dpkg", "--version", &version])
            .args(["--connect-timeout", "3s", "--progress", "plain"])
            .arg("--junit")
            .arg(&report)
            .args(*extra)
            .env_remove("JUNIT_OUTPUT");
        assert_exit_path(what, cmd, &report, *exit, reason);
    }

    // Stopped while waiting for the deployment lock (a CI abort): at once, 143, nothing
    // changed. It used to wait out --lock-timeout and then exit 75.
    let _held = locked();
    let mut cmd = Command::new(BIN);
    cmd.arg("--inventory")
        .arg(&inventory)
        .args(["--inventory-reader", "native", "--group", &here])
        .args([
            "--package",
            "dpkg",
            "--version",
            &version,
            "--lock-timeout",
            "60s",
        ])
        .arg("--junit")
        .arg(&report)
        .env_remove("JUNIT_OUTPUT");
    let after = Duration::from_millis(1500);
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
