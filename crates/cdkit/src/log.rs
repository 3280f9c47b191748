//! Logging (docs/contract.md: Common flags, Logs, Central logging): tracing events rendered as human-readable lines or as one JSON
//! object per line, every line carrying the tool and the pipeline's `run_id`, with secrets
//! redacted before anything is written.
//!
//! Span fields (`host`, `step`, `package`, …) are inherited by the events inside the span, so
//! the output of a remote command logged inside `info_span!("install", host = "web07")` is
//! found in the central log by host.
//!
//! Besides stderr, every line can also go to a file of JSON lines (`--log-file`, appended, so
//! the tools of one pipeline run can share one file) and to a syslog collector (`--syslog`,
//! see [`crate::syslog`]), where a streamed line's host becomes the record's HOSTNAME.

use std::fmt::Write as _;
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Mutex, OnceLock};
use std::time::Duration;

use serde_json::{Map, Value};
use tracing::field::{Field, Visit};
use tracing::span::{Attributes, Id, Record};
use tracing::{Event, Level, Subscriber};
use tracing_subscriber::layer::{Context, SubscriberExt};
use tracing_subscriber::registry::LookupSpan;
use tracing_subscriber::util::SubscriberInitExt;
use tracing_subscriber::{EnvFilter, Layer};

use crate::console;
use crate::syslog;
use crate::text::sanitize;

/// Environment variable holding an EnvFilter string (e.g. `info,cdkit=debug`).
pub const FILTER_ENV: &str = "CDKIT_LOG";
/// Environment variable selecting the format when `--log-format` is not given.
pub const FORMAT_ENV: &str = "CDKIT_LOG_FORMAT";
/// Environment variable for `--log-file`.
pub const FILE_ENV: &str = "CDKIT_LOG_FILE";

/// The tracing target of lines meant for the central log (`--log-file`, `--syslog`, a JSON
/// console) but not for a person's text console: a service's own journal, collected from every
/// host of a rollout, would bury the run's progress in a Jenkins console.
pub const CENTRAL: &str = "central";

/// How log lines are rendered.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum LogFormat {
    /// `2026-11-26T08:00:00.123Z  INFO run-tests: message host=web07`
    Text,
    /// `{"timestamp":…,"level":"INFO","tool":…,"run_id":…,"message":…}`
    Json,
}

/// Why logging could not be set up.
#[derive(Debug, thiserror::Error)]
pub enum LogError {
    /// `CDKIT_LOG` is not an EnvFilter string; refused rather than ignored, so a typo does
    /// not silently hide the debug lines someone asked for.
    #[error("invalid {FILTER_ENV} filter {filter:?}: {reason}")]
    Filter {
        /// The filter as given.
        filter: String,
        /// tracing-subscriber's reason.
        reason: String,
    },
    /// `init` ran twice in one process (a programming error, not a user's).
    #[error("logging was already initialised")]
    AlreadyInitialised,
    /// `--log-file` cannot be opened for appending.
    #[error("cannot open the log file {}: {source}", path.display())]
    File {
        /// The log file as given.
        path: PathBuf,
        /// What the system said.
        source: std::io::Error,
    },
}

/// Everything `init` needs.
#[derive(Debug, Clone)]
pub struct LogConfig {
    /// The tool's name, written into every line (`tool=`) so mixed logs can be split.
    pub tool: &'static str,
    /// Text for people, JSON lines for log shippers.
    pub format: LogFormat,
    /// `-v` count minus `-q` count: 0 = info, 1 = debug, 2+ = trace, -1 = warn, -2 = error.
    /// It sets the console's level; the log file and syslog get at least info, so a quiet
    /// console (a short Jenkins log) never thins the central log.
    pub verbosity: i8,
    /// An EnvFilter string; overrides `verbosity` (from `CDKIT_LOG`).
    pub filter: Option<String>,
    /// Also append every line as JSON to this file.
    pub file: Option<PathBuf>,
    /// Also send every line to this syslog collector.
    pub syslog: Option<syslog::Target>,
}

static FORMAT: OnceLock<LogFormat> = OnceLock::new();
static TOOL: OnceLock<&'static str> = OnceLock::new();
static SYSLOG: OnceLock<syslog::Sender> = OnceLock::new();

