//! Inventories exactly as Ansible reads them. Two readers fill one [`Inventory`]:
//!
//! - **Ansible's own** (`ansible-inventory --list`), used whenever `ansible-inventory` is on
//!   PATH: every source Ansible reads, dynamic inventory scripts and inventory plugins
//!   included, with every host's variables merged by Ansible.
//! - **The native reader**, for machines without Ansible: static INI and YAML inventories,
//!   inventory directories, `group_vars/` and `host_vars/`, with Ansible's grammar, variable
//!   precedence, host order and host patterns. What it cannot read (scripts, plugins, vaults,
//!   templated connection settings, regex patterns) it refuses with one line pointing at
//!   ansible-core.
//!
//! Host patterns and host order are evaluated here for both readers, by Ansible's rules
//! (with Ansible's reader, regular expressions, globs and `all` are handed to
//! `ansible --list-hosts`). Ansible walks
//! nested groups level by level as Python sets, so for some nested inventories its own order
//! changes between runs ([`Inventory::ansible_order_varies`]); cdkit then always takes the
//! inventory's order, which is one of Ansible's.
//!
//! A host's connection ([`Connection`]) is built from Ansible's connection variables with
//! Ansible's precedence (`ansible_ssh_host` over `ansible_host`, and so on). Settings cdkit
//! cannot honour (passwords, other connection types) are refused, never dropped.

mod ansible;
mod graph;
mod hostpattern;
mod ini;
mod native;
mod pattern;
mod pyliteral;
mod shlex;
mod yaml;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde_json::Value;

use graph::Graph;

/// Why an inventory could not be used; names the file and line where possible.
#[derive(Debug, thiserror::Error)]
pub enum InventoryError {
    /// The file could not be read.
    #[error("cannot read inventory {path}: {source}")]
    Read {
        /// The inventory's path.
        path: String,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// The inventory is not one this reader takes (named with its line).
    #[error("inventory {path}: {message}")]
    Invalid {
        /// The inventory's path.
        path: String,
        /// What is wrong, and where.
        message: String,
    },
}

/// Which reader reads the inventory.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Reader {
    /// Ansible's when `ansible-inventory` is on PATH, else the native one.
    #[default]
    Auto,
    /// `ansible-inventory` (an error if it is not installed).
    Ansible,
    /// The native reader, even where Ansible is installed.
    Native,
}

/// One host and its variables, as Ansible merged them (every value as text: strings as they
/// are, numbers and booleans as JSON writes them, lists and mappings as JSON).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Host {
    /// The inventory name.
    pub name: String,
    /// Its variables, merged.
    pub vars: BTreeMap<String, String>,
}

/// How to reach a host, from its connection variables.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Connection {
    /// `ansible_ssh_host`, else `ansible_host`, else the name.
    pub address: String,
    /// `ansible_ssh_port`, else `ansible_port`.
    pub port: Option<u16>,
    /// `ansible_ssh_user`, else `ansible_user`.
    pub user: Option<String>,
    /// `ansible_ssh_private_key_file`, else `ansible_private_key_file` (ssh `-i`).
    pub private_key_file: Option<String>,
    /// `ansible_ssh_common_args`, `ansible_ssh_extra_args` and `ansible_ssh_args`, split as
    /// Python's shlex splits them; passed to ssh as separate words, never through a shell.
    pub ssh_args: Vec<String>,
    /// `ansible_connection=local`: commands run on this machine, without ssh.
    pub local: bool,
    /// `ansible_become` (with `ansible_become_user`, default root): commands run under
    /// `sudo -n -u USER`.
    pub become_user: Option<String>,
}

/// Variables that hold a password: cdkit connects with keys only, and a password in an
/// inventory is refused rather than ignored.
const PASSWORD_VARS: [&str; 6] = [
    "ansible_password",
    "ansible_ssh_pass",
    "ansible_ssh_password",
    "ansible_become_password",
    "ansible_become_pass",
    "ansible_sudo_pass",
];

impl Host {
    fn var(&self, names: &[&str]) -> Option<&str> {
        // Ansible takes the last of an option's variable names that is set.
        names
            .iter()
            .rev()
            .find_map(|n| self.vars.get(*n).map(String::as_str))
    }

    /// What ssh connects to: `ansible_ssh_host`, else `ansible_host`, else the name.
    pub fn address(&self) -> &str {
        self.var(&["ansible_host", "ansible_ssh_host"])
            .unwrap_or(&self.name)
    }

