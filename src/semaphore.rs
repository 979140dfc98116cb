//! `Semaphore<W>` and `BoundedSemaphore<W>`: counting semaphores with RAII permits.
//!
//! Algorithm: one 32-bit word holds the count of available permits (bits 0–30) and a
//! "sleepers may exist" flag (bit 31), the semaphore counterpart of the three-state futex
//! mutex (Drepper, "Futexes Are Tricky", 2011). Acquiring `n` permits is one compare-and-swap
//! from a count `c >= n` to `c - n`, so a request is all or nothing: a waiter never holds part
//! of what it asked for, and two `acquire_many` calls cannot deadlock each other by each
//! holding half. Releasing is one compare-and-swap that adds the permits (checked against the
//! bound: never wraps) and clears the flag; only if the flag was set does it make a wake call.
//! A waiter spins briefly, then sets the flag and sleeps on the word through the [`Wait`]
//! backend `W`. With a backend whose waking is a no-op ([`Spin`](crate::Spin), `Yield`) the flag is never
//! set and releasing is a bare compare-and-swap.
//!
//! Guarantees:
//! - at most the initial count of permits (plus what was released beyond it) is held at any
//!   time; every acquire synchronizes with the releases whose permits it took, so what a
//!   holder wrote before releasing is visible to the next holder;
//! - **not fair**: a running thread can take permits ahead of a sleeper that was woken for
//!   them, and a waiter for many permits can be overtaken forever by waiters for one (the
//!   price of all-or-nothing without a queue). Use it for pools and throttling, not where
//!   starvation matters;
//! - progress: blocking. Acquire and release are each a compare-and-swap retried only when
//!   another thread changed the word (lock-free), but an acquirer waits for a release;
//! - more threads than cores: with [`Spin`](crate::Spin) a waiter burns its time slice while a descheduled
//!   holder keeps its permit; choose `Yield` or `Futex` then.
//!
//! `release(n)` wakes **every** sleeper (one `wake_all` call) when the flag says any may
//! exist: up to `n` of them get permits, the others go back to sleep. Waking one per permit
//! (baton passing, `wake_one` with the woken thread re-arming the flag) was rejected: a waiter
//! for several permits, or one whose deadline just expired, can absorb a wake-up it cannot
//! use, leaving permits free and sleepers asleep unless every such path passes the wake on.
//! The cost of the choice is a thundering herd when many threads sleep on few permits.

use crate::sync::atomic::{
    AtomicU32,
    Ordering::{Acquire, Relaxed, Release},
};
use crate::sync::const_fn;
use crate::wait::{wait_for, Backoff, DefaultWait, Forever, Wait};
use crate::Deadline;
use core::fmt;
use core::marker::PhantomData;

/// The available permits.
const COUNT: u32 = (1 << 31) - 1;
/// A waiter may be asleep on the word: the next release must wake (never set when
/// `W::WAKE_IS_NOOP`).
const SLEEPERS: u32 = 1 << 31;

/// The counter that [`Semaphore`] and [`BoundedSemaphore`] are made of, and the operations they
/// share: every way to acquire permits, and [`available`](Counter::available). Both types
/// dereference to it, so `sem.acquire()` works on either; it is not built on its own.
///
/// Written once for both: the two types differ only in their bound (the most a release may
/// take the count to) and in what a release past it does (`Semaphore::release` panics,
/// `BoundedSemaphore::release` returns [`BoundExceeded`]).
///
/// # Examples
///
/// ```
/// use baresync::{BoundedSemaphore, Semaphore};
///
/// let sem = Semaphore::new(2);
/// let bounded = BoundedSemaphore::new(2);
/// // The same operations on both:
/// let (a, b) = (sem.acquire(), bounded.acquire());
/// assert_eq!((sem.available(), bounded.available()), (1, 1));
/// drop((a, b));
/// ```
#[repr(C)]
pub struct Counter<W = DefaultWait> {
    /// bits 0–30: available permits · bit 31: sleepers may exist
    state: AtomicU32,
    /// bits 0–30: `MAX_PERMITS - bound`, where the bound is the largest count a release may
    /// produce ([`Semaphore::MAX_PERMITS`] for a `Semaphore`, the initial count for a
    /// `BoundedSemaphore`), stored as the distance from the maximum so that all-zero bytes are
    /// `Semaphore::new(0)` (see [`Shareable`](crate::shared::Shareable)) · bit 31
    /// ([`BOUNDED`]): a `BoundedSemaphore`, whose permits saturate at the bound instead of
    /// panicking (clear in all-zero bytes, whose bound is `MAX_PERMITS` anyway).
    slack: u32,
    _wait: PhantomData<fn() -> W>,
}

/// In [`Counter::slack`]: the counter belongs to a `BoundedSemaphore`.
const BOUNDED: u32 = 1 << 31;

impl<W: Wait> Counter<W> {
    const_fn! {
        #[inline]
        const fn new(permits: u32, bound: u32, bounded: bool) -> Self {
            assert!(
                permits <= COUNT,
                "semaphore permits above Semaphore::MAX_PERMITS"
            );
            let slack = COUNT - bound;
            let slack = if bounded { slack | BOUNDED } else { slack };
            Counter { state: AtomicU32::new(permits), slack, _wait: PhantomData }
        }
    }

    /// The largest count a release may produce.
    #[inline]
    fn limit(&self) -> u32 {
        COUNT - (self.slack & COUNT)
    }

