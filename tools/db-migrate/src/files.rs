//! The migrations directory, in the layouts other tools use, so an existing project adopts
//! db-migrate without renaming a file:
//!
//! - golang-migrate and sqlx (reversible): `VERSION_NAME.up.sql` plus an optional
//!   `VERSION_NAME.down.sql`, golang-migrate's whole rule `^[0-9]+_.*\.(up|down)\.sql$` (dots
//!   in the name, such as `0002_1.7.0_schema`, and version 0 included);
//! - dbmate: one `VERSION_NAME.sql` with a `-- migrate:up` and an optional `-- migrate:down`
//!   section (`-- migrate:up transaction:false` runs it outside a transaction);
//! - sqlx (simple): one `VERSION_NAME.sql` without those markers, up only.
//!
//! Everything is checked before a connection is opened: a malformed name, a duplicate version
//! (also across layouts: `1_a.sql` next to `1_a.up.sql` is ambiguous) or a down file without its
//! up file is bad input (exit 2) and nothing runs.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use crate::checksum;
use crate::Error;

/// The first-line directive that opts a migration out of the wrapping transaction.
pub const NO_TRANSACTION: &str = "-- no-transaction";

/// dbmate's section markers, each on a line of its own.
const DBMATE_UP: &str = "-- migrate:up";
const DBMATE_DOWN: &str = "-- migrate:down";

/// One migration as found on disk.
#[derive(Debug, Clone)]
pub struct Migration {
    /// The version from the file name.
    pub version: i64,
    /// The name from the file name.
    pub name: String,
    /// The file holding the up SQL (the `.up.sql` file, or the single dbmate/sqlx file).
    pub up_path: PathBuf,
    /// The SQL that applies it.
    pub up_sql: String,
    /// The SQL that reverts it, if the migration has any.
    pub down_sql: Option<String>,
    /// Checksum of the up SQL ([`checksum::ALGORITHM`]).
    pub checksum: String,
    /// False when the up SQL starts with `-- no-transaction` (or dbmate's
    /// `-- migrate:up transaction:false`).
    pub transactional: bool,
    /// When in a rolling install it runs (`-- db-migrate: phase=post`; pre by default).
    pub phase: Phase,
    /// The 1-based line of `up_path` where `up_sql` starts (after dbmate's `-- migrate:up`),
    /// so lint names the file's own lines.
    pub up_line: usize,
}

/// When a migration runs in a rolling install: *pre* (expand) before the first host gets the
/// new release, while the old one still serves; *post* (contract) after every host runs it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Phase {
    /// Before the rollout (the default): must keep the running version working.
    Pre,
    /// After the rollout: drops, renames' cleanup, NOT NULL, validation.
    Post,
}

impl Phase {
    /// `pre` or `post`.
    pub fn as_str(self) -> &'static str {
        match self {
            Phase::Pre => "pre",
            Phase::Post => "post",
        }
    }
}

/// The phase directive's prefix: a SQL comment, so golang-migrate, dbmate and sqlx read the
/// file unchanged.
pub const PHASE_DIRECTIVE: &str = "-- db-migrate:";

/// The phase a migration's up SQL declares in its leading comment lines (before the first
/// statement): `-- db-migrate: phase=post` or `phase=pre`; none means pre. A directive after
/// the first statement, or an unknown one, is refused rather than ignored: a misplaced
/// `phase=post` would otherwise make a contracting migration run before the rollout.
pub fn phase_of(sql: &str) -> Result<Phase, String> {
    let mut phase = None;
    let mut leading = true;
    for (i, line) in sql.lines().enumerate() {
        let t = line.trim();
        let t = t.strip_prefix('\u{feff}').unwrap_or(t);
        let directive = t
            .strip_prefix("--")
            .map(str::trim_start)
            .and_then(|r| r.strip_prefix("db-migrate:"));
        if let Some(rest) = directive {
            if !leading {
                return Err(format!(
                    "line {}: `{t}` comes after the first statement; put it in the comment lines at the top",
                    i + 1
                ));
            }
            let value = match rest.trim() {
                "phase=pre" => Phase::Pre,
                "phase=post" => Phase::Post,
                other => {
                    return Err(format!(
                        "line {}: unknown directive `{other}`; db-migrate knows `{PHASE_DIRECTIVE} phase=pre` and `{PHASE_DIRECTIVE} phase=post`",
                        i + 1
                    ))
                }
            };
            if phase.is_some_and(|p| p != value) {
                return Err(format!(
                    "line {}: a second, different phase directive",
                    i + 1
                ));
            }
            phase = Some(value);
        } else if !(t.is_empty() || t.starts_with("--")) {
            leading = false;
        }
    }
    Ok(phase.unwrap_or(Phase::Pre))
}

