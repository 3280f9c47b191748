//! One interface over the three databases. The engine decides *what* to run and in which
//! order; a driver knows *how* its database runs it: how to take the migration lock without
//! ever blocking inside the server, how to commit a migration together with its history row,
//! and how to run statements one by one outside a transaction.

use std::time::{Duration, Instant};

use crate::history::Applied;
use crate::url::{DbUrl, Kind};
use crate::Error;

#[cfg(feature = "mysql")]
mod mysql;
#[cfg(feature = "postgres")]
mod postgres;
#[cfg(feature = "sqlite")]
mod sqlite;

/// A failed migration statement, as the engine reports it.
#[derive(Debug, Clone)]
pub struct ExecError {
    /// One line (redacted) as the database said it.
    pub message: String,
    /// SQLSTATE or MariaDB error number.
    pub code: Option<String>,
    /// The statement that failed, when known.
    pub statement: Option<String>,
    /// Earlier statements of the same migration had already been committed.
    pub changed: bool,
}

impl ExecError {
    pub(crate) fn new(message: impl std::fmt::Display) -> ExecError {
        ExecError {
            message: cdkit::redact::redact(&message.to_string().replace('\n', " ")).into_owned(),
            code: None,
            statement: None,
            changed: false,
        }
    }
}

/// What every database driver provides to the engine.
pub trait Driver {
    /// Which database this is.
    fn kind(&self) -> Kind;

    /// Whether a migration and its history row can commit together (see
    /// [`Kind::transactional_ddl`]).
    fn transactional_ddl(&self) -> bool {
        self.kind().transactional_ddl()
    }

    /// Take the migration lock, polling [`Driver::try_lock`] (never a blocking wait inside
    /// the server, which deadlocks with `CREATE INDEX CONCURRENTLY`) for up to `timeout`;
    /// then [`Error::LockTimeout`] naming the holder.
    fn lock(&mut self, timeout: Duration) -> Result<(), Error> {
        poll_lock(self, timeout)
    }

    /// One non-blocking attempt at the migration lock; `true` when it is now ours.
    fn try_lock(&mut self) -> Result<bool, Error>;

    /// Who holds the lock, for the waiting line and the exit-75 message.
    fn holder(&mut self) -> String;

    /// The database name, for messages.
    fn database(&self) -> String;

    /// Release the lock (also released when the connection closes).
    fn unlock(&mut self);

    /// Who holds the migration lock when another session does (`None` when it is free or
    /// ours), without taking it: how a command that takes no lock tells an in-progress mark
    /// of a live run from one left by a dead run.
    fn lock_holder(&mut self) -> Result<Option<String>, Error>;

    /// Whether the history table exists (read-only commands must not create it).
    fn history_exists(&mut self) -> Result<bool, Error>;

    /// Create the history table if it is missing (under the lock).
    fn create_history(&mut self) -> Result<(), Error>;

    /// Every history row, by version.
    fn read_history(&mut self) -> Result<Vec<Applied>, Error>;

    /// Run `sql` and insert `row` in one transaction: both or neither. The driver measures
    /// the execution time it stores in the row.
    fn apply_atomic(&mut self, sql: &str, row: &Applied) -> Result<(), ExecError>;

    /// Run `sql` and delete the history row of `version` in one transaction.
    fn revert_atomic(&mut self, sql: &str, version: i64) -> Result<(), ExecError>;

    /// Run `sql` statement by statement outside a transaction (each one commits).
    fn run_unwrapped(&mut self, sql: &str) -> Result<(), ExecError>;

    /// Insert a history row on its own (in-progress marks, baseline).
    fn insert_row(&mut self, row: &Applied) -> Result<(), Error>;

    /// Set a row's `success` (and its execution time when given).
    fn set_success(
        &mut self,
        version: i64,
        success: bool,
        execution_ms: Option<i64>,
    ) -> Result<(), Error>;

    /// Delete a row (a reverted migration, a cleared in-progress mark).
    fn delete_row(&mut self, version: i64) -> Result<(), Error>;

    /// The rows of a query as text (`None` for NULL): reading another tool's history table
    /// (`adopt`), whose column types differ between tools and databases.
    fn query_text(&mut self, sql: &str) -> Result<Vec<Vec<Option<String>>>, Error>;

