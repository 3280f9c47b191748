//! publish-repo: a signed APT repository that real apt accepts, with suites (testing,
//! production), promotion of the same bytes, retention of older versions for rollback, and
//! publication in an order that never shows a client a half-updated tree.

pub mod args;
mod cli;
pub mod codec;
pub mod config;
pub mod error;
pub mod generation;
pub mod gz;
pub mod index;
pub mod ops;
pub mod pool;
pub mod publish;
pub mod sign;
pub mod state;
pub mod verify;
pub mod xz;

pub use args::SigningArgs;
pub use cli::Cli;
pub use error::Error;

/// Tool name: the report's root and every classname's first part.
pub const TOOL: &str = "publish-repo";
