//! Child processes: each runs in its own process group, its stdout and stderr are streamed line
//! by line into the log (with the span's host/step) and into a bounded capture, and a timeout or
//! an interrupting signal stops the whole group: TERM, a grace period, then KILL. Processes the
//! command left behind in its group are stopped too, so nothing outlives the step.

use std::ffi::{OsStr, OsString};
use std::io::{self, BufRead, BufReader, Read};
use std::os::unix::process::{CommandExt, ExitStatusExt};
use std::path::PathBuf;
use std::process::{Child, Stdio};
use std::sync::mpsc::{self, RecvTimeoutError, SyncSender};
use std::thread;
use std::time::{Duration, Instant};

use nix::errno::Errno;
use nix::sys::signal::{killpg, Signal};
use nix::unistd::Pid;

use crate::signals;

/// Longest line kept as one line; longer output (binary junk without newlines) is split.
const MAX_LINE: usize = 64 * 1024;
/// How often the supervising loop checks the clock, the child and the signal flag.
const TICK: Duration = Duration::from_millis(20);
/// How long background processes may keep the output pipes open after the command exits.
const LINGER: Duration = Duration::from_millis(500);

/// Which output stream a line came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stream {
    Stdout,
    Stderr,
}

impl Stream {
    /// `stdout` / `stderr`, the log's `stream` field.
    pub fn as_str(self) -> &'static str {
        match self {
            Stream::Stdout => "stdout",
            Stream::Stderr => "stderr",
        }
    }
}

/// A command to run: an argument vector (never a shell string), environment, directory and
/// time limits.
#[derive(Debug, Clone)]
pub struct Command {
    program: OsString,
    args: Vec<OsString>,
    env: Vec<(OsString, OsString)>,
    cwd: Option<PathBuf>,
    timeout: Option<Duration>,
    grace: Duration,
    log_output: bool,
    stdin: Option<PathBuf>,
    stop_on_interrupt: bool,
}

/// Why a command could not be run at all.
#[derive(Debug, thiserror::Error)]
pub enum ProcessError {
    #[error("cannot run {program}: {source}")]
    Spawn {
        program: String,
        #[source]
        source: io::Error,
    },
    #[error("lost track of {program}: {source}")]
    Wait {
        program: String,
        #[source]
        source: io::Error,
    },
}

/// How the command ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ending {
    /// It exited by itself with this status.
    Exited(i32),
    /// A signal we did not send killed it.
    Signaled(i32),
    /// Its time limit ran out and it was stopped.
    TimedOut,
    /// This process received SIGINT/SIGTERM (the number) and stopped the command.
    Interrupted(i32),
}

/// The result of a finished command.
#[derive(Debug, Clone)]
pub struct Finished {
    pub ending: Ending,
    pub duration: Duration,
    pub stdout: Capture,
    pub stderr: Capture,
    /// Whether processes were still in the command's group after it exited (and were stopped).
    pub left_processes: bool,
}

impl Finished {
    /// Exited with status 0.
    pub fn success(&self) -> bool {
        self.ending == Ending::Exited(0)
    }

    /// A short human description: `exit status 3`, `killed by signal 9`, `timed out`.
    pub fn describe(&self) -> String {
        match self.ending {
            Ending::Exited(code) => format!("exit status {code}"),
            Ending::Signaled(sig) => format!("killed by signal {sig} ({})", signal_name(sig)),
            Ending::TimedOut => format!("timed out after {:.1} s", self.duration.as_secs_f64()),
            Ending::Interrupted(sig) => format!("interrupted by {}", signal_name(sig)),
        }
    }
}

fn signal_name(sig: i32) -> &'static str {
    Signal::try_from(sig)
        .map(|s| s.as_str())
        .unwrap_or("unknown signal")
}

/// Output kept from one stream: the first and last [`crate::junit::OUTPUT_HALF`] bytes, so
/// that a command printing gigabytes costs a bounded amount of memory. Also usable on its own
/// wherever a stream of lines must be kept as head and tail (a parser's output between test
/// points, say).
#[derive(Debug, Clone, Default)]
pub struct Capture {
    head: String,
    tail: String,
    omitted: usize,
}