    /// `ansible_ssh_port`, else `ansible_port`, if set and valid.
    pub fn port(&self) -> Option<u16> {
        self.var(&["ansible_port", "ansible_ssh_port"])
            .and_then(|p| p.parse().ok())
    }

    /// `ansible_ssh_user`, else `ansible_user`, if set.
    pub fn user(&self) -> Option<&str> {
        self.var(&["ansible_user", "ansible_ssh_user"])
    }

    /// The host's connection, checked: a password, an unknown connection type, a templated
    /// value, a bad port or a name that could pass for an ssh option is an error naming the
    /// host and the variable.
    pub fn connection(&self) -> Result<Connection, String> {
        let host = &self.name;
        for name in PASSWORD_VARS {
            if self.vars.contains_key(name) {
                return Err(format!(
                    "host {host}: {name} is set, but cdkit connects with ssh keys only (remove it, or use a key or an agent)"
                ));
            }
        }
        for (name, value) in &self.vars {
            let connection_var = name.starts_with("ansible_ssh")
                || matches!(
                    name.as_str(),
                    "ansible_host"
                        | "ansible_port"
                        | "ansible_user"
                        | "ansible_connection"
                        | "ansible_private_key_file"
                        | "ansible_become"
                        | "ansible_become_user"
                        | "ansible_become_method"
                );
            if connection_var && value.contains("{{") {
                return Err(format!(
                    "host {host}: {name} is a template ({value}), which cdkit does not render"
                ));
            }
        }
        let local = match self.vars.get("ansible_connection").map(String::as_str) {
            None | Some("ssh" | "smart" | "ansible.builtin.ssh") => false,
            Some("local" | "ansible.builtin.local") => true,
            Some(other) => {
                return Err(format!(
                    "host {host}: ansible_connection={other} is not supported (ssh and local are)"
                ))
            }
        };
        if let Some(port) = self.var(&["ansible_port", "ansible_ssh_port"]) {
            if port.parse::<u16>().map_or(true, |p| p == 0) {
                return Err(format!("host {host}: port {port:?} is not a TCP port"));
            }
        }
        let mut ssh_args = Vec::new();
        for name in [
            "ansible_ssh_args",
            "ansible_ssh_common_args",
            "ansible_ssh_extra_args",
        ] {
            if let Some(text) = self.vars.get(name) {
                // Lists and mappings arrive as JSON text; Ansible refuses them as strings.
                if serde_json::from_str::<Value>(text).is_ok_and(|v| v.is_array() || v.is_object())
                {
                    return Err(format!(
                        "host {host}: {name} is a list or mapping, not a string of ssh arguments"
                    ));
                }
                ssh_args.extend(
                    shlex::split(text.trim(), false)
                        .map_err(|e| format!("host {host}: {name}: {e}"))?,
                );
            }
        }
        let become_user = match self.vars.get("ansible_become").map(String::as_str) {
            Some(flag) if truthy(flag) => {
                if let Some(method) = self.vars.get("ansible_become_method") {
                    if method != "sudo" {
                        return Err(format!(
                            "host {host}: ansible_become_method={method} is not supported (sudo is)"
                        ));
                    }
                }
                Some(
                    self.vars
                        .get("ansible_become_user")
                        .cloned()
                        .unwrap_or_else(|| "root".into()),
                )
            }
            _ => None,
        };
        if let Some(user) = &become_user {
            check_user(host, "ansible_become_user", user)?;
        }
        let user = self.user().map(str::to_string);
        if let Some(user) = &user {
            check_user(host, "ansible_user", user)?;
        }
        let address = self.address().to_string();
        cdkit::ssh::validate_host(host)
            .map_err(|_| format!("host name {host:?} is not a valid host name or address"))?;
        cdkit::ssh::validate_host(&address).map_err(|_| {
            format!("host {host}: address {address:?} is not a valid host name or address")
        })?;
        let private_key_file = self
            .var(&["ansible_private_key_file", "ansible_ssh_private_key_file"])
            .map(str::to_string);
        if let Some(key) = &private_key_file {
            if key.is_empty() || key.starts_with('-') || key.contains('\n') {
                return Err(format!(
                    "host {host}: private key file {key:?} is not a path"
                ));
            }
        }
        Ok(Connection {
            address,
            port: self.port(),
            user,
            private_key_file,
            ssh_args,
            local,
            become_user,
        })
    }

