//! A streaming parser for TAP 13/14 (the Test Anything Protocol) that turns a command's stdout
//! into [`CaseResult`]s.
//!
//! It is streaming because test commands can run for a long time and print a lot: the caller
//! feeds lines as they arrive (for progress counting) and only calls [`TapParser::finish`] when
//! the command has exited. It is lenient because real producers deviate from the specification
//! (missing ` - `, lowercase directives, chatter between test points), and strict only where
//! leniency would hide a problem: a missing plan, missing tests or a bail-out always produce an
//! Errored case, so a crashed test command can never look green.
//!
//! No regex and no quadratic work: every line is classified with a few `str` prefix checks, and
//! duplicate names are found with a hash set, so 100,000 test points parse in milliseconds.

use std::borrow::Cow;
use std::collections::HashSet;
use std::hash::{BuildHasherDefault, Hasher};
use std::mem;

use crate::model::{CaseResult, Outcome};

/// Name of the case added when the command exited non-zero although no test failed; a constant
/// so that the caller of [`TapParser::finish`] can find that case and reword it.
pub const EXIT_STATUS_CASE: &str = "exit status";

const BAIL_OUT_CASE: &str = "Bail out!";
const PLAN_CASE: &str = "plan";
const MISSING_TESTS_CASE: &str = "missing tests";
/// Longest `message=` we produce: messages are one-line summaries, details carry the rest.
const MAX_MESSAGE_BYTES: usize = cdkit::text::MESSAGE_MAX;
/// More missing tests than this are reported as one case, so a wrong plan like `1..1000000`
/// cannot flood the report.
const MAX_MISSING_CASES: usize = 1000;
/// TAP 14 indents subtests by exactly four spaces.
const SUBTEST_INDENT: &str = "    ";
const MISSING_REASON: &str = "(the command crashed, bailed out or was stopped)";
/// Up to this many cases are reserved when the plan comes first, to avoid regrowing the vectors
/// of a large run without trusting an absurd plan.
const MAX_RESERVED_CASES: usize = 1 << 20;

/// Parses one TAP stream, line by line.
///
/// One parser per command run: the numbering, the plan and the attribution of output to tests
/// all depend on everything seen before.
#[derive(Debug)]
pub struct TapParser {
    group: String,
    cases: Vec<CaseResult>,
    /// Names already given out, so that duplicate names are made unique in O(1).
    names: HashSet<String, BuildHasherDefault<NameHasher>>,
    /// Numbers of all top-level test points, for the plan check in `finish`.
    numbers: Vec<usize>,
    last_number: usize,
    plan: Option<usize>,
    skip_all: Option<String>,
    bailed_out: Option<String>,
    saw_tap: bool,
    /// Lines not yet attributed to a test: they go to the next test point's `system_out`, or
    /// to the report's trailing output if no test point follows.
    output: OutputBuffer,
    yaml: YamlState,
    /// Whether we are inside a TAP 14 subtest, whose 4-space-indented lines are dedented.
    in_subtest: bool,
    seen_first_line: bool,
}

/// The parsed stream, produced once the command has exited.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TapReport {
    /// Every test point, plus Errored cases for what went wrong around them (bail-out, missing
    /// tests, plan mismatch, non-zero exit), so that the report alone tells the whole story.
    pub cases: Vec<CaseResult>,
    /// Output lines that belonged to no test (e.g. after the last test point), joined with '\n'.
    pub trailing_output: String,
    /// `Some(reason)` when a `Bail out!` was seen.
    pub bailed_out: Option<String>,
    /// `Some(reason)` when the plan was `1..0` (optionally with `# SKIP reason`): nothing to run,
    /// on purpose, which must not be confused with a command that printed nothing.
    pub skip_all: Option<String>,
}

