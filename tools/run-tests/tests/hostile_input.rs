//! Inputs no user means but any user can type: each is refused with exit 2 and one line that
//! names it, never a panic.

use std::process::Command;

use cdkit_testkit::assert_duration_refused;

fn run_tests() -> Command {
    Command::new(env!("CARGO_BIN_EXE_run-tests"))
}

/// Durations too long for a deadline used to panic ("overflow when adding duration to
/// instant") with exit 101 and no report.
#[test]
fn durations_past_the_maximum_are_refused() {
    for (flag, value) in [
        ("--timeout", "1e30"),
        ("--timeout", "1e19"),
        ("--grace", "25d"),
    ] {
        let mut cmd = run_tests();
        cmd.args([flag, value, "--suite", "unit", "--", "true"]);
        assert_duration_refused(cmd, flag, value);
    }
}

#[test]
fn a_config_timeout_past_the_maximum_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("tests.toml");
    std::fs::write(
        &config,
        "[[suite]]\nname = \"unit\"\ncommand = \"true\"\ntimeout = \"1e30\"\n",
    )
    .unwrap();
    let out = run_tests()
        .current_dir(dir.path())
        .args([
            "--config",
            "tests.toml",
            "--suite",
            "unit",
            "--junit",
            "report.xml",
        ])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    assert!(
        stderr.contains("timeout") && stderr.contains("1e30") && stderr.contains("24d"),
        "{stderr}"
    );
}
