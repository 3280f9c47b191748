//! Secret redaction: the one layer every byte that leaves a tool goes through (stderr, log
//! lines in text and JSON, `--log-file`, syslog, JUnit names and bodies, deployment records,
//! run-tests' `SUITE.out.log`, progress lines and error messages).
//!
//! Escape sequences are stripped first and masking comes second: a secret that reaches the
//! output with an escape inside it (a child colouring half of it) is whole again once the
//! escape is gone, so it is recognised. What is masked:
//! - the password of every URL's userinfo (`scheme://user:PASSWORD@host`), recognised by
//!   RFC 3986's rule that the userinfo ends at the last `@` before the path, so a password
//!   with unencoded `/`, `@`, `%` or `:` is masked whole;
//! - the values of environment variables whose names say they hold a credential (`PASS`,
//!   `TOKEN`, `SECRET`, `KEY`, … but not `*_FILE` or `*_PATH`) and of those named in
//!   `CDKIT_SECRET_VARS`, as Jenkins' withCredentials masks them;
//! - values a tool registers because it knows they are secret ([`register_secret`]).

use std::borrow::Cow;
use std::sync::{OnceLock, RwLock};

/// What a secret is replaced with.
pub const MASK: &str = "***";

/// Environment variable naming more variables whose values are secret (comma, space or colon
/// separated), for credentials whose names carry none of the markers.
const SECRET_VARS_ENV: &str = "CDKIT_SECRET_VARS";

/// Shortest environment value that is masked. Shorter values (`1`, `true`, `yes`, `none`)
/// are flags, not credentials, and masking them everywhere would destroy every line while
/// protecting nothing.
const MIN_ENV_SECRET_LEN: usize = 6;

/// Shortest registered secret (a password a tool read from a URL or a file) that is masked
/// wherever it appears; a URL's own password is masked in the URL whatever its length.
const MIN_SECRET_LEN: usize = 4;

/// Parts of a variable name that say its value is a credential.
const MARKERS: [&str; 10] = [
    "PASS",
    "PWD",
    "KEY",
    "TOKEN",
    "SECRET",
    "AUTH",
    "COOKIE",
    "CREDENTIAL",
    "PASSPHRASE",
    "PRIVATE",
];

/// Names with a marker whose values are not secret: the shell's working directories, and
/// variables holding a path or socket (`*_FILE`, `*_PATH`, `*_DIR`, `*_SOCK`, `*KEYRING`), whose
/// secret is the file's content, never its name. `PUBLISH_REPO_SIGN_KEY` is an OpenPGP
/// fingerprint: public, and what a reader needs to see which key signed.
fn is_public_name(upper: &str) -> bool {
    matches!(upper, "PWD" | "OLDPWD" | "PUBLISH_REPO_SIGN_KEY")
        || ["_FILE", "_PATH", "_DIR", "_SOCK", "KEYRING"]
            .iter()
            .any(|suffix| upper.ends_with(suffix))
}

/// Whether `value` of the variable `name` is an OpenPGP key's fingerprint or ID, named as one
/// (`*SIGN_KEY`, `*SIGNING_KEY`, `*KEY_ID`, `*FINGERPRINT`, `*FPR`): public, and what a reader
/// of a plan or a log needs to see which key signs (a CI job may export the repository's key
/// under its own name, such as `RELEASE_SIGN_KEY`). Only hexadecimal of a key ID's or a
/// fingerprint's length qualifies, so a secret stored under such a name is still masked.
fn is_signing_key_id(name: &str, value: &str) -> bool {
    let upper = name.to_ascii_uppercase();
    let named = [
        "SIGN_KEY",
        "SIGNING_KEY",
        "KEY_ID",
        "KEYID",
        "FINGERPRINT",
        "FPR",
    ]
    .iter()
    .any(|suffix| upper.ends_with(suffix));
    let hex = value
        .trim()
        .trim_start_matches("0x")
        .trim_start_matches("0X");
    named && matches!(hex.len(), 8 | 16 | 40 | 64) && hex.chars().all(|c| c.is_ascii_hexdigit())
}

/// Whether the variable `name` holds a credential by its name alone.
fn is_secret_name(name: &str) -> bool {
    let upper = name.to_ascii_uppercase();
    !is_public_name(&upper) && MARKERS.iter().any(|m| upper.contains(m))
}

static SECRETS: OnceLock<RwLock<Vec<String>>> = OnceLock::new();

fn secrets() -> &'static RwLock<Vec<String>> {
    SECRETS.get_or_init(|| {
        let vars: Vec<(String, String)> = std::env::vars_os()
            .filter_map(|(k, v)| Some((k.into_string().ok()?, v.into_string().ok()?)))
            .collect();
        let extra = std::env::var(SECRET_VARS_ENV).unwrap_or_default();
        let mut list = Vec::new();
        for value in secrets_from_env(vars.into_iter(), &extra) {
            add_variants(&mut list, &value, MIN_ENV_SECRET_LEN);
        }
        RwLock::new(list)
    })
}

