//! A streaming GNU tar writer with exactly the headers GNU tar (and so dpkg-deb) writes:
//! names given verbatim (`./usr/bin/`), GNU `././@LongLink` records for names and link
//! targets over 100 bytes, owner names plus numbers, the checksum as six octal digits, NUL,
//! space, and the archive padded to whole 10 KiB records. For a tree without symlinks the
//! uncompressed data.tar is byte-identical to `dpkg-deb --build --root-owner-group`'s
//! (dpkg-deb moves symlinks to the end; we keep plain tree order).
//!
//! The `tar` crate is used for header field encoding (octal or base-256 numbers) but not for
//! paths: its `set_path` normalises `./` and trailing slashes away.

use std::io::{self, Write};

use tar::{EntryType, Header};

const BLOCK: u64 = 512;
const NAME_FIELD: usize = 100;
/// GNU tar's default record size (blocking factor 20).
const RECORD: u64 = 20 * BLOCK;

/// Ownership, mode and time of one tar entry.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Meta<'a> {
    pub mode: u32,
    pub uid: u64,
    pub gid: u64,
    pub owner: &'a str,
    pub group: &'a str,
    pub mtime: u64,
}

impl Meta<'_> {
    /// root:root with `mode`, as for control.tar members and implicit directories.
    pub(crate) fn root(mode: u32, mtime: u64) -> Meta<'static> {
        Meta {
            mode,
            uid: 0,
            gid: 0,
            owner: "root",
            group: "root",
            mtime,
        }
    }
}

/// Writes tar entries to `out`. A file's data is written with [`TarWriter::data`] between
/// [`TarWriter::begin_file`] and [`TarWriter::end_file`], so content is streamed.
pub(crate) struct TarWriter<W: Write> {
    out: W,
    /// Data bytes still owed by the current file.
    remaining: u64,
    /// Declared size of the current file (for padding).
    current_size: u64,
    /// Bytes written so far (for the final record padding).
    written: u64,
}

impl<W: Write> TarWriter<W> {
    pub(crate) fn new(out: W) -> Self {
        TarWriter {
            out,
            remaining: 0,
            current_size: 0,
            written: 0,
        }
    }

    /// A directory entry; `name` should end with `/`.
    pub(crate) fn dir(&mut self, name: &str, meta: &Meta<'_>) -> io::Result<()> {
        self.header(name, None, EntryType::Directory, 0, meta)
    }

    /// A symlink entry pointing at `target`.
    pub(crate) fn symlink(&mut self, name: &str, target: &str, meta: &Meta<'_>) -> io::Result<()> {
        self.header(name, Some(target), EntryType::Symlink, 0, meta)
    }

    /// Start a regular file of exactly `size` bytes.
    pub(crate) fn begin_file(&mut self, name: &str, size: u64, meta: &Meta<'_>) -> io::Result<()> {
        self.header(name, None, EntryType::Regular, size, meta)?;
        self.remaining = size;
        self.current_size = size;
        Ok(())
    }

    /// Part of the current file's content; more than the declared size is an error.
    pub(crate) fn data(&mut self, chunk: &[u8]) -> io::Result<()> {
        if chunk.len() as u64 > self.remaining {
            return Err(io::Error::new(
                io::ErrorKind::InvalidData,
                "more file data than the tar header declared",
            ));
        }
        self.remaining -= chunk.len() as u64;
        self.put(chunk)
    }

    /// End the current file: checks the size and pads to a 512-byte boundary.
    pub(crate) fn end_file(&mut self) -> io::Result<()> {
        if self.remaining != 0 {
            return Err(io::Error::new(
                io::ErrorKind::InvalidData,
                "less file data than the tar header declared",
            ));
        }
        self.pad(self.current_size)
    }

    /// A whole small file from memory (control.tar members).
    pub(crate) fn file(&mut self, name: &str, content: &[u8], meta: &Meta<'_>) -> io::Result<()> {
        self.begin_file(name, content.len() as u64, meta)?;
        self.data(content)?;
        self.end_file()
    }

    /// Write the two zero blocks that end an archive, pad to a whole record, and return
    /// the inner writer.
    pub(crate) fn finish(mut self) -> io::Result<W> {
        self.put(&[0; 2 * BLOCK as usize])?;
        let rest = (RECORD - self.written % RECORD) % RECORD;
        self.put(&vec![0; rest as usize])?;
        Ok(self.out)
    }

    fn put(&mut self, bytes: &[u8]) -> io::Result<()> {
        self.written += bytes.len() as u64;
        self.out.write_all(bytes)
    }

    fn header(
        &mut self,
        name: &str,
        link: Option<&str>,
        kind: EntryType,
        size: u64,
        meta: &Meta<'_>,
    ) -> io::Result<()> {
        if self.remaining != 0 {
            return Err(io::Error::other(
                "tar entry started before the previous file ended",
            ));
        }
        if name.len() > NAME_FIELD {
            self.long_record(EntryType::GNULongName, name)?;
        }
        if let Some(target) = link.filter(|t| t.len() > NAME_FIELD) {
            self.long_record(EntryType::GNULongLink, target)?;
        }
        let mut header = Header::new_gnu();
        fill_header(&mut header, kind, size, meta)?;
        copy_truncated(&mut header.as_old_mut().name, name);
        if let Some(target) = link {
            copy_truncated(&mut header.as_old_mut().linkname, target);
        }
        set_gnu_checksum(&mut header);
        self.put(header.as_bytes())
    }

