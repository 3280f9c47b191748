//! `rolling-install status`: the state of a group without logging in to any host. For each
//! host, over the same ssh layer as a rollout: the package's installed version and dpkg state,
//! its systemd units (the units a rollout watches, from [`crate::service::unit_states`]), the
//! state of its server on every HAProxy balancer (one `show stat` per balancer), and its
//! health (the rollout's health check, probed once); then the group's deployment lock.
//!
//! It changes nothing and takes no lock. What it finds is aggregated into a [`FleetStatus`]:
//! the group's version (the one most hosts are on), each host's problems (what keeps the
//! group from being uniform and healthy) and what could not be checked (unreachable hosts,
//! balancers), which decide the exit status (see [`FleetStatus::exit`]). The `--json` shape is
//! published as a JSON Schema (`docs/schemas/rolling-install-status.schema.json`).

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;
use std::time::Duration;

use serde::Serialize;

use cdkit::exit::Exit;
use cdkit::junit::{Case, Problem, Status};
use cdkit::process::Stream;
use cdkit::ssh::Session;

use crate::haproxy::{check_name, parse_stat};
use crate::health::{Check, Gate};
use crate::host_ops::HostOps;
use crate::inventory::Host;
use crate::lb::Balancer;
use crate::service::UnitState;

/// The `format` of `--json` output: raised when a field changes meaning or goes away (new
/// fields may be added without raising it).
pub const FORMAT: u32 = 1;

/// Limit for each command on a host.
const COMMAND_TIMEOUT: Duration = Duration::from_secs(30);

/// What to ask.
pub struct Query<'a> {
    /// The group or host pattern (names the lock).
    pub group: &'a str,
    /// The package.
    pub package: &'a str,
    /// `--service-unit` (empty: the units the package ships).
    pub units: &'a [String],
    /// `--lb-server`.
    pub server_template: Option<&'a str>,
    /// The health check (probed once; [`Check::None`]: not checked).
    pub gate: &'a Gate,
    /// `--sudo`.
    pub sudo: bool,
    /// Hosts asked at the same time.
    pub workers: usize,
}

/// The package on one host, from `dpkg-query`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PackageState {
    /// `db:Status-Status`: `installed`, `half-configured`, `unpacked`, `config-files`,
    /// `not-installed`, …
    pub state: String,
    /// `db:Status-Abbrev` (`ii`, `iF`, `rc`, …), trailing blank removed.
    pub abbrev: String,
    /// The version, when dpkg knows one.
    pub version: Option<String>,
}

/// One unit's state, for the JSON output.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Unit {
    /// The unit.
    pub unit: String,
    /// `ActiveState`.
    pub active: String,
    /// `SubState`.
    pub sub: String,
    /// `Result`.
    pub result: String,
    /// `NRestarts`, when systemd says.
    pub restarts: Option<u64>,
    /// `ActiveEnterTimestamp`, when the unit was ever active.
    pub since: Option<String>,
}

impl From<&UnitState> for Unit {
    fn from(u: &UnitState) -> Unit {
        Unit {
            unit: u.unit.clone(),
            active: u.active.clone(),
            sub: u.sub.clone(),
            result: u.result.clone(),
            restarts: u.restarts.parse().ok(),
            since: (!u.since.is_empty() && u.since != "n/a").then(|| u.since.clone()),
        }
    }
}

impl Unit {
    /// Whether the unit is as it should be: active and running.
    fn running(&self) -> bool {
        self.active == "active" && self.sub == "running"
    }
}

/// One host's server on one balancer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct LbState {
    /// The balancer's name (`haproxy:SOCKET:BACKEND`).
    pub balancer: String,
    /// The host's server name there.
    pub server: String,
    /// `UP`, `DRAIN`, `MAINT`, `DOWN`, … (`None`: not known, see `error`).
    pub state: Option<String>,
    /// Current sessions.
    pub sessions: Option<u64>,
    /// Why the state is not known.
    pub error: Option<String>,
}

/// One health probe.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Health {
    /// Whether the probe passed.
    pub healthy: bool,
    /// Why not (empty when healthy).
    pub detail: String,
}

