//! The .xz container around independently compressed blocks, written and read by hand
//! (format: <https://tukaani.org/xz/xz-file-format.txt>).
//!
//! A Packages.xz is ONE stream holding one block per chunk of the index: apt decodes only the
//! first stream of a file, so concatenated streams would hide every package after the first
//! chunk, but any number of blocks in one stream is ordinary xz (multi-threaded xz writes it
//! too). Each block is raw LZMA2 from liblzma with a CRC-32 check, so a block whose text did
//! not change can be copied from the previous Packages.xz byte for byte; only the changed
//! chunk is compressed again.

use std::ops::Range;

use crate::codec::crc32;

/// xz's stream header magic and footer magic.
const HEADER_MAGIC: [u8; 6] = [0xFD, b'7', b'z', b'X', b'Z', 0x00];
const FOOTER_MAGIC: [u8; 2] = [b'Y', b'Z'];
/// Stream flags: no reserved bits, check type 0x01 (CRC-32, 4 bytes).
const FLAGS: [u8; 2] = [0x00, 0x01];
const CHECK_SIZE: usize = 4;
/// The LZMA2 filter's id.
const LZMA2: u8 = 0x21;
/// Our block headers: size byte, flags, filter id, properties size, dictionary byte, three
/// bytes of padding, CRC-32.
const BLOCK_HEADER_SIZE: usize = 12;

/// One complete block (header, LZMA2 data, padding, check) and the sizes the index records.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Block {
    /// The block as written into the file.
    pub bytes: Vec<u8>,
    /// Header + compressed data + check, without padding (the index's "unpadded size").
    pub unpadded: u64,
    /// The size of the block's uncompressed data.
    pub uncompressed: u64,
}

/// A block found in an existing .xz file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FoundBlock {
    /// Where the block (padding and check included) lies in the file.
    pub range: Range<usize>,
    /// As [`Block::unpadded`].
    pub unpadded: u64,
    /// As [`Block::uncompressed`].
    pub uncompressed: u64,
    /// CRC-32 of the block's uncompressed data (its check field).
    pub crc: u32,
}

/// Compress `data` as one block at `preset`, its dictionary no larger than the data needs
/// (a preset-6 encoder would otherwise set up an 8 MiB dictionary for every chunk).
pub fn encode_block(data: &[u8], preset: u32) -> std::io::Result<Block> {
    let dict_byte = dict_size_byte(data.len() as u64);
    let mut options = liblzma::stream::LzmaOptions::new_preset(preset).map_err(other)?;
    options.dict_size(dict_size(dict_byte));
    let mut filters = liblzma::stream::Filters::new();
    filters.lzma2(&options);
    let mut stream = liblzma::stream::Stream::new_raw_encoder(&filters).map_err(other)?;

    let mut bytes = Vec::with_capacity(BLOCK_HEADER_SIZE + data.len() / 3 + 64);
    bytes.extend_from_slice(&block_header(dict_byte));
    let mut input = data;
    loop {
        if bytes.capacity() - bytes.len() < 4096 {
            bytes.reserve(bytes.capacity().max(4096));
        }
        let before = stream.total_in();
        let status = stream
            .process_vec(input, &mut bytes, liblzma::stream::Action::Finish)
            .map_err(other)?;
        input = &input[(stream.total_in() - before) as usize..];
        if status == liblzma::stream::Status::StreamEnd {
            break;
        }
    }
    let unpadded = (bytes.len() + CHECK_SIZE) as u64;
    bytes.resize(bytes.len().next_multiple_of(4), 0);
    bytes.extend_from_slice(&crc32(data).to_le_bytes());
    Ok(Block {
        bytes,
        unpadded,
        uncompressed: data.len() as u64,
    })
}

/// A whole .xz file: stream header, `blocks` (as `(bytes, unpadded, uncompressed)`, each
/// either just encoded or copied from an earlier file), index and stream footer.
pub fn stream<'a>(blocks: impl IntoIterator<Item = (&'a [u8], u64, u64)>) -> Vec<u8> {
    let mut out = Vec::new();
    out.extend_from_slice(&HEADER_MAGIC);
    out.extend_from_slice(&FLAGS);
    out.extend_from_slice(&crc32(&FLAGS).to_le_bytes());
    let mut index = vec![0x00u8];
    let mut records = Vec::new();
    let mut count = 0u64;
    for (bytes, unpadded, uncompressed) in blocks {
        out.extend_from_slice(bytes);
        varint(&mut records, unpadded);
        varint(&mut records, uncompressed);
        count += 1;
    }
    varint(&mut index, count);
    index.extend_from_slice(&records);
    index.resize(index.len().next_multiple_of(4), 0);
    index.extend_from_slice(&crc32(&index).to_le_bytes());
    out.extend_from_slice(&index);
    let mut footer = Vec::with_capacity(6);
    footer.extend_from_slice(&((index.len() / 4 - 1) as u32).to_le_bytes());
    footer.extend_from_slice(&FLAGS);
    out.extend_from_slice(&crc32(&footer).to_le_bytes());
    out.extend_from_slice(&footer);
    out.extend_from_slice(&FOOTER_MAGIC);
    out
}

