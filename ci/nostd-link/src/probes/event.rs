//! `Event`, `Barrier` and `SpinBarrier` in statics: set, clear, wait_until; barrier
//! wait_until; spin barrier wait.

use super::poll_budget;
use baresync::{Barrier, Event, Spin, SpinBarrier};
use core::hint::black_box;

static EVENT: Event<Spin> = Event::with_wait();
static BARRIER: Barrier<Spin> = Barrier::with_wait(1);
static SPIN_BARRIER: SpinBarrier = SpinBarrier::new(1);

#[no_mangle]
#[inline(never)]
pub fn probe_event_set() {
    EVENT.set();
}

#[no_mangle]
#[inline(never)]
pub fn probe_event_clear() {
    EVENT.clear();
}

#[no_mangle]
#[inline(never)]
pub fn probe_event_wait_until() -> bool {
    !EVENT.wait_until(poll_budget(100)).timed_out()
}

#[no_mangle]
#[inline(never)]
pub fn probe_barrier_wait_until() -> bool {
    BARRIER.wait_until(poll_budget(100)).is_ok()
}

#[no_mangle]
#[inline(never)]
pub fn probe_spin_barrier_wait() -> bool {
    SPIN_BARRIER.wait().is_leader()
}

/// Calls every event and barrier probe.
pub fn run() {
    probe_event_set();
    black_box(probe_event_wait_until());
    probe_event_clear();
    black_box(probe_barrier_wait_until());
    black_box(probe_spin_barrier_wait());
}
