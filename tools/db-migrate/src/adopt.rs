//! Moving a database over from golang-migrate or dbmate: their history table
//! (`schema_migrations` by default) says what was applied, and `adopt` records exactly that in
//! db-migrate's history, without running anything. The two tools keep different tables:
//!
//! - golang-migrate: `version bigint, dirty boolean`, one row, the current version only (every
//!   migration up to it was applied, in order); `dirty` means a migration failed part-way, and
//!   such a database is refused until a human settles it;
//! - dbmate: `version varchar`, one row per applied migration (out-of-order ones included).
//!
//! Which one it is follows from the columns; anything else is refused rather than guessed.

use std::path::Path;

use crate::files::Migration;
use crate::url::Kind;
use crate::Error;

/// The table both tools use unless configured otherwise.
pub const DEFAULT_TABLE: &str = "schema_migrations";

/// The tool whose history is adopted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Source {
    GolangMigrate,
    Dbmate,
}

impl Source {
    pub fn name(self) -> &'static str {
        match self {
            Source::GolangMigrate => "golang-migrate",
            Source::Dbmate => "dbmate",
        }
    }
}

/// What the other tool's table says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Foreign {
    pub source: Source,
    /// golang-migrate: the current version (at most one); dbmate: every applied version.
    pub versions: Vec<i64>,
}

/// A table name is put into SQL text, so only plain identifiers (optionally `schema.table`).
pub fn check_table_name(table: &str) -> Result<(), Error> {
    let plain = |part: &str| {
        part.chars()
            .next()
            .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
            && part.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
    };
    let parts: Vec<&str> = table.split('.').collect();
    if parts.len() <= 2 && parts.iter().all(|p| plain(p)) {
        Ok(())
    } else {
        Err(Error::Usage(format!(
            "--table {table:?}: a table name is letters, digits and _ (optionally schema.table)"
        )))
    }
}

/// The query listing the table's column names (no rows: the table does not exist).
pub fn columns_sql(kind: Kind, table: &str) -> String {
    let (schema, name) = match table.split_once('.') {
        Some((schema, name)) => (Some(schema), name),
        None => (None, table),
    };
    match kind {
        Kind::Sqlite => format!("SELECT name FROM pragma_table_info('{name}')"),
        Kind::Postgres => format!(
            "SELECT column_name FROM information_schema.columns WHERE table_schema = {} AND table_name = '{name}' ORDER BY ordinal_position",
            schema.map_or_else(|| "current_schema()".to_string(), |s| format!("'{s}'"))
        ),
        Kind::Mysql => format!(
            "SELECT column_name FROM information_schema.columns WHERE table_schema = {} AND table_name = '{name}' ORDER BY ordinal_position",
            schema.map_or_else(|| "DATABASE()".to_string(), |s| format!("'{s}'"))
        ),
    }
}

/// Which tool the columns belong to; `None` when neither.
pub fn source_of(columns: &[String]) -> Option<Source> {
    let mut names: Vec<String> = columns.iter().map(|c| c.to_ascii_lowercase()).collect();
    names.sort();
    match names
        .iter()
        .map(String::as_str)
        .collect::<Vec<_>>()
        .as_slice()
    {
        ["dirty", "version"] => Some(Source::GolangMigrate),
        ["version"] => Some(Source::Dbmate),
        _ => None,
    }
}

/// The query reading the rows `interpret` expects.
pub fn rows_sql(source: Source, table: &str) -> String {
    match source {
        Source::GolangMigrate => format!("SELECT version, dirty FROM {table}"),
        Source::Dbmate => format!("SELECT version FROM {table}"),
    }
}

fn truthy(value: &str) -> bool {
    matches!(value.to_ascii_lowercase().as_str(), "t" | "true" | "1")
}

