//! Real-apt helpers for tests: a throwaway GnuPG signing key, small real .debs, a loopback
//! HTTP server for a repository, and a hermetic apt client (APT_CONFIG re-roots everything,
//! so it never reads or writes the machine's own /etc/apt or /var/lib/apt).

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use cdkit_deb::{Compression, DataEntry, Package};

/// An ed25519 signing key in its own GNUPGHOME, with the public key exported for `signed-by`.
pub struct TestKey {
    /// The GNUPGHOME holding the secret key (`--sign-key` finds it there).
    pub home: tempfile::TempDir,
    /// The key's fingerprint, for `--sign-key`.
    pub fingerprint: String,
    /// Binary public keyring for `signed-by=` and `gpgv --keyring`.
    pub public: PathBuf,
    /// Armored secret key, for `--sign-key-file`.
    pub secret_file: PathBuf,
}

impl TestKey {
    /// Generate a key (about 0.1 s).
    pub fn generate() -> TestKey {
        let home = tempfile::tempdir().expect("tempdir");
        let params = home.path().join("params");
        std::fs::write(
            &params,
            "%no-protection\nKey-Type: eddsa\nKey-Curve: ed25519\nKey-Usage: sign\nName-Real: cdkit test key\nName-Email: cdkit-test@example.invalid\nExpire-Date: 0\n%commit\n",
        )
        .expect("write params");
        let gpg = |args: &[&str]| -> Output {
            let out = Command::new("gpg")
                .arg("--homedir")
                .arg(home.path())
                .args(["--batch", "--quiet"])
                .args(args)
                .output()
                .unwrap_or_else(|e| panic!("cannot run gpg (apt-get install gnupg): {e}"));
            assert!(
                out.status.success(),
                "gpg {args:?}: {}",
                String::from_utf8_lossy(&out.stderr)
            );
            out
        };
        gpg(&["--generate-key", params.to_str().unwrap_or_default()]);
        let listing =
            String::from_utf8_lossy(&gpg(&["--with-colons", "--list-secret-keys"]).stdout)
                .into_owned();
        let fingerprint = listing
            .lines()
            .find(|l| l.starts_with("fpr:"))
            .and_then(|l| l.split(':').nth(9))
            .expect("a fingerprint")
            .to_string();
        let public = home.path().join("public.gpg");
        let secret_file = home.path().join("secret.asc");
        gpg(&[
            "--output",
            public.to_str().unwrap_or_default(),
            "--export",
            &fingerprint,
        ]);
        gpg(&[
            "--armor",
            "--output",
            secret_file.to_str().unwrap_or_default(),
            "--export-secret-keys",
            &fingerprint,
        ]);
        TestKey {
            home,
            fingerprint,
            public,
            secret_file,
        }
    }
}

/// Write a tiny but complete .deb (a README under /usr/share/doc) into `dir`.
pub fn make_deb(dir: &Path, package: &str, version: &str, arch: &str) -> PathBuf {
    make_deb_with(
        dir,
        package,
        version,
        arch,
        &format!("{package} {version}\n"),
    )
}

/// Like [`make_deb`], with given README text (different text, different bytes).
pub fn make_deb_with(dir: &Path, package: &str, version: &str, arch: &str, text: &str) -> PathBuf {
    std::fs::create_dir_all(dir).expect("create dir");
    let readme = dir.join(format!(".{package}-{version}-{arch}.README"));
    std::fs::write(&readme, text).expect("write README");
    let file_version = version.split_once(':').map_or(version, |(_, v)| v);
    let out = dir.join(format!("{package}_{file_version}_{arch}.deb"));
    let pkg = Package {
        control: vec![
            ("Package".into(), package.into()),
            ("Version".into(), version.into()),
            ("Architecture".into(), arch.into()),
            (
                "Maintainer".into(),
                "cdkit tests <cdkit@example.com>".into(),
            ),
            ("Section".into(), "misc".into()),
            ("Priority".into(), "optional".into()),
            ("Description".into(), format!("test package {package}")),
        ],
        conffiles: vec![],
        scripts: vec![],
        entries: vec![DataEntry::file(
            format!("/usr/share/doc/{package}/README"),
            &readme,
            0o644,
        )],
        mtime: 1_700_000_000,
        compression: Compression::Gzip(6),
    };
    cdkit_deb::write_deb(&pkg, &out).expect("write test deb");
    out
}

/// `python3 -m http.server` on a free loopback port serving `root`; stopped on drop.
pub struct HttpServer {
    child: Child,
    /// The loopback port it serves on.
    pub port: u16,
}

