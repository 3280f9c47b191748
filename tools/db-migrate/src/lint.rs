//! `db-migrate lint`: refuse a pre-deploy migration that breaks the version still running.
//!
//! During a rolling install the old and the new release serve from one schema, so a migration
//! that runs before the rollout (the *pre* phase) may only expand it. PostgreSQL migrations
//! are checked with squawk's own parser and rules (its crates, in-process); MariaDB/MySQL and
//! SQLite ones with sqlparser, statement by statement. A statement the parser cannot read is a
//! finding of its own (`unparsed-statement`), never a silent pass: the check cannot vouch for
//! what it did not read.

use std::collections::BTreeSet;
use std::path::PathBuf;

use sqlparser::ast::{
    AlterColumnOperation, AlterTableOperation, ColumnOption, ObjectName, ObjectType, Statement,
};
use sqlparser::dialect::{Dialect as SqlDialect, MySqlDialect, SQLiteDialect};
use sqlparser::parser::Parser;
use squawk_linter::{Linter, Rule};
use squawk_syntax::SourceFile;

use crate::files::Migration;
use crate::url::Kind;

/// A statement the parser could not read: the check cannot vouch for it.
pub const UNPARSED: &str = "unparsed-statement";

/// The rules this check knows, with the safe way of making each change. squawk's names are
/// used (PostgreSQL runs squawk's own rules of these names); MariaDB/MySQL and SQLite run
/// db-migrate's rules of the same names, marked in the second column.
pub const RULES: &[(&str, bool, &str)] = &[
    ("ban-drop-column", true, "stop reading the column in one release, drop it in a post-deploy migration"),
    ("ban-drop-table", true, "stop using the table in one release, drop it in a post-deploy migration"),
    ("renaming-column", true, "expand/contract: add the new column and backfill (pre-deploy), read it in the new version, drop the old one (post-deploy)"),
    ("renaming-table", true, "expand/contract: create the new table (or a view under the new name) pre-deploy, drop the old name post-deploy"),
    ("changing-column-type", true, "add a column of the new type and backfill it (pre-deploy), switch reads, drop the old one (post-deploy)"),
    ("adding-required-field", true, "add the column nullable or with a default (pre-deploy); make it NOT NULL once every host writes it (post-deploy)"),
    ("adding-not-nullable-field", true, "add CHECK (col IS NOT NULL) NOT VALID pre-deploy, VALIDATE it and SET NOT NULL post-deploy"),
    ("require-concurrent-index-creation", false, "CREATE INDEX CONCURRENTLY in a `-- no-transaction` migration"),
    ("constraint-missing-not-valid", false, "add the constraint NOT VALID (pre-deploy), VALIDATE CONSTRAINT in a later migration"),
    ("adding-foreign-key-constraint", false, "add the foreign key NOT VALID (pre-deploy), VALIDATE CONSTRAINT in a later migration"),
    ("disallowed-unique-constraint", false, "CREATE UNIQUE INDEX CONCURRENTLY, then ADD CONSTRAINT … UNIQUE USING INDEX"),
    ("adding-field-with-default", false, "add the column without the volatile default, backfill in batches, then set the default"),
    (UNPARSED, true, "the check cannot read it: make it parse, or acknowledge it with --allow-unsafe unparsed-statement after reviewing it"),
];

/// Which parser and rules apply.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dialect {
    /// squawk's PostgreSQL rules.
    Postgres,
    /// sqlparser's MySQL dialect (MariaDB has none of its own).
    Mysql,
    /// sqlparser's SQLite dialect.
    Sqlite,
}

impl Dialect {
    /// The dialect of a database URL's kind.
    pub fn of(kind: Kind) -> Dialect {
        match kind {
            Kind::Postgres => Dialect::Postgres,
            Kind::Mysql => Dialect::Mysql,
            Kind::Sqlite => Dialect::Sqlite,
        }
    }

    /// `postgres`, `mysql`/`mariadb` or `sqlite` (the `--dialect` flag).
    pub fn parse(s: &str) -> Result<Dialect, String> {
        match s {
            "postgres" | "postgresql" => Ok(Dialect::Postgres),
            "mysql" | "mariadb" => Ok(Dialect::Mysql),
            "sqlite" => Ok(Dialect::Sqlite),
            other => Err(format!(
                "unknown dialect {other:?}: postgres, mariadb, mysql or sqlite"
            )),
        }
    }
}

