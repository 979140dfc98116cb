//! At most K concurrent "downloads": a `Semaphore` with K permits guards a pool of workers.
//!
//! Twelve jobs, five worker threads, three permits. Each download holds a permit (RAII: it is
//! given back when the `Permit` drops, even if the download panics). An occupancy counter
//! checks the property: never more than three downloads at once.
//!
//! Run: `cargo run --example semaphore_pool`

use baresync::{Futex, Semaphore};
use std::sync::atomic::{AtomicU32, Ordering::SeqCst};
use std::thread;
use std::time::{Duration, Instant};

/// How many downloads may run at once.
const K: u32 = 3;
const WORKERS: u32 = 5;
const JOBS_PER_WORKER: u32 = 4;

/// Threads outnumber the permits and may outnumber the cores: waiters sleep (`Futex`).
static DOWNLOAD_SLOTS: Semaphore<Futex> = Semaphore::with_wait(K);
static ACTIVE: AtomicU32 = AtomicU32::new(0);
static PEAK: AtomicU32 = AtomicU32::new(0);

fn download(worker: u32, job: u32) {
    let _permit = DOWNLOAD_SLOTS.acquire();
    let now = ACTIVE.fetch_add(1, SeqCst) + 1;
    PEAK.fetch_max(now, SeqCst);
    assert!(now <= K, "{now} downloads at once, the limit is {K}");
    println!("worker {worker} downloads file {job:>2}   ({now} of {K} slots busy)");
    thread::sleep(Duration::from_millis(20));
    ACTIVE.fetch_sub(1, SeqCst);
    // `_permit` drops here: the slot is free for the next download.
}

fn main() {
    let start = Instant::now();
    let workers: Vec<_> = (0..WORKERS)
        .map(|w| {
            thread::spawn(move || {
                for j in 0..JOBS_PER_WORKER {
                    download(w, w * JOBS_PER_WORKER + j);
                }
            })
        })
        .collect();
    for w in workers {
        w.join().expect("a worker panicked");
    }
    let peak = PEAK.load(SeqCst);
    println!(
        "{} downloads in {:?}; at most {peak} at once (limit {K})",
        WORKERS * JOBS_PER_WORKER,
        start.elapsed()
    );
    assert!(peak <= K);
    assert_eq!(DOWNLOAD_SLOTS.available(), K, "every permit came back");
}
