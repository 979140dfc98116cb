//! Test backends for the in-file fault-injection tests (compiled only for `cargo test`).

use super::Wait;
use crate::sync::atomic::AtomicU32;
use crate::Deadline;
use core::cell::Cell;

std::thread_local! {
    /// Calls of `wait`/`wait_until` left before the one that panics (0: never panic).
    static PANIC_IN: Cell<u32> = const { Cell::new(0) };
    /// Wake calls made by this thread.
    static WAKES: Cell<u32> = const { Cell::new(0) };
}

/// A sleeping-style backend (`WAKE_IS_NOOP` is `false`) that only polls (so single-threaded
/// tests cannot hang in it), panics on the armed call of this thread, and counts this
/// thread's wake calls. Its waits poll the word once and return (a spurious return is
/// allowed), or report "expired" when the deadline has passed.
pub(crate) struct PanickyWait;

impl PanickyWait {
    /// Makes this thread's `k`-th wait call panic.
    pub(crate) fn arm(k: u32) {
        PANIC_IN.with(|c| c.set(k));
    }

    /// Wake calls this thread made so far.
    pub(crate) fn wakes() -> u32 {
        WAKES.with(Cell::get)
    }

    fn maybe_panic() {
        let left = PANIC_IN.with(Cell::get);
        if left != 0 {
            PANIC_IN.with(|c| c.set(left - 1));
            if left == 1 {
                panic!("injected");
            }
        }
    }
}

// SAFETY: only reads the word it is given (or passes its address on); never writes it.
unsafe impl Wait for PanickyWait {
    fn wait(_atomic: &AtomicU32, _expected: u32) {
        Self::maybe_panic();
        std::thread::yield_now();
    }

    fn wait_until(_atomic: &AtomicU32, _expected: u32, deadline: &mut impl Deadline) -> bool {
        Self::maybe_panic();
        std::thread::yield_now();
        !deadline.expired()
    }

    fn wake_one(_atomic: &AtomicU32) {
        WAKES.with(|c| c.set(c.get() + 1));
    }

    fn wake_all(_atomic: &AtomicU32) {
        WAKES.with(|c| c.set(c.get() + 1));
    }
}

/// Runs `f`, which must panic with the injected panic.
pub(crate) fn must_panic<T>(f: impl FnOnce() -> T) {
    let r = std::panic::catch_unwind(core::panic::AssertUnwindSafe(f));
    let payload = r.err().expect("the injected panic must propagate");
    assert_eq!(payload.downcast_ref::<&str>(), Some(&"injected"));
}
