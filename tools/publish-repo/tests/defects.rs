//! Defects an audit found, each shown fixed with real gpg and apt: hostile and truncated
//! .debs, conflicts within one batch, publishes that fail or are killed part-way (the state
//! and the live tree never disagree), exit codes, and the smaller rules (--keep 0, a promote
//! retention would drop at once, init's lock, an uninitialised repository).

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use cdkit_testkit::apt::{make_deb, make_deb_with};
use cdkit_testkit::assert_valid_junit;

mod common;

use common::{add_is_refused, failed_with, ok, stderr, tree_digest, unchecked_deb, Repo};

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
        let name = bad.file_name().unwrap().to_string_lossy();
        add_is_refused(
            &repo,
            &[good.clone(), bad.clone()],
            &[&name, problem],
            &before,
        );
    }
    ok(&repo.add("testing", &[good]));
}

#[test]
fn hostile_control_fields_never_become_paths() {
    let repo = Repo::new();
    let d = repo.debs();
    ok(&repo.add("testing", &[make_deb(&d, "base", "1.0-1", "amd64")]));
    let stanza = |package: &str, version: &str, arch: &str, source: Option<&str>| {
        let source = source.map(|s| format!("Source: {s}\n")).unwrap_or_default();
        format!(
            "Package: {package}\n{source}Version: {version}\nArchitecture: {arch}\nMaintainer: t <t@example.invalid>\nDescription: hostile\n"
        )
    };
    // Relative to the repository's pool/main/PREFIX: three levels up is the test's own
    // directory, where nothing may appear.
    let escape = repo.dir.path().join("escape");
    let cases = [
        (
            "source-dots",
            stanza("victim", "1.0-1", "amd64", Some("../../../escape")),
            "Source",
        ),
        (
            "source-unicode",
            stanza("victim", "1.0-1", "amd64", Some("libé")),
            "Source",
        ),
        (
            "source-accent",
            stanza("victim", "1.0-1", "amd64", Some("é")),
            "Source",
        ),
        (
            "source-version",
            stanza("victim", "1.0-1", "amd64", Some("victim (1.0/../..)")),
            "Source",
        ),
        (
            "package-dots",
            stanza("../../../escape", "1.0-1", "amd64", None),
            "package name",
        ),
        (
            "version-slash",
            stanza("victim", "1.0/../../../escape", "amd64", None),
            "version",
        ),
        (
            "arch-dots",
            stanza("victim", "1.0-1", "../../../escape", None),
            "architecture",
        ),
    ];
    let good = make_deb(&d, "good", "1.0-1", "amd64");
    let before = tree_digest(&repo.root());
    for (name, control, problem) in &cases {
        let bad = unchecked_deb(&d, name, control);
        add_is_refused(
            &repo,
            &[good.clone(), bad],
            &[&format!("{name}.deb"), problem],
            &before,
        );
        assert!(!escape.exists(), "{name} wrote outside the repository");
    }
    // A proper Source field still works, and apt sees the package.
    let sourced = unchecked_deb(
        &d,
        "sourced",
        &stanza("sourced", "1.0-1", "amd64", Some("libsrc (1.0-1)")),
    );
    ok(&repo.add("testing", &[sourced]));
    assert!(repo
        .root()
        .join("pool/main/libs/libsrc/sourced_1.0-1_amd64.deb")
        .is_file());
    let client = repo.client("testing");
    client.must_update();
    assert_eq!(client.candidate("sourced").as_deref(), Some("1.0-1"));
}

