//! The deployment page in a real browser: `rolling-install page` renders a finished record
//! (a failed canary, restored, with its diagnosis) and a record of a run still going, each
//! with a central log of tool and service lines; headless Chromium loads each page, and the
//! DOM it built (after running whatever the page would run) is checked: the canary marked,
//! the failed host and its diagnosis, every host, the host in progress, and a `<script>` in a
//! host name and in a log line shown as text, never run.
//!
//! Chromium is Debian's `chromium` package (scripts/setup installs it); without it the test
//! fails. The screenshots are kept under `target/artifacts/page/` of the workspace (or
//! `$CDKIT_ARTIFACTS/page/`) for a person to look at.

use std::path::{Path, PathBuf};
use std::process::Command;

use rolling_install::journal::{HostRecord, HostState, Journal, RunNote, Step};
use rolling_install::page;

const RUN: &str = "20261207T100000Z-abcd";
const OTHER_RUN: &str = "20261207T090000Z-ffff";
const DIAGNOSIS: &str = "health: http://10.0.0.1:8080/health answered 503 after 10 probes; \
hello-service.service failed:\nhello-service[812]: config: missing key \"greeting\" in \
/etc/hello-service.conf\nhello-service.service: Main process exited, code=exited, status=1/FAILURE";
const EVIL_HOST: &str = "web<script>document.title='pwned'</script>";
const EVIL_LINE: &str = "request from <script>document.body.innerHTML='owned'</script>";

/// The run's start + `secs` as an RFC 3339 UTC time. The run started 40 s ago, so the live
/// page's time axis (which runs to now) is the run's.
fn at(secs: f64) -> String {
    static BASE: std::sync::OnceLock<chrono::DateTime<chrono::Utc>> = std::sync::OnceLock::new();
    let base = *BASE.get_or_init(|| chrono::Utc::now() - chrono::Duration::seconds(40));
    (base + chrono::Duration::milliseconds((secs * 1000.0) as i64))
        .format("%Y-%m-%dT%H:%M:%S%.3fZ")
        .to_string()
}

fn step(name: &str, start: f64, seconds: f64, ok: bool, detail: &str, restore: bool) -> Step {
    Step {
        step: name.into(),
        started: at(start),
        seconds,
        ok,
        detail: detail.into(),
        restore,
    }
}

/// A host's whole successful turn from `start`: drain, install, health, ready.
fn turn(start: f64, version: &str, restore: bool) -> Vec<Step> {
    vec![
        step("drain haproxy:lb1", start, 2.0, true, "", restore),
        step(
            &format!("install {version}"),
            start + 2.0,
            6.0,
            true,
            "",
            restore,
        ),
        step("health", start + 8.0, 3.0, true, "", restore),
        step("ready haproxy:lb1", start + 11.0, 1.0, true, "", restore),
    ]
}

fn host(name: &str, n: usize, batch: usize, state: HostState, steps: Vec<Step>) -> HostRecord {
    HostRecord {
        name: name.into(),
        address: format!("10.0.0.{n}"),
        previous_version: Some("1.4.1-1".into()),
        recorded: state != HostState::Pending,
        state,
        drained: vec![],
        steps,
        port: None,
        user: None,
        server: Some(name.into()),
        batch: Some(batch),
    }
}

fn journal(hosts: Vec<HostRecord>, finished: Option<f64>, outcome: Option<&str>) -> Journal {
    Journal {
        tool: "rolling-install".into(),
        run_id: RUN.into(),
        package: "hello-service".into(),
        version: "2.0-1".into(),
        group: "production".into(),
        started: at(0.0),
        finished: finished.map(at),
        outcome: outcome.map(str::to_string),
        hosts,
        balancers: vec!["haproxy:lb1:/run/haproxy/admin.sock:be_hello".into()],
        lock_host: None,
        rollbacks: Vec::<RunNote>::new(),
    }
}

/// Batches 1 (canary), 2-4 of 3 hosts each: `web01` .. `web09` and the hostile name.
fn names() -> Vec<String> {
    let mut names: Vec<String> = (1..=9).map(|n| format!("web{n:02}")).collect();
    names.push(EVIL_HOST.into());
    names
}

