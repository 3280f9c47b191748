//! db-migrate on real projects' migration directories, unchanged (`tests/migrations-corpus`,
//! sources and licences in its README), next to the real dbmate 2.36.0 (installed by
//! `scripts/setup` from npm):
//!
//! - harbor's golang-migrate directory for PostgreSQL, names with dots (`0002_1.7.0_schema`);
//! - WeKnora's golang-migrate directories for PostgreSQL and MySQL, starting at version 0
//!   (`000000_init`).
//!
//! Each directory is applied by db-migrate to one database and by dbmate (the same files in
//! dbmate's layout) to another, and the schemas must be equal (`pg_dump --schema-only`,
//! `mariadb-dump --no-data`, without the two history tables). Then db-migrate adopts the
//! database dbmate migrated, and one that golang-migrate had migrated.
//!
//! golang-migrate itself is not run: it is not packaged in Debian 12, has no npm or PyPI
//! wrapper, and its go.mod needs a newer Go than Debian's 1.19 (with no module proxy to fetch
//! one). Its end state is reproduced as its source defines it: the up files applied in order
//! (here with psql and mariadb, as golang-migrate sends each file whole), and the table
//! `schema_migrations (version bigint not null primary key, dirty boolean not null)` holding one
//! row, the last applied version, clean.

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;

use common::{code, last_line, stderr, Db, Kind, MY_PORT};

/// A directory of the corpus.
fn corpus(dir: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/migrations-corpus")
        .join(dir)
}

/// The up files of `dir` up to `last` (all when `None`), in version order.
fn up_files(dir: &Path, last: Option<i64>) -> Vec<PathBuf> {
    let mut files: Vec<(i64, PathBuf)> = std::fs::read_dir(dir)
        .expect("read the corpus")
        .map(|e| e.expect("entry").path())
        .filter(|p| p.to_string_lossy().ends_with(".up.sql"))
        .map(|p| {
            let name = p.file_name().unwrap().to_string_lossy().into_owned();
            let version = name.split('_').next().unwrap().parse::<i64>().unwrap();
            (version, p)
        })
        .filter(|(v, _)| last.is_none_or(|l| *v <= l))
        .collect();
    files.sort();
    files.into_iter().map(|(_, p)| p).collect()
}

/// Copy the corpus directory byte for byte into the test's migrations directory.
fn use_corpus(db: &Db, dir: &str) {
    for entry in std::fs::read_dir(corpus(dir)).expect("read the corpus") {
        let path = entry.expect("entry").path();
        std::fs::copy(&path, db.dir().join(path.file_name().unwrap())).expect("copy");
    }
}

/// The dbmate binary scripts/setup installs.
fn dbmate() -> PathBuf {
    let path = std::env::var_os("CDKIT_DBMATE").map_or_else(
        || {
            PathBuf::from(std::env::var("HOME").expect("HOME"))
                .join(".cache/cdkit/dbmate/node_modules/.bin/dbmate")
        },
        PathBuf::from,
    );
    assert!(
        path.exists(),
        "{} is missing: run scripts/setup (it installs dbmate 2.36.0 from npm)",
        path.display()
    );
    path
}

/// The golang-migrate pairs of `src` in dbmate's layout: one file per version, the up file
/// under `-- migrate:up`, the down file (if any) under `-- migrate:down`.
fn dbmate_layout(src: &Path, dst: &Path) {
    std::fs::create_dir_all(dst).expect("mkdir");
    for up in up_files(src, None) {
        let name = up.file_name().unwrap().to_string_lossy().into_owned();
        let stem = name.strip_suffix(".up.sql").unwrap();
        let down = up.with_file_name(format!("{stem}.down.sql"));
        // dbmate wants a down section in every file, empty when there is no down file.
        let text = format!(
            "-- migrate:up\n{}\n-- migrate:down\n{}\n",
            std::fs::read_to_string(&up).unwrap(),
            std::fs::read_to_string(&down).unwrap_or_default()
        );
        std::fs::write(dst.join(format!("{stem}.sql")), text).expect("write");
    }
}

/// Run the real dbmate `up` on `db` with the files of the corpus directory `dir`.
fn dbmate_up(db: &Db, dir: &str) {
    let converted = db.path("dbmate");
    dbmate_layout(&corpus(dir), &converted);
    let url = match db.kind {
        Kind::Postgres => format!("{}?sslmode=disable", db.url),
        Kind::Mariadb => db.url.replacen("mariadb://", "mysql://", 1),
        Kind::Sqlite => unreachable!("the corpus is PostgreSQL and MySQL"),
    };
    let out = Command::new(dbmate())
        .arg("--url")
        .arg(&url)
        .arg("--migrations-dir")
        .arg(&converted)
        .args(["--no-dump-schema", "up"])
        .output()
        .expect("run dbmate");
    assert!(
        out.status.success(),
        "dbmate up: {}{}",
        String::from_utf8_lossy(&out.stdout),
        stderr(&out)
    );
}

