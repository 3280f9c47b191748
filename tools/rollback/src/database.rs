//! The database step: db-migrate's down path (its library, its lock, its transactions), which
//! reverts with the down SQL stored in the history when each migration was applied, so it works
//! even when the release being returned to no longer ships the newer migrations' files.
//!
//! The target is `--database-to N`, or else worked out from the history: every migration that
//! a release newer than the one returned to applied (`db-migrate up --release V`) is reverted.
//! The step runs after the hosts are back: the old code was written against the older schema
//! plus whatever was added since (expand/contract), the new code may not run on the older one.

use std::time::Duration;

use cdkit::exit::{Exit, ExitCoded};
use cdkit::junit::{Case, Problem, Status};
use cdkit_deb::policy::Version;

use crate::Error;

/// What the database step will do, worked out before anything changes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DbPlan {
    /// The highest applied version now (`None`: nothing applied).
    pub current: Option<i64>,
    /// The version to return to.
    pub target: i64,
    /// Applied versions above the target, newest first, with their names.
    pub revert: Vec<(i64, String)>,
}

impl DbPlan {
    /// One line for `--dry-run` and the log.
    pub fn describe(&self) -> String {
        if self.revert.is_empty() {
            return format!(
                "database: already at {}; nothing to revert",
                self.current
                    .map_or("no migration".into(), |v| v.to_string())
            );
        }
        let list: Vec<String> = self
            .revert
            .iter()
            .map(|(v, n)| format!("{v:04}_{n}"))
            .collect();
        format!(
            "database: revert {} with their stored down SQL (down to {})",
            list.join(", "),
            self.target
        )
    }
}

/// The plan for `url`: to `explicit`, else below the first migration a release newer than
/// `release` applied. Reads the history only.
pub fn plan(url: &str, explicit: Option<i64>, release: Option<&str>) -> Result<DbPlan, Error> {
    let history = db_migrate::history(url)?;
    let applied: Vec<&db_migrate::Applied> = history.iter().filter(|a| a.success).collect();
    let current = applied.iter().map(|a| a.version).max();
    let target = match explicit {
        Some(n) if n < 0 => {
            return Err(Error::Usage(format!(
                "--database-to {n}: not a migration version"
            )))
        }
        Some(n) => n,
        None => derive_target(&history, release)?.unwrap_or(current.unwrap_or(0)),
    };
    let mut revert: Vec<(i64, String)> = applied
        .iter()
        .filter(|a| a.version > target)
        .map(|a| (a.version, a.name.clone()))
        .collect();
    revert.sort_by_key(|(version, _)| std::cmp::Reverse(*version));
    Ok(DbPlan {
        current,
        target,
        revert,
    })
}

/// The version below the first migration applied by a release newer than `release`
/// (`None`: no newer release applied any).
pub fn derive_target(
    history: &[db_migrate::Applied],
    release: Option<&str>,
) -> Result<Option<i64>, Error> {
    let Some(release) = release else {
        return Err(Error::Usage(
            "--database-url: the hosts go back to different versions (or none), so the \
             database target is unclear; give --database-to N or --to-version VER"
                .into(),
        ));
    };
    let wanted = Version::parse(release).map_err(|e| Error::Usage(e.to_string()))?;
    if !history.is_empty() && history.iter().all(|a| a.release.is_none()) {
        return Err(Error::Usage(
            "--database-url: the history does not say which release applied which migration \
             (db-migrate up --release); give --database-to N"
                .into(),
        ));
    }
    let newer = history
        .iter()
        .filter(|a| {
            a.release
                .as_deref()
                .and_then(|r| Version::parse(r).ok())
                .is_some_and(|r| r > wanted)
        })
        .map(|a| a.version)
        .min();
    Ok(newer.map(|v| v - 1))
}

/// What the step produced.
pub struct DbOutcome {
    /// How the step ended.
    pub exit: Exit,
    /// Its testcases.
    pub cases: Vec<Case>,
    /// For the closing line when it failed.
    pub summary: Option<String>,
}

/// Revert to `plan.target` with db-migrate's `down_to`.
pub fn apply(url: &str, plan: &DbPlan, lock_timeout: Duration, classname: &str) -> DbOutcome {
    if plan.revert.is_empty() {
        let mut case = Case::passed(classname, "database");
        case.system_out = Some(plan.describe());
        return DbOutcome {
            exit: Exit::Success,
            cases: vec![case],
            summary: None,
        };
    }
    tracing::info!("{}", plan.describe());
    let mut options = db_migrate::Options::default();
    options.lock_timeout = lock_timeout;
    let again = format!(
        "db-migrate --database-url {} down --to {}",
        cdkit::redact::redact(url),
        plan.target
    );
    match db_migrate::down_to(url, plan.target, &options) {
        Ok(report) => DbOutcome {
            exit: Exit::Success,
            cases: cases_of(&report, classname),
            summary: None,
        },
        Err(e) => {
            let mut cases = e
                .report()
                .map(|r| cases_of(r, classname))
                .unwrap_or_default();
            let mut case = Case::passed(classname, "database");
            case.status = Status::Errored(Problem {
                message: e.to_string(),
                kind: "database".into(),
                ..Problem::default()
            });
            cases.push(case);
            // The hosts are already back: whatever stopped the database is not "nothing
            // changed", so a human looks (or re-runs), except after a signal.
            let exit = match e.exit() {
                Exit::Interrupted => Exit::Interrupted,
                Exit::Terminated => Exit::Terminated,
                _ => Exit::NotRestored,
            };
            DbOutcome {
                exit,
                cases,
                summary: Some(format!(
                    "the hosts are back, the database is NOT ({e}); a human must act: {again}"
                )),
            }
        }
    }
}

