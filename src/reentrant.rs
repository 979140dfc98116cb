//! `ReentrantLock<T, I, W>`: a lock its owner may take again (Python's RLock).
//!
//! Algorithm: an owner word and a recursion count on top of [`RawMutex<W>`], the shape of
//! std's `ReentrantLock` and of most RTOS recursive mutexes. A thread that finds its own id in
//! the owner word only bumps the count; any other thread takes the raw mutex, then writes its
//! id. The last guard dropped clears the owner word and releases the mutex.
//!
//! Who "the current thread" is comes from a [`ThreadIdentity`]: [`StdThreadId`] under `std`
//! (ids handed out from a global counter, never reused, so a thread that exits while owning a
//! lock can never be mistaken for a new one: std's own reentrant lock once used the address of
//! a thread-local, which a new thread could get again), and a kernel's task or CPU id on bare
//! metal.
//!
//! Guarantees: mutual exclusion between threads, any number of nested guards in the owner
//! (the count is checked: overflowing `u32` panics, it never wraps). The guard gives `&T`
//! only, because nested guards alias: mutate through `Cell`, `RefCell` or atomics inside. The
//! guard is `!Send`: it must be dropped by the thread that owns the lock. Progress and
//! fairness are those of `RawMutex<W>`: deadlock-free, unfair; with more threads than cores
//! keep `W = Futex` (the default with `std`) or `Yield`. No poisoning (see the crate docs).
//!
//! With a [`Condvar`](crate::Condvar), wait with the lock's only guard: waiting while this
//! thread holds the lock more than once panics (see the `condvar` module docs for why Python's
//! "release every level" is unsound here).
//!
//! `I` has no default: a default that exists only with feature `std` would make the same type
//! name fail to compile in a crate built without it. `W` defaults to
//! [`DefaultWait`] as everywhere in the crate (`Futex` with `std`,
//! [`Spin`](crate::Spin) without): a change of behaviour between builds, but every build compiles.

use crate::raw::{RawLock, RawMutex};
use crate::sync::atomic::{AtomicUsize, Ordering::Relaxed};
use crate::sync::const_fn;
use crate::wait::{DefaultWait, Wait};
use crate::Deadline;
use core::cell::UnsafeCell;
use core::fmt;
use core::marker::PhantomData;
use core::num::NonZeroUsize;
use core::ops::Deref;

/// Names the thread (or task, or execution context) that is running, for [`ReentrantLock`].
///
/// # Safety
///
/// [`current`](ThreadIdentity::current) must return an id such that:
/// - a thread gets the same id every time it asks, for as long as it lives;
/// - two threads that are alive at the same time never get the same id. Contexts that can
///   preempt one another count as different threads: an interrupt handler must not get the id
///   of the task it interrupted (give handlers their own ids, or do not use a reentrant lock
///   from them);
/// - if an id is given to a new thread after its old thread ended, everything the old thread
///   did happens-before the new thread first gets the id (as it does when ids are recycled
///   through a lock, or through atomics with Acquire/Release).
///
/// What a wrong implementation breaks: [`ReentrantLock`] hands `&T` to whoever finds its own
/// id in the owner word, and counts guards for that owner only.
/// - Two live threads with one id (or an interrupt handler with the id of the task it
///   interrupted) both get `&T` to a `T` that need not be `Sync`, and race on the guard count:
///   mutual exclusion is gone (undefined behaviour).
/// - A recycled id without happens-before lets the new thread read the owner word stale and
///   take itself for the owner: the same.
/// - A thread whose id changes while it holds the lock no longer finds itself as the owner: its
///   next `lock` waits for itself (a deadlock), `lock_count` says 0. Its guards still release
///   the lock correctly (a guard does not ask for the id).
///
/// What is allowed: `current` may be slow, and it may panic. A panic comes before the lock
/// changes state (every method asks for the id before it acquires anything), so the unwind
/// leaves the lock as the caller's guards say; a [`Condvar`](crate::Condvar) re-taking the lock
/// after a wait has deregistered the waiter first.
///
/// # Examples
///
/// A kernel whose scheduler knows the running task:
///
/// ```
/// use baresync::{ReentrantLock, ThreadIdentity};
/// use core::num::NonZeroUsize;
///
/// fn current_task_index() -> usize { 0 } // the kernel's own bookkeeping
///
/// struct TaskId;
///
/// // SAFETY: task indices are unique among live tasks and stable while a task runs; a task
/// // slot is recycled under the scheduler lock, after the old task is gone. Interrupt
/// // handlers never lock a `ReentrantLock`.
/// unsafe impl ThreadIdentity for TaskId {
///     fn current() -> NonZeroUsize {
///         NonZeroUsize::new(current_task_index() + 1).unwrap()
///     }
/// }
///
/// static LOG: ReentrantLock<core::cell::Cell<u32>, TaskId> =
///     ReentrantLock::with_identity(core::cell::Cell::new(0));
/// let outer = LOG.lock();
/// let inner = LOG.lock();
/// inner.set(outer.get() + 1);
/// assert_eq!(LOG.lock_count(), 2);
/// ```
pub unsafe trait ThreadIdentity {
    /// The id of the calling thread (see the trait's `# Safety` section).
    fn current() -> NonZeroUsize;
}

