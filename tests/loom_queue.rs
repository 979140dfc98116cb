//! Loom models of `Queue` and `JoinableQueue`.
//!
//! Run with
//! `RUSTFLAGS="--cfg baresync_loom" LOOM_MAX_PREEMPTIONS=2 CARGO_TARGET_DIR=target/loom cargo test --release --test loom_queue`.
//!
//! What is checked:
//! - the slot hand-off: each slot's value is a `loom::cell::UnsafeCell` under the cfg, so a
//!   consumer reading an item whose write does not happen-before the read, or a producer
//!   overwriting an item not yet moved out, is reported by loom; every item arrives once and
//!   in producer order;
//! - no lost wake-up: blocking `put`/`get`/`join` use [`LoomFutex`], which really sleeps, so a
//!   missing wake is a loom deadlock;
//! - `close` racing `put` and `get`: each item is received or given back, never both or
//!   neither, and waiters always return;
//! - `join` racing `task_done`: `join` returns only after the consumer's work, which loom
//!   checks through an `UnsafeCell` written by the consumer and read after `join`;
//! - `force_push` racing `pop` on a full queue: the oldest item is evicted or popped, once;
//! - no false "empty"/"full": a `pop` (`push`) that finds its slot claimed by a push (pop) in
//!   progress waits for it, really sleeping on the queue's word, and `try_pop` (`try_push`)
//!   reports `Busy` there.
//!
//! The `negative_*` models break one thing (a backend that never wakes, a backend that claims
//! `WAKE_IS_NOOP` but sleeps) and must make loom report a deadlock.
#![cfg(baresync_loom)]

mod loom_support;
use loom_support::*;

use baresync::sync::atomic::{AtomicBool, AtomicU32, Ordering::SeqCst};
use baresync::{Closed, Deadline, JoinableQueue, Queue, Spin, Wait};
use loom::cell::UnsafeCell;
use loom::thread;
// std's Arc, as in loom_lock.rs: a deadlock report (negative models) unwinds with no active
// loom thread, and dropping loom objects there aborts the test binary.
use std::sync::Arc;

// ---------------------------------------------------------------------------------------------
// 1. Slot hand-off with the non-waiting operations
// ---------------------------------------------------------------------------------------------

/// Pops once in a spawned thread. The racing side of a model runs in spawned threads, never in
/// the model's main thread: loom 0.7 does not preempt the main thread in favour of a thread it
/// has just spawned, so a race between the main thread and one spawned thread is explored in
/// one order only (these models used to pop on the main thread and checked a single
/// interleaving).
fn spawn_pop<const N: usize, W: Wait + 'static>(
    q: &Arc<Queue<usize, N, W>>,
) -> thread::JoinHandle<Option<usize>> {
    let q = Arc::clone(q);
    thread::spawn(move || q.pop())
}

/// One producer pushes 1 and 2 into a queue of capacity 1 (retrying a full push at most
/// once), one consumer pops: whatever it gets comes in order, and nothing is lost.
#[test]
fn spsc_push_pop_handoff_n1() {
    model(|| {
        let q: Arc<Queue<usize, 1, Spin>> = Arc::new(Queue::new());
        let p = spawn_with(&q, move |q| {
            q.push(1).unwrap();
            // The consumer may not have taken 1 yet: then 2 stays with us.
            q.push(2).is_ok()
        });
        let first = spawn_pop(&q);
        let pushed_2 = p.join().unwrap();
        let mut got: Vec<usize> = first.join().unwrap().into_iter().collect();
        got.extend(std::iter::from_fn(|| q.pop()));
        let expected: &[usize] = if pushed_2 { &[1, 2] } else { &[1] };
        assert_eq!(got, expected);
    });
}

/// Two producers, one consumer, capacity 2: the consumer's pops race both pushes.
#[test]
fn two_producers_one_consumer_n2() {
    model(|| {
        let q: Arc<Queue<usize, 2, Spin>> = Arc::new(Queue::new());
        let producers: Vec<_> = (1..=2)
            .map(|v| spawn_with(&q, move |q| q.push(v).unwrap()))
            .collect();
        let consumer = spawn_pop(&q);
        for p in producers {
            p.join().unwrap();
        }
        let mut got: Vec<usize> = consumer.join().unwrap().into_iter().collect();
        got.extend(std::iter::from_fn(|| q.pop()));
        got.sort_unstable();
        assert_eq!(got, [1, 2]);
    });
}

