//! A worker pool mapping `x -> x * x` over `0..100` through two queues, results in order.
//!
//! Each worker is pinned to a core with `core_affinity` when the platform allows it (and runs
//! unpinned otherwise). Jobs carry their index, so the results, which arrive in whatever order
//! the workers finish, are put back in input order: Python's `Pool.map`.
//!
//! Run: `cargo run --example pool_map`

use baresync::{Queue, Yield};
use std::thread;

const INPUTS: usize = 100;

/// Work to do: (index, value). `Yield`: the workers may outnumber the free cores.
static TASKS: Queue<(usize, u64), 16, Yield> = Queue::with_wait();
/// Finished work: (index, result, worker).
static RESULTS: Queue<(usize, u64, usize), 16, Yield> = Queue::with_wait();

fn pool_map(inputs: &[u64], workers: usize) -> (Vec<u64>, Vec<usize>) {
    let cores = core_affinity::get_core_ids().unwrap_or_default();
    thread::scope(|s| {
        for w in 0..workers {
            let core = cores.get(w % cores.len().max(1)).copied();
            s.spawn(move || {
                let pinned = core.is_some_and(core_affinity::set_for_current);
                if !pinned {
                    eprintln!("worker {w}: not pinned (no core ids on this platform)");
                }
                while let Ok((i, x)) = TASKS.get() {
                    RESULTS.put((i, x * x, w)).expect("results stay open");
                }
            });
        }
        // Feed and collect at once: both queues are small, so the feeder must not wait for
        // room while results pile up. A separate thread feeds.
        s.spawn(|| {
            for (i, &x) in inputs.iter().enumerate() {
                TASKS
                    .put((i, x))
                    .expect("tasks stay open until all are fed");
            }
            TASKS.close(); // workers stop once the tasks are drained
        });
        let mut out = vec![None; inputs.len()];
        let mut by_worker = vec![0; workers];
        for _ in 0..inputs.len() {
            let (i, y, w) = RESULTS.get().expect("results stay open");
            assert!(out[i].replace(y).is_none(), "result {i} twice");
            by_worker[w] += 1;
        }
        (
            out.into_iter().map(|y| y.expect("every result")).collect(),
            by_worker,
        )
    })
}

fn main() {
    let workers = core_affinity::get_core_ids().map_or(2, |c| c.len()).max(2);
    let inputs: Vec<u64> = (0..INPUTS as u64).collect();
    let (squares, by_worker) = pool_map(&inputs, workers);
    println!("{workers} workers; results per worker: {by_worker:?}");
    println!("first ten: {:?}", &squares[..10]);
    println!("last: {}", squares[INPUTS - 1]);
    assert_eq!(squares, inputs.iter().map(|x| x * x).collect::<Vec<_>>());
    assert_eq!(by_worker.iter().sum::<usize>(), INPUTS);
    println!("ok: {INPUTS} squares, in input order");
}
