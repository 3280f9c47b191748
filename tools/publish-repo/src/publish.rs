//! Publishing a suite so that every client stays consistent (an apt update that starts
//! before a publish and ends after it must still see one coherent generation): pool files
//! are already in place; a complete new `dists/SUITE` tree (indexes, by-hash files of every
//! retained generation, Release, Release.gpg, InRelease) is written beside the live one and
//! switched in with one rename. The previous index generations stay reachable by hash, so a
//! client that fetched the old InRelease a moment ago still finds exactly the files it names.

use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};
use std::time::Instant;

use serde::{Deserialize, Serialize};

use crate::config::{Config, META_DIR};
use crate::error::{io, Error};
use crate::index::{self, IndexFile};
use crate::sign::Signer;
use crate::state::{Entry, SuiteState};

/// Index generations kept reachable by hash however old (apt-ftparchive keeps 3, aptly 2).
pub const KEEP_GENERATIONS: usize = 3;

/// Younger generations are kept too: a client may be in the middle of an update that began
/// several publishes ago (a busy CI can publish many times a minute).
pub const GRACE_SECONDS: i64 = 15 * 60;

/// What one publish of a suite listed in its Release, so its files stay reachable by hash.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Generation {
    /// Counts the suite's publishes.
    pub seq: u64,
    pub date: String,
    /// Unix time of the publish, for the grace period.
    pub published: i64,
    /// `dists/SUITE`-relative index paths and their SHA-256.
    pub indexes: Vec<(String, String)>,
}

/// A suite's publishing history: the retained generations, and the pool files that left the
/// suite while a retained generation may still list them. Pool files the suite lists now are
/// in every generation from now on, so only those that left need remembering (a list of
/// every generation's pool files grew by the whole suite on every publish).
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct History {
    pub next_seq: u64,
    /// Oldest first.
    pub generations: Vec<Generation>,
    /// Pool file -> `seq` of the last generation that listed it.
    pub left: BTreeMap<String, u64>,
}

impl History {
    /// Record a new generation (published at `now`, listing `indexes` and the pool files
    /// `listed`); `dropped` are the pool files the suite listed before and does not now.
    /// Returns the pool files no retained generation lists any more.
    fn advance<'a, 'b>(
        &mut self,
        dropped: impl IntoIterator<Item = &'a str>,
        listed: impl IntoIterator<Item = &'b str>,
        date: String,
        indexes: Vec<(String, String)>,
        now: i64,
    ) -> Vec<String> {
        // Files that left the suite were last listed by the generation live until now (with
        // none, nothing ever listed them).
        let mut expired = Vec::new();
        for file in dropped {
            match self.generations.last() {
                Some(live) => {
                    let seq = self.left.entry(file.to_string()).or_insert(live.seq);
                    *seq = (*seq).max(live.seq);
                }
                None => expired.push(file.to_string()),
            }
        }
        for file in listed {
            self.left.remove(file);
        }
        self.generations.push(Generation {
            seq: self.next_seq,
            date,
            published: now,
            indexes,
        });
        self.next_seq += 1;
        expired.extend(self.expire(now));
        expired
    }

    /// Drop generations no client can still be reading (all but the newest
    /// [`KEEP_GENERATIONS`] and those younger than [`GRACE_SECONDS`]), oldest first, so the
    /// retained ones are always the newest run; then forget the pool files only dropped
    /// generations listed, and return them.
    fn expire(&mut self, now: i64) -> Vec<String> {
        let count = self.generations.len();
        let first = self
            .generations
            .iter()
            .position(|g| now - g.published < GRACE_SECONDS)
            .unwrap_or(count)
            .min(count.saturating_sub(KEEP_GENERATIONS));
        self.generations.drain(..first);
        let oldest = self.generations.first().map_or(u64::MAX, |g| g.seq);
        let expired: Vec<String> = self
            .left
            .iter()
            .filter(|(_, seq)| **seq < oldest)
            .map(|(file, _)| file.clone())
            .collect();
        for file in &expired {
            self.left.remove(file);
        }
        expired
    }
}

fn history_dir(repo: &Path) -> PathBuf {
    repo.join(META_DIR).join("generations")
}

/// The history an older publish-repo kept for the whole suite.
fn legacy_history_name(suite: &str) -> String {
    format!("{suite}.json")
}