/// The [`ThreadIdentity`] of std threads: a number handed out from a global counter the
/// first time a thread asks, kept in a thread-local, never given to another thread.
///
/// Needs feature `std` (a default feature).
///
/// The counter is checked: after `usize::MAX - 1` threads (on a 32-bit target, four billion)
/// asking for an id panics rather than reuse one.
///
/// # Examples
///
/// ```
/// use baresync::{StdThreadId, ThreadIdentity};
///
/// let mine = StdThreadId::current();
/// assert_eq!(mine, StdThreadId::current());
/// let theirs = std::thread::spawn(StdThreadId::current).join().unwrap();
/// assert_ne!(mine, theirs);
/// ```
#[cfg(all(feature = "std", not(baresync_loom)))]
#[cfg_attr(docsrs, doc(cfg(feature = "std")))]
#[derive(Debug, Clone, Copy, Default)]
pub struct StdThreadId;

#[cfg(all(feature = "std", not(baresync_loom)))]
// SAFETY: each id comes from one successful checked increment of `NEXT_ID`, so no id is ever
// handed out twice (not even after its thread ended), and a thread keeps its id in a
// thread-local for its whole life. The thread-local has no destructor, so it stays readable
// while other thread-locals are destroyed.
unsafe impl ThreadIdentity for StdThreadId {
    #[inline]
    fn current() -> NonZeroUsize {
        std::thread_local! {
            static ID: core::cell::Cell<usize> = const { core::cell::Cell::new(0) };
        }
        ID.with(|id| match NonZeroUsize::new(id.get()) {
            Some(id) => id,
            None => {
                let new = next_std_thread_id();
                id.set(new.get());
                new
            }
        })
    }
}

#[cfg(all(feature = "std", not(baresync_loom)))]
#[cold]
fn next_std_thread_id() -> NonZeroUsize {
    static NEXT_ID: AtomicUsize = AtomicUsize::new(1);
    // ORDERING: Relaxed: uniqueness comes from the atomicity of the read-modify-write; the id
    // carries no data.
    let id = NEXT_ID
        .fetch_update(Relaxed, Relaxed, |n| n.checked_add(1))
        .expect("StdThreadId: thread ids exhausted");
    NonZeroUsize::new(id).expect("ids start at 1")
}

/// Declares `ReentrantLock`, whose identity parameter has a default (`StdThreadId`) only with
/// `std`: a default cannot be put under `cfg` on its own.
macro_rules! reentrant_lock_struct {
    ($($identity_default:tt)*) => {
        /// A lock that the thread holding it may lock again; the guard gives `&T`.
        ///
        /// `I` names threads ([`StdThreadId`] under `std`, where it is the default, so
        /// `ReentrantLock<T>` and `ReentrantLock::new(value)` need nothing more; your kernel's
        /// task id otherwise: without `std` there is no default identity, and a lock is built with
        /// [`with_identity`](ReentrantLock::with_identity)); `W` is the [`Wait`] backend of the
        /// underlying [`RawMutex`].
        ///
        /// # Examples
        ///
        /// ```
        /// use baresync::ReentrantLock;
        /// use core::cell::RefCell;
        ///
        /// static ITEMS: ReentrantLock<RefCell<Vec<u32>>> =
        ///     ReentrantLock::new(RefCell::new(Vec::new()));
        ///
        /// fn add(x: u32) {
        ///     ITEMS.lock().borrow_mut().push(x);
        /// }
        ///
        /// fn add_pair(a: u32, b: u32) {
        ///     let _all_or_nothing = ITEMS.lock(); // other threads see both or neither
        ///     add(a); // locks again: fine for the owner
        ///     add(b);
        /// }
        ///
        /// add_pair(1, 2);
        /// assert_eq!(*ITEMS.lock().borrow(), [1, 2]);
        /// ```
        #[repr(C)]
        pub struct ReentrantLock<T: ?Sized, I $($identity_default)*, W = DefaultWait> {
            raw: RawMutex<W>,
            /// 0: no owner · otherwise the owner's id. Written only by the owner while it holds
            /// `raw` (its id after acquiring, 0 before releasing).
            owner: AtomicUsize,
            /// How many guards the owner holds. Read and written only by the owner, while it holds
            /// `raw`.
            count: UnsafeCell<u32>,
            _id: PhantomData<fn() -> I>,
            data: T,
        }
    };
}

