//! rollback: returns a release's hosts (rolling, through rolling-install's drain/health/ready
//! executor), its APT suite (through publish-repo) and its database (through db-migrate's down
//! path) to the previous known-good version, from a rolling-install record or an explicit
//! target. Safe to interrupt and re-run: whatever is already back is left alone.
//!
//! # Brief overview
//!
//! - [`cli::Cli`] is the command line. It flattens rolling-install's flag groups
//!   ([`rolling_install::args`]) under rollback's own environment variables ([`cli::ENV`]).
//! - [`run()`] is one rollback, start to end: decide everything first, take the group's
//!   deployment lock (taking over one a killed run left, see
//!   [`rolling_install::DeploymentLock::acquire_or_take_over`]), re-point the suite, return
//!   the hosts with [`rolling_install::Rollout`], then the database, and report.
//! - [`plan`] turns a record into a [`plan::Decision`] per host (return, keep the new version,
//!   leave alone) and the order they go back in.
//! - [`Error`] is what stops a rollback before anything changed, with its exit code.

pub mod cli;
mod database;
mod error;
pub mod plan;
mod repo;
mod run;

pub use error::Error;
pub use run::run;

/// Tool name: the report's root and every classname's first part.
pub const TOOL: &str = "rollback";
