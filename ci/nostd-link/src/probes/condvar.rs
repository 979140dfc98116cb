//! `Condvar` in a static, over a `SpinLock` guard: notify_one, notify_all, wait_until.

use super::poll_budget;
use baresync::{Condvar, Spin, SpinLock};
use core::hint::black_box;

static READY: SpinLock<bool> = SpinLock::new(false);
static CONDVAR: Condvar<Spin> = Condvar::with_wait();

#[no_mangle]
#[inline(never)]
pub fn probe_condvar_notify_one() -> bool {
    *READY.lock() = true;
    CONDVAR.notify_one()
}

#[no_mangle]
#[inline(never)]
pub fn probe_condvar_notify_all() -> usize {
    CONDVAR.notify_all()
}

#[no_mangle]
#[inline(never)]
pub fn probe_condvar_wait_until() -> bool {
    let (ready, timed_out) = CONDVAR.wait_until(READY.lock(), poll_budget(100));
    let timed_out = timed_out.timed_out();
    *ready && !timed_out
}

/// Calls every condition-variable probe.
pub fn run() {
    black_box(probe_condvar_notify_one());
    black_box(probe_condvar_notify_all());
    black_box(probe_condvar_wait_until());
}
