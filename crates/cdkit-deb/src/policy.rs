//! Debian policy grammars for the untrusted strings every tool handles: package names and
//! versions are validated before use (they end up in paths, commands and file names) and versions are ordered by dpkg's rules,
//! because rolling-install and rollback decide "newer" and "previous" with them.
//!
//! Ordering comes from the debversion crate (checked against `dpkg --compare-versions` in
//! `tests/versions.rs`); validation is stricter than its parser, matching what dpkg-deb
//! accepts, and refuses version styles that parse but order wrongly (`1.0-rc1`).

use std::cmp::Ordering;
use std::fmt;
use std::str::FromStr;

use chrono::{DateTime, Utc};

/// Why a name or version was refused; the message names the input and how to fix it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PolicyError {
    /// A package name outside Debian's grammar.
    #[error("package name {name:?} is not valid: {reason}")]
    Name {
        /// The name as given.
        name: String,
        /// Which rule it breaks.
        reason: String,
    },
    /// A version dpkg would refuse, or one that would order wrongly.
    #[error("version {version:?} is not valid: {reason}")]
    Version {
        /// The version as given.
        version: String,
        /// Which rule it breaks, and the usual fix.
        reason: String,
    },
    /// One entry of a relation field (`Depends`, `Breaks`, …) that dpkg would not parse.
    #[error("{field} {relation:?} is not a valid relation: {reason}")]
    Relation {
        /// The field it came from, so the user knows which line to fix.
        field: String,
        /// The single relation as given.
        relation: String,
        /// What is wrong with it.
        reason: String,
    },
}

/// Check a binary package name: lowercase letters, digits, `+`, `-`, `.`; at least two
/// characters; starting with a letter or digit (Policy §5.6.1).
pub fn validate_package_name(name: &str) -> Result<(), PolicyError> {
    let fail = |reason: &str| {
        Err(PolicyError::Name {
            name: name.to_string(),
            reason: reason.to_string(),
        })
    };
    if name.len() < 2 {
        return fail("it must be at least two characters long");
    }
    if !name.starts_with(|c: char| c.is_ascii_lowercase() || c.is_ascii_digit()) {
        return fail("it must start with a lowercase letter or a digit");
    }
    if let Some(bad) = name
        .chars()
        .find(|c| !(c.is_ascii_lowercase() || c.is_ascii_digit() || "+-.".contains(*c)))
    {
        return fail(&format!(
            "{bad:?} is not allowed (only a-z, 0-9, '+', '-' and '.')"
        ));
    }
    Ok(())
}

/// A validated Debian version, ordered as dpkg orders them.
#[derive(Debug, Clone)]
pub struct Version {
    text: String,
    parsed: debversion::Version,
}

/// Where a relation field (`Depends`, `Breaks`, …) is written, which decides what it may hold.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RelationContext {
    /// A binary package's control file, as dpkg-deb reads it: `name[:arch] [(op version)]`
    /// alternatives only.
    Binary,
    /// `debian/control` of a source tree, as dpkg-gencontrol reads it: also architecture
    /// restrictions `[amd64]`, build profiles `<!nocheck>` and substitution variables
    /// (`${shlibs:Depends}`), which are filled in later.
    Source,
}

/// Check one relation field's value (`a (>= 1.0) | b, c`) by Debian's grammar (Policy 7.1),
/// so that a broken `Depends` is refused before a build of minutes, naming the field, instead
/// of by dpkg-deb at the end. Versions must be ones dpkg parses; names follow
/// [`validate_package_name`]'s character rules (any length, as dpkg allows virtual names
/// like `c` in relations).
pub fn check_relations(
    field: &str,
    text: &str,
    context: RelationContext,
) -> Result<(), PolicyError> {
    for relation in text.split(',') {
        let fail = |reason: String| {
            Err(PolicyError::Relation {
                field: field.to_string(),
                relation: relation.trim().to_string(),
                reason,
            })
        };
        let relation_text = if context == RelationContext::Source {
            without_substvars(relation)
        } else {
            relation.to_string()
        };
        if relation_text.trim().is_empty() {
            // dpkg-gencontrol drops empty relations (`${misc:Depends}` that filled in empty,
            // a trailing comma); in a built package dpkg-deb refuses them.
            if context == RelationContext::Source {
                continue;
            }
            return fail("an empty relation (two commas in a row, or one at an end)".into());
        }
        for alternative in relation_text.split('|') {
            if let Err(reason) = check_alternative(alternative.trim(), context) {
                return fail(reason);
            }
        }
    }
    Ok(())
}