/// Everything found on one host.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct HostStatus {
    /// Inventory name.
    pub name: String,
    /// The address connected to.
    pub address: String,
    /// Whether ssh reached it.
    pub reachable: bool,
    /// Why something on it could not be read (unreachable, a command that failed).
    pub error: Option<String>,
    /// The package (`None`: not read).
    pub package: Option<PackageState>,
    /// The package's units.
    pub units: Vec<Unit>,
    /// Its server on each balancer.
    pub balancers: Vec<LbState>,
    /// The health probe (`None`: no health check given, or not run).
    pub health: Option<Health>,
    /// What is wrong with it (filled in by [`FleetStatus::aggregate`]).
    pub problems: Vec<String>,
}

/// The group's deployment lock.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct LockState {
    /// The host holding the lock directory.
    pub host: String,
    /// `free`, `held` or `unknown`.
    pub state: String,
    /// The holder's line, when held.
    pub holder: Option<String>,
    /// Why the state is unknown.
    pub error: Option<String>,
}

/// The state of a group: what `status` prints, and what `--json` serializes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FleetStatus {
    /// [`FORMAT`].
    pub format: u32,
    /// The group or host pattern.
    pub group: String,
    /// The package.
    pub package: String,
    /// The version most hosts are on (ties: the highest); `None` when no host has one.
    pub version: Option<String>,
    /// `true` when the exit status is 0.
    pub ok: bool,
    /// The exit status.
    pub exit: u8,
    /// The balancers asked.
    pub balancers: Vec<String>,
    /// `url`, `command`, or `None` when no health check was given.
    pub health_check: Option<String>,
    /// The deployment lock.
    pub lock: LockState,
    /// Every host, in inventory order.
    pub hosts: Vec<HostStatus>,
    /// Everything not uniform or not healthy, `HOST: what` (exit 1).
    pub problems: Vec<String>,
    /// Everything that could not be checked, `HOST: why` or `BALANCER: why` (exit 75).
    pub unchecked: Vec<String>,
    /// The balancers that could not be asked, `BALANCER: why` (into `unchecked`).
    #[serde(skip)]
    pub balancer_errors: Vec<String>,
}

/// Ask every host, balancer and the lock host; aggregate.
pub fn collect(
    query: &Query,
    hosts: &[Host],
    sessions: &[Session],
    balancers: &[Balancer],
    lock_session: &Session,
) -> FleetStatus {
    let servers: Vec<String> = hosts
        .iter()
        .map(|h| crate::lb::server_name(h, query.server_template))
        .collect();
    let (lb_names, per_host, lb_unchecked) = balancer_states(balancers, &servers);
    let mut statuses: Vec<HostStatus> = in_parallel(hosts.len(), query.workers, |i| {
        host_status(query, &hosts[i], &sessions[i])
    });
    for (status, lbs) in statuses.iter_mut().zip(per_host) {
        status.balancers = lbs;
    }
    let lock = lock_state(lock_session, query.sudo, query.group);
    let mut fleet = FleetStatus {
        format: FORMAT,
        group: query.group.to_string(),
        package: query.package.to_string(),
        version: None,
        ok: false,
        exit: 0,
        balancers: lb_names,
        health_check: match query.gate.check {
            Check::Url { .. } => Some("url".into()),
            Check::Command(_) => Some("command".into()),
            Check::None => None,
        },
        lock,
        hosts: statuses,
        problems: Vec::new(),
        unchecked: Vec::new(),
        balancer_errors: lb_unchecked,
    };
    fleet.aggregate();
    fleet
}

/// `f(0..n)` on at most `workers` threads at a time, results in order.
fn in_parallel<T: Send>(n: usize, workers: usize, f: impl Fn(usize) -> T + Sync) -> Vec<T> {
    let next = AtomicUsize::new(0);
    let results: Mutex<Vec<Option<T>>> = Mutex::new((0..n).map(|_| None).collect());
    std::thread::scope(|scope| {
        for _ in 0..workers.clamp(1, n.max(1)) {
            scope.spawn(|| loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                if i >= n {
                    return;
                }
                let r = f(i);
                if let Ok(mut results) = results.lock() {
                    results[i] = Some(r);
                }
            });
        }
    });
    results
        .into_inner()
        .unwrap_or_else(|e| e.into_inner())
        .into_iter()
        .map(|r| r.expect("every index was worked on"))
        .collect()
}

