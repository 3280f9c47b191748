//! Every exit path of db-migrate leaves a schema-valid `--junit` report, and every non-zero
//! one says why in it. One table of real runs on one SQLite database, in order, each row
//! setting up the state its path needs: a dry run (0), `up` (0), bad flags and two files of
//! one version (2), the migration lock held by another process (75), a migration that fails
//! and is rolled back (1), and a `-- no-transaction` migration that fails half-way (3). An
//! interrupted run (143) and its report are covered with a real signal in `concurrency.rs`.

use cdkit_testkit::{assert_exit_path, HeldFlock};
use common::{Db, Kind};

mod common;

/// How a row prepares the database and migrations before its run; what it returns (a lock
/// held by another process) lives until the run has ended.
type Setup = fn(&Db) -> Option<HeldFlock>;

/// The migrations directory holds table 1's pair and `extra`, nothing else: each row says
/// the whole directory its path needs.
fn migrations(db: &Db, extra: &[(&str, &str)]) {
    for entry in std::fs::read_dir(db.dir()).unwrap() {
        std::fs::remove_file(entry.unwrap().path()).unwrap();
    }
    db.tables(1..=1);
    for (name, sql) in extra {
        db.write(name, sql);
    }
}

fn one_table(db: &Db) -> Option<HeldFlock> {
    migrations(db, &[]);
    None
}

fn two_files_one_version(db: &Db) -> Option<HeldFlock> {
    migrations(
        db,
        &[
            ("0002_a.up.sql", "CREATE TABLE a (x INT);\n"),
            ("0002_b.up.sql", "CREATE TABLE b (x INT);\n"),
        ],
    );
    None
}

/// SQLite runs meet at an flock(2) file beside the database.
fn lock_held(db: &Db) -> Option<HeldFlock> {
    migrations(db, &[("0002_t2.up.sql", "CREATE TABLE t2 (x INT);\n")]);
    let database = db.url.trim_start_matches("sqlite:");
    Some(HeldFlock::hold(std::path::Path::new(&format!(
        "{database}.db-migrate.lock"
    ))))
}

fn failing_migration(db: &Db) -> Option<HeldFlock> {
    migrations(
        db,
        &[(
            "0002_broken.up.sql",
            "CREATE TABLE t2 (x INT);\nINSERT INTO missing VALUES (1);\n",
        )],
    );
    None
}

fn half_applied_migration(db: &Db) -> Option<HeldFlock> {
    migrations(
        db,
        &[(
            "0002_broken.up.sql",
            "-- no-transaction\nCREATE TABLE t2 (x INT);\nINSERT INTO missing VALUES (1);\n",
        )],
    );
    None
}

#[test]
fn every_exit_path_writes_a_valid_report_with_the_reason() {
    let db = Db::new(Kind::Sqlite);
    let report = db.path("reports/db-migrate.xml");
    let junit = report.to_str().unwrap();
    // (what, setup, arguments after --database-url and --dir, exit, words of the reason)
    let rows: &[(&str, Setup, &[&str], i32, &str)] = &[
        (
            "a dry run",
            one_table,
            &["--junit", junit, "up", "--dry-run"],
            0,
            "",
        ),
        ("up", one_table, &["--junit", junit, "up"], 0, ""),
        (
            "an unknown flag",
            one_table,
            &["--junit", junit, "up", "--no-such-flag"],
            2,
            "--no-such-flag",
        ),
        (
            "a lock timeout too long",
            one_table,
            &["--junit", junit, "--lock-timeout", "1e30", "up"],
            2,
            "--lock-timeout",
        ),
        (
            "two files for one version",
            two_files_one_version,
            &["--junit", junit, "up"],
            2,
            "0002",
        ),
        (
            "the migration lock held",
            lock_held,
            &["--junit", junit, "--lock-timeout", "1s", "up"],
            75,
            "lock",
        ),
        (
            "a failing migration",
            failing_migration,
            &["--junit", junit, "up"],
            1,
            "missing",
        ),
        (
            "a migration failed half-way",
            half_applied_migration,
            &["--junit", junit, "up"],
            3,
            "missing",
        ),
    ];
    for (what, setup, args, exit, reason) in rows {
        let _held = setup(&db);
        assert_exit_path(what, db.command(args), &report, *exit, reason);
    }
}
