//! build-deb against dpkg-buildpackage on real Debian source packages (the set and why each is
//! in it: tests/debian-sources/README.md). Each source is unpacked twice from the .dsc that
//! scripts/setup downloaded with `apt-get source`; one copy is built by dpkg-buildpackage, the
//! other by build-deb, both with DEB_BUILD_OPTIONS=nocheck and xz, and the results must agree:
//! the same package files, control fields, file lists with modes, owners, sizes and mtimes,
//! and the same lintian tags, each attributed to its own package in build-deb's report, from a
//! single lintian run.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;

use cdkit_testkit::{assert_valid_junit, junit_cases, JunitView};

const BIN: &str = env!("CARGO_BIN_EXE_build-deb");

/// The lintian options build-deb uses, for the reference run.
const LINTIAN: [&str; 3] = ["--no-tag-display-limit", "--display-level", ">=warning"];

/// Where scripts/setup keeps the downloaded sources.
fn cache() -> PathBuf {
    match std::env::var_os("CDKIT_DEB_SOURCES") {
        Some(dir) => PathBuf::from(dir),
        None => PathBuf::from(std::env::var_os("HOME").expect("HOME")).join(".cache/cdkit/deb-src"),
    }
}

/// The cached .dsc of `name`; a missing one fails the test (never a silent skip).
fn dsc(name: &str) -> PathBuf {
    let dir = cache();
    let found: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}; run scripts/setup", dir.display()))
        .flatten()
        .map(|e| e.path())
        .filter(|p| {
            p.file_name()
                .and_then(|n| n.to_str())
                .is_some_and(|n| n.starts_with(&format!("{name}_")) && n.ends_with(".dsc"))
        })
        .collect();
    assert_eq!(
        found.len(),
        1,
        "want one {name}_*.dsc in {}: {found:?}; run scripts/setup",
        dir.display()
    );
    found.into_iter().next().unwrap()
}

