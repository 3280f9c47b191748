//! The .deb writer checked with the real tools: dpkg-deb reads every compression, dpkg
//! installs into a scratch root and `dpkg --verify` agrees with our md5sums, dpkg-deb builds
//! the same data.tar from the same tree, dpkg-gencontrol computes the same Installed-Size,
//! and lintian finds no errors. Missing tools fail the tests (CI installs dpkg-dev and
//! lintian), they never skip.

use std::fs;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::process::Command;

use cdkit_deb::{
    write_deb, write_deb_with, Compression, DataEntry, DebError, EntryKind, Package, WriteOptions,
    Written,
};

const MTIME: u64 = 1_767_225_600; // 2026-01-01T00:00:00Z

// ---------------------------------------------------------------------------------------
// helpers

/// Run a program, fail the test with its stderr if it fails, return its stdout.
fn run(program: &str, args: &[&str]) -> String {
    run_in(program, args, None)
}

fn run_in(program: &str, args: &[&str], cwd: Option<&Path>) -> String {
    let mut cmd = Command::new(program);
    // dpkg-deb --contents prints local times; the expectations are in UTC.
    cmd.args(args).env("TZ", "UTC");
    if let Some(dir) = cwd {
        cmd.current_dir(dir);
    }
    let out = cmd
        .output()
        .unwrap_or_else(|e| panic!("cannot run {program} (install dpkg-dev/lintian): {e}"));
    assert!(
        out.status.success(),
        "{program} {args:?} failed ({}):\n{}\n{}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// A shell pipeline with `pipefail`.
fn pipeline(script: &str) -> String {
    run("bash", &["-c", &format!("set -euo pipefail; {script}")])
}

/// Deterministic compressible text: pseudo-random words from a small vocabulary.
fn text(len: usize, seed: u32) -> Vec<u8> {
    const WORDS: [&str; 12] = [
        "deploy ", "package ", "debian ", "server ", "rollout ", "health ", "check\n", "bar ",
        "jenkins ", "install ", "restore ", "42 ",
    ];
    let mut x = seed.wrapping_mul(2_654_435_761).wrapping_add(1);
    let mut out = Vec::with_capacity(len + 16);
    while out.len() < len {
        x = x.wrapping_mul(1_103_515_245).wrapping_add(12_345);
        out.extend_from_slice(WORDS[(x >> 16) as usize % WORDS.len()].as_bytes());
    }
    out.truncate(len);
    out
}

fn write_source(dir: &Path, name: &str, content: &[u8]) -> PathBuf {
    let path = dir.join(name);
    fs::create_dir_all(path.parent().unwrap()).unwrap();
    fs::write(&path, content).unwrap();
    path
}

fn control(name: &str) -> Vec<(String, String)> {
    [
        ("Package", name),
        ("Version", "1.0"),
        ("Architecture", "all"),
        ("Maintainer", "Ops Team <ops@example.com>"),
        ("Section", "misc"),
        ("Priority", "optional"),
        (
            "Description",
            "greets the team after every deployment\n\
             hello-cd prints a greeting. It exists to exercise cdkit's package\n\
             writer with files, symlinks, owners and conffiles.\n\
             \n\
             It has a second paragraph.",
        ),
    ]
    .iter()
    .map(|(a, b)| (a.to_string(), b.to_string()))
    .collect()
}

/// A 150-byte absolute package path (GNU long-name records needed).
fn long_path() -> String {
    let prefix = "/usr/share/hello-cd/";
    let dir = format!("{prefix}{}/", "d".repeat(60));
    let file = "f".repeat(150 - dir.len());
    let path = format!("{dir}{file}");
    assert_eq!(path.len(), 150);
    path
}

fn long_target() -> String {
    format!("/usr/share/hello-cd/{}/target", "t".repeat(100))
}

/// The package most tests use: every entry kind, a setuid file, a non-root owner, a
/// conffile, long names, a multi-block file, an empty file and a postinst.
fn sample(src: &Path, compression: Compression) -> Package {
    let hello = write_source(src, "hello", b"#!/bin/sh\necho hello\n");
    let su = write_source(src, "su", b"#!/bin/sh\nid\n");
    let conf = write_source(src, "hello.conf", b"greeting = hello\n");
    let big = write_source(src, "big", &text(3 * 1024 * 1024 + 777, 1));
    let state = write_source(src, "state", b"0\n");
    let empty = write_source(src, "empty", b"");
    let long = write_source(src, "long", b"long name\n");
    let postinst =
        b"#!/bin/sh\nset -e\ntouch \"$DPKG_ROOT/var/lib/hello-cd/postinst-ran\"\n".to_vec();
    Package {
        control: control("hello-cd"),
        conffiles: vec!["/etc/hello-cd/hello.conf".into()],
        scripts: vec![("postinst".into(), postinst)],
        entries: vec![
            // Deliberately unsorted, parents missing.
            DataEntry::file(long_path(), &long, 0o644),
            DataEntry::symlink("/usr/bin/hello-link", "hello-cd"),
            DataEntry::file("/usr/bin/hello-cd", &hello, 0o755),
            DataEntry::file("/usr/bin/hello-su", &su, 0o4755),
            DataEntry::file("/etc/hello-cd/hello.conf", &conf, 0o644),
            DataEntry::file("/usr/lib/hello-cd/big.dat", &big, 0o644),
            DataEntry::file("/usr/share/hello-cd/empty", &empty, 0o644),
            DataEntry::symlink("/usr/share/hello-cd/long-link", long_target()),
            DataEntry::dir("/var/lib/hello-cd", 0o750).owned_by("daemon", 1, "daemon", 1),
            DataEntry::file("/var/lib/hello-cd/state", &state, 0o640)
                .owned_by("daemon", 1, "daemon", 1),
        ],
        mtime: MTIME,
        compression,
    }
}

/// The data.tar names the sample must have, in order.
fn sample_names() -> Vec<String> {
    let long = long_path();
    let long_dir = &long[..long.rfind('/').unwrap() + 1];
    [
        "./",
        "./etc/",
        "./etc/hello-cd/",
        "./etc/hello-cd/hello.conf",
        "./usr/",
        "./usr/bin/",
        "./usr/bin/hello-cd",
        "./usr/bin/hello-link",
        "./usr/bin/hello-su",
        "./usr/lib/",
        "./usr/lib/hello-cd/",
        "./usr/lib/hello-cd/big.dat",
        "./usr/share/",
        "./usr/share/hello-cd/",
        &format!(".{long_dir}"),
        &format!(".{long}"),
        "./usr/share/hello-cd/empty",
        "./usr/share/hello-cd/long-link",
        "./var/",
        "./var/lib/",
        "./var/lib/hello-cd/",
        "./var/lib/hello-cd/state",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect()
}

/// The raw ar member headers: (name, mtime, uid, gid, mode, size).
fn ar_members(deb: &Path) -> Vec<(String, u64, u32, u32, u32, u64)> {
    let mut archive = ar::Archive::new(fs::File::open(deb).unwrap());
    let mut out = Vec::new();
    while let Some(entry) = archive.next_entry() {
        let entry = entry.unwrap();
        let h = entry.header();
        out.push((
            String::from_utf8(h.identifier().to_vec()).unwrap(),
            h.mtime(),
            h.uid(),
            h.gid(),
            h.mode(),
            h.size(),
        ));
    }
    assert_eq!(archive.variant(), ar::Variant::Common);
    out
}

/// A scratch dpkg root as the brief describes it.
fn scratch_root(parent: &Path) -> PathBuf {
    let root = parent.join("root");
    fs::create_dir_all(root.join("var/lib/dpkg/info")).unwrap();
    fs::create_dir_all(root.join("var/lib/dpkg/updates")).unwrap();
    fs::write(root.join("var/lib/dpkg/status"), "").unwrap();
    root
}

fn install(root: &Path, deb: &Path) {
    run(
        "dpkg",
        &[
            &format!("--root={}", root.display()),
            "--force-script-chrootless",
            "--log=/dev/null",
            "-i",
            deb.to_str().unwrap(),
        ],
    );
}

// ---------------------------------------------------------------------------------------
// layout, install and verify, for each compression

fn check_with_dpkg(compression: Compression) {
    let tmp = tempfile::tempdir().unwrap();
    let src = tmp.path().join("src");
    let pkg = sample(&src, compression);
    let deb = tmp.path().join("out/hello-cd_1.0_all.deb");
    let written = write_deb(&pkg, &deb).unwrap();
    let d = deb.to_str().unwrap();

    // What write_deb reports is what is on disk.
    let bytes = fs::read(&deb).unwrap();
    assert_eq!(written.size, bytes.len() as u64);
    let sha = pipeline(&format!("sha256sum {d} | cut -d' ' -f1"));
    assert_eq!(written.sha256, sha.trim());
    assert_eq!(written.files, 7);
    assert_eq!(written.entries, sample_names().len());
    assert_eq!(
        fs::metadata(&deb).unwrap().permissions().mode() & 0o777,
        0o644
    );

    // ar: three members, dpkg's names, our mtime, root, 100644.
    let data_member = compression.data_member_name();
    let members = ar_members(&deb);
    let names: Vec<&str> = members.iter().map(|m| m.0.as_str()).collect();
    assert_eq!(
        names,
        ["debian-binary", "control.tar.gz", data_member.as_str()]
    );
    for (name, mtime, uid, gid, mode, _) in &members {
        assert_eq!(
            (*mtime, *uid, *gid, *mode),
            (MTIME, 0, 0, 0o100644),
            "{name}"
        );
    }
    assert!(bytes.starts_with(b"!<arch>\ndebian-binary   "));
    assert_eq!(&bytes[68..72], b"2.0\n");

    // dpkg-deb --info: fields, Installed-Size after Architecture, multi-line Description.
    let info = run("dpkg-deb", &["--info", d]);
    assert!(info.contains(" Package: hello-cd\n"), "{info}");
    assert!(
        info.contains(&format!(
            " Architecture: all\n Installed-Size: {}\n Maintainer:",
            written.installed_size_kib
        )),
        "{info}"
    );
    assert!(
        info.contains(" Description: greets the team after every deployment\n  hello-cd prints"),
        "{info}"
    );
    assert!(
        info.contains("\n  .\n  It has a second paragraph.\n"),
        "{info}"
    );
    for member in ["control", "md5sums", "conffiles", "postinst"] {
        assert!(
            info.contains(&format!(" {member} ")),
            "{member} missing in\n{info}"
        );
    }
    let size_field = run("dpkg-deb", &["-f", d, "Installed-Size"]);
    assert_eq!(size_field.trim(), written.installed_size_kib.to_string());
    // Installed-Size by hand: 13 directories (with ./), files 1+1+1+3073+1+0+1 KiB,
    // symlinks 1+1.
    assert_eq!(
        written.installed_size_kib,
        13 + (1 + 1 + 1 + 3073 + 1 + 1) + 2
    );

    // control.tar: ./ then members sorted, root:root, 0644 / 0755 for the script.
    let ctrl = pipeline(&format!(
        "dpkg-deb --ctrl-tarfile {d} | tar -tv --numeric-owner"
    ));
    let ctrl_lines: Vec<(String, String, String)> = ctrl
        .lines()
        .map(|l| {
            let f: Vec<&str> = l.split_whitespace().collect();
            (f[0].to_string(), f[1].to_string(), f[5].to_string())
        })
        .collect();
    let want: Vec<(String, String, String)> = [
        ("drwxr-xr-x", "0/0", "./"),
        ("-rw-r--r--", "0/0", "./conffiles"),
        ("-rw-r--r--", "0/0", "./control"),
        ("-rw-r--r--", "0/0", "./md5sums"),
        ("-rwxr-xr-x", "0/0", "./postinst"),
    ]
    .iter()
    .map(|(a, b, c)| (a.to_string(), b.to_string(), c.to_string()))
    .collect();
    assert_eq!(ctrl_lines, want, "{ctrl}");
    let conffiles = pipeline(&format!(
        "dpkg-deb --ctrl-tarfile {d} | tar -xO ./conffiles"
    ));
    assert_eq!(conffiles, "/etc/hello-cd/hello.conf\n");

    // md5sums: hex, two spaces, no leading slash, data.tar order, regular files only.
    let md5sums = pipeline(&format!("dpkg-deb --ctrl-tarfile {d} | tar -xO ./md5sums"));
    let listed: Vec<&str> = md5sums.lines().map(|l| &l[34..]).collect();
    let files: Vec<String> = sample_names()
        .into_iter()
        .filter(|n| !n.ends_with('/') && !n.contains("link"))
        .map(|n| n[2..].to_string())
        .collect();
    assert_eq!(listed, files);
    for line in md5sums.lines() {
        assert!(
            line.as_bytes()[..32]
                .iter()
                .all(|b| b"0123456789abcdef".contains(b)),
            "{line}"
        );
        assert_eq!(&line[32..34], "  ");
    }

    // data.tar: the exact names in order, via dpkg-deb and GNU tar.
    let names = pipeline(&format!("dpkg-deb --fsys-tarfile {d} | tar -t"));
    assert_eq!(names.lines().collect::<Vec<_>>(), sample_names());

    // dpkg-deb --contents: modes, owner names, symlinks, mtime.
    let contents = run("dpkg-deb", &["--contents", d]);
    let line_for = |name: &str| -> String {
        contents
            .lines()
            .find(|l| l.split_whitespace().nth(5) == Some(name))
            .unwrap_or_else(|| panic!("{name} not in\n{contents}"))
            .to_string()
    };
    assert!(line_for("./usr/bin/hello-su").starts_with("-rwsr-xr-x root/root "));
    assert!(line_for("./var/lib/hello-cd/").starts_with("drwxr-x--- daemon/daemon "));
    assert!(line_for("./var/lib/hello-cd/state").starts_with("-rw-r----- daemon/daemon "));
    assert!(line_for("./usr/bin/hello-link").ends_with(" -> hello-cd"));
    assert!(line_for("./usr/bin/hello-link").starts_with("lrwxrwxrwx root/root "));
    assert!(line_for("./usr/share/hello-cd/long-link").ends_with(&format!(" -> {}", long_target())));
    assert!(line_for(&format!(".{}", long_path())).contains(" 10 2026-01-01 00:00 "));
    assert!(
        contents.lines().all(|l| l.contains(" 2026-01-01 00:00 ")),
        "{contents}"
    );
    let numeric = pipeline(&format!(
        "dpkg-deb --fsys-tarfile {d} | tar -tv --numeric-owner ./var/lib/hello-cd/state"
    ));
    assert!(numeric.starts_with("-rw-r----- 1/1 "), "{numeric}");

    // Install into a scratch root: dpkg accepts it, the postinst ran, and dpkg --verify
    // (md5sums against the files) finds nothing.
    let root = scratch_root(tmp.path());
    install(&root, &deb);
    let r = format!("--root={}", root.display());
    let verify = run("dpkg", &[&r, "--verify", "hello-cd"]);
    assert_eq!(verify, "", "dpkg --verify complained");
    assert!(root.join("var/lib/hello-cd/postinst-ran").exists());
    let su = fs::metadata(root.join("usr/bin/hello-su")).unwrap();
    assert_eq!(su.permissions().mode() & 0o7777, 0o4755);
    let state = fs::metadata(root.join("var/lib/hello-cd/state")).unwrap();
    assert_eq!(
        (state.uid(), state.gid(), state.mode() & 0o777),
        (1, 1, 0o640)
    );
    assert_eq!(
        fs::read_link(root.join("usr/bin/hello-link")).unwrap(),
        PathBuf::from("hello-cd")
    );
    assert_eq!(
        fs::read(root.join(&long_path()[1..])).unwrap(),
        b"long name\n"
    );
    assert_eq!(
        fs::read(root.join("usr/lib/hello-cd/big.dat")).unwrap(),
        text(3 * 1024 * 1024 + 777, 1)
    );
    let status = run("dpkg", &[&r, "-s", "hello-cd"]);
    assert!(status.contains("Status: install ok installed"), "{status}");
    assert!(
        status.contains("Conffiles:\n /etc/hello-cd/hello.conf "),
        "{status}"
    );
}

#[test]
fn gzip_package_is_read_installed_and_verified_by_dpkg() {
    check_with_dpkg(Compression::Gzip(6));
}

#[test]
fn xz_package_is_read_installed_and_verified_by_dpkg() {
    check_with_dpkg(Compression::Xz(1));
}

#[test]
fn zstd_package_is_read_installed_and_verified_by_dpkg() {
    check_with_dpkg(Compression::Zstd(3));
}

#[test]
fn uncompressed_package_is_read_installed_and_verified_by_dpkg() {
    check_with_dpkg(Compression::None);
}

// ---------------------------------------------------------------------------------------
// agreement with dpkg-deb and dpkg-gencontrol

/// A tree on disk with dirs, modes, an empty file, a long path and a symlink.
fn disk_tree(root: &Path) {
    write_source(root, "usr/bin/tool", b"#!/bin/sh\n");
    fs::set_permissions(root.join("usr/bin/tool"), fs::Permissions::from_mode(0o755)).unwrap();
    write_source(root, "usr/share/doc/tool/README", &text(5000, 2));
    write_source(root, "usr/share/tool/empty", b"");
    write_source(root, "usr/share/tool/b-sorted-after-a", b"b");
    write_source(root, "usr/share/tool-extra/x", b"x");
    write_source(root, &long_path()[1..], b"long");
    write_source(root, "etc/tool/tool.conf", b"a=1\n");
    fs::set_permissions(
        root.join("etc/tool/tool.conf"),
        fs::Permissions::from_mode(0o600),
    )
    .unwrap();
    for dir in [
        "",
        "usr",
        "usr/bin",
        "usr/share",
        "usr/share/doc",
        "usr/share/doc/tool",
    ] {
        fs::set_permissions(root.join(dir), fs::Permissions::from_mode(0o755)).unwrap();
    }
}

/// The entries `dpkg-deb --build --root-owner-group` would take from `tree`.
fn entries_of(tree: &Path) -> Vec<DataEntry> {
    let mut out = Vec::new();
    for item in walkdir::WalkDir::new(tree).min_depth(1) {
        let item = item.unwrap();
        let rel = item.path().strip_prefix(tree).unwrap().to_str().unwrap();
        if rel.starts_with("DEBIAN") {
            continue;
        }
        let path = format!("/{rel}");
        let meta = item.path().symlink_metadata().unwrap();
        let mode = meta.permissions().mode() & 0o7777;
        if meta.file_type().is_symlink() {
            let target = fs::read_link(item.path()).unwrap();
            out.push(DataEntry::symlink(path, target.to_str().unwrap()));
        } else if meta.is_dir() {
            out.push(DataEntry::dir(path, mode));
        } else {
            out.push(DataEntry::file(path, item.path(), mode));
        }
    }
    out
}

/// The package of `tree` written twice into `dir`: `ours.deb` by the writer (with
/// `compression`), then `theirs.deb` by `dpkg-deb --build --root-owner-group` with
/// `dpkg_flags` and the same control fields and mtime, for the tests that compare the two.
fn ours_and_dpkg_debs(
    dir: &Path,
    tree: &Path,
    compression: Compression,
    dpkg_flags: &[&str],
) -> (Written, PathBuf, PathBuf) {
    let ours = dir.join("ours.deb");
    let pkg = Package {
        control: control("tool"),
        conffiles: vec![],
        scripts: vec![],
        entries: entries_of(tree),
        mtime: MTIME,
        compression,
    };
    let written = write_deb(&pkg, &ours).unwrap();
    // After the entries were taken: DEBIAN/ is dpkg-deb's input, not the package's payload.
    fs::create_dir_all(tree.join("DEBIAN")).unwrap();
    fs::write(
        tree.join("DEBIAN/control"),
        cdkit_deb::control_text(&control("tool")),
    )
    .unwrap();
    let theirs = dir.join("theirs.deb");
    let out = Command::new("dpkg-deb")
        .args(["--build", "--root-owner-group"])
        .args(dpkg_flags)
        .arg(tree)
        .arg(&theirs)
        .env("SOURCE_DATE_EPOCH", MTIME.to_string())
        .output()
        .unwrap_or_else(|e| panic!("cannot run dpkg-deb (install dpkg-dev): {e}"));
    assert!(
        out.status.success(),
        "dpkg-deb --build {dpkg_flags:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    (written, ours, theirs)
}

#[test]
fn data_tar_is_byte_identical_to_dpkg_deb_for_the_same_tree() {
    let tmp = tempfile::tempdir().unwrap();
    let tree = tmp.path().join("tree");
    disk_tree(&tree);
    fs::set_permissions(&tree, fs::Permissions::from_mode(0o755)).unwrap();
    let (written, ours, theirs) =
        ours_and_dpkg_debs(tmp.path(), &tree, Compression::Xz(6), &["-Zxz", "-z6"]);
    let tar_of = |deb: &Path| {
        Command::new("dpkg-deb")
            .arg("--fsys-tarfile")
            .arg(deb)
            .output()
            .unwrap()
            .stdout
    };
    let (a, b) = (tar_of(&ours), tar_of(&theirs));
    assert!(!a.is_empty());
    assert!(
        a == b,
        "data.tar differs from dpkg-deb's ({} vs {} bytes)",
        a.len(),
        b.len()
    );
    // The ar framing is the same too (member names, mtimes, owners, modes).
    let strip_sizes =
        |m: Vec<(String, u64, u32, u32, u32, u64)>| -> Vec<(String, u64, u32, u32, u32)> {
            m.into_iter()
                .map(|(n, t, u, g, mo, _)| (n, t, u, g, mo))
                .collect()
        };
    // dpkg-deb compresses control.tar like data.tar; we always use gzip (see the module doc).
    let (mut a, mut b) = (
        strip_sizes(ar_members(&ours)),
        strip_sizes(ar_members(&theirs)),
    );
    assert_eq!(a.remove(1).0, "control.tar.gz");
    assert_eq!(b.remove(1).0, "control.tar.xz");
    assert_eq!(a, b);
    assert!(written.size > 0);
}

#[test]
fn symlinks_list_like_dpkg_deb_apart_from_its_symlinks_last_order() {
    let tmp = tempfile::tempdir().unwrap();
    let tree = tmp.path().join("tree");
    disk_tree(&tree);
    std::os::unix::fs::symlink("tool", tree.join("usr/bin/tool-alias")).unwrap();
    std::os::unix::fs::symlink("/etc/tool/tool.conf", tree.join("usr/share/tool/conf")).unwrap();
    let (_, ours, theirs) =
        ours_and_dpkg_debs(tmp.path(), &tree, Compression::Gzip(9), &["-Zgzip"]);
    let listing = |deb: &Path| {
        let mut lines: Vec<String> = run("dpkg-deb", &["--contents", deb.to_str().unwrap()])
            .lines()
            .map(String::from)
            .collect();
        lines.sort();
        lines
    };
    assert_eq!(listing(&ours), listing(&theirs));
}

#[test]
fn installed_size_matches_dpkg_gencontrol() {
    let tmp = tempfile::tempdir().unwrap();
    let pkg = sample(&tmp.path().join("src"), Compression::Gzip(1));
    let deb = tmp.path().join("x.deb");
    let written = write_deb(&pkg, &deb).unwrap();
    // dpkg-gencontrol measures an unpacked tree (without DEBIAN/, which it would count).
    let work = tmp.path().join("work");
    fs::create_dir_all(work.join("debian")).unwrap();
    run(
        "dpkg-deb",
        &[
            "-x",
            deb.to_str().unwrap(),
            work.join("pkg").to_str().unwrap(),
        ],
    );
    fs::write(
        work.join("debian/control"),
        "Source: hello-cd\nMaintainer: Ops <ops@example.com>\n\nPackage: hello-cd\nArchitecture: all\nDescription: x\n y\n",
    )
    .unwrap();
    fs::write(
        work.join("debian/changelog"),
        "hello-cd (1.0) unstable; urgency=medium\n\n  * Test.\n\n -- Ops <ops@example.com>  Thu, 01 Jan 2026 00:00:00 +0000\n",
    )
    .unwrap();
    let fields = run_in("dpkg-gencontrol", &["-O", "-Ppkg"], Some(&work));
    let theirs = fields
        .lines()
        .find_map(|l| l.strip_prefix("Installed-Size: "))
        .unwrap_or_else(|| panic!("no Installed-Size in\n{fields}"));
    assert_eq!(theirs, written.installed_size_kib.to_string());
}

// ---------------------------------------------------------------------------------------
// reproducibility and parallelism

#[test]
fn rebuilds_are_byte_identical_whatever_the_source_mtimes_and_entry_order() {
    let tmp = tempfile::tempdir().unwrap();
    let src = tmp.path().join("src");
    for compression in [
        Compression::Gzip(6),
        Compression::Xz(0),
        Compression::Zstd(3),
        Compression::None,
    ] {
        let pkg = sample(&src, compression);
        let first = write_deb(&pkg, &tmp.path().join("a.deb")).unwrap();
        let second = write_deb(&pkg, &tmp.path().join("b.deb")).unwrap();
        assert_eq!(first.sha256, second.sha256, "{compression}");
        assert_eq!(
            fs::read(tmp.path().join("a.deb")).unwrap(),
            fs::read(tmp.path().join("b.deb")).unwrap()
        );

        // Touch and chmod every source file: their own metadata must not leak in.
        for entry in fs::read_dir(&src).unwrap() {
            let path = entry.unwrap().path();
            let file = fs::File::options().write(true).open(&path).unwrap();
            file.set_modified(
                std::time::SystemTime::UNIX_EPOCH + std::time::Duration::from_secs(86_400 * 365),
            )
            .unwrap();
            fs::set_permissions(&path, fs::Permissions::from_mode(0o600)).unwrap();
        }
        let mut shuffled = pkg.clone();
        shuffled.entries.reverse();
        let third = write_deb(&shuffled, &tmp.path().join("c.deb")).unwrap();
        assert_eq!(
            first.sha256, third.sha256,
            "{compression} after touching sources"
        );

        // A different SOURCE_DATE_EPOCH does change the package.
        let mut later = pkg.clone();
        later.mtime += 1;
        assert_ne!(
            write_deb(&later, &tmp.path().join("d.deb")).unwrap().sha256,
            first.sha256
        );
    }
}

#[test]
fn output_does_not_depend_on_the_thread_count() {
    let tmp = tempfile::tempdir().unwrap();
    // 12 MiB: 12 gzip members, 12 xz blocks at -0 (1 MiB), several zstd jobs.
    let big = write_source(tmp.path(), "big", &text(12 << 20, 7));
    for compression in [
        Compression::Gzip(6),
        Compression::Xz(0),
        Compression::Zstd(1),
        Compression::Zstd(3),
    ] {
        let pkg = Package {
            control: control("threads"),
            conffiles: vec![],
            scripts: vec![],
            entries: vec![DataEntry::file("/big", &big, 0o644)],
            mtime: MTIME,
            compression,
        };
        let shas: Vec<String> = [1, 2, 5]
            .iter()
            .map(|&threads| {
                write_deb_with(
                    &pkg,
                    &tmp.path().join(format!("t{threads}.deb")),
                    &WriteOptions { threads },
                )
                .unwrap()
                .sha256
            })
            .collect();
        assert!(
            shas.iter().all(|s| *s == shas[0]),
            "{compression}: {shas:?}"
        );
        let back = pipeline(&format!(
            "dpkg-deb --fsys-tarfile {}/t5.deb | tar -xO ./big | md5sum",
            tmp.path().display()
        ));
        let want = pipeline(&format!("md5sum < {}", big.display()));
        assert_eq!(back, want, "{compression}");
    }
}

#[test]
fn gzip_data_member_is_multi_member_with_constant_headers() {
    let tmp = tempfile::tempdir().unwrap();
    let pkg = sample(&tmp.path().join("src"), Compression::Gzip(6));
    let deb = tmp.path().join("x.deb");
    write_deb(&pkg, &deb).unwrap();
    let gz = pipeline(&format!(
        "ar p {} data.tar.gz | od -An -v -tx1 | tr -d ' \\n'",
        deb.display()
    ));
    // Every member header: magic, deflate, no flags, mtime 0, XFL 0, OS 3 (Unix).
    let members = gz.matches("1f8b08000000000000").count();
    assert!(
        members >= 4,
        "expected ≥ 4 gzip members (3 MiB + tar overhead), found {members}"
    );
    assert!(gz.starts_with("1f8b0800000000000003"));
    // gzip itself accepts the concatenation and reports no timestamp.
    pipeline(&format!("ar p {} data.tar.gz | gzip -t", deb.display()));
    let ctrl = pipeline(&format!(
        "ar p {} control.tar.gz | od -An -N10 -tx1 | tr -d ' \\n'",
        deb.display()
    ));
    assert_eq!(
        ctrl, "1f8b0800000000000203",
        "control.tar.gz: gzip -9, no timestamp"
    );
}

// ---------------------------------------------------------------------------------------
// streaming: bounded memory

/// Peak resident memory of this process, from /proc.
fn peak_rss_kib() -> u64 {
    let status = fs::read_to_string("/proc/self/status").unwrap();
    let line = status.lines().find(|l| l.starts_with("VmHWM:")).unwrap();
    line.split_whitespace().nth(1).unwrap().parse().unwrap()
}

const MEMORY_CHILD: &str = "CDKIT_DEB_MEMORY_CHILD";
const BIG_FILE_MIB: u64 = 128;

#[test]
#[ignore = "helper: run in a child process by streaming_memory_stays_bounded"]
fn memory_child() {
    let dir =
        PathBuf::from(std::env::var(MEMORY_CHILD).expect("run by streaming_memory_stays_bounded"));
    let compression: Compression = std::env::var("CDKIT_DEB_MEMORY_COMPRESSION")
        .unwrap()
        .parse()
        .unwrap();
    // A sparse file: reading it costs no disk, holding it would cost 128 MiB.
    let big = dir.join("sparse");
    fs::File::create(&big)
        .unwrap()
        .set_len(BIG_FILE_MIB << 20)
        .unwrap();
    let pkg = Package {
        control: control("big"),
        conffiles: vec![],
        scripts: vec![],
        entries: vec![DataEntry::file("/big", &big, 0o644)],
        mtime: MTIME,
        compression,
    };
    write_deb_with(&pkg, &dir.join("big.deb"), &WriteOptions { threads: 4 }).unwrap();
    println!("PEAK_RSS_KIB={}", peak_rss_kib());
}

#[test]
fn streaming_memory_stays_bounded() {
    // Each compression in its own process, so each peak is its own.
    for compression in ["gzip:1", "zstd:1", "xz:0", "none"] {
        let tmp = tempfile::tempdir().unwrap();
        let out = Command::new(std::env::current_exe().unwrap())
            .args([
                "--exact",
                "memory_child",
                "--ignored",
                "--nocapture",
                "--test-threads=1",
            ])
            .env(MEMORY_CHILD, tmp.path())
            .env("CDKIT_DEB_MEMORY_COMPRESSION", compression)
            .output()
            .unwrap();
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert!(
            out.status.success(),
            "{stdout}\n{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let at =
            stdout.find("PEAK_RSS_KIB=").expect("child printed no peak") + "PEAK_RSS_KIB=".len();
        let peak: u64 = stdout[at..]
            .split_whitespace()
            .next()
            .unwrap()
            .parse()
            .unwrap();
        // 4 threads: ≤ 8 gzip blocks of 1 MiB in flight; xz -0 and zstd -1 a few MiB each.
        assert!(
            peak < 48 * 1024,
            "{compression}: peak RSS {peak} KiB while packing a {BIG_FILE_MIB} MiB file: not streaming"
        );
        eprintln!("{compression}: peak RSS {peak} KiB for a {BIG_FILE_MIB} MiB file");
    }
}

// ---------------------------------------------------------------------------------------
// bad input

fn assert_nothing_written(dir: &Path) {
    let left: Vec<_> = fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert!(left.is_empty(), "left behind: {left:?}");
}

#[test]
fn a_missing_source_file_names_both_paths_and_leaves_nothing() {
    let tmp = tempfile::tempdir().unwrap();
    let out_dir = tmp.path().join("out");
    fs::create_dir(&out_dir).unwrap();
    let mut pkg = sample(&tmp.path().join("src"), Compression::Gzip(6));
    let missing = tmp.path().join("src/does-not-exist");
    pkg.entries
        .push(DataEntry::file("/usr/bin/zz-missing", &missing, 0o755));
    let err = write_deb(&pkg, &out_dir.join("x.deb")).unwrap_err();
    assert!(matches!(err, DebError::Source { .. }), "{err:?}");
    let msg = err.to_string();
    assert!(
        msg.contains("/usr/bin/zz-missing") && msg.contains(missing.to_str().unwrap()),
        "{msg}"
    );
    assert!(msg.contains("No such file"), "{msg}");
    assert_nothing_written(&out_dir);

    // A directory as a source is refused the same way.
    pkg.entries.pop();
    pkg.entries
        .push(DataEntry::file("/usr/bin/zz-dir", tmp.path(), 0o755));
    let err = write_deb(&pkg, &out_dir.join("x.deb")).unwrap_err();
    assert!(err.to_string().contains("not a regular file"), "{err}");
    assert_nothing_written(&out_dir);
}

#[test]
fn bad_paths_and_duplicates_are_refused_before_writing() {
    let tmp = tempfile::tempdir().unwrap();
    let out_dir = tmp.path().join("out");
    fs::create_dir(&out_dir).unwrap();
    let base = sample(&tmp.path().join("src"), Compression::Gzip(6));
    let src = tmp.path().join("src/hello");
    let cases: Vec<(DataEntry, &str)> = vec![
        (
            DataEntry::file("/usr/../etc/passwd", &src, 0o644),
            "\"/usr/../etc/passwd\"",
        ),
        (
            DataEntry::file("/usr/bin/hello-cd", &src, 0o644),
            "duplicate package path /usr/bin/hello-cd",
        ),
        (DataEntry::file("relative/x", &src, 0o644), "\"relative/x\""),
        (DataEntry::file("/usr//x", &src, 0o644), "\"/usr//x\""),
        (
            DataEntry::file("/usr/bin/hello-cd/x", &src, 0o644),
            "parent /usr/bin/hello-cd is not a directory",
        ),
    ];
    // An existing package at `out` must survive a failed rebuild.
    let out = out_dir.join("x.deb");
    fs::write(&out, b"previous").unwrap();
    for (entry, want) in cases {
        let mut pkg = base.clone();
        pkg.entries.push(entry);
        let err = write_deb(&pkg, &out).unwrap_err();
        assert!(
            err.to_string().contains(want),
            "{err} does not contain {want}"
        );
        assert_eq!(fs::read(&out).unwrap(), b"previous");
    }
    let mut pkg = base.clone();
    pkg.conffiles.push("/etc/hello-cd/missing.conf".into());
    let err = write_deb(&pkg, &out).unwrap_err();
    assert!(
        err.to_string().contains("/etc/hello-cd/missing.conf"),
        "{err}"
    );
    let mut pkg = base.clone();
    pkg.control.retain(|(n, _)| n != "Version");
    assert!(write_deb(&pkg, &out)
        .unwrap_err()
        .to_string()
        .contains("Version"));
    fs::remove_file(&out).unwrap();
    assert_nothing_written(&out_dir);
}

#[test]
fn symlink_entries_ignore_their_mode_and_keep_their_target_verbatim() {
    let entry = DataEntry::symlink("/a", "../b/./c");
    assert_eq!(
        entry.kind,
        EntryKind::Symlink {
            target: "../b/./c".into()
        }
    );
    let tmp = tempfile::tempdir().unwrap();
    let mut pkg = sample(&tmp.path().join("src"), Compression::None);
    pkg.entries = vec![DataEntry {
        mode: 0o600,
        ..entry
    }];
    pkg.conffiles.clear();
    let deb = tmp.path().join("x.deb");
    write_deb(&pkg, &deb).unwrap();
    let listing = run("dpkg-deb", &["--contents", deb.to_str().unwrap()]);
    let words: Vec<&str> = listing.lines().last().unwrap().split_whitespace().collect();
    assert_eq!(
        words,
        [
            "lrwxrwxrwx",
            "root/root",
            "0",
            "2026-01-01",
            "00:00",
            "./a",
            "->",
            "../b/./c"
        ]
    );
}

// ---------------------------------------------------------------------------------------
// lintian

#[test]
fn lintian_reports_no_errors_or_warnings() {
    let tmp = tempfile::tempdir().unwrap();
    let src = tmp.path().join("src");
    let script = write_source(&src, "hello-cd", b"#!/bin/sh\necho hello\n");
    let conf = write_source(&src, "hello.conf", b"greeting = hello\n");
    let copyright = write_source(
        &src,
        "copyright",
        b"Format: https://www.debian.org/doc/packaging-manuals/copyright-format/1.0/\n\
          Upstream-Name: hello-cd\n\n\
          Files: *\n\
          Copyright: 2026 Example Ops Team <ops@example.com>\n\
          License: MIT\n \
          Permission is hereby granted, free of charge, to any person obtaining a copy.\n",
    );
    let changelog = write_source(
        &src,
        "changelog",
        b"hello-cd (1.0) unstable; urgency=medium\n\n  * Initial release.\n\n -- Ops Team <ops@example.com>  Thu, 01 Jan 2026 00:00:00 +0000\n",
    );
    run("gzip", &["-9n", changelog.to_str().unwrap()]);
    let man = write_source(
        &src,
        "hello-cd.1",
        b".TH HELLO-CD 1\n.SH NAME\nhello-cd \\- greet the team\n.SH SYNOPSIS\n.B hello-cd\n.SH DESCRIPTION\nPrints a greeting.\n",
    );
    run("gzip", &["-9n", man.to_str().unwrap()]);
    let postinst = b"#!/bin/sh\nset -e\nif [ \"$1\" = configure ]; then\n    echo \"hello-cd configured\"\nfi\n".to_vec();
    let pkg = Package {
        control: control("hello-cd"),
        conffiles: vec!["/etc/hello-cd/hello.conf".into()],
        scripts: vec![("postinst".into(), postinst)],
        entries: vec![
            DataEntry::file("/usr/bin/hello-cd", &script, 0o755),
            DataEntry::file("/etc/hello-cd/hello.conf", &conf, 0o644),
            DataEntry::file("/usr/share/doc/hello-cd/copyright", &copyright, 0o644),
            DataEntry::file(
                "/usr/share/doc/hello-cd/changelog.gz",
                src.join("changelog.gz"),
                0o644,
            ),
            DataEntry::file(
                "/usr/share/man/man1/hello-cd.1.gz",
                src.join("hello-cd.1.gz"),
                0o644,
            ),
            DataEntry::symlink("/usr/bin/hello-cd-alias", "hello-cd"),
            DataEntry::symlink("/usr/share/man/man1/hello-cd-alias.1.gz", "hello-cd.1.gz"),
        ],
        mtime: MTIME,
        compression: Compression::Xz(6),
    };
    let deb = tmp.path().join("hello-cd_1.0_all.deb");
    write_deb(&pkg, &deb).unwrap();
    let out = Command::new("lintian")
        .args(["--fail-on", "error", "--tag-display-limit", "0"])
        .arg(&deb)
        .output()
        .expect("cannot run lintian (apt-get install -y lintian)");
    let report = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    eprintln!("lintian:\n{report}");
    assert!(out.status.success(), "lintian failed:\n{report}");
    // Not even warnings: the package is as clean as a dh-built one.
    assert!(
        !report
            .lines()
            .any(|l| l.starts_with("E: ") || l.starts_with("W: ")),
        "{report}"
    );
    // Archive, md5sums and ownership tags must not appear at any severity.
    for tag in [
        "malformed-deb-archive",
        "md5sum",
        "control-file-has-bad-",
        "wrong-file-owner",
        "tar-errors",
        "timestamped-gzip",
        "non-standard-file-perm",
        "non-standard-dir-perm",
        "unknown-control-file",
        "file-in-etc-not-marked-as-conffile",
    ] {
        assert!(!report.contains(tag), "lintian reported {tag}:\n{report}");
    }
}
