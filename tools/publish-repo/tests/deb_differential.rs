//! publish-repo reads a .deb as dpkg-deb does: mutated packages (from real dpkg-deb builds,
//! a fixed seed) are read by publish-repo's reader and by `dpkg-deb --info` and `dpkg-deb -f`,
//! and publish-repo accepts one only where dpkg-deb accepts it, with the same Package,
//! Version and Architecture. Where dpkg-deb accepts what publish-repo refuses, the reason must
//! be one of publish-repo's documented stricter rules ([`STRICTER`]). The bulk comparison
//! calls the reader `add` uses in-process; the `publish-repo add` binary runs on a sample.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

mod common;

use common::deb_bytes::{compress, file, member, name_of, parse_ar, tar_of, write_ar, TarEntry};
use common::{one_error_line, tree_digest, Repo, BIN};

/// How many mutated packages the test reads.
const CASES: usize = 1200;

/// Where publish-repo deliberately refuses what `dpkg-deb --info`/`-f` accept, as (class,
/// a phrase of publish-repo's error that identifies it). Each is a rule documented in the
/// publish-repo guide: `dpkg-deb --info` stops reading at the control member, so it accepts a package
/// whose data member is missing, damaged or cut short, or that has a second control member,
/// which `dpkg -i` then refuses to install; tar keeps the last of two entries of one path,
/// so which control file is the package would depend on the extractor; dpkg accepts
/// non-UTF-8 control files, field values that Debian policy forbids and names too long to be
/// a pool file, which would corrupt the indexes or fail at the write.
const STRICTER: &[(&str, &str)] = &[
    ("data member missing or cut short", "truncated"),
    ("data member missing or cut short", "member \"data.tar"),
    ("data member missing or cut short", "stray byte"),
    ("data member missing or cut short", "no data.tar member"),
    ("data member missing or cut short", "before the data member"),
    (
        "data member missing or cut short",
        "unknown data member compression",
    ),
    ("control.tar holds a path twice", "twice"),
    ("a second control member", "two control members"),
    ("pool file name over 255 bytes", "more than the 255"),
    ("control file not UTF-8", "not UTF-8"),
    ("./control not a regular file", "not a regular file"),
    ("name Debian policy forbids", "is not valid"),
    (
        "name Debian policy forbids",
        "not a Debian architecture name",
    ),
    ("name Debian policy forbids", "Source: "),
];

/// A small deterministic generator (xorshift64*): the same cases on every run.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }
    fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len())]
    }
}

/// A package built by dpkg-deb with `-Z` `compressor`.
fn dpkg_built(dir: &Path, compressor: &str, control: &str) -> Vec<u8> {
    let tree = dir.join(format!("tree-{compressor}"));
    std::fs::create_dir_all(tree.join("DEBIAN")).unwrap();
    std::fs::create_dir_all(tree.join("usr/share/doc/fz")).unwrap();
    std::fs::write(tree.join("DEBIAN/control"), control).unwrap();
    std::fs::write(tree.join("usr/share/doc/fz/README"), "fuzzed\n").unwrap();
    let out = dir.join(format!("base-{compressor}.deb"));
    let status = Command::new("dpkg-deb")
        .args(["--root-owner-group", &format!("-Z{compressor}"), "--build"])
        .arg(&tree)
        .arg(&out)
        // Fixed timestamps: the same bases, so the same mutated cases, on every run.
        .env("SOURCE_DATE_EPOCH", "1700000000")
        .stdout(Stdio::null())
        .status()
        .unwrap();
    assert!(status.success(), "dpkg-deb --build -Z{compressor}");
    std::fs::read(out).unwrap()
}

const CONTROL: &str = "Package: fz-pkg\nVersion: 1.2-1\nArchitecture: all\nMaintainer: Fuzz <fuzz@example.org>\nDescription: a package to mutate\n two lines\n";
const OTHER: &[u8] = b"Package: other\nVersion: 9-9\nArchitecture: all\nMaintainer: O <o@example.org>\nDescription: another\n";