#[cfg(all(feature = "std", not(baresync_loom)))]
reentrant_lock_struct!(= StdThreadId);
#[cfg(not(all(feature = "std", not(baresync_loom))))]
reentrant_lock_struct!();

// SAFETY: the lock owns a `T` (sending it sends the `T`); the rest is atomics and a counter
// that moves with it.
unsafe impl<T: ?Sized + Send, I, W> Send for ReentrantLock<T, I, W> {}
// SAFETY: sharing the lock lets each thread in turn obtain `&T`, never two threads at once
// (the raw mutex excludes, and `ThreadIdentity` guarantees that only the owner finds its id
// in `owner`); `RawMutex`'s Acquire/Release orders one owner's accesses before the next's. So
// access to `T` moves between threads (`T: Send`) but is never shared (`T: Sync` not needed).
// `count` is only touched by the owner.
unsafe impl<T: ?Sized + Send, I, W> Sync for ReentrantLock<T, I, W> {}

#[cfg(all(feature = "std", not(baresync_loom)))]
impl<T> ReentrantLock<T> {
    const_fn! {
        /// A new, unlocked reentrant lock holding `value`, naming threads by [`StdThreadId`] and
        /// waiting through the default backend ([`DefaultWait`]); usable in a `static`.
        ///
        /// Only with feature `std`: without it there is no default thread identity, and
        /// [`with_identity`](ReentrantLock::with_identity) names yours.
        ///
        /// # Examples
        ///
        /// ```
        /// use baresync::ReentrantLock;
        ///
        /// let depth = ReentrantLock::new(core::cell::Cell::new(0u8)); // no annotation needed
        /// let outer = depth.lock();
        /// let inner = depth.lock(); // the owner locks again
        /// inner.set(inner.get() + 1);
        /// drop((inner, outer));
        /// assert_eq!(depth.lock().get(), 1);
        /// ```
        #[inline]
        pub const fn new(value: T) -> Self {
            Self::with_identity(value)
        }
    }
}

impl<T, I: ThreadIdentity, W: Wait> ReentrantLock<T, I, W> {
    const_fn! {
        /// A new, unlocked reentrant lock holding `value`, with the thread identity `I` and the
        /// wait backend `W` named by the type; usable in a `static`. The only constructor
        /// without feature `std`.
        ///
        /// # Examples
        ///
        /// ```
        /// use baresync::{ReentrantLock, Spin, StdThreadId};
        ///
        /// static DEPTH: ReentrantLock<core::cell::Cell<u8>, StdThreadId, Spin> =
        ///     ReentrantLock::with_identity(core::cell::Cell::new(0));
        /// assert_eq!(DEPTH.lock().get(), 0);
        /// ```
        #[inline]
        pub const fn with_identity(value: T) -> Self {
            ReentrantLock {
                raw: RawMutex::with_wait(),
                owner: AtomicUsize::new(0),
                count: UnsafeCell::new(0),
                _id: PhantomData,
                data: value,
            }
        }
    }

    /// Consumes the lock and returns the value.
    ///
    /// # Examples
    ///
    /// ```
    /// use baresync::{ReentrantLock, StdThreadId};
    ///
    /// let lock: ReentrantLock<_, StdThreadId> = ReentrantLock::new(7);
    /// assert_eq!(lock.into_inner(), 7);
    /// ```
    #[inline]
    pub fn into_inner(self) -> T {
        self.data
    }
}

