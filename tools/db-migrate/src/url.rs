//! Database URLs: which driver, the name used as the JUnit subject, and the form that may be
//! shown (password masked). Parsing happens before anything connects, so a bad URL is a
//! one-line usage error (exit 2) that never echoes the password.

use std::path::PathBuf;

use crate::Error;

/// The three supported databases.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Kind {
    Sqlite,
    Postgres,
    Mysql,
}

impl Kind {
    /// Whether DDL is transactional, so that a migration and its history row can commit
    /// together (PostgreSQL, SQLite: yes; MariaDB: no, DDL commits implicitly).
    pub fn transactional_ddl(self) -> bool {
        !matches!(self, Kind::Mysql)
    }
}

/// A parsed database URL.
#[derive(Debug, Clone)]
pub struct DbUrl {
    pub kind: Kind,
    /// The URL as given (holds the password; never shown).
    pub(crate) raw: String,
    /// The URL with its password masked: the only form that is shown.
    pub redacted: String,
    /// Stable subject name: database name, or the SQLite file's stem.
    pub database: String,
    /// SQLite only: the database file.
    pub sqlite_path: Option<PathBuf>,
}

/// Parse `url` (`sqlite:PATH`, `sqlite://PATH`, `postgres[ql]://…`, `mysql://…`, `mariadb://…`).
pub fn parse(url: &str) -> Result<DbUrl, Error> {
    let redacted = mask_query_password(&cdkit::redact::redact_url_passwords(url));
    register_password(url);
    let bad = |problem: &str| Error::Url {
        url: redacted.clone(),
        problem: problem.to_string(),
    };
    if url.trim().is_empty() {
        return Err(Error::Usage(format!(
            "no database URL: give --database-url or set {}",
            crate::URL_ENV
        )));
    }
    if let Some(rest) = url.strip_prefix("sqlite:") {
        let rest = rest.strip_prefix("//").unwrap_or(rest);
        let path = rest.split('?').next().unwrap_or("");
        if path.is_empty() {
            return Err(bad(
                "no file name (expected sqlite:PATH, e.g. sqlite:/var/lib/app/app.db)",
            ));
        }
        let path = PathBuf::from(path);
        let database = path
            .file_stem()
            .map(|s| s.to_string_lossy().into_owned())
            .unwrap_or_else(|| "sqlite".into());
        return Ok(DbUrl {
            kind: Kind::Sqlite,
            raw: url.to_string(),
            redacted,
            database: subject(&database),
            sqlite_path: Some(path),
        });
    }
    let (kind, database) = if url.starts_with("postgres://") || url.starts_with("postgresql://") {
        (
            Kind::Postgres,
            url_database(url).unwrap_or_else(|| "postgres".into()),
        )
    } else if url.starts_with("mysql://") || url.starts_with("mariadb://") {
        let db = url_database(url).ok_or_else(|| {
            bad("no database name (expected mysql://USER[:PASSWORD]@HOST[:PORT]/DATABASE)")
        })?;
        (Kind::Mysql, db)
    } else {
        return Err(bad(
            "unknown scheme (expected sqlite:PATH, postgres://…, mysql://… or mariadb://…)",
        ));
    };
    let host = cdkit::redact::url_after_userinfo(url)
        .map(|rest| rest.split(['/', '?']).next().unwrap_or(""))
        .unwrap_or("");
    if host.is_empty() && kind == Kind::Mysql {
        return Err(bad("no host"));
    }
    Ok(DbUrl {
        kind,
        raw: url.to_string(),
        redacted,
        database: subject(&database),
        sqlite_path: None,
    })
}

/// The path segment of a URL, without query: the database name. The userinfo is skipped by
/// RFC 3986's rule first (a password may hold `/`, which must not start the path).
fn url_database(url: &str) -> Option<String> {
    let rest = cdkit::redact::url_after_userinfo(url)?;
    let (_, path) = rest.split_once('/')?;
    let name = path.split('?').next().unwrap_or("");
    (!name.is_empty()).then(|| cdkit::redact::percent_decode(name))
}

/// The values of the URL's `password=` query parameters: the postgres and mysql crates take
/// a password there as well as in `user:password@`.
fn query_passwords(url: &str) -> impl Iterator<Item = &str> {
    let query = url.split_once('?').map_or("", |(_, q)| q);
    let query = query.split('#').next().unwrap_or("");
    query
        .split('&')
        .filter_map(|pair| match pair.split_once('=') {
            Some((key, value)) if key.eq_ignore_ascii_case("password") => Some(value),
            _ => None,
        })
}