impl Capture {
    /// Keep `line` (without its newline): in the head while it has room, else in the tail,
    /// whose oldest bytes are dropped and counted.
    pub fn push_line(&mut self, line: &str) {
        let half = crate::junit::OUTPUT_HALF;
        if self.omitted == 0 && self.tail.is_empty() && self.head.len() + line.len() < half {
            self.head.push_str(line);
            self.head.push('\n');
            return;
        }
        self.tail.push_str(line);
        self.tail.push('\n');
        if self.tail.len() > 2 * half {
            let mut cut = self.tail.len() - half;
            while !self.tail.is_char_boundary(cut) {
                cut += 1;
            }
            self.omitted += cut;
            self.tail.drain(..cut);
        }
    }

    /// The captured text, with a marker where bytes were dropped.
    pub fn text(&self) -> String {
        if self.omitted == 0 {
            format!("{}{}", self.head, self.tail)
        } else {
            format!(
                "{}[... {} bytes omitted ...]\n{}",
                self.head, self.omitted, self.tail
            )
        }
    }

    /// Whether nothing was captured.
    pub fn is_empty(&self) -> bool {
        self.head.is_empty() && self.tail.is_empty()
    }
}

impl Command {
    /// A command running `program` with no arguments.
    pub fn new(program: impl AsRef<OsStr>) -> Command {
        Command {
            program: program.as_ref().to_os_string(),
            args: Vec::new(),
            env: Vec::new(),
            cwd: None,
            timeout: None,
            grace: Duration::from_secs(5),
            log_output: true,
            stdin: None,
            stop_on_interrupt: true,
        }
    }

    /// Append one argument.
    pub fn arg(mut self, arg: impl AsRef<OsStr>) -> Command {
        self.args.push(arg.as_ref().to_os_string());
        self
    }

    /// Append arguments.
    pub fn args<I, S>(mut self, args: I) -> Command
    where
        I: IntoIterator<Item = S>,
        S: AsRef<OsStr>,
    {
        self.args
            .extend(args.into_iter().map(|a| a.as_ref().to_os_string()));
        self
    }

    /// Set an environment variable for the child.
    pub fn env(mut self, key: impl AsRef<OsStr>, value: impl AsRef<OsStr>) -> Command {
        self.env
            .push((key.as_ref().to_os_string(), value.as_ref().to_os_string()));
        self
    }

    /// Run in this directory.
    pub fn current_dir(mut self, dir: impl Into<PathBuf>) -> Command {
        self.cwd = Some(dir.into());
        self
    }

    /// Stop the command's process group when this much time has passed.
    pub fn timeout(mut self, limit: Option<Duration>) -> Command {
        self.timeout = limit;
        self
    }

    /// Time between TERM and KILL when stopping the group.
    pub fn grace(mut self, grace: Duration) -> Command {
        self.grace = grace;
        self
    }

    /// Let the command finish when this process is interrupted (SIGINT/SIGTERM): for steps
    /// that must complete so the tool can reach a known-good state (a remote install, the
    /// restore that follows). Bound such commands with [`Command::timeout`].
    pub fn keep_running_on_interrupt(mut self) -> Command {
        self.stop_on_interrupt = false;
        self
    }

    /// Feed this file to the command's stdin (default: /dev/null), e.g. a .deb piped over ssh.
    pub fn stdin_file(mut self, path: impl Into<PathBuf>) -> Command {
        self.stdin = Some(path.into());
        self
    }

    /// Do not copy output lines into the log (for commands whose output is data, not news).
    pub fn quiet(mut self) -> Command {
        self.log_output = false;
        self
    }

    /// The program as text, for messages.
    pub fn program_name(&self) -> String {
        self.program.to_string_lossy().into_owned()
    }

