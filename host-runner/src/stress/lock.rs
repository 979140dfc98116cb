//! Mutual exclusion stress for every `Lock<R, T>`, the FIFO check for ticket locks, and the
//! starvation-bound check for `FairLock`.
//!
//! Each worker repeatedly locks and, inside the critical section:
//! 1. increments an occupancy counter and records a violation if it saw anyone else inside;
//! 2. reads a plain (non-atomic) `u64` in the lock's data, spins a random moment (the race
//!    window), writes it back plus one;
//! 3. decrements the occupancy counter.
//!
//! At the end the plain counter must equal the number of acquisitions: a lost update means two
//! critical sections overlapped, or one did not see the previous one's write (a missing
//! acquire/release edge).
//!
//! `lock()` is untimed: a lost wake-up leaves its waiter asleep for the harness's progress
//! watchdog to report (the `NoopWake` controls).
//!
//! # The FIFO check
//!
//! A ticket lock serves in the order tickets are taken, but the ticket is taken inside
//! `lock()`, out of our sight: a worker that notes "I arrived" just before calling `lock()`
//! can be preempted before taking its ticket and be overtaken legitimately, so comparing
//! arrival stamps gives false positives, and so does "at most N−1 overtakes" (a preempted
//! worker can be overtaken any number of times before it takes its ticket).
//!
//! What is sound is to compare only with workers that are *known* to hold a ticket. The
//! ticket lock has a test hook for that, [`RawTicketLock::lock_stamped`]: right after it
//! draws the ticket, it takes a stamp `q` from the scenario's arrival counter (`fetch_add`,
//! Release) and publishes it in the worker's slot, plain atomics with no user code in between.
//! Every worker takes an arrival stamp `a` (`fetch_add`, Acquire) before calling the lock,
//! and inside the critical section clears its own slot and looks at everyone else's: a slot
//! holding `q < a` is a worker that was queued before we arrived and has not been served yet,
//! and that is a FIFO violation. Why there are no false positives:
//! - `q < a` means the `q` stamp precedes the `a` stamp in the counter's modification order;
//!   every write to the counter is a read-modify-write, so the Acquire `a` reads from the
//!   release sequence of the Release `q` and synchronizes with it. The queued worker's ticket
//!   `fetch_add` is sequenced before `q`, ours after `a`, so its ticket happens-before ours,
//!   and coherence of the ticket counter makes its ticket the earlier one.
//! - A slot is cleared by its owner inside its own critical section; if that critical section
//!   came before ours, the lock's release/acquire edge makes the clear visible to us, so a
//!   stamp we read belongs to a `lock()` call not yet served.
//!
//! It can miss violations (a stamp published late), never invent one. Stamping at the draw
//! (rather than when the waiter first sleeps, as a wait-backend probe would) leaves only the
//! two instructions between the draw and the store unobserved; the FIFO scenarios also run at
//! least [`FIFO_WORKERS`] workers, so that a holder usually has someone queued behind it. The
//! report notes how many critical sections saw another worker queued. The check is shown to
//! fail on an unfair lock (`RawMutex`, which lets a newcomer barge past sleepers, stamped by
//! [`Probe<W>`] when it first waits) in the controls.

//!
//! # The starvation-bound check
//!
//! `FairLock` promises that a `lock` caller, once queued, is overtaken by at most
//! T·(K + 1) − 1 acquisitions with T threads using the lock (K its `MAX_BYPASSES`). Every
//! acquisition takes a number from a shared counter inside its critical section (SeqCst
//! `fetch_add`); the lock's test hook [`RawFairLock::lock_counted`] reads the counter right
//! after the worker joins the queue, so the difference is the number of acquisitions that
//! overtook it (plus at most the one in progress when it joined: the check allows T·(K + 1)).
//! Reading the counter before calling `lock` would not do: a worker preempted between that
//! read and its joining is overtaken legitimately, any number of times. The report gives the
//! worst overtake count and the worst wait (from calling `lock` to holding it). The control
//! `FairLock starving worker 0` must trip the check.

use super::{checks, Backend, Expect, Outcome, RunCtx, Scenario, ScenarioInfo, Violation, Worker};
use baresync::sync::atomic::AtomicU32;
use baresync::{
    CachePadded, Deadline, Futex, Lock, RawFairLock, RawLock, RawMcsLock, RawMutex, RawSpinLock,
    RawTicketLock, Spin, Wait, Yield,
};
use std::cell::{Cell, RefCell, UnsafeCell};
use std::marker::PhantomData;
use std::ptr;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Instant;

