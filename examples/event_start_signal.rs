//! Workers wait for a start signal: an `Event` set once by the main thread releases them all.
//!
//! The main thread spawns the workers, prepares the shared input, then `set`s the event. No
//! worker may start before the signal (each checks that the input is ready when released),
//! and every worker must be released. The event is cleared at once after `set`: workers that
//! were already waiting are still released (the event counts generations, it is not just a
//! flag), which the example checks too.
//!
//! Run: `cargo run --example event_start_signal`

use baresync::{Event, Futex};
use std::sync::atomic::{AtomicU32, AtomicU64, Ordering::Relaxed, Ordering::SeqCst};
use std::thread;
use std::time::{Duration, Instant};

const WORKERS: u32 = 6;

static START: Event<Futex> = Event::with_wait();
static WAITING: AtomicU32 = AtomicU32::new(0);
static INPUT: AtomicU64 = AtomicU64::new(0);

fn main() {
    let t0 = Instant::now();
    let workers: Vec<_> = (0..WORKERS)
        .map(|id| {
            thread::spawn(move || {
                WAITING.fetch_add(1, SeqCst);
                START.wait();
                // Relaxed is enough: `wait` returning synchronizes with the `set`, which came
                // after the input was written.
                let input = INPUT.load(Relaxed);
                assert_eq!(
                    input, 1_000,
                    "worker {id} started before the input was ready"
                );
                let result = input * u64::from(id + 1);
                println!(
                    "worker {id} started {:>6.1?} after launch, result {result}",
                    t0.elapsed()
                );
                result
            })
        })
        .collect();

    // Let every worker reach `wait` (a real program would not need to; here it makes the
    // set-then-clear below meaningful).
    while WAITING.load(SeqCst) < WORKERS {
        thread::yield_now();
    }
    thread::sleep(Duration::from_millis(50));
    println!("{WORKERS} workers waiting; preparing input, then the start signal");
    INPUT.store(1_000, Relaxed);
    START.set();
    START.clear(); // already-waiting workers are released anyway

    let total: u64 = workers
        .into_iter()
        .map(|w| w.join().expect("a worker panicked"))
        .sum();
    let expected: u64 = (1..=u64::from(WORKERS)).map(|k| 1_000 * k).sum();
    println!("all {WORKERS} workers released; total {total}");
    assert_eq!(total, expected);
    assert!(!START.is_set());
}
