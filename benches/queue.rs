//! Queue benches: baresync's `Queue` and `JoinableQueue` next to crossbeam's `ArrayQueue`,
//! heapless' queues and std's `sync_channel`, in one run.
//!
//! - `spsc/IMPL/2`: one producer and one consumer pinned to two cores pass `iters` `u64`s
//!   through a queue of capacity 1024 (heapless' SPSC queue holds 1023); time per item.
//! - `mpmc/IMPL/4`: two producers and two consumers (pinned round-robin to the cores); time
//!   per item. heapless' MPMC queue is `Q64` (its largest named capacity), the others 1024.
//!
//! Non-waiting queues are driven by the same retry loop (spin hint, then yield after 64
//! failures, so that the oversubscribed runs do not burn time slices); baresync `<Futex>` and
//! `sync_channel` use their own blocking `put`/`get` (`send`/`recv`).
//!
//! Run: `cargo bench --bench queue`. Numbers for the docs come from `host-runner bench`.

// criterion_group! generates an undocumented public function.
#![allow(missing_docs)]

use baresync::{Futex, JoinableQueue, Queue, Spin};
use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion};
use std::hint::black_box;
use std::sync::{Arc, Barrier};
use std::time::{Duration, Instant};

const CAP: usize = 1024;

/// Retries `f` until it succeeds: spin hints first, then yields.
#[inline]
fn retry<R>(mut f: impl FnMut() -> Option<R>) -> R {
    let mut fails = 0u32;
    loop {
        if let Some(r) = f() {
            return r;
        }
        fails += 1;
        if fails < 64 {
            std::hint::spin_loop();
        } else {
            std::thread::yield_now();
        }
    }
}

/// A bounded queue shared by reference between threads.
trait BenchQueue: Send + Sync + 'static {
    const NAME: &'static str;
    fn create() -> Self;
    fn send(&self, v: u64);
    fn recv(&self) -> u64;
}

impl BenchQueue for Queue<u64, CAP, Spin> {
    const NAME: &'static str = "baresync::Queue<Spin>";
    fn create() -> Self {
        Queue::with_wait()
    }
    #[inline]
    fn send(&self, v: u64) {
        let mut v = Some(v);
        retry(|| match self.push(v.take().unwrap()) {
            Ok(()) => Some(()),
            Err(e) => {
                v = Some(e.into_inner());
                None
            }
        })
    }
    #[inline]
    fn recv(&self) -> u64 {
        retry(|| self.pop())
    }
}

impl BenchQueue for Queue<u64, CAP, Futex> {
    const NAME: &'static str = "baresync::Queue<Futex>";
    fn create() -> Self {
        Queue::new()
    }
    #[inline]
    fn send(&self, v: u64) {
        self.put(v).unwrap();
    }
    #[inline]
    fn recv(&self) -> u64 {
        self.get().unwrap()
    }
}

/// The joinable queue pays for its task count on top: every item received is also marked
/// done, as a worker would.
impl BenchQueue for JoinableQueue<u64, CAP, Futex> {
    const NAME: &'static str = "baresync::JoinableQueue<Futex>";
    fn create() -> Self {
        JoinableQueue::new()
    }
    #[inline]
    fn send(&self, v: u64) {
        self.put(v).unwrap();
    }
    #[inline]
    fn recv(&self) -> u64 {
        let v = self.get().unwrap();
        self.task_done().unwrap();
        v
    }
}

impl BenchQueue for crossbeam_queue::ArrayQueue<u64> {
    const NAME: &'static str = "crossbeam::ArrayQueue";
    fn create() -> Self {
        crossbeam_queue::ArrayQueue::new(CAP)
    }
    #[inline]
    fn send(&self, v: u64) {
        let mut v = Some(v);
        retry(|| match self.push(v.take().unwrap()) {
            Ok(()) => Some(()),
            Err(back) => {
                v = Some(back);
                None
            }
        })
    }
    #[inline]
    fn recv(&self) -> u64 {
        retry(|| self.pop())
    }
}

impl BenchQueue for heapless::mpmc::Q64<u64> {
    const NAME: &'static str = "heapless::mpmc::Q64";
    fn create() -> Self {
        heapless::mpmc::Q64::new()
    }
    #[inline]
    fn send(&self, v: u64) {
        retry(|| self.enqueue(v).ok())
    }
    #[inline]
    fn recv(&self) -> u64 {
        retry(|| self.dequeue())
    }
}

/// std's bounded channel, both ends behind one value.
struct StdSync {
    tx: std::sync::mpsc::SyncSender<u64>,
    rx: std::sync::Mutex<std::sync::mpsc::Receiver<u64>>,
}

