//! The fuzz suite as CI runs it: every target (the same bodies the libFuzzer targets call)
//! replays its seeds, generated seeds and regression inputs, then runs seeded mutations of
//! them for a bounded time. No coverage feedback and no instrumented build; the
//! coverage-guided run is `scripts/fuzz`.
//!
//! Settings (environment):
//! - `CDKIT_FUZZ_SECONDS`: the mutation time for all targets together (default 120), split
//!   evenly; 0 replays only.
//! - `CDKIT_FUZZ_SEED`: the run's seed (default a fixed one, so CI is reproducible;
//!   `random` takes it from the clock; always printed).
//! - `CDKIT_FUZZ_TARGETS`: comma-separated target names (default: all).
//! - `CDKIT_FUZZ_INPUT_TIMEOUT`: seconds one input may take before it counts as a hang
//!   (default 20: this is a debug build, several times slower than the fuzz build).
//!
//! A failing input is saved under `$CDKIT_TEST_REPORTS/fuzz/` (else the temporary
//! directory's `cdkit-fuzz-findings/`) and printed in hex.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use cdkit_fuzz::run::{read_corpus, run_target, PanicCapture, Settings};
use cdkit_fuzz::TARGETS;

/// The repository's root (this crate is crates/cdkit-fuzz).
fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// The names of the subdirectories of `dir`, sorted.
fn subdirs(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|e| e.expect("a directory entry").path())
        .filter(|p| p.is_dir())
        .map(|p| {
            p.file_name()
                .expect("a name")
                .to_string_lossy()
                .into_owned()
        })
        .collect();
    names.sort();
    names
}

/// Every crate's tests/fuzz_regressions/ directory: where a crash the fuzz suite found is kept
/// as a regression input, one subdirectory per target.
fn regression_roots() -> Vec<PathBuf> {
    let mut roots = Vec::new();
    for group in ["crates", "tools"] {
        for krate in subdirs(&repo().join(group)) {
            let dir = repo()
                .join(group)
                .join(krate)
                .join("tests/fuzz_regressions");
            if dir.is_dir() {
                roots.push(dir);
            }
        }
    }
    roots
}

/// An environment setting, parsed; a value that does not parse fails the test by name.
fn setting<T: std::str::FromStr>(name: &str, default: T) -> T {
    match std::env::var(name) {
        Ok(text) => text
            .trim()
            .parse()
            .unwrap_or_else(|_| panic!("{name}={text:?} is not a valid value")),
        Err(_) => default,
    }
}

/// The libFuzzer targets and the library's bodies are the same set, and each libFuzzer target
/// only calls its body: what CI runs is what `scripts/fuzz` runs.
#[test]
fn every_libfuzzer_target_is_a_wrapper_over_its_body() {
    let dir = repo().join("fuzz/fuzz_targets");
    let mut files = BTreeSet::new();
    for entry in std::fs::read_dir(&dir).expect("fuzz/fuzz_targets") {
        let path = entry.expect("an entry").path();
        let name = path
            .file_stem()
            .expect("a name")
            .to_string_lossy()
            .into_owned();
        let source = std::fs::read_to_string(&path).expect("a target's source");
        let call = format!("cdkit_fuzz::targets::{name}(data)");
        assert!(
            source.contains(&call),
            "{} does not call {call}",
            path.display()
        );
        files.insert(name);
    }
    let bodies: BTreeSet<String> = TARGETS.iter().map(|t| t.name.to_string()).collect();
    assert_eq!(
        files, bodies,
        "fuzz/fuzz_targets/ against cdkit_fuzz::TARGETS"
    );
}

/// Seed and regression directories are named after a target: a misspelt one would never be
/// replayed.
#[test]
fn seed_and_regression_directories_name_a_target() {
    let names: BTreeSet<&str> = TARGETS.iter().map(|t| t.name).collect();
    let mut roots = regression_roots();
    roots.push(repo().join("fuzz/seeds"));
    for root in roots {
        for dir in subdirs(&root) {
            assert!(
                names.contains(dir.as_str()),
                "{}/{dir} names no fuzz target (have: {names:?})",
                root.display()
            );
        }
    }
}

/// The seed a run uses unless told otherwise.
const DEFAULT_SEED: u64 = 0x00cd_c17f_0220_5eed;