/// Each HAProxy balancer's `show stat`, read once, as every host's state there; the
/// balancers' names; and those that could not be asked. Hook balancers have no state to read
/// and are left out.
fn balancer_states(
    balancers: &[Balancer],
    servers: &[String],
) -> (Vec<String>, Vec<Vec<LbState>>, Vec<String>) {
    let mut names = Vec::new();
    let mut per_host: Vec<Vec<LbState>> = vec![Vec::new(); servers.len()];
    let mut unchecked = Vec::new();
    for balancer in balancers {
        let Balancer::Haproxy(h) = balancer else {
            continue;
        };
        let name = balancer.name();
        let stat = h.command("show stat").map_err(|e| e.to_string());
        if let Err(e) = &stat {
            unchecked.push(format!("{name}: cannot read its state ({e})"));
        }
        for (server, states) in servers.iter().zip(per_host.iter_mut()) {
            let mut state = LbState {
                balancer: name.clone(),
                server: server.clone(),
                state: None,
                sessions: None,
                error: None,
            };
            match (&stat, check_name("server", server)) {
                (_, Err(e)) => state.error = Some(e.to_string()),
                (Err(e), Ok(())) => state.error = Some(e.clone()),
                (Ok(csv), Ok(())) => match parse_stat(csv, &h.backend, server) {
                    Some(s) => {
                        state.state = Some(s.status);
                        state.sessions = Some(s.scur);
                    }
                    None => {
                        state.error = Some(format!("no server {server} in backend {}", h.backend))
                    }
                },
            }
            states.push(state);
        }
        names.push(name);
    }
    (names, per_host, unchecked)
}

/// `dpkg-query`'s line for `$1`, nothing (exit 0) for a package dpkg has never heard of.
const DPKG_STATE: &str = r#"dpkg-query --show --showformat='${db:Status-Abbrev} ${db:Status-Status} ${Version}\n' "$1" 2>/dev/null
rc=$?
[ "$rc" -eq 1 ] && exit 0
exit "$rc"
"#;

/// `ABBREV STATUS VERSION` (the abbreviation is three characters, its last often a blank) as
/// a state; no line: never installed.
pub fn parse_dpkg_state(out: &str) -> PackageState {
    let line = out.lines().next().unwrap_or_default();
    let (abbrev, rest) = match (line.get(..3), line.get(3..)) {
        (Some(a), Some(r)) => (a.trim_end(), r.trim()),
        _ => ("", ""),
    };
    let (state, version) = rest.split_once(' ').unwrap_or((rest, ""));
    PackageState {
        state: if state.is_empty() {
            "not-installed".into()
        } else {
            state.to_string()
        },
        abbrev: if abbrev.is_empty() {
            "un".into()
        } else {
            abbrev.to_string()
        },
        version: (!version.trim().is_empty()).then(|| version.trim().to_string()),
    }
}

/// One host: package, units, health (the balancers are read for all hosts at once).
fn host_status(query: &Query, host: &Host, session: &Session) -> HostStatus {
    let ops = HostOps::new(session, query.sudo, COMMAND_TIMEOUT);
    let mut status = HostStatus {
        name: host.name.clone(),
        address: host.address().to_string(),
        reachable: true,
        error: None,
        package: None,
        units: Vec::new(),
        balancers: Vec::new(),
        health: None,
        problems: Vec::new(),
    };
    let mut errors: Vec<String> = Vec::new();
    // Quiet: the answer goes into the report, not into the log as the host's output.
    let mut out = String::new();
    let asked = ops.run_quiet(
        &["sh", "-c", DPKG_STATE, "sh", query.package],
        COMMAND_TIMEOUT,
        |stream, line| {
            if stream == Stream::Stdout && out.len() < 4096 {
                out.push_str(line);
                out.push('\n');
            }
        },
    );
    match asked {
        Ok(done) if done.success() => status.package = Some(parse_dpkg_state(&out)),
        Ok(done) => errors.push(format!(
            "package state unknown: dpkg-query ended with {}",
            done.describe()
        )),
        Err(e) => {
            status.reachable = false;
            status.error = Some(format!("unreachable: {e}"));
        }
    }
    if status.reachable {
        match crate::service::unit_states(&ops, query.package, query.units) {
            Ok(units) => {
                // systemctl answers nothing on a host not booted with systemd: unknown, not
                // stopped.
                let blind: Vec<&str> = units
                    .iter()
                    .filter(|u| u.active.is_empty())
                    .map(|u| u.unit.as_str())
                    .collect();
                if !blind.is_empty() {
                    errors.push(format!(
                        "unit states unknown: systemctl show says nothing of {} (is systemd \
                         running?)",
                        blind.join(", ")
                    ));
                }
                status.units = units
                    .iter()
                    .filter(|u| !u.active.is_empty())
                    .map(Unit::from)
                    .collect();
            }
            Err(e) => errors.push(format!("unit states unknown: {e}")),
        }
    }
    // A command check runs on the host; a URL check from here, reachable by ssh or not.
    let probe = match query.gate.check {
        Check::None => false,
        Check::Command(_) => status.reachable,
        Check::Url { .. } => true,
    };
    if probe {
        let version = status
            .package
            .as_ref()
            .and_then(|p| p.version.clone())
            .unwrap_or_default();
        status.health = Some(match query.gate.probe(&ops, host.address(), &version) {
            Ok(()) => Health {
                healthy: true,
                detail: String::new(),
            },
            Err(detail) => Health {
                healthy: false,
                detail: detail
                    .replace(['\n', '\r'], " ")
                    .trim_end_matches([':', ' '])
                    .to_string(),
            },
        });
    }
    if !errors.is_empty() {
        status.error = Some(errors.join("; "));
    }
    status
}

