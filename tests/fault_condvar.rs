//! Fault injection for `Condvar` and `ReentrantLock`: at every point where user code runs
//! inside them (a deadline closure, a `wait_while` predicate, the `Wait` backend, the caller's
//! `RawLock`, a `ThreadIdentity`), a test makes that code panic (or be slow, or re-enter), then
//! checks what the guards say: the lock is free or held exactly as the caller's remaining
//! guards say, nobody is left registered in the condition variable (`notify_all()` returns 0),
//! and a later `notify_one` releases exactly one of two real waiters.
//!
//! Runs under Miri too (sizes are small); the test of defect 1 there is the data-race
//! reproduction: before the fix Miri reported a race on the `Cell`.

mod fault_support;
use fault_support::*;

use baresync::sync::atomic::AtomicU32;
use baresync::{
    Condvar, Deadline, Futex, Lock, Mutex, RawLock, RawSpinLock, ReentrantLock, Spin, StdThreadId,
    ThreadIdentity, Wait,
};
use std::cell::Cell;
use std::num::NonZeroUsize;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering::SeqCst};
use std::sync::Arc;
use std::thread;
use std::time::Duration;

/// Gives the other threads time to (wrongly) run.
fn settle() {
    if cfg!(miri) {
        for _ in 0..20 {
            thread::yield_now();
        }
    } else {
        thread::sleep(Duration::from_millis(20));
    }
}

/// The text of a caught panic.
fn message(payload: &(dyn std::any::Any + Send)) -> String {
    if let Some(s) = payload.downcast_ref::<&str>() {
        (*s).to_owned()
    } else if let Some(s) = payload.downcast_ref::<String>() {
        s.clone()
    } else {
        String::new()
    }
}

/// Two real waiters, then `notify_one`: exactly one of them returns; a second `notify_one`
/// releases the other. Checks that no ghost registration (or leftover grant) from an earlier
/// fault is still in the condition variable.
fn notify_one_releases_exactly_one<W: Wait + Send + Sync + 'static>(cv: Arc<Condvar<W>>) {
    assert_eq!(cv.notify_all(), 0, "a ghost waiter is registered");
    let lock = Arc::new(Mutex::<usize, Futex>::with_wait(0));
    let woken = Arc::new(AtomicUsize::new(0));
    let waiters: Vec<_> = (0..2)
        .map(|_| {
            let (cv, lock, woken) = (Arc::clone(&cv), Arc::clone(&lock), Arc::clone(&woken));
            thread::spawn(move || {
                let mut g = lock.lock();
                *g += 1; // registered: it registers before it releases the lock
                let g = cv.wait(g);
                woken.fetch_add(1, SeqCst);
                drop(g);
            })
        })
        .collect();
    while *lock.lock() < 2 {
        thread::yield_now();
    }
    assert!(cv.notify_one());
    while woken.load(SeqCst) == 0 {
        thread::yield_now();
    }
    settle();
    assert_eq!(woken.load(SeqCst), 1, "one notify_one released two waiters");
    assert!(cv.notify_one());
    for w in waiters {
        w.join().unwrap();
    }
    assert_eq!(woken.load(SeqCst), 2);
    assert_eq!(cv.notify_all(), 0);
}

// ---------------------------------------------------------------------------------------------
// Defect 1: waiting with a reentrant lock held more than once
// ---------------------------------------------------------------------------------------------

type RLock<T> = ReentrantLock<T, StdThreadId, Futex>;

