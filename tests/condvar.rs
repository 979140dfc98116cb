//! `Condvar` through its public API, from many threads.

use baresync::{Condvar, Futex, Mutex, ReentrantLock, Spin, StdThreadId, Wait, Yield};
use std::cell::Cell;
use std::collections::VecDeque;
use std::sync::Arc;
use std::thread;
use std::time::{Duration, Instant};

fn cores() -> usize {
    thread::available_parallelism().map_or(2, |n| n.get())
}

/// Gives the other threads time to (wrongly) run.
fn settle() {
    if cfg!(miri) {
        for _ in 0..20 {
            thread::yield_now();
        }
    } else {
        thread::sleep(Duration::from_millis(30));
    }
}

// ---------------------------------------------------------------------------------------------
// Bounded buffer
// ---------------------------------------------------------------------------------------------

struct Buffer<W: Wait> {
    items: Mutex<VecDeque<(usize, usize)>, W>,
    not_empty: Condvar<W>,
    not_full: Condvar<W>,
}

const CAPACITY: usize = 4;

/// `producers` threads put `per_producer` tagged items through a buffer of 4 slots to
/// `consumers` threads, with one `notify_one` per put and per get. Every item must arrive
/// exactly once, in order per producer; a lost notification hangs the test.
fn bounded_buffer<W: Wait + Send + Sync + 'static>(
    producers: usize,
    consumers: usize,
    per_producer: usize,
) {
    let buf = Arc::new(Buffer::<W> {
        items: Mutex::with_wait(VecDeque::new()),
        not_empty: Condvar::with_wait(),
        not_full: Condvar::with_wait(),
    });
    let total = producers * per_producer;
    let prods: Vec<_> = (0..producers)
        .map(|p| {
            let buf = Arc::clone(&buf);
            thread::spawn(move || {
                for i in 0..per_producer {
                    let mut items = buf
                        .not_full
                        .wait_while(buf.items.lock(), |q| q.len() == CAPACITY);
                    items.push_back((p, i));
                    drop(items);
                    buf.not_empty.notify_one();
                }
            })
        })
        .collect();
    // Each consumer takes items until it sees its share of the end markers' count.
    let taken = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let cons: Vec<_> = (0..consumers)
        .map(|_| {
            let (buf, taken) = (Arc::clone(&buf), Arc::clone(&taken));
            thread::spawn(move || {
                let mut got = Vec::new();
                loop {
                    let mut items = buf.items.lock();
                    loop {
                        if taken.load(std::sync::atomic::Ordering::SeqCst) == total {
                            return got;
                        }
                        if !items.is_empty() {
                            break;
                        }
                        items = buf.not_empty.wait(items);
                    }
                    got.push(items.pop_front().unwrap());
                    let n = taken.fetch_add(1, std::sync::atomic::Ordering::SeqCst) + 1;
                    drop(items);
                    buf.not_full.notify_one();
                    if n == total {
                        // Release the other consumers, which wait for items that never come.
                        buf.not_empty.notify_all();
                    }
                }
            })
        })
        .collect();
    for p in prods {
        p.join().unwrap();
    }
    let mut seen = vec![Vec::new(); producers];
    for c in cons {
        let mut last = vec![None; producers];
        for (p, i) in c.join().unwrap() {
            assert!(last[p] < Some(i), "producer {p}'s items out of order");
            last[p] = Some(i);
            seen[p].push(i);
        }
    }
    for (p, mut items) in seen.into_iter().enumerate() {
        items.sort_unstable();
        assert_eq!(
            items,
            (0..per_producer).collect::<Vec<_>>(),
            "producer {p}: lost or duplicated items"
        );
    }
}

const ITEMS: usize = if cfg!(miri) { 20 } else { 20_000 };

#[test]
fn bounded_buffer_spin_1p_1c() {
    bounded_buffer::<Spin>(1, 1, ITEMS);
}

#[test]
fn bounded_buffer_futex_oversubscribed() {
    let n = if cfg!(miri) { 2 } else { 2 * cores() };
    bounded_buffer::<Futex>(n, n, ITEMS / n);
}

#[test]
fn bounded_buffer_yield_oversubscribed() {
    let n = if cfg!(miri) { 2 } else { 2 * cores() };
    bounded_buffer::<Yield>(n, n, ITEMS / n);
}

// ---------------------------------------------------------------------------------------------
// notify(n) is exact
// ---------------------------------------------------------------------------------------------

/// The shared state of the exactness tests: how many threads registered, how many returned.
struct Counts {
    registered: usize,
    returned: usize,
}

