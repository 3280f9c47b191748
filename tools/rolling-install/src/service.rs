//! The service's side of a host's turn: its own logs and its state, so that nobody has to log
//! in to a host to learn why it failed.
//!
//! A turn begins with a [`Mark`] (where the host's journal and `--service-log` files stand);
//! [`collect`] then reads what the package's systemd units wrote to the journal after the mark
//! (the unit files the package ships, from `dpkg-query -L`, or `--service-unit`) and the lines
//! appended to the files, with `systemctl show`'s view of each unit, in one ssh command. Every
//! line goes to the central log ([`cdkit::cli::CENTRAL`]: the log file, syslog and a JSON
//! console, redacted like every line) with the host, the unit or file, the step it was written
//! during, the journal's own time stamp and priority. A failing host's error carries the
//! [`Collected::diagnosis`]: the units' state and their last lines.
//!
//! Collection is bounded (head and tail of each stream kept, lines cut at 4 KiB, 1 MiB per
//! call) and never fails or slows a rollout beyond its one command: a host without journald
//! gets one warning, a failed collection another, and the turn goes on.

use std::time::Duration;

use cdkit::process::Stream;
use serde_json::Value;

use crate::host_ops::{HostError, HostOps};

/// What a run watches on each host (`--service-unit`, `--service-log`).
#[derive(Debug, Clone, Default)]
pub struct Watch {
    /// The units to read; empty: the units the package ships.
    pub units: Vec<String>,
    /// Log file patterns (shell globs on the host) whose appended lines are collected.
    pub files: Vec<String>,
    /// Lines kept from the start and from the end of each stream of one collection.
    pub keep: usize,
}

/// Lines kept at each end of a stream when nothing else is said.
pub const DEFAULT_KEEP: usize = 500;

/// Longest service line kept (bytes); longer ones are cut.
const MAX_LINE: usize = 4096;

/// Most bytes one collection reads from a host.
const MAX_BYTES: usize = 1024 * 1024;

/// Longest one collection may take.
const TIMEOUT: Duration = Duration::from_secs(30);

/// Where a host's logs stood: collection reads what came after.
#[derive(Debug, Clone, Default)]
pub struct Mark {
    /// The journal cursor after the last collection.
    cursor: Option<String>,
    /// Before the first collection: the journal is read from this time on (seconds since the
    /// epoch, the run's start), so a host's lines written while earlier batches worked are
    /// not lost, and none from before the run are taken.
    since: String,
    /// The size of each watched file.
    files: Vec<(String, u64)>,
    /// The units found so far (kept for a package that a restore removes).
    units: Vec<String>,
}

impl Mark {
    /// A host's mark before its first collection: its journal is read from `since` on.
    pub fn since(since: std::time::SystemTime) -> Mark {
        let since = since
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap_or_default();
        Mark {
            since: format!("{}.{:06}", since.as_secs(), since.subsec_micros()),
            ..Mark::default()
        }
    }
}

/// Prints `F SIZE PATH` for each file the globs in `$@` match. Globs expand on the host (`IFS=`
/// keeps a pattern with spaces whole).
const MARK: &str = r#"IFS=
for g in "$@"; do
  for f in $g; do
    [ -f "$f" ] && printf 'F %s %s\n' "$(stat -c %s -- "$f")" "$f"
  done
done
exit 0
"#;

/// Shell code shared by every script that reads a package's units (one definition of which
/// units "the package's" are): sets `$units` to `$given` (the user's `--service-unit`s,
/// space-separated) or, when empty, to the `.service` units `$pkg` ships (from `dpkg-query -L`;
/// template units left out). A macro because `concat!` takes only literals.
macro_rules! units_of_package {
    () => {
        r#"units=$given
if [ -z "$units" ]; then
  units=$(dpkg-query -L "$pkg" 2>/dev/null | sed -n 's#^\(/usr\)\{0,1\}/lib/systemd/system/\([^/@]*\.service\)$#\2#p' | sort -u | tr '\n' ' ')
fi
"#
    };
}

/// Shell code printing unit `$u`'s `S UNIT key=value…` line (tab-separated pairs), read by
/// [`unit_state`].
macro_rules! show_unit {
    () => {
        r#"  printf 'S %s %s\n' "$u" "$(systemctl show "$u" -p ActiveState -p SubState -p Result -p ExecMainStatus -p NRestarts -p ActiveEnterTimestamp 2>/dev/null | tr '\n' '\t')"
"#
    };
}

