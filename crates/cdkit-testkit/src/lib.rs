//! Helpers for the tools' integration tests. They check reports with programs that are not
//! ours (xmllint against the Jenkins xunit schema, Python's junitparser), so a test cannot pass
//! because our writer and our reader share a bug. Missing programs fail the test loudly: CI
//! installs them (`.ci/run`, `scripts/test`).

#[cfg(feature = "deb")]
pub mod apt;
pub mod hello;
pub mod rsyslog;
pub mod sshd;
pub mod testbed;

use std::path::{Path, PathBuf};
use std::process::Command;

/// The schema every report must validate against (the one Jenkins' xunit plugin publishes).
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
    /// `tests=`: every testcase.
    pub tests: u64,
    /// Testcases with a `<failure>`.
    pub failures: u64,
    /// Testcases with an `<error>`.
    pub errors: u64,
    /// Testcases with a `<skipped>`.
    pub skipped: u64,
    /// Testcases with none of the three.
    pub passed: u64,
    /// `<flakyFailure>`/`<flakyError>` elements: failed attempts of a case that then passed.
    pub flaky: u64,
    /// `<rerunFailure>`/`<rerunError>` elements: failed attempts of a case that still failed.
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
    let v = python_json(
        &python,
        SCRIPT,
        &[report.as_os_str()],
        "junitparser (is it installed? scripts/test sets up CDKIT_PYTHON)",
    );
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

/// How [`junit_cases`] reads a file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum JunitView {
    /// A producer's file, read with the Jenkins junit plugin's rules as run-tests documents
    /// them: any root is a suite and nested `<testsuite>`s are walked in document order; a
    /// missing classname falls back to the suite's name, then to a dotted name's head, then
    /// `junit`; an empty name is `(unnamed)`; `<skipped>` beats `<error>` beats `<failure>`; a
    /// suite-level `<error>` (else `<failure>`) is a case `<init>` after the suite's cases; a
    /// repeated classname and name gets ` (#N)`; a multi-line `message=` the text lacks goes
    /// in front of the body.
    Source,
    /// A report as written: every `<testcase>` as it stands.
    Report,
}

/// One testcase as Python's `xml.etree` reads it, text decoded by Python's XML parser.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JunitCase {
    /// `classname=`, as Jenkins splits it into package and class.
    pub classname: String,
    /// `name=`.
    pub name: String,
    /// `passed`, `failure`, `error` or `skipped`.
    pub outcome: String,
    /// First non-blank line of `message=` (else of the body); `None` if both are blank.
    pub message: Option<String>,
    /// The failure, error or skipped element's text (empty for a pass).
    pub body: String,
    /// `system-out`/`system-err` text, empty when only whitespace.
    pub system_out: String,
    /// `system-err` text, empty when only whitespace.
    pub system_err: String,
    /// `(element, body, system-out, system-err)` of each flaky/rerun element; the body is the
    /// `<stackTrace>`, else the element's own text before its first child.
    pub reruns: Vec<(String, String, String, String)>,
}

