//! A streaming parser for TAP 13/14 (the Test Anything Protocol) that turns a command's stdout
//! into [`CaseResult`]s, including the output of `prove` (Perl's TAP harness), which wraps one
//! TAP stream per test file in its own lines.
//!
//! It is streaming because test commands can run for a long time and print a lot: the caller
//! feeds lines as they arrive (for progress counting) and only calls [`TapParser::finish`] when
//! the command has exited. It is lenient because real producers deviate from the specification
//! (missing ` - `, lowercase directives, chatter between test points), and strict only where
//! leniency would hide a problem: a missing plan, missing tests or a bail-out always produce an
//! Errored case, so a crashed test command can never look green.
//!
//! What producers print, and where it goes:
//!
//! - Output after a test point (`# ...` diagnostics, YAML blocks, any other line) belongs to
//!   that test point, as TAP harnesses read it: for a failing test it is the failure body, for
//!   others the case's `system-out`. Output before the first test point goes to the next one.
//!   Lines after a plan printed at the end (`1..N` after the tests) belong to no test and go to
//!   the suite's output. Output is kept as head and tail ([`Capture`]), so a command printing
//!   gigabytes between two test points costs a bounded amount of memory.
//! - TAP 14 subtests (indented by four spaces per level, optionally announced by
//!   `# Subtest: name`) become cases of their own named `parent > child`, each level with its
//!   own plan check. The parent's test point is not a case of its own when its subtests stand
//!   for it (it passed, or it failed and a subtest failed), as node's test runner counts a
//!   `describe` suite; a parent that failed with only passing subtests (a failing hook, say)
//!   stays a failed case.
//! - `prove` (non-interactive, as under this tool: one block per test file): the line
//!   `t/a.t .. ` opens the file's block and each file is a TAP stream of its own, with its own
//!   plan check and the group `t/a_t` (dots become `_`, so that Jenkins, which splits a
//!   classname at its last dot into package and class, shows package `run-tests.SUITE` and
//!   class `t/a_t`). prove's verdicts (`ok`, `skipped: reason`, `Dubious, test returned 1`,
//!   `Failed 1/3 subtests`), its `Bailout called` line and its summary (`Test Summary Report`,
//!   `Files=...`, `Result: FAIL`) are not test points. With `prove -v` every test point is a
//!   case. Without `-v` prove prints no test points, only its verdict per file, so each file
//!   is one case named [`WHOLE_FILE_CASE`], passed, skipped or failed as prove judged it, with
//!   prove's lines for the file (and its entry of the summary report) as the body: the report
//!   never claims tests that were not reported.
//!
//! No regex and no quadratic work: every line is classified with a few `str` prefix checks, and
//! duplicate names are found with a hash set, so 100,000 test points parse in milliseconds.

use std::borrow::Cow;
use std::collections::HashSet;
use std::hash::{BuildHasherDefault, Hasher};
use std::mem;
use std::time::Instant;

use cdkit::process::Capture;

use crate::model::{CaseResult, Outcome};

/// Name of the case added when the command exited non-zero although no test failed; a constant
/// so that the caller of [`TapParser::finish`] can find that case and reword it.
pub const EXIT_STATUS_CASE: &str = "exit status";
/// Name of the one case of a test file whose test points prove did not print (prove without
/// `-v`): the case stands for the file as prove judged it.
pub const WHOLE_FILE_CASE: &str = "whole file";

const BAIL_OUT_CASE: &str = "Bail out!";
const PLAN_CASE: &str = "plan";
const MISSING_TESTS_CASE: &str = "missing tests";
/// Longest `message=` we produce: messages are one-line summaries, details carry the rest.
const MAX_MESSAGE_BYTES: usize = cdkit::text::MESSAGE_MAX;
/// More missing tests than this are reported as one case, so a wrong plan like `1..1000000`
/// cannot flood the report.
const MAX_MISSING_CASES: usize = 1000;
/// TAP 14 indents subtests by exactly four spaces per level.
const SUBTEST_INDENT: usize = 4;
/// Between a subtest's name and its parent's in a case name.
const SUBTEST_SEPARATOR: &str = " > ";
const MISSING_REASON: &str = "(the command crashed, bailed out or was stopped)";
/// Up to this many cases are reserved when the plan comes first, to avoid regrowing the vectors
/// of a large run without trusting an absurd plan.
const MAX_RESERVED_CASES: usize = 1 << 20;

type NameSet = HashSet<String, BuildHasherDefault<NameHasher>>;

/// Parses what one command run printed, line by line: one TAP stream, or prove's blocks of one
/// TAP stream per test file.
///
/// One parser per command run: the numbering, the plan and the attribution of output to tests
/// all depend on everything seen before.
#[derive(Debug)]
pub struct TapParser {
    default_group: String,
    /// The stream lines go to: the command's own, or the prove test file being read.
    stream: Stream,
    /// The command's own stream, kept aside while prove's per-file streams are read.
    outer: Option<Stream>,
    /// Cases of finished streams (prove's test files).
    done: Vec<CaseResult>,
    /// Lines that belong to no test: prove's summary, output after a plan printed last.
    trailing: Lines,
    prove: Prove,
    /// When the last test point was seen, when cases get the time since it as their duration.
    clock: Option<Instant>,
    saw_tap: bool,
    points: usize,
    seen_first_line: bool,
}

/// Where we are in prove's output.
#[derive(Debug)]
enum Prove {
    /// No prove header seen: the output is one TAP stream.
    Off,
    /// Between two test files' blocks (verdict lines, bail-out notice, the summary).
    Between {
        /// `Bailout called. ... REASON`: prove prints it before the block of the file that
        /// bailed out.
        bail_out: Option<String>,
        /// Index in `done` of the whole-file case the summary report lines now describe.
        summary_case: Option<usize>,
    },
    /// Inside the block of one test file.
    File(ProveFile),
}

#[derive(Debug)]
struct ProveFile {
    /// The file as prove names it, e.g. `t/a.t`.
    name: String,
    /// prove's lines for this file (for the whole-file case's body).
    lines: Lines,
    bail_out: Option<String>,
    /// `Dubious, test returned N (wstat ...)`: the file exited non-zero.
    dubious: Option<String>,
}

/// How prove judged a test file.
#[derive(Debug)]
enum Verdict {
    Ok,
    Skipped(String),
    /// `Failed 1/3 subtests`, `No subtests run`, `All 3 subtests passed` (after `Dubious`), or
    /// nothing when the block ended without a verdict.
    Problem(Option<String>),
}

/// The parsed output, produced once the command has exited.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TapReport {
    /// Every test point, plus Errored cases for what went wrong around them (bail-out, missing
    /// tests, plan mismatch, non-zero exit), so that the report alone tells the whole story.
    pub cases: Vec<CaseResult>,
    /// Output lines that belonged to no test (e.g. after a plan printed last), bounded.
    pub trailing_output: String,
    /// `Some(reason)` when a `Bail out!` was seen.
    pub bailed_out: Option<String>,
    /// `Some(reason)` when the plan was `1..0` (optionally with `# SKIP reason`): nothing to run,
    /// on purpose, which must not be confused with a command that printed nothing.
    pub skip_all: Option<String>,
}

/// One TAP stream: the command's own output, or one test file's under prove.
#[derive(Debug)]
struct Stream {
    group: String,
    cases: Vec<CaseResult>,
    /// `levels[0]` is the stream itself; each further level is an open subtest.
    levels: Vec<Level>,
    yaml: YamlState,
    bailed_out: Option<String>,
    skip_all: Option<String>,
    /// A passing top-level test point without a directive was seen: prove prints those only
    /// with `-v`, so the block is a verbose one.
    saw_plain_ok: bool,
    /// Something TAP-like was seen (a plan, a test point, a bail-out).
    saw_tap: bool,
    /// Lines after a bail-out or after a plan printed last: no test's.
    trailing: Lines,
}

/// One level of a stream: the top level or a subtest.
#[derive(Debug, Default)]
struct Level {
    plan: Option<usize>,
    /// Numbers of all test points of this level, for the plan check.
    numbers: Vec<usize>,
    last_number: usize,
    /// Names already given out on this level, so that duplicate names are made unique in O(1).
    names: NameSet,
    /// Index in the stream's cases where this level's cases start.
    first_case: usize,
    /// From `# Subtest: name`, used when the parent's test point never comes.
    name: Option<String>,
    /// The case output lines now belong to: this level's last test point.
    last_case: Option<usize>,
    /// Lines since that test point (or since the level began), not yet attached.
    lines: Lines,
    /// The plan came after test points: what follows belongs to no test.
    plan_last: bool,
}

/// Where we are with respect to a YAML diagnostics block.
#[derive(Debug)]
enum YamlState {
    /// Not after a test point: an indented `---` is ordinary output.
    Idle,
    /// Right after a test point indented by `base` (the case, if it was kept): a `---`
    /// indented further starts its diagnostics.
    MayStart { case: Option<usize>, base: usize },
    /// Inside the diagnostics of a test point, indented by `indent` bytes of whitespace.
    Open {
        case: Option<usize>,
        indent: usize,
        text: Lines,
    },
}

/// Output lines kept as head and tail ([`Capture`]), dropping blank lines at the start and the
/// end (they carry nothing and would only make `system_out` look non-empty) but keeping them
/// in between.
#[derive(Debug, Default)]
struct Lines {
    capture: Capture,
    held_blank_lines: usize,
}

impl Lines {
    fn push(&mut self, line: &str) {
        if line.trim().is_empty() {
            if !self.capture.is_empty() {
                self.held_blank_lines += 1;
            }
            return;
        }
        for _ in 0..self.held_blank_lines {
            self.capture.push_line("");
        }
        self.held_blank_lines = 0;
        self.capture.push_line(line);
    }

    fn take(&mut self) -> String {
        self.held_blank_lines = 0;
        let capture = mem::take(&mut self.capture);
        if capture.is_empty() {
            return String::new();
        }
        let mut text = capture.text();
        if text.ends_with('\n') {
            text.pop();
        }
        text
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum DirectiveKind {
    Skip,
    Todo,
}

#[derive(Debug)]
struct Directive<'a> {
    kind: DirectiveKind,
    reason: Cow<'a, str>,
}

/// One `ok`/`not ok` line, borrowed from the input where no unescaping was needed.
#[derive(Debug)]
struct TestPoint<'a> {
    ok: bool,
    number: Option<usize>,
    description: Cow<'a, str>,
    directive: Option<Directive<'a>>,
}

impl TapParser {
    /// Creates a parser; `group` is put into every CaseResult.group of the command's own stream
    /// (prove's test files get their own groups) so that the results of several TAP sources
    /// stay apart.
    pub fn new(group: impl Into<String>) -> Self {
        let group = group.into();
        TapParser {
            stream: Stream::new(group.clone()),
            default_group: group,
            outer: None,
            done: Vec::new(),
            trailing: Lines::default(),
            prove: Prove::Off,
            clock: None,
            saw_tap: false,
            points: 0,
            seen_first_line: false,
        }
    }

