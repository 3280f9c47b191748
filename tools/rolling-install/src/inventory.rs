//! Inventories in the formats teams already have: Ansible INI and YAML (groups, children,
//! group and host variables, `ansible_host`/`ansible_port`/`ansible_user`, host ranges like
//! `web[01:10]`), or a plain list of hosts, one per line.

use std::collections::BTreeMap;
use std::path::Path;

/// Why an inventory could not be used; names the file and line where possible.
#[derive(Debug, thiserror::Error)]
pub enum InventoryError {
    #[error("cannot read inventory {path}: {source}")]
    Read {
        path: String,
        #[source]
        source: std::io::Error,
    },
    #[error("inventory {path}: {message}")]
    Invalid { path: String, message: String },
}

/// One host and its variables (group variables merged under host variables).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Host {
    pub name: String,
    pub vars: BTreeMap<String, String>,
}

impl Host {
    /// What ssh connects to: `ansible_host`, else the name.
    pub fn address(&self) -> &str {
        self.vars
            .get("ansible_host")
            .map(String::as_str)
            .unwrap_or(&self.name)
    }

    /// `ansible_port`, if set and valid.
    pub fn port(&self) -> Option<u16> {
        self.vars.get("ansible_port").and_then(|p| p.parse().ok())
    }

    /// `ansible_user`, if set.
    pub fn user(&self) -> Option<&str> {
        self.vars.get("ansible_user").map(String::as_str)
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

    /// An ssh session to this host (nothing connects until the first command).
    pub fn session(
        &self,
        client: &cdkit::ssh::Client,
    ) -> Result<cdkit::ssh::Session, cdkit::ssh::SshError> {
        cdkit::ssh::Target::new(&self.name, self.address(), self.port(), self.user())
            .map(|t| cdkit::ssh::Session::new(client, t))
    }
}

#[derive(Debug, Clone, Default)]
struct Group {
    hosts: Vec<String>,
    children: Vec<String>,
    vars: BTreeMap<String, String>,
}

/// A parsed inventory: hosts in file order and the groups they belong to.
#[derive(Debug, Clone, Default)]
pub struct Inventory {
    order: Vec<String>,
    host_vars: BTreeMap<String, BTreeMap<String, String>>,
    groups: BTreeMap<String, Group>,
}

impl Inventory {
    /// Read `path`: `.yml`/`.yaml` as YAML, a file with `[section]` lines as INI, anything
    /// else as a list of hosts.
    pub fn load(path: &Path) -> Result<Inventory, InventoryError> {
        let shown = path.display().to_string();
        let text = std::fs::read_to_string(path).map_err(|source| InventoryError::Read {
            path: shown.clone(),
            source,
        })?;
        let ext = path.extension().and_then(|e| e.to_str()).unwrap_or("");
        let result = if matches!(ext, "yml" | "yaml") {
            Inventory::parse_yaml(&text)
        } else if text.lines().any(|l| l.trim_start().starts_with('[')) {
            Inventory::parse_ini(&text)
        } else {
            Inventory::parse_list(&text)
        };
        let inventory = result.map_err(|message| InventoryError::Invalid {
            path: shown.clone(),
            message,
        })?;
        inventory
            .validate()
            .map_err(|message| InventoryError::Invalid {
                path: shown,
                message,
            })?;
        Ok(inventory)
    }

    /// One host per line; `#` comments and blank lines ignored.
    pub fn parse_list(text: &str) -> Result<Inventory, String> {
        let mut inv = Inventory::default();
        for (n, line) in text.lines().enumerate() {
            let line = line.split('#').next().unwrap_or("").trim();
            if line.is_empty() {
                continue;
            }
            if line.contains(char::is_whitespace) {
                return Err(format!(
                    "line {}: {line:?} is not a single host name",
                    n + 1
                ));
            }
            inv.add_host("all", line, BTreeMap::new());
        }
        Ok(inv)
    }

