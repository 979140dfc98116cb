//! `ReadWriteLock<R, T>` and its alias [`RwLock<T, W>`]: data behind any raw reader-writer
//! lock, with read, write and upgradable-read guards.
//!
//! Written once for every algorithm, as [`Lock<R, T>`](crate::Lock) is: the raw lock
//! ([`RawRwLock`]) decides who may enter and how threads wait; `ReadWriteLock` owns the data
//! and hands out guards that unlock when dropped.
//!
//! What [`RwLock<T, W>`] (over [`RawRwMutex<W>`]) guarantees, and what not:
//! - **Writer preference, bounded both ways.** Once a writer waits, new readers wait too, so
//!   a stream of readers cannot starve it: it waits for the readers inside to leave. A reader
//!   that has waited through its polling budget (spins, then yields) registers and is let in
//!   by the next write unlock, together with every other registered reader, even when more
//!   writers wait: a writer stream cannot starve readers either. Writers among themselves have
//!   no order (as with [`Mutex`](crate::Mutex)).
//! - **Do not nest read locks** in one thread: the second `read` waits behind a waiting writer,
//!   which waits for the first read lock (std's `RwLock` has the same rule).
//! - **Upgradable read**: one holder at a time, alongside readers; it can become the writer
//!   ([`RwLockUpgradableReadGuard::upgrade`]) without letting another writer in first, which a
//!   read lock dropped and a write lock taken cannot promise.
//! - **Threads outnumbering cores**: with the default backend (`Futex` with `std`) waiters
//!   poll (spinning, then yielding their core) and then sleep, and a waiter holds others back
//!   only once it sleeps (readers) or while it waits for the readers inside (writers), so the
//!   lock keeps its throughput when oversubscribed. With `Spin` waiters spin without yielding:
//!   keep one thread per core.
//! - **No poisoning**: a panic while a guard is held releases the lock as the guard is
//!   dropped; the data is left as the panicking code left it.
//! - At most 65535 read locks at once (the upgradable one included); one more panics. (So may
//!   the 65535th, if it races an attempt that is panicking: the refused attempt is counted for
//!   a moment. The count never wraps.)
//! - **Not for data shared with an interrupt handler**: there is no interrupt-safe
//!   reader-writer lock (a read lock has many owners, each with its own interrupt state, which
//!   `IrqSafe` cannot keep); use `IrqLock` there. `docs/design.md` says more.

use crate::raw::{RawRwLock, RawRwMutex, RawSpinRwLock};
use crate::sync::const_fn;
use crate::wait::{DefaultWait, Wait};
use crate::Deadline;
use core::cell::UnsafeCell;
use core::fmt;
use core::marker::PhantomData;
use core::mem::ManuallyDrop;
use core::ops::{Deref, DerefMut};

/// `R::INIT`, or under loom `R::init()`.
#[cfg(not(baresync_loom))]
macro_rules! raw_rw_init {
    ($r:ty) => {
        <$r as RawRwLock>::INIT
    };
}
#[cfg(baresync_loom)]
macro_rules! raw_rw_init {
    ($r:ty) => {
        <$r as RawRwLock>::init()
    };
}

/// A value protected by the raw reader-writer lock `R`: many readers or one writer.
///
/// Usually named through the alias [`RwLock<T, W>`].
///
/// # Examples
///
/// ```
/// use baresync::{RawRwMutex, ReadWriteLock, Spin};
///
/// static TABLE: ReadWriteLock<RawRwMutex<Spin>, [u32; 4]> = ReadWriteLock::with_raw([0; 4]);
/// TABLE.write()[2] = 7;
/// assert_eq!(TABLE.read()[2], 7);
/// ```
#[repr(C)]
pub struct ReadWriteLock<R, T: ?Sized> {
    raw: R,
    data: UnsafeCell<T>,
}

/// A 4-byte reader-writer lock around a `T` that waits through `W`
/// ([`DefaultWait`]: `Futex`, which sleeps, with feature `std`; `Spin` without).
/// Writer-preferring, and every waiting reader gets in at the next write unlock (see the
/// [module docs](self)).
///
/// # Examples
///
/// ```
/// use baresync::RwLock;
///
/// static ROUTES: RwLock<[u16; 3]> = RwLock::new([80, 443, 0]);
/// assert_eq!(ROUTES.read()[1], 443);
/// ROUTES.write()[2] = 8080;
/// assert_eq!(*ROUTES.read(), [80, 443, 8080]);
/// assert_eq!(core::mem::size_of::<RwLock<()>>(), 4);
/// ```
pub type RwLock<T, W = DefaultWait> = ReadWriteLock<RawRwMutex<W>, T>;

/// A 4-byte spinning reader-writer lock around a `T`, over [`RawSpinRwLock`]: the lean one,
/// at about the code size of `spin`'s `RwLock`. Writer-preferring (a waiting writer holds new
/// readers back) but unfair and unbounded, and it never sleeps (with feature `std` a waiter
/// whose backoff is spent yields its core). [`RwLock`] bounds the waits and sleeps.
/// [`RawSpinRwLock`] lists what it promises.
///
/// # Examples
///
/// ```
/// use baresync::SpinRwLock;
///
/// static CONFIG: SpinRwLock<[u8; 2]> = SpinRwLock::new([1, 2]);
/// assert_eq!(CONFIG.read()[0], 1);
/// CONFIG.write()[1] = 9;
/// assert_eq!(*CONFIG.read(), [1, 9]);
/// assert_eq!(core::mem::size_of::<SpinRwLock<()>>(), 4);
/// ```
pub type SpinRwLock<T> = ReadWriteLock<RawSpinRwLock, T>;

