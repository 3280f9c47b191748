//! Retries, merged per test: a test that fails and then passes is a passing case with one
//! `<flakyFailure>` per failed attempt; one that fails every attempt is a `<failure>` (or
//! `<error>`) with `<rerunFailure>`s for the earlier attempts. Never a duplicated testcase.
//! Earlier runs a producer recorded itself ([`Rerun`]s from a foreign JUnit file) come first,
//! in their own element kinds: a test its producer retried into a pass is flaky too.

use std::collections::HashMap;

use cdkit::junit::{self, Attempt, Problem, Status};

use crate::model::{CaseResult, Outcome, Rerun};

/// Per-test results across attempts, in order of first appearance.
#[derive(Debug, Default)]
pub struct Merger {
    /// Histories in first-seen order.
    tests: Vec<History>,
    /// (group, name) → index into `tests`.
    index: HashMap<(String, String), usize>,
    attempts: u32,
}

#[derive(Debug)]
struct History {
    /// The attempt in which the test first appeared.
    first_attempt: u32,
    /// (attempt, result) for every attempt in which it appeared.
    results: Vec<(u32, CaseResult)>,
    attempt_level: bool,
}

/// A test's verdict after merging.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    Passed,
    /// Failed at first, passed on a later attempt (or its producer's own retry).
    Flaky,
    Failed,
    Errored,
    Skipped,
}

impl Merger {
    /// Record the results of the next attempt.
    pub fn add_attempt(&mut self, cases: Vec<CaseResult>) {
        self.attempts += 1;
        let attempt = self.attempts;
        self.tests
            .reserve(cases.len().saturating_sub(self.tests.len()));
        for case in cases {
            let key = (case.group.clone(), case.name.clone());
            let next = self.tests.len();
            let slot = *self.index.entry(key).or_insert(next);
            if slot == next {
                self.tests.push(History {
                    first_attempt: attempt,
                    results: Vec::with_capacity(1),
                    attempt_level: case.is_attempt_level(),
                });
            }
            self.tests[slot].results.push((attempt, case));
        }
    }

    /// Whether some test has failed and not yet passed, so another attempt may help.
    pub fn has_unresolved_failures(&self) -> bool {
        self.tests
            .iter()
            .any(|h| matches!(h.verdict(self.attempts), Verdict::Failed | Verdict::Errored))
    }

    /// Number of real tests (not attempt-level problems) seen in any attempt.
    pub fn test_count(&self) -> usize {
        self.tests.iter().filter(|h| !h.attempt_level).count()
    }

    /// Every test's merged JUnit case, in first-seen order, with its verdict.
    pub fn cases(
        &self,
        classname_prefix: &str,
        flaky_is_failure: bool,
    ) -> Vec<(Verdict, junit::Case)> {
        self.tests
            .iter()
            .map(|h| {
                let verdict = h.verdict(self.attempts);
                (
                    verdict,
                    h.to_case(classname_prefix, verdict, flaky_is_failure),
                )
            })
            .collect()
    }
}

impl History {
    /// Outcomes in the attempts that count: for an attempt-level problem (timeout, bail-out),
    /// a later attempt without it counts as passed; a real test only counts where it ran.
    fn outcomes(&self, attempts: u32) -> Vec<Outcome> {
        if !self.attempt_level {
            return self.results.iter().map(|(_, c)| c.outcome).collect();
        }
        (self.first_attempt..=attempts)
            .map(|a| {
                self.results
                    .iter()
                    .find(|(n, _)| *n == a)
                    .map_or(Outcome::Passed, |(_, c)| c.outcome)
            })
            .collect()
    }

    fn verdict(&self, attempts: u32) -> Verdict {
        let outcomes = self.outcomes(attempts);
        match outcomes.first() {
            None | Some(Outcome::Passed) if self.has_foreign_reruns() => Verdict::Flaky,
            None | Some(Outcome::Passed) => Verdict::Passed,
            Some(Outcome::Skipped) => Verdict::Skipped,
            Some(_) => {
                if outcomes.contains(&Outcome::Passed) {
                    Verdict::Flaky
                } else if self
                    .last_bad()
                    .is_some_and(|c| c.outcome == Outcome::Errored)
                {
                    Verdict::Errored
                } else {
                    Verdict::Failed
                }
            }
        }
    }

    /// Whether the producer recorded earlier runs of this test itself.
    fn has_foreign_reruns(&self) -> bool {
        self.results.iter().any(|(_, c)| !c.reruns.is_empty())
    }

    /// Every failed run before `shown` (excluded): each result's own recorded reruns, then the
    /// result itself when it failed. With `shown` = None, every failed run.
    fn runs_before(&self, shown: Option<&CaseResult>) -> Vec<Attempt> {
        let mut runs = Vec::new();
        for (_, case) in &self.results {
            runs.extend(case.reruns.iter().map(foreign_attempt));
            if shown.is_some_and(|s| std::ptr::eq(s, case)) {
                break;
            }
            if case.outcome.is_bad() {
                runs.push(attempt_of(case));
            }
        }
        runs
    }