    /// Ansible INI: `[group]`, `[group:children]`, `[group:vars]`, `host key=value …`.
    pub fn parse_ini(text: &str) -> Result<Inventory, String> {
        let mut inv = Inventory::default();
        let mut section = ("ungrouped".to_string(), "hosts");
        for (n, raw) in text.lines().enumerate() {
            let line = raw.trim();
            if line.is_empty() || line.starts_with('#') || line.starts_with(';') {
                continue;
            }
            let at = |m: &str| format!("line {}: {m}", n + 1);
            if let Some(header) = line.strip_prefix('[') {
                let header = header
                    .strip_suffix(']')
                    .ok_or_else(|| at(&format!("{line:?} is not a [section] header")))?;
                section = match header.split_once(':') {
                    Some((g, "children")) => (g.to_string(), "children"),
                    Some((g, "vars")) => (g.to_string(), "vars"),
                    Some((_, other)) => return Err(at(&format!("unknown section kind :{other}"))),
                    None => (header.to_string(), "hosts"),
                };
                check_group_name(&section.0).map_err(|m| at(&m))?;
                inv.groups.entry(section.0.clone()).or_default();
                continue;
            }
            match section.1 {
                "children" => {
                    check_group_name(line).map_err(|m| at(&m))?;
                    inv.groups
                        .entry(section.0.clone())
                        .or_default()
                        .children
                        .push(line.to_string());
                }
                "vars" => {
                    let (k, v) = line
                        .split_once('=')
                        .ok_or_else(|| at(&format!("{line:?} is not key=value")))?;
                    inv.groups
                        .entry(section.0.clone())
                        .or_default()
                        .vars
                        .insert(k.trim().to_string(), unquote(v.trim()));
                }
                _ => {
                    let mut words = split_words(line, true).map_err(|m| at(&m))?.into_iter();
                    let pattern = words.next().unwrap_or_default();
                    let mut vars = BTreeMap::new();
                    for word in words {
                        let (k, v) = word
                            .split_once('=')
                            .ok_or_else(|| at(&format!("{word:?} is not key=value")))?;
                        vars.insert(k.to_string(), v.to_string());
                    }
                    for host in expand_range(&pattern).map_err(|m| at(&m))? {
                        inv.add_host(&section.0, &host, vars.clone());
                    }
                }
            }
        }
        Ok(inv)
    }

    /// Ansible YAML: `all: {hosts: {h: {vars}}, children: {g: {hosts, vars, children}}}`.
    pub fn parse_yaml(text: &str) -> Result<Inventory, String> {
        let doc: serde_yaml_ng::Value = serde_yaml_ng::from_str(text).map_err(|e| e.to_string())?;
        let mut inv = Inventory::default();
        let top = doc
            .as_mapping()
            .ok_or("the document is not a mapping of groups")?;
        for (name, body) in top {
            let name = name.as_str().ok_or("a group name is not a string")?;
            inv.yaml_group(name, body)?;
        }
        Ok(inv)
    }

    fn yaml_group(&mut self, name: &str, body: &serde_yaml_ng::Value) -> Result<(), String> {
        check_group_name(name)?;
        self.groups.entry(name.to_string()).or_default();
        if body.is_null() {
            return Ok(());
        }
        let body = body
            .as_mapping()
            .ok_or_else(|| format!("group {name} is not a mapping"))?;
        for (key, value) in body {
            match key.as_str() {
                Some("hosts") => {
                    let Some(hosts) = value.as_mapping() else {
                        continue;
                    };
                    for (host, vars) in hosts {
                        let host = host.as_str().ok_or("a host name is not a string")?;
                        let vars = yaml_vars(vars).map_err(|m| format!("host {host}: {m}"))?;
                        for expanded in expand_range(host)? {
                            self.add_host(name, &expanded, vars.clone());
                        }
                    }
                }
                Some("vars") => {
                    let vars = yaml_vars(value).map_err(|m| format!("group {name}: {m}"))?;
                    self.groups
                        .entry(name.to_string())
                        .or_default()
                        .vars
                        .extend(vars);
                }
                Some("children") => {
                    let Some(children) = value.as_mapping() else {
                        continue;
                    };
                    for (child, child_body) in children {
                        let child = child.as_str().ok_or("a group name is not a string")?;
                        self.groups
                            .entry(name.to_string())
                            .or_default()
                            .children
                            .push(child.to_string());
                        self.yaml_group(child, child_body)?;
                    }
                }
                other => return Err(format!("group {name}: unknown key {other:?}")),
            }
        }
        Ok(())
    }

    fn add_host(&mut self, group: &str, host: &str, vars: BTreeMap<String, String>) {
        if !self.order.iter().any(|h| h == host) {
            self.order.push(host.to_string());
        }
        self.host_vars
            .entry(host.to_string())
            .or_default()
            .extend(vars);
        let g = self.groups.entry(group.to_string()).or_default();
        if !g.hosts.iter().any(|h| h == host) {
            g.hosts.push(host.to_string());
        }
    }

