//! JUnit XML reports, written with quick-junit behind one module so every tool
//! emits the same shape: `<testsuites name=TOOL>` → `<testsuite name=TOOL.SUBJECT>` → one
//! `<testcase>` per unit of work, all text sanitised and bounded, written atomically, and
//! always valid against the xunit-plugin junit-10 schema that Jenkins users validate with.

use std::path::{Path, PathBuf};
use std::time::Duration;

use chrono::{DateTime, Utc};
use quick_junit::{NonSuccessKind, TestCaseStatus, TestRerun};

use crate::atomic;
use crate::text::{bounded, one_line, sanitize};
// Re-exported for tools that bound foreign output the way reports do (run-tests).
pub use crate::text::{bounded_with_log, OUTPUT_HALF};

/// Environment variable naming the report path when `--junit` is not given.
pub(crate) const ENV: &str = "JUNIT_OUTPUT";

/// Why a report could not be written.
#[derive(Debug, thiserror::Error)]
pub enum JunitError {
    /// quick-junit refused the report (in practice: text it cannot encode). Nothing was
    /// written, so the previous report at `path`, if any, is still whole.
    #[error("cannot serialise JUnit report {path}: {source}")]
    Serialize {
        /// The report path, named in the error line.
        path: PathBuf,
        /// What quick-junit said.
        #[source]
        source: quick_junit::SerializeError,
    },
    /// The atomic write failed; its error already names the path and the step.
    #[error(transparent)]
    Write(#[from] atomic::AtomicWriteError),
}

/// A whole report: one tool, one or more subjects.
#[derive(Debug, Clone)]
pub struct Report {
    /// The tool's name, written as `<testsuites name=…>` so a Jenkins job that collects
    /// several tools' reports can tell them apart.
    pub tool: String,
    /// One per subject, in the order the tool worked on them.
    pub suites: Vec<Suite>,
}

/// One subject of a tool (a package, a test suite, a repository suite, a database).
#[derive(Debug, Clone)]
pub struct Suite {
    /// Full name, `TOOL.SUBJECT`.
    pub name: String,
    /// When the subject's work started (UTC), so reports line up with the log lines.
    pub timestamp: DateTime<Utc>,
    /// How long the whole subject took, including work outside any case.
    pub time: Duration,
    /// Stable facts about the run (command, package version, git sha, full log path).
    pub properties: Vec<(String, String)>,
    /// The units of work; a suite should never be empty (Jenkins fails the build on a report
    /// without cases: see [`Case::nothing_to_do`]).
    pub cases: Vec<Case>,
    /// Suite-level output (sanitised and bounded when written), for what belongs to no case.
    pub system_out: Option<String>,
    /// Suite-level error output, bounded like `system_out`.
    pub system_err: Option<String>,
}

/// One unit of work.
#[derive(Debug, Clone)]
pub struct Case {
    /// Dotted `TOOL.SUBJECT.GROUP`; Jenkins splits it at the last dot into package and class.
    pub classname: String,
    /// The case's own name, unique within its classname so Jenkins keeps its history.
    pub name: String,
    /// How long this unit of work took (all attempts).
    pub time: Duration,
    /// How it ended.
    pub status: Status,
    /// The unit's output, kept for the person reading a failure in Jenkins (bounded).
    pub system_out: Option<String>,
    /// The unit's error output (bounded).
    pub system_err: Option<String>,
}

/// How a unit of work ended.
#[derive(Debug, Clone)]
pub enum Status {
    /// Passed; `flaky` holds the failed attempts before the pass (`<flakyFailure>`).
    Passed {
        /// Failed attempts before the pass, oldest first; empty for a clean pass.
        flaky: Vec<Attempt>,
    },
    /// The thing under test is wrong (`<failure>`); earlier failed attempts are `<rerunFailure>`s.
    Failed(Problem),
    /// The harness failed: timeout, signal, spawn failure, unreachable host (`<error>`).
    Errored(Problem),
    /// Not run, with the reason (a reason of several lines: the first is `message=`, the
    /// whole reason the element's body, so nothing is cut).
    Skipped {
        /// The reason; its first line becomes `message=`.
        message: String,
    },
    /// Not run, with a one-line reason and a body of its own, as foreign reports write it
    /// (pytest's `<skipped message="…">file:line: reason</skipped>`).
    SkippedWithBody {
        /// The one-line reason (`message=`).
        message: String,
        /// The element's text, kept as the foreign report had it.
        body: String,
    },
}

/// A failure or error: one-line message, a type, details, and earlier attempts.
#[derive(Debug, Clone, Default)]
pub struct Problem {
    /// One line for Jenkins' summary (`message=`); longer text belongs in `body`.
    pub message: String,
    /// The `type=` attribute (the schema requires one; an empty kind is written as a default).
    pub kind: String,
    /// The details: output tail, command, host; what someone needs to act on the failure.
    pub body: String,
    /// Earlier failed attempts of a retried unit, oldest first.
    pub reruns: Vec<Attempt>,
}

/// One failed attempt of a retried unit of work.
#[derive(Debug, Clone, Default)]
pub struct Attempt {
    /// The attempt's one-line reason.
    pub message: String,
    /// Its `type=` attribute, as for [`Problem::kind`].
    pub kind: String,
    /// Written as `<flakyError>`/`<rerunError>` instead of the Failure forms. Jenkins reads
    /// only the Failure forms, so tools set this only to keep what a foreign report said.
    pub error: bool,
    /// The attempt's details (a stack trace in foreign reports).
    pub body: String,
    /// The attempt's own output, so a flaky pass still shows what the failure printed.
    pub system_out: Option<String>,
    /// The attempt's own error output.
    pub system_err: Option<String>,
}

impl Case {
    /// A passing case.
    pub fn passed(classname: impl Into<String>, name: impl Into<String>) -> Case {
        Case {
            classname: classname.into(),
            name: name.into(),
            time: Duration::ZERO,
            status: Status::Passed { flaky: Vec::new() },
            system_out: None,
            system_err: None,
        }
    }

