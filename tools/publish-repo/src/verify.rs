//! `verify`: every hash, size and signature in the published tree checks out. It reads the
//! tree as a client would (Release → indexes → pool, and every by-hash copy by its name), not
//! publish-repo's own state.

use std::collections::BTreeMap;
use std::fs;
use std::path::Path;

use cdkit::process::Command;

use crate::config;
use crate::error::{io, Error};

/// How many times a suite is checked again when a publisher switched it to a new generation
/// while it was being read (each try reads one generation; a publish takes far longer than a
/// check, so a second try almost always sees a generation that stays put).
const RETRIES: usize = 4;

/// Check the repository at `repo`; returns the defects found (empty = healthy).
/// `keyring`: a public keyring to check signatures with (gpgv); else the gpg keyring.
///
/// Takes no lock: publishers go on while it runs. Each suite's `dists/SUITE` link is resolved
/// once and everything is read from that generation's directory, so a switch in the middle
/// cannot mix two generations; a publisher deletes the generation it replaced, so when a check
/// finds defects and the link has moved on meanwhile, the suite is checked again from the new
/// generation.
pub fn verify(
    repo: &Path,
    keyring: Option<&Path>,
    unsigned_ok: bool,
) -> Result<Vec<String>, Error> {
    let config = config::load(repo)?;
    let keyring = keyring.map(Keyring::open).transpose()?;
    let keyring = keyring.as_ref().map(|k| k.path.as_path());
    let mut defects = Vec::new();
    let mut pool_sums: BTreeMap<String, Option<(u64, String)>> = BTreeMap::new();
    for suite in &config.suites {
        defects.extend(verify_suite(
            repo,
            suite,
            keyring,
            unsigned_ok,
            &mut pool_sums,
        )?);
    }
    Ok(defects)
}

/// The defects of `suite`'s live generation (read again if it was replaced while being read).
fn verify_suite(
    repo: &Path,
    suite: &str,
    keyring: Option<&Path>,
    unsigned_ok: bool,
    pool_sums: &mut BTreeMap<String, Option<(u64, String)>>,
) -> Result<Vec<String>, Error> {
    let link = repo.join("dists").join(suite);
    let mut tries = 0;
    loop {
        let Ok(generation) = fs::canonicalize(&link) else {
            if fs::symlink_metadata(&link).is_ok() {
                return Ok(vec![format!(
                    "{suite}: dists/{suite} does not resolve (a dangling or looping link): clients of {suite} get nothing"
                )]);
            }
            if !ever_published(repo, suite) && crate::state::load(repo, suite)?.entries.is_empty() {
                return Ok(Vec::new()); // never published: nothing to check
            }
            return Ok(vec![format!(
                "{suite}: dists/{suite} is missing: clients of {suite} get nothing"
            )]);
        };
        let mut defects = Vec::new();
        let checked = verify_generation(
            repo,
            &generation,
            suite,
            keyring,
            unsigned_ok,
            pool_sums,
            &mut defects,
        );
        let healthy = checked.is_ok() && defects.is_empty();
        let moved = || fs::canonicalize(&link).ok().as_ref() != Some(&generation);
        if !healthy && tries < RETRIES && moved() {
            tries += 1;
            tracing::debug!(
                suite,
                "{suite} was published anew while being checked: again"
            );
            // A pool file the replaced generation listed may be gone by now, legitimately.
            pool_sums.retain(|_, sums| sums.is_some());
            continue;
        }
        checked?;
        return Ok(defects);
    }
}

/// Whether `suite` was ever published: a generation directory `dists/.SUITE.*` or a
/// generation's history file is there. Then a missing `dists/SUITE` is a suite gone for its
/// clients, not one that was never published.
fn ever_published(repo: &Path, suite: &str) -> bool {
    let has = |dir: &Path, prefix: &str| {
        fs::read_dir(dir).is_ok_and(|items| {
            items
                .flatten()
                .any(|i| i.file_name().to_string_lossy().starts_with(prefix))
        })
    };
    has(&repo.join("dists"), &format!(".{suite}."))
        || has(
            &repo.join(config::META_DIR).join("generations"),
            &format!("{suite}@"),
        )
}