/// The FIFO scenarios run at least this many workers: with two, the only other worker is
/// usually the holder, and there is rarely anyone queued to compare with.
pub const FIFO_WORKERS: usize = 3;

/// The data behind the lock under test.
#[derive(Default)]
pub struct Data {
    /// Incremented non-atomically, with a race window between the read and the write.
    counter: UnsafeCell<u64>,
}

// SAFETY: `counter` is only accessed by a thread holding the lock around it (the scenario's
// invariant under test); the negative control breaks that on purpose, see `control`.
unsafe impl Sync for Data {}

/// A lock that the FIFO check can watch: it publishes a "queued" stamp once its place in line
/// is fixed (see the module doc).
pub trait Stamped: RawLock {
    /// Locks; once queued, stores `stamps.fetch_add(1, Release)` into `slot`.
    fn lock_stamped(&self, stamps: &AtomicU64, slot: &AtomicU64);
}

impl<W: Wait> Stamped for RawTicketLock<W> {
    fn lock_stamped(&self, stamps: &AtomicU64, slot: &AtomicU64) {
        RawTicketLock::lock_stamped(self, stamps, slot);
    }
}

impl<W: Wait> Stamped for RawMutex<Probe<W>> {
    fn lock_stamped(&self, _stamps: &AtomicU64, _slot: &AtomicU64) {
        // The probe publishes the stamp when this call first waits (see `note_waiting`).
        QUEUED_THIS_CALL.set(false);
        self.lock();
    }
}

/// [`Stamped::lock_stamped`] of `R`, kept as a function so that locks without it can share
/// the scenario.
type LockStamped<R> = fn(&R, &AtomicU64, &AtomicU64);

/// A lock with a starvation bound that the bound check can watch.
pub trait Counted: RawLock {
    /// The bypass limit K of the bound T·(K + 1) − 1.
    const MAX_BYPASSES: u32;
    /// The bypass count at which a running head closes the gate (reported, not checked: it
    /// holds only while the head runs).
    const GATE_AFTER: u32;
    /// Locks; returns `None` when it did not queue, or the counter read right after
    /// queueing (see [`RawFairLock::lock_counted`]). `worker` is the caller's index.
    fn lock_counted(&self, count: &AtomicU64, worker: usize) -> Option<u64>;
}

impl<W: Wait> Counted for RawFairLock<W> {
    const MAX_BYPASSES: u32 = RawFairLock::<W>::MAX_BYPASSES;
    const GATE_AFTER: u32 = RawFairLock::<W>::GATE_AFTER;
    fn lock_counted(&self, count: &AtomicU64, _worker: usize) -> Option<u64> {
        RawFairLock::lock_counted(self, count)
    }
}

/// [`Counted::lock_counted`] of `R`, its K and its `GATE_AFTER`.
type LockCounted<R> = (fn(&R, &AtomicU64, usize) -> Option<u64>, u32, u32);

/// A stress scenario for the lock `Lock<R, ()>` around [`Data`].
pub struct LockScenario<R> {
    info: ScenarioInfo,
    lock_stamped: Option<LockStamped<R>>,
    lock_counted: Option<LockCounted<R>>,
    /// At least this many workers (0: the run's own count).
    min_workers: usize,
    _raw: PhantomData<fn() -> R>,
}

impl<R: RawLock + Send + Sync + 'static> LockScenario<R> {
    /// A scenario for a real lock, without the FIFO check.
    pub fn new(name: impl Into<String>, primitive: &'static str, backend: Option<Backend>) -> Self {
        LockScenario {
            info: ScenarioInfo::new(name, primitive, backend),
            lock_stamped: None,
            lock_counted: None,
            min_workers: 0,
            _raw: PhantomData,
        }
    }

    /// A scenario for a lock with a starvation bound: adds the bound check, with at least
    /// two workers.
    pub fn bounded(
        name: impl Into<String>,
        primitive: &'static str,
        backend: Option<Backend>,
    ) -> Self
    where
        R: Counted,
    {
        LockScenario {
            info: ScenarioInfo::new(name, primitive, backend),
            lock_stamped: None,
            min_workers: 0,
            lock_counted: Some((<R as Counted>::lock_counted, R::MAX_BYPASSES, R::GATE_AFTER)),
            _raw: PhantomData,
        }
    }

    /// A scenario for a FIFO lock: adds the FIFO check, with at least [`FIFO_WORKERS`]
    /// workers.
    pub fn fifo(name: impl Into<String>, primitive: &'static str, backend: Option<Backend>) -> Self
    where
        R: Stamped,
    {
        LockScenario {
            info: ScenarioInfo::new(name, primitive, backend),
            lock_stamped: Some(<R as Stamped>::lock_stamped),
            lock_counted: None,
            min_workers: 0,
            _raw: PhantomData,
        }
    }

    /// The same scenario, expected to fail the given checks (a negative control).
    pub fn expecting_failure(mut self, checks: &'static [&'static str]) -> Self {
        self.info.expect = Expect::Fail(checks);
        self
    }

    /// The same scenario with at least `n` workers, whatever the run's thread count.
    pub fn with_workers(mut self, n: usize) -> Self {
        self.min_workers = n;
        self
    }
}

