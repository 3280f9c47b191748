//! Publishing a suite, in the order that keeps every client consistent (reference §4, §7):
//! pool files are already in place; then by-hash copies of the new indexes; then the
//! canonical `Packages*` (temp, fsync, rename); then `Release`, `Release.gpg` and `InRelease`
//! last. The previous index generations stay reachable by hash, so a client that fetched the
//! old InRelease a moment ago still finds exactly the files it names.

use std::collections::BTreeSet;
use std::fs;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::config::{Config, META_DIR};
use crate::error::{io, Error};
use crate::index::{self, IndexFile};
use crate::sign::Signer;
use crate::state::{Entry, SuiteState};

/// Index generations kept reachable by hash (apt-ftparchive keeps 3, aptly 2).
pub const KEEP_GENERATIONS: usize = 3;

/// What one publish of a suite referenced, so older generations' files are kept.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Generation {
    pub date: String,
    /// `dists/SUITE`-relative index paths and their SHA-256.
    pub indexes: Vec<(String, String)>,
    /// Repository-relative pool files the indexes list.
    pub pool: Vec<String>,
}

fn generations_file(repo: &Path, suite: &str) -> PathBuf {
    repo.join(META_DIR)
        .join("generations")
        .join(format!("{suite}.json"))
}

/// The retained generations of `suite`, oldest first.
pub fn load_generations(repo: &Path, suite: &str) -> Result<Vec<Generation>, Error> {
    let path = generations_file(repo, suite);
    match fs::read(&path) {
        Ok(bytes) => serde_json::from_slice(&bytes).map_err(|e| Error::State {
            path,
            reason: e.to_string(),
        }),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Vec::new()),
        Err(e) => Err(io("read", &path)(e)),
    }
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

/// Publish `suite` from `state`; returns the new generation.
pub fn publish_suite(
    repo: &Path,
    config: &Config,
    suite: &str,
    state: &SuiteState,
    signer: &Signer,
) -> Result<Generation, Error> {
    let dists = repo.join("dists").join(suite);
    let mut files: Vec<IndexFile> = Vec::new();
    let mut pool = BTreeSet::new();
    for (dir, entries) in index_sets(config, state) {
        pool.extend(entries.iter().map(|e| e.filename.clone()));
        files.extend(index::index_files(&dir, &index::packages_text(&entries))?);
    }

    // 1. by-hash copies, never overwritten (same name = same content).
    for file in &files {
        let dir = Path::new(&file.path).parent().unwrap_or(Path::new(""));
        let by_hash = dists.join(dir).join("by-hash/SHA256").join(&file.sha256);
        if !by_hash.exists() {
            cdkit::atomic::write(&by_hash, &file.bytes)?;
        }
    }
    // 2. canonical index files.
    for file in &files {
        cdkit::atomic::write(&dists.join(&file.path), &file.bytes)?;
    }
    // 3. Release, then its signatures; InRelease is renamed into place last.
    let date = release_date();
    let release = release_text(config, suite, &date, &files);
    let staging = tempfile::Builder::new()
        .prefix(".publish.")
        .tempdir_in(&dists)
        .map_err(io("create a temporary directory in", &dists))?;
    let release_tmp = staging.path().join("Release");
    fs::write(&release_tmp, release.as_bytes()).map_err(io("write", &release_tmp))?;
    let inrelease_tmp = staging.path().join("InRelease");
    let detached_tmp = staging.path().join("Release.gpg");
    signer.sign(&release_tmp, &inrelease_tmp, &detached_tmp)?;
    cdkit::atomic::write(&dists.join("Release"), release.as_bytes())?;
    if matches!(signer, Signer::Key { .. }) {
        let detached = fs::read(&detached_tmp).map_err(io("read", &detached_tmp))?;
        cdkit::atomic::write(&dists.join("Release.gpg"), &detached)?;
        let inrelease = fs::read(&inrelease_tmp).map_err(io("read", &inrelease_tmp))?;
        cdkit::atomic::write(&dists.join("InRelease"), &inrelease)?;
    } else {
        for stale in ["InRelease", "Release.gpg"] {
            let path = dists.join(stale);
            if path.exists() {
                fs::remove_file(&path).map_err(io("remove", &path))?;
            }
        }
    }

    // 4. Remember this generation; forget the oldest, and the by-hash files only it used.
    let generation = Generation {
        date,
        indexes: files
            .iter()
            .map(|f| (f.path.clone(), f.sha256.clone()))
            .collect(),
        pool: pool.into_iter().collect(),
    };
    let mut generations = load_generations(repo, suite)?;
    generations.push(generation.clone());
    let excess = generations.len().saturating_sub(KEEP_GENERATIONS);
    generations.drain(..excess);
    let bytes = serde_json::to_vec(&generations).map_err(|e| Error::Usage(e.to_string()))?;
    cdkit::atomic::write(&generations_file(repo, suite), &bytes)?;
    prune_by_hash(&dists, &generations)?;
    Ok(generation)
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

/// Remove by-hash files no retained generation lists.
fn prune_by_hash(dists: &Path, generations: &[Generation]) -> Result<(), Error> {
    let keep: BTreeSet<&str> = generations
        .iter()
        .flat_map(|g| g.indexes.iter().map(|(_, sha)| sha.as_str()))
        .collect();
    let mut dirs: BTreeSet<PathBuf> = BTreeSet::new();
    for generation in generations {
        for (path, _) in &generation.indexes {
            if let Some(dir) = Path::new(path).parent() {
                dirs.insert(dists.join(dir).join("by-hash/SHA256"));
            }
        }
    }
    for dir in dirs {
        let Ok(listing) = fs::read_dir(&dir) else {
            continue;
        };
        for item in listing.flatten() {
            let name = item.file_name().to_string_lossy().into_owned();
            if !keep.contains(name.as_str()) && !name.starts_with('.') {
                fs::remove_file(item.path()).map_err(io("remove", item.path()))?;
            }
        }
    }
    Ok(())
}
