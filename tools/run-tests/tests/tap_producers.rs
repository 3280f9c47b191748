//! run-tests against the TAP producers themselves: prove (with and without -v, and its
//! per-file archive), bats and node's test runner each run a small suite; what run-tests
//! reports (counts, names, classnames, failure bodies) is compared with what the producer
//! itself says about the same run. The producers must be installed (scripts/setup): a missing
//! one fails the test.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use cdkit_testkit::{assert_valid_junit, junit_testcases, python_junit_counts, Counts};

const BIN: &str = env!("CARGO_BIN_EXE_run-tests");
const SUITE: &str = "unit";

/// A Test::More suite: passes, a skip, a failure with diagnostics and a TODO, a bail-out.
const PERL_FILES: [(&str, &str); 4] = [
    (
        "t/a.t",
        "use Test::More tests => 2;\nok(1, 'alpha');\nok(1, 'beta');\n",
    ),
    (
        "t/b.t",
        "use Test::More tests => 3;\nok(1, 'one');\nSKIP: { skip 'no network', 1; ok(1, 'net'); }\nok(1, 'three');\n",
    ),
    (
        "t/c.t",
        "use Test::More tests => 4;\nok(1, 'first');\nis(1, 2, 'numbers equal');\nTODO: { local $TODO = 'not yet'; ok(0, 'future feature'); }\nnote 'a note line';\nok(1, 'last');\n",
    ),
    (
        "t/d.t",
        "use Test::More tests => 3;\nok(1, 'before bail');\nBAIL_OUT('database gone');\nok(1, 'never');\n",
    ),
];

fn workdir(files: &[(&str, &str)]) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    for (name, text) in files {
        let path = dir.path().join(name);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, text).unwrap();
    }
    dir
}

/// Runs a producer directly; it must exist.
fn producer(dir: &Path, argv: &[&str]) -> Output {
    Command::new(argv[0])
        .args(&argv[1..])
        .current_dir(dir)
        .stdin(Stdio::null())
        .output()
        .unwrap_or_else(|e| panic!("{} must be installed (scripts/setup): {e}", argv[0]))
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// Runs run-tests with `args` in `dir`; returns its exit code and the validated report.
fn run_tests(dir: &Path, args: &[&str]) -> (i32, PathBuf, String) {
    let report = dir.join("reports/out.xml");
    let out = Command::new(BIN)
        .args(["--progress", "none", "--suite", SUITE, "--junit"])
        .arg(&report)
        .args(args)
        .current_dir(dir)
        .env_remove("JUNIT_OUTPUT")
        .env("CDKIT_LOG", "warn")
        .output()
        .unwrap();
    assert_valid_junit(&report);
    let xml = std::fs::read_to_string(&report).unwrap();
    (out.status.code().unwrap_or(-1), report, xml)
}

fn zero() -> Counts {
    Counts {
        tests: 0,
        failures: 0,
        errors: 0,
        skipped: 0,
        passed: 0,
        flaky: 0,
        reruns: 0,
    }
}

/// XML text as it reads (the report escapes quotes and angle brackets).
fn unescape(xml: &str) -> String {
    xml.replace("&quot;", "\"")
        .replace("&apos;", "'")
        .replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&amp;", "&")
}

/// The testcase `name` of the report `xml` fails, and its failure body holds every line.
fn assert_failure_body_has(xml: &str, name: &str, lines: &[&str]) {
    let at = xml
        .find(&format!("<testcase name=\"{name}\""))
        .unwrap_or_else(|| panic!("no testcase {name:?} in {xml}"));
    let case = xml[at..].split("</testcase>").next().unwrap();
    let body = case
        .split("<failure")
        .nth(1)
        .unwrap_or_else(|| panic!("{name:?} did not fail: {case}"));
    let body = unescape(body);
    for line in lines {
        assert!(body.contains(line), "failure body lacks {line:?}: {case}");
    }
}

fn classname(group: &str) -> String {
    format!("run-tests.{SUITE}.{group}")
}

/// The classname run-tests gives a test file: its path with dots as `_`.
fn file_classname(file: &str) -> String {
    classname(&file.replace('.', "_"))
}

/// One test point as the producer printed it, read by this test's own minimal reader.
#[derive(Debug, Clone)]
struct Point {
    ok: bool,
    number: usize,
    name: String,
    directive: Option<(String, String)>,
}

impl Point {
    /// How Jenkins counts it: a SKIP or a failing TODO is skipped, a `not ok` fails.
    fn status(&self) -> &'static str {
        match (&self.directive, self.ok) {
            (Some((d, _)), _) if d == "skip" => "skipped",
            (Some((d, _)), false) if d == "todo" => "skipped",
            (_, true) => "passed",
            (_, false) => "failed",
        }
    }
}