    #[inline]
    fn permit(&self, permits: u32) -> Permit<'_, W> {
        Permit { core: self, permits }
    }

    /// Takes `n` permits if that many are available right now; never waits.
    #[inline]
    fn try_take(&self, n: u32) -> bool {
        // ORDERING: Relaxed: only the starting guess of the compare-and-swap below.
        let mut s = self.state.load(Relaxed);
        loop {
            if s & COUNT < n {
                return false;
            }
            // `s - n` keeps the SLEEPERS bit as it was: taking permits owes nobody a wake.
            // ORDERING: Acquire pairs with the Release compare-and-swap in `release`; every
            // read-modify-write in between continues that release sequence, so we see the
            // writes of whoever released the permits we take.
            match self.state.compare_exchange_weak(s, s - n, Acquire, Relaxed) {
                Ok(_) => return true,
                Err(seen) => s = seen,
            }
        }
    }

    /// Panics if `n` permits can never be available at once, so that waiting would be forever.
    #[inline]
    fn check_satisfiable(&self, n: u32) {
        assert!(
            n <= self.limit(),
            "acquiring more permits than the semaphore can ever hold"
        );
    }

    #[cold]
    fn acquire_slow(&self, n: u32) {
        self.acquire_slow_until(n, None::<&mut Forever>);
    }

    /// The slow path of `acquire_many` (no deadline) and `acquire_many_until`, written once;
    /// returns `false` only when the deadline expired.
    #[cold]
    fn acquire_slow_until<D: Deadline>(&self, n: u32, mut deadline: Option<&mut D>) -> bool {
        let mut backoff = Backoff::new();
        // ORDERING: Relaxed: the compare-and-swap in `try_take` is the acquire.
        let mut s = self.state.load(Relaxed);
        loop {
            if s & COUNT >= n {
                if self.try_take(n) {
                    return true;
                }
                // ORDERING: Relaxed, as above.
                s = self.state.load(Relaxed);
                continue;
            }
            let expected = if W::WAKE_IS_NOOP {
                // Nobody sleeps, so no flag: wait for the word to change and look again.
                s
            } else if !backoff.is_completed() {
                // Most holders release soon: spin a little before paying for a sleep.
                backoff.spin();
                // ORDERING: Relaxed, as above.
                s = self.state.load(Relaxed);
                continue;
            } else if s & SLEEPERS == 0 {
                // Announce a sleeper before sleeping. A release that comes after this
                // compare-and-swap reads the flag (both are read-modify-writes of this one
                // word) and wakes us; one that comes before makes the swap fail and we look
                // again.
                // ORDERING: Relaxed: the flag orders nothing; a read-modify-write continues
                // the release sequence of the last release, so later acquires still see it.
                match self
                    .state
                    .compare_exchange(s, s | SLEEPERS, Relaxed, Relaxed)
                {
                    Ok(_) => s | SLEEPERS,
                    Err(seen) => {
                        s = seen;
                        continue;
                    }
                }
            } else {
                s
            };
            if !wait_for::<W, D>(&self.state, expected, deadline.as_deref_mut()) {
                // Leaving the flag set is harmless: at worst one needless wake call.
                return false;
            }
            // ORDERING: Relaxed, as above.
            s = self.state.load(Relaxed);
        }
    }

    /// Adds `n` permits unless the count would exceed the bound; `Err(count seen)` then,
    /// and nothing changed.
    #[inline]
    fn add(&self, n: u32) -> Result<(), u32> {
        if n == 0 {
            return Ok(());
        }
        // ORDERING: Relaxed: only the starting guess of the compare-and-swap below.
        let mut s = self.state.load(Relaxed);
        loop {
            let count = s & COUNT;
            let new = match count.checked_add(n) {
                Some(new) if new <= self.limit() => new,
                _ => return Err(count),
            };
            // `new` has the SLEEPERS bit clear: we wake every sleeper below, and each that
            // cannot get permits sets the flag again before it sleeps again.
            // ORDERING: Release pairs with the Acquire compare-and-swap in `try_take`: what
            // the releasing thread did before happens-before what the next holder does.
            match self.state.compare_exchange_weak(s, new, Release, Relaxed) {
                Ok(_) => break,
                Err(seen) => s = seen,
            }
        }
        if !W::WAKE_IS_NOOP && s & SLEEPERS != 0 {
            self.wake_slow();
        }
        Ok(())
    }

    /// Adds `n` permits, capping the count at the bound (a permit's drop on a bounded
    /// semaphore someone over-released).
    fn add_saturating(&self, n: u32) {
        while let Err(count) = self.add(n) {
            let room = self.limit() - count;
            if room == 0 || self.add(room).is_ok() {
                return;
            }
        }
    }

    #[cold]
    fn wake_slow(&self) {
        // Every sleeper: waiters may want different numbers of permits, and a wake given to
        // one that cannot use it would be lost (see the module doc).
        W::wake_all(&self.state);
    }
}