/// `$1` cursor (empty: read from `$8`), `$2`/`$3` lines kept at the head/tail of each stream, `$4`
/// package, `$5` units given by the user (space-separated; empty: discover), `$6` units found
/// before, `$7` known file sizes (`SIZE PATH` lines), `$8` the time to read the journal from
/// without a cursor, `$9…` file globs. Prints `U UNIT`,
/// `S UNIT key=value…`, `J JSON` journal entries, `K CURSOR`, `F SIZE PATH`, `L LINE`,
/// `X COUNT` (lines left out), `N` (no journald).
const COLLECT: &str = concat!(
    r#"cursor=$1 head=$2 tail=$3 pkg=$4 given=$5 known_units=$6 known=$7 since=$8
shift 8
bound() {
  awk -v h="$head" -v t="$tail" -v p="$1" '
    { $0 = substr($0, 1, 4096) }
    NR <= h { print p " " $0; next }
    { buf[NR % t] = $0; n = NR }
    END {
      if (n == 0) exit
      s = n - t + 1; if (s <= h) s = h + 1
      if (s > h + 1) print "X " (s - h - 1)
      for (i = s; i <= n; i++) print p " " buf[i % t]
    }'
}
IFS=
for g in "$@"; do
  for f in $g; do
    [ -f "$f" ] || continue
    size=$(stat -c %s -- "$f")
    off=$(printf '%s\n' "$known" | awk -v f="$f" '{ i = index($0, " "); if (substr($0, i + 1) == f) o = substr($0, 1, i - 1) } END { print o + 0 }')
    [ "$size" -lt "$off" ] && off=0
    printf 'F %s %s\n' "$size" "$f"
    tail -c +$((off + 1)) -- "$f" | head -c $((size - off)) | bound L
  done
done
unset IFS
set -f
"#,
    units_of_package!(),
    r#"[ -n "$units" ] || units=$known_units
if ! command -v journalctl >/dev/null 2>&1 || [ ! -S /run/systemd/journal/socket ]; then
  echo N
  exit 0
fi
set --
for u in $units; do
  printf 'U %s\n' "$u"
"#,
    show_unit!(),
    r#"  set -- "$@" -u "$u"
done
[ $# -gt 0 ] || exit 0
if [ -n "$cursor" ]; then
  set -- "$@" "--after-cursor=$cursor"
elif [ -n "$since" ]; then
  set -- "$@" --since "@$since"
fi
journalctl -q --no-pager -o json --show-cursor --output-fields=MESSAGE,PRIORITY,_PID,SYSLOG_IDENTIFIER,_SYSTEMD_UNIT "$@" 2>/dev/null |
  awk '/^-- cursor: / { print "K " substr($0, 12); next } { print }' | bound J
exit 0
"#
);

/// `$1` package, `$2` units given by the user (space-separated; empty: the package's). Prints
/// one `S UNIT key=value…` line per unit, nothing for a package that ships none.
const UNIT_STATES: &str = concat!(
    "pkg=$1 given=$2\nset -f\n",
    units_of_package!(),
    "for u in $units; do\n",
    show_unit!(),
    "done\nexit 0\n"
);

/// Where a service line came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Origin {
    /// A systemd unit's journal.
    Unit(String),
    /// A `--service-log` file.
    File(String),
}

/// One line the service wrote.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Line {
    /// Its unit or file.
    pub origin: Origin,
    /// When the host's journal says it was written (RFC 3339 UTC; for a file line, when it was
    /// collected).
    pub time: String,
    /// Its syslog priority (0 emergency … 7 debug; 6 for a file line).
    pub priority: u8,
    /// `IDENTIFIER[PID]: MESSAGE`, as journalctl shows it, or the file's line.
    pub text: String,
}

