//! What debhelper does to the files a plain `make install` leaves in the stage, so a manifest
//! build passes lintian like a `debian/` build: `dh_installinfo` (no `usr/share/info/dir`),
//! `dh_compress` (man pages, info manuals and larger docs gzipped, links to them followed) and
//! `dh_fixperms` (the modes of [`package_mode`]). The file selection follows debhelper 13.

use std::fs;
use std::io::Write;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use crate::error::{io, Error};

/// The info directory index: every package would ship its own copy and they would clash;
/// install-info maintains the system's one (dh_installinfo never installs it).
const INFO_DIR: &str = "usr/share/info/dir";

/// Remove `usr/share/info/dir` from the stage, if the build installed one.
pub fn drop_info_dir(stage: &Path) -> Result<(), Error> {
    let dir = stage.join(INFO_DIR);
    if dir.symlink_metadata().is_ok() {
        fs::remove_file(&dir).map_err(io("remove", &dir))?;
    }
    Ok(())
}

/// gzip what dh_compress would in the stage of `package`, then point symlinks that named an
/// uncompressed file at its `.gz`. Returns the compressed files (package paths, sorted).
pub fn compress(stage: &Path, package: &str) -> Result<Vec<String>, Error> {
    let mut done = Vec::new();
    let files = walk_files(stage)?;
    for (path, rel) in &files {
        let size = path.metadata().map_err(io("read", path))?.len();
        if !should_compress(rel, package, size) {
            continue;
        }
        gzip_in_place(path)?;
        done.push(format!("/{rel}"));
    }
    if !done.is_empty() {
        fix_links(stage)?;
    }
    done.sort();
    Ok(done)
}

/// Regular files under `stage` with their paths relative to it (`usr/share/...`).
fn walk_files(stage: &Path) -> Result<Vec<(PathBuf, String)>, Error> {
    let mut files = Vec::new();
    for entry in walkdir::WalkDir::new(stage)
        .follow_links(false)
        .sort_by_file_name()
    {
        let entry = entry.map_err(crate::error::walk(stage))?;
        if !entry.file_type().is_file() {
            continue;
        }
        let rel = entry
            .path()
            .strip_prefix(stage)
            .unwrap_or(entry.path())
            .to_string_lossy()
            .into_owned();
        files.push((entry.path().to_path_buf(), rel));
    }
    Ok(files)
}

/// dh_compress's rule: everything in the man and info trees but images and what is already
/// gzipped; in `usr/share/doc` changelogs, NEWS and files over 4 KiB, except formats that are
/// compressed already or read by browsers, `copyright`, and the package's examples.
pub fn should_compress(rel: &str, package: &str, size: u64) -> bool {
    let name = rel.rsplit('/').next().unwrap_or(rel);
    let lower = name.to_ascii_lowercase();
    let ends = |suffixes: &[&str]| suffixes.iter().any(|s| lower.ends_with(s));
    if rel.starts_with("usr/share/man/") || rel.starts_with("usr/share/info/") {
        return !ends(&[".gz", ".gif", ".png", ".jpg", ".jpeg"]);
    }
    if rel.starts_with("usr/share/fonts/X11/") {
        return name.ends_with(".pcf");
    }
    if !rel.starts_with("usr/share/doc/") {
        return false;
    }
    let examples = format!("usr/share/doc/{package}/examples/");
    if rel.starts_with(&examples) || rel.contains("/_sources/") {
        return false;
    }
    let wanted = size > 4096 || name.starts_with("changelog") || name.starts_with("NEWS");
    let html = lower.contains(".htm") && name != "changelog.html";
    let excluded_suffixes = [
        ".xhtml", ".gif", ".png", ".jpg", ".jpeg", ".gz", ".taz", ".tgz", ".z", ".bz2", "-gz",
        "-z", "_z", ".epub", ".jar", ".zip", ".odg", ".odp", ".odt", ".css", ".xz", ".lz", ".lzma",
        ".haddock", ".hs", ".woff", ".woff2", ".svg", ".svgz", ".js",
    ];
    let excluded_names = lower == ".htaccess"
        || [
            "index.sgml",
            "objects.inv",
            "search_index.json",
            "copyright",
        ]
        .contains(&name)
        || name.ends_with(".map")
        || name.ends_with(".devhelp2");
    wanted && !html && !ends(&excluded_suffixes) && !excluded_names
}

