//! `flock(2)` locks that say who holds them. The kernel releases the lock when the holder dies,
//! so a killed run never leaves a stale lock; the holder's description is written into the lock
//! file so that a refused run can name it (exit 75).

use std::fs::{File, OpenOptions, TryLockError};
use std::io::{self, Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use crate::exit::{Exit, ExitCoded};

/// Why a lock could not be taken.
#[derive(Debug, thiserror::Error)]
pub enum LockError {
    /// Another run holds it; retrying later is safe.
    #[error("{path} is locked by {holder}; retry when it has finished")]
    Held {
        /// The lock file, so the operator knows which deployment is busy.
        path: PathBuf,
        /// What the holder wrote into the lock file (who, which run, where).
        holder: String,
    },
    /// SIGINT or SIGTERM came while waiting: nothing was done, the run ends at once with
    /// 130/143 (and its report) instead of waiting out the timeout, after which a CI abort
    /// would have killed it with no report at all.
    #[error("interrupted by signal {signal} while waiting for {path}; nothing was changed")]
    Interrupted {
        /// The lock that was being waited for.
        path: PathBuf,
        /// The signal number, which decides the exit code (128 + signal).
        signal: i32,
    },
    /// The lock file cannot be opened or locked (a missing directory, permissions, a link):
    /// a set-up problem, not a busy deployment, so it exits as a usage error.
    #[error("cannot open lock file {path}: {source}")]
    Io {
        /// The lock file.
        path: PathBuf,
        /// What the system said.
        #[source]
        source: io::Error,
    },
}

impl ExitCoded for LockError {
    fn exit(&self) -> Exit {
        match self {
            LockError::Held { .. } => Exit::TempFail,
            LockError::Interrupted { signal, .. } => Exit::for_signal(*signal),
            LockError::Io { .. } => Exit::Usage,
        }
    }
}

/// A held lock; dropping it (or the process dying) releases it.
#[derive(Debug)]
pub struct Lock {
    file: File,
    path: PathBuf,
}

impl Lock {
    /// Take the lock at `path` without waiting; `holder` describes this run for others to see
    /// (e.g. `rolling-install run 42 (pid 123 on jenkins-7)`).
    pub fn try_acquire(path: &Path, holder: &str) -> Result<Lock, LockError> {
        Self::acquire(path, holder, Duration::ZERO)
    }

    /// Take the lock, polling for up to `wait` while another run holds it.
    pub fn acquire(path: &Path, holder: &str, wait: Duration) -> Result<Lock, LockError> {
        let io_err = |source| LockError::Io {
            path: path.to_path_buf(),
            source,
        };
        // Never through a symbolic link or into another user's file: the holder's description
        // is written into it and it is emptied on release (see crate::own_file).
        let mut file = crate::own_file::open(
            path,
            OpenOptions::new()
                .read(true)
                .write(true)
                .create(true)
                .truncate(false),
        )
        .map_err(io_err)?;
        let deadline = Instant::now() + wait;
        loop {
            match file.try_lock() {
                Ok(()) => break,
                Err(TryLockError::WouldBlock) if Instant::now() < deadline => {
                    if let Some(signal) = crate::signals::received() {
                        return Err(LockError::Interrupted {
                            path: path.to_path_buf(),
                            signal,
                        });
                    }
                    std::thread::sleep(Duration::from_millis(50));
                }
                Err(TryLockError::WouldBlock) => {
                    return Err(LockError::Held {
                        path: path.to_path_buf(),
                        holder: read_holder(&mut file),
                    })
                }
                Err(TryLockError::Error(e)) => return Err(io_err(e)),
            }
        }
        record_holder(&mut file, holder).map_err(io_err)?;
        Ok(Lock {
            file,
            path: path.to_path_buf(),
        })
    }

    /// Where the lock lives.
    pub fn path(&self) -> &Path {
        &self.path
    }
}

impl Drop for Lock {
    fn drop(&mut self) {
        // Clear the description first so nobody reads a stale holder, then unlock; closing the
        // file would unlock anyway.
        let _ = self.file.set_len(0);
        let _ = self.file.unlock();
    }
}

/// A description of this process for the lock file: tool, pid and host for people, and its
/// [`ProcessId`] for tools that must tell whether the holder still runs.
pub fn describe_self(tool: &str) -> String {
    Holder::current(tool).to_string()
}

/// Who holds a lock, as written into it:
/// `TOOL (pid N on HOST, run RUN, since TIME, id BOOT/PIDNS/PID/START)`, optionally followed
/// by a note (the deployment lock appends ` (run RUN)`). One type writes and reads the line,
/// so a tool judging another's lock never splits strings of its own.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Holder {
    /// The tool's name (`rolling-install`).
    pub tool: String,
    /// Its pid, as seen in its own pid namespace.
    pub pid: u32,
    /// The host name it runs on (for people: containers often share one).
    pub host: String,
    /// Its run id.
    pub run: String,
    /// When it took the lock (UTC, RFC 3339).
    pub since: String,
    /// Its identity, absent in lines written before it was recorded.
    pub id: Option<ProcessId>,
    /// Text after the description, kept so that the line reads back as written.
    pub note: Option<String>,
}

