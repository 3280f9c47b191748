//! publish-repo against real apt and gpg: a hermetic apt client over file:// and over a
//! loopback HTTP server must see exactly the expected candidates after every operation.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use cdkit_testkit::apt::{make_deb, make_deb_with, AptClient, HttpServer};
use cdkit_testkit::assert_valid_junit;

mod common;

use common::{
    add_is_refused, failed_with, ok, one_error_line, stderr, tree_digest, unchecked_deb, Repo, BIN,
};

/// One suite as two hermetic clients see it: over file:// and over the loopback HTTP server.
struct Clients {
    file: AptClient,
    http: AptClient,
}

impl Clients {
    fn new(repo: &Repo, server: &HttpServer, suite: &str) -> Clients {
        Clients {
            file: repo.client(suite),
            http: AptClient::new(&server.url(), suite, Some(&repo.key.public)),
        }
    }

    /// `apt-get update --error-on=any` on both (each must succeed).
    fn update(&self) {
        self.file.must_update();
        self.http.must_update();
    }

    /// The candidate of `package`, the same over both.
    fn candidate(&self, package: &str) -> Option<String> {
        let seen = self.file.candidate(package);
        assert_eq!(
            seen,
            self.http.candidate(package),
            "file:// and http disagree"
        );
        seen
    }

    /// Every listed version of `package`, the same over both.
    fn versions(&self, package: &str) -> Vec<String> {
        let seen = self.file.versions(package);
        assert_eq!(
            seen,
            self.http.versions(package),
            "file:// and http disagree"
        );
        seen
    }
}

/// The bytes of `package=version` as `apt-get download` gets them over `url` (into a fresh
/// client: apt-get download skips a file already in its directory, which would prove nothing).
fn download(repo: &Repo, url: &str, suite: &str, package: &str, version: &str) -> Vec<u8> {
    let client = AptClient::new(url, suite, Some(&repo.key.public));
    client.must_update();
    std::fs::read(client.download(package, version)).unwrap()
}

/// The names of the testcases of the JUnit report `report` (which must be valid), in order.
fn testcases(report: &Path) -> Vec<String> {
    assert_valid_junit(report);
    cdkit_testkit::junit_testcases(report)
        .into_iter()
        .map(|(_, name)| name)
        .collect()
}

