//! Semaphore benches, next to a `SpinLock` as the reference point, in one run.
//!
//! - `acquire_release/IMPL/1`: one thread, uncontended `acquire` + permit drop (and
//!   `lock_unlock/baresync::SpinLock/1`, the target: a semaphore should cost at most 1.2× a
//!   spin lock's lock + unlock).
//! - `contended_acquire_release/IMPL permits=P/T`: T threads, pinned round-robin to the cores,
//!   each taking a permit, touching a shared counter and releasing; the time is per
//!   acquisition (lower is better).
//!
//! Run: `cargo bench --bench semaphore`. Numbers for the docs come from `host-runner bench`.

// criterion_group! generates an undocumented public function.
#![allow(missing_docs)]

mod common;

use baresync::{BoundedSemaphore, CachePadded, Futex, Semaphore, Spin, SpinLock, Wait, Yield};
use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion};
use std::hint::black_box;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::time::Duration;

/// Something that admits a thread and lets it go again.
trait Gate: Send + Sync + 'static {
    const NAME: &'static str;
    fn create(permits: u32) -> Self;
    fn pass(&self, work: &AtomicU64);
}

impl<W: Wait + Send + Sync + 'static> Gate for Semaphore<W> {
    const NAME: &'static str = "baresync::Semaphore";
    fn create(permits: u32) -> Self {
        Semaphore::with_wait(permits)
    }
    #[inline]
    fn pass(&self, work: &AtomicU64) {
        let _permit = self.acquire();
        work.fetch_add(1, Relaxed);
    }
}

impl<W: Wait + Send + Sync + 'static> Gate for BoundedSemaphore<W> {
    const NAME: &'static str = "baresync::BoundedSemaphore";
    fn create(permits: u32) -> Self {
        BoundedSemaphore::with_wait(permits)
    }
    #[inline]
    fn pass(&self, work: &AtomicU64) {
        let _permit = self.acquire();
        work.fetch_add(1, Relaxed);
    }
}

impl Gate for SpinLock<()> {
    const NAME: &'static str = "baresync::SpinLock";
    fn create(_permits: u32) -> Self {
        SpinLock::new(())
    }
    #[inline]
    fn pass(&self, work: &AtomicU64) {
        let _guard = self.lock();
        work.fetch_add(1, Relaxed);
    }
}

fn name<G: Gate, W>() -> String {
    let backend = std::any::type_name::<W>()
        .rsplit("::")
        .next()
        .unwrap_or("?");
    if G::NAME.ends_with("SpinLock") {
        G::NAME.to_string()
    } else {
        format!("{}<{backend}>", G::NAME)
    }
}

/// Uncontended: `acquire` + drop (or `lock` + drop) and nothing else.
fn uncontended(c: &mut Criterion) {
    let spin_lock = SpinLock::new(());
    c.bench_function("lock_unlock/baresync::SpinLock/1", |b| {
        b.iter(|| drop(black_box(&spin_lock).lock()))
    });
    let sem: Semaphore<Spin> = Semaphore::with_wait(1);
    c.bench_function("acquire_release/baresync::Semaphore<Spin>/1", |b| {
        b.iter(|| drop(black_box(&sem).acquire()))
    });
    let sem: Semaphore<Futex> = Semaphore::with_wait(1);
    c.bench_function("acquire_release/baresync::Semaphore<Futex>/1", |b| {
        b.iter(|| drop(black_box(&sem).acquire()))
    });
    let sem: BoundedSemaphore<Spin> = BoundedSemaphore::with_wait(1);
    c.bench_function("acquire_release/baresync::BoundedSemaphore<Spin>/1", |b| {
        b.iter(|| drop(black_box(&sem).acquire()))
    });
}

/// `threads` pinned threads share `iters` passes through the gate; the wall time of the run.
fn contended_run<G: Gate>(permits: u32, threads: usize, iters: u64) -> Duration {
    let shared = (G::create(permits), CachePadded::new(AtomicU64::new(0)));
    common::pinned_share(
        threads,
        iters,
        shared,
        |(gate, work): &(G, CachePadded<AtomicU64>)| gate.pass(work),
    )
}

fn contended<G: Gate, W>(c: &mut Criterion, permits: u32, threads: usize) {
    let mut group = c.benchmark_group("contended_acquire_release");
    let id = BenchmarkId::new(format!("{} permits={permits}", name::<G, W>()), threads);
    group.bench_with_input(id, &threads, |b, &t| {
        b.iter_custom(|iters| contended_run::<G>(permits, t, iters))
    });
    group.finish();
}

fn contended_all(c: &mut Criterion) {
    for threads in [2, 4] {
        contended::<SpinLock<()>, ()>(c, 1, threads);
        for permits in [1, 2] {
            contended::<Semaphore<Spin>, Spin>(c, permits, threads);
            contended::<Semaphore<Yield>, Yield>(c, permits, threads);
            contended::<Semaphore<Futex>, Futex>(c, permits, threads);
        }
    }
}

criterion_group! {
    name = semaphore;
    config = Criterion::default()
        .sample_size(20)
        .warm_up_time(Duration::from_millis(300))
        .measurement_time(Duration::from_secs(1));
    targets = uncontended, contended_all
}
criterion_main!(semaphore);