impl Migration {
    /// `0003_add_users`, the name used in reports.
    pub fn label(&self) -> String {
        format!("{:04}_{}", self.version, self.name)
    }
}

/// Whether SQL text asks to run outside a transaction (first line `-- no-transaction`).
pub fn is_transactional(sql: &str) -> bool {
    let text = sql.strip_prefix('\u{feff}').unwrap_or(sql);
    let first = text.lines().next().unwrap_or("").trim();
    first != NO_TRANSACTION
}

/// Which layout a file belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Half {
    /// `.up.sql` (golang-migrate, sqlx reversible).
    Up,
    /// `.down.sql`.
    Down,
    /// `VERSION_NAME.sql`: dbmate sections, or a sqlx simple migration.
    Single,
}

const EXPECTED: &str =
    "expected VERSION_NAME.up.sql / VERSION_NAME.down.sql (golang-migrate, sqlx) or VERSION_NAME.sql (dbmate, sqlx), VERSION being digits";

/// Split `0003_add_users.up.sql` into (3, "add_users", Up); `Err` names the problem.
fn parse_name(file: &str) -> Result<(i64, String, Half), String> {
    let (stem, half) = if let Some(stem) = file.strip_suffix(".up.sql") {
        (stem, Half::Up)
    } else if let Some(stem) = file.strip_suffix(".down.sql") {
        (stem, Half::Down)
    } else if let Some(stem) = file.strip_suffix(".sql") {
        (stem, Half::Single)
    } else {
        return Err(format!("malformed migration file name: {EXPECTED}"));
    };
    let Some((digits, name)) = stem.split_once('_') else {
        return Err(format!("malformed migration file name: {EXPECTED}"));
    };
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return Err(format!(
            "malformed migration file name: the version {digits:?} is not a number; {EXPECTED}"
        ));
    }
    let version: i64 = digits
        .parse()
        .map_err(|_| format!("the version {digits} is too large (at most {})", i64::MAX))?;
    Ok((version, name.to_string(), half))
}

/// The files of one version: the up SQL's file and its layout, and a separate down file.
#[derive(Debug, Clone)]
struct Found {
    name: String,
    up: PathBuf,
    half: Half,
    down: Option<PathBuf>,
}

/// The migration files of `dir` by version, names and pairs checked, contents not read.
type Scanned = BTreeMap<i64, Found>;

fn file_name(path: &Path) -> String {
    path.file_name()
        .map(|f| f.to_string_lossy().into_owned())
        .unwrap_or_default()
}

