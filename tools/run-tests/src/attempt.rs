//! One run of the test command: stream its output into the log, the full-output file and the
//! TAP parser, then turn whatever it produced (TAP, JUnit files, exit status) into results.

use std::collections::VecDeque;
use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant, SystemTime};

use cdkit::process::{Command, Ending, Finished, Stream};
use cdkit::progress::Progress;

use crate::error::Error;
use crate::junit_in;
use crate::model::{CaseResult, Outcome};
use crate::spec::{Format, SuiteSpec};
use crate::tap::{TapParser, EXIT_STATUS_CASE};

/// What one attempt produced.
#[derive(Debug, Clone)]
pub struct AttemptResult {
    pub number: u32,
    pub cases: Vec<CaseResult>,
    /// How the command ended; `None` when it could not be started.
    pub ending: Option<Ending>,
    pub duration: Duration,
    /// Bounded stderr of the attempt (for the suite's `system-err`).
    pub stderr: String,
    /// Output after the last TAP test point, or the bounded stdout in other formats.
    pub other_output: String,
    /// The TAP plan said there was nothing to run (`1..0 # SKIP reason`).
    pub skip_all: Option<String>,
    /// Properties of the JUnit files read (see [`junit_in`]), for the report's suite.
    pub properties: Vec<(String, String)>,
}

impl AttemptResult {
    /// Whether this attempt was stopped by the time limit.
    pub fn timed_out(&self) -> bool {
        self.ending == Some(Ending::TimedOut)
    }

    /// The interrupting signal, if this process was asked to stop during the attempt.
    pub fn interrupted(&self) -> Option<i32> {
        match self.ending {
            Some(Ending::Interrupted(sig)) => Some(sig),
            _ => None,
        }
    }

    /// Whether the command could not be started at all.
    pub fn spawn_failed(&self) -> bool {
        self.ending.is_none()
    }
}

/// Most bytes of one attempt's output kept in the suite's `SUITE.out.log`: the first
/// [`OUTPUT_LOG_HEAD`] bytes and the last [`OUTPUT_LOG_TAIL`], with a line saying how much was
/// left out between them. A runaway test must not fill the agent's disk, and the tail is where
/// a failure's story usually ends.
pub const OUTPUT_LOG_MAX: u64 = OUTPUT_LOG_HEAD + OUTPUT_LOG_TAIL;
/// The part of [`OUTPUT_LOG_MAX`] written as it arrives.
pub const OUTPUT_LOG_HEAD: u64 = 56 << 20;
/// The part of [`OUTPUT_LOG_MAX`] held in memory until the attempt ends, then written.
pub const OUTPUT_LOG_TAIL: u64 = 8 << 20;

/// The file holding every line every attempt printed, up to [`OUTPUT_LOG_MAX`] bytes per
/// attempt (the report names it; JUnit keeps only bounded excerpts).
pub struct OutputLog {
    path: PathBuf,
    out: BufWriter<File>,
    /// Bytes of the current attempt written to the file.
    written: u64,
    tail: VecDeque<String>,
    tail_bytes: u64,
    omitted: u64,
}

