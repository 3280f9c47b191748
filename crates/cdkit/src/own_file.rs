//! Opening a file a tool writes in place (`--log-file`, lock files, run-tests' `SUITE.out.log`)
//! in a directory other users may write to (`/tmp`, a shared workspace): never through a
//! symbolic link (`O_NOFOLLOW`), never a file another user owns, a device or FIFO, or a second
//! hard link of some other file, and never truncated before those checks passed. Otherwise a
//! local user could plant `/tmp/run.log -> /etc/passwd` and have a root run append to, or
//! truncate, the file the link names.

use std::fs::{File, OpenOptions};
use std::io;
use std::os::unix::fs::{MetadataExt, OpenOptionsExt};
use std::path::Path;

/// Open `path` with `options` (which must not truncate: call [`File::set_len`] after this
/// returned) without following a symbolic link, and check that it is a regular file with one
/// link, owned by this process's effective user.
pub fn open(path: &Path, options: &OpenOptions) -> io::Result<File> {
    let mut options = options.clone();
    // O_NONBLOCK: opening a FIFO someone planted must not hang the tool; it is refused below.
    options.custom_flags(nix::libc::O_NOFOLLOW | nix::libc::O_NOCTTY | nix::libc::O_NONBLOCK);
    let file = options.open(path).map_err(|e| {
        match e.raw_os_error() {
            Some(nix::libc::ELOOP) => {
                io::Error::other("it is a symbolic link, which is not followed")
            }
            // A FIFO without a reader, opened for writing without blocking.
            Some(nix::libc::ENXIO) => io::Error::other("it is not a regular file"),
            _ => e,
        }
    })?;
    let meta = file.metadata()?;
    if !meta.file_type().is_file() {
        return Err(io::Error::other("it is not a regular file"));
    }
    let me = nix::unistd::geteuid().as_raw();
    if meta.uid() != me {
        return Err(io::Error::other(format!(
            "it is owned by uid {}, not by this user (uid {me})",
            meta.uid()
        )));
    }
    if meta.nlink() > 1 {
        return Err(io::Error::other(format!(
            "it has {} hard links; a file written in place must have one",
            meta.nlink()
        )));
    }
    // Back to blocking writes for a regular file (O_APPEND and the rest kept).
    let flags = nix::fcntl::fcntl(&file, nix::fcntl::FcntlArg::F_GETFL).map_err(io::Error::from)?;
    let flags = nix::fcntl::OFlag::from_bits_truncate(flags) - nix::fcntl::OFlag::O_NONBLOCK;
    nix::fcntl::fcntl(&file, nix::fcntl::FcntlArg::F_SETFL(flags)).map_err(io::Error::from)?;
    Ok(file)
}

/// Open `path` for appending, created `0666 & !umask` if missing (see [`open`]).
pub fn append(path: &Path) -> io::Result<File> {
    open(path, OpenOptions::new().append(true).create(true))
}

/// Open `path` for writing from the start, created if missing; the old content is dropped only
/// after the checks of [`open`] passed.
pub fn rewrite(path: &Path) -> io::Result<File> {
    let file = open(
        path,
        OpenOptions::new().write(true).create(true).truncate(false),
    )?;
    file.set_len(0)?;
    Ok(file)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    #[test]
    fn symlinks_are_refused_and_their_targets_untouched() {
        let dir = tempfile::tempdir().unwrap();
        let target = dir.path().join("precious");
        std::fs::write(&target, "keep me").unwrap();
        let link = dir.path().join("run.log");
        std::os::unix::fs::symlink(&target, &link).unwrap();
        let err = rewrite(&link).unwrap_err();
        assert!(err.to_string().contains("symbolic link"), "{err}");
        let err = append(&link).unwrap_err();
        assert!(err.to_string().contains("symbolic link"), "{err}");
        assert_eq!(std::fs::read_to_string(&target).unwrap(), "keep me");
    }

    #[test]
    fn hard_links_fifos_and_foreign_files_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        let target = dir.path().join("precious");
        std::fs::write(&target, "keep me").unwrap();
        let link = dir.path().join("hard");
        std::fs::hard_link(&target, &link).unwrap();
        let err = rewrite(&link).unwrap_err();
        assert!(err.to_string().contains("2 hard links"), "{err}");
        assert_eq!(std::fs::read_to_string(&target).unwrap(), "keep me");

        let fifo = dir.path().join("fifo");
        nix::unistd::mkfifo(&fifo, nix::sys::stat::Mode::from_bits_truncate(0o600)).unwrap();
        let err = append(&fifo).unwrap_err();
        assert!(err.to_string().contains("not a regular file"), "{err}");

        if nix::unistd::geteuid().is_root() {
            let foreign = dir.path().join("foreign");
            std::fs::write(&foreign, "theirs").unwrap();
            nix::unistd::chown(&foreign, Some(nix::unistd::Uid::from_raw(65534)), None).unwrap();
            let err = rewrite(&foreign).unwrap_err();
            assert!(err.to_string().contains("owned by uid 65534"), "{err}");
            assert_eq!(std::fs::read_to_string(&foreign).unwrap(), "theirs");
        }
    }

    #[test]
    fn own_files_are_appended_to_and_rewritten() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("out.log");
        append(&path).unwrap().write_all(b"one\n").unwrap();
        append(&path).unwrap().write_all(b"two\n").unwrap();
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "one\ntwo\n");
        rewrite(&path).unwrap().write_all(b"new\n").unwrap();
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "new\n");
    }
}
