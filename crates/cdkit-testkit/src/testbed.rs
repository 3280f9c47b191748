//! Driving `scripts/testbed` from a test: the fleet tests of several tools (rolling-install's
//! fleet, rollback's fault matrix) share one way to call it, to insist that a call worked, to
//! bring a lab up and fill its repository, to run a tool inside it and to read its HAProxy.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// The testbed command, `scripts/testbed` of this checkout.
pub fn script() -> PathBuf {
    crate::workspace_root().join("scripts/testbed")
}

/// `scripts/testbed SUBCOMMAND --name LAB ARGS…` (`--name` goes right after the subcommand:
/// after it come a host command's own arguments).
pub fn run(lab: &str, args: &[&str]) -> Output {
    Command::new(script())
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

/// A new lab of `hosts` hosts (with HAProxy in front when `lb`): whatever an earlier run left
/// under the same name is removed first, so a test never inherits another's fleet.
pub fn up_fresh(lab: &str, hosts: usize, lb: bool) {
    let _ = run(lab, &["down"]);
    let n = hosts.to_string();
    let mut args = vec!["up", "-n", &n];
    if lb {
        args.push("--lb");
    }
    must(run(lab, &args), &format!("testbed up -n {hosts}"));
}

/// Adds `debs` to the lab's signed APT repository, suite `suite` (testing or production).
pub fn publish(lab: &str, suite: &str, debs: &[impl AsRef<Path>]) {
    let paths: Vec<String> = debs
        .iter()
        .map(|p| p.as_ref().display().to_string())
        .collect();
    let mut args = vec!["publish", "--suite", suite];
    args.extend(paths.iter().map(String::as_str));
    must(run(lab, &args), "publish");
}

/// Each host's state in the lab's HAProxy (`UP`, `DRAIN`, `MAINT`, …), in host order, from
/// `status --json` ("" for a host HAProxy does not report).
pub fn haproxy_states(lab: &str) -> Vec<String> {
    let out = must(run(lab, &["status", "--json"]), "status");
    let v: serde_json::Value = serde_json::from_str(&out).expect("status --json");
    v["hosts"]
        .as_array()
        .expect("hosts")
        .iter()
        .map(|h| h["haproxy"].as_str().unwrap_or("").to_string())
        .collect()
}

/// `BINARY FLAGS "$@"` inside the lab (`scripts/testbed run`): `flags` are shell words, so the
/// lab's variables (`$CDKIT_TESTBED_INVENTORY`, …) expand; arguments added to the returned
/// command arrive as `"$@"`, unexpanded.
pub fn in_lab(lab: &str, binary: &Path, flags: &str) -> Command {
    let mut cmd = Command::new(script());
    cmd.args(["run", "--name", lab, "--", "sh", "-c"])
        .arg(format!("exec \"$0\" {flags} \"$@\""))
        .arg(binary);
    cmd
}
