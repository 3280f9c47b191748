//! db-migrate: versioned SQL migrations for SQLite, PostgreSQL and MariaDB/MySQL, safe when
//! several runners start at once, with the down SQL of every applied migration kept in the
//! history table so that an older release (the `rollback` tool) can revert migrations it does
//! not ship.
//!
//! # Library API (stable; used by `tools/rollback`)
//!
//! ```no_run
//! use db_migrate::{Options, down_to, current_version};
//! let url = "postgres://app@db1/app";
//! let before = current_version(url)?;           // Some(7): highest applied version
//! let mut options = Options::default();
//! options.lock_timeout = std::time::Duration::from_secs(60);
//! let report = down_to(url, 5, &options)?;      // reverts 7 and 6 with their stored down SQL
//! assert_eq!(report.version_after, Some(5));
//! # Ok::<(), db_migrate::Error>(())
//! ```
//!
//! Every function takes the database URL (`sqlite:PATH`, `postgres://…`, `mysql://…` or
//! `mariadb://…`), connects, takes the migration lock where it changes anything, and returns
//! a [`Report`] (one [`Step`] per migration) or an [`Error`] whose exit code
//! ([`cdkit::exit::ExitCoded`]) follows the contract's exit-code table and which carries the partial report
//! ([`Error::report`]) when a run failed part-way.
//!
//! # Brief overview
//!
//! [`Options`] configures a run; [`up`], [`down_to`], [`baseline`], [`adopt`], [`repair`],
//! [`status`], [`validate`], [`current_version`] and [`history`] are the operations, each
//! returning a [`Report`] of [`Step`]s, a [`Status`] or the [`Applied`] rows. [`cli::Cli`] is
//! the command line that `main.rs` parses. The public modules [`files`] (the migrations
//! directory) and [`split`] (SQL into statements) are the readers of outside input, public so
//! that the fuzz targets call exactly what the tool calls; everything else is private.

mod adopt;
mod checksum;
pub mod cli;
mod driver;
mod engine;
mod error;
pub mod files;
mod history;
pub mod lint;
mod new;
mod repair;
mod report;
pub mod split;
mod status;
mod url;

use std::path::PathBuf;
use std::time::Duration;

pub use error::{Drift, Error};
pub use history::Applied;
pub use report::{Direction, Outcome, Report, Step, StepFailure};
pub use status::{MigrationState, Status};

/// The tool's name in logs, JUnit and lock holders.
pub const TOOL: &str = "db-migrate";

/// The environment variable a URL is read from when `--database-url` is not given.
pub const URL_ENV: &str = "DATABASE_URL";

/// Settings of a run. Construct with `Options::default()` and set fields: new fields may be
/// added (with defaults) without breaking callers.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct Options {
    /// The migrations directory (see [`files`] for the layouts it takes).
    /// [`down_to`] never reads it: it reverts with the down SQL stored at apply time.
    pub dir: PathBuf,
    /// How long to wait for another runner's lock before giving up (exit 75).
    pub lock_timeout: Duration,
    /// Plan and report, change nothing (no lock taken, no history table created).
    pub dry_run: bool,
    /// The package version that applies the migrations (`--release`), kept in the history.
    pub release: Option<String>,
    /// Who applies them (history `applied_by`); default `USER@HOST`.
    pub applied_by: String,
    /// Progress display for the binary; library callers usually keep `None` (no lines).
    pub progress: cdkit::progress::ProgressMode,
    /// `up --phase`: `Some(Pre)` applies only pre-deploy migrations and lints them first,
    /// `Some(Post)` or `None` every pending one (see [`files::Phase`]).
    pub phase: Option<files::Phase>,
    /// Lint rules acknowledged (`--allow-unsafe RULE`): reported and recorded, not refused.
    pub allow_unsafe: Vec<String>,
}

impl Default for Options {
    fn default() -> Options {
        Options {
            dir: PathBuf::from("migrations"),
            lock_timeout: Duration::from_secs(300),
            dry_run: false,
            release: None,
            applied_by: default_applied_by(),
            progress: cdkit::progress::ProgressMode::None,
            phase: None,
            allow_unsafe: Vec::new(),
        }
    }
}

