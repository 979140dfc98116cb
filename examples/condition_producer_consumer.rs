//! Python's Condition exercise: a bounded buffer. Producers wait while it is full, consumers
//! while it is empty; each side notifies the other.
//!
//! Run: `cargo run --example condition_producer_consumer`

use baresync::{Condvar, Futex, Mutex};
use std::collections::VecDeque;
use std::thread;

const CAPACITY: usize = 5;
const PRODUCERS: usize = 3;
const CONSUMERS: usize = 2;
const PER_PRODUCER: u64 = 10_000;

static BUFFER: Mutex<VecDeque<Option<u64>>, Futex> = Mutex::with_wait(VecDeque::new());
static NOT_EMPTY: Condvar<Futex> = Condvar::with_wait();
static NOT_FULL: Condvar<Futex> = Condvar::with_wait();

fn put(item: Option<u64>) {
    let mut buf = NOT_FULL.wait_while(BUFFER.lock(), |b| b.len() == CAPACITY);
    buf.push_back(item);
    assert!(buf.len() <= CAPACITY);
    drop(buf);
    NOT_EMPTY.notify_one();
}

fn get() -> Option<u64> {
    let mut buf = NOT_EMPTY.wait_while(BUFFER.lock(), |b| b.is_empty());
    let item = buf.pop_front().expect("not empty");
    drop(buf);
    NOT_FULL.notify_one();
    item
}

fn main() {
    let (sums, counts): (Vec<u64>, Vec<u64>) = thread::scope(|s| {
        let consumers: Vec<_> = (0..CONSUMERS)
            .map(|_| {
                s.spawn(|| {
                    let (mut sum, mut count) = (0, 0);
                    // `None` is the stop marker, one per consumer.
                    while let Some(v) = get() {
                        sum += v;
                        count += 1;
                    }
                    (sum, count)
                })
            })
            .collect();
        let producers: Vec<_> = (0..PRODUCERS as u64)
            .map(|p| {
                s.spawn(move || {
                    for i in 0..PER_PRODUCER {
                        put(Some(p * PER_PRODUCER + i));
                    }
                })
            })
            .collect();
        for p in producers {
            p.join().unwrap();
        }
        for _ in 0..CONSUMERS {
            put(None);
        }
        consumers.into_iter().map(|c| c.join().unwrap()).unzip()
    });
    let n = PRODUCERS as u64 * PER_PRODUCER;
    let (sum, count): (u64, u64) = (sums.iter().sum(), counts.iter().sum());
    for (i, c) in counts.iter().enumerate() {
        println!("consumer {i} took {c} items");
    }
    println!("{count} items through a buffer of {CAPACITY}, sum {sum}");
    assert_eq!(count, n, "items lost or duplicated");
    assert_eq!(sum, n * (n - 1) / 2, "items lost or duplicated");
    println!("ok: every item delivered exactly once");
}