impl Holder {
    /// This process, running as `tool`.
    pub fn current(tool: &str) -> Holder {
        let host = nix::unistd::gethostname()
            .ok()
            .and_then(|h| h.into_string().ok())
            .unwrap_or_else(|| "unknown host".into());
        Holder {
            tool: tool.to_string(),
            pid: std::process::id(),
            host,
            run: crate::run_id::get().to_string(),
            since: chrono::Utc::now().format("%Y-%m-%dT%H:%M:%SZ").to_string(),
            id: ProcessId::current(),
            note: None,
        }
    }

    /// The same holder with `note` after its description.
    pub fn with_note(mut self, note: impl Into<String>) -> Holder {
        self.note = Some(note.into());
        self
    }
}

impl std::fmt::Display for Holder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} (pid {} on {}, run {}, since {}",
            self.tool, self.pid, self.host, self.run, self.since
        )?;
        if let Some(id) = &self.id {
            write!(f, ", {id}")?;
        }
        f.write_str(")")?;
        if let Some(note) = &self.note {
            write!(f, " {note}")?;
        }
        Ok(())
    }
}

/// A line that is not a holder description (a hand-made owner file, `unknown`).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("not a lock holder description: {0:?}")]
pub struct NotAHolder(String);

impl std::str::FromStr for Holder {
    type Err = NotAHolder;

    fn from_str(line: &str) -> Result<Holder, NotAHolder> {
        let bad = || NotAHolder(crate::text::one_line(line));
        let (tool, rest) = line.split_once(" (pid ").ok_or_else(bad)?;
        let (pid, rest) = rest.split_once(" on ").ok_or_else(bad)?;
        let (host, rest) = rest.split_once(", run ").ok_or_else(bad)?;
        let (run, rest) = rest.split_once(", since ").ok_or_else(bad)?;
        let (fields, after) = rest.split_once(')').ok_or_else(bad)?;
        let (since, id) = match fields.split_once(", ") {
            Some((since, id)) => (since, Some(id)),
            None => (fields, None),
        };
        let id = match id {
            Some(id) => Some(ProcessId::parse(&format!(", {id}")).ok_or_else(bad)?),
            None => None,
        };
        let note = match after {
            "" => None,
            _ => Some(after.strip_prefix(' ').ok_or_else(bad)?.to_string()),
        };
        if tool.is_empty() || host.is_empty() {
            return Err(bad());
        }
        Ok(Holder {
            tool: tool.to_string(),
            pid: pid.parse().map_err(|_| bad())?,
            host: host.to_string(),
            run: run.to_string(),
            since: since.to_string(),
            id,
            note,
        })
    }
}

