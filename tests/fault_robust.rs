//! Fault injection into `RobustMutex`: a panic while holding a guard (consistent or not), a
//! panicking deadline, a panicking liveness check. Runs under Miri (with a model liveness
//! check instead of `/proc`).
#![cfg(all(target_os = "linux", feature = "std", not(baresync_loom)))]

mod fault_support;
use fault_support::panics_on_call;

use baresync::raw::OwnerLiveness;
use baresync::{RobustError, RobustMutex, Spin};
use core::num::NonZeroU64;
use std::cell::Cell;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering::SeqCst};

std::thread_local! {
    static ME: Cell<u64> = const { Cell::new(1) };
}
/// Owner ids whose bit is set here are dead.
static DEAD: AtomicU64 = AtomicU64::new(0);
/// When set, `is_dead` panics.
static LIVENESS_PANICS: AtomicBool = AtomicBool::new(false);

/// Owner ids set by each test thread; the test marks them dead.
struct Model;
// SAFETY: each test uses distinct ids per thread, and marks one dead only once it stopped
// using the lock.
unsafe impl OwnerLiveness for Model {
    fn current() -> NonZeroU64 {
        NonZeroU64::new(ME.with(Cell::get)).unwrap()
    }
    fn is_dead(owner: NonZeroU64) -> bool {
        assert!(!LIVENESS_PANICS.load(SeqCst), "injected");
        DEAD.load(SeqCst) & (1 << owner.get()) != 0
    }
}

type M = RobustMutex<u32, Model, Spin>;

fn as_owner(id: u64) {
    ME.with(|m| m.set(id));
}

/// Each test uses its own ids (tests run in parallel and share `DEAD`).
fn kill(id: u64) {
    DEAD.fetch_or(1 << id, SeqCst);
}

#[test]
fn panic_holding_a_consistent_guard_releases_it() {
    let m = M::with_wait(0);
    as_owner(2);
    let r = catch_unwind(AssertUnwindSafe(|| {
        let mut g = m.lock().unwrap();
        *g = 5;
        panic!("injected");
    }));
    assert!(r.is_err());
    assert!(!m.is_locked());
    assert_eq!(*m.lock().unwrap(), 5);
}

#[test]
fn panic_holding_an_unrepaired_owner_died_guard_gives_the_lock_up() {
    let m = M::with_wait(0);
    as_owner(3);
    core::mem::forget(m.lock().unwrap());
    kill(3);
    as_owner(4);
    let r = catch_unwind(AssertUnwindSafe(|| match m.lock() {
        Err(RobustError::OwnerDied(_g)) => panic!("injected during the repair"),
        _ => unreachable!(),
    }));
    assert!(r.is_err());
    assert!(m.is_not_recoverable());
    assert!(matches!(m.lock(), Err(RobustError::NotRecoverable)));
}

#[test]
fn panicking_deadline_leaves_the_lock_as_it_was() {
    let m = M::with_wait(0);
    as_owner(5);
    let g = m.lock().unwrap();
    as_owner(6);
    for k in 1..=3 {
        let r = catch_unwind(AssertUnwindSafe(|| m.lock_until(panics_on_call(k)).is_ok()));
        assert!(r.is_err());
        assert!(m.is_locked() && !m.is_not_recoverable());
    }
    as_owner(5);
    drop(g);
    as_owner(6);
    assert!(m.try_lock().is_ok(), "usable after the panics");
}

#[test]
fn panicking_liveness_check_takes_nothing_over() {
    let m = M::with_wait(0);
    as_owner(7);
    core::mem::forget(m.lock().unwrap());
    kill(7);
    as_owner(8);
    LIVENESS_PANICS.store(true, SeqCst);
    let r = catch_unwind(AssertUnwindSafe(|| m.try_lock().is_ok()));
    LIVENESS_PANICS.store(false, SeqCst);
    assert!(r.is_err());
    assert!(m.is_locked());
    // The death is still there to be reported, once.
    match m.lock() {
        Err(RobustError::OwnerDied(mut g)) => g.mark_consistent(),
        _ => panic!("expected OwnerDied"),
    }
    assert!(m.lock().is_ok());
}

/// `lock` by the holder of an owner-died guard that it has not repaired yet (red team S2: it
/// used to wait for itself for ever): the panic unwinds through the unrepaired guard, which
/// gives the lock up, as any panic during the repair does; and by the holder of a consistent
/// guard: the unwind releases it, the data as it was.
#[test]
fn lock_by_the_holder_panics_and_the_unwind_drops_its_guard() {
    let m = M::with_wait(0);
    as_owner(20);
    let r = catch_unwind(AssertUnwindSafe(|| {
        let mut g = m.lock().unwrap();
        *g = 7;
        let _again = m.lock();
    }));
    assert!(r.is_err(), "a second lock by the holder panics");
    assert!(!m.is_locked() && !m.is_not_recoverable());
    assert_eq!(*m.lock().unwrap(), 7);

    core::mem::forget(m.lock().unwrap());
    kill(20);
    as_owner(21);
    let r = catch_unwind(AssertUnwindSafe(|| match m.lock() {
        Err(RobustError::OwnerDied(_g)) => {
            let _again = m.lock_until(|| false);
        }
        _ => unreachable!(),
    }));
    assert!(r.is_err());
    assert!(
        m.is_not_recoverable(),
        "the unrepaired guard gave the lock up"
    );
}