    /// The case an empty run writes, because Jenkins fails a build on a report without cases.
    pub fn nothing_to_do(classname: impl Into<String>, reason: impl Into<String>) -> Case {
        Case {
            status: Status::Skipped {
                message: reason.into(),
            },
            ..Case::passed(classname, "nothing to do")
        }
    }

    /// Whether this case counts against the run (failure or error).
    pub fn is_bad(&self) -> bool {
        matches!(self.status, Status::Failed(_) | Status::Errored(_))
    }
}

/// The property every tool's suites carry: the run id that ties a report to its log lines
/// (`CDKIT_RUN_ID`, Jenkins' `BUILD_TAG`, or generated).
pub const RUN_ID_PROPERTY: &str = "run-id";

impl Suite {
    /// A suite named `TOOL.SUBJECT` (or `TOOL` when `subject` is empty) that started at
    /// `started` and ends now, stamped with the run id. Every tool builds its suites here so
    /// that the shape Jenkins and the log search rely on is the same everywhere; add the tool's
    /// own facts with [`Suite::property`].
    pub fn finished(tool: &str, subject: &str, started: DateTime<Utc>, cases: Vec<Case>) -> Suite {
        let name = if subject.is_empty() {
            tool.to_string()
        } else {
            format!("{tool}.{subject}")
        };
        Suite {
            name,
            timestamp: started,
            time: (Utc::now() - started).to_std().unwrap_or_default(),
            properties: vec![(RUN_ID_PROPERTY.into(), crate::run_id::get().to_string())],
            cases,
            system_out: None,
            system_err: None,
        }
    }

    /// The same suite with one more property (kept in the order added, after the run id).
    pub fn property(mut self, name: impl Into<String>, value: impl Into<String>) -> Suite {
        self.properties.push((name.into(), value.into()));
        self
    }
}

impl Report {
    /// A report for `tool` with no suites yet.
    pub fn new(tool: impl Into<String>) -> Report {
        Report {
            tool: tool.into(),
            suites: Vec::new(),
        }
    }

