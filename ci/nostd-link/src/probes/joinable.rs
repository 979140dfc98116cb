//! A `JoinableQueue` in a static: push, pop, task_done, join_until.

use super::poll_budget;
use baresync::{JoinableQueue, Spin};
use core::hint::black_box;

static JOBS: JoinableQueue<u32, 4, Spin> = JoinableQueue::with_wait();

#[no_mangle]
#[inline(never)]
pub fn probe_joinablequeue_push() -> bool {
    JOBS.push(black_box(7)).is_ok()
}

#[no_mangle]
#[inline(never)]
pub fn probe_joinablequeue_pop() -> Option<u32> {
    JOBS.pop()
}

#[no_mangle]
#[inline(never)]
pub fn probe_joinablequeue_task_done() -> bool {
    JOBS.task_done().is_ok()
}

#[no_mangle]
#[inline(never)]
pub fn probe_joinablequeue_join_until() -> bool {
    !JOBS.join_until(poll_budget(100)).timed_out()
}

/// Calls every joinable-queue probe.
pub fn run() {
    black_box(probe_joinablequeue_push());
    black_box(probe_joinablequeue_pop());
    black_box(probe_joinablequeue_task_done());
    black_box(probe_joinablequeue_join_until());
}
