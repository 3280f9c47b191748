//! Shared helpers for db-migrate's integration tests: real servers (scripts/dbservers, started
//! once per test process and found running by the others), one fresh database per test, the
//! real `db-migrate` binary, and the databases' own command-line clients to look at results.
//! A server that cannot be started fails the test; nothing is skipped.

#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::OnceLock;

pub const BIN: &str = env!("CARGO_BIN_EXE_db-migrate");
pub const PG_PORT: &str = "54329";
pub const MY_PORT: &str = "33069";
/// How the PostgreSQL clients (psql, pg_dump) reach the test server.
pub const PG_CONNECT: [&str; 6] = ["-h", "127.0.0.1", "-p", PG_PORT, "-U", "postgres"];

/// The three databases.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Sqlite,
    Postgres,
    Mariadb,
}

/// Start the servers (idempotent; the script serialises concurrent callers with flock).
fn servers() {
    static STARTED: OnceLock<()> = OnceLock::new();
    STARTED.get_or_init(|| {
        let script = cdkit_testkit::workspace_root().join("scripts/dbservers");
        let out = Command::new(&script)
            .arg("start")
            .stdin(Stdio::null())
            .output()
            .unwrap_or_else(|e| panic!("cannot run {}: {e}", script.display()));
        assert!(
            out.status.success(),
            "scripts/dbservers start failed (the database tests need PostgreSQL 15 and MariaDB: run scripts/setup as root):\n{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    });
}

/// A unique name for this test's database.
fn unique_name() -> String {
    static COUNTER: AtomicU32 = AtomicU32::new(0);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or(0);
    format!(
        "dbm_{}_{}_{}",
        std::process::id(),
        COUNTER.fetch_add(1, Ordering::SeqCst),
        nanos % 100_000
    )
}

/// One fresh database of one kind, with its own migrations directory and scratch space.
pub struct Db {
    pub kind: Kind,
    pub name: String,
    pub url: String,
    pub tmp: tempfile::TempDir,
}

impl Db {
    pub fn new(kind: Kind) -> Db {
        let tmp = tempfile::tempdir().expect("tempdir");
        std::fs::create_dir_all(tmp.path().join("migrations")).expect("mkdir migrations");
        let name = unique_name();
        let url = match kind {
            Kind::Sqlite => format!("sqlite:{}", tmp.path().join(format!("{name}.db")).display()),
            Kind::Postgres => {
                servers();
                admin_pg(&format!("CREATE DATABASE {name}"));
                format!("postgres://postgres@127.0.0.1:{PG_PORT}/{name}")
            }
            Kind::Mariadb => {
                servers();
                admin_my(&format!("CREATE DATABASE {name}"));
                format!("mariadb://root@127.0.0.1:{MY_PORT}/{name}")
            }
        };
        Db {
            kind,
            name,
            url,
            tmp,
        }
    }

    pub fn dir(&self) -> PathBuf {
        self.tmp.path().join("migrations")
    }

    pub fn path(&self, name: &str) -> PathBuf {
        self.tmp.path().join(name)
    }

    /// Write a migration file (`0001_x.up.sql`, …).
    pub fn write(&self, file: &str, sql: &str) {
        std::fs::write(self.dir().join(file), sql).expect("write migration");
    }

    /// Write `NNNN_tN.up.sql`/`.down.sql` pairs creating and dropping table tN, for each n.
    pub fn tables(&self, versions: std::ops::RangeInclusive<i64>) {
        for n in versions {
            self.write(
                &format!("{n:04}_t{n}.up.sql"),
                &format!("-- table {n}\nCREATE TABLE t{n} (id INT PRIMARY KEY, name VARCHAR(20));\nINSERT INTO t{n} VALUES (1, 'row');\n"),
            );
            self.write(
                &format!("{n:04}_t{n}.down.sql"),
                &format!("DROP TABLE t{n};\n"),
            );
        }
    }

    /// The command line for `db-migrate ARGS` against this database and directory.
    pub fn command(&self, args: &[&str]) -> Command {
        let mut cmd = Command::new(BIN);
        cmd.arg("--database-url")
            .arg(&self.url)
            .arg("--dir")
            .arg(self.dir())
            .arg("--progress")
            .arg("plain")
            .args(args)
            .env_remove("DATABASE_URL")
            .env_remove("JUNIT_OUTPUT")
            .env("CDKIT_RUN_ID", "test-run")
            .stdin(Stdio::null());
        cmd
    }

    pub fn run(&self, args: &[&str]) -> Output {
        self.command(args).output().expect("run db-migrate")
    }

    pub fn spawn(&self, args: &[&str]) -> Child {
        self.command(args)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn db-migrate")
    }

    /// The database's own client, ready for one SQL text as its last argument; `sqlite` are
    /// sqlite3's options before the database file.
    fn client(&self, sqlite: &[&str]) -> Command {
        match self.kind {
            Kind::Sqlite => {
                let mut c = Command::new("sqlite3");
                c.args(sqlite).arg(self.url.trim_start_matches("sqlite:"));
                c
            }
            Kind::Postgres => {
                let mut c = Command::new("psql");
                c.args(["-X", "-q", "-At", "-v", "ON_ERROR_STOP=1"])
                    .args(PG_CONNECT)
                    .arg("-d")
                    .arg(&self.name)
                    .arg("-c");
                c
            }
            Kind::Mariadb => {
                let mut c = Command::new("mariadb");
                c.args([
                    "--no-defaults",
                    "-N",
                    "-B",
                    "-r",
                    "-h",
                    "127.0.0.1",
                    "-P",
                    MY_PORT,
                    "-uroot",
                ])
                .arg(&self.name)
                .arg("-e");
                c
            }
        }
    }

    /// Run SQL with the database's own client; the trimmed output (rows tab-separated).
    pub fn query(&self, sql: &str) -> String {
        // A runner may hold the write lock for a moment: wait like the runners do.
        let out = self
            .client(&["-cmd", ".timeout 10000"])
            .arg(sql)
            .output()
            .unwrap_or_else(|e| panic!("cannot run the {:?} client: {e}", self.kind));
        assert!(
            out.status.success(),
            "{:?} query {sql:?} failed: {}",
            self.kind,
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).trim().to_string()
    }

    /// Like [`Db::query`], but a statement the database refuses is `Err(its message)`.
    pub fn query_result(&self, sql: &str) -> Result<String, String> {
        let out = self
            .client(&["-bail"])
            .arg(sql)
            .output()
            .unwrap_or_else(|e| panic!("cannot run the {:?} client: {e}", self.kind));
        let err = String::from_utf8_lossy(&out.stderr).trim().to_string();
        // sqlite3 exits 1 on an error, but also prints it when it exits 0 in some versions.
        if out.status.success() && err.is_empty() {
            Ok(String::from_utf8_lossy(&out.stdout).trim().to_string())
        } else {
            Err(err)
        }
    }

    pub fn table_exists(&self, table: &str) -> bool {
        let sql = match self.kind {
            Kind::Sqlite => format!("SELECT count(*) FROM sqlite_master WHERE type='table' AND name='{table}'"),
            Kind::Postgres => format!("SELECT count(*) FROM pg_tables WHERE schemaname='public' AND tablename='{table}'"),
            Kind::Mariadb => format!("SELECT COUNT(*) FROM information_schema.TABLES WHERE TABLE_SCHEMA=DATABASE() AND TABLE_NAME='{table}'"),
        };
        self.query(&sql) == "1"
    }

    /// (version, success) of every history row (none before the table exists).
    pub fn history(&self) -> Vec<(i64, bool)> {
        if !self.table_exists("db_migrate_history") {
            return Vec::new();
        }
        let out = self.query("SELECT version, CASE WHEN success THEN 1 ELSE 0 END FROM db_migrate_history ORDER BY version");
        out.lines()
            .filter(|l| !l.trim().is_empty())
            .map(|l| {
                let mut parts = l.split(['\t', '|']);
                let v = parts.next().unwrap_or("").trim().parse().expect("version");
                let ok = parts.next().unwrap_or("").trim() == "1";
                (v, ok)
            })
            .collect()
    }

    /// `db-migrate status --json`, parsed (the run must succeed).
    pub fn status_json(&self) -> serde_json::Value {
        let out = self.run(&["status", "--json"]);
        assert_eq!(code(&out), 0, "status: {}", stderr(&out));
        serde_json::from_slice(&out.stdout).expect("status --json prints JSON")
    }

    pub fn versions(&self) -> Vec<i64> {
        self.history().into_iter().map(|(v, _)| v).collect()
    }
}

/// Run an administrative statement (CREATE DATABASE) with the server's own client.
fn admin(program: &str, args: &[&str], sql: &str) {
    let out = Command::new(program)
        .args(args)
        .arg(sql)
        .output()
        .unwrap_or_else(|e| panic!("cannot run {program}: {e}"));
    assert!(
        out.status.success(),
        "{program} {sql}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

fn admin_pg(sql: &str) {
    admin(
        "psql",
        &[
            "-X",
            "-q",
            "-h",
            "127.0.0.1",
            "-p",
            PG_PORT,
            "-U",
            "postgres",
            "-d",
            "postgres",
            "-c",
        ],
        sql,
    );
}

fn admin_my(sql: &str) {
    admin(
        "mariadb",
        &[
            "--no-defaults",
            "-h",
            "127.0.0.1",
            "-P",
            MY_PORT,
            "-uroot",
            "-e",
        ],
        sql,
    );
}

pub fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

pub fn stdout(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

pub fn code(out: &Output) -> i32 {
    out.status.code().unwrap_or(-1)
}

/// The last line of stderr: the one-line error the contract asks for.
pub fn last_line(out: &Output) -> String {
    stderr(out).lines().last().unwrap_or("").to_string()
}

/// Validate a JUnit report and return its text.
pub fn junit(path: &Path) -> String {
    cdkit_testkit::assert_valid_junit(path);
    std::fs::read_to_string(path).expect("read junit")
}

/// Validate a JUnit report and count its testcases with an independent reader.
pub fn counts(path: &Path) -> cdkit_testkit::Counts {
    cdkit_testkit::assert_valid_junit(path);
    cdkit_testkit::python_junit_counts(path)
}

/// Run the command a message prints between backticks right after `marker`, as a user pasting
/// it would: through `sh`, from `/`, with `db-migrate` on PATH and neither DATABASE_URL nor
/// DB_MIGRATE_DIR set, so everything it needs must be on the line itself.
pub fn paste_hint(message: &str, marker: &str) -> Output {
    let start = message
        .find(marker)
        .unwrap_or_else(|| panic!("no {marker:?} in: {message}"))
        + marker.len();
    let end = message[start..]
        .find('`')
        .unwrap_or_else(|| panic!("no closing backtick in: {message}"))
        + start;
    let bin_dir = Path::new(BIN).parent().expect("the binary's directory");
    let path = format!(
        "{}:{}",
        bin_dir.display(),
        std::env::var("PATH").unwrap_or_default()
    );
    Command::new("sh")
        .arg("-c")
        .arg(&message[start..end])
        .current_dir("/")
        .env("PATH", path)
        .env_remove("DATABASE_URL")
        .env_remove("DB_MIGRATE_DIR")
        .stdin(Stdio::null())
        .output()
        .expect("run sh")
}

/// One `#[test]` per database for a scenario written once as `fn scenario(kind: Kind)`:
/// `per_database!(scenario: scenario_sqlite = Sqlite, scenario_postgres = Postgres);`.
/// The test names are spelt out (macro_rules cannot join identifiers) so that they stay
/// stable for filters; each runs the same scenario on its database.
#[macro_export]
macro_rules! per_database {
    ($scenario:ident: $($test:ident = $kind:ident),+ $(,)?) => {
        $(
            #[test]
            fn $test() {
                $scenario($crate::common::Kind::$kind);
            }
        )+
    };
}
