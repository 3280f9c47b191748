//! Ansible host patterns, evaluated as ansible-core's inventory manager evaluates them:
//! `web`, `web:db` or `web,db` (union), `web:&prod` (intersection), `web:!h3` (exclusion),
//! globs (`web*`, `h?`), and subscripts (`web[0]`, `web[1:3]` inclusive, `web[-1]`, `web[2:]`).
//! Union terms come first, then intersections, then exclusions, whatever their written order;
//! a term that is exactly a host's name is that host. Regular expressions (`~...`) need
//! Ansible itself.

use std::collections::HashSet;

use super::graph::Graph;

/// Host indices matching `pattern`, in Ansible's order.
pub fn select(graph: &Graph, pattern: &str) -> Result<Vec<usize>, String> {
    let terms = split(pattern);
    if terms.is_empty() {
        return Err(format!("host pattern {pattern:?} is empty"));
    }
    let mut ordered: Vec<&str> = terms
        .iter()
        .map(String::as_str)
        .filter(|t| !t.starts_with(['&', '!']))
        .collect();
    if ordered.is_empty() {
        ordered.push("all");
    }
    ordered.extend(
        terms
            .iter()
            .map(String::as_str)
            .filter(|t| t.starts_with('&')),
    );
    ordered.extend(
        terms
            .iter()
            .map(String::as_str)
            .filter(|t| t.starts_with('!')),
    );
    let mut hosts: Vec<usize> = Vec::new();
    for term in ordered {
        if let Some(h) = graph.find_host(term) {
            if !hosts.contains(&h) {
                hosts.push(h);
            }
            continue;
        }
        let that = one(graph, term)?;
        if term.starts_with('!') {
            let that: HashSet<usize> = that.into_iter().collect();
            hosts.retain(|h| !that.contains(h));
        } else if term.starts_with('&') {
            let that: HashSet<usize> = that.into_iter().collect();
            hosts.retain(|h| that.contains(h));
        } else {
            if that.is_empty() {
                return Err(format!(
                    "host pattern {term:?} matches no group or host of the inventory"
                ));
            }
            let present: HashSet<usize> = hosts.iter().copied().collect();
            let mut added = HashSet::new();
            for h in that {
                if !present.contains(&h) && added.insert(h) {
                    hosts.push(h);
                }
            }
        }
    }
    Ok(hosts)
}

/// Ansible's `split_host_pattern`: at commas if there are any, else at colons outside
/// brackets (a pattern that is one address with a port stays whole).
fn split(pattern: &str) -> Vec<String> {
    let parts: Vec<String> = if pattern.contains(',') {
        pattern.split(',').map(str::to_string).collect()
    } else if super::hostpattern::expand(pattern).is_ok_and(|(_, port)| port.is_some())
        && !pattern.contains(['!', '&'])
    {
        vec![pattern.to_string()]
    } else {
        let mut parts = Vec::new();
        let mut current = String::new();
        let mut depth = 0;
        for c in pattern.chars() {
            match c {
                '[' => {
                    depth += 1;
                    current.push(c);
                }
                ']' => {
                    depth -= 1;
                    current.push(c);
                }
                ':' if depth == 0 => parts.push(std::mem::take(&mut current)),
                c if c.is_whitespace() && depth == 0 => parts.push(std::mem::take(&mut current)),
                c => current.push(c),
            }
        }
        parts.push(current);
        parts
    };
    parts
        .into_iter()
        .map(|p| p.trim().to_string())
        .filter(|p| !p.is_empty())
        .collect()
}

/// One term without its `&`/`!`: groups and hosts it matches, then its subscript.
fn one(graph: &Graph, term: &str) -> Result<Vec<usize>, String> {
    let term = term.trim_start_matches(['&', '!']);
    if term.starts_with('~') {
        return Err(format!(
            "host pattern {term:?} is a regular expression, which needs ansible-core (--inventory-reader ansible)"
        ));
    }
    let (expr, subscript) = split_subscript(term);
    let mut results: Vec<usize> = Vec::new();
    let mut any_group = false;
    for (g, group) in graph.groups.iter().enumerate() {
        if glob(expr, &group.name) {
            any_group = true;
            results.extend(graph.group_hosts(g));
        }
    }
    if !any_group || expr.contains(['.', '?', '*', '[']) {
        for (h, host) in graph.hosts.iter().enumerate() {
            if glob(expr, &host.name) {
                results.push(h);
            }
        }
    }
    let Some((start, end)) = subscript else {
        return Ok(results);
    };
    if results.is_empty() {
        return Ok(results);
    }
    let len = results.len() as i64;
    let norm = |i: i64| if i < 0 { (len + i).max(0) } else { i.min(len) };
    match end {
        // Python's `if end:` also takes 0 for "no end".
        Some(end) if end != 0 => {
            let end = if end == -1 { len - 1 } else { end };
            // Saturating: an end of i64::MAX means "to the last host" like any end past it.
            let (a, b) = (norm(start), norm(end.saturating_add(1)));
            Ok(if a < b {
                results[a as usize..b as usize].to_vec()
            } else {
                Vec::new()
            })
        }
        _ => {
            let i = if start < 0 { len + start } else { start };
            if i < 0 || i >= len {
                return Err(format!("no hosts match the subscripted pattern {term:?}"));
            }
            Ok(vec![results[i as usize]])
        }
    }
}

