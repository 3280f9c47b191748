//! cdkit::ssh against a real sshd started on loopback for this test, with strict host key
//! checking and a throwaway client key.

use std::path::{Path, PathBuf};

use cdkit_testkit::sshd::{free_port, start_sshd, Sshd};
use std::time::{Duration, Instant};

use cdkit::process::Stream;
use cdkit::ssh::{Client, Session, SshError, Target};

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
