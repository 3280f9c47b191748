//! Central logging of output streamed from remote hosts: a rolling-install dry run
//! over ssh (a real sshd on loopback standing in for two inventory hosts) sends every log line
//! to a real rsyslog, and each remote command's output arrives under the inventory name of the
//! host it ran on, with the run id. (Whole fleets: the demo, pointed at the same collector.)

use std::process::Command;
use std::time::Duration;

use cdkit_testkit::rsyslog::{local_hostname, Rsyslog};

const BIN: &str = env!("CARGO_BIN_EXE_rolling-install");

#[test]
fn remote_output_arrives_with_its_host_and_run_id() {
    let sshd = cdkit_testkit::sshd::start_sshd();
    let rsyslog = Rsyslog::start();
    let dir = tempfile::tempdir().unwrap();
    let inventory = dir.path().join("hosts.ini");
    std::fs::write(
        &inventory,
        format!(
            "[web]\nweb01 ansible_host=127.0.0.1 ansible_port={p} ansible_user=root\n\
             web02 ansible_host=127.0.0.1 ansible_port={p} ansible_user=root\n",
            p = sshd.port
        ),
    )
    .unwrap();
    // dpkg is installed on every Debian machine: a read-only dry run has something to report.
    let version = String::from_utf8(
        Command::new("dpkg-query")
            .args(["--show", "--showformat=${Version}", "dpkg"])
            .output()
            .unwrap()
            .stdout,
    )
    .unwrap();
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
