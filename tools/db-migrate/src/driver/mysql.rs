//! MariaDB/MySQL with the synchronous `mysql` crate. DDL commits implicitly there, so a
//! migration cannot commit together with its history row: the engine writes an in-progress
//! row first and marks it done afterwards. The migration file is sent whole (the server parses
//! it, stored-procedure bodies included) and *every* result set is read, because an error in a
//! later statement only surfaces there (`query_drop` would report success). The lock is
//! `GET_LOCK(name, 0)` polled, released on the same connection.

use std::time::Duration;

use mysql::prelude::Queryable;
use mysql::{Conn, Opts, OptsBuilder, Row};

use super::{connect_error, Connect, Driver, ExecError};
use crate::history::{Applied, COLUMNS, TABLE};
use crate::split::{self, Dialect};
use crate::url::{DbUrl, Kind};
use crate::Error;

pub(super) struct Mysql {
    conn: Conn,
    lock_name: String,
    database: String,
    locked: bool,
}

impl Mysql {
    pub(super) fn connect(url: &DbUrl, _how: &Connect<'_>) -> Result<Mysql, Error> {
        let raw = match url.raw.strip_prefix("mariadb://") {
            Some(rest) => format!("mysql://{rest}"),
            None => url.raw.clone(),
        };
        let opts = Opts::from_url(&raw).map_err(|e| Error::Url {
            url: url.redacted.clone(),
            problem: cdkit::redact::redact(&e.to_string()).into_owned(),
        })?;
        let opts = OptsBuilder::from_opts(opts).tcp_connect_timeout(Some(Duration::from_secs(10)));
        let conn = Conn::new(opts).map_err(|e| {
            // Access denied (1044, 1045), unknown database (1049): a refusal, not an outage.
            let refused =
                matches!(&e, mysql::Error::MySqlError(my) if [1044, 1045, 1049].contains(&my.code));
            connect_error(url, e, refused)
        })?;
        // GET_LOCK names are server-wide: one lock per database. At most 64 characters.
        let mut lock_name = format!("db-migrate.{}", url.database);
        lock_name.truncate(64);
        Ok(Mysql {
            conn,
            lock_name,
            database: url.database.clone(),
            locked: false,
        })
    }

    fn describe_holder(&mut self) -> String {
        let query = "SELECT p.ID, p.USER, p.HOST, p.TIME, coalesce(left(p.INFO, 80), '') \
                     FROM information_schema.PROCESSLIST p WHERE p.ID = IS_USED_LOCK(?)";
        match self
            .conn
            .exec_first::<Row, _, _>(query, (self.lock_name.as_str(),))
        {
            Ok(Some(row)) => {
                let id: u64 = get(&row, 0).unwrap_or(0);
                let user: String = get(&row, 1).unwrap_or_default();
                let host: String = get(&row, 2).unwrap_or_default();
                let time: i64 = get(&row, 3).unwrap_or(0);
                let info: String = get(&row, 4).unwrap_or_default();
                format!(
                    "MariaDB connection {id} ({user}@{host}, current statement running {time}s: {})",
                    info.replace('\n', " ")
                )
            }
            Ok(None) => "another connection (it has just released it)".into(),
            Err(e) => format!("another connection (cannot tell which: {e})"),
        }
    }
}

fn get<T: mysql::prelude::FromValue>(row: &Row, i: usize) -> Option<T> {
    row.get_opt::<T, usize>(i).and_then(Result::ok)
}

fn exec_error(e: &mysql::Error) -> ExecError {
    match e {
        mysql::Error::MySqlError(my) => {
            let mut err =
                ExecError::new(format!("ERROR {} ({}): {}", my.code, my.state, my.message));
            err.code = Some(my.code.to_string());
            err
        }
        other => ExecError::new(other),
    }
}

/// Whether MariaDB refused a statement before it ran (parsing, names, privileges), so a
/// failing first statement changed nothing. Error numbers, not SQLSTATE classes: 1051
/// (unknown table, SQLSTATE 42S02) comes from `DROP TABLE a, missing` *after* dropping `a`.
fn rejected_before_running(e: &mysql::Error) -> bool {
    const REJECTED: [u16; 13] = [
        1044, // access denied to the database
        1046, // no database selected
        1049, // unknown database
        1050, // table already exists
        1054, // unknown column
        1060, // duplicate column name
        1061, // duplicate key name
        1064, // syntax error
        1091, // cannot drop a column or key that does not exist
        1142, // table command denied
        1143, // column command denied
        1146, // table does not exist
        1227, // privilege needed
    ];
    matches!(e, mysql::Error::MySqlError(my) if REJECTED.contains(&my.code))
}

