//! Loom models of `Once`/`OnceCell`/`Lazy` (one protocol, in `Once`).
//!
//! Run with
//! `RUSTFLAGS="--cfg baresync_loom" LOOM_MAX_PREEMPTIONS=2 CARGO_TARGET_DIR=target/loom cargo test --release -p baresync --test loom_once`.
//!
//! What is checked:
//! - once-only initialization: two threads race `get_or_init`; exactly one initializer runs
//!   (a loom counter), and both return the one value;
//! - waiters see the value: the value lives in the cell's loom `UnsafeCell`, so a read not
//!   ordered after the initializer's write is reported by loom; and a plain `UnsafeCell`
//!   written inside `Once::call_once` is read after `wait` returns;
//! - a failed initializer lets the next caller retry: an `Err` from `get_or_try_init` (with
//!   the sleeping backend: the same reset path as a panic, without unwinding through loom's
//!   mutex, which loom poisons) and a real panic (with `Spin`) leave the cell empty and the
//!   other thread initializes it;
//! - no lost wake-up: [`LoomFutex`] really sleeps, so an initializer that completes or fails
//!   without waking a sleeper leaves it asleep forever, which loom reports as a deadlock;
//!   also `wait` before any initializer starts.
//!
//! The `negative_*` models must make loom fail: a backend that never wakes (deadlock), and an
//! unsynchronized "once" (two initializers run).
#![cfg(baresync_loom)]

mod loom_support;
use loom_support::*;

use baresync::{Lazy, Once, OnceCell, Spin, Wait};
use loom::cell::UnsafeCell;
use loom::sync::atomic::{AtomicUsize, Ordering::Relaxed};
use loom::thread;
// std's Arc, not loom's: see tests/loom_lock.rs.
use std::sync::Arc;

/// An initializer that takes a while: it yields to loom, so that a waiter runs while it is
/// running (without it loom runs a yielding waiter only once the initializer is done, and the
/// sleeping path is never reached).
fn slow_initializer() {
    thread::yield_now();
}

/// Two threads race `get_or_init` on a fresh cell: one initializer, one value for both.
fn racing_initializers<W: Wait + Send + Sync + 'static>() {
    model(|| {
        // The cell, and a count of the initializer runs.
        let s: Arc<(OnceCell<u32, W>, AtomicUsize)> =
            Arc::new((OnceCell::with_wait(), AtomicUsize::new(0)));
        let other = spawn_with(&s, |(cell, runs)| {
            *cell.get_or_init(|| {
                runs.fetch_add(1, Relaxed);
                slow_initializer();
                1
            })
        });
        let (cell, runs) = &*s;
        let mine = *cell.get_or_init(|| {
            runs.fetch_add(1, Relaxed);
            slow_initializer();
            2
        });
        let theirs = other.join().unwrap();
        assert_eq!(mine, theirs);
        assert_eq!(runs.load(Relaxed), 1, "exactly one initializer runs");
        assert_eq!(cell.get(), Some(&mine));
    });
}

#[test]
fn spin_racing_initializers() {
    racing_initializers::<Spin>();
}

#[test]
fn futex_racing_initializers() {
    reset_counters();
    racing_initializers::<LoomFutex>();
    assert!(sleeps() > 0, "no execution reached the sleeping path");
}