    /// Gives every test point the time since the previous one (or since now, for the first) as
    /// its duration: TAP carries none, and for a stream read while it is printed this is the
    /// best estimate.
    pub fn timed(mut self) -> Self {
        self.clock = Some(Instant::now());
        self
    }

    /// Feeds one line of the command's stdout (without the trailing newline; a trailing '\r'
    /// is stripped so that CRLF output parses the same).
    ///
    /// Returns true when this line was a test point, so the caller can count progress while
    /// the command runs; diagnostics that follow are attached later.
    pub fn push_line(&mut self, line: &str) -> bool {
        let mut line = line.strip_suffix('\r').unwrap_or(line);
        if !self.seen_first_line {
            self.seen_first_line = true;
            line = line.strip_prefix('\u{feff}').unwrap_or(line);
        }
        let point = match mem::replace(&mut self.prove, Prove::Off) {
            Prove::Off => {
                if !self.stream.saw_tap && !self.stream.in_yaml() {
                    if let Some(header) = parse_prove_header(line) {
                        // The command's own stream printed nothing TAP-like: it is prove's
                        // caller (make, a script), and its lines are no test's.
                        let mut outer = mem::replace(&mut self.stream, Stream::new(String::new()));
                        let text = outer.levels[0].lines.take();
                        push_text(&mut self.trailing, &text);
                        self.outer = Some(outer);
                        self.saw_tap = true;
                        self.begin_file(header, None);
                        return false;
                    }
                }
                self.stream.push_line(line, &mut self.clock)
            }
            Prove::Between {
                bail_out,
                summary_case,
            } => self.between_files(line, bail_out, summary_case),
            Prove::File(file) => self.in_file(line, file),
        };
        if point {
            self.points += 1;
        }
        self.saw_tap |= self.stream.saw_tap;
        point
    }

    /// Reads one file of TAP (a test file's output saved by `prove --archive`, say) as a
    /// stream of its own, named `name`; its cases are added to the report.
    pub fn read_file(&mut self, name: &str, text: impl std::io::BufRead) -> std::io::Result<()> {
        let mut stream = Stream::new(file_group(name));
        let mut clock = None;
        for line in text.split(b'\n') {
            let line = line?;
            let line = String::from_utf8_lossy(&line);
            let line = line.strip_suffix('\r').unwrap_or(&line);
            self.points += usize::from(stream.push_line(line, &mut clock));
        }
        self.saw_tap |= stream.saw_tap;
        let finished = stream.finish(None);
        push_text(&mut self.trailing, &finished.trailing_output);
        self.done.extend(finished.cases);
        Ok(())
    }

    /// Whether anything TAP-like was seen so far (a `TAP version` line, a plan, a test point,
    /// `Bail out!` or a prove header), so the caller can tell a TAP producer from a command
    /// that prints something else.
    pub fn saw_tap(&self) -> bool {
        self.saw_tap
    }

    /// Number of test points seen so far (at any subtest level), for progress reporting.
    pub fn count(&self) -> usize {
        self.points
    }

    /// The current stream's plan if one was seen, so progress can be shown as "n of N".
    pub fn planned(&self) -> Option<usize> {
        self.stream.levels[0].plan
    }

    /// Ends the output and checks each stream against its plan and the exit status.
    ///
    /// `exit_ok` is whether the command exited with status 0: a non-zero exit with only passing
    /// tests means something went wrong that TAP did not report, which must not look green.
    pub fn finish(mut self, exit_ok: bool) -> TapReport {
        if let Prove::File(file) = mem::replace(&mut self.prove, Prove::Off) {
            self.end_file(file, Verdict::Problem(None));
        }
        let outer = self.outer.take().unwrap_or(self.stream);
        let mut report = outer.finish(None);
        let mut cases = mem::take(&mut self.done);
        cases.append(&mut report.cases);
        let mut trailing = report.trailing_output;
        let rest = self.trailing.take();
        if !rest.is_empty() {
            if !trailing.is_empty() {
                trailing.push('\n');
            }
            trailing.push_str(&rest);
        }
        if !exit_ok && !cases.iter().any(|case| case.outcome.is_bad()) {
            let mut case = CaseResult::new(
                self.default_group.clone(),
                EXIT_STATUS_CASE,
                Outcome::Errored,
            );
            case.kind = Some("exit-status".to_string());
            case.message =
                Some("the command exited non-zero although every test passed".to_string());
            cases.push(case);
        }
        TapReport {
            cases,
            trailing_output: trailing,
            bailed_out: report.bailed_out,
            skip_all: report.skip_all,
        }
    }

    /// Starts the block of prove test file `header`; a header that carries the verdict
    /// (`t/a.t .. ok`, `t/a.t .. skipped: reason`) is the whole block.
    fn begin_file(&mut self, header: ProveHeader<'_>, bail_out: Option<String>) {
        self.stream = Stream::new(file_group(header.name));
        let mut file = ProveFile {
            name: header.name.to_string(),
            lines: Lines::default(),
            bail_out,
            dubious: None,
        };
        file.lines.push(header.line);
        match header.verdict {
            Some(verdict) => self.end_file(file, verdict),
            None => self.prove = Prove::File(file),
        }
    }

    /// A line inside a test file's block: a verdict ends it, anything else is the file's TAP.
    fn in_file(&mut self, line: &str, mut file: ProveFile) -> bool {
        if !self.stream.in_yaml() {
            if let Some(verdict) = self.verdict_line(line, &mut file) {
                file.lines.push(line);
                match verdict {
                    Some(verdict) => self.end_file(file, verdict),
                    None => self.prove = Prove::File(file),
                }
                return false;
            }
            if let Some(header) = parse_prove_header(line) {
                let bail_out = file.bail_out.take();
                self.end_file(file, Verdict::Problem(None));
                self.prove = Prove::Off;
                self.begin_file(header, bail_out);
                return false;
            }
            if is_prove_summary(line) {
                self.end_file(file, Verdict::Problem(None));
                let Prove::Between {
                    bail_out,
                    summary_case,
                } = mem::replace(&mut self.prove, Prove::Off)
                else {
                    return false;
                };
                return self.between_files(line, bail_out, summary_case);
            }
        }
        file.lines.push(line);
        let point = self.stream.push_line(line, &mut self.clock);
        self.prove = Prove::File(file);
        point
    }

    /// prove's verdict lines inside a block: `Some(Some(verdict))` ends the block,
    /// `Some(None)` is a verdict line that does not (`Dubious, ...`), `None` is no verdict.
    fn verdict_line(&self, line: &str, file: &mut ProveFile) -> Option<Option<Verdict>> {
        if line.starts_with("Dubious, test returned") {
            file.dubious = Some(line.trim().to_string());
            return Some(None);
        }
        let trimmed = line.trim_end();
        let failed = trimmed
            .strip_prefix("Failed ")
            .is_some_and(|rest| rest.ends_with(" subtests") && rest.contains('/'));
        let all_passed = trimmed.starts_with("All ") && trimmed.ends_with(" subtests passed");
        if failed || all_passed || trimmed == "No subtests run" {
            return Some(Some(Verdict::Problem(Some(trimmed.to_string()))));
        }
        // prove's `ok` verdict of a verbose block, which may carry `--timer`'s time. A lone
        // `ok` is also a valid unnumbered test point: it is the verdict only once the plan is
        // fulfilled, as prove prints `ok` only then.
        let top = &self.stream.levels[0];
        let fulfilled =
            top.plan.is_some_and(|plan| top.numbers.len() >= plan) && self.stream.levels.len() == 1;
        if fulfilled && strip_keyword(line, "ok").is_some_and(is_prove_time) {
            return Some(Some(Verdict::Ok));
        }
        None
    }

    /// A line between prove's blocks: the next header, the bail-out notice, the summary.
    /// prove prints no TAP between its blocks: a plan or a test point there means the
    /// "header" was some other tool's line, and the command's own TAP stream goes on.
    fn between_files(
        &mut self,
        line: &str,
        mut bail_out: Option<String>,
        mut summary_case: Option<usize>,
    ) -> bool {
        if let Some(header) = parse_prove_header(line) {
            self.begin_file(header, bail_out);
            return false;
        }
        let tap = parse_plan(line).is_some() || parse_test_point(line).is_some();
        if tap || is_version_line(line) {
            if let Some(outer) = self.outer.take() {
                self.stream = outer;
            }
            self.prove = Prove::Off;
            return self.stream.push_line(line, &mut self.clock);
        }
        self.trailing.push(line);
        if let Some(reason) = line.strip_prefix("Bailout called.  Further testing stopped:") {
            bail_out = Some(reason.trim().to_string());
        } else if let Some(name) = line.split_once(" (Wstat: ").map(|(name, _)| name) {
            let group = file_group(name);
            summary_case = self
                .done
                .iter()
                .rposition(|c| c.group == group && c.name == WHOLE_FILE_CASE);
            self.append_summary(summary_case, line);
        } else if line.starts_with("  ") {
            self.append_summary(summary_case, line.trim());
        } else {
            summary_case = None;
        }
        self.prove = Prove::Between {
            bail_out,
            summary_case,
        };
        false
    }

    /// The summary report's lines about a file go into the body of its whole-file case.
    fn append_summary(&mut self, case: Option<usize>, line: &str) {
        if let Some(case) = case.and_then(|i| self.done.get_mut(i)) {
            let text = if case.outcome.is_bad() {
                &mut case.details
            } else {
                &mut case.system_out
            };
            if !text.is_empty() {
                text.push('\n');
            }
            text.push_str(line);
        }
    }

