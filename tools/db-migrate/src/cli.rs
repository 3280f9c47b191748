//! db-migrate's command line (in the library, so tests and `main.rs` share one definition):
//! the flags and subcommands, and how each prints its result and writes the JUnit report
//! (also when a run fails), leaving the exit code to the contract.

use std::path::PathBuf;
use std::time::Duration;

use clap::{Parser, Subcommand};

use crate::{Error, Options, RepairAction, Report, TOOL};
use cdkit::cli::{parse_duration, CommonArgs};
use cdkit::exit::{Exit, ExitCoded};
use cdkit::junit;

const EXAMPLES: &str = "\
Examples:
  db-migrate --database-url sqlite:/var/lib/app/app.db up
  DATABASE_URL=postgres://app@db1/app db-migrate --release 1.4.2-1 --junit reports/migrate.xml up
  db-migrate --database-url mysql://app@db1/app down --to 12
  db-migrate --database-url postgres://app@db1/app status --json
  db-migrate --dir migrations new add_users_email
  db-migrate --dir db/migrations lint --dialect postgres
  db-migrate --database-url postgres://app@db1/app up --phase pre
  db-migrate --database-url postgres://app@db1/app up --phase post
  db-migrate --database-url postgres://app@db1/app repair --accept-checksum 7
  db-migrate --database-url postgres://app@db1/app --dir db/migrations adopt

Files: VERSION_NAME.up.sql and optional VERSION_NAME.down.sql (golang-migrate, sqlx), or
VERSION_NAME.sql with `-- migrate:up` / `-- migrate:down` sections (dbmate) or up SQL only
(sqlx); a first line `-- no-transaction` runs a migration outside a transaction, statement by
statement. `adopt` moves a database over from golang-migrate or dbmate in one command.
Rolling installs: `-- db-migrate: phase=post` among a migration's first comment lines makes it
post-deploy; `up --phase pre` (before the rollout) applies only pre-deploy ones after `lint`
passes them, `up --phase post` the rest once every host runs the new release.

Exit status: 0 done, 1 a migration failed and was rolled back, 2 bad input (arguments, URL,
migration files, an applied migration edited or deleted, a pre-deploy migration lint refuses), 3 a migration is half-applied
(the message names the `repair` command) or adopt found golang-migrate's version dirty, 75
lock held by another run, another run in progress, or database unreachable (retry), 130/143
interrupted between migrations.";

/// Versioned SQL migrations for SQLite, PostgreSQL and MariaDB.
#[derive(Debug, Parser)]
#[command(name = "db-migrate", version, about, after_help = EXAMPLES)]
pub struct Cli {
    /// sqlite:PATH, postgres://USER[:PASS]@HOST[:PORT]/DB, mysql:// or mariadb://USER[:PASS]@HOST[:PORT]/DB.
    #[arg(
        long,
        env = "DATABASE_URL",
        hide_env_values = true,
        global = true,
        value_name = "URL"
    )]
    pub database_url: Option<String>,

    /// The migrations directory.
    #[arg(
        long,
        env = "DB_MIGRATE_DIR",
        default_value = "migrations",
        global = true,
        value_name = "DIR"
    )]
    pub dir: PathBuf,

    /// How long to wait for another run's lock before giving up with exit 75.
    #[arg(long, env = "DB_MIGRATE_LOCK_TIMEOUT", value_parser = parse_duration, default_value = "5m", global = true, value_name = "DUR")]
    pub lock_timeout: Duration,

    /// Print what would run; change nothing.
    #[arg(long, env = "DB_MIGRATE_DRY_RUN", global = true)]
    pub dry_run: bool,

    /// Package version applying the migrations, kept in the history (e.g. 1.4.2-1).
    #[arg(
        long,
        env = "DB_MIGRATE_RELEASE",
        global = true,
        value_name = "VERSION"
    )]
    pub release: Option<String>,

    /// Flags every cdkit tool has (--junit, --log-format, --progress, ...).
    #[command(flatten)]
    pub common: CommonArgs,

    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// `up --phase`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum PhaseArg {
    /// Pre-deploy migrations only, linted first.
    Pre,
    /// After the rollout: every pending migration.
    Post,
    /// Every pending migration, no lint (what `up` always did).
    All,
}

