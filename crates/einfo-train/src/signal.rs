//! Ctrl-C / SIGTERM: the training loop finishes its step, writes a checkpoint and exits.

use std::sync::atomic::{AtomicBool, Ordering};

static STOP: AtomicBool = AtomicBool::new(false);

extern "C" fn on_signal(_: libc::c_int) {
    STOP.store(true, Ordering::SeqCst);
}

/// Route SIGINT and SIGTERM to the stop flag (idempotent).
pub fn install() {
    #[cfg(unix)]
    // SAFETY: the handler only stores to an atomic, which is async-signal-safe.
    unsafe {
        libc::signal(libc::SIGINT, on_signal as *const () as libc::sighandler_t);
        libc::signal(libc::SIGTERM, on_signal as *const () as libc::sighandler_t);
    }
}

/// Has a stop been requested?
pub fn requested() -> bool {
    STOP.load(Ordering::SeqCst)
}

/// Request a stop (tests, and callers embedding the loop).
pub fn request() {
    STOP.store(true, Ordering::SeqCst)
}

/// Clear a previous request.
pub fn reset() {
    STOP.store(false, Ordering::SeqCst)
}
