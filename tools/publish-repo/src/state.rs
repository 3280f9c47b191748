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
#[derive(Debug, Clone, Default)]
pub struct SuiteState {
    /// Read freely; change through [`SuiteState::add`], [`SuiteState::remove`] and
    /// [`SuiteState::retain_newest`], which keep the journal.
    pub entries: Vec<Entry>,
    journal: Journal,
}

/// The changes since the state file was last written in full, so a publish that adds one
/// package writes that package (the delta file) instead of the whole suite again.
#[derive(Debug, Clone, Default)]
struct Journal {
    /// Identity of the state file the changes apply to (`None`: there is none; write it).
    base: Option<u64>,
    added: Vec<Entry>,
    removed: Vec<(String, String, String)>,
    /// Too many changes to keep apart: the whole state is written (and nothing more is
    /// recorded, so a large import does not copy every entry twice).
    overflow: bool,
}

impl PartialEq for SuiteState {
    fn eq(&self, other: &SuiteState) -> bool {
        self.entries == other.entries
    }
}

impl SuiteState {
    /// A state holding `entries` (as if read from nothing: the next save writes it in full).
    pub fn new(entries: Vec<Entry>) -> SuiteState {
        SuiteState {
            entries,
            journal: Journal::default(),
        }
    }

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

    /// List a new entry.
    pub fn add(&mut self, entry: Entry) {
        if !self.journal.overflow {
            self.journal.added.push(entry.clone());
            self.journal.check_size(self.entries.len());
        }
        self.entries.push(entry);
    }

    /// Stop listing the entries with this key; returns them.
    pub fn remove(&mut self, key: Key) -> Vec<Entry> {
        let (gone, kept): (Vec<Entry>, Vec<Entry>) = std::mem::take(&mut self.entries)
            .into_iter()
            .partition(|e| e.key() == key);
        self.entries = kept;
        for entry in &gone {
            self.journal.note_removed(entry);
        }
        gone
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
        for entry in &dropped {
            self.journal.note_removed(entry);
        }
        dropped
    }
}

impl Journal {
    fn note_removed(&mut self, entry: &Entry) {
        if self.overflow {
            return;
        }
        let before = self.added.len();
        self.added.retain(|a| a.key() != entry.key());
        if self.added.len() == before {
            self.removed.push((
                entry.package.clone(),
                entry.version.clone(),
                entry.architecture.clone(),
            ));
        }
    }

    /// Whether the changes are few enough to append rather than rewrite the whole state.
    fn is_small(&self, entries: usize) -> bool {
        !self.overflow
            && self.base.is_some()
            && self.added.len() + self.removed.len() <= (entries / 50).max(64)
    }

    /// Stop recording once the changes are too many for a delta (or there is no base).
    fn check_size(&mut self, entries: usize) {
        if !self.is_small(entries) {
            self.overflow = true;
            self.added = Vec::new();
            self.removed = Vec::new();
        }
    }
}

/// Magic of the state file and of the delta file; the digit is the format version.
const MAGIC: &[u8] = b"publish-repo suite state 2\n";
const DELTA_MAGIC: &[u8] = b"publish-repo suite delta 2\n";

fn dir(repo: &Path) -> PathBuf {
    repo.join(META_DIR).join("suites")
}

fn file(repo: &Path, suite: &str) -> PathBuf {
    dir(repo).join(format!("{suite}.state"))
}

fn delta_file(repo: &Path, suite: &str) -> PathBuf {
    dir(repo).join(format!("{suite}.delta"))
}

/// Which state file a delta belongs to: its length and checksum.
fn identity(bytes: &[u8]) -> u64 {
    ((bytes.len() as u64) << 32) | u64::from(crate::codec::crc32(bytes))
}

/// Read a suite's state (empty if it was never published).
pub fn load(repo: &Path, suite: &str) -> Result<SuiteState, Error> {
    let path = file(repo, suite);
    let bytes = match std::fs::read(&path) {
        Ok(bytes) => bytes,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return load_legacy(repo, suite),
        Err(e) => return Err(io("read", &path)(e)),
    };
    let entries = decode(&bytes).map_err(|reason| Error::State { path, reason })?;
    let base = identity(&bytes);
    let mut state = SuiteState {
        entries,
        journal: Journal {
            base: Some(base),
            ..Journal::default()
        },
    };
    let path = delta_file(repo, suite);
    let delta = match std::fs::read(&path) {
        Ok(bytes) => bytes,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(state),
        Err(e) => return Err(io("read", &path)(e)),
    };
    let journal = decode_delta(&delta).map_err(|reason| Error::State { path, reason })?;
    // A delta of an earlier state file: that file was rewritten with the changes in it.
    if journal.base == Some(base) {
        let removed: std::collections::HashSet<Key> = journal
            .removed
            .iter()
            .map(|(p, v, a)| (p.as_str(), v.as_str(), a.as_str()))
            .collect();
        state.entries.retain(|e| !removed.contains(&e.key()));
        state.entries.extend(journal.added.iter().cloned());
        state.sort();
        state.journal = journal;
    }
    Ok(state)
}

/// Write a suite's state atomically and durably (the publish that follows relies on it):
/// the changes since the state file was last written, or the whole state when they are
/// many (or there is no state file yet).
pub fn save(repo: &Path, suite: &str, state: &SuiteState) -> Result<(), Error> {
    if state.journal.is_small(state.entries.len()) {
        cdkit::atomic::write(&delta_file(repo, suite), &encode_delta(&state.journal))?;
        return Ok(());
    }
    cdkit::atomic::write(&file(repo, suite), &encode(state))?;
    // The delta (if any) belongs to the old state file now, and the JSON of an older version
    // would be stale.
    for stale in [
        delta_file(repo, suite),
        dir(repo).join(format!("{suite}.json")),
    ] {
        match std::fs::remove_file(&stale) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
                return Err(io("remove", &stale)(e))
            }
            _ => {}
        }
    }
    Ok(())
}