/// The locks under test, one scenario per lock and backend.
pub fn scenarios() -> Vec<Box<dyn Scenario>> {
    vec![
        Box::new(LockScenario::<RawSpinLock>::new(
            "SpinLock",
            "SpinLock",
            Some(Backend::Spin),
        )),
        Box::new(LockScenario::<RawTicketLock<Spin>>::fifo(
            "TicketLock<Spin>",
            "TicketLock",
            Some(Backend::Spin),
        )),
        Box::new(LockScenario::<RawTicketLock<Yield>>::fifo(
            "TicketLock<Yield>",
            "TicketLock",
            Some(Backend::Yield),
        )),
        Box::new(LockScenario::<RawTicketLock<Futex>>::fifo(
            "TicketLock<Futex>",
            "TicketLock",
            Some(Backend::Futex),
        )),
        Box::new(LockScenario::<RawMcsLock>::new(
            "McsLock",
            "McsLock",
            Some(Backend::Spin),
        )),
        Box::new(LockScenario::<RawFairLock<Spin>>::bounded(
            "FairLock<Spin>",
            "FairLock",
            Some(Backend::Spin),
        )),
        Box::new(LockScenario::<RawFairLock<Yield>>::bounded(
            "FairLock<Yield>",
            "FairLock",
            Some(Backend::Yield),
        )),
        Box::new(LockScenario::<RawFairLock<Futex>>::bounded(
            "FairLock<Futex>",
            "FairLock",
            Some(Backend::Futex),
        )),
        Box::new(LockScenario::<RawMutex<Spin>>::new(
            "Mutex<Spin>",
            "Mutex",
            Some(Backend::Spin),
        )),
        Box::new(LockScenario::<RawMutex<Yield>>::new(
            "Mutex<Yield>",
            "Mutex",
            Some(Backend::Yield),
        )),
        Box::new(LockScenario::<RawMutex<Futex>>::new(
            "Mutex<Futex>",
            "Mutex",
            Some(Backend::Futex),
        )),
    ]
}

/// Shared state of one run of a lock scenario.
struct State<R: RawLock> {
    lock: Lock<R, ()>,
    /// Workers inside the critical section right now.
    occupancy: CachePadded<AtomicUsize>,
    /// Entries that found someone else inside.
    overlaps: AtomicU64,
    /// The highest occupancy seen.
    max_occupancy: AtomicUsize,
    /// The FIFO state and the stamped lock call, for the FIFO scenarios.
    fifo: Option<(Arc<FifoState>, LockStamped<R>)>,
    /// The bound state and the counted lock call, for the bounded scenarios.
    bound: Option<(BoundState, LockCounted<R>)>,
    /// The data the lock protects, outside the `Lock` so the stamped raw lock can reach it.
    data: Data,
}

impl<R: RawLock> State<R> {
    fn data(&self) -> &Data {
        &self.data
    }
}

/// The acquisition counter and the worst cases of the starvation-bound check.
#[derive(Default)]
pub struct BoundState {
    /// Acquisitions so far; each takes its number inside its critical section.
    count: CachePadded<AtomicU64>,
    /// The most acquisitions that overtook one queued worker.
    worst_overtakes: AtomicU64,
    /// The longest time from calling `lock` to holding it, ns.
    worst_wait_ns: AtomicU64,
    /// Acquisitions that queued.
    queued: AtomicU64,
    /// Queued acquisitions overtaken more than T·(`GATE_AFTER` + 1) times: their head was
    /// not running when its gate was due (the hard limit served them).
    past_gate: AtomicU64,
    /// Acquisitions over the bound, and the first, for the report.
    over: AtomicU64,
    first: std::sync::Mutex<Option<String>>,
}