// SAFETY: the lock can move to another thread with the value inside when `T: Send`; the raw
// lock is plain atomics.
unsafe impl<R: RawRwLock + Send, T: ?Sized + Send> Send for ReadWriteLock<R, T> {}
// SAFETY: sharing the lock gives `&T` to several threads at once (readers: `T: Sync`) and
// `&mut T` to one thread at a time (writers: `T: Send`), never both (the `RawRwLock` contract).
unsafe impl<R: RawRwLock + Sync, T: ?Sized + Send + Sync> Sync for ReadWriteLock<R, T> {}

/// The three guards, as [`ReadWriteLock`]'s acquisition and downgrade helpers build them.
trait Guard<'a, R: RawRwLock, T: ?Sized>: Sized {
    /// The kind of lock the guard holds, as lockdep names it.
    #[cfg(all(feature = "lockdep", not(baresync_loom)))]
    const LOCKDEP_KIND: &'static str;

    /// # Safety
    ///
    /// The current thread must hold this guard's kind of lock on `lock.raw` and hand it to
    /// the guard.
    unsafe fn new(lock: &'a ReadWriteLock<R, T>) -> Self;
}

macro_rules! impl_guard {
    ($guard:ident, $kind:ident) => {
        impl<'a, R: RawRwLock, T: ?Sized> Guard<'a, R, T> for $guard<'a, R, T> {
            #[cfg(all(feature = "lockdep", not(baresync_loom)))]
            const LOCKDEP_KIND: &'static str = crate::lockdep::$kind;

            #[inline]
            unsafe fn new(lock: &'a ReadWriteLock<R, T>) -> Self {
                $guard {
                    lock,
                    _not_send: PhantomData,
                }
            }
        }
    };
}

impl_guard!(RwLockReadGuard, RW_READ);
impl_guard!(RwLockWriteGuard, RW_WRITE);
impl_guard!(RwLockUpgradableReadGuard, RW_UPGRADABLE);

impl<T> ReadWriteLock<RawRwMutex<DefaultWait>, T> {
    const_fn! {
        /// A new, unlocked lock holding `value`, waiting through the default backend; usable in
        /// a `static`. [`with_wait`](ReadWriteLock::with_wait) names another backend.
        ///
        /// # Examples
        ///
        /// ```
        /// use baresync::RwLock;
        ///
        /// let lock = RwLock::new(5);
        /// assert_eq!(*lock.read(), 5);
        /// ```
        #[inline]
        pub const fn new(value: T) -> Self {
            Self::with_raw(value)
        }
    }
}

impl<T> ReadWriteLock<RawSpinRwLock, T> {
    const_fn! {
        /// A new, unlocked [`SpinRwLock`] holding `value`; usable in a `static`.
        ///
        /// # Examples
        ///
        /// ```
        /// let lock = baresync::SpinRwLock::new(5); // no annotation needed
        /// assert_eq!(*lock.read(), 5);
        /// ```
        #[inline]
        pub const fn new(value: T) -> Self {
            Self::with_raw(value)
        }
    }
}

impl<W: Wait, T> ReadWriteLock<RawRwMutex<W>, T> {
    const_fn! {
        /// A new, unlocked lock holding `value` that waits through `W`; usable in a `static`.
        ///
        /// # Examples
        ///
        /// ```
        /// use baresync::{RwLock, Spin};
        ///
        /// static HOT: RwLock<u64, Spin> = RwLock::with_wait(0);
        /// *HOT.write() += 1;
        /// assert_eq!(*HOT.read(), 1);
        /// ```
        #[inline]
        pub const fn with_wait(value: T) -> Self {
            Self::with_raw(value)
        }
    }
}

impl<R: RawRwLock, T> ReadWriteLock<R, T> {
    const_fn! {
        /// A new, unlocked lock holding `value` over any raw reader-writer lock `R`.
        ///
        /// # Examples
        ///
        /// ```
        /// use baresync::{RawRwMutex, ReadWriteLock, Spin};
        ///
        /// let lock: ReadWriteLock<RawRwMutex<Spin>, _> = ReadWriteLock::with_raw("a");
        /// assert_eq!(*lock.read(), "a");
        /// ```
        #[inline]
        pub const fn with_raw(value: T) -> Self {
            ReadWriteLock { raw: raw_rw_init!(R), data: UnsafeCell::new(value) }
        }
    }

    /// Consumes the lock and returns the value; no locking needed, the lock is owned.
    ///
    /// # Examples
    ///
    /// ```
    /// let lock = baresync::RwLock::new(vec![1, 2]);
    /// assert_eq!(lock.into_inner(), vec![1, 2]);
    /// ```
    #[inline]
    pub fn into_inner(self) -> T {
        self.data.into_inner()
    }
}

