//! rolling-install's command line (in the library, so tests and `main.rs` share one
//! definition) and the run it starts: resolve the inventory, connect, then `plan`, `lock` or
//! the rollout itself.

use std::path::PathBuf;
use std::time::Duration;

use clap::{Args, Parser, Subcommand};

use cdkit::cli::CommonArgs;
use cdkit::exit::Exit;
use cdkit::junit::{Report, Suite};
use cdkit::progress::Progress;
use cdkit::ssh::{Client, Session};

use crate::args::{FleetArgs, GateArgs, Job, LbArgs, LockArgs, PageArgs, ServiceArgs, SshArgs};
use crate::host_ops::{HostOps, Source};
use crate::inventory::{Host, Inventory, Reader};
use crate::journal::LockHost;
use crate::lb::Balancer;
use crate::plan::Plan;
use crate::rollout::{OnFailure, Options, Rollout};
use crate::{deploy_lock, Error, TOOL};

const EXAMPLES: &str = "\
Examples:
  rolling-install --inventory inventory.ini --group testing --package hello-service --version 2.0-1 \\
      --batch 1,3,50% --lb haproxy:/run/haproxy/admin.sock:be_hello \\
      --health-url 'http://{host}:8080/health' --health-body '{version}' --record reports/deploy.json \\
      --log-file reports/pipeline.log --report reports/deploy.html
  rolling-install --inventory inventory.ini --group production --package hello-service \\
      --version 2.0-1 --lb haproxy:/run/haproxy/admin.sock:be_hello --dry-run
  rolling-install plan --inventory inventory.ini --group 'web:&production' --batch 1,10% --json
  rolling-install lock status --inventory inventory.ini --group production
  rolling-install status --inventory inventory.ini --group production --package hello-service \\
      --lb haproxy:/run/haproxy/admin.sock:be_hello --health-url 'http://{host}:8080/health' --json
  rolling-install page --record reports/deploy.json --central-log reports/pipeline.log \\
      --output reports/deploy.html

Exit status: 0 every host on the version; 1 failed, every touched host restored; 2 bad input;
3 failed and NOT restored (the message says: rollback --record FILE); 75 deployment lock held or
lock host unreachable; 124 --deadline; 130/143 interrupted (after restoring).
status: 0 every host reachable, on one version, installed, its units running, UP on every
balancer and healthy; 1 not uniform or not healthy (the summary names each host and what);
75 nothing wrong found but a host, balancer or the lock host could not be checked; 2 bad input.";

/// Install a package version across a group of hosts, safely, in batches.
#[derive(Debug, Parser)]
#[command(name = "rolling-install", about, after_help = EXAMPLES, disable_version_flag = true)]
pub struct Cli {
    #[command(subcommand)]
    lock: Option<LockCommand>,
    #[command(flatten)]
    fleet: Fleet,
    #[command(flatten)]
    ssh: SshArgs,
    #[command(flatten)]
    lock_args: LockArgs,
    #[command(flatten)]
    rollout: RolloutArgs,
    #[command(flatten)]
    batches: FleetArgs,
    #[command(flatten)]
    lb: LbArgs,
    #[command(flatten)]
    gate: GateArgs,
    #[command(flatten)]
    service: ServiceArgs,
    #[command(flatten)]
    page: PageArgs,
    /// The flags every tool shares (`--junit`, `--log-format`, ...).
    #[command(flatten)]
    pub common: CommonArgs,
}

#[derive(Debug, Subcommand)]
enum LockCommand {
    /// Inspect or break the deployment lock of a group.
    Lock {
        #[arg(value_enum)]
        action: LockAction,
    },
    /// Show the hosts, batches, connections and lock host the inventory resolves to, without
    /// connecting anywhere.
    Plan {
        /// Print JSON instead of a table.
        #[arg(long)]
        json: bool,
    },
    /// Show each host's installed version, dpkg state, units, balancer states and health, and
    /// the group's lock, without changing anything (takes no lock).
    Status {
        /// Print JSON (docs/schemas/rolling-install-status.schema.json) instead of a table.
        #[arg(long)]
        json: bool,
    },
    /// Render the deployment page (one self-contained HTML file) of a finished or running
    /// rolling-install or rollback run from its record, without connecting anywhere.
    Page(PageCommand),
}

