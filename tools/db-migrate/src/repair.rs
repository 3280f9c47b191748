//! `repair`, planned before anything is written: every version the action names is checked
//! against the history (and the files) first, so a bad version among several changes nothing,
//! and a dry run can show exactly the rows it would write.

use crate::checksum;
use crate::driver::Driver;
use crate::files::Migration;
use crate::history::Applied;
use crate::status::ACCEPTED_MISSING;
use crate::{Error, RepairAction};

/// One history write of a repair.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Write {
    /// Store the file's checksum and down SQL (or, for a deleted file, accept it as missing).
    Checksum {
        version: i64,
        name: String,
        checksum: String,
        algo: String,
        down_sql: Option<String>,
        /// The checksum stored now, as shown to people.
        was: String,
    },
    /// Delete an in-progress row, so that `up` runs the migration again.
    Delete { version: i64, name: String },
    /// Mark an in-progress row as applied (finished by hand).
    MarkApplied { version: i64, name: String },
}

impl Write {
    pub(crate) fn apply(&self, driver: &mut dyn Driver) -> Result<(), Error> {
        match self {
            Write::Checksum {
                version,
                checksum,
                algo,
                down_sql,
                ..
            } => driver.update_checksum(*version, checksum, algo, down_sql.as_deref()),
            Write::Delete { version, .. } => driver.delete_row(*version),
            Write::MarkApplied { version, .. } => driver.set_success(*version, true, None),
        }
    }

    /// What the write does, in one line.
    pub(crate) fn describe(&self) -> String {
        match self {
            Write::Checksum {
                version,
                name,
                checksum,
                algo,
                was,
                ..
            } if algo == ACCEPTED_MISSING => format!(
                "version {version} ({name}): checksum {was} -> {ACCEPTED_MISSING} (its file is deleted; down keeps the stored SQL)"
            ),
            Write::Checksum {
                version,
                name,
                checksum: sum,
                algo,
                was,
                ..
            } => format!(
                "version {version} ({name}): checksum {was} -> {} and the file's down SQL",
                checksum::display(algo, sum)
            ),
            Write::Delete { version, name } => format!(
                "version {version} ({name}): delete the in-progress row (`up` runs it again)"
            ),
            Write::MarkApplied { version, name } => {
                format!("version {version} ({name}): mark the in-progress row as applied")
            }
        }
    }
}

/// The writes `action` needs, or the first reason it cannot be done (exit 2), before any
/// write: an unknown version, an applied version named as in progress, or the reverse.
pub(crate) fn plan(
    action: &RepairAction,
    files: &[Migration],
    history: &[Applied],
) -> Result<Vec<Write>, Error> {
    let row = |v: i64| {
        history.iter().find(|h| h.version == v).ok_or_else(|| {
            Error::Usage(format!(
                "repair: version {v} has no history row in this database; nothing was changed"
            ))
        })
    };
    let in_progress = |v: i64, what: &str| -> Result<&Applied, Error> {
        let h = row(v)?;
        if h.success {
            return Err(Error::Usage(format!(
                "repair {what} {v}: version {v} is applied, not in progress; nothing was changed"
            )));
        }
        Ok(h)
    };
    match action {
        RepairAction::AcceptChecksum(versions) => versions
            .iter()
            .map(|&v| {
                let h = row(v)?;
                let was = checksum::display(&h.checksum_algo, &h.checksum);
                Ok(match files.iter().find(|f| f.version == v) {
                    Some(f) => Write::Checksum {
                        version: v,
                        name: h.name.clone(),
                        checksum: f.checksum.clone(),
                        algo: checksum::ALGORITHM.into(),
                        down_sql: f.down_sql.clone().or_else(|| h.down_sql.clone()),
                        was,
                    },
                    None => Write::Checksum {
                        version: v,
                        name: h.name.clone(),
                        checksum: String::new(),
                        algo: ACCEPTED_MISSING.into(),
                        down_sql: h.down_sql.clone(),
                        was,
                    },
                })
            })
            .collect(),
        RepairAction::ClearInProgress(v) => {
            let h = in_progress(*v, "--clear-in-progress")?;
            Ok(vec![Write::Delete {
                version: *v,
                name: h.name.clone(),
            }])
        }
        RepairAction::MarkApplied(v) => {
            let h = in_progress(*v, "--mark-applied")?;
            Ok(vec![Write::MarkApplied {
                version: *v,
                name: h.name.clone(),
            }])
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(version: i64, success: bool) -> Applied {
        Applied {
            version,
            name: format!("m{version}"),
            checksum: "old".into(),
            checksum_algo: checksum::ALGORITHM.into(),
            down_sql: Some("SELECT 1;".into()),
            applied_at: "2026-01-01T00:00:00.000Z".into(),
            applied_by: "ci@host".into(),
            execution_ms: 1,
            success,
            release: None,
        }
    }

    #[test]
    fn every_version_is_checked_before_any_write() {
        let history = vec![row(1, true), row(2, false)];
        let e = plan(&RepairAction::AcceptChecksum(vec![1, 9]), &[], &history).unwrap_err();
        assert!(
            e.to_string().contains("version 9 has no history row"),
            "{e}"
        );
        let e = plan(&RepairAction::ClearInProgress(1), &[], &history).unwrap_err();
        assert!(e.to_string().contains("is applied, not in progress"), "{e}");
        let writes = plan(&RepairAction::AcceptChecksum(vec![1]), &[], &history).unwrap();
        assert!(
            writes[0].describe().contains("accepted-missing"),
            "{writes:?}"
        );
        assert_eq!(
            plan(&RepairAction::MarkApplied(2), &[], &history).unwrap(),
            vec![Write::MarkApplied {
                version: 2,
                name: "m2".into()
            }]
        );
    }
}
