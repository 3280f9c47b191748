//! Splitting SQL text into statements, for migrations that run outside a transaction (a
//! PostgreSQL multi-statement query string is itself one implicit transaction, so `CREATE
//! INDEX CONCURRENTLY` fails unless it is sent alone) and for naming the statement an error
//! came from. A `;` ends a statement only outside quotes, quoted identifiers, dollar-quoted
//! bodies (PostgreSQL) and comments.
//!
//! Not handled: SQL-standard `BEGIN ATOMIC … END` function bodies (PostgreSQL 14+) and
//! client-side `DELIMITER` lines (mysql CLI); put such statements in a transactional
//! migration, where the file is sent whole and the server parses it.

/// Which quoting and comment rules apply.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dialect {
    /// `'…'` (`''`), `E'…'` (backslash escapes), `"…"`, `$tag$…$tag$`, `--`, nested `/* */`.
    Postgres,
    /// `'…'` and `"…"` (backslash and doubled escapes), `` `…` ``, `#`, `-- `, `/* */`.
    Mysql,
}

/// One statement: its text (trimmed, without the closing `;`) and its byte range in the input.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Statement<'a> {
    /// The statement's text.
    pub text: &'a str,
    /// Byte offset of its start in the input.
    pub start: usize,
    /// Byte offset of its end in the input.
    pub end: usize,
}

fn is_ident(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'_' || b >= 0x80
}

/// The statements of `sql`, skipping empty ones (only whitespace, comments or `;`).
pub fn split<'a>(sql: &'a str, dialect: Dialect) -> Vec<Statement<'a>> {
    let b = sql.as_bytes();
    let n = b.len();
    let mut out = Vec::new();
    let mut start = 0;
    let mut content = false;
    let mut i = 0;
    let push = |out: &mut Vec<Statement<'a>>, from: usize, to: usize, content: bool| {
        let raw = &sql[from..to];
        // `content` counts bytes that are not ASCII whitespace; `trim` also removes Unicode
        // whitespace such as a vertical tab, which alone is no statement either.
        if content && !raw.trim().is_empty() {
            let lead = raw.len() - raw.trim_start().len();
            out.push(Statement {
                text: raw.trim(),
                start: from + lead,
                end: to,
            });
        }
    };
    while i < n {
        let c = b[i];
        match c {
            b';' => {
                push(&mut out, start, i, content);
                start = i + 1;
                content = false;
                i += 1;
            }
            b'-' if b.get(i + 1) == Some(&b'-')
                && (dialect == Dialect::Postgres || b.get(i + 2).is_none_or(|&x| x <= b' ')) =>
            {
                i = skip_line(b, i);
            }
            b'#' if dialect == Dialect::Mysql => i = skip_line(b, i),
            b'/' if b.get(i + 1) == Some(&b'*') => {
                i = skip_block_comment(b, i, dialect == Dialect::Postgres);
            }
            b'\'' => {
                let backslash = match dialect {
                    Dialect::Mysql => true,
                    Dialect::Postgres => {
                        i > 0
                            && (b[i - 1] == b'E' || b[i - 1] == b'e')
                            && (i < 2 || !is_ident(b[i - 2]))
                    }
                };
                i = skip_quoted(b, i, b'\'', backslash);
                content = true;
            }
            b'"' => {
                i = skip_quoted(b, i, b'"', dialect == Dialect::Mysql);
                content = true;
            }
            b'`' if dialect == Dialect::Mysql => {
                i = skip_quoted(b, i, b'`', false);
                content = true;
            }
            b'$' if dialect == Dialect::Postgres
                && (i == 0 || !is_ident(b[i - 1]) && b[i - 1] != b'$') =>
            {
                match dollar_tag(b, i) {
                    Some(tag_len) => i = skip_dollar_body(b, i, tag_len),
                    None => i += 1,
                }
                content = true;
            }
            c if c.is_ascii_whitespace() => i += 1,
            _ => {
                content = true;
                i += 1;
            }
        }
    }
    push(&mut out, start, n, content);
    out
}

/// Whether `sql` holds no statement at all (whitespace, `--`/`#`/`/* */` comments, `;`).
pub fn is_blank(sql: &str) -> bool {
    split(sql, Dialect::Postgres).is_empty() || split(sql, Dialect::Mysql).is_empty()
}

/// The statement that contains byte `offset` of `sql` (for errors that give a position).
pub fn statement_at(sql: &str, offset: usize, dialect: Dialect) -> Option<&str> {
    let statements = split(sql, dialect);
    statements
        .iter()
        .find(|s| offset < s.end.max(s.start + 1) + 1)
        .or(statements.last())
        .map(|s| s.text)
}

fn skip_line(b: &[u8], i: usize) -> usize {
    b[i..]
        .iter()
        .position(|&x| x == b'\n')
        .map_or(b.len(), |p| i + p + 1)
}

