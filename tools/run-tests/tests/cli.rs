//! End-to-end tests of the `run-tests` binary: real commands, real process groups and signals,
//! every report checked by xmllint against the xunit schema and by an independent reader.

use std::io::Write;
use std::os::unix::fs::PermissionsExt;
use std::path::PathBuf;
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use cdkit_testkit::{assert_valid_junit, python_junit_counts, Counts};

const BIN: &str = env!("CARGO_BIN_EXE_run-tests");

struct Dir {
    tmp: tempfile::TempDir,
}

impl Dir {
    fn new() -> Dir {
        Dir {
            tmp: tempfile::tempdir().unwrap(),
        }
    }

    fn path(&self, name: &str) -> PathBuf {
        self.tmp.path().join(name)
    }

    /// Write an executable shell script.
    fn script(&self, name: &str, body: &str) -> PathBuf {
        let path = self.path(name);
        let mut f = std::fs::File::create(&path).unwrap();
        write!(f, "#!/bin/sh\n{body}").unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
        path
    }

    fn report(&self) -> PathBuf {
        self.path("reports/out.xml")
    }

    /// Run run-tests with `args`, the report going to `reports/out.xml`.
    fn run(&self, args: &[&str]) -> Output {
        Command::new(BIN)
            .arg("--junit")
            .arg(self.report())
            .args(args)
            .current_dir(self.tmp.path())
            .env_remove("JUNIT_OUTPUT")
            .env("CDKIT_RUN_ID", "test-run-1")
            .output()
            .unwrap()
    }

    fn xml(&self) -> String {
        let report = self.report();
        assert_valid_junit(&report);
        std::fs::read_to_string(report).unwrap()
    }
}

