//! One rollback, start to end: decide everything before changing anything (hosts, versions,
//! balancers, repository plan), take the group's deployment lock, re-point the repository
//! first (so nothing new fetches the bad release meanwhile), return the hosts (rolling, newest
//! change first, through rolling-install's executor), then the database (old code tolerates
//! the newer schema; new code may not tolerate the older one), and report.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context as _;
use cdkit::exit::Exit;
use cdkit::junit::{Case, Problem, Report, Status, Suite};
use cdkit::progress::Progress;
use cdkit::ssh::{Client, Session};
use publish_repo::sign::Signer;
use rolling_install::args::Job;
use rolling_install::host_ops::{HostOps, Source};
use rolling_install::inventory::{Host, Inventory};
use rolling_install::journal::{Journal, LockHost};
use rolling_install::lb::{server_name, Balancer};
use rolling_install::{new_journal, OnFailure, Options, RollbackPlan, Rollout};

use crate::cli::Cli;
use crate::database::{self, DbPlan};
use crate::plan::{self, Decision};
use crate::repo::{self, RepoPlan};
use crate::{Error, TOOL};

/// What is rolled back, and the journal that says where each host stands.
struct Subject {
    package: String,
    group: String,
    hosts: Vec<Host>,
    journal: Journal,
    /// An existing rolling-install record (updated in place) rather than our own journal.
    existing: bool,
    decisions: Vec<Decision>,
    journal_path: Option<PathBuf>,
    /// Work newest change first (a record's hosts) or in inventory order.
    newest_first: bool,
    /// Where the group's deployment lock lives unless `--lock-host` says otherwise: where the
    /// record's run held it (a record of an older rolling-install: its first host), or the
    /// group's first host in the explicit form, as rolling-install chooses whatever `--hosts`
    /// selects.
    lock_host: Host,
}

/// What every step of a run reads.
#[derive(Clone, Copy)]
struct Ctx<'a> {
    cli: &'a Cli,
    subject: &'a Subject,
    opts: &'a Options,
    sessions: &'a [Session],
    balancers: &'a [Balancer],
    /// `--repo`'s signing key, resolved (and checked) before anything else.
    signer: Option<&'a Signer>,
}

/// Run the rollback `cli` describes.
pub fn run(cli: &Cli) -> anyhow::Result<Exit> {
    let started = chrono::Utc::now();
    let subject = subject(cli)?;
    let lock_host = lock_host(cli, &subject);
    if cli.plan {
        return show_plan(cli, &subject, &lock_host);
    }
    let opts = options(cli, &subject, &lock_host)?;
    // Like every other input, the signing key is checked before any host is asked or the lock
    // taken: a typo is bad input (2), and `--dry-run` says which key would sign.
    let signer = match &cli.repo {
        Some(_) => {
            let signer = signer(cli)?;
            signer.ready().map_err(Error::from)?;
            Some(signer)
        }
        None => None,
    };
    // Dropped on every way out of this function: closes the masters, removes the directory.
    let (client, _control_dir) = cli.ssh.client()?;
    let sessions: Vec<Session> = subject
        .hosts
        .iter()
        .map(|h| h.session(&client))
        .collect::<Result<_, _>>()
        .map_err(Error::Usage)?;
    let lock_session = lock_host.session(&client).map_err(Error::Usage)?;
    let result = (|| {
        let balancers = balancers(cli, &subject, &client)?;
        rolling_install::lb::check_hook_servers(
            &balancers,
            &subject.hosts,
            cli.lb.lb_server.as_deref(),
        )
        .map_err(Error::Usage)?;
        let ctx = Ctx {
            cli,
            subject: &subject,
            opts: &opts,
            sessions: &sessions,
            balancers: &balancers,
            signer: signer.as_ref(),
        };
        work(ctx, &lock_session, started)
    })();
    client.close_all();
    result
}

