//! Files and history side by side: what `status` prints (a table for people, `--json` for
//! scripts), and the checks every mutating command makes first — drift (an applied
//! migration's file edited or deleted) and in-progress marks left by an earlier run.

use crate::checksum;
use std::path::Path;

use crate::error::{accept_command, repair_command, Drift};
use crate::files::Migration;
use crate::history::Applied;
use crate::Error;

/// The `checksum_algo` stored by `repair --accept-checksum` for a deleted file.
pub const ACCEPTED_MISSING: &str = "accepted-missing";

/// Where one migration stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum State {
    /// Applied, and the file (if any) matches.
    Applied,
    /// A file not yet applied.
    Pending,
    /// Marked in progress: a non-transactional migration failed half-way or its runner died.
    InProgress,
    /// Applied, but the file changed since.
    Edited,
    /// Applied, but the file is gone.
    Missing,
}

/// One line of `status`.
#[derive(Debug, Clone, serde::Serialize)]
pub struct MigrationState {
    /// The migration's version.
    pub version: i64,
    /// The migration's name.
    pub name: String,
    /// Applied, pending, drifted, ...
    pub state: State,
    /// When it was applied (RFC 3339 UTC).
    pub applied_at: Option<String>,
    /// Who applied it.
    pub applied_by: Option<String>,
    /// The package version that applied it (--release).
    pub release: Option<String>,
    /// How long it ran, in milliseconds.
    pub execution_ms: Option<i64>,
    /// Whether down SQL with statements is stored (applied) or present as a file (pending).
    pub reversible: bool,
    /// The phase its file declares (`pre`/`post`); `None` when the file is gone.
    pub phase: Option<crate::files::Phase>,
}

/// The whole `status` answer.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Status {
    /// The database's name.
    pub database: String,
    /// The database URL with its password masked.
    pub url: String,
    /// Highest applied version (`None`: nothing applied).
    pub current_version: Option<i64>,
    /// Every migration, files and history together, by version.
    pub migrations: Vec<MigrationState>,
}

/// Whether an applied row still matches its file (`None` when it does).
fn drift_of(row: &Applied, file: Option<&Migration>) -> Option<Drift> {
    let recorded = checksum::display(&row.checksum_algo, &row.checksum);
    match file {
        None if row.checksum_algo == ACCEPTED_MISSING => None,
        None => Some(Drift {
            version: row.version,
            name: row.name.clone(),
            recorded,
            current: None,
        }),
        Some(f) if row.checksum_algo == checksum::ALGORITHM && row.checksum == f.checksum => None,
        Some(f) => Some(Drift {
            version: row.version,
            name: row.name.clone(),
            recorded,
            current: Some(checksum::display(checksum::ALGORITHM, &f.checksum)),
        }),
    }
}

/// Every applied migration whose file changed or disappeared.
pub fn drift(files: &[Migration], history: &[Applied]) -> Vec<Drift> {
    history
        .iter()
        .filter(|row| row.success)
        .filter_map(|row| drift_of(row, files.iter().find(|f| f.version == row.version)))
        .collect()
}

/// Refuse to run on top of drift (exit 2) or an in-progress mark (exit 3). `files` come with
/// the directory they were read from, for the `repair --accept-checksum` command in the error.
pub fn check(
    files: Option<(&[Migration], &Path)>,
    history: &[Applied],
    url: &str,
) -> Result<(), Error> {
    if let Some(row) = history.iter().find(|r| !r.success) {
        return Err(Error::InProgress {
            version: row.version,
            name: row.name.clone(),
            since: format!("marked by {} at {}", row.applied_by, row.applied_at),
            repair: repair_command(url, row.version),
        });
    }
    if let Some((files, dir)) = files {
        let items = drift(files, history);
        if !items.is_empty() {
            let versions: Vec<i64> = items.iter().map(|d| d.version).collect();
            return Err(Error::Drift {
                accept: accept_command(url, dir, &versions),
                items,
            });
        }
    }
    Ok(())
}

/// Whether down SQL can revert anything: present, and more than comments.
fn reversible(down_sql: Option<&str>) -> bool {
    down_sql.is_some_and(|sql| !crate::split::is_blank(sql))
}

/// Merge files and history into one list by version.
pub fn compute(files: &[Migration], history: &[Applied]) -> Vec<MigrationState> {
    let mut versions: Vec<i64> = files
        .iter()
        .map(|f| f.version)
        .chain(history.iter().map(|h| h.version))
        .collect();
    versions.sort_unstable();
    versions.dedup();
    versions
        .into_iter()
        .map(|v| {
            let file = files.iter().find(|f| f.version == v);
            match history.iter().find(|h| h.version == v) {
                Some(row) => MigrationState {
                    version: v,
                    name: row.name.clone(),
                    state: if !row.success {
                        State::InProgress
                    } else {
                        match drift_of(row, file) {
                            None => State::Applied,
                            Some(d) if d.current.is_none() => State::Missing,
                            Some(_) => State::Edited,
                        }
                    },
                    applied_at: Some(row.applied_at.clone()),
                    applied_by: Some(row.applied_by.clone()),
                    release: row.release.clone(),
                    execution_ms: Some(row.execution_ms),
                    reversible: reversible(row.down_sql.as_deref()),
                    phase: file.map(|f| f.phase),
                },
                None => MigrationState {
                    version: v,
                    name: file.map(|f| f.name.clone()).unwrap_or_default(),
                    state: State::Pending,
                    applied_at: None,
                    applied_by: None,
                    release: None,
                    execution_ms: None,
                    reversible: reversible(file.and_then(|f| f.down_sql.as_deref())),
                    phase: file.map(|f| f.phase),
                },
            }
        })
        .collect()
}