/// Arrival stamps and per-worker "queued since" slots for the FIFO check.
pub struct FifoState {
    /// Source of arrival and queued stamps; only ever changed by `fetch_add`.
    stamps: CachePadded<AtomicU64>,
    /// Per worker: the stamp taken once it was queued in the current `lock()` call, or
    /// [`NOT_QUEUED`].
    queued: Box<[CachePadded<AtomicU64>]>,
    /// Critical sections that found an earlier-queued worker still unserved.
    violations: AtomicU64,
    /// Critical sections that found at least one other worker queued (before or after them).
    saw_queued: AtomicU64,
    /// Critical sections checked.
    checked: AtomicU64,
    /// The first one, for the report.
    first: std::sync::Mutex<Option<String>>,
}

const NOT_QUEUED: u64 = u64::MAX;

impl FifoState {
    fn new(workers: usize) -> Self {
        FifoState {
            stamps: CachePadded::new(AtomicU64::new(0)),
            queued: (0..workers)
                .map(|_| CachePadded::new(AtomicU64::new(NOT_QUEUED)))
                .collect(),
            violations: AtomicU64::new(0),
            saw_queued: AtomicU64::new(0),
            checked: AtomicU64::new(0),
            first: std::sync::Mutex::new(None),
        }
    }
}

thread_local! {
    /// The FIFO state and worker index of this thread while it runs a FIFO scenario.
    static PROBE: RefCell<Option<(Arc<FifoState>, usize)>> = const { RefCell::new(None) };
    /// Whether this thread's current `lock()` call has already published its queued stamp.
    static QUEUED_THIS_CALL: Cell<bool> = const { Cell::new(false) };
}

/// Called by [`Probe`] when the current thread is about to wait inside a lock: it holds a
/// ticket now (a lock waits only after queueing), so publish a queued stamp, once per call.
fn note_waiting() {
    if QUEUED_THIS_CALL.get() {
        return;
    }
    PROBE.with_borrow(|probe| {
        if let Some((fifo, index)) = probe {
            QUEUED_THIS_CALL.set(true);
            // ORDERING: Release heads a release sequence that an arriving worker's Acquire
            // `fetch_add` reads from when its stamp is larger, so our ticket `fetch_add`
            // (sequenced before this) happens-before its ticket `fetch_add`.
            let q = fifo.stamps.fetch_add(1, Ordering::Release);
            // Relaxed: the stamp value carries the meaning (see the module doc); coherence with
            // our own later clear is all the check needs.
            fifo.queued[*index].store(q, Ordering::Relaxed);
        }
    });
}

/// A wait backend that forwards to `W` and tells the FIFO check when a thread starts waiting:
/// how the "Mutex as FIFO" control publishes its queued stamps (a mutex has no ticket).
///
/// Behaves exactly as `W` otherwise (including `WAKE_IS_NOOP`); the probe adds one
/// thread-local read per wait and one `fetch_add` per contended acquisition.
pub struct Probe<W>(PhantomData<W>);

// SAFETY: only reads the word it is given (or passes its address on); never writes it.
unsafe impl<W: Wait> Wait for Probe<W> {
    const WAKE_IS_NOOP: bool = W::WAKE_IS_NOOP;

    fn wait(atomic: &AtomicU32, expected: u32) {
        note_waiting();
        W::wait(atomic, expected);
    }

    fn wait_until(atomic: &AtomicU32, expected: u32, deadline: &mut impl Deadline) -> bool {
        note_waiting();
        W::wait_until(atomic, expected, deadline)
    }

    fn wake_one(atomic: &AtomicU32) {
        W::wake_one(atomic);
    }

    fn wake_all(atomic: &AtomicU32) {
        W::wake_all(atomic);
    }
}

