//! PostgreSQL with the synchronous `postgres` crate. A transactional migration is sent as one
//! simple-query message — `BEGIN; <migration>; INSERT <history row>; COMMIT` — so it costs one
//! round trip and commits with its history row or not at all. The lock is a session advisory
//! lock polled with `pg_try_advisory_lock`, and `client_connection_check_interval` makes the
//! server notice a `kill -9`ed runner within seconds, ending its statement and freeing its lock.

use std::str::FromStr;
use std::time::{Duration, Instant};

use postgres::{Client, NoTls};

use super::{connect_error, Connect, Driver, ExecError};
use crate::history::{Applied, COLUMNS, TABLE};
use crate::split::{self, Dialect};
use crate::url::{DbUrl, Kind};
use crate::Error;

/// The advisory lock key: the ASCII bytes of "dbmigrat", easy to spot in `pg_locks`.
/// Advisory locks are per database, so one key serves every database on a server.
const LOCK_KEY: i64 = 0x6462_6d69_6772_6174; // "dbmigrat"

/// How often the server checks that our client is still there while a statement runs.
const CHECK_INTERVAL_MS: u32 = 2000;

pub(super) struct Postgres {
    client: Client,
    database: String,
    locked: bool,
}

impl Postgres {
    pub(super) fn connect(url: &DbUrl, how: &Connect<'_>) -> Result<Postgres, Error> {
        let mut config = postgres::Config::from_str(&url.raw).map_err(|e| Error::Url {
            url: url.redacted.clone(),
            problem: cdkit::redact::redact(&e.to_string()).into_owned(),
        })?;
        if config.get_connect_timeout().is_none() {
            config.connect_timeout(Duration::from_secs(10));
        }
        config.application_name(how.holder);
        let mut client = config.connect(NoTls).map_err(|e| {
            // SQLSTATE class 28 (authentication) and 3D000 (no such database): a refusal.
            let refused = e
                .as_db_error()
                .is_some_and(|d| d.code().code().starts_with("28") || d.code().code() == "3D000");
            let message = e
                .as_db_error()
                .map_or_else(|| e.to_string(), |d| d.message().to_string());
            connect_error(url, message, refused)
        })?;
        // PostgreSQL 14+: end our statements (and free our lock) soon after we die. Older
        // servers do not know the setting; they keep the lock until the statement ends.
        if let Err(e) = client.batch_execute(&format!(
            "SET client_connection_check_interval = {CHECK_INTERVAL_MS}"
        )) {
            tracing::debug!("client_connection_check_interval not set: {e}");
        }
        Ok(Postgres {
            client,
            database: url.database.clone(),
            locked: false,
        })
    }

    /// Who holds our advisory lock, from pg_locks and pg_stat_activity.
    fn describe_holder(&mut self) -> String {
        let query = "SELECT a.pid, coalesce(a.application_name, ''), \
                     coalesce(host(a.client_addr), 'local socket'), \
                     coalesce(to_char(a.backend_start AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"'), ''), \
                     coalesce(a.state, ''), coalesce(left(a.query, 80), '') \
                     FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid \
                     WHERE l.locktype = 'advisory' AND l.granted AND l.objsubid = 1 \
                     AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database()) \
                     AND ((l.classid::bigint << 32) | l.objid::bigint) = $1";
        match self.client.query_opt(query, &[&LOCK_KEY]) {
            Ok(Some(row)) => {
                let pid: i32 = row.get(0);
                let app: String = row.get(1);
                let addr: String = row.get(2);
                let since: String = row.get(3);
                let state: String = row.get(4);
                let sql: String = row.get(5);
                format!(
                    "{} (server pid {pid} from {addr}, connected since {since}, {state}: {})",
                    if app.is_empty() {
                        "an unnamed session"
                    } else {
                        &app
                    },
                    sql.replace('\n', " ")
                )
            }
            Ok(None) => "another session (it has just released it)".into(),
            Err(e) => format!("another session (cannot tell which: {e})"),
        }
    }

