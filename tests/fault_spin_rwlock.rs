//! Fault injection for `SpinRwLock`: the only user code that runs inside it is the deadline of
//! `read_until`, `write_until`, `upgradable_read_until` and `upgrade_until`. It panics, on its
//! first call and on a later one, and the lock must be left as before the call: held by the
//! holders, nothing half-acquired, and no waiting-writer flag left behind (a leftover flag
//! would hold every new reader back with no writer coming), usable afterwards.

mod fault_support;
use fault_support::*;

use baresync::{RwLockUpgradableReadGuard, SpinRwLock};

/// The calls on which the injected deadline panics: the first, and a later one.
const CALLS: [u32; 2] = [1, 5];

/// Nothing held, nothing flagged: the lock as new, and usable.
fn assert_idle(lock: &SpinRwLock<u32>) {
    assert!(!lock.is_locked());
    assert_eq!(lock.raw().readers(), 0);
    assert!(!lock.raw().writer_waiting());
    *lock.try_write().expect("free for a writer") += 1;
    let (a, b) = (
        lock.try_read().expect("free"),
        lock.try_read().expect("shared"),
    );
    drop((a, b));
    drop(
        lock.try_upgradable_read()
            .expect("free for an upgradable reader"),
    );
}

#[test]
fn deadline_panics() {
    for k in CALLS {
        // Held by a writer: every timed acquisition polls, and its deadline panics.
        let lock = SpinRwLock::new(0u32);
        let w = lock.write();
        must_panic(|| lock.read_until(panics_on_call(k)));
        must_panic(|| lock.write_until(panics_on_call(k)));
        must_panic(|| lock.upgradable_read_until(panics_on_call(k)));
        assert!(lock.is_locked_exclusive());
        assert_eq!(lock.raw().readers(), 0);
        assert!(
            !lock.raw().writer_waiting(),
            "k {k}: a panicking writer's flag"
        );
        drop(w);
        assert_idle(&lock);

        // Held by a reader: the writer flags itself while it polls; its panic unflags.
        let r = lock.read();
        must_panic(|| lock.write_until(panics_on_call(k)));
        assert!(
            !lock.raw().writer_waiting(),
            "k {k}: a panicking writer's flag"
        );
        drop(
            lock.try_read()
                .expect("a reader is not held back by a ghost writer"),
        );
        let u = lock.upgradable_read();
        must_panic(|| lock.upgradable_read_until(panics_on_call(k)));
        assert_eq!(lock.raw().readers(), 2);
        // The upgrade's deadline panics: the guard is dropped while unwinding and gives the
        // upgradable lock back; the flag the upgrade set is gone.
        must_panic(|| RwLockUpgradableReadGuard::upgrade_until(u, panics_on_call(k)));
        assert_eq!(lock.raw().readers(), 1, "only the plain reader is left");
        assert!(
            !lock.raw().writer_waiting(),
            "k {k}: a panicking upgrade's flag"
        );
        assert!(lock.try_upgradable_read().is_some());
        drop(r);
        assert_idle(&lock);
    }
}