    fn validate(&self) -> Result<(), String> {
        for name in &self.order {
            cdkit::ssh::validate_host(name).map_err(|e| e.to_string())?;
            let host = self.host(name);
            cdkit::ssh::validate_host(host.address()).map_err(|e| e.to_string())?;
            if let Some(port) = host.vars.get("ansible_port") {
                port.parse::<u16>()
                    .map_err(|_| format!("host {name}: ansible_port {port:?} is not a port"))?;
            }
        }
        for (name, group) in &self.groups {
            for child in &group.children {
                if !self.groups.contains_key(child) {
                    return Err(format!("group {name} has an unknown child group {child}"));
                }
            }
        }
        Ok(())
    }

    /// Every host in file order.
    pub fn all(&self) -> Vec<Host> {
        self.order.iter().map(|h| self.host(h)).collect()
    }

    /// The hosts of `group` (children included), in file order.
    pub fn group(&self, group: &str) -> Result<Vec<Host>, String> {
        if group == "all" {
            return Ok(self.all());
        }
        if !self.groups.contains_key(group) {
            let known: Vec<&str> = self.groups.keys().map(String::as_str).collect();
            return Err(format!("no group {group:?} (groups: {})", known.join(", ")));
        }
        let members = self.members(group, &mut Vec::new());
        Ok(self
            .order
            .iter()
            .filter(|h| members.contains(h))
            .map(|h| self.host(h))
            .collect())
    }

    fn members(&self, group: &str, seen: &mut Vec<String>) -> Vec<String> {
        if seen.iter().any(|s| s == group) {
            return Vec::new(); // a cycle in children: stop
        }
        seen.push(group.to_string());
        let Some(g) = self.groups.get(group) else {
            return Vec::new();
        };
        let mut out = g.hosts.clone();
        for child in &g.children {
            out.extend(self.members(child, seen));
        }
        out
    }

    /// A host with group variables (outermost group first) under its own variables.
    fn host(&self, name: &str) -> Host {
        let mut vars = BTreeMap::new();
        for group in self.groups_of(name) {
            if let Some(g) = self.groups.get(&group) {
                vars.extend(g.vars.clone());
            }
        }
        if let Some(own) = self.host_vars.get(name) {
            vars.extend(own.clone());
        }
        Host {
            name: name.to_string(),
            vars,
        }
    }