    fn bad_results(&self) -> impl Iterator<Item = &CaseResult> {
        self.results
            .iter()
            .map(|(_, c)| c)
            .filter(|c| c.outcome.is_bad())
    }

    fn last_bad(&self) -> Option<&CaseResult> {
        self.bad_results().last()
    }

    fn to_case(&self, prefix: &str, verdict: Verdict, flaky_is_failure: bool) -> junit::Case {
        // The representative result: the first one for passes and skips, the last failure otherwise.
        let first = &self.results[0].1;
        let shown = match verdict {
            Verdict::Failed | Verdict::Errored => self.last_bad().unwrap_or(first),
            _ => first,
        };
        let mut case = junit::Case::passed(format!("{prefix}.{}", shown.group), shown.name.clone());
        case.time = self
            .results
            .iter()
            .filter_map(|(_, c)| c.time)
            .max()
            .unwrap_or_default();
        case.status = match verdict {
            Verdict::Passed => Status::Passed { flaky: Vec::new() },
            Verdict::Skipped => Status::SkippedWithBody {
                message: shown.message.clone().unwrap_or_else(|| "skipped".into()),
                body: shown.details.clone(),
            },
            Verdict::Flaky if flaky_is_failure => {
                let runs = self.runs_before(None);
                Status::Failed(Problem {
                    message: format!(
                        "flaky: failed {} of {} runs before passing (--flaky-is-failure)",
                        runs.len(),
                        runs.len() + 1
                    ),
                    kind: "flaky".into(),
                    body: String::new(),
                    reruns: runs,
                })
            }
            Verdict::Flaky => Status::Passed {
                flaky: self.runs_before(None),
            },
            Verdict::Failed | Verdict::Errored => {
                let problem = Problem {
                    message: message_of(shown),
                    kind: shown.kind.clone().unwrap_or_default(),
                    body: shown.details.clone(),
                    reruns: self.runs_before(Some(shown)),
                };
                if verdict == Verdict::Errored {
                    Status::Errored(problem)
                } else {
                    Status::Failed(problem)
                }
            }
        };
        case.system_out = non_empty(&shown.system_out);
        case.system_err = non_empty(&shown.system_err);
        case
    }
}

fn message_of(case: &CaseResult) -> String {
    case.message.clone().unwrap_or_else(|| match case.outcome {
        Outcome::Errored => format!("{}: error", case.name),
        _ => format!("{}: failed", case.name),
    })
}

/// One of run-tests' own failed attempts. Always the Failure form: Jenkins reads
/// `flakyFailure`/`rerunFailure` but not the Error forms.
fn attempt_of(case: &CaseResult) -> Attempt {
    Attempt {
        message: message_of(case),
        kind: case.kind.clone().unwrap_or_else(|| "failure".into()),
        error: false,
        body: case.details.clone(),
        system_out: non_empty(&case.system_out),
        system_err: non_empty(&case.system_err),
    }
}

/// A run the producer recorded, in the form it wrote (Failure or Error).
fn foreign_attempt(rerun: &Rerun) -> Attempt {
    Attempt {
        message: rerun.message.clone().unwrap_or_default(),
        kind: rerun.kind_name.clone().unwrap_or_default(),
        error: rerun.error,
        body: rerun.body.clone(),
        system_out: non_empty(&rerun.system_out),
        system_err: non_empty(&rerun.system_err),
    }
}

