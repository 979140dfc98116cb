//! `Condvar<W>`: a condition variable over the guard of any lock (Python's Condition).
//!
//! Algorithm: exact hand-out of notifications by counting, under a small internal
//! [`RawMutex<W>`]. Waiters are counted in two groups: *new* (registered since the last
//! notification) and *old* (registered before it). A notification first moves every new
//! waiter to the old group, then grants `k = min(n, old waiters without a grant)` grants, and
//! bumps an epoch word that waiters wait on through `W`. An old waiter that finds a grant takes
//! it and returns; nothing else makes `wait` return. The alternative, a plain sequence counter
//! that every waiter watches (std's futex condvar), is cheaper but releases every waiter that
//! sees the bump: with spinning waiters `notify_one` would release them all. It was rejected
//! because `notify(n)` must be exact with every backend.
//!
//! Guarantees:
//! - `notify(n)` releases at most `n` waiters (exactly `min(n, waiting)`), and only waiters
//!   that were registered before it: a thread that starts waiting later cannot take a
//!   notification meant for the ones already waiting. Among those, which ones go first is not
//!   specified (not FIFO).
//! - No spurious wake-ups: [`wait`](Condvar::wait) returns only when a notification was
//!   handed to it, and [`wait_until`](Condvar::wait_until) also when its deadline expired.
//! - A waiter whose deadline expires leaves without taking anything if no grant is waiting;
//!   if one is (a notification raced its timeout), it takes it and reports "notified" rather
//!   than "timed out". A notification is therefore never lost to a waiter that then reports a
//!   timeout.
//! - A waiter registers before it releases the caller's lock, so a notification sent by a
//!   thread that changed the condition under that lock (then or later) cannot be missed.
//! - Notifying with nobody waiting is one load; waking happens only when there are waiters.
//!
//! Works with [`LockGuard`] (any raw lock) and [`ReentrantLockGuard`]. Re-taking the caller's
//! lock after a wake-up is not bounded by the deadline, as in std.
//!
//! # Reentrant locks: wait with the only guard
//!
//! Waiting on a [`ReentrantLockGuard`] whose lock this thread holds more than once (nested
//! guards in outer frames, or a guard kept in a thread-local) **panics**, before anything is
//! registered or released; the unwind then drops the guard that was passed in, as usual, so the
//! lock stays held by the other guards. Python's `Condition` over an `RLock` instead releases
//! every level and restores them on return; here that is unsound: while the lock is released,
//! user code still runs on the waiting thread (the deadline closure, the `Wait` backend, or
//! anything reaching an outer guard through a thread-local), and an outer guard would give it
//! `&T` to data that another thread now owns — a data race on a `Cell` or `RefCell`, the usual
//! payloads (requiring `T: Sync` would exclude them). Restructure instead: take the condition
//! variable wait at the outermost level, with the only guard, and call the nested code after it
//! returns (or pass the guard down to the code that waits). With its only guard the wait
//! behaves as with any lock; if user code that runs while it is released takes the lock again
//! and keeps the guard, the wait takes it back by counting one more guard (no deadlock).
//!
//! # Panics inside a wait
//!
//! User code runs inside a wait: the predicate of [`wait_while`](Condvar::wait_while) (with
//! the lock held), the caller's `RawLock` as the lock is released, the deadline and the
//! `Wait` backend (with the lock released), and the caller's `RawLock` or `ThreadIdentity`
//! when the lock is taken back.
//! - The predicate panics: the guard unwinds with it and releases the lock; nothing is
//!   registered at that point.
//! - Releasing the lock panics, or the deadline or the backend panics while the lock is
//!   released: the waiter deregisters on the way out (a drop guard) and the lock stays released, which is what dropping the guard
//!   the caller moved in would have left (it was the caller's only guard of that lock, see
//!   above): re-taking the lock only to release it again would block inside an unwind, and
//!   a panicking `RawLock::lock` there would abort. If a notification had already granted
//!   the waiter a wake-up, the grant passes to another waiter registered before that
//!   notification if one is still without a grant; otherwise it is used up by the panicking
//!   waiter (which `notify` counted as released), as it would be by a waiter that returned
//!   and then panicked: it may not go to a thread that started waiting after the
//!   notification.
//! - Taking the lock back panics (after a wake-up or a timeout): the waiter has already left;
//!   the lock is not held.
//!
//! The unwind path itself takes the condition variable's internal lock, through `W`: a
//! backend that panics again there aborts the process (a panic during unwinding).
//!
//! # One condition variable, two locks
//!
//! Nothing ties a `Condvar` to one lock, and nothing checks it (std's may panic in that case;
//! Python binds a `Condition` to its lock when it is created). Using one condition variable
//! with two different locks at once is memory-safe — its own state is guarded by its internal
//! lock, and each waiter releases and re-takes only the lock of its own guard — and every
//! guarantee above holds for the condition variable as a whole: `notify_all` releases the
//! waiters of both locks, `notify(n)` any `n` of them. But a waiter registered under lock A is
//! only ordered before a notifier that holds lock A, and `notify_one` may release a waiter of
//! the other lock, whose condition did not change: it waits again, and the waiter that needed
//! the notification goes on sleeping. Use one condition variable per lock (or `notify_all`).
//! It is allowed rather than checked because a check would cost a word and an atomic
//! operation on every wait, for a mistake that is a logic error, not a soundness one.
//!
//! # Wrap-around
//!
//! Notifications are counted in 64 bits under the internal lock, so a waiter always knows
//! whether a notification came since it registered; sleepers wait on the low 32 bits. A
//! sleeping backend can therefore miss its wake-up only if exactly a multiple of 2^32
//! notifications happen between a waiter's last look and its going to sleep (the ABA of every
//! 32-bit futex word, std's condition variable included); it then sleeps until the next one.
//!
//! Progress: the internal lock is held for a few instructions; with more threads than cores
//! and `W = Spin`, a waiter spins while the thread it waits for may be descheduled: use
//! `Yield` or `Futex` there. `notify` wakes every sleeper of the condition variable (the
//! sleepers not granted anything go back to sleep): a futex wakes threads, not grants.

