//! Driving `scripts/testbed` from a test: the fleet tests of several tools share one way to
//! call it and to insist that a call worked.

use std::process::{Command, Output};

/// `scripts/testbed SUBCOMMAND --name LAB ARGS…` (`--name` goes right after the subcommand:
/// after it come a host command's own arguments).
pub fn run(lab: &str, args: &[&str]) -> Output {
    Command::new(crate::workspace_root().join("scripts/testbed"))
        .arg(args[0])
        .args(["--name", lab])
        .args(&args[1..])
        .output()
        .expect("run scripts/testbed")
}

/// The stdout of a call that must have succeeded; panics with `what` and both outputs.
pub fn must(out: Output, what: &str) -> String {
    assert!(
        out.status.success(),
        "{what}: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}
