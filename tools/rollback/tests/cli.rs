//! Bad input to the real `rollback` binary: one clear line naming the input and the problem,
//! exit 2, nothing changed (no host is reached: these fail before any ssh).

use std::process::{Command, Output};

const BIN: &str = env!("CARGO_BIN_EXE_rollback");

fn rollback(args: &[&str]) -> Output {
    Command::new(BIN)
        .args(args)
        .env_remove("ROLLBACK_RECORD")
        .env_remove("ROLLBACK_INVENTORY")
        .output()
        .expect("run rollback")
}

fn one_error_line(out: &Output, needle: &str) {
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    let lines: Vec<&str> = stderr.lines().filter(|l| !l.trim().is_empty()).collect();
    assert!(
        lines.iter().any(|l| l.contains(needle)),
        "no line names {needle:?}: {stderr}"
    );
    assert!(
        lines.len() == 1 || lines[0].starts_with("error:"),
        "one error line expected: {stderr}"
    );
}

#[test]
fn missing_and_unreadable_inputs_are_named() {
    one_error_line(&rollback(&[]), "--record FILE");
    one_error_line(
        &rollback(&["--record", "/nonexistent/deploy.json"]),
        "/nonexistent/deploy.json",
    );
    let dir = tempfile::tempdir().unwrap();
    let record = dir.path().join("deploy.json");
    std::fs::write(&record, "{}").unwrap();
    one_error_line(
        &rollback(&["--record", record.to_str().unwrap()]),
        "is not a rolling-install journal",
    );
    // The explicit form needs a package and a version (clap's own usage error, also 2).
    let inventory = dir.path().join("hosts");
    std::fs::write(&inventory, "web1\nweb2\n").unwrap();
    one_error_line(
        &rollback(&["--inventory", inventory.to_str().unwrap()]),
        "--package",
    );
}

#[test]
fn names_and_versions_are_checked_against_debian_policy() {
    let dir = tempfile::tempdir().unwrap();
    let inventory = dir.path().join("hosts");
    std::fs::write(&inventory, "web1\n").unwrap();
    let inv = inventory.to_str().unwrap();
    one_error_line(
        &rollback(&[
            "--inventory",
            inv,
            "--package",
            "Hello_Service",
            "--to-version",
            "1.0-1",
        ]),
        "Hello_Service",
    );
    one_error_line(
        &rollback(&[
            "--inventory",
            inv,
            "--package",
            "hello-service",
            "--to-version",
            "1.0 beta",
        ]),
        "1.0 beta",
    );
    one_error_line(
        &rollback(&[
            "--inventory",
            inv,
            "--group",
            "production",
            "--package",
            "hello-service",
            "--to-version",
            "1.0-1",
        ]),
        "production",
    );
}

#[test]
fn a_record_with_a_bad_previous_version_is_refused_before_any_host_is_reached() {
    let dir = tempfile::tempdir().unwrap();
    let record = dir.path().join("deploy.json");
    let journal = serde_json::json!({
        "tool": "rolling-install", "run_id": "r", "package": "hello-service",
        "version": "2.0-1", "group": "all", "started": "2026-11-26T10:00:00Z",
        "finished": null, "outcome": null,
        "hosts": [{"name": "web1", "address": "192.0.2.1", "previous_version": "1.0 beta",
                   "recorded": true, "state": "installed", "drained": [], "steps": []}]
    });
    std::fs::write(&record, journal.to_string()).unwrap();
    let out = rollback(&["--record", record.to_str().unwrap()]);
    one_error_line(&out, "web1");
    assert_eq!(
        std::fs::read_to_string(&record).unwrap(),
        journal.to_string(),
        "the record is untouched"
    );
}