    /// A GNU long-name (`L`) or long-link (`K`) record: a pseudo-entry `././@LongLink`
    /// (root, 0644, mtime 0) whose data is the full string plus a NUL, as GNU tar writes it.
    /// Tar readers fold it into the next header; it is not an entry of its own.
    fn long_record(&mut self, kind: EntryType, text: &str) -> io::Result<()> {
        let size = text.len() as u64 + 1;
        let mut header = Header::new_gnu();
        fill_header(&mut header, kind, size, &Meta::root(0o644, 0))?;
        copy_truncated(&mut header.as_old_mut().name, "././@LongLink");
        set_gnu_checksum(&mut header);
        self.put(header.as_bytes())?;
        self.put(text.as_bytes())?;
        self.put(&[0])?;
        self.pad(size)
    }

    fn pad(&mut self, size: u64) -> io::Result<()> {
        let rest = (BLOCK - size % BLOCK) % BLOCK;
        self.put(&[0; BLOCK as usize][..rest as usize])
    }
}

fn fill_header(header: &mut Header, kind: EntryType, size: u64, meta: &Meta<'_>) -> io::Result<()> {
    header.set_entry_type(kind);
    header.set_size(size);
    header.set_mode(meta.mode);
    header.set_uid(meta.uid);
    header.set_gid(meta.gid);
    header.set_mtime(meta.mtime);
    header.set_username(meta.owner)?;
    header.set_groupname(meta.group)?;
    Ok(())
}

/// The header checksum as GNU tar formats it: six octal digits, NUL, space (the `tar`
/// crate writes seven digits and a NUL; both are valid, this one matches dpkg-deb).
fn set_gnu_checksum(header: &mut Header) {
    header.as_old_mut().cksum = [b' '; 8];
    let sum: u32 = header.as_bytes().iter().map(|&b| u32::from(b)).sum();
    let field = format!("{:06o}\0 ", sum & 0o777_777);
    header.as_old_mut().cksum.copy_from_slice(field.as_bytes());
}

/// The first bytes of `text` that fit `field` (GNU tar's behaviour when a long-name record
/// precedes the header); the field is zero-filled already.
fn copy_truncated(field: &mut [u8], text: &str) {
    let n = text.len().min(field.len());
    field[..n].copy_from_slice(&text.as_bytes()[..n]);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn long_names_and_links_round_trip_through_a_tar_reader() {
        let long_dir = format!("./{}/", "d".repeat(120));
        let long_file = format!("{long_dir}{}", "f".repeat(30));
        let long_target = format!("/{}", "t".repeat(150));
        let meta = Meta {
            mode: 0o4755,
            uid: 3_000_000,
            gid: 1,
            owner: "daemon",
            group: "daemon",
            mtime: 1_700_000_000,
        };
        let mut tar = TarWriter::new(Vec::new());
        tar.dir("./", &Meta::root(0o755, 1_700_000_000)).unwrap();
        tar.dir(&long_dir, &meta).unwrap();
        tar.file(&long_file, b"hello", &meta).unwrap();
        tar.symlink("./l", &long_target, &meta).unwrap();
        let bytes = tar.finish().unwrap();
        assert_eq!(bytes.len() % 10240, 0);

        let mut archive = tar::Archive::new(&bytes[..]);
        let seen: Vec<(String, Option<String>, u32, u64, u64)> = archive
            .entries()
            .unwrap()
            .map(|e| {
                let e = e.unwrap();
                let h = e.header();
                (
                    String::from_utf8(e.path_bytes().into_owned()).unwrap(),
                    e.link_name_bytes()
                        .map(|l| String::from_utf8(l.into_owned()).unwrap()),
                    h.mode().unwrap(),
                    h.uid().unwrap(),
                    h.mtime().unwrap(),
                )
            })
            .collect();
        assert_eq!(seen[0].0, "./");
        assert_eq!(seen[1].0, long_dir);
        assert_eq!(seen[2].0, long_file);
        assert_eq!(seen[2].2, 0o4755);
        assert_eq!(seen[2].3, 3_000_000);
        assert_eq!(seen[3].1.as_deref(), Some(long_target.as_str()));
        assert!(seen.iter().all(|s| s.4 == 1_700_000_000));
    }

    #[test]
    fn file_size_mismatches_are_errors() {
        let meta = Meta::root(0o644, 0);
        let mut tar = TarWriter::new(Vec::new());
        tar.begin_file("./a", 3, &meta).unwrap();
        assert!(tar.data(b"abcd").is_err());
        tar.data(b"ab").unwrap();
        assert!(tar.end_file().is_err());
    }
}
