//! Secrets never leak: every tool runs a success and a failure path with secrets planted in
//! every input a user can put one in (database and health URLs whose passwords hold `/`, `@`,
//! `%` and `:`, the credential variables Jenkins jobs set, a variable named only in
//! `CDKIT_SECRET_VARS`, escape sequences inside secrets and splitting them in a child's
//! output). Then every file the runs wrote (JUnit reports, `--log-file`, records,
//! `SUITE.out.log`), their stdout and stderr, the syslog collector's file and every process's
//! `/proc/PID/cmdline` sampled while they ran are searched for the secrets' bytes: zero hits.
//!
//! Credentials reach the tools the way Jenkins' withCredentials passes them, in environment
//! variables; a tool's own argv is the caller's business. rolling-install and rollback reach
//! this machine through a real sshd on loopback and install a throwaway package on it.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use cdkit_testkit::rsyslog::Rsyslog;
use cdkit_testkit::sshd::start_sshd;

/// Marks a command line that holds a secret on purpose (the user's own test command given to
/// run-tests): cdkit cannot hide what its caller puts on a command line, so the sampler skips it.
const USER_ARGV_MARK: &str = "cdkit-leak-user-argv";

/// A database password with every character that broke URL masking: `/`, `@`, `%`, `:`.
const DB_PW: &str = "Pg/pw@L3ak%:x9";
/// The same kind of password, percent-encoded as a driver accepts it (decoded: `Pg/ok@L3ak%`).
const DB_PW_ENC: &str = "Pg%2Fok%40L3ak%25";
const DB_PW_DEC: &str = "Pg/ok@L3ak%";
const HEALTH_PW: &str = "hp/Hl@th%zz:7";
/// [`HEALTH_PW`] percent-encoded, as curl needs it in a working URL.
const HEALTH_PW_ENC: &str = "hp%2FHl%40th%25zz%3A7";

/// The credential variables and their values; API_KEY's value holds an escape sequence.
const ENV_SECRETS: [(&str, &str); 5] = [
    ("GPG_PASSPHRASE", "gpg-Secret-1"),
    ("DB_PASS", "dbpass-Secret-2"),
    ("MYSQL_PWD", "mysqlpwd-Secret-3"),
    ("API_KEY", "apikey-\u{1b}[31mSecret-4"),
    ("VENDOR_THING", "vendor-Secret-5"),
];

/// Every byte string that must never be found.
fn needles() -> Vec<String> {
    let mut all: BTreeSet<String> = [DB_PW, DB_PW_ENC, DB_PW_DEC, HEALTH_PW, HEALTH_PW_ENC]
        .iter()
        .map(|s| s.to_string())
        .collect();
    for (_, value) in ENV_SECRETS {
        all.insert(value.to_string());
        all.insert(value.replace("\u{1b}[31m", ""));
    }
    // Distinctive middles too: a secret cut short or re-encoded still shows its core.
    for core in [
        "pw@L3ak", "ok@L3ak", "Hl@th%zz", "Hl%40th", "Secret-1", "Secret-2", "Secret-3",
        "Secret-4", "Secret-5",
    ] {
        all.insert(core.to_string());
    }
    all.into_iter().collect()
}

/// Samples every process's command line while the tools run.
struct Sampler {
    stop: Arc<AtomicBool>,
    hits: Arc<Mutex<BTreeSet<String>>>,
    thread: Option<std::thread::JoinHandle<u64>>,
}

impl Sampler {
    fn start() -> Sampler {
        let stop = Arc::new(AtomicBool::new(false));
        let hits = Arc::new(Mutex::new(BTreeSet::new()));
        let (s, h) = (Arc::clone(&stop), Arc::clone(&hits));
        let thread = std::thread::spawn(move || {
            let needles = needles();
            let mut rounds = 0u64;
            while !s.load(Ordering::Relaxed) {
                rounds += 1;
                for entry in std::fs::read_dir("/proc").into_iter().flatten().flatten() {
                    let Ok(bytes) = std::fs::read(entry.path().join("cmdline")) else {
                        continue;
                    };
                    let line = String::from_utf8_lossy(&bytes).replace('\0', " ");
                    if line.contains(USER_ARGV_MARK) {
                        continue;
                    }
                    for n in &needles {
                        if line.contains(n.as_str()) {
                            h.lock().unwrap().insert(format!(
                                "/proc/{}/cmdline: {line}",
                                entry.file_name().to_string_lossy()
                            ));
                        }
                    }
                }
                std::thread::sleep(Duration::from_millis(5));
            }
            rounds
        });
        Sampler {
            stop,
            hits,
            thread: Some(thread),
        }
    }

