//! Negative controls: scenarios built to fail, proving that each check can see a failure.
//!
//! A stress run that only ever prints PASS proves little: the checks might be unable to fail
//! on this machine (too few cores, too short a race window, a compiler that folded the racy
//! read-modify-write). So every run also puts a broken primitive through the very same
//! scenario, with the same progress limit as the real runs, and the run is valid only if
//! every check that control must trip does trip. Each check, and the control that trips it:
//!
//! | check | control |
//! |---|---|
//! | mutual exclusion, lost updates (locks) | no lock |
//! | mutual exclusion, lost updates (`ReentrantLock`) | `ReentrantLock` not always locking |
//! | fifo order | `Mutex` as FIFO |
//! | starvation bound | `FairLock` starving worker 0 |
//! | reentrancy depth | `ReentrantLock` depth stuck at 2 |
//! | holders above permits, permits back | `Semaphore` granting too many |
//! | over-release refused | `BoundedSemaphore` accepting over-release |
//! | released before set | `Event` not waiting |
//! | every waiter released | `Event` set releasing nobody, `Event<NoopWake>` |
//! | generations apart | `Barrier` letting one through; `SpinBarrier` letting one through |
//! | one leader | `Barrier` with two leaders |
//! | abort/reset | `Barrier` reset not resetting |
//! | exactly once, checksum (queue) | `Queue` dropping items |
//! | exactly once (buffer) | `Condvar` buffer dropping items |
//! | per-producer fifo (queue, buffer) | `Queue` / `Condvar` buffer reordering items |
//! | join after task_done | `JoinableQueue` join not waiting |
//! | mutual exclusion, consistent read, lost updates (`RwLock`) | `RwLock` excluding nobody |
//! | writer preference | `RwLock` preferring readers |
//! | notify(n) count | `Condvar` notify(n) releasing all |
//! | notify(n) releases min(n, waiting) | `Condvar` notify(n) releasing too few |
//! | one initializer | `Once` check-then-set |
//! | whole value | `Once` publishing before writing |
//! | progress | `Condvar` buffer losing wake-ups, `Event` set releasing nobody, every `NoopWake` control (`FairLock<NoopWake>` included) |
//! | hang | every `NoopWake` control (its sleepers cannot be woken, even by the release action) |
//!
//! [`NoopWake`] is a wait backend whose waits really sleep and whose wakes do nothing: under
//! it every blocking primitive (mutex, ticket lock, semaphore, event, condition variable,
//! barrier, queue) must hang, and the run must say so.

use super::barrier::BarrierScenario;
use super::checks::{
    ABORT_RESET, CHECKSUM, DEPTH, EARLY_RELEASE, EXACTLY_ONCE, FIFO, GENERATIONS, HANG, HOLDERS,
    JOIN, LOST_UPDATES, MUTUAL_EXCLUSION, NOTIFY_COUNT, NOTIFY_RELEASED, NOT_RELEASED,
    ONE_INITIALIZER, ONE_LEADER, OVER_RELEASE, PERMITS_BACK, PRODUCER_FIFO, PROGRESS,
    STARVATION_BOUND, WHOLE_VALUE,
};
use super::condvar::{BufferScenario, NotifyScenario};
use super::event::EventScenario;
use super::lock::{Counted, LockScenario, Probe};
use super::once::{CheckThenSet, OnceScenario, PublishBeforeWrite, Value};
use super::queue::{JoinAtOnce, QueueScenario};
use super::reentrant::ReentrantScenario;
use super::semaphore::{AcceptingOverRelease, SemaphoreScenario};
use super::Scenario;
use baresync::sync::atomic::AtomicU32;
use baresync::{
    Barrier, Deadline, Futex, JoinableQueue, OnceCell, Queue, RawFairLock, RawLock, RawMutex,
    RawTicketLock, Semaphore, SpinBarrier, Wait, Yield,
};
use std::sync::atomic::{AtomicU64, Ordering::SeqCst};
use std::time::{Duration, Instant};

/// The checks a lost wake-up must trip: the watchdog sees the workers stand still, and they
/// are abandoned asleep (nothing can wake them: the release action's wake is lost too).
const STUCK: &[&str] = &[PROGRESS, HANG];

/// The lock families the lock controls cover.
const LOCKS: &[&str] = &["SpinLock", "TicketLock", "McsLock", "FairLock", "Mutex"];
/// Both semaphores.
const SEMAPHORES: &[&str] = &["Semaphore", "BoundedSemaphore"];
/// Both queues.
const QUEUES: &[&str] = &["Queue", "JoinableQueue"];

