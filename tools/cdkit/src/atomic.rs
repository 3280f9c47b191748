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
    pub path: PathBuf,
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

fn replace<F>(path: &Path, mode: u32, durable: bool, fill: F) -> Result<(), AtomicWriteError>
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
        .tempfile_in(dir)
        .map_err(wrap)?;
    {
        let mut out = BufWriter::new(temp.as_file_mut());
        fill(&mut out).map_err(wrap)?;
        out.flush().map_err(wrap)?;
    }
    temp.as_file()
        .set_permissions(Permissions::from_mode(mode))
        .map_err(wrap)?;
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
    fn creates_missing_parent_directories() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("reports/deep/x.xml");
        write(&path, b"x").unwrap();
        assert_eq!(fs::read(&path).unwrap(), b"x");
    }
}
