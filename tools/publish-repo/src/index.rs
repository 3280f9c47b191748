//! Packages indexes: one stanza per package version (its control fields plus Filename, Size
//! and checksums), written uncompressed, gzip and xz, with the sizes and SHA-256 sums the
//! Release file lists.
//!
//! Compressing a 10,000-package index takes longer than everything else in a publish, so the
//! text is cut into chunks at package boundaries chosen by a hash of the package name
//! ([`chunk_ends_after`]): adding or removing a package changes one chunk and leaves every other
//! chunk's bytes alone. Each chunk becomes one gzip member and one xz block; members and
//! blocks whose text is unchanged are copied from the previous generation's files (checked
//! against its Packages text) and only the rest are compressed, on every core. The result
//! depends only on the text: a fresh publish and an incremental one write the same bytes.

use std::borrow::Cow;
use std::collections::HashMap;
use std::ops::Range;
use std::path::Path;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;

use crate::codec::crc32;
use crate::error::Error;
use crate::state::Entry;
use crate::{gz, xz};

/// Fields the index writes itself; taken out of the control paragraph if a package has them.
const INDEX_FIELDS: [&str; 6] = ["Filename", "Size", "MD5sum", "SHA1", "SHA256", "SHA512"];

/// A chunk ends after a package whose name hashes to 0 modulo this: 128 packages per chunk
/// on average (~60 KB of text for small packages, ~150 KB for typical ones).
const CHUNK_MODULUS: u64 = 128;

/// A chunk also ends, at the next package boundary, once it holds this much text (so a run
/// of unlucky names cannot make one huge chunk).
const CHUNK_MAX: usize = 1 << 20;

/// xz preset of every block (apt downloads the .xz). On chunked Packages text preset 4 comes
/// within 2% of preset 6's size at less than half its time (620 KB against 609 KB for the
/// 10,000-package benchmark index; preset 3 and below: 755 KB), which matters for a full
/// index, where every chunk is compressed.
const XZ_PRESET: u32 = 4;

/// One file of a Packages index, ready to write.
#[derive(Debug, Clone)]
pub struct IndexFile {
    /// Path relative to `dists/SUITE` (`main/binary-amd64/Packages.gz`).
    pub path: String,
    pub bytes: Vec<u8>,
    pub sha256: String,
}

/// The lines of a Packages stanza that come from the control paragraph (`Name: value\n`…),
/// without the fields the index writes itself. Rendered once when a package is added.
pub fn control_lines(fields: &[(String, String)]) -> String {
    let mut out = String::new();
    for (name, value) in fields {
        if INDEX_FIELDS.iter().any(|f| f.eq_ignore_ascii_case(name)) {
            continue;
        }
        out.push_str(name);
        out.push_str(": ");
        out.push_str(value);
        out.push('\n');
    }
    out
}

/// The Packages text for `entries` (in order), and where each chunk ends in it.
pub fn packages_text(entries: &[&Entry]) -> (String, Vec<usize>) {
    let mut out = String::with_capacity(entries.iter().map(|e| e.control.len() + 250).sum());
    let mut ends = Vec::new();
    let mut chunk_start = 0;
    for (i, entry) in entries.iter().enumerate() {
        // The checksums follow the control fields, as apt-ftparchive writes them.
        out.push_str(&entry.control);
        out.push_str("Filename: ");
        out.push_str(&entry.filename);
        out.push_str("\nSize: ");
        out.push_str(&entry.size.to_string());
        out.push_str("\nMD5sum: ");
        out.push_str(&entry.md5);
        out.push_str("\nSHA256: ");
        out.push_str(&entry.sha256);
        out.push_str("\n\n");
        let last_of_package = entries
            .get(i + 1)
            .is_none_or(|next| next.package != entry.package);
        if last_of_package
            && (chunk_ends_after(&entry.package) || out.len() - chunk_start >= CHUNK_MAX)
        {
            ends.push(out.len());
            chunk_start = out.len();
        }
    }
    if ends.last() != Some(&out.len()) {
        ends.push(out.len()); // the last chunk (also the one empty chunk of an empty index)
    }
    (out, ends)
}

