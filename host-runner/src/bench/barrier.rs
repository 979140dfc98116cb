//! Barriers: `Barrier<W>` and the lean `SpinBarrier` next to `std::sync::Barrier` (the
//! reference) and `spin::Barrier`,
//! each used as its documentation shows, with one thread per core and with 2× cores. Two
//! cases, since baresync's waiters with a sleeping backend poll before they sleep:
//! - `round, polled`: every thread waits in a loop; the value is the time of one wait (a round,
//!   every thread arrives and leaves), from thread 0's own clock: the window's start to the
//!   end of its last wait, divided by its waits (so a wait that ends after the stop signal is
//!   counted with the time it took).
//! - `release, asleep`: thread 0 arrives last, [`SETTLE_ASLEEP`] after the others (many times
//!   the polling budget, so they are asleep); the value is the median time from its arrival
//!   to the last thread's return from `wait`.
//!
//! Every row carries the CPU time per round of all threads together: in `polled` their whole
//! CPU time, in `asleep` the CPU time inside the timed `wait` only.
//!
//! Threads must agree on when to stop, or the one that stops leaves the others waiting
//! forever. So thread 0 writes "go on or stop" between two waits, and everyone reads it after
//! the second wait: the barrier orders the write before the reads, and thread 0 cannot write
//! the next decision before everyone has passed the next first wait.

use super::{median, run_window, run_window_cpu, Candidate, CpuMeter, Env, Experiment, Group};
use super::{Sample, Unit};
use baresync::CachePadded;
use baresync::{Barrier, Futex, Spin, SpinBarrier, Yield};
use std::sync::atomic::{
    AtomicBool, AtomicU64,
    Ordering::{AcqRel, Acquire, Relaxed, Release},
};
use std::time::Duration;

/// How long the others wait for thread 0 in the `asleep` case.
pub const SETTLE_ASLEEP: Duration = super::event::SETTLE_ASLEEP;

/// A barrier, whatever crate it comes from.
pub trait BenchBarrier: Send + Sync + 'static {
    /// A barrier for `n` threads.
    fn create(n: usize) -> Self;
    /// Waits for the others.
    fn wait(&self);
}

impl<W: baresync::Wait + Send + Sync + 'static> BenchBarrier for Barrier<W> {
    fn create(n: usize) -> Self {
        Barrier::with_wait(n)
    }
    fn wait(&self) {
        Barrier::wait(self).expect("the bench never aborts its barrier");
    }
}

impl BenchBarrier for SpinBarrier {
    fn create(n: usize) -> Self {
        SpinBarrier::new(n)
    }
    fn wait(&self) {
        SpinBarrier::wait(self);
    }
}

impl BenchBarrier for std::sync::Barrier {
    fn create(n: usize) -> Self {
        std::sync::Barrier::new(n)
    }
    fn wait(&self) {
        std::sync::Barrier::wait(self);
    }
}

impl BenchBarrier for spin::Barrier {
    fn create(n: usize) -> Self {
        spin::Barrier::new(n)
    }
    fn wait(&self) {
        spin::Barrier::wait(self);
    }
}

/// The reference of the ratios.
pub const REFERENCE: &str = "std::sync::Barrier";

fn round<B: BenchBarrier>(env: &Env, threads: usize) -> Sample {
    let b = CachePadded::new(B::create(threads));
    let go = [AtomicBool::new(true), AtomicBool::new(true)];
    let w = run_window(env, threads, |me, stop| {
        let mut rounds = 0u64;
        let mut i = 0usize;
        loop {
            b.wait();
            if me == 0 {
                // ORDERING: the barrier's second wait orders this before every reader; Release
                // and Acquire only make that explicit.
                go[i & 1].store(!stop.load(Relaxed), Release);
            }
            b.wait();
            rounds += 2;
            if !go[i & 1].load(Acquire) {
                return rounds;
            }
            i += 1;
        }
    });
    // Thread 0's waits, over thread 0's time to its last one.
    let rounds = w.counts[0];
    let time = w.ended[0];
    Sample {
        value: (rounds > 0).then(|| time.as_nanos() as f64 / rounds as f64),
        cpu_ns_per_op: w.cpu_per_op(rounds),
        events: Some(rounds),
        latency: None,
        ..Sample::default()
    }
}

