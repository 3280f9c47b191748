//! End-to-end tests of cdkit on a real fleet of test hosts (`scripts/testbed`).
//! The tests are in `tests/`; they need root, as CI runs them.

use std::collections::HashSet;
use std::fs::File;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::{Duration, Instant};

use cdkit_testkit::testbed::must;
use cdkit_testkit::workspace_root;

/// A command's output as text, whatever its bytes (for messages and `contains` checks).
pub fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// Held for a whole test: one testbed test at a time (flock, released by the kernel if the
/// test process dies).
pub fn exclusive() -> File {
    let file = File::create(std::env::temp_dir().join("cdkit-e2e-testbed.lock"))
        .expect("create the lock file");
    file.lock().expect("lock the lock file");
    file
}

/// One testbed, removed on drop if a test failed half-way.
pub struct Lab {
    /// The testbed name (`CDKIT_TESTBED_NAME`): the tag and this process id, unique per test.
    pub name: String,
    /// The testbed's state root (`CDKIT_TESTBED_ROOT`), removed with the lab.
    pub root: tempfile::TempDir,
    /// Network namespaces seen while the testbed was up: a process still inside one of them
    /// after `down` is a leak even though the namespace's name is gone.
    pub seen_netns: HashSet<u64>,
    /// Whether `drop` must take the testbed down.
    pub up: bool,
}

impl Lab {
    /// A lab named after `tag`, not started yet.
    pub fn new(tag: &str) -> Lab {
        Lab {
            name: format!("{tag}-{}", std::process::id()),
            root: tempfile::Builder::new()
                .prefix("cdkit-e2e-")
                .tempdir()
                .expect("a state root"),
            seen_netns: HashSet::new(),
            up: false,
        }
    }

    /// `scripts/testbed ARGS` for this lab, not started.
    pub fn command(&self, args: &[&str]) -> Command {
        let mut command = Command::new(workspace_root().join("scripts/testbed"));
        command
            .args(args)
            .env("CDKIT_TESTBED_NAME", &self.name)
            .env("CDKIT_TESTBED_ROOT", self.root.path());
        command
    }

    /// Run `scripts/testbed ARGS` for this lab; its whole output.
    pub fn output(&self, args: &[&str]) -> Output {
        self.command(args)
            .output()
            .unwrap_or_else(|e| panic!("cannot run scripts/testbed: {e}"))
    }

    /// Run a testbed command that must succeed; its stdout.
    pub fn ok(&self, args: &[&str]) -> String {
        let out = self.output(args);
        let what = format!(
            "scripts/testbed {} exited {:?}",
            args.join(" "),
            out.status.code()
        );
        must(out, &what)
    }

    /// Start the testbed (`up ARGS`), noting its namespaces for the leak check; its stdout.
    pub fn up(&mut self, args: &[&str]) -> String {
        self.up = true;
        let out = self.ok(&[&["up"], args].concat());
        self.seen_netns.extend(netns_inodes(&self.prefix()));
        out
    }

    /// Take the testbed down; it must succeed.
    pub fn down(&mut self) {
        self.ok(&["down"]);
        self.up = false;
    }

    /// The prefix of every network namespace and interface of this lab.
    pub fn prefix(&self) -> String {
        format!("cdtb_{}_", self.name)
    }

    /// Where the testbed keeps this lab's state (keys, inventory, repository).
    pub fn state_dir(&self) -> PathBuf {
        self.root.path().join(&self.name)
    }

    /// A shell script inside the lab, with the CDKIT_TESTBED_* variables.
    pub fn sh(&self, script: &str) -> Output {
        self.output(&["run", "--", "sh", "-c", script])
    }

    /// [`Lab::sh`] that must succeed; its stdout.
    pub fn sh_ok(&self, script: &str) -> String {
        let out = self.sh(script);
        let what = format!("in the lab, `{script}` exited {:?}", out.status.code());
        must(out, &what)
    }

    /// A command on a host over ssh.
    pub fn exec(&self, host: &str, args: &[&str]) -> Output {
        self.output(&[&["exec", host], args].concat())
    }

