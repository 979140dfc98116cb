//! `RawRobustMutex<L, W>`: a lock that tells the next owner when the previous one died
//! holding it (pthread's robust mutex: `EOWNERDEAD`, `ENOTRECOVERABLE`).
//!
//! Algorithm: the lock word is 64 bits and holds the owner's whole identity, as
//! [`OwnerLiveness::current`] gives it (for processes: the kernel thread id and the thread's
//! start time), so the identity is taken and released in one atomic step and no waiter ever
//! reads a half-recorded owner. A waiter sleeps at most [`RawRobustMutex::CHECK_INTERVAL`] at
//! a time; each time it wakes with the lock still held by the same owner it asks
//! [`OwnerLiveness::is_dead`], and if the owner is dead it takes the lock over with a
//! compare-and-swap from exactly that owner word (so of several waiters one takes over, and
//! an owner that meanwhile released is never taken over). The taker is told "owner died".
//!
//! Sleeping is on a separate 32-bit word (an event count) because futexes are 32-bit: a
//! waiter registers in `sleepers`, reads `epoch`, checks the lock word once more and sleeps
//! while `epoch` is unchanged; a releaser that sees a registered sleeper bumps `epoch` and
//! wakes one. Sleepers left registered by a killed waiter only cost later releasers a wake
//! call. Progress: deadlock-free between live threads, not fair; a dead owner is detected
//! within about one check interval plus the time `/proc` takes to show the death.
//!
//! States of `owner`: 0: unlocked · [`NOT_RECOVERABLE`]: an owner died and its successor gave
//! up on the data (every later lock fails) · anything else: locked by that owner.

use crate::sync::atomic::{
    AtomicU32, AtomicU64,
    Ordering::{Acquire, Relaxed, SeqCst},
};
use crate::sync::const_fn;
use crate::wait::{Backoff, Wait};
use crate::Deadline;
use core::marker::PhantomData;
use core::num::NonZeroU64;

/// The owner word of a lock whose data was declared unrecoverable.
pub const NOT_RECOVERABLE: u64 = u64::MAX;

/// See [`RawRobustMutex::CHECK_INTERVAL`].
#[cfg(not(baresync_loom))]
const CHECK_INTERVAL: core::time::Duration = core::time::Duration::from_millis(10);

/// Names lock owners and tells whether one has died: what a [`RawRobustMutex`] needs to
/// detect owner death.
///
/// # Safety
///
/// - [`current`](OwnerLiveness::current) is unique among the live threads of every program
///   that shares the lock, constant for a thread's life, never [`NOT_RECOVERABLE`];
/// - [`is_dead`](OwnerLiveness::is_dead) returns `true` only for an owner that will never run
///   again (a reused thread id must not make a live thread look dead, nor a dead one look
///   alive for ever). A false "dead" breaks mutual exclusion.
///
/// # Examples
///
/// ```
/// # if cfg!(miri) { return; } // reads /proc (Miri isolates the file system)
/// use baresync::raw::OwnerLiveness;
/// use core::num::NonZeroU64;
///
/// /// A kernel's tasks: a slot index and a generation bumped each time the slot is reused.
/// struct Tasks;
/// fn current_task() -> (u32, u32) { (3, 1) }
/// fn task_generation(slot: u32) -> Option<u32> { Some(1) } // None: slot free
///
/// // SAFETY: (slot, generation) never names two tasks; a task is dead once its slot is free
/// // or holds a later generation.
/// unsafe impl OwnerLiveness for Tasks {
///     fn current() -> NonZeroU64 {
///         let (slot, gen) = current_task();
///         NonZeroU64::new(u64::from(slot + 1) | u64::from(gen) << 32).unwrap()
///     }
///     fn is_dead(owner: NonZeroU64) -> bool {
///         let slot = (owner.get() as u32) - 1;
///         task_generation(slot) != Some((owner.get() >> 32) as u32)
///     }
/// }
/// assert!(!Tasks::is_dead(Tasks::current()));
/// ```
pub unsafe trait OwnerLiveness {
    /// The calling thread's owner id.
    fn current() -> NonZeroU64;
    /// Whether `owner` (an id `current` returned in some thread) has died.
    fn is_dead(owner: NonZeroU64) -> bool;
}