/// Top-level test points of a TAP text (`ok N - name # DIRECTIVE reason`).
fn points(tap: &str) -> Vec<Point> {
    let mut points = Vec::new();
    for line in tap.lines() {
        let (ok, rest) = if let Some(rest) = line.strip_prefix("ok ") {
            (true, rest)
        } else if let Some(rest) = line.strip_prefix("not ok ") {
            (false, rest)
        } else {
            continue;
        };
        let (number, rest) = rest.split_once(' ').unwrap_or((rest, ""));
        let Ok(number) = number.parse::<usize>() else {
            continue;
        };
        let (name, directive) = match rest
            .split_once(" # ")
            .or_else(|| rest.strip_prefix("# ").map(|d| ("", d)))
        {
            Some((name, directive)) => {
                let (word, reason) = directive.split_once(' ').unwrap_or((directive, ""));
                (name, Some((word.to_lowercase(), reason.to_string())))
            }
            None => (rest, None),
        };
        let name = name.trim().trim_start_matches("- ").trim().to_string();
        points.push(Point {
            ok,
            number,
            name: if name.is_empty() {
                format!("test {number}")
            } else {
                name
            },
            directive,
        });
    }
    points
}

/// Counts run-tests must report for these points of one stream.
fn counts_of(points: &[Point]) -> Counts {
    let mut counts = zero();
    for point in points {
        counts.tests += 1;
        match point.status() {
            "passed" => counts.passed += 1,
            "skipped" => counts.skipped += 1,
            _ => counts.failures += 1,
        }
    }
    counts
}

/// The planned count of a TAP text.
fn plan(tap: &str) -> Option<usize> {
    tap.lines()
        .find_map(|l| l.strip_prefix("1..").and_then(|n| n.trim().parse().ok()))
}

/// prove's `Files=N, Tests=M` line.
fn prove_totals(output: &str) -> (usize, usize) {
    let line = output
        .lines()
        .find(|l| l.starts_with("Files="))
        .unwrap_or_else(|| panic!("no Files= line in prove's output:\n{output}"));
    let number = |key: &str| -> usize {
        let at = line.find(key).unwrap() + key.len();
        line[at..]
            .split(|c: char| !c.is_ascii_digit())
            .next()
            .unwrap()
            .parse()
            .unwrap()
    };
    (number("Files="), number("Tests="))
}

/// prove's Test Summary Report: file → its lines (`Failed test:  2`, ...).
fn prove_summary(output: &str) -> BTreeMap<String, Vec<String>> {
    let mut report = BTreeMap::new();
    let mut current: Option<String> = None;
    let mut started = false;
    for line in output.lines() {
        if line == "Test Summary Report" {
            started = true;
        } else if !started || line.starts_with("Files=") {
            continue;
        } else if let Some((file, _)) = line.split_once(" (Wstat: ") {
            current = Some(file.to_string());
            report.insert(file.to_string(), Vec::new());
        } else if let (Some(file), true) = (&current, line.starts_with("  ")) {
            report.get_mut(file).unwrap().push(line.trim().to_string());
        }
    }
    report
}

/// The numbers in prove's `Failed tests:  2, 4-5`.
fn failed_numbers(summary: &[String]) -> Vec<usize> {
    let mut numbers = Vec::new();
    for line in summary {
        let Some((_, list)) = line.split_once(':') else {
            continue;
        };
        if !line.starts_with("Failed test") {
            continue;
        }
        for part in list.split(',') {
            let part = part.trim();
            match part.split_once('-') {
                Some((a, b)) => numbers.extend(a.parse::<usize>().unwrap()..=b.parse().unwrap()),
                None => numbers.push(part.parse().unwrap()),
            }
        }
    }
    numbers
}

