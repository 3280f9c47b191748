//! The inventory as Ansible holds it in memory: groups with their direct hosts, child groups
//! and variables, hosts with their own variables, and the rules Ansible applies once a source
//! is read (every group under `all`, hosts of no group in `ungrouped`, group depth). Both
//! readers fill one of these, so host order, group membership and variable precedence are
//! computed in one place, the way Ansible computes them.

use std::collections::{HashMap, HashSet};

use serde_json::{Map, Value};

/// Variables by name, as JSON values (what `ansible-inventory --list` prints).
pub type Vars = Map<String, Value>;

/// One group.
#[derive(Debug, Clone, Default)]
pub struct Group {
    pub name: String,
    /// Direct hosts, as indices into [`Graph::hosts`], in the order they were added.
    pub hosts: Vec<usize>,
    /// Child groups, as indices into [`Graph::groups`], in the order they were added.
    pub children: Vec<usize>,
    pub parents: Vec<usize>,
    /// Variables set on the group in the inventory source itself.
    pub vars: Vars,
    /// Variables from `group_vars/` beside the inventory (they rank above `vars`).
    pub dir_vars: Vars,
    /// Longest path from `all` (0 for `all`): the first key of Ansible's group ordering.
    pub depth: usize,
    /// `ansible_group_priority` (default 1): the second key.
    pub priority: i64,
}

/// One host.
#[derive(Debug, Clone, Default)]
pub struct HostEntry {
    pub name: String,
    pub vars: Vars,
    /// Variables from `host_vars/` beside the inventory (they rank above `vars`).
    pub dir_vars: Vars,
    /// Direct groups, as indices into [`Graph::groups`].
    pub groups: Vec<usize>,
    /// The host's variables already merged by Ansible (the Ansible reader): used as they are.
    pub merged: Option<Vars>,
}

/// Groups and hosts in the order Ansible creates them.
#[derive(Debug, Clone)]
pub struct Graph {
    pub groups: Vec<Group>,
    pub hosts: Vec<HostEntry>,
    group_index: HashMap<String, usize>,
    host_index: HashMap<String, usize>,
}

/// Index of `all` in [`Graph::groups`].
pub const ALL: usize = 0;
/// Index of `ungrouped` in [`Graph::groups`].
pub const UNGROUPED: usize = 1;

impl Default for Graph {
    fn default() -> Self {
        Graph::new()
    }
}

impl Graph {
    /// An inventory with only `all` and its child `ungrouped`, as Ansible starts one.
    pub fn new() -> Graph {
        let mut graph = Graph {
            groups: Vec::new(),
            hosts: Vec::new(),
            group_index: HashMap::new(),
            host_index: HashMap::new(),
        };
        graph.group("all");
        graph.group("ungrouped");
        graph
            .add_child(ALL, UNGROUPED)
            .expect("ungrouped under all cannot loop");
        graph
    }

    /// The group called `name`, created if new.
    pub fn group(&mut self, name: &str) -> usize {
        if let Some(&i) = self.group_index.get(name) {
            return i;
        }
        let i = self.groups.len();
        self.groups.push(Group {
            name: name.to_string(),
            priority: 1,
            ..Group::default()
        });
        self.group_index.insert(name.to_string(), i);
        i
    }

    /// The group called `name`, if it exists.
    pub fn find_group(&self, name: &str) -> Option<usize> {
        self.group_index.get(name).copied()
    }

    /// The host called `name`, if it exists.
    pub fn find_host(&self, name: &str) -> Option<usize> {
        self.host_index.get(name).copied()
    }

    /// Add host `name` to `group` (creating the host if new).
    pub fn add_host(&mut self, group: usize, name: &str) -> usize {
        let h = match self.host_index.get(name) {
            Some(&h) => h,
            None => {
                let h = self.hosts.len();
                self.hosts.push(HostEntry {
                    name: name.to_string(),
                    ..HostEntry::default()
                });
                self.host_index.insert(name.to_string(), h);
                h
            }
        };
        // A host's own group list is short; the group's can hold 100,000 hosts, and
        // searching it for every host added made a large inventory quadratic.
        if !self.hosts[h].groups.contains(&group) {
            self.groups[group].hosts.push(h);
            self.hosts[h].groups.push(group);
        }
        h
    }

