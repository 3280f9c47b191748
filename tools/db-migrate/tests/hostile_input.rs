//! Inputs no user means but any user can type: each is refused with exit 2 and one line that
//! names it, never a panic.

use std::process::Command;

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
