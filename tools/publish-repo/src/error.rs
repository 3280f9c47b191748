//! publish-repo's errors and the exit code each stands for.

use std::path::PathBuf;

use cdkit::exit::{Exit, ExitCoded};

/// Everything that stops a publish. Bad input is found before the repository changes (exit
/// 2); a failure while publishing (gpg, I/O, a full disk) leaves the previous publish live
/// and the repository as it was, so it is the contract's "failed, known-good state" (exit 1).
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// Bad invocation, configuration or input file: nothing was changed.
    #[error("{0}")]
    Usage(String),
    /// A .deb that cannot be read as one.
    #[error(transparent)]
    Deb(#[from] cdkit_deb::ReadError),
    /// The repository lock: held by another publisher past the timeout, or unusable.
    #[error(transparent)]
    Lock(#[from] cdkit::lock::LockError),
    /// A file or directory operation failed (the message names the path).
    #[error(transparent)]
    Io(#[from] cdkit::io_error::IoError),
    /// A file written atomically could not be.
    #[error(transparent)]
    Write(#[from] cdkit::atomic::AtomicWriteError),
    /// gpg refused the key or failed to sign.
    #[error("signing failed: {0}")]
    Sign(String),
    /// A file of publish-repo's own bookkeeping (configuration, suite state, history) cannot
    /// be read back.
    #[error("{path} is corrupt: {reason}; restore it from a backup or re-run `publish-repo init`")]
    State {
        /// The unreadable file.
        path: PathBuf,
        /// What is wrong with it.
        reason: String,
    },
    /// The JUnit report could not be written.
    #[error(transparent)]
    Report(#[from] cdkit::junit::JunitError),
    /// A program (gpg, gpgv) could not be run or timed out.
    #[error(transparent)]
    Process(#[from] cdkit::process::ProcessError),
    /// Several inputs of one batch are bad: each was named on its own line (see
    /// [`Error::bad_inputs`]); this is the closing line.
    #[error("{} of {total} .deb files are bad (each named above); nothing was added", problems.len())]
    BadInputs {
        /// One line per bad input, each naming it.
        problems: Vec<String>,
        /// How many .deb files the batch had.
        total: usize,
    },
    /// A step that cannot fail on any input did (a worker thread panicked): a bug.
    #[error("{0} (a bug in publish-repo; please report it)")]
    Internal(String),
    /// Publishing a suite failed before its new generation went live: the previous publish
    /// is still what clients and the next run see, and what the failed run wrote is gone.
    #[error("{suite} was not published and the repository is unchanged (the previous publish is still live): {source}; fix that and run the same command again")]
    Publish {
        /// The suite that was not published.
        suite: String,
        /// Why.
        #[source]
        source: Box<Error>,
    },
}

impl ExitCoded for Error {
    fn exit(&self) -> Exit {
        match self {
            Error::Usage(_) | Error::Deb(_) | Error::BadInputs { .. } => Exit::Usage,
            Error::Lock(e) => e.exit(),
            Error::Publish { source, .. } => source.exit(),
            Error::Io(_)
            | Error::Write(_)
            | Error::Sign(_)
            | Error::State { .. }
            | Error::Report(_)
            | Error::Process(_)
            | Error::Internal(_) => Exit::Failed,
        }
    }
}

impl Error {
    /// The bad inputs of a batch of `total`, each a line naming the file and its problem. One
    /// is the usual single error line; with more, each gets its own error line now (every
    /// one is named in one run) and the returned error closes the run.
    pub fn bad_inputs(mut problems: Vec<String>, total: usize) -> Error {
        if problems.len() == 1 {
            return Error::Usage(problems.remove(0));
        }
        for problem in &problems {
            cdkit::cli::final_line(crate::TOOL, &format!("error: {problem}"));
        }
        Error::BadInputs { problems, total }
    }

    /// Every problem behind this error, one per line (for a report's detail).
    pub fn details(&self) -> Option<String> {
        match self {
            Error::BadInputs { problems, .. } => Some(problems.join("\n")),
            _ => None,
        }
    }
}

/// Shorthand for I/O errors that name their path (`map_err(io("read", &path))?`).
pub fn io(action: &'static str, path: impl Into<PathBuf>) -> impl FnOnce(std::io::Error) -> Error {
    let make = cdkit::io_error::io(action, path);
    move |source| Error::Io(make(source))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bad_input_is_2_a_failed_publish_1_a_held_lock_75() {
        let io_error = || {
            Error::Io(cdkit::io_error::io("write", "/repo/dists")(
                std::io::Error::other("No space left on device"),
            ))
        };
        assert_eq!(Error::Usage("x".into()).exit(), Exit::Usage);
        assert_eq!(io_error().exit(), Exit::Failed);
        assert_eq!(Error::Sign("gpg".into()).exit(), Exit::Failed);
        let failed = Error::Publish {
            suite: "testing".into(),
            source: Box::new(io_error()),
        };
        assert_eq!(failed.exit(), Exit::Failed);
        assert!(failed.to_string().contains("run the same command again"));
        let held = Error::Lock(cdkit::lock::LockError::Held {
            path: "/repo/.publish-repo/lock".into(),
            holder: "someone".into(),
        });
        assert_eq!(held.exit(), Exit::TempFail);
    }
}
