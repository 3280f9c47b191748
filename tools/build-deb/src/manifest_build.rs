//! Mode B: a tree with only a Makefile (or any install command) and a `cdkit-deb.toml`. The
//! build command installs into a staging directory inside a sandbox that makes everything
//! else read-only; build-deb then does what debhelper would (strip, docs, conffiles, systemd
//! snippets, ownership) and writes the .deb with cdkit's native writer.

use std::fs;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};

use cdkit::process::Command;
use cdkit_deb::{DataEntry, EntryKind, Package, Written};

use crate::dh;
use crate::error::{io, Error};
use crate::manifest::{self, Manifest};
use crate::options::BuildOptions;
use crate::sandbox::{self, Sandbox};
use crate::scripts;
use crate::tree;
use crate::variation::Variation;
use crate::versioning;

/// Where unit files go (the canonical location on Debian 12; lintian flags others).
const UNIT_DIR: &str = "/usr/lib/systemd/system";

/// The package a manifest build produced.
#[derive(Debug)]
pub struct ManifestBuild {
    pub name: String,
    pub version: String,
    pub written: Written,
}

/// Build into `out_dir` with the build command in `variation`'s environment (the
/// reproducibility check builds a second time elsewhere, varied).
pub fn build_into(
    opts: &BuildOptions,
    out_dir: &Path,
    variation: Variation,
) -> Result<ManifestBuild, Error> {
    let manifest_path = opts.source.join(manifest::FILE_NAME);
    let manifest = Manifest::load(&manifest_path)?;
    // A misspelt path is found now, not after a build of minutes, and named as the user
    // wrote it rather than in the temporary copy.
    manifest.check_source_files(
        &manifest_path,
        &opts.source,
        &opts.source,
        true,
        opts.allow_outside_tree,
    )?;
    let pkg = &manifest.package;
    let commit = versioning::head_commit(&opts.source);
    let version = versioning::build_version(
        &pkg.version,
        Some(&pkg.revision),
        opts.suffix,
        commit.as_ref(),
    )?;
    let epoch = versioning::source_date_epoch(commit.as_ref()).ok_or_else(|| {
        Error::Usage(format!(
            "{}: not a git checkout and SOURCE_DATE_EPOCH is not set; build-deb needs one of them for a reproducible package",
            opts.source.display()
        ))
    })?;
    let architecture = resolve_architecture(&pkg.architecture)?;

    let work = tempfile::Builder::new()
        .prefix("build-deb.")
        .tempdir()
        .map_err(io("create a temporary directory in", std::env::temp_dir()))?;
    let src = work.path().join("src");
    let stage = work.path().join("stage");
    let tmp = work.path().join("tmp");
    for dir in [&stage, &tmp] {
        fs::create_dir_all(dir).map_err(io("create", dir))?;
    }
    tree::copy_tree(
        &opts.source,
        &src,
        &[tree::absolute(&opts.out), tree::absolute(out_dir)],
    )?;

    if let Some(build) = &manifest.build {
        run_build_command(
            &build.command,
            &build.env,
            &src,
            &stage,
            &tmp,
            epoch,
            variation,
        )?;
    }
    manifest.check_source_files(
        &manifest_path,
        &src,
        &opts.source,
        false,
        opts.allow_outside_tree,
    )?;
    install_extra_files(&manifest, &src, &stage)?;
    let units = install_units(&manifest, &src, &stage)?;
    install_docs(&manifest, &src, &stage, version.as_str(), epoch)?;
    dh::drop_info_dir(&stage)?;
    dh::compress(&stage, &pkg.name)?;
    strip_binaries(&stage)?;

    let entries = collect_entries(&stage, &manifest)?;
    let conffiles = conffiles(&entries, &manifest)?;
    let snippets = match &manifest.systemd {
        Some(systemd) => scripts::systemd_snippets(systemd, &units),
        None => scripts::Snippets::default(),
    };
    let maintainer_scripts = scripts::assemble(&manifest, &src, &snippets)?;

    let file_name = format!(
        "{}_{}_{}.deb",
        pkg.name,
        version
            .as_str()
            .split_once(':')
            .map_or(version.as_str(), |(_, v)| v),
        architecture
    );
    let package = Package {
        control: control_fields(&manifest, version.as_str(), &architecture),
        conffiles,
        scripts: maintainer_scripts,
        entries,
        mtime: u64::try_from(epoch).unwrap_or(0),
        compression: opts.compression,
    };
    fs::create_dir_all(out_dir).map_err(io("create", out_dir))?;
    let written = cdkit_deb::write_deb(&package, &out_dir.join(file_name))?;
    Ok(ManifestBuild {
        name: pkg.name.clone(),
        version: version.to_string(),
        written,
    })
}