impl<W: Wait> Counter<W> {
    /// Takes one permit, waiting through `W` until one is available.
    ///
    /// # Examples
    ///
    /// ```
    /// use baresync::Semaphore;
    ///
    /// static UART: Semaphore = Semaphore::new(1);
    /// {
    ///     let _permit = UART.acquire();
    ///     assert_eq!(UART.available(), 0);
    /// } // released here
    /// assert_eq!(UART.available(), 1);
    /// ```
    #[inline]
    #[cfg_attr(all(feature = "lockdep", not(baresync_loom)), track_caller)]
    pub fn acquire(&self) -> Permit<'_, W> {
        self.acquire_many(1)
    }

    /// Takes `n` permits at once, waiting until `n` are available together: never a part of
    /// them, so two threads asking for several permits cannot deadlock each holding some.
    ///
    /// A waiter for many permits can be overtaken by waiters for fewer (not fair).
    ///
    /// # Panics
    ///
    /// If `n` exceeds what the semaphore can ever hold ([`MAX_PERMITS`](Semaphore::MAX_PERMITS),
    /// or a [`BoundedSemaphore`]'s bound): it could never be satisfied.
    ///
    /// # Examples
    ///
    /// ```
    /// use baresync::Semaphore;
    ///
    /// static BUFFERS: Semaphore = Semaphore::new(3);
    /// let two = BUFFERS.acquire_many(2);
    /// assert_eq!(two.permits(), 2);
    /// assert!(BUFFERS.try_acquire_many(2).is_none());
    /// drop(two);
    /// assert_eq!(BUFFERS.available(), 3);
    /// ```
    #[inline]
    #[cfg_attr(all(feature = "lockdep", not(baresync_loom)), track_caller)]
    pub fn acquire_many(&self, n: u32) -> Permit<'_, W> {
        lockdep_hook! { crate::lockdep::before_acquire(crate::lockdep::key(self), "Semaphore") }
        if !self.try_take(n) {
            self.check_satisfiable(n);
            self.acquire_slow(n);
        }
        self.permit(n)
    }

    /// Takes one permit if one is available right now; never waits.
    ///
    /// # Examples
    ///
    /// ```
    /// use baresync::Semaphore;
    ///
    /// static ONE: Semaphore = Semaphore::new(1);
    /// let held = ONE.try_acquire().expect("a permit is free");
    /// assert!(ONE.try_acquire().is_none());
    /// drop(held);
    /// ```
    #[inline]
    pub fn try_acquire(&self) -> Option<Permit<'_, W>> {
        self.try_acquire_many(1)
    }

    /// Takes `n` permits if `n` are available right now; never waits, never takes fewer.
    ///
    /// # Examples
    ///
    /// ```
    /// use baresync::Semaphore;
    ///
    /// static SLOTS: Semaphore = Semaphore::new(2);
    /// assert!(SLOTS.try_acquire_many(3).is_none());
    /// assert_eq!(SLOTS.available(), 2, "nothing taken by the failed attempt");
    /// assert!(SLOTS.try_acquire_many(2).is_some());
    /// ```
    #[inline]
    pub fn try_acquire_many(&self, n: u32) -> Option<Permit<'_, W>> {
        self.try_take(n).then(|| self.permit(n))
    }

    /// Takes one permit unless `deadline` expires first; `None` then, and nothing is taken.
    ///
    /// # Examples
    ///
    /// ```
    /// use baresync::Semaphore;
    ///
    /// static SLOT: Semaphore = Semaphore::new(1);
    /// let held = SLOT.acquire();
    /// let mut polls = 0;
    /// assert!(SLOT.acquire_until(|| { polls += 1; polls > 100 }).is_none());
    /// drop(held);
    /// assert!(SLOT.acquire_until(|| true).is_some(), "a free permit is taken even at expiry");
    /// ```
    #[inline]
    pub fn acquire_until(&self, deadline: impl Deadline) -> Option<Permit<'_, W>> {
        self.acquire_many_until(1, deadline)
    }

    /// Takes `n` permits at once unless `deadline` expires first; `None` then, and nothing is
    /// taken.
    ///
    /// # Panics
    ///
    /// If `n` exceeds what the semaphore can ever hold ([`MAX_PERMITS`](Semaphore::MAX_PERMITS),
    /// or a [`BoundedSemaphore`]'s bound).
    ///
    /// # Examples
    ///
    /// ```
    /// use baresync::Semaphore;
    ///
    /// static SLOTS: Semaphore = Semaphore::new(2);
    /// let one = SLOTS.acquire();
    /// let mut polls = 0;
    /// assert!(SLOTS.acquire_many_until(2, || { polls += 1; polls > 100 }).is_none());
    /// drop(one);
    /// assert!(SLOTS.acquire_many_until(2, || false).is_some());
    /// ```
    #[inline]
    pub fn acquire_many_until(&self, n: u32, mut deadline: impl Deadline) -> Option<Permit<'_, W>> {
        if !self.try_take(n) {
            self.check_satisfiable(n);
            if !self.acquire_slow_until(n, Some(&mut deadline)) {
                return None;
            }
        }
        Some(self.permit(n))
    }

    /// Takes one permit unless `timeout` passes first. A timeout too large to represent
    /// (`Duration::MAX`) waits forever.
    ///
    /// Needs feature `std` (a default feature).
    ///
    /// # Examples
    ///
    /// ```
    /// use baresync::{Futex, Semaphore};
    /// use std::time::Duration;
    ///
    /// static SLOT: Semaphore<Futex> = Semaphore::with_wait(1);
    /// let held = SLOT.acquire();
    /// assert!(SLOT.acquire_timeout(Duration::from_millis(5)).is_none());
    /// drop(held);
    /// assert!(SLOT.acquire_timeout(Duration::MAX).is_some());
    /// ```
    #[cfg(feature = "std")]
    #[cfg_attr(docsrs, doc(cfg(feature = "std")))]
    #[inline]
    pub fn acquire_timeout(&self, timeout: core::time::Duration) -> Option<Permit<'_, W>> {
        self.acquire_until(crate::deadline::Timeout::after(timeout))
    }

    /// Takes `n` permits at once unless `timeout` passes first.
    ///
    /// Needs feature `std` (a default feature).
    ///
    /// # Panics
    ///
    /// If `n` exceeds what the semaphore can ever hold ([`MAX_PERMITS`](Semaphore::MAX_PERMITS),
    /// or a [`BoundedSemaphore`]'s bound).
    ///
    /// # Examples
    ///
    /// ```
    /// use baresync::{Futex, Semaphore};
    /// use std::time::Duration;
    ///
    /// static SLOTS: Semaphore<Futex> = Semaphore::with_wait(2);
    /// assert!(SLOTS.acquire_many_timeout(3, Duration::from_millis(5)).is_none());
    /// assert!(SLOTS.acquire_many_timeout(2, Duration::from_millis(5)).is_some());
    /// ```
    #[cfg(feature = "std")]
    #[cfg_attr(docsrs, doc(cfg(feature = "std")))]
    #[inline]
    pub fn acquire_many_timeout(
        &self,
        n: u32,
        timeout: core::time::Duration,
    ) -> Option<Permit<'_, W>> {
        self.acquire_many_until(n, crate::deadline::Timeout::after(timeout))
    }

    /// The number of permits available right now. A snapshot: it may change at once.
    ///
    /// # Examples
    ///
    /// ```
    /// let sem: baresync::Semaphore = baresync::Semaphore::new(5);
    /// let _p = sem.acquire_many(2);
    /// assert_eq!(sem.available(), 3);
    /// ```
    #[inline]
    pub fn available(&self) -> u32 {
        // ORDERING: Relaxed: a snapshot for the caller, which synchronizes with nothing.
        self.state.load(Relaxed) & COUNT
    }
}