/// The schema without the history tables, normalised: comments, blank lines and the dump's
/// per-run lines (pg_dump's `\restrict` key, SET lines) dropped.
fn schema(db: &Db) -> String {
    let out = match db.kind {
        Kind::Postgres => Command::new("pg_dump")
            .args(["--schema-only", "--no-owner", "--no-privileges"])
            .args(common::PG_CONNECT)
            .args([
                "--exclude-table=db_migrate_history",
                "--exclude-table=schema_migrations",
            ])
            .arg(&db.name)
            .output(),
        Kind::Mariadb => Command::new("mariadb-dump")
            .args([
                "--no-defaults",
                "--no-data",
                "--skip-comments",
                "--skip-dump-date",
                "-h",
                "127.0.0.1",
                "-P",
                MY_PORT,
                "-uroot",
            ])
            .arg(format!("--ignore-table={}.db_migrate_history", db.name))
            .arg(format!("--ignore-table={}.schema_migrations", db.name))
            .arg(&db.name)
            .output(),
        Kind::Sqlite => unreachable!("the corpus is PostgreSQL and MySQL"),
    }
    .expect("run the dump tool");
    assert!(out.status.success(), "dump: {}", stderr(&out));
    let text = String::from_utf8_lossy(&out.stdout);
    let lines: Vec<&str> = text
        .lines()
        .filter(|l| {
            let t = l.trim();
            !t.is_empty()
                && !t.starts_with("--")
                && !t.starts_with("\\restrict")
                && !t.starts_with("\\unrestrict")
                && !t.starts_with("SET ")
                && !t.starts_with("SELECT pg_catalog.set_config")
                && !t.starts_with("/*!")
        })
        .collect();
    assert!(lines.len() > 20, "a real schema was dumped:\n{text}");
    lines.join("\n")
}

/// Apply `files` with the database's own client, each file whole and in order, as
/// golang-migrate does, and leave golang-migrate's table at version `last`.
fn golang_migrate_end_state(db: &Db, files: &[PathBuf], last: i64) {
    for file in files {
        let sql = std::fs::read_to_string(file).unwrap();
        db.query(&sql);
    }
    db.query(
        "CREATE TABLE IF NOT EXISTS schema_migrations (version bigint not null primary key, dirty boolean not null)",
    );
    db.query(&format!(
        "INSERT INTO schema_migrations (version, dirty) VALUES ({last}, false)"
    ));
}

