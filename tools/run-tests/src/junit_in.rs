//! JUnit files written by the test command itself (pytest, nextest, Surefire, gotestsum, bats…),
//! read by a streaming reader over quick-xml and flattened into [`CaseResult`]s so retries and
//! the report are handled like any other format. Only files written during the attempt are
//! read, so stale reports of an earlier build or attempt never count.
//!
//! The reader keeps what the producer wrote, as the Jenkins junit plugin would show the file:
//!
//! - Text is decoded once (entity and character references, CDATA, XML line ends) and kept
//!   whole: no trimming, no splitting, indentation and `>` marker lines intact. Captured text is
//!   bounded per element (first and last [`OUTPUT_HALF`] bytes), so memory does not grow with a
//!   huge `system-out`; the report bounds it the same way.
//! - Outcome as Jenkins decides it: `<skipped>` beats `<error>` beats `<failure>`; only the first
//!   of each counts. `message=` keeps its first line; the body is the element's text, preceded by
//!   the whole message when that has more lines and the text does not already hold it.
//! - `<flakyFailure>`, `<flakyError>`, `<rerunFailure>`, `<rerunError>` become [`Rerun`]s.
//! - A `<error>` (or `<failure>`, which Jenkins ignores but which must not pass silently) directly
//!   under a suite (a class that failed to load) becomes a case `<init>` of that suite.
//! - `time` is read as Jenkins' `TimeToFloat` reads it (commas removed, a number prefix such as
//!   `1.5s` accepted, clamped to 0…365 days). A value that is not a plain number is noted in a
//!   `junit-in:note` property; an unreadable one leaves the case without a time, never drops it.
//! - `<properties>` of suites become report properties `junit-in:NAME`, those of cases (pytest's
//!   `record_property`) `junit-in:CLASSNAME.NAME:PROPERTY` (the xunit schema has no properties on
//!   testcases); identical pairs are kept once.
//! - A suite's own `system-out`/`system-err` is kept with the run's output under a header line
//!   naming the file and the suite (or on the `<init>` case of a suite that failed to load).
//!
//! A file is refused whole (one errored case naming it and the problem, as Jenkins shows
//! `[failed-to-read]`) when it is not well-formed, holds a second document after its root
//! element, nests elements deeper than [`MAX_DEPTH`], or declares entities in a DOCTYPE. Entities
//! are never expanded and nothing external is ever fetched.

use std::collections::HashSet;
use std::fs::File;
use std::io::BufReader;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use cdkit::junit::OUTPUT_HALF;
use quick_xml::events::{BytesRef, BytesStart, Event};
use quick_xml::reader::Reader;
use quick_xml::XmlVersion;

use crate::model::{CaseResult, Outcome, Rerun, RerunKind};

/// Kind of the case reported for a file that could not be read.
pub const UNREADABLE_KIND: &str = "junit-parse";

/// Kind of the case made from a suite-level `<error>`/`<failure>`.
pub const SUITE_PROBLEM_KIND_NAME: &str = "<init>";

/// Deepest element nesting read. Real reports nest a handful of levels (suites, case, rerun,
/// stack trace); a file nesting thousands of levels is broken or hostile, and refusing it keeps
/// the reader's memory bounded.
pub const MAX_DEPTH: usize = 256;

/// Notes about odd values kept per run, so a generated file with a bad value on every case
/// cannot flood the report's properties.
const MAX_NOTES: usize = 20;

/// Name of the property that records values read differently from how they were written.
pub const NOTE_PROPERTY: &str = "junit-in:note";

/// Clock slack: file times come from the kernel's coarse clock, which may lag `SystemTime::now()`
/// by a tick.
const MTIME_SLACK: Duration = Duration::from_millis(50);

/// Longest duration Jenkins keeps (`CaseResult.clampDuration`).
const MAX_SECONDS: f64 = 365.0 * 24.0 * 60.0 * 60.0;

/// Files matching `pattern` (relative to `base`) modified at or after `since`, sorted.
pub fn fresh_files(base: &Path, pattern: &str, since: SystemTime) -> Vec<PathBuf> {
    let full = if Path::new(pattern).is_absolute() {
        pattern.to_string()
    } else {
        format!(
            "{}/{pattern}",
            glob::Pattern::escape(&base.to_string_lossy())
        )
    };
    let Ok(paths) = glob::glob(&full) else {
        return Vec::new(); // the pattern was validated up front
    };
    let threshold = since.checked_sub(MTIME_SLACK).unwrap_or(since);
    let mut files: Vec<PathBuf> = paths
        .flatten()
        .filter(|p| {
            std::fs::metadata(p)
                .and_then(|m| m.modified())
                .is_ok_and(|t| t >= threshold)
        })
        .collect();
    files.sort();
    files
}

/// Everything read from one attempt's JUnit files.
#[derive(Debug, Default, Clone)]
pub struct JunitInput {
    /// Every testcase of every file, in file and document order.
    pub cases: Vec<CaseResult>,
    /// Suite and case properties, and notes about odd values (see the module documentation).
    pub properties: Vec<(String, String)>,
    /// Suites' own `system-out`, each under a header line naming file and suite.
    pub system_out: String,
    /// Suites' own `system-err`, the same way.
    pub system_err: String,
}

/// Read every file; a file that cannot be read becomes one errored case naming it.
pub fn read_files(files: &[PathBuf], base: &Path) -> JunitInput {
    let mut input = JunitInput::default();
    let mut seen_properties = HashSet::new();
    let mut notes = 0usize;
    for file in files {
        let shown = file
            .strip_prefix(base)
            .unwrap_or(file)
            .display()
            .to_string();
        match read_file(file, &shown) {
            Ok(parsed) => {
                input.cases.extend(parsed.cases);
                for (name, value) in parsed.properties {
                    if seen_properties.insert((name.clone(), value.clone())) {
                        input.properties.push((name, value));
                    }
                }
                for note in parsed.notes {
                    notes += 1;
                    if notes <= MAX_NOTES {
                        input.properties.push((NOTE_PROPERTY.into(), note));
                    }
                }
                input.system_out.push_str(&parsed.system_out);
                input.system_err.push_str(&parsed.system_err);
            }
            Err(reason) => {
                let mut case = CaseResult::new("junit-in", shown.clone(), Outcome::Errored);
                case.kind = Some(UNREADABLE_KIND.into());
                case.message = Some(format!("cannot read JUnit file {shown}: {reason}"));
                input.cases.push(case);
            }
        }
    }
    if notes > MAX_NOTES {
        input.properties.push((
            NOTE_PROPERTY.into(),
            format!("{} more notes like these were left out", notes - MAX_NOTES),
        ));
    }
    disambiguate(&mut input.cases);
    input
}

