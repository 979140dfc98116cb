//! A bounded buffer that loses, duplicates and reorders nothing, and `notify(n)` that never
//! releases more than `n`, for `Condvar<W>`.
//!
//! **Bounded buffer** ([`BufferScenario`]): a `Mutex<Buffer, W>` holding a `VecDeque` of at
//! most [`CAPACITY`] items, with two condition variables, `not_full` and `not_empty`. Even
//! workers produce `(producer, seq)` with `seq` counting from 0, odd workers consume (a single
//! worker does both in turn). Under the lock a consumer checks each producer's `seq` is
//! exactly the last one plus 1: a larger one is a loss ([`checks::EXACTLY_ONCE`]), a smaller
//! one a duplicate or a reordering ([`checks::PRODUCER_FIFO`]). Waits have no time-based
//! re-check (`wait`, or every other time `wait_until` with the scenario's
//! [`Until`](super::Until) deadline), so a lost wake-up leaves its waiter asleep and the
//! harness's progress watchdog reports it ([`checks::PROGRESS`]): a put or take notifies one
//! waiter of the other side, which then acts within a scheduling quantum, so a live buffer
//! only trips it if the machine stalls a thread for the whole progress limit. The end is a
//! drain: producers stop at the time bound (or their `--ops` share; the release action takes
//! the lock and notifies everyone, and a producer checks the stop flag under the lock before
//! each wait); the last one sets `stop` under the lock and notifies everyone; consumers
//! leave only when `stop` is set and the buffer is empty, so at the end the number consumed
//! must equal the number produced, per producer.
//!
//! **`notify(n)`** ([`NotifyScenario`]): worker 0 notifies, the others wait, in rounds. A
//! waiter takes the lock, increments `waiting`, calls `wait_until` (registering with the
//! condition variable before it releases the lock), and once it has the lock again
//! decrements `waiting`; if it was notified (not timed out) it increments `returns` and checks
//! `returns <= expected`. The notifier, holding the lock, reads `waiting`, picks `n` in
//! `1..=waiting + 1`, calls `notify(n)`, checks the returned count is at most
//! `min(n, waiting)`, and adds `min(n, waiting)` to `expected`, still under the lock; then it
//! waits (bounded by half the run's progress limit) until `returns == expected` before the next round.
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
//! `returns` reaches `expected` (a shortfall after half the run's progress limit is reported as a
//! notification that released too few, [`checks::NOTIFY_RELEASED`]). The release action sets
//! `ending` under the lock and notifies everyone; a waiter that finds `ending` set leaves
//! without counting itself.
//!
//! The negative controls: a buffer whose consumers throw away one item in a few hundred, one
//! whose consumers deliver an item after the next one now and then, a buffer whose
//! `notify_one` calls are never made, a condition variable whose `notify(n)` calls
//! `notify_all` (and claims to have released at most `n`), and one whose `notify(n)` releases
//! `n - 1`.

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
    reordering: bool,
    silent: bool,
    _w: PhantomData<fn() -> W>,
}

impl<W: Wait + Send + Sync + 'static> BufferScenario<W> {
    /// A scenario for the real condition variable.
    pub fn new(name: impl Into<String>, backend: Option<Backend>) -> Self {
        BufferScenario {
            info: ScenarioInfo::new(name, "Condvar", backend),
            dropping: false,
            reordering: false,
            silent: false,
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

    /// The negative control: `notify_one` is never called (every wake-up lost).
    pub fn not_notifying(mut self, checks: &'static [&'static str]) -> Self {
        self.info.primitive = "control";
        self.silent = true;
        self.info.expect = Expect::Fail(checks);
        self
    }

    /// The negative control: consumers now and then hold an item back and deliver it after
    /// the next one.
    pub fn reordering_items(mut self, checks: &'static [&'static str]) -> Self {
        self.info.primitive = "control";
        self.reordering = true;
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
    producers_left: usize,
    /// Set by the last producer to leave: consumers drain and leave.
    stop: bool,
}

