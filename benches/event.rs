//! Event benches: baresync's `Event` next to the usual std event (a `Mutex<bool>` and a
//! `Condvar`), in one run.
//!
//! - `set_wait_clear/IMPL/1`: one thread, `set` + `wait` on the now-set event (it returns at
//!   once) + `clear`. The API has no `reset`; `clear` is its name for it, and `wait` on a set
//!   event is the fast path every waiter that comes late takes (`is_set` is the same load).
//! - `set_release_all_polled/IMPL/N` and `set_release_all_asleep/IMPL/N`: N waiter threads (1
//!   and 3) are waiting; the time from `set` until all N have returned from `wait` (lower is
//!   better). *polled*: `set` comes as soon as every waiter is about to wait, within
//!   baresync's polling budget (its `Futex` waiters are still polling; std's sleep at once).
//!   *asleep*: the setter first sleeps [`SETTLE_ASLEEP`], many times that budget (64 backoff
//!   rounds, tens of µs), so every waiter that can sleep is asleep: a wake-up against a
//!   wake-up. The same pause for every row; it is not timed. The waiters live for the whole
//!   measurement (no thread spawn per round). With 3 waiters on 2 cores the run is
//!   oversubscribed, and the `Spin` row shows what a spinning waiter costs then.
//!
//! Run: `cargo bench --bench event`. Numbers for the docs come from `host-runner bench`.

// criterion_group! generates an undocumented public function.
#![allow(missing_docs)]

mod common;

use baresync::{CachePadded, Event, Futex, Spin, Yield};
use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion};
use std::hint::black_box;
use std::sync::atomic::{AtomicU64, Ordering::Acquire, Ordering::Release};
use std::sync::{Arc, Barrier};
use std::time::{Duration, Instant};

/// How long the setter leaves the waiters before it sets, in the `asleep` case: far longer
/// than baresync's polling budget, so the bench measures waking a sleeping thread, not
/// catching one that still polls.
const SETTLE_ASLEEP: Duration = Duration::from_millis(5);

/// A manual-reset event, whatever it is built from.
trait BenchEvent: Send + Sync + 'static {
    const NAME: &'static str;
    fn create() -> Self;
    fn set(&self);
    fn wait(&self);
    fn clear(&self);
}

macro_rules! bench_event {
    ($w:ty, $name:expr) => {
        impl BenchEvent for Event<$w> {
            const NAME: &'static str = $name;
            fn create() -> Self {
                Event::with_wait()
            }
            #[inline]
            fn set(&self) {
                Event::set(self);
            }
            #[inline]
            fn wait(&self) {
                Event::wait(self);
            }
            #[inline]
            fn clear(&self) {
                Event::clear(self);
            }
        }
    };
}

bench_event!(Spin, "baresync::Event<Spin>");
bench_event!(Yield, "baresync::Event<Yield>");
bench_event!(Futex, "baresync::Event<Futex>");

/// The baseline: the event one writes with std alone.
struct StdEvent {
    flag: std::sync::Mutex<bool>,
    changed: std::sync::Condvar,
}

impl BenchEvent for StdEvent {
    const NAME: &'static str = "std::Mutex+Condvar";
    fn create() -> Self {
        StdEvent {
            flag: std::sync::Mutex::new(false),
            changed: std::sync::Condvar::new(),
        }
    }
    #[inline]
    fn set(&self) {
        *self.flag.lock().unwrap() = true;
        // Notified after the unlock, so that woken waiters do not find the mutex still held.
        // No wake-up is lost: a waiter saw `false` and went to sleep under the lock we took.
        self.changed.notify_all();
    }
    #[inline]
    fn wait(&self) {
        let flag = self.flag.lock().unwrap();
        drop(self.changed.wait_while(flag, |set| !*set).unwrap());
    }
    #[inline]
    fn clear(&self) {
        *self.flag.lock().unwrap() = false;
    }
}

fn uncontended<E: BenchEvent>(c: &mut Criterion) {
    let event = E::create();
    c.bench_function(&format!("set_wait_clear/{}/1", E::NAME), |b| {
        b.iter(|| {
            let e = black_box(&event);
            e.set();
            e.wait();
            e.clear();
        })
    });
}

