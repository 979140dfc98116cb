//! Locks: baresync's `SpinLock`, `TicketLock<_, W>`, `McsLock`, `FairLock<_, W>`, `Mutex<_, W>` and
//! `ReentrantLock` next to
//! `std::sync::Mutex` (the reference), `parking_lot::Mutex`/`ReentrantMutex` and
//! `spin::mutex::SpinMutex`/`TicketMutex`.
//!
//! - `uncontended`: one thread, lock + unlock, ns per pair.
//! - `contended`: T threads (1..=cores, 2× and 4× cores) taking the lock in a loop with an empty
//!   critical section; ops/s of all threads, fairness (fewest/most acquisitions of one
//!   thread) and acquisitions per hand-off (how many times in a row a thread keeps the lock).
//!   An empty critical section rewards batching (a lock that lets one thread keep it many
//!   times in a row looks faster), so every contended row carries its acquisitions per
//!   hand-off.
//! - `contended, work in + between`: the same with work inside the critical section and
//!   between two of them ([`WORK_INSIDE`], [`WORK_BETWEEN`] rounds of a multiply-add), as in a
//!   program that does something with its lock, where what differs is the lock's own cost.
//! - `hand-off (forced alternation)`: two threads on two cores take the lock strictly in
//!   turns: each, before it asks for the lock again, waits until the other has had it, and
//!   tells the other so at the start of its critical section, so the other is already asking
//!   while it holds the lock. Every acquisition is a hand-off; each records the time from the
//!   previous owner's release stamp, and the median is the hand-off latency, also given as a
//!   multiple of the core-to-core floor, with the number of hand-offs it is the median of.
//!   (An earlier version recorded only the acquisitions that happened to change the owner in
//!   a free-for-all, a rare, selected sample for a barging lock.)
//! - `contended, 2 threads pinned to 1 core`: two threads, both pinned to the first CPU, as in
//!   `contended`; ops/s and the ratio to `std::sync::Mutex`. A lock whose waiter spins holds
//!   the only core while the owner waits for it (crossbeam#821 measured 24× there).
//! - `acquire latency`: T threads (2..=cores, 2× and 4× cores) as in `contended`, each timing
//!   every acquisition from the call of `lock` to holding it; the row's value is the 99.9th
//!   percentile and it carries p50, p99, p99.9 and max (a log-linear histogram, 3 % buckets)
//!   next to the fairness counts.

use super::{
    median, run_window, thread_counts, Candidate, Env, Experiment, Group, Histogram, Sample, Unit,
};
use baresync::CachePadded;
use baresync::{
    FairLock, Futex, McsLock, Mutex, ReentrantLock, Spin, SpinLock, StdThreadId, TicketLock, Yield,
};
use std::cell::RefCell;
use std::sync::atomic::Ordering::Relaxed;

const NOBODY: usize = usize::MAX;

/// The data behind every bench lock: who held it last and when it was released.
#[derive(Debug)]
pub struct Slot {
    owner: usize,
    /// What the work inside the critical section updates.
    data: u64,
    handoffs: u64,
    released_ns: u64,
    /// Hand-off latencies (ns), up to [`MAX_LATENCIES`]; only `handoff` fills it.
    latencies: Vec<u64>,
}

/// Hand-off latencies kept per window (the median is taken): room for every hand-off of a
/// 150 ms window at tens of ns each, so the median is over all of them.
const MAX_LATENCIES: usize = 1 << 21;

impl Slot {
    const NEW: Slot = Slot {
        owner: NOBODY,
        data: 1,
        handoffs: 0,
        released_ns: 0,
        latencies: Vec::new(),
    };
}

/// A lock around a [`Slot`], whatever crate it comes from.
pub trait BenchLock: Send + Sync + 'static {
    /// A new, unlocked lock.
    fn create() -> Self;
    /// Runs `f` with the lock held.
    fn with<R>(&self, f: impl FnOnce(&mut Slot) -> R) -> R;
}

macro_rules! guard_lock {
    ($ty:ty, |$l:ident| $lock:expr) => {
        impl BenchLock for $ty {
            fn create() -> Self {
                <$ty>::from(Slot::NEW)
            }
            #[inline]
            fn with<R>(&self, f: impl FnOnce(&mut Slot) -> R) -> R {
                let $l = self;
                let mut guard = $lock;
                f(&mut guard)
            }
        }
    };
}