/// Values of the variables whose names say they hold a credential, or that `extra` (the
/// value of [`SECRET_VARS_ENV`]) lists, at least [`MIN_ENV_SECRET_LEN`] characters long.
fn secrets_from_env(vars: impl Iterator<Item = (String, String)>, extra: &str) -> Vec<String> {
    let listed: Vec<&str> = extra
        .split([',', ' ', ':', '\n', '\t'])
        .filter(|n| !n.is_empty())
        .collect();
    vars.filter(|(name, value)| {
        value.chars().count() >= MIN_ENV_SECRET_LEN
            && (listed.contains(&name.as_str())
                || (is_secret_name(name) && !is_signing_key_id(name, value)))
    })
    .map(|(_, value)| value)
    .collect()
}

/// Add `value` and its escape-free form (what it looks like once the output is cleaned), longest
/// first so that a secret containing another is masked whole.
fn add_variants(list: &mut Vec<String>, value: &str, min: usize) {
    let stripped = strip_escapes(value).into_owned();
    for v in [value.to_string(), stripped] {
        if v.chars().count() >= min && !list.contains(&v) {
            list.push(v);
        }
    }
    list.sort_by_key(|s| std::cmp::Reverse(s.len()));
}

/// Add a value that must never be shown (e.g. a password read from a URL or a file).
pub fn register_secret(value: &str) {
    if let Ok(mut list) = secrets().write() {
        add_variants(&mut list, value, MIN_SECRET_LEN);
    }
}

/// `text` as it may leave the tool: escape sequences stripped, then URL passwords and every
/// known secret replaced by [`MASK`].
pub fn redact(text: &str) -> Cow<'_, str> {
    let stripped = strip_escapes(text);
    let mut out = match redact_url_passwords(&stripped) {
        Cow::Borrowed(_) => stripped,
        Cow::Owned(s) => Cow::Owned(s),
    };
    if let Ok(list) = secrets().read() {
        for secret in list.iter() {
            if out.contains(secret.as_str()) {
                out = Cow::Owned(out.replace(secret.as_str(), MASK));
            }
        }
    }
    out
}

/// The password of `url`'s userinfo (`scheme://user:PASSWORD@…`; the userinfo ends at the
/// last `@` before the path, so a password may hold `@`).
pub fn url_password(url: &str) -> Option<&str> {
    let (_, rest) = url.split_once("://")?;
    let at = userinfo_end(rest)?;
    rest[..at].split_once(':').map(|(_, password)| password)
}

/// `url` from its host on: without scheme and userinfo (`db:5432/shop?x=1`).
pub fn url_after_userinfo(url: &str) -> Option<&str> {
    let (_, rest) = url.split_once("://")?;
    Some(match userinfo_end(rest) {
        Some(at) => &rest[at + 1..],
        None => rest,
    })
}

/// Register the password of `url`'s userinfo, as written and percent-decoded, so that it is
/// masked also where a program shows it outside the URL (an error quoting the password).
pub fn register_url_password(url: &str) {
    if let Some(password) = url_password(url) {
        register_secret(password);
        register_secret(&percent_decode(password));
    }
}

/// `%XX` decoding of a URL component (as database drivers and curl decode it).
pub fn percent_decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' && i + 2 < bytes.len() {
            let hex = |b: u8| (b as char).to_digit(16);
            if let (Some(h), Some(l)) = (hex(bytes[i + 1]), hex(bytes[i + 2])) {
                out.push((h * 16 + l) as u8);
                i += 3;
                continue;
            }
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Redact every string (keys too) of a JSON value in place: for records written as JSON, where
/// redacting the serialised text would miss a secret holding a quote or a backslash.
pub fn redact_json(value: &mut serde_json::Value) {
    use serde_json::Value;
    match value {
        Value::String(s) => {
            if let Cow::Owned(clean) = redact(s) {
                *s = clean;
            }
        }
        Value::Array(items) => items.iter_mut().for_each(redact_json),
        Value::Object(map) => {
            let old = std::mem::take(map);
            for (key, mut item) in old {
                redact_json(&mut item);
                map.insert(redact(&key).into_owned(), item);
            }
        }
        Value::Null | Value::Bool(_) | Value::Number(_) => {}
    }
}

/// Where the userinfo of the URL whose authority starts `after_scheme` (the text after `://`)
/// ends: the index of its `@`, if it has one. By RFC 3986 the userinfo ends at the last `@`
/// before the path; a password may hold unencoded `/`, `@` and `:` (generated passwords do),
/// so the last `@` of the URL before any query (`?`) or fragment (`#`) is taken. The URL ends at
/// whitespace, a quote, `<` or `>`.
fn userinfo_end(after_scheme: &str) -> Option<usize> {
    let end = url_end(after_scheme);
    let url = &after_scheme[..end];
    let before_query = url.find(['?', '#']).unwrap_or(url.len());
    url[..before_query].rfind('@')
}

fn url_end(text: &str) -> usize {
    text.find(|c: char| c.is_whitespace() || matches!(c, '"' | '\'' | '<' | '>' | '`'))
        .unwrap_or(text.len())
}

