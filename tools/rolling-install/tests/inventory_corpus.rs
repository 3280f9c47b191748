//! Differential test: every inventory of `tests/inventory-corpus/` resolved by rolling-install
//! and by Ansible itself, compared group by group. Ansible's answer comes from
//! `scripts/ansible-truth` (ansible-core's `ansible-inventory --list` for variables, a play for
//! host order), run here; rolling-install's from `plan --json` with the native reader and from
//! the library with Ansible's reader. For every group: the same hosts in the same order, and
//! for every host the same address, port, user, private key, ssh arguments and connection.
//!
//! Where they differ, rolling-install must have refused (exit 2, naming the host or file) for
//! a reason listed here: a setting cdkit does not support (a password, another connection
//! type, `su`), a value ssh cannot take (a port of 70000, a host name starting with `-`), or,
//! with the native reader only, a source only Ansible reads (a script, a plugin, TOML).
//! Ansible's own order for some nested groups changes from run to run; there the hosts are
//! compared as a set.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Mutex;

use rolling_install::inventory::{Inventory, Reader};
use serde_json::Value;

const BIN: &str = env!("CARGO_BIN_EXE_rolling-install");

fn corpus() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/inventory-corpus")
}

fn venv_bin() -> PathBuf {
    let venv = std::env::var_os("CDKIT_VENV")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(std::env::var("HOME").unwrap()).join(".cache/cdkit/venv"));
    let bin = venv.join("bin");
    assert!(
        bin.join("ansible-inventory").is_file(),
        "ansible-core is not in {} (run scripts/setup)",
        venv.display()
    );
    bin
}

/// Inventories Ansible reads and cdkit refuses on purpose, whichever reader: each with the
/// words cdkit's one error line must hold.
const REFUSED_BY_DESIGN: &[(&str, &str, &str)] = &[
    // (entry, reader: "native" or "both", the error's words)
    ("dir-partial-parse", "both", ""),
    ("yaml-unknown-key.yml", "native", "unknown key"),
];

/// Why Ansible's resolution of a host is one cdkit refuses (empty: nothing to refuse).
fn refusal_reasons(h: &Value) -> Vec<String> {
    let mut why = Vec::new();
    if h["password_set"] == true {
        why.push("a password".to_string());
    }
    match h["connection"].as_str() {
        None
        | Some("ssh" | "smart" | "local" | "ansible.builtin.ssh" | "ansible.builtin.local") => {}
        Some(other) => why.push(format!("connection {other}")),
    }
    if !h["argv_error"].is_null() {
        why.push(format!("ssh arguments: {}", h["argv_error"]));
    }
    let name = h["name"].as_str().unwrap_or("");
    let address = text(&h["address"]).unwrap_or_else(|| name.to_string());
    for (what, v) in [("name", name.to_string()), ("address", address)] {
        let ok = !v.is_empty()
            && v.len() <= 253
            && !v.starts_with('-')
            && v.chars()
                .all(|c| c.is_ascii_alphanumeric() || ".-_:[]".contains(c));
        if !ok || v.contains("{{") {
            why.push(format!("{what} {v:?}"));
        }
    }
    if let Some(port) = text(&h["port"]) {
        if port.parse::<u16>().map_or(true, |p| p == 0) {
            why.push(format!("port {port:?}"));
        }
    }
    for field in ["user", "become_user"] {
        if let Some(user) = text(&h[field]) {
            let ok = !user.is_empty()
                && !user.starts_with('-')
                && user
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || "._-".contains(c));
            if !ok {
                why.push(format!("{field} {user:?}"));
            }
        }
    }
    let become_on = text(&h["become"]).is_some_and(|b| {
        matches!(
            b.to_ascii_lowercase().as_str(),
            "yes" | "on" | "true" | "1" | "y" | "t"
        )
    });
    if become_on {
        if let Some(method) = text(&h["become_method"]).filter(|m| m != "sudo") {
            why.push(format!("become_method {method}"));
        }
    }
    for field in ["private_key_file", "ssh_common_args", "ssh_extra_args"] {
        if text(&h[field]).is_some_and(|v| v.contains("{{")) {
            why.push(format!("templated {field}"));
        }
    }
    why
}

