//! The lock-order checker (feature `lockdep`): what it reports, what it must not report, and
//! its own synchronization (many threads adding edges at once).
//!
//! The tests share one order graph (it is global), so each uses locks of its own: leaked, so
//! that no later lock reuses an address (a class). Under Miri: `-Zmiri-ignore-leaks`.
#![cfg(all(feature = "lockdep", feature = "std"))]

use baresync::lockdep::{self, Report};
use baresync::{
    Barrier, Condvar, Event, JoinableQueue, Mutex, Queue, ReentrantLock, RwLock, Semaphore,
    SpinLock,
};
use std::cell::{Cell, RefCell};
use std::thread;

thread_local! {
    /// The reports made in this thread.
    static REPORTS: RefCell<Vec<String>> = const { RefCell::new(Vec::new()) };
    /// Whether the handler panics after recording (for acquisitions that would hang).
    static PANIC: Cell<bool> = const { Cell::new(false) };
}

fn record(report: &Report<'_>) {
    let text = report.to_string();
    REPORTS.with(|r| r.borrow_mut().push(text.clone()));
    if PANIC.with(Cell::get) {
        panic!("{text}");
    }
}

/// Installs the recording handler (every test does; reports are kept per thread) and returns
/// the reports this thread made so far, clearing them.
fn take_reports() -> Vec<String> {
    lockdep::set_handler(record);
    REPORTS.with(|r| std::mem::take(&mut *r.borrow_mut()))
}

/// A lock at an address of its own for the rest of the run (a class of its own).
fn leak<T: Send + 'static>(value: T) -> &'static SpinLock<T> {
    Box::leak(Box::new(SpinLock::new(value)))
}

fn line_of(report: &str, line: u32) -> bool {
    report.contains(&format!("tests/lockdep.rs:{line}:"))
}

#[test]
fn an_inversion_is_reported_with_every_location() {
    take_reports();
    static A: SpinLock<u8> = SpinLock::new(0);
    static B: SpinLock<u8> = SpinLock::new(0);
    let (la, lb) = thread::spawn(|| {
        let (_a, la) = (A.lock(), line!());
        let (_b, lb) = (B.lock(), line!());
        (la, lb)
    })
    .join()
    .unwrap();
    // Another thread, another time: no deadlock can happen, and yet it is reported.
    let (lb2, la2) = (line!() + 1, line!() + 2);
    let _b = B.lock();
    let _a = A.lock();
    let reports = take_reports();
    assert_eq!(reports.len(), 1, "{reports:?}");
    let r = &reports[0];
    assert!(r.contains("cycle"), "{r}");
    for line in [la, lb, lb2, la2] {
        assert!(line_of(r, line), "line {line} missing in {r}");
    }
}

#[test]
fn the_same_order_every_time_is_not_reported() {
    take_reports();
    let (a, b, c) = (leak(0), leak(0), leak(0));
    let workers: Vec<_> = (0..4)
        .map(|_| {
            thread::spawn(move || {
                for _ in 0..50 {
                    let _a = a.lock();
                    let _b = b.lock();
                    let _c = c.lock();
                }
                take_reports()
            })
        })
        .collect();
    for w in workers {
        assert_eq!(w.join().unwrap(), Vec::<String>::new());
    }
    let _a = a.lock();
    let _c = c.lock();
    assert!(take_reports().is_empty());
}

#[test]
fn try_lock_and_timed_acquisitions_add_no_order() {
    take_reports();
    let (a, b) = (leak(0), leak(0));
    {
        let _a = a.lock();
        let _b = b.try_lock().unwrap();
    }
    {
        let _b = b.lock();
        let _a = a.lock_until(|| false).unwrap();
    }
    assert!(take_reports().is_empty());
    // They are still held: acquiring under them orders after them.
    let c = leak(0);
    {
        let _b = b.try_lock().unwrap();
        let _c = c.lock();
    }
    let _c = c.lock();
    let _b = b.lock();
    assert_eq!(take_reports().len(), 1);
}