/// `name[3]` → (name, (3, None)); `name[1:4]` → (name, (1, Some(4))); `name[2:]` →
/// (name, (2, Some(-1))).
fn split_subscript(term: &str) -> (&str, Option<(i64, Option<i64>)>) {
    let Some(body) = term.strip_suffix(']') else {
        return (term, None);
    };
    let Some(open) = body.rfind('[') else {
        return (term, None);
    };
    if open == 0 {
        return (term, None);
    }
    let (expr, inside) = (&body[..open], &body[open + 1..]);
    let int = |s: &str| {
        let digits = s.strip_prefix('-').unwrap_or(s);
        (!digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit()))
            .then(|| s.parse::<i64>().ok())
            .flatten()
    };
    if let Some(i) = int(inside) {
        return (expr, Some((i, None)));
    }
    for sep in [':', '-'] {
        if let Some((a, b)) = inside.split_once(sep) {
            if let Some(start) = int(a) {
                if b.is_empty() {
                    return (expr, Some((start, Some(-1))));
                }
                if let Some(end) = int(b) {
                    return (expr, Some((start, Some(end))));
                }
            }
        }
    }
    (term, None)
}

/// Shell-style matching of a whole name, as Python's fnmatch: `*`, `?`, `[abc]`, `[!abc]`,
/// `[a-z]`; case-sensitive.
fn glob(pattern: &str, name: &str) -> bool {
    let p: Vec<char> = pattern.chars().collect();
    let n: Vec<char> = name.chars().collect();
    // Iterative matching with one backtrack point for the last `*`: linear in practice.
    let (mut pi, mut ni) = (0, 0);
    let mut star: Option<(usize, usize)> = None;
    while ni < n.len() {
        if pi < p.len() {
            match p[pi] {
                '*' => {
                    star = Some((pi, ni));
                    pi += 1;
                    continue;
                }
                '?' => {
                    pi += 1;
                    ni += 1;
                    continue;
                }
                '[' => {
                    if let Some((matched, next)) = class(&p, pi, n[ni]) {
                        if matched {
                            pi = next;
                            ni += 1;
                            continue;
                        }
                    } else if n[ni] == '[' {
                        pi += 1;
                        ni += 1;
                        continue;
                    }
                }
                c if c == n[ni] => {
                    pi += 1;
                    ni += 1;
                    continue;
                }
                _ => {}
            }
        }
        match star {
            Some((sp, sn)) => {
                pi = sp + 1;
                ni = sn + 1;
                star = Some((sp, sn + 1));
            }
            None => return false,
        }
    }
    p[pi..].iter().all(|&c| c == '*')
}

/// A `[...]` class at `p[at]`: whether `c` is in it and the index after it; `None` when the
/// bracket is not closed (then it is a literal `[`).
fn class(p: &[char], at: usize, c: char) -> Option<(bool, usize)> {
    let mut i = at + 1;
    let negate = p.get(i) == Some(&'!');
    if negate {
        i += 1;
    }
    let start = i;
    let mut matched = false;
    while i < p.len() && (p[i] != ']' || i == start) {
        if i + 2 < p.len() && p[i + 1] == '-' && p[i + 2] != ']' {
            if p[i] <= c && c <= p[i + 2] {
                matched = true;
            }
            i += 3;
        } else {
            if p[i] == c {
                matched = true;
            }
            i += 1;
        }
    }
    if i >= p.len() {
        return None;
    }
    Some((matched != negate, i + 1))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn globs_match_as_fnmatch() {
        assert!(glob("web*", "web01"));
        assert!(glob("w?b", "web"));
        assert!(glob("web[0-2]", "web1"));
        assert!(!glob("web[!0-2]", "web1"));
        assert!(glob("*", ""));
        assert!(!glob("web", "web1"));
        assert!(glob("a*b*c", "axxbyyc"));
    }

    #[test]
    fn subscripts_split_as_ansible_splits_them() {
        assert_eq!(split_subscript("web[0]"), ("web", Some((0, None))));
        assert_eq!(split_subscript("web[1:3]"), ("web", Some((1, Some(3)))));
        assert_eq!(split_subscript("web[2:]"), ("web", Some((2, Some(-1)))));
        assert_eq!(split_subscript("web[-1]"), ("web", Some((-1, None))));
        assert_eq!(split_subscript("web"), ("web", None));
    }

    #[test]
    fn patterns_split_at_commas_or_colons() {
        assert_eq!(split("web:&prod:!h3"), ["web", "&prod", "!h3"]);
        assert_eq!(split("web, db"), ["web", "db"]);
        assert_eq!(split("web[1:3]:db"), ["web[1:3]", "db"]);
    }
}
