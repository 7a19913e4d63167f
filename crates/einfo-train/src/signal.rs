//! Stopping early. Library code never installs a signal handler: it polls a [`Stop`]
//! handle its caller passes in (`RunOptions::stop`, `EvalOptions::stop`, the launcher's
//! options). A binary routes SIGINT, SIGTERM and SIGHUP (a closed terminal) to the flag
//! behind that handle with [`install`] when it starts a command that polls it.
//!
//! In `einfo` the training loop then finishes its step (an evaluation stops between
//! batches), writes a checkpoint and exits. A second signal exits at once (status 130),
//! leaving the last checkpoint written — unless it comes within [`REPEAT_WINDOW_NS`] of the
//! first: wrappers such as `timeout` signal the child and its process group, so one stop can
//! arrive twice, and must not cost the final checkpoint ([`Repeat::Exit`]). The launcher
//! only passes the stop on to its cells ([`Repeat::Ignore`]).

use std::sync::atomic::{AtomicBool, AtomicPtr, AtomicU64, AtomicU8, Ordering};

/// A request to stop, polled by long-running library code.
#[derive(Clone, Copy)]
pub struct Stop(&'static AtomicBool);

impl Stop {
    /// A handle on `flag` (a binary's signal flag, or a test's).
    pub const fn new(flag: &'static AtomicBool) -> Stop {
        Stop(flag)
    }

    /// A handle nothing ever sets.
    pub fn never() -> Stop {
        static NEVER: AtomicBool = AtomicBool::new(false);
        Stop(&NEVER)
    }

    /// Has a stop been requested?
    pub fn requested(&self) -> bool {
        self.0.load(Ordering::SeqCst)
    }
}

impl Default for Stop {
    fn default() -> Self {
        Stop::never()
    }
}

impl std::fmt::Debug for Stop {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Stop({})", self.requested())
    }
}

/// What a second signal does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Repeat {
    /// Exit at once (status 130) — unless within [`REPEAT_WINDOW_NS`] of the first.
    Exit = 1,
    /// Nothing more: the first already asked for the stop.
    Ignore = 2,
}

/// The flag [`install`] routes the signals to (null before it is called).
static FLAG: AtomicPtr<AtomicBool> = AtomicPtr::new(std::ptr::null_mut());
static REPEAT: AtomicU8 = AtomicU8::new(0);
/// When the first signal came (CLOCK_MONOTONIC, ns).
static FIRST_NS: AtomicU64 = AtomicU64::new(0);

/// A second signal this soon after the first is the same stop, repeated.
pub const REPEAT_WINDOW_NS: u64 = 1_000_000_000;

fn monotonic_ns() -> u64 {
    let mut ts = libc::timespec { tv_sec: 0, tv_nsec: 0 };
    // SAFETY: clock_gettime is async-signal-safe and writes only into `ts`.
    unsafe { libc::clock_gettime(libc::CLOCK_MONOTONIC, &mut ts) };
    ts.tv_sec as u64 * 1_000_000_000 + ts.tv_nsec as u64
}

/// What a signal arriving at `now` does, given when the first came (`None`: this is the first).
fn second_signal_exits(first_ns: Option<u64>, now_ns: u64) -> bool {
    first_ns.is_some_and(|f| now_ns.saturating_sub(f) >= REPEAT_WINDOW_NS)
}

extern "C" fn on_signal(_: libc::c_int) {
    let now = monotonic_ns();
    // SAFETY: FLAG is null or points at the `'static` flag given to `install`.
    let Some(flag) = (unsafe { FLAG.load(Ordering::SeqCst).as_ref() }) else { return };
    if flag.swap(true, Ordering::SeqCst) {
        if REPEAT.load(Ordering::SeqCst) == Repeat::Exit as u8 && second_signal_exits(Some(FIRST_NS.load(Ordering::SeqCst)), now) {
            // SAFETY: _exit is async-signal-safe; checkpoints are written atomically, so the
            // last one stays whole.
            unsafe { libc::_exit(130) };
        }
    } else {
        FIRST_NS.store(now, Ordering::SeqCst);
    }
}

/// For a binary, when it starts a command that polls `flag`: route SIGINT, SIGTERM and SIGHUP to `flag` (poll it through
/// [`Stop::new`]); `repeat` says what a second signal does.
pub fn install(flag: &'static AtomicBool, repeat: Repeat) {
    FLAG.store(flag as *const AtomicBool as *mut AtomicBool, Ordering::SeqCst);
    REPEAT.store(repeat as u8, Ordering::SeqCst);
    #[cfg(unix)]
    // SAFETY: the handler only touches atomics and calls _exit, both async-signal-safe.
    unsafe {
        for sig in [libc::SIGINT, libc::SIGTERM, libc::SIGHUP] {
            libc::signal(sig, on_signal as *const () as libc::sighandler_t);
        }
    }
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_repeat_within_the_window_is_the_same_stop() {
        assert!(!second_signal_exits(None, 5), "the first signal asks for a checkpoint");
        assert!(!second_signal_exits(Some(1_000), 1_000 + REPEAT_WINDOW_NS - 1), "a repeat within a second is ignored");
        assert!(second_signal_exits(Some(1_000), 1_000 + REPEAT_WINDOW_NS), "a second stop a second later exits");
        assert!(monotonic_ns() > 0);
    }
}
