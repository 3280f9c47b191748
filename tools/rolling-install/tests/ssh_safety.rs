//! What a rollout's ssh connections leave behind and accept, against a real sshd on loopback:
//! a host whose key changed fails with one clear line and exit 1; a rollout killed with
//! SIGKILL leaves no authenticated master connection up for longer than ControlPersist; one
//! stopped with SIGTERM closes its masters before it exits.
//!
//! The rollouts here never reach an install: they wait for a deployment lock the test holds
//! (on this machine, which is the "host" behind the loopback sshd), or fail at the first ssh
//! command, so nothing is installed on the machine running the tests.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use cdkit_testkit::sshd::{connections_to, keygen, start_sshd, Sshd};

const BIN: &str = env!("CARGO_BIN_EXE_rolling-install");

fn rollout(inventory: &Path, group: &str, sshd: &Sshd, extra: &[&str]) -> Command {
    let mut cmd = Command::new(BIN);
    cmd.args(["--inventory", inventory.to_str().unwrap(), "--group", group])
        .args(["--inventory-reader", "native"])
        .args(["--ssh-config", sshd.ssh_config().to_str().unwrap()])
        .args(["--connect-timeout", "5s", "--progress", "plain"])
        // A package no host has: should a rollout ever get as far as installing, it fails.
        .args([
            "--package",
            "cdkit-test-never-installed",
            "--version",
            "1.0-1",
        ])
        .args(extra);
    cmd
}

fn text(out: &Output) -> String {
    cdkit_testkit::output_text(out)
}

/// Wait up to `limit` for `cond`; how long it took, or `None`.
fn wait_for(limit: Duration, mut cond: impl FnMut() -> bool) -> Option<Duration> {
    let started = Instant::now();
    while started.elapsed() < limit {
        if cond() {
            return Some(started.elapsed());
        }
        std::thread::sleep(Duration::from_millis(200));
    }
    None
}

/// The deployment lock of `group` held by someone else, on this machine (the sshd's host);
/// removed on drop.
struct HeldLock(PathBuf);

impl HeldLock {
    fn new(group: &str) -> HeldLock {
        let dir = PathBuf::from(format!("/var/lib/cdkit/locks/rolling-install.{group}"));
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join("owner"), "someone else (held by the test)\n").unwrap();
        HeldLock(dir)
    }
}

impl Drop for HeldLock {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// A rollout of a one-host group that waits for the held lock, once its master is up.
fn waiting_rollout(sshd: &Sshd, group: &str, dir: &Path) -> Child {
    let inventory = sshd.one_host_inventory(dir, group);
    let child = rollout(&inventory, group, sshd, &["--lock-timeout", "600s"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    assert!(
        wait_for(Duration::from_secs(20), || connections_to(sshd.port) > 0).is_some(),
        "the rollout never connected"
    );
    // A few polls of the lock go through the master.
    std::thread::sleep(Duration::from_secs(1));
    child
}

#[test]
fn a_killed_rollout_leaves_no_master_beyond_control_persist() {
    let sshd = start_sshd();
    let group = format!("sshkill{}", std::process::id());
    let _lock = HeldLock::new(&group);
    let dir = tempfile::tempdir().unwrap();
    let mut child = waiting_rollout(&sshd, &group, dir.path());
    child.kill().unwrap(); // SIGKILL: nothing of the tool runs after it.
    child.wait().unwrap();
    let persist = Duration::from_secs(cdkit::ssh::CONTROL_PERSIST_SECS);
    // Slack for the last lock poll to finish and for ssh's once-a-second timer.
    let limit = persist + Duration::from_secs(10);
    let gone = wait_for(limit, || connections_to(sshd.port) == 0);
    eprintln!("master gone {gone:?} after SIGKILL (ControlPersist {persist:?})");
    assert!(
        gone.is_some(),
        "an authenticated ssh master outlived the killed rollout by more than {limit:?}"
    );
}

#[test]
fn a_terminated_rollout_closes_its_masters_before_it_exits() {
    let sshd = start_sshd();
    let group = format!("sshterm{}", std::process::id());
    let _lock = HeldLock::new(&group);
    let dir = tempfile::tempdir().unwrap();
    let mut child = waiting_rollout(&sshd, &group, dir.path());
    let sent = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(sent.success());
    // Bounded: a rollout deaf to the signal would wait out its 600 s lock timeout.
    let mut status = None;
    wait_for(Duration::from_secs(30), || {
        status = child.try_wait().unwrap();
        status.is_some()
    });
    if status.is_none() {
        let _ = child.kill();
        let _ = child.wait();
    }
    assert_eq!(
        status.and_then(|s| s.code()),
        Some(143),
        "still running 30 s after SIGTERM"
    );
    // `ssh -O exit` ran after the signal: the master is gone right away, not after
    // ControlPersist.
    let gone = wait_for(Duration::from_secs(3), || connections_to(sshd.port) == 0);
    assert!(gone.is_some(), "the master outlived the terminated rollout");
}

#[test]
fn a_host_whose_key_changed_fails_with_one_clear_line_and_exit_1() {
    let sshd = start_sshd();
    // The host "moved" is reached as localhost, for which known_hosts holds another key (what
    // a man in the middle would present); the lock host is reached as 127.0.0.1, whose key
    // is the right one.
    let other = sshd.dir.path().join("other_key");
    keygen(&other);
    let other_pub = std::fs::read_to_string(other.with_extension("pub")).unwrap();
    let known = sshd.dir.path().join("known_hosts");
    let mut known_text = std::fs::read_to_string(&known).unwrap();
    known_text.push_str(&format!("\n[localhost]:{} {other_pub}", sshd.port));
    std::fs::write(&known, known_text).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let inventory = dir.path().join("hosts.ini");
    std::fs::write(
        &inventory,
        format!(
            "[web]\nmoved ansible_host=localhost ansible_port={p}\n\
             [locks]\nlockhost ansible_host=127.0.0.1 ansible_port={p}\n",
            p = sshd.port
        ),
    )
    .unwrap();
    let group = "web";
    let out = rollout(
        &inventory,
        group,
        &sshd,
        &["--lock-host", "lockhost", "--accept-new-host-keys"],
    )
    .output()
    .unwrap();
    let all = text(&out);
    assert_eq!(out.status.code(), Some(1), "{all}");
    let lines: Vec<&str> = all
        .lines()
        .filter(|l| l.contains("host key has changed"))
        .collect();
    assert!(!lines.is_empty(), "no clear message: {all}");
    assert!(lines.iter().all(|l| l.contains("moved")), "{all}");
    // The last line says why the run failed.
    let last = all.lines().last().unwrap_or("");
    assert!(
        last.contains("exit 1") && last.contains("1 host(s) failed"),
        "{all}"
    );
}
