//! A bounded buffer that loses, duplicates and reorders nothing, and `notify(n)` that never
//! releases more than `n`, for `Condvar<W>`.
//!
//! **Bounded buffer** ([`BufferScenario`]): a `Mutex<Buffer, W>` holding a `VecDeque` of at
//! most [`CAPACITY`] items, with two condition variables, `not_full` and `not_empty`. Even
//! workers produce `(producer, seq)` with `seq` counting from 0, odd workers consume (a single
//! worker does both in turn). Under the lock a consumer checks each producer's `seq` is
//! exactly the last one plus 1: a larger one is a loss ([`checks::EXACTLY_ONCE`]), a smaller
//! one a duplicate or a reordering ([`checks::PRODUCER_FIFO`]). Every wait is timed, with a
//! deadline that expires when the harness stops (or a worker panicked), so nothing hangs when
//! threads outnumber cores. The end is a drain: producers stop at the time bound (or their
//! `--ops` share); the last one sets `stop` under the lock and notifies everyone; consumers
//! leave only when `stop` is set and the buffer is empty, so at the end the number consumed
//! must equal the number produced, per producer.
//!
//! Lost wake-ups: each wait also gives up after [`STALL_LIMIT`]; if by then the harness is
//! still running and the buffer has seen no put and no take for half that limit, a
//! notification was lost ([`checks::LOST_WAKEUP`]): either every party was asleep (consumers
//! on an empty buffer and producers on a full one cannot both be right), or the condition
//! this waiter waits for had been true that long and nobody acted on it (a put or take
//! notifies one waiter of the other side, which then acts within a scheduling quantum). A
//! live buffer can only trip this if the whole machine stalls its threads for that long.
//!
//! **`notify(n)`** ([`NotifyScenario`]): worker 0 notifies, the others wait, in rounds. A
//! waiter takes the lock, increments `waiting`, calls `wait_until` (registering with the
//! condition variable before it releases the lock), and once it has the lock again
//! decrements `waiting`; if it was notified (not timed out) it increments `returns` and checks
//! `returns <= expected`. The notifier, holding the lock, reads `waiting`, picks `n` in
//! `1..=waiting + 1`, calls `notify(n)`, checks the returned count is at most
//! `min(n, waiting)`, and adds `min(n, waiting)` to `expected`, still under the lock; then it
//! waits (bounded by [`RELEASE_LIMIT`]) until `returns == expected` before the next round.
//!
//! Why a correct condition variable never trips it: every waiter still registered with the
//! condition variable is counted in `waiting` (it incremented before registering and
//! decrements only after leaving the wait and re-taking the lock), and no waiter can register
//! or leave-and-count while the notifier holds the lock; so the waiters `notify(n)` may
//! release, those registered and without a grant, number at most `waiting`, and it grants at
//! most `min(n, waiting)` (the library's documented guarantee). Which waiters take the grants
//! does not matter (not FIFO): only totals are compared. A waiter released by a notification
//! re-takes the lock after the notifier's critical section (the grant was made inside it),
//! so that round's `min(n, waiting)` is already in `expected` when it counts itself. Waiters
//! whose deadline expired (harness stop) report a timeout and are not counted; the library
//! guarantees a waiter that took a grant reports "notified", and one that reports a timeout
//! took none. Notified returns are therefore at most the sum of the grants, itself at most
//! `expected`. Conversely, before the harness stops no waiter times out, the previous round
//! is fully taken when the next notification is sent, so every grant of a round is taken and
//! `returns` reaches `expected` (a shortfall after [`RELEASE_LIMIT`] is reported as a
//! notification that released too few).
//!
//! The negative controls: a buffer whose consumers throw away one item in a few hundred, a
//! buffer whose `notify_one` calls are never made (with a short stall limit), and a
//! condition variable whose `notify(n)` calls `notify_all` (and claims to have released at
//! most `n`).

use super::{
    checks, Backend, Expect, Outcome, RunCtx, Scenario, ScenarioInfo, SetOnDrop, Tally, Violation,
    Worker,
};
use baresync::{Condvar, Futex, Mutex, Spin, Wait, Yield};
use std::collections::VecDeque;
use std::marker::PhantomData;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Capacity of the bounded buffer: small, so producers often find it full.
pub const CAPACITY: usize = 4;
/// How long a buffer wait may see nothing happen before it counts as a lost wake-up.
pub const STALL_LIMIT: Duration = Duration::from_secs(2);
/// How long the waiters of a round may take to come back after `notify(n)`.
pub const RELEASE_LIMIT: Duration = Duration::from_secs(2);

