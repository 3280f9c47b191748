//! The deployment page: one self-contained HTML file showing a rolling-install or rollback run
//! from its journal (`--record`) and, optionally, the run's lines of the central log
//! (`--log-file`), so whoever pushed sees every host's turn, the failures with their diagnosis
//! and every machine's log without logging in anywhere.
//!
//! The page carries its CSS inline and draws with inline SVG: no script, no external URL, so
//! it opens from a file, from a CI server's artifacts or from a mail attachment alike. Colours
//! that carry meaning (a failed step is red) are SVG presentation attributes, not CSS, so the
//! timeline stays readable where a Content-Security-Policy strips the inline stylesheet.
//!
//! Records and logs are untrusted (a host name, a step's detail or a service's log line can
//! hold anything): every text goes through [`cdkit::redact::redact`] and is HTML-escaped.
//!
//! Size: the page of a big fleet stays small enough to open. Each host keeps at most
//! [`KEEP_HEAD`] + [`KEEP_TAIL`] of its log lines (its first and its last); a host that failed
//! or is in progress shows all it kept, any other [`QUIET_HEAD`] + [`QUIET_TAIL`]; every line is
//! cut at [`MAX_LINE_CHARS`] characters; all log panels together hold at most
//! [`MAX_LOG_BYTES`] of text and all diagnoses at most [`MAX_DIAGNOSIS_BYTES`] (failed hosts
//! first), the rest being named as left out. What remains grows by about 2 KB a host: a
//! 400-host page stays under [`SIZE_CAP_400_HOSTS`].

use std::collections::{HashMap, VecDeque};
use std::fmt::Write as _;
use std::io::{BufRead, Read, Seek};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use crate::journal::{HostRecord, HostState, Journal, Step};

/// Log lines kept per host from the start of its lines.
pub const KEEP_HEAD: usize = 40;
/// Log lines kept per host from the end of its lines.
pub const KEEP_TAIL: usize = 160;
/// Of what a host that neither failed nor is in progress kept, the first lines shown.
pub const QUIET_HEAD: usize = 5;
/// ... and the last lines shown.
pub const QUIET_TAIL: usize = 15;
/// A log line (or a line of a diagnosis) is cut after this many characters.
pub const MAX_LINE_CHARS: usize = 1000;
/// All log panels of a page together.
pub const MAX_LOG_BYTES: usize = 768 * 1024;
/// All diagnoses (failed steps' details) of a page together.
pub const MAX_DIAGNOSIS_BYTES: usize = 512 * 1024;
/// The documented size cap of a 400-host page with its log (tested).
pub const SIZE_CAP_400_HOSTS: usize = 2 * 1024 * 1024;
/// The live page is rewritten at most this often.
pub const LIVE_INTERVAL: Duration = Duration::from_secs(1);