/// `url` with the value of every `password=` query parameter masked (however short).
fn mask_query_password(url: &str) -> String {
    let Some((head, query)) = url.split_once('?') else {
        return url.to_string();
    };
    let pairs: Vec<String> = query
        .split('&')
        .map(|pair| match pair.split_once('=') {
            Some((key, _)) if key.eq_ignore_ascii_case("password") => {
                format!("{key}={}", cdkit::redact::MASK)
            }
            _ => pair.to_string(),
        })
        .collect();
    format!("{head}?{}", pairs.join("&"))
}

/// Mask the URL's passwords everywhere (even where a driver echoes one outside a URL): the
/// one in `user:password@` and any `password=` query parameter, as written and decoded.
fn register_password(url: &str) {
    for password in cdkit::redact::url_password(url)
        .into_iter()
        .chain(query_passwords(url))
    {
        cdkit::redact::register_secret(password);
        cdkit::redact::register_secret(&cdkit::redact::percent_decode(password));
        // Query strings are form-encoded: `+` is a space there.
        cdkit::redact::register_secret(&cdkit::redact::percent_decode(&password.replace('+', " ")));
    }
}

/// A name safe for JUnit suite and class names: letters, digits, `_` and `-`.
fn subject(name: &str) -> String {
    let cleaned: String = name
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '_' || c == '-' {
                c
            } else {
                '_'
            }
        })
        .collect();
    if cleaned.is_empty() {
        "database".into()
    } else {
        cleaned
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn schemes_select_drivers_and_names() {
        let u = parse("sqlite:/var/lib/app/app.db").unwrap();
        assert_eq!((u.kind, u.database.as_str()), (Kind::Sqlite, "app"));
        let u = parse("sqlite://rel/x.sqlite3?mode=rwc").unwrap();
        assert_eq!(u.sqlite_path.unwrap(), PathBuf::from("rel/x.sqlite3"));
        let u = parse("postgres://app:pw@db1:5432/shop").unwrap();
        assert_eq!((u.kind, u.database.as_str()), (Kind::Postgres, "shop"));
        assert_eq!(u.redacted, "postgres://app:***@db1:5432/shop");
        let u = parse("mariadb://root@127.0.0.1:3306/t_1").unwrap();
        assert_eq!((u.kind, u.database.as_str()), (Kind::Mysql, "t_1"));
    }

    #[test]
    fn bad_urls_never_echo_the_password() {
        let e = parse("oracle://scott:tiger99@db/x")
            .unwrap_err()
            .to_string();
        assert!(e.contains("unknown scheme"), "{e}");
        assert!(!e.contains("tiger99"), "{e}");
        let e = parse("mysql://root:hunter22@db").unwrap_err().to_string();
        assert!(
            e.contains("no database name") && !e.contains("hunter22"),
            "{e}"
        );
        assert!(parse("sqlite:").is_err());
        assert!(parse("").is_err());
    }

    #[test]
    fn query_passwords_are_masked_and_registered() {
        let u =
            parse("postgres://app@db1/shop?sslmode=disable&password=q%2Bry-s3cret&x=1").unwrap();
        assert_eq!(
            u.redacted,
            "postgres://app@db1/shop?sslmode=disable&password=***&x=1"
        );
        assert_eq!(
            cdkit::redact::redact("driver said q+ry-s3cret / q%2Bry-s3cret"),
            "driver said *** / ***"
        );
        // Too short to mask everywhere, but never shown in the URL.
        let u = parse("mysql://root@db/app?password=pw").unwrap();
        assert_eq!(u.redacted, "mysql://root@db/app?password=***");
        let u = parse("mariadb://root:inline-pw1@db/app?PASSWORD=other-pw2").unwrap();
        assert_eq!(u.redacted, "mariadb://root:***@db/app?PASSWORD=***");
    }

    #[test]
    fn percent_escapes_decode() {
        assert_eq!(cdkit::redact::percent_decode("p%40ss%2Fw"), "p@ss/w");
        assert_eq!(cdkit::redact::percent_decode("100%"), "100%");
    }
}