/// `gzip -9n FILE`: best compression, no name and no timestamp in the header (so the bytes
/// depend only on the content), the original replaced and its execute bits dropped.
fn gzip_in_place(path: &Path) -> Result<(), Error> {
    let data = fs::read(path).map_err(io("read", path))?;
    let mode = path
        .metadata()
        .map_err(io("read", path))?
        .permissions()
        .mode()
        & !0o111;
    let mut target = path.as_os_str().to_owned();
    target.push(".gz");
    let target = PathBuf::from(target);
    write_gzip(&target, &data)?;
    fs::set_permissions(&target, fs::Permissions::from_mode(mode & 0o7777))
        .map_err(io("chmod", &target))?;
    fs::remove_file(path).map_err(io("remove", path))?;
    Ok(())
}

/// Write `data` gzipped to `target` as `gzip -9n` would: level 9, no file name, mtime 0,
/// the Unix OS byte.
pub fn write_gzip(target: &Path, data: &[u8]) -> Result<(), Error> {
    let file = fs::File::create(target).map_err(io("create", target))?;
    let mut gz = flate2::GzBuilder::new()
        .mtime(0)
        .operating_system(3)
        .write(file, flate2::Compression::best());
    gz.write_all(data).map_err(io("write", target))?;
    gz.finish().map_err(io("write", target))?;
    Ok(())
}

/// A symlink whose target no longer exists but whose target `.gz` does is replaced by
/// `NAME.gz -> TARGET.gz` (a man page alias to a compressed page); repeated until nothing
/// changes, for links to links.
fn fix_links(stage: &Path) -> Result<(), Error> {
    loop {
        let mut changed = false;
        for entry in walkdir::WalkDir::new(stage)
            .follow_links(false)
            .sort_by_file_name()
        {
            let entry = entry.map_err(crate::error::walk(stage))?;
            if !entry.path_is_symlink() {
                continue;
            }
            let link = entry.path();
            let target = fs::read_link(link).map_err(io("read", link))?;
            let dir = link.parent().unwrap_or(stage);
            // An absolute target is a path in the package, so it resolves inside the stage.
            let resolved = if target.is_absolute() {
                stage.join(target.strip_prefix("/").unwrap_or(&target))
            } else {
                dir.join(&target)
            };
            let with_gz = |p: &Path| {
                let mut s = p.as_os_str().to_owned();
                s.push(".gz");
                PathBuf::from(s)
            };
            if resolved.exists() || !with_gz(&resolved).exists() {
                continue;
            }
            let name = if link.extension().is_some_and(|e| e == "gz") {
                link.to_path_buf()
            } else {
                with_gz(link)
            };
            fs::remove_file(link).map_err(io("remove", link))?;
            std::os::unix::fs::symlink(with_gz(&target), &name).map_err(io("create", &name))?;
            changed = true;
        }
        if !changed {
            return Ok(());
        }
    }
}