fn lock_state(session: &Session, sudo: bool, group: &str) -> LockState {
    let ops = HostOps::new(session, sudo, COMMAND_TIMEOUT);
    let mut lock = LockState {
        host: session.target.name.clone(),
        state: "free".into(),
        holder: None,
        error: None,
    };
    match crate::deploy_lock::status(&ops, group) {
        Ok(None) => {}
        Ok(Some(holder)) => {
            lock.state = "held".into();
            lock.holder = Some(holder);
        }
        Err(e) => {
            lock.state = "unknown".into();
            lock.error = Some(e.to_string());
        }
    }
    lock
}

/// How a balancer state reads in a problem line.
fn lb_words(state: &str) -> String {
    match state {
        "DRAIN" => "drained".into(),
        "MAINT" => "in maintenance".into(),
        "DOWN" => "down".into(),
        "NOLB" => "not load-balanced (NOLB)".into(),
        // HAProxy's checks are moving it: `UP 1/3` is failing its checks, `DOWN 1/2` passing.
        s if s.starts_with("UP ") => format!("going down ({s})"),
        s if s.starts_with("DOWN ") => format!("coming up ({s})"),
        other => other.to_string(),
    }
}

impl FleetStatus {
    /// Find the group's version, each host's problems, the fleet's problems, what could not
    /// be checked and the exit status ([`FleetStatus::exit`]). Can be run again after a change.
    pub fn aggregate(&mut self) {
        self.version = group_version(&self.hosts);
        let mut unchecked = self.balancer_errors.clone();
        let mut problems = Vec::new();
        for host in &mut self.hosts {
            host.problems.clear();
            if let Some(e) = &host.error {
                unchecked.push(format!("{}: {e}", host.name));
            }
            if let Some(p) = &host.package {
                if p.state == "not-installed" {
                    host.problems
                        .push(format!("{} not installed", self.package));
                } else if p.state != "installed" {
                    host.problems.push(format!("dpkg state {}", p.state));
                }
                if let (Some(v), Some(group)) = (&p.version, &self.version) {
                    if v != group && p.state != "not-installed" {
                        host.problems.push(format!("version {v} (group: {group})"));
                    }
                }
            }
            for u in host.units.iter().filter(|u| !u.running()) {
                let mut what = format!("{} {} ({}", u.unit, u.active, u.sub);
                if !u.result.is_empty() && u.result != "success" {
                    what.push_str(&format!(", result {}", u.result));
                }
                what.push(')');
                host.problems.push(what);
            }
            for lb in &host.balancers {
                match (&lb.state, &lb.error) {
                    (Some(s), _) if s == "UP" => {}
                    (Some(s), _) => {
                        host.problems
                            .push(format!("{} on {}", lb_words(s), lb.balancer))
                    }
                    (None, Some(e)) if e.starts_with("no server ") => {
                        host.problems.push(format!("{e} on {}", lb.balancer))
                    }
                    // The balancer itself could not be asked: said once, in `unchecked`.
                    (None, _) => {}
                }
            }
            if let Some(h) = host.health.as_ref().filter(|h| !h.healthy) {
                host.problems.push(format!("unhealthy: {}", h.detail));
            }
            problems.extend(host.problems.iter().map(|p| format!("{}: {p}", host.name)));
        }
        if let Some(e) = &self.lock.error {
            unchecked.push(format!("lock on {}: {e}", self.lock.host));
        }
        self.problems = problems;
        self.unchecked = unchecked;
        let exit = self.exit();
        self.exit = exit.code();
        self.ok = exit.is_success();
    }