/// Spawns `k` waiters; returns once all of them are registered on `cv`.
fn spawn_waiters<W: Wait + Send + Sync + 'static>(
    state: &Arc<(Mutex<Counts, W>, Condvar<W>)>,
    k: usize,
) -> Vec<thread::JoinHandle<()>> {
    let handles = (0..k)
        .map(|_| {
            let state = Arc::clone(state);
            thread::spawn(move || {
                let (lock, cv) = &*state;
                let mut g = lock.lock();
                g.registered += 1;
                let mut g = cv.wait(g);
                g.returned += 1;
            })
        })
        .collect();
    // A waiter registers on the condvar before it releases the lock it counted itself under.
    while state.0.lock().registered < k {
        thread::yield_now();
    }
    handles
}

/// `notify(n)` releases exactly `min(n, waiting)`, even when waiters spin; nothing returns
/// without a notification.
fn notify_n_is_exact<W: Wait + Send + Sync + 'static>(k: usize) {
    let state = Arc::new((
        Mutex::<Counts, W>::with_wait(Counts {
            registered: 0,
            returned: 0,
        }),
        Condvar::<W>::with_wait(),
    ));
    let handles = spawn_waiters(&state, k);
    let returned = || state.0.lock().returned;
    settle();
    assert_eq!(returned(), 0, "a waiter returned without a notification");
    let mut released = 0;
    for n in [2, 1, 0, 3] {
        let granted = state.1.notify(n);
        assert_eq!(granted, n.min(k - released));
        released += granted;
        while returned() < released {
            thread::yield_now();
        }
        settle();
        assert_eq!(returned(), released, "notify({n}) released more than {n}");
    }
    assert_eq!(state.1.notify_all(), k - released);
    for h in handles {
        h.join().unwrap();
    }
    assert_eq!(returned(), k);
    assert_eq!(state.1.notify_all(), 0);
}

#[test]
fn notify_n_is_exact_spin() {
    notify_n_is_exact::<Spin>(if cfg!(miri) { 3 } else { 7 });
}

#[test]
fn notify_n_is_exact_yield() {
    notify_n_is_exact::<Yield>(if cfg!(miri) { 3 } else { 7 });
}

#[test]
fn notify_n_is_exact_futex() {
    notify_n_is_exact::<Futex>(if cfg!(miri) { 3 } else { 12 });
}

/// A notification sent before a thread starts waiting is not taken by that thread: the
/// waiter already waiting gets it.
#[test]
fn late_waiter_cannot_steal() {
    type S = Arc<(Mutex<Counts, Futex>, Condvar<Futex>)>;
    let state: S = Arc::new((
        Mutex::new(Counts {
            registered: 0,
            returned: 0,
        }),
        Condvar::new(),
    ));
    let first = spawn_waiters(&state, 1);
    // Hold the lock so the first waiter cannot return yet, notify, then register a second.
    let g = state.0.lock();
    assert!(state.1.notify_one());
    drop(g);
    let second = {
        let state = Arc::clone(&state);
        thread::spawn(move || {
            let (lock, cv) = &*state;
            let g = lock.lock();
            let (mut g, timed_out) = cv.wait_timeout(g, Duration::from_millis(50));
            let timed_out = timed_out.timed_out();
            assert!(timed_out, "the late waiter took an earlier notification");
            g.returned += 10;
        })
    };
    for h in first {
        h.join().unwrap();
    }
    second.join().unwrap();
    assert_eq!(state.0.lock().returned, 11);
}

// ---------------------------------------------------------------------------------------------
// Timeouts
// ---------------------------------------------------------------------------------------------

/// Waiter A times out around the time of a `notify_one`; waiter B waits without a deadline.
/// Either A reports that it was notified (then B needs another notification), or A reports a
/// timeout and the notification went to B. A notification is never lost to a timed-out
/// waiter: if it were, B would time out on its generous deadline.
fn timeout_does_not_swallow<W: Wait + Send + Sync + 'static>() {
    let rounds = if cfg!(miri) { 4 } else { 300 };
    for round in 0..rounds {
        let state = Arc::new((Mutex::<u32, W>::with_wait(0), Condvar::<W>::with_wait()));
        let a = {
            let state = Arc::clone(&state);
            thread::spawn(move || {
                let (lock, cv) = &*state;
                let mut g = lock.lock();
                *g += 1;
                let mut polls = 0;
                let (_g, result) = cv.wait_until(g, || {
                    polls += 1;
                    polls > round % 5
                });
                result.timed_out()
            })
        };
        let b = {
            let state = Arc::clone(&state);
            thread::spawn(move || {
                let (lock, cv) = &*state;
                let mut g = lock.lock();
                *g += 1;
                let (_g, timed_out) = cv.wait_timeout(g, Duration::from_secs(20));
                let timed_out = timed_out.timed_out();
                assert!(!timed_out, "B's notification was swallowed");
            })
        };
        while *state.0.lock() < 2 {
            thread::yield_now();
        }
        let granted = state.1.notify_one();
        let a_timed_out = a.join().unwrap();
        if !a_timed_out {
            assert!(granted, "A reported a notification nobody sent");
            assert!(state.1.notify_one(), "B should still be waiting");
        }
        b.join().unwrap();
        assert_eq!(state.1.notify_all(), 0);
    }
}