fn batch_of(n: usize) -> usize {
    match n {
        0 => 1,
        n => 2 + (n - 1) / 3,
    }
}

/// The canary fails its health check, is restored; the other batches never start.
fn failed_canary() -> Journal {
    let hosts = names()
        .iter()
        .enumerate()
        .map(|(n, name)| {
            if n == 0 {
                let mut steps = vec![
                    step("drain haproxy:lb1", 0.5, 2.0, true, "", false),
                    step("install 2.0-1", 2.5, 7.0, true, "", false),
                    step("health", 9.5, 12.0, false, DIAGNOSIS, false),
                ];
                steps.extend(turn(22.0, "1.4.1-1", true)[1..].to_vec());
                host(name, n + 1, 1, HostState::Restored, steps)
            } else {
                host(name, n + 1, batch_of(n), HostState::Pending, vec![])
            }
        })
        .collect();
    journal(hosts, Some(36.0), Some("failed (exit 1)"))
}

/// Batches 1 and 2 done, batch 3 under way: one host in progress (installed, health check
/// running), batch 4 not started.
fn mid_run() -> Journal {
    let hosts = names()
        .iter()
        .enumerate()
        .map(|(n, name)| {
            let batch = batch_of(n);
            let start = match batch {
                1 => 0.5,
                2 => 14.0,
                _ => 28.0,
            };
            match (batch, n) {
                (1 | 2, _) => host(
                    name,
                    n + 1,
                    batch,
                    HostState::Installed,
                    turn(start, "2.0-1", false),
                ),
                (3, 5) => {
                    let steps = turn(start, "2.0-1", false)[..2].to_vec();
                    host(name, n + 1, batch, HostState::InProgress, steps)
                }
                (3, _) => host(
                    name,
                    n + 1,
                    batch,
                    HostState::Installed,
                    turn(start, "2.0-1", false),
                ),
                _ => host(name, n + 1, batch, HostState::Pending, vec![]),
            }
        })
        .collect();
    journal(hosts, None, None)
}

/// Tool and service lines of every started host, a hostile one, and another run's line.
fn central_log(journal: &Journal) -> String {
    let mut lines = Vec::new();
    let line = |v: serde_json::Value| v.to_string();
    lines.push(line(serde_json::json!({
        "timestamp": at(0.0), "level": "INFO", "tool": "build-deb", "run_id": OTHER_RUN,
        "message": "OTHER-RUN-LINE", "host": "web01",
    })));
    // One run id for the whole pipeline: the build's line, and an earlier rollout's.
    lines.push(line(serde_json::json!({
        "timestamp": at(0.2), "level": "INFO", "tool": "build-deb", "run_id": RUN,
        "message": "OTHER-RUN-LINE", "host": "web01",
    })));
    lines.push(line(serde_json::json!({
        "timestamp": at(-600.0), "level": "INFO", "tool": "rolling-install", "run_id": RUN,
        "message": "OTHER-RUN-LINE", "host": "web01",
    })));
    lines.push(line(serde_json::json!({
        "timestamp": at(0.1), "level": "INFO", "tool": "rolling-install", "run_id": RUN,
        "message": "batch 1 (canary): web01",
    })));
    for h in journal.hosts.iter().filter(|h| !h.steps.is_empty()) {
        for (k, s) in h.steps.iter().enumerate() {
            lines.push(line(serde_json::json!({
                "timestamp": s.started, "level": if s.ok { "INFO" } else { "WARN" },
                "tool": "rolling-install", "run_id": RUN, "host": h.name, "step": s.step,
                "message": format!("{}: {}", s.step, if s.ok { "ok" } else { "failed" }),
            })));
            // The service's own lines, collected after the step, stamped with their own time.
            lines.push(line(serde_json::json!({
                "timestamp": s.started, "level": "INFO", "tool": "rolling-install",
                "run_id": RUN, "host": h.name, "step": s.step, "source": "service",
                "unit": "hello-service.service", "service_time": at(0.6 + k as f64),
                "priority": 6,
                "message": format!("hello-service[812]: listening on :8080 ({})", h.name),
            })));
        }
    }
    lines.push(line(serde_json::json!({
        "timestamp": at(10.0), "level": "INFO", "tool": "rolling-install", "run_id": RUN,
        "host": "web01", "step": "health", "source": "service",
        "unit": "hello-service.service", "service_time": at(9.8), "priority": 3,
        "message": "hello-service[812]: config: missing key \"greeting\" in /etc/hello-service.conf",
    })));
    lines.push(line(serde_json::json!({
        "timestamp": at(10.0), "level": "INFO", "tool": "rolling-install", "run_id": RUN,
        "host": "web02", "source": "service", "unit": "hello-service.service",
        "service_time": at(9.9), "priority": 6, "message": EVIL_LINE,
    })));
    lines.join("\n") + "\n"
}

