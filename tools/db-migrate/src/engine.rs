//! The policy every command follows, whatever the database: parse the URL and the files
//! before connecting (bad input changes nothing), take the lock before reading the history
//! (so a waiting runner sees what the previous one applied), refuse on drift or an
//! in-progress mark, then apply or revert one migration at a time, each committed with its
//! history row where the database allows it and behind an in-progress mark where it does not.

use std::time::Instant;

use cdkit::progress::Progress;

use crate::checksum;
use crate::driver::{self, Connect, Driver, ExecError};
use crate::error::{accept_command, repair_command};
use crate::files::{self, Migration, Phase};
use crate::history::{self, Applied};
use crate::lint;
use crate::report::{Direction, Outcome, Report, Step, StepFailure};
use crate::status::{self, Status};
use crate::url::{self, DbUrl};
use crate::{Error, Options, RepairAction};

/// A connection, and the URL it came from.
struct Session {
    url: DbUrl,
    driver: Box<dyn Driver>,
}

/// What other sessions see as the lock holder.
fn holder(options: &Options) -> String {
    // Most telling first: PostgreSQL keeps only 63 bytes of application_name.
    format!(
        "db-migrate pid {} by {} run {}",
        std::process::id(),
        options.applied_by,
        cdkit::run_id::get()
    )
}

fn open(url: DbUrl, options: &Options, read_only: bool) -> Result<Session, Error> {
    let holder = holder(options);
    let driver = driver::connect(
        &url,
        &Connect {
            holder: &holder,
            read_only,
            busy_timeout: options.lock_timeout,
        },
    )?;
    Ok(Session { url, driver })
}

impl Session {
    /// Run `body` holding the migration lock; the lock is released afterwards whatever happens
    /// (and by the server or kernel if this process dies).
    fn locked<T>(
        &mut self,
        options: &Options,
        body: impl FnOnce(&mut Session) -> Result<T, Error>,
    ) -> Result<T, Error> {
        self.driver.lock(options.lock_timeout)?;
        let result = body(self);
        self.driver.unlock();
        result
    }

    /// Run `body` in one transaction (history rows only): all of its writes or none.
    fn atomically<T>(
        &mut self,
        body: impl FnOnce(&mut Session) -> Result<T, Error>,
    ) -> Result<T, Error> {
        self.driver.begin()?;
        match body(self) {
            Ok(value) => self.driver.execute("COMMIT").map(|()| value),
            Err(e) => {
                let _ = self.driver.execute("ROLLBACK");
                Err(e)
            }
        }
    }

    fn history_or_empty(&mut self) -> Result<Vec<Applied>, Error> {
        if self.driver.history_exists()? {
            self.driver.read_history()
        } else {
            Ok(Vec::new())
        }
    }

    /// The history for a command that takes no lock. An in-progress mark whose run still
    /// holds the lock is a live run, not a dead one: [`Error::Busy`] (exit 75, retry) instead
    /// of the "failed or was killed" refusal. A run that ends between the two reads released
    /// the lock after settling its mark, so the history is read again once the lock is free.
    fn history_unlocked(&mut self) -> Result<Vec<Applied>, Error> {
        let history = self.history_or_empty()?;
        let Some(row) = history.iter().find(|r| !r.success) else {
            return Ok(history);
        };
        if let Some(holder) = self.driver.lock_holder()? {
            return Err(Error::Busy {
                version: row.version,
                name: row.name.clone(),
                holder,
            });
        }
        self.history_or_empty()
    }

    /// [`Session::history_unlocked`], refused on drift or an in-progress mark.
    fn checked_unlocked(
        &mut self,
        files: &[Migration],
        options: &Options,
    ) -> Result<Vec<Applied>, Error> {
        let history = self.history_unlocked()?;
        status::check(Some((files, &options.dir)), &history, &self.url.redacted)?;
        Ok(history)
    }

    fn ensure_history(&mut self) -> Result<Vec<Applied>, Error> {
        if !self.driver.history_exists()? {
            self.driver.create_history()?;
        }
        self.driver.read_history()
    }
}