#[test]
fn timeout_does_not_swallow_yield() {
    timeout_does_not_swallow::<Yield>();
}

#[test]
fn timeout_does_not_swallow_futex() {
    timeout_does_not_swallow::<Futex>();
}

/// Notifications that leave the condition true do not restart the deadline of
/// `wait_while_until`.
#[test]
#[cfg_attr(miri, ignore = "real time")]
fn wait_while_until_deadline_is_absolute() {
    let state = Arc::new((
        Mutex::<bool, Futex>::with_wait(false),
        Condvar::<Futex>::with_wait(),
    ));
    let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let pest = {
        let (state, stop) = (Arc::clone(&state), Arc::clone(&stop));
        thread::spawn(move || {
            let mut sent = 0;
            while !stop.load(std::sync::atomic::Ordering::SeqCst) {
                state.1.notify_all();
                sent += 1;
                thread::sleep(Duration::from_millis(2));
            }
            sent
        })
    };
    let start = Instant::now();
    let mut evaluations = 0;
    let (g, timed_out) =
        state
            .1
            .wait_while_until(state.0.lock(), start + Duration::from_millis(100), |done| {
                evaluations += 1;
                !*done
            });
    let elapsed = start.elapsed();
    drop(g);
    stop.store(true, std::sync::atomic::Ordering::SeqCst);
    let sent = pest.join().unwrap();
    assert!(timed_out.timed_out());
    assert!(elapsed >= Duration::from_millis(100), "gave up early");
    assert!(
        elapsed < Duration::from_secs(5),
        "deadline restarted: {elapsed:?}"
    );
    assert!(sent > 5, "the notifier did not run");
    assert!(evaluations > 2, "notifications did not wake the waiter");
}

/// The same with a closure deadline: its polls accumulate across wake-ups.
#[test]
fn wait_while_until_closure_deadline_is_not_restarted() {
    let state = Arc::new((
        Mutex::<u32, Yield>::with_wait(0),
        Condvar::<Yield>::with_wait(),
    ));
    let notifier = {
        let state = Arc::clone(&state);
        thread::spawn(move || {
            for _ in 0..if cfg!(miri) { 20 } else { 2_000 } {
                state.1.notify_all();
                thread::yield_now();
            }
        })
    };
    let mut polls = 0u32;
    let (_g, timed_out) = state.1.wait_while_until(
        state.0.lock(),
        || {
            polls += 1;
            polls > 10
        },
        |v| *v == 0,
    );
    let timed_out = timed_out.timed_out();
    assert!(timed_out);
    assert!(polls <= 12, "the deadline was polled {polls} times");
    notifier.join().unwrap();
}

// ---------------------------------------------------------------------------------------------
// Reentrant locks
// ---------------------------------------------------------------------------------------------

/// Waiting with a reentrant lock's only guard releases it, so the notifier can take it; the
/// waiter gets it back held once, and may nest again after.
#[test]
fn condvar_with_reentrant_lock() {
    type RLock = ReentrantLock<Cell<u32>, StdThreadId, Futex>;
    let state = Arc::new((RLock::new(Cell::new(0)), Condvar::<Futex>::with_wait()));
    let waiter = {
        let state = Arc::clone(&state);
        thread::spawn(move || {
            let (lock, cv) = &*state;
            let mut g = lock.lock();
            g.set(1);
            while g.get() != 2 {
                g = cv.wait(g);
            }
            assert_eq!(lock.lock_count(), 1);
            let nested = lock.lock();
            assert_eq!(lock.lock_count(), 2);
            drop(nested);
            drop(g);
        })
    };
    loop {
        let g = state.0.lock();
        if g.get() == 1 {
            g.set(2);
            drop(g);
            state.1.notify_all();
            break;
        }
        drop(g);
        thread::yield_now();
    }
    waiter.join().unwrap();
    assert!(!state.0.is_locked());
}

/// Waiting with a reentrant lock held twice panics (its outer guard could reach the data
/// while the lock is released), before anything is released.
#[test]
#[should_panic(expected = "held more than once")]
fn condvar_with_nested_reentrant_guard_panics() {
    let lock: ReentrantLock<Cell<u32>, StdThreadId, Futex> =
        ReentrantLock::with_identity(Cell::new(0));
    let cv: Condvar<Futex> = Condvar::with_wait();
    let _outer = lock.lock();
    let _ = cv.wait_until(lock.lock(), || true);
}

#[test]
fn statics() {
    static LOCK: Mutex<u8> = Mutex::new(0);
    static CV: Condvar = Condvar::new();
    let (g, timed_out) = CV.wait_until(LOCK.lock(), || true);
    let timed_out = timed_out.timed_out();
    assert!(timed_out);
    drop(g);
    assert!(!CV.notify_one());
    assert_eq!(format!("{CV:?}"), "Condvar { waiters: 0, .. }");
}
