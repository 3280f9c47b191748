//! What one build-deb run is asked to do (the command line, as a value the library takes).

use std::path::PathBuf;

use cdkit_deb::Compression;

use crate::versioning::Suffix;

/// How strictly lintian judges the package.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum LintianLevel {
    /// Error tags fail the check.
    Error,
    /// Error and warning tags fail the check.
    Warning,
    /// Do not run lintian.
    Off,
}

/// Everything the build needs.
#[derive(Debug, Clone)]
pub struct BuildOptions {
    /// The source tree (with `debian/` or `cdkit-deb.toml`).
    pub source: PathBuf,
    /// Where the .deb, .buildinfo and .changes files go.
    pub out: PathBuf,
    /// How the version is suffixed for CI (`--version-suffix`).
    pub suffix: Suffix,
    /// data.tar's compression and level.
    pub compression: Compression,
    /// Which lintian tags fail the build.
    pub lintian: LintianLevel,
    /// Build a second time and compare the packages byte for byte.
    pub check_reproducible: bool,
    /// Let the manifest take files from outside the source tree (absolute paths, `..`,
    /// symlinks leaving it). Off by default: a package must be built from its commit, not
    /// from the build machine (`/proc/self/environ` would package the build's environment).
    pub allow_outside_tree: bool,
}

/// dpkg-deb's name for a compressor (`DPKG_DEB_COMPRESSOR_TYPE`) and its level.
pub fn dpkg_compressor(compression: &Compression) -> (&'static str, String) {
    match compression {
        Compression::Gzip(level) => ("gzip", level.to_string()),
        Compression::Xz(level) => ("xz", level.to_string()),
        Compression::Zstd(level) => ("zstd", level.to_string()),
        Compression::None => ("none", "0".to_string()),
    }
}
