//! A `Barrier` across processes, with and without it: without, a fast process may read the
//! shared results before a slow one has written its part; with it, every process writes its
//! part before any reads.
//!
//! `cargo run --example process_barrier` (Linux).

#[cfg(target_os = "linux")]
#[path = "process_support/mod.rs"]
mod process_support;

#[cfg(target_os = "linux")]
fn main() {
    use baresync::shared::{self, Shareable};
    use baresync::sync::atomic::{AtomicU32, Ordering::SeqCst};
    use baresync::{Barrier, SharedFutex};
    use process_support::{Mapping, Process};
    use std::time::Duration;

    const N: usize = 3;

    #[repr(C)]
    struct Arena {
        barrier: Barrier<SharedFutex>,
        /// Phase 1 results, one per process.
        parts: [AtomicU32; N],
        /// How many processes saw every part written when they read (phase 2).
        complete_reads: AtomicU32,
    }
    // SAFETY: `repr(C)`, shareable fields; the barrier is written by `shared::create` below.
    unsafe impl Shareable for Arena {}

    fn run(use_barrier: bool) -> u32 {
        let map = Mapping::new(4096);
        let a: &Arena = map.arena();
        // The attach protocol: a barrier's party count is written before the fork.
        // SAFETY: the barrier is the arena's first field (offset 0, aligned); nobody else
        // uses the mapping yet.
        let _: &Barrier<SharedFutex> =
            unsafe { shared::create(&a.barrier as *const _ as *mut u8, Barrier::with_wait(N)) };
        let mut procs: Vec<Process> = (0..N)
            .map(|i| {
                Process::start(&format!("p{i}"), move || {
                    // The last process is slow to produce its part.
                    std::thread::sleep(Duration::from_millis(if i == N - 1 { 200 } else { 0 }));
                    a.parts[i].store(i as u32 + 1, SeqCst);
                    if use_barrier {
                        a.barrier.wait().unwrap();
                    }
                    if a.parts.iter().all(|p| p.load(SeqCst) != 0) {
                        a.complete_reads.fetch_add(1, SeqCst);
                    }
                })
            })
            .collect();
        for p in &mut procs {
            assert_eq!(p.join(), 0);
        }
        a.complete_reads.load(SeqCst)
    }

    let without = run(false);
    println!("without a barrier: {without} of {N} processes saw every part");
    let with = run(true);
    println!("with a barrier:    {with} of {N} processes saw every part");
    // With the barrier every read follows every write: always all of them.
    assert_eq!(with, N as u32);
    // Without it the slow process's part is (usually) missing for the others: at least the
    // slow process itself sees everything, and the barrier can only add readers.
    assert!(without >= 1 && without <= with);
}

#[cfg(not(target_os = "linux"))]
fn main() {}
