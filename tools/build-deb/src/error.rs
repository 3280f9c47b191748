//! build-deb's errors and the exit code each stands for: problems with the input (source
//! tree, manifest, control files, build dependencies, a build writing outside its staging
//! directory) are 2; a package that was built but fails its checks is reported as failed
//! testcases and exit 1, not as an error.

use std::path::PathBuf;

use cdkit::exit::{Exit, ExitCoded};

/// Everything that stops build-deb from producing a package.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// Bad input (arguments, source tree): exit 2.
    #[error("{0}")]
    Usage(String),
    /// A file could not be read.
    #[error("cannot read {path}: {source}")]
    Read {
        /// The file.
        path: PathBuf,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// cdkit-deb.toml is wrong: the file and what is wrong with it.
    #[error("{path}: {message}")]
    Manifest {
        /// The manifest.
        path: PathBuf,
        /// What is wrong.
        message: String,
    },
    /// debian/control (or another file under debian/) is wrong: the file and the problem.
    #[error("{path}: {message}")]
    Control {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        message: String,
    },
    /// Build-Depends not installed: as written, and as an apt-get install line.
    #[error("missing build dependencies: {missing} (install them, e.g. apt-get build-dep ./ or apt-get install {install})")]
    MissingBuildDeps {
        /// The unmet relations, as written.
        missing: String,
        /// The package names to install.
        install: String,
    },
    /// The build command wrote outside {stage}: what it wrote.
    #[error("the build wrote outside the staging directory: {what}; make install must honour DESTDIR={{stage}}")]
    WroteOutsideStage {
        /// The path written.
        what: String,
    },
    /// A build step (dpkg-buildpackage, the build command, dpkg-deb) failed: exit 1.
    #[error("{step} failed ({how}): {detail}")]
    BuildFailed {
        /// The step that failed.
        step: String,
        /// How it ended (exit status, signal).
        how: String,
        /// The end of its output, or the file it was working on.
        detail: String,
    },
    /// A package name or version breaks Debian policy.
    #[error("{0}")]
    Version(#[from] cdkit_deb::policy::PolicyError),
    /// A file operation failed (named with its path).
    #[error(transparent)]
    Io(#[from] cdkit::io_error::IoError),
    /// An output file could not be written atomically.
    #[error(transparent)]
    Write(#[from] cdkit::atomic::AtomicWriteError),
    /// The native .deb writer or reader failed.
    #[error(transparent)]
    Deb(#[from] cdkit_deb::DebError),
    /// A child process could not be run.
    #[error(transparent)]
    Process(#[from] cdkit::process::ProcessError),
    /// The JUnit report could not be written.
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
