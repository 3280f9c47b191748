//! cdkit: the contract every cdkit tool keeps (the README's Exit codes and Common flags): one exit-code enum, JUnit
//! reports, logs, progress, child processes, atomic files and locks, each owned once here so
//! that no tool re-implements them.

pub mod atomic;
pub mod cli;
pub mod console;
pub mod docs;
pub mod exit;
pub mod hash;
pub mod io_error;
pub mod junit;
pub mod lock;
pub mod log;
pub mod own_file;
pub mod process;
pub mod progress;
pub mod redact;
pub mod run_id;
pub mod signals;
pub mod ssh;
pub mod syslog;
pub mod text;
pub mod time;

pub use exit::Exit;
