//! Fault injection at every point where `Queue` and `JoinableQueue` run user code: the
//! deadline of `put_until`/`get_until`/`join_until`, `T::drop` (queue dropped with items inside,
//! an evicted item dropped by the caller), and the `Wait` backend (`wait` and `wake_all`).
//! After each unwind the queue must be as its documentation says: `len` right, items neither
//! lost, duplicated nor dropped twice, `unfinished_tasks` right, `join` returning after the
//! right `task_done`s, later operations working. No path clones an item (`T: Clone` is never
//! required), so there is no `clone` call site to cover.
//!
//! Small sizes, no long-running threads: these run under Miri too.

mod fault_support;
use fault_support::*;

use baresync::sync::atomic::AtomicU32;
use baresync::{Deadline, Futex, GetError, JoinableQueue, PushError, PutError, Queue, Spin, Wait};
use std::cell::Cell;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

// ---------------------------------------------------------------------------------------------
// Helpers
// ---------------------------------------------------------------------------------------------

/// Records which items were dropped, to check each is dropped exactly once.
#[derive(Default, Clone)]
struct Ledger(Arc<Mutex<Vec<usize>>>);

impl Ledger {
    fn item(&self, id: usize) -> Item {
        Item {
            id,
            ledger: self.clone(),
            panic_on_drop: false,
        }
    }

    fn panicky(&self, id: usize) -> Item {
        Item {
            id,
            ledger: self.clone(),
            panic_on_drop: true,
        }
    }

    /// The ids dropped so far, sorted.
    fn dropped(&self) -> Vec<usize> {
        let mut d = self.0.lock().unwrap().clone();
        d.sort_unstable();
        d
    }
}

/// A payload that records its drop and may panic in it (after recording).
struct Item {
    id: usize,
    ledger: Ledger,
    panic_on_drop: bool,
}

impl Drop for Item {
    fn drop(&mut self) {
        self.ledger.0.lock().unwrap().push(self.id);
        if self.panic_on_drop && !thread::panicking() {
            panic!("injected drop panic");
        }
    }
}

fn ids<const N: usize, W: Wait>(q: &Queue<Item, N, W>) -> Vec<usize> {
    let mut v = Vec::new();
    while let Some(item) = q.pop() {
        v.push(item.id);
    }
    v
}

std::thread_local! {
    /// Calls of `PanickyWait::wait`/`wait_until` on this thread; it panics on the call
    /// numbered `WAIT_PANIC_AT`.
    static WAIT_CALLS: Cell<usize> = const { Cell::new(0) };
    static WAIT_PANIC_AT: Cell<usize> = const { Cell::new(usize::MAX) };
}

fn inject_wait_panic(at: usize) {
    WAIT_CALLS.with(|c| c.set(0));
    WAIT_PANIC_AT.with(|c| c.set(at));
}

fn count(
    calls: &'static std::thread::LocalKey<Cell<usize>>,
    at: &'static std::thread::LocalKey<Cell<usize>>,
    what: &str,
) {
    let n = calls.with(|c| c.get() + 1);
    calls.with(|c| c.set(n));
    if n == at.with(Cell::get) {
        panic!("injected {what} panic");
    }
}

/// A sleeping backend (delegates to `Futex`) whose `wait`/`wait_until` panic on the call
/// chosen by this thread's `inject_wait_panic` (a panicking wake: `WakePanics`).
struct PanickyWait;

// SAFETY: only reads the word it is given (or passes its address on); never writes it.
unsafe impl Wait for PanickyWait {
    fn wait(atomic: &AtomicU32, expected: u32) {
        count(&WAIT_CALLS, &WAIT_PANIC_AT, "wait");
        Futex::wait(atomic, expected);
    }
    fn wait_until(atomic: &AtomicU32, expected: u32, deadline: &mut impl Deadline) -> bool {
        count(&WAIT_CALLS, &WAIT_PANIC_AT, "wait");
        Futex::wait_until(atomic, expected, deadline)
    }
    fn wake_one(atomic: &AtomicU32) {
        Futex::wake_one(atomic);
    }
    fn wake_all(atomic: &AtomicU32) {
        Futex::wake_all(atomic);
    }
}

// ---------------------------------------------------------------------------------------------
// Deadlines
// ---------------------------------------------------------------------------------------------