/// `any` means this machine's architecture, as dpkg names it.
/// The name itself was checked when the manifest was read ([`Manifest::load`]).
fn resolve_architecture(arch: &str) -> Result<String, Error> {
    if arch != "any" {
        return Ok(arch.to_string());
    }
    let mut out = String::new();
    let done = Command::new("dpkg")
        .arg("--print-architecture")
        .quiet()
        .run(|_, line| out.push_str(line.trim()))?;
    if !done.success() || out.is_empty() {
        return Err(Error::Usage("dpkg --print-architecture failed".into()));
    }
    Ok(out)
}

fn run_build_command(
    command: &str,
    env: &std::collections::BTreeMap<String, String>,
    src: &Path,
    stage: &Path,
    tmp: &Path,
    epoch: i64,
    variation: Variation,
) -> Result<(), Error> {
    let stage_text = stage.to_string_lossy();
    let quoted = format!("'{}'", stage_text.replace('\'', "'\\''"));
    let script = command.replace("{stage}", &quoted);
    let mut cmd = Sandbox::writable(&[src, stage, tmp])
        .command(&variation.argv(&["/bin/sh".into(), "-c".into(), script]))
        .env("NO_FAKE_STAT", "1")
        .current_dir(src)
        .env("LC_ALL", "C")
        .env("TMPDIR", tmp)
        .env("HOME", tmp)
        .env("SOURCE_DATE_EPOCH", epoch.to_string());
    for (name, value) in build_flags(src)? {
        if !env.contains_key(&name) {
            cmd = cmd.env(name, value);
        }
    }
    for (k, v) in env {
        cmd = cmd.env(k, v);
    }
    let mut output = String::new();
    let mut tail: Vec<String> = Vec::new();
    let done = cmd.run(|_, line| {
        if sandbox::is_write_failure(line) && output.len() < 64 * 1024 {
            output.push_str(line);
            output.push('\n');
        }
        if tail.len() == 10 {
            tail.remove(0);
        }
        tail.push(line.to_string());
    })?;
    let outside = if done.success() {
        sandbox::read_only_violation(&output)
    } else {
        sandbox::write_outside(&output, &[src, stage, tmp])
    };
    if let Some(path) = outside {
        return Err(Error::WroteOutsideStage { what: path });
    }
    if !done.success() {
        return Err(Error::BuildFailed {
            step: "the build command".into(),
            how: done.describe(),
            detail: tail.last().cloned().unwrap_or_default(),
        });
    }
    Ok(())
}

/// The compiler flags debhelper exports (dpkg-buildflags): hardening, and
/// `-ffile-prefix-map`, without which the temporary build path ends up in the binaries and
/// two builds of one commit differ.
fn build_flags(src: &Path) -> Result<Vec<(String, String)>, Error> {
    let mut flags = Vec::new();
    for name in ["CFLAGS", "CXXFLAGS", "CPPFLAGS", "LDFLAGS"] {
        let mut value = String::new();
        let done = Command::new("dpkg-buildflags")
            .args(["--get", name])
            .current_dir(src)
            .quiet()
            .run(|stream, line| {
                if stream == cdkit::process::Stream::Stdout {
                    value.push_str(line.trim());
                }
            })?;
        if !done.success() {
            return Err(Error::Usage(format!(
                "dpkg-buildflags --get {name} failed ({})",
                done.describe()
            )));
        }
        flags.push((name.to_string(), value));
    }
    Ok(flags)
}

/// `stage` + an absolute package path.
fn staged(stage: &Path, path: &str) -> PathBuf {
    stage.join(path.trim_start_matches('/'))
}

fn install_extra_files(manifest: &Manifest, src: &Path, stage: &Path) -> Result<(), Error> {
    for file in &manifest.files {
        let from = src.join(&file.source);
        let to = staged(stage, &file.path);
        if let Some(parent) = to.parent() {
            fs::create_dir_all(parent).map_err(io("create", parent))?;
        }
        fs::copy(&from, &to).map_err(io("copy", &from))?;
        if let Some(mode) = &file.mode {
            let mode = manifest::parse_mode(mode).map_err(Error::Usage)?;
            fs::set_permissions(&to, fs::Permissions::from_mode(mode)).map_err(io("chmod", &to))?;
        }
    }
    Ok(())
}