/// The history of the suite's live generation (empty if it was never published).
pub fn load_history(repo: &Path, suite: &str) -> Result<History, Error> {
    let keyed = crate::generation::live(repo, suite)
        .map(|stamp| crate::generation::file(&history_dir(repo), suite, &stamp, "json"))
        .filter(|path| path.exists());
    let path = keyed.unwrap_or_else(|| history_dir(repo).join(legacy_history_name(suite)));
    read_history(&path)
}

/// Remove what a publish of generation `stamp` wrote (its tree, state and history) if that
/// generation did not go live: the publish failed, and the previous one stays as it was.
/// Best effort (the next successful publish removes what is left).
pub fn discard(repo: &Path, suite: &str, stamp: &str) {
    if crate::generation::live(repo, suite).as_deref() == Some(stamp) {
        return; // it did go live: it is the suite now
    }
    let tree = repo
        .join("dists")
        .join(crate::generation::dir_name(suite, stamp));
    if let Err(e) = fs::remove_dir_all(&tree) {
        if e.kind() != std::io::ErrorKind::NotFound {
            tracing::warn!("cannot remove the unpublished {}: {e}", tree.display());
        }
    }
    crate::generation::discard(&history_dir(repo), suite, stamp);
    crate::state::discard(repo, suite, stamp);
}

/// Read a stored history (empty if there is none).
fn read_history(path: &Path) -> Result<History, Error> {
    /// A generation as older versions stored it: with every pool file it listed.
    #[derive(Deserialize)]
    struct LegacyGeneration {
        date: String,
        #[serde(default)]
        published: i64,
        indexes: Vec<(String, String)>,
        pool: Vec<String>,
    }
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Stored {
        Current(History),
        Legacy(Vec<LegacyGeneration>),
    }
    let path = path.to_path_buf();
    let bytes = match fs::read(&path) {
        Ok(bytes) => bytes,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(History::default()),
        Err(e) => return Err(io("read", &path)(e)),
    };
    let stored: Stored = serde_json::from_slice(&bytes).map_err(|e| Error::State {
        path,
        reason: e.to_string(),
    })?;
    Ok(match stored {
        Stored::Current(history) => history,
        Stored::Legacy(generations) => {
            let mut history = History::default();
            for (seq, g) in (0u64..).zip(generations) {
                for file in g.pool {
                    history.left.insert(file, seq);
                }
                history.generations.push(Generation {
                    seq,
                    date: g.date,
                    published: g.published,
                    indexes: g.indexes,
                });
                history.next_seq = seq + 1;
            }
            history
        }
    })
}

/// The `Date:` of a publish: now, in the format apt parses (RFC 2822, UTC).
fn release_date() -> String {
    chrono::Utc::now()
        .format("%a, %d %b %Y %H:%M:%S UTC")
        .to_string()
}

/// The index directories of a suite: `COMPONENT/binary-ARCH`, with arch-all packages listed
/// in every binary architecture (and in `binary-all` when `all` is configured).
fn index_sets<'a>(config: &'a Config, state: &'a SuiteState) -> Vec<(String, Vec<&'a Entry>)> {
    let mut sets = Vec::new();
    for component in &config.components {
        for arch in &config.architectures {
            let entries: Vec<&Entry> = state
                .entries
                .iter()
                .filter(|e| &e.component == component)
                .filter(|e| {
                    if arch == "all" {
                        e.architecture == "all"
                    } else {
                        &e.architecture == arch || e.architecture == "all"
                    }
                })
                .collect();
            sets.push((format!("{component}/binary-{arch}"), entries));
        }
    }
    sets
}

/// One suite's publish: where, what and how it is signed ([`publish_suite`]).
pub struct SuitePublish<'a> {
    /// The repository's root directory.
    pub repo: &'a Path,
    /// The repository's settings (Release fields, components, architectures).
    pub config: &'a Config,
    /// The suite published.
    pub suite: &'a str,
    /// The new generation's stamp ([`crate::generation::new_stamp`]).
    pub stamp: &'a str,
    /// What the suite lists from now on.
    pub state: &'a SuiteState,
    /// How Release is signed.
    pub signer: &'a Signer,
}

