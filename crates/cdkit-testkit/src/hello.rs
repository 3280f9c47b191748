//! The sample service's package at any version, built with the Debian tools (not ours), for
//! the fleet tests: a test needs several versions of a real service, some broken on purpose.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

/// Build `examples/hello-service` as VERSION with `dpkg-buildpackage` (its changelog gets a
/// stanza for VERSION) into `out`; `broken` is `HELLO_BUILD_BROKEN` (`health`, `postinst`, …,
/// see the example's debian/rules). Panics with the step that failed.
pub fn build_hello_service(version: &str, broken: Option<&str>, out: &Path) -> PathBuf {
    let work = tempfile::tempdir().expect("a build directory");
    let tree = work.path().join("hello-service");
    let copied = Command::new("cp")
        .arg("-a")
        .arg(crate::workspace_root().join("examples/hello-service"))
        .arg(&tree)
        .status()
        .expect("cp");
    assert!(copied.success(), "copy examples/hello-service");
    let changelog = tree.join("debian/changelog");
    let old = std::fs::read_to_string(&changelog).expect("debian/changelog");
    std::fs::write(
        &changelog,
        format!("hello-service ({version}) bookworm; urgency=medium\n\n  * Test build.\n\n -- cdkit developers <cdkit@example.com>  Thu, 26 Nov 2026 09:00:00 +0000\n\n{old}"),
    )
    .expect("write debian/changelog");
    let mut cmd = Command::new("dpkg-buildpackage");
    cmd.args(["-us", "-uc", "-b"])
        .current_dir(&tree)
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    if let Some(b) = broken {
        cmd.env("HELLO_BUILD_BROKEN", b);
    }
    let built = cmd.status().expect("dpkg-buildpackage");
    assert!(built.success(), "dpkg-buildpackage {version}");
    let name = format!("hello-service_{version}_all.deb");
    let target = out.join(&name);
    std::fs::copy(work.path().join(&name), &target).expect("copy the .deb");
    target
}