fn skip_block_comment(b: &[u8], mut i: usize, nested: bool) -> usize {
    let mut depth = 0usize;
    while i < b.len() {
        if b[i] == b'/' && b.get(i + 1) == Some(&b'*') && (nested || depth == 0) {
            depth += 1;
            i += 2;
        } else if b[i] == b'*' && b.get(i + 1) == Some(&b'/') {
            depth -= 1;
            i += 2;
            if depth == 0 {
                return i;
            }
        } else {
            i += 1;
        }
    }
    b.len()
}

/// Past the closing `quote` of the quoted text starting at `i` (doubled quotes escape it).
fn skip_quoted(b: &[u8], mut i: usize, quote: u8, backslash: bool) -> usize {
    i += 1;
    while i < b.len() {
        if backslash && b[i] == b'\\' {
            i += 2;
        } else if b[i] == quote {
            if b.get(i + 1) == Some(&quote) {
                i += 2;
            } else {
                return i + 1;
            }
        } else {
            i += 1;
        }
    }
    b.len()
}

/// Length of the `$tag$` opening at `i` (`$$` or `$name$`), if it is one (`$1` is not).
fn dollar_tag(b: &[u8], i: usize) -> Option<usize> {
    let mut j = i + 1;
    if b.get(j) == Some(&b'$') {
        return Some(2);
    }
    match b.get(j) {
        Some(&c) if c.is_ascii_alphabetic() || c == b'_' || c >= 0x80 => {}
        _ => return None,
    }
    while j < b.len() && is_ident(b[j]) {
        j += 1;
    }
    (b.get(j) == Some(&b'$')).then_some(j + 1 - i)
}

fn skip_dollar_body(b: &[u8], i: usize, tag_len: usize) -> usize {
    let tag = &b[i..i + tag_len];
    let body = i + tag_len;
    b[body..]
        .windows(tag_len)
        .position(|w| w == tag)
        .map_or(b.len(), |p| body + p + tag_len)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn texts(sql: &str, d: Dialect) -> Vec<&str> {
        split(sql, d).into_iter().map(|s| s.text).collect()
    }

    #[test]
    fn semicolons_inside_quotes_comments_and_bodies_do_not_split() {
        let sql = "-- no-transaction\n\
                   CREATE INDEX CONCURRENTLY i ON t (x);\n\
                   INSERT INTO t VALUES ('a;b', 'it''s;', E'\\';x');\n\
                   /* a; /* nested; */ still; */ SELECT \"we;ird\" FROM t;\n\
                   CREATE FUNCTION f() RETURNS int AS $body$ SELECT 1; $body$ LANGUAGE sql;\n\
                   DO $$ BEGIN PERFORM 1; END $$;\n\
                   SELECT $1;;\n  -- trailing comment only\n";
        let got = texts(sql, Dialect::Postgres);
        assert_eq!(got.len(), 6, "{got:#?}");
        assert!(got[0].ends_with("CREATE INDEX CONCURRENTLY i ON t (x)"));
        assert_eq!(got[1], "INSERT INTO t VALUES ('a;b', 'it''s;', E'\\';x')");
        assert!(got[2].ends_with("SELECT \"we;ird\" FROM t"));
        assert!(got[3].ends_with("LANGUAGE sql"));
        assert_eq!(got[4], "DO $$ BEGIN PERFORM 1; END $$");
        assert_eq!(got[5], "SELECT $1");
    }

    #[test]
    fn mysql_rules_differ() {
        let sql = "INSERT INTO t VALUES ('a\\';b', \"c;d\"); # x; y\n\
                   CREATE TABLE `we;ird` (x int) -- c;\n; SELECT 1--2;\nSELECT 2";
        let got = texts(sql, Dialect::Mysql);
        assert_eq!(got.len(), 4, "{got:#?}");
        assert_eq!(got[0], "INSERT INTO t VALUES ('a\\';b', \"c;d\")");
        assert_eq!(got[2], "SELECT 1--2");
        assert_eq!(got[3], "SELECT 2");
    }

    #[test]
    fn ranges_point_into_the_input_and_blank_text_is_detected() {
        let sql = "SELECT 1;\n  SELECT 2 ;";
        let s = split(sql, Dialect::Postgres);
        assert_eq!(&sql[s[1].start..s[1].start + 8], "SELECT 2");
        assert_eq!(statement_at(sql, 13, Dialect::Postgres), Some("SELECT 2"));
        assert!(is_blank("  -- nothing\n/* here; */ ;\n"));
        assert!(!is_blank("SELECT 1"));
        // Unterminated quotes run to the end instead of panicking.
        assert_eq!(
            texts("SELECT 'x; y", Dialect::Postgres),
            vec!["SELECT 'x; y"]
        );
        assert_eq!(texts("SELECT $a$ x;", Dialect::Postgres).len(), 1);
    }
}
