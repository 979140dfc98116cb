//! `Queue<T, N, W>`: a bounded multi-producer multi-consumer queue in a fixed array, and
//! [`JoinableQueue`], which also counts unfinished tasks.
//!
//! # Algorithm
//!
//! Dmitry Vyukov's bounded MPMC queue ("Bounded MPMC queue", 1024cores.net, 2010): an array of
//! `N` slots, each with a *stamp* saying which lap of the ring it is ready for, and two
//! positions, `tail` (producers claim it with a compare-and-swap) and `head` (consumers claim
//! it the same way). A producer that finds the slot under `tail` stamped "empty, lap L" claims
//! the position, writes the item and stamps the slot "full, lap L"; a consumer that finds the
//! slot under `head` stamped "full, lap L" claims it, moves the item out and stamps it "empty,
//! lap L + 1". The stamp is the only hand-off of the item between threads; the positions only
//! decide who owns which slot.
//!
//! A position is `lap * LAP + index` with `LAP` the smallest power of two at least `N` (and at
//! least 2), so any `N` works (no power-of-two requirement; for a power of two, positions are
//! plain counters) and positions wrap around cleanly; the top bit of `tail`
//! marks the queue closed, so that a push and [`close`](Queue::close) are ordered by the same
//! compare-and-swap and no item slips in after the close. A slot's stamp is the lap's base
//! position plus 0 (empty) or 1 (full); `LAP >= 2` keeps the two apart even for `N = 1`.
//!
//! # Guarantees
//!
//! - Each item is received exactly once; items from one producer are received in the order
//!   that producer pushed them (FIFO per producer, and overall FIFO by claimed position).
//! - Every item still inside when the queue is dropped is dropped exactly once (if one
//!   item's `drop` panics, the others are still dropped, as `Vec` does).
//! - No false "empty" or "full". A push takes effect when it claims its position (the
//!   compare-and-swap on `tail`), a pop when it claims its item (on `head`). Every operation
//!   reports the state at its point: `Full` only when `N` claimed items are inside, "empty"
//!   only when no claimed item is left. In particular a thread that pushed an item and then
//!   pops, with no other consumer, always gets an item.
//!
//! # Which form for which caller
//!
//! A slot can be *in progress*: claimed by a push that is still writing the item, or by a
//! pop that is still moving it out. What an operation does when the slot it needs is in
//! progress is what tells the forms apart:
//!
//! | form | on a slot in progress | for |
//! |---|---|---|
//! | [`try_push`](Queue::try_push) / [`try_pop`](Queue::try_pop) | returns `Busy` at once (neither `Full` nor `Empty`: retry later) | interrupt handlers, anything that must never wait |
//! | [`push`](Queue::push) / [`pop`](Queue::pop) | waits for that operation to finish, then decides | threads: linearizable, `Full`/`None` are the truth |
//! | [`put`](Queue::put) / [`get`](Queue::get) (and `*_until`, `*_timeout`) | waits, like for room or an item | threads that wait for room or an item |
//! | [`force_push`](Queue::force_push) | waits (spinning, yielding with `std`) | threads, or an interrupt handler when the queue is under a lock |
//!
//! `push` and `pop` wait only for an operation that has already started and needs no other
//! thread to finish, but the thread running it may be preempted (or be the very context an
//! interrupt handler interrupted, which would never finish): that is why interrupt handlers
//! must use the `try_` forms.
//!
//! [`len`](Queue::len), [`is_empty`](Queue::is_empty) and [`is_full`](Queue::is_full) are
//! snapshots of the claimed positions: they count an item still being written as inside and
//! one being moved out as gone, and always return a length in `0..=N`.
//!
//! # Waking
//!
//! - [`put`](Queue::put) and [`get`](Queue::get) wait through `W`; a push or pop makes a wake
//!   call only when a waiter may be asleep (two wait words, one per side, each an epoch and a
//!   "sleepers may exist" flag). With a backend whose waking is a no-op (`Spin`, `Yield`) there
//!   is no bookkeeping at all on the fast path, and waiters poll.
//! - With sleeping backends (`Futex`) the compare-and-swap that claims a position is `SeqCst`
//!   and each push and pop reads the other side's wait word with a `SeqCst` load, so that no
//!   sleeper is missed (the store-buffer pattern: "I claimed a position, is someone asleep?"
//!   against "I am going to sleep, are the positions still empty (full)?"). On x86 both cost
//!   nothing over the relaxed forms; no fence on the fast path.
//! - A waiter sleeps until woken only when the positions say empty (full). When the slot it
//!   needs is claimed by an operation still in progress (a `push` or `pop` waiting for it,
//!   or a `get`/`put` that found it so), that operation's wake is ordered after its claim
//!   only, so it may miss a waiter that saw the claim: such a waiter sleeps on the same word
//!   for at most a millisecond at a time (after its spin-and-yield budget, so only when the
//!   operation's thread was preempted), and is normally woken sooner.
//!
//! # User code and unwinding
//!
//! The queue runs user code at these points only: the deadline of the `*_until` forms, the
//! `Wait` backend's `wait`/`wait_until`/`wake_all`, and `T::drop` when the queue is dropped.
//! None of them runs while this thread owns a claimed position: a waiting operation calls them
//! only while its item is still its own (put) or before it claims one (get). So an unwind
//! leaves the queue as if the operation had not been called, and drops the item of a `put`
//! once. A wait word is a flag, not a count: an unwind out of `wait` may leave the "sleepers
//! may exist" flag set with nobody asleep, which costs the next push or pop one wake call and
//! clears it; an unwind out of `wake_all` sets the flag again, so the sleepers it may have left
//! asleep are woken by the next change. No item is ever cloned.
//!
//! # Progress
//!
//! Not lock-free in the strict sense: a thread preempted between claiming a position and
//! stamping the slot blocks that slot. Other producers and consumers keep going on the other
//! slots, but consumers cannot take *that* item (nor, with the FIFO order, any behind it once
//! they reach it), and a producer a full lap later cannot reuse the slot, until the preempted
//! thread runs again. `try_push`/`try_pop` report `Busy` in that case rather than wait;
//! `push`/`pop`/`put`/`get`/`force_push` wait. No thread ever waits for another that is not in
//! the middle of an operation.
//!
//! # More threads than cores
//!
//! With the [`Spin`](crate::Spin) backend (the default without `std`) a blocked `put`/`get` spins for its
//! whole time slice, and a thread preempted mid-operation stalls its slot for a time slice:
//! fine with one thread per core, slow when oversubscribed. `Futex` (the default with `std`)
//! sleeps instead, at the price of reading the other side's wait word on every push/pop
//! (and, off x86, `SeqCst` claims); name `Spin` for the fastest push/pop when each thread
//! owns its core, or `Yield` (spins briefly, then yields) in between.
//!
//! # Choices (and what was rejected)
//!
//! - Closed mark in `tail`, not a separate flag: a push checks it in the compare-and-swap it
//!   does anyway, so no item can enter after `close` (a separate flag leaves a window between
//!   the check and the claim, and costs a load on every push).
//! - Two forms for a slot in progress, rather than one: `try_push`/`try_pop` return `Busy`
//!   (never wait, so a preempted thread cannot stall an interrupt handler), `push`/`pop` wait
//!   for the operation in progress (as crossbeam's `ArrayQueue` does). Rejected: reporting
//!   "full"/"empty" there (Vyukov's original, and heapless's queue), which lies: a thread that
//!   pushed an item and then pops could get `None` while its item is inside.
//! - `Full` is decided by reading `head` when the slot under `tail` still holds the previous
//!   lap's item, and "empty" by reading `tail` when the slot under `head` is not yet written:
//!   relaxed loads, because coherence of each position already makes every operation that
//!   happens-before the decision visible to it (crossbeam adds a `fence(SeqCst)` there).
//! - Wait words read with a `SeqCst` load ordered after a `SeqCst` claim on the fast path
//!   (sleeping backends only), as crossbeam's and std's channels do. Rejected: a
//!   `fence(SeqCst)` after the item is published (it cost a blocking SPSC pair 3-4x its
//!   throughput: the fence waits for the store of the stamp to reach a line the other side
//!   is polling), and a read-modify-write of the word on every push/pop (bounces its cache
//!   line between producers and consumers). The price: a waiter behind an operation in
//!   progress sleeps with a time limit instead of until woken.
//! - A wake clears the sleeper flag and wakes all sleepers of that side (those that find
//!   nothing to do announce themselves again), rather than `wake_one` with a sticky flag,
//!   which would make every later push/pop pay a wake call.
//! - `force_push` claims the tail position first (so `close` still stops it), then takes the
//!   oldest item with the consumers' own compare-and-swap on `head`, so the evicted item is
//!   returned by `force_push` or popped by a consumer, never both; rejected: pop-then-push,
//!   which in MPMC may evict more than one item or lose the race for the freed slot.
//!
//! # Zero capacity
//!
//! `Queue<T, 0>` does not compile: `new` evaluates a constant assertion (`N >= 1`), reported
//! when the queue is built in a `static` or `const`, or when the program is built (a plain
//! `cargo check` of a function that is never monomorphized may not report it). A rendezvous
//! channel is a different primitive.

use crate::cache_padded::CachePadded;
use crate::sync::atomic::{
    fence, AtomicU32, AtomicUsize,
    Ordering::{Acquire, Relaxed, Release, SeqCst},
};
use crate::sync::cell::UnsafeCell;
use crate::sync::const_fn;
use crate::wait::{wait_for, Backoff, DefaultWait, Forever, PreSleep, Wait};
use crate::Deadline;
use core::fmt;
use core::marker::PhantomData;
use core::mem::MaybeUninit;

mod joinable;
pub use joinable::{JoinableQueue, TaskDoneError};

/// The top bit of `tail`: set by [`Queue::close`], after which no position can be claimed.
const CLOSED: usize = 1 << (usize::BITS - 1);
/// The bits of a position (positions wrap around within them).
const POS: usize = !CLOSED;

/// Wait words: bit 0: sleepers may exist · bits 1..: epoch, advanced by every wake and close
const SLEEPERS: u32 = 1;
/// One step of a wait word's epoch.
const EPOCH: u32 = 2;

/// The distance between the same slot's positions in consecutive laps of a queue of capacity
/// `n`: the smallest power of two at least `n` (so an index fits below it, and positions wrap
/// cleanly at `2^(BITS-1)`), and at least 2, so that a lap's "full" stamp (its base + 1) is not
/// the next lap's "empty" stamp (its base + `LAP`). For a power-of-two `n` (but 1) it is `n`:
/// positions are then plain counters and the next position is one more, which keeps `push`
/// and `pop` small (a power of two above `n`, as before, cost each a branch and a 32-bit
/// constant on Cortex-M, docs/code-size.md).
const fn lap_of(n: usize) -> usize {
    let lap = n.next_power_of_two();
    if lap < 2 {
        2
    } else {
        lap
    }
}

/// Whether position `a` is behind position `b` (positions wrap around modulo `2^(BITS-1)`).
#[inline(always)]
fn behind(a: usize, b: usize) -> bool {
    ((a.wrapping_sub(b) << 1) as isize) < 0
}

// ---------------------------------------------------------------------------------------------
// Wait words, shared with `JoinableQueue`
// ---------------------------------------------------------------------------------------------

/// Announces a sleeper on `word` and returns the value to sleep on.
///
/// The caller must re-check its condition after this and before sleeping.
#[inline]
fn announce(word: &AtomicU32) -> u32 {
    // ORDERING: Relaxed: the SeqCst fence below is the acquire side. If this reads the
    // close's epoch (or a later one), `close_word`'s Release read-modify-write heads the
    // release sequence it read from, and a fence after such a read synchronizes with it, so
    // the close's other writes (the CLOSED bit) are visible to the re-check that follows.
    let seen = word.fetch_or(SLEEPERS, Relaxed) | SLEEPERS;
    // ORDERING: SeqCst fence pairs with the SeqCst claim (a position, or a task counted
    // done) that precedes the SeqCst load of the word in `wake_if_sleepers`: either our
    // re-check sees that claim, or the waker's load sees SLEEPERS and wakes us (see there).
    fence(SeqCst);
    seen
}

/// After a *claim*, a `SeqCst` compare-and-swap that changes what the sleepers of `word`
/// wait on (a push or pop claiming a position, [`Queue::claim`]; a `task_done` counting a
/// task, `JoinableQueue::count_done`): wakes them, if any may exist. Nothing at all when
/// `W`'s waking is a no-op.
///
/// A waiter sleeps until woken only when the state it re-read after [`announce`] (the
/// positions, the task counts) says "not yet" ([`Stuck::Nothing`]), and the claim is what
/// changes that state. Suppose that re-read missed the claim: `announce`'s fence precedes the
/// re-read, which precedes the `SeqCst` claim in the single total order (C++20
/// [atomics.order] p4.3), which precedes this `SeqCst` load (both `SeqCst`, in program
/// order), so by the fence rule the load sees the waiter's SLEEPERS (or a later value, made
/// by a waker that already woke everyone). A waiter that saw the claim but not yet the item
/// (a slot in progress) is not promised a wake by this, and sleeps only with a time limit
/// ([`Stuck::InProgress`]).
///
/// On x86 the claim is a locked instruction whatever its ordering and a `SeqCst` load is a
/// plain load: this costs nothing there. The rejected alternative, a `fence(SeqCst)` after
/// the item is published and a relaxed load, stalled every push and pop until the store
/// that publishes the item reached the line the other side polls (a blocking SPSC pair ran
/// at a third to a quarter of its throughput without it, see `docs/design.md`).
#[inline(always)]
fn wake_if_sleepers<W: Wait>(word: &AtomicU32) {
    if W::WAKE_IS_NOOP {
        return;
    }
    // ORDERING: loom only. Loom treats `SeqCst` accesses as `AcqRel` (it models `SeqCst`
    // fences only), so under loom the same protocol is checked in its fence form, which the
    // C++ model also allows: this fence pairs with the one in `announce`.
    #[cfg(baresync_loom)]
    fence(SeqCst);
    // ORDERING: SeqCst pairs with the SeqCst fence in `announce`, through the SeqCst claim
    // sequenced before this (see above); and with the SeqCst `fetch_or` that re-arms the flag
    // in `wake_all_or_rearm`.
    if word.load(SeqCst) & SLEEPERS != 0 {
        wake_slow::<W>(word);
    }
}

