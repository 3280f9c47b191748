//! `scripts/demo`, the main job, passes on this machine and prints zero failed
//! requests; and with `CDKIT_SYSLOG` pointed at a real rsyslog, every log line of the whole run,
//! from every tool and every host, arrives there with its run id and host.
//!
//! The demo's tools run inside the testbed's network namespace (that is where the hosts are),
//! so the collector must listen there too: this test brings the 5-host testbed up itself,
//! starts rsyslogd inside its network namespace, and runs the demo on that testbed
//! (`CDKIT_DEMO_LAB_EXISTS=1`); everything else is the demo as the README gives it.

use cdkit_e2e::{exclusive, text, Lab};
use cdkit_testkit::rsyslog::{local_hostname, Rsyslog};
use cdkit_testkit::workspace_root;
use std::process::Command;
use std::time::Duration;

/// rsyslogd started from a thread that has joined the lab's network namespace (a child process
/// inherits the namespaces of the thread that forks it), so it listens on the lab's loopback.
fn rsyslog_in_lab(lab: &Lab) -> Rsyslog {
    let netns = format!("/run/netns/cdtb_{}_lab", lab.name);
    std::thread::spawn(move || {
        let file = std::fs::File::open(&netns).unwrap_or_else(|e| panic!("open {netns}: {e}"));
        nix::sched::setns(file, nix::sched::CloneFlags::CLONE_NEWNET)
            .unwrap_or_else(|e| panic!("setns {netns}: {e}"));
        Rsyslog::start()
    })
    .join()
    .expect("start rsyslogd in the lab")
}

#[test]
fn the_demo_passes_with_zero_failed_requests_and_every_log_line_reaches_rsyslog() {
    let _lock = exclusive();
    let mut lab = Lab::new("demo");
    lab.ok(&["prepare"]);
    lab.up(&["-n", "5", "--lb"]);
    let rsyslog = rsyslog_in_lab(&lab);
    let reports = tempfile::tempdir().expect("a reports directory");
    let run_id = format!("demo-test-{}", std::process::id());

    let out = Command::new(workspace_root().join("scripts/demo"))
        .env("CDKIT_DEMO_PROFILE", "debug")
        // This test's build made the binaries (target/debug); a `cargo build` here would
        // rebuild them without the test build's dev-dependency features.
        .env("CDKIT_DEMO_BUILD", "0")
        .env("CDKIT_DEMO_REPORTS", reports.path())
        .env("CDKIT_DEMO_LAB", &lab.name)
        .env("CDKIT_DEMO_LAB_EXISTS", "1")
        .env("CDKIT_TESTBED_ROOT", lab.root.path())
        .env("CDKIT_RUN_ID", &run_id)
        .env("CDKIT_SYSLOG", rsyslog.tcp_url())
        .output()
        .expect("run scripts/demo");
    let stdout = text(&out.stdout);
    eprintln!("{stdout}");
    assert!(
        out.status.success(),
        "scripts/demo exited {:?}:\n{stdout}\n{}",
        out.status.code(),
        text(&out.stderr)
    );
    assert!(stdout.contains("; failed requests: 0"), "{stdout}");
    for stage in [
        "1.0: deploy production (rolling-install)",
        "1.1: deploy testing: canary fails, restored",
    ] {
        assert!(stdout.contains(stage), "no stage `{stage}` in the summary");
    }

    // The central log is pure JSON lines, every line with the same fields, as jq reads it.
    // The testbed writes there too (here the test brought the lab up, so one more line of it
    // is added: a status call for a lab that does not exist).
    let central = reports.path().join("cdkit.log.jsonl");
    let testbed = Command::new(workspace_root().join("scripts/testbed"))
        .args(["status", "--name", "no-such-lab"])
        .env("CDKIT_LOG_FILE", &central)
        .env("CDKIT_RUN_ID", &run_id)
        .env("CDKIT_TESTBED_ROOT", lab.root.path())
        .output()
        .expect("run scripts/testbed");
    assert!(!testbed.status.success(), "no such lab");
    let jq = Command::new("jq")
        .arg("-c")
        .arg(".")
        .arg(&central)
        .output()
        .expect("jq (scripts/setup installs it)");
    assert!(jq.status.success(), "jq: {}", text(&jq.stderr));
    let log = std::fs::read_to_string(&central).expect("the demo's central log");
    let all: Vec<serde_json::Value> = log
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not JSON ({e}): {l}")))
        .collect();
    for line in &all {
        for field in ["timestamp", "level", "tool", "run_id", "message"] {
            assert!(line[field].is_string(), "no {field}: {line}");
        }
    }
    assert!(
        all.iter()
            .any(|l| l["tool"] == "testbed" && l["level"] == "ERROR" && l["run_id"] == run_id),
        "the testbed's line is in the central log"
    );

    // The broken release's canary failed for the reason its service logged, and that reason
    // is where a developer looks: the tool's error line, the JUnit failure, the record, the
    // deployment page and the central log (as the service's own line, from h1's journal).
    let reason = "config: missing key HELLO_GREETING";
    let error_line = text(&out.stderr)
        .lines()
        .find(|l| l.starts_with("rolling-install: failed"))
        .map(str::to_string)
        .unwrap_or_else(|| panic!("no error line: {}", text(&out.stderr)));
    assert!(error_line.contains(reason), "{error_line}");
    let junit = std::fs::read_to_string(reports.path().join("rolling-install-testing-2.xml"))
        .expect("the broken deploy's JUnit");
    assert!(
        junit.matches(reason).count() >= 2,
        "message and body: {junit}"
    );
    let record = std::fs::read_to_string(reports.path().join("deploy-testing-2.json"))
        .expect("the broken deploy's record");
    assert!(record.contains(reason), "{record}");
    let page = std::fs::read_to_string(reports.path().join("deploy-testing-2.html"))
        .expect("the broken deploy's page");
    assert!(page.contains(reason), "the page shows the reason");
    assert!(
        stdout.contains("deployment pages (open in a browser):"),
        "{stdout}"
    );
    assert!(
        all.iter().any(|l| l["source"] == "service"
            && l["host"] == "h1"
            && l["message"].as_str().is_some_and(|m| m.contains(reason))),
        "the service's own line is in the central log"
    );

    // Every JSON log line the demo's tools wrote reached rsyslog (the testbed writes only to
    // the file).
    let lines: Vec<serde_json::Value> =
        all.into_iter().filter(|v| v["tool"] != "testbed").collect();
    let tools: std::collections::BTreeSet<&str> =
        lines.iter().filter_map(|l| l["tool"].as_str()).collect();
    for tool in [
        "build-deb",
        "run-tests",
        "publish-repo",
        "db-migrate",
        "rolling-install",
    ] {
        assert!(tools.contains(tool), "no log line of {tool} in {tools:?}");
    }
    let records = rsyslog.assert_every_line_arrived(
        &lines,
        &run_id,
        &local_hostname(),
        Duration::from_secs(20),
    );
    // ... including the output streamed from every host, under that host's name.
    for host in ["h1", "h2", "h3", "h4", "h5"] {
        assert!(
            records.iter().any(|r| r.hostname == host),
            "no record from {host}"
        );
    }
    eprintln!(
        "{} log lines of run {run_id} all arrived at rsyslog ({} records)",
        lines.len(),
        records.len()
    );

    // The JUnit reports of the run are valid.
    cdkit_testkit::assert_valid_junit_in(reports.path());
    drop(rsyslog);
    lab.down();
}
