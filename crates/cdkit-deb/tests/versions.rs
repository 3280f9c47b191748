//! Our version ordering against the real `dpkg --compare-versions`, pair by pair.

use std::cmp::Ordering;
use std::process::Command;

use cdkit_deb::policy::Version;

/// Pairs chosen to cover epochs, revisions, `~` (before anything, even the end), `+`,
/// letters against digits, leading zeros, and the CI version scheme.
const PAIRS: &[(&str, &str)] = &[
    ("1.0", "1.0"),
    ("1.0", "1.1"),
    ("1.0", "1.0.1"),
    ("1.0~rc1", "1.0"),
    ("1.0~rc1", "1.0~rc2"),
    ("1.0~~", "1.0~"),
    ("1.0~", "1.0"),
    ("1.0.1", "1.0~rc1"),
    ("2.0+b1", "2.0~b1"),
    ("1.0-1", "1.0-2"),
    ("1.0-10", "1.0-9"),
    ("1.0-1", "1.0+1-1"),
    ("1:0.1", "2.0"),
    ("1:1.0", "2:0.1"),
    ("0:1.0", "1.0"),
    ("1.0a", "1.0"),
    ("1.0a", "1.0b"),
    ("1.0a", "1.0.1"),
    ("1.01", "1.1"),
    ("1.001", "1.1"),
    ("10", "9"),
    ("1.2.3", "1.2.3+git20260101.abc1234-1"),
    ("1.2.3+git20260101.9.abc-1", "1.2.3+git20260101.42.abc-1"),
    (
        "1.2.3+20261126080000.41.gfff0000-1",
        "1.2.3+20261126080000.42.g0000000-1",
    ),
    (
        "1.2.3+20261126080000.99.gfff-1",
        "1.2.3+20261126090000.1.g000-1",
    ),
    ("1.2.3~rc1+20261126080000.1.gabc-1", "1.2.3-1"),
    ("1.2.3+20261126080000.1.gabc-1", "1.2.4-1"),
    ("1.2.3+0~20260101120000.42~1.gbpabc123", "1.2.4"),
    ("1.2.3+0~20260101120000.42~1.gbpabc123", "1.2.3"),
    ("0.1+dfsg-2~bpo12+1", "0.1+dfsg-2"),
    ("2.36-9+deb12u4", "2.36-9+deb12u10"),
    ("1.0+b1", "1.0.0"),
    ("1.0-1ubuntu1", "1.0-1"),
    ("7.4.1-1", "7.4.1-1~exp1"),
    ("1.0.0", "1.0"),
    ("2.0", "10.0"),
];

fn dpkg_orders(a: &str, b: &str) -> Ordering {
    let holds = |op: &str| {
        Command::new("dpkg")
            .args(["--compare-versions", a, op, b])
            .status()
            .expect("dpkg must be installed")
            .success()
    };
    if holds("lt") {
        Ordering::Less
    } else if holds("eq") {
        Ordering::Equal
    } else {
        assert!(holds("gt"), "dpkg says neither lt, eq nor gt for {a} {b}");
        Ordering::Greater
    }
}

#[test]
fn ordering_agrees_with_dpkg_compare_versions() {
    assert!(PAIRS.len() >= 30);
    let mut disagreements = Vec::new();
    for (a, b) in PAIRS {
        let ours = Version::parse(a)
            .unwrap_or_else(|e| panic!("{e}"))
            .cmp(&Version::parse(b).unwrap_or_else(|e| panic!("{e}")));
        let theirs = dpkg_orders(a, b);
        if ours != theirs {
            disagreements.push(format!("{a} vs {b}: ours {ours:?}, dpkg {theirs:?}"));
        }
        // And the reverse direction.
        assert_eq!(
            Version::parse(b).unwrap().cmp(&Version::parse(a).unwrap()),
            theirs.reverse()
        );
    }
    assert!(disagreements.is_empty(), "{disagreements:#?}");
}

#[test]
fn versions_dpkg_rejects_are_rejected_here() {
    for bad in ["v1.2", "1.0 beta", "a1.0", "1.2_3", "1:", "-1"] {
        let dpkg_ok = Command::new("dpkg")
            .args(["--validate-version", bad])
            .stderr(std::process::Stdio::null())
            .status()
            .unwrap()
            .success();
        assert!(!dpkg_ok, "dpkg accepts {bad}; the table is wrong");
        assert!(Version::parse(bad).is_err(), "{bad} accepted");
    }
}