/// Clears SLEEPERS, advances the epoch and wakes every sleeper.
///
/// Every sleeper, not one: the flag is cleared, so a sleeper left asleep would not be woken
/// by the next change. Woken threads that find nothing to do announce themselves again.
#[cold]
fn wake_slow<W: Wait>(word: &AtomicU32) {
    // ORDERING: Relaxed: the word carries no data; whoever sleeps re-checks the queue itself.
    let mut w = word.load(Relaxed);
    while w & SLEEPERS != 0 {
        // ORDERING: Relaxed, as above.
        match word.compare_exchange_weak(w, (w & !SLEEPERS).wrapping_add(EPOCH), Relaxed, Relaxed) {
            Ok(_) => {
                wake_all_or_rearm::<W>(word);
                return;
            }
            Err(now) => w = now,
        }
    }
}

/// `W::wake_all(word)` after clearing SLEEPERS; if `W` panics, sets SLEEPERS again, so that
/// the sleepers it may have left asleep are woken by the next change rather than never.
#[inline]
fn wake_all_or_rearm<W: Wait>(word: &AtomicU32) {
    struct Rearm<'a>(&'a AtomicU32);
    impl Drop for Rearm<'_> {
        fn drop(&mut self) {
            // ORDERING: SeqCst pairs with the SeqCst load in `wake_if_sleepers`: a waker
            // whose load comes after this in the single total order sees the flag and wakes.
            self.0.fetch_or(SLEEPERS, SeqCst);
        }
    }
    let rearm = Rearm(word);
    W::wake_all(word);
    core::mem::forget(rearm);
}

/// Advances the epoch of `word` unconditionally and wakes every sleeper (for `close`).
#[cold]
fn close_word<W: Wait>(word: &AtomicU32) {
    // ORDERING: Release pairs with the SeqCst fence after `announce`'s `fetch_or`: a waiter
    // that announces itself after this sees the CLOSED bit set before it (see `Queue::close`;
    // no loom model can show the need, see docs/memory-ordering.md §11).
    let mut w = word.load(Relaxed);
    loop {
        match word.compare_exchange_weak(w, (w & !SLEEPERS).wrapping_add(EPOCH), Release, Relaxed) {
            Ok(_) => break,
            Err(now) => w = now,
        }
    }
    wake_all_or_rearm::<W>(word);
}

/// Why an attempt of a blocking loop found nothing to do (see [`block_on`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Stuck {
    /// The state it waits on says "not yet" (the positions say empty or full, the tasks are
    /// not all done): whoever changes that state wakes the word's sleepers, so a waiter may
    /// sleep until woken.
    Nothing,
    /// Another thread's operation is in progress on the slot it needs (claimed, not yet
    /// written or emptied). That operation's wake is not promised to see a sleeper that
    /// announced itself after its claim (see [`wake_if_sleepers`]), so a waiter sleeps only
    /// until woken or for at most [`BACKSTOP`], then looks again.
    InProgress,
}

/// The longest sleep of a waiter stuck behind an operation in progress ([`Stuck::InProgress`])
/// before it looks again. It is reached only when that operation's thread was preempted
/// before finishing (a waiter first polls through the pre-sleep budget) and its wake missed
/// the waiter; normally that wake, or the next push or pop's, ends the sleep first.
const BACKSTOP: core::time::Duration = core::time::Duration::from_millis(1);

/// The deadline of a sleep behind an operation in progress: expires after one poll (so a
/// backend that spins or polls returns after one look), or when the caller's deadline
/// expires; `remaining` is at most [`BACKSTOP`] (so a backend that sleeps on a timeout
/// returns by then).
struct Backstop<'a, D> {
    caller: Option<&'a mut D>,
    polled: bool,
}

impl<D: Deadline> Deadline for Backstop<'_, D> {
    fn expired(&mut self) -> bool {
        if let Some(d) = self.caller.as_deref_mut() {
            if d.expired() {
                return true;
            }
        }
        core::mem::replace(&mut self.polled, true)
    }

    fn remaining(&self) -> Option<core::time::Duration> {
        let caller = self.caller.as_deref().and_then(Deadline::remaining);
        Some(caller.map_or(BACKSTOP, |r| r.min(BACKSTOP)))
    }
}

/// The blocking loop of every waiting operation, written once.
///
/// Calls `attempt` until it returns `Ok`: first spinning with [`Backoff`] (with a sleeping
/// backend, polling through the crate's pre-sleep budget), then waiting on `word` through `W`.
/// With a sleeping backend it announces itself and re-attempts before each sleep, so a claim
/// made by a thread that then calls [`wake_if_sleepers`] is never missed; when the re-attempt
/// is stuck behind an operation in progress, the sleep is bounded by [`BACKSTOP`]. With a
/// no-op-waking backend nobody advances the word, so it only lets `W` wait once (a `Yield`
/// yields) and polls again. Returns `None` when the deadline expired.
///
/// `attempt(exact)`: with `exact == false` (the polls of a sleeping backend's pre-sleep
/// budget) an attempt may answer "still stuck" from a cheap look at its own side's words
/// ([`Watch`]); the first attempt after announcing (the one that decides a sleep) and after
/// each sleep, and every attempt with a no-op-waking backend, are exact.
fn block_on<W: Wait, D: Deadline, R>(
    word: &AtomicU32,
    mut deadline: Option<&mut D>,
    mut attempt: impl FnMut(bool) -> Result<R, Stuck>,
) -> Option<R> {
    let mut backoff = Backoff::new();
    let mut pre_sleep = PreSleep::new();
    // A poll may be a cheap look (`exact == false`, see `Watch`) with a sleeping backend,
    // whose waiters look exactly after announcing themselves, before any sleep, and after
    // each sleep (so a woken waiter that gets through leaves no SLEEPERS flag behind).
    let mut exact = W::WAKE_IS_NOOP;
    loop {
        if let Ok(r) = attempt(exact) {
            return Some(r);
        }
        exact = W::WAKE_IS_NOOP;
        if let Some(d) = deadline.as_deref_mut() {
            if d.expired() {
                return None;
            }
        }
        if W::SPINS_ONLY {
            // `W` would only poll (`Spin`): back off here, this loop being the poll (the
            // smaller code; `W::wait_until` would spin one hint more).
            backoff.spin();
            continue;
        }
        if W::WAKE_IS_NOOP && !backoff.is_completed() {
            backoff.spin();
            continue;
        }
        if !W::WAKE_IS_NOOP && pre_sleep.poll() {
            continue;
        }
        if W::WAKE_IS_NOOP {
            backoff.spin();
            let mut polled = false;
            let mut once = || core::mem::replace(&mut polled, true);
            // ORDERING: Relaxed: only the value to "wait" on; `attempt` re-reads the queue.
            W::wait_until(word, word.load(Relaxed), &mut once);
            continue;
        }
        let seen = announce(word);
        match attempt(true) {
            Ok(r) => return Some(r),
            Err(Stuck::Nothing) => {
                if !wait_for::<W, D>(word, seen, deadline.as_deref_mut()) {
                    return None;
                }
                exact = true;
            }
            Err(Stuck::InProgress) => {
                let mut backstop = Backstop {
                    caller: deadline.as_deref_mut(),
                    polled: false,
                };
                // Its result says nothing the loop does not check itself: the caller's
                // deadline at the top, the state in `attempt`.
                W::wait_until(word, seen, &mut backstop);
                exact = true;
            }
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Errors
// ---------------------------------------------------------------------------------------------

/// The queue was closed: returned by [`Queue::put`] with the item that could not be put, and
/// by [`Queue::get`] (as `Closed<()>`) once the queue is closed and empty.
///
/// # Examples
///
/// ```
/// use baresync::{Closed, Queue};
///
/// static Q: Queue<u32, 4> = Queue::new();
/// Q.close();
/// assert_eq!(Q.put(7), Err(Closed(7)));
/// assert_eq!(Q.get(), Err(Closed(())));
/// ```
#[derive(Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct Closed<T = ()>(pub T);

impl<T> Closed<T> {
    /// The item that could not be put.
    ///
    /// # Examples
    ///
    /// ```
    /// assert_eq!(baresync::Closed("item").into_inner(), "item");
    /// ```
    pub fn into_inner(self) -> T {
        self.0
    }
}

impl<T> fmt::Debug for Closed<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Closed(..)")
    }
}

impl<T> fmt::Display for Closed<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("the queue is closed")
    }
}

impl<T> core::error::Error for Closed<T> {}

/// Why [`Queue::push`] gave the item back.
///
/// # Examples
///
/// ```
/// use baresync::{PushError, Queue};
///
/// static Q: Queue<u32, 1> = Queue::new();
/// assert_eq!(Q.push(1), Ok(()));
/// assert_eq!(Q.push(2), Err(PushError::Full(2)));
/// Q.close();
/// assert_eq!(Q.push(3).unwrap_err().into_inner(), 3);
/// ```
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub enum PushError<T> {
    /// The queue was full: it held `N` items that no pop had claimed.
    Full(T),
    /// The queue was closed.
    Closed(T),
}

/// Why [`Queue::put_until`] gave the item back.
///
/// # Examples
///
/// ```
/// use baresync::{PutError, Queue};
///
/// static Q: Queue<u32, 1> = Queue::new();
/// Q.put(1).unwrap();
/// assert_eq!(Q.put_until(2, || true), Err(PutError::Timeout(2)));
/// ```
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub enum PutError<T> {
    /// The deadline expired while the queue was full.
    Timeout(T),
    /// The queue was closed.
    Closed(T),
}

macro_rules! item_error {
    ($name:ident, $a:ident, $a_text:expr) => {
        impl<T> $name<T> {
            /// The item that was not queued.
            ///
            /// # Examples
            ///
            /// ```
            #[doc = concat!("let e = baresync::", stringify!($name), "::Closed(5);")]
            /// assert_eq!(e.into_inner(), 5);
            /// ```
            pub fn into_inner(self) -> T {
                match self {
                    $name::$a(t) | $name::Closed(t) => t,
                }
            }

            /// Whether the queue was closed (rather than the other failure).
            ///
            /// # Examples
            ///
            /// ```
            #[doc = concat!("assert!(baresync::", stringify!($name), "::Closed(5).is_closed());")]
            /// ```
            pub fn is_closed(&self) -> bool {
                matches!(self, $name::Closed(_))
            }
        }

        impl<T> fmt::Debug for $name<T> {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                match self {
                    $name::$a(_) => f.write_str(concat!(stringify!($a), "(..)")),
                    $name::Closed(_) => f.write_str("Closed(..)"),
                }
            }
        }

        impl<T> fmt::Display for $name<T> {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                match self {
                    $name::$a(_) => f.write_str($a_text),
                    $name::Closed(_) => f.write_str("the queue is closed"),
                }
            }
        }

        impl<T> core::error::Error for $name<T> {}
    };
}
item_error!(PushError, Full, "the queue is full");
item_error!(PutError, Timeout, "timed out waiting for room in the queue");

/// Why [`Queue::try_push`] gave the item back.
///
/// Unlike [`PushError`], it has a third outcome, [`Busy`](TryPushError::Busy): the slot the
/// push needs is still being emptied by a pop in progress on another thread (or a context
/// this one interrupted), so the queue is neither known to be full nor known to have room.
///
/// # Examples
///
/// ```
/// use baresync::{Queue, TryPushError};
///
/// static Q: Queue<u32, 1> = Queue::new();
/// assert_eq!(Q.try_push(1), Ok(()));
/// let e = Q.try_push(2).unwrap_err();
/// assert!(e.is_full());
/// assert_eq!(e, TryPushError::Full(2));
/// Q.close();
/// assert!(Q.try_push(3).unwrap_err().is_closed());
/// ```
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub enum TryPushError<T> {
    /// The queue was full: every slot held an item that no pop had claimed yet.
    Full(T),
    /// The slot the push needs is being emptied by a pop in progress: retry later (the queue
    /// is neither known full nor known to have room).
    Busy(T),
    /// The queue was closed.
    Closed(T),
}

impl<T> TryPushError<T> {
    /// The item that was not queued.
    ///
    /// # Examples
    ///
    /// ```
    /// assert_eq!(baresync::TryPushError::Busy(5).into_inner(), 5);
    /// ```
    pub fn into_inner(self) -> T {
        match self {
            TryPushError::Full(t) | TryPushError::Busy(t) | TryPushError::Closed(t) => t,
        }
    }

    /// Whether the queue was full.
    ///
    /// # Examples
    ///
    /// ```
    /// assert!(baresync::TryPushError::Full(5).is_full());
    /// ```
    pub fn is_full(&self) -> bool {
        matches!(self, TryPushError::Full(_))
    }

    /// Whether the slot the push needed was still being emptied (retry later).
    ///
    /// # Examples
    ///
    /// ```
    /// assert!(baresync::TryPushError::Busy(5).is_busy());
    /// ```
    pub fn is_busy(&self) -> bool {
        matches!(self, TryPushError::Busy(_))
    }

    /// Whether the queue was closed.
    ///
    /// # Examples
    ///
    /// ```
    /// assert!(baresync::TryPushError::Closed(5).is_closed());
    /// ```
    pub fn is_closed(&self) -> bool {
        matches!(self, TryPushError::Closed(_))
    }
}

impl<T> fmt::Debug for TryPushError<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            TryPushError::Full(_) => "Full(..)",
            TryPushError::Busy(_) => "Busy(..)",
            TryPushError::Closed(_) => "Closed(..)",
        })
    }
}

impl<T> fmt::Display for TryPushError<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            TryPushError::Full(_) => "the queue is full",
            TryPushError::Busy(_) => "the slot is still being emptied by another operation",
            TryPushError::Closed(_) => "the queue is closed",
        })
    }
}

impl<T> core::error::Error for TryPushError<T> {}

/// Why [`Queue::try_pop`] returned no item.
///
/// Unlike [`Queue::pop`]'s `None`, it tells "empty" apart from [`Busy`](TryPopError::Busy):
/// the oldest item is still being written by a push in progress on another thread (or a
/// context this one interrupted), so the queue is not empty, but its oldest item cannot be
/// taken yet.
///
/// # Examples
///
/// ```
/// use baresync::{Queue, TryPopError};
///
/// static Q: Queue<u32, 2> = Queue::new();
/// assert_eq!(Q.try_pop(), Err(TryPopError::Empty));
/// assert!(TryPopError::Empty.is_empty());
/// Q.push(1).unwrap();
/// assert_eq!(Q.try_pop(), Ok(1));
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum TryPopError {
    /// The queue was empty: no push had claimed a slot that no pop had claimed.
    Empty,
    /// The oldest item is still being written by a push in progress: retry later (the queue
    /// is not empty).
    Busy,
}

impl TryPopError {
    /// Whether the queue was empty.
    ///
    /// # Examples
    ///
    /// ```
    /// assert!(baresync::TryPopError::Empty.is_empty());
    /// ```
    pub fn is_empty(&self) -> bool {
        matches!(self, TryPopError::Empty)
    }

    /// Whether the oldest item was still being written (retry later).
    ///
    /// # Examples
    ///
    /// ```
    /// assert!(baresync::TryPopError::Busy.is_busy());
    /// ```
    pub fn is_busy(&self) -> bool {
        matches!(self, TryPopError::Busy)
    }
}

