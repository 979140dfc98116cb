//! `Barrier` through its public API, from many threads.

mod barrier_support;
mod fault_support;
use baresync::{Barrier, BarrierError, Futex, Spin, SpinBarrier, Wait, Yield};
use barrier_support::Phases;
use fault_support::SpinsOnly;
use std::sync::atomic::{AtomicUsize, Ordering::SeqCst};
use std::sync::Arc;
use std::thread;
use std::time::{Duration, Instant};

/// Generations per test.
const GENERATIONS: usize = if cfg!(miri) { 5 } else { 20 };
/// Generations per lockstep test of `SpinBarrier` (no sleeping backend: rounds are cheap).
const MANY_GENERATIONS: usize = if cfg!(miri) { 5 } else { 200 };

fn cores() -> usize {
    thread::available_parallelism().map_or(2, |n| n.get())
}

/// `parties` threads go through `GENERATIONS` generations back to back (fast threads re-enter
/// before slow ones leave). Before each `wait` a thread counts itself in that generation's
/// arrival counter; after it, the counter must be complete (nobody left early), the next
/// generation's must not be (nobody from a later generation was let through with this one),
/// and exactly one thread per generation is the leader.
fn lockstep<B: Phases>(parties: usize, generations: usize) {
    let barrier = Arc::new(B::with_parties(parties));
    let arrived: Arc<Vec<AtomicUsize>> =
        Arc::new((0..generations + 1).map(|_| AtomicUsize::new(0)).collect());
    let leaders: Arc<Vec<AtomicUsize>> =
        Arc::new((0..generations).map(|_| AtomicUsize::new(0)).collect());
    let handles: Vec<_> = (0..parties)
        .map(|_| {
            let (barrier, arrived, leaders) = (
                Arc::clone(&barrier),
                Arc::clone(&arrived),
                Arc::clone(&leaders),
            );
            thread::spawn(move || {
                for g in 0..generations {
                    arrived[g].fetch_add(1, SeqCst);
                    let leader = barrier.wait_leader();
                    assert_eq!(
                        arrived[g].load(SeqCst),
                        parties,
                        "left generation {g} early"
                    );
                    assert!(
                        arrived[g + 1].load(SeqCst) < parties,
                        "generation {} completed before {g} was left",
                        g + 1
                    );
                    if leader {
                        leaders[g].fetch_add(1, SeqCst);
                    }
                }
            })
        })
        .collect();
    for h in handles {
        h.join().unwrap();
    }
    for (g, l) in leaders.iter().enumerate() {
        assert_eq!(
            l.load(SeqCst),
            1,
            "generation {g} had not exactly one leader"
        );
    }
    barrier.assert_idle();
}

#[test]
fn lockstep_one_thread_per_core_spin() {
    lockstep::<Barrier<Spin>>(if cfg!(miri) { 2 } else { cores() }, GENERATIONS);
}

#[test]
fn lockstep_oversubscribed_yield() {
    lockstep::<Barrier<Yield>>(if cfg!(miri) { 3 } else { 4 * cores() }, GENERATIONS);
}

#[test]
fn lockstep_oversubscribed_futex() {
    lockstep::<Barrier<Futex>>(if cfg!(miri) { 3 } else { 4 * cores() }, GENERATIONS);
}

/// Twice as many threads as cores, spinning: small load, must still finish.
#[test]
fn lockstep_slightly_oversubscribed_spin() {
    lockstep::<Barrier<Spin>>(if cfg!(miri) { 3 } else { cores() + 1 }, GENERATIONS);
}

#[test]
fn lockstep_one_thread_per_core_spin_barrier() {
    lockstep::<SpinBarrier>(if cfg!(miri) { 2 } else { cores() }, MANY_GENERATIONS);
}

#[test]
fn lockstep_slightly_oversubscribed_spin_barrier() {
    lockstep::<SpinBarrier>(if cfg!(miri) { 3 } else { cores() + 1 }, MANY_GENERATIONS);
}

/// Four threads per core, all spinning: `SpinBarrier`'s waiters yield once their backoff is
/// spent, so the last party gets scheduled and the test finishes.
#[test]
fn lockstep_oversubscribed_spin_barrier() {
    lockstep::<SpinBarrier>(if cfg!(miri) { 3 } else { 4 * cores() }, MANY_GENERATIONS);
}

