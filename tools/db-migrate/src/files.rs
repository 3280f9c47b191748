//! The migrations directory: `NNNN_name.up.sql` plus an optional `NNNN_name.down.sql` (the
//! sqlx/golang-migrate layout, so existing projects adopt it without renaming). Everything is
//! checked before a connection is opened: a malformed name, a duplicate version or a down file
//! without its up file is bad input (exit 2) and nothing runs.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use crate::checksum;
use crate::Error;

/// The first-line directive that opts a migration out of the wrapping transaction.
pub const NO_TRANSACTION: &str = "-- no-transaction";

/// One migration as found on disk.
#[derive(Debug, Clone)]
pub struct Migration {
    pub version: i64,
    pub name: String,
    pub up_path: PathBuf,
    pub up_sql: String,
    pub down_sql: Option<String>,
    /// Checksum of the up file ([`checksum::ALGORITHM`]).
    pub checksum: String,
    /// False when the up file starts with `-- no-transaction`.
    pub transactional: bool,
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

/// Which half of a migration a file holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Half {
    Up,
    Down,
}

/// Split `0003_add_users.up.sql` into (3, "add_users", Up); `Err` names the problem.
fn parse_name(file: &str) -> Result<(i64, String, Half), String> {
    const EXPECTED: &str =
        "expected NNNN_name.up.sql or NNNN_name.down.sql (name: letters, digits, _ or -)";
    let (stem, half) = if let Some(stem) = file.strip_suffix(".up.sql") {
        (stem, Half::Up)
    } else if let Some(stem) = file.strip_suffix(".down.sql") {
        (stem, Half::Down)
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
    if name.is_empty()
        || !name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
    {
        return Err(format!(
            "malformed migration file name: the name {name:?} is not letters, digits, _ or -; {EXPECTED}"
        ));
    }
    let version: i64 = digits
        .parse()
        .map_err(|_| format!("the version {digits} is too large"))?;
    if version == 0 {
        return Err(
            "version 0 is reserved (`down --to 0` means before every migration); start at 1".into(),
        );
    }
    Ok((version, name.to_string(), half))
}

/// The migration files of `dir` by version: (name, up file, down file), names and pairs
/// checked, contents not read.
type Scanned = BTreeMap<i64, (String, PathBuf, Option<PathBuf>)>;

fn scan(dir: &Path) -> Result<Scanned, Error> {
    let bad = |path: &Path, problem: String| Error::BadMigration {
        path: path.to_path_buf(),
        problem,
    };
    let entries = std::fs::read_dir(dir)
        .map_err(|e| bad(dir, format!("cannot read the migrations directory: {}", e)))?;
    let mut ups: BTreeMap<i64, (String, PathBuf)> = BTreeMap::new();
    let mut downs: BTreeMap<i64, (String, PathBuf)> = BTreeMap::new();
    for entry in entries {
        let entry = entry.map_err(|e| bad(dir, format!("cannot list: {e}")))?;
        let path = entry.path();
        let Some(file) = path
            .file_name()
            .and_then(|f| f.to_str())
            .map(str::to_string)
        else {
            continue;
        };
        // Editor backups, hidden files and anything not SQL (README, .keep) are not ours.
        if file.starts_with('.') || !file.ends_with(".sql") || path.is_dir() {
            continue;
        }
        let (version, name, half) = parse_name(&file).map_err(|p| bad(&path, p))?;
        let map = match half {
            Half::Up => &mut ups,
            Half::Down => &mut downs,
        };
        if let Some((_, other)) = map.get(&version) {
            return Err(bad(
                &path,
                format!(
                    "duplicate version {version}: {} has it too; give each migration its own number",
                    other.display()
                ),
            ));
        }
        map.insert(version, (name, path));
    }
    for (version, (name, path)) in &downs {
        match ups.get(version) {
            None => {
                return Err(bad(
                    path,
                    format!("down migration without an up migration {version:04}_{name}.up.sql"),
                ))
            }
            Some((up_name, _)) if up_name != name => {
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
        .map(|(version, (name, up))| {
            let down = downs.remove(&version).map(|(_, p)| p);
            (version, (name, up, down))
        })
        .collect())
}

/// Read every migration in `dir`, sorted by version.
pub fn load(dir: &Path) -> Result<Vec<Migration>, Error> {
    let bad = |path: &Path, problem: String| Error::BadMigration {
        path: path.to_path_buf(),
        problem,
    };
    let scanned = scan(dir)?;
    let mut out = Vec::with_capacity(scanned.len());
    for (version, (name, up_path, down_path)) in scanned {
        let up_sql = read_sql(&up_path)?;
        if crate::split::is_blank(&up_sql) {
            return Err(bad(
                &up_path,
                "the migration is empty (only whitespace or comments)".into(),
            ));
        }
        let down_sql = match down_path {
            Some(p) => Some(read_sql(&p)?),
            None => None,
        };
        out.push(Migration {
            version,
            checksum: checksum::checksum(&up_sql),
            transactional: is_transactional(&up_sql),
            name,
            up_path,
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
        .filter_map(|(_, up, _)| {
            up.file_name()
                .and_then(|f| f.to_str())
                .and_then(|f| f.split_once('_'))
                .map(|(d, _)| d.len())
        })
        .max()
        .unwrap_or(4)
        .max(4);
    let next = scanned.keys().next_back().map_or(1, |v| v + 1);
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
        assert!(parse_name("V1__init.sql")
            .unwrap_err()
            .contains("malformed"));
        assert!(parse_name("0001-init.up.sql")
            .unwrap_err()
            .contains("malformed"));
        assert!(parse_name("abc_init.up.sql")
            .unwrap_err()
            .contains("not a number"));
        assert!(parse_name("0001_in it.up.sql")
            .unwrap_err()
            .contains("letters"));
        assert!(parse_name("0000_zero.up.sql")
            .unwrap_err()
            .contains("reserved"));
        assert!(parse_name("99999999999999999999_big.up.sql")
            .unwrap_err()
            .contains("too large"));
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
