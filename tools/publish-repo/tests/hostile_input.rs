//! Inputs no user means but any user can type: each is refused with exit 2 and one line that
//! names it, never a panic.

use std::process::Command;

use cdkit_testkit::assert_duration_refused;

/// A lock timeout too long for a deadline used to panic with exit 101.
#[test]
fn lock_timeouts_past_the_maximum_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let repo = dir.path().join("repo");
    for (action, value) in [("init", "1e30"), ("add", "25d")] {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_publish-repo"));
        cmd.args([action, "--repo"]).arg(&repo);
        if action == "add" {
            cmd.args(["--suite", "testing"]);
        }
        cmd.args(["--lock-timeout", value]);
        assert_duration_refused(cmd, "--lock-timeout", value);
    }
    assert!(!repo.exists(), "a refused run created the repository");
}

/// A refused flag and a missing repository each leave a report with the reason.
#[test]
fn refusals_leave_a_report_with_the_reason() {
    let dir = tempfile::tempdir().unwrap();
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_publish-repo"));
    cmd.args(["init", "--repo"])
        .arg(dir.path().join("r"))
        .args(["--lock-timeout", "1e30"]);
    cdkit_testkit::assert_refusal_reported(cmd, "--lock-timeout");
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_publish-repo"));
    cmd.args(["list", "--repo"])
        .arg(dir.path().join("no-such-repo"));
    cdkit_testkit::assert_refusal_reported(cmd, "no-such-repo");
}
