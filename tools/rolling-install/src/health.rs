//! The health gate after an install: an HTTP check (URL template with `{host}`, expected
//! status, optional expected body such as the version) made from the runner, or a command on
//! the host; retried, each attempt bounded, and the host must then *stay* healthy for
//! `--min-healthy` (a service that passes once and crashes a second later is not healthy).

use std::time::{Duration, Instant};

use cdkit::process::{Command, Stream};

use crate::host_ops::HostOps;

/// What to check.
#[derive(Debug, Clone)]
pub enum Check {
    /// GET the URL (`{host}` = the host's address, `{version}` = the target version).
    Url {
        /// The URL template.
        template: String,
        /// The HTTP status it must answer with.
        status: u16,
        /// Text the body must contain.
        body: Option<String>,
    },
    /// `sh -c CMD` on the host (`{version}` = the target version); exit 0 is healthy.
    Command(String),
    /// No health gate.
    None,
}

impl Check {
    /// The check the command-line flags ask for: a URL (with expected status and body) wins
    /// over a command; neither is no gate. Shared by rolling-install and rollback.
    pub fn from_flags(
        url: Option<&str>,
        status: u16,
        body: Option<&str>,
        command: Option<&str>,
    ) -> Check {
        if let Some(url) = url {
            cdkit::redact::register_url_password(url);
        }
        match (url, command) {
            (Some(url), _) => Check::Url {
                template: url.to_string(),
                status,
                body: body.map(str::to_string),
            },
            (None, Some(cmd)) => Check::Command(cmd.to_string()),
            (None, None) => Check::None,
        }
    }
}

/// How long and how often.
#[derive(Debug, Clone)]
pub struct Gate {
    /// What to check.
    pub check: Check,
    /// How many probes a host gets.
    pub retries: u32,
    /// The longest wait between probes (they start at 100 ms and double).
    pub interval: Duration,
    /// Limit for one probe.
    pub timeout: Duration,
    /// How long the host must stay healthy after its first pass.
    pub min_healthy: Duration,
}

impl Gate {
    /// Wait until the host is healthy (and stays so for `min_healthy`), or say why not.
    pub fn wait_healthy(
        &self,
        ops: &HostOps,
        address: &str,
        version: &str,
    ) -> Result<String, String> {
        if matches!(self.check, Check::None) {
            return Ok("no health check".into());
        }
        // The same waiting budget as `retries` waits of `interval` (so a slow start is given as
        // long as before), spent in shorter waits first.
        let budget = self.interval.saturating_mul(self.retries);
        let mut waited = Duration::ZERO;
        let mut attempts = 0u32;
        loop {
            attempts += 1;
            let last = match self.probe(ops, address, version) {
                Ok(_) => break,
                Err(why) => why,
            };
            if waited >= budget {
                return Err(format!("unhealthy after {attempts} attempts: {last}"));
            }
            let wait = retry_wait(self.interval, attempts).min(budget - waited);
            std::thread::sleep(wait);
            waited += wait;
        }
        let until = Instant::now() + self.min_healthy;
        while Instant::now() < until {
            std::thread::sleep(
                self.interval
                    .min(until.saturating_duration_since(Instant::now())),
            );
            self.probe(ops, address, version).map_err(|why| {
                format!("healthy at first, then failed within --min-healthy: {why}")
            })?;
        }
        Ok("healthy".into())
    }

    /// One probe, no retry and no waiting: a host's health right now (`rolling-install
    /// status`), and each attempt of [`Gate::wait_healthy`].
    pub fn probe(&self, ops: &HostOps, address: &str, version: &str) -> Result<(), String> {
        match &self.check {
            Check::None => Ok(()),
            // The version is validated (Debian's grammar has no shell metacharacters).
            Check::Command(cmd) => ops
                .shell("health check", &cmd.replace("{version}", version))
                .map(|_| ())
                .map_err(|e| e.to_string()),
            Check::Url {
                template,
                status,
                body,
            } => {
                let url = template
                    .replace("{host}", address)
                    .replace("{version}", version);
                let (code, text) = http_get(&url, self.timeout)?;
                let shown = cdkit::redact::redact(&url);
                if code != *status {
                    return Err(format!("{shown} answered {code}, expected {status}"));
                }
                if let Some(expected) = body {
                    let expected = expected.replace("{version}", version);
                    if !text.contains(&expected) {
                        return Err(format!("{shown} answered without {expected:?}"));
                    }
                }
                Ok(())
            }
        }
    }
}