/// One finding: a statement of a pre-deploy migration the running version may not survive.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Finding {
    /// The migration file.
    pub path: PathBuf,
    /// 1-based line of the statement (or of squawk's finding) in that file.
    pub line: usize,
    /// The rule's name (squawk's where squawk has one).
    pub rule: String,
    /// What the statement does and the safe way.
    pub message: String,
    /// Acknowledged with `--allow-unsafe RULE`: reported, not refused.
    pub acknowledged: bool,
}

impl std::fmt::Display for Finding {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{}:{}: {}: {}",
            self.path.display(),
            self.line,
            self.rule,
            self.message
        )
    }
}

/// Is `rule` one this check can report (for `--allow-unsafe`)?
pub fn known_rule(rule: &str) -> bool {
    RULES.iter().any(|(name, _, _)| *name == rule)
}

fn safe_way(rule: &str) -> &'static str {
    RULES
        .iter()
        .find(|(name, _, _)| *name == rule)
        .map_or("", |(_, _, how)| how)
}

/// A finding before it is tied to a file: (1-based line in the SQL, rule, what happened).
pub type Raw = (usize, String, String);

/// Check one migration's up SQL; lines are the file's (dbmate's up section is offset).
/// Post-deploy migrations are not checked: contracting is what they are for.
pub fn lint_migration(m: &Migration, dialect: Dialect, allowed: &[String]) -> Vec<Finding> {
    if m.phase == crate::files::Phase::Post {
        return Vec::new();
    }
    lint_sql(&m.up_sql, dialect)
        .into_iter()
        .map(|(line, rule, what)| Finding {
            path: m.up_path.clone(),
            line: line + m.up_line - 1,
            message: format!("{what}; safe way: {}", safe_way(&rule)),
            acknowledged: allowed.contains(&rule),
            rule,
        })
        .collect()
}

/// The longest statement handed to a parser. Both parsers recurse once per nesting level and
/// overflow the stack on deep input (`NOT NOT …`, `((((…`), which aborts the process: a
/// statement longer than this is a finding instead (migrations' DDL is far shorter; a big
/// data `INSERT` is reviewed by hand and acknowledged).
pub const MAX_STATEMENT: usize = 16 * 1024;

/// The parsers' thread stack: deep enough for [`MAX_STATEMENT`] bytes of the worst nesting.
const STACK: usize = 512 * 1024 * 1024;

/// Check SQL text; findings in line order. The parsers run on a thread of their own with a
/// large stack (see [`MAX_STATEMENT`]).
pub fn lint_sql(sql: &str, dialect: Dialect) -> Vec<Raw> {
    let text = sql.to_string();
    let worker = std::thread::Builder::new()
        .name("lint".into())
        .stack_size(STACK)
        .spawn(move || lint_sql_here(&text, dialect));
    match worker.map(|w| w.join()) {
        Ok(Ok(found)) => found,
        Ok(Err(_)) => vec![(
            1,
            UNPARSED.into(),
            "the SQL parser failed on this file".into(),
        )],
        Err(e) => vec![(
            1,
            UNPARSED.into(),
            format!("cannot start the SQL parser: {e}"),
        )],
    }
}

/// Statements longer than [`MAX_STATEMENT`]: one finding each, and the text with them blanked
/// (newlines kept, so every other line number stands).
fn without_long_statements(sql: &str, split: crate::split::Dialect) -> (String, Vec<Raw>) {
    let mut text = sql.to_string();
    let mut out = Vec::new();
    for stmt in crate::split::split(sql, split) {
        if stmt.text.len() > MAX_STATEMENT {
            out.push((
                first_sql_line(sql, stmt.start, stmt.text),
                UNPARSED.into(),
                format!(
                    "a statement of {} bytes, more than the {} the check parses; review it by hand",
                    stmt.text.len(),
                    MAX_STATEMENT
                ),
            ));
            let blank: String = stmt
                .text
                .chars()
                .map(|c| if c == '\n' { '\n' } else { ' ' })
                .collect();
            let start = stmt.start;
            text.replace_range(start..start + stmt.text.len(), &blank);
        }
    }
    (text, out)
}

fn lint_sql_here(sql: &str, dialect: Dialect) -> Vec<Raw> {
    let split = match dialect {
        Dialect::Mysql => crate::split::Dialect::Mysql,
        // SQLite's quoting is PostgreSQL's without `E''` or `$$` (no backslash escapes).
        _ => crate::split::Dialect::Postgres,
    };
    let (sql, mut long) = without_long_statements(sql, split);
    let sql = sql.as_str();
    let mut out = match dialect {
        Dialect::Postgres => lint_postgres(sql),
        Dialect::Mysql => lint_parsed(sql, &MySqlDialect {}, crate::split::Dialect::Mysql),
        Dialect::Sqlite => lint_parsed(sql, &SQLiteDialect {}, split),
    };
    out.append(&mut long);
    out.sort();
    out.dedup();
    out
}

