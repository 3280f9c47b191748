//! db-migrate against real SQLite, PostgreSQL 15 and MariaDB: applying, re-running, going
//! down with the stored down SQL, failures (rolled back, or half-applied and refused until
//! `repair`), `-- no-transaction` with CREATE INDEX CONCURRENTLY, drift, bad input.

mod common;

use common::{code, counts, last_line, stderr, stdout, Db, Kind};

/// Apply 5; re-run applies 0; `down --to 2` with an older release's files (only 1-2 on disk:
/// the stored down SQL is used); `up` again applies 3 more.
fn apply_rerun_down_up(kind: Kind) {
    let db = Db::new(kind);
    db.tables(1..=5);
    let report = db.path("up.xml");
    let out = db.run(&[
        "--release",
        "1.2.0-1",
        "--junit",
        report.to_str().unwrap(),
        "up",
    ]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    let c = counts(&report);
    assert_eq!((c.tests, c.passed), (5, 5), "{c:?}");
    assert_eq!(db.versions(), vec![1, 2, 3, 4, 5]);
    assert!((1..=5).all(|n| db.table_exists(&format!("t{n}"))));
    assert_eq!(
        db.query("SELECT package_version FROM db_migrate_history WHERE version = 5"),
        "1.2.0-1"
    );
    assert_eq!(
        db.query("SELECT down_sql FROM db_migrate_history WHERE version = 4"),
        "DROP TABLE t4;"
    );
    assert_eq!(
        db.query("SELECT checksum_algo FROM db_migrate_history WHERE version = 1"),
        "sha256-lf"
    );
    for row in db
        .query("SELECT applied_at, applied_by, execution_ms FROM db_migrate_history")
        .lines()
    {
        let fields: Vec<&str> = row.split(['\t', '|']).collect();
        let at = chrono::DateTime::parse_from_rfc3339(fields[0])
            .unwrap_or_else(|e| panic!("applied_at {:?} is not RFC 3339: {e}", fields[0]));
        let age = chrono::Utc::now().signed_duration_since(at);
        assert!(
            age >= chrono::Duration::seconds(-5) && age < chrono::Duration::minutes(10),
            "applied_at {at} is now"
        );
        assert!(fields[1].contains('@'), "applied_by USER@HOST: {row}");
        let ms: i64 = fields[2].parse().expect("execution_ms is a number");
        assert!(ms >= 0, "execution_ms {ms}");
    }

    let again = db.path("again.xml");
    let out = db.run(&["--junit", again.to_str().unwrap(), "up"]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    let c = counts(&again);
    assert_eq!(
        (c.tests, c.skipped),
        (1, 1),
        "an empty run writes one skipped case: {c:?}"
    );
    assert_eq!(db.versions(), vec![1, 2, 3, 4, 5]);

    // An older release ships only migrations 1 and 2: down uses the SQL stored at apply time.
    for n in 3..=5 {
        std::fs::remove_file(db.dir().join(format!("{n:04}_t{n}.up.sql"))).unwrap();
        std::fs::remove_file(db.dir().join(format!("{n:04}_t{n}.down.sql"))).unwrap();
    }
    let down = db.path("down.xml");
    let out = db.run(&["--junit", down.to_str().unwrap(), "down", "--to", "2"]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    let c = counts(&down);
    assert_eq!((c.tests, c.passed), (3, 3), "{c:?}");
    assert_eq!(db.versions(), vec![1, 2]);
    assert!(!db.table_exists("t3") && !db.table_exists("t5") && db.table_exists("t2"));

    db.tables(3..=5);
    let out = db.run(&["up"]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    assert_eq!(db.versions(), vec![1, 2, 3, 4, 5]);
    assert!(db.table_exists("t5"));
}

per_database! {
    apply_rerun_down_up:
        apply_rerun_down_up_sqlite = Sqlite,
        apply_rerun_down_up_postgres = Postgres,
        apply_rerun_down_up_mariadb = Mariadb,
}

/// Migration 2's second statement fails. PostgreSQL/SQLite: exit 1, no trace of migration 2.
fn failing_migration_leaves_no_trace(kind: Kind) {
    let db = Db::new(kind);
    db.tables(1..=1);
    db.write(
        "0002_bad.up.sql",
        "CREATE TABLE ok2 (x INT);\nCREATE TABLE t1 (x INT);\n",
    );
    db.tables(3..=3);
    let report = db.path("fail.xml");
    let out = db.run(&["--junit", report.to_str().unwrap(), "up"]);
    assert_eq!(code(&out), 1, "{}", stderr(&out));
    let line = last_line(&out);
    assert!(
        line.contains("apply 2 (bad) failed and was rolled back"),
        "{line}"
    );
    assert!(
        line.to_lowercase().contains("t1"),
        "the database's error is in the line: {line}"
    );
    assert_eq!(
        db.versions(),
        vec![1],
        "history unchanged after the failure"
    );
    assert!(
        !db.table_exists("ok2"),
        "the failed migration's first statement was rolled back"
    );
    assert!(!db.table_exists("t3"), "nothing after the failure ran");
    let c = counts(&report);
    assert_eq!((c.tests, c.passed, c.failures), (2, 1, 1), "{c:?}");
    let xml = std::fs::read_to_string(&report).unwrap();
    assert!(xml.contains("sql-error"), "{xml}");
    assert!(
        xml.contains("statement:\nCREATE TABLE t1 (x INT)"),
        "the failing statement is named: {xml}"
    );

    // Fixed file: the next run applies 2 and 3.
    db.write("0002_bad.up.sql", "CREATE TABLE ok2 (x INT);\n");
    let out = db.run(&["up"]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    assert_eq!(db.versions(), vec![1, 2, 3]);
}

per_database! {
    failing_migration_leaves_no_trace:
        failing_migration_leaves_no_trace_sqlite = Sqlite,
        failing_migration_leaves_no_trace_postgres = Postgres,
}

/// MariaDB commits DDL implicitly: a migration whose second statement fails is half-applied,
/// marked in progress, reported with exit 3 and the exact repair command, and every later run
/// refuses until `repair`. A migration whose *first* statement fails changed nothing: exit 1.
#[test]
fn failing_migration_on_mariadb_is_refused_until_repair() {
    let db = Db::new(Kind::Mariadb);
    db.tables(1..=1);
    db.write(
        "0002_bad.up.sql",
        "CREATE TABLE ok2 (x INT);\nCREATE TABLE t1 (x INT);\n",
    );
    let report = db.path("half.xml");
    let out = db.run(&["--junit", report.to_str().unwrap(), "up"]);
    assert_eq!(code(&out), 3, "{}", stderr(&out));
    let line = last_line(&out);
    assert!(line.contains("repair --clear-in-progress 2"), "{line}");
    assert!(line.contains("repair --mark-applied 2"), "{line}");
    assert!(
        db.table_exists("ok2"),
        "MariaDB committed the first statement"
    );
    assert_eq!(db.history(), vec![(1, true), (2, false)]);
    let c = counts(&report);
    assert_eq!((c.tests, c.failures), (2, 1), "{c:?}");
    assert!(
        std::fs::read_to_string(&report)
            .unwrap()
            .contains("CREATE TABLE t1"),
        "the failing statement is in the report"
    );

    // Every later run refuses, even after the file is fixed, until a human says what happened.
    db.write("0002_bad.up.sql", "CREATE TABLE ok2 (x INT);\n");
    let out = db.run(&["up"]);
    assert_eq!(code(&out), 3, "{}", stderr(&out));
    assert!(
        last_line(&out).contains("marked in progress by an earlier run"),
        "{}",
        last_line(&out)
    );
    let out = db.run(&["status", "--json"]);
    assert!(stdout(&out).contains("\"in_progress\""), "{}", stdout(&out));

    // The human undoes the partial change and clears the mark; up runs it again.
    db.query("DROP TABLE ok2");
    let out = db.run(&["repair", "--clear-in-progress", "2"]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    let out = db.run(&["up"]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    assert_eq!(db.history(), vec![(1, true), (2, true)]);

    // First statement fails: nothing changed, the in-progress row is removed, exit 1.
    db.write(
        "0003_first_fails.up.sql",
        "CREATE TABLE t1 (x INT);\nCREATE TABLE never (x INT);\n",
    );
    let out = db.run(&["up"]);
    assert_eq!(code(&out), 1, "{}", stderr(&out));
    assert_eq!(db.history(), vec![(1, true), (2, true)]);
    assert!(!db.table_exists("never"));
}

/// A `-- no-transaction` migration that fails after its first statement (SQLite here) is
/// half-applied: exit 3, refused until a human settles it; `repair --mark-applied` records it
/// as finished by hand.
#[test]
fn half_applied_no_transaction_migration_is_settled_by_mark_applied() {
    let db = Db::new(Kind::Sqlite);
    db.tables(1..=1);
    db.write(
        "0002_two_steps.up.sql",
        "-- no-transaction\nCREATE TABLE a2 (x INT);\nINSERT INTO missing VALUES (1);\n",
    );
    let out = db.run(&["up"]);
    assert_eq!(code(&out), 3, "{}", stderr(&out));
    assert!(
        last_line(&out).contains("failed half-way"),
        "{}",
        last_line(&out)
    );
    assert!(db.table_exists("a2"));
    assert_eq!(db.history(), vec![(1, true), (2, false)]);
    let out = db.run(&["repair", "--mark-applied", "1"]);
    assert_eq!(
        code(&out),
        2,
        "version 1 is not in progress: {}",
        stderr(&out)
    );
    // Finished by hand: the missing table is made and filled, then the mark is settled.
    db.query("CREATE TABLE missing (x INT); INSERT INTO missing VALUES (1);");
    let out = db.run(&["repair", "--mark-applied", "2"]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    assert_eq!(db.history(), vec![(1, true), (2, true)]);
    assert_eq!(code(&db.run(&["up"])), 0);
}

/// `-- no-transaction` runs CREATE INDEX CONCURRENTLY statement by statement; without the
/// header the same file fails (PostgreSQL refuses it in a transaction) and leaves no trace.
#[test]
fn no_transaction_create_index_concurrently_on_postgres() {
    let db = Db::new(Kind::Postgres);
    db.write(
        "0001_items.up.sql",
        "CREATE TABLE items (id INT PRIMARY KEY, sku TEXT, price INT);\n\
         INSERT INTO items SELECT g, 'sku' || g, g % 100 FROM generate_series(1, 2000) g;\n",
    );
    db.write(
        "0002_index.up.sql",
        "CREATE INDEX CONCURRENTLY items_sku ON items (sku);\nCREATE INDEX CONCURRENTLY items_price ON items (price);\n",
    );
    let out = db.run(&["up"]);
    assert_eq!(code(&out), 1, "{}", stderr(&out));
    assert!(
        last_line(&out).contains("cannot run inside a transaction block"),
        "{}",
        last_line(&out)
    );
    assert_eq!(db.versions(), vec![1]);

    db.write(
        "0002_index.up.sql",
        "-- no-transaction\n-- two indexes; semicolons in 'strings;' and $$bodies;$$ do not split\n\
         CREATE INDEX CONCURRENTLY items_sku ON items (sku);\n\
         CREATE INDEX CONCURRENTLY items_price ON items (price) WHERE sku <> 'a;b';\n",
    );
    db.write("0002_index.down.sql", "-- no-transaction\nDROP INDEX CONCURRENTLY items_price;\nDROP INDEX CONCURRENTLY items_sku;\n");
    let report = db.path("cic.xml");
    let out = db.run(&["--junit", report.to_str().unwrap(), "up"]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    assert_eq!(db.history(), vec![(1, true), (2, true)]);
    assert_eq!(
        db.query("SELECT count(*) FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid WHERE c.relname IN ('items_sku', 'items_price') AND i.indisvalid"),
        "2"
    );
    assert_eq!(counts(&report).passed, 1);

    let out = db.run(&["down", "--to", "1"]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    assert_eq!(
        db.query("SELECT count(*) FROM pg_class WHERE relname IN ('items_sku', 'items_price')"),
        "0"
    );
    assert_eq!(db.versions(), vec![1]);
}

/// An edited applied migration and a deleted one: exit 2 naming the version and both
/// checksums; `repair --accept-checksum` accepts the edit explicitly. CRLF line endings and a
/// BOM are not edits.
fn drift_is_detected(kind: Kind) {
    let db = Db::new(kind);
    db.tables(1..=3);
    assert_eq!(code(&db.run(&["up"])), 0);

    // Same text with CRLF and a BOM: not drift.
    let one = db.dir().join("0001_t1.up.sql");
    let text = std::fs::read_to_string(&one).unwrap();
    std::fs::write(&one, format!("\u{feff}{}", text.replace('\n', "\r\n"))).unwrap();
    let out = db.run(&["up"]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));

    // Edited: exit 2 with both checksums (the file's as sha256sum computes it).
    let two = db.dir().join("0002_t2.up.sql");
    let recorded = db.query("SELECT checksum FROM db_migrate_history WHERE version = 2");
    std::fs::write(&two, "CREATE TABLE t2 (id BIGINT PRIMARY KEY);\n").unwrap();
    let sha = std::process::Command::new("sha256sum")
        .arg(&two)
        .output()
        .unwrap();
    let now = String::from_utf8_lossy(&sha.stdout)
        .split_whitespace()
        .next()
        .unwrap()
        .to_string();
    let report = db.path("drift.xml");
    let out = db.run(&["--junit", report.to_str().unwrap(), "up"]);
    assert_eq!(code(&out), 2, "{}", stderr(&out));
    let line = last_line(&out);
    assert_eq!(
        stderr(&out).lines().count(),
        1,
        "one line: {}",
        stderr(&out)
    );
    assert!(
        line.contains("applied migration 2 (t2) was edited"),
        "{line}"
    );
    assert!(
        line.contains(&format!("sha256-lf:{recorded}"))
            && line.contains(&format!("sha256-lf:{now}")),
        "{line}"
    );
    assert!(line.contains("repair --accept-checksum 2"), "{line}");
    assert_eq!(counts(&report).failures, 1);
    let out = db.run(&["validate"]);
    assert_eq!(code(&out), 2, "validate sees it too: {}", stderr(&out));

    // The hint is a complete command: pasted into a shell elsewhere, it repairs.
    let out = common::paste_hint(&line, "accept them with `");
    assert_eq!(
        code(&out),
        0,
        "the pasted hint failed: {line}\n{}",
        stderr(&out)
    );
    assert_eq!(code(&db.run(&["up"])), 0);

    // Deleted: exit 2 naming version 3.
    std::fs::remove_file(db.dir().join("0003_t3.up.sql")).unwrap();
    std::fs::remove_file(db.dir().join("0003_t3.down.sql")).unwrap();
    let out = db.run(&["up"]);
    assert_eq!(code(&out), 2, "{}", stderr(&out));
    assert!(
        last_line(&out).contains("applied migration 3 (t3) has no file any more"),
        "{}",
        last_line(&out)
    );
    let status = db.status_json();
    assert_eq!(status["migrations"][2]["state"], "missing", "{status}");
    assert_eq!(status["current_version"], 3);

    // Deleted on purpose: accepted explicitly, then `up` runs and `down` still reverts 3 with
    // the SQL stored when it was applied.
    let out = db.run(&["repair", "--accept-checksum", "3"]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    assert!(
        stderr(&out).contains("accepted-missing"),
        "{}",
        stderr(&out)
    );
    assert_eq!(code(&db.run(&["up"])), 0);
    let status = db.status_json();
    assert_eq!(status["migrations"][2]["state"], "applied", "{status}");
    let out = db.run(&["down", "--to", "2"]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    assert_eq!(db.versions(), vec![1, 2]);
    assert!(!db.table_exists("t3"));
}

per_database! {
    drift_is_detected:
        drift_is_detected_sqlite = Sqlite,
        drift_is_detected_postgres = Postgres,
        drift_is_detected_mariadb = Mariadb,
}

/// Bad inputs: one line naming the input and the problem, exit 2, nothing written.
#[test]
fn bad_inputs_are_one_line_and_exit_2() {
    let db = Db::new(Kind::Sqlite);
    let check = |out: std::process::Output, needle: &str| {
        assert_eq!(code(&out), 2, "{}", stderr(&out));
        let err = stderr(&out);
        assert_eq!(err.trim_end().lines().count(), 1, "one line: {err}");
        assert!(err.contains(needle), "{needle:?} in {err}");
    };
    db.write("V1__init.sql", "SELECT 1;");
    check(
        db.run(&["up"]),
        "V1__init.sql: malformed migration file name",
    );
    std::fs::remove_file(db.dir().join("V1__init.sql")).unwrap();

    db.write("0001_a.up.sql", "SELECT 1;");
    db.write("1_b.up.sql", "SELECT 1;");
    check(db.run(&["up"]), "duplicate version 1");
    std::fs::remove_file(db.dir().join("1_b.up.sql")).unwrap();

    db.write("0002_orphan.down.sql", "SELECT 1;");
    check(db.run(&["up"]), "down migration without an up migration");
    std::fs::remove_file(db.dir().join("0002_orphan.down.sql")).unwrap();

    db.write("0002_empty.up.sql", "-- nothing yet\n");
    check(db.run(&["up"]), "0002_empty.up.sql: the migration is empty");
    std::fs::remove_file(db.dir().join("0002_empty.up.sql")).unwrap();

    let url = |u: &str| {
        std::process::Command::new(common::BIN)
            .args(["--database-url", u, "--dir"])
            .arg(db.dir())
            .arg("up")
            .output()
            .unwrap()
    };
    let out = url("oracle://scott:tiger-secret@db/x");
    assert!(!stderr(&out).contains("tiger-secret"), "{}", stderr(&out));
    check(out, "unknown scheme");
    check(url("mysql://root:pw-secret1@db"), "no database name");
    check(
        url("postgres://u:pw@host:notaport/x"),
        "database URL postgres://u:***@host:notaport/x",
    );
    let out = std::process::Command::new(common::BIN)
        .args(["up", "--dir"])
        .arg(db.dir())
        .env_remove("DATABASE_URL")
        .output()
        .unwrap();
    check(
        out,
        "no database: give --database-url URL or set DATABASE_URL",
    );
    let out = db.run(&["down"]);
    assert_eq!(code(&out), 2, "down needs --to: {}", stderr(&out));
    check(db.run(&["new", "bad name"]), "letters, digits, _ or -");

    // Nothing was written: no database file, no history.
    assert!(!db.path(&format!("{}.db", db.name)).exists());

    // Unreachable server: exit 75 (nothing changed, retry), password masked.
    let out = url("postgres://app:hunter2-secret@127.0.0.1:1/app");
    assert_eq!(code(&out), 75, "{}", stderr(&out));
    assert!(
        stderr(&out).contains("cannot connect to postgres://app:***@127.0.0.1:1/app"),
        "{}",
        stderr(&out)
    );
    assert!(!stderr(&out).contains("hunter2-secret"));

    // A database that does not exist: the server refuses, retrying will not help (exit 2).
    let pg = Db::new(Kind::Postgres);
    let out = url(&pg.url.replace(&pg.name, "no_such_db"));
    assert_eq!(code(&out), 2, "{}", stderr(&out));
    assert!(
        stderr(&out).contains("refused the connection"),
        "{}",
        stderr(&out)
    );
    let my = Db::new(Kind::Mariadb);
    let out = url(&my.url.replace("root@", "nobody:pw-x123@"));
    assert_eq!(code(&out), 2, "{}", stderr(&out));
    assert!(
        stderr(&out).contains("Access denied") && !stderr(&out).contains("pw-x123"),
        "{}",
        stderr(&out)
    );
}

/// Passwords never reach logs, JUnit or errors, also for a failing migration with -vv and
/// JSON logs: in `user:password@` and in a `?password=` query parameter (both taken by the
/// postgres and mysql crates), on a failing migration (PostgreSQL, exit 1) and a refused
/// connection (MariaDB, exit 2).
#[test]
fn passwords_never_appear() {
    let db = Db::new(Kind::Postgres);
    let my = Db::new(Kind::Mariadb);
    db.tables(1..=1);
    db.write("0002_bad.up.sql", "SELECT * FROM no_such_table;\n");
    // The test PostgreSQL trusts loopback, so any password is accepted; MariaDB's root has
    // none, so one in the query is refused (Access denied).
    let cases = [
        (
            db.url.replace("postgres@", "postgres:Pa55-w0rd-xyz@"),
            "Pa55-w0rd-xyz",
            1,
            "no_such_table",
        ),
        (
            format!("{}?sslmode=disable&password=Qu3ry-pw-xyz", db.url),
            "Qu3ry-pw-xyz",
            1,
            "no_such_table",
        ),
        (
            format!("{}?password=My-qu3ry-pw", my.url),
            "My-qu3ry-pw",
            2,
            "Access denied",
        ),
    ];
    for (i, (url, password, exit, error)) in cases.iter().enumerate() {
        let report = db.path(&format!("pw{i}.xml"));
        let out = std::process::Command::new(common::BIN)
            .args([
                "-vv",
                "--log-format",
                "json",
                "--junit",
                report.to_str().unwrap(),
                "--dir",
            ])
            .arg(db.dir())
            .arg("up")
            .env("DATABASE_URL", url)
            .output()
            .unwrap();
        assert_eq!(code(&out), *exit, "{url}: {}", stderr(&out));
        let all = format!("{}{}{}", stdout(&out), stderr(&out), common::junit(&report));
        assert!(all.contains(error), "the error is reported: {all}");
        if *exit == 2 {
            assert!(
                all.contains(&format!("{}?password=*** refused the connection", my.url)),
                "the URL is shown with its query password masked: {all}"
            );
        }
        assert!(!all.contains(password), "password leaked: {all}");
    }
}

/// `--dry-run` prints the SQL and changes nothing; `new` numbers the next pair of files;
/// `baseline` adopts an existing database (and `down` refuses to go below it).
#[test]
fn dry_run_new_and_baseline() {
    let db = Db::new(Kind::Sqlite);
    db.tables(1..=2);
    let out = db.run(&["--dry-run", "up"]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    assert!(
        stdout(&out).contains("-- db-migrate: would apply 0002_t2\n-- table 2\nCREATE TABLE t2"),
        "{}",
        stdout(&out)
    );
    assert!(
        !db.path(&format!("{}.db", db.name)).exists(),
        "a dry run creates nothing"
    );

    let out = db.run(&["new", "add_email"]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    assert!(
        db.dir().join("0003_add_email.up.sql").exists()
            && db.dir().join("0003_add_email.down.sql").exists()
    );
    std::fs::write(
        db.dir().join("0003_add_email.up.sql"),
        "ALTER TABLE t1 ADD COLUMN email TEXT;\n",
    )
    .unwrap();
    std::fs::write(
        db.dir().join("0003_add_email.down.sql"),
        "ALTER TABLE t1 DROP COLUMN email;\n",
    )
    .unwrap();

    // An existing database that already has t1 and t2, made without db-migrate.
    db.query("CREATE TABLE t1 (id INT PRIMARY KEY, name VARCHAR(20)); CREATE TABLE t2 (id INT PRIMARY KEY, name VARCHAR(20));");
    let out = db.run(&["baseline", "2"]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    assert_eq!(db.versions(), vec![1, 2]);
    let out = db.run(&["up"]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    assert_eq!(db.versions(), vec![1, 2, 3]);
    let out = db.run(&["down", "--to", "1"]);
    assert_eq!(code(&out), 2, "{}", stderr(&out));
    assert!(
        last_line(&out).contains("cannot revert version 2 (t2): no down SQL"),
        "{}",
        last_line(&out)
    );
    assert_eq!(
        db.versions(),
        vec![1, 2, 3],
        "refused before reverting anything"
    );
    let out = db.run(&["baseline", "2"]);
    assert_eq!(code(&out), 2, "baseline twice: {}", stderr(&out));
}

/// The library API the `rollback` tool uses: current version, history, down_to with the
/// stored SQL and no files at all.
#[test]
fn library_down_to_uses_stored_sql_without_files() {
    let db = Db::new(Kind::Sqlite);
    db.tables(1..=4);
    let mut options = db_migrate::Options::default();
    options.dir = db.dir();
    options.release = Some("2.0-1".into());
    let report = db_migrate::up(&db.url, None, &options).expect("up");
    assert_eq!((report.done(), report.version_after), (4, Some(4)));
    assert_eq!(db_migrate::current_version(&db.url).unwrap(), Some(4));
    let history = db_migrate::history(&db.url).unwrap();
    assert!(history
        .iter()
        .all(|h| h.release.as_deref() == Some("2.0-1") && h.down_sql.is_some()));

    let mut older = db_migrate::Options::default();
    older.dir = db.path("no-such-dir");
    let mut dry = older.clone();
    dry.dry_run = true;
    let plan = db_migrate::down_to(&db.url, 1, &dry).expect("dry down_to");
    assert_eq!((plan.steps.len(), plan.version_after), (3, Some(1)));
    assert!(plan
        .steps
        .iter()
        .all(|s| matches!(s.outcome, db_migrate::Outcome::Planned)));
    assert_eq!(
        db_migrate::current_version(&db.url).unwrap(),
        Some(4),
        "a dry run changes nothing"
    );
    let report = db_migrate::down_to(&db.url, 1, &older).expect("down_to");
    assert_eq!(report.done(), 3);
    assert_eq!(
        (report.version_before, report.version_after),
        (Some(4), Some(1))
    );
    assert_eq!(
        report.steps.iter().map(|s| s.version).collect::<Vec<_>>(),
        vec![4, 3, 2]
    );
    assert_eq!(db_migrate::current_version(&db.url).unwrap(), Some(1));
    assert!(!db.table_exists("t2") && db.table_exists("t1"));
    // -1 means "before version 0 too" (golang-migrate projects start at 0); below is no version.
    let err = db_migrate::down_to(&db.url, -2, &older).unwrap_err();
    assert_eq!(cdkit::exit::ExitCoded::exit(&err).code(), 2);
}

/// `repair --accept-checksum 2,99`: 99 has no history row, so nothing is written (2 stays
/// edited and `up` still refuses); `baseline` writes its rows in one transaction (a trigger
/// that refuses the second row leaves no first row behind).
fn repair_and_baseline_write_all_or_nothing(kind: Kind) {
    let db = Db::new(kind);
    db.tables(1..=3);
    assert_eq!(code(&db.run(&["up"])), 0);
    db.write("0002_t2.up.sql", "CREATE TABLE t2 (id BIGINT);\n");
    let recorded = db.query("SELECT checksum FROM db_migrate_history WHERE version = 2");
    let out = db.run(&["repair", "--accept-checksum", "2,99"]);
    assert_eq!(code(&out), 2, "{}", stderr(&out));
    assert!(
        last_line(&out).contains("version 99 has no history row"),
        "{}",
        last_line(&out)
    );
    assert_eq!(
        db.query("SELECT checksum FROM db_migrate_history WHERE version = 2"),
        recorded,
        "version 2 was not accepted when 99 was refused"
    );
    assert_eq!(code(&db.run(&["up"])), 2, "still edited");
    let out = db.run(&["repair", "--accept-checksum", "2"]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    assert!(
        stderr(&out).contains("version 2 (t2): checksum sha256-lf:"),
        "{}",
        stderr(&out)
    );
    assert_eq!(code(&db.run(&["up"])), 0);

    let fresh = Db::new(kind);
    fresh.tables(1..=3);
    let out = fresh.run(&["up", "--to", "0"]);
    assert_eq!(code(&out), 0, "creates the empty history: {}", stderr(&out));
    fresh.query(match kind {
        Kind::Sqlite => "CREATE TRIGGER no2 BEFORE INSERT ON db_migrate_history WHEN NEW.version = 2 BEGIN SELECT RAISE(ABORT, 'row 2 refused'); END;",
        Kind::Postgres => "CREATE FUNCTION no2() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN IF NEW.version = 2 THEN RAISE EXCEPTION 'row 2 refused'; END IF; RETURN NEW; END $$; \
                           CREATE TRIGGER no2 BEFORE INSERT ON db_migrate_history FOR EACH ROW EXECUTE FUNCTION no2();",
        // One statement (the client would split a BEGIN … END body): NULL into the key fails.
        Kind::Mariadb => "CREATE TRIGGER no2 BEFORE INSERT ON db_migrate_history FOR EACH ROW SET NEW.version = IF(NEW.version = 2, NULL, NEW.version)",
    });
    let out = fresh.run(&["baseline", "3"]);
    assert_eq!(code(&out), 1, "{}", stderr(&out));
    assert!(
        ["row 2 refused", "cannot be null"]
            .iter()
            .any(|m| last_line(&out).contains(m)),
        "the trigger refused row 2: {}",
        last_line(&out)
    );
    assert_eq!(fresh.history(), vec![], "row 1 was rolled back with row 2");
}

per_database! {
    repair_and_baseline_write_all_or_nothing:
        repair_and_baseline_write_all_or_nothing_sqlite = Sqlite,
        repair_and_baseline_write_all_or_nothing_postgres = Postgres,
        repair_and_baseline_write_all_or_nothing_mariadb = Mariadb,
}

/// `--dry-run` of `baseline`, `repair` and `new` prints what it would write and writes
/// nothing: no history table, no row changed, no file.
fn dry_run_writes_nothing(kind: Kind) {
    let db = Db::new(kind);
    db.tables(1..=3);
    let out = db.run(&["--dry-run", "new", "add_email"]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    let would = db.dir().join("0004_add_email.up.sql");
    assert!(
        stdout(&out).contains(&format!("would create {}", would.display())),
        "{}",
        stdout(&out)
    );
    assert!(!would.exists() && !db.dir().join("0004_add_email.down.sql").exists());

    let out = db.run(&["--dry-run", "baseline", "2"]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    assert!(
        stdout(&out).contains("would record 0001_t1 as applied without running it")
            && stdout(&out).contains("would record 0002_t2 as applied")
            && !stdout(&out).contains("0003_t3"),
        "{}",
        stdout(&out)
    );
    assert!(
        !db.table_exists("db_migrate_history"),
        "a dry baseline creates no history table"
    );

    assert_eq!(code(&db.run(&["up"])), 0);
    let rows =
        "SELECT version, checksum, down_sql, success FROM db_migrate_history ORDER BY version";
    db.write("0002_t2.up.sql", "CREATE TABLE t2 (id BIGINT);\n");
    let before = db.query(rows);
    let out = db.run(&["--dry-run", "repair", "--accept-checksum", "2"]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    assert!(
        stdout(&out).contains(
            "dry run, nothing written; repair would write: version 2 (t2): checksum sha256-lf:"
        ),
        "{}",
        stdout(&out)
    );
    assert_eq!(db.query(rows), before, "a dry repair changes no row");
    assert_eq!(code(&db.run(&["up"])), 2, "2 is still edited");

    db.query("UPDATE db_migrate_history SET success = (1 = 0) WHERE version = 3");
    let before = db.query(rows);
    for args in [["--clear-in-progress", "3"], ["--mark-applied", "3"]] {
        let mut argv = vec!["--dry-run", "repair"];
        argv.extend(args);
        let out = db.run(&argv);
        assert_eq!(code(&out), 0, "{}", stderr(&out));
        assert!(
            stdout(&out).contains("repair would write: version 3 (t3): "),
            "{}",
            stdout(&out)
        );
        assert_eq!(db.query(rows), before, "{argv:?} changed nothing");
    }
    assert_eq!(db.history(), vec![(1, true), (2, true), (3, false)]);
}

per_database! {
    dry_run_writes_nothing:
        dry_run_writes_nothing_sqlite = Sqlite,
        dry_run_writes_nothing_postgres = Postgres,
}

/// A file saved with a BOM and CRLF line endings (a Windows editor) applies and reverts on
/// every database: the BOM is not sent to the server, nor stored as down SQL. Both the
/// transactional path and `-- no-transaction` (whose directive follows the BOM).
fn bom_and_crlf_migrations_apply_and_revert(kind: Kind) {
    let db = Db::new(kind);
    db.write(
        "0001_bom.up.sql",
        "\u{feff}CREATE TABLE bom1 (id INT);\r\nINSERT INTO bom1 VALUES (1);\r\n",
    );
    db.write("0001_bom.down.sql", "\u{feff}DROP TABLE bom1;\r\n");
    db.write(
        "0002_bom_nt.up.sql",
        "\u{feff}-- no-transaction\r\nCREATE TABLE bom2 (id INT);\r\nINSERT INTO bom2 VALUES (2);\r\n",
    );
    db.write(
        "0002_bom_nt.down.sql",
        "\u{feff}-- no-transaction\r\nDROP TABLE bom2;\r\n",
    );
    let out = db.run(&["up"]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    assert_eq!(db.history(), vec![(1, true), (2, true)]);
    assert_eq!(db.query("SELECT id FROM bom1"), "1");
    assert_eq!(db.query("SELECT id FROM bom2"), "2");
    let stored = db.query("SELECT down_sql FROM db_migrate_history ORDER BY version");
    assert!(
        !stored.contains('\u{feff}') && stored.contains("DROP TABLE bom1;"),
        "stored without the BOM: {stored:?}"
    );
    let out = db.run(&["down", "--to", "0"]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    assert_eq!(db.history(), vec![]);
    assert!(!db.table_exists("bom1") && !db.table_exists("bom2"));
}

per_database! {
    bom_and_crlf_migrations_apply_and_revert:
        bom_and_crlf_migrations_apply_and_revert_sqlite = Sqlite,
        bom_and_crlf_migrations_apply_and_revert_postgres = Postgres,
        bom_and_crlf_migrations_apply_and_revert_mariadb = Mariadb,
}

/// A `-- no-transaction` migration is not atomic: CREATE UNIQUE INDEX CONCURRENTLY on
/// duplicate data fails after PostgreSQL has created the index (left INVALID), so the run
/// must not say "rolled back": exit 3, the in-progress row kept, the repair command printed,
/// and a rerun refused. After the data is fixed, the invalid index dropped and the mark
/// cleared, `up` succeeds. A statement the server rejects before running it (undefined table,
/// class 42) changed nothing: exit 1, no row.
#[test]
fn failed_no_transaction_statement_that_ran_is_half_applied_postgres() {
    let db = Db::new(Kind::Postgres);
    db.write(
        "0001_users.up.sql",
        "CREATE TABLE users (id INT PRIMARY KEY, email TEXT);\n\
         INSERT INTO users VALUES (1, 'a@x'), (2, 'a@x'), (3, 'b@x');\n",
    );
    db.write(
        "0002_unique_email.up.sql",
        "-- no-transaction\nCREATE UNIQUE INDEX CONCURRENTLY users_email ON users (email);\n",
    );
    let report = db.path("cic.xml");
    let out = db.run(&["--junit", report.to_str().unwrap(), "up"]);
    assert_eq!(code(&out), 3, "{}", stderr(&out));
    let line = last_line(&out);
    assert!(
        line.contains("apply 2 (unique_email) failed half-way")
            && line.contains("repair --clear-in-progress 2")
            && line.contains("repair --mark-applied 2")
            && line.contains("INVALID index"),
        "{line}"
    );
    assert_eq!(db.history(), vec![(1, true), (2, false)]);
    assert_eq!(
        db.query("SELECT i.indisvalid FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid WHERE c.relname = 'users_email'"),
        "f",
        "the failed statement left an INVALID index: it ran"
    );
    let xml = common::junit(&report);
    assert!(
        xml.contains("half-applied") && xml.contains("23505"),
        "{xml}"
    );
    let out = db.run(&["up"]);
    assert_eq!(code(&out), 3, "refused until repaired: {}", stderr(&out));

    db.query("DELETE FROM users WHERE id = 2; DROP INDEX users_email;");
    let out = db.run(&["repair", "--clear-in-progress", "2"]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    let out = db.run(&["up"]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    assert_eq!(db.history(), vec![(1, true), (2, true)]);
    assert_eq!(
        db.query("SELECT i.indisvalid FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid WHERE c.relname = 'users_email'"),
        "t"
    );

    db.write(
        "0003_rejected.up.sql",
        "-- no-transaction\nCREATE INDEX CONCURRENTLY nope ON no_such_table (x);\n",
    );
    let out = db.run(&["up"]);
    assert_eq!(code(&out), 1, "{}", stderr(&out));
    assert!(
        last_line(&out).contains("apply 3 (rejected) failed and was rolled back"),
        "{}",
        last_line(&out)
    );
    assert_eq!(db.history(), vec![(1, true), (2, true)]);
}

/// MariaDB shares the flaw: `DROP TABLE a, missing` drops `a`, then fails on `missing`
/// (error 1051), so even a failing *first* statement may have changed the database: exit 3,
/// not "rolled back". A statement rejected before running (1050, table exists) is exit 1.
#[test]
fn failed_first_statement_that_ran_is_half_applied_mariadb() {
    let db = Db::new(Kind::Mariadb);
    db.tables(1..=1);
    db.write("0002_drop_two.up.sql", "DROP TABLE t1, no_such_table;\n");
    let out = db.run(&["up"]);
    assert_eq!(code(&out), 3, "{}", stderr(&out));
    assert!(
        last_line(&out).contains("repair --clear-in-progress 2"),
        "{}",
        last_line(&out)
    );
    assert!(!db.table_exists("t1"), "MariaDB dropped t1 before failing");
    assert_eq!(db.history(), vec![(1, true), (2, false)]);
}

/// `new`'s down template holds only comments: such a down file means "no down SQL", so `down`
/// refuses (exit 2, naming the version and the file) instead of reporting a revert that did
/// nothing. `SELECT 1;` is the documented intentional no-op; once stored, `down` runs it.
#[test]
fn comment_only_down_file_is_refused() {
    let db = Db::new(Kind::Sqlite);
    db.tables(1..=1);
    let out = db.run(&["new", "add_email"]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    let down = db.dir().join("0002_add_email.down.sql");
    assert!(
        std::fs::read_to_string(&down)
            .unwrap()
            .contains("SELECT 1;"),
        "the template names the no-op"
    );
    db.write(
        "0002_add_email.up.sql",
        "ALTER TABLE t1 ADD COLUMN email TEXT;\n",
    );
    let out = db.run(&["up"]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    assert!(
        stderr(&out).contains("0002_add_email.down.sql has no statements"),
        "up warns: {}",
        stderr(&out)
    );
    let status = db.status_json();
    assert_eq!(status["migrations"][1]["reversible"], false, "{status}");

    let out = db.run(&["down", "--to", "1"]);
    assert_eq!(code(&out), 2, "{}", stderr(&out));
    let line = last_line(&out);
    assert!(
        line.contains("cannot revert version 2 (add_email)")
            && line.contains("0002_add_email.down.sql had no statements")
            && line.contains("SELECT 1;"),
        "{line}"
    );
    assert_eq!(db.versions(), vec![1, 2], "nothing reverted");
    assert_eq!(
        db.query("SELECT count(*) FROM pragma_table_info('t1') WHERE name = 'email'"),
        "1"
    );

    std::fs::write(
        &down,
        "-- nothing to undo: the column may stay\nSELECT 1;\n",
    )
    .unwrap();
    let out = db.run(&["repair", "--accept-checksum", "2"]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    let out = db.run(&["down", "--to", "1"]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    assert_eq!(db.versions(), vec![1]);
}

/// A JUnit path that cannot be written is one error line; the run's own outcome stands
/// (exit 1 rolled back, exit 3 with the repair command, exit 0), not exit 2.
#[test]
fn unwritable_junit_path_keeps_the_outcome() {
    let db = Db::new(Kind::Sqlite);
    std::fs::write(db.path("not-a-dir"), "").unwrap();
    let junit = db.path("not-a-dir/report.xml");
    let junit = junit.to_str().unwrap();
    db.tables(1..=1);
    let cases = [
        (None, 0, "applied 1 migration(s)"),
        (
            Some("CREATE TABLE ok2 (x INT);\nCREATE TABLE t1 (x INT);\n"),
            1,
            "failed and was rolled back",
        ),
        (
            Some("-- no-transaction\nCREATE TABLE ok2 (x INT);\nCREATE TABLE t1 (x INT);\n"),
            3,
            "repair --clear-in-progress 2",
        ),
    ];
    for (migration, exit, last) in cases {
        if let Some(sql) = migration {
            db.write("0002_bad.up.sql", sql);
        }
        let out = db.run(&["--junit", junit, "up"]);
        assert_eq!(code(&out), exit, "{}", stderr(&out));
        assert!(
            stderr(&out).contains("cannot write the JUnit report")
                && stderr(&out).contains("not-a-dir/report.xml"),
            "{}",
            stderr(&out)
        );
        assert!(last_line(&out).contains(last), "{}", last_line(&out));
    }
}

/// `validate` (with and without a database), `status`, `repair` (and its dry run) and
/// `baseline` write a JUnit report too: one case, passed, skipped (changes nothing) or failed.
#[test]
fn every_command_writes_a_junit_report() {
    let db = Db::new(Kind::Sqlite);
    db.tables(1..=2);
    let counted = |args: &[&str], with_url: bool| {
        let report = db.path("cmd.xml");
        let _ = std::fs::remove_file(&report);
        let mut argv = vec!["--junit", report.to_str().unwrap()];
        argv.extend(args);
        let out = if with_url {
            db.run(&argv)
        } else {
            let mut cmd = std::process::Command::new(common::BIN);
            cmd.args(&argv)
                .arg("--dir")
                .arg(db.dir())
                .env_remove("DATABASE_URL")
                .env_remove("JUNIT_OUTPUT");
            cmd.output().unwrap()
        };
        let c = counts(&report);
        (code(&out), c.tests, c.passed, c.skipped, c.failures)
    };
    assert_eq!(counted(&["validate"], false), (0, 1, 1, 0, 0));
    assert_eq!(
        counted(&["--dry-run", "baseline", "1"], true),
        (0, 1, 0, 1, 0)
    );
    assert_eq!(counted(&["baseline", "1"], true), (0, 1, 1, 0, 0));
    assert_eq!(counted(&["status"], true), (0, 1, 0, 1, 0));
    assert_eq!(counted(&["up"], true), (0, 1, 1, 0, 0));
    db.write("0002_t2.up.sql", "CREATE TABLE t2 (id BIGINT);\n");
    assert_eq!(counted(&["validate"], true), (2, 1, 0, 0, 1), "drift fails");
    assert_eq!(
        counted(&["--dry-run", "repair", "--accept-checksum", "2"], true),
        (0, 1, 0, 1, 0)
    );
    assert_eq!(
        counted(&["repair", "--accept-checksum", "2"], true),
        (0, 1, 1, 0, 0)
    );
    assert_eq!(
        counted(&["repair", "--accept-checksum", "9"], true),
        (2, 1, 0, 0, 1)
    );
    assert_eq!(counted(&["validate"], true), (0, 1, 1, 0, 0));
}

/// `up --to V` stops after V (a dry run plans the same), the `status` table shows each
/// migration's state, when it was applied and whether it can be reverted.
#[test]
fn up_to_and_the_status_table() {
    let db = Db::new(Kind::Sqlite);
    db.tables(1..=4);
    let out = db.run(&["up", "--to", "2"]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    assert_eq!(db.versions(), vec![1, 2]);
    assert!(!db.table_exists("t3"));
    let out = db.run(&["--dry-run", "up", "--to", "3"]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    assert!(
        stdout(&out).contains("would apply 0003_t3") && !stdout(&out).contains("0004_t4"),
        "{}",
        stdout(&out)
    );
    let out = db.run(&["up", "--to", "3"]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    assert_eq!(db.versions(), vec![1, 2, 3]);
    assert_eq!(code(&db.run(&["up", "--to", "-1"])), 2);

    let out = db.run(&["status"]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    let table = stdout(&out);
    let mut lines = table.lines();
    assert_eq!(
        lines.next(),
        Some(format!("{}: current version 3", db.url).as_str()),
        "{table}"
    );
    let header: Vec<&str> = lines.next().unwrap_or("").split_whitespace().collect();
    assert_eq!(
        header,
        [
            "VERSION",
            "MIGRATION",
            "STATE",
            "PHASE",
            "APPLIED",
            "AT",
            "RELEASE",
            "DOWN"
        ],
        "{table}"
    );
    let rows: Vec<Vec<&str>> = lines.map(|l| l.split_whitespace().collect()).collect();
    assert_eq!(rows.len(), 4, "{table}");
    for (n, row) in rows.iter().enumerate() {
        let version = n + 1;
        assert_eq!(row[0], version.to_string(), "{table}");
        assert_eq!(row[1], format!("{version:04}_t{version}"), "{table}");
        assert_eq!(row[6], "yes", "a down file: {table}");
        assert_eq!(row[3], "pre", "no phase line: pre-deploy: {table}");
        if version <= 3 {
            assert_eq!(row[2], "applied", "{table}");
            assert!(
                chrono::DateTime::parse_from_rfc3339(row[4]).is_ok(),
                "{table}"
            );
        } else {
            assert_eq!(&row[4..6], ["-", "-"], "{table}");
            assert_eq!(row[2], "pending", "{table}");
        }
    }
}

/// `validate` without a database checks the files only: valid files exit 0 and say how many;
/// a malformed name is exit 2 naming the file. Nothing is created.
#[test]
fn validate_without_a_database_checks_the_files() {
    let db = Db::new(Kind::Sqlite);
    db.tables(1..=3);
    let validate = || {
        std::process::Command::new(common::BIN)
            .arg("--dir")
            .arg(db.dir())
            .arg("validate")
            .env_remove("DATABASE_URL")
            .output()
            .unwrap()
    };
    let out = validate();
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    assert!(
        stdout(&out).contains("3 migration(s) in"),
        "{}",
        stdout(&out)
    );
    db.write("0004_x.down.sql", "SELECT 1;\n");
    let out = validate();
    assert_eq!(code(&out), 2, "{}", stderr(&out));
    assert!(
        last_line(&out).contains("0004_x.down.sql: down migration without an up migration"),
        "{}",
        last_line(&out)
    );
    assert_eq!(
        std::fs::read_dir(db.tmp.path()).unwrap().count(),
        1,
        "only the migrations directory"
    );
}

/// `mysql://` (not only `mariadb://`) on a real MariaDB: apply, status, down.
#[test]
fn mysql_scheme_on_mariadb() {
    let mut db = Db::new(Kind::Mariadb);
    db.url = db.url.replacen("mariadb://", "mysql://", 1);
    assert!(db.url.starts_with("mysql://root@127.0.0.1:"), "{}", db.url);
    db.tables(1..=3);
    let out = db.run(&["up"]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    assert_eq!(db.versions(), vec![1, 2, 3]);
    let status = db.status_json();
    assert_eq!(status["current_version"], 3, "{status}");
    assert_eq!(status["database"], db.name.as_str(), "{status}");
    let out = db.run(&["down", "--to", "1"]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    assert_eq!(db.versions(), vec![1]);
    assert!(db.table_exists("t1") && !db.table_exists("t2"));
}

/// `db-migrate status | head -0`: the reader gone before the table or the JSON is written is the
/// normal end of the output, not a panic.
#[test]
fn status_ends_quietly_when_its_reader_goes_away() {
    let db = Db::new(Kind::Sqlite);
    db.tables(1..=3);
    assert_eq!(code(&db.run(&["up"])), 0);
    for args in [&["status"][..], &["status", "--json"][..]] {
        cdkit_testkit::assert_closed_stdout_is_a_normal_end(db.command(args), "db-migrate status");
    }
}

/// The drift hint carries the URL, password masked and quoted for the shell (`***` must not
/// glob), and the directory: pasted as it is (the test server trusts loopback, so `***` is a
/// password it accepts), it repairs.
#[test]
fn drift_hint_is_complete_and_masks_the_password_postgres() {
    let db = Db::new(Kind::Postgres);
    db.tables(1..=1);
    let url = db.url.replace("postgres@", "postgres:S3cret-pw-xyz@");
    let run = |args: &[&str]| {
        std::process::Command::new(common::BIN)
            .arg("--dir")
            .arg(db.dir())
            .args(args)
            .env("DATABASE_URL", &url)
            .output()
            .unwrap()
    };
    assert_eq!(code(&run(&["up"])), 0);
    db.write(
        "0001_t1.up.sql",
        "CREATE TABLE t1 (id BIGINT PRIMARY KEY);\n",
    );
    let out = run(&["up"]);
    assert_eq!(code(&out), 2, "{}", stderr(&out));
    let line = last_line(&out);
    let masked = db.url.replace("postgres@", "postgres:***@");
    assert!(
        line.contains(&format!(
            "`db-migrate --database-url '{masked}' --dir {} repair --accept-checksum 1`",
            db.dir().display()
        )),
        "{line}"
    );
    assert!(!stderr(&out).contains("S3cret-pw-xyz"), "{}", stderr(&out));
    let out = common::paste_hint(&line, "accept them with `");
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    assert_eq!(code(&run(&["up"])), 0);
}

/// golang-migrate's whole naming rule (dots in the name, version 0), dbmate's single file with
/// `-- migrate:up`/`-- migrate:down` sections and sqlx's simple up-only file, side by side in
/// one directory; `down --to -1` reaches below version 0. Two layouts for one version are
/// refused with one line naming both files.
#[test]
fn golang_migrate_dbmate_and_sqlx_layouts_are_accepted() {
    let db = Db::new(Kind::Sqlite);
    db.write("0_initial.up.sql", "CREATE TABLE t0 (x INT);\n");
    db.write("0_initial.down.sql", "DROP TABLE t0;\n");
    db.write("1_simple.sql", "CREATE TABLE t1 (x INT);\n");
    db.write("0002_1.7.0_schema.up.sql", "CREATE TABLE t2 (x INT);\n");
    db.write("0002_1.7.0_schema.down.sql", "DROP TABLE t2;\n");
    db.write(
        "20240101120000_dbmate.sql",
        "-- migrate:up\nCREATE TABLE t3 (x INT);\n\n-- migrate:down\nDROP TABLE t3;\n",
    );
    let out = db.run(&["up"]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    assert_eq!(db.versions(), vec![0, 1, 2, 20240101120000]);
    let status = db.status_json();
    assert_eq!(status["migrations"][2]["name"], "1.7.0_schema", "{status}");
    assert!((0..=3).all(|n| db.table_exists(&format!("t{n}"))));

    // The dbmate down section is stored and used; version 1 has none (sqlx simple file).
    let out = db.run(&["down", "--to", "2"]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    assert!(!db.table_exists("t3"));
    let out = db.run(&["down", "--to", "-1"]);
    assert_eq!(code(&out), 2, "{}", stderr(&out));
    assert!(
        last_line(&out).contains("cannot revert version 1 (simple)"),
        "{}",
        last_line(&out)
    );
    let out = db.run(&["down", "--to", "1"]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    assert_eq!(db.versions(), vec![0, 1]);

    // One version in two layouts: ambiguous, refused before anything runs.
    db.write("5_a.sql", "-- migrate:up\nCREATE TABLE t5 (x INT);\n");
    db.write("5_a.up.sql", "CREATE TABLE t5 (x INT);\n");
    let out = db.run(&["up"]);
    assert_eq!(code(&out), 2, "{}", stderr(&out));
    let line = last_line(&out);
    assert!(
        line.contains("ambiguous version 5")
            && line.contains("5_a.sql")
            && line.contains("5_a.up.sql"),
        "{line}"
    );
    assert_eq!(stderr(&out).lines().count(), 1, "{}", stderr(&out));
    assert_eq!(db.versions(), vec![0, 1]);
}

/// While a healthy MariaDB `up` is applying a migration (its in-progress row written, its
/// lock held), `validate` and `up --dry-run` say another run is in progress (exit 75, retry),
/// not that an earlier run failed; once it has finished, both succeed.
#[test]
fn live_run_is_not_taken_for_a_dead_one_mariadb() {
    let db = Db::new(Kind::Mariadb);
    db.write(
        "0001_slow.up.sql",
        "CREATE TABLE slow (x INT);\nDO SLEEP(6);\nINSERT INTO slow VALUES (1);\n",
    );
    let runner = db.spawn(&["up"]);
    let started = std::time::Instant::now();
    while db.history() != vec![(1, false)] {
        assert!(
            started.elapsed() < std::time::Duration::from_secs(20),
            "the run never marked version 1 in progress"
        );
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    for args in [&["validate"][..], &["--dry-run", "up"][..]] {
        let out = db.run(args);
        assert_eq!(code(&out), 75, "{args:?}: {}", stderr(&out));
        let line = last_line(&out);
        assert!(
            line.contains("another run is in progress") && line.contains("version 1 (slow)"),
            "{args:?}: {line}"
        );
        assert!(!line.contains("failed or was killed"), "{line}");
    }
    let out = runner.wait_with_output().unwrap();
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    assert_eq!(db.history(), vec![(1, true)]);
    assert_eq!(code(&db.run(&["validate"])), 0);
    assert_eq!(code(&db.run(&["--dry-run", "up"])), 0);
}

/// A statement MariaDB refuses as a whole changes nothing: when it is the first (or only)
/// one of a migration, the migration did not apply. Exit 1 ("rolled back"), no in-progress
/// row, and a fixed file applies. Errors 1364 (no default value) and 1901 (function not
/// allowed in a generated column) are the ones seen on real projects. A refusal after a
/// statement that ran stays half-applied (see
/// `failed_first_statement_that_ran_is_half_applied_mariadb` for a first statement that ran).
#[test]
fn refused_first_statement_did_not_apply_mariadb() {
    let db = Db::new(Kind::Mariadb);
    db.tables(1..=1);
    assert_eq!(code(&db.run(&["up"])), 0);
    let cases = [
        ("INSERT INTO t1 (name) VALUES ('no id');\n", "1364"),
        (
            "ALTER TABLE t1 ADD COLUMN r DOUBLE AS (RAND()) STORED;\nCREATE TABLE never (x INT);\n",
            "1901",
        ),
    ];
    for (sql, error) in cases {
        db.write("0002_refused.up.sql", sql);
        let out = db.run(&["up"]);
        assert_eq!(code(&out), 1, "{sql}: {}", stderr(&out));
        let line = last_line(&out);
        assert!(
            line.contains("apply 2 (refused) failed and was rolled back") && line.contains(error),
            "{line}"
        );
        assert_eq!(db.history(), vec![(1, true)], "no in-progress row: {sql}");
        assert!(!db.table_exists("never"));
    }
    db.write(
        "0002_refused.up.sql",
        "INSERT INTO t1 (id, name) VALUES (2, 'ok');\n",
    );
    let out = db.run(&["up"]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    assert_eq!(db.history(), vec![(1, true), (2, true)]);
}
