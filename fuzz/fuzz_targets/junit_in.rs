//! Foreign JUnit XML that run-tests passes through (`--junit-in`).
//! The body is `cdkit_fuzz::targets::junit_in`, shared with the bounded run in the tests.
#![no_main]
libfuzzer_sys::fuzz_target!(|data: &[u8]| cdkit_fuzz::targets::junit_in(data));
