//! Loom models of `Condvar`.
//!
//! Run with
//! `RUSTFLAGS="--cfg baresync_loom" LOOM_MAX_PREEMPTIONS=2 CARGO_TARGET_DIR=target/loom cargo test --release --test loom_condvar`.
//!
//! What is checked: no lost wake-up when `notify` races `wait` (the waiter really sleeps on
//! [`LoomFutex`], so a missed notification is a loom deadlock); `notify(1)` with two waiters
//! releases exactly one (no `wait` returns without a grant: the waiters count their wake-ups
//! against the grants the notifier recorded under the same lock); a waiter whose deadline
//! expires as it is notified either takes the notification or leaves it to the other waiter.
//! A waiter whose deadline panics as a notification races it deregisters on the way out and
//! leaves the grant to the other waiter when that one was registered before the notification
//! too (`panicking_deadline_races_notify`).
//! The negative model uses a backend that never wakes and must deadlock.
#![cfg(baresync_loom)]

mod loom_support;
use loom_support::*;

use baresync::{Condvar, Mutex, Spin, Wait};
use loom::thread;
use std::sync::Arc;

#[derive(Default)]
struct State {
    /// Tokens the waiters wait for.
    tokens: usize,
    /// Sum of what `notify` returned, recorded under the lock by the notifier.
    granted: usize,
    /// How many times a `wait` returned (timeouts excluded).
    woken: usize,
}

/// The lock and the condition variable the threads share.
type Pair<W> = (Mutex<State, LoomFutex>, Condvar<W>);

fn shared<W: Wait>() -> Arc<Pair<W>> {
    Arc::new((Mutex::with_wait(State::default()), Condvar::with_wait()))
}

/// Waits for a token; every return of `wait` must be covered by a grant.
fn take_token<W: Wait>((lock, cv): &Pair<W>) {
    let mut g = lock.lock();
    while g.tokens == 0 {
        g = cv.wait(g);
        g.woken += 1;
        assert!(
            g.woken <= g.granted,
            "a wait returned without a notification"
        );
    }
    g.tokens -= 1;
}

/// Puts a token and notifies one waiter, under the lock.
fn give_token<W: Wait>((lock, cv): &Pair<W>) {
    let mut g = lock.lock();
    g.tokens += 1;
    g.granted += cv.notify(1);
}

/// One waiter, one notifier racing it.
fn notify_races_wait<W: Wait + 'static>() {
    model(|| {
        let s = shared::<W>();
        let waiter = spawn_with(&s, take_token);
        give_token(&s);
        waiter.join().unwrap();
        assert_eq!(s.0.lock().tokens, 0);
    });
}

#[test]
fn no_lost_wakeup() {
    reset_counters();
    notify_races_wait::<LoomFutex>();
    assert!(sleeps() > 0, "no execution reached the sleeping path");
}

/// Two waiters, two tokens given one at a time with `notify(1)` each: both finish, and no
/// wait returns without a grant (so the first `notify(1)` released one waiter, not two).
#[test]
fn notify_one_with_two_waiters_releases_one() {
    model(|| {
        let s = shared::<LoomFutex>();
        let waiters: Vec<_> = (0..2).map(|_| spawn_with(&s, take_token)).collect();
        give_token(&s);
        give_token(&s);
        for w in waiters {
            w.join().unwrap();
        }
        let g = s.0.lock();
        assert_eq!(g.tokens, 0);
        assert!(g.woken <= g.granted);
    });
}

/// Both waiters registered, then `notify(1)`: it grants exactly one, and only one `wait`
/// returns before the second notification.
#[test]
fn notify_one_grants_exactly_one() {
    model(|| {
        let s = shared::<LoomFutex>();
        let waiter = |(lock, cv): &Pair<LoomFutex>| {
            let mut g = lock.lock();
            g.tokens += 1; // counts registrations here
            let mut g = cv.wait(g);
            g.woken += 1;
            assert!(g.woken <= g.granted, "released more than notified");
        };
        let a = spawn_with(&s, waiter);
        let b = spawn_with(&s, waiter);
        // Wait until both are registered (they register before releasing the lock).
        loop {
            let g = s.0.lock();
            if g.tokens == 2 {
                break;
            }
            drop(g);
            thread::yield_now();
        }
        for _ in 0..2 {
            let mut g = s.0.lock();
            let k = s.1.notify(1);
            assert_eq!(k, 1);
            g.granted += k;
        }
        a.join().unwrap();
        b.join().unwrap();
    });
}

