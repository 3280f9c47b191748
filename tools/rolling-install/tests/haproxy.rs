//! The HAProxy client against a real HAProxy on loopback, in front of two real HTTP servers.

use std::net::TcpListener;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use rolling_install::haproxy::{Haproxy, LbError, Socket};

struct Lab {
    dir: tempfile::TempDir,
    children: Vec<Child>,
    frontend: u16,
}

impl Drop for Lab {
    fn drop(&mut self) {
        for child in &mut self.children {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

fn port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn wait_port(port: u16) {
    let deadline = Instant::now() + Duration::from_secs(10);
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(Instant::now() < deadline, "nothing listens on {port}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// Two backends serving a file that names them, HAProxy in front with an admin socket.
fn lab() -> Lab {
    let dir = tempfile::tempdir().unwrap();
    let mut children = Vec::new();
    let mut servers = String::new();
    for name in ["web1", "web2"] {
        let root = dir.path().join(name);
        std::fs::create_dir_all(&root).unwrap();
        std::fs::write(root.join("health"), "ok\n").unwrap();
        std::fs::write(root.join("who"), format!("{name}\n")).unwrap();
        let p = port();
        children.push(
            Command::new("/usr/bin/python3")
                .args([
                    "-m",
                    "http.server",
                    &p.to_string(),
                    "--bind",
                    "127.0.0.1",
                    "--directory",
                ])
                .arg(&root)
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .unwrap(),
        );
        wait_port(p);
        servers.push_str(&format!(
            "    server {name} 127.0.0.1:{p} check inter 200ms fall 2 rise 2\n"
        ));
    }
    let frontend = port();
    let d = dir.path().display();
    let config = format!(
        "global\n    stats socket {d}/admin.sock mode 600 level admin\n    server-state-file {d}/server-state\n\
         defaults\n    mode http\n    timeout connect 2s\n    timeout client 10s\n    timeout server 10s\n    load-server-state-from-file global\n\
         frontend fe\n    bind 127.0.0.1:{frontend}\n    default_backend be\n\
         backend be\n    balance roundrobin\n    option httpchk GET /health\n    http-check expect status 200\n{servers}"
    );
    std::fs::write(dir.path().join("haproxy.cfg"), config).unwrap();
    children.push(
        Command::new("haproxy")
            .args(["-db", "-f"])
            .arg(dir.path().join("haproxy.cfg"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("haproxy (apt-get install haproxy)"),
    );
    wait_port(frontend);
    Lab {
        dir,
        children,
        frontend,
    }
}

fn who(port: u16) -> String {
    let out = Command::new("curl")
        .args(["-s", "--max-time", "5"])
        .arg(format!("http://127.0.0.1:{port}/who"))
        .output()
        .unwrap();
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

fn socket(dir: &Path) -> Socket {
    Socket::Local(dir.join("admin.sock"))
}

#[test]
fn drain_moves_traffic_and_ready_brings_the_server_back_up() {
    let lab = lab();
    let lb = Haproxy::new(socket(lab.dir.path()), "be").unwrap();
    lb.wait_up("web1", Duration::from_secs(10)).unwrap();
    lb.wait_up("web2", Duration::from_secs(10)).unwrap();

    lb.drain("web1").unwrap();
    assert_eq!(lb.stat("web1").unwrap().status, "DRAIN");
    lb.wait_drained("web1", Duration::from_secs(10)).unwrap();
    for _ in 0..6 {
        assert_eq!(who(lab.frontend), "web2", "a drained server got traffic");
    }
    lb.ready("web1").unwrap();
    lb.wait_up("web1", Duration::from_secs(10)).unwrap();
    let seen: std::collections::BTreeSet<String> = (0..6).map(|_| who(lab.frontend)).collect();
    assert!(seen.contains("web1") && seen.contains("web2"), "{seen:?}");
}

#[test]
fn a_failing_health_check_keeps_the_server_out_of_up() {
    let lab = lab();
    let lb = Haproxy::new(socket(lab.dir.path()), "be").unwrap();
    lb.wait_up("web2", Duration::from_secs(10)).unwrap();
    std::fs::remove_file(lab.dir.path().join("web2/health")).unwrap();
    let err = lb
        .wait_up("web2", Duration::from_millis(100))
        .and_then(|_| {
            std::thread::sleep(Duration::from_secs(2));
            lb.wait_up("web2", Duration::from_secs(1))
        })
        .unwrap_err();
    assert!(matches!(err, LbError::Timeout { .. }), "{err}");
}

#[test]
fn a_socket_on_another_host_is_driven_over_ssh() {
    let lab = lab();
    let sshd = cdkit_testkit::sshd::start_sshd();
    let (client, _control) = cdkit::ssh::Client::new(
        Path::new("/tmp"),
        Some(sshd.ssh_config()),
        Duration::from_secs(5),
        4,
    )
    .unwrap();
    let session = cdkit::ssh::Session::new(
        &client,
        cdkit::ssh::Target::new("lb1", "127.0.0.1", Some(sshd.port), None).unwrap(),
    );
    let socket = Socket::Remote {
        session: std::sync::Arc::new(session),
        path: lab.dir.path().join("admin.sock").display().to_string(),
    };
    let lb = Haproxy::new(socket, "be").unwrap();
    lb.wait_up("web1", Duration::from_secs(10)).unwrap();
    lb.drain("web1").unwrap();
    assert_eq!(lb.stat("web1").unwrap().status, "DRAIN");
    lb.ready("web1").unwrap();
    lb.wait_up("web1", Duration::from_secs(10)).unwrap();
    assert!(matches!(
        lb.drain("web9"),
        Err(LbError::NoSuchServer { .. })
    ));
}

#[test]
fn unknown_servers_and_sockets_are_named() {
    let lab = lab();
    let lb = Haproxy::new(socket(lab.dir.path()), "be").unwrap();
    match lb.drain("web9") {
        Err(LbError::NoSuchServer { server, .. }) => assert_eq!(server, "web9"),
        other => panic!("{other:?}"),
    }
    assert!(matches!(
        lb.drain("web1; disable frontend fe"),
        Err(LbError::BadName { .. })
    ));
    let gone = Haproxy::new(Socket::Local(lab.dir.path().join("nope.sock")), "be").unwrap();
    let err = gone.stat("web1").unwrap_err().to_string();
    assert!(err.contains("nope.sock"), "{err}");
}