impl<T: ?Sized, I: ThreadIdentity, W: Wait> ReentrantLock<T, I, W> {
    /// Whether `me` owns the lock.
    #[inline]
    fn owned_by(&self, me: usize) -> bool {
        // ORDERING: Relaxed is enough to answer "is it me?". Only the owner writes `owner`,
        // while holding `raw`: its id after acquiring, 0 before releasing. If this thread owns
        // the lock, its own last store (its id) is the latest in the word's modification order
        // (nobody else writes while it owns), and a thread always reads its own latest store
        // or a later one (coherence). If it does not own the lock, its last store was 0 (or it
        // never stored), and every later store is 0 or another live thread's id, which is
        // never `me` (`ThreadIdentity`'s contract; a recycled id comes with happens-before).
        // The happens-before between owners comes from `raw`, not from this word.
        self.owner.load(Relaxed) == me
    }

    /// Bumps the recursion count of the owner.
    ///
    /// # Safety
    ///
    /// The caller must own the lock.
    #[inline]
    unsafe fn relock(&self) {
        // SAFETY: the caller owns the lock, and only the owner touches `count`.
        let count = unsafe { &mut *self.count.get() };
        *count = count
            .checked_add(1)
            .expect("ReentrantLock: lock count overflow (locked u32::MAX times by its owner)");
    }

    /// Records `me` as the owner after acquiring `raw`.
    ///
    /// # Safety
    ///
    /// The caller must have just acquired `raw`.
    #[inline]
    unsafe fn take_ownership(&self, me: usize, count: u32) {
        // ORDERING: Relaxed: see `owned_by`; the Acquire of `raw` already ordered the previous
        // owner's accesses before ours.
        self.owner.store(me, Relaxed);
        // SAFETY: we hold `raw`, so we are the owner and the only one touching `count`.
        unsafe { *self.count.get() = count };
    }

