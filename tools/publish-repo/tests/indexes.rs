//! The chunked Packages.gz (concatenated gzip members) and Packages.xz (one xz stream of
//! many blocks) that publish-repo writes, read by the real decoders (xz, gzip, zcat,
//! Python's lzma and gzip) and by apt itself over each compression, after many adds, new
//! versions and removals; and byte-identical to a fresh publish of the same packages.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use cdkit_testkit::apt::{make_deb, AptClient, HttpServer};

mod common;

use common::{ok, stderr, Repo};

const INDEX: &str = "main/binary-amd64";

/// The live `dists/SUITE/main/binary-amd64` directory.
fn index_dir(repo: &Repo, suite: &str) -> PathBuf {
    repo.root().join("dists").join(suite).join(INDEX)
}

/// Run `program args… FILE` and return its stdout (it must succeed).
fn output(program: &str, args: &[&str], file: &Path) -> Vec<u8> {
    let out = Command::new(program)
        .args(args)
        .arg(file)
        .stderr(Stdio::piped())
        .output()
        .unwrap_or_else(|e| panic!("cannot run {program}: {e}"));
    assert!(
        out.status.success(),
        "{program} {args:?} {}: {}",
        file.display(),
        String::from_utf8_lossy(&out.stderr)
    );
    out.stdout
}

/// Every decoder must turn Packages.gz and Packages.xz into exactly Packages.
fn check_decoders(dir: &Path) {
    let plain = std::fs::read(dir.join("Packages")).unwrap();
    let (gz, xz) = (dir.join("Packages.gz"), dir.join("Packages.xz"));
    assert_eq!(output("xz", &["-dc"], &xz), plain, "xz -dc");
    assert_eq!(output("zcat", &[], &gz), plain, "zcat");
    output("gzip", &["-t"], &gz);
    output("xz", &["-t"], &xz);
    let python = "import sys, lzma, gzip\n\
                  plain = open(sys.argv[1], 'rb').read()\n\
                  assert lzma.decompress(open(sys.argv[2], 'rb').read()) == plain, 'lzma'\n\
                  assert gzip.decompress(open(sys.argv[3], 'rb').read()) == plain, 'gzip'\n";
    let out = Command::new("python3")
        .args(["-c", python])
        .arg(dir.join("Packages"))
        .arg(&xz)
        .arg(&gz)
        .output()
        .unwrap();
    assert!(out.status.success(), "python: {}", stderr(&out));
}

/// Minimal real .debs (ar: debian-binary, control.tar.gz, data.tar.gz), version 1.0-1,
/// written by Python in one process: hundreds of them take a second, where the debug-built
/// `make_deb` takes tens. dpkg-deb must accept them.
fn python_debs(dir: &Path, names: &[String]) -> Vec<PathBuf> {
    const SCRIPT: &str = r#"
import gzip, io, os, sys, tarfile
def targz(members):
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w", format=tarfile.USTAR_FORMAT) as tar:
        for name, data in members:
            info = tarfile.TarInfo(name)
            info.uname = info.gname = "root"
            if data is None:
                info.type, info.mode = tarfile.DIRTYPE, 0o755
                tar.addfile(info)
            else:
                info.mode, info.size = 0o644, len(data)
                tar.addfile(info, io.BytesIO(data))
    return gzip.compress(raw.getvalue(), 6, mtime=0)
def member(name, data):
    head = b"%-16s%-12d%-6d%-6d%-8s%-10d`\n" % (name.encode(), 0, 0, 0, b"100644", len(data))
    return head + data + (b"\n" if len(data) % 2 else b"")
out = sys.argv[1]
for name in sys.argv[2:]:
    control = ("Package: %s\nVersion: 1.0-1\nArchitecture: amd64\nMaintainer: cdkit tests <cdkit@example.com>\n"
               "Section: misc\nPriority: optional\nDescription: test package %s\n" % (name, name)).encode()
    data = [("./", None), ("./usr/", None), ("./usr/share/", None), ("./usr/share/doc/", None),
            ("./usr/share/doc/%s/" % name, None), ("./usr/share/doc/%s/README" % name, name.encode() + b"\n")]
    with open(os.path.join(out, "%s_1.0-1_amd64.deb" % name), "wb") as f:
        f.write(b"!<arch>\n" + member("debian-binary", b"2.0\n")
                + member("control.tar.gz", targz([("./", None), ("./control", control)]))
                + member("data.tar.gz", targz(data)))
"#;
    std::fs::create_dir_all(dir).unwrap();
    let out = Command::new("python3")
        .args(["-c", SCRIPT])
        .arg(dir)
        .args(names)
        .output()
        .unwrap();
    assert!(out.status.success(), "python: {}", stderr(&out));
    let debs: Vec<PathBuf> = names
        .iter()
        .map(|n| dir.join(format!("{n}_1.0-1_amd64.deb")))
        .collect();
    output("dpkg-deb", &["--info"], &debs[0]);
    debs
}