    /// The report as XML bytes (sanitised, bounded, schema-valid).
    pub fn to_xml(&self) -> Result<Vec<u8>, quick_junit::SerializeError> {
        let mut report = quick_junit::Report::new(attr_text(&self.tool));
        for suite in &self.suites {
            report.add_test_suite(convert_suite(suite));
        }
        let mut xml = Vec::new();
        report.serialize(&mut xml)?;
        Ok(drop_root_skipped_count(unshield(xml)))
    }

    /// Write the report to `path` atomically (also used on failure and interruption, so a
    /// report always exists when the tool exits).
    pub fn write(&self, path: &Path) -> Result<(), JunitError> {
        ATTEMPTED.store(true, std::sync::atomic::Ordering::SeqCst);
        let xml = self.to_xml().map_err(|source| JunitError::Serialize {
            path: path.to_path_buf(),
            source,
        })?;
        atomic::write_honouring_umask(path, atomic::REPORT_MODE, &xml)?;
        Ok(())
    }
}

/// Set once this process has tried to write a report: the start-up code then knows whether a
/// run that ended early still owes Jenkins one (see [`crate::cli::run_tool`]). A write that
/// failed counts: the tool has said so, and a second attempt at the same path would only add
/// a second error line.
static ATTEMPTED: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);

/// Whether this process has tried to write a JUnit report.
pub(crate) fn report_attempted() -> bool {
    ATTEMPTED.load(std::sync::atomic::Ordering::SeqCst)
}

/// The report of a run that ended before the tool wrote its own (a refused argument or input,
/// a held lock, a dry run): one suite named after the tool with one case, `run`, whose status
/// follows the exit and whose message is the run's last line, so Jenkins' `junit` step shows
/// the reason instead of "no test report files were found".
pub(crate) fn outcome_report(tool: &str, exit: crate::exit::Exit, reason: Option<&str>) -> Report {
    use crate::exit::Exit;
    let message = reason.map_or_else(|| exit.to_string(), str::to_string);
    let problem = || Problem {
        message: message.clone(),
        kind: exit.to_string(),
        body: message.clone(),
        reruns: Vec::new(),
    };
    let status = match exit {
        Exit::Success => Status::Passed { flaky: Vec::new() },
        Exit::NothingDone => Status::Skipped {
            message: message.clone(),
        },
        Exit::Failed | Exit::NotRestored => Status::Failed(problem()),
        _ => Status::Errored(problem()),
    };
    let mut report = Report::new(tool);
    let case = Case {
        status,
        ..Case::passed(tool, "run")
    };
    report
        .suites
        .push(Suite::finished(tool, "", Utc::now(), vec![case]));
    report
}

fn convert_suite(suite: &Suite) -> quick_junit::TestSuite {
    let mut out = quick_junit::TestSuite::new(attr_text(&suite.name));
    out.set_timestamp(suite.timestamp.fixed_offset());
    out.set_time(suite.time);
    for (name, value) in &suite.properties {
        out.add_property(quick_junit::Property::new(
            attr_text(name),
            attr_text(value),
        ));
    }
    if let Some(text) = &suite.system_out {
        out.set_system_out(body_text(text));
    }
    if let Some(text) = &suite.system_err {
        out.set_system_err(body_text(text));
    }
    out.add_test_cases(suite.cases.iter().map(convert_case));
    out
}