    /// Ends a test file's block: a verbose one (plan or passing test points printed) is a TAP
    /// stream checked like any other; otherwise the file is one case with prove's verdict.
    fn end_file(&mut self, mut file: ProveFile, verdict: Verdict) {
        let mut stream = mem::replace(&mut self.stream, Stream::new(String::new()));
        self.prove = Prove::Between {
            bail_out: None,
            summary_case: None,
        };
        let verbose = stream.levels[0].plan.is_some() || stream.saw_plain_ok;
        if verbose && !matches!(verdict, Verdict::Skipped(_)) {
            if let Some(reason) = &file.bail_out {
                stream.record_bail_out(reason);
            }
            let exit_problem = file.dubious.as_ref().map(|d| format!("prove: {d}"));
            let finished = stream.finish(exit_problem);
            push_text(&mut self.trailing, &finished.trailing_output);
            self.done.extend(finished.cases);
            return;
        }
        let body = file.lines.take();
        let mut case = CaseResult::new(stream.group.clone(), WHOLE_FILE_CASE, Outcome::Passed);
        match (verdict, file.bail_out) {
            (_, Some(reason)) => {
                case.outcome = Outcome::Errored;
                case.kind = Some("bail-out".to_string());
                case.message = Some(first_line_capped(&format!("Bail out! {reason}")));
                case.details = body;
            }
            (Verdict::Ok, None) => {
                case.system_out = format!(
                    "prove reported {} as ok without printing its test points \
                     (prove -v gives one case per test point)\n{body}",
                    file.name
                );
            }
            (Verdict::Skipped(reason), None) => {
                case.outcome = Outcome::Skipped;
                case.message = Some(first_line_capped(non_empty_or(&reason, "skipped")));
                case.system_out = body;
            }
            (Verdict::Problem(problem), None) => {
                let all_passed = problem.as_deref().is_some_and(|p| p.starts_with("All "));
                let (outcome, kind) = if all_passed {
                    (Outcome::Errored, "exit-status")
                } else {
                    (Outcome::Failed, "prove")
                };
                case.outcome = outcome;
                case.kind = Some(kind.to_string());
                let parts: Vec<&str> = [problem.as_deref(), file.dubious.as_deref()]
                    .into_iter()
                    .flatten()
                    .collect();
                case.message = Some(if parts.is_empty() {
                    format!("prove printed no verdict for {}", file.name)
                } else {
                    first_line_capped(&parts.join("; "))
                });
                case.details = body;
            }
        }
        self.done.push(case);
    }
}

impl Stream {
    fn new(group: String) -> Stream {
        Stream {
            group,
            cases: Vec::new(),
            levels: vec![Level::default()],
            yaml: YamlState::Idle,
            bailed_out: None,
            skip_all: None,
            saw_plain_ok: false,
            saw_tap: false,
            trailing: Lines::default(),
        }
    }

    fn in_yaml(&self) -> bool {
        matches!(self.yaml, YamlState::Open { .. })
    }

    fn push_line(&mut self, line: &str, clock: &mut Option<Instant>) -> bool {
        if self.consume_yaml_line(line) {
            return false;
        }
        if self.bailed_out.is_some() {
            // TAP says nothing counts after a bail-out; keep it as output for the reader.
            self.trailing.push(line);
            return false;
        }
        let indent = leading_space_len(line);
        let content = &line[indent..];
        let depth = self.levels.len() - 1;
        let tap_depth = indent
            .is_multiple_of(SUBTEST_INDENT)
            .then_some(indent / SUBTEST_INDENT);
        if let Some(d) = tap_depth.filter(|&d| d <= depth + 1) {
            if let Some(name) = subtest_header(content) {
                self.close_levels_above(d, None);
                self.open_level(Some(name.to_string()));
                return false;
            }
            if let Some(point) = parse_test_point(content) {
                self.open_levels_to(d);
                self.record_test_point(point, d, clock);
                return true;
            }
            if let Some((count, comment)) = parse_plan(content) {
                self.open_levels_to(d);
                self.close_levels_above(d, None);
                if self.levels[d].plan.is_none() {
                    self.record_plan(d, count, comment);
                    return false;
                }
            } else if d == 0 && is_version_line(content) {
                self.saw_tap = true;
                return false;
            } else if d > depth && is_version_line(content) {
                self.open_levels_to(d);
                return false;
            }
        }
        if let Some(reason) = parse_bail_out(content) {
            self.record_bail_out(reason);
            return false;
        }
        // Any other line belongs to the innermost open level, dedented to it.
        let level = self.levels.len() - 1;
        let cut = indent.min(level * SUBTEST_INDENT);
        let level_lines = &mut self.levels[level];
        if level == 0 && level_lines.plan_last {
            self.trailing.push(line);
        } else {
            level_lines.lines.push(&line[cut..]);
        }
        false
    }

    /// Opens subtest levels until `depth` exists (an indented test point or plan without a
    /// `# Subtest` line before it).
    fn open_levels_to(&mut self, depth: usize) {
        while self.levels.len() <= depth {
            self.open_level(None);
        }
    }

    fn open_level(&mut self, name: Option<String>) {
        self.levels.push(Level {
            first_case: self.cases.len(),
            name,
            ..Level::default()
        });
    }

    /// Closes the subtest levels deeper than `depth`. The level right below `depth` gets
    /// `parent` (the unique name of the test point that closes it) as its prefix; levels whose
    /// parent never came are prefixed with their `# Subtest` name. Returns the number of cases
    /// the closed levels produced and whether any is bad.
    fn close_levels_above(&mut self, depth: usize, parent: Option<&str>) -> (usize, bool) {
        let mut produced = (0, false);
        while self.levels.len() > depth + 1 {
            self.close_yaml();
            let closing = self.levels.len() - 1;
            self.flush_level(closing);
            self.check_level_plan(closing);
            let Some(level) = self.levels.pop() else {
                break;
            };
            let prefix = match parent {
                Some(parent) if closing == depth + 1 => Some(parent.to_string()),
                _ => level.name.clone(),
            };
            let start = level.first_case.min(self.cases.len());
            let parent_level = self.levels.len() - 1;
            for index in start..self.cases.len() {
                let base = match &prefix {
                    Some(prefix) => {
                        format!("{prefix}{SUBTEST_SEPARATOR}{}", self.cases[index].name)
                    }
                    None => mem::take(&mut self.cases[index].name),
                };
                self.cases[index].name = unique_name(&mut self.levels[parent_level].names, base, 2);
            }
            if closing == depth + 1 {
                produced = (
                    self.cases.len() - start,
                    self.cases[start..].iter().any(|c| c.outcome.is_bad()),
                );
            }
            // Lines after the subtest's last case now belong to the parent level.
            let parent_lines = &mut self.levels[parent_level];
            if parent_lines.last_case.is_some_and(|case| case < start) {
                parent_lines.last_case = None;
            }
        }
        produced
    }

    /// Handles a line while a YAML block is possible or open. Returns true if the line was
    /// consumed by the block; false if it must be parsed as an ordinary line.
    fn consume_yaml_line(&mut self, line: &str) -> bool {
        match &mut self.yaml {
            YamlState::Idle => false,
            YamlState::MayStart { case, base } => {
                let (case, base) = (*case, *base);
                if line.trim().is_empty() {
                    return true;
                }
                let indent = leading_whitespace_len(line);
                if indent > base && line.trim() == "---" {
                    self.yaml = YamlState::Open {
                        case,
                        indent,
                        text: Lines::default(),
                    };
                    return true;
                }
                self.yaml = YamlState::Idle;
                false
            }
            YamlState::Open { indent, text, .. } => {
                let line_indent = leading_whitespace_len(line);
                let blank = line.trim().is_empty();
                if !blank && line.trim() == "..." && line_indent <= *indent {
                    self.close_yaml();
                    return true;
                }
                if !blank && line_indent < *indent {
                    // The producer forgot the `...`: the block ended where its indentation did.
                    self.close_yaml();
                    return false;
                }
                text.push(&line[line_indent.min(*indent)..]);
                true
            }
        }
    }

    /// Attaches the YAML block read so far to its test point.
    fn close_yaml(&mut self) {
        let YamlState::Open { case, mut text, .. } = mem::replace(&mut self.yaml, YamlState::Idle)
        else {
            return;
        };
        let Some(case) = case.and_then(|case| self.cases.get_mut(case)) else {
            return;
        };
        let text = text.take();
        if case.outcome == Outcome::Failed {
            if let Some(message) = yaml_message(&text) {
                case.message = Some(message);
            }
        }
        append_line(&mut case.details, &text);
    }

    /// Attaches the lines collected on `level` to its last test point.
    fn flush_level(&mut self, level: usize) {
        let Some(case) = self.levels[level].last_case else {
            return;
        };
        let text = self.levels[level].lines.take();
        if text.is_empty() {
            return;
        }
        if let Some(case) = self.cases.get_mut(case) {
            // A failing test's diagnostics are its failure body; other output is output.
            if case.outcome.is_bad() {
                append_line(&mut case.details, &text);
            } else {
                append_line(&mut case.system_out, &text);
            }
        }
    }

    fn record_plan(&mut self, depth: usize, count: usize, comment: Option<&str>) {
        self.saw_tap = true;
        if depth == 0 && !self.levels[0].numbers.is_empty() {
            // A plan after the tests ends the stream: what follows is no test's output.
            self.close_yaml();
            self.flush_level(0);
            self.levels[0].last_case = None;
            self.levels[0].plan_last = true;
        }
        let level = &mut self.levels[depth];
        level.plan = Some(count);
        if depth == 0 && self.cases.is_empty() {
            let expected = count.min(MAX_RESERVED_CASES);
            self.cases.reserve(expected);
            level.names.reserve(expected);
            level.numbers.reserve(expected);
        }
        if depth == 0 && count == 0 {
            self.skip_all = Some(comment.map(skip_all_reason).unwrap_or_default());
        }
    }

    fn record_bail_out(&mut self, reason: &str) {
        self.saw_tap = true;
        self.close_yaml();
        self.close_levels_above(0, None);
        self.flush_level(0);
        let mut case = self.synthesized_case(BAIL_OUT_CASE, Outcome::Errored);
        case.kind = Some("bail-out".to_string());
        case.message = Some(first_line_capped(&if reason.is_empty() {
            "Bail out!".to_string()
        } else {
            format!("Bail out! {reason}")
        }));
        if self.levels[0].last_case.is_none() {
            case.system_out = self.levels[0].lines.take();
        }
        self.cases.push(case);
        self.levels[0].last_case = None;
        self.bailed_out = Some(reason.to_string());
    }

