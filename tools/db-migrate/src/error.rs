//! Every way a db-migrate run can end badly, each mapped to its exit code of the cross-tool
//! contract (the exit-code table in docs/contract.md), so that the binary, the `rollback` tool and tests agree on what
//! happened. Messages never contain a password: URLs are redacted before they are stored here.

use std::path::{Path, PathBuf};
use std::time::Duration;

use cdkit::exit::{Exit, ExitCoded};

use crate::report::Report;

/// Why a command did not reach its goal. Match on [`ExitCoded::exit`] rather than on every
/// variant: new variants may be added.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// Bad invocation: arguments that cannot work together, a bad name for `new`.
    #[error("{0}")]
    Usage(String),

    /// The database URL cannot be used (unknown scheme, unparsable). `url` is redacted.
    #[error("database URL {url}: {problem}")]
    Url {
        /// The database URL, password redacted.
        url: String,
        /// What is wrong.
        problem: String,
    },

    /// `lint` (or `up --phase pre`) found pre-deploy migrations the running version would not
    /// survive; every finding was logged as its own line, `summary` names the first.
    #[error("{summary}")]
    Unsafe {
        /// The first finding and what to do.
        summary: String,
        /// Every unacknowledged finding, one line each.
        findings: Vec<String>,
    },

    /// A migration file or the directory is unusable: bad name, duplicate version, unreadable.
    #[error("{path}: {problem}")]
    BadMigration {
        /// The file or directory.
        path: PathBuf,
        /// What is wrong.
        problem: String,
    },

    /// Applied migrations whose files changed or disappeared since they were applied.
    /// `accept` is the complete `repair --accept-checksum` command (URL redacted).
    #[error("{}; fix the files, or accept them with `{accept}`", join_drift(.items))]
    Drift {
        /// Each applied migration whose file changed or is gone.
        items: Vec<Drift>,
        /// The complete `repair --accept-checksum` command (URL redacted).
        accept: String,
    },

    /// `down` would revert a migration that has no stored down SQL (none shipped when it was
    /// applied, or it was adopted by `baseline`).
    #[error("cannot revert version {version} ({name}): no down SQL was stored when it was applied; choose a target of {version} or higher")]
    NoDownSql {
        /// The migration's version.
        version: i64,
        /// The migration's name.
        name: String,
    },

    /// `down` would revert a migration whose stored down SQL has no statements (a down file of
    /// only comments, such as `new`'s template): reporting it "reverted" would be a lie.
    #[error("cannot revert version {version} ({name}): its down file {file} had no statements (only comments or whitespace) when it was applied; write the SQL that undoes it (`SELECT 1;` for an intentional no-op) and store it with `{accept}`, or choose a target of {version} or higher")]
    EmptyDown {
        /// The migration's version.
        version: i64,
        /// The migration's name.
        name: String,
        /// The down file's name when it was applied.
        file: String,
        /// The complete `repair --accept-checksum` command (URL redacted).
        accept: String,
    },

    /// The database is unreachable before anything was changed; safe to retry.
    #[error("cannot connect to {url}: {message}")]
    Connect {
        /// The database URL, password redacted.
        url: String,
        /// The database's or driver's message.
        message: String,
    },

    /// The server answered but refused us: wrong password, unknown user or database, a SQLite
    /// file that cannot be opened. Retrying will not help; fix the URL or the grants.
    #[error("{url} refused the connection: {message}")]
    Refused {
        /// The database URL, password redacted.
        url: String,
        /// The database's or driver's message.
        message: String,
    },

    /// Another runner held the migration lock for the whole `--lock-timeout`.
    #[error("the migration lock of {database} is held by {holder}; waited {}s, retry when it has finished", .waited.as_secs())]
    LockTimeout {
        /// The database's name.
        database: String,
        /// Who holds the lock, as its holder line names it.
        holder: String,
        /// How long this run waited.
        waited: Duration,
    },

    /// A database operation outside any migration failed (reading or creating the history);
    /// nothing was changed by this run.
    #[error("{context}: {message}")]
    Database {
        /// What was being done.
        context: String,
        /// The database's or driver's message.
        message: String,
    },

    /// A history row holds what db-migrate never writes (edited by hand, or another tool's
    /// table): trusting it could skip or repeat a migration, so nothing runs.
    #[error("{TABLE}: version {version}: {problem}; nothing was run: fix the row by hand (db-migrate writes success as 0 or 1)", TABLE = crate::history::TABLE)]
    BadHistory {
        /// The migration's version.
        version: i64,
        /// What is wrong.
        problem: String,
    },

    /// A migration failed and was rolled back (or never started changing anything): the
    /// database is as it was before that migration. Earlier steps of the run stay done.
    #[error("{} {version} ({name}) failed and was rolled back: {message}", .direction.verb())]
    Failed {
        /// The migration's version.
        version: i64,
        /// The migration's name.
        name: String,
        /// Applying or reverting.
        direction: crate::report::Direction,
        /// The database's or driver's message.
        message: String,
        /// What the run did before it stopped (the partial report).
        report: Box<Report>,
    },

    /// A non-transactional migration (MariaDB, or `-- no-transaction`) failed after some of
    /// its statements had run: a human must look at the database, then run `repair`.
    #[error("{} {version} ({name}) failed half-way and is marked in progress: {message}; inspect the database, then run: {repair}", .direction.verb())]
    HalfApplied {
        /// The migration's version.
        version: i64,
        /// The migration's name.
        name: String,
        /// Applying or reverting.
        direction: crate::report::Direction,
        /// The database's or driver's message.
        message: String,
        /// The complete `repair` command that settles it (URL redacted).
        repair: String,
        /// What the run did before it stopped (the partial report).
        report: Box<Report>,
    },

    /// An earlier run left a migration marked in progress (it failed half-way or was killed).
    #[error("version {version} ({name}) is marked in progress by an earlier run that failed or was killed ({since}); inspect the database, then run: {repair}")]
    InProgress {
        /// The migration's version.
        version: i64,
        /// The migration's name.
        name: String,
        /// When the mark was set.
        since: String,
        /// The complete `repair` command that settles it (URL redacted).
        repair: String,
    },

    /// A command that takes no lock (`validate`, a dry run) found a migration in progress
    /// while its run still holds the migration lock: it is being applied right now.
    #[error("another run is in progress: version {version} ({name}) is being applied by {holder}; retry when it has finished")]
    Busy {
        /// The migration's version.
        version: i64,
        /// The migration's name.
        name: String,
        /// Who holds the lock, as its holder line names it.
        holder: String,
    },

    /// golang-migrate left its version dirty: a migration failed part-way under it, and
    /// adopting would record a half-applied migration as done.
    #[error("{table} says golang-migrate's version {version} is dirty (it failed part-way); nothing was adopted: inspect the database, finish or undo version {version} by hand, mark it clean (UPDATE {table} SET dirty = false, with the version that is really complete), then run adopt again")]
    ForeignDirty {
        /// The golang-migrate history table.
        table: String,
        /// The migration's version.
        version: i64,
    },

    /// SIGINT/SIGTERM arrived while waiting for the lock: nothing was changed.
    #[error(
        "interrupted by signal {signal} while waiting for the migration lock; nothing was changed"
    )]
    Stopped {
        /// The signal's number.
        signal: i32,
    },

    /// SIGINT/SIGTERM arrived; the run stopped between migrations (a known-good state).
    #[error(
        "interrupted by signal {signal} after the current migration; the database is consistent"
    )]
    Interrupted {
        /// The signal's number.
        signal: i32,
        /// What the run did before it stopped (the partial report).
        report: Box<Report>,
    },
}

