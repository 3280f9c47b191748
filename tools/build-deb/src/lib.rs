//! build-deb: lintian-clean, reproducible .debs from a source tree with a `debian/` folder
//! (mode A, dpkg-buildpackage in a temporary copy) or with only a Makefile and a
//! `cdkit-deb.toml` manifest (mode B, cdkit's native writer), versioned for CI and checked
//! by dpkg, lintian and a scratch install before anything is handed on.
//!
//! # Brief overview
//!
//! [`run`] builds and checks a source tree described by [`BuildOptions`] and returns an
//! [`Outcome`] (its [`Mode`], one [`PackageInfo`] per .deb, the failed checks and the exit
//! code) or an [`Error`] whose exit code follows the contract. [`cli::Cli`] is the command
//! line that `main.rs` parses. The public modules [`debian_dir`] and [`manifest`] are the
//! readers of outside input (debian/changelog and debian/control, cdkit-deb.toml), public so
//! that the fuzz targets call exactly what the tool calls; everything else is private.

mod checks;
pub mod cli;
pub mod debian_dir;
mod dh;
mod error;
pub mod manifest;
mod manifest_build;
mod options;
mod pipeline;
mod sandbox;
mod scripts;
mod tree;
mod variation;
mod versioning;

use std::path::{Path, PathBuf};

use cdkit::exit::Exit;
use serde::Serialize;

pub use error::Error;
pub use options::{BuildOptions, LintianLevel};
pub use pipeline::run;
pub use versioning::Suffix;

/// Tool name: the report's root and every classname's first part.
pub const TOOL: &str = "build-deb";

/// Which kind of source tree this is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Mode {
    /// `debian/` folder: dpkg-buildpackage.
    Debian,
    /// `cdkit-deb.toml`: the native writer.
    Manifest,
}

/// One produced package, for `--json` and the log.
#[derive(Debug, Clone, Serialize)]
pub struct PackageInfo {
    /// Where the .deb is (in --out once handed over).
    pub path: PathBuf,
    /// Its Package field.
    pub package: String,
    /// Its Version field.
    pub version: String,
    /// Its Architecture field.
    pub architecture: String,
    /// SHA-256 of the file, hex.
    pub sha256: String,
    /// Size of the file in bytes.
    pub size: u64,
}

/// What a run produced and how its checks went.
#[derive(Debug, Clone, Serialize)]
pub struct Outcome {
    /// Which kind of source tree was built.
    pub mode: Mode,
    /// The source package's name.
    pub source: String,
    /// The version built (with --version-suffix applied).
    pub version: String,
    /// One entry per .deb, in build order.
    pub packages: Vec<PackageInfo>,
    /// .buildinfo and .changes files (mode A).
    pub extras: Vec<PathBuf>,
    /// The JUnit names of the checks that failed (empty on success).
    pub failed_checks: Vec<String>,
    /// The exit code the run ends with.
    #[serde(skip)]
    pub exit: Exit,
}

/// Which mode `source` needs.
pub fn detect_mode(source: &Path) -> Result<Mode, Error> {
    if !source.is_dir() {
        return Err(Error::Usage(format!(
            "{} is not a directory",
            source.display()
        )));
    }
    if source.join("debian").is_dir() {
        Ok(Mode::Debian)
    } else if source.join(manifest::FILE_NAME).is_file() {
        Ok(Mode::Manifest)
    } else {
        Err(Error::Usage(format!(
            "{}: neither a debian/ folder nor a {} manifest",
            source.display(),
            manifest::FILE_NAME
        )))
    }
}
