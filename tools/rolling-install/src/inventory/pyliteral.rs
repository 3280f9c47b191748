//! Python literals, as Ansible's INI reader reads values: it hands each value to Python's
//! `ast.literal_eval` and keeps the text as a string when that fails. `ansible_port=2200`
//! is then the integer 2200, `'a b'` the string `a b`, `[1, 2]` a list, `True` a boolean,
//! and `2200 # note` the integer 2200 (a Python comment). Reading values any other way would
//! give hosts other ports, users or flags than Ansible gives them.
//!
//! Supported: strings (quotes, triple quotes, `r`/`b`/`u` prefixes, escapes, adjacent
//! strings joined), integers (decimal, `0x`, `0o`, `0b`, `_` separators, sign), floats,
//! `True`/`False`/`None`, lists, tuples, sets and dicts of these, parentheses and comments.
//! Anything else (complex numbers, `\N{...}` escapes, expressions) is kept as text, which is
//! what Ansible does with what `literal_eval` refuses, except for the few valid literals
//! listed here as unsupported; those are rare in inventories.

use serde_json::{Map, Number, Value};

/// The value Ansible's INI reader gives `text`: a literal's value, else `text` itself.
pub fn ini_value(text: &str) -> Value {
    match literal(text) {
        Some(v) => v,
        None => Value::String(text.to_string()),
    }
}

/// `text` as a Python literal, or `None` when it is not one.
pub fn literal(text: &str) -> Option<Value> {
    let mut p = Parser {
        s: text.as_bytes(),
        text,
        i: 0,
        depth: 0,
    };
    let v = p.expr()?;
    p.skip_space();
    (p.i == p.s.len()).then_some(v)
}

struct Parser<'a> {
    s: &'a [u8],
    text: &'a str,
    i: usize,
    depth: usize,
}

/// Nesting beyond this is refused (kept as text) rather than recursed into.
const MAX_DEPTH: usize = 64;