/// Whether one statement that failed may still have changed something on its own. MariaDB
/// undoes a failed statement as a whole: InnoDB rolls back the statement's row changes, and
/// DDL is atomic since 10.6 (a refused `ALTER` or `CREATE`, errors such as 1364 "no default
/// value" or 1901 "function cannot be used in a generated column", leaves nothing behind). The
/// exceptions are statements that act on several objects one after the other (`DROP TABLE a,
/// missing` drops `a`, then fails with 1051; `CREATE USER new, existing` creates `new`, then
/// fails with 1396) and compound statements (`BEGIN NOT ATOMIC … END`, `CALL`), whose earlier
/// inner statements stay committed. Tables of a non-transactional engine
/// (MyISAM, Aria) keep the rows written before a failure; that is not detected here.
fn may_have_changed_alone(statement: &str, e: &mysql::Error) -> bool {
    if rejected_before_running(e) {
        return false;
    }
    let text = without_leading_comments(statement).to_ascii_uppercase();
    let words: Vec<&str> = text.split_whitespace().take(3).collect();
    match words.as_slice() {
        // One object after another: `DROP TABLE a, b`, `DROP USER`, `GRANT … TO u1, u2`.
        ["DROP", ..]
        | ["GRANT", ..]
        | ["REVOKE", ..]
        | ["CREATE", "USER", ..]
        | ["CREATE", "ROLE", ..]
        | ["RENAME", "USER", ..] => text.contains(','),
        ["BEGIN", "NOT", "ATOMIC"] | ["CALL", ..] => true,
        _ => false,
    }
}

/// `statement` without the comments and whitespace before its first word.
fn without_leading_comments(mut statement: &str) -> &str {
    loop {
        statement = statement.trim_start();
        if statement.starts_with("--") || statement.starts_with('#') {
            statement = statement.split_once('\n').map_or("", |(_, rest)| rest);
        } else if let Some(rest) = statement.strip_prefix("/*") {
            statement = rest.split_once("*/").map_or("", |(_, rest)| rest);
        } else {
            return statement;
        }
    }
}

fn db_err(context: &str, e: mysql::Error) -> Error {
    Error::db(context, e)
}

impl Driver for Mysql {
    fn kind(&self) -> Kind {
        Kind::Mysql
    }

    fn unlock(&mut self) {
        if self.locked {
            let _ = self
                .conn
                .exec_drop("SELECT RELEASE_LOCK(?)", (self.lock_name.as_str(),));
            self.locked = false;
        }
    }

    fn history_exists(&mut self) -> Result<bool, Error> {
        let n: Option<i64> = self
            .conn
            .exec_first(
                "SELECT COUNT(*) FROM information_schema.TABLES WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = ?",
                (TABLE,),
            )
            .map_err(|e| db_err("cannot look for the history table", e))?;
        Ok(n.unwrap_or(0) > 0)
    }

    fn create_history(&mut self) -> Result<(), Error> {
        self.conn
            .query_drop(crate::history::create_sql(Kind::Mysql))
            .map_err(|e| db_err(&format!("cannot create {TABLE}"), e))
    }

    fn read_history(&mut self) -> Result<Vec<Applied>, Error> {
        let rows: Vec<Row> = self
            .conn
            .query(format!("SELECT {COLUMNS} FROM {TABLE} ORDER BY version"))
            .map_err(|e| db_err(&format!("cannot read {TABLE}"), e))?;
        rows.iter()
            .map(|r| {
                let version: i64 = get(r, 0).ok_or_else(|| Error::BadHistory {
                    version: 0,
                    problem: "a row without a readable version".into(),
                })?;
                let raw: i64 = get(r, 8).ok_or_else(|| Error::BadHistory {
                    version,
                    problem: "success is not a number".into(),
                })?;
                let success = crate::history::success_flag(version, raw)?;
                Ok(Applied {
                    version,
                    name: get(r, 1).unwrap_or_default(),
                    checksum: get(r, 2).unwrap_or_default(),
                    checksum_algo: get(r, 3).unwrap_or_default(),
                    down_sql: get::<Option<String>>(r, 4).flatten(),
                    applied_at: get(r, 5).unwrap_or_default(),
                    applied_by: get(r, 6).unwrap_or_default(),
                    execution_ms: get(r, 7).unwrap_or(0),
                    success,
                    release: get::<Option<String>>(r, 9).flatten(),
                })
            })
            .collect()
    }

    fn apply_atomic(&mut self, _sql: &str, _row: &Applied) -> Result<(), ExecError> {
        Err(ExecError::new(
            "MariaDB cannot commit DDL together with the history row (engine bug: use the in-progress path)",
        ))
    }

    fn revert_atomic(&mut self, _sql: &str, _version: i64) -> Result<(), ExecError> {
        Err(ExecError::new(
            "MariaDB cannot commit DDL together with the history row (engine bug: use the in-progress path)",
        ))
    }

    fn run_unwrapped(&mut self, sql: &str) -> Result<(), ExecError> {
        let statements = split::split(sql, Dialect::Mysql);
        let describe = |done: usize, e: &mysql::Error| {
            let mut err = exec_error(e);
            // Earlier statements are committed; the first one failing changed nothing unless it
            // is one of the few that act step by step.
            let statement = statements.get(done).map(|s| s.text);
            err.changed = done > 0 || statement.is_some_and(|text| may_have_changed_alone(text, e));
            err.statement = statement.map(str::to_string);
            err
        };
        let mut result = self.conn.query_iter(sql).map_err(|e| describe(0, &e))?;
        let mut done = 0;
        while let Some(set) = result.iter() {
            for row in set {
                if let Err(e) = row {
                    return Err(describe(done, &e));
                }
            }
            done += 1;
        }
        Ok(())
    }