    /// The exit status: 1 when anything is not uniform or not healthy (a definite finding
    /// wins), else 75 when anything could not be checked, else 0.
    pub fn exit(&self) -> Exit {
        if !self.problems.is_empty() {
            Exit::Failed
        } else if !self.unchecked.is_empty() {
            Exit::TempFail
        } else {
            Exit::Success
        }
    }

    /// One line: all well, or what is not (problems first, then what could not be checked).
    pub fn summary(&self) -> String {
        let n = self.hosts.len();
        if self.ok {
            let mut parts = vec![format!(
                "all {n} host(s) on {} {}, installed",
                self.package,
                self.version.as_deref().unwrap_or("?")
            )];
            if self.hosts.iter().any(|h| !h.units.is_empty()) {
                parts.push("units running".into());
            }
            if !self.balancers.is_empty() {
                parts.push("UP on every balancer".into());
            }
            if self.health_check.is_some() {
                parts.push("healthy".into());
            }
            return parts.join(", ");
        }
        let mut parts = Vec::new();
        if !self.problems.is_empty() {
            let hosts = self.hosts.iter().filter(|h| !h.problems.is_empty()).count();
            parts.push(format!(
                "{hosts} of {n} host(s) not uniform or not healthy: {}",
                self.problems.join("; ")
            ));
        }
        if !self.unchecked.is_empty() {
            parts.push(format!("could not check: {}", self.unchecked.join("; ")));
        }
        parts.join("; ")
    }

