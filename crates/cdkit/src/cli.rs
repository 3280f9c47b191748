//! What every tool's command line shares: the common flags (flattened into each tool's clap
//! parser), start-up (logging, signals) and the single place where an outcome becomes an exit
//! status and a one-line error.

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Duration;

use crate::exit::Exit;
use crate::log::{self, LogConfig};
use crate::progress::ProgressMode;

// The types of the common flags' values, named here because logging and syslog are private
// modules: tools only ever meet them through [`CommonArgs`].
pub use crate::log::{LogError, LogFormat, CENTRAL};
pub use crate::syslog::Target as SyslogTarget;

/// Flags every tool accepts, each with its environment variable.
#[derive(Debug, Clone, clap::Args)]
pub struct CommonArgs {
    /// Write a JUnit XML report here (atomically, also on failure).
    #[arg(long, env = crate::junit::ENV, value_name = "PATH", global = true)]
    pub junit: Option<PathBuf>,

    /// Log line format on stderr.
    #[arg(long, env = log::FORMAT_ENV, value_enum, default_value = "text", global = true)]
    pub log_format: LogFormat,

    /// Also append every log line as JSON to this file.
    #[arg(long, env = log::FILE_ENV, value_name = "PATH", global = true)]
    pub log_file: Option<PathBuf>,

    /// Also send every log line to a syslog collector (RFC 5424): udp://HOST:PORT, tcp://HOST:PORT
    /// or tls://HOST:PORT[?ca=FILE] (RFC 5425).
    #[arg(long, env = crate::syslog::ENV, value_name = "URL", global = true)]
    pub syslog: Option<SyslogTarget>,

    /// Progress display: bars on a terminal, plain lines in CI.
    #[arg(
        long,
        env = "CDKIT_PROGRESS",
        value_enum,
        default_value = "auto",
        global = true
    )]
    pub progress: ProgressMode,

    /// More log detail (repeat for more).
    #[arg(short, long, action = clap::ArgAction::Count, global = true)]
    pub verbose: u8,

    /// Less log detail (repeat for less).
    #[arg(short, long, action = clap::ArgAction::Count, global = true)]
    pub quiet: u8,
}

impl CommonArgs {
    /// Set up logging and signal handling for `tool`; the first thing a tool's `main` does.
    pub fn start(&self, tool: &'static str) -> Result<(), StartError> {
        let verbosity = (self.verbose.min(100) as i8) - (self.quiet.min(100) as i8);
        log::init(LogConfig {
            tool,
            format: self.log_format,
            verbosity,
            filter: std::env::var(log::FILTER_ENV).ok(),
            file: self.log_file.clone(),
            syslog: self.syslog.clone(),
        })?;
        crate::signals::install().map_err(StartError::Signals)?;
        Ok(())
    }
}

/// The hidden first argument with which a tool writes its man pages and shell completions
/// into a package staging directory (`TOOL --cdkit-write-docs STAGE`), for
/// `scripts/package-cdkit`. An argument, not an environment variable: a variable left set in a
/// CI job would silently turn every tool into a no-op.
pub const WRITE_DOCS: &str = "--cdkit-write-docs";

/// `P::parse()`, plus [`WRITE_DOCS`]: what every tool's `main` calls to read its command line,
/// so the Debian package's man pages and completions come from the same clap definition.
pub fn parse<P: clap::Parser>() -> P {
    let mut args = std::env::args_os().skip(1);
    if args.next().as_deref() == Some(std::ffi::OsStr::new(WRITE_DOCS)) {
        let command = P::command();
        let tool = command.get_name().to_string();
        let code = match (args.next(), args.next()) {
            (Some(stage), None) => {
                match crate::docs::write(command, std::path::Path::new(&stage)) {
                    Ok(written) => {
                        use std::io::Write as _;
                        let mut out = std::io::stdout().lock();
                        for path in written {
                            // A closed stdout (`| head`) is not worth a panic.
                            let _ = writeln!(out, "{}", path.display());
                        }
                        0
                    }
                    Err(e) => {
                        eprintln!("{tool}: error: cannot write the man pages and completions into {}: {e}", Path::new(&stage).display());
                        1
                    }
                }
            }
            _ => {
                eprintln!("{tool}: error: usage: {tool} {WRITE_DOCS} STAGE_DIR");
                2
            }
        };
        std::process::exit(code);
    }
    match P::try_parse() {
        Ok(parsed) => parsed,
        Err(e) => {
            use clap::error::ErrorKind;
            if !matches!(
                e.kind(),
                ErrorKind::DisplayHelp
                    | ErrorKind::DisplayVersion
                    | ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand
            ) {
                let tool = P::command().get_name().to_string();
                let first = e.to_string();
                let first = first.lines().next().unwrap_or_default();
                owe_report(&tool, junit_path_in_args().as_deref(), Exit::Usage, first);
            }
            e.exit()
        }
    }
}