/// Publish `job.suite` from `job.state` as generation `job.stamp`; `dropped` are the pool
/// files the previous state listed and `job.state` does not; `before_switch` runs (and must
/// succeed) after the new tree is complete and before anything refers to it (the caller saves
/// the generation's state meanwhile). Returns the pool files that no retained generation of
/// this suite lists any more (the caller deletes those no other suite needs). An error means
/// the generation did not go live: the caller removes what it wrote ([`discard`]).
///
/// `dists/SUITE` is a symbolic link to a complete directory (`dists/.SUITE.STAMP`): the new
/// generation is written in full beside it (indexes, by-hash files of every retained
/// generation hard-linked in, Release and signatures), then the link is replaced with one
/// `rename(2)`. A publisher killed at any point leaves the old tree or the new one, never a
/// mix; a client that read the old InRelease still finds every index it names by hash.
pub fn publish_suite<'a>(
    job: &SuitePublish,
    dropped: impl IntoIterator<Item = &'a str>,
    before_switch: impl FnOnce() -> Result<(), Error>,
) -> Result<Vec<String>, Error> {
    let (repo, suite) = (job.repo, job.suite);
    let mut clock = Clock::start();
    let dists = repo.join("dists");
    let link = dists.join(suite);
    fs::create_dir_all(&dists).map_err(io("create", &dists))?;
    let previous = current_generation_dir(&link)?;
    let files = build_indexes(job.config, job.state, previous.as_deref())?;
    clock.lap("indexes");

    let date = release_date();
    let now = chrono::Utc::now().timestamp();
    let mut history = load_history(repo, suite)?;
    let indexes = files
        .iter()
        .map(|f| (f.path.clone(), f.sha256.clone()))
        .collect();
    let expired = history.advance(
        dropped,
        job.state.entries.iter().map(|e| e.filename.as_str()),
        date.clone(),
        indexes,
        now,
    );

    let name = crate::generation::dir_name(suite, job.stamp);
    let gen_dir = dists.join(&name);
    fs::create_dir(&gen_dir).map_err(io("create", &gen_dir))?;
    write_indexes(&gen_dir, &files, previous.as_deref(), &history)?;
    clock.lap("write");
    write_release(job, &gen_dir, &date, &files, previous.as_deref())?;
    clock.lap("sign");

    before_switch()?;
    // The history of the new generation, which counts once the switch makes it live.
    let history_name = crate::generation::file_name(suite, job.stamp, "json");
    let history_path = history_dir(repo).join(&history_name);
    cdkit::atomic::write_unsynced(&history_path, |w| {
        serde_json::to_writer(w, &history).map_err(std::io::Error::other)
    })?;
    // One flush for the whole new tree, its state and history (and the pool files added
    // before it).
    cdkit::atomic::sync_filesystem(&gen_dir)?;
    clock.lap("sync");

    switch(&dists, suite, &name)?;
    // Published: from here on a problem is worth a warning, not a failure (the new
    // generation is what clients see, and the next publish tidies up what is left).
    if let Err(e) = tidy(repo, suite, &name, &history_name) {
        tracing::warn!("{suite} is published; tidying up after it failed: {e}");
    }
    clock.lap("switch");
    Ok(expired)
}

/// Every index file of the suite, reusing the unchanged chunks of the `previous`
/// generation's compressed indexes.
fn build_indexes(
    config: &Config,
    state: &SuiteState,
    previous: Option<&Path>,
) -> Result<Vec<IndexFile>, Error> {
    let mut files: Vec<IndexFile> = Vec::new();
    for (dir, entries) in index_sets(config, state) {
        let (text, ends) = index::packages_text(&entries);
        let before = previous
            .map(|p| index::Previous::read(&p.join(&dir)))
            .unwrap_or_default();
        files.extend(index::index_files(&dir, text, &ends, &before)?.files);
    }
    Ok(files)
}

/// Indexes, and by-hash copies of them (hard links) and of every retained generation's
/// indexes. Nothing here is visible until the switch; one syncfs makes it all durable.
fn write_indexes(
    gen_dir: &Path,
    files: &[IndexFile],
    previous: Option<&Path>,
    history: &History,
) -> Result<(), Error> {
    for file in files {
        let canonical = gen_dir.join(&file.path);
        write_plain(&canonical, &file.bytes)?;
        let by_hash = gen_dir.join(by_hash_path(&file.path, &file.sha256));
        if !by_hash.exists() {
            if let Some(parent) = by_hash.parent() {
                fs::create_dir_all(parent).map_err(io("create", parent))?;
            }
            fs::hard_link(&canonical, &by_hash).map_err(io("link", &by_hash))?;
        }
    }
    if let Some(previous) = previous {
        for generation in &history.generations {
            for (path, sha) in &generation.indexes {
                let rel = by_hash_path(path, sha);
                let (from, to) = (previous.join(&rel), gen_dir.join(&rel));
                if from.exists() && !to.exists() {
                    fs::hard_link(&from, &to).map_err(io("link", &to))?;
                }
            }
        }
    }
    Ok(())
}