fn max_applied(history: &[Applied]) -> Option<i64> {
    history
        .iter()
        .filter(|a| a.success)
        .map(|a| a.version)
        .max()
}

fn pending<'a>(files: &'a [Migration], history: &[Applied], to: Option<i64>) -> Vec<&'a Migration> {
    files
        .iter()
        .filter(|f| to.is_none_or(|t| f.version <= t))
        .filter(|f| !history.iter().any(|h| h.version == f.version))
        .collect()
}

/// The pending migrations `up --phase` applies. `pre`: the pre-deploy ones up to the first
/// pending post-deploy one; a pending pre-deploy migration *after* a pending post-deploy one is
/// refused (exit 2): applying it would leave a gap below the applied version that neither this
/// history's "current version" nor golang-migrate's single version number can express, and
/// holding it back would start the rollout without the schema the new release needs. `post`
/// and every phase (`None`): all pending migrations in order (a pre-deploy one still pending
/// then only expands, which is safe at any time).
fn in_phase(todo: Vec<&Migration>, phase: Option<Phase>) -> Result<Vec<&Migration>, Error> {
    if phase != Some(Phase::Pre) {
        if phase == Some(Phase::Post) {
            for m in todo.iter().filter(|m| m.phase == Phase::Pre) {
                tracing::warn!(
                    "{} is a pre-deploy migration still pending: applying it in the post-deploy phase",
                    m.label()
                );
            }
        }
        return Ok(todo);
    }
    let Some(cut) = todo.iter().position(|m| m.phase == Phase::Post) else {
        return Ok(todo);
    };
    if let Some(later) = todo[cut..].iter().find(|m| m.phase == Phase::Pre) {
        return Err(Error::BadMigration {
            path: later.up_path.clone(),
            problem: format!(
                "pre-deploy migration {} comes after the pending post-deploy migration {} ({}): versions apply in order, so give post-deploy migrations the highest versions of a release, or run `up --phase post` first once every host runs the release that shipped it",
                later.version,
                todo[cut].version,
                todo[cut].up_path.display()
            ),
        });
    }
    let left = todo.len() - cut;
    tracing::info!(
        "{left} post-deploy migration(s) from {} on left for `up --phase post`",
        todo[cut].label()
    );
    let mut todo = todo;
    todo.truncate(cut);
    Ok(todo)
}

/// Lint the pre-deploy migrations about to run: refuse (exit 2) on a finding not acknowledged
/// with `--allow-unsafe`; return the acknowledged ones (for the report). `log`: print each
/// finding (once per run, not again under the lock).
fn lint_gate(
    todo: &[&Migration],
    dialect: lint::Dialect,
    options: &Options,
    log: bool,
) -> Result<Vec<(i64, String)>, Error> {
    let mut acknowledged = Vec::new();
    let mut open = Vec::new();
    for m in todo {
        for f in lint::lint_migration(m, dialect, &options.allow_unsafe) {
            if f.acknowledged {
                if log {
                    tracing::warn!("{f} (acknowledged with --allow-unsafe {})", f.rule);
                }
                acknowledged.push((m.version, f.to_string()));
            } else {
                if log {
                    tracing::error!("{f}");
                }
                open.push(f);
            }
        }
    }
    match lint::refusal(&open) {
        Some(summary) => Err(Error::Unsafe {
            summary,
            findings: open.iter().map(ToString::to_string).collect(),
        }),
        None => Ok(acknowledged),
    }
}

/// `db-migrate lint`: every pre-deploy migration in the directory, or with a database only
/// the pending ones. Returns the findings (acknowledged ones included); the caller refuses.
pub(crate) fn lint_dir(
    url: Option<&str>,
    dialect: Option<lint::Dialect>,
    options: &Options,
) -> Result<Vec<lint::Finding>, Error> {
    let files = files::load(&options.dir)?;
    let (todo, dialect): (Vec<&Migration>, lint::Dialect) = match url {
        Some(raw) => {
            let url = url::parse(raw)?;
            let dialect = dialect.unwrap_or(lint::Dialect::of(url.kind));
            let mut session = open(url, options, true)?;
            let history = session.checked_unlocked(&files, options)?;
            (pending(&files, &history, None), dialect)
        }
        None => (
            files.iter().collect(),
            dialect.ok_or_else(|| {
                Error::Usage(
                    "lint needs the SQL dialect: give --dialect postgres|mariadb|sqlite, or a database URL".into(),
                )
            })?,
        ),
    };
    Ok(lint::lint_all(&todo, dialect, &options.allow_unsafe))
}