/// Where `--junit` asks for a report, read from the raw arguments (and `JUNIT_OUTPUT`) when
/// clap refused them, so that a refused invocation still leaves its reason in the report.
fn junit_path_in_args() -> Option<PathBuf> {
    let args: Vec<std::ffi::OsString> = std::env::args_os().collect();
    let mut found = None;
    for (i, arg) in args.iter().enumerate() {
        let Some(text) = arg.to_str() else { continue };
        if text == "--" {
            break;
        }
        if text == "--junit" {
            found = args.get(i + 1).map(PathBuf::from);
        } else if let Some(path) = text.strip_prefix("--junit=") {
            found = Some(PathBuf::from(path));
        }
    }
    found.or_else(|| std::env::var_os(crate::junit::ENV).map(PathBuf::from))
}

/// Why a tool could not start.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    /// `--log-file`, `--syslog` or `CDKIT_LOG` could not be used; its error names which.
    #[error(transparent)]
    Log(#[from] LogError),
    /// The SIGINT/SIGTERM handler thread could not start; without it an interrupted tool
    /// could not clean up, so the tool does not run at all.
    #[error("cannot install signal handlers: {0}")]
    Signals(std::io::Error),
}

/// The whole `main` of a tool: start logging and signal handling with `common`, run `body`,
/// and turn its outcome into the exit status, finding the exit code of an error by
/// downcasting its chain to the tool library's error type `E`. A run that asked for `--junit`
/// and ends without the tool having written its report (refused input, a held lock, a dry
/// run) gets one saying how it ended: one case, `run`, whose status follows the exit code.
pub fn run_tool<E>(
    tool: &'static str,
    common: &CommonArgs,
    body: impl FnOnce() -> anyhow::Result<Exit>,
) -> ExitCode
where
    E: crate::exit::ExitCoded + std::error::Error + Send + Sync + 'static,
{
    if let Err(e) = common.start(tool) {
        let message = format!("error: {e}");
        crate::console::write_line(&format!("{tool}: {message}"));
        owe_report(tool, common.junit.as_deref(), Exit::Usage, &message);
        return Exit::Usage.into();
    }
    let exit = finish(tool, body(), |error| {
        error
            .chain()
            .find_map(|cause| cause.downcast_ref::<E>().map(crate::exit::ExitCoded::exit))
    });
    if let Some(path) = &common.junit {
        if !crate::junit::report_attempted() {
            let last = last_line();
            owe_report(tool, Some(path), exit, last.as_deref().unwrap_or_default());
        }
    }
    log::finish();
    exit.into()
}

/// Write the report a run owes when the tool wrote none; a failure to write it is one more
/// line, never a different exit status.
fn owe_report(tool: &str, path: Option<&Path>, exit: Exit, message: &str) {
    let Some(path) = path else { return };
    let reason = (!message.is_empty()).then_some(message);
    if let Err(e) = crate::junit::outcome_report(tool, exit, reason).write(path) {
        crate::console::write_line(&crate::redact::redact(&format!("{tool}: error: {e}")));
    }
}

/// Print the one-line error the contract asks for (`TOOL: error: …: cause`) and map the
/// outcome to the exit. `classify` names the exit code of an error; errors it does not know
/// are reported as bad input (2), the contract's code for "fix the invocation".
pub fn finish(
    tool: &str,
    outcome: anyhow::Result<Exit>,
    classify: impl Fn(&anyhow::Error) -> Option<Exit>,
) -> Exit {
    match outcome {
        Ok(exit) => exit,
        Err(error) => {
            let exit = classify(&error).unwrap_or(Exit::Usage);
            final_line(tool, &format!("error: {}", one_line_chain(&error)));
            exit
        }
    }
}

