//! `cdkit-deb.toml`: what a Makefile-only repository says about its package, so build-deb can
//! do what debhelper would (conffiles, docs, systemd snippets, ownership) without a `debian/`.
//!
//! ```toml
//! [package]
//! name = "legacy-make-app"
//! version = "2.3.1"                    # upstream; build-deb adds the CI suffix and revision
//! maintainer = "Ops Team <ops@example.com>"
//! summary = "Does one thing well"
//! description = "Longer text, one or more paragraphs."
//! copyright = "COPYING"                # file shipped as /usr/share/doc/NAME/copyright
//! depends = ["libc6 (>= 2.36)"]
//!
//! [build]
//! command = "make && make install DESTDIR={stage} PREFIX=/usr"
//!
//! [systemd]
//! units = ["legacy-make-app.service"]
//! ```

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::Deserialize;

use crate::error::Error;

/// The manifest's file name, looked up at the root of the source tree.
pub const FILE_NAME: &str = "cdkit-deb.toml";

/// The whole manifest.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Manifest {
    /// `[package]`: the control fields.
    pub package: PackageSection,
    /// `[build]`: the command that installs into {stage}; none for a files-only package.
    #[serde(default)]
    pub build: Option<BuildSection>,
    /// Extra files not installed by the build command.
    #[serde(default, rename = "file")]
    pub files: Vec<FileEntry>,
    /// Ownership and modes for staged paths.
    #[serde(default)]
    pub attributes: Vec<Attributes>,
    /// `[scripts]`: maintainer scripts.
    #[serde(default)]
    pub scripts: Scripts,
    /// `[systemd]`: how the package's units are handled on install and upgrade.
    #[serde(default)]
    pub systemd: Option<Systemd>,
}

/// `[package]`: the control fields.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct PackageSection {
    /// Package name (Debian policy).
    pub name: String,
    /// Upstream version; the revision is added.
    pub version: String,
    /// Debian revision (default 1).
    #[serde(default = "default_revision")]
    pub revision: String,
    /// `any` (this machine's architecture), `all`, or a Debian architecture name.
    #[serde(default = "default_architecture")]
    pub architecture: String,
    /// Maintainer field, `Name <email>`.
    pub maintainer: String,
    /// The Description's first line.
    pub summary: String,
    /// The Description's extended text.
    #[serde(default)]
    pub description: String,
    /// Section field (default misc).
    #[serde(default = "default_section")]
    pub section: String,
    /// Priority field (default optional).
    #[serde(default = "default_priority")]
    pub priority: String,
    /// Homepage field.
    #[serde(default)]
    pub homepage: Option<String>,
    /// Path (relative to the manifest) of the copyright file.
    pub copyright: PathBuf,
    /// Path of a Debian-format changelog; generated from the version when absent.
    #[serde(default)]
    pub changelog: Option<PathBuf>,
    /// Depends relations, one per entry.
    #[serde(default)]
    pub depends: Vec<String>,
    /// Pre-Depends relations.
    #[serde(default)]
    pub pre_depends: Vec<String>,
    /// Recommends relations.
    #[serde(default)]
    pub recommends: Vec<String>,
    /// Suggests relations.
    #[serde(default)]
    pub suggests: Vec<String>,
    /// Conflicts relations.
    #[serde(default)]
    pub conflicts: Vec<String>,
    /// Breaks relations.
    #[serde(default)]
    pub breaks: Vec<String>,
    /// Replaces relations.
    #[serde(default)]
    pub replaces: Vec<String>,
    /// Provides relations.
    #[serde(default)]
    pub provides: Vec<String>,
    /// Conffiles besides everything under `/etc` (which is automatic).
    #[serde(default)]
    pub conffiles: Vec<String>,
}

fn default_revision() -> String {
    "1".into()
}
fn default_architecture() -> String {
    "any".into()
}
fn default_section() -> String {
    "misc".into()
}
fn default_priority() -> String {
    "optional".into()
}