/// The per-file truth: each file's TAP as prove archived it.
fn prove_archive(dir: &Path) -> BTreeMap<String, String> {
    let archive = dir.join("truth");
    std::fs::create_dir_all(&archive).unwrap();
    let out = producer(dir, &["prove", "--archive", "truth", "t/"]);
    let mut files = BTreeMap::new();
    for (name, _) in PERL_FILES {
        let path = archive.join(name);
        let tap = std::fs::read_to_string(&path).unwrap_or_else(|e| {
            panic!(
                "prove --archive wrote no {} ({e}); is libtap-harness-archive-perl installed? {}",
                path.display(),
                text(&out.stderr)
            )
        });
        files.insert(name.to_string(), tap);
    }
    std::fs::remove_dir_all(&archive).unwrap();
    files
}

/// What run-tests must report for prove's per-file TAP: one case per test point, and for a
/// file that bailed out a `Bail out!` error plus one error per planned test that never ran.
fn expected_from_archive(archive: &BTreeMap<String, String>) -> (Vec<(String, String)>, Counts) {
    let mut cases = Vec::new();
    let mut counts = zero();
    for (file, tap) in archive {
        let seen = points(tap);
        let file_counts = counts_of(&seen);
        counts.tests += file_counts.tests;
        counts.passed += file_counts.passed;
        counts.skipped += file_counts.skipped;
        counts.failures += file_counts.failures;
        for point in &seen {
            cases.push((file_classname(file), point.name.clone()));
        }
        if tap.lines().any(|l| l.starts_with("Bail out!")) {
            cases.push((file_classname(file), "Bail out!".to_string()));
            counts.tests += 1;
            counts.errors += 1;
            let planned = plan(tap).unwrap_or(0);
            for missing in (seen.len() + 1)..=planned {
                cases.push((file_classname(file), format!("test {missing}")));
                counts.tests += 1;
                counts.errors += 1;
            }
        }
    }
    (cases, counts)
}

#[test]
fn prove_verbose_gives_what_prove_reports_one_case_per_test_point() {
    let dir = workdir(&PERL_FILES);
    let archive = prove_archive(dir.path());
    let prove = producer(dir.path(), &["prove", "-v", "t/"]);
    let prove_out = text(&prove.stdout);
    let (files, tests) = prove_totals(&prove_out);
    let summary = prove_summary(&prove_out);

    let (code, report, xml) = run_tests(dir.path(), &["--", "prove", "-v", "t/"]);
    assert_eq!(code, 1, "{xml}");
    let (expected_cases, expected_counts) = expected_from_archive(&archive);
    let mut got = junit_testcases(&report);
    let mut want = expected_cases.clone();
    got.sort();
    want.sort();
    assert_eq!(got, want, "{xml}");
    assert_eq!(python_junit_counts(&report), expected_counts, "{xml}");

    // prove's own totals: the files it ran, the test points it counted.
    let groups: std::collections::BTreeSet<&str> =
        expected_cases.iter().map(|(c, _)| c.as_str()).collect();
    assert_eq!(groups.len(), files);
    let test_points: usize = archive.values().map(|tap| points(tap).len()).sum();
    assert_eq!(test_points, tests);
    // The tests prove lists as failed are the failures run-tests reports, by name.
    for (file, lines) in &summary {
        let numbers = failed_numbers(lines);
        let seen = points(&archive[file]);
        for number in numbers {
            let point = seen.iter().find(|p| p.number == number).unwrap();
            let needle = format!(
                "<testcase name=\"{}\" classname=\"{}\"",
                point.name,
                file_classname(file)
            );
            let at = xml
                .find(&needle)
                .unwrap_or_else(|| panic!("{needle} in {xml}"));
            assert!(xml[at..]
                .split("</testcase>")
                .next()
                .unwrap()
                .contains("<failure"));
        }
    }
}

