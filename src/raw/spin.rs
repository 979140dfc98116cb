//! `RawSpinLock`: test-and-test-and-set with bounded exponential backoff.
//!
//! Algorithm: Rudolph and Segall's test-and-test-and-set (1984): waiters spin on a plain load,
//! which stays in their own cache while the lock is held, and only attempt the atomic swap once
//! the lock looks free; a failed attempt backs off exponentially (Anderson, 1990) up to a
//! bound. Progress: deadlock-free, not starvation-free: an unlucky waiter can lose every race,
//! so this lock is not fair. It never sleeps; with feature `std` a waiter whose backoff is
//! spent yields its time slice, because with more threads than cores the owner may be
//! descheduled and spinning on would only delay it (measured on 2 cores, 8 threads: pure
//! spinning kept 0.24× of the 2-thread throughput; see `docs/design.md`). Without `std` it
//! spins on, which is right when each thread owns its core.

use super::{impl_init, RawLock};
use crate::sync::atomic::{
    AtomicBool,
    Ordering::{Acquire, Relaxed, Release},
};
use crate::sync::const_fn;
use crate::wait::Backoff;

/// Whether `try_lock` reads the flag before it swaps (test-and-test-and-set): with a native
/// swap, so that waiters polling a held lock only read its cache line. Without one (thumbv6m
/// and riscv32i, whose read-modify-writes `portable-atomic` builds from a critical section)
/// every access, a load too, is a critical section of its own, so the test would double the
/// cost (and the code: the `SpinLock` row of `docs/code-size.md` was 1.13x spin's on
/// thumbv6m), and those cores have no cache line to spare.
const TEST_FIRST: bool = cfg!(any(target_has_atomic = "8", baresync_loom));

/// A one-byte spin lock: test-and-test-and-set with bounded exponential backoff.
///
/// Unfair (a waiter may be overtaken any number of times) and never sleeps (with feature
/// `std`, a waiter yields its time slice once its backoff is spent). The cheapest lock
/// to take when uncontended: a load and a swap to lock (only the swap on targets without
/// native compare-and-swap, such as thumbv6m), one store to unlock. Use it through
/// [`SpinLock<T>`](crate::SpinLock).
///
/// # Examples
///
/// ```
/// use baresync::{RawLock, RawSpinLock};
///
/// static RAW: RawSpinLock = RawSpinLock::new();
/// assert!(RAW.try_lock());
/// assert!(!RAW.try_lock());
/// // SAFETY: acquired by `try_lock` above.
/// unsafe { RAW.unlock() };
/// assert_eq!(core::mem::size_of::<RawSpinLock>(), 1);
/// ```
#[derive(Debug)]
#[repr(C)]
pub struct RawSpinLock {
    /// false: unlocked · true: locked
    locked: AtomicBool,
}

impl RawSpinLock {
    const_fn! {
        /// A new, unlocked spin lock.
        #[inline]
        pub const fn new() -> Self {
            RawSpinLock { locked: AtomicBool::new(false) }
        }
    }
}

impl Default for RawSpinLock {
    fn default() -> Self {
        Self::new()
    }
}

// SAFETY: the swap from false to true is the only way to acquire, and only one thread can see
// `false` returned by it until `unlock` stores `false` again; the swap is Acquire and the store
// Release, so each owner's writes happen-before the next owner's reads.
unsafe impl RawLock for RawSpinLock {
    impl_init!(new);
    const DEBUG_NAME: &'static str = "SpinLock";

    /// Test-and-test-and-set: `try_lock` (a plain load, then the swap only if the lock looks
    /// free) until it succeeds, backing off after each failure. Written as one loop around
    /// `try_lock`, with no separate slow path: one swap and one backoff in the code, which is
    /// what keeps a firmware image within 1.1× of `spin`'s `SpinMutex` (`docs/code-size.md`;
    /// a swap first and an out-of-line slow path made it 1.45×).
    #[inline]
    fn lock(&self) {
        let mut backoff = Backoff::new();
        while !self.try_lock() {
            backoff.snooze();
        }
    }

    #[inline]
    fn try_lock(&self) -> bool {
        // ORDERING: Relaxed on the pre-check: it only avoids a needless write to a held lock's
        // cache line; the swap is the acquire and pairs with the Release store in `unlock`.
        (!TEST_FIRST || !self.locked.load(Relaxed)) && !self.locked.swap(true, Acquire)
    }

    #[inline]
    unsafe fn unlock(&self) {
        // ORDERING: Release pairs with the Acquire swap in `lock`/`try_lock`, publishing this
        // critical section's writes to the next owner.
        #[cfg(not(baresync_loom))]
        self.locked.store(false, Release);
        // Under loom a swap: loom 0.7 may order a waiter's failed `swap(true)` after this store
        // and show it its own stale `true` forever (tokio-rs/loom#254). The swap is the same
        // release for the model; real hardware needs no read-modify-write here.
        #[cfg(baresync_loom)]
        self.locked.swap(false, Release);
    }

    #[inline]
    fn is_locked(&self) -> bool {
        // ORDERING: Relaxed: a snapshot for diagnostics, not used to synchronize.
        self.locked.load(Relaxed)
    }
}

#[cfg(all(feature = "lock_api", not(baresync_loom)))]
super::impl_lock_api!([] RawSpinLock);

#[cfg(all(test, not(baresync_loom)))]
mod tests {
    use super::*;

    #[test]
    fn basics() {
        let l = RawSpinLock::new();
        super::super::test_support::raw_lock_basics(&l);
        assert!(!l.locked.load(Relaxed));
    }

    #[test]
    fn is_one_byte() {
        assert_eq!(core::mem::size_of::<RawSpinLock>(), 1);
    }
}
