//! Defects an audit found, each shown fixed with real gpg and apt: hostile and truncated
//! .debs, conflicts within one batch, publishes that fail or are killed part-way (the state
//! and the live tree never disagree), exit codes, and the smaller rules (--keep 0, a promote
//! retention would drop at once, init's lock, an uninitialised repository).

use std::path::PathBuf;
use std::process::{Command, Stdio};

use cdkit_testkit::apt::make_deb;

mod common;

use common::{failed_with, ok, tree_digest, Repo};

/// Where a .deb's ar members end: (name, end offset of the member's bytes and padding).
fn member_ends(bytes: &[u8]) -> Vec<(String, usize)> {
    let mut out = Vec::new();
    let mut at = 8;
    while at + 60 <= bytes.len() {
        let header = &bytes[at..at + 60];
        let name = String::from_utf8_lossy(&header[..16]).trim().to_string();
        let size: usize = String::from_utf8_lossy(&header[48..58])
            .trim()
            .parse()
            .unwrap();
        at += 60 + size + size % 2;
        out.push((name, at));
    }
    out
}

#[test]
fn debs_cut_short_or_without_a_data_member_are_refused() {
    let repo = Repo::new();
    let d = repo.debs();
    ok(&repo.add("testing", &[make_deb(&d, "base", "1.0-1", "amd64")]));
    let good = make_deb(&d, "good", "1.0-1", "amd64");
    let bytes = std::fs::read(&good).unwrap();
    let ends = member_ends(&bytes);
    assert_eq!(ends.len(), 3, "{ends:?}");
    assert!(ends[1].0.starts_with("control.tar"), "{ends:?}");
    let cut = |name: &str, len: usize| -> PathBuf {
        let path = d.join(name);
        std::fs::write(&path, &bytes[..len]).unwrap();
        path
    };
    let cases = [
        (cut("minus-1.deb", bytes.len() - 1), "truncated"),
        (cut("minus-100.deb", bytes.len() - 100), "truncated"),
        (cut("no-data.deb", ends[1].1), "no data.tar member"),
    ];
    let before = tree_digest(&repo.root());
    for (bad, problem) in &cases {
        // dpkg itself refuses each of them.
        let dpkg = Command::new("dpkg-deb")
            .arg("--contents")
            .arg(bad)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .unwrap();
        assert!(!dpkg.success(), "dpkg-deb accepts {}", bad.display());
        let out = repo.add("testing", &[good.clone(), bad.clone()]);
        let last = failed_with(&out, 2);
        let name = bad.file_name().unwrap().to_string_lossy();
        assert!(
            last.contains(&*name) && last.contains(problem),
            "{}: {last}",
            bad.display()
        );
        assert_eq!(
            tree_digest(&repo.root()),
            before,
            "{} changed the repository",
            bad.display()
        );
    }
    ok(&repo.add("testing", &[good]));
}