#[test]
fn prove_verbose_merge_puts_test_more_diagnostics_in_the_failure_body() {
    let dir = workdir(&PERL_FILES);
    // The truth: what the test file printed after its failing test point, stderr merged.
    let direct = producer(dir.path(), &["sh", "-c", "perl t/c.t 2>&1"]);
    let direct = text(&direct.stdout);
    let after_failure: Vec<&str> = direct
        .lines()
        .skip_while(|l| !l.starts_with("not ok 2"))
        .skip(1)
        .take_while(|l| !l.starts_with("ok ") && !l.starts_with("not ok "))
        .filter(|l| !l.trim().is_empty())
        .collect();
    assert!(
        after_failure.iter().any(|l| l.contains("got: '1'")),
        "{direct}"
    );

    let (code, _, xml) = run_tests(dir.path(), &["--", "prove", "-v", "--merge", "t/"]);
    assert_eq!(code, 1, "{xml}");
    assert_failure_body_has(&xml, "numbers equal", &after_failure);
    // The TODO's diagnostics are its own, not the next test's.
    let next = xml.find("<testcase name=\"last\"").unwrap();
    let next_case = xml[next..].split("</testcase>").next().unwrap();
    assert!(!next_case.contains("Failed (TODO)"), "{next_case}");
}

#[test]
fn prove_without_verbose_is_one_case_per_file_as_prove_judged_it() {
    let dir = workdir(&PERL_FILES);
    let archive = prove_archive(dir.path());
    let prove = producer(dir.path(), &["prove", "t/"]);
    let prove_out = text(&prove.stdout);
    let (files, _) = prove_totals(&prove_out);
    let summary = prove_summary(&prove_out);

    let (code, report, xml) = run_tests(dir.path(), &["--", "prove", "t/"]);
    assert_eq!(code, 1, "{xml}");
    let mut want = Vec::new();
    let mut counts = zero();
    for (file, tap) in &archive {
        want.push((file_classname(file), "whole file".to_string()));
        counts.tests += 1;
        if tap.lines().any(|l| l.starts_with("Bail out!")) {
            counts.errors += 1;
        } else if summary.contains_key(file) {
            counts.failures += 1;
            // The failing file's body holds prove's own summary lines about it.
            let at = xml
                .find(&format!("classname=\"{}\"", file_classname(file)))
                .unwrap();
            let case = xml[at..].split("</testcase>").next().unwrap();
            for line in &summary[file] {
                assert!(case.contains(line.as_str()), "{line:?} in {case}");
            }
        } else {
            counts.passed += 1;
        }
    }
    assert_eq!(want.len(), files);
    let mut got = junit_testcases(&report);
    got.sort();
    assert_eq!(got, want, "{xml}");
    assert_eq!(python_junit_counts(&report), counts, "{xml}");
}

#[test]
fn prove_archive_files_read_with_tap_in_equal_prove_verbose() {
    let dir = workdir(&PERL_FILES);
    let archive = prove_archive(dir.path());
    std::fs::create_dir_all(dir.path().join("arch")).unwrap();
    let (code, report, xml) = run_tests(
        dir.path(),
        &[
            "--tap-in",
            "arch/**/*.t",
            "--",
            "prove",
            "--archive",
            "arch",
            "t/",
        ],
    );
    assert_eq!(code, 1, "{xml}");
    let (mut want, counts) = expected_from_archive(&archive);
    let mut got = junit_testcases(&report);
    got.sort();
    want.sort();
    assert_eq!(got, want, "{xml}");
    assert_eq!(python_junit_counts(&report), counts, "{xml}");
}

#[test]
fn two_passing_prove_files_exit_0_with_one_group_each() {
    let dir = workdir(&PERL_FILES[..2]);
    let prove = producer(dir.path(), &["prove", "-v", "t/"]);
    assert!(text(&prove.stdout).contains("All tests successful."));
    let (code, report, xml) = run_tests(dir.path(), &["--", "prove", "-v", "t/"]);
    assert_eq!(code, 0, "{xml}");
    let counts = python_junit_counts(&report);
    let (_, tests) = prove_totals(&text(&prove.stdout));
    let tests = tests as u64;
    assert_eq!(
        (counts.tests, counts.passed, counts.skipped),
        (tests, tests - 1, 1)
    );
    assert!(xml.contains(&format!("classname=\"{}\"", file_classname("t/a.t"))));
    assert!(xml.contains(&format!("classname=\"{}\"", file_classname("t/b.t"))));
}

