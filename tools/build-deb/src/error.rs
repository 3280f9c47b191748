//! build-deb's errors and the exit code each stands for: problems with the input (source
//! tree, manifest, control files, build dependencies, a build writing outside its staging
//! directory) are 2; a package that was built but fails its checks is reported as failed
//! testcases and exit 1, not as an error.

use std::path::PathBuf;

use cdkit::exit::{Exit, ExitCoded};

/// Everything that stops build-deb from producing a package.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("{0}")]
    Usage(String),
    #[error("cannot read {path}: {source}")]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{path}: {message}")]
    Manifest { path: PathBuf, message: String },
    #[error("{path}: {message}")]
    Control { path: PathBuf, message: String },
    #[error("missing build dependencies: {missing} (install them, e.g. apt-get build-dep ./ or apt-get install {install})")]
    MissingBuildDeps { missing: String, install: String },
    #[error("the build wrote outside the staging directory: {what}; make install must honour DESTDIR={{stage}}")]
    WroteOutsideStage { what: String },
    #[error("{step} failed ({how}): {detail}")]
    BuildFailed {
        step: String,
        how: String,
        detail: String,
    },
    #[error("{0}")]
    Version(#[from] cdkit_deb::policy::PolicyError),
    #[error(transparent)]
    Io(#[from] cdkit::io_error::IoError),
    #[error(transparent)]
    Write(#[from] cdkit::atomic::AtomicWriteError),
    #[error(transparent)]
    Deb(#[from] cdkit_deb::DebError),
    #[error(transparent)]
    Process(#[from] cdkit::process::ProcessError),
    #[error(transparent)]
    Report(#[from] cdkit::junit::JunitError),
}

impl ExitCoded for Error {
    fn exit(&self) -> Exit {
        match self {
            // The package's own build broke: the subject failed, nothing was published.
            Error::BuildFailed { .. } => Exit::Failed,
            _ => Exit::Usage,
        }
    }
}

/// Shorthand for I/O errors that name their path (`map_err(io("read", &path))?`).
pub fn io(action: &'static str, path: impl Into<PathBuf>) -> impl FnOnce(std::io::Error) -> Error {
    let make = cdkit::io_error::io(action, path);
    move |source| Error::Io(make(source))
}

/// For walkdir errors while reading the tree at `root` (the entry's own path if it has one).
pub fn walk(root: &std::path::Path) -> impl FnOnce(walkdir::Error) -> Error + '_ {
    move |e| {
        let path = e
            .path()
            .map(std::path::Path::to_path_buf)
            .unwrap_or_else(|| root.to_path_buf());
        let source = e
            .into_io_error()
            .unwrap_or_else(|| std::io::Error::other("file system loop"));
        Error::Io(cdkit::io_error::IoError {
            action: "read",
            path,
            source,
        })
    }
}