impl OutputLog {
    /// Create (truncate) the log file.
    pub fn create(path: &Path) -> Result<OutputLog, Error> {
        let wrap = |source| Error::OutputLog {
            path: path.to_path_buf(),
            source,
        };
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir).map_err(wrap)?;
        }
        // In a shared workspace: never through a symbolic link or into another user's file.
        let file = cdkit::own_file::rewrite(path).map_err(wrap)?;
        Ok(OutputLog {
            path: path.to_path_buf(),
            out: BufWriter::new(file),
            written: 0,
            tail: VecDeque::new(),
            tail_bytes: 0,
            omitted: 0,
        })
    }

    /// Where the log is.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Every line, the attempt headers with the command line included, is redacted here: the
    /// file is archived by Jenkins beside the report.
    fn line(&mut self, text: &str) {
        let text = &*cdkit::redact::redact(text);
        let size = text.len() as u64 + 1;
        if self.tail.is_empty() && self.written + size <= OUTPUT_LOG_HEAD {
            // A full disk must not turn a test verdict into a crash; the report still gets
            // written.
            let _ = writeln!(self.out, "{text}");
            self.written += size;
            return;
        }
        self.tail.push_back(text.to_string());
        self.tail_bytes += size;
        while self.tail_bytes > OUTPUT_LOG_TAIL {
            match self.tail.pop_front() {
                Some(dropped) => {
                    let dropped = dropped.len() as u64 + 1;
                    self.tail_bytes -= dropped;
                    self.omitted += dropped;
                }
                None => break,
            }
        }
    }

    /// Start an attempt's part of the log with its header line.
    fn begin_attempt(&mut self, header: &str) {
        self.end_attempt();
        self.written = 0;
        self.line(header);
    }

    /// Write the held tail of the attempt and flush; the log is complete after this.
    fn end_attempt(&mut self) {
        if self.omitted > 0 {
            let _ = writeln!(
                self.out,
                "[... {} bytes of output omitted: the log keeps an attempt's first {} MiB and last {} MiB ...]",
                self.omitted,
                OUTPUT_LOG_HEAD >> 20,
                OUTPUT_LOG_TAIL >> 20
            );
            self.omitted = 0;
        }
        for line in self.tail.drain(..) {
            let _ = writeln!(self.out, "{line}");
        }
        self.tail_bytes = 0;
        let _ = self.out.flush();
    }
}

/// Run attempt `number` of `spec`.
pub fn run(
    spec: &SuiteSpec,
    number: u32,
    log: &mut OutputLog,
    progress: &mut Progress,
) -> AttemptResult {
    log.begin_attempt(&format!(
        "=== attempt {number}: {} ===",
        spec.display_command()
    ));
    let base = spec.workdir.clone().unwrap_or_else(|| PathBuf::from("."));
    let started_wall = SystemTime::now();
    let started = Instant::now();
    let mut parser = TapParser::new(spec.group()).timed();
    // With --tap-in the TAP is in the files the command writes; its stdout is only output.
    let read_tap = matches!(spec.format, Format::Auto | Format::Tap) && spec.tap_in.is_none();

    let command = build_command(spec);
    let finished = command.run(|stream, line| {
        log.line(line);
        if stream == Stream::Stdout && read_tap && parser.push_line(line) {
            progress.advance(1);
            if let Some(planned) = parser.planned() {
                progress.set_total(planned as u64);
            }
        }
    });
    log.end_attempt();

    let finished = match finished {
        Ok(f) => f,
        Err(e) => return spawn_failure(spec, number, started.elapsed(), &e.to_string()),
    };
    let format = match spec.format {
        Format::Auto if spec.junit_in.is_some() => Format::Junit,
        Format::Auto if spec.tap_in.is_some() => Format::Tap,
        Format::Auto if parser.saw_tap() => Format::Tap,
        Format::Auto => Format::ExitCode,
        other => other,
    };
    let mut result = AttemptResult {
        number,
        cases: Vec::new(),
        ending: Some(finished.ending),
        duration: finished.duration,
        stderr: finished.stderr.text(),
        other_output: String::new(),
        skip_all: None,
        properties: Vec::new(),
    };
    match format {
        Format::Tap => {
            if let Some(pattern) = &spec.tap_in {
                let files = junit_in::fresh_files(&base, pattern, started_wall);
                if let Some(case) = read_tap_files(&mut parser, &files, &base, pattern, spec) {
                    result.cases.push(case);
                }
            }
            let report = parser.finish(finished.success());
            result.cases.extend(report.cases);
            result.other_output = match &spec.tap_in {
                Some(_) => finished.stdout.text(),
                None => report.trailing_output,
            };
            result.skip_all = report.skip_all;
        }
        Format::Junit => {
            let pattern = spec.junit_in.as_deref().unwrap_or("*.xml");
            let files = junit_in::fresh_files(&base, pattern, started_wall);
            let input = junit_in::read_files(&files, &base);
            result.cases = input.cases;
            result.properties = input.properties;
            result.other_output = finished.stdout.text() + &input.system_out;
            result.stderr.push_str(&input.system_err);
            if files.is_empty() && !finished.success() {
                let mut case = CaseResult::new(spec.group(), "JUnit reports", Outcome::Errored);
                case.kind = Some("no-results".into());
                case.message = Some(format!(
                    "the command ended with {} and wrote no file matching {pattern}",
                    finished.describe()
                ));
                result.cases.push(case);
            }
            add_exit_status_case(spec, &finished, &mut result.cases);
        }
        Format::ExitCode | Format::Auto => {
            result.cases.push(whole_command_case(spec, &finished));
            return result;
        }
    }
    explain_ending(spec, &finished, &mut result.cases);
    result
}

