//! The result model every input format (TAP, foreign JUnit, exit status) is parsed into, so that
//! retries, merging and report writing are written once, whatever produced the results.

use std::time::Duration;

/// How one test ended in one attempt.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// The test passed (a TAP `ok`, including a passing `# TODO`).
    Passed,
    /// The thing under test is wrong: an assertion failed (`not ok`, `<failure>`).
    Failed,
    /// The harness failed: timeout, crash, missing test after a bail-out, `<error>`.
    Errored,
    /// Not run or not counted: `# SKIP`, a failing `# TODO`, `<skipped>`.
    Skipped,
}

impl Outcome {
    /// Whether a retry should run this test again.
    pub fn is_bad(self) -> bool {
        matches!(self, Outcome::Failed | Outcome::Errored)
    }
}

/// One test's result in one attempt, before retries are merged.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CaseResult {
    /// Group below the suite (a TAP source, a foreign classname); becomes the last part of the
    /// JUnit `classname` `run-tests.SUITE.GROUP`.
    pub group: String,
    /// Test name, stable across builds (identifies the test across retries).
    pub name: String,
    /// How it ended.
    pub outcome: Outcome,
    /// One-line summary for `message=` (for Skipped: the reason).
    pub message: Option<String>,
    /// Failure/error `type=`, e.g. `tap`, `timeout`, `bail-out`, `missing`.
    pub kind: Option<String>,
    /// Failure body: TAP YAML diagnostics, foreign failure text.
    pub details: String,
    /// Output attributed to this test (TAP comments and non-TAP lines before its test point).
    pub system_out: String,
    /// Its standard error, where the producer kept it apart.
    pub system_err: String,
    /// How long it took, where the producer said.
    pub time: Option<Duration>,
    /// Earlier runs the producer itself recorded (`<flakyFailure>`, `<rerunError>`…, from
    /// Surefire's `rerunFailingTestsCount` or nextest's retries), kept so the report still
    /// shows them: without them a flaky test would look like a clean pass.
    pub reruns: Vec<Rerun>,
}

/// Which element a producer's earlier run was written as.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RerunKind {
    /// `<flakyFailure>`/`<flakyError>`: the test passed in the end.
    Flaky,
    /// `<rerunFailure>`/`<rerunError>`: the test failed every run.
    Rerun,
}

/// One earlier run of a test as its producer wrote it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rerun {
    /// Flaky (passed in the end) or rerun (failed every run).
    pub kind: RerunKind,
    /// `…Error` rather than `…Failure` (Jenkins reads only the Failure forms, but the report
    /// keeps what the producer wrote).
    pub error: bool,
    /// `message=`.
    pub message: Option<String>,
    /// `type=`.
    pub kind_name: Option<String>,
    /// The `<stackTrace>` (or, from writers older than Surefire 2.22.1, the element's own text).
    pub body: String,
    /// That run's standard output.
    pub system_out: String,
    /// That run's standard error.
    pub system_err: String,
    /// Kept for readers of the model; the xunit schema has no `time` on these elements, so the
    /// report does not carry it.
    pub time: Option<Duration>,
}

impl CaseResult {
    /// A result with empty text fields, to be filled in by a parser.
    pub fn new(group: impl Into<String>, name: impl Into<String>, outcome: Outcome) -> Self {
        CaseResult {
            group: group.into(),
            name: name.into(),
            outcome,
            message: None,
            kind: None,
            details: String::new(),
            system_out: String::new(),
            system_err: String::new(),
            time: None,
            reruns: Vec::new(),
        }
    }
}

/// Kinds of cases that describe an attempt rather than a test (a timeout, a bail-out, a
/// missing plan, the exit status). When a retry no longer produces one, it is resolved.
pub const ATTEMPT_LEVEL_KINDS: [&str; 9] = [
    "timeout",
    "signal",
    "spawn",
    "exit-status",
    "bail-out",
    "missing",
    "plan",
    "no-results",
    "junit-parse",
];

impl CaseResult {
    /// Whether this case describes the attempt (see [`ATTEMPT_LEVEL_KINDS`]).
    pub fn is_attempt_level(&self) -> bool {
        self.kind
            .as_deref()
            .is_some_and(|k| ATTEMPT_LEVEL_KINDS.contains(&k))
    }
}