/// How a robust lock was acquired.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Acquired {
    /// From a live owner or unlocked: the data is as the last owner left it on release.
    Consistent,
    /// Taken over from an owner that died holding the lock: the data may be half-updated.
    /// Repair it, then [`mark_consistent`](RawRobustMutex::mark_consistent) before
    /// unlocking, or unlock without it to make the lock unrecoverable.
    OwnerDied,
}

/// The lock can no longer be taken: an owner died and its successor released it without
/// marking the data consistent (pthread's `ENOTRECOVERABLE`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NotRecoverable;

impl core::fmt::Display for NotRecoverable {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str("the robust lock is not recoverable: an owner died and its data was given up")
    }
}

impl core::error::Error for NotRecoverable {}

/// A mutual-exclusion lock that survives the death of its owner (a killed process, an exited
/// thread) and tells the next owner.
///
/// Not a [`RawLock`](crate::RawLock): its `lock` has three outcomes ([`Acquired`] and
/// [`NotRecoverable`]). [`RobustMutex`](crate::RobustMutex) is the safe wrapper with the data
/// and a guard. With `std` on Linux, `L` = [`ProcessLiveness`](crate::ProcessLiveness) and
/// `W` = [`SharedFutex`](crate::SharedFutex) make it work across processes.
///
/// # Examples
///
/// ```
/// # if cfg!(miri) { return; } // reads /proc (Miri isolates the file system)
/// use baresync::raw::{Acquired, RawRobustMutex};
/// use baresync::{ProcessLiveness, SharedFutex};
///
/// let raw = RawRobustMutex::<ProcessLiveness, SharedFutex>::new();
/// assert_eq!(raw.lock(), Ok(Acquired::Consistent));
/// assert!(raw.try_lock().is_none());
/// // SAFETY: locked just above, by this thread.
/// unsafe { raw.unlock() };
/// ```
#[repr(C)]
pub struct RawRobustMutex<L, W> {
    /// 0: unlocked · `NOT_RECOVERABLE` · otherwise the owner's `OwnerLiveness` id.
    owner: AtomicU64,
    /// Bumped by a release that found sleepers; the word sleepers wait on.
    epoch: AtomicU32,
    /// Waiters registered to sleep (may over-count after a waiter was killed).
    sleepers: AtomicU32,
    _marker: PhantomData<fn() -> (L, W)>,
}

impl<L: OwnerLiveness, W: Wait> RawRobustMutex<L, W> {
    /// The longest a waiter sleeps before checking whether the owner is alive: a dead owner
    /// is noticed within about this long (target 100 ms; each check reads `/proc` once).
    #[cfg(not(baresync_loom))]
    pub const CHECK_INTERVAL: core::time::Duration = CHECK_INTERVAL;

    const_fn! {
        /// A new, unlocked, consistent lock. All-zero memory is the same.
        #[inline]
        pub const fn new() -> Self {
            RawRobustMutex {
                owner: AtomicU64::new(0),
                epoch: AtomicU32::new(0),
                sleepers: AtomicU32::new(0),
                _marker: PhantomData,
            }
        }
    }

    /// Acquires the lock, waiting while a live owner holds it.
    ///
    /// # Errors
    ///
    /// [`NotRecoverable`] if the lock was made unrecoverable (then it is not acquired).
    ///
    /// # Panics
    ///
    /// If the calling thread already holds the lock (it would wait for itself for ever; the
    /// owner word holds the caller's own id, so this is detected). Nothing is acquired.
    #[inline]
    pub fn lock(&self) -> Result<Acquired, NotRecoverable> {
        match self.try_lock() {
            Some(r) => r,
            None => match self.lock_slow(&mut || false) {
                Some(r) => r,
                None => unreachable!("a deadline that never expires expired"),
            },
        }
    }

    /// Acquires the lock unless a live owner holds it; `None` then. A dead owner's lock is
    /// taken over (if `is_dead` says so now).
    #[inline]
    pub fn try_lock(&self) -> Option<Result<Acquired, NotRecoverable>> {
        let me = L::current().get();
        // ORDERING: Acquire pairs with the Release store in `unlock` (or of
        // `unlock_unrecoverable`): the previous owner's writes happen-before ours.
        match self.owner.compare_exchange(0, me, Acquire, Relaxed) {
            Ok(_) => Some(Ok(Acquired::Consistent)),
            Err(NOT_RECOVERABLE) => Some(Err(NotRecoverable)),
            Err(seen) => self.take_over_if_dead(seen, me),
        }
    }

