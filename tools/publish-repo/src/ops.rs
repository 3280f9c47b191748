//! The repository operations (add, promote, remove), each under the repository lock,
//! validated completely before anything changes, and reported as one JUnit testcase per
//! package.

use std::collections::{BTreeSet, HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use cdkit::exit::Exit;
use cdkit::junit::{Case, Problem, Status};
use cdkit::lock::Lock;

use crate::config::{self, Config, META_DIR};
use crate::error::Error;
use crate::pool;
use crate::publish::{self, Clock};
use crate::sign::Signer;
use crate::state::{self, Entry, Key, SuiteState};

/// What every operation needs besides its own arguments.
pub struct Context<'a> {
    /// The repository's root directory.
    pub repo: &'a Path,
    /// How every publish of the operation is signed.
    pub signer: &'a Signer,
    /// How long to wait for another publisher.
    pub lock_timeout: Duration,
    /// Versions of each package kept per suite.
    pub keep: usize,
}

/// The outcome of an operation: its testcases and exit status.
#[derive(Debug)]
pub struct OpOutcome {
    /// One testcase per package (or one for the whole operation).
    pub cases: Vec<Case>,
    /// The exit status the operation stands for.
    pub exit: Exit,
}

/// The default of `--keep`.
pub const DEFAULT_KEEP: usize = 5;

/// Take the repository lock (an uninitialised repository is bad input, not a lock problem),
/// after checking the arguments every operation shares.
fn lock(ctx: &Context) -> Result<Lock, Error> {
    if ctx.keep == 0 {
        return Err(Error::Usage(
            "--keep 0 would drop every version: keep at least 1".into(),
        ));
    }
    if !config::path(ctx.repo).exists() {
        return Err(config::not_initialised(ctx.repo));
    }
    lock_dir(ctx.repo, ctx.lock_timeout)
}

fn lock_dir(repo: &Path, timeout: Duration) -> Result<Lock, Error> {
    Ok(Lock::acquire(
        &repo.join(META_DIR).join("lock"),
        &cdkit::lock::describe_self("publish-repo"),
        timeout,
    )?)
}

/// `init`: under the repository lock, write the configuration (or check it against the
/// existing one) and, with a signer, publish every never-published suite empty. Returns
/// whether the configuration changed.
pub fn init(
    repo: &Path,
    config: &Config,
    signer: Option<&Signer>,
    lock_timeout: Duration,
) -> Result<bool, Error> {
    config.validate()?;
    let meta = repo.join(META_DIR);
    std::fs::create_dir_all(&meta).map_err(crate::error::io("create", &meta))?;
    let _lock = lock_dir(repo, lock_timeout)?;
    let changed = config::init(repo, config)?;
    let pool = repo.join("pool");
    std::fs::create_dir_all(&pool).map_err(crate::error::io("create", &pool))?;
    if let Some(signer) = signer {
        let ctx = Context {
            repo,
            signer,
            lock_timeout,
            keep: DEFAULT_KEEP,
        };
        publish_unpublished(&ctx)?;
    }
    Ok(changed)
}

fn case(suite: &str, component: &str, name: String, started: Instant) -> Case {
    let mut c = Case::passed(format!("publish-repo.{suite}.{component}"), name);
    c.time = started.elapsed();
    c
}

/// A package of an `add` batch: the path it was given as, and the entry it becomes.
type Candidate = (PathBuf, Entry);

/// Packages refused because their name, version and architecture exist with other bytes:
/// each package's id and why, one per id.
type Conflicts = Vec<(String, String)>;

/// Records a conflict for `id` unless it already has one (one testcase per package).
fn add_conflict(conflicts: &mut Conflicts, id: String, message: impl FnOnce() -> String) {
    if !conflicts.iter().any(|(known, _)| *known == id) {
        conflicts.push((id, message()));
    }
}

/// Where an `add` lists its packages, and when it started (each testcase's time).
struct Target<'a> {
    suite: &'a str,
    component: &'a str,
    started: Instant,
}

impl Target<'_> {
    fn case(&self, name: String) -> Case {
        case(self.suite, self.component, name, self.started)
    }
}

/// An `add` batch that is valid input: its packages, their file-name warnings (by index in
/// `candidates`), and the packages it gives twice with other bytes.
struct Batch {
    candidates: Vec<Candidate>,
    warnings: HashMap<usize, String>,
    conflicts: Conflicts,
}