/// `[build]`: the command that installs into the staging directory.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BuildSection {
    /// Run with `sh -c` in the source tree; `{stage}` is replaced with the staging directory.
    pub command: String,
    /// Extra environment for the build command.
    #[serde(default)]
    pub env: BTreeMap<String, String>,
}

/// `[[file]]`: a file from the source tree installed at `path`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileEntry {
    /// The file in the source tree (relative to the manifest).
    pub source: PathBuf,
    /// Where it goes in the package (absolute).
    pub path: String,
    /// Octal mode, e.g. "0644" (default: the source file's).
    #[serde(default)]
    pub mode: Option<String>,
}

/// `[[attributes]]`: owner, group and mode for a staged path (and, with `recursive`, below it).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Attributes {
    /// The staged path these attributes apply to (absolute).
    pub path: String,
    /// Octal mode.
    #[serde(default)]
    pub mode: Option<String>,
    /// Owner name in the package.
    #[serde(default)]
    pub owner: Option<String>,
    /// Group name in the package.
    #[serde(default)]
    pub group: Option<String>,
    /// Numeric owner id.
    #[serde(default)]
    pub uid: Option<u64>,
    /// Numeric group id.
    #[serde(default)]
    pub gid: Option<u64>,
    /// Apply to everything below the path too.
    #[serde(default)]
    pub recursive: bool,
}

/// `[scripts]`: maintainer scripts (paths relative to the manifest). A `#DEBHELPER#` line is
/// replaced by the generated snippets, as debhelper does; without it the snippets are added
/// where debhelper would put them.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Scripts {
    /// preinst script (relative to the manifest).
    pub preinst: Option<PathBuf>,
    /// postinst script.
    pub postinst: Option<PathBuf>,
    /// prerm script.
    pub prerm: Option<PathBuf>,
    /// postrm script.
    pub postrm: Option<PathBuf>,
}

/// `[systemd]`: units and what to do with them, like dh_installsystemd.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct Systemd {
    /// Unit file names installed by the build under `/usr/lib/systemd/system` (or paths of
    /// unit files relative to the manifest, installed there).
    pub units: Vec<String>,
    /// Enable the units on install.
    #[serde(default = "yes")]
    pub enable: bool,
    /// Start the units on install.
    #[serde(default = "yes")]
    pub start: bool,
    /// Restart the units after an upgrade (rather than stop before it).
    #[serde(default = "yes")]
    pub restart_after_upgrade: bool,
}

fn yes() -> bool {
    true
}

impl Manifest {
    /// Read and validate `path`; errors name the file and, for syntax, the line.
    pub fn load(path: &Path) -> Result<Manifest, Error> {
        let text = std::fs::read_to_string(path).map_err(|source| Error::Read {
            path: path.to_path_buf(),
            source,
        })?;
        Manifest::parse(&text, path)
    }

    /// Parse manifest text; `path` is only used in messages.
    pub fn parse(text: &str, path: &Path) -> Result<Manifest, Error> {
        let manifest: Manifest = toml::from_str(text).map_err(|e| Error::Manifest {
            path: path.to_path_buf(),
            message: describe_toml_error(text, &e),
        })?;
        manifest.validate(path)?;
        Ok(manifest)
    }

