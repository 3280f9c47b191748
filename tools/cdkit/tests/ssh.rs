//! cdkit::ssh against a real sshd started on loopback for this test, with strict host key
//! checking and a throwaway client key.

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use cdkit::process::Stream;
use cdkit::ssh::{Client, Session, SshError, Target};

struct Sshd {
    dir: tempfile::TempDir,
    child: Child,
    port: u16,
}

impl Drop for Sshd {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn keygen(path: &Path) {
    let ok = Command::new("ssh-keygen")
        .args(["-q", "-t", "ed25519", "-N", "", "-f"])
        .arg(path)
        .status()
        .expect("ssh-keygen (apt-get install openssh-client)");
    assert!(ok.success());
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn start_sshd() -> Sshd {
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

fn client(sshd: &Sshd) -> (Client, tempfile::TempDir) {
    Client::new(
        Path::new("/tmp"),
        Some(sshd.dir.path().join("ssh_config")),
        Duration::from_secs(5),
        4,
    )
    .unwrap()
}

fn output(session: &Session, argv: &[&str]) -> Result<(String, Option<i32>), SshError> {
    let mut out = String::new();
    let done = session.run(argv, Some(Duration::from_secs(30)), |stream, line| {
        if stream == Stream::Stdout {
            out.push_str(line);
            out.push('\n');
        }
    })?;
    let code = match done.ending {
        cdkit::process::Ending::Exited(c) => Some(c),
        _ => None,
    };
    Ok((out, code))
}

#[test]
fn commands_run_multiplexed_and_hostile_words_stay_words() {
    let sshd = start_sshd();
    let (client, _dir) = client(&sshd);
    let session = Session::new(
        &client,
        Target::new("lab1", "127.0.0.1", Some(sshd.port), None).unwrap(),
    );
    let (out, code) = output(&session, &["echo", "hello"]).unwrap();
    assert_eq!((out.as_str(), code), ("hello\n", Some(0)));
    let marker: PathBuf = sshd.dir.path().join("pwned");
    let hostile = format!("foo;touch {}", marker.display());
    let (out, _) = output(&session, &["printf", "%s|", &hostile, "$(id)", "`id`"]).unwrap();
    assert_eq!(out.trim_end(), format!("{hostile}|$(id)|`id`|"));
    assert!(!marker.exists(), "a quoted word ran as a command");
    // The remote exit status comes back.
    let (_, code) = output(&session, &["sh", "-c", "exit 7"]).unwrap();
    assert_eq!(code, Some(7));
    // Later commands reuse the master connection: a socket exists in the control dir.
    let sockets = std::fs::read_dir(&client.control_dir).unwrap().count();
    assert_eq!(sockets, 1);
    let started = Instant::now();
    for _ in 0..5 {
        output(&session, &["true"]).unwrap();
    }
    assert!(started.elapsed() < Duration::from_secs(10));
    // A local file can be fed to the remote command (how a .deb is copied over).
    let payload = sshd.dir.path().join("payload");
    std::fs::write(&payload, "bytes for the host\n").unwrap();
    let mut seen = String::new();
    session
        .run_with_stdin(&["cat"], Some(&payload), None, |_, line| {
            seen.push_str(line)
        })
        .unwrap();
    assert_eq!(seen, "bytes for the host");
    session.close();
}

#[test]
fn an_unreachable_host_is_an_unreachable_error() {
    let sshd = start_sshd();
    let (client, _dir) = client(&sshd);
    let closed = free_port();
    let session = Session::new(
        &client,
        Target::new("gone", "127.0.0.1", Some(closed), None).unwrap(),
    );
    match output(&session, &["true"]) {
        Err(SshError::Unreachable { host, .. }) => assert_eq!(host, "gone"),
        other => panic!("expected Unreachable, got {other:?}"),
    }
}
