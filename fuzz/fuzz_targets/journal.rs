//! A rolling-install deployment record (journal), as rolling-install resumes it and rollback
//! plans from it.
//! The body is `cdkit_fuzz::targets::journal`, shared with the bounded run in the tests.
#![no_main]
libfuzzer_sys::fuzz_target!(|data: &[u8]| cdkit_fuzz::targets::journal(data));
