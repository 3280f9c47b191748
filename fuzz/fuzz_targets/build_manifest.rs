//! build-deb's cdkit-deb.toml manifest.
//! The body is `cdkit_fuzz::targets::build_manifest`, shared with the bounded run in the tests.
#![no_main]
libfuzzer_sys::fuzz_target!(|data: &[u8]| cdkit_fuzz::targets::build_manifest(data));
