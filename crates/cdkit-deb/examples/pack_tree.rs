//! Pack a directory tree into a .deb with `cdkit_deb` — the benchmark's entry point
//! (`scripts/bench/build-deb`) and a quick manual check of the writer.
//!
//! ```text
//! cargo run --release -p cdkit-deb --example pack_tree -- TREE OUT.deb [COMPRESSION] [THREADS]
//! ```
//!
//! Every entry is root:root with the mode it has on disk; the mtime is `SOURCE_DATE_EPOCH`
//! (0 when unset). Prints one line: size, sha256, Installed-Size, files, seconds.

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Instant;

use cdkit_deb::{self as deb, Compression, DataEntry, Package, WriteOptions};

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.len() < 2 || args.len() > 4 {
        eprintln!("usage: pack_tree TREE OUT.deb [gzip|xz|zstd|none[:LEVEL]] [THREADS]");
        return ExitCode::from(2);
    }
    match run(&args) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("pack_tree: {e}");
            ExitCode::from(2)
        }
    }
}

fn run(args: &[String]) -> Result<(), Box<dyn std::error::Error>> {
    let tree = PathBuf::from(&args[0]);
    let out = PathBuf::from(&args[1]);
    let compression: Compression = args
        .get(2)
        .map_or(Ok(Compression::default()), |c| c.parse())?;
    let threads: usize = args.get(3).map_or(Ok(0), |t| t.parse())?;
    let mtime: u64 = std::env::var("SOURCE_DATE_EPOCH").map_or(Ok(0), |v| v.parse())?;

    let start = Instant::now();
    let pkg = Package {
        control: vec![
            ("Package".into(), "bench-tree".into()),
            ("Version".into(), "1.0".into()),
            ("Architecture".into(), "all".into()),
            (
                "Maintainer".into(),
                "cdkit bench <bench@example.com>".into(),
            ),
            (
                "Description".into(),
                "benchmark tree\nPacked by cdkit's pack_tree example.".into(),
            ),
        ],
        conffiles: vec![],
        scripts: vec![],
        entries: entries(&tree)?,
        mtime,
        compression,
    };
    let written = deb::write_deb_with(&pkg, &out, &WriteOptions { threads })?;
    println!(
        "size={} sha256={} installed_size_kib={} files={} seconds={:.3}",
        written.size,
        written.sha256,
        written.installed_size_kib,
        written.files,
        start.elapsed().as_secs_f64()
    );
    Ok(())
}

/// One entry per file, directory and symlink under `tree` (not `tree` itself).
fn entries(tree: &Path) -> Result<Vec<DataEntry>, Box<dyn std::error::Error>> {
    use std::os::unix::fs::PermissionsExt;
    let mut out = Vec::new();
    for item in walkdir::WalkDir::new(tree).min_depth(1) {
        let item = item?;
        let rel = item.path().strip_prefix(tree)?;
        let path = format!("/{}", rel.to_str().ok_or("non-UTF-8 file name")?);
        let meta = item.path().symlink_metadata()?;
        let mode = meta.permissions().mode() & 0o7777;
        let ft = meta.file_type();
        if ft.is_symlink() {
            let target = std::fs::read_link(item.path())?;
            out.push(DataEntry::symlink(
                path,
                target.to_str().ok_or("non-UTF-8 symlink target")?,
            ));
        } else if ft.is_dir() {
            out.push(DataEntry::dir(path, mode));
        } else if ft.is_file() {
            out.push(DataEntry::file(path, item.path(), mode));
        } else {
            return Err(format!(
                "{}: not a file, directory or symlink",
                item.path().display()
            )
            .into());
        }
    }
    Ok(out)
}
