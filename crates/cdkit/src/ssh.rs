//! Remote commands through the system OpenSSH client, so users' `~/.ssh/config`, agent,
//! ProxyJump and known_hosts work unchanged. One ControlMaster per host per
//! run makes every command after the first cost a round trip instead of a handshake
//! (measured: 0.35 s vs 0.02 s); new connections are started a bounded number at a time,
//! because sshd refuses bursts beyond `MaxStartups`.
//!
//! Remote commands are argument vectors, each word shell-quoted: nothing a user controls
//! reaches the remote shell unquoted. Host names are validated so that a "host" like
//! `-oProxyCommand=…` can never become an ssh option.
//!
//! The user's configuration is honoured for how to reach a host, never for what would weaken
//! it: a handful of options are pinned on every call (`PINNED_OPTIONS`), ahead of the
//! configuration (ssh takes an option's first value), so that a CI agent's
//! `StrictHostKeyChecking no` or `ForwardAgent yes` cannot hand the agent's keys or its trust
//! to a target host.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Condvar, Mutex};
use std::time::Duration;

use crate::process::{Command, Ending, Finished, ProcessError, Stream};

/// How long an idle master connection outlives its last command. Short on purpose: a run
/// killed with SIGKILL cannot close its masters, and each one is an authenticated connection
/// to a production host that anyone able to reach the control socket could reuse; after this
/// long it is gone. Long enough to carry a host's commands within a step (health checks retry
/// at most every `--health-interval`, default 1 s) over one connection; a host idle for
/// longer simply pays one handshake (about 0.35 s) on its next command.
pub const CONTROL_PERSIST_SECS: u64 = 15;

/// How much of each output stream of one remote command goes into the log (the rest is
/// counted, not logged): a host's output is not ours to trust with the log's size.
pub const REMOTE_LOG_LIMIT: usize = 1024 * 1024;

/// ssh options set on every call, whatever the user's or the agent's configuration says.
/// `StrictHostKeyChecking` is added separately (`yes`, or `accept-new` with
/// [`Client::accept_new_host_keys`]).
const PINNED_OPTIONS: [&str; 5] = [
    // The agent's keys stay on the agent: a root user on a target host could otherwise use
    // them to reach every other host they open.
    "ForwardAgent=no",
    "ForwardX11=no",
    // No tunnels from a user's config (LocalForward, RemoteForward, DynamicForward).
    "ClearAllForwardings=yes",
    // No local command run on connection from a config's LocalCommand.
    "PermitLocalCommand=no",
    // Key-based and non-interactive: a password prompt would hang a CI job.
    "BatchMode=yes",
];

/// Why a remote command did not produce a result.
#[derive(Debug, thiserror::Error)]
pub enum SshError {
    /// ssh itself failed (exit 255): the host is unreachable, refused us, or its key is wrong.
    #[error("{host} is unreachable: {detail}")]
    Unreachable {
        /// The inventory name of the host.
        host: String,
        /// ssh's own last words (its stderr, one line), which say why.
        detail: String,
    },
    /// The host presented a key other than the one known_hosts holds for it: possibly someone
    /// in the middle. Never accepted, whatever the flags.
    #[error("{host}: its host key has changed (REMOTE HOST IDENTIFICATION HAS CHANGED); refusing to connect: check the host, then update known_hosts")]
    HostKeyChanged {
        /// The inventory name of the host.
        host: String,
    },
    /// First contact with a host not in known_hosts, without `--accept-new-host-keys`.
    #[error("{host}: its host key is not in known_hosts; add it, or pass --accept-new-host-keys for a first contact")]
    HostKeyUnknown {
        /// The inventory name of the host.
        host: String,
    },
    /// A name or address that could be read as an ssh option (a leading `-`) or holds
    /// characters no host name has; refused before ssh sees it.
    #[error("host {host:?} is not a valid host name or address")]
    BadHost {
        /// The refused name, quoted in the error line.
        host: String,
    },
    /// The local ssh (or `sh` for a local target) could not be run or waited for.
    #[error(transparent)]
    Process(#[from] ProcessError),
}

/// Where and how to reach one host.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Target {
    /// The name used in reports (the inventory name).
    pub name: String,
    /// What ssh connects to (`ansible_host`, or the name).
    pub address: String,
    /// `-p PORT`; none leaves it to the ssh configuration (22 by default).
    pub port: Option<u16>,
    /// `-l USER`; none leaves it to the ssh configuration.
    pub user: Option<String>,
    /// ssh's `-i FILE`: the private key to offer.
    pub identity_file: Option<PathBuf>,
    /// ssh options of this host (an inventory's `ansible_ssh_common_args`, e.g. a
    /// `ProxyJump` through a bastion), passed as separate words after the tool's own options,
    /// which therefore keep precedence (ssh takes an option's first value).
    pub extra_args: Vec<String>,
    /// Run commands on this machine with `sh -c` instead of over ssh.
    pub local: bool,
    /// Run remote commands as this user with `sudo -n -u USER`.
    pub become_user: Option<String>,
}

