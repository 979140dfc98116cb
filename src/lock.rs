//! `Lock<R, T>`: data behind any raw lock, with an RAII guard.
//!
//! Written once for every algorithm (the `lock_api` design): the raw lock decides how threads
//! wait, `Lock` owns the data and hands out a [`LockGuard`] that unlocks when dropped.
//!
//! No poisoning: a panic while a guard is held drops the guard during unwinding, which
//! releases the lock, and the data stays accessible as the panicking thread left it. Code that
//! must not observe a half-finished update should keep its invariants intact across panics (or
//! abort on panic, as most firmware does).

use crate::raw::{
    raw_init, RawFairLock, RawLock, RawMcsLock, RawMutex, RawSpinLock, RawTicketLock,
};
use crate::sync::const_fn;
use crate::wait::Wait;
use crate::Deadline;
use core::cell::UnsafeCell;
use core::fmt;
use core::marker::PhantomData;
use core::ops::{Deref, DerefMut};

/// A value protected by the raw lock `R`.
///
/// Usually named through an alias: [`SpinLock<T>`], [`TicketLock<T, W>`] or [`Mutex<T, W>`].
///
/// # Examples
///
/// ```
/// use baresync::SpinLock;
///
/// static COUNTER: SpinLock<u32> = SpinLock::new(0);
///
/// let threads: Vec<_> = (0..4)
///     .map(|_| std::thread::spawn(|| *COUNTER.lock() += 1))
///     .collect();
/// for t in threads {
///     t.join().unwrap();
/// }
/// assert_eq!(*COUNTER.lock(), 4);
/// ```
#[repr(C)]
pub struct Lock<R, T: ?Sized> {
    raw: R,
    data: UnsafeCell<T>,
}

/// A test-and-test-and-set spin lock around a `T`: 1 byte of lock state, unfair, never sleeps
/// (with feature `std` a waiter yields its time slice once its backoff is spent).
///
/// # Examples
///
/// ```
/// use baresync::SpinLock;
///
/// static LOG_LEN: SpinLock<usize> = SpinLock::new(0);
/// *LOG_LEN.lock() += 10;
/// assert_eq!(*LOG_LEN.lock(), 10);
/// assert_eq!(core::mem::size_of::<SpinLock<()>>(), 1);
/// ```
pub type SpinLock<T> = Lock<RawSpinLock, T>;

/// A FIFO-fair ticket lock around a `T`; waiters behind the first wait through `W`
/// ([`FairDefault`](crate::wait::FairDefault): `Yield` with feature `std`, `Spin` without,
/// because a spinning FIFO lock collapses when threads outnumber cores).
///
/// # Examples
///
/// ```
/// use baresync::TicketLock;
///
/// static QUEUE_DEPTH: TicketLock<u32> = TicketLock::new(0);
/// *QUEUE_DEPTH.lock() += 1;
/// assert_eq!(*QUEUE_DEPTH.lock(), 1);
/// assert_eq!(core::mem::size_of::<TicketLock<()>>(), 8);
/// ```
pub type TicketLock<T, W = crate::wait::FairDefault> = Lock<RawTicketLock<W>, T>;

/// A lock around a `T` with a starvation bound that keeps its throughput when threads
/// outnumber cores: a free lock goes to whichever thread asks, but a queued waiter is bypassed
/// at most [`RawFairLock::MAX_BYPASSES`] times per waiter queued ahead of it (and the first
/// queued waiter, while it runs, only [`RawFairLock::GATE_AFTER`] times), and queued waiters
/// are served in order. Waiters wait through `W`
/// ([`FairDefault`](crate::wait::FairDefault): `Yield` with feature `std`, `Spin` without).
///
/// # Examples
///
/// ```
/// use baresync::FairLock;
///
/// static JOBS_DONE: FairLock<u32> = FairLock::new(0);
/// *JOBS_DONE.lock() += 1;
/// assert_eq!(*JOBS_DONE.lock(), 1);
/// assert_eq!(core::mem::size_of::<FairLock<()>>(), 12);
/// ```
pub type FairLock<T, W = crate::wait::FairDefault> = Lock<RawFairLock<W>, T>;

