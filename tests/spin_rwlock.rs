//! `SpinRwLock`'s own behaviour through its public API: its reader-count limit. What it shares
//! with `RwLock` (exclusion, writer preference, upgrades, downgrades, the try, `_until` and
//! `_timeout` forms) is tested once for both raw locks in `tests/rwlock.rs`; its flag word and
//! its thumbv6m forms in the unit tests of `src/raw/spin_rwlock.rs`.

mod fault_support;
use fault_support::assert_rw_idle;

use baresync::SpinRwLock;

/// 65535 read locks at once (upgradable one included), one more panics with a message and
/// leaves the count as it was. The locks are taken and given back through the raw lock (65535
/// guards would overflow lockdep's held-lock table with feature `lockdep`); the attempts that
/// must panic go through the guards' API.
#[cfg_attr(miri, ignore = "65535 acquisitions")]
#[test]
fn reader_overflow_panics() {
    use baresync::RawRwLock;
    let lock = SpinRwLock::new(());
    lock.raw().lock_upgradable();
    for _ in 1..65535 {
        assert!(lock.raw().try_lock_shared(), "below the limit");
    }
    assert_eq!(lock.raw().readers(), 65535);
    for attempt in 0..3 {
        let r = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| match attempt {
            0 => drop(lock.read()),
            1 => drop(lock.try_read()),
            _ => drop(lock.read_until(|| true)),
        }));
        let msg = r.expect_err("one read lock too many must panic");
        let msg = msg.downcast_ref::<&str>().copied().unwrap_or("");
        assert!(msg.contains("reader count overflow"), "{msg}");
        assert_eq!(lock.raw().readers(), 65535);
    }
    assert!(lock.try_write().is_none());
    for _ in 1..65535 {
        // SAFETY: gives back one of the read locks taken above.
        unsafe { lock.raw().unlock_shared() };
    }
    // SAFETY: the upgradable lock taken above.
    unsafe { lock.raw().unlock_upgradable() };
    assert_rw_idle(&lock);
}
