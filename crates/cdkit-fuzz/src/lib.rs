//! The fuzz suite's library: one function per untrusted input format the tools read
//! ([`targets`]), called both by the coverage-guided libFuzzer targets in fuzz/ (run by
//! `scripts/fuzz`) and by the bounded mutation run CI does on every test run ([`run`]),
//! which needs no instrumented build.

pub mod mutate;
pub mod run;
pub mod scratch;
pub mod targets;

pub use scratch::{fresh_dir, parts, put, scratch};
pub use targets::{Target, TARGETS};