fn text(v: &Value) -> Option<String> {
    match v {
        Value::Null => None,
        Value::String(s) => Some(s.clone()),
        Value::Bool(b) => Some(b.to_string()),
        Value::Number(n) => Some(n.to_string()),
        other => Some(other.to_string()),
    }
}

/// What both sides are compared on, for one host.
#[derive(Debug, PartialEq, Eq)]
struct Reached {
    name: String,
    address: String,
    port: Option<u16>,
    user: Option<String>,
    key: Option<String>,
    ssh_args: Vec<String>,
    local: bool,
}

fn from_truth(h: &Value) -> Reached {
    let name = h["name"].as_str().unwrap().to_string();
    let argv = |f: &str| -> Vec<String> {
        h[f].as_array()
            .map(|a| a.iter().map(|s| s.as_str().unwrap().to_string()).collect())
            .unwrap_or_default()
    };
    let mut ssh_args = argv("ssh_common_argv");
    ssh_args.extend(argv("ssh_extra_argv"));
    Reached {
        address: text(&h["address"]).unwrap_or_else(|| name.clone()),
        port: text(&h["port"]).and_then(|p| p.parse().ok()),
        user: text(&h["user"]),
        key: text(&h["private_key_file"]),
        ssh_args,
        local: matches!(
            h["connection"].as_str(),
            Some("local" | "ansible.builtin.local")
        ),
        name,
    }
}

fn from_plan(h: &Value) -> Reached {
    Reached {
        name: h["name"].as_str().unwrap().to_string(),
        address: h["address"].as_str().unwrap().to_string(),
        port: h["port"].as_u64().map(|p| p as u16),
        user: text(&h["user"]),
        key: text(&h["private_key_file"]),
        ssh_args: serde_json::from_value(h["ssh_args"].clone()).unwrap(),
        local: h["local"] == true,
    }
}

/// One side's answer for a group: the hosts reached, or the refusal's text.
type Answer = Result<Vec<Reached>, String>;

fn native_plan(entry: &Path, group: &str) -> Answer {
    let out = Command::new(BIN)
        .args([
            "plan",
            "--json",
            "--batch",
            "100%",
            "--inventory-reader",
            "native",
        ])
        .arg("--inventory")
        .arg(entry)
        .args(["--group", group])
        .output()
        .unwrap();
    match out.status.code() {
        Some(0) => {
            let plan: Value = serde_json::from_slice(&out.stdout).unwrap();
            Ok(plan["batches"]
                .as_array()
                .unwrap()
                .iter()
                .flat_map(|b| b.as_array().unwrap().iter().map(from_plan))
                .collect())
        }
        Some(2) => {
            let err = String::from_utf8_lossy(&out.stderr).trim().to_string();
            assert_eq!(
                err.lines().count(),
                1,
                "{}: {group}: more than one error line: {err}",
                entry.display()
            );
            Err(err)
        }
        other => panic!(
            "{}: {group}: plan exited {other:?}: {}",
            entry.display(),
            String::from_utf8_lossy(&out.stderr)
        ),
    }
}

fn ansible_reader(inventory: &Result<Inventory, String>, group: &str) -> Answer {
    let inventory = inventory.as_ref().map_err(Clone::clone)?;
    let hosts = inventory.select(group)?;
    hosts
        .iter()
        .map(|h| {
            let c = h.connection()?;
            Ok(Reached {
                name: h.name.clone(),
                address: c.address,
                port: c.port,
                user: c.user,
                key: c.private_key_file,
                ssh_args: c.ssh_args,
                local: c.local,
            })
        })
        .collect()
}

