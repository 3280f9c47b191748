//! Central logging through a real rsyslog on loopback: every log line of a run-tests
//! run, its own and its test command's streamed output, arrives over TCP and over UDP with the
//! run id and the host; `--log-file` holds the same lines; a collector that is down costs
//! counted drops and one notice, never the run.

use std::io::Write;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::Duration;

use cdkit_testkit::rsyslog::{local_hostname, Rsyslog};

const BIN: &str = env!("CARGO_BIN_EXE_run-tests");

/// A TAP command whose output needs escaping on the way: quotes, brackets, backslashes, a
/// stderr line, and non-ASCII text.
const TAP: &str = r#"echo 'TAP version 14'
echo '1..3'
echo 'ok 1 - plain'
printf '%s\n' 'ok 2 - with "quotes" and [brackets] and \backslash\ and ] alone'
echo 'diagnostic on stderr: ünïcödé' >&2
echo 'not ok 3 - a failure # TODO later'
"#;

fn script(dir: &Path) -> PathBuf {
    let path = dir.join("t.sh");
    let mut f = std::fs::File::create(&path).unwrap();
    write!(f, "#!/bin/sh\n{TAP}").unwrap();
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
    path
}

fn run(dir: &Path, run_id: &str, extra: &[&str]) -> Output {
    let report = dir.join("report.xml");
    let out = Command::new(BIN)
        .args(["--log-format", "json", "--suite", "unit", "--junit"])
        .arg(&report)
        .args(extra)
        .arg("--")
        .arg(script(dir))
        .current_dir(dir)
        .env("CDKIT_RUN_ID", run_id)
        .env_remove("CDKIT_SYSLOG")
        .env_remove("CDKIT_LOG_FILE")
        .env_remove("JUNIT_OUTPUT")
        .output()
        .unwrap();
    if report.exists() {
        cdkit_testkit::assert_valid_junit(&report);
    }
    out
}