impl fmt::Display for TryPopError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            TryPopError::Empty => "the queue is empty",
            TryPopError::Busy => "the oldest item is still being written by another operation",
        })
    }
}

impl core::error::Error for TryPopError {}

/// Why [`Queue::get_until`] returned no item.
///
/// # Examples
///
/// ```
/// use baresync::{GetError, Queue};
///
/// static Q: Queue<u32, 2> = Queue::new();
/// assert_eq!(Q.get_until(|| true), Err(GetError::Timeout));
/// Q.close();
/// assert_eq!(Q.get_until(|| true), Err(GetError::Closed));
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum GetError {
    /// The deadline expired while the queue was empty.
    Timeout,
    /// The queue is closed and empty.
    Closed,
}

impl fmt::Display for GetError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            GetError::Timeout => "timed out waiting for an item",
            GetError::Closed => "the queue is closed and empty",
        })
    }
}

impl core::error::Error for GetError {}

// ---------------------------------------------------------------------------------------------
// The queue
// ---------------------------------------------------------------------------------------------

/// Why `attempt_push` gave the item back: [`TryPushError`], with the slot found in progress.
enum PushFail<'a, T> {
    Full(T),
    Closed(T),
    Busy(T, InProgress<'a>),
}

/// Why `attempt_pop` returned no item: [`TryPopError`], with the slot found in progress.
enum PopFail<'a> {
    Empty,
    Busy(InProgress<'a>),
}

/// A slot that a `push` or `pop` found claimed by another operation still in progress: its
/// stamp, and the value read there. That operation moves the stamp on when it finishes, then
/// wakes the waiting side's word (a pop wakes `not_full`, a push `not_empty`).
#[derive(Clone, Copy)]
struct InProgress<'a> {
    stamp: &'a AtomicUsize,
    seen: usize,
}

impl InProgress<'_> {
    /// Waits through `W` on `word` until the stamp has moved on (the operation in progress
    /// finished); the caller then tries again. Generic over the backend only, so one copy
    /// serves every queue's `push` and `pop`. Runs no user code but `W`, and owns no position
    /// while it does.
    #[cold]
    #[inline(never)]
    fn wait<W: Wait>(self, word: &AtomicU32) {
        block_on::<W, Forever, _>(word, None, |_| {
            // ORDERING: Relaxed: only says when to try again; the attempt that follows reads
            // the stamp again with Acquire. The operation in progress wakes the word when it
            // finishes, but its wake may miss a sleeper that announced itself after its claim
            // (see `wake_if_sleepers`): hence `Stuck::InProgress`, a sleep with a time limit.
            if self.stamp.load(Relaxed) != self.seen {
                Ok(())
            } else {
                Err(Stuck::InProgress)
            }
        });
    }
}

/// What a waiting `put` (or `get`) found when the queue was full (empty): its own side's
/// position and the stamp of the slot under it. While both are unchanged the queue is still
/// full (empty) for it: room (an item) for that position comes only when that slot's stamp
/// changes, and a claim by another thread of its side moves the position. So a polling
/// waiter looks at those two words alone, on lines it touches anyway when it gets through,
/// and not at the other side's position, whose line the other side writes on every item
/// (polling it, a producer waiting for room made every pop's claim a cache miss). Only a
/// heuristic: before it sleeps a waiter makes the exact attempt (`block_on`).
#[derive(Clone, Copy)]
struct Watch {
    pos: usize,
    watched: usize,
    stamp: usize,
}

impl Watch {
    /// Watches nothing: the next poll is an exact attempt.
    const NONE: Watch = Watch {
        pos: CLOSED,
        watched: 0,
        stamp: 0,
    };

    /// The position under `at`, and the stamp of the slot `ahead` positions after it, unless
    /// that stamp already says ready (its lap's base plus `ready`): then nothing is watched,
    /// so a change that came between the failed attempt and this look is not taken for the
    /// state to wait out.
    #[inline]
    fn of<T, const N: usize, W: Wait>(
        q: &Queue<T, N, W>,
        at: &AtomicUsize,
        ready: usize,
        ahead: usize,
    ) -> Watch {
        // ORDERING: Relaxed: only says when to try again; the attempt reads both again.
        let pos = at.load(Relaxed);
        if pos & CLOSED != 0 {
            return Watch::NONE;
        }
        let mut watched = pos;
        for _ in 0..ahead {
            watched = Queue::<T, N, W>::next(watched);
        }
        // ORDERING: Relaxed, as above.
        let stamp = q.slot(watched).stamp.load(Relaxed);
        if stamp == (watched & !(Queue::<T, N, W>::LAP - 1)) + ready {
            return Watch::NONE;
        }
        Watch {
            pos,
            watched,
            stamp,
        }
    }

    /// Whether the position under `at` and the watched slot's stamp are still the ones seen.
    #[inline]
    fn unchanged<T, const N: usize, W: Wait>(&self, q: &Queue<T, N, W>, at: &AtomicUsize) -> bool {
        // ORDERING: Relaxed: only says when to try again (see `of`).
        self.pos != CLOSED
            && at.load(Relaxed) == self.pos
            && q.slot(self.watched).stamp.load(Relaxed) == self.stamp
    }
}

/// One cell of the ring.
#[repr(C)]
struct Slot<T> {
    /// The base position of the lap this slot is ready for, plus 0 (empty: a producer of that
    /// lap may write) or 1 (full: a consumer of that lap may read).
    stamp: AtomicUsize,
    /// Initialized exactly when the stamp says full (or while a claimant owns the slot).
    value: UnsafeCell<MaybeUninit<T>>,
}

impl<T> Slot<T> {
    const_fn! {
        const fn new() -> Self {
            Slot { stamp: AtomicUsize::new(0), value: UnsafeCell::new(MaybeUninit::uninit()) }
        }
    }
}

/// The two wait words, on their own cache line: written only by waiters and wakers, read by
/// every push and pop when the backend can sleep.
#[repr(C)]
struct Words {
    /// Producers waiting for room sleep here. Bit 0: sleepers may exist · bits 1..: epoch
    not_full: AtomicU32,
    /// Consumers waiting for an item sleep here. Bit 0: sleepers may exist · bits 1..: epoch
    not_empty: AtomicU32,
}

/// A bounded multi-producer multi-consumer FIFO queue of at most `N` items of type `T`, in a
/// fixed array (no heap); blocking operations wait through `W` ([`DefaultWait`]:
/// `Futex` with feature `std`, [`Spin`](crate::Spin) without).
///
/// See the [module documentation](self) for the algorithm and its guarantees.
///
/// # Examples
///
/// ```
/// use baresync::Queue;
///
/// static JOBS: Queue<u32, 8> = Queue::new();
///
/// let producer = std::thread::spawn(|| {
///     for job in 0..100 {
///         JOBS.put(job).unwrap();
///     }
///     JOBS.close();
/// });
/// let mut sum = 0;
/// while let Ok(job) = JOBS.get() {
///     sum += job;
/// }
/// producer.join().unwrap();
/// assert_eq!(sum, (0..100).sum());
/// ```
#[repr(C)]
pub struct Queue<T, const N: usize, W = DefaultWait> {
    /// What only consumers write: the position of the next pop, and a joinable queue's count
    /// of tasks done (see [`Consumers`]).
    consumers: CachePadded<Consumers>,
    /// The position of the next push, or'ed with CLOSED once closed; producers claim
    /// positions by compare-and-swap.
    tail: CachePadded<AtomicUsize>,
    words: CachePadded<Words>,
    slots: [Slot<T>; N],
    _wait: PhantomData<fn() -> W>,
}

/// The line only consumers write. A [`JoinableQueue`] counts a task done right after the pop
/// that took it, on the line that pop has just written (one shared counter line per item
/// instead of two); a plain queue leaves `done` at 0 (it costs no memory: the line is padded
/// anyway).
#[repr(C)]
struct Consumers {
    /// The position of the next pop; consumers claim positions by compare-and-swap.
    head: AtomicUsize,
    /// [`JoinableQueue`] only: the position after the last task done.
    done: AtomicUsize,
}

// SAFETY: a shared queue moves items from the threads that push them to the threads that pop
// them, so `T: Send` is needed, and enough: no `&T` is ever handed out, and each item is
// accessed by one thread at a time (the owner of its claimed position, hand-offs ordered by
// the slot stamps' Release/Acquire). `Send` is automatic (the queue owns its items).
unsafe impl<T: Send, const N: usize, W> Sync for Queue<T, N, W> {}

impl<T, const N: usize> Queue<T, N> {
    const_fn! {
        /// A new, empty, open queue; usable in a `static`.
        ///
        /// # Examples
        ///
        /// ```
        /// use baresync::{Futex, Queue};
        ///
        /// static EVENTS: Queue<&str, 16> = Queue::new();
        /// static SLEEPY: Queue<u64, 3, Futex> = Queue::with_wait();
        /// assert!(EVENTS.is_empty());
        /// assert_eq!(SLEEPY.capacity(), 3);
        ///
        /// let local = Queue::<u8, 2>::new(); // the backend needs no annotation
        /// local.push(1).unwrap();
        /// assert_eq!(local.pop(), Some(1));
        /// ```
        ///
        /// A capacity of 0 does not compile:
        ///
        /// ```compile_fail
        /// static NOTHING: baresync::Queue<u8, 0> = baresync::Queue::new();
        /// ```
        ///
        /// nor in a local variable (reported when the program is built; `cargo check`, which
        /// stops before monomorphization, does not see it):
        ///
        /// ```compile_fail
        /// let nothing: baresync::Queue<u8, 0> = baresync::Queue::new();
        /// # let _ = nothing.push(1);
        /// ```
        #[inline]
        pub const fn new() -> Self {
            Self::with_wait()
        }
    }
}

impl<T, const N: usize, W: Wait> Queue<T, N, W> {
    /// Evaluated by `new`: a zero-capacity queue is a compile-time error.
    pub(crate) const NONZERO: () = assert!(N >= 1, "a Queue needs a capacity N of at least 1");

    /// How far past its own position a `put` waiting for room looks while it polls: it
    /// tries again once that many more items were taken (or when its polling budget is spent,
    /// see `Watch`), so that a full queue is refilled in bursts while the consumers work on
    /// the slots before, not by a producer polling the very slot a consumer is emptying. A
    /// thirty-second of the queue, at most 32 (none below 32 slots). Measured at `N = 1024`
    /// (`docs/design.md`): 8 and 128 did no better than 32, 0 worse.
    const ROOM_AHEAD: usize = if N / 32 < 32 { N / 32 } else { 32 };

    /// The distance between the same slot's positions in consecutive laps (see [`lap_of`]).
    const LAP: usize = lap_of(N);

    /// Whether positions count the items that passed through (modulo `2^(BITS-1)`): `N` a
    /// power of two (but 1), so `LAP == N`. `JoinableQueue` then uses `head` as a count.
    pub(super) const POSITIONS_COUNT: bool = N == Self::LAP;

    const_fn! {
        /// Like [`new`](Queue::new), with the wait backend `W` named by the type;
        /// usable in a `static`. (`new` builds the default backend,
        /// [`DefaultWait`]: `rustc` does not use a type parameter's
        /// default to infer it, so one constructor cannot serve both.)
        ///
        /// As with `new`, `N = 0` does not compile.
        ///
        /// # Examples
        ///
        /// ```
        /// use baresync::{Queue, Spin};
        ///
        /// static EVENTS: Queue<u32, 4, Spin> = Queue::with_wait();
        /// EVENTS.push(1).unwrap();
        /// assert_eq!(EVENTS.pop(), Some(1));
        /// ```
        #[inline]
        pub const fn with_wait() -> Self {
            #[allow(clippy::let_unit_value)]
            let () = Self::NONZERO;
            Queue {
                consumers: CachePadded::new(Consumers {
                    head: AtomicUsize::new(0),
                    done: AtomicUsize::new(0),
                }),
                tail: CachePadded::new(AtomicUsize::new(0)),
                words: CachePadded::new(Words {
                    not_full: AtomicU32::new(0),
                    not_empty: AtomicU32::new(0),
                }),
                #[cfg(not(baresync_loom))]
                slots: [const { Slot::new() }; N],
                #[cfg(baresync_loom)]
                slots: core::array::from_fn(|_| Slot::new()),
                _wait: PhantomData,
            }
        }
    }

    /// The position after `pos`.
    #[inline(always)]
    fn next(pos: usize) -> usize {
        if Self::POSITIONS_COUNT {
            // The last index's next lap base is the next number (the general case below
            // computes the same; said this way the compiler sees it).
            return pos.wrapping_add(1) & POS;
        }
        if (pos & (Self::LAP - 1)) + 1 < N {
            pos + 1
        } else {
            (pos & !(Self::LAP - 1)).wrapping_add(Self::LAP) & POS
        }
    }

    /// How many steps of [`next`](Queue::next) lead from position `from` to position `to`
    /// (`from` not ahead of `to`): the items claimed between them. `JoinableQueue` counts its
    /// unfinished tasks with it.
    #[inline]
    fn items_between(from: usize, to: usize) -> usize {
        if Self::POSITIONS_COUNT {
            return to.wrapping_sub(from) & POS;
        }
        let mask = Self::LAP - 1;
        let laps = ((to & !mask).wrapping_sub(from & !mask) & POS) / Self::LAP;
        // Within a lap the index counts; the index difference may be negative.
        (laps * N).wrapping_add(to & mask).wrapping_sub(from & mask)
    }

    /// The slot of position `pos`.
    #[inline(always)]
    fn slot(&self, pos: usize) -> &Slot<T> {
        let index = pos & (Self::LAP - 1);
        debug_assert!(index < N, "not a position");
        // SAFETY: `index < N`: every position is 0, or made by `next` from a position (whose
        // index it keeps below N), or masked with POS from one (which keeps the index bits),
        // and callers never pass a `tail` with CLOSED set (they check it first). Unchecked,
        // because a bounds check pulls the panic machinery into every firmware image that
        // uses a queue (`docs/code-size.md`).
        unsafe { self.slots.get_unchecked(index) }
    }

    /// The full stamp's distance check: whether `head` is exactly one lap behind `tail`, i.e.
    /// the slot under `tail` holds the oldest item, not yet claimed by any pop.
    #[inline(always)]
    fn one_lap_behind(head: usize, tail: usize) -> bool {
        head == tail.wrapping_sub(Self::LAP) & POS
    }

