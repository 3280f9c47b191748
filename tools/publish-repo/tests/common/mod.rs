//! A repository made by the publish-repo binary in a temporary directory, with its own
//! signing key, shared by the integration tests.

#![allow(dead_code)] // each test binary uses a different part

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use cdkit_testkit::apt::{AptClient, TestKey};

pub const BIN: &str = env!("CARGO_BIN_EXE_publish-repo");

pub struct Repo {
    pub dir: tempfile::TempDir,
    pub key: TestKey,
}

impl Repo {
    /// `init` a repository (suites testing and production, published empty and signed).
    pub fn new() -> Repo {
        let repo = Repo {
            dir: tempfile::tempdir().unwrap(),
            key: TestKey::generate(),
        };
        let out = repo.run(&["init", "--origin", "cdkit", "--label", "cdkit test"]);
        assert!(out.status.success(), "{}", stderr(&out));
        repo
    }

    pub fn root(&self) -> PathBuf {
        self.dir.path().join("repo")
    }

    pub fn debs(&self) -> PathBuf {
        self.dir.path().join("debs")
    }

    pub fn report(&self) -> PathBuf {
        self.dir.path().join("reports/publish.xml")
    }

    /// `publish-repo SUBCOMMAND --repo ROOT ARGS…`, signed with the test key (and writing a
    /// report) where the subcommand publishes.
    pub fn command(&self, args: &[&str]) -> Command {
        let mut cmd = Command::new(BIN);
        cmd.arg(args[0])
            .arg("--repo")
            .arg(self.root())
            .args(&args[1..]);
        if matches!(args[0], "init" | "add" | "promote" | "remove") {
            cmd.args(["--sign-key", &self.key.fingerprint]);
        }
        if matches!(args[0], "add" | "promote" | "remove") {
            cmd.arg("--junit").arg(self.report());
        }
        cmd.env("GNUPGHOME", self.key.home.path());
        cmd
    }

    pub fn run(&self, args: &[&str]) -> Output {
        self.command(args).output().unwrap()
    }

    pub fn add(&self, suite: &str, debs: &[PathBuf]) -> Output {
        let mut cmd = self.command(&["add", "--suite", suite]);
        cmd.args(debs);
        cmd.output().unwrap()
    }

    /// A hermetic apt client of `suite` over file://.
    pub fn client(&self, suite: &str) -> AptClient {
        AptClient::new(
            &format!("file://{}", self.root().display()),
            suite,
            Some(&self.key.public),
        )
    }

    /// `publish-repo verify` must pass.
    pub fn verify(&self) {
        let out = Command::new(BIN)
            .args(["verify", "--repo"])
            .arg(self.root())
            .arg("--keyring")
            .arg(&self.key.public)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "verify: {}{}",
            String::from_utf8_lossy(&out.stdout),
            stderr(&out)
        );
    }
}

pub fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

pub fn ok(out: &Output) {
    assert_eq!(out.status.code(), Some(0), "{}", stderr(out));
}

impl Repo {
    /// `publish-repo verify` of the repository at `root` (this one, or a copy of it), checked
    /// with this repository's key.
    pub fn verify_at(&self, root: &std::path::Path) -> Output {
        Command::new(BIN)
            .args(["verify", "--repo"])
            .arg(root)
            .arg("--keyring")
            .arg(&self.key.public)
            .output()
            .unwrap()
    }
}

/// Every directory, file's path and content (and every symlink's target) under `root`, except the lock
/// file: equal before and after means the repository did not change.
pub fn tree_digest(root: &std::path::Path) -> Vec<(String, String)> {
    let mut out = Vec::new();
    let mut stack = vec![root.to_path_buf()];
    while let Some(dir) = stack.pop() {
        for item in std::fs::read_dir(&dir).unwrap().flatten() {
            let path = item.path();
            let kind = item.file_type().unwrap();
            if kind.is_symlink() {
                let target = std::fs::read_link(&path).unwrap();
                out.push((
                    path.display().to_string(),
                    format!("-> {}", target.display()),
                ));
            } else if kind.is_dir() {
                // Directories too: a refused run must not leave empty ones behind.
                out.push((path.display().to_string(), "dir".into()));
                stack.push(path);
            } else if !path.ends_with("lock") {
                let sha = cdkit::hash::file_checksums(&path).unwrap().2;
                out.push((path.display().to_string(), sha));
            }
        }
    }
    out.sort();
    out
}

/// The last stderr line of a run that must have failed with `code`: one line starting
/// `publish-repo: error: ` (or `refused: `), returned for further checks.
pub fn failed_with(out: &Output, code: i32) -> String {
    assert_eq!(out.status.code(), Some(code), "{}", stderr(out));
    let text = stderr(out);
    let last = text.lines().last().unwrap_or("").to_string();
    assert!(
        last.starts_with("publish-repo: error: ") || last.starts_with("publish-repo: refused: "),
        "not one closing error line: {text}"
    );
    last
}

impl Repo {
    /// `promote --from testing --to production SPEC…`.
    pub fn promote(&self, specs: &[&str]) -> Output {
        let mut cmd = self.command(&["promote", "--from", "testing", "--to", "production"]);
        cmd.args(specs);
        cmd.output().unwrap()
    }
}

