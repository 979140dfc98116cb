//! Fault injection for `Once`, `OnceCell` and `Lazy`: the user code that runs inside them (the
//! initializer, `T::drop`, `T::clone`, the `Wait` backend) panics or is slow, and the cell must
//! be left as promised: empty after a failed initializer (the next caller retries, waiters are
//! woken, nothing uninitialized is read), poisoned for good after a failed `Lazy`, each value
//! dropped exactly once.

mod fault_support;
use fault_support::*;

use baresync::{Futex, Lazy, Once, OnceCell, Spin, Wait, Yield};
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering::SeqCst};
use std::sync::{Arc, Barrier};
use std::thread;
use std::time::Duration;

/// Waiting threads in the multithreaded tests.
const WAITERS: usize = if cfg!(miri) { 2 } else { 4 };

/// Runs `f`, which must panic with a message containing `what`.
fn must_panic_with<T>(f: impl FnOnce() -> T, what: &str) {
    let r = catch_unwind(AssertUnwindSafe(f));
    let p = r.err().expect("the panic must propagate");
    let msg = p
        .downcast_ref::<String>()
        .map(String::as_str)
        .or_else(|| p.downcast_ref::<&str>().copied())
        .unwrap_or("");
    assert!(
        msg.contains(what),
        "panicked with {msg:?}, expected {what:?}"
    );
}

/// Lets the waiters reach their wait (and, with a sleeping backend, fall asleep) before the
/// initializer fails. Only widens the window; no assertion depends on it.
fn let_waiters_wait() {
    thread::sleep(Duration::from_millis(if cfg!(miri) { 1 } else { 20 }));
}

// ---------------------------------------------------------------------------------------------
// The initializer panics (or fails) while other threads wait for it.

/// The first initializer panics while `WAITERS` threads wait in `get_or_init` with their own
/// initializers: they are woken, exactly one of them initializes, all see its value.
fn panicking_initializer_with_waiters<W: Wait + Send + Sync + 'static>(try_init: bool) {
    let cell: Arc<OnceCell<usize, W>> = Arc::new(OnceCell::with_wait());
    let runs = Arc::new(AtomicUsize::new(0));
    let started = Arc::new(Barrier::new(2));
    let first = {
        let (cell, started) = (cell.clone(), started.clone());
        thread::spawn(move || {
            let fail = || {
                started.wait();
                let_waiters_wait();
                if !try_init {
                    panic!("injected");
                }
                Err("failed")
            };
            if try_init {
                assert_eq!(cell.get_or_try_init(fail).unwrap_err(), "failed");
            } else {
                must_panic_with(|| cell.get_or_try_init(fail), "injected");
            }
        })
    };
    started.wait();
    let waiters: Vec<_> = (0..WAITERS)
        .map(|id| {
            let (cell, runs) = (cell.clone(), runs.clone());
            thread::spawn(move || {
                *cell.get_or_init(|| {
                    runs.fetch_add(1, SeqCst);
                    100 + id
                })
            })
        })
        .collect();
    join_within(first, "failing initializer");
    let seen: Vec<usize> = waiters
        .into_iter()
        .map(|w| join_within(w, "waiter"))
        .collect();
    assert_eq!(runs.load(SeqCst), 1, "exactly one retry runs");
    assert!(seen.iter().all(|&v| v == seen[0] && v >= 100), "{seen:?}");
    assert_eq!(cell.get(), Some(&seen[0]));
}

#[test]
fn panicking_initializer_with_waiters_futex() {
    panicking_initializer_with_waiters::<Futex>(false);
}

#[test]
fn panicking_initializer_with_waiters_yield() {
    panicking_initializer_with_waiters::<Yield>(false);
}

#[test]
fn panicking_initializer_with_waiters_spin() {
    panicking_initializer_with_waiters::<Spin>(false);
}

#[test]
fn panicking_initializer_with_waiters_slow_wait() {
    panicking_initializer_with_waiters::<SlowWait>(false);
}

#[test]
fn failing_try_initializer_with_waiters() {
    panicking_initializer_with_waiters::<Futex>(true);
    panicking_initializer_with_waiters::<Spin>(true);
}