fn run_ok(cmd: &mut Command) -> String {
    let out = cmd.output().unwrap_or_else(|e| panic!("{cmd:?}: {e}"));
    assert!(
        out.status.success(),
        "{cmd:?}: {}\n{}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// `dpkg-source -x` of the cached .dsc into `dir`; returns the unpacked tree.
fn unpack(dsc: &Path, dir: &Path) -> PathBuf {
    let tree = dir.join("src");
    run_ok(
        Command::new("dpkg-source")
            .args(["--no-copy", "-x"])
            .arg(dsc)
            .arg(&tree)
            .current_dir(dir),
    );
    tree
}

/// The binary packages in `dir` (.deb and .udeb, -dbgsym included), by file name.
fn packages_in(dir: &Path) -> BTreeMap<String, PathBuf> {
    std::fs::read_dir(dir)
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .filter(|p| {
            matches!(
                p.extension().and_then(|e| e.to_str()),
                Some("deb") | Some("udeb")
            )
        })
        .map(|p| (p.file_name().unwrap().to_string_lossy().into_owned(), p))
        .collect()
}

fn package_name(deb: &Path) -> String {
    run_ok(
        Command::new("dpkg-deb")
            .arg("--field")
            .arg(deb)
            .arg("Package"),
    )
    .trim()
    .to_string()
}

/// What must agree between the two builds for one package file: the control fields and
/// `dpkg-deb --contents` (mode, owner/group, size, date, time, path).
fn describe(deb: &Path) -> (String, String) {
    let fields = run_ok(Command::new("dpkg-deb").arg("--field").arg(deb));
    let listing = run_ok(Command::new("dpkg-deb").arg("--contents").arg(deb));
    (fields, listing)
}

/// lintian's lines per package name, from one run over `debs`.
fn lintian_by_package(debs: &[&PathBuf]) -> BTreeMap<String, Vec<String>> {
    let out = Command::new("lintian")
        .args(LINTIAN)
        .args(debs)
        .output()
        .expect("lintian");
    let mut tags: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for line in String::from_utf8_lossy(&out.stdout).lines() {
        if let Some(who) = line.split(": ").nth(1) {
            let name = who.split_whitespace().next().unwrap_or(who).to_string();
            tags.entry(name).or_default().push(line.to_string());
        }
    }
    // lintian exits non-zero when it reports errors; without tags that means it broke.
    assert!(
        out.status.success() || !tags.is_empty(),
        "lintian: {}: {}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    tags
}

/// Build `name` both ways and compare; returns the reference's package files for the
/// per-source assertions.
fn compare_with_dpkg_buildpackage(name: &str) -> BTreeMap<String, (String, String)> {
    let dsc = dsc(name);
    let work = tempfile::tempdir().unwrap();

    // The reference: dpkg-buildpackage as a Debian developer runs it.
    let reference = work.path().join("reference");
    std::fs::create_dir_all(&reference).unwrap();
    let tree = unpack(&dsc, &reference);
    run_ok(
        Command::new("dpkg-buildpackage")
            .args(["-us", "-uc", "-b"])
            .current_dir(&tree)
            .env("DEB_BUILD_OPTIONS", "nocheck")
            .env("LC_ALL", "C.UTF-8")
            .env_remove("SOURCE_DATE_EPOCH"),
    );
    let expected = packages_in(&reference);
    assert!(!expected.is_empty(), "dpkg-buildpackage built nothing");

    // build-deb, with a lintian on PATH that records how it is called.
    let ours = work.path().join("build-deb");
    std::fs::create_dir_all(&ours).unwrap();
    let tree = unpack(&dsc, &ours);
    let bin = work.path().join("bin");
    std::fs::create_dir_all(&bin).unwrap();
    let calls = work.path().join("lintian-calls");
    let lintian = run_ok(Command::new("sh").args(["-c", "command -v lintian"]));
    std::fs::write(
        bin.join("lintian"),
        format!(
            "#!/bin/sh\necho \"$*\" >> '{}'\nexec '{}' \"$@\"\n",
            calls.display(),
            lintian.trim()
        ),
    )
    .unwrap();
    run_ok(Command::new("chmod").arg("+x").arg(bin.join("lintian")));
    let path = format!(
        "{}:{}",
        bin.display(),
        std::env::var("PATH").unwrap_or_default()
    );
    let out = ours.join("dist");
    let report = ours.join("build-deb.xml");
    let run = Command::new(BIN)
        .arg(&tree)
        .arg("--out")
        .arg(&out)
        .arg("--junit")
        .arg(&report)
        .args(["--compression", "xz:6"])
        .env("PATH", &path)
        .env("DEB_BUILD_OPTIONS", "nocheck")
        .env_remove("SOURCE_DATE_EPOCH")
        .env_remove("BUILD_NUMBER")
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&run.stderr);
    assert_valid_junit(&report);

    // The same lintian tags (same options), per package.
    let expected_debs: Vec<&PathBuf> = expected.values().collect();
    let expected_tags = lintian_by_package(&expected_debs);
    let has_errors = expected_tags
        .values()
        .flatten()
        .any(|l| l.starts_with("E: "));
    assert_eq!(
        run.status.code(),
        Some(if has_errors { 1 } else { 0 }),
        "build-deb on {name} (reference lintian: {expected_tags:?}): {stderr}"
    );

    // The same package files (by name: .deb, .udeb, -dbgsym), control fields and file lists.
    let built = packages_in(&out);
    assert_eq!(
        built.keys().collect::<Vec<_>>(),
        expected.keys().collect::<Vec<_>>(),
        "package files"
    );
    let mut described = BTreeMap::new();
    for (file, reference_deb) in &expected {
        let want = describe(reference_deb);
        let got = describe(&built[file]);
        assert_eq!(got.0, want.0, "control fields of {file}");
        assert_eq!(got.1, want.1, "file list of {file}");
        described.insert(file.clone(), want);
    }

    // lintian ran once, over every package of the build.
    let calls = std::fs::read_to_string(&calls).expect("lintian was not run");
    let calls: Vec<&str> = calls.lines().collect();
    assert_eq!(calls.len(), 1, "lintian runs: {calls:#?}");
    for file in expected.keys() {
        assert!(calls[0].contains(file.as_str()), "{file} not in {calls:?}");
    }

    // Each package's lintian case carries exactly that package's tags.
    let cases = junit_cases(&report, JunitView::Report);
    let source = run_ok(
        Command::new("dpkg-parsechangelog")
            .args(["-S", "Source", "-l"])
            .arg(tree.join("debian/changelog")),
    );
    for deb in expected.values() {
        let package = package_name(deb);
        let classname = format!("build-deb.{}.{package}", source.trim());
        let case = cases
            .iter()
            .find(|c| c.classname == classname && c.name == "lintian")
            .unwrap_or_else(|| panic!("no lintian case for {classname}: {cases:#?}"));
        let mut got: Vec<&str> = case.system_out.lines().collect();
        let mut want: Vec<&str> = expected_tags
            .get(&package)
            .map(|v| v.iter().map(String::as_str).collect())
            .unwrap_or_default();
        got.sort_unstable();
        want.sort_unstable();
        assert_eq!(got, want, "lintian tags of {package}");
    }
    described
}

/// `debian/<file>` of the cached source `name`.
fn debian_file(name: &str, file: &str) -> String {
    let work = tempfile::tempdir().unwrap();
    let tree = unpack(&dsc(name), work.path());
    std::fs::read_to_string(tree.join("debian").join(file)).unwrap()
}

/// GNU hello as Debian ships it: its changelog ends in free text that dpkg accepts.
#[test]
fn hello_matches_dpkg_buildpackage() {
    assert!(
        debian_file("hello", "changelog").contains("\nHello 1.3 Debian 1 - iwj\nInitial release."),
        "the hello source no longer ends its changelog with the free-text trailer"
    );
    let built = compare_with_dpkg_buildpackage("hello");
    assert!(built.keys().any(|f| f.starts_with("hello_")), "{built:?}");
}

/// A compat-13 daemon with a systemd unit and a conffile.
#[test]
fn rinetd_matches_dpkg_buildpackage() {
    assert!(debian_file("rinetd", "control").contains("debhelper-compat (= 13)"));
    let built = compare_with_dpkg_buildpackage("rinetd");
    let (_, files) = built
        .iter()
        .find(|(f, _)| f.starts_with("rinetd_"))
        .map(|(_, d)| d)
        .expect("rinetd package");
    assert!(
        files.contains("./lib/systemd/system/rinetd.service"),
        "{files}"
    );
    assert!(files.contains("./etc/rinetd.conf"), "{files}");
}

/// An arch:all Perl library.
#[test]
fn libtry_tiny_perl_matches_dpkg_buildpackage() {
    let built = compare_with_dpkg_buildpackage("libtry-tiny-perl");
    let (fields, files) = built.values().next().expect("one package");
    assert!(fields.contains("\nArchitecture: all\n"), "{fields}");
    assert!(files.contains("./usr/share/perl5/Try/Tiny.pm"), "{files}");
}

/// A C library whose source builds several binary packages: the shared library, -dev, a
/// udeb and the -dbgsym package.
#[test]
fn libmd_matches_dpkg_buildpackage() {
    let built = compare_with_dpkg_buildpackage("libmd");
    let names: Vec<&str> = built.keys().map(String::as_str).collect();
    for prefix in ["libmd0_", "libmd-dev_", "libmd0-udeb_", "libmd0-dbgsym_"] {
        assert!(names.iter().any(|n| n.starts_with(prefix)), "{names:?}");
    }
}