/// The format logging was set up with (text before `init`).
pub fn format() -> LogFormat {
    FORMAT.get().copied().unwrap_or(LogFormat::Text)
}

/// Install the global subscriber; call once, first thing in `main`.
pub fn init(config: LogConfig) -> Result<(), LogError> {
    let filter = match &config.filter {
        Some(f) if !f.trim().is_empty() => EnvFilter::try_new(f).map_err(|e| LogError::Filter {
            filter: f.clone(),
            reason: e.to_string(),
        })?,
        // -q and -v are about the console (see `LineLayer::console`); the central sinks
        // get at least info, and lines meant only for the central log (which the text
        // console never shows) go there at every verbosity.
        _ => EnvFilter::new(format!(
            "{},{CENTRAL}=trace",
            level_for(config.verbosity.max(0))
                .as_str()
                .to_ascii_lowercase()
        )),
    };
    let console = match &config.filter {
        Some(f) if !f.trim().is_empty() => None,
        _ => Some(level_for(config.verbosity)),
    };
    let file = match &config.file {
        Some(path) => Some(open_log_file(path)?),
        None => None,
    };
    let _ = FORMAT.set(config.format);
    let _ = TOOL.set(config.tool);
    let syslog = config
        .syslog
        .map(|target| SYSLOG.get_or_init(|| syslog::Sender::new(target, notice)));
    tracing_subscriber::registry()
        .with(LineLayer {
            tool: config.tool,
            console,
            format: config.format,
            file: file.map(|f| LogFile {
                file: Mutex::new(f),
                failed: AtomicBool::new(false),
            }),
            syslog,
        })
        .with(filter)
        .try_init()
        .map_err(|_| LogError::AlreadyInitialised)
}

/// Open `path` for appending (created if need be): O_APPEND makes each line's single write land
/// whole at the end, also when several tools of one run share the file. Never through a
/// symbolic link or into another user's file (see [`crate::own_file`]).
fn open_log_file(path: &Path) -> Result<std::fs::File, LogError> {
    crate::own_file::append(path).map_err(|source| LogError::File {
        path: path.to_path_buf(),
        source,
    })
}

/// The end of a run: wait a little (at most 3 s) for syslog records still queued, and say on
/// stderr how many never reached the collector. Called by [`crate::cli::run_tool`].
pub fn finish() {
    if let Some(sender) = SYSLOG.get() {
        let dropped = sender.finish(Duration::from_secs(3));
        if dropped > 0 {
            notice(&format!(
                "{dropped} log line(s) did not reach the syslog collector {}",
                sender.target()
            ));
        }
    }
}

/// A line about logging itself, on stderr only and in the chosen format (never through
/// tracing: a failing sink must not feed itself).
fn notice(message: &str) {
    let tool = TOOL.get().copied().unwrap_or("cdkit");
    let line = match format() {
        LogFormat::Json => render_json(tool, &Level::WARN, message, &[]),
        LogFormat::Text => format!("{tool}: warning: {message}"),
    };
    console::write_line(&line);
}

/// This machine's name, for lines that did not come from another host.
fn local_hostname() -> &'static str {
    static NAME: OnceLock<String> = OnceLock::new();
    NAME.get_or_init(|| {
        nix::unistd::gethostname()
            .ok()
            .and_then(|n| n.into_string().ok())
            .filter(|n| !n.is_empty())
            .unwrap_or_else(|| "localhost".into())
    })
}

fn level_for(verbosity: i8) -> Level {
    match verbosity {
        i8::MIN..=-2 => Level::ERROR,
        -1 => Level::WARN,
        0 => Level::INFO,
        1 => Level::DEBUG,
        _ => Level::TRACE,
    }
}