    /// Like [`lock`](RawRobustMutex::lock), but gives up once `deadline` expires: `None` then.
    ///
    /// # Errors
    ///
    /// As for `lock`.
    ///
    /// # Panics
    ///
    /// As `lock`, if the calling thread already holds the lock; and if `deadline` panics.
    pub fn lock_until(
        &self,
        deadline: &mut impl Deadline,
    ) -> Option<Result<Acquired, NotRecoverable>> {
        match self.try_lock() {
            Some(r) => Some(r),
            None => self.lock_slow(deadline),
        }
    }

    /// Takes the lock from `seen` if that owner is dead.
    fn take_over_if_dead(&self, seen: u64, me: u64) -> Option<Result<Acquired, NotRecoverable>> {
        // `seen` is neither 0 nor NOT_RECOVERABLE here.
        let dead = NonZeroU64::new(seen).is_some_and(L::is_dead);
        if !dead {
            return None;
        }
        // ORDERING: Acquire pairs with the Release of the store or compare-and-swap that made
        // the dead owner the owner: what happened before it took the lock happens-before our
        // repair (what it did while holding is what the repair is for). A failure means the
        // word changed (released, or taken over by another waiter): look again.
        match self.owner.compare_exchange(seen, me, Acquire, Relaxed) {
            Ok(_) => Some(Ok(Acquired::OwnerDied)),
            Err(_) => None,
        }
    }

    #[cold]
    fn lock_slow(&self, deadline: &mut impl Deadline) -> Option<Result<Acquired, NotRecoverable>> {
        let me = L::current().get();
        let mut backoff = Backoff::new();
        loop {
            // ORDERING: Relaxed: a hint for the compare-and-swap, which synchronizes.
            let seen = self.owner.load(Relaxed);
            if seen == me {
                // Only this thread writes its own id into the word (ids are unique among live
                // threads), so a Relaxed load that sees it is this thread's own earlier store:
                // the caller holds the lock and would wait for itself for ever.
                self_deadlock();
            }
            if seen == 0 {
                // ORDERING: Acquire as in `try_lock`.
                if self.owner.compare_exchange(0, me, Acquire, Relaxed).is_ok() {
                    return Some(Ok(Acquired::Consistent));
                }
                continue;
            }
            if seen == NOT_RECOVERABLE {
                return Some(Err(NotRecoverable));
            }
            if !backoff.is_completed() {
                backoff.spin();
                continue;
            }
            if let Some(r) = self.take_over_if_dead(seen, me) {
                return Some(r);
            }
            if deadline.expired() {
                return None;
            }
            self.sleep_while(seen, deadline);
        }
    }

    /// Sleeps (at most `CHECK_INTERVAL`, or until the deadline) while `owner` still holds
    /// `seen`.
    fn sleep_while(&self, seen: u64, deadline: &mut impl Deadline) {
        // ORDERING: SeqCst on both sides of a store-load pattern with `unlock`: we register,
        // then read `owner`; it writes `owner`, then reads `sleepers`. At least one of us
        // sees the other's write, so a release never misses a sleeper that saw it locked.
        self.sleepers.fetch_add(1, SeqCst);
        // Deregisters on the way out, also when the deadline or `W` panics (an over-count
        // would only cost releasers needless wake calls, but keep the count exact).
        let _registered = Registered(&self.sleepers);
        // ORDERING: SeqCst as above (the epoch read before the final check: a release after
        // it bumps the epoch, and the sleep returns at once).
        let epoch = self.epoch.load(SeqCst);
        // ORDERING: SeqCst, the load of the store-load pattern above.
        if self.owner.load(SeqCst) == seen {
            let mut nap = Nap::new(deadline);
            let _ = W::wait_until(&self.epoch, epoch, &mut nap);
        }
    }

