//! The deployment lock, shared with rolling-install (the same lock directory per group), so a
//! rollback never runs beside a rollout or another rollback of the same group.
//!
//! One addition: rollback is the tool for picking up after a run that was killed (SIGKILL,
//! a lost Jenkins agent), and such a run leaves its lock behind on purpose. A lock whose holder
//! is a rolling-install or rollback process that this process can see is gone is taken over
//! (logged, naming the dead holder). "Can see" means the same kernel boot and the same pid
//! namespace ([`cdkit::lock::ProcessId`]), not the same host name: agents in containers often
//! share a host name while each sees only its own processes. A holder anywhere else cannot be
//! judged from here: that stays exit 75 with the `rolling-install lock release` command.

use std::time::Duration;

use cdkit::ssh::Session;
use rolling_install::deploy_lock::{self, DeploymentLock, LockError, LOCK_ROOT};
use rolling_install::host_ops::HostOps;

/// Take `group`'s deployment lock on `session`'s host, taking over a dead local holder's.
pub fn acquire<'a>(
    session: &'a Session,
    sudo: bool,
    group: &str,
    owner: &str,
    wait: Duration,
) -> Result<DeploymentLock<'a>, LockError> {
    let ops = HostOps::new(session, sudo, Duration::from_secs(30));
    if let Some(holder) = deploy_lock::status(&ops, group)? {
        take_over_if_dead(&ops, group, &holder)?;
    }
    match DeploymentLock::acquire(session, sudo, group, owner, wait) {
        Err(LockError::Held { owner: holder, .. }) if dead_local_holder(&holder) => {
            // The holder died while we waited.
            take_over_if_dead(&ops, group, &holder)?;
            DeploymentLock::acquire(session, sudo, group, owner, Duration::ZERO)
        }
        other => other,
    }
}

fn take_over_if_dead(ops: &HostOps, group: &str, holder: &str) -> Result<(), LockError> {
    if !dead_local_holder(holder) {
        return Ok(());
    }
    tracing::warn!("taking over the deployment lock of {group}: its holder is gone ({holder})");
    // Under a host-side flock, and only if the owner is still the dead one: two rollbacks
    // taking over at once cannot remove each other's fresh lock.
    let script = "mkdir -p \"$1\" && exec flock \"$1/.takeover\" sh -c \
                  'if grep -qxF \"$3\" \"$2/owner\" 2>/dev/null; then rm -rf \"$2\"; fi' sh \"$1\" \"$2\" \"$3\"";
    ops.shell_args(
        "lock takeover",
        script,
        &[LOCK_ROOT, &deploy_lock::lock_dir(group), holder],
    )?;
    Ok(())
}

/// Whether `holder` (a lock owner line, `TOOL (pid N on HOST, …, id BOOT/PIDNS/PID/START)`)
/// names a rolling-install or rollback process that is gone, as seen from this process.
pub fn dead_local_holder(holder: &str) -> bool {
    let is_ours =
        parse_holder(holder).is_some_and(|(h, _)| matches!(h.tool, "rolling-install" | "rollback"));
    is_ours
        && cdkit::lock::ProcessId::parse(holder)
            .is_some_and(|id| id.liveness() == cdkit::lock::Liveness::Gone)
}

/// The tool and pid of a holder line.
#[derive(Debug, PartialEq, Eq)]
pub struct Holder<'a> {
    pub tool: &'a str,
    pub pid: u32,
}