/// The reproduction of defect 1: the deadline closure writes the `Cell` through an outer
/// guard while the condition variable has the lock released, and another thread takes the
/// lock and writes it too (before the fix: a data race that Miri reports, and without Miri the
/// other thread is seen inside while the owner still holds a guard). Waiting on a reentrant
/// lock held twice must now panic before anything is released, and leave the lock held once.
#[test]
fn nested_reentrant_wait_panics_before_releasing() {
    let state = Arc::new((RLock::new(Cell::new(0u32)), Condvar::<Futex>::with_wait()));
    let started = Arc::new(AtomicBool::new(false));
    let outer_guard_alive = Arc::new(AtomicBool::new(true));
    let got_in_early = Arc::new(AtomicBool::new(false));
    let (lock, cv) = &*state;
    // Both guards are taken before the other thread exists, so it can only get in after them.
    let outer = lock.lock();
    let inner = lock.lock();
    let other = {
        let (state, started) = (Arc::clone(&state), Arc::clone(&started));
        let (outer_guard_alive, got_in_early) =
            (Arc::clone(&outer_guard_alive), Arc::clone(&got_in_early));
        thread::spawn(move || {
            started.store(true, SeqCst);
            let g = state.0.lock();
            // Written first, checked after: the write is what Miri must see racing.
            g.set(g.get() + 100);
            if outer_guard_alive.load(SeqCst) {
                got_in_early.store(true, SeqCst);
            }
        })
    };
    while !started.load(SeqCst) {
        thread::yield_now();
    }
    let mut polls = 0;
    let r = catch_unwind(AssertUnwindSafe(|| {
        cv.wait_until(inner, || {
            // Writes through the outer guard while (before the fix) the lock was released.
            outer.set(outer.get() + 1);
            thread::yield_now();
            polls += 1;
            polls > 20
        })
    }));
    let Err(payload) = r else {
        panic!("waiting on a lock held twice must panic")
    };
    assert!(
        message(&*payload).contains("held more than once"),
        "unexpected panic: {:?}",
        message(&*payload)
    );
    assert_eq!(polls, 0, "user code ran with the lock released");
    // The unwind dropped the inner guard: held once, by this thread, as `outer` says.
    assert!(lock.is_owned_by_current());
    assert_eq!(lock.lock_count(), 1);
    assert_eq!(cv.notify_all(), 0, "a ghost waiter is registered");
    settle();
    outer.set(outer.get() + 1);
    outer_guard_alive.store(false, SeqCst);
    drop(outer);
    other.join().unwrap();
    assert!(
        !got_in_early.load(SeqCst),
        "another thread took the lock while its owner still held a guard"
    );
    assert!(!lock.is_locked());
    assert_eq!(lock.lock().get(), 101);
}

/// The check runs before anything else: a guard stored in a thread-local (an outer guard the
/// deadline could reach) counts as holding the lock twice as well.
#[test]
fn reentrant_guard_in_a_thread_local_counts_as_nested() {
    static LOCK: ReentrantLock<Cell<u32>, StdThreadId, Spin> =
        ReentrantLock::with_identity(Cell::new(0));
    static CV: Condvar<Spin> = Condvar::with_wait();
    thread_local! {
        static STASH: Cell<Option<baresync::ReentrantLockGuard<'static, Cell<u32>, StdThreadId, Spin>>> =
            const { Cell::new(None) };
    }
    STASH.with(|s| s.set(Some(LOCK.lock())));
    let r = catch_unwind(|| CV.wait_until(LOCK.lock(), || true).1);
    assert!(r.is_err());
    assert_eq!(LOCK.lock_count(), 1);
    assert_eq!(CV.notify_all(), 0);
    drop(STASH.with(|s| s.take()));
    assert!(!LOCK.is_locked());
    // Held once, the wait is allowed.
    let (g, timed_out) = CV.wait_until(LOCK.lock(), || true);
    let timed_out = timed_out.timed_out();
    assert!(timed_out);
    assert_eq!(LOCK.lock_count(), 1);
    drop(g);
    assert!(!LOCK.is_locked());
}