    /// The compare-and-swap that claims position `current` of `at` (`tail` for a push, `head`
    /// for a pop, either for `force_push`), moving it to `new`. It only decides which thread
    /// owns the position (one of them, by the modification order of `at`); the item itself is
    /// handed over through the slot's stamp. With a sleeping backend it is also the point a
    /// sleeping waiter of the other side is ordered against (see [`wake_if_sleepers`]).
    #[inline(always)]
    fn claim(at: &AtomicUsize, current: usize, new: usize) -> Result<usize, usize> {
        if W::WAKE_IS_NOOP {
            // ORDERING: Relaxed: nobody sleeps (waiters poll), and the claim publishes no
            // data (see above). It fails if CLOSED was set in `tail`.
            at.compare_exchange_weak(current, new, Relaxed, Relaxed)
        } else {
            // ORDERING: SeqCst pairs with the SeqCst fence in `announce`, for the SeqCst load
            // of the other side's wait word that follows in `wake_if_sleepers`: a waiter whose
            // re-check read this position before the claim is seen asleep by that load (no
            // loom model can show it: loom takes SeqCst accesses for AcqRel and checks the
            // fence form, see docs/memory-ordering.md). Failure: Relaxed, as above.
            at.compare_exchange_weak(current, new, SeqCst, Relaxed)
        }
    }

    /// One attempt at claiming the position under `tail` and writing `value` there: never
    /// waits, never runs user code, wakes nobody (the caller does, after accounting for the
    /// item). The outcome is `Full` only if the queue holds `N` claimed items, `Busy` only if
    /// the slot is still being emptied by a pop in progress.
    #[inline]
    fn try_push_raw(&self, value: T) -> Result<(), TryPushError<T>> {
        self.attempt_push(value).map_err(|e| match e {
            PushFail::Full(v) => TryPushError::Full(v),
            PushFail::Closed(v) => TryPushError::Closed(v),
            PushFail::Busy(v, _) => TryPushError::Busy(v),
        })
    }

