//! Every exit path of run-tests leaves a schema-valid `--junit` report, and every non-zero
//! one says why in it: Jenkins' `junit` step shows the reason instead of "no test report
//! files". One table of real runs (0, 1, 2, 4, 124), plus a SIGTERM in the middle of a run
//! (143); 130 is the same path with SIGINT.

use std::process::Command;
use std::time::Duration;

use cdkit_testkit::{assert_exit_path, assert_signal_exit_path};

const BIN: &str = env!("CARGO_BIN_EXE_run-tests");

#[test]
fn every_exit_path_writes_a_valid_report_with_the_reason() {
    let dir = tempfile::tempdir().unwrap();
    let report = dir.path().join("reports/run-tests.xml");
    std::fs::write(dir.path().join("bad.toml"), "[suite.unit\ncommand = 1\n").unwrap();
    // (what, arguments after `--junit REPORT`, exit, words of the reason)
    let rows: &[(&str, &[&str], i32, &str)] = &[
        ("a passing command", &["--", "true"], 0, ""),
        ("a failing command", &["--", "false"], 1, "exit status 1"),
        (
            "an unknown flag",
            &["--no-such-flag", "--", "true"],
            2,
            "--no-such-flag",
        ),
        (
            "a tests.toml that is not TOML",
            &["--config", "bad.toml"],
            2,
            "bad.toml",
        ),
        (
            "a suite tests.toml lacks",
            &["--config", "missing.toml", "--suite", "x"],
            2,
            "missing.toml",
        ),
        (
            "no JUnit file from the command",
            &["--format", "junit", "--junit-in", "none.xml", "--", "true"],
            4,
            "no test results",
        ),
        (
            "a command past --timeout",
            &["--timeout", "1s", "--grace", "1s", "--", "sleep", "30"],
            124,
            "1s",
        ),
    ];
    for (what, args, exit, reason) in rows {
        let mut cmd = Command::new(BIN);
        cmd.current_dir(dir.path())
            .env_remove("JUNIT_OUTPUT")
            .arg("--junit")
            .arg(&report)
            .args(*args);
        assert_exit_path(what, cmd, &report, *exit, reason);
    }

    // Terminated in the middle of a run: the command is stopped, the report still written.
    let mut cmd = Command::new(BIN);
    cmd.current_dir(dir.path())
        .env_remove("JUNIT_OUTPUT")
        .arg("--junit")
        .arg(&report)
        .args(["--grace", "1s", "--", "sleep", "30"]);
    let after = Duration::from_millis(700);
    assert_signal_exit_path(
        "SIGTERM during the run",
        cmd,
        &report,
        cdkit_testkit::Signal::SIGTERM,
        after,
        143,
        "",
    );
}
