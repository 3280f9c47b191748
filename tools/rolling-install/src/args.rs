//! The flag groups a rollout is configured with, next to the code they configure, so that
//! rolling-install and rollback (which returns hosts through the same executor) flatten the
//! same definitions: one help text, one default, one way of building the [`Options`], the ssh
//! client and the balancers.
//!
//! The environment variables are rolling-install's (`ROLLING_INSTALL_*`). Another tool keeps
//! its own names by renaming them with [`env_renamed`] in its `#[command(mut_args(..))]`.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use cdkit::cli::parse_duration;
use cdkit::ssh::{Client, ControlDir, Session};

use crate::batch::{BatchSpec, MaxFail};
use crate::health::{Check, Gate};
use crate::host_ops::Source;
use crate::journal::LockHost;
use crate::lb::{Balancer, DrainPolicy};
use crate::rollout::{OnFailure, Options};
use crate::Error;

/// How hosts are reached: the ssh client every session and balancer connection shares.
#[derive(Debug, Clone, clap::Args)]
pub struct SshArgs {
    /// ssh client configuration (default: the user's).
    #[arg(long, env = "ROLLING_INSTALL_SSH_CONFIG", global = true)]
    pub ssh_config: Option<PathBuf>,
    /// How long an ssh connection may take to set up.
    #[arg(long, env = "ROLLING_INSTALL_CONNECT_TIMEOUT", value_parser = parse_duration, default_value = "10s", global = true)]
    pub connect_timeout: Duration,
    /// Trust the host key of a host not yet in known_hosts (first contact). Without it such a
    /// host fails; a host whose key changed fails either way.
    #[arg(long, env = "ROLLING_INSTALL_ACCEPT_NEW_HOST_KEYS", global = true)]
    pub accept_new_host_keys: bool,
    /// SSH connections set up at the same time.
    #[arg(
        long,
        env = "ROLLING_INSTALL_MAX_NEW_CONNECTIONS",
        default_value_t = 10,
        global = true
    )]
    pub max_new_connections: usize,
    /// Run remote commands with `sudo -n` (when not logging in as root).
    #[arg(long, env = "ROLLING_INSTALL_SUDO", global = true)]
    pub sudo: bool,
}

impl SshArgs {
    /// The ssh client of a run, with its control directory in /tmp. The [`ControlDir`] closes
    /// the masters and removes the directory when dropped: keep it until the run ends.
    pub fn client(&self) -> Result<(Client, ControlDir), Error> {
        let (mut client, control_dir) = Client::new(
            Path::new("/tmp"),
            self.ssh_config.clone(),
            self.connect_timeout,
            self.max_new_connections,
        )
        .map_err(|e| {
            Error::Usage(format!(
                "cannot create an ssh control directory in /tmp: {e}"
            ))
        })?;
        client.accept_new_host_keys = self.accept_new_host_keys;
        Ok((client, control_dir))
    }
}

/// Where the group's deployment lock is held and how long to wait for it.
#[derive(Debug, Clone, clap::Args)]
pub struct LockArgs {
    /// Host holding the deployment lock (default: the group's first host).
    #[arg(long, env = "ROLLING_INSTALL_LOCK_HOST", global = true)]
    pub lock_host: Option<String>,
    /// How long to wait for a deployment lock another run holds (then exit 75).
    #[arg(long, env = "ROLLING_INSTALL_LOCK_TIMEOUT", value_parser = parse_duration, default_value = "60s")]
    pub lock_timeout: Duration,
}

/// How the fleet is worked through: batches, tolerated failures and time limits.
#[derive(Debug, Clone, clap::Args)]
pub struct FleetArgs {
    /// Batch sizes, Ansible `serial` style: first is the canary, the last repeats.
    #[arg(
        long,
        env = "ROLLING_INSTALL_BATCH",
        default_value = "1,20%",
        global = true
    )]
    pub batch: BatchSpec,
    /// Failed hosts tolerated over the whole run (N or P%); exceeding it stops and restores.
    #[arg(long, env = "ROLLING_INSTALL_MAX_FAIL", default_value = "0")]
    pub max_fail: MaxFail,
    /// Stop, restore and exit 124 if the run takes longer.
    #[arg(long, env = "ROLLING_INSTALL_DEADLINE", value_parser = parse_duration)]
    pub deadline: Option<Duration>,
    /// Limit for each remote command.
    #[arg(long, env = "ROLLING_INSTALL_COMMAND_TIMEOUT", value_parser = parse_duration, default_value = "10m")]
    pub command_timeout: Duration,
}

