//! `--junit-in` keeps what producers wrote: every report in `tests/junit-corpus/` (and ones that
//! gotestsum and pytest write here for real) goes through the `run-tests` binary, and Python's
//! own XML parser reads both files: the counts, names, classnames, messages, failure, error and
//! skip bodies, output and flaky/rerun entries of the report must equal the producer's file, read
//! with the Jenkins junit plugin's rules. Every report is checked against the xunit schema.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use cdkit_testkit::{assert_valid_junit, junit_cases, JunitCase, JunitView};

const BIN: &str = env!("CARGO_BIN_EXE_run-tests");
const SUITE: &str = "passthrough";

fn corpus() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/junit-corpus")
}

fn corpus_files() -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(corpus())
        .expect("the corpus directory")
        .map(|e| e.expect("a corpus entry").path())
        .filter(|p| p.extension().is_some_and(|e| e == "xml"))
        .collect();
    files.sort();
    files
}

/// Run `run-tests --suite passthrough --junit-in GLOB -- COMMAND` in `dir`; the report goes to
/// `dir/reports/out.xml` and is checked against the schema.
fn run_tests(dir: &Path, glob: &str, command: &[&str], env: &[(&str, &str)]) -> (Output, PathBuf) {
    let report = dir.join("reports/out.xml");
    let mut cmd = Command::new(BIN);
    cmd.args(["--suite", SUITE, "--junit-in", glob, "--junit"])
        .arg(&report)
        .arg("--")
        .args(command)
        .current_dir(dir)
        .env_remove("JUNIT_OUTPUT")
        .env("CDKIT_RUN_ID", "passthrough-1");
    for (k, v) in env {
        cmd.env(k, v);
    }
    let out = cmd.output().expect("run run-tests");
    assert_valid_junit(&report);
    (out, report)
}

fn log(out: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

/// (tests, failures, errors, skipped, flaky passes, flaky*/rerun* elements by name).
fn counts(cases: &[JunitCase]) -> (usize, usize, usize, usize, usize, Vec<String>) {
    let n = |o: &str| cases.iter().filter(|c| c.outcome == o).count();
    let flaky = cases
        .iter()
        .filter(|c| c.outcome == "passed" && !c.reruns.is_empty())
        .count();
    let mut elements: Vec<String> = cases
        .iter()
        .flat_map(|c| c.reruns.iter().map(|r| r.0.clone()))
        .collect();
    elements.sort();
    (
        cases.len(),
        n("failure"),
        n("error"),
        n("skipped"),
        flaky,
        elements,
    )
}

/// The report's cases equal the source's, field by field, with run-tests' classname prefix.
fn assert_kept(source: &Path, report: &Path) {
    let expected = junit_cases(source, JunitView::Source);
    let got = junit_cases(report, JunitView::Report);
    let what = source.display();
    assert!(!expected.is_empty(), "{what} has no testcases");
    assert_eq!(counts(&got), counts(&expected), "counts of {what}");
    for (want, have) in expected.iter().zip(&got) {
        let id = format!("{what}: {}.{}", want.classname, want.name);
        assert_eq!(
            have.classname,
            format!("run-tests.{SUITE}.{}", want.classname),
            "{id}"
        );
        assert_eq!(have.name, want.name, "{id}");
        assert_eq!(have.outcome, want.outcome, "{id}");
        if want.message.is_some() {
            assert_eq!(have.message, want.message, "message of {id}");
        }
        assert_eq!(have.body, want.body, "body of {id}");
        assert_eq!(have.system_out, want.system_out, "system-out of {id}");
        assert_eq!(have.system_err, want.system_err, "system-err of {id}");
        assert_eq!(have.reruns, want.reruns, "flaky/rerun entries of {id}");
    }
}

/// A producer run by run-tests wrote `source`, some test failed (exit 1), and the report keeps
/// the file; the report's cases.
fn produced_and_kept(source: &Path, producer: &str, out: &Output, report: &Path) -> Vec<JunitCase> {
    assert!(source.is_file(), "{producer} wrote no report: {}", log(out));
    assert_eq!(out.status.code(), Some(1), "{}", log(out));
    assert_kept(source, report);
    junit_cases(report, JunitView::Report)
}

fn named<'a>(cases: &'a [JunitCase], name: &str) -> &'a JunitCase {
    cases
        .iter()
        .find(|c| c.name == name)
        .unwrap_or_else(|| panic!("{name} missing from {cases:?}"))
}