/// `Once` publishes what its closure wrote to a thread that returns from `wait` (started
/// before the closure may have), and (with `racer`) to one whose `call_once` lost.
fn once_publishes<W: Wait + Send + Sync + 'static>(racer: bool) {
    struct Shared<W> {
        once: Once<W>,
        data: UnsafeCell<u32>,
    }
    // SAFETY: `data` is written only inside `call_once` and read only after a `wait` or
    // `call_once` returned; loom reports any read not ordered after the write.
    unsafe impl<W> Sync for Shared<W> {}
    model(move || {
        let s = Arc::new(Shared::<W> {
            once: Once::with_wait(),
            data: UnsafeCell::new(0),
        });
        let waiter = spawn_with(&s, |s| {
            s.once.wait();
            // SAFETY: after `wait` returned (see the `Sync` impl).
            s.data.with(|p| unsafe { *p })
        });
        let racer = racer.then(|| {
            spawn_with(&s, |s| {
                // SAFETY: inside `call_once`, the one writer.
                s.once.call_once(|| s.data.with_mut(|p| unsafe { *p = 7 }));
                // SAFETY: after `call_once` returned.
                s.data.with(|p| unsafe { *p })
            })
        });
        // SAFETY: inside `call_once`, the one writer.
        s.once.call_once(|| s.data.with_mut(|p| unsafe { *p = 7 }));
        assert_eq!(waiter.join().unwrap(), 7);
        if let Some(racer) = racer {
            assert_eq!(racer.join().unwrap(), 7);
        }
    });
}

/// Two threads only with `Spin`: a third spinning thread makes the model too large.
#[test]
fn spin_once_publishes() {
    once_publishes::<Spin>(false);
}

#[test]
fn futex_once_publishes() {
    once_publishes::<LoomFutex>(true);
}

/// The first initializer fails (`Err`) while the other thread may be waiting (asleep, with
/// the sleeping backend) with its own: that one is woken and initializes; nothing is read
/// from the failed attempt.
fn failed_initializer_then_retry<W: Wait + Send + Sync + 'static>() {
    model(|| {
        let cell: Arc<OnceCell<u32, W>> = Arc::new(OnceCell::with_wait());
        let other = spawn_with(&cell, |cell| *cell.get_or_init(|| 2));
        let mine = cell.get_or_try_init(|| {
            slow_initializer();
            Err::<u32, ()>(())
        });
        // Either we failed (and the other initialized, now or later), or the other came first.
        if let Ok(v) = mine {
            assert_eq!(*v, 2);
        }
        assert_eq!(other.join().unwrap(), 2);
        assert_eq!(cell.get(), Some(&2));
    });
}

#[test]
fn spin_failed_initializer_then_retry() {
    failed_initializer_then_retry::<Spin>();
}

#[test]
fn futex_failed_initializer_then_retry() {
    reset_counters();
    failed_initializer_then_retry::<LoomFutex>();
    assert!(sleeps() > 0, "no execution reached the sleeping path");
}

/// A real panic in the initializer (spinning backend: see the module doc): the other thread
/// initializes, the panicking one sees an empty cell or the other's value, never its own.
#[test]
fn spin_panicking_initializer_then_retry() {
    model_quiet(&["injected"], || {
        let cell: Arc<OnceCell<u32, Spin>> = Arc::new(OnceCell::with_wait());
        let other = spawn_with(&cell, |cell| *cell.get_or_init(|| 2));
        let r = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            *cell.get_or_init(|| panic!("injected"))
        }));
        if let Ok(v) = r {
            assert_eq!(v, 2, "the other initialized first");
        }
        assert_eq!(other.join().unwrap(), 2);
        assert_eq!(cell.get(), Some(&2));
    });
}

/// A `Lazy` whose initializer panics, forced by two threads: the panicking attempt takes the
/// initializer out of its slot, and the other thread, which runs next, reads that slot: the
/// two accesses must be ordered (the running phase is taken with Acquire, pairing with the
/// Release that ended the failed phase). The other thread finds the `Lazy` poisoned, or runs
/// the initializer first and panics itself. (This model passes with the Relaxed form too:
/// see docs/memory-ordering.md, "A failed attempt's writes".)
#[test]
fn spin_lazy_panicking_initializer_then_force() {
    type BoxedLazy = Lazy<u32, Box<dyn FnOnce() -> u32 + Send>, Spin>;
    model_quiet(&["injected", "poisoned"], || {
        let lazy: Arc<BoxedLazy> = Arc::new(Lazy::with_wait(Box::new(|| panic!("injected"))));
        let other = spawn_with(&lazy, |lazy| {
            std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| **lazy)).is_err()
        });
        let mine = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| **lazy)).is_err();
        assert!(mine, "a panicking or poisoned Lazy returned a value");
        assert!(
            other.join().unwrap(),
            "a panicking or poisoned Lazy returned a value"
        );
        assert_eq!(Lazy::get(&lazy), None);
    });
}

