//! Queues: items per second through a bounded queue of 1024 `u64`s, for baresync's `Queue`
//! next to `crossbeam_queue::ArrayQueue` (the reference), heapless' `spsc::Queue` (holds 1023)
//! and `std::sync::mpsc::sync_channel`. Its receiver cannot be shared, so in `mpmc` the
//! consumers share it behind a `std::sync::Mutex`, as the std docs' and the Rust book's
//! worker pools do (a consumer waiting in `recv` holds the mutex; the others wait for it).
//!
//! heapless' `mpmc::Q64` is left out: its 8-bit sequence numbers wrap when a thread is held up
//! for a few laps of the ring, and `enqueue` then spins inside the crate forever (heapless
//! 0.8, one producer and one consumer on this 2-core VM; upstream issues 461 and 583). The
//! window cannot bound a loop inside another crate, so it would hang the bench.
//!
//! - `spsc`: one producer, one consumer, on two cores.
//! - `mpmc`: one producer and one consumer per core (2× cores threads).
//!
//! Producers push until the window ends, then push one sentinel each; a consumer stops at its
//! first sentinel (as many producers as consumers, so each gets one). Non-waiting queues are
//! retried with spin hints, then yields; `Queue<Futex>` and `sync_channel` block in their own
//! `put`/`get` (`send`/`recv`).
//!
//! With `BARESYNC_BENCH_QUEUE_FLOOR=1` both cases get three more rows, the floor probes of
//! `JoinableQueue` (issue 15): `Queue<Futex>` whose consumers do one extra operation per item,
//! a plain increment of their own cache line (the control), a locked `fetch_add` on it, or a
//! locked `fetch_add` on one line they share. `JoinableQueue` against the locked-RMW rows, in
//! one run, says how far it is above what one counted `task_done` per item costs.

use super::{backoff, run_window, Candidate, Env, Experiment, Group, Sample, Unit};
use baresync::{CachePadded, Futex, JoinableQueue, Queue, Spin};
use std::sync::atomic::{
    AtomicBool, AtomicUsize,
    Ordering::{Relaxed, SeqCst},
};

const CAP: usize = 1024;
const SENTINEL: u64 = u64::MAX;

/// The reference of the ratios.
pub const REFERENCE: &str = "crossbeam_queue::ArrayQueue";

fn produce(stop: &AtomicBool, mut try_send: impl FnMut(u64) -> bool) -> u64 {
    let mut n = 0u64;
    let mut fails = 0;
    while !stop.load(Relaxed) {
        if try_send(n) {
            n += 1;
            fails = 0;
        } else {
            backoff(&mut fails);
        }
    }
    while !try_send(SENTINEL) {
        backoff(&mut fails);
    }
    0
}

fn consume(mut try_recv: impl FnMut() -> Option<u64>) -> u64 {
    let mut n = 0u64;
    let mut fails = 0;
    loop {
        match try_recv() {
            Some(SENTINEL) => return n,
            Some(_) => {
                n += 1;
                fails = 0;
            }
            None => backoff(&mut fails),
        }
    }
}

/// `pairs` producers and `pairs` consumers over one shared queue, through `send`/`recv`.
fn shared<Q: Sync>(
    env: &Env,
    pairs: usize,
    q: &Q,
    send: impl Fn(&Q, u64) -> bool + Sync,
    recv: impl Fn(&Q) -> Option<u64> + Sync,
) -> Sample {
    let w = run_window(env, 2 * pairs, |me, stop| {
        if me < pairs {
            produce(stop, |v| send(q, v))
        } else {
            consume(|| recv(q))
        }
    });
    let items: u64 = w.counts.iter().sum();
    Sample {
        value: Some(items as f64 / w.busy().as_secs_f64()),
        ..Sample::default()
    }
}

fn baresync_spin(env: &Env, pairs: usize) -> Sample {
    let q: Box<Queue<u64, CAP, Spin>> = Box::new(Queue::with_wait());
    shared(env, pairs, &*q, |q, v| q.push(v).is_ok(), |q| q.pop())
}

fn baresync_futex(env: &Env, pairs: usize) -> Sample {
    let q: Box<Queue<u64, CAP, Futex>> = Box::new(Queue::new());
    shared(env, pairs, &*q, |q, v| q.put(v).is_ok(), |q| q.get().ok())
}