#[test]
fn one_version_twice_with_other_bytes_in_one_batch_is_a_conflict() {
    let repo = Repo::new();
    let d = repo.debs();
    ok(&repo.add("testing", &[make_deb(&d, "base", "1.0-1", "amd64")]));
    let first = make_deb_with(&d.join("a"), "twice", "1.0-1", "amd64", "first build\n");
    let second = make_deb_with(&d.join("b"), "twice", "1.0-1", "amd64", "second build\n");
    let other = make_deb(&d, "bystander", "1.0-1", "amd64");
    let sha = |p: &Path| cdkit::hash::file_checksums(p).unwrap().2;
    let before = tree_digest(&repo.root());
    let out = repo.add("testing", &[first.clone(), other, second.clone()]);
    let last = failed_with(&out, 1);
    assert!(
        last.contains("twice_1.0-1_amd64 is given twice with other bytes"),
        "{last}"
    );
    assert!(!last.contains("epoch"), "{last}");
    assert_valid_junit(&repo.report());
    let xml = std::fs::read_to_string(repo.report()).unwrap();
    let failure = xml
        .split("<failure")
        .nth(1)
        .unwrap_or_else(|| panic!("no failure: {xml}"));
    assert!(
        failure.contains(&sha(&first)) && failure.contains(&sha(&second)),
        "both checksums in the failure: {xml}"
    );
    assert_eq!(
        xml.matches("<testcase").count(),
        2,
        "one per package: {xml}"
    );
    assert!(xml.contains("<skipped"), "the bystander is skipped: {xml}");
    assert_eq!(tree_digest(&repo.root()), before, "the repository changed");
    // Versions that really differ only in their epoch keep their own message (exit 2).
    let plain = make_deb(&d.join("plain"), "twin", "1.0-1", "amd64");
    let epoch = make_deb(&d.join("epoch"), "twin", "1:1.0-1", "amd64");
    let last = failed_with(&repo.add("testing", &[plain, epoch]), 2);
    assert!(last.contains("differ only in their epoch"), "{last}");
    assert_eq!(tree_digest(&repo.root()), before);
}

/// A secret key gpg imports but cannot sign with (it may only certify): `--sign-key-file`
/// accepts it, and signing fails at publish time, after the new tree is written.
fn certify_only_key(dir: &Path) -> PathBuf {
    let home = dir.join("certify-only-gnupg");
    std::fs::create_dir_all(&home).unwrap();
    std::fs::set_permissions(&home, std::os::unix::fs::PermissionsExt::from_mode(0o700)).unwrap();
    let gpg = |args: &[&str]| {
        let out = Command::new("gpg")
            .arg("--homedir")
            .arg(&home)
            .args(["--batch", "--quiet", "--passphrase", ""])
            .args(args)
            .output()
            .unwrap();
        assert!(out.status.success(), "gpg {args:?}: {}", stderr(&out));
        out
    };
    gpg(&[
        "--quick-gen-key",
        "certify only <certify-only@example.invalid>",
        "ed25519",
        "cert",
        "never",
    ]);
    let file = dir.join("certify-only.asc");
    let out = gpg(&["--armor", "--export-secret-keys"]);
    std::fs::write(&file, out.stdout).unwrap();
    file
}

/// `publish-repo SUBCOMMAND --repo ROOT ARGS… --sign-key-file KEY`.
fn with_key_file(repo: &Repo, key: &Path, args: &[&str]) -> std::process::Output {
    Command::new(common::BIN)
        .arg(args[0])
        .arg("--repo")
        .arg(repo.root())
        .args(&args[1..])
        .arg("--sign-key-file")
        .arg(key)
        .arg("--junit")
        .arg(repo.report())
        .output()
        .unwrap()
}

/// What `publish-repo list --suite SUITE` says: `package=version` lines, sorted.
fn listed(repo: &Repo, suite: &str) -> Vec<String> {
    let out = repo.run(&["list", "--suite", suite]);
    ok(&out);
    let mut rows: Vec<String> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| {
            let f: Vec<&str> = l.split('\t').collect();
            format!("{}={}", f[2], f[3])
        })
        .collect();
    rows.sort();
    rows
}

/// What apt sees of `packages` in a suite: `package=version` lines, sorted.
fn seen(client: &cdkit_testkit::apt::AptClient, packages: &[&str]) -> Vec<String> {
    client.must_update();
    let mut rows: Vec<String> = packages
        .iter()
        .flat_map(|p| {
            client
                .versions(p)
                .into_iter()
                .map(move |v| format!("{p}={v}"))
        })
        .collect();
    rows.sort();
    rows
}