/// The testcases of `path` read by Python's `xml.etree` (not by our code), in document order.
pub fn junit_cases(path: &Path, view: JunitView) -> Vec<JunitCase> {
    const SCRIPT: &str = r#"
import json, sys, xml.etree.ElementTree as ET
path, mode = sys.argv[1], sys.argv[2]
root = ET.parse(path).getroot()
RERUNS = ('flakyFailure', 'flakyError', 'rerunFailure', 'rerunError')
def text(el):
    return '' if el is None else ''.join(el.itertext())
def output(el, tag):
    t = text(el.find(tag))
    return t if t.strip() else ''
def first_line(*texts):
    for t in texts:
        for line in (t or '').splitlines():
            if line.strip():
                return line.strip()
    return None
def body(el):
    t = text(el)
    m = (el.get('message') or '').strip()
    if mode == 'source' and len(m.splitlines()) > 1 and m not in t:
        return m + ('\n\n' + t if t else '')
    return t
def problem(el):
    for tag, outcome in (('skipped', 'skipped'), ('error', 'error'), ('failure', 'failure')):
        p = el.find(tag)
        if p is not None:
            return outcome, p
    return 'passed', None
def reruns(el):
    out = []
    for r in el:
        if r.tag in RERUNS:
            st = r.find('stackTrace')
            b = text(st) if st is not None else (r.text or '')
            out.append([r.tag, b, output(r, 'system-out'), output(r, 'system-err')])
    return out
def entry(classname, name, el, problem_of):
    outcome, p = problem_of
    return dict(classname=classname, name=name, outcome=outcome,
                message=None if p is None else first_line(p.get('message'), text(p)),
                body='' if p is None else body(p),
                system_out=output(el, 'system-out'), system_err=output(el, 'system-err'),
                reruns=reruns(el))
cases = []
def walk(suite):
    sname = suite.get('name') or ''
    for child in suite:
        if child.tag == 'testsuite':
            walk(child)
        elif child.tag == 'testcase':
            name = child.get('name') or ''
            group = child.get('classname') or sname
            if not group:
                head, dot, tail = name.rpartition('.')
                group, name = (head, tail) if dot and head and tail else ('junit', name)
            cases.append(entry(group, name or '(unnamed)', child, problem(child)))
    for tag, outcome in (('error', 'error'), ('failure', 'failure')):
        p = suite.find(tag)
        if p is not None:
            cases.append(entry(sname or 'junit', '<init>', suite, (outcome, p)))
            cases[-1]['reruns'] = []
            break
if mode == 'source':
    walk(root)
    seen = {}
    for c in cases:
        key = (c['classname'], c['name'])
        seen[key] = seen.get(key, 0) + 1
        if seen[key] > 1:
            c['name'] = '%s (#%d)' % (c['name'], seen[key])
else:
    for c in root.iter('testcase'):
        cases.append(entry(c.get('classname') or '', c.get('name') or '', c, problem(c)))
print(json.dumps(cases))
"#;
    let mode = match view {
        JunitView::Source => "source",
        JunitView::Report => "report",
    };
    let cases = python_json(
        "python3",
        SCRIPT,
        &[path.as_os_str(), mode.as_ref()],
        "Python's XML parser",
    );
    let s = |v: &serde_json::Value| v.as_str().unwrap_or_default().to_string();
    cases
        .as_array()
        .into_iter()
        .flatten()
        .map(|c| JunitCase {
            classname: s(&c["classname"]),
            name: s(&c["name"]),
            outcome: s(&c["outcome"]),
            message: c["message"].as_str().map(str::to_string),
            body: s(&c["body"]),
            system_out: s(&c["system_out"]),
            system_err: s(&c["system_err"]),
            reruns: c["reruns"]
                .as_array()
                .map(|rs| {
                    rs.iter()
                        .map(|r| (s(&r[0]), s(&r[1]), s(&r[2]), s(&r[3])))
                        .collect()
                })
                .unwrap_or_default(),
        })
        .collect()
}

/// Run `script` with `python` and `args`, panicking with `reader` and Python's complaint if it
/// fails; what it printed, as JSON.
/// The errors Python's `jsonschema` (an independent validator, draft 2020-12) finds in the
/// JSON `document` against the schema file `schema` (`PATH: message` each; empty: valid). The
/// schema itself is checked first: a broken schema fails the test instead of passing all.
pub fn json_schema_errors(schema: &Path, document: &str) -> Vec<String> {
    const SCRIPT: &str = r#"
import json, sys
from jsonschema import Draft202012Validator
with open(sys.argv[1]) as f:
    schema = json.load(f)
Draft202012Validator.check_schema(schema)
doc = json.loads(sys.argv[2])
errors = sorted(Draft202012Validator(schema).iter_errors(doc), key=lambda e: list(map(str, e.path)))
print(json.dumps(["/" + "/".join(map(str, e.path)) + ": " + e.message for e in errors]))
"#;
    let python = std::env::var("CDKIT_PYTHON").unwrap_or_else(|_| "python3".into());
    let v = python_json(
        &python,
        SCRIPT,
        &[schema.as_os_str(), std::ffi::OsStr::new(document)],
        "jsonschema (is it installed? scripts/setup puts it in the venv CDKIT_PYTHON names)",
    );
    v.as_array()
        .expect("a list of errors")
        .iter()
        .map(|e| e.as_str().unwrap_or_default().to_string())
        .collect()
}

