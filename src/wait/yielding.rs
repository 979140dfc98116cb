//! The yielding wait backend (feature `std`).

use super::{Backoff, Wait};
use crate::sync::atomic::{AtomicU32, Ordering::Relaxed};
use crate::Deadline;

/// Spin briefly, then give the processor to another thread with `std::thread::yield_now`.
///
/// Needs feature `std` (a default feature).
///
/// Waking is free (a no-op): waiters find out by polling. Compared with [`Spin`](crate::Spin),
/// a waiter whose backoff is exhausted lets the scheduler run the thread it waits for, so it
/// copes with more threads than cores; compared with [`Futex`](crate::Futex), it never makes a
/// wake-up system call, but a waiter keeps being scheduled and polling while it waits.
///
/// # Examples
///
/// ```
/// use baresync::{Mutex, Yield};
///
/// static COUNT: Mutex<u32, Yield> = Mutex::with_wait(0);
/// *COUNT.lock() += 1;
/// assert_eq!(*COUNT.lock(), 1);
/// ```
#[cfg_attr(docsrs, doc(cfg(feature = "std")))]
#[derive(Debug, Clone, Copy, Default)]
pub struct Yield;

// SAFETY: only reads the word it is given (or passes its address on); never writes it.
unsafe impl Wait for Yield {
    const WAKE_IS_NOOP: bool = true;

    fn wait(atomic: &AtomicU32, expected: u32) {
        let mut backoff = Backoff::new();
        // ORDERING: Relaxed is enough: the caller re-reads the word with the ordering its
        // protocol needs once `wait` returns.
        while atomic.load(Relaxed) == expected {
            if backoff.is_completed() {
                std::thread::yield_now();
                // A spurious return is allowed; the caller re-checks and waits again.
                return;
            }
            backoff.spin();
        }
    }

    fn wait_until(atomic: &AtomicU32, expected: u32, deadline: &mut impl Deadline) -> bool {
        if deadline.expired() {
            return false;
        }
        Self::wait(atomic, expected);
        true
    }

    #[inline]
    fn wake_one(_atomic: &AtomicU32) {}

    #[inline]
    fn wake_all(_atomic: &AtomicU32) {}
}