/// Release and its signatures; their mtime only ever grows, so HTTP If-Modified-Since
/// (one-second resolution) can never hide a publish that came within the same second.
fn write_release(
    job: &SuitePublish,
    gen_dir: &Path,
    date: &str,
    files: &[IndexFile],
    previous: Option<&Path>,
) -> Result<(), Error> {
    let release = release_text(job.config, job.suite, date, files);
    let release_path = gen_dir.join("Release");
    write_plain(&release_path, release.as_bytes())?;
    job.signer.sign(
        &release_path,
        &gen_dir.join("InRelease"),
        &gen_dir.join("Release.gpg"),
    )?;
    let mtime = next_mtime(previous);
    for name in ["Release", "InRelease", "Release.gpg"] {
        let path = gen_dir.join(name);
        if path.exists() {
            let file = fs::File::options()
                .write(true)
                .open(&path)
                .map_err(io("open", &path))?;
            file.set_modified(mtime)
                .map_err(io("set the time of", &path))?;
        }
    }
    Ok(())
}

/// The switch: `dists/SUITE` becomes a link to the generation directory `name` with one
/// `rename(2)`.
fn switch(dists: &Path, suite: &str, name: &str) -> Result<(), Error> {
    let link = dists.join(suite);
    let tmp_link = dists.join(format!(".{suite}.link"));
    let _ = fs::remove_file(&tmp_link);
    std::os::unix::fs::symlink(name, &tmp_link).map_err(io("create", &tmp_link))?;
    if link.exists() && !link.is_symlink() {
        // A plain directory from an older layout: move it aside first.
        let aside = dists.join(format!(".{suite}.old"));
        fs::rename(&link, &aside).map_err(io("move", &link))?;
    }
    fs::rename(&tmp_link, &link).map_err(io("replace", &link))?;
    Ok(())
}

/// After the switch: make the link durable, and remove the generation directories no link
/// points to and their histories (`name` and `history_name` are the live ones).
fn tidy(repo: &Path, suite: &str, name: &str, history_name: &str) -> Result<(), Error> {
    let dists = repo.join("dists");
    sync_dir(&dists)?;
    remove_old_generation_dirs(&dists, suite, name)?;
    crate::generation::forget_others(
        &history_dir(repo),
        suite,
        &[history_name.to_string()],
        &[legacy_history_name(suite)],
    )
}

/// Milliseconds per step of a publish, at debug level (`-v`), to see where the time goes.
pub struct Clock {
    last: Instant,
}

impl Clock {
    pub fn start() -> Clock {
        Clock {
            last: Instant::now(),
        }
    }

    /// Log the time since the previous lap as `step`.
    pub fn lap(&mut self, step: &str) {
        let now = Instant::now();
        tracing::debug!(
            step,
            "{step}: {:.1} ms",
            (now - self.last).as_secs_f64() * 1000.0
        );
        self.last = now;
    }
}

/// `COMPONENT/binary-ARCH/by-hash/SHA256/HEX` for an index path and its hash.
fn by_hash_path(index: &str, sha256: &str) -> PathBuf {
    let dir = Path::new(index).parent().unwrap_or(Path::new(""));
    dir.join("by-hash/SHA256").join(sha256)
}

/// The directory `dists/SUITE` points to now, if it exists.
fn current_generation_dir(link: &Path) -> Result<Option<PathBuf>, Error> {
    if !link.exists() {
        return Ok(None);
    }
    Ok(Some(fs::canonicalize(link).map_err(io("resolve", link))?))
}

/// Write a file in a directory no client sees yet (made durable by the syncfs before the switch).
fn write_plain(path: &Path, bytes: &[u8]) -> Result<(), Error> {
    if let Some(parent) = path.parent() {
        fs::create_dir_all(parent).map_err(io("create", parent))?;
    }
    fs::write(path, bytes).map_err(io("write", path))
}

fn sync_dir(dir: &Path) -> Result<(), Error> {
    fs::File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(io("sync", dir))
}