/// A unit's state, from `systemctl show`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct UnitState {
    /// The unit.
    pub unit: String,
    /// `ActiveState` (`active`, `failed`, `activating`, …).
    pub active: String,
    /// `SubState` (`running`, `auto-restart`, `dead`, …).
    pub sub: String,
    /// `Result` (`success`, `exit-code`, `signal`, …).
    pub result: String,
    /// `ExecMainStatus`: the main process's exit status.
    pub exit_status: String,
    /// `NRestarts`: restarts by systemd since the unit was last started by hand.
    pub restarts: String,
    /// `ActiveEnterTimestamp`: when it last became active.
    pub since: String,
}

impl std::fmt::Display for UnitState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.unit, self.active)?;
        if !self.sub.is_empty() {
            write!(f, " ({})", self.sub)?;
        }
        if !self.result.is_empty() && self.result != "success" {
            write!(f, ", result {}", self.result)?;
        }
        if !self.exit_status.is_empty() && self.exit_status != "0" {
            write!(f, ", exit status {}", self.exit_status)?;
        }
        if !self.restarts.is_empty() && self.restarts != "0" {
            write!(f, ", {} restart(s)", self.restarts)?;
        }
        Ok(())
    }
}

/// What one collection found.
#[derive(Debug, Clone, Default)]
pub struct Collected {
    /// The lines, files first, then the journal in its order.
    pub lines: Vec<Line>,
    /// Lines left out in the middle of long streams.
    pub left_out: u64,
    /// The watched units' state.
    pub units: Vec<UnitState>,
    /// Whether the host has journald.
    pub journald: bool,
}

/// Lines of a service's own output quoted in a one-line error.
const IN_ONE_LINE: usize = 3;
/// Lines quoted in a JUnit failure body.
const IN_BODY: usize = 40;

impl Collected {
    /// One line for an error: the units that are not running, else all of them, and the last
    /// lines the service wrote (empty when there is nothing to say).
    pub fn diagnosis(&self) -> String {
        let mut parts: Vec<String> = Vec::new();
        let troubled: Vec<&UnitState> = self
            .units
            .iter()
            .filter(|u| u.active != "active" || u.sub != "running" || u.restarts != "0")
            .collect();
        let shown = if troubled.is_empty() {
            self.units.iter().collect()
        } else {
            troubled
        };
        parts.extend(shown.iter().map(|u| u.to_string()));
        // The service's warnings and errors say why far more often than its request log; a
        // line repeated on every probe is quoted once.
        let serious = self.lines.iter().any(|l| l.priority <= 4);
        let mut last: Vec<&str> = Vec::new();
        for line in self.lines.iter().rev() {
            if last.len() == IN_ONE_LINE {
                break;
            }
            if (!serious || line.priority <= 4)
                && !last.iter().any(|seen| same_words(seen, &line.text))
            {
                last.push(&line.text);
            }
        }
        if !last.is_empty() {
            last.reverse();
            let label = if serious { "last errors" } else { "last lines" };
            parts.push(format!("{label}: {}", last.join(" | ")));
        }
        parts.join("; ").replace(['\n', '\r'], " ")
    }

    /// Several lines for a JUnit failure body or a record: each unit's state, then the last
    /// lines of each unit and file.
    pub fn body(&self) -> String {
        let mut out = String::new();
        for u in &self.units {
            out.push_str(&format!("{u}"));
            if !u.since.is_empty() {
                out.push_str(&format!(", active since {}", u.since));
            }
            out.push('\n');
        }
        let skip = self.lines.len().saturating_sub(IN_BODY);
        if !self.lines.is_empty() {
            out.push_str(&format!(
                "last {} line(s) of the service's own logs:\n",
                self.lines.len() - skip
            ));
        }
        for l in &self.lines[skip..] {
            let from = match &l.origin {
                Origin::Unit(u) => u,
                Origin::File(f) => f,
            };
            out.push_str(&format!("{} {from}: {}\n", l.time, l.text));
        }
        out
    }
}

