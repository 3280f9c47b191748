//! rollback's ssh connections against a real sshd on loopback: `--accept-new-host-keys` holds
//! for the hosts it returns, not only for the lock host and the balancers. The runs are dry
//! runs of a package no host has, so nothing changes on the machine running the tests.

use std::process::{Command, Output};

use cdkit_testkit::sshd::start_sshd;

const BIN: &str = env!("CARGO_BIN_EXE_rollback");

fn text(out: &Output) -> String {
    cdkit_testkit::output_text(out)
}

#[test]
fn accept_new_host_keys_reaches_a_host_not_yet_in_known_hosts() {
    let sshd = start_sshd();
    let dir = tempfile::tempdir().unwrap();
    let inventory = dir.path().join("hosts.ini");
    // known_hosts names 127.0.0.1 only: `fresh`, reached as localhost, is a first contact.
    std::fs::write(
        &inventory,
        format!(
            "[web]\nfresh ansible_host=localhost ansible_port={p}\n",
            p = sshd.port
        ),
    )
    .unwrap();
    let run = |extra: &[&str]| {
        Command::new(BIN)
            .args(["--inventory", inventory.to_str().unwrap(), "--group", "web"])
            .args(["--package", "cdkit-test-never-installed"])
            .args(["--to-version", "1.0-1"])
            .args(["--ssh-config", sshd.ssh_config().to_str().unwrap()])
            .args([
                "--connect-timeout",
                "5s",
                "--dry-run",
                "--progress",
                "plain",
            ])
            .args(extra)
            .env_remove("ROLLBACK_RECORD")
            .output()
            .unwrap()
    };
    let refused = run(&[]);
    let all = text(&refused);
    assert_ne!(refused.status.code(), Some(0), "{all}");
    assert!(all.contains("UNREACHABLE"), "{all}");
    let accepted = run(&["--accept-new-host-keys"]);
    let all = text(&accepted);
    assert_eq!(accepted.status.code(), Some(0), "{all}");
    assert!(
        all.contains("fresh (localhost): not installed (already there)")
            || all.contains("fresh (localhost): not installed ->"),
        "{all}"
    );
}
