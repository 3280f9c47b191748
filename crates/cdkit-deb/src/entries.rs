//! Checking data entries and putting them in tree order.
//!
//! Order: depth-first with siblings in byte order, i.e. paths compared component by
//! component. That is the order `dpkg-deb --build` writes (it sorts each directory's
//! entries), it puts every parent before its children, and it makes the output independent
//! of the order callers list entries in. md5sums uses the same order.

use std::cmp::Ordering;
use std::collections::BTreeMap;
use std::path::Path;

use super::error::DebError;
use super::{DataEntry, EntryKind};

/// What an entry of the final tree is; implicit parent directories have no [`DataEntry`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind<'a> {
    Dir,
    File(&'a Path),
    Symlink(&'a str),
}

/// One checked entry of the final data.tar.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Planned<'a> {
    /// The path without its leading `/` (`usr/bin/hello`); empty for the root directory.
    pub rel: String,
    pub kind: Kind<'a>,
    pub mode: u32,
    pub owner: &'a str,
    pub group: &'a str,
    pub uid: u64,
    pub gid: u64,
}

impl Planned<'_> {
    /// The name written into the tar: `./`, `./usr/`, `./usr/bin/hello`.
    pub(crate) fn tar_name(&self) -> String {
        match (self.rel.is_empty(), self.kind) {
            (true, _) => "./".to_string(),
            (false, Kind::Dir) => format!("./{}/", self.rel),
            (false, _) => format!("./{}", self.rel),
        }
    }

    fn implicit_dir(rel: String) -> Planned<'static> {
        Planned {
            rel,
            kind: Kind::Dir,
            mode: 0o755,
            owner: "root",
            group: "root",
            uid: 0,
            gid: 0,
        }
    }
}

/// A relative package path ordered component by component, which is tree order:
/// `a` < `a/b` < `a/b/c` < `a-b` (plain byte order would put `a-b` before `a/b`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct TreeKey(pub String);

impl Ord for TreeKey {
    fn cmp(&self, other: &Self) -> Ordering {
        let a = self.0.split('/').filter(|c| !c.is_empty());
        let b = other.0.split('/').filter(|c| !c.is_empty());
        a.cmp(b)
    }
}

impl PartialOrd for TreeKey {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

/// The checked tree in order, root first.
pub(crate) type Plan<'a> = BTreeMap<TreeKey, Planned<'a>>;

/// Check every entry and return the full tree: the root, the entries, and every missing
/// parent directory (root:root 0755).
pub(crate) fn plan(entries: &[DataEntry]) -> Result<Plan<'_>, DebError> {
    let mut tree: Plan<'_> = BTreeMap::new();
    for entry in entries {
        let planned = check_entry(entry)?;
        let key = TreeKey(planned.rel.clone());
        if tree.insert(key, planned).is_some() {
            return Err(DebError::DuplicatePath {
                path: entry.path.clone(),
            });
        }
    }
    tree.entry(TreeKey(String::new()))
        .or_insert_with(|| Planned::implicit_dir(String::new()));
    let mut missing = Vec::new();
    for planned in tree.values() {
        let mut parent = planned.rel.as_str();
        while let Some((up, _)) = parent.rsplit_once('/') {
            parent = up;
            match tree.get(&TreeKey(parent.to_string())) {
                Some(p) if p.kind != Kind::Dir => {
                    return Err(DebError::ParentNotDirectory {
                        path: format!("/{}", planned.rel),
                        parent: format!("/{parent}"),
                    })
                }
                Some(_) => {}
                None => missing.push(parent.to_string()),
            }
        }
    }
    for rel in missing {
        tree.entry(TreeKey(rel.clone()))
            .or_insert_with(|| Planned::implicit_dir(rel));
    }
    Ok(tree)
}

