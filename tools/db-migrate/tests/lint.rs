//! `db-migrate lint` and `up --phase`: migrations the running version survives.
//!
//! - Differential: on real projects' PostgreSQL migrations (`tests/migrations-corpus`, the
//!   directories real_projects.rs applies), lint's findings equal those of the squawk command
//!   (squawk-cli, installed by scripts/setup at the crates' version) for every rule both have.
//! - The hazard itself, on real databases: the old release's queries fail against a schema a
//!   breaking migration produced, and lint flags exactly the breaking migrations.
//! - Phases: `up --phase pre` applies pre-deploy migrations only, refuses an unsafe one
//!   before touching the database (exit 2), and records an acknowledged one in the JUnit report.

mod common;

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::Command;

use common::{code, last_line, stderr, stdout, Db, Kind, BIN};

fn corpus(dir: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/migrations-corpus")
        .join(dir)
}

/// The squawk scripts/setup installs in the venv.
fn squawk() -> PathBuf {
    let venv = std::env::var_os("CDKIT_VENV").map_or_else(
        || PathBuf::from(std::env::var("HOME").expect("HOME")).join(".cache/cdkit/venv"),
        PathBuf::from,
    );
    let bin = venv.join("bin/squawk");
    assert!(
        bin.exists(),
        "{} is missing: run scripts/setup (it installs squawk-cli)",
        bin.display()
    );
    bin
}

/// (file name, 1-based line, rule) of every finding `db-migrate lint` prints for `dir`.
fn ours(dir: &Path) -> BTreeSet<(String, usize, String)> {
    let out = Command::new(BIN)
        .arg("--dir")
        .arg(dir)
        .args(["lint", "--dialect", "postgres"])
        .env_remove("DATABASE_URL")
        .output()
        .expect("run db-migrate lint");
    assert!(
        matches!(code(&out), 0 | 2),
        "lint crashed: {}",
        stderr(&out)
    );
    stdout(&out)
        .lines()
        .map(|l| {
            let mut parts = l.splitn(4, ": ");
            let place = parts.next().expect("FILE:LINE");
            let rule = parts.next().expect("RULE").to_string();
            let (file, line) = place.rsplit_once(':').expect("FILE:LINE");
            let name = Path::new(file)
                .file_name()
                .expect("file name")
                .to_string_lossy()
                .into_owned();
            (name, line.parse().expect("line number"), rule)
        })
        .collect()
}

/// The rules lint runs through squawk's crates: compared one for one.
const SHARED: &[&str] = &[
    "ban-drop-column",
    "ban-drop-table",
    "renaming-column",
    "renaming-table",
    "changing-column-type",
    "adding-required-field",
    "adding-not-nullable-field",
    "require-concurrent-index-creation",
    "constraint-missing-not-valid",
    "adding-foreign-key-constraint",
    "disallowed-unique-constraint",
    "adding-field-with-default",
];

/// squawk's findings in the shared rules (its `syntax-error` counted as `unparsed-statement`).
fn theirs(files: &[PathBuf]) -> BTreeSet<(String, usize, String)> {
    let out = Command::new(squawk())
        .args(["--reporter", "json"])
        .args(files)
        .output()
        .expect("run squawk");
    let text = String::from_utf8_lossy(&out.stdout);
    let found: serde_json::Value = serde_json::from_str(&text)
        .unwrap_or_else(|e| panic!("squawk's JSON: {e}\n{text}\n{}", stderr(&out)));
    found
        .as_array()
        .expect("a JSON array")
        .iter()
        .filter_map(|v| {
            let rule = v["rule_name"].as_str()?;
            let rule = if rule == "syntax-error" {
                "unparsed-statement"
            } else if SHARED.contains(&rule) {
                rule
            } else {
                return None;
            };
            let file = Path::new(v["file"].as_str()?)
                .file_name()?
                .to_string_lossy()
                .into_owned();
            // squawk's JSON lines are 0-based.
            let line = v["line"].as_u64()? as usize + 1;
            Some((file, line, rule.to_string()))
        })
        .collect()
}

