//! The history table, `db_migrate_history`: one row per applied migration with everything a
//! later run needs to trust it (checksum and its algorithm) and to undo it without the files
//! (the down SQL as it was at apply time), plus who applied it, when, how long it took and
//! from which release. `success = false` marks a non-transactional migration in progress.

use crate::url::Kind;

/// The table's name in every database.
pub const TABLE: &str = "db_migrate_history";

/// One history row.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Applied {
    /// The migration's version.
    pub version: i64,
    /// The migration's name.
    pub name: String,
    /// Checksum of the up SQL as applied.
    pub checksum: String,
    /// How `checksum` was computed (lets a later algorithm tell old rows apart).
    pub checksum_algo: String,
    /// The down SQL stored when the migration was applied (`None`: irreversible/baseline).
    pub down_sql: Option<String>,
    /// RFC 3339 UTC.
    pub applied_at: String,
    /// Who applied it (user@host).
    pub applied_by: String,
    /// How long it ran, in milliseconds.
    pub execution_ms: i64,
    /// False while a non-transactional migration is in progress (or after it failed half-way).
    pub success: bool,
    /// The package version given with `--release`.
    pub release: Option<String>,
}

/// The `CREATE TABLE` for one database; column types differ, the columns do not.
pub fn create_sql(kind: Kind) -> String {
    match kind {
        Kind::Postgres => format!(
            "CREATE TABLE IF NOT EXISTS {TABLE} (version BIGINT PRIMARY KEY, name TEXT NOT NULL, \
             checksum TEXT NOT NULL, checksum_algo TEXT NOT NULL, down_sql TEXT, \
             applied_at TEXT NOT NULL, applied_by TEXT NOT NULL, execution_ms BIGINT NOT NULL, \
             success BOOLEAN NOT NULL, package_version TEXT)"
        ),
        Kind::Sqlite => format!(
            "CREATE TABLE IF NOT EXISTS {TABLE} (version INTEGER PRIMARY KEY, name TEXT NOT NULL, \
             checksum TEXT NOT NULL, checksum_algo TEXT NOT NULL, down_sql TEXT, \
             applied_at TEXT NOT NULL, applied_by TEXT NOT NULL, execution_ms INTEGER NOT NULL, \
             success INTEGER NOT NULL, package_version TEXT)"
        ),
        Kind::Mysql => format!(
            "CREATE TABLE IF NOT EXISTS {TABLE} (version BIGINT NOT NULL PRIMARY KEY, \
             name VARCHAR(255) NOT NULL, checksum VARCHAR(128) NOT NULL, \
             checksum_algo VARCHAR(32) NOT NULL, down_sql LONGTEXT NULL, \
             applied_at VARCHAR(40) NOT NULL, applied_by VARCHAR(255) NOT NULL, \
             execution_ms BIGINT NOT NULL, success BOOLEAN NOT NULL, \
             package_version VARCHAR(255) NULL) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4"
        ),
    }
}

/// A stored `success` flag: db-migrate writes 0 or 1 and nothing else. Any other number (a
/// hand edit, `2` or `-1`) is refused rather than read as "applied", which C-style truth
/// would make it.
pub fn success_flag(version: i64, raw: i64) -> Result<bool, crate::Error> {
    match raw {
        0 => Ok(false),
        1 => Ok(true),
        other => Err(crate::Error::BadHistory {
            version,
            problem: format!("success = {other}, not 0 or 1"),
        }),
    }
}

/// The columns in the order every driver selects them.
pub const COLUMNS: &str = "version, name, checksum, checksum_algo, down_sql, applied_at, \
                           applied_by, execution_ms, success, package_version";