/// Parameterised tests often repeat a name; suffix repeats so every case has its own identity.
fn disambiguate(cases: &mut [CaseResult]) {
    let mut seen: std::collections::HashMap<(String, String), usize> =
        std::collections::HashMap::new();
    for case in cases.iter_mut() {
        let count = seen
            .entry((case.group.clone(), case.name.clone()))
            .or_insert(0);
        *count += 1;
        if *count > 1 {
            case.name = format!("{} (#{count})", case.name);
        }
    }
}

/// What one readable file holds.
#[derive(Debug, Default)]
struct FileResult {
    cases: Vec<CaseResult>,
    properties: Vec<(String, String)>,
    notes: Vec<String>,
    system_out: String,
    system_err: String,
}

fn read_file(path: &Path, shown: &str) -> Result<FileResult, String> {
    let file = File::open(path).map_err(|e| e.to_string())?;
    if file.metadata().map(|m| m.len()).unwrap_or(1) == 0 {
        return Err("the file is empty".into());
    }
    let mut reader = Reader::from_reader(BufReader::new(file));
    let config = reader.config_mut();
    config.trim_text(false);
    config.expand_empty_elements = true;
    config.check_end_names = true;
    let mut state = State::new(shown);
    let mut buf = Vec::new();
    loop {
        buf.clear();
        let event = reader
            .read_event_into(&mut buf)
            .map_err(|e| format!("{e} (at byte {})", reader.error_position()))?;
        let at = reader.buffer_position();
        let done = state
            .event(event, &reader)
            .map_err(|e| format!("{e} (at byte {at})"))?;
        if done {
            return Ok(state.out);
        }
    }
}

/// Text of one element, bounded: the first [`OUTPUT_HALF`] bytes and a rolling last part, so a
/// huge element costs a fixed amount of memory.
#[derive(Debug, Default)]
struct Captured {
    head: String,
    tail: String,
    omitted: usize,
}

impl Captured {
    fn push(&mut self, text: &str) {
        if self.tail.is_empty() && self.omitted == 0 {
            self.head.push_str(text);
            if self.head.len() <= 2 * OUTPUT_HALF {
                return;
            }
            let cut = floor_boundary(&self.head, OUTPUT_HALF);
            self.tail = self.head.split_off(cut);
        } else {
            self.tail.push_str(text);
        }
        if self.tail.len() > 2 * OUTPUT_HALF {
            let start = ceil_boundary(&self.tail, self.tail.len() - OUTPUT_HALF);
            self.omitted += start;
            self.tail.drain(..start);
        }
    }

    fn finish(self) -> String {
        if self.omitted == 0 {
            self.head + &self.tail
        } else {
            format!(
                "{}\n[... {} bytes omitted by run-tests ...]\n{}",
                self.head, self.omitted, self.tail
            )
        }
    }
}

fn floor_boundary(s: &str, mut at: usize) -> usize {
    at = at.min(s.len());
    while !s.is_char_boundary(at) {
        at -= 1;
    }
    at
}

fn ceil_boundary(s: &str, mut at: usize) -> usize {
    while at < s.len() && !s.is_char_boundary(at) {
        at += 1;
    }
    at
}

/// `<failure>`, `<error>` or `<skipped>` as written.
#[derive(Debug, Default)]
struct Problem {
    message: Option<String>,
    kind: Option<String>,
    text: String,
}

impl Problem {
    /// The one-line summary: the first non-blank line of `message=`, else of the text.
    fn summary(&self) -> Option<String> {
        [self.message.as_deref(), Some(self.text.as_str())]
            .into_iter()
            .flatten()
            .find_map(|s| s.lines().map(str::trim).find(|l| !l.is_empty()))
            .map(str::to_string)
    }

    /// The body: the text, with a message of several lines in front unless the text holds it.
    fn body(&self) -> String {
        match self.message.as_deref().map(str::trim) {
            Some(m) if m.lines().nth(1).is_some() && !self.text.contains(m) => {
                if self.text.is_empty() {
                    m.to_string()
                } else {
                    format!("{m}\n\n{}", self.text)
                }
            }
            _ => self.text.clone(),
        }
    }
}

#[derive(Debug, Default)]
struct SuiteFrame {
    name: Option<String>,
    time: Option<String>,
    /// First suite-level `<error>` and `<failure>`.
    error: Option<Problem>,
    failure: Option<Problem>,
    system_out: Option<String>,
    system_err: Option<String>,
}

#[derive(Debug, Default)]
struct CaseFrame {
    classname: Option<String>,
    name: Option<String>,
    time: Option<String>,
    suite_name: Option<String>,
    failure: Option<Problem>,
    error: Option<Problem>,
    skipped: Option<Problem>,
    system_out: Option<String>,
    system_err: Option<String>,
    reruns: Vec<Rerun>,
    properties: Vec<(String, String)>,
}