    /// A host from what a record wrote down of it (the inverse of [`Host::address`],
    /// [`Host::port`] and [`Host::user`]), so that it is reached again without the inventory.
    pub fn at(name: &str, address: &str, port: Option<u16>, user: Option<&str>) -> Host {
        let mut vars = BTreeMap::new();
        vars.insert("ansible_host".to_string(), address.to_string());
        if let Some(port) = port {
            vars.insert("ansible_port".to_string(), port.to_string());
        }
        if let Some(user) = user {
            vars.insert("ansible_user".to_string(), user.to_string());
        }
        Host {
            name: name.to_string(),
            vars,
        }
    }

    /// `name`'s entry among `hosts`, else a host of that name without variables (ssh then
    /// resolves the name, with the user's ssh config): how a lock host or a load-balancer host
    /// is found.
    pub fn find_or_bare(hosts: &[Host], name: &str) -> Host {
        hosts
            .iter()
            .find(|h| h.name == name)
            .cloned()
            .unwrap_or(Host {
                name: name.to_string(),
                vars: Default::default(),
            })
    }

    /// Where and how to reach this host: its checked [`Connection`] as an ssh target.
    pub fn target(&self) -> Result<cdkit::ssh::Target, String> {
        let conn = self.connection()?;
        let mut target =
            cdkit::ssh::Target::new(&self.name, &conn.address, conn.port, conn.user.as_deref())
                .map_err(|e| format!("host {}: {e}", self.name))?;
        target.identity_file = conn.private_key_file.map(PathBuf::from);
        target.extra_args = conn.ssh_args;
        target.local = conn.local;
        target.become_user = conn.become_user;
        Ok(target)
    }

    /// An ssh session to this host (nothing connects until the first command).
    pub fn session(&self, client: &cdkit::ssh::Client) -> Result<cdkit::ssh::Session, String> {
        self.target().map(|t| cdkit::ssh::Session::new(client, t))
    }
}

/// Whether `pattern` needs Ansible's own evaluation with the Ansible reader: a regular
/// expression, a glob, or the group `all`.
fn needs_ansible_order(pattern: &str) -> bool {
    pattern.contains(['~', '*', '?'])
        || pattern
            .split([':', ','])
            .map(|t| t.trim().trim_start_matches(['&', '!']))
            .any(|t| t == "all" || t.starts_with("all["))
}

fn check_user(host: &str, var: &str, user: &str) -> Result<(), String> {
    let ok = !user.is_empty()
        && !user.starts_with('-')
        && user
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "._-".contains(c));
    if ok {
        Ok(())
    } else {
        Err(format!(
            "host {host}: {var} {user:?} is not a valid user name"
        ))
    }
}

/// Ansible's boolean reading of a string (`yes`, `on`, `true`, `1`, any case).
fn truthy(text: &str) -> bool {
    matches!(
        text.trim().to_ascii_lowercase().as_str(),
        "yes" | "on" | "true" | "1" | "y" | "t"
    )
}

/// A variable's value as text.
fn text_of(value: &Value) -> Option<String> {
    match value {
        Value::Null => None,
        Value::String(s) => Some(s.clone()),
        Value::Bool(b) => Some(b.to_string()),
        Value::Number(n) => Some(n.to_string()),
        other => Some(other.to_string()),
    }
}

/// A parsed inventory.
#[derive(Debug, Clone)]
pub struct Inventory {
    graph: Graph,
    source: PathBuf,
    /// `ansible-inventory` when the inventory was read by Ansible: patterns go to Ansible.
    ansible: Option<PathBuf>,
}

impl Inventory {
    /// Read `path` with the [`Reader::Auto`] choice.
    pub fn load(path: &Path) -> Result<Inventory, InventoryError> {
        Inventory::load_with(path, Reader::Auto)
    }

    /// Read `path` (a file or a directory; with Ansible, any inventory source) with `reader`.
    pub fn load_with(path: &Path, reader: Reader) -> Result<Inventory, InventoryError> {
        let shown = path.display().to_string();
        let invalid = |message: String| InventoryError::Invalid {
            path: shown.clone(),
            message,
        };
        let ansible = match reader {
            Reader::Native => None,
            Reader::Auto => ansible::find(),
            Reader::Ansible => Some(ansible::find().ok_or_else(|| {
                invalid("--inventory-reader ansible: ansible-inventory is not on PATH (install ansible-core)".into())
            })?),
        };
        if ansible.is_none() {
            std::fs::metadata(path).map_err(|source| InventoryError::Read {
                path: shown.clone(),
                source,
            })?;
        }
        let graph = match &ansible {
            Some(program) => ansible::read(program, path).map_err(invalid)?,
            None => native::read(path).map_err(invalid)?,
        };
        Ok(Inventory {
            graph,
            source: path.to_path_buf(),
            ansible,
        })
    }