impl Parser<'_> {
    fn peek(&self) -> Option<u8> {
        self.s.get(self.i).copied()
    }

    /// Whitespace and `#` comments (to the end of the text: values are single lines).
    fn skip_space(&mut self) {
        while let Some(c) = self.peek() {
            match c {
                b' ' | b'\t' | b'\x0c' => self.i += 1,
                b'#' => self.i = self.s.len(),
                _ => break,
            }
        }
    }

    fn eat(&mut self, c: u8) -> bool {
        self.skip_space();
        if self.peek() == Some(c) {
            self.i += 1;
            true
        } else {
            false
        }
    }

    fn expr(&mut self) -> Option<Value> {
        self.depth += 1;
        if self.depth > MAX_DEPTH {
            return None;
        }
        let v = self.atom();
        self.depth -= 1;
        v
    }

    fn atom(&mut self) -> Option<Value> {
        self.skip_space();
        let c = self.peek()?;
        match c {
            b'[' => {
                self.i += 1;
                let items = self.items(b']')?;
                Some(Value::Array(items.0))
            }
            b'(' => {
                self.i += 1;
                let (items, trailing_comma) = self.items(b')')?;
                if items.len() == 1 && !trailing_comma {
                    Some(items.into_iter().next()?)
                } else {
                    Some(Value::Array(items))
                }
            }
            b'{' => {
                self.i += 1;
                self.dict_or_set()
            }
            b'-' | b'+' => {
                self.i += 1;
                self.skip_space();
                let v = self.number()?;
                if c == b'-' {
                    negate(v)
                } else {
                    Some(v)
                }
            }
            b'0'..=b'9' | b'.' => {
                if c == b'.' && self.s[self.i..].starts_with(b"...") {
                    self.i += 3;
                    return Some(Value::String("...".into()));
                }
                self.number()
            }
            _ => {
                if let Some(v) = self.strings()? {
                    return Some(v);
                }
                let start = self.i;
                while self
                    .peek()
                    .is_some_and(|c| c.is_ascii_alphanumeric() || c == b'_')
                {
                    self.i += 1;
                }
                match &self.text[start..self.i] {
                    "True" => Some(Value::Bool(true)),
                    "False" => Some(Value::Bool(false)),
                    "None" => Some(Value::Null),
                    _ => None,
                }
            }
        }
    }

    /// Comma-separated items up to `close`; also whether a comma ended the list.
    fn items(&mut self, close: u8) -> Option<(Vec<Value>, bool)> {
        let mut items = Vec::new();
        let mut trailing = false;
        loop {
            if self.eat(close) {
                return Some((items, trailing));
            }
            items.push(self.expr()?);
            trailing = false;
            if self.eat(b',') {
                trailing = true;
                continue;
            }
            if self.eat(close) {
                return Some((items, trailing));
            }
            return None;
        }
    }

    fn dict_or_set(&mut self) -> Option<Value> {
        if self.eat(b'}') {
            return Some(Value::Object(Map::new()));
        }
        let first = self.expr()?;
        if self.eat(b':') {
            let mut map = Map::new();
            let mut key = first;
            loop {
                let value = self.expr()?;
                map.insert(key_text(&key)?, value);
                if self.eat(b'}') {
                    return Some(Value::Object(map));
                }
                if !self.eat(b',') {
                    return None;
                }
                if self.eat(b'}') {
                    return Some(Value::Object(map));
                }
                key = self.expr()?;
                if !self.eat(b':') {
                    return None;
                }
            }
        }
        // A set: Ansible turns it into a list.
        let mut items = vec![first];
        loop {
            if self.eat(b'}') {
                return Some(Value::Array(items));
            }
            if !self.eat(b',') {
                return None;
            }
            if self.eat(b'}') {
                return Some(Value::Array(items));
            }
            items.push(self.expr()?);
        }
    }

    fn number(&mut self) -> Option<Value> {
        let start = self.i;
        while self
            .peek()
            .is_some_and(|c| c.is_ascii_alphanumeric() || c == b'_' || c == b'.')
        {
            // An exponent's sign belongs to the number.
            let c = self.s[self.i];
            self.i += 1;
            if matches!(c, b'e' | b'E')
                && matches!(self.peek(), Some(b'+' | b'-'))
                && !self.text[start..self.i].starts_with("0x")
            {
                self.i += 1;
            }
        }
        parse_number(&self.text[start..self.i])
    }

    /// One or more adjacent string literals, joined; `Ok(None)` when none starts here.
    fn strings(&mut self) -> Option<Option<Value>> {
        let mut out = String::new();
        let mut any = false;
        loop {
            self.skip_space();
            let save = self.i;
            match self.string()? {
                Some(s) => {
                    out.push_str(&s);
                    any = true;
                }
                None => {
                    self.i = save;
                    break;
                }
            }
        }
        Some(any.then_some(Value::String(out)))
    }

    /// One string literal with its prefix; `Some(None)` when none starts here, `None` when
    /// one starts but is not valid.
    fn string(&mut self) -> Option<Option<String>> {
        let start = self.i;
        let mut raw = false;
        while let Some(c) = self.peek() {
            match c.to_ascii_lowercase() {
                b'r' => raw = true,
                b'b' | b'u' => {}
                _ => break,
            }
            self.i += 1;
            if self.i - start > 2 {
                break;
            }
        }
        let Some(quote @ (b'\'' | b'"')) = self.peek() else {
            self.i = start;
            return Some(None);
        };
        let prefix = self.text[start..self.i].to_ascii_lowercase();
        if !matches!(prefix.as_str(), "" | "r" | "b" | "u" | "rb" | "br") {
            return None;
        }
        let triple = self.s[self.i..].starts_with(&[quote; 3]);
        self.i += if triple { 3 } else { 1 };
        let mut out = String::new();
        loop {
            let rest = &self.text[self.i..];
            let c = rest.chars().next()?;
            if c as u32 == quote as u32 {
                if !triple {
                    self.i += 1;
                    return Some(Some(out));
                }
                if rest.as_bytes().starts_with(&[quote; 3]) {
                    self.i += 3;
                    return Some(Some(out));
                }
            }
            if c == '\n' && !triple {
                return None;
            }
            if c == '\\' {
                let next = rest[1..].chars().next()?;
                if raw {
                    out.push('\\');
                    out.push(next);
                    self.i += 1 + next.len_utf8();
                    continue;
                }
                let (text, used) = escape(&rest[1..])?;
                out.push_str(&text);
                self.i += 1 + used;
                continue;
            }
            out.push(c);
            self.i += c.len_utf8();
        }
    }
}

/// The text of a backslash escape starting after the backslash, and the bytes it used.
fn escape(rest: &str) -> Option<(String, usize)> {
    let c = rest.chars().next()?;
    let simple = match c {
        '\\' => Some('\\'),
        '\'' => Some('\''),
        '"' => Some('"'),
        'n' => Some('\n'),
        't' => Some('\t'),
        'r' => Some('\r'),
        'a' => Some('\x07'),
        'b' => Some('\x08'),
        'f' => Some('\x0c'),
        'v' => Some('\x0b'),
        _ => None,
    };
    if let Some(s) = simple {
        return Some((s.to_string(), 1));
    }
    match c {
        '\n' => Some((String::new(), 1)),
        '0'..='7' => {
            let digits: String = rest.chars().take(3).take_while(|d| d.is_digit(8)).collect();
            let code = u32::from_str_radix(&digits, 8).ok()?;
            Some((char::from_u32(code)?.to_string(), digits.len()))
        }
        'x' | 'u' | 'U' => {
            let len = match c {
                'x' => 2,
                'u' => 4,
                _ => 8,
            };
            let hex = rest.get(1..1 + len)?;
            let code = u32::from_str_radix(hex, 16).ok()?;
            Some((char::from_u32(code)?.to_string(), 1 + len))
        }
        // \N{NAME} needs Unicode's name table: not supported, the value stays text.
        'N' => None,
        // An unknown escape keeps its backslash, as Python does.
        other => Some((format!("\\{other}"), other.len_utf8())),
    }
}