fn chromium() -> PathBuf {
    let path = PathBuf::from("/usr/bin/chromium");
    assert!(
        path.exists(),
        "chromium is not installed: run scripts/setup (it installs Debian's chromium)"
    );
    path
}

fn browser(page: &Path, args: &[&str]) -> std::process::Output {
    let profile = tempfile::tempdir().unwrap();
    let output = Command::new(chromium())
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-dev-shm-usage",
        ])
        .arg(format!("--user-data-dir={}", profile.path().display()))
        .args(args)
        .arg(format!("file://{}", page.display()))
        .output()
        .expect("run chromium");
    assert!(
        output.status.success(),
        "chromium failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    output
}

/// The DOM Chromium built from the page.
fn dom(page: &Path) -> String {
    let out = browser(page, &["--dump-dom"]);
    String::from_utf8(out.stdout).unwrap()
}

/// A screenshot of the page, kept for a person (and CI's artifacts).
fn screenshot(page: &Path, name: &str) -> PathBuf {
    let dir = match std::env::var_os("CDKIT_ARTIFACTS") {
        Some(dir) => PathBuf::from(dir).join("page"),
        None => Path::new(env!("CARGO_MANIFEST_DIR")).join("../../target/artifacts/page"),
    };
    std::fs::create_dir_all(&dir).unwrap();
    let png = dir.join(format!("{name}.png"));
    let _ = std::fs::remove_file(&png);
    browser(
        page,
        &[
            &format!("--screenshot={}", png.display()),
            "--window-size=1400,1000",
            "--hide-scrollbars",
        ],
    );
    let bytes = std::fs::read(&png).expect("chromium wrote the screenshot");
    assert!(
        bytes.starts_with(b"\x89PNG") && bytes.len() > 10_000,
        "{}",
        png.display()
    );
    png
}

/// `rolling-install page` on `journal` and its central log; the page's path.
fn render(dir: &Path, journal: &Journal) -> PathBuf {
    let record = dir.join("record.json");
    journal.save(&record).unwrap();
    let log = dir.join("central.log");
    std::fs::write(&log, central_log(journal)).unwrap();
    let page = dir.join("deploy.html");
    let out = Command::new(env!("CARGO_BIN_EXE_rolling-install"))
        .args(["page", "--record"])
        .arg(&record)
        .arg("--central-log")
        .arg(&log)
        .arg("--output")
        .arg(&page)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    page
}

/// The checks both pages pass: every host there, hostile text as text, nothing external.
fn common_checks(html: &str, dom: &str, journal: &Journal) {
    assert!(
        !html.contains("http://www.") && !html.contains("https://") && !html.contains("<script"),
        "the page must be self-contained and script-free"
    );
    for h in &journal.hosts {
        let escaped = h.name.replace('<', "&lt;").replace('>', "&gt;");
        assert!(dom.contains(&escaped), "host {} missing", h.name);
    }
    assert!(
        !dom.to_lowercase().contains("<script"),
        "a script element was built"
    );
    assert!(dom.contains("web&lt;script&gt;document.title="));
    assert!(!dom.contains("<title>pwned"));
    assert!(
        !dom.contains("OTHER-RUN-LINE"),
        "another run's line was shown"
    );
}

