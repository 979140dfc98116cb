//! `JoinableQueue<T, N, W>`: a [`Queue`] that counts unfinished tasks (Python's
//! `JoinableQueue`).
//!
//! Every item put raises the count of unfinished tasks; [`task_done`](JoinableQueue::task_done)
//! lowers it; [`join`](JoinableQueue::join) waits until it is zero. The count is raised
//! *before* the item enters the queue (and lowered again if it does not), so a consumer can
//! never call `task_done` for an item the count does not include yet. Joiners wait on their
//! own word with a "sleepers may exist" flag, so a `task_done` that does not reach zero, or
//! reaches it with nobody joining, makes no wake call.
//!
//! # Two counts, each written by one side
//!
//! The count of unfinished tasks is not one shared word: it is `puts − done`, two wrapping
//! counters on separate cache lines. Producers add to `puts` alone; consumers add to `done`
//! alone. A single word written by both sides cost a cache-line transfer each way on every
//! item (the queue ran at 0.15–0.17× of a plain `Queue`). Each side also keeps, on its own
//! line, the last value it read of the other side's counter:
//!
//! - `task_done` checks `done < puts_seen` (a value `puts` had, so a lower bound of it) and
//!   only when that fails reads `puts` itself (the over-release check's slow path): the error
//!   is still exact, because `puts` only grows — a failed put is undone by counting it done,
//!   never by lowering `puts`;
//! - a put checks `puts − done_seen` (an upper bound of the unfinished tasks) against the
//!   limit and reads `done` itself only when that fails, so the overflow panic still comes
//!   before the count can wrap.
//!
//! `join` reads `done` (Acquire) and then `puts`; it returns when they are equal. Reading in
//! that order, a `puts` read after `done` is at least the `done` read, so equal values mean
//! the count was zero. Counts are compared as signed differences, so a stale read can only
//! send an operation to its slow path, never make it wrong.
//!
//! # Task accounting on every outcome
//!
//! The raised count is held by a drop guard until the item is known to be in the queue; the
//! guard lowers it again on every other way out: an error (`Full`, `Busy`, `Closed`,
//! `Timeout`) and an unwind (a deadline or a `Wait` backend that panics while a `put` waits).
//! The guard is released, and the count kept, right after the item went in and before the
//! consumers are woken, so a `Wait` backend that panics while waking them cannot undo the
//! count of an item that is inside. An item evicted by `force_push` counts as done. A
//! `task_done` whose wake of the joiners panics has still counted its task as done.

use super::{
    block_on, wake_if_sleepers, Closed, Drain, GetError, PushError, PutError, Queue, TryPopError,
    Stuck, TryIter, TryPushError,
};
use crate::cache_padded::CachePadded;
use crate::sync::atomic::{
    AtomicU32, AtomicUsize,
    Ordering::{Acquire, Relaxed, Release, SeqCst},
};
use crate::sync::const_fn;
use crate::wait::{DefaultWait, Forever, Wait};
use crate::{Deadline, WaitTimeoutResult};
use core::fmt;

/// The largest number of unfinished tasks; one more panics. A quarter of the `usize` range:
/// the count is a difference of two wrapping counters read as a signed number, and even many
/// threads overshooting at once before they panic stay far from its sign.
const MAX_TASKS: usize = usize::MAX / 4;

/// `a − b` of two wrapping counters, as a signed number.
#[inline(always)]
fn diff(a: usize, b: usize) -> isize {
    a.wrapping_sub(b) as isize
}

/// [`JoinableQueue::task_done`] was called more times than items were put.
///
/// # Examples
///
/// ```
/// use baresync::{JoinableQueue, TaskDoneError};
///
/// static Q: JoinableQueue<u8, 2> = JoinableQueue::new();
/// assert_eq!(Q.task_done(), Err(TaskDoneError));
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Default)]
pub struct TaskDoneError;

impl fmt::Display for TaskDoneError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("task_done() called more times than there were items put")
    }
}

impl core::error::Error for TaskDoneError {}

/// A [`Queue`] that also counts unfinished tasks, so that a producer can wait until every item
/// it put has been processed ([`join`](JoinableQueue::join)).
///
/// Consumers call [`task_done`](JoinableQueue::task_done) once per item they got, when they
/// have finished with it.
///
/// # Examples
///
/// ```
/// use baresync::JoinableQueue;
/// use std::sync::atomic::{AtomicU32, Ordering::Relaxed};
///
/// static WORK: JoinableQueue<u32, 4> = JoinableQueue::new();
/// static DONE: AtomicU32 = AtomicU32::new(0);
///
/// let worker = std::thread::spawn(|| {
///     while let Ok(n) = WORK.get() {
///         DONE.fetch_add(n, Relaxed);
///         WORK.task_done().unwrap();
///     }
/// });
/// for n in 1..=10 {
///     WORK.put(n).unwrap();
/// }
/// WORK.join(); // every item processed
/// assert_eq!(DONE.load(Relaxed), 55);
/// WORK.close(); // stop the worker
/// worker.join().unwrap();
/// ```
#[repr(C)]
pub struct JoinableQueue<T, const N: usize, W = DefaultWait> {
    queue: Queue<T, N, W>,
    /// Written by producers only.
    put_side: CachePadded<PutSide>,
    /// Written by consumers only (and by a put whose item did not go in, undoing its count).
    done_side: CachePadded<DoneSide>,
    /// Joiners sleep here. Bit 0: sleepers may exist · bits 1..: epoch
    joiners: AtomicU32,
}

/// The producers' half of the task count.
#[repr(C)]
struct PutSide {
    /// Items counted by puts, wrapping; raised before an item enters the queue, never
    /// lowered.
    puts: AtomicUsize,
    /// A value `done` had: `puts − done_seen` is at least the number of unfinished tasks
    /// (the overflow check's fast path).
    done_seen: AtomicUsize,
}

