//! Atomic file replacement (temp file in the same directory, fsync, rename, fsync of the
//! directory), so a killed tool never leaves a half-written report, record or index behind.

use std::fs::{self, File, Permissions};
use std::io::{self, BufWriter, Write};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

/// Why an atomic write failed; names the destination so the one-line error is actionable.
#[derive(Debug, thiserror::Error)]
#[error("cannot write {path}: {source}")]
pub struct AtomicWriteError {
    /// The destination (not the temp file, whose name means nothing to the user).
    pub path: PathBuf,
    /// The failed step's error (create, write, fsync or rename).
    #[source]
    pub source: io::Error,
}

/// Replace `path` with what `fill` writes, all or nothing. The file gets mode `0644`, the
/// usual mode for reports and indexes that other users (Jenkins, apt) must read.
pub fn write_with<F>(path: &Path, fill: F) -> Result<(), AtomicWriteError>
where
    F: FnOnce(&mut dyn Write) -> io::Result<()>,
{
    write_with_mode(path, 0o644, fill)
}

/// Like [`write_with`], with an explicit permission mode (e.g. `0600` for secrets).
pub fn write_with_mode<F>(path: &Path, mode: u32, fill: F) -> Result<(), AtomicWriteError>
where
    F: FnOnce(&mut dyn Write) -> io::Result<()>,
{
    replace(path, mode, true, fill)
}

/// Mode a report (JUnit) is created with before the umask: `0666 & !umask`, like any file a
/// tool writes, so a job that runs with `umask 077` gets reports only its user reads.
pub(crate) const REPORT_MODE: u32 = 0o666;

/// Mode a deployment record is created with before the umask: `0640` under the usual umask
/// 022, `0600` under 077. A record names hosts, users and versions; it is never world-readable.
pub const RECORD_MODE: u32 = 0o640;

/// Replace `path` with `bytes`, atomically, creating it with `mode` as narrowed by the process
/// umask (the kernel applies it when the temp file is created).
pub fn write_honouring_umask(path: &Path, mode: u32, bytes: &[u8]) -> Result<(), AtomicWriteError> {
    replace_with(path, Mode::Umask(mode), true, |w| w.write_all(bytes))
}

/// Replace `path` atomically (temp file + rename) but without waiting for the disk: for
/// batches of files that are made durable together with one [`sync_filesystem`] before
/// anything refers to them (thousands of fsyncs cost seconds; one syncfs costs one flush).
pub fn write_unsynced<F>(path: &Path, fill: F) -> Result<(), AtomicWriteError>
where
    F: FnOnce(&mut dyn Write) -> io::Result<()>,
{
    replace(path, 0o644, false, fill)
}

/// Flush every pending write of the file system holding `path` (`syncfs(2)`).
pub fn sync_filesystem(path: &Path) -> Result<(), AtomicWriteError> {
    let wrap = |source| AtomicWriteError {
        path: path.to_path_buf(),
        source,
    };
    let dir = File::open(path).map_err(wrap)?;
    nix::unistd::syncfs(&dir).map_err(|e| wrap(io::Error::from(e)))
}

/// How the new file's permissions are chosen.
#[derive(Clone, Copy)]
enum Mode {
    /// Exactly this mode, whatever the umask.
    Exact(u32),
    /// This mode narrowed by the umask.
    Umask(u32),
}

fn replace<F>(path: &Path, mode: u32, durable: bool, fill: F) -> Result<(), AtomicWriteError>
where
    F: FnOnce(&mut dyn Write) -> io::Result<()>,
{
    replace_with(path, Mode::Exact(mode), durable, fill)
}