/// A process, told apart from every other one a lock holder could be: the kernel's boot id
/// (`/proc/sys/kernel/random/boot_id`), its pid namespace, its pid there and its start time.
/// A host name is no identity: agents in containers often share one, and each sees only its
/// own processes, so a live holder in a neighbour container would look dead. A pid alone is
/// reused; with its start time it is not.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProcessId {
    /// The kernel's boot id: a pid from another boot says nothing about this one.
    pub boot: String,
    /// The inode of `/proc/self/ns/pid`.
    pub pid_ns: u64,
    /// The pid inside that namespace.
    pub pid: u32,
    /// Clock ticks after boot (`/proc/PID/stat`, field 22).
    pub start: u64,
}

/// Whether a lock holder still runs, as far as this process can see.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Liveness {
    /// Same boot and pid namespace, and a process with that pid and start time exists.
    Running,
    /// Same boot and pid namespace, and no such process (with that start time): it is gone.
    Gone,
    /// Another machine, boot, or pid namespace (a neighbour container): not ours to judge.
    Unknown,
}

impl ProcessId {
    /// This process.
    pub fn current() -> Option<ProcessId> {
        let pid = std::process::id();
        Some(ProcessId {
            boot: boot_id()?,
            pid_ns: own_pid_ns()?,
            pid,
            start: start_time(pid)?,
        })
    }

    /// The identity written after a holder's description, `id BOOT/PIDNS/PID/START`, if the
    /// line has one.
    pub fn parse(line: &str) -> Option<ProcessId> {
        let (_, rest) = line.rsplit_once(", id ")?;
        let field = rest.split(|c: char| c == ')' || c.is_whitespace()).next()?;
        let mut parts = field.split('/');
        let id = ProcessId {
            boot: parts.next()?.to_string(),
            pid_ns: parts.next()?.parse().ok()?,
            pid: parts.next()?.parse().ok()?,
            start: parts.next()?.parse().ok()?,
        };
        (parts.next().is_none() && !id.boot.is_empty()).then_some(id)
    }

    /// Whether this process still runs, seen from here.
    pub fn liveness(&self) -> Liveness {
        if boot_id().as_deref() != Some(self.boot.as_str()) || own_pid_ns() != Some(self.pid_ns) {
            return Liveness::Unknown;
        }
        match start_time(self.pid) {
            Some(start) if start == self.start => Liveness::Running,
            // No such pid, or the pid now belongs to a later process.
            _ => Liveness::Gone,
        }
    }
}

impl std::fmt::Display for ProcessId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "id {}/{}/{}/{}",
            self.boot, self.pid_ns, self.pid, self.start
        )
    }
}

fn boot_id() -> Option<String> {
    let id = std::fs::read_to_string("/proc/sys/kernel/random/boot_id").ok()?;
    let id = id.trim();
    (!id.is_empty() && id.chars().all(|c| c.is_ascii_hexdigit() || c == '-'))
        .then(|| id.to_string())
}

fn own_pid_ns() -> Option<u64> {
    use std::os::unix::fs::MetadataExt;
    std::fs::metadata("/proc/self/ns/pid").ok().map(|m| m.ino())
}

/// Field 22 of `/proc/PID/stat`, counted after the command name (which may hold spaces and
/// parentheses, hence the last `)`).
fn start_time(pid: u32) -> Option<u64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let (_, after) = stat.rsplit_once(')')?;
    // After the name: state (field 3) … starttime (field 22).
    after.split_whitespace().nth(19)?.parse().ok()
}

fn record_holder(file: &mut File, holder: &str) -> io::Result<()> {
    file.set_len(0)?;
    file.seek(SeekFrom::Start(0))?;
    file.write_all(holder.as_bytes())?;
    file.flush()
}

