//! The order of the steps: check all input, stream the data member into an anonymous temp
//! file next to the output, build the control member from what streaming learned (md5s,
//! Installed-Size), then assemble the .deb atomically. Nothing is written before the input
//! is checked, and the temp file disappears with its descriptor, also on a crash.

use std::fs;
use std::io::BufWriter;
use std::path::Path;

use super::control::{self, ControlMembers};
use super::data;
use super::entries;
use super::error::DebError;
use super::{ar_file, Package, WriteOptions, Written};

/// Write `pkg` to `out` with compression on all available cores. See [`write_deb_with`].
pub fn write_deb(pkg: &Package, out: &Path) -> Result<Written, DebError> {
    write_deb_with(pkg, out, &WriteOptions::default())
}

/// Write `pkg` to `out`, atomically: `out` is either the complete package or untouched.
/// The bytes depend only on `pkg` and the files' contents (not on source mtimes, owners,
/// listing order, the thread count or the machine), so rebuilds can be compared by sha256.
pub fn write_deb_with(
    pkg: &Package,
    out: &Path,
    options: &WriteOptions,
) -> Result<Written, DebError> {
    let tree = entries::plan(&pkg.entries)?;
    let conffiles = entries::check_conffiles(&pkg.conffiles, &tree)?;
    control::check_fields(&pkg.control)?;
    let scripts = control::check_scripts(&pkg.scripts)?;

    let output = DebError::output(out);
    let dir = match out.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    };
    fs::create_dir_all(dir).map_err(output)?;
    // Next to the output rather than in /tmp, which may be RAM (tmpfs) or too small.
    let temp = tempfile::tempfile_in(dir).map_err(output)?;
    let threads = match options.threads {
        0 => std::thread::available_parallelism().map_or(1, |n| n.get()),
        n => n,
    };
    let (summary, buffered) = data::write_data(
        &tree,
        pkg.mtime,
        pkg.compression,
        threads,
        BufWriter::with_capacity(1 << 20, temp),
        out,
    )?;
    let mut temp = buffered.into_inner().map_err(|e| output(e.into_error()))?;

    let fields = control::with_installed_size(&pkg.control, summary.installed_size_kib);
    let control_gz = control::control_tar_gz(&ControlMembers {
        fields: &fields,
        md5sums: &summary.md5sums,
        conffiles: &conffiles,
        scripts: &scripts,
        mtime: pkg.mtime,
    })
    .map_err(output)?;

    let done = ar_file::assemble(
        out,
        pkg.mtime,
        "control.tar.gz",
        &control_gz,
        &pkg.compression.data_member_name(),
        &mut temp,
    )?;
    Ok(Written {
        path: out.to_path_buf(),
        size: done.size,
        sha256: done.sha256,
        installed_size_kib: summary.installed_size_kib,
        files: summary.md5sums.len(),
        entries: summary.entries,
    })
}
