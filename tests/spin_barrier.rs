//! `SpinBarrier` through its public API, from many threads.
//!
//! What is checked: nobody leaves a generation before all its parties arrived, and nobody of
//! a later generation is let through with an earlier one; exactly one leader per generation;
//! each party's writes before `wait` are visible to every party after it (plain memory, so a
//! missing happens-before is a data race Miri reports); with more threads than cores (every
//! waiter spins, yielding once its backoff is spent) and with more threads than parties, every
//! run terminates and departures never outrun the completed generations.

use baresync::SpinBarrier;
use std::cell::UnsafeCell;
use std::sync::atomic::{AtomicUsize, Ordering::SeqCst};
use std::sync::Arc;
use std::thread;

/// Generations per test.
const GENERATIONS: usize = if cfg!(miri) { 4 } else { 200 };

fn cores() -> usize {
    thread::available_parallelism().map_or(2, |n| n.get())
}

/// `parties` threads go through `GENERATIONS` generations back to back (fast threads re-enter
/// before slow ones leave). Before each `wait` a thread counts itself in that generation's
/// arrival counter; after it, the counter must be complete (nobody left early), the next
/// generation's must not be (nobody from a later generation was let through with this one),
/// and exactly one thread per generation is the leader.
fn lockstep(parties: usize) {
    let barrier = Arc::new(SpinBarrier::new(parties));
    let arrived: Arc<Vec<AtomicUsize>> =
        Arc::new((0..GENERATIONS + 1).map(|_| AtomicUsize::new(0)).collect());
    let leaders: Arc<Vec<AtomicUsize>> =
        Arc::new((0..GENERATIONS).map(|_| AtomicUsize::new(0)).collect());
    let handles: Vec<_> = (0..parties)
        .map(|_| {
            let (barrier, arrived, leaders) = (
                Arc::clone(&barrier),
                Arc::clone(&arrived),
                Arc::clone(&leaders),
            );
            thread::spawn(move || {
                for g in 0..GENERATIONS {
                    arrived[g].fetch_add(1, SeqCst);
                    let r = barrier.wait();
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
                    if r.is_leader() {
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
    assert_eq!(barrier.n_waiting(), 0);
}

#[test]
fn lockstep_one_thread_per_core() {
    lockstep(if cfg!(miri) { 2 } else { cores() });
}

#[test]
fn lockstep_slightly_oversubscribed() {
    lockstep(if cfg!(miri) { 3 } else { cores() + 1 });
}

/// Four threads per core, all spinning: waiters yield once their backoff is spent, so the
/// last party gets scheduled and the test finishes.
#[test]
fn lockstep_oversubscribed() {
    lockstep(if cfg!(miri) { 3 } else { 4 * cores() });
}

/// One slot of plain (non-atomic) memory per party and generation.
struct Slots {
    parties: usize,
    slots: Vec<UnsafeCell<usize>>,
}

// SAFETY: slot `me * GENERATIONS + g` is written only by party `me`, before generation `g`'s
// barrier, and read by the others only after it: the barrier's happens-before (what the test
// checks) orders each write before each read.
unsafe impl Sync for Slots {}

/// Each party writes its slot of the generation before `wait` and reads every party's after
/// it. Plain memory: a missing happens-before is a data race that Miri reports, and natively a
/// stale read fails the assertion.
#[test]
fn writes_before_wait_are_visible_after_it() {
    let parties = if cfg!(miri) { 3 } else { 2 * cores() };
    let barrier = Arc::new(SpinBarrier::new(parties));
    let data = Arc::new(Slots {
        parties,
        slots: (0..parties * GENERATIONS)
            .map(|_| UnsafeCell::new(0))
            .collect(),
    });
    let handles: Vec<_> = (0..parties)
        .map(|me| {
            let (barrier, data) = (Arc::clone(&barrier), Arc::clone(&data));
            thread::spawn(move || {
                for g in 0..GENERATIONS {
                    // SAFETY: only party `me` writes this slot, before the barrier.
                    unsafe { *data.slots[me * GENERATIONS + g].get() = g + 1 };
                    barrier.wait();
                    for other in 0..data.parties {
                        // SAFETY: written before the barrier, which orders it before this read.
                        let v = unsafe { *data.slots[other * GENERATIONS + g].get() };
                        assert_eq!(v, g + 1, "party {other}'s write before generation {g}");
                    }
                }
            })
        })
        .collect();
    for h in handles {
        h.join().unwrap();
    }
}

/// `threads` threads (more than `parties`) share `parties * generations` calls of `wait`: each
/// takes a ticket, then waits, until the tickets run out. Every run must terminate: a thread
/// that finds no ticket left leaves, so every ticket's arrival happens and every generation
/// fills. (Fixed rounds per thread would not do: a fast thread may finish its rounds while
/// fewer than `parties` slow threads are left to fill the last generations, and then any
/// barrier deadlocks.) Before `wait` a thread counts its arrival, after it its departure: a
/// departed thread's generation completed and generations fill in arrival order, so the
/// departures never exceed the arrivals of complete generations (`arrivals / parties *
/// parties`); the leaders are exactly one per generation.
/// Takes one ticket; `false` once there are none left.
fn take_ticket(tickets: &AtomicUsize) -> bool {
    let mut t = tickets.load(SeqCst);
    while t > 0 {
        match tickets.compare_exchange(t, t - 1, SeqCst, SeqCst) {
            Ok(_) => return true,
            Err(now) => t = now,
        }
    }
    false
}

fn more_threads_than_parties(parties: usize, threads: usize, generations: usize) {
    let barrier = Arc::new(SpinBarrier::new(parties));
    let tickets = Arc::new(AtomicUsize::new(parties * generations));
    let arrivals = Arc::new(AtomicUsize::new(0));
    let departures = Arc::new(AtomicUsize::new(0));
    let handles: Vec<_> = (0..threads)
        .map(|_| {
            let (barrier, tickets, arrivals, departures) = (
                Arc::clone(&barrier),
                Arc::clone(&tickets),
                Arc::clone(&arrivals),
                Arc::clone(&departures),
            );
            thread::spawn(move || {
                let mut leaders = 0;
                while take_ticket(&tickets) {
                    arrivals.fetch_add(1, SeqCst);
                    leaders += usize::from(barrier.wait().is_leader());
                    let gone = departures.fetch_add(1, SeqCst) + 1;
                    let came = arrivals.load(SeqCst);
                    assert!(
                        gone <= came / parties * parties,
                        "{gone} departures with only {came} arrivals: a party left an \
                         incomplete generation"
                    );
                }
                leaders
            })
        })
        .collect();
    let leaders: usize = handles.into_iter().map(|h| h.join().unwrap()).sum();
    assert_eq!(leaders, generations);
    assert_eq!(departures.load(SeqCst), parties * generations);
    assert_eq!(barrier.n_waiting(), 0);
}

#[test]
fn twice_as_many_threads_as_parties() {
    if cfg!(miri) {
        more_threads_than_parties(2, 4, 3);
    } else {
        more_threads_than_parties(3, 6, 10 * GENERATIONS);
    }
}

#[test]
fn many_more_threads_than_parties_and_cores() {
    if cfg!(miri) {
        more_threads_than_parties(2, 6, 2);
    } else {
        more_threads_than_parties(3, 8 * cores(), 10 * GENERATIONS);
    }
}

/// Parties 1: every call is a generation of its own, always the leader.
#[test]
fn one_party_many_threads() {
    more_threads_than_parties(1, if cfg!(miri) { 2 } else { 4 }, 10 * GENERATIONS);
}

/// Many generations with two parties: the generation counter (16 bits) wraps.
#[test]
#[cfg_attr(miri, ignore = "too many generations for Miri")]
fn generation_counter_wraps() {
    const N: usize = 70_000;
    let barrier = Arc::new(SpinBarrier::new(2));
    let b2 = Arc::clone(&barrier);
    let t = thread::spawn(move || (0..N).filter(|_| b2.wait().is_leader()).count());
    let mine = (0..N).filter(|_| barrier.wait().is_leader()).count();
    assert_eq!(mine + t.join().unwrap(), N);
}

#[test]
fn statics_and_const_construction() {
    static ONE: SpinBarrier = SpinBarrier::new(1);
    let max = SpinBarrier::new(SpinBarrier::MAX_PARTIES);
    assert!(ONE.wait().is_leader());
    assert_eq!(max.parties(), 65535);
    assert_eq!(core::mem::size_of::<SpinBarrier>(), 8);
    assert_eq!(
        format!("{:?}", SpinBarrier::new(2)),
        "SpinBarrier { parties: 2, arrived: 0, generation: 0 }"
    );
}

#[test]
#[should_panic(expected = "a SpinBarrier needs at least one party")]
fn zero_parties_panics_at_run_time() {
    let _ = SpinBarrier::new(std::hint::black_box(0));
}

#[test]
#[should_panic(expected = "a SpinBarrier has at most 65535 parties")]
fn too_many_parties_panics_at_run_time() {
    let _ = SpinBarrier::new(std::hint::black_box(65536));
}
