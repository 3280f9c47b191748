//! The deployment lock: one rollout per group at a time, across Jenkins agents, as an atomic
//! `mkdir` on a shared host (the first host of the group, or a lock host) holding the owner
//! (run id, who, when). Another rollout waits up to `--lock-timeout`, then exits 75 naming
//! the holder. `rolling-install lock status|release` inspect and break it.
//!
//! The owner line is a [`cdkit::lock::Holder`] (with the run appended). rollback, the tool for
//! picking up after a run that was killed (SIGKILL, a lost Jenkins agent), takes the lock with
//! [`DeploymentLock::acquire_or_take_over`]: a lock left behind by a rolling-install or
//! rollback process that this process can see is gone is taken over (logged, naming the dead
//! holder). "Can see" means the same kernel boot and the same pid namespace
//! ([`cdkit::lock::ProcessId`]), not the same host name: agents in containers often share a
//! host name while each sees only its own processes. A holder anywhere else cannot be judged
//! from here: that stays exit 75 with the `rolling-install lock release` command.

use std::time::{Duration, Instant};

use cdkit::lock::{Holder, Liveness};
use cdkit::ssh::Session;

use crate::host_ops::{HostError, HostOps};

/// Where lock directories live on the lock host.
pub const LOCK_ROOT: &str = "/var/lib/cdkit/locks";

/// The lock directory for `group` (a group name or a host pattern).
pub fn lock_dir(group: &str) -> String {
    format!("{LOCK_ROOT}/rolling-install.{}", lock_name(group))
}

/// The lock's name for a group or host pattern: a plain group name (letters, digits, `_`,
/// `-`) as it is, so existing locks keep their place; any other pattern (`web:&prod`) as
/// `pattern-` and 16 hex digits of its SHA-256, so that no pattern can name a path.
pub fn lock_name(group: &str) -> String {
    match crate::inventory::check_group_name(group) {
        Ok(()) => group.to_string(),
        Err(_) => format!(
            "pattern-{}",
            &cdkit::hash::sha256_hex(group.as_bytes())[..16]
        ),
    }
}

/// Why the lock was not taken.
#[derive(Debug, thiserror::Error)]
pub enum LockError {
    /// Another run holds it (exit 75).
    #[error("the deployment lock of {group} on {host} is held by {owner}; retry later or `rolling-install lock release`")]
    Held {
        /// The group or pattern.
        group: String,
        /// The lock host.
        host: String,
        /// The holder's owner line.
        owner: String,
    },
    /// SIGINT or SIGTERM came while waiting: nothing was done, so the run ends at once with
    /// 130/143 (and its report) instead of waiting out `--lock-timeout`, after which a CI
    /// abort would have killed it with no report at all.
    #[error("interrupted by signal {signal} while waiting for the deployment lock of {group} on {host}; nothing was changed")]
    Interrupted {
        /// The group or pattern.
        group: String,
        /// The lock host.
        host: String,
        /// The signal received.
        signal: i32,
    },
    /// The lock host could not be asked.
    #[error(transparent)]
    Host(#[from] HostError),
}

/// A held deployment lock; released explicitly (a killed run leaves it, by design: the next
/// run must see that someone was mid-rollout; `lock release` clears it).
pub struct DeploymentLock<'a> {
    ops: HostOps<'a>,
    dir: String,
    owner: String,
}