fn convert_case(case: &Case) -> quick_junit::TestCase {
    let status = match &case.status {
        Status::Passed { flaky } => {
            let mut status = TestCaseStatus::success();
            if let TestCaseStatus::Success { flaky_runs } = &mut status {
                flaky_runs.extend(flaky.iter().map(convert_attempt));
            }
            status
        }
        Status::Failed(problem) => convert_problem(NonSuccessKind::Failure, problem),
        Status::Errored(problem) => convert_problem(NonSuccessKind::Error, problem),
        Status::Skipped { message } => {
            let mut status = TestCaseStatus::skipped();
            status.set_message(message_text(message));
            if message.trim().lines().nth(1).is_some() {
                status.set_description(body_text(message));
            }
            status
        }
        Status::SkippedWithBody { message, body } => {
            let mut status = TestCaseStatus::skipped();
            status.set_message(message_text(message));
            if !body.is_empty() {
                status.set_description(body_text(body));
            }
            status
        }
    };
    let mut out = quick_junit::TestCase::new(attr_text(&case.name), status);
    out.set_classname(attr_text(&case.classname));
    out.set_time(case.time);
    if let Some(text) = &case.system_out {
        out.set_system_out(body_text(text));
    }
    if let Some(text) = &case.system_err {
        out.set_system_err(body_text(text));
    }
    out
}

fn convert_problem(kind: NonSuccessKind, problem: &Problem) -> TestCaseStatus {
    let mut status = TestCaseStatus::non_success(kind);
    status.set_message(message_text(&problem.message));
    status.set_type(type_or_default(&problem.kind));
    if !problem.body.is_empty() {
        status.set_description(body_text(&problem.body));
    }
    status.add_reruns(problem.reruns.iter().map(convert_attempt));
    status
}

fn convert_attempt(attempt: &Attempt) -> TestRerun {
    let kind = if attempt.error {
        NonSuccessKind::Error
    } else {
        NonSuccessKind::Failure
    };
    let mut rerun = TestRerun::new(kind);
    rerun.set_message(message_text(&attempt.message));
    rerun.set_type(type_or_default(&attempt.kind)); // the schema requires `type`
    if !attempt.body.is_empty() {
        rerun.set_stack_trace(body_text(&attempt.body));
    }
    if let Some(text) = &attempt.system_out {
        rerun.set_system_out(body_text(text));
    }
    if let Some(text) = &attempt.system_err {
        rerun.set_system_err(body_text(text));
    }
    rerun
}

/// quick-junit passes every string through strip-ansi-escapes, which drops tabs and carriage
/// returns, and it writes newlines in attributes raw, which every XML reader turns into spaces.
/// So these characters go in as noncharacters nothing else uses (any already in the text become
/// U+FFFD) and come out of the serialised report as character references (`&#9;`, `&#13;`,
/// `&#10;`), which every reader decodes back: a Java trace keeps its tabs, a property its lines.
const SHIELDS: [(char, &[u8]); 3] = [
    ('\u{fdd0}', b"&#9;"),
    ('\u{fdd1}', b"&#13;"),
    ('\u{fdd2}', b"&#10;"),
];

fn shield(text: &str, in_attribute: bool) -> String {
    // Most texts hold nothing to shield: 0xEF starts every shield character's UTF-8 form.
    let needs = text
        .bytes()
        .any(|b| b == b'\t' || b == b'\r' || b == 0xEF || (in_attribute && b == b'\n'));
    if !needs {
        return text.to_string();
    }
    text.chars()
        .map(|c| match c {
            '\t' => SHIELDS[0].0,
            '\r' => SHIELDS[1].0,
            '\n' if in_attribute => SHIELDS[2].0,
            c if SHIELDS.iter().any(|(s, _)| *s == c) => '\u{fffd}',
            c => c,
        })
        .collect()
}