/// Whether a chunk ends after the stanzas of `package`: a stable function of the name alone
/// (FNV-1a), so the boundaries between unchanged packages never move.
fn chunk_ends_after(package: &str) -> bool {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for byte in package.bytes() {
        hash ^= u64::from(byte);
        hash = hash.wrapping_mul(0x0000_0100_0000_01b3);
    }
    hash.is_multiple_of(CHUNK_MODULUS)
}

/// The compressed files of the previous generation of this index, to reuse unchanged chunks.
#[derive(Debug, Default)]
pub struct Previous {
    pub text: Vec<u8>,
    pub gz: Vec<u8>,
    pub xz: Vec<u8>,
}

impl Previous {
    /// `Packages`, `Packages.gz` and `Packages.xz` from `dir`; missing files mean no reuse.
    pub fn read(dir: &Path) -> Previous {
        let read = |name: &str| std::fs::read(dir.join(name)).unwrap_or_default();
        Previous {
            text: read("Packages"),
            gz: read("Packages.gz"),
            xz: read("Packages.xz"),
        }
    }
}

/// Where a reusable piece lies: its text in the previous Packages and its bytes in the
/// previous compressed file (and, for an xz block, its unpadded size).
struct Reusable {
    text: Range<usize>,
    bytes: Range<usize>,
    unpadded: u64,
}

/// Reusable gzip members and xz blocks of `previous`, keyed by (CRC-32, length) of their text.
type ReuseMap = HashMap<(u32, u64), Reusable>;

fn reuse_maps(previous: &Previous) -> (ReuseMap, ReuseMap) {
    let (mut gz_map, mut xz_map) = (HashMap::new(), HashMap::new());
    // Members made another way (or by another version) mean the blocks were too: no reuse.
    let Some(members) = gz::members(&previous.gz) else {
        return (gz_map, xz_map);
    };
    let mut at = 0usize;
    for m in members {
        let end = at + m.size as usize;
        let bytes = m.range;
        gz_map.insert(
            (m.crc, u64::from(m.size)),
            Reusable {
                text: at..end,
                unpadded: bytes.len() as u64,
                bytes,
            },
        );
        at = end;
    }
    if at != previous.text.len() {
        gz_map.clear();
    }
    let mut at = 0usize;
    for b in xz::blocks(&previous.xz).unwrap_or_default() {
        let end = at + b.uncompressed as usize;
        xz_map.insert(
            (b.crc, b.uncompressed),
            Reusable {
                text: at..end,
                bytes: b.range,
                unpadded: b.unpadded,
            },
        );
        at = end;
    }
    if at != previous.text.len() {
        xz_map.clear();
    }
    (gz_map, xz_map)
}

/// A freshly compressed piece.
enum Fresh {
    Gz(Vec<u8>),
    Xz(xz::Block),
}

/// The files of one index, and how many of its pieces (gzip members and xz blocks) had to be
/// compressed rather than copied.
#[derive(Debug)]
pub struct Index {
    pub files: Vec<IndexFile>,
    /// Read by the tests that prove unchanged chunks are copied, not compressed again.
    #[cfg_attr(not(test), allow(dead_code))]
    pub fresh_pieces: usize,
}

