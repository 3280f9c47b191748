//! Several runners at once, a runner killed with SIGKILL mid-migration, a runner waiting while
//! another builds an index with CREATE INDEX CONCURRENTLY, and the lock timeout (exit 75
//! naming the holder), on real SQLite, PostgreSQL 15 and MariaDB.

mod common;

use std::time::{Duration, Instant};

use common::{code, counts, last_line, stderr, Db, Kind};

/// A statement that takes about `secs` seconds while table `slow_marker` exists, and no time
/// otherwise, so a rerun after the marker is dropped is quick.
fn slow_sql(kind: Kind, secs: u32) -> String {
    match kind {
        Kind::Postgres => format!(
            "SELECT pg_sleep(CASE WHEN to_regclass('slow_marker') IS NULL THEN 0 ELSE {secs} END);"
        ),
        Kind::Mariadb => format!(
            "DO SLEEP(IF((SELECT COUNT(*) FROM information_schema.TABLES WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = 'slow_marker') > 0, {secs}, 0));"
        ),
        // No sleep function in SQLite: count a long recursive sequence instead.
        Kind::Sqlite => format!(
            "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c WHERE x < \
             (SELECT CASE WHEN EXISTS (SELECT 1 FROM sqlite_master WHERE name = 'slow_marker') THEN {} ELSE 1 END)) \
             SELECT count(*) FROM c;",
            u64::from(secs) * 4_000_000
        ),
    }
}

/// A short pause per migration so that four runners really overlap.
fn pause_sql(kind: Kind) -> &'static str {
    match kind {
        Kind::Postgres => "SELECT pg_sleep(0.05);",
        Kind::Mariadb => "DO SLEEP(0.05);",
        Kind::Sqlite => "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c WHERE x < 100000) SELECT count(*) FROM c;",
    }
}

/// Four `db-migrate up` processes at once: every migration applied exactly once (the four
/// JUnit reports together hold each migration once), none fails.
fn four_concurrent_runners(kind: Kind) {
    let db = Db::new(kind);
    for n in 1..=10 {
        db.write(
            &format!("{n:04}_c{n}.up.sql"),
            &format!(
                "CREATE TABLE c{n} (id INT);\n{}\nINSERT INTO c{n} VALUES ({n});\n",
                pause_sql(kind)
            ),
        );
    }
    let reports: Vec<_> = (0..4).map(|i| db.path(&format!("runner{i}.xml"))).collect();
    let children: Vec<_> = reports
        .iter()
        .map(|r| {
            db.spawn(&[
                "--lock-timeout",
                "120s",
                "--junit",
                r.to_str().unwrap(),
                "up",
            ])
        })
        .collect();
    let mut waited = 0;
    for child in children {
        let out = child.wait_with_output().unwrap();
        assert_eq!(code(&out), 0, "every runner succeeds: {}", stderr(&out));
        if stderr(&out).contains("waiting for the migration lock held by db-migrate pid ")
            || stderr(&out).contains("waiting for the migration lock held by MariaDB connection")
        {
            waited += 1;
        }
    }
    assert!(
        waited >= 1,
        "the runners overlapped: at least one logged that it waited for the lock"
    );
    let applied: u64 = reports.iter().map(|r| counts(r).passed).sum();
    assert_eq!(
        applied, 10,
        "each of the 10 migrations applied by exactly one runner"
    );
    assert_eq!(db.versions(), (1..=10).collect::<Vec<_>>());
    for n in 1..=10 {
        assert_eq!(
            db.query(&format!("SELECT count(*) FROM c{n}")),
            "1",
            "c{n} filled once"
        );
    }
}

per_database! {
    four_concurrent_runners:
        four_concurrent_runners_sqlite = Sqlite,
        four_concurrent_runners_postgres = Postgres,
        four_concurrent_runners_mariadb = Mariadb,
}