/// A deadline closure that takes the lock again while it is released and leaks the guard:
/// the wait must not deadlock on re-taking a lock its own thread holds, and the counts stay
/// truthful (the leaked guard plus the returned one).
#[test]
fn deadline_that_leaks_a_reentrant_guard_does_not_deadlock() {
    let lock: RLock<Cell<u32>> = ReentrantLock::new(Cell::new(0));
    let cv: Condvar<Futex> = Condvar::with_wait();
    let (g, timed_out) = cv.wait_until(lock.lock(), || {
        let leaked = lock.lock();
        leaked.set(7);
        std::mem::forget(leaked);
        true
    });
    let timed_out = timed_out.timed_out();
    assert!(timed_out);
    assert_eq!(g.get(), 7);
    assert_eq!(lock.lock_count(), 2);
    drop(g);
    assert_eq!(lock.lock_count(), 1);
    assert_eq!(cv.notify_all(), 0);
}

// ---------------------------------------------------------------------------------------------
// Defect 2: a panicking deadline or predicate
// ---------------------------------------------------------------------------------------------

/// The deadline panics on its first call, then on a later one: the waiter deregisters and the
/// lock is free after the unwind (the guard moved into the wait was its only guard).
#[test]
fn panicking_deadline_deregisters() {
    let cv = Arc::new(Condvar::<Futex>::with_wait());
    let lock: Mutex<u32, Futex> = Mutex::with_wait(3);
    for k in [1, 2, 5] {
        let r = catch_unwind(AssertUnwindSafe(|| {
            cv.wait_until(lock.lock(), panics_on_call(k))
        }));
        assert_eq!(
            message(&*r.map(drop).expect_err("the deadline panicked")),
            "injected"
        );
        assert!(!lock.is_locked());
        assert_eq!(cv.notify_all(), 0, "a ghost waiter is registered (k = {k})");
    }
    assert_eq!(*lock.lock(), 3);
    notify_one_releases_exactly_one(cv);
}

/// A notification reaches the waiter (sent from inside its own deadline closure, so the race
/// is deterministic), then the deadline panics before the waiter takes the grant. The grant
/// is used up by the panicking waiter (no other waiter was registered before that
/// notification), and must not be left for later waiters: before the fix, the next
/// `notify_one` released two.
#[test]
fn panicking_deadline_after_a_notification() {
    let cv = Arc::new(Condvar::<Futex>::with_wait());
    let lock: Mutex<u32, Futex> = Mutex::with_wait(0);
    let mut released = 0;
    let r = catch_unwind(AssertUnwindSafe(|| {
        cv.wait_until(lock.lock(), || -> bool {
            released += cv.notify_one() as usize;
            panic!("injected");
        })
    }));
    assert!(r.is_err());
    assert_eq!(released, 1, "the waiter was registered when notified");
    assert!(!lock.is_locked());
    notify_one_releases_exactly_one(cv);
}

/// Same, on a reentrant lock held once: after the unwind the lock is not held, and another
/// thread can take it.
#[test]
fn panicking_deadline_with_a_reentrant_lock() {
    let state = Arc::new((RLock::new(Cell::new(1u32)), Condvar::<Futex>::with_wait()));
    let (lock, cv) = &*state;
    for k in [1, 3] {
        let r = catch_unwind(AssertUnwindSafe(|| {
            cv.wait_until(lock.lock(), panics_on_call(k))
        }));
        assert!(r.is_err());
        assert!(!lock.is_locked());
        assert_eq!(lock.lock_count(), 0);
        assert_eq!(cv.notify_all(), 0);
    }
    let other = Arc::clone(&state);
    thread::spawn(move || other.0.lock().set(2)).join().unwrap();
    assert_eq!(lock.lock().get(), 2);
}