/// Grants up to [`MAX_PERMITS`](Semaphore::MAX_PERMITS) permits from one counter; an
/// [`acquire`](Counter::acquire) waits (through `W`) until one is free and returns a
/// [`Permit`] that gives it back when dropped.
///
/// Python's `threading.Semaphore`, with RAII instead of `with`. 8 bytes, `const`
/// constructible, never allocates. Not fair: see the [module documentation](self).
///
/// Counts are `u32` (where [`Barrier::new`](crate::Barrier::new) takes a `usize`): the count
/// lives in the 32-bit word a [`Wait`] backend waits on, so no count above
/// [`MAX_PERMITS`](Semaphore::MAX_PERMITS) can exist, and the type says so rather than a `usize`
/// that would panic above it on every target.
///
/// # Examples
///
/// At most two threads inside at a time:
///
/// ```
/// use baresync::Semaphore;
/// use std::sync::atomic::{AtomicU32, Ordering::SeqCst};
///
/// static SLOTS: Semaphore = Semaphore::new(2);
/// static INSIDE: AtomicU32 = AtomicU32::new(0);
///
/// let threads: Vec<_> = (0..4)
///     .map(|_| {
///         std::thread::spawn(|| {
///             let _permit = SLOTS.acquire();
///             assert!(INSIDE.fetch_add(1, SeqCst) < 2);
///             INSIDE.fetch_sub(1, SeqCst);
///         })
///     })
///     .collect();
/// for t in threads {
///     t.join().unwrap();
/// }
/// assert_eq!(SLOTS.available(), 2);
/// ```
#[repr(C)]
pub struct Semaphore<W = DefaultWait> {
    core: Counter<W>,
}

/// A [`Semaphore`] whose count may never exceed its initial value: a
/// [`release`](BoundedSemaphore::release) that would take it there returns an error and
/// changes nothing.
///
/// Python's `threading.BoundedSemaphore`. The bound is on the count, not on who releases: any
/// thread may release, as long as the count stays within the bound. Its [`Permit`]s are the
/// same as a `Semaphore`'s.
///
/// # Examples
///
/// ```
/// use baresync::BoundedSemaphore;
///
/// static CONNECTIONS: BoundedSemaphore = BoundedSemaphore::new(1);
///
/// let permit = CONNECTIONS.acquire();
/// assert!(CONNECTIONS.try_acquire().is_none());
/// drop(permit);
/// // Releasing a permit nobody holds is a bug the bound catches:
/// assert!(CONNECTIONS.release(1).is_err());
/// assert_eq!(CONNECTIONS.available(), 1);
/// ```
#[repr(C)]
pub struct BoundedSemaphore<W = DefaultWait> {
    core: Counter<W>,
}