/// A control that covers the checks of `primitives`: it runs when one of them is selected
/// ([`controls_for`](super::controls_for)).
fn covering<S: Scenario + 'static>(
    primitives: &'static [&'static str],
    control: S,
) -> Box<dyn Scenario> {
    Box::new(Covering {
        primitives,
        control,
    })
}

/// A boxed scenario is a scenario, so that a list of boxed controls can be wrapped to say what
/// they cover.
impl Scenario for Box<dyn Scenario> {
    fn info(&self) -> super::ScenarioInfo {
        (**self).info()
    }

    fn run(&self, ctx: &mut super::RunCtx<'_>) -> super::Outcome {
        (**self).run(ctx)
    }

    fn covers(&self) -> &'static [&'static str] {
        (**self).covers()
    }
}

struct Covering<S> {
    primitives: &'static [&'static str],
    control: S,
}

impl<S: Scenario> Scenario for Covering<S> {
    fn info(&self) -> super::ScenarioInfo {
        self.control.info()
    }

    fn run(&self, ctx: &mut super::RunCtx<'_>) -> super::Outcome {
        self.control.run(ctx)
    }

    fn covers(&self) -> &'static [&'static str] {
        self.primitives
    }
}

/// The negative controls, run after the primitives; each covers the primitive families
/// whose checks it trips.
pub fn controls() -> Vec<Box<dyn Scenario>> {
    let mut all = controls_before_rwlock();
    all.extend(
        super::rwlock::controls()
            .into_iter()
            .map(|c| covering(&["RwLock"], c)),
    );
    all
}