pub(crate) fn up(url: &str, to: Option<i64>, options: &Options) -> Result<Report, Error> {
    let url = url::parse(url)?;
    if let Some(t) = to {
        if t < 0 {
            return Err(Error::Usage(format!("--to {t}: a version is 0 or more")));
        }
    }
    let files = files::load(&options.dir)?;
    let dialect = lint::Dialect::of(url.kind);
    let started = Instant::now();
    let mut report = Report::new(&url.database, &url.redacted, Direction::Up, options.dry_run);
    report.phase = options.phase.map(|p| p.as_str().to_string());
    let mut session = open(url, options, options.dry_run)?;
    // The check runs before anything is written (the locked run below creates the history
    // table): a refused pre-deploy run leaves the database as it was.
    if options.phase == Some(Phase::Pre) && !options.dry_run {
        let history = session.checked_unlocked(&files, options)?;
        let todo = in_phase(pending(&files, &history, to), options.phase)?;
        report.acknowledged = lint_gate(&todo, dialect, options, true)?;
    }
    let result = if options.dry_run {
        let history = session.checked_unlocked(&files, options)?;
        report.version_before = max_applied(&history);
        let todo = in_phase(pending(&files, &history, to), options.phase)?;
        if options.phase == Some(Phase::Pre) {
            report.acknowledged = lint_gate(&todo, dialect, options, true)?;
        }
        for m in todo {
            report
                .steps
                .push(planned(m.version, &m.name, Direction::Up));
            report.version_after = report.version_after.max(Some(m.version));
        }
        report.version_after = report.version_after.max(report.version_before);
        Ok(())
    } else {
        session.locked(options, |s| {
            let history = s.ensure_history()?;
            status::check(Some((&files, &options.dir)), &history, &s.url.redacted)?;
            report.version_before = max_applied(&history);
            let todo = in_phase(pending(&files, &history, to), options.phase)?;
            if options.phase == Some(Phase::Pre) {
                // Again under the lock: another run may have changed what is pending.
                report.acknowledged = lint_gate(&todo, dialect, options, false)?;
            }
            if let (Some(first), Some(top)) = (todo.first(), report.version_before) {
                if first.version < top {
                    tracing::warn!(
                        "{} is older than the applied version {top}; applying it out of order",
                        first.label()
                    );
                }
            }
            let mut progress = Progress::new(options.progress, Some(todo.len() as u64));
            for m in todo {
                interrupted(&mut report).map_err(|e| settle(e, s))?;
                if m.down_sql.as_deref().is_some_and(crate::split::is_blank) {
                    tracing::warn!(
                        "{}.down.sql has no statements: `down` will refuse to revert {} (write `SELECT 1;` for an intentional no-op)",
                        m.label(),
                        m.version
                    );
                }
                let step = apply(s, m, options);
                progress.advance(1);
                progress.event(
                    &format!("{} {}", m.label(), outcome_word(&step)),
                    Some(step.elapsed),
                );
                let url = s.url.redacted.clone();
                finish_step(&mut report, step, &url).map_err(|e| settle(e, s))?;
            }
            report.version_after = max_applied(&s.driver.read_history()?);
            Ok(())
        })
    };
    report.elapsed = started.elapsed();
    result.map(|()| report)
}

