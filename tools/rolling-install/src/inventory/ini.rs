//! Ansible's INI inventory format, read as ansible-core's `ini` plugin reads it: sections
//! `[group]`, `[group:children]` and `[group:vars]` (a comment may follow the header), hosts
//! before any section in `ungrouped`, host lines split as Python's shlex splits them with
//! comments, `host:port` and ranges, and every value read as a Python literal where it is
//! one. A group named only in a `:vars` or `:children` section must be declared somewhere.

use std::collections::HashMap;

use super::graph::Graph;
use super::{hostpattern, pyliteral, shlex};

/// A group seen only as a child or in a `:vars` header, waiting for its declaration.
struct Pending {
    line: usize,
    vars: bool,
    parents: Vec<String>,
}

/// Read `text` into `graph`; errors name the line.
pub fn read(text: &str, graph: &mut Graph) -> Result<(), String> {
    let mut pending: HashMap<String, Pending> = HashMap::new();
    let mut pending_order: Vec<String> = Vec::new();
    let mut group = graph.group("ungrouped");
    let mut state = "hosts";
    for (n, raw) in text.lines().enumerate() {
        let at = |m: String| format!("line {}: {m}", n + 1);
        let line = raw.trim();
        if line.is_empty() || line.starts_with('#') || line.starts_with(';') {
            continue;
        }
        if let Some((name, kind)) = section(line) {
            state = match kind {
                None => "hosts",
                Some("hosts") => "hosts",
                Some("children") => "children",
                Some("vars") => "vars",
                Some(other) => {
                    return Err(at(format!(
                        "section [{name}:{other}] has an unknown kind {other:?}"
                    )))
                }
            };
            if graph.find_group(name).is_none() {
                if state == "vars" && !pending.contains_key(name) {
                    pending.insert(
                        name.to_string(),
                        Pending {
                            line: n + 1,
                            vars: true,
                            parents: Vec::new(),
                        },
                    );
                    pending_order.push(name.to_string());
                }
                graph.group(name);
            }
            group = graph.group(name);
            if state != "vars" {
                if let Some(p) = pending.get(name) {
                    if p.vars {
                        pending.remove(name);
                    } else {
                        add_pending_children(graph, name, &mut pending).map_err(at)?;
                    }
                }
            }
            continue;
        }
        if line.starts_with('[') && line.ends_with(']') {
            return Err(at(format!(
                "{line:?} is not a valid section header (no spaces are allowed in it)"
            )));
        }
        match state {
            "hosts" => {
                let words = shlex::split(line, true).map_err(at)?;
                let Some((entry, assignments)) = words.split_first() else {
                    continue;
                };
                let (names, port) = hostpattern::expand(entry).map_err(at)?;
                let mut vars = super::graph::Vars::new();
                for word in assignments {
                    let (k, v) = word
                        .split_once('=')
                        .ok_or_else(|| at(format!("{word:?} is not a key=value host variable")))?;
                    vars.insert(k.to_string(), pyliteral::ini_value(v));
                }
                graph.add_entry(group, &names, port, &vars).map_err(at)?;
            }
            "vars" => {
                let (k, v) = line
                    .split_once('=')
                    .ok_or_else(|| at(format!("{line:?} is not key=value")))?;
                graph
                    .set_group_var(group, k.trim(), pyliteral::ini_value(v.trim()))
                    .map_err(at)?;
            }
            _ => {
                let child =
                    group_name(line).ok_or_else(|| at(format!("{line:?} is not a group name")))?;
                match graph.find_group(child) {
                    Some(c) => graph.add_child(group, c).map_err(at)?,
                    None => {
                        let parent = graph.groups[group].name.clone();
                        match pending.get_mut(child) {
                            Some(p) => p.parents.push(parent),
                            None => {
                                pending.insert(
                                    child.to_string(),
                                    Pending {
                                        line: n + 1,
                                        vars: false,
                                        parents: vec![parent],
                                    },
                                );
                                pending_order.push(child.to_string());
                            }
                        }
                    }
                }
            }
        }
    }
    for name in pending_order {
        if let Some(p) = pending.get(&name) {
            return Err(if p.vars {
                format!(
                    "line {}: section [{name}:vars] names a group that is never declared",
                    p.line
                )
            } else {
                format!(
                    "line {}: section [{}:children] names group {name:?}, which is never declared",
                    p.line,
                    p.parents.last().map(String::as_str).unwrap_or("?")
                )
            });
        }
    }
    Ok(())
}

/// `[name]`, `[name:kind]`, with optional whitespace and `# comment` after the `]`.
fn section(line: &str) -> Option<(&str, Option<&str>)> {
    let inner = line.strip_prefix('[')?;
    let close = inner.find(']')?;
    let after = inner[close + 1..].trim_start();
    if !(after.is_empty() || after.starts_with('#')) {
        return None;
    }
    let header = &inner[..close];
    let (name, kind) = match header.split_once(':') {
        Some((name, kind)) => {
            if kind.is_empty() || !kind.chars().all(|c| c.is_alphanumeric() || c == '_') {
                return None;
            }
            (name, Some(kind))
        }
        None => (header, None),
    };
    if name.is_empty() || name.contains(|c: char| c.is_whitespace() || c == ']') {
        return None;
    }
    Some((name, kind))
}

/// A line of a `:children` section: a group name, optionally followed by a comment.
fn group_name(line: &str) -> Option<&str> {
    let end = line.find(|c: char| c.is_whitespace()).unwrap_or(line.len());
    let (name, rest) = line.split_at(end);
    let rest = rest.trim_start();
    let ok = !name.is_empty()
        && !name.contains([':', ']'])
        && (rest.is_empty() || rest.starts_with('#'));
    ok.then_some(name)
}

fn add_pending_children(
    graph: &mut Graph,
    name: &str,
    pending: &mut HashMap<String, Pending>,
) -> Result<(), String> {
    let Some(entry) = pending.remove(name) else {
        return Ok(());
    };
    let child = graph.group(name);
    for parent in &entry.parents {
        let p = graph.group(parent);
        graph.add_child(p, child)?;
        if pending.get(parent).is_some_and(|e| !e.vars) {
            add_pending_children(graph, parent, pending)?;
        }
    }
    Ok(())
}
