//! The load balancers of a rollout: HAProxy runtime APIs (several, for an HA pair) and/or a
//! generic pair of hook commands for any other balancer. The server name of a host comes from
//! an inventory variable or a template.

use std::sync::Arc;
use std::time::Duration;

use cdkit::process::Command;

use crate::haproxy::{Haproxy, LbError, Socket};
use crate::inventory::Host;

/// What to do when a drained host still has sessions after `--drain-timeout`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum DrainPolicy {
    /// Go on with the install.
    Proceed,
    /// Kill the remaining sessions (`shutdown sessions server`), then go on.
    Shutdown,
    /// Fail the host.
    Fail,
}

/// One load balancer.
#[derive(Debug, Clone)]
pub enum Balancer {
    /// A backend of an HAProxy, through its admin socket.
    Haproxy(Haproxy),
    /// `--lb-drain-cmd` / `--lb-ready-cmd`, run locally with `{host}` and `{server}` replaced
    /// (each word separately: the template is split into words first, never given to a shell).
    Hooks {
        /// The drain command, in words.
        drain: Vec<String>,
        /// The ready command, in words.
        ready: Vec<String>,
    },
}

impl Balancer {
    /// Parse `haproxy:SOCKET:BACKEND` (a local admin socket) or `haproxy:HOST:SOCKET:BACKEND`
    /// (the socket on load-balancer host HOST, reached over ssh with `connect`).
    pub fn parse_haproxy(
        spec: &str,
        connect: impl Fn(&str) -> Result<RemoteSession, String>,
    ) -> Result<Balancer, String> {
        let usage = || format!("--lb {spec:?}: expected haproxy:[HOST:]SOCKET:BACKEND");
        let rest = spec.strip_prefix("haproxy:").ok_or_else(usage)?;
        let parts: Vec<&str> = rest.split(':').collect();
        let (socket, backend) = match parts[..] {
            [path, backend] if !path.is_empty() => (Socket::Local(path.into()), backend),
            [host, path, backend] if path.starts_with('/') => {
                cdkit::ssh::validate_host(host).map_err(|e| format!("--lb {spec:?}: {e}"))?;
                (
                    Socket::Remote {
                        session: connect(host)?,
                        path: path.to_string(),
                    },
                    backend,
                )
            }
            _ => return Err(usage()),
        };
        Haproxy::new(socket, backend)
            .map(Balancer::Haproxy)
            .map_err(|e| format!("--lb {spec:?}: {e}"))
    }

    /// The balancers the command-line flags ask for: each `--lb` HAProxy spec (`connect`
    /// opens the ssh session of a remote socket's host), then the hook pair, if given.
    /// Shared by rolling-install and rollback.
    pub fn from_flags(
        specs: &[String],
        hooks: Option<(&str, &str)>,
        connect: impl Fn(&str) -> Result<RemoteSession, String>,
    ) -> Result<Vec<Balancer>, String> {
        let mut list: Vec<Balancer> = specs
            .iter()
            .map(|s| Balancer::parse_haproxy(s, &connect))
            .collect::<Result<_, _>>()?;
        if let Some((drain, ready)) = hooks {
            list.push(Balancer::Hooks {
                drain: crate::inventory::split_words(drain)?,
                ready: crate::inventory::split_words(ready)?,
            });
        }
        Ok(list)
    }

    /// A stable name for journals and messages.
    pub fn name(&self) -> String {
        match self {
            Balancer::Haproxy(h) => match &h.socket {
                Socket::Local(p) => format!("haproxy:{}:{}", p.display(), h.backend),
                Socket::Remote { session, path } => {
                    format!("haproxy:{}:{path}:{}", session.target.name, h.backend)
                }
            },
            Balancer::Hooks { .. } => "hooks".into(),
        }
    }