#[test]
fn apt_sees_adds_promotions_removals_and_retention() {
    let repo = Repo::new();
    let d = repo.debs();
    let server = HttpServer::serve(&repo.root());
    let urls = [format!("file://{}", repo.root().display()), server.url()];
    let v1 = make_deb(&d, "hello", "1.0-1", "amd64");
    let v2 = make_deb(&d, "hello", "1.1-1", "amd64");
    let tool = make_deb(&d, "tool", "2.0-1", "all");
    ok(&repo.add("testing", &[v1.clone(), tool]));
    assert_eq!(
        testcases(&repo.report()),
        ["add hello_1.0-1_amd64", "add tool_2.0-1_all"],
        "one testcase per package added"
    );
    let testing = Clients::new(&repo, &server, "testing");
    testing.update();
    assert_eq!(testing.candidate("hello").as_deref(), Some("1.0-1"));
    assert_eq!(
        testing.candidate("tool").as_deref(),
        Some("2.0-1"),
        "arch-all packages are listed"
    );

    ok(&repo.add("testing", std::slice::from_ref(&v2)));
    assert_eq!(testcases(&repo.report()), ["add hello_1.1-1_amd64"]);
    testing.update();
    assert_eq!(testing.candidate("hello").as_deref(), Some("1.1-1"));
    assert_eq!(
        testing.versions("hello"),
        ["1.1-1", "1.0-1"],
        "older versions stay installable"
    );

    // Promotion lists the same bytes in production.
    let production = Clients::new(&repo, &server, "production");
    production.update();
    assert_eq!(production.candidate("hello"), None);
    ok(&repo.promote(&["hello=1.0-1", "tool"]));
    assert_eq!(
        testcases(&repo.report()),
        ["promote hello_1.0-1_amd64", "promote tool_2.0-1_all"],
        "one testcase per package promoted"
    );
    production.update();
    assert_eq!(production.candidate("hello").as_deref(), Some("1.0-1"));
    assert_eq!(production.versions("hello"), ["1.0-1"]);
    assert_eq!(production.candidate("tool").as_deref(), Some("2.0-1"));
    for url in &urls {
        assert!(
            download(&repo, url, "production", "hello", "1.0-1") == std::fs::read(&v1).unwrap(),
            "promotion moves the same bytes ({url})"
        );
    }

    // Removal.
    ok(&repo.run(&["remove", "--suite", "testing", "tool"]));
    assert_eq!(
        testcases(&repo.report()),
        ["remove tool_2.0-1_all"],
        "one testcase per package removed"
    );
    testing.update();
    assert_eq!(testing.candidate("tool"), None);
    production.update();
    assert_eq!(
        production.candidate("tool").as_deref(),
        Some("2.0-1"),
        "only testing lost it"
    );

    // Retention: --keep 2 drops the oldest of three versions from the index; the older
    // retained one still downloads, over file:// and http.
    let v3 = make_deb(&d, "hello", "1.2-1", "amd64");
    ok(&repo.run(&[
        "add",
        "--suite",
        "testing",
        "--keep",
        "2",
        v3.to_str().unwrap(),
    ]));
    testing.update();
    assert_eq!(testing.candidate("hello").as_deref(), Some("1.2-1"));
    assert_eq!(testing.versions("hello"), ["1.2-1", "1.1-1"]);
    for url in &urls {
        assert!(
            download(&repo, url, "testing", "hello", "1.1-1") == std::fs::read(&v2).unwrap(),
            "the older retained version ({url})"
        );
        // 1.0-1 left testing but production still lists it, so its pool file stays.
        assert!(
            download(&repo, url, "production", "hello", "1.0-1") == std::fs::read(&v1).unwrap(),
            "1.0-1 from production after testing dropped it ({url})"
        );
    }
    repo.verify();
}

/// The line of an `apt-get update` output about `what` (e.g. `production InRelease`).
fn fetch_line<'a>(update: &'a str, what: &str) -> &'a str {
    update
        .lines()
        .find(|l| {
            l.contains(what)
                && (l.starts_with("Get:") || l.starts_with("Hit:") || l.starts_with("Ign:"))
        })
        .unwrap_or_else(|| panic!("apt-get update said nothing about {what}:\n{update}"))
}

/// `apt-get update` (must succeed) fetched each of `what` anew (`Get:`, not `Hit:`).
fn fetched_anew(client: &AptClient, how: &str, what: &[&str]) {
    let (updated, text) = client.update();
    assert!(updated, "{how}: apt-get update failed:\n{text}");
    for what in what {
        let line = fetch_line(&text, what);
        assert!(
            line.starts_with("Get:"),
            "{how}: {line:?} (not fetched anew):\n{text}"
        );
    }
}