    fn record_test_point(
        &mut self,
        point: TestPoint<'_>,
        depth: usize,
        clock: &mut Option<Instant>,
    ) {
        self.saw_tap = true;
        self.close_yaml();
        let level = &mut self.levels[depth];
        // Saturating: after the highest number a point can carry, an unnumbered point takes the
        // same number (a duplicate the plan check reports) instead of overflowing.
        let number = point
            .number
            .unwrap_or_else(|| level.last_number.saturating_add(1));
        level.last_number = number;
        level.numbers.push(number);

        let description = point.description.trim();
        let base_name = if description.is_empty() {
            format!("test {number}")
        } else {
            description.to_string()
        };
        let name = unique_name(&mut level.names, base_name, number);
        let (children, bad_child) = self.close_levels_above(depth, Some(&name));
        self.flush_level(depth);
        let mut case = CaseResult::new(self.group.clone(), name, Outcome::Passed);
        if let Some(clock) = clock {
            let now = Instant::now();
            case.time = Some(now - *clock);
            *clock = now;
        }
        if self.levels[depth].last_case.is_none() {
            case.system_out = self.levels[depth].lines.take();
        }
        let directive = point.directive.map(|d| (d.kind, d.reason));
        let has_directive = directive.is_some();
        match (point.ok, directive) {
            (_, Some((DirectiveKind::Skip, reason))) => {
                case.outcome = Outcome::Skipped;
                case.message = Some(first_line_capped(non_empty_or(&reason, "skipped")));
            }
            (false, Some((DirectiveKind::Todo, reason))) => {
                case.outcome = Outcome::Skipped;
                case.message = Some(first_line_capped(&prefixed("TODO", &reason)));
            }
            (true, Some((DirectiveKind::Todo, reason))) => {
                let note = prefixed("TODO test passed unexpectedly", &reason);
                append_line(&mut case.system_out, &note);
            }
            (true, None) => {
                if depth == 0 {
                    self.saw_plain_ok = true;
                }
            }
            (false, None) => {
                case.outcome = Outcome::Failed;
                case.kind = Some("tap".to_string());
                case.message = Some(if description.is_empty() {
                    format!("not ok {number}")
                } else {
                    first_line_capped(description)
                });
            }
        }
        // A parent whose subtests tell its story is not a case of its own.
        let stands_for_children =
            children > 0 && !has_directive && (case.outcome == Outcome::Passed || bad_child);
        let kept = if stands_for_children {
            None
        } else {
            self.cases.push(case);
            Some(self.cases.len() - 1)
        };
        self.levels[depth].last_case = kept;
        self.yaml = YamlState::MayStart {
            case: kept,
            base: depth * SUBTEST_INDENT,
        };
    }

    /// Ends the stream: closes what is open and checks the plan. `exit_problem` is why the
    /// stream's producer is known to have failed (prove's `Dubious`), which must not look
    /// green if no test failed.
    fn finish(mut self, exit_problem: Option<String>) -> TapReport {
        self.close_yaml();
        self.close_levels_above(0, None);
        if self.levels[0].last_case.is_some() {
            self.flush_level(0);
        } else {
            let text = self.levels[0].lines.take();
            let rest = self.trailing.take();
            self.trailing = Lines::default();
            push_text(&mut self.trailing, &text);
            push_text(&mut self.trailing, &rest);
        }
        match self.levels[0].plan {
            Some(_) => self.check_level_plan(0),
            None if !self.levels[0].numbers.is_empty() && self.bailed_out.is_none() => {
                self.push_plan_case(
                    0,
                    "no TAP plan (1..N) was printed: the stream may be incomplete".to_string(),
                );
            }
            None => {}
        }
        if let Some(problem) = exit_problem {
            if !self.cases.iter().any(|case| case.outcome.is_bad()) {
                let mut case = self.synthesized_case(EXIT_STATUS_CASE, Outcome::Errored);
                case.kind = Some("exit-status".to_string());
                case.message = Some(first_line_capped(&problem));
                self.cases.push(case);
            }
        }
        TapReport {
            cases: self.cases,
            trailing_output: self.trailing.take(),
            bailed_out: self.bailed_out,
            skip_all: self.skip_all,
        }
    }

    /// Compares the test numbers seen on `level` with its plan `1..planned`.
    fn check_level_plan(&mut self, level: usize) {
        let Some(planned) = self.levels[level].plan else {
            return;
        };
        let numbers = mem::take(&mut self.levels[level].numbers);
        let mut in_plan: Vec<usize> = numbers
            .iter()
            .copied()
            .filter(|&n| (1..=planned).contains(&n))
            .collect();
        in_plan.sort_unstable();
        in_plan.dedup();
        let gaps = missing_ranges(&in_plan, planned);
        let missing: usize = gaps.iter().map(|&(first, last)| last - first + 1).sum();
        if missing > MAX_MISSING_CASES {
            self.push_missing_summary(level, &gaps, missing);
        } else {
            for &(first, last) in &gaps {
                for number in first..=last {
                    self.push_missing_case(level, number);
                }
            }
        }
        let highest = numbers.iter().copied().max().unwrap_or(0);
        if numbers.len() > planned || highest > planned {
            self.push_plan_case(
                level,
                format!(
                    "the plan was 1..{planned} but {} test points were seen (highest number {highest})",
                    numbers.len()
                ),
            );
        }
    }

    fn push_missing_case(&mut self, level: usize, number: usize) {
        let name = unique_name(
            &mut self.levels[level].names,
            format!("test {number}"),
            number,
        );
        let mut case = CaseResult::new(self.group.clone(), name, Outcome::Errored);
        case.kind = Some("missing".to_string());
        case.message = Some(format!(
            "test {number} was planned but never ran {MISSING_REASON}"
        ));
        self.cases.push(case);
    }

    fn push_missing_summary(&mut self, level: usize, gaps: &[(usize, usize)], missing: usize) {
        let (Some(&(first, _)), Some(&(_, last))) = (gaps.first(), gaps.last()) else {
            return;
        };
        let which = if gaps.len() == 1 {
            format!("tests {first}..{last}")
        } else {
            format!("tests between {first} and {last}")
        };
        let name = unique_name(
            &mut self.levels[level].names,
            MISSING_TESTS_CASE.to_string(),
            2,
        );
        let mut case = CaseResult::new(self.group.clone(), name, Outcome::Errored);
        case.kind = Some("missing".to_string());
        case.message = Some(format!(
            "{missing} planned tests never ran ({which}) {MISSING_REASON}"
        ));
        self.cases.push(case);
    }

    fn push_plan_case(&mut self, level: usize, message: String) {
        let name = unique_name(&mut self.levels[level].names, PLAN_CASE.to_string(), 2);
        let mut case = CaseResult::new(self.group.clone(), name, Outcome::Errored);
        case.kind = Some("plan".to_string());
        case.message = Some(message);
        self.cases.push(case);
    }

    /// A top-level case that stands for something other than a test point.
    fn synthesized_case(&mut self, name: &str, outcome: Outcome) -> CaseResult {
        let name = unique_name(&mut self.levels[0].names, name.to_string(), 2);
        CaseResult::new(self.group.clone(), name, outcome)
    }
}

/// Makes `base` unique in `names` by appending ` (#n)`, so that every case keeps a stable
/// identity across retries even when a producer reuses descriptions.
fn unique_name(names: &mut NameSet, base: String, mut n: usize) -> String {
    if names.insert(base.clone()) {
        return base;
    }
    loop {
        let candidate = format!("{base} (#{n})");
        if names.insert(candidate.clone()) {
            return candidate;
        }
        // Wrapping, not saturating: from usize::MAX a saturating counter would offer the same
        // taken name forever. The set is finite, so some suffix is free.
        n = n.wrapping_add(1);
    }
}

/// Appends `text` to `to` on a line of its own.
fn append_line(to: &mut String, text: &str) {
    if text.is_empty() {
        return;
    }
    if !to.is_empty() {
        to.push('\n');
    }
    to.push_str(text);
}

/// Pushes every line of `text` into `lines`.
fn push_text(lines: &mut Lines, text: &str) {
    if !text.is_empty() {
        for line in text.split('\n') {
            lines.push(line);
        }
    }
}

/// The group of a test file: its path without a leading `./`, with dots as `_`, because
/// Jenkins splits a classname at its last dot into package and class: `t/a.t` becomes class
/// `t/a_t` in package `run-tests.SUITE` instead of class `t` in package `run-tests.SUITE.t/a`.
pub fn file_group(name: &str) -> String {
    let mut name = name.trim();
    while let Some(rest) = name.strip_prefix("./") {
        name = rest;
    }
    name.replace('.', "_")
}

/// prove's header line of a test file's block.
#[derive(Debug)]
struct ProveHeader<'a> {
    line: &'a str,
    name: &'a str,
    /// The verdict, when prove printed it on the header line (without `-v`).
    verdict: Option<Verdict>,
}

/// `NAME ..... ` (prove's header of a test file, padded with dots; `--timer` puts
/// `[hh:mm:ss] ` before it), optionally followed by the verdict `ok` or `skipped: reason`.
fn parse_prove_header(line: &str) -> Option<ProveHeader<'_>> {
    let text = strip_prove_timestamp(line);
    if text.is_empty() || starts_with_whitespace(text) || text.starts_with('#') {
        return None;
    }
    for (at, _) in text.match_indices(" ..") {
        let after = text[at + 1..].trim_start_matches('.');
        let rest = match after.strip_prefix(' ') {
            Some(rest) => rest.trim(),
            None if after.is_empty() => "",
            None => continue,
        };
        let name = text[..at].trim_end();
        if name.is_empty() || name.contains(" ..") {
            return None;
        }
        let verdict = if rest.is_empty() {
            None
        } else if strip_keyword(rest, "ok").is_some_and(is_prove_time) {
            Some(Verdict::Ok)
        } else if let Some(reason) = rest.strip_prefix("skipped") {
            Some(Verdict::Skipped(
                reason.trim_start_matches(':').trim().to_string(),
            ))
        } else {
            return None;
        };
        return Some(ProveHeader {
            line,
            name,
            verdict,
        });
    }
    None
}

/// `[hh:mm:ss] ` from `--timer`, if the line starts with it.
fn strip_prove_timestamp(line: &str) -> &str {
    let bytes = line.as_bytes();
    let stamped = bytes.len() > 11
        && bytes[0] == b'['
        && bytes[9] == b']'
        && bytes[10] == b' '
        && bytes[1..9].iter().all(|b| b.is_ascii_digit() || *b == b':');
    if stamped {
        &line[11..]
    } else {
        line
    }
}

/// What may follow prove's `ok` verdict: nothing, or `--timer`'s `  12 ms ( ... CPU)`.
fn is_prove_time(rest: &str) -> bool {
    if rest.is_empty() {
        return true;
    }
    let (digits, after) = split_digits(rest);
    !digits.is_empty() && after.starts_with(" ms")
}

/// The lines that start prove's summary after the last block.
fn is_prove_summary(line: &str) -> bool {
    line == "All tests successful."
        || line == "Test Summary Report"
        || line.starts_with("Files=")
        || line.starts_with("Result: ")
}

/// `# Subtest: name` (TAP 14; node and Test::More print it), or `# Subtest` alone.
fn subtest_header(content: &str) -> Option<&str> {
    let rest = content.strip_prefix("# Subtest")?;
    if rest.is_empty() {
        return Some("");
    }
    rest.strip_prefix(':').map(str::trim)
}

/// A fast multiply-rotate hasher (the Fx hash of rustc) for the name set: SipHash's protection
/// against crafted collisions buys nothing for a test's own output and was the largest single
/// cost of parsing a long stream.
#[derive(Debug, Default, Clone, Copy)]
struct NameHasher {
    hash: u64,
}

impl NameHasher {
    fn add(&mut self, word: u64) {
        self.hash = (self.hash.rotate_left(5) ^ word).wrapping_mul(0x517c_c1b7_2722_0a95);
    }
}