fn scan(dir: &Path) -> Result<Scanned, Error> {
    let bad = |path: &Path, problem: String| Error::BadMigration {
        path: path.to_path_buf(),
        problem,
    };
    let entries = std::fs::read_dir(dir)
        .map_err(|e| bad(dir, format!("cannot read the migrations directory: {}", e)))?;
    let mut ups: BTreeMap<i64, (String, PathBuf, Half)> = BTreeMap::new();
    let mut downs: BTreeMap<i64, (String, PathBuf)> = BTreeMap::new();
    let mut paths: Vec<PathBuf> = Vec::new();
    for entry in entries {
        let entry = entry.map_err(|e| bad(dir, format!("cannot list: {e}")))?;
        paths.push(entry.path());
    }
    // Sorted, so that which of two clashing files is named first does not depend on the
    // directory's order on disk.
    paths.sort();
    for path in paths {
        let Some(os_name) = path.file_name() else {
            continue;
        };
        let Some(file) = os_name.to_str().map(str::to_string) else {
            // Skipping it would silently leave a migration unapplied with exit 0.
            if std::os::unix::ffi::OsStrExt::as_bytes(os_name).ends_with(b".sql") {
                return Err(bad(
                    &path,
                    "the file name is not UTF-8 (written in another encoding?); rename it".into(),
                ));
            }
            continue;
        };
        // Editor backups, hidden files and anything not SQL (README, .keep) are not ours.
        if file.starts_with('.') || !file.ends_with(".sql") || path.is_dir() {
            continue;
        }
        let (version, name, half) = parse_name(&file).map_err(|p| bad(&path, p))?;
        let clash = match half {
            Half::Down => downs.get(&version).map(|(_, p)| p.clone()),
            _ => ups.get(&version).map(|(_, p, _)| p.clone()),
        };
        if let Some(other) = clash {
            let other_half = parse_name(&file_name(&other)).map(|(_, _, h)| h).ok();
            let problem = if other_half == Some(half) {
                format!(
                    "duplicate version {version}: {} has it too; give each migration its own number",
                    other.display()
                )
            } else {
                format!(
                    "ambiguous version {version}: {} holds it in another layout (a dbmate/sqlx single file and a golang-migrate .up.sql); keep one of them",
                    other.display()
                )
            };
            return Err(bad(&path, problem));
        }
        match half {
            Half::Down => {
                downs.insert(version, (name, path));
            }
            _ => {
                ups.insert(version, (name, path, half));
            }
        }
    }
    for (version, (name, path)) in &downs {
        match ups.get(version) {
            None => {
                return Err(bad(
                    path,
                    format!("down migration without an up migration {version:04}_{name}.up.sql"),
                ))
            }
            Some((_, up, Half::Single)) => {
                return Err(bad(
                    path,
                    format!(
                        "ambiguous version {version}: {} is a single-file migration (dbmate/sqlx), which cannot take a .down.sql; use its -- migrate:down section or rename it to .up.sql",
                        up.display()
                    ),
                ))
            }
            Some((up_name, _, _)) if up_name != name => {
                return Err(bad(
                    path,
                    format!(
                        "its name does not match the up migration {version:04}_{up_name}.up.sql"
                    ),
                ))
            }
            Some(_) => {}
        }
    }
    Ok(ups
        .into_iter()
        .map(|(version, (name, up, half))| {
            let down = downs.remove(&version).map(|(_, p)| p);
            (
                version,
                Found {
                    name,
                    up,
                    half,
                    down,
                },
            )
        })
        .collect())
}

/// A dbmate file split into (up SQL, down SQL, transactional), or `None` when the file has no
/// `-- migrate:up` line (then it is a sqlx simple migration, all of it up SQL). The markers'
/// lines themselves are left out; an option `transaction:false` on the up marker runs the
/// migration outside a transaction, as dbmate does.
#[allow(clippy::type_complexity)]
fn dbmate_sections(text: &str) -> Result<Option<(String, Option<String>, bool, usize)>, String> {
    let is_marker = |line: &str, marker: &str| {
        let line = line.trim_end();
        line == marker || line.starts_with(&format!("{marker} "))
    };
    let lines: Vec<&str> = text.split_inclusive('\n').collect();
    let ups: Vec<usize> = (0..lines.len())
        .filter(|&i| is_marker(lines[i], DBMATE_UP))
        .collect();
    let downs: Vec<usize> = (0..lines.len())
        .filter(|&i| is_marker(lines[i], DBMATE_DOWN))
        .collect();
    let up = match (ups.as_slice(), downs.as_slice()) {
        ([], []) => return Ok(None),
        ([], _) => return Err(format!("a {DBMATE_DOWN} section without a {DBMATE_UP} section")),
        ([up], []) | ([up], [_]) => *up,
        _ => {
            return Err(format!(
                "more than one {DBMATE_UP} or {DBMATE_DOWN} section; db-migrate takes one of each per file"
            ))
        }
    };
    if let Some(&down) = downs.first() {
        if down < up {
            return Err(format!(
                "the {DBMATE_DOWN} section comes before {DBMATE_UP}"
            ));
        }
    }
    if lines[..up].iter().any(|l| !crate::split::is_blank(l)) {
        return Err(format!("SQL before the {DBMATE_UP} line"));
    }
    let end = downs.first().copied().unwrap_or(lines.len());
    let up_sql: String = lines[up + 1..end].concat();
    let down_sql = downs.first().map(|&d| lines[d + 1..].concat());
    let transactional = !lines[up]
        .split_whitespace()
        .any(|option| option == "transaction:false");
    Ok(Some((up_sql, down_sql, transactional, up + 2)))
}