/// The start of a host's first turn: the watched files' sizes are added to `mark` (nothing to
/// do, and no command, when no file is watched). `Err` only when the host could not run the
/// command (the caller warns; the files are then read whole).
pub fn mark_files(ops: &HostOps, watch: &Watch, mark: &mut Mark) -> Result<(), String> {
    if watch.files.is_empty() {
        return Ok(());
    }
    let mut args: Vec<&str> = vec!["sh", "-c", MARK, "sh"];
    args.extend(watch.files.iter().map(String::as_str));
    let mut bytes = 0usize;
    let finished = ops
        .run_quiet(&args, TIMEOUT, |stream, line| {
            bytes += line.len();
            if stream != Stream::Stdout || bytes > MAX_BYTES {
                return;
            }
            if let Some((size, path)) = line.strip_prefix("F ").and_then(|r| r.split_once(' ')) {
                if let Ok(size) = size.parse() {
                    mark.files.push((path.to_string(), size));
                }
            }
        })
        .map_err(|e| e.to_string())?;
    if !finished.success() {
        return Err(format!("marking the service logs: {}", finished.describe()));
    }
    Ok(())
}

/// Everything the watched units and files wrote since `mark`, which moves past it (so the
/// next collection of the same host starts where this one ended). `Err` only when the host
/// could not run the command.
pub fn collect(
    ops: &HostOps,
    package: &str,
    watch: &Watch,
    mark: &mut Mark,
) -> Result<Collected, String> {
    let keep = watch.keep.max(1).to_string();
    let given = watch.units.join(" ");
    let known_units = mark.units.join(" ");
    let known: String = mark
        .files
        .iter()
        .map(|(p, s)| format!("{s} {p}\n"))
        .collect();
    let cursor = mark.cursor.clone().unwrap_or_default();
    let since = mark.since.clone();
    let mut args: Vec<&str> = vec![
        "sh",
        "-c",
        COLLECT,
        "sh",
        &cursor,
        &keep,
        &keep,
        package,
        &given,
        &known_units,
        &known,
        &since,
    ];
    args.extend(watch.files.iter().map(String::as_str));
    let mut found = Collected {
        journald: true,
        ..Collected::default()
    };
    let mut units: Vec<String> = Vec::new();
    let mut files: Vec<(String, u64)> = Vec::new();
    let mut file: Option<String> = None;
    let mut cursor: Option<String> = None;
    let mut bytes = 0usize;
    let collected_at = cdkit::time::now_rfc3339();
    let finished = ops
        .run_quiet(&args, TIMEOUT, |stream, line| {
            bytes += line.len() + 1;
            if stream != Stream::Stdout || bytes > MAX_BYTES {
                return;
            }
            let (kind, rest) = line.split_once(' ').unwrap_or((line, ""));
            match kind {
                "N" => found.journald = false,
                "U" => units.push(rest.to_string()),
                "S" => found.units.push(unit_state(rest)),
                "K" => cursor = Some(rest.to_string()),
                "X" => found.left_out += rest.parse::<u64>().unwrap_or(0),
                "F" => {
                    if let Some((size, path)) = rest.split_once(' ') {
                        files.push((path.to_string(), size.parse().unwrap_or(0)));
                        file = Some(path.to_string());
                    }
                }
                "L" => {
                    if let Some(f) = &file {
                        found.lines.push(Line {
                            origin: Origin::File(f.clone()),
                            time: collected_at.clone(),
                            priority: 6,
                            text: cut(rest),
                        });
                    }
                }
                "J" => {
                    // journalctl's --show-cursor line is the last; bounded, it may come here.
                    if let Some(c) = rest.strip_prefix("K ") {
                        cursor = Some(c.to_string());
                    } else if let Some(l) = journal_line(rest) {
                        found.lines.push(l);
                    }
                }
                _ => {}
            }
        })
        .map_err(|e| e.to_string())?;
    if !finished.success() {
        return Err(format!(
            "collecting the service logs: {}",
            finished.describe()
        ));
    }
    if cursor.is_some() {
        mark.cursor = cursor;
    }
    for (path, size) in files {
        match mark.files.iter_mut().find(|(p, _)| *p == path) {
            Some(known) => known.1 = size,
            None => mark.files.push((path, size)),
        }
    }
    if !units.is_empty() {
        mark.units = units;
    }
    Ok(found)
}