/// `Packages`, `Packages.gz` and `Packages.xz` for the index at `dir` (e.g.
/// `main/binary-amd64`) from its text and chunk ends, reusing what it can of `previous`.
pub fn index_files(
    dir: &str,
    text: String,
    ends: &[usize],
    previous: &Previous,
) -> Result<Index, Error> {
    let plain = text.as_bytes();
    let chunks: Vec<Range<usize>> = ends
        .iter()
        .scan(0, |start, &end| {
            let range = *start..end;
            *start = end;
            Some(range)
        })
        .collect();
    let (gz_map, xz_map) = reuse_maps(previous);
    // A piece is reused only if the previous Packages holds exactly this chunk's text there.
    let find = |map: &ReuseMap, key, chunk: &Range<usize>| -> Option<(Range<usize>, u64)> {
        let found = map.get(&key)?;
        (previous.text.get(found.text.clone()) == Some(&plain[chunk.clone()]))
            .then(|| (found.bytes.clone(), found.unpadded))
    };
    // Reused pieces as (bytes, unpadded size); the others become jobs (chunk, is_xz).
    let mut gz_pieces: Vec<Option<Cow<[u8]>>> = Vec::with_capacity(chunks.len());
    let mut xz_pieces: Vec<Option<(Cow<[u8]>, u64)>> = Vec::with_capacity(chunks.len());
    let mut jobs = Vec::new();
    for (i, chunk) in chunks.iter().enumerate() {
        let key = (crc32(&plain[chunk.clone()]), chunk.len() as u64);
        let gz = find(&gz_map, key, chunk).map(|(r, _)| Cow::Borrowed(&previous.gz[r]));
        let xz = find(&xz_map, key, chunk).map(|(r, u)| (Cow::Borrowed(&previous.xz[r]), u));
        if gz.is_none() {
            jobs.push((i, false));
        }
        if xz.is_none() {
            jobs.push((i, true));
        }
        gz_pieces.push(gz);
        xz_pieces.push(xz);
    }
    tracing::debug!(
        index = dir,
        chunks = chunks.len(),
        "compressing {} of {} pieces (the rest are unchanged)",
        jobs.len(),
        2 * chunks.len()
    );
    // Packages is hashed while the chunks are compressed.
    let (packages_sha, compressed) = std::thread::scope(|scope| {
        let hashing = scope.spawn(|| cdkit::hash::sha256_hex(plain));
        let compressed = compress(plain, &chunks, &jobs);
        (hashing.join(), compressed)
    });
    let packages_sha =
        packages_sha.map_err(|_| Error::Internal("hashing the Packages index panicked".into()))?;
    for (i, fresh) in compressed? {
        match fresh {
            Fresh::Gz(bytes) => gz_pieces[i] = Some(Cow::Owned(bytes)),
            Fresh::Xz(block) => xz_pieces[i] = Some((Cow::Owned(block.bytes), block.unpadded)),
        }
    }
    let gz_file =
        gz_pieces
            .iter()
            .flatten()
            .fold(Vec::with_capacity(plain.len() / 4), |mut file, piece| {
                file.extend_from_slice(piece);
                file
            });
    let xz_file = xz::stream(
        xz_pieces
            .iter()
            .flatten()
            .zip(&chunks)
            .map(|((bytes, unpadded), chunk)| (bytes.as_ref(), *unpadded, chunk.len() as u64)),
    );
    let fresh_pieces = jobs.len();
    drop((gz_pieces, xz_pieces));

    let file = |name: &str, bytes: Vec<u8>, sha256: String| IndexFile {
        path: format!("{dir}/{name}"),
        sha256,
        bytes,
    };
    let (gz_sha, xz_sha) = std::thread::scope(|scope| {
        let gz = scope.spawn(|| cdkit::hash::sha256_hex(&gz_file));
        let xz = cdkit::hash::sha256_hex(&xz_file);
        (gz.join(), xz)
    });
    let gz_sha = gz_sha.map_err(|_| Error::Internal("hashing Packages.gz panicked".into()))?;
    Ok(Index {
        files: vec![
            file("Packages", text.into_bytes(), packages_sha),
            file("Packages.gz", gz_file, gz_sha),
            file("Packages.xz", xz_file, xz_sha),
        ],
        fresh_pieces,
    })
}