    /// `try_push_raw`, saying which slot was busy.
    #[inline]
    fn attempt_push(&self, value: T) -> Result<(), PushFail<'_, T>> {
        // ORDERING: Relaxed: the tail only names the slot to look at; the slot's stamp,
        // loaded with Acquire, says whether it may be written.
        let mut tail = self.tail.load(Relaxed);
        loop {
            if tail & CLOSED != 0 {
                return Err(PushFail::Closed(value));
            }
            let slot = self.slot(tail);
            let lap = tail & !(Self::LAP - 1);
            // ORDERING: Acquire pairs with the Release stamp store of the consumer that
            // emptied this slot, so its read of the previous item happens-before our write.
            let stamp = slot.stamp.load(Acquire);
            if stamp == lap {
                // Fails if CLOSED was set.
                match Self::claim(&self.tail, tail, Self::next(tail)) {
                    Ok(_) => {
                        // SAFETY: we own position `tail`, and its slot is empty for this lap
                        // (stamp == lap, read with Acquire): no one else accesses the value
                        // until we publish it with the stamp store below.
                        slot.value
                            .with_mut(|p| unsafe { p.write(MaybeUninit::new(value)) });
                        // ORDERING: Release pairs with the Acquire stamp load of the consumer
                        // of this position: our write of the item happens-before its read.
                        slot.stamp.store(lap + 1, Release);
                        return Ok(());
                    }
                    Err(now) => tail = now,
                }
            } else {
                // Behind: the slot still holds the previous lap's item (or its producer is
                // writing it, or a consumer is moving it out). Full exactly when no pop has
                // claimed that item: `head` is still one lap behind `tail`.
                // Ahead: another producer has already filled this lap's slot, so our `tail`
                // is stale. The checks below then find it so, without a branch of their own:
                // the stamp we read (Acquire) was published after that producer's claim, and
                // after the pop that emptied the slot for it, so both happen-before the loads
                // below: `head` is past one lap behind, and `now` past `tail`.
                // ORDERING: Relaxed: coherence is enough for "never a false full": every pop
                // that happens-before this push advanced `head` in its modification order
                // before the value read here, so a full reported here includes no item a
                // pop that finished before us had taken. (crossbeam's ArrayQueue puts a
                // SeqCst fence here; nothing in this queue pairs with one.)
                let head = self.consumers.head.load(Relaxed);
                if Self::one_lap_behind(head, tail) {
                    return Err(PushFail::Full(value));
                }
                // ORDERING: Relaxed, as the first load of `tail`.
                let now = self.tail.load(Relaxed);
                if now == tail && !behind(head, tail.wrapping_sub(Self::LAP) & POS) {
                    // A pop has claimed the previous lap's item and is still moving it out.
                    return Err(PushFail::Busy(
                        value,
                        InProgress {
                            stamp: &slot.stamp,
                            seen: stamp,
                        },
                    ));
                }
                // Our tail (or head) was stale: look again.
                tail = now;
            }
            // Another thread made progress (it claimed or finished the position we looked
            // at): look again at once, after one spin hint. (A `Backoff` here cost a quarter
            // of the size of `try_push`/`try_pop` in a firmware image, docs/code-size.md.)
            crate::sync::spin_loop();
        }
    }

    /// `try_push_raw`, waiting while the slot it needs is being emptied: `Full` or `Closed`
    /// are the only failures. Wakes nobody.
    ///
    /// When the slot is being emptied by a pop in progress, waits for that pop (it wakes
    /// `not_full` when done) and tries again. The wait is one small out-of-line function
    /// shared by every queue and by `pop` (`InProgress::wait`), not a second copy of the
    /// attempt: `push` and `pop` were 2.8× the size of `try_push` and `try_pop` in a firmware
    /// image that way (`docs/code-size.md`).
    #[inline]
    fn push_raw(&self, mut value: T) -> Result<(), PushError<T>> {
        loop {
            match self.attempt_push(value) {
                Ok(()) => return Ok(()),
                Err(PushFail::Full(v)) => return Err(PushError::Full(v)),
                Err(PushFail::Closed(v)) => return Err(PushError::Closed(v)),
                Err(PushFail::Busy(v, slot)) => {
                    value = v;
                    slot.wait::<W>(&self.words.not_full);
                }
            }
        }
    }

    /// Claims the position under `tail` even if the queue is full, and writes `value` there,
    /// evicting the oldest item if it is still inside. Wakes nobody.
    ///
    /// Never runs user code: once it owns a position it must write it (a consumer may already
    /// wait for it), so its waits for operations in progress only spin and yield.
    #[inline]
    fn force_push_raw(&self, value: T) -> Result<Option<T>, Closed<T>> {
        let mut backoff = Backoff::new();
        // ORDERING: Relaxed: as in `try_push_raw`.
        let mut tail = self.tail.load(Relaxed);
        loop {
            if tail & CLOSED != 0 {
                return Err(Closed(value));
            }
            let slot = self.slot(tail);
            let lap = tail & !(Self::LAP - 1);
            // ORDERING: Relaxed: only decides whether to claim the position; unlike
            // `try_push_raw`, nothing touches the slot on this value: `force_slow` reads the
            // stamp again with Acquire before it writes or moves anything.
            let stamp = slot.stamp.load(Relaxed);
            if stamp == lap || behind(stamp, lap) {
                match Self::claim(&self.tail, tail, Self::next(tail)) {
                    Ok(_) => return Ok(self.force_slow(slot, tail, value)),
                    Err(now) => {
                        tail = now;
                        backoff.spin();
                    }
                }
            } else {
                // Another producer has already filled this lap's slot: our tail is stale.
                backoff.spin();
                // ORDERING: Relaxed, as above.
                tail = self.tail.load(Relaxed);
            }
        }
    }

    /// `force_push` owns position `tail`, whose slot is empty for its lap, or still holds the
    /// item one lap back (or is being filled or emptied). It takes that oldest item as a
    /// consumer would, by compare-and-swap on `head`, and writes `value` in its place; if a
    /// consumer takes it first, it waits for that consumer to empty the slot and writes
    /// normally.
    #[inline]
    fn force_slow(&self, slot: &Slot<T>, tail: usize, value: T) -> Option<T> {
        let lap = tail & !(Self::LAP - 1);
        // The oldest item's position: same index, one lap back.
        let oldest = tail.wrapping_sub(Self::LAP) & POS;
        let oldest_full = (oldest & !(Self::LAP - 1)) + 1;
        let mut backoff = Backoff::new();
        loop {
            // ORDERING: Acquire pairs with the Release stamp store of the producer of the
            // oldest item (we may move it out) or of the consumer that emptied the slot (its
            // read happens-before our write).
            let stamp = slot.stamp.load(Acquire);
            if stamp == lap {
                // SAFETY: a consumer emptied the slot for our lap, and we own the position.
                slot.value
                    .with_mut(|p| unsafe { p.write(MaybeUninit::new(value)) });
                // ORDERING: Release pairs with the consumer's Acquire stamp load.
                slot.stamp.store(lap + 1, Release);
                return None;
            }
            // ORDERING: Relaxed: as in `try_pop_raw`, the compare-and-swap only picks the one
            // thread that consumes position `oldest`; its item was published by the stamp we
            // just read with Acquire.
            if stamp == oldest_full
                && self
                    .consumers
                    .head
                    .compare_exchange(oldest, Self::next(oldest), Relaxed, Relaxed)
                    .is_ok()
            {
                // SAFETY: we claimed position `oldest` as its one consumer, and its item is
                // initialized (stamp == oldest_full, read with Acquire); we also own position
                // `tail`, the same slot's next lap, so we replace the item in place.
                let old = slot.value.with_mut(|p| unsafe {
                    let old = p.read().assume_init();
                    p.write(MaybeUninit::new(value));
                    old
                });
                // ORDERING: Release pairs with the Acquire stamp load of our item's consumer.
                slot.stamp.store(lap + 1, Release);
                return Some(old);
            }
            // The oldest item is still being written, or a consumer took it and is moving it
            // out: wait for that operation in progress (spinning, then yielding with `std`;
            // not through `W`, whose `wait` could unwind while we own a position).
            backoff.snooze();
        }
    }

    /// One attempt at claiming the position under `head` and moving its item out: never
    /// waits, never runs user code, wakes nobody. `Empty` only if no claimed item is left,
    /// `Busy` only if the oldest one is still being written.
    #[inline]
    fn try_pop_raw(&self) -> Result<T, TryPopError> {
        self.attempt_pop().map_err(|e| match e {
            PopFail::Empty => TryPopError::Empty,
            PopFail::Busy(_) => TryPopError::Busy,
        })
    }

    /// `try_pop_raw`, saying which slot was busy.
    #[inline]
    fn attempt_pop(&self) -> Result<T, PopFail<'_>> {
        // ORDERING: Relaxed: the head only names the slot to look at (see `try_push_raw`).
        let mut head = self.consumers.head.load(Relaxed);
        loop {
            let slot = self.slot(head);
            let lap = head & !(Self::LAP - 1);
            // ORDERING: Acquire pairs with the Release stamp store of this position's
            // producer, so its write of the item happens-before our read.
            let stamp = slot.stamp.load(Acquire);
            if stamp == lap + 1 {
                match Self::claim(&self.consumers.head, head, Self::next(head)) {
                    Ok(_) => {
                        // SAFETY: we own position `head`, whose item is initialized (stamp
                        // == lap + 1, read with Acquire); we move it out exactly once, and
                        // the stamp store below marks the slot empty before anyone else may
                        // write it.
                        let value = slot.value.with(|p| unsafe { p.read().assume_init() });
                        // ORDERING: Release pairs with the Acquire stamp load of the next
                        // lap's producer: our read happens-before its write.
                        slot.stamp.store(lap.wrapping_add(Self::LAP) & POS, Release);
                        return Ok(value);
                    }
                    Err(now) => head = now,
                }
            } else {
                // Behind: not written for this lap: either no producer has claimed position
                // `head` (empty), or its producer is still writing it. Empty exactly when
                // `tail` has not moved past `head`.
                // Ahead: another consumer has already emptied it, so our `head` is stale. The
                // checks below then find it so, without a branch of their own: the stamp we
                // read (Acquire) was published after that consumer's claim, which came after
                // the push of its item, so both happen-before the loads below: `tail` and
                // `now` are past `head`.
                // ORDERING: Relaxed: coherence is enough for "never a false empty": every
                // push that happens-before this pop (this thread's own included) advanced
                // `tail` in its modification order before the value read here, so it is seen
                // as claimed (see `try_push_raw`).
                let tail = self.tail.load(Relaxed) & POS;
                if tail == head {
                    return Err(PopFail::Empty);
                }
                // ORDERING: Relaxed, as the first load of `head`.
                let now = self.consumers.head.load(Relaxed);
                if now == head && !behind(tail, head) {
                    // Position `head` is claimed and its item not yet published.
                    return Err(PopFail::Busy(InProgress {
                        stamp: &slot.stamp,
                        seen: stamp,
                    }));
                }
                // Our head (or tail) was stale: look again.
                head = now;
            }
            // Another thread made progress (it claimed or finished the position we looked
            // at): look again at once, after one spin hint. (A `Backoff` here cost a quarter
            // of the size of `try_push`/`try_pop` in a firmware image, docs/code-size.md.)
            crate::sync::spin_loop();
        }
    }

    /// `try_pop_raw`, waiting while the oldest item is still being written: `None` only
    /// when the queue is empty. Wakes nobody.
    ///
    /// When the oldest item is being written by a push in progress, waits for that push
    /// (every push wakes `not_empty` when done) and tries again (see `push_raw`).
    #[inline]
    fn pop_raw(&self) -> Option<T> {
        loop {
            match self.attempt_pop() {
                Ok(v) => return Some(v),
                Err(PopFail::Empty) => return None,
                Err(PopFail::Busy(slot)) => slot.wait::<W>(&self.words.not_empty),
            }
        }
    }

    /// Wakes the consumers waiting for an item, if any may sleep (after an item went in).
    #[inline(always)]
    fn wake_consumers(&self) {
        wake_if_sleepers::<W>(&self.words.not_empty);
    }

    /// Wakes the producers waiting for room, if any may sleep (after an item came out).
    #[inline(always)]
    fn wake_producers(&self) {
        wake_if_sleepers::<W>(&self.words.not_full);
    }

    /// A new queue whose positions start at `start` (any position: the slots before its
    /// index are stamped for the next lap, as if that many items had passed through) and whose
    /// two wait words start at `word`: lets tests drive the counters past their wrap.
    #[cfg(test)]
    fn starting_at(start: usize, word: u32) -> Self {
        let q = Self::with_wait();
        let lap = start & !(Self::LAP - 1);
        let index = start & (Self::LAP - 1);
        assert!(start & CLOSED == 0 && index < N, "not a position");
        // ORDERING: Relaxed: the queue is not shared yet.
        q.consumers.head.store(start, Relaxed);
        q.tail.store(start, Relaxed);
        for (i, slot) in q.slots.iter().enumerate() {
            let stamp = if i >= index {
                lap
            } else {
                lap.wrapping_add(Self::LAP) & POS
            };
            slot.stamp.store(stamp, Relaxed);
        }
        q.words.not_full.store(word, Relaxed);
        q.words.not_empty.store(word, Relaxed);
        q
    }

    /// Closed, and no claimed position left to pop: no item can ever arrive again.
    fn closed_and_drained(&self) -> bool {
        // ORDERING: Relaxed: CLOSED is set by a read-modify-write of `tail`, after which no
        // compare-and-swap can claim a position, so the tail seen with CLOSED is final.
        let tail = self.tail.load(Relaxed);
        // ORDERING: Relaxed: a stale head only makes us wait longer (the slot still looks
        // claimed), and every waiter re-checks after `announce`, whose fence orders it after
        // the pops it must see (see `block_on`).
        tail & CLOSED != 0 && self.consumers.head.load(Relaxed) == tail & POS
    }

    /// Appends `value` if there is room. Linearizable: it fails with `Full` only if the
    /// queue really holds `N` items at that point, so it may wait (see below); interrupt
    /// handlers use [`try_push`](Queue::try_push).
    ///
    /// When the slot it needs is still being emptied by a pop in progress on another thread,
    /// the queue is not full: `push` waits for that pop to finish (through `W`, like
    /// [`get`](Queue::get)), which can take as long as that thread stays preempted.
    ///
    /// # Errors
    ///
    /// [`PushError::Full`] with the item if the queue is full, [`PushError::Closed`] with the
    /// item if the queue was closed.
    ///
    /// # Examples
    ///
    /// ```
    /// use baresync::{PushError, Queue};
    ///
    /// static Q: Queue<char, 2> = Queue::new();
    /// assert!(Q.push('a').is_ok());
    /// assert!(Q.push('b').is_ok());
    /// assert_eq!(Q.push('c'), Err(PushError::Full('c')));
    /// ```
    #[inline]
    #[cfg_attr(all(feature = "lockdep", not(baresync_loom)), track_caller)]
    pub fn push(&self, value: T) -> Result<(), PushError<T>> {
        lockdep_hook! { crate::lockdep::signal(crate::lockdep::key(&self.words.not_empty), "Queue (waiting for an item)") }
        self.push_raw(value)?;
        self.wake_consumers();
        Ok(())
    }

    /// Appends `value` if there is room; never waits, so it may be called from an interrupt
    /// handler or any context that must not block.
    ///
    /// It never reports a wrong state: [`Full`](TryPushError::Full) only if the queue holds
    /// `N` items, and when the slot it needs is still being emptied by a pop in progress it
    /// says so with [`Busy`](TryPushError::Busy) (retry later: the queue is neither known
    /// full nor known to have room) rather than wait.
    ///
    /// # Errors
    ///
    /// [`TryPushError::Full`], [`TryPushError::Busy`] or [`TryPushError::Closed`], each with
    /// the item.
    ///
    /// # Examples
    ///
    /// ```
    /// use baresync::{Queue, TryPushError};
    ///
    /// static Q: Queue<u8, 1> = Queue::new();
    /// assert_eq!(Q.try_push(1), Ok(()));
    /// match Q.try_push(2) {
    ///     Err(TryPushError::Full(v)) => assert_eq!(v, 2),
    ///     other => panic!("{other:?}"),
    /// }
    /// ```
    #[inline]
    #[cfg_attr(all(feature = "lockdep", not(baresync_loom)), track_caller)]
    pub fn try_push(&self, value: T) -> Result<(), TryPushError<T>> {
        lockdep_hook! { crate::lockdep::signal(crate::lockdep::key(&self.words.not_empty), "Queue (waiting for an item)") }
        self.try_push_raw(value)?;
        self.wake_consumers();
        Ok(())
    }

    /// Removes the oldest item, if there is one. Linearizable: it returns `None` only if the
    /// queue really is empty at that point, so it may wait (see below); interrupt handlers use
    /// [`try_pop`](Queue::try_pop).
    ///
    /// When the oldest item's producer is still writing it, the queue is not empty: `pop`
    /// waits for that push to finish (through `W`, like [`get`](Queue::get)), which can take
    /// as long as that thread stays preempted. After [`close`](Queue::close) it still returns
    /// the items left inside.
    ///
    /// # Examples
    ///
    /// ```
    /// use baresync::Queue;
    ///
    /// static Q: Queue<u8, 4> = Queue::new();
    /// assert_eq!(Q.pop(), None);
    /// Q.push(1).unwrap();
    /// Q.push(2).unwrap();
    /// assert_eq!(Q.pop(), Some(1));
    /// assert_eq!(Q.pop(), Some(2));
    /// ```
    #[inline]
    #[cfg_attr(all(feature = "lockdep", not(baresync_loom)), track_caller)]
    pub fn pop(&self) -> Option<T> {
        lockdep_hook! { crate::lockdep::signal(crate::lockdep::key(&self.words.not_full), "Queue (waiting for room)") }
        let value = self.pop_raw()?;
        self.wake_producers();
        Some(value)
    }

    /// Removes the oldest item, if there is one; never waits, so it may be called from an
    /// interrupt handler or any context that must not block.
    ///
    /// It never reports a wrong state: [`Empty`](TryPopError::Empty) only if the queue is
    /// empty, and when the oldest item is still being written by a push in progress it says
    /// so with [`Busy`](TryPopError::Busy) (retry later: the queue is not empty) rather than
    /// wait.
    ///
    /// # Errors
    ///
    /// [`TryPopError::Empty`] or [`TryPopError::Busy`].
    ///
    /// # Examples
    ///
    /// ```
    /// use baresync::{Queue, TryPopError};
    ///
    /// static Q: Queue<u8, 4> = Queue::new();
    /// assert_eq!(Q.try_pop(), Err(TryPopError::Empty));
    /// Q.try_push(7).unwrap();
    /// assert_eq!(Q.try_pop(), Ok(7));
    /// ```
    #[inline]
    #[cfg_attr(all(feature = "lockdep", not(baresync_loom)), track_caller)]
    pub fn try_pop(&self) -> Result<T, TryPopError> {
        lockdep_hook! { crate::lockdep::signal(crate::lockdep::key(&self.words.not_full), "Queue (waiting for room)") }
        let value = self.try_pop_raw()?;
        self.wake_producers();
        Ok(value)
    }

    /// An iterator that takes the items inside now, oldest first: at most as many as
    /// [`len`](Queue::len) counted when it was made, each with [`pop`](Queue::pop), so never
    /// waiting for an item (only, as `pop` does, for a push or pop already in progress).
    ///
    /// So a producer cannot keep it going: with no other consumer, items pushed while it runs
    /// are left for later; when other consumers take items meanwhile, it may take some pushed
    /// after it began (still no more than the count), and it stops as soon as it finds the
    /// queue empty. It is lazy: items
    /// it has not yet yielded stay in the queue, also when it is dropped early or an unwind
    /// (say, a panicking `Drop` of a yielded item) leaves the loop. Each item is yielded to
    /// exactly one caller; none is lost or yielded twice.
    ///
    /// # Examples
    ///
    /// ```
    /// use baresync::Queue;
    ///
    /// let q = Queue::<u32, 8>::new();
    /// for i in 1..=3 {
    ///     q.push(i).unwrap();
    /// }
    /// let mut batch = q.drain();
    /// assert_eq!(batch.next(), Some(1));
    /// q.push(4).unwrap(); // pushed after `drain` began: left for later
    /// assert_eq!(batch.collect::<Vec<_>>(), [2, 3]);
    /// assert_eq!(q.pop(), Some(4));
    /// ```
    pub fn drain(&self) -> Drain<'_, T, N, W> {
        Drain { queue: self, left: self.len() }
    }

    /// An iterator that takes items with [`try_pop`](Queue::try_pop) until it finds the queue
    /// empty, or the oldest item still being written; never waits, so it may run in an
    /// interrupt handler (as std's `Receiver::try_iter`).
    ///
    /// Unlike [`drain`](Queue::drain) it is not bounded: items pushed while it runs are
    /// yielded too, so a producer faster than the loop keeps it going (bound it with
    /// [`take`](Iterator::take)). It may stop while a push is in progress (that item is taken
    /// next time). Lazy like `drain`: what it has not yielded stays in the queue.
    ///
    /// # Examples
    ///
    /// ```
    /// use baresync::Queue;
    ///
    /// static RX: Queue<u8, 16> = Queue::new();
    /// RX.try_push(b'o').unwrap();
    /// RX.try_push(b'k').unwrap();
    /// let received: Vec<u8> = RX.try_iter().collect();
    /// assert_eq!(received, b"ok");
    /// assert_eq!(RX.try_iter().next(), None);
    /// ```
    pub fn try_iter(&self) -> TryIter<'_, T, N, W> {
        TryIter { queue: self }
    }

    /// Appends `value`; if the queue is full, evicts and returns the oldest item to make room.
    /// Never fails for lack of room.
    ///
    /// Safe with any number of producers and consumers, and linearizable: the eviction claims
    /// the oldest item as a consumer would (so it is returned here or popped by a consumer,
    /// never both), and the new item takes that slot's next lap; it evicts only when the
    /// queue holds `N` items. It may wait for an operation already in progress on the oldest
    /// slot (a producer still writing it, or a consumer that has claimed it and is moving it
    /// out), so like [`push`](Queue::push) it can wait as long as that thread stays
    /// preempted; this wait spins and, with feature `std`, yields, but never calls `W`. No
    /// never-waiting form exists: call it from an interrupt handler only when every other
    /// access to the queue is excluded meanwhile (for instance under an `IrqSafe` lock).
    ///
    /// # Errors
    ///
    /// [`Closed`] with the item if the queue was closed.
    ///
    /// # Examples
    ///
    /// ```
    /// use baresync::Queue;
    ///
    /// static RECENT: Queue<u32, 2> = Queue::new();
    /// assert_eq!(RECENT.force_push(1), Ok(None));
    /// assert_eq!(RECENT.force_push(2), Ok(None));
    /// assert_eq!(RECENT.force_push(3), Ok(Some(1)));
    /// assert_eq!(RECENT.pop(), Some(2));
    /// assert_eq!(RECENT.pop(), Some(3));
    /// ```
    #[cfg_attr(all(feature = "lockdep", not(baresync_loom)), track_caller)]
    pub fn force_push(&self, value: T) -> Result<Option<T>, Closed<T>> {
        lockdep_hook! { crate::lockdep::signal(crate::lockdep::key(&self.words.not_empty), "Queue (waiting for an item)") }
        let evicted = self.force_push_raw(value)?;
        self.wake_consumers();
        Ok(evicted)
    }

    /// `put` and `put_until` without the wake-up: the item is in the queue on `Ok`, and
    /// handed back otherwise. The only user code it runs (deadline, `W::wait*`) runs while
    /// the item is still the caller's, so an unwind drops it once and leaves no slot claimed.
    #[inline]
    fn put_raw<D: Deadline>(&self, value: T, deadline: Option<&mut D>) -> Result<(), PutError<T>> {
        if deadline.is_some() {
            // `put_until`: its first attempt is the slow path's (as `get_until`'s), so that an
            // image with both `push` and `put_until` holds two copies of the attempt, not
            // three (`docs/code-size.md`). `put`, whose speed matters more, keeps its inlined
            // first attempt.
            return self.put_slow(value, deadline);
        }
        match self.try_push_raw(value) {
            Ok(()) => Ok(()),
            Err(TryPushError::Closed(v)) => Err(PutError::Closed(v)),
            Err(TryPushError::Full(v) | TryPushError::Busy(v)) => self.put_slow(v, deadline),
        }
    }

    /// The slow path of `put` (no deadline) and `put_until`, written once.
    #[cold]
    fn put_slow<D: Deadline>(&self, value: T, deadline: Option<&mut D>) -> Result<(), PutError<T>> {
        let mut item = Some(value);
        let mut full = Watch::NONE;
        let done = block_on::<W, D, _>(&self.words.not_full, deadline, |exact| {
            if !exact && full.unchanged(self, &self.tail) {
                return Err(Stuck::Nothing);
            }
            // Always `Some`: every failed attempt gives the item back.
            let Some(value) = item.take() else {
                return Err(Stuck::Nothing);
            };
            match self.try_push_raw(value) {
                Ok(()) => Ok(Ok(())),
                Err(TryPushError::Closed(v)) => Ok(Err(PutError::Closed(v))),
                Err(TryPushError::Full(v)) => {
                    item = Some(v);
                    // The slot under `tail` holds the oldest item: room comes when it is
                    // emptied (its stamp becomes this lap's base).
                    full = Watch::of(self, &self.tail, 0, Self::ROOM_AHEAD);
                    Err(Stuck::Nothing)
                }
                Err(TryPushError::Busy(v)) => {
                    item = Some(v);
                    Err(Stuck::InProgress)
                }
            }
        });
        match (done, item) {
            (Some(result), _) => result,
            (None, Some(v)) => Err(PutError::Timeout(v)),
            (None, None) => unreachable!("an item is given back on every failed attempt"),
        }
    }

    /// Appends `value`, waiting through `W` while the queue is full.
    ///
    /// # Errors
    ///
    /// [`Closed`] with the item if the queue is closed (before or while waiting).
    ///
    /// # Panics
    ///
    /// Only if `W` panics; the item is then dropped, never left half in the queue.
    ///
    /// # Examples
    ///
    /// ```
    /// use baresync::Queue;
    ///
    /// static Q: Queue<u32, 1> = Queue::new();
    /// let consumer = std::thread::spawn(|| (0..3).map(|_| Q.get().unwrap()).sum::<u32>());
    /// for i in 1..=3 {
    ///     Q.put(i).unwrap(); // waits while the one slot is taken
    /// }
    /// assert_eq!(consumer.join().unwrap(), 6);
    /// ```
    #[inline]
    #[cfg_attr(all(feature = "lockdep", not(baresync_loom)), track_caller)]
    pub fn put(&self, value: T) -> Result<(), Closed<T>> {
        lockdep_hook! { crate::lockdep::before_acquire(crate::lockdep::key(&self.words.not_full), "Queue (waiting for room)"); crate::lockdep::signal(crate::lockdep::key(&self.words.not_empty), "Queue (waiting for an item)") }
        match self.put_raw(value, None::<&mut Forever>) {
            Ok(()) => {
                self.wake_consumers();
                Ok(())
            }
            Err(e) => Err(Closed(e.into_inner())),
        }
    }

    /// Appends `value`, waiting while the queue is full, unless `deadline` expires first.
    ///
    /// # Errors
    ///
    /// [`PutError::Timeout`] with the item if the deadline expired, [`PutError::Closed`] with
    /// the item if the queue is closed. The item is never lost.
    ///
    /// # Panics
    ///
    /// If `deadline` (or `W`) panics, the panic propagates and the item is dropped (once); it
    /// was not in the queue, and the queue is left as if `put_until` had not been called.
    ///
    /// # Examples
    ///
    /// ```
    /// use baresync::{PutError, Queue};
    ///
    /// static Q: Queue<&str, 1> = Queue::new();
    /// Q.put("first").unwrap();
    /// let mut polls = 0;
    /// let err = Q.put_until("second", || { polls += 1; polls > 10 }).unwrap_err();
    /// assert_eq!(err, PutError::Timeout("second"));
    /// ```
    #[cfg_attr(all(feature = "lockdep", not(baresync_loom)), track_caller)]
    pub fn put_until(&self, value: T, mut deadline: impl Deadline) -> Result<(), PutError<T>> {
        lockdep_hook! { crate::lockdep::signal(crate::lockdep::key(&self.words.not_empty), "Queue (waiting for an item)") }
        self.put_raw(value, Some(&mut deadline))?;
        self.wake_consumers();
        Ok(())
    }

    /// Appends `value`, waiting at most `timeout` while the queue is full.
    ///
    /// Needs feature `std` (a default feature).
    ///
    /// # Errors
    ///
    /// As [`put_until`](Queue::put_until).
    ///
    /// # Examples
    ///
    /// ```
    /// use baresync::{Futex, PutError, Queue};
    /// use std::time::Duration;
    ///
    /// static Q: Queue<u8, 1, Futex> = Queue::with_wait();
    /// Q.put(1).unwrap();
    /// assert_eq!(Q.put_timeout(2, Duration::from_millis(5)), Err(PutError::Timeout(2)));
    /// ```
    #[cfg(feature = "std")]
    #[cfg_attr(docsrs, doc(cfg(feature = "std")))]
    pub fn put_timeout(&self, value: T, timeout: core::time::Duration) -> Result<(), PutError<T>> {
        self.put_until(value, crate::deadline::Timeout::after(timeout))
    }

    /// The slow path of `get` (no deadline) and `get_until`, written once; wakes nobody.
    ///
    /// The only user code it runs (deadline, `W::wait*`) runs before an item is claimed, so an
    /// unwind leaves the queue as it was.
    #[cold]
    fn get_slow<D: Deadline>(&self, deadline: Option<&mut D>) -> Result<T, GetError> {
        let mut empty = Watch::NONE;
        block_on::<W, D, _>(&self.words.not_empty, deadline, |exact| {
            if !exact && empty.unchanged(self, &self.consumers.head) {
                return Err(Stuck::Nothing);
            }
            match self.try_pop_raw() {
                Ok(v) => Ok(Ok(v)),
                Err(TryPopError::Empty) if self.closed_and_drained() => Ok(Err(GetError::Closed)),
                Err(TryPopError::Empty) => {
                    // The next item goes to the slot under `head` (its stamp becomes this
                    // lap's base + 1).
                    empty = Watch::of(self, &self.consumers.head, 1, 0);
                    Err(Stuck::Nothing)
                }
                Err(TryPopError::Busy) => Err(Stuck::InProgress),
            }
        })
        .unwrap_or(Err(GetError::Timeout))
    }

    /// Removes the oldest item, waiting through `W` while the queue is empty.
    ///
    /// # Errors
    ///
    /// [`Closed`] once the queue is closed and every item left in it has been taken.
    ///
    /// # Examples
    ///
    /// ```
    /// use baresync::Queue;
    ///
    /// static Q: Queue<String, 4> = Queue::new();
    /// std::thread::spawn(|| Q.put("hello".to_string()).unwrap());
    /// assert_eq!(Q.get().unwrap(), "hello");
    /// ```
    #[inline]
    #[cfg_attr(all(feature = "lockdep", not(baresync_loom)), track_caller)]
    pub fn get(&self) -> Result<T, Closed> {
        lockdep_hook! { crate::lockdep::before_acquire(crate::lockdep::key(&self.words.not_empty), "Queue (waiting for an item)"); crate::lockdep::signal(crate::lockdep::key(&self.words.not_full), "Queue (waiting for room)") }
        let value = match self.try_pop_raw() {
            Ok(v) => v,
            Err(_) => self
                .get_slow(None::<&mut Forever>)
                .map_err(|_| Closed(()))?,
        };
        self.wake_producers();
        Ok(value)
    }

    /// Removes the oldest item, waiting while the queue is empty, unless `deadline` expires
    /// first. An item is either returned or left in the queue, never lost.
    ///
    /// # Errors
    ///
    /// [`GetError::Timeout`] if the deadline expired, [`GetError::Closed`] once the queue is
    /// closed and empty.
    ///
    /// # Examples
    ///
    /// ```
    /// use baresync::{GetError, Queue};
    ///
    /// static Q: Queue<u8, 2> = Queue::new();
    /// let mut polls = 0;
    /// assert_eq!(Q.get_until(|| { polls += 1; polls > 10 }), Err(GetError::Timeout));
    /// Q.push(9).unwrap();
    /// assert_eq!(Q.get_until(|| true), Ok(9));
    /// ```
    #[cfg_attr(all(feature = "lockdep", not(baresync_loom)), track_caller)]
    pub fn get_until(&self, mut deadline: impl Deadline) -> Result<T, GetError> {
        lockdep_hook! { crate::lockdep::signal(crate::lockdep::key(&self.words.not_full), "Queue (waiting for room)") }
        let value = self.get_slow(Some(&mut deadline))?;
        self.wake_producers();
        Ok(value)
    }

    /// Removes the oldest item, waiting at most `timeout` while the queue is empty.
    ///
    /// Needs feature `std` (a default feature).
    ///
    /// # Errors
    ///
    /// As [`get_until`](Queue::get_until).
    ///
    /// # Examples
    ///
    /// ```
    /// use baresync::{Futex, GetError, Queue};
    /// use std::time::Duration;
    ///
    /// static Q: Queue<u8, 2, Futex> = Queue::with_wait();
    /// assert_eq!(Q.get_timeout(Duration::from_millis(5)), Err(GetError::Timeout));
    /// ```
    #[cfg(feature = "std")]
    #[cfg_attr(docsrs, doc(cfg(feature = "std")))]
    pub fn get_timeout(&self, timeout: core::time::Duration) -> Result<T, GetError> {
        self.get_until(crate::deadline::Timeout::after(timeout))
    }

    /// Closes the queue (Python's `Queue.shutdown()`): every later push or put fails with
    /// the item, every waiter is woken; gets return the items left inside, then
    /// [`Closed`]. Closing twice is harmless.
    ///
    /// A push that claimed its slot before the close completes and its item can be taken;
    /// one that had not cannot claim one after it (the closed mark lives in the word that
    /// pushes claim positions from).
    ///
    /// # Examples
    ///
    /// ```
    /// use baresync::{Closed, Queue};
    ///
    /// static Q: Queue<u8, 4> = Queue::new();
    /// Q.put(1).unwrap();
    /// Q.close();
    /// assert!(Q.is_closed());
    /// assert_eq!(Q.put(2), Err(Closed(2)));
    /// assert_eq!(Q.get(), Ok(1));
    /// assert_eq!(Q.get(), Err(Closed(())));
    /// ```
    pub fn close(&self) {
        // ORDERING: Relaxed: a read-modify-write of `tail` is ordered with every producer's
        // compare-and-swap by the modification order of `tail`; waiters are ordered after it
        // through the Release of `close_word` (which is sequenced after this).
        self.tail.fetch_or(CLOSED, Relaxed);
        if !W::WAKE_IS_NOOP {
            close_word::<W>(&self.words.not_full);
            close_word::<W>(&self.words.not_empty);
        }
    }

    /// Whether [`close`](Queue::close) has been called.
    ///
    /// # Examples
    ///
    /// ```
    /// static Q: baresync::Queue<u8, 1> = baresync::Queue::new();
    /// assert!(!Q.is_closed());
    /// Q.close();
    /// assert!(Q.is_closed());
    /// ```
    #[inline]
    pub fn is_closed(&self) -> bool {
        // ORDERING: Relaxed: a snapshot.
        self.tail.load(Relaxed) & CLOSED != 0
    }

    /// How many items are in the queue: a snapshot, which may change at once.
    ///
    /// It counts claimed positions: an item whose push is still writing it counts as in (as
    /// `push`/`pop` count it: a `pop` waits for it rather than report empty), an item whose
    /// pop is still moving it out counts as gone. The two positions are read one after the
    /// other, not at one instant, so the result is clamped: it is always in `0..=N`.
    ///
    /// # Examples
    ///
    /// ```
    /// static Q: baresync::Queue<u8, 3> = baresync::Queue::new();
    /// Q.push(1).unwrap();
    /// Q.push(2).unwrap();
    /// assert_eq!(Q.len(), 2);
    /// ```
    pub fn len(&self) -> usize {
        let shift = Self::LAP.trailing_zeros();
        // ORDERING: Relaxed: a snapshot; the two loads are not taken at one instant, so the
        // result is clamped to 0..=N.
        let head = self.consumers.head.load(Relaxed);
        // ORDERING: Relaxed, as above.
        let tail = self.tail.load(Relaxed) & POS;
        // Laps between the two, as a signed number of the bits laps live in (positions wrap
        // around at 2^(BITS-1)).
        let laps =
            ((tail >> shift).wrapping_sub(head >> shift) << (shift + 1)) as isize >> (shift + 1);
        let index = |pos: usize| (pos & (Self::LAP - 1)) as isize;
        let len = laps
            .saturating_mul(N as isize)
            .saturating_add(index(tail) - index(head));
        len.clamp(0, N as isize) as usize
    }

    /// Whether the queue holds no item (a snapshot: `len() == 0`, see [`len`](Queue::len)).
    ///
    /// # Examples
    ///
    /// ```
    /// static Q: baresync::Queue<u8, 3> = baresync::Queue::new();
    /// assert!(Q.is_empty());
    /// ```
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Whether the queue holds `N` items (a snapshot: `len() == N`, see [`len`](Queue::len)).
    ///
    /// # Examples
    ///
    /// ```
    /// static Q: baresync::Queue<u8, 1> = baresync::Queue::new();
    /// Q.push(1).unwrap();
    /// assert!(Q.is_full());
    /// ```
    pub fn is_full(&self) -> bool {
        self.len() == N
    }

    /// The capacity, `N`.
    ///
    /// # Examples
    ///
    /// ```
    /// static Q: baresync::Queue<u8, 5> = baresync::Queue::new();
    /// assert_eq!(Q.capacity(), 5);
    /// ```
    #[inline]
    pub const fn capacity(&self) -> usize {
        N
    }
}

