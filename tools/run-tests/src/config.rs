//! `tests.toml`: several suites in one file, each with its command, format, timeout, retries,
//! environment and working directory, so a Jenkins stage can run `run-tests --config tests.toml
//! --suite unit` without repeating flags.
//!
//! ```toml
//! [[suite]]
//! name = "unit"
//! command = ["make", "check-tap"]      # an argument vector, or a string run by `sh -c`
//! timeout = "20m"
//! retries = 1
//! env = { RUST_BACKTRACE = "1" }
//! workdir = "."
//! ```

use std::path::{Path, PathBuf};

use serde::Deserialize;

use crate::error::Error;
use crate::spec::{Format, SuiteSpec};

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct File {
    #[serde(default)]
    suite: Vec<SuiteEntry>,
}

#[derive(Debug, Deserialize)]
#[serde(untagged)]
enum CommandLine {
    Argv(Vec<String>),
    Shell(String),
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
struct SuiteEntry {
    name: String,
    command: CommandLine,
    format: Option<Format>,
    junit_in: Option<String>,
    tap_in: Option<String>,
    timeout: Option<String>,
    grace: Option<String>,
    retries: Option<u32>,
    flaky_is_failure: Option<bool>,
    allow_empty: Option<bool>,
    #[serde(default)]
    env: std::collections::BTreeMap<String, String>,
    workdir: Option<PathBuf>,
}

/// Read `path` and return its suites (all, or only `only`), with `defaults` (from the command
/// line) for every setting a suite leaves out. A relative `workdir` is relative to the file.
pub fn load(
    path: &Path,
    only: Option<&str>,
    defaults: &SuiteSpec,
) -> Result<Vec<SuiteSpec>, Error> {
    let text = std::fs::read_to_string(path).map_err(|source| Error::ReadConfig {
        path: path.to_path_buf(),
        source,
    })?;
    let bad = |message: String| Error::BadConfig {
        path: path.to_path_buf(),
        message,
    };
    let file: File = toml::from_str(&text).map_err(|e| bad(e.message().replace('\n', " ")))?;
    if file.suite.is_empty() {
        return Err(bad("no [[suite]] tables".into()));
    }
    let base = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    };
    let mut specs = Vec::new();
    for entry in file.suite {
        let name = entry.name.clone();
        let spec =
            to_spec(entry, base, defaults).map_err(|m| bad(format!("suite {name:?}: {m}")))?;
        spec.validate().map_err(|e| bad(e.to_string()))?;
        if specs.iter().any(|s: &SuiteSpec| s.name == spec.name) {
            return Err(bad(format!("suite {:?} is defined twice", spec.name)));
        }
        specs.push(spec);
    }
    match only {
        None => Ok(specs),
        Some(name) => {
            let names: Vec<String> = specs.iter().map(|s| s.name.clone()).collect();
            specs
                .into_iter()
                .find(|s| s.name == name)
                .map(|s| vec![s])
                .ok_or_else(|| bad(format!("no suite {name:?} (suites: {})", names.join(", "))))
        }
    }
}

fn to_spec(entry: SuiteEntry, base: &Path, defaults: &SuiteSpec) -> Result<SuiteSpec, String> {
    let command = match entry.command {
        CommandLine::Argv(argv) => argv,
        CommandLine::Shell(line) => vec!["sh".into(), "-c".into(), line],
    };
    let duration = |field: &str, text: Option<String>| match text {
        None => Ok(None),
        Some(t) => cdkit::cli::parse_duration(&t)
            .map(Some)
            .map_err(|e| format!("{field}: {e}")),
    };
    let mut spec = defaults.clone();
    spec.name = entry.name;
    spec.command = command;
    spec.format = entry.format.unwrap_or(defaults.format);
    spec.junit_in = entry.junit_in.or_else(|| defaults.junit_in.clone());
    spec.tap_in = entry.tap_in.or_else(|| defaults.tap_in.clone());
    spec.timeout = duration("timeout", entry.timeout)?.or(defaults.timeout);
    spec.grace = duration("grace", entry.grace)?.unwrap_or(defaults.grace);
    spec.retries = entry.retries.unwrap_or(defaults.retries);
    spec.flaky_is_failure = entry.flaky_is_failure.unwrap_or(defaults.flaky_is_failure);
    spec.allow_empty = entry.allow_empty.unwrap_or(defaults.allow_empty);
    spec.env.extend(entry.env);
    spec.workdir = match entry.workdir {
        Some(dir) if dir.is_relative() => Some(base.join(dir)),
        Some(dir) => Some(dir),
        None => defaults
            .workdir
            .clone()
            .or_else(|| Some(base.to_path_buf())),
    };
    Ok(spec)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    fn write(text: &str) -> (tempfile::TempDir, PathBuf) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("tests.toml");
        std::fs::write(&path, text).unwrap();
        (dir, path)
    }

    fn defaults() -> SuiteSpec {
        let mut d = SuiteSpec::new("cli", vec![]);
        d.retries = 2;
        d
    }

    #[test]
    fn suites_take_file_settings_over_command_line_defaults() {
        let (dir, path) = write(
            r#"
            [[suite]]
            name = "unit"
            command = ["make", "check"]
            timeout = "20m"
            env = { A = "1" }

            [[suite]]
            name = "acceptance"
            command = "bats --tap tests/ | tee out"
            retries = 0
            workdir = "sub"
            "#,
        );
        let specs = load(&path, None, &defaults()).unwrap();
        assert_eq!(specs.len(), 2);
        assert_eq!(specs[0].command, vec!["make", "check"]);
        assert_eq!(specs[0].timeout, Some(Duration::from_secs(1200)));
        assert_eq!(specs[0].retries, 2);
        assert_eq!(specs[0].env, vec![("A".to_string(), "1".to_string())]);
        assert_eq!(specs[0].workdir.as_deref(), Some(dir.path()));
        assert_eq!(specs[1].command[..2], ["sh".to_string(), "-c".to_string()]);
        assert_eq!(specs[1].retries, 0);
        assert_eq!(specs[1].workdir, Some(dir.path().join("sub")));
        let only = load(&path, Some("acceptance"), &defaults()).unwrap();
        assert_eq!(only.len(), 1);
    }

    #[test]
    fn mistakes_name_the_file_and_the_problem() {
        let cases = [
            ("[[suite]]\nname = \"u\"\ncommand = [\"x\"]\ntimout = \"1m\"\n", "timout"),
            ("[[suite]]\nname = \"a.b\"\ncommand = [\"x\"]\n", "a.b"),
            ("[[suite]]\nname = \"u\"\ncommand = [\"x\"]\ntimeout = \"soon\"\n", "soon"),
            ("[[suite]]\nname = \"u\"\ncommand = [\"x\"]\n[[suite]]\nname = \"u\"\ncommand = [\"y\"]\n", "twice"),
            ("this is not toml", "tests.toml"),
            ("", "no [[suite]]"),
        ];
        for (text, needle) in cases {
            let (_dir, path) = write(text);
            let err = load(&path, None, &defaults()).unwrap_err().to_string();
            assert!(err.contains("tests.toml"), "{err}");
            assert!(err.contains(needle), "{needle}: {err}");
        }
        let (_dir, path) = write("[[suite]]\nname = \"u\"\ncommand = [\"x\"]\n");
        let err = load(&path, Some("nope"), &defaults())
            .unwrap_err()
            .to_string();
        assert!(err.contains("nope") && err.contains("suites: u"), "{err}");
    }
}