/// The report with every shielded character written as its character reference. One pass:
/// every shield character's UTF-8 form is `EF B7 9x`, so only bytes 0xEF are looked at.
fn unshield(xml: Vec<u8>) -> Vec<u8> {
    let encoded: Vec<(Vec<u8>, &[u8])> = SHIELDS
        .iter()
        .map(|(c, reference)| (c.to_string().into_bytes(), *reference))
        .collect();
    let mut out: Option<Vec<u8>> = None;
    let mut copied = 0;
    let mut at = 0;
    while let Some(pos) = xml[at..].iter().position(|&b| b == 0xEF) {
        let start = at + pos;
        at = start + 1;
        if let Some((e, reference)) = encoded.iter().find(|(e, _)| xml[start..].starts_with(e)) {
            let out = out.get_or_insert_with(|| Vec::with_capacity(xml.len()));
            out.extend_from_slice(&xml[copied..start]);
            out.extend_from_slice(reference);
            copied = start + e.len();
            at = copied;
        }
    }
    match out {
        None => xml,
        Some(mut out) => {
            out.extend_from_slice(&xml[copied..]);
            out
        }
    }
}

/// A name, classname, type or property: sanitised, whitespace kept through quick-junit.
fn attr_text(text: &str) -> String {
    shield(&sanitize(text), true)
}

/// A `message=`: its first line, sanitised and bounded.
fn message_text(text: &str) -> String {
    shield(&one_line(text), true)
}

/// An element's text: sanitised and bounded, tabs and line ends kept through quick-junit.
fn body_text(text: &str) -> String {
    shield(&bounded(text), false)
}

fn type_or_default(kind: &str) -> String {
    if kind.is_empty() {
        "failure".to_string()
    } else {
        attr_text(kind)
    }
}

