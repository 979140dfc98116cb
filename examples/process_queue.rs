//! Producers and consumers in separate processes, through a `JoinableQueue` in shared memory;
//! the queue's size and emptiness printed as the lab prints `qsize()` and `empty()`.
//!
//! `cargo run --example process_queue` (Linux).

#[cfg(target_os = "linux")]
#[path = "process_support/mod.rs"]
mod process_support;

#[cfg(target_os = "linux")]
fn main() {
    use baresync::shared::Shareable;
    use baresync::sync::atomic::{AtomicU64, Ordering::SeqCst};
    use baresync::{JoinableQueue, SharedFutex};
    use process_support::{Mapping, Process};

    const PER_PRODUCER: u64 = 50;

    #[repr(C)]
    struct Arena {
        queue: JoinableQueue<u64, 8, SharedFutex>,
        /// Sum of everything consumed, and how many items.
        sum: AtomicU64,
        count: AtomicU64,
    }
    // SAFETY: `repr(C)`, shareable fields, zero = new.
    unsafe impl Shareable for Arena {}

    let map = Mapping::new(8192);
    let a: &Arena = map.arena();
    println!("qsize {} empty {}", a.queue.len(), a.queue.is_empty());

    let mut consumers: Vec<Process> = (0..2)
        .map(|c| {
            Process::start(&format!("consumer-{c}"), || {
                // `get` returns Err once the queue is closed and drained.
                while let Ok(item) = a.queue.get() {
                    a.sum.fetch_add(item, SeqCst);
                    a.count.fetch_add(1, SeqCst);
                    a.queue.task_done().unwrap();
                }
            })
        })
        .collect();
    let mut producers: Vec<Process> = (0..2)
        .map(|p| {
            Process::start(&format!("producer-{p}"), move || {
                for i in 0..PER_PRODUCER {
                    a.queue.put(p * 1000 + i).unwrap();
                }
                println!("producer-{p} done, qsize now {}", a.queue.len());
            })
        })
        .collect();
    for p in &mut producers {
        assert_eq!(p.join(), 0);
    }
    a.queue.join(); // every item put has been task_done
    println!(
        "after join: qsize {} empty {}",
        a.queue.len(),
        a.queue.is_empty()
    );
    a.queue.close();
    for c in &mut consumers {
        assert_eq!(c.join(), 0);
    }
    let expect: u64 = (0..2)
        .map(|p| (0..PER_PRODUCER).map(|i| p * 1000 + i).sum::<u64>())
        .sum();
    println!(
        "consumed {} items, sum {}",
        a.count.load(SeqCst),
        a.sum.load(SeqCst)
    );
    assert_eq!(a.count.load(SeqCst), 2 * PER_PRODUCER);
    assert_eq!(a.sum.load(SeqCst), expect);
    assert!(a.queue.is_empty());
}

#[cfg(not(target_os = "linux"))]
fn main() {}