    /// How many waiters are registered to sleep (for tests).
    #[cfg(all(test, not(baresync_loom)))]
    fn sleepers(&self) -> u32 {
        self.sleepers.load(Relaxed)
    }

    /// Releases the lock.
    ///
    /// # Safety
    ///
    /// The calling thread holds the lock (its last successful `lock`/`try_lock`/`lock_until`
    /// returned `Acquired`), and its data is consistent (acquired `Consistent`, or repaired
    /// and [`mark_consistent`](RawRobustMutex::mark_consistent) was called).
    #[inline]
    pub unsafe fn unlock(&self) {
        self.release(0);
    }

    /// Releases the lock and makes it unrecoverable: every later `lock` fails with
    /// [`NotRecoverable`] (what pthread does when the owner that was told "owner died"
    /// unlocks without marking the data consistent).
    ///
    /// # Safety
    ///
    /// The calling thread holds the lock.
    pub unsafe fn unlock_unrecoverable(&self) {
        self.release(NOT_RECOVERABLE);
    }

    /// Declares the data repaired after an [`Acquired::OwnerDied`]: a no-op on the word (the
    /// "inconsistent" state lives with the holder, whose `unlock` or
    /// `unlock_unrecoverable` decides), kept for pthread's shape.
    ///
    /// # Safety
    ///
    /// The calling thread holds the lock.
    #[inline]
    pub unsafe fn mark_consistent(&self) {}

    fn release(&self, to: u64) {
        // ORDERING: Release pairs with the Acquire compare-and-swaps in `try_lock`,
        // `lock_slow` and `take_over_if_dead`: our critical section happens-before the next
        // owner's. SeqCst also for the store-load pattern with `sleep_while` (see there).
        self.owner.store(to, SeqCst);
        // ORDERING: SeqCst, the load of that pattern.
        if self.sleepers.load(SeqCst) != 0 {
            self.epoch.fetch_add(1, Relaxed);
            if to == NOT_RECOVERABLE {
                W::wake_all(&self.epoch);
            } else {
                W::wake_one(&self.epoch);
            }
        }
    }

    /// Whether the lock is held (by a live or dead owner).
    #[inline]
    pub fn is_locked(&self) -> bool {
        let o = self.owner.load(Relaxed);
        o != 0 && o != NOT_RECOVERABLE
    }

    /// Whether the lock was made unrecoverable.
    #[inline]
    pub fn is_not_recoverable(&self) -> bool {
        self.owner.load(Relaxed) == NOT_RECOVERABLE
    }
}

/// `lock` by the lock's own holder: a panic rather than a silent hang (red team S2). Nothing
/// was acquired or registered; the caller's unwind drops its guard as usual.
#[cold]
fn self_deadlock() -> ! {
    panic!(
        "RawRobustMutex::lock: the calling thread already holds this lock (a robust lock is not \
         reentrant; waiting would wait for itself for ever)"
    )
}

/// A waiter's registration in `sleepers`, undone on drop.
struct Registered<'a>(&'a AtomicU32);

impl Drop for Registered<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Relaxed);
    }
}

/// The deadline of one sleep: the caller's deadline, cut to `CHECK_INTERVAL` so the owner's
/// liveness is checked again. Under loom, expired at once (after a yield to the model
/// checker): each sleep is one poll.
struct Nap<'d, D> {
    outer: &'d mut D,
    #[cfg(not(baresync_loom))]
    until: std::time::Instant,
}

impl<'d, D: Deadline> Nap<'d, D> {
    fn new(outer: &'d mut D) -> Self {
        Nap {
            outer,
            #[cfg(not(baresync_loom))]
            until: std::time::Instant::now() + CHECK_INTERVAL,
        }
    }
}

impl<D: Deadline> Deadline for Nap<'_, D> {
    fn expired(&mut self) -> bool {
        if self.outer.expired() {
            return true;
        }
        #[cfg(not(baresync_loom))]
        return std::time::Instant::now() >= self.until;
        #[cfg(baresync_loom)]
        {
            crate::sync::spin_loop();
            true
        }
    }

    fn remaining(&self) -> Option<core::time::Duration> {
        #[cfg(not(baresync_loom))]
        {
            let mine = self
                .until
                .saturating_duration_since(std::time::Instant::now());
            Some(self.outer.remaining().map_or(mine, |o| o.min(mine)))
        }
        #[cfg(baresync_loom)]
        None
    }
}