/// An MCS queue lock around a `T`: FIFO, and each waiter spins on its own cache line, so a
/// hand-off costs one cache-line transfer however many threads wait. For machines with many
/// cores and one thread per core (see `docs/many-cores.md`); waiters only spin (yielding once
/// their backoff is spent, with feature `std`).
///
/// # Examples
///
/// ```
/// use baresync::McsLock;
///
/// static HITS: McsLock<u64> = McsLock::new(0);
/// *HITS.lock() += 1;
/// assert_eq!(*HITS.lock(), 1);
/// assert_eq!(
///     core::mem::size_of::<McsLock<()>>(),
///     2 * core::mem::size_of::<usize>()
/// );
/// ```
pub type McsLock<T> = Lock<RawMcsLock, T>;

/// A three-state mutex around a `T` that waits through `W`
/// ([`DefaultWait`](crate::wait::DefaultWait): `Futex`, which sleeps, with feature `std`;
/// `Spin` without).
///
/// # Examples
///
/// ```
/// use baresync::Mutex;
///
/// static CONFIG: Mutex<[u8; 4]> = Mutex::new([0; 4]);
/// CONFIG.lock()[0] = 7;
/// assert_eq!(CONFIG.lock()[0], 7);
/// assert_eq!(core::mem::size_of::<Mutex<()>>(), 4);
/// ```
pub type Mutex<T, W = crate::wait::DefaultWait> = Lock<RawMutex<W>, T>;

// SAFETY: `Lock` can be sent to another thread with the value inside it when `T: Send`; the
// raw lock is plain atomics.
unsafe impl<R: RawLock + Send, T: ?Sized + Send> Send for Lock<R, T> {}
// SAFETY: sharing a `Lock` lets each thread obtain `&mut T` in turn (moving access to `T`
// between threads, hence `T: Send`), never two at once (the `RawLock` contract); `T: Sync` is
// not needed because no two threads see `&T` at the same time through the lock.
unsafe impl<R: RawLock + Sync, T: ?Sized + Send> Sync for Lock<R, T> {}

impl<T> Lock<RawSpinLock, T> {
    const_fn! {
        /// A new, unlocked [`SpinLock`] holding `value`; usable in a `static`.
        ///
        /// # Examples
        ///
        /// ```
        /// let lock = baresync::SpinLock::new(5); // no annotation needed
        /// assert_eq!(*lock.lock(), 5);
        /// ```
        #[inline]
        pub const fn new(value: T) -> Self {
            Lock { raw: raw_init!(RawSpinLock), data: UnsafeCell::new(value) }
        }
    }
}

impl<T> Lock<RawTicketLock, T> {
    const_fn! {
        /// A new, unlocked [`TicketLock`] holding `value` whose waiters use the default FIFO
        /// backend ([`FairDefault`](crate::wait::FairDefault)); usable in a `static`. Name
        /// another backend with [`with_wait`](Lock::with_wait).
        ///
        /// # Examples
        ///
        /// ```
        /// use baresync::TicketLock;
        ///
        /// let names = TicketLock::new(["a", "b"]); // no annotation needed
        /// assert_eq!(names.lock()[1], "b");
        /// ```
        #[inline]
        pub const fn new(value: T) -> Self {
            Lock { raw: raw_init!(RawTicketLock), data: UnsafeCell::new(value) }
        }
    }
}

impl<T> Lock<RawFairLock, T> {
    const_fn! {
        /// A new, unlocked [`FairLock`] holding `value` whose waiters use the default FIFO
        /// backend ([`FairDefault`](crate::wait::FairDefault)); usable in a `static`. Name
        /// another backend with [`with_wait`](Lock::with_wait).
        ///
        /// # Examples
        ///
        /// ```
        /// use baresync::FairLock;
        ///
        /// let jobs = FairLock::new(0u32); // no annotation needed
        /// *jobs.lock() += 1;
        /// assert_eq!(*jobs.lock(), 1);
        /// ```
        #[inline]
        pub const fn new(value: T) -> Self {
            Lock { raw: raw_init!(RawFairLock), data: UnsafeCell::new(value) }
        }
    }
}

impl<W: Wait, T> Lock<RawFairLock<W>, T> {
    const_fn! {
        /// A new, unlocked [`FairLock`] holding `value` whose waiters wait through the backend
        /// `W`, named by the type; usable in a `static`.
        ///
        /// # Examples
        ///
        /// ```
        /// use baresync::{FairLock, Spin};
        ///
        /// static SHARED: FairLock<u32, Spin> = FairLock::with_wait(0);
        /// *SHARED.lock() += 1;
        /// assert_eq!(*SHARED.lock(), 1);
        /// ```
        #[inline]
        pub const fn with_wait(value: T) -> Self {
            Lock { raw: raw_init!(RawFairLock<W>), data: UnsafeCell::new(value) }
        }
    }
}

