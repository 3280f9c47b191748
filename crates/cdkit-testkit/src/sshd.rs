//! A real OpenSSH server on loopback for tests of everything that reaches hosts over ssh.

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// A real sshd on a loopback port with its own host key, client key, known_hosts and
/// ssh_config (strict host key checking); stopped on drop.
pub struct Sshd {
    /// Holds sshd_config, keys, known_hosts and ssh_config.
    pub dir: tempfile::TempDir,
    child: Child,
    /// The loopback port sshd listens on.
    pub port: u16,
}

impl Sshd {
    /// The ssh_config that reaches this sshd as root with the test key.
    pub fn ssh_config(&self) -> PathBuf {
        self.dir.path().join("ssh_config")
    }

    /// An Ansible INI inventory in `dir` whose `group` holds one host, `h1`, reached at this
    /// sshd.
    pub fn one_host_inventory(&self, dir: &Path, group: &str) -> PathBuf {
        let path = dir.join("hosts.ini");
        let text = format!(
            "[{group}]\nh1 ansible_host=127.0.0.1 ansible_port={}\n",
            self.port
        );
        std::fs::write(&path, text).unwrap();
        path
    }
}

impl Drop for Sshd {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A fresh ed25519 key pair at `path` and `path.pub` (no passphrase).
pub fn keygen(path: &Path) {
    let ok = Command::new("ssh-keygen")
        .args(["-q", "-t", "ed25519", "-N", "", "-f"])
        .arg(path)
        .status()
        .expect("ssh-keygen (apt-get install openssh-client)");
    assert!(ok.success());
}

/// Established TCP connections from this machine to 127.0.0.1:`port`, as `ss` sees them: one
/// per ssh master connected to a test sshd, so a test can tell whether masters are still up.
pub fn connections_to(port: u16) -> usize {
    let out = Command::new("ss")
        .args(["-Htn", "state", "established", "dst"])
        .arg(format!("127.0.0.1:{port}"))
        .output()
        .expect("ss (apt-get install iproute2)");
    assert!(out.status.success(), "{out:?}");
    String::from_utf8_lossy(&out.stdout).lines().count()
}

/// A free TCP port on 127.0.0.1.
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// Start sshd on 127.0.0.1 (needs root and openssh-server; CI installs it).
pub fn start_sshd() -> Sshd {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    keygen(&d.join("host_key"));
    keygen(&d.join("client_key"));
    std::fs::copy(d.join("client_key.pub"), d.join("authorized_keys")).unwrap();
    let port = free_port();
    std::fs::write(
        d.join("sshd_config"),
        format!(
            "ListenAddress 127.0.0.1:{port}\nHostKey {d}/host_key\nAuthorizedKeysFile {d}/authorized_keys\nPidFile none\nUsePAM no\nStrictModes no\nPermitRootLogin prohibit-password\nMaxStartups 100:30:200\n",
            d = d.display()
        ),
    )
    .unwrap();
    let host_pub = std::fs::read_to_string(d.join("host_key.pub")).unwrap();
    std::fs::write(
        d.join("known_hosts"),
        format!("[127.0.0.1]:{port} {host_pub}"),
    )
    .unwrap();
    std::fs::write(
        d.join("ssh_config"),
        format!(
            "Host *\n  User root\n  IdentityFile {d}/client_key\n  IdentitiesOnly yes\n  UserKnownHostsFile {d}/known_hosts\n  StrictHostKeyChecking yes\n  LogLevel ERROR\n",
            d = d.display()
        ),
    )
    .unwrap();
    std::fs::create_dir_all("/run/sshd").unwrap();
    let child = Command::new("/usr/sbin/sshd")
        .args(["-D", "-e", "-f"])
        .arg(d.join("sshd_config"))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("/usr/sbin/sshd (apt-get install openssh-server)");
    let deadline = Instant::now() + Duration::from_secs(10);
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(Instant::now() < deadline, "sshd did not start");
        std::thread::sleep(Duration::from_millis(50));
    }
    Sshd { dir, child, port }
}
