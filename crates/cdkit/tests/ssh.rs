//! cdkit::ssh against a real sshd started on loopback for this test, with strict host key
//! checking and a throwaway client key.

use std::path::{Path, PathBuf};

use cdkit_testkit::sshd::{connections_to, free_port, keygen, start_sshd, Sshd};
use std::time::{Duration, Instant};

use cdkit::process::Stream;
use cdkit::ssh::{Client, ControlDir, Session, SshError, Target};

fn client(sshd: &Sshd) -> (Client, ControlDir) {
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

/// The test sshd's client configuration plus `extra` lines ahead of it (ssh takes an option's
/// first value, so these win over the file's own), as a hostile CI agent's config would have.
fn config_with(sshd: &Sshd, name: &str, extra: &str) -> PathBuf {
    let path = sshd.dir.path().join(name);
    let base = std::fs::read_to_string(sshd.ssh_config()).unwrap();
    std::fs::write(&path, format!("Host *\n{extra}\n{base}")).unwrap();
    path
}

fn client_with_config(config: PathBuf) -> (Client, ControlDir) {
    Client::new(Path::new("/tmp"), Some(config), Duration::from_secs(5), 4).unwrap()
}

#[test]
fn an_agent_config_asking_to_forward_the_agent_does_not_forward_it() {
    let sshd = start_sshd();
    let config = config_with(
        &sshd,
        "ssh_config_forwarding",
        "  ForwardAgent yes\n  StrictHostKeyChecking no\n  PermitLocalCommand yes\n  LocalCommand touch %d/local-command-ran",
    );
    // A real agent, as Jenkins' sshagent step runs one, holding the client key.
    let agent_dir = tempfile::tempdir().unwrap();
    let sock = agent_dir.path().join("agent.sock");
    let mut agent = std::process::Command::new("ssh-agent")
        .arg("-D")
        .arg("-a")
        .arg(&sock)
        .stdout(std::process::Stdio::null())
        .spawn()
        .expect("ssh-agent (openssh-client)");
    let started = Instant::now();
    while !sock.exists() {
        assert!(
            started.elapsed() < Duration::from_secs(10),
            "ssh-agent did not start"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    let added = std::process::Command::new("ssh-add")
        .arg(sshd.dir.path().join("client_key"))
        .env("SSH_AUTH_SOCK", &sock)
        .output()
        .unwrap();
    assert!(added.status.success(), "{added:?}");

    let (client, _dir) = client_with_config(config);
    let session = Session::new(
        &client,
        Target::new("lab1", "127.0.0.1", Some(sshd.port), None).unwrap(),
    );
    let mut seen = String::new();
    let done = session
        .command(&["sh", "-c", "printf '[%s]' \"$SSH_AUTH_SOCK\""])
        .env("SSH_AUTH_SOCK", &sock)
        .timeout(Some(Duration::from_secs(30)))
        .run(|stream, line| {
            if stream == Stream::Stdout {
                seen.push_str(line)
            }
        })
        .unwrap();
    drop(_dir);
    let _ = agent.kill();
    let _ = agent.wait();
    assert!(done.success(), "{}", done.stderr.text());
    assert_eq!(seen, "[]", "the agent was forwarded to the host");
    assert!(
        !sshd.dir.path().join("local-command-ran").exists(),
        "the config's LocalCommand ran"
    );
}

#[test]
fn a_changed_host_key_is_refused_and_named() {
    let sshd = start_sshd();
    // known_hosts holds another key for this host: what a man in the middle would present.
    let other = sshd.dir.path().join("other_key");
    keygen(&other);
    let other_pub = std::fs::read_to_string(other.with_extension("pub")).unwrap();
    std::fs::write(
        sshd.dir.path().join("known_hosts"),
        format!("[127.0.0.1]:{} {other_pub}", sshd.port),
    )
    .unwrap();
    // Even a config that turns checking off, and first-contact acceptance, do not let it in.
    let config = config_with(&sshd, "ssh_config_lax", "  StrictHostKeyChecking no");
    let (mut client, _dir) = client_with_config(config);
    client.accept_new_host_keys = true;
    let session = Session::new(
        &client,
        Target::new("lab1", "127.0.0.1", Some(sshd.port), None).unwrap(),
    );
    match output(&session, &["true"]) {
        Err(e @ SshError::HostKeyChanged { .. }) => {
            let line = e.to_string();
            assert!(!line.contains('\n'), "one line: {line}");
            assert!(
                line.contains("lab1") && line.contains("host key has changed"),
                "{line}"
            );
        }
        other => panic!("expected HostKeyChanged, got {other:?}"),
    }
}

#[test]
fn first_contact_needs_accept_new_host_keys() {
    let sshd = start_sshd();
    let known = sshd.dir.path().join("known_hosts");
    std::fs::write(&known, "").unwrap();
    let config = config_with(&sshd, "ssh_config_lax", "  StrictHostKeyChecking no");
    let target = Target::new("lab1", "127.0.0.1", Some(sshd.port), None).unwrap();
    {
        let (client, _dir) = client_with_config(config.clone());
        let session = Session::new(&client, target.clone());
        match output(&session, &["true"]) {
            Err(e @ SshError::HostKeyUnknown { .. }) => {
                assert!(e.to_string().contains("--accept-new-host-keys"), "{e}")
            }
            other => panic!("expected HostKeyUnknown, got {other:?}"),
        }
    }
    let (mut client, _dir) = client_with_config(config);
    client.accept_new_host_keys = true;
    let session = Session::new(&client, target);
    let (out, code) = output(&session, &["echo", "hello"]).unwrap();
    assert_eq!((out.as_str(), code), ("hello\n", Some(0)));
    let learned = std::fs::read_to_string(&known).unwrap();
    assert!(learned.contains("ssh-ed25519"), "{learned}");
}

#[test]
fn the_control_directory_is_private_and_masters_close_with_it() {
    use std::os::unix::fs::PermissionsExt;
    let sshd = start_sshd();
    let old = nix::sys::stat::umask(nix::sys::stat::Mode::from_bits_truncate(0o022));
    let (client, dir) = client(&sshd);
    nix::sys::stat::umask(old);
    let mode = std::fs::metadata(dir.path()).unwrap().permissions().mode() & 0o7777;
    assert_eq!(mode, 0o700, "control directory mode {mode:o}");
    let session = Session::new(
        &client,
        Target::new("lab1", "127.0.0.1", Some(sshd.port), None).unwrap(),
    );
    output(&session, &["true"]).unwrap();
    let path = dir.path().to_path_buf();
    assert_eq!(
        std::fs::read_dir(&path).unwrap().count(),
        1,
        "a master socket"
    );
    assert_eq!(connections_to(sshd.port), 1);
    drop(dir);
    assert!(!path.exists());
    let started = Instant::now();
    while connections_to(sshd.port) > 0 {
        assert!(
            started.elapsed() < Duration::from_secs(5),
            "the master outlived its control directory"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}
