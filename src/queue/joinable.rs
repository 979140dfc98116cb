//! `JoinableQueue<T, N, W>`: a [`Queue`] that counts unfinished tasks (Python's
//! `JoinableQueue`).
//!
//! Every item put raises the count of unfinished tasks; [`task_done`](JoinableQueue::task_done)
//! lowers it; [`join`](JoinableQueue::join) waits until it is zero. The count is raised when
//! the item's position is claimed, *before* the item is written, so a consumer can never call
//! `task_done` for an item the count does not include yet. Joiners wait on their own word
//! with a "sleepers may exist" flag, so a `task_done` that does not reach zero, or reaches it
//! with nobody joining, makes no wake call.
//!
//! # The queue's own `tail` counts the puts
//!
//! The count of unfinished tasks is the distance from `done` to the queue's `tail`, both
//! positions of the ring (the same numbering, [`Queue::next`] steps both). Producers write
//! nothing but the queue itself: the compare-and-swap that claims a position for an item is
//! the put's count. Consumers step `done` once per `task_done`, on the queue's consumer line,
//! beside `head` (see below). An earlier version kept its own counter of puts beside `tail`;
//! its locked increment on every put waited for the previous put's slot store to reach the
//! consumer's core (a full barrier after a store to a contended line), which cost as much as
//! the claim itself.
//!
//! - `task_done` checks that `done` is behind `head` (every position a pop claimed was claimed
//!   by a push first, so `head` bounds `tail` from below, and the consumers keep it anyway);
//!   only when that fails does it read `tail` (the over-release check's slow path). The error
//!   stays exact: `tail` only grows, and a put that fails claimed nothing.
//! - A put checks `tail − done_seen` (a value `done` had, so an upper bound of the distance)
//!   against the limit, and reads `done` only when that fails, so the overflow panic still
//!   comes long before the distance reaches the half of the position range that `behind`
//!   needs.
//!
//! - `done` shares a cache line with the queue's `head`, the line only consumers write. A
//!   consumer calls `task_done` soon after the `get` whose claim just wrote that line, so the
//!   count and the `head` it checks against are usually still in its cache: one shared counter
//!   line per item instead of two. (On its own line, `done` cost a second transfer per item
//!   when two consumers alternate; `host-runner bench`'s MPMC rows put the ratio to `Queue`
//!   at 0.55× with the lines apart and 0.68× together, when a cache-line transfer cost about
//!   160 ns, and 0.66× and 0.74× when it cost about 35 ns; docs/design.md, issue 15, sixth
//!   pass.)
//!
//! `join` reads `done` (Acquire) and then `tail`; it returns when `done` is not behind `tail`.
//! Reading in that order, a `tail` read after `done` is at least the `done` read, so equal
//! values mean the count was zero.
//!
//! # Task accounting on every outcome
//!
//! A put that does not claim a position (`Full`, `Busy`, `Closed`, `Timeout`, an unwind of a
//! deadline or a `Wait` backend while it waits) changed no count. A put that claimed one
//! cannot fail or run user code before its item is in. An item evicted by `force_push`
//! counts as done. A `task_done` whose wake of the joiners panics has still counted its task
//! as done.

