//! db-migrate's migrations directory: file names (any bytes but '/' and NUL) and contents.
//! The input is `NAME\nCONTENT`; a second file comes after a `--8<--` line.
//! The body is `cdkit_fuzz::targets::migration_names`, shared with the bounded run in the tests.
#![no_main]
libfuzzer_sys::fuzz_target!(|data: &[u8]| cdkit_fuzz::targets::migration_names(data));