fn encode_delta(journal: &Journal) -> Vec<u8> {
    let mut w = Writer::new(DELTA_MAGIC, journal.added.len() * 700);
    w.u64(journal.base.unwrap_or_default());
    w.u64(journal.removed.len() as u64);
    for (package, version, architecture) in &journal.removed {
        w.str(package);
        w.str(version);
        w.str(architecture);
    }
    write_entries(&mut w, &journal.added);
    w.finish()
}

fn decode_delta(bytes: &[u8]) -> Result<Journal, String> {
    let mut r = Reader::new(bytes, DELTA_MAGIC)?;
    let base = r.u64()?;
    let count = r.u64()?;
    if count > bytes.len() as u64 / 12 {
        return Err(format!("implausible removal count {count}"));
    }
    let mut removed = Vec::with_capacity(count as usize);
    for _ in 0..count {
        removed.push((r.str()?, r.str()?, r.str()?));
    }
    let added = read_entries(&mut r, bytes.len())?;
    if !r.is_done() {
        return Err("trailing bytes after the last entry".into());
    }
    Ok(Journal {
        base: Some(base),
        added,
        removed,
        overflow: false,
    })
}

fn encode(state: &SuiteState) -> Vec<u8> {
    let guess = state
        .entries
        .iter()
        .map(|e| e.control.len() + e.filename.len() + 160)
        .sum();
    let mut w = Writer::new(MAGIC, guess);
    write_entries(&mut w, &state.entries);
    w.finish()
}

fn write_entries(w: &mut Writer, entries: &[Entry]) {
    w.u64(entries.len() as u64);
    for e in entries {
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
}

fn decode(bytes: &[u8]) -> Result<Vec<Entry>, String> {
    let mut r = Reader::new(bytes, MAGIC)?;
    let entries = read_entries(&mut r, bytes.len())?;
    if !r.is_done() {
        return Err("trailing bytes after the last entry".into());
    }
    Ok(entries)
}

fn read_entries(r: &mut Reader, file_len: usize) -> Result<Vec<Entry>, String> {
    let count = r.u64()?;
    // Each entry takes at least 40 bytes: a count beyond that is damage, not a huge suite.
    if count > file_len as u64 / 40 {
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
    Ok(entries)
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
    Ok(SuiteState::new(entries))
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
        let state = SuiteState::new(vec![entry("app", "1:2.0-1"), entry("other", "1")]);
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
    fn small_changes_go_to_the_delta_and_many_rewrite_the_state() {
        let dir = tempfile::tempdir().unwrap();
        let (repo, suites) = (dir.path(), dir.path().join(META_DIR).join("suites"));
        let mut state =
            SuiteState::new((0..100).map(|i| entry(&format!("p{i:03}"), "1")).collect());
        state.sort();
        save(repo, "s", &state).unwrap();
        let base = std::fs::read(suites.join("s.state")).unwrap();
        assert!(!suites.join("s.delta").exists());

        // Publishes that each add, drop (retention) or remove a little touch only the delta.
        let mut state = load(repo, "s").unwrap();
        state.add(entry("p050", "2"));
        state.add(entry("p050", "3"));
        state.add(entry("new", "1"));
        assert_eq!(state.retain_newest(2).len(), 1, "p050 1 goes");
        save(repo, "s", &state).unwrap();
        let mut again = load(repo, "s").unwrap();
        assert_eq!(again, state);
        assert_eq!(std::fs::read(suites.join("s.state")).unwrap(), base);
        assert_eq!(again.remove(("p010", "1", "amd64")).len(), 1);
        again.add(entry("later", "1"));
        assert_eq!(
            again.remove(("later", "1", "amd64")).len(),
            1,
            "added and gone"
        );
        assert_eq!(again.remove(("new", "1", "amd64")).len(), 1);
        save(repo, "s", &again).unwrap();
        let third = load(repo, "s").unwrap();
        assert_eq!(third, again);
        assert!(third.find("p010", "1", "amd64").is_none());
        assert!(third.find("new", "1", "amd64").is_none());
        assert!(third.find("p050", "3", "amd64").is_some());
        assert_eq!(std::fs::read(suites.join("s.state")).unwrap(), base);

        // Many changes rewrite the state file and drop the delta.
        let mut many = third.clone();
        for i in 0..70 {
            many.add(entry(&format!("q{i:03}"), "1"));
        }
        save(repo, "s", &many).unwrap();
        assert!(!suites.join("s.delta").exists());
        assert_ne!(std::fs::read(suites.join("s.state")).unwrap(), base);
        let mut reloaded = load(repo, "s").unwrap();
        many.sort();
        assert_eq!(reloaded, many);
        // A delta written against an older state file is not applied to a newer one.
        std::fs::write(suites.join("s.delta"), encode_delta(&third.journal)).unwrap();
        reloaded = load(repo, "s").unwrap();
        assert_eq!(reloaded, many);
    }

    #[test]
    fn retention_keeps_the_newest_by_dpkg_order() {
        let mut s = SuiteState::new(
            ["1.0-1", "1.10-1", "1.9-1", "1.0~rc1-1", "2.0-1"]
                .iter()
                .map(|v| entry("app", v))
                .chain([entry("other", "1")])
                .collect(),
        );
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