fn python_json(
    python: &str,
    script: &str,
    args: &[&std::ffi::OsStr],
    reader: &str,
) -> serde_json::Value {
    let out = Command::new(python)
        .arg("-c")
        .arg(script)
        .args(args)
        .output()
        .unwrap_or_else(|e| panic!("cannot run {python}: {e}"));
    assert!(
        out.status.success(),
        "{reader} could not read {:?}:\n{}",
        args.first(),
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).expect("the Python reader printed JSON")
}

/// Run `cmd` with its stdout a pipe whose reader is gone before the command writes a byte, as
/// in `cmd | head -0`, and check that the tool takes it as the normal end of its output: exit
/// 0, and no panic, broken pipe or error line (`TOOL: error: ...`) on stderr.
pub fn assert_closed_stdout_is_a_normal_end(mut cmd: std::process::Command, what: &str) {
    let mut child = cmd
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("{what}: cannot start: {e}"));
    drop(child.stdout.take());
    let out = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{what} with a closed stdout: {stderr}"
    );
    for word in ["panicked", "Broken pipe", ": error:"] {
        assert!(
            !stderr.contains(word),
            "{what} with a closed stdout: {stderr}"
        );
    }
}

/// Run `cmd`, which passes `value` to the duration flag `flag`, and check that it is refused
/// as bad usage: exit 2, a message naming the flag, the value and the longest accepted
/// duration, and no panic.
pub fn assert_duration_refused(mut cmd: std::process::Command, flag: &str, value: &str) {
    let out = cmd
        .output()
        .unwrap_or_else(|e| panic!("{flag} {value}: cannot start: {e}"));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{flag} {value}: {stderr}");
    let first = stderr.lines().next().unwrap_or_default();
    for needle in [flag, value, "24d"] {
        assert!(
            first.contains(needle),
            "{flag} {value}: first line {first:?}"
        );
    }
    assert!(!stderr.contains("panicked"), "{flag} {value}: {stderr}");
}

/// [`assert_duration_refused`] for each `(flag, value)`, given alone to the binary `bin`: the
/// value is checked while the arguments are read, before any other flag is required.
pub fn assert_durations_refused(bin: &str, cases: &[(&str, &str)]) {
    for (flag, value) in cases {
        let mut cmd = std::process::Command::new(bin);
        cmd.args([flag, value]);
        assert_duration_refused(cmd, flag, value);
    }
}

/// Parse every command line of the tool's `--help` Examples ([`cdkit::docs::help_examples`])
/// with its clap definition `C`, so that no example (and so no man page) can drift from the
/// flags it shows. Fails naming the example and clap's complaint; fewer than `at_least`
/// examples (a block cut short) fails too.
pub fn assert_help_examples_parse<C: clap::Parser>(at_least: usize) {
    let examples = cdkit::docs::help_examples(&C::command()).expect("the --help examples");
    assert!(
        examples.len() >= at_least,
        "expected at least {at_least} examples, found {examples:?}"
    );
    for argv in examples {
        if let Err(e) = C::try_parse_from(&argv) {
            panic!("{argv:?} does not parse:\n{e}");
        }
    }
}

