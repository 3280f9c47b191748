//! End-to-end tests of `scripts/testbed`: hosts isolated from each other
//! and from the machine, each with a real systemd that starts the sample service from its
//! package; 50 hosts answering ssh within 90 s; HAProxy in front of the hosts, drained through
//! its admin socket; hosts powered off, cut off and healed; and a `down` that leaves nothing
//! behind, also after an `up` that failed or was killed.
//!
//! They need root, as CI runs them. One testbed test runs at a time on a machine (a lock file;
//! nextest runs each test in its own process), and `.config/nextest.toml` gives these tests the
//! whole machine so that the 90 s budget is not measured against other tests' load. Each test
//! uses its own state root (a temporary directory) and a testbed name with the test's pid, so
//! testbeds of other tests or people on the machine are neither touched nor counted.

use cdkit_e2e::{exclusive, netns_inodes, netns_names, text, wait_until, Lab};
use cdkit_testkit::workspace_root;
use std::collections::HashSet;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

fn pids() -> Vec<u32> {
    std::fs::read_dir("/proc")
        .expect("read /proc")
        .flatten()
        .filter_map(|e| e.file_name().to_str()?.parse().ok())
        .collect()
}

fn is_zombie(pid: u32) -> bool {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    let state = stat.rsplit_once(") ").map(|(_, rest)| &rest[..1]);
    !matches!(state, Some(s) if s != "Z" && s != "X")
}

fn links(netns: Option<&str>, kind: &str) -> usize {
    let mut ip = Command::new("ip");
    if let Some(ns) = netns {
        ip.args(["-n", ns]);
    }
    let out = ip
        .args(["-o", "link", "show", "type", kind])
        .output()
        .expect("run ip (apt-get install iproute2)");
    text(&out.stdout).lines().count()
}

/// What a testbed leaves on the machine, counted from /proc and `ip` rather than from the
/// testbed's own files.
#[derive(Debug, PartialEq, Eq)]
struct Census {
    /// Overlay mounts mentioning the testbed's state directory, in any mount namespace.
    overlay_mounts: usize,
    /// Overlay mounts in the machine's own mount namespace.
    machine_overlay_mounts: usize,
    /// The testbed's named network namespaces.
    netns: usize,
    /// Bridges and veths in the machine's own namespace and in the testbed's.
    bridges: usize,
    veths: usize,
    /// Live processes inside the testbed's network namespaces (also ones seen earlier) or with
    /// its state directory on their command line (nspawn, HAProxy, the repository server,
    /// gpg-agent).
    processes: usize,
    state_dir_exists: bool,
    /// The testbed's cgroups (one per host in each hierarchy systemd manages).
    cgroups: usize,
}

fn census(lab: &Lab) -> Census {
    let prefix = lab.prefix();
    let names = netns_names(&prefix);
    let mut inodes = netns_inodes(&prefix);
    inodes.extend(&lab.seen_netns);
    let root = lab.root.path().to_string_lossy().into_owned();

    let mut mount_namespaces = HashSet::new();
    let mut overlay_mounts = 0;
    let mut processes = 0;
    for pid in pids() {
        if let Ok(mnt) = std::fs::metadata(format!("/proc/{pid}/ns/mnt")) {
            if mount_namespaces.insert(mnt.ino()) {
                let mounts =
                    std::fs::read_to_string(format!("/proc/{pid}/mountinfo")).unwrap_or_default();
                overlay_mounts += mounts
                    .lines()
                    .filter(|l| l.contains(" - overlay ") && l.contains(&root))
                    .count();
            }
        }
        if pid == std::process::id() || is_zombie(pid) {
            continue;
        }
        let in_our_netns = std::fs::metadata(format!("/proc/{pid}/ns/net"))
            .map(|m| inodes.contains(&m.ino()))
            .unwrap_or(false);
        let cmdline = std::fs::read(format!("/proc/{pid}/cmdline")).unwrap_or_default();
        if in_our_netns || text(&cmdline).contains(&root) {
            processes += 1;
        }
    }
    let machine_overlay_mounts = std::fs::read_to_string("/proc/self/mountinfo")
        .expect("read mountinfo")
        .lines()
        .filter(|l| l.contains(" - overlay "))
        .count();
    let in_namespaces =
        |kind: &str| links(None, kind) + names.iter().map(|n| links(Some(n), kind)).sum::<usize>();
    Census {
        overlay_mounts,
        machine_overlay_mounts,
        netns: names.len(),
        bridges: in_namespaces("bridge"),
        veths: in_namespaces("veth"),
        processes,
        state_dir_exists: lab.state_dir().exists(),
        cgroups: ["systemd", "unified", ""]
            .iter()
            .map(|h| {
                PathBuf::from("/sys/fs/cgroup")
                    .join(h)
                    .join("cdkit-testbed")
            })
            .filter(|dir| dir.join(&lab.name).exists())
            .count(),
    }
}