/// `up` prints how many it applied on its last line.
fn up_applies(db: &Db, count: usize) {
    let out = db.run(&["up"]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    assert!(
        last_line(&out).contains(&format!("applied {count} migration(s)")),
        "{}",
        last_line(&out)
    );
}

/// harbor (dots in names) on PostgreSQL: db-migrate's schema equals dbmate's, and the database
/// dbmate migrated is adopted with dbmate's files (its one row per version read), after which
/// `up` has nothing to do.
#[test]
fn harbor_postgres_dots_in_names_match_dbmate_and_adopt() {
    let ours = Db::new(Kind::Postgres);
    use_corpus(&ours, "harbor/postgresql");
    up_applies(&ours, 5);
    assert_eq!(ours.versions(), vec![1, 2, 3, 4, 5]);
    assert_eq!(
        ours.query("SELECT name FROM db_migrate_history WHERE version = 2"),
        "1.7.0_schema"
    );

    let theirs = Db::new(Kind::Postgres);
    dbmate_up(&theirs, "harbor/postgresql");
    assert_eq!(schema(&ours), schema(&theirs));

    // A dbmate user moves over with dbmate's own files: its layout is read as it is.
    for entry in std::fs::read_dir(theirs.path("dbmate")).expect("the dbmate files") {
        let path = entry.expect("entry").path();
        std::fs::copy(&path, theirs.dir().join(path.file_name().unwrap())).expect("copy");
    }
    let out = theirs.run(&["adopt"]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    assert_eq!(theirs.versions(), vec![1, 2, 3, 4, 5]);
    up_applies(&theirs, 0);
    assert_eq!(code(&theirs.run(&["validate"])), 0);
    assert_eq!(schema(&ours), schema(&theirs));
}

/// WeKnora (version 0) on PostgreSQL: equal to dbmate; a database golang-migrate left at
/// version 0 is adopted in one command and `up` then applies version 1, ending with the same
/// schema.
#[test]
fn weknora_postgres_version_0_matches_dbmate_and_adopts_golang_migrate() {
    let ours = Db::new(Kind::Postgres);
    use_corpus(&ours, "weknora/postgres");
    up_applies(&ours, 2);
    assert_eq!(ours.versions(), vec![0, 1]);

    let theirs = Db::new(Kind::Postgres);
    dbmate_up(&theirs, "weknora/postgres");
    assert_eq!(schema(&ours), schema(&theirs));

    let golang = Db::new(Kind::Postgres);
    golang_migrate_end_state(&golang, &up_files(&corpus("weknora/postgres"), Some(0)), 0);
    use_corpus(&golang, "weknora/postgres");
    let out = golang.run(&["adopt"]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    assert_eq!(golang.versions(), vec![0]);
    up_applies(&golang, 1);
    assert_eq!(golang.versions(), vec![0, 1]);
    assert_eq!(schema(&ours), schema(&golang));

    // WeKnora's 000001_agent.down.sql is MySQL syntax (`UPDATE … JOIN … SET`), which
    // PostgreSQL refuses: the revert is rolled back whole and both versions stay applied.
    let out = ours.run(&["down", "--to", "-1"]);
    assert_eq!(code(&out), 1, "{}", stderr(&out));
    assert!(
        last_line(&out).contains("revert 1 (agent) failed and was rolled back"),
        "{}",
        last_line(&out)
    );
    assert_eq!(ours.versions(), vec![0, 1]);
    assert_eq!(schema(&ours), schema(&theirs));
}

/// WeKnora (version 0) on MariaDB: equal to dbmate; the database dbmate migrated and one
/// golang-migrate migrated are both adopted; `down --to -1` reverts version 0 with the down
/// SQL stored by the adoption.
#[test]
fn weknora_mariadb_version_0_matches_dbmate_and_adopts_both() {
    let ours = Db::new(Kind::Mariadb);
    use_corpus(&ours, "weknora/mysql");
    up_applies(&ours, 1);
    assert_eq!(ours.versions(), vec![0]);

    let theirs = Db::new(Kind::Mariadb);
    dbmate_up(&theirs, "weknora/mysql");
    assert_eq!(schema(&ours), schema(&theirs));
    use_corpus(&theirs, "weknora/mysql");
    let out = theirs.run(&["adopt"]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    assert_eq!(theirs.versions(), vec![0]);
    up_applies(&theirs, 0);

    let golang = Db::new(Kind::Mariadb);
    golang_migrate_end_state(&golang, &up_files(&corpus("weknora/mysql"), None), 0);
    use_corpus(&golang, "weknora/mysql");
    let out = golang.run(&["--dry-run", "adopt"]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    assert!(
        common::stdout(&out)
            .contains("would record 0000_init as applied without running it (adopt)"),
        "{}",
        common::stdout(&out)
    );
    assert!(golang.history().is_empty(), "a dry run writes nothing");
    let out = golang.run(&["adopt"]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    assert_eq!(golang.versions(), vec![0]);
    up_applies(&golang, 0);
    assert_eq!(schema(&ours), schema(&golang));
    // The down SQL came with the adoption, so the adopted database can go back, and version
    // 0 is a migration like any other: `--to -1` is "before it".
    let out = golang.run(&["down", "--to", "-1"]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    assert_eq!(golang.versions(), Vec::<i64>::new());
    assert!(!golang.table_exists("tenants"));
}

/// What adoption refuses, each with one line and nothing written: a dirty golang-migrate
/// version (exit 3), a version without a file, a table of another shape, no table (exit 2).
#[test]
fn adopt_refuses_dirty_unknown_and_missing() {
    let db = Db::new(Kind::Sqlite);
    db.tables(1..=3);
    let refused = |expect: i32, needle: &str| {
        let out = db.run(&["adopt"]);
        assert_eq!(code(&out), expect, "{}", stderr(&out));
        assert!(last_line(&out).contains(needle), "{}", last_line(&out));
        assert_eq!(stderr(&out).lines().count(), 1, "{}", stderr(&out));
        assert!(db.history().is_empty(), "nothing written: {needle}");
    };
    refused(2, "schema_migrations: no such table");
    db.query("CREATE TABLE schema_migrations (version bigint not null primary key, dirty boolean not null); INSERT INTO schema_migrations VALUES (2, 1);");
    refused(3, "version 2 is dirty");
    db.query("UPDATE schema_migrations SET version = 7, dirty = 0");
    refused(2, "version(s) 7 that have no migration file");
    db.query("UPDATE schema_migrations SET version = 2");
    let out = db.run(&["adopt"]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    assert_eq!(db.versions(), vec![1, 2]);
    up_applies(&db, 1);
    let out = db.run(&["adopt"]);
    assert_eq!(code(&out), 2, "adopting twice: {}", stderr(&out));

    let other = Db::new(Kind::Sqlite);
    other.tables(1..=1);
    other.query("CREATE TABLE schema_migrations (id INTEGER, applied TEXT)");
    let out = other.run(&["adopt"]);
    assert_eq!(code(&out), 2, "{}", stderr(&out));
    assert!(
        last_line(&out).contains("neither golang-migrate's"),
        "{}",
        last_line(&out)
    );
}