/// Why a Release is not `suite`'s (its Suite or Codename names another), or `None`: a
/// `dists/SUITE` that leads to another suite's tree serves clients the wrong packages.
fn other_suite(release: &str, suite: &str) -> Option<String> {
    for field in ["Suite", "Codename"] {
        let value = release
            .lines()
            .take_while(|l| !l.is_empty())
            .find_map(|l| l.strip_prefix(field).and_then(|r| r.strip_prefix(':')))
            .map(str::trim);
        match value {
            Some(v) if v == suite => {}
            Some(v) => return Some(format!("its Release is suite {v:?} ({field}: {v})")),
            None => return Some(format!("its Release has no {field} field")),
        }
    }
    None
}

/// Check one generation directory of `suite` (what `dists/SUITE` pointed to).
fn verify_generation(
    repo: &Path,
    dists: &Path,
    suite: &str,
    keyring: Option<&Path>,
    unsigned_ok: bool,
    pool_sums: &mut BTreeMap<String, Option<(u64, String)>>,
    defects: &mut Vec<String>,
) -> Result<(), Error> {
    let release_path = dists.join("Release");
    let Ok(release) = fs::read_to_string(&release_path) else {
        defects.push(format!("{suite}: dists/{suite}/Release is missing"));
        return Ok(());
    };
    if let Some(problem) = other_suite(&release, suite) {
        defects.push(format!(
            "{suite}: dists/{suite} leads to another suite's tree: {problem}"
        ));
    }
    // Signatures.
    let inrelease = dists.join("InRelease");
    if inrelease.exists() {
        match check_signature(&inrelease, None, keyring)? {
            Some(problem) => defects.push(format!("{suite}: InRelease: {problem}")),
            None => {
                let text = fs::read_to_string(&inrelease).map_err(io("read", &inrelease))?;
                if clearsigned_body(&text).is_none_or(|body| body != release) {
                    defects.push(format!(
                        "{suite}: InRelease does not contain the current Release"
                    ));
                }
            }
        }
        let detached = dists.join("Release.gpg");
        if let Some(problem) = check_signature(&detached, Some(&release_path), keyring)? {
            defects.push(format!("{suite}: Release.gpg: {problem}"));
        }
    } else if !unsigned_ok {
        defects.push(format!("{suite}: not signed (no InRelease)"));
    }
    // Index files listed in Release.
    let mut in_sha256 = false;
    for line in release.lines() {
        if !line.starts_with(' ') {
            in_sha256 = line.starts_with("SHA256:");
            continue;
        }
        if !in_sha256 {
            continue;
        }
        let parts: Vec<&str> = line.split_whitespace().collect();
        let [sha, size, rel] = parts[..] else {
            defects.push(format!("{suite}: malformed Release line {line:?}"));
            continue;
        };
        let path = dists.join(rel);
        match fs::read(&path) {
            Err(_) => defects.push(format!("{suite}: {rel} is listed in Release but missing")),
            Ok(bytes) => {
                if bytes.len().to_string() != size || cdkit::hash::sha256_hex(&bytes) != sha {
                    defects.push(format!("{suite}: {rel} does not match its Release entry"));
                }
                let dir = Path::new(rel).parent().unwrap_or(Path::new(""));
                if !dists.join(dir).join("by-hash/SHA256").join(sha).exists() {
                    defects.push(format!("{suite}: by-hash copy of {rel} ({sha}) is missing"));
                }
                if let Some(problem) = compressed_mismatch(dists, rel, &bytes) {
                    defects.push(format!("{suite}: {rel} {problem}"));
                }
                if rel.ends_with("/Packages") {
                    check_packages(
                        repo,
                        suite,
                        rel,
                        &String::from_utf8_lossy(&bytes),
                        pool_sums,
                        defects,
                    );
                }
            }
        }
    }
    check_by_hash(dists, Path::new(""), suite, defects);
    Ok(())
}

