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