#[derive(Debug)]
struct RerunFrame {
    rerun: Rerun,
    time: Option<String>,
    /// The element's own text before its first child: the trace, as nextest writes it and as
    /// Surefire did before 2.22.1 moved it into `<stackTrace>`. Text between and after the
    /// children is indentation.
    text: Captured,
    saw_child: bool,
    stack_trace: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Stream {
    Out,
    Err,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum ProblemTag {
    Failure,
    Error,
    Skipped,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum RerunPart {
    StackTrace,
    Stream(Stream),
}

/// One open element and what its content is for.
#[derive(Debug)]
enum Frame {
    Suite(SuiteFrame),
    Case(Box<CaseFrame>),
    Properties,
    Property {
        name: Option<String>,
        value: Option<String>,
        text: Captured,
    },
    /// `<failure>`/`<error>`/`<skipped>` of a case, or `<error>`/`<failure>` of a suite.
    Problem {
        tag: ProblemTag,
        problem: Problem,
        text: Captured,
    },
    Output {
        stream: Stream,
        text: Captured,
    },
    Rerun(Box<RerunFrame>),
    RerunPart {
        part: RerunPart,
        text: Captured,
    },
    /// Anything else: ignored, but text inside it still belongs to an enclosing text element.
    Other,
}

impl Frame {
    fn captured(&mut self) -> Option<&mut Captured> {
        match self {
            Frame::Property { text, .. }
            | Frame::Problem { text, .. }
            | Frame::Output { text, .. }
            | Frame::RerunPart { text, .. } => Some(text),
            Frame::Rerun(r) if !r.saw_child => Some(&mut r.text),
            _ => None,
        }
    }
}

struct State<'a> {
    file: &'a str,
    frames: Vec<Frame>,
    /// Whether the root element has ended: anything but comments after it is refused.
    root_closed: bool,
    out: FileResult,
}

impl<'a> State<'a> {
    fn new(file: &'a str) -> Self {
        State {
            file,
            frames: Vec::new(),
            root_closed: false,
            out: FileResult::default(),
        }
    }

    /// Handle one event; `Ok(true)` at the end of the file.
    fn event<R>(&mut self, event: Event<'_>, reader: &Reader<R>) -> Result<bool, String> {
        match event {
            Event::Start(start) => self.start(&start, reader)?,
            Event::End(_) => self.end(),
            Event::Empty(start) => {
                // Not produced with `expand_empty_elements`, handled the same way regardless.
                self.start(&start, reader)?;
                self.end();
            }
            Event::Text(text) => {
                let text = text
                    .xml10_content()
                    .map_err(|e| format!("text is not UTF-8: {e}"))?;
                self.text(&text)?;
            }
            Event::CData(data) => {
                let text = data
                    .xml10_content()
                    .map_err(|e| format!("CDATA is not UTF-8: {e}"))?;
                self.text(&text)?;
            }
            Event::GeneralRef(reference) => {
                let resolved = resolve_reference(&reference)?;
                self.text(&resolved)?;
            }
            Event::Decl(_) => {
                if self.root_closed {
                    return Err(SECOND_DOCUMENT.into());
                }
            }
            Event::DocType(doctype) => {
                let text = String::from_utf8_lossy(&doctype);
                if text.contains("<!ENTITY") {
                    return Err(
                        "the DOCTYPE declares entities, which are never expanded (refused)".into(),
                    );
                }
            }
            Event::PI(_) | Event::Comment(_) => {}
            Event::Eof => {
                if let Some(open) = self.frames.len().checked_sub(1) {
                    return Err(format!(
                        "the file ends inside an element {} levels deep (truncated?)",
                        open + 1
                    ));
                }
                if !self.root_closed {
                    return Err("no root element".into());
                }
                return Ok(true);
            }
        }
        Ok(false)
    }

    fn text(&mut self, text: &str) -> Result<(), String> {
        if self.frames.is_empty() {
            if text.trim().is_empty() {
                return Ok(());
            }
            return Err(if self.root_closed {
                SECOND_DOCUMENT.into()
            } else {
                "text before the root element".into()
            });
        }
        // Text belongs to the innermost text element, through any unknown elements in it.
        for frame in self.frames.iter_mut().rev() {
            if let Some(captured) = frame.captured() {
                captured.push(text);
                return Ok(());
            }
            if !matches!(frame, Frame::Other) {
                return Ok(()); // whitespace between structural elements
            }
        }
        Ok(())
    }

    fn start<R>(&mut self, start: &BytesStart<'_>, reader: &Reader<R>) -> Result<(), String> {
        if self.root_closed {
            return Err(SECOND_DOCUMENT.into());
        }
        if self.frames.len() >= MAX_DEPTH {
            return Err(format!(
                "elements are nested more than {MAX_DEPTH} levels deep (refused)"
            ));
        }
        if let Some(Frame::Rerun(rerun)) = self.frames.last_mut() {
            rerun.saw_child = true;
        }
        let local = start.local_name();
        let name = local.as_ref();
        let attrs = Attrs::read(start, reader)?;
        let frame = match (self.frames.last(), name) {
            // Like Jenkins: any root element is a suite, and so is every nested <testsuite>.
            (None, _) | (Some(Frame::Suite(_)), b"testsuite") => Frame::Suite(SuiteFrame {
                name: attrs.get("name"),
                time: attrs.get("time"),
                ..SuiteFrame::default()
            }),
            (Some(Frame::Suite(suite)), b"testcase") => Frame::Case(Box::new(CaseFrame {
                classname: attrs.get("classname"),
                name: attrs.get("name"),
                time: attrs.get("time"),
                suite_name: suite.name.clone(),
                ..CaseFrame::default()
            })),
            (Some(Frame::Suite(_)), b"error") => problem_frame(ProblemTag::Error, &attrs),
            (Some(Frame::Suite(_)), b"failure") => problem_frame(ProblemTag::Failure, &attrs),
            (Some(Frame::Suite(_) | Frame::Case(_)), b"properties") => Frame::Properties,
            (Some(Frame::Properties), b"property") => Frame::Property {
                name: attrs.get("name"),
                value: attrs.get("value"),
                text: Captured::default(),
            },
            (Some(Frame::Suite(_) | Frame::Case(_)), b"system-out") => Frame::Output {
                stream: Stream::Out,
                text: Captured::default(),
            },
            (Some(Frame::Suite(_) | Frame::Case(_)), b"system-err") => Frame::Output {
                stream: Stream::Err,
                text: Captured::default(),
            },
            (Some(Frame::Case(_)), b"failure") => problem_frame(ProblemTag::Failure, &attrs),
            (Some(Frame::Case(_)), b"error") => problem_frame(ProblemTag::Error, &attrs),
            (Some(Frame::Case(_)), b"skipped") => problem_frame(ProblemTag::Skipped, &attrs),
            (Some(Frame::Case(_)), tag) if rerun_tag(tag).is_some() => {
                let (kind, error) = rerun_tag(tag).unwrap_or((RerunKind::Rerun, false));
                Frame::Rerun(Box::new(RerunFrame {
                    rerun: Rerun {
                        kind,
                        error,
                        message: attrs.get("message"),
                        kind_name: attrs.get("type"),
                        body: String::new(),
                        system_out: String::new(),
                        system_err: String::new(),
                        time: None,
                    },
                    time: attrs.get("time"),
                    text: Captured::default(),
                    saw_child: false,
                    stack_trace: None,
                }))
            }
            (Some(Frame::Rerun(_)), b"stackTrace") => Frame::RerunPart {
                part: RerunPart::StackTrace,
                text: Captured::default(),
            },
            (Some(Frame::Rerun(_)), b"system-out") => Frame::RerunPart {
                part: RerunPart::Stream(Stream::Out),
                text: Captured::default(),
            },
            (Some(Frame::Rerun(_)), b"system-err") => Frame::RerunPart {
                part: RerunPart::Stream(Stream::Err),
                text: Captured::default(),
            },
            _ => Frame::Other,
        };
        self.frames.push(frame);
        Ok(())
    }

    /// Close the innermost element and hand what it held to its parent.
    fn end(&mut self) {
        let Some(frame) = self.frames.pop() else {
            return; // quick-xml refuses unmatched end tags before this
        };
        if self.frames.is_empty() {
            self.root_closed = true;
        }
        let frame = match frame {
            Frame::Suite(suite) => return self.finish_suite(suite),
            Frame::Case(case) => return self.finish_case(*case),
            Frame::Property {
                name: Some(name),
                value,
                text,
            } => return self.finish_property(name, value, text),
            other => other,
        };
        let file = self.file;
        let Some(parent) = self.frames.last_mut() else {
            return;
        };
        match (frame, parent) {
            (
                Frame::Problem {
                    tag,
                    mut problem,
                    text,
                },
                parent,
            ) => {
                problem.text = text.finish();
                let slot = match (parent, tag) {
                    (Frame::Case(case), ProblemTag::Failure) => &mut case.failure,
                    (Frame::Case(case), ProblemTag::Error) => &mut case.error,
                    (Frame::Case(case), ProblemTag::Skipped) => &mut case.skipped,
                    (Frame::Suite(suite), ProblemTag::Error) => &mut suite.error,
                    (Frame::Suite(suite), _) => &mut suite.failure,
                    _ => return,
                };
                // Jenkins reads the first of each only.
                if slot.is_none() {
                    *slot = Some(problem);
                }
            }
            (Frame::Output { stream, text }, parent) => {
                let slot = match (parent, stream) {
                    (Frame::Case(case), Stream::Out) => &mut case.system_out,
                    (Frame::Case(case), Stream::Err) => &mut case.system_err,
                    (Frame::Suite(suite), Stream::Out) => &mut suite.system_out,
                    (Frame::Suite(suite), Stream::Err) => &mut suite.system_err,
                    _ => return,
                };
                if slot.is_none() {
                    *slot = Some(text.finish());
                }
            }
            (Frame::Rerun(rerun), Frame::Case(case)) => {
                let RerunFrame {
                    mut rerun,
                    time,
                    text,
                    stack_trace,
                    ..
                } = *rerun;
                rerun.body = stack_trace.unwrap_or_else(|| text.finish());
                if let Some(raw) = time {
                    let what = format!("{file}: a rerun of {}", case_label(case));
                    rerun.time = read_time(&raw, &what, &mut self.out.notes);
                }
                case.reruns.push(rerun);
            }
            (Frame::RerunPart { part, text }, Frame::Rerun(rerun)) => {
                let text = text.finish();
                match part {
                    RerunPart::StackTrace => {
                        rerun.stack_trace.get_or_insert(text);
                    }
                    RerunPart::Stream(Stream::Out) if rerun.rerun.system_out.is_empty() => {
                        rerun.rerun.system_out = text;
                    }
                    RerunPart::Stream(Stream::Err) if rerun.rerun.system_err.is_empty() => {
                        rerun.rerun.system_err = text;
                    }
                    RerunPart::Stream(_) => {}
                }
            }
            _ => {}
        }
    }

    /// A `<property>` (its value, else its text) goes to the case or suite holding the
    /// `<properties>` it is in. Jenkins skips properties without a name, and so does this.
    fn finish_property(&mut self, name: String, value: Option<String>, text: Captured) {
        let value = value.unwrap_or_else(|| text.finish());
        let owner = self
            .frames
            .len()
            .checked_sub(2)
            .and_then(|i| self.frames.get_mut(i));
        match owner {
            Some(Frame::Case(case)) => case.properties.push((name, value)),
            _ => self
                .out
                .properties
                .push((format!("junit-in:{name}"), value)),
        }
    }

    fn finish_case(&mut self, case: CaseFrame) {
        let (group, name) = identity(&case);
        let (outcome, problem) = if let Some(p) = case.skipped {
            (Outcome::Skipped, Some(p))
        } else if let Some(p) = case.error {
            (Outcome::Errored, Some(p))
        } else if let Some(p) = case.failure {
            (Outcome::Failed, Some(p))
        } else {
            (Outcome::Passed, None)
        };
        let mut result = CaseResult::new(group.clone(), name.clone(), outcome);
        if let Some(problem) = problem {
            result.message = problem.summary();
            result.kind = problem.kind.clone().filter(|k| !k.is_empty());
            result.details = problem.body();
        }
        result.system_out = case.system_out.unwrap_or_default();
        result.system_err = case.system_err.unwrap_or_default();
        if let Some(raw) = &case.time {
            let what = format!("{}: testcase {group}.{name}", self.file);
            result.time = read_time(raw, &what, &mut self.out.notes);
        }
        result.reruns = case.reruns;
        for (property, value) in case.properties {
            self.out
                .properties
                .push((format!("junit-in:{group}.{name}:{property}"), value));
        }
        self.out.cases.push(result);
    }

    fn finish_suite(&mut self, suite: SuiteFrame) {
        let label = suite
            .name
            .clone()
            .filter(|n| !n.is_empty())
            .unwrap_or_else(|| "(unnamed)".into());
        let problem = suite
            .error
            .map(|p| (Outcome::Errored, p))
            .or(suite.failure.map(|p| (Outcome::Failed, p)));
        if let Some((outcome, problem)) = problem {
            // Jenkins shows this as a case `<init>`: the suite's class failed to load.
            let group = suite
                .name
                .clone()
                .filter(|n| !n.is_empty())
                .unwrap_or_else(|| "junit".into());
            let mut case = CaseResult::new(group.clone(), SUITE_PROBLEM_KIND_NAME, outcome);
            case.message = problem.summary();
            case.kind = problem.kind.clone().filter(|k| !k.is_empty());
            case.details = problem.body();
            case.system_out = suite.system_out.unwrap_or_default();
            case.system_err = suite.system_err.unwrap_or_default();
            if let Some(raw) = &suite.time {
                let what = format!("{}: suite {group}", self.file);
                case.time = read_time(raw, &what, &mut self.out.notes);
            }
            self.out.cases.push(case);
            return;
        }
        let header = |stream: &str| format!("--- {stream} of suite {label} in {} ---\n", self.file);
        if let Some(text) = suite.system_out.filter(|t| !t.trim().is_empty()) {
            let head = header("system-out");
            push_section(&mut self.out.system_out, &head, &text);
        }
        if let Some(text) = suite.system_err.filter(|t| !t.trim().is_empty()) {
            let head = header("system-err");
            push_section(&mut self.out.system_err, &head, &text);
        }
    }
}

fn push_section(out: &mut String, header: &str, text: &str) {
    out.push_str(header);
    out.push_str(text);
    if !text.ends_with('\n') {
        out.push('\n');
    }
}

fn problem_frame(tag: ProblemTag, attrs: &Attrs) -> Frame {
    Frame::Problem {
        tag,
        problem: Problem {
            message: attrs.get("message"),
            kind: attrs.get("type"),
            text: String::new(),
        },
        text: Captured::default(),
    }
}

fn rerun_tag(tag: &[u8]) -> Option<(RerunKind, bool)> {
    match tag {
        b"flakyFailure" => Some((RerunKind::Flaky, false)),
        b"flakyError" => Some((RerunKind::Flaky, true)),
        b"rerunFailure" => Some((RerunKind::Rerun, false)),
        b"rerunError" => Some((RerunKind::Rerun, true)),
        _ => None,
    }
}

/// Why a file with more after its root element is refused.
const SECOND_DOCUMENT: &str = "content after the root element ended: a second document \
     (two reports concatenated?) is refused, as Jenkins refuses it";

/// The case's group and name, with Jenkins' fallbacks: no classname → the suite's name; neither
/// → the part of a dotted name before its last dot.
fn identity(case: &CaseFrame) -> (String, String) {
    let name = case.name.clone().unwrap_or_default();
    let group = [case.classname.as_deref(), case.suite_name.as_deref()]
        .into_iter()
        .flatten()
        .find(|g| !g.is_empty())
        .map(str::to_string);
    let (group, name) = match group {
        Some(g) => (g, name),
        None => match name.rsplit_once('.') {
            Some((g, n)) if !g.is_empty() && !n.is_empty() => (g.to_string(), n.to_string()),
            _ => ("junit".to_string(), name),
        },
    };
    let name = if name.is_empty() {
        "(unnamed)".to_string()
    } else {
        name
    };
    (group, name)
}

fn case_label(case: &CaseFrame) -> String {
    let (group, name) = identity(case);
    format!("{group}.{name}")
}

/// An entity or character reference in text. Only the five XML entities exist here: a DOCTYPE
/// declaring others is refused, so any other name is an error rather than a silent gap.
fn resolve_reference(reference: &BytesRef<'_>) -> Result<String, String> {
    let name = reference
        .decode()
        .map_err(|e| format!("bad reference: {e}"))?;
    if reference.is_char_ref() {
        return match reference.resolve_char_ref() {
            Ok(Some(c)) => Ok(c.to_string()),
            _ => Err(format!("bad character reference &{name};")),
        };
    }
    quick_xml::escape::resolve_predefined_entity(&name)
        .map(str::to_string)
        .ok_or_else(|| format!("unknown entity &{name}; (entities are never expanded)"))
}

/// A start tag's attributes, decoded (references resolved, whitespace normalised as XML says).
struct Attrs(Vec<(Vec<u8>, String)>);

impl Attrs {
    fn read<R>(start: &BytesStart<'_>, reader: &Reader<R>) -> Result<Attrs, String> {
        let mut out = Vec::new();
        for attr in start.attributes() {
            let attr = attr.map_err(|e| format!("bad attribute: {e}"))?;
            let value = attr
                .decoded_and_normalized_value(XmlVersion::Implicit1_0, reader.decoder())
                .map_err(|e| {
                    format!(
                        "bad value of attribute {}: {e}",
                        String::from_utf8_lossy(attr.key.as_ref())
                    )
                })?;
            out.push((attr.key.local_name().as_ref().to_vec(), value.into_owned()));
        }
        Ok(Attrs(out))
    }

    fn get(&self, name: &str) -> Option<String> {
        self.0
            .iter()
            .find(|(k, _)| k == name.as_bytes())
            .map(|(_, v)| v.clone())
    }
}

/// A `time` value read as Jenkins' `TimeToFloat` reads it: every comma removed, then a number,
/// else the longest number at the start (`1.5s` → 1.5), clamped to 0…365 days. A value that was
/// not a plain number gets a note saying how it was read; one with no number gives no time.
pub fn read_time(raw: &str, what: &str, notes: &mut Vec<String>) -> Option<Duration> {
    let plain = raw.trim();
    if let Some(secs) = plain
        .parse::<f64>()
        .ok()
        .filter(|s| s.is_finite() && (0.0..=MAX_SECONDS).contains(s))
        .filter(|_| {
            plain
                .bytes()
                .all(|b| b.is_ascii_digit() || b".eE+-".contains(&b))
        })
    {
        return Some(Duration::from_secs_f64(secs));
    }
    let without_commas = plain.replace(',', "");
    let read = without_commas
        .parse::<f64>()
        .ok()
        .filter(|s| !s.is_nan())
        .or_else(|| number_prefix(&without_commas));
    match read {
        Some(secs) => {
            let secs = secs.clamp(0.0, MAX_SECONDS);
            notes.push(format!(
                "{what}: time=\"{raw}\" read as {secs:.3} s, as Jenkins reads it"
            ));
            Some(Duration::from_secs_f64(secs))
        }
        None => {
            notes.push(format!(
                "{what}: time=\"{raw}\" is not a number; no time recorded"
            ));
            None
        }
    }
}

/// The longest decimal number at the start of `text` (`1.5s` → 1.5), as Java's
/// `DecimalFormat.parse` reads a prefix.
fn number_prefix(text: &str) -> Option<f64> {
    let bytes = text.as_bytes();
    let mut end = 0;
    if matches!(bytes.first(), Some(b'-' | b'+')) {
        end = 1;
    }
    let digits_start = end;
    while end < bytes.len() && bytes[end].is_ascii_digit() {
        end += 1;
    }
    let mut digits = end - digits_start;
    if end < bytes.len() && bytes[end] == b'.' {
        let frac_start = end + 1;
        let mut frac_end = frac_start;
        while frac_end < bytes.len() && bytes[frac_end].is_ascii_digit() {
            frac_end += 1;
        }
        digits += frac_end - frac_start;
        end = frac_end;
    }
    if digits == 0 {
        return None;
    }
    text[..end].parse::<f64>().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read(xml: &str) -> JunitInput {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("report.xml");
        std::fs::write(&file, xml).unwrap();
        read_files(std::slice::from_ref(&file), dir.path())
    }

    fn only_case(xml: &str) -> CaseResult {
        let input = read(xml);
        assert_eq!(input.cases.len(), 1, "{:?}", input.cases);
        input.cases.into_iter().next().unwrap()
    }

    const PYTEST_LIKE: &str = r#"<?xml version="1.0" encoding="utf-8"?>
<testsuites><testsuite name="pytest" tests="4" errors="1" failures="1" skipped="1" time="0.5">
<testcase classname="tests.test_api" name="test_ok" time="0.1"/>
<testcase classname="tests.test_api" name="test_bad" time="0.2"><failure message="assert 1 == 2">trace</failure></testcase>
<testcase classname="tests.test_api" name="test_bad" time="0.2"><failure message="again">trace</failure></testcase>
<testcase classname="tests.test_db" name="test_conn" time="0.1"><error message="refused" type="OSError">boom</error></testcase>
<testcase name="test_skip" time="0"><skipped message="no db"/></testcase>
</testsuite></testsuites>"#;

    #[test]
    fn cases_keep_outcome_group_and_messages() {
        let cases = read(PYTEST_LIKE).cases;
        let summary: Vec<_> = cases
            .iter()
            .map(|c| (c.group.as_str(), c.name.as_str(), c.outcome))
            .collect();
        assert_eq!(
            summary,
            vec![
                ("tests.test_api", "test_ok", Outcome::Passed),
                ("tests.test_api", "test_bad", Outcome::Failed),
                ("tests.test_api", "test_bad (#2)", Outcome::Failed),
                ("tests.test_db", "test_conn", Outcome::Errored),
                ("pytest", "test_skip", Outcome::Skipped),
            ]
        );
        assert_eq!(cases[1].message.as_deref(), Some("assert 1 == 2"));
        assert_eq!(cases[3].kind.as_deref(), Some("OSError"));
        assert_eq!(cases[4].message.as_deref(), Some("no db"));
    }

    #[test]
    fn a_bare_testsuite_root_is_read() {
        let case =
            only_case(r#"<testsuite name="s"><testcase classname="c" name="n"/></testsuite>"#);
        assert_eq!(case.outcome, Outcome::Passed);
        assert_eq!((case.group.as_str(), case.name.as_str()), ("c", "n"));
    }

    #[test]
    fn unreadable_files_become_one_error_naming_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("broken.xml");
        std::fs::write(&file, "<testsuite><testcase name=").unwrap();
        let cases = read_files(&[file], dir.path()).cases;
        assert_eq!(cases.len(), 1);
        assert_eq!(cases[0].outcome, Outcome::Errored);
        assert_eq!(cases[0].name, "broken.xml");
        assert_eq!(cases[0].kind.as_deref(), Some(UNREADABLE_KIND));
        assert!(cases[0].message.as_deref().unwrap().contains("broken.xml"));
    }

    #[test]
    fn only_files_written_since_the_attempt_started_are_fresh() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("old.xml"), "x").unwrap();
        let old = SystemTime::now() - Duration::from_secs(3600);
        File::options()
            .write(true)
            .open(dir.path().join("old.xml"))
            .unwrap()
            .set_modified(old)
            .unwrap();
        let since = SystemTime::now();
        std::fs::write(dir.path().join("new.xml"), "x").unwrap();
        let files = fresh_files(dir.path(), "*.xml", since);
        assert_eq!(files, vec![dir.path().join("new.xml")]);
    }

