//! Reentrant lock benches: baresync's `ReentrantLock` next to parking_lot's `ReentrantMutex`,
//! in one run (std's `ReentrantLock` is not stable).
//!
//! The protected value is a `Cell<u64>`: a reentrant guard gives `&T` only.
//!
//! - `lock_unlock/IMPL/1`: one thread, uncontended lock + increment + unlock from depth 0.
//! - `relock_depth2/IMPL/1`: the same while the thread already holds the lock (an outer guard
//!   kept for the whole measurement): the nested path, the owner check and the count, alone.
//! - `contended_increment/IMPL/2`: two threads, pinned to two cores, each incrementing the
//!   shared counter under the lock; the time is per increment (lower is better).
//!
//! Run: `cargo bench --bench reentrant`. Numbers for the docs come from `host-runner bench`.

// criterion_group! generates an undocumented public function.
#![allow(missing_docs)]

mod common;

use baresync::{Futex, ReentrantLock, Spin, StdThreadId};
use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion};
use std::cell::Cell;
use std::hint::black_box;
use std::time::Duration;

/// A reentrant lock around a `Cell<u64>`, whatever crate it comes from.
trait BenchReentrant: Send + Sync + 'static {
    const NAME: &'static str;
    fn create() -> Self;
    /// Locks (at whatever depth), increments, unlocks.
    fn increment(&self);
    /// Runs `f` holding a guard.
    fn hold<R>(&self, f: impl FnOnce() -> R) -> R;
}

macro_rules! bench_reentrant {
    ($ty:ty, $name:expr) => {
        impl BenchReentrant for $ty {
            const NAME: &'static str = $name;
            fn create() -> Self {
                <$ty>::from(Cell::new(0))
            }
            #[inline]
            fn increment(&self) {
                let guard = self.lock();
                guard.set(guard.get() + 1);
            }
            fn hold<R>(&self, f: impl FnOnce() -> R) -> R {
                let _outer = self.lock();
                f()
            }
        }
    };
}

bench_reentrant!(
    ReentrantLock<Cell<u64>, StdThreadId, Spin>,
    "baresync::ReentrantLock<Spin>"
);
bench_reentrant!(
    ReentrantLock<Cell<u64>, StdThreadId, Futex>,
    "baresync::ReentrantLock<Futex>"
);
bench_reentrant!(
    parking_lot::ReentrantMutex<Cell<u64>>,
    "parking_lot::ReentrantMutex"
);

fn uncontended<L: BenchReentrant>(c: &mut Criterion) {
    let lock = L::create();
    c.bench_function(&format!("lock_unlock/{}/1", L::NAME), |b| {
        b.iter(|| black_box(&lock).increment())
    });
}

fn nested<L: BenchReentrant>(c: &mut Criterion) {
    let lock = L::create();
    c.bench_function(&format!("relock_depth2/{}/1", L::NAME), |b| {
        lock.hold(|| b.iter(|| black_box(&lock).increment()))
    });
}

/// `threads` pinned threads share `iters` increments; returns the wall time of the whole run.
fn contended_run<L: BenchReentrant>(threads: usize, iters: u64) -> Duration {
    common::pinned_share(threads, iters, L::create(), |l: &L| l.increment())
}

fn contended<L: BenchReentrant>(c: &mut Criterion, threads: usize) {
    let mut group = c.benchmark_group("contended_increment");
    group.bench_with_input(BenchmarkId::new(L::NAME, threads), &threads, |b, &t| {
        b.iter_custom(|iters| contended_run::<L>(t, iters))
    });
    group.finish();
}

fn all<L: BenchReentrant>(c: &mut Criterion) {
    uncontended::<L>(c);
    nested::<L>(c);
    contended::<L>(c, 2);
}

fn benches(c: &mut Criterion) {
    all::<ReentrantLock<Cell<u64>, StdThreadId, Spin>>(c);
    all::<ReentrantLock<Cell<u64>, StdThreadId, Futex>>(c);
    all::<parking_lot::ReentrantMutex<Cell<u64>>>(c);
}

criterion_group! {
    name = reentrant;
    config = Criterion::default()
        .sample_size(20)
        .warm_up_time(Duration::from_millis(300))
        .measurement_time(Duration::from_secs(1));
    targets = benches
}
criterion_main!(reentrant);