fn put_until_deadline_panics<W: Wait>() {
    for k in [1, 2, 70, 200] {
        let ledger = Ledger::default();
        let q: Queue<Item, 2, W> = Queue::with_wait();
        q.put(ledger.item(0)).unwrap();
        q.put(ledger.item(1)).unwrap();
        let r = catch_unwind(AssertUnwindSafe(|| {
            q.put_until(ledger.item(2), panics_on_call(k))
        }));
        assert!(r.is_err(), "k = {k}: the deadline's panic propagates");
        assert_eq!(
            ledger.dropped(),
            [2],
            "k = {k}: the item is dropped once, nothing else"
        );
        assert_eq!(q.len(), 2, "k = {k}");
        // The queue works as before: room for one after a pop, FIFO kept.
        assert_eq!(q.pop().map(|i| i.id), Some(0));
        q.put_until(ledger.item(3), || true).unwrap();
        assert_eq!(ids(&q), [1, 3]);
        assert_eq!(ledger.dropped(), [0, 1, 2, 3]);
    }
}

#[test]
fn put_until_deadline_panic_drops_the_item_once_spin() {
    put_until_deadline_panics::<Spin>();
}

#[test]
fn put_until_deadline_panic_drops_the_item_once_futex() {
    put_until_deadline_panics::<Futex>();
}

fn get_until_deadline_panics<W: Wait>() {
    for k in [1, 2, 70, 200] {
        let ledger = Ledger::default();
        let q: Queue<Item, 2, W> = Queue::with_wait();
        let r = catch_unwind(AssertUnwindSafe(|| q.get_until(panics_on_call(k))));
        assert!(r.is_err(), "k = {k}");
        assert!(q.is_empty());
        q.push(ledger.item(0)).unwrap();
        q.push(ledger.item(1)).unwrap();
        assert!(q.push(ledger.item(9)).is_err());
        assert_eq!(ids(&q), [0, 1]);
        assert_eq!(ledger.dropped(), [0, 1, 9]);
    }
}

#[test]
fn get_until_deadline_panic_leaves_the_queue_as_it_was_spin() {
    get_until_deadline_panics::<Spin>();
}

#[test]
fn get_until_deadline_panic_leaves_the_queue_as_it_was_futex() {
    get_until_deadline_panics::<Futex>();
}

/// Issue 10, defect 3: `JoinableQueue::put_until` counted the task before waiting and
/// uncounted it only on an `Err` return, so a panicking deadline left a task that was never
/// queued and `join` never returned.
fn joinable_put_until_deadline_panics<W: Wait>() {
    for k in [1, 2, 70, 200] {
        let ledger = Ledger::default();
        let q: JoinableQueue<Item, 1, W> = JoinableQueue::with_wait();
        q.put(ledger.item(0)).unwrap();
        let r = catch_unwind(AssertUnwindSafe(|| {
            q.put_until(ledger.item(1), panics_on_call(k))
        }));
        assert!(r.is_err(), "k = {k}");
        assert_eq!(q.unfinished_tasks(), 1, "k = {k}: no ghost task");
        assert_eq!(ledger.dropped(), [1], "k = {k}");
        assert_eq!(q.len(), 1);
        assert_eq!(q.get().unwrap().id, 0);
        assert!(
            q.join_until(|| true).timed_out(),
            "one task is still unfinished"
        );
        q.task_done().unwrap();
        assert!(
            !q.join_until(generous()).timed_out(),
            "k = {k}: join returns after the one task_done"
        );
        q.join();
        assert!(q.task_done().is_err());
    }
}

#[test]
fn joinable_put_until_deadline_panic_leaves_no_ghost_task_spin() {
    joinable_put_until_deadline_panics::<Spin>();
}

#[test]
fn joinable_put_until_deadline_panic_leaves_no_ghost_task_futex() {
    joinable_put_until_deadline_panics::<Futex>();
}

#[test]
fn joinable_get_until_deadline_panic_changes_no_count() {
    for k in [1, 70] {
        let ledger = Ledger::default();
        let q: JoinableQueue<Item, 2, Futex> = JoinableQueue::with_wait();
        let r = catch_unwind(AssertUnwindSafe(|| q.get_until(panics_on_call(k))));
        assert!(r.is_err());
        assert_eq!(q.unfinished_tasks(), 0);
        assert!(!q.join_until(|| true).timed_out());
        q.put(ledger.item(0)).unwrap();
        assert_eq!(q.get_until(generous()).unwrap().id, 0);
        q.task_done().unwrap();
        assert!(!q.join_until(generous()).timed_out());
    }
}

