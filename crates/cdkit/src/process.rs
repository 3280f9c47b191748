//! Child processes: each runs in its own process group, its stdout and stderr are streamed line
//! by line into the log (with the span's host/step) and into a bounded capture, and a timeout or
//! an interrupting signal stops the whole group: TERM, a grace period, then KILL. Processes the
//! command left behind in its group are stopped too, so nothing outlives the step.
//!
//! A process group does not hold a child that called `setsid` (a daemon a test starts, a
//! `setsid sleep` in a test script). [`Command::stop_descendants`] closes that gap for tools
//! that supervise one command at a time: this process becomes a child subreaper
//! (`PR_SET_CHILD_SUBREAPER`), so orphans are reparented to it instead of to init, and every
//! descendant found in `/proc` is stopped with the group and reaped.

use std::ffi::{OsStr, OsString};
use std::io::{self, BufRead, BufReader, Read};
use std::os::unix::process::{CommandExt, ExitStatusExt};
use std::path::PathBuf;
use std::process::{Child, Stdio};
use std::sync::mpsc::{self, RecvTimeoutError, SyncSender};
use std::thread;
use std::time::{Duration, Instant};

use nix::sys::signal::{killpg, Signal};
use nix::unistd::Pid;

use crate::signals;

/// Longest line kept as one line; longer output (binary junk without newlines) is split.
const MAX_LINE: usize = 64 * 1024;
/// How often the supervising loop checks the clock, the child and the signal flag.
const TICK: Duration = Duration::from_millis(20);
/// How long background processes may keep the output pipes open after the command exits.
const LINGER: Duration = Duration::from_millis(500);
/// Batches of lines in flight between the pipe readers and the supervising loop. Bounded so
/// that a command printing faster than its lines are handled waits on its pipe instead of
/// growing this process's memory: at most this many batches of about [`BATCH_BYTES`].
const BATCHES_IN_FLIGHT: usize = 16;
/// A reader sends what it has read once a batch holds this many bytes, or [`BATCH_LINES`]
/// lines, or when no more output is waiting in the pipe; batches keep a fast printer from
/// costing a thread wake-up per line, and the last rule keeps a slow one's lines prompt.
const BATCH_BYTES: usize = 256 * 1024;
/// See [`BATCH_BYTES`].
const BATCH_LINES: usize = 512;
/// How long processes get to disappear after KILL before we stop waiting for them.
const AFTER_KILL: Duration = Duration::from_secs(1);

/// Which output stream a line came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stream {
    /// The child's standard output.
    Stdout,
    /// The child's standard error.
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
    log_limit: Option<usize>,
    stdin: Option<Input>,
    stop_on_interrupt: bool,
    stop_descendants: bool,
    keep_background: bool,
}

/// What a command reads on stdin.
#[derive(Debug, Clone)]
enum Input {
    File(PathBuf),
    /// Bytes written by a thread, then stdin is closed: how a secret (a URL with a password,
    /// a token) reaches a child without being on its command line, which every local user can
    /// read in `/proc/PID/cmdline`.
    Bytes(Vec<u8>),
}