/// Compare one side with Ansible's truth for one group; `Ok(kind)` says how they agreed.
fn judge(
    entry: &str,
    reader: &str,
    group: &str,
    truth: &Value,
    ours: &Answer,
    order_varies: bool,
) -> Result<&'static str, String> {
    let at = format!("{entry} [{group}] ({reader} reader)");
    let by_design = REFUSED_BY_DESIGN
        .iter()
        .find(|(e, r, _)| *e == entry && (*r == "both" || *r == reader));
    let truth_error =
        !truth["error"].is_null() || truth["hosts"].as_array().is_none_or(|h| h.is_empty());
    let reasons: Vec<String> = truth["hosts"]
        .as_array()
        .map(|hs| hs.iter().flat_map(refusal_reasons).collect())
        .unwrap_or_default();
    match ours {
        Err(err) => {
            if truth_error {
                return Ok("refused by both");
            }
            if let Some((_, _, words)) = by_design {
                return if err.contains(words) {
                    Ok("refused by design")
                } else {
                    Err(format!(
                        "{at}: refused by design, but the error lacks {words:?}: {err}"
                    ))
                };
            }
            if !reasons.is_empty() {
                return Ok("refused: unsupported setting");
            }
            if reader == "native" && err.contains("ansible-core") {
                return Ok("refused: only Ansible reads it");
            }
            Err(format!("{at}: refused, Ansible resolves it: {err}"))
        }
        Ok(hosts) => {
            if truth_error {
                return Err(format!(
                    "{at}: resolved, Ansible refuses it: {}",
                    truth["error"]
                ));
            }
            if by_design.is_some() {
                return Err(format!("{at}: resolved, but refused by design"));
            }
            if !reasons.is_empty() {
                return Err(format!(
                    "{at}: resolved, but must be refused for {reasons:?}"
                ));
            }
            let want: Vec<Reached> = truth["hosts"]
                .as_array()
                .unwrap()
                .iter()
                .map(from_truth)
                .collect();
            if order_varies {
                let names =
                    |hs: &[Reached]| hs.iter().map(|h| h.name.clone()).collect::<BTreeSet<_>>();
                if names(&want) != names(hosts) {
                    return Err(format!(
                        "{at}: other hosts:\n  ansible {want:?}\n  ours    {hosts:?}"
                    ));
                }
                for h in hosts {
                    let w = want.iter().find(|w| w.name == h.name).unwrap();
                    if w != h {
                        return Err(format!(
                            "{at}: host differs:\n  ansible {w:?}\n  ours    {h:?}"
                        ));
                    }
                }
                return Ok("agree (Ansible's order varies)");
            }
            if &want != hosts {
                return Err(format!(
                    "{at}: differs:\n  ansible {want:?}\n  ours    {hosts:?}"
                ));
            }
            Ok("agree")
        }
    }
}

#[test]
fn every_corpus_inventory_resolves_as_ansible_resolves_it() {
    let bin = venv_bin();
    // The Ansible reader looks for ansible-inventory on PATH; set before any thread starts.
    let path = std::env::var("PATH").unwrap_or_default();
    std::env::set_var("PATH", format!("{}:{path}", bin.display()));
    let truth_cmd = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../scripts/ansible-truth");

    let mut entries: Vec<PathBuf> = std::fs::read_dir(corpus())
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| {
            let n = p.file_name().unwrap().to_str().unwrap();
            n != "README.md" && n != "expected"
        })
        .collect();
    entries.sort();
    assert!(
        entries.len() >= 60,
        "the corpus has {} inventories",
        entries.len()
    );

    let queue = Mutex::new(entries.clone());
    let results: Mutex<Vec<(String, Result<&'static str, String>)>> = Mutex::new(Vec::new());
    std::thread::scope(|scope| {
        for _ in 0..3 {
            scope.spawn(|| loop {
                let Some(entry) = queue.lock().unwrap().pop() else {
                    return;
                };
                let name = entry.file_name().unwrap().to_str().unwrap().to_string();
                let out = Command::new(&truth_cmd)
                    .args(["--ansible-bin", bin.to_str().unwrap(), "--all-groups"])
                    .arg(&entry)
                    .output()
                    .unwrap();
                let truth: Value = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
                    panic!(
                        "ansible-truth {name}: {e}: {}",
                        String::from_utf8_lossy(&out.stderr)
                    )
                });
                let native = Inventory::load_with(&entry, Reader::Native).ok();
                let ansible =
                    Inventory::load_with(&entry, Reader::Ansible).map_err(|e| e.to_string());
                let mut local = Vec::new();
                for (group, t) in truth.as_object().unwrap() {
                    let varies = native
                        .as_ref()
                        .is_some_and(|i| i.ansible_order_varies(group))
                        || ansible
                            .as_ref()
                            .is_ok_and(|i| i.ansible_order_varies(group));
                    let key = format!("{name} [{group}]");
                    local.push((
                        key.clone(),
                        judge(
                            &name,
                            "native",
                            group,
                            t,
                            &native_plan(&entry, group),
                            varies,
                        ),
                    ));
                    local.push((
                        key,
                        judge(
                            &name,
                            "ansible",
                            group,
                            t,
                            &ansible_reader(&ansible, group),
                            varies,
                        ),
                    ));
                }
                results.lock().unwrap().extend(local);
            });
        }
    });
    let results = results.into_inner().unwrap();
    let mut tally: std::collections::BTreeMap<&str, usize> = Default::default();
    let mut failures = Vec::new();
    for (_, r) in &results {
        match r {
            Ok(kind) => *tally.entry(kind).or_default() += 1,
            Err(e) => failures.push(e.clone()),
        }
    }
    eprintln!(
        "{} inventories, {} inventory x group x reader comparisons:",
        entries.len(),
        results.len()
    );
    for (kind, n) in &tally {
        eprintln!("  {n:4}  {kind}");
    }
    assert!(
        failures.is_empty(),
        "{} disagreements:\n{}",
        failures.len(),
        failures.join("\n")
    );
    assert!(tally.get("agree").copied().unwrap_or(0) >= 200, "{tally:?}");
}