macro_rules! reentrant_lock {
    ($ty:ty) => {
        impl BenchLock for $ty {
            fn create() -> Self {
                <$ty>::new(RefCell::new(Slot::NEW))
            }
            #[inline]
            fn with<R>(&self, f: impl FnOnce(&mut Slot) -> R) -> R {
                let guard = self.lock();
                let mut slot = guard.borrow_mut();
                f(&mut slot)
            }
        }
    };
}

guard_lock!(SpinLock<Slot>, |l| l.lock());
guard_lock!(TicketLock<Slot, Spin>, |l| l.lock());
guard_lock!(TicketLock<Slot, Yield>, |l| l.lock());
guard_lock!(TicketLock<Slot, Futex>, |l| l.lock());
guard_lock!(McsLock<Slot>, |l| l.lock());
guard_lock!(FairLock<Slot, Spin>, |l| l.lock());
guard_lock!(FairLock<Slot, Yield>, |l| l.lock());
guard_lock!(FairLock<Slot, Futex>, |l| l.lock());
guard_lock!(Mutex<Slot, Spin>, |l| l.lock());
guard_lock!(Mutex<Slot, Yield>, |l| l.lock());
guard_lock!(Mutex<Slot, Futex>, |l| l.lock());
guard_lock!(std::sync::Mutex<Slot>, |l| l
    .lock()
    .unwrap_or_else(std::sync::PoisonError::into_inner));
guard_lock!(parking_lot::Mutex<Slot>, |l| l.lock());
guard_lock!(spin::mutex::SpinMutex<Slot>, |l| l.lock());
guard_lock!(spin::mutex::TicketMutex<Slot>, |l| l.lock());
reentrant_lock!(ReentrantLock<RefCell<Slot>, StdThreadId, Futex>);
reentrant_lock!(parking_lot::ReentrantMutex<RefCell<Slot>>);

/// The reference of the ratios.
pub const REFERENCE: &str = "std::sync::Mutex";

/// The case of the contended rows with an empty critical section.
pub const CONTENDED: &str = "contended";
/// The case of the contended rows with work inside and between critical sections.
pub const CONTENDED_WORK: &str = "contended, work in + between";
/// The case of the forced-alternation hand-off rows.
pub const HANDOFF: &str = "hand-off (forced alternation)";
/// The case of the acquire-latency rows.
pub const ACQUIRE_LATENCY: &str = "acquire latency";
/// The case of the rows with two threads pinned to one core.
pub const ONE_CORE: &str = "contended, 2 threads pinned to 1 core";

/// One thread, lock + unlock in a loop: ns per pair.
pub fn uncontended<L: BenchLock>(env: &Env) -> Sample {
    let lock = CachePadded::new(L::create());
    let w = run_window(env, 1, |_, stop| {
        let mut n = 0u64;
        while !stop.load(Relaxed) {
            for _ in 0..256 {
                lock.with(|s| s.handoffs = s.handoffs.wrapping_add(1));
            }
            n += 256;
        }
        n
    });
    let ops = w.counts[0];
    Sample {
        value: (ops > 0).then(|| w.busy().as_nanos() as f64 / ops as f64),
        ..Sample::default()
    }
}

/// Rounds of work inside the critical section of `contended, work in + between`.
pub const WORK_INSIDE: u32 = 32;
/// Rounds of work between two critical sections of `contended, work in + between`.
pub const WORK_BETWEEN: u32 = 128;

/// `rounds` dependent multiply-adds on `x`: work the compiler cannot drop or shorten.
#[inline]
pub fn work(x: u64, rounds: u32) -> u64 {
    let mut x = x;
    for _ in 0..rounds {
        x = std::hint::black_box(x.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1));
    }
    x
}