    /// The table: one row per host, columns aligned, then the lock and the summary.
    pub fn table(&self) -> String {
        let mut rows: Vec<Vec<String>> = vec![[
            "HOST", "VERSION", "DPKG", "UNITS", "RESTARTS", "SINCE", "LB", "HEALTH",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect()];
        let dash = || "-".to_string();
        for h in &self.hosts {
            let joined = |f: &dyn Fn(&Unit) -> String| -> String {
                if h.units.is_empty() {
                    dash()
                } else {
                    h.units.iter().map(f).collect::<Vec<_>>().join(", ")
                }
            };
            let (version, dpkg) = match (&h.package, h.reachable) {
                (_, false) => ("UNREACHABLE".to_string(), dash()),
                (Some(p), true) => (p.version.clone().unwrap_or_else(dash), p.state.clone()),
                (None, true) => ("?".to_string(), "?".to_string()),
            };
            let units = joined(&|u| {
                let short = u.unit.strip_suffix(".service").unwrap_or(&u.unit);
                format!("{short} {}/{}", u.active, u.sub)
            });
            let restarts = joined(&|u| u.restarts.map(|r| r.to_string()).unwrap_or_else(dash));
            let since = joined(&|u| u.since.clone().unwrap_or_else(dash));
            let lb = if h.balancers.is_empty() {
                dash()
            } else {
                h.balancers
                    .iter()
                    .map(|b| b.state.clone().unwrap_or_else(|| "?".into()))
                    .collect::<Vec<_>>()
                    .join(",")
            };
            let health = match &h.health {
                None => dash(),
                Some(x) if x.healthy => "healthy".into(),
                Some(_) => "UNHEALTHY".into(),
            };
            rows.push(vec![
                h.name.clone(),
                version,
                dpkg,
                units,
                restarts,
                since,
                lb,
                health,
            ]);
        }
        let mut out = format!(
            "status: {} on {} host(s) of {}\n",
            self.package,
            self.hosts.len(),
            self.group
        );
        out.push_str(&crate::plan::aligned(&rows));
        if !self.balancers.is_empty() {
            out.push_str(&format!("LB: {}\n", self.balancers.join(", ")));
        }
        out.push_str(
            &match (&self.lock.state[..], &self.lock.holder, &self.lock.error) {
                ("held", Some(holder), _) => {
                    format!("lock on {}: held by {holder}\n", self.lock.host)
                }
                (_, _, Some(e)) => format!("lock on {}: unknown ({e})\n", self.lock.host),
                _ => format!("lock on {}: free\n", self.lock.host),
            },
        );
        out.push_str(&format!("summary: {}\n", self.summary()));
        out
    }

    /// `--junit`: one case per host (`status HOST`), failed with its problems, an error when
    /// it could not be checked, with the host's whole status (JSON) as its output; and a case
    /// `status balancers and lock` when one of those could not be asked.
    pub fn junit_cases(&self) -> Vec<Case> {
        let classname = format!("{}.{}.{}", crate::TOOL, self.package, self.group);
        let mut cases: Vec<Case> = self
            .hosts
            .iter()
            .map(|h| {
                let mut case = Case::passed(classname.clone(), format!("status {}", h.name));
                let body = serde_json::to_string_pretty(h).unwrap_or_default();
                if !h.problems.is_empty() {
                    case.status = Status::Failed(Problem {
                        message: h.problems.join("; "),
                        kind: "status".into(),
                        body: body.clone(),
                        reruns: Vec::new(),
                    });
                } else if let Some(e) = &h.error {
                    case.status = Status::Errored(Problem {
                        message: e.clone(),
                        kind: if h.reachable {
                            "unchecked"
                        } else {
                            "unreachable"
                        }
                        .into(),
                        body: body.clone(),
                        reruns: Vec::new(),
                    });
                }
                case.system_out = Some(body);
                case
            })
            .collect();
        let mut fleet_level = self.balancer_errors.clone();
        if let Some(e) = &self.lock.error {
            fleet_level.push(format!("lock on {}: {e}", self.lock.host));
        }
        if !fleet_level.is_empty() {
            let mut case = Case::passed(classname, "status balancers and lock");
            case.status = Status::Errored(Problem {
                message: fleet_level.join("; "),
                kind: "unchecked".into(),
                body: fleet_level.join("\n"),
                reruns: Vec::new(),
            });
            cases.push(case);
        }
        cases
    }

    /// The `--json` document (see the published schema).
    pub fn json(&self) -> String {
        serde_json::to_string_pretty(self).unwrap_or_else(|e| {
            // Every field is a string, number, bool or list of them: this cannot fail.
            format!("{{\"error\": \"cannot serialize the status: {e}\"}}")
        }) + "\n"
    }
}

/// The version most hosts that have one are on; a tie goes to the highest (Debian order).
fn group_version(hosts: &[HostStatus]) -> Option<String> {
    let mut counts: Vec<(&str, usize)> = Vec::new();
    for v in hosts
        .iter()
        .filter_map(|h| h.package.as_ref())
        .filter(|p| p.state != "not-installed")
        .filter_map(|p| p.version.as_deref())
    {
        match counts.iter_mut().find(|(seen, _)| *seen == v) {
            Some((_, n)) => *n += 1,
            None => counts.push((v, 1)),
        }
    }
    let key = |v: &str| cdkit_deb::policy::Version::parse(v).ok();
    counts
        .into_iter()
        .max_by(|(a, na), (b, nb)| na.cmp(nb).then_with(|| key(a).cmp(&key(b))))
        .map(|(v, _)| v.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn unit(active: &str, sub: &str, result: &str) -> Unit {
        Unit {
            unit: "hello-service.service".into(),
            active: active.into(),
            sub: sub.into(),
            result: result.into(),
            restarts: Some(0),
            since: Some("Mon 2026-12-07 23:10:01 UTC".into()),
        }
    }

    fn host(name: &str, version: &str) -> HostStatus {
        HostStatus {
            name: name.into(),
            address: format!("10.0.0.{}", name.trim_start_matches('h')),
            reachable: true,
            error: None,
            package: Some(PackageState {
                state: "installed".into(),
                abbrev: "ii".into(),
                version: Some(version.into()),
            }),
            units: vec![unit("active", "running", "success")],
            balancers: vec![LbState {
                balancer: "haproxy:/run/haproxy.sock:be".into(),
                server: name.into(),
                state: Some("UP".into()),
                sessions: Some(0),
                error: None,
            }],
            health: Some(Health {
                healthy: true,
                detail: String::new(),
            }),
            problems: Vec::new(),
        }
    }

    fn fleet(hosts: Vec<HostStatus>) -> FleetStatus {
        let mut f = FleetStatus {
            format: FORMAT,
            group: "all".into(),
            package: "hello-service".into(),
            version: None,
            ok: false,
            exit: 0,
            balancers: vec!["haproxy:/run/haproxy.sock:be".into()],
            health_check: Some("url".into()),
            lock: LockState {
                host: "h1".into(),
                state: "free".into(),
                holder: None,
                error: None,
            },
            hosts,
            problems: Vec::new(),
            unchecked: Vec::new(),
            balancer_errors: Vec::new(),
        };
        f.aggregate();
        f
    }

    #[test]
    fn dpkg_query_lines() {
        assert_eq!(
            parse_dpkg_state("ii  installed 2.0-1\n"),
            PackageState {
                state: "installed".into(),
                abbrev: "ii".into(),
                version: Some("2.0-1".into())
            }
        );
        let half = parse_dpkg_state("iF  half-configured 2.1-1\n");
        assert_eq!(
            (half.state.as_str(), half.abbrev.as_str()),
            ("half-configured", "iF")
        );
        let rc = parse_dpkg_state("rc  config-files 1.0-1\n");
        assert_eq!(rc.state, "config-files");
        assert_eq!(rc.version.as_deref(), Some("1.0-1"));
        let purged = parse_dpkg_state("un  not-installed \n");
        assert_eq!(
            (purged.state.as_str(), purged.version),
            ("not-installed", None)
        );
        // dpkg never heard of it: no line at all.
        assert_eq!(parse_dpkg_state("").state, "not-installed");
        // The reinstall-required flag takes the third column.
        assert_eq!(
            parse_dpkg_state("iUR half-installed 3:1.2~rc1-1\n")
                .version
                .as_deref(),
            Some("3:1.2~rc1-1")
        );
    }

    #[test]
    fn a_uniform_healthy_group_is_ok() {
        let f = fleet((1..=3).map(|i| host(&format!("h{i}"), "2.0-1")).collect());
        assert!(f.ok, "{:?}", f.problems);
        assert_eq!((f.exit, f.exit()), (0, Exit::Success));
        assert_eq!(f.version.as_deref(), Some("2.0-1"));
        assert_eq!(
            f.summary(),
            "all 3 host(s) on hello-service 2.0-1, installed, units running, UP on every \
             balancer, healthy"
        );
    }

    #[test]
    fn each_kind_of_trouble_is_named_with_its_host() {
        let mut hosts: Vec<HostStatus> = (1..=7).map(|i| host(&format!("h{i}"), "2.0-1")).collect();
        hosts[2].package.as_mut().unwrap().version = Some("1.0-1".into());
        hosts[4].balancers[0].state = Some("DRAIN".into());
        hosts[6].units[0] = unit("failed", "failed", "signal");
        hosts[1].package.as_mut().unwrap().state = "half-configured".into();
        hosts[3].health = Some(Health {
            healthy: false,
            detail: "http://10.0.0.4:8080/health answered 503, expected 200".into(),
        });
        hosts[0].balancers[0].state = Some("UP 1/3".into());
        hosts[5].balancers[0].state = None;
        hosts[5].balancers[0].error = Some("no server h6 in backend be".into());
        let f = fleet(hosts);
        assert_eq!(f.exit(), Exit::Failed);
        assert_eq!(f.exit, 1);
        assert_eq!(
            f.problems,
            [
                "h1: going down (UP 1/3) on haproxy:/run/haproxy.sock:be",
                "h2: dpkg state half-configured",
                "h3: version 1.0-1 (group: 2.0-1)",
                "h4: unhealthy: http://10.0.0.4:8080/health answered 503, expected 200",
                "h5: drained on haproxy:/run/haproxy.sock:be",
                "h6: no server h6 in backend be on haproxy:/run/haproxy.sock:be",
                "h7: hello-service.service failed (failed, result signal)",
            ]
        );
        assert!(f
            .summary()
            .starts_with("7 of 7 host(s) not uniform or not healthy: h1: "));
        let table = f.table();
        let lines: Vec<&str> = table.lines().collect();
        // Header and rows aligned: every row's VERSION column starts where the header's does.
        let col = lines[1].find("VERSION").unwrap();
        for row in &lines[2..9] {
            assert!(
                row[col..].starts_with(|c: char| c.is_ascii_digit()),
                "{row}"
            );
        }
        assert!(
            lines[6].starts_with("h5") && lines[6].contains("DRAIN"),
            "{table}"
        );
        assert!(lines[9].starts_with("LB: haproxy:"), "{table}");
    }

    #[test]
    fn unreachable_hosts_are_unchecked_not_wrong_and_a_finding_wins() {
        let mut hosts: Vec<HostStatus> = (1..=3).map(|i| host(&format!("h{i}"), "2.0-1")).collect();
        hosts[1] = HostStatus {
            reachable: false,
            error: Some("unreachable: ssh: connection timed out".into()),
            package: None,
            units: Vec::new(),
            health: None,
            ..hosts[1].clone()
        };
        let f = fleet(hosts.clone());
        assert_eq!(f.exit(), Exit::TempFail);
        assert_eq!(f.exit, 75);
        assert_eq!(f.unchecked, ["h2: unreachable: ssh: connection timed out"]);
        assert!(f.table().contains("UNREACHABLE"));
        hosts[2].units[0] = unit("inactive", "dead", "success");
        let f = fleet(hosts);
        assert_eq!(
            f.exit(),
            Exit::Failed,
            "a definite finding wins over an unknown"
        );
        assert!(f.summary().contains("could not check: h2: unreachable"));
    }

    #[test]
    fn junit_cases_follow_each_host() {
        let mut hosts: Vec<HostStatus> = (1..=3).map(|i| host(&format!("h{i}"), "2.0-1")).collect();
        hosts[1].balancers[0].state = Some("MAINT".into());
        hosts[2].reachable = false;
        hosts[2].error = Some("unreachable: ssh: timed out".into());
        hosts[2].package = None;
        let mut f = fleet(hosts);
        f.balancer_errors = vec!["haproxy:/x:be: cannot read its state (gone)".into()];
        f.aggregate();
        let cases = f.junit_cases();
        let names: Vec<&str> = cases.iter().map(|c| c.name.as_str()).collect();
        assert_eq!(
            names,
            [
                "status h1",
                "status h2",
                "status h3",
                "status balancers and lock"
            ]
        );
        assert!(matches!(cases[0].status, Status::Passed { .. }));
        match &cases[1].status {
            Status::Failed(p) => {
                assert_eq!(p.message, "in maintenance on haproxy:/run/haproxy.sock:be")
            }
            other => panic!("{other:?}"),
        }
        assert!(matches!(&cases[2].status, Status::Errored(p) if p.kind == "unreachable"));
        assert!(cases[3].is_bad());
        assert_eq!(cases[0].classname, "rolling-install.hello-service.all");
    }

    #[test]
    fn the_group_version_is_the_most_common_then_the_highest() {
        let on = |vs: &[&str]| {
            group_version(
                &vs.iter()
                    .enumerate()
                    .map(|(i, v)| host(&format!("h{i}"), v))
                    .collect::<Vec<_>>(),
            )
        };
        assert_eq!(on(&["1.0-1", "2.0-1", "2.0-1"]).as_deref(), Some("2.0-1"));
        assert_eq!(on(&["1.0-1", "1.0-1", "2.0-1"]).as_deref(), Some("1.0-1"));
        // Debian order, not string order: 1.10 > 1.9.
        assert_eq!(on(&["1.9-1", "1.10-1"]).as_deref(), Some("1.10-1"));
        assert_eq!(on(&[]), None);
    }

    #[test]
    fn a_held_lock_is_shown_and_an_unknown_one_is_unchecked() {
        let mut f = fleet(vec![host("h1", "2.0-1")]);
        f.lock.state = "held".into();
        f.lock.holder = Some("rolling-install pid 42 on ci-7".into());
        f.aggregate();
        assert!(f.ok, "a held lock is information, not a fault");
        assert!(f
            .table()
            .contains("lock on h1: held by rolling-install pid 42 on ci-7"));
        f.lock.error = Some("ssh: unreachable".into());
        f.aggregate();
        assert_eq!(f.exit(), Exit::TempFail);
    }

    #[test]
    fn work_is_spread_over_bounded_workers_in_order() {
        let running = AtomicUsize::new(0);
        let peak = AtomicUsize::new(0);
        let out = in_parallel(20, 3, |i| {
            let now = running.fetch_add(1, Ordering::SeqCst) + 1;
            peak.fetch_max(now, Ordering::SeqCst);
            std::thread::sleep(Duration::from_millis(5));
            running.fetch_sub(1, Ordering::SeqCst);
            i * 2
        });
        assert_eq!(out, (0..20).map(|i| i * 2).collect::<Vec<_>>());
        assert!(peak.load(Ordering::SeqCst) <= 3);
        assert!(in_parallel(0, 4, |i| i).is_empty());
    }
}
