//! The classic race: threads increment a shared counter without a lock and lose updates; the
//! same under a `SpinLock` loses none.
//!
//! The unsynchronized counter is an `AtomicU64` read and written with two separate `Relaxed`
//! operations (load, then store): no undefined behaviour, but the read-modify-write is not
//! atomic, so two threads that interleave between the load and the store overwrite each
//! other's increment, exactly as `counter += 1` on a plain integer would in C.
//!
//! Run: `cargo run --example race`

use baresync::SpinLock;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::thread;

const THREADS: u64 = 4;
const PER_THREAD: u64 = 1_000_000;

static RACY: AtomicU64 = AtomicU64::new(0);
static LOCKED: SpinLock<u64> = SpinLock::new(0);

fn main() {
    let expected = THREADS * PER_THREAD;

    thread::scope(|s| {
        for _ in 0..THREADS {
            s.spawn(|| {
                for _ in 0..PER_THREAD {
                    // Load, then store: another thread's increment in between is lost.
                    let v = RACY.load(Relaxed);
                    RACY.store(v + 1, Relaxed);
                }
            });
        }
    });
    let racy = RACY.load(Relaxed);
    println!(
        "without a lock: {racy:>9} of {expected} ({} updates lost)",
        expected - racy
    );

    thread::scope(|s| {
        for _ in 0..THREADS {
            s.spawn(|| {
                for _ in 0..PER_THREAD {
                    *LOCKED.lock() += 1;
                }
            });
        }
    });
    let locked = *LOCKED.lock();
    println!("with SpinLock:   {locked:>9} of {expected} (0 updates lost)");

    assert_eq!(locked, expected, "the lock must not lose an update");
    if racy == expected {
        // Possible on a single core, or with lucky scheduling: report, do not fail.
        println!("(this run lost no update without the lock: the race is real but was not hit)");
    }
}