    fn exec_error(&self, e: &postgres::Error, sql: &str, prefix_chars: usize) -> ExecError {
        let Some(db) = e.as_db_error() else {
            return ExecError::new(e);
        };
        let mut message = format!("{}: {}", db.severity(), db.message());
        if let Some(detail) = db.detail() {
            message.push_str(&format!(" ({detail})"));
        }
        let mut out = ExecError::new(message);
        out.code = Some(db.code().code().to_string());
        let statements = split::split(sql, Dialect::Postgres);
        out.statement = match db.position() {
            Some(postgres::error::ErrorPosition::Original(pos)) => {
                let chars = (*pos as usize).saturating_sub(1 + prefix_chars);
                match sql.char_indices().nth(chars) {
                    Some((byte, _)) => split::statement_at(sql, byte, Dialect::Postgres),
                    None => None,
                }
                .map(str::to_string)
            }
            _ if statements.len() == 1 => Some(statements[0].text.to_string()),
            _ => None,
        };
        out
    }
}

impl Postgres {
    /// `sql` and the history change `bookkeeping` in one transaction, sent as one message
    /// (one round trip). On failure the transaction is rolled back, and the failing statement
    /// is named from the error's position, or else found by [`Postgres::find_failing`].
    fn atomic(&mut self, sql: &str, bookkeeping: &str) -> Result<(), ExecError> {
        const PREFIX: &str = "BEGIN;\n";
        // The newline ends a trailing `--` comment of the migration before our statement.
        let batch = format!("{PREFIX}{sql}\n;\n{bookkeeping};\nCOMMIT;");
        let started = Instant::now();
        self.client.batch_execute(&batch).map_err(|e| {
            let mut err = self.exec_error(&e, sql, PREFIX.chars().count());
            let _ = self.client.batch_execute("ROLLBACK");
            if err.statement.is_none() && started.elapsed() < DIAGNOSE_UNDER {
                err.statement = self.find_failing(sql);
            }
            err
        })
    }

    /// Run the statements of `sql` one by one in a transaction that is rolled back, to name
    /// the one that fails when the server's error carries no position (e.g. "relation already
    /// exists"). Only for migrations that failed quickly, so a diagnosis never costs much.
    fn find_failing(&mut self, sql: &str) -> Option<String> {
        self.client.batch_execute("BEGIN").ok()?;
        let failing = split::split(sql, Dialect::Postgres)
            .into_iter()
            .find(|s| self.client.batch_execute(s.text).is_err())
            .map(|s| s.text.to_string());
        let _ = self.client.batch_execute("ROLLBACK");
        failing
    }
}

/// A failed transactional migration is re-run statement by statement (and rolled back) to
/// name the failing statement only when it failed within this time.
const DIAGNOSE_UNDER: Duration = Duration::from_secs(10);

/// `sql` as a dollar-quoted literal with a tag that does not occur in it (works whatever
/// `standard_conforming_strings` says, and needs no escaping).
fn literal(text: &str) -> String {
    let mut n = 0u32;
    loop {
        let tag = format!("$dbm{n}$");
        if !text.contains(&tag) {
            return format!("{tag}{text}{tag}");
        }
        n += 1;
    }
}

fn opt_literal(text: Option<&str>) -> String {
    text.map_or_else(|| "NULL".into(), literal)
}

fn insert_sql(row: &Applied, execution_ms: &str) -> String {
    format!(
        "INSERT INTO {TABLE} ({COLUMNS}) VALUES ({}, {}, {}, {}, {}, {}, {}, {execution_ms}, {}, {})",
        row.version,
        literal(&row.name),
        literal(&row.checksum),
        literal(&row.checksum_algo),
        opt_literal(row.down_sql.as_deref()),
        literal(&row.applied_at),
        literal(&row.applied_by),
        row.success,
        opt_literal(row.release.as_deref()),
    )
}

/// Whether a SQLSTATE proves that the server refused a statement before running it: class 42
/// (syntax error, undefined or duplicate object, privileges: found while parsing and
/// analysing) and 0A (feature not supported). Anything else, or no SQLSTATE at all (the
/// connection broke), may come after the statement changed something.
fn rejected_before_running(sqlstate: Option<&str>) -> bool {
    sqlstate.is_some_and(|c| c.starts_with("42") || c.starts_with("0A"))
}

