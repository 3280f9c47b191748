//! What rolling-install does on a host, each an argument vector run over ssh (every word
//! quoted, nothing user-controlled spliced into shell code): read the installed version,
//! install a version from the host's APT sources or from a copied .deb, remove the package.

use std::path::PathBuf;
use std::time::Duration;

use cdkit::process::{Finished, Stream};
use cdkit::ssh::{Session, SshError};

/// How much of a remote command's stdout is kept for the tool to read (a version, a lock's
/// owner): more is dropped, so a host printing without end costs bounded memory.
pub const MAX_STDOUT: usize = 1024 * 1024;

/// apt's wait for the dpkg lock held by another dpkg (seconds).
pub const DPKG_LOCK_WAIT: &str = "DPkg::Lock::Timeout=120";

/// The shell code that installs a `.deb` read from stdin, run as root on the host with the
/// package's SHA-256 as `$1` (its only input, never spliced into the code).
///
/// The file goes to a fresh `mktemp -d` directory under `/var/lib/cdkit/incoming` (0700,
/// root's; `/var/lib` is root's too), never to a guessable name in a world-writable directory:
/// there a local user could plant a symlink (root would write through it) or a file of their
/// own and swap the package between the copy and `dpkg -i`, running their maintainer scripts
/// as root. The checksum proves that what dpkg gets is what was sent, whole. The directory is
/// removed on every way out, a signal (the ssh connection dropping) included.
pub const DEB_INSTALL: &str = r#"set -eu
umask 077
base=/var/lib/cdkit/incoming
mkdir -p "$base"
if [ -L "$base" ] || [ ! -d "$base" ]; then
  echo "cdkit: $base is not a plain directory; refusing to use it" >&2
  exit 1
fi
chown root:root "$base"
chmod 0700 "$base"
dir=$(mktemp -d "$base/deb.XXXXXXXXXX")
trap 'rm -rf "$dir"' EXIT
trap 'exit 129' HUP
trap 'exit 130' INT
trap 'exit 143' TERM
trap 'exit 141' PIPE
cat > "$dir/package.deb"
if ! printf '%s  %s\n' "$1" "$dir/package.deb" | sha256sum --check --status; then
  echo "cdkit: the package received is not the one sent (SHA-256 is not $1)" >&2
  exit 1
fi
DEBIAN_FRONTEND=noninteractive dpkg --force-confdef --force-confold -i "$dir/package.deb"
"#;

/// Where the package comes from.
#[derive(Debug, Clone)]
pub enum Source {
    /// The hosts' APT repositories (`apt-get update`, then `apt-get install NAME=VERSION`).
    Apt,
    /// A local .deb copied to every host and installed with dpkg.
    Deb(PathBuf),
}

/// Why a step on a host failed.
#[derive(Debug, thiserror::Error)]
pub enum HostError {
    /// ssh could not run the step.
    #[error(transparent)]
    Ssh(#[from] SshError),
    /// The step ran and failed.
    #[error("{step} on {host} failed ({how}): {detail}")]
    Failed {
        /// The host.
        host: String,
        /// The step (`install`, `lock`).
        step: String,
        /// How it failed (exit status, timeout).
        how: String,
        /// Its output, bounded.
        detail: String,
    },
}

impl HostError {
    /// Whether the host could not be reached at all (a JUnit `<error>`, not a `<failure>`).
    pub fn is_unreachable(&self) -> bool {
        matches!(self, HostError::Ssh(SshError::Unreachable { .. }))
    }

    /// Whether ssh refused the host's key (changed, or unknown without
    /// `--accept-new-host-keys`): not worth retrying, and not a temporary failure.
    pub fn is_host_key(&self) -> bool {
        matches!(
            self,
            HostError::Ssh(SshError::HostKeyChanged { .. } | SshError::HostKeyUnknown { .. })
        )
    }
}

/// Commands on one host, with `sudo -n` when not logging in as root.
pub struct HostOps<'a> {
    /// The host.
    pub session: &'a Session,
    /// Whether commands run under `sudo -n`.
    pub sudo: bool,
    /// Limit for each command.
    pub timeout: Duration,
    /// Everything the host printed, for the JUnit testcase.
    pub output: std::cell::RefCell<String>,
}

