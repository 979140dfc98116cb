//! Every waiter released, none before `set`, for `Event<W>`.
//!
//! Worker 0 is the setter, the others are waiters, in rounds. For round `r` the setter clears
//! the event, zeroes the round's `arrived` and `released` counters, publishes `r`, waits until
//! every waiter has arrived (each announces itself just before calling `wait`), stores
//! `set_round = r` and only then calls `set()`. Each waiter, once its `wait` returns, checks
//! `set_round >= r`: the wait must synchronize with the `set` that released it, and that `set`
//! comes after the store, so a smaller value means it was released before `set` (a waiter
//! that calls `wait` after `set` legitimately returns at once, and also sees the store). Then
//! it counts itself released; the setter waits for `released == waiters` before the next
//! round, and reports the round as not fully released if that takes more than half the run's
//! progress limit (with the harness still running, the waiters already inside `wait`), then
//! waits on (the watchdog then reports the stuck workers and stops the run).
//!
//! Every eighth round the setter sleeps 2 ms before `set`, so that the waiters are asleep in
//! `W` by then and the wake path is exercised (a setter that always finds them still polling
//! would never notice a backend whose wake does nothing).
//!
//! Waits have no time-based re-check: a waiter calls `wait()` or, every other round,
//! `wait_until` with the scenario's [`Until`](super::Until) deadline, so a `set` that wakes
//! nobody leaves the waiters asleep. The run ends by the release action: the harness calls
//! `set()` after setting its stop flag (or once a worker has left); a waiter that finds the
//! stop (or `done`) flag set after `wait` returns leaves without checking, since that `set`
//! was not a round's.
//!
//! The negative controls: waiters that skip the wait (an event whose `wait` returns at
//! once), and an event whose `set` releases nobody (it does nothing; the harness's release
//! action still calls the real `set`, so the control's workers leave).

use super::{
    checks, Backend, Expect, Outcome, RunCtx, Scenario, ScenarioInfo, SetOnDrop, Tally, Worker,
};
use baresync::{CachePadded, Event, Futex, Spin, Wait, Yield};
use std::marker::PhantomData;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering::SeqCst};
use std::sync::Arc;
use std::time::Instant;

/// A stress scenario for `Event<W>`.
pub struct EventScenario<W> {
    info: ScenarioInfo,
    broken: bool,
    silent_set: bool,
    _w: PhantomData<fn() -> W>,
}

impl<W: Wait + Send + Sync + 'static> EventScenario<W> {
    /// A scenario for a real event.
    pub fn new(name: impl Into<String>, backend: Option<Backend>) -> Self {
        EventScenario {
            info: ScenarioInfo::new(name, "Event", backend),
            broken: false,
            silent_set: false,
            _w: PhantomData,
        }
    }

    /// A negative control run with the real scenario (for a broken backend), expected to trip
    /// `checks`.
    pub fn expecting_failure(mut self, checks: &'static [&'static str]) -> Self {
        self.info.primitive = "control";
        self.info.expect = Expect::Fail(checks);
        self
    }

    /// The negative control: waiters do not wait (an event whose `wait` returns at once).
    pub fn not_waiting(mut self, checks: &'static [&'static str]) -> Self {
        self.broken = true;
        self.info.expect = Expect::Fail(checks);
        self
    }

    /// The negative control: the setter's `set` releases nobody.
    pub fn set_releasing_nobody(mut self, checks: &'static [&'static str]) -> Self {
        self.silent_set = true;
        self.info.expect = Expect::Fail(checks);
        self
    }
}

/// One scenario per backend.
pub fn scenarios() -> Vec<Box<dyn Scenario>> {
    vec![
        Box::new(EventScenario::<Spin>::new(
            "Event<Spin>",
            Some(Backend::Spin),
        )),
        Box::new(EventScenario::<Yield>::new(
            "Event<Yield>",
            Some(Backend::Yield),
        )),
        Box::new(EventScenario::<Futex>::new(
            "Event<Futex>",
            Some(Backend::Futex),
        )),
    ]
}

struct State<W> {
    event: Event<W>,
    broken: bool,
    silent_set: bool,
    release_limit: std::time::Duration,
    round: CachePadded<AtomicU64>,
    set_round: CachePadded<AtomicU64>,
    arrived: CachePadded<AtomicUsize>,
    released: CachePadded<AtomicUsize>,
    done: AtomicBool,
    tally: Tally,
}