/// The load balancers a host is drained from and put back into.
#[derive(Debug, Clone, clap::Args)]
pub struct LbArgs {
    /// Load balancer: haproxy:[HOST:]SOCKET:BACKEND (repeat for an HA pair).
    #[arg(
        long = "lb",
        env = "ROLLING_INSTALL_LB",
        value_delimiter = ' ',
        global = true
    )]
    pub lbs: Vec<String>,
    /// HAProxy server name template (`{host}`); default: inventory var haproxy_server, else the host name.
    #[arg(long, env = "ROLLING_INSTALL_LB_SERVER", global = true)]
    pub lb_server: Option<String>,
    /// Command taking a host out of another balancer (`{host}`, `{address}`, `{server}`).
    #[arg(
        long,
        env = "ROLLING_INSTALL_LB_DRAIN_CMD",
        hide_env_values = true,
        requires = "lb_ready_cmd"
    )]
    pub lb_drain_cmd: Option<String>,
    /// Command putting it back.
    #[arg(
        long,
        env = "ROLLING_INSTALL_LB_READY_CMD",
        hide_env_values = true,
        requires = "lb_drain_cmd"
    )]
    pub lb_ready_cmd: Option<String>,
    /// How long connections may take to drain from a host.
    #[arg(long, env = "ROLLING_INSTALL_DRAIN_TIMEOUT", value_parser = parse_duration, default_value = "60s")]
    pub drain_timeout: Duration,
    /// What to do when a host has not drained within --drain-timeout.
    #[arg(
        long,
        env = "ROLLING_INSTALL_DRAIN_POLICY",
        value_enum,
        default_value = "proceed"
    )]
    pub drain_policy: DrainPolicy,
    /// How long the balancer may take to report a host UP again.
    #[arg(long, env = "ROLLING_INSTALL_READY_TIMEOUT", value_parser = parse_duration, default_value = "60s")]
    pub ready_timeout: Duration,
}

impl LbArgs {
    /// `--lb-server`, checked as an HAProxy server name.
    pub fn server_template(&self) -> Result<Option<String>, Error> {
        if let Some(t) = &self.lb_server {
            crate::haproxy::check_name("--lb-server", &t.replace("{host}", "h"))
                .map_err(|e| Error::Usage(e.to_string()))?;
        }
        Ok(self.lb_server.clone())
    }

    /// The balancers of `specs` (`--lb`, or another source when it is empty) and the
    /// drain/ready hooks. `connect` opens a session to a balancer's host by name.
    pub fn balancers(
        &self,
        specs: &[String],
        connect: impl Fn(&str) -> Result<Arc<Session>, String>,
    ) -> Result<Vec<Balancer>, Error> {
        let hooks = self
            .lb_drain_cmd
            .as_deref()
            .zip(self.lb_ready_cmd.as_deref());
        Balancer::from_flags(specs, hooks, connect).map_err(Error::Usage)
    }
}

/// The deployment page a run keeps up to date while it goes on.
#[derive(Debug, Clone, clap::Args)]
pub struct PageArgs {
    /// Keep a deployment page here (one self-contained HTML file): rewritten while the run
    /// goes on (a browser reloads it every 2 s), final at the end; with --log-file it shows
    /// every host's log lines.
    #[arg(long, env = "ROLLING_INSTALL_REPORT", value_name = "FILE.html")]
    pub report: Option<PathBuf>,
}

/// The health gate a host must pass before it goes back into rotation.
#[derive(Debug, Clone, clap::Args)]
pub struct GateArgs {
    /// Health URL template (`{host}` = address, `{version}` = the version being installed).
    #[arg(
        long,
        env = "ROLLING_INSTALL_HEALTH_URL",
        hide_env_values = true,
        conflicts_with = "health_cmd",
        global = true
    )]
    pub health_url: Option<String>,
    /// The HTTP status the health URL must answer with.
    #[arg(
        long,
        env = "ROLLING_INSTALL_HEALTH_STATUS",
        default_value_t = 200,
        global = true
    )]
    pub health_status: u16,
    /// Text the health response must contain (`{version}` allowed).
    #[arg(long, env = "ROLLING_INSTALL_HEALTH_BODY", global = true)]
    pub health_body: Option<String>,
    /// Shell command run on the host (`{version}` allowed); exit 0 = healthy.
    #[arg(
        long,
        env = "ROLLING_INSTALL_HEALTH_CMD",
        hide_env_values = true,
        global = true
    )]
    pub health_cmd: Option<String>,
    /// How many probes a host gets to pass.
    #[arg(long, env = "ROLLING_INSTALL_HEALTH_RETRIES", default_value_t = 10)]
    pub health_retries: u32,
    /// With --health-retries N: probe for up to N times this, at first every 100 ms, the waits
    /// doubling up to this.
    #[arg(long, env = "ROLLING_INSTALL_HEALTH_INTERVAL", value_parser = parse_duration, default_value = "1s")]
    pub health_interval: Duration,
    /// Limit for one probe.
    #[arg(long, env = "ROLLING_INSTALL_HEALTH_TIMEOUT", value_parser = parse_duration, default_value = "5s", global = true)]
    pub health_timeout: Duration,
    /// The host must stay healthy this long after its first pass.
    #[arg(long, env = "ROLLING_INSTALL_MIN_HEALTHY", value_parser = parse_duration, default_value = "0s")]
    pub min_healthy: Duration,
}

impl GateArgs {
    /// The gate these flags describe.
    pub fn gate(&self) -> Gate {
        Gate {
            check: Check::from_flags(
                self.health_url.as_deref(),
                self.health_status,
                self.health_body.as_deref(),
                self.health_cmd.as_deref(),
            ),
            retries: self.health_retries,
            interval: self.health_interval,
            timeout: self.health_timeout,
            min_healthy: self.min_healthy,
        }
    }
}

