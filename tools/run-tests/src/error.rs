//! run-tests' errors and the exit code each stands for.

use std::path::PathBuf;

use cdkit::exit::{Exit, ExitCoded};

/// Everything that stops run-tests from producing a verdict.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// Bad invocation or configuration.
    #[error("{0}")]
    Usage(String),
    #[error("cannot read {path}: {source}")]
    ReadConfig {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{path}: {message}")]
    BadConfig { path: PathBuf, message: String },
    #[error("cannot write the full output log {path}: {source}")]
    OutputLog {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error(transparent)]
    Report(#[from] cdkit::junit::JunitError),
}

impl ExitCoded for Error {
    fn exit(&self) -> Exit {
        // Every error here is about the invocation or its environment: fix it and re-run.
        Exit::Usage
    }
}