/// How the batch meets the repository: whether each candidate is new to the suite, and the
/// pool files to replace (left by an interrupted publish, listed by no index).
struct Placement {
    new_here: Vec<bool>,
    orphans: BTreeSet<String>,
}

/// `add`: copy the packages into the pool and list them in `suite`.
/// `strict`: a .deb whose file name contradicts its control file is refused rather than
/// published with a warning.
pub fn add(
    ctx: &Context,
    suite: &str,
    component: &str,
    debs: &[PathBuf],
    strict: bool,
) -> Result<OpOutcome, Error> {
    let target = Target {
        suite,
        component,
        started: Instant::now(),
    };
    if debs.is_empty() {
        return Err(Error::Usage(
            "no .deb files given (as arguments or on stdin)".into(),
        ));
    }
    let mut clock = Clock::start();
    let _lock = lock(ctx)?;
    let config = config::load(ctx.repo)?;
    config.check_suite(suite)?;
    config.check_component(component)?;

    let mut batch = read_batch(&config, component, debs, strict, &mut clock)?;
    let all = load_all(ctx.repo, &config)?;
    clock.lap("load state");
    let placement = check_against_repository(ctx.repo, &all, suite, &mut batch)?;
    if !batch.conflicts.is_empty() {
        return Ok(refusal(&target, batch));
    }
    // The last check before the repository changes.
    ctx.signer.ready()?;
    store_and_publish(ctx, &config, &target, all, batch, placement, &mut clock)
}

/// Read and validate every package before anything changes (two readers: parsing is cheap,
/// but the checksums read every byte). Every bad input of the batch is named, not only the
/// first: a release job that fixes one file per run is a slow loop.
fn read_batch(
    config: &Config,
    component: &str,
    debs: &[PathBuf],
    strict: bool,
    clock: &mut Clock,
) -> Result<Batch, Error> {
    let infos = read_all(debs)?;
    clock.lap("read .debs");
    let mut problems: Vec<String> = Vec::new();
    let mut warnings: HashMap<usize, String> = HashMap::new();
    let mut candidates = Vec::new();
    for (deb, info) in debs.iter().zip(infos) {
        let info = match info {
            Ok(info) => info,
            Err(e) => {
                problems.push(e.to_string());
                continue;
            }
        };
        match candidate(config, component, deb, &info) {
            Ok(entry) => {
                if let Some(message) = crate::pool::file_name_mismatch(
                    deb,
                    &entry.package,
                    &entry.version,
                    &entry.architecture,
                ) {
                    if strict {
                        problems.push(format!("{message} (refused: --strict)"));
                    } else {
                        warnings.insert(candidates.len(), message);
                    }
                }
                candidates.push((deb.clone(), entry));
            }
            Err(problem) => problems.push(problem),
        }
    }
    let conflicts = batch_conflicts(&candidates, &mut problems);
    if !problems.is_empty() {
        return Err(Error::bad_inputs(problems, debs.len()));
    }
    for (i, (_, entry)) in candidates.iter().enumerate() {
        if let Some(message) = warnings.get(&i) {
            tracing::warn!(package = %entry.package, version = %entry.version, "{message}");
        }
    }
    Ok(Batch {
        candidates,
        warnings,
        conflicts,
    })
}

/// Within the batch: the same name, version and architecture twice with other bytes is a
/// conflict like one with the repository ([`check_against_repository`]). Debian's pool file
/// name leaves out the epoch, so two packages whose versions differ only in it would be one
/// file: that is bad input (added to `problems`); the batch is refused rather than either
/// kept silently.
fn batch_conflicts(candidates: &[Candidate], problems: &mut Vec<String>) -> Conflicts {
    let mut conflicts = Conflicts::new();
    let mut by_key: HashMap<Key, &Candidate> = HashMap::new();
    let mut by_path: HashMap<&str, &Candidate> = HashMap::new();
    for candidate in candidates {
        let (deb, entry) = candidate;
        if let Some((other_deb, other)) = by_key.insert(entry.key(), candidate) {
            if other.sha256 != entry.sha256 {
                add_conflict(&mut conflicts, entry.id(), || {
                    format!(
                        "{} is given twice with other bytes: {} has sha256 {}, {} has sha256 {}. Publish one build of a version; bump the version of the other.",
                        entry.id(),
                        other_deb.display(),
                        other.sha256,
                        deb.display(),
                        entry.sha256
                    )
                });
            }
        }
        if let Some((other_deb, other)) = by_path.insert(&entry.filename, candidate) {
            if other.version != entry.version {
                problems.push(format!(
                    "{} ({}) and {} ({}) would both be {}: versions that differ only in their epoch cannot share a pool file; bump the upstream version or revision",
                    other_deb.display(),
                    other.version,
                    deb.display(),
                    entry.version,
                    entry.filename
                ));
            }
        }
    }
    conflicts
}

