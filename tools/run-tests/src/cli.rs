//! run-tests' command line (in the library, so tests and `main.rs` share one definition): the
//! flags, turned into [`SuiteSpec`]s for [`crate::run_all`].

use std::path::PathBuf;
use std::time::Duration;

use anyhow::Context;
use clap::Parser;

use crate::{Format, SuiteSpec, TOOL};
use cdkit::cli::{parse_duration, CommonArgs};
use cdkit::exit::Exit;

const EXAMPLES: &str = "\
Examples:
  run-tests --suite unit --timeout 20m --junit reports/unit.xml -- prove -v t/
  run-tests --suite api --junit-in 'build/test-results/*.xml' --junit reports/api.xml -- pytest --junitxml build/test-results/api.xml
  run-tests --retries 2 --junit reports/acceptance.xml -- bats --tap tests/acceptance
  run-tests --config tests.toml --suite unit --junit reports/unit.xml

Exit status: 0 all passed, 1 some failed, 2 bad invocation, 4 no tests ran,
124 --timeout stopped the command, 130/143 interrupted.";

/// Run a test command and write its results as JUnit XML.
#[derive(Debug, Parser)]
#[command(name = "run-tests", version, about, after_help = EXAMPLES)]
pub struct Cli {
    /// Suite name (the JUnit suite is run-tests.NAME); with --config, the suite to run.
    #[arg(long, env = "RUN_TESTS_SUITE")]
    pub suite: Option<String>,

    /// How to read results.
    #[arg(long, env = "RUN_TESTS_FORMAT", value_enum, default_value = "auto")]
    pub format: Format,

    /// JUnit files the command writes (glob, relative to the working directory).
    #[arg(long, env = "RUN_TESTS_JUNIT_IN", value_name = "GLOB")]
    pub junit_in: Option<String>,

    /// TAP files the command writes, one stream per file, e.g. `arch/**/*.t` from
    /// `prove --archive arch` (glob, relative to the working directory; groups are the paths
    /// below the glob's fixed leading directories).
    #[arg(long, env = "RUN_TESTS_TAP_IN", value_name = "GLOB")]
    pub tap_in: Option<String>,

    /// Stop the command (its whole process group) after this long, per attempt: 90s, 20m, 1h.
    #[arg(long, env = "RUN_TESTS_TIMEOUT", value_parser = parse_duration, value_name = "DUR")]
    pub timeout: Option<Duration>,

    /// Time between TERM and KILL when stopping the command.
    #[arg(long, env = "RUN_TESTS_GRACE", value_parser = parse_duration, default_value = "5s", value_name = "DUR")]
    pub grace: Duration,

    /// Re-run the command up to N more times while some test has failed and not passed since.
    #[arg(long, env = "RUN_TESTS_RETRIES", default_value_t = 0, value_name = "N")]
    pub retries: u32,

    /// Count a test that passed only on a retry as failed.
    #[arg(long, env = "RUN_TESTS_FLAKY_IS_FAILURE")]
    pub flaky_is_failure: bool,

    /// Exit 0 (not 4) when no tests ran.
    #[arg(long, env = "RUN_TESTS_ALLOW_EMPTY")]
    pub allow_empty: bool,

    /// Suites from a TOML file instead of a command.
    #[arg(
        long,
        env = "RUN_TESTS_CONFIG",
        value_name = "FILE",
        conflicts_with = "command"
    )]
    pub config: Option<PathBuf>,

    /// Flags every cdkit tool has (--junit, --log-format, --progress, ...).
    #[command(flatten)]
    pub common: CommonArgs,

    /// The test command and its arguments (after `--`).
    #[arg(last = true, value_name = "CMD")]
    pub command: Vec<String>,
}

/// Run the suites `cli` asks for and write the report; the exit code of the outcome (the
/// caller turns an error into its one line and exit code).
pub fn run(cli: Cli) -> anyhow::Result<Exit> {
    let junit =
        cli.common.junit.clone().ok_or_else(|| {
            crate::Error::Usage("--junit PATH (or JUNIT_OUTPUT) is required".into())
        })?;
    if junit.is_dir() {
        return Err(crate::Error::Usage(format!(
            "--junit {} is a directory; give the report's file name, e.g. {}/unit.xml",
            junit.display(),
            junit.display()
        ))
        .into());
    }
    let mut defaults = SuiteSpec::new(
        cli.suite.clone().unwrap_or_else(|| "tests".into()),
        cli.command.clone(),
    );
    defaults.format = cli.format;
    defaults.junit_in = cli.junit_in.clone();
    defaults.tap_in = cli.tap_in.clone();
    defaults.timeout = cli.timeout;
    defaults.grace = cli.grace;
    defaults.retries = cli.retries;
    defaults.flaky_is_failure = cli.flaky_is_failure;
    defaults.allow_empty = cli.allow_empty;

    let specs = match &cli.config {
        Some(path) => crate::config::load(path, cli.suite.as_deref(), &defaults)?,
        None => {
            if cli.command.is_empty() {
                return Err(crate::Error::Usage(
                    "no test command: give one after `--`, or --config FILE".into(),
                )
                .into());
            }
            defaults.validate()?;
            vec![defaults]
        }
    };
    let outcome = crate::run_all(&specs, &junit, cli.common.progress)
        .with_context(|| format!("run-tests could not finish the report {}", junit.display()))?;
    for summary in &outcome.summaries {
        tracing::info!("{summary}");
    }
    if !outcome.exit.is_success() {
        cdkit::cli::final_line(
            TOOL,
            &format!(
                "{}: see {} and {}",
                outcome.exit,
                junit.display(),
                crate::output_log_path(&junit, &specs[0].name).display()
            ),
        );
    }
    Ok(outcome.exit)
}