impl HttpServer {
    /// Serve `root` and wait until it answers.
    pub fn serve(root: &Path) -> HttpServer {
        let port = TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .map(|a| a.port())
            .expect("a free port");
        let child = Command::new("python3")
            .args([
                "-m",
                "http.server",
                &port.to_string(),
                "--bind",
                "127.0.0.1",
                "--directory",
            ])
            .arg(root)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start python3 http.server");
        let deadline = Instant::now() + Duration::from_secs(10);
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(Instant::now() < deadline, "http.server did not start");
            std::thread::sleep(Duration::from_millis(50));
        }
        HttpServer { child, port }
    }

    /// The base URL.
    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }
}

impl Drop for HttpServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A hermetic apt client for one suite of one repository.
pub struct AptClient {
    /// apt's whole state (sources, lists, cache, dpkg status), apart from the system's.
    pub root: tempfile::TempDir,
}

impl AptClient {
    /// A client with `deb [signed-by=keyring] url suite main` as its only source (`keyring`
    /// `None` means `[trusted=yes]`).
    pub fn new(url: &str, suite: &str, keyring: Option<&Path>) -> AptClient {
        let root = tempfile::tempdir().expect("tempdir");
        let r = root.path();
        for dir in [
            "etc/apt/apt.conf.d",
            "etc/apt/preferences.d",
            "etc/apt/sources.list.d",
            "etc/apt/trusted.gpg.d",
            "var/lib/apt/lists/partial",
            "var/cache/apt/archives/partial",
            "var/lib/dpkg",
            "dl",
        ] {
            std::fs::create_dir_all(r.join(dir)).expect("create apt dirs");
        }
        std::fs::write(r.join("var/lib/dpkg/status"), "").expect("status");
        let sandbox_user = if running_as_root() {
            "APT::Sandbox::User \"root\";\n"
        } else {
            ""
        };
        std::fs::write(
            r.join("apt.conf"),
            format!(
                "Dir \"{root}/\";\nDir::State::status \"{root}/var/lib/dpkg/status\";\nAPT::Architecture \"amd64\";\nAPT::Architectures {{ \"amd64\"; }};\n{sandbox_user}Acquire::Languages \"none\";\n",
                root = r.display()
            ),
        )
        .expect("apt.conf");
        let option = match keyring {
            Some(k) => format!("signed-by={}", k.display()),
            None => "trusted=yes".to_string(),
        };
        std::fs::write(
            r.join("etc/apt/sources.list"),
            format!("deb [{option}] {url} {suite} main\n"),
        )
        .expect("sources.list");
        AptClient { root }
    }

    fn apt(&self, program: &str, args: &[&str]) -> Output {
        Command::new(program)
            .args(args)
            .env("APT_CONFIG", self.root.path().join("apt.conf"))
            .current_dir(self.root.path().join("dl"))
            .output()
            .unwrap_or_else(|e| panic!("cannot run {program}: {e}"))
    }

    /// `apt-get update --error-on=any`; returns whether it succeeded, and its output.
    pub fn update(&self) -> (bool, String) {
        let out = self.apt("apt-get", &["-q", "update", "--error-on=any"]);
        let text = format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        (out.status.success(), text)
    }

    /// `apt-get update` that must succeed.
    pub fn must_update(&self) {
        let (ok, text) = self.update();
        assert!(ok, "apt-get update failed:\n{text}");
    }

    /// The candidate version of `package` (`None` if apt knows none).
    pub fn candidate(&self, package: &str) -> Option<String> {
        let out = self.apt("apt-cache", &["policy", package]);
        String::from_utf8_lossy(&out.stdout)
            .lines()
            .find_map(|l| l.trim().strip_prefix("Candidate: ").map(str::to_string))
            .filter(|c| c != "(none)")
    }

    /// Every version of `package` the indexes list, newest first.
    pub fn versions(&self, package: &str) -> Vec<String> {
        let out = self.apt("apt-cache", &["madison", package]);
        String::from_utf8_lossy(&out.stdout)
            .lines()
            .filter_map(|l| l.split('|').nth(1).map(|v| v.trim().to_string()))
            .collect()
    }

    /// `apt-get download package=version`; returns the downloaded file.
    pub fn download(&self, package: &str, version: &str) -> PathBuf {
        let spec = format!("{package}={version}");
        let out = self.apt("apt-get", &["-q", "download", &spec]);
        assert!(
            out.status.success(),
            "apt-get download {spec}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let dir = self.root.path().join("dl");
        std::fs::read_dir(&dir)
            .expect("dl dir")
            .flatten()
            .map(|e| e.path())
            .find(|p| {
                p.file_name()
                    .is_some_and(|n| n.to_string_lossy().starts_with(&format!("{package}_")))
            })
            .expect("downloaded file")
    }
}

/// Whether the tests run as root (apt's sandbox user must then be root too).
fn running_as_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
        .unwrap_or(false)
}
