//! Signing Release files with the gpg binary: InRelease (clearsigned) and Release.gpg
//! (detached), with a key from the user's keyring (GNUPGHOME honoured) or from a key file
//! imported into a private, temporary keyring.

use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::thread::JoinHandle;

use cdkit::process::{Command, Stream};

use crate::error::{io, Error};

/// How Release files are signed.
#[derive(Debug)]
pub enum Signer {
    /// Only with an explicit `--unsigned`.
    Unsigned,
    /// A secret key in a keyring.
    Key {
        /// The key's fingerprint (or whatever names it to gpg).
        fingerprint: String,
        /// `None`: gpg's default (GNUPGHOME or ~/.gnupg).
        home: Option<PathBuf>,
        /// Keeps an imported key's private keyring alive.
        _temp: Option<tempfile::TempDir>,
        /// The check that the key exists, running while the repository is read; see
        /// [`Signer::ready`].
        check: Mutex<Option<JoinHandle<Result<(), Error>>>>,
    },
}

impl Signer {
    /// A key already in the keyring. Whether it exists is checked by gpg in the background
    /// (that takes as long as reading a large repository's state); [`Signer::ready`] waits
    /// for the answer, so a typo still fails before anything changes.
    pub fn from_fingerprint(fingerprint: &str) -> Result<Signer, Error> {
        let clean = fingerprint.trim();
        if clean.is_empty()
            || !clean
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || "@.<>_-".contains(c))
        {
            return Err(Error::Usage(format!(
                "--sign-key {fingerprint:?} is not a key id or fingerprint"
            )));
        }
        let id = clean.to_string();
        let check = std::thread::spawn(move || {
            let (found, _) = secret_key_fingerprint(None, Some(&id))?;
            match found {
                Some(_) => Ok(()),
                None => Err(Error::Usage(format!(
                    "--sign-key {id}: no such secret key in the keyring (GNUPGHOME={})",
                    std::env::var("GNUPGHOME").unwrap_or_else(|_| "~/.gnupg".into())
                ))),
            }
        });
        Ok(Signer::Key {
            fingerprint: clean.to_string(),
            home: None,
            _temp: None,
            check: Mutex::new(Some(check)),
        })
    }

    /// Wait for the key check started by [`Signer::from_fingerprint`]: call before the
    /// repository changes. Later calls return at once.
    pub fn ready(&self) -> Result<(), Error> {
        let Signer::Key { check, .. } = self else {
            return Ok(());
        };
        let pending = check.lock().unwrap_or_else(|e| e.into_inner()).take();
        match pending {
            Some(handle) => handle
                .join()
                .unwrap_or_else(|_| Err(Error::Sign("the key check panicked".into()))),
            None => Ok(()),
        }
    }

    /// A secret key exported to `file` (armored or binary), imported into a private keyring.
    pub fn from_key_file(file: &Path) -> Result<Signer, Error> {
        if !file.is_file() {
            return Err(Error::Usage(format!(
                "--sign-key-file {}: no such file",
                file.display()
            )));
        }
        let temp = tempfile::Builder::new()
            .prefix("publish-repo-gpg.")
            .permissions(std::os::unix::fs::PermissionsExt::from_mode(0o700))
            .tempdir()
            .map_err(io("create a keyring in", std::env::temp_dir()))?;
        let home = temp.path().to_path_buf();
        let mut err = String::new();
        let done = gpg(Some(&home))
            .args(["--import"])
            .arg(file)
            .run(|_, line| {
                err.push_str(line);
                err.push(' ');
            })?;
        if !done.success() {
            return Err(Error::Usage(format!(
                "--sign-key-file {}: gpg cannot import it: {}",
                file.display(),
                err.trim()
            )));
        }
        let (found, _) = secret_key_fingerprint(Some(&home), None)?;
        let fingerprint = found.ok_or_else(|| {
            Error::Usage(format!(
                "--sign-key-file {}: holds no secret key",
                file.display()
            ))
        })?;
        Ok(Signer::Key {
            fingerprint,
            home: Some(home),
            _temp: Some(temp),
            check: Mutex::new(None),
        })
    }

    /// Write `InRelease` and `Release.gpg` signatures of `release` to the given paths.
    pub fn sign(&self, release: &Path, inrelease: &Path, detached: &Path) -> Result<(), Error> {
        self.ready()?;
        let Signer::Key {
            fingerprint, home, ..
        } = self
        else {
            return Ok(());
        };
        let run = |args: &[&str], out: &Path| -> Result<(), Error> {
            let mut err = String::new();
            let done = gpg(home.as_deref())
                .args(["--local-user", fingerprint, "--digest-algo", "SHA512"])
                .args(args)
                .arg("--output")
                .arg(out)
                .arg(release)
                .run(|_, line| {
                    err.push_str(line);
                    err.push(' ');
                })?;
            if done.success() {
                Ok(())
            } else {
                Err(Error::Sign(format!(
                    "gpg {}: {}",
                    args.join(" "),
                    err.trim()
                )))
            }
        };
        // One after the other, never side by side: the first signature with a freshly imported
        // key makes gpg-agent rewrite the key file in place (it adds `Created:`), and a second
        // request reading it meanwhile fails with "Unmatched parentheses in S-expression" (seen
        // in CI with --sign-key-file, whose keyring is new in every run).
        run(&["--clearsign"], inrelease)?;
        run(&["--armor", "--detach-sign"], detached)
    }
}

fn gpg(home: Option<&Path>) -> Command {
    let mut cmd = Command::new("gpg")
        .args(["--batch", "--yes", "--no-tty", "--quiet"])
        .quiet();
    if let Some(home) = home {
        cmd = cmd.arg("--homedir").arg(home);
    }
    cmd
}

/// The fingerprint of the first secret key (matching `id`, if given).
fn secret_key_fingerprint(
    home: Option<&Path>,
    id: Option<&str>,
) -> Result<(Option<String>, String), Error> {
    let mut out = String::new();
    let mut cmd = gpg(home).args(["--with-colons", "--list-secret-keys"]);
    if let Some(id) = id {
        cmd = cmd.arg(id);
    }
    cmd.run(|stream, line| {
        if stream == Stream::Stdout {
            out.push_str(line);
            out.push('\n');
        }
    })?;
    let fpr = out
        .lines()
        .find(|l| l.starts_with("fpr:"))
        .and_then(|l| l.split(':').nth(9))
        .map(str::to_string);
    Ok((fpr, out))
}
