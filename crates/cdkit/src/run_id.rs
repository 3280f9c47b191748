//! The `run_id` shared by every tool of one pipeline run, so the central log can be filtered to
//! one push: `CDKIT_RUN_ID`, else derived from Jenkins' `BUILD_TAG`, else generated once and
//! exported to child processes.

use std::sync::OnceLock;

/// Environment variable carrying the run id between tools of one pipeline run.
pub(crate) const ENV: &str = "CDKIT_RUN_ID";

static RUN_ID: OnceLock<String> = OnceLock::new();

/// This run's id (computed on first use, then fixed for the life of the process).
pub fn get() -> &'static str {
    RUN_ID.get_or_init(|| {
        from_env(
            std::env::var(ENV).ok().as_deref(),
            std::env::var("BUILD_TAG").ok().as_deref(),
        )
        .unwrap_or_else(generate)
    })
}

/// The id from `CDKIT_RUN_ID` or `BUILD_TAG`, cleaned to characters that are safe in file
/// names, syslog structured data and shell words.
fn from_env(cdkit_run_id: Option<&str>, build_tag: Option<&str>) -> Option<String> {
    [cdkit_run_id, build_tag]
        .into_iter()
        .flatten()
        .map(clean)
        .find(|id| !id.is_empty())
}

fn clean(raw: &str) -> String {
    raw.trim()
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-') {
                c
            } else {
                '_'
            }
        })
        .take(128)
        .collect()
}

/// A new id: UTC time plus random bits, sortable and unique enough for one company's runs.
fn generate() -> String {
    use std::hash::{BuildHasher, Hasher};
    let mut hasher = std::collections::hash_map::RandomState::new().build_hasher();
    hasher.write_u32(std::process::id());
    let bits = hasher.finish();
    format!(
        "{}-{:08x}",
        chrono::Utc::now().format("%Y%m%dT%H%M%SZ"),
        bits & 0xffff_ffff
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cdkit_run_id_wins_over_build_tag() {
        assert_eq!(
            from_env(Some("r1"), Some("jenkins-x-1")).as_deref(),
            Some("r1")
        );
        assert_eq!(
            from_env(None, Some("jenkins-my job/main-42")).as_deref(),
            Some("jenkins-my_job_main-42")
        );
        assert_eq!(from_env(Some("  "), None), None);
    }

    #[test]
    fn generated_ids_differ_and_are_clean() {
        let (a, b) = (generate(), generate());
        assert_ne!(a, b);
        assert_eq!(clean(&a), a);
    }
}
