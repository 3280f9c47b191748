//! rollback's fault matrix on the testbed: real hosts (systemd-nspawn, sshd, dpkg, apt),
//! a real HAProxy, real packages from a signed APT repository. Each scenario is a test of its
//! own (CI's JUnit shows each), and all share one lab of five hosts: the first test brings it
//! up, the others find it by the marker it leaves (`lab()`), and each puts the fleet into the
//! starting state itself (every host on 1.0-1, installed, `UP` in HAProxy, no fault left over,
//! a fresh directory for its records), so a failed scenario cannot decide the next one's
//! outcome. A scenario injects its fault into a rolling-install run (and, where the run cannot
//! repair it alone, finishes with `rollback --record`), then checks the end state: every host
//! on the new or the previous version (dpkg-query, installed), every host back in rotation
//! (HAProxy `UP`), the journal consistent with the hosts, and the exit codes the contract names.
//!
//! Each test appends its row (scenario, expected, observed, time, result) to
//! `$CDKIT_TEST_REPORTS/rollback-fault-matrix.tsv`; `scripts/test` prints the table after the
//! tests and removes the lab. Run alone (`cargo nextest run -p rollback --test fault_matrix`,
//! one scenario with `-E 'test(s06)'`), the lab stays up for the next run; remove it with
//! `scripts/testbed down --name rb-e2e`. nextest runs the scenarios one at a time
//! (`.config/nextest.toml`, test group `rollback-fault-matrix`); a file lock serialises them
//! under `cargo test` too.

use cdkit_testkit::testbed::must;
use std::io::{Read as _, Write as _};
use std::os::unix::process::ExitStatusExt as _;
use std::panic::AssertUnwindSafe;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

const ROLLBACK: &str = env!("CARGO_BIN_EXE_rollback");
const LAB: &str = "rb-e2e";
const HOSTS: usize = 5;
const OLD: &str = "1.0-1";
const NEW: &str = "2.0-1";
const HEALTH: &str = "--health-url 'http://{host}:8080/health' --health-body '{version}' \
                      --health-retries 4 --health-interval 500ms";
/// Where the row of each scenario goes, under `$CDKIT_TEST_REPORTS` (`scripts/test` prints it).
const TABLE: &str = "rollback-fault-matrix.tsv";

fn root() -> PathBuf {
    cdkit_testkit::workspace_root()
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// `scripts/testbed SUBCOMMAND --name LAB ARGS…`.
fn testbed(args: &[&str]) -> Output {
    cdkit_testkit::testbed::run(LAB, args)
}

/// What the test processes share across runs: the lock, the marker, the packages.
fn shared_dir() -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join(LAB);
    std::fs::create_dir_all(&dir).expect("the matrix's shared directory");
    dir
}

/// rolling-install's binary (another package's), built when it is missing or older than this
/// test's `rollback` (which links rolling-install's library: a change there rebuilt it).
fn rolling_install() -> PathBuf {
    let ri = Path::new(ROLLBACK)
        .parent()
        .expect("the binaries' directory")
        .join("rolling-install");
    let modified = |p: &Path| std::fs::metadata(p).and_then(|m| m.modified()).ok();
    if modified(&ri).is_some() && modified(&ri) >= modified(Path::new(ROLLBACK)) {
        return ri;
    }
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let built = Command::new(cargo)
        .args([
            "build",
            "-q",
            "-p",
            "rolling-install",
            "--bin",
            "rolling-install",
        ])
        .current_dir(root())
        .status()
        .expect("cargo build -p rolling-install");
    assert!(built.success(), "cargo build -p rolling-install");
    ri
}

/// Which testbed this is: its `env` file is written once, when `up` finished, so its inode and
/// time tell this lab from an earlier one of the same name.
fn lab_identity() -> Option<String> {
    use std::os::unix::fs::MetadataExt as _;
    let out = testbed(&["status", "--json"]);
    if !out.status.success() {
        return None;
    }
    let status: Value = serde_json::from_slice(&out.stdout).ok()?;
    let hosts = status["hosts"].as_array()?;
    // Up, all five hosts, and HAProxy answering (a state for every server): else made anew.
    if status["phase"] != "up"
        || hosts.len() != HOSTS
        || hosts.iter().any(|h| !h["haproxy"].is_string())
    {
        return None;
    }
    let env = Path::new(status["dir"].as_str()?).join("env");
    let meta = std::fs::metadata(&env).ok()?;
    Some(format!(
        "{} {} {}",
        env.display(),
        meta.ino(),
        meta.mtime_nsec()
    ))
}

/// The lab every scenario uses: up (once, by whichever test comes first), with the packages
/// built and published. Holds the matrix's file lock while the scenario runs.
struct Lab {
    _lock: cdkit::lock::Lock,
    env: std::collections::BTreeMap<String, String>,
    ri: PathBuf,
    debs: Vec<PathBuf>,
}

fn lab() -> Lab {
    let shared = shared_dir();
    let lock = cdkit::lock::Lock::acquire(
        &shared.join("lock"),
        "rollback fault matrix",
        Duration::from_secs(1800),
    )
    .expect("the fault matrix's lock");
    let marker = shared.join("lab");
    let debs_dir = shared.join("debs");
    let versions = [
        (OLD, None),
        (NEW, None),
        ("2.1-1", Some("health")),
        ("2.2-1", Some("postinst")),
    ];
    let debs: Vec<PathBuf> = versions
        .iter()
        .map(|(v, _)| debs_dir.join(format!("hello-service_{v}_all.deb")))
        .collect();
    let current = lab_identity();
    let known = std::fs::read_to_string(&marker).ok();
    if current.is_none() || current != known {
        // No lab, a broken one, or one this matrix did not prepare: start from nothing.
        let _ = std::fs::remove_file(&marker);
        cdkit_testkit::testbed::up_fresh(LAB, HOSTS, true);
        let _ = std::fs::remove_dir_all(&debs_dir);
        std::fs::create_dir_all(&debs_dir).unwrap();
        for (version, broken) in versions {
            cdkit_testkit::hello::build_hello_service(version, broken, &debs_dir);
        }
        for suite in ["testing", "production"] {
            cdkit_testkit::testbed::publish(LAB, suite, &debs);
        }
        let identity = lab_identity().expect("the lab just brought up");
        std::fs::write(&marker, identity).expect("the lab's marker");
    }
    let env = must(testbed(&["run", "--", "env"]), "the lab's variables")
        .lines()
        .filter_map(|l| l.split_once('='))
        .filter(|(k, _)| k.starts_with("CDKIT_TESTBED"))
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    Lab {
        _lock: lock,
        env,
        ri: rolling_install(),
        debs,
    }
}

/// The lab, the packages, the binaries and this scenario's own scratch directory.
struct Matrix {
    lab: Lab,
    dir: tempfile::TempDir,
    runs: usize,
    /// Every JUnit report a run was asked for, validated at the end (a killed run has none).
    reports: Vec<PathBuf>,
}

/// A tool run: its exit code (`None`: killed by the signal in `signal`), stderr and stdout.
struct Run {
    code: Option<i32>,
    signal: Option<i32>,
    stderr: String,
    stdout: String,
}

