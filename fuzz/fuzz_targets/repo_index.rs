//! publish-repo's previous Packages.gz and Packages.xz, read back to reuse unchanged chunks.
//! The body is `cdkit_fuzz::targets::repo_index`, shared with the bounded run in the tests.
#![no_main]
libfuzzer_sys::fuzz_target!(|data: &[u8]| cdkit_fuzz::targets::repo_index(data));