/// One applied migration whose file no longer matches.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Drift {
    /// The migration's version.
    pub version: i64,
    /// The migration's name.
    pub name: String,
    /// The checksum stored when it was applied (`sha256-lf:` + hex).
    pub recorded: String,
    /// The checksum of the file now; `None` when the file is gone.
    pub current: Option<String>,
}

fn join_drift(items: &[Drift]) -> String {
    items
        .iter()
        .map(|d| match &d.current {
            Some(now) => format!(
                "applied migration {} ({}) was edited: recorded checksum {}, file checksum {}",
                d.version, d.name, d.recorded, now
            ),
            None => format!(
                "applied migration {} ({}) has no file any more (recorded checksum {})",
                d.version, d.name, d.recorded
            ),
        })
        .collect::<Vec<_>>()
        .join("; ")
}

impl Error {
    /// The partial report of a run that failed part-way (what was applied or reverted before
    /// the failure), for JUnit and for callers such as `rollback`.
    pub fn report(&self) -> Option<&Report> {
        match self {
            Error::Failed { report, .. }
            | Error::HalfApplied { report, .. }
            | Error::Interrupted { report, .. } => Some(report),
            _ => None,
        }
    }

    pub(crate) fn report_mut(&mut self) -> Option<&mut Report> {
        match self {
            Error::Failed { report, .. }
            | Error::HalfApplied { report, .. }
            | Error::Interrupted { report, .. } => Some(report),
            _ => None,
        }
    }