/// Both Condvar scenarios with each backend.
pub fn scenarios() -> Vec<Box<dyn Scenario>> {
    vec![
        Box::new(BufferScenario::<Spin>::new(
            "Condvar<Spin> buffer",
            Some(Backend::Spin),
        )),
        Box::new(NotifyScenario::<Spin>::new(
            "Condvar<Spin> notify(n)",
            Some(Backend::Spin),
        )),
        Box::new(BufferScenario::<Yield>::new(
            "Condvar<Yield> buffer",
            Some(Backend::Yield),
        )),
        Box::new(NotifyScenario::<Yield>::new(
            "Condvar<Yield> notify(n)",
            Some(Backend::Yield),
        )),
        Box::new(BufferScenario::<Futex>::new(
            "Condvar<Futex> buffer",
            Some(Backend::Futex),
        )),
        Box::new(NotifyScenario::<Futex>::new(
            "Condvar<Futex> notify(n)",
            Some(Backend::Futex),
        )),
    ]
}

/// Sets a flag when dropped during a panic: partners give up instead of waiting for a worker
/// that is gone.
struct AbortOnPanic<'a>(&'a AtomicBool);

impl Drop for AbortOnPanic<'_> {
    fn drop(&mut self) {
        if std::thread::panicking() {
            // Release: as in `SetOnDrop`.
            self.0.store(true, Ordering::Release);
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Bounded buffer

/// The bounded-buffer stress scenario for `Condvar<W>`.
pub struct BufferScenario<W> {
    info: ScenarioInfo,
    dropping: bool,
    silent: bool,
    stall_limit: Duration,
    _w: PhantomData<fn() -> W>,
}

impl<W: Wait + Send + Sync + 'static> BufferScenario<W> {
    /// A scenario for the real condition variable.
    pub fn new(name: impl Into<String>, backend: Option<Backend>) -> Self {
        BufferScenario {
            info: ScenarioInfo::new(name, "Condvar", backend),
            dropping: false,
            silent: false,
            stall_limit: STALL_LIMIT,
            _w: PhantomData,
        }
    }

    /// The negative control: `notify_one` is never called (every wake-up lost), and a stall
    /// counts after `stall_limit`.
    pub fn not_notifying(mut self, stall_limit: Duration, checks: &'static [&'static str]) -> Self {
        self.info.primitive = "control";
        self.silent = true;
        self.stall_limit = stall_limit;
        self.info.expect = Expect::Fail(checks);
        self
    }

    /// The negative control: consumers throw away an item now and then.
    pub fn dropping_items(mut self, checks: &'static [&'static str]) -> Self {
        self.info.primitive = "control";
        self.dropping = true;
        self.info.expect = Expect::Fail(checks);
        self
    }
}

struct Buffer {
    items: VecDeque<(usize, u64)>,
    /// Per producer: the next `seq` a consumer must see.
    next: Vec<u64>,
    /// Per producer: how many it put.
    produced: Vec<u64>,
    consumed: u64,
    /// When the last put or take happened.
    last_change: Instant,
    producers_left: usize,
    /// Set by the last producer to leave: consumers drain and leave.
    stop: bool,
}

struct BufState<W> {
    buf: Mutex<Buffer, W>,
    not_full: Condvar<W>,
    not_empty: Condvar<W>,
    dropping: bool,
    silent: bool,
    stall_limit: Duration,
    aborted: AtomicBool,
    tally: Tally,
}

impl<W: Wait> BufState<W> {
    /// `cv.notify_one()`, or nothing in the control that loses wake-ups.
    fn notify_one(&self, cv: &Condvar<W>) {
        if !self.silent {
            cv.notify_one();
        }
    }

    /// A wait on the buffer ended by the stall limit: reports a lost wake-up if nothing
    /// happened to the buffer for half that limit and the harness is still running.
    fn stalled(&self, w: &Worker, b: &Buffer, what: &str) {
        let idle = b.last_change.elapsed();
        if idle >= self.stall_limit / 2
            && !b.stop
            && !w.stopping()
            && !self.aborted.load(Ordering::Relaxed)
        {
            let limit = self.stall_limit;
            self.tally.hit(checks::LOST_WAKEUP, || {
                format!(
                    "worker {} waited {limit:?} for {what}; no put or take for {idle:?} \
                     ({} items buffered)",
                    w.index,
                    b.items.len()
                )
            });
        }
    }
}