/// The consumers' half of the task count.
#[repr(C)]
struct DoneSide {
    /// Tasks done, wrapping: `task_done`s, and puts undone. Never above `puts`.
    done: AtomicUsize,
    /// A value `puts` had: `task_done` may count up to it without reading `puts` (the
    /// over-release check's fast path).
    puts_seen: AtomicUsize,
}

impl<T, const N: usize> JoinableQueue<T, N> {
    const_fn! {
        /// A new, empty, open queue with no unfinished task; usable in a `static`.
        ///
        /// As with [`Queue::new`], `N = 0` does not compile.
        ///
        /// # Examples
        ///
        /// ```
        /// use baresync::{Futex, JoinableQueue};
        ///
        /// static Q: JoinableQueue<u32, 8, Futex> = JoinableQueue::with_wait();
        /// assert_eq!(Q.unfinished_tasks(), 0);
        ///
        /// let local = JoinableQueue::<u8, 2>::new(); // the backend needs no annotation
        /// local.put(1).unwrap();
        /// assert_eq!(local.unfinished_tasks(), 1);
        /// ```
        #[inline]
        pub const fn new() -> Self {
            Self::with_wait()
        }
    }
}

impl<T, const N: usize, W: Wait> JoinableQueue<T, N, W> {
    const_fn! {
        /// Like [`new`](JoinableQueue::new), with the wait backend `W` named by the type;
        /// usable in a `static`. (`new` builds the default backend,
        /// [`DefaultWait`](crate::wait::DefaultWait): `rustc` does not use a type parameter's
        /// default to infer it, so one constructor cannot serve both.)
        ///
        /// # Examples
        ///
        /// ```
        /// use baresync::{JoinableQueue, Spin};
        ///
        /// static JOBS: JoinableQueue<u32, 4, Spin> = JoinableQueue::with_wait();
        /// JOBS.put(1).unwrap();
        /// assert_eq!(JOBS.unfinished_tasks(), 1);
        /// ```
        #[inline]
        pub const fn with_wait() -> Self {
            JoinableQueue {
                queue: Queue::with_wait(),
                put_side: CachePadded::new(PutSide {
                    puts: AtomicUsize::new(0),
                    done_seen: AtomicUsize::new(0),
                }),
                done_side: CachePadded::new(DoneSide {
                    done: AtomicUsize::new(0),
                    puts_seen: AtomicUsize::new(0),
                }),
                joiners: AtomicU32::new(0),
            }
        }
    }

    /// `(puts, done)`, read so that `puts − done` is a count the tasks really had: `done`
    /// first, with Acquire, then `puts`.
    #[inline]
    fn counts(&self) -> (usize, usize) {
        // ORDERING: Acquire pairs with the Release compare-and-swap in `finish_task` and
        // `finish_task_slow` (every change of `done` is a read-modify-write, so reading one
        // value synchronizes with every earlier change): the consumers' processing
        // happens-before `join` returns, and the puts of the items they finished (and their
        // reads of `puts`) happen-before the load of `puts` below, which therefore reads at
        // least `done`.
        let done = self.done_side.done.load(Acquire);
        // ORDERING: Relaxed: after the Acquire load above in program order; see there.
        let puts = self.put_side.puts.load(Relaxed);
        (puts, done)
    }

