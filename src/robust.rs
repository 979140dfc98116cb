//! `RobustMutex<T, L, W>`: a mutex that survives the death of its owner (feature `std`,
//! Linux), on [`RawRobustMutex`]: the data and a guard.
//!
//! `lock` has three outcomes, as pthread's robust mutexes have:
//! - `Ok(guard)`: acquired from a live owner (or unlocked);
//! - `Err(RobustError::OwnerDied(guard))`: the previous owner died holding the lock (its
//!   process was killed, its thread exited); the guard is handed over so the data can be
//!   repaired. Call [`RobustMutexGuard::mark_consistent`] once it is; dropping the guard
//!   without doing so makes the lock unrecoverable;
//! - `Err(RobustError::NotRecoverable)`: an earlier owner-died guard was dropped without
//!   `mark_consistent`; the lock will never be acquired again.
//!
//! Unlike `std::sync::Mutex`, a panic while holding a consistent guard just releases the
//! lock (no poisoning, as every lock of this crate); a panic while holding an owner-died guard
//! that was not marked consistent makes the lock unrecoverable, as a drop would.

use crate::raw::{Acquired, NotRecoverable, OwnerLiveness, RawRobustMutex};
use crate::sync::cell::UnsafeCell;
use crate::{Deadline, ProcessLiveness, SharedFutex, Wait};
use core::fmt;
use core::marker::PhantomData;
use core::ops::{Deref, DerefMut};

/// A mutex whose owner may die holding it: the next `lock` says so and hands over the guard.
///
/// The defaults work across processes: put it in a `MAP_SHARED` mapping (all zero bytes are a
/// new, unlocked `RobustMutex` holding a zero `T`) and every process's threads exclude each
/// other. A waiter notices a dead owner within about
/// [`CHECK_INTERVAL`](RawRobustMutex::CHECK_INTERVAL) (10 ms) plus the time the kernel takes
/// to tear the dead thread down.
///
/// # Examples
///
/// ```
/// # if cfg!(miri) { return; } // reads /proc (Miri isolates the file system)
/// use baresync::{RobustError, RobustMutex};
///
/// let m = RobustMutex::new(0u32);
/// // A thread that ends while holding the guard (here: forgets it) is a dead owner.
/// std::thread::scope(|s| {
///     s.spawn(|| core::mem::forget(m.lock().unwrap()));
/// });
/// match m.lock() {
///     Err(RobustError::OwnerDied(mut g)) => {
///         *g = 0; // repair
///         g.mark_consistent();
///     }
///     _ => unreachable!("the owner died holding it"),
/// }
/// assert!(m.lock().is_ok());
/// ```
#[repr(C)]
pub struct RobustMutex<T, L = ProcessLiveness, W = SharedFutex> {
    raw: RawRobustMutex<L, W>,
    data: UnsafeCell<T>,
}

// SAFETY: the lock owns a `T`; sending it sends the `T`.
unsafe impl<T: Send, L, W> Send for RobustMutex<T, L, W> {}
// SAFETY: `&T`/`&mut T` are handed out only to the holder of `raw` (mutual exclusion, and
// each holder's accesses happen-before the next's through its Acquire/Release), so access to
// `T` moves between threads: `T: Send` suffices.
unsafe impl<T: Send, L, W> Sync for RobustMutex<T, L, W> {}

/// What a [`RobustMutex`] lock returns instead of a plain guard.
pub enum RobustError<G> {
    /// The previous owner died holding the lock; here is the guard, the data as it left it.
    OwnerDied(G),
    /// The lock was made unrecoverable; nothing was acquired.
    NotRecoverable,
    /// `try_lock`: a live owner holds it. `lock_until`: the deadline expired first.
    WouldBlock,
}

impl<G> fmt::Debug for RobustError<G> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            RobustError::OwnerDied(_) => "OwnerDied(..)",
            RobustError::NotRecoverable => "NotRecoverable",
            RobustError::WouldBlock => "WouldBlock",
        })
    }
}

impl<G> fmt::Display for RobustError<G> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            RobustError::OwnerDied(_) => "the previous owner died holding the lock",
            RobustError::NotRecoverable => "the lock is not recoverable",
            RobustError::WouldBlock => "the lock is held",
        })
    }
}

impl<G> core::error::Error for RobustError<G> {}

/// The result of locking a [`RobustMutex`].
pub type RobustResult<'a, T, L, W> =
    Result<RobustMutexGuard<'a, T, L, W>, RobustError<RobustMutexGuard<'a, T, L, W>>>;

impl<T> RobustMutex<T> {
    /// A new, unlocked, consistent robust mutex holding `value`, with the default
    /// (process-shared) liveness check and wait backend.
    ///
    /// # Examples
    ///
    /// ```
    /// # if cfg!(miri) { return; } // reads /proc (Miri isolates the file system)
    /// use baresync::RobustMutex;
    ///
    /// static STATE: RobustMutex<[u32; 4]> = RobustMutex::new([0; 4]);
    /// STATE.lock().unwrap()[0] = 1;
    /// ```
    pub const fn new(value: T) -> Self {
        Self::with_wait(value)
    }
}

