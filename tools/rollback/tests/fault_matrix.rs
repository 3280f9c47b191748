//! The fault matrix of issue 8 on the testbed: real hosts (systemd-nspawn, sshd, dpkg, apt),
//! a real HAProxy, real packages from a signed APT repository. One lab of five hosts serves
//! every scenario, in sequence. Each scenario injects its fault into a rolling-install run
//! (and, where the run cannot repair it alone, finishes with `rollback --record`), then checks
//! the end state: every host on the new or the previous version (dpkg-query), every host back
//! in rotation (HAProxy `UP`), the journal consistent with the hosts, and the exit codes the
//! contract names. A table of scenario, expected and observed is printed at the end.

use cdkit_testkit::testbed::must;
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

/// rolling-install's binary, built if this run has not built it (it is another package's).
fn rolling_install() -> PathBuf {
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
    Path::new(ROLLBACK)
        .parent()
        .expect("the binaries' directory")
        .join("rolling-install")
}

/// The lab, the packages and the binaries every scenario uses.
struct Matrix {
    dir: tempfile::TempDir,
    /// The lab's `CDKIT_TESTBED_*` variables (paths of its inventory, socket, repository).
    env: std::collections::BTreeMap<String, String>,
    ri: PathBuf,
    debs: Vec<PathBuf>,
    runs: usize,
    /// Every JUnit report a run was asked for, validated at the end (a killed run has none).
    reports: Vec<PathBuf>,
}

/// A tool run: its exit code (`None`: killed by a signal), stderr and the files it wrote.
struct Run {
    code: Option<i32>,
    stderr: String,
    stdout: String,
}

impl Run {
    fn from(out: Output) -> Run {
        Run {
            code: out.status.code(),
            stderr: text(&out.stderr),
            stdout: text(&out.stdout),
        }
    }

    fn code(&self) -> String {
        self.code.map_or("killed".into(), |c| c.to_string())
    }
}

impl Matrix {
    fn new() -> Matrix {
        let _ = testbed(&["down"]);
        must(
            testbed(&["up", "-n", &HOSTS.to_string(), "--lb"]),
            "testbed up",
        );
        let dir = tempfile::tempdir().unwrap();
        let debs_dir = dir.path().join("debs");
        std::fs::create_dir_all(&debs_dir).unwrap();
        let build = cdkit_testkit::hello::build_hello_service;
        let debs = vec![
            build(OLD, None, &debs_dir),
            build(NEW, None, &debs_dir),
            build("2.1-1", Some("health"), &debs_dir),
            build("2.2-1", Some("postinst"), &debs_dir),
        ];
        let env = must(testbed(&["run", "--", "env"]), "the lab's variables")
            .lines()
            .filter_map(|l| l.split_once('='))
            .filter(|(k, _)| k.starts_with("CDKIT_TESTBED"))
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        let m = Matrix {
            dir,
            env,
            ri: rolling_install(),
            debs,
            runs: 0,
            reports: Vec::new(),
        };
        m.publish("testing");
        m.publish("production");
        m
    }

    fn var(&self, name: &str) -> String {
        self.env
            .get(name)
            .cloned()
            .unwrap_or_else(|| panic!("the lab does not set {name}"))
    }

    fn publish(&self, suite: &str) {
        let mut args = vec!["publish", "--suite", suite];
        let paths: Vec<String> = self.debs.iter().map(|p| p.display().to_string()).collect();
        args.extend(paths.iter().map(String::as_str));
        must(testbed(&args), "publish");
    }

    /// A fresh file name in the scratch directory (`rec-3.json`, …).
    fn file(&mut self, stem: &str, ext: &str) -> PathBuf {
        self.runs += 1;
        self.dir.path().join(format!("{stem}-{}.{ext}", self.runs))
    }

    /// `BINARY FLAGS "$@"` inside the lab (flags are shell words; the lab's variables expand).
    fn in_lab(binary: &Path, flags: &str, extra: &[&str]) -> Command {
        let mut cmd = Command::new(root().join("scripts/testbed"));
        cmd.args(["run", "--name", LAB, "--", "sh", "-c"])
            .arg(format!("exec \"$0\" {flags} \"$@\""))
            .arg(binary)
            .args(extra)
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
        Matrix::in_lab(&self.ri, &flags, extra)
    }

    fn ri(&mut self, version: &str, record: &Path, extra: &[&str]) -> Run {
        let out = self
            .ri_command(version, record, HEALTH, extra)
            .output()
            .unwrap();
        Run::from(out)
    }

