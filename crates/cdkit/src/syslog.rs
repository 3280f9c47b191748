//! Central logging to a syslog collector (see Central logging in docs/contract.md): every log line as an
//! RFC 5424 record whose structured data carries the run id, host and step, sent over UDP
//! (RFC 5426, best effort), TCP (RFC 6587 octet counting) or TLS (RFC 5425: the same
//! octet-counted frames inside a TLS 1.2+ session; the collector's certificate is verified
//! against the system's CA store, or a CA file given as `tls://HOST:PORT?ca=FILE`).
//!
//! Sending never blocks or fails a tool: a UDP datagram that cannot be sent is counted and
//! dropped; TCP records go through a bounded queue to a background thread that connects,
//! reconnects after a failure (at most once a second), and drops with a count while the
//! collector is down or slower than the tool. The first loss is announced once on stderr and
//! the total at the end of the run ([`Sender::finish`]).
//!
//! Plain TCP syslog cannot tell whether the collector read what the kernel accepted; a record
//! written just before the collector dies is lost without a count (RELP would close that gap).

use std::fmt::Write as _;
use std::io::Write as _;
use std::net::{SocketAddr, TcpStream, ToSocketAddrs, UdpSocket};
use std::path::PathBuf;
use std::str::FromStr;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::mpsc::{self, Receiver, SyncSender, TrySendError};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Environment variable for `--syslog`.
pub const ENV: &str = "CDKIT_SYSLOG";

/// The structured-data ID of cdkit's parameters: a private SD-ID (`name@enterprise-number`,
/// RFC 5424 §7.2.2) under the number RFC 5612 reserves for documentation examples.
pub const SD_ID: &str = "cdkit@32473";

/// Facility `user` (1): messages from user-level programs, which the tools are.
const FACILITY: u8 = 1;

/// Longest record sent (header, structured data and message), in bytes: rsyslog's default
/// `maxMessageSize`, and within the 65 507 bytes of a UDP datagram. Longer messages are cut.
pub const MAX_RECORD: usize = 8192;

/// Records waiting for the TCP thread; beyond this a record is dropped (and counted), so a
/// slow collector costs memory of at most this many lines.
const QUEUE: usize = 16 * 1024;

/// How long the TCP thread waits for a connection, and for a write to be accepted.
const IO_TIMEOUT: Duration = Duration::from_secs(2);

/// Shortest pause between two connection attempts after a failure.
const RECONNECT_PAUSE: Duration = Duration::from_secs(1);

/// How a record travels.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Transport {
    /// RFC 5426: one datagram per record; a lost record is not noticed, nothing blocks.
    Udp,
    /// RFC 6587 octet counting over plain TCP.
    Tcp,
    /// RFC 5425: TCP inside TLS.
    Tls,
}

/// A collector address: `udp://HOST:PORT`, `tcp://HOST:PORT` or `tls://HOST:PORT[?ca=FILE]`
/// (`[v6]:PORT` for IPv6).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Target {
    /// From the address's scheme.
    pub transport: Transport,
    /// Host name or address (without the brackets of an IPv6 literal); for TLS also the
    /// name the certificate must carry.
    pub host: String,
    /// The collector's port (no default: 514 and 6514 are both common).
    pub port: u16,
    /// TLS only: PEM certificates of the CA(s) the collector's certificate must chain to, in
    /// addition to the system's store.
    pub ca_file: Option<PathBuf>,
}

impl FromStr for Target {
    type Err = String;

