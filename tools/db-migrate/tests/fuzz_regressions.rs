//! Inputs the fuzz suite (fuzz/, `scripts/fuzz`) found, replayed under plain `cargo test`.

use db_migrate::split::{split, Dialect};

/// Statements must lie inside the input, in order, each non-empty: the property the fuzz
/// target checks on every input.
fn assert_statements_well_formed(sql: &str) {
    for dialect in [Dialect::Postgres, Dialect::Mysql] {
        let mut last_end = 0;
        for s in split(sql, dialect) {
            assert!(
                s.start <= s.end && s.end <= sql.len(),
                "{dialect:?}: {s:?} outside the input"
            );
            assert!(
                s.start >= last_end,
                "{dialect:?}: {s:?} overlaps the previous statement"
            );
            assert!(
                !s.text.is_empty(),
                "{dialect:?}: an empty statement at {}",
                s.start
            );
            last_end = s.end;
        }
    }
}

/// Form feed and vertical tab around the statements, `E'\';'` and an unclosed `$…$` quote.
#[test]
fn a_statement_after_a_dollar_quote_and_odd_whitespace_stays_inside_the_input() {
    let sql = include_str!("fuzz_regressions/sql_split/range-after-dollar-quote.sql");
    assert_statements_well_formed(sql);
}

/// A migration numbered with the highest version an i64 holds: the next version (highest + 1,
/// for `new`) overflowed, a panic in debug builds and a negative version in release builds.
/// Now `new` refuses with the file and the reason. The input is the fuzz target's
/// `NAME\nCONTENT`.
#[test]
fn no_version_follows_the_highest_possible_one() {
    let input = include_str!("fuzz_regressions/migration_names/highest-version");
    let (name, content) = input.split_once('\n').expect("NAME\\nCONTENT");
    let dir = tempfile::tempdir().expect("a temporary directory");
    std::fs::write(dir.path().join(name), content).expect("write the migration");
    let err = db_migrate::files::next_version(dir.path()).expect_err("no next version");
    assert_eq!(
        err.to_string(),
        format!(
            "{}: version 9223372036854775807 is the highest possible: no version follows it",
            dir.path().join(name).display()
        )
    );
}