    fn insert_row(&mut self, row: &Applied) -> Result<(), Error> {
        self.conn
            .exec_drop(
                format!("INSERT INTO {TABLE} ({COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"),
                (
                    row.version,
                    row.name.as_str(),
                    row.checksum.as_str(),
                    row.checksum_algo.as_str(),
                    row.down_sql.as_deref(),
                    row.applied_at.as_str(),
                    row.applied_by.as_str(),
                    row.execution_ms,
                    row.success,
                    row.release.as_deref(),
                ),
            )
            .map_err(|e| {
                db_err(
                    &format!("cannot record version {} in {TABLE}", row.version),
                    e,
                )
            })
    }

    fn set_success(&mut self, version: i64, success: bool, ms: Option<i64>) -> Result<(), Error> {
        self.conn
            .exec_drop(
                format!(
                    "UPDATE {TABLE} SET success = ?, execution_ms = coalesce(?, execution_ms) WHERE version = ?"
                ),
                (success, ms, version),
            )
            .map_err(|e| db_err(&format!("cannot update version {version} in {TABLE}"), e))
    }

    fn delete_row(&mut self, version: i64) -> Result<(), Error> {
        self.conn
            .exec_drop(format!("DELETE FROM {TABLE} WHERE version = ?"), (version,))
            .map_err(|e| db_err(&format!("cannot delete version {version} from {TABLE}"), e))
    }

    fn update_checksum(
        &mut self,
        version: i64,
        checksum: &str,
        algo: &str,
        down_sql: Option<&str>,
    ) -> Result<(), Error> {
        self.conn
            .exec_drop(
                format!(
                    "UPDATE {TABLE} SET checksum = ?, checksum_algo = ?, down_sql = ? WHERE version = ?"
                ),
                (checksum, algo, down_sql, version),
            )
            .map_err(|e| db_err(&format!("cannot update version {version} in {TABLE}"), e))
    }

    fn query_text(&mut self, sql: &str) -> Result<Vec<Vec<Option<String>>>, Error> {
        // The text protocol sends every value as bytes (or NULL).
        let rows: Vec<Row> = self.conn.query(sql).map_err(|e| db_err(sql, e))?;
        Ok(rows
            .iter()
            .map(|r| {
                (0..r.len())
                    .map(|i| get::<Option<String>>(r, i).flatten())
                    .collect()
            })
            .collect())
    }

    fn execute(&mut self, sql: &str) -> Result<(), Error> {
        self.conn.query_drop(sql).map_err(|e| db_err(sql, e))
    }

    fn try_lock(&mut self) -> Result<bool, Error> {
        let got: Option<Option<i64>> = self
            .conn
            .exec_first("SELECT GET_LOCK(?, 0)", (self.lock_name.as_str(),))
            .map_err(|e| db_err("cannot poll the migration lock", e))?;
        self.locked = got.flatten() == Some(1);
        Ok(self.locked)
    }

    fn holder(&mut self) -> String {
        self.describe_holder()
    }

    fn lock_holder(&mut self) -> Result<Option<String>, Error> {
        let other: Option<Option<u64>> = self
            .conn
            .exec_first(
                "SELECT IF(IS_USED_LOCK(?) = CONNECTION_ID(), NULL, IS_USED_LOCK(?))",
                (self.lock_name.as_str(), self.lock_name.as_str()),
            )
            .map_err(|e| db_err("cannot look at the migration lock", e))?;
        Ok(other.flatten().map(|_| self.describe_holder()))
    }

    fn database(&self) -> String {
        self.database.clone()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn server_error(code: u16) -> mysql::Error {
        mysql::Error::MySqlError(mysql::MySqlError {
            state: "HY000".into(),
            message: "refused".into(),
            code,
        })
    }

    #[test]
    fn only_step_by_step_statements_change_something_when_they_fail() {
        let e = server_error(1364);
        assert!(!may_have_changed_alone("INSERT INTO t (a) VALUES (1)", &e));
        assert!(!may_have_changed_alone(
            "-- generated\nALTER TABLE t ADD c INT AS (rand())",
            &server_error(1901)
        ));
        assert!(may_have_changed_alone(
            "/* two */ DROP TABLE t1, missing",
            &server_error(1051)
        ));
        assert!(!may_have_changed_alone(
            "DROP TABLE missing",
            &server_error(1051)
        ));
        assert!(may_have_changed_alone(
            "begin not atomic insert into t values (1); end",
            &e
        ));
        assert!(!may_have_changed_alone(
            "DROP TABLE a, b",
            &server_error(1064)
        ));
        assert!(may_have_changed_alone(
            "CREATE USER a@localhost, b@localhost",
            &server_error(1396)
        ));
        assert!(!may_have_changed_alone(
            "ALTER TABLE t ADD a INT, ADD b INT",
            &server_error(1364)
        ));
    }
}