/// 1-based line of byte `offset` in `text`.
fn line_at(text: &str, offset: usize) -> usize {
    let end = offset.min(text.len());
    text.as_bytes()[..end]
        .iter()
        .filter(|&&b| b == b'\n')
        .count()
        + 1
}

/// The squawk rules that map onto [`RULES`] (squawk's other rules are style or opt-in).
const SQUAWK_RULES: &[Rule] = &[
    Rule::BanDropColumn,
    Rule::BanDropTable,
    Rule::RenamingColumn,
    Rule::RenamingTable,
    Rule::ChangingColumnType,
    Rule::AddingRequiredField,
    Rule::AddingNotNullableField,
    Rule::RequireConcurrentIndexCreation,
    Rule::ConstraintMissingNotValid,
    Rule::AddingForeignKeyConstraint,
    Rule::DisallowedUniqueConstraint,
    Rule::AddingFieldWithDefault,
];

fn lint_postgres(sql: &str) -> Vec<Raw> {
    let parse = SourceFile::parse(sql);
    let mut out: Vec<Raw> = Vec::new();
    // One finding per line with a syntax error: squawk reports every token after it too.
    let mut seen = BTreeSet::new();
    for e in parse.errors() {
        let line = line_at(sql, usize::from(e.range().start()));
        if seen.insert(line) {
            out.push((
                line,
                UNPARSED.into(),
                format!("PostgreSQL syntax squawk cannot read: {}", e.message()),
            ));
        }
    }
    let mut linter = Linter::from(SQUAWK_RULES.iter().copied());
    for v in linter.lint(&parse, sql) {
        out.push((
            line_at(sql, usize::from(v.text_range.start())),
            v.code.to_string(),
            v.message,
        ));
    }
    out
}

fn name(n: &ObjectName) -> String {
    n.to_string()
}

/// MariaDB/MySQL and SQLite: each statement (split by quotes-aware [`crate::split`]) parsed
/// alone, so one unreadable statement is one finding and the rest are still checked.
fn lint_parsed(sql: &str, dialect: &dyn SqlDialect, split: crate::split::Dialect) -> Vec<Raw> {
    let mut out = Vec::new();
    // Tables this migration creates: changing them breaks no running version.
    let mut created: BTreeSet<String> = BTreeSet::new();
    let pieces = crate::split::split(sql, split);
    let parse = |text: &str| {
        Parser::new(dialect)
            .try_with_sql(text)
            .and_then(|mut p| p.parse_statements())
    };
    let mut i = 0;
    while i < pieces.len() {
        let first = pieces[i];
        let line = first_sql_line(sql, first.start, first.text);
        // A trigger or compound body holds `;`s of its own: when a piece alone does not
        // parse, try it joined with the next ones (up to a bound, so garbage stays linear).
        let mut parsed = parse(first.text).map(|s| (s, i));
        let mut j = i + 1;
        while parsed.is_err() && j < pieces.len() && j - i <= MAX_JOIN {
            let joined = &sql[first.start..pieces[j].end];
            if let Ok(s) = parse(joined) {
                parsed = Ok((s, j));
            }
            j += 1;
        }
        match parsed {
            Ok((statements, last)) => {
                for s in statements {
                    check_statement(&s, line, &mut created, &mut out);
                }
                i = last + 1;
            }
            Err(e) => {
                // Its "at Line: 1, Column: 5" counts within the statement, not the file.
                let e = e.to_string();
                let e = e.split(" at Line: ").next().unwrap_or_default();
                out.push((
                    line,
                    UNPARSED.into(),
                    format!("the SQL parser cannot read this statement ({e})"),
                ));
                i += 1;
            }
        }
    }
    out
}

/// How many following pieces a statement the parser cannot read alone is joined with.
const MAX_JOIN: usize = 32;

/// The line of a statement's first SQL word (the splitter's start includes leading comments).
fn first_sql_line(sql: &str, start: usize, text: &str) -> usize {
    let mut offset = 0;
    for l in text.split_inclusive('\n') {
        let t = l.trim();
        if t.is_empty() || t.starts_with("--") || t.starts_with('#') {
            offset += l.len();
            continue;
        }
        break;
    }
    line_at(sql, start + offset.min(text.len()))
}

