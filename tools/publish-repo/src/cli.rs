//! publish-repo's command line (in the library, so `main.rs` and the tests share one
//! definition): the subcommands, their flag groups, and running one of them with its JUnit
//! report.

use std::io::{BufRead, IsTerminal};
use std::path::{Path, PathBuf};
use std::time::Duration;

use clap::{Args, Parser, Subcommand};

use crate::args::SigningArgs;
use crate::config::Config;
use crate::error::Error;
use crate::ops::{self, Context, OpOutcome, Spec};
use crate::sign::Signer;
use crate::TOOL;
use cdkit::cli::{parse_duration, CommonArgs};
use cdkit::exit::Exit;
use cdkit::junit::{Case, Report, Suite};

const EXAMPLES: &str = "\
Examples:
  publish-repo init --repo /srv/apt --origin Example --label Example --suites testing,production
  build-deb --out dist/ . | publish-repo add --repo /srv/apt --suite testing --sign-key $FPR
  publish-repo promote --repo /srv/apt --from testing --to production --sign-key $FPR hello-service=1.4.2-1
  publish-repo list --repo /srv/apt --suite production
  publish-repo verify --repo /srv/apt --keyring /etc/apt/keyrings/example.gpg

Exit status: 0 done; 1 refused (same version with other bytes) with nothing changed, a
publish that failed (gpg, I/O, disk full) with the previous publish still live and nothing
changed (run the same command again), or verify found defects; 2 bad invocation or input
(nothing changed); 75 another publisher holds the lock (retry).";

/// Publish Debian packages into a signed APT repository.
#[derive(Debug, Parser)]
#[command(name = "publish-repo", version, about, after_help = EXAMPLES)]
pub struct Cli {
    #[command(subcommand)]
    command: Command,
    /// The flags every cdkit tool shares (logging, JUnit report, progress).
    #[command(flatten)]
    pub common: CommonArgs,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Create the repository's configuration (Origin and Label never change afterwards).
    Init {
        #[command(flatten)]
        repo: RepoArg,
        #[arg(long, env = "PUBLISH_REPO_ORIGIN")]
        origin: String,
        #[arg(long, env = "PUBLISH_REPO_LABEL")]
        label: String,
        /// Comma-separated suite names.
        #[arg(
            long,
            env = "PUBLISH_REPO_SUITES",
            value_delimiter = ',',
            default_value = "testing,production"
        )]
        suites: Vec<String>,
        #[arg(
            long,
            env = "PUBLISH_REPO_ARCHITECTURES",
            value_delimiter = ',',
            default_value = "amd64,all"
        )]
        architectures: Vec<String>,
        #[arg(
            long,
            env = "PUBLISH_REPO_COMPONENTS",
            value_delimiter = ',',
            default_value = "main"
        )]
        components: Vec<String>,
        /// With a signing option, every never-published suite is published empty right away,
        /// so clients can be pointed at it before the first package arrives.
        #[command(flatten)]
        publish: SigningArgs,
        /// How long to wait for another publisher before giving up (exit 75).
        #[arg(long, env = "PUBLISH_REPO_LOCK_TIMEOUT", value_parser = parse_duration, default_value = "60s")]
        lock_timeout: Duration,
    },
    /// Add .deb files to a suite (paths as arguments, or one per line on stdin).
    Add {
        #[command(flatten)]
        repo: RepoArg,
        #[arg(long, env = "PUBLISH_REPO_SUITE")]
        suite: String,
        #[arg(long, env = "PUBLISH_REPO_COMPONENT", default_value = "main")]
        component: String,
        #[command(flatten)]
        publish: PublishArgs,
        /// Refuse (exit 2) a .deb whose file name contradicts its control file (package,
        /// version or architecture), instead of publishing it with a warning.
        #[arg(long, env = "PUBLISH_REPO_STRICT")]
        strict: bool,
        debs: Vec<PathBuf>,
    },
    /// List the same files in another suite (no rebuild), newest version unless PKG=VERSION.
    Promote {
        #[command(flatten)]
        repo: RepoArg,
        #[arg(long, env = "PUBLISH_REPO_FROM")]
        from: String,
        #[arg(long, env = "PUBLISH_REPO_TO")]
        to: String,
        #[command(flatten)]
        publish: PublishArgs,
        #[arg(required = true)]
        packages: Vec<Spec>,
    },
    /// Stop listing packages in a suite (every version, or PKG=VERSION).
    Remove {
        #[command(flatten)]
        repo: RepoArg,
        #[arg(long, env = "PUBLISH_REPO_SUITE")]
        suite: String,
        #[command(flatten)]
        publish: PublishArgs,
        #[arg(required = true)]
        packages: Vec<Spec>,
    },
    /// Show what each suite lists.
    List {
        #[command(flatten)]
        repo: RepoArg,
        #[arg(long, env = "PUBLISH_REPO_SUITE")]
        suite: Option<String>,
        #[arg(long)]
        json: bool,
    },
    /// Check every hash, size and signature of the published tree.
    Verify {
        #[command(flatten)]
        repo: RepoArg,
        /// Public keyring to check signatures with (else gpg's keyring).
        #[arg(long, env = "PUBLISH_REPO_KEYRING")]
        keyring: Option<PathBuf>,
        /// Do not require signatures.
        #[arg(long)]
        unsigned: bool,
    },
}