fn cases_of(report: &db_migrate::Report, classname: &str) -> Vec<Case> {
    report
        .to_junit()
        .suites
        .into_iter()
        .flat_map(|s| s.cases)
        .map(|mut c| {
            c.classname = classname.to_string();
            c
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(version: i64, release: Option<&str>) -> db_migrate::Applied {
        db_migrate::Applied {
            version,
            name: format!("m{version}"),
            checksum: String::new(),
            checksum_algo: "sha256".into(),
            down_sql: Some("SELECT 1".into()),
            applied_at: String::new(),
            applied_by: String::new(),
            execution_ms: 0,
            success: true,
            release: release.map(str::to_string),
        }
    }

    #[test]
    fn targets_come_from_the_releases_in_the_history() {
        let history = [
            row(1, Some("1.0-1")),
            row(2, Some("2.0-1")),
            row(3, Some("2.0-1")),
        ];
        assert_eq!(derive_target(&history, Some("1.0-1")).unwrap(), Some(1));
        assert_eq!(derive_target(&history, Some("2.0-1")).unwrap(), None);
        assert_eq!(derive_target(&history, Some("0.9-1")).unwrap(), Some(0));
        assert!(derive_target(&history, None).is_err());
        let unknown = [row(1, None), row(2, None)];
        assert!(derive_target(&unknown, Some("1.0-1"))
            .unwrap_err()
            .to_string()
            .contains("--database-to"));
    }

    #[test]
    fn sqlite_plans_and_reverts_with_the_stored_down_sql() {
        let dir = tempfile::tempdir().unwrap();
        let migrations = dir.path().join("migrations");
        std::fs::create_dir_all(&migrations).unwrap();
        for (n, up, down) in [
            (1, "CREATE TABLE t (a INTEGER);", "DROP TABLE t;"),
            (
                2,
                "ALTER TABLE t ADD COLUMN b INTEGER;",
                "ALTER TABLE t DROP COLUMN b;",
            ),
        ] {
            std::fs::write(migrations.join(format!("{n:04}_m{n}.up.sql")), up).unwrap();
            std::fs::write(migrations.join(format!("{n:04}_m{n}.down.sql")), down).unwrap();
        }
        let url = format!("sqlite:{}", dir.path().join("app.db").display());
        let mut options = db_migrate::Options::default();
        options.dir = migrations.clone();
        options.release = Some("1.0-1".into());
        db_migrate::up(&url, Some(1), &options).unwrap();
        options.release = Some("2.0-1".into());
        db_migrate::up(&url, None, &options).unwrap();
        // The older release does not ship migration 2: its files are gone.
        std::fs::remove_dir_all(&migrations).unwrap();

        let plan = plan(&url, None, Some("1.0-1")).unwrap();
        assert_eq!(plan.current, Some(2));
        assert_eq!(plan.target, 1);
        assert_eq!(plan.revert, [(2, "m2".to_string())]);
        let done = apply(&url, &plan, Duration::from_secs(5), "rollback.app.database");
        assert_eq!(done.exit, Exit::Success);
        assert_eq!(done.cases.len(), 1);
        assert_eq!(db_migrate::current_version(&url).unwrap(), Some(1));
        // Again: nothing left to revert.
        let again = super::plan(&url, None, Some("1.0-1")).unwrap();
        assert!(again.revert.is_empty(), "{again:?}");
        assert!(again.describe().contains("already at 1"));
    }

    /// The help, the README and the code agree: a database that cannot be returned after the
    /// hosts are back is exit 3 (a human must act), named with the command that finishes it.
    #[test]
    fn a_failing_down_is_not_restored_and_names_the_command() {
        let dir = tempfile::tempdir().unwrap();
        let migrations = dir.path().join("migrations");
        std::fs::create_dir_all(&migrations).unwrap();
        std::fs::write(
            migrations.join("0001_m1.up.sql"),
            "CREATE TABLE t (a INTEGER);",
        )
        .unwrap();
        std::fs::write(migrations.join("0001_m1.down.sql"), "DROP TABLE nope;").unwrap();
        let url = format!("sqlite:{}", dir.path().join("app.db").display());
        let mut options = db_migrate::Options::default();
        options.dir = migrations;
        options.release = Some("2.0-1".into());
        db_migrate::up(&url, None, &options).unwrap();
        let plan = plan(&url, None, Some("1.0-1")).unwrap();
        assert_eq!(plan.target, 0);
        let done = apply(&url, &plan, Duration::from_secs(5), "rollback.app.database");
        assert_eq!(done.exit, Exit::NotRestored);
        let summary = done.summary.unwrap_or_default();
        assert!(summary.contains("down --to 0"), "{summary}");
        assert_eq!(db_migrate::current_version(&url).unwrap(), Some(1));
    }
}
