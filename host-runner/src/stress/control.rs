//! Negative controls: scenarios built to fail, proving that each check can see a failure.
//!
//! A stress run that only ever prints PASS proves little: the checks might be unable to fail
//! on this machine (too few cores, too short a race window, a compiler that folded the racy
//! read-modify-write). So every run also puts a broken lock through the very same scenario,
//! and the run is valid only if every check that lock must trip does trip.

use super::barrier::BarrierScenario;
use super::checks::{
    CHECKSUM, DEPTH, EARLY_RELEASE, EXACTLY_ONCE, FIFO, GENERATIONS, HOLDERS, JOIN, LOST_UPDATES,
    LOST_WAKEUP, MUTUAL_EXCLUSION, NOTIFY_COUNT, OVER_RELEASE, PERMITS_BACK,
};
use super::condvar::{BufferScenario, NotifyScenario};
use super::event::EventScenario;
use super::lock::{LockScenario, Probe};
use super::queue::{JoinAtOnce, QueueScenario};
use super::reentrant::ReentrantScenario;
use super::semaphore::{AcceptingOverRelease, SemaphoreScenario};
use super::Scenario;
use baresync::{JoinableQueue, RawLock, RawMutex, Semaphore, Yield};

/// The negative controls, run after the primitives.
pub fn controls() -> Vec<Box<dyn Scenario>> {
    vec![
        Box::new(
            LockScenario::<Unsynchronized>::new("control: no lock", "control", None, false)
                .expecting_failure(&[MUTUAL_EXCLUSION, LOST_UPDATES]),
        ),
        Box::new(
            // RawMutex lets a newcomer take the lock while earlier waiters sleep, so the FIFO
            // check must catch it when it is run as if it were a FIFO lock.
            LockScenario::<RawMutex<Probe<Yield>>>::new(
                "control: Mutex as FIFO",
                "control",
                None,
                true,
            )
            .expecting_failure(&[FIFO]),
        ),
        Box::new(
            // Releases two permits for one now and then: too many are granted.
            SemaphoreScenario::<Semaphore<Yield>>::new(
                "control: Semaphore granting too many",
                "control",
                None,
            )
            .granting_too_many(&[HOLDERS, PERMITS_BACK]),
        ),
        Box::new(
            EventScenario::<Yield>::new("control: Event not waiting", None)
                .not_waiting(&[EARLY_RELEASE]),
        ),
        Box::new(
            BarrierScenario::<Yield>::new("control: Barrier letting one through", None)
                .letting_through(&[GENERATIONS]),
        ),
        Box::new(
            QueueScenario::<JoinableQueue<u64, 64, Yield>>::new(
                "control: Queue dropping items",
                "control",
                None,
            )
            .dropping_items(&[EXACTLY_ONCE, CHECKSUM]),
        ),
        Box::new(
            // `notify(n)` calls `notify_all`: more than n waiters released.
            NotifyScenario::<Yield>::new("control: Condvar notify(n) releasing all", None)
                .over_releasing(&[NOTIFY_COUNT]),
        ),
        Box::new(
            BufferScenario::<Yield>::new("control: Condvar buffer dropping items", None)
                .dropping_items(&[EXACTLY_ONCE]),
        ),
        Box::new(
            // Never calls `notify_one`: every party ends up asleep; a short stall limit.
            BufferScenario::<Yield>::new("control: Condvar buffer losing wake-ups", None)
                .not_notifying(std::time::Duration::from_millis(50), &[LOST_WAKEUP]),
        ),
        Box::new(ReentrantScenario::<Yield>::saturating_at_two(
            "control: ReentrantLock depth stuck at 2",
            &[DEPTH],
        )),
        Box::new(
            SemaphoreScenario::<AcceptingOverRelease<Yield>>::new(
                "control: BoundedSemaphore accepting over-release",
                "control",
                None,
            )
            .expecting_failure(&[OVER_RELEASE]),
        ),
        Box::new(
            QueueScenario::<JoinAtOnce<Yield>>::new(
                "control: JoinableQueue join not waiting",
                "control",
                None,
            )
            .expecting_failure(&[JOIN]),
        ),
    ]
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
