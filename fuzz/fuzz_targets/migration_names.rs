//! db-migrate's migrations directory: file names (any bytes but '/' and NUL) and contents.
//! The input is `NAME\nCONTENT`; a second file comes after a `--8<--` line.
#![no_main]
use libfuzzer_sys::fuzz_target;
use std::ffi::OsStr;
use std::os::unix::ffi::OsStrExt;

fuzz_target!(|data: &[u8]| {
    let dir = cdkit_fuzz::fresh_dir("migration_names");
    for file in cdkit_fuzz::parts(data, 3) {
        let (name, content) = match file.iter().position(|&b| b == b'\n') {
            Some(i) => (&file[..i], &file[i + 1..]),
            None => (file, &b""[..]),
        };
        if name.is_empty()
            || name.len() > 255
            || name.contains(&b'/')
            || name.contains(&0)
            || name == b"."
            || name == b".."
        {
            return;
        }
        let _ = std::fs::write(dir.join(OsStr::from_bytes(name)), content);
    }
    if let Ok(migrations) = db_migrate::files::load(&dir) {
        for m in &migrations {
            let _ = m.label();
        }
    }
    let _ = db_migrate::files::next_version(&dir);
});