fn subject(cli: &Cli) -> Result<Subject, Error> {
    if let Some(path) = &cli.record {
        let journal = Journal::load(path)?;
        if journal.hosts.is_empty() {
            return Err(Error::Usage(format!(
                "record {} names no hosts",
                path.display()
            )));
        }
        if let Some(p) = &cli.package {
            if *p != journal.package {
                return Err(Error::Usage(format!(
                    "--package {p}: record {} is about {}",
                    path.display(),
                    journal.package
                )));
            }
        }
        cdkit_deb::policy::validate_package_name(&journal.package)
            .map_err(|e| Error::Usage(format!("record {}: {e}", path.display())))?;
        // The group (a name or a host pattern) names the deployment lock; a pattern is hashed
        // into the lock's name, so only text that cannot be a pattern is refused.
        rolling_install::inventory::check_pattern(&journal.group)
            .map_err(|e| Error::Usage(format!("record {}: {e}", path.display())))?;
        let hosts = journal.hosts.iter().map(plan::host_of).collect();
        let decisions = plan::from_record(&journal, cli.remove_new);
        for (record, decision) in journal.hosts.iter().zip(&decisions) {
            if let Decision::Return(Some(v)) = decision {
                cdkit_deb::policy::Version::parse(v).map_err(|e| {
                    Error::Usage(format!("record {}: {}: {e}", path.display(), record.name))
                })?;
            }
        }
        return Ok(Subject {
            package: journal.package.clone(),
            group: journal.group.clone(),
            hosts,
            lock_host: journal
                .lock_host
                .as_ref()
                .map_or_else(|| plan::host_of(&journal.hosts[0]), LockHost::host),
            journal,
            existing: true,
            decisions,
            journal_path: Some(path.clone()),
            newest_first: true,
        });
    }
    let Some(inventory_path) = &cli.inventory else {
        return Err(Error::Usage(
            "give --record FILE, or --inventory FILE --group G --package NAME --to-version VER"
                .into(),
        ));
    };
    let (Some(package), Some(version)) = (&cli.package, &cli.to_version) else {
        return Err(Error::Usage(
            "--inventory needs --package NAME and --to-version VER".into(),
        ));
    };
    cdkit_deb::policy::validate_package_name(package).map_err(|e| Error::Usage(e.to_string()))?;
    cdkit_deb::policy::Version::parse(version).map_err(|e| Error::Usage(e.to_string()))?;
    let inventory = Inventory::load(inventory_path)?;
    let mut hosts = inventory.select(&cli.group).map_err(Error::Usage)?;
    let group_first = hosts.first().cloned();
    for wanted in &cli.hosts {
        if !hosts.iter().any(|h| &h.name == wanted) {
            return Err(Error::Usage(format!(
                "--hosts: {wanted} is not in group {}",
                cli.group
            )));
        }
    }
    if !cli.hosts.is_empty() {
        hosts.retain(|h| cli.hosts.contains(&h.name));
    }
    if hosts.is_empty() {
        return Err(Error::Usage(format!("group {} has no hosts", cli.group)));
    }
    let lock_host = group_first.unwrap_or_else(|| hosts[0].clone());
    let decisions = vec![Decision::Return(Some(version.clone())); hosts.len()];
    Ok(Subject {
        package: package.clone(),
        group: cli.group.clone(),
        journal: Journal {
            // Filled in by `own_journal` once the balancers are known.
            tool: TOOL.into(),
            run_id: String::new(),
            package: package.clone(),
            version: version.clone(),
            group: cli.group.clone(),
            started: String::new(),
            finished: None,
            outcome: None,
            hosts: Vec::new(),
            balancers: Vec::new(),
            lock_host: None,
            rollbacks: Vec::new(),
        },
        hosts,
        existing: false,
        decisions,
        journal_path: cli.journal.clone(),
        newest_first: false,
        lock_host,
    })
}

/// The explicit form's journal: the one in `--journal` if it is this same rollback (resume),
/// else a fresh one.
fn own_journal(
    subject: &Subject,
    opts: &Options,
    balancers: &[Balancer],
) -> Result<Journal, Error> {
    let mut fresh = new_journal(TOOL, opts, &subject.hosts, balancers);
    fresh.version = subject.journal.version.clone();
    let Some(path) = subject.journal_path.as_ref().filter(|p| p.exists()) else {
        return Ok(fresh);
    };
    let old = Journal::load(path)?;
    let same_hosts = old
        .hosts
        .iter()
        .map(|h| &h.name)
        .eq(fresh.hosts.iter().map(|h| &h.name));
    if old.tool != TOOL
        || old.package != fresh.package
        || old.version != fresh.version
        || old.group != fresh.group
        || !same_hosts
    {
        return Err(Error::Usage(format!(
            "--journal {}: belongs to another run ({} of {} {} on {}); give another file",
            path.display(),
            old.tool,
            old.package,
            old.version,
            old.group
        )));
    }
    tracing::info!("resuming from journal {}", path.display());
    Ok(old)
}

