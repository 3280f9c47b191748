//! rolling-install's errors before or around a rollout, and their exit codes.

use cdkit::exit::{Exit, ExitCoded};

/// What stops a rollout from starting (nothing was changed), or breaks its bookkeeping.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// Bad input (exit 2), said in one line.
    #[error("{0}")]
    Usage(String),
    /// The inventory could not be read or used.
    #[error(transparent)]
    Inventory(#[from] crate::inventory::InventoryError),
    /// The deployment lock was not taken.
    #[error(transparent)]
    Lock(#[from] crate::deploy_lock::LockError),
    /// A step on a host failed before the rollout began.
    #[error(transparent)]
    Host(#[from] crate::host_ops::HostError),
    /// ssh refused or could not reach a host.
    #[error(transparent)]
    Ssh(#[from] cdkit::ssh::SshError),
    /// The journal could not be read or written.
    #[error(transparent)]
    Journal(#[from] crate::journal::JournalError),
    /// The JUnit report could not be written.
    #[error(transparent)]
    Report(#[from] cdkit::junit::JunitError),
    /// The deployment page could not be made (a log unreadable or not JSON lines, the page
    /// not writable).
    #[error(transparent)]
    Page(#[from] crate::page::PageError),
}

impl ExitCoded for Error {
    fn exit(&self) -> Exit {
        match self {
            // Held lock, or the lock host unreachable before anything changed: retry later.
            Error::Lock(crate::deploy_lock::LockError::Held { .. }) => Exit::TempFail,
            Error::Lock(crate::deploy_lock::LockError::Interrupted { signal, .. }) => {
                Exit::for_signal(*signal)
            }
            Error::Lock(crate::deploy_lock::LockError::Host(e)) | Error::Host(e)
                if e.is_unreachable() =>
            {
                Exit::TempFail
            }
            Error::Ssh(cdkit::ssh::SshError::Unreachable { .. }) => Exit::TempFail,
            // A host key ssh refused: the host fails (1), retrying will not help.
            Error::Lock(crate::deploy_lock::LockError::Host(e)) | Error::Host(e)
                if e.is_host_key() =>
            {
                Exit::Failed
            }
            Error::Ssh(
                cdkit::ssh::SshError::HostKeyChanged { .. }
                | cdkit::ssh::SshError::HostKeyUnknown { .. },
            ) => Exit::Failed,
            _ => Exit::Usage,
        }
    }
}