    /// Raises the count of unfinished tasks before an item is queued; the guard lowers it
    /// again unless [`TaskGuard::keep`] is called once the item is in.
    #[inline]
    fn add_task(&self) -> TaskGuard<'_, T, N, W> {
        // ORDERING: Relaxed: the count only has to include the item before the item can be
        // taken, which the queue's own hand-off (sequenced after this) guarantees.
        let before = self.put_side.puts.fetch_add(1, Relaxed);
        // ORDERING: Relaxed: any value `done` had bounds the count from above.
        let done_seen = self.put_side.done_seen.load(Relaxed);
        if before.wrapping_sub(done_seen) >= MAX_TASKS {
            self.check_overflow();
        }
        TaskGuard(self)
    }

    /// The count may be near the limit (or `done_seen` is stale): counts exactly, panics
    /// (after undoing this put's count) if there are too many, else refreshes `done_seen`.
    #[cold]
    #[inline(never)]
    fn check_overflow(&self) {
        let (puts, done) = self.counts();
        if diff(puts, done) > MAX_TASKS as isize {
            let _ = self.finish_task();
            panic!("JoinableQueue: too many unfinished tasks (more than usize::MAX / 4)");
        }
        // ORDERING: Relaxed: a bound for the fast path only; a stale one sends it here.
        self.put_side.done_seen.store(done, Relaxed);
    }

    /// Lowers the count after an item was processed (or failed to enter the queue); wakes
    /// the joiners when it may have reached zero.
    #[inline]
    fn finish_task(&self) -> Result<(), TaskDoneError> {
        let side = &self.done_side;
        // ORDERING: Relaxed: only the value to start the compare-and-swap loop from.
        let mut done = side.done.load(Relaxed);
        loop {
            // ORDERING: Relaxed: any value `puts` had is a lower bound of it; a stale one
            // only sends us to the slow path.
            let mut left = diff(side.puts_seen.load(Relaxed), done);
            if left <= 0 && Queue::<T, N, W>::POSITIONS_COUNT {
                // `puts_seen` is used up (a queue that runs nearly empty uses it up on every
                // item): before reading `puts`, the producers' line, try the count of items
                // taken out of the queue, which the consumers keep anyway. Every item taken
                // was counted in `puts` before it went in, so it is a lower bound of `puts`.
                // It counts modulo 2^(BITS-1), as positions wrap: compared as such.
                // ORDERING: Relaxed: any value `head` had is a lower bound, as above. (The
                // consumer finishing its own item has claimed it with a compare-and-swap on
                // `head`, so it reads that claim or a later one.)
                let taken = self.queue.head.load(Relaxed);
                left = ((taken.wrapping_sub(done) << 1) as isize) >> 1;
            }
            if left <= 0 {
                return self.finish_task_slow();
            }
            match self.count_done(done) {
                Ok(_) => {
                    if left == 1 {
                        self.wake_joiners();
                    }
                    return Ok(());
                }
                Err(now) => done = now,
            }
        }
    }

    /// `task_done` found no task left by `puts_seen`: reads `puts` itself; the error if there
    /// is really none.
    #[cold]
    #[inline(never)]
    fn finish_task_slow(&self) -> Result<(), TaskDoneError> {
        loop {
            // The Acquire load of `done` in `counts` matters here too: a consumer finishing
            // an item it holds must not read a `puts` older than the items finished before
            // it, or it would report a false over-release.
            let (puts, done) = self.counts();
            let left = diff(puts, done);
            if left <= 0 {
                return Err(TaskDoneError);
            }
            // ORDERING: Relaxed: a bound for the fast path only.
            self.done_side.puts_seen.store(puts, Relaxed);
            // Failure (a spurious one included): `counts` reloads.
            if self.count_done(done).is_ok() {
                if left == 1 {
                    self.wake_joiners();
                }
                return Ok(());
            }
        }
    }

    /// The compare-and-swap that counts one more task done, from `done`.
    #[inline(always)]
    fn count_done(&self, done: usize) -> Result<usize, usize> {
        let new = done.wrapping_add(1);
        if W::WAKE_IS_NOOP {
            // ORDERING: Release pairs with the Acquire load in `counts`: whatever the
            // consumer did with the item happens-before `join` returns. Failure: Relaxed, the
            // callers reload.
            self.done_side
                .done
                .compare_exchange_weak(done, new, Release, Relaxed)
        } else {
            // ORDERING: SeqCst: Release as above, and the claim that `wake_joiners`' SeqCst
            // load is ordered after, against the SeqCst fence of a joiner's `announce`: a
            // joiner whose re-check read `done` before this is seen asleep (see
            // `wake_if_sleepers`; no loom model can show the SeqCst, loom checks the fence
            // form, see docs/memory-ordering.md). Failure: Relaxed, as above.
            self.done_side
                .done
                .compare_exchange_weak(done, new, SeqCst, Relaxed)
        }
    }

    /// The count may have reached zero: wakes the joiners, if any may sleep. (A `task_done`
    /// that counted up to the last `puts` it knew of; if more were put since, a woken joiner
    /// finds the count above zero and sleeps again.) Ordered after the SeqCst `count_done`
    /// that lowered the count; joiners sleep only while the count is above zero, so no
    /// other change needs a wake.
    #[inline]
    fn wake_joiners(&self) {
        wake_if_sleepers::<W>(&self.joiners);
    }


    /// Marks one item taken from the queue as processed.
    ///
    /// # Errors
    ///
    /// [`TaskDoneError`] if it was called more times than items were put; the count is left
    /// unchanged then.
    ///
    /// # Examples
    ///
    /// ```
    /// use baresync::JoinableQueue;
    ///
    /// static Q: JoinableQueue<&str, 2> = JoinableQueue::new();
    /// Q.put("job").unwrap();
    /// let job = Q.get().unwrap();
    /// assert_eq!(Q.unfinished_tasks(), 1);
    /// Q.task_done().unwrap();
    /// assert_eq!(Q.unfinished_tasks(), 0);
    /// assert!(Q.task_done().is_err());
    /// ```
    #[cfg_attr(all(feature = "lockdep", not(baresync_loom)), track_caller)]
    pub fn task_done(&self) -> Result<(), TaskDoneError> {
        lockdep_hook! { crate::lockdep::task_done(crate::lockdep::key(&self.joiners)) }
        self.finish_task()
    }

    /// How many items were put and not yet marked done (a snapshot).
    ///
    /// # Examples
    ///
    /// ```
    /// static Q: baresync::JoinableQueue<u8, 2> = baresync::JoinableQueue::new();
    /// Q.push(1).unwrap();
    /// assert_eq!(Q.unfinished_tasks(), 1);
    /// ```
    pub fn unfinished_tasks(&self) -> usize {
        let (puts, done) = self.counts();
        diff(puts, done).max(0) as usize
    }

    /// No unfinished task: `join` may return.
    #[inline]
    fn all_done(&self) -> bool {
        let (puts, done) = self.counts();
        diff(puts, done) <= 0
    }

    fn join_slow<D: Deadline>(&self, deadline: Option<&mut D>) -> bool {
        block_on::<W, D, _>(&self.joiners, deadline, || {
            if self.all_done() {
                Ok(())
            } else {
                Err(Stuck::Nothing)
            }
        })
        .is_some()
    }

    /// Waits until every item put so far has been marked done with
    /// [`task_done`](JoinableQueue::task_done). Returns at once if there is none; may be
    /// called any number of times, by any number of threads.
    ///
    /// # Examples
    ///
    /// ```
    /// use baresync::JoinableQueue;
    ///
    /// static Q: JoinableQueue<u32, 4> = JoinableQueue::new();
    /// Q.join(); // nothing put: returns at once
    /// Q.put(1).unwrap();
    /// let worker = std::thread::spawn(|| {
    ///     let _ = Q.get().unwrap();
    ///     Q.task_done().unwrap();
    /// });
    /// Q.join();
    /// assert_eq!(Q.unfinished_tasks(), 0);
    /// worker.join().unwrap();
    /// ```
    #[cfg_attr(all(feature = "lockdep", not(baresync_loom)), track_caller)]
    pub fn join(&self) {
        lockdep_hook! { crate::lockdep::before_acquire(crate::lockdep::key(&self.joiners), crate::lockdep::TASK) }
        if !self.all_done() {
            self.join_slow(None::<&mut Forever>);
        }
    }

    /// Like [`join`](JoinableQueue::join), but gives up once `deadline` expires;
    /// [`timed_out`](WaitTimeoutResult::timed_out) if a task was still unfinished then.
    ///
    /// # Examples
    ///
    /// ```
    /// use baresync::JoinableQueue;
    ///
    /// static Q: JoinableQueue<u32, 4> = JoinableQueue::new();
    /// Q.put(1).unwrap();
    /// assert!(Q.join_until(|| true).timed_out());
    /// Q.get().unwrap();
    /// Q.task_done().unwrap();
    /// assert!(!Q.join_until(|| true).timed_out());
    /// ```
    pub fn join_until(&self, mut deadline: impl Deadline) -> WaitTimeoutResult {
        WaitTimeoutResult::new(!self.all_done() && !self.join_slow(Some(&mut deadline)))
    }

    /// Like [`join`](JoinableQueue::join), but waits at most `timeout`;
    /// [`timed_out`](WaitTimeoutResult::timed_out) if a task was still unfinished then.
    ///
    /// Needs feature `std` (a default feature).
    ///
    /// # Examples
    ///
    /// ```
    /// use baresync::{Futex, JoinableQueue};
    /// use std::time::Duration;
    ///
    /// static Q: JoinableQueue<u32, 4, Futex> = JoinableQueue::with_wait();
    /// Q.put(1).unwrap();
    /// assert!(Q.join_timeout(Duration::from_millis(5)).timed_out());
    /// ```
    #[cfg(feature = "std")]
    #[cfg_attr(docsrs, doc(cfg(feature = "std")))]
    pub fn join_timeout(&self, timeout: core::time::Duration) -> WaitTimeoutResult {
        self.join_until(crate::deadline::Timeout::after(timeout))
    }

    /// [`Queue::push`], counting the item as an unfinished task.
    ///
    /// # Errors
    ///
    /// As [`Queue::push`]; the count is unchanged then.
    ///
    /// # Examples
    ///
    /// ```
    /// static Q: baresync::JoinableQueue<u8, 1> = baresync::JoinableQueue::new();
    /// assert!(Q.push(1).is_ok());
    /// assert!(Q.push(2).is_err());
    /// assert_eq!(Q.unfinished_tasks(), 1);
    /// ```
    #[cfg_attr(all(feature = "lockdep", not(baresync_loom)), track_caller)]
    pub fn push(&self, value: T) -> Result<(), PushError<T>> {
        lockdep_hook! { crate::lockdep::signal(crate::lockdep::key(&self.queue.words.not_empty), "Queue (waiting for an item)") }
        let task = self.add_task();
        self.queue.push_raw(value)?;
        task.keep();
        self.queue.wake_consumers();
        Ok(())
    }

    /// [`Queue::try_push`], counting the item as an unfinished task; never waits.
    ///
    /// # Errors
    ///
    /// As [`Queue::try_push`]; the count is unchanged then.
    ///
    /// # Examples
    ///
    /// ```
    /// static Q: baresync::JoinableQueue<u8, 1> = baresync::JoinableQueue::new();
    /// assert!(Q.try_push(1).is_ok());
    /// assert!(Q.try_push(2).unwrap_err().is_full());
    /// assert_eq!(Q.unfinished_tasks(), 1);
    /// ```
    #[cfg_attr(all(feature = "lockdep", not(baresync_loom)), track_caller)]
    pub fn try_push(&self, value: T) -> Result<(), TryPushError<T>> {
        lockdep_hook! { crate::lockdep::signal(crate::lockdep::key(&self.queue.words.not_empty), "Queue (waiting for an item)") }
        let task = self.add_task();
        self.queue.try_push_raw(value)?;
        task.keep();
        self.queue.wake_consumers();
        Ok(())
    }

    /// [`Queue::force_push`], counting the new item as an unfinished task; an evicted item
    /// counts as done (it will never be processed through the queue).
    ///
    /// # Errors
    ///
    /// As [`Queue::force_push`]; the count is unchanged then.
    ///
    /// # Examples
    ///
    /// ```
    /// static Q: baresync::JoinableQueue<u8, 1> = baresync::JoinableQueue::new();
    /// assert_eq!(Q.force_push(1), Ok(None));
    /// assert_eq!(Q.force_push(2), Ok(Some(1)));
    /// assert_eq!(Q.unfinished_tasks(), 1);
    /// ```
    #[cfg_attr(all(feature = "lockdep", not(baresync_loom)), track_caller)]
    pub fn force_push(&self, value: T) -> Result<Option<T>, Closed<T>> {
        lockdep_hook! { crate::lockdep::signal(crate::lockdep::key(&self.queue.words.not_empty), "Queue (waiting for an item)") }
        let task = self.add_task();
        let evicted = self.queue.force_push_raw(value)?;
        if evicted.is_none() {
            task.keep();
        } else {
            // The evicted item is done: the guard lowers the count by it, and the new item
            // takes its place in the count.
            drop(task);
        }
        self.queue.wake_consumers();
        Ok(evicted)
    }

    /// [`Queue::put`], counting the item as an unfinished task.
    ///
    /// # Errors
    ///
    /// As [`Queue::put`]; the count is unchanged then (also if `W` panics while it waits).
    ///
    /// # Examples
    ///
    /// ```
    /// static Q: baresync::JoinableQueue<u8, 1> = baresync::JoinableQueue::new();
    /// Q.put(1).unwrap();
    /// assert_eq!(Q.unfinished_tasks(), 1);
    /// ```
    #[cfg_attr(all(feature = "lockdep", not(baresync_loom)), track_caller)]
    pub fn put(&self, value: T) -> Result<(), Closed<T>> {
        lockdep_hook! { crate::lockdep::before_acquire(crate::lockdep::key(&self.queue.words.not_full), "Queue (waiting for room)"); crate::lockdep::signal(crate::lockdep::key(&self.queue.words.not_empty), "Queue (waiting for an item)") }
        let task = self.add_task();
        if let Err(e) = self.queue.put_raw(value, None::<&mut Forever>) {
            return Err(Closed(e.into_inner()));
        }
        task.keep();
        self.queue.wake_consumers();
        Ok(())
    }

    /// [`Queue::put_until`], counting the item as an unfinished task.
    ///
    /// # Errors
    ///
    /// As [`Queue::put_until`]; the count is unchanged then.
    ///
    /// # Panics
    ///
    /// If `deadline` (or `W`) panics, the panic propagates, the item is dropped (once) and
    /// the count is unchanged: [`join`](JoinableQueue::join) does not wait for it.
    ///
    /// # Examples
    ///
    /// ```
    /// use baresync::{JoinableQueue, PutError};
    ///
    /// static Q: JoinableQueue<u8, 1> = JoinableQueue::new();
    /// Q.put(1).unwrap();
    /// assert_eq!(Q.put_until(2, || true), Err(PutError::Timeout(2)));
    /// assert_eq!(Q.unfinished_tasks(), 1);
    /// ```
    #[cfg_attr(all(feature = "lockdep", not(baresync_loom)), track_caller)]
    pub fn put_until(&self, value: T, mut deadline: impl Deadline) -> Result<(), PutError<T>> {
        lockdep_hook! { crate::lockdep::signal(crate::lockdep::key(&self.queue.words.not_empty), "Queue (waiting for an item)") }
        let task = self.add_task();
        self.queue.put_raw(value, Some(&mut deadline))?;
        task.keep();
        self.queue.wake_consumers();
        Ok(())
    }

    /// [`Queue::put_timeout`], counting the item as an unfinished task.
    ///
    /// Needs feature `std` (a default feature).
    ///
    /// # Errors
    ///
    /// As [`Queue::put_timeout`]; the count is unchanged then.
    ///
    /// # Examples
    ///
    /// ```
    /// use baresync::{Futex, JoinableQueue};
    /// use std::time::Duration;
    ///
    /// static Q: JoinableQueue<u8, 1, Futex> = JoinableQueue::with_wait();
    /// assert!(Q.put_timeout(1, Duration::from_millis(5)).is_ok());
    /// assert!(Q.put_timeout(2, Duration::from_millis(5)).is_err());
    /// ```
    #[cfg(feature = "std")]
    #[cfg_attr(docsrs, doc(cfg(feature = "std")))]
    #[cfg_attr(all(feature = "lockdep", not(baresync_loom)), track_caller)]
    pub fn put_timeout(&self, value: T, timeout: core::time::Duration) -> Result<(), PutError<T>> {
        self.put_until(value, crate::deadline::Timeout::after(timeout))
    }

    /// [`Queue::drain`]: the items inside now, oldest first. Each item taken still needs its
    /// [`task_done`](JoinableQueue::task_done), as after [`pop`](JoinableQueue::pop).
    ///
    /// # Examples
    ///
    /// ```
    /// let q = baresync::JoinableQueue::<u8, 4>::new();
    /// q.put(1).unwrap();
    /// assert_eq!(q.drain().collect::<Vec<_>>(), [1]);
    /// q.task_done().unwrap();
    /// ```
    pub fn drain(&self) -> Drain<'_, T, N, W> {
        self.queue.drain()
    }

    /// [`Queue::try_iter`]: items until the queue is found empty or busy; never waits. Each
    /// item taken still needs its [`task_done`](JoinableQueue::task_done).
    ///
    /// # Examples
    ///
    /// ```
    /// let q = baresync::JoinableQueue::<u8, 4>::new();
    /// q.put(1).unwrap();
    /// assert_eq!(q.try_iter().count(), 1);
    /// q.task_done().unwrap();
    /// ```
    pub fn try_iter(&self) -> TryIter<'_, T, N, W> {
        self.queue.try_iter()
    }

    /// [`Queue::pop`]; call [`task_done`](JoinableQueue::task_done) when finished with the item.
    ///
    /// # Examples
    ///
    /// ```
    /// static Q: baresync::JoinableQueue<u8, 1> = baresync::JoinableQueue::new();
    /// Q.push(1).unwrap();
    /// assert_eq!(Q.pop(), Some(1));
    /// Q.task_done().unwrap();
    /// ```
    #[cfg_attr(all(feature = "lockdep", not(baresync_loom)), track_caller)]
    pub fn pop(&self) -> Option<T> {
        let value = self.queue.pop()?;
        lockdep_hook! { crate::lockdep::task_taken(crate::lockdep::key(&self.joiners)) }
        Some(value)
    }

    /// [`Queue::try_pop`]; never waits. Call [`task_done`](JoinableQueue::task_done) when
    /// finished with the item.
    ///
    /// # Errors
    ///
    /// As [`Queue::try_pop`].
    ///
    /// # Examples
    ///
    /// ```
    /// use baresync::{JoinableQueue, TryPopError};
    ///
    /// static Q: JoinableQueue<u8, 1> = JoinableQueue::new();
    /// assert_eq!(Q.try_pop(), Err(TryPopError::Empty));
    /// Q.push(1).unwrap();
    /// assert_eq!(Q.try_pop(), Ok(1));
    /// Q.task_done().unwrap();
    /// ```
    #[cfg_attr(all(feature = "lockdep", not(baresync_loom)), track_caller)]
    pub fn try_pop(&self) -> Result<T, TryPopError> {
        let value = self.queue.try_pop()?;
        lockdep_hook! { crate::lockdep::task_taken(crate::lockdep::key(&self.joiners)) }
        Ok(value)
    }

    /// [`Queue::get`]; call [`task_done`](JoinableQueue::task_done) when finished with the item.
    ///
    /// # Errors
    ///
    /// As [`Queue::get`].
    ///
    /// # Examples
    ///
    /// ```
    /// static Q: baresync::JoinableQueue<u8, 1> = baresync::JoinableQueue::new();
    /// Q.put(1).unwrap();
    /// assert_eq!(Q.get(), Ok(1));
    /// Q.task_done().unwrap();
    /// ```
    #[cfg_attr(all(feature = "lockdep", not(baresync_loom)), track_caller)]
    pub fn get(&self) -> Result<T, Closed> {
        let value = self.queue.get()?;
        lockdep_hook! { crate::lockdep::task_taken(crate::lockdep::key(&self.joiners)) }
        Ok(value)
    }

    /// [`Queue::get_until`].
    ///
    /// # Errors
    ///
    /// As [`Queue::get_until`].
    ///
    /// # Examples
    ///
    /// ```
    /// use baresync::{GetError, JoinableQueue};
    ///
    /// static Q: JoinableQueue<u8, 1> = JoinableQueue::new();
    /// assert_eq!(Q.get_until(|| true), Err(GetError::Timeout));
    /// ```
    #[cfg_attr(all(feature = "lockdep", not(baresync_loom)), track_caller)]
    pub fn get_until(&self, deadline: impl Deadline) -> Result<T, GetError> {
        let value = self.queue.get_until(deadline)?;
        lockdep_hook! { crate::lockdep::task_taken(crate::lockdep::key(&self.joiners)) }
        Ok(value)
    }

    /// [`Queue::get_timeout`].
    ///
    /// Needs feature `std` (a default feature).
    ///
    /// # Errors
    ///
    /// As [`Queue::get_timeout`].
    ///
    /// # Examples
    ///
    /// ```
    /// use baresync::{GetError, JoinableQueue};
    /// use std::time::Duration;
    ///
    /// static Q: JoinableQueue<u8, 1> = JoinableQueue::new();
    /// assert_eq!(Q.get_timeout(Duration::from_millis(1)), Err(GetError::Timeout));
    /// ```
    #[cfg(feature = "std")]
    #[cfg_attr(docsrs, doc(cfg(feature = "std")))]
    #[cfg_attr(all(feature = "lockdep", not(baresync_loom)), track_caller)]
    pub fn get_timeout(&self, timeout: core::time::Duration) -> Result<T, GetError> {
        self.get_until(crate::deadline::Timeout::after(timeout))
    }

    /// [`Queue::close`]: later puts fail, waiting gets drain what is left and then fail.
    /// Joining is not affected: `join` still waits for the tasks put before the close.
    ///
    /// # Examples
    ///
    /// ```
    /// static Q: baresync::JoinableQueue<u8, 1> = baresync::JoinableQueue::new();
    /// Q.close();
    /// assert!(Q.is_closed());
    /// assert!(Q.put(1).is_err());
    /// assert_eq!(Q.unfinished_tasks(), 0);
    /// ```
    pub fn close(&self) {
        self.queue.close();
    }

    /// [`Queue::is_closed`].
    ///
    /// # Examples
    ///
    /// ```
    /// static Q: baresync::JoinableQueue<u8, 1> = baresync::JoinableQueue::new();
    /// assert!(!Q.is_closed());
    /// ```
    pub fn is_closed(&self) -> bool {
        self.queue.is_closed()
    }

    /// [`Queue::len`]: the items in the queue (not the unfinished tasks).
    ///
    /// # Examples
    ///
    /// ```
    /// static Q: baresync::JoinableQueue<u8, 2> = baresync::JoinableQueue::new();
    /// Q.push(1).unwrap();
    /// assert_eq!(Q.len(), 1);
    /// ```
    pub fn len(&self) -> usize {
        self.queue.len()
    }

    /// [`Queue::is_empty`].
    ///
    /// # Examples
    ///
    /// ```
    /// static Q: baresync::JoinableQueue<u8, 2> = baresync::JoinableQueue::new();
    /// assert!(Q.is_empty());
    /// ```
    pub fn is_empty(&self) -> bool {
        self.queue.is_empty()
    }

    /// [`Queue::is_full`].
    ///
    /// # Examples
    ///
    /// ```
    /// static Q: baresync::JoinableQueue<u8, 1> = baresync::JoinableQueue::new();
    /// Q.push(1).unwrap();
    /// assert!(Q.is_full());
    /// ```
    pub fn is_full(&self) -> bool {
        self.queue.is_full()
    }

    /// The capacity, `N`.
    ///
    /// # Examples
    ///
    /// ```
    /// static Q: baresync::JoinableQueue<u8, 3> = baresync::JoinableQueue::new();
    /// assert_eq!(Q.capacity(), 3);
    /// ```
    pub const fn capacity(&self) -> usize {
        N
    }
}

