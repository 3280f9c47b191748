//! Reading a `.deb` in-process: its control paragraph and the checksums an APT index needs.
//! publish-repo indexes thousands of packages; a `dpkg-deb` process per package costs ~17 ms
//! (reference §6), reading the ar header and the small control member costs microseconds.

use std::fs::File;
use std::io::{self, BufReader, Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};

/// Why a file is not a usable .deb; names the file and what is wrong with it.
#[derive(Debug, thiserror::Error)]
pub enum ReadError {
    #[error("cannot read {path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: io::Error,
    },
    #[error("{path} is not a Debian package: {reason}")]
    NotADeb { path: PathBuf, reason: String },
    #[error("{path}: malformed control file: {reason}")]
    BadControl { path: PathBuf, reason: String },
}

/// What an index needs to know about one package file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DebInfo {
    /// The control paragraph's fields, in file order (continuation lines kept in the value).
    pub fields: Vec<(String, String)>,
    pub size: u64,
    pub md5: String,
    pub sha256: String,
}

impl DebInfo {
    /// A field's value (field names are case-insensitive).
    pub fn field(&self, name: &str) -> Option<&str> {
        self.fields
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

/// Read `path`'s control paragraph and checksums.
pub fn read_deb(path: &Path) -> Result<DebInfo, ReadError> {
    let io_err = |source| ReadError::Io {
        path: path.to_path_buf(),
        source,
    };
    let not_deb = |reason: &str| ReadError::NotADeb {
        path: path.to_path_buf(),
        reason: reason.to_string(),
    };
    let control_text = {
        let mut file = File::open(path).map_err(io_err)?;
        let meta = file.metadata().map_err(io_err)?;
        // open(2) succeeds on a directory; say what it is rather than "not an ar archive".
        if meta.is_dir() {
            return Err(not_deb("it is a directory, not a .deb file"));
        }
        let len = meta.len();
        let members = ar_members(&mut file, len).map_err(|reason| not_deb(&reason))?;
        let Some(first) = members.first() else {
            return Err(not_deb("empty or not an ar archive"));
        };
        if first.name != "debian-binary" {
            return Err(not_deb("the first member is not debian-binary"));
        }
        let mut version = String::new();
        first
            .reader(&mut file)
            .map_err(io_err)?
            .take(16)
            .read_to_string(&mut version)
            .map_err(|e| not_deb(&format!("unreadable debian-binary ({e})")))?;
        if !version.starts_with("2.") {
            return Err(not_deb(&format!("unsupported format {:?}", version.trim())));
        }
        let control = members
            .iter()
            .position(|m| m.name.starts_with("control.tar"))
            .ok_or_else(|| not_deb("no control.tar member"))?;
        // The data member must follow the control member and be complete (its declared size
        // fits in the file, which `ar_members` checked): a .deb cut short after its control
        // member would otherwise be indexed, and apt would fetch a package dpkg cannot unpack.
        if !members[control..]
            .iter()
            .any(|m| m.name.starts_with("data.tar"))
        {
            return Err(not_deb(
                "no data.tar member after the control member (truncated?)",
            ));
        }
        let member = &members[control];
        let kind = &member.name["control.tar".len()..];
        let mut reader = BufReader::new(member.reader(&mut file).map_err(io_err)?);
        read_control_member(&mut reader, kind).map_err(|e| not_deb(&e))?
    };
    let fields = parse_paragraph(&control_text).map_err(|reason| ReadError::BadControl {
        path: path.to_path_buf(),
        reason,
    })?;
    for required in ["Package", "Version", "Architecture"] {
        if !fields.iter().any(|(n, _)| n.eq_ignore_ascii_case(required)) {
            return Err(ReadError::BadControl {
                path: path.to_path_buf(),
                reason: format!("no {required} field"),
            });
        }
    }
    let (size, md5, sha256) = crate::hash::file_checksums(path).map_err(io_err)?;
    Ok(DebInfo {
        fields,
        size,
        md5,
        sha256,
    })
}

/// One member of a .deb's ar archive: its name and where its bytes are.
struct Member {
    name: String,
    offset: u64,
    size: u64,
}

impl Member {
    /// The member's bytes, read from `file`.
    fn reader<'f>(&self, file: &'f mut File) -> io::Result<io::Take<&'f mut File>> {
        file.seek(SeekFrom::Start(self.offset))?;
        Ok(file.take(self.size))
    }
}

