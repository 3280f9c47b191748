//! HAProxy's runtime API (the admin socket): take a server out of rotation (`drain`), watch
//! its current sessions fall to zero, put it back (`ready`) and wait until HAProxy itself
//! reports it `UP` again (a `ready` server passes its health checks first). The socket is local, or on a load-balancer host
//! reached over SSH (through socat there).
//!
//! Commands on the socket are separated by `;` and newlines, so backend and server names are
//! validated before they are put into one.

use std::io::{Read, Write};
use std::os::unix::net::UnixStream;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use cdkit::ssh::Session;

/// Why the load balancer could not be driven.
#[derive(Debug, thiserror::Error)]
pub enum LbError {
    /// The admin socket could not be reached or read.
    #[error("HAProxy socket {socket}: {detail}")]
    Socket {
        /// The socket.
        socket: String,
        /// What went wrong.
        detail: String,
    },
    /// HAProxy answered a command with an error.
    #[error("HAProxy refused {command:?}: {reply}")]
    Refused {
        /// The command.
        command: String,
        /// HAProxy's reply.
        reply: String,
    },
    /// The backend has no such server.
    #[error("HAProxy has no server {backend}/{server}")]
    NoSuchServer {
        /// The backend.
        backend: String,
        /// The server asked for.
        server: String,
    },
    /// A backend or server name that is not an HAProxy name.
    #[error("{what} {name:?} is not a valid HAProxy name (letters, digits, '.', '_', '-')")]
    BadName {
        /// What the name names (`--lb-server`, backend).
        what: &'static str,
        /// The name.
        name: String,
    },
    /// A server did not reach the asked state in time.
    #[error("{backend}/{server} did not {what} within {secs} s (last status {status})")]
    Timeout {
        /// The backend.
        backend: String,
        /// The server.
        server: String,
        /// What it did not do (`drain`, `come up`).
        what: &'static str,
        /// The limit, in seconds.
        secs: u64,
        /// The last status seen.
        status: String,
    },
}

/// The longest reply read from the admin socket. `show stat` is about 400 bytes per server
/// and proxy, so this holds thousands of servers; a longer reply is not HAProxy talking to us
/// and is refused rather than read without end.
pub const MAX_REPLY: usize = 4 * 1024 * 1024;

fn too_long() -> String {
    format!("the reply is longer than {MAX_REPLY} bytes; refusing to read more")
}

/// Where the admin socket is.
#[derive(Debug, Clone)]
pub enum Socket {
    /// On this machine.
    Local(PathBuf),
    /// On another host, reached with ssh and socat.
    Remote {
        /// The session to that host.
        session: Arc<Session>,
        /// The socket's path there.
        path: String,
    },
}

/// One backend of one HAProxy.
#[derive(Debug, Clone)]
pub struct Haproxy {
    /// Where its admin socket is.
    pub socket: Socket,
    /// The backend the hosts are servers of.
    pub backend: String,
}

/// A server's state as `show stat` reports it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServerStat {
    /// `UP`, `DOWN`, `DRAIN`, `MAINT`, `UP 1/2` (going down), `DOWN 1/2` (coming up), …
    pub status: String,
    /// Current sessions.
    pub scur: u64,
}

/// Backend and server names: what HAProxy itself allows, nothing that could end a command.
pub fn check_name(what: &'static str, name: &str) -> Result<(), LbError> {
    let ok = !name.is_empty()
        && name.len() <= 100
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "._-".contains(c));
    if ok {
        Ok(())
    } else {
        Err(LbError::BadName {
            what,
            name: name.to_string(),
        })
    }
}

impl Haproxy {
    /// A backend on `socket`, its name validated.
    pub fn new(socket: Socket, backend: &str) -> Result<Haproxy, LbError> {
        check_name("backend", backend)?;
        Ok(Haproxy {
            socket,
            backend: backend.to_string(),
        })
    }

    fn socket_name(&self) -> String {
        match &self.socket {
            Socket::Local(p) => p.display().to_string(),
            Socket::Remote { session, path } => format!("{}:{path}", session.target.name),
        }
    }

    /// Send one command and return HAProxy's reply.
    pub fn command(&self, command: &str) -> Result<String, LbError> {
        let fail = |detail: String| LbError::Socket {
            socket: self.socket_name(),
            detail,
        };
        match &self.socket {
            Socket::Local(path) => {
                let mut stream = UnixStream::connect(path).map_err(|e| fail(e.to_string()))?;
                stream
                    .set_read_timeout(Some(Duration::from_secs(10)))
                    .map_err(|e| fail(e.to_string()))?;
                stream
                    .write_all(format!("{command}\n").as_bytes())
                    .map_err(|e| fail(e.to_string()))?;
                let mut reply = String::new();
                stream
                    .take(MAX_REPLY as u64 + 1)
                    .read_to_string(&mut reply)
                    .map_err(|e| fail(e.to_string()))?;
                if reply.len() > MAX_REPLY {
                    return Err(fail(too_long()));
                }
                Ok(reply)
            }
            Socket::Remote { session, path } => {
                let script = "printf '%s\\n' \"$1\" | socat stdio UNIX-CONNECT:\"$2\"";
                let mut reply = String::new();
                let done = session
                    .run(
                        &["sh", "-c", script, "sh", command, path],
                        Some(Duration::from_secs(20)),
                        |stream, line| {
                            if stream == cdkit::process::Stream::Stdout && reply.len() <= MAX_REPLY
                            {
                                reply.push_str(line);
                                reply.push('\n');
                            }
                        },
                    )
                    .map_err(|e| fail(e.to_string()))?;
                if !done.success() {
                    return Err(fail(format!(
                        "socat on {} ended with {}",
                        session.target.name,
                        done.describe()
                    )));
                }
                if reply.len() > MAX_REPLY {
                    return Err(fail(too_long()));
                }
                Ok(reply)
            }
        }
    }

