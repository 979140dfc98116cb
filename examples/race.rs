//! The classic race: threads increment a shared counter without a lock and lose updates; the
//! same under a `SpinLock` loses none.
//!
//! The unsynchronized counter is an `AtomicU64` read and written with two separate `Relaxed`
//! operations (load, then store): no undefined behaviour, but the read-modify-write is not
//! atomic, so two threads that interleave between the load and the store overwrite each
//! other's increment, exactly as `counter += 1` on a plain integer would in C.
//!
//! The unlocked race is run several times and the number of lost updates is measured each
//! time (it varies with the scheduling), then summarized.
//!
//! Run: `cargo run --release --example race`

use baresync::SpinLock;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::thread;

const THREADS: u64 = 4;
const PER_THREAD: u64 = 1_000_000;

static RACY: AtomicU64 = AtomicU64::new(0);
static LOCKED: SpinLock<u64> = SpinLock::new(0);

/// How many times the unlocked race is run: the number of lost updates varies from run to run.
const ROUNDS: usize = 5;

fn main() {
    let expected = THREADS * PER_THREAD;

    let mut lost = Vec::with_capacity(ROUNDS);
    for round in 1..=ROUNDS {
        RACY.store(0, Relaxed);
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
        lost.push(expected - racy);
        println!(
            "without a lock, run {round}: {racy:>9} of {expected} ({} updates lost, {:.1}%)",
            expected - racy,
            100.0 * (expected - racy) as f64 / expected as f64
        );
    }
    lost.sort_unstable();
    println!(
        "lost updates over {ROUNDS} runs: min {}, median {}, max {}",
        lost[0],
        lost[ROUNDS / 2],
        lost[ROUNDS - 1]
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
    println!(
        "with SpinLock:     {locked:>9} of {expected} ({} updates lost)",
        expected - locked
    );

    assert_eq!(locked, expected, "the lock must not lose an update");
    if lost[ROUNDS - 1] == 0 {
        // Possible on a single core, or with lucky scheduling: report, do not fail.
        println!("(no run lost an update without the lock: the race is real but was not hit)");
    }
}