#[test]
fn joinable_join_until_deadline_panic_then_join_returns() {
    for k in [1, 2, 70, 200] {
        let ledger = Ledger::default();
        let q: JoinableQueue<Item, 2, Futex> = JoinableQueue::with_wait();
        q.put(ledger.item(0)).unwrap();
        let r = catch_unwind(AssertUnwindSafe(|| q.join_until(panics_on_call(k))));
        assert!(r.is_err(), "k = {k}");
        assert_eq!(q.unfinished_tasks(), 1);
        drop(q.get().unwrap());
        q.task_done().unwrap();
        assert!(!q.join_until(generous()).timed_out(), "k = {k}");
        assert_eq!(q.unfinished_tasks(), 0);
    }
}

// ---------------------------------------------------------------------------------------------
// T::drop
// ---------------------------------------------------------------------------------------------

/// Dropping a queue whose items' `drop` panics: every other item is still dropped exactly
/// once (as `Vec` does), and the panic propagates.
#[test]
fn queue_drop_with_a_panicking_item_drops_every_other_item_once() {
    for panicky in 0..4 {
        let ledger = Ledger::default();
        let q: Queue<Item, 4> = Queue::new();
        // Wrap around so the items left straddle the end of the array.
        q.push(ledger.item(100)).unwrap();
        q.push(ledger.item(101)).unwrap();
        drop(q.pop());
        drop(q.pop());
        for id in 0..4 {
            let item = if id == panicky {
                ledger.panicky(id)
            } else {
                ledger.item(id)
            };
            q.push(item).unwrap();
        }
        let r = catch_unwind(AssertUnwindSafe(move || drop(q)));
        assert!(r.is_err(), "the drop panic propagates");
        assert_eq!(
            ledger.dropped(),
            [0, 1, 2, 3, 100, 101],
            "panicky = {panicky}"
        );
    }
}

#[test]
fn joinable_queue_drop_with_a_panicking_item_drops_every_other_item_once() {
    let ledger = Ledger::default();
    let q: JoinableQueue<Item, 3> = JoinableQueue::new();
    q.push(ledger.item(0)).unwrap();
    q.push(ledger.panicky(1)).unwrap();
    q.push(ledger.item(2)).unwrap();
    let r = catch_unwind(AssertUnwindSafe(move || drop(q)));
    assert!(r.is_err());
    assert_eq!(ledger.dropped(), [0, 1, 2]);
}

/// The item `force_push` evicts is the caller's: its panicking `drop` runs outside the queue,
/// which is already consistent.
#[test]
fn force_push_evicted_item_panicking_in_drop_leaves_the_queue_consistent() {
    let ledger = Ledger::default();
    let q: Queue<Item, 2> = Queue::new();
    q.force_push(ledger.panicky(0)).unwrap();
    q.force_push(ledger.item(1)).unwrap();
    let r = catch_unwind(AssertUnwindSafe(|| {
        let evicted = q.force_push(ledger.item(2)).unwrap();
        assert_eq!(evicted.as_ref().map(|i| i.id), Some(0));
        drop(evicted);
    }));
    assert!(r.is_err());
    assert_eq!(ledger.dropped(), [0]);
    assert_eq!(q.len(), 2);
    assert_eq!(ids(&q), [1, 2]);
    assert_eq!(ledger.dropped(), [0, 1, 2]);

    let ledger = Ledger::default();
    let j: JoinableQueue<Item, 1> = JoinableQueue::new();
    j.push(ledger.panicky(0)).unwrap();
    let r = catch_unwind(AssertUnwindSafe(|| drop(j.force_push(ledger.item(1)))));
    assert!(r.is_err());
    assert_eq!(
        j.unfinished_tasks(),
        1,
        "the evicted task is done, the new one counted"
    );
    assert_eq!(j.pop().map(|i| i.id), Some(1));
    j.task_done().unwrap();
    assert!(!j.join_until(|| true).timed_out());
}