/// The same name, version and architecture with other bytes is refused, everywhere: in any
/// suite, or as a pool file a retained index generation still lists (a client may fetch
/// it). Conflicts are added to the batch's.
fn check_against_repository(
    repo: &Path,
    all: &[(String, SuiteState)],
    suite: &str,
    batch: &mut Batch,
) -> Result<Placement, Error> {
    let known = Known::new(all, suite, batch.candidates.len());
    let mut referenced: Option<HashSet<String>> = None;
    let mut orphans = BTreeSet::new();
    let mut new_here = Vec::with_capacity(batch.candidates.len());
    for (deb, entry) in &batch.candidates {
        let found = known.get(entry.key());
        let mut sha = found
            .map(|(sha, _)| sha.to_string())
            .or_else(|| existing_pool_sha(repo, &entry.filename));
        if found.is_none() && sha.as_ref().is_some_and(|sha| *sha != entry.sha256) {
            // A pool file with other bytes that no suite lists: a conflict if a retained
            // index generation still lists it (a client may fetch it), else left behind by
            // a publisher killed before its switch, and replaced.
            if referenced.is_none() {
                referenced = Some(referenced_pool_files(repo, all)?);
            }
            if !referenced
                .as_ref()
                .is_some_and(|r| r.contains(&entry.filename))
            {
                orphans.insert(entry.filename.clone());
                sha = None;
            }
        }
        if let Some(sha) = sha.filter(|sha| *sha != entry.sha256) {
            add_conflict(&mut batch.conflicts, entry.id(), || {
                format!(
                    "{} is already published with other bytes (sha256 {sha}); {} has sha256 {}. Bump the version instead of rebuilding it.",
                    entry.id(),
                    deb.display(),
                    entry.sha256
                )
            });
        }
        new_here.push(!found.is_some_and(|(_, in_suite)| in_suite));
    }
    Ok(Placement { new_here, orphans })
}

/// A batch with conflicts adds nothing: one failed testcase per conflicting package, one
/// skipped testcase per other package.
fn refusal(target: &Target, batch: Batch) -> OpOutcome {
    let mut cases = Vec::new();
    for (id, message) in &batch.conflicts {
        let mut c = target.case(format!("add {id}"));
        c.status = Status::Failed(Problem {
            message: message.clone(),
            kind: "conflict".into(),
            ..Problem::default()
        });
        cases.push(c);
    }
    let mut reported: HashSet<String> = batch.conflicts.into_iter().map(|(id, _)| id).collect();
    for (_, entry) in &batch.candidates {
        if !reported.insert(entry.id()) {
            continue; // one testcase per package
        }
        let mut c = target.case(format!("add {}", entry.id()));
        c.status = Status::Skipped {
            message: "not added: another package of this batch was refused".into(),
        };
        cases.push(c);
    }
    OpOutcome {
        cases,
        exit: Exit::Failed,
    }
}