#[test]
fn clients_follow_a_move_back_to_an_older_version() {
    let repo = Repo::new();
    let d = repo.debs();
    ok(&repo.add(
        "testing",
        &[
            make_deb(&d, "app", "1.0-1", "amd64"),
            make_deb(&d, "app", "1.1-1", "amd64"),
        ],
    ));
    // Production gets 1.1-1 only; testing retains 1.0-1.
    ok(&repo.promote(&["app=1.1-1"]));
    let server = HttpServer::serve(&repo.root());
    let over_http = || AptClient::new(&server.url(), "production", Some(&repo.key.public));
    // Two clients update between the two steps of the move back, two only after both.
    let (between_http, between_file) = (over_http(), repo.client("production"));
    let (after_http, after_file) = (over_http(), repo.client("production"));
    let clients = [
        ("http, updating between", &between_http),
        ("file, updating between", &between_file),
        ("http", &after_http),
        ("file", &after_file),
    ];
    for (_, client) in clients {
        client.must_update();
        assert_eq!(client.candidate("app").as_deref(), Some("1.1-1"));
        assert_eq!(client.versions("app"), ["1.1-1"]);
    }
    let seen = std::fs::read(repo.root().join("dists/production/InRelease")).unwrap();
    // The move back, as `rollback` makes it: 1.1-1 leaves production, then 1.0-1 is promoted
    // from testing. Both publishes may fall within the second of the clients' last fetch:
    // Last-Modified must still grow (HTTP If-Modified-Since has one-second resolution) and
    // the Date must not go back (apt ignores an older Release).
    ok(&repo.run(&["remove", "--suite", "production", "app=1.1-1"]));
    for (how, client) in &clients[..2] {
        // (An index that became empty is not fetched: apt knows the empty file's hash.)
        fetched_anew(client, how, &["production InRelease"]);
        assert_eq!(client.candidate("app"), None, "{how}");
    }
    let removed = std::fs::read(repo.root().join("dists/production/InRelease")).unwrap();
    ok(&repo.promote(&["app=1.0-1"]));
    let promoted = std::fs::read(repo.root().join("dists/production/InRelease")).unwrap();
    assert!(
        promoted != removed && promoted != seen,
        "InRelease did not change"
    );
    for (how, client) in clients {
        fetched_anew(
            client,
            how,
            &["production InRelease", "production/main amd64 Packages"],
        );
        assert_eq!(client.candidate("app").as_deref(), Some("1.0-1"), "{how}");
        assert_eq!(client.versions("app"), ["1.0-1"], "{how}");
    }
    // The update after: nothing new, and apt says so (the Get: above were not its default).
    let (updated, text) = after_http.update();
    assert!(updated, "{text}");
    assert!(
        fetch_line(&text, "production InRelease").starts_with("Hit:"),
        "{text}"
    );
    repo.verify();
}

#[test]
fn the_same_version_with_other_bytes_is_refused_and_an_identical_re_add_is_a_no_op() {
    let repo = Repo::new();
    let d = repo.debs();
    let original = make_deb(&d, "svc", "1.0-1", "amd64");
    ok(&repo.add("testing", std::slice::from_ref(&original)));
    let before = tree_digest(&repo.root());
    ok(&repo.add("testing", std::slice::from_ref(&original)));
    assert_eq!(
        tree_digest(&repo.root()),
        before,
        "an identical re-add changed the repository"
    );
    assert_eq!(testcases(&repo.report()), ["add svc_1.0-1_amd64"]);
    let xml = std::fs::read_to_string(repo.report()).unwrap();
    assert!(
        xml.contains("already in testing") && !xml.contains("<failure"),
        "{xml}"
    );
    let rebuilt = make_deb_with(
        &d.join("rebuilt"),
        "svc",
        "1.0-1",
        "amd64",
        "different bytes\n",
    );
    let out = repo.add("testing", std::slice::from_ref(&rebuilt));
    let last = failed_with(&out, 1);
    assert!(
        last.contains("svc_1.0-1_amd64 is already published with other bytes"),
        "{last}"
    );
    assert_eq!(testcases(&repo.report()), ["add svc_1.0-1_amd64"]);
    let xml = std::fs::read_to_string(repo.report()).unwrap();
    let original_sha = cdkit::hash::file_checksums(&original).unwrap().2;
    let rebuilt_sha = cdkit::hash::file_checksums(&rebuilt).unwrap().2;
    assert_ne!(original_sha, rebuilt_sha);
    let failure = xml
        .split("<failure")
        .nth(1)
        .unwrap_or_else(|| panic!("no failure in {xml}"));
    for sha in [&original_sha, &rebuilt_sha] {
        assert!(failure.contains(sha.as_str()), "{sha} not named: {xml}");
        assert!(last.contains(sha.as_str()), "{sha} not named: {last}");
    }
    assert_eq!(tree_digest(&repo.root()), before, "the repository changed");
}