impl<R: RawRwLock, T: ?Sized> ReadWriteLock<R, T> {
    /// Acquires a read lock, waiting while a writer holds the lock or waits for it.
    ///
    /// Do not call it while this thread already holds a read lock on the same lock: a writer
    /// waiting in between makes it wait forever.
    ///
    /// # Panics
    ///
    /// If 65535 read locks are held already (with [`RwLock`]).
    ///
    /// # Examples
    ///
    /// ```
    /// let lock = baresync::RwLock::new(1);
    /// let a = lock.read();
    /// assert!(lock.try_read().is_some()); // readers share
    /// assert_eq!(*a, 1);
    /// ```
    #[inline]
    #[cfg_attr(all(feature = "lockdep", not(baresync_loom)), track_caller)]
    pub fn read(&self) -> RwLockReadGuard<'_, R, T> {
        // SAFETY: `lock_shared` returns holding a read lock, the kind the guard holds.
        unsafe { self.acquire_or_wait(R::lock_shared) }
    }

    /// Acquires a read lock if that is possible right now; never waits.
    ///
    /// # Panics
    ///
    /// As [`read`](ReadWriteLock::read).
    ///
    /// # Examples
    ///
    /// ```
    /// let lock = baresync::RwLock::new(1);
    /// let w = lock.write();
    /// assert!(lock.try_read().is_none());
    /// drop(w);
    /// assert!(lock.try_read().is_some());
    /// ```
    #[inline]
    #[cfg_attr(all(feature = "lockdep", not(baresync_loom)), track_caller)]
    pub fn try_read(&self) -> Option<RwLockReadGuard<'_, R, T>> {
        // SAFETY: `try_lock_shared` returns `true` only holding a read lock.
        unsafe { self.acquire_if(R::try_lock_shared) }
    }

    /// Acquires a read lock unless `deadline` expires first; `None` then, and the lock is left
    /// as it was.
    ///
    /// # Panics
    ///
    /// As [`read`](ReadWriteLock::read), and if `deadline` panics (the lock is left as it was).
    ///
    /// # Examples
    ///
    /// ```
    /// let lock = baresync::RwLock::new(1);
    /// let w = lock.write();
    /// let mut polls = 0;
    /// assert!(lock.read_until(|| { polls += 1; polls > 100 }).is_none());
    /// drop(w);
    /// assert!(lock.read_until(|| false).is_some());
    /// ```
    #[inline]
    #[cfg_attr(all(feature = "lockdep", not(baresync_loom)), track_caller)]
    pub fn read_until(&self, mut deadline: impl Deadline) -> Option<RwLockReadGuard<'_, R, T>> {
        // SAFETY: `lock_shared_until` returns `true` only holding a read lock.
        unsafe { self.acquire_if(|raw| raw.lock_shared_until(&mut deadline)) }
    }

    /// Acquires a read lock unless `timeout` passes first. A timeout too large to represent
    /// (`Duration::MAX`) waits forever.
    ///
    /// Needs feature `std` (a default feature).
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    ///
    /// let lock = baresync::RwLock::new(1);
    /// let w = lock.write();
    /// assert!(lock.read_timeout(Duration::from_millis(5)).is_none());
    /// drop(w);
    /// assert!(lock.read_timeout(Duration::MAX).is_some());
    /// ```
    #[cfg(feature = "std")]
    #[cfg_attr(docsrs, doc(cfg(feature = "std")))]
    #[inline]
    #[cfg_attr(all(feature = "lockdep", not(baresync_loom)), track_caller)]
    pub fn read_timeout(&self, timeout: core::time::Duration) -> Option<RwLockReadGuard<'_, R, T>> {
        self.read_until(crate::deadline::Timeout::after(timeout))
    }

    /// Acquires the write lock, waiting for every reader and writer to leave.
    ///
    /// # Examples
    ///
    /// ```
    /// static COUNT: baresync::RwLock<u32> = baresync::RwLock::new(0);
    /// *COUNT.write() += 1;
    /// assert_eq!(*COUNT.read(), 1);
    /// ```
    #[inline]
    #[cfg_attr(all(feature = "lockdep", not(baresync_loom)), track_caller)]
    pub fn write(&self) -> RwLockWriteGuard<'_, R, T> {
        // SAFETY: `lock_exclusive` returns holding the write lock, the kind the guard holds.
        unsafe { self.acquire_or_wait(R::lock_exclusive) }
    }

    /// Acquires the write lock if it is free right now; never waits.
    ///
    /// # Examples
    ///
    /// ```
    /// let lock = baresync::RwLock::new(1);
    /// let r = lock.read();
    /// assert!(lock.try_write().is_none());
    /// drop(r);
    /// assert!(lock.try_write().is_some());
    /// ```
    #[inline]
    #[cfg_attr(all(feature = "lockdep", not(baresync_loom)), track_caller)]
    pub fn try_write(&self) -> Option<RwLockWriteGuard<'_, R, T>> {
        // SAFETY: `try_lock_exclusive` returns `true` only holding the write lock.
        unsafe { self.acquire_if(R::try_lock_exclusive) }
    }

    /// Acquires the write lock unless `deadline` expires first; `None` then, and the lock is
    /// left as it was.
    ///
    /// # Panics
    ///
    /// If `deadline` panics (the lock is left as it was).
    ///
    /// # Examples
    ///
    /// ```
    /// let lock = baresync::RwLock::new(1);
    /// let r = lock.read();
    /// assert!(lock.write_until(|| true).is_none());
    /// drop(r);
    /// assert!(lock.write_until(|| false).is_some());
    /// ```
    #[inline]
    #[cfg_attr(all(feature = "lockdep", not(baresync_loom)), track_caller)]
    pub fn write_until(&self, mut deadline: impl Deadline) -> Option<RwLockWriteGuard<'_, R, T>> {
        // SAFETY: `lock_exclusive_until` returns `true` only holding the write lock.
        unsafe { self.acquire_if(|raw| raw.lock_exclusive_until(&mut deadline)) }
    }

    /// Acquires the write lock unless `timeout` passes first. A timeout too large to represent
    /// (`Duration::MAX`) waits forever.
    ///
    /// Needs feature `std` (a default feature).
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    ///
    /// let lock = baresync::RwLock::new(1);
    /// let r = lock.read();
    /// assert!(lock.write_timeout(Duration::from_millis(5)).is_none());
    /// drop(r);
    /// assert!(lock.write_timeout(Duration::MAX).is_some());
    /// ```
    #[cfg(feature = "std")]
    #[cfg_attr(docsrs, doc(cfg(feature = "std")))]
    #[inline]
    #[cfg_attr(all(feature = "lockdep", not(baresync_loom)), track_caller)]
    pub fn write_timeout(
        &self,
        timeout: core::time::Duration,
    ) -> Option<RwLockWriteGuard<'_, R, T>> {
        self.write_until(crate::deadline::Timeout::after(timeout))
    }

    /// Acquires the upgradable read lock: a read lock that excludes writers and other
    /// upgradable readers (not plain readers) and can become the write lock.
    ///
    /// # Panics
    ///
    /// As [`read`](ReadWriteLock::read).
    ///
    /// # Examples
    ///
    /// ```
    /// use baresync::{RwLock, RwLockUpgradableReadGuard};
    ///
    /// let lock = RwLock::new(0);
    /// let u = lock.upgradable_read();
    /// if *u == 0 {
    ///     let mut w = RwLockUpgradableReadGuard::upgrade(u);
    ///     *w = 1;
    /// }
    /// assert_eq!(*lock.read(), 1);
    /// ```
    #[inline]
    #[cfg_attr(all(feature = "lockdep", not(baresync_loom)), track_caller)]
    pub fn upgradable_read(&self) -> RwLockUpgradableReadGuard<'_, R, T> {
        // SAFETY: `lock_upgradable` returns holding the upgradable lock, the guard's kind.
        unsafe { self.acquire_or_wait(R::lock_upgradable) }
    }

    /// Acquires the upgradable read lock if that is possible right now; never waits.
    ///
    /// # Panics
    ///
    /// As [`read`](ReadWriteLock::read).
    ///
    /// # Examples
    ///
    /// ```
    /// let lock = baresync::RwLock::new(0);
    /// let u = lock.upgradable_read();
    /// assert!(lock.try_upgradable_read().is_none()); // one at a time
    /// assert!(lock.try_read().is_some()); // readers still enter
    /// drop(u);
    /// ```
    #[inline]
    #[cfg_attr(all(feature = "lockdep", not(baresync_loom)), track_caller)]
    pub fn try_upgradable_read(&self) -> Option<RwLockUpgradableReadGuard<'_, R, T>> {
        // SAFETY: `try_lock_upgradable` returns `true` only holding the upgradable lock.
        unsafe { self.acquire_if(R::try_lock_upgradable) }
    }

    /// Acquires the upgradable read lock unless `deadline` expires first; `None` then.
    ///
    /// # Panics
    ///
    /// As [`read`](ReadWriteLock::read), and if `deadline` panics (the lock is left as it was).
    ///
    /// # Examples
    ///
    /// ```
    /// let lock = baresync::RwLock::new(0);
    /// let u = lock.upgradable_read();
    /// assert!(lock.upgradable_read_until(|| true).is_none());
    /// drop(u);
    /// assert!(lock.upgradable_read_until(|| false).is_some());
    /// ```
    #[inline]
    #[cfg_attr(all(feature = "lockdep", not(baresync_loom)), track_caller)]
    pub fn upgradable_read_until(
        &self,
        mut deadline: impl Deadline,
    ) -> Option<RwLockUpgradableReadGuard<'_, R, T>> {
        // SAFETY: `lock_upgradable_until` returns `true` only holding the upgradable lock.
        unsafe { self.acquire_if(|raw| raw.lock_upgradable_until(&mut deadline)) }
    }

    /// Acquires the upgradable read lock unless `timeout` passes first.
    ///
    /// Needs feature `std` (a default feature).
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    ///
    /// let lock = baresync::RwLock::new(0);
    /// let u = lock.upgradable_read();
    /// assert!(lock.upgradable_read_timeout(Duration::from_millis(5)).is_none());
    /// drop(u);
    /// assert!(lock.upgradable_read_timeout(Duration::MAX).is_some());
    /// ```
    #[cfg(feature = "std")]
    #[cfg_attr(docsrs, doc(cfg(feature = "std")))]
    #[inline]
    #[cfg_attr(all(feature = "lockdep", not(baresync_loom)), track_caller)]
    pub fn upgradable_read_timeout(
        &self,
        timeout: core::time::Duration,
    ) -> Option<RwLockUpgradableReadGuard<'_, R, T>> {
        self.upgradable_read_until(crate::deadline::Timeout::after(timeout))
    }

    /// Takes a lock through `acquire` (a raw call that waits as long as it takes) and returns
    /// its guard; lockdep checks the order first and records the acquisition. The one place the
    /// blocking acquisitions are written.
    ///
    /// # Safety
    ///
    /// `acquire` must return holding a lock of the kind `G` holds, for this thread.
    #[inline]
    #[cfg_attr(all(feature = "lockdep", not(baresync_loom)), track_caller)]
    unsafe fn acquire_or_wait<'a, G: Guard<'a, R, T>>(&'a self, acquire: impl FnOnce(&R)) -> G {
        lockdep_hook! { crate::lockdep::before_acquire(crate::lockdep::key(self), G::LOCKDEP_KIND) }
        acquire(&self.raw);
        lockdep_hook! { crate::lockdep::acquired(crate::lockdep::key(self), G::LOCKDEP_KIND) }
        // SAFETY: `acquire` returned holding the guard's kind of lock (the caller's promise).
        unsafe { G::new(self) }
    }

    /// Takes a lock through `acquire` (a raw call that may give up: `try_*` or `*_until`) and
    /// returns its guard if it did; lockdep records the acquisition. The one place the
    /// acquisitions that may fail are written.
    ///
    /// # Safety
    ///
    /// `acquire` must return `true` only holding a lock of the kind `G` holds, for this thread.
    #[inline]
    #[cfg_attr(all(feature = "lockdep", not(baresync_loom)), track_caller)]
    unsafe fn acquire_if<'a, G: Guard<'a, R, T>>(
        &'a self,
        acquire: impl FnOnce(&R) -> bool,
    ) -> Option<G> {
        if !acquire(&self.raw) {
            return None;
        }
        lockdep_hook! { crate::lockdep::acquired(crate::lockdep::key(self), G::LOCKDEP_KIND) }
        // SAFETY: `acquire` returned `true`, holding the guard's kind of lock.
        Some(unsafe { G::new(self) })
    }

    /// Turns the lock a forgotten guard held into the weaker lock of the guard `G` through the
    /// raw downgrade `downgrade`, and returns that guard.
    ///
    /// The guard is built *before* the raw call: a downgrade that panics does so after taking
    /// effect (the [`RawRwLock`] contract; with `RawRwMutex`, in a wake call), and the unwind
    /// then drops the new guard, which releases the weaker lock instead of leaking it. The
    /// downgrades of both guards go through here, so the rule is kept in one place.
    ///
    /// # Safety
    ///
    /// This thread must hold the lock `downgrade` expects (its guard forgotten), and
    /// `downgrade` must leave it holding a lock of the kind `G` holds.
    #[inline]
    unsafe fn downgrade_into<'a, G: Guard<'a, R, T>>(&'a self, downgrade: impl FnOnce(&R)) -> G {
        // SAFETY: once `downgrade` has run, this thread holds the guard's kind of lock (the
        // caller's promise); built first for the unwind, as said above.
        let guard = unsafe { G::new(self) };
        downgrade(&self.raw);
        guard
    }

    /// Whether any lock (read, upgradable or write) is held right now. A snapshot.
    ///
    /// # Examples
    ///
    /// ```
    /// let lock = baresync::RwLock::new(());
    /// let r = lock.read();
    /// assert!(lock.is_locked() && !lock.is_locked_exclusive());
    /// drop(r);
    /// assert!(!lock.is_locked());
    /// ```
    #[inline]
    pub fn is_locked(&self) -> bool {
        self.raw.is_locked()
    }

    /// Whether the write lock is held right now. A snapshot.
    ///
    /// # Examples
    ///
    /// ```
    /// let lock = baresync::RwLock::new(());
    /// let w = lock.write();
    /// assert!(lock.is_locked_exclusive());
    /// drop(w);
    /// ```
    #[inline]
    pub fn is_locked_exclusive(&self) -> bool {
        self.raw.is_locked_exclusive()
    }

    /// A mutable reference to the value; no locking needed, since `&mut self` proves no one
    /// else can hold the lock.
    ///
    /// # Examples
    ///
    /// ```
    /// let mut lock = baresync::RwLock::new(1);
    /// *lock.get_mut() += 1;
    /// assert_eq!(*lock.read(), 2);
    /// ```
    #[inline]
    pub fn get_mut(&mut self) -> &mut T {
        self.data.get_mut()
    }

    /// The raw lock, for building on the state machine directly.
    ///
    /// # Examples
    ///
    /// ```
    /// use baresync::RawRwLock;
    ///
    /// let lock = baresync::RwLock::new(());
    /// assert!(!lock.raw().is_locked());
    /// ```
    #[inline]
    pub fn raw(&self) -> &R {
        &self.raw
    }
}

