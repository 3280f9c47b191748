//! The deployment lock: one rollout per group at a time, across Jenkins agents, as an atomic
//! `mkdir` on a shared host (the first host of the group, or a lock host) holding the owner
//! (run id, who, when). Another rollout waits up to `--lock-timeout`, then exits 75 naming
//! the holder. `rolling-install lock status|release` inspect and break it.

use std::time::{Duration, Instant};

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
    #[error("the deployment lock of {group} on {host} is held by {owner}; retry later or `rolling-install lock release`")]
    Held {
        group: String,
        host: String,
        owner: String,
    },
    /// SIGINT or SIGTERM came while waiting: nothing was done, so the run ends at once with
    /// 130/143 (and its report) instead of waiting out `--lock-timeout`, after which a CI
    /// abort would have killed it with no report at all.
    #[error("interrupted by signal {signal} while waiting for the deployment lock of {group} on {host}; nothing was changed")]
    Interrupted {
        group: String,
        host: String,
        signal: i32,
    },
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

    /// Release the lock (only if it is still ours).
    pub fn release(self) -> Result<(), HostError> {
        let script = "grep -qxF \"$2\" \"$1/owner\" 2>/dev/null && rm -rf \"$1\" || true";
        self.ops
            .shell_args("unlock", script, &[&self.dir, &self.owner])
            .map(|_| ())
    }
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
