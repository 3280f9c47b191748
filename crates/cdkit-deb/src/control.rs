//! The control member: the `control` file (deb822), `md5sums`, `conffiles` and maintainer
//! scripts, checked and packed into control.tar.gz.
//!
//! control.tar is always gzip -9 with one member: it is small, gzip is the one compression
//! every dpkg and lintian version accepts for it (old lintian rejected control.tar.xz), and
//! -9 is what dpkg-deb used for it.

use super::error::DebError;
use super::gzip::gzip_member;
use super::tar_stream::{Meta, TarWriter};

/// Fields dpkg-deb, apt or lintian cannot do without.
const REQUIRED: [&str; 5] = [
    "Package",
    "Version",
    "Architecture",
    "Maintainer",
    "Description",
];

/// Control members callers may add, with their modes: maintainer scripts are executed
/// (0755); the others are data and lintian wants them 0644.
const MEMBERS: [(&str, u32); 9] = [
    ("preinst", 0o755),
    ("postinst", 0o755),
    ("prerm", 0o755),
    ("postrm", 0o755),
    ("config", 0o755),
    ("triggers", 0o644),
    ("templates", 0o644),
    ("shlibs", 0o644),
    ("symbols", 0o644),
];

/// Render control fields as a deb822 paragraph, one `Name: value` per field, in order.
///
/// Values may span lines (Description's extended text): each further line is written with
/// one leading space, an empty line as ` .`, as Policy §5.6.13 requires. Trailing
/// whitespace of each line and trailing empty lines are dropped, so a value read from a
/// file with its final newline renders the same. A value starting with a newline (a
/// multi-line field with an empty first line, like `Conffiles`) renders as `Name:` alone.
pub fn control_text(fields: &[(String, String)]) -> String {
    let mut out = String::new();
    for (name, value) in fields {
        let mut lines = value.trim_end().split('\n').map(|l| l.trim_end());
        let first = lines.next().unwrap_or_default();
        if first.is_empty() {
            out.push_str(&format!("{name}:\n"));
        } else {
            out.push_str(&format!("{name}: {first}\n"));
        }
        for line in lines {
            if line.trim().is_empty() {
                out.push_str(" .\n");
            } else {
                out.push(' ');
                out.push_str(line);
                out.push('\n');
            }
        }
    }
    out
}

/// Check the caller's fields: valid, unique names; the required fields present and
/// non-empty; a valid package name and version.
pub(crate) fn check_fields(fields: &[(String, String)]) -> Result<(), DebError> {
    let bad = |field: &str, reason: String| DebError::Control {
        field: field.to_string(),
        reason,
    };
    let mut seen = std::collections::BTreeSet::new();
    for (name, value) in fields {
        if !valid_field_name(name) {
            return Err(bad(
                name,
                "invalid name (printable ASCII without ':' or spaces, not starting with '#' or '-')".into(),
            ));
        }
        if !seen.insert(name.to_ascii_lowercase()) {
            return Err(bad(name, "given twice".into()));
        }
        if value.contains(['\0', '\r']) {
            return Err(bad(name, "value contains NUL or a carriage return".into()));
        }
    }
    for required in REQUIRED {
        match field(fields, required) {
            None => return Err(bad(required, "missing".into())),
            Some(v) if v.trim().is_empty() => return Err(bad(required, "empty".into())),
            Some(_) => {}
        }
    }
    let name = field(fields, "Package").unwrap_or_default();
    crate::policy::validate_package_name(name).map_err(|e| bad("Package", e.to_string()))?;
    let version = field(fields, "Version").unwrap_or_default();
    crate::policy::Version::parse(version).map_err(|e| bad("Version", e.to_string()))?;
    for single_line in ["Package", "Version", "Architecture"] {
        if field(fields, single_line).is_some_and(|v| v.trim().contains(char::is_whitespace)) {
            return Err(bad(single_line, "must be a single word".into()));
        }
    }
    Ok(())
}