/// `--allow-unsafe` names a rule lint knows, or the typo would silently acknowledge nothing.
fn check_rules(rules: &[String]) -> Result<(), Error> {
    match rules.iter().find(|r| !crate::lint::known_rule(r)) {
        Some(r) => Err(Error::Usage(format!(
            "--allow-unsafe {r}: no such lint rule; the rules are {}",
            crate::lint::RULES
                .iter()
                .map(|(n, _, _)| *n)
                .collect::<Vec<_>>()
                .join(", ")
        ))),
        None => Ok(()),
    }
}

/// db-migrate's subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Apply pending migrations in version order.
    Up {
        /// Stop after this version.
        #[arg(long, value_name = "VERSION")]
        to: Option<i64>,
        /// pre: only pre-deploy migrations, linted first (before a rolling install); post:
        /// every pending one (after it); all: every pending one, no lint.
        #[arg(long, value_enum, default_value = "all", env = "DB_MIGRATE_PHASE")]
        phase: PhaseArg,
        /// Acknowledge a lint finding of this rule (repeatable): reported and recorded, not refused.
        #[arg(long, value_name = "RULE")]
        allow_unsafe: Vec<String>,
    },
    /// Refuse pre-deploy migrations the running version would not survive (drops, renames,
    /// NOT NULL without a default, type changes, long PostgreSQL locks): one line per finding.
    Lint {
        /// postgres, mariadb, mysql or sqlite (default: the database URL's).
        #[arg(long, value_name = "DIALECT")]
        dialect: Option<String>,
        /// Acknowledge findings of this rule (repeatable).
        #[arg(long, value_name = "RULE")]
        allow_unsafe: Vec<String>,
    },
    /// Revert applied migrations above VERSION, newest first, with their stored down SQL.
    Down {
        /// The version to go back to (0: before every migration from 1; -1: version 0 too).
        /// Required: never "all" by default.
        #[arg(
            long,
            value_name = "VERSION",
            required = true,
            allow_negative_numbers = true
        )]
        to: i64,
    },
    /// Show every migration's state.
    Status {
        /// JSON instead of a table.
        #[arg(long)]
        json: bool,
    },
    /// Check the files (and, with a database URL, that applied migrations still match them).
    Validate,
    /// Create the next migration's .up.sql and .down.sql.
    New {
        /// letters, digits, _ or -
        name: String,
    },
    /// Repair the history explicitly: accept edited files, or settle an in-progress mark.
    Repair {
        /// Accept the current file (checksum and down SQL) of these applied versions.
        #[arg(long, value_name = "VERSION,...", value_delimiter = ',', required_unless_present_any = ["clear_in_progress", "mark_applied"], conflicts_with_all = ["clear_in_progress", "mark_applied"])]
        accept_checksum: Vec<i64>,
        /// Delete the in-progress mark so that `up` runs the migration again.
        #[arg(long, value_name = "VERSION", conflicts_with = "mark_applied")]
        clear_in_progress: Option<i64>,
        /// Record the in-progress migration as applied (finished by hand).
        #[arg(long, value_name = "VERSION")]
        mark_applied: Option<i64>,
    },
    /// Adopt an existing database: record migrations up to VERSION as applied without running them.
    Baseline {
        /// The highest version the database already has.
        version: i64,
    },
    /// Move a database over from golang-migrate or dbmate: record what their history table
    /// says was applied (with checksums and down SQL), without running anything.
    Adopt {
        /// Their history table (golang-migrate's `x-migrations-table`, dbmate's `--migrations-table`).
        #[arg(long, default_value = crate::adopt::DEFAULT_TABLE, value_name = "TABLE")]
        table: String,
    },
}