impl<'a> HostOps<'a> {
    /// Operations over `session`.
    pub fn new(session: &'a Session, sudo: bool, timeout: Duration) -> HostOps<'a> {
        HostOps {
            session,
            sudo,
            timeout,
            output: std::cell::RefCell::new(String::new()),
        }
    }

    /// `argv` under `sudo -n` when the host needs it: the inventory's ansible_become names the
    /// user; --sudo alone means root.
    fn with_become<'b>(&'b self, argv: &[&'b str]) -> Vec<&'b str> {
        let mut full: Vec<&str> = Vec::new();
        if let Some(user) = self.session.target.become_user.as_deref() {
            full.extend(["sudo", "-n", "-u", user]);
        } else if self.sudo {
            full.extend(["sudo", "-n"]);
        }
        full.extend(argv);
        full
    }

    /// `argv` with its output neither logged nor kept for the testcase: for commands whose
    /// output the caller reads and logs in its own form (see [`crate::service`]).
    pub fn run_quiet(
        &self,
        argv: &[&str],
        timeout: Duration,
        on_line: impl FnMut(Stream, &str),
    ) -> Result<Finished, SshError> {
        self.session.run_quiet(
            &self.with_become(argv),
            Some(timeout.min(self.timeout)),
            on_line,
        )
    }

    fn run(
        &self,
        step: &str,
        argv: &[&str],
        stdin: Option<&std::path::Path>,
    ) -> Result<(Finished, String), HostError> {
        let full = self.with_become(argv);
        let mut stdout = String::new();
        let mut last_err = String::new();
        let done =
            self.session
                .run_with_stdin(&full, stdin, Some(self.timeout), |stream, line| {
                    let mut out = self.output.borrow_mut();
                    if out.len() < 256 * 1024 {
                        out.push_str(line);
                        out.push('\n');
                    }
                    match stream {
                        Stream::Stdout if stdout.len() + line.len() < MAX_STDOUT => {
                            stdout.push_str(line);
                            stdout.push('\n');
                        }
                        Stream::Stdout => {}
                        Stream::Stderr => last_err = line.to_string(),
                    }
                })?;
        if !done.success() {
            return Err(HostError::Failed {
                host: self.session.target.name.clone(),
                step: step.to_string(),
                how: done.describe(),
                detail: if last_err.is_empty() {
                    stdout.lines().last().unwrap_or("").to_string()
                } else {
                    last_err
                },
            });
        }
        Ok((done, stdout))
    }

    /// The installed version of `package`, `None` if it is not installed.
    pub fn installed_version(&self, package: &str) -> Result<Option<String>, HostError> {
        let argv = [
            "dpkg-query",
            "--show",
            "--showformat=${db:Status-Status} ${Version}\\n",
            package,
        ];
        match self.run("dpkg-query", &argv, None) {
            Ok((_, out)) => Ok(parse_status(&out)),
            // dpkg-query exits 1 for a package it has never heard of.
            Err(HostError::Failed { how, .. }) if how == "exit status 1" => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// Install `package` at `version` from `source`.
    pub fn install(&self, package: &str, version: &str, source: &Source) -> Result<(), HostError> {
        let spec = format!("{package}={version}");
        match source {
            Source::Apt => {
                self.run(
                    "apt-get update",
                    &[
                        "env",
                        "DEBIAN_FRONTEND=noninteractive",
                        "apt-get",
                        "-q",
                        "update",
                        "--error-on=any",
                    ],
                    None,
                )?;
                self.apt_install(&spec)
            }
            Source::Deb(deb) => self.install_deb(deb),
        }
    }

    /// Stream `deb` to a private directory on the host, check its SHA-256, `dpkg -i` it and
    /// remove the directory (also when anything fails): see [`DEB_INSTALL`].
    pub fn install_deb(&self, deb: &std::path::Path) -> Result<(), HostError> {
        let (_, _, sha256) = cdkit::hash::file_checksums(deb).map_err(|e| HostError::Failed {
            host: self.session.target.name.clone(),
            step: "install .deb".into(),
            how: "not started".into(),
            detail: format!("cannot read {}: {e}", deb.display()),
        })?;
        self.run(
            "install .deb",
            &["sh", "-c", DEB_INSTALL, "sh", &sha256],
            Some(deb),
        )
        .map(|_| ())
    }

    /// `apt-get install NAME=VERSION` (downgrades allowed: this is also the restore path).
    /// It waits for the dpkg lock (up to [`DPKG_LOCK_WAIT`]) instead of failing at once: after
    /// a runner was killed, its last dpkg on the host may still be finishing when `rollback`
    /// arrives.
    pub fn apt_install(&self, spec: &str) -> Result<(), HostError> {
        self.run(
            "apt-get install",
            &[
                "env",
                "DEBIAN_FRONTEND=noninteractive",
                "apt-get",
                "install",
                "-y",
                "-q",
                "-o",
                DPKG_LOCK_WAIT,
                "--allow-downgrades",
                "-o",
                "Dpkg::Options::=--force-confdef",
                "-o",
                "Dpkg::Options::=--force-confold",
                spec,
            ],
            None,
        )
        .map(|_| ())
    }

    /// Remove `package` (restoring a host that did not have it).
    pub fn remove(&self, package: &str) -> Result<(), HostError> {
        self.run(
            "apt-get remove",
            &[
                "env",
                "DEBIAN_FRONTEND=noninteractive",
                "apt-get",
                "remove",
                "-y",
                "-q",
                "-o",
                DPKG_LOCK_WAIT,
                package,
            ],
            None,
        )
        .map(|_| ())
    }

    /// A fixed shell `script` with positional arguments `$1…` (each quoted): how tool-made
    /// shell code gets user-controlled values without splicing them into the code.
    pub fn shell_args(&self, step: &str, script: &str, args: &[&str]) -> Result<String, HostError> {
        let mut argv = vec!["sh", "-c", script, "sh"];
        argv.extend(args);
        self.run(step, &argv, None).map(|(_, out)| out)
    }

    /// A user's shell command (a health check), run by `sh -c` on the host.
    pub fn shell(&self, step: &str, command: &str) -> Result<String, HostError> {
        self.run(step, &["sh", "-c", command], None)
            .map(|(_, out)| out)
    }
}

/// The version from `dpkg-query`'s "STATUS VERSION" line, if the package is installed.
pub fn parse_status(out: &str) -> Option<String> {
    let line = out.lines().next()?.trim();
    let (status, version) = line.split_once(' ')?;
    (matches!(
        status,
        "installed"
            | "half-configured"
            | "unpacked"
            | "half-installed"
            | "triggers-awaited"
            | "triggers-pending"
    ) && !version.is_empty())
    .then(|| version.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dpkg_query_status_lines() {
        assert_eq!(parse_status("installed 1.0-1\n").as_deref(), Some("1.0-1"));
        assert_eq!(
            parse_status("config-files 1.0-1\n"),
            None,
            "removed, only conffiles left"
        );
        assert_eq!(parse_status("not-installed \n"), None);
        assert_eq!(parse_status(""), None);
    }
}