#[derive(Debug, Args)]
struct PageCommand {
    /// The run's record (`--record` of rolling-install, also after `rollback --record`).
    #[arg(long, value_name = "FILE")]
    record: PathBuf,
    /// The central log the run wrote (`--log-file`, JSON lines): each host's lines (the
    /// tool's and its services') go on the page. Lines of other runs are left out.
    #[arg(long, value_name = "FILE")]
    central_log: Option<PathBuf>,
    /// Where to write the page (atomically: nothing is half-written).
    #[arg(long, short, value_name = "FILE.html")]
    output: PathBuf,
}

/// `--inventory-reader`.
#[derive(Debug, Clone, Copy, clap::ValueEnum)]
enum ReaderArg {
    /// Ansible's when ansible-inventory is on PATH, else the native one.
    Auto,
    /// ansible-inventory (every source Ansible reads).
    Ansible,
    /// The built-in reader of static INI and YAML inventories.
    Native,
}

#[derive(Debug, Clone, Copy, clap::ValueEnum)]
enum LockAction {
    Status,
    Release,
}

#[derive(Debug, Args)]
struct Fleet {
    /// Ansible inventory: INI, YAML, a directory; with Ansible's reader any source it reads.
    #[arg(long, env = "ROLLING_INSTALL_INVENTORY", global = true)]
    inventory: Option<PathBuf>,
    /// Who reads the inventory.
    #[arg(
        long,
        env = "ROLLING_INSTALL_INVENTORY_READER",
        value_enum,
        default_value = "auto",
        global = true
    )]
    inventory_reader: ReaderArg,
    /// The group to deploy to, or any Ansible host pattern (`web:&prod`, `web:!h3`, `web[0:2]`).
    #[arg(long, env = "ROLLING_INSTALL_GROUP", global = true)]
    group: Option<String>,
    /// Only these hosts of the inventory (comma-separated).
    #[arg(
        long,
        env = "ROLLING_INSTALL_HOSTS",
        value_delimiter = ',',
        global = true
    )]
    hosts: Vec<String>,
}

#[derive(Debug, Args)]
struct RolloutArgs {
    #[arg(long, env = "ROLLING_INSTALL_PACKAGE", global = true)]
    package: Option<String>,
    #[arg(long, env = "ROLLING_INSTALL_VERSION")]
    version: Option<String>,
    /// Install this .deb (copied to each host) instead of using the hosts' APT sources.
    #[arg(long, env = "ROLLING_INSTALL_DEB")]
    deb: Option<PathBuf>,
    #[arg(
        long,
        env = "ROLLING_INSTALL_ON_FAILURE",
        value_enum,
        default_value = "rollback"
    )]
    on_failure: OnFailure,
    /// Journal of the run (JSON, rewritten after every step) for `rollback --record`.
    #[arg(long, env = "ROLLING_INSTALL_RECORD")]
    record: Option<PathBuf>,
    /// Do not take the deployment lock.
    #[arg(long, env = "ROLLING_INSTALL_NO_LOCK")]
    no_lock: bool,
    /// Show the plan, versions, balancer states, reachability and the lock; change nothing.
    #[arg(long, env = "ROLLING_INSTALL_DRY_RUN")]
    dry_run: bool,
}