fn options(cli: &Cli, subject: &Subject, lock_host: &Host) -> Result<Options, Error> {
    let job = Job {
        package: subject.package.clone(),
        version: subject.journal.version.clone(),
        group: subject.group.clone(),
        source: Source::Apt,
        // A rollback has nothing further back to go to; its failures are reported (exit 3).
        on_failure: OnFailure::Halt,
        record: subject.journal_path.clone(),
        lock_host: Some(LockHost::of(lock_host)),
        report: cli.page.report.clone(),
        log_file: cli.common.log_file.clone(),
    };
    Ok(job.options(&cli.ssh, &cli.fleet, &cli.lb, &cli.gate, &cli.service)?)
}

/// The host to hold the group's deployment lock on: `--lock-host`, else the subject's.
fn lock_host(cli: &Cli, subject: &Subject) -> Host {
    match &cli.lock.lock_host {
        Some(name) => Host::find_or_bare(&subject.hosts, name),
        None => subject.lock_host.clone(),
    }
}

/// `--plan`: the hosts in the order they would go back, resolved without connecting.
fn show_plan(cli: &Cli, subject: &Subject, lock_host: &Host) -> anyhow::Result<Exit> {
    let hosts: Vec<Host> = plan::targets(&subject.decisions, subject.newest_first)
        .into_iter()
        .map(|(i, _)| subject.hosts[i].clone())
        .collect();
    let reader = if subject.existing {
        "record"
    } else {
        "inventory"
    };
    let plan = rolling_install::Plan::new(
        &subject.group,
        reader,
        &hosts,
        lock_host,
        &cli.fleet.batch,
        cli.lb.lb_server.as_deref(),
    )
    .map_err(Error::Usage)?;
    if cli.json {
        cdkit::console::print_stdout(&plan.json().map_err(Error::Usage)?);
    } else {
        cdkit::console::print_stdout(&plan.table());
    }
    Ok(Exit::Success)
}

/// `--lb` (else the record's balancers), the hooks, and a check that every balancer the
/// record says a host is drained on is among them (else that host could not be put back).
fn balancers(cli: &Cli, subject: &Subject, client: &Client) -> Result<Vec<Balancer>, Error> {
    let connect = |name: &str| -> Result<Arc<Session>, String> {
        Host::find_or_bare(&subject.hosts, name)
            .session(client)
            .map(Arc::new)
            .map_err(|e| e.to_string())
    };
    let specs: &[String] = if cli.lb.lbs.is_empty() {
        &subject.journal.balancers
    } else {
        &cli.lb.lbs
    };
    let mut list = cli.lb.balancers(specs, connect)?;
    for record in &subject.journal.hosts {
        for name in &record.drained {
            if list.iter().any(|b| b.name() == *name) {
                continue;
            }
            if name.starts_with("haproxy:") {
                list.push(Balancer::parse_haproxy(name, connect).map_err(Error::Usage)?);
            } else {
                return Err(Error::Usage(format!(
                    "the record says {} is out of rotation on {name:?}, which this rollback was \
                     not given (--lb-drain-cmd/--lb-ready-cmd)",
                    record.name
                )));
            }
        }
    }
    Ok(list)
}

