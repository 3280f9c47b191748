//! Why a .deb could not be written. Every variant names the package path, source file,
//! control field or output at fault, so the tool's one-line error says what to fix.

use std::io;
use std::path::PathBuf;

/// An error from [`write_deb`](super::write_deb). Input errors are found before anything is
/// written; on any error no file is left at the output path.
#[derive(Debug, thiserror::Error)]
pub enum DebError {
    /// A data entry's path is not an acceptable absolute package path.
    #[error("invalid package path {path:?}: {reason}")]
    InvalidPath { path: String, reason: String },

    /// Two entries (or an entry and a conffile list item) name the same path.
    #[error("duplicate package path {path}")]
    DuplicatePath { path: String },

    /// An entry lives below something that is not a directory.
    #[error("package path {path}: its parent {parent} is not a directory")]
    ParentNotDirectory { path: String, parent: String },

    /// A data entry's mode, owner, group or symlink target is unusable.
    #[error("package path {path}: {reason}")]
    InvalidEntry { path: String, reason: String },

    /// A source file could not be opened or read, or is not a regular file.
    #[error("cannot read {source_path} (for {path}): {source}")]
    Source {
        path: String,
        source_path: PathBuf,
        #[source]
        source: io::Error,
    },

    /// A source file's size changed between opening and reading it to the end.
    #[error(
        "{source_path} (for {path}) changed while being packed: \
         expected {expected} bytes, read {actual}"
    )]
    SourceChanged {
        path: String,
        source_path: PathBuf,
        expected: u64,
        actual: u64,
    },

    /// A control field is missing, duplicated or malformed.
    #[error("control field {field}: {reason}")]
    Control { field: String, reason: String },

    /// A conffile is not a regular file of the package, or listed twice.
    #[error("conffile {path}: {reason}")]
    Conffile { path: String, reason: String },

    /// A maintainer script or control member has an unknown name or is listed twice.
    #[error("control member {name:?}: {reason}")]
    Script { name: String, reason: String },

    /// Writing the .deb (or its temporary data member next to it) failed.
    #[error("cannot write {path}: {source}")]
    Output {
        path: PathBuf,
        #[source]
        source: io::Error,
    },
}
