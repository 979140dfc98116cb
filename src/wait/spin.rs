//! The spinning wait backend.

use super::{Backoff, Wait};
use crate::sync::atomic::{AtomicU32, Ordering::Relaxed};
use crate::Deadline;

/// The default wait backend: spin with bounded exponential backoff until the word changes.
///
/// Waking is free (a no-op), so a primitive using `Spin` never pays for the sleeping machinery.
/// It never gives the processor away: use it where each waiting thread owns its core (bare
/// metal, a kernel with preemption disabled), or for critical sections shorter than a context
/// switch. When threads outnumber cores, a spinning waiter can burn its whole time slice while
/// the thread it waits for is descheduled; choose `Yield` or `Futex` there (see
/// `docs/README.md` for measurements).
///
/// # Examples
///
/// ```
/// use baresync::{Mutex, Spin};
///
/// static COUNT: Mutex<u32, Spin> = Mutex::with_wait(0);
/// *COUNT.lock() += 1;
/// assert_eq!(*COUNT.lock(), 1);
/// ```
#[derive(Debug, Clone, Copy, Default)]
pub struct Spin;

// SAFETY: only reads the word it is given (or passes its address on); never writes it.
unsafe impl Wait for Spin {
    const WAKE_IS_NOOP: bool = true;
    const SPINS_ONLY: bool = true;

    #[inline]
    fn wait(atomic: &AtomicU32, expected: u32) {
        let mut backoff = Backoff::new();
        // ORDERING: Relaxed is enough: the caller re-reads the word with the ordering its
        // protocol needs once `wait` returns; this load only decides when to stop spinning.
        while atomic.load(Relaxed) == expected {
            backoff.spin();
        }
    }

    #[inline]
    fn wait_until(atomic: &AtomicU32, expected: u32, deadline: &mut impl Deadline) -> bool {
        // Checked first, so that a caller whose word keeps changing (a lock taken and released
        // by others between its attempts) still gives up on time.
        if deadline.expired() {
            return false;
        }
        let mut backoff = Backoff::new();
        // ORDERING: Relaxed, as in `wait`.
        while atomic.load(Relaxed) == expected {
            if deadline.expired() {
                return false;
            }
            backoff.spin();
        }
        true
    }

    #[inline]
    fn wake_one(_atomic: &AtomicU32) {}

    #[inline]
    fn wake_all(_atomic: &AtomicU32) {}
}
