//! SQLite with rusqlite. Runs on one host are serialised by an `flock(2)` lock file next to
//! the database (freed by the kernel when a runner dies, and naming its holder for exit 75);
//! each migration runs inside `BEGIN IMMEDIATE` with a busy timeout, so it commits with its
//! history row and waits politely for the application's own writers.

use std::path::PathBuf;
use std::time::Instant;

use rusqlite::fallible_iterator::FallibleIterator as _;
use rusqlite::{params, Connection, OpenFlags};

use super::{connect_error, Connect, Driver, ExecError};
use crate::history::{Applied, COLUMNS, TABLE};
use crate::url::{DbUrl, Kind};
use crate::Error;

pub(super) struct Sqlite {
    /// `None` when a read-only command found no database file: an empty history.
    conn: Option<Connection>,
    lock_path: PathBuf,
    holder: String,
    lock: Option<cdkit::lock::Lock>,
    database: String,
    /// The holder named by the last refused attempt.
    last_holder: String,
}

impl Sqlite {
    pub(super) fn connect(url: &DbUrl, how: &Connect<'_>) -> Result<Sqlite, Error> {
        let path = url.sqlite_path.clone().unwrap_or_default();
        let mut lock_name = path.clone().into_os_string();
        lock_name.push(".db-migrate.lock");
        let conn = if how.read_only && !path.exists() {
            None
        } else {
            let flags = if how.read_only {
                OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX
            } else {
                OpenFlags::SQLITE_OPEN_READ_WRITE
                    | OpenFlags::SQLITE_OPEN_CREATE
                    | OpenFlags::SQLITE_OPEN_NO_MUTEX
            };
            let conn = Connection::open_with_flags(&path, flags).map_err(|e| {
                connect_error(url, format!("cannot open {}: {e}", path.display()), true)
            })?;
            conn.busy_timeout(how.busy_timeout)
                .map_err(|e| connect_error(url, e, true))?;
            Some(conn)
        };
        Ok(Sqlite {
            conn,
            lock_path: PathBuf::from(lock_name),
            holder: how.holder.to_string(),
            lock: None,
            database: url.database.clone(),
            last_holder: String::new(),
        })
    }

    fn conn(&self) -> Result<&Connection, Error> {
        self.conn
            .as_ref()
            .ok_or_else(|| Error::db("SQLite", "the database file does not exist"))
    }

    /// Run every statement of `sql` (SQLite's own parser finds them, triggers included),
    /// reading and discarding rows of statements that return some. Outside a transaction
    /// each statement is its own atomic transaction, so a failing one changed nothing: only
    /// the statements before it count as changes.
    ///
    /// The text handed to SQLite ends in a NUL byte. SQLite copies a statement text that is
    /// not NUL-terminated before parsing it, and each step of a batch hands it the whole rest
    /// of the file: without the NUL a migration of n statements costs n² bytes copied (200k
    /// inserts took 6.8 s instead of the sqlite3 shell's 1 s).
    fn run_statements(conn: &Connection, sql: &str) -> Result<usize, ExecError> {
        let terminated = format!("{sql}\0");
        let mut batch = rusqlite::Batch::new(conn, &terminated);
        let mut done = 0;
        loop {
            let mut statement = match batch.next() {
                Ok(Some(s)) => s,
                Ok(None) => return Ok(done),
                Err(e) => {
                    let mut err = exec_error(&e);
                    err.changed = done > 0;
                    // Rejected while preparing: rusqlite names the statement it was given.
                    if let rusqlite::Error::SqlInputError { sql, .. } = &e {
                        err.statement = crate::split::split(sql, crate::split::Dialect::Postgres)
                            .first()
                            .map(|s| s.text.trim_end_matches('\0').to_string());
                    }
                    return Err(err);
                }
            };
            let text = statement.expanded_sql();
            let mut rows = statement.raw_query();
            loop {
                match rows.next() {
                    Ok(Some(_)) => {}
                    Ok(None) => break,
                    Err(e) => {
                        let mut err = exec_error(&e);
                        err.statement = text;
                        err.changed = done > 0;
                        return Err(err);
                    }
                }
            }
            done += 1;
        }
    }

