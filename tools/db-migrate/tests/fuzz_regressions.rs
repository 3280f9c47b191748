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