    fn finish(mut self) -> (u64, Vec<String>) {
        self.stop.store(true, Ordering::Relaxed);
        let rounds = self.thread.take().unwrap().join().unwrap();
        let hits = self.hits.lock().unwrap().iter().cloned().collect();
        (rounds, hits)
    }
}

/// One tool run's outputs, kept to be searched.
struct Runs {
    bin: PathBuf,
    work: PathBuf,
    syslog: String,
    outputs: Vec<(String, Vec<u8>)>,
    count: usize,
}

impl Runs {
    /// Run `tool` with the common outputs all switched on (a JUnit report, a log file, the
    /// syslog collector; JSON logs on every other run) and the secrets in its environment.
    fn run(&mut self, tool: &str, args: &[&str], env: &[(&str, &str)], expect: &[i32]) -> Output {
        self.count += 1;
        let n = self.count;
        let mut cmd = Command::new(self.bin.join(tool));
        cmd.args(args)
            .current_dir(&self.work)
            .env(
                "JUNIT_OUTPUT",
                self.work.join(format!("reports/{n}-{tool}.xml")),
            )
            .env(
                "CDKIT_LOG_FILE",
                self.work.join(format!("logs/{n}-{tool}.jsonl")),
            )
            .env("CDKIT_SYSLOG", &self.syslog)
            .env(
                "CDKIT_LOG_FORMAT",
                if n.is_multiple_of(2) { "json" } else { "text" },
            )
            .env("CDKIT_PROGRESS", "plain")
            .env("CDKIT_RUN_ID", format!("leak-{n}"))
            .env("CDKIT_SECRET_VARS", "VENDOR_THING");
        for (k, v) in ENV_SECRETS {
            cmd.env(k, v);
        }
        for (k, v) in env {
            cmd.env(k, v);
        }
        let out = cmd.output().unwrap();
        let code = out.status.code().unwrap_or(-1);
        let text = format!(
            "{tool} {args:?}\nstdout:\n{}\nstderr:\n{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(
            expect.contains(&code),
            "exit {code}, expected one of {expect:?}: {text}"
        );
        self.outputs
            .push((format!("{n}-{tool} stdout"), out.stdout.clone()));
        self.outputs
            .push((format!("{n}-{tool} stderr"), out.stderr.clone()));
        out
    }
}

/// Every file under `dir`, with its bytes.
fn files_under(dir: &Path) -> Vec<(String, Vec<u8>)> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for entry in std::fs::read_dir(&d).into_iter().flatten().flatten() {
            let path = entry.path();
            let meta = std::fs::symlink_metadata(&path).unwrap();
            if meta.is_dir() {
                stack.push(path);
            } else if meta.is_file() {
                out.push((path.display().to_string(), std::fs::read(&path).unwrap()));
            }
        }
    }
    out
}

fn find(hay: &[u8], needle: &str) -> bool {
    let n = needle.as_bytes();
    hay.windows(n.len()).any(|w| w == n)
}

fn write_exec(path: &Path, text: &str) {
    use std::os::unix::fs::PermissionsExt;
    std::fs::write(path, text).unwrap();
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o755)).unwrap();
}

