//! Barriers: the time of one round (every thread arrives and leaves), for `Barrier<W>` next
//! to `std::sync::Barrier` (the reference) and `spin::Barrier`, with one thread per core and
//! with 2× cores.
//!
//! Threads must agree on when to stop, or the one that stops leaves the others waiting
//! forever. So thread 0 writes "go on or stop" between two waits, and everyone reads it after
//! the second wait: the barrier orders the write before the reads, and thread 0 cannot write
//! the next decision before everyone has passed the next first wait.

use super::{run_window, Candidate, Env, Experiment, Group, Sample, Unit};
use baresync::CachePadded;
use baresync::{Barrier, Futex, Spin, Yield};
use std::sync::atomic::{
    AtomicBool,
    Ordering::{Acquire, Relaxed, Release},
};

/// A barrier, whatever crate it comes from.
pub trait BenchBarrier: Send + Sync + 'static {
    /// A barrier for `n` threads.
    fn create(n: usize) -> Self;
    /// Waits for the others.
    fn wait(&self);
}

impl<W: baresync::Wait + Send + Sync + 'static> BenchBarrier for Barrier<W> {
    fn create(n: usize) -> Self {
        Barrier::new(n)
    }
    fn wait(&self) {
        Barrier::wait(self).expect("the bench never aborts its barrier");
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
    let rounds = w.counts[0];
    Sample {
        value: (rounds > 0).then(|| w.elapsed.as_nanos() as f64 / rounds as f64),
        ..Sample::default()
    }
}

/// The barrier group for `cores` cores.
pub fn group(cores: usize) -> Group {
    let mut experiments = Vec::new();
    for threads in [cores.max(2), 2 * cores.max(2)] {
        let c = |name: &str, baseline, f: fn(&Env, usize) -> Sample| {
            Candidate::new(name, baseline, move |env| f(env, threads))
        };
        experiments.push(Experiment {
            case: "round".into(),
            threads,
            unit: Unit::Ns,
            relative_to_floor: true,
            candidates: vec![
                c("baresync::Barrier<Spin>", false, round::<Barrier<Spin>>),
                c("baresync::Barrier<Yield>", false, round::<Barrier<Yield>>),
                c("baresync::Barrier<Futex>", false, round::<Barrier<Futex>>),
                c(REFERENCE, true, round::<std::sync::Barrier>),
                c("spin::Barrier", true, round::<spin::Barrier>),
            ],
        });
    }
    Group {
        name: "barrier",
        title: "barrier: time of one round",
        reference: REFERENCE,
        experiments,
    }
}
