//! rolling-install: installs a package version across a fleet in batches (drain from the load
//! balancer, install, health-check, re-enable), with a journal of every step, and restores
//! every touched host to its recorded version when anything fails.

pub mod args;
pub mod batch;
pub mod cli;
pub mod deploy_lock;
pub mod error;
pub mod haproxy;
pub mod health;
pub mod host_ops;
pub mod inventory;
pub mod journal;
pub mod lb;
pub mod plan;
pub mod rollout;

pub use error::Error;

/// Tool name: the report's root and every classname's first part.
pub const TOOL: &str = "rolling-install";
