//! The data.tar compressor: one `Write` sink per [`Compression`], each parallel where the
//! format allows and each producing the same bytes whatever the thread count.
//!
//! - gzip: [`ParallelGzip`] (fixed 1 MiB members).
//! - xz: liblzma's multi-threaded stream encoder with the block size fixed from the preset
//!   (3 × dictionary size, at least 1 MiB: xz's and dpkg-deb's own default). The encoder is
//!   used even with one thread, because liblzma's MT output depends only on the block size
//!   and filters, never on the number of threads; its single-threaded encoder writes a
//!   different (also valid) stream.
//! - zstd: zstdmt with at least one worker (never 0, "single-threaded mode", whose frames
//!   differ); zstdmt cuts jobs by size only, so the output does not depend on the worker
//!   count (checked by the integration tests).

use std::io::{self, Write};

use liblzma::stream::{Check, Filters, LzmaOptions, MtStreamBuilder};
use liblzma::write::XzEncoder;

use super::compression::Compression;
use super::gzip::ParallelGzip;

/// A compressing writer over `W`; call [`Encoder::finish`] to end the stream.
pub(crate) enum Encoder<W: Write> {
    Gzip(ParallelGzip<W>),
    Xz(XzEncoder<W>),
    Zstd(zstd::stream::write::Encoder<'static, W>),
    None(W),
}

impl<W: Write> Encoder<W> {
    /// Start compressing into `out` with `threads` (≥ 1) threads.
    pub(crate) fn new(out: W, compression: Compression, threads: usize) -> io::Result<Self> {
        let threads = threads.max(1);
        Ok(match compression {
            Compression::Gzip(level) => Encoder::Gzip(ParallelGzip::new(out, level, threads)?),
            Compression::Xz(level) => {
                Encoder::Xz(XzEncoder::new_stream(out, xz_stream(level, threads)?))
            }
            Compression::Zstd(level) => {
                let mut z = zstd::stream::write::Encoder::new(out, level)?;
                z.include_checksum(true)?;
                z.multithread(u32::try_from(threads).unwrap_or(u32::MAX))?;
                Encoder::Zstd(z)
            }
            Compression::None => Encoder::None(out),
        })
    }

    /// End the compressed stream and return the inner writer.
    pub(crate) fn finish(self) -> io::Result<W> {
        match self {
            Encoder::Gzip(g) => g.finish(),
            Encoder::Xz(x) => x.finish(),
            Encoder::Zstd(z) => z.finish(),
            Encoder::None(w) => Ok(w),
        }
    }
}

/// The MT xz stream for `preset` with a block size that depends on the preset only. The
/// thread count is lowered (as dpkg-deb does) until the encoder fits in half the available
/// memory: at -9 each thread needs ~1.3 GiB. That changes the speed, never the bytes.
fn xz_stream(preset: u32, threads: usize) -> io::Result<liblzma::stream::Stream> {
    let options = LzmaOptions::new_preset(preset).map_err(io::Error::other)?;
    let mut filters = Filters::new();
    filters.lzma2(&options);
    let block_size = filters.mt_block_size();
    let mut builder = MtStreamBuilder::new();
    builder
        .block_size(block_size)
        .preset(preset)
        .check(Check::Crc64)
        .timeout_ms(0);
    let mut threads = u32::try_from(threads).unwrap_or(u32::MAX).max(1);
    if let Some(budget) = memory_budget() {
        while threads > 1 && builder.threads(threads).memusage() > budget {
            threads -= 1;
        }
    }
    builder.threads(threads).encoder().map_err(io::Error::other)
}

/// Half of `MemAvailable` from /proc/meminfo, in bytes; `None` where that is unknown.
fn memory_budget() -> Option<u64> {
    let meminfo = std::fs::read_to_string("/proc/meminfo").ok()?;
    let line = meminfo.lines().find(|l| l.starts_with("MemAvailable:"))?;
    let kib: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib * 1024 / 2)
}

impl<W: Write> Write for Encoder<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        match self {
            Encoder::Gzip(g) => g.write(buf),
            Encoder::Xz(x) => x.write(buf),
            Encoder::Zstd(z) => z.write(buf),
            Encoder::None(w) => w.write(buf),
        }
    }

    fn write_all(&mut self, buf: &[u8]) -> io::Result<()> {
        match self {
            Encoder::Gzip(g) => g.write_all(buf),
            Encoder::Xz(x) => x.write_all(buf),
            Encoder::Zstd(z) => z.write_all(buf),
            Encoder::None(w) => w.write_all(buf),
        }
    }

    /// Flushing is deliberately a no-op for every compressor: a flush would end an xz block
    /// or zstd job early and make the output depend on the caller's write pattern.
    fn flush(&mut self) -> io::Result<()> {
        match self {
            Encoder::None(w) => w.flush(),
            _ => Ok(()),
        }
    }
}
