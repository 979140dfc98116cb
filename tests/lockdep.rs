//! The lock-order checker (feature `lockdep`): what it reports, what it must not report, and
//! its own synchronization (many threads adding edges at once).
#![cfg(all(feature = "lockdep", feature = "std"))]

use baresync::lockdep::{self, Report};
use baresync::{Condvar, Event, Mutex, Queue, ReentrantLock, RwLock, Semaphore, SpinLock};
use std::cell::{Cell, RefCell};
use std::sync::Arc;
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