/// Read the rows of `source`'s table; a dirty golang-migrate version is refused (exit 3).
pub fn interpret(
    source: Source,
    table: &str,
    rows: &[Vec<Option<String>>],
) -> Result<Foreign, Error> {
    let parse = |value: Option<&String>| -> Result<i64, Error> {
        let text = value.map(String::as_str).unwrap_or("NULL");
        text.trim().parse::<i64>().map_err(|_| {
            Error::Usage(format!(
                "{table}: the {} version {text:?} is not a number",
                source.name()
            ))
        })
    };
    match source {
        Source::GolangMigrate => {
            if rows.len() > 1 {
                return Err(Error::Usage(format!(
                    "{table} has {} rows; golang-migrate keeps exactly one (the current version), so this is not its table or it was edited by hand",
                    rows.len()
                )));
            }
            let Some(row) = rows.first() else {
                return Ok(Foreign {
                    source,
                    versions: Vec::new(),
                });
            };
            let version = parse(row.first().and_then(Option::as_ref))?;
            if row.get(1).and_then(Option::as_deref).is_some_and(truthy) {
                return Err(Error::ForeignDirty {
                    table: table.to_string(),
                    version,
                });
            }
            Ok(Foreign {
                source,
                versions: vec![version],
            })
        }
        Source::Dbmate => {
            let mut versions = rows
                .iter()
                .map(|r| parse(r.first().and_then(Option::as_ref)))
                .collect::<Result<Vec<i64>, Error>>()?;
            versions.sort_unstable();
            Ok(Foreign { source, versions })
        }
    }
}

/// The migrations to record as applied: golang-migrate's version and every one below it;
/// dbmate's versions exactly. A version without a file is refused: the directory is not the
/// one that migrated this database (or is missing files), and guessing would lie.
pub fn select<'a>(
    files: &'a [Migration],
    foreign: &Foreign,
    dir: &Path,
    table: &str,
) -> Result<Vec<&'a Migration>, Error> {
    let missing: Vec<String> = foreign
        .versions
        .iter()
        .filter(|v| !files.iter().any(|f| f.version == **v))
        .map(i64::to_string)
        .collect();
    if !missing.is_empty() {
        return Err(Error::Usage(format!(
            "{table} records {} version(s) {} that have no migration file in {}; adopt needs the directory that migrated this database",
            foreign.source.name(),
            missing.join(", "),
            dir.display()
        )));
    }
    Ok(match (foreign.source, foreign.versions.first()) {
        (Source::GolangMigrate, Some(&top)) => files.iter().filter(|f| f.version <= top).collect(),
        (Source::GolangMigrate, None) => Vec::new(),
        (Source::Dbmate, _) => files
            .iter()
            .filter(|f| foreign.versions.contains(&f.version))
            .collect(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn text(values: &[&str]) -> Vec<Option<String>> {
        values.iter().map(|v| Some(v.to_string())).collect()
    }

    #[test]
    fn columns_tell_the_tool() {
        let cols = |c: &[&str]| c.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        assert_eq!(
            source_of(&cols(&["version", "dirty"])),
            Some(Source::GolangMigrate)
        );
        assert_eq!(source_of(&cols(&["VERSION"])), Some(Source::Dbmate));
        assert_eq!(source_of(&cols(&["version", "applied_at"])), None);
        assert_eq!(source_of(&[]), None);
    }

    #[test]
    fn golang_migrate_one_clean_row_or_refused() {
        let t = DEFAULT_TABLE;
        let ok = interpret(Source::GolangMigrate, t, &[text(&["7", "f"])]).unwrap();
        assert_eq!(ok.versions, vec![7]);
        let e = interpret(Source::GolangMigrate, t, &[text(&["7", "1"])]).unwrap_err();
        assert!(matches!(e, Error::ForeignDirty { version: 7, .. }), "{e}");
        let e = interpret(
            Source::GolangMigrate,
            t,
            &[text(&["1", "f"]), text(&["2", "f"])],
        )
        .unwrap_err();
        assert!(e.to_string().contains("exactly one"), "{e}");
        let e = interpret(Source::Dbmate, t, &[text(&["x1"])]).unwrap_err();
        assert!(e.to_string().contains("not a number"), "{e}");
    }

    #[test]
    fn table_names_are_plain_identifiers() {
        assert!(check_table_name("schema_migrations").is_ok());
        assert!(check_table_name("public.schema_migrations").is_ok());
        assert!(check_table_name("x; DROP TABLE y").is_err());
        assert!(check_table_name("a.b.c").is_err());
        assert!(check_table_name("").is_err());
    }
}
