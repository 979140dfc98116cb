//! Shared pieces of the loom models (`tests/loom_*.rs`): the model runner, a `Wait` backend
//! that really sleeps on loom's primitives, counters of what the models explored, and the
//! raw lock with its counter that the lock models share ([`Shared`]).
//!
//! Each loom test file includes it with `mod loom_support;`; not every file uses every item.
#![allow(dead_code)]

use baresync::sync::atomic::{AtomicU32, Ordering::Relaxed};
use baresync::{Deadline, RawLock, Wait};
use loom::cell::UnsafeCell;
use loom::sync::Mutex;
use loom::thread;
use std::cell::Cell;
// std's Arc for `Shared`: see the note on it in tests/loom_lock.rs.
use std::sync::Arc;

// ---------------------------------------------------------------------------------------------
// Harness
// ---------------------------------------------------------------------------------------------

/// Runs `f` under loom with the environment's settings, and a preemption bound of 2 when the
/// environment sets none (unbounded exploration of these spin loops does not finish).
pub fn model<F: Fn() + Sync + Send + 'static>(f: F) {
    let mut builder = loom::model::Builder::new();
    if builder.preemption_bound.is_none() {
        builder.preemption_bound = Some(2);
    }
    builder.check(f);
}

/// [`model`], with the panics the model injects kept out of the output: a panic whose message
/// contains one of `expected` (a `&str` or `String` payload) is not printed; every other one
/// is, by the default hook. The panics are still raised and caught as before; only their
/// printing, once per execution, is skipped. One hook for the whole test binary, installed
/// at the first call (tests run in parallel: a hook set and put back per test would swap
/// under another test's feet), holding the messages of every call so far.
pub fn model_quiet<F: Fn() + Sync + Send + 'static>(expected: &'static [&'static str], f: F) {
    static QUIET: std::sync::Mutex<Vec<&'static str>> = std::sync::Mutex::new(Vec::new());
    static HOOK: std::sync::Once = std::sync::Once::new();
    QUIET.lock().unwrap().extend_from_slice(expected);
    HOOK.call_once(|| {
        let default_hook = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            let payload = info.payload();
            let message = payload
                .downcast_ref::<&str>()
                .copied()
                .or_else(|| payload.downcast_ref::<String>().map(String::as_str));
            let quiet = message.is_some_and(|m| {
                // A panic while the list's lock is held cannot come here: only this function
                // takes it, and nothing in `extend_from_slice` of `&str`s panics but an
                // allocation failure, which aborts.
                QUIET.lock().is_ok_and(|q| q.iter().any(|e| m.contains(e)))
            });
            if !quiet {
                default_hook(info);
            }
        }));
    });
    model(f);
}

std::thread_local! {
    /// How many times a `Park` waiter went to sleep on the condvar, over all executions of the
    /// current model (loom runs every model thread on the test's OS thread).
    pub static SLEEPS: Cell<usize> = const { Cell::new(0) };
    /// Over all executions: did some `lock_until` succeed, did some time out.
    pub static OUTCOMES: Cell<(bool, bool)> = const { Cell::new((false, false)) };
}

/// A deadline (`FnMut() -> bool`, as `Deadline` takes it) that has not expired at its first
/// `polls` checks and has at every later one: a timed wait that gives up after `polls` polls.
pub fn expires_after(polls: usize) -> impl FnMut() -> bool {
    let mut checks = 0;
    move || {
        checks += 1;
        checks > polls
    }
}

/// Runs `f` on a new loom thread with its own handle to the shared `s`.
pub fn spawn_with<S, T, F>(s: &Arc<S>, f: F) -> thread::JoinHandle<T>
where
    S: Send + Sync + 'static,
    T: Send + 'static,
    F: FnOnce(&S) -> T + Send + 'static,
{
    let s = Arc::clone(s);
    thread::spawn(move || f(&s))
}

pub fn sleeps() -> usize {
    SLEEPS.with(Cell::get)
}

pub fn reset_counters() {
    SLEEPS.with(|s| s.set(0));
    OUTCOMES.with(|o| o.set((false, false)));
}

pub fn record_outcome(acquired: bool) {
    OUTCOMES.with(|o| {
        let (ok, timed_out) = o.get();
        o.set((ok || acquired, timed_out || !acquired));
    });
}

// ---------------------------------------------------------------------------------------------
// A sleeping `Wait` backend on loom's primitives
// ---------------------------------------------------------------------------------------------

loom::lazy_static! {
    /// The threads asleep in [`Park::wait`]; one list per execution (loom's `lazy_static` is
    /// reset between executions).
    static ref PARKED: Mutex<Vec<(usize, thread::Thread)>> = Mutex::new(Vec::new());
}

/// A `Wait` backend that really sleeps, with futex semantics: a waiter checks the word and
/// registers itself under a loom `Mutex`, then parks; a waker takes the same mutex and unparks
/// every registered thread (like the parking fallback of `Futex`, one bucket, wake all). Park
/// tokens make the check-and-sleep atomic with respect to a wake: an unpark that comes between
/// the waiter's unlock and its `park` makes that `park` return at once.
///
/// (Not a loom `Condvar`: its `wait` drops a `MutexGuard` while a deadlock panic unwinds,
/// which aborts the test binary and would make the negative models unusable.)
///
/// `WAKES = false` turns every wake into a no-op (a lock that loses wake-ups);
/// `CLAIMS_NOOP = true` sets `WAKE_IS_NOOP` although waiters sleep (a misconfigured backend).
/// Both are only for the negative models; [`LoomFutex`] is the honest one.
///
/// `KEYED = true` is [`KeyedFutex`]: a wake reaches only the sleepers of the word it is given,
/// as the kernel's futex does (`wake_one` the first of them).
pub struct Park<const WAKES: bool, const CLAIMS_NOOP: bool, const KEYED: bool = false>;