/// Many generations: the generation counter wraps (13 bits) without confusing anyone.
#[test]
#[cfg_attr(miri, ignore = "too many generations for Miri")]
fn many_generations_futex() {
    let barrier = Arc::new(Barrier::<Futex>::with_wait(2));
    let b2 = Arc::clone(&barrier);
    let t = thread::spawn(move || {
        let mut leader = 0;
        for _ in 0..20_000 {
            leader += usize::from(b2.wait().unwrap().is_leader());
        }
        leader
    });
    let mut leader = 0;
    for _ in 0..20_000 {
        leader += usize::from(barrier.wait().unwrap().is_leader());
    }
    assert_eq!(leader + t.join().unwrap(), 20_000);
}

/// Waits until `n` parties are waiting; fails if the barrier breaks meanwhile (a party that
/// broke it will never be counted, so waiting on would hang the test).
fn until_waiting<W: Wait>(barrier: &Barrier<W>, n: usize) {
    while barrier.n_waiting() < n {
        assert!(
            !barrier.is_broken(),
            "the barrier broke before {n} parties waited"
        );
        thread::yield_now();
    }
}

fn abort_releases_waiters_and_later_callers<W: Wait + Send + Sync + 'static>() {
    let barrier = Arc::new(Barrier::<W>::with_wait(4));
    let waiters: Vec<_> = (0..3)
        .map(|_| {
            let b = Arc::clone(&barrier);
            thread::spawn(move || b.wait())
        })
        .collect();
    until_waiting(&barrier, 3);
    barrier.abort();
    for w in waiters {
        assert_eq!(w.join().unwrap(), Err(BarrierError::Broken));
    }
    assert!(barrier.is_broken());
    assert_eq!(barrier.wait(), Err(BarrierError::Broken));
    assert_eq!(barrier.wait_until(|| false), Err(BarrierError::Broken));
    // After a reset the barrier works for a full generation.
    barrier.reset();
    let others: Vec<_> = (0..3)
        .map(|_| {
            let b = Arc::clone(&barrier);
            thread::spawn(move || b.wait().unwrap().is_leader())
        })
        .collect();
    let mut leaders = usize::from(barrier.wait().unwrap().is_leader());
    for o in others {
        leaders += usize::from(o.join().unwrap());
    }
    assert_eq!(leaders, 1);
}

#[test]
fn lockstep_spins_only_backend_is_never_called() {
    lockstep::<Barrier<SpinsOnly>>(cores().min(4), GENERATIONS);
}

#[test]
fn abort_and_reset_spins_only_backend_is_never_called() {
    abort_releases_waiters_and_later_callers::<SpinsOnly>();
}

#[test]
fn timeout_breaks_for_everyone_spins_only_backend_is_never_called() {
    timeout_breaks_for_everyone::<SpinsOnly>();
}

#[test]
fn abort_and_reset_yield() {
    abort_releases_waiters_and_later_callers::<Yield>();
}

#[test]
fn abort_and_reset_futex() {
    abort_releases_waiters_and_later_callers::<Futex>();
}

/// `reset` while parties wait: they get `Broken`, and the barrier is fresh afterwards.
#[test]
fn reset_breaks_current_waiters() {
    let barrier = Arc::new(Barrier::<Futex>::with_wait(3));
    let waiters: Vec<_> = (0..2)
        .map(|_| {
            let b = Arc::clone(&barrier);
            thread::spawn(move || b.wait())
        })
        .collect();
    until_waiting(&barrier, 2);
    barrier.reset();
    for w in waiters {
        assert_eq!(w.join().unwrap(), Err(BarrierError::Broken));
    }
    assert!(!barrier.is_broken());
    assert_eq!(barrier.n_waiting(), 0);
    let others: Vec<_> = (0..2)
        .map(|_| {
            let b = Arc::clone(&barrier);
            thread::spawn(move || b.wait())
        })
        .collect();
    assert!(barrier.wait().is_ok());
    for o in others {
        assert!(o.join().unwrap().is_ok());
    }
}

/// A party whose deadline expires breaks the barrier for everyone: it gets `Timeout`, those
/// waiting and those arriving later get `Broken`.
fn timeout_breaks_for_everyone<W: Wait + Send + Sync + 'static>() {
    let barrier = Arc::new(Barrier::<W>::with_wait(3));
    let patient = {
        let b = Arc::clone(&barrier);
        thread::spawn(move || b.wait())
    };
    until_waiting(&barrier, 1);
    let r = if cfg!(miri) {
        let mut polls = 0;
        barrier.wait_until(|| {
            polls += 1;
            polls > 20
        })
    } else {
        let start = Instant::now();
        let r = barrier.wait_until(start + Duration::from_millis(20));
        assert!(start.elapsed() >= Duration::from_millis(20));
        r
    };
    assert_eq!(r, Err(BarrierError::Timeout));
    assert_eq!(patient.join().unwrap(), Err(BarrierError::Broken));
    assert!(barrier.is_broken());
    assert_eq!(barrier.wait(), Err(BarrierError::Broken));
    barrier.reset();
    assert!(!barrier.is_broken());
}