use crate::lock::{Lock, LockGuard};
use crate::raw::{RawLock, RawMutex};
use crate::reentrant::{ReentrantLock, ReentrantLockGuard, ThreadIdentity};
use crate::sync::atomic::{AtomicU32, Ordering::Relaxed};
use crate::sync::const_fn;
use crate::wait::{wait_for, DefaultWait, Forever, PreSleep, Wait};
use crate::{Deadline, WaitTimeoutResult};
use core::cell::UnsafeCell;
use core::fmt;
use core::ops::DerefMut;

/// The waiter counts, protected by `Condvar::inner`.
///
/// Invariant: `grants <= old`.
#[repr(C)]
struct Counts {
    /// Waiters registered since the last notification that granted anything.
    new: u32,
    /// Waiters registered before it, still waiting (with or without a grant).
    old: u32,
    /// Grants handed out and not yet taken; each belongs to some old waiter.
    grants: u32,
    /// Notifications that granted anything, ever: a waiter that registered in generation `g`
    /// is new while `generation == g`, old after. 64 bits, so that it cannot come back to a
    /// waiter's value while the waiter is descheduled (the 32-bit `epoch` can, after 2^32
    /// notifications); `epoch` is its low half.
    generation: u64,
}

/// A condition variable: threads wait on it holding a lock, other threads notify them.
///
/// # Examples
///
/// ```
/// use baresync::{Condvar, Futex, Mutex};
///
/// static READY: Mutex<bool> = Mutex::new(false);
/// static CHANGED: Condvar<Futex> = Condvar::with_wait();
///
/// let worker = std::thread::spawn(|| {
///     *READY.lock() = true;
///     CHANGED.notify_all();
/// });
/// let ready = CHANGED.wait_while(READY.lock(), |ready| !*ready);
/// assert!(*ready);
/// drop(ready);
/// worker.join().unwrap();
/// ```
#[repr(C)]
pub struct Condvar<W = DefaultWait> {
    /// The low 32 bits of `Counts::generation`, stored under `inner` by every notification
    /// that grants anything (so it wraps); sleeping waiters wait for it to change.
    epoch: AtomicU32,
    /// `new + old`, written under `inner`, read without it by `notify`'s fast path.
    waiters: AtomicU32,
    inner: RawMutex<W>,
    counts: UnsafeCell<Counts>,
}

// SAFETY: `counts` is only accessed while holding `inner` (a `RawLock`: mutual exclusion, and
// each holder's accesses happen-before the next holder's); the rest is atomics.
unsafe impl<W> Sync for Condvar<W> {}
// SAFETY: as above; nothing in it is tied to a thread.
unsafe impl<W> Send for Condvar<W> {}

/// A guard that a [`Condvar`] can release while waiting and take again: [`LockGuard`] and
/// [`ReentrantLockGuard`]. Sealed.
///
/// # Examples
///
/// ```
/// use baresync::{Condvar, CondvarGuard, SpinLock};
///
/// fn wait_once<G: CondvarGuard>(cv: &Condvar, guard: G) -> G {
///     cv.wait_until(guard, || true).0
/// }
/// let lock = SpinLock::new(0);
/// let guard = wait_once(&Condvar::new(), lock.lock());
/// assert_eq!(*guard, 0);
/// ```
pub trait CondvarGuard: sealed::Sealed {}

mod sealed {
    /// The methods behind `CondvarGuard`, out of reach of other crates.
    ///
    /// `unlock` releases exactly what the guard holds, so that no other guard of the caller
    /// refers to the lock while it is released (see the module docs): a reentrant lock held
    /// more than once is refused by `check` before anything happens.
    pub trait Sealed: Sized {
        /// What is kept while the lock is released.
        type Unlocked;
        /// Panics if the condition variable may not release this guard's lock. Runs no user
        /// code.
        fn check(&self);
        /// Releases the lock (drops the guard).
        fn unlock(self) -> Self::Unlocked;
        /// Takes the lock again.
        fn relock(unlocked: Self::Unlocked) -> Self;
    }
}

impl<'a, R: RawLock, T: ?Sized> sealed::Sealed for LockGuard<'a, R, T> {
    type Unlocked = &'a Lock<R, T>;

    #[inline]
    fn check(&self) {}

    #[inline]
    fn unlock(self) -> &'a Lock<R, T> {
        LockGuard::lock(&self)
    }

    #[inline]
    fn relock(lock: &'a Lock<R, T>) -> Self {
        lock.lock()
    }
}

impl<R: RawLock, T: ?Sized> CondvarGuard for LockGuard<'_, R, T> {}

impl<'a, T: ?Sized, I: ThreadIdentity, W: Wait> sealed::Sealed for ReentrantLockGuard<'a, T, I, W> {
    type Unlocked = &'a ReentrantLock<T, I, W>;

    #[inline]
    fn check(&self) {
        // Counted from the guard, not from `ThreadIdentity` (no user code runs here).
        let held = ReentrantLockGuard::held(self);
        assert!(
            held == 1,
            "Condvar: cannot wait on a ReentrantLock held more than once by this thread \
             ({held} guards): its other guards would reach the data while the lock is released. \
             Wait at the outermost level, with the only guard"
        );
    }

    #[inline]
    fn unlock(self) -> Self::Unlocked {
        // The only guard (see `check`): dropping it releases the lock.
        ReentrantLockGuard::lock(&self)
    }

    #[inline]
    fn relock(lock: Self::Unlocked) -> Self {
        // `lock` rather than a raw re-acquisition: if user code that ran while the lock was
        // released took it again and kept the guard (leaked it, or stored it), this thread
        // already owns it, and `lock` only counts one more guard instead of deadlocking.
        lock.lock()
    }
}

impl<T: ?Sized, I: ThreadIdentity, W: Wait> CondvarGuard for ReentrantLockGuard<'_, T, I, W> {}

