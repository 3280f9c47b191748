//! Re-pointing an APT suite at the version being returned to, with publish-repo's own
//! operations (its lock, validation, signing and atomic publication): every newer version of
//! the package leaves the suite (`remove PKG=V`), and the target is listed (`promote` from a
//! suite that still has it, if the suite itself no longer does). Every change publishes the
//! suite with a fresh Release `Date`, so apt clients that saw the newer index take the new one.

use std::path::Path;
use std::time::{Duration, Instant};

use cdkit::junit::Case;
use cdkit_deb::policy::Version;
use publish_repo::ops::{self, Context, Spec};
use publish_repo::sign::Signer;
use publish_repo::{config, state, Error};

/// What the suite needs, worked out before anything changes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RepoPlan {
    /// The suite to re-point.
    pub suite: String,
    /// The package.
    pub package: String,
    /// The version that becomes the newest listed.
    pub target: String,
    /// Versions newer than the target that the suite lists (they leave it).
    pub remove: Vec<String>,
    /// The suite lacks the target: promote it from this suite.
    pub promote_from: Option<String>,
}

impl RepoPlan {
    /// Whether the suite already points at the target.
    pub fn is_noop(&self) -> bool {
        self.remove.is_empty() && self.promote_from.is_none()
    }

    /// One line for `--dry-run` and the log.
    pub fn describe(&self) -> String {
        if self.is_noop() {
            return format!(
                "suite {}: {} {} is already the newest listed; nothing to change",
                self.suite, self.package, self.target
            );
        }
        let mut parts = Vec::new();
        if let Some(from) = &self.promote_from {
            parts.push(format!(
                "promote {}={} from {from}",
                self.package, self.target
            ));
        }
        if !self.remove.is_empty() {
            parts.push(format!(
                "remove {}",
                self.remove
                    .iter()
                    .map(|v| format!("{}={v}", self.package))
                    .collect::<Vec<_>>()
                    .join(" ")
            ));
        }
        format!("suite {}: {}", self.suite, parts.join(", then "))
    }
}

/// Work out how `suite` of the repository at `repo` comes to list `package` `target` as its
/// newest version. The target must be somewhere in the repository: hosts fetch it from there.
pub fn plan(repo: &Path, suite: &str, package: &str, target: &str) -> Result<RepoPlan, Error> {
    let config = config::load(repo)?;
    config.check_suite(suite)?;
    let wanted = Version::parse(target).map_err(|e| Error::Usage(e.to_string()))?;
    let listed = state::load(repo, suite)?;
    let mut remove: Vec<String> = Vec::new();
    let mut has_target = false;
    for entry in listed.entries.iter().filter(|e| e.package == package) {
        match Version::parse(&entry.version) {
            Ok(v) if v > wanted && !remove.contains(&entry.version) => {
                remove.push(entry.version.clone());
            }
            Ok(v) if v == wanted => has_target = true,
            _ => {}
        }
    }
    let promote_from = if has_target {
        None
    } else {
        let mut from = None;
        for other in config.suites.iter().filter(|s| *s != suite) {
            let st = state::load(repo, other)?;
            if st
                .entries
                .iter()
                .any(|e| e.package == package && e.version == target)
            {
                from = Some(other.clone());
                break;
            }
        }
        Some(from.ok_or_else(|| {
            Error::Usage(format!(
                "{package} {target} is in no suite of {} any more (retention dropped it?): \
                 hosts could not fetch it either; publish it again, then re-run",
                repo.display()
            ))
        })?)
    };
    Ok(RepoPlan {
        suite: suite.to_string(),
        package: package.to_string(),
        target: target.to_string(),
        remove,
        promote_from,
    })
}

/// Carry out `plan`: the JUnit testcases of the publish-repo operations (or one that says the
/// suite already pointed at the target).
pub fn apply(
    repo: &Path,
    plan: &RepoPlan,
    signer: &Signer,
    lock_timeout: Duration,
    classname: &str,
) -> Result<Vec<Case>, Error> {
    let started = Instant::now();
    let ctx = Context {
        repo,
        signer,
        lock_timeout,
        // Retention is the publisher's business: a rollback only takes versions out.
        keep: usize::MAX,
    };
    let mut cases = Vec::new();
    if let Some(from) = &plan.promote_from {
        let spec = Spec {
            package: plan.package.clone(),
            version: Some(plan.target.clone()),
        };
        cases.extend(ops::promote(&ctx, from, &plan.suite, &[spec])?.cases);
    }
    if !plan.remove.is_empty() {
        let specs: Vec<Spec> = plan
            .remove
            .iter()
            .map(|v| Spec {
                package: plan.package.clone(),
                version: Some(v.clone()),
            })
            .collect();
        cases.extend(ops::remove(&ctx, &plan.suite, &specs)?.cases);
    }
    for case in &mut cases {
        case.classname = classname.to_string();
    }
    if cases.is_empty() {
        let mut case = Case::passed(classname, format!("suite {}", plan.suite));
        case.time = started.elapsed();
        case.system_out = Some(plan.describe());
        cases.push(case);
    }
    tracing::info!("{}", plan.describe());
    Ok(cases)
}