/// `threads` threads contending: ops/s, per-thread counts and hand-offs. With `inside` and
/// `between` rounds of [`work`] in and between the critical sections.
pub fn contended<L: BenchLock>(env: &Env, threads: usize, inside: u32, between: u32) -> Sample {
    let lock = CachePadded::new(L::create());
    let w = run_window(env, threads, |me, stop| {
        let mut n = 0u64;
        let mut mine = me as u64 + 1;
        while !stop.load(Relaxed) {
            lock.with(|s| {
                if s.owner != me {
                    s.owner = me;
                    s.handoffs += 1;
                }
                if inside > 0 {
                    s.data = work(s.data, inside);
                }
            });
            if between > 0 {
                mine = work(mine, between);
            }
            n += 1;
        }
        std::hint::black_box(mine);
        n
    });
    let total: u64 = w.counts.iter().sum();
    let handoffs = lock.with(|s| s.handoffs);
    Sample {
        value: Some(total as f64 / w.busy().as_secs_f64()),
        cpu_ns_per_op: w.cpu_per_op(total),
        counts: w.counts,
        handoffs: Some(handoffs),
        events: None,
        latency: None,
    }
}

/// `threads` threads contending with an empty critical section, as in [`contended`], each
/// timing every acquisition from the call of `lock` to holding the lock: the value is the
/// 99.9th percentile (ns) of every acquisition of the window, and the row carries p50, p99,
/// p99.9 and max next to the fairness counts. (The two clock reads per acquisition slow the
/// loop down, which is why this is a case of its own and not part of `contended`.)
pub fn acquire_latency<L: BenchLock>(env: &Env, threads: usize) -> Sample {
    let lock = CachePadded::new(L::create());
    let histograms: Vec<std::sync::Mutex<Histogram>> = (0..threads)
        .map(|_| std::sync::Mutex::new(Histogram::new()))
        .collect();
    let w = run_window(env, threads, |me, stop| {
        let mut h = Histogram::new();
        let mut n = 0u64;
        while !stop.load(Relaxed) {
            let called = env.now_ns();
            let waited = lock.with(|s| {
                let held = env.now_ns();
                if s.owner != me {
                    s.owner = me;
                    s.handoffs += 1;
                }
                held.saturating_sub(called)
            });
            h.record(waited);
            n += 1;
        }
        *histograms[me].lock().unwrap_or_else(|e| e.into_inner()) = h;
        n
    });
    let mut all = Histogram::new();
    for h in &histograms {
        all.merge(&h.lock().unwrap_or_else(|e| e.into_inner()));
    }
    let handoffs = lock.with(|s| s.handoffs);
    let latency = all.percentiles();
    Sample {
        value: latency.map(|p| p.p999),
        cpu_ns_per_op: None,
        counts: w.counts,
        handoffs: Some(handoffs),
        events: Some(all.count()),
        latency,
    }
}

/// Two threads taking the lock strictly in turns: the median time from a release to the other
/// thread's acquisition, ns (the median, since a few preempted hand-offs would dominate a
/// mean), over every hand-off of the window.
pub fn handoff<L: BenchLock>(env: &Env) -> Sample {
    use std::sync::atomic::{AtomicUsize, Ordering::Acquire, Ordering::Release};
    let lock = CachePadded::new(L::create());
    // Who had the lock last, readable without taking it: a thread asks for the lock only once
    // the other has had it.
    let had = CachePadded::new(AtomicUsize::new(1));
    // Allocated and touched before the window, so the critical section never allocates or
    // takes a page fault.
    lock.with(|s| {
        s.latencies.resize(MAX_LATENCIES, 0);
        s.latencies.clear();
    });
    let w = run_window(env, 2, |me, stop| {
        let mut n = 0u64;
        while !stop.load(Relaxed) {
            let mut fails = 0;
            // ORDERING: Acquire pairs with the other thread's Release store below; only a
            // turn signal (the lock orders the data).
            while had.load(Acquire) == me {
                if stop.load(Relaxed) {
                    return n;
                }
                super::backoff(&mut fails);
            }
            lock.with(|s| {
                let now = env.now_ns();
                // ORDERING: Release pairs with the Acquire above: the other thread may ask for
                // the lock now, while this one holds it.
                had.store(me, Release);
                if s.owner != NOBODY && s.latencies.len() < MAX_LATENCIES {
                    s.latencies.push(now.saturating_sub(s.released_ns));
                }
                s.owner = me;
                s.handoffs += 1;
                s.released_ns = env.now_ns();
            });
            n += 1;
        }
        n
    });
    let (latencies, handoffs) = lock.with(|s| (std::mem::take(&mut s.latencies), s.handoffs));
    let events = latencies.len() as u64;
    let latencies: Vec<f64> = latencies.into_iter().map(|l| l as f64).collect();
    Sample {
        value: median(&latencies),
        counts: w.counts,
        handoffs: Some(handoffs),
        cpu_ns_per_op: None,
        events: Some(events),
        latency: None,
    }
}