/// The installed version on every host (`None`: could not ask), asked in parallel.
fn current_versions(
    sessions: &[Session],
    package: &str,
    sudo: bool,
    timeout: Duration,
) -> Vec<Option<Option<String>>> {
    std::thread::scope(|scope| {
        let handles: Vec<_> = sessions
            .iter()
            .map(|s| {
                scope.spawn(move || {
                    match HostOps::new(s, sudo, timeout).installed_version(package) {
                        Ok(v) => Some(v),
                        Err(e) => {
                            tracing::warn!(host = %s.target.name, "cannot read the installed version: {e}");
                            None
                        }
                    }
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().unwrap_or(None))
            .collect()
    })
}

fn signer(cli: &Cli) -> Result<Signer, Error> {
    cli.signing.signer()?.ok_or_else(|| {
        Error::Usage(format!(
            "--repo needs a signing key: {}",
            publish_repo::SigningArgs::CHOICES
        ))
    })
}

fn work(
    ctx: Ctx,
    lock_session: &Session,
    started: chrono::DateTime<chrono::Utc>,
) -> anyhow::Result<Exit> {
    let Ctx {
        cli,
        subject,
        opts,
        sessions,
        balancers,
        ..
    } = ctx;
    let journal = if subject.existing {
        subject.journal.clone()
    } else {
        own_journal(subject, opts, balancers)?
    };
    let current = current_versions(
        sessions,
        &subject.package,
        cli.ssh.sudo,
        opts.command_timeout,
    );
    if subject.existing && !cli.force {
        let stale = plan::stale(&journal, &subject.decisions, &current);
        if !stale.is_empty() {
            return Err(Error::Usage(format!(
                "record {} is stale: {}; nothing was changed (--force returns them anyway)",
                subject
                    .journal_path
                    .as_deref()
                    .unwrap_or(Path::new("?"))
                    .display(),
                stale.join("; ")
            ))
            .into());
        }
    }
    let targets = plan::targets(&subject.decisions, subject.newest_first);
    let release = cli
        .to_version
        .clone()
        .or_else(|| plan::common_target(&targets));
    let repo_plan = match &cli.repo {
        Some(dir) => {
            let target = release.clone().ok_or_else(|| {
                Error::Usage(
                    "--repo: the hosts go back to different versions (or none); give --to-version"
                        .into(),
                )
            })?;
            cdkit_deb::policy::Version::parse(&target).map_err(|e| Error::Usage(e.to_string()))?;
            Some(repo::plan(dir, &cli.suite, &subject.package, &target).map_err(Error::from)?)
        }
        None => None,
    };
    let db_plan = match &cli.database_url {
        Some(url) => Some(database::plan(url, cli.database_to, release.as_deref())?),
        None => None,
    };
    if cli.dry_run {
        return Ok(dry_run(
            ctx,
            &targets,
            &current,
            (repo_plan.as_ref(), db_plan.as_ref()),
            lock_session,
        ));
    }

    let owner = rolling_install::deploy_lock::owner_line(TOOL);
    // A lock left by a killed rollout or rollback is taken over: picking up after such a run
    // is what rollback is for.
    let lock = match rolling_install::deploy_lock::DeploymentLock::acquire_or_take_over(
        lock_session,
        cli.ssh.sudo,
        &subject.group,
        &owner,
        cli.lock.lock_timeout,
    ) {
        Ok(lock) => lock,
        Err(e) => {
            // The report is written on failure too; nothing was changed.
            let mut case = Case::passed(
                format!("{TOOL}.{}.{}", subject.package, subject.group),
                "deployment lock",
            );
            case.status = Status::Errored(Problem {
                message: e.to_string(),
                kind: "lock".into(),
                ..Problem::default()
            });
            keep_exit(write_report(
                cli,
                subject,
                vec![case],
                started,
                release.as_deref(),
            ));
            return Err(Error::from(e).into());
        }
    };
    let outcome = steps(
        ctx,
        journal,
        targets,
        (repo_plan.as_ref(), db_plan.as_ref()),
    );
    if let Err(e) = lock.release() {
        tracing::error!("could not release the deployment lock: {e}");
    }
    let Steps {
        exit,
        mut cases,
        summary,
    } = outcome;
    cases.extend(left_alone(subject));
    keep_exit(write_report(
        cli,
        subject,
        cases,
        started,
        release.as_deref(),
    ));
    if exit.is_success() {
        tracing::info!("{summary}");
    } else {
        cdkit::cli::final_line(TOOL, &summary);
    }
    Ok(exit)
}

/// A report that cannot be written is logged, and the run's exit code stands: after hosts,
/// suite or database changed, a 2 ("bad input, nothing changed") would tell the pipeline the
/// opposite of what happened.
fn keep_exit(written: anyhow::Result<()>) {
    if let Err(e) = written {
        tracing::error!("{e:#} (the exit code still says how the rollback went)");
    }
}

/// The JUnit report (`--junit`), if asked for.
fn write_report(
    cli: &Cli,
    subject: &Subject,
    cases: Vec<Case>,
    started: chrono::DateTime<chrono::Utc>,
    release: Option<&str>,
) -> anyhow::Result<()> {
    let Some(path) = &cli.common.junit else {
        return Ok(());
    };
    let mut report = Report::new(TOOL);
    report.suites.push(
        Suite::finished(TOOL, &subject.package, started, cases)
            .property("to-version", release.unwrap_or("per host"))
            .property("group", subject.group.as_str()),
    );
    report
        .write(path)
        .context("cannot write the JUnit report")?;
    Ok(())
}

/// What the changing part produced.
struct Steps {
    exit: Exit,
    cases: Vec<Case>,
    summary: String,
}

fn steps(
    ctx: Ctx,
    journal: Journal,
    targets: Vec<(usize, Option<String>)>,
    (repo_plan, db_plan): (Option<&RepoPlan>, Option<&DbPlan>),
) -> Steps {
    let Ctx { cli, subject, .. } = ctx;
    let mut cases = Vec::new();
    let classname = |what: &str| format!("{TOOL}.{}.{what}", subject.package);
    if let (Some(dir), Some(plan), Some(signer)) = (&cli.repo, repo_plan, ctx.signer) {
        let applied = one_step(
            cli,
            "repository",
            &plan.describe(),
            || {
                repo::apply(
                    dir,
                    plan,
                    signer,
                    cli.repo_lock_timeout,
                    &classname("repository"),
                )
                .map_err(Error::from)
            },
            |done| match done {
                Ok(_) => format!(
                    "suite {} re-pointed: {} {} is the newest listed",
                    plan.suite, plan.package, plan.target
                ),
                Err(e) => format!("suite {} NOT re-pointed: {e}", plan.suite),
            },
        );
        match applied {
            Ok(c) => cases.extend(c),
            Err(e) => {
                // Nothing else has changed yet: stop here, the hosts still match the suite.
                use cdkit::exit::ExitCoded;
                let mut case =
                    Case::passed(classname("repository"), format!("suite {}", cli.suite));
                case.status = Status::Errored(Problem {
                    message: e.to_string(),
                    kind: "repository".into(),
                    ..Problem::default()
                });
                cases.push(case);
                let exit = match e.exit() {
                    Exit::TempFail => Exit::TempFail,
                    _ => Exit::Failed,
                };
                return Steps {
                    exit,
                    cases,
                    summary: format!(
                        "re-pointing suite {} failed, nothing else was changed: {e}",
                        cli.suite
                    ),
                };
            }
        }
    }
    let hosts = hosts_step(ctx, journal, targets);
    cases.extend(hosts.cases);
    let (Some(url), Some(plan)) = (&cli.database_url, db_plan) else {
        return Steps { cases, ..hosts };
    };
    let classname = classname("database");
    if !hosts.exit.is_success() || cdkit::signals::received().is_some() {
        let mut case = Case::passed(classname, "database");
        case.status = Status::Skipped {
            message:
                "not run: the hosts are not all back (the newer code may need the newer schema)"
                    .into(),
        };
        cases.push(case);
        return Steps { cases, ..hosts };
    }
    let db = one_step(
        cli,
        "database",
        &plan.describe(),
        || database::apply(url, plan, cli.lock.lock_timeout, &classname),
        |done| match &done.summary {
            None => format!("database back to version {}", plan.target),
            Some(_) => format!("database NOT back to version {}", plan.target),
        },
    );
    cases.extend(db.cases);
    Steps {
        exit: hosts.exit.worst(db.exit),
        cases,
        summary: match db.summary {
            Some(s) => s,
            None => format!(
                "{}; database back to version {}",
                hosts.summary, plan.target
            ),
        },
    }
}

/// Progress of a step that is one unit of work (re-pointing the suite, reverting the
/// database), as rolling-install reports each host: a line when it starts and one when it
/// ends, inside a `step` span so that JSON log lines say which step they belong to.
fn one_step<T>(
    cli: &Cli,
    step: &'static str,
    start: &str,
    body: impl FnOnce() -> T,
    end: impl FnOnce(&T) -> String,
) -> T {
    let span = tracing::info_span!("step", step);
    let _entered = span.enter();
    let mut progress = Progress::new(cli.common.progress, Some(1));
    progress.event(start, None);
    let result = body();
    progress.advance(1);
    progress.event(&end(&result), Some(progress.elapsed()));
    result
}

/// Return the hosts with rolling-install's executor.
fn hosts_step(ctx: Ctx, journal: Journal, targets: Vec<(usize, Option<String>)>) -> Steps {
    let (cli, subject) = (ctx.cli, ctx.subject);
    if targets.is_empty() {
        return Steps {
            exit: Exit::Success,
            cases: Vec::new(),
            summary: format!(
                "no host of {} needs to go back (the record names none)",
                subject.group
            ),
        };
    }
    let progress = Progress::new(cli.common.progress, Some(targets.len() as u64));
    let rollout = Rollout::rollback(
        ctx.opts,
        &subject.hosts,
        ctx.sessions,
        ctx.balancers,
        progress,
        RollbackPlan {
            journal,
            existing: subject.existing,
            targets,
            tool: TOOL.into(),
        },
    );
    let report = rollout.run();
    let summary = match report.exit {
        Exit::Success => report.summary,
        Exit::NotRestored => format!(
            "{}; a human must act: fix the named hosts, then re-run {}",
            report.summary,
            rerun_command(cli)
        ),
        _ => format!(
            "{}; re-run {} to finish",
            report.summary,
            rerun_command(cli)
        ),
    };
    Steps {
        exit: report.exit,
        cases: report.cases,
        summary,
    }
}

/// The command that picks up where this run stopped.
fn rerun_command(cli: &Cli) -> String {
    match (&cli.record, &cli.inventory) {
        (Some(record), _) => format!("rollback --record {}", record.display()),
        (None, Some(_)) => "the same rollback command".into(),
        _ => "rollback".into(),
    }
}

/// Testcases for the hosts this rollback deliberately does not touch.
fn left_alone(subject: &Subject) -> Vec<Case> {
    subject
        .hosts
        .iter()
        .zip(&subject.decisions)
        .filter_map(|(h, d)| {
            let reason = match d {
                Decision::Return(_) => return None,
                Decision::KeepNew => {
                    "had no previous version: left on the new one (--remove-new removes it)"
                }
                Decision::Untouched => "not touched by the recorded run: left alone",
            };
            let mut case = Case::passed(
                format!("{TOOL}.{}.{}", subject.package, subject.group),
                h.name.clone(),
            );
            case.status = Status::Skipped {
                message: reason.into(),
            };
            Some(case)
        })
        .collect()
}

/// Print the plan. A host (or the lock host) that could not be asked makes it 75, as in
/// rolling-install: a plan that could not be checked is no green light for the real run.
fn dry_run(
    ctx: Ctx,
    targets: &[(usize, Option<String>)],
    current: &[Option<Option<String>>],
    (repo_plan, db_plan): (Option<&RepoPlan>, Option<&DbPlan>),
    lock_session: &Session,
) -> Exit {
    let mut unreachable = 0;
    let Ctx {
        cli,
        subject,
        opts,
        balancers,
        ..
    } = ctx;
    cdkit::outln!(
        "plan: rollback of {} on {} host(s) of {}",
        subject.package,
        targets.len(),
        subject.group
    );
    if let Some(plan) = repo_plan {
        let signing = match ctx.signer {
            Some(Signer::Key { fingerprint, .. }) => format!("signed with key {fingerprint}"),
            Some(Signer::Unsigned) => "unsigned (--unsigned)".into(),
            None => "no signing key".into(),
        };
        cdkit::outln!("repository: {}; {signing}", plan.describe());
    }
    let shown = |v: &Option<String>| v.clone().unwrap_or_else(|| "not installed".into());
    for (n, batch) in opts.batch.plan(targets.len()).iter().enumerate() {
        cdkit::outln!("batch {}{}:", n + 1, if n == 0 { " (canary)" } else { "" });
        for &k in batch {
            let (i, target) = &targets[k];
            let host = &subject.hosts[*i];
            let now = match &current[*i] {
                Some(v) => shown(v),
                None => {
                    unreachable += 1;
                    "UNREACHABLE".into()
                }
            };
            let change = if current[*i].as_ref() == Some(target) {
                format!("{now} (already there)")
            } else {
                format!("{now} -> {}", shown(target))
            };
            let server = server_name(host, opts.server_template.as_deref());
            let lbs: Vec<String> = balancers
                .iter()
                .map(|b| format!("{}: {}", b.name(), b.describe(&server)))
                .collect();
            cdkit::outln!(
                "  {} ({}): {change}; {}",
                host.name,
                host.address(),
                if lbs.is_empty() {
                    "no load balancer".into()
                } else {
                    lbs.join("; ")
                }
            );
        }
    }
    if let Some(plan) = db_plan {
        cdkit::outln!("{}", plan.describe());
    }
    for case in left_alone(subject) {
        if let Status::Skipped { message } = case.status {
            cdkit::outln!("left alone: {}: {message}", case.name);
        }
    }
    rolling_install::deploy_lock::finish_dry_run(
        TOOL,
        lock_session,
        cli.ssh.sudo,
        &subject.group,
        unreachable,
        "a rollback",
    )
}
