//! What the fault-injection tests (`tests/fault_*.rs`) share: a deadline that panics on a
//! chosen call, and a `Wait` backend that keeps the contract but is slow.
#![allow(dead_code)] // each test file uses its own part

/// A deadline that never expires and panics on its `k`-th call (1: the first).
pub fn panics_on_call(k: u32) -> impl FnMut() -> bool {
    let mut calls = 0;
    move || {
        calls += 1;
        if calls == k {
            panic!("injected");
        }
        false
    }
}

/// A `Wait` that keeps the contract but is slow: it sleeps 1 ms before each wait through
/// `Futex`, so that many things happen while a waiter is inside it (a slow scheduler).
#[cfg(feature = "std")]
pub struct SlowWait;

#[cfg(feature = "std")]
// SAFETY: only reads the word it is given (or passes its address on); never writes it.
unsafe impl baresync::Wait for SlowWait {
    fn wait(atomic: &baresync::sync::atomic::AtomicU32, expected: u32) {
        std::thread::sleep(std::time::Duration::from_millis(1));
        <baresync::Futex as baresync::Wait>::wait(atomic, expected);
    }
    fn wait_until(
        atomic: &baresync::sync::atomic::AtomicU32,
        expected: u32,
        deadline: &mut impl baresync::Deadline,
    ) -> bool {
        std::thread::sleep(std::time::Duration::from_millis(1));
        <baresync::Futex as baresync::Wait>::wait_until(atomic, expected, deadline)
    }
    fn wake_one(atomic: &baresync::sync::atomic::AtomicU32) {
        <baresync::Futex as baresync::Wait>::wake_one(atomic);
    }
    fn wake_all(atomic: &baresync::sync::atomic::AtomicU32) {
        <baresync::Futex as baresync::Wait>::wake_all(atomic);
    }
}