/// One unfinished task counted for an item on its way into the queue: lowers the count again
/// when dropped (an error, an unwind), unless [`keep`](TaskGuard::keep) says the item went in.
struct TaskGuard<'a, T, const N: usize, W: Wait>(&'a JoinableQueue<T, N, W>);

impl<T, const N: usize, W: Wait> TaskGuard<'_, T, N, W> {
    /// The item is in the queue: its task stays counted.
    #[inline]
    fn keep(self) {
        core::mem::forget(self);
    }
}

impl<T, const N: usize, W: Wait> Drop for TaskGuard<'_, T, N, W> {
    #[inline]
    fn drop(&mut self) {
        // The count includes this task, so it is not zero.
        let _ = self.0.finish_task();
    }
}

impl<T, const N: usize, W: Wait> Default for JoinableQueue<T, N, W> {
    fn default() -> Self {
        Self::with_wait()
    }
}

impl<T, const N: usize, W: Wait> fmt::Debug for JoinableQueue<T, N, W> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("JoinableQueue")
            .field("len", &self.len())
            .field("capacity", &N)
            .field("closed", &self.is_closed())
            .field("unfinished_tasks", &self.unfinished_tasks())
            .finish_non_exhaustive()
    }
}

#[cfg(all(test, not(baresync_loom)))]
mod tests {
    use super::*;