fn candidates(make: impl Fn(&mut Vec<Candidate>, &str, bool, Kind)) -> Vec<Candidate> {
    let mut v = Vec::new();
    for (name, baseline, kind) in [
        ("baresync::SpinLock", false, Kind::SpinLock),
        ("baresync::TicketLock<Spin>", false, Kind::TicketSpin),
        ("baresync::TicketLock<Yield>", false, Kind::TicketYield),
        ("baresync::TicketLock<Futex>", false, Kind::TicketFutex),
        ("baresync::McsLock", false, Kind::Mcs),
        ("baresync::FairLock<Spin>", false, Kind::FairSpin),
        ("baresync::FairLock<Yield>", false, Kind::FairYield),
        ("baresync::FairLock<Futex>", false, Kind::FairFutex),
        ("baresync::Mutex<Spin>", false, Kind::MutexSpin),
        ("baresync::Mutex<Yield>", false, Kind::MutexYield),
        ("baresync::Mutex<Futex>", false, Kind::MutexFutex),
        ("baresync::ReentrantLock<Futex>", false, Kind::Reentrant),
        (REFERENCE, true, Kind::Std),
        ("parking_lot::Mutex", true, Kind::ParkingLot),
        (
            "parking_lot::ReentrantMutex",
            true,
            Kind::ParkingLotReentrant,
        ),
        ("spin::SpinMutex", true, Kind::SpinMutex),
        ("spin::TicketMutex", true, Kind::TicketMutex),
    ] {
        make(&mut v, name, baseline, kind);
    }
    v
}

/// Which lock type a candidate is.
#[derive(Clone, Copy, Debug)]
pub enum Kind {
    /// `baresync::SpinLock`.
    SpinLock,
    /// `baresync::TicketLock<_, Spin>`.
    TicketSpin,
    /// `baresync::TicketLock<_, Yield>`.
    TicketYield,
    /// `baresync::TicketLock<_, Futex>`.
    TicketFutex,
    /// `baresync::McsLock`.
    Mcs,
    /// `baresync::FairLock<_, Spin>`.
    FairSpin,
    /// `baresync::FairLock<_, Yield>`.
    FairYield,
    /// `baresync::FairLock<_, Futex>`.
    FairFutex,
    /// `baresync::Mutex<_, Spin>`.
    MutexSpin,
    /// `baresync::Mutex<_, Yield>`.
    MutexYield,
    /// `baresync::Mutex<_, Futex>`.
    MutexFutex,
    /// `baresync::ReentrantLock<_, StdThreadId, Futex>`.
    Reentrant,
    /// `std::sync::Mutex`.
    Std,
    /// `parking_lot::Mutex`.
    ParkingLot,
    /// `parking_lot::ReentrantMutex`.
    ParkingLotReentrant,
    /// `spin::mutex::SpinMutex`.
    SpinMutex,
    /// `spin::mutex::TicketMutex`.
    TicketMutex,
}