impl Target {
    /// A target after validating its address and user.
    pub fn new(
        name: &str,
        address: &str,
        port: Option<u16>,
        user: Option<&str>,
    ) -> Result<Target, SshError> {
        validate_host(address)?;
        validate_host(name)?;
        if let Some(u) = user {
            let ok = !u.is_empty()
                && !u.starts_with('-')
                && u.chars()
                    .all(|c| c.is_ascii_alphanumeric() || "._-".contains(c));
            if !ok {
                return Err(SshError::BadHost {
                    host: format!("{u}@{address}"),
                });
            }
        }
        Ok(Target {
            name: name.to_string(),
            address: address.to_string(),
            port,
            user: user.map(str::to_string),
            identity_file: None,
            extra_args: Vec::new(),
            local: false,
            become_user: None,
        })
    }
}

/// A host name or address ssh can take as its destination and nothing else: letters, digits,
/// `.`, `-`, `_`, `:` and IPv6 brackets, not starting with `-`.
pub fn validate_host(host: &str) -> Result<(), SshError> {
    let ok = !host.is_empty()
        && host.len() <= 253
        && !host.starts_with('-')
        && host
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || ".-_:[]".contains(c));
    if ok {
        Ok(())
    } else {
        Err(SshError::BadHost {
            host: host.to_string(),
        })
    }
}

/// One word quoted for a POSIX shell (the remote login shell runs the command line).
pub fn shell_quote(word: &str) -> String {
    let plain = !word.is_empty()
        && word
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_./=:,+@%^".contains(c));
    if plain {
        word.to_string()
    } else {
        format!("'{}'", word.replace('\'', "'\\''"))
    }
}

/// An argument vector as one command line sh reads back into the same words (remote
/// commands, and the command a report names).
pub fn command_line(argv: &[&str]) -> String {
    argv.iter()
        .map(|a| shell_quote(a))
        .collect::<Vec<_>>()
        .join(" ")
}

/// Limits how many new SSH connections are being set up at once.
#[derive(Debug, Clone)]
pub struct ConnectLimiter {
    inner: Arc<(Mutex<usize>, Condvar)>,
    limit: usize,
}

impl ConnectLimiter {
    /// At most `limit` handshakes in flight.
    pub fn new(limit: usize) -> ConnectLimiter {
        ConnectLimiter {
            inner: Arc::new((Mutex::new(0), Condvar::new())),
            limit: limit.max(1),
        }
    }

    fn acquire(&self) {
        let (lock, cvar) = &*self.inner;
        let mut in_flight = lock.lock().unwrap_or_else(|e| e.into_inner());
        while *in_flight >= self.limit {
            in_flight = cvar.wait(in_flight).unwrap_or_else(|e| e.into_inner());
        }
        *in_flight += 1;
    }

    fn release(&self) {
        let (lock, cvar) = &*self.inner;
        let mut in_flight = lock.lock().unwrap_or_else(|e| e.into_inner());
        *in_flight = in_flight.saturating_sub(1);
        cvar.notify_one();
    }
}