    #[test]
    fn counts_tasks() {
        let q: JoinableQueue<u32, 2> = JoinableQueue::new();
        assert!(!q.join_until(|| true).timed_out());
        q.put(1).unwrap();
        q.push(2).unwrap();
        assert!(q.push(3).is_err());
        assert_eq!(q.put_until(3, || true), Err(PutError::Timeout(3)));
        assert_eq!(q.unfinished_tasks(), 2);
        assert!(q.join_until(|| true).timed_out());
        assert_eq!(q.get(), Ok(1));
        q.task_done().unwrap();
        assert_eq!(q.force_push(4), Ok(None));
        assert_eq!(q.force_push(5), Ok(Some(2)));
        assert_eq!(q.unfinished_tasks(), 2);
        assert_eq!(q.pop(), Some(4));
        assert_eq!(q.pop(), Some(5));
        q.task_done().unwrap();
        q.task_done().unwrap();
        assert!(!q.join_until(|| true).timed_out());
        q.join();
        q.join();
        assert_eq!(q.task_done(), Err(TaskDoneError));
        assert_eq!(q.unfinished_tasks(), 0);
        q.close();
        assert_eq!(q.put(5), Err(Closed(5)));
        assert_eq!(q.force_push(5), Err(Closed(5)));
        assert_eq!(q.unfinished_tasks(), 0);
        assert!(std::format!("{q:?}").contains("unfinished_tasks: 0"));
    }