pub(crate) fn down_to(url: &str, target: i64, options: &Options) -> Result<Report, Error> {
    let url = url::parse(url)?;
    // -1 is "before every migration" when a project numbers its first one 0 (golang-migrate).
    if target < -1 {
        return Err(Error::Usage(format!(
            "--to {target}: a version is 0 or more (-1: before every migration, version 0 included)"
        )));
    }
    let started = Instant::now();
    let mut report = Report::new(
        &url.database,
        &url.redacted,
        Direction::Down,
        options.dry_run,
    );
    let mut session = open(url, options, options.dry_run)?;
    let plan =
        |report: &mut Report, history: &[Applied], url: &str| -> Result<Vec<Applied>, Error> {
            status::check(None, history, url)?;
            report.version_before = max_applied(history);
            let mut todo: Vec<Applied> = history
                .iter()
                .filter(|h| h.version > target)
                .cloned()
                .collect();
            todo.sort_by_key(|h| std::cmp::Reverse(h.version));
            // Refuse before changing anything if one of them cannot be reverted.
            for h in &todo {
                match h.down_sql.as_deref() {
                    None => {
                        return Err(Error::NoDownSql {
                            version: h.version,
                            name: h.name.clone(),
                        })
                    }
                    Some(sql) if crate::split::is_blank(sql) => {
                        return Err(Error::EmptyDown {
                            version: h.version,
                            name: h.name.clone(),
                            file: format!("{:04}_{}.down.sql", h.version, h.name),
                            accept: accept_command(url, &options.dir, &[h.version]),
                        })
                    }
                    Some(_) => {}
                }
            }
            Ok(todo)
        };
    let result = if options.dry_run {
        let history = session.history_unlocked()?;
        let redacted = session.url.redacted.clone();
        let todo = plan(&mut report, &history, &redacted)?;
        for h in &todo {
            report
                .steps
                .push(planned(h.version, &h.name, Direction::Down));
        }
        report.version_after = history
            .iter()
            .filter(|h| h.success && h.version <= target)
            .map(|h| h.version)
            .max();
        Ok(())
    } else {
        session.locked(options, |s| {
            let history = s.history_or_empty()?;
            let redacted = s.url.redacted.clone();
            let todo = plan(&mut report, &history, &redacted)?;
            let mut progress = Progress::new(options.progress, Some(todo.len() as u64));
            for h in &todo {
                interrupted(&mut report).map_err(|e| settle(e, s))?;
                let step = revert(s, h);
                progress.advance(1);
                progress.event(
                    &format!("{:04}_{} {}", h.version, h.name, outcome_word(&step)),
                    Some(step.elapsed),
                );
                finish_step(&mut report, step, &redacted).map_err(|e| settle(e, s))?;
            }
            report.version_after = max_applied(&s.history_or_empty()?);
            Ok(())
        })
    };
    report.elapsed = started.elapsed();
    result.map(|()| report)
}

/// Complete the partial report an error carries: the version the database is at now (read
/// back, since a failed step may or may not have changed it) and the time taken.
fn settle(mut e: Error, s: &mut Session) -> Error {
    let now = s.history_or_empty().ok().map(|h| max_applied(&h));
    if let Some(report) = e.report_mut() {
        if let Some(version) = now {
            report.version_after = version;
        }
        report.elapsed = (chrono::Utc::now() - report.started)
            .to_std()
            .unwrap_or_default();
    }
    e
}

fn planned(version: i64, name: &str, direction: Direction) -> Step {
    Step {
        version,
        name: name.to_string(),
        direction,
        elapsed: std::time::Duration::ZERO,
        outcome: Outcome::Planned,
    }
}

fn outcome_word(step: &Step) -> &'static str {
    match (&step.outcome, step.direction) {
        (Outcome::Done, Direction::Up) => "applied",
        (Outcome::Done, Direction::Down) => "reverted",
        (Outcome::Planned, _) => "planned",
        (Outcome::Failed(f), _) if f.half_applied => "FAILED half-way",
        (Outcome::Failed(_), _) => "FAILED (rolled back)",
    }
}

/// Stop between migrations when SIGINT/SIGTERM arrived: the database is consistent here.
fn interrupted(report: &mut Report) -> Result<(), Error> {
    match cdkit::signals::received() {
        Some(signal) => Err(Error::Interrupted {
            signal,
            report: Box::new(report.clone()),
        }),
        None => Ok(()),
    }
}

