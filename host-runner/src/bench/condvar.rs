//! Condition variables: ping-pong between two threads on two cores. Each waits (with
//! `wait_while`) for its turn, passes the turn and calls `notify_one`; the value is the time
//! of one round trip (two hand-offs). baresync's `Condvar<W>` over `Mutex<_, W>`, next to
//! `std::sync::Condvar` over `std::sync::Mutex` (the reference) and parking_lot's pair.

use super::{run_window, Candidate, Env, Experiment, Group, Sample, Unit};
use baresync::CachePadded;
use baresync::{Condvar, Futex, Mutex, Spin, Yield};
use std::sync::atomic::{AtomicBool, Ordering::Relaxed};

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
    /// Player `me` (0 or 1) plays until `stop`; returns its moves.
    fn play(&self, me: usize, stop: &AtomicBool) -> u64;
}

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
            m: Mutex::new(Turn::default()),
            cv: Condvar::new(),
        }
    }
    fn play(&self, me: usize, stop: &AtomicBool) -> u64 {
        let mut n = 0;
        loop {
            let g = self.m.lock();
            let mut g = self.cv.wait_while(g, |t| t.turn != me && !t.done);
            let more = step(&mut g, me, stop);
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
    fn play(&self, me: usize, stop: &AtomicBool) -> u64 {
        let unpoison = std::sync::PoisonError::into_inner;
        let mut n = 0;
        loop {
            let g = self.m.lock().unwrap_or_else(unpoison);
            let mut g = self
                .cv
                .wait_while(g, |t| t.turn != me && !t.done)
                .unwrap_or_else(unpoison);
            let more = step(&mut g, me, stop);
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
    fn play(&self, me: usize, stop: &AtomicBool) -> u64 {
        let mut n = 0;
        loop {
            let mut g = self.m.lock();
            self.cv.wait_while(&mut g, |t| t.turn != me && !t.done);
            let more = step(&mut g, me, stop);
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
    let w = run_window(env, 2, |me, stop| pair.play(me, stop));
    let moves: u64 = w.counts.iter().sum();
    Sample {
        // A round trip is two moves.
        value: (moves >= 2).then(|| w.elapsed.as_nanos() as f64 / (moves as f64 / 2.0)),
        ..Sample::default()
    }
}

/// The condvar group.
pub fn group(_cores: usize) -> Group {
    let c = |name: &str, baseline, f: fn(&Env) -> Sample| Candidate::new(name, baseline, f);
    Group {
        name: "condvar",
        title: "condition variable ping-pong: one round trip (two wake-ups)",
        reference: REFERENCE,
        experiments: vec![Experiment {
            case: "ping-pong round trip".into(),
            threads: 2,
            unit: Unit::Ns,
            relative_to_floor: true,
            candidates: vec![
                c(
                    "baresync::Condvar<Spin>",
                    false,
                    ping_pong::<Baresync<Spin>>,
                ),
                c(
                    "baresync::Condvar<Yield>",
                    false,
                    ping_pong::<Baresync<Yield>>,
                ),
                c(
                    "baresync::Condvar<Futex>",
                    false,
                    ping_pong::<Baresync<Futex>>,
                ),
                c(REFERENCE, true, ping_pong::<Std>),
                c("parking_lot::Condvar", true, ping_pong::<ParkingLot>),
            ],
        }],
    }
}
