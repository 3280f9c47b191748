//! The one writer for the terminal's stderr, shared by log lines and progress bars, so a log
//! line never tears through an indicatif bar and lines from threads never interleave.

use std::io::Write;
use std::sync::Mutex;

use indicatif::MultiProgress;

static BARS: Mutex<Option<MultiProgress>> = Mutex::new(None);

/// Route stderr lines through `bars` while they are drawn (set by the progress module).
pub(crate) fn set_bars(bars: Option<MultiProgress>) {
    if let Ok(mut slot) = BARS.lock() {
        *slot = bars;
    }
}

/// Write one line (a newline is added) to stderr, above any progress bars. The line goes
/// through [`crate::redact::redact`] here, whoever built it.
pub(crate) fn write_line(line: &str) {
    let line = &*crate::redact::redact(line);
    let bars = BARS.lock().ok().and_then(|slot| slot.clone());
    match bars {
        Some(bars) => bars.suspend(|| write_raw(line)),
        None => write_raw(line),
    }
}

/// `println!` for a tool's output on stdout, through [`print_stdout`]: a reader that went away
/// (`| head -1`) ends the output instead of panicking.
#[macro_export]
macro_rules! outln {
    () => {
        $crate::console::print_stdout("\n")
    };
    ($($arg:tt)*) => {
        $crate::console::print_stdout(&format!("{}\n", format_args!($($arg)*)))
    };
}

/// Write `text` to stdout as it is (the tool's output: a plan, a listing, JSON). A reader that
/// went away (`| head -1`, EPIPE) ends the output normally: what it did not read is not
/// written, and nothing panics. Other write errors are ignored the same way: the exit status
/// reports the work, not the terminal. Redacted like every other output.
pub fn print_stdout(text: &str) {
    let text = &*crate::redact::redact(text);
    let stdout = std::io::stdout();
    let mut lock = stdout.lock();
    let _ = lock.write_all(text.as_bytes()).and_then(|()| lock.flush());
}

fn write_raw(line: &str) {
    let stderr = std::io::stderr();
    let mut lock = stderr.lock();
    // One write call per line keeps concurrent writers (threads, child processes) from
    // interleaving inside a line; a closed stderr is not worth failing the run for.
    let mut buf = Vec::with_capacity(line.len() + 1);
    buf.extend_from_slice(line.as_bytes());
    buf.push(b'\n');
    let _ = lock.write_all(&buf);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_are_written_with_and_without_bars() {
        write_line("cdkit console test: plain");
        let bars = MultiProgress::with_draw_target(indicatif::ProgressDrawTarget::hidden());
        set_bars(Some(bars));
        assert!(BARS.lock().unwrap().is_some());
        write_line("cdkit console test: above bars");
        set_bars(None);
        assert!(BARS.lock().unwrap().is_none());
    }
}
