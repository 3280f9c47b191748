//! The rollout: batches of hosts, each host drained, installed, health-checked and put back,
//! the journal rewritten after every step; on failure (or SIGINT/SIGTERM, or the deadline) no
//! new host starts, in-flight ones finish, and every touched host is restored to its recorded
//! version, newest first, through the same drain/health/ready path.
//!
//! The same executor also runs `rollback`: [`Rollout::rollback`] takes a per-host target version
//! (from a record, or one version for a whole group) and returns each host to it through the
//! identical drain/install/health/ready turn, so both tools share one tested path.

use std::sync::atomic::{AtomicBool, Ordering};
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
use crate::journal::{now, HostRecord, HostState, Journal, RunNote, Step};
use crate::lb::{server_name, Balancer, DrainPolicy};
use crate::service::{self, Collected, Mark};

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
    /// The package.
    pub package: String,
    /// The version to install (or return to).
    pub version: String,
    /// The group or host pattern (names the deployment lock).
    pub group: String,
    /// Where the package comes from.
    pub source: Source,
    /// Batch sizes; the first is the canary.
    pub batch: BatchSpec,
    /// Failed hosts tolerated over the run.
    pub max_fail: MaxFail,
    /// Whether remote commands run under `sudo -n`.
    pub sudo: bool,
    /// The health gate.
    pub gate: Gate,
    /// How long connections may take to drain.
    pub drain_timeout: Duration,
    /// What to do when they do not.
    pub drain_policy: DrainPolicy,
    /// How long the balancer may take to report a host UP.
    pub ready_timeout: Duration,
    /// What a failed run does with the hosts it touched.
    pub on_failure: OnFailure,
    /// When to stop, if ever.
    pub deadline: Option<Duration>,
    /// The server name template on the balancers.
    pub server_template: Option<String>,
    /// Limit for each remote command.
    pub command_timeout: Duration,
    /// The journal file, rewritten after every step.
    pub record: Option<std::path::PathBuf>,
    /// The host holding the group's deployment lock, written into the record (see
    /// `Journal::lock_host`).
    pub lock_host: Option<crate::journal::LockHost>,
    /// The service's own logs collected during each turn.
    pub watch: crate::service::Watch,
    /// The deployment page (`--report`), rewritten while the run goes on.
    pub report: Option<std::path::PathBuf>,
    /// The central log (`--log-file`) whose lines the page shows.
    pub log_file: Option<std::path::PathBuf>,
}

/// What a host's turn produced.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Outcome {
    NotStarted,
    Installed,
    Failed(String),
    Unreachable(String),
}

/// What the batches left for the later phases of a run.
struct Batches {
    outcomes: Vec<Outcome>,
    /// Hosts whose previous version is recorded, in the order they were touched.
    touched: Vec<usize>,
    /// Hosts a rollback could not return (name and why).
    not_restored: Vec<String>,
    failures: usize,
    /// Why the batches stopped early, if they did.
    stop: Option<Exit>,
}

/// The result of a whole run.
pub struct Report {
    /// How the run ended.
    pub exit: Exit,
    /// One testcase per host.
    pub cases: Vec<Case>,
    /// One line for the end of the log: what happened and what to do.
    pub summary: String,
    /// Hosts that could not be brought back (name and why), for the caller's own message.
    pub not_restored: Vec<String>,
    /// Hosts left out of rotation on some balancer (name, balancer and why).
    pub still_drained: Vec<String>,
}

/// What to put on a host.
#[derive(Debug, Clone)]
enum Goal {
    Install(String),
    Restore(Option<String>),
}

/// Which tool drives the executor: a rollout (install, restore touched hosts on failure) or a
/// rollback (return hosts to given versions; a host that cannot be returned is reported).
#[derive(Debug, Clone, PartialEq, Eq)]
enum Mode {
    Rollout,
    Rollback {
        tool: String,
        /// Index into the journal's `rollbacks` when working on an existing record.
        note: Option<usize>,
    },
}