/// Read every migration in `dir`, sorted by version.
pub fn load(dir: &Path) -> Result<Vec<Migration>, Error> {
    let bad = |path: &Path, problem: String| Error::BadMigration {
        path: path.to_path_buf(),
        problem,
    };
    let scanned = scan(dir)?;
    let mut out = Vec::with_capacity(scanned.len());
    for (version, found) in scanned {
        let text = read_sql(&found.up)?;
        let (up_sql, down_sql, transactional, up_line) = match found.half {
            Half::Single => match dbmate_sections(&text).map_err(|p| bad(&found.up, p))? {
                Some((up, down, tx, line)) => (up, down, tx, line),
                None => {
                    let transactional = is_transactional(&text);
                    (text, None, transactional, 1)
                }
            },
            _ => {
                let down_sql = match &found.down {
                    Some(p) => Some(read_sql(p)?),
                    None => None,
                };
                let transactional = is_transactional(&text);
                (text, down_sql, transactional, 1)
            }
        };
        let phase = phase_of(&up_sql).map_err(|p| bad(&found.up, p))?;
        if crate::split::is_blank(&up_sql) {
            return Err(bad(
                &found.up,
                "the migration is empty (only whitespace or comments)".into(),
            ));
        }
        out.push(Migration {
            version,
            checksum: checksum::checksum(&up_sql),
            transactional,
            phase,
            up_line,
            name: found.name,
            up_path: found.up,
            up_sql,
            down_sql,
        });
    }
    Ok(out)
}

/// The file's text without a leading BOM: servers take U+FEFF for part of the first word
/// (PostgreSQL and MariaDB: syntax error), and it must not be stored as down SQL either. The
/// checksum is unchanged by this ([`checksum::normalise`] strips it too).
fn read_sql(path: &Path) -> Result<String, Error> {
    let bytes = std::fs::read(path).map_err(|e| Error::BadMigration {
        path: path.to_path_buf(),
        problem: format!("cannot read: {}", e),
    })?;
    let text = String::from_utf8(bytes).map_err(|e| Error::BadMigration {
        path: path.to_path_buf(),
        problem: format!("not UTF-8 (byte {})", e.utf8_error().valid_up_to()),
    })?;
    Ok(match text.strip_prefix('\u{feff}') {
        Some(rest) => rest.to_string(),
        None => text,
    })
}