/// Permits taken from a [`Semaphore`] or [`BoundedSemaphore`]; they are given back when it is
/// dropped.
///
/// `Send`: a permit is a count, not an ownership of the caller's thread, so it may be released
/// by another thread (as Python allows), for instance handed to a worker together with the
/// job it admits. (Contrast [`LockGuard`](crate::LockGuard), which is `!Send`.)
///
/// Dropping a permit of a [`BoundedSemaphore`] whose count was meanwhile raised to the bound
/// by an unmatched [`release`](BoundedSemaphore::release) cannot report the error: the count
/// stays at the bound, as if that release had given back this permit.
///
/// # Panics
///
/// Dropping a [`Semaphore`]'s permit panics if the count would exceed
/// [`Semaphore::MAX_PERMITS`] (only possible after unmatched releases).
///
/// # Examples
///
/// ```
/// use baresync::Semaphore;
///
/// static JOBS: Semaphore = Semaphore::new(3);
///
/// let permit = JOBS.acquire_many(2);
/// assert_eq!(permit.permits(), 2);
/// assert_eq!(JOBS.available(), 1);
/// // Released by another thread: permits are Send.
/// std::thread::spawn(move || drop(permit)).join().unwrap();
/// assert_eq!(JOBS.available(), 3);
/// ```
#[must_use = "if unused the permits are released at once"]
pub struct Permit<'a, W: Wait = DefaultWait> {
    core: &'a Counter<W>,
    permits: u32,
}

/// The error of a [`BoundedSemaphore::release`] that would take the count above the bound.
///
/// # Examples
///
/// ```
/// use baresync::BoundedSemaphore;
///
/// let sem: BoundedSemaphore = BoundedSemaphore::new(2);
/// let err = sem.release(1).unwrap_err();
/// assert_eq!((err.available(), err.released(), err.bound()), (2, 1, 2));
/// assert_eq!(
///     err.to_string(),
///     "releasing 1 permit(s) would take the semaphore from 2 above its bound of 2"
/// );
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BoundExceeded {
    available: u32,
    released: u32,
    bound: u32,
}

impl BoundExceeded {
    /// The count the release found.
    ///
    /// # Examples
    ///
    /// ```
    /// let sem: baresync::BoundedSemaphore = baresync::BoundedSemaphore::new(1);
    /// assert_eq!(sem.release(1).unwrap_err().available(), 1);
    /// ```
    pub fn available(&self) -> u32 {
        self.available
    }

    /// How many permits the failed release tried to add.
    ///
    /// # Examples
    ///
    /// ```
    /// let sem: baresync::BoundedSemaphore = baresync::BoundedSemaphore::new(1);
    /// assert_eq!(sem.release(5).unwrap_err().released(), 5);
    /// ```
    pub fn released(&self) -> u32 {
        self.released
    }

    /// The bound: the semaphore's initial count.
    ///
    /// # Examples
    ///
    /// ```
    /// let sem: baresync::BoundedSemaphore = baresync::BoundedSemaphore::new(4);
    /// assert_eq!(sem.release(1).unwrap_err().bound(), 4);
    /// ```
    pub fn bound(&self) -> u32 {
        self.bound
    }
}

impl fmt::Display for BoundExceeded {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "releasing {} permit(s) would take the semaphore from {} above its bound of {}",
            self.released, self.available, self.bound
        )
    }
}

impl core::error::Error for BoundExceeded {}

impl Semaphore {
    const_fn! {
        /// A semaphore with `permits` permits available; usable in a `static`.
        ///
        /// # Panics
        ///
        /// If `permits` exceeds [`MAX_PERMITS`](Semaphore::MAX_PERMITS) (at compile time in a
        /// `static`).
        ///
        /// # Examples
        ///
        /// ```
        /// use baresync::{Futex, Semaphore};
        ///
        /// static DMA_CHANNELS: Semaphore = Semaphore::new(4);
        /// static WORKERS: Semaphore<Futex> = Semaphore::with_wait(8);
        /// assert_eq!(DMA_CHANNELS.available() + WORKERS.available(), 12);
        ///
        /// let local = Semaphore::new(2); // no annotation needed
        /// assert_eq!(local.available(), 2);
        /// ```
        #[inline]
        pub const fn new(permits: u32) -> Self {
            Self::with_wait(permits)
        }
    }
}

impl<W: Wait> Semaphore<W> {
    /// The largest count a semaphore can hold: 2³¹ − 1 (bit 31 of the state word is the
    /// sleeper flag).
    ///
    /// # Examples
    ///
    /// ```
    /// use baresync::Semaphore;
    ///
    /// let sem: Semaphore = Semaphore::new(Semaphore::<baresync::Spin>::MAX_PERMITS);
    /// assert_eq!(sem.available(), (1 << 31) - 1);
    /// ```
    pub const MAX_PERMITS: u32 = COUNT;

    const_fn! {
        /// Like [`new`](Semaphore::new), with the wait backend `W` named by the type;
        /// usable in a `static`. (`new` builds the default backend,
        /// [`DefaultWait`]: `rustc` does not use a type parameter's
        /// default to infer it, so one constructor cannot serve both.)
        ///
        /// # Panics
        ///
        /// As [`new`](Semaphore::new).
        ///
        /// # Examples
        ///
        /// ```
        /// use baresync::{Semaphore, Spin};
        ///
        /// static SLOTS: Semaphore<Spin> = Semaphore::with_wait(2);
        /// assert_eq!(SLOTS.available(), 2);
        /// ```
        #[inline]
        pub const fn with_wait(permits: u32) -> Self {
            Semaphore { core: Counter::new(permits, COUNT, false) }
        }
    }

