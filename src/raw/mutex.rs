//! `RawMutex<W>`: the three-state futex mutex.
//!
//! Algorithm: Ulrich Drepper, "Futexes Are Tricky" (2011), mutex 2, the one std's Linux mutex
//! also uses. The state word records whether sleepers may exist, so an unlock makes a wake
//! call only when one may be needed; a waiter polls briefly before going to sleep (spinning,
//! then, with feature `std`, yielding its core), because most critical sections end sooner
//! than a sleep and wake would. Progress: deadlock-free, not fair (a running thread can take
//! the lock before a woken sleeper gets to it, which is what makes it fast under contention).
//!
//! With a backend whose waking is a no-op ([`Spin`](crate::Spin), `Yield`), the sleeper state
//! is pointless and skipped: the lock is a compare-and-swap spin lock on a 32-bit word and
//! unlocks with a plain store.

use super::{impl_init, RawLock};
use crate::sync::atomic::{
    AtomicU32,
    Ordering::{Acquire, Relaxed, Release},
};
use crate::sync::const_fn;
use crate::wait::{wait_for, Backoff, DefaultWait, Forever, Wait};
use crate::Deadline;
use core::marker::PhantomData;

const UNLOCKED: u32 = 0;
const LOCKED: u32 = 1;
const CONTENDED: u32 = 2;

/// Rounds a waiter polls the word before it announces itself and sleeps, with feature `std`:
/// [`SPIN_ROUNDS`] rounds of spin hints (1, 2, 4), then a `thread::yield_now` per round.
///
/// The yields are for threads outnumbering cores. With an empty critical section the owner
/// holds the lock about half of its time, so it is often preempted holding it; a waiter on
/// its core that only spun (the old budget, `SPIN_ROUNDS_BEFORE_SLEEP` rounds, about 4000
/// spin hints or 200 µs here) held that core until it slept, while a yield hands the core to
/// the owner at once. A waiter inside a yield also leaves the lock's cache line alone, so the
/// running owner loses fewer acquisitions to coherence misses. The shape is
/// `parking_lot::Mutex`'s (3 spin rounds, then yields before parking). 13 yields (7–18 µs
/// measured on this project's 2-core VM) did not make waiters sleep more often than the old
/// budget did (no sleep-per-acquisition convoy); with 7 they slept twice as often. Measured against the old
/// budget and longer and shorter yield budgets in `docs/design.md` (issue 15, second
/// section).
#[cfg(all(feature = "std", not(baresync_loom)))]
const POLL_ROUNDS: u32 = SPIN_ROUNDS + YIELD_ROUNDS;
/// Rounds of `thread::yield_now` after the spin rounds (feature `std`); `RawFairLock` makes
/// as many before it queues.
#[cfg(all(feature = "std", not(baresync_loom)))]
pub(super) const YIELD_ROUNDS: u32 = 13;
/// Rounds of spin hints before a waiter starts yielding (feature `std`).
#[cfg(all(feature = "std", not(baresync_loom)))]
const SPIN_ROUNDS: u32 = 3;

/// Rounds a waiter polls the word before it announces itself and sleeps, without `std`
/// (nothing to yield to, or under loom): the crate's pre-sleep spin budget, spin hints only.
#[cfg(not(all(feature = "std", not(baresync_loom))))]
const POLL_ROUNDS: u32 = crate::wait::SPIN_ROUNDS_BEFORE_SLEEP;

/// A 4-byte mutex that waits through the [`Wait`] backend `W`: three states, so that
/// unlocking costs no wake call while nobody sleeps.
///
/// Use it through [`Mutex<T, W>`](crate::Mutex).
///
/// # Examples
///
/// ```
/// use baresync::{RawLock, RawMutex, Spin};
///
/// static RAW: RawMutex<Spin> = RawMutex::with_wait();
/// RAW.lock();
/// assert!(RAW.is_locked());
/// // SAFETY: acquired just above.
/// unsafe { RAW.unlock() };
/// assert_eq!(core::mem::size_of::<RawMutex>(), 4);
/// ```
#[repr(C)]
pub struct RawMutex<W = DefaultWait> {
    /// 0: unlocked · 1: locked, no sleepers · 2: locked, sleepers may exist
    /// (state 2 is never used when `W::WAKE_IS_NOOP`)
    state: AtomicU32,
    _wait: PhantomData<fn() -> W>,
}

impl RawMutex {
    const_fn! {
        /// A new, unlocked mutex waiting through the default backend
        /// ([`DefaultWait`](crate::wait::DefaultWait)).
        ///
        /// # Examples
        ///
        /// ```
        /// use baresync::{RawLock, RawMutex};
        ///
        /// let raw = RawMutex::new(); // no annotation needed
        /// assert!(raw.try_lock());
        /// ```
        #[inline]
        pub const fn new() -> Self {
            Self::with_wait()
        }
    }
}

