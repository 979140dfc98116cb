//! Condition variables: ping-pong between two threads on two cores. Each waits (with
//! `wait_while`) for its turn, passes the turn and calls `notify_one`. baresync's
//! `Condvar<W>` over `Mutex<_, W>`, next to `std::sync::Condvar` over `std::sync::Mutex` (the
//! reference) and parking_lot's pair, each used as its documentation shows.
//!
//! Two cases, since baresync's waiters with a sleeping backend poll before they sleep:
//! - `ping-pong, polled`: the turn is passed back at once; the value is the time of one
//!   round trip (two hand-offs). baresync's waiters are still polling when the turn comes, so
//!   they rarely sleep; std's sleep at once.
//! - `hand-off, asleep`: the thread whose turn it is holds it for [`SETTLE_ASLEEP`] (many
//!   times the polling budget) before it passes it, so the other is asleep in `wait_while`;
//!   the value is the median time from passing the turn (under the mutex) to the waiter's
//!   return from `wait_while`: one wake-up.
//!
//! Every row also carries the CPU time of both threads per operation (per round trip, per
//! hand-off), the settle pause left out.

use super::{median, run_window, Candidate, Env, Experiment, Group, Sample, Unit};
use baresync::CachePadded;
use baresync::{Condvar, Futex, Mutex, Spin, Yield};
use std::sync::atomic::{AtomicBool, Ordering::Relaxed};
use std::time::Duration;

/// How long the `asleep` case holds the turn: many times the polling budget (tens of µs).
pub const SETTLE_ASLEEP: Duration = super::event::SETTLE_ASLEEP;

/// Whose turn it is, and whether the game is over.
#[derive(Debug, Default)]
pub struct Turn {
    turn: usize,
    done: bool,
}

/// A mutex and condition variable pair playing ping-pong.
pub trait PingPong: Send + Sync + 'static {
    /// A new pair; player 0 starts.
    fn create() -> Self;
    /// Player `me` (0 or 1) plays until `stop`; returns its moves. `hooks.received` runs
    /// when the turn has come (mutex held), `hooks.passing` just before the mutex is unlocked
    /// after the turn was passed.
    fn play(&self, me: usize, stop: &AtomicBool, hooks: &mut impl Hooks) -> u64;
}

/// What a player does around a move (nothing, in the polled ping-pong).
pub trait Hooks {
    /// The turn has come (the wait returned; the mutex is held).
    fn received(&mut self) {}
    /// The turn is passed; the mutex is about to be unlocked and the other notified.
    fn passing(&mut self) {}
}

/// No hooks.
pub struct NoHooks;
impl Hooks for NoHooks {}

/// One move: returns false when the game is over. Shared by every implementation.
#[inline]
fn step(t: &mut Turn, me: usize, stop: &AtomicBool) -> bool {
    if t.done {
        return false;
    }
    t.turn = 1 - me;
    if stop.load(Relaxed) {
        t.done = true;
    }
    true
}

/// baresync's pair with backend `W`.
pub struct Baresync<W: baresync::Wait> {
    m: Mutex<Turn, W>,
    cv: Condvar<W>,
}

impl<W: baresync::Wait + Send + Sync + 'static> PingPong for Baresync<W> {
    fn create() -> Self {
        Baresync {
            m: Mutex::with_wait(Turn::default()),
            cv: Condvar::with_wait(),
        }
    }
    fn play(&self, me: usize, stop: &AtomicBool, hooks: &mut impl Hooks) -> u64 {
        let mut n = 0;
        loop {
            let g = self.m.lock();
            let mut g = self.cv.wait_while(g, |t| t.turn != me && !t.done);
            if !g.done {
                hooks.received();
            }
            let more = step(&mut g, me, stop);
            if more {
                hooks.passing();
            }
            drop(g);
            if !more {
                self.cv.notify_all();
                return n;
            }
            self.cv.notify_one();
            n += 1;
        }
    }
}

/// std's pair.
pub struct Std {
    m: std::sync::Mutex<Turn>,
    cv: std::sync::Condvar,
}

impl PingPong for Std {
    fn create() -> Self {
        Std {
            m: std::sync::Mutex::new(Turn::default()),
            cv: std::sync::Condvar::new(),
        }
    }
    fn play(&self, me: usize, stop: &AtomicBool, hooks: &mut impl Hooks) -> u64 {
        let unpoison = std::sync::PoisonError::into_inner;
        let mut n = 0;
        loop {
            let g = self.m.lock().unwrap_or_else(unpoison);
            let mut g = self
                .cv
                .wait_while(g, |t| t.turn != me && !t.done)
                .unwrap_or_else(unpoison);
            if !g.done {
                hooks.received();
            }
            let more = step(&mut g, me, stop);
            if more {
                hooks.passing();
            }
            drop(g);
            if !more {
                self.cv.notify_all();
                return n;
            }
            self.cv.notify_one();
            n += 1;
        }
    }
}

/// parking_lot's pair.
pub struct ParkingLot {
    m: parking_lot::Mutex<Turn>,
    cv: parking_lot::Condvar,
}