/// A deadline that expires with `inner` or at `at`, whichever comes first.
struct Stall<D> {
    inner: D,
    at: Instant,
}

impl<D: baresync::Deadline> baresync::Deadline for Stall<D> {
    fn expired(&mut self) -> bool {
        self.inner.expired() || Instant::now() >= self.at
    }

    fn remaining(&self) -> Option<Duration> {
        self.inner.remaining()
    }
}

impl<W: Wait + Send + Sync + 'static> Scenario for BufferScenario<W> {
    fn info(&self) -> ScenarioInfo {
        self.info.clone()
    }

    fn run(&self, ctx: &mut RunCtx<'_>) -> Outcome {
        let threads = ctx.cfg.plan.threads();
        let producers = threads.div_ceil(2);
        let state = Arc::new(BufState::<W> {
            buf: Mutex::new(Buffer {
                items: VecDeque::with_capacity(CAPACITY),
                next: vec![0; threads],
                produced: vec![0; threads],
                consumed: 0,
                last_change: Instant::now(),
                producers_left: producers,
                stop: false,
            }),
            not_full: Condvar::new(),
            not_empty: Condvar::new(),
            dropping: self.dropping,
            silent: self.silent,
            stall_limit: self.stall_limit,
            aborted: AtomicBool::new(false),
            tally: Tally::default(),
        });
        let shared = Arc::clone(&state);
        let finished = ctx.run_workers(move |w| {
            let _abort = AbortOnPanic(&shared.aborted);
            if w.threads == 1 {
                alone(&shared, w);
            } else if w.index % 2 == 0 {
                producer(&shared, w);
            } else {
                consumer(&shared, w);
            }
        });
        let mut violations = state.tally.violations();
        if finished {
            let b = state.buf.lock();
            let produced: u64 = b.produced.iter().sum();
            let mismatched = (0..threads).filter(|&p| b.next[p] != b.produced[p]).count();
            if produced != b.consumed || !b.items.is_empty() || mismatched > 0 {
                violations.push(Violation {
                    check: checks::EXACTLY_ONCE,
                    count: 1,
                    detail: format!(
                        "at the end: {produced} produced, {} consumed, {} left in the buffer, \
                         {mismatched} producers whose last item was not received",
                        b.consumed,
                        b.items.len()
                    ),
                });
            }
        }
        Outcome { violations }
    }
}

/// Checks and records one received item, under the lock.
fn receive<W>(s: &BufState<W>, b: &mut Buffer, (p, seq): (usize, u64)) {
    let want = b.next[p];
    if seq > want {
        s.tally.hit_n(checks::EXACTLY_ONCE, seq - want, || {
            format!("producer {p}: received seq {seq}, expected {want}: items lost")
        });
    } else if seq < want {
        s.tally.hit(checks::PRODUCER_FIFO, || {
            format!(
                "producer {p}: received seq {seq} after {}: duplicate or reordered",
                want - 1
            )
        });
    }
    b.next[p] = b.next[p].max(seq + 1);
    b.consumed += 1;
}

fn producer<W: Wait>(s: &BufState<W>, w: &mut Worker) {
    let me = w.index;
    let mut seq = 0;
    'ops: while w.next_op() {
        w.outside_jitter();
        let mut b = s.buf.lock();
        while b.items.len() >= CAPACITY {
            let deadline = Stall {
                inner: w.until(&s.aborted),
                at: Instant::now() + s.stall_limit,
            };
            let (g, timed_out) = s.not_full.wait_until(b, deadline);
            b = g;
            if timed_out {
                if b.items.len() >= CAPACITY && (w.stopping() || s.aborted.load(Ordering::Relaxed))
                {
                    // The harness stopped (or a partner panicked) while the buffer was full.
                    break 'ops;
                }
                s.stalled(w, &b, "room");
            }
        }
        b.items.push_back((me, seq));
        b.last_change = Instant::now();
        seq += 1;
        b.produced[me] = seq;
        w.race_window();
        s.notify_one(&s.not_empty);
        drop(b);
    }
    let mut b = s.buf.lock();
    b.producers_left -= 1;
    if b.producers_left == 0 {
        b.stop = true;
    }
    // Under the lock, so no consumer can be between its check of `stop` and its wait.
    s.not_empty.notify_all();
    s.not_full.notify_all();
    drop(b);
}