/// The joinable queue: every item taken is also marked done, as a worker would.
fn baresync_joinable(env: &Env, pairs: usize) -> Sample {
    let q: Box<JoinableQueue<u64, CAP, Futex>> = Box::new(JoinableQueue::new());
    shared(
        env,
        pairs,
        &*q,
        |q, v| q.put(v).is_ok(),
        |q| {
            let v = q.get().ok()?;
            q.task_done().ok()?;
            Some(v)
        },
    )
}

/// What a consumer of the floor probes does after each `get` (issue 15: is one locked
/// read-modify-write per item what keeps `JoinableQueue` at about half of `Queue`?).
#[derive(Clone, Copy)]
enum Extra {
    /// A plain (not locked) increment of the consumer's own cache line: the control.
    PrivateStore,
    /// A locked `fetch_add` on the consumer's own cache line.
    PrivateRmw,
    /// A locked `fetch_add` on one cache line that every consumer shares.
    SharedRmw,
}

/// `Queue<Futex>` whose consumers do `extra` after every item: the floor probes, shown only
/// with `BARESYNC_BENCH_QUEUE_FLOOR=1` (they measure the bench's question, not a type).
fn baresync_futex_extra(env: &Env, pairs: usize, extra: Extra) -> Sample {
    let q: Box<Queue<u64, CAP, Futex>> = Box::new(Queue::new());
    let own: Vec<CachePadded<AtomicUsize>> = (0..pairs)
        .map(|_| CachePadded::new(AtomicUsize::new(0)))
        .collect();
    let common = CachePadded::new(AtomicUsize::new(0));
    let w = run_window(env, 2 * pairs, |me, stop| {
        if me < pairs {
            produce(stop, |v| q.put(v).is_ok())
        } else {
            let mine = &*own[me - pairs];
            consume(|| {
                let v = q.get().ok()?;
                // ORDERING: Relaxed for the control, a plain load and store; SeqCst for the
                // probes, as `task_done`'s SeqCst compare-and-swap (on x86-64 every
                // read-modify-write is one locked instruction whatever its ordering). Nothing
                // reads these counters: they only cost what they cost.
                match extra {
                    Extra::PrivateStore => mine.store(mine.load(Relaxed) + 1, Relaxed),
                    Extra::PrivateRmw => {
                        mine.fetch_add(1, SeqCst);
                    }
                    Extra::SharedRmw => {
                        common.fetch_add(1, SeqCst);
                    }
                }
                Some(v)
            })
        }
    });
    let items: u64 = w.counts.iter().sum();
    Sample {
        value: Some(items as f64 / w.busy().as_secs_f64()),
        ..Sample::default()
    }
}

fn floor_private_store(env: &Env, pairs: usize) -> Sample {
    baresync_futex_extra(env, pairs, Extra::PrivateStore)
}

fn floor_private_rmw(env: &Env, pairs: usize) -> Sample {
    baresync_futex_extra(env, pairs, Extra::PrivateRmw)
}

fn floor_shared_rmw(env: &Env, pairs: usize) -> Sample {
    baresync_futex_extra(env, pairs, Extra::SharedRmw)
}

/// The floor probes: `Queue<Futex>` plus one extra operation per item on the consumer side.
fn floor_probes(pairs: usize) -> Vec<Candidate> {
    if std::env::var_os("BARESYNC_BENCH_QUEUE_FLOOR").is_none() {
        return Vec::new();
    }
    let c = |name: &str, f: fn(&Env, usize) -> Sample| {
        Candidate::new(name, false, move |env| f(env, pairs))
    };
    vec![
        c("probe: Queue<Futex> + private store", floor_private_store),
        c(
            "probe: Queue<Futex> + private locked RMW",
            floor_private_rmw,
        ),
        c("probe: Queue<Futex> + shared locked RMW", floor_shared_rmw),
    ]
}

fn crossbeam(env: &Env, pairs: usize) -> Sample {
    let q = crossbeam_queue::ArrayQueue::new(CAP);
    shared(env, pairs, &q, |q, v| q.push(v).is_ok(), |q| q.pop())
}