/// Every stderr line, each of which must be a JSON object.
fn json_lines(text: &str) -> Vec<serde_json::Value> {
    text.lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not JSON ({e}): {l}")))
        .collect()
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

fn check_transport(rsyslog: Rsyslog, url: impl Fn(&Rsyslog) -> String, run_id: &str) {
    let dir = tempfile::tempdir().unwrap();
    let log_file = dir.path().join("run.jsonl");
    let out = run(
        dir.path(),
        run_id,
        &[
            "--syslog",
            &url(&rsyslog),
            "--log-file",
            log_file.to_str().unwrap(),
        ],
    );
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let lines = json_lines(&stderr(&out));
    // The file holds exactly what stderr showed.
    let file_lines = json_lines(&std::fs::read_to_string(&log_file).unwrap());
    assert_eq!(file_lines, lines);
    // The command's output is among the lines, with its stream.
    for (stream, text) in [
        (
            "stdout",
            r#"ok 2 - with "quotes" and [brackets] and \backslash\ and ] alone"#,
        ),
        ("stderr", "diagnostic on stderr: ünïcödé"),
    ] {
        assert!(
            lines
                .iter()
                .any(|l| l["message"] == text && l["stream"] == stream),
            "{text:?} not logged from {stream}:\n{}",
            stderr(&out)
        );
    }
    let host = local_hostname();
    let records = rsyslog.assert_every_line_arrived(&lines, run_id, &host, Duration::from_secs(10));
    let streamed = records
        .iter()
        .find(|r| r.message == "diagnostic on stderr: ünïcödé")
        .unwrap();
    assert_eq!(streamed.param("cdkit@32473", "stream"), Some("stderr"));
    assert_eq!(streamed.param("cdkit@32473", "tool"), Some("run-tests"));
    assert_eq!(streamed.param("cdkit@32473", "suite"), Some("unit"));
    assert_eq!(streamed.procid.parse::<u32>().map(|_| ()), Ok(()));
    assert!(records.iter().all(|r| (3..=7).contains(&r.severity)));
}

#[test]
fn every_line_arrives_over_tcp_with_run_id_and_host() {
    check_transport(Rsyslog::start(), Rsyslog::tcp_url, "syslog-tcp-1");
}

#[test]
fn every_line_arrives_over_udp_with_run_id_and_host() {
    check_transport(Rsyslog::start(), Rsyslog::udp_url, "syslog-udp-1");
}

/// RFC 5425 against rsyslog's gtls driver, with a CA made for the test: every line arrives
/// with every field intact (the same checks as over TCP and UDP).
#[test]
fn every_line_arrives_over_tls_with_run_id_and_host() {
    check_transport(Rsyslog::start_tls(), Rsyslog::tls_url, "syslog-tls-1");
}

/// A collector whose certificate does not chain to the given CA gets nothing: the run still
/// succeeds, with one notice naming the failed handshake and the count of dropped lines.
#[test]
fn a_tls_collector_with_an_unknown_certificate_gets_nothing() {
    let rsyslog = Rsyslog::start_tls();
    let dir = tempfile::tempdir().unwrap();
    // A CA of its own, not the collector's: the system store does not know the test CA either.
    let other = Rsyslog::start_tls();
    let url = format!(
        "tls://127.0.0.1:{}?ca={}",
        rsyslog.port,
        other.dir.path().join("ca.pem").display()
    );
    let out = run(dir.path(), "syslog-tls-bad-1", &["--syslog", &url]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let text = stderr(&out);
    assert!(text.contains("TLS handshake"), "{text}");
    assert!(
        text.contains("did not reach the syslog collector"),
        "{text}"
    );
    std::thread::sleep(Duration::from_millis(300));
    assert!(rsyslog.records().is_empty(), "{:?}", rsyslog.records());
}

#[test]
fn a_collector_that_is_down_costs_one_notice_and_a_count_not_the_run() {
    let dir = tempfile::tempdir().unwrap();
    // A TCP port nothing listens on.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let log_file = dir.path().join("run.jsonl");
    let out = run(
        dir.path(),
        "syslog-down-1",
        &[
            "--syslog",
            &format!("tcp://127.0.0.1:{port}"),
            "--log-file",
            log_file.to_str().unwrap(),
        ],
    );
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let lines = json_lines(&stderr(&out));
    let about_syslog: Vec<&serde_json::Value> = lines
        .iter()
        .filter(|l| {
            l["message"]
                .as_str()
                .is_some_and(|m| m.contains("syslog collector"))
        })
        .collect();
    assert_eq!(about_syslog.len(), 2, "{}", stderr(&out));
    assert!(about_syslog[0]["message"]
        .as_str()
        .unwrap()
        .contains("are dropped (and counted)"));
    assert!(
        about_syslog[1]["message"]
            .as_str()
            .unwrap()
            .contains("did not reach the syslog collector"),
        "{}",
        stderr(&out)
    );
    // The file still has every log line (the notices are about this run's logging, on stderr).
    let file_lines = json_lines(&std::fs::read_to_string(&log_file).unwrap());
    assert_eq!(file_lines.len(), lines.len() - 2);
}

#[test]
fn bad_collectors_and_log_files_exit_2_with_one_line() {
    let dir = tempfile::tempdir().unwrap();
    let out = run(
        dir.path(),
        "syslog-bad-1",
        &["--syslog", "logs.example.com:514"],
    );
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(stderr(&out).contains("\"logs.example.com:514\" is not a syslog collector"));
    let out = run(
        dir.path(),
        "syslog-bad-2",
        &["--log-file", dir.path().to_str().unwrap()],
    );
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    let text = stderr(&out);
    assert_eq!(text.lines().count(), 1, "{text}");
    assert!(text.contains("cannot open the log file"), "{text}");
    // A log file planted as a symbolic link (in a shared directory) is not followed: the file
    // it names is neither appended to nor created.
    let target = dir.path().join("precious");
    std::fs::write(&target, "keep\n").unwrap();
    let link = dir.path().join("run.jsonl");
    std::os::unix::fs::symlink(&target, &link).unwrap();
    let out = run(
        dir.path(),
        "syslog-bad-3",
        &["--log-file", link.to_str().unwrap()],
    );
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    let text = stderr(&out);
    assert_eq!(text.lines().count(), 1, "{text}");
    assert!(text.contains("symbolic link"), "{text}");
    assert_eq!(std::fs::read_to_string(&target).unwrap(), "keep\n");
}