#[test]
fn a_three_lock_cycle_lists_three_steps() {
    take_reports();
    let (a, b, c) = (leak(0), leak(0), leak(0));
    {
        let _a = a.lock();
        let _b = b.lock();
    }
    {
        let _b = b.lock();
        let _c = c.lock();
    }
    assert!(take_reports().is_empty());
    let _c = c.lock();
    let _a = a.lock();
    let reports = take_reports();
    assert_eq!(reports.len(), 1);
    assert!(reports[0].contains("  3. "), "{}", reports[0]);
    assert!(!reports[0].contains("  4. "), "{}", reports[0]);
}

#[test]
fn locking_twice_is_reported_before_the_hang() {
    take_reports();
    let a = leak(0);
    PANIC.with(|p| p.set(true));
    let held = a.lock();
    let again = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        let _twice = a.lock();
    }));
    PANIC.with(|p| p.set(false));
    assert!(again.is_err());
    let reports = take_reports();
    assert_eq!(reports.len(), 1);
    assert!(reports[0].contains("already held"), "{}", reports[0]);
    // The panicking handler left the state as it was: held once, by us.
    assert!(a.is_locked());
    assert_eq!(lockdep::held_count(), 1);
    drop(held);
    assert!(!a.is_locked());
    assert_eq!(lockdep::held_count(), 0);
}

#[test]
fn a_wait_whose_signaller_needs_a_held_lock_is_reported() {
    take_reports();
    let lock = leak(0);
    let items: &'static Semaphore = Box::leak(Box::new(Semaphore::new(0)));
    // The producer signals while holding the lock (fine on its own).
    thread::spawn(move || {
        let _g = lock.lock();
        items.release(1);
        take_reports()
    })
    .join()
    .map(|r| assert!(r.is_empty(), "{r:?}"))
    .unwrap();
    // The consumer waits while holding it: had the producer come second, it would wait for
    // the lock forever. Reported although this time a permit is there.
    let _g = lock.lock();
    items.acquire().forget();
    let reports = take_reports();
    assert_eq!(reports.len(), 1, "{reports:?}");
    assert!(reports[0].contains("Semaphore"), "{}", reports[0]);
}

#[test]
fn a_condvar_wait_releases_its_own_lock() {
    take_reports();
    let pair: &'static (Mutex<bool>, Condvar) =
        Box::leak(Box::new((Mutex::new(false), Condvar::new())));
    let t = thread::spawn(move || {
        let mut ready = pair.0.lock();
        *ready = true;
        pair.1.notify_all(); // signalled under the mutex: the usual way
        drop(ready);
        take_reports()
    });
    let ready = pair.1.wait_while(pair.0.lock(), |r| !*r);
    drop(ready);
    assert!(t.join().unwrap().is_empty());
    assert!(take_reports().is_empty());
    assert_eq!(lockdep::held_count(), 0);
}

#[test]
fn a_condvar_wait_holding_another_lock_the_notifier_needs_is_reported() {
    take_reports();
    let other = leak(0);
    let pair: &'static (Mutex<bool>, Condvar) =
        Box::leak(Box::new((Mutex::new(false), Condvar::new())));
    // Once, a notifier held `other`.
    thread::spawn(move || {
        let _o = other.lock();
        pair.1.notify_one();
    })
    .join()
    .unwrap();
    // Now a waiter holds `other` through its wait; this time the notifier does not need it.
    let _o = other.lock();
    let g = pair.0.lock();
    let notifier = thread::spawn(move || {
        *pair.0.lock() = true;
        pair.1.notify_one();
    });
    let g = pair.1.wait_while(g, |ready| !*ready);
    drop(g);
    notifier.join().unwrap();
    let reports = take_reports();
    assert_eq!(reports.len(), 1, "{reports:?}");
    assert!(reports[0].contains("Condvar"), "{}", reports[0]);
}

#[test]
fn a_queue_get_holding_the_producers_lock_is_reported() {
    take_reports();
    let lock = leak(0);
    let q: &'static Queue<u32, 2> = Box::leak(Box::new(Queue::new()));
    thread::spawn(move || {
        let _g = lock.lock();
        q.put(1).unwrap();
    })
    .join()
    .unwrap();
    let _g = lock.lock();
    assert_eq!(q.get().unwrap(), 1);
    // Two cycles: the `get` waits for an item that a `put` under the lock brings, and it
    // makes room that a `put` under the lock (on a full queue) waits for.
    let reports = take_reports();
    assert_eq!(reports.len(), 2, "{reports:?}");
    assert!(reports
        .iter()
        .any(|r| r.contains("Queue (waiting for an item)")));
    assert!(reports
        .iter()
        .any(|r| r.contains("Queue (waiting for room)")));
}