impl<T> Lock<RawMcsLock, T> {
    const_fn! {
        /// A new, unlocked [`McsLock`] holding `value`; usable in a `static`.
        ///
        /// # Examples
        ///
        /// ```
        /// let lock = baresync::McsLock::new(5); // no annotation needed
        /// assert_eq!(*lock.lock(), 5);
        /// ```
        #[inline]
        pub const fn new(value: T) -> Self {
            Lock { raw: raw_init!(RawMcsLock), data: UnsafeCell::new(value) }
        }
    }
}

impl<T> Lock<RawMutex, T> {
    const_fn! {
        /// A new, unlocked [`Mutex`] holding `value` that waits through the default backend
        /// ([`DefaultWait`](crate::wait::DefaultWait)); usable in a `static`. Name another
        /// backend with [`with_wait`](Lock::with_wait).
        ///
        /// # Examples
        ///
        /// ```
        /// use baresync::Mutex;
        ///
        /// let m = Mutex::new(5); // no annotation needed: `Mutex<i32>`
        /// *m.lock() += 1;
        /// assert_eq!(*m.lock(), 6);
        /// ```
        #[inline]
        pub const fn new(value: T) -> Self {
            Lock { raw: raw_init!(RawMutex), data: UnsafeCell::new(value) }
        }
    }
}

impl<W: Wait, T> Lock<RawMutex<W>, T> {
    const_fn! {
        /// A new, unlocked [`Mutex`] holding `value` that waits through the backend `W`, named
        /// by the type; usable in a `static`.
        ///
        /// `Mutex::new` always builds the default backend (`rustc` does not use a type
        /// parameter's default to infer it, so one constructor cannot serve both).
        ///
        /// # Examples
        ///
        /// ```
        /// use baresync::{Mutex, Spin};
        ///
        /// static HOT: Mutex<u64, Spin> = Mutex::with_wait(0);
        /// *HOT.lock() += 1;
        /// assert_eq!(*HOT.lock(), 1);
        /// ```
        ///
        /// `Mutex::new` there does not compile (with feature `std`, where the default is `Futex`):
        ///
        /// ```compile_fail,E0308
        /// use baresync::{Mutex, Spin};
        ///
        /// static HOT: Mutex<u64, Spin> = Mutex::new(0);
        /// ```
        #[inline]
        pub const fn with_wait(value: T) -> Self {
            Lock { raw: raw_init!(RawMutex<W>), data: UnsafeCell::new(value) }
        }
    }
}

impl<W: Wait, T> Lock<RawTicketLock<W>, T> {
    const_fn! {
        /// A new, unlocked [`TicketLock`] holding `value` whose waiters wait through the
        /// backend `W`, named by the type; usable in a `static`.
        ///
        /// # Examples
        ///
        /// ```
        /// use baresync::{Spin, TicketLock};
        ///
        /// static TURNS: TicketLock<u32, Spin> = TicketLock::with_wait(0);
        /// *TURNS.lock() += 1;
        /// assert_eq!(*TURNS.lock(), 1);
        /// ```
        #[inline]
        pub const fn with_wait(value: T) -> Self {
            Lock { raw: raw_init!(RawTicketLock<W>), data: UnsafeCell::new(value) }
        }
    }
}

impl<R: RawLock, T> Lock<R, T> {
    const_fn! {
        /// A new, unlocked lock holding `value` over any raw lock `R`, named by the type;
        /// usable in a `static`. The aliases have shorter forms: [`SpinLock::new`],
        /// [`Mutex::new`], [`TicketLock::new`] and their `with_wait`.
        ///
        /// # Examples
        ///
        /// ```
        /// use baresync::{Lock, RawTicketLock, Spin};
        ///
        /// static NAMES: Lock<RawTicketLock<Spin>, [&str; 2]> = Lock::with_raw(["a", "b"]);
        /// assert_eq!(NAMES.lock()[1], "b");
        /// ```
        #[inline]
        pub const fn with_raw(value: T) -> Self {
            Lock { raw: raw_init!(R), data: UnsafeCell::new(value) }
        }
    }

    /// Consumes the lock and returns the value; no locking needed, the lock is owned.
    ///
    /// # Examples
    ///
    /// ```
    /// let lock = baresync::SpinLock::new(vec![1, 2]);
    /// assert_eq!(lock.into_inner(), vec![1, 2]);
    /// ```
    #[inline]
    pub fn into_inner(self) -> T {
        self.data.into_inner()
    }
}