/// The next free version and the zero-padding the directory uses (4 digits by default).
pub fn next_version(dir: &Path) -> Result<(i64, usize), Error> {
    let scanned = if dir.exists() {
        scan(dir)?
    } else {
        Scanned::new()
    };
    let width = scanned
        .values()
        .filter_map(|found| {
            found
                .up
                .file_name()
                .and_then(|f| f.to_str())
                .and_then(|f| f.split_once('_'))
                .map(|(d, _)| d.len())
        })
        .max()
        .unwrap_or(4)
        .max(4);
    // The highest version an i64 holds has no successor: say so rather than overflow.
    let next = match scanned.iter().next_back() {
        None => 1,
        Some((&version, found)) => version.checked_add(1).ok_or_else(|| Error::BadMigration {
            path: found.up.clone(),
            problem: format!("version {version} is the highest possible: no version follows it"),
        })?,
    };
    Ok((next, width))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_parse_or_say_why_not() {
        assert_eq!(
            parse_name("0003_add_users.up.sql").unwrap(),
            (3, "add_users".into(), Half::Up)
        );
        assert_eq!(
            parse_name("12_x-y.down.sql").unwrap(),
            (12, "x-y".into(), Half::Down)
        );
        // golang-migrate's whole rule: dots in the name and version 0 (harbor, flipt).
        assert_eq!(
            parse_name("0002_1.7.0_schema.up.sql").unwrap(),
            (2, "1.7.0_schema".into(), Half::Up)
        );
        assert_eq!(
            parse_name("0_initial.up.sql").unwrap(),
            (0, "initial".into(), Half::Up)
        );
        assert_eq!(
            parse_name("20240101120000_create_users.sql").unwrap(),
            (20240101120000, "create_users".into(), Half::Single)
        );
        assert!(parse_name("V1__init.sql")
            .unwrap_err()
            .contains("not a number"));
        assert!(parse_name("0001-init.up.sql")
            .unwrap_err()
            .contains("malformed"));
        assert!(parse_name("abc_init.up.sql")
            .unwrap_err()
            .contains("not a number"));
        assert!(parse_name("99999999999999999999_big.up.sql")
            .unwrap_err()
            .contains("too large"));
    }

    #[test]
    fn dbmate_sections_split_up_and_down() {
        let (up, down, tx, line) = dbmate_sections(
            "-- migrate:up\nCREATE TABLE a (x INT);\n\n-- migrate:down\nDROP TABLE a;\n",
        )
        .unwrap()
        .unwrap();
        assert_eq!(up, "CREATE TABLE a (x INT);\n\n");
        assert_eq!(down.as_deref(), Some("DROP TABLE a;\n"));
        assert!(tx && line == 2);
        let (_, down, tx, _) = dbmate_sections("-- migrate:up transaction:false\nVACUUM;\n")
            .unwrap()
            .unwrap();
        assert!(down.is_none() && !tx);
        assert!(dbmate_sections("CREATE TABLE a (x INT);\n")
            .unwrap()
            .is_none());
        assert!(
            dbmate_sections("-- migrate:down\nSELECT 1;\n-- migrate:up\nSELECT 1;\n")
                .unwrap_err()
                .contains("before")
        );
        assert!(
            dbmate_sections("-- migrate:up\nSELECT 1;\n-- migrate:up\nSELECT 2;\n")
                .unwrap_err()
                .contains("more than one")
        );
    }

    #[test]
    fn phase_is_a_leading_comment_directive() {
        assert_eq!(phase_of("CREATE TABLE a (x INT);"), Ok(Phase::Pre));
        assert_eq!(
            phase_of("-- drop the old column\n-- db-migrate: phase=post\nALTER TABLE a DROP x;"),
            Ok(Phase::Post)
        );
        assert_eq!(
            phase_of(
                "-- no-transaction\n\n--   db-migrate:   phase=post  \nDROP INDEX CONCURRENTLY i;"
            ),
            Ok(Phase::Post)
        );
        assert_eq!(
            phase_of("-- no-transaction\n-- db-migrate: phase=post\nSELECT 1;"),
            Ok(Phase::Post)
        );
        assert!(phase_of("SELECT 1;\n-- db-migrate: phase=post\n")
            .unwrap_err()
            .contains("after the first statement"));
        assert!(phase_of("-- db-migrate: phase=later\nSELECT 1;")
            .unwrap_err()
            .contains("unknown directive"));
        assert!(
            phase_of("-- db-migrate: phase=pre\n-- db-migrate: phase=post\nSELECT 1;")
                .unwrap_err()
                .contains("second")
        );
    }

    #[test]
    fn no_transaction_is_a_first_line_directive() {
        assert!(!is_transactional(
            "-- no-transaction\nCREATE INDEX CONCURRENTLY i ON t(x);"
        ));
        assert!(!is_transactional("\u{feff}-- no-transaction  \r\nVACUUM;"));
        assert!(is_transactional("SELECT 1;\n-- no-transaction\n"));
    }
}
