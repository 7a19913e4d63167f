//! Ctrl-C, SIGTERM and SIGHUP (a closed terminal): the training loop finishes its step (an
//! evaluation stops between batches), writes a checkpoint and exits. A second signal
//! exits at once (status 130), leaving the last checkpoint written.

use std::sync::atomic::{AtomicBool, Ordering};

static STOP: AtomicBool = AtomicBool::new(false);

extern "C" fn on_signal(_: libc::c_int) {
    if STOP.swap(true, Ordering::SeqCst) {
        // SAFETY: _exit is async-signal-safe; checkpoints are written atomically, so the
        // last one stays whole.
        unsafe { libc::_exit(130) };
    }
}

/// Route SIGINT, SIGTERM and SIGHUP to the stop flag (idempotent).
pub fn install() {
    #[cfg(unix)]
    // SAFETY: the handler only touches an atomic and calls _exit, both async-signal-safe.
    unsafe {
        for sig in [libc::SIGINT, libc::SIGTERM, libc::SIGHUP] {
            libc::signal(sig, on_signal as *const () as libc::sighandler_t);
        }
    }
}

/// Has a stop been requested?
pub fn requested() -> bool {
    STOP.load(Ordering::SeqCst)
}

/// Fault injection for tests of the launchers: `EINFO_TEST_CRASH=<method>@<step>` makes a
/// run of that method write a checkpoint at that step and then die by SIGKILL, as a run
/// does when its node fails (nothing after the checkpoint is written).
pub fn crash_step(method: &str) -> Option<u64> {
    let v = std::env::var("EINFO_TEST_CRASH").ok()?;
    let (m, s) = v.split_once('@')?;
    (m == method).then(|| s.parse().ok()).flatten()
}

/// Fault injection for the fault suite: `EINFO_TEST_KILL_IN_CHECKPOINT=<step>` makes the
/// checkpoint of that step die by SIGKILL halfway through its write (tensors written, state
/// and rename not), as a power cut or `kill -9` at that moment would.
pub fn kill_in_checkpoint(step: u64) -> bool {
    std::env::var("EINFO_TEST_KILL_IN_CHECKPOINT").ok().and_then(|s| s.parse::<u64>().ok()) == Some(step)
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