/// `add --keep 2` of `debs` into testing.
fn add(repo: &Repo, debs: &[PathBuf]) {
    let mut cmd = repo.command(&["add", "--suite", "testing", "--keep", "2", "-q"]);
    cmd.args(debs);
    ok(&cmd.output().unwrap());
}

#[test]
fn chunked_indexes_decode_everywhere_and_equal_a_fresh_publish() {
    let repo = Repo::new();
    let d = repo.debs();
    let names: Vec<String> = (0..700).map(|i| format!("pkg{i:04}")).collect();
    let debs = python_debs(&d, &names);
    add(&repo, &debs);
    let dir = index_dir(&repo, "testing");
    check_decoders(&dir);
    let listing = String::from_utf8(output(
        "xz",
        &["--robot", "--list"],
        &dir.join("Packages.xz"),
    ))
    .unwrap();
    let totals: Vec<&str> = listing
        .lines()
        .find(|l| l.starts_with("totals"))
        .unwrap()
        .split('\t')
        .collect();
    assert_eq!(totals[1], "1", "one stream (apt reads only the first)");
    let blocks: usize = totals[2].parse().unwrap();
    assert!(blocks > 2, "{listing}");

    // New packages, new versions (--keep 2 drops the oldest), removals: each republished
    // from the previous generation's pieces.
    for step in 0..9usize {
        let name = &names[(step * 97) % names.len()];
        match step % 3 {
            0 => add(
                &repo,
                &[make_deb(&d, &format!("{name}-extra"), "1.0-1", "amd64")],
            ),
            1 => {
                add(
                    &repo,
                    &[make_deb(&d, name, &format!("1.{step}-1"), "amd64")],
                );
                add(
                    &repo,
                    &[make_deb(&d, name, &format!("2.{step}-1"), "amd64")],
                );
            }
            _ => ok(&repo.run(&["remove", "--suite", "testing", "-q", name])),
        }
        check_decoders(&dir);
    }
    repo.verify();

    // A fresh repository given the same packages in one go writes the same bytes.
    let listed: serde_json::Value =
        serde_json::from_slice(&repo.run(&["list", "--suite", "testing", "--json"]).stdout)
            .unwrap();
    let files: Vec<PathBuf> = listed
        .as_array()
        .unwrap()
        .iter()
        .map(|row| repo.root().join(row["filename"].as_str().unwrap()))
        .collect();
    let fresh = Repo::new();
    add(&fresh, &files);
    for name in ["Packages", "Packages.gz", "Packages.xz"] {
        assert!(
            std::fs::read(dir.join(name)).unwrap()
                == std::fs::read(index_dir(&fresh, "testing").join(name)).unwrap(),
            "{name} differs from a fresh publish of the same packages"
        );
    }

    // apt reads both: xz (its default) and gz, over HTTP; the worker log shows which file it
    // fetched (by hash).
    let server = HttpServer::serve(&repo.root());
    let sha = |name: &str| cdkit::hash::file_checksums(&dir.join(name)).unwrap().2;
    for (order, fetched) in [("xz", sha("Packages.xz")), ("gz", sha("Packages.gz"))] {
        let client = AptClient::new(&server.url(), "testing", Some(&repo.key.public));
        std::fs::write(
            client.root.path().join("etc/apt/apt.conf.d/50order"),
            format!(
                "Acquire::CompressionTypes::Order {{ \"{order}\"; }};\nDebug::pkgAcquire::Worker \"true\";\n"
            ),
        )
        .unwrap();
        let (updated, log) = client.update();
        assert!(updated, "apt-get update ({order}):\n{log}");
        assert!(
            log.contains(&format!("by-hash/SHA256/{fetched}")),
            "apt did not fetch Packages.{order}:\n{log}"
        );
        assert_eq!(client.candidate("pkg0000").as_deref(), Some("1.0-1"));
        assert_eq!(client.candidate("pkg0699").as_deref(), Some("1.0-1"));
        assert_eq!(client.candidate("pkg0097").as_deref(), Some("2.1-1"));
        assert_eq!(client.versions("pkg0097"), ["2.1-1", "1.1-1"]);
        assert_eq!(client.candidate("pkg0000-extra").as_deref(), Some("1.0-1"));
        assert_eq!(client.candidate("pkg0291-extra").as_deref(), Some("1.0-1"));
        assert_eq!(client.candidate("pkg0194"), None, "removed");
    }
}

/// What a publish of `suite` left: its Release (as fields), InRelease bytes and mtime.
struct Published {
    fields: Vec<(String, String)>,
    release: String,
    inrelease: Vec<u8>,
    mtime: std::time::SystemTime,
}

impl Published {
    fn read(repo: &Repo, suite: &str) -> Published {
        let dir = repo.root().join("dists").join(suite);
        let release = std::fs::read_to_string(dir.join("Release")).unwrap();
        let fields = release
            .lines()
            .filter(|l| !l.starts_with(' '))
            .filter_map(|l| l.split_once(':'))
            .map(|(k, v)| (k.to_string(), v.trim().to_string()))
            .collect();
        Published {
            fields,
            release,
            inrelease: std::fs::read(dir.join("InRelease")).unwrap(),
            mtime: std::fs::metadata(dir.join("InRelease"))
                .unwrap()
                .modified()
                .unwrap(),
        }
    }

