//! Helpers shared by the fuzz targets: most of the tools read their untrusted input from a
//! path, so the targets write each input to a scratch directory of their own process.

use std::path::{Path, PathBuf};
use std::sync::OnceLock;

/// This process's scratch directory, once made.
static SCRATCH: OnceLock<PathBuf> = OnceLock::new();

/// This process's scratch directory (made once, removed by the OS's tmp cleaning; libFuzzer
/// ends the process with `exit`, so no destructor would run anyway).
pub fn scratch() -> &'static Path {
    SCRATCH.get_or_init(|| {
        let dir = std::env::temp_dir().join(format!("cdkit-fuzz-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("create the fuzz scratch directory");
        dir
    })
}

/// Removes this process's scratch directory, for a run that ends normally (the bounded
/// mutation run; libFuzzer never returns).
pub fn remove_scratch() {
    if let Some(dir) = SCRATCH.get() {
        let _ = std::fs::remove_dir_all(dir);
    }
}

/// A fresh, empty directory `name` under the scratch directory.
pub fn fresh_dir(name: &str) -> PathBuf {
    let dir = scratch().join(name);
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("create a fuzz directory");
    dir
}

/// Write `bytes` to `rel` under `dir` (parents made) and return the path.
pub fn put(dir: &Path, rel: &str, bytes: &[u8]) -> PathBuf {
    let path = dir.join(rel);
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent).expect("create a fuzz directory");
    }
    std::fs::write(&path, bytes).expect("write a fuzz input");
    path
}

/// Splits `data` into at most `n` parts at the separator line `\n--8<--\n`, so that one
/// input can carry several files (an inventory and its group_vars, a state and its delta).
/// The seeds use the same separator.
pub fn parts(data: &[u8], n: usize) -> Vec<&[u8]> {
    const SEP: &[u8] = b"\n--8<--\n";
    let mut out = Vec::new();
    let mut rest = data;
    while out.len() + 1 < n {
        match rest.windows(SEP.len()).position(|w| w == SEP) {
            Some(i) => {
                out.push(&rest[..i]);
                rest = &rest[i + SEP.len()..];
            }
            None => break,
        }
    }
    out.push(rest);
    out
}