    /// The joiners' word starts near its wrap: joiners asleep across it are still woken.
    #[cfg(feature = "std")]
    #[test]
    fn joiners_epoch_wraps_around() {
        use crate::sync::atomic::Ordering::Relaxed;
        let start = (u32::MAX - 4) & !1;
        let q: JoinableQueue<u32, 1, crate::Futex> = JoinableQueue::with_wait();
        q.joiners.store(start, Relaxed);
        for i in 0..4 {
            q.put(i).unwrap();
            std::thread::scope(|s| {
                let joiner = s.spawn(|| q.join());
                // ORDERING: Relaxed: polling the sleeper flag only.
                while q.joiners.load(Relaxed) & 1 == 0 {
                    std::thread::yield_now();
                }
                assert_eq!(q.get(), Ok(i));
                q.task_done().unwrap();
                joiner.join().unwrap();
            });
        }
        assert!(q.joiners.load(Relaxed) < start, "the epoch wrapped around");
        assert_eq!(q.unfinished_tasks(), 0);
    }

    /// A panicking `wake_all` in `task_done`: the task still counts as done, and the flag is
    /// set again so the next change wakes whoever may still sleep.
    #[test]
    fn task_done_whose_wake_panics_counts_the_task_and_rearms() {
        use crate::sync::atomic::Ordering::Relaxed;
        struct PanicOnWake;
        // SAFETY: only reads the word it is given (or passes its address on); never writes it.
        unsafe impl Wait for PanicOnWake {
            fn wait(_: &AtomicU32, _: u32) {}
            fn wait_until(_: &AtomicU32, _: u32, _: &mut impl Deadline) -> bool {
                true
            }
            fn wake_one(_: &AtomicU32) {}
            fn wake_all(_: &AtomicU32) {
                panic!("injected wake panic");
            }
        }
        let q: JoinableQueue<u8, 1, PanicOnWake> = JoinableQueue::with_wait();
        q.push(1).unwrap();
        q.joiners.store(1, Relaxed); // a joiner announced itself
        assert_eq!(q.pop(), Some(1));
        let r = std::panic::catch_unwind(core::panic::AssertUnwindSafe(|| q.task_done()));
        assert!(r.is_err());
        assert_eq!(q.unfinished_tasks(), 0, "the task counts as done");
        assert!(!q.join_until(|| true).timed_out());
        assert_eq!(q.joiners.load(Relaxed) & 1, 1, "sleepers flag set again");
    }