impl Hasher for NameHasher {
    fn write(&mut self, bytes: &[u8]) {
        let mut chunks = bytes.chunks_exact(8);
        for chunk in &mut chunks {
            let mut word = [0u8; 8];
            word.copy_from_slice(chunk);
            self.add(u64::from_le_bytes(word));
        }
        let rest = chunks.remainder();
        if !rest.is_empty() {
            let mut word = [0u8; 8];
            word[..rest.len()].copy_from_slice(rest);
            self.add(u64::from_le_bytes(word));
        }
    }

    fn write_u8(&mut self, byte: u8) {
        self.add(u64::from(byte));
    }

    fn finish(&self) -> u64 {
        self.hash
    }
}

/// The ranges `(first, last)` of numbers in `1..=planned` absent from `seen`, which must be
/// sorted, deduplicated and within the plan. Ranges rather than numbers, so that an absurd plan
/// does not allocate one entry per missing test.
fn missing_ranges(seen: &[usize], planned: usize) -> Vec<(usize, usize)> {
    let mut gaps = Vec::new();
    let mut expected = 1;
    for &number in seen {
        if number > expected {
            gaps.push((expected, number - 1));
        }
        match number.checked_add(1) {
            Some(next) => expected = next,
            // The highest number there is: no planned number comes after it.
            None => return gaps,
        }
    }
    if expected <= planned {
        gaps.push((expected, planned));
    }
    gaps
}

fn starts_with_whitespace(line: &str) -> bool {
    line.starts_with([' ', '\t'])
}

fn leading_whitespace_len(line: &str) -> usize {
    line.len() - line.trim_start_matches([' ', '\t']).len()
}

/// Leading spaces only: TAP 14 indents subtests with spaces, never tabs.
fn leading_space_len(line: &str) -> usize {
    line.len() - line.trim_start_matches(' ').len()
}

fn is_version_line(line: &str) -> bool {
    line.strip_prefix("TAP version")
        .is_some_and(|rest| rest.trim().bytes().all(|b| b.is_ascii_digit()))
}

/// `word` at the start of `line` as a whole word; returns what follows it, trimmed at the start.
fn strip_keyword<'a>(line: &'a str, word: &str) -> Option<&'a str> {
    let rest = line.strip_prefix(word)?;
    if rest.is_empty() || starts_with_whitespace(rest) {
        Some(rest.trim_start())
    } else {
        None
    }
}

fn starts_with_ignore_case(text: &str, prefix: &str) -> bool {
    text.len() >= prefix.len()
        && text.as_bytes()[..prefix.len()].eq_ignore_ascii_case(prefix.as_bytes())
}

/// Splits leading ASCII digits off `text`.
fn split_digits(text: &str) -> (&str, &str) {
    let end = text
        .bytes()
        .position(|b| !b.is_ascii_digit())
        .unwrap_or(text.len());
    text.split_at(end)
}

/// `1..N`, optionally followed by `# comment`; returns N and the comment.
fn parse_plan(line: &str) -> Option<(usize, Option<&str>)> {
    let (digits, rest) = split_digits(line.strip_prefix("1..")?);
    let count = digits.parse::<usize>().ok()?;
    let rest = rest.trim();
    if rest.is_empty() {
        return Some((count, None));
    }
    let comment = rest.strip_prefix('#')?;
    Some((count, Some(comment.trim())))
}

/// The reason of `1..0 # SKIP reason`, without the `SKIP` word; a comment without it is taken
/// as the reason whole.
fn skip_all_reason(comment: &str) -> String {
    if starts_with_ignore_case(comment, "skip") {
        let after_word = comment.trim_start_matches(|c: char| c.is_ascii_alphabetic());
        return after_word
            .trim_start()
            .trim_start_matches(':')
            .trim()
            .to_string();
    }
    comment.to_string()
}

/// `Bail out!` (case-insensitively) at the start of the line; returns the trimmed reason.
fn parse_bail_out(line: &str) -> Option<&str> {
    const BAIL_OUT: &str = "bail out!";
    if starts_with_ignore_case(line, BAIL_OUT) {
        line.get(BAIL_OUT.len()..).map(str::trim)
    } else {
        None
    }
}

fn parse_test_point(line: &str) -> Option<TestPoint<'_>> {
    let (ok, rest) = match strip_keyword(line, "ok") {
        Some(rest) => (true, rest),
        None => (false, strip_keyword(strip_keyword(line, "not")?, "ok")?),
    };
    let (number, rest) = split_test_number(rest);
    let rest = strip_description_dash(rest);
    let (description, directive) = split_directive(rest);
    Some(TestPoint {
        ok,
        number,
        description: unescape(description.trim()),
        directive,
    })
}

/// The test number, if the text starts with one that is a whole word.
fn split_test_number(text: &str) -> (Option<usize>, &str) {
    let (digits, rest) = split_digits(text);
    let whole_word = rest.is_empty() || starts_with_whitespace(rest) || rest.starts_with('#');
    match digits.parse::<usize>() {
        Ok(number) if whole_word => (Some(number), rest.trim_start()),
        _ => (None, text),
    }
}

/// Removes the conventional `- ` between the number and the description.
fn strip_description_dash(text: &str) -> &str {
    match text.strip_prefix('-') {
        Some(rest) if rest.is_empty() || starts_with_whitespace(rest) => rest.trim_start(),
        _ => text,
    }
}

/// Splits at the first unescaped `#` that starts a SKIP or TODO directive. Other `#`s stay in
/// the description (`fixes issue #12`), as most TAP harnesses do.
fn split_directive(text: &str) -> (&str, Option<Directive<'_>>) {
    let bytes = text.as_bytes();
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'\\' => i += 2,
            b'#' => {
                if let Some(directive) = parse_directive(&text[i + 1..]) {
                    return (&text[..i], Some(directive));
                }
                i += 1;
            }
            _ => i += 1,
        }
    }
    (text, None)
}

/// `SKIP reason` / `TODO reason` after a `#`, case-insensitively; any word starting with
/// "skip" (`Skipped`, `SKIPPING`) counts, and a `:` after the word is allowed.
fn parse_directive(text: &str) -> Option<Directive<'_>> {
    let text = text.trim_start();
    let (kind, word_len) = if starts_with_ignore_case(text, "skip") {
        let letters = text
            .bytes()
            .position(|b| !b.is_ascii_alphabetic())
            .unwrap_or(text.len());
        (DirectiveKind::Skip, letters)
    } else if starts_with_ignore_case(text, "todo") {
        (DirectiveKind::Todo, "todo".len())
    } else {
        return None;
    };
    let rest = &text[word_len..];
    if rest.starts_with(|c: char| c.is_alphanumeric() || c == '_') {
        return None;
    }
    let reason = rest.trim_start().strip_prefix(':').unwrap_or(rest).trim();
    Some(Directive {
        kind,
        reason: unescape(reason),
    })
}

/// Resolves the TAP escapes `\#` and `\\`; other backslashes are kept as they are.
fn unescape(text: &str) -> Cow<'_, str> {
    if !text.contains('\\') {
        return Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len());
    let mut chars = text.chars();
    while let Some(c) = chars.next() {
        if c != '\\' {
            out.push(c);
            continue;
        }
        match chars.clone().next() {
            Some(escaped @ ('#' | '\\')) => {
                out.push(escaped);
                chars.next();
            }
            _ => out.push('\\'),
        }
    }
    Cow::Owned(out)
}

fn non_empty_or<'a>(text: &'a str, fallback: &'a str) -> &'a str {
    if text.is_empty() {
        fallback
    } else {
        text
    }
}

/// `label: reason`, or just `label` without a reason.
fn prefixed(label: &str, reason: &str) -> String {
    if reason.is_empty() {
        label.to_string()
    } else {
        format!("{label}: {reason}")
    }
}

/// The first non-blank line of `text`, trimmed and cut to [`MAX_MESSAGE_BYTES`], because a
/// `message=` attribute is a summary; the full text belongs in the details.
fn first_line_capped(text: &str) -> String {
    let line = text
        .lines()
        .map(str::trim)
        .find(|line| !line.is_empty())
        .unwrap_or("");
    if line.len() <= MAX_MESSAGE_BYTES {
        return line.to_string();
    }
    const ELLIPSIS: char = '…';
    let mut cut = cdkit::text::truncate(line, MAX_MESSAGE_BYTES - ELLIPSIS.len_utf8()).to_string();
    cut.push(ELLIPSIS);
    cut
}

/// The top-level `message:` of a (dedented) YAML diagnostics block, as one unquoted line;
/// else its `error:` (node's test runner writes the assertion's text there).
fn yaml_message(yaml: &str) -> Option<String> {
    yaml_value(yaml, "message:").or_else(|| yaml_value(yaml, "error:"))
}

/// The top-level scalar `key` (with its colon) of a dedented YAML block, as one unquoted line.
fn yaml_value(yaml: &str, key: &str) -> Option<String> {
    let mut lines = yaml.lines();
    while let Some(line) = lines.next() {
        let Some(value) = line.strip_prefix(key) else {
            continue;
        };
        let value = value.trim();
        let message = if let Some(quoted) = value.strip_prefix('\'') {
            single_quoted(quoted)
        } else if let Some(quoted) = value.strip_prefix('"') {
            double_quoted(quoted)
        } else if value.is_empty() || value.starts_with(['|', '>']) {
            // A block scalar (or a plain scalar continued on the next lines).
            first_continuation_line(&mut lines).to_string()
        } else {
            strip_yaml_comment(value).to_string()
        };
        let message = first_line_capped(&message);
        return (!message.is_empty()).then_some(message);
    }
    None
}

/// The first non-blank indented line of a multi-line YAML value.
fn first_continuation_line<'a>(lines: &mut impl Iterator<Item = &'a str>) -> &'a str {
    for line in lines {
        if line.trim().is_empty() {
            continue;
        }
        if !starts_with_whitespace(line) {
            break;
        }
        return line.trim();
    }
    ""
}

fn strip_yaml_comment(value: &str) -> &str {
    match value.find(" #") {
        Some(at) => value[..at].trim_end(),
        None => value,
    }
}

/// The body of a `'...'` YAML scalar (after the opening quote) up to its closing quote.
fn single_quoted(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        if c == '\'' {
            if chars.peek() == Some(&'\'') {
                chars.next();
                out.push('\'');
                continue;
            }
            break;
        }
        out.push(c);
    }
    out
}

