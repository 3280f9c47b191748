//! run-tests' suite file, tests.toml.
//! The body is `cdkit_fuzz::targets::tests_toml`, shared with the bounded run in the tests.
#![no_main]
libfuzzer_sys::fuzz_target!(|data: &[u8]| cdkit_fuzz::targets::tests_toml(data));
