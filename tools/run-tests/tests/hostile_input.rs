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

/// JUnit files a broken or hostile runner may leave: each must fail the suite with the reason
/// in the report, never pass it, abort or overflow the stack.
#[test]
fn hostile_junit_files_fail_the_suite_with_the_reason() {
    let deep = "<testsuite>".repeat(3500);
    let cases: [(&str, &str, &str); 3] = [
        (
            "a suite-level error (a class that failed to load)",
            "<testsuite name=\"s\" tests=\"1\"><error message=\"class failed to load\">trace</error>\
             <testcase name=\"ok\" classname=\"c\"/></testsuite>",
            "class failed to load",
        ),
        (
            "two reports concatenated",
            "<testsuite name=\"a\" tests=\"1\"><testcase name=\"x\"/></testsuite>\n\
             <testsuite name=\"b\" tests=\"1\"><testcase name=\"y\"><failure message=\"f\"/>\
             </testcase></testsuite>",
            "a second document",
        ),
        ("3,500 nested suites", &deep, "nested more than 256 levels"),
    ];
    for (what, xml, reason) in cases {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("given.xml"), xml).unwrap();
        let out = run_tests()
            .current_dir(dir.path())
            .args(["--suite", "s", "--format", "junit", "--junit-in", "in.xml"])
            .args(["--junit", "report.xml", "--", "cp", "given.xml", "in.xml"])
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(1), "{what}: {stderr}");
        let report = dir.path().join("report.xml");
        cdkit_testkit::assert_valid_junit(&report);
        let text = std::fs::read_to_string(&report).unwrap();
        assert!(
            text.contains(reason),
            "{what}: the report lacks {reason:?}:\n{text}"
        );
    }
}

/// A refused tests.toml, a refused flag and an unknown suite each leave a report with the reason.
#[test]
fn refusals_leave_a_report_with_the_reason() {
    let dir = tempfile::tempdir().unwrap();
    let mut cmd = run_tests();
    cmd.current_dir(dir.path())
        .args(["--config", "missing.toml"]);
    cdkit_testkit::assert_refusal_reported(cmd, "missing.toml");
    let mut cmd = run_tests();
    cmd.args(["--timeout", "1e30", "--suite", "unit"]);
    cdkit_testkit::assert_refusal_reported(cmd, "--timeout");
    std::fs::write(
        dir.path().join("tests.toml"),
        "[[suite]]\nname = \"unit\"\ncommand = \"true\"\n",
    )
    .unwrap();
    let mut cmd = run_tests();
    cmd.current_dir(dir.path())
        .args(["--config", "tests.toml", "--suite", "nosuch"]);
    cdkit_testkit::assert_refusal_reported(cmd, "nosuch");
}
