//! cdkit as a Debian package: `scripts/package-cdkit` builds it with cdkit's own
//! build-deb (lintian and a scratch install included), it holds every tool with its man pages
//! and bash/zsh/fish completions, and it installs with dpkg on a real testbed host, where the
//! tools run, `man` finds their pages and bash loads their completions.
//!
//! The package is built from the debug binaries the test suite already built (installability
//! is what is tested here; the release build is for shipping: `scripts/package-cdkit`).

use std::fs::File;
use std::path::Path;
use std::process::Command;

use cdkit_e2e::{exclusive, text, Lab};
use cdkit_testkit::workspace_root;

/// What the package must ship (the list scripts/package-cdkit packages).
const TOOLS: [&str; 6] = [
    "build-deb",
    "publish-repo",
    "run-tests",
    "rolling-install",
    "db-migrate",
    "rollback",
];

/// man-db and what it needs beyond the testbed's minimal Debian 12 (`man` is not there).
const MAN_DB: [&str; 5] = [
    "man-db",
    "groff-base",
    "libpipeline1",
    "libuchardet0",
    "bsdextrautils",
];

/// Copy a local file to `remote` on `host` (over the testbed's ssh).
fn copy_to(lab: &Lab, host: &str, file: &Path, remote: &str) {
    let out = lab
        .command(&["exec", host, "sh", "-c", &format!("cat > {remote}")])
        .stdin(File::open(file).expect("open the file to copy"))
        .output()
        .expect("run scripts/testbed exec");
    assert!(
        out.status.success(),
        "copy {} to {host}: {}",
        file.display(),
        text(&out.stderr)
    );
}

#[test]
fn cdkit_builds_as_a_lintian_clean_deb_and_installs_on_a_testbed_host() {
    let _machine = exclusive();
    let dir = tempfile::tempdir().unwrap();
    let out_dir = dir.path().join("dist");
    let report = dir.path().join("build-deb-cdkit.xml");

    // Build: the script runs build-deb, whose checks include lintian (errors fail) and an
    // install into a scratch root.
    let out = Command::new(workspace_root().join("scripts/package-cdkit"))
        .args(["--profile", "debug", "--compression", "gzip:6", "--out"])
        .arg(&out_dir)
        .arg("--junit")
        .arg(&report)
        .output()
        .expect("run scripts/package-cdkit");
    assert!(
        out.status.success(),
        "scripts/package-cdkit exited {:?}:\n{}",
        out.status.code(),
        text(&out.stderr)
    );
    let deb = text(&out.stdout).trim().to_string();
    let version = std::fs::read_to_string(workspace_root().join("Cargo.toml"))
        .unwrap()
        .lines()
        .find_map(|l| {
            l.strip_prefix("version = \"")?
                .strip_suffix('"')
                .map(String::from)
        })
        .expect("the workspace version");
    let arch = text(
        &Command::new("dpkg")
            .arg("--print-architecture")
            .output()
            .unwrap()
            .stdout,
    );
    assert_eq!(
        Path::new(&deb).file_name().unwrap().to_string_lossy(),
        format!("cdkit_{version}-1_{}.deb", arch.trim())
    );
    cdkit_testkit::assert_valid_junit(&report);
    let xml = std::fs::read_to_string(&report).unwrap();
    assert!(
        xml.contains("name=\"lintian\"") && !xml.contains("<failure"),
        "build-deb's checks: {xml}"
    );

    // Contents: every tool, its man page and its three completions, at Debian's paths.
    let listing = text(
        &Command::new("dpkg-deb")
            .arg("-c")
            .arg(&deb)
            .output()
            .unwrap()
            .stdout,
    );
    for tool in TOOLS {
        for path in [
            format!("./usr/bin/{tool}"),
            format!("./usr/share/man/man1/{tool}.1.gz"),
            format!("./usr/share/bash-completion/completions/{tool}"),
            format!("./usr/share/zsh/vendor-completions/_{tool}"),
            format!("./usr/share/fish/vendor_completions.d/{tool}.fish"),
        ] {
            assert!(
                listing.lines().any(|l| l.ends_with(&format!(" {path}"))),
                "{path} is not in the package:\n{listing}"
            );
        }
    }
    // Subcommands get their own pages.
    assert!(listing.contains("./usr/share/man/man1/publish-repo-add.1.gz"));
    let depends = text(
        &Command::new("dpkg-deb")
            .args(["-f", &deb, "Depends"])
            .output()
            .unwrap()
            .stdout,
    );
    assert!(depends.contains("libc6"), "Depends: {depends}");

    // man-db for the host, from Debian (the testbed's minimal hosts have no `man`).
    let debs = dir.path().join("man-db");
    std::fs::create_dir_all(&debs).unwrap();
    let got = Command::new("apt-get")
        .arg("download")
        .args(MAN_DB)
        .current_dir(&debs)
        .output()
        .expect("run apt-get download");
    assert!(
        got.status.success(),
        "apt-get download {}: {}",
        MAN_DB.join(" "),
        text(&got.stderr)
    );

    // Install on a real Debian 12 host of a testbed of our own.
    let mut lab = Lab::new("pkg-e2e");
    lab.up(&["-n", "1"]);
    lab.exec_ok("h1", &["mkdir", "-p", "/tmp/debs"]);
    copy_to(&lab, "h1", Path::new(&deb), "/tmp/debs/cdkit.deb");
    for entry in std::fs::read_dir(&debs).unwrap().flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        copy_to(&lab, "h1", &entry.path(), &format!("/tmp/debs/{name}"));
    }
    lab.exec_ok("h1", &["sh", "-c", "dpkg -i /tmp/debs/*.deb"]);
    assert_eq!(
        lab.exec_ok("h1", &["dpkg-query", "-W", "-f=${Status}", "cdkit"]),
        "install ok installed"
    );

    // The tools run, man finds and renders their pages, bash loads their completions.
    assert_eq!(
        lab.exec_ok("h1", &["run-tests", "--version"]),
        format!("run-tests {version}")
    );
    for tool in TOOLS {
        let help = lab.exec_ok("h1", &[tool, "--help"]);
        assert!(help.contains("--syslog"), "{tool} --help: {help}");
        assert_eq!(
            lab.exec_ok("h1", &["man", "-w", tool]),
            format!("/usr/share/man/man1/{tool}.1.gz")
        );
        let page = lab.exec_ok(
            "h1",
            &["sh", "-c", &format!("MANWIDTH=100 man -P cat {tool} 2>&1")],
        );
        assert!(
            page.contains("NAME") && page.contains(tool),
            "man {tool}: {page}"
        );
        let complete = lab.exec_ok(
            "h1",
            &[
                "bash",
                "-c",
                &format!(". /usr/share/bash-completion/completions/{tool} && complete -p {tool}"),
            ],
        );
        assert!(
            complete.ends_with(tool),
            "bash completion of {tool}: {complete}"
        );
    }

    // And it leaves cleanly.
    lab.exec_ok("h1", &["dpkg", "--purge", "cdkit"]);
    let gone = lab.exec("h1", &["test", "-e", "/usr/bin/run-tests"]);
    assert_eq!(gone.status.code(), Some(1));
    lab.down();
}
