//! Condition variable benches: baresync's `Condvar` next to std's and parking_lot's, in one run.
//!
//! Each condition variable is paired with its own crate's mutex, and baresync's with a
//! `Mutex<_, W>` of the same backend `W` (named by the row: `baresync::Condvar<Futex>` waits on
//! and locks with `Futex`).
//!
//! - `notify_one_no_waiter/IMPL/1`: one thread, `notify_one` with nobody waiting: what a
//!   notifier pays on every state change that nobody happens to wait for.
//! - `ping_pong/IMPL/2`: two threads, pinned to two cores, take turns: each waits on the
//!   condition variable until the shared counter under the mutex says it is its turn, bumps
//!   it, and notifies the other. The time is per round trip (two hand-offs); lower is better.
//!   This is the *polled* case: the turn comes back within baresync's polling budget, so its
//!   `Futex` waiters rarely sleep while std's and parking_lot's do; compare CPU time too.
//!   `host-runner bench` also measures the *asleep* case (a wake-up against a wake-up) and
//!   the CPU time per operation.
//!
//! Run: `cargo bench --bench condvar`. Numbers for the docs come from `host-runner bench`.

// criterion_group! generates an undocumented public function.
#![allow(missing_docs)]

mod common;

use baresync::{CachePadded, Condvar, Futex, Mutex, Spin, Wait, Yield};
use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion};
use std::hint::black_box;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// A counter under a mutex and a condition variable to wait for it on, whatever the crate.
trait BenchCondvar: Send + Sync + 'static {
    const NAME: &'static str;
    fn create() -> Self;
    fn notify_one(&self);
    /// Waits until the counter is `turn`, bumps it, and notifies the other thread.
    fn take_turn(&self, turn: u64);
}

/// baresync's condition variable with baresync's mutex, both on backend `W`.
struct Baresync<W> {
    count: Mutex<u64, W>,
    cv: Condvar<W>,
}

macro_rules! bench_baresync {
    ($w:ty, $name:expr) => {
        impl BenchCondvar for Baresync<$w> {
            const NAME: &'static str = $name;
            fn create() -> Self {
                Baresync {
                    count: Mutex::with_wait(0),
                    cv: Condvar::with_wait(),
                }
            }
            #[inline]
            fn notify_one(&self) {
                black_box(self.cv.notify_one());
            }
            #[inline]
            fn take_turn(&self, turn: u64) {
                take_turn_baresync(self, turn);
            }
        }
    };
}

#[inline]
fn take_turn_baresync<W: Wait>(p: &Baresync<W>, turn: u64) {
    let mut count = p.cv.wait_while(p.count.lock(), |n| *n != turn);
    *count += 1;
    // Notified after the unlock (as in the baselines): the other thread registered as a
    // waiter before it released the lock, so it cannot miss this.
    drop(count);
    p.cv.notify_one();
}

bench_baresync!(Spin, "baresync::Condvar<Spin>");
bench_baresync!(Yield, "baresync::Condvar<Yield>");
bench_baresync!(Futex, "baresync::Condvar<Futex>");

struct Std {
    count: std::sync::Mutex<u64>,
    cv: std::sync::Condvar,
}

impl BenchCondvar for Std {
    const NAME: &'static str = "std::sync::Condvar";
    fn create() -> Self {
        Std {
            count: std::sync::Mutex::new(0),
            cv: std::sync::Condvar::new(),
        }
    }
    #[inline]
    fn notify_one(&self) {
        self.cv.notify_one();
    }
    #[inline]
    fn take_turn(&self, turn: u64) {
        let mut count = self
            .cv
            .wait_while(self.count.lock().unwrap(), |n| *n != turn)
            .unwrap();
        *count += 1;
        drop(count);
        self.cv.notify_one();
    }
}

struct ParkingLot {
    count: parking_lot::Mutex<u64>,
    cv: parking_lot::Condvar,
}

impl BenchCondvar for ParkingLot {
    const NAME: &'static str = "parking_lot::Condvar";
    fn create() -> Self {
        ParkingLot {
            count: parking_lot::Mutex::new(0),
            cv: parking_lot::Condvar::new(),
        }
    }
    #[inline]
    fn notify_one(&self) {
        black_box(self.cv.notify_one());
    }
    #[inline]
    fn take_turn(&self, turn: u64) {
        let mut count = self.count.lock();
        self.cv.wait_while(&mut count, |n| *n != turn);
        *count += 1;
        drop(count);
        self.cv.notify_one();
    }
}

fn no_waiter<C: BenchCondvar>(c: &mut Criterion) {
    let cv = C::create();
    c.bench_function(&format!("notify_one_no_waiter/{}/1", C::NAME), |b| {
        b.iter(|| black_box(&cv).notify_one())
    });
}

/// Two pinned threads play `iters` round trips; returns the wall time of the rounds.
fn round_trips<C: BenchCondvar>(iters: u64) -> Duration {
    let cores = common::cores();
    let pair = Arc::new(CachePadded::new(C::create()));
    let start = Arc::new(std::sync::Barrier::new(2));
    let other = {
        let (pair, start) = (Arc::clone(&pair), Arc::clone(&start));
        let core = cores.get(1 % cores.len().max(1)).copied();
        std::thread::spawn(move || {
            if let Some(core) = core {
                core_affinity::set_for_current(core);
            }
            start.wait();
            // The odd turns.
            for i in 0..iters {
                pair.take_turn(2 * i + 1);
            }
        })
    };
    if let Some(&core) = cores.first() {
        core_affinity::set_for_current(core);
    }
    start.wait();
    let t0 = Instant::now();
    // The even turns, and one more to see the other thread's last move.
    for i in 0..=iters {
        pair.take_turn(2 * i);
    }
    let elapsed = t0.elapsed();
    other.join().unwrap();
    elapsed
}

fn ping_pong<C: BenchCondvar>(c: &mut Criterion) {
    let mut group = c.benchmark_group("ping_pong");
    group.bench_with_input(BenchmarkId::new(C::NAME, 2), &2, |b, _| {
        b.iter_custom(round_trips::<C>)
    });
    group.finish();
}

fn all<C: BenchCondvar>(c: &mut Criterion) {
    no_waiter::<C>(c);
    ping_pong::<C>(c);
}

fn benches(c: &mut Criterion) {
    all::<Baresync<Spin>>(c);
    all::<Baresync<Yield>>(c);
    all::<Baresync<Futex>>(c);
    all::<Std>(c);
    all::<ParkingLot>(c);
}

criterion_group! {
    name = condvar;
    config = Criterion::default()
        .sample_size(20)
        .warm_up_time(Duration::from_millis(300))
        .measurement_time(Duration::from_secs(1));
    targets = benches
}
criterion_main!(condvar);