/// Fields recorded on a span, kept in the span's extensions for its events to inherit.
struct SpanFields(Vec<(&'static str, Value)>);

/// Collects an event's or span's fields as JSON values.
#[derive(Default)]
struct FieldCollector {
    message: Option<String>,
    fields: Vec<(&'static str, Value)>,
}

impl Visit for FieldCollector {
    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        self.put(field, Value::String(format!("{value:?}")));
    }
    fn record_str(&mut self, field: &Field, value: &str) {
        self.put(field, Value::String(value.to_string()));
    }
    fn record_i64(&mut self, field: &Field, value: i64) {
        self.put(field, Value::from(value));
    }
    fn record_u64(&mut self, field: &Field, value: u64) {
        self.put(field, Value::from(value));
    }
    fn record_bool(&mut self, field: &Field, value: bool) {
        self.put(field, Value::from(value));
    }
    fn record_f64(&mut self, field: &Field, value: f64) {
        self.put(field, Value::from(value));
    }
}

impl FieldCollector {
    fn put(&mut self, field: &Field, value: Value) {
        if field.name() == "message" {
            self.message = Some(match value {
                Value::String(s) => s,
                other => other.to_string(),
            });
        } else {
            self.fields.retain(|(name, _)| *name != field.name());
            self.fields.push((field.name(), value));
        }
    }
}

/// The layer that renders every event as one line, for each sink.
struct LineLayer {
    tool: &'static str,
    /// The most detailed level the console shows (`-v`/`-q`; `None`: whatever the filter
    /// lets through). Plain progress lines show at every level: asked for with
    /// `--progress`, they are what a quiet console is for.
    console: Option<Level>,
    format: LogFormat,
    file: Option<LogFile>,
    syslog: Option<&'static syslog::Sender>,
}

/// `--log-file`: JSON lines appended; a write error is said once, then the file is skipped.
struct LogFile {
    file: Mutex<std::fs::File>,
    failed: AtomicBool,
}

impl LogFile {
    fn write_line(&self, line: &str) {
        if self.failed.load(Ordering::Relaxed) {
            return;
        }
        let line = &*crate::redact::redact(line);
        let mut buf = Vec::with_capacity(line.len() + 1);
        buf.extend_from_slice(line.as_bytes());
        buf.push(b'\n');
        let result = match self.file.lock() {
            Ok(mut file) => file.write_all(&buf),
            Err(_) => Ok(()),
        };
        if let Err(e) = result {
            if !self.failed.swap(true, Ordering::Relaxed) {
                notice(&format!(
                    "cannot write the log file: {e}; it gets no more lines"
                ));
            }
        }
    }
}

/// Keys the record itself owns; a field with one of these names is renamed, not lost.
const RESERVED: [&str; 5] = ["timestamp", "level", "tool", "run_id", "message"];

impl<S> Layer<S> for LineLayer
where
    S: Subscriber + for<'a> LookupSpan<'a>,
{
    fn on_new_span(&self, attrs: &Attributes<'_>, id: &Id, ctx: Context<'_, S>) {
        let mut collector = FieldCollector::default();
        attrs.record(&mut collector);
        if let Some(span) = ctx.span(id) {
            span.extensions_mut().insert(SpanFields(collector.fields));
        }
    }

    fn on_record(&self, id: &Id, values: &Record<'_>, ctx: Context<'_, S>) {
        let Some(span) = ctx.span(id) else { return };
        let mut collector = FieldCollector::default();
        values.record(&mut collector);
        let mut ext = span.extensions_mut();
        if let Some(existing) = ext.get_mut::<SpanFields>() {
            for (name, value) in collector.fields {
                existing.0.retain(|(n, _)| *n != name);
                existing.0.push((name, value));
            }
        }
    }

    fn on_event(&self, event: &Event<'_>, ctx: Context<'_, S>) {
        let mut collector = FieldCollector::default();
        event.record(&mut collector);
        // Outer spans first so inner spans and the event itself win on a name clash.
        let mut fields: Vec<(&'static str, Value)> = Vec::new();
        if let Some(scope) = ctx.event_scope(event) {
            for span in scope.from_root() {
                if let Some(span_fields) = span.extensions().get::<SpanFields>() {
                    merge(&mut fields, &span_fields.0);
                }
            }
        }
        merge(&mut fields, &collector.fields);
        let message = collector.message.unwrap_or_default();
        let level = event.metadata().level();
        let ts = timestamp();
        let json = (self.format == LogFormat::Json || self.file.is_some())
            .then(|| render_json_at(&ts, self.tool, level, &message, &fields));
        let central_only = event.metadata().target() == CENTRAL;
        let progress = fields
            .iter()
            .any(|(name, value)| *name == "progress" && *value == Value::Bool(true));
        let shown = progress || self.console.is_none_or(|most| *level <= most);
        match (&json, self.format) {
            _ if !shown => {}
            (Some(json), LogFormat::Json) => console::write_line(json),
            _ if central_only => {}
            _ => console::write_line(&render_text_at(&ts, self.tool, level, &message, &fields)),
        }
        if let (Some(file), Some(json)) = (&self.file, &json) {
            file.write_line(json);
        }
        if let Some(sender) = self.syslog {
            sender.send(&render_syslog(&ts, self.tool, level, &message, &fields));
        }
    }
}

/// The RFC 5424 record of one line: HOSTNAME and the `host` parameter are the line's `host`
/// field (the remote machine a streamed line came from) or this machine; the structured data
/// carries run_id, tool and every span and event field.
fn render_syslog(
    ts: &str,
    tool: &'static str,
    level: &Level,
    message: &str,
    fields: &[(&'static str, Value)],
) -> String {
    let host = fields
        .iter()
        .find(|(name, _)| *name == "host")
        .map(|(_, value)| match value {
            Value::String(s) => sanitize(s),
            other => other.to_string(),
        })
        .unwrap_or_else(|| local_hostname().to_string());
    let mut params: Vec<(&str, String)> = Vec::with_capacity(fields.len() + 3);
    params.push(("run_id", crate::run_id::get().to_string()));
    params.push(("tool", tool.to_string()));
    params.push(("host", host.clone()));
    for (name, value) in fields {
        let value = match value {
            Value::String(s) => sanitize(s),
            other => other.to_string(),
        };
        match *name {
            "host" => {}
            "run_id" => params.push(("field_run_id", value)),
            "tool" => params.push(("field_tool", value)),
            name => params.push((name, value)),
        }
    }
    syslog::format(&syslog::Record {
        severity: syslog::severity(level),
        timestamp: ts,
        hostname: &host,
        app_name: tool,
        procid: std::process::id(),
        params: &params,
        message: &sanitize(message),
    })
}

fn merge(into: &mut Vec<(&'static str, Value)>, from: &[(&'static str, Value)]) {
    for (name, value) in from {
        into.retain(|(n, _)| n != name);
        into.push((name, value.clone()));
    }
}

/// RFC 3339 UTC with milliseconds. The date-and-time part is formatted once per second (per
/// thread): a chatty child process logs thousands of lines a second.
fn timestamp() -> String {
    use std::cell::RefCell;
    thread_local! {
        static PREFIX: RefCell<(i64, String)> = const { RefCell::new((i64::MIN, String::new())) };
    }
    let now = chrono::Utc::now();
    let secs = now.timestamp();
    let millis = now.timestamp_subsec_millis().min(999);
    PREFIX.with(|cache| {
        let mut cache = cache.borrow_mut();
        if cache.0 != secs {
            *cache = (secs, now.format("%Y-%m-%dT%H:%M:%S").to_string());
        }
        let mut out = String::with_capacity(24);
        out.push_str(&cache.1);
        let _ = write!(out, ".{millis:03}Z");
        out
    })
}

/// One JSON object: the contract's keys first, then every span and event field.
fn render_json(
    tool: &str,
    level: &Level,
    message: &str,
    fields: &[(&'static str, Value)],
) -> String {
    render_json_at(&timestamp(), tool, level, message, fields)
}

fn render_json_at(
    ts: &str,
    tool: &str,
    level: &Level,
    message: &str,
    fields: &[(&'static str, Value)],
) -> String {
    let mut object = Map::new();
    object.insert("timestamp".into(), Value::String(ts.to_string()));
    object.insert("level".into(), Value::String(level.as_str().into()));
    object.insert("tool".into(), Value::String(tool.into()));
    object.insert("run_id".into(), Value::String(crate::run_id::get().into()));
    object.insert("message".into(), Value::String(sanitize(message)));
    for (name, value) in fields {
        let key = if RESERVED.contains(name) {
            format!("field_{name}")
        } else {
            (*name).to_string()
        };
        object.insert(key, sanitize_value(value));
    }
    Value::Object(object).to_string()
}

fn sanitize_value(value: &Value) -> Value {
    match value {
        Value::String(s) => Value::String(sanitize(s)),
        other => other.clone(),
    }
}

/// `TIMESTAMP LEVEL tool: message key=value …` for people reading a console.
#[cfg(test)]
fn render_text(
    tool: &str,
    level: &Level,
    message: &str,
    fields: &[(&'static str, Value)],
) -> String {
    render_text_at(&timestamp(), tool, level, message, fields)
}

fn render_text_at(
    ts: &str,
    tool: &str,
    level: &Level,
    message: &str,
    fields: &[(&'static str, Value)],
) -> String {
    let level = level.as_str();
    let mut line = String::with_capacity(64 + message.len());
    line.push_str(ts);
    line.push(' ');
    line.push_str(&" ".repeat(5usize.saturating_sub(level.len())));
    line.push_str(level);
    line.push(' ');
    line.push_str(tool);
    line.push_str(": ");
    line.push_str(&sanitize(message));
    for (name, value) in fields {
        line.push(' ');
        line.push_str(name);
        line.push('=');
        match value {
            Value::String(s) => line.push_str(&sanitize(s)),
            other => {
                let _ = write!(line, "{other}");
            }
        }
    }
    line
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_lines_carry_the_contract_keys_and_fields() {
        let fields = vec![
            ("host", Value::String("web07".into())),
            ("message", Value::String("clash".into())),
            ("attempt", Value::from(2)),
        ];
        let line = render_json(
            "run-tests",
            &Level::INFO,
            "connect postgres://u:pw@db/x",
            &fields,
        );
        let parsed: Value = serde_json::from_str(&line).unwrap();
        assert_eq!(parsed["tool"], "run-tests");
        assert_eq!(parsed["level"], "INFO");
        assert_eq!(parsed["host"], "web07");
        assert_eq!(parsed["attempt"], 2);
        assert_eq!(parsed["field_message"], "clash");
        assert_eq!(parsed["message"], "connect postgres://u:***@db/x");
        assert!(parsed["run_id"].as_str().is_some_and(|s| !s.is_empty()));
        assert!(parsed["timestamp"]
            .as_str()
            .is_some_and(|s| s.ends_with('Z')));
    }

    #[test]
    fn text_lines_are_one_line_with_fields() {
        let fields = vec![("step", Value::String("install".into()))];
        let line = render_text("rollback", &Level::WARN, "slow", &fields);
        assert!(
            line.ends_with(" WARN rollback: slow step=install"),
            "{line}"
        );
    }

    #[test]
    fn syslog_records_carry_the_lines_host_and_every_field() {
        let fields = vec![
            ("host", Value::String("web07".into())),
            ("step", Value::String("install".into())),
            ("tool", Value::String("clash".into())),
            ("attempt", Value::from(2)),
        ];
        let record = render_syslog(
            "2026-11-26T08:00:00.123Z",
            "rolling-install",
            &Level::WARN,
            "Setting up hello-service",
            &fields,
        );
        let expected_start = format!(
            "<12>1 2026-11-26T08:00:00.123Z web07 rolling-install {} - [cdkit@32473 run_id=\"{}\" tool=\"rolling-install\" host=\"web07\" step=\"install\" field_tool=\"clash\" attempt=\"2\"] Setting up hello-service",
            std::process::id(),
            crate::run_id::get()
        );
        assert_eq!(record, expected_start);
        // A line of the tool itself carries this machine's name.
        let own = render_syslog(
            "2026-11-26T08:00:00.123Z",
            "run-tests",
            &Level::INFO,
            "x",
            &[],
        );
        let host = local_hostname();
        assert!(own.contains(&format!(" {host} run-tests ")), "{own}");
        assert!(own.contains(&format!("host=\"{host}\"")), "{own}");
    }

    #[test]
    fn verbosity_maps_to_levels() {
        assert_eq!(level_for(0), Level::INFO);
        assert_eq!(level_for(1), Level::DEBUG);
        assert_eq!(level_for(5), Level::TRACE);
        assert_eq!(level_for(-1), Level::WARN);
        assert_eq!(level_for(-3), Level::ERROR);
    }
}