fn read_holder(file: &mut File) -> String {
    let mut text = String::new();
    let _ = file.seek(SeekFrom::Start(0));
    let _ = file.take(4096).read_to_string(&mut text);
    let text = text.trim();
    if text.is_empty() {
        "another process (it has not said who it is yet)".to_string()
    } else {
        text.to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_second_taker_is_refused_with_the_holder_named() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("env-testing.lock");
        let first = Lock::try_acquire(&path, "rolling-install run 41").unwrap();
        let err = Lock::try_acquire(&path, "rolling-install run 42").unwrap_err();
        assert!(matches!(err, LockError::Held { .. }));
        assert_eq!(err.exit(), Exit::TempFail);
        assert!(err.to_string().contains("rolling-install run 41"), "{err}");
        drop(first);
        let second = Lock::try_acquire(&path, "rolling-install run 42").unwrap();
        assert_eq!(second.path(), path);
    }

    #[test]
    fn waiting_acquires_once_the_holder_lets_go() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("repo.lock");
        let first = Lock::try_acquire(&path, "first").unwrap();
        let releaser = std::thread::spawn(move || {
            std::thread::sleep(Duration::from_millis(200));
            drop(first);
        });
        let second = Lock::acquire(&path, "second", Duration::from_secs(5));
        releaser.join().unwrap();
        assert!(second.is_ok());
    }

    #[test]
    fn a_lock_file_planted_as_a_symlink_never_truncates_its_target() {
        let dir = tempfile::tempdir().unwrap();
        let target = dir.path().join("precious");
        std::fs::write(&target, "keep me").unwrap();
        let path = dir.path().join("repo.lock");
        std::os::unix::fs::symlink(&target, &path).unwrap();
        let err = Lock::try_acquire(&path, "me").unwrap_err();
        assert_eq!(err.exit(), Exit::Usage);
        assert!(err.to_string().contains("symbolic link"), "{err}");
        assert_eq!(std::fs::read_to_string(&target).unwrap(), "keep me");
    }

    #[test]
    fn a_process_id_survives_its_description_and_tells_running_from_gone() {
        let me = describe_self("rollback");
        let id = ProcessId::parse(&me).expect("an id in the description");
        assert_eq!(Some(id.clone()), ProcessId::current());
        assert_eq!(id.pid, std::process::id());
        assert_eq!(id.liveness(), Liveness::Running);
        // The same pid started at another time is another process (pid reuse).
        let reused = ProcessId {
            start: id.start + 1,
            ..id.clone()
        };
        assert_eq!(reused.liveness(), Liveness::Gone);
        let other_boot = ProcessId {
            boot: "00000000-0000-0000-0000-000000000000".into(),
            ..id.clone()
        };
        assert_eq!(other_boot.liveness(), Liveness::Unknown);
        assert_eq!(
            ProcessId::parse("rollback (pid 1 on h, run r, since t)"),
            None
        );
        assert_eq!(
            ProcessId::parse(&format!("{me} (run r1)")),
            Some(id),
            "with the run appended, as the deployment lock writes it"
        );
    }

    #[test]
    fn a_holder_line_reads_back_as_written() {
        let me = Holder::current("rolling-install").with_note("(run r1)");
        let line = me.to_string();
        assert_eq!(line.parse::<Holder>(), Ok(me.clone()));
        assert!(line.ends_with(") (run r1)"), "{line}");
        let old = "rolling-install (pid 4242 on ci-7, run r1, since 2026-11-26T10:00:00Z) (run r1)";
        let holder: Holder = old.parse().unwrap();
        assert_eq!(
            (holder.tool.as_str(), holder.pid, holder.host.as_str()),
            ("rolling-install", 4242, "ci-7")
        );
        assert_eq!(holder.id, None);
        assert_eq!(holder.to_string(), old);
        for bad in [
            "another-run",
            "unknown",
            "x (pid 1 on h, run r, since t, id nonsense)",
            "x (pid one on h, run r, since t)",
        ] {
            assert!(bad.parse::<Holder>().is_err(), "{bad}");
        }
    }

    #[test]
    fn a_lock_in_a_missing_directory_is_an_input_error() {
        let err = Lock::try_acquire(Path::new("/nonexistent/dir/x.lock"), "me").unwrap_err();
        assert_eq!(err.exit(), Exit::Usage);
        assert!(err.to_string().contains("/nonexistent/dir/x.lock"));
    }
}
