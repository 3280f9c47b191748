//! Why a .deb could not be written. Every variant names the package path, source file,
//! control field or output at fault, so the tool's one-line error says what to fix.

use std::io;
use std::path::{Path, PathBuf};

/// An error from [`write_deb`](super::write_deb). Input errors are found before anything is
/// written; on any error no file is left at the output path.
#[derive(Debug, thiserror::Error)]
pub enum DebError {
    /// A data entry's path is not an acceptable absolute package path.
    #[error("invalid package path {path:?}: {reason}")]
    InvalidPath {
        /// The path inside the package, as the entry gave it.
        path: String,
        /// What is wrong, in words the user can act on.
        reason: String,
    },

    /// Two entries (or an entry and a conffile list item) name the same path.
    #[error("duplicate package path {path}")]
    DuplicatePath {
        /// The path inside the package, as the entry gave it.
        path: String,
    },

    /// An entry lives below something that is not a directory.
    #[error("package path {path}: its parent {parent} is not a directory")]
    ParentNotDirectory {
        /// The path inside the package, as the entry gave it.
        path: String,
        /// The nearest ancestor entry, which is a file or a symlink.
        parent: String,
    },

    /// A data entry's mode, owner, group or symlink target is unusable.
    #[error("package path {path}: {reason}")]
    InvalidEntry {
        /// The path inside the package, as the entry gave it.
        path: String,
        /// What is wrong, in words the user can act on.
        reason: String,
    },

    /// A source file could not be opened or read, or is not a regular file.
    #[error("cannot read {source_path} (for {path}): {source}")]
    Source {
        /// The path inside the package, as the entry gave it.
        path: String,
        /// The file on this machine the entry's content comes from.
        source_path: PathBuf,
        /// What the system said.
        #[source]
        source: io::Error,
    },

    /// A source file's size changed between opening and reading it to the end.
    #[error(
        "{source_path} (for {path}) changed while being packed: \
         expected {expected} bytes, read {actual}"
    )]
    SourceChanged {
        /// The path inside the package, as the entry gave it.
        path: String,
        /// The file on this machine that changed.
        source_path: PathBuf,
        /// Its size when it was opened (the size already written into the tar header).
        expected: u64,
        /// The bytes actually read; a tar member cannot change size after its header.
        actual: u64,
    },

    /// A control field is missing, duplicated or malformed.
    #[error("control field {field}: {reason}")]
    Control {
        /// The field's name (as given, or the required one that is missing).
        field: String,
        /// What is wrong, in words the user can act on.
        reason: String,
    },

    /// A conffile is not a regular file of the package, or listed twice.
    #[error("conffile {path}: {reason}")]
    Conffile {
        /// The conffile as listed.
        path: String,
        /// What is wrong, in words the user can act on.
        reason: String,
    },

    /// A maintainer script or control member has an unknown name or is listed twice.
    #[error("control member {name:?}: {reason}")]
    Script {
        /// The member's name as given (`postinst`, …).
        name: String,
        /// What is wrong, in words the user can act on.
        reason: String,
    },

    /// Writing the .deb (or its temporary data member next to it) failed.
    #[error("cannot write {path}: {source}")]
    Output {
        /// The .deb being written (or its temporary data member).
        path: PathBuf,
        /// What the system said.
        #[source]
        source: io::Error,
    },
}

impl DebError {
    /// A `map_err` adapter for every write step of one output: `.map_err(output)?` with
    /// `let output = DebError::output(path);`, usable any number of times.
    pub(crate) fn output(path: &Path) -> impl Fn(io::Error) -> DebError + Copy + '_ {
        move |source| DebError::Output {
            path: path.to_path_buf(),
            source,
        }
    }
}