/// Copy the packages new to the suite into the pool and publish the suite; a package the
/// suite already lists with the same bytes (or given twice) is a passed testcase that says
/// so.
fn store_and_publish(
    ctx: &Context,
    config: &Config,
    target: &Target,
    mut all: Vec<(String, SuiteState)>,
    mut batch: Batch,
    placement: Placement,
    clock: &mut Clock,
) -> Result<OpOutcome, Error> {
    let suite = target.suite;
    let mut state = take_suite(&mut all, suite);
    let mut cases = Vec::new();
    let mut changed = false;
    // The same package twice in one batch is added once.
    let mut seen = HashSet::new();
    let mut fresh = Vec::new();
    let candidates = std::mem::take(&mut batch.candidates);
    for (i, ((deb, entry), new_here)) in candidates.into_iter().zip(placement.new_here).enumerate()
    {
        let mut c = target.case(format!("add {}", entry.id()));
        c.system_out = batch.warnings.remove(&i);
        if !new_here || !seen.insert(entry.id()) {
            let message = format!(
                "{} ({}) is already in {suite} with the same bytes: nothing to do",
                entry.id(),
                deb.display()
            );
            tracing::info!(package = %entry.package, version = %entry.version, suite, "{message}");
            c.system_out = Some(match c.system_out.take() {
                Some(warning) => format!("{warning}\n{message}"),
                None => message,
            });
        } else {
            fresh.push((deb, entry));
        }
        cases.push(c);
    }
    let orphans = placement.orphans;
    if !orphans.is_empty() {
        tracing::info!(
            "replacing {} pool file(s) that no index lists (left by an interrupted publish): {}",
            orphans.len(),
            orphans.iter().cloned().collect::<Vec<_>>().join(", ")
        );
        pool::remove_files(ctx.repo, &orphans)?;
    }
    let stored = store_all(ctx.repo, &fresh)?;
    for (_, entry) in fresh {
        tracing::info!(package = %entry.package, version = %entry.version, suite, "added {}", entry.filename);
        state.add(entry);
        changed = true;
    }
    if changed {
        clock.lap("pool");
        commit(ctx, config, suite, state, Vec::new(), &all, &stored)?;
    }
    Ok(OpOutcome {
        cases,
        exit: Exit::Success,
    })
}

/// What names a package in the pool and the indexes: its Package, Version and Architecture
/// (and Source, which names its pool directory).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Identity {
    /// `Package:`.
    pub package: String,
    /// `Version:`.
    pub version: String,
    /// `Architecture:`.
    pub architecture: String,
    /// The source package's name (`Source:` without its version, else `Package:`).
    pub source: String,
}

/// The identity of a read .deb, or why it cannot name a pool file (a line naming the file):
/// Package and Version by Debian policy, Architecture a Debian architecture name, and the
/// pool file and directory names within the 255 bytes a file system allows. Checked before
/// anything is written, so a name that could not be stored is refused with nothing created.
pub fn identify(deb: &Path, info: &cdkit_deb::DebInfo) -> Result<Identity, String> {
    let field = |name| info.field(name).unwrap_or_default().trim().to_string();
    let (package, version, arch) = (field("Package"), field("Version"), field("Architecture"));
    let bad = |e: cdkit_deb::policy::PolicyError| format!("{}: {e}", deb.display());
    cdkit_deb::policy::validate_package_name(&package).map_err(bad)?;
    cdkit_deb::policy::Version::parse(&version).map_err(bad)?;
    let arch_ok = !arch.is_empty()
        && arch
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-');
    if !arch_ok {
        return Err(format!(
            "{}: architecture {arch:?} is not a Debian architecture name (a-z, 0-9, '-')",
            deb.display()
        ));
    }
    let source = pool::source_name(info.field("Source"), &package)
        .map_err(|reason| format!("{}: {reason}", deb.display()))?;
    let path = pool::pool_path("c", &source, &package, &version, &arch);
    if let Some(long) = path.split('/').find(|part| part.len() > NAME_MAX) {
        return Err(format!(
            "{}: its pool file name {long:?} would be {} bytes, more than the {NAME_MAX} a file system allows (shorten Package, Version or Source)",
            deb.display(),
            long.len()
        ));
    }
    Ok(Identity {
        package,
        version,
        architecture: arch,
        source,
    })
}

/// The longest file name Linux file systems store (NAME_MAX).
const NAME_MAX: usize = 255;

/// The index entry of one read .deb, or why it cannot be published (a line naming the file).
fn candidate(
    config: &Config,
    component: &str,
    deb: &Path,
    info: &cdkit_deb::DebInfo,
) -> Result<Entry, String> {
    let Identity {
        package,
        version,
        architecture: arch,
        source,
    } = identify(deb, info)?;
    if arch != "all" && !config.architectures.contains(&arch) {
        return Err(format!(
            "{}: architecture {arch} is not one of this repository's ({})",
            deb.display(),
            config.architectures.join(", ")
        ));
    }
    let filename = pool::pool_path(component, &source, &package, &version, &arch);
    Ok(Entry {
        component: component.to_string(),
        package,
        version,
        architecture: arch,
        filename,
        size: info.size,
        md5: info.md5.clone(),
        sha256: info.sha256.clone(),
        control: crate::index::control_lines(&info.fields),
    })
}

