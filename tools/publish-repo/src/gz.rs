//! Packages.gz as concatenated gzip members, one per chunk of the index (RFC 1952 allows
//! any number of members; zlib's gzread, which apt uses, GNU gzip and Python read them all).
//!
//! Every member carries its own length in an extra field (`PR`, like BGZF's `BC`), so the
//! members of the previous Packages.gz can be found without inflating it, and an unchanged
//! chunk's member is copied byte for byte instead of being compressed again.

use std::io::Write;
use std::ops::Range;

use crate::codec::crc32;

/// The extra subfield's id, and the version of how members are made (level, layout): a
/// member made another way is never reused, so the output stays a function of the input.
const SUBFIELD: [u8; 2] = [b'P', b'R'];
const VERSION: u8 = 2;
/// deflate level of every member. With zlib-rs, -9 was both slower and larger than -6 on
/// Packages text (819 KB against 736 KB for the 10,000-package benchmark index).
const LEVEL: u32 = 6;
/// Fixed header (10) + XLEN (2) + subfield id (2) + its length (2) + version (1) + member
/// length (4).
const HEADER_SIZE: usize = 21;
const TRAILER_SIZE: usize = 8;

/// A member found in an existing .gz file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FoundMember {
    /// Where the member lies in the file.
    pub range: Range<usize>,
    /// CRC-32 and length (mod 2^32) of the member's uncompressed data.
    pub crc: u32,
    /// See `crc`.
    pub size: u32,
}

/// One complete gzip member holding `data`.
pub fn encode_member(data: &[u8]) -> std::io::Result<Vec<u8>> {
    let mut out = Vec::with_capacity(HEADER_SIZE + data.len() / 3 + 64);
    out.extend_from_slice(&[0u8; HEADER_SIZE]);
    let mut deflate = flate2::write::DeflateEncoder::new(out, flate2::Compression::new(LEVEL));
    deflate.write_all(data)?;
    let mut out = deflate.finish()?;
    out.extend_from_slice(&crc32(data).to_le_bytes());
    out.extend_from_slice(&(data.len() as u32).to_le_bytes());
    let total = u32::try_from(out.len())
        .map_err(|_| std::io::Error::other("a gzip member of 4 GiB or more"))?;
    out[..HEADER_SIZE].copy_from_slice(&header(total));
    Ok(out)
}

/// Header: deflate, FEXTRA only, mtime 0, XFL 0 (default compression), OS 255 (unknown), and
/// the `PR` subfield with our version and the member's total length.
fn header(total: u32) -> [u8; HEADER_SIZE] {
    let mut h = [0u8; HEADER_SIZE];
    h[..4].copy_from_slice(&[0x1f, 0x8b, 0x08, 0x04]);
    h[9] = 255;
    h[10..12].copy_from_slice(&9u16.to_le_bytes()); // XLEN
    h[12..14].copy_from_slice(&SUBFIELD);
    h[14..16].copy_from_slice(&5u16.to_le_bytes());
    h[16] = VERSION;
    h[17..21].copy_from_slice(&total.to_le_bytes());
    h
}

/// The members of a file [`encode_member`] wrote (concatenated), or `None` if it is
/// anything else (an older single-member file, say): then nothing is reused.
pub fn members(file: &[u8]) -> Option<Vec<FoundMember>> {
    let mut found = Vec::new();
    let mut offset = 0;
    while offset < file.len() {
        let rest = &file[offset..];
        if rest.len() < HEADER_SIZE + TRAILER_SIZE {
            return None;
        }
        let total = u32::from_le_bytes(rest[17..21].try_into().ok()?) as usize;
        if rest[..HEADER_SIZE] != header(total as u32)
            || total < HEADER_SIZE + TRAILER_SIZE
            || total > rest.len()
        {
            return None;
        }
        let trailer = &rest[total - TRAILER_SIZE..total];
        found.push(FoundMember {
            range: offset..offset + total,
            crc: u32::from_le_bytes(trailer[..4].try_into().ok()?),
            size: u32::from_le_bytes(trailer[4..].try_into().ok()?),
        });
        offset += total;
    }
    Some(found)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Read;

    #[test]
    fn members_concatenate_into_one_gzip_file_we_can_walk() {
        let texts: Vec<Vec<u8>> = (0..4)
            .map(|i| format!("Package: p{i}\n").repeat(i * 500).into_bytes())
            .collect();
        let members_bytes: Vec<Vec<u8>> = texts.iter().map(|t| encode_member(t).unwrap()).collect();
        let file = members_bytes.concat();
        let mut out = Vec::new();
        flate2::read::MultiGzDecoder::new(&file[..])
            .read_to_end(&mut out)
            .unwrap();
        assert_eq!(out, texts.concat());
        let found = members(&file).unwrap();
        assert_eq!(found.len(), 4);
        for ((f, m), t) in found.iter().zip(&members_bytes).zip(&texts) {
            assert_eq!(&file[f.range.clone()], m.as_slice());
            assert_eq!((f.crc, f.size), (crc32(t), t.len() as u32));
        }
        assert_eq!(members(b"").unwrap(), vec![]);
        // A plain gzip file (no length field) is not ours to split.
        let mut plain = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::new(9));
        plain.write_all(&texts[1]).unwrap();
        assert!(members(&plain.finish().unwrap()).is_none());
        assert!(members(&file[..file.len() - 1]).is_none());
    }
}