/// What a rollback works from (see [`Rollout::rollback`]).
pub struct RollbackPlan {
    /// The journal to keep, one entry per host in `hosts` order: an existing rolling-install
    /// record (its `previous_version`s and `drained` lists carry over, so a host a killed run
    /// left drained goes back into rotation) or a fresh one from [`new_journal`].
    pub journal: Journal,
    /// An existing record gets a [`RunNote`] instead of its own `finished`/`outcome` being
    /// overwritten.
    pub existing: bool,
    /// Host indexes and the version each returns to, in working order.
    pub targets: Vec<(usize, Option<String>)>,
    /// The tool name for classnames and notes.
    pub tool: String,
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
    /// When the run started: each host's journal is read from then on.
    started_at: std::time::SystemTime,
    /// The hosts this run works on, in order, each with its goal.
    order: Vec<(usize, Goal)>,
    mode: Mode,
    /// Per host, how many journal steps came from earlier runs (not this run's testcase).
    earlier_steps: Vec<usize>,
    /// Per host, where its service logs were last read (`None` before its first turn).
    marks: Mutex<Vec<Option<Mark>>>,
    /// Per host, the diagnosis of its last failure, for the JUnit failure body.
    diagnoses: Mutex<Vec<String>>,
    /// Whether the run has said that a host has no journald.
    no_journald_said: AtomicBool,
    /// Per host, the step under way (name, start), which a service line written now belongs to.
    current_step: Mutex<Vec<Option<(String, String)>>>,
    /// The journal changed since the deployment page was last written.
    page_stale: AtomicBool,
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
        let journal = new_journal(crate::TOOL, opts, hosts, balancers);
        let order = (0..hosts.len())
            .map(|i| (i, Goal::Install(opts.version.clone())))
            .collect();
        Rollout {
            opts,
            hosts,
            sessions,
            balancers,
            journal: Mutex::new(journal),
            progress: Mutex::new(progress),
            outputs: Mutex::new(vec![String::new(); hosts.len()]),
            started: Instant::now(),
            started_at: std::time::SystemTime::now(),
            order,
            mode: Mode::Rollout,
            earlier_steps: vec![0; hosts.len()],
            marks: Mutex::new(vec![None; hosts.len()]),
            diagnoses: Mutex::new(vec![String::new(); hosts.len()]),
            no_journald_said: AtomicBool::new(false),
            current_step: Mutex::new(vec![None; hosts.len()]),
            page_stale: AtomicBool::new(false),
        }
    }

    /// A rollback: each `(host index, version)` of `plan.targets`, in that order and in
    /// `opts.batch` batches, is returned to `version` (`None`: the package removed) through the
    /// same drain/install/health/ready turn a rollout uses.
    pub fn rollback(
        opts: &'a Options,
        hosts: &'a [Host],
        sessions: &'a [Session],
        balancers: &'a [Balancer],
        progress: Progress,
        plan: RollbackPlan,
    ) -> Rollout<'a> {
        let RollbackPlan {
            mut journal,
            existing,
            targets,
            tool,
        } = plan;
        let note = existing.then(|| {
            journal.rollbacks.push(RunNote {
                tool: tool.clone(),
                run_id: cdkit::run_id::get().into(),
                started: now(),
                finished: None,
                outcome: None,
            });
            journal.rollbacks.len() - 1
        });
        let mut run = Rollout::new(opts, hosts, sessions, balancers, progress);
        run.earlier_steps = journal.hosts.iter().map(|h| h.steps.len()).collect();
        run.journal = Mutex::new(journal);
        run.order = targets
            .into_iter()
            .map(|(i, v)| (i, Goal::Restore(v)))
            .collect();
        run.mode = Mode::Rollback { tool, note };
        run
    }

    fn tool(&self) -> &str {
        match &self.mode {
            Mode::Rollout => crate::TOOL,
            Mode::Rollback { tool, .. } => tool,
        }
    }

    fn save(&self) {
        self.page_stale.store(true, Ordering::Relaxed);
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

    /// One step of a host's turn, timed and journalled (`restore`: of a restore turn).
    fn step<T>(
        &self,
        host: usize,
        (name, restore): (&str, bool),
        body: impl FnOnce() -> Result<T, String>,
    ) -> Result<T, String> {
        let started = now();
        let clock = Instant::now();
        let span = tracing::info_span!("step", host = %self.hosts[host].name, step = name);
        let _entered = span.enter();
        self.set_current_step(host, Some((name.to_string(), started.clone())));
        let result = body();
        self.set_current_step(host, None);
        let step = Step {
            step: name.to_string(),
            started,
            seconds: (clock.elapsed().as_secs_f64() * 1000.0).round() / 1000.0,
            ok: result.is_ok(),
            detail: result.as_ref().err().cloned().unwrap_or_default(),
            restore,
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
        self.mark_service_logs(host, &ops);
        let restore = matches!(goal, Goal::Restore(_));
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
                if let Err(e) = self.step(host, (&format!("drain {name}"), restore), || {
                    lb.drain(h, &server, self.opts.drain_timeout, self.opts.drain_policy)
                }) {
                    return Ok(Outcome::Failed(e));
                }
            }
            if current != wanted {
                let installed = self.step(host, (&format!("install {label}"), restore), || {
                    let printed = ops.output.borrow().len();
                    match &wanted {
                        Some(v) => match goal {
                            Goal::Install(_) => ops.install(package, v, &self.opts.source),
                            Goal::Restore(_) => ops.apt_install(&format!("{package}={v}")),
                        },
                        None => ops.remove(package),
                    }
                    .map_err(|e| {
                        let e = e.to_string();
                        if session_lost(&e) {
                            return e;
                        }
                        // The maintainer scripts' own words are in what dpkg printed.
                        let tail = {
                            let output = ops.output.borrow();
                            maintainer_script_words(output.get(printed..).unwrap_or(""))
                        };
                        self.diagnosed(host, &ops, &e, &tail)
                    })
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
                if let Err(e) = self.step(host, ("health", restore), || {
                    self.opts
                        .gate
                        .wait_healthy(&ops, h.address(), &version)
                        .map_err(|e| self.diagnosed(host, &ops, &e, &[]))
                }) {
                    return Ok(Outcome::Failed(e));
                }
            }
            for lb in self.balancers {
                let name = lb.name();
                // A host whose package was removed (`rollback --remove-new`) has nothing to
                // serve: it stays out of rotation (HAProxy MAINT) rather than taking traffic
                // until its checks fail.
                let label = match wanted {
                    Some(_) => format!("ready {name}"),
                    None => format!("out of rotation {name}"),
                };
                if let Err(e) = self.step(host, (&label, restore), || match wanted {
                    Some(_) => lb
                        .ready(h, &server, self.opts.ready_timeout)
                        .map_err(|e| self.diagnosed(host, &ops, &e, &[])),
                    None => lb.maint(&server),
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
        if !matches!(outcome, Outcome::Unreachable(_)) {
            self.collect_service_logs(host, &ops);
        }
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
        // A rollout counts its installs; its restores are extra work. A rollback counts each host.
        let counts = matches!(goal, Goal::Install(_)) || self.mode != Mode::Rollout;
        self.event(&what, Some(clock.elapsed()), counts);
        outcome
    }

    fn set_current_step(&self, host: usize, step: Option<(String, String)>) {
        if let Ok(mut current) = self.current_step.lock() {
            current[host] = step;
        }
    }

    /// Where the host's service logs stand, at its first turn (a later turn, a restore,
    /// continues from where the last collection ended, so nothing between turns is lost).
    fn mark_service_logs(&self, host: usize, ops: &HostOps) {
        if self.marks.lock().map(|m| m[host].is_some()).unwrap_or(true) {
            return;
        }
        let mut mark = Mark::since(self.started_at);
        if let Err(e) = service::mark_files(ops, &self.opts.watch, &mut mark) {
            tracing::warn!(host = %self.hosts[host].name, "{e}: the --service-log files are read whole");
        }
        if let Ok(mut marks) = self.marks.lock() {
            marks[host] = Some(mark);
        }
    }

    /// The service's logs since the host's mark, into the central log; the mark moves on.
    fn collect_service_logs(&self, host: usize, ops: &HostOps) -> Collected {
        let Some(mut mark) = self.marks.lock().ok().and_then(|mut m| m[host].take()) else {
            return Collected::default();
        };
        let name = &self.hosts[host].name;
        let collected = service::collect(ops, &self.opts.package, &self.opts.watch, &mut mark)
            .unwrap_or_else(|e| {
                tracing::warn!(host = %name, "{name}: {e}; the turn goes on");
                Collected {
                    journald: true,
                    ..Collected::default()
                }
            });
        if !collected.journald && !self.no_journald_said.swap(true, Ordering::Relaxed) {
            tracing::warn!(host = %name, "{name} has no journald: the service's journal is not collected from it (nor from any other host without it)");
        }
        if let Ok(mut marks) = self.marks.lock() {
            marks[host] = Some(mark);
        }
        let mut steps: Vec<(String, String)> = self.record(host, |r| {
            r.steps
                .iter()
                .map(|s| (s.step.clone(), s.started.clone()))
                .collect()
        });
        if let Some(current) = self.current_step.lock().ok().and_then(|c| c[host].clone()) {
            steps.push(current);
        }
        service::log_lines(name, &collected.lines, &steps, "turn");
        if collected.left_out > 0 {
            tracing::warn!(host = %name, "{name}: {} line(s) of the service's logs left out (--service-log-lines keeps the first and last of each)", collected.left_out);
        }
        collected
    }

    /// `error` with the service's side of it: the units' state and last lines (and `extra`,
    /// e.g. a maintainer script's last words) on the same line; the full diagnosis is kept
    /// for the host's JUnit failure body.
    fn diagnosed(&self, host: usize, ops: &HostOps, error: &str, extra: &[String]) -> String {
        let collected = self.collect_service_logs(host, ops);
        let mut line = error.to_string();
        if !extra.is_empty() {
            line.push_str(&format!("; output: {}", extra.join(" | ")));
        }
        let diagnosis = collected.diagnosis();
        if !diagnosis.is_empty() {
            line.push_str(&format!("; {diagnosis}"));
        }
        let mut body = format!("{error}\n");
        if !extra.is_empty() {
            body.push_str(&format!(
                "last lines of the command's output:\n{}\n",
                extra.join("\n")
            ));
        }
        body.push_str(&collected.body());
        if let Ok(mut d) = self.diagnoses.lock() {
            d[host] = body;
        }
        line
    }

    /// At the end of the run, what each touched host's service wrote since its last turn
    /// (a host's logs keep coming while later batches work).
    fn sweep_service_logs(&self) {
        let hosts: Vec<usize> = match self.marks.lock() {
            Ok(m) => (0..m.len()).filter(|&i| m[i].is_some()).collect(),
            Err(_) => return,
        };
        let next = std::sync::atomic::AtomicUsize::new(0);
        std::thread::scope(|scope| {
            for _ in 0..hosts.len().min(16) {
                scope.spawn(|| loop {
                    let k = next.fetch_add(1, Ordering::Relaxed);
                    let Some(&i) = hosts.get(k) else { break };
                    let ops =
                        HostOps::new(&self.sessions[i], self.opts.sudo, self.opts.command_timeout);
                    self.collect_service_logs(i, &ops);
                });
            }
        });
    }

    /// ` (first: HOST: why)` for the closing line of a failed run, so the reason is read
    /// where the run ends.
    fn first_failure(&self, outcomes: &[Outcome]) -> String {
        self.order
            .iter()
            .find_map(|(i, _)| match &outcomes[*i] {
                Outcome::Failed(e) | Outcome::Unreachable(e) => {
                    Some(format!(" (first: {}: {e})", self.hosts[*i].name))
                }
                _ => None,
            })
            .unwrap_or_default()
    }

    /// Run the rollout to the end (restoring if needed) and report; with `--report`, the
    /// deployment page is rewritten while it runs (at most once a second, from a thread of its
    /// own, so no host's turn waits for it) and once more at the end.
    pub fn run(&self) -> Report {
        let Some(output) = &self.opts.report else {
            return self.run_batches();
        };
        let mut live = crate::page::Live::new(output.clone(), self.opts.log_file.clone());
        live.update(&self.journal(), true);
        let done = AtomicBool::new(false);
        let report = std::thread::scope(|scope| {
            let live = &mut live;
            let done = &done;
            scope.spawn(move || {
                while !done.load(Ordering::Relaxed) {
                    std::thread::sleep(Duration::from_millis(100));
                    // A changed journal, or new log lines and the in-progress bars' growth.
                    if live.due_after(Duration::from_secs(1))
                        && (self.page_stale.swap(false, Ordering::Relaxed)
                            || live.due_after(Duration::from_secs(5)))
                    {
                        live.update(&self.journal(), true);
                    }
                }
            });
            let report = self.run_batches();
            done.store(true, Ordering::Relaxed);
            report
        });
        live.update(&self.journal(), false);
        report
    }

    /// Number every planned host's batch from 1 (the canary), unless an earlier run over the
    /// same record did: a rollback over a record keeps the rollout's batches on its page.
    fn number_batches(&self, plan: &[Vec<usize>]) {
        {
            let mut journal = self.journal.lock().unwrap_or_else(|e| e.into_inner());
            for (number, batch) in plan.iter().enumerate() {
                for &k in batch {
                    let record = &mut journal.hosts[self.order[k].0];
                    record.batch.get_or_insert(number + 1);
                }
            }
        }
        self.save();
    }

    fn run_batches(&self) -> Report {
        let mut done = self.batches();
        let restored = self.restore(&mut done);
        let still_drained = self.back_into_rotation();
        self.sweep_service_logs();
        let rollback = self.mode != Mode::Rollout;
        let halted = done.stop.is_some() && self.opts.on_failure == OnFailure::Halt && !rollback;
        let exit = if !done.not_restored.is_empty() || !still_drained.is_empty() || halted {
            Exit::NotRestored
        } else {
            done.stop.unwrap_or(Exit::Success)
        };
        let summary = self.summary(exit, &done, &restored, &still_drained, halted);
        self.close_journal(exit);
        self.save();
        Report {
            exit,
            cases: self.cases(&done.outcomes, &restored),
            summary,
            not_restored: done.not_restored,
            still_drained,
        }
    }

    /// The batches, in order, until one is interrupted, the deadline passes or too many hosts
    /// failed.
    fn batches(&self) -> Batches {
        let total = self.hosts.len();
        let planned = self.order.len();
        let rollback = self.mode != Mode::Rollout;
        let mut outcomes: Vec<Outcome> = vec![Outcome::NotStarted; total];
        let mut touched: Vec<usize> = Vec::new();
        let mut not_restored: Vec<String> = Vec::new();
        let mut failures = 0usize;
        let mut stop: Option<Exit> = None;
        let plan = self.opts.batch.plan(planned);
        self.number_batches(&plan);
        let finished = AtomicBool::new(false);
        std::thread::scope(|background| {
            // The later batches' ssh connections open while the first batches work, so a
            // host's turn does not begin with a handshake (a third of a second each on a busy
            // controller). A host that cannot be reached fails in its own turn, as before.
            background.spawn(|| {
                for &k in plan.iter().skip(1).flatten() {
                    if finished.load(Ordering::Relaxed) || cdkit::signals::received().is_some() {
                        break;
                    }
                    let _ = self.sessions[self.order[k].0].connect();
                }
            });
            for (number, batch) in plan.iter().enumerate() {
                let batch: Vec<&(usize, Goal)> = batch.iter().map(|&k| &self.order[k]).collect();
                if let Some(sig) = cdkit::signals::received() {
                    stop = Some(Exit::for_signal(sig));
                } else if self.deadline_passed() {
                    stop = Some(Exit::Timeout);
                }
                if stop.is_some() {
                    break;
                }
                let names: Vec<&str> = batch
                    .iter()
                    .map(|(i, _)| self.hosts[*i].name.as_str())
                    .collect();
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
                    let handles: Vec<_> = batch
                        .iter()
                        .map(|&(i, goal)| (*i, scope.spawn(move || self.turn(*i, goal))))
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
                    // Back on a record's previous version is `restored`; on the version of the
                    // rollback's own journal (its explicit form) is `installed`.
                    let on_record = matches!(self.mode, Mode::Rollback { note: Some(_), .. });
                    let state = match (&outcome, rollback) {
                        (Outcome::Installed, false) => HostState::Installed,
                        (Outcome::Installed, true) if on_record => HostState::Restored,
                        (Outcome::Installed, true) => HostState::Installed,
                        (_, true) => HostState::RestoreFailed,
                        (Outcome::Unreachable(_), false) => HostState::Unreachable,
                        _ => HostState::Failed,
                    };
                    self.with_record(i, |r| r.state = state);
                    if !matches!(outcome, Outcome::Installed) {
                        failures += 1;
                        if rollback {
                            not_restored.push(format!(
                                "{} ({})",
                                self.hosts[i].name,
                                describe(&outcome)
                            ));
                        }
                    }
                    outcomes[i] = outcome;
                }
                if self.opts.max_fail.exceeded(failures, planned) {
                    stop = Some(Exit::Failed);
                }
            }
            finished.store(true, Ordering::Relaxed);
        });
        if stop.is_none() {
            if let Some(sig) = cdkit::signals::received() {
                stop = Some(Exit::for_signal(sig));
            }
        }

        Batches {
            outcomes,
            touched,
            not_restored,
            failures,
            stop,
        }
    }

    /// After a rollout stopped: every touched host back to its previous version, newest first
    /// (a rollback has nothing to restore to: its failures are named). The hosts restored.
    fn restore(&self, done: &mut Batches) -> Vec<usize> {
        let rollback = self.mode != Mode::Rollout;
        let mut restored: Vec<usize> = Vec::new();
        if done.stop.is_some() && self.opts.on_failure == OnFailure::Rollback && !rollback {
            for &i in done.touched.iter().rev() {
                let previous = self.record(i, |r| r.previous_version.clone());
                tracing::warn!(host = %self.hosts[i].name, "restoring {} to {}", self.hosts[i].name, previous.as_deref().unwrap_or("not installed"));
                match self.turn(i, &Goal::Restore(previous)) {
                    Outcome::Installed => {
                        self.with_record(i, |r| r.state = HostState::Restored);
                        restored.push(i);
                    }
                    other => {
                        self.with_record(i, |r| r.state = HostState::RestoreFailed);
                        done.not_restored.push(format!(
                            "{} ({})",
                            self.hosts[i].name,
                            describe(&other)
                        ));
                    }
                }
            }
        }
        restored
    }

    /// Every host this run drained goes back into rotation, or is named. A host that could
    /// not be brought to a known version stays out (MAINT), also once it answers again; it
    /// stays drained in the journal, so `rollback --record` puts it back after returning it.
    fn back_into_rotation(&self) -> Vec<String> {
        let total = self.hosts.len();
        let mut still_drained: Vec<String> = Vec::new();
        for i in 0..total {
            let (drained, state) = self.record(i, |r| (r.drained.clone(), r.state));
            for name in drained {
                let Some(lb) = self.balancers.iter().find(|b| b.name() == name) else {
                    continue;
                };
                let server = server_name(&self.hosts[i], self.opts.server_template.as_deref());
                if matches!(state, HostState::RestoreFailed | HostState::Unreachable) {
                    let held = match lb.maint(&server) {
                        Ok(()) => "held out of rotation (MAINT) until it is returned".to_string(),
                        Err(e) => format!("could not be held out: {e}"),
                    };
                    tracing::warn!(host = %self.hosts[i].name, "{} on {name}: {held}", self.hosts[i].name);
                    still_drained.push(format!("{} on {name}: {held}", self.hosts[i].name));
                    continue;
                }
                match lb.ready(&self.hosts[i], &server, self.opts.ready_timeout) {
                    Ok(()) => self.with_record(i, |r| r.drained.retain(|d| *d != name)),
                    Err(e) => still_drained.push(format!("{} on {name}: {e}", self.hosts[i].name)),
                }
            }
        }
        still_drained
    }

    /// The run's last line: what happened and what to do.
    fn summary(
        &self,
        exit: Exit,
        done: &Batches,
        restored: &[usize],
        still_drained: &[String],
        halted: bool,
    ) -> String {
        let total = self.hosts.len();
        let (not_restored, failures) = (&done.not_restored, done.failures);
        if self.mode != Mode::Rollout {
            return self.rollback_summary(exit, not_restored, still_drained, &done.outcomes);
        }
        match exit {
            Exit::Success => format!(
                "{} {} on all {total} hosts of {}",
                self.opts.package, self.opts.version, self.opts.group
            ),
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
                let record = self
                    .opts
                    .record
                    .as_ref()
                    .map(|p| p.display().to_string())
                    .unwrap_or_else(|| "RECORD".into());
                format!("{}; a human must act: rollback --record {record}", parts.join("; "))
            }
            other => format!(
                "{other}: {failures} host(s) failed{}; {} touched host(s) restored to their previous version",
                self.first_failure(&done.outcomes),
                restored.len()
            ),
        }
    }

    /// The journal's end of this run (the rollback's own note, or the run's).
    fn close_journal(&self, exit: Exit) {
        let mut journal = self.journal.lock().unwrap_or_else(|e| e.into_inner());
        match &self.mode {
            Mode::Rollback { note: Some(n), .. } => {
                if let Some(note) = journal.rollbacks.get_mut(*n) {
                    note.finished = Some(now());
                    note.outcome = Some(format!("{exit}"));
                }
            }
            _ => {
                journal.finished = Some(now());
                journal.outcome = Some(format!("{exit}"));
            }
        }
    }

    /// The closing line of a rollback.
    fn rollback_summary(
        &self,
        exit: Exit,
        not_restored: &[String],
        still_drained: &[String],
        outcomes: &[Outcome],
    ) -> String {
        let done = self
            .order
            .iter()
            .filter(|(i, _)| outcomes[*i] == Outcome::Installed)
            .count();
        let left = self
            .order
            .iter()
            .filter(|(i, _)| outcomes[*i] == Outcome::NotStarted)
            .count();
        let mut parts = vec![format!(
            "{done} of {} host(s) of {} back on their previous {} version",
            self.order.len(),
            self.opts.group,
            self.opts.package
        )];
        if !not_restored.is_empty() {
            parts.push(format!("NOT returned: {}", not_restored.join(", ")));
        }
        if !still_drained.is_empty() {
            parts.push(format!(
                "still out of rotation: {}",
                still_drained.join(", ")
            ));
        }
        if left > 0 {
            parts.push(format!("{left} host(s) not reached ({exit})"));
        }
        parts.join("; ")
    }

    fn cases(&self, outcomes: &[Outcome], restored: &[usize]) -> Vec<Case> {
        let journal = self
            .journal
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone();
        let outputs = self.outputs.lock().map(|o| o.clone()).unwrap_or_default();
        let diagnoses = self.diagnoses.lock().map(|d| d.clone()).unwrap_or_default();
        let classname = format!("{}.{}.{}", self.tool(), self.opts.package, self.opts.group);
        let rollback = self.mode != Mode::Rollout;
        outcomes
            .iter()
            .enumerate()
            // A rollback reports the hosts it was asked to work on (the caller adds the rest).
            .filter(|(i, _)| !rollback || self.order.iter().any(|(k, _)| k == i))
            .map(|(i, outcome)| {
                let record = &journal.hosts[i];
                let own = &record.steps[self.earlier_steps[i].min(record.steps.len())..];
                let mut case = Case::passed(classname.clone(), self.hosts[i].name.clone());
                case.time = Duration::from_secs_f64(own.iter().map(|s| s.seconds).sum());
                let steps: String = own
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
                let steps = if rollback && own.is_empty() {
                    format!(
                        "already on {} and in rotation: left alone\n",
                        record.previous_version.as_deref().unwrap_or("nothing")
                    )
                } else {
                    steps
                };
                case.system_out = Some(format!(
                    "{steps}\n{}",
                    outputs.get(i).cloned().unwrap_or_default()
                ));
                let restore_note = if rollback {
                    String::new()
                } else if restored.contains(&i) {
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
                    Outcome::Installed if record.state == HostState::RestoreFailed && !rollback => {
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
                        kind: if rollback { "rollback" } else { "rollout" }.into(),
                        body: diagnoses.get(i).cloned().unwrap_or_default(),
                        ..Problem::default()
                    }),
                    Outcome::Unreachable(e) => Status::Errored(Problem {
                        message: format!("{e}{restore_note}"),
                        kind: "unreachable".into(),
                        ..Problem::default()
                    }),
                    Outcome::NotStarted if rollback => Status::Errored(Problem {
                        message: "not returned: the rollback stopped before this host's batch"
                            .into(),
                        kind: "not-started".into(),
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

/// A journal for a run of `tool` over `hosts`, nothing recorded yet: what [`Rollout::new`]
/// starts from, and what `rollback`'s explicit form starts its own journal from.
pub fn new_journal(tool: &str, opts: &Options, hosts: &[Host], balancers: &[Balancer]) -> Journal {
    Journal {
        tool: tool.to_string(),
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
                port: h.port(),
                user: h.user().map(str::to_string),
                server: (!balancers.is_empty())
                    .then(|| server_name(h, opts.server_template.as_deref())),
                batch: None,
            })
            .collect(),
        balancers: balancers
            .iter()
            .filter(|b| matches!(b, Balancer::Haproxy(_)))
            .map(Balancer::name)
            .collect(),
        lock_host: opts.lock_host.clone(),
        rollbacks: Vec::new(),
    }
}

fn describe(outcome: &Outcome) -> String {
    match outcome {
        Outcome::Failed(e) | Outcome::Unreachable(e) => e.clone(),
        Outcome::Installed => "ok".into(),
        Outcome::NotStarted => "not started".into(),
    }
}

/// What a failed install's maintainer script said: the lines dpkg printed between its last
/// `Setting up`/`Unpacking`/`Removing` line and its `dpkg: error processing` line (the script's
/// own output; at most 3, with dpkg's error line), else the command's last 3 lines (apt's
/// summary only repeats that dpkg failed).
fn maintainer_script_words(output: &str) -> Vec<String> {
    let lines: Vec<&str> = output.lines().filter(|l| !l.trim().is_empty()).collect();
    let picked: &[&str] = match lines
        .iter()
        .rposition(|l| l.starts_with("dpkg: error processing"))
    {
        Some(end) => {
            let start = lines[..end]
                .iter()
                .rposition(|l| {
                    [
                        "Setting up ",
                        "Unpacking ",
                        "Removing ",
                        "Preparing to unpack ",
                    ]
                    .iter()
                    .any(|p| l.starts_with(p))
                })
                .map_or(0, |i| i + 1);
            let from = start.max(end.saturating_sub(3));
            &lines[from..=end]
        }
        None => &lines[lines.len().saturating_sub(3)..],
    };
    picked.iter().map(|l| l.to_string()).collect()
}

/// Whether an install step's error means the connection was lost (ssh exit 255).
fn session_lost(error: &str) -> bool {
    error.contains("is unreachable")
}

#[cfg(test)]
mod tests {
    use super::maintainer_script_words;

    #[test]
    fn a_failed_install_is_explained_by_its_maintainer_script() {
        let apt = "Preparing to unpack .../hello-service_2.2-1_all.deb ...\n\
                   Unpacking hello-service (2.2-1) over (2.0-1) ...\n\
                   Setting up hello-service (2.2-1) ...\n\
                   hello-service: postinst fails on purpose\n\
                   dpkg: error processing package hello-service (--configure):\n \
                   installed hello-service package post-installation script subprocess returned error exit status 1\n\
                   Errors were encountered while processing:\n hello-service\n\
                   E: Sub-process /usr/bin/dpkg returned an error code (1)\n";
        assert_eq!(
            maintainer_script_words(apt),
            [
                "hello-service: postinst fails on purpose",
                "dpkg: error processing package hello-service (--configure):"
            ]
        );
        assert_eq!(maintainer_script_words("a\nb\n\nc\nd\n"), ["b", "c", "d"]);
        assert!(maintainer_script_words("").is_empty());
    }
}
