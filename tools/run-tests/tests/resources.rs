//! What a run costs and leaves behind. A test command's children are stopped with it at a
//! timeout and after a normal exit, including children that left its process group with
//! `setsid` and children that ignore TERM, within `--timeout` + `--grace` + 1 s; and the
//! suite's output log stays within its documented size.

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::{Duration, Instant};

const BIN: &str = env!("CARGO_BIN_EXE_run-tests");

/// Write an executable shell script into `dir`.
fn script(dir: &Path, body: &str) -> PathBuf {
    let path = dir.join("suite.sh");
    std::fs::write(&path, format!("#!/bin/sh\n{body}")).unwrap();
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
    path
}

fn run(dir: &Path, args: &[&str]) -> (Output, Duration) {
    let started = Instant::now();
    let out = Command::new(BIN)
        .arg("--junit")
        .arg(dir.join("reports/out.xml"))
        .args(args)
        .current_dir(dir)
        .env_remove("JUNIT_OUTPUT")
        // The output lines themselves need not go to the log too: it is the file under test.
        .env("CDKIT_LOG", "warn")
        .output()
        .unwrap();
    (out, started.elapsed())
}

/// The pid a script wrote into `dir/name`, waiting for it to appear.
fn pid_file(dir: &Path, name: &str) -> i32 {
    let path = dir.join(name);
    let until = Instant::now() + Duration::from_secs(5);
    loop {
        if let Some(pid) = std::fs::read_to_string(&path)
            .ok()
            .and_then(|t| t.trim().parse().ok())
        {
            return pid;
        }
        assert!(
            Instant::now() < until,
            "{} was never written",
            path.display()
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Whether `pid` is a living process (a zombie waiting for init to reap it is not).
fn running(pid: i32) -> bool {
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        Err(_) => false,
        Ok(stat) => {
            let state = stat[stat.rfind(')').unwrap() + 1..]
                .split_whitespace()
                .next();
            state != Some("Z")
        }
    }
}

fn assert_gone(dir: &Path, names: &[&str]) {
    for name in names {
        let pid = pid_file(dir, name);
        // run-tests has exited: anything it reaped is gone; give init a moment for the rest.
        let until = Instant::now() + Duration::from_millis(500);
        while running(pid) && Instant::now() < until {
            std::thread::sleep(Duration::from_millis(20));
        }
        if running(pid) {
            let _ = nix::sys::signal::kill(
                nix::unistd::Pid::from_raw(pid),
                nix::sys::signal::Signal::SIGKILL,
            );
            panic!("{name} (pid {pid}) outlived run-tests");
        }
    }
}

/// Children started three ways: one that ignores TERM in the command's group, one that left
/// the group with setsid and ignores TERM too, and a setsid double fork whose parent is gone.
const CHILDREN: &str = r#"
sh -c 'trap "" TERM; echo $$ > group.pid; exec sleep 1000' &
setsid sh -c 'trap "" TERM; echo $$ > setsid.pid; exec sleep 1000' &
setsid sh -c 'sleep 1000 > /dev/null 2>&1 & echo $! > orphan.pid' &
"#;

#[test]
fn a_timeout_stops_setsid_and_term_ignoring_children_within_timeout_plus_grace() {
    let dir = tempfile::tempdir().unwrap();
    let body =
        format!("{CHILDREN}\necho '1..2'\necho 'ok 1 - started'\ntrap '' TERM\nsleep 1000\n");
    let suite = script(dir.path(), &body);
    let (out, took) = run(
        dir.path(),
        &[
            "--timeout",
            "2s",
            "--grace",
            "3s",
            "--",
            suite.to_str().unwrap(),
        ],
    );
    assert_eq!(out.status.code(), Some(124), "{out:?}");
    assert_gone(dir.path(), &["group.pid", "setsid.pid", "orphan.pid"]);
    assert!(
        took <= Duration::from_secs(2 + 3 + 1),
        "--timeout 2s --grace 3s took {took:?}"
    );
    // The leader ignores TERM as well, so KILL after the grace period is what ended it.
    assert!(
        took >= Duration::from_secs(5),
        "{took:?}: the grace period was cut short"
    );
}

#[test]
fn a_normal_exit_leaves_no_descendant_running() {
    let dir = tempfile::tempdir().unwrap();
    let body = format!("{CHILDREN}\nwhile [ ! -s orphan.pid ]; do sleep 0.05; done\necho '1..1'\necho 'ok 1 - done'\n");
    let suite = script(dir.path(), &body);
    let (out, took) = run(
        dir.path(),
        &["--grace", "1s", "--", suite.to_str().unwrap()],
    );
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    assert_gone(dir.path(), &["group.pid", "setsid.pid", "orphan.pid"]);
    assert!(took <= Duration::from_secs(4), "{took:?}");
}

#[test]
fn the_output_log_keeps_head_and_tail_within_its_cap() {
    let dir = tempfile::tempdir().unwrap();
    // 70 MB of lines between the first and the last test point.
    let filler =
        "filler line of output that no test point claims, repeated until there is far too much";
    let lines: u64 = 800_000;
    let body = format!(
        "echo '1..2'\necho 'ok 1 - first'\nyes '{filler}' | head -n {lines}\necho 'ok 2 - last'\n"
    );
    let suite = script(dir.path(), &body);
    let (out, _) = run(
        dir.path(),
        &["--suite", "big", "--", suite.to_str().unwrap()],
    );
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    let log = std::fs::read(dir.path().join("reports/big.out.log")).unwrap();
    let cap = run_tests::OUTPUT_LOG_MAX as usize;
    assert!(log.len() <= cap + 1024, "{} bytes", log.len());
    assert!(log.len() >= cap - 1024, "{} bytes", log.len());
    let text = String::from_utf8_lossy(&log);
    assert!(text.starts_with("=== attempt 1: "), "{}", &text[..200]);
    assert!(text.contains("\nok 1 - first\n"));
    assert!(
        text.ends_with("\nok 2 - last\n"),
        "{}",
        &text[text.len() - 200..]
    );
    let marker = text
        .lines()
        .find(|l| l.contains("bytes of output omitted"))
        .expect("no omission marker");
    let omitted: u64 = marker
        .trim_start_matches("[... ")
        .split(' ')
        .next()
        .unwrap()
        .parse()
        .unwrap();
    let points = "1..2\nok 1 - first\nok 2 - last\n".len() as u64;
    let printed = lines * (filler.len() as u64 + 1) + points;
    let kept = log.len() as u64 - marker.len() as u64 - 1;
    // Everything printed is either kept or counted as omitted (the attempt's header is kept
    // in addition).
    let header = text.lines().next().unwrap().len() as u64 + 1;
    assert_eq!(omitted + kept - header, printed, "{marker}");
}
