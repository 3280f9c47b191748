//! What each suite contains: one record per package version, with the control fields and
//! checksums its Packages stanza needs. This is the index cache: publishing never re-reads a
//! .deb that is already in the pool.

use std::cmp::Ordering;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::config::META_DIR;
use crate::error::{io, Error};

/// One package version in a suite.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
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
    /// The control paragraph as read from the .deb, in order.
    pub fields: Vec<(String, String)>,
}

impl Entry {
    /// `name_version_arch`, the identity apt and dpkg use.
    pub fn id(&self) -> String {
        format!("{}_{}_{}", self.package, self.version, self.architecture)
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
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
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

fn file(repo: &Path, suite: &str) -> PathBuf {
    repo.join(META_DIR)
        .join("suites")
        .join(format!("{suite}.json"))
}

/// Read a suite's state (empty if it was never published).
pub fn load(repo: &Path, suite: &str) -> Result<SuiteState, Error> {
    let path = file(repo, suite);
    match std::fs::read(&path) {
        Ok(bytes) => serde_json::from_slice(&bytes).map_err(|e| Error::State {
            path,
            reason: e.to_string(),
        }),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(SuiteState::default()),
        Err(e) => Err(io("read", &path)(e)),
    }
}

/// Write a suite's state atomically.
pub fn save(repo: &Path, suite: &str, state: &SuiteState) -> Result<(), Error> {
    let bytes = serde_json::to_vec(state).map_err(|e| Error::Usage(e.to_string()))?;
    cdkit::atomic::write(&file(repo, suite), &bytes)?;
    Ok(())
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
            fields: vec![],
        }
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