#[test]
fn timeout_breaks_for_everyone_yield() {
    timeout_breaks_for_everyone::<Yield>();
}

#[test]
fn timeout_breaks_for_everyone_futex() {
    timeout_breaks_for_everyone::<Futex>();
}

#[test]
#[cfg_attr(miri, ignore = "real time")]
fn wait_timeout_completes_when_everyone_arrives() {
    let barrier = Arc::new(Barrier::<Futex>::with_wait(2));
    let b = Arc::clone(&barrier);
    let t = thread::spawn(move || b.wait_timeout(Duration::from_secs(60)));
    let me = barrier.wait_timeout(Duration::from_secs(60)).unwrap();
    let other = t.join().unwrap().unwrap();
    assert!(me.is_leader() ^ other.is_leader());
    assert_eq!(
        barrier.wait_timeout(Duration::from_millis(1)),
        Err(BarrierError::Timeout)
    );
}

/// A timeout racing the last arrival: either the generation completes for both (the timeout
/// lost) or the barrier is broken for both, never a mix that leaves a party stranded.
#[test]
fn timeout_racing_last_arrival() {
    let rounds = if cfg!(miri) { 5 } else { 2000 };
    for i in 0..rounds {
        let barrier = Arc::new(Barrier::<Yield>::with_wait(2));
        let b = Arc::clone(&barrier);
        let t = thread::spawn(move || {
            let mut polls = 0;
            b.wait_until(move || {
                polls += 1;
                polls > i % 7
            })
        });
        let mine = barrier.wait_until(|| false);
        let theirs = t.join().unwrap();
        match (mine, theirs) {
            (Ok(a), Ok(b)) => assert!(a.is_leader() ^ b.is_leader()),
            (Err(BarrierError::Broken), Err(BarrierError::Timeout)) => {}
            other => panic!("unexpected outcome {other:?}"),
        }
    }
}

#[test]
fn statics_and_const_construction() {
    static SPIN: Barrier = Barrier::new(1);
    static FUTEX: Barrier<Futex> = Barrier::with_wait(1);
    assert!(SPIN.wait().unwrap().is_leader());
    assert!(FUTEX.wait().unwrap().is_leader());
    assert_eq!(core::mem::size_of::<Barrier>(), 8);
}

#[test]
#[should_panic(expected = "at least one party")]
fn zero_parties_panics_at_run_time() {
    let n = std::hint::black_box(0);
    let _ = Barrier::<Spin>::with_wait(n);
}

/// A `Wait` backend that holds its sleepers back until the test opens the gate: a stand-in
/// for a thread descheduled for as long as the test needs. `ID` keeps the tests' gates apart.
struct Gate<const ID: usize>;

static GATE_OPEN: [std::sync::atomic::AtomicBool; 3] =
    [const { std::sync::atomic::AtomicBool::new(false) }; 3];
static GATE_SLEEPERS: [AtomicUsize; 3] = [const { AtomicUsize::new(0) }; 3];

impl<const ID: usize> Gate<ID> {
    /// Waits until a thread is held at the gate.
    fn until_held() {
        while GATE_SLEEPERS[ID].load(SeqCst) == 0 {
            thread::yield_now();
        }
    }
    fn open() {
        GATE_OPEN[ID].store(true, SeqCst);
    }
}

// SAFETY: only reads the word it is given (or passes its address on); never writes it.
unsafe impl<const ID: usize> Wait for Gate<ID> {
    fn wait(atomic: &baresync::sync::atomic::AtomicU32, expected: u32) {
        GATE_SLEEPERS[ID].fetch_add(1, SeqCst);
        while !GATE_OPEN[ID].load(SeqCst) {
            thread::yield_now();
        }
        // Once open: a poll, slowly, so that a waiter stuck in a loop does not burn a core.
        if atomic.load(SeqCst) == expected {
            thread::sleep(Duration::from_millis(1));
        }
    }
    fn wait_until(
        atomic: &baresync::sync::atomic::AtomicU32,
        expected: u32,
        deadline: &mut impl baresync::Deadline,
    ) -> bool {
        if deadline.expired() {
            return false;
        }
        Self::wait(atomic, expected);
        true
    }
    fn wake_one(_: &baresync::sync::atomic::AtomicU32) {}
    fn wake_all(_: &baresync::sync::atomic::AtomicU32) {}
}