/// `${…}` substitution variables replaced by a token that is both a valid name and a valid
/// version, so that the grammar can be checked around them.
fn without_substvars(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(start) = rest.find("${") {
        out.push_str(&rest[..start]);
        match rest[start..].find('}') {
            Some(end) => {
                out.push_str("0substvar");
                rest = &rest[start + end + 1..];
            }
            None => {
                out.push_str(&rest[start..]);
                rest = "";
            }
        }
    }
    out.push_str(rest);
    out
}

fn check_alternative(text: &str, context: RelationContext) -> Result<(), String> {
    if text.is_empty() {
        return Err("an empty alternative (two `|` in a row, or one at an end)".into());
    }
    let name_end = text
        .find(|c: char| !(c.is_ascii_alphanumeric() || "+-.".contains(c)))
        .unwrap_or(text.len());
    let name = &text[..name_end];
    if name.is_empty() {
        return Err("it must start with a package name".into());
    }
    if !name.starts_with(|c: char| c.is_ascii_lowercase() || c.is_ascii_digit())
        || name.chars().any(|c| c.is_ascii_uppercase())
    {
        return Err(format!(
            "package name {name:?} must be lowercase and start with a letter or digit"
        ));
    }
    let mut rest = &text[name_end..];
    if let Some(qualified) = rest.strip_prefix(':') {
        let end = qualified
            .find(|c: char| !(c.is_ascii_alphanumeric() || c == '-'))
            .unwrap_or(qualified.len());
        if end == 0 {
            return Err("an architecture qualifier after ':' is empty".into());
        }
        rest = &qualified[end..];
    }
    rest = rest.trim_start();
    if let Some(inner) = rest.strip_prefix('(') {
        let Some(close) = inner.find(')') else {
            return Err("a '(' without its ')'".into());
        };
        let constraint = inner[..close].trim();
        let op_len = ["<<", "<=", ">=", ">>", "=", "<", ">"]
            .iter()
            .find(|op| constraint.starts_with(*op))
            .map(|op| op.len())
            .ok_or_else(|| format!("{constraint:?} must start with <<, <=, =, >= or >>"))?;
        let version = constraint[op_len..].trim();
        if version.is_empty() || version.contains(char::is_whitespace) {
            return Err(format!(
                "{version:?} after {:?} is not one version",
                &constraint[..op_len]
            ));
        }
        debversion::Version::from_str(version).map_err(|e| format!("version {version:?}: {e}"))?;
        if !version.starts_with(|c: char| c.is_ascii_digit()) && !version.contains(':') {
            return Err(format!("version {version:?} must start with a digit"));
        }
        rest = inner[close + 1..].trim_start();
    }
    if context == RelationContext::Source {
        if let Some(inner) = rest.strip_prefix('[') {
            let close = inner.find(']').ok_or("a '[' without its ']'")?;
            rest = inner[close + 1..].trim_start();
        }
        while let Some(inner) = rest.strip_prefix('<') {
            let close = inner.find('>').ok_or("a '<' without its '>'")?;
            rest = inner[close + 1..].trim_start();
        }
    }
    if !rest.is_empty() {
        return Err(format!(
            "unexpected {rest:?} after the package name{}",
            if context == RelationContext::Binary {
                " (a built package's relations hold only names, architecture qualifiers and versions)"
            } else {
                ""
            }
        ));
    }
    Ok(())
}