/// The predicate of `wait_while` / `wait_while_until` runs with the lock held: when it panics,
/// the guard unwinds with it and nothing stays registered (first call, and after a wait).
#[test]
fn panicking_predicate_leaves_nothing_registered() {
    let cv = Arc::new(Condvar::<Futex>::with_wait());
    let lock: Mutex<u32, Futex> = Mutex::with_wait(0);
    let r = catch_unwind(AssertUnwindSafe(|| {
        cv.wait_while(lock.lock(), |_| panic!("injected"))
    }))
    .is_err();
    assert!(r);
    assert!(!lock.is_locked());
    assert_eq!(cv.notify_all(), 0);
    // Second call: after a wait that timed out.
    let mut calls = 0;
    let r = catch_unwind(AssertUnwindSafe(|| {
        cv.wait_while_until(
            lock.lock(),
            || true,
            |_| {
                calls += 1;
                if calls == 2 {
                    panic!("injected");
                }
                true
            },
        )
    }))
    .is_err();
    assert!(r);
    assert_eq!(calls, 2);
    assert!(!lock.is_locked());
    // Second call: after a real notification from another thread.
    let lock = Arc::new(lock);
    let waiter = {
        let (cv, lock) = (Arc::clone(&cv), Arc::clone(&lock));
        thread::spawn(move || {
            catch_unwind(AssertUnwindSafe(|| {
                cv.wait_while(lock.lock(), |n| {
                    if *n == 1 {
                        panic!("injected");
                    }
                    true
                })
            }))
            .is_err()
        })
    };
    loop {
        let mut g = lock.lock();
        // Registered once the waiter has checked the predicate under the lock and released it.
        if cv.notify_all() == 1 {
            *g = 1;
            cv.notify_all();
            break;
        }
        drop(g);
        thread::yield_now();
    }
    assert!(waiter.join().unwrap());
    assert!(!lock.is_locked());
    notify_one_releases_exactly_one(cv);
}

// ---------------------------------------------------------------------------------------------
// A panicking or slow `Wait` backend
// ---------------------------------------------------------------------------------------------

thread_local! {
    /// Calls of `PanickyWait::wait`/`wait_until` on this thread until one panics (0: never).
    static WAIT_PANICS_IN: Cell<u32> = const { Cell::new(0) };
}

/// Panics on the n-th `wait`/`wait_until` of the thread that armed it; otherwise `Futex`.
struct PanickyWait;

impl PanickyWait {
    fn arm(n: u32) {
        WAIT_PANICS_IN.with(|c| c.set(n));
    }
    fn tick() {
        WAIT_PANICS_IN.with(|c| match c.get() {
            0 => {}
            1 => {
                c.set(0);
                panic!("injected");
            }
            n => c.set(n - 1),
        });
    }
}

// SAFETY: only reads the word it is given (or passes its address on); never writes it.
unsafe impl Wait for PanickyWait {
    fn wait(atomic: &AtomicU32, expected: u32) {
        Self::tick();
        Futex::wait(atomic, expected);
    }
    fn wait_until(atomic: &AtomicU32, expected: u32, deadline: &mut impl Deadline) -> bool {
        Self::tick();
        Futex::wait_until(atomic, expected, deadline)
    }
    fn wake_one(atomic: &AtomicU32) {
        Futex::wake_one(atomic);
    }
    fn wake_all(atomic: &AtomicU32) {
        Futex::wake_all(atomic);
    }
}

/// The backend panics where the waiter goes to sleep, untimed and timed.
#[test]
fn panicking_wait_backend() {
    let cv = Arc::new(Condvar::<PanickyWait>::with_wait());
    let lock: Mutex<u32, Spin> = Mutex::with_wait(0);
    PanickyWait::arm(1);
    let r = catch_unwind(AssertUnwindSafe(|| cv.wait(lock.lock())));
    assert!(r.is_err());
    assert!(!lock.is_locked());
    assert_eq!(cv.notify_all(), 0);
    PanickyWait::arm(1);
    let r = catch_unwind(AssertUnwindSafe(|| cv.wait_until(lock.lock(), || false)));
    assert!(r.is_err());
    assert!(!lock.is_locked());
    assert_eq!(cv.notify_all(), 0);
    notify_one_releases_exactly_one(cv);
}