    pub(crate) fn db(context: impl Into<String>, message: impl std::fmt::Display) -> Error {
        Error::Database {
            context: context.into(),
            message: cdkit::redact::redact(&message.to_string()).into_owned(),
        }
    }
}

impl ExitCoded for Error {
    fn exit(&self) -> Exit {
        match self {
            Error::Usage(_)
            | Error::Url { .. }
            | Error::BadMigration { .. }
            | Error::Unsafe { .. }
            | Error::Drift { .. }
            | Error::NoDownSql { .. }
            | Error::EmptyDown { .. }
            | Error::BadHistory { .. }
            | Error::Refused { .. } => Exit::Usage,
            Error::Connect { .. } | Error::LockTimeout { .. } | Error::Busy { .. } => {
                Exit::TempFail
            }
            Error::Database { .. } | Error::Failed { .. } => Exit::Failed,
            Error::HalfApplied { .. } | Error::InProgress { .. } | Error::ForeignDirty { .. } => {
                Exit::NotRestored
            }
            Error::Interrupted { signal, .. } | Error::Stopped { signal } => {
                Exit::for_signal(*signal)
            }
        }
    }
}

/// A db-migrate command line that can be pasted as it is: the database URL (passwords already
/// masked, so the reader puts theirs back), the migrations directory when the command reads
/// files, then `args`; every word quoted for the shell (`***` must not glob).
pub(crate) fn command(url: &str, dir: Option<&Path>, args: &str) -> String {
    let mut line = format!("db-migrate --database-url {}", cdkit::ssh::shell_quote(url));
    if let Some(dir) = dir {
        line.push_str(" --dir ");
        line.push_str(&cdkit::ssh::shell_quote(&dir.to_string_lossy()));
    }
    line.push(' ');
    line.push_str(args);
    line
}

/// The command that accepts the current files of `versions` (drift, an empty stored down).
pub(crate) fn accept_command(url: &str, dir: &Path, versions: &[i64]) -> String {
    let versions: Vec<String> = versions.iter().map(i64::to_string).collect();
    command(
        url,
        Some(dir),
        &format!("repair --accept-checksum {}", versions.join(",")),
    )
}

/// The exact `repair` commands for an in-progress mark, as printed in errors: run it again
/// after undoing its partial changes, or record it as applied after finishing it by hand.
pub(crate) fn repair_command(url: &str, version: i64) -> String {
    format!(
        "`{}` (to run it again) or `{}` (if you completed it by hand)",
        command(url, None, &format!("repair --clear-in-progress {version}")),
        command(url, None, &format!("repair --mark-applied {version}")),
    )
}