#[test]
fn bats_counts_names_and_diagnostics_equal_bats() {
    let dir = workdir(&[(
        "t.bats",
        "@test \"addition works\" {\n  [ $((1+1)) -eq 2 ]\n}\n@test \"string compare fails\" {\n  echo \"output of the failing test\"\n  [ \"a\" = \"b\" ]\n}\n@test \"skipped one\" {\n  skip \"not today\"\n}\n",
    )]);
    let count: usize = text(&producer(dir.path(), &["bats", "--count", "t.bats"]).stdout)
        .trim()
        .parse()
        .unwrap();
    let tap = text(&producer(dir.path(), &["bats", "--tap", "t.bats"]).stdout);
    let seen = points(&tap);
    assert_eq!(seen.len(), count);

    let (code, report, xml) = run_tests(dir.path(), &["--", "bats", "--tap", "t.bats"]);
    assert_eq!(code, 1, "{xml}");
    let counts = python_junit_counts(&report);
    assert_eq!(counts, counts_of(&seen), "{xml}");
    assert_eq!(counts.tests, count as u64);
    let mut got: Vec<String> = junit_testcases(&report)
        .into_iter()
        .map(|(_, n)| n)
        .collect();
    let mut want: Vec<String> = seen.iter().map(|p| p.name.clone()).collect();
    got.sort();
    want.sort();
    assert_eq!(got, want);
    // bats' diagnostic lines after the failing test point are its failure body.
    let failing = seen.iter().find(|p| !p.ok).unwrap();
    let diagnostics: Vec<&str> = tap
        .lines()
        .skip_while(|l| !l.starts_with(&format!("not ok {} ", failing.number)))
        .skip(1)
        .take_while(|l| l.starts_with('#'))
        .collect();
    assert!(!diagnostics.is_empty(), "{tap}");
    assert_failure_body_has(&xml, &failing.name, &diagnostics);
}

/// node's own JUnit reporter, read with Python: (path of names joined with " > ", status).
fn node_junit_cases(dir: &Path) -> Vec<(String, String)> {
    let out = producer(
        dir,
        &[
            "node",
            "--test",
            "--test-reporter=junit",
            "--test-reporter-destination=node.xml",
        ],
    );
    assert!(dir.join("node.xml").exists(), "{}", text(&out.stderr));
    let script = r#"
import sys, xml.etree.ElementTree as ET
def walk(el, path):
    for child in el:
        if child.tag == 'testsuite':
            walk(child, path + [child.get('name')])
        elif child.tag == 'testcase':
            # As Jenkins reads it: skipped beats failure.
            status = 'passed'
            if child.find('skipped') is not None:
                status = child.find('skipped').get('type') or 'skipped'
            elif child.find('failure') is not None: status = 'failed'
            print(' > '.join(path + [child.get('name')]) + '\t' + status)
walk(ET.parse(sys.argv[1]).getroot(), [])
"#;
    let listed = producer(dir, &["python3", "-c", script, "node.xml"]);
    assert!(listed.status.success(), "{}", text(&listed.stderr));
    text(&listed.stdout)
        .lines()
        .map(|l| {
            let (name, status) = l.split_once('\t').unwrap();
            (name.to_string(), status.to_string())
        })
        .collect()
}

