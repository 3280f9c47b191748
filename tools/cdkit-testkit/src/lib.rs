//! Helpers for the tools' integration tests. They check reports with programs that are not
//! ours (xmllint against the Jenkins xunit schema, Python's junitparser), so a test cannot pass
//! because our writer and our reader share a bug. Missing programs fail the test loudly: CI
//! installs them (`.ci/run`, `scripts/test`).

pub mod apt;
pub mod hello;
pub mod rsyslog;
pub mod sshd;
pub mod testbed;

use std::path::{Path, PathBuf};
use std::process::Command;

/// The schema every report must validate against (CONVENTIONS §2).
pub fn schema_path() -> PathBuf {
    workspace_root().join("tests/schemas/xunit-plugin-junit-10.xsd")
}

/// The workspace root: the nearest directory above the crate under test that holds
/// `tests/schemas`. Found at run time (cargo and nextest set `CARGO_MANIFEST_DIR` for test
/// processes), because a path compiled into this crate goes stale when clones at different
/// paths share one target directory, and crates sit at different depths (`tools/x`, `tests`).
pub fn workspace_root() -> PathBuf {
    let manifest_dir = std::env::var_os("CARGO_MANIFEST_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")));
    manifest_dir
        .ancestors()
        .find(|dir| dir.join("tests/schemas").is_dir() && dir.join("Cargo.toml").is_file())
        .map(Path::to_path_buf)
        .unwrap_or_else(|| manifest_dir.join("../.."))
}

/// Validate `report` with `xmllint --schema`, panicking with xmllint's complaint if invalid;
/// a copy is kept under `$CDKIT_TEST_REPORTS` (if set) for `scripts/test` to check again.
pub fn assert_valid_junit(report: &Path) {
    let schema = schema_path();
    let out = Command::new("xmllint")
        .arg("--noout")
        .arg("--schema")
        .arg(&schema)
        .arg(report)
        .output()
        .unwrap_or_else(|e| panic!("cannot run xmllint (apt-get install libxml2-utils): {e}"));
    assert!(
        out.status.success(),
        "{} does not validate against {}:\n{}",
        report.display(),
        schema.display(),
        String::from_utf8_lossy(&out.stderr)
    );
    keep_report(report);
}

/// [`assert_valid_junit`] for every `*.xml` file in `dir` (a pipeline's reports directory).
pub fn assert_valid_junit_in(dir: &Path) {
    let entries = std::fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("cannot read the reports in {}: {e}", dir.display()));
    for entry in entries.flatten() {
        if entry.path().extension().is_some_and(|e| e == "xml") {
            assert_valid_junit(&entry.path());
        }
    }
}

/// Copy `report` into `$CDKIT_TEST_REPORTS` under a unique name.
pub fn keep_report(report: &Path) {
    let Ok(dir) = std::env::var("CDKIT_TEST_REPORTS") else {
        return;
    };
    let dir = PathBuf::from(dir);
    std::fs::create_dir_all(&dir).expect("create CDKIT_TEST_REPORTS");
    let stem = report
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_default();
    let unique = format!(
        "{stem}-{}-{}.xml",
        std::process::id(),
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or(0)
    );
    std::fs::copy(report, dir.join(unique)).expect("copy report");
}

/// The testcases of `report` as (classname, name), in document order, as an independent
/// reader sees them (Python's own XML parser, not the code that wrote the report).
pub fn junit_testcases(report: &Path) -> Vec<(String, String)> {
    let out = Command::new("python3")
        .args([
            "-c",
            "import sys, xml.etree.ElementTree as ET\n\
             for c in ET.parse(sys.argv[1]).iter('testcase'):\n    \
             print(c.get('classname') + '\\t' + c.get('name'))",
        ])
        .arg(report)
        .output()
        .expect("python3");
    assert!(
        out.status.success(),
        "parse {}: {}",
        report.display(),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|l| l.split_once('\t'))
        .map(|(c, n)| (c.to_string(), n.to_string()))
        .collect()
}

/// Counts as an independent reader (Python's junitparser, from PyPI) sees them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Counts {
    pub tests: u64,
    pub failures: u64,
    pub errors: u64,
    pub skipped: u64,
    pub passed: u64,
    pub flaky: u64,
    pub reruns: u64,
}

/// Parse `report` with junitparser and count outcomes per testcase.
pub fn python_junit_counts(report: &Path) -> Counts {
    const SCRIPT: &str = r#"
import json, sys
from junitparser import JUnitXml, Failure, Error, Skipped
xml = JUnitXml.fromfile(sys.argv[1])
c = dict(tests=0, failures=0, errors=0, skipped=0, passed=0, flaky=0, reruns=0)
for suite in xml:
    for case in suite:
        c["tests"] += 1
        kinds = [type(r) for r in case.result]
        if Failure in kinds: c["failures"] += 1
        elif Error in kinds: c["errors"] += 1
        elif Skipped in kinds: c["skipped"] += 1
        else: c["passed"] += 1
        c["flaky"] += len(case._elem.findall("flakyFailure"))
        c["reruns"] += len(case._elem.findall("rerunFailure"))
print(json.dumps(c))
"#;
    let python = std::env::var("CDKIT_PYTHON").unwrap_or_else(|_| "python3".into());
    let out = Command::new(&python)
        .arg("-c")
        .arg(SCRIPT)
        .arg(report)
        .output()
        .unwrap_or_else(|e| panic!("cannot run {python}: {e}"));
    assert!(
        out.status.success(),
        "junitparser could not read {} (is it installed? scripts/test sets up CDKIT_PYTHON):\n{}",
        report.display(),
        String::from_utf8_lossy(&out.stderr)
    );
    let v: serde_json::Value =
        serde_json::from_slice(&out.stdout).expect("junitparser script printed JSON");
    let n = |k: &str| v[k].as_u64().unwrap_or(u64::MAX);
    Counts {
        tests: n("tests"),
        failures: n("failures"),
        errors: n("errors"),
        skipped: n("skipped"),
        passed: n("passed"),
        flaky: n("flaky"),
        reruns: n("reruns"),
    }
}
