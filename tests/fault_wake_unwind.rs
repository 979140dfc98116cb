//! A `Wait` whose `wake_*` panics while the primitive is already unwinding (red-team S3).
//!
//! Primitives wake sleepers from `Drop`: a guard's unlock, a `Once` initializer's reset. When
//! that `Drop` runs because a panic is unwinding through the critical section or the
//! initializer, a second panic from `wake_*` cannot unwind (Rust aborts on a panic during
//! unwinding, with or without `std`; `no_std` has no `catch_unwind` to stop it either). The
//! project's decision: catch nothing, and make it part of `Wait`'s contract that `wake_*`
//! should not panic; what happens if it does is an **abort** (never undefined behaviour, never
//! a lock left half-released for another thread to trip over: the process is gone). With no
//! unwinding in progress, a panicking wake propagates out of the `Drop` and leaves the
//! primitive as its guards say (`tests/fault_sync.rs`).
//!
//! These tests show the abort: each runs a scenario in a child process (this test binary,
//! re-run on one `#[ignore]`d test with an environment variable) and checks that the child
//! died of `SIGABRT` after both panics. Not under Miri, which cannot spawn processes; the
//! scenario has no unsafe code of its own to check.
#![cfg(all(feature = "std", unix))]

use baresync::sync::atomic::{AtomicU32, Ordering::Relaxed};
use baresync::{Deadline, Mutex, Once, Wait};
use std::os::unix::process::ExitStatusExt;
use std::process::Command;
use std::sync::atomic::AtomicBool;
use std::time::{Duration, Instant};

/// Set once a thread is inside `PanickyWake::wait` (a sleeper is registered).
static SLEEPING: AtomicBool = AtomicBool::new(false);

/// Waits by polling (with yields); every wake panics.
struct PanickyWake;

// SAFETY: only reads the word it is given; never writes it.
unsafe impl Wait for PanickyWake {
    fn wait(atomic: &AtomicU32, expected: u32) {
        SLEEPING.store(true, Relaxed);
        while atomic.load(Relaxed) == expected {
            std::thread::yield_now();
        }
    }
    fn wait_until(atomic: &AtomicU32, expected: u32, deadline: &mut impl Deadline) -> bool {
        SLEEPING.store(true, Relaxed);
        while atomic.load(Relaxed) == expected {
            if deadline.expired() {
                return false;
            }
            std::thread::yield_now();
        }
        true
    }
    fn wake_one(_: &AtomicU32) {
        panic!("wake_one panics");
    }
    fn wake_all(_: &AtomicU32) {
        panic!("wake_all panics");
    }
}

/// Waits (at most seconds) until another thread sleeps in `PanickyWake::wait`.
fn until_a_sleeper() {
    let limit = Instant::now() + Duration::from_secs(20);
    while !SLEEPING.load(Relaxed) {
        assert!(Instant::now() < limit, "the other thread never waited");
        std::thread::yield_now();
    }
}

const CHILD: &str = "BARESYNC_FAULT_WAKE_UNWIND";

/// Runs the child test `name` with scenario `scenario`; returns its status and stderr.
fn run_child(name: &str, scenario: &str) -> (std::process::ExitStatus, String) {
    let out = Command::new(std::env::current_exe().expect("the test binary"))
        .args([
            "--ignored",
            "--exact",
            name,
            "--nocapture",
            "--test-threads=1",
        ])
        .env(CHILD, scenario)
        .output()
        .expect("the test binary runs");
    (
        out.status,
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn assert_aborted(status: std::process::ExitStatus, stderr: &str, wake: &str) {
    assert_eq!(
        status.signal(),
        Some(libc_sigabrt()),
        "the child should abort, got {status}:\n{stderr}"
    );
    assert!(stderr.contains("user code panics"), "{stderr}");
    assert!(stderr.contains(wake), "{stderr}");
}

/// SIGABRT, 6 on every Unix this runs on.
fn libc_sigabrt() -> i32 {
    6
}

#[test]
#[cfg_attr(miri, ignore = "spawns a process")]
fn a_wake_panicking_in_a_guard_dropped_by_unwinding_aborts() {
    let (status, stderr) = run_child("child_scenario", "mutex");
    assert_aborted(status, &stderr, "wake_one panics");
}

#[test]
#[cfg_attr(miri, ignore = "spawns a process")]
fn a_wake_panicking_in_a_once_reset_by_unwinding_aborts() {
    let (status, stderr) = run_child("child_scenario", "once");
    assert_aborted(status, &stderr, "wake_all panics");
}

/// The scenarios, run only in the child (`CHILD` set); returns at once otherwise.
#[test]
#[ignore = "run in a child process by the tests above"]
fn child_scenario() {
    let Ok(scenario) = std::env::var(CHILD) else {
        return;
    };
    match scenario.as_str() {
        // A mutex held while a second thread sleeps on it; the holder's critical section
        // panics; unwinding drops the guard, whose unlock wakes the sleeper: the wake panics.
        "mutex" => {
            static M: Mutex<u32, PanickyWake> = Mutex::with_wait(0);
            let guard = M.lock();
            std::thread::spawn(|| drop(M.lock()));
            until_a_sleeper();
            let _held = guard;
            panic!("user code panics");
        }
        // Red-team S3 as reported: a panicking initializer with a sleeper on the `Once`; the
        // reset on unwind wakes the sleepers: the wake panics.
        "once" => {
            static O: Once<PanickyWake> = Once::with_wait();
            O.call_once(|| {
                std::thread::spawn(|| O.call_once(|| {}));
                until_a_sleeper();
                panic!("user code panics");
            });
        }
        other => panic!("unknown scenario {other}"),
    }
    unreachable!("the scenario aborts");
}