/// Length of an ar member header.
const AR_HEADER: u64 = 60;

/// Every member header of the ar archive in `file` (`len` bytes long), without reading the
/// members' bytes (the data member may be large). Each member's declared size must fit in
/// the file with its padding byte, and the archive must end exactly after its last member:
/// a file cut short or with bytes appended is refused, not indexed.
fn ar_members(file: &mut File, len: u64) -> Result<Vec<Member>, String> {
    let mut magic = [0u8; 8];
    if len < 8 || file.read_exact(&mut magic).is_err() || &magic != b"!<arch>\n" {
        return Err("empty or not an ar archive".into());
    }
    let mut members = Vec::new();
    let mut at = 8u64;
    while at < len {
        let left = len - at;
        if left < AR_HEADER {
            return Err(format!(
                "{left} stray byte(s) after the last complete member (truncated or garbage appended)"
            ));
        }
        let mut header = [0u8; AR_HEADER as usize];
        file.seek(SeekFrom::Start(at))
            .and_then(|_| file.read_exact(&mut header))
            .map_err(|e| format!("unreadable ar header at byte {at} ({e})"))?;
        if &header[58..60] != b"`\n" {
            return Err(format!(
                "bad ar header at byte {at} (truncated or garbage appended)"
            ));
        }
        let name = String::from_utf8_lossy(&header[..16])
            .trim_end()
            .trim_end_matches('/')
            .to_string();
        let size_text = String::from_utf8_lossy(&header[48..58]);
        let size: u64 = size_text
            .trim_end()
            .parse()
            .map_err(|_| format!("member {name:?}: bad size field {:?}", size_text.trim()))?;
        let offset = at + AR_HEADER;
        let end = offset + size + size % 2;
        if end > len {
            return Err(format!(
                "member {name} declares {size} bytes but the file ends {} byte(s) short (truncated)",
                end - len
            ));
        }
        members.push(Member { name, offset, size });
        at = end;
    }
    Ok(members)
}

/// The `./control` file from a control.tar member compressed as `kind` (`""`, `.gz`, `.xz`, `.zst`).
fn read_control_member(member: &mut impl Read, kind: &str) -> Result<String, String> {
    let reader: Box<dyn Read + '_> = match kind {
        "" => Box::new(member),
        ".gz" => Box::new(flate2::read::MultiGzDecoder::new(member)),
        ".xz" => Box::new(liblzma::read::XzDecoder::new(member)),
        ".zst" => Box::new(zstd::stream::read::Decoder::new(member).map_err(|e| e.to_string())?),
        other => return Err(format!("unknown control member compression {other:?}")),
    };
    let mut tar = tar::Archive::new(reader);
    let entries = tar
        .entries()
        .map_err(|e| format!("bad control.tar ({e})"))?;
    for entry in entries {
        let mut entry = entry.map_err(|e| format!("bad control.tar ({e})"))?;
        let path = entry.path().map_err(|e| e.to_string())?.into_owned();
        if path == Path::new("./control") || path == Path::new("control") {
            let mut text = String::new();
            entry
                .by_ref()
                .take(1 << 20)
                .read_to_string(&mut text)
                .map_err(|e| format!("unreadable control file ({e})"))?;
            return Ok(text);
        }
    }
    Err("control.tar has no ./control".into())
}

