//! Host entries as Ansible's file readers take them apart: an optional `:PORT` suffix
//! (`badwolf.example.com:5309`, `[2001:db8::1]:2222`) and ranges that expand one entry into
//! many (`web[01:50]`, `web[01:50:2]`, `db-[a:f]`).

/// Most hosts one entry may expand to: a typo such as `[1:9999999]` must not exhaust memory.
const MAX_EXPANSION: usize = 100_000;

/// The host names an entry stands for, and the port it names, as Ansible's
/// `_expand_hostpattern` gives them.
pub fn expand(entry: &str) -> Result<(Vec<String>, Option<u16>), String> {
    // An entry whose host part is not something Ansible recognises as an address is kept
    // whole, port included.
    let (pattern, port) = match split_port(entry) {
        Some((host, port)) if is_address(host) => (host, Some(port)),
        _ => (entry, None),
    };
    if entry.trim_end().ends_with(':') && port.is_none() {
        return Err(format!(
            "host {entry:?} ends in ':', which is reserved for a port"
        ));
    }
    let names = if pattern.contains('[') {
        let mut out = Vec::new();
        expand_ranges(pattern, &mut out)?;
        out
    } else {
        vec![pattern.to_string()]
    };
    Ok((names, port))
}

/// `[HOST]:PORT` or `HOST:PORT` (no ':' in HOST outside brackets); `None` without a port.
/// Applied the way Ansible applies its two patterns: the bracketed form first, then the plain
/// one on what is left.
fn split_port(entry: &str) -> Option<(&str, u16)> {
    let mut address = entry;
    let mut port = None;
    if let Some(inner) = entry.strip_prefix('[') {
        if let Some((host, p)) = inner.rsplit_once("]:") {
            if !host.is_empty() && is_digits(p) {
                address = host;
                port = Some(p);
            }
        }
    }
    if let Some((host, p)) = address.rsplit_once(':') {
        if is_digits(p) && plain_host_part(host) {
            address = host;
            port = Some(p);
        }
    }
    let port = port?;
    // Ansible takes any digits; a port outside 0..=65535 is refused when the host is used.
    Some((address, port.parse().unwrap_or(0)))
}

fn is_digits(s: &str) -> bool {
    !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit())
}

/// No ':' outside complete `[...]` groups.
fn plain_host_part(host: &str) -> bool {
    let mut in_bracket = false;
    for c in host.chars() {
        match c {
            '[' if !in_bracket => in_bracket = true,
            ']' if in_bracket => in_bracket = false,
            '[' | ']' => return false,
            ':' if !in_bracket => return false,
            _ => {}
        }
    }
    !in_bracket
}

/// Whether Ansible's address patterns take `host`: an IPv4 or IPv6 address or a host name,
/// any of them possibly with ranges.
fn is_address(host: &str) -> bool {
    is_ipv4(host) || is_ipv6(host) || is_hostname(host)
}

fn is_ipv4(host: &str) -> bool {
    let parts: Vec<&str> = host.split('.').collect();
    parts.len() == 4
        && parts.iter().all(|p| {
            (is_digits(p) && p.len() <= 3 && p.parse::<u16>().is_ok_and(|n| n <= 255))
                || is_numeric_range(p)
        })
}

fn is_numeric_range(p: &str) -> bool {
    let Some(inner) = p.strip_prefix('[').and_then(|p| p.strip_suffix(']')) else {
        return false;
    };
    let bounds: Vec<&str> = inner.split(':').collect();
    (bounds.len() == 2 || bounds.len() == 3) && bounds.iter().all(|b| is_digits(b))
}

fn is_ipv6(host: &str) -> bool {
    host.contains(':') && !host.contains('[') && host.parse::<std::net::Ipv6Addr>().is_ok()
}

/// Dot-separated labels of word characters and `-`, not ending in `-` or `_`, each part
/// possibly a `[a:b]` range.
fn is_hostname(host: &str) -> bool {
    !host.is_empty() && host.split('.').all(is_label)
}

fn is_label(label: &str) -> bool {
    if label.is_empty() {
        return false;
    }
    let mut rest = label;
    let mut first = true;
    let mut last_plain: Option<char> = None;
    while !rest.is_empty() {
        if rest.starts_with('[') {
            let Some(end) = rest.find(']') else {
                return false;
            };
            if !is_label_range(&rest[1..end]) {
                return false;
            }
            rest = &rest[end + 1..];
            last_plain = None;
        } else {
            let c = rest.chars().next().unwrap_or(' ');
            let word = c.is_alphanumeric() || c == '_';
            if !(word || (!first && c == '-')) {
                return false;
            }
            last_plain = Some(c);
            rest = &rest[c.len_utf8()..];
        }
        first = false;
    }
    !matches!(last_plain, Some('-' | '_'))
}

/// `a:f`, `0:9` with an optional `:STEP`.
fn is_label_range(inner: &str) -> bool {
    let bounds: Vec<&str> = inner.split(':').collect();
    if bounds.len() != 2 && bounds.len() != 3 {
        return false;
    }
    if bounds.len() == 3 && !is_digits(bounds[2]) {
        return false;
    }
    let alpha = |s: &str| {
        s.len() == 1
            && s.bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_uppercase())
    };
    (alpha(bounds[0]) && alpha(bounds[1])) || (is_digits(bounds[0]) && is_digits(bounds[1]))
}