/// Run the subcommand `cli` asks for, print its result and write the report; the exit code
/// of the outcome (the caller turns an error into its one line and exit code).
pub fn run(cli: Cli) -> anyhow::Result<Exit> {
    let options = Options {
        dir: cli.dir.clone(),
        lock_timeout: cli.lock_timeout,
        dry_run: cli.dry_run,
        release: cli.release.clone(),
        progress: cli.common.progress,
        ..Options::default()
    };
    let url = || {
        cli.database_url.clone().ok_or_else(|| {
            Error::Usage(format!(
                "no database: give --database-url URL or set {}",
                crate::URL_ENV
            ))
        })
    };
    let subject = subject(cli.database_url.as_deref());
    match &cli.command {
        Command::New { name } if cli.dry_run => {
            let (up, down) = crate::new::plan(&cli.dir, name)?;
            cdkit::outln!(
                "would create {}\nwould create {}",
                up.display(),
                down.display()
            );
            Ok(Exit::Success)
        }
        Command::New { name } => {
            let (up, down) = crate::new::create(&cli.dir, name)?;
            cdkit::outln!("{}\n{}", up.display(), down.display());
            Ok(Exit::Success)
        }
        Command::Validate => {
            let result = crate::validate(cli.database_url.as_deref(), &options)
                .map(|n| format!("{n} migration(s) in {} are valid", cli.dir.display()));
            write_junit(&cli, || match &result {
                Ok(summary) => one_case(&subject, "validate", summary_case(summary, false)),
                Err(e) => error_junit(&subject, e),
            });
            cdkit::outln!("{}", result?);
            Ok(Exit::Success)
        }
        Command::Status { json } => {
            let result = url().and_then(|url| crate::status(&url, &options));
            write_junit(&cli, || match &result {
                Ok(status) => {
                    let pending = status
                        .migrations
                        .iter()
                        .filter(|m| m.state == crate::status::State::Pending)
                        .count();
                    let reason = format!(
                        "status changes nothing: version {}, {pending} pending",
                        status
                            .current_version
                            .map_or_else(|| "none".to_string(), |v| v.to_string())
                    );
                    one_case(&subject, "status", junit::Case::nothing_to_do("", reason))
                }
                Err(e) => error_junit(&subject, e),
            });
            let status = result?;
            if *json {
                cdkit::outln!("{}", serde_json::to_string_pretty(&status)?);
            } else {
                cdkit::console::print_stdout(&status.table());
            }
            Ok(Exit::Success)
        }
        Command::Repair {
            accept_checksum,
            clear_in_progress,
            mark_applied,
        } => {
            let action = match (clear_in_progress, mark_applied) {
                (Some(v), _) => RepairAction::ClearInProgress(*v),
                (_, Some(v)) => RepairAction::MarkApplied(*v),
                _ => RepairAction::AcceptChecksum(accept_checksum.clone()),
            };
            let result = url().and_then(|url| crate::repair(&url, &action, &options));
            write_junit(&cli, || match &result {
                Ok(summary) => one_case(&subject, "repair", summary_case(summary, cli.dry_run)),
                Err(e) => error_junit(&subject, e),
            });
            let summary = result?;
            if cli.dry_run {
                cdkit::outln!("{summary}");
            } else {
                tracing::info!("{summary}");
            }
            Ok(Exit::Success)
        }
        Command::Up {
            to,
            phase,
            allow_unsafe,
        } => {
            let options = Options {
                phase: match phase {
                    PhaseArg::Pre => Some(crate::files::Phase::Pre),
                    PhaseArg::Post => Some(crate::files::Phase::Post),
                    PhaseArg::All => None,
                },
                allow_unsafe: allow_unsafe.clone(),
                ..options
            };
            let result = check_rules(allow_unsafe)
                .and_then(|()| url())
                .and_then(|url| crate::up(&url, *to, &options));
            finish(&cli, &subject, result)
        }
        Command::Lint {
            dialect,
            allow_unsafe,
        } => {
            let options = Options {
                allow_unsafe: allow_unsafe.clone(),
                ..options
            };
            let result = check_rules(allow_unsafe)
                .and_then(|()| {
                    dialect
                        .as_deref()
                        .map(crate::lint::Dialect::parse)
                        .transpose()
                        .map_err(|e| Error::Usage(format!("--dialect: {e}")))
                })
                .and_then(|d| crate::lint(cli.database_url.as_deref(), d, &options));
            let outcome = result.and_then(|findings| {
                for f in &findings {
                    if f.acknowledged {
                        cdkit::outln!("{f} (acknowledged)");
                    } else {
                        cdkit::outln!("{f}");
                    }
                }
                match crate::lint::refusal(&findings) {
                    Some(summary) => Err(Error::Unsafe {
                        summary,
                        findings: findings
                            .iter()
                            .filter(|f| !f.acknowledged)
                            .map(ToString::to_string)
                            .collect(),
                    }),
                    None => Ok(findings),
                }
            });
            write_junit(&cli, || match &outcome {
                Ok(findings) => lint_junit(&subject, findings),
                Err(e) => error_junit(&subject, e),
            });
            let findings = outcome?;
            tracing::info!(
                "lint: no pre-deploy migration in {} breaks the running version ({} acknowledged finding(s))",
                cli.dir.display(),
                findings.len()
            );
            Ok(Exit::Success)
        }
        Command::Down { to } => {
            let result = url().and_then(|url| crate::down_to(&url, *to, &options));
            finish(&cli, &subject, result)
        }
        Command::Baseline { version } => {
            let result = url().and_then(|url| crate::baseline(&url, *version, &options));
            finish(&cli, &subject, result)
        }
        Command::Adopt { table } => {
            let result = url().and_then(|url| crate::adopt(&url, table, &options));
            finish(&cli, &subject, result)
        }
    }
}

