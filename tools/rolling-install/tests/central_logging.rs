//! Central logging of output streamed from remote hosts: a rolling-install dry run
//! over ssh (a real sshd on loopback standing in for two inventory hosts) sends every log line
//! to a real rsyslog, and each remote command's output arrives under the inventory name of the
//! host it ran on, with the run id. (Whole fleets: the demo, pointed at the same collector.)

use std::process::Command;
use std::time::Duration;

use cdkit_testkit::rsyslog::{local_hostname, Rsyslog};

const BIN: &str = env!("CARGO_BIN_EXE_rolling-install");

/// An inventory of two hosts, web01 and web02, both this machine's sshd on `port`.
fn two_hosts(dir: &std::path::Path, port: u16) -> std::path::PathBuf {
    let inventory = dir.join("hosts.ini");
    std::fs::write(
        &inventory,
        format!(
            "[web]\nweb01 ansible_host=127.0.0.1 ansible_port={port} ansible_user=root\n\
             web02 ansible_host=127.0.0.1 ansible_port={port} ansible_user=root\n"
        ),
    )
    .unwrap();
    inventory
}

/// This machine's dpkg version: a package every Debian host has, on a known version.
fn dpkg_version() -> String {
    String::from_utf8(
        Command::new("dpkg-query")
            .args(["--show", "--showformat=${Version}", "dpkg"])
            .output()
            .unwrap()
            .stdout,
    )
    .unwrap()
}

#[test]
fn remote_output_arrives_with_its_host_and_run_id() {
    let sshd = cdkit_testkit::sshd::start_sshd();
    let rsyslog = Rsyslog::start();
    let dir = tempfile::tempdir().unwrap();
    let inventory = two_hosts(dir.path(), sshd.port);
    // dpkg is installed on every Debian machine: a read-only dry run has something to report.
    let version = dpkg_version();
    let run_id = "syslog-remote-1";
    let out = Command::new(BIN)
        .args(["--inventory", inventory.to_str().unwrap(), "--group", "web"])
        .args(["--ssh-config", sshd.ssh_config().to_str().unwrap()])
        .args(["--package", "dpkg", "--version", &version, "--dry-run"])
        .args(["--log-format", "json", "--progress", "plain"])
        .args(["--syslog", &rsyslog.tcp_url()])
        .env("CDKIT_RUN_ID", run_id)
        .env_remove("CDKIT_SYSLOG")
        .env_remove("CDKIT_LOG_FILE")
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{stderr}");
    let lines: Vec<serde_json::Value> = stderr
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not JSON ({e}): {l}")))
        .collect();
    let records = rsyslog.assert_every_line_arrived(
        &lines,
        run_id,
        &local_hostname(),
        Duration::from_secs(10),
    );
    // The hosts' own output (dpkg-query's status line) came back under each host's name.
    for host in ["web01", "web02"] {
        assert!(
            records.iter().any(|r| r.hostname == host
                && r.param("cdkit@32473", "stream") == Some("stdout")
                && r.message.contains(&version)),
            "no streamed output from {host}; received: {records:#?}"
        );
    }
}

/// A host without journald (this machine runs none) costs one warning per run, not one per
/// host, and the run goes on: a rollout over two such hosts (dpkg, already on its version)
/// succeeds with exactly one warning naming the first.
#[test]
fn hosts_without_journald_cost_one_warning() {
    let sshd = cdkit_testkit::sshd::start_sshd();
    assert!(
        !std::path::Path::new("/run/systemd/journal/socket").exists(),
        "this test needs a machine without journald"
    );
    let dir = tempfile::tempdir().unwrap();
    let inventory = two_hosts(dir.path(), sshd.port);
    let version = dpkg_version();
    let log = dir.path().join("central.jsonl");
    let out = Command::new(BIN)
        .args(["--inventory", inventory.to_str().unwrap(), "--group", "web"])
        .args(["--ssh-config", sshd.ssh_config().to_str().unwrap()])
        .args(["--package", "dpkg", "--version", &version, "--batch", "1"])
        .args(["--lock-host", "web01", "--progress", "plain"])
        .args(["--log-file", log.to_str().unwrap()])
        .env_remove("CDKIT_SYSLOG")
        .env_remove("CDKIT_LOG_FILE")
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{stderr}");
    let warnings: Vec<&str> = stderr
        .lines()
        .filter(|l| l.contains("has no journald"))
        .collect();
    assert_eq!(warnings.len(), 1, "{stderr}");
    assert!(warnings[0].contains("web01"), "{stderr}");
    let text = std::fs::read_to_string(&log).unwrap();
    assert!(
        !text.contains("\"source\":\"service\""),
        "no journal, no service lines: {text}"
    );
}