/// The wait after failed probe number `attempt` (from 1): 100 ms, doubling up to `interval`. A
/// service its package just restarted usually answers within a fraction of a second, and a
/// full interval after the first refused probe was most of a host's health-gate time (about
/// 1 s per host in scripts/bench/lead-time).
fn retry_wait(interval: Duration, attempt: u32) -> Duration {
    let first = Duration::from_millis(100).min(interval);
    first
        .saturating_mul(1u32 << attempt.saturating_sub(1).min(16))
        .min(interval)
}

/// How much of a health response is kept: a health body is short (a status, a version), and a
/// service answering without end must not grow this process. `--health-body` is looked for in
/// the first this many bytes; the transfer itself is bounded by `--health-timeout`.
pub const MAX_BODY: usize = 64 * 1024;

/// GET `url` with curl; returns the status code and the body (its first [`MAX_BODY`] bytes).
/// The URL (which may carry a user and password) reaches curl in a config on its stdin
/// (`--config -`), never on its command line, which every local user can read; `-q` first
/// keeps a `~/.curlrc` out.
pub fn http_get(url: &str, timeout: Duration) -> Result<(u16, String), String> {
    // The body line by line, held back by one: curl's last line is the status code.
    let mut body = String::new();
    let mut last: Option<String> = None;
    let mut error: Option<String> = None;
    let secs = format!("{:.1}", timeout.as_secs_f64().max(0.5));
    let config = format!(
        "silent\nshow-error\nmax-time = {secs}\nwrite-out = \"\\n%{{http_code}}\"\nurl = {}\n",
        curl_config_string(url)
    );
    let done = Command::new("curl")
        .args(["-q", "--config", "-"])
        .stdin_bytes(config)
        .quiet()
        .keep_running_on_interrupt()
        .run(|stream, line| {
            if stream == Stream::Stderr {
                error = Some(format!("curl: {line}"));
            } else if let Some(previous) = last.replace(line.to_string()) {
                // Bounded: the body is the service's to choose.
                if body.len() + previous.len() < MAX_BODY {
                    body.push_str(&previous);
                    body.push('\n');
                }
            }
        })
        .map_err(|e| e.to_string())?;
    if !done.success() {
        return Err(format!(
            "{}: {}",
            cdkit::redact::redact(url),
            error.or(last).unwrap_or_else(|| done.describe())
        ));
    }
    let code = last.and_then(|l| l.trim().parse().ok()).unwrap_or(0);
    body.pop();
    Ok((code, body))
}

/// `text` as a double-quoted string of curl's config syntax (`\\` and `\"` escaped; a line
/// end cannot occur in a URL curl accepts, and is escaped too so it cannot start an option).
fn curl_config_string(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 2);
    out.push('"');
    for c in text.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '"' => out.push_str("\\\""),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn config_strings_escape_quotes_backslashes_and_line_ends() {
        assert_eq!(
            curl_config_string("http://u:p\"w\\x@h/\nurl = evil"),
            "\"http://u:p\\\"w\\\\x@h/\\nurl = evil\""
        );
    }

    #[test]
    fn retries_start_short_and_grow_to_the_interval() {
        let second = Duration::from_secs(1);
        let waits: Vec<u128> = (1..=6).map(|a| retry_wait(second, a).as_millis()).collect();
        assert_eq!(waits, [100, 200, 400, 800, 1000, 1000]);
        let short = Duration::from_millis(50);
        assert_eq!(retry_wait(short, 1), short);
        assert_eq!(retry_wait(short, 40), short);
    }
}