impl<R: RawLock, T: ?Sized> Lock<R, T> {
    /// Acquires the lock, waiting as the raw lock `R` waits, and returns a guard that releases
    /// it when dropped.
    ///
    /// Locking twice from the same thread deadlocks (use a
    /// [`ReentrantLock`](crate::ReentrantLock) for that).
    ///
    /// # Examples
    ///
    /// ```
    /// use baresync::Mutex;
    ///
    /// static TOTAL: Mutex<u64> = Mutex::new(0);
    /// {
    ///     let mut total = TOTAL.lock();
    ///     *total += 5;
    /// } // unlocked here
    /// assert_eq!(*TOTAL.lock(), 5);
    /// ```
    #[inline]
    #[cfg_attr(all(feature = "lockdep", not(baresync_loom)), track_caller)]
    pub fn lock(&self) -> LockGuard<'_, R, T> {
        lockdep_hook! { crate::lockdep::before_acquire(crate::lockdep::key(self), R::DEBUG_NAME) }
        self.raw.lock();
        lockdep_hook! { crate::lockdep::acquired(crate::lockdep::key(self), R::DEBUG_NAME) }
        // SAFETY: the lock was just acquired by this thread.
        unsafe { LockGuard::new(self) }
    }

    /// Acquires the lock only if it is free right now; never waits.
    ///
    /// # Examples
    ///
    /// ```
    /// use baresync::SpinLock;
    ///
    /// static FLAG: SpinLock<bool> = SpinLock::new(false);
    /// let held = FLAG.lock();
    /// assert!(FLAG.try_lock().is_none());
    /// drop(held);
    /// assert!(FLAG.try_lock().is_some());
    /// ```
    #[inline]
    #[cfg_attr(all(feature = "lockdep", not(baresync_loom)), track_caller)]
    pub fn try_lock(&self) -> Option<LockGuard<'_, R, T>> {
        if self.raw.try_lock() {
            lockdep_hook! { crate::lockdep::acquired(crate::lockdep::key(self), R::DEBUG_NAME) }
            // SAFETY: the lock was just acquired by this thread.
            Some(unsafe { LockGuard::new(self) })
        } else {
            None
        }
    }

    /// Acquires the lock unless `deadline` expires first; `None` then, and the lock is left as
    /// it was.
    ///
    /// # Examples
    ///
    /// ```
    /// use baresync::Mutex;
    ///
    /// static STATE: Mutex<u8> = Mutex::new(0);
    /// let held = STATE.lock();
    /// let mut tries = 0;
    /// assert!(STATE.lock_until(|| { tries += 1; tries > 100 }).is_none());
    /// drop(held);
    /// assert!(STATE.lock_until(|| false).is_some());
    /// ```
    #[inline]
    #[cfg_attr(all(feature = "lockdep", not(baresync_loom)), track_caller)]
    pub fn lock_until(&self, mut deadline: impl Deadline) -> Option<LockGuard<'_, R, T>> {
        if self.raw.lock_until(&mut deadline) {
            lockdep_hook! { crate::lockdep::acquired(crate::lockdep::key(self), R::DEBUG_NAME) }
            // SAFETY: the lock was just acquired by this thread.
            Some(unsafe { LockGuard::new(self) })
        } else {
            None
        }
    }

    /// Acquires the lock unless `timeout` passes first. A timeout too large to represent
    /// (`Duration::MAX`) waits forever.
    ///
    /// Needs feature `std` (a default feature).
    ///
    /// # Examples
    ///
    /// ```
    /// use baresync::{Futex, Mutex};
    /// use std::time::Duration;
    ///
    /// let m: Mutex<u8, Futex> = Mutex::with_wait(0);
    /// let held = m.lock();
    /// assert!(m.lock_timeout(Duration::from_millis(10)).is_none());
    /// drop(held);
    /// assert!(m.lock_timeout(Duration::MAX).is_some());
    /// ```
    #[cfg(feature = "std")]
    #[cfg_attr(docsrs, doc(cfg(feature = "std")))]
    #[inline]
    #[cfg_attr(all(feature = "lockdep", not(baresync_loom)), track_caller)]
    pub fn lock_timeout(&self, timeout: core::time::Duration) -> Option<LockGuard<'_, R, T>> {
        self.lock_until(crate::deadline::Timeout::after(timeout))
    }

    /// Whether the lock is held right now (by anyone). A snapshot: it may change at once.
    ///
    /// # Examples
    ///
    /// ```
    /// let lock = baresync::SpinLock::new(());
    /// let guard = lock.lock();
    /// assert!(lock.is_locked());
    /// drop(guard);
    /// assert!(!lock.is_locked());
    /// ```
    #[inline]
    pub fn is_locked(&self) -> bool {
        self.raw.is_locked()
    }

    /// A mutable reference to the value; no locking needed, since `&mut self` proves no one
    /// else can hold the lock.
    ///
    /// # Examples
    ///
    /// ```
    /// let mut lock = baresync::SpinLock::new(1);
    /// *lock.get_mut() += 1;
    /// assert_eq!(*lock.lock(), 2);
    /// ```
    #[inline]
    pub fn get_mut(&mut self) -> &mut T {
        self.data.get_mut()
    }

    /// Releases the lock without a guard, for code that gave up its guard with
    /// `core::mem::forget` (across an FFI boundary, or from a context switch).
    ///
    /// # Safety
    ///
    /// The lock must be held by the current context through a guard that was forgotten, and no
    /// reference obtained through that guard may be used afterwards.
    ///
    /// # Examples
    ///
    /// ```
    /// let lock = baresync::SpinLock::new(0);
    /// core::mem::forget(lock.lock());
    /// assert!(lock.is_locked());
    /// // SAFETY: the guard above was forgotten and its reference is gone.
    /// unsafe { lock.force_unlock() };
    /// assert!(!lock.is_locked());
    /// ```
    #[inline]
    pub unsafe fn force_unlock(&self) {
        lockdep_hook! { crate::lockdep::released(crate::lockdep::key(self)) }
        // SAFETY: the caller guarantees the lock is held by this context and unused.
        unsafe { self.raw.unlock() }
    }

    /// The raw lock, for building on the state machine directly.
    ///
    /// # Examples
    ///
    /// ```
    /// use baresync::RawLock;
    ///
    /// let lock = baresync::SpinLock::new(());
    /// assert!(!lock.raw().is_locked());
    /// ```
    #[inline]
    pub fn raw(&self) -> &R {
        &self.raw
    }
}