#[test]
fn no_secret_reaches_any_output_or_command_line() {
    let bin = cdkit_e2e::tools_dir();
    let rsyslog = Rsyslog::start();
    let tmp = tempfile::tempdir().unwrap();
    let work = tmp.path().join("work");
    std::fs::create_dir_all(work.join("logs")).unwrap();
    let mut runs = Runs {
        bin,
        work: work.clone(),
        syslog: rsyslog.tcp_url(),
        outputs: Vec::new(),
        count: 0,
    };
    let sampler = Sampler::start();

    // --- run-tests: a test command that prints every secret, whole, split by an escape
    // sequence, inside URLs, in TAP descriptions, diagnostics and on stderr.
    let noisy = tmp.path().join("noisy.sh");
    write_exec(
        &noisy,
        &format!(
            r##"#!/bin/sh
echo "TAP version 13"
echo "1..3"
echo "ok 1 - uses $DB_PASS and $VENDOR_THING"
printf 'ok 2 - key %s split dbpass-\033[1mSecret-2 here\n' "$API_KEY"
echo "# connecting to postgres://app:{DB_PW}@db:5432/shop"
echo "gpg says $GPG_PASSPHRASE and $MYSQL_PWD" >&2
if [ "$1" = fail ]; then echo "not ok 3 - health http://m:{HEALTH_PW}@h/health $MYSQL_PWD"; exit 1; fi
echo "ok 3 - fine"
"##
        ),
    );
    let noisy = noisy.to_str().unwrap();
    runs.run("run-tests", &["--suite", "unit", "--", noisy], &[], &[0]);
    runs.run(
        "run-tests",
        &["--suite", "unit-fail", "--", noisy, "fail"],
        &[],
        &[1],
    );
    // The command line itself holds a secret (the header of SUITE.out.log and the case name).
    let with_url = format!("postgres://app:{DB_PW}@db/shop");
    runs.run(
        "run-tests",
        &[
            "--suite",
            "argv",
            "--",
            "sh",
            "-c",
            "echo \"$0\"; exit 3",
            &with_url,
            USER_ARGV_MARK,
        ],
        &[],
        &[1],
    );

    // --- db-migrate: success against the test PostgreSQL (trust authentication accepts any
    // password, so the URL can carry one), failure against a port nothing listens on.
    let dbservers = cdkit_testkit::workspace_root().join("scripts/dbservers");
    let started = Command::new(&dbservers).arg("start").output().unwrap();
    assert!(
        started.status.success(),
        "scripts/dbservers start: {}",
        String::from_utf8_lossy(&started.stderr)
    );
    let migrations = tmp.path().join("migrations");
    std::fs::create_dir_all(&migrations).unwrap();
    std::fs::write(
        migrations.join("0001_leak_probe.up.sql"),
        "CREATE TABLE leak_probe (x int);\n",
    )
    .unwrap();
    std::fs::write(
        migrations.join("0001_leak_probe.down.sql"),
        "DROP TABLE leak_probe;\n",
    )
    .unwrap();
    let database = format!("leak_{}", std::process::id());
    let psql = |sql: &str| {
        Command::new("runuser")
            .args([
                "-u",
                "postgres",
                "--",
                "psql",
                "-h",
                "127.0.0.1",
                "-p",
                "54329",
                "-qc",
                sql,
            ])
            .current_dir("/")
            .output()
            .unwrap()
    };
    let created = psql(&format!("CREATE DATABASE {database}"));
    assert!(
        created.status.success(),
        "{}",
        String::from_utf8_lossy(&created.stderr)
    );
    let good_url = format!("postgres://postgres:{DB_PW_ENC}@127.0.0.1:54329/{database}");
    let bad_url = format!("postgres://app:{DB_PW}@127.0.0.1:1/shop");
    let dir = migrations.to_str().unwrap();
    runs.run(
        "db-migrate",
        &["--dir", dir, "up"],
        &[("DATABASE_URL", &good_url)],
        &[0],
    );
    runs.run(
        "db-migrate",
        &["--dir", dir, "status"],
        &[("DATABASE_URL", &good_url)],
        &[0],
    );
    runs.run(
        "db-migrate",
        &["--dir", dir, "up"],
        &[("DATABASE_URL", &bad_url)],
        &[1, 2, 3, 75],
    );
    runs.run(
        "db-migrate",
        &["--dir", dir, "up"],
        &[("DATABASE_URL", "postgres://app:ab/cd@")],
        &[2, 75],
    );

    // --- build-deb: a Makefile-only package whose build prints secrets; then a failing build.
    let src = tmp.path().join("src");
    std::fs::create_dir_all(&src).unwrap();
    std::fs::write(
        src.join("cdkit-deb.toml"),
        "[package]\nname = \"leak-probe\"\nversion = \"1.0\"\nrevision = \"1\"\narchitecture = \"all\"\n\
         maintainer = \"cdkit developers <cdkit@example.com>\"\nsummary = \"throwaway package of the secret-leak test\"\n\
         description = \"\"\"\nA package the leak test builds.\"\"\"\nsection = \"misc\"\npriority = \"optional\"\n\
         copyright = \"COPYING\"\n\n[build]\ncommand = \"sh build.sh {stage}\"\n",
    )
    .unwrap();
    std::fs::write(src.join("COPYING"), "Public domain.\n").unwrap();
    std::fs::write(
        src.join("build.sh"),
        format!("echo \"building with $DB_PASS $API_KEY postgres://a:{DB_PW}@h/d\"\necho \"$GPG_PASSPHRASE\" >&2\nmkdir -p \"$1/usr/share/leak-probe\"\necho probe > \"$1/usr/share/leak-probe/README\"\n[ -z \"$FAIL\" ]\n"),
    )
    .unwrap();
    let out_dir = tmp.path().join("dist");
    let (s, o) = (src.to_str().unwrap(), out_dir.to_str().unwrap());
    runs.run(
        "build-deb",
        &[s, "--out", o],
        &[("SOURCE_DATE_EPOCH", "1767225600")],
        &[0],
    );
    runs.run(
        "build-deb",
        &[s, "--out", o],
        &[("FAIL", "1"), ("SOURCE_DATE_EPOCH", "1767225600")],
        &[1, 2],
    );

    // --- publish-repo: add the package to a fresh repository; then a missing package.
    let repo = tmp.path().join("repo");
    let r = repo.to_str().unwrap();
    runs.run(
        "publish-repo",
        &[
            "init",
            "--repo",
            r,
            "--origin",
            "o",
            "--label",
            "l",
            "--unsigned",
        ],
        &[],
        &[0],
    );
    let deb = std::fs::read_dir(&out_dir)
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .find(|p| p.extension().is_some_and(|x| x == "deb"))
        .expect("build-deb wrote a .deb");
    runs.run(
        "publish-repo",
        &[
            "add",
            "--repo",
            r,
            "--suite",
            "testing",
            "--unsigned",
            deb.to_str().unwrap(),
        ],
        &[],
        &[0],
    );
    runs.run(
        "publish-repo",
        &[
            "add",
            "--repo",
            r,
            "--suite",
            "testing",
            "--unsigned",
            "/nonexistent/x.deb",
        ],
        &[],
        &[1, 2],
    );

    // --- rolling-install and rollback on this machine through a real sshd: a healthy install
    // behind a health URL with credentials, a rollback of it whose database is unreachable, and
    // an install whose health check fails (nothing listens) and is rolled back.
    // A probe package left by an interrupted earlier run would turn the install into a no-op.
    let _ = Command::new("dpkg")
        .args(["--purge", "leak-probe"])
        .output();
    let sshd = start_sshd();
    let inventory = tmp.path().join("hosts.ini");
    std::fs::write(
        &inventory,
        format!(
            "[web]\nweb1 ansible_host=127.0.0.1 ansible_port={}\n",
            sshd.port
        ),
    )
    .unwrap();
    let health_root = tmp.path().join("health");
    std::fs::create_dir_all(&health_root).unwrap();
    std::fs::write(health_root.join("health"), "ok\n").unwrap();
    let http = cdkit_testkit::apt::HttpServer::serve(&health_root);
    let good_health = format!(
        "http://monitor:{HEALTH_PW_ENC}@127.0.0.1:{}/health",
        http.port
    );
    let bad_health = format!(
        "http://monitor:{HEALTH_PW}@127.0.0.1:{}/health",
        cdkit_testkit::sshd::free_port()
    );
    let config = sshd.ssh_config();
    let common = |record: &Path| -> Vec<String> {
        vec![
            "--inventory".into(),
            inventory.display().to_string(),
            "--inventory-reader".into(),
            "native".into(),
            "--group".into(),
            "web".into(),
            "--ssh-config".into(),
            config.display().to_string(),
            "--record".into(),
            record.display().to_string(),
        ]
    };
    let ri_args = |record: &Path| -> Vec<String> {
        let mut a = common(record);
        a.extend(
            [
                "--package",
                "leak-probe",
                "--version",
                "1.0-1",
                "--deb",
                deb.to_str().unwrap(),
                "--health-retries",
                "1",
                "--health-interval",
                "100ms",
                "--health-timeout",
                "2s",
            ]
            .map(String::from),
        );
        a
    };
    let strs = |v: &[String]| {
        v.iter()
            .map(String::as_str)
            .collect::<Vec<_>>()
            .join("\u{0}")
    };
    let record_ok = work.join("records/deploy-ok.json");
    let args = strs(&ri_args(&record_ok));
    runs.run(
        "rolling-install",
        &args.split('\0').collect::<Vec<_>>(),
        &[("ROLLING_INSTALL_HEALTH_URL", &good_health)],
        &[0],
    );
    let rb = strs(&[
        "--record".to_string(),
        record_ok.display().to_string(),
        "--ssh-config".to_string(),
        config.display().to_string(),
        "--remove-new".to_string(),
    ]);
    runs.run(
        "rollback",
        &rb.split('\0').collect::<Vec<_>>(),
        &[
            ("ROLLBACK_HEALTH_URL", &good_health),
            ("ROLLBACK_DATABASE_URL", &bad_url),
        ],
        &[1, 2, 3, 75],
    );
    runs.run(
        "rollback",
        &rb.split('\0').collect::<Vec<_>>(),
        &[("ROLLBACK_HEALTH_URL", &good_health)],
        &[0],
    );
    let record_bad = work.join("records/deploy-bad.json");
    let args = strs(&ri_args(&record_bad));
    runs.run(
        "rolling-install",
        &args.split('\0').collect::<Vec<_>>(),
        &[("ROLLING_INSTALL_HEALTH_URL", &bad_health)],
        &[1, 3],
    );
    // Nothing of the probe package is left on this machine.
    let left = Command::new("dpkg-query")
        .args(["-W", "-f=${Status}", "leak-probe"])
        .output()
        .unwrap();
    let status = String::from_utf8_lossy(&left.stdout);
    assert!(
        !status.contains("installed") || status.contains("not-installed"),
        "leak-probe left installed: {status}"
    );

    // --help prints no credential-bearing environment value.
    for (tool, var, value) in [
        (
            "rolling-install",
            "ROLLING_INSTALL_HEALTH_URL",
            good_health.as_str(),
        ),
        ("rollback", "ROLLBACK_DATABASE_URL", bad_url.as_str()),
        ("rollback", "ROLLBACK_HEALTH_URL", good_health.as_str()),
        ("db-migrate", "DATABASE_URL", bad_url.as_str()),
    ] {
        runs.run(tool, &["--help"], &[(var, value)], &[0]);
    }

    let (rounds, cmdline_hits) = sampler.finish();
    let _ = psql(&format!("DROP DATABASE IF EXISTS {database}"));

    // Everything the runs wrote, what they printed, and what the collector received.
    let received = rsyslog.wait_for(Duration::from_secs(5), |_| false);
    assert!(!received.is_empty(), "the collector received nothing");
    let mut haystacks = files_under(&work);
    assert!(
        haystacks.iter().any(|(p, _)| p.ends_with(".out.log")),
        "no SUITE.out.log written"
    );
    assert!(
        haystacks.iter().any(|(p, _)| p.contains("records/")),
        "no record written"
    );
    haystacks.extend(std::mem::take(&mut runs.outputs));
    haystacks.push((
        "rsyslog received.jsonl".into(),
        std::fs::read(rsyslog.received_path()).unwrap(),
    ));
    let mut hits = Vec::new();
    for (name, bytes) in &haystacks {
        for needle in needles() {
            if find(bytes, &needle) {
                hits.push(format!("{name}: {needle:?}"));
            }
        }
    }
    hits.extend(cmdline_hits);
    assert!(
        hits.is_empty(),
        "{} secret(s) leaked:\n{}",
        hits.len(),
        hits.join("\n")
    );
    // The redacted forms did arrive: the outputs were searched where the secrets would be.
    let all: Vec<u8> = haystacks.iter().flat_map(|(_, b)| b.clone()).collect();
    assert!(
        find(&all, "postgres://app:***@"),
        "no masked database URL in any output"
    );
    assert!(
        find(&all, "http://monitor:***@127.0.0.1"),
        "no masked health URL in any output"
    );
    assert!(
        rounds > 10,
        "the command lines were sampled only {rounds} times"
    );
}