/// The service's own logs collected during each host's turn (see [`crate::service`]).
#[derive(Debug, Clone, clap::Args)]
pub struct ServiceArgs {
    /// systemd unit(s) whose journal is collected and whose state a failure shows (default:
    /// the units the package ships).
    #[arg(
        long = "service-unit",
        env = "ROLLING_INSTALL_SERVICE_UNIT",
        value_delimiter = ',',
        global = true
    )]
    pub service_units: Vec<String>,
    /// Log files on the hosts (shell glob, repeatable) whose lines appended during a turn go
    /// to the central log.
    #[arg(long = "service-log", env = "ROLLING_INSTALL_SERVICE_LOG")]
    pub service_logs: Vec<String>,
    /// Lines kept from the start and from the end of each unit's or file's output per turn.
    #[arg(long, env = "ROLLING_INSTALL_SERVICE_LOG_LINES", default_value_t = crate::service::DEFAULT_KEEP)]
    pub service_log_lines: usize,
}

impl ServiceArgs {
    /// What the run watches.
    pub fn watch(&self) -> Result<crate::service::Watch, Error> {
        if let Some(bad) = self.service_units.iter().find(|u| {
            u.is_empty()
                || u.starts_with('-')
                || u.chars().any(|c| c.is_whitespace() || c.is_control())
        }) {
            return Err(Error::Usage(format!(
                "--service-unit {bad:?}: not a systemd unit name"
            )));
        }
        if let Some(bad) = self
            .service_logs
            .iter()
            .find(|g| !g.starts_with('/') || g.chars().any(|c| c == '\n' || c.is_control()))
        {
            return Err(Error::Usage(format!(
                "--service-log {bad:?}: not an absolute path or glob on the hosts"
            )));
        }
        Ok(crate::service::Watch {
            units: self.service_units.clone(),
            files: self.service_logs.clone(),
            keep: self.service_log_lines.max(1),
        })
    }
}

/// What a run installs where, besides its flag groups: the caller's own decisions.
pub struct Job {
    /// The package.
    pub package: String,
    /// The version to install (or return to).
    pub version: String,
    /// The group or host pattern (names the deployment lock).
    pub group: String,
    /// Where the package comes from.
    pub source: Source,
    /// What a failed run does with the hosts it touched.
    pub on_failure: OnFailure,
    /// The journal file, rewritten after every step.
    pub record: Option<PathBuf>,
    /// The host holding the deployment lock, written into the journal.
    pub lock_host: Option<LockHost>,
    /// The deployment page (`--report`), rewritten while the run goes on.
    pub report: Option<PathBuf>,
    /// The central log (`--log-file`) whose lines the deployment page shows.
    pub log_file: Option<PathBuf>,
}

impl Job {
    /// The executor's options: this job, configured by the flag groups.
    pub fn options(
        self,
        ssh: &SshArgs,
        fleet: &FleetArgs,
        lb: &LbArgs,
        gate: &GateArgs,
        service: &ServiceArgs,
    ) -> Result<Options, Error> {
        Ok(Options {
            watch: service.watch()?,
            server_template: lb.server_template()?,
            package: self.package,
            version: self.version,
            group: self.group,
            source: self.source,
            batch: fleet.batch.clone(),
            max_fail: fleet.max_fail,
            sudo: ssh.sudo,
            gate: gate.gate(),
            drain_timeout: lb.drain_timeout,
            drain_policy: lb.drain_policy,
            ready_timeout: lb.ready_timeout,
            on_failure: self.on_failure,
            deadline: fleet.deadline,
            command_timeout: fleet.command_timeout,
            record: self.record,
            lock_host: self.lock_host,
            report: self.report,
            log_file: self.log_file,
        })
    }
}

/// The prefix of the environment variables the flag groups declare.
pub const ENV_PREFIX: &str = "ROLLING_INSTALL_";

/// For `#[command(mut_args(..))]`: `arg` with its `ROLLING_INSTALL_*` variable renamed to the
/// name `names` gives for the same suffix (e.g. `("SSH_CONFIG", "ROLLBACK_SSH_CONFIG")`) and,
/// where `help` names the argument, that tool's own help text. A flag-group variable `names`
/// does not rename keeps rolling-install's name, which a test of the other tool refuses.
pub fn env_renamed(
    names: &'static [(&'static str, &'static str)],
    help: &'static [(&'static str, &'static str)],
) -> impl FnMut(clap::Arg) -> clap::Arg {
    move |mut arg| {
        let suffix = arg
            .get_env()
            .and_then(|e| e.to_str())
            .and_then(|e| e.strip_prefix(ENV_PREFIX))
            .map(str::to_owned);
        if let Some(suffix) = suffix {
            if let Some((_, name)) = names.iter().find(|(s, _)| *s == suffix) {
                arg = arg.env(*name);
            }
        }
        if let Some((_, text)) = help.iter().find(|(id, _)| arg.get_id() == *id) {
            arg = arg.help(*text);
        }
        arg
    }
}