impl Status {
    /// A fixed-width table for people.
    pub fn table(&self) -> String {
        let mut out = format!(
            "{}: current version {}\n",
            self.url,
            self.current_version
                .map_or_else(|| "none".to_string(), |v| v.to_string())
        );
        let width = self
            .migrations
            .iter()
            .map(|m| m.name.len() + 5)
            .max()
            .unwrap_or(9)
            .max(9);
        out.push_str(&format!(
            "{:<8} {:<width$} {:<11} {:<5} {:<24} {:<10} {}\n",
            "VERSION", "MIGRATION", "STATE", "PHASE", "APPLIED AT", "RELEASE", "DOWN"
        ));
        for m in &self.migrations {
            let state = serde_json::to_value(m.state)
                .ok()
                .and_then(|v| v.as_str().map(str::to_string))
                .unwrap_or_default();
            out.push_str(&format!(
                "{:<8} {:<width$} {:<11} {:<5} {:<24} {:<10} {}\n",
                m.version,
                format!("{:04}_{}", m.version, m.name),
                state,
                m.phase.map_or("-", |p| p.as_str()),
                m.applied_at.as_deref().unwrap_or("-"),
                m.release.as_deref().unwrap_or("-"),
                if m.reversible { "yes" } else { "no" }
            ));
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::PathBuf;

    fn file(version: i64, sql: &str) -> Migration {
        Migration {
            version,
            name: format!("m{version}"),
            up_path: PathBuf::from(format!("{version:04}_m{version}.up.sql")),
            up_sql: sql.into(),
            down_sql: None,
            checksum: checksum::checksum(sql),
            transactional: true,
            phase: crate::files::Phase::Pre,
            up_line: 1,
        }
    }

    fn row(version: i64, sql: &str, success: bool) -> Applied {
        Applied {
            version,
            name: format!("m{version}"),
            checksum: checksum::checksum(sql),
            checksum_algo: checksum::ALGORITHM.into(),
            down_sql: Some("SELECT 1".into()),
            applied_at: "2026-01-01T00:00:00.000Z".into(),
            applied_by: "ci@host".into(),
            execution_ms: 3,
            success,
            release: Some("1.0-1".into()),
        }
    }

    #[test]
    fn states_cover_applied_pending_edited_missing_and_in_progress() {
        let files = vec![
            file(1, "a"),
            file(2, "b-edited"),
            file(4, "d"),
            file(5, "e"),
        ];
        let history = vec![
            row(1, "a", true),
            row(2, "b", true),
            row(3, "c", true),
            row(4, "d", false),
        ];
        let states: Vec<State> = compute(&files, &history).iter().map(|m| m.state).collect();
        assert_eq!(
            states,
            vec![
                State::Applied,
                State::Edited,
                State::Missing,
                State::InProgress,
                State::Pending
            ]
        );
        let d = drift(&files, &history);
        assert_eq!(d.len(), 2);
        assert_eq!(
            d[0].current.as_deref(),
            Some(checksum::display(checksum::ALGORITHM, &checksum::checksum("b-edited")).as_str())
        );
        assert_eq!(d[1].current, None);
        let e = check(
            Some((&files, Path::new("migrations"))),
            &history,
            "sqlite:x.db",
        )
        .unwrap_err();
        assert!(matches!(e, Error::InProgress { version: 4, .. }), "{e}");
        assert!(
            e.to_string().contains("repair --clear-in-progress 4"),
            "{e}"
        );
    }

    #[test]
    fn drift_names_version_and_both_checksums() {
        let files = vec![file(1, "new")];
        let history = vec![row(1, "old", true)];
        let e = check(
            Some((&files, Path::new("migrations"))),
            &history,
            "sqlite:x.db",
        )
        .unwrap_err()
        .to_string();
        assert!(
            e.contains(&checksum::checksum("old")) && e.contains(&checksum::checksum("new")),
            "{e}"
        );
        assert!(
            e.contains("`db-migrate --database-url sqlite:x.db --dir migrations repair --accept-checksum 1`"),
            "{e}"
        );
        let mut accepted = row(1, "x", true);
        accepted.checksum_algo = ACCEPTED_MISSING.into();
        assert!(drift(&[], &[accepted]).is_empty());
    }
}