/// The bounded run: replay, then mutations, every target; fails on the first panic or hang
/// of each target with the input saved and printed.
#[test]
fn bounded_mutation_run_finds_no_panic_or_hang() {
    let total = Duration::from_secs_f64(setting("CDKIT_FUZZ_SECONDS", 120.0));
    // A fixed seed by default, so that a CI run is decided by the commit and not by the
    // clock: new inputs are explored by `scripts/fuzz` and by `CDKIT_FUZZ_SEED=random`, and
    // what they find is kept as a regression input that this run replays.
    let seed: u64 = match std::env::var("CDKIT_FUZZ_SEED").as_deref().map(str::trim) {
        Ok("random") => SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .expect("the clock is after 1970")
            .as_nanos() as u64,
        _ => setting("CDKIT_FUZZ_SEED", DEFAULT_SEED),
    };
    let input_timeout = Duration::from_secs_f64(setting("CDKIT_FUZZ_INPUT_TIMEOUT", 20.0));
    let chosen: Vec<_> = match std::env::var("CDKIT_FUZZ_TARGETS") {
        Ok(list) => list
            .split(',')
            .map(str::trim)
            .filter(|n| !n.is_empty())
            .map(|n| {
                *TARGETS
                    .iter()
                    .find(|t| t.name == n)
                    .unwrap_or_else(|| panic!("CDKIT_FUZZ_TARGETS: no target {n}"))
            })
            .collect(),
        Err(_) => TARGETS.to_vec(),
    };
    assert!(!chosen.is_empty(), "CDKIT_FUZZ_TARGETS names no target");
    let failures = std::env::var_os("CDKIT_TEST_REPORTS")
        .map(|d| PathBuf::from(d).join("fuzz"))
        .unwrap_or_else(|| std::env::temp_dir().join("cdkit-fuzz-findings"));
    let settings = Settings {
        budget: total / chosen.len() as u32,
        input_timeout,
        seed,
        max_len: 256 * 1024,
        failures,
    };
    println!(
        "fuzz: seed {seed}, {:?} per target, input limit {input_timeout:?} \
         (again: CDKIT_FUZZ_SEED={seed} CDKIT_FUZZ_TARGETS=NAME)",
        settings.budget
    );

    // The .deb and Packages.{gz,xz} seeds, made by dpkg-deb, gzip and xz as scripts/fuzz does.
    let generated = tempfile::tempdir().expect("a temporary directory");
    let status = Command::new("bash")
        .arg(repo().join("fuzz/make-seeds"))
        .arg(generated.path())
        .status()
        .expect("run fuzz/make-seeds");
    assert!(status.success(), "fuzz/make-seeds failed: {status}");

    let capture = PanicCapture::install();
    let mut found = Vec::new();
    let mut rows = Vec::new();
    for target in chosen {
        let mut dirs = vec![
            repo().join("fuzz/seeds").join(target.name),
            generated.path().join(target.name),
        ];
        dirs.extend(regression_roots().iter().map(|r| r.join(target.name)));
        let corpus = read_corpus(&dirs).expect("read the corpus");
        assert!(
            !corpus.is_empty(),
            "fuzz target {} has no seed: add one under fuzz/seeds/{}",
            target.name,
            target.name
        );
        match run_target(target, &corpus, &settings).expect("start a fuzz worker thread") {
            Ok(summary) => rows.push(format!(
                "{:<18} {:>8} {:>10} {:>9.1}",
                target.name,
                summary.replayed,
                summary.mutated,
                summary.elapsed.as_secs_f64()
            )),
            Err(finding) => {
                eprintln!("{finding}\n");
                let hung = matches!(finding.kind, cdkit_fuzz::run::Kind::Hang(_));
                found.push(target.name);
                // A hung input's thread cannot be stopped and would take a core from the
                // targets after it.
                if hung {
                    break;
                }
            }
        }
    }
    drop(capture);
    cdkit_fuzz::scratch::remove_scratch();
    println!(
        "{:<18} {:>8} {:>10} {:>9}",
        "target", "replayed", "mutated", "seconds"
    );
    for row in &rows {
        println!("{row}");
    }
    assert!(
        found.is_empty(),
        "fuzz targets failed: {found:?} (seed {seed}; inputs above)"
    );
}