/// The exit status run-tests must give for a source: 1 when something failed, else 0.
fn expected_exit(source: &Path) -> i32 {
    let bad = junit_cases(source, JunitView::Source)
        .iter()
        .any(|c| c.outcome == "failure" || c.outcome == "error");
    i32::from(bad)
}

#[test]
fn every_corpus_file_passes_through_unchanged() {
    let files = corpus_files();
    assert!(files.len() >= 7, "the corpus is missing files: {files:?}");
    for source in files {
        let dir = tempfile::tempdir().unwrap();
        let copy = "mkdir -p build && cp \"$1\" build/";
        let (out, report) = run_tests(
            dir.path(),
            "build/*.xml",
            &["sh", "-c", copy, "sh", source.to_str().unwrap()],
            &[],
        );
        assert_eq!(
            out.status.code(),
            Some(expected_exit(&source)),
            "{}: {}",
            source.display(),
            log(&out)
        );
        assert_kept(&source, &report);
        let flaky = counts(&junit_cases(&source, JunitView::Source)).4;
        assert!(
            log(&out).contains(&format!(" {flaky} flaky")),
            "{}: the summary counts {flaky} flaky: {}",
            source.display(),
            log(&out)
        );
    }
}

#[test]
fn properties_notes_and_suite_output_reach_the_report() {
    let dir = tempfile::tempdir().unwrap();
    let copy = "mkdir -p build && cp \"$@\" build/";
    let sources = [
        "TEST-org.acme.billing.InvoiceServiceTest.xml",
        "jenkins-odd-times-nested.xml",
        "go-junit-report.xml",
    ]
    .map(|f| corpus().join(f).display().to_string());
    let mut command = vec!["sh", "-c", copy, "sh"];
    command.extend(sources.iter().map(String::as_str));
    let (out, report) = run_tests(dir.path(), "build/*.xml", &command, &[]);
    assert_eq!(out.status.code(), Some(1), "{}", log(&out));
    let xml = std::fs::read_to_string(&report).unwrap();
    for wanted in [
        r#"<property name="junit-in:os.name" value="Linux"/>"#,
        r#"<property name="junit-in:line.separator" value="&#10;"/>"#,
        r#"<property name="junit-in:go.version" value="go1.21.8 linux/amd64"/>"#,
        r#"time=&quot;not measured&quot; is not a number"#,
        r#"time=&quot;1,5&quot; read as 15.000 s"#,
        "--- system-out of suite example.com/shop/cart in build/go-junit-report.xml ---\ngoos: linux",
    ] {
        assert!(xml.contains(wanted), "{wanted} missing from\n{xml}");
    }
    // The cases whose times were odd are all there and passed.
    let cases = junit_cases(&report, JunitView::Report);
    let index = cases
        .iter()
        .find(|c| c.name == "rebuildsIndex")
        .expect("the case with an unreadable time");
    assert_eq!(index.outcome, "passed");
}

/// A Go module with a passing, a failing (multi-line, with `<`, `&`), a skipped, a flaky
/// (fails once, through a marker file) test and subtests.
const GO_TESTS: &str = r#"package shop

import (
	"os"
	"path/filepath"
	"testing"
)

func TestTotal(t *testing.T) {
	t.Log("total of <2 items> & tax")
}

func TestDiscount(t *testing.T) {
	t.Errorf("discount for \"gold\":\n\tgot  <nil>\n\twant 0.15 & free shipping")
}

func TestRemote(t *testing.T) {
	t.Skip("set SHOP_REMOTE=1 to reach the payment sandbox")
}

func TestFlakyStock(t *testing.T) {
	marker := filepath.Join(os.Getenv("MARKER_DIR"), "stock")
	if _, err := os.Stat(marker); err != nil {
		os.WriteFile(marker, []byte("x"), 0o644)
		t.Fatalf("stock service not ready yet")
	}
}

func TestPrices(t *testing.T) {
	t.Run("euro", func(t *testing.T) {})
	t.Run("yen", func(t *testing.T) { t.Log("no decimals") })
}
"#;

