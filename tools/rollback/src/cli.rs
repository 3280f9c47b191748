//! rollback's command line (in the library, so tests and `main.rs` share one definition).

use std::path::PathBuf;
use std::time::Duration;

use cdkit::cli::{parse_duration, CommonArgs};
use rolling_install::args::{
    env_renamed, FleetArgs, GateArgs, LbArgs, LockArgs, PageArgs, ServiceArgs, SshArgs,
};

const EXAMPLES: &str = "\
Examples:
  rollback --record reports/deploy.json --ssh-config ~/.ssh/config \\
      --health-url 'http://{host}:8080/health' --health-body '{version}' --report reports/deploy.html
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

/// rollback's names for the environment variables of rolling-install's flag groups (the
/// flags are the same; each tool keeps its own variables).
pub const ENV: &[(&str, &str)] = &[
    ("SSH_CONFIG", "ROLLBACK_SSH_CONFIG"),
    ("CONNECT_TIMEOUT", "ROLLBACK_CONNECT_TIMEOUT"),
    ("ACCEPT_NEW_HOST_KEYS", "ROLLBACK_ACCEPT_NEW_HOST_KEYS"),
    ("MAX_NEW_CONNECTIONS", "ROLLBACK_MAX_NEW_CONNECTIONS"),
    ("SUDO", "ROLLBACK_SUDO"),
    ("LOCK_HOST", "ROLLBACK_LOCK_HOST"),
    ("LOCK_TIMEOUT", "ROLLBACK_LOCK_TIMEOUT"),
    ("BATCH", "ROLLBACK_BATCH"),
    ("MAX_FAIL", "ROLLBACK_MAX_FAIL"),
    ("DEADLINE", "ROLLBACK_DEADLINE"),
    ("COMMAND_TIMEOUT", "ROLLBACK_COMMAND_TIMEOUT"),
    ("LB", "ROLLBACK_LB"),
    ("LB_SERVER", "ROLLBACK_LB_SERVER"),
    ("LB_DRAIN_CMD", "ROLLBACK_LB_DRAIN_CMD"),
    ("LB_READY_CMD", "ROLLBACK_LB_READY_CMD"),
    ("DRAIN_TIMEOUT", "ROLLBACK_DRAIN_TIMEOUT"),
    ("DRAIN_POLICY", "ROLLBACK_DRAIN_POLICY"),
    ("READY_TIMEOUT", "ROLLBACK_READY_TIMEOUT"),
    ("HEALTH_URL", "ROLLBACK_HEALTH_URL"),
    ("HEALTH_STATUS", "ROLLBACK_HEALTH_STATUS"),
    ("HEALTH_BODY", "ROLLBACK_HEALTH_BODY"),
    ("HEALTH_CMD", "ROLLBACK_HEALTH_CMD"),
    ("HEALTH_RETRIES", "ROLLBACK_HEALTH_RETRIES"),
    ("HEALTH_INTERVAL", "ROLLBACK_HEALTH_INTERVAL"),
    ("HEALTH_TIMEOUT", "ROLLBACK_HEALTH_TIMEOUT"),
    ("MIN_HEALTHY", "ROLLBACK_MIN_HEALTHY"),
    ("SERVICE_UNIT", "ROLLBACK_SERVICE_UNIT"),
    ("SERVICE_LOG", "ROLLBACK_SERVICE_LOG"),
    ("SERVICE_LOG_LINES", "ROLLBACK_SERVICE_LOG_LINES"),
    ("REPORT", "ROLLBACK_REPORT"),
];

/// Where a shared flag means something else on the way back, rollback's own help text.
const HELP: &[(&str, &str)] = &[
    (
        "lock_host",
        "Host holding the deployment lock (default: where the recorded run held it, else the \
         group's first host, as rolling-install)",
    ),
    (
        "max_fail",
        "Hosts that may fail to come back before the rollback stops (N or P%)",
    ),
    (
        "lock_timeout",
        "How long to wait for the deployment lock, and for the database's migration lock, \
         another run holds (then exit 75)",
    ),
    (
        "deadline",
        "Stop starting hosts after this long (in-flight ones finish), exit 124",
    ),
    (
        "lbs",
        "Load balancer haproxy:[HOST:]SOCKET:BACKEND (default: the ones the record names)",
    ),
    (
        "lb_server",
        "HAProxy server name template (`{host}`); default: the record's, else the host name",
    ),
];

/// Return a release's hosts, APT suite and database to the previous known-good version.
#[derive(Debug, clap::Parser)]
#[command(name = "rollback", about, after_help = EXAMPLES, disable_version_flag = true)]
#[command(mut_args(env_renamed(ENV, HELP)))]
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
    /// The package (with --record: must be the recorded one).
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

    /// How hosts are reached.
    #[command(flatten)]
    pub ssh: SshArgs,
    /// Where the deployment lock is held.
    #[command(flatten)]
    pub lock: LockArgs,
    /// Batches, tolerated failures, time limits.
    #[command(flatten)]
    pub fleet: FleetArgs,
    /// Load balancers.
    #[command(flatten)]
    pub lb: LbArgs,
    /// The health gate.
    #[command(flatten)]
    pub gate: GateArgs,
    /// The service's own logs, collected during each host's turn.
    #[command(flatten)]
    pub service: ServiceArgs,
    /// The deployment page (`--report`).
    #[command(flatten)]
    pub page: PageArgs,

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
    /// How the re-published suite is signed: publish-repo's own flags and variables.
    #[command(flatten)]
    pub signing: publish_repo::SigningArgs,
    /// How long to wait for the repository's lock.
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

    /// The flags every tool shares.
    #[command(flatten)]
    pub common: CommonArgs,
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    /// A name in the tables that matches no flag would leave a rolling-install name or help
    /// text in place without a word.
    #[test]
    fn every_renamed_variable_and_help_text_lands_on_a_flag() {
        let cmd = Cli::command();
        for (_, name) in ENV {
            assert!(
                cmd.get_arguments()
                    .any(|a| a.get_env().and_then(|e| e.to_str()) == Some(*name)),
                "{name} names no flag"
            );
        }
        for (id, text) in HELP {
            let arg = cmd
                .get_arguments()
                .find(|a| a.get_id() == *id)
                .unwrap_or_else(|| panic!("{id} is no flag"));
            assert_eq!(
                arg.get_help().map(|h| h.to_string()).as_deref(),
                Some(*text)
            );
        }
    }
}