    /// `rollback FLAGS` with the lab's ssh config and the health check; its JUnit is checked.
    fn rb_command(&mut self, extra: &[&str]) -> (Command, PathBuf) {
        let junit = self.file("rb", "xml");
        self.reports.push(junit.clone());
        // Canary, then two at a time, unless the scenario says otherwise.
        let batch = if extra.contains(&"--batch") {
            ""
        } else {
            "--batch 1,2"
        };
        let flags = format!(
            "--ssh-config \"$CDKIT_TESTBED_SSH_CONFIG\" {HEALTH} --connect-timeout 3s \
             --ready-timeout 10s {batch} --progress plain --junit {}",
            junit.display()
        );
        (Matrix::in_lab(Path::new(ROLLBACK), &flags, extra), junit)
    }

    fn rb(&mut self, extra: &[&str]) -> Run {
        let (mut cmd, _) = self.rb_command(extra);
        Run::from(cmd.output().unwrap())
    }
}

/// The installed hello-service version on every host ("" if none or unreachable).
fn versions() -> Vec<String> {
    (1..=HOSTS)
        .map(|i| {
            let out = testbed(&[
                "exec",
                &format!("h{i}"),
                "dpkg-query",
                "-W",
                "-f=${Version}",
                "hello-service",
            ]);
            text(&out.stdout).trim().to_string()
        })
        .collect()
}

