//! The lock-order checker built WITHOUT `std` (`cargo test -p baresync --no-default-features
//! --features lockdep --test lockdep_nostd`): held stacks indexed by the context id that the
//! user installs with `lockdep::set_context_id`, as firmware does. The test harness has `std`
//! (threads stand in for cores or tasks); the crate does not.
//!
//! One test, in phases: the checker's state is global, and the first phase (no context id
//! installed yet) must run before any other acquisition.
#![cfg(all(feature = "lockdep", not(feature = "std")))]

use baresync::lockdep::{self, Report};
use baresync::{Mutex, Semaphore, SpinLock};
use std::sync::atomic::{AtomicUsize, Ordering::Relaxed};
use std::sync::Mutex as StdMutex;
use std::thread;

/// Every report, as text.
static REPORTS: StdMutex<Vec<String>> = StdMutex::new(Vec::new());

fn record(report: &Report<'_>) {
    REPORTS.lock().unwrap().push(report.to_string());
}

fn take_reports() -> Vec<String> {
    std::mem::take(&mut *REPORTS.lock().unwrap())
}

/// The next context id to hand out; a thread keeps its id for life (as a core or a task
/// does). The test never runs more than `lockdep::CONTEXTS` threads at once.
static NEXT_ID: AtomicUsize = AtomicUsize::new(0);

thread_local! {
    static ID: usize = NEXT_ID.fetch_add(1, Relaxed);
    /// An id this thread returns instead of its own (to drive an id past the table).
    static OVERRIDE: std::cell::Cell<Option<usize>> = const { std::cell::Cell::new(None) };
}

fn context_id() -> usize {
    OVERRIDE
        .with(|o| o.get())
        .unwrap_or_else(|| ID.with(|id| *id))
}

static A: SpinLock<u32> = SpinLock::new(0);
static B: Mutex<u32> = Mutex::new(0);
static C: SpinLock<u32> = SpinLock::new(0);
static ITEMS: Semaphore = Semaphore::new(0);

fn line_of(report: &str, line: u32) -> bool {
    report.contains(&format!("tests/lockdep_nostd.rs:{line}:"))
}

#[test]
fn contexts_named_by_the_installed_id() {
    lockdep::set_handler(record);

    // 1. No context id yet: reported once, nothing checked (an inversion goes unseen), and
    //    the locks work as ever.
    {
        let _a = A.lock();
        let _b = B.lock();
    }
    {
        let _b = B.lock();
        let _a = A.lock();
    }
    assert_eq!(lockdep::held_count(), 0);
    let reports = take_reports();
    assert_eq!(reports.len(), 1, "{reports:?}");
    assert!(
        reports[0].contains("no execution context id"),
        "{reports:?}"
    );

    // SAFETY: every thread of this test keeps one id for life, and no two threads share one
    // (each takes the next number); fewer than CONTEXTS threads ever run.
    unsafe { lockdep::set_context_id(context_id) };

    // 2. Each context has its own held stack.
    let a = A.lock();
    assert_eq!(lockdep::held_count(), 1);
    let other = thread::spawn(|| {
        let before = lockdep::held_count();
        let _c = C.lock();
        (before, lockdep::held_count())
    })
    .join()
    .unwrap();
    assert_eq!(other, (0, 1), "another context saw this one's held stack");
    assert_eq!(lockdep::held_count(), 1);
    drop(a);
    assert_eq!(lockdep::held_count(), 0);

    // 3. An inversion seen in two contexts, at two times: reported with every location.
    let (la, lb) = thread::spawn(|| {
        let (_a, la) = (A.lock(), line!());
        let (_b, lb) = (B.lock(), line!());
        (la, lb)
    })
    .join()
    .unwrap();
    assert!(take_reports().is_empty());
    let (lb2, la2) = (line!() + 1, line!() + 2);
    let b = B.lock();
    let a = A.lock();
    drop((a, b));
    let reports = take_reports();
    assert_eq!(reports.len(), 1, "{reports:?}");
    assert!(reports[0].contains("cycle"), "{}", reports[0]);
    for line in [la, lb, lb2, la2] {
        assert!(
            line_of(&reports[0], line),
            "line {line} missing: {}",
            reports[0]
        );
    }

    // 4. A blocking wait whose signaller needs a lock the waiter holds.
    thread::spawn(|| {
        let _c = C.lock();
        ITEMS.release(1);
    })
    .join()
    .unwrap();
    {
        let _c = C.lock();
        ITEMS.acquire().forget();
    }
    let reports = take_reports();
    assert_eq!(reports.len(), 1, "{reports:?}");
    assert!(reports[0].contains("Semaphore"), "{}", reports[0]);

    // 5. An id past the table: reported (once) as an overflow, never an out-of-bounds
    //    stack; the locks still work, and the context goes unchecked.
    let (counts, reports) = thread::spawn(|| {
        OVERRIDE.with(|o| o.set(Some(lockdep::CONTEXTS)));
        let g = A.lock();
        let held = lockdep::held_count();
        drop(g);
        drop(C.lock());
        (held, take_reports())
    })
    .join()
    .unwrap();
    assert_eq!(counts, 0);
    assert_eq!(reports.len(), 1, "{reports:?}");
    assert!(
        reports[0].contains("contexts") && reports[0].contains("BARESYNC_LOCKDEP_CONTEXTS"),
        "{reports:?}"
    );
    assert!(!A.is_locked() && !C.is_locked());
}