impl<R: RawLock, T: Default> Default for Lock<R, T> {
    fn default() -> Self {
        Self::with_raw(T::default())
    }
}

impl<R: RawLock, T> From<T> for Lock<R, T> {
    fn from(value: T) -> Self {
        Self::with_raw(value)
    }
}

impl<R: RawLock, T: ?Sized + fmt::Debug> fmt::Debug for Lock<R, T> {
    /// Never blocks: shows the value if the lock is free right now, `<locked>` otherwise, under
    /// the alias's name ([`RawLock::DEBUG_NAME`]), as std's `Mutex { data: 5, .. }`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut d = f.debug_struct(R::DEBUG_NAME);
        match self.try_lock() {
            Some(guard) => d.field("data", &&*guard),
            None => d.field("data", &format_args!("<locked>")),
        };
        d.finish_non_exhaustive()
    }
}

/// Proof of holding a [`Lock`]: gives `&T` and `&mut T`, and releases the lock when dropped.
///
/// `!Send`: a raw lock is released by the thread that acquired it (some algorithms, and every
/// `IrqSafe` lock, depend on it).
///
/// ```compile_fail
/// let lock = std::sync::Arc::new(baresync::SpinLock::new(0));
/// let guard = lock.lock();
/// std::thread::spawn(move || drop(guard));
/// ```
///
/// # Examples
///
/// ```
/// use baresync::SpinLock;
///
/// static ITEMS: SpinLock<[u8; 3]> = SpinLock::new([0; 3]);
/// let mut items = ITEMS.lock();
/// items[1] = 9;
/// drop(items);
/// assert_eq!(ITEMS.lock()[1], 9);
/// ```
#[must_use = "if unused the lock is released at once"]
pub struct LockGuard<'a, R: RawLock, T: ?Sized> {
    lock: &'a Lock<R, T>,
    /// `!Send`, `Sync` only when `T: Sync` (see the impl below).
    _not_send: PhantomData<*const ()>,
}

// SAFETY: sharing a guard between threads shares `&T` only (`DerefMut` needs `&mut guard`).
unsafe impl<R: RawLock + Sync, T: ?Sized + Sync> Sync for LockGuard<'_, R, T> {}

impl<'a, R: RawLock, T: ?Sized> LockGuard<'a, R, T> {
    /// # Safety
    ///
    /// The current thread must hold `lock.raw`, and hand that ownership to the guard.
    #[inline]
    unsafe fn new(lock: &'a Lock<R, T>) -> Self {
        LockGuard {
            lock,
            _not_send: PhantomData,
        }
    }