/// Wait until `cond` holds (the runner reached its slow statement), at most 60 s.
fn wait_for(what: &str, mut cond: impl FnMut() -> bool) {
    let started = Instant::now();
    while !cond() {
        assert!(
            started.elapsed() < Duration::from_secs(60),
            "timed out waiting for {what}"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// Start `up` on a database whose migration 2 is slow; return once it is in migration 2.
fn runner_in_slow_migration(db: &Db, secs: u32) -> std::process::Child {
    db.query("CREATE TABLE slow_marker (x INT)");
    db.tables(1..=1);
    db.write(
        "0002_slow.up.sql",
        &format!("CREATE TABLE s2 (id INT);\n{}\n", slow_sql(db.kind, secs)),
    );
    db.tables(3..=3);
    let child = db.spawn(&["up"]);
    std::thread::sleep(Duration::from_millis(200));
    wait_for("the runner to reach migration 2", || match db.kind {
        // Transactional: version 1 is committed before 2 starts.
        Kind::Postgres | Kind::Sqlite => db.versions() == vec![1],
        // MariaDB: migration 2's in-progress row is written before it runs.
        Kind::Mariadb => db.history() == vec![(1, true), (2, false)],
    });
    std::thread::sleep(Duration::from_millis(300));
    child
}

/// `kill -9` of a runner in the middle of a migration, then a rerun: the lock is free (the
/// rerun does not time out although the killed statement would still run for 40 s on
/// PostgreSQL) and the state is consistent: the killed transactional migration left nothing
/// and is applied once by the rerun.
fn kill_9_then_rerun(kind: Kind) {
    let db = Db::new(kind);
    let mut child = runner_in_slow_migration(&db, 40);
    child.kill().unwrap(); // SIGKILL
    child.wait().unwrap();
    // The rerun's migration 2 must be quick, so that only a lock still held could delay it.
    db.query("DROP TABLE slow_marker");
    // PostgreSQL notices the dead client within client_connection_check_interval and ends
    // its statement (which had 40 s to go), freeing the lock; SQLite: the kernel dropped the
    // flock, and the uncommitted journal is rolled back when the database is opened.
    let out = db.run(&["--lock-timeout", "25s", "up"]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    assert_eq!(db.history(), vec![(1, true), (2, true), (3, true)]);
    assert!(db.table_exists("s2") && db.table_exists("t3"));
}

per_database! {
    kill_9_then_rerun:
        kill_9_then_rerun_sqlite = Sqlite,
        kill_9_then_rerun_postgres = Postgres,
}

/// MariaDB has no way to stop a dead client's statement: the lock is freed when the killed
/// statement ends (here after 3 s), and the rerun then finds migration 2 marked in progress
/// (its first statement committed) and refuses with exit 3 and the repair command. After the
/// repair, `up` finishes.
#[test]
fn kill_9_then_rerun_mariadb() {
    let db = Db::new(Kind::Mariadb);
    let mut child = runner_in_slow_migration(&db, 3);
    child.kill().unwrap();
    child.wait().unwrap();
    let out = db.run(&["--lock-timeout", "30s", "up"]);
    assert_eq!(code(&out), 3, "{}", stderr(&out));
    assert!(
        last_line(&out).contains("repair --clear-in-progress 2"),
        "{}",
        last_line(&out)
    );
    assert_eq!(db.history(), vec![(1, true), (2, false)]);
    db.query("DROP TABLE slow_marker; DROP TABLE s2");
    let out = db.run(&["repair", "--clear-in-progress", "2"]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    let out = db.run(&["up"]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    assert_eq!(db.history(), vec![(1, true), (2, true), (3, true)]);
}

/// While one runner holds the lock in a slow migration, another gives up after
/// `--lock-timeout` with exit 75 and names the holder.
fn lock_timeout_names_the_holder(kind: Kind) {
    let db = Db::new(kind);
    let mut child = runner_in_slow_migration(&db, 20);
    let report = db.path("lock.xml");
    let out = db.run(&[
        "--lock-timeout",
        "1s",
        "--junit",
        report.to_str().unwrap(),
        "up",
    ]);
    child.kill().unwrap();
    child.wait().unwrap();
    assert_eq!(code(&out), 75, "{}", stderr(&out));
    let line = last_line(&out);
    assert!(
        line.contains("migration lock") && line.contains("is held by"),
        "{line}"
    );
    match kind {
        Kind::Postgres | Kind::Sqlite => assert!(
            line.contains("db-migrate pid ") && line.contains("run test-run"),
            "names the holder: {line}"
        ),
        Kind::Mariadb => assert!(
            line.contains("MariaDB connection"),
            "names the holder: {line}"
        ),
    }
    assert_eq!(counts(&report).errors, 1);
}

per_database! {
    lock_timeout_names_the_holder:
        lock_timeout_names_the_holder_sqlite = Sqlite,
        lock_timeout_names_the_holder_postgres = Postgres,
        lock_timeout_names_the_holder_mariadb = Mariadb,
}

/// Runner A builds an index with CREATE INDEX CONCURRENTLY (which waits for every older
/// transaction); runner B starts meanwhile and waits for the lock. B only polls with short
/// statements, so there is no deadlock: both succeed and the index is valid.
#[test]
fn waiting_runner_does_not_deadlock_create_index_concurrently() {
    let db = Db::new(Kind::Postgres);
    db.write(
        "0001_items.up.sql",
        "CREATE TABLE items (id INT PRIMARY KEY, sku TEXT);\n\
         INSERT INTO items SELECT g, 'sku' || g FROM generate_series(1, 150) g;\n\
         CREATE FUNCTION slow_key(t TEXT) RETURNS TEXT IMMUTABLE LANGUAGE plpgsql AS $$\n\
         BEGIN PERFORM pg_sleep(0.01); RETURN t; END $$;\n",
    );
    db.write(
        "0002_index.up.sql",
        "-- no-transaction\nCREATE INDEX CONCURRENTLY items_slow ON items (slow_key(sku));\n",
    );
    let first = db.spawn(&["--lock-timeout", "120s", "up"]);
    wait_for("CREATE INDEX CONCURRENTLY to run", || {
        db.query("SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND query LIKE '%CREATE INDEX CONCURRENTLY items_slow%' AND state = 'active' AND pid <> pg_backend_pid()") == "1"
    });
    let second = db.spawn(&["--lock-timeout", "120s", "up"]);
    let a = first.wait_with_output().unwrap();
    let b = second.wait_with_output().unwrap();
    assert_eq!(code(&a), 0, "the index builder succeeds: {}", stderr(&a));
    assert_eq!(code(&b), 0, "the waiter succeeds: {}", stderr(&b));
    assert!(
        stderr(&b).contains("waiting for the migration lock held by db-migrate pid "),
        "{}",
        stderr(&b)
    );
    assert_eq!(db.history(), vec![(1, true), (2, true)]);
    assert_eq!(
        db.query("SELECT i.indisvalid FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid WHERE c.relname = 'items_slow'"),
        "t"
    );
}

/// SIGTERM while a migration runs: the migration finishes, the run stops before the next one
/// (a known-good state) and exits 143; the JUnit report is written.
#[test]
fn sigterm_stops_between_migrations() {
    let db = Db::new(Kind::Postgres);
    let report = db.path("term.xml");
    db.query("CREATE TABLE slow_marker (x INT)");
    db.tables(1..=1);
    db.write(
        "0002_slow.up.sql",
        &format!(
            "CREATE TABLE s2 (id INT);\n{}\n",
            // Long enough that a loaded machine still signals while it runs: the wait below
            // sees it start, and the signal must land before the next migration's turn.
            slow_sql(Kind::Postgres, 6)
        ),
    );
    db.tables(3..=3);
    let child = db.spawn(&["--junit", report.to_str().unwrap(), "up"]);
    wait_for("migration 2 to run", || {
        db.query("SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND query LIKE '%pg_sleep(CASE%' AND state = 'active' AND pid <> pg_backend_pid()") == "1"
    });
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(child.id() as i32),
        nix::sys::signal::Signal::SIGTERM,
    )
    .unwrap();
    let out = child.wait_with_output().unwrap();
    assert_eq!(code(&out), 143, "{}", stderr(&out));
    assert!(
        last_line(&out).contains("interrupted by signal 15"),
        "{}",
        last_line(&out)
    );
    assert_eq!(
        db.versions(),
        vec![1, 2],
        "migration 2 finished, 3 did not start"
    );
    assert!(!db.table_exists("t3"));
    assert_eq!(counts(&report).passed, 2);
}

/// SIGTERM while waiting for another runner's lock: nothing was changed, exit 143 at once
/// (not after --lock-timeout).
fn sigterm_while_waiting_for_the_lock(kind: Kind) {
    let db = Db::new(kind);
    let mut holder = runner_in_slow_migration(&db, 20);
    let waiter = db.spawn(&["--lock-timeout", "60s", "up"]);
    std::thread::sleep(Duration::from_millis(1000));
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(waiter.id() as i32),
        nix::sys::signal::Signal::SIGTERM,
    )
    .unwrap();
    let out = waiter.wait_with_output().unwrap();
    holder.kill().unwrap();
    holder.wait().unwrap();
    assert_eq!(code(&out), 143, "{}", stderr(&out));
    assert!(
        last_line(&out).contains("while waiting for the migration lock; nothing was changed"),
        "{}",
        last_line(&out)
    );
}

per_database! {
    sigterm_while_waiting_for_the_lock:
        sigterm_while_waiting_for_the_lock_sqlite = Sqlite,
        sigterm_while_waiting_for_the_lock_postgres = Postgres,
}
