//! build-deb: lintian-clean, reproducible .debs from a source tree with a `debian/` folder
//! (mode A, dpkg-buildpackage in a temporary copy) or with only a Makefile and a
//! `cdkit-deb.toml` manifest (mode B, cdkit's native writer), versioned for CI and checked
//! by dpkg, lintian and a scratch install before anything is handed on.

pub mod checks;
pub mod debian_dir;
pub mod dh;
pub mod error;
pub mod manifest;
pub mod manifest_build;
pub mod options;
pub mod sandbox;
pub mod scripts;
pub mod tree;
pub mod variation;
pub mod versioning;

use std::fs;
use std::path::{Path, PathBuf};
use std::time::Instant;

use cdkit::exit::Exit;
use cdkit::junit::{self, Case, Problem, Report, Status};
use cdkit::process::Command;
use serde::Serialize;

pub use error::Error;
pub use options::{BuildOptions, LintianLevel};
pub use variation::Variation;

/// Tool name: the report's root and every classname's first part.
pub const TOOL: &str = "build-deb";

/// Which kind of source tree this is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Mode {
    /// `debian/` folder: dpkg-buildpackage.
    Debian,
    /// `cdkit-deb.toml`: the native writer.
    Manifest,
}

/// One produced package, for `--json` and the log.
#[derive(Debug, Clone, Serialize)]
pub struct PackageInfo {
    pub path: PathBuf,
    pub package: String,
    pub version: String,
    pub architecture: String,
    pub sha256: String,
    pub size: u64,
}

/// What a run produced and how its checks went.
#[derive(Debug, Clone, Serialize)]
pub struct Outcome {
    pub mode: Mode,
    pub source: String,
    pub version: String,
    pub packages: Vec<PackageInfo>,
    /// .buildinfo and .changes files (mode A).
    pub extras: Vec<PathBuf>,
    pub failed_checks: Vec<String>,
    #[serde(skip)]
    pub exit: Exit,
}

/// Which mode `source` needs.
pub fn detect_mode(source: &Path) -> Result<Mode, Error> {
    if !source.is_dir() {
        return Err(Error::Usage(format!(
            "{} is not a directory",
            source.display()
        )));
    }
    if source.join("debian").is_dir() {
        Ok(Mode::Debian)
    } else if source.join(manifest::FILE_NAME).is_file() {
        Ok(Mode::Manifest)
    } else {
        Err(Error::Usage(format!(
            "{}: neither a debian/ folder nor a {} manifest",
            source.display(),
            manifest::FILE_NAME
        )))
    }
}

/// Build, check and report. On an error the report (if asked for) still gets a failing
/// `build` case and nothing is left in the output directory.
pub fn run(opts: &BuildOptions, junit_path: Option<&Path>) -> Result<Outcome, Error> {
    let started = Instant::now();
    let timestamp = chrono::Utc::now();
    let subject = opts
        .source
        .canonicalize()
        .ok()
        .and_then(|p| p.file_name().map(|n| n.to_string_lossy().into_owned()))
        .unwrap_or_else(|| "source".into());
    let result = build_and_check(opts, started);
    if let Some(path) = junit_path {
        let (suite_subject, cases) = match &result {
            Ok((outcome, cases)) => (outcome.source.clone(), cases.clone()),
            Err(e) => (
                subject.clone(),
                vec![build_case_failed(&subject, started, e)],
            ),
        };
        let mut report = Report::new(TOOL);
        report.suites.push(junit::Suite {
            name: format!("{TOOL}.{suite_subject}"),
            timestamp,
            time: started.elapsed(),
            properties: vec![("run-id".into(), cdkit::run_id::get().into())],
            cases,
            system_out: None,
            system_err: None,
        });
        report.write(path)?;
    }
    result.map(|(outcome, _)| outcome)
}

fn build_case_failed(subject: &str, started: Instant, error: &Error) -> Case {
    let mut case = Case::passed(format!("{TOOL}.{subject}.build"), "build");
    case.time = started.elapsed();
    let problem = Problem {
        message: error.to_string(),
        kind: "build".into(),
        ..Problem::default()
    };
    case.status = match error {
        Error::BuildFailed { .. } => Status::Failed(problem),
        _ => Status::Errored(problem),
    };
    case
}