#[test]
fn gotestsum_reports_pass_through_unchanged() {
    let dir = tempfile::tempdir().unwrap();
    let module = dir.path().join("shop");
    std::fs::create_dir_all(&module).unwrap();
    std::fs::write(
        module.join("go.mod"),
        "module example.com/shop\n\ngo 1.19\n",
    )
    .unwrap();
    std::fs::write(module.join("shop_test.go"), GO_TESTS).unwrap();
    let go_home = dir.path().join("gohome");
    let marker_dir = dir.path().join("markers");
    std::fs::create_dir_all(&marker_dir).unwrap();
    let env = [
        ("GOPATH", go_home.join("path")),
        ("GOCACHE", go_home.join("cache")),
        ("MARKER_DIR", marker_dir.clone()),
    ];
    let env: Vec<(&str, &str)> = env
        .iter()
        .map(|(k, v)| (*k, v.to_str().unwrap()))
        .chain([("GOFLAGS", "-mod=mod"), ("GOPROXY", "off")])
        .collect();
    let (out, report) = run_tests(
        &module,
        "build/*.xml",
        &[
            "gotestsum",
            "--junitfile",
            "build/gotestsum.xml",
            "--rerun-fails=1",
            "--packages",
            "./...",
            "--",
            "-count=1",
        ],
        &env,
    );
    let source = module.join("build/gotestsum.xml");
    let cases = produced_and_kept(
        &source,
        "gotestsum (Debian packages gotestsum, golang-go)",
        &out,
        &report,
    );
    let outcome = |name: &str| named(&cases, name).outcome.as_str();
    assert_eq!(outcome("TestDiscount"), "failure");
    assert_eq!(outcome("TestRemote"), "skipped");
    assert_eq!(outcome("TestFlakyStock"), "failure");
    // gotestsum writes its rerun as a second testcase of the same name.
    assert_eq!(outcome("TestFlakyStock (#2)"), "passed");
    let discount = named(&cases, "TestDiscount");
    assert!(
        discount.body.contains("\tgot  <nil>\n") && discount.body.contains("& free shipping"),
        "{}",
        discount.body
    );
}

/// Tests pytest runs: a failure with a message of several lines, a skip, a test that fails
/// once (a marker file) and passes on pytest-rerunfailures' rerun, and a passing one.
const PYTHON_TESTS: &str = r#"import os, pytest

def test_total():
    assert 2 + 2 == 4

def test_rejects_negative_quantity():
    quantities = {"apple": -1, "<pear>": 2}
    print("cart:\n    apple: -1\n    <pear> & co: 2")
    assert all(q >= 0 for q in quantities.values()), "quantities must be >= 0\nsee the docs & examples"

@pytest.mark.skip(reason="needs a payment sandbox\nset PAY_SANDBOX=1")
def test_charges_card():
    pass

def test_flaky_inventory():
    marker = os.path.join(os.environ["MARKER_DIR"], "inventory")
    if not os.path.exists(marker):
        open(marker, "w").close()
        assert 1 == 2, "inventory not ready"
"#;

#[test]
fn pytest_results_equal_pytests_own_report() {
    let python = std::env::var("CDKIT_PYTHON").unwrap_or_else(|_| {
        panic!("CDKIT_PYTHON is not set: run the tests through scripts/test (or . scripts/env.sh)")
    });
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("test_shop.py"), PYTHON_TESTS).unwrap();
    let markers = dir.path().join("markers");
    std::fs::create_dir_all(&markers).unwrap();
    let (out, report) = run_tests(
        dir.path(),
        "build/*.xml",
        &[
            &python,
            "-m",
            "pytest",
            "-p",
            "no:cacheprovider",
            "--reruns",
            "1",
            "--junitxml",
            "build/pytest.xml",
            "test_shop.py",
        ],
        &[("MARKER_DIR", markers.to_str().unwrap())],
    );
    let source = dir.path().join("build/pytest.xml");
    let cases = produced_and_kept(
        &source,
        "pytest (with pytest-rerunfailures, from scripts/setup's venv)",
        &out,
        &report,
    );
    let find = |name: &str| named(&cases, name);
    let failed = find("test_rejects_negative_quantity (#2)");
    assert_eq!(failed.outcome, "failure");
    assert_eq!(
        failed.message.as_deref(),
        Some("AssertionError: quantities must be >= 0")
    );
    assert!(failed.body.contains("see the docs & examples"));
    assert!(
        failed.body.contains("\n>       assert all("),
        "{}",
        failed.body
    );
    let skipped = find("test_charges_card");
    assert_eq!(skipped.outcome, "skipped");
    assert!(
        skipped.body.contains("set PAY_SANDBOX=1"),
        "{}",
        skipped.body
    );
    assert_eq!(find("test_flaky_inventory (#2)").outcome, "passed");
    assert_eq!(find("test_total").outcome, "passed");
}