    /// `set server BACKEND/SERVER state STATE`, which answers nothing when it works.
    fn set_state(&self, server: &str, state: &str) -> Result<(), LbError> {
        check_name("server", server)?;
        let command = format!("set server {}/{server} state {state}", self.backend);
        let reply = self.command(&command)?;
        if reply.trim().is_empty() {
            Ok(())
        } else if reply.contains("No such server") || reply.contains("No such backend") {
            Err(LbError::NoSuchServer {
                backend: self.backend.clone(),
                server: server.to_string(),
            })
        } else {
            Err(LbError::Refused {
                command,
                reply: reply.trim().to_string(),
            })
        }
    }

    /// Stop sending new sessions to `server`; existing ones finish.
    pub fn drain(&self, server: &str) -> Result<(), LbError> {
        self.set_state(server, "drain")
    }

    /// Put `server` back in rotation.
    pub fn ready(&self, server: &str) -> Result<(), LbError> {
        self.set_state(server, "ready")
    }

    /// Take `server` out of rotation with its health checks off, so it stays out even when it
    /// answers again (a host left on an unknown version).
    pub fn maint(&self, server: &str) -> Result<(), LbError> {
        self.set_state(server, "maint")
    }

    /// `show stat` for `server`.
    pub fn stat(&self, server: &str) -> Result<ServerStat, LbError> {
        check_name("server", server)?;
        let reply = self.command("show stat")?;
        parse_stat(&reply, &self.backend, server).ok_or_else(|| LbError::NoSuchServer {
            backend: self.backend.clone(),
            server: server.to_string(),
        })
    }

    /// Poll until `done(stat)` holds or `timeout` passes.
    fn wait(
        &self,
        server: &str,
        timeout: Duration,
        what: &'static str,
        done: impl Fn(&ServerStat) -> bool,
    ) -> Result<ServerStat, LbError> {
        let deadline = Instant::now() + timeout;
        loop {
            let stat = self.stat(server)?;
            if done(&stat) {
                return Ok(stat);
            }
            if Instant::now() >= deadline {
                return Err(LbError::Timeout {
                    backend: self.backend.clone(),
                    server: server.to_string(),
                    what,
                    secs: timeout.as_secs(),
                    status: format!("{}, {} sessions", stat.status, stat.scur),
                });
            }
            // A `show stat` is a millisecond on a local socket: polling it often keeps the wait
            // close to the moment HAProxy's checks change the state. Over ssh each poll is a
            // remote command, shared by every host of a batch: less often.
            std::thread::sleep(match self.socket {
                Socket::Local(_) => Duration::from_millis(50),
                Socket::Remote { .. } => Duration::from_millis(200),
            });
        }
    }

    /// Wait until `server` has no current sessions.
    pub fn wait_drained(&self, server: &str, timeout: Duration) -> Result<ServerStat, LbError> {
        self.wait(server, timeout, "drain to zero sessions", |s| s.scur == 0)
    }

    /// Wait until HAProxy reports `server` exactly `UP` (health checks passed, in rotation).
    pub fn wait_up(&self, server: &str, timeout: Duration) -> Result<ServerStat, LbError> {
        self.wait(server, timeout, "come back UP", |s| s.status == "UP")
    }
}

/// The `status` and `scur` of `backend/server` in `show stat` CSV output.
pub fn parse_stat(csv: &str, backend: &str, server: &str) -> Option<ServerStat> {
    let mut lines = csv.lines();
    let header: Vec<&str> = lines.next()?.trim_start_matches("# ").split(',').collect();
    let col = |name: &str| header.iter().position(|h| *h == name);
    let (px, sv, scur, status) = (col("pxname")?, col("svname")?, col("scur")?, col("status")?);
    lines
        .map(|l| l.split(',').collect::<Vec<_>>())
        .find_map(|row| {
            (row.get(px) == Some(&backend) && row.get(sv) == Some(&server)).then(|| ServerStat {
                status: row.get(status).unwrap_or(&"").to_string(),
                scur: row.get(scur).and_then(|v| v.parse().ok()).unwrap_or(0),
            })
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stat_lines_are_read_by_column_name() {
        let csv = "# pxname,svname,qcur,qmax,scur,smax,status\nfe,FRONTEND,,,3,5,OPEN\nbe,web1,0,0,2,4,DRAIN\nbe,web2,0,0,0,4,UP\n";
        assert_eq!(
            parse_stat(csv, "be", "web1"),
            Some(ServerStat {
                status: "DRAIN".into(),
                scur: 2
            })
        );
        assert_eq!(parse_stat(csv, "be", "web2").unwrap().status, "UP");
        assert_eq!(parse_stat(csv, "be", "web3"), None);
    }

    #[test]
    fn names_that_could_inject_commands_are_refused() {
        for bad in [
            "web1; disable frontend fe",
            "web1\nshutdown sessions",
            "",
            "a b",
            "$(id)",
        ] {
            assert!(check_name("server", bad).is_err(), "{bad:?}");
        }
        assert!(check_name("server", "web-01.example_1").is_ok());
    }
}
