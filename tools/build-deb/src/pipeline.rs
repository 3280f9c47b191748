//! The run itself, phase by phase: build into a private directory, check every package
//! (dpkg-deb, a scratch install and lintian at once), optionally build again under varied
//! conditions and compare, and only then hand the packages over into --out.

use std::fs;
use std::path::{Path, PathBuf};
use std::time::Instant;

use cdkit::exit::Exit;
use cdkit::junit::{Case, Problem, Report, Status, Suite};
use cdkit::process::Command;

use crate::error::{self, Error};
use crate::options::BuildOptions;
use crate::variation::{self, Variation};
use crate::{checks, debian_dir, detect_mode, manifest_build, Mode, Outcome, PackageInfo, TOOL};

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
        report
            .suites
            .push(Suite::finished(TOOL, &suite_subject, timestamp, cases));
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

/// What the reference build produced, still in the private staging directory.
struct Built {
    source: String,
    version: String,
    debs: Vec<PathBuf>,
    /// .buildinfo and .changes files (mode A).
    extras: Vec<PathBuf>,
}

/// The phases in order; the packages reach --out only after every check has run.
fn build_and_check(opts: &BuildOptions, started: Instant) -> Result<(Outcome, Vec<Case>), Error> {
    let mode = detect_mode(&opts.source)?;
    if opts.check_reproducible {
        variation::check_available()?;
    }
    let staging = temp_dir("build-deb-out.")?;
    let built = build_reference(opts, mode, staging.path())?;
    let classname = format!("{TOOL}.{}", built.source);
    let mut build_case = Case::passed(format!("{classname}.build"), "build");
    build_case.time = started.elapsed();
    let mut cases = vec![build_case];

    let mut packages = built
        .debs
        .iter()
        .map(|deb| package_info(deb))
        .collect::<Result<Vec<_>, _>>()?;
    cases.extend(check_packages(opts, &built.debs, &packages, &classname));
    if opts.check_reproducible {
        cases.extend(check_reproducible(opts, mode, &built.debs, &classname)?);
    }

    let failed_checks: Vec<String> = cases
        .iter()
        .filter(|c| c.is_bad())
        .map(|c| c.name.clone())
        .collect();
    let extras = hand_over(opts, &built, &mut packages)?;
    let exit = if failed_checks.is_empty() {
        Exit::Success
    } else {
        Exit::Failed
    };
    Ok((
        Outcome {
            mode,
            source: built.source,
            version: built.version,
            packages,
            extras,
            failed_checks,
            exit,
        },
        cases,
    ))
}

/// A private temporary directory: builds never write into --out directly.
fn temp_dir(prefix: &str) -> Result<tempfile::TempDir, Error> {
    tempfile::Builder::new()
        .prefix(prefix)
        .tempdir()
        .map_err(error::io(
            "create a temporary directory in",
            std::env::temp_dir(),
        ))
}

/// The reference build (mode A or B), its files copied into `staging`.
fn build_reference(opts: &BuildOptions, mode: Mode, staging: &Path) -> Result<Built, Error> {
    match mode {
        Mode::Debian => {
            let produced = debian_dir::build(opts, Variation::Reference)?;
            let debs = copy_all(&produced.debs, staging)?;
            let extras = copy_all(&produced.extras, staging)?;
            Ok(Built {
                source: produced.source_name.clone(),
                version: produced.version.clone(),
                debs,
                extras,
            })
        }
        Mode::Manifest => {
            let built = manifest_build::build_into(opts, staging, Variation::Reference)?;
            Ok(Built {
                source: built.name.clone(),
                version: built.version.clone(),
                debs: vec![built.written.path.clone()],
                extras: Vec::new(),
            })
        }
    }
}

/// dpkg-deb and a scratch install per package, and lintian over all of them, as JUnit cases
/// in package order.
fn check_packages(
    opts: &BuildOptions,
    debs: &[PathBuf],
    packages: &[PackageInfo],
    classname: &str,
) -> Vec<Case> {
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
            let linted: Vec<checks::Linted> = debs
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
        let dpkg: Vec<Vec<Case>> = debs
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
    let mut cases = Vec::new();
    for (dpkg, lintian) in dpkg_cases.into_iter().zip(lintian_cases) {
        cases.extend(dpkg);
        cases.extend(lintian);
    }
    cases
}

/// Build again under varied conditions (time, umask, paths) and compare each package with
/// its twin byte for byte: one case per package.
fn check_reproducible(
    opts: &BuildOptions,
    mode: Mode,
    debs: &[PathBuf],
    classname: &str,
) -> Result<Vec<Case>, Error> {
    let again = Instant::now();
    let second = temp_dir("build-deb-again.")?;
    let rebuilt: Vec<PathBuf> = match mode {
        Mode::Debian => copy_all(
            &debian_dir::build(opts, Variation::Varied)?.debs,
            second.path(),
        )?,
        Mode::Manifest => vec![
            manifest_build::build_into(opts, second.path(), Variation::Varied)?
                .written
                .path,
        ],
    };
    Ok(debs
        .iter()
        .map(|deb| {
            let name = deb.file_name().unwrap_or_default();
            let twin = rebuilt
                .iter()
                .find(|r| r.file_name() == Some(name))
                .cloned()
                .unwrap_or_else(|| second.path().join(name));
            checks::reproducible(
                deb,
                &twin,
                &format!("{classname}.{}", name.to_string_lossy()),
                again,
            )
        })
        .collect())
}

/// Hand the packages over: atomically, into --out. Points `packages` at their new paths and
/// returns the extras' new paths.
fn hand_over(
    opts: &BuildOptions,
    built: &Built,
    packages: &mut [PackageInfo],
) -> Result<Vec<PathBuf>, Error> {
    fs::create_dir_all(&opts.out).map_err(error::io("create", &opts.out))?;
    copy_all(&built.debs, &opts.out)?;
    for info in packages.iter_mut() {
        if let Some(name) = info.path.file_name() {
            info.path = opts.out.join(name);
        }
    }
    copy_all(&built.extras, &opts.out)
}

/// [`copy_into`] for each of `files`, in order.
fn copy_all(files: &[PathBuf], dir: &Path) -> Result<Vec<PathBuf>, Error> {
    files.iter().map(|f| copy_into(f, dir)).collect()
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