/// Copy the packages into the pool, on two threads (each file is a few file-system
/// operations: directory, temporary file, rename; thousands of them add up). Returns the
/// files this run created (a failed publish removes them again).
fn store_all(repo: &Path, fresh: &[(PathBuf, Entry)]) -> Result<BTreeSet<String>, Error> {
    let (first, second) = fresh.split_at(fresh.len() / 2);
    let store = |part: &[(PathBuf, Entry)]| -> Result<Vec<String>, Error> {
        let mut created = Vec::new();
        for (deb, entry) in part {
            if pool::store(repo, &entry.filename, deb)? {
                created.push(entry.filename.clone());
            }
        }
        Ok(created)
    };
    let (a, b) = std::thread::scope(|scope| {
        let other = scope.spawn(|| store(second));
        (store(first), other.join())
    });
    let b = b.map_err(|_| Error::Internal("a pool writer thread panicked".into()))?;
    let mut created = BTreeSet::new();
    for part in [a, b] {
        match part {
            Ok(files) => created.extend(files),
            Err(e) => {
                // Nothing lists them yet.
                let _ = pool::remove_files(repo, &created);
                return Err(e);
            }
        }
    }
    Ok(created)
}

/// Read every .deb, on two threads, keeping the order of `debs`: each one's control
/// paragraph and checksums, or why it is not a readable .deb.
type ReadResult = Result<cdkit_deb::DebInfo, cdkit_deb::ReadError>;
fn read_all(debs: &[PathBuf]) -> Result<Vec<ReadResult>, Error> {
    let half = debs.len().div_ceil(2);
    let (first, second) = debs.split_at(half.min(debs.len()));
    let read = |part: &[PathBuf]| -> Vec<ReadResult> {
        part.iter().map(|d| cdkit_deb::read_deb(d)).collect()
    };
    let (mut all, b) = std::thread::scope(|scope| {
        let other = scope.spawn(|| read(second));
        (read(first), other.join())
    });
    all.extend(b.map_err(|_| Error::Internal("a .deb reader thread panicked".into()))?);
    Ok(all)
}

/// A `PKG` or `PKG=VERSION` argument.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Spec {
    /// The package name.
    pub package: String,
    /// One version, or `None` for every version (remove) or the newest (promote).
    pub version: Option<String>,
}

impl std::str::FromStr for Spec {
    type Err = String;
    fn from_str(text: &str) -> Result<Spec, String> {
        let (package, version) = match text.split_once('=') {
            Some((p, v)) => (p, Some(v.to_string())),
            None => (text, None),
        };
        cdkit_deb::policy::validate_package_name(package).map_err(|e| e.to_string())?;
        if let Some(v) = &version {
            cdkit_deb::policy::Version::parse(v).map_err(|e| e.to_string())?;
        }
        Ok(Spec {
            package: package.to_string(),
            version,
        })
    }
}

/// The entries `spec` names in `state`: that version, or the newest version (every
/// architecture of it).
fn select<'a>(state: &'a SuiteState, spec: &Spec) -> Vec<&'a Entry> {
    let matching: Vec<&Entry> = state
        .entries
        .iter()
        .filter(|e| e.package == spec.package)
        .collect();
    let version = match &spec.version {
        Some(v) => v.clone(),
        None => match matching.iter().max_by(|a, b| a.cmp_version(b)) {
            Some(newest) => newest.version.clone(),
            None => return Vec::new(),
        },
    };
    matching
        .into_iter()
        .filter(|e| e.version == version)
        .collect()
}