    /// Take `server` out of rotation and wait for its sessions to end.
    pub fn drain(
        &self,
        host: &Host,
        server: &str,
        timeout: Duration,
        policy: DrainPolicy,
    ) -> Result<(), String> {
        match self {
            Balancer::Haproxy(h) => {
                h.drain(server).map_err(|e| e.to_string())?;
                match h.wait_drained(server, timeout) {
                    Ok(_) => Ok(()),
                    Err(LbError::Timeout { status, .. }) => match policy {
                        DrainPolicy::Proceed => {
                            tracing::warn!(host = %host.name, "sessions left after --drain-timeout ({status}); proceeding");
                            Ok(())
                        }
                        DrainPolicy::Shutdown => h
                            .command(&format!("shutdown sessions server {}/{server}", h.backend))
                            .map(|_| ())
                            .map_err(|e| e.to_string()),
                        DrainPolicy::Fail => Err(format!(
                            "{server} still has sessions after --drain-timeout ({status})"
                        )),
                    },
                    Err(e) => Err(e.to_string()),
                }
            }
            Balancer::Hooks { drain, .. } => run_hook(drain, host, server),
        }
    }

    /// Put `server` back and wait until the balancer reports it UP.
    pub fn ready(&self, host: &Host, server: &str, timeout: Duration) -> Result<(), String> {
        match self {
            Balancer::Haproxy(h) => {
                h.ready(server).map_err(|e| e.to_string())?;
                h.wait_up(server, timeout)
                    .map(|_| ())
                    .map_err(|e| e.to_string())
            }
            Balancer::Hooks { ready, .. } => run_hook(ready, host, server),
        }
    }

    /// Keep `server` out of rotation for good (HAProxy MAINT: no traffic, no checks), for a
    /// host that could not be brought to a known version, or one whose package was removed.
    /// A hook balancer already holds it out after its drain hook: nothing more to do there.
    pub fn maint(&self, server: &str) -> Result<(), String> {
        match self {
            Balancer::Haproxy(h) => h.maint(server).map_err(|e| e.to_string()),
            Balancer::Hooks { .. } => Ok(()),
        }
    }

    /// The balancer's view of `server`, for `--dry-run`.
    pub fn describe(&self, server: &str) -> String {
        match self {
            Balancer::Haproxy(h) => match h.stat(server) {
                Ok(s) => format!("{} ({} sessions)", s.status, s.scur),
                Err(e) => format!("unknown: {e}"),
            },
            Balancer::Hooks { .. } => "managed by hooks".into(),
        }
    }
}

/// The HAProxy server name of `host`: its `template` (`{host}` = inventory name) or the
/// inventory variable `haproxy_server`, else the host name.
pub fn server_name(host: &Host, template: Option<&str>) -> String {
    match template {
        Some(t) => t.replace("{host}", &host.name),
        None => host
            .vars
            .get("haproxy_server")
            .cloned()
            .unwrap_or_else(|| host.name.clone()),
    }
}

/// Refuse, before anything changes, a hook balancer whose server names would not be plain
/// names: a server name comes from the inventory (`haproxy_server`) or `--lb-server`, and a
/// hook receives it as an argument, where one starting with `-` would become an option and
/// one with spaces or shell characters could mean anything to a hook that hands it on.
pub fn check_hook_servers(
    balancers: &[Balancer],
    hosts: &[Host],
    template: Option<&str>,
) -> Result<(), String> {
    if !balancers
        .iter()
        .any(|b| matches!(b, Balancer::Hooks { .. }))
    {
        return Ok(());
    }
    hosts
        .iter()
        .try_for_each(|h| check_hook_value(h, "server name", &server_name(h, template)))
}

/// A value given to a hook: the same rule as host names ([`cdkit::ssh::validate_host`]).
fn check_hook_value(host: &Host, what: &str, value: &str) -> Result<(), String> {
    cdkit::ssh::validate_host(value).map_err(|_| {
        format!(
            "host {}: {what} {value:?} is not a valid name for --lb-drain-cmd/--lb-ready-cmd \
             (letters, digits, '.', '-', '_', ':', not starting with '-')",
            host.name
        )
    })
}