    // Defect 3: references decoded in place, text around them kept whole.
    #[test]
    fn references_are_decoded_and_text_keeps_its_lines_and_indentation() {
        let case = only_case(
            "<testsuite name=\"s\"><testcase classname=\"c\" name=\"n\"><failure message=\"m\">\
             java.lang.IllegalStateException: &quot;x&quot; &amp; y\n\
             \tat com.example.LoadEvent.&lt;init&gt;(LoadEvent.java:51)\n\
             &gt;       assert a == b\n\
             E   tab&#9;and &#x263A; char refs\n  \
             <![CDATA[<raw> & kept]]>\r\n\
             </failure></testcase></testsuite>",
        );
        assert_eq!(
            case.details,
            "java.lang.IllegalStateException: \"x\" & y\n\
             \tat com.example.LoadEvent.<init>(LoadEvent.java:51)\n\
             >       assert a == b\n\
             E   tab\tand \u{263a} char refs\n  \
             <raw> & kept\n"
        );
    }

    #[test]
    fn output_is_byte_exact_after_decoding() {
        let case = only_case(
            "<testsuite><testcase classname=\"c\" name=\"n\">\
             <system-out>  indented\n\n    deeper &lt;tag&gt;\n</system-out>\
             <system-err><![CDATA[\n  err ]]>&amp; more  </system-err></testcase></testsuite>",
        );
        assert_eq!(case.system_out, "  indented\n\n    deeper <tag>\n");
        assert_eq!(case.system_err, "\n  err & more  ");
    }