#[derive(Debug, Args)]
struct RepoArg {
    /// The repository's root directory.
    #[arg(long, env = "PUBLISH_REPO_DIR")]
    repo: PathBuf,
}

#[derive(Debug, Args)]
struct PublishArgs {
    #[command(flatten)]
    signing: SigningArgs,
    /// Versions of each package kept per suite (older ones leave the index); at least 1.
    #[arg(long, env = "PUBLISH_REPO_KEEP", default_value_t = ops::DEFAULT_KEEP, value_parser = parse_keep)]
    keep: usize,
    /// How long to wait for another publisher before giving up (exit 75).
    #[arg(long, env = "PUBLISH_REPO_LOCK_TIMEOUT", value_parser = parse_duration, default_value = "60s")]
    lock_timeout: Duration,
}

impl PublishArgs {
    /// Publishing commands need an explicit choice: a key, or `--unsigned`.
    fn signer(&self) -> Result<Signer, Error> {
        self.signing
            .signer()?
            .ok_or_else(|| Error::Usage(format!("no signing key: give {}", SigningArgs::CHOICES)))
    }
}

/// `--keep`: a count of at least 1 (0 would drop every version, so it is refused rather than
/// quietly read as 1).
fn parse_keep(text: &str) -> Result<usize, String> {
    match text.parse::<usize>() {
        Ok(0) => Err("0 would drop every version; keep at least 1".into()),
        Ok(n) => Ok(n),
        Err(e) => Err(format!("{text:?} is not a count: {e}")),
    }
}

impl Cli {
    /// Runs the command; the JUnit report (`--junit`) is written whatever happens.
    pub fn run(self) -> anyhow::Result<Exit> {
        run(self.command, self.common.junit.as_deref())
    }
}

/// Runs one command; the JUnit report is written whatever happens (a failure before the
/// operation, such as a missing key, is one errored testcase), as the JUnit contract asks.
fn run(command: Command, junit: Option<&Path>) -> anyhow::Result<Exit> {
    let started = chrono::Utc::now();
    let (subject, action) = command.subject();
    match execute(command) {
        Ok(outcome) => {
            if let Some(path) = junit {
                write_report(path, &subject, outcome.cases.clone(), started)?;
            }
            if matches!(action, "add" | "promote" | "remove") {
                report_refusals(&outcome);
            }
            Ok(outcome.exit)
        }
        Err(error) => {
            if let Some(path) = junit {
                let mut case = Case::passed(format!("{TOOL}.{subject}.{action}"), action);
                case.status = cdkit::junit::Status::Errored(cdkit::junit::Problem {
                    message: error.to_string(),
                    kind: action.into(),
                    body: error.details().unwrap_or_default(),
                    ..Default::default()
                });
                write_report(path, &subject, vec![case], started)?;
            }
            Err(error.into())
        }
    }
}

impl Command {
    /// The report's subject (the suite an operation publishes, else the repository) and the
    /// command's name.
    fn subject(&self) -> (String, &'static str) {
        match self {
            Command::Init { .. } => ("repository".into(), "init"),
            Command::Add { suite, .. } => (suite.clone(), "add"),
            Command::Promote { to, .. } => (to.clone(), "promote"),
            Command::Remove { suite, .. } => (suite.clone(), "remove"),
            Command::List { .. } => ("repository".into(), "list"),
            Command::Verify { .. } => ("repository".into(), "verify"),
        }
    }
}

