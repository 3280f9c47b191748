//! An I/O error that names what was being done to which path, so every tool's one-line error
//! says "cannot write reports/unit.xml: No space left on device" rather than a bare errno.

use std::path::PathBuf;

/// A failed file-system operation on `path`.
#[derive(Debug, thiserror::Error)]
#[error("cannot {action} {}: {source}", path.display())]
pub struct IoError {
    /// What was being done: "read", "create", "remove", …
    pub action: &'static str,
    /// The path it was done to, so the user knows which file to look at.
    pub path: PathBuf,
    /// What the system said.
    #[source]
    pub source: std::io::Error,
}

/// A `map_err` adapter: `fs::read(&p).map_err(io("read", &p))?`.
pub fn io(
    action: &'static str,
    path: impl Into<PathBuf>,
) -> impl FnOnce(std::io::Error) -> IoError {
    let path = path.into();
    move |source| IoError {
        action,
        path,
        source,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_message_names_action_path_and_cause() {
        let err = io("read", "/etc/x")(std::io::Error::other("boom"));
        assert_eq!(err.to_string(), "cannot read /etc/x: boom");
    }
}