    /// Adds `n` permits, without a [`Permit`] (a producer signalling items, or permits given
    /// up with [`Permit::forget`]). Wakes the sleepers, so up to `n` of them proceed.
    ///
    /// # Panics
    ///
    /// If the count would exceed [`MAX_PERMITS`](Semaphore::MAX_PERMITS); nothing is added
    /// then. (It never wraps.)
    ///
    /// # Examples
    ///
    /// ```
    /// use baresync::Semaphore;
    ///
    /// static ITEMS: Semaphore = Semaphore::new(0);
    /// ITEMS.release(2);
    /// ITEMS.acquire().forget();
    /// ITEMS.acquire().forget();
    /// assert!(ITEMS.try_acquire().is_none());
    /// ```
    #[inline]
    #[cfg_attr(all(feature = "lockdep", not(baresync_loom)), track_caller)]
    pub fn release(&self, n: u32) {
        lockdep_hook! { crate::lockdep::signal(crate::lockdep::key(&self.core), "Semaphore") }
        if self.core.add(n).is_err() {
            overflow();
        }
    }
}

#[cold]
#[track_caller]
fn overflow() -> ! {
    panic!("semaphore count overflow: releasing past Semaphore::MAX_PERMITS")
}

impl BoundedSemaphore {
    const_fn! {
        /// A semaphore with `permits` permits available, which is also the bound; usable in a
        /// `static`.
        ///
        /// # Panics
        ///
        /// If `permits` exceeds [`Semaphore::MAX_PERMITS`].
        ///
        /// # Examples
        ///
        /// ```
        /// use baresync::{BoundedSemaphore, Futex};
        ///
        /// static PORTS: BoundedSemaphore<Futex> = BoundedSemaphore::with_wait(2);
        /// assert_eq!(PORTS.bound(), 2);
        ///
        /// let local = BoundedSemaphore::new(2); // no annotation needed
        /// assert_eq!(local.bound(), 2);
        /// ```
        #[inline]
        pub const fn new(permits: u32) -> Self {
            Self::with_wait(permits)
        }
    }
}

impl<W: Wait> BoundedSemaphore<W> {
    const_fn! {
        /// Like [`new`](BoundedSemaphore::new), with the wait backend `W` named by the type;
        /// usable in a `static`. (`new` builds the default backend,
        /// [`DefaultWait`]: `rustc` does not use a type parameter's
        /// default to infer it, so one constructor cannot serve both.)
        ///
        /// # Panics
        ///
        /// As [`new`](BoundedSemaphore::new).
        ///
        /// # Examples
        ///
        /// ```
        /// use baresync::{BoundedSemaphore, Spin};
        ///
        /// static PORTS: BoundedSemaphore<Spin> = BoundedSemaphore::with_wait(2);
        /// assert_eq!(PORTS.bound(), 2);
        /// ```
        #[inline]
        pub const fn with_wait(permits: u32) -> Self {
            BoundedSemaphore { core: Counter::new(permits, permits, true) }
        }
    }

    /// The bound: the initial count, which the count never exceeds.
    ///
    /// # Examples
    ///
    /// ```
    /// let sem: baresync::BoundedSemaphore = baresync::BoundedSemaphore::new(3);
    /// assert_eq!(sem.bound(), 3);
    /// ```
    #[inline]
    pub fn bound(&self) -> u32 {
        self.core.limit()
    }

    /// Adds `n` permits without a [`Permit`], unless the count would exceed the
    /// [`bound`](BoundedSemaphore::bound). Wakes the sleepers, so up to `n` of them proceed.
    ///
    /// # Errors
    ///
    /// [`BoundExceeded`] if the count would go above the bound; nothing is added then (all or
    /// nothing, as with acquiring).
    ///
    /// # Examples
    ///
    /// ```
    /// use baresync::BoundedSemaphore;
    ///
    /// static TOKENS: BoundedSemaphore = BoundedSemaphore::new(2);
    /// TOKENS.acquire_many(2).forget();
    /// assert!(TOKENS.release(3).is_err());
    /// assert_eq!(TOKENS.available(), 0, "a failed release adds nothing");
    /// assert!(TOKENS.release(2).is_ok());
    /// assert_eq!(TOKENS.available(), 2);
    /// ```
    #[inline]
    #[cfg_attr(all(feature = "lockdep", not(baresync_loom)), track_caller)]
    pub fn release(&self, n: u32) -> Result<(), BoundExceeded> {
        lockdep_hook! { crate::lockdep::signal(crate::lockdep::key(&self.core), "Semaphore") }
        self.core.add(n).map_err(|available| BoundExceeded {
            available,
            released: n,
            bound: self.core.limit(),
        })
    }
}

impl<W: Wait> Permit<'_, W> {
    /// How many permits this holds (`n` for one from `acquire_many(n)`).
    ///
    /// # Examples
    ///
    /// ```
    /// let sem: baresync::Semaphore = baresync::Semaphore::new(4);
    /// assert_eq!(sem.acquire_many(3).permits(), 3);
    /// ```
    #[inline]
    pub fn permits(&self) -> u32 {
        self.permits
    }

    /// Gives up the permits without releasing them: the semaphore's count stays lower (until
    /// someone calls `release`).
    ///
    /// # Examples
    ///
    /// ```
    /// use baresync::Semaphore;
    ///
    /// static ONCE: Semaphore = Semaphore::new(1);
    /// ONCE.acquire().forget();
    /// assert_eq!(ONCE.available(), 0);
    /// ONCE.release(1);
    /// assert_eq!(ONCE.available(), 1);
    /// ```
    #[inline]
    pub fn forget(self) {
        core::mem::forget(self);
    }
}