fn check_statement(s: &Statement, line: usize, created: &mut BTreeSet<String>, out: &mut Vec<Raw>) {
    let mut push = |rule: &str, what: String| out.push((line, rule.to_string(), what));
    match s {
        Statement::CreateTable(t) => {
            created.insert(name(&t.name).to_lowercase());
        }
        Statement::Drop {
            object_type: ObjectType::Table,
            names,
            ..
        } => {
            for n in names {
                if !created.contains(&name(n).to_lowercase()) {
                    push(
                        "ban-drop-table",
                        format!("drops table {n}, which the running version still uses"),
                    );
                }
            }
        }
        Statement::RenameTable(renames) => {
            for r in renames {
                if !created.contains(&name(&r.old_name).to_lowercase()) {
                    push(
                        "renaming-table",
                        format!(
                            "renames table {} to {}; the running version still uses the old name",
                            r.old_name, r.new_name
                        ),
                    );
                }
            }
        }
        Statement::AlterTable(alter) => {
            let table = name(&alter.name);
            if created.contains(&table.to_lowercase()) {
                return;
            }
            for op in &alter.operations {
                check_alter(&table, op, &mut push);
            }
        }
        _ => {}
    }
}

fn check_alter(table: &str, op: &AlterTableOperation, push: &mut impl FnMut(&str, String)) {
    match op {
        AlterTableOperation::DropColumn { column_names, .. } => {
            for c in column_names {
                push(
                    "ban-drop-column",
                    format!("drops column {c} of {table}, which the running version still reads"),
                );
            }
        }
        AlterTableOperation::RenameColumn {
            old_column_name,
            new_column_name,
        } => push(
            "renaming-column",
            format!(
                "renames column {old_column_name} of {table} to {new_column_name}; the running version still uses the old name"
            ),
        ),
        AlterTableOperation::RenameTable { table_name } => push(
            "renaming-table",
            format!("renames table {table} to {table_name}; the running version still uses the old name"),
        ),
        AlterTableOperation::ChangeColumn {
            old_name, new_name, ..
        } => {
            if old_name.value.to_lowercase() != new_name.value.to_lowercase() {
                push(
                    "renaming-column",
                    format!(
                        "renames column {old_name} of {table} to {new_name}; the running version still uses the old name"
                    ),
                );
            }
            push(
                "changing-column-type",
                format!("redefines column {old_name} of {table} (type, nullability): it may narrow it or rewrite the table"),
            );
        }
        AlterTableOperation::ModifyColumn { col_name, .. } => push(
            "changing-column-type",
            format!("redefines column {col_name} of {table} (type, nullability): it may narrow it or rewrite the table"),
        ),
        AlterTableOperation::AlterColumn { column_name, op } => match op {
            AlterColumnOperation::SetDataType { .. } => push(
                "changing-column-type",
                format!("changes the type of column {column_name} of {table}: it may narrow it or rewrite the table"),
            ),
            AlterColumnOperation::SetNotNull => push(
                "adding-not-nullable-field",
                format!("makes column {column_name} of {table} NOT NULL; the running version may still write NULL"),
            ),
            _ => {}
        },
        AlterTableOperation::AddColumn { column_def, .. } => {
            let not_null = column_def
                .options
                .iter()
                .any(|o| matches!(o.option, ColumnOption::NotNull | ColumnOption::PrimaryKey(_)));
            let filled = column_def.options.iter().any(|o| match &o.option {
                ColumnOption::Default(_)
                | ColumnOption::Generated { .. }
                | ColumnOption::Identity(_) => true,
                ColumnOption::DialectSpecific(tokens) => tokens.iter().any(|t| {
                    let t = t.to_string().to_uppercase();
                    t == "AUTO_INCREMENT" || t == "AUTOINCREMENT"
                }),
                _ => false,
            });
            if not_null && !filled {
                push(
                    "adding-required-field",
                    format!(
                        "adds column {} to {table} NOT NULL without a default; the running version's INSERTs omit it and fail",
                        column_def.name
                    ),
                );
            }
        }
        _ => {}
    }
}

/// Every finding in the pre-deploy migrations `migrations`, in version and line order.
pub fn lint_all(migrations: &[&Migration], dialect: Dialect, allowed: &[String]) -> Vec<Finding> {
    migrations
        .iter()
        .flat_map(|m| lint_migration(m, dialect, allowed))
        .collect()
}