#[test]
fn a_failed_canary_in_chromium() {
    let dir = tempfile::tempdir().unwrap();
    let journal = failed_canary();
    let page = render(dir.path(), &journal);
    let html = std::fs::read_to_string(&page).unwrap();
    let dom = dom(&page);
    common_checks(&html, &dom, &journal);
    assert!(
        !html.contains("http-equiv=\"refresh\""),
        "a finished page must not reload"
    );
    // The canary is marked, failed, restored, and its diagnosis is on the page, outside any
    // closed <details>.
    let canary = dom
        .split("id=\"host-0\"")
        .nth(1)
        .expect("the canary's block");
    let canary = &canary[..canary.find("</details>").unwrap()];
    assert!(canary.starts_with(" data-host=\"web01\" data-state=\"restored\" data-canary=\"true\""));
    assert!(canary.contains("badge canary"));
    assert!(canary.contains("badge failed"));
    assert!(
        canary.contains("1.4.1-1 → 1.4.1-1"),
        "versions before and after: {canary}"
    );
    let diag = &canary[canary
        .find("<pre class=\"diag\">")
        .expect("diagnosis block")..];
    // (Chromium serialises text with the quotes as they are.)
    assert!(diag.contains(
        "hello-service[812]: config: missing key \"greeting\" in /etc/hello-service.conf"
    ));
    assert!(canary.find("<pre class=\"diag\">") < canary.find("<details"));
    assert!(
        canary.contains("<details open"),
        "a failed host's log is open"
    );
    // Its log: tool and service lines, the service's error among them.
    assert!(canary.contains("class=\"svc\">hello-service.service"));
    assert!(canary.contains("listening on :8080 (web01)"));
    // The failure is summed up at the top, with the outcome.
    assert!(dom.contains("id=\"attention\""));
    assert!(dom.contains("failed (exit 1)"));
    assert!(dom.contains("Batch 1 — canary"));
    assert!(dom.contains("Batch 4"));
    // The failed step is drawn red.
    assert!(dom.contains("fill=\"#d62728\"><title>health: 12.0 s FAILED"));
    let png = screenshot(&page, "failed-canary");
    eprintln!("screenshot: {}", png.display());
}

/// The live page of `journal` (as `--report` writes it while the run goes on).
fn render_live(dir: &Path, journal: &Journal) -> PathBuf {
    let log = dir.join("central.log");
    std::fs::write(&log, central_log(journal)).unwrap();
    let logs = page::Logs::read(journal, &log).unwrap();
    let path = dir.join("live.html");
    page::write(&path, &page::render(journal, Some(&logs), true)).unwrap();
    path
}

#[test]
fn a_run_in_progress_in_chromium() {
    let dir = tempfile::tempdir().unwrap();
    let journal = mid_run();
    let page = render_live(dir.path(), &journal);
    let html = std::fs::read_to_string(&page).unwrap();
    assert!(html.contains("<meta http-equiv=\"refresh\" content=\"2\">"));
    let dom = dom(&page);
    common_checks(&html, &dom, &journal);
    // A log line with a script in it is text (on web02's panel).
    assert!(dom.contains("request from &lt;script&gt;document.body.innerHTML="));
    assert!(!dom.contains(">owned<"));
    // web06 is in progress: marked, its block open, its running bar drawn.
    let block = dom.split("id=\"host-5\"").nth(1).expect("web06's block");
    let block = &block[..block.find("</details>").unwrap()];
    assert!(block.starts_with(" data-host=\"web06\" data-state=\"in-progress\""));
    assert!(block.contains(">in progress<"));
    assert!(block.contains("class=\"running\""));
    assert!(block.contains("<details open"));
    assert!(dom.contains("class=\"outcome\">in progress<"));
    // Batches 2 and 3 ran: their hosts' bars are there, in batch sections.
    assert!(dom.contains("data-batch=\"2\"") && dom.contains("data-batch=\"3\""));
    screenshot(&page, "in-progress");
}