#[test]
fn a_publish_that_cannot_sign_changes_nothing_and_a_retry_publishes() {
    let repo = Repo::new();
    let d = repo.debs();
    let bad_key = certify_only_key(repo.dir.path());
    ok(&repo.add("testing", &[make_deb(&d, "base", "1.0-1", "amd64")]));
    let client = repo.client("testing");
    let names = ["base", "fresh"];
    assert_eq!(seen(&client, &names), ["base=1.0-1"]);
    let fresh = make_deb(&d, "fresh", "1.0-1", "amd64");
    let fresh_path = fresh.to_str().unwrap();
    let before = tree_digest(&repo.root());
    let attempts: [&[&str]; 3] = [
        &["add", "--suite", "testing", fresh_path],
        &["remove", "--suite", "testing", "base"],
        &["promote", "--from", "testing", "--to", "production", "base"],
    ];
    for args in attempts {
        let out = with_key_file(&repo, &bad_key, args);
        // Exit 1: the publish failed, and the previous one is still live.
        let last = failed_with(&out, 1);
        assert!(
            last.contains("signing failed")
                && last.contains("the repository is unchanged")
                && last.contains("run the same command again"),
            "{args:?}: {last}"
        );
        assert_valid_junit(&repo.report());
        assert_eq!(
            tree_digest(&repo.root()),
            before,
            "{args:?} changed the repository"
        );
        assert_eq!(listed(&repo, "testing"), ["base=1.0-1"], "{args:?}");
        assert_eq!(seen(&client, &names), ["base=1.0-1"], "{args:?}");
    }
    // The same commands with a key that signs: each publishes.
    ok(&repo.add("testing", std::slice::from_ref(&fresh)));
    assert_eq!(seen(&client, &names), ["base=1.0-1", "fresh=1.0-1"]);
    assert_eq!(client.candidate("fresh").as_deref(), Some("1.0-1"));
    ok(&repo.run(&["remove", "--suite", "testing", "base"]));
    assert_eq!(seen(&client, &names), ["fresh=1.0-1"]);
    assert_eq!(listed(&repo, "testing"), ["fresh=1.0-1"]);
    repo.verify();
}

#[test]
fn after_sigkill_at_random_points_a_rerun_publishes_what_the_state_says() {
    let repo = Repo::new();
    let d = repo.debs();
    let client = repo.client("testing");
    let mut rng = 0x9e37_79b9_7f4a_7c15u64;
    let mut pause = move || {
        rng ^= rng << 13;
        rng ^= rng >> 7;
        rng ^= rng << 17;
        std::time::Duration::from_millis(rng % 150)
    };
    let kill_during = |args: &[&str], pause: std::time::Duration| {
        let mut child = repo
            .command(args)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        std::thread::sleep(pause);
        let _ = child.kill(); // SIGKILL
        let _ = child.wait();
        // Whatever the moment: the state says what clients see.
        assert_eq!(
            listed(&repo, "testing"),
            seen(&client, &["victim"]),
            "{args:?} killed after {pause:?}"
        );
    };
    for i in 1..=16 {
        let version = format!("1.{i}-1");
        let deb = make_deb(&d, "victim", &version, "amd64");
        let deb = deb.to_str().unwrap();
        let add = ["add", "--suite", "testing", "--keep", "3", "-q", deb];
        kill_during(&add, pause());
        // The same add again: the package is published, whatever the killed run did.
        ok(&repo.run(&add));
        client.must_update();
        assert_eq!(
            client.candidate("victim").as_deref(),
            Some(version.as_str())
        );
        if i % 4 == 0 {
            // A killed remove, then the same remove: gone from the index either way (a
            // remove the killed run completed is "not in suite", exit 2).
            let spec = format!("victim={version}");
            let remove = ["remove", "--suite", "testing", "-q", spec.as_str()];
            kill_during(&remove, pause());
            let out = repo.run(&remove);
            if out.status.code() != Some(0) {
                let last = failed_with(&out, 2);
                assert!(last.contains("not in suite"), "{last}");
            }
            assert!(
                !seen(&client, &["victim"]).contains(&spec),
                "{spec} still listed"
            );
        }
    }
    repo.verify();
}

#[test]
fn keep_zero_is_refused() {
    let repo = Repo::new();
    let deb = make_deb(&repo.debs(), "app", "1.0-1", "amd64");
    let before = tree_digest(&repo.root());
    let mut cmd = repo.command(&["add", "--suite", "testing", "--keep", "0"]);
    let out = cmd.arg(&deb).output().unwrap();
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(stderr(&out).contains("--keep"), "{}", stderr(&out));
    assert_eq!(tree_digest(&repo.root()), before);
}