/// Two producers on a queue of capacity 1 and a consumer that pops once: one push may fail
/// (full), and the item comes back; the slot is reused across laps.
#[test]
fn two_producers_one_consumer_n1() {
    model(|| {
        let q: Arc<Queue<usize, 1, Spin>> = Arc::new(Queue::new());
        let producers: Vec<_> = (1..=2)
            .map(|v| spawn_with(&q, move |q| q.push(v).err().map(|e| e.into_inner())))
            .collect();
        let consumer = spawn_pop(&q);
        let mut all: Vec<usize> = Vec::new();
        for p in producers {
            all.extend(p.join().unwrap());
        }
        all.extend(consumer.join().unwrap());
        all.extend(std::iter::from_fn(|| q.pop()));
        all.sort_unstable();
        assert_eq!(all, [1, 2]);
    });
}

/// `force_push` on a full queue races a `pop`: the oldest item is either evicted or popped,
/// exactly once, and the new item ends up inside.
#[test]
fn force_push_races_pop() {
    model(|| {
        let q: Arc<Queue<usize, 1, Spin>> = Arc::new(Queue::new());
        q.push(1).unwrap();
        let pusher = spawn_with(&q, move |q| q.force_push(2).unwrap());
        let popped = spawn_pop(&q);
        let evicted = pusher.join().unwrap();
        let popped = popped.join().unwrap();
        let mut all: Vec<usize> = popped.into_iter().chain(evicted).collect();
        all.extend(std::iter::from_fn(|| q.pop()));
        all.sort_unstable();
        assert_eq!(all, [1, 2]);
    });
}

/// A pop that finds the oldest item claimed but not yet written must not report empty: when
/// `len` has seen the producer's claim, `pop` waits for the item (and `try_pop` says `Busy`,
/// never `Empty`). With `LoomFutex` the waiting pop really sleeps, so a missing wake of that
/// new waiting path is a loom deadlock.
///
/// Both sides run in spawned threads: loom 0.7 does not preempt the model's main thread in
/// favour of a thread it has just spawned, so a race between the main thread and one spawned
/// thread is explored in one order only.
fn pop_after_a_claimed_push(use_try: bool) {
    model(move || {
        let q: Arc<Queue<usize, 2, LoomFutex>> = Arc::new(Queue::with_wait());
        let producer = spawn_with(&q, move |q| q.push(7).unwrap());
        let consumer = spawn_with(&q, move |q| {
            if q.len() != 1 {
                return None;
            }
            if use_try {
                match q.try_pop() {
                    Ok(v) => Some(v),
                    Err(e) => {
                        assert!(e.is_busy(), "a claimed item reported as empty");
                        None
                    }
                }
            } else {
                Some(q.pop().expect("a claimed item reported as empty"))
            }
        });
        producer.join().unwrap();
        let mut got: Vec<usize> = consumer.join().unwrap().into_iter().collect();
        got.extend(std::iter::from_fn(|| q.pop()));
        assert_eq!(got, [7]);
    });
}

#[test]
fn pop_waits_for_a_push_in_progress() {
    pop_after_a_claimed_push(false);
}

#[test]
fn try_pop_reports_a_push_in_progress_as_busy() {
    pop_after_a_claimed_push(true);
}

/// The mirror image: a full queue of capacity 1 whose item a consumer is taking. Once `len`
/// has seen the consumer's claim, `push` must not report full: it waits for the slot (through
/// `LoomFutex`, woken by the pop), and `try_push` says `Busy`, never `Full`.
fn push_after_a_claimed_pop(use_try: bool) {
    model(move || {
        let q: Arc<Queue<usize, 1, LoomFutex>> = Arc::new(Queue::with_wait());
        q.push(1).unwrap();
        let consumer = spawn_with(&q, move |q| q.pop());
        let producer = spawn_with(&q, move |q| {
            if !q.is_empty() {
                return false;
            }
            if use_try {
                match q.try_push(2) {
                    Ok(()) => true,
                    Err(e) => {
                        assert!(e.is_busy(), "a claimed slot reported as full");
                        false
                    }
                }
            } else {
                q.push(2).expect("a claimed slot reported as full");
                true
            }
        });
        assert_eq!(consumer.join().unwrap(), Some(1));
        let pushed = producer.join().unwrap();
        let rest: Vec<usize> = std::iter::from_fn(|| q.pop()).collect();
        assert_eq!(rest, if pushed { &[2][..] } else { &[][..] });
    });
}

#[test]
fn push_waits_for_a_pop_in_progress() {
    push_after_a_claimed_pop(false);
}

