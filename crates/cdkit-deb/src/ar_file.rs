//! The final .deb: an ar archive (common format, as the `ar` crate's `Builder` and dpkg-deb
//! write it) of `debian-binary`, the control member and the data member, written atomically
//! (temp file next to the output, fsync, rename, fsync of the directory) with its sha256
//! computed on the way out.

use std::fs::File;
use std::io::{self, BufReader, Seek, SeekFrom, Write};
use std::path::Path;

use sha2::{Digest, Sha256};

use super::error::DebError;
use cdkit::atomic;
use cdkit::hash::hex;

/// Largest member the ar header's 10-digit decimal size field can hold.
const AR_MAX_SIZE: u64 = 9_999_999_999;

/// The finished archive's size and sha256.
pub(crate) struct ArDone {
    pub size: u64,
    pub sha256: String,
}

/// Assemble `out` from the control member bytes and the data member in `data` (read from
/// its start). Every member header has mtime `mtime`, uid/gid 0 and mode 100644.
pub(crate) fn assemble(
    out: &Path,
    mtime: u64,
    control_name: &str,
    control: &[u8],
    data_name: &str,
    data: &mut File,
) -> Result<ArDone, DebError> {
    let output = DebError::output(out);
    let data_size = data.seek(SeekFrom::End(0)).map_err(output)?;
    data.seek(SeekFrom::Start(0)).map_err(output)?;
    if data_size > AR_MAX_SIZE {
        return Err(output(io::Error::other(format!(
            "the data member is {data_size} bytes, more than an ar archive can hold ({AR_MAX_SIZE})"
        ))));
    }
    let mut done = None;
    atomic::write_with_mode(out, 0o644, |w| {
        let mut hashing = HashingWriter {
            inner: w,
            sha: Sha256::new(),
            len: 0,
        };
        {
            let mut ar = ar::Builder::new(&mut hashing);
            ar.append(&member("debian-binary", 4, mtime), &b"2.0\n"[..])?;
            ar.append(&member(control_name, control.len() as u64, mtime), control)?;
            let reader = BufReader::with_capacity(1 << 20, &mut *data);
            ar.append(&member(data_name, data_size, mtime), reader)?;
        }
        done = Some(ArDone {
            size: hashing.len,
            sha256: hex(&hashing.sha.finalize()),
        });
        Ok(())
    })
    .map_err(|e| output(e.source))?;
    done.ok_or_else(|| output(io::Error::other("the archive was not written")))
}

fn member(name: &str, size: u64, mtime: u64) -> ar::Header {
    let mut header = ar::Header::new(name.as_bytes().to_vec(), size);
    header.set_mtime(mtime);
    header.set_uid(0);
    header.set_gid(0);
    header.set_mode(0o100644);
    header
}

/// Passes bytes through while hashing and counting them.
struct HashingWriter<W: Write> {
    inner: W,
    sha: Sha256,
    len: u64,
}

impl<W: Write> Write for HashingWriter<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let n = self.inner.write(buf)?;
        self.sha.update(&buf[..n]);
        self.len += n as u64;
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.inner.flush()
    }
}