impl<'a> DeploymentLock<'a> {
    /// Take the lock for `group` on `session`'s host, waiting up to `wait`.
    pub fn acquire(
        session: &'a Session,
        sudo: bool,
        group: &str,
        owner: &str,
        wait: Duration,
    ) -> Result<DeploymentLock<'a>, LockError> {
        let ops = HostOps::new(session, sudo, Duration::from_secs(30));
        let dir = lock_dir(group);
        let deadline = Instant::now() + wait;
        let script =
            "mkdir -p \"$1\" && mkdir \"$2\" 2>/dev/null && printf '%s\\n' \"$3\" > \"$2/owner\"";
        loop {
            match ops.shell_args("lock", script, &[LOCK_ROOT, &dir, owner]) {
                Ok(_) => {
                    return Ok(DeploymentLock {
                        ops,
                        dir,
                        owner: owner.to_string(),
                    })
                }
                Err(e) if e.is_unreachable() || e.is_host_key() => return Err(e.into()),
                Err(_) if Instant::now() < deadline => {
                    if let Some(signal) = cdkit::signals::received() {
                        return Err(LockError::Interrupted {
                            group: group.to_string(),
                            host: session.target.name.clone(),
                            signal,
                        });
                    }
                    std::thread::sleep(Duration::from_millis(500))
                }
                Err(_) => {
                    let holder = status(&ops, group)?
                        .unwrap_or_else(|| "someone (no owner file yet)".into());
                    return Err(LockError::Held {
                        group: group.to_string(),
                        host: session.target.name.clone(),
                        owner: holder,
                    });
                }
            }
        }
    }

    /// Take the lock like [`DeploymentLock::acquire`], first taking over a lock whose holder
    /// is a dead local rolling-install or rollback process (also if it dies while we wait).
    pub fn acquire_or_take_over(
        session: &'a Session,
        sudo: bool,
        group: &str,
        owner: &str,
        wait: Duration,
    ) -> Result<DeploymentLock<'a>, LockError> {
        let ops = HostOps::new(session, sudo, Duration::from_secs(30));
        if let Some(holder) = status(&ops, group)? {
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

    /// Release the lock (only if it is still ours).
    pub fn release(self) -> Result<(), HostError> {
        let script = "grep -qxF \"$2\" \"$1/owner\" 2>/dev/null && rm -rf \"$1\" || true";
        self.ops
            .shell_args("unlock", script, &[&self.dir, &self.owner])
            .map(|_| ())
    }
}

/// The owner line of this process's deployment lock: its [`Holder`] with the run appended.
pub fn owner_line(tool: &str) -> String {
    let run = cdkit::run_id::get();
    Holder::current(tool)
        .with_note(format!("(run {run})"))
        .to_string()
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
        &[LOCK_ROOT, &lock_dir(group), holder],
    )?;
    Ok(())
}

/// Whether the owner line `holder` names a rolling-install or rollback process that is gone,
/// as seen from this process. A line that is no [`Holder`], or one without an identity (an
/// older holder, a hand-made owner file), is never judged dead.
pub fn dead_local_holder(holder: &str) -> bool {
    holder.parse::<Holder>().is_ok_and(|h| {
        matches!(h.tool.as_str(), "rolling-install" | "rollback")
            && h.id.is_some_and(|id| id.liveness() == Liveness::Gone)
    })
}

/// The end of a dry run (rolling-install's and rollback's): print the state of `group`'s lock
/// on `session`'s host, then, if `unreachable` hosts (counting the lock host, if it cannot be
/// asked) could not be checked, say so as the run's last line and return 75: a plan that
/// could not be checked is no green light for the real run (`what`: "a rollout").
pub fn finish_dry_run(
    tool: &str,
    session: &Session,
    sudo: bool,
    group: &str,
    mut unreachable: usize,
    what: &str,
) -> cdkit::exit::Exit {
    let ops = HostOps::new(session, sudo, Duration::from_secs(30));
    let host = &session.target.name;
    match status(&ops, group) {
        Ok(Some(owner)) => cdkit::outln!("lock on {host}: held by {owner}"),
        Ok(None) => cdkit::outln!("lock on {host}: free"),
        Err(e) => {
            unreachable += 1;
            cdkit::outln!("lock on {host}: unknown ({e})")
        }
    }
    if unreachable > 0 {
        cdkit::cli::final_line(
            tool,
            &format!("dry run: {unreachable} host(s) could not be checked; {what} now would fail"),
        );
        return cdkit::exit::Exit::TempFail;
    }
    cdkit::exit::Exit::Success
}

/// The owner of `group`'s lock, if held.
pub fn status(ops: &HostOps, group: &str) -> Result<Option<String>, HostError> {
    let dir = lock_dir(group);
    let out = ops.shell_args(
        "lock status",
        "if [ -d \"$1\" ]; then cat \"$1/owner\" 2>/dev/null || echo unknown; fi",
        &[&dir],
    )?;
    let owner = out.trim();
    Ok((!owner.is_empty()).then(|| owner.to_string()))
}

/// Remove `group`'s lock whoever holds it (`lock release`).
pub fn force_release(ops: &HostOps, group: &str) -> Result<(), HostError> {
    ops.shell_args("lock release", "rm -rf \"$1\"", &[&lock_dir(group)])
        .map(|_| ())
}

#[cfg(test)]
mod tests {
    use super::*;

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
        let me: Holder = cdkit::lock::describe_self("rollback").parse().unwrap();
        let host = &me.host;
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
        let me: Holder = cdkit::lock::describe_self("rollback").parse().unwrap();
        let host = &me.host;
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