impl<R: RawRwLock, T: Default> Default for ReadWriteLock<R, T> {
    fn default() -> Self {
        Self::with_raw(T::default())
    }
}

impl<R: RawRwLock, T> From<T> for ReadWriteLock<R, T> {
    fn from(value: T) -> Self {
        Self::with_raw(value)
    }
}

impl<R: RawRwLock, T: ?Sized + fmt::Debug> fmt::Debug for ReadWriteLock<R, T> {
    /// Never blocks: shows the value if a read lock can be taken right now, `<locked>`
    /// otherwise.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut d = f.debug_struct("RwLock");
        match self.try_read() {
            Some(guard) => d.field("data", &&*guard),
            None => d.field("data", &format_args!("<locked>")),
        };
        d.finish_non_exhaustive()
    }
}

/// Proof of holding a read lock: gives `&T`, and releases the read lock when dropped.
///
/// `!Send`, like every guard of the crate: a lock is released by the context that took it.
///
/// ```compile_fail
/// let lock = std::sync::Arc::new(baresync::RwLock::new(0));
/// let guard = lock.read();
/// std::thread::spawn(move || drop(guard));
/// ```
///
/// # Examples
///
/// ```
/// let lock = baresync::RwLock::new([1, 2]);
/// let r = lock.read();
/// assert_eq!(r[0] + r[1], 3);
/// ```
#[must_use = "if unused the read lock is released at once"]
pub struct RwLockReadGuard<'a, R: RawRwLock, T: ?Sized> {
    lock: &'a ReadWriteLock<R, T>,
    _not_send: PhantomData<*const ()>,
}

