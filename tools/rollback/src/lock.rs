//! The deployment lock, shared with rolling-install (the same lock directory per group), so a
//! rollback never runs beside a rollout or another rollback of the same group.
//!
//! One addition: rollback is the tool for picking up after a run that was killed (SIGKILL,
//! a lost Jenkins agent), and such a run leaves its lock behind on purpose. A lock whose holder
//! is a rolling-install or rollback process *of this machine* that no longer exists is taken
//! over (logged, naming the dead holder). A holder on another machine cannot be judged from
//! here: that stays exit 75 with the `rolling-install lock release` command.

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

/// Whether `holder` (a lock owner line, `TOOL (pid N on HOST, run …) …`) names a rolling-install
/// or rollback process on this machine that is gone.
pub fn dead_local_holder(holder: &str) -> bool {
    let me = cdkit::lock::describe_self("x");
    let Some((_, this_host)) = parse_holder(&me) else {
        return false;
    };
    match parse_holder(holder) {
        Some((Holder { tool, pid }, host))
            if host == this_host && matches!(tool, "rolling-install" | "rollback") =>
        {
            !alive(pid, tool)
        }
        _ => false,
    }
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

/// Whether process `pid` runs and is `tool` (so a reused pid of another program counts as gone).
fn alive(pid: u32, tool: &str) -> bool {
    match std::fs::read_to_string(format!("/proc/{pid}/comm")) {
        // The kernel keeps the first 15 bytes of the name.
        Ok(comm) => tool.starts_with(comm.trim()) && !comm.trim().is_empty(),
        Err(_) => false,
    }
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

    #[test]
    fn only_dead_local_holders_are_taken_over() {
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
        // posix_spawn returns once the child's exec replaced its memory, a moment before the
        // kernel renames it: under load /proc/PID/comm can still show this test's name.
        let comm = format!("/proc/{}/comm", child.id());
        let started = std::time::Instant::now();
        while std::fs::read_to_string(&comm).unwrap_or_default().trim() != "rollback"
            && started.elapsed() < std::time::Duration::from_secs(5)
        {
            std::thread::sleep(std::time::Duration::from_millis(10));
        }
        let live = format!("rollback (pid {} on {host}, run r, since t)", child.id());
        let judged_alive = !dead_local_holder(&live);
        child.kill().unwrap();
        child.wait().unwrap();
        assert!(judged_alive, "{live}");
        assert!(dead_local_holder(&live), "gone once killed: {live}");
        // Pid 0 is never a user process.
        assert!(dead_local_holder(&format!(
            "rolling-install (pid 0 on {host}, run r, since t) (run r)"
        )));
        assert!(!dead_local_holder(
            "rolling-install (pid 0 on some-other-agent, run r, since t) (run r)"
        ));
        assert!(!dead_local_holder("someone (no owner file yet)"));
        assert!(
            !dead_local_holder(&format!("db-migrate (pid 0 on {host}, run r, since t)")),
            "only the tools that take this lock"
        );
    }
}
