//! What a run did, migration by migration: returned to library callers (the `rollback` tool)
//! and turned into the JUnit report (one testcase per migration applied or reverted) and the
//! progress lines.

use std::time::Duration;

use cdkit::junit;
use chrono::{DateTime, Utc};

use crate::TOOL;

/// Which way a step went.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Direction {
    /// Applying (`up`, `baseline`, `adopt`).
    Up,
    /// Reverting (`down`).
    Down,
}

impl Direction {
    /// The verb used in messages ("apply 3", "revert 3").
    pub fn verb(self) -> &'static str {
        match self {
            Direction::Up => "apply",
            Direction::Down => "revert",
        }
    }

    fn group(self) -> &'static str {
        match self {
            Direction::Up => "up",
            Direction::Down => "down",
        }
    }
}

/// One migration applied or reverted (or, in a dry run, planned).
#[derive(Debug, Clone, serde::Serialize)]
pub struct Step {
    /// The migration's version.
    pub version: i64,
    /// The migration's name.
    pub name: String,
    /// Applying or reverting.
    pub direction: Direction,
    /// Wall time of the migration itself (history bookkeeping included).
    #[serde(serialize_with = "secs")]
    pub elapsed: Duration,
    /// How it ended.
    pub outcome: Outcome,
}

/// How one step ended.
#[derive(Debug, Clone, serde::Serialize)]
#[serde(rename_all = "snake_case", tag = "state")]
pub enum Outcome {
    /// Applied (up) or reverted (down) and recorded.
    Done,
    /// Dry run: this would have run.
    Planned,
    /// Failed; `half_applied` when some statements had already changed the database.
    Failed(StepFailure),
}

/// The database's complaint about a migration, with the statement that caused it.
#[derive(Debug, Clone, serde::Serialize)]
pub struct StepFailure {
    /// One line: the error as the database reported it (redacted).
    pub message: String,
    /// SQLSTATE (PostgreSQL) or error number (MariaDB) when the database gave one.
    pub code: Option<String>,
    /// The failing statement when it could be identified.
    pub statement: Option<String>,
    /// Some statements had been committed before the failure (non-transactional migration).
    pub half_applied: bool,
}

/// The result of `up` or `down_to`.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Report {
    /// The JUnit subject: the database name (stable across builds: no host, port or path).
    pub database: String,
    /// The database URL with its password masked.
    pub url: String,
    /// Applying or reverting.
    pub direction: Direction,
    /// Nothing was changed: the steps are the plan.
    pub dry_run: bool,
    /// Highest applied version before the run (`None`: nothing applied).
    pub version_before: Option<i64>,
    /// Highest applied version after the run (`None`: nothing applied).
    pub version_after: Option<i64>,
    /// One step per migration, in the order run.
    pub steps: Vec<Step>,
    /// When the run started (the JUnit timestamp).
    #[serde(skip)]
    pub started: DateTime<Utc>,
    /// Wall time of the whole run.
    #[serde(serialize_with = "secs")]
    pub elapsed: Duration,
    /// `up --phase`: which migrations the run was about (`None`: every pending one).
    pub phase: Option<String>,
    /// Lint findings acknowledged with `--allow-unsafe`, by version: the run applied them
    /// knowingly, and the report says so next to the migration.
    pub acknowledged: Vec<(i64, String)>,
}

fn secs<S: serde::Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_f64((d.as_secs_f64() * 1000.0).round() / 1000.0)
}

impl Report {
    pub(crate) fn new(database: &str, url: &str, direction: Direction, dry_run: bool) -> Report {
        Report {
            database: database.to_string(),
            url: url.to_string(),
            direction,
            dry_run,
            version_before: None,
            version_after: None,
            steps: Vec::new(),
            started: Utc::now(),
            elapsed: Duration::ZERO,
            phase: None,
            acknowledged: Vec::new(),
        }
    }

    /// How many steps were applied or reverted.
    pub fn done(&self) -> usize {
        self.steps
            .iter()
            .filter(|s| matches!(s.outcome, Outcome::Done))
            .count()
    }

    /// The JUnit report: suite `db-migrate.DATABASE`, one case per step, classname
    /// `db-migrate.DATABASE.up|down`; an empty run writes one skipped "nothing to do" case.
    pub fn to_junit(&self) -> junit::Report {
        let classname = format!("{TOOL}.{}.{}", self.database, self.direction.group());
        let mut cases: Vec<junit::Case> = self
            .steps
            .iter()
            .map(|s| {
                let mut c = case(&classname, s);
                let acked: Vec<&str> = self
                    .acknowledged
                    .iter()
                    .filter(|(v, _)| *v == s.version)
                    .map(|(_, line)| line.as_str())
                    .collect();
                if !acked.is_empty() {
                    let note = format!("acknowledged with --allow-unsafe:\n{}\n", acked.join("\n"));
                    c.system_out = Some(match c.system_out.take() {
                        Some(out) => format!("{note}{out}"),
                        None => note,
                    });
                }
                c
            })
            .collect();
        if cases.is_empty() {
            let reason = match self.direction {
                Direction::Up => "no pending migrations",
                Direction::Down => "no applied migrations above the target",
            };
            cases.push(junit::Case::nothing_to_do(classname, reason));
        }
        let mut suite = junit::Suite::finished(TOOL, &self.database, self.started, cases)
            .property("direction", self.direction.group())
            .property("dry_run", self.dry_run.to_string());
        if let Some(v) = self.version_before {
            suite = suite.property("version_before", v.to_string());
        }
        if let Some(v) = self.version_after {
            suite = suite.property("version_after", v.to_string());
        }
        if let Some(phase) = &self.phase {
            suite = suite.property("phase", phase);
        }
        if !self.acknowledged.is_empty() {
            let mut rules: Vec<&str> = self
                .acknowledged
                .iter()
                .filter_map(|(_, line)| line.split(": ").nth(1))
                .collect();
            rules.sort_unstable();
            rules.dedup();
            suite = suite.property("allow-unsafe", rules.join(","));
        }
        let mut report = junit::Report::new(TOOL);
        report.suites.push(suite);
        report
    }
}

fn case(classname: &str, step: &Step) -> junit::Case {
    let mut case = junit::Case::passed(classname, format!("{:04}_{}", step.version, step.name));
    case.time = step.elapsed;
    case.status = match &step.outcome {
        Outcome::Done => junit::Status::Passed { flaky: Vec::new() },
        Outcome::Planned => junit::Status::Skipped {
            message: format!("dry run: would {}", step.direction.verb()),
        },
        Outcome::Failed(f) => {
            let mut body = String::new();
            if let Some(code) = &f.code {
                body.push_str(&format!("code: {code}\n"));
            }
            if let Some(stmt) = &f.statement {
                body.push_str(&format!("statement:\n{stmt}\n"));
            }
            if f.half_applied {
                body.push_str("some statements had already run: the migration is marked in progress; see `db-migrate repair`\n");
            }
            junit::Status::Failed(junit::Problem {
                message: f.message.clone(),
                kind: if f.half_applied {
                    "half-applied".into()
                } else {
                    "sql-error".into()
                },
                body: cdkit::redact::redact(&body).into_owned(),
                reruns: Vec::new(),
            })
        }
    };
    case
}