// SAFETY: sharing a read guard shares `&T` only.
unsafe impl<R: RawRwLock + Sync, T: ?Sized + Sync> Sync for RwLockReadGuard<'_, R, T> {}


impl<R: RawRwLock, T: ?Sized> Deref for RwLockReadGuard<'_, R, T> {
    type Target = T;

    #[inline]
    fn deref(&self) -> &T {
        // SAFETY: a read lock is held, so no `&mut T` exists.
        unsafe { &*self.lock.data.get() }
    }
}

impl<R: RawRwLock, T: ?Sized> Drop for RwLockReadGuard<'_, R, T> {
    #[inline]
    fn drop(&mut self) {
        lockdep_hook! { crate::lockdep::released(crate::lockdep::key(self.lock)) }
        // SAFETY: the guard holds one read lock and releases it exactly once, here.
        unsafe { self.lock.raw.unlock_shared() }
    }
}

impl<R: RawRwLock, T: ?Sized + fmt::Debug> fmt::Debug for RwLockReadGuard<'_, R, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&**self, f)
    }
}

impl<R: RawRwLock, T: ?Sized + fmt::Display> fmt::Display for RwLockReadGuard<'_, R, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&**self, f)
    }
}

/// Proof of holding the write lock: gives `&T` and `&mut T`, and releases the lock when
/// dropped.
///
/// ```compile_fail
/// let lock = std::sync::Arc::new(baresync::RwLock::new(0));
/// let guard = lock.write();
/// std::thread::spawn(move || drop(guard));
/// ```
///
/// # Examples
///
/// ```
/// let lock = baresync::RwLock::new(vec![1]);
/// lock.write().push(2);
/// assert_eq!(lock.read().len(), 2);
/// ```
#[must_use = "if unused the write lock is released at once"]
pub struct RwLockWriteGuard<'a, R: RawRwLock, T: ?Sized> {
    lock: &'a ReadWriteLock<R, T>,
    _not_send: PhantomData<*const ()>,
}