/// Host patterns, each resolved by Ansible and by both readers.
const PATTERNS: &[(&str, &[&str])] = &[
    (
        "yaml-guide-children.yml",
        &[
            "frontends:&live",
            "storage:!south",
            "north:south",
            "frontends,storage[1]",
            "live[0]",
            "storage[-1]",
            "fe*",
            "all:!frontends",
            "!north",
        ],
    ),
    (
        "yaml-order.yml",
        &[
            "site:!back",
            "front:&back",
            "other:site",
            "site[1:2]",
            "site[2:]",
            "*:!site",
            "back,front",
        ],
    ),
    (
        "ini-terraform-rendered.ini",
        &[
            "cluster:!masters",
            "workers[0]",
            "tf-worker-*",
            "masters:workers",
        ],
    ),
    (
        "ini-range-stride.ini",
        &[
            "even:odd",
            "odd:even",
            "even[2:4]",
            "node0?.example.com",
            "*.example.com:!even",
        ],
    ),
    ("ini-duplicates.ini", &["b:a", "a:b", "b:&a", "dup"]),
    (
        "ini-guide-basic.ini",
        &[
            "ungrouped:storage",
            "all[0]",
            "~fe[0-9].*",
            "relay.example.org:frontends",
        ],
    ),
];

#[test]
fn host_patterns_select_what_ansible_selects() {
    let bin = venv_bin();
    let path = std::env::var("PATH").unwrap_or_default();
    std::env::set_var("PATH", format!("{}:{path}", bin.display()));
    let truth_cmd = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../scripts/ansible-truth");
    let mut failures = Vec::new();
    let mut agreed = 0;
    for (entry, patterns) in PATTERNS {
        let path = corpus().join(entry);
        let ansible = Inventory::load_with(&path, Reader::Ansible).map_err(|e| e.to_string());
        for pattern in *patterns {
            let out = Command::new(&truth_cmd)
                .args(["--ansible-bin", bin.to_str().unwrap()])
                .arg(&path)
                .arg(pattern)
                .output()
                .unwrap();
            let truth: Value = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
                panic!(
                    "ansible-truth {entry} {pattern}: {e}: {}",
                    String::from_utf8_lossy(&out.stderr)
                )
            });
            let answers = [
                (
                    "native",
                    if pattern.starts_with('~') {
                        None
                    } else {
                        Some(native_plan(&path, pattern))
                    },
                ),
                ("ansible", Some(ansible_reader(&ansible, pattern))),
            ];
            for (reader, ours) in answers {
                let Some(ours) = ours else { continue };
                match judge(entry, reader, pattern, &truth, &ours, false) {
                    Ok("agree") => agreed += 1,
                    Ok(other) => failures.push(format!("{entry} {pattern} ({reader}): {other}")),
                    Err(e) => failures.push(e),
                }
            }
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
    eprintln!("{agreed} pattern selections agree with Ansible's");
}
