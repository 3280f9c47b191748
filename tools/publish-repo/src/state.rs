//! What each suite contains: one record per package version, with the control fields and
//! checksums its Packages stanza needs. This is the index cache: publishing never re-reads a
//! .deb that is already in the pool.
//!
//! Stored in the compact format of the `codec` module, one state per index generation
//! (`suites/SUITE@STAMP.state`, or `SUITE@STAMP.delta` holding the changes since a full one;
//! see the `generation` module): the state that counts is the live generation's, so it always
//! says what clients see. Loading and saving a 10,000-package suite is part of every publish,
//! and JSON cost tens of milliseconds each way. Suites written by older versions
//! (`suites/SUITE.state` and `.delta`, or `suites/SUITE.json`) are still read.

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
    /// The component it is listed in (`main`).
    pub component: String,
    /// The control file's `Package:`.
    pub package: String,
    /// The control file's `Version:`.
    pub version: String,
    /// The control file's `Architecture:`.
    pub architecture: String,
    /// Path of the .deb relative to the repository root (`pool/main/h/hello/…deb`).
    pub filename: String,
    /// The .deb's size in bytes.
    pub size: u64,
    /// The .deb's MD5 (hex), for the index's `MD5sum:`.
    pub md5: String,
    /// The .deb's SHA-256 (hex): the package's identity in conflict checks.
    pub sha256: String,
    /// The stanza's lines from the .deb's control paragraph, in order (`Name: value\n`…),
    /// without the fields the index writes itself (`index::control_lines`).
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
            cdkit_deb::policy::Version::parse(&self.version),
            cdkit_deb::policy::Version::parse(&other.version),
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
    /// The full state file the changes apply to (`None`: there is none; write one).
    base: Option<Base>,
    added: Vec<Entry>,
    removed: Vec<(String, String, String)>,
    /// Too many changes to keep apart: the whole state is written (and nothing more is
    /// recorded, so a large import does not copy every entry twice).
    overflow: bool,
}

/// A full state file that deltas refer to: its name in `suites/`, and its length and checksum
/// (so a delta is never applied to another file of the same name).
#[derive(Debug, Clone, PartialEq, Eq)]
struct Base {
    file: String,
    identity: u64,
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

