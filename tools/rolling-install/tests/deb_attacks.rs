//! `--deb` against a hostile local user on a testbed host, with the kernel's
//! `fs.protected_symlinks` and `fs.protected_regular` turned off (hosts without Debian's
//! defaults): a symlink planted where a package used to be copied, and a file of the user's
//! own swapped for their package in a loop while the rollout copies and installs. Neither
//! reaches root: the victim file stays intact, the attacker's maintainer script never runs,
//! the genuine package is installed, and the private copy is gone after every run, a failed
//! one included.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use cdkit_testkit::testbed::must;

const BIN: &str = env!("CARGO_BIN_EXE_rolling-install");
const LAB: &str = "ri-deb";

fn testbed(args: &[&str]) -> Output {
    cdkit_testkit::testbed::run(LAB, args)
}

/// Shell code on h1 as root.
fn on_host(script: &str) -> String {
    must(testbed(&["exec", "h1", "sh", "-c", script]), script)
}

/// Shell code on h1 as the unprivileged user `nobody` (the hostile neighbour).
fn as_nobody(script: &str) -> String {
    let wrapped = format!(
        "setpriv --reuid=65534 --regid=65534 --clear-groups sh -c {}",
        shell_words(script)
    );
    on_host(&wrapped)
}

fn shell_words(s: &str) -> String {
    format!("'{}'", s.replace('\'', "'\\''"))
}

/// The `fs.protected_*` settings this test turns off, put back when dropped (also after a
/// failed assertion). They are the kernel's, so the testbed's hosts share them.
struct Unprotected(Vec<(PathBuf, String)>);

impl Unprotected {
    fn new() -> Unprotected {
        let saved = ["protected_symlinks", "protected_regular"]
            .iter()
            .map(|name| {
                let path = Path::new("/proc/sys/fs").join(name);
                let old = std::fs::read_to_string(&path).expect("read fs.protected_*");
                std::fs::write(&path, "0").expect("turn fs.protected_* off (root)");
                (path, old)
            })
            .collect();
        Unprotected(saved)
    }
}

impl Drop for Unprotected {
    fn drop(&mut self) {
        for (path, old) in &self.0 {
            let _ = std::fs::write(path, old.trim());
        }
    }
}

/// A package named like the real one, at `version`, whose postinst leaves /evil-ran: what
/// the hostile user would like root to install.
fn evil_deb(version: &str, dir: &Path) -> PathBuf {
    let tree = dir.join(format!("evil-{version}"));
    std::fs::create_dir_all(tree.join("DEBIAN")).unwrap();
    std::fs::write(
        tree.join("DEBIAN/control"),
        format!(
            "Package: hello-service\nVersion: {version}\nArchitecture: all\n\
             Maintainer: nobody <nobody@example.com>\nDescription: not the real one\n"
        ),
    )
    .unwrap();
    let postinst = tree.join("DEBIAN/postinst");
    std::fs::write(&postinst, "#!/bin/sh\ntouch /evil-ran\n").unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&postinst, std::fs::Permissions::from_mode(0o755)).unwrap();
    let deb = dir.join(format!("evil_{version}_all.deb"));
    let built = Command::new("dpkg-deb")
        .args(["--root-owner-group", "--build"])
        .arg(&tree)
        .arg(&deb)
        .output()
        .unwrap();
    assert!(built.status.success(), "dpkg-deb: {built:?}");
    deb
}

/// rolling-install `--deb DEB` of hello-service VERSION to the lab's host.
fn deploy(version: &str, deb: &Path, extra: &[&str]) -> Output {
    Command::new(cdkit_testkit::workspace_root().join("scripts/testbed"))
        .args(["run", "--name", LAB, "--", "sh", "-c"])
        .arg(
            "exec \"$0\" --inventory \"$CDKIT_TESTBED_INVENTORY\" --group all \
             --ssh-config \"$CDKIT_TESTBED_SSH_CONFIG\" --package hello-service \"$@\"",
        )
        .arg(BIN)
        .args(["--version", version, "--deb"])
        .arg(deb)
        .args(["--progress", "plain"])
        .args(extra)
        .output()
        .unwrap()
}

