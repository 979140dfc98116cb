//! A process pool mapping squares over `0..100`, results in order (Python's
//! `Pool(4).map(square, range(100))`): worker processes take indices from a shared queue and
//! write each result into its own slot, so the order is the input's whatever the timing.
//!
//! `cargo run --example process_pool_map` (Linux).

#[cfg(target_os = "linux")]
#[path = "process_support/mod.rs"]
mod process_support;

#[cfg(target_os = "linux")]
fn main() {
    use baresync::shared::Shareable;
    use baresync::sync::atomic::{AtomicU32, Ordering::SeqCst};
    use baresync::{Queue, SharedFutex};
    use process_support::{Mapping, Process};

    const N: usize = 100;
    const WORKERS: usize = 4;

    #[repr(C)]
    struct Arena {
        tasks: Queue<u32, 16, SharedFutex>,
        /// `results[i]` = square of `i`, plus 1 (0: not computed yet).
        results: [AtomicU32; N],
        /// Which worker computed each (to show the work was spread).
        by: [AtomicU32; N],
    }
    // SAFETY: `repr(C)`, shareable fields, zero = new.
    unsafe impl Shareable for Arena {}

    fn square(x: u32) -> u32 {
        x * x
    }

    let map = Mapping::new(8192);
    let a: &Arena = map.arena();
    let mut pool: Vec<Process> = (0..WORKERS)
        .map(|w| {
            Process::start(&format!("pool-{w}"), move || {
                while let Ok(i) = a.tasks.get() {
                    a.results[i as usize].store(square(i) + 1, SeqCst);
                    a.by[i as usize].store(w as u32 + 1, SeqCst);
                }
            })
        })
        .collect();
    for i in 0..N as u32 {
        a.tasks.put(i).unwrap();
    }
    a.tasks.close(); // workers leave once it is drained
    for p in &mut pool {
        assert_eq!(p.join(), 0);
    }
    let results: Vec<u32> = a.results.iter().map(|r| r.load(SeqCst) - 1).collect();
    println!("{results:?}");
    let expected: Vec<u32> = (0..N as u32).map(square).collect();
    assert_eq!(results, expected, "squares of 0..100, in order");
    let used: std::collections::BTreeSet<u32> = a.by.iter().map(|b| b.load(SeqCst)).collect();
    println!("computed by {} worker processes", used.len());
    assert!(used.iter().all(|&w| (1..=WORKERS as u32).contains(&w)));
}

#[cfg(not(target_os = "linux"))]
fn main() {}