impl Version {
    /// Parse and validate `text` (see the module documentation).
    pub fn parse(text: &str) -> Result<Version, PolicyError> {
        let fail = |reason: String| {
            Err(PolicyError::Version {
                version: text.to_string(),
                reason,
            })
        };
        if text.is_empty() {
            return fail("it is empty".into());
        }
        if let Some(bad) = text
            .chars()
            .find(|c| !(c.is_ascii_alphanumeric() || ".+-~:".contains(*c)))
        {
            return fail(format!(
                "{bad:?} is not allowed (only letters, digits and . + - ~ :)"
            ));
        }
        let (epoch, rest) = match text.split_once(':') {
            Some((e, r)) if !e.is_empty() && e.chars().all(|c| c.is_ascii_digit()) => (Some(e), r),
            Some(_) => return fail("the part before ':' must be a numeric epoch".into()),
            None => (None, text),
        };
        let _ = epoch;
        let (upstream, revision) = match rest.rsplit_once('-') {
            Some((u, r)) => (u, Some(r)),
            None => (rest, None),
        };
        if upstream.is_empty() {
            return fail("the upstream version is empty".into());
        }
        if !upstream.starts_with(|c: char| c.is_ascii_digit()) {
            // The whole version without the prefix: epoch and revision stay (`v0.31-2` is
            // `0.31-2`, not `0.31`), so the hint can be pasted as is.
            let hint = upstream
                .strip_prefix(['v', 'V'])
                .filter(|r| r.starts_with(|c: char| c.is_ascii_digit()))
                .map(|r| {
                    let epoch = &text[..text.len() - rest.len()];
                    let revision = revision.map(|r| format!("-{r}")).unwrap_or_default();
                    let fixed = format!("{epoch}{r}{revision}");
                    match Version::parse(&fixed) {
                        Ok(_) => format!("; drop the tag prefix: {fixed}"),
                        Err(e) => format!("; without the tag prefix, {e}"),
                    }
                })
                .unwrap_or_default();
            return fail(format!("it must start with a digit{hint}"));
        }
        if upstream.contains(':') {
            return fail("':' is only allowed after an epoch".into());
        }
        if let Some(rev) = revision {
            if rev.is_empty() {
                return fail("the revision after the last '-' is empty".into());
            }
            if looks_like_prerelease(rev) {
                return fail(format!(
                    "'-{rev}' would make it sort AFTER {upstream}; write a pre-release with '~': {upstream}~{rev}"
                ));
            }
        }
        let parsed = debversion::Version::from_str(text).map_err(|e| PolicyError::Version {
            version: text.to_string(),
            reason: e.to_string(),
        })?;
        Ok(Version {
            text: text.to_string(),
            parsed,
        })
    }

    /// The upstream part (without epoch and revision).
    pub fn upstream(&self) -> &str {
        &self.parsed.upstream_version
    }

    /// The Debian revision, if any.
    pub fn revision(&self) -> Option<&str> {
        self.parsed.debian_revision.as_deref()
    }

    /// The epoch (`1` in `1:2.0-1`), if written.
    pub fn epoch(&self) -> Option<u32> {
        self.parsed.epoch
    }

    /// The version as written.
    pub fn as_str(&self) -> &str {
        &self.text
    }
}

/// `rc1`, `beta`, `alpha2`, `pre3`, `dev`: semver-style pre-release markers that, after a `-`,
/// would make the version sort after the release.
fn looks_like_prerelease(revision: &str) -> bool {
    let lower = revision.to_ascii_lowercase();
    let word: String = lower
        .chars()
        .take_while(|c| c.is_ascii_alphabetic())
        .collect();
    matches!(
        word.as_str(),
        "rc" | "alpha" | "beta" | "pre" | "preview" | "dev" | "snapshot"
    )
}

impl FromStr for Version {
    type Err = PolicyError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Version::parse(s)
    }
}