    /// Parse INI text (the native reader), for tests and tools that hold the text.
    pub fn parse_ini(text: &str) -> Result<Inventory, String> {
        let mut graph = Graph::new();
        ini::read(text, &mut graph)?;
        graph.reconcile()?;
        Ok(Inventory::from_graph(graph))
    }

    /// Parse YAML text (the native reader), for tests and tools that hold the text.
    pub fn parse_yaml(text: &str) -> Result<Inventory, String> {
        let doc: serde_yaml_ng::Value = serde_yaml_ng::from_str(text).map_err(|e| e.to_string())?;
        let mut graph = Graph::new();
        yaml::read(&doc, &mut graph)?;
        graph.reconcile()?;
        Ok(Inventory::from_graph(graph))
    }

    fn from_graph(graph: Graph) -> Inventory {
        Inventory {
            graph,
            source: PathBuf::new(),
            ansible: None,
        }
    }

    /// Which reader read it: `ansible` or `native`.
    pub fn reader(&self) -> &'static str {
        if self.ansible.is_some() {
            "ansible"
        } else {
            "native"
        }
    }

    /// Every host, in the order of the pattern `all`.
    pub fn all(&self) -> Vec<Host> {
        self.graph
            .group_hosts(graph::ALL)
            .into_iter()
            .map(|h| self.host(h))
            .collect()
    }

    /// The hosts an Ansible host pattern selects (`web`, `web:&prod`, `web:!h3`,
    /// `web[0:2]`, ...), in the order a playbook takes them. A pattern that matches nothing
    /// is an error.
    pub fn select(&self, pattern: &str) -> Result<Vec<Host>, String> {
        let hosts: Vec<Host> =
            match &self.ansible {
                // Regular expressions are Ansible's (Python's `re`), and so is the order of `all`
                // (and of globs, which may match it): hosts Ansible placed directly under `all`
                // come first there, and `ansible-inventory --list` does not show which they are.
                // Everything else is evaluated here, on what Ansible read, by the rules the
                // differential tests hold to Ansible's.
                Some(program) if needs_ansible_order(pattern) => {
                    let names = ansible::list_hosts(program, &self.source, pattern)?;
                    names
                        .iter()
                        .map(|n| {
                            self.graph.find_host(n).map(|h| self.host(h)).ok_or_else(|| {
                            format!("ansible listed host {n:?}, which its inventory does not hold")
                        })
                        })
                        .collect::<Result<_, _>>()?
                }
                _ => pattern::select(&self.graph, pattern)?
                    .into_iter()
                    .map(|h| self.host(h))
                    .collect(),
            };
        if hosts.is_empty() {
            return Err(format!("host pattern {pattern:?} selects no host"));
        }
        Ok(hosts)
    }

    /// Whether Ansible itself may list `group`'s hosts in another order from one run to the
    /// next (nested groups; see the module's notes). cdkit's order is the inventory's, always.
    pub fn ansible_order_varies(&self, group: &str) -> bool {
        self.graph
            .find_group(group)
            .is_some_and(|g| self.graph.order_varies(g))
    }

    /// The group names, sorted.
    pub fn group_names(&self) -> Vec<String> {
        let mut names: Vec<String> = self.graph.groups.iter().map(|g| g.name.clone()).collect();
        names.sort();
        names
    }

    fn host(&self, h: usize) -> Host {
        let vars = self
            .graph
            .host_vars(h)
            .into_iter()
            .filter_map(|(k, v)| text_of(&v).map(|t| (k, t)))
            .collect();
        Host {
            name: self.graph.hosts[h].name.clone(),
            vars,
        }
    }
}

/// Whether `pattern` can be a host pattern (`--group`, a record's group): one line of
/// printable text of reasonable length.
pub fn check_pattern(pattern: &str) -> Result<(), String> {
    if pattern.trim().is_empty() || pattern.len() > 1024 || pattern.chars().any(char::is_control) {
        return Err(format!("{pattern:?} is not a host pattern"));
    }
    Ok(())
}