fn consumer<W: Wait>(s: &BufState<W>, w: &mut Worker) {
    loop {
        let mut b = s.buf.lock();
        // Timed: after the harness stops this returns at once, and the loop polls until the
        // last producer has set `stop`, which producers do promptly once stopped.
        if b.items.is_empty() && !b.stop {
            let deadline = Stall {
                inner: w.until(&s.aborted),
                at: Instant::now() + s.stall_limit,
            };
            let (g, timed_out) = s.not_empty.wait_until(b, deadline);
            b = g;
            if timed_out {
                s.stalled(w, &b, "an item");
            }
        }
        let Some(item) = b.items.pop_front() else {
            if b.stop || s.aborted.load(Ordering::Relaxed) {
                return;
            }
            drop(b);
            std::thread::yield_now();
            continue;
        };
        // Counted for the ops column only: consumers drain past the time bound and `--ops`.
        let _ = w.next_op();
        if s.dropping && w.rng.one_in(256) {
            // The broken buffer of the negative control: the item is thrown away.
        } else {
            receive(s, &mut b, item);
        }
        b.last_change = Instant::now();
        w.race_window();
        s.notify_one(&s.not_full);
        drop(b);
        w.outside_jitter();
    }
}

/// A single worker: puts and takes in turn (no partner to wait for).
fn alone<W: Wait>(s: &BufState<W>, w: &mut Worker) {
    let mut seq = 0;
    while w.next_op() {
        let mut b = s.buf.lock();
        b.items.push_back((0, seq));
        seq += 1;
        b.produced[0] = seq;
        if let Some(item) = b.items.pop_front() {
            if !(s.dropping && w.rng.one_in(256)) {
                receive(s, &mut b, item);
            }
        }
    }
}

// ---------------------------------------------------------------------------------------------
// notify(n)

/// The `notify(n)` stress scenario for `Condvar<W>`.
pub struct NotifyScenario<W> {
    info: ScenarioInfo,
    over_release: bool,
    _w: PhantomData<fn() -> W>,
}

impl<W: Wait + Send + Sync + 'static> NotifyScenario<W> {
    /// A scenario for the real condition variable.
    pub fn new(name: impl Into<String>, backend: Option<Backend>) -> Self {
        NotifyScenario {
            info: ScenarioInfo::new(name, "Condvar", backend),
            over_release: false,
            _w: PhantomData,
        }
    }

    /// The negative control: `notify(n)` calls `notify_all` (and reports at most `n`).
    pub fn over_releasing(mut self, checks: &'static [&'static str]) -> Self {
        self.info.primitive = "control";
        self.over_release = true;
        self.info.expect = Expect::Fail(checks);
        self
    }
}

#[derive(Default)]
struct Round {
    /// Waiters between their registration and re-taking the lock after `wait`.
    waiting: u64,
    /// Waiters that returned notified (not timed out).
    returns: u64,
    /// Sum of `min(n, waiting)` over the notifications sent.
    expected: u64,
}

struct NotifyState<W> {
    round: Mutex<Round, W>,
    cv: OverReleasing<W>,
    done: AtomicBool,
    tally: Tally,
}

/// `Condvar<W>`, or, with `broken`, one whose `notify(n)` releases every waiter.
struct OverReleasing<W> {
    cv: Condvar<W>,
    broken: bool,
}

impl<W: Wait> OverReleasing<W> {
    fn notify(&self, n: usize) -> usize {
        if self.broken {
            // The negative control: over-releases, and hides it in the returned count.
            self.cv.notify_all().min(n)
        } else {
            self.cv.notify(n)
        }
    }
}

impl<W: Wait + Send + Sync + 'static> Scenario for NotifyScenario<W> {
    fn info(&self) -> ScenarioInfo {
        self.info.clone()
    }

    fn run(&self, ctx: &mut RunCtx<'_>) -> Outcome {
        let state = Arc::new(NotifyState::<W> {
            round: Mutex::new(Round::default()),
            cv: OverReleasing {
                cv: Condvar::new(),
                broken: self.over_release,
            },
            done: AtomicBool::new(false),
            tally: Tally::default(),
        });
        let shared = Arc::clone(&state);
        ctx.run_workers(move |w| {
            let _leaving = SetOnDrop(&shared.done);
            if w.index == 0 {
                notifier(&shared, w);
            } else {
                waiter(&shared, w);
            }
        });
        Outcome {
            violations: state.tally.violations(),
        }
    }
}

