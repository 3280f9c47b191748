//! What to run for one suite, whether it comes from the command line or from `tests.toml`.

use std::path::PathBuf;
use std::time::Duration;

use crate::error::Error;

/// How the command's results are read.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum, serde::Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Format {
    /// `junit` when `--junit-in` is given, TAP when the output is TAP, else the exit status.
    Auto,
    /// TAP 13/14 (also prove's output) on the command's stdout, or in the files it writes
    /// (`--tap-in GLOB`).
    Tap,
    /// JUnit files the command writes (`--junit-in GLOB`).
    Junit,
    /// One testcase for the whole command, judged by its exit status.
    ExitCode,
}

/// One suite to run.
#[derive(Debug, Clone)]
pub struct SuiteSpec {
    /// Stable name: the JUnit suite is `run-tests.NAME`.
    pub name: String,
    /// Argument vector; `argv[0]` is the program.
    pub command: Vec<String>,
    /// How to read the results (TAP, JUnit files, exit status, or auto).
    pub format: Format,
    /// Glob (relative to `workdir`) of JUnit files the command writes.
    pub junit_in: Option<String>,
    /// Glob (relative to `workdir`) of TAP files the command writes, one stream per file
    /// (`prove --archive DIR` writes one per test file).
    pub tap_in: Option<String>,
    /// Limit for each attempt.
    pub timeout: Option<Duration>,
    /// Time between TERM and KILL when stopping the command.
    pub grace: Duration,
    /// Extra attempts for failing tests.
    pub retries: u32,
    /// Count a test that passed only on a retry as failed.
    pub flaky_is_failure: bool,
    /// Exit 0 (not 4) when no tests ran.
    pub allow_empty: bool,
    /// Extra environment for the command.
    pub env: Vec<(String, String)>,
    /// Working directory of the command (default: the current one).
    pub workdir: Option<PathBuf>,
}

impl SuiteSpec {
    /// A spec with the defaults of the command line.
    pub fn new(name: impl Into<String>, command: Vec<String>) -> SuiteSpec {
        SuiteSpec {
            name: name.into(),
            command,
            format: Format::Auto,
            junit_in: None,
            tap_in: None,
            timeout: None,
            grace: Duration::from_secs(5),
            retries: 0,
            flaky_is_failure: false,
            allow_empty: false,
            env: Vec::new(),
            workdir: None,
        }
    }

    /// Check what cannot be checked by the parser: names, an empty command, a junit format
    /// without files to read.
    pub fn validate(&self) -> Result<(), Error> {
        validate_suite_name(&self.name)?;
        if self.command.first().is_none_or(|p| p.is_empty()) {
            return Err(Error::Usage(format!(
                "suite {}: no command to run",
                self.name
            )));
        }
        if self.format == Format::Junit && self.junit_in.is_none() {
            return Err(Error::Usage(format!(
                "suite {}: --format junit needs --junit-in GLOB (the files the command writes)",
                self.name
            )));
        }
        if self.junit_in.is_some() && self.tap_in.is_some() {
            return Err(Error::Usage(format!(
                "suite {}: give --junit-in or --tap-in, not both",
                self.name
            )));
        }
        if self.tap_in.is_some() && !matches!(self.format, Format::Auto | Format::Tap) {
            return Err(Error::Usage(format!(
                "suite {}: --tap-in needs --format tap (or auto)",
                self.name
            )));
        }
        for (flag, pattern) in [("--junit-in", &self.junit_in), ("--tap-in", &self.tap_in)] {
            if let Some(pattern) = pattern {
                glob::Pattern::new(pattern).map_err(|e| {
                    Error::Usage(format!(
                        "suite {}: {flag} {pattern:?} is not a valid glob: {e}",
                        self.name
                    ))
                })?;
            }
        }
        Ok(())
    }

    /// The JUnit group for results without one of their own: the program's file name, so
    /// names stay stable across builds and checkouts.
    pub fn group(&self) -> String {
        let program = self
            .command
            .first()
            .map(String::as_str)
            .unwrap_or("command");
        let base = program.rsplit('/').next().unwrap_or(program);
        base.replace('.', "_")
    }

    /// The command line as one string, for messages and the report's properties: quoted as
    /// for a POSIX shell, so it can be pasted into one.
    pub fn display_command(&self) -> String {
        let argv: Vec<&str> = self.command.iter().map(String::as_str).collect();
        cdkit::ssh::command_line(&argv)
    }
}

/// Suite names become part of JUnit classnames and file names: letters, digits, `_` and `-`
/// only (a dot would shift Jenkins' package/class split).
pub fn validate_suite_name(name: &str) -> Result<(), Error> {
    let ok = !name.is_empty()
        && name.len() <= 100
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-');
    if ok {
        Ok(())
    } else {
        Err(Error::Usage(format!(
            "suite name {name:?} is not allowed: use 1 to 100 letters, digits, '_' or '-'"
        )))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hostile_suite_names_are_refused() {
        for bad in ["", "a.b", "../x", "a b", "x;rm", &"a".repeat(101)] {
            assert!(validate_suite_name(bad).is_err(), "{bad:?}");
        }
        assert!(validate_suite_name("unit-tests_2").is_ok());
    }

    #[test]
    fn group_is_the_program_file_name() {
        let spec = SuiteSpec::new("unit", vec!["/usr/bin/prove.sh".into(), "-v".into()]);
        assert_eq!(spec.group(), "prove_sh");
    }

    #[test]
    fn display_command_quotes_what_needs_it() {
        let spec = SuiteSpec::new(
            "u",
            vec!["sh".into(), "-c".into(), "echo 'hi' there".into()],
        );
        assert_eq!(spec.display_command(), r"sh -c 'echo '\''hi'\'' there'");
    }

    #[test]
    fn junit_format_needs_files_and_globs_must_parse() {
        let mut spec = SuiteSpec::new("u", vec!["true".into()]);
        spec.format = Format::Junit;
        assert!(spec.validate().is_err());
        spec.junit_in = Some("reports/[.xml".into());
        assert!(spec
            .validate()
            .unwrap_err()
            .to_string()
            .contains("reports/[.xml"));
        spec.junit_in = Some("reports/*.xml".into());
        assert!(spec.validate().is_ok());
        assert!(SuiteSpec::new("u", vec![]).validate().is_err());
    }
}