    /// Acquires the lock, waiting while another thread holds it; if the current thread holds
    /// it already, only counts one more guard.
    ///
    /// # Panics
    ///
    /// If the owner already holds `u32::MAX` guards.
    ///
    /// # Examples
    ///
    /// ```
    /// use baresync::{ReentrantLock, StdThreadId};
    ///
    /// static LOCK: ReentrantLock<u32, StdThreadId> = ReentrantLock::new(5);
    /// let a = LOCK.lock();
    /// let b = LOCK.lock();
    /// assert_eq!(*a + *b, 10);
    /// assert_eq!(LOCK.lock_count(), 2);
    /// ```
    #[inline]
    pub fn lock(&self) -> ReentrantLockGuard<'_, T, I, W> {
        let me = I::current().get();
        if self.owned_by(me) {
            // SAFETY: we own the lock.
            unsafe { self.relock() };
        } else {
            self.raw.lock();
            // SAFETY: `raw` was just acquired.
            unsafe { self.take_ownership(me, 1) };
        }
        ReentrantLockGuard::new(self)
    }

    /// Acquires the lock if it is free or already held by the current thread; never waits.
    ///
    /// # Panics
    ///
    /// If the owner already holds `u32::MAX` guards.
    ///
    /// # Examples
    ///
    /// ```
    /// use baresync::{ReentrantLock, StdThreadId};
    ///
    /// static LOCK: ReentrantLock<(), StdThreadId> = ReentrantLock::new(());
    /// let held = LOCK.lock();
    /// assert!(LOCK.try_lock().is_some()); // the owner may
    /// let other = std::thread::spawn(|| LOCK.try_lock().is_some());
    /// assert!(!other.join().unwrap()); // nobody else may
    /// drop(held);
    /// ```
    #[inline]
    pub fn try_lock(&self) -> Option<ReentrantLockGuard<'_, T, I, W>> {
        let me = I::current().get();
        if self.owned_by(me) {
            // SAFETY: we own the lock.
            unsafe { self.relock() };
        } else if self.raw.try_lock() {
            // SAFETY: `raw` was just acquired.
            unsafe { self.take_ownership(me, 1) };
        } else {
            return None;
        }
        Some(ReentrantLockGuard::new(self))
    }

    /// Acquires the lock unless `deadline` expires first (`None` then). The owner never
    /// waits.
    ///
    /// # Panics
    ///
    /// If the owner already holds `u32::MAX` guards.
    ///
    /// # Examples
    ///
    /// ```
    /// use baresync::{ReentrantLock, StdThreadId};
    ///
    /// static LOCK: ReentrantLock<(), StdThreadId> = ReentrantLock::new(());
    /// let held = LOCK.lock();
    /// let other = std::thread::spawn(|| {
    ///     let mut polls = 0;
    ///     LOCK.lock_until(|| { polls += 1; polls > 100 }).is_some()
    /// });
    /// assert!(!other.join().unwrap());
    /// assert!(LOCK.lock_until(|| true).is_some()); // the owner does not wait
    /// drop(held);
    /// ```
    #[inline]
    pub fn lock_until(
        &self,
        mut deadline: impl Deadline,
    ) -> Option<ReentrantLockGuard<'_, T, I, W>> {
        let me = I::current().get();
        if self.owned_by(me) {
            // SAFETY: we own the lock.
            unsafe { self.relock() };
        } else if self.raw.lock_until(&mut deadline) {
            // SAFETY: `raw` was just acquired.
            unsafe { self.take_ownership(me, 1) };
        } else {
            return None;
        }
        Some(ReentrantLockGuard::new(self))
    }

    /// Acquires the lock unless `timeout` passes first.
    ///
    /// Needs feature `std` (a default feature).
    ///
    /// # Panics
    ///
    /// If the owner already holds `u32::MAX` guards.
    ///
    /// # Examples
    ///
    /// ```
    /// use baresync::{Futex, ReentrantLock, StdThreadId};
    /// use std::time::Duration;
    ///
    /// static LOCK: ReentrantLock<(), StdThreadId, Futex> = ReentrantLock::with_identity(());
    /// let held = LOCK.lock();
    /// let other = std::thread::spawn(|| LOCK.lock_timeout(Duration::from_millis(5)).is_some());
    /// assert!(!other.join().unwrap());
    /// drop(held);
    /// ```
    #[cfg(feature = "std")]
    #[cfg_attr(docsrs, doc(cfg(feature = "std")))]
    #[inline]
    pub fn lock_timeout(
        &self,
        timeout: core::time::Duration,
    ) -> Option<ReentrantLockGuard<'_, T, I, W>> {
        self.lock_until(crate::deadline::Timeout::after(timeout))
    }

    /// Whether the current thread holds the lock.
    ///
    /// # Examples
    ///
    /// ```
    /// use baresync::{ReentrantLock, StdThreadId};
    ///
    /// static LOCK: ReentrantLock<(), StdThreadId> = ReentrantLock::new(());
    /// assert!(!LOCK.is_owned_by_current());
    /// let _g = LOCK.lock();
    /// assert!(LOCK.is_owned_by_current());
    /// assert!(!std::thread::spawn(|| LOCK.is_owned_by_current()).join().unwrap());
    /// ```
    #[inline]
    pub fn is_owned_by_current(&self) -> bool {
        self.owned_by(I::current().get())
    }

    /// How many guards the current thread holds (0 if it does not own the lock).
    ///
    /// # Examples
    ///
    /// ```
    /// use baresync::{ReentrantLock, StdThreadId};
    ///
    /// static LOCK: ReentrantLock<(), StdThreadId> = ReentrantLock::new(());
    /// let a = LOCK.lock();
    /// let b = LOCK.lock();
    /// assert_eq!(LOCK.lock_count(), 2);
    /// drop(b);
    /// assert_eq!(LOCK.lock_count(), 1);
    /// drop(a);
    /// assert_eq!(LOCK.lock_count(), 0);
    /// ```
    #[inline]
    pub fn lock_count(&self) -> usize {
        if self.is_owned_by_current() {
            // SAFETY: we own the lock, and only the owner touches `count`.
            unsafe { *self.count.get() as usize }
        } else {
            0
        }
    }

    /// Whether any thread holds the lock right now (a snapshot).
    ///
    /// # Examples
    ///
    /// ```
    /// use baresync::{ReentrantLock, StdThreadId};
    ///
    /// let lock: ReentrantLock<(), StdThreadId> = ReentrantLock::new(());
    /// assert!(!lock.is_locked());
    /// let g = lock.lock();
    /// assert!(lock.is_locked());
    /// ```
    #[inline]
    pub fn is_locked(&self) -> bool {
        self.raw.is_locked()
    }

    /// A mutable reference to the value; no locking needed, `&mut self` proves nobody holds
    /// the lock.
    ///
    /// # Examples
    ///
    /// ```
    /// use baresync::{ReentrantLock, StdThreadId};
    ///
    /// let mut lock: ReentrantLock<u32, StdThreadId> = ReentrantLock::new(1);
    /// *lock.get_mut() += 1;
    /// assert_eq!(*lock.lock(), 2);
    /// ```
    #[inline]
    pub fn get_mut(&mut self) -> &mut T {
        &mut self.data
    }
}

