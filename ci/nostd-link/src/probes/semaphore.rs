//! `Semaphore` and `BoundedSemaphore` in statics: try_acquire, acquire_until, release.

use super::poll_budget;
use baresync::{BoundedSemaphore, Semaphore, Spin};
use core::hint::black_box;

static SEMAPHORE: Semaphore<Spin> = Semaphore::with_wait(2);
static BOUNDED_SEMAPHORE: BoundedSemaphore<Spin> = BoundedSemaphore::with_wait(2);

#[no_mangle]
#[inline(never)]
pub fn probe_semaphore_try_acquire() -> bool {
    SEMAPHORE.try_acquire().is_some()
}

#[no_mangle]
#[inline(never)]
pub fn probe_semaphore_acquire_until() -> bool {
    SEMAPHORE.acquire_until(poll_budget(100)).is_some()
}

#[no_mangle]
#[inline(never)]
pub fn probe_semaphore_release() {
    SEMAPHORE.release(black_box(1));
}

#[no_mangle]
#[inline(never)]
pub fn probe_boundedsemaphore_acquire_until() -> bool {
    BOUNDED_SEMAPHORE.acquire_until(poll_budget(100)).is_some()
}

#[no_mangle]
#[inline(never)]
pub fn probe_boundedsemaphore_release() -> bool {
    BOUNDED_SEMAPHORE.release(black_box(1)).is_ok()
}

/// Calls every semaphore probe.
pub fn run() {
    black_box(probe_semaphore_try_acquire());
    black_box(probe_semaphore_acquire_until());
    probe_semaphore_release();
    black_box(probe_boundedsemaphore_acquire_until());
    black_box(probe_boundedsemaphore_release());
}