impl Condvar {
    const_fn! {
        /// A condition variable nobody waits on; usable in a `static`.
        ///
        /// # Examples
        ///
        /// ```
        /// static CHANGED: baresync::Condvar = baresync::Condvar::new();
        /// assert_eq!(CHANGED.notify_all(), 0);
        ///
        /// let local = baresync::Condvar::new(); // no annotation needed
        /// assert!(!local.notify_one());
        /// ```
        #[inline]
        pub const fn new() -> Self {
            Self::with_wait()
        }
    }
}

impl<W: Wait> Condvar<W> {
    const_fn! {
        /// Like [`new`](Condvar::new), with the wait backend `W` named by the type;
        /// usable in a `static`. (`new` builds the default backend,
        /// [`DefaultWait`]: `rustc` does not use a type parameter's
        /// default to infer it, so one constructor cannot serve both.)
        ///
        /// # Examples
        ///
        /// ```
        /// use baresync::{Condvar, Spin};
        ///
        /// static CHANGED: Condvar<Spin> = Condvar::with_wait();
        /// assert!(!CHANGED.notify_one());
        /// ```
        #[inline]
        pub const fn with_wait() -> Self {
            Condvar {
                epoch: AtomicU32::new(0),
                waiters: AtomicU32::new(0),
                inner: RawMutex::with_wait(),
                counts: UnsafeCell::new(Counts {
                    new: 0,
                    old: 0,
                    grants: 0,
                    generation: 0,
                }),
            }
        }
    }

    /// A condition variable whose notifications start counting at `generation`, to drive the
    /// epoch past its wrap in tests.
    #[cfg(test)]
    #[cfg_attr(not(feature = "std"), allow(dead_code))]
    fn starting_at(generation: u64) -> Self {
        let cv = Self::with_wait();
        // SAFETY: nobody else can reach `cv` yet.
        unsafe { (*cv.counts.get()).generation = generation };
        // ORDERING: Relaxed: not shared yet.
        cv.epoch.store(generation as u32, Relaxed);
        cv
    }

    /// Runs `f` on the counts under the internal lock.
    #[inline]
    fn with_counts<X>(&self, f: impl FnOnce(&mut Counts) -> X) -> X {
        self.inner.lock();
        // SAFETY: `counts` is only accessed while holding `inner`, which we hold.
        let x = f(unsafe { &mut *self.counts.get() });
        // SAFETY: acquired above, on this thread.
        unsafe { self.inner.unlock() };
        x
    }

    /// Counts the caller as a new waiter; returns the generation it registered in.
    ///
    /// # Panics
    ///
    /// If `u32::MAX` threads wait already; the internal lock is released first.
    fn register(&self) -> u64 {
        let registered = self.with_counts(|c| {
            let total = (c.new + c.old).checked_add(1)?;
            c.new += 1;
            // ORDERING: Relaxed: read by `notify`'s fast path, ordered by the caller's lock
            // (see `notify`).
            self.waiters.store(total, Relaxed);
            Some(c.generation)
        });
        // Outside `with_counts`: a panic inside it would leave `inner` locked for good.
        registered.expect("Condvar: too many waiters")
    }

    /// Takes the caller off the waiters, having registered in generation `registered`,
    /// because its wait is unwinding (a deadline or the `Wait` backend panicked).
    ///
    /// A new waiter just leaves. An old one leaves too, and takes a grant with it only if
    /// every old waiter holds one (`grants == old`): grants are not addressed to a waiter, so
    /// while some old waiter has none, a grant left behind reaches it, and no notification is
    /// lost. When all have one, one of them was this waiter's: it is used up by the panic,
    /// as it would be by a waiter that returned and then panicked (`notify` counted it as
    /// released). It cannot be passed on: every waiter that could take it holds one
    /// already, and the waiters registered since may not take a notification sent before
    /// they waited.
    #[cold]
    fn leave(&self, registered: u64) {
        self.with_counts(|c| {
            if c.generation == registered {
                c.new -= 1;
            } else {
                if c.grants == c.old {
                    c.grants -= 1;
                }
                c.old -= 1;
            }
            // ORDERING: Relaxed: as in `register`.
            self.waiters.store(c.new + c.old, Relaxed);
        });
    }

    /// Waits for a grant (`true`) or the deadline (`false`), as the waiter `registration`.
    /// Written once for the timed and untimed waits.
    ///
    /// User code runs here (the deadline, the `Wait` backend); if it panics, `registration`
    /// deregisters the waiter on the way out.
    fn wait_grant<D: Deadline>(
        &self,
        registration: Registered<'_, W>,
        mut deadline: Option<&mut D>,
    ) -> bool {
        let registered = registration.generation;
        let mut seen = registered as u32;
        let mut timed_out = false;
        let mut pre_sleep = PreSleep::new();
        loop {
            if !timed_out {
                // ORDERING: Relaxed: this load only decides whether to look at the counts;
                // the decision is made under `inner`, whose Acquire orders the notifier's
                // writes before ours.
                if self.epoch.load(Relaxed) == seen {
                    // With a sleeping backend, poll before sleeping: a notifier that answers
                    // within microseconds (a ping-pong) then costs no wake-up.
                    if !W::WAKE_IS_NOOP && pre_sleep.poll() {
                        if deadline.as_deref_mut().is_some_and(|d| d.expired()) {
                            timed_out = true;
                        }
                        continue;
                    }
                    if !wait_for::<W, D>(&self.epoch, seen, deadline.as_deref_mut()) {
                        timed_out = true;
                    }
                    continue;
                }
            }
            let outcome = self.with_counts(|c| {
                seen = c.generation as u32;
                let outcome = if c.generation == registered {
                    // No notification since we registered: we are still a new waiter, and
                    // no grant can be ours.
                    if timed_out {
                        c.new -= 1;
                        Some(false)
                    } else {
                        None
                    }
                } else if c.grants > 0 {
                    // An old waiter; any grant is one a notification sent while we waited.
                    c.grants -= 1;
                    c.old -= 1;
                    Some(true)
                } else if timed_out {
                    // No grant waiting: leaving takes nothing from anyone (grants <= old
                    // still holds, since grants == 0).
                    c.old -= 1;
                    Some(false)
                } else {
                    None
                };
                if outcome.is_some() {
                    // ORDERING: Relaxed: as in `register`.
                    self.waiters.store(c.new + c.old, Relaxed);
                }
                outcome
            });
            if let Some(notified) = outcome {
                // Left under `inner` just above: nothing to undo any more.
                core::mem::forget(registration);
                return notified;
            }
        }
    }

