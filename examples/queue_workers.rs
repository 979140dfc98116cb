//! A producer, three consumers, `task_done`/`join`, then `close` to stop the consumers.
//!
//! The classic `queue.Queue` worker pattern from Python's `threading` docs, with a bounded
//! `JoinableQueue` in a `static`: the producer puts jobs (waiting while the queue is full),
//! each worker marks every job done, `join` returns once all are processed, and `close` ends
//! the workers' `get` loops instead of a sentinel item per worker.
//!
//! Run: `cargo run --example queue_workers`

use baresync::{Futex, JoinableQueue};
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering::Relaxed};
use std::thread;
use std::time::Duration;

/// Jobs are numbers to "process" (sum their squares); room for 8 at a time.
static JOBS: JoinableQueue<u64, 8, Futex> = JoinableQueue::with_wait();
static SUM_OF_SQUARES: AtomicU64 = AtomicU64::new(0);
const JOB_COUNT: u64 = 100;

fn main() {
    let per_worker: Vec<AtomicUsize> = (0..3).map(|_| AtomicUsize::new(0)).collect();
    thread::scope(|s| {
        for (id, done) in per_worker.iter().enumerate() {
            s.spawn(move || {
                // `get` waits while the queue is empty and fails once it is closed and drained.
                while let Ok(job) = JOBS.get() {
                    thread::sleep(Duration::from_micros(200)); // some work
                    SUM_OF_SQUARES.fetch_add(job * job, Relaxed);
                    done.fetch_add(1, Relaxed);
                    JOBS.task_done().expect("one task_done per job");
                }
                println!("worker {id}: queue closed, stopping");
            });
        }

        for job in 1..=JOB_COUNT {
            JOBS.put(job).expect("the queue is open");
        }
        println!("producer: all {JOB_COUNT} jobs queued, joining");
        JOBS.join();
        let sum = SUM_OF_SQUARES.load(Relaxed);
        println!(
            "producer: join returned, {} unfinished, sum of squares {sum}",
            JOBS.unfinished_tasks()
        );
        assert_eq!(sum, (1..=JOB_COUNT).map(|j| j * j).sum::<u64>());
        assert_eq!(JOBS.unfinished_tasks(), 0);
        JOBS.close();
    });

    let counts: Vec<usize> = per_worker.iter().map(|c| c.load(Relaxed)).collect();
    println!("jobs per worker: {counts:?}");
    assert_eq!(counts.iter().sum::<usize>(), JOB_COUNT as usize);
    assert!(JOBS.put(0).is_err(), "closed: put gives the item back");
    assert!(
        JOBS.task_done().is_err(),
        "more task_done calls than jobs is an error"
    );
    println!("ok: every job processed exactly once, join waited for all of them");
}
