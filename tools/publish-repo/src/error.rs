//! publish-repo's errors and the exit code each stands for.

use std::path::PathBuf;

use cdkit::exit::{Exit, ExitCoded};

/// Everything that stops a publish before the repository changes.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// Bad invocation, configuration or input file: nothing was changed.
    #[error("{0}")]
    Usage(String),
    #[error(transparent)]
    Deb(#[from] cdkit::deb::ReadError),
    #[error(transparent)]
    Lock(#[from] cdkit::lock::LockError),
    #[error(transparent)]
    Io(#[from] cdkit::io_error::IoError),
    #[error(transparent)]
    Write(#[from] cdkit::atomic::AtomicWriteError),
    #[error("signing failed: {0}")]
    Sign(String),
    #[error("{path} is corrupt: {reason}; restore it from a backup or re-run `publish-repo init`")]
    State { path: PathBuf, reason: String },
    #[error(transparent)]
    Report(#[from] cdkit::junit::JunitError),
    #[error(transparent)]
    Process(#[from] cdkit::process::ProcessError),
}

impl ExitCoded for Error {
    fn exit(&self) -> Exit {
        match self {
            Error::Lock(e) => e.exit(),
            _ => Exit::Usage,
        }
    }
}

/// Shorthand for I/O errors that name their path (`map_err(io("read", &path))?`).
pub fn io(action: &'static str, path: impl Into<PathBuf>) -> impl FnOnce(std::io::Error) -> Error {
    let make = cdkit::io_error::io(action, path);
    move |source| Error::Io(make(source))
}
