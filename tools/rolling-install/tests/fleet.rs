//! rolling-install on the testbed: real hosts (systemd-nspawn, sshd, dpkg, apt), a real
//! HAProxy in front of them, real packages from a signed APT repository. One lab of ten hosts
//! is shared by every scenario, run in sequence.

use cdkit_testkit::testbed::must;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::Duration;

mod fleet {
    pub mod service_logs;
    pub mod status;
}
use fleet::service_logs;

const BIN: &str = env!("CARGO_BIN_EXE_rolling-install");
const LAB: &str = "ri-e2e";
const HOSTS: usize = 10;

fn root() -> PathBuf {
    cdkit_testkit::workspace_root()
}

fn testbed(args: &[&str]) -> Output {
    testbed_of(LAB, args)
}

fn testbed_of(lab: &str, args: &[&str]) -> Output {
    cdkit_testkit::testbed::run(lab, args)
}

/// Build hello-service VERSION (optionally broken) with dpkg-buildpackage.
fn build(version: &str, broken: Option<&str>, out: &Path) -> PathBuf {
    cdkit_testkit::hello::build_hello_service(version, broken, out)
}

/// rolling-install inside the lab with the testbed's inventory, ssh config and HAProxy.
fn rollout(version: &str, extra: &[&str], dir: &Path) -> Output {
    let report = dir.join(format!("ri-{version}.xml"));
    let record = dir.join(format!("ri-{version}.json"));
    let out = in_lab(
        LAB,
        &format!(
            "--version {version} --lb \"haproxy:$CDKIT_TESTBED_HAPROXY_SOCKET:$CDKIT_TESTBED_HAPROXY_BACKEND\" \
             --health-url 'http://{{host}}:8080/health' --health-body '{{version}}' --health-retries 4 \
             --health-interval 500ms --record {} --junit {} -q",
            record.display(),
            report.display()
        ),
    )
    .args(extra)
    .output()
    .unwrap();
    if report.exists() {
        cdkit_testkit::assert_valid_junit(&report);
    }
    out
}

fn versions() -> Vec<String> {
    versions_of(LAB, HOSTS)
}

/// The installed hello-service version on each of `count` hosts of `lab`.
fn versions_of(lab: &str, count: usize) -> Vec<String> {
    (1..=count)
        .map(|i| {
            let host = format!("h{i}");
            let out = testbed_of(
                lab,
                &[
                    "exec",
                    &host,
                    "dpkg-query",
                    "-W",
                    "-f=${Version}",
                    "hello-service",
                ],
            );
            String::from_utf8_lossy(&out.stdout).trim().to_string()
        })
        .collect()
}

/// rolling-install run inside `lab` with its inventory and ssh config, plus `flags`
/// (shell words; the lab's variables like `$CDKIT_TESTBED_HAPROXY_SOCKET` expand; arguments
/// added to the command follow them).
fn in_lab(lab: &str, flags: &str) -> Command {
    cdkit_testkit::testbed::in_lab(
        lab,
        Path::new(BIN),
        &format!(
            "--inventory \"$CDKIT_TESTBED_INVENTORY\" --group all \
             --ssh-config \"$CDKIT_TESTBED_SSH_CONFIG\" --package hello-service {flags}"
        ),
    )
}

fn haproxy_states() -> Vec<String> {
    cdkit_testkit::testbed::haproxy_states(LAB)
}

/// Start `load` in the background; returns a function that waits and says how many failed.
fn load(seconds: u32) -> impl FnOnce() -> (u64, String) {
    load_at(seconds, "http://127.0.0.1:8000")
}

/// `load` through the HAProxy listening at `url` in the lab.
fn load_at(seconds: u32, url: &str) -> impl FnOnce() -> (u64, String) {
    let child = Command::new(root().join("scripts/testbed"))
        .args([
            "load",
            "--name",
            LAB,
            "--rate",
            "40",
            "--duration",
            &format!("{seconds}s"),
            "--url",
            url,
        ])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    move || {
        let out = child.wait_with_output().unwrap();
        let text = String::from_utf8_lossy(&out.stdout).into_owned();
        let v: serde_json::Value = serde_json::from_str(&text).unwrap_or_default();
        (v["failed"].as_u64().unwrap_or(u64::MAX), text)
    }
}