impl fmt::Display for Version {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

impl PartialEq for Version {
    fn eq(&self, other: &Self) -> bool {
        self.cmp(other) == Ordering::Equal
    }
}

impl Eq for Version {}

impl PartialOrd for Version {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for Version {
    fn cmp(&self, other: &Self) -> Ordering {
        self.parsed.cmp(&other.parsed)
    }
}

/// The parts of a CI build version:
/// `<upstream>[~<pre>]+<commit time yyyymmddHHMMSS>.<build number>.g<short sha>-<revision>`.
/// The commit time comes first so versions grow with history even when a Jenkins job is
/// recreated and its build numbers restart.
#[derive(Debug, Clone)]
pub struct CiVersion {
    /// The project's own version (`1.4.0`).
    pub upstream: String,
    /// A pre-release tag after `~` (`rc1`), which dpkg sorts before the release itself.
    pub prerelease: Option<String>,
    /// The commit's time (UTC), first so that versions follow history.
    pub commit_time: DateTime<Utc>,
    /// The CI build number, telling apart two builds of one commit.
    pub build_number: u64,
    /// The abbreviated commit id, so a version names its source.
    pub short_sha: String,
    /// `None` for a native package (no `-revision`).
    pub revision: Option<String>,
}

impl CiVersion {
    /// The full version, validated.
    pub fn render(&self) -> Result<Version, PolicyError> {
        let pre = match &self.prerelease {
            Some(p) if !p.is_empty() => format!("~{p}"),
            _ => String::new(),
        };
        let revision = match &self.revision {
            Some(r) => format!("-{r}"),
            None => String::new(),
        };
        let text = format!(
            "{}{pre}+{}.{}.g{}{revision}",
            self.upstream,
            self.commit_time.format("%Y%m%d%H%M%S"),
            self.build_number,
            self.short_sha,
        );
        Version::parse(&text)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    #[test]
    fn package_names_follow_policy() {
        for ok in ["hello-service", "libfoo2", "g++", "a0", "python3.11"] {
            assert!(validate_package_name(ok).is_ok(), "{ok}");
        }
        for bad in ["", "a", "Hello", "-x", "foo_bar", "x y", "../etc", "foo;rm"] {
            assert!(validate_package_name(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn bad_versions_are_refused_with_a_hint() {
        let err = Version::parse("v1.2").unwrap_err().to_string();
        assert!(
            err.contains("\"v1.2\"") && err.contains("drop the tag prefix: 1.2"),
            "{err}"
        );
        // The hint keeps the epoch and the Debian revision.
        for (tagged, hint) in [
            ("v0.31-2", "drop the tag prefix: 0.31-2"),
            ("V2.10-3", "drop the tag prefix: 2.10-3"),
            ("1:v2.0-1", "drop the tag prefix: 1:2.0-1"),
            ("v1.0-rc1", "write a pre-release with '~': 1.0~rc1"),
        ] {
            let err = Version::parse(tagged).unwrap_err().to_string();
            assert!(err.ends_with(hint), "{tagged}: {err}");
        }
        let err = Version::parse("1.0-rc1").unwrap_err().to_string();
        assert!(err.contains("1.0~rc1"), "{err}");
        for bad in ["1.0 beta", "", "1.2_3", "a:1.0", "1.0-", ":1.0", "1:2:3x_"] {
            assert!(Version::parse(bad).is_err(), "{bad}");
        }
        for ok in [
            "1.0",
            "1:2.3-4",
            "2.0~rc1-1",
            "1.2.3+20260101120000.42.gabc1234-1",
            "0.1+dfsg-2~bpo12+1",
        ] {
            assert!(Version::parse(ok).is_ok(), "{ok}");
        }
    }

    #[test]
    fn ci_versions_order_by_commit_time_then_build() {
        let at = |h| Utc.with_ymd_and_hms(2026, 11, 26, h, 0, 0).unwrap();
        let v = |pre: Option<&str>, h, build, sha: &str| {
            CiVersion {
                upstream: "1.2.3".into(),
                prerelease: pre.map(str::to_string),
                commit_time: at(h),
                build_number: build,
                short_sha: sha.into(),
                revision: Some("1".into()),
            }
            .render()
            .unwrap()
        };
        let a = v(None, 8, 41, "fff0000");
        assert_eq!(a.as_str(), "1.2.3+20261126080000.41.gfff0000-1");
        assert!(v(None, 8, 42, "0000000") > a);
        assert!(v(None, 9, 1, "0000000") > v(None, 8, 99, "fffffff"));
        assert!(v(Some("rc1"), 9, 1, "a") < Version::parse("1.2.3").unwrap());
        assert!(a > Version::parse("1.2.3-1").unwrap());
        assert!(a < Version::parse("1.2.4-1").unwrap());
    }
}
