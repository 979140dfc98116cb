//! Barrier benches: baresync's barrier next to std's and spin's, in one run.
//!
//! - `round/IMPL/2`: two threads, pinned to two cores, go through the barrier again and
//!   again; the time is per round (one generation: both threads arrive and leave). Lower is
//!   better. This is the *polled* case (both arrive within baresync's polling budget);
//!   `host-runner bench` also measures the *asleep* case and the CPU time per round.
//!
//! Run: `cargo bench --bench barrier`. Numbers for the docs come from `host-runner bench`.

// criterion_group! generates an undocumented public function.
#![allow(missing_docs)]

mod common;

use baresync::{Futex, Spin};
use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// A barrier, whatever crate it comes from.
trait BenchBarrier: Send + Sync + 'static {
    const NAME: &'static str;
    fn create(parties: usize) -> Self;
    fn wait(&self);
}

impl BenchBarrier for baresync::Barrier<Spin> {
    const NAME: &'static str = "baresync::Barrier<Spin>";
    fn create(parties: usize) -> Self {
        Self::with_wait(parties)
    }
    #[inline]
    fn wait(&self) {
        baresync::Barrier::wait(self).unwrap();
    }
}

impl BenchBarrier for baresync::Barrier<Futex> {
    const NAME: &'static str = "baresync::Barrier<Futex>";
    fn create(parties: usize) -> Self {
        Self::new(parties)
    }
    #[inline]
    fn wait(&self) {
        baresync::Barrier::wait(self).unwrap();
    }
}

impl BenchBarrier for spin::Barrier {
    const NAME: &'static str = "spin::Barrier";
    fn create(parties: usize) -> Self {
        Self::new(parties)
    }
    #[inline]
    fn wait(&self) {
        spin::Barrier::wait(self);
    }
}

impl BenchBarrier for std::sync::Barrier {
    const NAME: &'static str = "std::sync::Barrier";
    fn create(parties: usize) -> Self {
        Self::new(parties)
    }
    #[inline]
    fn wait(&self) {
        std::sync::Barrier::wait(self);
    }
}

/// `threads` pinned threads go through `iters` rounds; returns the wall time of the rounds.
fn rounds<B: BenchBarrier>(threads: usize, iters: u64) -> Duration {
    let cores = common::cores();
    let barrier = Arc::new(baresync::CachePadded::new(B::create(threads)));
    let start = Arc::new(std::sync::Barrier::new(threads));
    let others: Vec<_> = (1..threads)
        .map(|i| {
            let (barrier, start) = (Arc::clone(&barrier), Arc::clone(&start));
            let core = cores.get(i % cores.len().max(1)).copied();
            std::thread::spawn(move || {
                if let Some(core) = core {
                    core_affinity::set_for_current(core);
                }
                start.wait();
                for _ in 0..iters {
                    barrier.wait();
                }
            })
        })
        .collect();
    if let Some(&core) = cores.first() {
        core_affinity::set_for_current(core);
    }
    start.wait();
    let t0 = Instant::now();
    for _ in 0..iters {
        barrier.wait();
    }
    let elapsed = t0.elapsed();
    for o in others {
        o.join().unwrap();
    }
    elapsed
}

fn round<B: BenchBarrier>(c: &mut Criterion, threads: usize) {
    let mut group = c.benchmark_group("round");
    group.bench_with_input(BenchmarkId::new(B::NAME, threads), &threads, |b, &t| {
        b.iter_custom(|iters| rounds::<B>(t, iters))
    });
    group.finish();
}

fn benches(c: &mut Criterion) {
    round::<baresync::Barrier<Spin>>(c, 2);
    round::<spin::Barrier>(c, 2);
    round::<baresync::Barrier<Futex>>(c, 2);
    round::<std::sync::Barrier>(c, 2);
}

criterion_group! {
    name = barrier;
    config = Criterion::default()
        .sample_size(20)
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(2));
    targets = benches
}
criterion_main!(barrier);