fn build_command(spec: &SuiteSpec) -> Command {
    let program = spec.command.first().map(String::as_str).unwrap_or("");
    let mut command = Command::new(program)
        .args(spec.command.iter().skip(1))
        .timeout(spec.timeout)
        .grace(spec.grace)
        .stop_descendants();
    for (k, v) in &spec.env {
        command = command.env(k, v);
    }
    if let Some(dir) = &spec.workdir {
        command = command.current_dir(dir);
    }
    command
}

fn spawn_failure(spec: &SuiteSpec, number: u32, duration: Duration, reason: &str) -> AttemptResult {
    let mut case = CaseResult::new(spec.group(), case_name_for_command(spec), Outcome::Errored);
    case.kind = Some("spawn".into());
    case.message = Some(reason.to_string());
    AttemptResult {
        number,
        cases: vec![case],
        ending: None,
        duration,
        stderr: String::new(),
        other_output: String::new(),
        skip_all: None,
        properties: Vec::new(),
    }
}

/// The name of the single testcase of the exit-status format: the command line, which is as
/// stable as the job's configuration.
fn case_name_for_command(spec: &SuiteSpec) -> String {
    let mut name = spec.display_command();
    if name.len() > 200 {
        let mut end = 200;
        while !name.is_char_boundary(end) {
            end -= 1;
        }
        name.truncate(end);
        name.push('…');
    }
    name
}

/// The exit-status format: the whole command is one testcase.
fn whole_command_case(spec: &SuiteSpec, finished: &Finished) -> CaseResult {
    let (outcome, kind) = match finished.ending {
        Ending::Exited(0) => (Outcome::Passed, None),
        Ending::Exited(_) => (Outcome::Failed, Some("exit-status")),
        Ending::Signaled(_) => (Outcome::Errored, Some("signal")),
        Ending::TimedOut => (Outcome::Errored, Some("timeout")),
        Ending::Interrupted(_) => (Outcome::Errored, Some("signal")),
    };
    let mut case = CaseResult::new(spec.group(), case_name_for_command(spec), outcome);
    case.time = Some(finished.duration);
    if outcome != Outcome::Passed {
        case.kind = kind.map(str::to_string);
        case.message = Some(ending_message(spec, finished));
        case.system_out = finished.stdout.text();
        case.system_err = finished.stderr.text();
    }
    case
}

fn ending_message(spec: &SuiteSpec, finished: &Finished) -> String {
    match finished.ending {
        Ending::TimedOut => format!(
            "stopped by --timeout {} (TERM to the process group, KILL after {:.0} s)",
            humantime::format_duration(spec.timeout.unwrap_or_default()),
            spec.grace.as_secs_f64()
        ),
        Ending::Interrupted(_) => format!(
            "run-tests was {}; the command was stopped",
            finished.describe()
        ),
        _ => format!("the command ended with {}", finished.describe()),
    }
}

