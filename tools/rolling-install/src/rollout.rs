//! The rollout: batches of hosts, each host drained, installed, health-checked and put back,
//! the journal rewritten after every step; on failure (or SIGINT/SIGTERM, or the deadline) no
//! new host starts, in-flight ones finish, and every touched host is restored to its recorded
//! version, newest first, through the same drain/health/ready path.

use std::sync::Mutex;
use std::time::{Duration, Instant};

use cdkit::exit::Exit;
use cdkit::junit::{Case, Problem, Status};
use cdkit::progress::Progress;
use cdkit::ssh::Session;

use crate::batch::{BatchSpec, MaxFail};
use crate::health::Gate;
use crate::host_ops::{HostError, HostOps, Source};
use crate::inventory::Host;
use crate::journal::{now, HostRecord, HostState, Journal, Step};
use crate::lb::{server_name, Balancer, DrainPolicy};

/// `--on-failure`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum OnFailure {
    /// Restore every touched host to its recorded version.
    Rollback,
    /// Leave hosts as they are (exit 3: a human decides).
    Halt,
}

/// Everything a rollout needs besides the hosts.
pub struct Options {
    pub package: String,
    pub version: String,
    pub group: String,
    pub source: Source,
    pub batch: BatchSpec,
    pub max_fail: MaxFail,
    pub sudo: bool,
    pub gate: Gate,
    pub drain_timeout: Duration,
    pub drain_policy: DrainPolicy,
    pub ready_timeout: Duration,
    pub on_failure: OnFailure,
    pub deadline: Option<Duration>,
    pub server_template: Option<String>,
    pub command_timeout: Duration,
    pub record: Option<std::path::PathBuf>,
}

/// What a host's turn produced.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Outcome {
    NotStarted,
    Installed,
    Failed(String),
    Unreachable(String),
}

/// The result of a whole run.
pub struct Report {
    pub exit: Exit,
    pub cases: Vec<Case>,
    /// One line for the end of the log: what happened and what to do.
    pub summary: String,
}

/// What to put on a host.
#[derive(Debug, Clone)]
enum Goal {
    Install(String),
    Restore(Option<String>),
}

/// A rollout in progress.
pub struct Rollout<'a> {
    opts: &'a Options,
    hosts: &'a [Host],
    sessions: &'a [Session],
    balancers: &'a [Balancer],
    journal: Mutex<Journal>,
    progress: Mutex<Progress>,
    outputs: Mutex<Vec<String>>,
    started: Instant,
}