/// `TOOL (pid N on HOST, …` (cdkit's `describe_self`) → the tool, pid and host.
pub fn parse_holder(line: &str) -> Option<(Holder<'_>, &str)> {
    let (tool, rest) = line.split_once(" (pid ")?;
    let (pid, rest) = rest.split_once(" on ")?;
    let (host, _) = rest.split_once(", ")?;
    let pid = pid.parse().ok()?;
    Some((Holder { tool, pid }, host))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn holder_lines() {
        let line =
            "rolling-install (pid 4242 on ci-7, run r1, since 2026-11-26T10:00:00Z) (run r1)";
        assert_eq!(
            parse_holder(line),
            Some((
                Holder {
                    tool: "rolling-install",
                    pid: 4242
                },
                "ci-7"
            ))
        );
        assert_eq!(parse_holder("another-run"), None);
    }

    /// The holder line a process with `pid` (as seen from here) and `tool` would write, with
    /// its real boot id, pid namespace and start time read from /proc.
    fn holder_of(tool: &str, pid: u32, host: &str) -> String {
        let mine = cdkit::lock::ProcessId::current().unwrap();
        let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap();
        let start = stat
            .rsplit_once(')')
            .unwrap()
            .1
            .split_whitespace()
            .nth(19)
            .unwrap();
        format!(
            "{tool} (pid {pid} on {host}, run r, since t, id {}/{}/{pid}/{start}) (run r)",
            mine.boot, mine.pid_ns
        )
    }

    /// Wait until /proc shows `pid` under the name `comm` (a spawned child is renamed a moment
    /// after spawn returns).
    fn wait_comm(pid: u32, comm: &str) {
        let path = format!("/proc/{pid}/comm");
        let started = std::time::Instant::now();
        while std::fs::read_to_string(&path).unwrap_or_default().trim() != comm
            && started.elapsed() < std::time::Duration::from_secs(5)
        {
            std::thread::sleep(std::time::Duration::from_millis(10));
        }
    }

    #[test]
    fn only_dead_holders_this_process_can_see_are_taken_over() {
        let me = cdkit::lock::describe_self("rollback");
        let (_, host) = parse_holder(&me).unwrap();
        // A live process called `rollback` (a copy of sleep) holds a lock: not taken over.
        let dir = tempfile::tempdir().unwrap();
        let program = dir.path().join("rollback");
        std::fs::copy("/bin/sleep", &program).unwrap();
        let mut child = std::process::Command::new(&program)
            .arg("30")
            .spawn()
            .unwrap();
        wait_comm(child.id(), "rollback");
        let live = holder_of("rollback", child.id(), host);
        let judged_alive = !dead_local_holder(&live);
        child.kill().unwrap();
        child.wait().unwrap();
        assert!(judged_alive, "{live}");
        assert!(dead_local_holder(&live), "gone once killed: {live}");
        assert!(
            !dead_local_holder(&live.replacen("rollback", "db-migrate", 1)),
            "only the tools that take this lock"
        );
        // Without an identity (an older holder, or a hand-made owner file): not judged.
        assert!(!dead_local_holder(&format!(
            "rolling-install (pid 0 on {host}, run r, since t) (run r)"
        )));
        assert!(!dead_local_holder("someone (no owner file yet)"));
    }

    #[test]
    fn a_live_holder_in_a_neighbour_container_with_the_same_host_name_is_left_alone() {
        // A neighbour "container": its own pid namespace, same kernel, same host name, where
        // a rollback runs as pid 1. From here no process 1 named rollback (with its start
        // time) exists, yet it is alive.
        let dir = tempfile::tempdir().unwrap();
        let program = dir.path().join("rollback");
        std::fs::copy("/bin/sleep", &program).unwrap();
        let mut child = std::process::Command::new("unshare")
            .args(["--pid", "--fork", "--kill-child"])
            .arg(&program)
            .arg("30")
            .spawn()
            .expect("unshare (util-linux)");
        // The process inside: unshare's child, renamed rollback once it runs.
        let started = std::time::Instant::now();
        let inner = loop {
            let children =
                std::fs::read_to_string(format!("/proc/{0}/task/{0}/children", child.id()))
                    .unwrap_or_default();
            if let Some(pid) = children.split_whitespace().next() {
                break pid.parse::<u32>().unwrap();
            }
            assert!(started.elapsed() < std::time::Duration::from_secs(5));
            std::thread::sleep(std::time::Duration::from_millis(10));
        };
        wait_comm(inner, "rollback");
        use std::os::unix::fs::MetadataExt;
        let their_ns = std::fs::metadata(format!("/proc/{inner}/ns/pid"))
            .unwrap()
            .ino();
        let mine = cdkit::lock::ProcessId::current().unwrap();
        let me = cdkit::lock::describe_self("rollback");
        let (_, host) = parse_holder(&me).unwrap();
        // What it wrote into the lock: pid 1 in its namespace, same host name as ours.
        let theirs = holder_of("rollback", inner, host)
            .replace(
                &format!("/{}/{inner}/", mine.pid_ns),
                &format!("/{their_ns}/1/"),
            )
            .replace(&format!("pid {inner} on"), "pid 1 on");
        let judged_dead = dead_local_holder(&theirs);
        let _ = child.kill();
        let _ = child.wait();
        assert_ne!(their_ns, mine.pid_ns, "unshare made no new pid namespace");
        assert!(
            !judged_dead,
            "a live neighbour's lock was judged dead: {theirs}"
        );
    }
}
