//! Starvation: with an unfair lock one worker can take nearly every turn; a fair lock gives
//! each worker its share.
//!
//! Four workers each loop: take the lock, count one turn for themselves, hold it a moment,
//! release it, and at once ask again. With `SpinLock` (test-and-test-and-set, unfair) the
//! worker that just released the lock finds it free again before the waiters notice, so it
//! often wins again: the per-worker counts are lopsided, and on a busy machine some worker may
//! get almost nothing. `FairLock` bounds how often a queued waiter can be bypassed, so the
//! counts come out close to even. Counts are printed for both; the fair lock's are asserted
//! (every worker gets at least a tenth of the largest share).
//!
//! Run: `cargo run --release --example starvation`

use baresync::{FairLock, Lock, RawLock, SpinLock};
use std::sync::atomic::{AtomicBool, Ordering::Relaxed};
use std::thread;
use std::time::Duration;

const WORKERS: usize = 4;

fn run<R: RawLock + Send + Sync>(name: &str, lock: &Lock<R, [u64; WORKERS]>) -> [u64; WORKERS] {
    let stop = AtomicBool::new(false);
    thread::scope(|s| {
        for me in 0..WORKERS {
            let stop = &stop;
            s.spawn(move || {
                while !stop.load(Relaxed) {
                    let mut turns = lock.lock();
                    turns[me] += 1;
                    // A short critical section, as real work would have.
                    for _ in 0..50 {
                        std::hint::spin_loop();
                    }
                    drop(turns);
                }
            });
        }
        thread::sleep(Duration::from_millis(500));
        stop.store(true, Relaxed);
    });
    let turns = *lock.lock();
    let total: u64 = turns.iter().sum();
    let shares: Vec<String> = turns
        .iter()
        .map(|&t| format!("{:5.1}%", 100.0 * t as f64 / total.max(1) as f64))
        .collect();
    println!(
        "{name:9} turns per worker {turns:?}  shares [{}]",
        shares.join(" ")
    );
    turns
}

fn main() {
    let unfair = run("SpinLock", &SpinLock::new([0; WORKERS]));
    let fair = run("FairLock", &FairLock::new([0; WORKERS]));

    let spread = |t: &[u64; WORKERS]| {
        let (min, max) = (*t.iter().min().unwrap(), *t.iter().max().unwrap());
        (min, max)
    };
    let (umin, umax) = spread(&unfair);
    let (fmin, fmax) = spread(&fair);
    println!("SpinLock: the least served worker got {umin} turns, the most served {umax}");
    println!("FairLock: the least served worker got {fmin} turns, the most served {fmax}");
    assert!(
        fmin * 10 >= fmax,
        "FairLock must give every worker a share: {fair:?}"
    );
}