/// Joins `t`, failing (instead of hanging) if it has not finished within a generous time.
fn join_within<T: Send + 'static>(t: thread::JoinHandle<T>, what: &str) -> T {
    let limit = Instant::now() + Duration::from_secs(if cfg!(miri) { 600 } else { 20 });
    while !t.is_finished() {
        assert!(Instant::now() < limit, "{what}: still waiting (hung)");
        thread::sleep(Duration::from_millis(1));
    }
    t.join().unwrap()
}

/// Regression (issue 10, defect 5): a waiter held back across 8192 `abort` + `reset` cycles
/// (the old 13-bit generation's period) must still come back with `Broken`, not find "its"
/// generation again and wait in it forever without being counted.
#[test]
fn waiter_held_across_many_abort_reset_cycles_gets_broken() {
    let barrier = Arc::new(Barrier::<Gate<0>>::with_wait(2));
    let waiter = {
        let b = Arc::clone(&barrier);
        thread::spawn(move || b.wait())
    };
    Gate::<0>::until_held();
    for _ in 0..1 << 13 {
        barrier.abort();
        barrier.reset();
    }
    Gate::<0>::open();
    assert_eq!(
        join_within(waiter, "the held-back waiter"),
        Err(BarrierError::Broken)
    );
    // Nobody is left inside: the barrier works for a full generation again.
    assert!(!barrier.is_broken());
    assert_eq!(barrier.n_waiting(), 0);
    let other = {
        let b = Arc::clone(&barrier);
        thread::spawn(move || b.wait())
    };
    let me = barrier.wait().unwrap().is_leader();
    assert!(me ^ join_within(other, "the second round").unwrap().is_leader());
}

/// Regression (issue 10, defect 6): a party of a generation that completed keeps its normal
/// result when the leader waits again and `reset` follows at once; only the party waiting at
/// the moment of the `reset` (the leader, in the next generation) gets `Broken`.
#[test]
fn reset_right_after_completion_keeps_completed_parties_ok() {
    let barrier = Arc::new(Barrier::<Gate<1>>::with_wait(2));
    let slow = {
        let b = Arc::clone(&barrier);
        thread::spawn(move || b.wait())
    };
    Gate::<1>::until_held();
    // The slow party is held back asleep; this one completes the generation...
    assert!(barrier.wait().unwrap().is_leader());
    // ...and waits again (from another thread, so this one can reset).
    let again = {
        let b = Arc::clone(&barrier);
        thread::spawn(move || b.wait())
    };
    until_waiting(&barrier, 1);
    barrier.reset();
    Gate::<1>::open();
    assert_eq!(
        join_within(slow, "the completed party").map(|r| r.is_leader()),
        Ok(false)
    );
    assert_eq!(
        join_within(again, "the party waiting at the reset"),
        Err(BarrierError::Broken)
    );
}

/// After a `reset` that broke a party which has not left yet (held back in its backend), a new
/// caller waits for it to leave (the drain) instead of joining a generation that still counts
/// it; then the new generation completes with exactly its own parties.
#[test]
fn reset_drains_before_new_parties_arrive() {
    let barrier = Arc::new(Barrier::<Gate<2>>::with_wait(2));
    let held = {
        let b = Arc::clone(&barrier);
        thread::spawn(move || b.wait())
    };
    Gate::<2>::until_held();
    barrier.reset();
    assert!(!barrier.is_broken());
    let newcomer = {
        let b = Arc::clone(&barrier);
        thread::spawn(move || b.wait().map(|r| r.is_leader()))
    };
    // The newcomer cannot arrive while the broken party is still inside.
    for _ in 0..100 {
        assert_eq!(barrier.n_waiting(), 0);
        assert!(!newcomer.is_finished());
        thread::yield_now();
    }
    Gate::<2>::open();
    assert_eq!(
        join_within(held, "the held party"),
        Err(BarrierError::Broken)
    );
    until_waiting(&barrier, 1);
    let me = barrier.wait().unwrap().is_leader();
    assert!(me ^ join_within(newcomer, "the newcomer").unwrap());
    assert_eq!(barrier.n_waiting(), 0);
}