/// The state of `package`'s units (or of `given`, when not empty) on the host, as
/// `systemctl show` reports it: the same units a rollout watches, read the same way.
pub fn unit_states(
    ops: &HostOps,
    package: &str,
    given: &[String],
) -> Result<Vec<UnitState>, HostError> {
    let given = given.join(" ");
    let mut states = Vec::new();
    let mut bytes = 0usize;
    let finished = ops.run_quiet(
        &["sh", "-c", UNIT_STATES, "sh", package, &given],
        TIMEOUT,
        |stream, line| {
            bytes += line.len() + 1;
            if stream == Stream::Stdout && bytes <= MAX_BYTES {
                if let Some(rest) = line.strip_prefix("S ") {
                    states.push(unit_state(rest));
                }
            }
        },
    )?;
    if !finished.success() {
        return Err(HostError::Failed {
            host: ops.session.target.name.clone(),
            step: "unit states".into(),
            how: finished.describe(),
            detail: String::new(),
        });
    }
    Ok(states)
}

/// Whether two lines say the same once the `IDENTIFIER[PID]: ` prefix is set aside (the same
/// message from a restarted process).
fn same_words(a: &str, b: &str) -> bool {
    fn words(l: &str) -> &str {
        match l.split_once("]: ") {
            Some((id, rest)) if !id.contains(' ') => rest,
            _ => l,
        }
    }
    words(a) == words(b)
}

fn cut(line: &str) -> String {
    cdkit::text::truncate(line, MAX_LINE).to_string()
}

/// `systemctl show`'s `key=value` pairs (tab-separated here) as a state.
fn unit_state(rest: &str) -> UnitState {
    let (unit, pairs) = rest.split_once(' ').unwrap_or((rest, ""));
    let mut state = UnitState {
        unit: unit.to_string(),
        ..UnitState::default()
    };
    for pair in pairs.split('\t') {
        let Some((key, value)) = pair.split_once('=') else {
            continue;
        };
        let value = value.to_string();
        match key {
            "ActiveState" => state.active = value,
            "SubState" => state.sub = value,
            "Result" => state.result = value,
            "ExecMainStatus" => state.exit_status = value,
            "NRestarts" => state.restarts = value,
            "ActiveEnterTimestamp" => state.since = value,
            _ => {}
        }
    }
    state
}

/// One journal entry of `journalctl -o json`; `None` for anything else.
fn journal_line(json: &str) -> Option<Line> {
    let entry: Value = serde_json::from_str(json).ok()?;
    let field = |name: &str| -> Option<String> {
        match entry.get(name)? {
            Value::String(s) => Some(s.clone()),
            // journald gives a field that is not valid UTF-8 as an array of bytes.
            Value::Array(bytes) => Some(
                String::from_utf8_lossy(
                    &bytes
                        .iter()
                        .filter_map(|b| b.as_u64().and_then(|b| u8::try_from(b).ok()))
                        .collect::<Vec<u8>>(),
                )
                .into_owned(),
            ),
            _ => None,
        }
    };
    let micros: i64 = field("__REALTIME_TIMESTAMP")?.parse().ok()?;
    let time = chrono::DateTime::from_timestamp_micros(micros)?
        .to_rfc3339_opts(chrono::SecondsFormat::Micros, true);
    let unit = field("_SYSTEMD_UNIT").unwrap_or_default();
    let message = field("MESSAGE").unwrap_or_default();
    let text = match (field("SYSLOG_IDENTIFIER"), field("_PID")) {
        (Some(id), Some(pid)) => format!("{id}[{pid}]: {message}"),
        (Some(id), None) => format!("{id}: {message}"),
        _ => message,
    };
    Some(Line {
        origin: Origin::Unit(unit),
        time,
        priority: field("PRIORITY")
            .and_then(|p| p.parse().ok())
            .unwrap_or(6)
            .min(7),
        text: cut(&text),
    })
}

