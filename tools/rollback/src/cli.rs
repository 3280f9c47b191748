//! rollback's command line (in the library, so tests and `main.rs` share one definition).

use std::path::PathBuf;
use std::time::Duration;

use cdkit::cli::{parse_duration, CommonArgs};
use rolling_install::batch::{BatchSpec, MaxFail};
use rolling_install::lb::DrainPolicy;

const EXAMPLES: &str = "\
Examples:
  rollback --record reports/deploy.json --ssh-config ~/.ssh/config \\
      --health-url 'http://{host}:8080/health' --health-body '{version}'
  rollback --inventory inventory.ini --group production --package hello-service --to-version 1.4.1-1 \\
      --lb haproxy:/run/haproxy/admin.sock:be_hello --repo /srv/apt --suite production
  rollback --record reports/deploy.json --database-url postgres://app@db/app --dry-run

Exit status: 0 everything asked for is back on the previous version (or already was); 1 the
repository step failed, and nothing was changed (it goes first: hosts and database untouched);
2 bad input (nothing changed); 3 a host or the database could NOT be returned (the message names
it and the command that finishes the job; a database step that fails after the hosts are back
is always 3); 75 the deployment lock or the repository is locked (the message names the holder)
or the lock host is unreachable; 124 --deadline; 130/143 interrupted (hosts in flight finished;
re-run the same command to finish).";

/// Return a release's hosts, APT suite and database to the previous known-good version.
#[derive(Debug, clap::Parser)]
#[command(name = "rollback", about, after_help = EXAMPLES, disable_version_flag = true)]
pub struct Cli {
    /// A rolling-install record (--record of that run): every host it touched goes back to the
    /// version it had before; the record is updated as hosts come back.
    #[arg(long, env = "ROLLBACK_RECORD", conflicts_with_all = ["inventory", "hosts"])]
    pub record: Option<PathBuf>,
    /// With --record: also remove the package from hosts that did not have it before.
    #[arg(long, env = "ROLLBACK_REMOVE_NEW")]
    pub remove_new: bool,
    /// With --record: go ahead although a host is on a version the record does not name.
    #[arg(long, env = "ROLLBACK_FORCE")]
    pub force: bool,

    /// Explicit form: an Ansible INI or YAML inventory, or a list of hosts.
    #[arg(long, env = "ROLLBACK_INVENTORY", requires_all = ["package", "to_version"])]
    pub inventory: Option<PathBuf>,
    /// The inventory group.
    #[arg(long, env = "ROLLBACK_GROUP", default_value = "all")]
    pub group: String,
    /// Only these hosts of the group (comma-separated).
    #[arg(long, env = "ROLLBACK_HOSTS", value_delimiter = ',')]
    pub hosts: Vec<String>,
    #[arg(long, env = "ROLLBACK_PACKAGE")]
    pub package: Option<String>,
    /// The version to return to (with --record: overrides the recorded one for the repository
    /// and database steps).
    #[arg(long, env = "ROLLBACK_TO_VERSION")]
    pub to_version: Option<String>,
    /// Explicit form: keep a journal here (rewritten after every step; a re-run with the same
    /// file resumes, e.g. puts back a host an interrupted run left drained).
    #[arg(long, env = "ROLLBACK_JOURNAL", conflicts_with = "record")]
    pub journal: Option<PathBuf>,

    /// ssh client configuration (default: the user's).
    #[arg(long, env = "ROLLBACK_SSH_CONFIG")]
    pub ssh_config: Option<PathBuf>,
    #[arg(long, env = "ROLLBACK_CONNECT_TIMEOUT", value_parser = parse_duration, default_value = "10s")]
    pub connect_timeout: Duration,
    /// Trust the host key of a host not yet in known_hosts (first contact). Without it such a
    /// host fails; a host whose key changed fails either way.
    #[arg(long, env = "ROLLBACK_ACCEPT_NEW_HOST_KEYS")]
    pub accept_new_host_keys: bool,
    /// SSH connections set up at the same time.
    #[arg(long, env = "ROLLBACK_MAX_NEW_CONNECTIONS", default_value_t = 10)]
    pub max_new_connections: usize,
    /// Run remote commands with `sudo -n`.
    #[arg(long, env = "ROLLBACK_SUDO")]
    pub sudo: bool,
    /// Host holding the deployment lock (default: the first host, as rolling-install).
    #[arg(long, env = "ROLLBACK_LOCK_HOST")]
    pub lock_host: Option<String>,
    #[arg(long, env = "ROLLBACK_LOCK_TIMEOUT", value_parser = parse_duration, default_value = "60s")]
    pub lock_timeout: Duration,