    fn field(&self, name: &str) -> &str {
        self.fields
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
            .unwrap_or_else(|| panic!("no {name} in\n{}", self.release))
    }

    /// `Date`, parsed (apt compares it with the Date of the Release it already has).
    fn date(&self) -> chrono::NaiveDateTime {
        chrono::NaiveDateTime::parse_from_str(self.field("Date"), "%a, %d %b %Y %H:%M:%S UTC")
            .unwrap_or_else(|e| panic!("Date {:?}: {e}", self.field("Date")))
    }

    /// Release and InRelease of this publish and the `next` agree on everything a client
    /// pins, and `next` is not older.
    fn followed_by(&self, next: &Published, what: &str) {
        for name in ["Origin", "Label", "Suite", "Codename", "Acquire-By-Hash"] {
            assert_eq!(self.field(name), next.field(name), "{what}: {name} changed");
        }
        assert!(next.date() >= self.date(), "{what}: Date went back");
        assert!(
            next.mtime > self.mtime,
            "{what}: InRelease's mtime did not grow (HTTP If-Modified-Since would hide it)"
        );
    }
}

/// Wait until the wall clock is past the second of `published`'s Date.
fn next_second_after(published: &Published) {
    while chrono::Utc::now().naive_utc() < published.date() + chrono::Duration::seconds(1) {
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
}

#[test]
fn release_fields_stay_put_and_every_publish_gets_a_fresh_date() {
    let repo = Repo::new();
    let d = repo.debs();
    ok(&repo.add("testing", &[make_deb(&d, "hello", "1.0-1", "amd64")]));
    let promote = || ok(&repo.promote(&["hello=1.0-1"]));
    promote();
    let first = Published::read(&repo, "production");
    assert_eq!(first.field("Origin"), "cdkit");
    assert_eq!(first.field("Label"), "cdkit test");
    assert_eq!(first.field("Suite"), "production");
    assert_eq!(first.field("Codename"), "production");
    assert_eq!(first.field("Acquire-By-Hash"), "yes");
    // SHA256 of every index, the uncompressed Packages included (apt ignores an index whose
    // plain file Release does not list); no other hash, since only SHA256 by-hash files exist.
    let hashes: Vec<&str> = first
        .release
        .lines()
        .filter(|l| !l.starts_with(' ') && l.ends_with(':'))
        .collect();
    assert_eq!(hashes, ["SHA256:"], "{}", first.release);
    for arch in ["amd64", "all"] {
        let dir = repo
            .root()
            .join(format!("dists/production/main/binary-{arch}/by-hash"));
        let algorithms: Vec<String> = std::fs::read_dir(&dir)
            .unwrap()
            .flatten()
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .collect();
        assert_eq!(algorithms, ["SHA256"], "{}", dir.display());
        for name in ["Packages", "Packages.gz", "Packages.xz"] {
            let path = format!(" main/binary-{arch}/{name}");
            assert!(
                first.release.lines().any(|l| l.ends_with(&path)),
                "{path} not listed:\n{}",
                first.release
            );
        }
    }

    // The same promote again, at once: nothing to add, published anyway. Within the same
    // second the Date may repeat (it has one-second resolution; apt takes an equal Date), and
    // the mtime still grows.
    promote();
    let again = Published::read(&repo, "production");
    first.followed_by(&again, "an immediate no-op promote");
    // In a later second: a later Date, and so a new InRelease.
    next_second_after(&again);
    promote();
    let later = Published::read(&repo, "production");
    again.followed_by(&later, "a no-op promote a second later");
    assert!(later.date() > again.date(), "the Date is not fresh");
    assert_ne!(later.inrelease, again.inrelease, "InRelease did not change");
    // A remove: a fresh Date too.
    next_second_after(&later);
    ok(&repo.run(&["remove", "--suite", "production", "hello"]));
    let removed = Published::read(&repo, "production");
    later.followed_by(&removed, "a remove");
    assert!(removed.date() > later.date(), "the Date is not fresh");
    assert_ne!(removed.inrelease, later.inrelease);

    // Origin and Label never change: init again with another Label is refused (exit 2) and
    // leaves the configuration as it was.
    let config = repo.root().join(".publish-repo/config.json");
    let before = std::fs::read(&config).unwrap();
    let out = repo.run(&["init", "--origin", "cdkit", "--label", "another label"]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    let last = stderr(&out).lines().last().unwrap_or("").to_string();
    assert!(
        last.starts_with("publish-repo: error: ") && last.contains("never change"),
        "{last}"
    );
    assert_eq!(std::fs::read(&config).unwrap(), before, "config changed");
    let after = Published::read(&repo, "production");
    assert_eq!(
        after.inrelease, removed.inrelease,
        "a refused init published"
    );
    repo.verify();
}
