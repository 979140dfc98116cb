//! Shared by the criterion benches (each bench file includes it with `mod common;`; not every
//! bench uses every helper).
#![allow(dead_code)]

use baresync::CachePadded;
use std::sync::{Arc, Barrier, OnceLock};
use std::time::{Duration, Instant};

/// The cores this process may run on, read once. `core_affinity::get_core_ids` reads the
/// calling thread's affinity, which is a single core once a bench has pinned its main thread:
/// reading it afresh after that would put every later thread on that one core.
pub fn cores() -> &'static [core_affinity::CoreId] {
    static CORES: OnceLock<Vec<core_affinity::CoreId>> = OnceLock::new();
    CORES.get_or_init(|| core_affinity::get_core_ids().unwrap_or_default())
}

/// `threads` threads, pinned round-robin to the cores, share `iters` calls of `op` on
/// `shared` (cache-line aligned); returns the wall time from their common start until the
/// last one ends.
pub fn pinned_share<T: Send + Sync + 'static>(
    threads: usize,
    iters: u64,
    shared: T,
    op: impl Fn(&T) + Copy + Send + 'static,
) -> Duration {
    let cores = cores();
    let shared = Arc::new(CachePadded::new(shared));
    let start = Arc::new(Barrier::new(threads + 1));
    let per_thread = iters.div_ceil(threads as u64);
    let handles: Vec<_> = (0..threads)
        .map(|i| {
            let (shared, start) = (Arc::clone(&shared), Arc::clone(&start));
            let core = cores.get(i % cores.len().max(1)).copied();
            std::thread::spawn(move || {
                if let Some(core) = core {
                    core_affinity::set_for_current(core);
                }
                start.wait();
                for _ in 0..per_thread {
                    op(&shared);
                }
            })
        })
        .collect();
    start.wait();
    let t0 = Instant::now();
    for h in handles {
        h.join().unwrap();
    }
    t0.elapsed()
}