/// Check one entry's path, mode, owner and target.
fn check_entry(entry: &DataEntry) -> Result<Planned<'_>, DebError> {
    let is_dir = entry.kind == EntryKind::Dir;
    let rel = normalize(&entry.path, is_dir)?;
    let invalid = |reason: String| DebError::InvalidEntry {
        path: entry.path.clone(),
        reason,
    };
    if entry.mode & !0o7777 != 0 {
        return Err(invalid(format!(
            "mode {:#o} has bits outside 0o7777 (pass permission bits only, not st_mode)",
            entry.mode
        )));
    }
    check_account_name(&entry.owner)
        .map_err(|r| invalid(format!("owner {:?} {r}", entry.owner)))?;
    check_account_name(&entry.group)
        .map_err(|r| invalid(format!("group {:?} {r}", entry.group)))?;
    let (kind, mode) = match &entry.kind {
        EntryKind::Dir => (Kind::Dir, entry.mode),
        EntryKind::File { source } => {
            if rel.is_empty() {
                return Err(invalid("the root directory cannot be a file".to_string()));
            }
            (Kind::File(source.as_path()), entry.mode)
        }
        EntryKind::Symlink { target } => {
            if rel.is_empty() {
                return Err(invalid(
                    "the root directory cannot be a symlink".to_string(),
                ));
            }
            if target.is_empty() || target.contains(['\0', '\n', '\r']) {
                return Err(invalid(format!(
                    "symlink target {target:?} is empty or contains NUL or a line break"
                )));
            }
            (Kind::Symlink(target.as_str()), 0o777)
        }
    };
    Ok(Planned {
        rel,
        kind,
        mode,
        owner: &entry.owner,
        group: &entry.group,
        uid: entry.uid,
        gid: entry.gid,
    })
}

/// Check an absolute package path and return it without the leading `/` (and without one
/// trailing `/` for directories). `/` itself becomes the empty string.
pub(crate) fn normalize(path: &str, is_dir: bool) -> Result<String, DebError> {
    let bad = |reason: &str| DebError::InvalidPath {
        path: path.to_string(),
        reason: reason.to_string(),
    };
    if path.is_empty() {
        return Err(bad("empty"));
    }
    if path.contains('\0') {
        return Err(bad("contains a NUL byte"));
    }
    if path.contains(['\n', '\r']) {
        return Err(bad(
            "contains a line break (md5sums and conffiles are line-based)",
        ));
    }
    let Some(rest) = path.strip_prefix('/') else {
        return Err(bad("not absolute (must start with /)"));
    };
    let rest = match rest.strip_suffix('/') {
        Some(r) if is_dir => r,
        Some(_) => return Err(bad("ends with / but is not a directory")),
        None => rest,
    };
    if rest.is_empty() {
        return Ok(String::new());
    }
    for component in rest.split('/') {
        match component {
            "" => return Err(bad("contains an empty component (//)")),
            ".." => return Err(bad("contains a .. component")),
            "." => return Err(bad("contains a . component")),
            _ => {}
        }
    }
    Ok(rest.to_string())
}

/// Owner and group names as tar stores them (31 bytes and a NUL) and as dpkg looks them up.
fn check_account_name(name: &str) -> Result<(), &'static str> {
    if name.is_empty() || name.len() > 31 {
        return Err("must be 1 to 31 bytes long");
    }
    if !name
        .bytes()
        .all(|b| b.is_ascii_graphic() && b != b':' && b != b'/')
    {
        return Err("may only contain printable ASCII other than ':' and '/'");
    }
    Ok(())
}

