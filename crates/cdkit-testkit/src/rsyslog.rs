//! A real rsyslog collector on loopback (Debian's `rsyslog`, run in the foreground with its own
//! configuration; no system service), for tests of central logging: `--syslog` of every tool,
//! and whole demo runs pointed at it with `CDKIT_SYSLOG`.
//!
//! rsyslog writes each record it parsed as one JSON object (its own `jsonf` encoding) to a
//! file; [`Rsyslog::records`] reads them back and splits the structured data with a parser of
//! its own, so a test checks what an independent RFC 5424 receiver understood, not what our
//! formatter meant.

use std::collections::BTreeMap;
use std::io::Write as _;
use std::net::{TcpListener, TcpStream, UdpSocket};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// The app-name of the start-up probes (left out of [`Rsyslog::records`]).
const PROBE_APP: &str = "rsyslog-probe";

/// One record as rsyslog received it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Received {
    /// HOSTNAME of the record.
    pub hostname: String,
    /// APP-NAME (the tool).
    pub app_name: String,
    /// PROCID (the sender's process id, or `-`).
    pub procid: String,
    /// 0 (emergency) to 7 (debug).
    pub severity: u8,
    /// The structured data as received (`[id k="v" …]…` or `-`).
    pub structured_data: String,
    /// Parameters of every SD element, keyed `SD-ID` then name, values unescaped.
    pub params: BTreeMap<String, BTreeMap<String, String>>,
    /// MSG (rsyslog keeps the space after the structured data out of it).
    pub message: String,
    /// Address the record came from.
    pub from_ip: String,
}

impl Received {
    /// A parameter of the `sd_id` element.
    pub fn param(&self, sd_id: &str, name: &str) -> Option<&str> {
        self.params.get(sd_id)?.get(name).map(String::as_str)
    }
}

/// rsyslogd on 127.0.0.1, listening on one port for UDP (imudp) and TCP (imtcp, octet
/// counting), or TLS instead of plain TCP ([`Rsyslog::start_tls`]); stopped on drop.
pub struct Rsyslog {
    /// Holds rsyslog.conf, the pid file, rsyslogd's own output and `received.jsonl`.
    pub dir: tempfile::TempDir,
    child: Child,
    /// The UDP and TCP port.
    pub port: u16,
    /// Whether the TCP input speaks TLS (RFC 5425) with a certificate of `ca.pem`.
    tls: bool,
}

impl Rsyslog {
    /// Start rsyslogd (apt-get install rsyslog; needs no root, no system service) and wait
    /// until a probe over UDP and one over TCP have both been written.
    pub fn start() -> Rsyslog {
        Self::start_with(false)
    }

    /// Like [`Rsyslog::start`], with the TCP input behind rsyslog's gtls driver (apt-get
    /// install rsyslog-gnutls): a throwaway CA (`openssl`) made for this collector signs its
    /// certificate for 127.0.0.1; [`Rsyslog::tls_url`] names the CA file.
    pub fn start_tls() -> Rsyslog {
        Self::start_with(true)
    }