    /// Registers, releases the guard's lock, waits, takes the lock again.
    ///
    /// On unwind from the released window (a panicking `RawLock::unlock`, deadline or `Wait`
    /// backend), the waiter deregisters (`Registered`) and the lock stays released: the guard moved in
    /// here was the caller's only guard of it (`check`), so re-taking the lock only to drop
    /// the new guard at once would leave the same state, after blocking inside an unwind, and
    /// turn a panicking `RawLock::lock` there into an abort. If re-taking the lock panics
    /// after a normal wake-up, the waiter has already left: the counts are clean.
    #[cfg_attr(all(feature = "lockdep", not(baresync_loom)), track_caller)]
    fn wait_inner<G: CondvarGuard, D: Deadline>(
        &self,
        guard: G,
        deadline: Option<&mut D>,
    ) -> (G, bool) {
        // Before anything is registered or released: a refused guard is dropped by the
        // unwind as usual.
        guard.check();
        // Registered before the lock is released: a notifier that changes the condition
        // under the lock afterwards sees us.
        let registration = Registered {
            cv: self,
            generation: self.register(),
        };
        // Releasing runs user code too (`RawLock::unlock`, the lock's `Wait::wake_one`).
        let unlocked = guard.unlock();
        // A wait with no deadline orders after every lock still held (the guard's lock is
        // released by now). A panicking report handler unwinds from here like a panicking
        // deadline: deregistered, the lock left released.
        lockdep_hook! {
            if deadline.is_none() {
                crate::lockdep::before_acquire(crate::lockdep::key(self), "Condvar");
            }
        }
        let notified = self.wait_grant(registration, deadline);
        (G::relock(unlocked), !notified)
    }

    /// Releases the guard's lock, waits until notified, and takes the lock again.
    ///
    /// Never returns spuriously: only a notification sent after this call started waiting
    /// releases it. The condition may still have changed again by the time the lock is
    /// re-taken (another thread may have run first), so check it in a loop, or use
    /// [`wait_while`](Condvar::wait_while).
    ///
    /// # Panics
    ///
    /// If `u32::MAX` threads already wait on this condition variable, or if `guard` is a
    /// [`ReentrantLockGuard`] whose lock this thread holds more than once (see the module
    /// docs); nothing is registered then, and the guard is dropped by the unwind. Panics of
    /// user code inside the wait are described in the module docs.
    ///
    /// # Examples
    ///
    /// ```
    /// use baresync::{Condvar, Futex, Mutex};
    ///
    /// static JOBS: Mutex<Vec<u32>> = Mutex::new(Vec::new());
    /// static HAS_JOBS: Condvar<Futex> = Condvar::with_wait();
    ///
    /// let worker = std::thread::spawn(|| {
    ///     let mut jobs = JOBS.lock();
    ///     while jobs.is_empty() {
    ///         jobs = HAS_JOBS.wait(jobs);
    ///     }
    ///     jobs.pop().unwrap()
    /// });
    /// JOBS.lock().push(42);
    /// HAS_JOBS.notify_one();
    /// assert_eq!(worker.join().unwrap(), 42);
    /// ```
    #[cfg_attr(all(feature = "lockdep", not(baresync_loom)), track_caller)]
    pub fn wait<G: CondvarGuard>(&self, guard: G) -> G {
        self.wait_inner(guard, None::<&mut Forever>).0
    }

    /// Waits while `condition` holds: checks it first (no wait if it is already false), then
    /// once after each wake-up. Returns the guard with the condition false.
    ///
    /// # Panics
    ///
    /// If `u32::MAX` threads already wait on this condition variable, or if `guard` is a
    /// [`ReentrantLockGuard`] whose lock this thread holds more than once (see the module
    /// docs); nothing is registered then, and the guard is dropped by the unwind. Panics of
    /// user code inside the wait are described in the module docs.
    ///
    /// # Examples
    ///
    /// ```
    /// use baresync::{Condvar, Futex, Mutex};
    ///
    /// static COUNT: Mutex<u32> = Mutex::new(0);
    /// static CHANGED: Condvar<Futex> = Condvar::with_wait();
    ///
    /// let t = std::thread::spawn(|| {
    ///     for _ in 0..3 {
    ///         *COUNT.lock() += 1;
    ///         CHANGED.notify_all();
    ///     }
    /// });
    /// let count = CHANGED.wait_while(COUNT.lock(), |n| *n < 3);
    /// assert_eq!(*count, 3);
    /// drop(count);
    /// t.join().unwrap();
    /// ```
    #[cfg_attr(all(feature = "lockdep", not(baresync_loom)), track_caller)]
    pub fn wait_while<G, F>(&self, mut guard: G, mut condition: F) -> G
    where
        G: CondvarGuard + DerefMut,
        F: FnMut(&mut G::Target) -> bool,
    {
        while condition(&mut *guard) {
            guard = self.wait(guard);
        }
        guard
    }

