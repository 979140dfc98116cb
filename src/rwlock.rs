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
//!   that had to wait is let in by the next write unlock, together with every other waiting
//!   reader, even when more writers wait: a writer stream cannot starve readers either.
//!   Writers among themselves have no order (as with [`Mutex`](crate::Mutex)).
//! - **Do not nest read locks** in one thread: the second `read` waits behind a waiting writer,
//!   which waits for the first read lock (std's `RwLock` has the same rule).
//! - **Upgradable read**: one holder at a time, alongside readers; it can become the writer
//!   ([`RwLockUpgradableReadGuard::upgrade`]) without letting another writer in first, which a
//!   read lock dropped and a write lock taken cannot promise.
//! - **Threads outnumbering cores**: with the default backend (`Futex` with `std`) waiters
//!   sleep after a short spin; with `Spin` they spin, so keep one thread per core.
//! - **No poisoning**: a panic while a guard is held releases the lock as the guard is
//!   dropped; the data is left as the panicking code left it.
//! - At most 65535 read locks at once (the upgradable one included); one more panics.
//! - **Not for data shared with an interrupt handler**: there is no interrupt-safe
//!   reader-writer lock (a read lock has many owners, each with its own interrupt state, which
//!   `IrqSafe` cannot keep); use `IrqLock` there. `docs/design.md` says more.

use crate::raw::{RawRwLock, RawRwMutex};
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

// SAFETY: the lock can move to another thread with the value inside when `T: Send`; the raw
// lock is plain atomics.
unsafe impl<R: RawRwLock + Send, T: ?Sized + Send> Send for ReadWriteLock<R, T> {}
// SAFETY: sharing the lock gives `&T` to several threads at once (readers: `T: Sync`) and
// `&mut T` to one thread at a time (writers: `T: Send`), never both (the `RawRwLock` contract).
unsafe impl<R: RawRwLock + Sync, T: ?Sized + Send + Sync> Sync for ReadWriteLock<R, T> {}

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
        lockdep_hook! { crate::lockdep::before_acquire(crate::lockdep::key(self), crate::lockdep::RW_READ) }
        self.raw.lock_shared();
        lockdep_hook! { crate::lockdep::acquired(crate::lockdep::key(self), crate::lockdep::RW_READ) }
        // SAFETY: a read lock was just acquired by this thread.
        unsafe { RwLockReadGuard::new(self) }
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
        if self.raw.try_lock_shared() {
            lockdep_hook! { crate::lockdep::acquired(crate::lockdep::key(self), crate::lockdep::RW_READ) }
            // SAFETY: a read lock was just acquired by this thread.
            Some(unsafe { RwLockReadGuard::new(self) })
        } else {
            None
        }
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
        if self.raw.lock_shared_until(&mut deadline) {
            lockdep_hook! { crate::lockdep::acquired(crate::lockdep::key(self), crate::lockdep::RW_READ) }
            // SAFETY: a read lock was just acquired by this thread.
            Some(unsafe { RwLockReadGuard::new(self) })
        } else {
            None
        }
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
        lockdep_hook! { crate::lockdep::before_acquire(crate::lockdep::key(self), crate::lockdep::RW_WRITE) }
        self.raw.lock_exclusive();
        lockdep_hook! { crate::lockdep::acquired(crate::lockdep::key(self), crate::lockdep::RW_WRITE) }
        // SAFETY: the write lock was just acquired by this thread.
        unsafe { RwLockWriteGuard::new(self) }
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
        if self.raw.try_lock_exclusive() {
            lockdep_hook! { crate::lockdep::acquired(crate::lockdep::key(self), crate::lockdep::RW_WRITE) }
            // SAFETY: the write lock was just acquired by this thread.
            Some(unsafe { RwLockWriteGuard::new(self) })
        } else {
            None
        }
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
        if self.raw.lock_exclusive_until(&mut deadline) {
            lockdep_hook! { crate::lockdep::acquired(crate::lockdep::key(self), crate::lockdep::RW_WRITE) }
            // SAFETY: the write lock was just acquired by this thread.
            Some(unsafe { RwLockWriteGuard::new(self) })
        } else {
            None
        }
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
        lockdep_hook! { crate::lockdep::before_acquire(crate::lockdep::key(self), crate::lockdep::RW_UPGRADABLE) }
        self.raw.lock_upgradable();
        lockdep_hook! { crate::lockdep::acquired(crate::lockdep::key(self), crate::lockdep::RW_UPGRADABLE) }
        // SAFETY: the upgradable lock was just acquired by this thread.
        unsafe { RwLockUpgradableReadGuard::new(self) }
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
        if self.raw.try_lock_upgradable() {
            lockdep_hook! { crate::lockdep::acquired(crate::lockdep::key(self), crate::lockdep::RW_UPGRADABLE) }
            // SAFETY: the upgradable lock was just acquired by this thread.
            Some(unsafe { RwLockUpgradableReadGuard::new(self) })
        } else {
            None
        }
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
        if self.raw.lock_upgradable_until(&mut deadline) {
            lockdep_hook! { crate::lockdep::acquired(crate::lockdep::key(self), crate::lockdep::RW_UPGRADABLE) }
            // SAFETY: the upgradable lock was just acquired by this thread.
            Some(unsafe { RwLockUpgradableReadGuard::new(self) })
        } else {
            None
        }
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