/// Check the conffile list against the tree: each must be a regular file of the package,
/// listed once. Returns the paths in the caller's order.
pub(crate) fn check_conffiles<'a>(
    conffiles: &'a [String],
    tree: &Plan<'_>,
) -> Result<Vec<&'a str>, DebError> {
    let bad = |path: &str, reason: &str| DebError::Conffile {
        path: path.to_string(),
        reason: reason.to_string(),
    };
    let mut seen = std::collections::BTreeSet::new();
    for path in conffiles {
        let rel = normalize(path, false).map_err(|e| bad(path, &e.to_string()))?;
        match tree.get(&TreeKey(rel.clone())) {
            Some(Planned {
                kind: Kind::File(_),
                ..
            }) => {}
            Some(_) => return Err(bad(path, "is not a regular file in the package")),
            None => return Err(bad(path, "is not in the package")),
        }
        if !seen.insert(rel) {
            return Err(bad(path, "is listed twice"));
        }
    }
    Ok(conffiles.iter().map(String::as_str).collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rels(tree: &Plan<'_>) -> Vec<String> {
        tree.values().map(Planned::tar_name).collect()
    }

    #[test]
    fn sorts_in_tree_order_and_adds_parents() {
        let entries = vec![
            DataEntry::file("/usr/bin-x/b", "/dev/null", 0o644),
            DataEntry::file("/usr/bin/a", "/dev/null", 0o755),
            DataEntry::symlink("/usr/bin/Z", "a"),
            DataEntry::dir("/etc/", 0o750),
            DataEntry::file("/etc/x.conf", "/dev/null", 0o644),
        ];
        let tree = plan(&entries).unwrap();
        assert_eq!(
            rels(&tree),
            [
                "./",
                "./etc/",
                "./etc/x.conf",
                "./usr/",
                "./usr/bin/",
                "./usr/bin/Z",
                "./usr/bin/a",
                "./usr/bin-x/",
                "./usr/bin-x/b"
            ]
        );
        let etc = tree.get(&TreeKey("etc".into())).unwrap();
        assert_eq!(etc.mode, 0o750);
        let usr = tree.get(&TreeKey("usr".into())).unwrap();
        assert_eq!((usr.mode, usr.owner), (0o755, "root"));
    }

    #[test]
    fn rejects_bad_paths_naming_them() {
        for (path, what) in [
            ("", "empty"),
            ("usr/bin", "absolute"),
            ("/usr/../etc", ".."),
            ("/usr//bin", "//"),
            ("/usr/./bin", ". component"),
            ("/a\0b", "NUL"),
            ("/a\nb", "line break"),
            ("/usr/bin/", "ends with /"),
        ] {
            let err = plan(&[DataEntry::file(path, "/dev/null", 0o644)]).unwrap_err();
            let msg = err.to_string();
            assert!(
                msg.contains(&format!("{path:?}")) && msg.contains(what),
                "{msg}"
            );
        }
    }

    #[test]
    fn rejects_duplicates_files_as_parents_and_bad_fields() {
        let dup = plan(&[
            DataEntry::dir("/etc", 0o755),
            DataEntry::dir("/etc/", 0o755),
        ])
        .unwrap_err();
        assert_eq!(dup.to_string(), "duplicate package path /etc/");

        let parent = plan(&[
            DataEntry::file("/etc", "/dev/null", 0o644),
            DataEntry::file("/etc/a/b", "/dev/null", 0o644),
        ])
        .unwrap_err();
        assert!(
            parent.to_string().contains("/etc/a/b") && parent.to_string().contains("parent /etc ")
        );

        let mode = plan(&[DataEntry::file("/a", "/dev/null", 0o100644)]).unwrap_err();
        assert!(mode.to_string().contains("/a") && mode.to_string().contains("0o100644"));

        let owner = plan(&[DataEntry::file("/a", "/dev/null", 0o644).owned_by("a b", 1, "x", 1)])
            .unwrap_err();
        assert!(owner.to_string().contains("owner \"a b\""), "{owner}");
    }

    #[test]
    fn conffiles_must_be_files_of_the_package() {
        let entries = vec![
            DataEntry::file("/etc/a.conf", "/dev/null", 0o644),
            DataEntry::dir("/etc/d", 0o755),
        ];
        let tree = plan(&entries).unwrap();
        assert!(check_conffiles(&["/etc/a.conf".into()], &tree).is_ok());
        for (c, why) in [
            ("/etc/b.conf", "not in the package"),
            ("/etc/d", "not a regular file"),
            ("etc/a.conf", "absolute"),
        ] {
            let err = check_conffiles(&[c.into()], &tree).unwrap_err().to_string();
            assert!(err.contains(c) && err.contains(why), "{err}");
        }
        let twice =
            check_conffiles(&["/etc/a.conf".into(), "/etc/a.conf".into()], &tree).unwrap_err();
        assert!(twice.to_string().contains("twice"));
    }
}