    /// Like [`wait`](Condvar::wait), but gives up once `deadline` expires. Returns the guard
    /// and whether it [`timed_out`](WaitTimeoutResult::timed_out) (no notification was taken).
    ///
    /// # Panics
    ///
    /// If `u32::MAX` threads already wait on this condition variable, or if `guard` is a
    /// [`ReentrantLockGuard`] whose lock this thread holds more than once (see the module
    /// docs); nothing is registered then, and the guard is dropped by the unwind. Panics of
    /// user code inside the wait are described in the module docs.
    ///
    /// # Examples
    ///
    /// ```
    /// use baresync::{Condvar, SpinLock};
    ///
    /// static LOCK: SpinLock<()> = SpinLock::new(());
    /// static CV: Condvar = Condvar::new();
    /// let mut polls = 0;
    /// let (guard, result) = CV.wait_until(LOCK.lock(), || { polls += 1; polls > 10 });
    /// assert!(result.timed_out());
    /// ```
    pub fn wait_until<G: CondvarGuard>(
        &self,
        guard: G,
        mut deadline: impl Deadline,
    ) -> (G, WaitTimeoutResult) {
        let (guard, timed_out) = self.wait_inner(guard, Some(&mut deadline));
        (guard, WaitTimeoutResult::new(timed_out))
    }

    /// Waits while `condition` holds, until one absolute `deadline` (not restarted by
    /// notifications). Returns the guard and whether it
    /// [`timed_out`](WaitTimeoutResult::timed_out), that is whether the condition still held
    /// when the deadline expired.
    ///
    /// # Panics
    ///
    /// If `u32::MAX` threads already wait on this condition variable, or if `guard` is a
    /// [`ReentrantLockGuard`] whose lock this thread holds more than once (see the module
    /// docs); nothing is registered then, and the guard is dropped by the unwind. Panics of
    /// user code inside the wait are described in the module docs.
    ///
    /// # Examples
    ///
    /// ```
    /// use baresync::{Condvar, Futex, Mutex};
    /// use std::time::{Duration, Instant};
    ///
    /// static ITEMS: Mutex<Vec<u8>> = Mutex::new(Vec::new());
    /// static NOT_EMPTY: Condvar<Futex> = Condvar::with_wait();
    /// let deadline = Instant::now() + Duration::from_millis(10);
    /// let (items, result) = NOT_EMPTY.wait_while_until(ITEMS.lock(), deadline, |v| v.is_empty());
    /// assert!(result.timed_out() && items.is_empty());
    /// ```
    pub fn wait_while_until<G, F>(
        &self,
        mut guard: G,
        mut deadline: impl Deadline,
        mut condition: F,
    ) -> (G, WaitTimeoutResult)
    where
        G: CondvarGuard + DerefMut,
        F: FnMut(&mut G::Target) -> bool,
    {
        loop {
            if !condition(&mut *guard) {
                return (guard, WaitTimeoutResult::new(false));
            }
            let (g, timed_out) = self.wait_inner(guard, Some(&mut deadline));
            guard = g;
            if timed_out {
                let still = condition(&mut *guard);
                return (guard, WaitTimeoutResult::new(still));
            }
        }
    }

    /// Like [`wait_until`](Condvar::wait_until) with a deadline `timeout` from now.
    ///
    /// Needs feature `std` (a default feature).
    ///
    /// # Panics
    ///
    /// If `u32::MAX` threads already wait on this condition variable, or if `guard` is a
    /// [`ReentrantLockGuard`] whose lock this thread holds more than once (see the module
    /// docs); nothing is registered then, and the guard is dropped by the unwind. Panics of
    /// user code inside the wait are described in the module docs.
    ///
    /// # Examples
    ///
    /// ```
    /// use baresync::{Condvar, Futex, Mutex};
    /// use std::time::Duration;
    ///
    /// let lock: Mutex<()> = Mutex::new(());
    /// let cv: Condvar<Futex> = Condvar::with_wait();
    /// let (_guard, result) = cv.wait_timeout(lock.lock(), Duration::from_millis(5));
    /// assert!(result.timed_out());
    /// ```
    #[cfg(feature = "std")]
    #[cfg_attr(docsrs, doc(cfg(feature = "std")))]
    pub fn wait_timeout<G: CondvarGuard>(
        &self,
        guard: G,
        timeout: core::time::Duration,
    ) -> (G, WaitTimeoutResult) {
        self.wait_until(guard, crate::deadline::Timeout::after(timeout))
    }

    /// Like [`wait_while_until`](Condvar::wait_while_until) with a deadline `timeout` from
    /// now. (std names it `wait_timeout_while`; here every timed form is the operation's name
    /// followed by `_until` or `_timeout`, as `lock_until`/`lock_timeout`.)
    ///
    /// Needs feature `std` (a default feature).
    ///
    /// # Panics
    ///
    /// If `u32::MAX` threads already wait on this condition variable, or if `guard` is a
    /// [`ReentrantLockGuard`] whose lock this thread holds more than once (see the module
    /// docs); nothing is registered then, and the guard is dropped by the unwind. Panics of
    /// user code inside the wait are described in the module docs.
    ///
    /// # Examples
    ///
    /// ```
    /// use baresync::{Condvar, Futex, Mutex};
    /// use std::time::Duration;
    ///
    /// let flag: Mutex<bool> = Mutex::new(true);
    /// let cv: Condvar<Futex> = Condvar::with_wait();
    /// let (_g, result) = cv.wait_while_timeout(flag.lock(), Duration::from_secs(1), |f| !*f);
    /// assert!(!result.timed_out()); // the condition was already false: no wait
    /// ```
    #[cfg(feature = "std")]
    #[cfg_attr(docsrs, doc(cfg(feature = "std")))]
    #[doc(alias = "wait_timeout_while")]
    pub fn wait_while_timeout<G, F>(
        &self,
        guard: G,
        timeout: core::time::Duration,
        condition: F,
    ) -> (G, WaitTimeoutResult)
    where
        G: CondvarGuard + DerefMut,
        F: FnMut(&mut G::Target) -> bool,
    {
        self.wait_while_until(guard, crate::deadline::Timeout::after(timeout), condition)
    }

    /// Releases one waiting thread, if any; returns whether it did.
    ///
    /// # Examples
    ///
    /// ```
    /// static CV: baresync::Condvar = baresync::Condvar::new();
    /// assert!(!CV.notify_one()); // nobody waits: nothing happens, and it costs one load
    /// ```
    #[inline]
    #[cfg_attr(all(feature = "lockdep", not(baresync_loom)), track_caller)]
    pub fn notify_one(&self) -> bool {
        lockdep_hook! { crate::lockdep::signal(crate::lockdep::key(self), "Condvar") }
        self.notify(1) == 1
    }

