//! Reading a `.deb` in-process: its control paragraph and the checksums an APT index needs.
//! publish-repo indexes thousands of packages; a `dpkg-deb` process per package costs ~17 ms
//! (measured), reading the ar header and the small control member costs microseconds.

use std::fs::File;
use std::io::{self, BufReader, Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};

/// Why a file is not a usable .deb; names the file and what is wrong with it.
#[derive(Debug, thiserror::Error)]
pub enum ReadError {
    /// The file could not be opened or read (as opposed to being read and found wrong).
    #[error("cannot read {path}: {source}")]
    Io {
        /// The .deb as given.
        path: PathBuf,
        /// What the system said.
        #[source]
        source: io::Error,
    },
    /// The ar container or its members are not what dpkg writes (not an ar archive, no
    /// leading `debian-binary`, an unknown format version, a missing or unreadable control
    /// member).
    #[error("{path} is not a Debian package: {reason}")]
    NotADeb {
        /// The file as given.
        path: PathBuf,
        /// Which part of the format is wrong.
        reason: String,
    },
    /// The container is fine but the control paragraph is not deb822 (or lacks a field an
    /// index needs), so the package cannot be listed.
    #[error("{path}: malformed control file: {reason}")]
    BadControl {
        /// The file as given.
        path: PathBuf,
        /// What is wrong with the paragraph.
        reason: String,
    },
}

