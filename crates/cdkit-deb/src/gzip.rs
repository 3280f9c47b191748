//! Deterministic parallel gzip: the input is cut into fixed 1 MiB blocks, each compressed on
//! a worker thread into its own gzip member, and the members are written in order.
//!
//! A concatenation of gzip members is a valid gzip file (RFC 1952 §2.2) that gzip, zlib's
//! `gzread` (dpkg), apt and lintian decompress as one stream. Because the block boundaries
//! depend only on the input and every member header is constant (no name, mtime 0, OS 3 =
//! Unix whatever the build machine), the output is the same for any thread count. Each
//! member starts with an empty dictionary, which costs < 0.1 % in size at 1 MiB blocks.
//!
//! Deflate is zlib-rs (flate2's backend here), whose levels follow zlib-ng: -6 is its
//! "medium" strategy, about 1.5 % larger than zlib's -6 and twice as fast; -9 is smaller
//! than zlib's -6. Its match finder does not depend on CPU features (SIMD variants compute
//! the same matches), so the bytes depend only on the input and the crate version.

use std::cell::RefCell;
use std::io::{self, Write};
use std::sync::Arc;

use flate2::{Compress, FlushCompress, Status};

use super::pool::{BlockFn, OrderedPool};

/// Uncompressed bytes per gzip member. Fixed: changing it changes the output.
pub(crate) const BLOCK_SIZE: usize = 1 << 20;

/// A `Write` sink that gzips into `out` on `threads` threads. Data only reaches `out` at
/// block boundaries; [`ParallelGzip::finish`] writes the rest. `flush` does not cut a
/// block (that would make the output depend on when callers flush).
pub(crate) struct ParallelGzip<W: Write> {
    out: W,
    block: Vec<u8>,
    pool: OrderedPool,
}

impl<W: Write> ParallelGzip<W> {
    /// A compressor at `level` (1–9) on `threads` worker threads.
    pub(crate) fn new(out: W, level: u32, threads: usize) -> io::Result<Self> {
        let work: Arc<BlockFn> = Arc::new(move |block: &[u8]| gzip_member(block, level));
        Ok(ParallelGzip {
            out,
            block: Vec::with_capacity(BLOCK_SIZE),
            pool: OrderedPool::new(threads, work)?,
        })
    }

    /// Compress what is left, wait for every block, and return the inner writer.
    pub(crate) fn finish(mut self) -> io::Result<W> {
        // An empty input still becomes one (empty) member: a valid gzip file.
        if !self.block.is_empty() || self.pool.submitted() == 0 {
            self.submit_block()?;
        }
        self.pool.drain(&mut self.out)?;
        Ok(self.out)
    }

    fn submit_block(&mut self) -> io::Result<()> {
        let next = self.pool.buffer(BLOCK_SIZE);
        let block = std::mem::replace(&mut self.block, next);
        self.pool.submit(block, &mut self.out)
    }
}

impl<W: Write> Write for ParallelGzip<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let n = buf.len().min(BLOCK_SIZE - self.block.len());
        self.block.extend_from_slice(&buf[..n]);
        if self.block.len() == BLOCK_SIZE {
            self.submit_block()?;
        }
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// One complete gzip member for `data`: a constant 10-byte header (no timestamp, OS 3), the
/// raw deflate stream, CRC-32 and length. XFL follows GNU gzip (2 = best, 4 = fastest).
///
/// Deflate output goes to a per-thread scratch buffer first and is then copied into an
/// exactly sized result: allocating a worst-case buffer per block and freeing it on the
/// writer thread made glibc's heap (and the RSS) grow with the input size.
pub(crate) fn gzip_member(data: &[u8], level: u32) -> io::Result<Vec<u8>> {
    thread_local! {
        static SCRATCH: RefCell<Vec<u8>> = const { RefCell::new(Vec::new()) };
    }
    let xfl = match level {
        9 => 2,
        1 => 4,
        _ => 0,
    };
    SCRATCH.with(|scratch| {
        let mut scratch = scratch.borrow_mut();
        deflate_into(data, level, &mut scratch)?;
        let mut out = Vec::with_capacity(scratch.len() + 18);
        out.extend_from_slice(&[0x1f, 0x8b, 8, 0, 0, 0, 0, 0, xfl, 3]);
        out.extend_from_slice(&scratch);
        let mut crc = flate2::Crc::new();
        crc.update(data);
        out.extend_from_slice(&crc.sum().to_le_bytes());
        // ISIZE is the length modulo 2^32 (RFC 1952); blocks are far smaller anyway.
        out.extend_from_slice(&(data.len() as u32).to_le_bytes());
        Ok(out)
    })
}

/// Raw deflate of `data` into `out` (cleared first), growing it only if deflate's usual
/// worst case (input + 0.1 % + a few bytes) is exceeded.
fn deflate_into(data: &[u8], level: u32, out: &mut Vec<u8>) -> io::Result<()> {
    let mut deflate = Compress::new(flate2::Compression::new(level), false);
    out.clear();
    out.reserve(data.len() + data.len() / 1000 + 1024);
    loop {
        let consumed = usize::try_from(deflate.total_in()).map_err(io::Error::other)?;
        let status = deflate
            .compress_vec(&data[consumed..], out, FlushCompress::Finish)
            .map_err(io::Error::other)?;
        match status {
            Status::StreamEnd => return Ok(()),
            Status::Ok | Status::BufError => out.reserve(64 * 1024),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Read;

    fn sample(len: usize) -> Vec<u8> {
        let mut x: u32 = 1;
        (0..len)
            .map(|_| {
                x = x.wrapping_mul(1_103_515_245).wrapping_add(12_345);
                b"abcdefgh \n"[(x >> 16) as usize % 10]
            })
            .collect()
    }

    fn gzip(data: &[u8], threads: usize, chunk: usize) -> Vec<u8> {
        let mut gz = ParallelGzip::new(Vec::new(), 6, threads).unwrap();
        for piece in data.chunks(chunk.max(1)) {
            gz.write_all(piece).unwrap();
            gz.flush().unwrap();
        }
        gz.finish().unwrap()
    }

    #[test]
    fn output_is_identical_for_any_thread_count_and_write_pattern() {
        let data = sample(3 * BLOCK_SIZE + 12_345);
        let one = gzip(&data, 1, 65_536);
        assert_eq!(gzip(&data, 3, 7_919), one);
        assert_eq!(gzip(&data, 8, data.len()), one);
        // Four members, each with the constant header.
        let headers = one
            .windows(10)
            .filter(|w| *w == [0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 3])
            .count();
        assert!(headers >= 4, "{headers}");
        let mut back = Vec::new();
        flate2::read::MultiGzDecoder::new(&one[..])
            .read_to_end(&mut back)
            .unwrap();
        assert_eq!(back, data);
    }

    #[test]
    fn empty_input_is_a_valid_gzip_file() {
        let out = gzip(&[], 2, 1);
        let mut back = Vec::new();
        flate2::read::MultiGzDecoder::new(&out[..])
            .read_to_end(&mut back)
            .unwrap();
        assert!(back.is_empty());
        assert_eq!(&out[..4], &[0x1f, 0x8b, 8, 0]);
    }
}