    /// Releases up to `n` of the threads waiting now (never more, with any backend); returns
    /// how many it released.
    ///
    /// # Examples
    ///
    /// ```
    /// use baresync::{Condvar, Futex, Mutex};
    ///
    /// static LOCK: Mutex<u32> = Mutex::new(0);
    /// static CV: Condvar<Futex> = Condvar::with_wait();
    ///
    /// let waiters: Vec<_> = (0..3)
    ///     .map(|_| std::thread::spawn(|| {
    ///         let mut g = LOCK.lock();
    ///         *g += 1;
    ///         drop(CV.wait(g));
    ///     }))
    ///     .collect();
    /// while *LOCK.lock() < 3 {
    ///     std::thread::yield_now();
    /// }
    /// // All three are registered (they registered before releasing the lock).
    /// assert_eq!(CV.notify(2), 2);
    /// assert_eq!(CV.notify(5), 1);
    /// for w in waiters {
    ///     w.join().unwrap();
    /// }
    /// ```
    #[inline]
    #[cfg_attr(all(feature = "lockdep", not(baresync_loom)), track_caller)]
    pub fn notify(&self, n: usize) -> usize {
        lockdep_hook! { crate::lockdep::signal(crate::lockdep::key(self), "Condvar") }
        // ORDERING: Relaxed is enough for the fast path. A waiter stores its registration
        // before it releases the caller's lock; a notifier that changed the condition under
        // that lock acquired it after the waiter released it, so the registration
        // happens-before this load, which sees it (coherence) or a later value, and the waiter
        // stays counted until it leaves. A notifier that did not take the lock has no ordering
        // with the waiter anyway, with any condition variable.
        if n == 0 || self.waiters.load(Relaxed) == 0 {
            return 0;
        }
        self.notify_slow(n)
    }

    /// Releases every thread waiting now; returns how many.
    ///
    /// # Examples
    ///
    /// ```
    /// static CV: baresync::Condvar = baresync::Condvar::new();
    /// assert_eq!(CV.notify_all(), 0);
    /// ```
    #[inline]
    #[cfg_attr(all(feature = "lockdep", not(baresync_loom)), track_caller)]
    pub fn notify_all(&self) -> usize {
        lockdep_hook! { crate::lockdep::signal(crate::lockdep::key(self), "Condvar") }
        self.notify(usize::MAX)
    }

    #[cold]
    fn notify_slow(&self, n: usize) -> usize {
        let granted = self.with_counts(|c| {
            // Everyone registered so far is now waiting "before this notification".
            c.old += c.new;
            c.new = 0;
            let ungranted = c.old - c.grants;
            let k = ungranted.min(u32::try_from(n).unwrap_or(u32::MAX));
            if k > 0 {
                c.grants += k;
                c.generation = c.generation.wrapping_add(1);
                // ORDERING: Relaxed: waiters decide under `inner` (see `wait_grant`); the
                // change only has to reach `W::wait`, which never misses a change followed by
                // a wake.
                self.epoch.store(c.generation as u32, Relaxed);
            }
            k
        });
        if granted > 0 && !W::WAKE_IS_NOOP {
            W::wake_all(&self.epoch);
        }
        granted as usize
    }
}

/// A registered waiter: deregisters it (`Condvar::leave`) if dropped, that is if its wait
/// unwinds before it took its decision under `inner` (which forgets this instead).
struct Registered<'c, W: Wait> {
    cv: &'c Condvar<W>,
    generation: u64,
}

impl<W: Wait> Drop for Registered<'_, W> {
    #[cold]
    fn drop(&mut self) {
        self.cv.leave(self.generation);
    }
}

impl<W: Wait> Default for Condvar<W> {
    fn default() -> Self {
        Self::with_wait()
    }
}

impl<W> fmt::Debug for Condvar<W> {
    /// Never blocks: shows how many threads wait (a snapshot).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Condvar")
            // ORDERING: Relaxed: a snapshot for display.
            .field("waiters", &self.waiters.load(Relaxed))
            .finish_non_exhaustive()
    }
}

#[cfg(all(test, not(baresync_loom)))]
mod tests {
    use super::*;
    use crate::SpinLock;
    use std::format;

    impl<W: Wait> Condvar<W> {
        /// `(new, old, grants)`; the caller makes sure nobody holds `inner`.
        fn counts(&self) -> (u32, u32, u32) {
            assert!(!self.inner.is_locked(), "the internal lock was left held");
            // SAFETY: nobody holds `inner` (checked above; the tests call this with no other
            // thread touching the condition variable).
            let c = unsafe { &*self.counts.get() };
            (c.new, c.old, c.grants)
        }
    }

    #[test]
    fn notify_without_waiters_is_a_noop() {
        let cv: Condvar = Condvar::new();
        assert!(!cv.notify_one());
        assert_eq!(cv.notify(3), 0);
        assert_eq!(cv.notify_all(), 0);
        assert_eq!(format!("{cv:?}"), "Condvar { waiters: 0, .. }");
    }

    #[test]
    fn timeout_leaves_no_trace() {
        let cv: Condvar = Condvar::new();
        let lock = SpinLock::new(1);
        let (g, timed_out) = cv.wait_until(lock.lock(), || true);
        let timed_out = timed_out.timed_out();
        assert!(timed_out);
        assert_eq!(*g, 1);
        drop(g);
        assert_eq!(cv.notify_all(), 0);
        assert_eq!(cv.counts(), (0, 0, 0));
    }