impl Run {
    fn from(out: Output) -> Run {
        Run {
            code: out.status.code(),
            signal: out.status.signal(),
            stderr: text(&out.stderr),
            stdout: text(&out.stdout),
        }
    }

    fn code(&self) -> String {
        match (self.code, self.signal) {
            (Some(c), _) => c.to_string(),
            (None, Some(s)) => format!("killed ({s})"),
            (None, None) => "?".into(),
        }
    }
}

impl Matrix {
    /// The lab in the scenario's starting state (see `reset`).
    fn new() -> Matrix {
        let mut m = Matrix {
            lab: lab(),
            dir: tempfile::tempdir().unwrap(),
            runs: 0,
            reports: Vec::new(),
        };
        m.reset();
        m
    }

    fn var(&self, name: &str) -> String {
        self.lab
            .env
            .get(name)
            .cloned()
            .unwrap_or_else(|| panic!("the lab does not set {name}"))
    }

    fn publish(&self, suite: &str) {
        cdkit_testkit::testbed::publish(LAB, suite, &self.lab.debs);
    }

    /// Undo whatever an earlier scenario (failed or not) may have left: hosts cut off or
    /// powered off, the admin socket hidden, held packages, failure markers, a deployment lock
    /// of a killed run, the production suite without the new version, hosts on another
    /// version or out of rotation. Then every host is on 1.0-1 and `UP`.
    fn reset(&mut self) {
        let status: Value =
            serde_json::from_str(&must(testbed(&["status", "--json"]), "status")).unwrap();
        for h in status["hosts"].as_array().expect("hosts") {
            if h["power"] != "on" || h["link"] != "up" {
                let name = h["name"].as_str().unwrap_or("?");
                must(testbed(&["heal-host", name]), &format!("heal {name}"));
            }
        }
        let socket = PathBuf::from(self.var("CDKIT_TESTBED_HAPROXY_SOCKET"));
        let hidden = socket.with_extension("sock.gone");
        if hidden.exists() {
            std::fs::rename(&hidden, &socket).expect("bring the admin socket back");
        }
        let lock = rolling_install::deploy_lock::lock_dir("all");
        let script = format!(
            "apt-mark unhold hello-service >/dev/null 2>&1; \
             rm -rf /etc/cdkit-fail-postinst /run/cdkit-flap {lock}"
        );
        for (i, out) in on_every_host(&["sh", "-c", &script])
            .into_iter()
            .enumerate()
        {
            must(out, &format!("clean-up on h{}", i + 1));
        }
        self.publish("production");
        if versions().iter().any(|v| v != OLD) {
            let reset = self.file("reset", "json");
            let run = self.ri(OLD, &reset, &["--batch", "100%"]);
            assert_eq!(run.code, Some(0), "reset to {OLD}: {}", run.stderr);
        }
        let backend = self.var("CDKIT_TESTBED_HAPROXY_BACKEND");
        for (i, state) in haproxy_states().iter().enumerate() {
            if state != "UP" {
                let answer = haproxy_command(
                    &socket,
                    &format!("set server {backend}/h{} state ready", i + 1),
                );
                assert!(answer.trim().is_empty(), "HAProxy: {answer}");
            }
        }
        wait_for("every host UP", Duration::from_secs(30), || {
            haproxy_states().iter().all(|s| s == "UP")
        });
        let v = versions();
        assert!(v.iter().all(|v| v == OLD), "not all on {OLD}: {v:?}");
        self.reports.clear();
    }

    /// A fresh file name in the scratch directory (`rec-3.json`, …).
    fn file(&mut self, stem: &str, ext: &str) -> PathBuf {
        self.runs += 1;
        self.dir.path().join(format!("{stem}-{}.{ext}", self.runs))
    }

    /// `BINARY FLAGS "$@"` inside the lab (flags are shell words; the lab's variables expand).
    fn in_lab(binary: &Path, flags: &str, extra: &[&str]) -> Command {
        let mut cmd = cdkit_testkit::testbed::in_lab(LAB, binary, flags);
        cmd.args(extra)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        cmd
    }

    /// rolling-install of `version` with a record at `record` (health flags from `health`).
    fn ri_command(
        &mut self,
        version: &str,
        record: &Path,
        health: &str,
        extra: &[&str],
    ) -> Command {
        let junit = self.file("ri", "xml");
        self.reports.push(junit.clone());
        let flags = format!(
            "--inventory \"$CDKIT_TESTBED_INVENTORY\" --group all --ssh-config \"$CDKIT_TESTBED_SSH_CONFIG\" \
             --package hello-service --version {version} \
             --lb \"haproxy:$CDKIT_TESTBED_HAPROXY_SOCKET:$CDKIT_TESTBED_HAPROXY_BACKEND\" {health} \
             --connect-timeout 3s --ready-timeout 10s --lock-timeout 2s --progress plain \
             --record {} --junit {}",
            record.display(),
            junit.display()
        );
        Matrix::in_lab(&self.lab.ri, &flags, extra)
    }

    fn ri(&mut self, version: &str, record: &Path, extra: &[&str]) -> Run {
        let out = self
            .ri_command(version, record, HEALTH, extra)
            .output()
            .unwrap();
        Run::from(out)
    }

    /// `rollback FLAGS` with the lab's ssh config and the health check; its JUnit (unless
    /// `extra` names one) is checked at the end.
    fn rb_command(&mut self, extra: &[&str]) -> (Command, PathBuf) {
        let junit = self.file("rb", "xml");
        // Canary, then two at a time, unless the scenario says otherwise.
        let batch = if extra.contains(&"--batch") {
            ""
        } else {
            "--batch 1,2"
        };
        let report = if extra.contains(&"--junit") {
            String::new()
        } else {
            self.reports.push(junit.clone());
            format!("--junit {}", junit.display())
        };
        let flags = format!(
            "--ssh-config \"$CDKIT_TESTBED_SSH_CONFIG\" {HEALTH} --connect-timeout 3s \
             --ready-timeout 10s {batch} --progress plain {report}"
        );
        (Matrix::in_lab(Path::new(ROLLBACK), &flags, extra), junit)
    }

    fn rb(&mut self, extra: &[&str]) -> Run {
        let (mut cmd, _) = self.rb_command(extra);
        Run::from(cmd.output().unwrap())
    }
}

/// One command on HAProxy's admin socket (the lab's socket is a file this process can open).
fn haproxy_command(socket: &Path, command: &str) -> String {
    let mut stream = std::os::unix::net::UnixStream::connect(socket).expect("the admin socket");
    stream
        .write_all(format!("{command}\n").as_bytes())
        .expect("write to the admin socket");
    let mut answer = String::new();
    stream
        .read_to_string(&mut answer)
        .expect("read the admin socket");
    answer
}

/// The installed hello-service version on every host: `VERSION` when dpkg says it is
/// installed, `STATUS VERSION` when not (half-configured, config-files, …: on no version),
/// "" when it has none or the host cannot be asked.
fn versions() -> Vec<String> {
    on_every_host(&[
        "dpkg-query",
        "-W",
        "-f=${db:Status-Status} ${Version}",
        "hello-service",
    ])
    .iter()
    .map(|out| {
        let shown = text(&out.stdout).trim().to_string();
        match shown.split_once(' ') {
            Some(("installed", version)) => version.to_string(),
            _ => shown,
        }
    })
    .collect()
}