/// The iterator of [`Queue::drain`]: the items inside when it was made, oldest first.
#[must_use = "iterators are lazy: nothing is taken until it is iterated"]
pub struct Drain<'a, T, const N: usize, W: Wait = DefaultWait> {
    queue: &'a Queue<T, N, W>,
    /// How many more items it may take.
    left: usize,
}

impl<T, const N: usize, W: Wait> Iterator for Drain<'_, T, N, W> {
    type Item = T;

    fn next(&mut self) -> Option<T> {
        if self.left == 0 {
            return None;
        }
        match self.queue.pop() {
            Some(value) => {
                self.left -= 1;
                Some(value)
            }
            None => {
                // Other consumers took the rest: done, and stays done.
                self.left = 0;
                None
            }
        }
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        (0, Some(self.left))
    }
}

impl<T, const N: usize, W: Wait> core::iter::FusedIterator for Drain<'_, T, N, W> {}

impl<T, const N: usize, W: Wait> fmt::Debug for Drain<'_, T, N, W> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Drain").field("left", &self.left).finish_non_exhaustive()
    }
}

/// The iterator of [`Queue::try_iter`]: items until the queue is found empty or busy.
#[must_use = "iterators are lazy: nothing is taken until it is iterated"]
pub struct TryIter<'a, T, const N: usize, W: Wait = DefaultWait> {
    queue: &'a Queue<T, N, W>,
}

impl<T, const N: usize, W: Wait> Iterator for TryIter<'_, T, N, W> {
    type Item = T;

    fn next(&mut self) -> Option<T> {
        self.queue.try_pop().ok()
    }
}

impl<T, const N: usize, W: Wait> fmt::Debug for TryIter<'_, T, N, W> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TryIter").finish_non_exhaustive()
    }
}

impl<T, const N: usize, W: Wait> Default for Queue<T, N, W> {
    fn default() -> Self {
        Self::with_wait()
    }
}

impl<T, const N: usize, W> Drop for Queue<T, N, W> {
    /// Drops each item left inside exactly once, oldest first. If an item's `drop` panics,
    /// the rest are still dropped (as `Vec` does), then the panic goes on; a second panic
    /// from another item's `drop` during that unwind aborts, as it does for `Vec`.
    fn drop(&mut self) {
        // With `&mut self` no operation is in progress, so the positions from head to tail
        // are exactly the full slots.
        // ORDERING: Relaxed: `&mut self` means every other thread's accesses happen-before.
        let head = self.consumers.head.load(Relaxed);
        // ORDERING: Relaxed, as above.
        let tail = self.tail.load(Relaxed) & POS;
        let mut rest = DropRest {
            slots: &self.slots,
            head,
            tail,
        };
        rest.drop_all();
    }
}

/// The items of a queue being dropped, from `head` to `tail`; dropping it drops those not yet
/// dropped, so an unwind from one item's `drop` still drops the others.
struct DropRest<'a, T, const N: usize> {
    slots: &'a [Slot<T>; N],
    head: usize,
    tail: usize,
}

impl<T, const N: usize> DropRest<'_, T, N> {
    fn drop_all(&mut self) {
        let lap = lap_of(N);
        while self.head != self.tail {
            let slot = &self.slots[self.head & (lap - 1)];
            // Move past the item first: if its `drop` unwinds, it is not dropped again.
            self.head = if (self.head & (lap - 1)) + 1 < N {
                self.head + 1
            } else {
                (self.head & !(lap - 1)).wrapping_add(lap) & POS
            };
            // SAFETY: a position between head and tail with no operation in progress holds an
            // initialized item that nobody has moved out; `head` has moved past it, so it is
            // dropped once, here.
            slot.value.with_mut(|p| unsafe { (*p).assume_init_drop() });
        }
    }
}

impl<T, const N: usize> Drop for DropRest<'_, T, N> {
    fn drop(&mut self) {
        // Nothing left after a normal `drop_all`; the rest after an unwinding one.
        self.drop_all();
    }
}

impl<T, const N: usize, W: Wait> fmt::Debug for Queue<T, N, W> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Queue")
            .field("len", &self.len())
            .field("capacity", &N)
            .field("closed", &self.is_closed())
            .finish_non_exhaustive()
    }
}

