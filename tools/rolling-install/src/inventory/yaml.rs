//! Ansible's YAML inventory format, read as ansible-core's `yaml` plugin reads it: top-level
//! keys are groups, each a mapping (or nothing) of `hosts`, `vars` and `children`, where a
//! single string stands for a mapping with one key. Where Ansible skips an entry with a
//! warning (an unknown key, a group or section that is not a mapping), this reader refuses the
//! file instead: a deploy must not quietly leave hosts out.

use serde_json::Value as Json;
use serde_yaml_ng::Value as Yaml;

use super::graph::{Graph, Vars};
use super::hostpattern;

/// Whether the document is an inventory plugin's configuration (`plugin: NAME`).
pub fn plugin_name(doc: &Yaml) -> Option<String> {
    doc.as_mapping()?.get("plugin").map(|p| {
        p.as_str()
            .map(str::to_string)
            .unwrap_or_else(|| format!("{p:?}"))
    })
}

/// Read a parsed YAML document into `graph`.
pub fn read(doc: &Yaml, graph: &mut Graph) -> Result<(), String> {
    let top = match doc {
        Yaml::Null => return Err("the file is empty".into()),
        Yaml::Mapping(m) => m,
        _ => return Err("the document is not a mapping of groups".into()),
    };
    for (name, body) in top {
        let name = key(name, "group name")?;
        group(graph, &name, body)?;
    }
    Ok(())
}

fn group(graph: &mut Graph, name: &str, body: &Yaml) -> Result<usize, String> {
    let body = match body {
        Yaml::Null => return Ok(graph.group(name)),
        Yaml::Mapping(m) => m,
        other => {
            return Err(format!(
                "group {name} is a {}, not a mapping of hosts, vars and children",
                kind(other)
            ))
        }
    };
    let g = graph.group(name);
    for (section, value) in body {
        let section = key(section, "key")?;
        if !matches!(section.as_str(), "hosts" | "vars" | "children") {
            return Err(format!(
                "group {name}: unknown key {section:?} (only hosts, vars and children are valid)"
            ));
        }
        // A single string stands for a mapping with that one key.
        let single;
        let entries = match value {
            Yaml::Null => continue,
            Yaml::String(s) => {
                let mut m = serde_yaml_ng::Mapping::new();
                m.insert(Yaml::String(s.clone()), Yaml::Null);
                single = m;
                &single
            }
            Yaml::Mapping(m) => m,
            other => {
                return Err(format!(
                    "group {name}: {section} is a {}, not a mapping",
                    kind(other)
                ))
            }
        };
        match section.as_str() {
            "vars" => {
                for (k, v) in entries {
                    let k = key(k, "variable name")?;
                    graph
                        .set_group_var(g, &k, to_json(v)?)
                        .map_err(|e| format!("group {name}: {e}"))?;
                }
            }
            "children" => {
                for (child, child_body) in entries {
                    let child = key(child, "group name")?;
                    let c = group(graph, &child, child_body)?;
                    graph.add_child(g, c)?;
                }
            }
            _ => {
                for (entry, vars) in entries {
                    let entry = match entry {
                        Yaml::String(s) => s.clone(),
                        other => {
                            return Err(format!(
                                "group {name}: host {} must be a string (quote numbers)",
                                scalar_text(other)
                            ))
                        }
                    };
                    let vars = match vars {
                        Yaml::Null => Vars::new(),
                        Yaml::Mapping(_) => match to_json(vars)? {
                            Json::Object(map) => map,
                            _ => Vars::new(),
                        },
                        other => {
                            return Err(format!(
                                "host {entry}: its variables are a {}, not a mapping",
                                kind(other)
                            ))
                        }
                    };
                    let (names, port) = hostpattern::expand(&entry)?;
                    graph.add_entry(g, &names, port, &vars)?;
                }
            }
        }
    }
    Ok(g)
}

fn key(value: &Yaml, what: &str) -> Result<String, String> {
    match value {
        Yaml::String(s) => Ok(s.clone()),
        other => Err(format!("{what} {} is not a string", scalar_text(other))),
    }
}

fn kind(value: &Yaml) -> &'static str {
    match value {
        Yaml::Null => "null",
        Yaml::Bool(_) => "boolean",
        Yaml::Number(_) => "number",
        Yaml::String(_) => "string",
        Yaml::Sequence(_) => "list",
        Yaml::Mapping(_) => "mapping",
        Yaml::Tagged(_) => "tagged value",
    }
}

fn scalar_text(value: &Yaml) -> String {
    match value {
        Yaml::Number(n) => n.to_string(),
        Yaml::Bool(b) => b.to_string(),
        other => kind(other).to_string(),
    }
}

/// A YAML value as the JSON value Ansible would print for it. Mapping keys that are not
/// strings become their text, as Python's json module writes them.
pub fn to_json(value: &Yaml) -> Result<Json, String> {
    Ok(match value {
        Yaml::Null => Json::Null,
        Yaml::Bool(b) => Json::Bool(*b),
        Yaml::Number(n) => {
            if let Some(i) = n.as_i64() {
                i.into()
            } else if let Some(u) = n.as_u64() {
                u.into()
            } else {
                n.as_f64()
                    .and_then(serde_json::Number::from_f64)
                    .map(Json::Number)
                    .unwrap_or_else(|| Json::String(n.to_string()))
            }
        }
        Yaml::String(s) => Json::String(s.clone()),
        Yaml::Sequence(items) => Json::Array(items.iter().map(to_json).collect::<Result<_, _>>()?),
        Yaml::Mapping(map) => {
            let mut out = Vars::new();
            for (k, v) in map {
                let k = match k {
                    Yaml::String(s) => s.clone(),
                    Yaml::Null => "null".into(),
                    Yaml::Bool(b) => b.to_string(),
                    Yaml::Number(n) => n.to_string(),
                    other => return Err(format!("a mapping key is a {}", kind(other))),
                };
                out.insert(k, to_json(v)?);
            }
            Json::Object(out)
        }
        Yaml::Tagged(tagged) => {
            return Err(format!(
                "the tag {} is not supported (Ansible's own tags such as !vault need ansible-core)",
                tagged.tag
            ))
        }
    })
}