/// Edits of the control text, as (name, edited text).
fn control_edits() -> Vec<(&'static str, String)> {
    let c = CONTROL;
    let long = "a".repeat(260);
    vec![
        ("duplicate field", format!("{c}Package: other\n")),
        (
            "duplicate field other case",
            format!("{c}package: fz-pkg\n"),
        ),
        (
            "two paragraphs",
            format!("{c}\n{}", String::from_utf8_lossy(OTHER)),
        ),
        ("trailing blank lines", format!("{c}\n\n")),
        ("leading blank lines", format!("\n\n{c}")),
        ("comment line", format!("# comment\n{c}")),
        ("CRLF", c.replace('\n', "\r\n")),
        ("no final newline", c.trim_end().to_string()),
        ("empty value", format!("{c}Depends:\n")),
        ("no colon", format!("{c}Broken line\n")),
        ("continuation first", format!(" cont\n{c}")),
        ("no Package", c.replace("Package: fz-pkg\n", "")),
        ("no Version", c.replace("Version: 1.2-1\n", "")),
        ("no Architecture", c.replace("Architecture: all\n", "")),
        ("uppercase name", c.replace("fz-pkg", "Fz-Pkg")),
        ("underscore name", c.replace("fz-pkg", "fz_pkg")),
        ("slash name", c.replace("fz-pkg", "fz/pkg")),
        ("bad version", c.replace("1.2-1", "1.2 -1")),
        ("version letter start", c.replace("1.2-1", "a1.2-1")),
        ("epoch", c.replace("1.2-1", "3:1.2-1")),
        ("bad epoch", c.replace("1.2-1", "x:1.2-1")),
        ("long name", c.replace("fz-pkg", &long)),
        (
            "long version",
            c.replace("1.2-1", &format!("1.{}", "1".repeat(260))),
        ),
        (
            "bad architecture",
            c.replace("Architecture: all", "Architecture: AMD_64"),
        ),
        (
            "amd64",
            c.replace("Architecture: all", "Architecture: amd64"),
        ),
        ("Latin-1 description", c.replace("two lines", "caf\u{e9}")),
        ("tab value", c.replace("Version: 1.2-1", "Version:\t1.2-1")),
        (
            "space before colon",
            c.replace("Version: 1.2-1", "Version : 1.2-1"),
        ),
        (
            "no space after colon",
            c.replace("Version: 1.2-1", "Version:1.2-1"),
        ),
        ("trailing space", c.replace("1.2-1", "1.2-1  ")),
        ("Source field", format!("{c}Source: fz-src (1.0)\n")),
        ("bad Source", format!("{c}Source: ../../x\n")),
        ("field name with dash", format!("{c}-X: y\n")),
        ("empty", String::new()),
        ("only comment", "# nothing\n".to_string()),
        ("NUL byte", c.replace("two lines", "two\0lines")),
        (
            "Depends",
            format!("{c}Depends: b (>= 1), c | d:any, e:amd64 (<< 2:1.0~rc1-1)\n"),
        ),
        ("Depends B", format!("{c}Depends: B_c (> 1)\n")),
        ("Depends bad op", format!("{c}Depends: b (=> 1)\n")),
        ("Depends no version", format!("{c}Depends: b (>= )\n")),
        ("Depends unterminated", format!("{c}Depends: b (>= 1\n")),
        ("Depends empty group", format!("{c}Depends: b, , c\n")),
        ("Depends trailing comma", format!("{c}Depends: b,\n")),
        ("Depends arch list", format!("{c}Depends: b [amd64]\n")),
        ("Depends profile", format!("{c}Depends: b <!nocheck>\n")),
        ("Depends letter version", format!("{c}Depends: b (>= a1)\n")),
        (
            "Depends substvar",
            format!("{c}Depends: ${{shlibs:Depends}}\n"),
        ),
        ("Depends two versions", format!("{c}Depends: b (<< 1 2)\n")),
        ("Depends continued", format!("{c}Depends: b,\n c\n")),
        ("Provides alternatives", format!("{c}Provides: b | c\n")),
        ("Provides versioned", format!("{c}Provides: b (= 1)\n")),
        ("Provides greater", format!("{c}Provides: b (>= 1)\n")),
        ("Conflicts versioned", format!("{c}Conflicts: b (>= 1)\n")),
        ("Essential maybe", format!("{c}Essential: maybe\n")),
        ("Essential yes", format!("{c}Essential: yes\n")),
        ("Multi-Arch bad", format!("{c}Multi-Arch: sometimes\n")),
        ("Multi-Arch same", format!("{c}Multi-Arch: same\n")),
        ("Priority bogus", format!("{c}Priority: bogus\n")),
    ]
}

