//! publish-repo: a signed APT repository that real apt accepts, with suites (testing,
//! production), promotion of the same bytes, retention of older versions for rollback, and
//! publication in an order that never shows a client a half-updated tree.
//!
//! # Brief overview
//!
//! - [`Cli`] is the command line (`main.rs` only parses it and calls [`Cli::run`]).
//! - [`SigningArgs`] is the signing flag group (`--sign-key`, `--sign-key-file`,
//!   `--unsigned`), flattened by every tool that publishes; [`SigningArgs::signer`] builds the
//!   [`Signer`].
//! - [`ops`] holds the operations (`init`, `add`, `promote`, `remove`), each taking a
//!   [`Context`] (repository, signer, lock timeout, retention) and returning an [`OpOutcome`]
//!   (its JUnit testcases and exit status). Packages are named by a [`Spec`].
//! - [`config`] is the repository's fixed [`Config`]; [`state`] is what each suite lists
//!   ([`SuiteState`] of [`Entry`]).
//! - [`Error`] is every way a command stops, with its exit code.
//!
//! Behind these, private modules write the pool, the indexes (Packages, Packages.gz and
//! Packages.xz reusing unchanged chunks), the Release files and each suite's generations, and
//! verify a published tree. [`gz`] and [`xz`] are public for the fuzz targets that feed them
//! hostile input.

mod cli;
mod codec;
mod error;
mod generation;
mod index;
mod pool;
mod publish;
mod verify;

pub mod args;
pub mod config;
pub mod gz;
pub mod ops;
pub mod sign;
pub mod state;
pub mod xz;

pub use args::SigningArgs;
pub use cli::Cli;
pub use config::Config;
pub use error::Error;
pub use ops::{Context, OpOutcome, Spec};
pub use sign::Signer;
pub use state::{Entry, SuiteState};

/// Tool name: the report's root and every classname's first part.
pub const TOOL: &str = "publish-repo";