/// The blocks of a single-stream .xz file with CRC-32 checks (what [`stream`] writes), or
/// `None` for anything else: another layout only means nothing can be reused.
pub fn blocks(file: &[u8]) -> Option<Vec<FoundBlock>> {
    if file.len() < 24 || file[..6] != HEADER_MAGIC || file[6..8] != FLAGS {
        return None;
    }
    let footer = &file[file.len() - 12..];
    if footer[10..] != FOOTER_MAGIC || footer[8..10] != FLAGS {
        return None;
    }
    if crc32(&footer[4..10]).to_le_bytes() != footer[..4] {
        return None;
    }
    let index_size = (u32::from_le_bytes(footer[4..8].try_into().ok()?) as usize + 1) * 4;
    let index_start = file.len().checked_sub(12 + index_size)?;
    let index = &file[index_start..file.len() - 12];
    let (body, sum) = index.split_at(index.len() - 4);
    if body.first() != Some(&0) || crc32(body).to_le_bytes() != sum {
        return None;
    }
    let mut pos = 1;
    let count = read_varint(body, &mut pos)?;
    let mut found = Vec::new();
    let mut offset = 12usize;
    for _ in 0..count {
        let unpadded = read_varint(body, &mut pos)?;
        let uncompressed = read_varint(body, &mut pos)?;
        let padded = usize::try_from(unpadded)
            .ok()?
            .checked_next_multiple_of(4)?;
        let end = offset.checked_add(padded)?;
        if end > index_start || unpadded < (BLOCK_HEADER_SIZE + CHECK_SIZE) as u64 {
            return None;
        }
        let crc = u32::from_le_bytes(file[end - 4..end].try_into().ok()?);
        found.push(FoundBlock {
            range: offset..end,
            unpadded,
            uncompressed,
            crc,
        });
        offset = end;
    }
    (offset == index_start).then_some(found)
}

/// Block header: one LZMA2 filter, no optional size fields.
fn block_header(dict_byte: u8) -> [u8; BLOCK_HEADER_SIZE] {
    let mut h = [0u8; BLOCK_HEADER_SIZE];
    h[0] = (BLOCK_HEADER_SIZE / 4 - 1) as u8;
    h[1] = 0x00; // one filter, no compressed/uncompressed size fields
    h[2] = LZMA2;
    h[3] = 1; // size of the filter properties
    h[4] = dict_byte;
    let crc = crc32(&h[..8]);
    h[8..].copy_from_slice(&crc.to_le_bytes());
    h
}

/// The LZMA2 dictionary-size property: the smallest encodable size (2^n or 3·2^(n-1),
/// at least 4 KiB) that holds `len` bytes.
pub fn dict_size_byte(len: u64) -> u8 {
    (0u8..40)
        .find(|&b| u64::from(dict_size(b)) >= len)
        .unwrap_or(40)
}

/// The dictionary size a property byte stands for.
fn dict_size(byte: u8) -> u32 {
    if byte >= 40 {
        return u32::MAX;
    }
    (2 | (u32::from(byte) & 1)) << (byte / 2 + 11)
}

fn varint(out: &mut Vec<u8>, mut n: u64) {
    while n >= 0x80 {
        out.push((n as u8) | 0x80);
        n >>= 7;
    }
    out.push(n as u8);
}

fn read_varint(bytes: &[u8], pos: &mut usize) -> Option<u64> {
    let mut n = 0u64;
    for shift in (0..63).step_by(7) {
        let b = *bytes.get(*pos)?;
        *pos += 1;
        n |= u64::from(b & 0x7F) << shift;
        if b & 0x80 == 0 {
            return Some(n);
        }
    }
    None
}

fn other(e: liblzma::stream::Error) -> std::io::Error {
    std::io::Error::other(e)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Read;

    fn decode(file: &[u8]) -> Vec<u8> {
        let mut out = Vec::new();
        liblzma::read::XzDecoder::new(file)
            .read_to_end(&mut out)
            .unwrap();
        out
    }

    #[test]
    fn dictionary_sizes_follow_the_format() {
        assert_eq!(dict_size(0), 4096);
        assert_eq!(dict_size(1), 6144);
        assert_eq!(dict_size(2), 8192);
        assert_eq!(dict_size_byte(0), 0);
        assert_eq!(dict_size_byte(4097), 1);
        assert_eq!(dict_size_byte(8 << 20), 22); // 8 MiB, xz -6's dictionary
    }

    #[test]
    fn blocks_make_one_stream_that_liblzma_reads_and_we_can_walk() {
        let texts: Vec<Vec<u8>> = (0..5)
            .map(|i| format!("Package: p{i}\n").repeat(i * 700 + 1).into_bytes())
            .collect();
        let encoded: Vec<Block> = texts.iter().map(|t| encode_block(t, 6).unwrap()).collect();
        let file = stream(
            encoded
                .iter()
                .map(|b| (b.bytes.as_slice(), b.unpadded, b.uncompressed)),
        );
        assert_eq!(decode(&file), texts.concat());
        let found = blocks(&file).unwrap();
        assert_eq!(found.len(), 5);
        for ((f, b), t) in found.iter().zip(&encoded).zip(&texts) {
            assert_eq!(&file[f.range.clone()], b.bytes.as_slice());
            assert_eq!(f.crc, crc32(t));
            assert_eq!(f.uncompressed, t.len() as u64);
        }
        // The empty index is a valid stream too.
        assert_eq!(decode(&stream([])), b"");
        assert_eq!(blocks(&stream([])).unwrap(), vec![]);
        // Anything else is simply not reusable.
        let single = liblzma::encode_all(&texts[1][..], 6).unwrap();
        assert!(
            blocks(&single).is_none(),
            "xz's own default has CRC-64 checks"
        );
        assert!(blocks(&file[..file.len() - 1]).is_none());
        assert!(blocks(b"").is_none());
    }
}
