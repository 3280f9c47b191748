//! rolling-install: installs a package version across a fleet in batches (drain from the load
//! balancer, install, health-check, re-enable), with a journal of every step, and restores
//! every touched host to its recorded version when anything fails.
//!
//! # Brief overview
//!
//! - [`Rollout`] is the executor: given [`Options`], the hosts and their ssh sessions and the
//!   [`Balancer`]s, [`Rollout::run`] works through the batches and returns a [`Report`]
//!   (exit, testcases, the closing line). rollback drives the same executor backwards with a
//!   [`RollbackPlan`].
//! - [`args`] holds the flag groups both tools flatten ([`args::SshArgs`],
//!   [`args::FleetArgs`], [`args::LbArgs`], [`args::GateArgs`], [`args::LockArgs`]); each
//!   builds its part: the ssh client, the balancers, the health [`Gate`], and through
//!   [`args::Job`] the [`Options`].
//! - [`Inventory`] reads Ansible inventories (Ansible's own reader or a native one) into
//!   [`Host`]s; [`Plan`] shows what it resolves to without connecting.
//! - [`Journal`] is the record of a run (`--record`), rewritten after every step: what
//!   `rollback --record` returns hosts from.
//! - [`page`] renders the deployment page (one self-contained HTML file) from a journal and
//!   the central log: live while a run goes on (`--report`), or afterwards (`page`).
//! - [`DeploymentLock`] keeps one rollout (or rollback) per group at a time; its owner line is
//!   a [`cdkit::lock::Holder`].
//! - [`service`] reads the service's own side of a host's turn (its units' journal and log
//!   files into the central log, their state for a failing host's diagnosis).
//! - [`status`] is `rolling-install status`: every host's version, dpkg state, units,
//!   balancer states and health, and the group's lock, read without changing anything.
//! - [`cli`] is the command line; `main.rs` only parses and hands over to [`cli::run`].
//!
//! The modules other crates and the tests reach into stay public; the rest are private and
//! their types are exported here.

pub mod args;
mod batch;
pub mod cli;
pub mod deploy_lock;
mod error;
pub mod haproxy;
pub mod health;
pub mod host_ops;
pub mod inventory;
pub mod journal;
pub mod lb;
pub mod page;
mod plan;
mod rollout;
pub mod service;
pub mod status;

pub use batch::{BatchSpec, MaxFail, Size};
pub use deploy_lock::DeploymentLock;
pub use error::Error;
pub use health::{Check, Gate};
pub use host_ops::{HostOps, Source};
pub use inventory::{Host, Inventory, Reader};
pub use journal::{Journal, LockHost};
pub use lb::{Balancer, DrainPolicy};
pub use plan::{Plan, PlannedHost};
pub use rollout::{new_journal, OnFailure, Options, Report, RollbackPlan, Rollout};

/// Tool name: the report's root and every classname's first part.
pub const TOOL: &str = "rolling-install";