fn non_empty(text: &str) -> Option<String> {
    (!text.trim().is_empty()).then(|| text.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn case(name: &str, outcome: Outcome) -> CaseResult {
        let mut c = CaseResult::new("g", name, outcome);
        if outcome.is_bad() {
            c.message = Some(format!("{name} broke"));
            c.kind = Some("tap".into());
        }
        c
    }

    fn verdicts(m: &Merger) -> Vec<(String, Verdict)> {
        m.cases("run-tests.unit", false)
            .into_iter()
            .map(|(v, c)| (c.name, v))
            .collect()
    }

    #[test]
    fn a_later_pass_is_flaky_with_one_flaky_failure_per_failed_attempt() {
        let mut m = Merger::default();
        m.add_attempt(vec![case("a", Outcome::Passed), case("b", Outcome::Failed)]);
        assert!(m.has_unresolved_failures());
        m.add_attempt(vec![case("a", Outcome::Passed), case("b", Outcome::Failed)]);
        m.add_attempt(vec![case("a", Outcome::Failed), case("b", Outcome::Passed)]);
        assert!(!m.has_unresolved_failures());
        assert_eq!(
            verdicts(&m),
            vec![("a".into(), Verdict::Passed), ("b".into(), Verdict::Flaky)]
        );
        let cases = m.cases("run-tests.unit", false);
        match &cases[1].1.status {
            Status::Passed { flaky } => assert_eq!(flaky.len(), 2),
            other => panic!("{other:?}"),
        }
        assert_eq!(cases[1].1.classname, "run-tests.unit.g");
    }

    #[test]
    fn failing_every_attempt_is_a_failure_with_reruns() {
        let mut m = Merger::default();
        for _ in 0..3 {
            m.add_attempt(vec![case("b", Outcome::Failed)]);
        }
        let cases = m.cases("p", false);
        match &cases[0].1.status {
            Status::Failed(p) => {
                assert_eq!(p.reruns.len(), 2);
                assert_eq!(p.message, "b broke");
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn flaky_is_failure_turns_flaky_into_failed() {
        let mut m = Merger::default();
        m.add_attempt(vec![case("b", Outcome::Failed)]);
        m.add_attempt(vec![case("b", Outcome::Passed)]);
        let cases = m.cases("p", true);
        match &cases[0].1.status {
            Status::Failed(p) => {
                assert_eq!(p.kind, "flaky");
                assert_eq!(p.reruns.len(), 1);
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn an_attempt_level_problem_absent_from_a_retry_is_resolved() {
        let mut timeout = case("timeout", Outcome::Errored);
        timeout.kind = Some("timeout".into());
        let mut m = Merger::default();
        m.add_attempt(vec![case("a", Outcome::Failed), timeout.clone()]);
        m.add_attempt(vec![case("a", Outcome::Passed)]);
        assert!(!m.has_unresolved_failures());
        assert_eq!(m.test_count(), 1);
        assert_eq!(
            verdicts(&m),
            vec![
                ("a".into(), Verdict::Flaky),
                ("timeout".into(), Verdict::Flaky)
            ]
        );
        // ...but one appearing in the last attempt stands.
        let mut m = Merger::default();
        m.add_attempt(vec![case("a", Outcome::Failed)]);
        m.add_attempt(vec![case("a", Outcome::Passed), timeout]);
        assert_eq!(verdicts(&m)[1], ("timeout".into(), Verdict::Errored));
    }

    fn rerun(kind: crate::model::RerunKind, error: bool, body: &str) -> Rerun {
        Rerun {
            kind,
            error,
            message: Some(format!("{body} message")),
            kind_name: Some("java.lang.AssertionError".into()),
            body: body.into(),
            system_out: "out".into(),
            system_err: String::new(),
            time: None,
        }
    }

    #[test]
    fn a_pass_with_the_producers_own_flaky_runs_is_flaky_and_keeps_them() {
        use crate::model::RerunKind::Flaky;
        let mut passed = case("p", Outcome::Passed);
        passed.reruns = vec![rerun(Flaky, false, "t1"), rerun(Flaky, true, "t2")];
        let mut m = Merger::default();
        m.add_attempt(vec![passed]);
        assert!(!m.has_unresolved_failures());
        let cases = m.cases("p", false);
        assert_eq!(cases[0].0, Verdict::Flaky);
        let Status::Passed { flaky } = &cases[0].1.status else {
            panic!("{:?}", cases[0].1.status)
        };
        let kept: Vec<_> = flaky.iter().map(|a| (a.body.as_str(), a.error)).collect();
        assert_eq!(kept, vec![("t1", false), ("t2", true)]);
        assert_eq!(flaky[0].system_out.as_deref(), Some("out"));
        assert_eq!(flaky[0].message, "t1 message");
        // With --flaky-is-failure it fails like any other flaky test.
        assert!(m.cases("p", true)[0].1.is_bad());
    }

    #[test]
    fn a_failure_keeps_the_producers_reruns_before_run_tests_own_attempts() {
        use crate::model::RerunKind::Rerun as R;
        let mut first = case("b", Outcome::Failed);
        first.reruns = vec![rerun(R, true, "producer retry")];
        let mut m = Merger::default();
        m.add_attempt(vec![first]);
        m.add_attempt(vec![case("b", Outcome::Failed)]);
        let cases = m.cases("p", false);
        let Status::Failed(problem) = &cases[0].1.status else {
            panic!("{:?}", cases[0].1.status)
        };
        let kept: Vec<_> = problem
            .reruns
            .iter()
            .map(|a| (a.message.as_str(), a.error))
            .collect();
        assert_eq!(
            kept,
            vec![("producer retry message", true), ("b broke", false)]
        );
    }

    #[test]
    fn skips_stay_skipped() {
        let mut m = Merger::default();
        let mut s = case("s", Outcome::Skipped);
        s.message = Some("no database".into());
        m.add_attempt(vec![s]);
        match &m.cases("p", false)[0].1.status {
            Status::SkippedWithBody { message, .. } => assert_eq!(message, "no database"),
            other => panic!("{other:?}"),
        }
    }
}