/// Every host on `version` (read once: each read is an ssh command per host).
fn assert_all_on(version: &str) {
    let found = versions();
    assert!(
        found.iter().all(|v| v == version),
        "not all on {version}: {found:?}"
    );
}

/// Every host UP on the testbed's HAProxy (read once).
fn assert_all_up() {
    let states = haproxy_states();
    assert!(states.iter().all(|s| s == "UP"), "not all UP: {states:?}");
}

fn code(out: &Output) -> i32 {
    out.status.code().unwrap_or(-1)
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

#[test]
fn rollouts_restores_locks_signals_and_dry_runs_on_a_real_fleet() {
    cdkit_testkit::testbed::up_fresh(LAB, HOSTS, true);
    let dir = tempfile::tempdir().unwrap();
    let debs = dir.path().join("debs");
    std::fs::create_dir_all(&debs).unwrap();
    let packages = [
        build("1.0-1", None, &debs),
        build("2.0-1", None, &debs),
        build("2.1-1", Some("health"), &debs),
        build("2.2-1", Some("postinst"), &debs),
        build("2.3-1", Some("slow"), &debs),
    ];
    for suite in ["testing", "production"] {
        cdkit_testkit::testbed::publish(LAB, suite, &packages);
    }

    // Start everyone on 1.0.
    let out = rollout("1.0-1", &["--batch", "100%"], dir.path());
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    assert_all_on("1.0-1");

    // 1.0 -> 2.0 in batches 1,3,50% under constant load: all on 2.0, no failed request.
    let done = load(25);
    let out = rollout("2.0-1", &["--batch", "1,3,50%"], dir.path());
    let (failed, text) = done();
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    assert_all_on("2.0-1");
    assert_eq!(failed, 0, "{text}");
    assert_all_up();

    // A broken 2.1 (health fails): the canary is restored, nobody else touched, exit 1.
    let done = load(15);
    let central = dir.path().join("central-2.1.jsonl");
    let page = dir.path().join("deploy-2.1.html");
    let out = rollout(
        "2.1-1",
        &[
            "--batch",
            "1,3,50%",
            "--log-file",
            central.to_str().unwrap(),
            "--report",
            page.to_str().unwrap(),
        ],
        dir.path(),
    );
    let (failed, text) = done();
    assert_eq!(code(&out), 1, "{}", stderr(&out));
    assert_all_on("2.0-1");
    assert_eq!(failed, 0, "{text}");
    service_logs::assert_reason_everywhere(
        "config: missing key HELLO_GREETING",
        &stderr(&out),
        &dir.path().join("ri-2.1-1.xml"),
        &dir.path().join("ri-2.1-1.json"),
        &central,
        &page,
    );
    let journal: serde_json::Value =
        serde_json::from_slice(&std::fs::read(dir.path().join("ri-2.1-1.json")).unwrap()).unwrap();
    let touched: Vec<&str> = journal["hosts"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|h| h["recorded"].as_bool() == Some(true))
        .map(|h| h["name"].as_str().unwrap())
        .collect();
    assert_eq!(touched, ["h1"], "only the canary was touched");
    assert_eq!(journal["hosts"][0]["state"], "restored");

    // 2.2 whose postinst fails on host 3: hosts 3, 2, 1 restored (newest first), exit 1,
    // every host back in rotation.
    must(
        testbed(&["exec", "h3", "touch", "/etc/cdkit-fail-postinst"]),
        "mark h3",
    );
    let out = rollout("2.2-1", &["--batch", "1"], dir.path());
    assert_eq!(code(&out), 1, "{}", stderr(&out));
    assert_all_on("2.0-1");
    assert_all_up();
    // The maintainer script's own words are in the error (not just dpkg's "returned error").
    assert!(
        stderr(&out).contains("postinst fails on purpose"),
        "{}",
        stderr(&out)
    );
    let journal: serde_json::Value =
        serde_json::from_slice(&std::fs::read(dir.path().join("ri-2.2-1.json")).unwrap()).unwrap();
    for i in 0..3 {
        assert_eq!(journal["hosts"][i]["state"], "restored", "h{}", i + 1);
    }
    must(
        testbed(&["exec", "h3", "rm", "/etc/cdkit-fail-postinst"]),
        "unmark h3",
    );

    // A host cut off before its turn: an error for it, every touched host restored.
    let cutter = std::thread::spawn(|| {
        std::thread::sleep(Duration::from_secs(2));
        testbed(&["cut-host", "h6"])
    });
    let out = rollout(
        "1.0-1",
        &["--batch", "1", "--connect-timeout", "3s"],
        dir.path(),
    );
    must(cutter.join().unwrap(), "cut-host");
    let xml = std::fs::read_to_string(dir.path().join("ri-1.0-1.xml")).unwrap();
    assert!(xml.contains("type=\"unreachable\""), "{xml}");
    assert!(matches!(code(&out), 1 | 3), "{}", stderr(&out));
    must(testbed(&["heal-host", "h6"]), "heal-host");
    assert_all_on("2.0-1");

    // Lock contention: 75, naming the holder.
    must(
        testbed(&["exec", "h1", "sh", "-c", "mkdir -p /var/lib/cdkit/locks/rolling-install.all && echo another-run > /var/lib/cdkit/locks/rolling-install.all/owner"]),
        "take the lock",
    );
    let out = rollout("1.0-1", &["--lock-timeout", "1s"], dir.path());
    assert_eq!(code(&out), 75, "{}", stderr(&out));
    assert!(stderr(&out).contains("another-run"), "{}", stderr(&out));
    // A run over part of the group contends for the same lock: it lives on the group's first
    // host whatever --hosts selects (a run over h3 alone used to lock on h3 and go ahead).
    let out = rollout(
        "1.0-1",
        &["--lock-timeout", "1s", "--hosts", "h3"],
        dir.path(),
    );
    assert_eq!(code(&out), 75, "{}", stderr(&out));
    assert!(stderr(&out).contains("another-run"), "{}", stderr(&out));
    assert_all_on("2.0-1");
    must(
        testbed(&[
            "exec",
            "h1",
            "rm",
            "-rf",
            "/var/lib/cdkit/locks/rolling-install.all",
        ]),
        "free the lock",
    );

    // --dry-run changes nothing.
    let (before_versions, before_lb) = (versions(), haproxy_states());
    let out = rollout("1.0-1", &["--dry-run"], dir.path());
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    assert!(String::from_utf8_lossy(&out.stdout).contains("batch 1 (canary)"));
    assert_eq!((versions(), haproxy_states()), (before_versions, before_lb));

    // SIGTERM mid-batch: ends known-good (restored), exit 143.
    let child = in_lab(
        LAB,
        &format!(
            "--version 1.0-1 --lb \"haproxy:$CDKIT_TESTBED_HAPROXY_SOCKET:$CDKIT_TESTBED_HAPROXY_BACKEND\" \
             --health-url 'http://{{host}}:8080/health' --batch 1 --record {} -q",
            dir.path().join("ri-sigterm.json").display()
        ),
    )
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    std::thread::sleep(Duration::from_secs(6));
    // Signal rolling-install itself (the child of `testbed run`), not the wrapper: the
    // process whose command line names this run's unique record file.
    let marker = dir.path().join("ri-sigterm.json").display().to_string();
    let _ = Command::new("pkill")
        .args([
            "-TERM",
            "-f",
            &format!("rolling-install --inventory .*{marker}"),
        ])
        .status();
    let out = child.wait_with_output().unwrap();
    assert_eq!(code(&out), 143, "{}", stderr(&out));
    assert_all_on("2.0-1");
    assert_all_up();

    // --deb: the package copied to every host and installed with dpkg.
    let deb = packages[0].display().to_string();
    let out = rollout("1.0-1", &["--deb", &deb, "--batch", "50%"], dir.path());
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    assert_all_on("1.0-1");

    // A health command on the host (with {version}), --min-healthy, and hook commands for a
    // balancer that is not HAProxy (word-split, run locally, {host} filled in).
    let hooks = dir.path().join("hooks");
    std::fs::create_dir_all(&hooks).unwrap();
    let drain = format!("touch {}/drain-{{host}}", hooks.display());
    let ready = format!("touch {}/ready-{{host}}", hooks.display());
    let out = in_lab(
        LAB,
        "--version 2.0-1 --batch 50% --min-healthy 2s \
         --lb \"haproxy:$CDKIT_TESTBED_HAPROXY_SOCKET:$CDKIT_TESTBED_HAPROXY_BACKEND\" -q",
    )
    .args([
        "--health-cmd",
        "systemctl is-active --quiet hello-service && curl -fsS http://127.0.0.1:8080/version | grep -qx {version}",
        "--lb-drain-cmd",
        &drain,
        "--lb-ready-cmd",
        &ready,
    ])
    .output()
    .unwrap();
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    assert_all_on("2.0-1");
    for i in 1..=HOSTS {
        assert!(
            hooks.join(format!("drain-h{i}")).exists()
                && hooks.join(format!("ready-h{i}")).exists(),
            "h{i}"
        );
    }

    // --deadline: the run stops after the batch that passed it, restores, exits 124.
    let out = rollout("1.0-1", &["--batch", "1", "--deadline", "1s"], dir.path());
    assert_eq!(code(&out), 124, "{}", stderr(&out));
    assert_all_on("2.0-1");

    // --on-failure halt: the failed canary is left as it is, and the run says a human must
    // act (exit 3, with the rollback command).
    let out = rollout(
        "2.1-1",
        &["--batch", "1", "--on-failure", "halt"],
        dir.path(),
    );
    assert_eq!(code(&out), 3, "{}", stderr(&out));
    assert!(
        stderr(&out).contains("rollback --record"),
        "{}",
        stderr(&out)
    );
    let found = versions();
    assert_eq!(found[0], "2.1-1", "halt leaves the canary");
    assert!(found[1..].iter().all(|v| v == "2.0-1"), "{found:?}");
    let out = rollout("2.0-1", &["--batch", "100%"], dir.path());
    assert_eq!(code(&out), 0, "{}", stderr(&out));

    // Scenarios in their own modules (each leaves every host on 2.0-1 and UP).
    service_logs::every_line_of_the_run(dir.path(), "2.0-1");
    fleet::status::calls_out_what_is_wrong(LAB, dir.path(), "2.0-1", "1.0-1");

    ha_pair(dir.path());
    drain_policies(dir.path());
    cut_during_install(dir.path(), &packages[4]);
    through_a_bastion(dir.path(), &packages[1], &packages[0]);

    must(testbed(&["down"]), "testbed down");
}

/// A group the agent cannot reach at all, only through a bastion (h1), as an inventory says
/// with `ansible_ssh_common_args='-o ProxyJump=...'`: the rollout goes through h1 and succeeds;
/// with h1 cut off it fails, saying which host it could not reach, and changes nothing. The
/// private hosts cannot reach the lab's APT repository either, so the package travels with
/// `--deb` over the same ssh path.
fn through_a_bastion(dir: &Path, deb_new: &Path, deb_old: &Path) {
    let private = ["h3", "h4", "h5"];
    let inventory = dir.join("bastion.ini");
    let mut text = String::from("[private]\n");
    for h in private {
        let i: u32 = h[1..].parse().unwrap();
        text.push_str(&format!("{h} ansible_host=10.213.0.{}\n", 10 + i));
    }
    text.push_str("[private:vars]\nansible_user=root\nansible_ssh_common_args='-o ProxyJump=root@10.213.0.11'\n");
    std::fs::write(&inventory, text).unwrap();
    // The lab (where the agent runs) has no route to the private hosts; h1 reaches them on the
    // hosts' own network.
    let routes = |verb: &str| {
        let script = format!("for a in 13 14 15; do ip route {verb} prohibit 10.213.0.$a/32; done");
        must(
            testbed(&["run", "--", "sh", "-c", &script]),
            "private routes",
        );
    };
    routes("add");
    let direct = testbed(&[
        "run",
        "--",
        "sh",
        "-c",
        "ssh -F \"$CDKIT_TESTBED_SSH_CONFIG\" -o ConnectTimeout=3 root@10.213.0.13 true",
    ]);
    assert!(
        !direct.status.success(),
        "h3 must not be reachable from the agent directly"
    );
    let through = |version: &str, deb: &Path| {
        Command::new(root().join("scripts/testbed"))
            .args(["run", "--name", LAB, "--", "sh", "-c"])
            .arg(format!(
                "exec \"$0\" --inventory {} --inventory-reader native --group private \
                 --ssh-config \"$CDKIT_TESTBED_SSH_CONFIG\" --connect-timeout 5s --package hello-service \
                 --version {version} --deb {} --batch 1,100% -q \
                 --health-cmd 'systemctl is-active --quiet hello-service && curl -fsS http://127.0.0.1:8080/version | grep -qx {{version}}'",
                inventory.display(),
                deb.display()
            ))
            .arg(BIN)
            .output()
            .unwrap()
    };
    let out = through("2.0-1", deb_new);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    let versions_via_bastion = || -> Vec<String> {
        private
            .iter()
            .map(|h| {
                let ip = format!("10.213.0.{}", 10 + h[1..].parse::<u32>().unwrap());
                // `dpkg-query -W` prints "NAME<TAB>VERSION": no format string that two shells
                // (here and on the host) would have to leave alone.
                let script = format!(
                    "ssh -F \"$CDKIT_TESTBED_SSH_CONFIG\" -J root@10.213.0.11 root@{ip} dpkg-query -W hello-service"
                );
                let line = must(testbed(&["run", "--", "sh", "-c", &script]), "version via h1");
                line.split('\t').nth(1).unwrap_or("").trim().to_string()
            })
            .collect()
    };
    let seen = versions_via_bastion();
    assert!(seen.iter().all(|v| v == "2.0-1"), "{seen:?}");

    // The bastion cut off: a clear error naming the unreachable canary, nothing changed.
    must(testbed(&["cut-host", "h1"]), "cut-host h1");
    let out = through("1.0-1", deb_old);
    let err = stderr(&out);
    // Unreachable before anything changed: try again later (75).
    assert_eq!(code(&out), 75, "{err}");
    assert!(err.contains("h3") && err.contains("unreachable"), "{err}");
    must(testbed(&["heal-host", "h1"]), "heal-host h1");
    let seen = versions_via_bastion();
    assert!(seen.iter().all(|v| v == "2.0-1"), "{seen:?}");
    routes("del");
}

/// The server rows (CSV fields) of backend be_hello in `show stat` of the HAProxy whose admin
/// socket is `socket`.
fn stat_rows(socket: &str) -> Vec<Vec<String>> {
    let out = must(
        testbed(&[
            "run",
            "--",
            "sh",
            "-c",
            &format!("echo 'show stat' | socat stdio unix-connect:{socket}"),
        ]),
        "show stat",
    );
    out.lines()
        .map(|l| l.split(',').map(str::to_string).collect::<Vec<_>>())
        .filter(|f| f.len() > 17 && f[0] == "be_hello" && f[1] != "BACKEND")
        .collect()
}

/// (server, status) of backend be_hello on the HAProxy whose admin socket is `socket`.
fn lb_states_at(socket: &Path) -> Vec<(String, String)> {
    stat_rows(&socket.display().to_string())
        .into_iter()
        .map(|f| (f[1].clone(), f[17].clone()))
        .collect()
}

fn all_up(states: &[(String, String)]) -> bool {
    states.len() == HOSTS && states.iter().all(|(_, s)| s == "UP")
}

/// A second HAProxy in the lab over the same servers (an HA pair), on port 8001 with its own
/// admin socket and server-state file; returns the socket.
fn start_second_haproxy(dir: &Path) -> PathBuf {
    let lb2 = dir.join("lb2");
    std::fs::create_dir_all(&lb2).unwrap();
    let socket = lb2.join("admin.sock");
    let script = format!(
        "set -e; sed -e \"s|$CDKIT_TESTBED_HAPROXY_SOCKET|{sock}|\" -e 's|127.0.0.1:8000|127.0.0.1:8001|' \
         -e 's|server-state-file .*|server-state-file {dir}/server-state|' \"$CDKIT_TESTBED_DIR/haproxy/haproxy.cfg\" \
         > {dir}/haproxy.cfg; : > {dir}/server-state; haproxy -D -f {dir}/haproxy.cfg -p {dir}/haproxy.pid",
        sock = socket.display(),
        dir = lb2.display()
    );
    must(
        testbed(&["run", "--", "sh", "-c", &script]),
        "second HAProxy",
    );
    let start = std::time::Instant::now();
    while !all_up(&lb_states_at(&socket)) {
        assert!(
            start.elapsed() < Duration::from_secs(20),
            "the second HAProxy's servers did not come UP: {:?}",
            lb_states_at(&socket)
        );
        std::thread::sleep(Duration::from_millis(500));
    }
    socket
}

/// An HA pair of HAProxies: every host is drained from both and put back into both, and load
/// through either one fails nothing.
fn ha_pair(dir: &Path) {
    let socket = start_second_haproxy(dir);
    let second = format!("haproxy:{}:be_hello", socket.display());
    let (done1, done2) = (
        load_at(25, "http://127.0.0.1:8000"),
        load_at(25, "http://127.0.0.1:8001"),
    );
    let out = rollout("1.0-1", &["--batch", "1,3,50%", "--lb", &second], dir);
    let ((failed1, text1), (failed2, text2)) = (done1(), done2());
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    assert_all_on("1.0-1");
    assert_eq!((failed1, failed2), (0, 0), "{text1}\n{text2}");
    let states1 = haproxy_states();
    assert!(states1.iter().all(|s| s == "UP"), "{states1:?}");
    let states2 = lb_states_at(&socket);
    assert!(all_up(&states2), "{states2:?}");
    let journal: serde_json::Value =
        serde_json::from_slice(&std::fs::read(dir.join("ri-1.0-1.json")).unwrap()).unwrap();
    for host in journal["hosts"].as_array().unwrap() {
        let steps: Vec<&str> = host["steps"]
            .as_array()
            .unwrap()
            .iter()
            .filter_map(|s| s["step"].as_str())
            .collect();
        for lb in ["haproxy:", second.as_str()] {
            for verb in ["drain", "ready"] {
                assert!(
                    steps.iter().any(|s| s.starts_with(&format!("{verb} {lb}"))),
                    "{}: no `{verb} {lb}` step in {steps:?}",
                    host["name"]
                );
            }
        }
    }
}

/// Long-lived sessions on the canary when it is drained: `--drain-policy fail` fails the host
/// (nothing installed, back in rotation, exit 1); `shutdown` ends the sessions and goes on.
fn drain_policies(dir: &Path) {
    // Slow requests through HAProxy until the canary h1 holds one (roundrobin spreads them).
    let mut slow = Command::new(root().join("scripts/testbed"))
        .args(["run", "--name", LAB, "--", "sh", "-c"])
        .arg("for i in $(seq 20); do curl -s -m 90 -o /dev/null http://127.0.0.1:8000/slow/60 & done; wait")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let start = std::time::Instant::now();
    let socket = root_socket();
    loop {
        // Column 4 is scur, the server's current sessions.
        let h1_sessions = stat_rows(&socket)
            .into_iter()
            .find(|f| f[1] == "h1")
            .and_then(|f| f[4].parse::<u32>().ok())
            .unwrap_or(0);
        if h1_sessions > 0 {
            break;
        }
        assert!(
            start.elapsed() < Duration::from_secs(20),
            "h1 never held a slow session"
        );
        std::thread::sleep(Duration::from_millis(300));
    }

    let out = rollout(
        "2.0-1",
        &[
            "--hosts",
            "h1",
            "--drain-timeout",
            "2s",
            "--drain-policy",
            "fail",
        ],
        dir,
    );
    assert_eq!(code(&out), 1, "{}", stderr(&out));
    assert_eq!(versions()[0], "1.0-1", "nothing installed on h1");
    assert_all_up();

    let out = rollout(
        "2.0-1",
        &[
            "--hosts",
            "h1",
            "--drain-timeout",
            "2s",
            "--drain-policy",
            "shutdown",
        ],
        dir,
    );
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    assert_eq!(versions()[0], "2.0-1");
    assert_all_up();
    // Back to one version everywhere; the slow requests are no longer needed.
    let _ = Command::new("pkill")
        .args(["-f", "127.0.0.1:8000/slow/60"])
        .status();
    let _ = slow.wait();
    let out = rollout("1.0-1", &["--hosts", "h1"], dir);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
}

/// The testbed's HAProxy admin socket (its state directory is under /run/cdkit-testbed).
fn root_socket() -> String {
    let out = must(
        testbed(&[
            "run",
            "--",
            "sh",
            "-c",
            "echo \"$CDKIT_TESTBED_HAPROXY_SOCKET\"",
        ]),
        "socket",
    );
    out.trim().to_string()
}

/// A host cut off in the middle of its install (its postinst is waiting): the run names it
/// (exit 3), every other touched host is restored, and the cut host is NOT put back into
/// rotation while its package state is unknown. Healed, it is brought back by another run.
fn cut_during_install(dir: &Path, slow_deb: &Path) {
    let slow_version = "2.3-1";
    assert!(slow_deb.display().to_string().contains(slow_version));
    must(
        testbed(&[
            "exec",
            "h2",
            "sh",
            "-c",
            "echo 8 > /etc/cdkit-slow-postinst",
        ]),
        "mark h2 slow",
    );
    let watcher = std::thread::spawn(|| {
        let start = std::time::Instant::now();
        loop {
            let out = testbed(&[
                "exec",
                "h2",
                "test",
                "-e",
                "/run/hello-service-postinst-waiting",
            ]);
            if out.status.success() {
                return testbed(&["cut-host", "h2"]);
            }
            assert!(
                start.elapsed() < Duration::from_secs(120),
                "h2's postinst never started"
            );
            std::thread::sleep(Duration::from_millis(200));
        }
    });
    let out = rollout(
        slow_version,
        &[
            "--batch",
            "1",
            "--connect-timeout",
            "3s",
            "--ready-timeout",
            "5s",
        ],
        dir,
    );
    must(watcher.join().unwrap(), "cut-host h2");
    assert_eq!(code(&out), 3, "{}", stderr(&out));
    assert!(stderr(&out).contains("h2"), "{}", stderr(&out));
    let journal: serde_json::Value = serde_json::from_slice(
        &std::fs::read(dir.join(format!("ri-{slow_version}.json"))).unwrap(),
    )
    .unwrap();
    assert_eq!(journal["hosts"][0]["state"], "restored", "h1");
    assert_ne!(journal["hosts"][1]["state"], "restored", "h2 cannot be");
    assert!(
        !journal["hosts"][1]["drained"]
            .as_array()
            .unwrap()
            .is_empty(),
        "h2 is recorded as still drained"
    );
    // Reconciliation: h2 stays out of rotation (MAINT), the others are UP.
    let states = haproxy_states();
    assert!(states[1].starts_with("MAINT"), "{states:?}");
    assert!(
        states.iter().enumerate().all(|(i, s)| i == 1 || s == "UP"),
        "{states:?}"
    );
    must(testbed(&["heal-host", "h2"]), "heal-host h2");
    must(
        testbed(&["exec", "h2", "rm", "-f", "/etc/cdkit-slow-postinst"]),
        "unmark h2",
    );
    let out = rollout("1.0-1", &["--hosts", "h2"], dir);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    assert_all_on("1.0-1");
    assert_all_up();
}

#[test]
fn fifty_hosts_in_one_run() {
    const BIG: &str = "ri-50";
    cdkit_testkit::testbed::up_fresh(BIG, 50, false);
    let dir = tempfile::tempdir().unwrap();
    let deb = build("1.0-1", None, dir.path());
    for suite in ["testing", "production"] {
        cdkit_testkit::testbed::publish(BIG, suite, &[&deb]);
    }
    let report = dir.path().join("ri-50.xml");
    let out = in_lab(
        BIG,
        &format!(
            "--version 1.0-1 --batch 1,5,20% --max-new-connections 10 \
             --health-url 'http://{{host}}:8080/health' --health-body '{{version}}' --junit {} -q",
            report.display()
        ),
    )
    .output()
    .unwrap();
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    cdkit_testkit::assert_valid_junit(&report);
    let xml = std::fs::read_to_string(&report).unwrap();
    assert_eq!(xml.matches("<testcase ").count(), 50);
    let installed = versions_of(BIG, 50)
        .iter()
        .filter(|v| *v == "1.0-1")
        .count();
    assert_eq!(installed, 50);
    must(testbed_of(BIG, &["down"]), "testbed down");
}
