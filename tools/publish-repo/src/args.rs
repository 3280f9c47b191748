//! Flag groups other tools flatten into their own command lines, each with the method that
//! builds what it configures, so a flag's name, environment variable and help text have one
//! definition.

use std::path::PathBuf;

use clap::Args;

use crate::error::Error;
use crate::sign::Signer;

/// How a publish is signed: `--sign-key`, `--sign-key-file` or `--unsigned`.
///
/// The environment variables are `PUBLISH_REPO_SIGN_KEY`, `PUBLISH_REPO_SIGN_KEY_FILE` and
/// `PUBLISH_REPO_UNSIGNED` in every tool that flattens this group (rollback re-points a suite
/// with the repository's own signing setting), so one exported key serves each of them.
/// Whether a missing choice is an error is the caller's call: `init` publishes only when
/// given one; a tool that must publish turns `None` into its own usage error naming
/// [`SigningArgs::CHOICES`].
#[derive(Debug, Clone, Default, Args)]
pub struct SigningArgs {
    /// Sign with this secret key from the keyring (GNUPGHOME honoured).
    #[arg(long, env = "PUBLISH_REPO_SIGN_KEY", conflicts_with_all = ["sign_key_file", "unsigned"])]
    pub sign_key: Option<String>,
    /// Sign with the secret key in this file.
    #[arg(long, env = "PUBLISH_REPO_SIGN_KEY_FILE", conflicts_with = "unsigned")]
    pub sign_key_file: Option<PathBuf>,
    /// Publish without signatures (clients then need [trusted=yes]).
    #[arg(long, env = "PUBLISH_REPO_UNSIGNED")]
    pub unsigned: bool,
}

impl SigningArgs {
    /// The choices a usage error lists when none was given.
    pub const CHOICES: &'static str = "--sign-key FINGERPRINT, --sign-key-file FILE, or --unsigned";

    /// The signer the flags name, or `None` when none was given. A key is looked up (or read
    /// from its file) here, so a bad key is bad input before anything changes.
    pub fn signer(&self) -> Result<Option<Signer>, Error> {
        match (&self.sign_key, &self.sign_key_file, self.unsigned) {
            (Some(fpr), _, _) => Signer::from_fingerprint(fpr).map(Some),
            (None, Some(file), _) => Signer::from_key_file(file).map(Some),
            (None, None, true) => Ok(Some(Signer::Unsigned)),
            (None, None, false) => Ok(None),
        }
    }
}