    // Defect 4: the producer's own reruns are kept.
    #[test]
    fn flaky_and_rerun_elements_are_kept_with_their_parts() {
        let input = read(
            r#"<testsuite name="s">
<testcase classname="c" name="flaky" time="0.5">
  <flakyFailure message="first" type="java.lang.AssertionError" time="0.2"><stackTrace>at A.&lt;init&gt;(A.java:1)</stackTrace><system-out>out 1</system-out><system-err>err 1</system-err></flakyFailure>
  <flakyError message="second" type="java.io.IOException">old-style trace</flakyError>
</testcase>
<testcase classname="c" name="broken"><failure message="last" type="T">t3</failure>
  <rerunFailure message="r1" type="T"><stackTrace>t1</stackTrace></rerunFailure>
  <rerunError message="r2" type="E"><stackTrace>t2</stackTrace></rerunError>
</testcase></testsuite>"#,
        );
        let flaky = &input.cases[0];
        assert_eq!(flaky.outcome, Outcome::Passed);
        assert_eq!(flaky.reruns.len(), 2);
        let first = &flaky.reruns[0];
        assert_eq!(
            (first.kind, first.error, first.message.as_deref()),
            (RerunKind::Flaky, false, Some("first"))
        );
        assert_eq!(first.body, "at A.<init>(A.java:1)");
        assert_eq!(
            (first.system_out.as_str(), first.system_err.as_str()),
            ("out 1", "err 1")
        );
        assert_eq!(first.time, Some(Duration::from_millis(200)));
        let second = &flaky.reruns[1];
        assert_eq!((second.kind, second.error), (RerunKind::Flaky, true));
        assert_eq!(second.body, "old-style trace");
        let broken = &input.cases[1];
        assert_eq!(broken.outcome, Outcome::Failed);
        let kinds: Vec<_> = broken.reruns.iter().map(|r| (r.kind, r.error)).collect();
        assert_eq!(
            kinds,
            vec![(RerunKind::Rerun, false), (RerunKind::Rerun, true)]
        );
    }