#[test]
fn an_event_wait_holding_the_setters_lock_is_reported() {
    take_reports();
    let lock = leak(0);
    let ev: &'static Event = Box::leak(Box::new(Event::new()));
    thread::spawn(move || {
        let _g = lock.lock();
        ev.set();
    })
    .join()
    .unwrap();
    let _g = lock.lock();
    ev.wait();
    assert_eq!(take_reports().len(), 1);
}

#[test]
fn read_write_and_reentrant_locks_are_ordered_too() {
    take_reports();
    let rw: &'static RwLock<u8> = Box::leak(Box::new(RwLock::new(0)));
    let re: &'static ReentrantLock<u8> = Box::leak(Box::new(ReentrantLock::new(0)));
    {
        let _r = rw.read();
        let _a = re.lock();
        let _b = re.lock(); // re-entering adds nothing
        assert_eq!(lockdep::held_count(), 2);
    }
    assert!(take_reports().is_empty());
    assert_eq!(lockdep::held_count(), 0);
    let _a = re.lock();
    let _w = rw.write();
    let reports = take_reports();
    assert_eq!(reports.len(), 1, "{reports:?}");
    assert!(reports[0].contains("RwLock") && reports[0].contains("ReentrantLock"));
}

#[test]
fn an_initializer_holds_its_once() {
    take_reports();
    let lock = leak(0);
    let cell: &'static baresync::OnceCell<u32> = Box::leak(Box::new(baresync::OnceCell::new()));
    // The initializer takes the lock: Once → lock.
    cell.get_or_init(|| *lock.lock() + 1);
    assert!(take_reports().is_empty());
    assert_eq!(lockdep::held_count(), 0);
    // A second cell initialized while holding the lock orders lock → Once2: no cycle.
    let cell2: &'static baresync::OnceCell<u32> = Box::leak(Box::new(baresync::OnceCell::new()));
    {
        let _g = lock.lock();
        cell2.get_or_init(|| 2);
    }
    assert!(take_reports().is_empty());
}

#[test]
fn a_panicking_handler_leaves_the_checker_and_the_locks_usable() {
    take_reports();
    let (a, b) = (leak(0), leak(0));
    {
        let _a = a.lock();
        let _b = b.lock();
    }
    PANIC.with(|p| p.set(true));
    let r = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        let _b = b.lock();
        let _a = a.lock();
    }));
    PANIC.with(|p| p.set(false));
    assert!(r.is_err());
    assert_eq!(take_reports().len(), 1);
    assert!(!a.is_locked() && !b.is_locked());
    assert_eq!(lockdep::held_count(), 0);
    // The closing edge is in the graph although the acquisition never started: an inversion
    // is reported once, not at every acquisition. The checker still works for new locks.
    {
        let _b = b.lock();
        let _a = a.lock();
    }
    assert!(take_reports().is_empty());
    let c = leak(0);
    let _c = c.lock();
    let _a = a.lock();
    assert!(take_reports().is_empty());
}

/// The checker's own synchronization: two threads close the two halves of a cycle at the same
/// time, many times. The order graph is updated under the checker's lock, so exactly one of
/// them sees the other's edge and reports, never both, never neither. The reporting thread
/// panics before waiting, so the run never deadlocks.
#[test]
fn two_threads_racing_an_inversion_report_it_exactly_once() {
    // Each round adds two classes for good: keep well inside the class table.
    let rounds = if cfg!(miri) { 3 } else { 50 };
    for _ in 0..rounds {
        let (a, b) = (leak(0), leak(0));
        let go: &'static std::sync::Barrier = Box::leak(Box::new(std::sync::Barrier::new(2)));
        let run = move |first: &'static SpinLock<u8>, second: &'static SpinLock<u8>| {
            thread::spawn(move || {
                take_reports();
                PANIC.with(|p| p.set(true));
                go.wait();
                let _ = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                    let _f = first.lock();
                    let _s = second.lock();
                }));
                assert_eq!(lockdep::held_count(), 0);
                take_reports().len()
            })
        };
        let t1 = run(a, b);
        let t2 = run(b, a);
        let reports = t1.join().unwrap() + t2.join().unwrap();
        assert_eq!(reports, 1);
    }
}