/// Every file under a `by-hash/ALGORITHM/` directory of `dir` (walked from `base`, the
/// suite's directory) is named after its own hash: the retained generations' copies too, which
/// no current Release lists but a client that fetched an older InRelease moments ago asks for.
fn check_by_hash(base: &Path, dir: &Path, suite: &str, defects: &mut Vec<String>) {
    let Ok(items) = fs::read_dir(base.join(dir)) else {
        return;
    };
    for item in items.flatten() {
        let name = item.file_name();
        let rel = dir.join(&name);
        if !item.path().is_dir() {
            continue;
        }
        if name != "by-hash" {
            check_by_hash(base, &rel, suite, defects);
            continue;
        }
        let Ok(algorithms) = fs::read_dir(item.path()) else {
            continue;
        };
        for algorithm in algorithms.flatten() {
            let algorithm_name = algorithm.file_name().to_string_lossy().into_owned();
            let Ok(files) = fs::read_dir(algorithm.path()) else {
                defects.push(format!(
                    "{suite}: {} is not a directory",
                    rel.join(&algorithm_name).display()
                ));
                continue;
            };
            for file in files.flatten() {
                let file_rel = rel.join(&algorithm_name).join(file.file_name());
                let actual = match fs::read(file.path()) {
                    Err(e) => Err(format!("cannot be read: {e}")),
                    Ok(bytes) => match algorithm_name.as_str() {
                        "SHA256" => Ok(cdkit::hash::sha256_hex(&bytes)),
                        "SHA512" => {
                            use sha2::Digest;
                            Ok(cdkit::hash::hex(&sha2::Sha512::digest(&bytes)))
                        }
                        other => Err(format!("is under {other}, a hash verify does not know")),
                    },
                };
                match actual {
                    Ok(sum) if file.file_name().to_str() == Some(sum.as_str()) => {}
                    Ok(sum) => defects.push(format!(
                        "{suite}: {} does not match its name (its {algorithm_name} is {sum})",
                        file_rel.display()
                    )),
                    Err(problem) => {
                        defects.push(format!("{suite}: {} {problem}", file_rel.display()))
                    }
                }
            }
        }
    }
}