    // Defect 5: odd time values keep the results.
    #[test]
    fn odd_times_are_read_like_jenkins_and_never_drop_results() {
        let input = read(
            r#"<testsuite name="s">
<testcase classname="c" name="a" time="2,503.1"/>
<testcase classname="c" name="b" time="1,5"/>
<testcase classname="c" name="c" time="1.5s"/>
<testcase classname="c" name="d" time="abc"/>
<testcase classname="c" name="e" time="-3"/>
<testcase classname="c" name="f" time="NaN"/>
<testcase classname="c" name="g" time="0.123"/>
</testsuite>"#,
        );
        let times: Vec<_> = input.cases.iter().map(|c| c.time).collect();
        assert_eq!(
            times,
            vec![
                Some(Duration::from_secs_f64(2503.1)),
                Some(Duration::from_secs(15)),
                Some(Duration::from_millis(1500)),
                None,
                Some(Duration::ZERO),
                None,
                Some(Duration::from_secs_f64(0.123)),
            ]
        );
        assert!(input.cases.iter().all(|c| c.outcome == Outcome::Passed));
        let notes: Vec<_> = input
            .properties
            .iter()
            .filter(|(k, _)| k == NOTE_PROPERTY)
            .map(|(_, v)| v.as_str())
            .collect();
        assert_eq!(notes.len(), 6, "{notes:?}");
        assert!(notes[3].contains("report.xml: testcase c.d: time=\"abc\" is not a number"));
    }

