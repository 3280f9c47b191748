//! A YAML inventory as the native reader parses it.
//! The body is `cdkit_fuzz::targets::inventory_yaml`, shared with the bounded run in the tests.
#![no_main]
libfuzzer_sys::fuzz_target!(|data: &[u8]| cdkit_fuzz::targets::inventory_yaml(data));