/// Client settings shared by every session of a run.
#[derive(Debug, Clone)]
pub struct Client {
    /// `-F FILE`, if given (else the user's config).
    pub config: Option<PathBuf>,
    /// ssh's `ConnectTimeout`: how long an unreachable host may hold up its batch.
    pub connect_timeout: Duration,
    /// Directory for ControlMaster sockets (mode 0700); keep it short (sun_path is 108 bytes).
    pub control_dir: PathBuf,
    /// Shared by every session, so that a large batch does not open more connections at once
    /// than sshd's `MaxStartups` lets through.
    pub limiter: ConnectLimiter,
    /// Trust a host key on first contact (`StrictHostKeyChecking=accept-new`) instead of
    /// refusing hosts that are not in known_hosts. A changed key is refused either way.
    pub accept_new_host_keys: bool,
    /// How to close each master this client opened (its ssh options and destination), for
    /// [`Client::close_all`] and the [`ControlDir`] guard.
    masters: Arc<Mutex<Vec<Master>>>,
}

/// What `ssh -O exit` needs to reach one master: the session's ssh options and destination.
type Master = (Vec<String>, String);

/// Commands to one host over one multiplexed connection.
#[derive(Debug)]
pub struct Session {
    /// The host this session talks to.
    pub target: Target,
    client: Client,
    connected: Mutex<bool>,
}

impl Session {
    /// A session; nothing connects until the first command.
    pub fn new(client: &Client, target: Target) -> Session {
        Session {
            target,
            client: client.clone(),
            connected: Mutex::new(false),
        }
    }

    fn control_path(&self) -> PathBuf {
        self.client.control_dir.join("%C")
    }

    /// The ssh argument vector before the destination.
    fn ssh_args(&self) -> Vec<String> {
        let mut args = Vec::new();
        if let Some(config) = &self.client.config {
            args.push("-F".to_string());
            args.push(config.display().to_string());
        }
        let secs = self.client.connect_timeout.as_secs().max(1);
        let strict = if self.client.accept_new_host_keys {
            "StrictHostKeyChecking=accept-new"
        } else {
            "StrictHostKeyChecking=yes"
        };
        let options = PINNED_OPTIONS.iter().map(|o| o.to_string()).chain([
            strict.to_string(),
            format!("ConnectTimeout={secs}"),
            "ServerAliveInterval=5".to_string(),
            "ServerAliveCountMax=3".to_string(),
            "ControlMaster=auto".to_string(),
            format!("ControlPath={}", self.control_path().display()),
            format!("ControlPersist={CONTROL_PERSIST_SECS}"),
        ]);
        for option in options {
            args.push("-o".to_string());
            args.push(option);
        }
        if let Some(port) = self.target.port {
            args.push("-p".to_string());
            args.push(port.to_string());
        }
        if let Some(user) = &self.target.user {
            args.push("-l".to_string());
            args.push(user.clone());
        }
        if let Some(key) = &self.target.identity_file {
            args.push("-i".to_string());
            args.push(key.display().to_string());
        }
        args.extend(self.target.extra_args.iter().cloned());
        args
    }

    /// The `Command` that runs `argv` on the host (for callers that need its options). A
    /// remote step is never cut off by an interrupt of this process: it finishes (within its
    /// timeout) so the tool can still bring the host to a known-good state.
    pub fn command(&self, argv: &[&str]) -> Command {
        if self.target.local {
            return Command::new("sh")
                .keep_running_on_interrupt()
                .log_limit(REMOTE_LOG_LIMIT)
                .args(["-c", &command_line(argv)]);
        }
        Command::new("ssh")
            .keep_running_on_interrupt()
            .log_limit(REMOTE_LOG_LIMIT)
            .keep_background()
            .args(self.ssh_args())
            .arg("--")
            .arg(&self.target.address)
            .arg(command_line(argv))
    }

    /// Run `argv` on the host, streaming its output; ssh's own failure (255) is
    /// [`SshError::Unreachable`].
    pub fn run(
        &self,
        argv: &[&str],
        timeout: Option<Duration>,
        on_line: impl FnMut(Stream, &str),
    ) -> Result<Finished, SshError> {
        self.run_with_stdin(argv, None, timeout, on_line)
    }

    /// Like [`Session::run`], with `stdin` (a local file) fed to the remote command.
    pub fn run_with_stdin(
        &self,
        argv: &[&str],
        stdin: Option<&Path>,
        timeout: Option<Duration>,
        on_line: impl FnMut(Stream, &str),
    ) -> Result<Finished, SshError> {
        let mut command = self.command(argv).timeout(timeout);
        if let Some(file) = stdin {
            command = command.stdin_file(file);
        }
        self.execute(command, on_line)
    }

