//! rollback: returns a release's hosts (rolling, through rolling-install's drain/health/ready
//! executor), its APT suite (through publish-repo) and its database (through db-migrate's down
//! path) to the previous known-good version, from a rolling-install record or an explicit
//! target. Safe to interrupt and re-run: whatever is already back is left alone.

pub mod cli;
pub mod database;
pub mod error;
pub mod plan;
pub mod repo;
pub mod run;

pub use error::Error;

/// Tool name: the report's root and every classname's first part.
pub const TOOL: &str = "rollback";