fn heapless_spsc(env: &Env, _pairs: usize) -> Sample {
    // Cache-line aligned like every other measured object, so its layout is the same in
    // every run. (Its throughput still swings between rounds, about 25M to 150M items/s
    // here: an SPSC ring runs either nearly empty, a cache miss per item, or in batches.)
    let mut q: Box<CachePadded<heapless::spsc::Queue<u64, CAP>>> =
        Box::new(CachePadded::new(heapless::spsc::Queue::new()));
    let (p, c) = q.split();
    // Each end is taken once by its thread; the mutexes only hand them over.
    let ends = (
        std::sync::Mutex::new(Some(p)),
        std::sync::Mutex::new(Some(c)),
    );
    let w = run_window(env, 2, |me, stop| {
        if me == 0 {
            let taken = ends.0.lock().ok().and_then(|mut e| e.take());
            let mut p = taken.expect("the producer end is taken once");
            produce(stop, |v| p.enqueue(v).is_ok())
        } else {
            let taken = ends.1.lock().ok().and_then(|mut e| e.take());
            let mut c = taken.expect("the consumer end is taken once");
            consume(|| c.dequeue())
        }
    });
    let items: u64 = w.counts.iter().sum();
    Sample {
        value: Some(items as f64 / w.busy().as_secs_f64()),
        ..Sample::default()
    }
}

fn sync_channel(env: &Env, _pairs: usize) -> Sample {
    let (tx, rx) = std::sync::mpsc::sync_channel::<u64>(CAP);
    let ends = (
        std::sync::Mutex::new(Some(tx)),
        std::sync::Mutex::new(Some(rx)),
    );
    let w = run_window(env, 2, |me, stop| {
        if me == 0 {
            let taken = ends.0.lock().ok().and_then(|mut e| e.take());
            let tx = taken.expect("the sender is taken once");
            produce(stop, |v| tx.send(v).is_ok())
        } else {
            let taken = ends.1.lock().ok().and_then(|mut e| e.take());
            let rx = taken.expect("the receiver is taken once");
            consume(|| rx.recv().ok())
        }
    });
    let items: u64 = w.counts.iter().sum();
    Sample {
        value: Some(items as f64 / w.busy().as_secs_f64()),
        ..Sample::default()
    }
}

/// `sync_channel` with `pairs` producers (each with its own clone of the sender) and `pairs`
/// consumers sharing the receiver behind a mutex.
fn sync_channel_shared(env: &Env, pairs: usize) -> Sample {
    let (tx, rx) = std::sync::mpsc::sync_channel::<u64>(CAP);
    let rx = std::sync::Mutex::new(rx);
    let w = run_window(env, 2 * pairs, |me, stop| {
        if me < pairs {
            let tx = tx.clone();
            produce(stop, |v| tx.send(v).is_ok())
        } else {
            consume(|| {
                let rx = rx.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
                rx.recv().ok()
            })
        }
    });
    let items: u64 = w.counts.iter().sum();
    Sample {
        value: Some(items as f64 / w.busy().as_secs_f64()),
        ..Sample::default()
    }
}

/// The queue group for `cores` cores.
pub fn group(cores: usize) -> Group {
    let c = |name: &str, baseline, pairs: usize, f: fn(&Env, usize) -> Sample| {
        Candidate::new(name, baseline, move |env| f(env, pairs))
    };
    let pairs = cores.max(1);
    Group {
        name: "queue",
        title: "bounded queue (1024 u64): items per second",
        reference: REFERENCE,
        experiments: vec![
            Experiment {
                case: "spsc".into(),
                threads: 2,
                unit: Unit::OpsPerSec,
                relative_to_floor: false,
                candidates: vec![
                    c("baresync::Queue<Spin>", false, 1, baresync_spin),
                    c("baresync::Queue<Futex>", false, 1, baresync_futex),
                    c(
                        "baresync::JoinableQueue<Futex>",
                        false,
                        1,
                        baresync_joinable,
                    ),
                    c(REFERENCE, true, 1, crossbeam),
                    c("heapless::spsc::Queue", true, 1, heapless_spsc),
                    c("std::sync::mpsc::sync_channel", true, 1, sync_channel),
                ]
                .into_iter()
                .chain(floor_probes(1))
                .collect(),
            },
            Experiment {
                case: "mpmc".into(),
                threads: 2 * pairs,
                unit: Unit::OpsPerSec,
                relative_to_floor: false,
                candidates: vec![
                    c("baresync::Queue<Spin>", false, pairs, baresync_spin),
                    c("baresync::Queue<Futex>", false, pairs, baresync_futex),
                    c(
                        "baresync::JoinableQueue<Futex>",
                        false,
                        pairs,
                        baresync_joinable,
                    ),
                    c(REFERENCE, true, pairs, crossbeam),
                    c(
                        "std::sync::mpsc::sync_channel (Receiver in a Mutex)",
                        true,
                        pairs,
                        sync_channel_shared,
                    ),
                ]
                .into_iter()
                .chain(floor_probes(pairs))
                .collect(),
            },
        ],
    }
}