/// The fields with `Installed-Size` set: replaced in place if the caller gave one,
/// otherwise inserted after `Architecture` (where dpkg-gencontrol puts it).
pub(crate) fn with_installed_size(fields: &[(String, String)], kib: u64) -> Vec<(String, String)> {
    let value = kib.to_string();
    let mut out: Vec<(String, String)> = fields.to_vec();
    if let Some(existing) = out
        .iter_mut()
        .find(|(n, _)| n.eq_ignore_ascii_case("Installed-Size"))
    {
        existing.1 = value;
        return out;
    }
    let at = out
        .iter()
        .position(|(n, _)| n.eq_ignore_ascii_case("Architecture"))
        .map_or(out.len(), |i| i + 1);
    out.insert(at, ("Installed-Size".to_string(), value));
    out
}

/// Check the extra control members: known names, each once. Returns them with their modes.
pub(crate) fn check_scripts(scripts: &[(String, Vec<u8>)]) -> Result<Vec<Member<'_>>, DebError> {
    let mut out = Vec::with_capacity(scripts.len());
    for (name, body) in scripts {
        let Some(&(_, mode)) = MEMBERS.iter().find(|(n, _)| n == name) else {
            let known: Vec<&str> = MEMBERS.iter().map(|(n, _)| *n).collect();
            return Err(DebError::Script {
                name: name.clone(),
                reason: format!(
                    "unknown control member (expected one of {})",
                    known.join(", ")
                ),
            });
        };
        if out.iter().any(|m: &Member<'_>| m.name == name) {
            return Err(DebError::Script {
                name: name.clone(),
                reason: "given twice".into(),
            });
        }
        out.push(Member {
            name: name.as_str(),
            mode,
            body: body.as_slice(),
        });
    }
    Ok(out)
}

/// A caller-supplied control member (maintainer script etc.) with its mode.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Member<'a> {
    pub name: &'a str,
    pub mode: u32,
    pub body: &'a [u8],
}

/// Everything that goes into control.tar.
pub(crate) struct ControlMembers<'a> {
    pub fields: &'a [(String, String)],
    /// `(path without leading /, lowercase hex md5)` in data.tar order.
    pub md5sums: &'a [(String, String)],
    pub conffiles: &'a [&'a str],
    pub scripts: &'a [Member<'a>],
    pub mtime: u64,
}

/// control.tar.gz in memory (a few KiB: the control file, one md5sums line per file).
/// Members are sorted by name after `./`, as dpkg-deb writes them; md5sums is left out
/// when the package has no regular files (as dh_md5sums does), conffiles when empty.
pub(crate) fn control_tar_gz(members: &ControlMembers<'_>) -> std::io::Result<Vec<u8>> {
    let mut files: Vec<(&str, u32, Vec<u8>)> =
        vec![("control", 0o644, control_text(members.fields).into_bytes())];
    if !members.md5sums.is_empty() {
        let text: String = members
            .md5sums
            .iter()
            .map(|(path, md5)| format!("{md5}  {path}\n"))
            .collect();
        files.push(("md5sums", 0o644, text.into_bytes()));
    }
    if !members.conffiles.is_empty() {
        let text: String = members.conffiles.iter().map(|c| format!("{c}\n")).collect();
        files.push(("conffiles", 0o644, text.into_bytes()));
    }
    for m in members.scripts {
        files.push((m.name, m.mode, m.body.to_vec()));
    }
    files.sort_by(|a, b| a.0.cmp(b.0));

    let mut tar = TarWriter::new(Vec::new());
    tar.dir("./", &Meta::root(0o755, members.mtime))?;
    for (name, mode, body) in &files {
        tar.file(
            &format!("./{name}"),
            body,
            &Meta::root(*mode, members.mtime),
        )?;
    }
    gzip_member(&tar.finish()?, 9)
}

fn field<'a>(fields: &'a [(String, String)], name: &str) -> Option<&'a str> {
    fields
        .iter()
        .find(|(n, _)| n.eq_ignore_ascii_case(name))
        .map(|(_, v)| v.as_str())
}

