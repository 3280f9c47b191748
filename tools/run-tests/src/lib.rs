//! run-tests: runs a test command and turns its results (TAP on stdout, JUnit files it writes,
//! or just its exit status) into one JUnit report with the contract's shape, with per-attempt
//! timeouts, retries that mark flaky tests, and the contract's exit codes.
//!
//! # Brief overview
//!
//! A [`SuiteSpec`] says what to run and how to read its results ([`Format`]); [`run_all`]
//! runs each suite's attempts, merges them (a test that passes only on a retry is flaky) and
//! writes the report, returning a [`RunOutcome`] with the exit code, or an [`Error`].
//! [`cli::Cli`] is the command line that `main.rs` parses. The public modules [`config`]
//! (tests.toml), [`tap`] and [`junit_in`] are the readers of outside input, public so that the
//! fuzz targets call exactly what the tool calls; everything else is private.

mod attempt;
pub mod cli;
pub mod config;
mod error;
pub mod junit_in;
mod merge;
mod model;
mod runner;
mod spec;
pub mod tap;

pub use attempt::OUTPUT_LOG_MAX;
pub use error::Error;
pub use model::{CaseResult, Outcome, Rerun, RerunKind};
pub use runner::{output_log_path, run_all, RunOutcome, TOOL};
pub use spec::{Format, SuiteSpec};