    fn from_str(text: &str) -> Result<Target, String> {
        let bad = |why: &str| {
            format!(
                "{text:?} is not a syslog collector like udp://HOST:514, tcp://HOST:514 or tls://HOST:6514 ({why})"
            )
        };
        let (scheme, rest) = text
            .split_once("://")
            .ok_or_else(|| bad("no udp://, tcp:// or tls://"))?;
        let transport = match scheme {
            "udp" => Transport::Udp,
            "tcp" => Transport::Tcp,
            "tls" => Transport::Tls,
            _ => return Err(bad("the scheme must be udp, tcp or tls")),
        };
        let (rest, ca_file) = match rest.split_once('?') {
            None => (rest, None),
            Some((rest, query)) => {
                let file = query
                    .strip_prefix("ca=")
                    .filter(|f| !f.is_empty() && transport == Transport::Tls)
                    .ok_or_else(|| bad("the only option is ?ca=FILE, for tls://"))?;
                // Checked now, so a wrong path is a usage error and not a run of dropped lines.
                std::fs::File::open(file)
                    .map_err(|e| bad(&format!("cannot read the CA file {file}: {e}")))?;
                (rest, Some(PathBuf::from(file)))
            }
        };
        let (host, port) = rest.rsplit_once(':').ok_or_else(|| bad("no :PORT"))?;
        let port: u16 = port
            .parse()
            .ok()
            .filter(|p| *p != 0)
            .ok_or_else(|| bad("the port must be 1-65535"))?;
        let host = host
            .strip_prefix('[')
            .and_then(|h| h.strip_suffix(']'))
            .unwrap_or(host);
        if host.is_empty() || host.contains(['/', '@', '?', '#', ' ']) {
            return Err(bad("no host name"));
        }
        Ok(Target {
            transport,
            host: host.to_string(),
            port,
            ca_file,
        })
    }
}

impl std::fmt::Display for Target {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let scheme = match self.transport {
            Transport::Udp => "udp",
            Transport::Tcp => "tcp",
            Transport::Tls => "tls",
        };
        if self.host.contains(':') {
            write!(f, "{scheme}://[{}]:{}", self.host, self.port)?;
        } else {
            write!(f, "{scheme}://{}:{}", self.host, self.port)?;
        }
        match &self.ca_file {
            Some(ca) => write!(f, "?ca={}", ca.display()),
            None => Ok(()),
        }
    }
}

/// RFC 5424 severities of tracing's levels (there is no notice/critical in tracing).
pub fn severity(level: &tracing::Level) -> u8 {
    match *level {
        tracing::Level::ERROR => 3,
        tracing::Level::WARN => 4,
        tracing::Level::INFO => 6,
        _ => 7,
    }
}

/// One record, before formatting.
#[derive(Debug, Clone)]
pub struct Record<'a> {
    /// 0 (emergency) to 7 (debug).
    pub severity: u8,
    /// RFC 3339 UTC (`2026-11-26T08:00:00.123Z`).
    pub timestamp: &'a str,
    /// The machine the line came from (the remote host for streamed output).
    pub hostname: &'a str,
    /// The tool.
    pub app_name: &'a str,
    /// The tool's pid, so two runs of one tool on one host can be told apart.
    pub procid: u32,
    /// Parameters of the [`SD_ID`] element, in order.
    pub params: &'a [(&'a str, String)],
    /// The log line's message; [`format()`] cuts it to fit [`MAX_RECORD`].
    pub message: &'a str,
}

/// The RFC 5424 text of `record`, at most [`MAX_RECORD`] bytes (the message is cut at a
/// character boundary if need be). Header fields are reduced to the printable ASCII the
/// grammar allows (others become `_`) and cut to their maximum lengths; an empty one is `-`.
/// Parameter values are escaped as §6.3.3 asks (`"`, `\` and `]` get a backslash).
pub fn format(record: &Record<'_>) -> String {
    let pri = FACILITY * 8 + record.severity.min(7);
    let mut out = String::with_capacity(256 + record.message.len());
    let _ = write!(out, "<{pri}>1 ");
    header_field(&mut out, record.timestamp, 64);
    out.push(' ');
    header_field(&mut out, record.hostname, 255);
    out.push(' ');
    header_field(&mut out, record.app_name, 48);
    let _ = write!(out, " {} - ", record.procid);
    if record.params.is_empty() {
        out.push('-');
    } else {
        out.push('[');
        out.push_str(SD_ID);
        for (name, value) in record.params {
            out.push(' ');
            param_name(&mut out, name);
            out.push_str("=\"");
            for c in value.chars() {
                if matches!(c, '"' | '\\' | ']') {
                    out.push('\\');
                }
                out.push(c);
            }
            out.push('"');
        }
        out.push(']');
    }
    if !record.message.is_empty() {
        out.push(' ');
        let room = MAX_RECORD.saturating_sub(out.len());
        out.push_str(crate::text::truncate(record.message, room));
    }
    if out.len() > MAX_RECORD {
        // Only the structured data itself can be this long: cut it and keep the record parseable.
        let cut = crate::text::truncate(&out, MAX_RECORD - 2).len();
        out.truncate(cut);
        out.push_str("\"]");
    }
    out
}