/// Build the sample service with dpkg-buildpackage at `version` (a changelog stanza is added
/// for versions other than the tree's), optionally with HELLO_BUILD_BROKEN.
fn build_hello(dir: &Path, version: &str, broken: &str) -> PathBuf {
    let work = dir.join(version);
    let tree = work.join("hello-service");
    std::fs::create_dir_all(&work).expect("create the build dir");
    let cp = Command::new("cp")
        .arg("-a")
        .arg(workspace_root().join("examples/hello-service"))
        .arg(&tree)
        .status()
        .expect("run cp");
    assert!(cp.success(), "copying examples/hello-service failed");
    let changelog = tree.join("debian/changelog");
    let old = std::fs::read_to_string(&changelog).expect("read debian/changelog");
    if !old.starts_with(&format!("hello-service ({version})")) {
        let stanza = format!(
            "hello-service ({version}) bookworm; urgency=medium\n\n  * Test build.\n\n -- cdkit developers <cdkit@example.com>  Thu, 26 Nov 2026 09:00:00 +0000\n\n"
        );
        std::fs::write(&changelog, stanza + &old).expect("write debian/changelog");
    }
    let out = Command::new("dpkg-buildpackage")
        .args(["-us", "-uc", "-b"])
        .current_dir(&tree)
        .env("HELLO_BUILD_BROKEN", broken)
        .output()
        .expect("run dpkg-buildpackage (apt-get install dpkg-dev debhelper)");
    assert!(
        out.status.success(),
        "dpkg-buildpackage of hello-service {version} failed:\n{}",
        text(&out.stderr)
    );
    work.join(format!("hello-service_{version}_all.deb"))
}

fn step(name: &str) {
    eprintln!("== {name}");
}

/// `up -n 50` reaches all 50 hosts answering over SSH in at most 90 s, and memory
/// per host is printed; `down` afterwards leaves the counts as they were.
#[test]
fn fifty_hosts_answer_ssh_within_90_seconds_and_down_removes_them() {
    let _lock = exclusive();
    let mut lab = Lab::new("e2e50");
    let before = census(&lab);
    // The root file system (mmdebstrap, ~1 min) and publish-repo are built once per machine,
    // not timed: the budget is for starting the hosts.
    lab.ok(&["prepare"]);

    let start = Instant::now();
    let summary = lab.up(&["-n", "50"]);
    let up_time = start.elapsed();
    eprintln!("{summary}");

    // Independently of up's own probe: every host answers `ssh HOST hostname` with its name.
    let start = Instant::now();
    let names = lab.sh_ok(
        r#"for h in $CDKIT_TESTBED_HOSTS; do echo "$h"; done |
           xargs -P 10 -I{} ssh -F "$CDKIT_TESTBED_SSH_CONFIG" {} hostname"#,
    );
    let ssh_time = start.elapsed();
    let mut got: Vec<&str> = names.lines().collect();
    got.sort_unstable();
    let mut want: Vec<String> = (1..=50).map(|i| format!("h{i}")).collect();
    want.sort_unstable();
    assert_eq!(got, want, "not every host answered ssh with its own name");

    let status = lab.status();
    let per_host = status["memory_kib_per_host"]
        .as_u64()
        .expect("memory per host");
    let inventory = std::fs::read_to_string(lab.state_dir().join("inventory.ini")).unwrap();
    assert!(inventory.contains("[testing]\nh1 ansible_host=10.213.0.11 haproxy_server=h1\n"));
    assert!(
        inventory.contains("h31 ansible_host=10.213.0.41"),
        "{inventory}"
    );
    let production = inventory.split("[production]").nth(1).unwrap_or("");
    assert_eq!(production.matches("ansible_host=").count(), 20);

    let start = Instant::now();
    lab.down();
    let down_time = start.elapsed();
    eprintln!(
        "measured: up -n 50 until every host answered ssh: {:.1} s; then 50 x `ssh hostname` \
         (10 parallel): {:.1} s; memory per host {:.1} MiB (PSS); down: {:.1} s",
        up_time.as_secs_f64(),
        ssh_time.as_secs_f64(),
        per_host as f64 / 1024.0,
        down_time.as_secs_f64()
    );
    assert_eq!(
        census(&lab),
        before,
        "down left something of the 50-host testbed"
    );
    assert!(
        up_time <= Duration::from_secs(90),
        "up -n 50 took {:.1} s, more than the 90 s budget",
        up_time.as_secs_f64()
    );
}