struct BufState<W> {
    buf: Mutex<Buffer, W>,
    not_full: Condvar<W>,
    not_empty: Condvar<W>,
    dropping: bool,
    reordering: bool,
    silent: bool,
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

    /// Waits on `cv`: untimed, or (`timed`) with the scenario's flag deadline, which
    /// sleeping backends re-check only when woken.
    fn wait<'a>(
        &self,
        cv: &Condvar<W>,
        b: baresync::LockGuard<'a, baresync::RawMutex<W>, Buffer>,
        w: &Worker,
        timed: bool,
    ) -> baresync::LockGuard<'a, baresync::RawMutex<W>, Buffer> {
        if timed {
            cv.wait_until(b, w.until(&self.aborted)).0
        } else {
            cv.wait(b)
        }
    }
}

impl<W: Wait + Send + Sync + 'static> Scenario for BufferScenario<W> {
    fn info(&self) -> ScenarioInfo {
        self.info.clone()
    }

    fn run(&self, ctx: &mut RunCtx<'_>) -> Outcome {
        let threads = ctx.threads();
        let producers = threads.div_ceil(2);
        let state = Arc::new(BufState::<W> {
            buf: Mutex::with_wait(Buffer {
                items: VecDeque::with_capacity(CAPACITY),
                next: vec![0; threads],
                produced: vec![0; threads],
                consumed: 0,
                producers_left: producers,
                stop: false,
            }),
            not_full: Condvar::with_wait(),
            not_empty: Condvar::with_wait(),
            dropping: self.dropping,
            reordering: self.reordering,
            silent: self.silent,
            aborted: AtomicBool::new(false),
            tally: Tally::default(),
        });
        let releaser = Arc::clone(&state);
        ctx.on_stop(move || {
            // Under the lock: a producer checks the stop flag under it before each wait.
            let b = releaser.buf.lock();
            releaser.not_full.notify_all();
            releaser.not_empty.notify_all();
            drop(b);
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
        Outcome::new(violations)
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
            if w.stopping() || s.aborted.load(Ordering::Relaxed) {
                // The harness stopped (or a partner panicked) while the buffer was full.
                break 'ops;
            }
            b = s.wait(&s.not_full, b, w, seq % 2 == 1);
        }
        b.items.push_back((me, seq));
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
    // The reordering control's item held back, delivered after the next one.
    let mut held = None;
    let mut waits = 0u64;
    loop {
        let mut b = s.buf.lock();
        // Until the last producer has left (it notifies everyone under the lock when it does).
        while b.items.is_empty() && !b.stop && !s.aborted.load(Ordering::Relaxed) {
            waits += 1;
            b = s.wait(&s.not_empty, b, w, waits.is_multiple_of(2));
        }
        let Some(item) = b.items.pop_front() else {
            if let Some(item) = held.take() {
                receive(s, &mut b, item);
            }
            return;
        };
        // Counted for the ops column only: consumers drain past the time bound and `--ops`.
        if !w.next_op() {
            w.progressed();
        }
        if s.dropping && w.rng.one_in(256) {
            // The broken buffer of the negative control: the item is thrown away.
        } else if s.reordering && held.is_none() && w.rng.one_in(64) {
            // The broken buffer of the other control: this item comes after the next one.
            held = Some(item);
        } else {
            receive(s, &mut b, item);
            if let Some(item) = held.take() {
                receive(s, &mut b, item);
            }
        }
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
    under_release: bool,
    _w: PhantomData<fn() -> W>,
}

impl<W: Wait + Send + Sync + 'static> NotifyScenario<W> {
    /// A scenario for the real condition variable.
    pub fn new(name: impl Into<String>, backend: Option<Backend>) -> Self {
        NotifyScenario {
            info: ScenarioInfo::new(name, "Condvar", backend),
            over_release: false,
            under_release: false,
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

    /// The negative control: `notify(n)` releases `n - 1` (and reports `min(n, waiting)`).
    pub fn under_releasing(mut self, checks: &'static [&'static str]) -> Self {
        self.info.primitive = "control";
        self.under_release = true;
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
    /// Set by the release action: waiters leave without counting themselves.
    ending: bool,
}

struct NotifyState<W> {
    round: Mutex<Round, W>,
    cv: OverReleasing<W>,
    release_limit: Duration,
    done: AtomicBool,
    tally: Tally,
}

/// `Condvar<W>`, or, with `broken`, one whose `notify(n)` releases every waiter, or, with
/// `under`, one that releases `n - 1`.
struct OverReleasing<W> {
    cv: Condvar<W>,
    broken: bool,
    under: bool,
}

impl<W: Wait> OverReleasing<W> {
    /// `notify(n)`, called with `waiting` waiters registered.
    fn notify(&self, n: usize, waiting: usize) -> usize {
        if self.broken {
            // The negative control: over-releases, and hides it in the returned count.
            self.cv.notify_all().min(n)
        } else if self.under {
            // The other control: releases one too few and claims the full count.
            self.cv.notify(n - 1);
            n.min(waiting)
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
            round: Mutex::with_wait(Round::default()),
            cv: OverReleasing {
                cv: Condvar::with_wait(),
                broken: self.over_release,
                under: self.under_release,
            },
            // Half the progress limit: reported before the watchdog stops the run.
            release_limit: ctx.cfg.progress_limit / 2,
            done: AtomicBool::new(false),
            tally: Tally::default(),
        });
        let releaser = Arc::clone(&state);
        ctx.on_stop(move || end_round(&releaser));
        let shared = Arc::clone(&state);
        ctx.run_workers(move |w| {
            let _leaving = SetOnDrop(&shared.done);
            if w.index == 0 {
                notifier(&shared, w);
            } else {
                waiter(&shared, w);
            }
        });
        Outcome::new(state.tally.violations())
    }
}

/// The release action: every waiter leaves (without counting itself).
fn end_round<W: Wait>(s: &NotifyState<W>) {
    let mut r = s.round.lock();
    r.ending = true;
    s.cv.cv.notify_all();
    drop(r);
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
            let k = s.cv.notify(1 + w.rng.below(2) as usize, 0);
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
        let k = s.cv.notify(n as usize, waiting as usize) as u64;
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
            if sent.elapsed() > s.release_limit {
                let limit = s.release_limit;
                s.tally.hit(checks::NOTIFY_RELEASED, || {
                    format!(
                        "notify({n}) with {waiting} waiting: {} of {want} released after \
                         {limit:?}",
                        (returns + want).saturating_sub(target)
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
        while w.next_op() {
            let timed = w.rng.one_in(2);
            if !wait_once(s, w.until(&s.done), timed) {
                break;
            }
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
            let mut timed = false;
            while wait_once(s, Flags(&s.done, &helpers_stop), timed) {
                timed = !timed;
            }
        });
        while w.next_op() {
            let timed = w.rng.one_in(2);
            if !wait_once(s, w.until(&s.done), timed) {
                break;
            }
            w.outside_jitter();
        }
        // Release: as in `SetOnDrop`.
        helpers_stop.store(true, Ordering::Release);
        // This worker leaving ends the scenario (its `done` is set on return): end the round
        // now, so that the helper, which it waits for, is not left asleep.
        end_round(s);
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
        // As `Until`: re-checked by sleeping backends only when woken.
        Some(super::UNTIL_REMAINING)
    }
}

/// One wait of a waiter (untimed, or with `deadline` when `timed`); false when it timed out
/// or the round ended (and the waiter should leave).
fn wait_once<W: Wait>(s: &NotifyState<W>, deadline: impl baresync::Deadline, timed: bool) -> bool {
    let mut r = s.round.lock();
    if r.ending {
        return false;
    }
    r.waiting += 1;
    let (mut r, timed_out) = if timed {
        let (r, result) = s.cv.cv.wait_until(r, deadline);
        (r, result.timed_out())
    } else {
        (s.cv.cv.wait(r), false)
    };
    r.waiting -= 1;
    if timed_out || r.ending {
        // Deadline or release action (harness stop or a partner gone): not counted.
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
