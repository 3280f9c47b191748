//! run-tests: runs a test command and turns its results (TAP on stdout, JUnit files it writes,
//! or just its exit status) into one JUnit report with the contract's shape, with per-attempt
//! timeouts, retries that mark flaky tests, and the contract's exit codes.

pub mod attempt;
pub mod config;
pub mod error;
pub mod junit_in;
pub mod merge;
pub mod model;
pub mod runner;
pub mod spec;
pub mod tap;

pub use error::Error;
pub use runner::{run_all, RunOutcome, TOOL};
pub use spec::{Format, SuiteSpec};