impl<'a> Rollout<'a> {
    /// A rollout of `hosts` (one session each, same order).
    pub fn new(
        opts: &'a Options,
        hosts: &'a [Host],
        sessions: &'a [Session],
        balancers: &'a [Balancer],
        progress: Progress,
    ) -> Rollout<'a> {
        let journal = Journal {
            tool: "rolling-install".into(),
            run_id: cdkit::run_id::get().into(),
            package: opts.package.clone(),
            version: opts.version.clone(),
            group: opts.group.clone(),
            started: now(),
            finished: None,
            outcome: None,
            hosts: hosts
                .iter()
                .map(|h| HostRecord {
                    name: h.name.clone(),
                    address: h.address().to_string(),
                    previous_version: None,
                    recorded: false,
                    state: HostState::Pending,
                    drained: Vec::new(),
                    steps: Vec::new(),
                })
                .collect(),
        };
        Rollout {
            opts,
            hosts,
            sessions,
            balancers,
            journal: Mutex::new(journal),
            progress: Mutex::new(progress),
            outputs: Mutex::new(vec![String::new(); hosts.len()]),
            started: Instant::now(),
        }
    }

    fn save(&self) {
        if let Some(path) = &self.opts.record {
            let journal = self.journal.lock().unwrap_or_else(|e| e.into_inner());
            if let Err(e) = journal.save(path) {
                tracing::error!("{e}");
            }
        }
    }

    /// Read a host's record (no write).
    fn record<T>(&self, host: usize, f: impl FnOnce(&HostRecord) -> T) -> T {
        let journal = self.journal.lock().unwrap_or_else(|e| e.into_inner());
        f(&journal.hosts[host])
    }

    /// Change a host's record and rewrite the journal.
    fn with_record<T>(&self, host: usize, f: impl FnOnce(&mut HostRecord) -> T) -> T {
        let value = {
            let mut journal = self.journal.lock().unwrap_or_else(|e| e.into_inner());
            f(&mut journal.hosts[host])
        };
        self.save();
        value
    }

    fn step<T>(
        &self,
        host: usize,
        name: &str,
        body: impl FnOnce() -> Result<T, String>,
    ) -> Result<T, String> {
        let started = now();
        let clock = Instant::now();
        let span = tracing::info_span!("step", host = %self.hosts[host].name, step = name);
        let _entered = span.enter();
        let result = body();
        let step = Step {
            step: name.to_string(),
            started,
            seconds: (clock.elapsed().as_secs_f64() * 1000.0).round() / 1000.0,
            ok: result.is_ok(),
            detail: result.as_ref().err().cloned().unwrap_or_default(),
        };
        match &result {
            Ok(_) => tracing::info!("{name}: ok ({:.1} s)", step.seconds),
            Err(e) => tracing::warn!("{name}: {e}"),
        }
        self.with_record(host, |r| r.steps.push(step));
        result
    }

    fn event(&self, message: &str, elapsed: Option<Duration>, done: bool) {
        let mut progress = self.progress.lock().unwrap_or_else(|e| e.into_inner());
        if done {
            progress.advance(1);
        }
        progress.event(message, elapsed);
    }

    fn deadline_passed(&self) -> bool {
        self.opts
            .deadline
            .is_some_and(|d| self.started.elapsed() >= d)
    }

    /// One host's turn: record, drain, install (or restore), health, ready.
    fn turn(&self, host: usize, goal: &Goal) -> Outcome {
        let clock = Instant::now();
        let h = &self.hosts[host];
        let session = &self.sessions[host];
        let ops = HostOps::new(session, self.opts.sudo, self.opts.command_timeout);
        let package = &self.opts.package;
        let outcome = (|| -> Result<Outcome, HostError> {
            let recorded = self.record(host, |r| r.recorded);
            let current = ops.installed_version(package)?;
            if !recorded {
                self.with_record(host, |r| {
                    r.previous_version = current.clone();
                    r.recorded = true;
                    r.state = HostState::InProgress;
                });
            }
            let (wanted, label) = match goal {
                Goal::Install(v) => (Some(v.clone()), v.clone()),
                Goal::Restore(v) => (
                    v.clone(),
                    v.clone().unwrap_or_else(|| "not installed".into()),
                ),
            };
            let drained = self.record(host, |r| !r.drained.is_empty());
            if current == wanted && !drained {
                return Ok(Outcome::Installed); // nothing to do: already there, in rotation
            }
            let server = server_name(h, self.opts.server_template.as_deref());
            for lb in self.balancers {
                let name = lb.name();
                if self.record(host, |r| r.drained.contains(&name)) {
                    continue;
                }
                self.with_record(host, |r| r.drained.push(name.clone()));
                if let Err(e) = self.step(host, &format!("drain {name}"), || {
                    lb.drain(h, &server, self.opts.drain_timeout, self.opts.drain_policy)
                }) {
                    return Ok(Outcome::Failed(e));
                }
            }
            if current != wanted {
                let installed = self.step(host, &format!("install {label}"), || {
                    match &wanted {
                        Some(v) => match goal {
                            Goal::Install(_) => ops.install(package, v, &self.opts.source),
                            Goal::Restore(_) => ops.apt_install(&format!("{package}={v}")),
                        },
                        None => ops.remove(package),
                    }
                    .map_err(|e| e.to_string())
                });
                if let Err(e) = installed {
                    return Ok(if session_lost(&e) {
                        Outcome::Unreachable(e)
                    } else {
                        Outcome::Failed(e)
                    });
                }
            }
            if wanted.is_some() {
                let version = wanted.clone().unwrap_or_default();
                if let Err(e) = self.step(host, "health", || {
                    self.opts.gate.wait_healthy(&ops, h.address(), &version)
                }) {
                    return Ok(Outcome::Failed(e));
                }
            }
            for lb in self.balancers {
                let name = lb.name();
                if let Err(e) = self.step(host, &format!("ready {name}"), || {
                    lb.ready(h, &server, self.opts.ready_timeout)
                }) {
                    return Ok(Outcome::Failed(e));
                }
                self.with_record(host, |r| r.drained.retain(|d| *d != name));
            }
            Ok(Outcome::Installed)
        })();
        let outcome = match outcome {
            Ok(o) => o,
            Err(e) if e.is_unreachable() => Outcome::Unreachable(e.to_string()),
            Err(e) => Outcome::Failed(e.to_string()),
        };
        let output = ops.output.borrow().clone();
        if let Ok(mut outputs) = self.outputs.lock() {
            outputs[host].push_str(&output);
        }
        let what = match (&outcome, goal) {
            (Outcome::Installed, Goal::Install(v)) => format!("{} installed {v}", h.name),
            (Outcome::Installed, Goal::Restore(v)) => format!(
                "{} restored to {}",
                h.name,
                v.as_deref().unwrap_or("not installed")
            ),
            (Outcome::Failed(e), _) => format!("{} failed: {e}", h.name),
            (Outcome::Unreachable(e), _) => format!("{} unreachable: {e}", h.name),
            (Outcome::NotStarted, _) => format!("{} not started", h.name),
        };
        self.event(
            &what,
            Some(clock.elapsed()),
            matches!(goal, Goal::Install(_)),
        );
        outcome
    }

    /// Run the rollout to the end (restoring if needed) and report.
    pub fn run(&self) -> Report {
        let total = self.hosts.len();
        let mut outcomes: Vec<Outcome> = vec![Outcome::NotStarted; total];
        let mut touched: Vec<usize> = Vec::new();
        let mut failures = 0usize;
        let mut stop: Option<Exit> = None;
        let goal = Goal::Install(self.opts.version.clone());
        for (number, batch) in self.opts.batch.plan(total).into_iter().enumerate() {
            if let Some(sig) = cdkit::signals::received() {
                stop = Some(Exit::for_signal(sig));
            } else if self.deadline_passed() {
                stop = Some(Exit::Timeout);
            }
            if stop.is_some() {
                break;
            }
            let names: Vec<&str> = batch.iter().map(|&i| self.hosts[i].name.as_str()).collect();
            self.event(
                &format!(
                    "batch {} ({}): {}",
                    number + 1,
                    if number == 0 { "canary" } else { "rolling" },
                    names.join(" ")
                ),
                None,
                false,
            );
            let results: Vec<(usize, Outcome)> = std::thread::scope(|scope| {
                let goal = &goal;
                let handles: Vec<_> = batch
                    .iter()
                    .map(|&i| (i, scope.spawn(move || self.turn(i, goal))))
                    .collect();
                handles
                    .into_iter()
                    .map(|(i, h)| {
                        (
                            i,
                            h.join()
                                .unwrap_or_else(|_| Outcome::Failed("panicked".into())),
                        )
                    })
                    .collect()
            });
            for (i, outcome) in results {
                if self.record(i, |r| r.recorded) {
                    touched.push(i);
                }
                let state = match &outcome {
                    Outcome::Installed => HostState::Installed,
                    Outcome::Unreachable(_) => HostState::Unreachable,
                    _ => HostState::Failed,
                };
                self.with_record(i, |r| r.state = state);
                if !matches!(outcome, Outcome::Installed) {
                    failures += 1;
                }
                outcomes[i] = outcome;
            }
            if self.opts.max_fail.exceeded(failures, total) {
                stop = Some(Exit::Failed);
            }
        }
        if stop.is_none() {
            if let Some(sig) = cdkit::signals::received() {
                stop = Some(Exit::for_signal(sig));
            }
        }

        // Restore, newest first.
        let mut not_restored: Vec<String> = Vec::new();
        let mut restored: Vec<usize> = Vec::new();
        if stop.is_some() && self.opts.on_failure == OnFailure::Rollback {
            for &i in touched.iter().rev() {
                let previous = self.record(i, |r| r.previous_version.clone());
                tracing::warn!(host = %self.hosts[i].name, "restoring {} to {}", self.hosts[i].name, previous.as_deref().unwrap_or("not installed"));
                match self.turn(i, &Goal::Restore(previous)) {
                    Outcome::Installed => {
                        self.with_record(i, |r| r.state = HostState::Restored);
                        restored.push(i);
                    }
                    other => {
                        self.with_record(i, |r| r.state = HostState::RestoreFailed);
                        not_restored.push(format!("{} ({})", self.hosts[i].name, describe(&other)));
                    }
                }
            }
        }

        // Every host this run drained goes back into rotation, or is named.
        let mut still_drained: Vec<String> = Vec::new();
        for i in 0..total {
            let drained = self.record(i, |r| r.drained.clone());
            for name in drained {
                let Some(lb) = self.balancers.iter().find(|b| b.name() == name) else {
                    continue;
                };
                let server = server_name(&self.hosts[i], self.opts.server_template.as_deref());
                match lb.ready(&self.hosts[i], &server, self.opts.ready_timeout) {
                    Ok(()) => self.with_record(i, |r| r.drained.retain(|d| *d != name)),
                    Err(e) => still_drained.push(format!("{} on {name}: {e}", self.hosts[i].name)),
                }
            }
        }

        let halted = stop.is_some() && self.opts.on_failure == OnFailure::Halt;
        let exit = if !not_restored.is_empty() || !still_drained.is_empty() || halted {
            Exit::NotRestored
        } else {
            stop.unwrap_or(Exit::Success)
        };
        let summary = match exit {
            Exit::Success => format!("{} {} on all {total} hosts of {}", self.opts.package, self.opts.version, self.opts.group),
            Exit::NotRestored => {
                let mut parts = Vec::new();
                if !not_restored.is_empty() {
                    parts.push(format!("not restored: {}", not_restored.join(", ")));
                }
                if !still_drained.is_empty() {
                    parts.push(format!("still out of rotation: {}", still_drained.join(", ")));
                }
                if halted {
                    parts.push("--on-failure halt left the hosts as they are".into());
                }
                let record = self.opts.record.as_ref().map(|p| p.display().to_string()).unwrap_or_else(|| "RECORD".into());
                format!("{}; a human must act: rollback --record {record}", parts.join("; "))
            }
            other => format!(
                "{other}: {failures} host(s) failed; {} touched host(s) restored to their previous version",
                restored.len()
            ),
        };
        {
            let mut journal = self.journal.lock().unwrap_or_else(|e| e.into_inner());
            journal.finished = Some(now());
            journal.outcome = Some(format!("{exit}"));
        }
        self.save();
        Report {
            exit,
            cases: self.cases(&outcomes, &restored),
            summary,
        }
    }

    fn cases(&self, outcomes: &[Outcome], restored: &[usize]) -> Vec<Case> {
        let journal = self
            .journal
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone();
        let outputs = self.outputs.lock().map(|o| o.clone()).unwrap_or_default();
        let classname = format!("rolling-install.{}.{}", self.opts.package, self.opts.group);
        outcomes
            .iter()
            .enumerate()
            .map(|(i, outcome)| {
                let record = &journal.hosts[i];
                let mut case = Case::passed(classname.clone(), self.hosts[i].name.clone());
                case.time = Duration::from_secs_f64(record.steps.iter().map(|s| s.seconds).sum());
                let steps: String = record
                    .steps
                    .iter()
                    .map(|s| {
                        format!(
                            "{} {} ({:.3} s){}\n",
                            if s.ok { "ok  " } else { "FAIL" },
                            s.step,
                            s.seconds,
                            if s.detail.is_empty() {
                                String::new()
                            } else {
                                format!(": {}", s.detail)
                            }
                        )
                    })
                    .collect();
                case.system_out = Some(format!(
                    "{steps}\n{}",
                    outputs.get(i).cloned().unwrap_or_default()
                ));
                let restore_note = if restored.contains(&i) {
                    format!(
                        "; restored to {}",
                        record
                            .previous_version
                            .as_deref()
                            .unwrap_or("not installed")
                    )
                } else if record.state == HostState::RestoreFailed {
                    "; NOT restored".into()
                } else {
                    String::new()
                };
                case.status = match outcome {
                    Outcome::Installed if record.state == HostState::RestoreFailed => {
                        Status::Errored(Problem {
                            message:
                                "installed, then the run failed and restoring this host failed"
                                    .into(),
                            kind: "restore".into(),
                            ..Problem::default()
                        })
                    }
                    Outcome::Installed => Status::Passed { flaky: Vec::new() },
                    Outcome::Failed(e) => Status::Failed(Problem {
                        message: format!("{e}{restore_note}"),
                        kind: "rollout".into(),
                        ..Problem::default()
                    }),
                    Outcome::Unreachable(e) => Status::Errored(Problem {
                        message: format!("{e}{restore_note}"),
                        kind: "unreachable".into(),
                        ..Problem::default()
                    }),
                    Outcome::NotStarted => Status::Skipped {
                        message: "not started: the run stopped before this host's batch".into(),
                    },
                };
                case
            })
            .collect()
    }

    /// The journal as it stands.
    pub fn journal(&self) -> Journal {
        self.journal
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }
}

fn describe(outcome: &Outcome) -> String {
    match outcome {
        Outcome::Failed(e) | Outcome::Unreachable(e) => e.clone(),
        Outcome::Installed => "ok".into(),
        Outcome::NotStarted => "not started".into(),
    }
}

/// Whether an install step's error means the connection was lost (ssh exit 255).
fn session_lost(error: &str) -> bool {
    error.contains("is unreachable")
}