fn key_text(key: &Value) -> Option<String> {
    match key {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        // As Python's json module writes such keys.
        Value::Bool(b) => Some(b.to_string()),
        Value::Null => Some("null".to_string()),
        _ => None,
    }
}

fn negate(v: Value) -> Option<Value> {
    let Value::Number(n) = v else {
        return None;
    };
    if let Some(i) = n.as_i64() {
        return Some(Value::Number(i.checked_neg()?.into()));
    }
    if let Some(u) = n.as_u64() {
        let i = i64::try_from(u).ok()?;
        return Some(Value::Number((-i).into()));
    }
    Number::from_f64(-n.as_f64()?).map(Value::Number)
}

/// A Python number literal (no sign), as JSON: integers and floats; complex numbers and
/// integers beyond 64 bits are not supported.
fn parse_number(text: &str) -> Option<Value> {
    if text.is_empty() || text.ends_with('_') || text.contains("__") {
        return None;
    }
    let lower = text.to_ascii_lowercase();
    for (prefix, radix) in [("0x", 16), ("0o", 8), ("0b", 2)] {
        if let Some(digits) = lower.strip_prefix(prefix) {
            let digits = digits.strip_prefix('_').unwrap_or(digits).replace('_', "");
            return u64::from_str_radix(&digits, radix)
                .ok()
                .map(|n| Value::Number(n.into()));
        }
    }
    let plain = lower.replace('_', "");
    if plain.ends_with('j') {
        return None;
    }
    let is_float = plain.contains(['.', 'e']);
    if !is_float {
        // Python 3 refuses leading zeros on a non-zero decimal ("0777").
        if plain.len() > 1 && plain.starts_with('0') && plain.bytes().any(|b| b != b'0') {
            return None;
        }
        if !plain.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        return plain.parse::<u64>().ok().map(|n| Value::Number(n.into()));
    }
    if !plain
        .bytes()
        .all(|b| b.is_ascii_digit() || matches!(b, b'.' | b'e' | b'+' | b'-'))
    {
        return None;
    }
    let f: f64 = plain.parse().ok()?;
    Number::from_f64(f).map(Value::Number)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn values_read_as_python_reads_them() {
        let cases = [
            ("2200", json!(2200)),
            ("2200 # a comment", json!(2200)),
            ("-5", json!(-5)),
            ("0x1F", json!(31)),
            ("1_000", json!(1000)),
            ("1.5", json!(1.5)),
            ("1e3", json!(1000.0)),
            ("True", json!(true)),
            ("None", json!(null)),
            ("'a b'", json!("a b")),
            ("\"it's\"", json!("it's")),
            ("'a' 'b'", json!("ab")),
            ("r'\\d'", json!("\\d")),
            ("'\\x41\\n'", json!("A\n")),
            ("[1, 'two', [3]]", json!([1, "two", [3]])),
            ("(1,)", json!([1])),
            ("(1)", json!(1)),
            ("{'a': 1, 'b': [2]}", json!({"a": 1, "b": [2]})),
            ("{1, 2}", json!([1, 2])),
            ("\"'03#pa33w0rd'\"", json!("'03#pa33w0rd'")),
            ("...", json!("...")),
        ];
        for (text, want) in cases {
            assert_eq!(ini_value(text), want, "{text}");
        }
    }

    #[test]
    fn what_python_refuses_stays_text() {
        for text in [
            "deploy",
            "10.0.0.1",
            "0777",
            "1+1",
            "'unterminated",
            "yes",
            "true",
            "-o ProxyJump=bastion",
            "/srv/key.pem",
            "{{ inventory_hostname }}",
            "1j",
            "[1, 2",
            "f'x'",
        ] {
            assert_eq!(ini_value(text), json!(text), "{text}");
        }
    }

    #[test]
    fn deep_nesting_stays_text() {
        let text = format!("{}{}", "[".repeat(10_000), "]".repeat(10_000));
        assert_eq!(ini_value(&text), json!(text));
    }
}