/// `command` on every host at once (`scripts/testbed exec`, one ssh each), in host order.
fn on_every_host(command: &[&str]) -> Vec<Output> {
    let runs: Vec<Child> = (1..=HOSTS)
        .map(|i| {
            Command::new(root().join("scripts/testbed"))
                .args(["exec", "--name", LAB, &format!("h{i}")])
                .args(command)
                .stdout(Stdio::piped())
                .stderr(Stdio::piped())
                .spawn()
                .expect("scripts/testbed exec")
        })
        .collect();
    runs.into_iter()
        .map(|run| run.wait_with_output().expect("a command on a host"))
        .collect()
}

fn haproxy_states() -> Vec<String> {
    cdkit_testkit::testbed::haproxy_states(LAB)
}

fn exec(host: &str, script: &str) -> Output {
    testbed(&["exec", host, "sh", "-c", script])
}

fn journal(path: &Path) -> Value {
    serde_json::from_slice(&std::fs::read(path).expect("the record")).expect("JSON record")
}

/// Wait until `done` holds (checked every 100 ms), at most `limit`.
fn wait_for(what: &str, limit: Duration, mut done: impl FnMut() -> bool) {
    let start = Instant::now();
    while !done() {
        assert!(start.elapsed() < limit, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// The record at `path`, if it can be read yet (a run rewrites it atomically).
fn try_journal(path: &Path) -> Option<Value> {
    serde_json::from_slice(&std::fs::read(path).ok()?).ok()
}

/// Whether `host`'s record in the journal at `path` has a step after the first `after` that
/// starts with `prefix`.
fn has_step(path: &Path, host: usize, prefix: &str, after: usize) -> bool {
    try_journal(path).is_some_and(|j| {
        j["hosts"][host]["steps"].as_array().is_some_and(|s| {
            s.iter()
                .skip(after)
                .any(|st| st["step"].as_str().unwrap_or("").starts_with(prefix))
        })
    })
}

/// The problem, if `host`'s record has no step starting with one of `prefixes` that failed
/// (`ok: false`): the proof that a fault landed where the scenario says.
fn failed_step(j: &Value, host: usize, prefixes: &[&str]) -> Option<String> {
    let steps = j["hosts"][host]["steps"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    let failed = steps.iter().any(|st| {
        let name = st["step"].as_str().unwrap_or("");
        st["ok"] == false && prefixes.iter().any(|p| name.starts_with(p))
    });
    (!failed).then(|| {
        let seen: Vec<String> = steps
            .iter()
            .map(|st| format!("{} ok={}", st["step"], st["ok"]))
            .collect();
        format!(
            "h{}'s journal has no failed {} step: {seen:?}",
            host + 1,
            prefixes.join("/")
        )
    })
}

fn steps_of(path: &Path) -> Vec<usize> {
    let j = journal(path);
    j["hosts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|h| h["steps"].as_array().map_or(0, Vec::len))
        .collect()
}

/// The pid of the `tool` process whose command line contains `marker` (this run's unique
/// record or report path), so only that process is signalled.
fn pid_of(tool: &str, marker: &str) -> Option<i32> {
    for entry in std::fs::read_dir("/proc").ok()?.flatten() {
        let Ok(pid) = entry.file_name().to_string_lossy().parse::<i32>() else {
            continue;
        };
        let comm = std::fs::read_to_string(entry.path().join("comm")).unwrap_or_default();
        let cmdline = std::fs::read(entry.path().join("cmdline")).unwrap_or_default();
        if comm.trim() == tool && text(&cmdline).contains(marker) {
            return Some(pid);
        }
    }
    None
}

fn signal(tool: &str, marker: &str, sig: &str) {
    let pid = pid_of(tool, marker).unwrap_or_else(|| panic!("no {tool} process for {marker}"));
    let ok = Command::new("kill")
        .args([&format!("-{sig}"), &pid.to_string()])
        .status()
        .unwrap()
        .success();
    assert!(ok, "kill -{sig} {pid}");
}

fn finish(child: Child) -> Run {
    Run::from(child.wait_with_output().unwrap())
}

/// The end-state checks every scenario shares. `records` are the journals involved; every
/// host they name must be where its record says (restored → its previous version, never
/// reached → untouched), and out of no balancer.
fn end_state(records: &[&Path]) -> Vec<String> {
    let mut problems = Vec::new();
    let mut states = haproxy_states();
    let start = Instant::now();
    while states.iter().any(|s| s != "UP") && start.elapsed() < Duration::from_secs(20) {
        std::thread::sleep(Duration::from_millis(250));
        states = haproxy_states();
    }
    if states.iter().any(|s| s != "UP") {
        problems.push(format!("not all UP in HAProxy: {states:?}"));
    }
    let versions = versions();
    if versions.iter().any(|v| v != OLD && v != NEW) {
        problems.push(format!("a host on neither {OLD} nor {NEW}: {versions:?}"));
    }
    if versions.iter().any(|v| v != OLD) {
        problems.push(format!("not every host back on {OLD}: {versions:?}"));
    }
    for path in records {
        let j = journal(path);
        for (i, h) in j["hosts"].as_array().unwrap().iter().enumerate() {
            let name = h["name"].as_str().unwrap_or("?");
            let state = h["state"].as_str().unwrap_or("?");
            let recorded = h["recorded"].as_bool() == Some(true);
            let previous = h["previous_version"].as_str().unwrap_or("");
            let drained = h["drained"].as_array().map_or(0, Vec::len);
            if drained > 0 {
                problems.push(format!(
                    "{}: {name} still drained in the journal",
                    path.display()
                ));
            }
            let consistent = match (recorded, state) {
                // Never changed by the run (its turn never came, or found it unreachable).
                (false, _) => versions[i] == OLD,
                (true, "restored") => versions[i] == previous,
                (true, "installed") => versions[i] == j["version"].as_str().unwrap_or(""),
                _ => false,
            };
            if !consistent {
                problems.push(format!(
                    "{}: {name} is {state} (recorded {recorded}, previous {previous}) but on {:?}",
                    path.file_name().unwrap().to_string_lossy(),
                    versions[i]
                ));
            }
        }
    }
    problems
}

/// What a scenario observed: its row of the summary table, and what was wrong.
struct Row {
    expected: String,
    observed: String,
    problems: Vec<String>,
}

fn row(expected: &str, observed: String, mut problems: Vec<String>, records: &[&Path]) -> Row {
    problems.extend(end_state(records));
    Row {
        expected: expected.to_string(),
        observed,
        problems,
    }
}

fn expect_code(problems: &mut Vec<String>, what: &str, run: &Run, want: Option<i32>) {
    if run.code != want {
        problems.push(format!(
            "{what} exited {} (expected {}): {}",
            run.code(),
            want.map_or("a signal".into(), |c| c.to_string()),
            run.stderr
                .lines()
                .rev()
                .take(3)
                .collect::<Vec<_>>()
                .join(" | ")
        ));
    }
}

/// A run that must have been killed by SIGKILL (not merely "no exit code").
fn expect_sigkill(problems: &mut Vec<String>, what: &str, run: &Run) {
    if run.code.is_some() || run.signal != Some(9) {
        problems.push(format!(
            "{what} ended {} (exit {:?}, signal {:?}); expected killed by signal 9",
            run.code(),
            run.code,
            run.signal
        ));
    }
}

/// rolling-install of the new version in the background, handed back once the journal shows
/// `step` for host index `host`: the moment a scenario injects its fault.
fn mid_run(
    m: &mut Matrix,
    rec: &Path,
    health: &str,
    flags: &[&str],
    host: usize,
    step: &str,
) -> Child {
    let child = m.ri_command(NEW, rec, health, flags).spawn().unwrap();
    wait_for(
        &format!("h{}'s {step}", host + 1),
        Duration::from_secs(60),
        || has_step(rec, host, step, 0),
    );
    child
}

/// The end of a scenario that rolling-install finishes alone (it restores, exits `want`).
fn alone(ri: &Run, want: i32, mut p: Vec<String>, rec: &Path) -> Row {
    expect_code(&mut p, "rolling-install", ri, Some(want));
    row(
        &format!("ri {want}"),
        format!("ri {}", ri.code()),
        p,
        &[rec],
    )
}

/// The end of a scenario that rolling-install cannot repair (exit `want`): once the fault is
/// gone, `rollback --record` returns every host (exit 0).
fn then_rollback(m: &mut Matrix, ri: &Run, want: i32, mut p: Vec<String>, rec: &Path) -> Row {
    expect_code(&mut p, "rolling-install", ri, Some(want));
    if want == 3 && !ri.stderr.contains("rollback --record") {
        p.push("exit 3 without the rollback command".into());
    }
    let rb = m.rb(&["--record", rec.to_str().unwrap()]);
    expect_code(&mut p, "rollback", &rb, Some(0));
    let observed = format!("ri {}, rollback {}", ri.code(), rb.code());
    row(&format!("ri {want}, rollback 0"), observed, p, &[rec])
}

/// Run scenario `n` on the shared lab, from the starting state: its row goes to the table
/// (also when it panics), its JUnit reports are validated, and the test fails on any problem.
fn scenario(n: u32, name: &str, body: fn(&mut Matrix) -> Row) {
    let clock = Instant::now();
    let ran = std::panic::catch_unwind(AssertUnwindSafe(|| {
        let mut m = Matrix::new();
        let started = Instant::now();
        let mut row = body(&mut m);
        let written: Vec<&PathBuf> = m.reports.iter().filter(|r| r.exists()).collect();
        if written.is_empty() {
            row.problems.push("no run wrote a JUnit report".into());
        }
        for report in written {
            cdkit_testkit::assert_valid_junit(report);
        }
        (row, started.elapsed())
    }));
    let (row, time) = match ran {
        Ok(done) => done,
        Err(e) => {
            let message = e
                .downcast_ref::<String>()
                .cloned()
                .or_else(|| e.downcast_ref::<&str>().map(|s| s.to_string()))
                .unwrap_or_default();
            let row = Row {
                expected: "-".into(),
                observed: "panicked".into(),
                problems: vec![message],
            };
            (row, clock.elapsed())
        }
    };
    let result = if row.problems.is_empty() {
        "ok".to_string()
    } else {
        format!("FAILED: {}", row.problems.join("; "))
    };
    let one_line = |s: &str| s.replace(['\t', '\n', '\r'], " ");
    let line = format!(
        "{n}\t{name}\t{}\t{}\t{:.1}\t{}\n",
        one_line(&row.expected),
        one_line(&row.observed),
        time.as_secs_f64(),
        one_line(&result).chars().take(400).collect::<String>()
    );
    print!("scenario {line}");
    if let Ok(dir) = std::env::var("CDKIT_TEST_REPORTS") {
        std::fs::create_dir_all(&dir).expect("CDKIT_TEST_REPORTS");
        let mut table = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(Path::new(&dir).join(TABLE))
            .expect("the fault matrix's table");
        table
            .write_all(line.as_bytes())
            .expect("a row of the table");
    }
    assert!(
        row.problems.is_empty(),
        "scenario {n} ({name}) failed:\n{}",
        row.problems.join("\n")
    );
}

/// Scenario 1: the canary's install fails (the package is held on h1): it is restored, nobody
/// else is touched, exit 1.
fn install_fails_on_the_canary(m: &mut Matrix) -> Row {
    must(exec("h1", "apt-mark hold hello-service"), "hold on h1");
    let rec = m.file("rec", "json");
    let ri = m.ri(NEW, &rec, &["--batch", "1,2"]);
    must(exec("h1", "apt-mark unhold hello-service"), "unhold on h1");
    let j = journal(&rec);
    let mut p = Vec::new();
    if j["hosts"][0]["state"] != "restored" || j["hosts"][1]["recorded"] != false {
        p.push(format!(
            "journal: only h1 touched and restored: {}",
            j["hosts"]
        ));
    }
    p.extend(failed_step(&j, 0, &[&format!("install {NEW}")]));
    alone(&ri, 1, p, &rec)
}

/// Scenario 2: the postinst fails on host 3 of 5 (batch 1): hosts 3, 2, 1 restored, exit 1.
fn postinst_fails_on_host_3(m: &mut Matrix) -> Row {
    must(exec("h3", "touch /etc/cdkit-fail-postinst"), "mark h3");
    let rec = m.file("rec", "json");
    let ri = m.ri("2.2-1", &rec, &["--batch", "1"]);
    must(exec("h3", "rm /etc/cdkit-fail-postinst"), "unmark h3");
    let j = journal(&rec);
    let states: Vec<&str> = (0..HOSTS)
        .map(|i| j["hosts"][i]["state"].as_str().unwrap_or(""))
        .collect();
    let mut p = Vec::new();
    if states != ["restored", "restored", "restored", "pending", "pending"] {
        p.push(format!("journal states {states:?}"));
    }
    p.extend(failed_step(&j, 2, &["install 2.2-1"]));
    alone(&ri, 1, p, &rec)
}

/// Scenario 3: the health check fails after the install (2.1 answers 503): canary restored,
/// exit 1; the canary's journal shows the failed health step.
fn health_check_fails(m: &mut Matrix) -> Row {
    let rec = m.file("rec", "json");
    let ri = m.ri("2.1-1", &rec, &["--batch", "1,2"]);
    let p = failed_step(&journal(&rec), 0, &["health"])
        .into_iter()
        .collect();
    alone(&ri, 1, p, &rec)
}

/// Scenario 4: the health check flaps: the new version passes once, then fails within
/// --min-healthy.
fn health_check_flaps(m: &mut Matrix) -> Row {
    let rec = m.file("rec", "json");
    let flap = "--health-cmd 'test {version} != 2.0-1 || { n=$(cat /run/cdkit-flap 2>/dev/null || echo 0); \
                echo $((n+1)) > /run/cdkit-flap; test \"$n\" -lt 1; }' \
                --health-retries 2 --health-interval 500ms --min-healthy 2s";
    let out = m
        .ri_command(NEW, &rec, flap, &["--batch", "1,2"])
        .output()
        .unwrap();
    let ri = Run::from(out);
    let _ = exec("h1", "rm -f /run/cdkit-flap");
    let mut p = Vec::new();
    if !ri.stderr.contains("within --min-healthy") {
        p.push("the failure does not name --min-healthy".into());
    }
    p.extend(failed_step(&journal(&rec), 0, &["health"]));
    alone(&ri, 1, p, &rec)
}

/// Scenario 5: a host is cut off before its turn: h4 loses its link once the canary (h1) is
/// done, while h2 and h3 are under way; its turn fails (unreachable, nothing changed on it),
/// every touched host is restored, exit 1; healed, it is back in rotation on its old version.
fn host_cut_before_its_turn(m: &mut Matrix) -> Row {
    let rec = m.file("rec", "json");
    let mut child = m
        .ri_command(NEW, &rec, HEALTH, &["--batch", "1,2"])
        .spawn()
        .unwrap();
    wait_for("the canary h1 done", Duration::from_secs(60), || {
        try_journal(&rec).is_some_and(|j| {
            j["hosts"][0]["state"] != "pending" && j["hosts"][0]["state"] != "in-progress"
        })
    });
    let mut p = Vec::new();
    let before = journal(&rec);
    if before["hosts"][3]["recorded"] != false || before["hosts"][0]["state"] != "installed" {
        p.push(format!(
            "at the cut, h1 is not installed or h4's turn has begun: {}",
            before["hosts"]
        ));
    }
    let cut = testbed(&["cut-host", "h4"]);
    if !cut.status.success() {
        let _ = child.kill();
    }
    must(cut, "cut h4");
    let ri = finish(child);
    must(testbed(&["heal-host", "h4"]), "heal h4");
    let h4 = &journal(&rec)["hosts"][3];
    if h4["state"] != "unreachable" || h4["recorded"] != false {
        p.push(format!(
            "h4 ended {} (recorded {}), expected unreachable and not recorded",
            h4["state"], h4["recorded"]
        ));
    }
    alone(&ri, 1, p, &rec)
}

/// Scenario 6: a host is cut off during its install: it cannot be restored (exit 3, naming the
/// rollback command; it is held in MAINT); healed, `rollback --record` returns it (exit 0).
fn host_cut_during_install(m: &mut Matrix) -> Row {
    let rec = m.file("rec", "json");
    let child = mid_run(m, &rec, HEALTH, &["--batch", "1"], 1, "drain");
    must(testbed(&["cut-host", "h2"]), "cut h2");
    let ri = finish(child);
    let mut p = Vec::new();
    let held = haproxy_states()[1].clone();
    if !held.starts_with("MAINT") {
        p.push(format!("h2 is {held} in HAProxy, not held out (MAINT)"));
    }
    p.extend(failed_step(&journal(&rec), 1, &[&format!("install {NEW}")]));
    must(testbed(&["heal-host", "h2"]), "heal h2");
    then_rollback(m, &ri, 3, p, &rec)
}

/// Scenario 7: sshd is stopped and every sshd process killed on a host while its health check
/// runs there: the check fails and the host cannot be restored (exit 3); once the host is
/// rebooted (sshd starts again), `rollback --record` returns it (exit 0).
fn sshd_killed_mid_run(m: &mut Matrix) -> Row {
    let rec = m.file("rec", "json");
    let slow =
        "--health-cmd 'sleep 2; curl -fsS http://127.0.0.1:8080/health | grep -q {version}' \
                --health-retries 0";
    let child = mid_run(m, &rec, slow, &["--batch", "1"], 1, "install");
    std::thread::sleep(Duration::from_millis(700));
    // The kill also ends this ssh session: its own status does not matter.
    let _ = exec("h2", "systemctl stop ssh.service; pkill -KILL -x sshd");
    let ri = finish(child);
    let p = failed_step(&journal(&rec), 1, &["health", &format!("install {OLD}")])
        .into_iter()
        .collect();
    must(testbed(&["kill-host", "h2"]), "power h2 off");
    must(testbed(&["heal-host", "h2"]), "boot h2");
    then_rollback(m, &ri, 3, p, &rec)
}

/// Scenario 8: HAProxy's admin socket disappears mid-run: nothing can be put back in rotation
/// (exit 3); once it is back, `rollback --record` returns every host (exit 0).
fn admin_socket_disappears(m: &mut Matrix) -> Row {
    let socket = PathBuf::from(m.var("CDKIT_TESTBED_HAPROXY_SOCKET"));
    let hidden = socket.with_extension("sock.gone");
    let rec = m.file("rec", "json");
    let child = mid_run(m, &rec, HEALTH, &["--batch", "1"], 1, "drain");
    std::fs::rename(&socket, &hidden).expect("hide the admin socket");
    let ri = finish(child);
    std::fs::rename(&hidden, &socket).expect("bring the admin socket back");
    then_rollback(m, &ri, 3, Vec::new(), &rec)
}

/// Scenario 9: SIGTERM to rolling-install mid-batch: the hosts in flight finish, are restored,
/// exit 143.
fn sigterm_mid_batch(m: &mut Matrix) -> Row {
    let rec = m.file("rec", "json");
    let child = mid_run(m, &rec, HEALTH, &["--batch", "2"], 0, "drain");
    signal("rolling-install", rec.to_str().unwrap(), "TERM");
    let ri = finish(child);
    alone(&ri, 143, Vec::new(), &rec)
}

/// Scenario 10: SIGKILL to rolling-install mid-batch (hosts drained, the lock left behind), then
/// `rollback --record` takes over the dead run's lock and restores everything; with --repo it
/// also re-points the production suite (fresh Release date, newer versions gone). The rollback
/// logs JSON (`--log-format json`): every line carries the run id, host lines their host and
/// step, and the repository step its own progress lines.
fn sigkill_then_rollback(m: &mut Matrix) -> Row {
    let rec = m.file("rec", "json");
    let repo = m.var("CDKIT_TESTBED_REPO");
    let release = Path::new(&repo).join("dists/production/Release");
    let before = std::fs::read_to_string(&release).unwrap_or_default();
    // The run holds its lock on h2 (--lock-host), so the rollback must find it there through
    // the record, not on the first host.
    let flags = ["--batch", "2", "--lock-host", "h2"];
    let child = mid_run(m, &rec, HEALTH, &flags, 2, "drain");
    signal("rolling-install", rec.to_str().unwrap(), "KILL");
    let ri = finish(child);
    let mut p = Vec::new();
    expect_sigkill(&mut p, "rolling-install", &ri);
    let drained = journal(&rec)["hosts"][2]["drained"]
        .as_array()
        .map_or(0, Vec::len);
    if drained == 0 {
        p.push("the killed run's record does not show h3 drained".into());
    }
    if journal(&rec)["lock_host"]["name"] != "h2" {
        p.push("the killed run's record does not name its lock host h2".into());
    }
    let record = rec.to_str().unwrap();
    let with_repo = ["--record", record, "--repo", &repo, "--suite", "production"];
    // The plan names the suite's change and the key that will sign it (the lab's).
    let dry = m.rb(&[&with_repo[..], &["--dry-run"]].concat());
    expect_code(&mut p, "rollback --dry-run", &dry, Some(0));
    let key = m.var("CDKIT_TESTBED_SIGN_KEY");
    if !dry.stdout.contains("suite production: remove ")
        || !dry.stdout.contains(&format!("hello-service={NEW}"))
        || !dry.stdout.contains(&format!("signed with key {key}"))
    {
        p.push(format!(
            "the dry run does not show the suite's change and key: {}",
            dry.stdout
        ));
    }
    let rb = m.rb(&[&with_repo[..], &["--log-format", "json"]].concat());
    expect_code(&mut p, "rollback", &rb, Some(0));
    p.extend(json_log_problems(&rb.stderr));
    if !rb.stderr.contains("taking over the deployment lock") {
        p.push("rollback did not say it took over the dead run's lock".into());
    }
    let after = std::fs::read_to_string(&release).unwrap_or_default();
    let date = |r: &str| {
        r.lines()
            .find(|l| l.starts_with("Date:"))
            .map(str::to_string)
    };
    if date(&before) == date(&after) {
        p.push("the production suite's Release Date did not change".into());
    }
    // Read with publish-repo's own state reader (the library rollback changed it with).
    let listed: Vec<String> = publish_repo::state::load(Path::new(&repo), "production")
        .map(|st| {
            st.entries
                .into_iter()
                .filter(|e| e.package == "hello-service")
                .map(|e| e.version)
                .collect()
        })
        .unwrap_or_default();
    if listed.iter().any(|v| v == NEW) || !listed.iter().any(|v| v == OLD) {
        p.push(format!(
            "production still lists {NEW} or lost {OLD}: {listed:?}"
        ));
    }
    // h5 is a production host: apt now offers the old version as the newest.
    let policy = text(
        &exec(
            "h5",
            "apt-get -q update >/dev/null && apt-cache policy hello-service",
        )
        .stdout,
    );
    if !policy.contains(&format!("Candidate: {OLD}")) {
        p.push(format!("h5's candidate is not {OLD}: {policy}"));
    }
    m.publish("production");
    row(
        "ri killed (9), rollback 0",
        format!("ri {}, rollback {}", ri.code(), rb.code()),
        p,
        &[&rec],
    )
}

/// Scenario 11: `rollback` itself interrupted, twice: SIGTERM while the canary of the way back
/// (h5) is in flight (it finishes, nothing else starts, exit 143), then SIGKILL once h4 is
/// drained; the re-run finishes (h4 goes back in rotation), and one more run changes nothing.
fn rollback_interrupted_and_rerun(m: &mut Matrix) -> Row {
    let rec = m.file("rec", "json");
    let ri = m.ri(NEW, &rec, &["--batch", "1,4"]);
    let mut p = Vec::new();
    expect_code(&mut p, "rolling-install", &ri, Some(0));
    let before = steps_of(&rec);
    let record = rec.to_str().unwrap().to_string();
    let interrupted = |m: &mut Matrix, host: usize, sig: &str| -> Run {
        let (mut cmd, _) = m.rb_command(&["--record", &record, "--batch", "1"]);
        let child = cmd.spawn().unwrap();
        wait_for(
            &format!("h{}'s drain by rollback", host + 1),
            Duration::from_secs(60),
            || has_step(&rec, host, "drain", before[host]),
        );
        signal("rollback", &record, sig);
        finish(child)
    };
    // Newest first: h5, then h4.
    let termed = interrupted(m, 4, "TERM");
    expect_code(&mut p, "rollback (SIGTERM)", &termed, Some(143));
    let after_term = versions();
    if after_term[4] != OLD || after_term[..4].iter().any(|v| v != NEW) {
        p.push(format!(
            "after SIGTERM: h5 finished, nobody else started? {after_term:?}"
        ));
    }
    let killed = interrupted(m, 3, "KILL");
    expect_sigkill(&mut p, "rollback (SIGKILL)", &killed);
    let second = m.rb(&["--record", &record]);
    expect_code(&mut p, "re-run rollback", &second, Some(0));
    let settled = steps_of(&rec);
    // One more run, whose report cannot be written: it changes nothing, says so in the log,
    // and its exit code is still the run's (0), not "bad input".
    let not_a_dir = m.file("not-a-directory", "txt");
    std::fs::write(&not_a_dir, "").unwrap();
    let unwritable = not_a_dir.join("rb.xml");
    let third = m.rb(&["--record", &record, "--junit", unwritable.to_str().unwrap()]);
    expect_code(&mut p, "another rollback", &third, Some(0));
    if !third.stderr.contains("cannot write the JUnit report") {
        p.push(format!(
            "the unwritable report is not logged: {}",
            third.stderr
        ));
    }
    if steps_of(&rec) != settled {
        p.push("the last rollback changed something".into());
    }
    let notes = journal(&rec)["rollbacks"].as_array().map_or(0, Vec::len);
    if notes != 4 {
        p.push(format!("{notes} rollback notes in the record, expected 4"));
    }
    row(
        "143, killed (9), re-run 0, again 0",
        format!(
            "{}, {}, re-run {}, again {}",
            termed.code(),
            killed.code(),
            second.code(),
            third.code()
        ),
        p,
        &[&rec],
    )
}

/// Scenario 12: a release that applied database migrations (`db-migrate up --release 2.0-1`)
/// and was rolled out, then hurts. First the explicit form: `--dry-run` shows hosts and
/// migrations and changes nothing; the run returns the hosts and reverts the release's
/// migrations with the down SQL stored at apply time (the old release's files no longer
/// include them). Then the same release again, returned with `rollback --record` of its
/// rolling-install run and `--database-url`: the record follows the hosts (`restored`). Each
/// rollback's JUnit has one testcase per host and one per reverted migration.
fn migration_and_hosts_rolled_back(m: &mut Matrix) -> Row {
    let mut p = Vec::new();
    let url = format!("sqlite:{}", m.dir.path().join("app.db").display());
    let files = m.dir.path().join("migrations-2.0");
    release_migrations(&url, &files, true);
    let rec = m.file("rec", "json");
    let ri = m.ri(NEW, &rec, &["--batch", "1,4"]);
    expect_code(&mut p, "rolling-install", &ri, Some(0));

    let journal_file = m.file("journal", "json");
    let inventory = m.var("CDKIT_TESTBED_INVENTORY");
    let explicit = [
        "--inventory",
        &inventory,
        "--group",
        "all",
        "--package",
        "hello-service",
        "--to-version",
        OLD,
        "--database-url",
        &url,
        "--journal",
        journal_file.to_str().unwrap(),
    ];
    let mut args: Vec<&str> = explicit.to_vec();
    args.push("--dry-run");
    let dry = m.rb(&args);
    expect_code(&mut p, "rollback --dry-run", &dry, Some(0));
    if !dry.stdout.contains("0003_seed_greetings") || !dry.stdout.contains("2.0-1 -> 1.0-1") {
        p.push(format!(
            "the dry run does not show the plan: {}",
            dry.stdout
        ));
    }
    // Over part of the group the lock is still the group's, on its first host (h1), where a
    // rollout of the whole group takes it.
    let part = m.rb(&[&args[..], &["--hosts", "h3,h4"]].concat());
    expect_code(&mut p, "rollback --dry-run --hosts h3,h4", &part, Some(0));
    if !part.stdout.contains("lock on h1:") {
        p.push(format!(
            "the dry run over h3,h4 does not lock on the group's first host: {}",
            part.stdout
        ));
    }
    if versions().iter().any(|v| v != NEW)
        || db_migrate::current_version(&url).ok() != Some(Some(3))
    {
        p.push("the dry run changed something".into());
    }
    args.pop();
    let (mut cmd, junit) = m.rb_command(&args);
    let rb = Run::from(cmd.output().unwrap());
    expect_code(&mut p, "rollback", &rb, Some(0));
    let now = db_migrate::current_version(&url).ok().flatten();
    if now != Some(1) {
        p.push(format!("database at {now:?}, expected 1"));
    }
    let history = db_migrate::history(&url).unwrap_or_default();
    if history.iter().any(|a| a.version > 1) {
        p.push("the history still lists 2.0's migrations".into());
    }
    p.extend(junit_problems(&junit, &["0002", "0003"]));
    p.extend(end_state(&[&journal_file]));

    // The same release once more, returned from its rolling-install record. (SQLite: the
    // tools run inside the lab's network namespace, which has no route to the PostgreSQL and
    // MariaDB test servers; db-migrate's own tests show down_to on both.)
    release_migrations(&url, &files, false);
    let rec2 = m.file("rec", "json");
    let ri2 = m.ri(NEW, &rec2, &["--batch", "1,4"]);
    expect_code(&mut p, "rolling-install again", &ri2, Some(0));
    let (mut cmd, junit2) =
        m.rb_command(&["--record", rec2.to_str().unwrap(), "--database-url", &url]);
    let rb2 = Run::from(cmd.output().unwrap());
    expect_code(&mut p, "rollback --record --database-url", &rb2, Some(0));
    if !rb2.stderr.contains("database back to version 1") {
        p.push(format!(
            "no progress line 'database back to version 1': {}",
            rb2.stderr
        ));
    }
    let now2 = db_migrate::current_version(&url).ok().flatten();
    if now2 != Some(1) {
        p.push(format!(
            "database at {now2:?} after rollback --record, expected 1"
        ));
    }
    p.extend(junit_problems(&junit2, &["0002", "0003"]));
    let restored = journal(&rec2)["hosts"]
        .as_array()
        .map_or(0, |h| h.iter().filter(|h| h["state"] == "restored").count());
    if restored != HOSTS {
        p.push(format!(
            "{restored} hosts restored in the record, expected {HOSTS}"
        ));
    }
    row(
        "rb 0, db 3 -> 1; --record: rb 0, db 3 -> 1",
        format!(
            "rb {}, db 3 -> {}; --record: rb {}, db 3 -> {}",
            rb.code(),
            now.map_or("?".into(), |v| v.to_string()),
            rb2.code(),
            now2.map_or("?".into(), |v| v.to_string())
        ),
        p,
        &[&rec2],
    )
}

/// The 2.0 release's database side: (the first time, 1.0's migration first) the example's
/// migrations applied with `--release 2.0-1`, then their files gone, as with a 1.0 package
/// that never shipped them.
fn release_migrations(url: &str, files: &Path, first: bool) {
    let _ = std::fs::remove_dir_all(files);
    assert!(Command::new("cp")
        .arg("-a")
        .arg(root().join("examples/hello-service/migrations"))
        .arg(files)
        .status()
        .unwrap()
        .success());
    let mut options = db_migrate::Options::default();
    options.dir = files.to_path_buf();
    if first {
        options.release = Some(OLD.into());
        db_migrate::up(url, Some(1), &options).expect("1.0's migration");
    }
    options.release = Some(NEW.into());
    db_migrate::up(url, None, &options).expect("2.0's migrations");
    std::fs::remove_dir_all(files).unwrap();
}

/// What is wrong with a rollback's JUnit report: one testcase per host (classname
/// `rollback.hello-service.all`, as the JUnit contract names them) and one per reverted migration (classname
/// `rollback.hello-service.database`), named after each of `migrations`.
fn junit_problems(report: &Path, migrations: &[&str]) -> Vec<String> {
    let mut p = Vec::new();
    let cases = cdkit_testkit::junit_testcases(report);
    let hosts: Vec<&str> = cases
        .iter()
        .filter(|(c, _)| c == "rollback.hello-service.all")
        .map(|(_, n)| n.as_str())
        .collect();
    let wanted: Vec<String> = (1..=HOSTS).map(|i| format!("h{i}")).collect();
    let mut sorted = hosts.clone();
    sorted.sort();
    if sorted != wanted {
        p.push(format!(
            "{}: host testcases {hosts:?}, expected one per host {wanted:?}",
            report.display()
        ));
    }
    let db: Vec<&str> = cases
        .iter()
        .filter(|(c, _)| c == "rollback.hello-service.database")
        .map(|(_, n)| n.as_str())
        .collect();
    let one_each = db.len() == migrations.len()
        && migrations
            .iter()
            .all(|m| db.iter().filter(|n| n.contains(m)).count() == 1);
    if !one_each {
        p.push(format!(
            "{}: database testcases {db:?}, expected one per reverted migration {migrations:?} \
             (all testcases: {cases:?})",
            report.display()
        ));
    }
    p
}

/// What is wrong with a `--log-format json` rollback's stderr (the logging contract): every
/// line one JSON object with the run id; host steps' lines with `host` and `step`; the
/// repository step's progress lines with `step`; h1's progress line.
fn json_log_problems(stderr: &str) -> Vec<String> {
    let mut p = Vec::new();
    let mut lines = Vec::new();
    for line in stderr.lines().filter(|l| !l.trim().is_empty()) {
        match serde_json::from_str::<Value>(line) {
            Ok(v) => lines.push(v),
            Err(_) => p.push(format!("not a JSON log line: {line}")),
        }
    }
    let has = |what: &str, test: &dyn Fn(&Value) -> bool| {
        (!lines.iter().any(test)).then(|| format!("no JSON log line {what}"))
    };
    if lines
        .iter()
        .any(|l| l["run_id"].as_str().is_none_or(str::is_empty))
    {
        p.push("a JSON log line without run_id".into());
    }
    let message = |l: &Value| l["message"].as_str().unwrap_or("").to_string();
    p.extend(has("with host and step", &|l| {
        l["host"].is_string() && l["step"].is_string()
    }));
    p.extend(has(
        "of the repository step saying it re-pointed the suite",
        &|l| l["step"] == "repository" && message(l).contains("re-pointed"),
    ));
    // h1, the killed run's canary, is among the hosts it had changed.
    p.extend(has("of progress 'h1 restored to 1.0-1'", &|l| {
        message(l).contains(&format!("h1 restored to {OLD}")) && l["progress"] == true
    }));
    p
}

/// Scenario 13: Two rollbacks at once: one returns the hosts, the other is refused with 75 naming it.
fn two_rollbacks_at_once(m: &mut Matrix) -> Row {
    let rec = m.file("rec", "json");
    let ri = m.ri(NEW, &rec, &["--batch", "1,4"]);
    let mut p = Vec::new();
    expect_code(&mut p, "rolling-install", &ri, Some(0));
    let record = rec.to_str().unwrap().to_string();
    let (mut a, a_junit) = m.rb_command(&["--record", &record, "--lock-timeout", "1s"]);
    let (mut b, b_junit) = m.rb_command(&["--record", &record, "--lock-timeout", "1s"]);
    let (a, b) = (a.spawn().unwrap(), b.spawn().unwrap());
    let (a, b) = (finish(a), finish(b));
    // Both write a report, the refused one too (validated with the others at the end).
    if !(a_junit.exists() && b_junit.exists()) {
        p.push("a rollback wrote no JUnit report".into());
    }
    let mut codes = [a.code, b.code];
    codes.sort();
    if codes != [Some(0), Some(75)] {
        p.push(format!("exit codes {codes:?}, expected one 0 and one 75"));
    }
    let loser = if a.code == Some(75) { &a } else { &b };
    if !loser.stderr.contains("held by rollback (pid") {
        p.push(format!(
            "the refused run does not name the holder: {}",
            loser.stderr
        ));
    }
    let winner = if a.code == Some(0) { &a } else { &b };
    if !winner.stderr.contains(&format!("h5 restored to {OLD}")) {
        p.push(format!(
            "no plain progress line 'h5 restored to {OLD}': {}",
            winner.stderr
        ));
    }
    row(
        "0 and 75",
        {
            // In the order of the expectation: which of the two won does not matter.
            let mut shown = [a.code(), b.code()];
            shown.sort();
            shown.join(" and ")
        },
        p,
        &[&rec],
    )
}

/// Scenario 14: a host without the package (h5, purged first) gets it from the run. `rollback
/// --record` returns the others and leaves h5 on the new version, saying so in a skipped
/// testcase; with `--remove-new` it removes it and holds h5 out of rotation (HAProxy MAINT: it
/// has nothing to serve, and `ready` would send it traffic until its checks fail). A later
/// rollout to h5 brings it back.
fn a_new_host_is_removed_only_with_remove_new(m: &mut Matrix) -> Row {
    must(exec("h5", "dpkg --purge hello-service"), "purge on h5");
    let rec = m.file("rec", "json");
    let record = rec.to_str().unwrap().to_string();
    let ri = m.ri(NEW, &rec, &["--batch", "1,4"]);
    let mut p = Vec::new();
    expect_code(&mut p, "rolling-install", &ri, Some(0));
    if journal(&rec)["hosts"][4]["previous_version"] != Value::Null {
        p.push("h5's record names a previous version".into());
    }

    let (mut cmd, junit) = m.rb_command(&["--record", &record]);
    let rb = Run::from(cmd.output().unwrap());
    expect_code(&mut p, "rollback", &rb, Some(0));
    let after_rb = versions();
    if after_rb[..4].iter().any(|v| v != OLD) || after_rb[4] != NEW {
        p.push(format!(
            "after rollback: {after_rb:?}, expected h1-h4 on {OLD}, h5 on {NEW}"
        ));
    }
    let report = std::fs::read_to_string(&junit).unwrap_or_default();
    if !report.contains("<skipped") || !report.contains("--remove-new") {
        p.push("the report has no skipped testcase naming --remove-new for h5".into());
    }

    let remove = m.rb(&["--record", &record, "--remove-new"]);
    expect_code(&mut p, "rollback --remove-new", &remove, Some(0));
    let status = text(&exec("h5", "dpkg-query -W -f='${db:Status-Status}' hello-service").stdout);
    if status.trim() == "installed" {
        p.push("h5 still has hello-service after --remove-new".into());
    }
    let h5 = haproxy_states().get(4).cloned().unwrap_or_default();
    if h5 != "MAINT" {
        p.push(format!("h5 is {h5} in HAProxy, not held out (MAINT)"));
    }
    // A rollout to h5 alone puts it back: installed, healthy, UP.
    let back = m.file("rec", "json");
    let again = m.ri(OLD, &back, &["--hosts", "h5", "--batch", "1"]);
    expect_code(&mut p, "rolling-install to h5", &again, Some(0));
    row(
        "ri 0, rollback 0, --remove-new 0",
        format!(
            "ri {}, rollback {}, --remove-new {} (h5 {h5})",
            ri.code(),
            rb.code(),
            remove.code()
        ),
        p,
        &[],
    )
}

// One test per scenario (CI's JUnit shows each); `scenario` shares the lab between them.

#[test]
fn s01_install_fails_on_the_canary() {
    scenario(
        1,
        "install fails on the canary",
        install_fails_on_the_canary,
    );
}

#[test]
fn s02_postinst_fails_on_host_3() {
    scenario(2, "postinst fails on host 3 of 5", postinst_fails_on_host_3);
}

#[test]
fn s03_health_check_fails() {
    scenario(3, "health check fails after install", health_check_fails);
}

#[test]
fn s04_health_check_flaps() {
    scenario(
        4,
        "health check flaps within --min-healthy",
        health_check_flaps,
    );
}

#[test]
fn s05_host_cut_before_its_turn() {
    scenario(5, "host cut off before its turn", host_cut_before_its_turn);
}

#[test]
fn s06_host_cut_during_install() {
    scenario(
        6,
        "host cut off during its install",
        host_cut_during_install,
    );
}

#[test]
fn s07_sshd_killed_mid_run() {
    scenario(7, "sshd killed on a host mid-run", sshd_killed_mid_run);
}

#[test]
fn s08_admin_socket_disappears() {
    scenario(
        8,
        "HAProxy admin socket disappears mid-run",
        admin_socket_disappears,
    );
}

#[test]
fn s09_sigterm_mid_batch() {
    scenario(9, "SIGTERM to rolling-install mid-batch", sigterm_mid_batch);
}

#[test]
fn s10_sigkill_then_rollback() {
    scenario(
        10,
        "SIGKILL to rolling-install, then rollback --record",
        sigkill_then_rollback,
    );
}

#[test]
fn s11_rollback_interrupted_and_rerun() {
    scenario(
        11,
        "rollback interrupted (TERM, KILL) and re-run",
        rollback_interrupted_and_rerun,
    );
}

#[test]
fn s12_migration_and_hosts_rolled_back() {
    scenario(
        12,
        "migrations with the release, db and hosts back",
        migration_and_hosts_rolled_back,
    );
}

#[test]
fn s13_two_rollbacks_at_once() {
    scenario(13, "two rollbacks at once", two_rollbacks_at_once);
}

#[test]
fn s14_a_new_host_is_removed_only_with_remove_new() {
    scenario(
        14,
        "new host: left alone, removed with --remove-new",
        a_new_host_is_removed_only_with_remove_new,
    );
}