#[test]
fn try_push_reports_a_pop_in_progress_as_busy() {
    push_after_a_claimed_pop(true);
}

// ---------------------------------------------------------------------------------------------
// 2. No lost wake-up: blocking put/get with a backend that really sleeps
// ---------------------------------------------------------------------------------------------

/// With `leak`, the queue is never dropped: a negative model's deadlock report unwinds the
/// blocked thread, and dropping the queue's loom atomics there would abort the test binary.
fn blocking_put_get<W: Wait + 'static>(leak: bool) {
    let q: Arc<Queue<usize, 1, W>> = Arc::new(Queue::with_wait());
    if leak {
        std::mem::forget(Arc::clone(&q));
    }
    let producer = spawn_with(&q, move |q| {
        q.put(1).unwrap();
        q.put(2).unwrap(); // waits for the consumer to take 1
    });
    assert_eq!(q.get(), Ok(1)); // may wait for the producer
    assert_eq!(q.get(), Ok(2));
    producer.join().unwrap();
}

/// A producer blocks on a full queue of capacity 1, the consumer blocks on an empty one;
/// every execution must finish, and some must really sleep.
#[test]
fn blocking_put_and_get_no_lost_wakeup() {
    reset_counters();
    model(|| blocking_put_get::<LoomFutex>(false));
    assert!(sleeps() > 0, "no execution reached the sleeping path");
}

/// Two blocked consumers and one producer of two items.
#[test]
fn two_blocked_getters_no_lost_wakeup() {
    model(|| {
        let q: Arc<Queue<usize, 1, LoomFutex>> = Arc::new(Queue::with_wait());
        let getters: Vec<_> = (0..2)
            .map(|_| spawn_with(&q, move |q| q.get().unwrap()))
            .collect();
        q.put(1).unwrap();
        q.put(2).unwrap();
        let mut got: Vec<usize> = getters.into_iter().map(|g| g.join().unwrap()).collect();
        got.sort_unstable();
        assert_eq!(got, [1, 2]);
    });
}

// ---------------------------------------------------------------------------------------------
// 3. close racing put and get
// ---------------------------------------------------------------------------------------------

/// A blocked `get` and a `put` race `close`: the getter returns the item or `Closed`, and an
/// item the put accepted is received or still inside, never lost.
#[test]
fn close_races_put_and_blocked_get() {
    model(|| {
        let q: Arc<Queue<usize, 1, LoomFutex>> = Arc::new(Queue::with_wait());
        let getter = spawn_with(&q, move |q| q.get());
        let putter = spawn_with(&q, move |q| q.put(7));
        q.close();
        let got = getter.join().unwrap();
        let put = putter.join().unwrap();
        let left = q.pop();
        match put {
            Ok(()) => assert!(
                (got == Ok(7)) ^ (left == Some(7)),
                "accepted item: got {got:?}, left {left:?}"
            ),
            Err(Closed(7)) => assert_eq!((got, left), (Err(Closed(())), None)),
            Err(e) => panic!("unexpected {e:?}"),
        }
        assert!(q.is_closed());
    });
}

loom::lazy_static! {
    /// Set by [`Announced`] when a thread is about to sleep (reset for every execution).
    static ref ABOUT_TO_SLEEP: AtomicBool = AtomicBool::new(false);
}

/// [`LoomFutex`] that first records that a thread reached `wait`, so a model can close the
/// queue only once a waiter is (about to be) asleep. Without it the close always comes first:
/// under loom a spinning thread is not rescheduled until another thread has moved.
struct Announced;

// SAFETY: only reads the word it is given (or passes its address on); never writes it.
unsafe impl Wait for Announced {
    fn wait(atomic: &AtomicU32, expected: u32) {
        ABOUT_TO_SLEEP.store(true, SeqCst);
        LoomFutex::wait(atomic, expected);
    }
    fn wait_until(atomic: &AtomicU32, expected: u32, deadline: &mut impl Deadline) -> bool {
        ABOUT_TO_SLEEP.store(true, SeqCst);
        LoomFutex::wait_until(atomic, expected, deadline)
    }
    fn wake_one(atomic: &AtomicU32) {
        LoomFutex::wake_one(atomic);
    }
    fn wake_all(atomic: &AtomicU32) {
        LoomFutex::wake_all(atomic);
    }
}

fn until_a_waiter_sleeps() {
    while !ABOUT_TO_SLEEP.load(SeqCst) {
        thread::yield_now();
    }
}