/// Whether `name` is a plain group name (letters, digits, `_`, `-`): such a name is the
/// deployment lock's name as it is (`deploy_lock::lock_name`).
pub fn check_group_name(name: &str) -> Result<(), String> {
    if !name.is_empty()
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
    {
        Ok(())
    } else {
        Err(format!("group name {name:?} is not allowed"))
    }
}

/// Split `text` into words as Python's shlex splits them (quotes, backslashes), for the
/// `--lb-drain-cmd`/`--lb-ready-cmd` templates, which never reach a shell; the same rule as
/// `ansible_ssh_common_args`.
pub fn split_words(text: &str) -> Result<Vec<String>, String> {
    shlex::split(text, false)
}

#[cfg(test)]
mod tests {
    use super::*;

    const INI: &str = r#"
# fleet
[testing]
t1 ansible_host=10.213.0.11 haproxy_server=t1
t2 ansible_host=10.213.0.12 ansible_port=2222

[production]
web[01:03] ansible_user=deploy

[web:children]
testing
production

[web:vars]
ansible_user=root
health_path="/health"
"#;

    fn names(hosts: Vec<Host>) -> Vec<String> {
        hosts.into_iter().map(|h| h.name).collect()
    }

    fn ini(text: &str) -> Inventory {
        Inventory::parse_ini(text).unwrap()
    }

    #[test]
    fn ini_groups_children_vars_and_ranges() {
        let inv = ini(INI);
        assert_eq!(names(inv.select("testing").unwrap()), ["t1", "t2"]);
        assert_eq!(
            names(inv.select("production").unwrap()),
            ["web01", "web02", "web03"]
        );
        assert_eq!(inv.select("web").unwrap().len(), 5);
        let t2 = &inv.select("testing").unwrap()[1];
        assert_eq!(
            (t2.address(), t2.port(), t2.user()),
            ("10.213.0.12", Some(2222), Some("root"))
        );
        let web01 = &inv.select("production").unwrap()[0];
        assert_eq!(web01.user(), Some("deploy"), "host vars beat group vars");
        assert_eq!(
            web01.vars.get("health_path").map(String::as_str),
            Some("/health")
        );
        assert!(inv.select("nope").unwrap_err().contains("nope"));
    }

    #[test]
    fn all_vars_old_names_and_ports_as_ansible_reads_them() {
        let inv = ini(
            "[all:vars]\nansible_user=ops\nansible_port=2200 # the bastion's port\n\n\
             [web] # front ends\nbadwolf.example.com:5309\nh2 ansible_ssh_host=10.0.0.2 ansible_host=10.9.9.9 ansible_ssh_user=old\n",
        );
        let hosts = inv.select("web").unwrap();
        assert_eq!(
            (hosts[0].name.as_str(), hosts[0].port(), hosts[0].user()),
            ("badwolf.example.com", Some(5309), Some("ops"))
        );
        // The ansible_ssh_* names are the later entries of the ssh plugin's options: they win.
        assert_eq!(
            (hosts[1].address(), hosts[1].port(), hosts[1].user()),
            ("10.0.0.2", Some(2200), Some("old"))
        );
    }

    #[test]
    fn headerless_files_strides_and_letters() {
        let inv = ini("db1 ansible_port=2222\nweb[01:05:2]\nnode-[a:c]\n");
        assert_eq!(
            names(inv.select("all").unwrap()),
            ["db1", "web01", "web03", "web05", "node-a", "node-b", "node-c"]
        );
        assert_eq!(names(inv.select("ungrouped").unwrap()).len(), 7);
        assert_eq!(inv.select("db1").unwrap()[0].port(), Some(2222));
    }

    #[test]
    fn ungrouped_keeps_only_hosts_of_no_other_group() {
        let inv = ini("a\nb\n[g]\nb\n");
        assert_eq!(names(inv.select("ungrouped").unwrap()), ["a"]);
        assert_eq!(names(inv.select("all").unwrap()), ["a", "b"]);
    }

    #[test]
    fn group_variables_follow_depth_then_priority_then_name() {
        let inv = ini(
            "[a]\nh\n[b]\nh\n[a:vars]\nv=a\nansible_group_priority=5\n[b:vars]\nv=b\n\
             [parent:children]\na\n[parent:vars]\nv=parent\nw=parent\n[all:vars]\nw=all\n",
        );
        let h = &inv.select("h").unwrap()[0];
        // b (depth 1, priority 1) < a (depth 2, priority 5): the deeper group wins.
        assert_eq!(h.vars["v"], "a");
        assert_eq!(h.vars["w"], "parent");
    }