impl<T, L: OwnerLiveness, W: Wait> RobustMutex<T, L, W> {
    /// A new, unlocked, consistent robust mutex holding `value`, for any liveness check `L`
    /// and wait backend `W`.
    ///
    /// # Examples
    ///
    /// ```
    /// # if cfg!(miri) { return; } // reads /proc (Miri isolates the file system)
    /// use baresync::{ProcessLiveness, RobustMutex, Spin};
    ///
    /// static SPINNING: RobustMutex<u32, ProcessLiveness, Spin> = RobustMutex::with_wait(0);
    /// *SPINNING.lock().unwrap() += 1;
    /// ```
    pub const fn with_wait(value: T) -> Self {
        RobustMutex {
            raw: RawRobustMutex::new(),
            data: UnsafeCell::new(value),
        }
    }

    fn outcome(&self, r: Result<Acquired, NotRecoverable>) -> RobustResult<'_, T, L, W> {
        match r {
            Ok(Acquired::Consistent) => Ok(RobustMutexGuard::new(self, true)),
            Ok(Acquired::OwnerDied) => {
                Err(RobustError::OwnerDied(RobustMutexGuard::new(self, false)))
            }
            Err(NotRecoverable) => Err(RobustError::NotRecoverable),
        }
    }

    /// Acquires the lock, waiting while a live owner holds it.
    ///
    /// # Errors
    ///
    /// [`RobustError::OwnerDied`] with the guard if the previous owner died holding it;
    /// [`RobustError::NotRecoverable`] if the lock was given up. Never `WouldBlock`.
    ///
    /// # Panics
    ///
    /// If the calling thread already holds the lock: a robust lock is not reentrant, and the
    /// caller would wait for itself for ever. The unwind drops the caller's guard as usual.
    ///
    /// # Examples
    ///
    /// ```
    /// # if cfg!(miri) { return; } // reads /proc (Miri isolates the file system)
    /// use baresync::RobustMutex;
    ///
    /// let m = RobustMutex::new(1);
    /// *m.lock().unwrap() += 1;
    /// assert_eq!(*m.lock().unwrap(), 2);
    /// ```
    pub fn lock(&self) -> RobustResult<'_, T, L, W> {
        self.outcome(self.raw.lock())
    }

    /// Acquires the lock unless a live owner holds it ([`RobustError::WouldBlock`] then).
    ///
    /// # Errors
    ///
    /// As [`lock`](RobustMutex::lock), plus `WouldBlock`.
    ///
    /// # Examples
    ///
    /// ```
    /// # if cfg!(miri) { return; } // reads /proc (Miri isolates the file system)
    /// use baresync::{RobustError, RobustMutex};
    ///
    /// let m = RobustMutex::new(0);
    /// let g = m.lock().unwrap();
    /// assert!(matches!(m.try_lock(), Err(RobustError::WouldBlock)));
    /// drop(g);
    /// assert!(m.try_lock().is_ok());
    /// ```
    pub fn try_lock(&self) -> RobustResult<'_, T, L, W> {
        match self.raw.try_lock() {
            Some(r) => self.outcome(r),
            None => Err(RobustError::WouldBlock),
        }
    }

    /// Like [`lock`](RobustMutex::lock), but gives up once `deadline` expires
    /// ([`RobustError::WouldBlock`] then).
    ///
    /// # Errors
    ///
    /// As `try_lock`.
    ///
    /// # Panics
    ///
    /// If `deadline` panics, the panic propagates; nothing is held. If the calling thread
    /// already holds the lock, as [`lock`](RobustMutex::lock).
    ///
    /// # Examples
    ///
    /// ```
    /// # if cfg!(miri) { return; } // reads /proc (Miri isolates the file system)
    /// use baresync::{RobustError, RobustMutex};
    ///
    /// let m = RobustMutex::new(0);
    /// let g = m.lock().unwrap();
    /// let mut polls = 0;
    /// assert!(matches!(m.lock_until(|| { polls += 1; polls > 2 }), Err(RobustError::WouldBlock)));
    /// drop(g);
    /// ```
    pub fn lock_until(&self, mut deadline: impl Deadline) -> RobustResult<'_, T, L, W> {
        match self.raw.lock_until(&mut deadline) {
            Some(r) => self.outcome(r),
            None => Err(RobustError::WouldBlock),
        }
    }

    /// How long a waiter sleeps at most before checking that the owner is alive
    /// ([`RawRobustMutex::CHECK_INTERVAL`]).
    ///
    /// # Examples
    ///
    /// ```
    /// # if cfg!(miri) { return; } // reads /proc (Miri isolates the file system)
    /// assert!(baresync::RobustMutex::<u8>::check_interval().as_millis() <= 100);
    /// ```
    pub const fn check_interval() -> core::time::Duration {
        RawRobustMutex::<L, W>::CHECK_INTERVAL
    }

    /// Whether the lock is held (by a live or a dead owner).
    ///
    /// # Examples
    ///
    /// ```
    /// # if cfg!(miri) { return; } // reads /proc (Miri isolates the file system)
    /// let m = baresync::RobustMutex::new(());
    /// let g = m.lock().unwrap();
    /// assert!(m.is_locked());
    /// ```
    pub fn is_locked(&self) -> bool {
        self.raw.is_locked()
    }

    /// Whether the lock was given up (every `lock` fails).
    ///
    /// # Examples
    ///
    /// ```
    /// # if cfg!(miri) { return; } // reads /proc (Miri isolates the file system)
    /// let m = baresync::RobustMutex::new(());
    /// assert!(!m.is_not_recoverable());
    /// ```
    pub fn is_not_recoverable(&self) -> bool {
        self.raw.is_not_recoverable()
    }

    /// The data, through exclusive access (no locking needed).
    ///
    /// # Examples
    ///
    /// ```
    /// # if cfg!(miri) { return; } // reads /proc (Miri isolates the file system)
    /// let mut m = baresync::RobustMutex::new(3);
    /// *m.get_mut() += 1;
    /// assert_eq!(*m.lock().unwrap(), 4);
    /// ```
    pub fn get_mut(&mut self) -> &mut T {
        // SAFETY: `&mut self`: no guard exists.
        self.data.with_mut(|p| unsafe { &mut *p })
    }
}

