//! Runs a command in a private mount namespace where every file system is read-only except
//! the directories it is allowed to write (and, optionally, with `/run` hidden so maintainer
//! scripts cannot reach the host's systemd). A `make install` that ignores DESTDIR then fails
//! with "Read-only file system" instead of scattering files over the build machine.

use std::path::{Path, PathBuf};

use cdkit::process::Command;

/// The shell program run inside the namespace before the command: bind the writable
/// directories onto themselves, hide /run if asked, remount every other mount read-only.
const SETUP: &str = r#"set -e
n=$1; shift
ws="|"
while [ "$n" -gt 0 ]; do mount --bind "$1" "$1"; ws="$ws$1|"; shift; n=$((n-1)); done
if [ "$1" = hide-run ]; then mount -t tmpfs -o mode=0755 cdkit-run /run; fi
shift
mounts=$(awk '{print $2}' /proc/self/mounts)
for m in $mounts; do
  case "$m" in /proc|/proc/*|/sys|/sys/*|/dev|/dev/*|/run|/run/*) continue ;; esac
  case "$ws" in *"|$m|"*) continue ;; esac
  mount -o remount,bind,ro "$m" 2>/dev/null || true
done
# The working directory still points into the mount it was entered through; re-enter it by
# path so a writable bind mount over it takes effect.
cd "$(pwd -P)"
exec "$@"
"#;

/// Where a sandboxed command may write.
#[derive(Debug, Clone, Default)]
pub struct Sandbox {
    writable: Vec<PathBuf>,
    hide_run: bool,
}

impl Sandbox {
    /// A sandbox in which only `dirs` are writable.
    pub fn writable(dirs: &[&Path]) -> Sandbox {
        Sandbox {
            writable: dirs.iter().map(|d| d.to_path_buf()).collect(),
            hide_run: false,
        }
    }

    /// Also mount an empty tmpfs over `/run` (no systemd, no sockets of the host).
    pub fn hide_run(mut self) -> Sandbox {
        self.hide_run = true;
        self
    }

    /// A command that runs `argv` inside the sandbox (through unshare(1), from util-linux).
    pub fn command(&self, argv: &[String]) -> Command {
        let mut cmd = Command::new("unshare").args(["--mount", "--propagation", "private"]);
        if !nix::unistd::geteuid().is_root() {
            cmd = cmd.arg("--map-root-user");
        }
        cmd = cmd
            .args(["--", "/bin/sh", "-c", SETUP, "cdkit-sandbox"])
            .arg(self.writable.len().to_string());
        for dir in &self.writable {
            cmd = cmd.arg(dir);
        }
        cmd.arg(if self.hide_run {
            "hide-run"
        } else {
            "keep-run"
        })
        .args(argv)
    }
}

/// The first path a "Read-only file system" error names in `output`, i.e. where the
/// sandboxed command tried to write outside its writable directories.
pub fn read_only_violation(output: &str) -> Option<String> {
    output
        .lines()
        .find(|l| l.contains("Read-only file system"))
        .map(|line| quoted_path(line).unwrap_or_else(|| line.trim().to_string()))
}

/// What tools print when a write fails; some lose the "Read-only file system" of the
/// failed mkdir on the way (`install -d /etc/app` reports the chmod that followed it:
/// "cannot change permissions of '/etc/app': No such file or directory").
const WRITE_FAILURES: [&str; 7] = [
    "cannot create",
    "cannot change permissions",
    "cannot change ownership",
    "cannot make directory",
    "cannot remove",
    "cannot overwrite",
    "failed to create",
];

/// Whether `line` is a tool's report of a failed write (see [`read_only_violation`]).
pub fn is_write_failure(line: &str) -> bool {
    line.contains("Read-only file system") || WRITE_FAILURES.iter().any(|w| line.contains(w))
}

/// For a command that failed in the sandbox: the first path a failed-write line names that
/// lies outside `writable`, i.e. where the command tried to write on the build machine.
pub fn write_outside(output: &str, writable: &[&Path]) -> Option<String> {
    if let Some(path) = read_only_violation(output) {
        return Some(path);
    }
    output
        .lines()
        .filter(|l| WRITE_FAILURES.iter().any(|w| l.contains(w)))
        .filter_map(quoted_path)
        .find(|p| !writable.iter().any(|w| Path::new(p).starts_with(w)))
}

fn quoted_path(line: &str) -> Option<String> {
    for (open, close) in [('\'', '\''), ('‘', '’'), ('"', '"'), ('`', '\'')] {
        if let Some(start) = line.find(open) {
            let rest = &line[start + open.len_utf8()..];
            if let Some(end) = rest.find(close) {
                let candidate = &rest[..end];
                if candidate.starts_with('/') {
                    return Some(candidate.to_string());
                }
            }
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn violations_name_the_path() {
        let out = "make: Entering\ninstall: cannot create regular file '/usr/local/bin/app': Read-only file system\n";
        assert_eq!(
            read_only_violation(out).as_deref(),
            Some("/usr/local/bin/app")
        );
        assert_eq!(
            read_only_violation("mkdir: cannot create directory ‘/opt/x’: Read-only file system")
                .as_deref(),
            Some("/opt/x")
        );
        assert_eq!(read_only_violation("all good"), None);
        let chmod = "install: cannot change permissions of '/etc/app': No such file or directory";
        assert_eq!(
            write_outside(chmod, &[Path::new("/tmp/b")]).as_deref(),
            Some("/etc/app")
        );
        let inside = "install: cannot create regular file '/tmp/b/stage/x': Permission denied";
        assert_eq!(write_outside(inside, &[Path::new("/tmp/b")]), None);
        let read = "cp: cannot stat '/usr/share/missing': No such file or directory";
        assert_eq!(write_outside(read, &[Path::new("/tmp/b")]), None);
    }

    #[test]
    fn only_the_writable_directories_can_be_written() {
        let dir = tempfile::tempdir().unwrap();
        let ok = dir.path().join("ok");
        std::fs::create_dir(&ok).unwrap();
        let outside = tempfile::tempdir_in("/var/tmp").unwrap();
        let script = format!(
            "touch {ok}/inside && touch {out}/outside",
            ok = ok.display(),
            out = outside.path().display()
        );
        let mut output = String::new();
        let done = Sandbox::writable(&[&ok])
            .command(&["sh".into(), "-c".into(), script])
            .quiet()
            .run(|_, line| {
                output.push_str(line);
                output.push('\n');
            })
            .unwrap();
        assert!(!done.success(), "{output}");
        assert!(ok.join("inside").exists());
        assert!(!outside.path().join("outside").exists());
        let expected = outside.path().join("outside").display().to_string();
        assert_eq!(
            read_only_violation(&output).as_deref(),
            Some(expected.as_str()),
            "{output}"
        );
    }
}