impl PingPong for ParkingLot {
    fn create() -> Self {
        ParkingLot {
            m: parking_lot::Mutex::new(Turn::default()),
            cv: parking_lot::Condvar::new(),
        }
    }
    fn play(&self, me: usize, stop: &AtomicBool, hooks: &mut impl Hooks) -> u64 {
        let mut n = 0;
        loop {
            let mut g = self.m.lock();
            self.cv.wait_while(&mut g, |t| t.turn != me && !t.done);
            if !g.done {
                hooks.received();
            }
            let more = step(&mut g, me, stop);
            if more {
                hooks.passing();
            }
            drop(g);
            if !more {
                self.cv.notify_all();
                return n;
            }
            self.cv.notify_one();
            n += 1;
        }
    }
}

/// The reference of the ratios.
pub const REFERENCE: &str = "std::sync::Condvar";

fn ping_pong<P: PingPong>(env: &Env) -> Sample {
    let pair = CachePadded::new(P::create());
    let w = run_window(env, 2, |me, stop| pair.play(me, stop, &mut NoHooks));
    let moves: u64 = w.counts.iter().sum();
    // A round trip is two moves.
    let trips = moves / 2;
    Sample {
        value: (trips > 0).then(|| w.busy().as_nanos() as f64 / trips as f64),
        cpu_ns_per_op: w.cpu_per_op(trips),
        events: Some(trips),
        latency: None,
        ..Sample::default()
    }
}

/// The `asleep` case's hooks: holds the turn for the settle, stamps the pass, records the
/// wake-up latency, and keeps the settle's CPU time out of the count.
struct Asleep<'a> {
    env: &'a Env,
    passed_ns: &'a std::sync::atomic::AtomicU64,
    latencies: Vec<f64>,
    settle_cpu: u64,
}

impl Hooks for Asleep<'_> {
    fn received(&mut self) {
        let now = self.env.now_ns();
        let passed = self.passed_ns.load(Relaxed);
        // 0: the first turn of player 0 (nobody passed it).
        if passed != 0 {
            self.latencies.push(now.saturating_sub(passed) as f64);
        }
        let before = super::thread_cpu_ns();
        std::thread::sleep(SETTLE_ASLEEP);
        if let (Some(a), Some(b)) = (before, super::thread_cpu_ns()) {
            self.settle_cpu += b.saturating_sub(a);
        }
    }
    fn passing(&mut self) {
        // The mutex orders this store before the other player's load.
        self.passed_ns.store(self.env.now_ns(), Relaxed);
    }
}

fn asleep<P: PingPong>(env: &Env) -> Sample {
    let env = &super::event::window_for(env, SETTLE_ASLEEP);
    let pair = CachePadded::new(P::create());
    let passed_ns = std::sync::atomic::AtomicU64::new(0);
    let results = std::sync::Mutex::new((Vec::new(), 0u64));
    let w = run_window(env, 2, |me, stop| {
        let mut hooks = Asleep {
            env,
            passed_ns: &passed_ns,
            latencies: Vec::new(),
            settle_cpu: 0,
        };
        let n = pair.play(me, stop, &mut hooks);
        let mut r = results
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        r.0.extend(hooks.latencies);
        r.1 += hooks.settle_cpu;
        n
    });
    let (latencies, settle_cpu) = results
        .into_inner()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    let handoffs = latencies.len() as u64;
    let cpu: Option<u64> = w.cpu_ns.iter().copied().sum();
    Sample {
        value: median(&latencies),
        cpu_ns_per_op: cpu
            .filter(|_| handoffs > 0)
            .map(|c| c.saturating_sub(settle_cpu) as f64 / handoffs as f64),
        events: Some(handoffs),
        latency: None,
        ..Sample::default()
    }
}

/// The case names.
pub const POLLED: &str = "ping-pong round trip, polled";
/// The case names.
pub const ASLEEP: &str = "hand-off, asleep";

/// The condvar group.
pub fn group(_cores: usize) -> Group {
    let c = |name: &str, baseline, f: fn(&Env) -> Sample| Candidate::new(name, baseline, f);
    let candidates = |f: [fn(&Env) -> Sample; 5]| {
        vec![
            c("baresync::Condvar<Spin>", false, f[0]),
            c("baresync::Condvar<Yield>", false, f[1]),
            c("baresync::Condvar<Futex>", false, f[2]),
            c(REFERENCE, true, f[3]),
            c("parking_lot::Condvar", true, f[4]),
        ]
    };
    Group {
        name: "condvar",
        title: "condition variable: ping-pong round trip (two hand-offs) while the waiter \
                polls, and one wake-up of a waiter that sleeps; CPU time per operation",
        reference: REFERENCE,
        experiments: vec![
            Experiment {
                case: POLLED.into(),
                threads: 2,
                unit: Unit::Ns,
                relative_to_floor: true,
                candidates: candidates([
                    ping_pong::<Baresync<Spin>>,
                    ping_pong::<Baresync<Yield>>,
                    ping_pong::<Baresync<Futex>>,
                    ping_pong::<Std>,
                    ping_pong::<ParkingLot>,
                ]),
            },
            Experiment {
                case: ASLEEP.into(),
                threads: 2,
                unit: Unit::Ns,
                relative_to_floor: true,
                candidates: candidates([
                    asleep::<Baresync<Spin>>,
                    asleep::<Baresync<Yield>>,
                    asleep::<Baresync<Futex>>,
                    asleep::<Std>,
                    asleep::<ParkingLot>,
                ]),
            },
        ],
    }
}