    /// Like [`Session::run`], but the output is not logged line by line: for commands whose
    /// output the caller reads and logs in its own form (a service's journal as JSON).
    pub fn run_quiet(
        &self,
        argv: &[&str],
        timeout: Option<Duration>,
        on_line: impl FnMut(Stream, &str),
    ) -> Result<Finished, SshError> {
        self.execute(self.command(argv).timeout(timeout).quiet(), on_line)
    }

    fn execute(
        &self,
        command: Command,
        on_line: impl FnMut(Stream, &str),
    ) -> Result<Finished, SshError> {
        let first = !self.target.local && {
            let connected = self.connected.lock().unwrap_or_else(|e| e.into_inner());
            !*connected
        };
        if first {
            self.client.limiter.acquire();
        }
        let span = tracing::info_span!("ssh", host = %self.target.name);
        let _entered = span.enter();
        let mut stderr_tail = String::new();
        let mut on_line = on_line;
        let result = command.run(|stream, line| {
            if stream == Stream::Stderr {
                stderr_tail = line.to_string();
            }
            on_line(stream, line);
        });
        if first {
            self.client.limiter.release();
        }
        let finished = result?;
        if finished.ending == Ending::Exited(255) && !self.target.local {
            return Err(ssh_failure(&self.target.name, &finished, stderr_tail));
        }
        let mut connected = self.connected.lock().unwrap_or_else(|e| e.into_inner());
        if !*connected && !self.target.local {
            self.client
                .masters
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .push((self.ssh_args(), self.target.address.clone()));
        }
        *connected = true;
        Ok(finished)
    }

    /// Open the master connection now, with a no-op command, so that the first real command
    /// does not pay for the handshake (a rollout opens the later batches' connections while
    /// the current batch works). Nothing to do once connected.
    pub fn connect(&self) -> Result<(), SshError> {
        if self.target.local || *self.connected.lock().unwrap_or_else(|e| e.into_inner()) {
            return Ok(());
        }
        let limit = self.client.connect_timeout + Duration::from_secs(5);
        self.run(&["true"], Some(limit), |_, _| {}).map(|_| ())
    }

    /// Close the master connection (harmless if there is none).
    pub fn close(&self) {
        if !self.target.local {
            close_master(&self.ssh_args(), &self.target.address);
        }
    }
}

/// `ssh -O exit`: tell the master to close. It runs to completion even after SIGINT/SIGTERM:
/// closing masters is what an interrupted run does last, and the signal must not cut it short.
fn close_master(ssh_args: &[String], address: &str) {
    let _ = Command::new("ssh")
        .args(ssh_args)
        .args(["-O", "exit", "--"])
        .arg(address)
        .quiet()
        .keep_running_on_interrupt()
        .timeout(Some(Duration::from_secs(5)))
        .run(|_, _| {});
}

/// The error for an ssh exit 255, told apart by ssh's own words on stderr: a changed or
/// unknown host key is a trust problem, not a network one, and is named as such. ssh prints
/// its banner over several lines; the whole stderr is searched, and one line comes out.
fn ssh_failure(host: &str, finished: &Finished, stderr_tail: String) -> SshError {
    let stderr = finished.stderr.text();
    if stderr.contains("REMOTE HOST IDENTIFICATION HAS CHANGED") {
        return SshError::HostKeyChanged {
            host: host.to_string(),
        };
    }
    if stderr.contains("host key is known for") || stderr.contains("Host key verification failed") {
        return SshError::HostKeyUnknown {
            host: host.to_string(),
        };
    }
    SshError::Unreachable {
        host: host.to_string(),
        detail: if stderr_tail.is_empty() {
            "ssh exited 255".into()
        } else {
            stderr_tail
        },
    }
}

/// The control directory of a run: closes every master the client opened, then removes the
/// directory, when dropped (every return path of a tool, an interrupted one included).
#[derive(Debug)]
pub struct ControlDir {
    client: Client,
    dir: Option<tempfile::TempDir>,
}