/// Write the JUnit report if `--junit` was given. A report that cannot be written is one
/// error line, and the run's own outcome stands: turning exit 1 or 3 into 2 would hide a
/// rolled-back or half-applied migration and its repair command.
fn write_junit(cli: &Cli, report: impl FnOnce() -> junit::Report) {
    if let Some(path) = &cli.common.junit {
        if let Err(e) = report().write(path) {
            let message = format!("cannot write the JUnit report {}: {e}", path.display());
            tracing::error!("{}", cdkit::redact::redact(&message));
        }
    }
}

/// The JUnit subject: the database name, or `files` when there is no database (validate).
fn subject(url: Option<&str>) -> String {
    url.and_then(|u| crate::url::parse(u).ok())
        .map_or_else(|| "files".into(), |u| u.database)
}

/// The one case of a command that applies no migration (`validate`, `repair`), passed with
/// its summary; skipped in a dry run (nothing was written).
fn summary_case(summary: &str, dry_run: bool) -> junit::Case {
    let mut case = junit::Case::passed("", "run");
    if dry_run {
        case.status = junit::Status::Skipped {
            message: summary.to_string(),
        };
    }
    case.system_out = Some(summary.to_string());
    case
}

/// Print the dry-run plan or the summary, write the JUnit report (also on failure), and pass
/// the error on for the one-line message and exit code.
fn finish(cli: &Cli, subject: &str, result: Result<Report, Error>) -> anyhow::Result<Exit> {
    write_junit(cli, || match &result {
        Ok(report) => report.to_junit(),
        Err(e) => match e.report() {
            Some(report) => report.to_junit(),
            None => error_junit(subject, e),
        },
    });
    let report = result?;
    if report.dry_run {
        print_plan(cli, &report)?;
    }
    let verb = match (&cli.command, report.dry_run) {
        (Command::Down { .. }, false) => "reverted",
        (Command::Down { .. }, true) => "would revert",
        (Command::Baseline { .. } | Command::Adopt { .. }, false) => "adopted",
        (Command::Baseline { .. } | Command::Adopt { .. }, true) => "would adopt",
        (_, false) => "applied",
        (_, true) => "would apply",
    };
    let count = if report.dry_run {
        report.steps.len()
    } else {
        report.done()
    };
    tracing::info!(
        "{verb} {count} migration(s) in {:.2} s; {} at version {}",
        report.elapsed.as_secs_f64(),
        report.url,
        report
            .version_after
            .map_or_else(|| "none".to_string(), |v| v.to_string())
    );
    Ok(Exit::Success)
}