/// Compress the `jobs` (chunk index, xz or gzip) on every core.
fn compress(
    plain: &[u8],
    chunks: &[Range<usize>],
    jobs: &[(usize, bool)],
) -> Result<Vec<(usize, Fresh)>, Error> {
    let next = AtomicUsize::new(0);
    let done = Mutex::new(Vec::with_capacity(jobs.len()));
    let workers = std::thread::available_parallelism()
        .map_or(1, |n| n.get())
        .min(jobs.len());
    let work = || -> std::io::Result<()> {
        loop {
            let Some(&(i, is_xz)) = jobs.get(next.fetch_add(1, Ordering::Relaxed)) else {
                return Ok(());
            };
            let data = &plain[chunks[i].clone()];
            let fresh = if is_xz {
                Fresh::Xz(xz::encode_block(data, XZ_PRESET)?)
            } else {
                Fresh::Gz(gz::encode_member(data)?)
            };
            done.lock()
                .unwrap_or_else(|e| e.into_inner())
                .push((i, fresh));
        }
    };
    let results: Vec<std::io::Result<()>> = std::thread::scope(|scope| {
        let helpers: Vec<_> = (1..workers).map(|_| scope.spawn(work)).collect();
        let mut results = vec![work()];
        results.extend(helpers.into_iter().map(|h| {
            h.join()
                .unwrap_or_else(|_| Err(std::io::Error::other("a compression thread panicked")))
        }));
        results
    });
    for result in results {
        result.map_err(|e| Error::Internal(format!("compressing the Packages index: {e}")))?;
    }
    Ok(done.into_inner().unwrap_or_else(|e| e.into_inner()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Read;

    fn entry(package: &str, version: &str) -> Entry {
        Entry {
            component: "main".into(),
            package: package.into(),
            version: version.into(),
            architecture: "amd64".into(),
            filename: format!("pool/main/{package}_{version}_amd64.deb"),
            size: 700,
            md5: "0123456789abcdef0123456789abcdef".into(),
            sha256: "ab".repeat(32),
            control: format!(
                "Package: {package}\nVersion: {version}\nArchitecture: amd64\nDescription: test package {package}\n"
            ),
        }
    }

    fn build(entries: &[Entry], previous: &Previous) -> (Index, String) {
        let refs: Vec<&Entry> = entries.iter().collect();
        let (text, ends) = packages_text(&refs);
        let index = index_files("main/binary-amd64", text.clone(), &ends, previous).unwrap();
        (index, text)
    }

    fn as_previous(index: &Index) -> Previous {
        Previous {
            text: index.files[0].bytes.clone(),
            gz: index.files[1].bytes.clone(),
            xz: index.files[2].bytes.clone(),
        }
    }

    fn decompressed(index: &Index) -> (Vec<u8>, Vec<u8>) {
        let (mut gz, mut xz) = (Vec::new(), Vec::new());
        flate2::read::MultiGzDecoder::new(&index.files[1].bytes[..])
            .read_to_end(&mut gz)
            .unwrap();
        liblzma::read::XzDecoder::new(&index.files[2].bytes[..])
            .read_to_end(&mut xz)
            .unwrap();
        (gz, xz)
    }

    #[test]
    fn stanzas_end_with_location_and_checksums() {
        let control = control_lines(&[
            ("Package".into(), "hello".into()),
            ("Version".into(), "1.0-1".into()),
            ("SHA256".into(), "forged".into()),
            ("Description".into(), "hi\n more".into()),
        ]);
        let mut e = entry("hello", "1.0-1");
        e.control = control;
        e.filename = "pool/main/h/hello/hello_1.0-1_all.deb".into();
        e.md5 = "m".into();
        e.sha256 = "s".into();
        let (text, ends) = packages_text(&[&e]);
        assert_eq!(
            text,
            "Package: hello\nVersion: 1.0-1\nDescription: hi\n more\nFilename: pool/main/h/hello/hello_1.0-1_all.deb\nSize: 700\nMD5sum: m\nSHA256: s\n\n"
        );
        assert_eq!(ends, [text.len()]);
        // The empty index is one empty chunk: a valid (empty) .gz and .xz.
        let (empty, text) = build(&[], &Previous::default());
        assert_eq!(text, "");
        assert_eq!(decompressed(&empty), (vec![], vec![]));
    }

    #[test]
    fn chunks_end_only_between_packages_and_stay_put() {
        let mut entries: Vec<Entry> = (0..3000)
            .flat_map(|i| {
                let name = format!("pkg{i:05}");
                [entry(&name, "2.0-1"), entry(&name, "1.0-1")]
            })
            .collect();
        let refs: Vec<&Entry> = entries.iter().collect();
        let (text, ends) = packages_text(&refs);
        assert!(ends.len() > 20, "{} chunks", ends.len());
        for end in &ends[..ends.len() - 1] {
            // Every chunk ends with a package's last version.
            let next = &text[*end..];
            let last = text[..*end].rsplit("Package: ").next().unwrap();
            let name = last.lines().next().unwrap();
            assert!(
                !next.starts_with(&format!("Package: {name}\n")),
                "{name} split"
            );
        }
        // A new package in the middle moves no boundary outside its own chunk.
        entries.insert(3001, entry("pkg01500a", "1.0-1"));
        let refs: Vec<&Entry> = entries.iter().collect();
        let (text2, ends2) = packages_text(&refs);
        let chunks = |text: &str, ends: &[usize]| -> Vec<String> {
            let mut start = 0;
            ends.iter()
                .map(|&end| {
                    let chunk = text[start..end].to_string();
                    start = end;
                    chunk
                })
                .collect()
        };
        let (old, new) = (chunks(&text, &ends), chunks(&text2, &ends2));
        let changed = new.iter().filter(|c| !old.contains(c)).count();
        assert!(changed <= 2, "{changed} chunks changed");
    }

    #[test]
    fn incremental_indexes_equal_fresh_ones_and_decompress_to_the_text() {
        let mut entries: Vec<Entry> = (0..1500)
            .map(|i| entry(&format!("pkg{i:05}"), "1.0-1"))
            .collect();
        let (mut index, text) = build(&entries, &Previous::default());
        let chunk_count = index.fresh_pieces / 2;
        assert!(chunk_count > 5, "{chunk_count} chunks");
        assert_eq!(decompressed(&index), (text.clone().into(), text.into()));
        // Adds, new versions and removals, each built from the previous generation.
        let mut seed = 7u64;
        for step in 0..40 {
            seed = seed
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            let at = (seed >> 33) as usize % entries.len();
            match step % 3 {
                0 => entries.insert(at, entry(&format!("{}x", entries[at].package), "1.0-1")),
                1 => {
                    let name = entries[at].package.clone();
                    entries.insert(at, entry(&name, &format!("1.{step}-1")));
                }
                _ => {
                    entries.remove(at);
                }
            }
            let (next, text) = build(&entries, &as_previous(&index));
            assert!(
                next.fresh_pieces <= 4,
                "step {step}: {} pieces compressed",
                next.fresh_pieces
            );
            assert_eq!(decompressed(&next), (text.clone().into(), text.into()));
            if step % 10 == 9 {
                let (fresh, _) = build(&entries, &Previous::default());
                for (a, b) in fresh.files.iter().zip(&next.files) {
                    assert_eq!(a.bytes, b.bytes, "step {step}: {} differs", a.path);
                }
            }
            index = next;
        }
        // A previous generation in another layout (one plain stream) is not reused, and
        // does not change the result.
        let old_style = Previous {
            text: index.files[0].bytes.clone(),
            gz: Vec::new(),
            xz: liblzma::encode_all(&index.files[0].bytes[..], 0).unwrap(),
        };
        let (again, _) = build(&entries, &old_style);
        let refs: Vec<&Entry> = entries.iter().collect();
        assert_eq!(again.fresh_pieces, 2 * packages_text(&refs).1.len());
        assert_eq!(again.files[2].bytes, index.files[2].bytes);
        // A previous Packages that does not match its compressed files is never trusted.
        let mut lying = as_previous(&index);
        lying.text[10] ^= 1;
        let (checked, _) = build(&entries, &lying);
        assert!(checked.fresh_pieces >= 2);
        assert_eq!(checked.files[1].bytes, index.files[1].bytes);
    }
}
