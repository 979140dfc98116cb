//! `Event` through the public API, from many threads.

use baresync::{Event, Futex, Spin, Wait, Yield};
use std::sync::atomic::{AtomicU32, AtomicU64, Ordering::Relaxed, Ordering::SeqCst};
use std::sync::Arc;
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

fn cores() -> usize {
    thread::available_parallelism().map_or(2, |n| n.get())
}

/// More threads than cores (fewer under Miri, which runs them one at a time anyway).
fn oversubscribed() -> u32 {
    if cfg!(miri) {
        3
    } else {
        4 * cores() as u32
    }
}

const LIMIT: Duration = Duration::from_secs(if cfg!(miri) { 600 } else { 60 });

/// Joins every thread, failing the test if they have not all finished within `limit` (a lost
/// wake-up shows up as a failure, not as a hung test run).
fn join_within<T>(handles: Vec<JoinHandle<T>>, limit: Duration) -> Vec<T> {
    let start = Instant::now();
    while !handles.iter().all(JoinHandle::is_finished) {
        assert!(
            start.elapsed() < limit,
            "threads still waiting after {limit:?}: lost wake-up?"
        );
        thread::sleep(Duration::from_millis(1));
    }
    handles.into_iter().map(|h| h.join().unwrap()).collect()
}

/// Waits until `count` reaches `n`, then a little longer so that the threads that counted
/// themselves have gone on into `wait` (and, with a sleeping backend, to sleep).
fn until_waiting(count: &AtomicU32, n: u32) {
    while count.load(SeqCst) < n {
        thread::yield_now();
    }
    thread::sleep(Duration::from_millis(if cfg!(miri) { 1 } else { 30 }));
}

/// `n` threads wait on `event`; returns their handles once all of them are inside `wait`.
/// Each returns the value of `data` it read after being released.
fn waiters<W: Wait + Send + Sync + 'static>(
    event: &Arc<Event<W>>,
    data: &Arc<AtomicU64>,
    n: u32,
) -> Vec<JoinHandle<u64>> {
    let ready = Arc::new(AtomicU32::new(0));
    let handles = (0..n)
        .map(|_| {
            let (event, data, ready) = (Arc::clone(event), Arc::clone(data), Arc::clone(&ready));
            thread::spawn(move || {
                ready.fetch_add(1, SeqCst);
                event.wait();
                // Relaxed: only `wait`'s synchronization with `set` makes the value visible.
                data.load(Relaxed)
            })
        })
        .collect();
    until_waiting(&ready, n);
    handles
}

/// `set` releases every waiter, and what the setter wrote before is visible to each.
fn set_releases_every_waiter<W: Wait + Send + Sync + 'static>() {
    let event = Arc::new(Event::<W>::with_wait());
    let data = Arc::new(AtomicU64::new(0));
    let handles = waiters(&event, &data, oversubscribed());
    assert!(
        handles.iter().all(|h| !h.is_finished()),
        "returned before set"
    );
    data.store(42, Relaxed);
    event.set();
    assert!(join_within(handles, LIMIT).iter().all(|&v| v == 42));
    assert!(event.is_set());
}

#[test]
fn set_releases_every_waiter_spin() {
    set_releases_every_waiter::<Spin>();
}

#[test]
fn set_releases_every_waiter_yield() {
    set_releases_every_waiter::<Yield>();
}

#[test]
fn set_releases_every_waiter_futex() {
    set_releases_every_waiter::<Futex>();
}

/// `set()` followed at once by `clear()` still releases every thread that was already waiting,
/// including those that never run while the flag is on.
fn set_then_clear_releases_every_waiter<W: Wait + Send + Sync + 'static>() {
    let event = Arc::new(Event::<W>::with_wait());
    let data = Arc::new(AtomicU64::new(0));
    let rounds = if cfg!(miri) { 2 } else { 10 };
    for round in 1..=rounds {
        let handles = waiters(&event, &data, oversubscribed());
        data.store(round, Relaxed);
        event.set();
        event.clear();
        assert!(!event.is_set());
        assert!(join_within(handles, LIMIT).iter().all(|&v| v == round));
    }
}

#[test]
fn set_then_clear_releases_every_waiter_spin() {
    set_then_clear_releases_every_waiter::<Spin>();
}

#[test]
fn set_then_clear_releases_every_waiter_yield() {
    set_then_clear_releases_every_waiter::<Yield>();
}

#[test]
fn set_then_clear_releases_every_waiter_futex() {
    set_then_clear_releases_every_waiter::<Futex>();
}

