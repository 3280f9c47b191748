//! What each suite contains: one record per package version, with the control fields and
//! checksums its Packages stanza needs. This is the index cache: publishing never re-reads a
//! .deb that is already in the pool.
//!
//! Stored in the compact format of [`crate::codec`] (`suites/SUITE.state`): loading and saving
//! a 10,000-package suite is part of every publish, and JSON cost tens of milliseconds each
//! way. Suites written by older versions as `suites/SUITE.json` are still read.

use std::cmp::Ordering;
use std::path::{Path, PathBuf};

use serde::Deserialize;

use crate::codec::{Reader, Writer};
use crate::config::META_DIR;
use crate::error::{io, Error};

/// (package, version, architecture) of an [`Entry`].
pub type Key<'a> = (&'a str, &'a str, &'a str);

/// One package version in a suite.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    pub component: String,
    pub package: String,
    pub version: String,
    pub architecture: String,
    /// Path of the .deb relative to the repository root (`pool/main/h/hello/…deb`).
    pub filename: String,
    pub size: u64,
    pub md5: String,
    pub sha256: String,
    /// The stanza's lines from the .deb's control paragraph, in order (`Name: value\n`…),
    /// without the fields the index writes itself ([`crate::index::control_lines`]).
    pub control: String,
}

impl Entry {
    /// `name_version_arch`, the identity apt and dpkg use.
    pub fn id(&self) -> String {
        format!("{}_{}_{}", self.package, self.version, self.architecture)
    }

    /// (package, version, architecture): what must be unique across the repository.
    pub fn key(&self) -> Key<'_> {
        (&self.package, &self.version, &self.architecture)
    }

    /// dpkg's order of two versions of this package (unparsable versions sort first).
    pub fn cmp_version(&self, other: &Entry) -> Ordering {
        match (
            cdkit::policy::Version::parse(&self.version),
            cdkit::policy::Version::parse(&other.version),
        ) {
            (Ok(a), Ok(b)) => a.cmp(&b),
            _ => self.version.cmp(&other.version),
        }
    }
}

/// A suite's packages.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SuiteState {
    pub entries: Vec<Entry>,
}

impl SuiteState {
    /// Sort by package, architecture, then version (newest first): the order of Packages.
    pub fn sort(&mut self) {
        self.entries.sort_by(|a, b| {
            a.package
                .cmp(&b.package)
                .then_with(|| a.architecture.cmp(&b.architecture))
                .then_with(|| b.cmp_version(a))
                .then_with(|| a.component.cmp(&b.component))
        });
    }

    /// The entry with this identity, if present.
    pub fn find(&self, package: &str, version: &str, architecture: &str) -> Option<&Entry> {
        self.entries.iter().find(|e| {
            e.package == package && e.version == version && e.architecture == architecture
        })
    }

    /// Keep the newest `keep` versions of each package and architecture; returns the dropped.
    pub fn retain_newest(&mut self, keep: usize) -> Vec<Entry> {
        self.sort();
        let mut dropped = Vec::new();
        let mut kept: Vec<Entry> = Vec::with_capacity(self.entries.len());
        let mut run = 0usize;
        for entry in self.entries.drain(..) {
            let same = kept.last().is_some_and(|last| {
                last.package == entry.package && last.architecture == entry.architecture
            });
            run = if same { run + 1 } else { 1 };
            if run <= keep.max(1) {
                kept.push(entry);
            } else {
                dropped.push(entry);
            }
        }
        self.entries = kept;
        dropped
    }
}

/// Magic of the state file; the digit is the format version.
const MAGIC: &[u8] = b"publish-repo suite state 2\n";

fn dir(repo: &Path) -> PathBuf {
    repo.join(META_DIR).join("suites")
}

fn file(repo: &Path, suite: &str) -> PathBuf {
    dir(repo).join(format!("{suite}.state"))
}

/// Read a suite's state (empty if it was never published).
pub fn load(repo: &Path, suite: &str) -> Result<SuiteState, Error> {
    let path = file(repo, suite);
    match std::fs::read(&path) {
        Ok(bytes) => decode(&bytes).map_err(|reason| Error::State { path, reason }),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => load_legacy(repo, suite),
        Err(e) => Err(io("read", &path)(e)),
    }
}

/// Write a suite's state atomically (and durably: the publish that follows relies on it).
pub fn save(repo: &Path, suite: &str, state: &SuiteState) -> Result<(), Error> {
    cdkit::atomic::write(&file(repo, suite), &encode(state))?;
    // The JSON of an older version would be stale from now on.
    let legacy = dir(repo).join(format!("{suite}.json"));
    match std::fs::remove_file(&legacy) {
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(io("remove", &legacy)(e)),
        _ => Ok(()),
    }
}

fn encode(state: &SuiteState) -> Vec<u8> {
    let guess = state
        .entries
        .iter()
        .map(|e| e.control.len() + e.filename.len() + 160)
        .sum();
    let mut w = Writer::new(MAGIC, guess);
    w.u64(state.entries.len() as u64);
    for e in &state.entries {
        for text in [
            &e.component,
            &e.package,
            &e.version,
            &e.architecture,
            &e.filename,
            &e.md5,
            &e.sha256,
            &e.control,
        ] {
            w.str(text);
        }
        w.u64(e.size);
    }
    w.finish()
}