/// Threads in `Once::wait` (no initializer of their own) are not released by a panicking
/// initializer, and are by the next one that completes.
#[test]
fn once_wait_outlasts_a_panicking_call() {
    let once: Arc<Once> = Arc::new(Once::new());
    let waiters: Vec<_> = (0..WAITERS)
        .map(|_| {
            let once = once.clone();
            thread::spawn(move || {
                once.wait();
                once.is_completed()
            })
        })
        .collect();
    let_waiters_wait();
    must_panic_with(|| once.call_once(|| panic!("injected")), "injected");
    assert!(!once.is_completed());
    let mut ran = false;
    once.call_once(|| ran = true);
    assert!(ran);
    for w in waiters {
        assert!(join_within(w, "Once::wait"));
    }
}

/// An initializer that can be named in a `Lazy` type.
type BoxedInit = Box<dyn FnOnce() -> u32 + Send>;

/// A `Lazy` whose initializer panics while others wait: they are woken and panic too
/// ("poisoned"), and so does every later access; nobody waits forever.
fn lazy_poisoned_with_waiters<W: Wait + Send + Sync + 'static>() {
    let started = Arc::new(Barrier::new(2));
    let lazy: Arc<Lazy<u32, BoxedInit, W>> = {
        let started = started.clone();
        Arc::new(Lazy::with_wait(Box::new(move || {
            started.wait();
            let_waiters_wait();
            panic!("injected")
        })))
    };
    let first = {
        let lazy = lazy.clone();
        thread::spawn(move || must_panic_with(|| **lazy, "injected"))
    };
    started.wait();
    let waiters: Vec<_> = (0..WAITERS)
        .map(|_| {
            let lazy = lazy.clone();
            thread::spawn(move || must_panic_with(|| **lazy, "poisoned"))
        })
        .collect();
    join_within(first, "initializer");
    for w in waiters {
        join_within(w, "waiter of a poisoned Lazy");
    }
    must_panic_with(|| Lazy::force(&lazy), "poisoned");
    assert_eq!(Lazy::get(&lazy), None);
}

#[test]
fn lazy_poisoned_with_waiters_futex() {
    lazy_poisoned_with_waiters::<Futex>();
}

#[test]
fn lazy_poisoned_with_waiters_spin() {
    lazy_poisoned_with_waiters::<Spin>();
}

/// Re-entrant initialization through a `Lazy`: panics with a message (feature `std`), and
/// the `Lazy` is poisoned (its initializer was consumed).
#[test]
fn lazy_reentrant_force_panics() {
    static SELF_REF: Lazy<u32> = Lazy::new(|| *SELF_REF + 1);
    must_panic_with(|| *SELF_REF, "re-entrant initialization");
    must_panic_with(|| *SELF_REF, "poisoned");
}

// ---------------------------------------------------------------------------------------------
// The `Wait` backend panics or is slow.

/// A waiter whose backend panics leaves the protocol (it held nothing): the initializer
/// completes, the other waiters get the value, and the panicked thread can try again.
#[test]
fn panicking_wait_in_a_waiter() {
    let cell: Arc<OnceCell<u32, PanickyWait>> = Arc::new(OnceCell::with_wait());
    let release = Arc::new(AtomicBool::new(false));
    let started = Arc::new(Barrier::new(2));
    let init = {
        let (cell, release, started) = (cell.clone(), release.clone(), started.clone());
        thread::spawn(move || {
            *cell.get_or_init(|| {
                started.wait();
                while !release.load(SeqCst) {
                    thread::yield_now();
                }
                5
            })
        })
    };
    started.wait();
    let victim_panicked = Arc::new(AtomicBool::new(false));
    let victim = {
        let (cell, victim_panicked) = (cell.clone(), victim_panicked.clone());
        thread::spawn(move || {
            arm(1);
            must_panic_with(|| cell.get_or_init(|| 0), "injected");
            assert!(cell.get().is_none(), "the initializer is still running");
            victim_panicked.store(true, SeqCst);
            *cell.wait()
        })
    };
    let other = {
        let cell = cell.clone();
        thread::spawn(move || *cell.get_or_init(|| 0))
    };
    // The victim's backend panics once it has to wait; only then may the initializer finish.
    while !victim_panicked.load(SeqCst) {
        assert!(!init.is_finished());
        thread::yield_now();
    }
    let_waiters_wait();
    release.store(true, SeqCst);
    assert_eq!(join_within(init, "initializer"), 5);
    assert_eq!(join_within(victim, "victim"), 5);
    assert_eq!(join_within(other, "other waiter"), 5);
}