/// Two events bounce control between two threads many times (set, wait, clear cycles): every
/// hand-off must arrive, with a sleeping backend and with spinning.
fn ping_pong<W: Wait + Send + Sync + 'static>(rounds: u32) {
    let ping = Arc::new(Event::<W>::with_wait());
    let pong = Arc::new(Event::<W>::with_wait());
    let count = Arc::new(AtomicU32::new(0));
    let other = {
        let (ping, pong, count) = (Arc::clone(&ping), Arc::clone(&pong), Arc::clone(&count));
        thread::spawn(move || {
            for _ in 0..rounds {
                ping.wait();
                ping.clear();
                count.fetch_add(1, Relaxed);
                pong.set();
            }
        })
    };
    for i in 1..=rounds {
        ping.set();
        pong.wait();
        pong.clear();
        assert_eq!(count.load(Relaxed), i);
    }
    join_within(vec![other], LIMIT);
}

#[test]
fn ping_pong_futex() {
    ping_pong::<Futex>(if cfg!(miri) { 20 } else { 5_000 });
}

#[test]
fn ping_pong_yield() {
    ping_pong::<Yield>(if cfg!(miri) { 20 } else { 5_000 });
}

#[test]
fn ping_pong_spin() {
    ping_pong::<Spin>(if cfg!(miri) { 20 } else { 500 });
}

/// A thread that starts waiting after `set` + `clear` waits for the next `set`.
#[test]
fn clear_makes_new_waiters_wait() {
    let event = Arc::new(Event::<Futex>::with_wait());
    event.set();
    event.clear();
    let late = {
        let event = Arc::clone(&event);
        thread::spawn(move || {
            !event
                .wait_timeout(Duration::from_millis(if cfg!(miri) { 1 } else { 20 }))
                .timed_out()
        })
    };
    assert_eq!(join_within(vec![late], LIMIT), [false]);
}

fn wait_until_times_out<W: Wait + Send + Sync + 'static>() {
    let event = Event::<W>::with_wait();
    if cfg!(miri) {
        let mut polls = 0;
        assert!(event
            .wait_until(|| {
                polls += 1;
                polls > 20
            })
            .timed_out());
    } else {
        let start = Instant::now();
        assert!(event
            .wait_until(start + Duration::from_millis(20))
            .timed_out());
        assert!(
            start.elapsed() >= Duration::from_millis(20),
            "gave up before the deadline"
        );
        let start = Instant::now();
        assert!(event.wait_timeout(Duration::from_millis(10)).timed_out());
        assert!(start.elapsed() >= Duration::from_millis(10));
    }
    assert!(event.wait_timeout(Duration::ZERO).timed_out());
    event.set();
    assert!(!event.wait_timeout(Duration::ZERO).timed_out());
}

#[test]
fn wait_until_times_out_spin() {
    wait_until_times_out::<Spin>();
}

#[test]
fn wait_until_times_out_yield() {
    wait_until_times_out::<Yield>();
}

#[test]
fn wait_until_times_out_futex() {
    wait_until_times_out::<Futex>();
}

/// A timed wait released by a `set` from another thread returns `true` before its deadline;
/// `Duration::MAX` waits forever and does not panic.
#[test]
fn timed_waits_are_released_by_set() {
    let event = Arc::new(Event::<Futex>::with_wait());
    let ready = Arc::new(AtomicU32::new(0));
    let handles: Vec<_> = [Duration::MAX, Duration::from_secs(3600)]
        .into_iter()
        .map(|timeout| {
            let (event, ready) = (Arc::clone(&event), Arc::clone(&ready));
            thread::spawn(move || {
                ready.fetch_add(1, SeqCst);
                !event.wait_timeout(timeout).timed_out()
            })
        })
        .collect();
    until_waiting(&ready, 2);
    event.set();
    event.clear();
    assert_eq!(join_within(handles, LIMIT), [true, true]);
}

/// A waiter that times out while others sleep does not strand them.
#[test]
fn timed_out_waiter_does_not_strand_sleepers() {
    let event = Arc::new(Event::<Futex>::with_wait());
    let data = Arc::new(AtomicU64::new(0));
    let handles = waiters(&event, &data, 3);
    assert!(event.wait_timeout(Duration::from_millis(5)).timed_out());
    event.set();
    assert_eq!(join_within(handles, LIMIT).len(), 3);
}

#[test]
fn statics_and_const_construction() {
    static A: Event = Event::new();
    static B: Event<Futex> = Event::with_wait();
    static C: Event<Yield> = Event::with_wait();
    A.set();
    B.set();
    assert!(A.is_set() && B.is_set() && !C.is_set());
    assert_eq!(format!("{C:?}"), "Event { is_set: false, .. }");
}