/// quick-junit writes `skipped=` on `<testsuites>`, which junit-10.xsd does not allow there
/// (Jenkins recomputes every count anyway), so it is removed from the root tag only.
fn drop_root_skipped_count(xml: Vec<u8>) -> Vec<u8> {
    let Some(start) = find(&xml, b"<testsuites") else {
        return xml;
    };
    let Some(end) = find(&xml[start..], b">").map(|e| start + e) else {
        return xml;
    };
    let Some(attr) = find(&xml[start..end], b" skipped=\"").map(|a| start + a) else {
        return xml;
    };
    let value_start = attr + b" skipped=\"".len();
    let Some(close) = find(&xml[value_start..end], b"\"").map(|c| value_start + c + 1) else {
        return xml;
    };
    let mut out = Vec::with_capacity(xml.len());
    out.extend_from_slice(&xml[..attr]);
    out.extend_from_slice(&xml[close..]);
    out
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn suite(cases: Vec<Case>) -> Suite {
        Suite {
            name: "run-tests.unit".into(),
            timestamp: Utc::now(),
            time: Duration::from_millis(1234),
            properties: vec![("command".into(), "make check".into())],
            cases,
            system_out: None,
            system_err: None,
        }
    }

    fn xml_of(cases: Vec<Case>) -> String {
        let mut report = Report::new("run-tests");
        report.suites.push(suite(cases));
        String::from_utf8(report.to_xml().unwrap()).unwrap()
    }

    #[test]
    fn root_has_no_skipped_attribute_but_suites_do() {
        let xml = xml_of(vec![Case::nothing_to_do("run-tests.unit.tap", "no tests")]);
        let root = &xml[xml.find("<testsuites").unwrap()..];
        let root_tag = &root[..root.find('>').unwrap()];
        assert!(!root_tag.contains("skipped="), "{root_tag}");
        assert!(xml.contains("<testsuite name=\"run-tests.unit\" tests=\"1\" skipped=\"1\""));
        assert!(xml.contains("<skipped message=\"no tests\""));
    }

    /// A case that passed after `attempt` and one that ended as `problem` after it.
    fn retried(attempt: Attempt, ended: fn(Problem) -> Status, problem: Problem) -> [Case; 2] {
        let flaky = Case {
            status: Status::Passed {
                flaky: vec![attempt.clone()],
            },
            ..Case::passed("a.b.c", "flaky")
        };
        let broken = Case {
            status: ended(Problem {
                reruns: vec![attempt],
                ..problem
            }),
            ..Case::passed("a.b.c", "broken")
        };
        [flaky, broken]
    }

    #[test]
    fn flaky_and_rerun_attempts_are_failure_kinds_with_a_type() {
        let attempt = Attempt {
            message: "boom".into(),
            kind: "timeout".into(),
            ..Attempt::default()
        };
        let problem = Problem {
            message: "still boom".into(),
            kind: "tap".into(),
            body: "details".into(),
            reruns: Vec::new(),
        };
        let xml = xml_of(retried(attempt, Status::Failed, problem).to_vec());
        assert!(
            xml.contains("<flakyFailure message=\"boom\" type=\"timeout\""),
            "{xml}"
        );
        assert!(
            xml.contains("<rerunFailure message=\"boom\" type=\"timeout\""),
            "{xml}"
        );
        assert!(xml.contains("<failure message=\"still boom\" type=\"tap\">details</failure>"));
        assert!(!xml.contains("Error"));
    }

    #[test]
    fn error_attempts_keep_their_element_and_skips_keep_their_body() {
        let attempt = Attempt {
            message: "io".into(),
            kind: "java.io.IOException".into(),
            error: true,
            body: "trace".into(),
            ..Attempt::default()
        };
        let problem = Problem {
            message: "still".into(),
            kind: "E".into(),
            ..Problem::default()
        };
        let [flaky, broken] = retried(attempt, Status::Errored, problem);
        let skipped = Case {
            status: Status::SkippedWithBody {
                message: "no db".into(),
                body: "test_x.py:3: no db\n  indented".into(),
            },
            ..Case::passed("a.b.c", "skipped")
        };
        let reason = Case {
            status: Status::Skipped {
                message: "first line\nsecond line".into(),
            },
            ..Case::passed("a.b.c", "reason")
        };
        let xml = xml_of(vec![flaky, broken, skipped, reason]);
        assert!(
            xml.contains("<flakyError message=\"io\" type=\"java.io.IOException\">"),
            "{xml}"
        );
        assert!(xml.contains("<rerunError message=\"io\""), "{xml}");
        assert!(xml.contains("<skipped message=\"no db\">test_x.py:3: no db\n  indented</skipped>"));
        assert!(xml.contains("<skipped message=\"first line\">first line\nsecond line</skipped>"));
    }

    #[test]
    fn tabs_carriage_returns_and_newlines_in_attributes_survive_quick_junit() {
        let mut report = Report::new("t");
        let mut s = suite(vec![Case {
            status: Status::Failed(Problem {
                message: "a\tb".into(),
                kind: "T".into(),
                body: "trace\n\tat X.<init>(X.java:1)\r\nend \u{fdd0}".into(),
                reruns: Vec::new(),
            }),
            ..Case::passed("a.b.c", "name\twith tab")
        }]);
        s.properties.push(("line.separator".into(), "\n".into()));
        report.suites.push(s);
        let xml = String::from_utf8(report.to_xml().unwrap()).unwrap();
        assert!(xml.contains("name=\"name&#9;with tab\""), "{xml}");
        assert!(xml.contains("message=\"a&#9;b\""), "{xml}");
        assert!(
            xml.contains("trace\n&#9;at X.&lt;init&gt;(X.java:1)&#13;\nend \u{fffd}</failure>"),
            "{xml}"
        );
        assert!(
            xml.contains("<property name=\"line.separator\" value=\"&#10;\"/>"),
            "{xml}"
        );
    }

    #[test]
    fn times_have_three_decimals() {
        let case = Case {
            time: Duration::from_nanos(1_234_567_891),
            ..Case::passed("a.b.c", "t")
        };
        let xml = xml_of(vec![case]);
        assert!(xml.contains("time=\"1.235\""), "{xml}");
    }

    #[test]
    fn write_is_atomic_and_creates_directories() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("reports/x.xml");
        let mut report = Report::new("t");
        report.suites.push(suite(vec![Case::passed("t.s.g", "n")]));
        report.write(&path).unwrap();
        let text = std::fs::read_to_string(&path).unwrap();
        assert!(text.starts_with("<?xml"));
        assert!(!text.contains("DOCTYPE"));
    }
}
