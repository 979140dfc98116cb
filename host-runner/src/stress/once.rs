//! `Once`/`OnceCell` run their initializer exactly once, in rounds of fresh cells, and every
//! reader sees the whole value.
//!
//! Every worker takes part in every round. Worker 0 publishes round `r` (fresh cells, behind
//! a `std` mutex); each worker that sees it calls `get_or_init` with an initializer that
//! counts itself in the round's `runs` and returns a value of several words, all equal to a
//! tag naming the round and the worker. On even rounds, every third worker instead waits with
//! `wait()` (only once some initializer has entered, so the round is sure to complete). The
//! initializer widens the race with a short spin, and every eighth round sleeps 2 ms, so that
//! the other workers find it running and wait (with a sleeping backend, asleep: the wake path
//! is exercised). Checks:
//! - **one initializer**: once every worker is done with the round, worker 0 finds `runs`
//!   exactly 1;
//! - **whole value**: what a worker reads has all its words equal, names this round, and is
//!   the same value every other worker of the round read (a partial, stale or second value
//!   is caught).
//!
//! `Once` is checked through the value its closure writes into a row of atomic words (with
//! Relaxed stores and loads: only the `Once` orders them), `OnceCell` through the value in
//! its own slot.
//!
//! Negative controls: a "once" that checks a flag and then sets it (two initializers run), one
//! that publishes its flag before writing the value (readers see a partial value), and
//! `OnceCell<NoopWake>` (waiters asleep are never woken: the watchdog must report it).

use super::{
    checks, Backend, Expect, Outcome, RunCtx, Scenario, ScenarioInfo, SetOnDrop, Tally, Worker,
};
use baresync::{Futex, Once, OnceCell, Spin, Wait, Yield};
use std::marker::PhantomData;
use std::sync::atomic::{
    AtomicBool, AtomicU64, AtomicUsize,
    Ordering::{Relaxed, SeqCst},
};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// Words in the value: a reader that saw some written and some not would find them differ.
const WORDS: usize = 8;

/// The value an initializer creates.
pub type Value = [u64; WORDS];

/// What the scenario needs of a one-time cell (the real ones, and the broken controls).
pub trait OnceUnderTest: Send + Sync + 'static {
    /// An empty cell.
    fn fresh() -> Self;
    /// Runs `make` if no initializer has completed (exactly once, if correct), and returns a
    /// copy of the value.
    fn get_or_init(&self, make: impl FnOnce() -> Value) -> Value;
    /// Waits until initialized, and returns a copy of the value.
    fn wait(&self) -> Value;
}

/// A `Once` guarding a row of atomic words, written by its closure.
pub struct OnceWords<W> {
    once: Once<W>,
    words: [AtomicU64; WORDS],
}

impl<W> OnceWords<W> {
    fn read(&self) -> Value {
        // Relaxed: the `Once` alone must order the closure's stores before these loads.
        core::array::from_fn(|i| self.words[i].load(Relaxed))
    }
}

impl<W: Wait + Send + Sync + 'static> OnceUnderTest for OnceWords<W> {
    fn fresh() -> Self {
        OnceWords {
            once: Once::with_wait(),
            words: Default::default(),
        }
    }
    fn get_or_init(&self, make: impl FnOnce() -> Value) -> Value {
        self.once.call_once(|| {
            for (w, v) in self.words.iter().zip(make()) {
                w.store(v, Relaxed);
            }
        });
        self.read()
    }
    fn wait(&self) -> Value {
        self.once.wait();
        self.read()
    }
}

impl<W: Wait + Send + Sync + 'static> OnceUnderTest for OnceCell<Value, W> {
    fn fresh() -> Self {
        OnceCell::with_wait()
    }
    fn get_or_init(&self, make: impl FnOnce() -> Value) -> Value {
        *OnceCell::get_or_init(self, make)
    }
    fn wait(&self) -> Value {
        *OnceCell::wait(self)
    }
}

/// Negative control: checks a flag, runs the initializer, then sets the flag: two threads
/// that both see it clear both initialize.
pub struct CheckThenSet {
    done: AtomicBool,
    words: [AtomicU64; WORDS],
}

