//! Every exit path of rollback that this machine can reach leaves a schema-valid `--junit`
//! report, and every non-zero one says why in it. The hosts are this machine
//! (`ansible_connection=local`) and a closed loopback port; the rollback is of dpkg to the
//! version already installed, so a real run changes nothing. Rows: refused flags and inputs
//! (2), `--plan` and a dry run (0), a dry run with a host that cannot be reached (75), a real
//! run (0), the deployment lock held by another run (75), a host that cannot be reached (75),
//! SIGINT while waiting for the lock (130). A failed repository step (1), a host that could
//! not be returned (3) and `--deadline` (124) need a fleet whose packages may change (the
//! testbed); this table does not reach them.

use std::process::Command;
use std::time::Duration;

use cdkit_testkit::{
    assert_exit_path, assert_signal_exit_path, installed_version, HeldDeploymentLock,
};

const BIN: &str = env!("CARGO_BIN_EXE_rollback");

/// What a row checks, how it sets up (what it returns lives until the run has ended), the
/// arguments, the exit status, words of the reason.
type Row<'a> = (
    &'a str,
    &'a dyn Fn() -> Option<HeldDeploymentLock>,
    Vec<String>,
    i32,
    &'a str,
);

#[test]
fn every_exit_path_writes_a_valid_report_with_the_reason() {
    let dir = tempfile::tempdir().unwrap();
    let report = dir.path().join("reports/rollback.xml");
    let (inventory, here) = cdkit_testkit::local_inventory(dir.path());
    let version = installed_version("dpkg");
    let explicit = |group: &str, extra: &[&str]| -> Vec<String> {
        let mut args: Vec<String> = ["--inventory", inventory.to_str().unwrap(), "--group", group]
            .iter()
            .map(|s| s.to_string())
            .collect();
        args.extend(["--package", "dpkg", "--to-version", &version].map(String::from));
        args.extend(["--connect-timeout", "3s"].map(String::from));
        args.extend(extra.iter().map(|s| s.to_string()));
        args
    };
    let missing = dir.path().join("deploy.json");
    let none = || None;
    let locked = || Some(HeldDeploymentLock::hold(&here, "another run (run r1)"));
    let rows: Vec<Row> = vec![
        (
            "an unknown flag",
            &none,
            explicit(&here, &["--no-such-flag"]),
            2,
            "--no-such-flag",
        ),
        (
            "a duration too long",
            &none,
            explicit(&here, &["--drain-timeout", "1e30"]),
            2,
            "--drain-timeout",
        ),
        (
            "a record that does not exist",
            &none,
            vec!["--record".into(), missing.to_str().unwrap().into()],
            2,
            "deploy.json",
        ),
        (
            "a group the inventory lacks",
            &none,
            explicit("nosuch", &[]),
            2,
            "nosuch",
        ),
        ("the plan", &none, explicit(&here, &["--plan"]), 0, ""),
        ("a dry run", &none, explicit(&here, &["--dry-run"]), 0, ""),
        (
            "a dry run with a host unreachable",
            &none,
            explicit("gone", &["--dry-run"]),
            75,
            "could not be checked",
        ),
        ("a rollback", &none, explicit(&here, &[]), 0, ""),
        (
            "the deployment lock held",
            &locked,
            explicit(&here, &["--lock-timeout", "1s"]),
            75,
            "another run",
        ),
        (
            "a host that cannot be reached",
            &none,
            explicit("gone", &[]),
            75,
            "down1",
        ),
    ];
    for (what, setup, args, exit, reason) in &rows {
        let _held = setup();
        let mut cmd = Command::new(BIN);
        cmd.arg("--junit")
            .arg(&report)
            .args(args)
            .env_remove("JUNIT_OUTPUT");
        assert_exit_path(what, cmd, &report, *exit, reason);
    }

    // Stopped while waiting for the deployment lock (Ctrl-C): at once, 130, nothing changed.
    // It used to wait out --lock-timeout and then exit 75.
    let _held = locked();
    let mut cmd = Command::new(BIN);
    cmd.arg("--junit")
        .arg(&report)
        .args(explicit(&here, &["--lock-timeout", "60s"]))
        .env_remove("JUNIT_OUTPUT");
    let after = Duration::from_millis(1500);
    assert_signal_exit_path(
        "SIGINT waiting for the lock",
        cmd,
        &report,
        cdkit_testkit::Signal::SIGINT,
        after,
        130,
        "signal 2",
    );
}
