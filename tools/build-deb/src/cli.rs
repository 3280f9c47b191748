//! build-deb's command line (in the library, so tests and `main.rs` share one definition):
//! the flags, and turning them into [`BuildOptions`] and the printed result.

use std::path::PathBuf;

use clap::Parser;

use crate::{BuildOptions, LintianLevel, TOOL};
use cdkit::cli::CommonArgs;
use cdkit::exit::Exit;
use cdkit_deb::Compression;

const EXAMPLES: &str = "\
Examples:
  build-deb --out dist/ --junit reports/build-deb.xml .
  build-deb --version-suffix auto --compression xz:6 --check-reproducible --out dist/ src/
  build-deb --out dist/ . | publish-repo add --repo /srv/apt --suite testing

Mode A (a debian/ folder): dpkg-buildpackage -us -uc -b in a temporary copy.
Mode B (cdkit-deb.toml, no debian/): the build command installs into {stage}; see docs/build-deb.md.
The .deb paths are printed on stdout, one per line (or a JSON summary with --json).
Exit status: 0 built and checked, 1 a check failed (or the build itself), 2 bad input.";

/// Build a Debian package from a source tree and check it.
#[derive(Debug, Parser)]
#[command(name = "build-deb", version, about, after_help = EXAMPLES)]
pub struct Cli {
    /// The source tree (with debian/ or cdkit-deb.toml).
    #[arg(env = "BUILD_DEB_SOURCE", default_value = ".")]
    pub source: PathBuf,

    /// Directory for the .deb (and .buildinfo/.changes) files.
    #[arg(long, env = "BUILD_DEB_OUT", default_value = "dist")]
    pub out: PathBuf,

    /// `auto`: <upstream>+<commit time>.<BUILD_NUMBER>.g<sha>-<rev>; `none`: as written.
    #[arg(
        long,
        env = "BUILD_DEB_VERSION_SUFFIX",
        value_enum,
        default_value = "none"
    )]
    pub version_suffix: crate::versioning::Suffix,

    /// gzip|xz|zstd|none[:level] for data.tar (zstd needs Debian 12 or newer on every host).
    #[arg(long, env = "BUILD_DEB_COMPRESSION", default_value = "gzip:6")]
    pub compression: Compression,

    /// Which lintian tags fail the build.
    #[arg(long, env = "BUILD_DEB_LINTIAN", value_enum, default_value = "error")]
    pub lintian: LintianLevel,

    /// Build twice and require byte-identical packages.
    #[arg(long, env = "BUILD_DEB_CHECK_REPRODUCIBLE")]
    pub check_reproducible: bool,

    /// Let cdkit-deb.toml name files outside the source tree (absolute paths, `..`, symlinks
    /// that leave it); refused by default.
    #[arg(long, env = "BUILD_DEB_ALLOW_OUTSIDE_TREE")]
    pub allow_outside_tree: bool,

    /// Print a JSON summary on stdout instead of the package paths.
    #[arg(long, env = "BUILD_DEB_JSON")]
    pub json: bool,

    /// Flags every cdkit tool has (--junit, --log-format, --progress, ...).
    #[command(flatten)]
    pub common: CommonArgs,
}

/// Build, check and print what `cli` asks for; the exit code of the outcome (the caller turns
/// an error into its one line and exit code).
pub fn run(cli: Cli) -> anyhow::Result<Exit> {
    let opts = BuildOptions {
        source: cli.source,
        out: cli.out,
        suffix: cli.version_suffix,
        compression: cli.compression,
        lintian: cli.lintian,
        check_reproducible: cli.check_reproducible,
        allow_outside_tree: cli.allow_outside_tree,
    };
    let outcome = crate::run(&opts, cli.common.junit.as_deref())?;
    for package in &outcome.packages {
        tracing::info!(
            package = %package.package,
            version = %package.version,
            "built {} ({} bytes, sha256 {})",
            package.path.display(),
            package.size,
            package.sha256
        );
    }
    if cli.json {
        cdkit::outln!("{}", serde_json::to_string_pretty(&outcome)?);
    } else if outcome.exit.is_success() {
        for package in &outcome.packages {
            cdkit::outln!("{}", package.path.display());
        }
    }
    if !outcome.exit.is_success() {
        cdkit::cli::final_line(
            TOOL,
            &format!(
                "checks failed: {}; the packages are in {} but were not printed for the next step",
                outcome.failed_checks.join(", "),
                opts.out.display()
            ),
        );
    }
    Ok(outcome.exit)
}