impl<R: RawLock + Send + Sync + 'static> Scenario for LockScenario<R> {
    fn info(&self) -> ScenarioInfo {
        self.info.clone()
    }

    fn run(&self, ctx: &mut RunCtx<'_>) -> Outcome {
        if self.lock_stamped.is_some() {
            ctx.require_workers(FIFO_WORKERS);
        }
        if self.lock_counted.is_some() {
            ctx.require_workers(2);
        }
        if self.min_workers > 0 {
            ctx.require_workers(self.min_workers.max(ctx.threads()));
        }
        let threads = ctx.threads();
        let state = Arc::new(State::<R> {
            lock: Lock::with_raw(()),
            data: Data::default(),
            occupancy: CachePadded::new(AtomicUsize::new(0)),
            overlaps: AtomicU64::new(0),
            max_occupancy: AtomicUsize::new(0),
            fifo: self
                .lock_stamped
                .map(|f| (Arc::new(FifoState::new(threads)), f)),
            bound: self.lock_counted.map(|c| (BoundState::default(), c)),
        });
        let shared = Arc::clone(&state);
        let finished = ctx.run_workers(move |w| worker(&shared, w));

        let mut outcome = Outcome::default();
        // Relaxed: the workers were joined (or, after a hang, this is a best-effort snapshot).
        let overlaps = state.overlaps.load(Ordering::Relaxed);
        if overlaps > 0 {
            outcome.violations.push(Violation {
                check: checks::MUTUAL_EXCLUSION,
                count: overlaps,
                detail: format!(
                    "{overlaps} entries found another worker inside; up to {} at once",
                    state.max_occupancy.load(Ordering::Relaxed)
                ),
            });
        }
        if finished {
            let ops = ctx.ops();
            let guard = state.lock.lock();
            // SAFETY: the lock is held (and every worker has finished).
            let counter = unsafe { *state.data().counter.get() };
            drop(guard);
            if counter != ops {
                outcome.violations.push(Violation {
                    check: checks::LOST_UPDATES,
                    count: ops.abs_diff(counter),
                    detail: format!("counter is {counter} after {ops} acquisitions"),
                });
            }
        }
        if let Some((fifo, _)) = &state.fifo {
            let n = fifo.violations.load(Ordering::Relaxed);
            let checked = fifo.checked.load(Ordering::Relaxed);
            let saw = fifo.saw_queued.load(Ordering::Relaxed);
            outcome.notes.push(format!(
                "fifo order: {saw} of {checked} critical sections saw another worker queued \
                 ({threads} workers)"
            ));
            if n > 0 {
                let first = fifo
                    .first
                    .lock()
                    .map(|f| f.clone().unwrap_or_default())
                    .unwrap_or_default();
                outcome.violations.push(Violation {
                    check: checks::FIFO,
                    count: n,
                    detail: format!("{n} acquisitions overtook a queued worker; first: {first}"),
                });
            }
        }
        if let Some((b, (_, k, gate))) = &state.bound {
            let bound = threads as u64 * (u64::from(*k) + 1);
            let worst = b.worst_overtakes.load(Ordering::Relaxed);
            outcome.notes.push(format!(
                "starvation bound: worst {worst} acquisitions overtook a queued worker (bound \
                 {bound} = {threads} workers x (K + 1), K = {k}); worst wait {:.1} us; {} of \
                 {} acquisitions queued; {} of those overtaken more than {} = {threads} x \
                 (GATE_AFTER + 1) times (the head was not running when its gate was due)",
                b.worst_wait_ns.load(Ordering::Relaxed) as f64 / 1e3,
                b.queued.load(Ordering::Relaxed),
                b.count.load(Ordering::Relaxed),
                b.past_gate.load(Ordering::Relaxed),
                threads as u64 * (u64::from(*gate) + 1),
            ));
            let over = b.over.load(Ordering::Relaxed);
            if over > 0 {
                let first = b
                    .first
                    .lock()
                    .map(|f| f.clone().unwrap_or_default())
                    .unwrap_or_default();
                outcome.violations.push(Violation {
                    check: checks::STARVATION_BOUND,
                    count: over,
                    detail: format!(
                        "{over} acquisitions came after more than {bound} others had \
                         overtaken them (worst {worst}); first: {first}"
                    ),
                });
            }
        }
        outcome
    }
}

/// Inside the critical section of a bounded scenario: number this acquisition and compare
/// with the number read when the worker queued.
fn check_bound(
    b: &BoundState,
    (k, gate): (u32, u32),
    threads: usize,
    me: usize,
    joined: Option<u64>,
    t0: Instant,
) {
    // ORDERING: SeqCst, to be in one order with the hook's SeqCst fence and read (see the
    // module doc).
    let at = b.count.fetch_add(1, Ordering::SeqCst);
    // Relaxed: statistics, read after the workers are joined.
    b.worst_wait_ns
        .fetch_max(t0.elapsed().as_nanos() as u64, Ordering::Relaxed);
    let Some(joined) = joined else { return };
    b.queued.fetch_add(1, Ordering::Relaxed);
    let overtakes = at.saturating_sub(joined);
    b.worst_overtakes.fetch_max(overtakes, Ordering::Relaxed);
    if overtakes > threads as u64 * (u64::from(gate) + 1) {
        b.past_gate.fetch_add(1, Ordering::Relaxed);
    }
    let bound = threads as u64 * (u64::from(k) + 1);
    if overtakes > bound {
        b.over.fetch_add(1, Ordering::Relaxed);
        if let Ok(mut first) = b.first.try_lock() {
            first.get_or_insert_with(|| {
                format!("worker {me} queued at acquisition {joined}, acquired as number {at}")
            });
        }
    }
}

