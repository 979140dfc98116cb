//! Loom models of the owner-death protocol of `RawRobustMutex` (the atomic part; the liveness
//! oracle is a model here, `/proc` in the real lock).
//!
//! Run with
//! `RUSTFLAGS="--cfg baresync_loom" LOOM_MAX_PREEMPTIONS=2 cargo test --release --test loom_robust`.
//!
//! What is checked:
//! - a dead owner's lock is taken over by exactly one waiter, which is told `OwnerDied`,
//!   and the waiters still exclude each other (data in a `loom::cell::UnsafeCell`);
//! - a live owner is never taken over (an owner that releases while a waiter checks it);
//! - the unrecoverable state reaches every later locker;
//! - the negative model (an oracle that calls every owner dead) must make loom report a race:
//!   the takeover is what the oracle allows, nothing else.
#![cfg(baresync_loom)]

mod loom_support;
use loom_support::*;

use baresync::raw::{Acquired, NotRecoverable, OwnerLiveness, RawRobustMutex};
use baresync::sync::atomic::{AtomicU32, Ordering::SeqCst};
use baresync::Spin;
use core::num::NonZeroU64;
use loom::cell::UnsafeCell;
use std::cell::Cell;
use std::sync::Arc;

loom::thread_local! {
    static ME: Cell<u64> = Cell::new(0);
}

loom::lazy_static! {
    /// Bit `i` set: the owner with id `i` has died (set by the dying thread after its last
    /// write, as the kernel shows a death only after the process stopped running).
    static ref DEAD: AtomicU32 = AtomicU32::new(0);
}

fn become_owner(id: u64) {
    ME.with(|m| m.set(id));
}

fn die() {
    let me = ME.with(Cell::get);
    // ORDERING: SeqCst (Release is what matters): the dying owner's writes happen-before an
    // oracle answer "dead", as process exit comes after every store of the process.
    DEAD.fetch_or(1 << me, SeqCst);
}

struct Oracle;
// SAFETY: ids set per model thread, distinct; "dead" only after `die`.
unsafe impl OwnerLiveness for Oracle {
    fn current() -> NonZeroU64 {
        NonZeroU64::new(ME.with(Cell::get)).unwrap()
    }
    fn is_dead(owner: NonZeroU64) -> bool {
        // ORDERING: SeqCst (Acquire is what matters), pairs with `die`.
        DEAD.load(SeqCst) & (1 << owner.get()) != 0
    }
}

/// Calls every owner dead: breaks the oracle's contract (the negative control).
struct Liar;
// SAFETY: not safe at all: the negative model shows that loom catches it.
unsafe impl OwnerLiveness for Liar {
    fn current() -> NonZeroU64 {
        NonZeroU64::new(ME.with(Cell::get)).unwrap()
    }
    fn is_dead(_: NonZeroU64) -> bool {
        true
    }
}

struct Shared<L> {
    raw: RawRobustMutex<L, Spin>,
    data: UnsafeCell<u32>,
}
// SAFETY: `data` only accessed under `raw` (what the models check).
unsafe impl<L> Sync for Shared<L> {}
// SAFETY: as above.
unsafe impl<L> Send for Shared<L> {}

impl<L: OwnerLiveness> Shared<L> {
    fn new() -> Arc<Self> {
        Arc::new(Shared {
            raw: RawRobustMutex::new(),
            data: UnsafeCell::new(0),
        })
    }

    /// Locks, adds one to the data, unlocks; returns how it acquired.
    fn increment(&self) -> Result<Acquired, NotRecoverable> {
        let how = self.raw.lock()?;
        // SAFETY: this thread holds the lock, so nobody else touches the data.
        self.data.with_mut(|d| unsafe { *d += 1 });
        // SAFETY: held; consistent (or repaired: incrementing is the repair here).
        unsafe {
            self.raw.mark_consistent();
            self.raw.unlock();
        }
        Ok(how)
    }
}