fn replace_with<F>(path: &Path, mode: Mode, durable: bool, fill: F) -> Result<(), AtomicWriteError>
where
    F: FnOnce(&mut dyn Write) -> io::Result<()>,
{
    let wrap = |source| AtomicWriteError {
        path: path.to_path_buf(),
        source,
    };
    let dir = parent_dir(path);
    fs::create_dir_all(dir).map_err(wrap)?;
    let mut temp = tempfile::Builder::new()
        .prefix(&format!(
            ".{}.",
            path.file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default()
        ))
        .suffix(".tmp")
        .permissions(Permissions::from_mode(match mode {
            // Created 0600 and widened below, or created with the mode the umask narrows.
            Mode::Exact(_) => 0o600,
            Mode::Umask(m) => m,
        }))
        .tempfile_in(dir)
        .map_err(wrap)?;
    {
        let mut out = BufWriter::new(temp.as_file_mut());
        fill(&mut out).map_err(wrap)?;
        out.flush().map_err(wrap)?;
    }
    if let Mode::Exact(mode) = mode {
        temp.as_file()
            .set_permissions(Permissions::from_mode(mode))
            .map_err(wrap)?;
    }
    if durable {
        temp.as_file().sync_all().map_err(wrap)?;
    }
    temp.persist(path).map_err(|e| wrap(e.error))?;
    if durable {
        sync_dir(dir).map_err(wrap)?;
    }
    Ok(())
}

/// Replace `path` with `bytes`, atomically.
pub fn write(path: &Path, bytes: &[u8]) -> Result<(), AtomicWriteError> {
    write_with(path, |w| w.write_all(bytes))
}

/// The directory a relative or absolute path lives in (`.` for a bare file name).
fn parent_dir(path: &Path) -> &Path {
    match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    }
}

/// Make a rename durable: the directory entry itself must reach the disk.
fn sync_dir(dir: &Path) -> io::Result<()> {
    File::open(dir)?.sync_all()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn replaces_the_whole_file_and_leaves_no_temp_files() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("report.xml");
        write(&path, b"first version, long").unwrap();
        write(&path, b"second").unwrap();
        assert_eq!(fs::read(&path).unwrap(), b"second");
        let names: Vec<_> = fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(names, vec![std::ffi::OsString::from("report.xml")]);
        let mode = fs::metadata(&path).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o644);
    }

    #[test]
    fn a_failing_writer_keeps_the_old_content() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("index");
        write(&path, b"old").unwrap();
        let err = write_with(&path, |w| {
            w.write_all(b"half")?;
            Err(io::Error::other("killed"))
        })
        .unwrap_err();
        assert!(err.to_string().contains("index"), "{err}");
        assert_eq!(fs::read(&path).unwrap(), b"old");
        assert_eq!(fs::read_dir(dir.path()).unwrap().count(), 1);
    }

    #[test]
    fn unsynced_writes_are_whole_files_made_durable_by_syncfs() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("pool/a.deb");
        write_unsynced(&path, |w| w.write_all(b"deb bytes")).unwrap();
        sync_filesystem(dir.path()).unwrap();
        assert_eq!(fs::read(&path).unwrap(), b"deb bytes");
        assert!(sync_filesystem(&dir.path().join("missing")).is_err());
    }

    #[test]
    fn umask_honouring_writes_narrow_the_mode() {
        // The umask is per process: a child sets it, so no other test thread is affected.
        let dir = tempfile::tempdir().unwrap();
        let exe = std::env::current_exe().unwrap();
        if let Ok(target) = std::env::var("CDKIT_ATOMIC_UMASK_CHILD") {
            let (umask, mode) = target.split_once(':').unwrap();
            let umask = u32::from_str_radix(umask, 8).unwrap();
            nix::sys::stat::umask(nix::sys::stat::Mode::from_bits_truncate(umask));
            let path = dir.path().join("r");
            write_honouring_umask(&path, u32::from_str_radix(mode, 8).unwrap(), b"x").unwrap();
            let got = fs::metadata(&path).unwrap().permissions().mode() & 0o777;
            println!("MODE={got:o}");
            return;
        }
        for (umask, mode, want) in [
            ("022", "640", "640"),
            ("077", "640", "600"),
            ("077", "666", "600"),
            ("022", "666", "644"),
        ] {
            let out = std::process::Command::new(&exe)
                .args([
                    "--exact",
                    "atomic::tests::umask_honouring_writes_narrow_the_mode",
                    "--nocapture",
                ])
                .env("CDKIT_ATOMIC_UMASK_CHILD", format!("{umask}:{mode}"))
                .output()
                .unwrap();
            let text = String::from_utf8_lossy(&out.stdout);
            assert!(
                text.contains(&format!("MODE={want}")),
                "umask {umask} mode {mode}: {text}"
            );
        }
    }

    #[test]
    fn creates_missing_parent_directories() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("reports/deep/x.xml");
        write(&path, b"x").unwrap();
        assert_eq!(fs::read(&path).unwrap(), b"x");
    }
}