/// The SQL a dry run would execute, on stdout.
fn print_plan(cli: &Cli, report: &Report) -> anyhow::Result<()> {
    let url = cli.database_url.as_deref().unwrap_or_default();
    let files = match &cli.command {
        Command::Up { .. } => crate::files::load(&cli.dir)?,
        _ => Vec::new(),
    };
    let history = match &cli.command {
        Command::Down { .. } => crate::history(url)?,
        _ => Vec::new(),
    };
    for step in &report.steps {
        let sql = match step.direction {
            crate::Direction::Up => files
                .iter()
                .find(|f| f.version == step.version)
                .map(|f| f.up_sql.clone()),
            crate::Direction::Down => history
                .iter()
                .find(|h| h.version == step.version)
                .and_then(|h| h.down_sql.clone()),
        }
        .unwrap_or_default();
        let recorded = match cli.command {
            Command::Baseline { .. } => Some("baseline"),
            Command::Adopt { .. } => Some("adopt"),
            _ => None,
        };
        if let Some(how) = recorded {
            cdkit::outln!(
                "-- db-migrate: would record {:04}_{} as applied without running it ({how})",
                step.version,
                step.name
            );
            continue;
        }
        cdkit::outln!(
            "-- db-migrate: would {} {:04}_{}\n{}\n",
            step.direction.verb(),
            step.version,
            step.name,
            sql.trim_end()
        );
    }
    Ok(())
}

/// A report for a run that stopped before any migration (drift, lock, connection): one case
/// naming the problem, so Jenkins shows why nothing ran.
fn error_junit(subject: &str, e: &Error) -> junit::Report {
    let (name, kind) = match e {
        Error::Drift { .. } => ("drift", "drift"),
        Error::InProgress { .. } => ("in-progress", "half-applied"),
        Error::ForeignDirty { .. } => ("adopt", "dirty"),
        Error::LockTimeout { .. } => ("lock", "lock-timeout"),
        Error::Busy { .. } => ("lock", "in-progress"),
        Error::Connect { .. } => ("connect", "unreachable"),
        Error::Refused { .. } => ("connect", "refused"),
        Error::Stopped { .. } => ("lock", "interrupted"),
        Error::NoDownSql { .. } | Error::EmptyDown { .. } => ("plan", "no-down-sql"),
        Error::Unsafe { .. } => ("lint", "unsafe"),
        _ => ("run", "error"),
    };
    let body = match e {
        Error::Unsafe { findings, .. } => findings.join("\n"),
        _ => String::new(),
    };
    let problem = junit::Problem {
        message: cdkit::redact::redact(&e.to_string()).into_owned(),
        kind: kind.into(),
        body,
        reruns: Vec::new(),
    };
    let mut case = junit::Case::passed("", name);
    // The harness (lock, network, a signal) rather than the migrations: an <error>.
    case.status = match e.exit() {
        Exit::TempFail | Exit::Interrupted | Exit::Terminated => junit::Status::Errored(problem),
        _ => junit::Status::Failed(problem),
    };
    one_case(subject, "run", case)
}

/// A passing lint: one case, the acknowledged findings in its output.
fn lint_junit(subject: &str, findings: &[crate::lint::Finding]) -> junit::Report {
    let mut case = junit::Case::passed("", "lint");
    if !findings.is_empty() {
        case.system_out = Some(format!(
            "acknowledged with --allow-unsafe:\n{}\n",
            findings
                .iter()
                .map(ToString::to_string)
                .collect::<Vec<_>>()
                .join("\n")
        ));
    }
    one_case(subject, "lint", case)
}

/// A report of one case, in suite `db-migrate.SUBJECT` with classname `db-migrate.SUBJECT.GROUP`.
fn one_case(subject: &str, group: &str, mut case: junit::Case) -> junit::Report {
    case.classname = format!("{TOOL}.{subject}.{group}");
    let mut report = junit::Report::new(TOOL);
    report.suites.push(junit::Suite::finished(
        TOOL,
        subject,
        chrono::Utc::now(),
        vec![case],
    ));
    report
}