impl<T: Default, I: ThreadIdentity, W: Wait> Default for ReentrantLock<T, I, W> {
    fn default() -> Self {
        Self::with_identity(T::default())
    }
}

impl<T, I: ThreadIdentity, W: Wait> From<T> for ReentrantLock<T, I, W> {
    fn from(value: T) -> Self {
        Self::with_identity(value)
    }
}

impl<T: ?Sized + fmt::Debug, I: ThreadIdentity, W: Wait> fmt::Debug for ReentrantLock<T, I, W> {
    /// Never blocks: shows the value if the lock is free or held by the current thread,
    /// `<locked>` otherwise.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut d = f.debug_struct("ReentrantLock");
        if self.is_owned_by_current() {
            // Reading through `&self` is what a guard would do; the owner may.
            d.field("data", &&self.data);
        } else {
            match self.try_lock() {
                Some(guard) => d.field("data", &&*guard),
                None => d.field("data", &format_args!("<locked>")),
            };
        }
        d.finish_non_exhaustive()
    }
}

/// Proof that the current thread holds a [`ReentrantLock`] (one of possibly several nested
/// guards): gives `&T`, and counts one release when dropped.
///
/// `!Send`: the lock must be released by the thread that owns it.
///
/// # Examples
///
/// ```
/// use baresync::{ReentrantLock, StdThreadId};
/// use core::cell::Cell;
///
/// static HITS: ReentrantLock<Cell<u32>, StdThreadId> = ReentrantLock::new(Cell::new(0));
/// let guard = HITS.lock();
/// guard.set(guard.get() + 1);
/// assert_eq!(guard.get(), 1);
/// ```
#[must_use = "if unused the lock is released at once"]
pub struct ReentrantLockGuard<'a, T: ?Sized, I: ThreadIdentity, W: Wait = DefaultWait> {
    lock: &'a ReentrantLock<T, I, W>,
    /// `!Send`; `Sync` only when `T: Sync` (see below).
    _not_send: PhantomData<*const ()>,
}

// SAFETY: sharing a guard between threads shares `&T`, which needs `T: Sync`.
unsafe impl<T: ?Sized + Sync, I: ThreadIdentity, W: Wait> Sync for ReentrantLockGuard<'_, T, I, W> {}

impl<'a, T: ?Sized, I: ThreadIdentity, W: Wait> ReentrantLockGuard<'a, T, I, W> {
    #[inline]
    fn new(lock: &'a ReentrantLock<T, I, W>) -> Self {
        ReentrantLockGuard {
            lock,
            _not_send: PhantomData,
        }
    }

    /// The lock this guard holds (e.g. to hand to a [`Condvar`](crate::Condvar)).
    ///
    /// # Examples
    ///
    /// ```
    /// use baresync::{ReentrantLock, ReentrantLockGuard, StdThreadId};
    ///
    /// let lock: ReentrantLock<u8, StdThreadId> = ReentrantLock::new(0);
    /// let guard = lock.lock();
    /// assert!(core::ptr::eq(ReentrantLockGuard::lock(&guard), &lock));
    /// ```
    #[inline]
    pub fn lock(guard: &Self) -> &'a ReentrantLock<T, I, W> {
        guard.lock
    }

    /// How many guards this thread holds on the guard's lock, this one included. Unlike
    /// [`ReentrantLock::lock_count`] it does not ask the [`ThreadIdentity`]: the guard proves
    /// ownership.
    #[inline]
    pub(crate) fn held(guard: &Self) -> u32 {
        // SAFETY: the guard exists on this thread (it is `!Send`), so this thread owns the
        // lock, and only the owner touches `count`.
        unsafe { *guard.lock.count.get() }
    }
}

impl<T: ?Sized, I: ThreadIdentity, W: Wait> Deref for ReentrantLockGuard<'_, T, I, W> {
    type Target = T;

    #[inline]
    fn deref(&self) -> &T {
        &self.lock.data
    }
}

