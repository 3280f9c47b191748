//! cdkit is the contract every cdkit tool keeps: the same exit codes, the same one-line error,
//! the same JUnit shape, the same log lines, progress, locking and secret redaction, whichever
//! tool a CI job runs. Each of these is owned once, here, so that no tool re-implements one and
//! drifts; a tool's own crate holds only what is specific to its job. The contract itself, in
//! words, is docs/contract.md.
//!
//! # Brief overview
//!
//! A tool's `main` is [`cli::parse`] followed by [`cli::run_tool`]: the first reads the command
//! line (every tool flattens [`cli::CommonArgs`] into its parser), the second starts logging
//! and signal handling, runs the tool's body and turns its outcome into an [`Exit`] code and a
//! final line. A tool's error type implements [`exit::ExitCoded`], so the code of a failure is
//! decided where the failure is understood.
//!
//! The modules, by what a tool uses them for:
//!
//! * Outcome and reporting: [`exit`] (the codes and their meaning), [`junit`] (reports:
//!   [`junit::Report`] of [`junit::Suite`]s of [`junit::Case`]s, stamped by
//!   [`junit::Suite::finished`]), [`run_id`] (the id that ties reports to log lines),
//!   [`docs`] (man pages, completions and the `--help` examples from the clap definition).
//! * Output: [`console`] (stdout and the shared stderr, the [`outln!`] macro), [`progress`]
//!   (bars on a terminal, plain lines in CI), [`text`] (sanitising and bounding text that
//!   leaves a tool), [`redact`] (secrets out of every byte that leaves). Log lines, `--log-file`
//!   and `--syslog` are set up by [`cli::CommonArgs::start`]; tools write them with `tracing`.
//! * Doing things safely: [`process`] (child processes with timeouts, streamed output and clean
//!   stops), [`signals`] (SIGINT/SIGTERM noted, not fatal), [`ssh`] (remote commands over
//!   multiplexed OpenSSH), [`lock`] (`flock` locks that name their holder), [`atomic`] (all
//!   or nothing file replacement), [`own_file`] (files written in place in shared directories),
//!   [`hash`] (streaming digests, as Debian writes them), [`io_error`] (an I/O error that names
//!   its path).
//!
//! Module paths are the API: tools write `cdkit::junit::Case`, `cdkit::process::Command`. Only
//! [`Exit`], which nearly every file of every tool needs, is also at the root.

pub mod atomic;
pub mod cli;
pub mod console;
pub mod docs;
pub mod exit;
pub mod hash;
pub mod io_error;
pub mod junit;
pub mod lock;
mod log;
pub mod own_file;
pub mod process;
pub mod progress;
pub mod redact;
pub mod run_id;
pub mod signals;
pub mod ssh;
mod syslog;
pub mod text;
pub mod time;

pub use exit::Exit;