#[test]
fn bad_input_is_one_line_exit_2_and_changes_nothing() {
    let repo = Repo::new();
    let d = repo.debs();
    ok(&repo.add("testing", &[make_deb(&d, "base", "1.0-1", "amd64")]));
    let good = make_deb(&d, "good", "1.0-1", "amd64");
    let bytes = std::fs::read(&good).unwrap();
    let truncated = d.join("truncated.deb");
    std::fs::write(&truncated, &bytes[..bytes.len() / 2]).unwrap();
    let not_deb = d.join("notes.deb");
    std::fs::write(&not_deb, "just text\n").unwrap();
    let bad_control = bad_control_deb(&d);
    let before = tree_digest(&repo.root());
    for (bad, problem) in [
        (&truncated, "truncated"),
        (&not_deb, "not a Debian package"),
        (&bad_control, "malformed control file"),
    ] {
        add_is_refused(
            &repo,
            &[good.clone(), bad.clone()],
            &[&bad.display().to_string(), problem],
            &before,
        );
    }
    // Two versions that differ only in their epoch would be one pool file.
    let plain = make_deb(&d.join("plain"), "twin", "1.0-1", "amd64");
    let epoch = make_deb(&d.join("epoch"), "twin", "1:1.0-1", "amd64");
    add_is_refused(
        &repo,
        &[plain.clone(), epoch.clone()],
        &[
            &plain.display().to_string(),
            &epoch.display().to_string(),
            "differ only in their epoch",
        ],
        &before,
    );
    // A missing signing key.
    let missing = "0000000000000000000000000000000000000000";
    let out = Command::new(BIN)
        .args(["add", "--repo"])
        .arg(repo.root())
        .args(["--suite", "testing", "--sign-key", missing])
        .arg(&good)
        .env("GNUPGHOME", repo.key.home.path())
        .output()
        .unwrap();
    one_error_line(&out, 2, &[missing, "no such secret key"]);
    let absent_file = d.join("absent-key.asc");
    let out = Command::new(BIN)
        .args(["add", "--repo"])
        .arg(repo.root())
        .args(["--suite", "testing", "--sign-key-file"])
        .arg(&absent_file)
        .arg(&good)
        .output()
        .unwrap();
    one_error_line(&out, 2, &[&absent_file.display().to_string()]);
    let out = Command::new(BIN)
        .args(["add", "--repo"])
        .arg(repo.root())
        .args(["--suite", "testing"])
        .arg(&good)
        .output()
        .unwrap();
    one_error_line(&out, 2, &["no signing key"]);
    assert_eq!(tree_digest(&repo.root()), before);
}

/// A .deb whose control file has a line that is not `Field: value`.
fn bad_control_deb(dir: &Path) -> PathBuf {
    unchecked_deb(
        dir,
        "broken_1.0-1_amd64",
        "Package: broken\nVersion: 1.0-1\nArchitecture: amd64\nthis line is garbage\nMaintainer: x <x@y>\nDescription: d\n",
    )
}

#[test]
fn paths_are_read_from_stdin_and_a_key_file_signs() {
    let repo = Repo::new();
    let d = repo.debs();
    let a = make_deb(&d, "from-stdin", "1.0-1", "amd64");
    let mut child = Command::new(BIN)
        .args(["add", "--repo"])
        .arg(repo.root())
        .args(["--suite", "testing", "--sign-key-file"])
        .arg(&repo.key.secret_file)
        .stdin(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    use std::io::Write;
    writeln!(child.stdin.take().unwrap(), "{}", a.display()).unwrap();
    let out = child.wait_with_output().unwrap();
    ok(&out);
    let client = repo.client("testing");
    client.must_update();
    assert_eq!(client.candidate("from-stdin").as_deref(), Some("1.0-1"));
}

#[test]
fn a_held_lock_times_out_with_exit_75_naming_the_holder() {
    let repo = Repo::new();
    let lock_path = repo.root().join(".publish-repo/lock");
    let _held = cdkit::lock::Lock::try_acquire(&lock_path, "a test holding the lock").unwrap();
    let deb = make_deb(&repo.debs(), "late", "1.0-1", "amd64");
    let out = Command::new(BIN)
        .args(["add", "--repo"])
        .arg(repo.root())
        .args(["--suite", "testing", "--unsigned", "--lock-timeout", "1s"])
        .arg(&deb)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(75), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("a test holding the lock"),
        "{}",
        stderr(&out)
    );
}