/// The body of a `"..."` YAML scalar (after the opening quote) up to its closing quote, with
/// the common backslash escapes resolved.
fn double_quoted(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut chars = text.chars();
    while let Some(c) = chars.next() {
        match c {
            '"' => break,
            '\\' => match chars.next() {
                Some('n') => out.push('\n'),
                Some('t') => out.push('\t'),
                Some('r') => out.push('\r'),
                Some(other) => out.push(other),
                None => out.push('\\'),
            },
            _ => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(lines: &str, exit_ok: bool) -> TapReport {
        let mut parser = TapParser::new("grp");
        for line in lines.lines() {
            parser.push_line(line);
        }
        parser.finish(exit_ok)
    }

    fn case<'a>(report: &'a TapReport, name: &str) -> &'a CaseResult {
        match report.cases.iter().find(|c| c.name == name) {
            Some(case) => case,
            None => panic!("no case {name:?} in {:#?}", report.cases),
        }
    }

    fn names(report: &TapReport) -> Vec<&str> {
        report.cases.iter().map(|c| c.name.as_str()).collect()
    }

    #[test]
    fn version_line_and_plan_first() {
        let mut parser = TapParser::new("g");
        assert!(!parser.push_line("TAP version 14"));
        assert!(parser.saw_tap());
        assert!(!parser.push_line("1..2"));
        assert_eq!(parser.planned(), Some(2));
        assert!(parser.push_line("ok 1 - first"));
        assert!(parser.push_line("ok 2 - second"));
        assert_eq!(parser.count(), 2);
        let report = parser.finish(true);
        assert_eq!(names(&report), ["first", "second"]);
        assert!(report.cases.iter().all(|c| c.outcome == Outcome::Passed));
        assert!(report
            .cases
            .iter()
            .all(|c| c.group == "g" && c.time.is_none()));
        assert_eq!(report.trailing_output, "");
        assert_eq!(report.bailed_out, None);
        assert_eq!(report.skip_all, None);
    }

    #[test]
    fn tap13_version_and_plan_at_end() {
        let report = parse("TAP version 13\nok 1 a\nok 2 b\n1..2\n", true);
        assert_eq!(names(&report), ["a", "b"]);
    }

    #[test]
    fn no_tap_at_all() {
        let mut parser = TapParser::new("g");
        parser.push_line("hello");
        parser.push_line("okay then");
        assert!(!parser.saw_tap());
        let report = parser.finish(true);
        assert!(report.cases.is_empty());
        assert_eq!(report.trailing_output, "hello\nokay then");
    }

    #[test]
    fn crlf_is_stripped() {
        let report = parse("1..1\r\nnot ok 1 - crlf\r\n", true);
        assert_eq!(case(&report, "crlf").message.as_deref(), Some("crlf"));
    }

    #[test]
    fn skip_all_plan_with_reason() {
        let mut parser = TapParser::new("g");
        parser.push_line("1..0 # SKIP no database");
        assert!(parser.saw_tap());
        assert_eq!(parser.planned(), Some(0));
        let report = parser.finish(true);
        assert_eq!(report.skip_all.as_deref(), Some("no database"));
        assert!(report.cases.is_empty());
    }

    #[test]
    fn skip_all_plan_without_reason() {
        assert_eq!(parse("1..0", true).skip_all.as_deref(), Some(""));
        assert_eq!(
            parse("1..0 # skipped: windows only", true)
                .skip_all
                .as_deref(),
            Some("windows only")
        );
    }

    #[test]
    fn test_point_forms() {
        let report = parse(
            "ok\nok 2\nok 3 desc three\nok 4 - desc four\nnot ok - dashed\nok 6 -not-a-dash\n1..6",
            false,
        );
        assert_eq!(
            names(&report)[..6],
            [
                "test 1",
                "test 2",
                "desc three",
                "desc four",
                "dashed",
                "-not-a-dash"
            ]
        );
        assert_eq!(case(&report, "dashed").outcome, Outcome::Failed);
    }

    #[test]
    fn missing_numbers_are_auto_numbered() {
        let report = parse("1..4\nok 1\nok\nok 3\nok\n", true);
        assert_eq!(names(&report), ["test 1", "test 2", "test 3", "test 4"]);
    }

    #[test]
    fn not_ok_is_failed_with_description_message() {
        let report = parse("1..2\nnot ok 1 - adds numbers\nnot ok 2\n", true);
        let failed = case(&report, "adds numbers");
        assert_eq!(failed.outcome, Outcome::Failed);
        assert_eq!(failed.kind.as_deref(), Some("tap"));
        assert_eq!(failed.message.as_deref(), Some("adds numbers"));
        let unnamed = case(&report, "test 2");
        assert_eq!(unnamed.message.as_deref(), Some("not ok 2"));
    }

    #[test]
    fn long_failure_message_is_cut_to_1024_bytes() {
        let description = "é".repeat(2000);
        let report = parse(&format!("1..1\nnot ok 1 - {description}"), true);
        let message = report.cases[0].message.clone().unwrap_or_default();
        assert!(message.len() <= 1024);
        assert!(message.ends_with('…'));
        assert_eq!(report.cases[0].name, description);
    }

    #[test]
    fn skip_directives() {
        let report = parse(
            "1..4\nok 1 - a # SKIP no network\nnot ok 2 - b # skip\nok 3 - c #Skipped: slow\nok 4 - d # skipping it\n",
            true,
        );
        let a = case(&report, "a");
        assert_eq!(a.outcome, Outcome::Skipped);
        assert_eq!(a.message.as_deref(), Some("no network"));
        let b = case(&report, "b");
        assert_eq!(b.outcome, Outcome::Skipped);
        assert_eq!(b.message.as_deref(), Some("skipped"));
        assert_eq!(case(&report, "c").message.as_deref(), Some("slow"));
        assert_eq!(case(&report, "d").message.as_deref(), Some("it"));
        assert_eq!(report.cases.len(), 4);
    }

    #[test]
    fn todo_directives() {
        let report = parse(
            "1..3\nnot ok 1 - a # TODO not written yet\nok 2 - b # todo fixed?\nnot ok 3 - c # TODO\n",
            true,
        );
        let a = case(&report, "a");
        assert_eq!(a.outcome, Outcome::Skipped);
        assert_eq!(a.message.as_deref(), Some("TODO: not written yet"));
        let b = case(&report, "b");
        assert_eq!(b.outcome, Outcome::Passed);
        assert_eq!(b.system_out, "TODO test passed unexpectedly: fixed?");
        assert_eq!(case(&report, "c").message.as_deref(), Some("TODO"));
        assert_eq!(report.cases.len(), 3);
    }

    #[test]
    fn hash_without_directive_stays_in_description() {
        let report = parse("1..2\nok 1 - fixes #12\nok 2 - todos # todolist\n", true);
        assert_eq!(names(&report), ["fixes #12", "todos # todolist"]);
        assert!(report.cases.iter().all(|c| c.outcome == Outcome::Passed));
    }

    #[test]
    fn escaped_hash_and_backslash() {
        let report = parse(
            "1..3\nok 1 - a \\# SKIP not a directive\nok 2 - back\\\\slash \\\\# SKIP real\nok 3 - keep \\n\n",
            true,
        );
        let first = &report.cases[0];
        assert_eq!(first.name, "a # SKIP not a directive");
        assert_eq!(first.outcome, Outcome::Passed);
        let second = &report.cases[1];
        assert_eq!(second.name, "back\\slash \\");
        assert_eq!(second.outcome, Outcome::Skipped);
        assert_eq!(second.message.as_deref(), Some("real"));
        assert_eq!(report.cases[2].name, "keep \\n");
    }

    #[test]
    fn duplicate_names_get_their_number() {
        let report = parse(
            "1..4\nok 1 - same\nok 2 - same\nok 3 - other\nok 4 - same\n",
            true,
        );
        assert_eq!(names(&report), ["same", "same (#2)", "other", "same (#4)"]);
    }

    #[test]
    fn duplicate_name_suffix_collision_stays_unique() {
        let report = parse("1..3\nok 1 - x (#3)\nok 2 - x\nok 3 - x\n", true);
        assert_eq!(names(&report), ["x (#3)", "x", "x (#4)"]);
    }

    #[test]
    fn yaml_diagnostics_go_to_details_and_message() {
        let report = parse(
            "TAP version 13\n1..2\nnot ok 1 - equal\n  ---\n  message: 'expected 1, got ''2'''\n  data:\n    got: 2\n  ...\nok 2 - after\n",
            true,
        );
        let failed = case(&report, "equal");
        assert_eq!(
            failed.details,
            "message: 'expected 1, got ''2'''\ndata:\n  got: 2"
        );
        assert_eq!(failed.message.as_deref(), Some("expected 1, got '2'"));
        assert_eq!(case(&report, "after").system_out, "");
        assert_eq!(report.cases.len(), 2);
    }

    #[test]
    fn yaml_message_forms() {
        assert_eq!(
            yaml_message("message: plain text # comment").as_deref(),
            Some("plain text")
        );
        assert_eq!(
            yaml_message("severity: fail\nmessage: \"a \\\"quoted\\\" one\\nsecond\"").as_deref(),
            Some("a \"quoted\" one")
        );
        assert_eq!(
            yaml_message("message: |-\n  first line\n  second\nother: 1").as_deref(),
            Some("first line")
        );
        assert_eq!(yaml_message("data:\n  message: nested"), None);
        assert_eq!(yaml_message("message: ''"), None);
        assert_eq!(
            yaml_message("error: |-\n  Expected values to be equal\n\n  1 !== 2").as_deref(),
            Some("Expected values to be equal")
        );
    }

    #[test]
    fn yaml_message_only_overrides_failures() {
        let report = parse(
            "1..1\nnot ok 1 - x # TODO later\n  ---\n  message: boom\n  ...\n",
            true,
        );
        let todo = &report.cases[0];
        assert_eq!(todo.message.as_deref(), Some("TODO: later"));
        assert_eq!(todo.details, "message: boom");
    }

    #[test]
    fn unterminated_yaml_at_end_is_kept() {
        let report = parse(
            "1..1\nnot ok 1 - x\n  ---\n  message: cut off\n  stack: |\n",
            true,
        );
        assert_eq!(report.cases[0].details, "message: cut off\nstack: |");
        assert_eq!(report.cases[0].message.as_deref(), Some("cut off"));
        assert_eq!(report.trailing_output, "");
    }

    #[test]
    fn unterminated_yaml_ends_at_next_test_point() {
        let report = parse("1..2\nnot ok 1 - x\n  ---\n  got: 1\nok 2 - y\n", true);
        assert_eq!(report.cases[0].details, "got: 1");
        assert_eq!(names(&report), ["x", "y"]);
    }

    #[test]
    fn indented_dashes_not_after_test_point_are_output() {
        let report = parse("1..1\n# note\n  ---\n  ...\nok 1\n", true);
        assert_eq!(report.cases[0].system_out, "# note\n  ---\n  ...");
        assert_eq!(report.cases[0].details, "");
    }

    #[test]
    fn output_belongs_to_the_test_point_it_follows() {
        let report = parse(
            "TAP version 14\n1..2\n# starting\n\x1b[32mcolour\x1b[0m\nraw\x07bell\nok 1 - a\n\n# between\n\nmore\n\nok 2 - b\n# after\ntail\n",
            true,
        );
        assert_eq!(
            report.cases[0].system_out,
            "# starting\n\x1b[32mcolour\x1b[0m\nraw\x07bell\n# between\n\nmore"
        );
        assert_eq!(report.cases[1].system_out, "# after\ntail");
        assert_eq!(report.trailing_output, "");
    }

    #[test]
    fn diagnostics_of_a_failure_are_its_body_not_the_next_tests_output() {
        let report = parse(
            "1..3\nnot ok 1 - a\n# why a failed\nok 2 - b\nok 3 - c\n",
            true,
        );
        let a = case(&report, "a");
        assert_eq!(a.outcome, Outcome::Failed);
        assert_eq!(a.details, "# why a failed");
        assert_eq!(case(&report, "b").system_out, "");
        assert_eq!(report.cases.len(), 3);
    }

    #[test]
    fn yaml_then_comments_make_the_failure_body() {
        let report = parse(
            "1..2\nnot ok 1 - x\n  ---\n  message: boom\n  ...\n# (in test file t.bats, line 3)\n#   `false' failed\nok 2 - y\n",
            true,
        );
        let x = case(&report, "x");
        assert_eq!(x.message.as_deref(), Some("boom"));
        assert_eq!(
            x.details,
            "message: boom\n# (in test file t.bats, line 3)\n#   `false' failed"
        );
    }

    #[test]
    fn output_after_a_plan_printed_last_belongs_to_no_test() {
        let report = parse("ok 1 - a\n# diag of a\n1..1\n# tests 1\n# pass 1\n", true);
        assert_eq!(report.cases[0].system_out, "# diag of a");
        assert_eq!(report.trailing_output, "# tests 1\n# pass 1");
    }

    #[test]
    fn output_between_test_points_is_bounded() {
        let mut parser = TapParser::new("g");
        parser.push_line("1..2");
        parser.push_line("ok 1 - first");
        let noise = "x".repeat(1000);
        for _ in 0..10_000 {
            parser.push_line(&noise);
        }
        parser.push_line("ok 2 - second");
        let report = parser.finish(true);
        let out = &report.cases[0].system_out;
        assert!(out.len() < 4 * cdkit::text::OUTPUT_HALF, "{}", out.len());
        assert!(out.contains("bytes omitted"));
        assert_eq!(report.cases[1].system_out, "");
    }

    #[test]
    fn subtests_are_cases_named_after_their_parent() {
        let tap = "TAP version 14\n1..3\n# Subtest: parent\n    1..2\n    ok 1 - child a\n    not ok 2 - child b\n      ---\n      message: inner\n      ...\n    # child b diag\nnot ok 1 - parent\nok 2 - sibling\n# Subtest: all good\n    ok 1 - one\n    1..1\nok 3 - all good\n";
        let mut parser = TapParser::new("g");
        let points: usize = tap.lines().map(|l| usize::from(parser.push_line(l))).sum();
        assert_eq!(points, 6);
        assert_eq!(parser.count(), 6);
        let report = parser.finish(true);
        assert_eq!(
            names(&report),
            [
                "parent > child a",
                "parent > child b",
                "sibling",
                "all good > one"
            ]
        );
        let child_b = case(&report, "parent > child b");
        assert_eq!(child_b.outcome, Outcome::Failed);
        assert_eq!(child_b.message.as_deref(), Some("inner"));
        assert_eq!(child_b.details, "message: inner\n# child b diag");
    }

    #[test]
    fn a_parent_failing_with_passing_subtests_stays_a_case() {
        let tap = "1..1\n# Subtest: suite\n    ok 1 - fine\n    1..1\nnot ok 1 - suite\n  ---\n  failureType: 'hookFailed'\n  ...\n";
        let report = parse(tap, false);
        assert_eq!(names(&report), ["suite > fine", "suite"]);
        assert_eq!(case(&report, "suite").outcome, Outcome::Failed);
        assert_eq!(case(&report, "suite").details, "failureType: 'hookFailed'");
    }

    #[test]
    fn subtest_plans_are_checked() {
        let tap = "1..1\n# Subtest: p\n    1..3\n    ok 1 - a\nnot ok 1 - p\n";
        let report = parse(tap, false);
        assert_eq!(names(&report), ["p > a", "p > test 2", "p > test 3"]);
        assert_eq!(case(&report, "p > test 3").kind.as_deref(), Some("missing"));
    }

    #[test]
    fn indented_subtest_header_and_nesting() {
        // Older Test::More indents `# Subtest:` with the subtest; deeper levels may come
        // without a header and without a parent test point.
        let tap = "1..1\n    # Subtest: p\n    ok 1 - c\n        ok 1 - deep\n    1..1\nok 1 - p\n";
        let report = parse(tap, true);
        assert_eq!(names(&report), ["p > c", "p > deep"]);
    }

    #[test]
    fn node_test_runner_output() {
        // `node --test` (TAP 13 with TAP 14 subtests): a describe() suite is no case of its own.
        let tap = "TAP version 13\n# Subtest: top pass\nok 1 - top pass\n  ---\n  duration_ms: 1.7\n  ...\n# Subtest: math\n    # Subtest: adds\n    ok 1 - adds\n      ---\n      duration_ms: 0.3\n      ...\n    # Subtest: fails\n    not ok 2 - fails\n      ---\n      duration_ms: 1.3\n      failureType: 'testCodeFailure'\n      error: |-\n        Expected values to be strictly equal:\n\n        2 !== 3\n\n      code: 'ERR_ASSERTION'\n      ...\n    # Subtest: skipped one\n    ok 3 - skipped one # SKIP\n      ---\n      duration_ms: 0.1\n      ...\n    1..3\nnot ok 2 - math\n  ---\n  duration_ms: 2.7\n  type: 'suite'\n  failureType: 'subtestsFailed'\n  error: '1 subtest failed'\n  ...\n1..2\n# tests 4\n# suites 1\n# pass 2\n# fail 1\n";
        let report = parse(tap, false);
        assert_eq!(
            names(&report),
            [
                "top pass",
                "math > adds",
                "math > fails",
                "math > skipped one"
            ]
        );
        let fails = case(&report, "math > fails");
        assert_eq!(fails.outcome, Outcome::Failed);
        assert!(fails.details.contains("2 !== 3"), "{}", fails.details);
        assert_eq!(
            case(&report, "math > skipped one").outcome,
            Outcome::Skipped
        );
        assert_eq!(
            report.trailing_output,
            "# tests 4\n# suites 1\n# pass 2\n# fail 1"
        );
    }

    /// `prove -v t/` on four files (pass, skip, failure with TODO, bail-out), as prove prints
    /// it into a pipe.
    const PROVE_VERBOSE: &str = "t/a.t .. \n1..2\nok 1 - alpha\nok 2 - beta\nok\nt/b.t .. \n1..3\nok 1 - one\nok 2 # skip no network\nok 3 - three\nok\nt/c.t .. \n1..4\nok 1 - first\nnot ok 2 - numbers equal\nnot ok 3 - future feature # TODO not yet\n#   Failed (TODO) test 'future feature'\n#   at t/c.t line 4.\n# a note line\nok 4 - last\nDubious, test returned 1 (wstat 256, 0x100)\nFailed 1/4 subtests \nBailout called.  Further testing stopped:  database gone\nt/d.t .. \n1..3\nok 1 - before bail\nDubious, test returned 255 (wstat 65280, 0xff00)\nFailed 2/3 subtests \n\nTest Summary Report\n-------------------\nt/c.t (Wstat: 256 (exited 1) Tests: 4 Failed: 1)\n  Failed test:  2\n  Non-zero exit status: 1\nt/d.t (Wstat: 65280 (exited 255) Tests: 1 Failed: 0)\n  Non-zero exit status: 255\n  Parse errors: Bad plan.  You planned 3 tests but ran 1.\nFiles=4, Tests=10,  1 wallclock secs ( 0.03 usr  0.01 sys +  0.17 cusr  0.05 csys =  0.26 CPU)\nResult: FAIL\n";

    fn in_group<'a>(report: &'a TapReport, group: &str) -> Vec<(&'a str, Outcome)> {
        report
            .cases
            .iter()
            .filter(|c| c.group == group)
            .map(|c| (c.name.as_str(), c.outcome))
            .collect()
    }

    #[test]
    fn prove_verbose_is_one_stream_per_file() {
        let report = parse(PROVE_VERBOSE, false);
        use Outcome::*;
        assert_eq!(
            in_group(&report, "t/a_t"),
            [("alpha", Passed), ("beta", Passed)]
        );
        assert_eq!(
            in_group(&report, "t/b_t"),
            [("one", Passed), ("test 2", Skipped), ("three", Passed)]
        );
        assert_eq!(
            in_group(&report, "t/c_t"),
            [
                ("first", Passed),
                ("numbers equal", Failed),
                ("future feature", Skipped),
                ("last", Passed)
            ]
        );
        assert_eq!(
            in_group(&report, "t/d_t"),
            [
                ("before bail", Passed),
                ("Bail out!", Errored),
                ("test 2", Errored),
                ("test 3", Errored)
            ]
        );
        assert_eq!(report.cases.len(), 13, "{:#?}", report.cases);
        let todo = case(&report, "future feature");
        assert_eq!(
            todo.system_out,
            "#   Failed (TODO) test 'future feature'\n#   at t/c.t line 4.\n# a note line"
        );
        assert_eq!(
            case(&report, "Bail out!").message.as_deref(),
            Some("Bail out! database gone")
        );
        assert!(report.trailing_output.contains("Result: FAIL"));
        assert!(report.trailing_output.starts_with("Bailout called."));
    }

    #[test]
    fn prove_verbose_all_passing_has_no_extra_cases() {
        let text = "t/a.t .. \n1..2\nok 1 - alpha\nok 2 - beta\nok\nt/b.t .. \nok\nok\n1..2\nok\nAll tests successful.\nFiles=2, Tests=4,  0 wallclock secs\nResult: PASS\n";
        let report = parse(text, true);
        use Outcome::*;
        assert_eq!(
            in_group(&report, "t/a_t"),
            [("alpha", Passed), ("beta", Passed)]
        );
        // Unnumbered test points and a plan at the end: only the `ok` after it is the verdict.
        assert_eq!(
            in_group(&report, "t/b_t"),
            [("test 1", Passed), ("test 2", Passed)]
        );
        assert_eq!(report.cases.len(), 4);
    }

    #[test]
    fn prove_without_verbose_is_one_case_per_file() {
        let text = "t/a.t .. ok\nt/b.t .. ok\nt/c.t .. \nDubious, test returned 1 (wstat 256, 0x100)\nFailed 1/4 subtests \n\t(less 1 skipped subtest: 2 okay)\nBailout called.  Further testing stopped:  database gone\nt/d.t .. \nDubious, test returned 255 (wstat 65280, 0xff00)\nFailed 2/3 subtests \nt/e.t ..... skipped: no database\n\nTest Summary Report\n-------------------\nt/c.t (Wstat: 256 (exited 1) Tests: 4 Failed: 1)\n  Failed test:  2\n  Non-zero exit status: 1\nFiles=5, Tests=10\nResult: FAIL\n";
        let report = parse(text, false);
        use Outcome::*;
        let all: Vec<(&str, &str, Outcome)> = report
            .cases
            .iter()
            .map(|c| (c.group.as_str(), c.name.as_str(), c.outcome))
            .collect();
        assert_eq!(
            all,
            [
                ("t/a_t", WHOLE_FILE_CASE, Passed),
                ("t/b_t", WHOLE_FILE_CASE, Passed),
                ("t/c_t", WHOLE_FILE_CASE, Failed),
                ("t/d_t", WHOLE_FILE_CASE, Errored),
                ("t/e_t", WHOLE_FILE_CASE, Skipped),
            ]
        );
        let c = &report.cases[2];
        assert_eq!(
            c.message.as_deref(),
            Some("Failed 1/4 subtests; Dubious, test returned 1 (wstat 256, 0x100)")
        );
        assert!(
            c.details
                .ends_with("Failed test:  2\nNon-zero exit status: 1"),
            "{}",
            c.details
        );
        assert_eq!(
            report.cases[3].message.as_deref(),
            Some("Bail out! database gone")
        );
        assert_eq!(report.cases[4].message.as_deref(), Some("no database"));
        assert!(report.cases[0]
            .system_out
            .contains("without printing its test points"));
    }

    #[test]
    fn prove_timer_and_chatter_before_it() {
        let text = "make[1]: Entering directory\n[13:09:06] t/u.t .. \n1..1\nok 1 - x\nok        1 ms ( 0.00 usr  0.00 CPU)\n[13:09:06] t/v.t .. ok       99 ms ( 0.00 usr  0.00 CPU)\n[13:09:06]\nAll tests successful.\n";
        let mut parser = TapParser::new("make");
        for line in text.lines() {
            parser.push_line(line);
        }
        assert!(parser.saw_tap());
        let report = parser.finish(true);
        use Outcome::*;
        assert_eq!(in_group(&report, "t/u_t"), [("x", Passed)]);
        assert_eq!(in_group(&report, "t/v_t"), [(WHOLE_FILE_CASE, Passed)]);
        assert_eq!(report.cases.len(), 2);
        assert!(report
            .trailing_output
            .starts_with("make[1]: Entering directory"));
    }

    #[test]
    fn a_prove_like_line_before_a_tap_stream_does_not_swallow_it() {
        let report = parse(
            "Compiling helpers .. ok
1..2
ok 1 - a
not ok 2 - b
",
            true,
        );
        use Outcome::*;
        assert_eq!(in_group(&report, "grp"), [("a", Passed), ("b", Failed)]);
    }

    #[test]
    fn a_prove_like_line_inside_a_tap_stream_is_output() {
        let report = parse("1..1\nBuilding index .. ok\nok 1 - a\n", true);
        assert_eq!(names(&report), ["a"]);
        assert_eq!(report.cases[0].system_out, "Building index .. ok");
    }

    #[test]
    fn files_read_after_the_run_are_streams_of_their_own() {
        let mut parser = TapParser::new("prove");
        parser
            .read_file("t/a.t", "1..2\nok 1 - a\nnot ok 2 - b\n# why\n".as_bytes())
            .unwrap();
        parser
            .read_file("t/d.t", "1..3\nok 1 - c\nBail out!  gone".as_bytes())
            .unwrap();
        assert!(parser.saw_tap());
        let report = parser.finish(false);
        use Outcome::*;
        assert_eq!(in_group(&report, "t/a_t"), [("a", Passed), ("b", Failed)]);
        assert_eq!(case(&report, "b").details, "# why");
        assert_eq!(
            in_group(&report, "t/d_t"),
            [
                ("c", Passed),
                ("Bail out!", Errored),
                ("test 2", Errored),
                ("test 3", Errored)
            ]
        );
    }

    #[test]
    fn indented_chatter_outside_subtests_is_kept_as_is() {
        let report = parse("1..1\n  at foo.js:1\n    at bar.js:2\nok 1\n", true);
        assert_eq!(report.cases[0].system_out, "  at foo.js:1\n    at bar.js:2");
    }

    #[test]
    fn bail_out_stops_parsing() {
        let mut parser = TapParser::new("g");
        parser.push_line("1..3");
        parser.push_line("ok 1 - a");
        parser.push_line("# disk full");
        assert!(!parser.push_line("Bail out!  no disk  "));
        assert!(!parser.push_line("ok 2 - ignored"));
        parser.push_line("cleanup");
        assert_eq!(parser.count(), 1);
        let report = parser.finish(false);
        assert_eq!(report.bailed_out.as_deref(), Some("no disk"));
        let bail = case(&report, "Bail out!");
        assert_eq!(bail.outcome, Outcome::Errored);
        assert_eq!(bail.kind.as_deref(), Some("bail-out"));
        assert_eq!(bail.message.as_deref(), Some("Bail out! no disk"));
        assert_eq!(bail.system_out, "");
        assert_eq!(case(&report, "a").system_out, "# disk full");
        assert_eq!(report.trailing_output, "ok 2 - ignored\ncleanup");
        // Tests 2 and 3 never ran; no plan case and no exit-status case (already red).
        assert_eq!(names(&report), ["a", "Bail out!", "test 2", "test 3"]);
    }

    #[test]
    fn bail_out_without_reason_or_plan() {
        let report = parse("ok 1\nBail out!\n", true);
        assert_eq!(report.bailed_out.as_deref(), Some(""));
        assert_eq!(names(&report), ["test 1", "Bail out!"]);
        assert_eq!(report.cases[1].message.as_deref(), Some("Bail out!"));
    }

    #[test]
    fn bail_out_alone_is_tap() {
        let mut parser = TapParser::new("g");
        parser.push_line("Bail out! cannot start");
        assert!(parser.saw_tap());
    }

    #[test]
    fn missing_tests_are_errored() {
        let report = parse("1..4\nok 1\nok 3\n", true);
        assert_eq!(names(&report), ["test 1", "test 3", "test 2", "test 4"]);
        let missing = case(&report, "test 4");
        assert_eq!(missing.outcome, Outcome::Errored);
        assert_eq!(missing.kind.as_deref(), Some("missing"));
        assert_eq!(
            missing.message.as_deref(),
            Some(
                "test 4 was planned but never ran (the command crashed, bailed out or was stopped)"
            )
        );
    }

    #[test]
    fn missing_test_name_collision_is_made_unique() {
        let report = parse("1..2\nok 1 - test 2\n", true);
        assert_eq!(names(&report), ["test 2", "test 2 (#2)"]);
    }

    #[test]
    fn many_missing_tests_become_one_case() {
        let report = parse("1..5000\nok 1\nok 2\n", true);
        assert_eq!(names(&report), ["test 1", "test 2", "missing tests"]);
        let missing = case(&report, "missing tests");
        assert_eq!(missing.kind.as_deref(), Some("missing"));
        let message = missing.message.as_deref().unwrap_or_default();
        assert!(message.contains("4998"), "{message}");
        assert!(message.contains("3..5000"), "{message}");
    }

    #[test]
    fn huge_plan_does_not_allocate_per_test() {
        let report = parse(&format!("1..{}\nok 1\nok 7\n", usize::MAX), true);
        let message = case(&report, "missing tests").message.clone();
        assert!(message.unwrap_or_default().contains("between 2 and"));
    }

    #[test]
    fn test_numbers_above_the_plan() {
        let report = parse("1..2\nok 1\nok 2\nok 3 - extra\n", true);
        assert_eq!(names(&report), ["test 1", "test 2", "extra", "plan"]);
        let plan = case(&report, "plan");
        assert_eq!(plan.outcome, Outcome::Errored);
        assert_eq!(plan.kind.as_deref(), Some("plan"));
        assert_eq!(case(&report, "extra").outcome, Outcome::Passed);
    }

    #[test]
    fn tests_after_skip_all_plan_are_a_plan_mismatch() {
        let report = parse("1..0\nok 1\n", true);
        assert_eq!(names(&report), ["test 1", "plan"]);
    }

    #[test]
    fn no_plan_is_errored() {
        let report = parse("ok 1\nok 2\n", true);
        let plan = case(&report, "plan");
        assert_eq!(plan.outcome, Outcome::Errored);
        assert_eq!(plan.kind.as_deref(), Some("plan"));
        assert_eq!(
            plan.message.as_deref(),
            Some("no TAP plan (1..N) was printed: the stream may be incomplete")
        );
    }

    #[test]
    fn second_plan_is_output() {
        let report = parse("1..1\nok 1\n1..5\n", true);
        assert_eq!(report.cases[0].system_out, "1..5");
        assert_eq!(report.cases.len(), 1);
    }

    #[test]
    fn non_zero_exit_with_green_results_is_errored() {
        let report = parse("1..1\nok 1\n", false);
        let exit = case(&report, EXIT_STATUS_CASE);
        assert_eq!(exit.outcome, Outcome::Errored);
        assert_eq!(exit.kind.as_deref(), Some("exit-status"));
        assert_eq!(
            exit.message.as_deref(),
            Some("the command exited non-zero although every test passed")
        );
        // Not added when something already failed, nor when the exit was fine.
        assert_eq!(parse("1..1\nnot ok 1\n", false).cases.len(), 1);
        assert_eq!(parse("1..1\nok 1\n", true).cases.len(), 1);
        // Added even when nothing ran at all.
        assert_eq!(names(&parse("", false)), [EXIT_STATUS_CASE]);
    }

    #[test]
    fn every_case_gets_the_group() {
        let report = parse("ok 1\nBail out! x\n", false);
        assert!(report.cases.iter().all(|c| c.group == "grp"));
    }

    #[test]
    fn many_test_points_parse_fast() {
        let mut parser = TapParser::new("g");
        let started = std::time::Instant::now();
        parser.push_line("TAP version 14");
        parser.push_line("1..100000");
        let mut line = String::new();
        for n in 1..=100_000 {
            line.clear();
            line.push_str(if n % 10 == 0 { "not ok " } else { "ok " });
            line.push_str(&n.to_string());
            line.push_str(" - same name");
            parser.push_line(&line);
        }
        let report = parser.finish(true);
        let elapsed = started.elapsed();
        assert_eq!(report.cases.len(), 100_000);
        assert_eq!(report.cases[99_999].name, "same name (#100000)");
        // Generous bound: debug builds are ~10x slower than the release target of 200 ms.
        assert!(elapsed.as_secs() < 5, "{elapsed:?}");
    }
}