impl<'a, R: RawRwLock, T: ?Sized> RwLockReadGuard<'a, R, T> {
    /// # Safety
    ///
    /// The current thread must hold a read lock on `lock.raw` and hand it to the guard.
    #[inline]
    unsafe fn new(lock: &'a ReadWriteLock<R, T>) -> Self {
        RwLockReadGuard {
            lock,
            _not_send: PhantomData,
        }
    }
}

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
    /// # Safety
    ///
    /// The current thread must hold the write lock on `lock.raw` and hand it to the guard.
    #[inline]
    unsafe fn new(lock: &'a ReadWriteLock<R, T>) -> Self {
        RwLockWriteGuard {
            lock,
            _not_send: PhantomData,
        }
    }

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
        // SAFETY: the downgrade below leaves this thread a read lock, which this guard then
        // holds. Built first: if the downgrade panics, it does so after taking effect (the
        // `RawRwLock` contract; with `RawRwMutex`, in a wake call), and the unwind drops this
        // guard, which releases the read lock instead of leaking it.
        let read = unsafe { RwLockReadGuard::new(lock) };
        // SAFETY: this thread holds the write lock (the write guard, forgotten above).
        unsafe { lock.raw.downgrade() };
        read
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
        // SAFETY: the downgrade below leaves this thread the upgradable lock, which this guard
        // then holds; built first so that a panic after the downgrade took effect releases it
        // (as in `downgrade`).
        let upgradable = unsafe { RwLockUpgradableReadGuard::new(lock) };
        // SAFETY: this thread holds the write lock (the write guard, forgotten above).
        unsafe { lock.raw.downgrade_to_upgradable() };
        upgradable
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
    /// # Safety
    ///
    /// The current thread must hold the upgradable lock on `lock.raw` and hand it to the guard.
    #[inline]
    unsafe fn new(lock: &'a ReadWriteLock<R, T>) -> Self {
        RwLockUpgradableReadGuard {
            lock,
            _not_send: PhantomData,
        }
    }

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
        // SAFETY: the guard holds the upgradable lock. If `upgrade` panics it still does, and
        // `guard` releases it while unwinding.
        unsafe { guard.lock.raw.upgrade() };
        let lock = guard.lock;
        core::mem::forget(guard);
        // SAFETY: the upgrade made this thread the writer; the upgradable guard is forgotten.
        unsafe { RwLockWriteGuard::new(lock) }
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
        // SAFETY: the guard holds the upgradable lock.
        if unsafe { guard.lock.raw.try_upgrade() } {
            let lock = guard.lock;
            core::mem::forget(guard);
            // SAFETY: the upgrade made this thread the writer.
            Ok(unsafe { RwLockWriteGuard::new(lock) })
        } else {
            Err(guard)
        }
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
        // SAFETY: the guard holds the upgradable lock; if this panics it still does, and
        // `guard` releases it while unwinding.
        if unsafe { guard.lock.raw.upgrade_until(&mut deadline) } {
            let lock = guard.lock;
            core::mem::forget(guard);
            // SAFETY: the upgrade made this thread the writer.
            Ok(unsafe { RwLockWriteGuard::new(lock) })
        } else {
            Err(guard)
        }
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
        // SAFETY: the downgrade below leaves this thread a read lock, which this guard then
        // holds; built first so that a panic after the downgrade took effect releases it (as
        // in `RwLockWriteGuard::downgrade`).
        let read = unsafe { RwLockReadGuard::new(lock) };
        // SAFETY: this thread holds the upgradable lock (its guard, forgotten above).
        unsafe { lock.raw.downgrade_upgradable() };
        read
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