/// Record a step in the report; a failed step ends the run with its error.
fn finish_step(report: &mut Report, step: Step, url: &str) -> Result<(), Error> {
    let failure = match &step.outcome {
        Outcome::Failed(f) => Some(f.clone()),
        _ => None,
    };
    let (version, name, direction) = (step.version, step.name.clone(), step.direction);
    match &step.outcome {
        Outcome::Done => tracing::debug!(
            "{} {:04}_{name} ({} ms)",
            outcome_word(&step),
            version,
            step.elapsed.as_millis()
        ),
        Outcome::Failed(f) => {
            tracing::error!("{version:04}_{name} {}: {}", outcome_word(&step), f.message)
        }
        Outcome::Planned => {}
    }
    report.steps.push(step);
    let Some(f) = failure else {
        return Ok(());
    };
    let report = Box::new(report.clone());
    Err(if f.half_applied {
        Error::HalfApplied {
            version,
            name,
            direction,
            message: f.message,
            repair: repair_command(url, version),
            report,
        }
    } else {
        Error::Failed {
            version,
            name,
            direction,
            message: f.message,
            report,
        }
    })
}

fn failed(version: i64, name: &str, direction: Direction, started: Instant, e: ExecError) -> Step {
    Step {
        version,
        name: name.to_string(),
        direction,
        elapsed: started.elapsed(),
        outcome: Outcome::Failed(StepFailure {
            message: e.message,
            code: e.code,
            statement: e.statement.map(|s| cdkit::redact::redact(&s).into_owned()),
            half_applied: e.changed,
        }),
    }
}

fn bookkeeping_failed(e: Error) -> ExecError {
    let mut err = ExecError::new(e);
    err.changed = true;
    err
}

/// Apply one migration: atomically with its history row where possible, else behind an
/// in-progress row that is cleared on success (and deleted again if nothing had run).
fn apply(s: &mut Session, m: &Migration, options: &Options) -> Step {
    let started = Instant::now();
    let mut row = Applied {
        version: m.version,
        name: m.name.clone(),
        checksum: m.checksum.clone(),
        checksum_algo: checksum::ALGORITHM.to_string(),
        down_sql: m.down_sql.clone(),
        applied_at: cdkit::time::now_rfc3339(),
        applied_by: options.applied_by.clone(),
        execution_ms: 0,
        success: true,
        release: options.release.clone(),
    };
    let result = if m.transactional && s.driver.transactional_ddl() {
        s.driver.apply_atomic(&m.up_sql, &row)
    } else {
        row.success = false;
        match s.driver.insert_row(&row) {
            Err(e) => Err(ExecError::new(e)),
            Ok(()) => match s.driver.run_unwrapped(&m.up_sql) {
                Ok(()) => {
                    let ms = started.elapsed().as_millis() as i64;
                    s.driver
                        .set_success(m.version, true, Some(ms))
                        .map_err(bookkeeping_failed)
                }
                Err(e) if !e.changed => match s.driver.delete_row(m.version) {
                    Ok(()) => Err(e),
                    Err(_) => Err(ExecError { changed: true, ..e }),
                },
                Err(e) => Err(e),
            },
        }
    };
    match result {
        Ok(()) => Step {
            version: m.version,
            name: m.name.clone(),
            direction: Direction::Up,
            elapsed: started.elapsed(),
            outcome: Outcome::Done,
        },
        Err(e) => failed(m.version, &m.name, Direction::Up, started, e),
    }
}