/// Why a command could not be run at all.
#[derive(Debug, thiserror::Error)]
pub enum ProcessError {
    /// The program could not be started (not installed, not executable, no such directory).
    #[error("cannot run {program}: {source}")]
    Spawn {
        /// The program's name, as the error line shows it.
        program: String,
        /// What the system said.
        #[source]
        source: io::Error,
    },
    /// Waiting for the child failed, so its outcome is unknown; treated as an error, never
    /// as success.
    #[error("lost track of {program}: {source}")]
    Wait {
        /// The program's name.
        program: String,
        /// What the system said.
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
    /// How it ended; only [`Ending::Exited`] carries the command's own verdict.
    pub ending: Ending,
    /// Wall time from spawn to the end of the wait.
    pub duration: Duration,
    /// What it printed on stdout, bounded (head and tail kept).
    pub stdout: Capture,
    /// What it printed on stderr, bounded the same way.
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
            log_limit: None,
            stdin: None,
            stop_on_interrupt: true,
            stop_descendants: false,
            keep_background: false,
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

    /// Leave what the command started in the background running once it has exited: ssh's
    /// connection master and the `ProxyJump` helper it talks through, which the next commands
    /// to that host reuse (the session closes them). A timeout or an interruption still stops
    /// the whole group.
    pub fn keep_background(mut self) -> Command {
        self.keep_background = true;
        self
    }

    /// Also stop descendants that left the command's process group (`setsid`), at a timeout,
    /// an interruption and after the command exits. This process becomes a child subreaper,
    /// and every child of it other than a running command's leader is taken for an orphan of
    /// the command: use it only in a tool that runs one command at a time (run-tests).
    pub fn stop_descendants(mut self) -> Command {
        self.stop_descendants = true;
        self
    }

    /// Feed this file to the command's stdin (default: /dev/null), e.g. a .deb piped over ssh.
    pub fn stdin_file(mut self, path: impl Into<PathBuf>) -> Command {
        self.stdin = Some(Input::File(path.into()));
        self
    }

    /// Feed these bytes to the command's stdin, then close it (e.g. `curl --config -`).
    pub fn stdin_bytes(mut self, bytes: impl Into<Vec<u8>>) -> Command {
        self.stdin = Some(Input::Bytes(bytes.into()));
        self
    }

    /// Do not copy output lines into the log (for commands whose output is data, not news).
    pub fn quiet(mut self) -> Command {
        self.log_output = false;
        self
    }

    /// Copy at most `bytes` of each stream into the log, then one line saying how much more
    /// was not logged: for commands whose output someone else controls (a remote host's), so
    /// that a step printing gigabytes cannot flood the log. `on_line` and the capture still
    /// see every line (the capture is bounded by itself).
    pub fn log_limit(mut self, bytes: usize) -> Command {
        self.log_limit = Some(bytes);
        self
    }

    /// The program as text, for messages.
    pub fn program_name(&self) -> String {
        self.program.to_string_lossy().into_owned()
    }

    /// Run to completion, calling `on_line` for every output line in arrival order.
    pub fn run(&self, mut on_line: impl FnMut(Stream, &str)) -> Result<Finished, ProcessError> {
        let started = Instant::now();
        if self.stop_descendants {
            // Without it, an orphan goes to init and cannot be told from anyone else's.
            nix::sys::prctl::set_child_subreaper(true).map_err(|e| ProcessError::Spawn {
                program: self.program_name(),
                source: io::Error::from(e),
            })?;
        }
        let mut child = self.spawn()?;
        let family = Family {
            leader: Pid::from_raw(child.id() as i32),
            descendants: self.stop_descendants,
        };
        let (tx, rx) = mpsc::sync_channel(BATCHES_IN_FLIGHT);
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
        // Bytes logged so far per stream (stdout, stderr), against `log_limit`.
        let mut logged = [0usize; 2];
        let mut deliver = |msg: Message| match msg {
            Message::Lines(stream, lines) => {
                for line in lines {
                    if self.log_output {
                        let count = &mut logged[stream as usize];
                        match self.log_limit {
                            Some(limit) if *count >= limit => {}
                            Some(limit) if *count + line.len() >= limit => {
                                *count = limit;
                                tracing::warn!(
                                    stream = stream.as_str(),
                                    "{} printed more than {limit} bytes on {}; the rest is not logged",
                                    self.program_name(),
                                    stream.as_str()
                                );
                            }
                            _ => {
                                *count += line.len() + 1;
                                tracing::info!(stream = stream.as_str(), "{line}");
                            }
                        }
                    }
                    match stream {
                        Stream::Stdout => stdout.push_line(&line),
                        Stream::Stderr => stderr.push_line(&line),
                    }
                    on_line(stream, &line);
                }
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
                    family.stop(Some(&mut child), self.grace);
                }
            }
            match child.try_wait() {
                Ok(Some(status)) => break status,
                Ok(None) => {}
                Err(source) => {
                    family.stop(Some(&mut child), self.grace);
                    return Err(ProcessError::Wait {
                        program: self.program_name(),
                        source,
                    });
                }
            }
        };

        // The leader is gone; give background processes a moment to close the pipes, then
        // stop whatever is left in the group so nothing outlives the step.
        // What a command leaves in the background on purpose may hold the pipes for as long as
        // it runs: its output is read below, without waiting for them to close.
        let linger = if self.keep_background {
            Duration::ZERO
        } else {
            LINGER
        };
        let linger_until = Instant::now() + linger;
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
        let left_processes = !self.keep_background && family.alive();
        if left_processes {
            tracing::warn!(
                program = %self.program_name(),
                "{} left processes running; stopping them",
                self.program_name()
            );
            family.stop(None, self.grace);
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
        let stdin = match &self.stdin {
            Some(Input::File(path)) => Stdio::from(std::fs::File::open(path).map_err(
                |source| ProcessError::Spawn {
                    program: format!("{} (stdin {})", self.program_name(), path.display()),
                    source,
                },
            )?),
            Some(Input::Bytes(_)) => Stdio::piped(),
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
        let mut child = cmd.spawn().map_err(|source| ProcessError::Spawn {
            program: self.program_name(),
            source,
        })?;
        if let (Some(Input::Bytes(bytes)), Some(mut pipe)) = (&self.stdin, child.stdin.take()) {
            let bytes = bytes.clone();
            // A child that exits without reading gets EPIPE here, which is its business.
            std::thread::spawn(move || {
                use std::io::Write;
                let _ = pipe.write_all(&bytes);
            });
        }
        Ok(child)
    }
}

enum Message {
    Lines(Stream, Vec<String>),
    Closed,
}

fn spawn_reader(pipe: impl Read + Send + 'static, stream: Stream, tx: SyncSender<Message>) {
    thread::spawn(move || {
        let mut reader = BufReader::with_capacity(64 * 1024, pipe);
        let mut buf = Vec::with_capacity(256);
        let mut batch: Vec<String> = Vec::new();
        let mut batch_bytes = 0;
        loop {
            buf.clear();
            match read_bounded_line(&mut reader, &mut buf) {
                Ok(0) | Err(_) => break,
                Ok(n) => {
                    batch.push(String::from_utf8_lossy(visible_line(&buf)).into_owned());
                    batch_bytes += n;
                }
            }
            let drained = reader.buffer().is_empty();
            if drained || batch_bytes >= BATCH_BYTES || batch.len() >= BATCH_LINES {
                batch_bytes = 0;
                if tx
                    .send(Message::Lines(stream, std::mem::take(&mut batch)))
                    .is_err()
                {
                    return;
                }
            }
        }
        if !batch.is_empty() {
            let _ = tx.send(Message::Lines(stream, batch));
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

/// The processes one command started: its process group, and with
/// [`Command::stop_descendants`] every descendant, wherever it moved.
struct Family {
    /// The command's pid, also its process group id.
    leader: Pid,
    descendants: bool,
}

impl Family {
    /// TERM everything, wait up to `grace` for all of it to end (reaping the leader when given,
    /// and orphans), then KILL what is left. One deadline for the leader and whatever it left,
    /// so stopping takes at most `grace` plus a moment.
    fn stop(&self, mut leader: Option<&mut Child>, grace: Duration) {
        self.signal(Signal::SIGTERM);
        let deadline = Instant::now() + grace;
        let mut killed = false;
        loop {
            let leader_done = match leader.as_deref_mut() {
                Some(child) => !matches!(child.try_wait(), Ok(None)),
                None => true,
            };
            self.reap_orphans();
            if leader_done && !self.alive() {
                return;
            }
            let now = Instant::now();
            if !killed && now >= deadline {
                self.signal(Signal::SIGKILL);
                killed = true;
            } else if killed && now >= deadline + AFTER_KILL {
                return;
            }
            thread::sleep(TICK);
        }
    }

    fn signal(&self, signal: Signal) {
        let _ = killpg(self.leader, signal);
        for pid in self.members() {
            let _ = nix::sys::signal::kill(pid, signal);
        }
    }

    /// Whether any process of the family still runs. Zombies do not count: they are dead, and
    /// whether init reaps an orphan's zombie promptly is not ours to wait for.
    fn alive(&self) -> bool {
        let table = ProcTable::read();
        table.group_running(self.leader) || !self.members_in(&table).is_empty()
    }

    /// Living descendants outside the group: the leader's, and (this process being a
    /// subreaper) those of every orphan reparented to us. Empty without `descendants`.
    fn members(&self) -> Vec<Pid> {
        if !self.descendants {
            return Vec::new(); // no /proc scan for a plain process group
        }
        self.members_in(&ProcTable::read())
    }

    fn members_in(&self, table: &ProcTable) -> Vec<Pid> {
        if !self.descendants {
            return Vec::new();
        }
        let us = Pid::this();
        let mut roots: Vec<Pid> = table.children(us).to_vec();
        roots.push(self.leader);
        let mut found = Vec::new();
        let mut seen = std::collections::HashSet::new();
        while let Some(pid) = roots.pop() {
            if !seen.insert(pid) {
                continue;
            }
            if pid != self.leader && table.is_running(pid) {
                found.push(pid);
            }
            roots.extend_from_slice(table.children(pid));
        }
        found
    }

    /// Collect the exit status of orphans that ended as our children (they would stay
    /// zombies otherwise). The leader is left to its [`Child`].
    fn reap_orphans(&self) {
        if !self.descendants {
            return;
        }
        let table = ProcTable::read();
        for &pid in table.children(Pid::this()) {
            if pid != self.leader {
                let _ = nix::sys::wait::waitpid(pid, Some(nix::sys::wait::WaitPidFlag::WNOHANG));
            }
        }
    }
}

/// A snapshot of `/proc`: each process's parent, which groups have living members, and which
/// processes are zombies.
struct ProcTable {
    children: std::collections::HashMap<Pid, Vec<Pid>>,
    zombies: std::collections::HashSet<Pid>,
    running_groups: std::collections::HashSet<Pid>,
}

impl ProcTable {
    fn read() -> ProcTable {
        let mut table = ProcTable {
            children: Default::default(),
            zombies: Default::default(),
            running_groups: Default::default(),
        };
        let Ok(entries) = std::fs::read_dir("/proc") else {
            return table;
        };
        for entry in entries.flatten() {
            let Some(pid) = entry
                .file_name()
                .to_str()
                .and_then(|n| n.parse::<i32>().ok())
            else {
                continue;
            };
            // A process may end between read_dir and this read; it is then simply not listed.
            let Ok(stat) = std::fs::read_to_string(entry.path().join("stat")) else {
                continue;
            };
            if let Some(Stat { state, ppid, pgrp }) = parse_stat(&stat) {
                let pid = Pid::from_raw(pid);
                table
                    .children
                    .entry(Pid::from_raw(ppid))
                    .or_default()
                    .push(pid);
                if state == 'Z' {
                    table.zombies.insert(pid);
                } else {
                    table.running_groups.insert(Pid::from_raw(pgrp));
                }
            }
        }
        table
    }

    fn children(&self, parent: Pid) -> &[Pid] {
        self.children.get(&parent).map_or(&[], Vec::as_slice)
    }

    fn is_running(&self, pid: Pid) -> bool {
        !self.zombies.contains(&pid)
    }

    /// Whether a process that is not a zombie is in group `pgid`.
    fn group_running(&self, pgid: Pid) -> bool {
        self.running_groups.contains(&pgid)
    }
}

/// The fields of `/proc/PID/stat` we use.
struct Stat {
    state: char,
    ppid: i32,
    pgrp: i32,
}

/// Parse `/proc/PID/stat`. The command name in parentheses may itself hold spaces and
/// parentheses, so the fields are read after the last `)`.
fn parse_stat(stat: &str) -> Option<Stat> {
    let rest = &stat[stat.rfind(')')? + 1..];
    let mut fields = rest.split_ascii_whitespace();
    let state = fields.next()?.chars().next()?;
    let ppid = fields.next()?.parse().ok()?;
    let pgrp = fields.next()?.parse().ok()?;
    Some(Stat { state, ppid, pgrp })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Whether `pid` runs: gone and zombie (dead, waiting for init to reap it) both count as
    /// stopped.
    fn running(pid: Pid) -> bool {
        let table = ProcTable::read();
        table.children.values().flatten().any(|p| *p == pid) && table.is_running(pid)
    }

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
    fn stdin_can_come_from_bytes() {
        let mut seen = Vec::new();
        Command::new("cat")
            .stdin_bytes("first\nsecond\n")
            .quiet()
            .run(|_, line| seen.push(line.to_string()))
            .unwrap();
        assert_eq!(seen, ["first", "second"]);
        // A child that never reads its stdin does not block the run.
        let done = Command::new("true")
            .stdin_bytes(vec![b'x'; 1 << 20])
            .run(|_, _| {})
            .unwrap();
        assert!(done.success());
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
            assert!(!running(pid), "{pid} survived");
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
        assert!(!running(Pid::from_raw(pid)), "{pid} survived");
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
