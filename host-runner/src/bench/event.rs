//! Event: the time from `set` until every waiter has returned from `wait`, for `Event<W>`
//! next to a flag built from `std::sync::Mutex<bool>` + `Condvar::notify_all` (the reference).
//!
//! Thread 0 is the setter. Each iteration it clears the event, lets the waiters in (a
//! generation counter), waits until all of them are about to wait, pauses (the settle), stamps
//! the time and calls `set`. Each waiter stamps the time it returned; the latency is the last
//! stamp minus the set stamp, the median over the iterations of the window. Waiters: one per
//! remaining core, and 2× cores (oversubscribed).
//!
//! Two cases, since a waiter of a sleeping backend polls before it sleeps:
//! - `polled`: a settle of [`SETTLE_POLLED`] (spun), well within baresync's polling budget:
//!   the waiters are still polling when `set` comes (std's waiters sleep at once).
//! - `asleep`: a settle of [`SETTLE_ASLEEP`] (slept), many times the polling budget (64
//!   backoff rounds, tens of µs): every waiter that can sleep is asleep.
//!
//! Each row also carries the CPU time per iteration: the CPU time of every thread inside
//! `wait` and `set` (not the harness's own waiting), summed, divided by the iterations. Wall
//! time says how soon the waiters ran; CPU time says what polling for it cost.

use super::{
    backoff, median, run_window_cpu, Candidate, CpuMeter, Env, Experiment, Group, Sample, Unit,
};
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
        Event::with_wait()
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

/// The settle of the `polled` case: the waiters are polling when `set` comes.
pub const SETTLE_POLLED: Duration = Duration::from_micros(2);
/// The settle of the `asleep` case: far longer than the polling budget (tens of µs).
pub const SETTLE_ASLEEP: Duration = Duration::from_millis(5);

/// A case's window: long enough for [`super::FEW_EVENTS`] settles and more.
pub fn window_for(env: &Env, settle: Duration) -> Env {
    env.with_window(env.window.max(settle * 2 * super::FEW_EVENTS as u32))
}

fn release_latency<E: BenchEvent>(env: &Env, waiters: usize, settle: Duration) -> Sample {
    let env = &window_for(env, settle);
    let asleep = settle >= SETTLE_ASLEEP;
    let ev = CachePadded::new(E::create());
    let gen = AtomicU64::new(0);
    let ready = AtomicU64::new(0);
    let done = AtomicU64::new(0);
    let last_wake = AtomicU64::new(0);
    let quit = AtomicBool::new(false);
    let median_ns = AtomicU64::new(0);
    let rounds_done = AtomicU64::new(0);
    let w = run_window_cpu(env, waiters + 1, |me, stop| {
        let mut cpu = CpuMeter::default();
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
                if asleep {
                    std::thread::sleep(settle);
                } else {
                    let t = Instant::now();
                    while t.elapsed() < settle {
                        std::hint::spin_loop();
                    }
                }
                cpu.start();
                let t0 = env.now_ns();
                ev.set();
                cpu.stop();
                let mut fails = 0;
                while done.load(Acquire) < k * w {
                    backoff(&mut fails);
                }
                latencies.push(last_wake.load(Acquire).saturating_sub(t0) as f64);
            }
            if let Some(m) = median(&latencies) {
                median_ns.store(m as u64, Relaxed);
            }
            rounds_done.store(latencies.len() as u64, Relaxed);
            quit.store(true, Release);
            gen.store(u64::MAX, Release);
            ev.set();
            (k, cpu.total())
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
                cpu.start();
                ev.wait();
                last_wake.fetch_max(env.now_ns(), AcqRel);
                cpu.stop();
                done.fetch_add(1, AcqRel);
            }
            (0, cpu.total())
        }
    });
    // Only the iterations whose waiters all returned are counted (the one the stop
    // interrupted has no latency).
    let rounds = rounds_done.load(Relaxed);
    Sample {
        value: (rounds > 0).then(|| median_ns.load(Relaxed) as f64),
        cpu_ns_per_op: w.cpu_per_op(rounds),
        events: Some(rounds),
        latency: None,
        ..Sample::default()
    }
}

/// The case names: settle, label.
pub const CASES: [(Duration, &str); 2] = [
    (SETTLE_POLLED, "set → all released, polled"),
    (SETTLE_ASLEEP, "set → all released, asleep"),
];

/// The event group for `cores` cores.
pub fn group(cores: usize) -> Group {
    let mut experiments = Vec::new();
    for (settle, case) in CASES {
        for waiters in [cores.saturating_sub(1).max(1), 2 * cores] {
            let c = |name: &str, baseline, f: fn(&Env, usize, Duration) -> Sample| {
                Candidate::new(name, baseline, move |env| f(env, waiters, settle))
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
    }
    Group {
        name: "event",
        title: "event: set → every waiter released, while they poll and once they sleep; CPU \
                time per set",
        reference: REFERENCE,
        experiments,
    }
}
