//! Runs suites: attempts with retries, merged results, the report (always written, also on
//! interruption) and the exit status of the contract.

use std::path::{Path, PathBuf};

use cdkit::exit::Exit;
use cdkit::junit::{self, Report};
use cdkit::progress::{Progress, ProgressMode};

use crate::attempt::{self, AttemptResult, OutputLog};
use crate::error::Error;
use crate::merge::{Merger, Verdict};
use crate::spec::SuiteSpec;

/// Tool name: the report's root and every classname's first part.
pub const TOOL: &str = "run-tests";

/// How the whole invocation went.
#[derive(Debug)]
pub struct RunOutcome {
    /// The exit code of the whole invocation, combined from every suite's.
    pub exit: Exit,
    /// One summary line per suite, for the console.
    pub summaries: Vec<String>,
}

/// What one suite produced.
struct SuiteOutcome {
    suite: junit::Suite,
    exit: Exit,
    summary: String,
}

/// Run every suite in order and write one report with a `<testsuite>` per suite to `junit`.
/// Stops after a suite that was interrupted.
pub fn run_all(
    specs: &[SuiteSpec],
    junit: &Path,
    progress: ProgressMode,
) -> Result<RunOutcome, Error> {
    let mut report = Report::new(TOOL);
    let mut exits = Vec::new();
    let mut summaries = Vec::new();
    for spec in specs {
        let log_path = output_log_path(junit, &spec.name);
        let outcome = run_suite(spec, &log_path, progress)?;
        report.suites.push(outcome.suite);
        report.write(junit)?; // after every suite, so a killed run still leaves a report
        let stop = matches!(outcome.exit, Exit::Interrupted | Exit::Terminated);
        exits.push(outcome.exit);
        summaries.push(outcome.summary);
        if stop {
            break;
        }
    }
    Ok(RunOutcome {
        exit: Exit::combine(exits),
        summaries,
    })
}

/// `reports/unit.xml` + suite `unit` → `reports/unit.out.log` (one per suite when a report
/// holds several).
pub fn output_log_path(junit: &Path, suite: &str) -> PathBuf {
    let dir = junit.parent().unwrap_or(Path::new(""));
    dir.join(format!("{suite}.out.log"))
}

fn run_suite(spec: &SuiteSpec, log_path: &Path, mode: ProgressMode) -> Result<SuiteOutcome, Error> {
    let span = tracing::info_span!("suite", suite = %spec.name);
    let _entered = span.enter();
    let timestamp = chrono::Utc::now();
    let mut log = OutputLog::create(log_path)?;
    let mut progress = Progress::new(mode, None);
    let mut merger = Merger::default();
    let mut last: Option<AttemptResult> = None;
    // Properties of the command's own JUnit files, from every attempt, each pair once.
    let mut foreign_properties: Vec<(String, String)> = Vec::new();
    let max_attempts = spec.retries.saturating_add(1);

    for number in 1..=max_attempts {
        progress.restart();
        progress.event(
            &format!(
                "{} attempt {number}/{max_attempts}: {}",
                spec.name,
                spec.display_command()
            ),
            None,
        );
        let _attempt_span = tracing::info_span!("attempt", attempt = number).entered();
        let mut result = attempt::run(spec, number, &mut log, &mut progress);
        progress.event(
            &format!(
                "{} attempt {number}/{max_attempts}: {}",
                spec.name,
                describe_attempt(&result)
            ),
            Some(result.duration),
        );
        merger.add_attempt(std::mem::take(&mut result.cases));
        for property in std::mem::take(&mut result.properties) {
            if !foreign_properties.contains(&property) {
                foreign_properties.push(property);
            }
        }
        let stop = result.interrupted().is_some()
            || result.spawn_failed()
            || !merger.has_unresolved_failures();
        last = Some(result);
        if stop {
            break;
        }
        if number < max_attempts {
            tracing::warn!(
                "failures in attempt {number}; retrying ({} left)",
                max_attempts - number
            );
        }
    }

    let prefix = format!("{TOOL}.{}", spec.name);
    let merged = merger.cases(&prefix, spec.flaky_is_failure);
    let counts = Counts::of(&merged);
    let mut cases: Vec<junit::Case> = merged.into_iter().map(|(_, c)| c).collect();
    let last = last.ok_or_else(|| Error::Usage("no attempt was run".into()))?;

    let exit = if let Some(sig) = last.interrupted() {
        Exit::for_signal(sig)
    } else if last.spawn_failed() {
        Exit::Usage
    } else if last.timed_out() {
        Exit::Timeout
    } else if counts.bad > 0 {
        Exit::Failed
    } else if merger.test_count() == 0 {
        let reason = match &last.skip_all {
            Some(r) if !r.is_empty() => format!("the TAP plan skipped everything: {r}"),
            Some(_) => "the TAP plan skipped everything (1..0)".to_string(),
            None => format!("{} produced no test results", spec.display_command()),
        };
        cases.push(junit::Case::nothing_to_do(
            format!("{prefix}.{}", spec.group()),
            reason.clone(),
        ));
        if spec.allow_empty {
            Exit::Success
        } else {
            tracing::warn!("{reason}; exit 4 (use --allow-empty if this is expected)");
            Exit::NothingDone
        }
    } else {
        Exit::Success
    };

    let summary = format!(
        "suite {}: {} passed, {} failed, {} flaky, {} skipped in {} attempt(s), {:.1} s: {}",
        spec.name,
        counts.passed,
        counts.bad,
        counts.flaky,
        counts.skipped,
        last.number,
        progress.elapsed().as_secs_f64(),
        exit
    );
    let mut suite = junit::Suite::finished(TOOL, &spec.name, timestamp, cases)
        .property("command", spec.display_command())
        .property("attempts", last.number.to_string())
        .property("output-log", log.path().display().to_string());
    suite.properties.extend(foreign_properties);
    suite.system_out = (!last.other_output.trim().is_empty())
        .then(|| junit::bounded_with_log(&last.other_output, Some(log.path())));
    suite.system_err = (!last.stderr.trim().is_empty())
        .then(|| junit::bounded_with_log(&last.stderr, Some(log.path())));
    Ok(SuiteOutcome {
        suite,
        exit,
        summary,
    })
}

fn describe_attempt(result: &AttemptResult) -> String {
    let bad = result.cases.iter().filter(|c| c.outcome.is_bad()).count();
    let ending = match result.ending {
        Some(cdkit::process::Ending::Exited(code)) => format!("exit {code}"),
        Some(cdkit::process::Ending::Signaled(sig)) => format!("signal {sig}"),
        Some(cdkit::process::Ending::TimedOut) => "timed out".into(),
        Some(cdkit::process::Ending::Interrupted(_)) => "interrupted".into(),
        None => "could not start".into(),
    };
    format!("{} results, {bad} failed, {ending}", result.cases.len())
}

#[derive(Default)]
struct Counts {
    passed: usize,
    bad: usize,
    flaky: usize,
    skipped: usize,
}

impl Counts {
    fn of(cases: &[(Verdict, junit::Case)]) -> Counts {
        let mut counts = Counts::default();
        for (verdict, case) in cases {
            if case.is_bad() {
                counts.bad += 1;
            } else {
                match verdict {
                    Verdict::Skipped => counts.skipped += 1,
                    Verdict::Flaky => counts.flaky += 1,
                    _ => counts.passed += 1,
                }
            }
        }
        counts
    }
}
