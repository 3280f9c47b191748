//! An inventory directory as the native reader loads it: `hosts` (INI or YAML), then
//! `group_vars/all.yml` and `host_vars/web1.yml`, the parts split at `--8<--` lines.
//! The body is `cdkit_fuzz::targets::inventory_dir`, shared with the bounded run in the tests.
#![no_main]
libfuzzer_sys::fuzz_target!(|data: &[u8]| cdkit_fuzz::targets::inventory_dir(data));