/// Unit files named in `[systemd]`: found in the stage (installed by the build), or copied
/// from the source tree into the canonical unit directory. Returns their file names.
fn install_units(manifest: &Manifest, src: &Path, stage: &Path) -> Result<Vec<String>, Error> {
    let Some(systemd) = &manifest.systemd else {
        return Ok(Vec::new());
    };
    let mut names = Vec::new();
    for unit in &systemd.units {
        let name = unit.rsplit('/').next().unwrap_or(unit).to_string();
        let canonical = staged(stage, &format!("{UNIT_DIR}/{name}"));
        if unit.contains('/') {
            let from = src.join(unit);
            fs::create_dir_all(staged(stage, UNIT_DIR)).map_err(io("create", stage))?;
            fs::copy(&from, &canonical).map_err(io("copy", &from))?;
        } else if !canonical.exists()
            && !staged(stage, &format!("/lib/systemd/system/{name}")).exists()
        {
            return Err(Error::Manifest {
                path: src.join(manifest::FILE_NAME),
                message: format!(
                    "systemd unit {name} was not installed by the build (looked in {UNIT_DIR} and /lib/systemd/system); give its path in the source tree instead"
                ),
            });
        }
        names.push(name);
    }
    Ok(names)
}

/// copyright and the changelog under /usr/share/doc/NAME, as Policy §12.5/§12.7 ask.
fn install_docs(
    manifest: &Manifest,
    src: &Path,
    stage: &Path,
    version: &str,
    epoch: i64,
) -> Result<(), Error> {
    let pkg = &manifest.package;
    let doc = staged(stage, &format!("/usr/share/doc/{}", pkg.name));
    fs::create_dir_all(&doc).map_err(io("create", &doc))?;
    let copyright = src.join(&pkg.copyright);
    fs::copy(&copyright, doc.join("copyright")).map_err(io("copy", &copyright))?;
    let changelog = match &pkg.changelog {
        Some(rel) => {
            let path = src.join(rel);
            fs::read(&path).map_err(io("read", &path))?
        }
        None => generated_changelog(manifest, version, epoch).into_bytes(),
    };
    // A package with a Debian revision is "non-native": its changelog is changelog.Debian.gz.
    let name = if version.contains('-') {
        "changelog.Debian.gz"
    } else {
        "changelog.gz"
    };
    dh::write_gzip(&doc.join(name), &changelog)
}

fn generated_changelog(manifest: &Manifest, version: &str, epoch: i64) -> String {
    let when = chrono::DateTime::from_timestamp(epoch, 0).unwrap_or_default();
    format!(
        "{} ({version}) unstable; urgency=medium\n\n  * Built by build-deb from {}.\n\n -- {}  {}\n",
        manifest.package.name,
        manifest::FILE_NAME,
        manifest.package.maintainer,
        when.format("%a, %d %b %Y %H:%M:%S +0000")
    )
}

/// Strip ELF files as dh_strip does (debug symbols and .comment/.note sections removed).
fn strip_binaries(stage: &Path) -> Result<(), Error> {
    for entry in walkdir::WalkDir::new(stage).sort_by_file_name() {
        let Ok(entry) = entry else { continue };
        if !entry.file_type().is_file() || !is_elf(entry.path()) {
            continue;
        }
        let shared = entry.file_name().to_string_lossy().contains(".so");
        let mut cmd =
            Command::new("strip").args(["--remove-section=.comment", "--remove-section=.note"]);
        if shared {
            cmd = cmd.arg("--strip-unneeded");
        }
        let done = cmd.arg(entry.path()).quiet().run(|_, _| {})?;
        if !done.success() {
            return Err(Error::BuildFailed {
                step: "strip".into(),
                how: done.describe(),
                detail: entry.path().display().to_string(),
            });
        }
    }
    Ok(())
}

fn is_elf(path: &Path) -> bool {
    let mut magic = [0u8; 4];
    fs::File::open(path)
        .and_then(|mut f| std::io::Read::read_exact(&mut f, &mut magic))
        .is_ok()
        && magic == *b"\x7fELF"
}

/// Every staged path as a package entry: root:root, the modes dh_fixperms would leave
/// ([`dh::package_mode`]), then the manifest's `[[attributes]]` applied.
fn collect_entries(stage: &Path, manifest: &Manifest) -> Result<Vec<DataEntry>, Error> {
    let mut entries = Vec::new();
    for entry in walkdir::WalkDir::new(stage)
        .follow_links(false)
        .sort_by_file_name()
    {
        let entry = entry.map_err(crate::error::walk(stage))?;
        let rel = entry.path().strip_prefix(stage).unwrap_or(entry.path());
        if rel.as_os_str().is_empty() {
            continue;
        }
        let path = format!("/{}", rel.to_string_lossy());
        manifest::check_package_path(&path)
            .map_err(|m| Error::Usage(format!("staged file {path:?} {m}")))?;
        let meta = entry
            .path()
            .symlink_metadata()
            .map_err(io("read", entry.path()))?;
        let (kind, mode) = if meta.file_type().is_symlink() {
            let target = fs::read_link(entry.path()).map_err(io("read", entry.path()))?;
            (
                EntryKind::Symlink {
                    target: target.to_string_lossy().into_owned(),
                },
                0o777,
            )
        } else if meta.is_dir() {
            (EntryKind::Dir, dh::package_mode(&path, true, meta.mode()))
        } else {
            (
                EntryKind::File {
                    source: entry.path().to_path_buf(),
                },
                dh::package_mode(&path, false, meta.mode()),
            )
        };
        entries.push(DataEntry {
            path,
            kind,
            mode,
            owner: "root".into(),
            group: "root".into(),
            uid: 0,
            gid: 0,
        });
    }
    apply_attributes(&mut entries, manifest)?;
    Ok(entries)
}