/// Revert one migration with its stored down SQL (same transaction policy as [`apply`]).
fn revert(s: &mut Session, h: &Applied) -> Step {
    let started = Instant::now();
    // Rows stored by an older db-migrate may still start with the file's BOM.
    let sql = h.down_sql.as_deref().unwrap_or("");
    let sql = sql.strip_prefix('\u{feff}').unwrap_or(sql);
    let result = if files::is_transactional(sql) && s.driver.transactional_ddl() {
        s.driver.revert_atomic(sql, h.version)
    } else {
        match s.driver.set_success(h.version, false, None) {
            Err(e) => Err(ExecError::new(e)),
            Ok(()) => match s.driver.run_unwrapped(sql) {
                Ok(()) => s.driver.delete_row(h.version).map_err(bookkeeping_failed),
                Err(e) if !e.changed => match s.driver.set_success(h.version, true, None) {
                    Ok(()) => Err(e),
                    Err(_) => Err(ExecError { changed: true, ..e }),
                },
                Err(e) => Err(e),
            },
        }
    };
    match result {
        Ok(()) => Step {
            version: h.version,
            name: h.name.clone(),
            direction: Direction::Down,
            elapsed: started.elapsed(),
            outcome: Outcome::Done,
        },
        Err(e) => failed(h.version, &h.name, Direction::Down, started, e),
    }
}

pub(crate) fn history(url: &str) -> Result<Vec<Applied>, Error> {
    let url = url::parse(url)?;
    open(url, &Options::default(), true)?.history_or_empty()
}

pub(crate) fn status(url: &str, options: &Options) -> Result<Status, Error> {
    let url = url::parse(url)?;
    let files = files::load(&options.dir)?;
    let mut session = open(url, options, true)?;
    let history = session.history_or_empty()?;
    Ok(Status {
        database: session.url.database.clone(),
        url: session.url.redacted.clone(),
        current_version: max_applied(&history),
        migrations: status::compute(&files, &history),
    })
}

pub(crate) fn validate(url: Option<&str>, options: &Options) -> Result<usize, Error> {
    let files = files::load(&options.dir)?;
    if let Some(url) = url {
        let url = url::parse(url)?;
        open(url, options, true)?.checked_unlocked(&files, options)?;
    }
    Ok(files.len())
}

pub(crate) fn repair(url: &str, action: &RepairAction, options: &Options) -> Result<String, Error> {
    let url = url::parse(url)?;
    let files = match action {
        RepairAction::AcceptChecksum(_) => files::load(&options.dir)?,
        _ => Vec::new(),
    };
    let mut session = open(url, options, options.dry_run)?;
    if options.dry_run {
        // Reads only: no lock, no history table created.
        let history = session.history_unlocked()?;
        let writes = crate::repair::plan(action, &files, &history)?;
        let planned: Vec<String> = writes.iter().map(|w| w.describe()).collect();
        return Ok(format!(
            "dry run, nothing written; repair would write: {}",
            planned.join("; ")
        ));
    }
    session.locked(options, |s| {
        let history = s.history_or_empty()?;
        // Every named version is checked before the first write; then all commit together.
        let writes = crate::repair::plan(action, &files, &history)?;
        s.atomically(|s| writes.iter().try_for_each(|w| w.apply(s.driver.as_mut())))?;
        let done: Vec<String> = writes.iter().map(|w| w.describe()).collect();
        Ok(format!("repaired: {}", done.join("; ")))
    })
}

pub(crate) fn baseline(url: &str, version: i64, options: &Options) -> Result<Report, Error> {
    let url = url::parse(url)?;
    let files = files::load(&options.dir)?;
    if !files.iter().any(|f| f.version <= version) {
        return Err(Error::Usage(format!(
            "baseline {version}: no migration file in {} has version {version} or lower",
            options.dir.display()
        )));
    }
    let what = format!("baseline {version}");
    // No down SQL: nobody knows whether today's down file undoes what the database holds.
    record_applied(url, options, &what, "baseline", false, |_| {
        Ok(files.iter().filter(|f| f.version <= version).collect())
    })
}

