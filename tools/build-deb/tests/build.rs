//! End-to-end tests of the build-deb binary on the two example repositories and on broken
//! inputs, with the real dpkg-buildpackage, dpkg, lintian and git.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use cdkit_testkit::assert_valid_junit;
use common::{build, stderr, BIN};

mod common;

/// A git checkout of `example` in a temporary directory, committed at a fixed time, so
/// versions and SOURCE_DATE_EPOCH are known.
fn checkout(name: &str) -> tempfile::TempDir {
    common::checkout_edited(name, |_| {})
}

fn stdout(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn assert_built_and_checked(name: &str, expected_version: &str) {
    let dir = checkout(name);
    let tree = dir.path().join(name);
    let out = dir.path().join("dist");
    let report = dir.path().join("reports/build-deb.xml");
    let run = build(
        &tree,
        &out,
        &report,
        &["--version-suffix", "auto", "--check-reproducible"],
    );
    assert_eq!(run.status.code(), Some(0), "{}", stderr(&run));
    assert_valid_junit(&report);
    let xml = std::fs::read_to_string(&report).unwrap();
    for check in [
        "dpkg-deb --info",
        "dpkg-deb --contents",
        "install and dpkg --verify",
        "lintian",
        "reproducible",
    ] {
        assert!(
            xml.contains(&format!("name=\"{check}\"")),
            "{check} missing: {xml}"
        );
    }
    assert!(
        !xml.contains("<failure") && !xml.contains("<error"),
        "{xml}"
    );
    let printed_text = stdout(&run);
    let printed: Vec<&str> = printed_text.lines().collect();
    assert_eq!(printed.len(), 1, "{}", stdout(&run));
    let deb = PathBuf::from(printed[0]);
    assert!(deb.starts_with(&out) && deb.exists());
    let version = Command::new("dpkg-deb")
        .arg("--field")
        .arg(&deb)
        .arg("Version")
        .output()
        .unwrap();
    let version = String::from_utf8_lossy(&version.stdout).trim().to_string();
    assert!(
        version.starts_with(expected_version) && version.ends_with("-1"),
        "{version}"
    );
    // The user's checkout is untouched (mode A rewrites the changelog only in a copy).
    let status = Command::new("git")
        .args(["status", "--porcelain"])
        .current_dir(&tree)
        .output()
        .unwrap();
    assert_eq!(
        String::from_utf8_lossy(&status.stdout),
        "",
        "the build changed the checkout"
    );
}

#[test]
fn hello_service_builds_from_its_debian_folder() {
    assert_built_and_checked("hello-service", "1.0+20261120093000.7.g");
}

#[test]
fn legacy_make_app_builds_from_its_manifest() {
    assert_built_and_checked("legacy-make-app", "2.3.1+20261120093000.7.g");
}

/// `build-deb | head -0`: the reader gone before the package's path is printed is the normal
/// end of the output, not a panic that turns a good build into exit 101.
#[test]
fn a_closed_stdout_does_not_fail_a_good_build() {
    let dir = checkout("legacy-make-app");
    let mut cmd = Command::new(BIN);
    cmd.arg(dir.path().join("legacy-make-app"))
        .arg("--out")
        .arg(dir.path().join("dist"))
        .args(["--lintian", "off"])
        .env("BUILD_NUMBER", "7")
        .env_remove("SOURCE_DATE_EPOCH");
    cdkit_testkit::assert_closed_stdout_is_a_normal_end(cmd, "build-deb");
}

/// Run build-deb on a broken copy of `name`; it must exit 2 with one clear line naming
/// `needle`, write a report, and leave nothing in --out.
fn assert_refused(name: &str, breakage: impl FnOnce(&Path), needle: &str) {
    let dir = checkout(name);
    let tree = dir.path().join(name);
    breakage(&tree);
    let out = dir.path().join("dist");
    let report = dir.path().join("reports/build-deb.xml");
    let run = build(&tree, &out, &report, &["--version-suffix", "auto"]);
    let err = stderr(&run);
    assert_eq!(run.status.code(), Some(2), "{err}");
    let last = err.lines().last().unwrap_or("");
    assert!(last.starts_with("build-deb: error: "), "{err}");
    assert!(last.contains(needle), "{needle:?} not in {last:?}");
    assert_eq!(stdout(&run), "", "nothing is handed on");
    let leftovers: Vec<_> = std::fs::read_dir(&out)
        .map(|d| d.flatten().collect())
        .unwrap_or_default();
    assert!(leftovers.is_empty(), "{leftovers:?} left in --out");
    assert_valid_junit(&report);
    assert!(std::fs::read_to_string(&report)
        .unwrap()
        .contains("name=\"build\""));
}

#[test]
fn a_broken_debian_control_is_refused() {
    assert_refused(
        "hello-service",
        |t| {
            std::fs::write(
                t.join("debian/control"),
                "Source hello-service\nthis is not deb822\n",
            )
            .unwrap()
        },
        "debian/control",
    );
}

#[test]
fn a_manifest_with_an_unknown_key_names_the_line() {
    assert_refused(
        "legacy-make-app",
        |t| {
            let path = t.join("cdkit-deb.toml");
            let text = std::fs::read_to_string(&path).unwrap();
            std::fs::write(
                &path,
                text.replace("section = \"misc\"", "sektion = \"misc\""),
            )
            .unwrap();
        },
        "line 13 (sektion",
    );
}

#[test]
fn a_missing_build_dependency_is_listed() {
    assert_refused(
        "hello-service",
        |t| {
            let path = t.join("debian/control");
            let text = std::fs::read_to_string(&path).unwrap();
            std::fs::write(
                &path,
                text.replace(
                    "debhelper-compat (= 13)",
                    "debhelper-compat (= 13), cdkit-no-such-package (>= 9)",
                ),
            )
            .unwrap();
        },
        "cdkit-no-such-package",
    );
}

#[test]
fn a_build_that_writes_outside_its_staging_directory_is_refused() {
    let escape = tempfile::tempdir_in("/var/tmp").unwrap();
    let target = escape.path().join("escaped");
    let target_text = target.display().to_string();
    assert_refused(
        "legacy-make-app",
        |t| {
            let path = t.join("cdkit-deb.toml");
            let text = std::fs::read_to_string(&path).unwrap();
            let command = format!("command = \"make PREFIX=/usr && touch {target_text}\"");
            let replaced: String = text
                .lines()
                .map(|l| {
                    if l.starts_with("command = ") {
                        command.clone()
                    } else {
                        l.to_string()
                    }
                })
                .collect::<Vec<_>>()
                .join("\n");
            std::fs::write(&path, replaced).unwrap();
        },
        "outside the staging directory",
    );
    assert!(
        !target.exists(),
        "the build wrote {target_text} on the host"
    );
}

#[test]
fn a_v_prefixed_version_is_refused_with_a_hint() {
    assert_refused(
        "legacy-make-app",
        |t| {
            let path = t.join("cdkit-deb.toml");
            let text = std::fs::read_to_string(&path).unwrap();
            std::fs::write(
                &path,
                text.replace("version = \"2.3.1\"", "version = \"v2.3.1\""),
            )
            .unwrap();
        },
        "drop the tag prefix: 2.3.1",
    );
}

/// A tag-style version in debian/changelog gets a hint that keeps the Debian revision.
#[test]
fn a_v_prefixed_changelog_version_keeps_its_revision_in_the_hint() {
    assert_refused(
        "hello-service",
        |t| {
            let path = t.join("debian/changelog");
            let text = std::fs::read_to_string(&path).unwrap();
            std::fs::write(&path, text.replacen("(1.0-1)", "(v1.0-1)", 1)).unwrap();
        },
        "debian/changelog:1: version 'v1.0-1' is invalid: version number does not start with digit (it must start with a digit; drop the tag prefix: 1.0-1)",
    );
}

/// Debian's changelogs may end in free text after the last entry (hello's does); dpkg
/// accepts it, so build-deb does.
#[test]
fn a_changelog_with_a_free_text_trailer_builds() {
    let dir = checkout("hello-service");
    let tree = dir.path().join("hello-service");
    let path = tree.join("debian/changelog");
    let text = std::fs::read_to_string(&path).unwrap();
    std::fs::write(
        &path,
        format!("{text}\nOld changes are not recorded here.\n\nHello 1.3 Debian 1 - iwj\nInitial release.\n"),
    )
    .unwrap();
    let out = dir.path().join("dist");
    let report = dir.path().join("reports/build-deb.xml");
    let run = build(&tree, &out, &report, &["--lintian", "off"]);
    assert_eq!(run.status.code(), Some(0), "{}", stderr(&run));
    assert_valid_junit(&report);
}

/// A version with an epoch keeps it, as written and with the CI suffix (dropping it would
/// build a version that sorts below every installed one).
#[test]
fn an_epoch_in_the_changelog_is_kept() {
    for (suffix, wanted) in [("none", "1:1.0-1"), ("auto", "1:1.0+20261120093000.7.g")] {
        let dir = checkout("hello-service");
        let tree = dir.path().join("hello-service");
        let path = tree.join("debian/changelog");
        let text = std::fs::read_to_string(&path).unwrap();
        std::fs::write(&path, text.replacen("(1.0-1)", "(1:1.0-1)", 1)).unwrap();
        let out = dir.path().join("dist");
        let report = dir.path().join("reports/build-deb.xml");
        let run = build(
            &tree,
            &out,
            &report,
            &["--lintian", "off", "--version-suffix", suffix],
        );
        assert_eq!(run.status.code(), Some(0), "{}", stderr(&run));
        let deb = stdout(&run).lines().next().unwrap_or_default().to_string();
        let version = Command::new("dpkg-deb")
            .args(["--field", &deb, "Version"])
            .output()
            .unwrap();
        let version = String::from_utf8_lossy(&version.stdout).trim().to_string();
        assert!(version.starts_with(wanted), "{suffix}: {version}");
    }
}