fn asleep<B: BenchBarrier>(env: &Env, threads: usize) -> Sample {
    let env = &super::event::window_for(env, SETTLE_ASLEEP);
    let b = CachePadded::new(B::create(threads));
    let go = [AtomicBool::new(true), AtomicBool::new(true)];
    // Per iteration parity: thread 0's arrival, and the latest return from the timed wait.
    let arrived = [AtomicU64::new(0), AtomicU64::new(0)];
    let left = [AtomicU64::new(0), AtomicU64::new(0)];
    let latencies = std::sync::Mutex::new(Vec::new());
    let w = run_window_cpu(env, threads, |me, stop| {
        let mut cpu = CpuMeter::default();
        let mut mine = Vec::new();
        let mut i = 0usize;
        loop {
            b.wait();
            let p = i & 1;
            if me == 0 {
                // Everyone has stamped iteration i - 1 before arriving here: the barrier
                // orders those stamps before this read. Stamps only grow, so a slot needs no
                // reset.
                if i > 0 {
                    let q = 1 - p;
                    let (a, l) = (arrived[q].load(Relaxed), left[q].load(Acquire));
                    mine.push(l.saturating_sub(a) as f64);
                }
                // ORDERING: the barrier's next wait orders this before every reader; Release
                // and Acquire only make that explicit.
                go[p].store(!stop.load(Relaxed), Release);
                std::thread::sleep(SETTLE_ASLEEP);
                cpu.start();
                arrived[p].store(env.now_ns(), Relaxed);
            } else {
                cpu.start();
            }
            b.wait();
            // ORDERING: AcqRel, only to make the barrier's ordering explicit (thread 0 reads
            // the slot after the next barrier).
            left[p].fetch_max(env.now_ns(), AcqRel);
            cpu.stop();
            if !go[p].load(Acquire) {
                break;
            }
            i += 1;
        }
        if me == 0 {
            latencies
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner)
                .extend(mine);
        }
        (0, cpu.total())
    });
    let latencies = latencies
        .into_inner()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    let rounds = latencies.len() as u64;
    Sample {
        value: median(&latencies),
        cpu_ns_per_op: w.cpu_per_op(rounds),
        events: Some(rounds),
        latency: None,
        ..Sample::default()
    }
}

/// The case names.
pub const POLLED: &str = "round, polled";
/// The case names.
pub const ASLEEP: &str = "release, asleep";

/// The barrier group for `cores` cores.
pub fn group(cores: usize) -> Group {
    let mut experiments = Vec::new();
    type F = fn(&Env, usize) -> Sample;
    let cases: [(&str, [F; 6]); 2] = [
        (
            POLLED,
            [
                round::<Barrier<Spin>>,
                round::<Barrier<Yield>>,
                round::<Barrier<Futex>>,
                round::<std::sync::Barrier>,
                round::<spin::Barrier>,
                round::<SpinBarrier>,
            ],
        ),
        (
            ASLEEP,
            [
                asleep::<Barrier<Spin>>,
                asleep::<Barrier<Yield>>,
                asleep::<Barrier<Futex>>,
                asleep::<std::sync::Barrier>,
                asleep::<spin::Barrier>,
                asleep::<SpinBarrier>,
            ],
        ),
    ];
    for (case, f) in cases {
        for threads in [cores.max(2), 2 * cores.max(2)] {
            let c = |name: &str, baseline, f: F| {
                Candidate::new(name, baseline, move |env| f(env, threads))
            };
            experiments.push(Experiment {
                case: case.into(),
                threads,
                unit: Unit::Ns,
                relative_to_floor: true,
                candidates: vec![
                    c("baresync::Barrier<Spin>", false, f[0]),
                    c("baresync::Barrier<Yield>", false, f[1]),
                    c("baresync::Barrier<Futex>", false, f[2]),
                    c("baresync::SpinBarrier", false, f[5]),
                    c(REFERENCE, true, f[3]),
                    c("spin::Barrier", true, f[4]),
                ],
            });
        }
    }
    Group {
        name: "barrier",
        title: "barrier: one round while the waiters poll, and the release of waiters that \
                sleep; CPU time per round",
        reference: REFERENCE,
        experiments,
    }
}