#[test]
fn node_test_runner_counts_and_names_equal_nodes() {
    let dir = workdir(&[(
        "math.test.mjs",
        "import { test, describe, it } from 'node:test';\nimport assert from 'node:assert';\ntest('top pass', () => { assert.ok(true); });\ndescribe('math', () => {\n  it('adds', () => { assert.strictEqual(1 + 1, 2); });\n  it('fails', () => { assert.strictEqual(1 + 1, 3); });\n  it.skip('skipped one', () => {});\n  it.todo('todo one', () => { assert.ok(false); });\n});\ntest('parent', async (t) => {\n  await t.test('child a', () => {});\n  await t.test('child b', () => {});\n});\n",
    )]);
    let node = node_junit_cases(dir.path());
    assert!(node.len() >= 6, "{node:?}");

    let (code, report, xml) = run_tests(dir.path(), &["--", "node", "--test"]);
    assert_eq!(code, 1, "{xml}");
    let mut got: Vec<String> = junit_testcases(&report)
        .into_iter()
        .map(|(c, n)| {
            assert_eq!(c, classname("node"));
            n
        })
        .collect();
    let mut want: Vec<String> = node.iter().map(|(n, _)| n.clone()).collect();
    got.sort();
    want.sort();
    assert_eq!(got, want, "{xml}");
    // node's JUnit marks every TODO skipped; in TAP a failing TODO is skipped too.
    let mut expected = zero();
    for (_, status) in &node {
        expected.tests += 1;
        match status.as_str() {
            "passed" => expected.passed += 1,
            "failed" => expected.failures += 1,
            _ => expected.skipped += 1,
        }
    }
    assert_eq!(python_junit_counts(&report), expected, "{xml}");
    assert!(
        xml.contains("2 !== 3"),
        "the assertion is in the failure body: {xml}"
    );
}

#[test]
fn a_diagnostic_after_a_failure_is_its_body_not_the_next_tests_output() {
    let dir = workdir(&[]);
    let (code, _, xml) = run_tests(
        dir.path(),
        &[
            "--",
            "sh",
            "-c",
            r"printf '1..3\nnot ok 1 - a\n# why a failed\nok 2 - b\nok 3 - c\n'",
        ],
    );
    assert_eq!(code, 1, "{xml}");
    let a = xml.find("<testcase name=\"a\"").unwrap();
    let a_case = xml[a..].split("</testcase>").next().unwrap();
    assert!(
        a_case.contains("<failure") && a_case.contains("# why a failed"),
        "{a_case}"
    );
    let b = xml.find("<testcase name=\"b\"").unwrap();
    let b_case = &xml[b..xml[b..].find("<testcase name=\"c\"").unwrap() + b];
    assert!(!b_case.contains("why a failed"), "{b_case}");
}

#[test]
fn output_between_two_test_points_is_bounded_in_memory() {
    let dir = workdir(&[]);
    // 200 MB of non-TAP output between two test points.
    let script = "echo 1..2; echo ok 1 - first; \
                  yes 'a line of chatter that is not TAP at all, printed by the test' \
                  | head -c 200000000; echo; echo ok 2 - second";
    let report = dir.path().join("reports/out.xml");
    // Python waits for run-tests and reports the largest resident set of it and of every
    // process it waited for (ru_maxrss of RUSAGE_CHILDREN, in KiB): robust however short the run.
    let wrapper = "import resource, subprocess, sys\n\
                   rc = subprocess.run(sys.argv[1:], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL).returncode\n\
                   print(rc, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)\n";
    let out = Command::new("python3")
        .args(["-c", wrapper, BIN, "--progress", "none", "--junit"])
        .arg(&report)
        .args(["--", "sh", "-c", script])
        .current_dir(dir.path())
        .env_remove("JUNIT_OUTPUT")
        .env("CDKIT_LOG", "warn")
        .output()
        .unwrap();
    let line = text(&out.stdout);
    let mut fields = line.split_whitespace().map(|f| f.parse::<u64>().unwrap());
    let (code, max_rss_kib) = (fields.next().unwrap(), fields.next().unwrap());
    assert_eq!(code, 0, "{}", text(&out.stderr));
    assert_valid_junit(&report);
    let xml = std::fs::read_to_string(&report).unwrap();
    assert!(
        xml.contains("bytes omitted"),
        "output is kept as head and tail"
    );
    assert_eq!(python_junit_counts(&report).passed, 2);
    assert!(
        max_rss_kib < 64 * 1024,
        "run-tests peaked at {} MiB reading 200 MB of output",
        max_rss_kib / 1024
    );
}
