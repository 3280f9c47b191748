//! publish-repo's suite state files read back: a generation's full state and delta, and the
//! older layouts (SUITE.state + SUITE.delta, SUITE.json). The input's first byte picks the
//! layout; the rest is split into files at `--8<--` lines. The names are those a real run
//! wrote (the seeds are its files), so that a delta finds its base.
//! The body is `cdkit_fuzz::targets::repo_state`, shared with the bounded run in the tests.
#![no_main]
libfuzzer_sys::fuzz_target!(|data: &[u8]| cdkit_fuzz::targets::repo_state(data));