impl ControlDir {
    /// Where the sockets are.
    pub fn path(&self) -> &Path {
        &self.client.control_dir
    }
}

impl Drop for ControlDir {
    fn drop(&mut self) {
        self.client.close_all();
        drop(self.dir.take());
    }
}

impl Client {
    /// A client with a fresh, short control directory under `base` (e.g. `/tmp`), mode 0700
    /// (a master's socket accepts commands from whoever can reach it). The [`ControlDir`]
    /// closes the client's masters and removes the directory when dropped.
    pub fn new(
        base: &Path,
        config: Option<PathBuf>,
        connect_timeout: Duration,
        max_new: usize,
    ) -> std::io::Result<(Client, ControlDir)> {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::Builder::new()
            .prefix("cdkit-ssh.")
            .permissions(std::fs::Permissions::from_mode(0o700))
            .tempdir_in(base)?;
        // Whatever the umask: the mode asked for at creation is masked by it.
        std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o700))?;
        let client = Client {
            config,
            connect_timeout,
            control_dir: dir.path().to_path_buf(),
            limiter: ConnectLimiter::new(max_new),
            accept_new_host_keys: false,
            masters: Arc::new(Mutex::new(Vec::new())),
        };
        let guard = ControlDir {
            client: client.clone(),
            dir: Some(dir),
        };
        Ok((client, guard))
    }

    /// Close every master connection this client (or a clone of it) opened; idempotent.
    pub fn close_all(&self) {
        let masters = std::mem::take(&mut *self.masters.lock().unwrap_or_else(|e| e.into_inner()));
        for (args, address) in masters {
            close_master(&args, &address);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hostile_hosts_are_refused() {
        for bad in [
            "-oProxyCommand=touch /tmp/pwned",
            "a b",
            "foo;touch /pwned",
            "$(id)",
            "",
            "h`id`",
            "x\ny",
        ] {
            assert!(validate_host(bad).is_err(), "{bad:?}");
        }
        for good in [
            "web07",
            "10.213.0.11",
            "web-07.example.com",
            "[fe80::1]",
            "fe80::1",
        ] {
            assert!(validate_host(good).is_ok(), "{good:?}");
        }
        assert!(Target::new("web", "web", None, Some("-oX")).is_err());
    }

    #[test]
    fn remote_words_are_quoted() {
        assert_eq!(shell_quote("hello-service=1.0-1"), "hello-service=1.0-1");
        assert_eq!(shell_quote("foo;touch /pwned"), "'foo;touch /pwned'");
        assert_eq!(shell_quote("$(id)"), "'$(id)'");
        assert_eq!(shell_quote("it's"), "'it'\\''s'");
        assert_eq!(shell_quote(""), "''");
        assert_eq!(
            command_line(&["apt-get", "install", "-y", "a b"]),
            "apt-get install -y 'a b'"
        );
    }

    #[test]
    fn quoted_words_survive_a_real_shell() {
        for word in [
            "foo;touch /tmp/cdkit-pwned",
            "$(id)",
            "`id`",
            "a'b\"c",
            "*",
            "\\n",
            "-oProxyCommand=x",
        ] {
            let line = format!("printf %s {}", shell_quote(word));
            let out = std::process::Command::new("sh")
                .args(["-c", &line])
                .output()
                .unwrap();
            assert_eq!(String::from_utf8_lossy(&out.stdout), word);
        }
        assert!(!Path::new("/tmp/cdkit-pwned").exists());
    }

    #[test]
    fn the_limiter_bounds_concurrency() {
        let limiter = ConnectLimiter::new(2);
        let peak = Arc::new(Mutex::new((0usize, 0usize)));
        let threads: Vec<_> = (0..8)
            .map(|_| {
                let (limiter, peak) = (limiter.clone(), peak.clone());
                std::thread::spawn(move || {
                    limiter.acquire();
                    {
                        let mut p = peak.lock().unwrap();
                        p.0 += 1;
                        p.1 = p.1.max(p.0);
                    }
                    std::thread::sleep(Duration::from_millis(20));
                    peak.lock().unwrap().0 -= 1;
                    limiter.release();
                })
            })
            .collect();
        for t in threads {
            t.join().unwrap();
        }
        assert_eq!(peak.lock().unwrap().1, 2);
    }
}
