//! rollback's errors before or around the work, and their exit codes.

use cdkit::exit::{Exit, ExitCoded};

/// What stops a rollback from starting (nothing was changed), or breaks its bookkeeping. A
/// report that cannot be written is not among them: it is logged and the run's exit code
/// stands (`run::keep_exit`).
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("{0}")]
    Usage(String),
    #[error(transparent)]
    Inventory(#[from] rolling_install::inventory::InventoryError),
    #[error(transparent)]
    Lock(#[from] rolling_install::deploy_lock::LockError),
    #[error(transparent)]
    Host(#[from] rolling_install::host_ops::HostError),
    #[error(transparent)]
    Ssh(#[from] cdkit::ssh::SshError),
    #[error(transparent)]
    Journal(#[from] rolling_install::journal::JournalError),
    #[error("repository: {0}")]
    Repo(#[from] publish_repo::Error),
    #[error("database: {0}")]
    Database(#[from] db_migrate::Error),
}

impl ExitCoded for Error {
    fn exit(&self) -> Exit {
        use rolling_install::deploy_lock::LockError;
        match self {
            // Held lock, or the lock host unreachable before anything changed: retry later.
            Error::Lock(LockError::Held { .. }) => Exit::TempFail,
            Error::Lock(LockError::Interrupted { signal, .. }) => Exit::for_signal(*signal),
            Error::Lock(LockError::Host(e)) | Error::Host(e) if e.is_unreachable() => {
                Exit::TempFail
            }
            Error::Ssh(cdkit::ssh::SshError::Unreachable { .. }) => Exit::TempFail,
            // A host key ssh refused: the host fails (1), retrying will not help.
            Error::Lock(LockError::Host(e)) | Error::Host(e) if e.is_host_key() => Exit::Failed,
            Error::Ssh(
                cdkit::ssh::SshError::HostKeyChanged { .. }
                | cdkit::ssh::SshError::HostKeyUnknown { .. },
            ) => Exit::Failed,
            // publish-repo's own mapping: bad input 2, its lock held 75, a failed publish 1 (the
            // previous generation stays live, so nothing changed).
            Error::Repo(e) => e.exit(),
            // Before anything changed (reading the history): db-migrate's own mapping.
            Error::Database(e) => e.exit(),
            _ => Exit::Usage,
        }
    }
}
