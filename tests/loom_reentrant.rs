//! Loom models of `ReentrantLock`.
//!
//! Run with
//! `RUSTFLAGS="--cfg baresync_loom" LOOM_MAX_PREEMPTIONS=2 CARGO_TARGET_DIR=target/loom cargo test --release --test loom_reentrant`.
//!
//! What is checked: two threads never own the lock at once, nested or not (the data is a
//! `loom::cell::UnsafeCell` mutated through the guard's `&`, so an overlap, or an owner whose
//! accesses are not ordered after the previous owner's, is reported by loom); `try_lock` by a
//! non-owner fails while the owner holds any depth; a sleeping backend loses no wake-up.
//! The negative model gives every thread the same id (breaking `ThreadIdentity`'s contract)
//! and must make loom report the race.
#![cfg(baresync_loom)]

mod loom_support;
use loom_support::*;

use baresync::{ReentrantLock, Spin, ThreadIdentity, Wait};
use loom::cell::UnsafeCell;
use loom::thread;
use std::hash::{BuildHasher, BuildHasherDefault, DefaultHasher};
use std::num::NonZeroUsize;
use std::sync::Arc;

/// Loom threads named by a hash of loom's thread id (distinct for the 2–3 threads of a
/// model; the low bit is set so it is never 0).
struct LoomThreadId;

// SAFETY: loom thread ids are unique per model execution and stable per thread; the hashes of
// the few ids of a model do not collide (checked by `ids_are_distinct`).
unsafe impl ThreadIdentity for LoomThreadId {
    fn current() -> NonZeroUsize {
        let h = BuildHasherDefault::<DefaultHasher>::default().hash_one(thread::current().id());
        NonZeroUsize::new(h as usize | 1).unwrap()
    }
}

/// Every thread gets the same id: a broken `ThreadIdentity`, for the negative model.
struct SameId;

// SAFETY: it is not sound (every thread is "the owner"); only for the negative model, which
// expects loom to catch the race it causes.
unsafe impl ThreadIdentity for SameId {
    fn current() -> NonZeroUsize {
        NonZeroUsize::new(1).unwrap()
    }
}

type Shared<I, W> = Arc<ReentrantLock<UnsafeCell<usize>, I, W>>;

/// The critical section: lock `depth` deep, read-modify-write the data through the innermost
/// guard.
fn locked_increment<I: ThreadIdentity, W: Wait>(
    lock: &ReentrantLock<UnsafeCell<usize>, I, W>,
    depth: usize,
) {
    let guards: Vec<_> = (0..depth).map(|_| lock.lock()).collect();
    assert_eq!(lock.lock_count(), depth);
    // SAFETY: the lock is held; if it does not exclude, loom reports it.
    guards.last().unwrap().with_mut(|p| unsafe { *p += 1 });
    drop(guards);
    assert!(!lock.is_owned_by_current());
}

fn exclusion<I: ThreadIdentity + 'static, W: Wait + 'static>(threads: usize, depth: usize) {
    model(move || {
        let lock: Shared<I, W> = Arc::new(ReentrantLock::with_identity(UnsafeCell::new(0)));
        let handles: Vec<_> = (1..threads)
            .map(|_| spawn_with(&lock, move |lock| locked_increment(lock, depth)))
            .collect();
        locked_increment(&lock, depth);
        for h in handles {
            h.join().unwrap();
        }
        // SAFETY: every other thread was joined.
        assert_eq!(lock.lock().with(|p| unsafe { *p }), threads);
        assert!(!lock.is_locked());
    });
}

#[test]
fn ids_are_distinct() {
    model(|| {
        let other = thread::spawn(LoomThreadId::current);
        let mine = LoomThreadId::current();
        assert_eq!(mine, LoomThreadId::current());
        assert_ne!(mine, other.join().unwrap());
    });
}

#[test]
fn spin_excludes_2_nested() {
    exclusion::<LoomThreadId, Spin>(2, 2);
}

#[test]
fn futex_excludes_2_nested() {
    exclusion::<LoomThreadId, LoomFutex>(2, 2);
}

#[test]
fn futex_excludes_3() {
    reset_counters();
    exclusion::<LoomThreadId, LoomFutex>(3, 1);
    assert!(sleeps() > 0, "no execution reached the sleeping path");
}

/// A non-owner's `try_lock` fails while the owner is two deep, and succeeds once it is done.
#[test]
fn try_lock_by_other_thread() {
    model(|| {
        let lock: Shared<LoomThreadId, LoomFutex> =
            Arc::new(ReentrantLock::with_identity(UnsafeCell::new(0)));
        let other = spawn_with(&lock, move |lock| {
            if let Some(g) = lock.try_lock() {
                assert_eq!(lock.lock_count(), 1);
                // SAFETY: held.
                g.with_mut(|p| unsafe { *p += 1 });
                true
            } else {
                false
            }
        });
        locked_increment(&lock, 2);
        let got = other.join().unwrap();
        // SAFETY: joined.
        assert_eq!(lock.lock().with(|p| unsafe { *p }), 1 + usize::from(got));
    });
}

/// Every thread has the same id, so the second one "re-enters" the first one's lock: loom
/// reports the two unsynchronized accesses to the data.
#[test]
#[should_panic(expected = "Causality violation")]
fn negative_same_id_for_every_thread_races() {
    exclusion::<SameId, Spin>(2, 1);
}