/// PRINTUSASCII (`!` to `~`), at most `max` characters, `-` when empty.
fn header_field(out: &mut String, text: &str, max: usize) {
    if text.is_empty() {
        out.push('-');
        return;
    }
    out.extend(
        text.chars()
            .take(max)
            .map(|c| if c.is_ascii_graphic() { c } else { '_' }),
    );
}

/// SD-NAME: printable ASCII except `=`, space, `]` and `"`, at most 32 characters.
fn param_name(out: &mut String, name: &str) {
    out.extend(name.chars().take(32).map(|c| {
        if c.is_ascii_graphic() && !matches!(c, '=' | ']' | '"') {
            c
        } else {
            '_'
        }
    }));
}

/// RFC 6587 §3.4.1 octet-counting frame: `LEN SP RECORD`.
pub fn frame(record: &str) -> Vec<u8> {
    let mut out = Vec::with_capacity(record.len() + 8);
    out.extend_from_slice(record.len().to_string().as_bytes());
    out.push(b' ');
    out.extend_from_slice(record.as_bytes());
    out
}

/// Counters shared between the tool's threads and the TCP thread.
#[derive(Debug, Default)]
struct Counters {
    queued: AtomicU64,
    finished: AtomicU64,
    dropped: AtomicU64,
    announced: AtomicBool,
}

impl Counters {
    /// Count a lost record; the first loss is said on stderr (through `notice`).
    fn drop_one(&self, target: &Target, why: &dyn std::fmt::Display, notice: fn(&str)) {
        self.dropped.fetch_add(1, Ordering::Relaxed);
        if !self.announced.swap(true, Ordering::Relaxed) {
            notice(&format!(
                "syslog collector {target}: {why}; log lines are dropped (and counted) until it takes them again"
            ));
        }
    }
}

/// Sends records to one collector. Cheap to call from any thread.
pub struct Sender {
    target: Target,
    counters: Arc<Counters>,
    way: Way,
    notice: fn(&str),
}

enum Way {
    Udp(Option<UdpSocket>),
    Tcp(SyncSender<Vec<u8>>),
}

impl Sender {
    /// A sender to `target`. It never fails: an address that does not resolve, or a collector
    /// that is down, shows as dropped lines (announced once through `notice`, which must not
    /// log through tracing).
    pub fn new(target: Target, notice: fn(&str)) -> Sender {
        let counters = Arc::new(Counters::default());
        let way = match target.transport {
            Transport::Udp => Way::Udp(match udp_socket(&target) {
                Ok(socket) => Some(socket),
                Err(e) => {
                    counters.announced.store(true, Ordering::Relaxed);
                    notice(&format!(
                        "syslog collector {target}: {e}; log lines are dropped (and counted)"
                    ));
                    None
                }
            }),
            Transport::Tcp | Transport::Tls => {
                let (tx, rx) = mpsc::sync_channel(QUEUE);
                let thread_target = target.clone();
                let thread_counters = Arc::clone(&counters);
                let spawned = std::thread::Builder::new()
                    .name("cdkit-syslog".into())
                    .spawn(move || tcp_thread(rx, thread_target, thread_counters, notice));
                if let Err(e) = spawned {
                    counters.announced.store(true, Ordering::Relaxed);
                    notice(&format!("syslog collector {target}: cannot start the sending thread: {e}; log lines are dropped"));
                }
                Way::Tcp(tx)
            }
        };
        Sender {
            target,
            counters,
            way,
            notice,
        }
    }