impl<L: OwnerLiveness, W: Wait> Default for RawRobustMutex<L, W> {
    fn default() -> Self {
        Self::new()
    }
}

impl<L, W> core::fmt::Debug for RawRobustMutex<L, W> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("RawRobustMutex")
            .field("owner", &self.owner.load(Relaxed))
            .finish()
    }
}

#[cfg(all(test, not(baresync_loom)))]
mod tests {
    use super::*;
    use crate::Spin;
    use std::cell::Cell;

    std::thread_local! {
        static ME: Cell<u64> = const { Cell::new(0) };
    }
    /// Owner ids chosen by the test; ids at or above 1000 are dead.
    struct Fake;
    // SAFETY: test only: each test thread sets a distinct id.
    unsafe impl OwnerLiveness for Fake {
        fn current() -> NonZeroU64 {
            NonZeroU64::new(ME.with(Cell::get)).unwrap()
        }
        fn is_dead(owner: NonZeroU64) -> bool {
            owner.get() >= 1000
        }
    }

    #[test]
    fn owner_death_then_unrecoverable() {
        let l = RawRobustMutex::<Fake, Spin>::new();
        ME.with(|m| m.set(1000)); // this thread "will die"
        assert_eq!(l.lock(), Ok(Acquired::Consistent));
        ME.with(|m| m.set(1)); // a survivor
        assert_eq!(l.lock(), Ok(Acquired::OwnerDied));
        // SAFETY: held.
        unsafe { l.unlock_unrecoverable() };
        assert!(l.is_not_recoverable());
        assert_eq!(l.try_lock(), Some(Err(NotRecoverable)));
        assert_eq!(l.lock(), Err(NotRecoverable));
    }

    #[test]
    fn live_owner_is_not_taken_over_and_a_panicking_deadline_deregisters() {
        let l = RawRobustMutex::<Fake, Spin>::new();
        ME.with(|m| m.set(7));
        assert_eq!(l.lock(), Ok(Acquired::Consistent));
        ME.with(|m| m.set(8));
        assert_eq!(l.try_lock(), None);
        let mut polls = 0;
        assert_eq!(
            l.lock_until(&mut || {
                polls += 1;
                polls > 3
            }),
            None
        );
        let r = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            // The second call comes from inside the sleep (the first from the loop).
            let mut calls = 0;
            l.lock_until(&mut || {
                calls += 1;
                assert!(calls < 2, "injected");
                false
            })
        }));
        assert!(r.is_err());
        assert_eq!(
            l.sleepers(),
            0,
            "the panicking waiter left its registration"
        );
        assert_eq!(l.owner.load(Relaxed), 7, "owner untouched");
        ME.with(|m| m.set(7));
        // SAFETY: held by owner 7 (same OS thread, acting as owner 7 again).
        unsafe { l.unlock() };
        assert_eq!(l.lock(), Ok(Acquired::Consistent));
    }

    #[test]
    fn lock_by_the_holder_panics_and_leaves_the_lock_held() {
        let l = RawRobustMutex::<Fake, Spin>::new();
        ME.with(|m| m.set(5));
        assert_eq!(l.lock(), Ok(Acquired::Consistent));
        let r = std::panic::catch_unwind(|| l.lock());
        assert!(r.is_err(), "a second lock by the holder must panic");
        assert_eq!(l.try_lock(), None, "the holder's try_lock: held");
        assert_eq!(l.sleepers(), 0);
        assert_eq!(l.owner.load(Relaxed), 5, "still held by the caller");
        // SAFETY: held by this thread (owner 5).
        unsafe { l.unlock() };
        assert_eq!(l.lock(), Ok(Acquired::Consistent));
    }

    #[test]
    fn zero_is_new() {
        assert_eq!(core::mem::size_of::<RawRobustMutex<Fake, Spin>>(), 16);
        // SAFETY: all atomics, zero valid.
        let l: RawRobustMutex<Fake, Spin> = unsafe { core::mem::zeroed() };
        assert!(!l.is_locked() && !l.is_not_recoverable());
    }
}