impl OnceUnderTest for CheckThenSet {
    fn fresh() -> Self {
        CheckThenSet {
            done: AtomicBool::new(false),
            words: Default::default(),
        }
    }
    fn get_or_init(&self, make: impl FnOnce() -> Value) -> Value {
        if !self.done.load(SeqCst) {
            for (w, v) in self.words.iter().zip(make()) {
                w.store(v, SeqCst);
            }
            self.done.store(true, SeqCst);
        }
        self.wait()
    }
    fn wait(&self) -> Value {
        core::array::from_fn(|i| self.words[i].load(SeqCst))
    }
}

/// Negative control: exactly one initializer runs (the flag is swapped), but the flag is
/// published before the value is written and nobody waits for it.
pub struct PublishBeforeWrite {
    done: AtomicBool,
    words: [AtomicU64; WORDS],
}

impl OnceUnderTest for PublishBeforeWrite {
    fn fresh() -> Self {
        PublishBeforeWrite {
            done: AtomicBool::new(false),
            words: Default::default(),
        }
    }
    fn get_or_init(&self, make: impl FnOnce() -> Value) -> Value {
        if !self.done.swap(true, SeqCst) {
            for (w, v) in self.words.iter().zip(make()) {
                w.store(v, SeqCst);
            }
        }
        self.wait()
    }
    fn wait(&self) -> Value {
        core::array::from_fn(|i| self.words[i].load(SeqCst))
    }
}

/// A stress scenario for one-time initialization through `C`.
pub struct OnceScenario<C> {
    info: ScenarioInfo,
    _c: PhantomData<fn() -> C>,
}

impl<C: OnceUnderTest> OnceScenario<C> {
    /// A scenario for a real cell, in family `primitive`.
    pub fn new(name: impl Into<String>, primitive: &'static str, backend: Option<Backend>) -> Self {
        OnceScenario {
            info: ScenarioInfo::new(name, primitive, backend),
            _c: PhantomData,
        }
    }

    /// A negative control, expected to trip `checks`.
    pub fn expecting_failure(mut self, checks: &'static [&'static str]) -> Self {
        self.info.primitive = "control";
        self.info.expect = Expect::Fail(checks);
        self
    }
}

/// One scenario per backend, for `Once` and `OnceCell`.
pub fn scenarios() -> Vec<Box<dyn Scenario>> {
    vec![
        Box::new(OnceScenario::<OnceWords<Spin>>::new(
            "Once<Spin>",
            "Once",
            Some(Backend::Spin),
        )),
        Box::new(OnceScenario::<OnceWords<Yield>>::new(
            "Once<Yield>",
            "Once",
            Some(Backend::Yield),
        )),
        Box::new(OnceScenario::<OnceWords<Futex>>::new(
            "Once<Futex>",
            "Once",
            Some(Backend::Futex),
        )),
        Box::new(OnceScenario::<OnceCell<Value, Spin>>::new(
            "OnceCell<Spin>",
            "Once",
            Some(Backend::Spin),
        )),
        Box::new(OnceScenario::<OnceCell<Value, Yield>>::new(
            "OnceCell<Yield>",
            "Once",
            Some(Backend::Yield),
        )),
        Box::new(OnceScenario::<OnceCell<Value, Futex>>::new(
            "OnceCell<Futex>",
            "Once",
            Some(Backend::Futex),
        )),
    ]
}

/// One round: a fresh cell and what the workers saw of it.
struct Round<C> {
    id: u64,
    cell: C,
    /// Initializers that ran.
    runs: AtomicUsize,
    /// Workers that have called `get_or_init` (after which the round is sure to complete).
    entered: AtomicUsize,
    /// Workers done with the round.
    finished: AtomicUsize,
    /// The first value a worker read (all must read the same); 0 until then.
    first_seen: AtomicU64,
}

impl<C: OnceUnderTest> Round<C> {
    fn new(id: u64) -> Self {
        Round {
            id,
            cell: C::fresh(),
            runs: AtomicUsize::new(0),
            entered: AtomicUsize::new(0),
            finished: AtomicUsize::new(0),
            first_seen: AtomicU64::new(0),
        }
    }
}

struct State<C> {
    round: Mutex<Arc<Round<C>>>,
    done: AtomicBool,
    tally: Tally,
}