/// Ansible's `expand_hostname_range`: the first `[...]` is expanded, then the rest, so
/// `r[1:2]n[a:b]` gives r1na, r1nb, r2na, r2nb.
fn expand_ranges(pattern: &str, out: &mut Vec<String>) -> Result<(), String> {
    let Some(open) = pattern.find('[') else {
        out.push(pattern.to_string());
        return Ok(());
    };
    let close = pattern[open..]
        .find(']')
        .map(|c| open + c)
        .ok_or_else(|| format!("host range in {pattern:?} is not closed"))?;
    let (head, range, tail) = (
        &pattern[..open],
        &pattern[open + 1..close],
        &pattern[close + 1..],
    );
    let bounds: Vec<&str> = range.split(':').collect();
    if bounds.len() != 2 && bounds.len() != 3 {
        return Err(format!(
            "host range [{range}] in {pattern:?} must be begin:end or begin:end:step"
        ));
    }
    let beg = if bounds[0].is_empty() { "0" } else { bounds[0] };
    let end = bounds[1];
    if end.is_empty() {
        return Err(format!("host range [{range}] in {pattern:?} has no end"));
    }
    let step: usize = match bounds.get(2) {
        None => 1,
        Some(s) => s
            .parse()
            .ok()
            .filter(|&s| s > 0)
            .ok_or_else(|| format!("host range [{range}] in {pattern:?} has a bad step"))?,
    };
    let width = if beg.len() > 1 && beg.starts_with('0') {
        if beg.len() != end.len() {
            return Err(format!(
                "host range [{range}] in {pattern:?} must have begin and end of one width"
            ));
        }
        beg.len()
    } else {
        0
    };
    const LETTERS: &str = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ";
    let items: Vec<String> = match (LETTERS.find(beg), LETTERS.find(end)) {
        (Some(b), Some(e)) if beg.len() == 1 && end.len() == 1 => {
            if b > e {
                return Err(format!(
                    "host range [{range}] in {pattern:?} must have begin <= end"
                ));
            }
            LETTERS[b..=e]
                .chars()
                .step_by(step)
                .map(String::from)
                .collect()
        }
        _ => {
            let parse = |s: &str| {
                s.parse::<u64>()
                    .map_err(|_| format!("host range [{range}] in {pattern:?} is not numeric"))
            };
            let (b, e) = (parse(beg)?, parse(end)?);
            if e >= b && (e - b) as usize / step >= MAX_EXPANSION {
                return Err(format!(
                    "host range [{range}] in {pattern:?} gives more than {MAX_EXPANSION} hosts"
                ));
            }
            (b..=e)
                .step_by(step)
                .map(|n| format!("{n:0width$}"))
                .collect()
        }
    };
    for item in items {
        if out.len() >= MAX_EXPANSION {
            return Err(format!("{pattern:?} gives more than {MAX_EXPANSION} hosts"));
        }
        let before = out.len();
        expand_ranges(&format!("{head}{item}{tail}"), out)?;
        // The tail expands the same after every item (head and item hold no bracket): if it
        // gave no host after this one, it gives none after the others. Without this stop, an
        // empty range late in an entry (`[5:3]`) had the product of the ranges before it
        // walked in full: exponential, a hang.
        if out.len() == before {
            break;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(entry: &str) -> (Vec<String>, Option<u16>) {
        expand(entry).unwrap()
    }

    #[test]
    fn ports_and_ranges_as_ansible_reads_them() {
        assert_eq!(
            names("badwolf.example.com:5309"),
            (vec!["badwolf.example.com".into()], Some(5309))
        );
        assert_eq!(
            names("[2001:db8::1]:2222"),
            (vec!["2001:db8::1".into()], Some(2222))
        );
        assert_eq!(names("2001:db8::1"), (vec!["2001:db8::1".into()], None));
        assert_eq!(names("10.0.0.1:22"), (vec!["10.0.0.1".into()], Some(22)));
        assert_eq!(names("web[01:03]").0, ["web01", "web02", "web03"]);
        assert_eq!(names("web[1:9:4]").0, ["web1", "web5", "web9"]);
        assert_eq!(names("web[01:09:4]").0, ["web01", "web05", "web09"]);
        assert_eq!(names("db-[a:c]").0, ["db-a", "db-b", "db-c"]);
        assert_eq!(names("r[1:2]n[a:b]").0, ["r1na", "r1nb", "r2na", "r2nb"]);
        assert_eq!(names("web[:2]").0, ["web0", "web1", "web2"]);
        assert_eq!(
            names("web[01:02]:2222"),
            (vec!["web01".into(), "web02".into()], Some(2222))
        );
        assert_eq!(names("10.0.0.[1:3]").0.len(), 3);
    }

    #[test]
    fn what_is_not_an_address_is_kept_whole() {
        assert_eq!(
            names("-oProxyCommand=x"),
            (vec!["-oProxyCommand=x".into()], None)
        );
        assert_eq!(names("a;b:22"), (vec!["a;b:22".into()], None));
    }

    #[test]
    fn bad_ranges_are_refused() {
        for bad in [
            "web[1:2:3:4]",
            "web[01:9]",
            "web[c:a]",
            "web[1:]",
            "web[1:x]",
            "h:",
            "w[1:99999999]",
        ] {
            assert!(expand(bad).is_err(), "{bad}");
        }
    }
}