/// A copy of the repository at `root` (hard links within it kept, as publish-repo makes them).
fn copy_of(root: &Path, to: &Path) -> PathBuf {
    let status = Command::new("cp")
        .arg("-a")
        .arg(root)
        .arg(to)
        .status()
        .unwrap();
    assert!(status.success());
    to.to_path_buf()
}

/// Overwrite the middle byte of `path` in place (a hard-linked by-hash twin changes with it).
fn flip_a_byte(path: &Path) {
    let mut bytes = std::fs::read(path).unwrap();
    let middle = bytes.len() / 2;
    bytes[middle] ^= 0x55;
    std::fs::write(path, bytes).unwrap();
}

#[test]
fn verify_finds_each_kind_of_damage_with_exit_1() {
    let repo = Repo::new();
    let d = repo.debs();
    // Three publishes: the by-hash directory also holds retained older generations.
    ok(&repo.add("testing", &[make_deb(&d, "hello", "1.0-1", "amd64")]));
    ok(&repo.add("testing", &[make_deb(&d, "hello", "1.1-1", "amd64")]));
    ok(&repo.add("testing", &[make_deb(&d, "other", "1.0-1", "amd64")]));
    repo.verify();
    let live = repo.root().join("dists/testing");
    let index = "main/binary-amd64";
    let release = std::fs::read_to_string(live.join("Release")).unwrap();
    let current_sha = |name: &str| -> String {
        release
            .lines()
            .find(|l| l.ends_with(&format!(" {index}/{name}")))
            .and_then(|l| l.split_whitespace().next())
            .unwrap()
            .to_string()
    };
    let by_hash_dir = live.join(index).join("by-hash/SHA256");
    let older: Vec<String> = std::fs::read_dir(&by_hash_dir)
        .unwrap()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|name| !release.contains(name.as_str()))
        .collect();
    assert!(
        older.len() >= 3,
        "older generations stay reachable by hash: {older:?}"
    );
    let packages_sha = current_sha("Packages");
    let pool_file = "pool/main/h/hello/hello_1.0-1_amd64.deb";
    type Damage = Box<dyn Fn(&Path)>;
    let cases: Vec<(&str, Damage, Vec<String>)> = vec![
        (
            "Packages.xz corrupted",
            Box::new(move |r: &Path| {
                flip_a_byte(&r.join("dists/testing").join(index).join("Packages.xz"))
            }),
            vec![format!(
                "testing: {index}/Packages.xz does not match its Release entry"
            )],
        ),
        (
            "a pool file deleted",
            Box::new(move |r: &Path| std::fs::remove_file(r.join(pool_file)).unwrap()),
            vec![format!(
                "testing: {pool_file} is listed in {index}/Packages but missing from the pool"
            )],
        ),
        (
            "the current Packages' by-hash copy deleted",
            Box::new({
                let sha = packages_sha.clone();
                move |r: &Path| {
                    std::fs::remove_file(
                        r.join("dists/testing")
                            .join(index)
                            .join("by-hash/SHA256")
                            .join(&sha),
                    )
                    .unwrap()
                }
            }),
            vec![format!(
                "testing: by-hash copy of {index}/Packages ({packages_sha}) is missing"
            )],
        ),
        (
            "an older generation's by-hash copy corrupted",
            Box::new({
                let name = older[0].clone();
                move |r: &Path| {
                    flip_a_byte(
                        &r.join("dists/testing")
                            .join(index)
                            .join("by-hash/SHA256")
                            .join(&name),
                    )
                }
            }),
            vec![format!(
                "testing: {index}/by-hash/SHA256/{} does not match its name",
                older[0]
            )],
        ),
        (
            "InRelease edited",
            Box::new(|r: &Path| {
                let path = r.join("dists/testing/InRelease");
                let text = std::fs::read_to_string(&path).unwrap();
                std::fs::write(&path, text.replacen("Suite: testing", "Suite: tasting", 1))
                    .unwrap();
            }),
            vec!["testing: InRelease: bad signature".to_string()],
        ),
    ];
    let mut all_expected = Vec::new();
    let together = copy_of(&repo.root(), &repo.dir.path().join("together"));
    for (i, (what, damage, expected)) in cases.iter().enumerate() {
        let copy = copy_of(&repo.root(), &repo.dir.path().join(format!("copy{i}")));
        damage(&copy);
        damage(&together);
        let out = repo.verify_at(&copy);
        let said = String::from_utf8_lossy(&out.stdout).into_owned();
        assert_eq!(out.status.code(), Some(1), "{what}: {said}{}", stderr(&out));
        for defect in expected {
            assert!(
                said.lines().any(|l| l.starts_with(defect.as_str())),
                "{what}: {defect:?} not in\n{said}"
            );
        }
        assert!(
            stderr(&out).contains("verify found"),
            "{what}: {}",
            stderr(&out)
        );
        all_expected.extend(expected.iter().cloned());
    }
    let out = repo.verify_at(&together);
    let said = String::from_utf8_lossy(&out.stdout).into_owned();
    assert_eq!(out.status.code(), Some(1), "{said}");
    for defect in &all_expected {
        assert!(
            said.lines().any(|l| l.starts_with(defect.as_str())),
            "all damage at once: {defect:?} not in\n{said}"
        );
    }
    // The original was never touched.
    repo.verify();
}