#[test]
fn a_promote_that_retention_would_drop_at_once_is_refused() {
    let repo = Repo::new();
    let d = repo.debs();
    let versions = ["1.0-1", "1.1-1", "1.2-1"];
    let debs: Vec<PathBuf> = versions
        .iter()
        .map(|v| make_deb(&d, "app", v, "amd64"))
        .collect();
    ok(&repo.add("testing", &debs));
    let promote = |spec: &str| {
        repo.run(&[
            "promote",
            "--from",
            "testing",
            "--to",
            "production",
            "--keep",
            "2",
            spec,
        ])
    };
    ok(&promote("app=1.2-1"));
    ok(&promote("app=1.1-1"));
    let production = repo.client("production");
    production.must_update();
    assert_eq!(production.versions("app"), ["1.2-1", "1.1-1"]);
    let before = tree_digest(&repo.root());
    let last = failed_with(&promote("app=1.0-1"), 1);
    assert!(
        last.contains("app_1.0-1_amd64 would be dropped at once") && last.contains("--keep 2"),
        "{last}"
    );
    assert_valid_junit(&repo.report());
    let xml = std::fs::read_to_string(repo.report()).unwrap();
    assert!(
        xml.contains("promote app_1.0-1_amd64") && xml.contains("<failure"),
        "{xml}"
    );
    assert_eq!(tree_digest(&repo.root()), before, "the repository changed");
    production.must_update();
    assert_eq!(production.versions("app"), ["1.2-1", "1.1-1"]);
    // With room for it, the same promote lists it.
    ok(&repo.run(&[
        "promote",
        "--from",
        "testing",
        "--to",
        "production",
        "--keep",
        "3",
        "app=1.0-1",
    ]));
    production.must_update();
    assert_eq!(production.versions("app"), ["1.2-1", "1.1-1", "1.0-1"]);
}

#[test]
fn init_takes_the_lock_and_an_uninitialised_repository_says_run_init() {
    let repo = Repo::new();
    let lock_path = repo.root().join(".publish-repo/lock");
    let held = cdkit::lock::Lock::try_acquire(&lock_path, "a test holding the lock").unwrap();
    // Adding a suite to the repository, with a timeout of one second.
    let add_staging = || {
        repo.run(&[
            "init",
            "--origin",
            "cdkit",
            "--label",
            "cdkit test",
            "--suites",
            "testing,production,staging",
            "--lock-timeout",
            "1s",
        ])
    };
    let last = failed_with(&add_staging(), 75);
    assert!(last.contains("a test holding the lock"), "{last}");
    drop(held);
    ok(&add_staging());
    let staging = repo.client("staging");
    staging.must_update();

    // A directory that was never initialised: bad input naming the fix, not a lock error.
    let empty = repo.dir.path().join("never-initialised");
    std::fs::create_dir_all(&empty).unwrap();
    let deb = make_deb(&repo.debs(), "app", "1.0-1", "amd64");
    let runs: [&[&str]; 4] = [
        &["add", "--suite", "testing", deb.to_str().unwrap()],
        &["remove", "--suite", "testing", "app"],
        &["promote", "--from", "testing", "--to", "production", "app"],
        &["list"],
    ];
    for args in runs {
        let mut cmd = Command::new(common::BIN);
        cmd.arg(args[0]).arg("--repo").arg(&empty).args(&args[1..]);
        if args[0] != "list" {
            cmd.arg("--unsigned");
        }
        let out = cmd.output().unwrap();
        let last = failed_with(&out, 2);
        assert!(
            last.contains("not a publish-repo repository")
                && last.contains("publish-repo init")
                && !last.contains("lock"),
            "{args:?}: {last}"
        );
    }
    assert_eq!(
        std::fs::read_dir(&empty).unwrap().count(),
        0,
        "nothing written into the uninitialised directory"
    );
}