impl<W: Wait> RawMutex<W> {
    const_fn! {
        /// A new, unlocked mutex waiting through `W`, named by the type.
        ///
        /// # Examples
        ///
        /// ```
        /// use baresync::{RawLock, RawMutex, Spin};
        ///
        /// static RAW: RawMutex<Spin> = RawMutex::with_wait();
        /// assert!(RAW.try_lock());
        /// ```
        #[inline]
        pub const fn with_wait() -> Self {
            RawMutex { state: AtomicU32::new(UNLOCKED), _wait: PhantomData }
        }
    }

    /// Polls while the lock is held, whether or not sleepers exist, for [`POLL_ROUNDS`]
    /// rounds (see there: spin hints, then, with feature `std`, yields). Returns true if it
    /// acquired the lock.
    ///
    /// Polling in state CONTENDED too matters: bailing out to sleep as soon as anyone sleeps
    /// (std's rule) kept the lock in a sleep-per-acquisition convoy once it formed.
    #[inline]
    fn spin_then_try(&self) -> bool {
        let mut backoff = Backoff::new();
        let mut rounds = 0u32;
        loop {
            // ORDERING: Relaxed: the load only chooses between retrying and waiting; the
            // compare-exchange is the acquire.
            let state = self.state.load(Relaxed);
            // ORDERING: Acquire pairs with the Release in `unlock`.
            if state == UNLOCKED
                && self
                    .state
                    .compare_exchange(UNLOCKED, LOCKED, Acquire, Relaxed)
                    .is_ok()
            {
                return true;
            }
            if rounds >= POLL_ROUNDS {
                return false;
            }
            #[cfg(all(feature = "std", not(baresync_loom)))]
            if rounds >= SPIN_ROUNDS {
                std::thread::yield_now();
                rounds += 1;
                continue;
            }
            backoff.spin();
            rounds += 1;
        }
    }

    #[cold]
    fn lock_slow(&self) {
        self.lock_slow_until(None::<&mut Forever>);
    }

    /// The slow path of `lock` (no deadline) and `lock_until`, written once.
    fn lock_slow_until<D: Deadline>(&self, mut deadline: Option<&mut D>) -> bool {
        if W::WAKE_IS_NOOP {
            // Nobody sleeps, so no sleeper state: wait for the word to leave LOCKED, retry.
            loop {
                // ORDERING: Acquire pairs with the Release store in `unlock`.
                match self
                    .state
                    .compare_exchange(UNLOCKED, LOCKED, Acquire, Relaxed)
                {
                    Ok(_) => return true,
                    Err(seen) => {
                        if !wait_for::<W, D>(&self.state, seen, deadline.as_deref_mut()) {
                            return false;
                        }
                    }
                }
            }
        }
        if self.spin_then_try() {
            return true;
        }
        // Announce a sleeper by moving the state to CONTENDED. If the swap returns UNLOCKED we
        // own the lock (in state CONTENDED, which may cost the next unlock a needless wake).
        // ORDERING: Acquire pairs with the Release swap in `unlock`.
        while self.state.swap(CONTENDED, Acquire) != UNLOCKED {
            if !wait_for::<W, D>(&self.state, CONTENDED, deadline.as_deref_mut()) {
                // Leaving CONTENDED behind is harmless: at worst one spurious wake call.
                return false;
            }
            self.spin_while_locked();
        }
        true
    }

    /// After a wake: polls until the lock looks free (or the spin budget is spent), without
    /// taking it, so that the swap that follows finds it free. A woken waiter that swapped at
    /// once would find the lock retaken by a running thread (an empty critical section is
    /// nanoseconds; the wake took microseconds), sleep again, and make that thread's unlock
    /// pay a wake call for nothing: a sleep and a wake per acquisition once threads outnumber
    /// cores. std's futex mutex spins after waking for the same reason. The swap still takes
    /// the lock in state CONTENDED, as other sleepers may exist. The budget is one backoff
    /// ramp (127 spin hints, about what a wake-up costs), not the long pre-sleep budget: a
    /// waiter that was asleep has already paid for the sleep, and the lock may be held long.
    fn spin_while_locked(&self) {
        let mut backoff = Backoff::new();
        loop {
            // ORDERING: Relaxed: only decides when to try the swap, which is the acquire.
            if self.state.load(Relaxed) == UNLOCKED || backoff.is_completed() {
                return;
            }
            backoff.spin();
        }
    }
}