fn haproxy_states() -> Vec<String> {
    let out = must(testbed(&["status", "--json"]), "status");
    let v: Value = serde_json::from_str(&out).expect("status --json");
    v["hosts"]
        .as_array()
        .expect("hosts")
        .iter()
        .map(|h| h["haproxy"].as_str().unwrap_or("").to_string())
        .collect()
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

/// Whether `host`'s record in the journal at `path` has more than `after` steps, the last of
/// which starts with `prefix`, or any later step does.
fn has_step(path: &Path, host: usize, prefix: &str, after: usize) -> bool {
    let Ok(bytes) = std::fs::read(path) else {
        return false;
    };
    let Ok(j) = serde_json::from_slice::<Value>(&bytes) else {
        return false;
    };
    j["hosts"][host]["steps"].as_array().is_some_and(|s| {
        s.iter()
            .skip(after)
            .any(|st| st["step"].as_str().unwrap_or("").starts_with(prefix))
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

/// One row of the summary table.
struct Row {
    name: &'static str,
    expected: String,
    observed: String,
    problems: Vec<String>,
}

type Scenario = fn(&mut Matrix) -> Row;

fn row(
    name: &'static str,
    expected: &str,
    observed: String,
    mut problems: Vec<String>,
    records: &[&Path],
) -> Row {
    problems.extend(end_state(records));
    Row {
        name,
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
            want.map_or("killed".into(), |c| c.to_string()),
            run.stderr
                .lines()
                .rev()
                .take(3)
                .collect::<Vec<_>>()
                .join(" | ")
        ));
    }
}

/// rolling-install of the new version in the background, handed back once the journal shows
/// `step` for host index `host`: the moment a scenario injects its fault.
fn mid_run(
    m: &mut Matrix,
    rec: &Path,
    health: &str,
    batch: &str,
    host: usize,
    step: &str,
) -> Child {
    let child = m
        .ri_command(NEW, rec, health, &["--batch", batch])
        .spawn()
        .unwrap();
    wait_for(
        &format!("h{}'s {step}", host + 1),
        Duration::from_secs(60),
        || has_step(rec, host, step, 0),
    );
    child
}

/// The end of a scenario that rolling-install finishes alone (it restores, exits `want`).
fn alone(name: &'static str, ri: &Run, want: i32, mut p: Vec<String>, rec: &Path) -> Row {
    expect_code(&mut p, "rolling-install", ri, Some(want));
    row(
        name,
        &format!("ri {want}"),
        format!("ri {}", ri.code()),
        p,
        &[rec],
    )
}

/// The end of a scenario that rolling-install cannot repair (exit `want`): once the fault is
/// gone, `rollback --record` returns every host (exit 0).
fn then_rollback(
    m: &mut Matrix,
    name: &'static str,
    ri: &Run,
    want: i32,
    mut p: Vec<String>,
    rec: &Path,
) -> Row {
    expect_code(&mut p, "rolling-install", ri, Some(want));
    if want == 3 && !ri.stderr.contains("rollback --record") {
        p.push("exit 3 without the rollback command".into());
    }
    let rb = m.rb(&["--record", rec.to_str().unwrap()]);
    expect_code(&mut p, "rollback", &rb, Some(0));
    let observed = format!("ri {}, rollback {}", ri.code(), rb.code());
    row(name, &format!("ri {want}, rollback 0"), observed, p, &[rec])
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
    alone("install fails on the canary", &ri, 1, p, &rec)
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
    alone("postinst fails on host 3 of 5", &ri, 1, p, &rec)
}

/// Scenario 3: the health check fails after the install (2.1 answers 503): canary restored,
/// exit 1.
fn health_check_fails(m: &mut Matrix) -> Row {
    let rec = m.file("rec", "json");
    let ri = m.ri("2.1-1", &rec, &["--batch", "1,2"]);
    alone("health check fails after install", &ri, 1, Vec::new(), &rec)
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
    alone("health check flaps within --min-healthy", &ri, 1, p, &rec)
}

/// Scenario 5: a host is cut off before its turn: its turn fails (unreachable), every touched
/// host is restored, exit 1; healed, it is back in rotation on its old version.
fn host_cut_before_its_turn(m: &mut Matrix) -> Row {
    must(testbed(&["cut-host", "h4"]), "cut h4");
    let rec = m.file("rec", "json");
    let ri = m.ri(NEW, &rec, &["--batch", "1,2"]);
    must(testbed(&["heal-host", "h4"]), "heal h4");
    alone("host cut off before its turn", &ri, 1, Vec::new(), &rec)
}

/// Scenario 6: a host is cut off during its install: it cannot be restored (exit 3, naming the
/// rollback command; it is held in MAINT); healed, `rollback --record` returns it (exit 0).
fn host_cut_during_install(m: &mut Matrix) -> Row {
    let rec = m.file("rec", "json");
    let child = mid_run(m, &rec, HEALTH, "1", 1, "drain");
    must(testbed(&["cut-host", "h2"]), "cut h2");
    let ri = finish(child);
    let mut p = Vec::new();
    let held = haproxy_states()[1].clone();
    if !held.starts_with("MAINT") {
        p.push(format!("h2 is {held} in HAProxy, not held out (MAINT)"));
    }
    must(testbed(&["heal-host", "h2"]), "heal h2");
    then_rollback(m, "host cut off during its install", &ri, 3, p, &rec)
}

/// Scenario 7: sshd is stopped and every sshd process killed on a host while its health check
/// runs there: the check fails and the host cannot be restored (exit 3); once the host is
/// rebooted (sshd starts again), `rollback --record` returns it (exit 0).
fn sshd_killed_mid_run(m: &mut Matrix) -> Row {
    let rec = m.file("rec", "json");
    let slow =
        "--health-cmd 'sleep 2; curl -fsS http://127.0.0.1:8080/health | grep -q {version}' \
                --health-retries 0";
    let child = mid_run(m, &rec, slow, "1", 1, "install");
    std::thread::sleep(Duration::from_millis(700));
    // The kill also ends this ssh session: its own status does not matter.
    let _ = exec("h2", "systemctl stop ssh.service; pkill -KILL -x sshd");
    let ri = finish(child);
    must(testbed(&["kill-host", "h2"]), "power h2 off");
    must(testbed(&["heal-host", "h2"]), "boot h2");
    then_rollback(m, "sshd killed on a host mid-run", &ri, 3, Vec::new(), &rec)
}

/// Scenario 8: HAProxy's admin socket disappears mid-run: nothing can be put back in rotation
/// (exit 3); once it is back, `rollback --record` returns every host (exit 0).
fn admin_socket_disappears(m: &mut Matrix) -> Row {
    let socket = PathBuf::from(m.var("CDKIT_TESTBED_HAPROXY_SOCKET"));
    let hidden = socket.with_extension("sock.gone");
    let rec = m.file("rec", "json");
    let child = mid_run(m, &rec, HEALTH, "1", 1, "drain");
    std::fs::rename(&socket, &hidden).expect("hide the admin socket");
    let ri = finish(child);
    std::fs::rename(&hidden, &socket).expect("bring the admin socket back");
    then_rollback(
        m,
        "HAProxy admin socket disappears mid-run",
        &ri,
        3,
        Vec::new(),
        &rec,
    )
}

/// Scenario 9: SIGTERM to rolling-install mid-batch: the hosts in flight finish, are restored,
/// exit 143.
fn sigterm_mid_batch(m: &mut Matrix) -> Row {
    let rec = m.file("rec", "json");
    let child = mid_run(m, &rec, HEALTH, "2", 0, "drain");
    signal("rolling-install", rec.to_str().unwrap(), "TERM");
    let ri = finish(child);
    alone(
        "SIGTERM to rolling-install mid-batch",
        &ri,
        143,
        Vec::new(),
        &rec,
    )
}

/// Scenario 10: SIGKILL to rolling-install mid-batch (hosts drained, the lock left behind), then
/// `rollback --record` takes over the dead run's lock and restores everything; with --repo it
/// also re-points the production suite (fresh Release date, newer versions gone).
fn sigkill_then_rollback(m: &mut Matrix) -> Row {
    let rec = m.file("rec", "json");
    let repo = m.var("CDKIT_TESTBED_REPO");
    let release = Path::new(&repo).join("dists/production/Release");
    let before = std::fs::read_to_string(&release).unwrap_or_default();
    let child = mid_run(m, &rec, HEALTH, "2", 2, "drain");
    signal("rolling-install", rec.to_str().unwrap(), "KILL");
    let ri = finish(child);
    let mut p = Vec::new();
    let drained = journal(&rec)["hosts"][2]["drained"]
        .as_array()
        .map_or(0, Vec::len);
    if drained == 0 {
        p.push("the killed run's record does not show h3 drained".into());
    }
    let rb = m.rb(&[
        "--record",
        rec.to_str().unwrap(),
        "--repo",
        &repo,
        "--suite",
        "production",
    ]);
    expect_code(&mut p, "rollback", &rb, Some(0));
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
    let listed = must(
        testbed(&[
            "run",
            "--",
            "sh",
            "-c",
            "\"$CDKIT_TESTBED_PUBLISH_REPO\" list --repo \"$PUBLISH_REPO_DIR\" --suite production",
        ]),
        "list",
    );
    if listed.contains(NEW) || !listed.contains(OLD) {
        p.push(format!(
            "production still lists {NEW} or lost {OLD}: {listed}"
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
        "SIGKILL to rolling-install, then rollback --record",
        "ri killed, rollback 0",
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
    let second = m.rb(&["--record", &record]);
    expect_code(&mut p, "re-run rollback", &second, Some(0));
    let settled = steps_of(&rec);
    let third = m.rb(&["--record", &record]);
    expect_code(&mut p, "another rollback", &third, Some(0));
    if steps_of(&rec) != settled {
        p.push("the last rollback changed something".into());
    }
    let notes = journal(&rec)["rollbacks"].as_array().map_or(0, Vec::len);
    if notes != 4 {
        p.push(format!("{notes} rollback notes in the record, expected 4"));
    }
    row(
        "rollback interrupted (TERM, KILL) and re-run",
        "143, killed, re-run 0, again 0",
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

/// Scenario 12: A release that applied database migrations (`db-migrate up --release 2.0-1`) and was
/// rolled out, then hurts: `--dry-run` shows hosts and migrations and changes nothing; the
/// explicit form returns the hosts and reverts the release's migrations with the down SQL
/// stored at apply time (the old release's files no longer include them).
fn migration_and_hosts_rolled_back(m: &mut Matrix) -> Row {
    let mut p = Vec::new();
    let files = m.dir.path().join("migrations-2.0");
    assert!(Command::new("cp")
        .arg("-a")
        .arg(root().join("examples/hello-service/migrations"))
        .arg(&files)
        .status()
        .unwrap()
        .success());
    let url = format!("sqlite:{}", m.dir.path().join("app.db").display());
    let mut options = db_migrate::Options::default();
    options.dir = files.clone();
    options.release = Some(OLD.into());
    db_migrate::up(&url, Some(1), &options).expect("1.0's migration");
    // The 2.0 release: its migrations, then its rollout.
    options.release = Some(NEW.into());
    db_migrate::up(&url, None, &options).expect("2.0's migrations");
    let rec = m.file("rec", "json");
    let ri = m.ri(NEW, &rec, &["--batch", "1,4"]);
    expect_code(&mut p, "rolling-install", &ri, Some(0));
    std::fs::remove_dir_all(&files).unwrap();

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
    if versions().iter().any(|v| v != NEW)
        || db_migrate::current_version(&url).ok() != Some(Some(3))
    {
        p.push("the dry run changed something".into());
    }
    args.pop();
    let rb = m.rb(&args);
    expect_code(&mut p, "rollback", &rb, Some(0));
    let now = db_migrate::current_version(&url).ok().flatten();
    if now != Some(1) {
        p.push(format!("database at {now:?}, expected 1"));
    }
    let history = db_migrate::history(&url).unwrap_or_default();
    if history.iter().any(|a| a.version > 1) {
        p.push("the history still lists 2.0's migrations".into());
    }
    row(
        "migration with the release, rollback of db and hosts",
        "ri 0, rollback 0, db 3 -> 1",
        format!(
            "ri {}, rollback {}, db 3 -> {}",
            ri.code(),
            rb.code(),
            now.map_or("?".into(), |v| v.to_string())
        ),
        p,
        &[&journal_file],
    )
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
    row(
        "two rollbacks at once",
        "0 and 75",
        format!("{} and {}", a.code(), b.code()),
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
        "new host: left alone, removed with --remove-new",
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

#[test]
fn fault_matrix_on_a_real_fleet() {
    let mut m = Matrix::new();
    let start = m.file("rec", "json");
    let base = m.ri(OLD, &start, &["--batch", "100%"]);
    assert_eq!(base.code, Some(0), "everyone on {OLD}: {}", base.stderr);
    let scenarios: [(u32, Scenario); 14] = [
        (1, install_fails_on_the_canary),
        (2, postinst_fails_on_host_3),
        (3, health_check_fails),
        (4, health_check_flaps),
        (5, host_cut_before_its_turn),
        (6, host_cut_during_install),
        (7, sshd_killed_mid_run),
        (8, admin_socket_disappears),
        (9, sigterm_mid_batch),
        (10, sigkill_then_rollback),
        (11, rollback_interrupted_and_rerun),
        (12, migration_and_hosts_rolled_back),
        (13, two_rollbacks_at_once),
        (14, a_new_host_is_removed_only_with_remove_new),
    ];
    let mut rows: Vec<(u32, Row, Duration)> = Vec::new();
    // RB_MATRIX_ONLY=6,8 runs only those scenarios (for working on one).
    let only: Vec<u32> = std::env::var("RB_MATRIX_ONLY")
        .unwrap_or_default()
        .split(',')
        .filter_map(|n| n.trim().parse().ok())
        .collect();
    for (n, scenario) in scenarios {
        if !only.is_empty() && !only.contains(&n) {
            continue;
        }
        if versions().iter().any(|v| v != OLD) {
            // A failed scenario must not decide the next one's outcome.
            let reset = m.file("reset", "json");
            let run = m.ri(OLD, &reset, &["--batch", "100%"]);
            assert_eq!(run.code, Some(0), "reset to {OLD}: {}", run.stderr);
        }
        let clock = Instant::now();
        let row = match std::panic::catch_unwind(AssertUnwindSafe(|| scenario(&mut m))) {
            Ok(row) => row,
            Err(e) => Row {
                name: "(panicked)",
                expected: "-".into(),
                observed: "panic".into(),
                problems: vec![e
                    .downcast_ref::<String>()
                    .cloned()
                    .or_else(|| e.downcast_ref::<&str>().map(|s| s.to_string()))
                    .unwrap_or_default()],
            },
        };
        eprintln!(
            "scenario {n}: {} ({:.1} s) {:?}",
            row.name,
            clock.elapsed().as_secs_f64(),
            row.problems
        );
        rows.push((n, row, clock.elapsed()));
    }
    println!(
        "\n{:<3} {:<52} {:<36} {:<36} {:>7}  result",
        "#", "scenario", "expected", "observed", "time"
    );
    for (n, row, time) in &rows {
        println!(
            "{n:<3} {:<52} {:<36} {:<36} {:>6.1}s  {}",
            row.name,
            row.expected,
            row.observed,
            time.as_secs_f64(),
            if row.problems.is_empty() {
                "ok".to_string()
            } else {
                format!("FAILED: {}", row.problems.join("; "))
            }
        );
    }
    let failed: Vec<String> = rows
        .iter()
        .filter(|(_, r, _)| !r.problems.is_empty())
        .map(|(n, r, _)| format!("{n} {}: {}", r.name, r.problems.join("; ")))
        .collect();
    assert!(
        failed.is_empty(),
        "scenarios failed:\n{}",
        failed.join("\n")
    );
    let written: Vec<&PathBuf> = m.reports.iter().filter(|r| r.exists()).collect();
    for report in &written {
        cdkit_testkit::assert_valid_junit(report);
    }
    assert!(written.len() > 20, "only {} JUnit reports", written.len());
    must(testbed(&["down"]), "testbed down");
}