#[test]
fn a_pool_file_no_index_lists_is_replaced_one_a_retained_index_lists_is_not() {
    let repo = Repo::new();
    let d = repo.debs();
    ok(&repo.add("testing", &[make_deb(&d, "base", "1.0-1", "amd64")]));
    // What a publisher killed after storing its pool file and before its switch leaves.
    let left_behind = make_deb_with(&d.join("killed"), "ghost", "1.0-1", "amd64", "killed\n");
    let pool_file = repo.root().join("pool/main/g/ghost/ghost_1.0-1_amd64.deb");
    std::fs::create_dir_all(pool_file.parent().unwrap()).unwrap();
    std::fs::copy(&left_behind, &pool_file).unwrap();
    let ghost = make_deb(&d, "ghost", "1.0-1", "amd64");
    ok(&repo.add("testing", std::slice::from_ref(&ghost)));
    let client = repo.client("testing");
    client.must_update();
    assert_eq!(
        std::fs::read(client.download("ghost", "1.0-1")).unwrap(),
        std::fs::read(&ghost).unwrap(),
        "the new build is what apt gets"
    );
    // Removed from the suite, still listed by a retained generation: a client may be
    // fetching it, so other bytes under its name are refused.
    ok(&repo.run(&["remove", "--suite", "testing", "ghost"]));
    let rebuilt = make_deb_with(&d.join("rebuilt"), "ghost", "1.0-1", "amd64", "rebuilt\n");
    let before = tree_digest(&repo.root());
    let last = failed_with(&repo.add("testing", &[rebuilt]), 1);
    assert!(
        last.contains("already published with other bytes"),
        "{last}"
    );
    assert_eq!(tree_digest(&repo.root()), before);
    repo.verify();
}

#[test]
fn list_while_publishing_always_sees_a_whole_generation() {
    let repo = Repo::new();
    let d = repo.debs();
    ok(&repo.add("testing", &[make_deb(&d, "base", "1.0-1", "amd64")]));
    let debs: Vec<PathBuf> = (1..=30)
        .map(|i| make_deb(&d, &format!("p{}", i % 4), &format!("1.{i}-1"), "amd64"))
        .collect();
    let stop = std::sync::atomic::AtomicBool::new(false);
    let lists = std::thread::scope(|scope| {
        let reader = scope.spawn(|| {
            let mut lists = 0;
            while !stop.load(std::sync::atomic::Ordering::SeqCst) {
                // Without the lock, racing the switch and the removal of the old state.
                let rows = listed(&repo, "testing");
                assert!(rows.contains(&"base=1.0-1".to_string()), "{rows:?}");
                lists += 1;
            }
            lists
        });
        for deb in &debs {
            let mut cmd = repo.command(&["add", "--suite", "testing", "--keep", "2", "-q"]);
            ok(&cmd.arg(deb).output().unwrap());
        }
        stop.store(true, std::sync::atomic::Ordering::SeqCst);
        reader.join().unwrap()
    });
    assert!(lists >= 10, "list ran only {lists} times");
}