/// Why a page could not be made.
#[derive(Debug, thiserror::Error)]
pub enum PageError {
    /// The central log could not be read.
    #[error("cannot read the log file {path}: {source}")]
    Read {
        /// The log file.
        path: String,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// A line of the central log is not a JSON object.
    #[error("log file {path}, line {line}: not a JSON log line: {reason}")]
    Invalid {
        /// The log file.
        path: String,
        /// The line number, from 1.
        line: usize,
        /// Why.
        reason: String,
    },
    /// The page could not be written.
    #[error(transparent)]
    Write(#[from] cdkit::atomic::AtomicWriteError),
}

/// One line of the central log, as the page shows it.
#[derive(Debug, Clone, PartialEq)]
pub struct LogLine {
    /// When (a service's line: the journal's own time, else the tool's).
    pub time: String,
    /// `time` in milliseconds since the epoch, to interleave tool and service lines.
    sort_key: i64,
    /// The level (`INFO`, ...), or for a service's line its syslog priority.
    pub level: String,
    /// The tool that wrote it.
    pub tool: String,
    /// The step it was logged in.
    pub step: Option<String>,
    /// A service's line: its unit or file.
    pub service: Option<String>,
    /// The text.
    pub message: String,
}

/// One host's kept lines: the first [`KEEP_HEAD`] and the last [`KEEP_TAIL`] in file order.
#[derive(Debug, Default, Clone)]
struct Kept {
    head: Vec<LogLine>,
    tail: VecDeque<LogLine>,
    total: usize,
}

impl Kept {
    fn push(&mut self, line: LogLine, head: usize, tail: usize) {
        self.total += 1;
        if self.head.len() < head {
            self.head.push(line);
            return;
        }
        if self.tail.len() == tail {
            self.tail.pop_front();
        }
        self.tail.push_back(line);
    }

    /// The kept lines in time order and how many of the host's lines are not among them.
    fn lines(&self) -> (Vec<&LogLine>, usize) {
        let mut lines: Vec<&LogLine> = self.head.iter().chain(self.tail.iter()).collect();
        lines.sort_by_key(|l| l.sort_key);
        let dropped = self.total - lines.len();
        (lines, dropped)
    }
}

/// The central log's lines of one run (and of the rollbacks over its record), per host.
#[derive(Debug, Default, Clone)]
pub struct Logs {
    /// The runs whose lines belong on the page.
    runs: Vec<RunWindow>,
    hosts: HashMap<String, Kept>,
    /// Lines of no host (batches, the closing line).
    run: Kept,
}

/// One run that worked on the record: its lines are its tool's, with its run id, written while
/// it ran. A pipeline often gives all its tools and runs one run id (`CDKIT_RUN_ID`), and one
/// central log: the tool and the time tell this run's lines from the build's, or from an
/// earlier rollout to the same hosts.
#[derive(Debug, Clone)]
struct RunWindow {
    tool: String,
    run_id: String,
    /// From (milliseconds since the epoch; `None`: unknown, no bound).
    from: Option<i64>,
    /// To (`None`: still running, or unknown).
    to: Option<i64>,
}

/// Slack around a run's start and end: its first lines are written a moment before its record's
/// `started`, and the record's clock and the log's are read apart.
const WINDOW_SLACK_MS: i64 = 5_000;

impl RunWindow {
    fn holds(&self, tool: &str, run_id: &str, at: Option<i64>) -> bool {
        self.tool == tool
            && self.run_id == run_id
            && at.is_none_or(|t| {
                self.from.is_none_or(|f| t >= f - WINDOW_SLACK_MS)
                    && self.to.is_none_or(|e| t <= e + WINDOW_SLACK_MS)
            })
    }
}

impl Logs {
    /// No lines yet; [`Logs::push_line`] keeps those of `journal`'s run and of the rollbacks
    /// that worked on it.
    pub fn for_journal(journal: &Journal) -> Logs {
        let window = |tool: &str, run_id: &str, from: &str, to: Option<&str>| RunWindow {
            tool: tool.to_string(),
            run_id: run_id.to_string(),
            from: millis(from),
            to: to.and_then(millis),
        };
        let mut runs = vec![window(
            &journal.tool,
            &journal.run_id,
            &journal.started,
            journal.finished.as_deref(),
        )];
        runs.extend(
            journal
                .rollbacks
                .iter()
                .map(|r| window(&r.tool, &r.run_id, &r.started, r.finished.as_deref())),
        );
        Logs {
            runs,
            ..Logs::default()
        }
    }

    /// Read the central log at `path`: every line must be a JSON object (a blank line is
    /// skipped); those of the journal's runs are kept.
    pub fn read(journal: &Journal, path: &Path) -> Result<Logs, PageError> {
        let shown = path.display().to_string();
        let read_error = |source| PageError::Read {
            path: shown.clone(),
            source,
        };
        let file = std::fs::File::open(path).map_err(read_error)?;
        let mut logs = Logs::for_journal(journal);
        for (n, line) in std::io::BufReader::new(file).split(b'\n').enumerate() {
            let line = line.map_err(read_error)?;
            let text = String::from_utf8_lossy(&line);
            logs.push_line(&text).map_err(|reason| PageError::Invalid {
                path: shown.clone(),
                line: n + 1,
                reason,
            })?;
        }
        Ok(logs)
    }

    /// One line of the central log; an error says why it is not a log line.
    pub fn push_line(&mut self, text: &str) -> Result<(), String> {
        let text = text.trim();
        if text.is_empty() {
            return Ok(());
        }
        let value: serde_json::Value = serde_json::from_str(text).map_err(|e| e.to_string())?;
        let object = value
            .as_object()
            .ok_or_else(|| "not a JSON object".to_string())?;
        let field = |name: &str| -> Option<String> {
            match object.get(name)? {
                serde_json::Value::String(s) => Some(s.clone()),
                serde_json::Value::Null => None,
                other => Some(other.to_string()),
            }
        };
        let Some(run_id) = field("run_id") else {
            return Ok(());
        };
        let tool = field("tool").unwrap_or_default();
        let written = field("timestamp").as_deref().and_then(millis);
        if !self.runs.iter().any(|r| r.holds(&tool, &run_id, written)) {
            return Ok(());
        }
        let service = field("source").as_deref() == Some("service");
        let time = if service {
            field("service_time").or_else(|| field("timestamp"))
        } else {
            field("timestamp")
        }
        .unwrap_or_default();
        let level = match (service, field("priority")) {
            (true, Some(p)) => priority_name(&p).to_string(),
            _ => field("level").unwrap_or_default(),
        };
        let line = LogLine {
            sort_key: millis(&time).unwrap_or(i64::MAX),
            time,
            level,
            tool,
            step: field("step"),
            service: service.then(|| {
                field("unit")
                    .or_else(|| field("file"))
                    .unwrap_or_else(|| "service".into())
            }),
            message: field("message").unwrap_or_default(),
        };
        match field("host") {
            Some(host) => self
                .hosts
                .entry(host)
                .or_default()
                .push(line, KEEP_HEAD, KEEP_TAIL),
            None => self.run.push(line, KEEP_HEAD / 2, KEEP_TAIL / 2),
        }
        Ok(())
    }
}

/// A syslog priority's name.
fn priority_name(priority: &str) -> &str {
    match priority {
        "0" => "EMERG",
        "1" => "ALERT",
        "2" => "CRIT",
        "3" => "ERR",
        "4" => "WARNING",
        "5" => "NOTICE",
        "6" => "INFO",
        "7" => "DEBUG",
        other => other,
    }
}

/// How long a step took in milliseconds, bounded (a record is untrusted: `seconds` may be
/// negative, NaN or 1e300), so that sums of times cannot overflow.
fn step_ms(step: &Step) -> i64 {
    (step.seconds * 1000.0).clamp(0.0, 1e15) as i64
}

/// An RFC 3339 time in milliseconds since the epoch (chrono's range: within about ±8e15).
fn millis(time: &str) -> Option<i64> {
    chrono::DateTime::parse_from_rfc3339(time)
        .ok()
        .map(|t| t.timestamp_millis())
}

/// Write `html` to `path` atomically (readable like a report: `0644` narrowed by the umask).
pub fn write(path: &Path, html: &str) -> Result<(), PageError> {
    cdkit::atomic::write_honouring_umask(path, 0o644, html.as_bytes())?;
    Ok(())
}

/// The live page of a run in progress (`--report`): re-rendered from the journal at most once
/// every [`LIVE_INTERVAL`], with the central log's new lines read on from where it left off.
pub struct Live {
    output: PathBuf,
    log_file: Option<PathBuf>,
    logs: Option<Logs>,
    offset: u64,
    partial: Vec<u8>,
    last: Option<Instant>,
}

impl Live {
    /// A live page written to `output`, with the lines of `log_file` (the run's `--log-file`).
    pub fn new(output: PathBuf, log_file: Option<PathBuf>) -> Live {
        Live {
            output,
            log_file,
            logs: None,
            offset: 0,
            partial: Vec::new(),
            last: None,
        }
    }

    /// Whether `interval` (at least [`LIVE_INTERVAL`]) has passed since the last page.
    pub fn due_after(&self, interval: Duration) -> bool {
        self.last
            .is_none_or(|t| t.elapsed() >= interval.max(LIVE_INTERVAL))
    }

    /// Render and write the page: `running` adds the browser refresh and marks hosts in
    /// progress. A page that cannot be written is logged: the run goes on.
    pub fn update(&mut self, journal: &Journal, running: bool) {
        self.last = Some(Instant::now());
        if self.logs.is_none() && self.log_file.is_some() {
            self.logs = Some(Logs::for_journal(journal));
        }
        self.read_new_lines();
        let html = render(journal, self.logs.as_ref(), running);
        if let Err(e) = write(&self.output, &html) {
            tracing::warn!("deployment page: {e}");
        }
    }

    /// The log file's lines since the last call (a line still being written waits; a line
    /// that is not JSON is skipped: the run's own log is not the place to stop over it).
    fn read_new_lines(&mut self) {
        let (Some(path), Some(logs)) = (&self.log_file, &mut self.logs) else {
            return;
        };
        let Ok(mut file) = std::fs::File::open(path) else {
            return;
        };
        if file.seek(std::io::SeekFrom::Start(self.offset)).is_err() {
            return;
        }
        let mut bytes = Vec::new();
        let Ok(n) = file.read_to_end(&mut bytes) else {
            return;
        };
        self.offset += n as u64;
        self.partial.extend_from_slice(&bytes);
        let complete = match self.partial.iter().rposition(|&b| b == b'\n') {
            Some(end) => self.partial.drain(..=end).collect::<Vec<u8>>(),
            None => return,
        };
        for line in complete.split(|&b| b == b'\n') {
            let _ = logs.push_line(&String::from_utf8_lossy(line));
        }
    }
}

/// What a step did, for its colour and legend.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Drain,
    Install,
    Health,
    Ready,
    Restore,
    Other,
}

impl Kind {
    fn of(step: &Step) -> Kind {
        if step.restore {
            return Kind::Restore;
        }
        let name = step.step.as_str();
        if name.starts_with("drain") {
            Kind::Drain
        } else if name.starts_with("install") {
            Kind::Install
        } else if name.starts_with("health") {
            Kind::Health
        } else if name.starts_with("ready") || name.starts_with("out of rotation") {
            Kind::Ready
        } else {
            Kind::Other
        }
    }