/// The mutated package number `i` (derived from the bases), and what was done to it.
fn mutate(rng: &mut Rng, bases: &[(String, Vec<u8>)]) -> (String, Vec<u8>) {
    let (kind, base) = rng.pick(bases);
    let members = parse_ar(base);
    let ckind = name_of(&members[1])["control.tar".len()..].to_string();
    let control_member = |entries: &[TarEntry]| compress(&ckind, &tar_of(entries));
    let mut members = members.clone();
    let what = match rng.below(10) {
        0 | 1 => {
            let mut bytes = base.clone();
            let at = if rng.below(3) > 0 {
                rng.below(bytes.len().min(1500))
            } else {
                rng.below(bytes.len())
            };
            bytes[at] ^= 1 + rng.below(255) as u8;
            return (format!("{kind}: byte {at} flipped"), bytes);
        }
        2 => {
            let len = rng.below(base.len());
            return (format!("{kind}: cut to {len} bytes"), base[..len].to_vec());
        }
        3 => {
            let n = members.len();
            match rng.below(6) {
                0 => {
                    let (a, b) = (rng.below(n), rng.below(n));
                    members.swap(a, b);
                    format!("members {a} and {b} swapped")
                }
                1 => {
                    let m = rng.below(n);
                    let at = rng.below(n + 1);
                    let copy = members[m].clone();
                    members.insert(at, copy);
                    format!("member {m} duplicated at {at}")
                }
                2 => {
                    let m = rng.below(n);
                    members.remove(m);
                    format!("member {m} removed")
                }
                3 => {
                    let name = *rng.pick(&[
                        "_extra",
                        "control.tar.bz2",
                        "data.tar.lz",
                        "debian-binary",
                        "control.tar",
                        "data.tar.gz",
                        "other",
                        "control.tar.gz/",
                    ]);
                    let m = rng.below(n);
                    let data = members[m].data.clone();
                    members[m] = member(name, data);
                    format!("member {m} renamed {name}")
                }
                4 => {
                    let at = rng.below(n + 1);
                    members.insert(at, member("_extra", b"ignored\n".to_vec()));
                    format!("_extra inserted at {at}")
                }
                _ => {
                    let mut bytes = write_ar(&members);
                    bytes.extend_from_slice(b"trailing garbage");
                    return (format!("{kind}: garbage appended"), bytes);
                }
            }
        }
        4 => {
            let text = *rng.pick(&[
                "2.0\n",
                "2.0",
                "2.0\n\n",
                "2.1\n",
                "2.0 \n",
                "3.0\n",
                "2.\n",
                "2.0\nx",
                " 2.0\n",
                "2.0\r\n",
                "02.0\n",
                "2\n",
                "2.0.1\n",
                "\n2.0\n",
                "+2.0\n",
                "2.0\0\n",
                "2.99999999999\n",
                "",
            ]);
            members[0] = member("debian-binary", text.as_bytes().to_vec());
            format!("debian-binary {text:?}")
        }
        5 | 6 => {
            let edits = control_edits();
            let (name, text) = rng.pick(&edits);
            let mut bytes = text.clone().into_bytes();
            if *name == "Latin-1 description" {
                bytes = text.replace('\u{e9}', "\u{1}").into_bytes();
                let at = bytes.iter().position(|&b| b == 1).unwrap();
                bytes[at] = 0xe9;
            }
            let dir = TarEntry {
                path: "./",
                kind: tar::EntryType::Directory,
                data: Vec::new(),
            };
            let data = control_member(&[dir, file("./control", &bytes)]);
            members[1] = member(&name_of(&members[1]), data);
            format!("control edit: {name}")
        }
        7 => {
            let c = CONTROL.as_bytes();
            let dir = || TarEntry {
                path: "./",
                kind: tar::EntryType::Directory,
                data: Vec::new(),
            };
            let link = |path, kind, target: &str| TarEntry {
                path,
                kind,
                data: target.as_bytes().to_vec(),
            };
            let (name, entries): (&str, Vec<TarEntry>) = match rng.below(9) {
                0 => (
                    "two ./control",
                    vec![dir(), file("./control", c), file("./control", OTHER)],
                ),
                1 => (
                    "control and ./control",
                    vec![dir(), file("control", c), file("./control", OTHER)],
                ),
                2 => (
                    "./control a symlink",
                    vec![
                        dir(),
                        file("./real", c),
                        link("./control", tar::EntryType::Symlink, "real"),
                    ],
                ),
                3 => (
                    "./control a directory",
                    vec![dir(), link("./control/", tar::EntryType::Directory, "")],
                ),
                4 => ("no ./control", vec![dir(), file("./md5sums", b"x  y\n")]),
                5 => (
                    "./control a hard link",
                    vec![
                        dir(),
                        file("./real", c),
                        link("./control", tar::EntryType::Link, "./real"),
                    ],
                ),
                6 => (
                    "control in a subdirectory",
                    vec![dir(), file("./sub/control", c)],
                ),
                7 => (
                    "extra files",
                    vec![
                        dir(),
                        file("./control", c),
                        file("./md5sums", b"d41d8cd98f00b204e9800998ecf8427e  usr/x\n"),
                        file("./postinst", b"#!/bin/sh\n"),
                    ],
                ),
                _ => (
                    "two ./md5sums",
                    vec![
                        dir(),
                        file("./control", c),
                        file("./md5sums", b""),
                        file("./md5sums", b""),
                    ],
                ),
            };
            members[1] = member(&name_of(&members[1]), control_member(&entries));
            format!("control.tar: {name}")
        }
        8 => {
            let tar = tar_of(&[file("./control", CONTROL.as_bytes())]);
            let (name, data, label) = match rng.below(5) {
                0 => (
                    "control.tar.xz",
                    compress(".gz", &tar),
                    "gzip bytes named .xz",
                ),
                1 => (
                    "control.tar.gz",
                    compress(".zst", &tar),
                    "zstd bytes named .gz",
                ),
                2 => {
                    let mut d = compress(".gz", &tar);
                    d.extend_from_slice(b"garbage after the stream");
                    ("control.tar.gz", d, "garbage after the gzip stream")
                }
                3 => {
                    let mut d = compress(".gz", &tar);
                    d.extend_from_slice(&compress(".gz", b"more"));
                    ("control.tar.gz", d, "a second gzip member")
                }
                _ => {
                    let mut d = compress(".xz", &tar);
                    let len = d.len();
                    d.truncate(len - 4);
                    ("control.tar.xz", d, "xz stream cut short")
                }
            };
            members[1] = member(name, data);
            format!("compression: {label}")
        }
        _ => {
            let m = rng.below(members.len());
            let size = members[m].data.len();
            let field = match rng.below(5) {
                0 => format!("{:<10}", format!("+{size}")),
                1 => format!("{:>10}", size),
                2 => format!("{:<10}", format!("{size}x")),
                3 => format!("{:<10}", size + 2),
                _ => format!("{:<10}", format!("0{size}")),
            };
            if field.len() == 10 {
                members[m].header[48..58].copy_from_slice(field.as_bytes());
            }
            let mut bytes = write_ar(&members);
            if rng.below(4) == 0 {
                let h = 8;
                bytes[h + 58] = b'!';
            }
            return (format!("{kind}: member {m} size field {field:?}"), bytes);
        }
    };
    (format!("{kind}: {what}"), write_ar(&members))
}