#[test]
fn findings_agree_with_the_squawk_command_on_real_projects() {
    let mut total = 0;
    for dir in ["harbor/postgresql", "weknora/postgres"] {
        let dir = corpus(dir);
        let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
            .expect("corpus")
            .map(|e| e.expect("entry").path())
            .filter(|p| p.to_string_lossy().ends_with(".up.sql"))
            .collect();
        files.sort();
        let ours = ours(&dir);
        let theirs = theirs(&files);
        let only_ours: Vec<_> = ours.difference(&theirs).collect();
        let only_theirs: Vec<_> = theirs.difference(&ours).collect();
        assert!(
            only_ours.is_empty() && only_theirs.is_empty(),
            "{}: lint and squawk disagree\nonly lint: {only_ours:#?}\nonly squawk: {only_theirs:#?}",
            dir.display()
        );
        total += ours.len();
    }
    // The corpus does hold findings (drops, plain CREATE INDEX, ...): the comparison is not
    // between two empty sets.
    assert!(total > 10, "only {total} findings in the corpus");
}

/// One migration file per (name, SQL); returns the directory.
fn write_all(db: &Db, files: &[(&str, &str)]) {
    for (name, sql) in files {
        db.write(name, sql);
    }
}

/// The old release's queries against `db`: what each returned (Err: the database refused).
fn old_release_queries(db: &Db) -> Vec<Result<(), String>> {
    [
        "SELECT email FROM users",
        "SELECT name FROM accounts",
        "INSERT INTO users (id, email) VALUES (99, 'old@example.org')",
    ]
    .iter()
    .map(|q| {
        let out = db.query_result(q);
        out.map(|_| ())
    })
    .collect()
}

/// Schema of the release still running, then one migration per hazard (and safe ones).
const BASE: &str = "CREATE TABLE users (id INT PRIMARY KEY, email VARCHAR(100));\n\
                    CREATE TABLE accounts (id INT PRIMARY KEY, name VARCHAR(100));\n\
                    INSERT INTO users VALUES (1, 'a@example.org');\n\
                    INSERT INTO accounts VALUES (1, 'a');\n";

