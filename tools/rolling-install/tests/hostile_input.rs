//! Inputs no user means but any user can type: each is refused with exit 2 and one line that
//! names it, never a panic.

/// Durations too long for a deadline used to panic with exit 101 before any host was touched.
#[test]
fn durations_past_the_maximum_are_refused() {
    cdkit_testkit::assert_durations_refused(
        env!("CARGO_BIN_EXE_rolling-install"),
        &[
            ("--health-interval", "1e30"),
            ("--drain-timeout", "1e19"),
            ("--deadline", "25d"),
        ],
    );
}

/// A refused flag and a missing inventory each leave a report with the reason.
#[test]
fn refusals_leave_a_report_with_the_reason() {
    let bin = env!("CARGO_BIN_EXE_rolling-install");
    let mut cmd = std::process::Command::new(bin);
    cmd.args(["--health-interval", "1e30"]);
    cdkit_testkit::assert_refusal_reported(cmd, "--health-interval");
    let mut cmd = std::process::Command::new(bin);
    cmd.args([
        "--inventory",
        "/nonexistent/inventory.ini",
        "--group",
        "web",
    ])
    .args(["--package", "hello", "--version", "1.0"]);
    cdkit_testkit::assert_refusal_reported(cmd, "inventory.ini");
}
