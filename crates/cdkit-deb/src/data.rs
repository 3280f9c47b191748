//! Streaming the payload into the compressed data member: each source file is opened once
//! and read in fixed chunks that go to the md5 digest and the tar stream at the same time,
//! so memory stays at a few buffers whatever the file sizes.

use std::fs::File;
use std::io::{self, BufWriter, Read, Write};
use std::path::{Path, PathBuf};

use md5::{Digest, Md5};

use cdkit::hash::hex;

use super::compression::Compression;
use super::encoder::Encoder;
use super::entries::{Kind, Plan, Planned};
use super::error::DebError;
use super::tar_stream::{Meta, TarWriter};

/// Bytes read from a source file at a time.
const READ_CHUNK: usize = 256 * 1024;

/// What the control member needs to know about the payload.
#[derive(Debug, Default)]
pub(crate) struct DataSummary {
    /// `(path without leading /, hex md5)` per regular file, in tree order.
    pub md5sums: Vec<(String, String)>,
    /// Installed-Size in KiB, computed as dpkg-gencontrol does (see [`installed_kib`]).
    pub installed_size_kib: u64,
    /// Number of tar entries.
    pub entries: usize,
}

/// Write the tar of `tree`, compressed, to `out`. `out_path` names the output in errors.
pub(crate) fn write_data<W: Write>(
    tree: &Plan<'_>,
    mtime: u64,
    compression: Compression,
    threads: usize,
    out: W,
    out_path: &Path,
) -> Result<(DataSummary, W), DebError> {
    let output = DebError::output(out_path);
    let encoder = Encoder::new(out, compression, threads).map_err(output)?;
    // Batch the tar's 512-byte header writes before they reach the compressor.
    let mut tar = TarWriter::new(BufWriter::with_capacity(READ_CHUNK, encoder));
    let mut summary = DataSummary::default();
    let mut buf = vec![0u8; READ_CHUNK];
    for entry in tree.values() {
        let name = entry.tar_name();
        let meta = Meta {
            mode: entry.mode,
            uid: entry.uid,
            gid: entry.gid,
            owner: entry.owner,
            group: entry.group,
            mtime,
        };
        match entry.kind {
            Kind::Dir => {
                tar.dir(&name, &meta).map_err(output)?;
                summary.installed_size_kib += 1;
            }
            Kind::Symlink(target) => {
                tar.symlink(&name, target, &meta).map_err(output)?;
                summary.installed_size_kib += installed_kib(target.len() as u64);
            }
            Kind::File(source) => {
                let (size, md5) =
                    copy_file(entry, source, &name, &meta, &mut tar, &mut buf, out_path)?;
                summary.installed_size_kib += installed_kib(size);
                summary.md5sums.push((entry.rel.clone(), md5));
            }
        }
        summary.entries += 1;
    }
    let buffered = tar.finish().map_err(output)?;
    let encoder = buffered.into_inner().map_err(|e| output(e.into_error()))?;
    let out = encoder.finish().map_err(output)?;
    Ok((summary, out))
}

/// dpkg-gencontrol's size of a file or symlink: `ceil(bytes / 1024)` (a symlink's bytes are
/// its target's length). Directories count 1 each, the root included, as dpkg-gencontrol's
/// `find` over the package directory counts it.
pub(crate) fn installed_kib(bytes: u64) -> u64 {
    bytes.div_ceil(1024)
}

/// Stream one source file into the tar, returning its size and hex md5.
fn copy_file<W: Write>(
    entry: &Planned<'_>,
    source: &Path,
    name: &str,
    meta: &Meta<'_>,
    tar: &mut TarWriter<W>,
    buf: &mut [u8],
    out_path: &Path,
) -> Result<(u64, String), DebError> {
    let package_path = format!("/{}", entry.rel);
    let read_error = |e: io::Error| DebError::Source {
        path: package_path.clone(),
        source_path: PathBuf::from(source),
        source: e,
    };
    let output = DebError::output(out_path);
    let mut file = File::open(source).map_err(read_error)?;
    let metadata = file.metadata().map_err(read_error)?;
    if !metadata.is_file() {
        return Err(read_error(io::Error::new(
            io::ErrorKind::InvalidInput,
            "not a regular file",
        )));
    }
    let size = metadata.len();
    tar.begin_file(name, size, meta).map_err(output)?;
    let mut md5 = Md5::new();
    let mut read: u64 = 0;
    loop {
        let n = match file.read(buf) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(read_error(e)),
        };
        read += n as u64;
        if read > size {
            break;
        }
        md5.update(&buf[..n]);
        tar.data(&buf[..n]).map_err(output)?;
    }
    if read != size {
        return Err(DebError::SourceChanged {
            path: package_path,
            source_path: source.to_path_buf(),
            expected: size,
            actual: read,
        });
    }
    tar.end_file().map_err(output)?;
    Ok((size, hex(&md5.finalize())))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn installed_size_rounds_up_per_file() {
        assert_eq!(installed_kib(0), 0);
        assert_eq!(installed_kib(1), 1);
        assert_eq!(installed_kib(1024), 1);
        assert_eq!(installed_kib(1025), 2);
    }
}