/// One worker's loop.
fn worker<R: RawLock>(state: &State<R>, w: &mut Worker) {
    if let Some((f, _)) = &state.fifo {
        PROBE.set(Some((Arc::clone(f), w.index)));
    }
    while w.next_op() {
        w.outside_jitter();
        let t0 = Instant::now();
        let mut joined = None;
        let (guard, arrival) = match &state.fifo {
            _ if state.bound.is_some() => {
                let (b, (lock_counted, _, _)) = state.bound.as_ref().expect("checked");
                joined = lock_counted(state.lock.raw(), &b.count, w.index);
                (None, None)
            }
            Some((f, lock_stamped)) => {
                // ORDERING: Acquire, to synchronize with the Release `fetch_add` of any worker
                // that was queued before this stamp (see the module doc).
                let arrival = f.stamps.fetch_add(1, Ordering::Acquire);
                lock_stamped(state.lock.raw(), &f.stamps, &f.queued[w.index]);
                (None, Some((&**f, arrival)))
            }
            None => (Some(state.lock.lock()), None),
        };

        // Relaxed is enough for the occupancy counter: with a correct lock, the previous
        // holder's decrement happens-before our increment (through the lock's release and
        // acquire), so coherence puts it earlier in the counter's modification order and we
        // read 0. Any other value means two holders at once.
        let before = state.occupancy.fetch_add(1, Ordering::Relaxed);
        if before != 0 {
            state.overlaps.fetch_add(1, Ordering::Relaxed);
            state.max_occupancy.fetch_max(before + 1, Ordering::Relaxed);
        }

        if let Some((f, arrival)) = arrival {
            check_fifo(f, w.index, arrival);
        }
        if let Some((b, (_, k, gate))) = &state.bound {
            check_bound(b, (*k, *gate), w.threads, w.index, joined, t0);
        }

        // The non-atomic read-modify-write with a race window. Volatile so the compiler keeps
        // one real load and one real store around the window.
        let counter: *mut u64 = state.data().counter.get();
        // SAFETY: `counter` points into the scenario's data, valid and aligned. With a
        // correct lock the access is exclusive. The negative control breaks exclusivity on
        // purpose (see `control`): that data race is the thing this scenario detects.
        let value = unsafe { ptr::read_volatile(counter) };
        w.race_window();
        // SAFETY: as for the read just above.
        unsafe { ptr::write_volatile(counter, value.wrapping_add(1)) };

        state.occupancy.fetch_sub(1, Ordering::Relaxed);
        match guard {
            Some(guard) => drop(guard),
            // SAFETY: this thread acquired the raw lock above through the stamped or counted
            // call, and holds no reference into the data.
            None => unsafe { state.lock.raw().unlock() },
        }
    }
    PROBE.set(None);
}

/// Inside the critical section: clear our queued slot, then look for a worker that was queued
/// before we arrived and is still waiting.
fn check_fifo(f: &FifoState, me: usize, arrival: u64) {
    // Relaxed: only our own later reads and the next holders (through the lock) need it.
    f.queued[me].store(NOT_QUEUED, Ordering::Relaxed);
    let mut saw = false;
    for (other, slot) in f.queued.iter().enumerate() {
        if other == me {
            continue;
        }
        // Relaxed: a stale read can only show NOT_QUEUED or an older, still-valid stamp of a
        // call that is still waiting (see the module doc); it never invents a violation.
        let q = slot.load(Ordering::Relaxed);
        saw |= q != NOT_QUEUED;
        if q != NOT_QUEUED && q < arrival {
            f.violations.fetch_add(1, Ordering::Relaxed);
            if let Ok(mut first) = f.first.try_lock() {
                first.get_or_insert_with(|| {
                    format!(
                        "worker {me} (arrived at stamp {arrival}) was served while worker \
                         {other} had been queued since stamp {q}"
                    )
                });
            }
        }
    }
    // Relaxed: statistics for the report, read after the workers are joined.
    f.checked.fetch_add(1, Ordering::Relaxed);
    if saw {
        f.saw_queued.fetch_add(1, Ordering::Relaxed);
    }
}