impl BenchQueue for StdSync {
    const NAME: &'static str = "std::sync_channel";
    fn create() -> Self {
        let (tx, rx) = std::sync::mpsc::sync_channel(CAP);
        StdSync {
            tx,
            rx: std::sync::Mutex::new(rx),
        }
    }
    #[inline]
    fn send(&self, v: u64) {
        self.tx.send(v).unwrap();
    }
    #[inline]
    fn recv(&self) -> u64 {
        // Uncontended for SPSC; for MPMC the receiver mutex is the price of sharing it.
        self.rx.lock().unwrap().recv().unwrap()
    }
}

/// `producers` and `consumers` threads, pinned round-robin, pass `iters` items; returns the
/// wall time from the start barrier to the last join.
fn run<Q: BenchQueue>(producers: usize, consumers: usize, iters: u64) -> Duration {
    let cores = core_affinity::get_core_ids().unwrap_or_default();
    let q = Arc::new(Q::create());
    let threads = producers + consumers;
    let start = Arc::new(Barrier::new(threads + 1));
    let per_producer = iters.div_ceil(producers as u64);
    let total = per_producer * producers as u64;
    let handles: Vec<_> = (0..threads)
        .map(|i| {
            let (q, start) = (Arc::clone(&q), Arc::clone(&start));
            let core = cores.get(i % cores.len().max(1)).copied();
            // Consumers share the items; the first takes the remainder.
            let share = total / consumers as u64
                + if i == producers {
                    total % consumers as u64
                } else {
                    0
                };
            std::thread::spawn(move || {
                if let Some(core) = core {
                    core_affinity::set_for_current(core);
                }
                start.wait();
                if i < producers {
                    for v in 0..per_producer {
                        q.send(v);
                    }
                } else {
                    for _ in 0..share {
                        black_box(q.recv());
                    }
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

fn spsc<Q: BenchQueue>(c: &mut Criterion) {
    let mut group = c.benchmark_group("spsc");
    group.bench_with_input(BenchmarkId::new(Q::NAME, 2), &2, |b, _| {
        b.iter_custom(|iters| run::<Q>(1, 1, iters))
    });
    group.finish();
}

fn mpmc<Q: BenchQueue>(c: &mut Criterion) {
    let mut group = c.benchmark_group("mpmc");
    group.bench_with_input(BenchmarkId::new(Q::NAME, 4), &4, |b, _| {
        b.iter_custom(|iters| run::<Q>(2, 2, iters))
    });
    group.finish();
}

/// heapless' SPSC queue: `split` into a producer and a consumer end (it holds N - 1 items).
fn spsc_heapless(c: &mut Criterion) {
    let mut group = c.benchmark_group("spsc");
    group.bench_with_input(BenchmarkId::new("heapless::spsc::Queue", 2), &2, |b, _| {
        b.iter_custom(|iters| {
            let cores = core_affinity::get_core_ids().unwrap_or_default();
            let mut q: heapless::spsc::Queue<u64, CAP> = heapless::spsc::Queue::new();
            let (mut tx, mut rx) = q.split();
            let start = Barrier::new(3);
            let pin = |i: usize| {
                if let Some(&core) = cores.get(i % cores.len().max(1)) {
                    core_affinity::set_for_current(core);
                }
            };
            std::thread::scope(|s| {
                s.spawn(|| {
                    pin(0);
                    start.wait();
                    for v in 0..iters {
                        retry(|| tx.enqueue(v).ok());
                    }
                });
                s.spawn(|| {
                    pin(1);
                    start.wait();
                    for _ in 0..iters {
                        black_box(retry(|| rx.dequeue()));
                    }
                });
                start.wait();
                let t0 = Instant::now();
                // The scope joins both threads before returning.
                t0
            })
            .elapsed()
        })
    });
    group.finish();
}

fn benches(c: &mut Criterion) {
    spsc::<Queue<u64, CAP, Spin>>(c);
    spsc::<Queue<u64, CAP, Futex>>(c);
    spsc::<JoinableQueue<u64, CAP, Futex>>(c);
    spsc::<crossbeam_queue::ArrayQueue<u64>>(c);
    spsc_heapless(c);
    spsc::<StdSync>(c);
    mpmc::<Queue<u64, CAP, Spin>>(c);
    mpmc::<Queue<u64, CAP, Futex>>(c);
    mpmc::<JoinableQueue<u64, CAP, Futex>>(c);
    mpmc::<crossbeam_queue::ArrayQueue<u64>>(c);
    mpmc::<heapless::mpmc::Q64<u64>>(c);
    mpmc::<StdSync>(c);
}

criterion_group! {
    name = queue;
    config = Criterion::default()
        .sample_size(20)
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(2));
    targets = benches
}
criterion_main!(queue);