/// A slow backend changes nothing but the speed.
#[test]
fn slow_wait_backend() {
    let state = Arc::new((
        Mutex::<u32, SlowWait>::with_wait(0),
        Condvar::<SlowWait>::with_wait(),
    ));
    let rounds = if cfg!(miri) { 3 } else { 20 };
    let other = {
        let state = Arc::clone(&state);
        thread::spawn(move || {
            for i in 0..rounds {
                let g = state.1.wait_while(state.0.lock(), |n| *n % 2 == 0);
                assert_eq!(*g, 2 * i + 1);
                let mut g = g;
                *g += 1;
                drop(g);
                state.1.notify_all();
            }
        })
    };
    for i in 0..rounds {
        let mut g = state.1.wait_while(state.0.lock(), |n| *n % 2 == 1);
        assert_eq!(*g, 2 * i);
        *g += 1;
        drop(g);
        state.1.notify_all();
    }
    other.join().unwrap();
    assert_eq!(*state.0.lock(), 2 * rounds);
    assert_eq!(state.1.notify_all(), 0);
}

// ---------------------------------------------------------------------------------------------
// A `RawLock` that panics when the condition variable re-takes it
// ---------------------------------------------------------------------------------------------

thread_local! {
    static LOCK_PANICS: Cell<bool> = const { Cell::new(false) };
    static UNLOCK_PANICS: Cell<bool> = const { Cell::new(false) };
}

/// A spin lock whose `lock` panics (without taking it) while armed on this thread, and whose
/// `unlock` panics (after releasing it) while armed.
struct PanickyRaw(RawSpinLock);

// SAFETY: delegates to `RawSpinLock`; a panicking `lock` has not acquired anything.
unsafe impl RawLock for PanickyRaw {
    const INIT: Self = PanickyRaw(RawSpinLock::new());
    fn lock(&self) {
        if LOCK_PANICS.with(|p| p.replace(false)) {
            panic!("injected");
        }
        self.0.lock();
    }
    fn try_lock(&self) -> bool {
        self.0.try_lock()
    }
    unsafe fn unlock(&self) {
        // SAFETY: forwarded from our caller.
        unsafe { self.0.unlock() };
        if UNLOCK_PANICS.with(|p| p.replace(false)) {
            panic!("injected");
        }
    }
    fn is_locked(&self) -> bool {
        self.0.is_locked()
    }
}

/// Re-taking the caller's lock panics after a timeout and after a notification: the counts
/// are clean (the waiter left before re-taking), and the lock is free.
#[test]
fn panicking_relock() {
    let cv = Arc::new(Condvar::<Futex>::with_wait());
    let lock: Lock<PanickyRaw, u32> = Lock::with_raw(0);
    // After a timeout.
    let r = catch_unwind(AssertUnwindSafe(|| {
        cv.wait_until(lock.lock(), || {
            LOCK_PANICS.with(|p| p.set(true));
            true
        })
    }));
    assert!(r.is_err());
    assert!(!lock.is_locked());
    assert_eq!(cv.notify_all(), 0);
    // After a notification (sent from the deadline, before it expires).
    let r = catch_unwind(AssertUnwindSafe(|| {
        cv.wait_until(lock.lock(), || {
            assert!(cv.notify_one());
            LOCK_PANICS.with(|p| p.set(true));
            false
        })
    }));
    assert!(r.is_err());
    assert!(!lock.is_locked());
    notify_one_releases_exactly_one(cv);
}

/// Releasing the caller's lock panics, after the waiter registered: it deregisters (before
/// the fix of this call site, the registration stayed).
#[test]
fn panicking_unlock() {
    let cv = Arc::new(Condvar::<Futex>::with_wait());
    let lock: Lock<PanickyRaw, u32> = Lock::with_raw(0);
    let g = lock.lock();
    UNLOCK_PANICS.with(|p| p.set(true));
    let r = catch_unwind(AssertUnwindSafe(|| cv.wait_until(g, || true)));
    assert!(r.is_err());
    assert!(!lock.is_locked());
    notify_one_releases_exactly_one(cv);
}

