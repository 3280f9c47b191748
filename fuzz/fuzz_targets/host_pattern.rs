//! Host patterns (`--hosts`, Ansible's syntax) against a fixed inventory.
//! The body is `cdkit_fuzz::targets::host_pattern`, shared with the bounded run in the tests.
#![no_main]
libfuzzer_sys::fuzz_target!(|data: &[u8]| cdkit_fuzz::targets::host_pattern(data));
