//! Progress: indicatif bars on a terminal; elsewhere (Jenkins) one plain log
//! line per state change such as `[12/40] web07 healthy 1.4.2-1 (3.1 s)`, never carriage-return
//! animation.

use std::io::IsTerminal;
use std::time::{Duration, Instant};

use indicatif::{MultiProgress, ProgressBar, ProgressDrawTarget, ProgressStyle};

use crate::console;
use crate::log::{self, LogFormat};

/// `--progress` values.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum ProgressMode {
    /// Bars on a terminal (with text logs), plain lines otherwise.
    Auto,
    /// Always draw bars (on stderr).
    Bar,
    /// One log line per state change.
    Plain,
    /// No progress output.
    None,
}

impl ProgressMode {
    /// What `auto` means here and now.
    fn resolve(self) -> ProgressMode {
        self.resolve_for(std::io::stderr().is_terminal(), log::format())
    }

    /// Bars only where a person watches a terminal and the log is text (bars would corrupt
    /// JSON lines).
    fn resolve_for(self, stderr_is_terminal: bool, format: LogFormat) -> ProgressMode {
        match self {
            ProgressMode::Auto if stderr_is_terminal && format == LogFormat::Text => {
                ProgressMode::Bar
            }
            ProgressMode::Auto => ProgressMode::Plain,
            other => other,
        }
    }
}

/// Progress of one run: an overall count plus a message per state change.
pub struct Progress {
    mode: ProgressMode,
    bars: Option<MultiProgress>,
    overall: Option<ProgressBar>,
    started: Instant,
    total: Option<u64>,
    done: u64,
}

impl Progress {
    /// Start reporting progress over `total` units (unknown if `None`).
    pub fn new(mode: ProgressMode, total: Option<u64>) -> Progress {
        let mode = mode.resolve();
        let (bars, overall) = if mode == ProgressMode::Bar {
            let bars = MultiProgress::with_draw_target(ProgressDrawTarget::stderr());
            let bar = bars.add(match total {
                Some(n) => ProgressBar::new(n),
                None => ProgressBar::new_spinner(),
            });
            bar.set_style(bar_style(total.is_some()));
            bar.enable_steady_tick(Duration::from_millis(200));
            console::set_bars(Some(bars.clone()));
            (Some(bars), Some(bar))
        } else {
            (None, None)
        };
        Progress {
            mode,
            bars,
            overall,
            started: Instant::now(),
            total,
            done: 0,
        }
    }

    /// The resolved mode (never `Auto`).
    pub fn mode(&self) -> ProgressMode {
        self.mode
    }

    /// Change the expected total once it is known (e.g. when a TAP plan arrives).
    pub fn set_total(&mut self, total: u64) {
        self.total = Some(total);
        if let Some(bar) = &self.overall {
            bar.set_length(total);
            bar.set_style(bar_style(true));
        }
    }

    /// Count `n` units done without a state-change line (bars only).
    pub fn advance(&mut self, n: u64) {
        self.done += n;
        if let Some(bar) = &self.overall {
            bar.set_position(self.done);
        }
    }

    /// Reset the count, e.g. at the start of a retry.
    pub fn restart(&mut self) {
        self.done = 0;
        if let Some(bar) = &self.overall {
            bar.set_position(0);
        }
    }

    /// Report a state change: a plain line (`[done/total] message (elapsed)`) or the bar's message.
    pub fn event(&self, message: &str, elapsed: Option<Duration>) {
        match self.mode {
            ProgressMode::Plain => {
                tracing::info!(progress = true, "{}", self.plain_line(message, elapsed));
            }
            ProgressMode::Bar => {
                if let Some(bar) = &self.overall {
                    bar.set_message(crate::redact::redact(message).into_owned());
                }
            }
            ProgressMode::None | ProgressMode::Auto => {}
        }
    }

    fn plain_line(&self, message: &str, elapsed: Option<Duration>) -> String {
        let count = match self.total {
            Some(total) => format!("[{}/{}]", self.done, total),
            None => format!("[{}]", self.done),
        };
        match elapsed {
            Some(d) => format!("{count} {message} ({:.1} s)", d.as_secs_f64()),
            None => format!("{count} {message}"),
        }
    }

    /// Time since the progress started.
    pub fn elapsed(&self) -> Duration {
        self.started.elapsed()
    }
}

impl Drop for Progress {
    fn drop(&mut self) {
        if let Some(bar) = &self.overall {
            bar.finish_and_clear();
        }
        if self.bars.take().is_some() {
            console::set_bars(None);
        }
    }
}

fn bar_style(known_total: bool) -> ProgressStyle {
    let template = if known_total {
        "{spinner} [{elapsed_precise}] {bar:30} {pos}/{len} {msg}"
    } else {
        "{spinner} [{elapsed_precise}] {pos} {msg}"
    };
    ProgressStyle::with_template(template).unwrap_or_else(|_| ProgressStyle::default_bar())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_lines_show_count_total_and_time() {
        let mut p = Progress::new(ProgressMode::Plain, Some(40));
        p.advance(12);
        assert_eq!(
            p.plain_line("web07 healthy 1.4.2-1", Some(Duration::from_millis(3100))),
            "[12/40] web07 healthy 1.4.2-1 (3.1 s)"
        );
        let mut q = Progress::new(ProgressMode::None, None);
        q.advance(3);
        assert_eq!(q.plain_line("x", None), "[3] x");
    }

    #[test]
    fn auto_draws_bars_only_on_a_terminal_with_text_logs() {
        use ProgressMode::*;
        assert_eq!(Auto.resolve_for(true, LogFormat::Text), Bar);
        assert_eq!(Auto.resolve_for(false, LogFormat::Text), Plain);
        assert_eq!(Auto.resolve_for(true, LogFormat::Json), Plain);
        assert_eq!(None.resolve_for(true, LogFormat::Text), None);
        assert_eq!(Bar.resolve_for(false, LogFormat::Json), Bar);
    }
}
