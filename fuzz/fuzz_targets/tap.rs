//! TAP as run-tests reads it: a command's stdout line by line, and prove's saved files.
//! The body is `cdkit_fuzz::targets::tap`, shared with the bounded run in the tests.
#![no_main]
libfuzzer_sys::fuzz_target!(|data: &[u8]| cdkit_fuzz::targets::tap(data));