fn gone<W>(s: &NotifyState<W>, w: &Worker) -> bool {
    // Relaxed: a request to give up; it publishes nothing.
    w.stopping() || s.done.load(Ordering::Relaxed)
}

fn notifier<W: Wait>(s: &NotifyState<W>, w: &mut Worker) {
    let waiters = (w.threads - 1) as u64 + helpers(w.threads);
    if waiters == 0 {
        // Nobody to notify: just count that notifying nobody releases nobody.
        while w.next_op() {
            let k = s.cv.notify(1 + w.rng.below(2) as usize);
            if k != 0 {
                s.tally.hit(checks::NOTIFY_COUNT, || {
                    format!("notify with no waiter returned {k}")
                });
            }
        }
        return;
    }
    while w.next_op() {
        w.outside_jitter();
        // Usually wait for every waiter to be registered; sometimes go with whoever is there.
        let everyone = !w.rng.one_in(4);
        let mut r = s.round.lock();
        while r.waiting == 0 || (everyone && r.waiting < waiters) {
            drop(r);
            if gone(s, w) {
                return;
            }
            std::thread::yield_now();
            r = s.round.lock();
        }
        let waiting = r.waiting;
        let n = 1 + u64::from(w.rng.below(waiting as u32 + 1));
        let k = s.cv.notify(n as usize) as u64;
        let want = n.min(waiting);
        if k > want {
            s.tally.hit(checks::NOTIFY_COUNT, || {
                format!("notify({n}) with {waiting} waiting returned {k}")
            });
        }
        r.expected += want;
        let target = r.expected;
        drop(r);
        let sent = Instant::now();
        loop {
            let r = s.round.lock();
            if r.returns >= target {
                break;
            }
            let returns = r.returns;
            drop(r);
            if gone(s, w) {
                return;
            }
            if sent.elapsed() > RELEASE_LIMIT {
                s.tally.hit(checks::NOTIFY_COUNT, || {
                    format!(
                        "notify({n}) with {waiting} waiting: {} of {want} released after \
                         {RELEASE_LIMIT:?}",
                        returns + want - target
                    )
                });
                return;
            }
            std::thread::yield_now();
        }
    }
}

fn waiter<W: Wait>(s: &NotifyState<W>, w: &mut Worker) {
    if w.index != 1 || w.threads != 2 {
        while w.next_op() && wait_once(s, w.until(&s.done)) {
            w.outside_jitter();
        }
        return;
    }
    // With only two workers, one waiter could never see `notify(n)` with `n` below the
    // number waiting: worker 1 brings a helper thread that waits too (unpinned, uncounted).
    let helpers_stop = AtomicBool::new(false);
    std::thread::scope(|scope| {
        scope.spawn(|| {
            let _abort = AbortOnPanic(&s.done);
            while wait_once(s, Flags(&s.done, &helpers_stop)) {}
        });
        while w.next_op() && wait_once(s, w.until(&s.done)) {
            w.outside_jitter();
        }
        // Release: as in `SetOnDrop`.
        helpers_stop.store(true, Ordering::Release);
    });
}

/// Helpers per waiter worker (see [`waiter`]): with two workers, one; otherwise none.
fn helpers(threads: usize) -> u64 {
    u64::from(threads == 2)
}

/// A deadline that expires when either flag is set.
struct Flags<'a>(&'a AtomicBool, &'a AtomicBool);

impl baresync::Deadline for Flags<'_> {
    fn expired(&mut self) -> bool {
        // Relaxed: requests to give up; they publish no data.
        self.0.load(Ordering::Relaxed) || self.1.load(Ordering::Relaxed)
    }

    fn remaining(&self) -> Option<Duration> {
        Some(Duration::from_millis(1))
    }
}

/// One wait of a waiter; false when it timed out (and the waiter should leave).
fn wait_once<W: Wait>(s: &NotifyState<W>, deadline: impl baresync::Deadline) -> bool {
    let mut r = s.round.lock();
    r.waiting += 1;
    let (mut r, timed_out) = s.cv.cv.wait_until(r, deadline);
    r.waiting -= 1;
    if timed_out {
        // Deadline (harness stop or a partner gone): took no notification, not counted.
        return false;
    }
    r.returns += 1;
    if r.returns > r.expected {
        let (returns, expected) = (r.returns, r.expected);
        s.tally.hit(checks::NOTIFY_COUNT, || {
            format!(
                "{returns} waiters released by notifications that may release {expected}: \
                 notify(n) released more than min(n, waiting)"
            )
        });
    }
    true
}
