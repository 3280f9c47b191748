//! Every exit path of build-deb leaves a schema-valid `--junit` report, and every non-zero
//! one says why in it. One table of real builds of a tiny manifest-mode tree (one file, no
//! compiler), each row committing the tree its path needs: a build (0), a build command that
//! fails (1), refused flags, manifests and trees (2). build-deb has no other exit: it takes
//! no lock and does not stop on a timeout.

use std::path::Path;

use cdkit_testkit::assert_exit_path;

mod common;

const MANIFEST: &str = r#"[package]
name = "tiny"
version = "1.0"
revision = "1"
architecture = "all"
maintainer = "cdkit developers <cdkit@example.com>"
summary = "one file, for the exit-path test"
description = "tiny installs one text file."
copyright = "COPYING"

[build]
command = "mkdir -p {stage}/usr/share/tiny && echo hello > {stage}/usr/share/tiny/greeting"
"#;

/// A fresh git tree holding `manifest` as cdkit-deb.toml (if any) and a COPYING file.
fn tree(root: &Path, name: &str, manifest: Option<&str>) -> std::path::PathBuf {
    let tree = root.join(name);
    std::fs::create_dir_all(&tree).unwrap();
    std::fs::write(tree.join("COPYING"), "Public domain.\n").unwrap();
    if let Some(manifest) = manifest {
        std::fs::write(tree.join("cdkit-deb.toml"), manifest).unwrap();
    }
    common::commit_at_fixed_time(&tree);
    tree
}

/// What a row checks, the name of its tree, the tree's manifest (none: no packaging at
/// all), flags after the tree, the exit status, words of the reason.
type Row<'a> = (
    &'a str,
    &'a str,
    Option<&'a str>,
    &'a [&'a str],
    i32,
    &'a str,
);

#[test]
fn every_exit_path_writes_a_valid_report_with_the_reason() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    let out = root.join("out");
    let report = root.join("reports/build-deb.xml");
    let failing = MANIFEST.replace("echo hello >", "false &&");
    let unknown_key = format!("{MANIFEST}colour = \"red\"\n");
    let rows: &[Row] = &[
        ("a build", "good", Some(MANIFEST), &[], 0, ""),
        (
            "a build command that fails",
            "failing",
            Some(&failing),
            &[],
            1,
            "build command failed",
        ),
        (
            "an unknown compression",
            "good2",
            Some(MANIFEST),
            &["--compression", "rar"],
            2,
            "--compression",
        ),
        (
            "a tree with no packaging",
            "bare",
            None,
            &[],
            2,
            "cdkit-deb.toml",
        ),
        (
            "a manifest with an unknown key",
            "unknown",
            Some(&unknown_key),
            &[],
            2,
            "colour",
        ),
    ];
    for (what, name, manifest, extra, exit, reason) in rows {
        let tree = tree(root, name, *manifest);
        let mut cmd = std::process::Command::new(common::BIN);
        cmd.arg(&tree)
            .arg("--out")
            .arg(&out)
            .arg("--junit")
            .arg(&report)
            .args(["--lintian", "off"])
            .args(*extra)
            .env("BUILD_NUMBER", "7")
            .env_remove("SOURCE_DATE_EPOCH")
            .env_remove("JUNIT_OUTPUT");
        assert_exit_path(what, cmd, &report, *exit, reason);
    }
}