// ---------------------------------------------------------------------------------------------
// `T::drop` and `T::clone` panic.

static DROPS: AtomicUsize = AtomicUsize::new(0);

/// Counts its drops, and panics in `drop` (once counted) if told to; panics in `clone` if
/// told to.
struct Bomb {
    panic_on_drop: bool,
    panic_on_clone: bool,
}

impl Drop for Bomb {
    fn drop(&mut self) {
        DROPS.fetch_add(1, SeqCst);
        if self.panic_on_drop {
            panic!("injected");
        }
    }
}

impl Clone for Bomb {
    fn clone(&self) -> Self {
        if self.panic_on_clone {
            panic!("injected");
        }
        Bomb {
            panic_on_drop: false,
            panic_on_clone: false,
        }
    }
}

/// These tests share `DROPS`; run them in one test so they do not race.
#[test]
fn panicking_drop_and_clone() {
    DROPS.store(0, SeqCst);

    // The cell's own drop: the value is dropped exactly once, the panic propagates.
    let cell: OnceCell<Bomb> = OnceCell::new();
    let _ = cell.set(Bomb {
        panic_on_drop: true,
        panic_on_clone: false,
    });
    must_panic_with(move || drop(cell), "injected");
    assert_eq!(DROPS.load(SeqCst), 1);

    // `take`: the value leaves the cell before the caller drops it; the cell is empty and
    // usable, and its own drop drops only the new value.
    let mut cell: OnceCell<Bomb> = OnceCell::new();
    let _ = cell.set(Bomb {
        panic_on_drop: true,
        panic_on_clone: false,
    });
    must_panic_with(|| drop(cell.take()), "injected");
    assert_eq!(DROPS.load(SeqCst), 2);
    assert!(cell.get().is_none());
    let _ = cell.set(Bomb {
        panic_on_drop: false,
        panic_on_clone: false,
    });
    drop(cell);
    assert_eq!(DROPS.load(SeqCst), 3);

    // `clone` panics: the original keeps its value, the half-built clone owns nothing.
    let cell: OnceCell<Bomb> = OnceCell::new();
    let _ = cell.set(Bomb {
        panic_on_drop: false,
        panic_on_clone: true,
    });
    must_panic_with(|| cell.clone(), "injected");
    assert!(cell.get().is_some());
    assert_eq!(DROPS.load(SeqCst), 3);
    drop(cell);
    assert_eq!(DROPS.load(SeqCst), 4);

    // A `Lazy` whose value's drop panics: dropped once.
    let lazy = Lazy::new(|| Bomb {
        panic_on_drop: true,
        panic_on_clone: false,
    });
    let _ = &*lazy;
    must_panic_with(move || drop(lazy), "injected");
    assert_eq!(DROPS.load(SeqCst), 5);

    // A `set` loser's value is handed back, not dropped inside the cell.
    let cell: OnceCell<Bomb> = OnceCell::new();
    let _ = cell.set(Bomb {
        panic_on_drop: false,
        panic_on_clone: false,
    });
    let back = cell.set(Bomb {
        panic_on_drop: true,
        panic_on_clone: false,
    });
    assert_eq!(DROPS.load(SeqCst), 5);
    must_panic_with(move || drop(back), "injected");
    assert_eq!(DROPS.load(SeqCst), 6);
    drop(cell);
    assert_eq!(DROPS.load(SeqCst), 7);
}

/// An initializer that panics on its first call (the shared `panics_on_call`) leaves the cell
/// empty; the second attempt succeeds (single-threaded, so it also runs under Miri quickly).
#[test]
fn retry_after_each_panic() {
    let cell: OnceCell<u32, Spin> = OnceCell::with_wait();
    let mut attempt = panics_on_call(1);
    must_panic_with(|| cell.get_or_init(|| u32::from(attempt())), "injected");
    assert_eq!(cell.get(), None);
    assert_eq!(*cell.get_or_init(|| u32::from(attempt())), 0);
}