fn controls_before_rwlock() -> Vec<Box<dyn Scenario>> {
    vec![
        covering(
            LOCKS,
            LockScenario::<Unsynchronized>::new("control: no lock", "control", None)
                .expecting_failure(&[MUTUAL_EXCLUSION, LOST_UPDATES]),
        ),
        covering(
            &["TicketLock"],
            // RawMutex lets a newcomer take the lock while earlier waiters sleep, so the FIFO
            // check must catch it when it is run as if it were a FIFO lock.
            LockScenario::<RawMutex<Probe<Yield>>>::fifo("control: Mutex as FIFO", "control", None)
                .expecting_failure(&[FIFO]),
        ),
        covering(
            SEMAPHORES,
            // Releases two permits for one now and then: too many are granted.
            SemaphoreScenario::<Semaphore<Yield>>::new(
                "control: Semaphore granting too many",
                "control",
                None,
            )
            .granting_too_many(&[HOLDERS, PERMITS_BACK]),
        ),
        covering(
            &["Event"],
            EventScenario::<Yield>::new("control: Event not waiting", None)
                .not_waiting(&[EARLY_RELEASE]),
        ),
        covering(
            &["Event"],
            // `set` does nothing: the waiters of a round sleep on.
            EventScenario::<Futex>::new("control: Event set releasing nobody", None)
                .set_releasing_nobody(&[NOT_RELEASED, PROGRESS]),
        ),
        covering(
            &["Barrier"],
            BarrierScenario::<Barrier<Yield>>::new("control: Barrier letting one through", None)
                .letting_through(&[GENERATIONS]),
        ),
        covering(
            &["Barrier"],
            BarrierScenario::<SpinBarrier>::new("control: SpinBarrier letting one through", None)
                .letting_through(&[GENERATIONS]),
        ),
        covering(
            &["Barrier"],
            BarrierScenario::<Barrier<Yield>>::new("control: Barrier with two leaders", None)
                .lying_about_the_leader(&[ONE_LEADER]),
        ),
        covering(
            &["Barrier"],
            BarrierScenario::<Barrier<Yield>>::new("control: Barrier reset not resetting", None)
                .not_resetting(&[ABORT_RESET]),
        ),
        covering(
            QUEUES,
            QueueScenario::<JoinableQueue<u64, 64, Yield>>::new(
                "control: Queue dropping items",
                "control",
                None,
            )
            .dropping_items(&[EXACTLY_ONCE, CHECKSUM]),
        ),
        covering(
            QUEUES,
            QueueScenario::<Queue<u64, 64, Yield>>::new(
                "control: Queue reordering items",
                "control",
                None,
            )
            .reordering_items(&[PRODUCER_FIFO]),
        ),
        covering(
            &["Condvar"],
            // `notify(n)` calls `notify_all`: more than n waiters released.
            NotifyScenario::<Yield>::new("control: Condvar notify(n) releasing all", None)
                .over_releasing(&[NOTIFY_COUNT]),
        ),
        covering(
            &["Condvar"],
            // `notify(n)` releases n - 1: with n = 1, nobody.
            NotifyScenario::<Futex>::new("control: Condvar notify(n) releasing too few", None)
                .under_releasing(&[NOTIFY_RELEASED]),
        ),
        covering(
            &["Condvar"],
            BufferScenario::<Yield>::new("control: Condvar buffer dropping items", None)
                .dropping_items(&[EXACTLY_ONCE]),
        ),
        covering(
            &["Condvar"],
            BufferScenario::<Yield>::new("control: Condvar buffer reordering items", None)
                .reordering_items(&[PRODUCER_FIFO]),
        ),
        covering(
            &["Condvar"],
            // Never calls `notify_one`: every party ends up asleep, with the run's own limit.
            BufferScenario::<Futex>::new("control: Condvar buffer losing wake-ups", None)
                .not_notifying(&[PROGRESS]),
        ),
        covering(
            &["Once"],
            OnceScenario::<CheckThenSet>::new("control: Once check-then-set", "control", None)
                .expecting_failure(&[ONE_INITIALIZER]),
        ),
        covering(
            &["Once"],
            OnceScenario::<PublishBeforeWrite>::new(
                "control: Once publishing before writing",
                "control",
                None,
            )
            .expecting_failure(&[WHOLE_VALUE]),
        ),
        covering(
            &["ReentrantLock"],
            ReentrantScenario::<Yield>::saturating_at_two(
                "control: ReentrantLock depth stuck at 2",
                &[DEPTH],
            ),
        ),
        covering(
            &["ReentrantLock"],
            ReentrantScenario::<Yield>::not_locking(
                "control: ReentrantLock not always locking",
                &[MUTUAL_EXCLUSION, LOST_UPDATES],
            ),
        ),
        covering(
            &["BoundedSemaphore"],
            SemaphoreScenario::<AcceptingOverRelease<Yield>>::new(
                "control: BoundedSemaphore accepting over-release",
                "control",
                None,
            )
            .expecting_failure(&[OVER_RELEASE]),
        ),
        covering(
            &["JoinableQueue"],
            QueueScenario::<JoinAtOnce<Yield>>::new(
                "control: JoinableQueue join not waiting",
                "control",
                None,
            )
            .expecting_failure(&[JOIN]),
        ),
        covering(
            &["FairLock"],
            LockScenario::<StarvingLock>::bounded(
                "control: FairLock starving worker 0",
                "control",
                None,
            )
            .expecting_failure(&[STARVATION_BOUND]),
        ),
        // A backend whose wake calls do nothing, under each blocking primitive: a lost
        // wake-up must be a hang the progress watchdog reports, not a slow run.
        covering(
            &["Mutex", "ReentrantLock"],
            LockScenario::<RawMutex<NoopWake>>::new("control: Mutex<NoopWake>", "control", None)
                .expecting_failure(STUCK),
        ),
        covering(
            &["FairLock"],
            // The head sleeps on the state word and the waiters behind it on the queue word:
            // with every wake-up lost, both must be reported stuck. Four workers at least: with
            // one per core a waiter barges or polls its way in and may never sleep in the
            // whole run (the control went uncaught in about 2 of 8 one-second runs on 2 cores),
            // while a queued waiter descheduled behind others always goes to sleep.
            LockScenario::<RawFairLock<NoopWake>>::new(
                "control: FairLock<NoopWake>",
                "control",
                None,
            )
            .with_workers(4)
            .expecting_failure(STUCK),
        ),
        covering(
            &["TicketLock"],
            LockScenario::<RawTicketLock<NoopWake>>::fifo(
                "control: TicketLock<NoopWake>",
                "control",
                None,
            )
            .expecting_failure(STUCK),
        ),
        covering(
            SEMAPHORES,
            SemaphoreScenario::<Semaphore<NoopWake>>::new(
                "control: Semaphore<NoopWake>",
                "control",
                None,
            )
            .expecting_failure(STUCK),
        ),
        covering(
            &["Event"],
            EventScenario::<NoopWake>::new("control: Event<NoopWake>", None).expecting_failure(&[
                NOT_RELEASED,
                PROGRESS,
                HANG,
            ]),
        ),
        covering(
            &["Condvar"],
            BufferScenario::<NoopWake>::new("control: Condvar<NoopWake> buffer", None)
                .expecting_failure(STUCK),
        ),
        covering(
            &["Barrier"],
            BarrierScenario::<Barrier<NoopWake>>::new("control: Barrier<NoopWake>", None)
                .expecting_failure(STUCK),
        ),
        covering(
            &["Once"],
            OnceScenario::<OnceCell<Value, NoopWake>>::new(
                "control: OnceCell<NoopWake>",
                "control",
                None,
            )
            .expecting_failure(STUCK),
        ),
        covering(
            QUEUES,
            QueueScenario::<Queue<u64, 64, NoopWake>>::new(
                "control: Queue<NoopWake>",
                "control",
                None,
            )
            .expecting_failure(STUCK),
        ),
    ]
}