#[test]
fn a_waiter_sees_its_owner_die() {
    model(|| {
        let s = Shared::<Oracle>::new();
        // This thread is the owner that dies, while the waiter waits for it.
        become_owner(1);
        assert_eq!(s.raw.lock(), Ok(Acquired::Consistent));
        // SAFETY: this thread holds the lock, so nobody else touches the data.
        s.data.with_mut(|d| unsafe { *d += 1 });
        let waiter = spawn_with(&s, move |s| {
            become_owner(2);
            s.increment().unwrap()
        });
        die();
        assert_eq!(waiter.join().unwrap(), Acquired::OwnerDied);
        // SAFETY: the other threads that wrote the data were joined, so no write races this read (loom's cell checks it).
        assert_eq!(s.data.with(|d| unsafe { *d }), 2);
        assert!(!s.raw.is_locked());
    });
}

#[test]
fn a_dead_owner_is_taken_over_once_and_waiters_exclude_each_other() {
    model(|| {
        let s = Shared::<Oracle>::new();
        // This thread is the owner that died before the waiters came (two waiters spinning
        // on a live owner make too many branches for loom).
        become_owner(1);
        assert_eq!(s.raw.lock(), Ok(Acquired::Consistent));
        // SAFETY: this thread holds the lock, so nobody else touches the data.
        s.data.with_mut(|d| unsafe { *d += 1 });
        die();
        let waiters: Vec<_> = [2, 3]
            .into_iter()
            .map(|id| {
                spawn_with(&s, move |s| {
                    become_owner(id);
                    s.increment().unwrap()
                })
            })
            .collect();
        let outcomes: Vec<_> = waiters.into_iter().map(|t| t.join().unwrap()).collect();
        let deaths = outcomes
            .iter()
            .filter(|&&a| a == Acquired::OwnerDied)
            .count();
        assert_eq!(deaths, 1, "exactly one waiter takes over: {outcomes:?}");
        // SAFETY: the other threads that wrote the data were joined, so no write races this read (loom's cell checks it).
        assert_eq!(s.data.with(|d| unsafe { *d }), 3);
        assert!(!s.raw.is_locked());
    });
}

#[test]
fn a_live_owner_is_never_taken_over() {
    model(|| {
        let s = Shared::<Oracle>::new();
        let t = spawn_with(&s, move |s| {
            become_owner(1);
            s.increment().unwrap()
        });
        become_owner(2);
        let mine = s.increment().unwrap();
        assert_eq!(mine, Acquired::Consistent);
        assert_eq!(t.join().unwrap(), Acquired::Consistent);
        // SAFETY: the other threads that wrote the data were joined, so no write races this read (loom's cell checks it).
        assert_eq!(s.data.with(|d| unsafe { *d }), 2);
    });
}

#[test]
fn not_recoverable_reaches_every_later_locker() {
    model(|| {
        let s = Shared::<Oracle>::new();
        become_owner(1);
        assert_eq!(s.raw.lock(), Ok(Acquired::Consistent));
        die();
        let t = spawn_with(&s, move |s| {
            become_owner(2);
            match s.raw.lock() {
                // SAFETY: held; gives the data up.
                Ok(Acquired::OwnerDied) => unsafe { s.raw.unlock_unrecoverable() },
                Err(NotRecoverable) => {}
                Ok(Acquired::Consistent) => {
                    panic!("a dead owner's lock handed over as consistent")
                }
            }
        });
        let u = spawn_with(&s, move |s| {
            become_owner(3);
            match s.raw.lock() {
                // SAFETY: held; gives the data up.
                Ok(Acquired::OwnerDied) => unsafe { s.raw.unlock_unrecoverable() },
                Err(NotRecoverable) => {}
                Ok(Acquired::Consistent) => {
                    panic!("a dead owner's lock handed over as consistent")
                }
            }
        });
        t.join().unwrap();
        u.join().unwrap();
        assert_eq!(s.raw.try_lock(), Some(Err(NotRecoverable)));
    });
}

#[test]
#[should_panic]
fn negative_an_oracle_that_lies_breaks_exclusion() {
    model(|| {
        let s = Shared::<Liar>::new();
        let t = spawn_with(&s, move |s| {
            become_owner(1);
            let _ = s.increment();
        });
        become_owner(2);
        let _ = s.increment();
        t.join().unwrap();
        // SAFETY: the other threads that wrote the data were joined, so no write races this read (loom's cell checks it).
        assert_eq!(s.data.with(|d| unsafe { *d }), 2);
    });
}