/// A green-looking report from a command that exited non-zero gets an error case saying so.
fn add_exit_status_case(spec: &SuiteSpec, finished: &Finished, cases: &mut Vec<CaseResult>) {
    if finished.success() || cases.iter().any(|c| c.outcome.is_bad()) {
        return;
    }
    let mut case = CaseResult::new(spec.group(), EXIT_STATUS_CASE, Outcome::Errored);
    case.kind = Some("exit-status".into());
    cases.push(case);
}

/// The case saying the command exited non-zero with green results; prove's test files have
/// such cases of their own, in their own groups, which keep their wording.
fn is_command_exit_case(spec: &SuiteSpec, case: &CaseResult) -> bool {
    case.name == EXIT_STATUS_CASE
        && case.kind.as_deref() == Some("exit-status")
        && case.group == spec.group()
}

/// Replace the generic exit-status case with what really happened (timeout, signal).
fn explain_ending(spec: &SuiteSpec, finished: &Finished, cases: &mut Vec<CaseResult>) {
    let stopped_by_us = matches!(finished.ending, Ending::TimedOut | Ending::Interrupted(_));
    if stopped_by_us {
        cases.retain(|c| !is_command_exit_case(spec, c));
        let (name, kind) = match finished.ending {
            Ending::TimedOut => ("timeout", "timeout"),
            _ => ("interrupted", "signal"),
        };
        let mut case = CaseResult::new(spec.group(), name, Outcome::Errored);
        case.kind = Some(kind.into());
        case.message = Some(ending_message(spec, finished));
        case.time = Some(finished.duration);
        cases.push(case);
        return;
    }
    for case in cases.iter_mut() {
        if is_command_exit_case(spec, case) {
            case.message = Some(format!(
                "the command ended with {} although no test failed",
                finished.describe()
            ));
            case.system_err = finished.stderr.text();
        }
    }
}

/// Reads the TAP files the command wrote (`--tap-in`), each a stream named by its path below
/// the pattern's fixed leading directories (`arch/**/*.t` names `arch/t/a.t` `t/a.t`, as
/// prove named it). Returns an error case when no file matched or one could not be read.
fn read_tap_files(
    parser: &mut TapParser,
    files: &[PathBuf],
    base: &Path,
    pattern: &str,
    spec: &SuiteSpec,
) -> Option<CaseResult> {
    let root = base.join(fixed_prefix(pattern));
    let mut unreadable = Vec::new();
    for file in files {
        let name = below(file, &root)
            .or_else(|| below(file, base))
            .unwrap_or_else(|| file.display().to_string());
        let read =
            File::open(file).and_then(|f| parser.read_file(&name, std::io::BufReader::new(f)));
        if let Err(e) = read {
            unreadable.push(format!("cannot read TAP file {}: {e}", file.display()));
        }
    }
    let message = if files.is_empty() {
        format!("the command wrote no file matching --tap-in {pattern}")
    } else if !unreadable.is_empty() {
        unreadable.join("; ")
    } else {
        return None;
    };
    let mut case = CaseResult::new(spec.group(), "TAP files", Outcome::Errored);
    case.kind = Some("no-results".into());
    case.message = Some(message);
    Some(case)
}

/// `path` relative to `dir`, ignoring `.` components (`./arch` holds `arch/t/a.t`).
fn below(path: &Path, dir: &Path) -> Option<String> {
    let plain = |p: &Path| -> PathBuf {
        p.components()
            .filter(|c| !matches!(c, std::path::Component::CurDir))
            .collect()
    };
    plain(path)
        .strip_prefix(plain(dir))
        .ok()
        .map(|p| p.display().to_string())
}

/// The directories of `pattern` before its first component with a wildcard.
fn fixed_prefix(pattern: &str) -> PathBuf {
    let mut prefix = PathBuf::new();
    let mut parts = pattern.split('/').peekable();
    while let Some(part) = parts.next() {
        if parts.peek().is_none() || part.contains(['*', '?', '[']) {
            break;
        }
        prefix.push(part);
    }
    prefix
}