fn execute(command: Command) -> Result<OpOutcome, Error> {
    let done = |classname: &str, name: String| OpOutcome {
        cases: vec![Case::passed(format!("{TOOL}.repository.{classname}"), name)],
        exit: Exit::Success,
    };
    match command {
        Command::Init {
            repo,
            origin,
            label,
            suites,
            architectures,
            components,
            publish,
            lock_timeout,
        } => {
            let signer = publish.signer()?;
            let config = Config {
                origin,
                label,
                suites,
                architectures,
                components,
            };
            let changed = ops::init(&repo.repo, &config, signer.as_ref(), lock_timeout)?;
            let what = if changed {
                "initialised"
            } else {
                "already initialised"
            };
            tracing::info!("{what} {}", repo.repo.display());
            Ok(done("init", format!("init {}", repo.repo.display())))
        }
        Command::Add {
            repo,
            suite,
            component,
            publish,
            strict,
            debs,
        } => {
            let debs = if debs.is_empty() || debs == [PathBuf::from("-")] {
                paths_from_stdin()?
            } else {
                debs
            };
            let signer = publish.signer()?;
            ops::add(
                &context(&repo.repo, &signer, &publish),
                &suite,
                &component,
                &debs,
                strict,
            )
        }
        Command::Promote {
            repo,
            from,
            to,
            publish,
            packages,
        } => {
            let signer = publish.signer()?;
            ops::promote(
                &context(&repo.repo, &signer, &publish),
                &from,
                &to,
                &packages,
            )
        }
        Command::Remove {
            repo,
            suite,
            publish,
            packages,
        } => {
            let signer = publish.signer()?;
            ops::remove(&context(&repo.repo, &signer, &publish), &suite, &packages)
        }
        Command::List { repo, suite, json } => {
            list(&repo.repo, suite.as_deref(), json)?;
            Ok(done("list", format!("list {}", repo.repo.display())))
        }
        Command::Verify {
            repo,
            keyring,
            unsigned,
        } => {
            let defects = crate::verify::verify(&repo.repo, keyring.as_deref(), unsigned)?;
            for defect in &defects {
                cdkit::outln!("{defect}");
            }
            let mut outcome = done("verify", format!("verify {}", repo.repo.display()));
            if defects.is_empty() {
                tracing::info!(
                    "{}: every hash, size and signature checks out",
                    repo.repo.display()
                );
                return Ok(outcome);
            }
            let summary = format!(
                "verify found {} defect(s) in {}",
                defects.len(),
                repo.repo.display()
            );
            cdkit::cli::final_line(TOOL, &summary);
            outcome.cases[0].status = cdkit::junit::Status::Failed(cdkit::junit::Problem {
                message: summary,
                kind: "defects".into(),
                body: defects.iter().map(|d| format!("{d}\n")).collect(),
                ..Default::default()
            });
            outcome.exit = Exit::Failed;
            Ok(outcome)
        }
    }
}

fn context<'a>(repo: &'a Path, signer: &'a Signer, publish: &PublishArgs) -> Context<'a> {
    Context {
        repo,
        signer,
        lock_timeout: publish.lock_timeout,
        keep: publish.keep,
    }
}

fn report_refusals(outcome: &OpOutcome) {
    for case in outcome.cases.iter().filter(|c| c.is_bad()) {
        if let cdkit::junit::Status::Failed(problem) = &case.status {
            cdkit::cli::final_line(TOOL, &format!("refused: {}", problem.message));
        }
    }
}

fn write_report(
    path: &Path,
    subject: &str,
    mut cases: Vec<Case>,
    started: chrono::DateTime<chrono::Utc>,
) -> anyhow::Result<()> {
    if cases.is_empty() {
        cases.push(Case::nothing_to_do(
            format!("{TOOL}.{subject}.publish"),
            "nothing to publish",
        ));
    }
    let mut report = Report::new(TOOL);
    report
        .suites
        .push(Suite::finished(TOOL, subject, started, cases));
    report.write(path)?;
    Ok(())
}

/// .deb paths, one per line, from stdin (for `build-deb … | publish-repo add …`).
fn paths_from_stdin() -> Result<Vec<PathBuf>, Error> {
    let stdin = std::io::stdin();
    if stdin.is_terminal() {
        return Err(Error::Usage(
            "no .deb files given (as arguments or one per line on stdin)".into(),
        ));
    }
    let mut paths = Vec::new();
    for line in stdin.lock().lines() {
        let line =
            line.map_err(|e| Error::Usage(format!("cannot read .deb paths from stdin: {e}")))?;
        let line = line.trim();
        if !line.is_empty() {
            paths.push(PathBuf::from(line));
        }
    }
    Ok(paths)
}

fn list(repo: &Path, suite: Option<&str>, json: bool) -> Result<(), Error> {
    let config = crate::config::load(repo)?;
    let suites: Vec<String> = match suite {
        Some(s) => {
            config.check_suite(s)?;
            vec![s.to_string()]
        }
        None => config.suites.clone(),
    };
    let mut rows = Vec::new();
    for name in &suites {
        let mut state = crate::state::load(repo, name)?;
        state.sort();
        for e in state.entries {
            rows.push(serde_json::json!({
                "suite": name, "component": e.component, "package": e.package,
                "version": e.version, "architecture": e.architecture,
                "filename": e.filename, "size": e.size, "sha256": e.sha256,
            }));
            if !json {
                cdkit::outln!(
                    "{name}\t{}\t{}\t{}\t{}",
                    e.component,
                    e.package,
                    e.version,
                    e.architecture
                );
            }
        }
    }
    if json {
        cdkit::outln!("{}", serde_json::Value::Array(rows));
    }
    Ok(())
}