/// `--junit` on every command, also when it fails before the operation: init, list and
/// verify each write one testcase (verify's failure lists the defects), and a signing key
/// that cannot be loaded is an errored testcase naming it.
#[test]
fn every_command_writes_a_junit_report_also_on_failure() {
    let repo = Repo::new();
    let d = repo.debs();
    ok(&repo.add("testing", &[make_deb(&d, "hello", "1.0-1", "amd64")]));
    let report = repo.dir.path().join("reports/command.xml");
    let junit = report.to_str().unwrap();
    let read = |want: &str| -> String {
        assert_valid_junit(&report);
        let xml = std::fs::read_to_string(&report).unwrap();
        assert_eq!(xml.matches("<testcase ").count(), 1, "{want}: {xml}");
        assert!(xml.contains(want), "{want}: {xml}");
        std::fs::remove_file(&report).unwrap();
        xml
    };

    let init = ["init", "--origin", "cdkit", "--label", "cdkit test"];
    ok(&repo.run(&[&init[..], &["--junit", junit]].concat()));
    let xml = read("name=\"init ");
    assert!(
        !xml.contains("<failure") && !xml.contains("<error"),
        "{xml}"
    );

    ok(&repo.run(&["list", "--junit", junit]));
    read("name=\"list ");

    let verify = |extra: &[&str]| {
        let mut cmd = Command::new(common::BIN);
        cmd.args(["verify", "--repo"])
            .arg(repo.root())
            .arg("--keyring")
            .arg(&repo.key.public)
            .args(["--junit", junit])
            .args(extra);
        cmd.output().unwrap()
    };
    ok(&verify(&[]));
    let xml = read("name=\"verify ");
    assert!(!xml.contains("<failure"), "{xml}");

    let key_file = repo.dir.path().join("no-such-key.asc");
    let out = Command::new(common::BIN)
        .args(["add", "--repo"])
        .arg(repo.root())
        .args(["--suite", "testing", "--sign-key-file"])
        .arg(&key_file)
        .args(["--junit", junit])
        .arg(make_deb(&d, "other", "1.0-1", "amd64"))
        .env("GNUPGHOME", repo.key.home.path())
        .output()
        .unwrap();
    failed_with(&out, 2);
    let xml = read("<error ");
    assert!(
        xml.contains("no-such-key.asc"),
        "the errored testcase names the key: {xml}"
    );

    let xz = repo
        .root()
        .join("dists/testing/main/binary-amd64/Packages.xz");
    let mut bytes = std::fs::read(&xz).unwrap();
    let last = bytes.len() - 1;
    bytes[last] ^= 0xff;
    std::fs::write(&xz, bytes).unwrap();
    let out = verify(&[]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    let xml = read("<failure ");
    assert!(
        xml.contains("verify found") && xml.contains("Packages.xz"),
        "the failure lists the defects: {xml}"
    );
}

/// `publish-repo list | head -1`: the reader gone before the listing is written is the normal
/// end of the output, not a panic.
#[test]
fn list_ends_quietly_when_its_reader_goes_away() {
    let repo = Repo::new();
    let deb = make_deb(repo.dir.path(), "quiet-pkg", "1.0-1", "all");
    ok(&repo.add("testing", &[deb]));
    for args in [&["list"][..], &["list", "--suite", "testing"][..]] {
        cdkit_testkit::assert_closed_stdout_is_a_normal_end(
            repo.command(args),
            "publish-repo list",
        );
    }
}

/// `verify --keyring NAME`: a relative name is a path from the current directory (gpgv alone
/// would look for it in GNUPGHOME and call every signature bad), an ASCII-armoured `.asc`
/// keyring works as it does for apt's `signed-by`, and a keyring that is missing, unreadable
/// or holds no key is bad input (exit 2, one line) rather than four "bad signature" defects.
#[test]
fn verify_reads_the_keyring_it_is_given_relative_or_armoured() {
    let repo = Repo::new();
    let d = repo.debs();
    ok(&repo.add("testing", &[make_deb(&d, "keyed", "1.0-1", "amd64")]));
    let here = repo.dir.path().join("cwd");
    std::fs::create_dir_all(&here).unwrap();
    std::fs::copy(&repo.key.public, here.join("repo-key.gpg")).unwrap();
    let armoured = Command::new("gpg")
        .arg("--homedir")
        .arg(repo.key.home.path())
        .args([
            "--batch",
            "--quiet",
            "--armor",
            "--export",
            &repo.key.fingerprint,
        ])
        .output()
        .unwrap();
    assert!(armoured.status.success(), "{}", stderr(&armoured));
    std::fs::write(here.join("repo-key.asc"), &armoured.stdout).unwrap();
    std::fs::write(here.join("junk.gpg"), "not a key\n").unwrap();
    // gpg's own keyring here is empty: only the named keyring can vouch for the signatures.
    let empty_home = tempfile::tempdir().unwrap();
    let verify = |keyring: &str| {
        Command::new(common::BIN)
            .args(["verify", "--repo"])
            .arg(repo.root())
            .args(["--keyring", keyring])
            .current_dir(&here)
            .env("GNUPGHOME", empty_home.path())
            .output()
            .unwrap()
    };
    for good in ["repo-key.gpg", "./repo-key.gpg", "repo-key.asc"] {
        let out = verify(good);
        assert_eq!(
            out.status.code(),
            Some(0),
            "{good}: {}{}",
            String::from_utf8_lossy(&out.stdout),
            stderr(&out)
        );
    }
    // apt takes the same armoured keyring in signed-by.
    let client = cdkit_testkit::apt::AptClient::new(
        &format!("file://{}", repo.root().display()),
        "testing",
        Some(&here.join("repo-key.asc")),
    );
    client.must_update();
    assert_eq!(client.candidate("keyed").as_deref(), Some("1.0-1"));
    for (bad, problem) in [
        ("missing.gpg", "cannot read it"),
        ("junk.gpg", "holds no OpenPGP public key"),
        (".", "cannot read it"),
    ] {
        let out = verify(bad);
        let line = common::one_error_line(&out, 2, &[&format!("--keyring {bad}"), problem]);
        assert!(out.stdout.is_empty(), "{bad}: no defects listed: {line}");
    }
}

/// Re-adding a file that is already published says so, one line per file naming it, and
/// the JUnit report has a passing testcase saying the same.
#[test]
fn re_adding_a_published_file_says_it_is_already_there() {
    let repo = Repo::new();
    let d = repo.debs();
    let first = make_deb(&d, "again", "1.0-1", "amd64");
    let second = make_deb(&d, "again-too", "1.0-1", "all");
    ok(&repo.add("testing", &[first.clone(), second.clone()]));
    let before = tree_digest(&repo.root());
    let out = repo.add("testing", &[first.clone(), second.clone()]);
    ok(&out);
    let text = stderr(&out);
    for (deb, id) in [
        (&first, "again_1.0-1_amd64"),
        (&second, "again-too_1.0-1_all"),
    ] {
        let lines: Vec<&str> = text
            .lines()
            .filter(|l| l.contains(&format!("{id} ({})", deb.display())))
            .collect();
        assert_eq!(lines.len(), 1, "one line for {id}:\n{text}");
        assert!(lines[0].contains("is already in testing"), "{}", lines[0]);
    }
    assert_eq!(tree_digest(&repo.root()), before, "the repository changed");
    assert_valid_junit(&repo.report());
    let xml = std::fs::read_to_string(repo.report()).unwrap();
    assert_eq!(xml.matches("<testcase ").count(), 2, "{xml}");
    assert_eq!(xml.matches("is already in testing").count(), 2, "{xml}");
    assert!(
        !xml.contains("<failure") && !xml.contains("<error") && !xml.contains("<skipped"),
        "{xml}"
    );
}

/// A batch with several bad files names every one of them in one run, each on its own line
/// (a directory as "a directory", not "not an ar archive"), closes with one summary line,
/// and publishes nothing.
#[test]
fn every_bad_input_of_a_batch_is_named() {
    let repo = Repo::new();
    let d = repo.debs();
    ok(&repo.add("testing", &[make_deb(&d, "base", "1.0-1", "amd64")]));
    let good = make_deb(&d, "fine", "1.0-1", "amd64");
    let bytes = std::fs::read(&good).unwrap();
    let truncated = d.join("truncated.deb");
    std::fs::write(&truncated, &bytes[..bytes.len() - 100]).unwrap();
    let directory = d.join("directory.deb");
    std::fs::create_dir_all(&directory).unwrap();
    let missing = d.join("missing.deb");
    let hostile = unchecked_deb(
        &d,
        "hostile",
        "Package: victim\nVersion: 1.0/../x\nArchitecture: amd64\nMaintainer: t <t@example.invalid>\nDescription: x\n",
    );
    let wrong_arch = make_deb(&d.join("arch"), "armed", "1.0-1", "arm64");
    let before = tree_digest(&repo.root());
    let bad = [
        (&truncated, "truncated"),
        (&directory, "is a directory"),
        (&missing, "No such file"),
        (&hostile, "version"),
        (&wrong_arch, "architecture arm64"),
    ];
    let mut debs = vec![good.clone()];
    debs.extend(bad.iter().map(|(p, _)| (*p).clone()));
    let out = repo.add("testing", &debs);
    let last = failed_with(&out, 2);
    assert!(
        last.contains("5 of 6 .deb files are bad") && last.contains("nothing was added"),
        "{last}"
    );
    let text = stderr(&out);
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), bad.len() + 1, "one line per bad file:\n{text}");
    for (path, problem) in &bad {
        let name = path.display().to_string();
        let line = lines
            .iter()
            .find(|l| l.contains(&name))
            .unwrap_or_else(|| panic!("{name} not named:\n{text}"));
        assert!(
            line.starts_with("publish-repo: error: ") && line.contains(problem),
            "{line}"
        );
    }
    assert!(!text.contains("not an ar archive"), "{text}");
    assert!(!text.contains(&good.display().to_string()), "{text}");
    assert_eq!(tree_digest(&repo.root()), before, "the repository changed");
    assert_valid_junit(&repo.report());
    let xml = std::fs::read_to_string(repo.report()).unwrap();
    assert!(
        xml.contains("<error")
            && bad
                .iter()
                .all(|(p, _)| xml.contains(&p.display().to_string())),
        "the errored testcase lists every bad file: {xml}"
    );
    // One bad file is still the one error line it always was.
    add_is_refused(
        &repo,
        &[good, directory],
        &["directory.deb", "is a directory"],
        &before,
    );
}