    #[test]
    fn wait_while_with_false_condition_does_not_wait() {
        let cv: Condvar = Condvar::new();
        let lock = SpinLock::new(5);
        let mut calls = 0;
        let g = cv.wait_while(lock.lock(), |v| {
            calls += 1;
            *v != 5
        });
        assert_eq!((*g, calls), (5, 1));
        drop(g);
        let (g, timed_out) = cv.wait_while_until(lock.lock(), || true, |v| *v != 5);
        let timed_out = timed_out.timed_out();
        assert!(!timed_out);
        drop(g);
        let (_g, timed_out) = cv.wait_while_until(lock.lock(), || true, |v| *v == 5);
        let timed_out = timed_out.timed_out();
        assert!(timed_out);
    }

    #[cfg(feature = "std")]
    #[test]
    fn reentrant_guard_held_once_waits_and_is_restored() {
        use crate::StdThreadId;
        let lock: ReentrantLock<(), StdThreadId> = ReentrantLock::new(());
        let cv: Condvar = Condvar::new();
        let (g, timed_out) = cv.wait_until(lock.lock(), || {
            // Released while waiting.
            assert!(!lock.is_owned_by_current() && !lock.is_locked());
            true
        });
        let timed_out = timed_out.timed_out();
        assert!(timed_out);
        assert_eq!(lock.lock_count(), 1);
        drop(g);
        assert!(!lock.is_locked());
        assert_eq!(cv.counts(), (0, 0, 0));
    }

    /// Held twice: refused before anything is registered or released; the unwind drops the
    /// guard that was passed in, so the count goes back by one.
    #[cfg(feature = "std")]
    #[test]
    fn reentrant_guard_held_twice_is_refused() {
        use crate::StdThreadId;
        let lock: ReentrantLock<(), StdThreadId> = ReentrantLock::new(());
        let cv: Condvar = Condvar::new();
        let outer = lock.lock();
        let r = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            cv.wait_until(lock.lock(), || panic!("the deadline ran"))
        }));
        assert!(r.is_err());
        assert_eq!(lock.lock_count(), 1);
        assert_eq!(cv.counts(), (0, 0, 0));
        assert!(!cv.inner.is_locked());
        drop(outer);
        assert!(!lock.is_locked());
    }

    /// A deadline that panics on its `k`-th call and never expires before.
    fn panics_on_call(k: usize) -> impl FnMut() -> bool {
        let mut n = 0;
        move || {
            n += 1;
            assert!(n != k, "injected");
            false
        }
    }

    fn catch<X>(f: impl FnOnce() -> X) -> bool {
        std::panic::catch_unwind(std::panic::AssertUnwindSafe(f)).is_err()
    }

    /// The waiter-count overflow panics after releasing the internal lock (before the fix, the
    /// panic came from inside `with_counts`, and the condition variable was dead for good).
    #[test]
    fn too_many_waiters_panics_with_the_internal_lock_free() {
        let cv: Condvar = Condvar::new();
        let lock = SpinLock::new(());
        // SAFETY: nobody else touches `cv`.
        unsafe { (*cv.counts.get()).new = u32::MAX };
        assert!(catch(|| cv.wait_until(lock.lock(), || true)));
        assert!(!lock.is_locked());
        assert_eq!(cv.counts(), (u32::MAX, 0, 0));
        // SAFETY: as above.
        unsafe { (*cv.counts.get()).new = 0 };
        let (_g, timed_out) = cv.wait_until(lock.lock(), || true);
        let timed_out = timed_out.timed_out();
        assert!(timed_out);
        assert_eq!(cv.counts(), (0, 0, 0));
    }

    /// A panicking deadline, new waiter (no notification yet), first and n-th call.
    #[test]
    fn unwind_of_a_new_waiter_deregisters() {
        let cv: Condvar = Condvar::new();
        let lock = SpinLock::new(());
        for k in [1, 4] {
            assert!(catch(|| cv.wait_until(lock.lock(), panics_on_call(k))));
            assert!(!lock.is_locked());
            assert_eq!(cv.counts(), (0, 0, 0));
            assert_eq!(cv.notify_all(), 0);
        }
    }

    /// Notified (by the deadline itself, so the race is deterministic), then the deadline
    /// panics before the grant is taken: the only old waiter uses its grant up.
    #[test]
    fn unwind_of_a_notified_waiter_uses_up_its_grant() {
        let cv: Condvar = Condvar::new();
        let lock = SpinLock::new(());
        assert!(catch(|| cv.wait_until(lock.lock(), || -> bool {
            assert!(cv.notify_one());
            panic!("injected")
        })));
        assert_eq!(cv.counts(), (0, 0, 0));
        assert_eq!(cv.notify_all(), 0);
    }

    /// Two old waiters, one grant (`grants < old`): the panicking one leaves the grant for the
    /// other, which then returns notified. The other is simulated by its counts: old, not yet
    /// woken.
    #[test]
    fn unwind_leaves_the_grant_to_another_old_waiter() {
        let cv: Condvar = Condvar::new();
        let lock = SpinLock::new(());
        // SAFETY: nobody else touches `cv`.
        unsafe { (*cv.counts.get()).new = 1 }; // the other waiter, registered earlier
        cv.waiters.store(1, Relaxed);
        assert!(catch(|| cv.wait_until(lock.lock(), || -> bool {
            assert!(cv.notify_one());
            panic!("injected")
        })));
        // The other waiter is old and holds the grant.
        assert_eq!(cv.counts(), (0, 1, 1));
        assert_eq!(cv.notify_all(), 0, "nobody is left without a grant");
    }

    /// The caller's `RawLock` panics when the wait takes it back, after a timeout and after
    /// a notification: the waiter left before, the counts are clean.
    #[test]
    fn panicking_relock_leaves_clean_counts() {
        use crate::raw::RawSpinLock;
        use core::cell::Cell;
        std::thread_local! {
            static ARMED: Cell<bool> = const { Cell::new(false) };
        }
        struct Panicky(RawSpinLock);
        // SAFETY: delegates to `RawSpinLock`; a panicking `lock` has acquired nothing.
        unsafe impl RawLock for Panicky {
            const INIT: Self = Panicky(RawSpinLock::new());
            fn lock(&self) {
                assert!(!ARMED.with(|a| a.replace(false)), "injected");
                self.0.lock();
            }
            fn try_lock(&self) -> bool {
                self.0.try_lock()
            }
            unsafe fn unlock(&self) {
                // SAFETY: forwarded from our caller.
                unsafe { self.0.unlock() }
            }
            fn is_locked(&self) -> bool {
                self.0.is_locked()
            }
        }
        let cv: Condvar = Condvar::new();
        let lock: Lock<Panicky, ()> = Lock::with_raw(());
        for notify in [false, true] {
            assert!(catch(|| cv.wait_until(lock.lock(), || {
                if notify {
                    assert!(cv.notify_one());
                }
                ARMED.with(|a| a.set(true));
                !notify
            })));
            assert!(!lock.is_locked());
            assert_eq!(cv.counts(), (0, 0, 0));
        }
    }

    /// 2^32 notifications while a waiter is descheduled bring the 32-bit epoch back to the
    /// value it registered in; it must still know it is old (before the fix it took itself
    /// for a new waiter, and its timeout underflowed `new`). Simulated from inside its
    /// deadline: every waiter so far becomes old, and the generation moves on by 2^32.
    #[test]
    fn waiter_descheduled_across_a_full_epoch_wrap() {
        let cv: Condvar = Condvar::new();
        let lock = SpinLock::new(());
        let (_g, timed_out) = cv.wait_until(lock.lock(), || {
            cv.with_counts(|c| {
                c.old += c.new;
                c.new = 0;
                c.generation += 1 << 32;
                // ORDERING: Relaxed: as in `notify_slow`.
                cv.epoch.store(c.generation as u32, Relaxed);
            });
            true
        });
        let timed_out = timed_out.timed_out();
        assert!(timed_out);
        assert_eq!(cv.counts(), (0, 0, 0));
    }

    /// The epoch driven past `u32::MAX` by real notifications, with a waiter registered
    /// before the wrap and notified after it, on one thread (from its deadline) and with
    /// threads.
    #[cfg(feature = "std")]
    #[test]
    fn epoch_wraps_with_waiters_across_it() {
        use crate::{Futex, Mutex};
        use std::sync::Arc;
        let cv: Condvar = Condvar::starting_at(u64::from(u32::MAX - 2));
        let lock = SpinLock::new(());
        for _ in 0..5 {
            // Registered in the current epoch, notified in the next.
            let (_g, timed_out) = cv.wait_until(lock.lock(), || !cv.notify_one());
            let timed_out = timed_out.timed_out();
            assert!(!timed_out);
        }
        // SAFETY: no other thread.
        let generation = unsafe { (*cv.counts.get()).generation };
        assert_eq!(generation, u64::from(u32::MAX) + 3);
        // ORDERING: Relaxed: no other thread.
        assert_eq!(cv.epoch.load(Relaxed), 2);
        assert_eq!(cv.counts(), (0, 0, 0));

        let shared = Arc::new((
            Mutex::<u32, Futex>::with_wait(0),
            Condvar::<Futex>::starting_at(u64::from(u32::MAX - 1)),
        ));
        let rounds = 4;
        let waiters: std::vec::Vec<_> = (0..2)
            .map(|_| {
                let shared = Arc::clone(&shared);
                std::thread::spawn(move || {
                    let (lock, cv) = &*shared;
                    for round in 0..rounds {
                        let g = cv.wait_while(lock.lock(), |n| *n / 2 == round);
                        drop(g);
                    }
                })
            })
            .collect();
        let (lock, cv) = &*shared;
        for _ in 0..rounds {
            let mut g = lock.lock();
            *g += 2;
            drop(g);
            cv.notify_all();
        }
        for w in waiters {
            w.join().unwrap();
        }
        assert_eq!(cv.notify_all(), 0);
        assert_eq!(cv.counts(), (0, 0, 0));
    }
}