impl<W: Wait> Default for RawMutex<W> {
    fn default() -> Self {
        Self::with_wait()
    }
}

impl<W> core::fmt::Debug for RawMutex<W> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        // ORDERING: Relaxed: a snapshot for display.
        f.debug_struct("RawMutex")
            .field("state", &self.state.load(Relaxed))
            .finish()
    }
}

// SAFETY: the lock is acquired only by a compare-exchange from UNLOCKED or a swap that returns
// UNLOCKED, both Acquire; the word leaves UNLOCKED through exactly one of them until `unlock`
// stores UNLOCKED again with Release. So one owner at a time, and each owner's writes
// happen-before the next owner's reads.
unsafe impl<W: Wait> RawLock for RawMutex<W> {
    impl_init!(with_wait);
    const DEBUG_NAME: &'static str = "Mutex";

    #[inline]
    fn lock(&self) {
        // ORDERING: Acquire pairs with the Release in `unlock`.
        if self
            .state
            .compare_exchange(UNLOCKED, LOCKED, Acquire, Relaxed)
            .is_err()
        {
            self.lock_slow();
        }
    }

    #[inline]
    fn try_lock(&self) -> bool {
        // ORDERING: Acquire pairs with the Release in `unlock`.
        self.state
            .compare_exchange(UNLOCKED, LOCKED, Acquire, Relaxed)
            .is_ok()
    }

    fn lock_until(&self, deadline: &mut impl Deadline) -> bool {
        self.try_lock() || self.lock_slow_until(Some(deadline))
    }

    #[inline]
    unsafe fn unlock(&self) {
        if W::WAKE_IS_NOOP {
            // ORDERING: Release pairs with the Acquire compare-exchange of the next owner.
            self.state.store(UNLOCKED, Release);
        } else {
            // ORDERING: Release pairs with the Acquire compare-exchange or swap of the next
            // owner. The swap also reads whether a sleeper announced itself: a waiter sets
            // CONTENDED before sleeping, and both are read-modify-writes of this one word, so
            // either we see CONTENDED here and wake, or the waiter's swap sees UNLOCKED and it
            // owns the lock without sleeping.
            if self.state.swap(UNLOCKED, Release) == CONTENDED {
                self.wake_slow();
            }
        }
    }

    #[inline]
    fn is_locked(&self) -> bool {
        // ORDERING: Relaxed: a snapshot for diagnostics.
        self.state.load(Relaxed) != UNLOCKED
    }
}

impl<W: Wait> RawMutex<W> {
    #[cold]
    fn wake_slow(&self) {
        W::wake_one(&self.state);
    }
}

#[cfg(all(feature = "lock_api", not(baresync_loom)))]
super::impl_lock_api!([W: Wait] RawMutex<W>);

#[cfg(all(test, not(baresync_loom)))]
mod tests {
    use super::*;
    use crate::Spin;

    fn basics<W: Wait>() {
        let l = RawMutex::<W>::with_wait();
        super::super::test_support::raw_lock_basics(&l);
        assert_eq!(l.state.load(Relaxed), UNLOCKED);
    }

    #[test]
    fn spin_basics() {
        basics::<Spin>();
    }

    #[cfg(feature = "std")]
    #[test]
    fn futex_basics() {
        basics::<crate::Futex>();
        basics::<crate::Yield>();
    }

    /// A waiter whose `W::wait` (or whose deadline) panics acquires nothing; the "contended"
    /// state it left costs the next unlock one wake call, which clears it: no ghost sleeper.
    #[test]
    fn panicking_wait_or_deadline_leaves_no_ghost() {
        use crate::wait::testing::{must_panic, PanickyWait};
        let l = RawMutex::<PanickyWait>::with_wait();
        l.lock();
        PanickyWait::arm(1);
        must_panic(|| l.lock());
        assert_eq!(l.state.load(Relaxed), CONTENDED);
        must_panic(|| l.lock_until(&mut || panic!("injected")));
        assert_eq!(l.state.load(Relaxed), CONTENDED);
        // SAFETY: held by this thread.
        unsafe { l.unlock() };
        assert_eq!(l.state.load(Relaxed), UNLOCKED);
        assert_eq!(PanickyWait::wakes(), 1);
        for _ in 0..3 {
            l.lock();
            // SAFETY: held by this thread.
            unsafe { l.unlock() };
        }
        assert_eq!(PanickyWait::wakes(), 1, "no wake call without a sleeper");
    }

    #[cfg(feature = "std")]
    #[test]
    fn is_four_bytes() {
        assert_eq!(core::mem::size_of::<RawMutex<Spin>>(), 4);
        assert_eq!(core::mem::size_of::<RawMutex<crate::Futex>>(), 4);
    }
}