/// A rejected item (full or closed) comes back to the caller, whose drop of it may panic: the
/// count of a `JoinableQueue` is already restored by then.
#[test]
fn rejected_item_panicking_in_drop_leaves_counts_right() {
    let ledger = Ledger::default();
    let q: JoinableQueue<Item, 1> = JoinableQueue::new();
    q.push(ledger.item(0)).unwrap();
    let r = catch_unwind(AssertUnwindSafe(|| drop(q.push(ledger.panicky(1)))));
    assert!(r.is_err());
    let r = catch_unwind(AssertUnwindSafe(|| drop(q.try_push(ledger.panicky(2)))));
    assert!(r.is_err());
    let r = catch_unwind(AssertUnwindSafe(|| {
        drop(q.put_until(ledger.panicky(3), || true))
    }));
    assert!(r.is_err());
    q.close();
    let r = catch_unwind(AssertUnwindSafe(|| drop(q.put(ledger.panicky(4)))));
    assert!(r.is_err());
    assert_eq!(q.unfinished_tasks(), 1);
    assert_eq!(ledger.dropped(), [1, 2, 3, 4]);
    assert_eq!(q.get().unwrap().id, 0);
    q.task_done().unwrap();
    assert!(!q.join_until(|| true).timed_out());
}

// ---------------------------------------------------------------------------------------------
// The Wait backend
// ---------------------------------------------------------------------------------------------

/// `W::wait` panics in a `put` waiting for room: the item is dropped once, the queue is
/// unchanged, and it keeps working (the sleeper flag left behind costs at most one wake).
#[test]
fn put_whose_wait_panics_drops_the_item_once() {
    let ledger = Ledger::default();
    let q: Queue<Item, 1, PanickyWait> = Queue::with_wait();
    q.put(ledger.item(0)).unwrap();
    inject_wait_panic(1);
    let r = catch_unwind(AssertUnwindSafe(|| q.put(ledger.item(1))));
    assert!(r.is_err());
    inject_wait_panic(usize::MAX);
    assert_eq!(ledger.dropped(), [1]);
    assert_eq!(q.len(), 1);
    assert_eq!(q.pop().map(|i| i.id), Some(0));
    q.put(ledger.item(2)).unwrap();
    assert_eq!(ids(&q), [2]);
    assert_eq!(ledger.dropped(), [0, 1, 2]);
}

#[test]
fn get_whose_wait_panics_loses_nothing() {
    let ledger = Ledger::default();
    let q: Queue<Item, 2, PanickyWait> = Queue::with_wait();
    inject_wait_panic(1);
    assert!(catch_unwind(AssertUnwindSafe(|| q.get())).is_err());
    inject_wait_panic(1);
    assert!(catch_unwind(AssertUnwindSafe(|| q.get_until(generous()))).is_err());
    inject_wait_panic(usize::MAX);
    assert!(q.is_empty());
    q.push(ledger.item(0)).unwrap();
    assert_eq!(q.get().unwrap().id, 0);
    assert_eq!(q.get_until(|| true).map(|i| i.id), Err(GetError::Timeout));
}

#[test]
fn joinable_put_and_join_whose_wait_panics_keep_counts_right() {
    let ledger = Ledger::default();
    let q: JoinableQueue<Item, 1, PanickyWait> = JoinableQueue::with_wait();
    q.put(ledger.item(0)).unwrap();
    for put_until in [false, true] {
        inject_wait_panic(1);
        let r = catch_unwind(AssertUnwindSafe(|| {
            if put_until {
                drop(q.put_until(ledger.item(1), generous()));
            } else {
                drop(q.put(ledger.item(1)));
            }
        }));
        assert!(r.is_err());
        assert_eq!(q.unfinished_tasks(), 1, "put_until = {put_until}");
    }
    inject_wait_panic(1);
    assert!(catch_unwind(AssertUnwindSafe(|| q.join())).is_err());
    inject_wait_panic(usize::MAX);
    assert_eq!(q.unfinished_tasks(), 1);
    assert_eq!(ledger.dropped(), [1, 1]);
    assert_eq!(q.get().unwrap().id, 0);
    q.task_done().unwrap();
    q.join();
}