    fn start_with(tls: bool) -> Rsyslog {
        let dir = tempfile::tempdir().expect("temporary directory");
        let d = dir.path();
        let port = free_udp_and_tcp_port();
        let conf = d.join("rsyslog.conf");
        std::fs::create_dir_all(d.join("work")).expect("work directory");
        let (driver, tcp_module) = if tls {
            make_test_ca(d);
            (
                format!(
                    r#" DefaultNetstreamDriver="gtls" DefaultNetstreamDriverCAFile="{d}/ca.pem" DefaultNetstreamDriverCertFile="{d}/server.pem" DefaultNetstreamDriverKeyFile="{d}/server.key""#,
                    d = d.display()
                ),
                r#"module(load="imtcp" StreamDriver.Name="gtls" StreamDriver.Mode="1" StreamDriver.AuthMode="anon")"#,
            )
        } else {
            (String::new(), r#"module(load="imtcp")"#)
        };
        std::fs::write(
            &conf,
            format!(
                r#"global(workDirectory="{d}/work" maxMessageSize="64k"{driver})
module(load="imudp")
{tcp_module}
input(type="imudp" address="127.0.0.1" port="{port}")
input(type="imtcp" address="127.0.0.1" port="{port}")
template(name="cdkit-json" type="list" option.jsonf="on") {{
  property(outname="hostname" name="hostname" format="jsonf")
  property(outname="app_name" name="app-name" format="jsonf")
  property(outname="procid" name="procid" format="jsonf")
  property(outname="severity" name="syslogseverity" format="jsonf")
  property(outname="structured_data" name="structured-data" format="jsonf")
  property(outname="msg" name="msg" format="jsonf")
  property(outname="from_ip" name="fromhost-ip" format="jsonf")
}}
action(type="omfile" file="{d}/received.jsonl" template="cdkit-json")
"#,
                d = d.display()
            ),
        )
        .expect("write rsyslog.conf");
        let out = std::fs::File::create(d.join("rsyslogd.out")).expect("rsyslogd.out");
        // /usr/sbin is not on every user's PATH.
        let program = if std::path::Path::new("/usr/sbin/rsyslogd").exists() {
            "/usr/sbin/rsyslogd"
        } else {
            "rsyslogd"
        };
        let child = Command::new(program)
            .arg("-n")
            .arg("-f")
            .arg(&conf)
            .arg("-i")
            .arg(d.join("rsyslogd.pid"))
            .stdin(Stdio::null())
            .stdout(out.try_clone().expect("dup"))
            .stderr(out)
            .spawn()
            .expect("cannot run rsyslogd (apt-get install rsyslog; scripts/setup does)");
        let rsyslog = Rsyslog {
            dir,
            child,
            port,
            tls,
        };
        rsyslog.wait_until_listening();
        rsyslog
    }

    /// `udp://127.0.0.1:PORT`, for `--syslog` / `CDKIT_SYSLOG`.
    pub fn udp_url(&self) -> String {
        format!("udp://127.0.0.1:{}", self.port)
    }

    /// `tcp://127.0.0.1:PORT`, for `--syslog` / `CDKIT_SYSLOG`.
    pub fn tcp_url(&self) -> String {
        format!("tcp://127.0.0.1:{}", self.port)
    }

    /// `tls://127.0.0.1:PORT?ca=DIR/ca.pem`, for a collector of [`Rsyslog::start_tls`].
    pub fn tls_url(&self) -> String {
        format!(
            "tls://127.0.0.1:{}?ca={}",
            self.port,
            self.dir.path().join("ca.pem").display()
        )
    }

    /// The file rsyslog writes every record to (one JSON object per line).
    pub fn received_path(&self) -> PathBuf {
        self.dir.path().join("received.jsonl")
    }

    /// Every record received so far, in arrival order (the start-up probes left out).
    pub fn records(&self) -> Vec<Received> {
        self.all_records()
            .into_iter()
            .filter(|r| r.app_name != PROBE_APP)
            .collect()
    }

    /// Poll [`Rsyslog::records`] until `done` holds or `timeout` passes; the last records
    /// either way (the caller asserts on them, so a failure shows what did arrive).
    pub fn wait_for(&self, timeout: Duration, done: impl Fn(&[Received]) -> bool) -> Vec<Received> {
        let until = Instant::now() + timeout;
        loop {
            let records = self.records();
            if done(&records) || Instant::now() >= until {
                return records;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    fn all_records(&self) -> Vec<Received> {
        let text = std::fs::read_to_string(self.received_path()).unwrap_or_default();
        text.lines()
            .filter(|l| !l.trim().is_empty())
            .map(|line| {
                parse_record(line).unwrap_or_else(|e| panic!("rsyslog wrote {line:?}: {e}"))
            })
            .collect()
    }

    fn rsyslogd_output(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("rsyslogd.out")).unwrap_or_default()
    }

    fn wait_until_listening(&self) {
        let until = Instant::now() + Duration::from_secs(20);
        let udp = UdpSocket::bind("127.0.0.1:0").expect("udp socket");
        let mut tcp_sent = false;
        loop {
            let records = self.all_records();
            let seen = |text: &str| {
                records
                    .iter()
                    .any(|r| r.app_name == PROBE_APP && r.message == text)
            };
            if seen("udp") && seen("tcp") {
                return;
            }
            assert!(
                Instant::now() < until,
                "rsyslogd did not come up on port {} within 20 s; its output:\n{}",
                self.port,
                self.rsyslogd_output()
            );
            if !seen("udp") {
                let _ = udp.send_to(
                    format!("<14>1 - probe {PROBE_APP} - - - udp").as_bytes(),
                    ("127.0.0.1", self.port),
                );
            }
            if !tcp_sent {
                if let Ok(stream) = TcpStream::connect(("127.0.0.1", self.port)) {
                    let record = format!("<14>1 - probe {PROBE_APP} - - - tcp");
                    let frame = format!("{} {record}", record.len());
                    tcp_sent = if self.tls {
                        self.tls_probe(stream, frame.as_bytes())
                    } else {
                        let mut stream = stream;
                        stream.write_all(frame.as_bytes()).is_ok()
                    };
                }
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }
}

impl Rsyslog {
    /// Send `frame` over TLS, verifying the collector's certificate with the test CA.
    fn tls_probe(&self, stream: TcpStream, frame: &[u8]) -> bool {
        use openssl::ssl::{SslConnector, SslMethod};
        let Ok(mut builder) = SslConnector::builder(SslMethod::tls_client()) else {
            return false;
        };
        if builder.set_ca_file(self.dir.path().join("ca.pem")).is_err() {
            return false;
        }
        match builder.build().connect("127.0.0.1", stream) {
            Ok(mut tls) => {
                let sent = tls.write_all(frame).is_ok();
                let _ = tls.shutdown();
                sent
            }
            Err(_) => false,
        }
    }

    /// Wait (at most `timeout`) until every JSON log line in `lines` (a tool's stderr with
    /// `--log-format json`, or its `--log-file`) has arrived, and panic naming the lines that
    /// did not. A line has arrived when a record carries its tool as APP-NAME, its message, its
    /// `run_id` (which must be `run_id`), and its host both as HOSTNAME and as the `host`
    /// parameter: the line's `host` field (a remote machine's streamed output) or else
    /// `local_host`. Lines and records are matched one to one, so a repeated line needs as
    /// many records. Returns the records.
    pub fn assert_every_line_arrived(
        &self,
        lines: &[serde_json::Value],
        run_id: &str,
        local_host: &str,
        timeout: Duration,
    ) -> Vec<Received> {
        assert!(!lines.is_empty(), "no log lines to look for");
        for line in lines {
            assert_eq!(line["run_id"], run_id, "a log line of another run: {line}");
        }
        let records = self.wait_for(timeout, |records| {
            missing_lines(lines, records, local_host).is_empty()
        });
        let missing = missing_lines(lines, &records, local_host);
        assert!(
            missing.is_empty(),
            "{} of {} log line(s) did not reach rsyslog on port {}:\n{}\nreceived:\n{}",
            missing.len(),
            lines.len(),
            self.port,
            missing.join("\n"),
            records
                .iter()
                .map(|r| format!(
                    "{} {} {} {}",
                    r.hostname, r.app_name, r.structured_data, r.message
                ))
                .collect::<Vec<_>>()
                .join("\n")
        );
        records
    }
}

/// A CA (`ca.pem`) and a certificate for 127.0.0.1 it signed (`server.pem`, `server.key`) in
/// `dir`, made with the openssl command, valid for two days.
fn make_test_ca(dir: &std::path::Path) {
    let run = |args: &[&str]| {
        let out = Command::new("openssl")
            .args(args)
            .current_dir(dir)
            .output()
            .expect("cannot run openssl (apt-get install openssl; scripts/setup does)");
        assert!(
            out.status.success(),
            "openssl {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    };
    let ec = [
        "-newkey",
        "ec",
        "-pkeyopt",
        "ec_paramgen_curve:P-256",
        "-nodes",
    ];
    let mut ca = vec!["req", "-x509"];
    ca.extend(ec);
    ca.extend([
        "-keyout",
        "ca.key",
        "-out",
        "ca.pem",
        "-days",
        "2",
        "-subj",
        "/CN=cdkit test CA",
        "-addext",
        "basicConstraints=critical,CA:TRUE",
        "-addext",
        "keyUsage=critical,keyCertSign,cRLSign",
    ]);
    run(&ca);
    let mut csr = vec!["req"];
    csr.extend(ec);
    csr.extend([
        "-keyout",
        "server.key",
        "-out",
        "server.csr",
        "-subj",
        "/CN=127.0.0.1",
    ]);
    run(&csr);
    std::fs::write(
        dir.join("server.ext"),
        "subjectAltName=IP:127.0.0.1\nextendedKeyUsage=serverAuth\nbasicConstraints=CA:FALSE\n",
    )
    .expect("server.ext");
    run(&[
        "x509",
        "-req",
        "-in",
        "server.csr",
        "-CA",
        "ca.pem",
        "-CAkey",
        "ca.key",
        "-CAcreateserial",
        "-out",
        "server.pem",
        "-days",
        "2",
        "-extfile",
        "server.ext",
    ]);
}

/// The lines of `lines` that no record of `records` stands for (see
/// [`Rsyslog::assert_every_line_arrived`]).
pub fn missing_lines(
    lines: &[serde_json::Value],
    records: &[Received],
    local_host: &str,
) -> Vec<String> {
    const SD_ID: &str = "cdkit@32473";
    let mut used = vec![false; records.len()];
    let mut missing = Vec::new();
    for line in lines {
        let text = |key: &str| line.get(key).and_then(|v| v.as_str()).unwrap_or_default();
        let host = line
            .get("host")
            .and_then(|v| v.as_str())
            .unwrap_or(local_host);
        let found = records.iter().enumerate().position(|(i, r)| {
            !used[i]
                && r.app_name == text("tool")
                && r.message == text("message")
                && r.hostname == host
                && r.param(SD_ID, "host") == Some(host)
                && r.param(SD_ID, "run_id") == Some(text("run_id"))
        });
        match found {
            Some(i) => used[i] = true,
            None => missing.push(line.to_string()),
        }
    }
    missing
}

/// This machine's host name, as a tool puts it on its own lines.
pub fn local_hostname() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|s| s.trim().to_string())
        .unwrap_or_default()
}

impl Drop for Rsyslog {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A port free for both UDP and TCP on 127.0.0.1.
fn free_udp_and_tcp_port() -> u16 {
    for _ in 0..50 {
        let port = TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .expect("bind a TCP port")
            .port();
        if UdpSocket::bind(("127.0.0.1", port)).is_ok() {
            return port;
        }
    }
    panic!("no port free for both UDP and TCP on 127.0.0.1");
}

fn parse_record(line: &str) -> Result<Received, String> {
    let value: serde_json::Value = serde_json::from_str(line).map_err(|e| e.to_string())?;
    let field = |name: &str| -> String {
        value
            .get(name)
            .and_then(|v| v.as_str())
            .unwrap_or_default()
            .to_string()
    };
    let structured_data = field("structured_data");
    Ok(Received {
        hostname: field("hostname"),
        app_name: field("app_name"),
        procid: field("procid"),
        severity: field("severity").parse().map_err(|_| "no severity")?,
        params: parse_structured_data(&structured_data)?,
        structured_data,
        message: field("msg"),
        from_ip: field("from_ip"),
    })
}

/// RFC 5424 STRUCTURED-DATA: `-`, or `[SD-ID name="value" …]` elements; in values `\"`, `\\`
/// and `\]` stand for the character (any other backslash is itself, §6.3.3).
pub fn parse_structured_data(
    text: &str,
) -> Result<BTreeMap<String, BTreeMap<String, String>>, String> {
    let mut out = BTreeMap::new();
    if text == "-" || text.is_empty() {
        return Ok(out);
    }
    let bad = |why: &str| format!("structured data {text:?}: {why}");
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        if c != '[' {
            return Err(bad("expected ["));
        }
        let mut id = String::new();
        while let Some(&c) = chars.peek() {
            if c == ' ' || c == ']' {
                break;
            }
            id.push(c);
            chars.next();
        }
        let mut params = BTreeMap::new();
        loop {
            match chars.next() {
                Some(']') => break,
                Some(' ') => {}
                _ => return Err(bad("element not closed")),
            }
            let mut name = String::new();
            for c in chars.by_ref() {
                if c == '=' {
                    break;
                }
                name.push(c);
            }
            if chars.next() != Some('"') {
                return Err(bad("value not quoted"));
            }
            let mut value = String::new();
            loop {
                match chars.next() {
                    Some('\\') => match chars.next() {
                        Some(c @ ('"' | '\\' | ']')) => value.push(c),
                        Some(c) => {
                            value.push('\\');
                            value.push(c);
                        }
                        None => return Err(bad("value not closed")),
                    },
                    Some('"') => break,
                    Some(c) => value.push(c),
                    None => return Err(bad("value not closed")),
                }
            }
            params.insert(name, value);
            if chars.peek() == Some(&']') {
                chars.next();
                break;
            }
        }
        out.insert(id, params);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn structured_data_is_split_and_unescaped() {
        let sd = parse_structured_data(
            r#"[cdkit@32473 run_id="r1" step="say \"hi\" \\ [x\]"][origin ip="127.0.0.1"]"#,
        )
        .unwrap();
        assert_eq!(sd["cdkit@32473"]["run_id"], "r1");
        assert_eq!(sd["cdkit@32473"]["step"], r#"say "hi" \ [x]"#);
        assert_eq!(sd["origin"]["ip"], "127.0.0.1");
        assert!(parse_structured_data("-").unwrap().is_empty());
        assert!(parse_structured_data("[x a=\"b\"").is_err());
    }
}