    /// Set a variable of `group` from the inventory source. `ansible_group_priority` is not
    /// a variable but the group's priority, and must be an integer, as in Ansible.
    pub fn set_group_var(&mut self, group: usize, key: &str, value: Value) -> Result<(), String> {
        if key == "ansible_group_priority" {
            let priority = match &value {
                Value::Number(n) => n.as_i64().or_else(|| n.as_f64().map(|f| f.trunc() as i64)),
                Value::Bool(b) => Some(i64::from(*b)),
                Value::String(s) => s.trim().parse().ok(),
                _ => None,
            };
            self.groups[group].priority = priority.ok_or_else(|| {
                format!(
                    "group {}: ansible_group_priority {value} is not an integer",
                    self.groups[group].name
                )
            })?;
            return Ok(());
        }
        self.groups[group].vars.insert(key.to_string(), value);
        Ok(())
    }

    /// Add the hosts of one inventory entry to `group` with the entry's variables. As in
    /// Ansible, the entry's `:PORT` becomes `ansible_port` only where a host is first seen,
    /// and the variables of a host that has a group's name go to that group (Ansible looks
    /// an entity's name up among groups first).
    pub fn add_entry(
        &mut self,
        group: usize,
        names: &[String],
        port: Option<u16>,
        vars: &Vars,
    ) -> Result<(), String> {
        for name in names {
            let known = self.find_host(name).is_some();
            let h = self.add_host(group, name);
            if let (false, Some(port)) = (known, port) {
                self.hosts[h]
                    .vars
                    .insert("ansible_port".into(), port.into());
            }
            match self.find_group(name) {
                Some(g) => {
                    for (k, v) in vars {
                        self.set_group_var(g, k, v.clone())?;
                    }
                }
                None => {
                    for (k, v) in vars {
                        self.hosts[h].vars.insert(k.clone(), v.clone());
                    }
                }
            }
        }
        Ok(())
    }

    /// Make `child` a child group of `parent`; refused where it would make a loop, as
    /// Ansible refuses it.
    pub fn add_child(&mut self, parent: usize, child: usize) -> Result<(), String> {
        if parent == child || self.ancestors(parent).contains(&child) {
            return Err(format!(
                "adding group {} as a child of {} makes a loop",
                self.groups[child].name, self.groups[parent].name
            ));
        }
        if !self.groups[parent].children.contains(&child) {
            self.groups[parent].children.push(child);
            self.groups[child].parents.push(parent);
        }
        Ok(())
    }

    /// Every group above `group`.
    pub fn ancestors(&self, group: usize) -> HashSet<usize> {
        let mut seen = HashSet::new();
        let mut todo = self.groups[group].parents.clone();
        while let Some(g) = todo.pop() {
            if seen.insert(g) {
                todo.extend_from_slice(&self.groups[g].parents);
            }
        }
        seen
    }

    /// What Ansible does once every source is read: groups without a parent go under
    /// `all`; hosts in no group but `all` go to `ungrouped`, and `ungrouped` keeps no host
    /// that is in another group; depths are set.
    pub fn reconcile(&mut self) -> Result<(), String> {
        for g in 0..self.groups.len() {
            if g != ALL && self.groups[g].parents.is_empty() {
                self.add_child(ALL, g)?;
            }
        }
        // Hosts leaving `ungrouped` are removed from its list in one pass at the end: one
        // pass per host was quadratic.
        let mut leaving = HashSet::new();
        for h in 0..self.hosts.len() {
            let groups = self.hosts[h].groups.clone();
            if groups.contains(&UNGROUPED) {
                if groups.iter().any(|&g| g != ALL && g != UNGROUPED) {
                    leaving.insert(h);
                    self.hosts[h].groups.retain(|&g| g != UNGROUPED);
                }
            } else if groups.iter().all(|&g| g == ALL) {
                self.groups[UNGROUPED].hosts.push(h);
                self.hosts[h].groups.push(UNGROUPED);
            }
        }
        if !leaving.is_empty() {
            self.groups[UNGROUPED]
                .hosts
                .retain(|x| !leaving.contains(x));
        }
        self.set_depths();
        Ok(())
    }

    /// Depth = the longest path from `all` (the graph has no loops: `add_child` refuses them).
    fn set_depths(&mut self) {
        let mut depth = vec![0usize; self.groups.len()];
        // Relax edges in breadth-first waves; a group's depth only grows, and no path is
        // longer than the number of groups.
        let mut wave = vec![ALL];
        let mut rounds = 0;
        while !wave.is_empty() && rounds <= self.groups.len() {
            let mut next = Vec::new();
            for &g in &wave {
                for &c in &self.groups[g].children {
                    if depth[c] < depth[g] + 1 {
                        depth[c] = depth[g] + 1;
                        next.push(c);
                    }
                }
            }
            wave = next;
            rounds += 1;
        }
        for (g, d) in depth.into_iter().enumerate() {
            self.groups[g].depth = d;
        }
    }