impl<T: fmt::Debug, L, W> fmt::Debug for RobustMutex<T, L, W> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RobustMutex")
            .field("raw", &self.raw)
            .finish_non_exhaustive()
    }
}

/// The guard of a [`RobustMutex`]: the data while the lock is held.
///
/// Dropping it releases the lock; if it came from an owner that died and was not
/// [`mark_consistent`](RobustMutexGuard::mark_consistent)ed, it makes the lock unrecoverable.
#[must_use = "if unused the lock is released at once"]
pub struct RobustMutexGuard<'a, T, L: OwnerLiveness, W: Wait> {
    lock: &'a RobustMutex<T, L, W>,
    consistent: bool,
    /// The owner is this thread: the guard must not move to another.
    _not_send: PhantomData<*const ()>,
}

// SAFETY: sharing a guard shares `&T` only.
unsafe impl<T: Sync, L: OwnerLiveness, W: Wait> Sync for RobustMutexGuard<'_, T, L, W> {}

impl<'a, T, L: OwnerLiveness, W: Wait> RobustMutexGuard<'a, T, L, W> {
    fn new(lock: &'a RobustMutex<T, L, W>, consistent: bool) -> Self {
        RobustMutexGuard {
            lock,
            consistent,
            _not_send: PhantomData,
        }
    }

    /// Declares the data repaired after [`RobustError::OwnerDied`]: the lock stays usable.
    ///
    /// # Examples
    ///
    /// See [`RobustMutex`].
    pub fn mark_consistent(&mut self) {
        // SAFETY: this guard holds the lock.
        unsafe { self.lock.raw.mark_consistent() };
        self.consistent = true;
    }

    /// Whether the data is consistent (acquired normally, or marked so).
    ///
    /// # Examples
    ///
    /// ```
    /// # if cfg!(miri) { return; } // reads /proc (Miri isolates the file system)
    /// let m = baresync::RobustMutex::new(());
    /// assert!(m.lock().unwrap().is_consistent());
    /// ```
    pub fn is_consistent(&self) -> bool {
        self.consistent
    }
}

impl<T, L: OwnerLiveness, W: Wait> Deref for RobustMutexGuard<'_, T, L, W> {
    type Target = T;
    fn deref(&self) -> &T {
        // SAFETY: the guard holds the lock: no `&mut T` elsewhere.
        self.lock.data.with(|p| unsafe { &*p })
    }
}

impl<T, L: OwnerLiveness, W: Wait> DerefMut for RobustMutexGuard<'_, T, L, W> {
    fn deref_mut(&mut self) -> &mut T {
        // SAFETY: the guard holds the lock, and `&mut self` excludes other borrows through it.
        self.lock.data.with_mut(|p| unsafe { &mut *p })
    }
}

impl<T, L: OwnerLiveness, W: Wait> Drop for RobustMutexGuard<'_, T, L, W> {
    fn drop(&mut self) {
        if self.consistent {
            // SAFETY: this guard holds the lock and the data is consistent.
            unsafe { self.lock.raw.unlock() }
        } else {
            // SAFETY: this guard holds the lock.
            unsafe { self.lock.raw.unlock_unrecoverable() }
        }
    }
}

impl<T: fmt::Debug, L: OwnerLiveness, W: Wait> fmt::Debug for RobustMutexGuard<'_, T, L, W> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&**self, f)
    }
}