fn db_err(context: &str, e: postgres::Error) -> Error {
    Error::db(
        context,
        e.as_db_error()
            .map_or_else(|| e.to_string(), |d| d.message().to_string()),
    )
}

impl Driver for Postgres {
    fn kind(&self) -> Kind {
        Kind::Postgres
    }

    fn unlock(&mut self) {
        if self.locked {
            let _ = self
                .client
                .execute("SELECT pg_advisory_unlock($1)", &[&LOCK_KEY]);
            self.locked = false;
        }
    }

    fn history_exists(&mut self) -> Result<bool, Error> {
        let row = self
            .client
            .query_one(&format!("SELECT to_regclass('{TABLE}') IS NOT NULL"), &[])
            .map_err(|e| db_err("cannot look for the history table", e))?;
        Ok(row.get(0))
    }

    fn create_history(&mut self) -> Result<(), Error> {
        self.client
            .batch_execute(&crate::history::create_sql(Kind::Postgres))
            .map_err(|e| db_err(&format!("cannot create {TABLE}"), e))
    }

    fn read_history(&mut self) -> Result<Vec<Applied>, Error> {
        let rows = self
            .client
            .query(
                &format!("SELECT {COLUMNS} FROM {TABLE} ORDER BY version"),
                &[],
            )
            .map_err(|e| db_err(&format!("cannot read {TABLE}"), e))?;
        let row = |r: &postgres::Row| -> Result<Applied, postgres::Error> {
            Ok(Applied {
                version: r.try_get(0)?,
                name: r.try_get(1)?,
                checksum: r.try_get(2)?,
                checksum_algo: r.try_get(3)?,
                down_sql: r.try_get(4)?,
                applied_at: r.try_get(5)?,
                applied_by: r.try_get(6)?,
                execution_ms: r.try_get(7)?,
                success: r.try_get(8)?,
                release: r.try_get(9)?,
            })
        };
        rows.iter()
            .map(row)
            .collect::<Result<_, _>>()
            .map_err(|e| db_err(&format!("{TABLE} has unexpected columns"), e))
    }

    fn apply_atomic(&mut self, sql: &str, row: &Applied) -> Result<(), ExecError> {
        // now() is the transaction's start, clock_timestamp() the current time.
        let elapsed = "(extract(epoch FROM clock_timestamp() - now()) * 1000)::bigint";
        self.atomic(sql, &insert_sql(row, elapsed))
    }

    fn revert_atomic(&mut self, sql: &str, version: i64) -> Result<(), ExecError> {
        self.atomic(
            sql,
            &format!("DELETE FROM {TABLE} WHERE version = {version}"),
        )
    }

    fn run_unwrapped(&mut self, sql: &str) -> Result<(), ExecError> {
        for (i, statement) in split::split(sql, Dialect::Postgres).iter().enumerate() {
            // One statement per message: a multi-statement message is an implicit transaction.
            if let Err(e) = self.client.batch_execute(statement.text) {
                let mut err = self.exec_error(&e, statement.text, 0);
                err.statement = Some(statement.text.to_string());
                // Earlier statements are committed, and the failing one may have had effects
                // of its own (CONCURRENTLY commits in stages) unless the server refused it
                // before it ran.
                err.changed = i > 0 || !rejected_before_running(err.code.as_deref());
                if err.changed && statement.text.to_ascii_uppercase().contains("CONCURRENTLY") {
                    err.message.push_str(
                        " (a failed CONCURRENTLY statement can leave an INVALID index: find it \
                         with `SELECT indexrelid::regclass FROM pg_index WHERE NOT indisvalid` \
                         and drop it before running the migration again)",
                    );
                }
                return Err(err);
            }
        }
        Ok(())
    }