    fn in_transaction(
        &self,
        sql: &str,
        bookkeeping: impl FnOnce(&Connection, i64) -> rusqlite::Result<()>,
    ) -> Result<(), ExecError> {
        let conn = self.conn().map_err(ExecError::new)?;
        conn.execute_batch("BEGIN IMMEDIATE")
            .map_err(|e| exec_error(&e))?;
        let started = Instant::now();
        let result = Self::run_statements(conn, sql).and_then(|_| {
            let ms = started.elapsed().as_millis() as i64;
            bookkeeping(conn, ms)
                .and_then(|_| conn.execute_batch("COMMIT"))
                .map_err(|e| exec_error(&e))
        });
        if result.is_err() && !conn.is_autocommit() {
            let _ = conn.execute_batch("ROLLBACK");
        }
        result.map_err(|mut e| {
            e.changed = false; // rolled back
            e
        })
    }
}

fn exec_error(e: &rusqlite::Error) -> ExecError {
    let mut err = ExecError::new(e);
    if let rusqlite::Error::SqliteFailure(code, _) = e {
        err.code = Some(format!("{:?}", code.code));
    }
    err
}

fn db_err(context: &str, e: rusqlite::Error) -> Error {
    Error::db(context, e)
}

fn insert(conn: &Connection, row: &Applied, ms: i64) -> rusqlite::Result<()> {
    conn.execute(
        &format!(
            "INSERT INTO {TABLE} ({COLUMNS}) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)"
        ),
        params![
            row.version,
            row.name,
            row.checksum,
            row.checksum_algo,
            row.down_sql,
            row.applied_at,
            row.applied_by,
            ms,
            row.success,
            row.release
        ],
    )
    .map(|_| ())
}

impl Driver for Sqlite {
    fn kind(&self) -> Kind {
        Kind::Sqlite
    }

    fn unlock(&mut self) {
        self.lock = None;
    }

    fn history_exists(&mut self) -> Result<bool, Error> {
        let Some(conn) = &self.conn else {
            return Ok(false);
        };
        conn.query_row(
            "SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name = ?1",
            [TABLE],
            |r| r.get::<_, i64>(0),
        )
        .map(|n| n > 0)
        .map_err(|e| db_err("cannot look for the history table", e))
    }

    fn create_history(&mut self) -> Result<(), Error> {
        self.conn()?
            .execute_batch(&crate::history::create_sql(Kind::Sqlite))
            .map_err(|e| db_err(&format!("cannot create {TABLE}"), e))
    }

    fn read_history(&mut self) -> Result<Vec<Applied>, Error> {
        let conn = self.conn()?;
        let read = || -> rusqlite::Result<Vec<(Applied, i64)>> {
            let mut stmt =
                conn.prepare(&format!("SELECT {COLUMNS} FROM {TABLE} ORDER BY version"))?;
            let rows = stmt.query_map([], |r| {
                let row = Applied {
                    version: r.get(0)?,
                    name: r.get(1)?,
                    checksum: r.get(2)?,
                    checksum_algo: r.get(3)?,
                    down_sql: r.get(4)?,
                    applied_at: r.get(5)?,
                    applied_by: r.get(6)?,
                    execution_ms: r.get(7)?,
                    success: false,
                    release: r.get(9)?,
                };
                Ok((row, r.get::<_, i64>(8)?))
            })?;
            rows.collect()
        };
        read()
            .map_err(|e| db_err(&format!("cannot read {TABLE}"), e))?
            .into_iter()
            .map(|(row, raw)| {
                let success = crate::history::success_flag(row.version, raw)?;
                Ok(Applied { success, ..row })
            })
            .collect()
    }

    fn apply_atomic(&mut self, sql: &str, row: &Applied) -> Result<(), ExecError> {
        self.in_transaction(sql, |conn, ms| insert(conn, row, ms))
    }

    fn revert_atomic(&mut self, sql: &str, version: i64) -> Result<(), ExecError> {
        self.in_transaction(sql, |conn, _| {
            conn.execute(
                &format!("DELETE FROM {TABLE} WHERE version = ?1"),
                [version],
            )
            .map(|_| ())
        })
    }