    /// Batch sizes (rolling-install's `--batch`): the first is the canary of the way back.
    #[arg(long, env = "ROLLBACK_BATCH", default_value = "1,20%")]
    pub batch: BatchSpec,
    /// Hosts that may fail to come back before the rollback stops (N or P%).
    #[arg(long, env = "ROLLBACK_MAX_FAIL", default_value = "0")]
    pub max_fail: MaxFail,
    /// Load balancer haproxy:[HOST:]SOCKET:BACKEND (default: the ones the record names).
    #[arg(long = "lb", env = "ROLLBACK_LB", value_delimiter = ' ')]
    pub lbs: Vec<String>,
    /// HAProxy server name template (`{host}`); default: the record's, else the host name.
    #[arg(long, env = "ROLLBACK_LB_SERVER")]
    pub lb_server: Option<String>,
    #[arg(
        long,
        env = "ROLLBACK_LB_DRAIN_CMD",
        hide_env_values = true,
        requires = "lb_ready_cmd"
    )]
    pub lb_drain_cmd: Option<String>,
    #[arg(
        long,
        env = "ROLLBACK_LB_READY_CMD",
        hide_env_values = true,
        requires = "lb_drain_cmd"
    )]
    pub lb_ready_cmd: Option<String>,
    #[arg(long, env = "ROLLBACK_DRAIN_TIMEOUT", value_parser = parse_duration, default_value = "60s")]
    pub drain_timeout: Duration,
    #[arg(
        long,
        env = "ROLLBACK_DRAIN_POLICY",
        value_enum,
        default_value = "proceed"
    )]
    pub drain_policy: DrainPolicy,
    #[arg(long, env = "ROLLBACK_READY_TIMEOUT", value_parser = parse_duration, default_value = "60s")]
    pub ready_timeout: Duration,
    /// Health URL template (`{host}`, `{version}` = the version returned to).
    #[arg(
        long,
        env = "ROLLBACK_HEALTH_URL",
        hide_env_values = true,
        conflicts_with = "health_cmd"
    )]
    pub health_url: Option<String>,
    #[arg(long, env = "ROLLBACK_HEALTH_STATUS", default_value_t = 200)]
    pub health_status: u16,
    #[arg(long, env = "ROLLBACK_HEALTH_BODY")]
    pub health_body: Option<String>,
    /// Shell command on the host (`{version}`); exit 0 = healthy.
    #[arg(long, env = "ROLLBACK_HEALTH_CMD", hide_env_values = true)]
    pub health_cmd: Option<String>,
    #[arg(long, env = "ROLLBACK_HEALTH_RETRIES", default_value_t = 10)]
    pub health_retries: u32,
    /// With --health-retries N: probe for up to N times this, at first every 100 ms, the waits
    /// doubling up to this.
    #[arg(long, env = "ROLLBACK_HEALTH_INTERVAL", value_parser = parse_duration, default_value = "1s")]
    pub health_interval: Duration,
    #[arg(long, env = "ROLLBACK_HEALTH_TIMEOUT", value_parser = parse_duration, default_value = "5s")]
    pub health_timeout: Duration,
    #[arg(long, env = "ROLLBACK_MIN_HEALTHY", value_parser = parse_duration, default_value = "0s")]
    pub min_healthy: Duration,
    /// Stop starting hosts after this long (in-flight ones finish), exit 124.
    #[arg(long, env = "ROLLBACK_DEADLINE", value_parser = parse_duration)]
    pub deadline: Option<Duration>,
    #[arg(long, env = "ROLLBACK_COMMAND_TIMEOUT", value_parser = parse_duration, default_value = "10m")]
    pub command_timeout: Duration,

    /// Also re-point this APT repository (publish-repo's directory).
    #[arg(long, env = "ROLLBACK_REPO")]
    pub repo: Option<PathBuf>,
    /// The suite to re-point.
    #[arg(
        long,
        env = "ROLLBACK_SUITE",
        default_value = "production",
        requires = "repo"
    )]
    pub suite: String,
    /// Signing key for the re-published suite (publish-repo's setting).
    #[arg(long, env = "PUBLISH_REPO_SIGN_KEY", conflicts_with_all = ["sign_key_file", "unsigned"])]
    pub sign_key: Option<String>,
    #[arg(long, env = "PUBLISH_REPO_SIGN_KEY_FILE", conflicts_with = "unsigned")]
    pub sign_key_file: Option<PathBuf>,
    #[arg(long, env = "PUBLISH_REPO_UNSIGNED")]
    pub unsigned: bool,
    #[arg(long, env = "ROLLBACK_REPO_LOCK_TIMEOUT", value_parser = parse_duration, default_value = "60s")]
    pub repo_lock_timeout: Duration,

    /// Also return this database (db-migrate's URL forms) with db-migrate's down path.
    #[arg(long, env = "ROLLBACK_DATABASE_URL", hide_env_values = true)]
    pub database_url: Option<String>,
    /// The migration version to return the database to (default: below the first migration
    /// a release newer than the one returned to applied, from db-migrate's history).
    #[arg(long, env = "ROLLBACK_DATABASE_TO", requires = "database_url")]
    pub database_to: Option<i64>,

    /// Show the plan (hosts, versions, balancer states, repository, database, lock); change
    /// nothing. Exits 75 if a host or the lock host cannot be reached.
    #[arg(long, env = "ROLLBACK_DRY_RUN")]
    pub dry_run: bool,

    /// Show the hosts in the order they would go back, with how each is reached and the lock
    /// host, without connecting anywhere (with --json: as JSON).
    #[arg(long, conflicts_with = "dry_run")]
    pub plan: bool,

    /// With --plan: print JSON.
    #[arg(long, requires = "plan")]
    pub json: bool,

    #[command(flatten)]
    pub common: CommonArgs,
}