/// A .deb whose file name contradicts its control file is published as the control file
/// says, with one warning line naming the file and both values; `--strict` refuses it (exit
/// 2, nothing changed). Names that follow Debian's conventions (epoch dropped, or written
/// `%3a`) never warn.
#[test]
fn a_file_name_that_contradicts_the_control_file_warns_and_strict_refuses() {
    let repo = Repo::new();
    let d = repo.debs();
    ok(&repo.add("testing", &[make_deb(&d, "base", "1.0-1", "amd64")]));
    let built = make_deb(&d.join("built"), "hello", "2.10-4", "amd64");
    let renamed = d.join("hello_2.10-3_amd64.deb");
    std::fs::copy(&built, &renamed).unwrap();
    let before = tree_digest(&repo.root());
    let mut strict = repo.command(&["add", "--suite", "testing", "--strict"]);
    let out = strict.arg(&renamed).output().unwrap();
    let line = common::one_error_line(
        &out,
        2,
        &[
            "hello_2.10-3_amd64.deb",
            "version 2.10-3",
            "2.10-4",
            "--strict",
        ],
    );
    assert!(!line.contains("built/"), "{line}");
    assert_eq!(
        tree_digest(&repo.root()),
        before,
        "--strict changed the repository"
    );

    let out = repo.add("testing", std::slice::from_ref(&renamed));
    ok(&out);
    let text = stderr(&out);
    let warnings: Vec<&str> = text.lines().filter(|l| l.contains(" WARN ")).collect();
    assert_eq!(warnings.len(), 1, "{text}");
    for part in [
        "hello_2.10-3_amd64.deb",
        "version 2.10-3",
        "control file 2.10-4",
    ] {
        assert!(warnings[0].contains(part), "{part}: {}", warnings[0]);
    }
    let client = repo.client("testing");
    client.must_update();
    assert_eq!(client.candidate("hello").as_deref(), Some("2.10-4"));

    // Debian's own names agree: dpkg-deb's (epoch dropped), apt's cache (`%3a`), and names
    // that claim nothing.
    let epoch = make_deb(&d.join("epoch"), "epoched", "1:2.0-1", "amd64");
    assert!(
        epoch.ends_with("epoched_2.0-1_amd64.deb"),
        "{}",
        epoch.display()
    );
    let cached = d.join("cached_1%3a3.0-1_all.deb");
    std::fs::copy(make_deb(&d.join("c"), "cached", "1:3.0-1", "all"), &cached).unwrap();
    let plain = d.join("plain.deb");
    std::fs::copy(
        make_deb(&d.join("p"), "plain-pkg", "1.0-1", "amd64"),
        &plain,
    )
    .unwrap();
    let out = repo.add("testing", &[epoch, cached, plain]);
    ok(&out);
    let text = stderr(&out);
    assert!(!text.contains(" WARN "), "{text}");
    let mut strict = repo.command(&["add", "--suite", "testing", "--strict"]);
    ok(&strict
        .arg(make_deb(&d.join("s"), "strict-ok", "1:1.0-1", "amd64"))
        .output()
        .unwrap());
    repo.verify();
}
