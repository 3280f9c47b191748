//! Secret redaction for every string that leaves a tool (log lines, JUnit text, error
//! messages): passwords in URLs, and the values of credential-looking environment variables
//! (as Jenkins' withCredentials masks them).

use std::borrow::Cow;
use std::sync::{OnceLock, RwLock};

/// What a secret is replaced with.
pub const MASK: &str = "***";

static SECRETS: OnceLock<RwLock<Vec<String>>> = OnceLock::new();

fn secrets() -> &'static RwLock<Vec<String>> {
    SECRETS.get_or_init(|| RwLock::new(secrets_from_env(std::env::vars())))
}

/// Values of environment variables whose names say they hold a credential.
fn secrets_from_env(vars: impl Iterator<Item = (String, String)>) -> Vec<String> {
    const MARKERS: [&str; 6] = [
        "PASSWORD",
        "PASSWD",
        "SECRET",
        "TOKEN",
        "CREDENTIAL",
        "PRIVATE_KEY",
    ];
    vars.filter(|(name, value)| {
        let upper = name.to_ascii_uppercase();
        value.len() >= 4 && MARKERS.iter().any(|m| upper.contains(m))
    })
    .map(|(_, value)| value)
    .collect()
}

/// Add a value that must never be shown (e.g. a password read from a file).
pub fn register_secret(value: &str) {
    if value.len() < 4 {
        return; // masking "a" everywhere would destroy every log line and protect nothing
    }
    if let Ok(mut list) = secrets().write() {
        if !list.iter().any(|s| s == value) {
            list.push(value.to_string());
        }
    }
}

/// `text` with URL passwords and registered secrets replaced by [`MASK`].
pub fn redact(text: &str) -> Cow<'_, str> {
    let mut out = redact_url_passwords(text);
    if let Ok(list) = secrets().read() {
        if list.is_empty() {
            return out;
        }
        for secret in list.iter() {
            if out.contains(secret.as_str()) {
                out = Cow::Owned(out.replace(secret.as_str(), MASK));
            }
        }
    }
    out
}

/// Replace the password of every `scheme://user:password@host` in `text`.
pub fn redact_url_passwords(text: &str) -> Cow<'_, str> {
    if !text.contains("://") {
        return Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    let mut changed = false;
    while let Some(pos) = rest.find("://") {
        let (head, tail) = rest.split_at(pos + 3);
        out.push_str(head);
        // The authority ends at the first '/', whitespace, quote or end of text.
        let end = tail
            .find(|c: char| c == '/' || c.is_whitespace() || c == '"' || c == '\'')
            .unwrap_or(tail.len());
        let authority = &tail[..end];
        match (authority.rfind('@'), authority.find(':')) {
            (Some(at), Some(colon)) if colon < at => {
                out.push_str(&authority[..colon + 1]);
                out.push_str(MASK);
                out.push_str(&authority[at..]);
                changed = true;
            }
            _ => out.push_str(authority),
        }
        rest = &tail[end..];
    }
    out.push_str(rest);
    if changed {
        Cow::Owned(out)
    } else {
        Cow::Borrowed(text)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn url_passwords_are_masked_and_users_kept() {
        assert_eq!(
            redact_url_passwords("connect postgres://app:s3cr%40t@db:5432/x failed"),
            "connect postgres://app:***@db:5432/x failed"
        );
        assert_eq!(
            redact_url_passwords("a mysql://root:pw@h and http://u:p@w/"),
            "a mysql://root:***@h and http://u:***@w/"
        );
        assert_eq!(
            redact_url_passwords("http://host:8080/path"),
            "http://host:8080/path"
        );
        assert_eq!(
            redact_url_passwords("sqlite:/var/db.sqlite"),
            "sqlite:/var/db.sqlite"
        );
    }

    #[test]
    fn credential_env_values_are_secrets() {
        let vars = vec![
            ("DB_PASSWORD".to_string(), "hunter22".to_string()),
            ("GITHUB_TOKEN".to_string(), "ghp_abc".to_string()),
            ("PATH".to_string(), "/usr/bin".to_string()),
            ("API_SECRET".to_string(), "x".to_string()),
        ];
        assert_eq!(
            secrets_from_env(vars.into_iter()),
            vec!["hunter22", "ghp_abc"]
        );
    }

    #[test]
    fn registered_secrets_never_show() {
        register_secret("correct-horse-battery");
        assert_eq!(redact("pw is correct-horse-battery!"), "pw is ***!");
        register_secret("ab"); // too short to mask meaningfully
        assert_eq!(redact("abc"), "abc");
    }
}
