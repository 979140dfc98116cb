//! Lock benches: baresync's locks next to std, parking_lot and spin, in one run.
//!
//! - `lock_unlock/IMPL/1`: one thread, uncontended lock + unlock (plus a bare `AtomicBool`
//!   swap + store pair, the floor for any lock).
//! - `contended_increment/IMPL/T`: T threads, pinned round-robin to the cores, each incrementing
//!   a shared counter under the lock; the time is per increment (lower is better). With T above
//!   the core count the run is oversubscribed.
//!
//! Run: `cargo bench --bench lock`. Numbers for the docs come from `host-runner bench`.

// criterion_group! generates an undocumented public function.
#![allow(missing_docs)]

mod common;

use baresync::{FairLock, Futex, McsLock, Mutex, Spin, SpinLock, TicketLock, Yield};
use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion};
use std::hint::black_box;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

/// A lock around a `u64`, whatever crate it comes from.
trait BenchLock: Send + Sync + 'static {
    const NAME: &'static str;
    fn create() -> Self;
    fn increment(&self);
}

macro_rules! bench_lock {
    ($ty:ty, $name:expr, |$l:ident| $lock:expr) => {
        impl BenchLock for $ty {
            const NAME: &'static str = $name;
            fn create() -> Self {
                <$ty>::from(0)
            }
            #[inline]
            fn increment(&self) {
                let $l = self;
                let mut guard = $lock;
                *guard += 1;
            }
        }
    };
}

bench_lock!(SpinLock<u64>, "baresync::SpinLock", |l| l.lock());
bench_lock!(TicketLock<u64, Spin>, "baresync::TicketLock<Spin>", |l| l.lock());
bench_lock!(TicketLock<u64, Yield>, "baresync::TicketLock<Yield>", |l| l.lock());
bench_lock!(TicketLock<u64, Futex>, "baresync::TicketLock<Futex>", |l| l.lock());
bench_lock!(McsLock<u64>, "baresync::McsLock", |l| l.lock());
bench_lock!(FairLock<u64, Spin>, "baresync::FairLock<Spin>", |l| l.lock());
bench_lock!(FairLock<u64, Yield>, "baresync::FairLock<Yield>", |l| l.lock());
bench_lock!(Mutex<u64, Spin>, "baresync::Mutex<Spin>", |l| l.lock());
bench_lock!(Mutex<u64, Futex>, "baresync::Mutex<Futex>", |l| l.lock());
bench_lock!(std::sync::Mutex<u64>, "std::sync::Mutex", |l| l
    .lock()
    .unwrap());
bench_lock!(parking_lot::Mutex<u64>, "parking_lot::Mutex", |l| l.lock());
bench_lock!(spin::mutex::SpinMutex<u64>, "spin::SpinMutex", |l| l.lock());
bench_lock!(spin::mutex::TicketMutex<u64>, "spin::TicketMutex", |l| l
    .lock());

fn uncontended<L: BenchLock>(c: &mut Criterion) {
    let lock = L::create();
    c.bench_function(&format!("lock_unlock/{}/1", L::NAME), |b| {
        b.iter(|| black_box(&lock).increment())
    });
}

/// The floor: the two atomic operations a spin lock cannot do without.
fn atomic_floor(c: &mut Criterion) {
    let flag = AtomicBool::new(false);
    c.bench_function("lock_unlock/AtomicBool swap+store/1", |b| {
        b.iter(|| {
            let f = black_box(&flag);
            black_box(f.swap(true, Ordering::Acquire));
            f.store(false, Ordering::Release);
        })
    });
}

/// `threads` pinned threads share `iters` increments; returns the wall time of the whole run.
fn contended_run<L: BenchLock>(threads: usize, iters: u64) -> Duration {
    common::pinned_share(threads, iters, L::create(), |l: &L| l.increment())
}

fn contended<L: BenchLock>(c: &mut Criterion, threads: usize) {
    let mut group = c.benchmark_group("contended_increment");
    group.bench_with_input(BenchmarkId::new(L::NAME, threads), &threads, |b, &t| {
        b.iter_custom(|iters| contended_run::<L>(t, iters))
    });
    group.finish();
}

fn all<L: BenchLock>(c: &mut Criterion) {
    uncontended::<L>(c);
    contended::<L>(c, 2);
    contended::<L>(c, 4);
}

/// A FIFO lock whose waiters only spin collapses with more threads than cores (each hand-off
/// to a descheduled waiter costs a time slice): criterion cannot bound such a run, so the
/// oversubscribed case of these is measured by `host-runner bench`, which bounds every
/// measurement by time.
fn all_but_oversubscribed<L: BenchLock>(c: &mut Criterion) {
    uncontended::<L>(c);
    contended::<L>(c, 2);
    if num_cores() >= 4 {
        contended::<L>(c, 4);
    }
}

fn num_cores() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get())
}

fn benches(c: &mut Criterion) {
    atomic_floor(c);
    all::<SpinLock<u64>>(c);
    all_but_oversubscribed::<TicketLock<u64, Spin>>(c);
    all::<TicketLock<u64, Yield>>(c);
    all::<TicketLock<u64, Futex>>(c);
    all_but_oversubscribed::<McsLock<u64>>(c);
    all::<FairLock<u64, Spin>>(c);
    all::<FairLock<u64, Yield>>(c);
    all::<Mutex<u64, Spin>>(c);
    all::<Mutex<u64, Futex>>(c);
    all::<std::sync::Mutex<u64>>(c);
    all::<parking_lot::Mutex<u64>>(c);
    all::<spin::mutex::SpinMutex<u64>>(c);
    all_but_oversubscribed::<spin::mutex::TicketMutex<u64>>(c);
}

criterion_group! {
    name = lock;
    config = Criterion::default()
        .sample_size(20)
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(2));
    targets = benches
}
criterion_main!(lock);