fn decode(bytes: &[u8]) -> Result<SuiteState, String> {
    let mut r = Reader::new(bytes, MAGIC)?;
    let count = r.u64()?;
    // Each entry takes at least 40 bytes: a count beyond that is damage, not a huge suite.
    if count > bytes.len() as u64 / 40 {
        return Err(format!("implausible entry count {count}"));
    }
    let mut entries = Vec::with_capacity(count as usize);
    for _ in 0..count {
        entries.push(Entry {
            component: r.str()?,
            package: r.str()?,
            version: r.str()?,
            architecture: r.str()?,
            filename: r.str()?,
            md5: r.str()?,
            sha256: r.str()?,
            control: r.str()?,
            size: r.u64()?,
        });
    }
    if !r.is_done() {
        return Err("trailing bytes after the last entry".into());
    }
    Ok(SuiteState { entries })
}

/// `suites/SUITE.json` as written by publish-repo before the compact format.
fn load_legacy(repo: &Path, suite: &str) -> Result<SuiteState, Error> {
    #[derive(Deserialize)]
    struct LegacyEntry {
        component: String,
        package: String,
        version: String,
        architecture: String,
        filename: String,
        size: u64,
        md5: String,
        sha256: String,
        fields: Vec<(String, String)>,
    }
    #[derive(Deserialize)]
    struct LegacyState {
        entries: Vec<LegacyEntry>,
    }
    let path = dir(repo).join(format!("{suite}.json"));
    let bytes = match std::fs::read(&path) {
        Ok(bytes) => bytes,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(SuiteState::default()),
        Err(e) => return Err(io("read", &path)(e)),
    };
    let legacy: LegacyState = serde_json::from_slice(&bytes).map_err(|e| Error::State {
        path,
        reason: e.to_string(),
    })?;
    let entries = legacy
        .entries
        .into_iter()
        .map(|e| Entry {
            control: crate::index::control_lines(&e.fields),
            component: e.component,
            package: e.package,
            version: e.version,
            architecture: e.architecture,
            filename: e.filename,
            size: e.size,
            md5: e.md5,
            sha256: e.sha256,
        })
        .collect();
    Ok(SuiteState { entries })
}

#[cfg(test)]
mod tests {
    use super::*;

    pub fn entry(package: &str, version: &str) -> Entry {
        Entry {
            component: "main".into(),
            package: package.into(),
            version: version.into(),
            architecture: "amd64".into(),
            filename: format!("pool/main/{package}_{version}.deb"),
            size: 1,
            md5: String::new(),
            sha256: String::new(),
            control: format!("Package: {package}\n"),
        }
    }

    #[test]
    fn the_compact_format_round_trips_and_reads_the_legacy_json() {
        let dir = tempfile::tempdir().unwrap();
        let state = SuiteState {
            entries: vec![entry("app", "1:2.0-1"), entry("other", "1")],
        };
        save(dir.path(), "testing", &state).unwrap();
        assert_eq!(load(dir.path(), "testing").unwrap(), state);
        assert_eq!(load(dir.path(), "never").unwrap(), SuiteState::default());

        let legacy = r#"{"entries":[{"component":"main","package":"hello","version":"1.0-1",
            "architecture":"all","filename":"pool/main/h/hello/hello_1.0-1_all.deb","size":700,
            "md5":"m","sha256":"s","fields":[["Package","hello"],["SHA256","forged"],
            ["Description","hi\n more"]]}]}"#;
        let suites = dir.path().join(META_DIR).join("suites");
        std::fs::write(suites.join("old.json"), legacy).unwrap();
        let old = load(dir.path(), "old").unwrap();
        assert_eq!(
            old.entries[0].control,
            "Package: hello\nDescription: hi\n more\n"
        );
        assert_eq!(old.entries[0].size, 700);
        save(dir.path(), "old", &old).unwrap();
        assert!(
            !suites.join("old.json").exists(),
            "the stale JSON is removed"
        );
        assert_eq!(load(dir.path(), "old").unwrap(), old);

        let path = suites.join("testing.state");
        let mut bytes = std::fs::read(&path).unwrap();
        bytes.truncate(bytes.len() - 3);
        std::fs::write(&path, bytes).unwrap();
        let err = load(dir.path(), "testing").unwrap_err().to_string();
        assert!(err.contains("testing.state is corrupt"), "{err}");
    }

    #[test]
    fn retention_keeps_the_newest_by_dpkg_order() {
        let mut s = SuiteState {
            entries: ["1.0-1", "1.10-1", "1.9-1", "1.0~rc1-1", "2.0-1"]
                .iter()
                .map(|v| entry("app", v))
                .chain([entry("other", "1")])
                .collect(),
        };
        let dropped = s.retain_newest(3);
        let kept: Vec<_> = s.entries.iter().map(|e| e.id()).collect();
        assert_eq!(
            kept,
            [
                "app_2.0-1_amd64",
                "app_1.10-1_amd64",
                "app_1.9-1_amd64",
                "other_1_amd64"
            ]
        );
        let dropped: Vec<_> = dropped.iter().map(|e| e.version.as_str()).collect();
        assert_eq!(dropped, ["1.0-1", "1.0~rc1-1"]);
    }
}
