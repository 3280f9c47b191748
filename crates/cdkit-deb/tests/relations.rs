//! The relation-field grammar (`cdkit_deb::policy::check_relations`) against dpkg itself: a
//! built package's fields against `dpkg-deb --build` (dpkg's C parser, which refuses the
//! package), `debian/control`'s against Dpkg::Deps (the parser dpkg-gencontrol and
//! dpkg-checkbuilddeps use). Whatever dpkg refuses must be refused; whatever is refused that
//! dpkg accepts must be listed here as deliberately stricter.

use std::process::Command;

use cdkit_deb::policy::{check_relations, RelationContext};

const CASES: &[&str] = &[
    "libc6",
    "libc6 (>= 2.34)",
    "libc6 (>= 2.34), adduser",
    "a (>= 1.0) | b, c",
    "a (>> 1:2.0-1)",
    "a (<< 2.0~rc1)",
    "a (= 1.0)",
    "a:any",
    "a:amd64 (>= 1)",
    "a,, b",
    "a,",
    "python3 (>= ,",
    "a (>= 1.0",
    "a (>= )",
    "a (=> 1.0)",
    "a (>= 1.0) extra",
    "a b",
    "a | ",
    "| a",
    "A",
    "a (= abc)",
    "a (>= 1.0 2.0)",
    "a\nFoo: bar",
    "(>= 1.0)",
    "-a",
    "a [amd64]",
    "a <!nocheck>",
    "a [amd64] <!nocheck> | b",
    "${shlibs:Depends}, ${misc:Depends}",
    "a (= ${binary:Version})",
    "a [amd64",
];

/// Refused by cdkit although the oracle accepts it: upper case in a name (Debian's names are
/// lower case; dpkg folds it), a version without a digit, an empty version or alternative and
/// a name starting with `-` (Dpkg::Deps lets them through to fail later in the build), and an
/// unclosed `[`.
const STRICTER: &[(&str, RelationContext)] = &[
    ("A", RelationContext::Binary),
    ("A", RelationContext::Source),
    ("a (>= )", RelationContext::Source),
    ("-a", RelationContext::Source),
    ("a (= abc)", RelationContext::Source),
    ("a | ", RelationContext::Source),
    ("a [amd64", RelationContext::Source),
];

/// Whether dpkg-deb builds a package whose control file has `Depends: text`.
fn dpkg_deb_accepts(text: &str) -> bool {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("p");
    std::fs::create_dir_all(root.join("DEBIAN")).unwrap();
    let depends = text.replace('\n', "\n ");
    std::fs::write(
        root.join("DEBIAN/control"),
        format!("Package: t\nVersion: 1.0\nArchitecture: all\nMaintainer: t <t@example.com>\nDescription: t\nDepends: {depends}\n"),
    )
    .unwrap();
    Command::new("dpkg-deb")
        .args(["--build", "--root-owner-group"])
        .arg(&root)
        .arg(dir.path().join("t.deb"))
        .output()
        .unwrap()
        .status
        .success()
}

/// Whether Dpkg::Deps parses `text` (substitution variables as dpkg-gencontrol would have
/// filled them: with a version).
fn dpkg_deps_accepts(text: &str) -> bool {
    let filled = text
        .replace("${shlibs:Depends}", "libc6 (>= 2.34)")
        .replace("${misc:Depends}", "")
        .replace("${binary:Version}", "1.0-1");
    let out = Command::new("perl")
        .args([
            "-MDpkg::Deps",
            "-e",
            "exit(defined(deps_parse($ARGV[0])) ? 0 : 1)",
            &filled,
        ])
        .output()
        .unwrap();
    out.status.success()
}

#[test]
fn relations_are_refused_wherever_dpkg_refuses_them() {
    let mut table: Vec<String> = Vec::new();
    let mut wrong: Vec<String> = Vec::new();
    for context in [RelationContext::Binary, RelationContext::Source] {
        for text in CASES {
            if context == RelationContext::Binary && text.contains(['[', '<', '$']) {
                continue; // not part of a built package's grammar; refused by us, see below
            }
            let oracle = match context {
                RelationContext::Binary => dpkg_deb_accepts(text),
                RelationContext::Source => dpkg_deps_accepts(text),
            };
            let ours = check_relations("Depends", text, context).is_ok();
            table.push(format!("{context:?} {text:?}: dpkg {oracle}, cdkit {ours}"));
            if !oracle && ours {
                wrong.push(format!(
                    "{context:?} {text:?}: dpkg refuses it, cdkit accepts it"
                ));
            } else if oracle && !ours && !STRICTER.contains(&(text, context)) {
                wrong.push(format!(
                    "{context:?} {text:?}: dpkg accepts it, cdkit refuses it (not listed as stricter)"
                ));
            }
        }
    }
    for text in ["a [amd64]", "a <!nocheck>", "${misc:Depends}"] {
        assert!(
            check_relations("Depends", text, RelationContext::Binary).is_err(),
            "{text}"
        );
    }
    eprintln!("{}", table.join("\n"));
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
}