    /// The hosts of `group` in Ansible's order: the group's own hosts, then its children's,
    /// level by level (Ansible's `get_descendants(preserve_ordering=True)`), each host once.
    ///
    /// Within one level below the children, Ansible walks the groups of the level above as
    /// a Python set, whose order depends on string hashing; here the level's order of
    /// appearance is used. Inventories whose grandchildren hold hosts of their own in
    /// several branches can therefore list them in another order than one Ansible run does.
    pub fn group_hosts(&self, group: usize) -> Vec<usize> {
        let mut ordered = vec![group];
        ordered.extend_from_slice(&self.groups[group].children);
        let mut seen: HashSet<usize> = ordered.iter().copied().collect();
        let mut level: Vec<usize> = self.groups[group].children.clone();
        while !level.is_empty() {
            let mut next = Vec::new();
            for &g in &level {
                for &c in &self.groups[g].children {
                    if seen.insert(c) {
                        ordered.push(c);
                        next.push(c);
                    }
                }
            }
            level = next;
        }
        let mut hosts = Vec::new();
        let mut taken = HashSet::new();
        for g in ordered {
            for &h in &self.groups[g].hosts {
                if taken.insert(h) {
                    hosts.push(h);
                }
            }
        }
        hosts
    }

    /// Whether Ansible's own host order for `group` can change from one run to the next: its
    /// walk visits each level below the group's children as a Python set, so where a level
    /// holds two or more groups with children of their own, the next level's order depends on
    /// string hashing. Where it varies, [`Graph::group_hosts`] gives one of Ansible's orders
    /// (the inventory's), every time.
    pub fn order_varies(&self, group: usize) -> bool {
        let mut seen: HashSet<usize> = HashSet::new();
        let mut level: Vec<usize> = vec![group];
        level.extend_from_slice(&self.groups[group].children);
        while !level.is_empty() {
            seen.extend(level.iter().copied());
            let with_children = level
                .iter()
                .filter(|&&g| self.groups[g].children.iter().any(|c| !seen.contains(c)))
                .count();
            if with_children >= 2 {
                return true;
            }
            let mut next = Vec::new();
            for &g in &level {
                for &c in &self.groups[g].children {
                    if !seen.contains(&c) && !next.contains(&c) {
                        next.push(c);
                    }
                }
            }
            level = next;
        }
        false
    }

    /// Every group `host` is in, directly or through a child group (`all` included).
    pub fn groups_of(&self, host: usize) -> Vec<usize> {
        let mut out: Vec<usize> = Vec::new();
        for &g in &self.hosts[host].groups {
            if !out.contains(&g) {
                out.push(g);
            }
            for a in self.ancestors(g) {
                if !out.contains(&a) {
                    out.push(a);
                }
            }
        }
        if !out.contains(&ALL) {
            out.push(ALL);
        }
        out
    }

    /// The host's variables as Ansible merges them (`ansible-inventory --list`'s hostvars):
    /// `all`'s, the other groups' sorted by (depth, `ansible_group_priority`, name), then
    /// `group_vars/all`, the other groups' `group_vars/` in the same order, the host's own,
    /// and `host_vars/`. Each later source replaces a variable as a whole.
    pub fn host_vars(&self, host: usize) -> Vars {
        let entry = &self.hosts[host];
        if let Some(merged) = &entry.merged {
            return merged.clone();
        }
        let mut groups: Vec<usize> = self
            .groups_of(host)
            .into_iter()
            .filter(|&g| g != ALL)
            .collect();
        groups.sort_by(|&a, &b| {
            let key = |g: usize| {
                let group = &self.groups[g];
                (group.depth, group.priority, group.name.clone())
            };
            key(a).cmp(&key(b))
        });
        let mut vars = Vars::new();
        let mut apply = |from: &Vars| {
            for (k, v) in from {
                vars.insert(k.clone(), v.clone());
            }
        };
        apply(&self.groups[ALL].vars);
        for &g in &groups {
            apply(&self.groups[g].vars);
        }
        apply(&self.groups[ALL].dir_vars);
        for &g in &groups {
            apply(&self.groups[g].dir_vars);
        }
        apply(&entry.vars);
        apply(&entry.dir_vars);
        vars
    }
}