/// What an index needs to know about one package file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DebInfo {
    /// The control paragraph's fields, in file order (continuation lines kept in the value).
    pub fields: Vec<(String, String)>,
    /// The file's size in bytes (`Size:` in Packages).
    pub size: u64,
    /// Lowercase hex MD5 of the whole file (`MD5sum:`; apt still reads it).
    pub md5: String,
    /// Lowercase hex SHA-256 of the whole file (`SHA256:`, what apt verifies).
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
        let mut version = Vec::new();
        first
            .reader(&mut file)
            .map_err(io_err)?
            .take(64)
            .read_to_end(&mut version)
            .map_err(|e| not_deb(&format!("unreadable debian-binary ({e})")))?;
        check_format_version(&version).map_err(|e| not_deb(&format!("debian-binary: {e}")))?;
        let (control, _data) = layout(&members).map_err(|e| not_deb(&e))?;
        let member = &members[control];
        let kind = &member.name["control.tar".len()..];
        let mut reader = BufReader::new(member.reader(&mut file).map_err(io_err)?);
        read_control_member(&mut reader, kind).map_err(|e| not_deb(&e))?
    };
    let fields = parse_paragraph(&control_text).map_err(|reason| ReadError::BadControl {
        path: path.to_path_buf(),
        reason,
    })?;
    check_typed_fields(&fields).map_err(|reason| ReadError::BadControl {
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
    let (size, md5, sha256) = cdkit::hash::file_checksums(path).map_err(io_err)?;
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

/// dpkg-deb's rule for the `debian-binary` member (its first 64 bytes, read as the C string
/// dpkg reads): a line `MAJOR.MINOR` of decimal digits ended by a newline, major 2; what
/// follows the newline is ignored. `2.0` without its newline, `2.0 `, `2.0\r` and `3.0` are
/// refused by dpkg-deb, so they are refused here.
fn check_format_version(bytes: &[u8]) -> Result<(), String> {
    let text = bytes.split(|&b| b == 0).next().unwrap_or_default();
    let Some(newline) = text.iter().position(|&b| b == b'\n') else {
        return Err("no newline after the format version".into());
    };
    let line = &text[..newline];
    let shown = String::from_utf8_lossy(line);
    let Some(dot) = line.iter().position(|&b| b == b'.') else {
        return Err(format!("format version {shown:?} has no dot"));
    };
    let number = |part: &[u8]| -> Option<u32> {
        if part.is_empty() || !part.iter().all(u8::is_ascii_digit) {
            return None;
        }
        std::str::from_utf8(part)
            .ok()?
            .parse::<u32>()
            .ok()
            .filter(|n| i32::try_from(*n).is_ok())
    };
    let (Some(major), Some(_minor)) = (number(&line[..dot]), number(&line[dot + 1..])) else {
        return Err(format!("format version {shown:?} is not MAJOR.MINOR"));
    };
    if major != 2 {
        return Err(format!("unsupported format version {shown:?}"));
    }
    Ok(())
}

/// The indexes of the control and data members, laid out as dpkg-deb requires:
/// `debian-binary`, then the control member, then the data member, with only members whose
/// name starts with `_` (ignored by dpkg) between them. dpkg-deb refuses two control
/// members or any other member before the data member; what follows the data member (a
/// debsigs signature) it ignores, and so does this.
///
/// Stricter than `dpkg-deb --info`, which stops reading at the control member: the data
/// member must be there and complete, since a package dpkg cannot unpack must not be
/// published (apt would fetch it and fail at install).
fn layout(members: &[Member]) -> Result<(usize, usize), String> {
    let mut control = None;
    for (i, member) in members.iter().enumerate().skip(1) {
        let name = member.name.as_str();
        if name.starts_with('_') {
            continue;
        }
        match control {
            None if name.starts_with("control.tar") => control = Some(i),
            None => return Err(format!("member {name:?} comes before the control member")),
            Some(_) if name.starts_with("control.tar") => return Err("two control members".into()),
            Some(c) if name.starts_with("data.tar") => {
                let known = ["", ".gz", ".xz", ".zst", ".bz2", ".lzma"];
                if !known.contains(&&name["data.tar".len()..]) {
                    return Err(format!("unknown data member compression {name:?}"));
                }
                return Ok((c, i));
            }
            Some(_) => return Err(format!("member {name:?} comes before the data member")),
        }
    }
    Err(match control {
        None => "no control.tar member".into(),
        Some(_) => "no data.tar member after the control member (truncated?)".into(),
    })
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
        let size = ar_size(&header[48..58]).ok_or_else(|| {
            format!(
                "member {name:?}: bad size field {:?}",
                String::from_utf8_lossy(&header[48..58]).trim()
            )
        })?;
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

/// An ar header's size field read as dpkg reads it: leading spaces skipped, then decimal
/// digits up to the first space or the end of the field (what follows a space is ignored);
/// any other character (a sign, a letter) makes it invalid.
fn ar_size(field: &[u8]) -> Option<u64> {
    let digits = field.iter().skip_while(|&&b| b == b' ');
    let mut size = 0u64;
    for &b in digits.take_while(|&&b| b != b' ') {
        if !b.is_ascii_digit() {
            return None;
        }
        size = size * 10 + u64::from(b - b'0');
    }
    Some(size)
}

/// A gzip stream as dpkg's decompressor (zlib's gzread) reads it: member after member, and
/// bytes after the last member that do not start another one are ignored (dpkg-deb accepts
/// them, so refusing them would refuse packages dpkg installs).
struct GzMembers<R: Read> {
    decoder: Option<flate2::bufread::GzDecoder<BufReader<R>>>,
}

impl<R: Read> GzMembers<R> {
    fn new(inner: R) -> Self {
        GzMembers {
            decoder: Some(flate2::bufread::GzDecoder::new(BufReader::new(inner))),
        }
    }
}

impl<R: Read> Read for GzMembers<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        use std::io::BufRead;
        while let Some(decoder) = self.decoder.as_mut() {
            let n = decoder.read(buf)?;
            if n > 0 || buf.is_empty() {
                return Ok(n);
            }
            let Some(decoder) = self.decoder.take() else {
                break;
            };
            let mut rest = decoder.into_inner();
            if rest.fill_buf()?.first() == Some(&0x1f) {
                self.decoder = Some(flate2::bufread::GzDecoder::new(rest));
            }
        }
        Ok(0)
    }
}

/// The `./control` file from a control.tar member compressed as `kind` (`""`, `.gz`, `.xz`, `.zst`).
fn read_control_member(member: &mut impl Read, kind: &str) -> Result<String, String> {
    let reader: Box<dyn Read + '_> = match kind {
        "" => Box::new(member),
        ".gz" => Box::new(GzMembers::new(member)),
        ".xz" => Box::new(liblzma::read::XzDecoder::new(member)),
        ".zst" => Box::new(zstd::stream::read::Decoder::new(member).map_err(|e| e.to_string())?),
        other => return Err(format!("unknown control member compression {other:?}")),
    };
    let mut tar = tar::Archive::new(reader);
    let bad = |e: io::Error| format!("bad control.tar ({e})");
    let mut control = None;
    let mut seen = std::collections::HashSet::new();
    for entry in tar.entries().map_err(bad)? {
        let mut entry = entry.map_err(bad)?;
        let raw = entry.path_bytes().into_owned();
        // tar extracts `./control`, `control` and `control/` to one place: the last one
        // written wins, which is the one dpkg reads. Refusing any duplicate keeps the
        // index from naming a package other than the one dpkg installs.
        let mut name: &[u8] = &raw;
        while let Some(rest) = name.strip_prefix(b"./") {
            name = rest;
        }
        let name = name.strip_suffix(b"/").unwrap_or(name).to_vec();
        if !seen.insert(name.clone()) {
            return Err(format!(
                "control.tar holds {:?} twice",
                String::from_utf8_lossy(&raw)
            ));
        }
        if name == b"control" {
            if !matches!(
                entry.header().entry_type(),
                tar::EntryType::Regular | tar::EntryType::Continuous
            ) {
                return Err("control.tar's ./control is not a regular file".into());
            }
            let mut text = Vec::new();
            entry
                .by_ref()
                .take(1 << 20)
                .read_to_end(&mut text)
                .map_err(|e| format!("unreadable control file ({e})"))?;
            let text =
                String::from_utf8(text).map_err(|_| "the control file is not UTF-8".to_string())?;
            control = Some(text);
        }
    }
    // Read the member to its end: a damaged compressed stream (its checksum is at the end)
    // is refused as dpkg-deb refuses it.
    io::copy(&mut tar.into_inner(), &mut io::sink()).map_err(bad)?;
    control.ok_or_else(|| "control.tar has no ./control".into())
}