    /// Run one statement that returns no rows (transaction control for [`Driver::begin`]).
    fn execute(&mut self, sql: &str) -> Result<(), Error>;

    /// Start a transaction for history writes that must land together (`baseline`, `repair`).
    /// Rows only, no DDL, so every database (MariaDB's InnoDB history table too) commits them
    /// together or not at all. SQLite takes its write lock at once (`IMMEDIATE`), so a writer of
    /// the application's cannot make the first insert fail half-way through.
    fn begin(&mut self) -> Result<(), Error> {
        match self.kind() {
            Kind::Sqlite => self.execute("BEGIN IMMEDIATE"),
            _ => self.execute("START TRANSACTION"),
        }
    }

    /// Store a new checksum (and down SQL) for an applied migration (`repair`).
    fn update_checksum(
        &mut self,
        version: i64,
        checksum: &str,
        algo: &str,
        down_sql: Option<&str>,
    ) -> Result<(), Error>;
}

/// How to open a connection.
#[derive(Debug, Clone)]
pub struct Connect<'a> {
    /// Shown to other sessions (PostgreSQL `application_name`, lock files) as the holder.
    pub holder: &'a str,
    /// Open without creating anything (SQLite: do not create a missing file).
    pub read_only: bool,
    /// SQLite busy timeout (a writer outside db-migrate holding the database).
    pub busy_timeout: Duration,
}

/// Connect to `url` with the driver for its scheme. A database that cannot be reached is
/// [`Error::Connect`] (exit 75: nothing was changed, retrying is safe).
pub fn connect(url: &DbUrl, how: &Connect<'_>) -> Result<Box<dyn Driver>, Error> {
    match url.kind {
        #[cfg(feature = "sqlite")]
        Kind::Sqlite => Ok(Box::new(sqlite::Sqlite::connect(url, how)?)),
        #[cfg(feature = "postgres")]
        Kind::Postgres => Ok(Box::new(postgres::Postgres::connect(url, how)?)),
        #[cfg(feature = "mysql")]
        Kind::Mysql => Ok(Box::new(mysql::Mysql::connect(url, how)?)),
        #[allow(unreachable_patterns)]
        other => Err(Error::Url {
            url: url.redacted.clone(),
            problem: format!("this db-migrate was built without {other:?} support"),
        }),
    }
}

/// A connection failure, with the password masked: [`Error::Connect`] (exit 75) when the
/// server could not be reached, [`Error::Refused`] (exit 2) when it answered with a refusal
/// that retrying will not change.
pub(crate) fn connect_error(url: &DbUrl, e: impl std::fmt::Display, refused: bool) -> Error {
    let url = url.redacted.clone();
    let message = cdkit::redact::redact(&e.to_string().replace('\n', " ")).into_owned();
    if refused {
        Error::Refused { url, message }
    } else {
        Error::Connect { url, message }
    }
}

/// Poll `lock` until it is ours or `timeout` has passed ([`Error::LockTimeout`] naming the
/// holder). Pauses grow from 20 ms to 250 ms: a runner that finishes quickly is noticed
/// quickly, and every poll is a short statement that never blocks inside the server.
fn poll_lock<D: Driver + ?Sized>(lock: &mut D, timeout: Duration) -> Result<(), Error> {
    let started = Instant::now();
    let mut attempt = 0u32;
    loop {
        if lock.try_lock()? {
            return Ok(());
        }
        // Jenkins' Abort while we wait: nothing has been changed, stop now.
        if let Some(signal) = cdkit::signals::received() {
            return Err(Error::Stopped { signal });
        }
        if started.elapsed() >= timeout {
            return Err(Error::LockTimeout {
                database: lock.database(),
                holder: lock.holder(),
                waited: started.elapsed(),
            });
        }
        if attempt == 0 {
            tracing::info!("waiting for the migration lock held by {}", lock.holder());
        }
        let pause = Duration::from_millis((20u64 << attempt.min(4)).min(250));
        std::thread::sleep(pause.min(timeout.saturating_sub(started.elapsed())));
        attempt += 1;
    }
}