/// The mode dh_fixperms leaves on `path` (a package path) given the mode the build gave it:
/// `go=rX,u+rw` without setuid/setgid bits, documentation, manual pages, headers and
/// libraries not executable, programs in the bin directories executable, sudoers snippets
/// 0440. `[[attributes]]` in the manifest are applied after this.
pub fn package_mode(path: &str, is_dir: bool, built_mode: u32) -> u32 {
    if is_dir {
        return 0o755;
    }
    let mut mode = if built_mode & 0o111 != 0 {
        0o755
    } else {
        0o644
    };
    let name = path.rsplit('/').next().unwrap_or(path);
    let under = |dirs: &[&str]| {
        dirs.iter()
            .any(|d| path.strip_prefix(d).is_some_and(|r| r.starts_with('/')))
    };
    let in_doc_examples = path
        .strip_prefix("/usr/share/doc/")
        .and_then(|r| r.split_once('/'))
        .is_some_and(|(_, r)| r.starts_with("examples/"));
    if (under(&["/usr/share/doc"]) && !in_doc_examples)
        || under(&[
            "/usr/share/man",
            "/usr/include",
            "/usr/share/applications",
            "/usr/share/lintian/overrides",
        ])
    {
        mode = 0o644;
    }
    let library_like = [
        ".so", ".la", ".a", ".js", ".css", ".scss", ".sass", ".jpeg", ".jpg", ".png", ".gif",
        ".cmxs", ".node",
    ]
    .iter()
    .any(|s| name.ends_with(s))
        || name.contains(".so.");
    if library_like {
        mode = 0o644;
    }
    let perl_module_dir = path.starts_with("/usr/share/perl5/")
        || (path.starts_with("/usr/lib/") && path.contains("/perl5/"));
    if path.ends_with(".pm") && perl_module_dir {
        mode = 0o644;
    }
    let bin_dirs = [
        "/usr/bin",
        "/bin",
        "/usr/sbin",
        "/sbin",
        "/usr/games",
        "/usr/libexec",
        "/etc/init.d",
    ];
    if under(&bin_dirs) {
        mode = 0o755;
    }
    if under(&["/etc/sudoers.d"]) {
        mode = 0o440;
    }
    mode
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn compresses_what_dh_compress_compresses() {
        for (rel, size, expected) in [
            ("usr/share/man/man1/hello.1", 10, true),
            ("usr/share/man/de/man1/hello.1", 10, true),
            ("usr/share/man/man1/hello.1.gz", 10, false),
            ("usr/share/info/hello.info", 10, true),
            ("usr/share/info/hello.info-1", 10, true),
            ("usr/share/info/diagram.png", 10, false),
            ("usr/share/doc/hello/changelog", 10, true),
            ("usr/share/doc/hello/NEWS", 10, true),
            ("usr/share/doc/hello/README", 100, false),
            ("usr/share/doc/hello/README", 5000, true),
            ("usr/share/doc/hello/copyright", 50_000, false),
            ("usr/share/doc/hello/manual.html", 50_000, false),
            ("usr/share/doc/hello/changelog.html", 10, true),
            ("usr/share/doc/hello/examples/big.c", 50_000, false),
            ("usr/share/doc/hello/changelog.Debian.gz", 10, false),
            ("usr/share/doc/hello/style.css", 50_000, false),
            ("usr/bin/hello", 50_000, false),
            ("usr/share/locale/de/LC_MESSAGES/hello.mo", 50_000, false),
        ] {
            assert_eq!(
                should_compress(rel, "hello", size),
                expected,
                "{rel} {size}"
            );
        }
    }

    #[test]
    fn modes_are_those_dh_fixperms_leaves() {
        for (path, built, expected) in [
            ("/usr/bin/hello", 0o700, 0o755),
            ("/usr/bin/script", 0o644, 0o755),
            ("/usr/bin/sudo-like", 0o4755, 0o755),
            ("/usr/share/man/man1/hello.1.gz", 0o755, 0o644),
            ("/usr/share/doc/hello/README", 0o755, 0o644),
            ("/usr/share/doc/hello/examples/run.sh", 0o755, 0o755),
            ("/usr/lib/x86_64-linux-gnu/libhello.so.1.0.0", 0o755, 0o644),
            ("/usr/include/hello.h", 0o755, 0o644),
            ("/usr/share/hello/data.txt", 0o600, 0o644),
            ("/usr/lib/hello/helper", 0o711, 0o755),
            ("/etc/sudoers.d/hello", 0o644, 0o440),
        ] {
            assert_eq!(
                package_mode(path, false, built),
                expected,
                "{path} {built:o}"
            );
        }
        assert_eq!(package_mode("/usr/share/doc/hello", true, 0o700), 0o755);
    }

    #[test]
    fn compresses_without_name_or_time_and_follows_links() {
        let stage = tempfile::tempdir().unwrap();
        let s = stage.path();
        let man = s.join("usr/share/man/man1");
        fs::create_dir_all(&man).unwrap();
        fs::write(man.join("hello.1"), ".TH HELLO 1\n").unwrap();
        fs::set_permissions(man.join("hello.1"), fs::Permissions::from_mode(0o755)).unwrap();
        std::os::unix::fs::symlink("hello.1", man.join("hi.1")).unwrap();
        std::os::unix::fs::symlink("hi.1", man.join("howdy.1")).unwrap();
        fs::create_dir_all(s.join("usr/share/info")).unwrap();
        fs::write(s.join("usr/share/info/dir"), "index").unwrap();
        drop_info_dir(s).unwrap();
        assert!(!s.join("usr/share/info/dir").exists());

        let done = compress(s, "hello").unwrap();
        assert_eq!(done, ["/usr/share/man/man1/hello.1"]);
        let gz = fs::read(man.join("hello.1.gz")).unwrap();
        // RFC 1952 header: FLG 0 (no name), MTIME 0, XFL 2 (best), OS 3 (Unix).
        assert_eq!(&gz[..10], &[0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 2, 3]);
        let mut text = String::new();
        std::io::Read::read_to_string(&mut flate2::read::GzDecoder::new(&gz[..]), &mut text)
            .unwrap();
        assert_eq!(text, ".TH HELLO 1\n");
        let mode = fs::metadata(man.join("hello.1.gz"))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o111, 0);
        assert!(!man.join("hello.1").exists());
        assert_eq!(
            fs::read_link(man.join("hi.1.gz")).unwrap(),
            Path::new("hello.1.gz")
        );
        assert_eq!(
            fs::read_link(man.join("howdy.1.gz")).unwrap(),
            Path::new("hi.1.gz")
        );
        assert!(man.join("howdy.1.gz").exists(), "the chain resolves");
    }
}