/// Run what `cli` asks for.
pub fn run(cli: Cli) -> anyhow::Result<Exit> {
    if let Some(LockCommand::Page(page)) = &cli.lock {
        return page_command(page);
    }
    let inventory_path = cli
        .fleet
        .inventory
        .clone()
        .ok_or_else(|| Error::Usage("--inventory FILE is required".into()))?;
    let reader = match cli.fleet.inventory_reader {
        ReaderArg::Auto => Reader::Auto,
        ReaderArg::Ansible => Reader::Ansible,
        ReaderArg::Native => Reader::Native,
    };
    let inventory = Inventory::load_with(&inventory_path, reader)?;
    let group = cli.fleet.group.clone().unwrap_or_else(|| "all".into());
    crate::inventory::check_pattern(&group).map_err(|e| Error::Usage(format!("--group: {e}")))?;
    let mut hosts = inventory.select(&group).map_err(Error::Usage)?;
    // The group's lock lives on the group's first host whatever --hosts selects, so a run over
    // part of the group and a run over all of it contend for the same lock.
    let group_first = hosts.first().cloned();
    if !cli.fleet.hosts.is_empty() {
        for wanted in &cli.fleet.hosts {
            if !hosts.iter().any(|h| &h.name == wanted) {
                return Err(
                    Error::Usage(format!("--hosts: {wanted} is not in group {group}")).into(),
                );
            }
        }
        hosts.retain(|h| cli.fleet.hosts.contains(&h.name));
    }
    if hosts.is_empty() {
        return Err(Error::Usage(format!("group {group} has no hosts")).into());
    }
    let lock_host = match &cli.lock_args.lock_host {
        Some(name) => Host::find_or_bare(&inventory.all(), name),
        None => group_first.unwrap_or_else(|| hosts[0].clone()),
    };
    if let Some(LockCommand::Plan { json }) = cli.lock {
        let plan = Plan::new(
            &group,
            inventory.reader(),
            &hosts,
            &lock_host,
            &cli.batches.batch,
            cli.lb.lb_server.as_deref(),
        )
        .map_err(Error::Usage)?;
        if json {
            cdkit::console::print_stdout(&plan.json().map_err(Error::Usage)?);
        } else {
            cdkit::console::print_stdout(&plan.table());
        }
        return Ok(Exit::Success);
    }
    // Dropped on every way out of this function: closes the masters, removes the directory.
    let (client, _control_dir) = cli.ssh.client()?;
    let sessions: Vec<Session> = hosts
        .iter()
        .map(|h| h.session(&client))
        .collect::<Result<_, _>>()
        .map_err(Error::Usage)?;
    let lock_session = lock_host.session(&client).map_err(Error::Usage)?;

    let result = match cli.lock {
        Some(LockCommand::Lock { action }) => {
            lock_command(action, &lock_session, cli.ssh.sudo, &group)
        }
        Some(LockCommand::Plan { .. }) => unreachable!("the plan returned above"),
        Some(LockCommand::Status { json }) => status(
            &cli,
            &group,
            (&hosts, &sessions),
            &lock_session,
            &inventory,
            &client,
            json,
        ),
        Some(LockCommand::Page(_)) => unreachable!("the page returned above"),
        None => rollout(
            &cli,
            &group,
            &hosts,
            &sessions,
            (&lock_session, &lock_host),
            &inventory,
            &client,
        ),
    };
    // Every master, the load balancers' included.
    client.close_all();
    result
}

/// `rolling-install page`: the deployment page of a record (and its central log).
fn page_command(page: &PageCommand) -> anyhow::Result<Exit> {
    let journal = crate::journal::Journal::load(&page.record).map_err(Error::from)?;
    let logs = match &page.central_log {
        Some(path) => Some(crate::page::Logs::read(&journal, path).map_err(Error::from)?),
        None => None,
    };
    let html = crate::page::render(&journal, logs.as_ref(), false);
    crate::page::write(&page.output, &html).map_err(Error::from)?;
    tracing::info!(
        "deployment page of {} hosts written to {} ({} bytes)",
        journal.hosts.len(),
        page.output.display(),
        html.len()
    );
    Ok(Exit::Success)
}

fn lock_command(
    action: LockAction,
    session: &Session,
    sudo: bool,
    group: &str,
) -> anyhow::Result<Exit> {
    let ops = HostOps::new(session, sudo, Duration::from_secs(30));
    match action {
        LockAction::Status => match deploy_lock::status(&ops, group).map_err(Error::from)? {
            Some(owner) => cdkit::outln!("{group}: locked by {owner}"),
            None => cdkit::outln!("{group}: not locked"),
        },
        LockAction::Release => {
            deploy_lock::force_release(&ops, group).map_err(Error::from)?;
            cdkit::outln!("{group}: released");
        }
    }
    Ok(Exit::Success)
}