/// Now, or one second after the previous Release's mtime if that is not earlier.
fn next_mtime(previous: Option<&Path>) -> std::time::SystemTime {
    let now = std::time::SystemTime::now();
    let before = previous
        .and_then(|p| fs::metadata(p.join("Release")).ok())
        .and_then(|m| m.modified().ok());
    match before {
        Some(t) if t + std::time::Duration::from_secs(1) > now => {
            t + std::time::Duration::from_secs(1)
        }
        _ => now,
    }
}

/// Delete `dists/.SUITE.*` directories except `keep` (half-written ones of a killed
/// publisher included: the caller holds the repository lock).
fn remove_old_generation_dirs(dists: &Path, suite: &str, keep: &str) -> Result<(), Error> {
    let prefix = format!(".{suite}.");
    for item in fs::read_dir(dists).map_err(io("read", dists))?.flatten() {
        let name = item.file_name().to_string_lossy().into_owned();
        if name.starts_with(&prefix)
            && name != keep
            && item.path().is_dir()
            && !item.path().is_symlink()
        {
            fs::remove_dir_all(item.path()).map_err(io("remove", item.path()))?;
        }
    }
    Ok(())
}

/// The Release file: constant Origin/Label/Suite/Codename, a fresh Date, SHA256 of every index
/// file (the uncompressed Packages included, or apt silently ignores the index).
fn release_text(config: &Config, suite: &str, date: &str, files: &[IndexFile]) -> String {
    let mut text = format!(
        "Origin: {}\nLabel: {}\nSuite: {suite}\nCodename: {suite}\nDate: {date}\nArchitectures: {}\nComponents: {}\nAcquire-By-Hash: yes\nSHA256:\n",
        config.origin,
        config.label,
        config.architectures.join(" "),
        config.components.join(" "),
    );
    for file in files {
        text.push_str(&format!(
            " {} {:>16} {}\n",
            file.sha256,
            file.bytes.len(),
            file.path
        ));
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    fn advance(h: &mut History, dropped: &[&str], listed: &[&str], now: i64) -> Vec<String> {
        h.advance(
            dropped.iter().copied(),
            listed.iter().copied(),
            String::new(),
            vec![],
            now,
        )
    }

    #[test]
    fn pool_files_expire_with_the_last_generation_that_listed_them() {
        let mut h = History::default();
        // Never published: a dropped file was never listed by any generation.
        assert_eq!(advance(&mut h, &["never"], &["a", "b"], 0), ["never"]);
        assert!(
            advance(&mut h, &["a"], &["b"], 0).is_empty(),
            "generation 0 lists a"
        );
        assert_eq!(h.left.get("a"), Some(&0));
        // Young generations are all kept (grace), however many.
        for _ in 0..5 {
            assert!(advance(&mut h, &[], &["b"], 60).is_empty());
        }
        assert_eq!(h.generations.len(), 7);
        // Later, only the newest KEEP_GENERATIONS stay; a leaves with generation 0.
        let later = 60 + GRACE_SECONDS;
        assert_eq!(advance(&mut h, &[], &["b"], later), ["a"]);
        assert_eq!(h.generations.len(), KEEP_GENERATIONS);
        assert!(h.left.is_empty());
        // A file that comes back is no longer "left".
        assert!(advance(&mut h, &["b"], &["c"], later).is_empty());
        assert!(h.left.contains_key("b"));
        assert!(advance(&mut h, &[], &["b", "c"], later).is_empty());
        assert!(!h.left.contains_key("b"));
        let seqs: Vec<u64> = h.generations.iter().map(|g| g.seq).collect();
        assert_eq!(seqs, [7, 8, 9]);
    }

    #[test]
    fn the_legacy_history_keeps_every_file_its_generations_listed() {
        let dir = tempfile::tempdir().unwrap();
        let path = history_dir(dir.path()).join(legacy_history_name("testing"));
        fs::create_dir_all(path.parent().unwrap()).unwrap();
        fs::write(
            &path,
            r#"[{"date":"d0","published":5,"indexes":[],"pool":["x","y"]},
                {"date":"d1","published":6,"indexes":[["p","s"]],"pool":["y"]}]"#,
        )
        .unwrap();
        let h = load_history(dir.path(), "testing").unwrap();
        assert_eq!(h.next_seq, 2);
        assert_eq!(
            h.generations[1].indexes,
            [("p".to_string(), "s".to_string())]
        );
        assert_eq!(h.left.get("x"), Some(&0));
        assert_eq!(h.left.get("y"), Some(&1));
        fs::write(&path, "{broken").unwrap();
        assert!(load_history(dir.path(), "testing").is_err());
    }
}
