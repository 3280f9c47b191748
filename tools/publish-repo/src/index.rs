//! Packages indexes: one stanza per package version (its control fields plus Filename, Size
//! and checksums), written uncompressed, gzip and xz, with the sizes and SHA-256 sums the
//! Release file lists.

use std::io::Write;

use crate::error::Error;
use crate::state::Entry;

/// Fields the index writes itself; taken out of the control paragraph if a package has them.
const INDEX_FIELDS: [&str; 6] = ["Filename", "Size", "MD5sum", "SHA1", "SHA256", "SHA512"];

/// One file of a Packages index, ready to write.
#[derive(Debug, Clone)]
pub struct IndexFile {
    /// Path relative to `dists/SUITE` (`main/binary-amd64/Packages.gz`).
    pub path: String,
    pub bytes: Vec<u8>,
    pub sha256: String,
}

/// The stanzas for `entries`, in order.
pub fn packages_text(entries: &[&Entry]) -> String {
    let mut out = String::with_capacity(entries.len() * 600);
    for entry in entries {
        for (name, value) in &entry.fields {
            if INDEX_FIELDS.iter().any(|f| f.eq_ignore_ascii_case(name)) {
                continue;
            }
            out.push_str(name);
            out.push_str(": ");
            out.push_str(value);
            out.push('\n');
            // Installed-Size etc. stay as the package says; the checksums follow Maintainer-ish
            // fields at the end, as apt-ftparchive writes them.
        }
        out.push_str("Filename: ");
        out.push_str(&entry.filename);
        out.push_str("\nSize: ");
        out.push_str(&entry.size.to_string());
        out.push_str("\nMD5sum: ");
        out.push_str(&entry.md5);
        out.push_str("\nSHA256: ");
        out.push_str(&entry.sha256);
        out.push_str("\n\n");
    }
    out
}

/// `Packages`, `Packages.gz` and `Packages.xz` for the index at `dir` (e.g.
/// `main/binary-amd64`), compressed on two threads.
pub fn index_files(dir: &str, text: &str) -> Result<Vec<IndexFile>, Error> {
    let plain = text.as_bytes();
    let (gz, xz) = std::thread::scope(|scope| {
        let gz = scope.spawn(|| gzip(plain));
        let xz = xz(plain);
        (gz.join(), xz)
    });
    let gz = gz.map_err(|_| Error::Usage("gzip compression panicked".into()))?;
    let file = |name: &str, bytes: Vec<u8>| IndexFile {
        path: format!("{dir}/{name}"),
        sha256: cdkit::hash::sha256_hex(&bytes),
        bytes,
    };
    Ok(vec![
        file("Packages", plain.to_vec()),
        file(
            "Packages.gz",
            gz.map_err(|e| Error::Usage(format!("gzip: {e}")))?,
        ),
        file(
            "Packages.xz",
            xz.map_err(|e| Error::Usage(format!("xz: {e}")))?,
        ),
    ])
}

/// Indexes above this size are recompressed on every publish with the fast settings.
const LARGE: usize = 512 * 1024;

/// gzip with no name and a zero mtime, so identical indexes compress identically; -9 for
/// small indexes, -6 for large ones (within 1% of -9 on Packages text, a third of the time).
fn gzip(bytes: &[u8]) -> std::io::Result<Vec<u8>> {
    let level = if bytes.len() > LARGE { 6 } else { 9 };
    let mut enc = flate2::GzBuilder::new().mtime(0).write(
        Vec::with_capacity(bytes.len() / 4),
        flate2::Compression::new(level),
    );
    enc.write_all(bytes)?;
    enc.finish()
}

/// xz at preset 6 for small indexes; large ones use preset 0, since every publish recompresses
/// the whole index (apt fetches the smallest listed file, which stays the xz one).
fn xz(bytes: &[u8]) -> std::io::Result<Vec<u8>> {
    let preset = if bytes.len() > LARGE { 0 } else { 6 };
    let mut enc = liblzma::write::XzEncoder::new(Vec::with_capacity(bytes.len() / 5), preset);
    enc.write_all(bytes)?;
    enc.finish()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stanzas_end_with_location_and_checksums() {
        let entry = Entry {
            component: "main".into(),
            package: "hello".into(),
            version: "1.0-1".into(),
            architecture: "all".into(),
            filename: "pool/main/h/hello/hello_1.0-1_all.deb".into(),
            size: 700,
            md5: "m".into(),
            sha256: "s".into(),
            fields: vec![
                ("Package".into(), "hello".into()),
                ("Version".into(), "1.0-1".into()),
                ("SHA256".into(), "forged".into()),
                ("Description".into(), "hi\n more".into()),
            ],
        };
        let text = packages_text(&[&entry]);
        assert_eq!(
            text,
            "Package: hello\nVersion: 1.0-1\nDescription: hi\n more\nFilename: pool/main/h/hello/hello_1.0-1_all.deb\nSize: 700\nMD5sum: m\nSHA256: s\n\n"
        );
        let files = index_files("main/binary-amd64", &text).unwrap();
        assert_eq!(files[0].path, "main/binary-amd64/Packages");
        assert_eq!(
            files[1].bytes,
            index_files("main/binary-amd64", &text).unwrap()[1].bytes
        );
    }
}
