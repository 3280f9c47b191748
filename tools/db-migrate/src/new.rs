//! `new NAME`: the next migration's two files, numbered after the highest existing version
//! with the directory's zero-padding, created without overwriting anything.

use std::io::Write;
use std::path::{Path, PathBuf};

use crate::Error;

/// The two files `create` would make (the name checked, nothing written): for `--dry-run`.
pub fn plan(dir: &Path, name: &str) -> Result<(PathBuf, PathBuf), Error> {
    Ok(paths(dir, &next_stem(dir, name)?))
}

/// Create `NNNN_NAME.up.sql` and `NNNN_NAME.down.sql` in `dir`; returns both paths.
pub fn create(dir: &Path, name: &str) -> Result<(PathBuf, PathBuf), Error> {
    let stem = next_stem(dir, name)?;
    std::fs::create_dir_all(dir).map_err(|e| Error::BadMigration {
        path: dir.to_path_buf(),
        problem: format!("cannot create the migrations directory: {e}"),
    })?;
    let (up, down) = paths(dir, &stem);
    write_new(&up, &format!("-- {stem}: the change (first line `-- no-transaction` to run it outside a transaction)\n"))?;
    if let Err(e) = write_new(
        &down,
        &format!(
            "-- {stem}: undo the change (kept in the history when applied).\n\
             -- A down file without statements cannot be reverted: `down` refuses it. For an\n\
             -- intentional no-op, write: SELECT 1;\n"
        ),
    ) {
        let _ = std::fs::remove_file(&up);
        return Err(e);
    }
    Ok((up, down))
}

/// `NNNN_NAME` for the next version, with the directory's zero-padding.
fn next_stem(dir: &Path, name: &str) -> Result<String, Error> {
    if name.is_empty()
        || !name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
    {
        return Err(Error::Usage(format!(
            "new {name:?}: a migration name is letters, digits, _ or - (e.g. add_users_email)"
        )));
    }
    let (version, width) = crate::files::next_version(dir)?;
    Ok(format!("{version:0width$}_{name}"))
}

fn paths(dir: &Path, stem: &str) -> (PathBuf, PathBuf) {
    (
        dir.join(format!("{stem}.up.sql")),
        dir.join(format!("{stem}.down.sql")),
    )
}

fn write_new(path: &Path, text: &str) -> Result<(), Error> {
    let bad = |e: std::io::Error| Error::BadMigration {
        path: path.to_path_buf(),
        problem: format!("cannot create: {e}"),
    };
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(path)
        .map_err(bad)?;
    f.write_all(text.as_bytes()).map_err(bad)?;
    f.sync_all().map_err(bad)
}