/// The `Date:` of `suite`'s Release in the repository at `root`.
fn release_date(root: &Path, suite: &str) -> String {
    let release = std::fs::read_to_string(root.join("dists").join(suite).join("Release")).unwrap();
    release
        .lines()
        .find_map(|l| l.strip_prefix("Date: "))
        .unwrap()
        .to_string()
}

#[test]
fn a_publish_within_the_second_clients_last_saw_reaches_them() {
    // The Date has one-second resolution, so two publishes can share it: apt must still take
    // the second one (it ignores only an older Date), and over HTTP If-Modified-Since (also
    // one-second resolution) must not hide it. The clients read `served`, a link to a copy of
    // the first publish and then to the live repository, so only the two publishes have to
    // fall within one second, not the clients' updates as well.
    let repo = Repo::new();
    let d = repo.debs();
    let served = repo.dir.path().join("served");
    let serve = |target: &Path| {
        let link = repo.dir.path().join("served.new");
        std::os::unix::fs::symlink(target, &link).unwrap();
        std::fs::rename(&link, &served).unwrap();
    };
    serve(&repo.root());
    let server = HttpServer::serve(&served);
    let clients = Clients {
        file: AptClient::new(
            &format!("file://{}", served.display()),
            "testing",
            Some(&repo.key.public),
        ),
        http: AptClient::new(&server.url(), "testing", Some(&repo.key.public)),
    };
    for attempt in 1..=10 {
        // Start right after a second begins.
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap();
        std::thread::sleep(std::time::Duration::from_nanos(
            1_000_000_000 - u64::from(now.subsec_nanos()) + 5_000_000,
        ));
        let first = format!("{attempt}.0-1");
        let second = format!("{attempt}.1-1");
        ok(&repo.add("testing", &[make_deb(&d, "quick", &first, "amd64")]));
        let snapshot = copy_of(
            &repo.root(),
            &repo.dir.path().join(format!("first{attempt}")),
        );
        ok(&repo.add("testing", &[make_deb(&d, "quick", &second, "amd64")]));
        if release_date(&repo.root(), "testing") != release_date(&snapshot, "testing") {
            continue; // the second ran over; try again
        }
        serve(&snapshot);
        clients.update();
        assert_eq!(clients.candidate("quick"), Some(first));
        serve(&repo.root());
        for (how, client) in [("file://", &clients.file), ("http", &clients.http)] {
            let (updated, text) = client.update();
            assert!(updated, "{how}: {text}");
            let line = fetch_line(&text, "testing InRelease");
            assert!(line.starts_with("Get:"), "{how}: {line:?}:\n{text}");
        }
        assert_eq!(clients.candidate("quick"), Some(second));
        return;
    }
    panic!("two publishes never fell within one second in 10 attempts");
}