#[cfg(all(test, baresync_loom))]
mod loom_wrap {
    use super::*;
    use crate::SpinLock;
    use loom::sync::Arc;

    /// A notification that takes the epoch from `u32::MAX` to 0 races a waiter registering
    /// just before or just after it: the waiter is released exactly when it should be (the
    /// model deadlocks if a wake-up is lost), and nothing is left registered.
    #[test]
    fn loom_condvar_epoch_wrap() {
        use std::sync::atomic::{AtomicBool, Ordering::SeqCst};
        // Over all executions: did the notification cross the wrap, did the waiter miss it.
        static WRAPPED: AtomicBool = AtomicBool::new(false);
        static NOT_WRAPPED: AtomicBool = AtomicBool::new(false);
        crate::sync::loom_model(|| {
            let shared = Arc::new((
                SpinLock::new(false),
                Condvar::<crate::Spin>::starting_at(u64::from(u32::MAX)),
            ));
            let waiter = {
                let shared = Arc::clone(&shared);
                loom::thread::spawn(move || {
                    let (lock, cv) = &*shared;
                    drop(cv.wait_while(lock.lock(), |ready| !*ready));
                })
            };
            let (lock, cv) = &*shared;
            *lock.lock() = true;
            let released = cv.notify_one();
            waiter.join().unwrap();
            assert_eq!(cv.notify_all(), 0);
            // SAFETY: the other thread has finished.
            let c = unsafe { &*cv.counts.get() };
            assert_eq!((c.new, c.old, c.grants), (0, 0, 0));
            // Granted: the generation crossed 2^32 and the epoch wrapped to 0.
            let wrapped = c.generation == 1 << 32;
            // ORDERING: Relaxed: the other thread has finished.
            assert_eq!(wrapped, cv.epoch.load(Relaxed) == 0);
            assert_eq!(wrapped, released);
            if wrapped { &WRAPPED } else { &NOT_WRAPPED }.store(true, SeqCst);
        });
        assert!(WRAPPED.load(SeqCst), "no execution crossed the wrap");
        assert!(
            NOT_WRAPPED.load(SeqCst),
            "no execution had the waiter see `ready` first"
        );
    }
}