impl<W: Wait> Drop for Permit<'_, W> {
    #[inline]
    fn drop(&mut self) {
        lockdep_hook! { crate::lockdep::signal(crate::lockdep::key(self.core), "Semaphore") }
        if self.core.add(self.permits).is_err() {
            if self.core.slack & BOUNDED != 0 {
                self.core.add_saturating(self.permits);
            } else {
                overflow();
            }
        }
    }
}

impl<W: Wait> core::ops::Deref for Semaphore<W> {
    type Target = Counter<W>;

    /// The operations shared with [`BoundedSemaphore`]: acquiring,
    /// [`available`](Counter::available).
    #[inline]
    fn deref(&self) -> &Counter<W> {
        &self.core
    }
}

impl<W: Wait> core::ops::Deref for BoundedSemaphore<W> {
    type Target = Counter<W>;

    /// The operations shared with [`Semaphore`]: acquiring, [`available`](Counter::available).
    #[inline]
    fn deref(&self) -> &Counter<W> {
        &self.core
    }
}

impl<W: Wait> fmt::Debug for Counter<W> {
    /// Never blocks: shows a snapshot of the available permits and the bound.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Counter")
            .field("available", &self.available())
            .field("bound", &self.limit())
            .finish_non_exhaustive()
    }
}

impl<W: Wait> fmt::Debug for Permit<'_, W> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Permit")
            .field("permits", &self.permits)
            .finish_non_exhaustive()
    }
}

impl<W: Wait> fmt::Debug for Semaphore<W> {
    /// Never blocks: shows a snapshot of the available permits.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Semaphore")
            .field("available", &self.available())
            .finish_non_exhaustive()
    }
}

impl<W: Wait> fmt::Debug for BoundedSemaphore<W> {
    /// Never blocks: shows a snapshot of the available permits and the bound.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("BoundedSemaphore")
            .field("available", &self.available())
            .field("bound", &self.bound())
            .finish_non_exhaustive()
    }
}

#[cfg(all(test, not(baresync_loom)))]
mod tests {
    use super::*;
    use crate::Spin;
    use std::format;
    use std::string::ToString;

    fn basics<W: Wait>() {
        let s = Semaphore::<W>::with_wait(3);
        assert_eq!(s.available(), 3);
        let a = s.acquire();
        let b = s.acquire_many(2);
        assert_eq!((a.permits(), b.permits(), s.available()), (1, 2, 0));
        assert!(s.try_acquire().is_none());
        let mut polls = 0;
        assert!(s
            .acquire_until(|| {
                polls += 1;
                polls > 3
            })
            .is_none());
        drop(b);
        assert_eq!(s.available(), 2);
        assert!(s.try_acquire_many(3).is_none());
        assert_eq!(s.available(), 2);
        let c = s.acquire_many_until(2, || true).expect("available at once");
        drop((a, c));
        assert_eq!(s.available(), 3);
        // Zero permits: always granted, changes nothing.
        let z = s.acquire_many(0);
        assert_eq!(s.available(), 3);
        drop(z);
        assert_eq!(s.available(), 3);
        s.release(0);
        assert_eq!(s.available(), 3);
    }

    #[test]
    fn spin_basics() {
        basics::<Spin>();
    }

    #[cfg(feature = "std")]
    #[test]
    fn sleeping_backend_basics() {
        basics::<crate::Futex>();
        basics::<crate::Yield>();
    }

    /// A waiter whose `W::wait` panics takes no permit; the sleeper flag it set costs the next
    /// release one wake call, which clears it: no ghost sleeper. Both semaphore types.
    #[test]
    fn panicking_wait_leaves_no_ghost_sleeper() {
        use crate::wait::testing::{must_panic, PanickyWait};
        let s = Semaphore::<PanickyWait>::with_wait(0);
        PanickyWait::arm(1);
        must_panic(|| s.acquire().forget());
        assert_eq!(s.core.state.load(Relaxed), SLEEPERS);
        PanickyWait::arm(1);
        must_panic(|| s.acquire_many_until(2, || false).map(Permit::forget));
        assert_eq!(s.core.state.load(Relaxed), SLEEPERS);
        s.release(1);
        assert_eq!(s.core.state.load(Relaxed), 1);
        assert_eq!(PanickyWait::wakes(), 1);
        for _ in 0..3 {
            drop(s.acquire());
        }
        s.release(1);
        assert_eq!(s.core.state.load(Relaxed), 2);
        assert_eq!(PanickyWait::wakes(), 1, "no wake call without a sleeper");

        let b = BoundedSemaphore::<PanickyWait>::with_wait(1);
        let held = b.acquire();
        PanickyWait::arm(1);
        must_panic(|| b.acquire_until(|| false).map(Permit::forget));
        assert_eq!(b.core.state.load(Relaxed), SLEEPERS);
        drop(held);
        assert_eq!(b.core.state.load(Relaxed), 1);
        assert_eq!(PanickyWait::wakes(), 2);
        drop(b.acquire());
        assert_eq!(PanickyWait::wakes(), 2);
    }