    // Defect 6: multi-line messages are kept whole in the body.
    #[test]
    fn multi_line_messages_keep_their_first_line_and_the_whole_text() {
        let input = read(
            "<testsuite name=\"s\">\
             <testcase classname=\"c\" name=\"f\"><failure message=\"line one&#10;line two\">trace</failure></testcase>\
             <testcase classname=\"c\" name=\"s\"><skipped message=\"why&#10;and more\"/></testcase>\
             <testcase classname=\"c\" name=\"t\"><failure message=\"a&#10;b\">a\nb\nat X</failure></testcase>\
             </testsuite>",
        );
        let [f, s, t] = &input.cases[..] else {
            panic!("{:?}", input.cases)
        };
        assert_eq!(f.message.as_deref(), Some("line one"));
        assert_eq!(f.details, "line one\nline two\n\ntrace");
        assert_eq!(s.message.as_deref(), Some("why"));
        assert_eq!(s.details, "why\nand more");
        assert_eq!(
            t.details, "a\nb\nat X",
            "a text holding the message is kept as is"
        );
    }

    #[test]
    fn skipped_beats_error_beats_failure() {
        let case = only_case(
            "<testsuite><testcase classname=\"c\" name=\"n\"><failure message=\"f\"/>\
             <error message=\"e\" type=\"E\"/></testcase></testsuite>",
        );
        assert_eq!(
            (case.outcome, case.message.as_deref()),
            (Outcome::Errored, Some("e"))
        );
        let case = only_case(
            "<testsuite><testcase classname=\"c\" name=\"n\"><failure message=\"f\"/>\
             <skipped message=\"s\"/></testcase></testsuite>",
        );
        assert_eq!(case.outcome, Outcome::Skipped);
    }