fn installed() -> String {
    on_host("dpkg-query -W -f='${Version}' hello-service")
}

/// What is left in the private directory after a run: nothing.
fn assert_no_copy_left() {
    let left = on_host("stat -c '%a %U' /var/lib/cdkit/incoming; ls -A /var/lib/cdkit/incoming");
    assert_eq!(left.trim(), "700 root", "{left}");
}

#[test]
fn symlink_and_swap_attacks_on_deb_installs_get_nowhere() {
    let _ = testbed(&["down"]);
    must(testbed(&["up", "-n", "1"]), "testbed up");
    let dir = tempfile::tempdir().unwrap();
    let genuine1 = cdkit_testkit::hello::build_hello_service("1.0-1", None, dir.path());
    let genuine2 = cdkit_testkit::hello::build_hello_service("2.0-1", None, dir.path());
    let broken = cdkit_testkit::hello::build_hello_service("3.0-1", Some("postinst"), dir.path());
    let evil = evil_deb("2.0-1", dir.path());
    let _unprotected = Unprotected::new();

    // The attacker's package on the host, readable by them.
    let copied = Command::new(cdkit_testkit::workspace_root().join("scripts/testbed"))
        .args(["run", "--name", LAB, "--", "sh", "-c"])
        .arg("scp -q -F \"$CDKIT_TESTBED_SSH_CONFIG\" \"$0\" h1:/tmp/evil.deb")
        .arg(&evil)
        .output()
        .unwrap();
    assert!(copied.status.success(), "scp: {copied:?}");
    on_host("chmod 0644 /tmp/evil.deb && rm -f /evil-ran && printf intact > /etc/cdkit-victim");

    // 1. A symlink where the package used to be copied, to a file root owns.
    as_nobody("ln -sf /etc/cdkit-victim /tmp/cdkit-hello-service_1.0-1.deb");
    let out = deploy("1.0-1", &genuine1, &[]);
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    // Compared without printing it: after a write through the link it holds a .deb.
    let victim = on_host("cat /etc/cdkit-victim | od -An -c | head -c 200");
    assert!(
        on_host("cat /etc/cdkit-victim") == "intact",
        "root wrote through the symlink: {victim}"
    );
    assert_eq!(installed(), "1.0-1");
    assert_no_copy_left();

    // 2. A file of the attacker's own at the old name, overwritten with their package in a
    //    loop, and attempts on the private directory, all while the rollout copies and
    //    installs.
    as_nobody(
        "cp /tmp/evil.deb /tmp/cdkit-hello-service_2.0-1.deb && \
         chmod 0666 /tmp/cdkit-hello-service_2.0-1.deb && \
         { while :; do cp /tmp/evil.deb /tmp/cdkit-hello-service_2.0-1.deb; \
             for f in /var/lib/cdkit/incoming/*/*; do cp /tmp/evil.deb \"$f\"; done; \
           done >/dev/null 2>&1 </dev/null & echo $! > /tmp/attacker.pid; }",
    );
    let out = deploy("2.0-1", &genuine2, &[]);
    let attacker_was_running = on_host("kill \"$(cat /tmp/attacker.pid)\" && echo yes");
    assert_eq!(attacker_was_running.trim(), "yes");
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    assert_eq!(
        on_host("test -e /evil-ran && echo ran || echo no").trim(),
        "no",
        "the attacker's maintainer script ran as root"
    );
    assert_eq!(installed(), "2.0-1");
    // The genuine package's files, not the impostor's (which has none).
    assert!(on_host("dpkg -L hello-service").contains("/usr/"));
    assert_no_copy_left();

    // 3. A package whose postinst fails (on hosts with /etc/cdkit-fail-postinst): the run
    //    fails, and the copy is removed all the same.
    on_host("touch /etc/cdkit-fail-postinst");
    // --on-failure halt leaves the host as it is: exit 3, a human must act.
    let out = deploy("3.0-1", &broken, &["--on-failure", "halt"]);
    assert_eq!(out.status.code(), Some(3), "{out:?}");
    assert!(String::from_utf8_lossy(&out.stderr).contains("install .deb on h1 failed"));
    assert_no_copy_left();

    must(testbed(&["down"]), "testbed down");
}
