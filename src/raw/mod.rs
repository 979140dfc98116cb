//! Raw lock algorithms: state machines with no data attached.
//!
//! A raw lock only knows "locked" and "unlocked"; [`Lock<R, T>`](crate::Lock) pairs one with
//! the data it protects and hands out a guard (the design of `lock_api`). A new algorithm is
//! one new type implementing [`RawLock`] and one alias.
//!
//! | raw lock | size | algorithm | fair | waiting |
//! |---|---|---|---|---|
//! | [`RawSpinLock`] | 1 byte | test-and-test-and-set with bounded backoff | no | spins |
//! | [`RawTicketLock<W>`] | 8 bytes | ticket lock | FIFO | head spins, others wait through `W` |
//! | [`RawFairLock<W>`] | 12 bytes | barging bounded by a bypass count, waiters queued by ticket; the head closes a gate while it runs | bounded: a queued waiter is bypassed at most `MAX_BYPASSES` times per waiter ahead of it (`GATE_AFTER` while the head runs) | head polls, others wait through `W` |
//! | [`RawMcsLock`] | 2 words | MCS queue lock (K42 form: the node lives on the waiter's stack only while it waits) | FIFO | each waiter spins on its own node |
//! | [`RawMutex<W>`] | 4 bytes | three-state futex mutex (Drepper, "Futexes Are Tricky", mutex 2) | no | brief spin, then sleeps through `W` |
//! | `RawRobustMutex<L, W>` (`std`, Linux) | 16 bytes | owner-identity word taken over from a dead owner (pthread robust mutex) | no | brief spin, then sleeps through `W`, waking every 10 ms to check the owner is alive |
//!
//! Reader-writer locks have their own trait, [`RawRwLock`], wrapped by
//! [`ReadWriteLock<R, T>`](crate::ReadWriteLock):
//!
//! | raw rwlock | size | algorithm | fair | waiting |
//! |---|---|---|---|---|
//! | [`RawRwMutex<W>`] | 4 bytes | counted waiters in one word, writer preference, every waiting reader admitted at the next write unlock | bounded both ways (writers among themselves: no order) | brief spin, then sleeps through `W` |
//! | [`RawSpinRwLock`] | 4 bytes | reader count and flags in one word; a waiting writer flags itself and holds new readers back | no (writer-preferring, unbounded) | spins |

use crate::Deadline;

mod fair;
mod mcs;
mod mutex;
#[cfg(any(
    baresync_loom,
    all(
        feature = "std",
        target_has_atomic = "64",
        any(target_os = "linux", target_os = "android")
    )
))]
mod robust;
mod rwlock;
mod spin;
mod spin_rwlock;
mod ticket;

pub use fair::RawFairLock;
pub use mcs::RawMcsLock;
pub use mutex::RawMutex;
#[cfg(any(
    baresync_loom,
    all(
        feature = "std",
        target_has_atomic = "64",
        any(target_os = "linux", target_os = "android")
    )
))]
#[cfg_attr(docsrs, doc(cfg(all(feature = "std", target_os = "linux"))))]
pub use robust::{Acquired, NotRecoverable, OwnerLiveness, RawRobustMutex, NOT_RECOVERABLE};
pub use rwlock::{RawRwLock, RawRwMutex};
pub use spin::RawSpinLock;
pub use spin_rwlock::RawSpinRwLock;
pub use ticket::RawTicketLock;

/// Polls `try_lock` with bounded backoff until it succeeds (`true`) or `deadline` expires
/// (`false`): the provided `RawLock::lock_until`, and `IrqSafe::lock_until` (one critical
/// section per attempt; `IrqSafe` is not a `RawLock`).
pub(crate) fn poll_try_lock(
    mut try_lock: impl FnMut() -> bool,
    deadline: &mut impl Deadline,
) -> bool {
    let mut backoff = crate::wait::Backoff::new();
    loop {
        if try_lock() {
            return true;
        }
        // Between attempts nothing is held.
        if deadline.expired() {
            return false;
        }
        backoff.spin();
    }
}