/// The run failed with `code` and said so in exactly one line on stderr, an error naming
/// each of `names` (the input and the problem); returns that line.
pub fn one_error_line(out: &Output, code: i32, names: &[&str]) -> String {
    let text = stderr(out);
    let last = failed_with(out, code);
    assert_eq!(text.lines().count(), 1, "more than one line:\n{text}");
    assert!(last.starts_with("publish-repo: error: "), "{last}");
    for name in names {
        assert!(last.contains(name), "{name:?} not named: {last}");
    }
    last
}

/// `add DEBS` into testing is refused with exit 2 in one error line naming each of `names`,
/// and the repository stays as `before` ([`tree_digest`]).
pub fn add_is_refused(repo: &Repo, debs: &[PathBuf], names: &[&str], before: &[(String, String)]) {
    let out = repo.add("testing", debs);
    let line = one_error_line(&out, 2, names);
    assert_eq!(
        tree_digest(&repo.root()),
        before,
        "changed the repository: {line}"
    );
}

/// A .deb built by dpkg-deb without its checks (`--nocheck`) from this control text, so a
/// test can hand publish-repo fields no honest build tool writes.
pub fn unchecked_deb(dir: &Path, name: &str, control: &str) -> PathBuf {
    let work = dir.join(format!("{name}.tree"));
    std::fs::create_dir_all(work.join("DEBIAN")).unwrap();
    std::fs::write(work.join("DEBIAN/control"), control).unwrap();
    let out = dir.join(format!("{name}.deb"));
    let status = Command::new("dpkg-deb")
        .args(["--nocheck", "--root-owner-group", "--build"])
        .arg(&work)
        .arg(&out)
        .stdout(Stdio::null())
        .status()
        .unwrap();
    assert!(status.success(), "dpkg-deb --build {name}");
    out
}

/// Building .debs byte by byte: ar members, raw-path tars, the compressors dpkg reads.
pub mod deb_bytes {
    use std::io::Write;

    /// One ar member: its 60-byte header and its bytes.
    #[derive(Clone)]
    pub struct Member {
        pub header: Vec<u8>,
        pub data: Vec<u8>,
    }

    pub fn header(name: &str, size: usize) -> Vec<u8> {
        format!(
            "{name:<16}{:<12}{:<6}{:<6}{:<8}{size:<10}`\n",
            0, 0, 0, 100644
        )
        .into_bytes()
    }

    pub fn member(name: &str, data: Vec<u8>) -> Member {
        Member {
            header: header(name, data.len()),
            data,
        }
    }

    pub fn name_of(m: &Member) -> String {
        String::from_utf8_lossy(&m.header[..16]).trim().to_string()
    }

    pub fn parse_ar(bytes: &[u8]) -> Vec<Member> {
        let mut out = Vec::new();
        let mut at = 8;
        while at + 60 <= bytes.len() {
            let header = bytes[at..at + 60].to_vec();
            let size: usize = String::from_utf8_lossy(&header[48..58])
                .trim()
                .parse()
                .unwrap();
            let data = bytes[at + 60..at + 60 + size].to_vec();
            at += 60 + size + size % 2;
            out.push(Member { header, data });
        }
        out
    }

    pub fn write_ar(members: &[Member]) -> Vec<u8> {
        let mut out = b"!<arch>\n".to_vec();
        for m in members {
            out.extend_from_slice(&m.header);
            out.extend_from_slice(&m.data);
            if m.data.len() % 2 == 1 {
                out.push(b'\n');
            }
        }
        out
    }

    /// A control.tar entry: raw path, type flag, bytes (or link target).
    pub struct TarEntry {
        pub path: &'static str,
        pub kind: tar::EntryType,
        pub data: Vec<u8>,
    }

    pub fn file(path: &'static str, data: &[u8]) -> TarEntry {
        TarEntry {
            path,
            kind: tar::EntryType::Regular,
            data: data.to_vec(),
        }
    }

    /// A tar of `entries` with their paths written byte for byte (as dpkg-deb writes `./control`).
    pub fn tar_of(entries: &[TarEntry]) -> Vec<u8> {
        let mut out = Vec::new();
        for e in entries {
            let mut h = tar::Header::new_ustar();
            h.as_old_mut().name[..e.path.len()].copy_from_slice(e.path.as_bytes());
            h.set_entry_type(e.kind);
            h.set_mode(if e.kind == tar::EntryType::Directory {
                0o755
            } else {
                0o644
            });
            h.set_uid(0);
            h.set_gid(0);
            h.set_mtime(0);
            let body: &[u8] = if e.kind == tar::EntryType::Regular {
                &e.data
            } else {
                if e.kind.is_symlink() || e.kind.is_hard_link() {
                    h.as_old_mut().linkname[..e.data.len()].copy_from_slice(&e.data);
                }
                &[]
            };
            h.set_size(body.len() as u64);
            h.set_cksum();
            out.extend_from_slice(h.as_bytes());
            out.extend_from_slice(body);
            out.resize(out.len().div_ceil(512) * 512, 0);
        }
        out.resize(out.len() + 1024, 0);
        out
    }

    pub fn compress(kind: &str, bytes: &[u8]) -> Vec<u8> {
        match kind {
            "" => bytes.to_vec(),
            ".gz" => {
                let mut e =
                    flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
                e.write_all(bytes).unwrap();
                e.finish().unwrap()
            }
            ".xz" => {
                let mut e = liblzma::write::XzEncoder::new(Vec::new(), 6);
                e.write_all(bytes).unwrap();
                e.finish().unwrap()
            }
            ".zst" => zstd::encode_all(bytes, 3).unwrap(),
            other => panic!("no compressor {other}"),
        }
    }
}