fn valid_field_name(name: &str) -> bool {
    !name.is_empty()
        && !name.starts_with(['#', '-'])
        && name.bytes().all(|b| b.is_ascii_graphic() && b != b':')
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fields(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(a, b)| (a.to_string(), b.to_string()))
            .collect()
    }

    fn minimal() -> Vec<(String, String)> {
        fields(&[
            ("Package", "hello-cd"),
            ("Version", "1.2.3+20260101120000.42.gabc1234-1"),
            ("Architecture", "amd64"),
            ("Maintainer", "Ops <ops@example.com>"),
            ("Description", "says hello"),
        ])
    }

    #[test]
    fn renders_multi_line_values_with_continuation_lines() {
        let text = control_text(&fields(&[
            ("Package", "hello"),
            (
                "Description",
                "short\nLong text line one.\n\n  verbatim line   \n",
            ),
            ("Conffiles", "\n/etc/a 0123"),
        ]));
        assert_eq!(
            text,
            "Package: hello\nDescription: short\n Long text line one.\n .\n   verbatim line\nConffiles:\n /etc/a 0123\n"
        );
    }

    #[test]
    fn inserts_installed_size_after_architecture_or_replaces_it() {
        let out = with_installed_size(&minimal(), 42);
        let names: Vec<&str> = out.iter().map(|(n, _)| n.as_str()).collect();
        assert_eq!(
            names,
            [
                "Package",
                "Version",
                "Architecture",
                "Installed-Size",
                "Maintainer",
                "Description"
            ]
        );
        let mut given = minimal();
        given.push(("Installed-Size".into(), "1".into()));
        let out = with_installed_size(&given, 42);
        assert_eq!(
            out.last().unwrap(),
            &("Installed-Size".to_string(), "42".to_string())
        );
        assert_eq!(out.len(), 6);
    }

    /// [`minimal`] with one field's value replaced.
    fn minimal_with(name: &str, value: &str) -> Vec<(String, String)> {
        minimal()
            .into_iter()
            .map(|(n, v)| if n == name { (n, value.into()) } else { (n, v) })
            .collect()
    }

    #[test]
    fn checks_required_fields_names_and_versions() {
        assert!(check_fields(&minimal()).is_ok());
        let cases: Vec<(Vec<(String, String)>, &str)> = vec![
            (minimal()[1..].to_vec(), "control field Package: missing"),
            (
                [minimal(), fields(&[("package", "x")])].concat(),
                "control field package: given twice",
            ),
            (
                [minimal(), fields(&[("Bad Name", "x")])].concat(),
                "control field Bad Name: invalid name",
            ),
            (minimal_with("Version", "v1.0"), "must start with a digit"),
            (
                minimal_with("Package", "Hello"),
                "package name \"Hello\" is not valid",
            ),
            (
                minimal_with("Maintainer", " "),
                "control field Maintainer: empty",
            ),
        ];
        for (input, want) in cases {
            let msg = check_fields(&input).unwrap_err().to_string();
            assert!(msg.contains(want), "{msg} does not contain {want}");
        }
    }

    #[test]
    fn scripts_get_their_modes_and_unknown_names_are_rejected() {
        let scripts = vec![
            ("postinst".to_string(), b"#!/bin/sh\n".to_vec()),
            ("triggers".to_string(), b"".to_vec()),
        ];
        let checked = check_scripts(&scripts).unwrap();
        assert_eq!(checked[0].mode, 0o755);
        assert_eq!(checked[1].mode, 0o644);
        let err = check_scripts(&[("postinstall".to_string(), vec![])]).unwrap_err();
        assert!(
            err.to_string().contains("\"postinstall\"") && err.to_string().contains("postinst")
        );
        let twice = check_scripts(&[("prerm".to_string(), vec![]), ("prerm".to_string(), vec![])])
            .unwrap_err();
        assert!(twice.to_string().contains("twice"));
    }
}