    /// The lock this guard holds, e.g. to hand it to a condition variable.
    ///
    /// # Examples
    ///
    /// ```
    /// let lock = baresync::SpinLock::new(3);
    /// let guard = lock.lock();
    /// assert!(core::ptr::eq(baresync::LockGuard::lock(&guard), &lock));
    /// ```
    #[inline]
    pub fn lock(guard: &Self) -> &'a Lock<R, T> {
        guard.lock
    }
}

impl<R: RawLock, T: ?Sized> Deref for LockGuard<'_, R, T> {
    type Target = T;

    #[inline]
    fn deref(&self) -> &T {
        // SAFETY: the guard holds the lock, so no `&mut T` exists elsewhere.
        unsafe { &*self.lock.data.get() }
    }
}

impl<R: RawLock, T: ?Sized> DerefMut for LockGuard<'_, R, T> {
    #[inline]
    fn deref_mut(&mut self) -> &mut T {
        // SAFETY: the guard holds the lock and is borrowed mutably, so this is the only
        // reference to the data.
        unsafe { &mut *self.lock.data.get() }
    }
}

impl<R: RawLock, T: ?Sized> Drop for LockGuard<'_, R, T> {
    #[inline]
    fn drop(&mut self) {
        lockdep_hook! { crate::lockdep::released(crate::lockdep::key(self.lock)) }
        // SAFETY: the guard was created holding the lock and releases it exactly once, here.
        unsafe { self.lock.raw.unlock() }
    }
}

impl<R: RawLock, T: ?Sized + fmt::Debug> fmt::Debug for LockGuard<'_, R, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&**self, f)
    }
}

impl<R: RawLock, T: ?Sized + fmt::Display> fmt::Display for LockGuard<'_, R, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&**self, f)
    }
}

#[cfg(all(test, not(baresync_loom)))]
mod tests {
    use super::*;
    use std::format;

    #[test]
    fn debug_never_blocks() {
        let l = SpinLock::new(5);
        assert_eq!(format!("{l:?}"), "SpinLock { data: 5, .. }");
        let g = l.lock();
        assert_eq!(format!("{l:?}"), "SpinLock { data: <locked>, .. }");
        assert_eq!(format!("{g:?}"), "5");
    }

    /// Each alias shows under its own name, as std's `Mutex { data: 5, .. }`, and a raw lock
    /// that names nothing shows as `Lock`.
    #[test]
    fn debug_names_the_alias() {
        let m = Mutex::new([1, 2]);
        assert_eq!(format!("{m:?}"), "Mutex { data: [1, 2], .. }");
        let g = m.lock();
        assert_eq!(format!("{m:?}"), "Mutex { data: <locked>, .. }");
        drop(g);
        let t = TicketLock::new("x");
        assert_eq!(format!("{t:?}"), "TicketLock { data: \"x\", .. }");
        let _held = t.lock();
        assert_eq!(format!("{t:?}"), "TicketLock { data: <locked>, .. }");

        struct Plain(RawSpinLock);
        // SAFETY: forwards to `RawSpinLock`, which keeps the contract.
        unsafe impl RawLock for Plain {
            #[allow(clippy::declare_interior_mutable_const)]
            const INIT: Self = Plain(RawSpinLock::new());
            fn lock(&self) {
                self.0.lock();
            }
            fn try_lock(&self) -> bool {
                self.0.try_lock()
            }
            unsafe fn unlock(&self) {
                // SAFETY: the caller holds the lock (this method's contract).
                unsafe { self.0.unlock() }
            }
            fn is_locked(&self) -> bool {
                self.0.is_locked()
            }
        }
        let p: Lock<Plain, u8> = Lock::with_raw(3);
        assert_eq!(format!("{p:?}"), "Lock { data: 3, .. }");
    }

    #[test]
    fn get_mut_and_into_inner() {
        let mut l: Mutex<i32> = Mutex::new(1);
        *l.get_mut() = 2;
        assert_eq!(l.into_inner(), 2);
    }

    #[test]
    fn sizes() {
        assert_eq!(core::mem::size_of::<SpinLock<()>>(), 1);
        assert_eq!(core::mem::size_of::<Mutex<()>>(), 4);
        assert!(core::mem::size_of::<TicketLock<()>>() <= 8);
    }

    #[test]
    fn unsized_data() {
        let l: &SpinLock<[u8]> = &SpinLock::new([1u8, 2, 3]);
        assert_eq!(l.lock().len(), 3);
    }
}