/// A wait backend whose waits really sleep (through [`Futex`]) and whose wake calls do
/// nothing: every wake-up is lost. Under it a correct primitive must hang, and the stress
/// suite must say so (the progress watchdog, then the abandoned workers).
pub struct NoopWake;

// SAFETY: only reads the word it is given (or passes its address on); never writes it.
unsafe impl Wait for NoopWake {
    // False: the primitives must believe their sleepers can be woken, and call the wakes.
    const WAKE_IS_NOOP: bool = false;

    fn wait(atomic: &AtomicU32, expected: u32) {
        Futex::wait(atomic, expected);
    }

    fn wait_until(atomic: &AtomicU32, expected: u32, deadline: &mut impl Deadline) -> bool {
        Futex::wait_until(atomic, expected, deadline)
    }

    fn wake_one(_: &AtomicU32) {}

    fn wake_all(_: &AtomicU32) {}
}

/// A "lock" that does not lock: every call succeeds at once and nothing is ever excluded.
#[derive(Debug, Default)]
pub struct Unsynchronized;

// SAFETY: this implementation is deliberately unsound: it provides neither mutual exclusion
// nor any happens-before edge, which breaks the `RawLock` contract on purpose. It exists only
// as the stress suite's negative control, run through the same scenario as the real locks so
// that every check is seen to catch a broken lock; the resulting data race on the scenario's
// plain counter is exactly what is being detected. It is never used to protect real data.
unsafe impl RawLock for Unsynchronized {
    const INIT: Self = Unsynchronized;

    fn lock(&self) {}

    fn try_lock(&self) -> bool {
        true
    }

    unsafe fn unlock(&self) {}

    fn is_locked(&self) -> bool {
        false
    }
}

/// A `FairLock` that lets worker 0 starve: on every 16th of its calls, worker 0 takes its
/// "queued" number and then stands aside until [`STARVE_BY`] other acquisitions have
/// overtaken it (or 100 ms have passed, so that a run whose other workers are done still
/// ends), and only then locks. The bound check must report it.
#[derive(Debug)]
pub struct StarvingLock {
    inner: RawFairLock<Yield>,
}

/// How many acquisitions overtake the starved worker: more than the bound T·(K + 1) of any
/// thread count up to 1023 (K = 1023). The control is caught as long as the other workers
/// make more than T·1024 acquisitions in the 100 ms it stands aside (on 2 cores, 2 workers
/// make about 100 000).
pub const STARVE_BY: u64 = 1 << 20;

std::thread_local! {
    static STARVING_CALLS: std::cell::Cell<u64> = const { std::cell::Cell::new(0) };
}

// SAFETY: every acquisition and release is the inner `RawFairLock`'s; the control only
// delays some calls before they reach it.
unsafe impl RawLock for StarvingLock {
    const INIT: Self = StarvingLock {
        inner: RawFairLock::with_wait(),
    };

    fn lock(&self) {
        self.inner.lock();
    }

    fn try_lock(&self) -> bool {
        self.inner.try_lock()
    }

    unsafe fn unlock(&self) {
        // SAFETY: forwarded: the caller holds the lock, which is the inner lock.
        unsafe { self.inner.unlock() }
    }

    fn is_locked(&self) -> bool {
        self.inner.is_locked()
    }
}

impl Counted for StarvingLock {
    const MAX_BYPASSES: u32 = RawFairLock::<Yield>::MAX_BYPASSES;
    const GATE_AFTER: u32 = RawFairLock::<Yield>::GATE_AFTER;

    fn lock_counted(&self, count: &AtomicU64, worker: usize) -> Option<u64> {
        let call = STARVING_CALLS.with(|c| c.replace(c.get() + 1));
        if worker != 0 || call & 15 != 0 {
            return self.inner.lock_counted(count);
        }
        // ORDERING: SeqCst, as the real hook's read.
        let joined = count.fetch_add(0, SeqCst);
        let start = Instant::now();
        while count.load(SeqCst) < joined + STARVE_BY
            && start.elapsed() < Duration::from_millis(100)
        {
            std::thread::yield_now();
        }
        self.inner.lock();
        Some(joined)
    }
}
