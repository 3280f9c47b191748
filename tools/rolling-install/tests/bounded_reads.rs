//! What rolling-install reads from sources it does not control is bounded: a host's output
//! over ssh (a real sshd on loopback, 100 MB), a health endpoint's body (a local HTTP server,
//! 16 MB: 256 times the cap, and a quarter of the time in CI) and an HAProxy admin socket's
//! reply (a local socket, 100 MB). The run stays small and ends cleanly.

use std::io::{Read, Write};
use std::process::Command;
use std::time::{Duration, Instant};

use cdkit_testkit::sshd::start_sshd;

const BIN: &str = env!("CARGO_BIN_EXE_rolling-install");
const MB: usize = 1024 * 1024;

/// `size` bytes of text lines, written to `out` in 64 KiB pieces until done or the reader
/// leaves.
fn flood(out: &mut impl Write, size: usize) {
    let piece = "version 1.0-1 and then some more text to fill the line\n".repeat(1170);
    let mut sent = 0;
    while sent < size {
        if out.write_all(piece.as_bytes()).is_err() {
            return;
        }
        sent += piece.len();
    }
}

#[test]
fn a_host_printing_100_mb_costs_bounded_memory_and_log() {
    let sshd = start_sshd();
    let group = format!("bigout{}", std::process::id());
    // The lock's owner file is what `lock status` prints from the host: 100 MB of it.
    let lock = std::path::PathBuf::from(format!("/var/lib/cdkit/locks/rolling-install.{group}"));
    std::fs::create_dir_all(&lock).unwrap();
    flood(
        &mut std::fs::File::create(lock.join("owner")).unwrap(),
        100 * MB,
    );
    let dir = tempfile::tempdir().unwrap();
    let inventory = sshd.one_host_inventory(dir.path(), &group);
    let (stdout, stderr) = (dir.path().join("stdout"), dir.path().join("stderr"));
    // The tool under python's getrusage, for its peak resident memory.
    let measured = Command::new("python3")
        .args([
            "-c",
            "import resource, subprocess, sys\n\
             with open(sys.argv[1], 'wb') as o, open(sys.argv[2], 'wb') as e:\n\
             \x20   r = subprocess.run(sys.argv[3:], stdout=o, stderr=e)\n\
             print(r.returncode, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)",
        ])
        .arg(&stdout)
        .arg(&stderr)
        .arg(BIN)
        .args(["lock", "status", "--inventory", inventory.to_str().unwrap()])
        .args(["--group", &group, "--inventory-reader", "native"])
        .args(["--ssh-config", sshd.ssh_config().to_str().unwrap()])
        .output()
        .unwrap();
    let _ = std::fs::remove_dir_all(&lock);
    let report = String::from_utf8_lossy(&measured.stdout).into_owned();
    let words: Vec<u64> = report
        .split_whitespace()
        .filter_map(|w| w.parse().ok())
        .collect();
    let [code, max_rss_kib] = words[..] else {
        panic!("python measured nothing: {measured:?}");
    };
    let err_len = std::fs::metadata(&stderr).unwrap().len();
    let out_len = std::fs::metadata(&stdout).unwrap().len();
    let err_text = std::fs::read(&stderr).unwrap();
    let err_tail = String::from_utf8_lossy(&err_text[err_text.len().saturating_sub(2000)..]);
    eprintln!("exit {code}, peak RSS {max_rss_kib} KiB, stdout {out_len} B, stderr {err_len} B");
    assert_eq!(code, 0, "{err_tail}");
    assert!(
        max_rss_kib < 64 * 1024,
        "peak RSS {max_rss_kib} KiB for 100 MB of remote output"
    );
    let cap = rolling_install::host_ops::MAX_STDOUT as u64;
    // The owner, and the few words `lock status` puts around it.
    assert!(
        out_len > 0 && out_len <= cap + 100,
        "stdout {out_len} bytes"
    );
    let log_cap = cdkit::ssh::REMOTE_LOG_LIMIT as u64;
    // Each logged line carries its time, level, host and stream: about twice its text.
    assert!(err_len < 3 * log_cap, "stderr {err_len} bytes");
    assert!(
        String::from_utf8_lossy(&err_text).contains("the rest is not logged"),
        "{err_tail}"
    );
}

#[test]
fn a_health_endpoint_answering_16_mb_is_read_only_as_far_as_the_cap() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let server = std::thread::spawn(move || {
        let (mut conn, _) = listener.accept().unwrap();
        let mut request = [0u8; 4096];
        let _ = conn.read(&mut request);
        let _ = conn.write_all(b"HTTP/1.1 200 OK\r\nConnection: close\r\n\r\n");
        flood(&mut conn, 16 * MB);
    });
    let started = Instant::now();
    let url = format!("http://127.0.0.1:{port}/health");
    let (code, body) = rolling_install::health::http_get(&url, Duration::from_secs(30)).unwrap();
    server.join().unwrap();
    eprintln!("read in {:?}", started.elapsed());
    assert_eq!(code, 200);
    assert!(body.starts_with("version 1.0-1"), "{}", &body[..100]);
    assert!(
        body.len() <= rolling_install::health::MAX_BODY,
        "{} bytes of body kept",
        body.len()
    );
}

#[test]
fn an_admin_socket_answering_100_mb_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("admin.sock");
    let listener = std::os::unix::net::UnixListener::bind(&path).unwrap();
    let server = std::thread::spawn(move || {
        let (mut conn, _) = listener.accept().unwrap();
        let mut request = [0u8; 256];
        let _ = conn.read(&mut request);
        flood(&mut conn, 100 * MB);
    });
    let lb = rolling_install::haproxy::Haproxy::new(
        rolling_install::haproxy::Socket::Local(path),
        "be_hello",
    )
    .unwrap();
    let err = lb.command("show stat").unwrap_err().to_string();
    server.join().unwrap();
    assert!(err.contains("longer than"), "{err}");
}