// SAFETY: sharing a write guard between threads shares `&T` only (`DerefMut` needs
// `&mut guard`).
unsafe impl<R: RawRwLock + Sync, T: ?Sized + Sync> Sync for RwLockWriteGuard<'_, R, T> {}

impl<'a, R: RawRwLock, T: ?Sized> RwLockWriteGuard<'a, R, T> {
    /// Turns the write lock into a read lock without letting another writer in between;
    /// readers that were waiting get in at the same moment.
    ///
    /// # Examples
    ///
    /// ```
    /// use baresync::{RwLock, RwLockWriteGuard};
    ///
    /// let lock = RwLock::new(0);
    /// let mut w = lock.write();
    /// *w = 5;
    /// let r = RwLockWriteGuard::downgrade(w);
    /// assert!(lock.try_read().is_some());
    /// assert_eq!(*r, 5);
    /// ```
    pub fn downgrade(guard: Self) -> RwLockReadGuard<'a, R, T> {
        let lock = ManuallyDrop::new(guard).lock;
        // SAFETY: this thread holds the write lock (its guard, forgotten above), and the raw
        // downgrade leaves it a read lock.
        unsafe { lock.downgrade_into(|raw| raw.downgrade()) }
    }

    /// Turns the write lock into the upgradable read lock without letting another writer in
    /// between.
    ///
    /// # Examples
    ///
    /// ```
    /// use baresync::{RwLock, RwLockWriteGuard};
    ///
    /// let lock = RwLock::new(0);
    /// let u = RwLockWriteGuard::downgrade_to_upgradable(lock.write());
    /// assert!(lock.try_upgradable_read().is_none());
    /// assert!(lock.try_read().is_some());
    /// drop(u);
    /// ```
    pub fn downgrade_to_upgradable(guard: Self) -> RwLockUpgradableReadGuard<'a, R, T> {
        let lock = ManuallyDrop::new(guard).lock;
        // SAFETY: this thread holds the write lock (its guard, forgotten above), and the raw
        // downgrade leaves it the upgradable lock.
        unsafe { lock.downgrade_into(|raw| raw.downgrade_to_upgradable()) }
    }
}

impl<R: RawRwLock, T: ?Sized> Deref for RwLockWriteGuard<'_, R, T> {
    type Target = T;

    #[inline]
    fn deref(&self) -> &T {
        // SAFETY: the write lock is held, so no other reference to the data exists.
        unsafe { &*self.lock.data.get() }
    }
}

impl<R: RawRwLock, T: ?Sized> DerefMut for RwLockWriteGuard<'_, R, T> {
    #[inline]
    fn deref_mut(&mut self) -> &mut T {
        // SAFETY: the write lock is held and the guard borrowed mutably: the only reference.
        unsafe { &mut *self.lock.data.get() }
    }
}