/// Run `cmd`, whose arguments or inputs are refused, with `--junit REPORT` appended, and check
/// that the refusal is exit 2 and still leaves a schema-valid report whose one case is an error
/// or failure carrying `reason`: Jenkins' `junit` step then shows why instead of "no test report files".
pub fn assert_refusal_reported(mut cmd: std::process::Command, reason: &str) {
    let dir = tempfile::tempdir().unwrap();
    let report = dir.path().join("report.xml");
    cmd.arg("--junit").arg(&report);
    let what = format!("{cmd:?}");
    assert_exit_path("a refusal", cmd, &report, 2, reason);
    let cases = junit_cases(&report, JunitView::Report);
    assert_eq!(cases.len(), 1, "{what}: {cases:?}");
    let text = std::fs::read_to_string(&report).unwrap();
    assert!(
        text.contains("<error") || text.contains("<failure"),
        "{what}: the report lacks a failure or error:\n{text}"
    );
}

// ---- exit paths --------------------------------------------------------------------------

/// Run `cmd` (which passes `--junit REPORT` itself, where its syntax allows: before a `--`)
/// and check the contract every exit path owes Jenkins: the exit status is `expected`, the
/// report exists, validates against the schema, and, for a non-zero exit, carries the reason
/// as a failure, error or skipped case with a non-empty message containing `reason`. The
/// report is removed first, so a report left by an earlier row cannot pass for this one.
/// Returns the run's output for any further check of the row.
pub fn assert_exit_path(
    what: &str,
    mut cmd: std::process::Command,
    report: &Path,
    expected: i32,
    reason: &str,
) -> std::process::Output {
    assert!(
        cmd.get_args().any(|a| a == report.as_os_str()),
        "{what}: the command does not pass --junit {}",
        report.display()
    );
    match std::fs::remove_file(report) {
        Ok(()) => {}
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => panic!("{what}: cannot remove the old {}: {e}", report.display()),
    }
    let out = cmd
        .output()
        .unwrap_or_else(|e| panic!("{what}: cannot start {cmd:?}: {e}"));
    check_exit_path(&format!("{what} ({cmd:?})"), &out, report, expected, reason);
    out
}

/// The checks of [`assert_exit_path`] on a run that has ended (for a row that signals the
/// tool while it runs).
pub fn check_exit_path(
    what: &str,
    out: &std::process::Output,
    report: &Path,
    expected: i32,
    reason: &str,
) {
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(
        out.status.code(),
        Some(expected),
        "{what}: exit status:\n{stderr}"
    );
    assert!(!stderr.contains("panicked"), "{what}: panicked:\n{stderr}");
    assert!(
        report.is_file(),
        "{what}: exited {expected} without writing its report:\n{stderr}"
    );
    assert_valid_junit(report);
    let cases = junit_cases(report, JunitView::Report);
    assert!(!cases.is_empty(), "{what}: the report has no testcase");
    if expected == 0 {
        let failed: Vec<_> = cases
            .iter()
            .filter(|c| c.outcome == "failure" || c.outcome == "error")
            .collect();
        assert!(
            failed.is_empty(),
            "{what}: exit 0, but the report shows failures: {failed:?}"
        );
    } else {
        let carries_reason = cases.iter().any(|c| {
            c.outcome != "passed"
                && c.message.as_deref().is_some_and(|m| !m.trim().is_empty())
                && (c.message.as_deref().unwrap_or_default().contains(reason)
                    || c.body.contains(reason))
        });
        assert!(
            carries_reason,
            "{what}: exit {expected}, but no failed, errored or skipped case carries {reason:?}:\n{}",
            std::fs::read_to_string(report).unwrap_or_default()
        );
    }
}

/// Another process holding an `flock(2)` lock, as a concurrent run of a tool would: the
/// `flock` program from util-linux running a shell that waits on its stdin. Dropping this
/// closes that stdin, so the shell and `flock` end and the kernel frees the lock, also when
/// the test panics or is killed (no process is left behind holding it).
pub struct HeldFlock(std::process::Child);