/// Where we are with respect to a YAML diagnostics block.
#[derive(Debug)]
enum YamlState {
    /// Not after a test point: an indented `---` is ordinary output.
    Idle,
    /// Right after the test point `cases[case]`: an indented `---` starts its diagnostics.
    MayStart { case: usize },
    /// Inside the diagnostics of `cases[case]`, indented by `indent` bytes of whitespace.
    Open {
        case: usize,
        indent: usize,
        text: String,
    },
}

/// Collects output lines, dropping blank lines at the start and the end (they carry nothing
/// and would only make `system_out` look non-empty) but keeping them in between.
#[derive(Debug, Default)]
struct OutputBuffer {
    text: String,
    held_blank_lines: usize,
}

impl OutputBuffer {
    fn push(&mut self, line: &str) {
        if line.trim().is_empty() {
            if !self.text.is_empty() {
                self.held_blank_lines += 1;
            }
            return;
        }
        if !self.text.is_empty() {
            for _ in 0..=self.held_blank_lines {
                self.text.push('\n');
            }
        }
        self.held_blank_lines = 0;
        self.text.push_str(line);
    }

    fn take(&mut self) -> String {
        self.held_blank_lines = 0;
        mem::take(&mut self.text)
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
    /// Creates a parser for one stream; `group` is put into every CaseResult.group so that the
    /// results of several TAP sources stay apart.
    pub fn new(group: impl Into<String>) -> Self {
        TapParser {
            group: group.into(),
            cases: Vec::new(),
            names: HashSet::default(),
            numbers: Vec::new(),
            last_number: 0,
            plan: None,
            skip_all: None,
            bailed_out: None,
            saw_tap: false,
            output: OutputBuffer::default(),
            yaml: YamlState::Idle,
            in_subtest: false,
            seen_first_line: false,
        }
    }

    /// Feeds one line of the command's stdout (without the trailing newline; a trailing '\r'
    /// is stripped so that CRLF output parses the same).
    ///
    /// Returns true when this line completed a test point, so the caller can count progress
    /// while the command runs; YAML diagnostics that follow are attached later.
    pub fn push_line(&mut self, line: &str) -> bool {
        let mut line = line.strip_suffix('\r').unwrap_or(line);
        if !self.seen_first_line {
            self.seen_first_line = true;
            line = line.strip_prefix('\u{feff}').unwrap_or(line);
        }
        if self.consume_yaml_line(line) {
            return false;
        }
        if self.bailed_out.is_some() {
            // TAP says nothing counts after a bail-out; keep it as output for the reader.
            self.output.push(line);
            return false;
        }
        if starts_with_whitespace(line) {
            self.push_indented_line(line);
            return false;
        }
        self.push_top_level_line(line)
    }

    /// Whether anything TAP-like was seen so far (a `TAP version` line, a plan, a test point,
    /// or `Bail out!`), so the caller can tell a TAP producer from a command that prints
    /// something else.
    pub fn saw_tap(&self) -> bool {
        self.saw_tap
    }

    /// Number of top-level test points seen so far, for progress reporting.
    pub fn count(&self) -> usize {
        self.numbers.len()
    }

    /// The plan's count if one was seen, so progress can be shown as "n of N".
    pub fn planned(&self) -> Option<usize> {
        self.plan
    }

    /// Ends the stream and checks it against the plan and the exit status.
    ///
    /// `exit_ok` is whether the command exited with status 0: a non-zero exit with only passing
    /// tests means something went wrong that TAP did not report, which must not look green.
    pub fn finish(mut self, exit_ok: bool) -> TapReport {
        self.close_yaml();
        let trailing_output = self.output.take();
        match self.plan {
            Some(planned) => self.check_against_plan(planned),
            None if !self.numbers.is_empty() && self.bailed_out.is_none() => {
                self.push_plan_case(
                    "no TAP plan (1..N) was printed: the stream may be incomplete".to_string(),
                );
            }
            None => {}
        }
        if !exit_ok && !self.cases.iter().any(|case| case.outcome.is_bad()) {
            let mut case = self.synthesized_case(EXIT_STATUS_CASE, Outcome::Errored);
            case.kind = Some("exit-status".to_string());
            case.message =
                Some("the command exited non-zero although every test passed".to_string());
            self.cases.push(case);
        }
        TapReport {
            cases: self.cases,
            trailing_output,
            bailed_out: self.bailed_out,
            skip_all: self.skip_all,
        }
    }

    /// Handles a line while a YAML block is possible or open. Returns true if the line was
    /// consumed by the block; false if it must be parsed as an ordinary line.
    fn consume_yaml_line(&mut self, line: &str) -> bool {
        match &mut self.yaml {
            YamlState::Idle => false,
            YamlState::MayStart { case } => {
                let case = *case;
                if line.trim().is_empty() {
                    return true;
                }
                let indent = leading_whitespace_len(line);
                if indent > 0 && line.trim() == "---" {
                    self.yaml = YamlState::Open {
                        case,
                        indent,
                        text: String::new(),
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
                if !text.is_empty() {
                    text.push('\n');
                }
                text.push_str(&line[line_indent.min(*indent)..]);
                true
            }
        }
    }

    /// Attaches the YAML block read so far to its test point.
    fn close_yaml(&mut self) {
        let YamlState::Open { case, text, .. } = mem::replace(&mut self.yaml, YamlState::Idle)
        else {
            return;
        };
        let Some(case) = self.cases.get_mut(case) else {
            return;
        };
        if case.outcome == Outcome::Failed {
            if let Some(message) = yaml_message(&text) {
                case.message = Some(message);
            }
        }
        let mut text = text;
        text.truncate(text.trim_end().len());
        case.details = text;
    }

    /// Indented lines are never top-level TAP. Inside a subtest their 4-space indent is removed
    /// so that the subtest reads like a TAP stream in the parent's `system_out`.
    fn push_indented_line(&mut self, line: &str) {
        let Some(dedented) = line.strip_prefix(SUBTEST_INDENT) else {
            self.output.push(line);
            return;
        };
        if !self.in_subtest && looks_like_tap(dedented.trim_start()) {
            self.in_subtest = true;
        }
        if self.in_subtest {
            self.output.push(dedented);
        } else {
            self.output.push(line);
        }
    }

    fn push_top_level_line(&mut self, line: &str) -> bool {
        if is_version_line(line) {
            self.saw_tap = true;
            return false;
        }
        if let Some((count, comment)) = parse_plan(line) {
            if self.plan.is_none() {
                self.record_plan(count, comment);
                return false;
            }
            // A second plan is not TAP; keep it visible as output.
            self.output.push(line);
            return false;
        }
        if let Some(reason) = parse_bail_out(line) {
            self.record_bail_out(reason);
            return false;
        }
        if let Some(point) = parse_test_point(line) {
            self.record_test_point(point);
            return true;
        }
        if line.starts_with("# Subtest") {
            self.in_subtest = true;
        }
        self.output.push(line);
        false
    }

    fn record_plan(&mut self, count: usize, comment: Option<&str>) {
        self.saw_tap = true;
        self.plan = Some(count);
        if self.cases.is_empty() {
            let expected = count.min(MAX_RESERVED_CASES);
            self.cases.reserve(expected);
            self.names.reserve(expected);
            self.numbers.reserve(expected);
        }
        if count == 0 {
            self.skip_all = Some(comment.map(skip_all_reason).unwrap_or_default());
        }
    }

    fn record_bail_out(&mut self, reason: &str) {
        self.saw_tap = true;
        self.yaml = YamlState::Idle;
        let mut case = self.synthesized_case(BAIL_OUT_CASE, Outcome::Errored);
        case.kind = Some("bail-out".to_string());
        case.message = Some(one_line(&if reason.is_empty() {
            "Bail out!".to_string()
        } else {
            format!("Bail out! {reason}")
        }));
        case.system_out = self.output.take();
        self.cases.push(case);
        self.bailed_out = Some(reason.to_string());
    }

    fn record_test_point(&mut self, point: TestPoint<'_>) {
        self.saw_tap = true;
        self.in_subtest = false;
        let number = point.number.unwrap_or(self.last_number + 1);
        self.last_number = number;
        self.numbers.push(number);

        let description = point.description.trim();
        let base_name = if description.is_empty() {
            format!("test {number}")
        } else {
            description.to_string()
        };
        let name = self.unique_name(base_name, number);
        let mut case = CaseResult::new(self.group.clone(), name, Outcome::Passed);
        case.system_out = self.output.take();
        let directive = point.directive.map(|d| (d.kind, d.reason));
        match (point.ok, directive) {
            (_, Some((DirectiveKind::Skip, reason))) => {
                case.outcome = Outcome::Skipped;
                case.message = Some(one_line(non_empty_or(&reason, "skipped")));
            }
            (false, Some((DirectiveKind::Todo, reason))) => {
                case.outcome = Outcome::Skipped;
                case.message = Some(one_line(&prefixed("TODO", &reason)));
            }
            (true, Some((DirectiveKind::Todo, reason))) => {
                let note = prefixed("TODO test passed unexpectedly", &reason);
                if !case.system_out.is_empty() {
                    case.system_out.push('\n');
                }
                case.system_out.push_str(&note);
            }
            (true, None) => {}
            (false, None) => {
                case.outcome = Outcome::Failed;
                case.kind = Some("tap".to_string());
                case.message = Some(if description.is_empty() {
                    format!("not ok {number}")
                } else {
                    one_line(description)
                });
            }
        }
        self.cases.push(case);
        self.yaml = YamlState::MayStart {
            case: self.cases.len() - 1,
        };
    }

    /// Compares the test numbers seen with the plan `1..planned`.
    fn check_against_plan(&mut self, planned: usize) {
        let mut in_plan: Vec<usize> = self
            .numbers
            .iter()
            .copied()
            .filter(|&n| (1..=planned).contains(&n))
            .collect();
        in_plan.sort_unstable();
        in_plan.dedup();
        let gaps = missing_ranges(&in_plan, planned);
        let missing: usize = gaps.iter().map(|&(first, last)| last - first + 1).sum();
        if missing > MAX_MISSING_CASES {
            self.push_missing_summary(&gaps, missing);
        } else {
            for &(first, last) in &gaps {
                for number in first..=last {
                    self.push_missing_case(number);
                }
            }
        }
        let highest = self.numbers.iter().copied().max().unwrap_or(0);
        if self.numbers.len() > planned || highest > planned {
            self.push_plan_case(format!(
                "the plan was 1..{planned} but {} test points were seen (highest number {highest})",
                self.numbers.len()
            ));
        }
    }

    fn push_missing_case(&mut self, number: usize) {
        let name = self.unique_name(format!("test {number}"), number);
        let mut case = CaseResult::new(self.group.clone(), name, Outcome::Errored);
        case.kind = Some("missing".to_string());
        case.message = Some(format!(
            "test {number} was planned but never ran {MISSING_REASON}"
        ));
        self.cases.push(case);
    }

    fn push_missing_summary(&mut self, gaps: &[(usize, usize)], missing: usize) {
        let (Some(&(first, _)), Some(&(_, last))) = (gaps.first(), gaps.last()) else {
            return;
        };
        let which = if gaps.len() == 1 {
            format!("tests {first}..{last}")
        } else {
            format!("tests between {first} and {last}")
        };
        let mut case = self.synthesized_case(MISSING_TESTS_CASE, Outcome::Errored);
        case.kind = Some("missing".to_string());
        case.message = Some(format!(
            "{missing} planned tests never ran ({which}) {MISSING_REASON}"
        ));
        self.cases.push(case);
    }

    fn push_plan_case(&mut self, message: String) {
        let mut case = self.synthesized_case(PLAN_CASE, Outcome::Errored);
        case.kind = Some("plan".to_string());
        case.message = Some(message);
        self.cases.push(case);
    }

    /// A case that stands for something other than a test point.
    fn synthesized_case(&mut self, name: &str, outcome: Outcome) -> CaseResult {
        let name = self.unique_name(name.to_string(), 2);
        CaseResult::new(self.group.clone(), name, outcome)
    }

    /// Makes `base` unique by appending ` (#n)`, so that every case keeps a stable identity
    /// across retries even when a producer reuses descriptions.
    fn unique_name(&mut self, base: String, mut n: usize) -> String {
        if self.names.insert(base.clone()) {
            return base;
        }
        loop {
            let candidate = format!("{base} (#{n})");
            if self.names.insert(candidate.clone()) {
                return candidate;
            }
            n = n.saturating_add(1);
        }
    }
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
        expected = number + 1;
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

/// Cheap check, used to notice that indented lines are a TAP 14 subtest.
fn looks_like_tap(line: &str) -> bool {
    line.starts_with("# Subtest")
        || is_version_line(line)
        || parse_plan(line).is_some()
        || strip_keyword(line, "ok").is_some()
        || strip_keyword(line, "not").is_some_and(|rest| strip_keyword(rest, "ok").is_some())
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
fn one_line(text: &str) -> String {
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

/// The top-level `message:` of a (dedented) YAML diagnostics block, as one unquoted line.
fn yaml_message(yaml: &str) -> Option<String> {
    let mut lines = yaml.lines();
    while let Some(line) = lines.next() {
        let Some(value) = line.strip_prefix("message:") else {
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
        let message = one_line(&message);
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
    fn comments_and_chatter_belong_to_the_next_test() {
        let report = parse(
            "TAP version 14\n1..2\n# starting\n\x1b[32mcolour\x1b[0m\nraw\x07bell\nok 1 - a\n\n# between\n\nmore\n\nok 2 - b\n# after\ntail\n",
            true,
        );
        assert_eq!(
            report.cases[0].system_out,
            "# starting\n\x1b[32mcolour\x1b[0m\nraw\x07bell"
        );
        assert_eq!(report.cases[1].system_out, "# between\n\nmore");
        assert_eq!(report.trailing_output, "# after\ntail");
    }

    #[test]
    fn subtests_go_to_the_parent_system_out() {
        let tap = "TAP version 14\n1..2\n# Subtest: parent\n    1..2\n    ok 1 - child a\n    not ok 2 - child b\n      ---\n      message: inner\n      ...\nnot ok 1 - parent\nok 2 - sibling\n";
        let mut parser = TapParser::new("g");
        let completed: usize = tap.lines().map(|l| usize::from(parser.push_line(l))).sum();
        assert_eq!(completed, 2);
        assert_eq!(parser.count(), 2);
        let report = parser.finish(true);
        assert_eq!(names(&report), ["parent", "sibling"]);
        assert_eq!(
            report.cases[0].system_out,
            "# Subtest: parent\n1..2\nok 1 - child a\nnot ok 2 - child b\n  ---\n  message: inner\n  ..."
        );
        assert_eq!(report.cases[0].message.as_deref(), Some("parent"));
    }

    #[test]
    fn indented_subtest_header_and_nesting() {
        let tap = "1..1\n    # Subtest: p\n    ok 1 - c\n        ok 1 - deep\n    1..1\nok 1 - p\n";
        let report = parse(tap, true);
        assert_eq!(names(&report), ["p"]);
        assert_eq!(
            report.cases[0].system_out,
            "# Subtest: p\nok 1 - c\n    ok 1 - deep\n1..1"
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
        assert_eq!(bail.system_out, "# disk full");
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
        assert_eq!(report.trailing_output, "1..5");
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
