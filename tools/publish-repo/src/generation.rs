//! Which index generation of a suite is live, and the files publish-repo keeps per generation.
//!
//! `dists/SUITE` is a symbolic link to a complete tree `dists/.SUITE.STAMP`. The suite's state
//! (`.publish-repo/suites/SUITE@STAMP.state` or `.delta`) and its publishing history
//! (`.publish-repo/generations/SUITE@STAMP.json`) are written per generation too, and the ones
//! that count are those of the STAMP the link names. So the one `rename(2)` that switches the
//! link commits the tree, the state and the history together: a publish that fails (gpg, a full
//! disk) or is killed at any point leaves all three as they were, and a retried `add` or
//! `remove` sees what clients see. (When the state was saved apart from the switch, a publish
//! killed or failing in between left a state listing packages no index listed: a retried `add`
//! said "already in testing" and never published.)

use std::fs;
use std::path::{Path, PathBuf};

use crate::error::{io, Error};

/// A new generation's stamp: the time, to the nanosecond (publishers are serialised by the
/// repository lock, so two never share one).
pub fn new_stamp() -> String {
    chrono::Utc::now().format("%Y%m%dT%H%M%S%.9fZ").to_string()
}

/// The directory name of a generation under `dists/`.
pub fn dir_name(suite: &str, stamp: &str) -> String {
    format!(".{suite}.{stamp}")
}

/// The stamp of the generation `dists/SUITE` points to; `None` when the suite was never
/// published (or is a plain directory of an older publish-repo).
pub fn live(repo: &Path, suite: &str) -> Option<String> {
    let target = fs::read_link(repo.join("dists").join(suite)).ok()?;
    let stamp = target
        .to_str()?
        .strip_prefix(&format!(".{suite}."))?
        .to_string();
    let plain = !stamp.is_empty() && stamp.chars().all(|c| c.is_ascii_alphanumeric() || c == '.');
    plain.then_some(stamp)
}

/// `SUITE@STAMP.EXT`: the name of a file that belongs to one generation (what
/// [`forget_others`] is told to keep).
pub fn file_name(suite: &str, stamp: &str, ext: &str) -> String {
    format!("{suite}@{stamp}.{ext}")
}

/// `DIR/SUITE@STAMP.EXT`: a file that belongs to one generation.
pub fn file(dir: &Path, suite: &str, stamp: &str, ext: &str) -> PathBuf {
    dir.join(file_name(suite, stamp, ext))
}

/// Delete the per-generation files of `suite` in `dir` (and the temporary files of killed
/// writers of them) except `keep` (file names), and the files an older publish-repo kept
/// there without a generation (`legacy`, file names). Call under the repository lock, after
/// the switch: only the live generation's files are needed from then on.
pub fn forget_others(
    dir: &Path,
    suite: &str,
    keep: &[String],
    legacy: &[String],
) -> Result<(), Error> {
    let ours = format!("{suite}@");
    let temp = format!(".{suite}@");
    let entries = match fs::read_dir(dir) {
        Ok(entries) => entries,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(io("read", dir)(e)),
    };
    for item in entries.flatten() {
        let name = item.file_name().to_string_lossy().into_owned();
        let stale = ((name.starts_with(&ours) || name.starts_with(&temp)) && !keep.contains(&name))
            || legacy.contains(&name);
        if stale {
            match fs::remove_file(item.path()) {
                Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
                    return Err(io("remove", item.path())(e))
                }
                _ => {}
            }
        }
    }
    Ok(())
}

/// Delete the files of generation `stamp` of `suite` in `dir` (a publish that did not go
/// live). Best effort: what is left is removed by the next successful publish.
pub fn discard(dir: &Path, suite: &str, stamp: &str) {
    let prefix = format!("{suite}@{stamp}.");
    let Ok(entries) = fs::read_dir(dir) else {
        return;
    };
    for item in entries.flatten() {
        if item.file_name().to_string_lossy().starts_with(&prefix) {
            let _ = fs::remove_file(item.path());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_live_stamp_is_the_one_the_link_names() {
        let dir = tempfile::tempdir().unwrap();
        let dists = dir.path().join("dists");
        fs::create_dir_all(&dists).unwrap();
        assert_eq!(live(dir.path(), "testing"), None);
        let stamp = new_stamp();
        std::os::unix::fs::symlink(dir_name("testing", &stamp), dists.join("testing")).unwrap();
        assert_eq!(live(dir.path(), "testing"), Some(stamp.clone()));
        std::os::unix::fs::symlink("../elsewhere", dists.join("other")).unwrap();
        assert_eq!(live(dir.path(), "other"), None);

        let meta = dir.path().join("meta");
        fs::create_dir_all(&meta).unwrap();
        for name in [
            format!("testing@{stamp}.state"),
            "testing@old.state".into(),
            "testing@old.delta".into(),
            ".testing@x.state.abc.tmp".into(),
            "testing.state".into(),
            "testing-2@old.state".into(),
        ] {
            fs::write(meta.join(name), "x").unwrap();
        }
        forget_others(
            &meta,
            "testing",
            &[format!("testing@{stamp}.state")],
            &["testing.state".into()],
        )
        .unwrap();
        let mut left: Vec<String> = fs::read_dir(&meta)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        left.sort();
        assert_eq!(
            left,
            [
                "testing-2@old.state".to_string(),
                format!("testing@{stamp}.state")
            ]
        );
        discard(&meta, "testing", &stamp);
        assert!(!file(&meta, "testing", &stamp, "state").exists());
    }
}