    #[test]
    fn values_are_python_literals_in_host_lines_and_vars_sections() {
        let inv = ini("[g]\nh x=\"a b\" n=0x10 l=[1,2] pw='03#x' c=ab#cd\n[g:vars]\nflag=True\n");
        let h = &inv.select("h").unwrap()[0];
        assert_eq!(h.vars["x"], "a b");
        assert_eq!(h.vars["n"], "16");
        assert_eq!(h.vars["l"], "[1,2]");
        assert_eq!(h.vars["pw"], "03#x");
        assert_eq!(
            h.vars["c"], "ab",
            "an unquoted # starts a comment, as in shlex"
        );
        assert_eq!(h.vars["flag"], "true");
    }

    #[test]
    fn undeclared_groups_and_loops_are_refused() {
        assert!(Inventory::parse_ini("[x:vars]\na=1\n")
            .unwrap_err()
            .contains("never declared"));
        assert!(Inventory::parse_ini("[p:children]\nmissing\n")
            .unwrap_err()
            .contains("missing"));
        assert!(Inventory::parse_ini("[a:children]\nb\n[b:children]\na\n")
            .unwrap_err()
            .contains("loop"));
        assert!(Inventory::parse_ini("[g]\nh1 novalue\n")
            .unwrap_err()
            .contains("line 2"));
        assert!(Inventory::parse_ini("[g x]\nh\n")
            .unwrap_err()
            .contains("line 1"));
    }

