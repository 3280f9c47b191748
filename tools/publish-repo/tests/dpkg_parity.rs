//! Inputs that used to be published under a name dpkg never sees, or to make `verify` go
//! falsely green or falsely red: each is refused or reported with its exit code and one line
//! naming the input and the problem, and a refused run leaves the repository unchanged.

use std::path::{Path, PathBuf};
use std::process::Command;

use cdkit_testkit::apt::make_deb;

mod common;

use common::deb_bytes::{
    compress, file, member, name_of, parse_ar, tar_of, write_ar, Member, TarEntry,
};
use common::{add_is_refused, ok, one_error_line, tree_digest, unchecked_deb, Repo, BIN};

/// The ar members of `deb`.
fn members(deb: &Path) -> Vec<Member> {
    parse_ar(&std::fs::read(deb).unwrap())
}

/// `members` written to `path` as an ar archive.
fn write_deb(path: &Path, members: &[Member]) -> PathBuf {
    std::fs::write(path, write_ar(members)).unwrap();
    path.to_path_buf()
}

/// A gzip-compressed control.tar of `files` (raw paths, as dpkg-deb writes `./control`).
fn control_tar_gz(files: &[(&'static str, &[u8])]) -> Vec<u8> {
    let entries: Vec<TarEntry> = files.iter().map(|(path, data)| file(path, data)).collect();
    compress(".gz", &tar_of(&entries))
}

const CONTROL: &str = "Package: fz-pkg\nVersion: 1.2-1\nArchitecture: amd64\nMaintainer: F <f@example.org>\nDescription: d\n";
const OTHER: &str = "Package: other\nVersion: 9-9\nArchitecture: amd64\nMaintainer: O <o@example.org>\nDescription: d\n";

#[test]
fn debs_dpkg_reads_otherwise_are_refused_and_change_nothing() {
    let repo = Repo::new();
    let d = repo.debs();
    ok(&repo.add("testing", &[make_deb(&d, "base", "1.0-1", "amd64")]));
    let good = make_deb(&d, "fz-pkg", "1.2-1", "amd64");
    let base = members(&good);
    assert!(name_of(&base[1]).starts_with("control.tar"));
    let with = |name: &str, at: usize, member: Member| {
        let mut m = base.clone();
        m[at] = member;
        write_deb(&d.join(format!("{name}.deb")), &m)
    };
    let gz = |files: &[(&'static str, &[u8])]| member("control.tar.gz", control_tar_gz(files));
    let long = "a".repeat(250);
    let cases: Vec<(PathBuf, &str)> = vec![
        // dpkg installs the last ./control ("other 9-9"); it used to be listed as the first.
        (
            with(
                "two-controls",
                1,
                gz(&[
                    ("./control", CONTROL.as_bytes()),
                    ("./control", OTHER.as_bytes()),
                ]),
            ),
            "control.tar holds \"./control\" twice",
        ),
        (
            with("no-newline", 0, member("debian-binary", b"2.0".to_vec())),
            "debian-binary: no newline",
        ),
        (
            with(
                "two-paragraphs",
                1,
                gz(&[("./control", format!("{CONTROL}\n{OTHER}").as_bytes())]),
            ),
            "a second paragraph",
        ),
        (
            {
                let mut m = base.clone();
                m.insert(2, m[1].clone());
                write_deb(&d.join("two-control-members.deb"), &m)
            },
            "two control members",
        ),
        (
            unchecked_deb(&d, "long-name", &CONTROL.replace("fz-pkg", &long)),
            "more than the 255",
        ),
        (
            unchecked_deb(
                &d,
                "long-version",
                &CONTROL.replace("1.2-1", &format!("1.{long}")),
            ),
            "more than the 255",
        ),
        (
            unchecked_deb(&d, "bad-arch", &CONTROL.replace("amd64", "AMD_64")),
            "not a Debian architecture name",
        ),
    ];
    let before = tree_digest(&repo.root());
    for (deb, problem) in &cases {
        let name = deb.file_name().unwrap().to_str().unwrap();
        add_is_refused(&repo, std::slice::from_ref(deb), &[name, problem], &before);
    }
    // The untouched package is still accepted.
    ok(&repo.add("testing", &[good]));
    repo.verify();
}

#[test]
fn components_that_clash_with_the_layout_are_refused_at_init() {
    let dir = tempfile::tempdir().unwrap();
    for components in [
        "by-hash",
        "main,main",
        "binary-amd64",
        "i18n",
        "main,Contents-amd64",
    ] {
        let root = dir.path().join("repo");
        let out = Command::new(BIN)
            .args(["init", "--repo"])
            .arg(&root)
            .args(["--origin", "o", "--label", "l", "--components", components])
            .output()
            .unwrap();
        let first = components.rsplit(',').next().unwrap();
        one_error_line(&out, 2, &[&format!("component {first:?}")]);
        assert!(
            !root.exists(),
            "init --components {components} created the repository"
        );
    }
}

/// What a case does to the `dists/testing` link (already removed).
type Breaker = dyn Fn(&Path);

/// `verify` checks what a client fetches: `dists/SUITE` must lead to a signed Release of
/// that suite.
#[test]
fn verify_reports_a_suite_gone_for_its_clients() {
    let repo = Repo::new();
    ok(&repo.add(
        "testing",
        &[make_deb(&repo.debs(), "hello", "1.0-1", "amd64")],
    ));
    repo.verify();
    let link = repo.root().join("dists/testing");
    let target = std::fs::read_link(&link).unwrap();
    let cases: [(&str, &Breaker, &str); 4] = [
        (
            "dangling",
            &|l| std::os::unix::fs::symlink(".testing.gone", l).unwrap(),
            "does not resolve",
        ),
        (
            "looping",
            &|l| std::os::unix::fs::symlink("testing", l).unwrap(),
            "does not resolve",
        ),
        ("removed", &|_| {}, "dists/testing is missing"),
        (
            "the other suite",
            &|l| {
                std::os::unix::fs::symlink(
                    std::fs::read_link(l.with_file_name("production")).unwrap(),
                    l,
                )
                .unwrap()
            },
            "another suite's tree",
        ),
    ];
    for (what, break_it, problem) in cases {
        std::fs::remove_file(&link).unwrap();
        break_it(&link);
        let before = tree_digest(&repo.root());
        let out = repo.verify_at(&repo.root());
        assert_eq!(
            out.status.code(),
            Some(1),
            "{what}: {}",
            common::stderr(&out)
        );
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert!(
            stdout
                .lines()
                .any(|l| l.starts_with("testing: ") && l.contains(problem)),
            "{what}: {stdout}"
        );
        assert_eq!(
            tree_digest(&repo.root()),
            before,
            "{what}: verify changed the tree"
        );
        let _ = std::fs::remove_file(&link);
        std::os::unix::fs::symlink(&target, &link).unwrap();
    }
    repo.verify();
}