    fn colour(self) -> &'static str {
        match self {
            Kind::Drain => "#e0a030",
            Kind::Install => "#3b7dd8",
            Kind::Health => "#2e9e6a",
            Kind::Ready => "#7bc47f",
            Kind::Restore => "#8a5cc7",
            Kind::Other => "#999999",
        }
    }

    fn name(self) -> &'static str {
        match self {
            Kind::Drain => "drain",
            Kind::Install => "install",
            Kind::Health => "health",
            Kind::Ready => "ready",
            Kind::Restore => "restore",
            Kind::Other => "other",
        }
    }
}

const FAILED_COLOUR: &str = "#d62728";
const RUNNING_COLOUR: &str = "#f2c744";
/// The timeline's width in pixels.
const WIDTH: f64 = 560.0;

/// `text` as it may appear in the page: redacted, control characters dropped, HTML-escaped.
fn esc(text: &str) -> String {
    let text = cdkit::redact::redact(text);
    let mut out = String::with_capacity(text.len() + 8);
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            '\n' | '\t' => out.push(c),
            c if c.is_control() => out.push('\u{FFFD}'),
            c => out.push(c),
        }
    }
    out
}

/// `text` cut after `max` characters.
fn cut(text: &str, max: usize) -> String {
    match text.char_indices().nth(max) {
        Some((at, _)) => format!("{}… [{} characters cut]", &text[..at], text.len() - at),
        None => text.to_string(),
    }
}

/// A host failed when its state says so or any of its steps failed (a failed canary that was
/// restored ends `restored`, and must still stand out).
fn failed(host: &HostRecord) -> bool {
    matches!(
        host.state,
        HostState::Failed | HostState::RestoreFailed | HostState::Unreachable
    ) || host.steps.iter().any(|s| !s.ok)
}

fn state_name(state: HostState) -> &'static str {
    match state {
        HostState::Pending => "pending",
        HostState::InProgress => "in-progress",
        HostState::Installed => "installed",
        HostState::Failed => "failed",
        HostState::Restored => "restored",
        HostState::RestoreFailed => "restore-failed",
        HostState::Unreachable => "unreachable",
    }
}

/// The version a host is on now, as far as the journal knows.
fn version_after(journal: &Journal, host: &HostRecord) -> String {
    let last_install = host
        .steps
        .iter()
        .rev()
        .find(|s| s.step.starts_with("install "));
    let installed = last_install
        .filter(|s| s.ok)
        .map(|s| s.step["install ".len()..].to_string());
    let previous = || {
        host.previous_version
            .clone()
            .unwrap_or_else(|| "not installed".into())
    };
    match host.state {
        HostState::Pending => "not touched".into(),
        HostState::InProgress => "in progress".into(),
        HostState::Installed
            if journal.rollbacks.is_empty() && !host.steps.iter().any(|s| s.restore) =>
        {
            journal.version.clone()
        }
        HostState::Installed | HostState::Restored => installed.unwrap_or_else(previous),
        _ => match last_install {
            Some(s) if !s.ok => "unknown (an install failed)".into(),
            _ => installed.unwrap_or_else(previous),
        },
    }
}

/// A run's time axis: from the run's start to its end (or now).
struct Axis {
    start: i64,
    /// The last thing the journal knows of (or now, on a live page).
    last: i64,
    end: i64,
}

impl Axis {
    /// A live page runs to now; an unfinished record read afterwards gets a tenth more room,
    /// so its hosts in progress show.
    fn of(journal: &Journal, now: i64, live: bool) -> Axis {
        let start = millis(&journal.started).unwrap_or(now);
        let mut end = start;
        for host in &journal.hosts {
            for s in &host.steps {
                if let Some(t) = millis(&s.started) {
                    end = end.max(t + step_ms(s));
                }
            }
        }
        let finished = journal
            .rollbacks
            .iter()
            .map(|r| r.finished.as_deref())
            .chain([journal.finished.as_deref()]);
        for f in finished.flatten() {
            if let Some(t) = millis(f) {
                end = end.max(t);
            }
        }
        if live {
            end = end.max(now);
        }
        let last = end;
        if running(journal) && !live {
            end += (end - start) / 10;
        }
        Axis {
            start,
            last,
            end: end.max(start + 1000),
        }
    }

    fn x(&self, t: i64) -> f64 {
        let span = (self.end - self.start) as f64;
        ((t - self.start) as f64 / span * WIDTH).clamp(0.0, WIDTH)
    }
}

/// Whether the journal's run (or its latest rollback) has not finished.
fn running(journal: &Journal) -> bool {
    match journal.rollbacks.last() {
        Some(r) => r.finished.is_none(),
        None => journal.finished.is_none(),
    }
}