    fn insert_row(&mut self, row: &Applied) -> Result<(), Error> {
        self.client
            .batch_execute(&insert_sql(row, &row.execution_ms.to_string()))
            .map_err(|e| {
                db_err(
                    &format!("cannot record version {} in {TABLE}", row.version),
                    e,
                )
            })
    }

    fn set_success(&mut self, version: i64, success: bool, ms: Option<i64>) -> Result<(), Error> {
        let ms = ms.map_or_else(|| "execution_ms".into(), |m| m.to_string());
        self.client
            .batch_execute(&format!(
                "UPDATE {TABLE} SET success = {success}, execution_ms = {ms} WHERE version = {version}"
            ))
            .map_err(|e| db_err(&format!("cannot update version {version} in {TABLE}"), e))
    }

    fn delete_row(&mut self, version: i64) -> Result<(), Error> {
        self.client
            .batch_execute(&format!("DELETE FROM {TABLE} WHERE version = {version}"))
            .map_err(|e| db_err(&format!("cannot delete version {version} from {TABLE}"), e))
    }

    fn update_checksum(
        &mut self,
        version: i64,
        checksum: &str,
        algo: &str,
        down_sql: Option<&str>,
    ) -> Result<(), Error> {
        self.client
            .batch_execute(&format!(
                "UPDATE {TABLE} SET checksum = {}, checksum_algo = {}, down_sql = {} WHERE version = {version}",
                literal(checksum),
                literal(algo),
                opt_literal(down_sql)
            ))
            .map_err(|e| db_err(&format!("cannot update version {version} in {TABLE}"), e))
    }

    fn query_text(&mut self, sql: &str) -> Result<Vec<Vec<Option<String>>>, Error> {
        // The simple query protocol returns every value as text.
        let messages = self.client.simple_query(sql).map_err(|e| db_err(sql, e))?;
        Ok(messages
            .iter()
            .filter_map(|m| match m {
                postgres::SimpleQueryMessage::Row(row) => Some(
                    (0..row.len())
                        .map(|i| row.get(i).map(str::to_string))
                        .collect(),
                ),
                _ => None,
            })
            .collect())
    }

    fn execute(&mut self, sql: &str) -> Result<(), Error> {
        self.client.batch_execute(sql).map_err(|e| db_err(sql, e))
    }

    fn try_lock(&mut self) -> Result<bool, Error> {
        let row = self
            .client
            .query_one("SELECT pg_try_advisory_lock($1)", &[&LOCK_KEY])
            .map_err(|e| db_err("cannot poll the migration lock", e))?;
        self.locked = row.get::<_, bool>(0);
        Ok(self.locked)
    }

    fn holder(&mut self) -> String {
        self.describe_holder()
    }

    fn lock_holder(&mut self) -> Result<Option<String>, Error> {
        let query = "SELECT count(*) FROM pg_locks l \
                     WHERE l.locktype = 'advisory' AND l.granted AND l.objsubid = 1 \
                     AND l.pid <> pg_backend_pid() \
                     AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database()) \
                     AND ((l.classid::bigint << 32) | l.objid::bigint) = $1";
        let row = self
            .client
            .query_one(query, &[&LOCK_KEY])
            .map_err(|e| db_err("cannot look at the migration lock", e))?;
        Ok(if row.get::<_, i64>(0) > 0 {
            Some(self.describe_holder())
        } else {
            None
        })
    }

    fn database(&self) -> String {
        self.database.clone()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_parse_and_analysis_errors_prove_nothing_ran() {
        assert!(rejected_before_running(Some("42P01"))); // undefined table
        assert!(rejected_before_running(Some("42601"))); // syntax error
        assert!(rejected_before_running(Some("0A000")));
        assert!(!rejected_before_running(Some("23505"))); // unique index on duplicates
        assert!(!rejected_before_running(Some("40P01"))); // deadlock mid-build
        assert!(!rejected_before_running(None)); // connection lost
    }

    #[test]
    fn literals_survive_any_content() {
        assert_eq!(literal("it's"), "$dbm0$it's$dbm0$");
        assert_eq!(literal("x $dbm0$ y"), "$dbm1$x $dbm0$ y$dbm1$");
    }
}