fn hazard(kind: Kind) {
    let db = Db::new(kind);
    write_all(&db, &[("0001_base.up.sql", BASE)]);
    let out = db.run(&["up"]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    assert!(old_release_queries(&db).iter().all(Result::is_ok));
    // MariaDB fills a new NOT NULL column of existing rows with the type's zero and takes it;
    // the old release's INSERT without it then fails in strict mode (1364). SQLite (and
    // PostgreSQL) refuse such a column on a table with rows outright, so on SQLite the
    // column gets a default: the old INSERT still works, and lint says nothing about it.
    let required = if kind == Kind::Sqlite {
        "ALTER TABLE users ADD COLUMN tenant INT NOT NULL DEFAULT 0;\n"
    } else {
        "ALTER TABLE users ADD COLUMN tenant INT NOT NULL;\n"
    };
    write_all(
        &db,
        &[
            (
                "0002_add_nullable.up.sql",
                "ALTER TABLE users ADD COLUMN nickname VARCHAR(50);\n",
            ),
            (
                "0003_rename_email.up.sql",
                "-- the new release reads mail\nALTER TABLE users RENAME COLUMN email TO mail;\n",
            ),
            (
                "0004_drop_name.up.sql",
                "\nALTER TABLE accounts DROP COLUMN name;\n",
            ),
            ("0005_required.up.sql", required),
        ],
    );
    let dialect = match kind {
        Kind::Sqlite => "sqlite",
        Kind::Postgres => "postgres",
        Kind::Mariadb => "mariadb",
    };
    let out = db.run(&["lint", "--dialect", dialect]);
    assert_eq!(code(&out), 2, "{}", stderr(&out));
    let lines: Vec<String> = stdout(&out).lines().map(str::to_string).collect();
    let dir = db.dir();
    let mut expected = vec![
        format!(
            "{}:2: renaming-column:",
            dir.join("0003_rename_email.up.sql").display()
        ),
        format!(
            "{}:2: ban-drop-column:",
            dir.join("0004_drop_name.up.sql").display()
        ),
    ];
    if kind != Kind::Sqlite {
        expected.push(format!(
            "{}:1: adding-required-field:",
            dir.join("0005_required.up.sql").display()
        ));
    }
    assert_eq!(lines.len(), expected.len(), "{lines:#?}");
    for (line, want) in lines.iter().zip(&expected) {
        assert!(line.starts_with(want.as_str()), "{line}\nwanted {want}");
        assert!(line.contains("safe way:"), "{line}");
    }
    assert!(
        last_line(&out).contains("--allow-unsafe"),
        "{}",
        stderr(&out)
    );

    // The hazard is real: after the migrations, the old release's queries fail.
    let out = db.run(&["up"]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    // With a database, lint reads only what is pending: nothing now.
    let out = db.run(&["lint"]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    assert_eq!(stdout(&out), "");
    let after = old_release_queries(&db);
    assert!(
        after[0].is_err(),
        "SELECT of the renamed column: {:?}",
        after[0]
    );
    assert!(
        after[1].is_err(),
        "SELECT of the dropped column: {:?}",
        after[1]
    );
    if kind != Kind::Sqlite {
        assert!(
            after[2].is_err(),
            "INSERT without the NOT NULL column: {:?}",
            after[2]
        );
    }
}

#[test]
fn sqlite_old_queries_fail_exactly_where_lint_refuses() {
    hazard(Kind::Sqlite);
}

#[test]
fn mariadb_old_queries_fail_exactly_where_lint_refuses() {
    hazard(Kind::Mariadb);
}

#[test]
fn up_phase_pre_refuses_before_touching_the_database() {
    let db = Db::new(Kind::Sqlite);
    write_all(
        &db,
        &[
            ("0001_base.up.sql", BASE),
            ("0002_drop.up.sql", "ALTER TABLE users DROP COLUMN email;\n"),
        ],
    );
    let junit = db.path("pre.xml");
    let out = db.run(&["--junit", junit.to_str().unwrap(), "up", "--phase", "pre"]);
    assert_eq!(code(&out), 2, "{}", stderr(&out));
    let line = last_line(&out);
    assert!(
        line.contains("0002_drop.up.sql:1: ban-drop-column:"),
        "{line}"
    );
    // Nothing ran, not even the safe migration before it, and no history table was made.
    assert!(!db.table_exists("users"));
    assert!(!db.table_exists("db_migrate_history"));
    let report = common::junit(&junit);
    assert!(report.contains("ban-drop-column"), "{report}");

    // Acknowledged: applied, and the report says so next to the migration.
    let out = db.run(&[
        "--junit",
        junit.to_str().unwrap(),
        "up",
        "--phase",
        "pre",
        "--allow-unsafe",
        "ban-drop-column",
    ]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    let report = common::junit(&junit);
    assert!(
        report.contains("name=\"allow-unsafe\" value=\"ban-drop-column\""),
        "{report}"
    );
    assert!(
        report.contains("acknowledged with --allow-unsafe"),
        "{report}"
    );
    assert_eq!(db.versions(), vec![1, 2]);

    // A typo acknowledges nothing: refused.
    let out = db.run(&["up", "--phase", "pre", "--allow-unsafe", "ban-drop-colum"]);
    assert_eq!(code(&out), 2);
    assert!(
        last_line(&out).contains("no such lint rule"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn post_deploy_migrations_wait_for_the_post_phase() {
    let db = Db::new(Kind::Sqlite);
    write_all(
        &db,
        &[
            ("0001_base.up.sql", BASE),
            (
                "0002_add_mail.up.sql",
                "ALTER TABLE users ADD COLUMN mail VARCHAR(100);\nUPDATE users SET mail = email;\n",
            ),
            (
                "0003_drop_email.up.sql",
                "-- contract: the new release no longer reads email\n-- db-migrate: phase=post\nALTER TABLE users DROP COLUMN email;\n",
            ),
        ],
    );
    let out = db.run(&["lint", "--dialect", "sqlite"]);
    assert_eq!(
        code(&out),
        0,
        "post-deploy drops are not linted: {}",
        stderr(&out)
    );
    let out = db.run(&["up", "--phase", "pre"]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    assert_eq!(db.versions(), vec![1, 2]);
    let status = db.status_json();
    let phases: Vec<&str> = status["migrations"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["phase"].as_str().unwrap())
        .collect();
    assert_eq!(phases, ["pre", "pre", "post"]);
    let table = stdout(&db.run(&["status"]));
    assert!(
        table.contains("PHASE") && table.contains(" post "),
        "{table}"
    );
    // The old release still works between the phases.
    assert!(db.query_result("SELECT email FROM users").is_ok());
    let out = db.run(&["up", "--phase", "post"]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    assert_eq!(db.versions(), vec![1, 2, 3]);

    // A pending pre-deploy migration behind a pending post-deploy one cannot run in order.
    write_all(
        &db,
        &[
            (
                "0004_drop_nick.up.sql",
                "-- db-migrate: phase=post\nALTER TABLE users DROP COLUMN mail;\n",
            ),
            ("0005_add_x.up.sql", "ALTER TABLE users ADD COLUMN x INT;\n"),
        ],
    );
    let out = db.run(&["up", "--phase", "pre"]);
    assert_eq!(code(&out), 2, "{}", stderr(&out));
    assert!(
        last_line(&out).contains("comes after the pending post-deploy migration 4"),
        "{}",
        stderr(&out)
    );
    assert_eq!(db.versions(), vec![1, 2, 3]);
}

#[test]
fn bad_input_is_one_line_never_a_panic() {
    let db = Db::new(Kind::Sqlite);
    let garbage: Vec<u8> = (0u32..20_000)
        .map(|i| (i.wrapping_mul(2_654_435_761) >> 24) as u8)
        .collect();
    std::fs::write(db.dir().join("0001_garbage.up.sql"), &garbage).unwrap();
    let out = db.run(&["lint", "--dialect", "postgres"]);
    assert_eq!(code(&out), 2, "{}", stderr(&out));
    assert!(
        last_line(&out).contains("0001_garbage.up.sql"),
        "{}",
        stderr(&out)
    );
    assert!(!stderr(&out).contains("panicked"));

    std::fs::remove_file(db.dir().join("0001_garbage.up.sql")).unwrap();
    db.write(
        "0001_open.up.sql",
        "SELECT 1;\nINSERT INTO t VALUES ('never closed);\n",
    );
    // 1 MB in one statement: over the size the check parses, so a finding rather than a
    // parser's deep recursion.
    let huge = format!(
        "SELECT 1;\nINSERT INTO t VALUES {}(1);\n",
        "(1),".repeat(250_000)
    );
    db.write("0002_huge.up.sql", &huge);
    for dialect in ["postgres", "mariadb", "sqlite"] {
        let out = db.run(&["lint", "--dialect", dialect]);
        assert_eq!(code(&out), 2, "{dialect}: {}", stderr(&out));
        let lines = stdout(&out);
        assert!(
            lines.lines().all(|l| l.contains(": unparsed-statement: ")),
            "{dialect}: {lines}"
        );
        assert!(
            lines.contains("0001_open.up.sql:2: unparsed-statement"),
            "{dialect}: {lines}"
        );
        assert!(
            lines.contains("0002_huge.up.sql:2: unparsed-statement"),
            "{dialect}: {lines}"
        );
        assert!(!stderr(&out).contains("panicked"), "{dialect}");
    }
}