fn duration(ms: i64) -> String {
    let s = ms.max(0) / 1000;
    match s {
        s if s >= 3600 => format!("{}h {:02}m {:02}s", s / 3600, s / 60 % 60, s % 60),
        s if s >= 60 => format!("{}m {:02}s", s / 60, s % 60),
        s => format!("{}.{}s", s, ms.max(0) % 1000 / 100),
    }
}

/// Batches in order (by number; hosts of no batch last), each with its hosts' indexes,
/// failed hosts first, then those in progress, then the rest in inventory order.
fn batches(journal: &Journal) -> Vec<(Option<usize>, Vec<usize>)> {
    let mut numbers: Vec<Option<usize>> = journal.hosts.iter().map(|h| h.batch).collect();
    numbers.sort_by_key(|b| (b.is_none(), *b));
    numbers.dedup();
    numbers
        .into_iter()
        .map(|b| {
            let mut hosts: Vec<usize> = (0..journal.hosts.len())
                .filter(|&i| journal.hosts[i].batch == b)
                .collect();
            hosts.sort_by_key(|&i| {
                let h = &journal.hosts[i];
                (!failed(h), h.state != HostState::InProgress)
            });
            (b, hosts)
        })
        .collect()
}

const STYLE: &str = "\
body{font:14px/1.4 system-ui,-apple-system,'Segoe UI',sans-serif;margin:0 1.5em 2em;color:#222;background:#fafafa}\
h1{font-size:1.3em;margin:.8em 0 .3em}h2{font-size:1.1em;margin:1.2em 0 .4em;border-bottom:1px solid #ccc}\
.summary{font-size:1.05em;padding:.5em .8em;background:#fff;border:1px solid #ccc;border-left:6px solid #2e9e6a}\
.summary.bad{border-left-color:#d62728}.summary.live{border-left-color:#f2c744}\
.counts span{margin-right:1em}.attention{background:#fff3f3;border:1px solid #e8b4b4;padding:.4em .8em}\
.host{background:#fff;border:1px solid #ddd;margin:.25em 0;padding:.3em .6em}\
.host.failed{border-left:6px solid #d62728}.host.in-progress{border-left:6px solid #f2c744;background:#fffbea}\
.row{display:grid;grid-template-columns:minmax(6em,12em) 12em minmax(12em,26em) minmax(280px,560px);align-items:center;gap:.6em}\
svg.timeline{width:100%;height:14px}\
.name{font-weight:600;word-break:break-all}\
.badge{font-size:.8em;padding:0 .4em;border-radius:3px;background:#eee}\
.badge.failed,.badge.restore-failed,.badge.unreachable{background:#d62728;color:#fff}\
.badge.in-progress{background:#f2c744;animation:pulse 1.2s infinite alternate}.badge.canary{background:#333;color:#fff}\
.badge.installed{background:#cdeccf}.badge.restored{background:#e3d7f3}\
@keyframes pulse{from{opacity:1}to{opacity:.45}}\
.versions{color:#555;font-family:ui-monospace,monospace;font-size:.9em}\
pre{white-space:pre-wrap;word-break:break-all;margin:.3em 0;font:12px/1.35 ui-monospace,monospace}\
pre.diag{background:#fff0f0;border:1px solid #e8b4b4;padding:.3em .5em;color:#8b0000}\
details summary{cursor:pointer;color:#345}table{border-collapse:collapse;font-size:.9em}\
td,th{padding:1px 8px;text-align:left;border-bottom:1px solid #eee;vertical-align:top}\
.log{max-height:30em;overflow:auto;background:#f6f6f6;padding:.3em}.svc{color:#6a3d9a}\
.lvl-ERROR,.lvl-ERR,.lvl-CRIT,.lvl-ALERT,.lvl-EMERG{color:#c00}.lvl-WARN,.lvl-WARNING{color:#a60}\
.batch.canary h2{color:#000}.legend svg{vertical-align:middle}.muted{color:#777}";