    #[test]
    fn yaml_inventories_match_ini() {
        let yaml = r#"
all:
  hosts:
    mail.example.com:
  children:
    testing:
      hosts:
        t1: {ansible_host: 10.213.0.11}
        t2:
          ansible_host: 10.213.0.12
          ansible_port: 2222
    production:
      hosts:
        web[01:02]:
      vars:
        ansible_user: deploy
        extra: [1, {a: null}]
"#;
        let inv = Inventory::parse_yaml(yaml).unwrap();
        assert_eq!(inv.select("testing").unwrap()[1].port(), Some(2222));
        let prod = inv.select("production").unwrap();
        assert_eq!(prod.len(), 2);
        assert_eq!(prod[1].user(), Some("deploy"));
        assert_eq!(prod[1].vars["extra"], r#"[1,{"a":null}]"#);
        assert_eq!(
            names(inv.select("all").unwrap()),
            ["mail.example.com", "t1", "t2", "web01", "web02"]
        );
        assert_eq!(
            names(inv.select("ungrouped").unwrap()),
            ["mail.example.com"]
        );
    }

    #[test]
    fn yaml_that_ansible_would_skip_is_refused() {
        for (text, want) in [
            ("all:\n  hosts: [a, b]\n", "not a mapping"),
            ("all:\n  hostz:\n    a:\n", "unknown key"),
            ("web: [a]\n", "not a mapping"),
            ("plugin: aws_ec2\n", ""),
            ("all:\n  hosts:\n    a: [1]\n", "not a mapping"),
        ] {
            let err = Inventory::parse_yaml(text).map(|_| ()).unwrap_err();
            assert!(err.contains(want), "{text}: {err}");
        }
    }

    #[test]
    fn host_patterns_as_ansible_evaluates_them() {
        let inv = ini("[web]\nh1\nh2\nh3\nh4\n[prod]\nh2\nh3\nh9\n");
        let sel = |p: &str| names(inv.select(p).unwrap());
        assert_eq!(sel("web:&prod"), ["h2", "h3"]);
        assert_eq!(sel("web:!h3"), ["h1", "h2", "h4"]);
        assert_eq!(sel("!h3:web"), ["h1", "h2", "h4"], "exclusions apply last");
        assert_eq!(sel("prod:web"), ["h2", "h3", "h9", "h1", "h4"]);
        assert_eq!(sel("web[0]"), ["h1"]);
        assert_eq!(sel("web[1:2]"), ["h2", "h3"]);
        assert_eq!(sel("web[-1]"), ["h4"]);
        assert_eq!(sel("web[2:]"), ["h3", "h4"]);
        assert_eq!(sel("h*"), ["h1", "h2", "h3", "h4", "h9"]);
        assert_eq!(sel("web,h9"), ["h1", "h2", "h3", "h4", "h9"]);
        assert!(inv.select("web[9]").is_err());
        assert!(inv.select("~h.*").unwrap_err().contains("ansible-core"));
        assert!(
            inv.select("web:&nothing").is_err(),
            "an empty selection is an error"
        );
    }

    #[test]
    fn connection_settings_are_read_or_refused() {
        let inv = ini(
            "[g]\nh1 ansible_ssh_common_args='-o ProxyJump=ops@bastion:2222' ansible_ssh_private_key_file=/keys/id ansible_become=yes\n\
             h2 ansible_connection=local\nh3 ansible_connection=docker\nh4 ansible_password=secret\n\
             h5 ansible_host='$(id)'\nh6 ansible_ssh_extra_args=\"-o 'ProxyCommand=ssh -W %h:%p b'\"\nh7 ansible_host='{{ x }}'\n\
             h8 ansible_port=99999\n",
        );
        let conn = |n: &str| inv.select(n).unwrap()[0].connection();
        let h1 = conn("h1").unwrap();
        assert_eq!(h1.ssh_args, ["-o", "ProxyJump=ops@bastion:2222"]);
        assert_eq!(h1.private_key_file.as_deref(), Some("/keys/id"));
        assert_eq!(h1.become_user.as_deref(), Some("root"));
        assert!(conn("h2").unwrap().local);
        assert!(conn("h3")
            .unwrap_err()
            .contains("ansible_connection=docker"));
        let h4 = conn("h4").unwrap_err();
        assert!(
            h4.contains("ansible_password") && !h4.contains("secret"),
            "{h4}"
        );
        assert!(conn("h5").unwrap_err().contains("h5"));
        assert_eq!(
            conn("h6").unwrap().ssh_args,
            ["-o", "ProxyCommand=ssh -W %h:%p b"]
        );
        assert!(conn("h7").unwrap_err().contains("template"));
        assert!(conn("h8").unwrap_err().contains("port"));
    }

    #[test]
    fn a_bad_host_elsewhere_does_not_refuse_the_file() {
        let inv = ini("[web]\nw1\n[other]\n-oProxyCommand=touch\n");
        assert_eq!(names(inv.select("web").unwrap()), ["w1"]);
        assert!(inv.select("other").unwrap()[0].connection().is_err());
    }

    #[test]
    fn group_vars_and_host_vars_beside_the_inventory() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("hosts");
        std::fs::write(
            &path,
            "[web]\nw1 ansible_user=fromfile\nw2\n[web:vars]\nansible_port=22\n",
        )
        .unwrap();
        std::fs::create_dir_all(dir.path().join("group_vars/web")).unwrap();
        std::fs::create_dir_all(dir.path().join("host_vars")).unwrap();
        std::fs::write(
            dir.path().join("group_vars/all.yml"),
            "ansible_user: allfile\n",
        )
        .unwrap();
        std::fs::write(
            dir.path().join("group_vars/web/10-port.yml"),
            "ansible_port: 2201\n",
        )
        .unwrap();
        std::fs::write(dir.path().join("host_vars/w1.yaml"), "ansible_port: 2202\n").unwrap();
        let inv = Inventory::load_with(&path, Reader::Native).unwrap();
        let hosts = inv.select("web").unwrap();
        assert_eq!(
            (hosts[0].port(), hosts[0].user()),
            (Some(2202), Some("fromfile"))
        );
        assert_eq!(
            (hosts[1].port(), hosts[1].user()),
            (Some(2201), Some("allfile"))
        );
    }

    #[test]
    fn what_only_ansible_reads_is_refused_naming_ansible_core() {
        let dir = tempfile::tempdir().unwrap();
        let script = dir.path().join("inventory.py");
        std::fs::write(&script, "#!/bin/sh\necho '{}'\n").unwrap();
        std::fs::set_permissions(&script, std::os::unix::fs::PermissionsExt::from_mode(0o755))
            .unwrap();
        let plugin = dir.path().join("aws_ec2.yml");
        std::fs::write(
            &plugin,
            "plugin: amazon.aws.aws_ec2\nregions: [eu-west-1]\n",
        )
        .unwrap();
        for path in [script, plugin] {
            let err = Inventory::load_with(&path, Reader::Native)
                .unwrap_err()
                .to_string();
            assert!(err.contains("ansible-core") && !err.contains('\n'), "{err}");
        }
    }
}