fn build_and_check(opts: &BuildOptions, started: Instant) -> Result<(Outcome, Vec<Case>), Error> {
    let mode = detect_mode(&opts.source)?;
    if opts.check_reproducible {
        variation::check_available()?;
    }
    let staging = tempfile::Builder::new()
        .prefix("build-deb-out.")
        .tempdir()
        .map_err(error::io(
            "create a temporary directory in",
            std::env::temp_dir(),
        ))?;
    // Build into a private directory; only a complete, checked set is moved into --out.
    let (source, version, built, extras) = match mode {
        Mode::Debian => {
            let produced = debian_dir::build(opts, Variation::Reference)?;
            let mut debs = Vec::new();
            for deb in &produced.debs {
                debs.push(copy_into(deb, staging.path())?);
            }
            let mut extras = Vec::new();
            for extra in &produced.extras {
                extras.push(copy_into(extra, staging.path())?);
            }
            (
                produced.source_name.clone(),
                produced.version.clone(),
                debs,
                extras,
            )
        }
        Mode::Manifest => {
            let built = manifest_build::build_into(opts, staging.path(), Variation::Reference)?;
            (
                built.name.clone(),
                built.version.clone(),
                vec![built.written.path.clone()],
                Vec::new(),
            )
        }
    };
    let classname = format!("{TOOL}.{source}");
    let mut build_case = Case::passed(format!("{classname}.build"), "build");
    build_case.time = started.elapsed();
    let mut cases = vec![build_case];

    let mut packages = built
        .iter()
        .map(|deb| package_info(deb))
        .collect::<Result<Vec<_>, _>>()?;
    let check_names: Vec<String> = packages
        .iter()
        .map(|info| format!("{classname}.{}", info.package))
        .collect();
    // lintian (seconds of Perl) reads all the .debs in one run on a thread of its own while
    // dpkg-deb and the scratch installs check them: both only read, and the build waits for
    // the slower one.
    let zstd = matches!(opts.compression, cdkit_deb::Compression::Zstd(_));
    let (dpkg_cases, lintian_cases) = std::thread::scope(|scope| {
        let lintian = scope.spawn(|| {
            let linted: Vec<checks::Linted> = built
                .iter()
                .zip(packages.iter().zip(&check_names))
                .map(|(deb, (info, classname))| checks::Linted {
                    deb,
                    package: &info.package,
                    classname,
                })
                .collect();
            checks::lintian(&linted, opts.lintian, zstd)
        });
        let dpkg: Vec<Vec<Case>> = built
            .iter()
            .zip(packages.iter().zip(&check_names))
            .map(|(deb, (info, checks))| {
                let mut cases = checks::dpkg_deb(deb, checks);
                cases.push(checks::scratch_install(deb, &info.package, checks));
                cases
            })
            .collect();
        let lintian = lintian
            .join()
            .unwrap_or_else(|panic| std::panic::resume_unwind(panic));
        (dpkg, lintian)
    });
    for (dpkg, lintian) in dpkg_cases.into_iter().zip(lintian_cases) {
        cases.extend(dpkg);
        cases.extend(lintian);
    }
    if opts.check_reproducible {
        let again = Instant::now();
        let second = tempfile::Builder::new()
            .prefix("build-deb-again.")
            .tempdir()
            .map_err(error::io(
                "create a temporary directory in",
                std::env::temp_dir(),
            ))?;
        let rebuilt: Vec<PathBuf> = match mode {
            Mode::Debian => debian_dir::build(opts, Variation::Varied)?
                .debs
                .iter()
                .map(|d| copy_into(d, second.path()))
                .collect::<Result<_, _>>()?,
            Mode::Manifest => vec![
                manifest_build::build_into(opts, second.path(), Variation::Varied)?
                    .written
                    .path,
            ],
        };
        for deb in &built {
            let name = deb.file_name().unwrap_or_default();
            let twin = rebuilt
                .iter()
                .find(|r| r.file_name() == Some(name))
                .cloned()
                .unwrap_or_else(|| second.path().join(name));
            cases.push(checks::reproducible(
                deb,
                &twin,
                &format!("{classname}.{}", name.to_string_lossy()),
                again,
            ));
        }
    }

    let failed_checks: Vec<String> = cases
        .iter()
        .filter(|c| c.is_bad())
        .map(|c| c.name.clone())
        .collect();
    // Hand the packages over: atomically, into --out.
    fs::create_dir_all(&opts.out).map_err(error::io("create", &opts.out))?;
    let mut moved = Vec::new();
    for path in built.iter().chain(extras.iter()) {
        moved.push(copy_into(path, &opts.out)?);
    }
    for info in packages.iter_mut() {
        if let Some(name) = info.path.file_name() {
            info.path = opts.out.join(name);
        }
    }
    let extras = moved.split_off(built.len());
    let exit = if failed_checks.is_empty() {
        Exit::Success
    } else {
        Exit::Failed
    };
    Ok((
        Outcome {
            mode,
            source,
            version,
            packages,
            extras,
            failed_checks,
            exit,
        },
        cases,
    ))
}

/// Copy `file` into `dir` atomically; returns the new path.
fn copy_into(file: &Path, dir: &Path) -> Result<PathBuf, Error> {
    let name = file
        .file_name()
        .ok_or_else(|| Error::Usage(format!("{} has no file name", file.display())))?;
    let target = dir.join(name);
    let mut source = fs::File::open(file).map_err(error::io("read", file))?;
    cdkit::atomic::write_with(&target, |w| std::io::copy(&mut source, w).map(|_| ()))?;
    Ok(target)
}

/// Package, Version and Architecture as dpkg-deb reads them, plus size and hash.
fn package_info(deb: &Path) -> Result<PackageInfo, Error> {
    let mut fields = Vec::new();
    let done = Command::new("dpkg-deb")
        .arg("--field")
        .arg(deb)
        .args(["Package", "Version", "Architecture"])
        .quiet()
        .run(|_, line| fields.push(line.to_string()))?;
    let field = |name: &str| {
        fields
            .iter()
            .find_map(|l| l.strip_prefix(&format!("{name}: ")).map(str::to_string))
            .unwrap_or_default()
    };
    if !done.success() {
        return Err(Error::BuildFailed {
            step: "dpkg-deb --field".into(),
            how: done.describe(),
            detail: deb.display().to_string(),
        });
    }
    let size = fs::metadata(deb).map_err(error::io("read", deb))?.len();
    Ok(PackageInfo {
        path: deb.to_path_buf(),
        package: field("Package"),
        version: field("Version"),
        architecture: field("Architecture"),
        sha256: checks::sha256_of(deb).map_err(Error::Usage)?,
        size,
    })
}
