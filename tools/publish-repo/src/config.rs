//! The repository's fixed settings, written once by `init`. Origin, Label and Codename never
//! change afterwards: apt refuses a repository whose Label changed.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::error::{io, Error};

/// Where publish-repo keeps its own files inside the repository.
pub const META_DIR: &str = ".publish-repo";

/// `init`'s settings.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// The Release files' `Origin:` (apt pins match it).
    pub origin: String,
    /// The Release files' `Label:`.
    pub label: String,
    /// The suites packages are published into (each one `dists/SUITE`).
    pub suites: Vec<String>,
    /// The binary architectures indexed (`all` adds a `binary-all` index).
    pub architectures: Vec<String>,
    /// The components of each suite (`main`).
    pub components: Vec<String>,
}

impl Config {
    /// Validate names before they become paths and Release fields.
    pub fn validate(&self) -> Result<(), Error> {
        for (what, value) in [("origin", &self.origin), ("label", &self.label)] {
            if value.is_empty() || value.contains(['\n', '\r']) {
                return Err(Error::Usage(format!("--{what} must be one non-empty line")));
            }
        }
        let lists = [
            ("suite", &self.suites),
            ("architecture", &self.architectures),
            ("component", &self.components),
        ];
        for (what, list) in lists {
            if list.is_empty() {
                return Err(Error::Usage(format!("at least one {what} is needed")));
            }
            for (i, name) in list.iter().enumerate() {
                check_name(what, name)?;
                if list[..i].contains(name) {
                    return Err(Error::Usage(format!("{what} {name:?} is given twice")));
                }
            }
        }
        for name in &self.components {
            check_component(name)?;
        }
        if !self.architectures.iter().any(|a| a != "all") {
            return Err(Error::Usage(
                "at least one architecture besides 'all' is needed".into(),
            ));
        }
        Ok(())
    }

    /// The binary architectures (without `all`), whose indexes also carry arch-all packages.
    pub fn binary_architectures(&self) -> impl Iterator<Item = &str> {
        self.architectures
            .iter()
            .map(String::as_str)
            .filter(|a| *a != "all")
    }

    /// Whether `suite` is configured, as a usage error naming the choices if not.
    pub fn check_suite(&self, suite: &str) -> Result<(), Error> {
        if self.suites.iter().any(|s| s == suite) {
            Ok(())
        } else {
            Err(Error::Usage(format!(
                "no suite {suite:?} in this repository (suites: {})",
                self.suites.join(", ")
            )))
        }
    }

    /// Whether `component` is configured.
    pub fn check_component(&self, component: &str) -> Result<(), Error> {
        if self.components.iter().any(|c| c == component) {
            Ok(())
        } else {
            Err(Error::Usage(format!(
                "no component {component:?} in this repository (components: {})",
                self.components.join(", ")
            )))
        }
    }
}

/// Suite, component and architecture names become directory names: keep them plain.
pub fn check_name(what: &str, name: &str) -> Result<(), Error> {
    let ok = !name.is_empty()
        && name.len() <= 64
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_'));
    if ok {
        Ok(())
    } else {
        Err(Error::Usage(format!(
            "{what} name {name:?} is not allowed (letters, digits, '-', '_')"
        )))
    }
}

/// A component is a directory of `dists/SUITE/`, beside the suite's own files: a name that
/// is one of them (`by-hash`, `i18n`, `binary-amd64`, …) would mix a component's indexes
/// with the suite's, and verify would then find false defects.
fn check_component(name: &str) -> Result<(), Error> {
    let reserved = ["by-hash", "i18n", "source", "dep11", "debian-installer"];
    let reserved_prefix = [
        "binary-",
        "Contents",
        "Release",
        "InRelease",
        "Packages",
        "Sources",
    ];
    if reserved.contains(&name) || reserved_prefix.iter().any(|p| name.starts_with(p)) {
        return Err(Error::Usage(format!(
            "component {name:?} is a name the suite's own files use under dists/SUITE (by-hash, i18n, binary-*, …); choose another"
        )));
    }
    Ok(())
}

/// The configuration file of the repository at `repo`.
pub fn path(repo: &Path) -> PathBuf {
    repo.join(META_DIR).join("config.json")
}

/// The error for a directory `init` has not made a repository (yet).
pub fn not_initialised(repo: &Path) -> Error {
    Error::Usage(format!(
        "{} is not a publish-repo repository (run `publish-repo init --repo {}` first)",
        repo.display(),
        repo.display()
    ))
}

/// Read the configuration; a missing one says to run `init` first.
pub fn load(repo: &Path) -> Result<Config, Error> {
    let file = path(repo);
    let text = match std::fs::read_to_string(&file) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Err(not_initialised(repo)),
        Err(e) => return Err(io("read", &file)(e)),
    };
    let config: Config = serde_json::from_str(&text).map_err(|e| Error::State {
        path: file.clone(),
        reason: e.to_string(),
    })?;
    config.validate()?;
    Ok(config)
}

/// Write the configuration of a new repository, or check it matches an existing one.
pub fn init(repo: &Path, config: &Config) -> Result<bool, Error> {
    config.validate()?;
    let file = path(repo);
    if file.exists() {
        let existing = load(repo)?;
        if existing.origin != config.origin || existing.label != config.label {
            return Err(Error::Usage(format!(
                "{} was initialised with Origin {:?} and Label {:?}; they never change (apt would refuse the repository)",
                repo.display(),
                existing.origin,
                existing.label
            )));
        }
        if existing == *config {
            return Ok(false);
        }
        let mut merged = existing.clone();
        for (mine, theirs) in [
            (&mut merged.suites, &config.suites),
            (&mut merged.architectures, &config.architectures),
            (&mut merged.components, &config.components),
        ] {
            for name in theirs {
                if !mine.contains(name) {
                    mine.push(name.clone());
                }
            }
        }
        write(&file, &merged)?;
        return Ok(true);
    }
    write(&file, config)?;
    Ok(true)
}

fn write(file: &Path, config: &Config) -> Result<(), Error> {
    let text = serde_json::to_string_pretty(config).map_err(|e| Error::Internal(e.to_string()))?;
    cdkit::atomic::write(file, text.as_bytes())?;
    Ok(())
}