impl<R: RawRwLock, T: ?Sized> Drop for RwLockWriteGuard<'_, R, T> {
    #[inline]
    fn drop(&mut self) {
        lockdep_hook! { crate::lockdep::released(crate::lockdep::key(self.lock)) }
        // SAFETY: the guard holds the write lock and releases it exactly once, here.
        unsafe { self.lock.raw.unlock_exclusive() }
    }
}

impl<R: RawRwLock, T: ?Sized + fmt::Debug> fmt::Debug for RwLockWriteGuard<'_, R, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&**self, f)
    }
}

impl<R: RawRwLock, T: ?Sized + fmt::Display> fmt::Display for RwLockWriteGuard<'_, R, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&**self, f)
    }
}

/// Proof of holding the upgradable read lock: gives `&T`, can become a
/// [`RwLockWriteGuard`] ([`upgrade`](RwLockUpgradableReadGuard::upgrade)), and releases the
/// lock when dropped.
///
/// # Examples
///
/// ```
/// use baresync::{RwLock, RwLockUpgradableReadGuard};
///
/// let cache = RwLock::new(None::<u32>);
/// let u = cache.upgradable_read();
/// let value = match *u {
///     Some(v) => v,
///     None => *RwLockUpgradableReadGuard::upgrade(u).insert(42),
/// };
/// assert_eq!(value, 42);
/// ```
#[must_use = "if unused the upgradable lock is released at once"]
pub struct RwLockUpgradableReadGuard<'a, R: RawRwLock, T: ?Sized> {
    lock: &'a ReadWriteLock<R, T>,
    _not_send: PhantomData<*const ()>,
}

// SAFETY: sharing the guard shares `&T` only.
unsafe impl<R: RawRwLock + Sync, T: ?Sized + Sync> Sync for RwLockUpgradableReadGuard<'_, R, T> {}

impl<'a, R: RawRwLock, T: ?Sized> RwLockUpgradableReadGuard<'a, R, T> {
    /// Becomes the write lock, waiting for the other readers to leave (new readers wait
    /// meanwhile). No other writer can get in between.
    ///
    /// If the wait panics (a panicking `Wait` backend), the upgradable lock is released as
    /// this guard is dropped.
    ///
    /// # Examples
    ///
    /// ```
    /// use baresync::{RwLock, RwLockUpgradableReadGuard};
    ///
    /// let lock = RwLock::new(1);
    /// let mut w = RwLockUpgradableReadGuard::upgrade(lock.upgradable_read());
    /// *w += 1;
    /// drop(w);
    /// assert_eq!(*lock.read(), 2);
    /// ```
    pub fn upgrade(guard: Self) -> RwLockWriteGuard<'a, R, T> {
        // SAFETY: `upgrade` is called while the guard holds the upgradable lock, and returns
        // having made this thread the writer.
        let upgraded = unsafe {
            Self::upgrade_with(guard, |raw| {
                raw.upgrade();
                true
            })
        };
        match upgraded {
            Ok(write) => write,
            Err(_) => unreachable!("an untimed upgrade returns upgraded"),
        }
    }

    /// Becomes the write lock if no other reader holds the lock right now; otherwise gives the
    /// guard back. Never waits.
    ///
    /// # Errors
    ///
    /// The guard, unchanged, when other readers hold the lock.
    ///
    /// # Examples
    ///
    /// ```
    /// use baresync::{RwLock, RwLockUpgradableReadGuard};
    ///
    /// let lock = RwLock::new(1);
    /// let u = lock.upgradable_read();
    /// let r = lock.read();
    /// let u = RwLockUpgradableReadGuard::try_upgrade(u).unwrap_err();
    /// drop(r);
    /// assert!(RwLockUpgradableReadGuard::try_upgrade(u).is_ok());
    /// ```
    pub fn try_upgrade(guard: Self) -> Result<RwLockWriteGuard<'a, R, T>, Self> {
        // SAFETY: `try_upgrade` is called while the guard holds the upgradable lock, and
        // returns `true` only having made this thread the writer.
        unsafe { Self::upgrade_with(guard, |raw| raw.try_upgrade()) }
    }

    /// Becomes the write lock unless `deadline` expires first; gives the guard back then.
    ///
    /// # Errors
    ///
    /// The guard, still holding the upgradable lock, when the deadline expired.
    ///
    /// # Panics
    ///
    /// If `deadline` panics; the upgradable lock is released as this guard is dropped.
    ///
    /// # Examples
    ///
    /// ```
    /// use baresync::{RwLock, RwLockUpgradableReadGuard};
    ///
    /// let lock = RwLock::new(1);
    /// let u = lock.upgradable_read();
    /// let r = lock.read();
    /// let u = RwLockUpgradableReadGuard::upgrade_until(u, || true).unwrap_err();
    /// drop(r);
    /// assert!(RwLockUpgradableReadGuard::upgrade_until(u, || false).is_ok());
    /// ```
    pub fn upgrade_until(
        guard: Self,
        mut deadline: impl Deadline,
    ) -> Result<RwLockWriteGuard<'a, R, T>, Self> {
        // SAFETY: `upgrade_until` is called while the guard holds the upgradable lock, and
        // returns `true` only having made this thread the writer.
        unsafe { Self::upgrade_with(guard, |raw| raw.upgrade_until(&mut deadline)) }
    }

    /// Becomes the write lock unless `timeout` passes first; gives the guard back then.
    ///
    /// Needs feature `std` (a default feature).
    ///
    /// # Errors
    ///
    /// The guard, still holding the upgradable lock, when the timeout passed.
    ///
    /// # Examples
    ///
    /// ```
    /// use baresync::{RwLock, RwLockUpgradableReadGuard};
    /// use std::time::Duration;
    ///
    /// let lock = RwLock::new(1);
    /// let u = lock.upgradable_read();
    /// let r = lock.read();
    /// let u = RwLockUpgradableReadGuard::upgrade_timeout(u, Duration::from_millis(5)).unwrap_err();
    /// drop(r);
    /// assert!(RwLockUpgradableReadGuard::upgrade_timeout(u, Duration::MAX).is_ok());
    /// ```
    #[cfg(feature = "std")]
    #[cfg_attr(docsrs, doc(cfg(feature = "std")))]
    pub fn upgrade_timeout(
        guard: Self,
        timeout: core::time::Duration,
    ) -> Result<RwLockWriteGuard<'a, R, T>, Self> {
        Self::upgrade_until(guard, crate::deadline::Timeout::after(timeout))
    }

    /// Runs the raw upgrade `upgrade` while `guard` holds the upgradable lock: the write guard
    /// if it upgraded, `guard` back if not. The guard stays alive across the raw call, so if
    /// that panics (a panicking `Wait` backend or deadline; the raw lock still holds the
    /// upgradable lock then) the unwind releases the upgradable lock.
    ///
    /// # Safety
    ///
    /// `upgrade` must be a raw upgrade of `guard`'s lock (callable while holding the upgradable
    /// lock) that returns `true` only having made this thread the writer.
    #[inline]
    unsafe fn upgrade_with(
        guard: Self,
        upgrade: impl FnOnce(&R) -> bool,
    ) -> Result<RwLockWriteGuard<'a, R, T>, Self> {
        if !upgrade(&guard.lock.raw) {
            return Err(guard);
        }
        let lock = ManuallyDrop::new(guard).lock;
        // SAFETY: the upgrade made this thread the writer; the upgradable guard is forgotten.
        Ok(unsafe { Guard::new(lock) })
    }

    /// Becomes a plain read lock, letting another upgradable reader in.
    ///
    /// # Examples
    ///
    /// ```
    /// use baresync::{RwLock, RwLockUpgradableReadGuard};
    ///
    /// let lock = RwLock::new(1);
    /// let r = RwLockUpgradableReadGuard::downgrade(lock.upgradable_read());
    /// assert!(lock.try_upgradable_read().is_some());
    /// assert_eq!(*r, 1);
    /// ```
    pub fn downgrade(guard: Self) -> RwLockReadGuard<'a, R, T> {
        let lock = ManuallyDrop::new(guard).lock;
        // SAFETY: this thread holds the upgradable lock (its guard, forgotten above), and the
        // raw downgrade leaves it a read lock.
        unsafe { lock.downgrade_into(|raw| raw.downgrade_upgradable()) }
    }
}