    #[cfg(feature = "std")]
    #[test]
    fn sleepers_flag_is_not_a_permit() {
        let s = Semaphore::<crate::Futex>::with_wait(0);
        s.core.state.store(SLEEPERS, Relaxed);
        assert_eq!(s.available(), 0);
        assert!(s.try_acquire().is_none());
        s.release(2);
        // Released with the flag cleared, the count intact.
        assert_eq!(s.core.state.load(Relaxed), 2);
        s.core.state.store(SLEEPERS | 1, Relaxed);
        let p = s.acquire();
        // Taking a permit leaves the flag as it was.
        assert_eq!(s.core.state.load(Relaxed), SLEEPERS);
        drop(p);
        assert_eq!(s.core.state.load(Relaxed), 1);
    }

    #[test]
    fn forget_keeps_the_count_low() {
        let s: Semaphore = Semaphore::new(2);
        s.acquire_many(2).forget();
        assert_eq!(s.available(), 0);
        s.release(2);
        assert_eq!(s.available(), 2);
    }

    #[test]
    fn release_to_the_maximum_then_overflow_panics_and_changes_nothing() {
        let s: Semaphore = Semaphore::new(Semaphore::<Spin>::MAX_PERMITS - 1);
        s.release(1);
        assert_eq!(s.available(), COUNT);
        let r = std::panic::catch_unwind(|| s.release(1));
        assert!(r.is_err());
        assert_eq!(s.available(), COUNT);
        let r = std::panic::catch_unwind(|| s.release(u32::MAX));
        assert!(r.is_err());
        assert_eq!(s.available(), COUNT);
    }

    #[test]
    fn overflowing_permit_drop_panics() {
        let s: Semaphore = Semaphore::new(1);
        let p = s.acquire();
        s.release(COUNT);
        let r = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| drop(p)));
        assert!(r.is_err());
        assert_eq!(s.available(), COUNT);
    }

    #[test]
    #[should_panic(expected = "above Semaphore::MAX_PERMITS")]
    fn new_above_the_maximum_panics() {
        let _ = Semaphore::<Spin>::with_wait(COUNT + 1);
    }

    #[test]
    #[should_panic(expected = "more permits than the semaphore can ever hold")]
    fn acquire_many_beyond_the_bound_panics() {
        let s: BoundedSemaphore = BoundedSemaphore::new(2);
        let _ = s.acquire_many(3);
    }

    #[test]
    fn try_acquire_many_beyond_the_maximum_is_none() {
        let s: Semaphore = Semaphore::new(1);
        assert!(s.try_acquire_many(u32::MAX).is_none());
        assert_eq!(s.available(), 1);
    }

    #[test]
    fn bounded_over_release_is_an_error_and_changes_nothing() {
        let s: BoundedSemaphore = BoundedSemaphore::new(3);
        let p = s.acquire_many(2);
        assert_eq!(
            s.release(3),
            Err(BoundExceeded {
                available: 1,
                released: 3,
                bound: 3
            })
        );
        assert_eq!(s.available(), 1);
        assert!(s.release(u32::MAX).is_err());
        assert_eq!(s.available(), 1);
        // The bound is on the count, not on who releases.
        assert_eq!(s.release(2), Ok(()));
        assert_eq!(s.available(), 3);
        // This permit's drop now finds the count at the bound: it stays there.
        drop(p);
        assert_eq!(s.available(), 3);
        assert!(s.release(0).is_ok());
    }

    #[test]
    fn bounded_permit_drop_saturates_partly() {
        let s: BoundedSemaphore = BoundedSemaphore::new(3);
        let p = s.acquire_many(3);
        s.release(2).unwrap();
        drop(p);
        assert_eq!(s.available(), 3);
    }

    #[test]
    fn error_is_an_error_and_displays() {
        let e = BoundExceeded {
            available: 1,
            released: 2,
            bound: 2,
        };
        let dynamic: &dyn core::error::Error = &e;
        assert_eq!(
            dynamic.to_string(),
            "releasing 2 permit(s) would take the semaphore from 1 above its bound of 2"
        );
    }

    #[test]
    fn debug_never_blocks() {
        let s: Semaphore = Semaphore::new(1);
        let p = s.acquire();
        assert_eq!(format!("{s:?}"), "Semaphore { available: 0, .. }");
        assert_eq!(format!("{p:?}"), "Permit { permits: 1, .. }");
        let b: BoundedSemaphore = BoundedSemaphore::new(2);
        assert_eq!(
            format!("{b:?}"),
            "BoundedSemaphore { available: 2, bound: 2, .. }"
        );
    }

    #[cfg(feature = "std")]
    #[test]
    fn sizes() {
        assert_eq!(core::mem::size_of::<Semaphore>(), 8);
        assert_eq!(core::mem::size_of::<BoundedSemaphore<crate::Futex>>(), 8);
    }

    #[cfg(feature = "std")]
    #[test]
    fn permits_are_send_and_sync() {
        fn send_sync<T: Send + Sync>() {}
        send_sync::<Permit<'static, Spin>>();
        send_sync::<Permit<'static, crate::Futex>>();
        send_sync::<Semaphore<crate::Futex>>();
        send_sync::<BoundedSemaphore>();
    }

    #[cfg(feature = "std")]
    #[test]
    fn timeouts_return() {
        let s: Semaphore<crate::Futex> = Semaphore::with_wait(0);
        assert!(s
            .acquire_timeout(core::time::Duration::from_millis(2))
            .is_none());
        assert!(s
            .acquire_many_timeout(2, core::time::Duration::ZERO)
            .is_none());
        s.release(1);
        assert!(s.acquire_timeout(core::time::Duration::MAX).is_some());
    }
}
