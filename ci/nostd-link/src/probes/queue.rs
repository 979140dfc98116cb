//! A bounded `Queue` in a static: push, pop, try_push, try_pop, put_until, get_until.

use super::poll_budget;
use baresync::{Queue, Spin};
use core::hint::black_box;

static QUEUE: Queue<u32, 8, Spin> = Queue::with_wait();

#[no_mangle]
#[inline(never)]
pub fn probe_queue_push() -> bool {
    QUEUE.push(black_box(1)).is_ok()
}

#[no_mangle]
#[inline(never)]
pub fn probe_queue_pop() -> Option<u32> {
    QUEUE.pop()
}

#[no_mangle]
#[inline(never)]
pub fn probe_queue_try_push() -> bool {
    QUEUE.try_push(black_box(3)).is_ok()
}

#[no_mangle]
#[inline(never)]
pub fn probe_queue_try_pop() -> Option<u32> {
    QUEUE.try_pop().ok()
}

#[no_mangle]
#[inline(never)]
pub fn probe_queue_put_until() -> bool {
    QUEUE.put_until(black_box(2), poll_budget(100)).is_ok()
}

#[no_mangle]
#[inline(never)]
pub fn probe_queue_get_until() -> Option<u32> {
    QUEUE.get_until(poll_budget(100)).ok()
}

/// Calls every queue probe.
pub fn run() {
    black_box(probe_queue_push());
    black_box(probe_queue_try_push());
    black_box(probe_queue_put_until());
    black_box(probe_queue_pop());
    black_box(probe_queue_try_pop());
    black_box(probe_queue_get_until());
}