/// A waiter whose deadline has expired races a notify_one; the other waiter waits without a
/// deadline. If the timed waiter reports a timeout, the notification reached the other one
/// (else loom reports a deadlock); if it reports a notification, a second notify releases the
/// other.
#[test]
fn timeout_races_notify_without_swallowing() {
    reset_counters();
    model(|| {
        let s = shared::<LoomFutex>();
        let timed = spawn_with(&s, |(lock, cv)| {
            let mut g = lock.lock();
            g.tokens += 1;
            // Expired at the first poll: `LoomFutex` cannot time a sleep out, so a
            // deadline that let this waiter sleep would make it wait for a wake that a
            // correct condvar need not send (it is old and has no grant).
            let (mut g, timed_out) = cv.wait_until(g, || true);
            let timed_out = timed_out.timed_out();
            if !timed_out {
                g.woken += 1;
            }
            timed_out
        });
        let patient = spawn_with(&s, |(lock, cv)| {
            let mut g = lock.lock();
            g.tokens += 1;
            let mut g = cv.wait(g);
            g.woken += 1;
        });
        loop {
            let g = s.0.lock();
            if g.tokens == 2 {
                break;
            }
            drop(g);
            thread::yield_now();
        }
        let first = s.1.notify(1);
        let timed_out = timed.join().unwrap();
        record_outcome(!timed_out);
        if !timed_out {
            assert_eq!(first, 1);
            assert_eq!(s.1.notify(1), 1, "the patient waiter must still wait");
        }
        patient.join().unwrap();
        assert_eq!(s.1.notify_all(), 0);
    });
    let (notified, timed_out) = OUTCOMES.with(std::cell::Cell::get);
    assert!(
        notified,
        "no execution had the timed waiter take the notification"
    );
    assert!(timed_out, "no execution had the timed waiter time out");
}

/// A waiter whose deadline panics at its first poll races a `notify_one` and a patient
/// waiter. Whatever the interleaving, the patient waiter is released if it waited (a grant
/// kept by the panicking waiter would leave it spinning, which loom reports; if the first
/// waiter took the notification before its first poll, it returned normally and a second
/// `notify_one` is owed), and afterwards nobody is registered (`notify_all` returns 0: no
/// ghost waiter).
#[test]
fn panicking_deadline_races_notify() {
    // One injected panic per execution: keep the output readable.
    model_quiet(&["injected"], || {
        // The condition variable spins (`Spin`): a waiter unwinding through it must not take
        // the loom `Mutex` inside `LoomFutex` (loom poisons it for good when a guard of it is
        // dropped during an unwind).
        let s = shared::<Spin>();
        let panicky = spawn_with(&s, |(lock, cv)| {
            let r = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                cv.wait_until(lock.lock(), || -> bool { panic!("injected") })
            }));
            if let Ok((mut g, timed_out)) = r {
                // The notification came before its first poll: it took it, normally.
                assert!(!timed_out.timed_out());
                g.granted += 1;
            }
        });
        let patient = spawn_with(&s, |(lock, cv)| {
            let mut g = cv.wait_while(lock.lock(), |g| g.tokens == 0);
            g.tokens -= 1;
        });
        let (lock, cv) = &*s;
        lock.lock().tokens += 1;
        cv.notify_one();
        panicky.join().unwrap();
        if lock.lock().granted == 1 {
            // The panicking waiter took that notification before it could panic.
            cv.notify_one();
        }
        patient.join().unwrap();
        assert_eq!(cv.notify_all(), 0, "a ghost waiter is registered");
        assert_eq!(lock.lock().tokens, 0);
    });
}

/// A backend whose wakes do nothing: the waiter sleeps forever.
#[test]
#[should_panic(expected = "deadlock")]
fn negative_no_wake_deadlocks() {
    notify_races_wait::<Park<false, false>>();
}