/// The page of `journal`, with `logs` (the central log's lines of its runs) when given.
/// `live`: the run is still going; the page asks the browser to reload it every 2 seconds.
pub fn render(journal: &Journal, logs: Option<&Logs>, live: bool) -> String {
    let now = chrono::Utc::now().timestamp_millis();
    let axis = Axis::of(journal, now, live);
    let batches = batches(journal);
    let spans: Vec<Option<(i64, i64)>> = batches
        .iter()
        .map(|(_, hosts)| batch_span(journal, hosts))
        .collect();
    // The hosts that failed or are in progress get their lines first, up to three quarters
    // of the log budget, wherever they stand on the page.
    let attention_cost: usize = logs
        .map(|logs| {
            journal
                .hosts
                .iter()
                .filter(|h| failed(h) || h.state == HostState::InProgress)
                .filter_map(|h| logs.hosts.get(&h.name))
                .flat_map(|k| k.head.iter().chain(k.tail.iter()))
                .map(line_cost)
                .sum()
        })
        .unwrap_or(0);
    let attention_log = attention_cost.min(MAX_LOG_BYTES / 4 * 3);
    let mut budget = Budget {
        attention_log,
        quiet_log: MAX_LOG_BYTES - attention_log,
        diagnosis: MAX_DIAGNOSIS_BYTES,
    };
    let mut page = String::with_capacity(64 * 1024 + journal.hosts.len() * 2048);
    let title = format!(
        "{} {} on {} — {}",
        journal.package, journal.version, journal.group, journal.tool
    );
    page.push_str("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">");
    if live {
        page.push_str("<meta http-equiv=\"refresh\" content=\"2\">");
    }
    let _ = writeln!(
        page,
        "<meta name=\"viewport\" content=\"width=device-width\"><title>{}</title><style>{STYLE}</style></head>\n<body>\n<h1>{}</h1>",
        esc(&title),
        esc(&title)
    );
    summary(&mut page, journal, &axis, live);
    attention(&mut page, journal);
    overview(&mut page, &axis, &batches, &spans, journal);
    for ((number, hosts), span) in batches.iter().zip(&spans) {
        let canary = *number == Some(1);
        let _ = writeln!(
            page,
            "<section class=\"batch{}\" data-batch=\"{}\"><h2>{}</h2>",
            if canary { " canary" } else { "" },
            number.map(|n| n.to_string()).unwrap_or_default(),
            match number {
                Some(1) => "Batch 1 — canary".to_string(),
                Some(n) => format!("Batch {n}"),
                None => "Hosts of no batch".to_string(),
            }
        );
        for &i in hosts {
            host_block(&mut page, journal, i, (&axis, *span), logs, &mut budget);
        }
        page.push_str("</section>\n");
    }
    if let Some(logs) = logs {
        let (lines, dropped) = logs.run.lines();
        if !lines.is_empty() {
            page.push_str("<h2>Run log</h2><details><summary>lines of no host</summary>");
            log_panel(&mut page, &lines, dropped, &mut budget.quiet_log);
            page.push_str("</details>\n");
        }
    }
    let _ = writeln!(
        page,
        "<p class=\"muted\">{} run {} · page made {}{}</p>\n</body></html>",
        esc(&journal.tool),
        esc(&journal.run_id),
        esc(&crate::journal::now()),
        if live {
            " · reloads every 2 s while the run goes on"
        } else {
            ""
        }
    );
    page
}

/// What is left of the page's size caps.
struct Budget {
    /// Log text for the hosts that failed or are in progress.
    attention_log: usize,
    /// Log text for the others (and the run's own lines).
    quiet_log: usize,
    diagnosis: usize,
}

/// What a log line costs of the budget: its text and its markup.
fn line_cost(line: &LogLine) -> usize {
    line.message.len().min(MAX_LINE_CHARS * 4) + line.time.len() + 60
}

fn summary(page: &mut String, journal: &Journal, axis: &Axis, live: bool) {
    let mut before: Vec<(String, usize)> = Vec::new();
    for h in journal.hosts.iter().filter(|h| h.recorded) {
        let v = h
            .previous_version
            .clone()
            .unwrap_or_else(|| "not installed".into());
        match before.iter_mut().find(|(b, _)| *b == v) {
            Some((_, n)) => *n += 1,
            None => before.push((v, 1)),
        }
    }
    let before = if before.is_empty() {
        "?".to_string()
    } else if before.len() == 1 {
        before[0].0.clone()
    } else {
        before
            .iter()
            .map(|(v, n)| format!("{v} ({n})"))
            .collect::<Vec<_>>()
            .join(", ")
    };
    let outcome = match (&journal.outcome, live, running(journal)) {
        (_, true, _) => "in progress".to_string(),
        (_, false, true) => "unfinished: still running, or stopped without an outcome".into(),
        (Some(o), false, false) => o.clone(),
        (None, false, false) => "unfinished".into(),
    };
    let bad = journal.hosts.iter().any(failed)
        || journal
            .outcome
            .as_deref()
            .is_some_and(|o| !o.starts_with("success"));
    let took = match (live, running(journal)) {
        (true, _) => "running for",
        (false, true) => "so far",
        (false, false) => "took",
    };
    let _ = write!(
        page,
        "<div class=\"summary{}\" id=\"summary\"><strong>{}</strong> {} → {} · group <strong>{}</strong> · <strong class=\"outcome\">{}</strong> · {} {}<div class=\"counts\">",
        if live { " live" } else if bad { " bad" } else { "" },
        esc(&journal.package),
        esc(&before),
        esc(&journal.version),
        esc(&journal.group),
        esc(&outcome),
        took,
        duration(axis.last - axis.start),
    );
    let _ = write!(page, "<span>{} hosts</span>", journal.hosts.len());
    for state in [
        HostState::Installed,
        HostState::Failed,
        HostState::Restored,
        HostState::RestoreFailed,
        HostState::Unreachable,
        HostState::InProgress,
        HostState::Pending,
    ] {
        let n = journal.hosts.iter().filter(|h| h.state == state).count();
        if n > 0 {
            let _ = write!(
                page,
                " · <span class=\"count-{0}\"><span class=\"badge {0}\">{0}</span> {n}</span>",
                state_name(state)
            );
        }
    }
    page.push_str("</div>");
    for r in &journal.rollbacks {
        let _ = write!(
            page,
            "<div>then {} (run {}): {}</div>",
            esc(&r.tool),
            esc(&r.run_id),
            esc(r.outcome.as_deref().unwrap_or("in progress or unfinished"))
        );
    }
    let _ = writeln!(
        page,
        "<div class=\"muted\">{} run {} started {}{}</div></div>",
        esc(&journal.tool),
        esc(&journal.run_id),
        esc(&journal.started),
        journal
            .finished
            .as_deref()
            .map(|f| format!(", finished {}", esc(f)))
            .unwrap_or_default()
    );
}

/// The failed hosts, each with its failed step's first line, linking to the host.
fn attention(page: &mut String, journal: &Journal) {
    let failing: Vec<usize> = (0..journal.hosts.len())
        .filter(|&i| failed(&journal.hosts[i]))
        .collect();
    if failing.is_empty() {
        return;
    }
    let _ = write!(
        page,
        "<div class=\"attention\" id=\"attention\"><strong>{} host(s) failed</strong><ul>",
        failing.len()
    );
    for i in failing.iter().take(50) {
        let h = &journal.hosts[*i];
        let first = h
            .steps
            .iter()
            .find(|s| !s.ok)
            .map(|s| {
                format!(
                    "{}: {}",
                    s.step,
                    cut(s.detail.lines().next().unwrap_or(""), 200)
                )
            })
            .unwrap_or_default();
        let _ = write!(
            page,
            "<li><a href=\"#host-{i}\">{}</a> ({}{}) {}</li>",
            esc(&h.name),
            state_name(h.state),
            h.batch
                .map(|b| format!(", batch {b}{}", if b == 1 { ", canary" } else { "" }))
                .unwrap_or_default(),
            esc(&first)
        );
    }
    if failing.len() > 50 {
        let _ = write!(page, "<li>and {} more, below</li>", failing.len() - 50);
    }
    page.push_str("</ul></div>\n");
}

/// The batches on the run's time axis, and the legend.
fn overview(
    page: &mut String,
    axis: &Axis,
    batches: &[(Option<usize>, Vec<usize>)],
    spans: &[Option<(i64, i64)>],
    journal: &Journal,
) {
    let rows = batches.len().max(1);
    let height = 22 * rows + 24;
    let _ = write!(
        page,
        "<h2>Timeline</h2><svg class=\"overview\" width=\"{}\" height=\"{height}\" viewBox=\"0 0 {} {height}\" role=\"img\" aria-label=\"batches over time\">",
        WIDTH as usize + 130,
        WIDTH as usize + 130
    );
    for (row, (number, hosts)) in batches.iter().enumerate() {
        let y = 22 * row + 4;
        let span = spans[row];
        let label = match number {
            Some(1) => "1 canary".to_string(),
            Some(n) => n.to_string(),
            None => "-".into(),
        };
        let any_failed = hosts.iter().any(|&i| failed(&journal.hosts[i]));
        let _ = write!(
            page,
            "<text x=\"0\" y=\"{}\" font-size=\"12\">batch {}</text>",
            y + 13,
            esc(&label)
        );
        if let Some((from, to)) = span {
            let x = 120.0 + axis.x(from);
            let w = (axis.x(to) - axis.x(from)).max(2.0);
            let _ = write!(
                page,
                "<rect x=\"{x:.1}\" y=\"{y}\" width=\"{w:.1}\" height=\"16\" fill=\"{}\"><title>batch {}: {} host(s)</title></rect>",
                if any_failed { FAILED_COLOUR } else { "#6b9bd1" },
                esc(&label),
                hosts.len()
            );
        }
    }
    let y = 22 * rows + 18;
    for k in 0..=4 {
        let x = 120.0 + WIDTH * k as f64 / 4.0;
        let t = (axis.end - axis.start) * k / 4;
        let _ = write!(
            page,
            "<line x1=\"{x:.1}\" y1=\"0\" x2=\"{x:.1}\" y2=\"{}\" stroke=\"#ccc\"/><text x=\"{x:.1}\" y=\"{y}\" font-size=\"11\" text-anchor=\"{}\">{}</text>",
            y - 12,
            if k == 4 { "end" } else { "middle" },
            duration(t)
        );
    }
    page.push_str("</svg>\n<div class=\"legend\">");
    for kind in [
        Kind::Drain,
        Kind::Install,
        Kind::Health,
        Kind::Ready,
        Kind::Restore,
    ] {
        let _ = write!(
            page,
            "<svg width=\"14\" height=\"10\"><rect width=\"14\" height=\"10\" fill=\"{}\"/></svg> {} ",
            kind.colour(),
            kind.name()
        );
    }
    let _ = writeln!(
        page,
        "<svg width=\"14\" height=\"10\"><rect width=\"14\" height=\"10\" fill=\"{FAILED_COLOUR}\"/></svg> failed <svg width=\"14\" height=\"10\"><rect width=\"14\" height=\"10\" fill=\"{RUNNING_COLOUR}\"/></svg> in progress</div>"
    );
}

/// When a batch's first step started and its last ended.
fn batch_span(journal: &Journal, hosts: &[usize]) -> Option<(i64, i64)> {
    let mut span: Option<(i64, i64)> = None;
    for &i in hosts {
        for s in journal.hosts[i].steps.iter().filter(|s| !s.restore) {
            let Some(t) = millis(&s.started) else {
                continue;
            };
            let end = t + step_ms(s);
            span = Some(match span {
                Some((a, b)) => (a.min(t), b.max(end)),
                None => (t, end),
            });
        }
    }
    span
}

fn host_block(
    page: &mut String,
    journal: &Journal,
    i: usize,
    (axis, span): (&Axis, Option<(i64, i64)>),
    logs: Option<&Logs>,
    budget: &mut Budget,
) {
    let h = &journal.hosts[i];
    let is_failed = failed(h);
    let in_progress = h.state == HostState::InProgress;
    let class = if is_failed {
        " failed"
    } else if in_progress {
        " in-progress"
    } else {
        ""
    };
    let _ = write!(
        page,
        "<div class=\"host{class}\" id=\"host-{i}\" data-host=\"{}\" data-state=\"{}\"{}>\n<div class=\"row\"><span class=\"name\">{}</span><span class=\"badges\"><span class=\"badge {}\">{}</span>",
        esc(&h.name),
        state_name(h.state),
        if h.batch == Some(1) { " data-canary=\"true\"" } else { "" },
        esc(&h.name),
        state_name(h.state),
        if in_progress { "in progress" } else { state_name(h.state) },
    );
    if h.batch == Some(1) {
        page.push_str("<span class=\"badge canary\">canary</span>");
    }
    if is_failed && !matches!(h.state, HostState::Failed) {
        page.push_str("<span class=\"badge failed\">failed</span>");
    }
    page.push_str("</span>");
    let before = if h.recorded {
        h.previous_version
            .clone()
            .unwrap_or_else(|| "not installed".into())
    } else {
        "?".into()
    };
    let _ = write!(
        page,
        "<span class=\"versions\">{} → {}</span>",
        esc(&before),
        esc(&version_after(journal, h))
    );
    timeline(page, h, (axis, span), running(journal));
    page.push_str("</div>\n");
    for s in h.steps.iter().filter(|s| !s.ok) {
        let detail = if s.detail.is_empty() {
            "(no detail recorded)".to_string()
        } else {
            s.detail.clone()
        };
        let shown: String = detail
            .lines()
            .map(|l| cut(l, MAX_LINE_CHARS))
            .collect::<Vec<_>>()
            .join("\n");
        let shown = if shown.len() > budget.diagnosis {
            cut(&shown, 200)
        } else {
            shown
        };
        budget.diagnosis = budget.diagnosis.saturating_sub(shown.len());
        let _ = writeln!(
            page,
            "<pre class=\"diag\"><strong>FAILED {}{}:</strong> {}</pre>",
            esc(&s.step),
            if s.restore { " (restore)" } else { "" },
            esc(&shown)
        );
    }
    let kept = logs.and_then(|l| l.hosts.get(&h.name));
    let count = kept.map(|k| k.total).unwrap_or(0);
    let _ = write!(
        page,
        "<details{}><summary>steps{}</summary>",
        if is_failed || in_progress {
            " open"
        } else {
            ""
        },
        if logs.is_some() {
            format!(" and log ({count} line(s))")
        } else {
            String::new()
        }
    );
    steps_table(page, h);
    if let Some(kept) = kept {
        let (lines, dropped) = kept.lines();
        let (lines, dropped) = if is_failed || in_progress || lines.len() <= QUIET_HEAD + QUIET_TAIL
        {
            (lines, dropped)
        } else {
            let n = lines.len();
            let shown: Vec<&LogLine> = lines[..QUIET_HEAD]
                .iter()
                .chain(lines[n - QUIET_TAIL..].iter())
                .copied()
                .collect();
            (shown, dropped + n - QUIET_HEAD - QUIET_TAIL)
        };
        let budget = if is_failed || in_progress {
            &mut budget.attention_log
        } else {
            &mut budget.quiet_log
        };
        log_panel(page, &lines, dropped, budget);
    } else if logs.is_some() {
        page.push_str("<p class=\"muted\">no log lines of this host</p>");
    }
    page.push_str("</details></div>\n");
}

/// A host's steps on the shared time axis: one bar per step, the batches' starts as lines.
fn timeline(
    page: &mut String,
    h: &HostRecord,
    (axis, span): (&Axis, Option<(i64, i64)>),
    live_run: bool,
) {
    let _ = write!(
        page,
        "<svg class=\"timeline\" width=\"{w}\" height=\"14\" viewBox=\"0 0 {w} 14\" preserveAspectRatio=\"none\" role=\"img\" aria-label=\"steps over time\"><rect width=\"{w}\" height=\"14\" fill=\"#f0f0f0\"/>",
        w = WIDTH as usize
    );
    // Its batch's boundaries (every batch's are on the overview above).
    for t in span.iter().flat_map(|(from, to)| [*from, *to]) {
        let x = axis.x(t);
        let _ = write!(
            page,
            "<line x1=\"{x:.1}\" y1=\"0\" x2=\"{x:.1}\" y2=\"14\" stroke=\"#999\" stroke-dasharray=\"2,2\"/>"
        );
    }
    let mut last_end = None;
    for s in &h.steps {
        let Some(t) = millis(&s.started) else {
            continue;
        };
        let end = t + step_ms(s);
        last_end = Some(end);
        let x = axis.x(t);
        let w = (axis.x(end) - x).max(2.0);
        let fill = if s.ok {
            Kind::of(s).colour()
        } else {
            FAILED_COLOUR
        };
        let _ = write!(
            page,
            "<rect x=\"{x:.1}\" y=\"1\" width=\"{w:.1}\" height=\"12\" fill=\"{fill}\"><title>{}{}: {:.1} s{}</title></rect>",
            esc(&s.step),
            if s.restore { " (restore)" } else { "" },
            s.seconds,
            if s.ok { "" } else { " FAILED" }
        );
    }
    if h.state == HostState::InProgress && live_run {
        let from = last_end.unwrap_or(axis.start);
        let x = axis.x(from);
        let w = (WIDTH - x).max(3.0);
        let _ = write!(
            page,
            "<rect x=\"{x:.1}\" y=\"1\" width=\"{w:.1}\" height=\"12\" fill=\"{RUNNING_COLOUR}\" class=\"running\"><title>in progress</title></rect>"
        );
    }
    page.push_str("</svg>");
}

fn steps_table(page: &mut String, h: &HostRecord) {
    if h.steps.is_empty() {
        page.push_str("<p class=\"muted\">no steps</p>");
        return;
    }
    page.push_str("<table><tr><th>step</th><th>started</th><th>took</th><th>result</th></tr>");
    for s in &h.steps {
        let _ = write!(
            page,
            "<tr><td>{}{}</td><td>{}</td><td>{:.1} s</td><td>{}</td></tr>",
            esc(&s.step),
            if s.restore { " (restore)" } else { "" },
            esc(&s.started),
            s.seconds,
            if s.ok {
                "ok"
            } else {
                "<strong>FAILED</strong>"
            }
        );
    }
    page.push_str("</table>");
}

fn log_panel(page: &mut String, lines: &[&LogLine], dropped: usize, budget: &mut usize) {
    page.push_str("<pre class=\"log\">");
    let mut shown = 0;
    for line in lines {
        let cost = line_cost(line);
        if cost > *budget {
            break;
        }
        *budget -= cost;
        let message = cut(&line.message, MAX_LINE_CHARS);
        shown += 1;
        let who = match &line.service {
            Some(unit) => format!("<span class=\"svc\">{}</span>", esc(unit)),
            None => esc(&line.tool),
        };
        let _ = writeln!(
            page,
            "<span class=\"lvl-{}\">{} {:<5}</span> {} {}",
            esc(&line.level).replace(|c: char| !c.is_ascii_alphanumeric(), ""),
            esc(&line.time),
            esc(&line.level),
            who,
            esc(&message)
        );
    }
    let left = dropped + lines.len() - shown;
    if left > 0 {
        let _ = write!(
            page,
            "<span class=\"muted\">… {left} line(s) not shown here (size cap): the central log has them all</span>"
        );
    }
    page.push_str("</pre>");
}

#[cfg(test)]
mod tests {
    use super::*;

    fn step(name: &str, started: &str, ok: bool, detail: &str) -> Step {
        Step {
            step: name.into(),
            started: started.into(),
            seconds: 2.5,
            ok,
            detail: detail.into(),
            restore: false,
        }
    }

    /// `hosts` hosts in batches of 1, then 20 each; every tenth failed its health check with a
    /// long diagnosis; `lines` log lines per host, long ones.
    fn fleet(hosts: usize, lines: usize) -> (Journal, Logs) {
        let records = (0..hosts)
            .map(|i| {
                let t = format!("2026-12-07T10:{:02}:{:02}.000Z", i / 60 % 60, i % 60);
                let failed = i % 10 == 3;
                HostRecord {
                    name: format!("web{i:03}.prod.example.com"),
                    address: format!("10.0.{}.{}", i / 250, i % 250),
                    previous_version: Some("1.4.1-1".into()),
                    recorded: true,
                    state: if failed {
                        HostState::Restored
                    } else {
                        HostState::Installed
                    },
                    drained: vec![],
                    steps: vec![
                        step("drain haproxy:lb1", &t, true, ""),
                        step("install 2.0-1", &t, true, ""),
                        step("health", &t, !failed, &"unit failed: x\n".repeat(60)),
                        step("ready haproxy:lb1", &t, true, ""),
                    ],
                    port: None,
                    user: None,
                    server: None,
                    batch: Some(if i == 0 { 1 } else { 2 + (i - 1) / 20 }),
                }
            })
            .collect();
        let journal = Journal {
            tool: "rolling-install".into(),
            run_id: "r1".into(),
            package: "hello-service".into(),
            version: "2.0-1".into(),
            group: "production".into(),
            started: "2026-12-07T10:00:00.000Z".into(),
            finished: Some("2026-12-07T10:30:00.000Z".into()),
            outcome: Some("failed (exit 1)".into()),
            hosts: records,
            balancers: vec![],
            lock_host: None,
            rollbacks: vec![],
        };
        let mut logs = Logs::for_journal(&journal);
        for h in &journal.hosts {
            for n in 0..lines {
                let line = serde_json::json!({
                    "timestamp": "2026-12-07T10:00:01.000Z", "level": "INFO",
                    "tool": "rolling-install", "run_id": "r1", "host": h.name,
                    "message": format!("line {n}: {}", "x".repeat(150)),
                });
                logs.push_line(&line.to_string()).unwrap();
            }
        }
        (journal, logs)
    }

    #[test]
    fn a_400_host_page_stays_under_the_documented_cap() {
        let (journal, logs) = fleet(400, 200);
        let html = render(&journal, Some(&logs), false);
        assert!(
            html.len() < SIZE_CAP_400_HOSTS,
            "{} bytes (cap {SIZE_CAP_400_HOSTS})",
            html.len()
        );
        // Every host is on it, and the caps were what kept it small.
        for h in &journal.hosts {
            assert!(
                html.contains(&format!("data-host=\"{}\"", h.name)),
                "{}",
                h.name
            );
        }
        assert!(html.contains("not shown here (size cap)"));
    }

    #[test]
    fn hostile_text_is_escaped_and_secrets_redacted() {
        cdkit::redact::register_secret("hunter2-page-secret");
        let (mut journal, mut logs) = fleet(2, 1);
        journal.hosts[0].name = "<img src=x onerror=alert(1)>".into();
        journal.hosts[1].steps[2].ok = false;
        journal.hosts[1].steps[2].detail =
            "GET http://deploy:s3cret-pw@10.0.0.1/health: password hunter2-page-secret".into();
        let line = serde_json::json!({
            "timestamp": "2026-12-07T10:00:02.000Z", "level": "INFO", "tool": "rolling-install",
            "run_id": "r1", "host": journal.hosts[1].name, "source": "service",
            "unit": "a\"><script>x</script>", "priority": 3,
            "message": "</pre><script>alert(1)</script> token hunter2-page-secret",
        });
        logs.push_line(&line.to_string()).unwrap();
        let html = render(&journal, Some(&logs), false);
        assert!(!html.contains("<img"));
        assert!(html.contains("&lt;img src=x onerror=alert(1)&gt;"));
        assert!(!html.contains("<script"));
        assert!(html.contains("&lt;/pre&gt;&lt;script&gt;alert(1)&lt;/script&gt;"));
        assert!(!html.contains("hunter2-page-secret"));
        assert!(!html.contains("s3cret-pw"));
        assert!(!html.contains("http-equiv"));
        assert!(render(&journal, Some(&logs), true)
            .contains("<meta http-equiv=\"refresh\" content=\"2\">"));
    }

    /// A record is untrusted: absurd durations and times draw, they do not overflow.
    #[test]
    fn absurd_times_render() {
        let (mut journal, _) = fleet(3, 0);
        journal.hosts[0].steps[0].seconds = 1e300;
        journal.hosts[1].steps[0].seconds = -5.0;
        journal.hosts[1].steps[1].started = "9999-12-31T23:59:59Z".into();
        journal.hosts[2].steps[0].started = "0001-01-01T00:00:00Z".into();
        journal.hosts[2].steps[1].started = "yesterday".into();
        journal.started = "not a time".into();
        journal.finished = None;
        for live in [false, true] {
            let html = render(&journal, None, live);
            assert!(html.contains("data-host=\"web002.prod.example.com\""));
        }
    }

    #[test]
    fn other_runs_lines_are_left_out_and_bad_lines_refused() {
        let (journal, _) = fleet(1, 0);
        let mut logs = Logs::for_journal(&journal);
        logs.push_line(r#"{"run_id":"other","host":"web000.prod.example.com","message":"no"}"#)
            .unwrap();
        logs.push_line("").unwrap();
        // The pipeline's run id, but another tool's line, or an earlier rollout's.
        logs.push_line(r#"{"run_id":"r1","tool":"build-deb","timestamp":"2026-12-07T10:00:05Z","host":"web000.prod.example.com","message":"no"}"#)
            .unwrap();
        logs.push_line(r#"{"run_id":"r1","tool":"rolling-install","timestamp":"2026-12-07T09:10:00Z","host":"web000.prod.example.com","message":"no"}"#)
            .unwrap();
        logs.push_line(r#"{"run_id":"r1","tool":"rolling-install","timestamp":"2026-12-07T10:31:00Z","host":"web000.prod.example.com","message":"no"}"#)
            .unwrap();
        assert!(logs.hosts.is_empty());
        logs.push_line(r#"{"run_id":"r1","tool":"rolling-install","timestamp":"2026-12-07T10:29:00Z","host":"web000.prod.example.com","message":"yes"}"#)
            .unwrap();
        assert_eq!(logs.hosts.len(), 1);
        assert!(logs.push_line("not json").is_err());
        assert!(logs.push_line("[1,2]").is_err());
    }

    #[test]
    fn the_live_page_reads_only_complete_new_lines() {
        let dir = tempfile::tempdir().unwrap();
        let (journal, _) = fleet(1, 0);
        let log = dir.path().join("central.log");
        let out = dir.path().join("live.html");
        let line = |n: usize| {
            serde_json::json!({"timestamp": "2026-12-07T10:00:01.000Z", "level": "INFO",
                "run_id": "r1", "tool": "rolling-install", "host": "web000.prod.example.com",
                "message": format!("LINE-{n}")})
            .to_string()
        };
        let half = line(2);
        std::fs::write(&log, format!("{}\n{}", line(1), &half[..10])).unwrap();
        let mut live = Live::new(out.clone(), Some(log.clone()));
        live.update(&journal, true);
        let html = std::fs::read_to_string(&out).unwrap();
        assert!(html.contains("LINE-1") && !html.contains("LINE-2"));
        assert!(html.contains("http-equiv=\"refresh\""));
        assert!(!live.due_after(LIVE_INTERVAL));
        std::fs::write(&log, format!("{}\n{}\n", line(1), half)).unwrap();
        live.update(&journal, false);
        let html = std::fs::read_to_string(&out).unwrap();
        assert_eq!(html.matches("LINE-1").count(), 1);
        assert!(html.contains("LINE-2"));
        assert!(!html.contains("http-equiv=\"refresh\""));
    }
}