/// The last [`final_line`] message, for the report of a run that wrote none.
static LAST_LINE: std::sync::Mutex<Option<String>> = std::sync::Mutex::new(None);

fn last_line() -> Option<String> {
    LAST_LINE.lock().ok().and_then(|line| line.clone())
}

/// The closing line of a run (what failed, what to do next): a plain `TOOL: …` line for people,
/// or a JSON log line when `--log-format json` promises that every stderr line is JSON.
pub fn final_line(tool: &str, message: &str) {
    if let Ok(mut last) = LAST_LINE.lock() {
        *last = Some(message.to_string());
    }
    match log::format() {
        LogFormat::Json => tracing::error!("{message}"),
        LogFormat::Text => {
            crate::console::write_line(&crate::redact::redact(&format!("{tool}: {message}")))
        }
    }
}

/// `outer: cause: root cause` on one line.
fn one_line_chain(error: &anyhow::Error) -> String {
    let mut parts: Vec<String> = Vec::new();
    for cause in error.chain() {
        let text = cause.to_string().replace('\n', " ");
        // thiserror's `#[error("…: {source}")]` already contains the cause; skip repeats.
        if !parts.iter().any(|p| p.contains(&text)) {
            parts.push(text);
        }
    }
    parts.join(": ")
}

/// The longest duration any flag or config key accepts: 24 days. Every timeout ends up as a
/// deadline (`Instant + Duration`, which panics on overflow) or as a C `int` of milliseconds
/// (SQLite's busy timeout, 2^31 ms is about 24.8 days), so one bound, checked where the text
/// is read, keeps every later use in range. No deploy step waits that long on purpose.
pub const MAX_DURATION: Duration = Duration::from_secs(24 * 24 * 3600);

/// clap value parser for durations: `90s`, `20m`, `1h30m`, or a bare number of seconds, at
/// most [`MAX_DURATION`]. The one parser for every duration flag and config key.
pub fn parse_duration(text: &str) -> Result<Duration, String> {
    let trimmed = text.trim();
    let value = if let Ok(secs) = trimmed.parse::<f64>() {
        if !(secs.is_finite() && secs >= 0.0) {
            return Err(format!(
                "{text:?} is not a valid duration (negative or not finite)"
            ));
        }
        // Compared as a number first: `from_secs_f64` panics past u64 seconds.
        if secs > MAX_DURATION.as_secs_f64() {
            return Err(too_long(text));
        }
        Duration::from_secs_f64(secs)
    } else {
        humantime::parse_duration(trimmed)
            .map_err(|e| format!("{text:?} is not a duration like 90s, 20m or 1h30m ({e})"))?
    };
    if value > MAX_DURATION {
        return Err(too_long(text));
    }
    Ok(value)
}

fn too_long(text: &str) -> String {
    format!("{text:?} is longer than the longest accepted duration, 24d")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_accept_units_and_bare_seconds() {
        assert_eq!(parse_duration("90s").unwrap(), Duration::from_secs(90));
        assert_eq!(parse_duration("1h30m").unwrap(), Duration::from_secs(5400));
        assert_eq!(parse_duration("2.5").unwrap(), Duration::from_millis(2500));
        assert!(parse_duration("-1").is_err());
        assert!(parse_duration("soon").unwrap_err().contains("soon"));
    }

    #[test]
    fn durations_past_the_maximum_are_refused_not_panics() {
        assert_eq!(parse_duration("24d").unwrap(), MAX_DURATION);
        assert_eq!(parse_duration("2073600").unwrap(), MAX_DURATION);
        for text in [
            "25d",
            "1e30",
            "1e19",
            "2073600.001",
            "18446744073709551616",
            "500000000y",
        ] {
            let err = parse_duration(text).unwrap_err();
            assert!(err.contains("24d") && err.contains(text), "{text}: {err}");
        }
    }

    #[test]
    fn error_chains_are_one_line_without_repeats() {
        let root = std::io::Error::other("disk full");
        let err = anyhow::Error::new(root).context("cannot write reports/unit.xml");
        assert_eq!(
            one_line_chain(&err),
            "cannot write reports/unit.xml: disk full"
        );
    }
}
