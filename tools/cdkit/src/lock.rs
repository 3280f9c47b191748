//! `flock(2)` locks that say who holds them. The kernel releases the lock when the holder dies,
//! so a killed run never leaves a stale lock; the holder's description is written into the lock
//! file so that a refused run can name it (exit 75, CONVENTIONS §5).

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
    Held { path: PathBuf, holder: String },
    /// SIGINT or SIGTERM came while waiting: nothing was done, the run ends at once with
    /// 130/143 (and its report) instead of waiting out the timeout, after which a CI abort
    /// would have killed it with no report at all.
    #[error("interrupted by signal {signal} while waiting for {path}; nothing was changed")]
    Interrupted { path: PathBuf, signal: i32 },
    #[error("cannot open lock file {path}: {source}")]
    Io {
        path: PathBuf,
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
        let mut file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(path)
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

/// A description of this process for the lock file: tool, pid and host.
pub fn describe_self(tool: &str) -> String {
    let host = nix::unistd::gethostname()
        .ok()
        .and_then(|h| h.into_string().ok())
        .unwrap_or_else(|| "unknown host".into());
    format!(
        "{tool} (pid {} on {host}, run {}, since {})",
        std::process::id(),
        crate::run_id::get(),
        chrono::Utc::now().format("%Y-%m-%dT%H:%M:%SZ")
    )
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
    fn a_lock_in_a_missing_directory_is_an_input_error() {
        let err = Lock::try_acquire(Path::new("/nonexistent/dir/x.lock"), "me").unwrap_err();
        assert_eq!(err.exit(), Exit::Usage);
        assert!(err.to_string().contains("/nonexistent/dir/x.lock"));
    }
}