    #[test]
    fn a_suite_level_error_is_an_errored_init_case() {
        let input = read(
            r#"<testsuite name="com.example.BrokenTest" time="0.01">
<error message="Could not initialize class" type="java.lang.NoClassDefFoundError">java.lang.NoClassDefFoundError: x
	at com.example.BrokenTest.&lt;clinit&gt;(BrokenTest.java:9)</error>
<system-out>setup log</system-out>
</testsuite>"#,
        );
        let [case] = &input.cases[..] else {
            panic!("{:?}", input.cases)
        };
        assert_eq!(case.outcome, Outcome::Errored);
        assert_eq!(
            (case.group.as_str(), case.name.as_str()),
            ("com.example.BrokenTest", "<init>")
        );
        assert!(case.details.contains("BrokenTest.<clinit>"));
        assert_eq!(case.system_out, "setup log");
        let case = only_case("<testsuite name=\"s\"><failure message=\"bad\"/></testsuite>");
        assert_eq!(case.outcome, Outcome::Failed);
    }

    #[test]
    fn a_second_document_after_the_root_is_refused() {
        for trailing in [
            "<?xml version=\"1.0\"?><testsuite name=\"b\"><testcase name=\"y\"/></testsuite>",
            "<testsuite name=\"b\"/>",
            "junk",
        ] {
            let xml = format!(
                "<?xml version=\"1.0\"?>\n<testsuite name=\"a\"><testcase name=\"x\"/></testsuite>\n{trailing}"
            );
            let case = only_case(&xml);
            assert_eq!(case.kind.as_deref(), Some(UNREADABLE_KIND), "{trailing}");
            let message = case.message.unwrap();
            assert!(message.contains("report.xml"), "{message}");
        }
        // Comments and whitespace after the root are fine.
        let case = only_case(
            "<testsuite><testcase classname=\"c\" name=\"x\"/></testsuite>\n<!-- end -->\n",
        );
        assert_eq!(case.outcome, Outcome::Passed);
    }

    #[test]
    fn deep_nesting_is_refused_without_overflowing_the_stack() {
        let depth = 3500;
        let xml = format!(
            "{}<testcase name=\"x\"/>{}",
            "<testsuite name=\"s\">".repeat(depth),
            "</testsuite>".repeat(depth)
        );
        let case = only_case(&xml);
        assert_eq!(case.kind.as_deref(), Some(UNREADABLE_KIND));
        assert!(case
            .message
            .unwrap()
            .contains("nested more than 256 levels"));
        // Nesting real reports use is read.
        let xml = format!(
            "{}<testcase classname=\"c\" name=\"x\"/>{}",
            "<testsuite name=\"s\">".repeat(20),
            "</testsuite>".repeat(20)
        );
        assert_eq!(only_case(&xml).outcome, Outcome::Passed);
    }

    #[test]
    fn entity_declarations_are_refused_and_never_expanded() {
        let bomb = r#"<?xml version="1.0"?>
<!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;&lol;&lol;">]>
<testsuite><testcase name="x"><failure>&lol2;</failure></testcase></testsuite>"#;
        let case = only_case(bomb);
        assert_eq!(case.kind.as_deref(), Some(UNREADABLE_KIND));
        let external = r#"<!DOCTYPE t [<!ENTITY xxe SYSTEM "file:///etc/passwd">]><testsuite><testcase name="x"><failure>&xxe;</failure></testcase></testsuite>"#;
        let case = only_case(external);
        assert_eq!(case.kind.as_deref(), Some(UNREADABLE_KIND));
        assert!(!case.message.unwrap().contains("root:"));
    }

    #[test]
    fn properties_of_suites_and_cases_are_kept_once() {
        let input = read(
            r#"<testsuites>
<testsuite name="a"><properties><property name="java.version" value="17.0.9"/><property name="multi">line 1
line 2</property></properties><testcase classname="c" name="x"><properties><property name="ticket" value="ABC-1"/></properties></testcase></testsuite>
<testsuite name="b"><properties><property name="java.version" value="17.0.9"/></properties><testcase classname="c" name="y"/></testsuite>
</testsuites>"#,
        );
        assert_eq!(
            input.properties,
            vec![
                ("junit-in:java.version".to_string(), "17.0.9".to_string()),
                ("junit-in:multi".to_string(), "line 1\nline 2".to_string()),
                ("junit-in:c.x:ticket".to_string(), "ABC-1".to_string()),
            ]
        );
    }

    #[test]
    fn huge_text_is_bounded_to_its_head_and_tail() {
        let big = "x".repeat(5 * OUTPUT_HALF);
        let case = only_case(&format!(
            "<testsuite><testcase classname=\"c\" name=\"n\"><system-out>HEAD{big}TAIL</system-out></testcase></testsuite>"
        ));
        assert!(case.system_out.starts_with("HEAD"));
        assert!(case.system_out.ends_with("TAIL"));
        assert!(case.system_out.len() < 4 * OUTPUT_HALF);
        assert!(case.system_out.contains("bytes omitted by run-tests"));
    }

    #[test]
    fn names_fall_back_like_jenkins() {
        let input = read(
            "<testsuites><testsuite><testcase name=\"com.example.Foo.bar\"/><testcase name=\"\"/></testsuite>\
             <testsuite name=\"suite\"><testcase name=\"n\"/></testsuite></testsuites>",
        );
        let ids: Vec<_> = input
            .cases
            .iter()
            .map(|c| (c.group.as_str(), c.name.as_str()))
            .collect();
        assert_eq!(
            ids,
            vec![
                ("com.example.Foo", "bar"),
                ("junit", "(unnamed)"),
                ("suite", "n")
            ]
        );
    }
}