#[cfg(all(test, not(baresync_loom)))]
mod tests {
    use super::*;
    use std::rc::Rc;
    use std::string::ToString;
    use std::vec::Vec;

    #[test]
    fn fifo_and_wrap_around_for_many_capacities() {
        fn check<const N: usize>() {
            let q: Queue<usize, N> = Queue::new();
            for round in 0..5 * N + 3 {
                for i in 0..N {
                    q.push(round * 100 + i).unwrap();
                }
                assert!(q.is_full());
                assert_eq!(q.len(), N);
                assert_eq!(q.push(0), Err(PushError::Full(0)));
                for i in 0..N {
                    assert_eq!(q.pop(), Some(round * 100 + i));
                }
                assert!(q.is_empty());
                assert_eq!(q.pop(), None);
                // Leave the ring offset by one for the next round.
                q.push(1).unwrap();
                assert_eq!(q.pop(), Some(1));
            }
        }
        check::<1>();
        check::<2>();
        check::<3>();
        check::<4>();
        check::<5>();
        check::<7>();
        check::<8>();
    }

    #[test]
    fn positions_wrap_around_the_position_bits() {
        let q: Queue<u32, 3> = Queue::new();
        // Start a few laps before the positions wrap around (the stamps of lap 0 are 0, so
        // set them to the lap we start in).
        let lap = Queue::<u32, 3>::LAP;
        let start = (POS & !(lap - 1)).wrapping_sub(2 * lap);
        q.consumers.head.store(start, Relaxed);
        q.tail.store(start, Relaxed);
        for s in &q.slots {
            s.stamp.store(start, Relaxed);
        }
        for i in 0..40 {
            q.push(i).unwrap();
            q.push(i + 1000).unwrap();
            assert_eq!(q.len(), 2);
            assert_eq!(q.pop(), Some(i));
            assert_eq!(q.pop(), Some(i + 1000));
        }
        assert!(q.tail.load(Relaxed) < start, "the positions wrapped around");
    }

    /// Position `index` of the lap `laps` laps before the last one before the wrap.
    fn near_wrap<const N: usize>(laps: usize, index: usize) -> usize {
        let lap = Queue::<u8, N>::LAP;
        ((POS & !(lap - 1)).wrapping_sub(laps * lap) & POS) + index
    }

    #[test]
    fn every_form_crosses_the_position_wrap() {
        fn check<const N: usize>() {
            for index in 0..N {
                let start = near_wrap::<N>(1, index);
                let q: Queue<usize, N> = Queue::starting_at(start, 0);
                let (mut next, mut expect) = (0, 0);
                for _ in 0..4 * N {
                    q.try_push(next).unwrap();
                    next += 1;
                    while q.push(next).is_ok() {
                        next += 1;
                    }
                    assert!(q.is_full());
                    assert_eq!(q.len(), N);
                    assert_eq!(q.try_push(0), Err(TryPushError::Full(0)));
                    assert_eq!(q.force_push(next), Ok(Some(expect)));
                    (next, expect) = (next + 1, expect + 1);
                    assert_eq!(q.len(), N);
                    assert_eq!(q.try_pop(), Ok(expect));
                    expect += 1;
                    while let Some(v) = q.pop() {
                        assert_eq!(v, expect);
                        expect += 1;
                    }
                    assert_eq!(q.try_pop(), Err(TryPopError::Empty));
                    assert!(q.is_empty());
                    assert_eq!(expect, next);
                }
                assert!(q.tail.load(Relaxed) < start, "the positions wrapped around");
            }
        }
        check::<1>();
        check::<2>();
        check::<3>();
        check::<4>();
        check::<5>();
    }

    /// Two producers and two consumers through a small queue whose positions and wait words
    /// start just before their wrap: every item once, in producer order.
    #[cfg(feature = "std")]
    #[test]
    fn mpmc_across_the_wrap_of_positions_and_wait_words() {
        let per = if cfg!(miri) { 30 } else { 20_000 };
        let start = near_wrap::<3>(2, 1);
        let q: Queue<(usize, usize), 3, crate::Futex> = Queue::starting_at(start, u32::MAX - 5);
        let got: Vec<Vec<(usize, usize)>> = std::thread::scope(|s| {
            for p in 0..2 {
                let q = &q;
                s.spawn(move || (0..per).for_each(|i| q.put((p, i)).unwrap()));
            }
            let consumers: Vec<_> = (0..2)
                .map(|_| s.spawn(|| (0..per).map(|_| q.get().unwrap()).collect::<Vec<_>>()))
                .collect();
            consumers.into_iter().map(|c| c.join().unwrap()).collect()
        });
        let mut seen = std::vec![std::vec![false; per]; 2];
        for mine in &got {
            let mut last = [None::<usize>; 2];
            for &(p, i) in mine {
                assert!(last[p] < Some(i), "producer {p}: {i} after {:?}", last[p]);
                last[p] = Some(i);
                assert!(
                    !core::mem::replace(&mut seen[p][i], true),
                    "({p}, {i}) twice"
                );
            }
        }
        assert!(seen.iter().flatten().all(|&b| b), "items lost");
        assert!(q.tail.load(Relaxed) < start, "the positions wrapped around");
        assert!(q.is_empty());
    }

    /// The wait words' epochs advance past `u32::MAX`: sleepers announced on a word near the
    /// wrap are still woken, by a put, a pop and a close.
    #[cfg(feature = "std")]
    #[test]
    fn wait_word_epochs_wrap_around() {
        let start = (u32::MAX - 4) & !SLEEPERS;
        let q: Queue<u32, 1, crate::Futex> = Queue::starting_at(0, start);
        let asleep = |w: &AtomicU32| {
            // ORDERING: Relaxed: polling a flag the sleeper sets; no data is read through it.
            while w.load(Relaxed) & SLEEPERS == 0 {
                std::thread::yield_now();
            }
        };
        for i in 0..4 {
            std::thread::scope(|s| {
                let getter = s.spawn(|| q.get());
                asleep(&q.words.not_empty);
                q.put(i).unwrap();
                assert_eq!(getter.join().unwrap(), Ok(i));
                q.put(100).unwrap();
                let putter = s.spawn(|| q.put(i + 1000));
                asleep(&q.words.not_full);
                assert_eq!(q.pop(), Some(100));
                assert_eq!(putter.join().unwrap(), Ok(()));
                assert_eq!(q.pop(), Some(i + 1000));
            });
        }
        // ORDERING: Relaxed: every thread that wrote the words has been joined.
        let (full, empty) = (
            q.words.not_full.load(Relaxed),
            q.words.not_empty.load(Relaxed),
        );
        assert!(
            full < start && empty < start,
            "both epochs wrapped: {full:#x} {empty:#x}"
        );
        // Close advances both again, across the wrap when started near it.
        let q: Queue<u32, 1, crate::Futex> = Queue::starting_at(0, u32::MAX - 1);
        std::thread::scope(|s| {
            let getter = s.spawn(|| q.get());
            asleep(&q.words.not_empty);
            q.close();
            assert_eq!(getter.join().unwrap(), Err(Closed(())));
        });
        assert!(q.words.not_empty.load(Relaxed) < 4);
        assert_eq!(q.words.not_empty.load(Relaxed) & SLEEPERS, 0);
    }

    // --- Slots in progress, made by hand: a push that has claimed its position but not yet
    // --- written it, a pop that has claimed its item but not yet stamped the slot empty.

    /// Claims the tail position as a push does, without writing it; returns the position.
    pub(super) fn stall_push<T, const N: usize, W: Wait>(q: &Queue<T, N, W>) -> usize {
        let t = q.tail.load(Relaxed);
        q.tail.store(Queue::<T, N, W>::next(t), Relaxed);
        t
    }

    /// Finishes the push `stall_push` began.
    pub(super) fn finish_push<T, const N: usize, W: Wait>(
        q: &Queue<T, N, W>,
        pos: usize,
        value: T,
    ) {
        finish_push_quietly(q, pos, value);
        q.wake_consumers();
    }

    /// Finishes the push `stall_push` began, waking nobody: as if its wake had missed the
    /// waiters (which `wake_if_sleepers` allows for waiters that saw the claim).
    fn finish_push_quietly<T, const N: usize, W: Wait>(q: &Queue<T, N, W>, pos: usize, value: T) {
        let slot = q.slot(pos);
        // SAFETY: position `pos` was claimed by `stall_push` and never written.
        slot.value
            .with_mut(|p| unsafe { p.write(MaybeUninit::new(value)) });
        // ORDERING: Release, as in `try_push_raw`.
        slot.stamp
            .store((pos & !(Queue::<T, N, W>::LAP - 1)) + 1, Release);
    }

    /// Claims the head item as a pop does and moves it out, without stamping the slot empty.
    pub(super) fn stall_pop<T, const N: usize, W: Wait>(q: &Queue<T, N, W>) -> (usize, T) {
        let h = q.consumers.head.load(Relaxed);
        // ORDERING: Acquire, as in `try_pop_raw`.
        assert_eq!(
            q.slot(h).stamp.load(Acquire),
            (h & !(Queue::<T, N, W>::LAP - 1)) + 1
        );
        q.consumers.head.store(Queue::<T, N, W>::next(h), Relaxed);
        // SAFETY: the slot is full (checked above) and we claimed its position.
        let v = q.slot(h).value.with(|p| unsafe { p.read().assume_init() });
        (h, v)
    }

    /// Finishes the pop `stall_pop` began.
    pub(super) fn finish_pop<T, const N: usize, W: Wait>(q: &Queue<T, N, W>, pos: usize) {
        finish_pop_quietly(q, pos);
        q.wake_producers();
    }

    /// Finishes the pop `stall_pop` began, waking nobody (see `finish_push_quietly`).
    fn finish_pop_quietly<T, const N: usize, W: Wait>(q: &Queue<T, N, W>, pos: usize) {
        let lap = Queue::<T, N, W>::LAP;
        // ORDERING: Release, as in `try_pop_raw`.
        q.slot(pos)
            .stamp
            .store((pos & !(lap - 1)).wrapping_add(lap) & POS, Release);
    }

