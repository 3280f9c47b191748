//! db-migrate's SQL statement splitter, both dialects. Properties: statements come in
//! order, inside the input, on character boundaries, each non-empty; and the statement at
//! any offset is one of them.
//! The body is `cdkit_fuzz::targets::sql_split`, shared with the bounded run in the tests.
#![no_main]
libfuzzer_sys::fuzz_target!(|data: &[u8]| cdkit_fuzz::targets::sql_split(data));
