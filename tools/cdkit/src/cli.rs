//! What every tool's command line shares: the common flags (flattened into each tool's clap
//! parser), start-up (logging, signals) and the single place where an outcome becomes an exit
//! status and a one-line error.

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Duration;

use crate::exit::Exit;
use crate::log::{self, LogConfig, LogFormat};
use crate::progress::ProgressMode;

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
    pub syslog: Option<crate::syslog::Target>,

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
    P::parse()
}

/// Why a tool could not start.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error(transparent)]
    Log(#[from] log::LogError),
    #[error("cannot install signal handlers: {0}")]
    Signals(std::io::Error),
}

/// The whole `main` of a tool: start logging and signal handling with `common`, run `body`,
/// and turn its outcome into the exit status, finding the exit code of an error by
/// downcasting its chain to the tool library's error type `E`.
pub fn run_tool<E>(
    tool: &'static str,
    common: &CommonArgs,
    body: impl FnOnce() -> anyhow::Result<Exit>,
) -> ExitCode
where
    E: crate::exit::ExitCoded + std::error::Error + Send + Sync + 'static,
{
    if let Err(e) = common.start(tool) {
        crate::console::write_line(&format!("{tool}: error: {e}"));
        return Exit::Usage.into();
    }
    let code = finish(tool, body(), |error| {
        error
            .chain()
            .find_map(|cause| cause.downcast_ref::<E>().map(crate::exit::ExitCoded::exit))
    });
    log::finish();
    code
}

/// Print the one-line error the contract asks for (`TOOL: error: …: cause`) and map the
/// outcome to the process exit status. `classify` names the exit code of an error; errors it
/// does not know are reported as bad input (2), the contract's code for "fix the invocation".
pub fn finish(
    tool: &str,
    outcome: anyhow::Result<Exit>,
    classify: impl Fn(&anyhow::Error) -> Option<Exit>,
) -> ExitCode {
    match outcome {
        Ok(exit) => exit.into(),
        Err(error) => {
            let exit = classify(&error).unwrap_or(Exit::Usage);
            final_line(tool, &format!("error: {}", one_line_chain(&error)));
            exit.into()
        }
    }
}

/// The closing line of a run (what failed, what to do next): a plain `TOOL: …` line for people,
/// or a JSON log line when `--log-format json` promises that every stderr line is JSON.
pub fn final_line(tool: &str, message: &str) {
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

/// clap value parser for durations: `90s`, `20m`, `1h30m`, or a bare number of seconds.
pub fn parse_duration(text: &str) -> Result<Duration, String> {
    let trimmed = text.trim();
    if let Ok(secs) = trimmed.parse::<f64>() {
        if secs.is_finite() && secs >= 0.0 {
            return Ok(Duration::from_secs_f64(secs));
        }
        return Err(format!(
            "{text:?} is not a valid duration (negative or not finite)"
        ));
    }
    humantime::parse_duration(trimmed)
        .map_err(|e| format!("{text:?} is not a duration like 90s, 20m or 1h30m ({e})"))
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
    fn error_chains_are_one_line_without_repeats() {
        let root = std::io::Error::other("disk full");
        let err = anyhow::Error::new(root).context("cannot write reports/unit.xml");
        assert_eq!(
            one_line_chain(&err),
            "cannot write reports/unit.xml: disk full"
        );
    }
}
