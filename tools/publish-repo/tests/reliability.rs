//! publish-repo under stress: clients updating while it publishes, publishers killed with
//! SIGKILL at random points, and concurrent publishers.

use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use cdkit_testkit::apt::{make_deb, AptClient, HttpServer};

mod common;

use common::Repo;

/// `add --keep 3` of one .deb into testing, quietly.
fn add(repo: &Repo, deb: &std::path::Path) -> Command {
    let mut cmd = repo.command(&["add", "--suite", "testing", "--keep", "3", "-q"]);
    cmd.arg(deb);
    cmd
}

/// `add` each of `debs` in turn (each must succeed) while `check` runs in a loop on another
/// thread; returns how often it ran meanwhile and what each failed run said.
fn while_publishing(
    f: &Repo,
    debs: &[PathBuf],
    check: impl Fn() -> Option<String> + Sync,
) -> (usize, Vec<String>) {
    let stop = AtomicBool::new(false);
    std::thread::scope(|scope| {
        let checker = scope.spawn(|| {
            let (mut runs, mut failures) = (0, Vec::new());
            while !stop.load(Ordering::SeqCst) {
                failures.extend(check());
                runs += 1;
            }
            (runs, failures)
        });
        for deb in debs {
            let out = add(f, deb).output().unwrap();
            assert!(
                out.status.success(),
                "{}",
                String::from_utf8_lossy(&out.stderr)
            );
        }
        stop.store(true, Ordering::SeqCst);
        checker.join().unwrap()
    })
}

#[test]
fn two_hundred_publishes_while_a_client_updates_cause_no_client_error() {
    let f = Repo::new();
    let debs: Vec<PathBuf> = (1..=200)
        .map(|i| {
            make_deb(
                &f.dir.path().join("debs"),
                &format!("pkg{}", i % 7),
                &format!("1.{i}-1"),
                "amd64",
            )
        })
        .collect();
    let server = HttpServer::serve(&f.root());
    let client = AptClient::new(&server.url(), "testing", Some(&f.key.public));
    let (updates, errors) = while_publishing(&f, &debs, || {
        let (ok, text) = client.update();
        (!ok).then_some(text)
    });
    assert!(updates >= 5, "the client barely ran ({updates} updates)");
    assert!(
        errors.is_empty(),
        "{} of {updates} updates failed; first:\n{}",
        errors.len(),
        errors[0]
    );
    client.must_update();
    assert_eq!(client.candidate("pkg4").as_deref(), Some("1.200-1"));
    f.verify();
}

#[test]
fn sigkill_at_random_points_leaves_a_verifiable_repository() {
    let f = Repo::new();
    let debs_dir = f.dir.path().join("debs");
    let server = HttpServer::serve(&f.root());
    // Clients that keep their lists from one kill to the next, as real hosts do.
    let clients = [
        ("file://", f.client("testing")),
        (
            "http",
            AptClient::new(&server.url(), "testing", Some(&f.key.public)),
        ),
    ];
    let mut rng = 0x2545_f491_4f6c_dd1du64;
    let mut before: Option<String> = None;
    for i in 1..=25 {
        let version = format!("1.{i}-1");
        let deb = make_deb(&debs_dir, "victim", &version, "amd64");
        let mut child = add(&f, &deb)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        rng ^= rng << 13;
        rng ^= rng >> 7;
        rng ^= rng << 17;
        std::thread::sleep(Duration::from_millis(rng % 120));
        let _ = child.kill(); // SIGKILL
        let _ = child.wait();
        f.verify();
        // apt updates (--error-on=any) and sees the version before the kill or the new one.
        let mut seen = Vec::new();
        for (how, client) in &clients {
            let (updated, text) = client.update();
            assert!(updated, "kill {i}, {how}: apt-get update failed:\n{text}");
            let candidate = client.candidate("victim");
            assert!(
                candidate == before || candidate.as_deref() == Some(version.as_str()),
                "kill {i}, {how}: candidate {candidate:?}, neither {before:?} nor {version}"
            );
            seen.push(candidate);
        }
        assert_eq!(seen[0], seen[1], "kill {i}: file:// and http disagree");
        before = seen.swap_remove(0);
    }
    // A normal publish afterwards cleans up and clients update.
    let last = make_deb(&debs_dir, "victim", "9.0-1", "amd64");
    assert!(add(&f, &last).status().unwrap().success());
    f.verify();
    for (how, client) in &clients {
        client.must_update();
        assert_eq!(
            client.candidate("victim").as_deref(),
            Some("9.0-1"),
            "{how}"
        );
    }
}

#[test]
fn four_concurrent_publishers_all_land() {
    let f = Repo::new();
    let debs_dir = f.dir.path().join("debs");
    let mut children = Vec::new();
    for writer in 0..4 {
        let debs: Vec<PathBuf> = (0..5)
            .map(|i| make_deb(&debs_dir, &format!("w{writer}-p{i}"), "1.0-1", "amd64"))
            .collect();
        children.push(std::thread::spawn({
            let cmds: Vec<Command> = debs.iter().map(|d| add(&f, d)).collect();
            move || {
                cmds.into_iter()
                    .map(|mut c| c.output().unwrap())
                    .filter(|o| !o.status.success())
                    .map(|o| String::from_utf8_lossy(&o.stderr).into_owned())
                    .collect::<Vec<_>>()
            }
        }));
    }
    for child in children {
        let failures = child.join().unwrap();
        assert!(failures.is_empty(), "{failures:?}");
    }
    let client = AptClient::new(
        &format!("file://{}", f.root().display()),
        "testing",
        Some(&f.key.public),
    );
    client.must_update();
    for writer in 0..4 {
        for i in 0..5 {
            let name = format!("w{writer}-p{i}");
            assert_eq!(
                client.candidate(&name).as_deref(),
                Some("1.0-1"),
                "{name} was lost"
            );
        }
    }
    f.verify();
}

#[test]
fn verify_while_publishing_never_reports_a_false_defect() {
    let f = Repo::new();
    let debs: Vec<PathBuf> = (1..=60)
        .map(|i| {
            make_deb(
                &f.debs(),
                &format!("busy{}", i % 3),
                &format!("1.{i}-1"),
                "amd64",
            )
        })
        .collect();
    let (runs, failures) = while_publishing(&f, &debs, || {
        let out = f.verify_at(&f.root());
        (!out.status.success()).then(|| {
            format!(
                "{}{}",
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            )
        })
    });
    assert!(runs >= 10, "verify barely ran ({runs} times)");
    assert!(
        failures.is_empty(),
        "{} of {runs} verify runs reported defects in a healthy repository; first:\n{}",
        failures.len(),
        failures[0]
    );
    f.verify();
}