    /// Send one formatted record (without waiting for anything).
    pub fn send(&self, record: &str) {
        let record = &*crate::redact::redact(record);
        let counters = &self.counters;
        match &self.way {
            Way::Udp(None) => {
                counters.dropped.fetch_add(1, Ordering::Relaxed);
            }
            Way::Udp(Some(socket)) => {
                if let Err(e) = socket.send(record.as_bytes()) {
                    counters.drop_one(&self.target, &e, self.notice);
                }
            }
            Way::Tcp(tx) => {
                counters.queued.fetch_add(1, Ordering::Relaxed);
                match tx.try_send(frame(record)) {
                    Ok(()) => {}
                    Err(TrySendError::Full(_)) => {
                        counters.finished.fetch_add(1, Ordering::Relaxed);
                        counters.drop_one(
                            &self.target,
                            &"the collector is slower than this run (queue full)",
                            self.notice,
                        );
                    }
                    Err(TrySendError::Disconnected(_)) => {
                        counters.finished.fetch_add(1, Ordering::Relaxed);
                        counters.dropped.fetch_add(1, Ordering::Relaxed);
                    }
                }
            }
        }
    }

    /// Wait (at most `patience`) for queued records to be handed to the kernel, and return
    /// how many records were dropped over the whole run.
    pub fn finish(&self, patience: Duration) -> u64 {
        let until = Instant::now() + patience;
        while self.counters.finished.load(Ordering::Relaxed)
            < self.counters.queued.load(Ordering::Relaxed)
            && Instant::now() < until
        {
            std::thread::sleep(Duration::from_millis(5));
        }
        let waiting = self
            .counters
            .queued
            .load(Ordering::Relaxed)
            .saturating_sub(self.counters.finished.load(Ordering::Relaxed));
        self.counters.dropped.load(Ordering::Relaxed) + waiting
    }

    /// The collector, for messages.
    pub fn target(&self) -> &Target {
        &self.target
    }
}

fn resolve(target: &Target) -> std::io::Result<Vec<SocketAddr>> {
    let addrs: Vec<SocketAddr> = (target.host.as_str(), target.port)
        .to_socket_addrs()?
        .collect();
    if addrs.is_empty() {
        return Err(std::io::Error::other(format!(
            "{} has no address",
            target.host
        )));
    }
    Ok(addrs)
}

/// A connected, non-blocking UDP socket: `send` then never waits, and a full socket buffer is
/// an error (a dropped line) rather than a stall.
fn udp_socket(target: &Target) -> std::io::Result<UdpSocket> {
    let addr = resolve(target)?[0];
    let local: SocketAddr = if addr.is_ipv4() {
        "0.0.0.0:0".parse().map_err(std::io::Error::other)?
    } else {
        "[::]:0".parse().map_err(std::io::Error::other)?
    };
    let socket = UdpSocket::bind(local)?;
    socket.connect(addr)?;
    socket.set_nonblocking(true)?;
    Ok(socket)
}

/// A connection to a stream collector.
enum Conn {
    Tcp(TcpStream),
    Tls(Box<openssl::ssl::SslStream<TcpStream>>),
}

impl Conn {
    fn write_all(&mut self, bytes: &[u8]) -> std::io::Result<()> {
        match self {
            Conn::Tcp(s) => s.write_all(bytes),
            Conn::Tls(s) => s.write_all(bytes),
        }
    }
}

fn connect(target: &Target) -> std::io::Result<Conn> {
    let mut last = std::io::Error::other("no address");
    for addr in resolve(target)? {
        match TcpStream::connect_timeout(&addr, IO_TIMEOUT) {
            Ok(stream) => {
                stream.set_write_timeout(Some(IO_TIMEOUT))?;
                return match target.transport {
                    Transport::Tls => tls_handshake(target, stream),
                    Transport::Udp | Transport::Tcp => Ok(Conn::Tcp(stream)),
                };
            }
            Err(e) => last = e,
        }
    }
    Err(last)
}

/// TLS 1.2 or newer; the certificate must chain to the system's CAs or `ca_file`'s and name
/// the host (or IP address) of the target. The handshake is bounded by [`IO_TIMEOUT`].
fn tls_handshake(target: &Target, stream: TcpStream) -> std::io::Result<Conn> {
    use openssl::ssl::{SslConnector, SslMethod, SslVersion};
    let setup = |e: openssl::error::ErrorStack| std::io::Error::other(format!("TLS set-up: {e}"));
    let mut builder = SslConnector::builder(SslMethod::tls_client()).map_err(setup)?;
    builder
        .set_min_proto_version(Some(SslVersion::TLS1_2))
        .map_err(setup)?;
    if let Some(ca) = &target.ca_file {
        builder.set_ca_file(ca).map_err(|e| {
            std::io::Error::other(format!("cannot load the CA file {}: {e}", ca.display()))
        })?;
    }
    stream.set_read_timeout(Some(IO_TIMEOUT))?;
    let tls = builder
        .build()
        .connect(&target.host, stream)
        .map_err(|e| std::io::Error::other(format!("TLS handshake: {e}")))?;
    Ok(Conn::Tls(Box::new(tls)))
}