impl<R: RawRwLock, T: ?Sized> Deref for RwLockUpgradableReadGuard<'_, R, T> {
    type Target = T;

    #[inline]
    fn deref(&self) -> &T {
        // SAFETY: a read lock is held, so no `&mut T` exists.
        unsafe { &*self.lock.data.get() }
    }
}

impl<R: RawRwLock, T: ?Sized> Drop for RwLockUpgradableReadGuard<'_, R, T> {
    #[inline]
    fn drop(&mut self) {
        lockdep_hook! { crate::lockdep::released(crate::lockdep::key(self.lock)) }
        // SAFETY: the guard holds the upgradable lock and releases it exactly once, here.
        unsafe { self.lock.raw.unlock_upgradable() }
    }
}

impl<R: RawRwLock, T: ?Sized + fmt::Debug> fmt::Debug for RwLockUpgradableReadGuard<'_, R, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&**self, f)
    }
}

#[cfg(all(test, not(baresync_loom)))]
mod tests {
    use super::*;
    use crate::Spin;
    use std::format;

    #[test]
    fn debug_never_blocks() {
        let l = RwLock::new(5);
        assert_eq!(format!("{l:?}"), "RwLock { data: 5, .. }");
        let r = l.read();
        assert_eq!(format!("{l:?}"), "RwLock { data: 5, .. }");
        drop(r);
        let w = l.write();
        assert_eq!(format!("{l:?}"), "RwLock { data: <locked>, .. }");
        assert_eq!(format!("{w:?}"), "5");
    }

    #[test]
    fn sizes_and_inference() {
        assert_eq!(core::mem::size_of::<RwLock<()>>(), 4);
        assert_eq!(core::mem::size_of::<RwLock<(), Spin>>(), 4);
        let l = RwLock::new(1u8);
        let _: &RwLock<u8, DefaultWait> = &l;
    }

    #[test]
    fn get_mut_and_into_inner() {
        let mut l: RwLock<i32, Spin> = RwLock::with_wait(1);
        *l.get_mut() = 2;
        assert_eq!(l.into_inner(), 2);
    }

    #[test]
    fn unsized_data() {
        let l: &RwLock<[u8]> = &RwLock::new([1u8, 2, 3]);
        assert_eq!(l.read().len(), 3);
        l.write()[0] = 9;
        assert_eq!(l.read()[0], 9);
    }
}