#[test]
fn bad_input_is_one_line_exit_2_and_no_page() {
    let dir = tempfile::tempdir().unwrap();
    let record = dir.path().join("record.json");
    failed_canary().save(&record).unwrap();
    let page = dir.path().join("deploy.html");
    let run = |record: &Path, log: Option<&Path>| {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_rolling-install"));
        cmd.args(["page", "--record"]).arg(record);
        if let Some(log) = log {
            cmd.arg("--central-log").arg(log);
        }
        cmd.arg("--output").arg(&page).output().unwrap()
    };
    let not_a_record = dir.path().join("not-a-record.json");
    std::fs::write(&not_a_record, "{\"hello\": 1}").unwrap();
    let bad_log = dir.path().join("bad.log");
    std::fs::write(&bad_log, "{\"run_id\":\"x\"}\nthis is not json\n").unwrap();
    let cases: [(&Path, Option<&Path>, &str); 4] = [
        (&not_a_record, None, "not-a-record.json"),
        (&dir.path().join("missing.json"), None, "missing.json"),
        (
            &record,
            Some(&dir.path().join("missing.log")),
            "missing.log",
        ),
        (&record, Some(&bad_log), "bad.log, line 2"),
    ];
    for (record, log, named) in cases {
        let out = run(record, log);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{stderr}");
        assert_eq!(stderr.trim().lines().count(), 1, "{stderr}");
        assert!(stderr.contains(named), "{stderr}");
        assert!(!page.exists(), "a page was written for {named}");
    }
}

/// `--report` on a real run: two hosts (a real sshd on loopback stands in for both) already
/// on the version asked for, so the run changes nothing; the page is written, final (no
/// refresh), with both hosts in their batches and the run's log lines, and `page` renders the
/// same record afterwards.
#[test]
fn report_is_written_by_a_real_run() {
    let sshd = cdkit_testkit::sshd::start_sshd();
    let dir = tempfile::tempdir().unwrap();
    let inventory = dir.path().join("hosts.ini");
    std::fs::write(
        &inventory,
        format!(
            "[web]\nweb01 ansible_host=127.0.0.1 ansible_port={p} ansible_user=root\n\
             web02 ansible_host=127.0.0.1 ansible_port={p} ansible_user=root\n",
            p = sshd.port
        ),
    )
    .unwrap();
    let version = String::from_utf8(
        Command::new("dpkg-query")
            .args(["--show", "--showformat=${Version}", "dpkg"])
            .output()
            .unwrap()
            .stdout,
    )
    .unwrap();
    let (record, report, log) = (
        dir.path().join("record.json"),
        dir.path().join("deploy.html"),
        dir.path().join("central.log"),
    );
    let out = Command::new(env!("CARGO_BIN_EXE_rolling-install"))
        .args(["--inventory", inventory.to_str().unwrap(), "--group", "web"])
        .args(["--ssh-config", sshd.ssh_config().to_str().unwrap()])
        .args(["--package", "dpkg", "--version", &version, "--no-lock"])
        .args(["--batch", "1,1", "--progress", "plain"])
        .arg("--record")
        .arg(&record)
        .arg("--report")
        .arg(&report)
        .arg("--log-file")
        .arg(&log)
        .env("CDKIT_RUN_ID", "page-report-1")
        .env_remove("CDKIT_SYSLOG")
        .env_remove("CDKIT_LOG_FILE")
        .env_remove("ROLLING_INSTALL_REPORT")
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{stderr}");
    let html = std::fs::read_to_string(&report).unwrap();
    assert!(
        !html.contains("http-equiv=\"refresh\""),
        "the final page reloads"
    );
    assert!(html.contains("success (exit 0)"), "{html}");
    assert!(html.contains("data-host=\"web01\" data-state=\"installed\" data-canary=\"true\""));
    assert!(html.contains("data-host=\"web02\" data-state=\"installed\""));
    assert!(html.contains("data-batch=\"2\""));
    // The run's own lines (the batches it announced) are on it.
    assert!(html.contains("batch 2 (rolling): web02"), "{html}");
    let journal = Journal::load(&record).unwrap();
    assert_eq!(
        journal.hosts.iter().map(|h| h.batch).collect::<Vec<_>>(),
        [Some(1), Some(2)]
    );
    let again = dir.path().join("again");
    std::fs::create_dir(&again).unwrap();
    let again = render(&again, &journal);
    let again = std::fs::read_to_string(again).unwrap();
    assert!(again.contains("data-host=\"web02\" data-state=\"installed\""));
}