    fn validate(&self, path: &Path) -> Result<(), Error> {
        let bad = |message: String| Error::Manifest {
            path: path.to_path_buf(),
            message,
        };
        cdkit_deb::policy::validate_package_name(&self.package.name)
            .map_err(|e| bad(e.to_string()))?;
        if self.package.summary.trim().is_empty() || self.package.summary.contains('\n') {
            return Err(bad("package.summary must be one non-empty line".into()));
        }
        // The version and relations are checked here, before the build, as debian/ mode
        // checks its own: dpkg-deb would refuse them only after the build command ran.
        crate::versioning::check_upstream(&self.package.version)
            .map_err(|e| bad(format!("package.version: {e}")))?;
        cdkit_deb::policy::Version::parse(&format!(
            "{}-{}",
            self.package.version, self.package.revision
        ))
        .map_err(|e| bad(format!("package.revision: {e}")))?;
        let arch = &self.package.architecture;
        if arch == "source"
            || arch.is_empty()
            || !arch
                .chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
        {
            return Err(bad(format!(
                "package.architecture {arch:?} is not any, all or a Debian architecture name"
            )));
        }
        let relations: [(&str, &Vec<String>); 8] = [
            ("depends", &self.package.depends),
            ("pre-depends", &self.package.pre_depends),
            ("recommends", &self.package.recommends),
            ("suggests", &self.package.suggests),
            ("conflicts", &self.package.conflicts),
            ("breaks", &self.package.breaks),
            ("replaces", &self.package.replaces),
            ("provides", &self.package.provides),
        ];
        for (key, entries) in relations {
            for entry in entries {
                cdkit_deb::policy::check_relations(
                    &format!("package.{key}"),
                    entry,
                    cdkit_deb::policy::RelationContext::Binary,
                )
                .map_err(|e| bad(e.to_string()))?;
            }
        }
        if !self.package.maintainer.contains('@') {
            return Err(bad(format!(
                "package.maintainer {:?} must be \"Name <email>\"",
                self.package.maintainer
            )));
        }
        for entry in &self.files {
            check_package_path(&entry.path)
                .map_err(|m| bad(format!("file {:?}: {m}", entry.path)))?;
            if let Some(mode) = &entry.mode {
                parse_mode(mode).map_err(|m| bad(format!("file {:?}: {m}", entry.path)))?;
            }
        }
        for attr in &self.attributes {
            check_package_path(&attr.path)
                .map_err(|m| bad(format!("attributes {:?}: {m}", attr.path)))?;
            if let Some(mode) = &attr.mode {
                parse_mode(mode).map_err(|m| bad(format!("attributes {:?}: {m}", attr.path)))?;
            }
        }
        for conffile in &self.package.conffiles {
            check_package_path(conffile).map_err(|m| bad(format!("conffile {conffile:?}: {m}")))?;
        }
        if let Some(systemd) = &self.systemd {
            for unit in &systemd.units {
                let name = unit.rsplit('/').next().unwrap_or(unit);
                let ok_suffix = [
                    ".service", ".socket", ".timer", ".path", ".target", ".mount",
                ]
                .iter()
                .any(|s| name.ends_with(s));
                if !ok_suffix || name.contains(char::is_whitespace) {
                    return Err(bad(format!(
                        "systemd unit {unit:?} is not a unit file name"
                    )));
                }
            }
        }
        Ok(())
    }
}

/// A file the manifest names in the source tree, with the key that names it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SourceFile {
    /// The manifest key, as a user would look it up: `package.copyright`, `file[2].source`.
    pub key: String,
    /// The path as written (relative to the manifest).
    pub path: PathBuf,
    /// Whether the build may create it (`[[file]]` sources: a compiled file the install
    /// command does not install); the others are part of the source tree.
    pub may_be_built: bool,
}

impl Manifest {
    /// Every file the manifest takes from the source tree.
    pub fn source_files(&self) -> Vec<SourceFile> {
        let tree = |key: String, path: &Path| SourceFile {
            key,
            path: path.to_path_buf(),
            may_be_built: false,
        };
        let mut out = vec![tree("package.copyright".into(), &self.package.copyright)];
        if let Some(changelog) = &self.package.changelog {
            out.push(tree("package.changelog".into(), changelog));
        }
        let scripts = [
            ("preinst", &self.scripts.preinst),
            ("postinst", &self.scripts.postinst),
            ("prerm", &self.scripts.prerm),
            ("postrm", &self.scripts.postrm),
        ];
        for (name, path) in scripts {
            if let Some(path) = path {
                out.push(tree(format!("scripts.{name}"), path));
            }
        }
        if let Some(systemd) = &self.systemd {
            // A bare unit name is one the build installs; a path is a file in the tree.
            for (i, unit) in systemd.units.iter().enumerate() {
                if unit.contains('/') {
                    out.push(tree(format!("systemd.units[{i}]"), Path::new(unit)));
                }
            }
        }
        for (i, file) in self.files.iter().enumerate() {
            out.push(SourceFile {
                key: format!("file[{i}].source"),
                path: file.source.clone(),
                may_be_built: true,
            });
        }
        out
    }