impl<W: Wait + Send + Sync + 'static> Scenario for EventScenario<W> {
    fn info(&self) -> ScenarioInfo {
        self.info.clone()
    }

    fn run(&self, ctx: &mut RunCtx<'_>) -> Outcome {
        let state = Arc::new(State::<W> {
            event: Event::with_wait(),
            broken: self.broken,
            silent_set: self.silent_set,
            // Half the progress limit: reported before the watchdog stops the run.
            release_limit: ctx.cfg.progress_limit / 2,
            round: CachePadded::new(AtomicU64::new(0)),
            set_round: CachePadded::new(AtomicU64::new(0)),
            arrived: CachePadded::new(AtomicUsize::new(0)),
            released: CachePadded::new(AtomicUsize::new(0)),
            done: AtomicBool::new(false),
            tally: Tally::default(),
        });
        let releaser = Arc::clone(&state);
        ctx.on_stop(move || releaser.event.set());
        let shared = Arc::clone(&state);
        ctx.run_workers(move |w| {
            let _leaving = SetOnDrop(&shared.done);
            if w.index == 0 {
                setter(&shared, w);
            } else {
                waiter(&shared, w);
            }
        });
        Outcome::new(state.tally.violations())
    }
}

/// Every `ASLEEP_EVERY`-th round the setter waits `ASLEEP_SETTLE` before `set`, so that the
/// waiters are asleep in `W` when it comes (a sleeping backend polls for tens of µs first).
const ASLEEP_EVERY: u64 = 8;
const ASLEEP_SETTLE: std::time::Duration = std::time::Duration::from_millis(2);

// Every atomic here is SeqCst: the scenario's argument is about the order of a handful of
// stores and loads, and the cost is noise next to the waits.

fn setter<W: Wait>(s: &State<W>, w: &mut Worker) {
    let waiters = w.threads - 1;
    let mut r = 0;
    while w.next_op() {
        r += 1;
        s.event.clear();
        s.arrived.store(0, SeqCst);
        s.released.store(0, SeqCst);
        s.round.store(r, SeqCst);
        while s.arrived.load(SeqCst) < waiters {
            if s.done.load(SeqCst) || w.stopping() {
                return;
            }
            std::thread::yield_now();
        }
        w.outside_jitter();
        if r % ASLEEP_EVERY == 0 {
            // Every few rounds, set only once the waiters have had time to fall asleep (far
            // longer than a sleeping backend's polling before it sleeps): otherwise a fast
            // setter always finds them still polling, and the wake path (and a backend whose
            // wake does nothing) would never be exercised.
            std::thread::sleep(ASLEEP_SETTLE);
        }
        s.set_round.store(r, SeqCst);
        if !s.silent_set {
            s.event.set();
        }
        let set_at = Instant::now();
        let mut reported = false;
        while s.released.load(SeqCst) < waiters {
            if s.done.load(SeqCst) || w.stopping() {
                return;
            }
            if !reported && set_at.elapsed() > s.release_limit {
                reported = true;
                let released = s.released.load(SeqCst);
                let limit = s.release_limit;
                s.tally.hit(checks::NOT_RELEASED, || {
                    format!("round {r}: {released} of {waiters} waiters released after {limit:?}")
                });
                // Waits on, so that the watchdog sees the round stuck too.
            }
            std::thread::yield_now();
        }
    }
}

fn waiter<W: Wait>(s: &State<W>, w: &mut Worker) {
    let mut last = 0;
    while w.next_op() {
        let r = loop {
            let r = s.round.load(SeqCst);
            if r > last {
                break r;
            }
            if s.done.load(SeqCst) || w.stopping() {
                return;
            }
            std::hint::spin_loop();
            std::thread::yield_now();
        };
        last = r;
        s.arrived.fetch_add(1, SeqCst);
        if !s.broken {
            if r % 2 == 0 {
                s.event.wait();
            } else if s.event.wait_until(w.until(&s.done)).timed_out() {
                return;
            }
            if s.done.load(SeqCst) || w.stopping() {
                // Released by the harness's `set` (or a `set` we cannot tell from it).
                return;
            }
        }
        let seen = s.set_round.load(SeqCst);
        if seen < r {
            s.tally.hit(checks::EARLY_RELEASE, || {
                format!("a waiter of round {r} returned while the last set was of round {seen}")
            });
        }
        s.released.fetch_add(1, SeqCst);
    }
}