use super::{
    behind, block_on, wake_if_sleepers, Closed, Drain, GetError, PushError, PutError, Queue,
    Stuck, TryIter, TryPopError, TryPushError, CLOSED, POS,
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

/// The largest distance, in positions, from `done` to `tail` (about the number of unfinished
/// tasks: exactly it for a power-of-two `N`, at most it otherwise); a put at this distance
/// panics. A quarter of the position range: positions are compared as signed differences
/// (`behind`), and even many threads overshooting at once before they panic stay far from
/// its half.
const MAX_SPAN: usize = POS / 4;

/// The distance in positions from `from` to `to` (positions wrap within `POS`).
#[inline(always)]
fn span(from: usize, to: usize) -> usize {
    to.wrapping_sub(from) & POS
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
    /// Its `tail` is the count of puts.
    queue: Queue<T, N, W>,
    /// Read by every put and `task_done`, written rarely.
    joining: CachePadded<Joining>,
}

/// What producers and consumers read on every item and write rarely.
#[repr(C)]
struct Joining {
    /// A value `done` had: `tail − done_seen` is at least the distance from `done` to `tail`
    /// (the overflow check's fast path). Written when that check fails.
    done_seen: AtomicUsize,
    /// Joiners sleep here. Bit 0: sleepers may exist · bits 1..: epoch
    joiners: AtomicU32,
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
                joining: CachePadded::new(Joining {
                    done_seen: AtomicUsize::new(0),
                    joiners: AtomicU32::new(0),
                }),
            }
        }
    }

    /// `(tail, done)`, read so that the distance between them is one the tasks really had:
    /// `done` first, with Acquire, then `tail` (without its CLOSED bit).
    #[inline]
    fn counts(&self) -> (usize, usize) {
        // ORDERING: Acquire pairs with the Release (or SeqCst) compare-and-swap in
        // `count_done` (every change of `done` is a read-modify-write, so reading one value
        // synchronizes with every earlier change): the consumers' processing happens-before
        // `join` returns, and the claims of the items they finished (and their reads of
        // `tail`) happen-before the load of `tail` below, which therefore reads at least
        // `done`.
        let done = self.queue.consumers.done.load(Acquire);
        // ORDERING: Relaxed: after the Acquire load above in program order; see there.
        let tail = self.queue.tail.load(Relaxed) & POS;
        (tail, done)
    }

    /// The overflow check of a put, before it claims a position (which is what counts it).
    #[inline]
    fn check_room_for_a_task(&self) {
        // ORDERING: Relaxed: any value `tail` had; a later claim by another producer may
        // overshoot the limit by one per producer, which `MAX_SPAN` leaves room for.
        let tail = self.queue.tail.load(Relaxed);
        // ORDERING: Relaxed: any value `done` had bounds the count from above.
        let done_seen = self.joining.done_seen.load(Relaxed);
        if span(done_seen, tail) >= MAX_SPAN && tail & CLOSED == 0 {
            self.check_overflow();
        }
    }

    /// The distance may be near the limit (or `done_seen` is stale, or ahead of the `tail`
    /// read): measures it exactly, panics if it is at the limit, else refreshes `done_seen`.
    #[cold]
    #[inline(never)]
    fn check_overflow(&self) {
        let (tail, done) = self.counts();
        if span(done, tail) >= MAX_SPAN {
            panic!("JoinableQueue: too many unfinished tasks");
        }
        // ORDERING: Relaxed: a bound for the fast path only; a stale one sends it here.
        self.joining.done_seen.store(done, Relaxed);
    }

    /// Counts one task done (an item processed, or evicted by `force_push`); wakes the
    /// joiners when the count may have reached zero.
    #[inline]
    fn finish_task(&self) -> Result<(), TaskDoneError> {
        // ORDERING: Relaxed: only the value to start the compare-and-swap loop from.
        let mut done = self.queue.consumers.done.load(Relaxed);
        loop {
            // Every position a pop claimed was claimed by a push first: `head` bounds `tail`
            // from below, and the consumers keep it anyway (the producers' `tail` is read only
            // when this fails: a `task_done` for an item not taken through the queue).
            // ORDERING: Relaxed: any value `head` had is at most `tail`; a stale one only
            // sends us to the slow path. (The consumer finishing its own item has claimed it
            // with a compare-and-swap on `head`, so it reads that claim or a later one.)
            let head = self.queue.consumers.head.load(Relaxed);
            if !behind(done, head) {
                return self.finish_task_slow();
            }
            let next = Queue::<T, N, W>::next(done);
            match self.count_done(done, next) {
                Ok(_) => {
                    if next == head {
                        self.wake_joiners();
                    }
                    return Ok(());
                }
                Err(now) => done = now,
            }
        }
    }

    /// `task_done` found `done` not behind `head`: reads `tail` itself; the error if there is
    /// really no task left.
    #[cold]
    #[inline(never)]
    fn finish_task_slow(&self) -> Result<(), TaskDoneError> {
        loop {
            // The Acquire load of `done` in `counts` matters here too: a consumer finishing
            // an item it holds must not read a `tail` older than the items finished before
            // it, or it would report a false over-release.
            let (tail, done) = self.counts();
            if !behind(done, tail) {
                return Err(TaskDoneError);
            }
            let next = Queue::<T, N, W>::next(done);
            // Failure (a spurious one included): `counts` reloads.
            if self.count_done(done, next).is_ok() {
                if next == tail {
                    self.wake_joiners();
                }
                return Ok(());
            }
        }
    }

    /// The compare-and-swap that counts one more task done, from `done` to `next`.
    #[inline(always)]
    fn count_done(&self, done: usize, next: usize) -> Result<usize, usize> {
        if W::WAKE_IS_NOOP {
            // ORDERING: Release pairs with the Acquire load in `counts`: whatever the
            // consumer did with the item happens-before `join` returns. Failure: Relaxed, the
            // callers reload.
            self.queue.consumers.done.compare_exchange_weak(done, next, Release, Relaxed)
        } else {
            // ORDERING: SeqCst: Release as above, and the claim that `wake_joiners`' SeqCst
            // load is ordered after, against the SeqCst fence of a joiner's `announce`: a
            // joiner whose re-check read `done` before this is seen asleep (see
            // `wake_if_sleepers`; no loom model can show the SeqCst, loom checks the fence
            // form, see docs/memory-ordering.md). Failure: Relaxed, as above.
            self.queue.consumers.done.compare_exchange_weak(done, next, SeqCst, Relaxed)
        }
    }

    /// The count may have reached zero: wakes the joiners, if any may sleep. (A `task_done`
    /// that stepped `done` up to the bound it checked against, `head` or `tail`; if more were
    /// put since, a woken joiner finds the count above zero and sleeps again.) Ordered after
    /// the SeqCst `count_done` that lowered the count; joiners sleep only while the count is
    /// above zero, so no other change needs a wake.
    #[inline]
    fn wake_joiners(&self) {
        wake_if_sleepers::<W>(&self.joining.joiners);
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
        lockdep_hook! { crate::lockdep::task_done(crate::lockdep::key(&self.joining.joiners)) }
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
        let (tail, done) = self.counts();
        if behind(done, tail) {
            Queue::<T, N, W>::items_between(done, tail)
        } else {
            0
        }
    }

    /// No unfinished task: `join` may return.
    #[inline]
    fn all_done(&self) -> bool {
        let (tail, done) = self.counts();
        !behind(done, tail)
    }

    fn join_slow<D: Deadline>(&self, deadline: Option<&mut D>) -> bool {
        block_on::<W, D, _>(&self.joining.joiners, deadline, |_| {
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
        lockdep_hook! { crate::lockdep::before_acquire(crate::lockdep::key(&self.joining.joiners), crate::lockdep::TASK) }
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
        self.check_room_for_a_task();
        self.queue.push_raw(value)?;
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
        self.check_room_for_a_task();
        self.queue.try_push_raw(value)?;
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
        self.check_room_for_a_task();
        let evicted = self.queue.force_push_raw(value)?;
        if evicted.is_some() {
            // The evicted item is done (its position was claimed from `head`, so `done` is
            // behind it); the new item's claim of `tail` counted the new task.
            let _ = self.finish_task();
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
        self.check_room_for_a_task();
        if let Err(e) = self.queue.put_raw(value, None::<&mut Forever>) {
            return Err(Closed(e.into_inner()));
        }
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
        self.check_room_for_a_task();
        self.queue.put_raw(value, Some(&mut deadline))?;
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
        lockdep_hook! { crate::lockdep::task_taken(crate::lockdep::key(&self.joining.joiners)) }
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
        lockdep_hook! { crate::lockdep::task_taken(crate::lockdep::key(&self.joining.joiners)) }
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
        lockdep_hook! { crate::lockdep::task_taken(crate::lockdep::key(&self.joining.joiners)) }
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
        lockdep_hook! { crate::lockdep::task_taken(crate::lockdep::key(&self.joining.joiners)) }
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
        q.joining.joiners.store(start, Relaxed);
        for i in 0..4 {
            q.put(i).unwrap();
            std::thread::scope(|s| {
                let joiner = s.spawn(|| q.join());
                // ORDERING: Relaxed: polling the sleeper flag only.
                while q.joining.joiners.load(Relaxed) & 1 == 0 {
                    std::thread::yield_now();
                }
                assert_eq!(q.get(), Ok(i));
                q.task_done().unwrap();
                joiner.join().unwrap();
            });
        }
        assert!(q.joining.joiners.load(Relaxed) < start, "the epoch wrapped around");
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
        q.joining.joiners.store(1, Relaxed); // a joiner announced itself
        assert_eq!(q.pop(), Some(1));
        let r = std::panic::catch_unwind(core::panic::AssertUnwindSafe(|| q.task_done()));
        assert!(r.is_err());
        assert_eq!(q.unfinished_tasks(), 0, "the task counts as done");
        assert!(!q.join_until(|| true).timed_out());
        assert_eq!(q.joining.joiners.load(Relaxed) & 1, 1, "sleepers flag set again");
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
        // A push in progress: busy, not empty. Its claim of `tail` counted it.
        let pos = stall_push(&q.queue);
        assert_eq!(q.unfinished_tasks(), 1);
        assert_eq!(q.try_pop(), Err(TryPopError::Busy));
        finish_push(&q.queue, pos, 4);
        assert_eq!(q.try_pop(), Ok(4));
        q.task_done().unwrap();
        assert_eq!(q.unfinished_tasks(), 0);
        q.close();
        assert_eq!(q.try_push(5), Err(TryPushError::Closed(5)));
        assert_eq!(q.unfinished_tasks(), 0);
        assert!(!q.join_until(|| true).timed_out());
    }

    impl<T, const N: usize, W: Wait> JoinableQueue<T, N, W> {
        /// A queue whose positions (and so `done` and `done_seen`) start at position `start`,
        /// as if the items before it had passed through and been done: lets tests drive
        /// the positions and the task count past their wrap.
        fn with_counts_at(start: usize) -> Self {
            let mut q = Self::with_wait();
            q.queue = Queue::starting_at(start, 0);
            q.queue.consumers.done.store(start, Relaxed);
            q.joining.done_seen.store(start, Relaxed);
            q
        }

        /// `with_counts_at(start)`, with `done` at `done` (tasks put before `start` and not
        /// yet done, as far as the count goes).
        fn with_unfinished_before(start: usize, done: usize) -> Self {
            let q = Self::with_counts_at(start);
            q.queue.consumers.done.store(done, Relaxed);
            q.joining.done_seen.store(done, Relaxed);
            q
        }
    }

    /// The limit is exact: the put that makes the distance from `done` to `tail` reach
    /// `MAX_SPAN` succeeds, the next panics and leaves the count and the queue as they were;
    /// `done_seen` far behind only costs a slow path.
    #[test]
    fn overflow_panics_with_a_message() {
        fn check<const N: usize>(start: usize, done: usize) {
            assert_eq!(span(done, start), MAX_SPAN - 1);
            let q: JoinableQueue<u8, N> = JoinableQueue::with_unfinished_before(start, done);
            let before = q.unfinished_tasks();
            q.push(1).unwrap();
            assert_eq!(q.unfinished_tasks(), before + 1);
            let r = std::panic::catch_unwind(core::panic::AssertUnwindSafe(|| q.push(2)));
            let msg = r.unwrap_err();
            assert!(msg
                .downcast_ref::<&str>()
                .is_some_and(|m| m.contains("too many unfinished tasks")));
            let r = std::panic::catch_unwind(core::panic::AssertUnwindSafe(|| q.put(2)));
            assert!(r.is_err(), "put panics too");
            assert_eq!(q.unfinished_tasks(), before + 1);
            assert_eq!(q.len(), 1);
            assert_eq!(q.pop(), Some(1));
            q.task_done().unwrap();
            q.push(3).unwrap();
            assert_eq!(q.unfinished_tasks(), before + 1);
        }
        check::<2>(MAX_SPAN - 1, 0);
        // N = 3 (LAP = 4): a position of index 0, so that the puts step by one position.
        check::<3>(1 << (usize::BITS - 3), 2);
    }

    /// The count of unfinished tasks, for a capacity whose positions skip indices (N = 3,
    /// LAP = 4), across laps: every step of `next` is one task.
    #[test]
    fn unfinished_tasks_counts_items_not_positions() {
        let q: JoinableQueue<u32, 3> = JoinableQueue::new();
        for round in 0..5 {
            for i in 0..3 {
                q.push(i).unwrap();
                assert_eq!(q.unfinished_tasks(), i as usize + 1, "round {round}");
            }
            for i in 0..3 {
                assert_eq!(q.pop(), Some(i));
                q.task_done().unwrap();
                assert_eq!(q.unfinished_tasks(), 2 - i as usize, "round {round}");
            }
            assert_eq!(q.task_done(), Err(TaskDoneError));
        }
    }

    /// Positions driven past their wrap, with the count and the over-release error right
    /// at every step, for a power-of-two capacity and one whose positions skip indices.
    #[test]
    fn counts_wrap_around() {
        fn check<const N: usize>(start: usize) {
            let q: JoinableQueue<u32, N> = JoinableQueue::with_counts_at(start);
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
            assert!(q.queue.consumers.done.load(Relaxed) < start, "done wrapped around");
        }
        check::<2>(POS - 5);
        // N = 3: LAP = 4, the last lap before the wrap starts at POS - 3.
        check::<3>(POS - 3 - 4);
    }

    /// Cached bounds that are stale (as another thread's may be, in either direction) send an
    /// operation to its slow path and never change its outcome.
    #[test]
    fn stale_bounds_only_cost_a_slow_path() {
        let q: JoinableQueue<u32, 3> = JoinableQueue::with_counts_at(8);
        // `done_seen` ahead of `tail` (read by a producer after others put and finished
        // more): no false overflow panic.
        q.joining.done_seen.store(1000, Relaxed);
        q.push(1).unwrap();
        q.push(2).unwrap();
        assert_eq!(q.joining.done_seen.load(Relaxed), 8, "refreshed");
        // Tasks done without taking their items (allowed, as in Python): `done` passes
        // `head`, the task_done reads `tail` and succeeds, and the over-release is still
        // caught.
        q.task_done().unwrap();
        q.task_done().unwrap();
        assert_eq!(q.task_done(), Err(TaskDoneError));
        assert_eq!(q.unfinished_tasks(), 0);
        assert!(!q.join_until(|| true).timed_out());
        assert_eq!(q.pop(), Some(1));
        assert_eq!(q.pop(), Some(2));
        assert_eq!(q.task_done(), Err(TaskDoneError));
    }

    /// A put that fails claims no position, so it changes no count: a later `task_done` for
    /// it is an over-release.
    #[test]
    fn failed_put_counts_nothing() {
        let q: JoinableQueue<u32, 1> = JoinableQueue::new();
        q.push(1).unwrap();
        assert!(q.push(2).is_err());
        assert_eq!(q.put_until(3, || true), Err(PutError::Timeout(3)));
        assert_eq!(q.unfinished_tasks(), 1);
        assert_eq!(q.pop(), Some(1));
        q.task_done().unwrap();
        assert_eq!(q.task_done(), Err(TaskDoneError));
        q.close();
        assert_eq!(q.put(4), Err(Closed(4)));
        assert_eq!(q.unfinished_tasks(), 0);
    }
}
