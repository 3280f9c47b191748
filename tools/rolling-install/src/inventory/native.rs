//! The native reader: an inventory file or directory read without Ansible, for machines
//! that do not have it. It decides a file's format as Ansible's default plugins do (an
//! executable is a dynamic inventory script; `.yml`, `.yaml`, `.json` and files without an
//! extension are tried as YAML first; everything else is INI) and reads `group_vars/` and
//! `host_vars/` beside the inventory. What only Ansible can do (scripts, plugins, vaults,
//! templates) is refused with one line that says so.

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use super::graph::{Graph, Vars};
use super::{ini, yaml};

/// The advice every refusal of something only Ansible can read ends with.
pub const NEEDS_ANSIBLE: &str = "install ansible-core (ansible-inventory) to read it";

/// Files Ansible passes over in an inventory directory (its default INVENTORY_IGNORE_EXTS).
const IGNORED_SUFFIXES: [&str; 12] = [
    "~", ".orig", ".cfg", ".retry", ".pyc", ".pyo", ".swp", ".bak", ".rpm", ".md", ".txt", ".rst",
];

/// Read the inventory at `path` (a file or a directory of files) into a graph, with the
/// variables of `group_vars/` and `host_vars/` beside it.
pub fn read(path: &Path) -> Result<Graph, String> {
    let mut graph = Graph::new();
    let meta = std::fs::metadata(path).map_err(|e| format!("cannot read it: {e}"))?;
    let base = if meta.is_dir() {
        let mut entries: Vec<PathBuf> = std::fs::read_dir(path)
            .map_err(|e| format!("cannot list it: {e}"))?
            .filter_map(|e| e.ok().map(|e| e.path()))
            .collect();
        entries.sort();
        for entry in entries {
            let name = entry.file_name().and_then(|n| n.to_str()).unwrap_or("");
            if name.starts_with('.')
                || matches!(name, "group_vars" | "host_vars")
                || IGNORED_SUFFIXES.iter().any(|s| name.ends_with(s))
            {
                continue;
            }
            if entry.is_dir() {
                return Err(format!(
                    "{}: nested inventory directories are not supported by the native reader; {NEEDS_ANSIBLE}",
                    entry.display()
                ));
            }
            read_file(&entry, &mut graph).map_err(|e| format!("{}: {e}", entry.display()))?;
        }
        path.to_path_buf()
    } else {
        read_file(path, &mut graph)?;
        path.parent().map(Path::to_path_buf).unwrap_or_default()
    };
    graph.reconcile()?;
    read_vars_dirs(&base, &mut graph)?;
    Ok(graph)
}

fn read_file(path: &Path, graph: &mut Graph) -> Result<(), String> {
    let meta = std::fs::metadata(path).map_err(|e| format!("cannot read it: {e}"))?;
    if meta.permissions().mode() & 0o111 != 0 {
        return Err(format!(
            "an executable file is a dynamic inventory script, which the native reader does not run; {NEEDS_ANSIBLE}"
        ));
    }
    let bytes = std::fs::read(path).map_err(|e| format!("cannot read it: {e}"))?;
    let text = String::from_utf8(bytes).map_err(|_| "it is not UTF-8 text".to_string())?;
    if text.contains("$ANSIBLE_VAULT") {
        return Err(format!("it holds Ansible Vault data; {NEEDS_ANSIBLE}"));
    }
    let ext = path.extension().and_then(|e| e.to_str()).unwrap_or("");
    if ext == "toml" {
        return Err(format!(
            "TOML inventories are not read by the native reader; {NEEDS_ANSIBLE}"
        ));
    }
    if matches!(ext, "yml" | "yaml" | "json" | "") {
        // As Ansible: YAML first; what is not a YAML mapping is tried as INI.
        let yaml_problem = match serde_yaml_ng::from_str::<serde_yaml_ng::Value>(&text) {
            Ok(doc) if doc.is_mapping() => {
                if let Some(plugin) = yaml::plugin_name(&doc) {
                    return Err(format!(
                        "it configures the inventory plugin {plugin:?}, which the native reader does not run; {NEEDS_ANSIBLE}"
                    ));
                }
                return yaml::read(&doc, graph);
            }
            Ok(_) => "a YAML inventory must be a mapping of groups".to_string(),
            Err(e) => format!("not valid YAML: {e}"),
        };
        let mut scratch = graph.clone();
        return match ini::read(&text, &mut scratch) {
            Ok(()) => {
                *graph = scratch;
                Ok(())
            }
            Err(_) if !ext.is_empty() => Err(yaml_problem),
            Err(e) => Err(e),
        };
    }
    ini::read(&text, graph)
}