    /// Every outcome of `try_push` keeps the count right, `Busy` included; `try_pop` changes
    /// no count.
    #[test]
    fn try_forms_keep_the_count_right_on_every_outcome() {
        use super::super::tests::{finish_pop, finish_push, stall_pop, stall_push};
        let q: JoinableQueue<u32, 1> = JoinableQueue::new();
        assert_eq!(q.try_pop(), Err(TryPopError::Empty));
        assert_eq!(q.try_push(1), Ok(()));
        assert_eq!(q.try_push(2), Err(TryPushError::Full(2)));
        assert_eq!(q.unfinished_tasks(), 1);
        // A pop in progress: the slot is busy, not full.
        let (pos, v) = stall_pop(&q.queue);
        assert_eq!(v, 1);
        assert_eq!(q.try_push(3), Err(TryPushError::Busy(3)));
        assert_eq!(q.unfinished_tasks(), 1);
        finish_pop(&q.queue, pos);
        q.task_done().unwrap();
        // A push in progress (not through `q`, so not counted): busy, not empty.
        let pos = stall_push(&q.queue);
        assert_eq!(q.try_pop(), Err(TryPopError::Busy));
        finish_push(&q.queue, pos, 4);
        assert_eq!(q.try_pop(), Ok(4));
        assert_eq!(q.unfinished_tasks(), 0);
        q.close();
        assert_eq!(q.try_push(5), Err(TryPushError::Closed(5)));
        assert_eq!(q.unfinished_tasks(), 0);
        assert!(!q.join_until(|| true).timed_out());
    }

    impl<T, const N: usize, W: Wait> JoinableQueue<T, N, W> {
        /// Sets both counters and both cached bounds to `start` (no unfinished task), and,
        /// where positions count items (`Queue::POSITIONS_COUNT`), starts the queue at the
        /// same count, as if `start` items had passed through.
        fn with_counts_at(start: usize) -> Self {
            let mut q = Self::with_wait();
            if Queue::<T, N, W>::POSITIONS_COUNT {
                q.queue = Queue::starting_at(start & super::super::POS, 0);
            }
            q.put_side.puts.store(start, Relaxed);
            q.put_side.done_seen.store(start, Relaxed);
            q.done_side.done.store(start, Relaxed);
            q.done_side.puts_seen.store(start, Relaxed);
            q
        }
    }

