//! JUnit files written by the test command itself (pytest, nextest, surefire, bats…), read with
//! the tolerant junit-parser and flattened into [`CaseResult`]s so retries and the report are
//! handled like any other format. Only files written during the attempt are read, so stale
//! reports of an earlier build or attempt never count.

use std::collections::HashMap;
use std::fs::File;
use std::io::BufReader;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use junit_parser::{TestCase, TestStatus, TestSuite};

use crate::model::{CaseResult, Outcome};

/// Kind of the case reported for a file junit-parser could not read.
pub const UNREADABLE_KIND: &str = "junit-parse";

/// Clock slack: file times come from the kernel's coarse clock, which may lag `SystemTime::now()`
/// by a tick.
const MTIME_SLACK: Duration = Duration::from_millis(50);

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

/// Every testcase of every file, in file order. A file that cannot be parsed becomes one
/// errored case naming it.
pub fn read_files(files: &[PathBuf], base: &Path) -> Vec<CaseResult> {
    let mut cases = Vec::new();
    for file in files {
        let shown = file
            .strip_prefix(base)
            .unwrap_or(file)
            .display()
            .to_string();
        match parse_file(file) {
            Ok(suites) => {
                for suite in &suites.suites {
                    flatten_suite(suite, &mut cases);
                }
            }
            Err(reason) => {
                let mut case = CaseResult::new("junit-in", shown.clone(), Outcome::Errored);
                case.kind = Some(UNREADABLE_KIND.into());
                case.message = Some(format!("cannot read JUnit file {shown}: {reason}"));
                cases.push(case);
            }
        }
    }
    disambiguate(&mut cases);
    cases
}

fn parse_file(path: &Path) -> Result<junit_parser::TestSuites, String> {
    let file = File::open(path).map_err(|e| e.to_string())?;
    junit_parser::from_reader(BufReader::new(file)).map_err(|e| e.to_string())
}

fn flatten_suite(suite: &TestSuite, out: &mut Vec<CaseResult>) {
    for case in &suite.cases {
        out.push(convert_case(case, &suite.name));
    }
    for inner in &suite.suites {
        flatten_suite(inner, out);
    }
}

fn convert_case(case: &TestCase, suite_name: &str) -> CaseResult {
    let group = case
        .classname
        .clone()
        .filter(|c| !c.is_empty())
        .unwrap_or_else(|| {
            if suite_name.is_empty() {
                "junit".into()
            } else {
                suite_name.into()
            }
        });
    let name = if case.original_name.is_empty() {
        "(unnamed)".to_string()
    } else {
        case.original_name.clone()
    };
    let (outcome, message, kind, details) = match &case.status {
        TestStatus::Success => (Outcome::Passed, None, None, String::new()),
        TestStatus::Failure(f) => (
            Outcome::Failed,
            Some(first_non_empty(&f.message, &f.text, "failed")),
            Some(f.failure_type.clone()),
            f.text.clone(),
        ),
        TestStatus::Error(e) => (
            Outcome::Errored,
            Some(first_non_empty(&e.message, &e.text, "error")),
            Some(e.error_type.clone()),
            e.text.clone(),
        ),
        TestStatus::Skipped(s) => (
            Outcome::Skipped,
            Some(first_non_empty(&s.message, &s.text, "skipped")),
            None,
            String::new(),
        ),
    };
    let mut result = CaseResult::new(group, name, outcome);
    result.message = message;
    result.kind = kind.filter(|k| !k.is_empty());
    result.details = details;
    result.system_out = case.system_out.clone().unwrap_or_default();
    result.system_err = case.system_err.clone().unwrap_or_default();
    result.time = (case.time.is_finite() && case.time >= 0.0)
        .then(|| Duration::from_secs_f64(case.time.min(1e9)));
    result
}

fn first_non_empty(a: &str, b: &str, fallback: &str) -> String {
    [a, b]
        .into_iter()
        .map(str::trim)
        .find(|s| !s.is_empty())
        .unwrap_or(fallback)
        .to_string()
}

/// Parameterised tests often repeat a name; suffix repeats so every case has its own identity.
fn disambiguate(cases: &mut [CaseResult]) {
    let mut seen: HashMap<(String, String), usize> = HashMap::new();
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

#[cfg(test)]
mod tests {
    use super::*;

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
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("report.xml");
        std::fs::write(&file, PYTEST_LIKE).unwrap();
        let cases = read_files(std::slice::from_ref(&file), dir.path());
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
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("TEST-x.xml");
        std::fs::write(
            &file,
            r#"<testsuite name="s"><testcase classname="c" name="n"/></testsuite>"#,
        )
        .unwrap();
        let cases = read_files(&[file], dir.path());
        assert_eq!(cases.len(), 1);
        assert_eq!(cases[0].outcome, Outcome::Passed);
    }

    #[test]
    fn unreadable_files_become_one_error_naming_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("broken.xml");
        std::fs::write(&file, "<testsuite><testcase name=").unwrap();
        let cases = read_files(&[file], dir.path());
        assert_eq!(cases.len(), 1);
        assert_eq!(cases[0].outcome, Outcome::Errored);
        assert_eq!(cases[0].name, "broken.xml");
        assert_eq!(cases[0].kind.as_deref(), Some(UNREADABLE_KIND));
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
}
