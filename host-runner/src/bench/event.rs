//! Event: the time from `set` until every waiter has returned from `wait`, for `Event<W>`
//! next to a flag built from `std::sync::Mutex<bool>` + `Condvar::notify_all` (the reference).
//!
//! Thread 0 is the setter. Each iteration it clears the event, lets the waiters in (a
//! generation counter), waits until all of them are about to wait, pauses 20 µs so that
//! sleeping backends really sleep, stamps the time and calls `set`. Each waiter stamps the
//! time it returned; the latency is the last stamp minus the set stamp, the median over the
//! iterations of the window. Waiters: one per remaining core, and 2× cores (oversubscribed).

use super::{backoff, median, run_window, Candidate, Env, Experiment, Group, Sample, Unit};
use baresync::CachePadded;
use baresync::{Event, Futex, Spin, Yield};
use std::sync::atomic::{
    AtomicBool, AtomicU64,
    Ordering::{AcqRel, Acquire, Relaxed, Release},
};
use std::time::{Duration, Instant};

/// A manual-reset event, whatever it is built from.
pub trait BenchEvent: Send + Sync + 'static {
    /// A clear event.
    fn create() -> Self;
    /// Sets it, releasing every waiter.
    fn set(&self);
    /// Clears it.
    fn clear(&self);
    /// Waits until it is set.
    fn wait(&self);
}

impl<W: baresync::Wait + Send + Sync + 'static> BenchEvent for Event<W> {
    fn create() -> Self {
        Event::new()
    }
    fn set(&self) {
        Event::set(self);
    }
    fn clear(&self) {
        Event::clear(self);
    }
    fn wait(&self) {
        Event::wait(self);
    }
}

/// A flag under std's mutex, with a condition variable.
pub struct StdEvent {
    flag: std::sync::Mutex<bool>,
    cv: std::sync::Condvar,
}

impl BenchEvent for StdEvent {
    fn create() -> Self {
        StdEvent {
            flag: std::sync::Mutex::new(false),
            cv: std::sync::Condvar::new(),
        }
    }
    fn set(&self) {
        *self
            .flag
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner) = true;
        self.cv.notify_all();
    }
    fn clear(&self) {
        *self
            .flag
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner) = false;
    }
    fn wait(&self) {
        let g = self
            .flag
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        drop(
            self.cv
                .wait_while(g, |set| !*set)
                .unwrap_or_else(std::sync::PoisonError::into_inner),
        );
    }
}

/// The reference of the ratios.
pub const REFERENCE: &str = "std Mutex<bool>+Condvar";

/// How long the setter lets waiters settle into `wait` before it sets.
const SETTLE: Duration = Duration::from_micros(20);

fn release_latency<E: BenchEvent>(env: &Env, waiters: usize) -> Sample {
    let ev = CachePadded::new(E::create());
    let gen = AtomicU64::new(0);
    let ready = AtomicU64::new(0);
    let done = AtomicU64::new(0);
    let last_wake = AtomicU64::new(0);
    let quit = AtomicBool::new(false);
    let median_ns = AtomicU64::new(0);
    let w = run_window(env, waiters + 1, |me, stop| {
        if me == 0 {
            let w = waiters as u64;
            let mut k = 0u64;
            let mut latencies = Vec::new();
            while !stop.load(Relaxed) {
                k += 1;
                ev.clear();
                // ORDERING: Release publishes the clear before the waiters start this round.
                gen.store(k, Release);
                let mut fails = 0;
                while ready.load(Acquire) < k * w {
                    backoff(&mut fails);
                }
                let settle = Instant::now();
                while settle.elapsed() < SETTLE {
                    std::hint::spin_loop();
                }
                let t0 = env.now_ns();
                ev.set();
                let mut fails = 0;
                while done.load(Acquire) < k * w {
                    backoff(&mut fails);
                }
                latencies.push(last_wake.load(Acquire).saturating_sub(t0) as f64);
            }
            if let Some(m) = median(&latencies) {
                median_ns.store(m as u64, Relaxed);
            }
            quit.store(true, Release);
            gen.store(u64::MAX, Release);
            ev.set();
            k
        } else {
            let mut seen = 0u64;
            loop {
                let mut fails = 0;
                let g = loop {
                    let g = gen.load(Acquire);
                    if g != seen {
                        break g;
                    }
                    backoff(&mut fails);
                };
                if quit.load(Acquire) {
                    break;
                }
                seen = g;
                ready.fetch_add(1, AcqRel);
                ev.wait();
                last_wake.fetch_max(env.now_ns(), AcqRel);
                done.fetch_add(1, AcqRel);
            }
            0
        }
    });
    let rounds = w.counts[0];
    Sample {
        value: (rounds > 0).then(|| median_ns.load(Relaxed) as f64),
        ..Sample::default()
    }
}

/// The event group for `cores` cores.
pub fn group(cores: usize) -> Group {
    let mut experiments = Vec::new();
    for (case, waiters) in [
        ("set → all released", cores.saturating_sub(1).max(1)),
        ("set → all released", 2 * cores),
    ] {
        let c = |name: &str, baseline, f: fn(&Env, usize) -> Sample| {
            Candidate::new(name, baseline, move |env| f(env, waiters))
        };
        experiments.push(Experiment {
            case: case.into(),
            threads: waiters + 1,
            unit: Unit::Ns,
            relative_to_floor: true,
            candidates: vec![
                c(
                    "baresync::Event<Spin>",
                    false,
                    release_latency::<Event<Spin>>,
                ),
                c(
                    "baresync::Event<Yield>",
                    false,
                    release_latency::<Event<Yield>>,
                ),
                c(
                    "baresync::Event<Futex>",
                    false,
                    release_latency::<Event<Futex>>,
                ),
                c(REFERENCE, true, release_latency::<StdEvent>),
            ],
        });
    }
    Group {
        name: "event",
        title: "event: set → every waiter released",
        reference: REFERENCE,
        experiments,
    }
}