/// Parse one deb822 paragraph: `Name: value` lines, continuation lines starting with a space
/// or tab, `#` comment lines ignored.
pub fn parse_paragraph(text: &str) -> Result<Vec<(String, String)>, String> {
    let mut fields: Vec<(String, String)> = Vec::new();
    for (number, line) in text.lines().enumerate() {
        if line.starts_with('#') {
            continue;
        }
        if line.trim().is_empty() {
            if fields.is_empty() {
                continue;
            }
            break; // end of the paragraph
        }
        if line.starts_with([' ', '\t']) {
            match fields.last_mut() {
                Some((_, value)) => {
                    value.push('\n');
                    value.push_str(line);
                }
                None => {
                    return Err(format!(
                        "line {}: continuation line before any field",
                        number + 1
                    ))
                }
            }
            continue;
        }
        let Some((name, value)) = line.split_once(':') else {
            return Err(format!(
                "line {}: {line:?} is not 'Field: value'",
                number + 1
            ));
        };
        let ok_name = !name.is_empty()
            && name.bytes().all(|b| b.is_ascii_graphic() && b != b':')
            && !name.starts_with('-');
        if !ok_name {
            return Err(format!("line {}: bad field name {name:?}", number + 1));
        }
        if fields.iter().any(|(n, _)| n.eq_ignore_ascii_case(name)) {
            return Err(format!("line {}: field {name} given twice", number + 1));
        }
        fields.push((name.to_string(), value.trim().to_string()));
    }
    if fields.is_empty() {
        return Err("no fields".into());
    }
    Ok(fields)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paragraphs_keep_continuations_and_skip_comments() {
        let fields =
            parse_paragraph("# c\nPackage: a\nDescription: x\n y\n .\n z\n\nPackage: b\n").unwrap();
        assert_eq!(fields[0], ("Package".into(), "a".into()));
        assert_eq!(fields[1].1, "x\n y\n .\n z");
        assert_eq!(fields.len(), 2);
        assert!(parse_paragraph(" cont\n").is_err());
        assert!(parse_paragraph("Package a\n").is_err());
        assert!(parse_paragraph("A: 1\na: 2\n").is_err());
        assert!(parse_paragraph("\n\n").is_err());
    }

    #[test]
    fn non_debs_are_named() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("x.deb");
        std::fs::write(&path, b"hello, not an archive").unwrap();
        let err = read_deb(&path).unwrap_err().to_string();
        assert!(
            err.contains("x.deb") && err.contains("not a Debian package"),
            "{err}"
        );
    }

    /// An ar archive of `members`, padded as ar writers pad.
    fn ar(members: &[(&str, &[u8])]) -> Vec<u8> {
        let mut out = b"!<arch>\n".to_vec();
        for (name, data) in members {
            let header = format!(
                "{name:<16}{:<12}{:<6}{:<6}{:<8}{:<10}`\n",
                0,
                0,
                0,
                100644,
                data.len()
            );
            out.extend_from_slice(header.as_bytes());
            out.extend_from_slice(data);
            if data.len() % 2 == 1 {
                out.push(b'\n');
            }
        }
        out
    }

    fn walk(bytes: &[u8]) -> Result<Vec<String>, String> {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("a.deb");
        std::fs::write(&path, bytes).unwrap();
        let mut file = File::open(&path).unwrap();
        ar_members(&mut file, bytes.len() as u64).map(|ms| ms.into_iter().map(|m| m.name).collect())
    }

    #[test]
    fn the_ar_walk_refuses_short_members_and_stray_bytes() {
        let whole = ar(&[
            ("debian-binary", b"2.0\n"),
            ("control.tar.gz", b"ctl"),
            ("data.tar.xz", b"data!"),
        ]);
        assert_eq!(
            walk(&whole).unwrap(),
            ["debian-binary", "control.tar.gz", "data.tar.xz"]
        );
        // Cut anywhere in the last member (its padding byte included) or its header.
        for cut in [1, 2, 6, 30, 65] {
            let err = walk(&whole[..whole.len() - cut]).unwrap_err();
            assert!(err.contains("truncated"), "cut {cut}: {err}");
        }
        let mut extra = whole.clone();
        extra.extend_from_slice(b"garbage");
        assert!(walk(&extra).unwrap_err().contains("stray"));
        // A whole member appended (debsigs' _gpgorigin) is an archive member like any other.
        let mut signed = whole.clone();
        signed.extend_from_slice(&ar(&[("_gpgorigin", b"sig")])[8..]);
        assert_eq!(walk(&signed).unwrap().len(), 4);
        assert!(walk(b"!<arch>\n").unwrap().is_empty());
        assert!(walk(b"not ar").is_err());
    }
}