    /// Run to completion, calling `on_line` for every output line in arrival order.
    pub fn run(&self, mut on_line: impl FnMut(Stream, &str)) -> Result<Finished, ProcessError> {
        let started = Instant::now();
        let mut child = self.spawn()?;
        let pgid = Pid::from_raw(child.id() as i32);
        let (tx, rx) = mpsc::sync_channel(1024);
        let mut open_streams = 0;
        if let Some(out) = child.stdout.take() {
            spawn_reader(out, Stream::Stdout, tx.clone());
            open_streams += 1;
        }
        if let Some(err) = child.stderr.take() {
            spawn_reader(err, Stream::Stderr, tx.clone());
            open_streams += 1;
        }
        drop(tx);

        let mut stdout = Capture::default();
        let mut stderr = Capture::default();
        let mut deliver = |msg: Message| match msg {
            Message::Line(stream, line) => {
                if self.log_output {
                    tracing::info!(stream = stream.as_str(), "{line}");
                }
                match stream {
                    Stream::Stdout => stdout.push_line(&line),
                    Stream::Stderr => stderr.push_line(&line),
                }
                on_line(stream, &line);
                true
            }
            Message::Closed => false,
        };

        let deadline = self.timeout.map(|t| started + t);
        let mut stop_reason: Option<Ending> = None;
        let status = loop {
            match rx.recv_timeout(TICK) {
                Ok(msg) => {
                    if !deliver(msg) {
                        open_streams -= 1;
                    }
                }
                Err(RecvTimeoutError::Timeout) | Err(RecvTimeoutError::Disconnected) => {}
            }
            if stop_reason.is_none() {
                if let Some(sig) = signals::received().filter(|_| self.stop_on_interrupt) {
                    stop_reason = Some(Ending::Interrupted(sig));
                } else if deadline.is_some_and(|d| Instant::now() >= d) {
                    stop_reason = Some(Ending::TimedOut);
                }
                if let Some(reason) = stop_reason {
                    tracing::warn!(
                        program = %self.program_name(),
                        "stopping {} ({}): TERM to its process group, KILL after {:.0} s",
                        self.program_name(),
                        match reason {
                            Ending::TimedOut => "time limit reached".to_string(),
                            _ => "interrupted".to_string(),
                        },
                        self.grace.as_secs_f64()
                    );
                    stop_group(pgid, &mut child, self.grace);
                }
            }
            match child.try_wait() {
                Ok(Some(status)) => break status,
                Ok(None) => {}
                Err(source) => {
                    stop_group(pgid, &mut child, self.grace);
                    return Err(ProcessError::Wait {
                        program: self.program_name(),
                        source,
                    });
                }
            }
        };

        // The leader is gone; give background processes a moment to close the pipes, then
        // stop whatever is left in the group so nothing outlives the step.
        let linger_until = Instant::now() + LINGER;
        while open_streams > 0 && Instant::now() < linger_until {
            match rx.recv_timeout(TICK) {
                Ok(msg) => {
                    if !deliver(msg) {
                        open_streams -= 1;
                    }
                }
                Err(RecvTimeoutError::Timeout) => {}
                Err(RecvTimeoutError::Disconnected) => break,
            }
        }
        let left_processes = group_alive(pgid);
        if left_processes {
            tracing::warn!(
                program = %self.program_name(),
                "{} left processes running in its group; stopping them",
                self.program_name()
            );
            stop_leftovers(pgid, self.grace);
        }
        // Whatever the readers still hold arrives now that every writer is gone.
        while let Ok(msg) = rx.recv_timeout(Duration::from_millis(200)) {
            deliver(msg);
        }

        let ending = match stop_reason {
            Some(reason) => reason,
            None => match (status.code(), status.signal()) {
                (Some(code), _) => Ending::Exited(code),
                (None, Some(sig)) => Ending::Signaled(sig),
                (None, None) => Ending::Exited(-1),
            },
        };
        Ok(Finished {
            ending,
            duration: started.elapsed(),
            stdout,
            stderr,
            left_processes,
        })
    }

    fn spawn(&self) -> Result<Child, ProcessError> {
        let stdin =
            match &self.stdin {
                Some(path) => Stdio::from(std::fs::File::open(path).map_err(|source| {
                    ProcessError::Spawn {
                        program: format!("{} (stdin {})", self.program_name(), path.display()),
                        source,
                    }
                })?),
                None => Stdio::null(),
            };
        let mut cmd = std::process::Command::new(&self.program);
        cmd.args(&self.args)
            .stdin(stdin)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .env(crate::run_id::ENV, crate::run_id::get())
            .process_group(0);
        for (k, v) in &self.env {
            cmd.env(k, v);
        }
        if let Some(dir) = &self.cwd {
            cmd.current_dir(dir);
        }
        cmd.spawn().map_err(|source| ProcessError::Spawn {
            program: self.program_name(),
            source,
        })
    }
}

enum Message {
    Line(Stream, String),
    Closed,
}