/// `USER@HOST` of this process, for the history's `applied_by`.
pub fn default_applied_by() -> String {
    let user = std::env::var("USER")
        .ok()
        .filter(|u| !u.is_empty())
        .or_else(|| {
            nix::unistd::User::from_uid(nix::unistd::getuid())
                .ok()
                .flatten()
                .map(|u| u.name)
        })
        .unwrap_or_else(|| "unknown".into());
    let host = nix::unistd::gethostname()
        .ok()
        .and_then(|h| h.into_string().ok())
        .unwrap_or_else(|| "unknown".into());
    format!("{user}@{host}")
}

/// Apply every pending migration of `options.dir` in version order, up to and including `to`
/// if given. Refuses (exit 2) when an applied migration's file changed or disappeared, and
/// (exit 3) when an earlier run left a migration in progress. Each migration commits with its
/// history row in one transaction on PostgreSQL and SQLite.
pub fn up(url: &str, to: Option<i64>, options: &Options) -> Result<Report, Error> {
    engine::up(url, to, options)
}

/// Revert, newest first, every applied migration with a version above `target`, using the
/// down SQL stored in the history when each was applied (so a release that does not ship a
/// migration can still revert it). `target` 0 reverts everything — only when asked for.
/// Refuses before changing anything (exit 2) if one of them has no stored down SQL.
pub fn down_to(url: &str, target: i64, options: &Options) -> Result<Report, Error> {
    engine::down_to(url, target, options)
}

/// The highest successfully applied version (`None` when nothing is applied or the history
/// table does not exist yet). Takes no lock and changes nothing.
pub fn current_version(url: &str) -> Result<Option<i64>, Error> {
    Ok(history(url)?
        .iter()
        .filter(|a| a.success)
        .map(|a| a.version)
        .max())
}

/// Every row of the history table in version order (empty if it does not exist yet): what
/// `rollback` needs to pick a target, e.g. the newest version applied by a given release.
pub fn history(url: &str) -> Result<Vec<Applied>, Error> {
    engine::history(url)
}

/// Lint the pre-deploy migrations of `options.dir` (all of them, or with `url` the pending
/// ones) for changes the running version would not survive; `dialect` defaults to the URL's.
/// The findings come back (acknowledged ones marked); refusing is the caller's choice.
pub fn lint(
    url: Option<&str>,
    dialect: Option<lint::Dialect>,
    options: &Options,
) -> Result<Vec<lint::Finding>, Error> {
    engine::lint_dir(url, dialect, options)
}

/// Files and history side by side (the `status` command).
pub fn status(url: &str, options: &Options) -> Result<Status, Error> {
    engine::status(url, options)
}

/// Check the migration files (names, duplicates, readability) and, when `url` is given,
/// that applied migrations still match their files.
pub fn validate(url: Option<&str>, options: &Options) -> Result<usize, Error> {
    engine::validate(url, options)
}

/// What `repair` should do; each action names the versions it touches.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RepairAction {
    /// Store the file's current checksum (and down SQL) for these applied versions.
    AcceptChecksum(Vec<i64>),
    /// Delete the in-progress row of this version so that `up` runs it again.
    ClearInProgress(i64),
    /// Mark the in-progress row of this version as applied (finished by hand).
    MarkApplied(i64),
}

/// Carry out one explicit repair; returns a one-line summary of what changed.
pub fn repair(url: &str, action: &RepairAction, options: &Options) -> Result<String, Error> {
    engine::repair(url, action, options)
}

/// Adopt an existing database: record every migration file up to `version` as applied
/// without running it (no down SQL stored, so `down` cannot go below the baseline).
pub fn baseline(url: &str, version: i64, options: &Options) -> Result<Report, Error> {
    engine::baseline(url, version, options)
}

/// Move a database over from golang-migrate or dbmate: read their history table (`table`,
/// usually `schema_migrations`) and record what it says was applied, with each file's
/// checksum and down SQL, without running anything. Refuses (exit 3) a dirty golang-migrate
/// version, and (exit 2) a version without a file or a database that already has history.
pub fn adopt(url: &str, table: &str, options: &Options) -> Result<Report, Error> {
    engine::adopt(url, table, options)
}