fn apply_attributes(entries: &mut [DataEntry], manifest: &Manifest) -> Result<(), Error> {
    for attr in &manifest.attributes {
        let prefix = format!("{}/", attr.path.trim_end_matches('/'));
        let mut matched = false;
        for entry in entries.iter_mut() {
            let hit =
                entry.path == attr.path || (attr.recursive && entry.path.starts_with(&prefix));
            if !hit {
                continue;
            }
            matched = true;
            if let Some(mode) = &attr.mode {
                entry.mode = manifest::parse_mode(mode).map_err(Error::Usage)?;
            }
            if let Some(owner) = &attr.owner {
                entry.owner = owner.clone();
            }
            if let Some(group) = &attr.group {
                entry.group = group.clone();
            }
            if let Some(uid) = attr.uid {
                entry.uid = uid;
            }
            if let Some(gid) = attr.gid {
                entry.gid = gid;
            }
        }
        if !matched {
            return Err(Error::Usage(format!(
                "attributes for {} match nothing the build installed",
                attr.path
            )));
        }
    }
    Ok(())
}

/// Every regular file under /etc, plus the manifest's extra conffiles (which must exist).
fn conffiles(entries: &[DataEntry], manifest: &Manifest) -> Result<Vec<String>, Error> {
    let files: Vec<&str> = entries
        .iter()
        .filter(|e| matches!(e.kind, EntryKind::File { .. }))
        .map(|e| e.path.as_str())
        .collect();
    let mut list: Vec<String> = files
        .iter()
        .filter(|p| p.starts_with("/etc/"))
        .map(|p| p.to_string())
        .collect();
    for extra in &manifest.package.conffiles {
        if !files.contains(&extra.as_str()) {
            return Err(Error::Usage(format!(
                "conffile {extra} is not a file in the package"
            )));
        }
        if !list.contains(extra) {
            list.push(extra.clone());
        }
    }
    list.sort();
    Ok(list)
}

/// The control fields in Policy's usual order.
fn control_fields(manifest: &Manifest, version: &str, architecture: &str) -> Vec<(String, String)> {
    let pkg = &manifest.package;
    let mut fields = vec![
        ("Package".to_string(), pkg.name.clone()),
        ("Version".to_string(), version.to_string()),
        ("Architecture".to_string(), architecture.to_string()),
        ("Maintainer".to_string(), pkg.maintainer.clone()),
    ];
    let relations = [
        ("Pre-Depends", &pkg.pre_depends),
        ("Depends", &pkg.depends),
        ("Recommends", &pkg.recommends),
        ("Suggests", &pkg.suggests),
        ("Breaks", &pkg.breaks),
        ("Conflicts", &pkg.conflicts),
        ("Replaces", &pkg.replaces),
        ("Provides", &pkg.provides),
    ];
    for (name, list) in relations {
        if !list.is_empty() {
            fields.push((name.to_string(), list.join(", ")));
        }
    }
    fields.push(("Section".into(), pkg.section.clone()));
    fields.push(("Priority".into(), pkg.priority.clone()));
    if let Some(homepage) = &pkg.homepage {
        fields.push(("Homepage".into(), homepage.clone()));
    }
    fields.push((
        "Description".into(),
        description(&pkg.summary, &pkg.description),
    ));
    fields
}

/// Summary line, then the long description with blank lines as `.` (the writer indents).
fn description(summary: &str, long: &str) -> String {
    let mut text = summary.trim().to_string();
    let long = long.trim();
    if !long.is_empty() {
        for line in long.lines() {
            text.push('\n');
            text.push_str(if line.trim().is_empty() {
                "."
            } else {
                line.trim_end()
            });
        }
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn descriptions_keep_paragraphs() {
        assert_eq!(description("Sum", "One.\n\nTwo."), "Sum\nOne.\n.\nTwo.");
        assert_eq!(description(" Sum ", ""), "Sum");
    }
}
