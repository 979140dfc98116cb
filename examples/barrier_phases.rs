//! Python's Barrier exercise: workers compute in phases; no worker starts phase k + 1 before
//! every worker finished phase k. The leader of each phase (one per generation) prints it.
//!
//! Run: `cargo run --example barrier_phases`

use baresync::{Barrier, Futex};
use std::sync::atomic::{AtomicUsize, Ordering::Relaxed};
use std::thread;

const WORKERS: usize = 4;
const PHASES: usize = 5;

static BARRIER: Barrier<Futex> = Barrier::with_wait(WORKERS);
/// How many workers finished each phase.
static DONE: [AtomicUsize; PHASES] = [const { AtomicUsize::new(0) }; PHASES];
static LEADERS: AtomicUsize = AtomicUsize::new(0);

fn main() {
    thread::scope(|s| {
        for w in 0..WORKERS {
            s.spawn(move || {
                for (phase, done) in DONE.iter().enumerate() {
                    // "Work": a little spinning, longer for higher-numbered workers.
                    for _ in 0..(w + 1) * 10_000 {
                        std::hint::spin_loop();
                    }
                    done.fetch_add(1, Relaxed);
                    let r = BARRIER.wait().expect("nobody breaks the barrier");
                    // The barrier orders every worker's phase before everyone's next one.
                    assert_eq!(done.load(Relaxed), WORKERS);
                    if r.is_leader() {
                        LEADERS.fetch_add(1, Relaxed);
                        println!("phase {phase}: all {WORKERS} workers done (leader: worker {w})");
                    }
                }
            });
        }
    });
    assert_eq!(LEADERS.load(Relaxed), PHASES, "one leader per phase");

    // Timeouts break the barrier for everyone (Python's rule).
    let lonely: Barrier<Futex> = Barrier::with_wait(2);
    let r = lonely.wait_timeout(std::time::Duration::from_millis(10));
    println!(
        "waiting alone with a timeout: {r:?}; broken: {}",
        lonely.is_broken()
    );
    assert!(lonely.is_broken());
    println!("ok: {PHASES} phases in lockstep, one leader each");
}
