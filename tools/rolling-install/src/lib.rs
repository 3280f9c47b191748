//! rolling-install: installs a package version across a fleet in batches (drain from the load
//! balancer, install, health-check, re-enable) and restores every touched host on failure.
//!
//! Status: the building blocks exist and are tested (inventories, the batch plan and failure
//! threshold, the HAProxy runtime API client); the rollout itself (executor, journal, lock,
//! command line) is not written yet — see README.md.

pub mod batch;
pub mod haproxy;
pub mod inventory;
