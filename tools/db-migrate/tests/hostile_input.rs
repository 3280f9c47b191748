//! Inputs no user means but any user can type: each is refused with exit 2 and one line that
//! names it, never a panic.

mod common;

use std::process::Command;

use common::{code, last_line, Db, Kind};

use cdkit_testkit::assert_duration_refused;

fn db_migrate() -> Command {
    Command::new(env!("CARGO_BIN_EXE_db-migrate"))
}

/// `1e30` used to panic converting to a deadline; `25d` panicked inside rusqlite, whose busy
/// timeout is a C int of milliseconds. 24 days is the documented maximum, and it works.
#[test]
fn lock_timeouts_past_the_maximum_are_refused_and_the_maximum_works() {
    let dir = tempfile::tempdir().unwrap();
    let migrations = dir.path().join("migrations");
    std::fs::create_dir(&migrations).unwrap();
    std::fs::write(
        migrations.join("1_t.up.sql"),
        "CREATE TABLE t (id INTEGER);\n",
    )
    .unwrap();
    std::fs::write(migrations.join("1_t.down.sql"), "DROP TABLE t;\n").unwrap();
    let url = format!("sqlite:{}", dir.path().join("db.sqlite").display());
    for value in ["1e30", "25d"] {
        let mut cmd = db_migrate();
        cmd.args(["--database-url", &url, "--dir"])
            .arg(&migrations)
            .args(["--lock-timeout", value, "up"]);
        assert_duration_refused(cmd, "--lock-timeout", value);
    }
    assert!(
        !dir.path().join("db.sqlite").exists(),
        "a refused run created the database"
    );
    let out = db_migrate()
        .args(["--database-url", &url, "--dir"])
        .arg(&migrations)
        .args(["--lock-timeout", "24d", "up"])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// A refused flag and a missing migration folder each leave a report with the reason.
#[test]
fn refusals_leave_a_report_with_the_reason() {
    let mut cmd = db_migrate();
    cmd.args(["--lock-timeout", "1e30", "up"]);
    cdkit_testkit::assert_refusal_reported(cmd, "--lock-timeout");
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite:{}", dir.path().join("db.sqlite").display());
    let mut cmd = db_migrate();
    cmd.args(["--database-url", &url, "--dir"])
        .arg(dir.path().join("no-such-folder"))
        .arg("up");
    cdkit_testkit::assert_refusal_reported(cmd, "no-such-folder");
}

/// A migration whose file name is not UTF-8 (`0002_café.up.sql` saved in Latin-1) used to be
/// skipped: `up` and `validate` exited 0 with it never applied.
#[test]
fn a_file_name_that_is_not_utf8_is_refused() {
    use std::os::unix::ffi::OsStrExt;
    let db = Db::new(Kind::Sqlite);
    db.tables(1..=1);
    let latin1 = std::ffi::OsStr::from_bytes(b"0002_caf\xe9.up.sql");
    std::fs::write(db.dir().join(latin1), "CREATE TABLE t2 (id INT);\n").unwrap();
    for command in ["validate", "up"] {
        let out = db.run(&[command]);
        assert_eq!(code(&out), 2, "{command}: {}", common::stderr(&out));
        let line = last_line(&out);
        assert!(
            line.contains("0002_caf") && line.contains("not UTF-8"),
            "{command}: {line}"
        );
    }
    assert!(!db.table_exists("t1"), "a refused up changed the database");
}

/// A history row whose success flag is neither 0 nor 1 (a hand edit) used to count as
/// applied; now nothing runs and the row is named.
fn a_history_flag_other_than_0_or_1_is_refused(kind: Kind) {
    let db = Db::new(kind);
    db.tables(1..=2);
    assert_eq!(code(&db.run(&["up", "--to", "1"])), 0);
    for bad in ["2", "-1"] {
        db.query(&format!(
            "UPDATE db_migrate_history SET success = {bad} WHERE version = 1"
        ));
        for command in [&["up"][..], &["status"][..], &["down", "--to", "0"][..]] {
            let out = db.run(command);
            assert_eq!(
                code(&out),
                2,
                "{command:?} with success = {bad}: {}",
                common::stderr(&out)
            );
            let line = last_line(&out);
            assert!(
                line.contains("version 1") && line.contains(&format!("success = {bad}")),
                "{command:?}: {line}"
            );
        }
    }
    assert!(!db.table_exists("t2"), "a refused up applied version 2");
    assert!(db.table_exists("t1"), "a refused down reverted version 1");
}

per_database! {
    a_history_flag_other_than_0_or_1_is_refused:
        a_history_flag_other_than_0_or_1_is_refused_sqlite = Sqlite,
        a_history_flag_other_than_0_or_1_is_refused_mariadb = Mariadb,
}