    /// Keep the newest `keep` versions of each package and architecture; returns the dropped
    /// (`keep` 0 drops everything: the operations refuse `--keep 0`).
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
            if run <= keep {
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

/// Magic of the state file and of the delta files; the digit is the format version (a
/// delta of version 2 belongs to the `SUITE.state` of an older publish-repo, one of version 3
/// names its base file).
const MAGIC: &[u8] = b"publish-repo suite state 2\n";
const LEGACY_DELTA_MAGIC: &[u8] = b"publish-repo suite delta 2\n";
const DELTA_MAGIC: &[u8] = b"publish-repo suite delta 3\n";

fn dir(repo: &Path) -> PathBuf {
    repo.join(META_DIR).join("suites")
}

/// The files of an older publish-repo, which kept one state per suite.
fn legacy_names(suite: &str) -> [String; 3] {
    [
        format!("{suite}.state"),
        format!("{suite}.delta"),
        format!("{suite}.json"),
    ]
}

/// Which state file a delta belongs to: its length and checksum.
fn identity(bytes: &[u8]) -> u64 {
    ((bytes.len() as u64) << 32) | u64::from(crate::codec::crc32(bytes))
}

/// The bytes of `path`, or `None` if there is no such file.
fn read_if_there(path: &Path) -> Result<Option<Vec<u8>>, Error> {
    match std::fs::read(path) {
        Ok(bytes) => Ok(Some(bytes)),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(io("read", path)(e)),
    }
}

/// Read the state of the suite's live generation (empty if it was never published).
///
/// Readers without the repository lock (`list`, `verify`, rollback's plan) may race a
/// publisher that switches generations and deletes the previous one's files: a generation's
/// files gone while the link moved on are read again from the new one.
pub fn load(repo: &Path, suite: &str) -> Result<SuiteState, Error> {
    let mut attempts = 0;
    loop {
        let Some(stamp) = crate::generation::live(repo, suite) else {
            return load_unkeyed(repo, suite);
        };
        let loaded = load_generation(repo, suite, &stamp);
        let moved = || crate::generation::live(repo, suite).as_deref() != Some(stamp.as_str());
        match loaded {
            Ok(Some(state)) => return Ok(state),
            Ok(None) | Err(_) if attempts < 5 && moved() => attempts += 1,
            // Published by an older publish-repo (or by `init`, empty).
            Ok(None) => return load_unkeyed(repo, suite),
            Err(e) => return Err(e),
        }
    }
}

/// The state of generation `stamp` (`None` if it has no state files).
fn load_generation(repo: &Path, suite: &str, stamp: &str) -> Result<Option<SuiteState>, Error> {
    let dir = dir(repo);
    let delta_path = crate::generation::file(&dir, suite, stamp, "delta");
    if let Some(delta) = read_if_there(&delta_path)? {
        let corrupt = |reason| Error::State {
            path: delta_path.clone(),
            reason,
        };
        let mut r = Reader::new(&delta, DELTA_MAGIC).map_err(corrupt)?;
        let base = Base {
            file: r.str().map_err(corrupt)?,
            identity: r.u64().map_err(corrupt)?,
        };
        let journal = decode_changes(r, delta.len(), Some(base.clone())).map_err(corrupt)?;
        let base_path = dir.join(&base.file);
        let bytes = read_if_there(&base_path)?
            .ok_or_else(|| corrupt(format!("its base {} is missing", base.file)))?;
        if identity(&bytes) != base.identity || base.file.contains('/') {
            return Err(corrupt(format!("{} is not its base any more", base.file)));
        }
        return Ok(Some(apply(decode_file(&base_path, &bytes)?, journal)));
    }
    let file = crate::generation::file_name(suite, stamp, "state");
    let full = dir.join(&file);
    match read_if_there(&full)? {
        Some(bytes) => {
            let entries = decode_file(&full, &bytes)?;
            Ok(Some(SuiteState {
                entries,
                journal: Journal {
                    base: Some(Base {
                        file,
                        identity: identity(&bytes),
                    }),
                    ..Journal::default()
                },
            }))
        }
        None => Ok(None),
    }
}

/// The entries of the full state file `path` holding `bytes`.
fn decode_file(path: &Path, bytes: &[u8]) -> Result<Vec<Entry>, Error> {
    decode(bytes).map_err(|reason| Error::State {
        path: path.to_path_buf(),
        reason,
    })
}

/// The entries of a full state with a journal's changes applied; the journal is kept, so
/// the next save writes a delta with these changes and its own.
fn apply(mut entries: Vec<Entry>, journal: Journal) -> SuiteState {
    let removed: std::collections::HashSet<Key> = journal
        .removed
        .iter()
        .map(|(p, v, a)| (p.as_str(), v.as_str(), a.as_str()))
        .collect();
    entries.retain(|e| !removed.contains(&e.key()));
    entries.extend(journal.added.iter().cloned());
    let mut state = SuiteState {
        entries,
        journal: Journal::default(),
    };
    state.sort();
    state.journal = journal;
    state
}

/// The state an older publish-repo kept for the whole suite (`SUITE.state` and `SUITE.delta`,
/// or `SUITE.json`). The next save writes a full state of the new generation.
fn load_unkeyed(repo: &Path, suite: &str) -> Result<SuiteState, Error> {
    let [state_name, delta_name, _] = legacy_names(suite);
    let path = dir(repo).join(state_name);
    let Some(bytes) = read_if_there(&path)? else {
        return load_legacy(repo, suite);
    };
    let entries = decode_file(&path, &bytes)?;
    let path = dir(repo).join(delta_name);
    let Some(delta) = read_if_there(&path)? else {
        return Ok(SuiteState::new(entries));
    };
    let journal = (|| {
        let mut r = Reader::new(&delta, LEGACY_DELTA_MAGIC)?;
        let base = r.u64()?;
        Ok::<_, String>((base, decode_changes(r, delta.len(), None)?))
    })()
    .map_err(|reason| Error::State { path, reason })?;
    // A delta of an earlier state file: that file was rewritten with the changes in it.
    Ok(match journal {
        (base, changes) if base == identity(&bytes) => {
            let mut state = apply(entries, changes);
            state.journal = Journal::default();
            state
        }
        _ => SuiteState::new(entries),
    })
}

/// Write the suite's state as generation `stamp`'s, durably (it must be on disk before the
/// switch makes it the live one): the changes since the last full state file when they are
/// few, else the whole state. Returns the file names the generation's state consists of (for
/// [`forget_others`] once it is live).
pub fn save(
    repo: &Path,
    suite: &str,
    stamp: &str,
    state: &SuiteState,
) -> Result<Vec<String>, Error> {
    let dir = dir(repo);
    if let (true, Some(base)) = (
        state.journal.is_small(state.entries.len()),
        &state.journal.base,
    ) {
        let name = crate::generation::file_name(suite, stamp, "delta");
        cdkit::atomic::write(&dir.join(&name), &encode_delta(base, &state.journal))?;
        return Ok(vec![name, base.file.clone()]);
    }
    let name = crate::generation::file_name(suite, stamp, "state");
    cdkit::atomic::write(&dir.join(&name), &encode(state))?;
    Ok(vec![name])
}

/// Delete the state files of every generation but the live one (`keep`, from [`save`]) and
/// an older publish-repo's: call after the switch.
pub fn forget_others(repo: &Path, suite: &str, keep: &[String]) -> Result<(), Error> {
    crate::generation::forget_others(&dir(repo), suite, keep, &legacy_names(suite))
}

/// Delete the state files of generation `stamp`, which did not go live.
pub fn discard(repo: &Path, suite: &str, stamp: &str) {
    crate::generation::discard(&dir(repo), suite, stamp);
}

fn encode_delta(base: &Base, journal: &Journal) -> Vec<u8> {
    let mut w = Writer::new(DELTA_MAGIC, journal.added.len() * 700);
    w.str(&base.file);
    w.u64(base.identity);
    w.u64(journal.removed.len() as u64);
    for (package, version, architecture) in &journal.removed {
        w.str(package);
        w.str(version);
        w.str(architecture);
    }
    write_entries(&mut w, &journal.added);
    w.finish()
}

/// The removals and additions of a delta (after its header).
fn decode_changes(mut r: Reader, len: usize, base: Option<Base>) -> Result<Journal, String> {
    let count = r.u64()?;
    if count > len as u64 / 12 {
        return Err(format!("implausible removal count {count}"));
    }
    let mut removed = Vec::with_capacity(count as usize);
    for _ in 0..count {
        removed.push((r.str()?, r.str()?, r.str()?));
    }
    let added = read_entries(&mut r, len)?;
    if !r.is_done() {
        return Err("trailing bytes after the last entry".into());
    }
    Ok(Journal {
        base,
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

    /// Save `state` as a new generation and make that generation live (as the switch does).
    fn publish(repo: &Path, suite: &str, state: &SuiteState) -> Vec<String> {
        let stamp = crate::generation::new_stamp();
        let files = save(repo, suite, &stamp, state).unwrap();
        let dists = repo.join("dists");
        std::fs::create_dir_all(&dists).unwrap();
        let link = dists.join(suite);
        let _ = std::fs::remove_file(&link);
        std::os::unix::fs::symlink(crate::generation::dir_name(suite, &stamp), &link).unwrap();
        forget_others(repo, suite, &files).unwrap();
        files
    }

    fn names(dir: &Path) -> Vec<String> {
        let mut names: Vec<String> = std::fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        names.sort();
        names
    }

    #[test]
    fn the_compact_format_round_trips_and_reads_older_layouts() {
        let dir = tempfile::tempdir().unwrap();
        let repo = dir.path();
        let suites = repo.join(META_DIR).join("suites");
        let state = SuiteState::new(vec![entry("app", "1:2.0-1"), entry("other", "1")]);
        publish(repo, "testing", &state);
        assert_eq!(load(repo, "testing").unwrap(), state);
        assert_eq!(load(repo, "never").unwrap(), SuiteState::default());

        // A state saved for a generation that never went live does not count.
        let mut unpublished = load(repo, "testing").unwrap();
        unpublished.add(entry("ghost", "1"));
        let stamp = crate::generation::new_stamp();
        save(repo, "testing", &stamp, &unpublished).unwrap();
        assert_eq!(load(repo, "testing").unwrap(), state);
        discard(repo, "testing", &stamp);

        let legacy = r#"{"entries":[{"component":"main","package":"hello","version":"1.0-1",
            "architecture":"all","filename":"pool/main/h/hello/hello_1.0-1_all.deb","size":700,
            "md5":"m","sha256":"s","fields":[["Package","hello"],["SHA256","forged"],
            ["Description","hi\n more"]]}]}"#;
        std::fs::write(suites.join("old.json"), legacy).unwrap();
        let old = load(repo, "old").unwrap();
        assert_eq!(
            old.entries[0].control,
            "Package: hello\nDescription: hi\n more\n"
        );
        assert_eq!(old.entries[0].size, 700);
        publish(repo, "old", &old);
        assert!(
            !suites.join("old.json").exists(),
            "the stale JSON is removed"
        );
        assert_eq!(load(repo, "old").unwrap(), old);

        // The single state file of the previous format, with its delta.
        let bytes = encode(&SuiteState::new(vec![entry("a", "1"), entry("b", "1")]));
        std::fs::write(suites.join("prev.state"), &bytes).unwrap();
        let mut w = Writer::new(LEGACY_DELTA_MAGIC, 100);
        w.u64(identity(&bytes));
        w.u64(1);
        for text in ["a", "1", "amd64"] {
            w.str(text);
        }
        write_entries(&mut w, &[entry("c", "1")]);
        std::fs::write(suites.join("prev.delta"), w.finish()).unwrap();
        let prev = load(repo, "prev").unwrap();
        let ids: Vec<String> = prev.entries.iter().map(Entry::id).collect();
        assert_eq!(ids, ["b_1_amd64", "c_1_amd64"]);
        publish(repo, "prev", &prev);
        assert!(!suites.join("prev.state").exists() && !suites.join("prev.delta").exists());
        assert_eq!(load(repo, "prev").unwrap(), prev);

        let live = publish(repo, "testing", &state);
        let path = suites.join(&live[0]);
        let mut bytes = std::fs::read(&path).unwrap();
        bytes.truncate(bytes.len() - 3);
        std::fs::write(&path, bytes).unwrap();
        let err = load(repo, "testing").unwrap_err().to_string();
        assert!(err.contains(".state is corrupt"), "{err}");
    }

    #[test]
    fn small_changes_go_to_the_delta_and_many_rewrite_the_state() {
        let dir = tempfile::tempdir().unwrap();
        let (repo, suites) = (dir.path(), dir.path().join(META_DIR).join("suites"));
        let mut state =
            SuiteState::new((0..100).map(|i| entry(&format!("p{i:03}"), "1")).collect());
        state.sort();
        let first = publish(repo, "s", &state);
        assert_eq!(first.len(), 1, "a full state");
        let base = first[0].clone();
        let base_bytes = std::fs::read(suites.join(&base)).unwrap();

        // Publishes that each add, drop (retention) or remove a little write only a delta
        // against the same base.
        let mut state = load(repo, "s").unwrap();
        state.add(entry("p050", "2"));
        state.add(entry("p050", "3"));
        state.add(entry("new", "1"));
        assert_eq!(state.retain_newest(2).len(), 1, "p050 1 goes");
        let second = publish(repo, "s", &state);
        assert!(
            second[0].ends_with(".delta") && second[1] == base,
            "{second:?}"
        );
        let mut again = load(repo, "s").unwrap();
        assert_eq!(again, state);
        assert_eq!(again.remove(("p010", "1", "amd64")).len(), 1);
        again.add(entry("later", "1"));
        assert_eq!(
            again.remove(("later", "1", "amd64")).len(),
            1,
            "added and gone"
        );
        assert_eq!(again.remove(("new", "1", "amd64")).len(), 1);
        let third_files = publish(repo, "s", &again);
        let third = load(repo, "s").unwrap();
        assert_eq!(third, again);
        assert!(third.find("p010", "1", "amd64").is_none());
        assert!(third.find("new", "1", "amd64").is_none());
        assert!(third.find("p050", "3", "amd64").is_some());
        assert_eq!(std::fs::read(suites.join(&base)).unwrap(), base_bytes);
        assert_eq!(names(&suites), {
            let mut n = third_files.clone();
            n.sort();
            n
        });

        // Many changes write a full state; the old base and delta go once it is live.
        let mut many = third.clone();
        for i in 0..70 {
            many.add(entry(&format!("q{i:03}"), "1"));
        }
        let fourth = publish(repo, "s", &many);
        assert_eq!(fourth.len(), 1);
        assert_eq!(names(&suites), fourth);
        let reloaded = load(repo, "s").unwrap();
        many.sort();
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