    /// Runs `wait` (a blocking call) on its own thread until it announced itself on `word`
    /// and, most likely, fell asleep; then `finish` (an operation in progress finishing
    /// without a wake); returns what `wait` returned, failing if it does not return within
    /// seconds. The thread is detached, so a waiter that never returns fails the test rather
    /// than hang it.
    #[cfg(feature = "std")]
    fn without_a_wake<R: Send + 'static>(
        word: &'static AtomicU32,
        wait: impl FnOnce() -> R + Send + 'static,
        finish: impl FnOnce(),
    ) -> R {
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || tx.send(wait()));
        // ORDERING: Relaxed: polling the sleeper flag only.
        while word.load(Relaxed) & SLEEPERS == 0 {
            std::thread::yield_now();
        }
        // Not a timed assertion: only makes it likely that the waiter is inside `W::wait`,
        // the case under test; any interleaving must pass.
        std::thread::sleep(std::time::Duration::from_millis(if cfg!(miri) { 1 } else { 20 }));
        finish();
        rx.recv_timeout(std::time::Duration::from_secs(if cfg!(miri) { 600 } else { 20 }))
            .expect("a waiter behind an operation in progress waited for a wake that never came")
    }

    /// User code in the bounded sleep behind an operation in progress (`Backstop` polls the
    /// caller's deadline from inside `W::wait_until`): a `put_until` whose deadline panics at
    /// any one of its polls, those included, drops its item once and leaves the queue as it
    /// was (no slot claimed, the stalled pop still finishing normally).
    #[test]
    #[cfg(feature = "std")]
    fn a_deadline_panicking_behind_an_operation_in_progress_leaves_the_queue_intact() {
        use core::panic::AssertUnwindSafe;
        static DROPS: AtomicUsize = AtomicUsize::new(0);
        #[derive(Debug)]
        struct Item(u32);
        impl Drop for Item {
            fn drop(&mut self) {
                // ORDERING: Relaxed: a counter read by this thread only.
                DROPS.fetch_add(1, Relaxed);
            }
        }
        let q: Queue<Item, 1, crate::Futex> = Queue::with_wait();
        assert!(q.push(Item(1)).is_ok());
        // A pop in progress: the one slot is claimed and not yet emptied, so `put_until`
        // waits behind it (`Stuck::InProgress`), polling its deadline at the top of each
        // round (the pre-sleep budget, 64 rounds) and, after that, inside `Backstop` too.
        let (pos, first) = stall_pop(&q);
        for k in 1..=70 {
            // ORDERING: Relaxed: as above.
            DROPS.store(0, Relaxed);
            let mut polls = 0;
            let r = std::panic::catch_unwind(AssertUnwindSafe(|| {
                q.put_until(Item(2), || {
                    polls += 1;
                    assert!(polls != k, "injected");
                    false
                })
            }));
            let payload = r.expect_err("the injected panic propagates");
            assert_eq!(payload.downcast_ref::<&str>(), Some(&"injected"), "poll {k}");
            // ORDERING: Relaxed: as above.
            assert_eq!(DROPS.load(Relaxed), 1, "the item is dropped once (poll {k})");
            assert_eq!(q.len(), 0);
            assert_eq!(q.try_push(Item(3)).map_err(|e| e.is_busy()), Err(true));
        }
        finish_pop(&q, pos);
        assert_eq!(first.0, 1);
        assert!(q.push(Item(4)).is_ok());
        assert_eq!(q.pop().map(|i| i.0), Some(4));
    }

    /// A waiter's cheap poll (`Watch`) says "still stuck" only while its side's position and
    /// that slot's stamp are the ones it saw: any pop (push) that makes room (an item) for it
    /// changes one of them, and a slot found ready is never watched.
    #[test]
    fn a_watch_sees_every_change_that_can_unblock_it() {
        let q: Queue<u32, 2> = Queue::new();
        // Empty: a getter watches `head` and its slot; a push fills that slot.
        let empty = Watch::of(&q, &q.consumers.head, 1, 0);
        assert!(empty.unchanged(&q, &q.consumers.head));
        q.push(1).unwrap();
        assert!(!empty.unchanged(&q, &q.consumers.head));
        assert!(!Watch::of(&q, &q.consumers.head, 1, 0).unchanged(&q, &q.consumers.head), "ready: not watched");
        // Full: a putter watches `tail` and its slot; a pop empties it.
        q.push(2).unwrap();
        let full = Watch::of(&q, &q.tail, 0, 0);
        assert!(full.unchanged(&q, &q.tail));
        assert_eq!(q.pop(), Some(1));
        assert!(!full.unchanged(&q, &q.tail));
        assert!(!Watch::of(&q, &q.tail, 0, 0).unchanged(&q, &q.tail), "ready: not watched");
        // A push by another producer moves `tail`; a close sets CLOSED in it.
        let q: Queue<u32, 2> = Queue::new();
        let full_at_0 = Watch {
            pos: 0,
            watched: 0,
            stamp: 0,
        };
        assert!(full_at_0.unchanged(&q, &q.tail));
        q.push(1).unwrap();
        assert!(!full_at_0.unchanged(&q, &q.tail), "tail moved");
        q.close();
        assert!(!Watch::of(&q, &q.tail, 0, 0).unchanged(&q, &q.tail), "closed: not watched");
        assert!(!Watch::NONE.unchanged(&q, &q.tail));
        // A putter of a large queue looks `ROOM_AHEAD` slots ahead: the change it waits for is
        // that slot's pop.
        assert_eq!(Queue::<u8, 8>::ROOM_AHEAD, 0);
        assert_eq!(Queue::<u8, 1024>::ROOM_AHEAD, 32);
        let q: Queue<u16, 256> = Queue::new();
        assert_eq!(Queue::<u16, 256>::ROOM_AHEAD, 8);
        for i in 0..256 {
            q.push(i).unwrap();
        }
        let full = Watch::of(&q, &q.tail, 0, Queue::<u16, 256>::ROOM_AHEAD);
        for i in 0..8 {
            assert_eq!(q.pop(), Some(i));
            assert!(full.unchanged(&q, &q.tail));
        }
        assert_eq!(q.pop(), Some(8));
        assert!(!full.unchanged(&q, &q.tail));
    }

    /// A waiter that found the slot it needs claimed by an operation still in progress is not
    /// promised that operation's wake (`wake_if_sleepers` is ordered against its claim only):
    /// it sleeps at most `BACKSTOP` at a time. Here the operation finishes without waking at
    /// all, and each waiting form (pop, get, push, put) still gets on.
    #[cfg(feature = "std")]
    #[test]
    fn waiters_behind_an_operation_in_progress_get_on_without_a_wake() {
        static POP: Queue<u32, 2, crate::Futex> = Queue::with_wait();
        static GET: Queue<u32, 2, crate::Futex> = Queue::with_wait();
        for (q, waiting_get) in [(&POP, false), (&GET, true)] {
            let pos = stall_push(q);
            let got = without_a_wake(
                &q.words.not_empty,
                move || if waiting_get { q.get().ok() } else { q.pop() },
                || finish_push_quietly(q, pos, 7),
            );
            assert_eq!(got, Some(7));
        }
        static PUSH: Queue<u32, 1, crate::Futex> = Queue::with_wait();
        static PUT: Queue<u32, 1, crate::Futex> = Queue::with_wait();
        for (q, waiting_put) in [(&PUSH, false), (&PUT, true)] {
            q.push(1).unwrap();
            let (pos, v) = stall_pop(q);
            assert_eq!(v, 1);
            let pushed = without_a_wake(
                &q.words.not_full,
                move || if waiting_put { q.put(3).is_ok() } else { q.push(3).is_ok() },
                || finish_pop_quietly(q, pos),
            );
            assert!(pushed);
            assert_eq!(q.pop(), Some(3));
        }
    }

    #[cfg(feature = "std")]
    #[test]
    fn a_push_in_progress_is_busy_for_try_pop_and_waited_for_by_pop_and_get() {
        let q: Queue<u32, 2, crate::Futex> = Queue::with_wait();
        for waiting_get in [false, true] {
            let pos = stall_push(&q);
            assert_eq!(q.try_pop(), Err(TryPopError::Busy));
            assert_eq!(q.len(), 1, "the item being written counts");
            assert!(!q.is_empty());
            std::thread::scope(|s| {
                let consumer = s.spawn(|| if waiting_get { q.get().ok() } else { q.pop() });
                // ORDERING: Relaxed: polling the sleeper flag only.
                while q.words.not_empty.load(Relaxed) & SLEEPERS == 0 {
                    std::thread::yield_now();
                }
                finish_push(&q, pos, 7);
                assert_eq!(consumer.join().unwrap(), Some(7), "not a false empty");
            });
        }
    }

    #[cfg(feature = "std")]
    #[test]
    fn a_pop_in_progress_is_busy_for_try_push_and_waited_for_by_push_and_put() {
        let q: Queue<u32, 1, crate::Futex> = Queue::with_wait();
        for waiting_put in [false, true] {
            q.push(1).unwrap();
            let (pos, v) = stall_pop(&q);
            assert_eq!(v, 1);
            assert_eq!(q.try_push(2), Err(TryPushError::Busy(2)));
            assert!(TryPushError::Busy(2).is_busy() && !TryPushError::Busy(2).is_full());
            assert_eq!(q.len(), 0, "the item being moved out is gone");
            assert!(!q.is_full());
            std::thread::scope(|s| {
                let producer = s.spawn(|| {
                    if waiting_put {
                        q.put(3).is_ok()
                    } else {
                        q.push(3).is_ok()
                    }
                });
                // ORDERING: Relaxed: polling the sleeper flag only.
                while q.words.not_full.load(Relaxed) & SLEEPERS == 0 {
                    std::thread::yield_now();
                }
                finish_pop(&q, pos);
                assert!(producer.join().unwrap(), "not a false full");
            });
            assert_eq!(q.try_pop(), Ok(3));
        }
    }

    #[test]
    fn force_push_waits_for_the_operation_in_progress_on_the_oldest_slot() {
        // A push in progress on the oldest slot: evicted once written.
        let q: Queue<u32, 1> = Queue::new();
        let pos = stall_push(&q);
        std::thread::scope(|s| {
            let forcer = s.spawn(|| q.force_push(9));
            std::thread::sleep(core::time::Duration::from_millis(5));
            finish_push(&q, pos, 1);
            assert_eq!(forcer.join().unwrap(), Ok(Some(1)));
        });
        assert_eq!(q.pop(), Some(9));
        // A pop in progress on it: written in place once emptied, nothing evicted.
        q.push(2).unwrap();
        let (pos, v) = stall_pop(&q);
        assert_eq!(v, 2);
        std::thread::scope(|s| {
            let forcer = s.spawn(|| q.force_push(10));
            std::thread::sleep(core::time::Duration::from_millis(5));
            finish_pop(&q, pos);
            assert_eq!(forcer.join().unwrap(), Ok(None));
        });
        assert_eq!(q.pop(), Some(10));
    }

    std::thread_local! {
        static WAKES: core::cell::Cell<usize> = const { core::cell::Cell::new(0) };
    }

    /// A sleeping backend whose `wait` panics; counts this thread's `wake_all` calls.
    struct PanicOnWait;

    // SAFETY: only reads the word it is given (or passes its address on); never writes it.
    unsafe impl Wait for PanicOnWait {
        fn wait(_: &AtomicU32, _: u32) {
            panic!("injected wait panic");
        }
        fn wait_until(_: &AtomicU32, _: u32, _: &mut impl Deadline) -> bool {
            panic!("injected wait panic");
        }
        fn wake_one(_: &AtomicU32) {
            WAKES.with(|w| w.set(w.get() + 1));
        }
        fn wake_all(_: &AtomicU32) {
            WAKES.with(|w| w.set(w.get() + 1));
        }
    }

    /// A `wait` that unwinds leaves the "sleepers may exist" flag set, with nobody asleep: the
    /// next change pays one wake call and clears it; no later change pays anything.
    #[test]
    fn a_panicking_wait_leaves_no_lasting_ghost_sleeper() {
        let wakes = || WAKES.with(core::cell::Cell::get);
        let unwound =
            |f: &dyn Fn()| std::panic::catch_unwind(std::panic::AssertUnwindSafe(f)).is_err();
        let q: Queue<u8, 1, PanicOnWait> = Queue::with_wait();
        q.push(1).unwrap();
        assert!(unwound(&|| {
            let _ = q.put(2);
        }));
        assert!(unwound(&|| {
            let _ = q.put_until(2, || false);
        }));
        // ORDERING: Relaxed: one thread.
        assert_eq!(q.words.not_full.load(Relaxed) & SLEEPERS, SLEEPERS);
        let before = wakes();
        assert_eq!(q.pop(), Some(1));
        assert_eq!(wakes(), before + 1, "one wake for the flag left behind");
        assert_eq!(
            q.words.not_full.load(Relaxed) & SLEEPERS,
            0,
            "and it is cleared"
        );
        assert_eq!(q.len(), 0);
        // Same on the other side.
        assert!(unwound(&|| {
            let _ = q.get();
        }));
        assert!(unwound(&|| {
            let _ = q.get_until(|| false);
        }));
        q.push(3).unwrap();
        assert_eq!(wakes(), before + 2);
        assert_eq!(q.words.not_empty.load(Relaxed) & SLEEPERS, 0);
        // From now on no wake calls at all.
        assert_eq!(q.pop(), Some(3));
        for i in 0..5 {
            q.push(i).unwrap();
            assert_eq!(q.pop(), Some(i));
        }
        assert_eq!(wakes(), before + 2, "no ghost sleeper left");
    }

    #[test]
    fn force_push_evicts_oldest() {
        let q: Queue<u32, 3> = Queue::new();
        for i in 0..3 {
            assert_eq!(q.force_push(i), Ok(None));
        }
        for i in 3..10 {
            assert_eq!(q.force_push(i), Ok(Some(i - 3)));
            assert_eq!(q.len(), 3);
        }
        assert_eq!(q.pop(), Some(7));
        assert_eq!(q.force_push(10), Ok(None));
        assert_eq!(q.pop(), Some(8));
        assert_eq!(q.pop(), Some(9));
        assert_eq!(q.pop(), Some(10));
        assert_eq!(q.pop(), None);
        q.close();
        assert_eq!(q.force_push(11), Err(Closed(11)));
    }

    #[test]
    fn close_rejects_pushes_and_drains() {
        let q: Queue<u8, 2> = Queue::new();
        q.push(1).unwrap();
        q.close();
        q.close();
        assert_eq!(q.push(2), Err(PushError::Closed(2)));
        assert_eq!(q.put(3), Err(Closed(3)));
        assert_eq!(q.put_until(4, || false), Err(PutError::Closed(4)));
        assert_eq!(q.len(), 1);
        assert_eq!(q.get(), Ok(1));
        assert_eq!(q.get(), Err(Closed(())));
        assert_eq!(q.get_until(|| false), Err(GetError::Closed));
        assert_eq!(q.pop(), None);
    }

    #[cfg(feature = "std")]
    #[test]
    fn timeouts_give_items_back() {
        let q: Queue<&str, 1> = Queue::new();
        q.put("a").unwrap();
        let mut polls = 0;
        let e = q
            .put_until("b", || {
                polls += 1;
                polls > 5
            })
            .unwrap_err();
        assert_eq!(e, PutError::Timeout("b"));
        assert!(!e.is_closed());
        assert_eq!(e.into_inner(), "b");
        assert_eq!(q.get_until(|| true), Ok("a"));
        assert_eq!(q.get_until(|| true), Err(GetError::Timeout));
        let f: Queue<u8, 1, crate::Futex> = Queue::with_wait();
        assert_eq!(
            f.get_timeout(core::time::Duration::from_millis(2)),
            Err(GetError::Timeout)
        );
        f.put(1).unwrap();
        assert_eq!(
            f.put_timeout(2, core::time::Duration::from_millis(2)),
            Err(PutError::Timeout(2))
        );
    }

    #[test]
    fn drops_what_is_left_exactly_once() {
        let token = Rc::new(());
        {
            let q: Queue<Rc<()>, 4> = Queue::new();
            for _ in 0..3 {
                q.push(Rc::clone(&token)).unwrap();
            }
            drop(q.pop());
            // Wrap around once so the items left straddle the end of the array.
            q.push(Rc::clone(&token)).unwrap();
            q.push(Rc::clone(&token)).unwrap();
            assert_eq!(Rc::strong_count(&token), 5);
        }
        assert_eq!(Rc::strong_count(&token), 1);
    }

    #[test]
    fn errors_display_and_debug_without_t_debug() {
        struct Opaque;
        assert_eq!(std::format!("{:?}", Closed(Opaque)), "Closed(..)");
        assert_eq!(std::format!("{:?}", PushError::Full(Opaque)), "Full(..)");
        assert_eq!(
            std::format!("{:?}", PutError::Timeout(Opaque)),
            "Timeout(..)"
        );
        assert_eq!(Closed(()).to_string(), "the queue is closed");
        assert_eq!(PushError::Full(1).to_string(), "the queue is full");
        assert_eq!(
            GetError::Closed.to_string(),
            "the queue is closed and empty"
        );
        fn is_error<E: core::error::Error>(_: &E) {}
        is_error(&Closed(Opaque));
        is_error(&PushError::Closed(Opaque));
        is_error(&PutError::Closed(Opaque));
        is_error(&GetError::Timeout);
    }

    #[test]
    fn debug_shows_state() {
        let q: Queue<u8, 2> = Queue::new();
        q.push(1).unwrap();
        let s = std::format!("{q:?}");
        assert!(s.contains("len: 1") && s.contains("capacity: 2"), "{s}");
    }

    #[test]
    fn send_sync() {
        fn sync<S: Sync + Send>() {}
        sync::<Queue<Vec<u8>, 2>>();
        // `Rc` is neither: the queue must be neither (checked by a compile_fail doctest on
        // `Queue`'s `Sync` in tests/ui would be stronger; here, at least the positive side).
    }
}

#[cfg(all(test, baresync_loom))]
mod loom_wrap {
    use super::*;
    use loom::sync::Arc;
    use loom::thread;

    /// A push and a pop race across the wrap of the positions: a queue of capacity 2 starts at
    /// the last slot of the last lap before the wrap, so the second item's position is 0.
    #[test]
    fn loom_queue_position_wrap() {
        crate::sync::loom_model(|| {
            let lap = Queue::<usize, 2, crate::Spin>::LAP;
            let start = (POS & !(lap - 1)) + 1;
            let q: Arc<Queue<usize, 2, crate::Spin>> = Arc::new(Queue::starting_at(start, 0));
            let producer = {
                let q = Arc::clone(&q);
                thread::spawn(move || {
                    q.push(1).unwrap();
                    q.push(2).unwrap();
                })
            };
            // Spawned, not run by the model's main thread: loom 0.7 does not preempt the main
            // thread in favour of a thread it has just spawned.
            let consumer = {
                let q = Arc::clone(&q);
                thread::spawn(move || {
                    let mut got = std::vec::Vec::new();
                    while got.len() < 2 {
                        match q.pop() {
                            Some(v) => got.push(v),
                            None => thread::yield_now(),
                        }
                    }
                    got
                })
            };
            producer.join().unwrap();
            assert_eq!(consumer.join().unwrap(), [1, 2]);
            assert_eq!(q.pop(), None);
            // ORDERING: Relaxed: the producer was joined.
            assert!(q.tail.load(Relaxed) < start, "the positions wrapped around");
        });
    }
}
