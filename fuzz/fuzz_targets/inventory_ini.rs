//! An INI inventory as the native reader parses it (host ranges, vars, children).
//! The body is `cdkit_fuzz::targets::inventory_ini`, shared with the bounded run in the tests.
#![no_main]
libfuzzer_sys::fuzz_target!(|data: &[u8]| cdkit_fuzz::targets::inventory_ini(data));
