//! Inputs no user means but any user can type: each is refused with exit 2 and one line that
//! names it, never a panic, and a `--junit` report still says why.

/// A refused flag and a source tree that does not exist each leave a report with the reason.
#[test]
fn refusals_leave_a_report_with_the_reason() {
    let bin = env!("CARGO_BIN_EXE_build-deb");
    let mut cmd = std::process::Command::new(bin);
    cmd.args(["--compression", "rar", "."]);
    cdkit_testkit::assert_refusal_reported(cmd, "--compression");
    let out = tempfile::tempdir().unwrap();
    let mut cmd = std::process::Command::new(bin);
    cmd.arg("--out")
        .arg(out.path())
        .arg("/nonexistent/source-tree");
    cdkit_testkit::assert_refusal_reported(cmd, "source-tree");
}

mod common;

use std::path::Path;

/// Replace the first line of `file` starting with `prefix` by `line`.
fn set_line(file: &Path, prefix: &str, line: &str) {
    let text = std::fs::read_to_string(file).unwrap();
    let mut done = false;
    let changed: Vec<String> = text
        .lines()
        .map(|l| {
            if !done && l.starts_with(prefix) {
                done = true;
                line.to_string()
            } else {
                l.to_string()
            }
        })
        .collect();
    assert!(
        done,
        "no line starting with {prefix:?} in {}",
        file.display()
    );
    std::fs::write(file, changed.join("\n") + "\n").unwrap();
}

fn append(file: &Path, text: &str) {
    let old = std::fs::read_to_string(file).unwrap();
    std::fs::write(file, old + text).unwrap();
}

/// Broken packaging that dpkg would refuse only at the end of a whole build (with exit 1 and
/// "subprocess returned exit status 25"), or that built a package it should not: each is
/// exit 2 before building, one line naming the file and what is wrong, and nothing in --out.
#[test]
fn broken_packaging_is_refused_before_building() {
    type Edit = fn(&Path);
    let cases: [(&str, &str, Edit, &[&str]); 11] = [
        (
            "hello-service",
            "Depends: python3 (>= ,",
            |t| {
                set_line(
                    &t.join("debian/control"),
                    "Depends:",
                    "Depends: python3 (>= ,",
                )
            },
            &["debian/control", "line ", "Depends", "'(' without its ')'"],
        ),
        (
            "hello-service",
            "an empty Architecture",
            |t| set_line(&t.join("debian/control"), "Architecture:", "Architecture:"),
            &["debian/control", "Architecture is empty"],
        ),
        (
            "hello-service",
            "a changelog of another source",
            |t| {
                let path = t.join("debian/changelog");
                let text = std::fs::read_to_string(&path).unwrap();
                let rest = text.split_once(' ').unwrap().1;
                std::fs::write(&path, format!("other-source {rest}")).unwrap();
            },
            &["debian/changelog", "other-source", "hello-service"],
        ),
        (
            "legacy-make-app",
            "version = 1.0-rc1",
            |t| {
                set_line(
                    &t.join("cdkit-deb.toml"),
                    "version =",
                    "version = \"1.0-rc1\"",
                )
            },
            &["cdkit-deb.toml", "package.version", "1.0~rc1"],
        ),
        (
            "legacy-make-app",
            "a Depends with an unclosed parenthesis",
            |t| {
                set_line(
                    &t.join("cdkit-deb.toml"),
                    "depends =",
                    "depends = [\"libc6 (>= 2.34\"]",
                )
            },
            &["cdkit-deb.toml", "package.depends", "without its ')'"],
        ),
        (
            "legacy-make-app",
            "a Depends with a newline",
            |t| {
                set_line(
                    &t.join("cdkit-deb.toml"),
                    "depends =",
                    "depends = [\"libc6\\nFoo: bar\"]",
                )
            },
            &["cdkit-deb.toml", "package.depends", "Foo: bar"],
        ),
        (
            "legacy-make-app",
            "architecture = source",
            |t| {
                set_line(
                    &t.join("cdkit-deb.toml"),
                    "architecture =",
                    "architecture = \"source\"",
                )
            },
            &["cdkit-deb.toml", "package.architecture", "source"],
        ),
        (
            "legacy-make-app",
            "a file from /proc",
            |t| {
                append(
                    &t.join("cdkit-deb.toml"),
                    "\n[[file]]\nsource = \"/proc/self/environ\"\npath = \"/usr/share/x/env\"\n",
                )
            },
            &["cdkit-deb.toml", "file[0].source", "leaves the source tree"],
        ),
        (
            "legacy-make-app",
            "a file through ..",
            |t| {
                append(&t.join("cdkit-deb.toml"), "\n[[file]]\nsource = \"../../../../etc/hostname\"\npath = \"/usr/share/x/h\"\n")
            },
            &["cdkit-deb.toml", "file[0].source", "leaves the source tree"],
        ),
        (
            "legacy-make-app",
            "a symlink out of the tree",
            |t| {
                std::os::unix::fs::symlink("/etc/hostname", t.join("hn")).unwrap();
                append(
                    &t.join("cdkit-deb.toml"),
                    "\n[[file]]\nsource = \"hn\"\npath = \"/usr/share/x/h\"\n",
                )
            },
            &[
                "cdkit-deb.toml",
                "file[0].source",
                "outside the source tree",
            ],
        ),
        (
            "legacy-make-app",
            "make install ignoring DESTDIR",
            |t| {
                let path = t.join("cdkit-deb.toml");
                let text = std::fs::read_to_string(&path).unwrap();
                std::fs::write(&path, text.replace("DESTDIR={stage}", "DESTDIR=")).unwrap();
            },
            &["outside the staging directory", "/etc/legacy-make-app"],
        ),
    ];
    for (example, what, edit, needles) in cases {
        let dir = common::checkout_edited(example, edit);
        let out_dir = dir.path().join("out");
        let report = dir.path().join("report.xml");
        let out = common::build(&dir.path().join(example), &out_dir, &report, &[]);
        let stderr = common::stderr(&out);
        assert_eq!(out.status.code(), Some(2), "{what}: {stderr}");
        let last = stderr.lines().last().unwrap_or_default();
        for needle in needles {
            assert!(last.contains(needle), "{what}: {needle:?} not in {last:?}");
        }
        let made: Vec<_> = std::fs::read_dir(&out_dir)
            .map(|d| d.flatten().map(|e| e.file_name()).collect())
            .unwrap_or_default();
        assert!(made.is_empty(), "{what}: --out holds {made:?}");
        cdkit_testkit::assert_valid_junit(&report);
    }
}
