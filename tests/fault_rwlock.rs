//! Fault injection for the reader-writer locks: every piece of user code that runs inside
//! them (the deadline of `read_until`, `write_until`, `upgradable_read_until` and
//! `upgrade_until`; for `RwLock` also the `Wait` backend of every wait) panics or is slow, and
//! the lock must be left as its guards say: held by the holders, nothing half-acquired, no
//! waiting writer left behind (registered in `RwLock`, flagged in `SpinRwLock`: either would
//! hold every new reader back forever), usable afterwards. The deadline tests are generic over
//! the raw lock and run for both; the `Wait` ones are `RwLock`'s own (`SpinRwLock` calls none).

mod fault_support;
use fault_support::*;

use baresync::sync::atomic::AtomicU32;
use baresync::{
    Deadline, RawRwMutex, ReadWriteLock, RwLock, RwLockUpgradableReadGuard, RwLockWriteGuard, Spin,
    Wait, Yield,
};
use std::cell::Cell;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::Arc;
use std::thread;
use std::time::{Duration, Instant};

/// The calls on which the injected deadline panics: the first, and a later one.
const CALLS: [u32; 2] = [1, 5];

fn eventually(what: &str, mut cond: impl FnMut() -> bool) {
    let limit = generous();
    while !cond() {
        assert!(Instant::now() < limit, "{what}: never happened");
        thread::sleep(Duration::from_millis(1));
    }
}

/// Every timed acquisition, blocked by a conflicting holder, with a deadline that panics on
/// call `k`: the holder still holds, nothing is half-acquired, no waiter is left registered
/// (`RwLock`) or flagged (`SpinRwLock`: a leftover flag would hold every new reader back with
/// no writer coming), and the lock works afterwards.
fn deadline_panics<R: RwState>() {
    for k in CALLS {
        // Held by a writer: every timed acquisition waits, and its deadline panics.
        let lock = ReadWriteLock::<R, u32>::with_raw(0);
        let w = lock.write();
        must_panic(|| lock.read_until(panics_on_call(k)));
        must_panic(|| lock.write_until(panics_on_call(k)));
        must_panic(|| lock.upgradable_read_until(panics_on_call(k)));
        assert!(lock.is_locked_exclusive());
        assert_eq!(lock.raw().read_locks(), 0);
        assert_eq!(lock.raw().readers_waiting(), 0);
        assert_eq!(
            lock.raw().writers_waiting(),
            0,
            "k {k}: a panicking writer is left waiting"
        );
        drop(w);
        assert_rw_idle(&lock);

        // Held by a reader: the writer registers or flags itself while it waits; its panic
        // undoes that.
        let r = lock.read();
        must_panic(|| lock.write_until(panics_on_call(k)));
        assert_eq!(
            lock.raw().writers_waiting(),
            0,
            "k {k}: a panicking writer is left waiting"
        );
        // No writer left waiting: new readers still enter.
        drop(
            lock.try_read()
                .expect("a reader is not held back by a ghost writer"),
        );
        let u = lock.upgradable_read();
        must_panic(|| lock.upgradable_read_until(panics_on_call(k)));
        assert_eq!(lock.raw().read_locks(), 2);
        // The upgrade's deadline panics: the guard is dropped while unwinding and gives the
        // upgradable lock back; the upgrade is no longer waiting.
        must_panic(|| RwLockUpgradableReadGuard::upgrade_until(u, panics_on_call(k)));
        assert_eq!(lock.raw().read_locks(), 1, "only the plain reader is left");
        assert_eq!(
            lock.raw().writers_waiting(),
            0,
            "k {k}: a panicking upgrade is left waiting"
        );
        assert!(lock.try_upgradable_read().is_some());
        drop(r);
        assert_rw_idle(&lock);
    }
}

#[test]
fn deadline_panics_spin() {
    deadline_panics::<RawRwMutex<Spin>>();
}

#[test]
fn deadline_panics_yield() {
    deadline_panics::<RawRwMutex<Yield>>();
}

#[cfg(not(miri))]
#[test]
fn deadline_panics_futex() {
    deadline_panics::<RawRwMutex<baresync::Futex>>();
}

#[test]
fn deadline_panics_spin_rwlock() {
    deadline_panics::<baresync::RawSpinRwLock>();
}

/// Waiters of every kind whose backend panics while they wait (registered): the holder
/// still holds, every registration is gone, and the lock works afterwards. Waiters still
/// waiting beside them get in.
#[test]
fn waiters_survive_a_panicking_wait() {
    let lock = Arc::new(RwLock::<u32, PanickyWait>::with_wait(0));
    let w = lock.write();
    let patient = {
        let lock = Arc::clone(&lock);
        thread::spawn(move || *lock.read())
    };
    eventually("the patient reader registers", || {
        lock.raw().waiting_readers() == 1
    });
    let victims: Vec<_> = (0..3)
        .map(|kind| {
            let lock = Arc::clone(&lock);
            thread::spawn(move || {
                arm(1);
                catch_unwind(AssertUnwindSafe(|| match kind {
                    0 => drop(lock.read()),
                    1 => drop(lock.write()),
                    _ => drop(lock.upgradable_read()),
                }))
                .is_err()
            })
        })
        .collect();
    for v in victims {
        assert!(v.join().unwrap(), "the injected panic reached the waiter");
    }
    assert!(lock.is_locked_exclusive());
    assert_eq!(lock.raw().waiting_readers(), 1, "only the patient reader");
    assert_eq!(lock.raw().waiting_writers(), 0);
    drop(w);
    assert_eq!(patient.join().unwrap(), 0);

    // An upgrade whose wait panics gives the upgradable lock back as its guard unwinds.
    let r = lock.read();
    let upgrader = {
        let lock = Arc::clone(&lock);
        thread::spawn(move || {
            arm(1);
            let u = lock.upgradable_read();
            catch_unwind(AssertUnwindSafe(|| RwLockUpgradableReadGuard::upgrade(u))).is_err()
        })
    };
    assert!(upgrader.join().unwrap());
    assert_eq!(lock.raw().readers(), 1, "only the plain reader is left");
    assert_eq!(lock.raw().waiting_writers(), 0);
    drop(r);
    assert_rw_idle(&lock);
}

