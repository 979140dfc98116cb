//! `RwLock` and `SpinRwLock` in statics: read, write, upgradable read and upgrade, try and until
//! forms.

use super::poll_budget;
use baresync::{RwLock, RwLockUpgradableReadGuard, RwLockWriteGuard, Spin, SpinRwLock};
use core::hint::black_box;

static TABLE: RwLock<[u32; 4], Spin> = RwLock::with_wait([0; 4]);

#[no_mangle]
#[inline(never)]
pub fn probe_rwlock_read() -> u32 {
    TABLE.read().iter().sum()
}

#[no_mangle]
#[inline(never)]
pub fn probe_rwlock_write() {
    TABLE.write()[0] += 1;
}

#[no_mangle]
#[inline(never)]
pub fn probe_rwlock_try_read_until() -> bool {
    TABLE.try_read().is_some() && TABLE.read_until(poll_budget(100)).is_some()
}

#[no_mangle]
#[inline(never)]
pub fn probe_rwlock_write_until() -> bool {
    TABLE
        .write_until(poll_budget(100))
        .map(|mut t| t[1] += 1)
        .is_some()
}

#[no_mangle]
#[inline(never)]
pub fn probe_rwlock_upgrade() -> u32 {
    let u = TABLE.upgradable_read();
    let mut w = RwLockUpgradableReadGuard::upgrade(u);
    w[2] += 1;
    let r = RwLockWriteGuard::downgrade(w);
    r[2]
}

static LEAN: SpinRwLock<[u32; 4]> = SpinRwLock::new([0; 4]);

#[no_mangle]
#[inline(never)]
pub fn probe_spinrwlock_read_write() -> u32 {
    LEAN.write()[0] += 1;
    LEAN.read().iter().sum()
}

#[no_mangle]
#[inline(never)]
pub fn probe_spinrwlock_try_until_upgrade() -> bool {
    let tried = LEAN.try_read().is_some()
        && LEAN.try_write().is_some()
        && LEAN.write_until(poll_budget(100)).is_some();
    let u = LEAN.upgradable_read();
    let mut w = RwLockUpgradableReadGuard::upgrade(u);
    w[3] += 1;
    let r = RwLockWriteGuard::downgrade(w);
    tried && r[3] > 0
}

/// Calls every reader-writer lock probe.
pub fn run() {
    black_box(probe_rwlock_read());
    probe_rwlock_write();
    black_box(probe_rwlock_try_read_until());
    black_box(probe_rwlock_write_until());
    black_box(probe_rwlock_upgrade());
    black_box(probe_spinrwlock_read_write());
    black_box(probe_spinrwlock_try_until_upgrade());
}