fn spawn_reader(pipe: impl Read + Send + 'static, stream: Stream, tx: SyncSender<Message>) {
    thread::spawn(move || {
        let mut reader = BufReader::with_capacity(64 * 1024, pipe);
        let mut buf = Vec::with_capacity(256);
        loop {
            buf.clear();
            match read_bounded_line(&mut reader, &mut buf) {
                Ok(0) | Err(_) => break,
                Ok(_) => {
                    let line = String::from_utf8_lossy(visible_line(&buf)).into_owned();
                    if tx.send(Message::Line(stream, line)).is_err() {
                        return;
                    }
                }
            }
        }
        let _ = tx.send(Message::Closed);
    });
}

/// What a terminal would show of `line`: without its line ending, and only the text after the
/// last carriage return, so that progress a command redraws in place (dpkg's "Reading database
/// ... 5%\r... 10%\r") becomes its final state instead of a log line full of control
/// characters that syslog receivers escape.
fn visible_line(line: &[u8]) -> &[u8] {
    let mut end = line.len();
    while end > 0 && matches!(line[end - 1], b'\n' | b'\r') {
        end -= 1;
    }
    let line = &line[..end];
    match line.iter().rposition(|&b| b == b'\r') {
        Some(pos) => &line[pos + 1..],
        None => line,
    }
}

/// Read up to and including a newline, or [`MAX_LINE`] bytes, whichever comes first.
fn read_bounded_line(reader: &mut impl BufRead, buf: &mut Vec<u8>) -> io::Result<usize> {
    let mut total = 0;
    loop {
        let available = reader.fill_buf()?;
        if available.is_empty() {
            return Ok(total);
        }
        let room = MAX_LINE - buf.len();
        let (used, done) = match available.iter().take(room).position(|&b| b == b'\n') {
            Some(pos) => (pos + 1, true),
            None => {
                let used = available.len().min(room);
                (used, buf.len() + used >= MAX_LINE)
            }
        };
        buf.extend_from_slice(&available[..used]);
        reader.consume(used);
        total += used;
        if done {
            return Ok(total);
        }
    }
}

/// TERM the group, wait up to `grace` for the leader, then KILL the group; reaps the leader.
fn stop_group(pgid: Pid, child: &mut Child, grace: Duration) {
    let _ = killpg(pgid, Signal::SIGTERM);
    let until = Instant::now() + grace;
    while Instant::now() < until {
        if let Ok(Some(_)) = child.try_wait() {
            break;
        }
        thread::sleep(TICK);
    }
    if matches!(child.try_wait(), Ok(None)) {
        let _ = killpg(pgid, Signal::SIGKILL);
    }
    // Grandchildren that ignored TERM: give them the same grace, then KILL.
    if group_alive(pgid) {
        stop_leftovers(pgid, grace);
    }
}

/// TERM what is left of a group whose leader has exited, then KILL after `grace`.
fn stop_leftovers(pgid: Pid, grace: Duration) {
    let _ = killpg(pgid, Signal::SIGTERM);
    let until = Instant::now() + grace;
    while group_alive(pgid) && Instant::now() < until {
        thread::sleep(TICK);
    }
    if group_alive(pgid) {
        let _ = killpg(pgid, Signal::SIGKILL);
        let until = Instant::now() + Duration::from_secs(2);
        while group_alive(pgid) && Instant::now() < until {
            thread::sleep(TICK);
        }
    }
}