/// `promote`: list the same pool files in `to` that `from` lists.
pub fn promote(ctx: &Context, from: &str, to: &str, specs: &[Spec]) -> Result<OpOutcome, Error> {
    let started = Instant::now();
    if specs.is_empty() {
        return Err(Error::Usage(
            "name at least one PKG or PKG=VERSION to promote".into(),
        ));
    }
    let _lock = lock(ctx)?;
    let config = config::load(ctx.repo)?;
    config.check_suite(from)?;
    config.check_suite(to)?;
    let mut all = load_all(ctx.repo, &config)?;
    let mut target = take_suite(&mut all, to);
    let source = if from == to {
        target.clone()
    } else {
        all.iter()
            .find(|(name, _)| name == from)
            .map(|(_, s)| s.clone())
            .unwrap_or_default()
    };
    let mut chosen = Vec::new();
    for spec in specs {
        let found = select(&source, spec);
        if found.is_empty() {
            return Err(Error::Usage(format!(
                "{}{} is not in suite {from}",
                spec.package,
                spec.version
                    .as_deref()
                    .map(|v| format!("={v}"))
                    .unwrap_or_default()
            )));
        }
        chosen.extend(found.into_iter().cloned());
    }
    let mut cases = Vec::new();
    let mut added = Vec::new();
    for entry in chosen {
        let mut c = case(
            to,
            &entry.component,
            format!("promote {}", entry.id()),
            started,
        );
        if target
            .find(&entry.package, &entry.version, &entry.architecture)
            .is_some()
        {
            let message = format!("{} is already in {to}: nothing to do", entry.id());
            tracing::info!(package = %entry.package, version = %entry.version, "{message}");
            c.system_out = Some(message);
        } else {
            tracing::info!(package = %entry.package, version = %entry.version, "promoted {} from {from} to {to}", entry.id());
            added.push((cases.len(), entry.clone()));
            target.add(entry);
        }
        cases.push(c);
    }
    if let Some(refused) = dropped_at_once(&target, &added, ctx.keep, to) {
        for (i, c) in cases.iter_mut().enumerate() {
            c.status = match refused.iter().find(|(j, _)| *j == i) {
                Some((_, message)) => Status::Failed(Problem {
                    message: message.clone(),
                    kind: "retention".into(),
                    ..Problem::default()
                }),
                None => Status::Skipped {
                    message: "not promoted: another package of this batch was refused".into(),
                },
            };
        }
        return Ok(OpOutcome {
            cases,
            exit: Exit::Failed,
        });
    }
    // Published even when nothing was added: the suite gets a fresh Date either way.
    commit(ctx, &config, to, target, Vec::new(), &all, &BTreeSet::new())?;
    Ok(OpOutcome {
        cases,
        exit: Exit::Success,
    })
}

/// The promoted entries (`added`: testcase index, entry) that retention would drop from
/// `target` in the same publish, because it lists `keep` newer versions: a promote that
/// reports success while clients never see the version would mislead (a rollback by
/// promotion, say). `None` if every one stays.
fn dropped_at_once(
    target: &SuiteState,
    added: &[(usize, Entry)],
    keep: usize,
    to: &str,
) -> Option<Vec<(usize, String)>> {
    if added.is_empty() {
        return None;
    }
    let dropped: HashSet<String> = target
        .clone()
        .retain_newest(keep)
        .iter()
        .map(Entry::id)
        .collect();
    let refused: Vec<(usize, String)> = added
        .iter()
        .filter(|(_, e)| dropped.contains(&e.id()))
        .map(|(i, e)| {
            (
                *i,
                format!(
                    "{} would be dropped at once: {to} keeps the newest {keep} versions of {} (--keep {keep}) and already lists that many newer ones; remove those from {to} first (publish-repo remove --suite {to} {}=VERSION) or raise --keep",
                    e.id(),
                    e.package,
                    e.package
                ),
            )
        })
        .collect();
    (!refused.is_empty()).then_some(refused)
}

/// `remove`: stop listing packages in `suite` (pool files go once nothing references them).
pub fn remove(ctx: &Context, suite: &str, specs: &[Spec]) -> Result<OpOutcome, Error> {
    let started = Instant::now();
    let _lock = lock(ctx)?;
    let config = config::load(ctx.repo)?;
    config.check_suite(suite)?;
    let mut all = load_all(ctx.repo, &config)?;
    let mut state = take_suite(&mut all, suite);
    let mut doomed = Vec::new();
    for spec in specs {
        let found: Vec<Entry> = state
            .entries
            .iter()
            .filter(|e| {
                e.package == spec.package && spec.version.as_ref().is_none_or(|v| *v == e.version)
            })
            .cloned()
            .collect();
        if found.is_empty() {
            return Err(Error::Usage(format!(
                "{} is not in suite {suite}",
                spec.package
            )));
        }
        doomed.extend(found);
    }
    let mut cases = Vec::new();
    for entry in &doomed {
        state.remove(entry.key());
        tracing::info!(package = %entry.package, version = %entry.version, "removed {} from {suite}", entry.id());
        cases.push(case(
            suite,
            &entry.component,
            format!("remove {}", entry.id()),
            started,
        ));
    }
    commit(ctx, &config, suite, state, doomed, &all, &BTreeSet::new())?;
    Ok(OpOutcome {
        cases,
        exit: Exit::Success,
    })
}