/// A slow backend (a slow scheduler): readers, writers and upgraders stay correct.
#[cfg(not(miri))]
#[test]
fn slow_wait_keeps_the_lock_correct() {
    let lock = Arc::new(RwLock::<[u32; 2], SlowWait>::with_wait([0; 2]));
    let rounds = 200;
    let threads: Vec<_> = (0..4)
        .map(|i| {
            let lock = Arc::clone(&lock);
            thread::spawn(move || {
                for j in 0..rounds {
                    match (i + j) % 3 {
                        0 => {
                            let mut w = lock.write();
                            w[0] += 1;
                            w[1] += 1;
                        }
                        1 => {
                            let r = lock.read();
                            assert_eq!(r[0], r[1]);
                        }
                        _ => {
                            let u = lock.upgradable_read();
                            assert_eq!(u[0], u[1]);
                            let mut w = RwLockUpgradableReadGuard::upgrade(u);
                            w[0] += 1;
                            w[1] += 1;
                        }
                    }
                }
            })
        })
        .collect();
    for t in threads {
        t.join().unwrap();
    }
    let writes = (0..4)
        .map(|i| (0..rounds).filter(|j| (i + j) % 3 != 1).count() as u32)
        .sum::<u32>();
    assert_eq!(*lock.read(), [writes; 2]);
    assert!(!lock.is_locked());
    assert_eq!(lock.raw().waiting_readers(), 0);
    assert_eq!(lock.raw().waiting_writers(), 0);
}

thread_local! {
    /// Whether this thread's next `PanicWake` wake call panics.
    static WAKE_ARMED: Cell<bool> = const { Cell::new(false) };
}

/// A `Wait` whose waiters poll (yielding) until the word changes, and whose wake calls panic
/// once when armed on the waking thread. (Red-team finding R4.)
struct PanicWake;

// SAFETY: only reads the word it is given; never writes it.
unsafe impl Wait for PanicWake {
    fn wait(atomic: &AtomicU32, expected: u32) {
        Yield::wait(atomic, expected);
    }
    fn wait_until(atomic: &AtomicU32, expected: u32, deadline: &mut impl Deadline) -> bool {
        Yield::wait_until(atomic, expected, deadline)
    }
    fn wake_one(_: &AtomicU32) {
        if WAKE_ARMED.with(|a| a.replace(false)) {
            panic!("injected");
        }
    }
    fn wake_all(_: &AtomicU32) {
        if WAKE_ARMED.with(|a| a.replace(false)) {
            panic!("injected");
        }
    }
}

/// A downgrade whose wake call panics (after the raw lock already holds the new, weaker lock
/// for this thread) must not leak that lock: the new guard exists before the call and is
/// dropped by the unwind. Seen failing (the lock stayed read-locked forever) before the
/// guards were built first.
#[test]
fn downgrades_with_a_panicking_wake_leak_nothing() {
    // Write → read, with a reader waiting (so the hand-off wakes).
    let lock = Arc::new(RwLock::<u32, PanicWake>::with_wait(0));
    let w = lock.write();
    let reader = {
        let lock = Arc::clone(&lock);
        thread::spawn(move || drop(lock.read()))
    };
    eventually("the reader registers", || lock.raw().waiting_readers() == 1);
    WAKE_ARMED.with(|a| a.set(true));
    must_panic(|| RwLockWriteGuard::downgrade(w));
    reader.join().unwrap();
    eventually("no read lock leaked", || !lock.is_locked());

    // Write → upgradable, with a reader waiting.
    let w = lock.write();
    let reader = {
        let lock = Arc::clone(&lock);
        thread::spawn(move || drop(lock.read()))
    };
    eventually("the reader registers", || lock.raw().waiting_readers() == 1);
    WAKE_ARMED.with(|a| a.set(true));
    must_panic(|| RwLockWriteGuard::downgrade_to_upgradable(w));
    reader.join().unwrap();
    eventually("no upgradable lock leaked", || !lock.is_locked());

    // Upgradable → read, with an upgradable-read waiter (so the downgrade wakes).
    let u = lock.upgradable_read();
    let waiter = {
        let lock = Arc::clone(&lock);
        thread::spawn(move || {
            drop(
                lock.upgradable_read_until(generous())
                    .expect("the upgradable lock came free"),
            )
        })
    };
    eventually("the upgradable waiter announces itself", || {
        format!("{:?}", lock.raw()).contains("sleepers: true")
    });
    WAKE_ARMED.with(|a| a.set(true));
    must_panic(|| RwLockUpgradableReadGuard::downgrade(u));
    waiter.join().unwrap();
    eventually("no read lock leaked", || !lock.is_locked());
    assert_idle_any(&lock);
}

fn assert_idle_any<W: Wait>(lock: &RwLock<u32, W>) {
    assert_eq!(lock.raw().readers(), 0);
    assert_eq!(lock.raw().waiting_readers(), 0);
    assert_eq!(lock.raw().waiting_writers(), 0);
    drop(lock.try_write().expect("free"));
}