/// The one-line summary `lint` and `up --phase pre` end with when something is refused.
pub fn refusal(findings: &[Finding]) -> Option<String> {
    let open: Vec<&Finding> = findings.iter().filter(|f| !f.acknowledged).collect();
    let first = open.first()?;
    let more = if open.len() > 1 {
        format!(" (and {} more finding(s) above)", open.len() - 1)
    } else {
        String::new()
    };
    Some(format!(
        "{first}{more}; a pre-deploy migration must keep the running version working: expand in pre-deploy, contract in post-deploy (`-- db-migrate: phase=post`), or acknowledge with --allow-unsafe {}",
        first.rule
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rules(sql: &str, d: Dialect) -> Vec<(usize, String)> {
        lint_sql(sql, d)
            .into_iter()
            .map(|(l, r, _)| (l, r))
            .collect()
    }

    fn one(line: usize, rule: &str) -> Vec<(usize, String)> {
        vec![(line, rule.to_string())]
    }

    #[test]
    fn every_dialect_flags_drops_and_renames() {
        for d in [Dialect::Postgres, Dialect::Mysql, Dialect::Sqlite] {
            assert_eq!(
                rules("ALTER TABLE u DROP COLUMN email;", d),
                one(1, "ban-drop-column"),
                "{d:?}"
            );
            assert_eq!(
                rules("\n\nDROP TABLE u;", d),
                one(3, "ban-drop-table"),
                "{d:?}"
            );
            assert_eq!(
                rules("ALTER TABLE u RENAME COLUMN email TO mail;", d),
                one(1, "renaming-column"),
                "{d:?}"
            );
            assert_eq!(
                rules("ALTER TABLE u RENAME TO users;", d),
                one(1, "renaming-table"),
                "{d:?}"
            );
            assert_eq!(
                rules("ALTER TABLE u ADD COLUMN age INT NOT NULL;", d),
                one(1, "adding-required-field"),
                "{d:?}"
            );
            // Expanding is fine.
            assert_eq!(
                rules("ALTER TABLE u ADD COLUMN age INT;", d),
                vec![],
                "{d:?}"
            );
            assert_eq!(
                rules("ALTER TABLE u ADD COLUMN age INT NOT NULL DEFAULT 0;", d),
                vec![],
                "{d:?}"
            );
        }
    }

    #[test]
    fn tables_created_in_the_same_migration_are_free_to_change() {
        for d in [Dialect::Mysql, Dialect::Sqlite] {
            let sql =
                "CREATE TABLE t (a INT);\nALTER TABLE t ADD COLUMN b INT NOT NULL;\nDROP TABLE t;";
            assert_eq!(rules(sql, d), vec![], "{d:?}");
        }
    }

    #[test]
    fn mariadb_change_and_modify() {
        let d = Dialect::Mysql;
        assert_eq!(
            rules(
                "ALTER TABLE u MODIFY age BIGINT, ALGORITHM=INPLACE, LOCK=NONE;",
                d
            ),
            one(1, "changing-column-type")
        );
        assert_eq!(
            rules("ALTER TABLE u CHANGE email mail VARCHAR(20);", d),
            vec![
                (1, "changing-column-type".into()),
                (1, "renaming-column".into())
            ]
        );
        assert_eq!(
            rules("RENAME TABLE u TO users;", d),
            one(1, "renaming-table")
        );
        assert_eq!(
            rules(
                "ALTER TABLE u ADD COLUMN id2 INT NOT NULL AUTO_INCREMENT UNIQUE;",
                d
            ),
            vec![]
        );
    }

    #[test]
    fn postgres_lock_rules() {
        let d = Dialect::Postgres;
        assert_eq!(
            rules("CREATE INDEX i ON u (email);", d),
            one(1, "require-concurrent-index-creation")
        );
        assert_eq!(
            rules("CREATE INDEX CONCURRENTLY i ON u (email);", d),
            vec![]
        );
        assert_eq!(
            rules("ALTER TABLE u ALTER COLUMN age TYPE bigint;", d),
            one(1, "changing-column-type")
        );
        assert_eq!(
            rules("ALTER TABLE u ADD CONSTRAINT c CHECK (age > 0);", d),
            one(1, "constraint-missing-not-valid")
        );
        assert_eq!(
            rules(
                "ALTER TABLE u ADD CONSTRAINT c CHECK (age > 0) NOT VALID;",
                d
            ),
            vec![]
        );
    }

    #[test]
    fn postgres_scans_and_rewrites() {
        let d = Dialect::Postgres;
        assert_eq!(
            rules("ALTER TABLE u ALTER COLUMN age SET NOT NULL;", d),
            one(1, "adding-not-nullable-field")
        );
        let fk = rules(
            "ALTER TABLE u ADD CONSTRAINT f FOREIGN KEY (v) REFERENCES v (id);",
            d,
        );
        assert!(
            fk.contains(&(1, "adding-foreign-key-constraint".into())),
            "{fk:?}"
        );
        assert_eq!(
            rules(
                "ALTER TABLE u ADD CONSTRAINT f FOREIGN KEY (v) REFERENCES v (id) NOT VALID;",
                d
            ),
            vec![]
        );
        assert_eq!(
            rules(
                "ALTER TABLE u ADD COLUMN k uuid DEFAULT gen_random_uuid();",
                d
            ),
            one(1, "adding-field-with-default")
        );
        assert_eq!(
            rules("ALTER TABLE u ADD COLUMN t timestamptz DEFAULT now();", d),
            vec![]
        );
        assert_eq!(
            rules("ALTER TABLE u ADD CONSTRAINT k UNIQUE (email);", d),
            // squawk reports both: validated at once, and an index built under the lock.
            vec![
                (1, "constraint-missing-not-valid".into()),
                (1, "disallowed-unique-constraint".into())
            ]
        );
    }

    #[test]
    fn unreadable_statements_are_findings_not_passes() {
        // MariaDB's ADD COLUMN IF NOT EXISTS is beyond sqlparser's MySQL dialect.
        let sql = "ALTER TABLE u ADD COLUMN IF NOT EXISTS x INT;\nALTER TABLE u DROP COLUMN y;";
        let got = rules(sql, Dialect::Mysql);
        assert!(got.contains(&(2, "ban-drop-column".into())), "{got:?}");
        assert!(
            got.iter().any(|(l, r)| *l == 1 && r == UNPARSED) || !got.iter().any(|(l, _)| *l == 1),
            "{got:?}"
        );
        for d in [Dialect::Postgres, Dialect::Mysql, Dialect::Sqlite] {
            let got = rules("SELEC 1;\n", d);
            assert_eq!(got, one(1, UNPARSED), "{d:?}");
            // An unterminated string: one finding, no panic.
            let got = rules("SELECT 1;\nINSERT INTO t VALUES ('abc", d);
            assert!(
                got.iter().all(|(_, r)| r == UNPARSED) && !got.is_empty(),
                "{d:?} {got:?}"
            );
        }
    }

    #[test]
    fn deep_nesting_and_garbage_do_not_panic() {
        // Deep enough to overflow a 2 MiB stack in both parsers (measured), small enough to
        // parse in a moment (squawk slows down on long NOT chains).
        let n = 12_000;
        for deep in [
            format!("SELECT {}1;", "(".repeat(n)),
            format!("SELECT {}1;", "NOT ".repeat(n / 4)),
            format!("SELECT {}1;", "-".repeat(n)),
            format!("SELECT {}1;", "ARRAY[".repeat(n / 6)),
        ] {
            for d in [Dialect::Postgres, Dialect::Mysql, Dialect::Sqlite] {
                // Valid or not, the answer comes back (a stack overflow aborts the test
                // process); an unclosed parenthesis is a finding.
                let got = rules(&deep, d);
                assert!(
                    !deep.contains("((") || got == one(1, UNPARSED),
                    "{d:?} {got:?}"
                );
            }
        }
        let long = format!(
            "SELECT 1;\nINSERT INTO t VALUES {};\nDROP TABLE u;",
            "(1),".repeat(MAX_STATEMENT)
        );
        let got = rules(&long, Dialect::Postgres);
        assert_eq!(
            got,
            vec![(2, UNPARSED.into()), (3, "ban-drop-table".into())]
        );
        let deep = format!("SELECT {}1{};", "(".repeat(5000), ")".repeat(5000));
        let garbage: String = (0u32..4000)
            .map(|i| char::from_u32((i * 7919) % 0xD7FF).unwrap_or('x'))
            .collect();
        for d in [Dialect::Postgres, Dialect::Mysql, Dialect::Sqlite] {
            assert!(
                !rules(&deep, d).is_empty() || d == Dialect::Postgres,
                "{d:?}"
            );
            assert!(!rules(&garbage, d).is_empty(), "{d:?}");
        }
    }
}
