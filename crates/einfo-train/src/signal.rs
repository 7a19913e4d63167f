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

/// Fault injection for tests of the launchers: `EINFO_TEST_CRASH=<method>@<step>` makes a
/// run of that method write a checkpoint at that step and then die by SIGKILL, as a run
/// does when its node fails (nothing after the checkpoint is written).
pub fn crash_step(method: &str) -> Option<u64> {
    let v = std::env::var("EINFO_TEST_CRASH").ok()?;
    let (m, s) = v.split_once('@')?;
    (m == method).then(|| s.parse().ok()).flatten()
}

/// Die now, without unwinding or cleanup.
pub fn crash() -> ! {
    #[cfg(unix)]
    // SAFETY: sending a signal to our own process.
    unsafe {
        libc::kill(libc::getpid(), libc::SIGKILL);
    }
    std::process::abort()
}