    /// [`Lab::exec`] that must succeed; its stdout.
    pub fn exec_ok(&self, host: &str, args: &[&str]) -> String {
        let out = self.exec(host, args);
        let what = format!(
            "on {host}, `{}` exited {:?}",
            args.join(" "),
            out.status.code()
        );
        must(out, &what).trim().to_string()
    }

    /// Copy a .deb to a host over ssh and `dpkg -i` it there.
    pub fn dpkg_install(&self, host: &str, deb: &Path) -> Output {
        self.command(&[
            "exec",
            host,
            "sh",
            "-c",
            "cat > /tmp/p.deb && dpkg -i /tmp/p.deb",
        ])
        .stdin(File::open(deb).expect("open the .deb"))
        .output()
        .expect("run scripts/testbed exec")
    }

    /// `status --json`: every host with its state and addresses.
    pub fn status(&self) -> serde_json::Value {
        serde_json::from_str(&self.ok(&["status", "--json"])).expect("status --json is JSON")
    }

    /// `load` through HAProxy: its JSON counts.
    pub fn load(&self, rate: &str, duration: &str) -> serde_json::Value {
        let out = self.ok(&["load", "--rate", rate, "--duration", duration]);
        serde_json::from_str(&out).expect("load prints JSON")
    }

    /// One command on HAProxy's admin socket, with socat, as an operator or a tool would.
    pub fn haproxy(&self, command: &str) -> String {
        self.sh_ok(&format!(
            "echo '{command}' | socat stdio unix-connect:\"$CDKIT_TESTBED_HAPROXY_SOCKET\""
        ))
    }

    /// {server: status} as HAProxy's `show stat` reports it (CSV column 17, from 0).
    pub fn lb_states(&self) -> Vec<(String, String)> {
        self.haproxy("show stat")
            .lines()
            .map(|l| l.split(',').collect::<Vec<_>>())
            .filter(|f| f.len() > 17 && f[0] == "be_hello" && f[1] != "BACKEND")
            .map(|f| (f[1].to_string(), f[17].to_string()))
            .collect()
    }
}

impl Drop for Lab {
    fn drop(&mut self) {
        if self.up {
            let _ = self.output(&["down"]);
        }
    }
}

/// Poll `done` every 250 ms; fail naming `what` after `timeout`.
pub fn wait_until(what: &str, timeout: Duration, mut done: impl FnMut() -> bool) {
    let start = Instant::now();
    while !done() {
        assert!(
            start.elapsed() < timeout,
            "timed out after {timeout:?} waiting for {what}"
        );
        std::thread::sleep(Duration::from_millis(250));
    }
}

/// The inodes of the network namespaces named with `prefix` (an inode outlives its name).
pub fn netns_inodes(prefix: &str) -> HashSet<u64> {
    netns_names(prefix)
        .iter()
        .filter_map(|n| std::fs::metadata(format!("/run/netns/{n}")).ok())
        .map(|m| m.ino())
        .collect()
}

/// The names under /run/netns that start with `prefix`.
pub fn netns_names(prefix: &str) -> Vec<String> {
    std::fs::read_dir("/run/netns")
        .map(|d| {
            d.flatten()
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .filter(|n| n.starts_with(prefix))
                .collect()
        })
        .unwrap_or_default()
}

pub mod jenkinsfile;

/// The directory of the cdkit binaries the workspace build made (this test's own binary is in
/// its deps/ subdirectory).
pub fn tools_dir() -> PathBuf {
    let exe = std::env::current_exe().expect("the test's own path");
    let dir = exe
        .parent()
        .and_then(Path::parent)
        .expect("target/debug")
        .to_path_buf();
    for tool in [
        "build-deb",
        "run-tests",
        "publish-repo",
        "db-migrate",
        "rolling-install",
        "rollback",
    ] {
        assert!(
            dir.join(tool).exists(),
            "{tool} is not built in {} (cargo build --workspace)",
            dir.display()
        );
    }
    dir
}