/// A lock with no data: the algorithm behind a [`Lock`](crate::Lock).
///
/// # Safety
///
/// An implementation must provide mutual exclusion: after [`lock`](RawLock::lock) returns, or
/// [`try_lock`](RawLock::try_lock) or [`lock_until`](RawLock::lock_until) return `true`, no
/// other caller can acquire the lock until [`unlock`](RawLock::unlock) is called. Acquiring
/// must synchronize with (happen after) the previous `unlock`, so that everything the previous
/// owner wrote while holding the lock is visible to the next owner. [`Lock`](crate::Lock)
/// hands out `&mut T` on the strength of these two promises.
///
/// What a broken implementation breaks:
/// - **Soundness** (undefined behaviour through safe `Lock` code) follows from exactly two
///   broken promises: an acquisition that succeeds (`lock` returns, `try_lock` or `lock_until`
///   return `true`) while another one has not been released, which gives two live `&mut T`;
///   and an acquisition that does not happen-after the previous `unlock` (say, a flag read
///   with `Relaxed`), which lets the next owner's accesses race with the previous owner's.
///   Returning `true` from `try_lock` or `lock_until` without having acquired is the first.
/// - **Liveness only**, never soundness: a method that panics before acquiring (`Lock` hands
///   out no guard and the lock stays as it was) or after acquiring (the lock stays held: a
///   deadlock, as with a forgotten guard); an `unlock` that panics or does not release; a
///   `try_lock` that fails spuriously; a `lock_until` that acquires and then reports `false`
///   (the lock leaks); a slow method; an [`INIT`](RawLock::INIT) that starts locked; a wrong
///   [`is_locked`](RawLock::is_locked), which `Lock` only reports and never relies on.
///   `tests/fault_sync.rs` runs `Lock` over a contract-keeping raw lock whose `lock` panics
///   before acquiring, and over a slow one, and checks both.
///
/// # Examples
///
/// ```
/// use baresync::{RawLock, RawSpinLock};
///
/// static RAW: RawSpinLock = RawSpinLock::new();
/// RAW.lock();
/// assert!(RAW.is_locked());
/// assert!(!RAW.try_lock());
/// // SAFETY: this thread acquired the lock just above.
/// unsafe { RAW.unlock() };
/// assert!(!RAW.is_locked());
/// ```
pub unsafe trait RawLock {
    /// An unlocked lock, for `const` and `static` initialization.
    #[cfg(not(baresync_loom))]
    const INIT: Self;

    /// An unlocked lock (loom's atomics cannot be built in a constant).
    #[cfg(baresync_loom)]
    #[doc(hidden)]
    fn init() -> Self;

    /// The type name `Debug` shows for a [`Lock`](crate::Lock) over this raw lock: the alias a
    /// user writes (`"Mutex"`, `"SpinLock"`, `"TicketLock"`); `"Lock"` unless overridden.
    ///
    /// # Examples
    ///
    /// ```
    /// assert_eq!(format!("{:?}", baresync::Mutex::new(5)), "Mutex { data: 5, .. }");
    /// ```
    const DEBUG_NAME: &'static str = "Lock";

    /// Acquires the lock, waiting as long as it takes.
    fn lock(&self);

    /// Acquires the lock if it is free right now; never waits.
    fn try_lock(&self) -> bool;

    /// Acquires the lock unless `deadline` expires first; returns whether it did.
    ///
    /// The provided implementation polls [`try_lock`](RawLock::try_lock) with bounded backoff;
    /// algorithms that can sleep override it.
    fn lock_until(&self, deadline: &mut impl Deadline) -> bool {
        poll_try_lock(|| self.try_lock(), deadline)
    }

    /// Releases the lock.
    ///
    /// # Safety
    ///
    /// The lock must be held, and by the caller's context: the thread (or task) that acquired
    /// it, or code that has taken over that acquisition (a forgotten guard).
    unsafe fn unlock(&self);

    /// Whether the lock is held by anyone right now. A snapshot for diagnostics and
    /// assertions: it may be stale as soon as it returns.
    fn is_locked(&self) -> bool;
}

