//! Manifest mode on software nobody here wrote: GNU hello's release tarball (an autotools
//! tree whose generated files must keep their mtimes), packaged by `make install` and
//! checked by the default lintian gate and a rebuild with the clock and umask changed; and
//! the reproducibility check and the manifest's early checks on small trees.

use std::path::{Path, PathBuf};
use std::process::Command;

use cdkit_testkit::assert_valid_junit;
use common::{build, commit_at_fixed_time as commit, stderr};

mod common;

/// GNU hello 2.10's release tarball, as Debian ships it (scripts/setup fetches it).
fn hello_tarball() -> PathBuf {
    let home = std::env::var_os("HOME").expect("HOME is set");
    let path = PathBuf::from(home).join(".cache/cdkit/deb-src/hello_2.10.orig.tar.gz");
    assert!(
        path.is_file(),
        "{} is missing: run scripts/setup (it fetches it with apt-get source hello)",
        path.display()
    );
    path
}

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/gnu-hello")
        .join(name)
}

fn run_ok(cmd: &mut Command) {
    let out = cmd.output().unwrap();
    assert!(
        out.status.success(),
        "{cmd:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// The tarball unpacked (tar keeps its mtimes) with the manifest and a DEP-5 copyright file
/// next to it, committed to git at a fixed time as a CI checkout would be.
fn hello_tree(dir: &Path) -> PathBuf {
    run_ok(
        Command::new("tar")
            .arg("-xzf")
            .arg(hello_tarball())
            .arg("-C")
            .arg(dir),
    );
    let tree = dir.join("hello-2.10");
    for name in ["cdkit-deb.toml", "copyright"] {
        std::fs::copy(fixture(name), tree.join(name)).unwrap();
    }
    commit(&tree);
    tree
}

fn gunzip(bytes: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    std::io::Read::read_to_end(&mut flate2::read::GzDecoder::new(bytes), &mut out).unwrap();
    out
}

/// The must-show case: `./configure && make && make install DESTDIR` of an autotools release
/// tarball packaged in manifest mode passes the default lintian gate, and a second build with
/// the clock a day ahead and umask 0002 gives the same bytes.
///
/// Before the build copy kept mtimes, make failed (`aclocal-1.14: command not found`); before
/// man and info pages were compressed, lintian failed the package (uncompressed-manual-page,
/// info-document-not-compressed).
#[test]
fn gnu_hello_release_tarball_builds_lintian_clean_and_reproducibly() {
    let dir = tempfile::tempdir().unwrap();
    let tree = hello_tree(dir.path());
    let out = dir.path().join("dist");
    let report = dir.path().join("reports/build-deb.xml");
    let run = build(
        &tree,
        &out,
        &report,
        &["--version-suffix", "auto", "--check-reproducible"],
    );
    let err = stderr(&run);
    assert_eq!(run.status.code(), Some(0), "{err}");
    assert_valid_junit(&report);
    let xml = std::fs::read_to_string(&report).unwrap();
    for check in ["lintian", "reproducible", "install and dpkg --verify"] {
        assert!(xml.contains(&format!("name=\"{check}\"")), "{check}: {xml}");
    }
    assert!(
        !xml.contains("<failure") && !xml.contains("<error"),
        "{xml}"
    );

    let printed = String::from_utf8_lossy(&run.stdout).trim().to_string();
    let deb = PathBuf::from(&printed);
    assert!(deb.starts_with(&out) && deb.is_file(), "{printed}");
    let unpacked = dir.path().join("unpacked");
    run_ok(Command::new("dpkg-deb").arg("-x").arg(&deb).arg(&unpacked));
    let man = unpacked.join("usr/share/man/man1/hello.1.gz");
    let info = unpacked.join("usr/share/info/hello.info.gz");
    assert!(unpacked.join("usr/bin/hello").is_file());
    assert!(!unpacked.join("usr/share/man/man1/hello.1").exists());
    assert!(!unpacked.join("usr/share/info/hello.info").exists());
    assert!(!unpacked.join("usr/share/info/dir").exists());
    // gzip -n: no name, no time in the header.
    let man_gz = std::fs::read(&man).unwrap();
    assert_eq!(&man_gz[3..8], &[0, 0, 0, 0, 0], "flags and mtime are zero");
    assert_eq!(
        gunzip(&man_gz),
        std::fs::read(tree.join("hello.1")).unwrap(),
        "the man page is the release's"
    );
    // The manual is the release's own, not one rebuilt with the build day in it.
    assert_eq!(
        gunzip(&std::fs::read(&info).unwrap()),
        std::fs::read(tree.join("doc/hello.info")).unwrap(),
        "hello.info was regenerated"
    );
    let hello = Command::new(unpacked.join("usr/bin/hello"))
        .env("LC_ALL", "C")
        .output()
        .unwrap();
    assert_eq!(String::from_utf8_lossy(&hello.stdout), "Hello, world!\n");
}

/// A small manifest tree whose build command writes `script`'s output into the package.
fn stamp_tree(dir: &Path, script: &str) -> PathBuf {
    let tree = dir.join("stamp");
    std::fs::create_dir_all(&tree).unwrap();
    std::fs::copy(fixture("copyright"), tree.join("copyright")).unwrap();
    let manifest = format!(
        r#"[package]
name = "stamp"
version = "1.0"
architecture = "all"
maintainer = "cdkit developers <cdkit@example.com>"
summary = "records what its build saw"
copyright = "copyright"

[build]
command = "mkdir -p {{stage}}/usr/share/stamp && ({script}) > {{stage}}/usr/share/stamp/seen"
"#
    );
    std::fs::write(tree.join("cdkit-deb.toml"), manifest).unwrap();
    commit(&tree);
    tree
}

/// The reproducibility check varies what reprotest varies: a package that records the build
/// day, or the umask, differs between the two builds and fails the check. Before, both
/// builds ran on the same day with the same umask and the check passed.
#[test]
fn the_reproducibility_check_sees_the_clock_and_the_umask() {
    for (what, script) in [("clock", "date -u +%F"), ("umask", "umask")] {
        let dir = tempfile::tempdir().unwrap();
        let tree = stamp_tree(dir.path(), script);
        let report = dir.path().join("report.xml");
        let run = build(
            &tree,
            &dir.path().join("dist"),
            &report,
            &["--lintian", "off", "--check-reproducible"],
        );
        assert_eq!(run.status.code(), Some(1), "{what}: {}", stderr(&run));
        assert_valid_junit(&report);
        let xml = std::fs::read_to_string(&report).unwrap();
        let case = xml
            .split("<testcase ")
            .find(|c| c.contains("name=\"reproducible\""))
            .unwrap_or_else(|| panic!("{what}: no reproducible case in {xml}"));
        assert!(
            case.contains("<failure message=\"a second build, with the clock moved +1d and umask 0002, differs"),
            "{what}: {case}"
        );
    }
    // A build that records neither is reproducible under the same variation.
    let dir = tempfile::tempdir().unwrap();
    let tree = stamp_tree(dir.path(), "echo constant");
    let run = build(
        &tree,
        &dir.path().join("dist"),
        &dir.path().join("report.xml"),
        &["--lintian", "off", "--check-reproducible"],
    );
    assert_eq!(run.status.code(), Some(0), "{}", stderr(&run));
}

/// A misspelt path in the manifest is refused before the build runs (this build command
/// would fail), naming the key and the path in the user's tree, not the temporary copy. A
/// `[[file]]` source, which the build may create, is checked right after the build.
#[test]
fn missing_manifest_files_are_named_by_key_and_path_before_building() {
    let dir = tempfile::tempdir().unwrap();
    let tree = stamp_tree(dir.path(), "echo constant");
    let manifest = tree.join("cdkit-deb.toml");
    let text = std::fs::read_to_string(&manifest).unwrap();
    let broken = text
        .replace("copyright = \"copyright\"", "copyright = \"COPYRIGHT\"")
        .replace("mkdir -p", "exit 7; mkdir -p");
    std::fs::write(&manifest, broken).unwrap();
    let out = dir.path().join("dist");
    let run = build(&tree, &out, &dir.path().join("report.xml"), &[]);
    let err = stderr(&run);
    assert_eq!(run.status.code(), Some(2), "{err}");
    let last = err.lines().last().unwrap_or_default();
    let expected = format!(
        "package.copyright = \"COPYRIGHT\": {} does not exist",
        tree.join("COPYRIGHT").display()
    );
    assert!(last.contains(&expected), "{expected:?} not in {last:?}");
    assert!(last.contains(&manifest.display().to_string()), "{last}");
    assert!(
        !last.contains("/build-deb."),
        "names the temporary copy: {last}"
    );
    assert!(!out.exists() || std::fs::read_dir(&out).unwrap().next().is_none());

    // A [[file]] source that neither exists nor is built.
    std::fs::write(
        &manifest,
        format!("{text}\n[[file]]\nsource = \"build/stamp.conf\"\npath = \"/etc/stamp.conf\"\n"),
    )
    .unwrap();
    let run = build(&tree, &out, &dir.path().join("report.xml"), &[]);
    let err = stderr(&run);
    assert_eq!(run.status.code(), Some(2), "{err}");
    let expected = format!(
        "file[0].source = \"build/stamp.conf\": {} does not exist and the build did not create it",
        tree.join("build/stamp.conf").display()
    );
    assert!(err.contains(&expected), "{expected:?} not in {err}");
}