/// Publish (empty) every suite that has never been published, so clients can already use it.
/// The caller holds the repository lock.
fn publish_unpublished(ctx: &Context) -> Result<(), Error> {
    let config = config::load(ctx.repo)?;
    let all = load_all(ctx.repo, &config)?;
    for (suite, state) in &all {
        if !ctx.repo.join("dists").join(suite).join("Release").exists() {
            let others: Vec<(String, SuiteState)> =
                all.iter().filter(|(s, _)| s != suite).cloned().collect();
            commit(
                ctx,
                &config,
                suite,
                state.clone(),
                Vec::new(),
                &others,
                &BTreeSet::new(),
            )?;
        }
    }
    Ok(())
}

/// Apply retention and publish a new generation of `suite` with its state, then delete the
/// pool files that no suite lists any more, now or in a retained index generation.
/// `removed` are the entries this operation took out of `suite`, `others` every other suite;
/// `stored` the pool files this operation created, which nothing lists if the publish fails.
///
/// The state is saved as the new generation's and counts once the switch makes that
/// generation live ([`crate::generation`]): if anything fails before the switch (gpg, I/O) or
/// the process is killed, the previous tree and state stay what clients and the next run see.
fn commit(
    ctx: &Context,
    config: &Config,
    suite: &str,
    mut state: SuiteState,
    mut removed: Vec<Entry>,
    others: &[(String, SuiteState)],
    stored: &BTreeSet<String>,
) -> Result<(), Error> {
    // The key check (started when the key was named) ends before anything of the new
    // generation is written: a key gpg does not have is bad input, not a failed publish.
    ctx.signer.ready()?;
    let stamp = crate::generation::new_stamp();
    let (expired, state_files) =
        match publish_generation(ctx, config, suite, &stamp, &mut state, &mut removed) {
            Ok(done) => done,
            Err(error) => {
                publish::discard(ctx.repo, suite, &stamp);
                if let Err(e) = pool::remove_files(ctx.repo, stored) {
                    tracing::warn!("cannot remove the pool files of the failed publish: {e}");
                }
                return Err(Error::Publish {
                    suite: suite.to_string(),
                    source: Box::new(error),
                });
            }
        };
    // Live. What follows only tidies up: a failure is a warning, the next publish retries it.
    if let Err(e) = state::forget_others(ctx.repo, suite, &state_files) {
        tracing::warn!("{suite} is published; removing older state files failed: {e}");
    }
    if let Err(e) = collect_garbage(ctx.repo, &state, others, expired) {
        tracing::warn!("{suite} is published; removing unlisted pool files failed: {e}");
    }
    Ok(())
}

/// Retention, then the new generation `stamp` of `suite`, its state saved while its indexes
/// are built. Returns the pool files no retained generation of the suite lists any more, and
/// the files of the saved state.
fn publish_generation(
    ctx: &Context,
    config: &Config,
    suite: &str,
    stamp: &str,
    state: &mut SuiteState,
    removed: &mut Vec<Entry>,
) -> Result<(Vec<String>, Vec<String>), Error> {
    let mut clock = Clock::start();
    for dropped in state.retain_newest(ctx.keep) {
        tracing::info!(package = %dropped.package, version = %dropped.version, "retention (--keep {}) drops {} from {suite}", ctx.keep, dropped.id());
        removed.push(dropped);
    }
    clock.lap("retention");
    let state = &*state;
    // The pool files of removed entries, unless another entry still lists the same file.
    let listed: HashSet<&str> = state.entries.iter().map(|e| e.filename.as_str()).collect();
    let dropped: BTreeSet<&str> = removed
        .iter()
        .map(|e| e.filename.as_str())
        .filter(|f| !listed.contains(f))
        .collect();
    let mut state_files = Vec::new();
    let expired = std::thread::scope(|scope| {
        let saving = scope.spawn(|| state::save(ctx.repo, suite, stamp, state));
        let job = publish::SuitePublish {
            repo: ctx.repo,
            config,
            suite,
            stamp,
            state,
            signer: ctx.signer,
        };
        publish::publish_suite(&job, dropped, || {
            state_files = saving.join().unwrap_or_else(|_| {
                Err(Error::Internal("saving the suite state panicked".into()))
            })?;
            Ok(())
        })
    })?;
    Ok((expired, state_files))
}