/// Many threads taking many locks in one global order, concurrently: nothing is reported and
/// every edge is recorded once.
#[test]
fn many_threads_in_one_order_report_nothing() {
    take_reports();
    const LOCKS: usize = 6;
    let locks: &'static [SpinLock<u64>] = Box::leak((0..LOCKS).map(|_| SpinLock::new(0)).collect());
    let threads: Vec<_> = (0..4)
        .map(|t| {
            thread::spawn(move || {
                for i in 0..if cfg!(miri) { 5 } else { 500 } {
                    let first = (i + t) % LOCKS;
                    let second = first + 1 + (i * 7 + t) % (LOCKS - first).max(1);
                    let _f = locks[first].lock();
                    if second < LOCKS {
                        *locks[second].lock() += 1;
                    }
                }
                take_reports()
            })
        })
        .collect();
    for t in threads {
        assert!(t.join().unwrap().is_empty());
    }
    // What they recorded is in the graph: the reverse order is caught.
    let _second = locks[1].lock();
    let _first = locks[0].lock();
    assert_eq!(take_reports().len(), 1);
}

/// A report that comes up while a thread unwinds (a permit dropped by the panic, signalling
/// while a lock is held) must not reach a panicking handler: that would abort the process.
#[test]
fn a_report_while_unwinding_is_printed_not_raised() {
    take_reports();
    let lock = leak(0);
    let sem: &'static Semaphore = Box::leak(Box::new(Semaphore::new(2)));
    {
        // A wait on the semaphore while holding the lock: lock → semaphore.
        let _g = lock.lock();
        sem.acquire().forget();
    }
    PANIC.with(|p| p.set(true));
    let r = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        let _g = lock.lock();
        let _permit = sem.acquire();
        // Unwinding drops the permit first: a signal while holding the lock closes the cycle.
        panic!("the worker fails");
    }));
    PANIC.with(|p| p.set(false));
    assert!(r.is_err());
    assert!(
        take_reports().is_empty(),
        "the handler must not run while unwinding"
    );
    assert!(!lock.is_locked());
    assert_eq!(sem.available(), 1);
}

#[test]
fn a_join_holding_a_lock_that_a_task_needs_is_reported() {
    take_reports();
    let lock = leak(0);
    let jobs: &'static JoinableQueue<u32, 4> = Box::leak(Box::new(JoinableQueue::new()));
    jobs.put(1).unwrap();
    // The worker takes the lock while its task is unfinished (fine on its own).
    let (lg, ll) = thread::spawn(move || {
        let (_job, lg) = (jobs.get().unwrap(), line!());
        let (g, ll) = (lock.lock(), line!());
        drop(g);
        jobs.task_done().unwrap();
        assert!(take_reports().is_empty());
        (lg, ll)
    })
    .join()
    .unwrap();
    // The producer joins while holding it: had it come first, the worker would wait for the
    // lock and the join for the worker, forever. Reported although the join returns at once.
    let (_g, lh) = (lock.lock(), line!());
    let lj = line!() + 1;
    jobs.join();
    let reports = take_reports();
    assert_eq!(reports.len(), 1, "{reports:?}");
    let r = &reports[0];
    assert!(r.contains("cycle") && r.contains("JoinableQueue"), "{r}");
    for line in [lg, ll, lh, lj] {
        assert!(line_of(r, line), "line {line} missing in {r}");
    }
}

#[test]
fn a_task_done_under_the_joiners_lock_is_reported() {
    take_reports();
    let lock = leak(0);
    let jobs: &'static JoinableQueue<u32, 4> = Box::leak(Box::new(JoinableQueue::new()));
    jobs.put(1).unwrap();
    thread::spawn(move || {
        let _job = jobs.get().unwrap();
        let _g = lock.lock();
        jobs.task_done().unwrap(); // signals the joiners while holding the lock
        take_reports()
    })
    .join()
    .map(|r| assert!(r.is_empty(), "{r:?}"))
    .unwrap();
    let _g = lock.lock();
    jobs.join();
    assert_eq!(take_reports().len(), 1);
}

