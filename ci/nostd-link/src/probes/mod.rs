//! One module per primitive family. Each defines its `static`s and one probe function per
//! operation (`probe_<type>_<operation>`, `#[no_mangle]`, `#[inline(never)]`), and a `run`
//! that calls them all so none is dropped by the linker.

mod condvar;
mod event;
mod irq_safe;
mod joinable;
mod locks;
mod once;
mod queue;
mod reentrant;
mod rwlock;
mod semaphore;
mod shared;

/// Calls every probe once.
pub fn run_all() {
    locks::run();
    irq_safe::run();
    reentrant::run();
    rwlock::run();
    semaphore::run();
    event::run();
    condvar::run();
    queue::run();
    joinable::run();
    once::run();
    shared::run();
}

/// A deadline for `*_until` probes: gives up after `polls` polls, as firmware without a clock
/// would bound a wait. `black_box` keeps the budget opaque so the wait loop is not folded away.
pub fn poll_budget(polls: u32) -> impl FnMut() -> bool {
    let limit = core::hint::black_box(polls);
    let mut used = 0u32;
    move || {
        used += 1;
        used > limit
    }
}