/// Package, Version and Architecture as dpkg-deb reads them, or why it refused.
fn dpkg_reads(path: &Path) -> Result<(String, String, String), String> {
    let f = Command::new("dpkg-deb")
        .arg("-f")
        .arg(path)
        .args(["Package", "Version", "Architecture"])
        .output()
        .unwrap();
    if !f.status.success() {
        return Err(String::from_utf8_lossy(&f.stderr).trim().to_string());
    }
    let info = Command::new("dpkg-deb")
        .arg("--info")
        .arg(path)
        .stdout(Stdio::null())
        .output()
        .unwrap();
    if !info.status.success() {
        return Err(String::from_utf8_lossy(&info.stderr).trim().to_string());
    }
    let text = String::from_utf8_lossy(&f.stdout).into_owned();
    let field = |name: &str| {
        text.lines()
            .find_map(|l| l.strip_prefix(name).and_then(|r| r.strip_prefix(':')))
            .map(|v| v.trim().to_string())
            .filter(|v| !v.is_empty())
            .ok_or_else(|| format!("dpkg-deb -f: no {name}"))
    };
    Ok((field("Package")?, field("Version")?, field("Architecture")?))
}

/// Package, Version and Architecture as `publish-repo add` reads them, or why it refuses.
fn publish_repo_reads(path: &Path) -> Result<(String, String, String), String> {
    let info = cdkit_deb::read_deb(path).map_err(|e| e.to_string())?;
    let id = publish_repo::ops::identify(path, &info)?;
    Ok((id.package, id.version, id.architecture))
}