/// `status`: read-only, no lock taken.
fn status(
    cli: &Cli,
    group: &str,
    (hosts, sessions): (&[Host], &[Session]),
    lock_session: &Session,
    inventory: &Inventory,
    client: &Client,
    json: bool,
) -> anyhow::Result<Exit> {
    let package = cli
        .rollout
        .package
        .as_deref()
        .ok_or_else(|| Error::Usage("--package NAME is required".into()))?;
    cdkit_deb::policy::validate_package_name(package).map_err(|e| Error::Usage(e.to_string()))?;
    let watch = cli.service.watch()?;
    let template = cli.lb.server_template()?;
    let gate = cli.gate.gate();
    let query = crate::status::Query {
        group,
        package,
        units: &watch.units,
        server_template: template.as_deref(),
        gate: &gate,
        sudo: cli.ssh.sudo,
        workers: cli.ssh.max_new_connections,
    };
    let balancers = balancers(cli, inventory, client)?;
    let started = chrono::Utc::now();
    let found = crate::status::collect(&query, hosts, sessions, &balancers, lock_session);
    if let Some(path) = &cli.common.junit {
        let mut junit = Report::new(TOOL);
        junit.suites.push(
            Suite::finished(TOOL, package, started, found.junit_cases()).property("group", group),
        );
        junit.write(path)?;
    }
    if json {
        cdkit::console::print_stdout(&found.json());
    } else {
        cdkit::console::print_stdout(&found.table());
    }
    let exit = found.exit();
    if !exit.is_success() {
        cdkit::cli::final_line(TOOL, &found.summary());
    }
    Ok(exit)
}

fn options(cli: &Cli, group: &str, lock_host: &Host) -> Result<Options, Error> {
    let r = &cli.rollout;
    let package = r
        .package
        .clone()
        .ok_or_else(|| Error::Usage("--package NAME is required".into()))?;
    let version = r
        .version
        .clone()
        .ok_or_else(|| Error::Usage("--version VERSION is required".into()))?;
    cdkit_deb::policy::validate_package_name(&package).map_err(|e| Error::Usage(e.to_string()))?;
    cdkit_deb::policy::Version::parse(&version).map_err(|e| Error::Usage(e.to_string()))?;
    cli.lb.server_template()?;
    let source = match &r.deb {
        Some(deb) if !deb.is_file() => {
            return Err(Error::Usage(format!(
                "--deb {}: no such file",
                deb.display()
            )))
        }
        Some(deb) => Source::Deb(deb.clone()),
        None => Source::Apt,
    };
    let job = Job {
        package,
        version,
        group: group.to_string(),
        source,
        on_failure: r.on_failure,
        record: r.record.clone(),
        lock_host: Some(LockHost::of(lock_host)),
        report: cli.page.report.clone(),
        log_file: cli.common.log_file.clone(),
    };
    job.options(&cli.ssh, &cli.batches, &cli.lb, &cli.gate, &cli.service)
}

fn balancers(cli: &Cli, inventory: &Inventory, client: &Client) -> Result<Vec<Balancer>, Error> {
    // An LB host is an inventory host (its address, port and user apply) or a plain address.
    let all = inventory.all();
    let connect = |name: &str| -> Result<std::sync::Arc<Session>, String> {
        Host::find_or_bare(&all, name)
            .session(client)
            .map(std::sync::Arc::new)
            .map_err(|e| e.to_string())
    };
    cli.lb.balancers(&cli.lb.lbs, connect)
}