/// The honest sleeping backend.
pub type LoomFutex = Park<true, false>;

/// A sleeping backend like [`LoomFutex`], but keyed by address: a lock that woke the wrong
/// word passes with [`LoomFutex`], which wakes every sleeper of every word; with this one
/// it deadlocks.
pub type KeyedFutex = Park<true, false, true>;

impl<const WAKES: bool, const CLAIMS_NOOP: bool, const KEYED: bool>
    Park<WAKES, CLAIMS_NOOP, KEYED>
{
    fn key(atomic: &AtomicU32) -> usize {
        atomic as *const AtomicU32 as usize
    }

    /// Wakes the sleepers of `atomic` (every sleeper unless `KEYED`); only the first of them
    /// if `one` (and `KEYED`: unkeyed, waking one could wake a sleeper of another word).
    fn wake(atomic: &AtomicU32, one: bool) {
        if !WAKES {
            return;
        }
        let key = Self::key(atomic);
        let mut parked = PARKED.lock().unwrap();
        let mut woken = 0;
        parked.retain(|(k, t)| {
            let wake = !KEYED || (*k == key && !(one && woken > 0));
            if wake {
                t.unpark();
                woken += 1;
            }
            !wake
        });
    }
}

// SAFETY: only reads the word it is given (or passes its address on); never writes it.
unsafe impl<const WAKES: bool, const CLAIMS_NOOP: bool, const KEYED: bool> Wait
    for Park<WAKES, CLAIMS_NOOP, KEYED>
{
    const WAKE_IS_NOOP: bool = CLAIMS_NOOP;

    fn wait(atomic: &AtomicU32, expected: u32) {
        {
            let mut parked = PARKED.lock().unwrap();
            // ORDERING: Relaxed, as in the parking fallback of `Futex`: a waker changes the
            // word before taking this mutex to wake, so either the mutex orders that change
            // before this load, or this thread is registered (and its park token will be set)
            // when the waker wakes. Loom checks that argument here too.
            if atomic.load(Relaxed) != expected {
                return;
            }
            parked.push((Self::key(atomic), thread::current()));
        }
        SLEEPS.with(|s| s.set(s.get() + 1));
        thread::park();
    }

    fn wait_until(atomic: &AtomicU32, expected: u32, deadline: &mut impl Deadline) -> bool {
        // Like `Futex::wait_until`: poll the deadline once, then sleep. Loom cannot time a
        // sleep out, so the sleep lasts until a wake; the models always release the lock
        // eventually, so a sleeper that a correct lock would wake is woken.
        if deadline.expired() {
            return false;
        }
        Self::wait(atomic, expected);
        true
    }

    fn wake_one(atomic: &AtomicU32) {
        // Unkeyed, one list serves every word: even `wake_one` wakes all, or it could wake a
        // sleeper of another word and be lost.
        Self::wake(atomic, true);
    }

    fn wake_all(atomic: &AtomicU32) {
        Self::wake(atomic, false);
    }
}

// ---------------------------------------------------------------------------------------------
// A raw lock and the counter it protects (the lock models: loom_lock, loom_fair, loom_mcs)
// ---------------------------------------------------------------------------------------------

/// A raw lock and the data it protects.
pub struct Shared<R> {
    pub raw: R,
    /// Incremented once per acquisition, inside the critical section.
    data: UnsafeCell<usize>,
}

// SAFETY: `data` is only accessed while `raw` is held (that is what the models check), or
// after every other thread has been joined.
unsafe impl<R: Sync> Sync for Shared<R> {}
// SAFETY: as above; `usize` and the raw locks are `Send`.
unsafe impl<R: Send> Send for Shared<R> {}

impl<R: RawLock> Shared<R> {
    pub fn new() -> Arc<Self> {
        Arc::new(Shared {
            raw: R::init(),
            data: UnsafeCell::new(0),
        })
    }

    /// The critical section: a non-atomic read-modify-write of `data`. The caller holds `raw`.
    pub fn critical(&self) {
        // SAFETY: the caller holds the lock; if it does not really exclude, loom reports the
        // concurrent (or unordered) access instead of undefined behaviour happening.
        self.data.with_mut(|p| unsafe { *p += 1 });
    }

    /// Releases `raw`, which the caller holds.
    pub fn unlock(&self) {
        // SAFETY: every caller acquired `raw` just before, on this thread.
        unsafe { self.raw.unlock() }
    }

    pub fn locked_increment(&self) {
        self.raw.lock();
        self.critical();
        self.unlock();
    }

    /// The final count; call only when no other thread can touch the lock any more.
    pub fn value(&self) -> usize {
        // SAFETY: the other threads were joined, so nobody writes `data` concurrently.
        self.data.with(|p| unsafe { *p })
    }
}

/// Inside a model: `threads` threads (the calling one included) each lock, increment, unlock;
/// after the joins, checks that every increment counted and the lock is free. Returns the
/// lock for checks of its own.
pub fn locked_increments<R: RawLock + Send + Sync + 'static>(threads: usize) -> Arc<Shared<R>> {
    let s = Shared::<R>::new();
    let handles: Vec<_> = (1..threads)
        .map(|_| spawn_with(&s, |s| s.locked_increment()))
        .collect();
    s.locked_increment();
    for h in handles {
        h.join().unwrap();
    }
    assert_eq!(s.value(), threads);
    assert!(!s.raw.is_locked());
    s
}