pub(crate) fn adopt(url: &str, table: &str, options: &Options) -> Result<Report, Error> {
    crate::adopt::check_table_name(table)?;
    let url = url::parse(url)?;
    let files = files::load(&options.dir)?;
    let mut source = None;
    let what = format!("adopt from {table}");
    let choose = |s: &mut Session| -> Result<Vec<&Migration>, Error> {
        let kind = s.driver.kind();
        let columns: Vec<String> = s
            .driver
            .query_text(&crate::adopt::columns_sql(kind, table))?
            .into_iter()
            .filter_map(|row| row.into_iter().next().flatten())
            .collect();
        if columns.is_empty() {
            return Err(Error::Usage(format!(
                "{table}: no such table in {}; nothing to adopt (golang-migrate and dbmate keep their history in {}; give --table if yours has another name)",
                s.url.database,
                crate::adopt::DEFAULT_TABLE
            )));
        }
        let Some(found) = crate::adopt::source_of(&columns) else {
            return Err(Error::Usage(format!(
                "{table} has the columns {}: neither golang-migrate's (version, dirty) nor dbmate's (version); nothing was adopted",
                columns.join(", ")
            )));
        };
        source = Some(found);
        let rows = s.driver.query_text(&crate::adopt::rows_sql(found, table))?;
        let foreign = crate::adopt::interpret(found, table, &rows)?;
        crate::adopt::select(&files, &foreign, &options.dir, table)
    };
    // The files are the ones the other tool ran, so their down SQL is what undoes them.
    let report = record_applied(url, options, &what, "adopted", true, choose)?;
    if let Some(source) = source {
        tracing::info!(
            "{what}: recorded {} migration(s) applied by {}; {table} is left as it was",
            report.steps.len(),
            source.name()
        );
    }
    Ok(report)
}

/// Record migrations as applied without running them (`baseline`, `adopt`): in a database
/// without history only, all rows in one transaction under the lock, or (dry run) only the
/// plan. `choose` picks them once the history is known to be empty.
fn record_applied<'a>(
    url: DbUrl,
    options: &Options,
    what: &str,
    by: &str,
    store_down: bool,
    mut choose: impl FnMut(&mut Session) -> Result<Vec<&'a Migration>, Error>,
) -> Result<Report, Error> {
    let started = Instant::now();
    let mut report = Report::new(&url.database, &url.redacted, Direction::Up, options.dry_run);
    let without_history = |history: &[Applied]| {
        if history.is_empty() {
            return Ok(());
        }
        Err(Error::Usage(format!(
            "{what}: the database already has {} row(s) in {}; only a database without db-migrate history can be adopted",
            history.len(),
            history::TABLE
        )))
    };
    let mut session = open(url, options, options.dry_run)?;
    if options.dry_run {
        // Reads only: no lock, no history table created, no row written.
        without_history(&session.history_or_empty()?)?;
        let adopted = choose(&mut session)?;
        for m in &adopted {
            report
                .steps
                .push(planned(m.version, &m.name, Direction::Up));
        }
        report.version_after = adopted.iter().map(|m| m.version).max();
        report.elapsed = started.elapsed();
        return Ok(report);
    }
    session.locked(options, |s| {
        without_history(&s.history_or_empty()?)?;
        let adopted = choose(s)?;
        if !s.driver.history_exists()? {
            s.driver.create_history()?;
        }
        // All rows or none: a failure half-way leaves no partial baseline behind.
        s.atomically(|s| {
            adopted.iter().try_for_each(|m| {
                s.driver.insert_row(&Applied {
                    version: m.version,
                    name: m.name.clone(),
                    checksum: m.checksum.clone(),
                    checksum_algo: checksum::ALGORITHM.into(),
                    down_sql: if store_down { m.down_sql.clone() } else { None },
                    applied_at: cdkit::time::now_rfc3339(),
                    applied_by: format!("{} ({by})", options.applied_by),
                    execution_ms: 0,
                    success: true,
                    release: options.release.clone(),
                })
            })
        })?;
        for m in adopted {
            report.steps.push(Step {
                version: m.version,
                name: m.name.clone(),
                direction: Direction::Up,
                elapsed: std::time::Duration::ZERO,
                outcome: Outcome::Done,
            });
        }
        report.version_after = max_applied(&s.driver.read_history()?);
        Ok(())
    })?;
    report.elapsed = started.elapsed();
    Ok(report)
}