fn run_hook(template: &[String], host: &Host, server: &str) -> Result<(), String> {
    // Checked before the rollout too (check_hook_servers); here for every other caller.
    check_hook_value(host, "host name", &host.name)?;
    check_hook_value(host, "address", host.address())?;
    check_hook_value(host, "server name", server)?;
    let argv: Vec<String> = template
        .iter()
        .map(|w| {
            w.replace("{host}", &host.name)
                .replace("{address}", host.address())
                .replace("{server}", server)
        })
        .collect();
    let Some((program, args)) = argv.split_first() else {
        return Err("empty hook command".into());
    };
    let done = Command::new(program)
        .args(args)
        .run(|_, _| {})
        .map_err(|e| e.to_string())?;
    if done.success() {
        Ok(())
    } else {
        Err(format!("{} ended with {}", argv.join(" "), done.describe()))
    }
}

/// Keeps the type used for remote HAProxy sockets in one place.
pub type RemoteSession = Arc<cdkit::ssh::Session>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn specs_and_names() {
        let no_ssh = |_: &str| -> Result<RemoteSession, String> { Err("no ssh here".into()) };
        assert!(
            Balancer::parse_haproxy("haproxy:/run/haproxy/admin.sock:be_hello", no_ssh).is_ok()
        );
        assert!(Balancer::parse_haproxy("nginx:/x", no_ssh).is_err());
        assert!(Balancer::parse_haproxy("haproxy:/x:be;x", no_ssh).is_err());
        let err =
            Balancer::parse_haproxy("haproxy:lb1:/run/haproxy/admin.sock:be", no_ssh).unwrap_err();
        assert_eq!(err, "no ssh here", "a remote socket goes through ssh");
        assert!(Balancer::parse_haproxy("haproxy:-oProxyCommand=x:/s:be", no_ssh).is_err());
        let host = Host {
            name: "h3".into(),
            vars: [("haproxy_server".to_string(), "web03".to_string())].into(),
        };
        assert_eq!(server_name(&host, None), "web03");
        assert_eq!(server_name(&host, Some("app-{host}")), "app-h3");
        assert_eq!(
            crate::inventory::split_words("lbctl drain '{server} x'").unwrap(),
            ["lbctl", "drain", "{server} x"]
        );
    }

    #[test]
    fn hooks_refuse_server_names_that_are_not_names() {
        let marker = tempfile::tempdir().unwrap();
        let ran = marker.path().join("hook-ran");
        let hooks = Balancer::Hooks {
            drain: vec!["touch".into(), ran.display().to_string(), "{server}".into()],
            ready: vec!["true".into()],
        };
        for bad in ["--help", "web 1", "web;id", "$(id)", "a\nb", ""] {
            let host = Host {
                name: "h1".into(),
                vars: [("haproxy_server".to_string(), bad.to_string())].into(),
            };
            let err = check_hook_servers(
                std::slice::from_ref(&hooks),
                std::slice::from_ref(&host),
                None,
            )
            .unwrap_err();
            assert!(err.contains("h1") && err.contains("server name"), "{err}");
            let err = hooks
                .drain(&host, bad, Duration::from_secs(5), DrainPolicy::Fail)
                .unwrap_err();
            assert!(err.contains("server name"), "{err}");
            assert!(!ran.exists(), "the hook ran with server name {bad:?}");
        }
        let good = Host {
            name: "h1".into(),
            vars: [("haproxy_server".to_string(), "web-01".to_string())].into(),
        };
        check_hook_servers(
            std::slice::from_ref(&hooks),
            std::slice::from_ref(&good),
            None,
        )
        .unwrap();
        hooks
            .drain(&good, "web-01", Duration::from_secs(5), DrainPolicy::Fail)
            .unwrap();
        assert!(ran.exists());
        // HAProxy balancers check their names themselves (check_name).
        let only_haproxy: [Balancer; 0] = [];
        let odd = Host {
            name: "h1".into(),
            vars: [("haproxy_server".to_string(), "-x".to_string())].into(),
        };
        assert!(check_hook_servers(&only_haproxy, &[odd], None).is_ok());
    }
}