    fn run_unwrapped(&mut self, sql: &str) -> Result<(), ExecError> {
        let conn = self.conn().map_err(ExecError::new)?;
        Self::run_statements(conn, sql).map(|_| ())
    }

    fn insert_row(&mut self, row: &Applied) -> Result<(), Error> {
        insert(self.conn()?, row, row.execution_ms).map_err(|e| {
            db_err(
                &format!("cannot record version {} in {TABLE}", row.version),
                e,
            )
        })
    }

    fn set_success(&mut self, version: i64, success: bool, ms: Option<i64>) -> Result<(), Error> {
        self.conn()?
            .execute(
                &format!(
                    "UPDATE {TABLE} SET success = ?1, execution_ms = coalesce(?2, execution_ms) WHERE version = ?3"
                ),
                params![success, ms, version],
            )
            .map(|_| ())
            .map_err(|e| db_err(&format!("cannot update version {version} in {TABLE}"), e))
    }

    fn delete_row(&mut self, version: i64) -> Result<(), Error> {
        self.conn()?
            .execute(
                &format!("DELETE FROM {TABLE} WHERE version = ?1"),
                [version],
            )
            .map(|_| ())
            .map_err(|e| db_err(&format!("cannot delete version {version} from {TABLE}"), e))
    }

    fn update_checksum(
        &mut self,
        version: i64,
        checksum: &str,
        algo: &str,
        down_sql: Option<&str>,
    ) -> Result<(), Error> {
        self.conn()?
            .execute(
                &format!(
                    "UPDATE {TABLE} SET checksum = ?1, checksum_algo = ?2, down_sql = ?3 WHERE version = ?4"
                ),
                params![checksum, algo, down_sql, version],
            )
            .map(|_| ())
            .map_err(|e| db_err(&format!("cannot update version {version} in {TABLE}"), e))
    }

    fn query_text(&mut self, sql: &str) -> Result<Vec<Vec<Option<String>>>, Error> {
        use rusqlite::types::ValueRef;
        let conn = self.conn()?;
        let read = || -> rusqlite::Result<Vec<Vec<Option<String>>>> {
            let mut stmt = conn.prepare(sql)?;
            let width = stmt.column_count();
            let rows = stmt.query_map([], |r| {
                (0..width)
                    .map(|i| {
                        Ok(match r.get_ref(i)? {
                            ValueRef::Null => None,
                            ValueRef::Integer(n) => Some(n.to_string()),
                            ValueRef::Real(x) => Some(x.to_string()),
                            ValueRef::Text(t) | ValueRef::Blob(t) => {
                                Some(String::from_utf8_lossy(t).into_owned())
                            }
                        })
                    })
                    .collect()
            })?;
            rows.collect()
        };
        read().map_err(|e| db_err(sql, e))
    }

    fn execute(&mut self, sql: &str) -> Result<(), Error> {
        self.conn()?.execute_batch(sql).map_err(|e| db_err(sql, e))
    }

    /// Runs on one host meet at an flock(2) lock file beside the database (freed by the
    /// kernel when a runner dies; it holds the runner's description for the exit-75 message).
    fn try_lock(&mut self) -> Result<bool, Error> {
        match cdkit::lock::Lock::try_acquire(&self.lock_path, &self.holder) {
            Ok(lock) => {
                self.lock = Some(lock);
                Ok(true)
            }
            Err(cdkit::lock::LockError::Held { holder, .. }) => {
                self.last_holder = holder;
                Ok(false)
            }
            Err(e) => Err(Error::db("cannot take the migration lock", e)),
        }
    }

    fn lock_holder(&mut self) -> Result<Option<String>, Error> {
        // No lock file: no run has ever held it (and a read-only command must not create one).
        if self.lock.is_some() || !self.lock_path.exists() {
            return Ok(None);
        }
        if self.try_lock()? {
            self.unlock();
            Ok(None)
        } else {
            Ok(Some(self.holder()))
        }
    }

    fn holder(&mut self) -> String {
        format!(
            "{} (lock file {})",
            self.last_holder,
            self.lock_path.display()
        )
    }

    fn database(&self) -> String {
        self.database.clone()
    }
}