/// A producer blocked on a full queue is woken by `close` and gets its item back; the item
/// already inside is drained afterwards.
#[test]
fn close_wakes_blocked_put_and_get_drains() {
    reset_counters();
    model(|| {
        let q: Arc<Queue<usize, 1, Announced>> = Arc::new(Queue::with_wait());
        q.put(1).unwrap();
        let putter = spawn_with(&q, move |q| q.put(2));
        until_a_waiter_sleeps();
        q.close();
        assert_eq!(putter.join().unwrap(), Err(Closed(2)));
        assert_eq!(q.get(), Ok(1));
        assert_eq!(q.get(), Err(Closed(())));
    });
    assert!(sleeps() > 0, "no execution slept in put");
}

/// Two consumers blocked on an empty queue are both woken by `close`.
#[test]
fn close_wakes_blocked_getters() {
    reset_counters();
    model(|| {
        let q: Arc<Queue<usize, 1, Announced>> = Arc::new(Queue::with_wait());
        let getters: Vec<_> = (0..2).map(|_| spawn_with(&q, move |q| q.get())).collect();
        until_a_waiter_sleeps();
        q.close();
        for g in getters {
            assert_eq!(g.join().unwrap(), Err(Closed(())));
        }
    });
    assert!(sleeps() > 0, "no execution slept in get");
}

// ---------------------------------------------------------------------------------------------
// 4. join racing task_done
// ---------------------------------------------------------------------------------------------

struct Work {
    q: JoinableQueue<usize, 1, LoomFutex>,
    /// Written by the consumer before `task_done`, read after `join`.
    result: UnsafeCell<usize>,
}

// SAFETY: `result` is written by the consumer before `task_done` and read by the joiner after
// `join`, which is what the model checks.
unsafe impl Sync for Work {}
// SAFETY: as above.
unsafe impl Send for Work {}

#[test]
fn join_races_task_done() {
    reset_counters();
    model(|| {
        let w = Arc::new(Work {
            q: JoinableQueue::with_wait(),
            result: UnsafeCell::new(0),
        });
        w.q.put(5).unwrap();
        let consumer = spawn_with(&w, move |w| {
            let item = w.q.get().unwrap();
            // SAFETY: only this thread writes, before `task_done`.
            w.result.with_mut(|r| unsafe { *r = item * 2 });
            w.q.task_done().unwrap();
        });
        w.q.join();
        // SAFETY: `join` returned, so the consumer's write happens-before (loom checks it).
        assert_eq!(w.result.with(|r| unsafe { *r }), 10);
        assert!(w.q.task_done().is_err());
        consumer.join().unwrap();
    });
    assert!(sleeps() > 0, "no execution slept in join");
}

// ---------------------------------------------------------------------------------------------
// 5. Negative controls: each must make loom fail
// ---------------------------------------------------------------------------------------------

/// A backend whose wakes do nothing: a blocked put or get sleeps forever.
#[test]
#[should_panic(expected = "deadlock")]
fn negative_lost_wakeup_deadlocks() {
    model(|| blocking_put_get::<Park<false, false>>(true));
}

/// A sleeping backend that claims `WAKE_IS_NOOP`: pushes and pops skip the wake, and a
/// sleeper is never woken.
#[test]
#[should_panic(expected = "deadlock")]
fn negative_wake_is_noop_with_sleeping_backend_deadlocks() {
    model(|| blocking_put_get::<Park<true, true>>(true));
}

/// `force_push` on a full queue whose oldest item a consumer has already taken writes the new
/// item into that emptied slot, and a later `pop` reads it: the write must happen-before the
/// read (the Release store that publishes the slot). Nothing lost, nothing duplicated. Found
/// by the ordering-mutant run: `force_slow`'s Release store → Relaxed survived every other
/// model.
#[test]
fn force_push_into_a_slot_a_pop_emptied_publishes() {
    model(|| {
        let q: Arc<Queue<usize, 1, Spin>> = Arc::new(Queue::new());
        q.push(1).unwrap();
        let pusher = spawn_with(&q, move |q| q.force_push(2).unwrap());
        let first = q.try_pop().ok();
        let second = q.try_pop().ok();
        let evicted = pusher.join().unwrap();
        let mut all: Vec<usize> = first.into_iter().chain(second).chain(evicted).collect();
        all.extend(std::iter::from_fn(|| q.pop()));
        all.sort_unstable();
        assert_eq!(all, [1, 2]);
    });
}

// ---------------------------------------------------------------------------------------------
// 6. JoinableQueue's task count (`tail` claimed by producers, `done` stepped by consumers)
// ---------------------------------------------------------------------------------------------