impl<T: ?Sized, I: ThreadIdentity, W: Wait> Drop for ReentrantLockGuard<'_, T, I, W> {
    #[inline]
    fn drop(&mut self) {
        let lock = self.lock;
        // SAFETY: the guard exists, so this thread owns the lock (the guard is `!Send`), and
        // only the owner touches `count`.
        let count = unsafe { &mut *lock.count.get() };
        *count -= 1;
        if *count == 0 {
            // ORDERING: Relaxed: see `owned_by`; the Release in `raw.unlock` publishes it.
            lock.owner.store(0, Relaxed);
            // SAFETY: this thread owns the lock and this was its last guard.
            unsafe { lock.raw.unlock() };
        }
    }
}

impl<T: ?Sized + fmt::Debug, I: ThreadIdentity, W: Wait> fmt::Debug
    for ReentrantLockGuard<'_, T, I, W>
{
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&**self, f)
    }
}

impl<T: ?Sized + fmt::Display, I: ThreadIdentity, W: Wait> fmt::Display
    for ReentrantLockGuard<'_, T, I, W>
{
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&**self, f)
    }
}

#[cfg(all(test, feature = "std", not(baresync_loom)))]
mod tests {
    use super::*;
    use std::format;

    type RLock<T> = ReentrantLock<T, StdThreadId>;

    #[test]
    fn nesting_counts() {
        let l: RLock<u8> = ReentrantLock::new(3);
        assert_eq!(l.lock_count(), 0);
        let a = l.lock();
        let b = l.try_lock().unwrap();
        let c = l.lock_until(|| true).unwrap();
        assert_eq!(l.lock_count(), 3);
        assert_eq!(*a + *b + *c, 9);
        drop(b);
        assert_eq!(l.lock_count(), 2);
        assert!(l.is_locked());
        drop(a);
        drop(c);
        assert_eq!(l.lock_count(), 0);
        assert!(!l.is_locked());
        assert!(!l.is_owned_by_current());
    }

    #[test]
    #[should_panic(expected = "lock count overflow")]
    fn count_overflow_panics() {
        let l: RLock<()> = ReentrantLock::new(());
        let g = l.lock();
        // SAFETY: this thread owns the lock; the count is the owner's.
        unsafe { *l.count.get() = u32::MAX };
        let _second = l.lock();
        drop(g);
    }

    #[test]
    fn overflow_panic_leaves_the_lock_consistent() {
        let l: RLock<()> = ReentrantLock::new(());
        let g = l.lock();
        // SAFETY: this thread owns the lock; the count is the owner's.
        unsafe { *l.count.get() = u32::MAX };
        let r = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| l.try_lock().is_some()));
        assert!(r.is_err());
        assert_eq!(l.lock_count(), u32::MAX as usize);
        // SAFETY: as above.
        unsafe { *l.count.get() = 1 };
        drop(g);
        assert!(!l.is_locked());
    }

    #[test]
    fn debug_never_blocks() {
        let l: RLock<u8> = ReentrantLock::new(5);
        assert_eq!(format!("{l:?}"), "ReentrantLock { data: 5, .. }");
        let g = l.lock();
        assert_eq!(format!("{l:?}"), "ReentrantLock { data: 5, .. }");
        assert_eq!(format!("{g:?} {g}"), "5 5");
        let l = &l;
        std::thread::scope(|s| {
            s.spawn(|| assert_eq!(format!("{l:?}"), "ReentrantLock { data: <locked>, .. }"));
        });
    }

    #[test]
    fn get_mut_into_inner_default() {
        let mut l: RLock<i32> = ReentrantLock::default();
        *l.get_mut() = 4;
        assert_eq!(l.into_inner(), 4);
        let l: RLock<i32> = 9.into();
        assert_eq!(*l.lock(), 9);
    }

    #[test]
    fn std_thread_ids_are_distinct_and_stable() {
        let mine = StdThreadId::current();
        assert_eq!(mine, StdThreadId::current());
        let others: std::vec::Vec<_> = (0..4)
            .map(|_| std::thread::spawn(StdThreadId::current))
            .collect();
        let mut ids: std::vec::Vec<_> = others.into_iter().map(|t| t.join().unwrap()).collect();
        ids.push(mine);
        ids.sort();
        ids.dedup();
        assert_eq!(ids.len(), 5);
    }
}
