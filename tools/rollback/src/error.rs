//! rollback's errors before or around the work, and their exit codes.

use cdkit::exit::{Exit, ExitCoded};

/// What stops a rollback from starting (nothing was changed), or breaks its bookkeeping. A
/// report that cannot be written is not among them: it is logged and the run's exit code
/// stands (`run::keep_exit`).
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// Bad input: exit 2.
    #[error("{0}")]
    Usage(String),
    /// Anything the shared rollout code refuses (inventory, lock, host, ssh, journal), with
    /// rolling-install's exit codes: the same failure means the same code in both tools.
    #[error(transparent)]
    Rollout(#[from] rolling_install::Error),
    /// The repository step, before anything else changed.
    #[error("repository: {0}")]
    Repo(#[from] publish_repo::Error),
    /// Reading or reverting the database.
    #[error("database: {0}")]
    Database(#[from] db_migrate::Error),
}

/// The errors of rolling-install's parts arrive through its own [`rolling_install::Error`].
macro_rules! through_rollout {
    ($($t:ty),*) => {$(
        impl From<$t> for Error {
            fn from(e: $t) -> Error {
                Error::Rollout(e.into())
            }
        }
    )*};
}
through_rollout!(
    rolling_install::inventory::InventoryError,
    rolling_install::deploy_lock::LockError,
    rolling_install::host_ops::HostError,
    cdkit::ssh::SshError,
    rolling_install::journal::JournalError
);

impl ExitCoded for Error {
    fn exit(&self) -> Exit {
        match self {
            Error::Usage(_) => Exit::Usage,
            Error::Rollout(e) => e.exit(),
            // publish-repo's own mapping: bad input 2, its lock held 75, a failed publish 1 (the
            // previous generation stays live, so nothing changed).
            Error::Repo(e) => e.exit(),
            // Before anything changed (reading the history): db-migrate's own mapping.
            Error::Database(e) => e.exit(),
        }
    }
}