/// One producer pushes two items; two consumers each `try_pop` once and mark what they got
/// done (no retry or wait: loom's branch budget does not allow two spinning consumers). The consumer
/// holding the first item may finish after the other one and read `tail` from before the
/// second push (its own hand-off only orders the first): the Acquire load of `done` before it
/// reads `tail` must rule that out, or its correct `task_done` reports a false over-release.
#[test]
fn task_done_never_reports_a_false_over_release() {
    model(|| {
        let q: Arc<JoinableQueue<usize, 2, Spin>> = Arc::new(JoinableQueue::with_wait());
        let producer = spawn_with(&q, move |q| {
            q.push(1).unwrap();
            q.push(2).unwrap();
        });
        let consumers: Vec<_> = (0..2)
            .map(|_| {
                spawn_with(&q, move |q| {
                    let v = q.try_pop().ok();
                    if v.is_some() {
                        assert_eq!(q.task_done(), Ok(()), "false over-release ({v:?})");
                    }
                    v
                })
            })
            .collect();
        producer.join().unwrap();
        let mut got: Vec<usize> = consumers
            .into_iter()
            .filter_map(|c| c.join().unwrap())
            .collect();
        while let Some(v) = q.pop() {
            got.push(v);
            q.task_done().unwrap();
        }
        got.sort_unstable();
        assert_eq!(got, [1, 2]);
        assert_eq!(q.unfinished_tasks(), 0);
        assert!(q.task_done().is_err());
    });
}

/// Two `task_done`s race a put of one item: together they never count more tasks than were
/// put (the over-release error always comes), and the count left is exact.
#[test]
fn racing_task_dones_never_over_release() {
    model(|| {
        let q: Arc<JoinableQueue<usize, 1, Spin>> = Arc::new(JoinableQueue::with_wait());
        let producer = spawn_with(&q, move |q| q.push(1).unwrap());
        let dones: Vec<_> = (0..2)
            .map(|_| spawn_with(&q, move |q| q.task_done().is_ok()))
            .collect();
        producer.join().unwrap();
        let oks = dones
            .into_iter()
            .filter_map(|d| d.join().unwrap().then_some(()))
            .count();
        assert!(oks <= 1, "two task_dones for one put");
        assert_eq!(q.unfinished_tasks(), 1 - oks);
        assert_eq!(!q.join_until(|| true).timed_out(), oks == 1);
        assert_eq!(q.task_done().is_ok(), oks == 0);
    });
}

/// `join` never returns early: one item is put before `join`, a second one concurrently, and
/// two consumers finish them in either order. Whatever the order, `join` reports success only
/// after the first item's work is done (loom checks the cell written before its `task_done`). A
/// `join` that read `tail` before `done` could pair an old `tail` with the second item's
/// `done` and return while the first is still being processed.
#[test]
fn join_waits_for_an_earlier_item_finished_last() {
    model(|| {
        let w = Arc::new(Work2 {
            q: JoinableQueue::with_wait(),
            result: [UnsafeCell::new(0), UnsafeCell::new(0)],
        });
        w.q.push(0).unwrap();
        let producer = spawn_with(&w, move |w| w.q.push(1).unwrap());
        let consumers: Vec<_> = (0..2)
            .map(|_| {
                spawn_with(&w, move |w| {
                    if let Ok(v) = w.q.try_pop() {
                        // SAFETY: only the consumer of item `v` writes its cell, before its
                        // `task_done`.
                        w.result[v].with_mut(|r| unsafe { *r = 10 + v });
                        w.q.task_done().unwrap();
                    }
                })
            })
            .collect();
        // A few polls: each try-once consumer may find nothing, leaving an item for ever.
        if !w.q.join_until(expires_after(3)).timed_out() {
            // SAFETY: item 0 was put before `join_until`, so it returned true only after
            // item 0's `task_done`, and the write before that happens-before this read (loom
            // checks it).
            assert_eq!(w.result[0].with(|r| unsafe { *r }), 10);
        }
        producer.join().unwrap();
        for c in consumers {
            c.join().unwrap();
        }
    });
}

struct Work2 {
    q: JoinableQueue<usize, 2, Spin>,
    /// `result[v]` is written by the consumer of item `v` before its `task_done`.
    result: [UnsafeCell<usize>; 2],
}

// SAFETY: each cell is written by one consumer before `task_done` and read after `join`,
// which is what the model checks.
unsafe impl Sync for Work2 {}
// SAFETY: as above.
unsafe impl Send for Work2 {}