/// Delete the `expired` pool files (no retained generation of the published suite lists them)
/// that neither that suite (`state`) nor another suite lists, now or in one of its retained
/// generations (promotion shares pool files).
fn collect_garbage(
    repo: &Path,
    state: &SuiteState,
    others: &[(String, SuiteState)],
    expired: Vec<String>,
) -> Result<(), Error> {
    if expired.is_empty() {
        return Ok(());
    }
    let mut needed = referenced_pool_files(repo, others)?;
    needed.extend(state.entries.iter().map(|e| e.filename.clone()));
    let gone: BTreeSet<String> = expired
        .into_iter()
        .filter(|f| !needed.contains(f))
        .collect();
    let removed = pool::remove_files(repo, &gone)?;
    if removed > 0 {
        tracing::info!("removed {removed} pool file(s) no suite or retained index lists");
    }
    Ok(())
}

/// Which (package, version, architecture) the repository already holds: its SHA-256, and
/// whether `suite` lists it.
struct Known<'a> {
    all: &'a [(String, SuiteState)],
    suite: &'a str,
    /// Built for many lookups; a few (the usual single add) are cheaper as scans than
    /// hashing every entry of every suite.
    map: Option<HashMap<Key<'a>, (&'a str, bool)>>,
}

impl<'a> Known<'a> {
    fn new(all: &'a [(String, SuiteState)], suite: &'a str, lookups: usize) -> Known<'a> {
        let map = (lookups > 16).then(|| {
            let mut map = HashMap::new();
            for (name, state) in all {
                for e in &state.entries {
                    let found = map.entry(e.key()).or_insert((e.sha256.as_str(), false));
                    found.1 |= name == suite;
                }
            }
            map
        });
        Known { all, suite, map }
    }

    fn get(&self, key: Key) -> Option<(&'a str, bool)> {
        if let Some(map) = &self.map {
            return map.get(&key).copied();
        }
        let mut found: Option<(&'a str, bool)> = None;
        for (name, state) in self.all {
            for e in state.entries.iter().filter(|e| e.key() == key) {
                found.get_or_insert((e.sha256.as_str(), false)).1 |= name == self.suite;
            }
        }
        found
    }
}

/// Take `suite`'s state out of `all` (which keeps every other suite).
fn take_suite(all: &mut Vec<(String, SuiteState)>, suite: &str) -> SuiteState {
    match all.iter().position(|(name, _)| name == suite) {
        Some(i) => all.remove(i).1,
        None => SuiteState::default(),
    }
}

/// Every suite's state.
pub fn load_all(repo: &Path, config: &Config) -> Result<Vec<(String, SuiteState)>, Error> {
    config
        .suites
        .iter()
        .map(|s| Ok((s.clone(), state::load(repo, s)?)))
        .collect()
}

/// The pool files some suite lists, now or in one of its retained index generations.
fn referenced_pool_files(
    repo: &Path,
    all: &[(String, SuiteState)],
) -> Result<HashSet<String>, Error> {
    let mut files: HashSet<String> = HashSet::new();
    for (suite, state) in all {
        files.extend(state.entries.iter().map(|e| e.filename.clone()));
        files.extend(publish::load_history(repo, suite)?.left.into_keys());
    }
    Ok(files)
}

fn existing_pool_sha(repo: &Path, rel: &str) -> Option<String> {
    let path = repo.join(rel);
    path.exists()
        .then(|| {
            cdkit::hash::file_checksums(&path)
                .ok()
                .map(|(_, _, sha)| sha)
        })
        .flatten()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn specs_parse_and_refuse_hostile_names() {
        assert_eq!(
            "hello=1.0-1".parse::<Spec>().unwrap(),
            Spec {
                package: "hello".into(),
                version: Some("1.0-1".into())
            }
        );
        assert!("../x".parse::<Spec>().is_err());
        assert!("hello=v1".parse::<Spec>().is_err());
    }
}