/// `wait` with no initializer of its own, before anyone starts: it sleeps on "incomplete"
/// (announcing itself) and the initializer that completes must wake it.
#[test]
fn futex_wait_before_any_initializer() {
    model(|| {
        let cell: Arc<OnceCell<u32, LoomFutex>> = Arc::new(OnceCell::with_wait());
        let waiter = spawn_with(&cell, |cell| *cell.wait());
        assert_eq!(cell.set(5), Ok(()));
        assert_eq!(waiter.join().unwrap(), 5);
    });
}

/// `Lazy` forced by two threads: one initializer call, one value.
#[test]
fn futex_lazy_forced_by_two() {
    type BoxedLazy = Lazy<u32, Box<dyn FnOnce() -> u32 + Send>, LoomFutex>;
    model(|| {
        let lazy: Arc<BoxedLazy> = Arc::new(Lazy::with_wait(Box::new(|| 3)));
        let other = spawn_with(&lazy, |lazy| **lazy);
        assert_eq!(**lazy, 3);
        assert_eq!(other.join().unwrap(), 3);
    });
}

/// A backend whose wakes do nothing: a waiter that went to sleep sleeps forever.
#[test]
#[should_panic(expected = "deadlock")]
fn negative_no_wake_deadlocks() {
    racing_initializers::<Park<false, false>>();
}

/// A "once" that checks a flag and then sets it, without a read-modify-write: both threads can
/// run their initializer, and the model's count catches it.
#[test]
#[should_panic(expected = "exactly one initializer")]
fn negative_check_then_set_runs_twice() {
    use loom::sync::atomic::AtomicBool;
    model(|| {
        // The flag, and a count of the initializer runs.
        let s = Arc::new((AtomicBool::new(false), AtomicUsize::new(0)));
        let attempt = |(done, runs): &(AtomicBool, AtomicUsize)| {
            if !done.load(Relaxed) {
                runs.fetch_add(1, Relaxed);
                done.store(true, Relaxed);
            }
        };
        let other = spawn_with(&s, attempt);
        attempt(&s);
        let runs = &s.1;
        other.join().unwrap();
        assert_eq!(runs.load(Relaxed), 1, "exactly one initializer runs");
    });
}

/// Shared by the threads of `spin_failed_attempts_are_ordered`: a cell and a counter that only
/// the thread holding the cell's running phase touches.
struct Attempts {
    cell: OnceCell<u32, Spin>,
    counter: UnsafeCell<u32>,
}

// SAFETY: `counter` is touched only inside the initializer (one runner at a time, which is
// what the model checks) and after both threads joined.
unsafe impl Sync for Attempts {}

impl Attempts {
    /// One attempt that writes the counter and fails: true if it reported the failure.
    fn fail_once(&self) -> bool {
        self.cell
            .get_or_try_init(|| {
                // SAFETY: inside the initializer, see `Attempts`.
                self.counter.with_mut(|p| unsafe { *p += 1 });
                Err::<u32, ()>(())
            })
            .is_err()
    }
}

/// A failed attempt's writes happen-before the next attempt (the running phase's Acquire
/// compare-and-swap, pairing with `finish`'s Release): two threads' initializers both fail
/// after writing one counter, a loom `UnsafeCell`, so two accesses that are not ordered are a
/// reported race.
#[test]
fn spin_failed_attempts_are_ordered() {
    model(|| {
        let shared = Arc::new(Attempts {
            cell: OnceCell::with_wait(),
            counter: UnsafeCell::new(0),
        });
        let other = spawn_with(&shared, |s| s.fail_once());
        assert!(shared.fail_once());
        assert!(other.join().unwrap());
        // SAFETY: both threads are done.
        assert_eq!(shared.counter.with(|p| unsafe { *p }), 2);
    });
}