/// Dispatches a generic measurement on the lock type of `kind`.
macro_rules! dispatch {
    ($kind:expr, $f:ident, $($arg:expr),*) => {
        match $kind {
            Kind::SpinLock => $f::<SpinLock<Slot>>($($arg),*),
            Kind::TicketSpin => $f::<TicketLock<Slot, Spin>>($($arg),*),
            Kind::TicketYield => $f::<TicketLock<Slot, Yield>>($($arg),*),
            Kind::TicketFutex => $f::<TicketLock<Slot, Futex>>($($arg),*),
            Kind::Mcs => $f::<McsLock<Slot>>($($arg),*),
            Kind::FairSpin => $f::<FairLock<Slot, Spin>>($($arg),*),
            Kind::FairYield => $f::<FairLock<Slot, Yield>>($($arg),*),
            Kind::FairFutex => $f::<FairLock<Slot, Futex>>($($arg),*),
            Kind::MutexSpin => $f::<Mutex<Slot, Spin>>($($arg),*),
            Kind::MutexYield => $f::<Mutex<Slot, Yield>>($($arg),*),
            Kind::MutexFutex => $f::<Mutex<Slot, Futex>>($($arg),*),
            Kind::Reentrant => $f::<ReentrantLock<RefCell<Slot>, StdThreadId, Futex>>($($arg),*),
            Kind::Std => $f::<std::sync::Mutex<Slot>>($($arg),*),
            Kind::ParkingLot => $f::<parking_lot::Mutex<Slot>>($($arg),*),
            Kind::ParkingLotReentrant => $f::<parking_lot::ReentrantMutex<RefCell<Slot>>>($($arg),*),
            Kind::SpinMutex => $f::<spin::mutex::SpinMutex<Slot>>($($arg),*),
            Kind::TicketMutex => $f::<spin::mutex::TicketMutex<Slot>>($($arg),*),
        }
    };
}

/// The lock group for `cores` cores.
pub fn group(cores: usize) -> Group {
    let mut experiments = vec![Experiment {
        case: "uncontended".into(),
        threads: 1,
        unit: Unit::NsPerOp,
        relative_to_floor: false,
        candidates: candidates(|v, name, baseline, kind| {
            v.push(Candidate::new(name, baseline, move |env| {
                dispatch!(kind, uncontended, env)
            }));
        }),
    }];
    for t in thread_counts(cores) {
        experiments.push(Experiment {
            case: CONTENDED.into(),
            threads: t,
            unit: Unit::OpsPerSec,
            relative_to_floor: false,
            candidates: candidates(|v, name, baseline, kind| {
                v.push(Candidate::new(name, baseline, move |env| {
                    dispatch!(kind, contended, env, t, 0, 0)
                }));
            }),
        });
    }
    for t in [cores.max(2), 4 * cores] {
        experiments.push(Experiment {
            case: CONTENDED_WORK.into(),
            threads: t,
            unit: Unit::OpsPerSec,
            relative_to_floor: false,
            candidates: candidates(|v, name, baseline, kind| {
                v.push(Candidate::new(name, baseline, move |env| {
                    dispatch!(kind, contended, env, t, WORK_INSIDE, WORK_BETWEEN)
                }));
            }),
        });
    }
    // Two threads pinned to the same core: every hand-off to a waiter needs the scheduler to
    // switch threads, so a lock whose waiter spins burns the holder's time slice (the case of
    // crossbeam#821). Run with a one-CPU environment.
    experiments.push(Experiment {
        case: ONE_CORE.into(),
        threads: 2,
        unit: Unit::OpsPerSec,
        relative_to_floor: false,
        candidates: candidates(|v, name, baseline, kind| {
            v.push(Candidate::new(name, baseline, move |env| {
                let one = Env {
                    cpus: vec![env.cpu(0)],
                    ..env.clone()
                };
                dispatch!(kind, contended, &one, 2, 0, 0)
            }));
        }),
    });
    for t in thread_counts(cores).into_iter().filter(|&t| t > 1) {
        experiments.push(Experiment {
            case: ACQUIRE_LATENCY.into(),
            threads: t,
            unit: Unit::Ns,
            relative_to_floor: false,
            candidates: candidates(|v, name, baseline, kind| {
                v.push(Candidate::new(name, baseline, move |env| {
                    dispatch!(kind, acquire_latency, env, t)
                }));
            }),
        });
    }
    experiments.push(Experiment {
        case: HANDOFF.into(),
        threads: 2,
        unit: Unit::Ns,
        relative_to_floor: true,
        candidates: candidates(|v, name, baseline, kind| {
            v.push(Candidate::new(name, baseline, move |env| {
                dispatch!(kind, handoff, env)
            }));
        }),
    });
    Group {
        name: "locks",
        title: "lock + unlock: uncontended latency, contended throughput (empty critical \
                section, then with work in and between, then two threads on one core), \
                fairness, acquisitions per hand-off, acquire latency (p99.9, with p50, p99 and \
                max), hand-off latency under forced alternation",
        reference: REFERENCE,
        experiments,
    }
}