/// A small fleet behind HAProxy: isolation, systemd, the APT repository, the sample
/// service's broken builds, draining through the admin socket, power-off, link cut and heal.
#[test]
fn small_fleet_isolation_systemd_haproxy_and_faults() {
    let _lock = exclusive();
    let mut lab = Lab::new("e2e3");
    let before = census(&lab);
    let debs = tempfile::tempdir().unwrap();

    // The packages build while the hosts boot.
    let dir = debs.path().to_path_buf();
    let builds = std::thread::spawn(move || {
        (
            build_hello(&dir, "1.0-1", ""),
            build_hello(&dir, "1.1-1", "health"),
            build_hello(&dir, "1.2-1", "postinst"),
        )
    });
    lab.up(&["-n", "3", "--lb"]);
    let (good, broken_health, broken_postinst) = builds.join().expect("the builds");
    let status = lab.status();
    let rootfs = PathBuf::from(status["rootfs"].as_str().unwrap());

    step("isolation: dpkg -i on h1 changes neither h2 nor the machine");
    let dpkg_query = || {
        let out = Command::new("dpkg-query")
            .args([
                "-W",
                "-f",
                "${Version} ${db:Status-Abbrev}",
                "hello-service",
            ])
            .output()
            .expect("run dpkg-query");
        (out.status.code(), text(&out.stdout))
    };
    let machine_before = dpkg_query();
    let image_status = || std::fs::read_to_string(rootfs.join("var/lib/dpkg/status")).unwrap();
    let image_before = image_status();
    let install = lab.dpkg_install("h1", &good);
    assert!(
        install.status.success(),
        "dpkg -i on h1: {}",
        text(&install.stderr)
    );
    let version_on = |host: &str| {
        lab.exec_ok(
            host,
            &[
                "dpkg-query",
                "-W",
                "-f",
                "${Version} ${db:Status-Abbrev}",
                "hello-service",
            ],
        )
    };
    assert_eq!(version_on("h1").trim(), "1.0-1 ii");
    let h2 = lab.exec("h2", &["dpkg-query", "-W", "hello-service"]);
    assert_eq!(
        h2.status.code(),
        Some(1),
        "hello-service is known on h2: {}",
        text(&h2.stdout)
    );
    assert_eq!(dpkg_query(), machine_before, "the machine's dpkg changed");
    assert_eq!(image_status(), image_before, "the shared image changed");
    let host_file = |h: &str| {
        lab.state_dir()
            .join(format!("hosts/{h}/upper/usr/bin/hello-service"))
            .exists()
    };
    assert!(
        host_file("h1") && !host_file("h2"),
        "the files are not in h1's own layer only"
    );
    assert!(!rootfs.join("usr/bin/hello-service").exists());

    step("systemd on every host; the package's unit starts, stops and starts");
    for h in ["h1", "h2", "h3"] {
        let state = lab.exec(h, &["systemctl", "is-system-running", "--wait"]);
        let failed = || {
            text(
                &lab.exec(h, &["systemctl", "--failed", "--no-legend"])
                    .stdout,
            )
        };
        assert_eq!(
            text(&state.stdout).trim(),
            "running",
            "{h}: {}; failed units: {}",
            text(&state.stderr),
            failed()
        );
    }
    let version_answer = |url: &str| {
        let out = lab.sh(&format!("curl -fsS --max-time 2 {url}/version"));
        out.status
            .success()
            .then(|| text(&out.stdout).trim().to_string())
    };
    wait_until("h1's service to answer", Duration::from_secs(10), || {
        version_answer("http://10.213.0.11:8080").as_deref() == Some("1.0-1")
    });
    assert_eq!(
        lab.exec_ok("h1", &["systemctl", "is-active", "hello-service"]),
        "active"
    );
    lab.exec_ok("h1", &["systemctl", "stop", "hello-service"]);
    assert_eq!(version_answer("http://10.213.0.11:8080"), None);
    lab.exec_ok("h1", &["systemctl", "start", "hello-service"]);
    wait_until(
        "h1's service to answer again",
        Duration::from_secs(10),
        || version_answer("http://10.213.0.11:8080").is_some(),
    );

    step("the APT repository: h2 (testing) and h3 (production) install from it");
    lab.ok(&["publish", "--suite", "testing", good.to_str().unwrap()]);
    lab.ok(&["publish", "--suite", "production", good.to_str().unwrap()]);
    for h in ["h2", "h3"] {
        lab.exec_ok(
            h,
            &[
                "sh",
                "-c",
                "apt-get update -q >/dev/null && apt-get install -y -q hello-service >/dev/null",
            ],
        );
        assert_eq!(version_on(h).trim(), "1.0-1 ii");
    }
    let policy = lab.exec_ok("h3", &["apt-cache", "policy", "hello-service"]);
    assert!(policy.contains("production/main"), "{policy}");

    step("HAProxy reports every host UP; draining h1 (kept over a reload) moves all traffic away");
    let all_up = |lab: &Lab| lab.lb_states().iter().all(|(_, s)| s == "UP");
    wait_until(
        "every server UP in HAProxy",
        Duration::from_secs(20),
        || all_up(&lab),
    );
    assert_eq!(lab.lb_states().len(), 3);
    let load = lab.load("60", "2s");
    assert_eq!(load["failed"], 0, "{load}");
    for h in ["h1", "h2", "h3"] {
        assert!(
            load["servers"][h].as_u64().unwrap_or(0) > 0,
            "{h} got no traffic: {load}"
        );
    }
    lab.haproxy("set server be_hello/h1 state drain");
    let draining = |lab: &Lab| {
        lab.haproxy("show servers state be_hello")
            .lines()
            .any(|l| l.split(' ').nth(3) == Some("h1") && l.split(' ').nth(6) == Some("8"))
    };
    assert!(draining(&lab), "h1 is not draining (srv_admin_state 8)");
    // A reload (as config management would do) keeps it drained: the server-state file.
    lab.ok(&["reload-lb"]);
    assert!(draining(&lab), "h1 is no longer draining after reload-lb");
    let load = lab.load("60", "2s");
    assert_eq!(load["requests"], 120, "{load}");
    assert_eq!(load["ok"], 120, "{load}");
    assert_eq!(load["servers"]["h1"], serde_json::Value::Null, "{load}");
    assert_eq!(
        load["servers"]["h2"].as_u64().unwrap_or(0) + load["servers"]["h3"].as_u64().unwrap_or(0),
        120,
        "{load}"
    );
    lab.haproxy("set server be_hello/h1 state ready");
    wait_until("h1 UP again", Duration::from_secs(10), || all_up(&lab));

    step("acceptance tests (examples/hello-service/tests/acceptance.sh) through HAProxy");
    let tap = lab.sh(&format!(
        "HELLO_URL=\"$CDKIT_TESTBED_LB_URL\" EXPECTED_VERSION=1.0-1 sh {}",
        workspace_root()
            .join("examples/hello-service/tests/acceptance.sh")
            .display()
    ));
    let tap_text = text(&tap.stdout);
    assert!(tap.status.success(), "{tap_text}{}", text(&tap.stderr));
    assert!(
        tap_text.contains("1..5") && !tap_text.contains("not ok"),
        "{tap_text}"
    );
    assert_eq!(tap_text.lines().filter(|l| l.starts_with("ok ")).count(), 5);

    step("a build with HELLO_BUILD_BROKEN=health fails its health check; HAProxy takes h3 out");
    let install = lab.dpkg_install("h3", &broken_health);
    assert!(install.status.success(), "{}", text(&install.stderr));
    wait_until(
        "h3's /health to answer 503",
        Duration::from_secs(10),
        || {
            lab.sh("curl -s -o /dev/null -w '%{http_code}' http://10.213.0.13:8080/health")
                .stdout
                == b"503"
        },
    );
    wait_until("HAProxy to mark h3 DOWN", Duration::from_secs(10), || {
        lab.lb_states()
            .iter()
            .any(|(s, st)| s == "h3" && st == "DOWN")
    });

    step("a build with HELLO_BUILD_BROKEN=postinst fails only where /etc/cdkit-fail-postinst is");
    lab.exec_ok("h2", &["touch", "/etc/cdkit-fail-postinst"]);
    let on_h1 = lab.dpkg_install("h1", &broken_postinst);
    assert!(on_h1.status.success(), "{}", text(&on_h1.stderr));
    assert_eq!(version_on("h1").trim(), "1.2-1 ii");
    let on_h2 = lab.dpkg_install("h2", &broken_postinst);
    assert!(!on_h2.status.success(), "dpkg -i succeeded on h2");
    assert!(
        text(&on_h2.stderr).contains("postinst fails on purpose"),
        "{}",
        text(&on_h2.stderr)
    );
    assert_eq!(version_on("h2").trim(), "1.2-1 iF");
    let install = lab.dpkg_install("h2", &good);
    assert!(install.status.success(), "{}", text(&install.stderr));

    step("kill-host: h2 is off (ssh exits 255, HAProxy DOWN); heal-host boots it again");
    let boot_time = |h: &str| lab.exec_ok(h, &["sh", "-c", "cut -d' ' -f22 /proc/1/stat"]);
    let h2_boot = boot_time("h2");
    lab.ok(&["kill-host", "h2"]);
    let off = lab.exec("h2", &["true"]);
    assert_eq!(off.status.code(), Some(255), "{}", text(&off.stderr));
    assert_eq!(lab.status()["hosts"][1]["power"], "off");
    wait_until("HAProxy to mark h2 DOWN", Duration::from_secs(10), || {
        lab.lb_states()
            .iter()
            .any(|(s, st)| s == "h2" && st == "DOWN")
    });
    lab.ok(&["heal-host", "h2"]);
    assert_ne!(boot_time("h2"), h2_boot, "h2 was not rebooted");
    assert_eq!(
        lab.exec_ok("h2", &["systemctl", "is-active", "hello-service"]),
        "active",
        "the service did not start at boot"
    );

    step("cut-host: h1 is unreachable but keeps running; heal-host restores the link");
    let h1_boot = boot_time("h1");
    lab.ok(&["cut-host", "h1"]);
    let cut = lab.exec("h1", &["true"]);
    assert_eq!(cut.status.code(), Some(255), "{}", text(&cut.stderr));
    let h1_status = &lab.status()["hosts"][0];
    assert_eq!(
        (h1_status["power"].as_str(), h1_status["link"].as_str()),
        (Some("on"), Some("down"))
    );
    lab.ok(&["heal-host", "h1"]);
    assert_eq!(boot_time("h1"), h1_boot, "h1 was rebooted");

    step("down");
    lab.down();
    assert_eq!(census(&lab), before, "down left something behind");
}