/// Each line into the central log, under `host`, attributed to the step of `steps` (name and
/// RFC 3339 start, in order) that was running when it was written (`fallback` before the
/// first).
pub fn log_lines(host: &str, lines: &[Line], steps: &[(String, String)], fallback: &str) {
    let time = |t: &str| chrono::DateTime::parse_from_rfc3339(t).ok();
    let starts: Vec<(&str, Option<_>)> = steps.iter().map(|(n, t)| (n.as_str(), time(t))).collect();
    for line in lines {
        let at = time(&line.time);
        let step = starts
            .iter()
            .rev()
            .find(|(_, started)| started.is_some() && *started <= at)
            .map(|(name, _)| *name)
            .unwrap_or(fallback);
        let (unit, file) = match &line.origin {
            Origin::Unit(u) => (Some(u.as_str()), None),
            Origin::File(f) => (None, Some(f.as_str())),
        };
        macro_rules! emit {
            ($level:expr) => {
                tracing::event!(
                    target: cdkit::cli::CENTRAL,
                    $level,
                    host,
                    step,
                    source = "service",
                    unit,
                    file,
                    service_time = line.time.as_str(),
                    priority = line.priority,
                    "{}",
                    line.text
                )
            };
        }
        match line.priority {
            0..=3 => emit!(tracing::Level::ERROR),
            4 => emit!(tracing::Level::WARN),
            7 => emit!(tracing::Level::DEBUG),
            _ => emit!(tracing::Level::INFO),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_scripts_built_from_the_shared_snippets_are_shell() {
        // Spliced together with concat!: a snippet losing its line end or its `fi` would
        // make the host's shell refuse the whole collection.
        for (name, script) in [("COLLECT", COLLECT), ("UNIT_STATES", UNIT_STATES)] {
            let out = std::process::Command::new("sh")
                .args(["-n", "-c", script])
                .output()
                .unwrap();
            assert!(
                out.status.success(),
                "{name}: {}",
                String::from_utf8_lossy(&out.stderr)
            );
            assert!(script.contains("dpkg-query -L \"$pkg\""), "{name}");
        }
    }

    #[test]
    fn journal_entries_read_as_journalctl_shows_them() {
        let l = journal_line(
            r#"{"__CURSOR":"s=1","__REALTIME_TIMESTAMP":"1796630400123456","MESSAGE":"config: missing key","PRIORITY":"3","_PID":"812","SYSLOG_IDENTIFIER":"hello-service","_SYSTEMD_UNIT":"hello-service.service"}"#,
        )
        .unwrap();
        assert_eq!(l.text, "hello-service[812]: config: missing key");
        assert_eq!(l.priority, 3);
        assert_eq!(l.origin, Origin::Unit("hello-service.service".into()));
        assert_eq!(l.time, "2026-12-07T08:00:00.123456Z");
        // Not UTF-8: journald sends bytes; an absurd priority is capped.
        let l =
            journal_line(r#"{"__REALTIME_TIMESTAMP":"0","MESSAGE":[104,105,255],"PRIORITY":"99"}"#)
                .unwrap();
        assert_eq!(l.text, "hi\u{fffd}");
        assert_eq!(l.priority, 7);
        assert!(journal_line("not json").is_none());
        assert!(journal_line(r#"{"MESSAGE":"no time"}"#).is_none());
    }

    #[test]
    fn a_diagnosis_names_troubled_units_and_the_last_lines() {
        let c = Collected {
            lines: (1..=5)
                .map(|i| Line {
                    origin: Origin::Unit("a.service".into()),
                    time: "t".into(),
                    priority: 6,
                    text: format!("a[1]: line {i}"),
                })
                .collect(),
            units: vec![
                unit_state("a.service ActiveState=activating\tSubState=auto-restart\tResult=exit-code\tExecMainStatus=1\tNRestarts=3\t"),
                unit_state("b.service ActiveState=active\tSubState=running\tResult=success\tExecMainStatus=0\tNRestarts=0\t"),
            ],
            left_out: 0,
            journald: true,
        };
        assert_eq!(
            c.diagnosis(),
            "a.service: activating (auto-restart), result exit-code, exit status 1, 3 restart(s); \
             last lines: a[1]: line 3 | a[1]: line 4 | a[1]: line 5"
        );
        // Errors win over the request log, each said once.
        let mut c = c;
        for (priority, text) in [
            (3, "a[7]: config: missing key"),
            (6, "a[7]: GET /health 503"),
            (3, "a[8]: config: missing key"),
            (6, "a[8]: GET /health 503"),
        ] {
            c.lines.push(Line {
                origin: Origin::Unit("a.service".into()),
                time: "t".into(),
                priority,
                text: text.into(),
            });
        }
        assert!(
            c.diagnosis()
                .ends_with("; last errors: a[8]: config: missing key"),
            "{}",
            c.diagnosis()
        );
        assert!(
            c.body().contains("b.service: active (running)\n"),
            "{}",
            c.body()
        );
        assert!(Collected::default().diagnosis().is_empty());
    }
}