fn rollout(
    cli: &Cli,
    group: &str,
    hosts: &[Host],
    sessions: &[Session],
    (lock_session, lock_host): (&Session, &Host),
    inventory: &Inventory,
    client: &Client,
) -> anyhow::Result<Exit> {
    let opts = options(cli, group, lock_host)?;
    let balancers = balancers(cli, inventory, client)?;
    crate::lb::check_hook_servers(&balancers, hosts, cli.lb.lb_server.as_deref())
        .map_err(Error::Usage)?;
    if cli.rollout.dry_run {
        return Ok(dry_run(
            &opts,
            hosts,
            sessions,
            &balancers,
            lock_session,
            cli.ssh.sudo,
        )?);
    }
    let owner = deploy_lock::owner_line(TOOL);
    let lock = if cli.rollout.no_lock {
        None
    } else {
        Some(
            deploy_lock::DeploymentLock::acquire(
                lock_session,
                cli.ssh.sudo,
                group,
                &owner,
                cli.lock_args.lock_timeout,
            )
            .map_err(Error::from)?,
        )
    };
    let started = chrono::Utc::now();
    let progress = Progress::new(cli.common.progress, Some(hosts.len() as u64));
    let run = Rollout::new(&opts, hosts, sessions, &balancers, progress);
    let report = run.run();
    if let Some(lock) = lock {
        if let Err(e) = lock.release() {
            tracing::error!("could not release the deployment lock: {e}");
        }
    }
    if let Some(path) = &cli.common.junit {
        let mut junit = Report::new(TOOL);
        junit.suites.push(
            Suite::finished(TOOL, &opts.package, started, report.cases)
                .property("version", opts.version.as_str())
                .property("group", group),
        );
        junit.write(path)?;
    }
    if report.exit.is_success() {
        tracing::info!("{}", report.summary);
    } else {
        cdkit::cli::final_line(TOOL, &report.summary);
    }
    Ok(report.exit)
}

fn dry_run(
    opts: &Options,
    hosts: &[Host],
    sessions: &[Session],
    balancers: &[Balancer],
    lock_session: &Session,
    sudo: bool,
) -> Result<Exit, Error> {
    cdkit::outln!(
        "plan: {} {} on {} host(s) of {}",
        opts.package,
        opts.version,
        hosts.len(),
        opts.group
    );
    // Every host is asked at once (new connections still go through the client's limit), so
    // a dry run of 400 hosts takes about as long as the slowest host.
    let versions: Vec<Result<Option<String>, String>> = std::thread::scope(|scope| {
        let handles: Vec<_> = sessions
            .iter()
            .map(|session| {
                scope.spawn(move || {
                    let ops = HostOps::new(session, sudo, Duration::from_secs(30));
                    ops.installed_version(&opts.package)
                        .map_err(|e| e.to_string())
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|h| {
                h.join()
                    .unwrap_or_else(|_| Err("the check panicked".into()))
            })
            .collect()
    });
    let mut unreachable = 0;
    for (n, batch) in opts.batch.plan(hosts.len()).iter().enumerate() {
        cdkit::outln!("batch {}{}:", n + 1, if n == 0 { " (canary)" } else { "" });
        for &i in batch {
            let version = match &versions[i] {
                Ok(Some(v)) => v.clone(),
                Ok(None) => "not installed".into(),
                Err(e) => {
                    unreachable += 1;
                    format!("UNREACHABLE ({e})")
                }
            };
            let server = crate::lb::server_name(&hosts[i], opts.server_template.as_deref());
            let lbs: Vec<String> = balancers
                .iter()
                .map(|b| format!("{}: {}", b.name(), b.describe(&server)))
                .collect();
            let target = &sessions[i].target;
            cdkit::outln!(
                "  {} ({}{}{}): {version}; {}",
                hosts[i].name,
                target
                    .user
                    .as_deref()
                    .map(|u| format!("{u}@"))
                    .unwrap_or_default(),
                target.address,
                target.port.map(|p| format!(":{p}")).unwrap_or_default(),
                if lbs.is_empty() {
                    "no load balancer".into()
                } else {
                    lbs.join("; ")
                }
            );
        }
    }
    Ok(deploy_lock::finish_dry_run(
        TOOL,
        lock_session,
        sudo,
        &opts.group,
        unreachable,
        "a rollout",
    ))
}