/// Spin hints, then yields after 64 failed looks (the setter may share a core with a waiter).
#[inline]
fn spin_until(cond: impl Fn() -> bool) {
    let mut fails = 0u32;
    while !cond() {
        if fails < 64 {
            fails += 1;
            std::hint::spin_loop();
        } else {
            std::thread::yield_now();
        }
    }
}

/// `waiters` pinned threads wait in `iters` rounds, each on a fresh `set` (after
/// [`SETTLE_ASLEEP`] if `asleep`); returns the sum over the rounds of the time from `set` until
/// the last waiter has returned.
fn release_rounds<E: BenchEvent>(waiters: usize, iters: u64, asleep: bool) -> Duration {
    let cores = common::cores();
    // Two events used in turn: round r waits on `events[r % 2]`, so the event of the next
    // round can be cleared while every waiter is known to be past it, and no waiter can
    // return from a round early because the event it waits on is still set.
    let events = Arc::new([CachePadded::new(E::create()), CachePadded::new(E::create())]);
    // Waiters about to wait, and waiters that have returned, summed over the rounds.
    let ready = Arc::new(CachePadded::new(AtomicU64::new(0)));
    let done = Arc::new(CachePadded::new(AtomicU64::new(0)));
    let start = Arc::new(Barrier::new(waiters + 1));
    let handles: Vec<_> = (1..=waiters)
        .map(|i| {
            let (events, ready, done, start) = (
                Arc::clone(&events),
                Arc::clone(&ready),
                Arc::clone(&done),
                Arc::clone(&start),
            );
            let core = cores.get(i % cores.len().max(1)).copied();
            std::thread::spawn(move || {
                if let Some(core) = core {
                    core_affinity::set_for_current(core);
                }
                start.wait();
                for r in 0..iters {
                    ready.fetch_add(1, Release);
                    events[(r % 2) as usize].wait();
                    done.fetch_add(1, Release);
                }
            })
        })
        .collect();
    if let Some(&core) = cores.first() {
        core_affinity::set_for_current(core);
    }
    start.wait();
    let n = waiters as u64;
    let mut total = Duration::ZERO;
    for r in 0..iters {
        // Every waiter has returned from round r - 1 (checked below) and none can reach
        // round r + 1 before this round's `set`: the next round's event is free to clear.
        events[((r + 1) % 2) as usize].clear();
        let target = n * (r + 1);
        spin_until(|| ready.load(Acquire) >= target);
        if asleep {
            std::thread::sleep(SETTLE_ASLEEP);
        }
        let t0 = Instant::now();
        events[(r % 2) as usize].set();
        spin_until(|| done.load(Acquire) >= target);
        total += t0.elapsed();
    }
    for h in handles {
        h.join().unwrap();
    }
    total
}

fn release_all<E: BenchEvent>(c: &mut Criterion, waiters: usize, asleep: bool) {
    let name = if asleep {
        "set_release_all_asleep"
    } else {
        "set_release_all_polled"
    };
    let mut group = c.benchmark_group(name);
    group.bench_with_input(BenchmarkId::new(E::NAME, waiters), &waiters, |b, &n| {
        b.iter_custom(|iters| release_rounds::<E>(n, iters, asleep))
    });
    group.finish();
}

fn all<E: BenchEvent>(c: &mut Criterion) {
    uncontended::<E>(c);
    for asleep in [false, true] {
        release_all::<E>(c, 1, asleep);
        release_all::<E>(c, 3, asleep);
    }
}

fn benches(c: &mut Criterion) {
    all::<Event<Spin>>(c);
    all::<Event<Yield>>(c);
    all::<Event<Futex>>(c);
    all::<StdEvent>(c);
}

criterion_group! {
    name = event;
    config = Criterion::default()
        .sample_size(20)
        .warm_up_time(Duration::from_millis(300))
        .measurement_time(Duration::from_secs(1));
    targets = benches
}
criterion_main!(event);