    /// Groups containing `host`, parents before children.
    fn groups_of(&self, host: &str) -> Vec<String> {
        let mut direct: Vec<String> = self
            .groups
            .iter()
            .filter(|(_, g)| g.hosts.iter().any(|h| h == host))
            .map(|(n, _)| n.clone())
            .collect();
        let mut ordered = Vec::new();
        while let Some(group) = direct.pop() {
            if ordered.contains(&group) {
                continue;
            }
            let parents: Vec<String> = self
                .groups
                .iter()
                .filter(|(_, g)| g.children.contains(&group))
                .map(|(n, _)| n.clone())
                .collect();
            ordered.insert(0, group);
            for parent in parents {
                if !ordered.contains(&parent) {
                    ordered.insert(0, parent);
                }
            }
        }
        ordered
    }
}

fn yaml_vars(value: &serde_yaml_ng::Value) -> Result<BTreeMap<String, String>, String> {
    let mut vars = BTreeMap::new();
    if value.is_null() {
        return Ok(vars);
    }
    let map = value.as_mapping().ok_or("variables are not a mapping")?;
    for (k, v) in map {
        let k = k.as_str().ok_or("a variable name is not a string")?;
        let v = match v {
            serde_yaml_ng::Value::String(s) => s.clone(),
            serde_yaml_ng::Value::Number(n) => n.to_string(),
            serde_yaml_ng::Value::Bool(b) => b.to_string(),
            _ => return Err(format!("variable {k} is not a scalar")),
        };
        vars.insert(k.to_string(), v);
    }
    Ok(vars)
}

/// Whether `name` may be a group name: also part of the deployment lock's path on a host, so
/// `rollback` checks the group a record names with this same rule before using it.
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

fn unquote(value: &str) -> String {
    for q in ['"', '\''] {
        if let Some(inner) = value.strip_prefix(q).and_then(|v| v.strip_suffix(q)) {
            return inner.to_string();
        }
    }
    value.to_string()
}

/// Split `text` into words at whitespace, honouring single and double quotes; with
/// `comments`, an unquoted `#` at the start of a word ends the line (inventory host lines).
/// Also splits `--lb-drain-cmd`/`--lb-ready-cmd` templates, which never reach a shell.
pub fn split_words(text: &str, comments: bool) -> Result<Vec<String>, String> {
    let mut words = Vec::new();
    let mut current = String::new();
    let mut quote: Option<char> = None;
    let mut in_word = false;
    for c in text.chars() {
        match (quote, c) {
            (Some(q), c) if c == q => quote = None,
            (Some(_), c) => current.push(c),
            (None, '"' | '\'') => {
                quote = Some(c);
                in_word = true;
            }
            (None, c) if c.is_whitespace() => {
                if in_word {
                    words.push(std::mem::take(&mut current));
                    in_word = false;
                }
            }
            (None, '#') if comments && !in_word => break,
            (None, c) => {
                current.push(c);
                in_word = true;
            }
        }
    }
    if quote.is_some() {
        return Err(format!("{text:?}: unterminated quote"));
    }
    if in_word {
        words.push(current);
    }
    Ok(words)
}

/// `web[01:03].example.com` → web01…web03 (numeric ranges, zero padding kept).
fn expand_range(pattern: &str) -> Result<Vec<String>, String> {
    let Some(open) = pattern.find('[') else {
        return Ok(vec![pattern.to_string()]);
    };
    let close = pattern[open..]
        .find(']')
        .map(|c| open + c)
        .ok_or_else(|| format!("{pattern:?}: unclosed range"))?;
    let (from, to) = pattern[open + 1..close]
        .split_once(':')
        .ok_or_else(|| format!("{pattern:?}: a range is [FROM:TO]"))?;
    let width = from.len();
    let (a, b): (u32, u32) = (
        from.parse()
            .map_err(|_| format!("{pattern:?}: bad range start"))?,
        to.parse()
            .map_err(|_| format!("{pattern:?}: bad range end"))?,
    );
    if b < a || b - a > 10_000 {
        return Err(format!("{pattern:?}: bad range"));
    }
    let (head, tail) = (&pattern[..open], &pattern[close + 1..]);
    let mut out = Vec::new();
    for i in a..=b {
        for rest in expand_range(tail)? {
            out.push(format!("{head}{i:0width$}{rest}"));
        }
    }
    Ok(out)
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

    #[test]
    fn ini_groups_children_vars_and_ranges() {
        let inv = Inventory::parse_ini(INI).unwrap();
        inv.validate().unwrap();
        let names = |hs: Vec<Host>| hs.into_iter().map(|h| h.name).collect::<Vec<_>>();
        assert_eq!(names(inv.group("testing").unwrap()), ["t1", "t2"]);
        assert_eq!(
            names(inv.group("production").unwrap()),
            ["web01", "web02", "web03"]
        );
        assert_eq!(names(inv.group("web").unwrap()).len(), 5);
        let t2 = &inv.group("testing").unwrap()[1];
        assert_eq!(
            (t2.address(), t2.port(), t2.user()),
            ("10.213.0.12", Some(2222), Some("root"))
        );
        let web01 = &inv.group("production").unwrap()[0];
        assert_eq!(web01.user(), Some("deploy"), "host vars beat group vars");
        assert_eq!(
            web01.vars.get("health_path").map(String::as_str),
            Some("/health")
        );
        assert!(inv.group("nope").unwrap_err().contains("testing"));
    }

    #[test]
    fn yaml_inventories_match_ini() {
        let yaml = r#"
all:
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
"#;
        let inv = Inventory::parse_yaml(yaml).unwrap();
        inv.validate().unwrap();
        assert_eq!(inv.group("testing").unwrap()[1].port(), Some(2222));
        let prod = inv.group("production").unwrap();
        assert_eq!(prod.len(), 2);
        assert_eq!(prod[1].user(), Some("deploy"));
        assert_eq!(inv.group("all").unwrap().len(), 4);
    }

    #[test]
    fn plain_lists_and_hostile_hosts() {
        let inv = Inventory::parse_list("# hosts\nweb1\nweb2 \n\n").unwrap();
        assert_eq!(inv.all().len(), 2);
        for bad in ["-oProxyCommand=touch /x", "foo;touch", "$(id)"] {
            let inv = Inventory::parse_list(bad).unwrap_or_default();
            assert!(inv.validate().is_err() || inv.all().is_empty(), "{bad}");
        }
        let inv = Inventory::parse_ini("[g]\nh1 ansible_host='$(id)'\n").unwrap();
        assert!(inv.validate().is_err());
        assert!(Inventory::parse_ini("[g\nh1\n").is_err());
        assert!(Inventory::parse_ini("[g]\nh1 novalue\n")
            .unwrap_err()
            .contains("line 2"));
    }
}