#[test]
fn joining_while_holding_an_unfinished_task_is_reported_before_the_hang() {
    take_reports();
    let jobs: &'static JoinableQueue<u32, 4> = Box::leak(Box::new(JoinableQueue::new()));
    jobs.put(1).unwrap();
    let _job = jobs.get().unwrap();
    PANIC.with(|p| p.set(true));
    // The join waits for this very task: it would never return.
    let joined = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| jobs.join()));
    PANIC.with(|p| p.set(false));
    assert!(joined.is_err());
    let reports = take_reports();
    assert_eq!(reports.len(), 1, "{reports:?}");
    assert!(reports[0].contains("already held"), "{}", reports[0]);
    jobs.task_done().unwrap();
    assert_eq!(lockdep::held_count(), 0);
    jobs.join();
    assert!(take_reports().is_empty());
}

#[test]
fn a_worker_pool_joined_correctly_reports_nothing() {
    take_reports();
    let total = leak(0u64);
    let jobs: &'static JoinableQueue<u64, 4> = Box::leak(Box::new(JoinableQueue::new()));
    let workers: Vec<_> = (0..2)
        .map(|_| {
            thread::spawn(move || {
                while let Ok(job) = jobs.get() {
                    *total.lock() += job; // the lock taken while the task is unfinished
                    jobs.task_done().unwrap();
                }
                take_reports()
            })
        })
        .collect();
    let n = if cfg!(miri) { 10 } else { 200 };
    for i in 1..=n {
        jobs.put(i).unwrap();
    }
    jobs.join(); // holding nothing
    assert_eq!(*total.lock(), n * (n + 1) / 2);
    jobs.close();
    for w in workers {
        assert_eq!(w.join().unwrap(), Vec::<String>::new());
    }
    assert_eq!(lockdep::held_count(), 0);
    assert!(take_reports().is_empty());
}

#[test]
fn a_barrier_wait_holding_a_lock_another_party_takes_before_arriving_is_reported() {
    take_reports();
    let lock = leak(0);
    let barrier: &'static Barrier = Box::leak(Box::new(Barrier::new(2)));
    let (tx, rx) = std::sync::mpsc::channel();
    let other = thread::spawn(move || {
        barrier.wait().unwrap();
        // Second generation: take the lock, then arrive.
        let ll = line!() + 1;
        drop(lock.lock());
        tx.send(()).unwrap();
        let la = line!() + 1;
        barrier.wait().unwrap();
        (take_reports(), ll, la)
    });
    barrier.wait().unwrap();
    // Only once the other party has released it (so this run cannot hang): wait at the
    // barrier holding the lock. Had this come first, the other party would wait for the lock
    // before arriving, and this wait for its arrival, forever.
    rx.recv().unwrap();
    let _g = lock.lock();
    barrier.wait().unwrap();
    let (mut reports, ll, la) = other.join().unwrap();
    reports.extend(take_reports());
    assert_eq!(reports.len(), 1, "{reports:?}");
    let r = &reports[0];
    assert!(r.contains("cycle") && r.contains("Barrier"), "{r}");
    for line in [ll, la] {
        assert!(line_of(r, line), "line {line} missing in {r}");
    }
}

#[test]
fn barrier_parties_that_release_their_locks_before_arriving_report_nothing() {
    take_reports();
    let shared = leak(0u32);
    let parties = 3;
    let barrier: &'static Barrier = Box::leak(Box::new(Barrier::new(parties)));
    let workers: Vec<_> = (0..parties)
        .map(|_| {
            // A lock of each party's own, held across the barrier: it keeps nobody out.
            let own = leak(0u32);
            thread::spawn(move || {
                for _ in 0..if cfg!(miri) { 3 } else { 20 } {
                    *shared.lock() += 1;
                    *own.lock() += 1;
                    let g = own.lock();
                    barrier.wait().unwrap();
                    drop(g);
                }
                take_reports()
            })
        })
        .collect();
    for w in workers {
        assert_eq!(w.join().unwrap(), Vec::<String>::new());
    }
}