impl<C> State<C> {
    fn current(&self) -> Arc<Round<C>> {
        Arc::clone(&self.round.lock().unwrap_or_else(|e| e.into_inner()))
    }
}

/// Every `ASLEEP_EVERY`-th round the initializer sleeps `ASLEEP_SETTLE`, so that the others
/// find it running and wait long enough to sleep in `W`.
const ASLEEP_EVERY: u64 = 8;
const ASLEEP_SETTLE: Duration = Duration::from_millis(2);

/// The tag of round `round`'s value made by worker `index`: never 0.
fn tag(round: u64, index: usize) -> u64 {
    (round << 16) | (index as u64 + 1)
}

impl<C: OnceUnderTest> Scenario for OnceScenario<C> {
    fn info(&self) -> ScenarioInfo {
        self.info.clone()
    }

    fn run(&self, ctx: &mut RunCtx<'_>) -> Outcome {
        let state = Arc::new(State::<C> {
            round: Mutex::new(Arc::new(Round::new(1))),
            done: AtomicBool::new(false),
            tally: Tally::default(),
        });
        let shared = Arc::clone(&state);
        ctx.run_workers(move |w| {
            let _leaving = SetOnDrop(&shared.done);
            worker(&shared, w);
        });
        Outcome::new(state.tally.violations())
    }
}

// Every scenario atomic is SeqCst (except the value's words inside `OnceWords`, which only
// the `Once` may order): the argument is about a handful of counters, and the cost is noise
// next to the initializer's spins and sleeps.

fn worker<C: OnceUnderTest>(s: &State<C>, w: &mut Worker) {
    let threads = w.threads;
    let mut last = 0;
    while w.next_op() {
        let round = loop {
            let round = s.current();
            if round.id > last {
                break round;
            }
            if s.done.load(SeqCst) || w.stopping() {
                return;
            }
            std::thread::yield_now();
        };
        last = round.id;
        w.outside_jitter();
        let value = if round.id % 2 == 0 && w.index % 3 == 2 {
            // Wait only once an initializer has entered: the round is then sure to complete.
            while round.entered.load(SeqCst) == 0 {
                if s.done.load(SeqCst) || w.stopping() {
                    return;
                }
                std::thread::yield_now();
            }
            round.cell.wait()
        } else {
            round.entered.fetch_add(1, SeqCst);
            let mine = tag(round.id, w.index);
            round.cell.get_or_init(|| {
                round.runs.fetch_add(1, SeqCst);
                w.race_window();
                if round.id % ASLEEP_EVERY == 0 {
                    std::thread::sleep(ASLEEP_SETTLE);
                }
                [mine; WORDS]
            })
        };
        check_value(s, &round, &value);
        round.finished.fetch_add(1, SeqCst);
        if w.index == 0 {
            // The coordinator: once everyone is done, check the count and start a new round.
            while round.finished.load(SeqCst) < threads {
                if s.done.load(SeqCst) || w.stopping() {
                    return;
                }
                std::thread::yield_now();
            }
            let runs = round.runs.load(SeqCst);
            if runs != 1 {
                s.tally.hit(checks::ONE_INITIALIZER, || {
                    format!("round {}: {runs} initializers ran", round.id)
                });
            }
            *s.round.lock().unwrap_or_else(|e| e.into_inner()) = Arc::new(Round::new(round.id + 1));
        }
    }
}

/// The value a worker read must be whole, of this round, and the one every other worker read.
fn check_value<C>(s: &State<C>, round: &Round<C>, value: &Value) {
    let whole = value.iter().all(|&v| v == value[0]) && value[0] >> 16 == round.id;
    if !whole {
        s.tally.hit(checks::WHOLE_VALUE, || {
            format!(
                "round {}: read a partial or stale value {value:x?}",
                round.id
            )
        });
        return;
    }
    if let Err(first) = round
        .first_seen
        .compare_exchange(0, value[0], SeqCst, SeqCst)
    {
        if first != value[0] {
            s.tally.hit(checks::WHOLE_VALUE, || {
                format!(
                    "round {}: read {:#x}, another worker read {first:#x}",
                    round.id, value[0]
                )
            });
        }
    }
}