    /// The first named file missing from `root` (the source tree, or its build copy), or
    /// outside it unless `outside_ok`, as an error naming the key and the path under
    /// `shown_root` (the user's tree). With `before_build`, files the build may create are
    /// not required yet.
    pub fn check_source_files(
        &self,
        manifest_path: &Path,
        root: &Path,
        shown_root: &Path,
        before_build: bool,
        outside_ok: bool,
    ) -> Result<(), Error> {
        let refuse = |file: &SourceFile, problem: String| Error::Manifest {
            path: manifest_path.to_path_buf(),
            message: format!(
                "{} = {:?}: {problem}",
                file.key,
                file.path.display().to_string()
            ),
        };
        let leaves = |path: &Path| {
            path.components().any(|c| {
                !matches!(
                    c,
                    std::path::Component::Normal(_) | std::path::Component::CurDir
                )
            })
        };
        for file in self.source_files() {
            if !outside_ok && leaves(&file.path) {
                return Err(refuse(&file, "the path leaves the source tree (absolute or with ..); files come from the commit being built (--allow-outside-tree to take it anyway)".into()));
            }
            if before_build && file.may_be_built {
                continue;
            }
            let found = root.join(&file.path);
            if !outside_ok && found.exists() {
                let real = found.canonicalize().ok();
                let tree = root.canonicalize().ok();
                if let (Some(real), Some(tree)) = (real, tree) {
                    if !real.starts_with(&tree) {
                        return Err(refuse(&file, format!("a symlink to {}, outside the source tree (--allow-outside-tree to take it anyway)", real.display())));
                    }
                }
            }
            if found.is_file() {
                continue;
            }
            let what = if found.exists() {
                "is not a file"
            } else if file.may_be_built {
                "does not exist and the build did not create it"
            } else {
                "does not exist"
            };
            return Err(Error::Manifest {
                path: manifest_path.to_path_buf(),
                message: format!(
                    "{} = {:?}: {} {what}",
                    file.key,
                    file.path.display().to_string(),
                    shown_root.join(&file.path).display()
                ),
            });
        }
        Ok(())
    }
}

/// toml's message plus the offending line, so "the line is named" in one line of output.
fn describe_toml_error(text: &str, error: &toml::de::Error) -> String {
    let message = error.message().replace('\n', " ");
    match error.span() {
        Some(span) => {
            let line_no = text[..span.start.min(text.len())].matches('\n').count() + 1;
            let line = text.lines().nth(line_no - 1).unwrap_or("").trim();
            format!("line {line_no} ({line}): {message}")
        }
        None => message,
    }
}

/// An absolute package path without `..`, `.` components, NUL or control characters.
pub fn check_package_path(path: &str) -> Result<(), String> {
    if !path.starts_with('/') {
        return Err("must be an absolute path".into());
    }
    if path.chars().any(|c| c.is_control()) {
        return Err("contains control characters".into());
    }
    if path.split('/').any(|part| part == ".." || part == ".") {
        return Err("must not contain '.' or '..' components".into());
    }
    if path.len() > 4096 {
        return Err("is too long".into());
    }
    Ok(())
}