/// For a compressed index (`….gz`, `….xz`) next to its plain one: why it does not
/// decompress to exactly the plain file (apt checks the result against the plain file's
/// hash), or `None`.
fn compressed_mismatch(dists: &Path, rel: &str, bytes: &[u8]) -> Option<String> {
    use std::io::Read;
    let (plain_rel, decoder): (&str, Box<dyn Read + '_>) = if let Some(p) = rel.strip_suffix(".gz")
    {
        (p, Box::new(flate2::read::MultiGzDecoder::new(bytes)))
    } else if let Some(p) = rel.strip_suffix(".xz") {
        (p, Box::new(liblzma::read::XzDecoder::new(bytes)))
    } else {
        return None;
    };
    let plain = fs::read(dists.join(plain_rel)).ok()?;
    let mut out = Vec::with_capacity(plain.len());
    match decoder.take(plain.len() as u64 + 1).read_to_end(&mut out) {
        Err(e) => Some(format!("does not decompress: {e}")),
        Ok(_) if out != plain => Some(format!("does not decompress to {plain_rel}")),
        Ok(_) => None,
    }
}

/// Every stanza's Filename exists with the Size and SHA256 the stanza states.
fn check_packages(
    repo: &Path,
    suite: &str,
    rel: &str,
    text: &str,
    pool_sums: &mut BTreeMap<String, Option<(u64, String)>>,
    defects: &mut Vec<String>,
) {
    for stanza in text.split("\n\n").filter(|s| !s.trim().is_empty()) {
        let field = |name: &str| {
            stanza
                .lines()
                .find_map(|l| l.strip_prefix(name).and_then(|r| r.strip_prefix(": ")))
                .map(str::trim)
        };
        let (Some(filename), Some(size), Some(sha)) =
            (field("Filename"), field("Size"), field("SHA256"))
        else {
            defects.push(format!(
                "{suite}: {rel}: a stanza lacks Filename, Size or SHA256"
            ));
            continue;
        };
        let actual = pool_sums
            .entry(filename.to_string())
            .or_insert_with(|| {
                cdkit::hash::file_checksums(&repo.join(filename))
                    .ok()
                    .map(|(size, _, sha)| (size, sha))
            })
            .clone();
        match actual {
            None => defects.push(format!(
                "{suite}: {filename} is listed in {rel} but missing from the pool"
            )),
            Some((s, h)) if s.to_string() != size || h != sha => defects.push(format!(
                "{suite}: {filename} does not match its stanza in {rel}"
            )),
            Some(_) => {}
        }
    }
}

/// The signed text of a clearsigned message (dash-escaping undone), as gpg would output it.
fn clearsigned_body(text: &str) -> Option<String> {
    let start = text.find("\n\n")? + 2;
    let end = text.find("\n-----BEGIN PGP SIGNATURE-----")?;
    let body = &text[start..end];
    let mut out = String::with_capacity(body.len() + 1);
    for line in body.split('\n') {
        out.push_str(line.strip_prefix("- ").unwrap_or(line));
        out.push('\n');
    }
    Some(out)
}

/// The public keyring `--keyring` names, ready for `gpgv --keyring`.
///
/// gpgv reads a name without a slash from GNUPGHOME, so a relative path is made absolute
/// first (it is a path, like everywhere else). An ASCII-armoured keyring (`.asc`, which apt
/// accepts in `signed-by`) is dearmored into a private temporary one, since gpgv reads only
/// binary keyrings. A keyring that is missing, unreadable or holds no public key is bad input:
/// checking signatures with it would report every signature as bad.
struct Keyring {
    path: std::path::PathBuf,
    _temp: Option<tempfile::TempDir>,
}

impl Keyring {
    fn open(given: &Path) -> Result<Keyring, Error> {
        let bad =
            |problem: String| Error::Usage(format!("--keyring {}: {problem}", given.display()));
        let bytes = fs::read(given).map_err(|e| bad(format!("cannot read it ({e})")))?;
        let path = std::path::absolute(given).map_err(|e| bad(format!("no such path ({e})")))?;
        let temp = tempfile::Builder::new()
            .prefix("publish-repo-keyring.")
            .permissions(std::os::unix::fs::PermissionsExt::from_mode(0o700))
            .tempdir()
            .map_err(io("create a keyring in", std::env::temp_dir()))?;
        // Reading the keys needs a GnuPG home; a private empty one leaves the user's alone.
        let gpg = || {
            Command::new("gpg")
                .args(["--batch", "--no-tty", "--quiet", "--homedir"])
                .arg(temp.path())
                .quiet()
        };
        let mut listing = String::new();
        let mut said = String::new();
        let shown = gpg()
            .args(["--with-colons", "--show-keys"])
            .arg(&path)
            .run(|stream, line| match stream {
                cdkit::process::Stream::Stdout => {
                    listing.push_str(line);
                    listing.push('\n');
                }
                _ => {
                    said.push_str(line);
                    said.push(' ');
                }
            })?;
        if !shown.success() || !listing.lines().any(|l| l.starts_with("pub:")) {
            let why = match said.trim() {
                "" => String::new(),
                text => format!(" ({text})"),
            };
            return Err(bad(format!("holds no OpenPGP public key{why}")));
        }
        let armored = bytes.trim_ascii_start().starts_with(b"-----BEGIN PGP");
        if !armored {
            return Ok(Keyring { path, _temp: None });
        }
        let binary = temp.path().join("keyring.gpg");
        let mut said = String::new();
        let done = gpg()
            .arg("--output")
            .arg(&binary)
            .arg("--dearmor")
            .arg(&path)
            .run(|_, line| {
                said.push_str(line);
                said.push(' ');
            })?;
        if !done.success() {
            return Err(bad(format!("cannot dearmor it ({})", said.trim())));
        }
        Ok(Keyring {
            path: binary,
            _temp: Some(temp),
        })
    }
}

/// `None` if the signature is good, else what gpg said.
fn check_signature(
    signature: &Path,
    data: Option<&Path>,
    keyring: Option<&Path>,
) -> Result<Option<String>, Error> {
    if !signature.exists() {
        return Ok(Some("missing".into()));
    }
    let mut cmd = match keyring {
        Some(k) => Command::new("gpgv").arg("--keyring").arg(k),
        None => Command::new("gpg").args(["--batch", "--verify"]),
    }
    .quiet()
    .arg(signature);
    if let Some(d) = data {
        cmd = cmd.arg(d);
    }
    let mut said = String::new();
    let done = cmd.run(|_, line| {
        said.push_str(line);
        said.push(' ');
    })?;
    Ok((!done.success()).then(|| format!("bad signature ({})", said.trim())))
}