#[test]
fn publish_repo_accepts_a_deb_only_where_dpkg_deb_does() {
    let dir = tempfile::tempdir().unwrap();
    let bases: Vec<(String, Vec<u8>)> = ["gzip", "xz", "zstd", "none"]
        .iter()
        .map(|z| (z.to_string(), dpkg_built(dir.path(), z, CONTROL)))
        .collect();
    let mut rng = Rng(0x5eed_deb0_2026_0023);
    let cases: Vec<(String, PathBuf)> = (0..CASES)
        .map(|i| {
            let (what, bytes) = mutate(&mut rng, &bases);
            let path = dir.path().join(format!("case-{i}.deb"));
            std::fs::write(&path, bytes).unwrap();
            (what, path)
        })
        .collect();
    // dpkg-deb is the slow side: two threads.
    let (a, b) = cases.split_at(cases.len() / 2);
    let verdicts = std::thread::scope(|s| {
        let other = s.spawn(|| b.iter().map(|(_, p)| dpkg_reads(p)).collect::<Vec<_>>());
        let mut mine: Vec<_> = a.iter().map(|(_, p)| dpkg_reads(p)).collect();
        mine.extend(other.join().unwrap());
        mine
    });

    let mut counts: BTreeMap<String, usize> = BTreeMap::new();
    let mut wrong = Vec::new();
    // The binary runs on every 50th case and the first of each class.
    let mut sample: BTreeMap<String, usize> = BTreeMap::new();
    for (i, ((what, path), dpkg)) in cases.iter().zip(&verdicts).enumerate() {
        let ours = publish_repo_reads(path);
        let class = match (dpkg, &ours) {
            (Ok(d), Ok(o)) if d == o => "accepted by both".to_string(),
            (Ok(d), Ok(o)) => {
                wrong.push(format!(
                    "case {i} ({what}): dpkg reads {d:?}, publish-repo {o:?}"
                ));
                "DIFFERENT NAMES".into()
            }
            (Err(_), Err(_)) => "refused by both".into(),
            (Err(e), Ok(o)) => {
                wrong.push(format!(
                    "case {i} ({what}): dpkg refuses ({e}), publish-repo accepts {o:?}"
                ));
                "ACCEPTED ONLY BY PUBLISH-REPO".into()
            }
            (Ok(_), Err(e)) => match STRICTER.iter().find(|(_, phrase)| e.contains(phrase)) {
                Some((class, _)) => format!("refused only by publish-repo: {class}"),
                None => {
                    wrong.push(format!(
                        "case {i} ({what}): dpkg accepts, publish-repo refuses: {e}"
                    ));
                    "REFUSED ONLY BY PUBLISH-REPO, UNDOCUMENTED".into()
                }
            },
        };
        *counts.entry(class.clone()).or_default() += 1;
        if i % 50 == 0 {
            sample.insert(format!("every 50th: {i}"), i);
        }
        sample.entry(class).or_insert(i);
    }
    let table: String = counts
        .iter()
        .map(|(class, n)| format!("{n:5}  {class}\n"))
        .collect();
    print!("{table}");
    // scripts/test prints it (nextest hides a passing test's output).
    if let Some(dir) = std::env::var_os("CDKIT_TEST_REPORTS") {
        let path = Path::new(&dir).join("publish-repo-deb-differential.txt");
        std::fs::write(path, format!("{CASES} mutated .debs\n{table}")).unwrap();
    }
    assert!(
        wrong.is_empty(),
        "{} disagreement(s):\n{}",
        wrong.len(),
        wrong.join("\n")
    );
    assert!(
        counts.get("accepted by both").copied().unwrap_or(0) >= 50,
        "{counts:?}"
    );
    assert!(
        counts.get("refused by both").copied().unwrap_or(0) >= 200,
        "{counts:?}"
    );

    // The end-to-end path: `publish-repo add` on the sample, each into a fresh copy of one
    // initialised repository.
    let repo = Repo::new();
    let mut ran = 0;
    for i in sample
        .into_values()
        .collect::<std::collections::BTreeSet<_>>()
    {
        let (what, path) = &cases[i];
        let copy = tempfile::tempdir().unwrap();
        let root = copy.path().join("repo");
        let status = Command::new("cp")
            .arg("-a")
            .arg(repo.root())
            .arg(&root)
            .status()
            .unwrap();
        assert!(status.success());
        let before = tree_digest(&root);
        let out = Command::new(BIN)
            .args(["add", "--repo"])
            .arg(&root)
            .args(["--suite", "testing", "--sign-key", &repo.key.fingerprint])
            .arg(path)
            .env("GNUPGHOME", repo.key.home.path())
            .output()
            .unwrap();
        match publish_repo_reads(path) {
            Ok((package, version, _)) => {
                assert_eq!(
                    out.status.code(),
                    Some(0),
                    "case {i} ({what}): {}",
                    common::stderr(&out)
                );
                let listed = Command::new(BIN)
                    .args(["list", "--repo"])
                    .arg(&root)
                    .args(["--suite", "testing"])
                    .output()
                    .unwrap();
                let listed = String::from_utf8_lossy(&listed.stdout);
                assert!(
                    listed.contains(&package) && listed.contains(&version),
                    "case {i} ({what}): {listed}"
                );
            }
            Err(_) => {
                one_error_line(&out, 2, &[&path.display().to_string()]);
                assert_eq!(
                    tree_digest(&root),
                    before,
                    "case {i} ({what}) changed the repository"
                );
            }
        }
        ran += 1;
    }
    println!("publish-repo add ran on {ran} sampled cases");
}
