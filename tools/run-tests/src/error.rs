//! run-tests' errors and the exit code each stands for.

use std::path::PathBuf;

use cdkit::exit::{Exit, ExitCoded};

/// Everything that stops run-tests from producing a verdict.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// Bad invocation or configuration.
    #[error("{0}")]
    Usage(String),
    /// tests.toml could not be read.
    #[error("cannot read {path}: {source}")]
    ReadConfig {
        /// The file.
        path: PathBuf,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// tests.toml is wrong: the file and what is wrong with it.
    #[error("{path}: {message}")]
    BadConfig {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        message: String,
    },
    /// The full output log beside the report could not be written.
    #[error("cannot write the full output log {path}: {source}")]
    OutputLog {
        /// The log file.
        path: PathBuf,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// The JUnit report could not be written.
    #[error(transparent)]
    Report(#[from] cdkit::junit::JunitError),
}

impl ExitCoded for Error {
    fn exit(&self) -> Exit {
        // Every error here is about the invocation or its environment: fix it and re-run.
        Exit::Usage
    }
}