/// Replace the password of every `scheme://user:password@host` in `text` (the userinfo ends
/// at the last `@` before the path). A userinfo without `:` is a user name and is kept.
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
        let end = url_end(tail);
        match userinfo_end(tail) {
            Some(at) if tail[..at].contains(':') => {
                let colon = tail[..at].find(':').unwrap_or(at);
                out.push_str(&tail[..colon + 1]);
                out.push_str(MASK);
                out.push_str(&tail[at..end]);
                changed = true;
            }
            _ => out.push_str(&tail[..end]),
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

/// `text` without ANSI escape sequences: CSI (`ESC [ … final`), OSC (`ESC ] … BEL` or
/// `ESC ] … ESC \`), two-character escapes (`ESC X`) and a lone ESC.
fn strip_escapes(text: &str) -> Cow<'_, str> {
    if !text.contains('\u{1b}') {
        return Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len());
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        if c == '\u{1b}' {
            skip_escape_sequence(&mut chars);
        } else {
            out.push(c);
        }
    }
    Cow::Owned(out)
}

/// Consume the rest of an ANSI escape sequence whose ESC was just read.
fn skip_escape_sequence(chars: &mut std::iter::Peekable<std::str::Chars<'_>>) {
    match chars.peek().copied() {
        Some('[') => {
            chars.next();
            // Parameter and intermediate bytes 0x20–0x3F, then one final byte 0x40–0x7E.
            while let Some(&c) = chars.peek() {
                chars.next();
                if ('\u{40}'..='\u{7e}').contains(&c) {
                    break;
                }
                if !('\u{20}'..='\u{3f}').contains(&c) {
                    break; // malformed: stop swallowing
                }
            }
        }
        Some(']') => {
            chars.next();
            while let Some(c) = chars.next() {
                if c == '\u{7}' {
                    break;
                }
                if c == '\u{1b}' {
                    if chars.peek() == Some(&'\\') {
                        chars.next();
                    }
                    break;
                }
            }
        }
        Some(c) if ('\u{40}'..='\u{5f}').contains(&c) || c == '(' || c == ')' => {
            chars.next();
        }
        _ => {}
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
        assert_eq!(
            redact_url_passwords("https://deploy@git.example/x"),
            "https://deploy@git.example/x"
        );
    }

    #[test]
    fn a_password_with_slash_at_percent_and_colon_is_masked_whole() {
        for url in [
            "postgres://app:ab/cd@db:5432/shop",
            "postgres://app:a/b@c:d%zz@db:5432/shop",
            "postgres://app:a@b/c@db:5432/shop?sslmode=disable",
            "postgres://app:x//y@@db:5432/shop#frag@x",
        ] {
            let shown = redact_url_passwords(url);
            assert!(
                shown.starts_with("postgres://app:***@db:5432/shop"),
                "{url} -> {shown}"
            );
        }
        assert_eq!(
            redact_url_passwords("\"http://m:p/w@h/health\" failed"),
            "\"http://m:***@h/health\" failed"
        );
    }

    #[test]
    fn escapes_are_stripped_before_masking() {
        register_secret("esc-secret-value");
        assert_eq!(redact("pw esc-\u{1b}[31msecret\u{1b}[0m-value!"), "pw ***!");
        assert_eq!(
            redact("x://u:pa\u{1b}[1mss/w@h/"),
            "x://u:***@h/",
            "a URL password with an escape inside"
        );
        // A secret that itself holds an escape is masked in both forms.
        register_secret("tricky\u{1b}[0mpass");
        assert_eq!(redact("a trickypass b"), "a *** b");
    }

    #[test]
    fn credential_env_values_are_secrets() {
        let vars = [
            ("DB_PASSWORD", "hunter22"),
            ("GITHUB_TOKEN", "ghp_abcdef"),
            ("GPG_PASSPHRASE", "open sesame"),
            ("DB_PASS", "db-pass-1"),
            ("MYSQL_PWD", "mysql-pw-1"),
            ("API_KEY", "key-123456"),
            ("SESSION_COOKIE", "cookie-1234"),
            ("PATH", "/usr/bin:/bin"),
            ("PWD", "/home/jenkins"),
            ("OLDPWD", "/home/jenkins/x"),
            ("SSH_AUTH_SOCK", "/tmp/ssh-abc/agent.1"),
            ("SIGN_KEY_FILE", "/etc/keys/sign.asc"),
            (
                "CDKIT_TESTBED_SIGN_KEY",
                "0123456789ABCDEF0123456789ABCDEF01234567",
            ),
            ("RELEASE_SIGN_KEY", "not-a-fingerprint-but-a-secret"),
            ("API_SECRET", "x"),
            ("CI_FLAG_TOKEN", "true"),
            ("VENDOR_THING", "listed-thing"),
        ]
        .map(|(k, v)| (k.to_string(), v.to_string()));
        assert_eq!(
            secrets_from_env(vars.into_iter(), "OTHER, VENDOR_THING"),
            vec![
                "hunter22",
                "ghp_abcdef",
                "open sesame",
                "db-pass-1",
                "mysql-pw-1",
                "key-123456",
                "cookie-1234",
                "not-a-fingerprint-but-a-secret",
                "listed-thing"
            ]
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