// ---------------------------------------------------------------------------------------------
// `ThreadIdentity` implementations that panic or are slow (but keep the contract)
// ---------------------------------------------------------------------------------------------

thread_local! {
    static ID_PANICS: Cell<bool> = const { Cell::new(false) };
    static SLOW_ID: Cell<usize> = const { Cell::new(0) };
}

/// `StdThreadId`, except that it panics once while armed on this thread.
struct PanickyId;

// SAFETY: every id is `StdThreadId`'s; a panic returns no id at all.
unsafe impl ThreadIdentity for PanickyId {
    fn current() -> NonZeroUsize {
        if ID_PANICS.with(|p| p.replace(false)) {
            panic!("injected");
        }
        StdThreadId::current()
    }
}

/// Unique per thread (from a global counter), and slow: yields before answering.
struct SlowId;

// SAFETY: each thread draws its id once from a global counter and keeps it in a
// thread-local; ids are never reused.
unsafe impl ThreadIdentity for SlowId {
    fn current() -> NonZeroUsize {
        static NEXT: AtomicUsize = AtomicUsize::new(1);
        thread::yield_now();
        let id = SLOW_ID.with(|id| {
            if id.get() == 0 {
                id.set(NEXT.fetch_add(1, SeqCst));
            }
            id.get()
        });
        NonZeroUsize::new(id).unwrap()
    }
}

/// The identity panics in `lock` (nothing taken), and when the condition variable re-takes
/// the lock: the lock is free afterwards and the condition variable holds no waiter.
#[test]
fn panicking_thread_identity() {
    let state = Arc::new((
        ReentrantLock::<Cell<u32>, PanickyId, Futex>::with_identity(Cell::new(0)),
        Condvar::<Futex>::with_wait(),
    ));
    let (lock, cv) = &*state;
    ID_PANICS.with(|p| p.set(true));
    assert!(catch_unwind(AssertUnwindSafe(|| lock.lock().get())).is_err());
    assert!(!lock.is_locked());
    // Inside an outer guard: the owner's count is unchanged.
    let outer = lock.lock();
    ID_PANICS.with(|p| p.set(true));
    assert!(catch_unwind(AssertUnwindSafe(|| lock.try_lock().is_some())).is_err());
    assert_eq!(lock.lock_count(), 1);
    drop(outer);
    assert!(!lock.is_locked());
    // While the condition variable re-takes the lock, after a timeout and after a notification.
    for notify in [false, true] {
        let r = catch_unwind(AssertUnwindSafe(|| {
            cv.wait_until(lock.lock(), || {
                if notify {
                    assert!(cv.notify_one());
                }
                ID_PANICS.with(|p| p.set(true));
                !notify
            })
        }));
        assert!(r.is_err());
        assert!(!lock.is_locked());
        assert_eq!(lock.lock_count(), 0);
        assert_eq!(cv.notify_all(), 0);
    }
    let other = Arc::clone(&state);
    thread::spawn(move || other.0.lock().set(5)).join().unwrap();
    assert_eq!(lock.lock().get(), 5);
}