/// An octal mode like `0755` or `4755`.
pub fn parse_mode(text: &str) -> Result<u32, String> {
    u32::from_str_radix(text.trim_start_matches("0o"), 8)
        .ok()
        .filter(|m| *m <= 0o7777)
        .ok_or_else(|| format!("mode {text:?} is not an octal mode like 0644"))
}

#[cfg(test)]
mod tests {
    use super::*;

    const GOOD: &str = r#"
[package]
name = "legacy-make-app"
version = "2.3.1"
maintainer = "Ops <ops@example.com>"
summary = "A legacy app"
description = "Longer."
copyright = "COPYING"
depends = ["libc6"]

[build]
command = "make install DESTDIR={stage}"

[[attributes]]
path = "/var/lib/legacy-make-app"
mode = "0750"
group = "adm"

[systemd]
units = ["legacy-make-app.service"]
start = false
"#;

    #[test]
    fn a_good_manifest_parses_with_defaults() {
        let m = Manifest::parse(GOOD, Path::new("cdkit-deb.toml")).unwrap();
        assert_eq!(m.package.revision, "1");
        assert_eq!(m.package.section, "misc");
        assert_eq!(m.package.architecture, "any");
        let systemd = m.systemd.unwrap();
        assert!(systemd.enable && !systemd.start && systemd.restart_after_upgrade);
        assert_eq!(m.attributes[0].mode.as_deref(), Some("0750"));
    }

    #[test]
    fn an_unknown_key_names_its_line() {
        let text = GOOD
            .replace("section_typo", "x")
            .replace("depends = [\"libc6\"]", "dependz = [\"libc6\"]");
        let err = Manifest::parse(&text, Path::new("app/cdkit-deb.toml"))
            .unwrap_err()
            .to_string();
        assert!(err.contains("app/cdkit-deb.toml"), "{err}");
        assert!(err.contains("line 9"), "{err}");
        assert!(err.contains("dependz"), "{err}");
        assert!(!err.contains('\n'), "{err}");
    }

    #[test]
    fn missing_source_files_name_their_key_and_the_users_path() {
        let tree = tempfile::tempdir().unwrap();
        let t = tree.path();
        let text =
            format!("{GOOD}\n[[file]]\nsource = \"build/extra.conf\"\npath = \"/etc/x.conf\"\n");
        let m = Manifest::parse(&text, &t.join(FILE_NAME)).unwrap();
        let err = m
            .check_source_files(&t.join(FILE_NAME), t, Path::new("/home/u/app"), true, false)
            .unwrap_err()
            .to_string();
        assert!(
            err.ends_with("package.copyright = \"COPYING\": /home/u/app/COPYING does not exist"),
            "{err}"
        );
        std::fs::write(t.join("COPYING"), "text").unwrap();
        // Before the build, a [[file]] source may still be created by it.
        m.check_source_files(&t.join(FILE_NAME), t, Path::new("/home/u/app"), true, false)
            .unwrap();
        let err = m
            .check_source_files(
                &t.join(FILE_NAME),
                t,
                Path::new("/home/u/app"),
                false,
                false,
            )
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("file[0].source = \"build/extra.conf\": /home/u/app/build/extra.conf does not exist and the build did not create it"),
            "{err}"
        );
    }

    #[test]
    fn hostile_values_are_refused() {
        for (from, to) in [
            ("name = \"legacy-make-app\"", "name = \"Legacy_App\""),
            (
                "path = \"/var/lib/legacy-make-app\"",
                "path = \"/var/../etc/shadow\"",
            ),
            ("mode = \"0750\"", "mode = \"rwx\""),
            (
                "units = [\"legacy-make-app.service\"]",
                "units = [\"x; rm -rf /\"]",
            ),
            (
                "maintainer = \"Ops <ops@example.com>\"",
                "maintainer = \"nobody\"",
            ),
        ] {
            let text = GOOD.replace(from, to);
            assert!(Manifest::parse(&text, Path::new("m.toml")).is_err(), "{to}");
        }
    }
}
