//! SIGINT/SIGTERM handling: instead of dying mid-step, a tool notes the signal, stops its
//! children, brings things to a known-good state, writes its report and exits 130/143.

use std::sync::atomic::{AtomicI32, Ordering};
use std::sync::Once;

use signal_hook::consts::{SIGINT, SIGTERM};
use signal_hook::iterator::Signals;

static RECEIVED: AtomicI32 = AtomicI32::new(0);
static INSTALL: Once = Once::new();

/// Start watching for SIGINT and SIGTERM (idempotent). Until this is called, the signals keep
/// their default action (the process dies).
pub fn install() -> std::io::Result<()> {
    let mut result = Ok(());
    INSTALL.call_once(|| match Signals::new([SIGINT, SIGTERM]) {
        Ok(mut signals) => {
            std::thread::spawn(move || {
                for signal in signals.forever() {
                    // Keep the first one: it says why we stopped.
                    let _ =
                        RECEIVED.compare_exchange(0, signal, Ordering::SeqCst, Ordering::SeqCst);
                }
            });
        }
        Err(e) => result = Err(e),
    });
    result
}

/// The first interrupting signal received, if any.
pub fn received() -> Option<i32> {
    match RECEIVED.load(Ordering::SeqCst) {
        0 => None,
        signal => Some(signal),
    }
}