/// Whether any process is still in the group (`kill(-pgid, 0)` does not fail with ESRCH).
fn group_alive(pgid: Pid) -> bool {
    !matches!(killpg(pgid, None), Err(Errno::ESRCH))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sh(script: &str) -> Command {
        Command::new("sh").args(["-c", script]).quiet()
    }

    #[test]
    fn a_line_redrawn_with_carriage_returns_keeps_its_final_state() {
        assert_eq!(
            visible_line(b"(Reading ... 5%\r(Reading ... 100%)\n"),
            b"(Reading ... 100%)"
        );
        assert_eq!(visible_line(b"dos line\r\n"), b"dos line");
        assert_eq!(visible_line(b"plain\n"), b"plain");
        assert_eq!(visible_line(b"\r\n"), b"");
    }

    #[test]
    fn streams_lines_in_order_and_captures_them() {
        let mut seen = Vec::new();
        let done = sh("echo one; echo two >&2; printf 'three'")
            .run(|stream, line| seen.push((stream, line.to_string())))
            .unwrap();
        assert!(done.success());
        assert!(seen.contains(&(Stream::Stdout, "one".into())));
        assert!(seen.contains(&(Stream::Stderr, "two".into())));
        assert!(seen.contains(&(Stream::Stdout, "three".into())));
        assert_eq!(done.stdout.text(), "one\nthree\n");
        assert_eq!(done.stderr.text(), "two\n");
    }

    #[test]
    fn stdin_can_come_from_a_file() {
        let dir = tempfile::tempdir().unwrap();
        let input = dir.path().join("in");
        std::fs::write(&input, "line from a file\n").unwrap();
        let mut seen = Vec::new();
        Command::new("cat")
            .stdin_file(&input)
            .quiet()
            .run(|_, line| seen.push(line.to_string()))
            .unwrap();
        assert_eq!(seen, ["line from a file"]);
        assert!(Command::new("cat")
            .stdin_file(dir.path().join("missing"))
            .run(|_, _| {})
            .is_err());
    }

    #[test]
    fn exit_status_and_signals_are_reported() {
        assert_eq!(
            sh("exit 3").run(|_, _| {}).unwrap().ending,
            Ending::Exited(3)
        );
        assert_eq!(
            sh("kill -9 $$").run(|_, _| {}).unwrap().ending,
            Ending::Signaled(9)
        );
    }

    #[test]
    fn a_missing_program_is_a_spawn_error_naming_it() {
        let err = Command::new("/no/such/tool").run(|_, _| {}).unwrap_err();
        assert!(err.to_string().contains("/no/such/tool"), "{err}");
    }

    #[test]
    fn timeout_stops_the_whole_group_including_grandchildren_ignoring_term() {
        let dir = tempfile::tempdir().unwrap();
        let pidfile = dir.path().join("pids");
        let script = format!(
            "(trap '' TERM; sleep 300 & echo $! >> {p}; wait) & echo $! >> {p}; sleep 300",
            p = pidfile.display()
        );
        let done = sh(&script)
            .timeout(Some(Duration::from_millis(500)))
            .grace(Duration::from_millis(300))
            .run(|_, _| {})
            .unwrap();
        assert_eq!(done.ending, Ending::TimedOut);
        assert!(done.duration < Duration::from_secs(10));
        let pids = std::fs::read_to_string(&pidfile).unwrap();
        assert_eq!(pids.lines().count(), 2, "{pids}");
        for pid in pids.lines() {
            let pid = Pid::from_raw(pid.trim().parse().unwrap());
            assert_eq!(
                nix::sys::signal::kill(pid, None),
                Err(Errno::ESRCH),
                "{pid} survived"
            );
        }
    }

    #[test]
    fn background_processes_left_behind_are_stopped() {
        let dir = tempfile::tempdir().unwrap();
        let pidfile = dir.path().join("pid");
        let script = format!(
            "sleep 300 >/dev/null 2>&1 & echo $! > {}",
            pidfile.display()
        );
        let done = sh(&script)
            .grace(Duration::from_millis(200))
            .run(|_, _| {})
            .unwrap();
        assert!(done.success());
        assert!(done.left_processes);
        let pid: i32 = std::fs::read_to_string(&pidfile)
            .unwrap()
            .trim()
            .parse()
            .unwrap();
        assert_eq!(
            nix::sys::signal::kill(Pid::from_raw(pid), None),
            Err(Errno::ESRCH)
        );
    }

    #[test]
    fn capture_keeps_head_and_tail_of_huge_output() {
        let mut capture = Capture::default();
        for i in 0..100_000 {
            capture.push_line(&format!("line {i:06}"));
        }
        let text = capture.text();
        assert!(text.starts_with("line 000000\n"));
        assert!(text.ends_with("line 099999\n"));
        assert!(text.contains("bytes omitted"));
        assert!(text.len() < 3 * crate::junit::OUTPUT_HALF);
    }

    #[test]
    fn endless_lines_are_split() {
        let mut reader = io::Cursor::new(vec![b'x'; MAX_LINE * 2 + 10]);
        let mut buf = Vec::new();
        assert_eq!(read_bounded_line(&mut reader, &mut buf).unwrap(), MAX_LINE);
    }
}
