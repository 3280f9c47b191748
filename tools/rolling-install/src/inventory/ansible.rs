//! The Ansible reader: `ansible-inventory -i SRC --list` reads the inventory (any source
//! Ansible reads: files, directories, dynamic inventory scripts, inventory plugins,
//! `group_vars/` and `host_vars/`, vaults) and prints every host's merged variables and the
//! group tree. Patterns whose order the tree does not fix (regular expressions, globs, `all`)
//! are resolved with `ansible SRC --list-hosts`.
//!
//! Ansible leaves a source it cannot parse out with only a warning; here that is an error
//! (`ANSIBLE_INVENTORY_UNPARSED_FAILED`, `ANSIBLE_INVENTORY_ANY_UNPARSED_IS_FAILED`), so a
//! typo never deploys to nothing.

use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

use super::graph::{Graph, Vars};

/// How long Ansible may take to read an inventory (a dynamic script may call an API).
const TIMEOUT: Duration = Duration::from_secs(120);
/// Most bytes of Ansible's output read: a 10,000-host inventory with many variables fits.
const MAX_OUTPUT: u64 = 256 << 20;

/// The `ansible-inventory` on PATH, if any.
pub fn find() -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|dir| dir.join("ansible-inventory"))
        .find(|p| p.is_file())
}

/// Read `source` with `ansible-inventory` at `program`.
pub fn read(program: &Path, source: &Path) -> Result<Graph, String> {
    let mut cmd = Command::new(program);
    cmd.arg("-i").arg(source).arg("--list");
    let out = run(cmd)?;
    let doc: Value = serde_json::from_slice(&out)
        .map_err(|e| format!("ansible-inventory printed something that is not JSON: {e}"))?;
    from_list(&doc)
}

/// The hosts `pattern` selects, in Ansible's order, by `ansible --list-hosts` (the program
/// beside `ansible-inventory`; unlike `ansible-playbook --list-hosts`, which prints a set, it
/// prints them in order).
pub fn list_hosts(program: &Path, source: &Path, pattern: &str) -> Result<Vec<String>, String> {
    let ansible = program.with_file_name("ansible");
    let mut cmd = Command::new(&ansible);
    cmd.arg("-i")
        .arg(source)
        .arg("--list-hosts")
        .arg("--")
        .arg(pattern);
    let out = run(cmd)?;
    let text = String::from_utf8_lossy(&out);
    let mut lines = text.lines().map(str::trim).filter(|l| !l.is_empty());
    match lines.next() {
        Some(header) if header.starts_with("hosts (") => {}
        other => {
            return Err(format!(
                "ansible --list-hosts printed {:?} where a host list was expected",
                other.unwrap_or("")
            ))
        }
    }
    Ok(lines.map(str::to_string).collect())
}

/// Run an Ansible command with warnings made errors; its stdout, bounded and timed.
fn run(mut cmd: Command) -> Result<Vec<u8>, String> {
    cmd.env("ANSIBLE_INVENTORY_UNPARSED_FAILED", "True")
        .env("ANSIBLE_INVENTORY_ANY_UNPARSED_IS_FAILED", "True")
        .env("ANSIBLE_HOST_PATTERN_MISMATCH", "error")
        .env("ANSIBLE_NOCOLOR", "1")
        .env("ANSIBLE_FORCE_COLOR", "0")
        .env("ANSIBLE_DEPRECATION_WARNINGS", "False")
        .env("ANSIBLE_LOCALHOST_WARNING", "False")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let program = cmd.get_program().to_string_lossy().into_owned();
    let mut child = cmd
        .spawn()
        .map_err(|e| format!("cannot run {program}: {e}"))?;
    let stdout = child.stdout.take();
    let stderr = child.stderr.take();
    let out = std::thread::spawn(move || {
        let mut buf = Vec::new();
        if let Some(s) = stdout {
            let _ = s.take(MAX_OUTPUT + 1).read_to_end(&mut buf);
        }
        buf
    });
    let err = std::thread::spawn(move || {
        let mut buf = Vec::new();
        if let Some(s) = stderr {
            let _ = s.take(64 << 10).read_to_end(&mut buf);
        }
        buf
    });
    let deadline = Instant::now() + TIMEOUT;
    let status = loop {
        match child.try_wait() {
            Ok(Some(status)) => break status,
            Ok(None) if Instant::now() < deadline => std::thread::sleep(Duration::from_millis(20)),
            Ok(None) => {
                let _ = child.kill();
                let _ = child.wait();
                return Err(format!(
                    "{program} took longer than {} s",
                    TIMEOUT.as_secs()
                ));
            }
            Err(e) => return Err(format!("lost track of {program}: {e}")),
        }
    };
    let out = out.join().unwrap_or_default();
    let err = err.join().unwrap_or_default();
    if !status.success() {
        return Err(format!("{program} failed: {}", last_error(&err)));
    }
    if out.len() as u64 > MAX_OUTPUT {
        return Err(format!(
            "{program} printed more than {} MiB",
            MAX_OUTPUT >> 20
        ));
    }
    Ok(out)
}

/// The line of Ansible's stderr that says what went wrong, on one line.
fn last_error(stderr: &[u8]) -> String {
    let text = String::from_utf8_lossy(stderr);
    let lines: Vec<&str> = text
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .collect();
    let chosen = lines
        .iter()
        .find(|l| l.starts_with("[ERROR]") || l.starts_with("ERROR!"))
        .or_else(|| lines.last())
        .copied()
        .unwrap_or("no message");
    cdkit::text::one_line(chosen)
}

/// The graph described by `ansible-inventory --list` output: groups with `hosts` and
/// `children` lists, and `_meta.hostvars` already merged by Ansible.
pub fn from_list(doc: &Value) -> Result<Graph, String> {
    let groups = doc
        .as_object()
        .ok_or("ansible-inventory --list did not print a JSON object")?;
    let mut graph = Graph::new();
    let names = |v: Option<&Value>, what: &str, group: &str| -> Result<Vec<String>, String> {
        match v {
            None | Some(Value::Null) => Ok(Vec::new()),
            Some(Value::Array(items)) => items
                .iter()
                .map(|i| {
                    i.as_str()
                        .map(str::to_string)
                        .ok_or_else(|| format!("group {group}: a {what} entry is not a string"))
                })
                .collect(),
            Some(_) => Err(format!("group {group}: {what} is not a list")),
        }
    };
    // Groups first, so that children named before their own entry exist.
    for name in groups.keys().filter(|k| *k != "_meta") {
        graph.group(name);
    }
    for (name, body) in groups.iter().filter(|(k, _)| *k != "_meta") {
        let g = graph.group(name);
        for child in names(body.get("children"), "children", name)? {
            let c = graph.group(&child);
            graph.add_child(g, c)?;
        }
        for host in names(body.get("hosts"), "hosts", name)? {
            graph.add_host(g, &host);
        }
    }
    graph.reconcile()?;
    let hostvars = doc.pointer("/_meta/hostvars").and_then(Value::as_object);
    for entry in &mut graph.hosts {
        let vars: Vars = hostvars
            .and_then(|hv| hv.get(&entry.name))
            .and_then(Value::as_object)
            .cloned()
            .unwrap_or_default();
        entry.merged = Some(vars);
    }
    Ok(graph)
}
