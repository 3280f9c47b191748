//! Inputs no user means but any user can type: each is refused with exit 2 and one line that
//! names it, never a panic, and a `--junit` report still says why.

/// A refused flag and a source tree that does not exist each leave a report with the reason.
#[test]
fn refusals_leave_a_report_with_the_reason() {
    let bin = env!("CARGO_BIN_EXE_build-deb");
    let mut cmd = std::process::Command::new(bin);
    cmd.args(["--compression", "rar", "."]);
    cdkit_testkit::assert_refusal_reported(cmd, "--compression");
    let out = tempfile::tempdir().unwrap();
    let mut cmd = std::process::Command::new(bin);
    cmd.arg("--out")
        .arg(out.path())
        .arg("/nonexistent/source-tree");
    cdkit_testkit::assert_refusal_reported(cmd, "source-tree");
}