/// After a deliberately failed `up`, and after an `up` killed half-way, `down`
/// leaves the counts as they were before; `down` is idempotent.
#[test]
fn down_cleans_up_after_a_failed_or_killed_up() {
    let _lock = exclusive();

    step("bad invocation: exit 2, one line, nothing made");
    let mut lab = Lab::new("e2ef");
    let before = census(&lab);
    let out = lab.output(&["up", "-n", "0"]);
    assert_eq!(out.status.code(), Some(2));
    assert_eq!(
        text(&out.stderr).trim(),
        "testbed: -n 0: between 1 and 1000 hosts"
    );
    assert_eq!(census(&lab), before);

    step("an up that fails after 2 of 4 hosts cleans up after itself");
    lab.up = true;
    let out = lab
        .command(&["up", "-n", "4"])
        .env("CDKIT_TESTBED_FAIL_AFTER_HOSTS", "2")
        .output()
        .unwrap();
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(
        stderr
            .lines()
            .last()
            .unwrap_or("")
            .starts_with("testbed: up failed: failing on purpose after 2 hosts"),
        "{stderr}"
    );
    assert_eq!(census(&lab), before, "a failed up left something behind");
    let again = lab.output(&["down"]);
    assert!(again.status.success());
    assert!(text(&again.stderr).contains("nothing to remove"));

    step("an up killed (SIGKILL) while hosts boot leaves pieces that down removes");
    let mut crashed = lab
        .command(&["up", "-n", "4"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("start up");
    let third = lab.state_dir().join("pids/h3.pid");
    wait_until("up to start host 3", Duration::from_secs(120), || {
        third.exists()
    });
    lab.seen_netns.extend(netns_inodes(&lab.prefix()));
    crashed.kill().expect("kill up");
    crashed.wait().expect("reap up");
    let left = census(&lab);
    assert!(
        left.processes > 0 && left.netns > 0 && left.cgroups > 0 && left.state_dir_exists,
        "the killed up left nothing, so this test shows nothing: {left:?}"
    );
    lab.down();
    assert_eq!(
        census(&lab),
        before,
        "down after a killed up left something"
    );
    let again = lab.output(&["down"]);
    assert!(again.status.success() && text(&again.stderr).contains("nothing to remove"));
}