/// Parse the one deb822 paragraph of a control file as dpkg does: `Name: value` lines,
/// continuation lines starting with a space or tab; comment lines, lines of only blanks and
/// a last line without its newline are refused, as dpkg refuses them. A second paragraph is refused, as
/// dpkg refuses it ("several package info entries found, only one allowed"): which of the
/// two is the package would otherwise be a guess.
pub fn parse_paragraph(text: &str) -> Result<Vec<(String, String)>, String> {
    let mut fields: Vec<(String, String)> = Vec::new();
    let mut ended = false;
    for (number, line) in text.lines().enumerate() {
        if line.starts_with('#') {
            return Err(format!(
                "line {}: a comment line (dpkg refuses '#' in a control file)",
                number + 1
            ));
        }
        if line.is_empty() {
            ended = !fields.is_empty();
            continue;
        }
        if line.trim().is_empty() {
            return Err(format!(
                "line {}: a line of only blanks (dpkg refuses it)",
                number + 1
            ));
        }
        if ended {
            return Err(format!(
                "line {}: a second paragraph (a control file holds one)",
                number + 1
            ));
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
        let name = name.trim_end_matches([' ', '\t']);
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
    // dpkg's parser needs the last line ended, and a value for a field the file ends on.
    if !text.ends_with('\n') {
        return Err("no newline at the end of the last line".into());
    }
    if !ended {
        if let Some((name, _)) = fields.last().filter(|(_, v)| v.is_empty()) {
            return Err(format!("the last field {name} has no value"));
        }
    }
    Ok(fields)
}

/// The fields dpkg parses by type when it reads a control file (`dpkg-deb -f`, `dpkg -i`):
/// yes/no booleans, Multi-Arch (not `same` for `all`), and the relationship fields. A value dpkg refuses makes the
/// package one dpkg cannot install, so it is refused here too.
fn check_typed_fields(fields: &[(String, String)]) -> Result<(), String> {
    for (name, value) in fields {
        let lower = name.to_ascii_lowercase();
        let value = value.trim();
        match lower.as_str() {
            "essential" | "protected" | "build-essential" if !matches!(value, "yes" | "no") => {
                return Err(format!("{name}: {value:?} is not yes or no"));
            }
            "multi-arch" if !matches!(value, "no" | "same" | "foreign" | "allowed") => {
                return Err(format!(
                    "{name}: {value:?} is not no, same, foreign or allowed"
                ));
            }
            "depends" | "pre-depends" | "recommends" | "suggests" | "enhances" | "breaks"
            | "conflicts" | "replaces" | "provides" => {
                let alternatives = matches!(
                    lower.as_str(),
                    "depends" | "pre-depends" | "recommends" | "suggests" | "enhances"
                );
                check_relations(value, alternatives).map_err(|e| format!("{name}: {e}"))?;
            }
            _ => {}
        }
    }
    let value = |field: &str| {
        fields
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(field))
            .map(|(_, v)| v.trim())
    };
    if value("Multi-Arch") == Some("same") && value("Architecture") == Some("all") {
        return Err("Multi-Arch: same on an Architecture: all package".into());
    }
    Ok(())
}

/// A relationship field as dpkg's parser reads it: `,`-separated groups of `|`-separated
/// `NAME[:ARCH] [(OP VERSION)]` (no architecture or profile restrictions in a binary package).
fn check_relations(value: &str, alternatives: bool) -> Result<(), String> {
    for group in value.split(',') {
        let group = group.trim();
        if group.is_empty() {
            return Err("missing package name, or garbage where a package name is expected".into());
        }
        if !alternatives && group.contains('|') {
            return Err("alternatives ('|') are not allowed in this field".into());
        }
        for relation in group.split('|') {
            check_relation(relation.trim())?;
        }
    }
    Ok(())
}

fn check_relation(relation: &str) -> Result<(), String> {
    let end = relation
        .find(|c: char| c.is_whitespace() || c == '(' || c == ':')
        .unwrap_or(relation.len());
    let (name, mut rest) = relation.split_at(end);
    let name_ok = name.starts_with(|c: char| c.is_ascii_alphanumeric())
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "-+._".contains(c));
    if !name_ok {
        return Err(format!("invalid package name {name:?}"));
    }
    if let Some(arch) = rest.strip_prefix(':') {
        let end = arch
            .find(|c: char| c.is_whitespace() || c == '(')
            .unwrap_or(arch.len());
        let ok = end > 0
            && arch[..end]
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-');
        if !ok {
            return Err(format!("{name}: invalid architecture qualifier"));
        }
        rest = &arch[end..];
    }
    let rest = rest.trim_start();
    if rest.is_empty() {
        return Ok(());
    }
    let Some(inner) = rest.strip_prefix('(') else {
        return Err(format!("syntax error after the reference to {name}"));
    };
    let Some((inner, after)) = inner.split_once(')') else {
        return Err(format!("{name}: version unterminated"));
    };
    if !after.trim().is_empty() {
        return Err(format!("syntax error after the reference to {name}"));
    }
    let inner = inner.trim_start();
    let op_len = inner
        .find(|c: char| !matches!(c, '<' | '=' | '>'))
        .unwrap_or(inner.len());
    let (op, version) = inner.split_at(op_len);
    if !matches!(op, "<<" | "<=" | "=" | ">=" | ">>" | "<" | ">") {
        return Err(format!("{name}: bad relation {op:?}"));
    }
    let version = version.trim();
    if version.is_empty() || version.contains(char::is_whitespace) {
        return Err(format!("{name}: bad version {version:?}"));
    }
    let upstream = version.split_once(':').map_or(version, |(epoch, rest)| {
        if !epoch.is_empty() && epoch.bytes().all(|b| b.is_ascii_digit()) {
            rest
        } else {
            ""
        }
    });
    let chars_ok = version
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || ".+~-:".contains(c));
    if !upstream.starts_with(|c: char| c.is_ascii_digit()) || !chars_ok {
        return Err(format!("{name}: bad version {version:?}"));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paragraphs_keep_continuations_and_skip_comments() {
        let fields = parse_paragraph("Package: a\nDescription: x\n y\n .\n z\n\n\n").unwrap();
        assert_eq!(fields[0], ("Package".into(), "a".into()));
        assert_eq!(fields[1].1, "x\n y\n .\n z");
        assert_eq!(fields.len(), 2);
        assert!(parse_paragraph(" cont\n").is_err());
        assert!(parse_paragraph("Package a\n").is_err());
        assert!(parse_paragraph("A: 1\na: 2\n").is_err());
        assert!(parse_paragraph("\n\n").is_err());
        for refused in [
            "Package: a\n\nPackage: b\n",
            "# c\nPackage: a\n",
            "Package: a\n \n",
            "Package: a",
            "Package: a\nDepends:\n",
        ] {
            assert!(parse_paragraph(refused).is_err(), "{refused:?}");
        }
        assert_eq!(parse_paragraph("Version :1\n").unwrap()[0].0, "Version");
    }

    #[test]
    fn relationship_fields_follow_dpkg() {
        for good in [
            "b",
            "B_c (> 1)",
            "b (>= 1:2.0~rc1-1) | c:any",
            "e:amd64(<<2)",
        ] {
            assert_eq!(check_relations(good, true), Ok(()), "{good}");
        }
        for bad in [
            "b (=> 1)",
            "b (>= )",
            "b (>= 1",
            "b, , c",
            "b,",
            "b [amd64]",
            "b (>= a1)",
            "${x}",
        ] {
            assert!(check_relations(bad, true).is_err(), "{bad}");
        }
        assert!(check_relations("b | c", false).is_err());
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