/// `group_vars/NAME` and `host_vars/NAME` beside the inventory, as Ansible's
/// `host_group_vars` plugin finds them: the first of `NAME`, `NAME.yml`, `NAME.yaml`,
/// `NAME.json` that exists; a directory of that name contributes every file in it (sorted,
/// recursively, hidden files and backups skipped).
fn read_vars_dirs(base: &Path, graph: &mut Graph) -> Result<(), String> {
    for (dir, is_group) in [("group_vars", true), ("host_vars", false)] {
        let dir = base.join(dir);
        if !dir.is_dir() {
            continue;
        }
        let count = if is_group {
            graph.groups.len()
        } else {
            graph.hosts.len()
        };
        for i in 0..count {
            let name = if is_group {
                graph.groups[i].name.clone()
            } else {
                graph.hosts[i].name.clone()
            };
            let vars = vars_for(&dir, &name)?;
            if is_group {
                graph.groups[i].dir_vars = vars;
            } else {
                graph.hosts[i].dir_vars = vars;
            }
        }
    }
    Ok(())
}

fn vars_for(dir: &Path, name: &str) -> Result<Vars, String> {
    let mut vars = Vars::new();
    if name.contains('/') || name.starts_with('.') {
        return Ok(vars);
    }
    for ext in ["", ".yml", ".yaml", ".json"] {
        let candidate = dir.join(format!("{name}{ext}"));
        if !candidate.exists() {
            continue;
        }
        let mut files = Vec::new();
        if candidate.is_dir() {
            files_below(&candidate, &mut files)?;
        } else {
            files.push(candidate);
        }
        for file in files {
            merge_file(&file, &mut vars)?;
        }
        break;
    }
    Ok(vars)
}

fn files_below(dir: &Path, out: &mut Vec<PathBuf>) -> Result<(), String> {
    let mut entries: Vec<PathBuf> = std::fs::read_dir(dir)
        .map_err(|e| format!("{}: cannot list it: {e}", dir.display()))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .collect();
    entries.sort();
    for entry in entries {
        let name = entry.file_name().and_then(|n| n.to_str()).unwrap_or("");
        if name.starts_with('.') || name.ends_with('~') {
            continue;
        }
        let ext = entry.extension().and_then(|e| e.to_str());
        if entry.is_dir() && ext.is_none() {
            files_below(&entry, out)?;
        } else if entry.is_file() && matches!(ext, None | Some("yml" | "yaml" | "json")) {
            out.push(entry);
        }
    }
    Ok(())
}

fn merge_file(file: &Path, vars: &mut Vars) -> Result<(), String> {
    let text = std::fs::read_to_string(file).map_err(|e| format!("{}: {e}", file.display()))?;
    if text.contains("$ANSIBLE_VAULT") {
        return Err(format!(
            "{}: it holds Ansible Vault data; {NEEDS_ANSIBLE}",
            file.display()
        ));
    }
    let doc: serde_yaml_ng::Value = serde_yaml_ng::from_str(&text)
        .map_err(|e| format!("{}: not valid YAML: {e}", file.display()))?;
    match yaml::to_json(&doc).map_err(|e| format!("{}: {e}", file.display()))? {
        serde_json::Value::Null => {}
        serde_json::Value::Object(map) => {
            for (k, v) in map {
                vars.insert(k, v);
            }
        }
        _ => {
            return Err(format!(
                "{}: variables must be a mapping of names to values",
                file.display()
            ))
        }
    }
    Ok(())
}