/// A slow identity (a yield inside every `current()`) keeps mutual exclusion and nesting, with
/// a condition variable in the loop.
#[test]
fn slow_thread_identity() {
    let threads = 3;
    let rounds = if cfg!(miri) { 5 } else { 200 };
    let state = Arc::new((
        ReentrantLock::<Cell<usize>, SlowId, Futex>::with_identity(Cell::new(0)),
        AtomicUsize::new(0),
        Condvar::<Futex>::with_wait(),
    ));
    let handles: Vec<_> = (0..threads)
        .map(|_| {
            let state = Arc::clone(&state);
            thread::spawn(move || {
                let (lock, inside, cv) = &*state;
                for _ in 0..rounds {
                    let g = lock.lock();
                    assert_eq!(inside.fetch_add(1, SeqCst), 0, "two owners at once");
                    let nested = lock.lock();
                    assert_eq!(lock.lock_count(), 2);
                    nested.set(nested.get() + 1);
                    drop(nested);
                    assert_eq!(inside.fetch_sub(1, SeqCst), 1);
                    cv.notify_all();
                    let mut polls = 0;
                    let (g, _) = cv.wait_until(g, || {
                        polls += 1;
                        polls > 2
                    });
                    assert_eq!(lock.lock_count(), 1);
                    drop(g);
                }
            })
        })
        .collect();
    for h in handles {
        h.join().unwrap();
    }
    let (lock, _, cv) = &*state;
    assert_eq!(lock.lock().get(), threads * rounds);
    assert!(!lock.is_locked());
    assert_eq!(cv.notify_all(), 0);
}

// ---------------------------------------------------------------------------------------------
// `ReentrantLock::lock_until` with a panicking deadline
// ---------------------------------------------------------------------------------------------

/// The deadline panics while another thread holds the lock: nothing is taken, and the lock
/// stays the holder's until it lets go.
#[test]
fn reentrant_lock_until_panicking_deadline() {
    let state = Arc::new((RLock::new(Cell::new(0u32)), AtomicBool::new(false)));
    let holder = {
        let state = Arc::clone(&state);
        thread::spawn(move || {
            let g = state.0.lock();
            state.1.store(true, SeqCst);
            while state.1.load(SeqCst) {
                thread::yield_now();
            }
            g.set(1);
        })
    };
    while !state.1.load(SeqCst) {
        thread::yield_now();
    }
    let (lock, held) = &*state;
    for k in [1, 3] {
        let r = catch_unwind(AssertUnwindSafe(|| {
            lock.lock_until(panics_on_call(k)).is_some()
        }));
        assert!(r.is_err());
        assert_eq!(lock.lock_count(), 0);
        assert!(lock.is_locked(), "the holder's lock was released");
    }
    held.store(false, SeqCst);
    holder.join().unwrap();
    assert!(!lock.is_locked());
    let g = lock.lock();
    assert_eq!((g.get(), lock.lock_count()), (1, 1));
}

// ---------------------------------------------------------------------------------------------
// Other user code: `Deadline::remaining`, `T::fmt`
// ---------------------------------------------------------------------------------------------

/// A deadline whose `remaining` panics (asked by a sleeping backend before it sleeps).
struct PanickyRemaining;

impl Deadline for PanickyRemaining {
    fn expired(&mut self) -> bool {
        false
    }
    fn remaining(&self) -> Option<Duration> {
        panic!("injected")
    }
}

#[test]
fn panicking_deadline_remaining() {
    let cv = Arc::new(Condvar::<Futex>::with_wait());
    let lock: Mutex<u32, Futex> = Mutex::with_wait(0);
    let r = catch_unwind(AssertUnwindSafe(|| {
        cv.wait_until(lock.lock(), PanickyRemaining)
    }));
    assert!(r.is_err());
    assert!(!lock.is_locked());
    notify_one_releases_exactly_one(cv);
}

/// `Debug` of a `ReentrantLock` formats the value under a guard it took itself: a panicking
/// `fmt` releases that guard, and leaves the caller's own guards as they were.
#[test]
fn panicking_debug_of_the_value() {
    struct Bad;
    impl std::fmt::Debug for Bad {
        fn fmt(&self, _: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            panic!("injected")
        }
    }
    let lock: RLock<Bad> = ReentrantLock::new(Bad);
    assert!(catch_unwind(AssertUnwindSafe(|| format!("{lock:?}"))).is_err());
    assert!(!lock.is_locked());
    let g = lock.lock();
    assert!(catch_unwind(AssertUnwindSafe(|| format!("{lock:?} {g:?}"))).is_err());
    assert_eq!(lock.lock_count(), 1);
    drop(g);
    assert!(!lock.is_locked());
}