/// `R::INIT`, or under loom `R::init()`.
#[cfg(not(baresync_loom))]
macro_rules! raw_init {
    ($r:ty) => {
        <$r as $crate::RawLock>::INIT
    };
}
#[cfg(baresync_loom)]
macro_rules! raw_init {
    ($r:ty) => {
        <$r as $crate::RawLock>::init()
    };
}
pub(crate) use raw_init;

/// Implements `RawLock::INIT` (or loom's `init`) from the type's constructor `$ctor`.
macro_rules! impl_init {
    ($ctor:ident) => {
        #[cfg(not(baresync_loom))]
        const INIT: Self = Self::$ctor();

        #[cfg(baresync_loom)]
        fn init() -> Self {
            Self::$ctor()
        }
    };
}
pub(crate) use impl_init;

/// Implements `lock_api::RawMutex` by forwarding to `RawLock`.
#[cfg(all(feature = "lock_api", not(baresync_loom)))]
macro_rules! impl_lock_api {
    ($(#[$attr:meta])* [$($gen:tt)*] $ty:ty) => {
        $(#[$attr])*
        #[cfg_attr(docsrs, doc(cfg(feature = "lock_api")))]
        // SAFETY: forwards to the `RawLock` implementation, whose contract (mutual exclusion,
        // acquire synchronizes with the previous release) is the one `lock_api` requires.
        // Guards are `!Send` (`GuardNoSend`) because a raw lock is released by its owner.
        unsafe impl<$($gen)*> lock_api::RawMutex for $ty {
            #[allow(clippy::declare_interior_mutable_const)]
            const INIT: Self = <Self as $crate::RawLock>::INIT;
            type GuardMarker = lock_api::GuardNoSend;

            #[inline]
            fn lock(&self) {
                $crate::RawLock::lock(self)
            }

            #[inline]
            fn try_lock(&self) -> bool {
                $crate::RawLock::try_lock(self)
            }

            #[inline]
            unsafe fn unlock(&self) {
                // SAFETY: `lock_api` calls this only while the lock is held by this context,
                // which is `RawLock::unlock`'s requirement.
                unsafe { $crate::RawLock::unlock(self) }
            }

            #[inline]
            fn is_locked(&self) -> bool {
                $crate::RawLock::is_locked(self)
            }
        }
    };
}
#[cfg(all(feature = "lock_api", not(baresync_loom)))]
pub(crate) use impl_lock_api;

#[cfg(all(test, feature = "lock_api", not(baresync_loom)))]
mod lock_api_tests {
    use super::*;
    use std::sync::Arc;

    fn counts_exactly<R: lock_api::RawMutex + Send + Sync + 'static>() {
        let m = Arc::new(lock_api::Mutex::<R, u64>::new(0));
        let threads: std::vec::Vec<_> = (0..3)
            .map(|_| {
                let m = Arc::clone(&m);
                std::thread::spawn(move || {
                    for _ in 0..if cfg!(miri) { 20 } else { 5_000 } {
                        *m.lock() += 1;
                    }
                })
            })
            .collect();
        for t in threads {
            t.join().unwrap();
        }
        assert_eq!(*m.lock(), 3 * if cfg!(miri) { 20 } else { 5_000 });
        let g = m.lock();
        assert!(m.is_locked());
        assert!(m.try_lock().is_none());
        drop(g);
    }

    #[test]
    fn lock_api_mutex_over_each_raw_lock() {
        counts_exactly::<RawSpinLock>();
        counts_exactly::<RawTicketLock<crate::Spin>>();
        counts_exactly::<RawMutex<crate::Futex>>();
        counts_exactly::<RawFairLock<crate::Spin>>();
        counts_exactly::<RawFairLock<crate::Futex>>();
        counts_exactly::<RawMcsLock>();
    }
}

/// What the raw locks' unit tests share: threads that count under a lock, and one walk through
/// the reader-writer contract for both raw reader-writer locks.
#[cfg(all(test, not(baresync_loom)))]
pub(crate) mod test_support {
    use super::{RawLock, RawRwLock};
    use std::sync::Arc;
    use std::thread::JoinHandle;
    use std::vec::Vec;

    /// A plain (non-atomic) counter: only ever touched under the lock under test, so an exact
    /// total at the end is evidence of mutual exclusion (a lost update shows as a short count).
    pub(crate) struct Count(core::cell::UnsafeCell<u64>);

    // SAFETY: every access is made under the lock under test (see `counting_threads`); a
    // lock that failed to exclude would be a data race, which is what the tests look for
    // (Miri reports it, a plain run shows a short total).
    unsafe impl Sync for Count {}

    /// Spawns `threads` threads that each take `lock` `rounds` times, by calling
    /// `acquire(lock, thread, round)`, which returns holding the lock; each increments the
    /// shared count under it and unlocks. Returns the handles and the count.
    pub(crate) fn counting_threads<R: RawLock + Send + Sync + 'static>(
        lock: &Arc<R>,
        threads: u32,
        rounds: u32,
        acquire: fn(&R, u32, u32),
    ) -> (Vec<JoinHandle<()>>, Arc<Count>) {
        let count = Arc::new(Count(core::cell::UnsafeCell::new(0)));
        let handles = (0..threads)
            .map(|thread| {
                let (l, c) = (lock.clone(), count.clone());
                std::thread::spawn(move || {
                    for round in 0..rounds {
                        acquire(&l, thread, round);
                        // SAFETY: `acquire` returned holding the lock.
                        unsafe { *c.0.get() += 1 };
                        // SAFETY: held by this thread.
                        unsafe { l.unlock() };
                    }
                })
            })
            .collect();
        (handles, count)
    }

    /// Joins `handles` (propagating a panic) and returns the count they made.
    pub(crate) fn joined_count(handles: Vec<JoinHandle<()>>, count: Arc<Count>) -> u64 {
        for h in handles {
            h.join().unwrap();
        }
        // SAFETY: every thread that touched the count is joined.
        unsafe { *count.0.get() }
    }

    /// The `acquire` of [`counting_threads`] that calls [`RawLock::lock`].
    pub(crate) fn lock<R: RawLock>(l: &R, _thread: u32, _round: u32) {
        l.lock();
    }

    /// Walks a fresh `l` through the `RawLock` contract on one thread and leaves it unlocked:
    /// `try_lock` takes a free lock and refuses a held one, a timed lock of a held lock gives
    /// up when its deadline expires (after three polls), `lock` takes a free lock and a timed
    /// lock a free one at once; `is_locked` agrees at every step. The caller then checks its
    /// lock's own state (its words must be back at rest).
    pub(crate) fn raw_lock_basics<R: RawLock>(l: &R) {
        assert!(!l.is_locked());
        assert!(l.try_lock());
        assert!(l.is_locked());
        assert!(!l.try_lock());
        let mut polls = 0;
        assert!(!l.lock_until(&mut || {
            polls += 1;
            polls > 3
        }));
        assert!(l.is_locked());
        // SAFETY: held by this thread (the `try_lock` above).
        unsafe { l.unlock() };
        assert!(!l.is_locked());
        l.lock();
        assert!(l.is_locked());
        // SAFETY: held by this thread.
        unsafe { l.unlock() };
        assert!(l.lock_until(&mut || true));
        assert!(l.is_locked());
        // SAFETY: held by this thread.
        unsafe { l.unlock() };
        assert!(!l.is_locked());
    }

    /// A point in [`rw_basics`] where the caller checks its lock's own state (its word).
    #[derive(Debug, Clone, Copy, PartialEq, Eq)]
    pub(crate) enum RwAt {
        /// Two shared locks held; beside them a `try_lock_exclusive`, then a writer whose
        /// deadline expired at once, failed (neither may leave a waiting writer behind).
        TwoReaders,
        /// Nothing held, after that timed-out writer: nothing of it may be left.
        Fresh,
        /// Nothing held, after other waiters gave up or left.
        Idle,
        /// The upgradable lock and one shared lock; a `try_upgrade` and an upgrade whose
        /// deadline expired at once failed (the upgrade may leave no waiting writer behind).
        UpgradableAndReader,
        /// The exclusive lock, by an upgrade.
        Upgraded,
        /// The upgradable lock alone, by a downgrade from the exclusive lock.
        Upgradable,
        /// One shared lock, by a downgrade.
        OneReader,
    }

    /// Walks a fresh `l` through the `RawRwLock` contract on one thread: shared locks beside
    /// each other and not beside the exclusive lock, the try and `_until` forms failing where
    /// they must (without waiting forever), the upgradable lock (one at a time, beside
    /// readers), upgrade, the three downgrades; at each [`RwAt`] it calls `check`, which looks
    /// at the lock's own state.
    pub(crate) fn rw_basics<R: RawRwLock>(l: &R, check: impl Fn(&R, RwAt)) {
        let unlock_shared = || {
            // SAFETY: called only where this thread holds a shared lock it gives up.
            unsafe { l.unlock_shared() }
        };
        assert!(!l.is_locked());
        l.lock_shared();
        assert!(l.try_lock_shared());
        assert!(l.is_locked() && !l.is_locked_exclusive());
        assert!(!l.try_lock_exclusive());
        check(l, RwAt::TwoReaders);
        assert!(!l.lock_exclusive_until(&mut || true));
        check(l, RwAt::TwoReaders);
        unlock_shared();
        unlock_shared();
        check(l, RwAt::Fresh);
        l.lock_exclusive();
        assert!(l.is_locked_exclusive());
        assert!(!l.try_lock_shared() && !l.try_lock_upgradable());
        let mut polls = 0;
        assert!(!l.lock_shared_until(&mut || {
            polls += 1;
            polls > 3
        }));
        assert!(!l.lock_upgradable_until(&mut || true));
        // SAFETY: held exclusively by this thread.
        unsafe { l.unlock_exclusive() };
        check(l, RwAt::Idle);
        l.lock_upgradable();
        assert!(!l.try_lock_upgradable());
        l.lock_shared();
        // SAFETY: this thread holds the upgradable lock.
        assert!(!unsafe { l.try_upgrade() });
        // SAFETY: as above.
        assert!(!unsafe { l.upgrade_until(&mut || true) });
        check(l, RwAt::UpgradableAndReader);
        unlock_shared();
        // SAFETY: as above.
        unsafe { l.upgrade() };
        assert!(l.is_locked_exclusive());
        check(l, RwAt::Upgraded);
        // SAFETY: held exclusively.
        unsafe { l.downgrade_to_upgradable() };
        assert!(l.is_locked() && !l.is_locked_exclusive());
        check(l, RwAt::Upgradable);
        assert!(l.try_lock_shared());
        unlock_shared();
        // SAFETY: the upgradable lock is held.
        unsafe { l.downgrade_upgradable() };
        check(l, RwAt::OneReader);
        assert!(l.try_lock_upgradable());
        // SAFETY: the upgradable lock is held.
        unsafe { l.unlock_upgradable() };
        unlock_shared();
        assert!(!l.is_locked());
        check(l, RwAt::Idle);
        l.lock_exclusive();
        // SAFETY: held exclusively.
        unsafe { l.downgrade() };
        assert!(l.is_locked() && !l.is_locked_exclusive());
        check(l, RwAt::OneReader);
        unlock_shared();
        check(l, RwAt::Idle);
    }

    /// `l` holds as many read locks as it can count: each further read-lock attempt (shared,
    /// upgradable, try and `_until` forms) panics with the overflow message and leaves the
    /// lock as it was (`check`, which looks at its word); one read unlock makes room again.
    pub(crate) fn rw_reader_overflow_panics<R: RawRwLock>(l: &R, check: impl Fn(&R)) {
        let attempts: [&dyn Fn(); 5] = [
            &|| l.lock_shared(),
            &|| {
                l.try_lock_shared();
            },
            &|| l.lock_upgradable(),
            &|| {
                l.try_lock_upgradable();
            },
            &|| {
                l.lock_shared_until(&mut || false);
            },
        ];
        for f in attempts {
            let r = std::panic::catch_unwind(core::panic::AssertUnwindSafe(f));
            let msg = r.expect_err("overflow must panic");
            let msg = msg.downcast_ref::<&str>().copied().unwrap_or("");
            assert!(msg.contains("reader count overflow"), "{msg}");
            check(l);
        }
        // SAFETY: the test stands for one of the holders.
        unsafe { l.unlock_shared() };
        assert!(l.try_lock_shared());
    }
}