/// The TCP sending loop: one connection, re-opened after a failure (not more than once per
/// [`RECONNECT_PAUSE`]); records that find no connection are dropped and counted. A write
/// that fails mid-frame closes the connection, so the next frame starts a fresh stream.
fn tcp_thread(rx: Receiver<Vec<u8>>, target: Target, counters: Arc<Counters>, notice: fn(&str)) {
    let mut stream: Option<Conn> = None;
    let mut last_attempt: Option<Instant> = None;
    let mut was_down = false;
    while let Ok(bytes) = rx.recv() {
        let mut outcome: Result<(), String> = Err("not connected".into());
        for _ in 0..2 {
            if stream.is_none() {
                if last_attempt.is_some_and(|t| t.elapsed() < RECONNECT_PAUSE) {
                    break; // still down: do not hammer it with connection attempts
                }
                last_attempt = Some(Instant::now());
                match connect(&target) {
                    Ok(s) => {
                        stream = Some(s);
                        if was_down {
                            was_down = false;
                            let lost = counters.dropped.load(Ordering::Relaxed);
                            notice(&format!("syslog collector {target}: connected again ({lost} log line(s) dropped so far)"));
                        }
                    }
                    Err(e) => {
                        was_down = true;
                        outcome = Err(e.to_string());
                        break;
                    }
                }
            }
            let Some(s) = stream.as_mut() else { break };
            match s.write_all(&bytes) {
                Ok(()) => {
                    outcome = Ok(());
                    break;
                }
                Err(e) => {
                    // Reconnect at once for this record: a collector restart closes the old
                    // connection, and the new one is usually there.
                    outcome = Err(e.to_string());
                    stream = None;
                    last_attempt = None;
                }
            }
        }
        if let Err(why) = outcome {
            counters.drop_one(&target, &why, notice);
        }
        counters.finished.fetch_add(1, Ordering::Relaxed);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record<'a>(params: &'a [(&'a str, String)], message: &'a str) -> Record<'a> {
        Record {
            severity: 6,
            timestamp: "2026-11-26T08:00:00.123Z",
            hostname: "web07",
            app_name: "rolling-install",
            procid: 4242,
            params,
            message,
        }
    }

    #[test]
    fn records_follow_rfc5424() {
        let params = [
            ("run_id", "jenkins-app-42".to_string()),
            ("host", "web07".to_string()),
            ("step", "install".to_string()),
        ];
        assert_eq!(
            format(&record(&params, "Setting up hello-service (1.4.2-1) ...")),
            "<14>1 2026-11-26T08:00:00.123Z web07 rolling-install 4242 - \
             [cdkit@32473 run_id=\"jenkins-app-42\" host=\"web07\" step=\"install\"] \
             Setting up hello-service (1.4.2-1) ..."
        );
    }

    #[test]
    fn param_values_are_escaped_and_names_cleaned() {
        let params = [
            ("step", r#"say "hi" \ [x]"#.to_string()),
            ("bad name=]\"", "ü".to_string()),
        ];
        let text = format(&record(&params, ""));
        assert!(
            text.ends_with(r#"[cdkit@32473 step="say \"hi\" \\ [x\]" bad_name___="ü"]"#),
            "{text}"
        );
    }

    #[test]
    fn header_fields_are_printable_ascii_bounded_or_nil() {
        let long_app = "a".repeat(60);
        let r = Record {
            severity: 3,
            timestamp: "2026-11-26T08:00:00.123Z",
            hostname: "host with spaces/ü",
            app_name: &long_app,
            procid: 1,
            params: &[],
            message: "boom",
        };
        let text = format(&r);
        assert!(text.starts_with("<11>1 "), "{text}");
        assert!(
            text.contains(&format!(
                " host_with_spaces/_ {} 1 - - boom",
                "a".repeat(48)
            )),
            "{text}"
        );
        let nil = Record {
            hostname: "",
            ..r.clone()
        };
        assert!(format(&nil).contains("Z - "), "{}", format(&nil));
    }

    #[test]
    fn long_messages_are_cut_to_the_record_limit() {
        let params = [("host", "web07".to_string())];
        let message = "é".repeat(MAX_RECORD);
        let text = format(&record(&params, &message));
        assert!(text.len() <= MAX_RECORD, "{}", text.len());
        assert!(text.len() > MAX_RECORD - 2);
        let huge = [("step", "x".repeat(2 * MAX_RECORD))];
        let text = format(&record(&huge, "m"));
        assert!(text.len() <= MAX_RECORD && text.ends_with("\"]"));
    }

    #[test]
    fn severities_map_from_levels() {
        assert_eq!(severity(&tracing::Level::ERROR), 3);
        assert_eq!(severity(&tracing::Level::WARN), 4);
        assert_eq!(severity(&tracing::Level::INFO), 6);
        assert_eq!(severity(&tracing::Level::TRACE), 7);
    }

    #[test]
    fn frames_count_octets() {
        assert_eq!(frame("<14>1 é"), b"8 <14>1 \xc3\xa9".to_vec());
    }

    #[test]
    fn targets_parse_and_print() {
        let t: Target = "tcp://logs.example.com:6514".parse().unwrap();
        assert_eq!(t.transport, Transport::Tcp);
        assert_eq!(t.host, "logs.example.com");
        assert_eq!(t.port, 6514);
        assert_eq!(t.to_string(), "tcp://logs.example.com:6514");
        let v6: Target = "udp://[::1]:514".parse().unwrap();
        assert_eq!(v6.host, "::1");
        assert_eq!(v6.to_string(), "udp://[::1]:514");
        let tls: Target = "tls://logs:6514".parse().unwrap();
        assert_eq!((tls.transport, tls.ca_file), (Transport::Tls, None));
        let with_ca: Target = "tls://logs:6514?ca=/dev/null".parse().unwrap();
        assert_eq!(with_ca.ca_file, Some(PathBuf::from("/dev/null")));
        assert_eq!(with_ca.to_string(), "tls://logs:6514?ca=/dev/null");
        for bad in [
            "logs:514",
            "http://logs:514",
            "udp://logs",
            "udp://logs:0",
            "udp://:514",
            "tcp://logs:99999",
            "tcp://logs:514?ca=/dev/null",
            "tls://logs:6514?ca=/no/such/ca.pem",
            "tls://logs:6514?verify=no",
        ] {
            let err = bad.parse::<Target>().unwrap_err();
            assert!(err.contains(bad), "{err}");
        }
    }

    /// A TCP sender to a port nothing listens on (bound, then closed), and that port.
    fn sender_to_a_closed_port() -> (Sender, u16) {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        fn quiet(_: &str) {}
        let sender = Sender::new(format!("tcp://127.0.0.1:{port}").parse().unwrap(), quiet);
        (sender, port)
    }

    #[test]
    fn a_collector_that_is_down_costs_counted_drops_not_a_stall() {
        let (sender, _) = sender_to_a_closed_port();
        for i in 0..100 {
            sender.send(&format!("<14>1 - - t - - - line {i}"));
        }
        assert_eq!(sender.finish(Duration::from_secs(10)), 100);
    }

    #[test]
    fn the_sender_connects_again_when_the_collector_comes_back() {
        use std::io::Read;
        let (sender, port) = sender_to_a_closed_port();
        sender.send("lost");
        assert_eq!(sender.finish(Duration::from_secs(10)), 1);
        let listener = std::net::TcpListener::bind(("127.0.0.1", port)).unwrap();
        std::thread::sleep(RECONNECT_PAUSE + Duration::from_millis(100));
        sender.send("<14>1 back");
        let (mut conn, _) = listener.accept().unwrap();
        conn.set_read_timeout(Some(Duration::from_secs(10)))
            .unwrap();
        let mut got = vec![0u8; 13];
        conn.read_exact(&mut got).unwrap();
        assert_eq!(got, b"10 <14>1 back");
        assert_eq!(sender.finish(Duration::from_secs(10)), 1);
    }
}