/// `W::wake_all` panics in the `put` that should wake a sleeping getter: the item is in the
/// queue (a `JoinableQueue` keeps counting its task: the getter's `task_done` would fail
/// otherwise), and the sleeper is woken by the next change rather than left asleep for good.
#[test]
fn put_whose_wake_panics_keeps_the_item_and_the_sleeper_is_woken_later() {
    let ledger = Ledger::default();
    let q: Arc<JoinableQueue<Item, 4, WakePanics<0>>> = Arc::new(JoinableQueue::with_wait());
    let getter = {
        let q = Arc::clone(&q);
        thread::spawn(move || {
            let mut got = Vec::new();
            while got.len() < 2 {
                got.push(q.get().unwrap().id);
                q.task_done()
                    .expect("the task of every item inside is counted");
            }
            got
        })
    };
    // Wait until the getter is asleep (it announced itself before), so the put must wake it.
    WakePanics::<0>::until_sleeping(1);
    arm_wake(1);
    let r = catch_unwind(AssertUnwindSafe(|| q.put(ledger.item(0))));
    arm_wake(0);
    assert!(r.is_err(), "the wake of the sleeping getter panicked");
    assert_eq!(
        q.len() + q.unfinished_tasks(),
        2,
        "item 0 inside and counted"
    );
    q.put(ledger.item(1)).unwrap();
    // Without the sleeper flag set again, the getter would sleep through this put.
    let deadline = generous();
    while !getter.is_finished() {
        assert!(Instant::now() < deadline, "the getter was never woken");
        thread::sleep(Duration::from_millis(1));
    }
    assert_eq!(getter.join().unwrap(), [0, 1]);
    assert!(!q.join_until(generous()).timed_out());
    assert_eq!(q.unfinished_tasks(), 0);
    assert_eq!(ledger.dropped(), [0, 1]);
}

/// The errors a blocked operation returns on `close` are unaffected by an earlier injected
/// panic (smoke test of the whole surface after faults).
#[test]
fn after_faults_close_still_releases_everything() {
    let ledger = Ledger::default();
    let q: Queue<Item, 1, Futex> = Queue::with_wait();
    q.put(ledger.item(0)).unwrap();
    assert!(catch_unwind(AssertUnwindSafe(
        || q.put_until(ledger.item(1), panics_on_call(3))
    ))
    .is_err());
    q.close();
    assert!(matches!(q.push(ledger.item(2)), Err(PushError::Closed(_))));
    assert!(matches!(
        q.put_until(ledger.item(3), || false),
        Err(PutError::Closed(_))
    ));
    assert_eq!(q.get().unwrap().id, 0);
    assert_eq!(q.get_until(|| false).map(|i| i.id), Err(GetError::Closed));
    assert_eq!(ledger.dropped(), [0, 1, 2, 3]);
}

// ---------------------------------------------------------------------------------------------
// drain / try_iter: a panicking `Drop` of a yielded item
// ---------------------------------------------------------------------------------------------

/// A loop over `drain` (or `try_iter`) that drops each item, one of whose `Drop` panics: the
/// unwind leaves the loop with the items not yet yielded still inside, every yielded item
/// dropped once, and nothing lost or doubled.
fn drain_loop_survives_a_panicking_drop<W: Wait>(use_try_iter: bool) {
    let ledger = Ledger::default();
    let q: Queue<Item, 8, W> = Queue::with_wait();
    for id in 0..5 {
        let item = if id == 2 {
            ledger.panicky(id)
        } else {
            ledger.item(id)
        };
        q.push(item).unwrap_or_else(|_| panic!("room"));
    }
    let r = catch_unwind(AssertUnwindSafe(|| {
        if use_try_iter {
            for item in q.try_iter() {
                drop(item);
            }
        } else {
            for item in q.drain() {
                drop(item);
            }
        }
    }));
    assert!(r.is_err(), "the drop of item 2 panics");
    assert_eq!(
        ledger.dropped(),
        [0, 1, 2],
        "yielded items dropped once each"
    );
    assert_eq!(q.len(), 2);
    assert_eq!(ids(&q), [3, 4], "the rest stays, in order");
    assert_eq!(ledger.dropped(), [0, 1, 2, 3, 4]);
    q.push(ledger.item(5)).unwrap_or_else(|_| panic!("room"));
    assert_eq!(
        q.drain().map(|i| i.id).collect::<Vec<_>>(),
        [5],
        "still works"
    );
}

#[test]
fn drain_loop_survives_a_panicking_drop_spin() {
    drain_loop_survives_a_panicking_drop::<Spin>(false);
    drain_loop_survives_a_panicking_drop::<Spin>(true);
}

#[test]
fn drain_loop_survives_a_panicking_drop_futex() {
    drain_loop_survives_a_panicking_drop::<Futex>(false);
    drain_loop_survives_a_panicking_drop::<Futex>(true);
}