impl HeldFlock {
    /// Take the lock on `path` (created if missing) in a child process; returns once held.
    pub fn hold(path: &Path) -> HeldFlock {
        use std::io::BufRead;
        let mut child = Command::new("flock")
            .arg(path)
            .args(["-c", "echo held; read -r _"])
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .spawn()
            .unwrap_or_else(|e| panic!("cannot run flock (util-linux): {e}"));
        let mut line = String::new();
        let stdout = child.stdout.take().expect("flock's stdout");
        std::io::BufReader::new(stdout)
            .read_line(&mut line)
            .expect("read flock's stdout");
        assert_eq!(
            line.trim(),
            "held",
            "flock {} did not take the lock",
            path.display()
        );
        HeldFlock(child)
    }
}

impl Drop for HeldFlock {
    fn drop(&mut self) {
        drop(self.0.stdin.take());
        let _ = self.0.wait();
    }
}

/// A rolling-install deployment lock of `group` held on this machine (the lock host of an
/// inventory whose first host has `ansible_connection=local`), as another rollout leaves it:
/// the lock directory with its owner file. Removed on drop.
pub struct HeldDeploymentLock(PathBuf);

impl HeldDeploymentLock {
    /// Create the lock directory of `group` with `owner` as its holder line.
    pub fn hold(group: &str, owner: &str) -> HeldDeploymentLock {
        let dir = PathBuf::from(format!("/var/lib/cdkit/locks/rolling-install.{group}"));
        std::fs::create_dir_all(&dir)
            .unwrap_or_else(|e| panic!("cannot create {}: {e}", dir.display()));
        std::fs::write(dir.join("owner"), format!("{owner}\n")).expect("write the lock's owner");
        HeldDeploymentLock(dir)
    }
}

impl Drop for HeldDeploymentLock {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// The version of `package` installed on this machine (`dpkg-query`), for a rollout or
/// rollback to the version a local host already has: a real run that changes nothing.
pub fn installed_version(package: &str) -> String {
    let out = Command::new("dpkg-query")
        .args(["--show", "--showformat=${Version}", package])
        .output()
        .expect("dpkg-query");
    assert!(out.status.success(), "{package} is not installed");
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// The signals [`assert_signal_exit_path`] sends (re-exported so tools need no nix of their own).
pub use nix::sys::signal::Signal;

/// [`assert_exit_path`] for a run stopped by `signal` (SIGTERM, SIGINT) once it has run for
/// `after`: as a CI abort stops a job. The tool must end with `expected` (143, 130) and its
/// report, not wait out what it was waiting for.
pub fn assert_signal_exit_path(
    what: &str,
    mut cmd: std::process::Command,
    report: &Path,
    signal: Signal,
    after: std::time::Duration,
    expected: i32,
    reason: &str,
) {
    let _ = std::fs::remove_file(report);
    let child = cmd
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("{what}: cannot start {cmd:?}: {e}"));
    std::thread::sleep(after);
    let pid = nix::unistd::Pid::from_raw(i32::try_from(child.id()).expect("a pid"));
    nix::sys::signal::kill(pid, signal).unwrap_or_else(|e| panic!("{what}: {signal}: {e}"));
    let started = std::time::Instant::now();
    let out = child.wait_with_output().expect("wait for the tool");
    assert!(
        started.elapsed() < std::time::Duration::from_secs(10),
        "{what}: took {:?} to stop after {signal}",
        started.elapsed()
    );
    check_exit_path(&format!("{what} ({cmd:?})"), &out, report, expected, reason);
}

/// An inventory in `dir` with a group of this test process alone, whose one host is this
/// machine (`ansible_connection=local`, so its deployment lock lives here too), and a group
/// `gone` whose host is a closed loopback port; returns the file and the first group's name.
pub fn local_inventory(dir: &Path) -> (PathBuf, String) {
    let inventory = dir.join("hosts.ini");
    let here = format!("exitpaths{}", std::process::id());
    std::fs::write(
        &inventory,
        format!(
            "[{here}]\nlocal1 ansible_connection=local\n[gone]\ndown1 ansible_host=127.0.0.1 ansible_port={}\n",
            sshd::free_port()
        ),
    )
    .expect("write the inventory");
    (inventory, here)
}

/// A finished command's stdout then stderr, as text: what a person running it would have seen.
pub fn output_text(out: &std::process::Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}