    /// The limit is exact: the put that makes `MAX_TASKS` unfinished tasks succeeds, the next
    /// panics and leaves the count as it was; `done_seen` far behind only costs a slow path.
    #[test]
    fn overflow_panics_with_a_message() {
        let q: JoinableQueue<u8, 2> = JoinableQueue::new();
        q.put_side.puts.store(MAX_TASKS - 1, Relaxed);
        q.push(1).unwrap();
        assert_eq!(q.unfinished_tasks(), MAX_TASKS);
        let r = std::panic::catch_unwind(core::panic::AssertUnwindSafe(|| q.push(2)));
        let msg = r.unwrap_err();
        assert!(msg
            .downcast_ref::<&str>()
            .is_some_and(|m| m.contains("too many unfinished tasks")));
        assert_eq!(q.unfinished_tasks(), MAX_TASKS);
        assert_eq!(q.len(), 1);
        assert_eq!(q.pop(), Some(1));
        q.task_done().unwrap();
        q.push(3).unwrap();
        assert_eq!(q.unfinished_tasks(), MAX_TASKS);
    }

    /// Both counters driven past their wrap, with the count and the over-release error right
    /// at every step.
    #[test]
    fn counts_wrap_around() {
        let start = usize::MAX - 5;
        let q: JoinableQueue<u32, 2> = JoinableQueue::with_counts_at(start);
        for i in 0..8 {
            assert_eq!(q.task_done(), Err(TaskDoneError));
            q.push(i).unwrap();
            q.push(i + 100).unwrap();
            assert_eq!(q.unfinished_tasks(), 2);
            assert!(q.join_until(|| true).timed_out());
            assert_eq!(q.pop(), Some(i));
            q.task_done().unwrap();
            assert_eq!(q.unfinished_tasks(), 1);
            assert!(q.join_until(|| true).timed_out());
            assert_eq!(q.pop(), Some(i + 100));
            q.task_done().unwrap();
            assert_eq!(q.unfinished_tasks(), 0);
            assert!(!q.join_until(|| true).timed_out());
        }
        assert_eq!(q.task_done(), Err(TaskDoneError));
        assert!(q.put_side.puts.load(Relaxed) < start, "puts wrapped around");
        assert!(
            q.done_side.done.load(Relaxed) < start,
            "done wrapped around"
        );
    }

    /// Cached bounds that are stale (as another thread's may be, in either direction) send an
    /// operation to its slow path and never change its outcome.
    #[test]
    fn stale_bounds_only_cost_a_slow_path() {
        // N = 3: positions do not count items, so `task_done` has `puts_seen` alone.
        let q: JoinableQueue<u32, 3> = JoinableQueue::with_counts_at(10);
        // `done_seen` ahead of `puts` (read by a producer after others put and finished more):
        // no false overflow panic.
        q.put_side.done_seen.store(1000, Relaxed);
        q.push(1).unwrap();
        q.push(2).unwrap();
        assert_eq!(q.put_side.done_seen.load(Relaxed), 10, "refreshed");
        // `puts_seen` behind: the task_done reads `puts` and succeeds.
        assert_eq!(q.done_side.puts_seen.load(Relaxed), 10);
        assert_eq!(q.pop(), Some(1));
        q.task_done().unwrap();
        assert_eq!(q.done_side.puts_seen.load(Relaxed), 12, "refreshed");
        // The fast path now has room for one more, and the over-release is still caught.
        assert_eq!(q.pop(), Some(2));
        q.task_done().unwrap();
        assert_eq!(q.task_done(), Err(TaskDoneError));
        assert_eq!(q.unfinished_tasks(), 0);
        assert!(!q.join_until(|| true).timed_out());
    }

    /// A queue that runs nearly empty (each item taken before the next is put) finishes its
    /// tasks without reading `puts` when its positions count items (a power-of-two `N`):
    /// `head` bounds `puts` from below, so `puts_seen` is never refreshed. The over-release
    /// check stays exact, across the wrap of the counts and positions too.
    #[test]
    fn task_done_after_a_pop_needs_no_read_of_puts() {
        fn check(q: JoinableQueue<u32, 2>, start: usize) {
            for i in 0..6 {
                q.push(i).unwrap();
                assert_eq!(q.get(), Ok(i));
                q.task_done().unwrap();
                assert_eq!(q.task_done(), Err(TaskDoneError));
                assert_eq!(q.unfinished_tasks(), 0);
            }
            assert_eq!(
                q.done_side.puts_seen.load(Relaxed),
                start,
                "`puts` was never read by a successful task_done"
            );
            // A failed put counts as done without going through the queue: `head` then lags
            // behind `done`, and the next task_done reads `puts` (and succeeds).
            q.push(10).unwrap();
            q.push(11).unwrap();
            assert!(q.push(12).is_err());
            assert_eq!(q.pop(), Some(10));
            q.task_done().unwrap();
            assert_eq!(q.pop(), Some(11));
            q.task_done().unwrap();
            assert_eq!(q.task_done(), Err(TaskDoneError));
        }
        check(JoinableQueue::new(), 0);
        let start = usize::MAX - 3;
        check(JoinableQueue::with_counts_at(start), start);
    }

    /// A put that fails is undone by counting it done, never by lowering `puts`, so a
    /// `puts_seen` taken while it was counted cannot let a later `task_done` over-release.
    #[test]
    fn failed_put_never_lowers_puts() {
        let q: JoinableQueue<u32, 1> = JoinableQueue::new();
        q.push(1).unwrap();
        assert!(q.push(2).is_err());
        assert_eq!(q.put_side.puts.load(Relaxed), 2);
        assert_eq!(q.done_side.done.load(Relaxed), 1);
        assert_eq!(q.unfinished_tasks(), 1);
        assert_eq!(q.pop(), Some(1));
        q.task_done().unwrap();
        assert_eq!(q.task_done(), Err(TaskDoneError));
    }
}