fn code(out: &Output) -> i32 {
    out.status.code().unwrap_or(-1)
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// A TAP stream with every kind of result plus ANSI colours and raw control bytes.
const NASTY_TAP: &str = r#"printf 'TAP version 14\n1..8\n'
printf 'ok 1 - \033[32mgreen\033[0m pass\n'
printf 'not ok 2 - assertion with colours \033[1;31mRED\033[0m\n'
printf '  ---\n  message: "expected 1, got 2"\n  at: t/basic.t line 12\n  raw: "\033[31m"\n  ...\n'
printf 'ok 3 - needs network # SKIP offline\n'
printf 'not ok 4 - unfinished feature # TODO later\n'
printf '# diagnostics with NUL \000 ESC \033 and U+FFFE \357\277\276 and BEL \007\n'
printf 'ok 5 - after diagnostics\n'
printf 'not ok 6 - binary output \001\002\003\n'
printf 'Bail out! cannot reach the database\n'
printf 'stderr line \033[33mwarning\033[0m\n' >&2
exit 1
"#;

#[test]
fn nasty_tap_gives_a_valid_report_that_an_independent_reader_counts_right() {
    let dir = Dir::new();
    let script = dir.script("nasty.sh", NASTY_TAP);
    let out = dir.run(&["--suite", "unit", "--", script.to_str().unwrap()]);
    assert_eq!(code(&out), 1, "{}", stderr(&out));
    let xml = dir.xml();
    assert!(!xml.contains('\u{1b}') && !xml.contains('\u{0}') && !xml.contains('\u{fffe}'));
    assert!(xml.contains("<testsuites name=\"run-tests\""));
    assert!(xml.contains("<testsuite name=\"run-tests.unit\""));
    assert!(xml.contains("classname=\"run-tests.unit.nasty_sh\""));
    assert!(xml.contains("message=\"expected 1, got 2\""), "{xml}");
    // passes: 1, 5; failures: 2, 6; skipped: 3 (SKIP), 4 (failing TODO);
    // errors: the bail-out and planned tests 7 and 8 that never ran.
    assert_eq!(
        python_junit_counts(&dir.report()),
        Counts {
            tests: 9,
            failures: 2,
            errors: 3,
            skipped: 2,
            passed: 2,
            flaky: 0,
            reruns: 0
        }
    );
}

#[test]
fn all_passing_tap_exits_0() {
    let dir = Dir::new();
    let script = dir.script("ok.sh", "echo 1..2; echo ok 1 - a; echo ok 2 - b\n");
    let out = dir.run(&["--", script.to_str().unwrap()]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    let counts = python_junit_counts(&dir.report());
    assert_eq!((counts.tests, counts.passed), (2, 2));
    dir.xml();
}

/// A refused invocation still leaves its `--junit` report, with the reason as an error case:
/// Jenkins' junit step then shows why instead of "no test report files were found".
#[test]
fn usage_errors_exit_2_with_one_line_and_a_report_with_the_reason() {
    let dir = Dir::new();
    let cases: [&[&str]; 4] = [
        &["--suite", "../evil", "--", "true"],
        &[], // no command
        &["--timeout", "soon", "--", "true"],
        &["--format", "junit", "--", "true"], // junit format without --junit-in
    ];
    for args in cases {
        let out = dir.run(args);
        assert_eq!(code(&out), 2, "{args:?}: {}", stderr(&out));
        let err = stderr(&out);
        assert!(!err.trim().is_empty(), "{args:?}");
        assert!(dir.report().exists(), "{args:?} wrote no report");
        cdkit_testkit::assert_valid_junit(&dir.report());
        let xml = std::fs::read_to_string(dir.report()).unwrap();
        assert!(xml.contains("<error"), "{args:?}: {xml}");
        std::fs::remove_file(dir.report()).unwrap();
    }
    let out = Command::new(BIN)
        .args(["--", "true"])
        .env_remove("JUNIT_OUTPUT")
        .output()
        .unwrap();
    assert_eq!(code(&out), 2);
    assert!(stderr(&out).contains("--junit"), "{}", stderr(&out));
}

#[test]
fn a_missing_program_exits_2_and_still_reports_an_error_case() {
    let dir = Dir::new();
    let out = dir.run(&["--", "/no/such/test-runner"]);
    assert_eq!(code(&out), 2, "{}", stderr(&out));
    let xml = dir.xml();
    assert!(xml.contains("type=\"spawn\""), "{xml}");
    assert!(stderr(&out).contains("/no/such/test-runner") || xml.contains("/no/such/test-runner"));
}

#[test]
fn no_tests_exits_4_with_a_skipped_case_unless_allowed() {
    let dir = Dir::new();
    let script = dir.script("empty.sh", "echo '1..0 # SKIP no tests on this platform'\n");
    let out = dir.run(&["--", script.to_str().unwrap()]);
    assert_eq!(code(&out), 4, "{}", stderr(&out));
    let xml = dir.xml();
    assert!(
        xml.contains(
            "<skipped message=\"the TAP plan skipped everything: no tests on this platform\""
        ),
        "{xml}"
    );
    let out = dir.run(&["--allow-empty", "--", script.to_str().unwrap()]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    assert_eq!(python_junit_counts(&dir.report()).skipped, 1);

    // JUnit format: a command that writes no report and exits 0 ran no tests.
    let out = dir.run(&["--junit-in", "build/*.xml", "--", "true"]);
    assert_eq!(code(&out), 4, "{}", stderr(&out));
    dir.xml();
}

#[test]
fn exit_status_fallback_is_one_case() {
    let dir = Dir::new();
    let out = dir.run(&["--suite", "lint", "--", "sh", "-c", "echo checking; exit 3"]);
    assert_eq!(code(&out), 1);
    let xml = dir.xml();
    assert!(
        xml.contains("message=\"the command ended with exit status 3\""),
        "{xml}"
    );
    assert!(xml.contains("<system-out>checking"), "{xml}");
    let out = dir.run(&["--suite", "lint", "--", "sh", "-c", "echo fine"]);
    assert_eq!(code(&out), 0);
    assert_eq!(python_junit_counts(&dir.report()).passed, 1);
}

#[test]
fn timeout_exits_124_and_leaves_no_process_behind() {
    let dir = Dir::new();
    let pids = dir.path("pids");
    // A child that ignores TERM and a grandchild in the background, both recording their pids.
    let script = dir.script(
        "hang.sh",
        &format!(
            "echo 1..3\necho ok 1 - started\n\
             (trap '' TERM; sleep 600 & echo $! >> {p}; wait) &\necho $! >> {p}\n\
             sh -c 'echo $$ >> {p}; exec sleep 600'\n",
            p = pids.display()
        ),
    );
    let started = Instant::now();
    let out = dir.run(&[
        "--timeout",
        "1s",
        "--grace",
        "500ms",
        "--",
        script.to_str().unwrap(),
    ]);
    assert_eq!(code(&out), 124, "{}", stderr(&out));
    assert!(started.elapsed() < Duration::from_secs(30));
    let xml = dir.xml();
    assert!(xml.contains("type=\"timeout\""), "{xml}");
    assert!(xml.contains("stopped by --timeout 1s"), "{xml}");
    let recorded = std::fs::read_to_string(&pids).unwrap();
    assert_eq!(recorded.lines().count(), 3, "{recorded}");
    for pid in recorded.lines() {
        let pid = nix::unistd::Pid::from_raw(pid.trim().parse().unwrap());
        assert_eq!(
            nix::sys::signal::kill(pid, None),
            Err(nix::errno::Errno::ESRCH),
            "process {pid} outlived the timeout"
        );
    }
}

/// A test that fails on its first `fail_times` runs, then passes (state kept in a file).
fn flaky_script(dir: &Dir, fail_times: u32) -> PathBuf {
    let counter = dir.path("runs");
    dir.script(
        "flaky.sh",
        &format!(
            "n=$(cat {c} 2>/dev/null || echo 0); n=$((n+1)); echo $n > {c}\n\
             echo 1..2\necho ok 1 - stable\n\
             if [ $n -le {fail_times} ]; then printf 'not ok 2 - wobbly\\n  ---\\n  message: run %s\\n  ...\\n' $n; exit 1; fi\n\
             echo ok 2 - wobbly\n",
            c = counter.display()
        ),
    )
}

#[test]
fn a_pass_on_retry_is_flaky_and_exits_0() {
    let dir = Dir::new();
    let script = flaky_script(&dir, 2);
    let out = dir.run(&["--retries", "3", "--", script.to_str().unwrap()]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    let xml = dir.xml();
    assert_eq!(xml.matches("<flakyFailure").count(), 2, "{xml}");
    assert!(!xml.contains("<failure"));
    assert!(xml.contains("<property name=\"attempts\" value=\"3\"/>"));
    let counts = python_junit_counts(&dir.report());
    assert_eq!(
        (counts.tests, counts.passed, counts.flaky, counts.failures),
        (2, 2, 2, 0)
    );
}

#[test]
fn flaky_is_failure_exits_1() {
    let dir = Dir::new();
    let script = flaky_script(&dir, 1);
    let out = dir.run(&[
        "--retries",
        "1",
        "--flaky-is-failure",
        "--",
        script.to_str().unwrap(),
    ]);
    assert_eq!(code(&out), 1, "{}", stderr(&out));
    let xml = dir.xml();
    assert!(xml.contains("type=\"flaky\""), "{xml}");
    assert_eq!(xml.matches("<rerunFailure").count(), 1);
}

#[test]
fn failing_every_attempt_is_a_failure_with_rerun_failures() {
    let dir = Dir::new();
    let script = flaky_script(&dir, 99);
    let out = dir.run(&["--retries", "2", "--", script.to_str().unwrap()]);
    assert_eq!(code(&out), 1, "{}", stderr(&out));
    let xml = dir.xml();
    assert_eq!(xml.matches("<failure").count(), 1, "{xml}");
    assert_eq!(xml.matches("<rerunFailure").count(), 2, "{xml}");
    assert!(
        xml.contains("message=\"run 3\""),
        "the last attempt is the failure: {xml}"
    );
    let counts = python_junit_counts(&dir.report());
    assert_eq!((counts.tests, counts.failures, counts.reruns), (2, 1, 2));
}

#[test]
fn junit_files_from_the_command_are_merged_and_prefixed() {
    let dir = Dir::new();
    let script = dir.script(
        "pytest.sh",
        r#"mkdir -p build
cat > build/a.xml <<'X'
<testsuite name="pytest"><testcase classname="tests.test_api" name="test_ok" time="0.25"/>
<testcase classname="tests.test_api" name="test_bad"><failure message="assert 1 == 2">E   assert 1 == 2</failure></testcase></testsuite>
X
cat > build/b.xml <<'X'
<testsuites><testsuite name="other"><testcase classname="tests.test_db" name="test_colour"><system-out>[31mred[0m</system-out></testcase></testsuite></testsuites>
X
exit 1
"#,
    );
    // A stale report from an earlier build must be ignored.
    std::fs::create_dir_all(dir.path("build")).unwrap();
    std::fs::write(
        dir.path("build/stale.xml"),
        "<testsuite name=\"old\"><testcase name=\"ghost\"/></testsuite>",
    )
    .unwrap();
    let old = std::time::SystemTime::now() - Duration::from_secs(3600);
    std::fs::File::options()
        .write(true)
        .open(dir.path("build/stale.xml"))
        .unwrap()
        .set_modified(old)
        .unwrap();

    let out = dir.run(&[
        "--suite",
        "api",
        "--junit-in",
        "build/*.xml",
        "--",
        script.to_str().unwrap(),
    ]);
    assert_eq!(code(&out), 1, "{}", stderr(&out));
    let xml = dir.xml();
    assert!(
        xml.contains("classname=\"run-tests.api.tests.test_api\""),
        "{xml}"
    );
    assert!(xml.contains("classname=\"run-tests.api.tests.test_db\""));
    assert!(!xml.contains("ghost"));
    assert!(xml.contains("time=\"0.250\""));
    let counts = python_junit_counts(&dir.report());
    assert_eq!((counts.tests, counts.failures, counts.passed), (3, 1, 2));
}

#[test]
fn json_logs_are_one_object_per_line_with_tool_and_run_id() {
    let dir = Dir::new();
    let script = dir.script(
        "t.sh",
        "echo 1..1; echo 'not ok 1 - x'; printf 'noise \\033[31m\\n' >&2; exit 1\n",
    );
    let out = dir.run(&["--log-format", "json", "--", script.to_str().unwrap()]);
    assert_eq!(code(&out), 1);
    let err = stderr(&out);
    let mut lines = 0;
    for line in err.lines() {
        let v: serde_json::Value =
            serde_json::from_str(line).unwrap_or_else(|e| panic!("not JSON ({e}): {line:?}"));
        assert_eq!(v["tool"], "run-tests", "{line}");
        assert_eq!(v["run_id"], "test-run-1", "{line}");
        assert!(v["timestamp"].is_string() && v["level"].is_string() && v["message"].is_string());
        lines += 1;
    }
    assert!(lines >= 4, "{err}");
    assert!(
        err.contains("\"stream\":\"stderr\""),
        "child output is in the log: {err}"
    );
    assert!(
        !err.contains("\\u001b"),
        "ANSI escapes are stripped from log lines"
    );
}

#[test]
fn cdkit_log_filters_lines_and_a_bad_filter_is_a_usage_error() {
    let dir = Dir::new();
    let script = dir.script("t.sh", "echo 1..1; echo ok 1 - quiet-marker\n");
    let run = |filter: &str| {
        Command::new(BIN)
            .arg("--junit")
            .arg(dir.report())
            .args(["--", script.to_str().unwrap()])
            .env("CDKIT_LOG", filter)
            .output()
            .unwrap()
    };
    let out = run("warn");
    assert_eq!(code(&out), 0);
    assert!(!stderr(&out).contains("quiet-marker"), "{}", stderr(&out));
    let out = run("info");
    assert!(stderr(&out).contains("quiet-marker"));
    let out = run("info,[[[");
    assert_eq!(code(&out), 2, "{}", stderr(&out));
    assert!(stderr(&out).contains("CDKIT_LOG"), "{}", stderr(&out));
}

#[test]
fn every_progress_mode_runs_and_plain_lines_count_tests() {
    let dir = Dir::new();
    let script = dir.script("t.sh", "echo 1..2; echo ok 1 - a; echo ok 2 - b\n");
    for mode in ["auto", "bar", "plain", "none"] {
        let out = dir.run(&["--progress", mode, "--", script.to_str().unwrap()]);
        assert_eq!(code(&out), 0, "{mode}: {}", stderr(&out));
        dir.xml();
        if mode == "plain" || mode == "auto" {
            assert!(
                stderr(&out).contains("[2/2] tests attempt 1/1: 2 results, 0 failed, exit 0"),
                "{}",
                stderr(&out)
            );
        }
    }
}

#[test]
fn secrets_never_reach_the_log_or_the_report() {
    let dir = Dir::new();
    let script = dir.script(
        "leak.sh",
        "echo \"url postgres://app:$DB_PASSWORD@db/x and $DB_PASSWORD\"; exit 1\n",
    );
    let out = Command::new(BIN)
        .args(["--junit"])
        .arg(dir.report())
        .args(["--", script.to_str().unwrap()])
        .env("DB_PASSWORD", "hunter2-secret")
        .output()
        .unwrap();
    assert_eq!(code(&out), 1);
    assert!(!stderr(&out).contains("hunter2-secret"), "{}", stderr(&out));
    let xml = dir.xml();
    assert!(!xml.contains("hunter2-secret"), "{xml}");
    assert!(xml.contains("postgres://app:***@db/x and ***"), "{xml}");
}

#[test]
fn config_file_runs_each_suite_into_one_report() {
    let dir = Dir::new();
    std::fs::write(
        dir.path("tests.toml"),
        r#"
[[suite]]
name = "unit"
command = "echo 1..1; echo ok 1 - $GREETING"
env = { GREETING = "hello" }

[[suite]]
name = "smoke"
command = ["sh", "-c", "pwd"]
workdir = "sub"
"#,
    )
    .unwrap();
    std::fs::create_dir_all(dir.path("sub")).unwrap();
    let out = dir.run(&["--config", "tests.toml"]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    let xml = dir.xml();
    assert!(xml.contains("<testsuite name=\"run-tests.unit\""));
    assert!(xml.contains("<testcase name=\"hello\""), "{xml}");
    assert!(xml.contains("<testsuite name=\"run-tests.smoke\""));
    let out = dir.run(&["--config", "tests.toml", "--suite", "smoke"]);
    assert_eq!(code(&out), 0);
    assert!(!dir.xml().contains("run-tests.unit"));
    let out = dir.run(&["--config", "tests.toml", "--suite", "nope"]);
    assert_eq!(code(&out), 2);
    assert!(stderr(&out).contains("nope"));
}

fn interrupt(signal: nix::sys::signal::Signal, expected: i32) {
    let dir = Dir::new();
    let pidfile = dir.path("pid");
    let script = dir.script(
        "slow.sh",
        &format!(
            "echo 1..2\necho ok 1 - first\necho $$ > {}\nexec sleep 600\n",
            pidfile.display()
        ),
    );
    let child = Command::new(BIN)
        .arg("--junit")
        .arg(dir.report())
        .args(["--grace", "1s", "--", script.to_str().unwrap()])
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(20);
    while !pidfile.exists() && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(50));
    }
    std::thread::sleep(Duration::from_millis(200));
    let pid = nix::unistd::Pid::from_raw(child.id() as i32);
    nix::sys::signal::kill(pid, signal).unwrap();
    let out = child.wait_with_output().unwrap();
    assert_eq!(code(&out), expected, "{}", stderr(&out));
    let xml = dir.xml();
    assert!(xml.contains("name=\"interrupted\""), "{xml}");
    assert!(
        xml.contains("<testcase name=\"first\""),
        "results so far are kept: {xml}"
    );
    let sleeper: i32 = std::fs::read_to_string(&pidfile)
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    assert_eq!(
        nix::sys::signal::kill(nix::unistd::Pid::from_raw(sleeper), None),
        Err(nix::errno::Errno::ESRCH)
    );
}

#[test]
fn sigterm_stops_the_command_writes_the_report_and_exits_143() {
    interrupt(nix::sys::signal::Signal::SIGTERM, 143);
}

#[test]
fn sigint_exits_130() {
    interrupt(nix::sys::signal::Signal::SIGINT, 130);
}

#[test]
fn help_shows_an_example() {
    let out = Command::new(BIN).arg("--help").output().unwrap();
    assert_eq!(code(&out), 0);
    assert!(String::from_utf8_lossy(&out.stdout).contains("run-tests --suite unit --timeout 20m"));
}
