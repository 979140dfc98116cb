//! `RawMcsLock`: a queue lock whose waiters spin on their own cache line, for many cores.
//!
//! Algorithm: the MCS lock (Mellor-Crummey and Scott, "Algorithms for scalable synchronization
//! on shared-memory multiprocessors", 1991) in the K42 form (Auslander et al.; described in
//! Scott, "Shared-Memory Synchronization", 2013, §4.3.2), which keeps the `RawLock` interface:
//! a waiter's queue node lives on its own stack only while it waits, and the lock holds its
//! successor in the lock itself, so `unlock` needs no node.
//!
//! - The lock is two words: `tail` (null: free; the lock's own address: held, nobody waiting;
//!   otherwise the last waiter's node) and `next` (the first waiter, once it has linked
//!   itself).
//! - A thread that finds the lock free takes it with one compare-and-swap of `tail`.
//! - Otherwise it puts a node on its stack (`waiting = true`), swings `tail` to it with a
//!   compare-and-swap, links itself behind its predecessor (the lock's `next`, or the
//!   predecessor node's `next`) and spins on **its own node's flag** only.
//! - `unlock` grants the lock to `next` by clearing that waiter's flag: one store to one
//!   waiter's cache line, however many wait. With nobody waiting, it swings `tail` back to
//!   null.
//! - The new owner moves its successor (if any) into the lock's `next` before returning, so
//!   its stack node is no longer reachable when `lock` returns.
//!
//! Why: on a test-and-set or ticket lock every waiter polls the lock's own cache line, so each
//! release invalidates it in every waiter's cache and they all miss at once; the cost of a
//! hand-off grows with the number of waiters (on 100-core machines, by one to two orders of
//! magnitude). Here a hand-off touches only the next waiter's line. On a 2-core machine there
//! is at most one waiter per core and nothing to gain; measure on many cores (see
//! `docs/many-cores.md`).
//!
//! Fairness: FIFO (waiters are granted the lock in the order they swung `tail`). Progress:
//! starvation-free while every waiter keeps running; like every FIFO lock it hands the lock to
//! a waiter that may be descheduled, so it collapses when threads outnumber cores (a waiter
//! yields its time slice once its backoff is spent, with feature `std`). It has no `Wait`
//! backend: waiters only spin (on their own line), because a waiter's node must stay where it
//! is until it is granted the lock, and a sleeping backend's wake call after the grant would
//! touch a node its owner may already have left. No user code runs inside `lock` or `unlock`;
//! `lock_until` polls `try_lock` and never queues.

use super::{impl_init, RawLock};
use crate::sync::atomic::{
    AtomicBool, AtomicPtr,
    Ordering::{AcqRel, Acquire, Relaxed, Release},
};
use crate::sync::const_fn;
use crate::wait::Backoff;
use core::ptr;

/// A waiter's queue node, on the waiter's stack while it waits.
struct Node {
    /// Set while the waiter waits; the previous owner clears it to grant the lock.
    waiting: AtomicBool,
    /// The waiter behind this one, once it has linked itself.
    next: AtomicPtr<Node>,
}

/// An MCS queue lock (K42 form) in two words: FIFO, and each waiter spins on its own cache
/// line, so a hand-off costs one cache-line transfer to the next waiter however many wait.
///
/// Use it through [`McsLock<T>`](crate::McsLock). For many cores with one thread per core;
/// with more threads than cores, prefer [`RawFairLock`](crate::RawFairLock).
///
/// # Examples
///
/// ```
/// use baresync::{RawLock, RawMcsLock};
///
/// static RAW: RawMcsLock = RawMcsLock::new();
/// RAW.lock();
/// assert!(RAW.is_locked());
/// assert!(!RAW.try_lock());
/// // SAFETY: acquired just above.
/// unsafe { RAW.unlock() };
/// assert!(!RAW.is_locked());
/// ```
pub struct RawMcsLock {
    /// null: free · the lock's own address ([`RawMcsLock::held`]): held, nobody queued ·
    /// otherwise: the last queued waiter's node
    tail: AtomicPtr<Node>,
    /// The first queued waiter, once it has linked itself (null otherwise).
    next: AtomicPtr<Node>,
}

// SAFETY: the lock only holds pointers to nodes that live on waiting threads' stacks while
// those threads wait inside `lock`, and touches them only under the protocol below; it owns
// no data of any thread. Sharing and sending it is what a lock is for.
unsafe impl Send for RawMcsLock {}
// SAFETY: as above.
unsafe impl Sync for RawMcsLock {}

impl RawMcsLock {
    const_fn! {
        /// A new, unlocked lock.
        #[inline]
        pub const fn new() -> Self {
            RawMcsLock {
                tail: AtomicPtr::new(ptr::null_mut()),
                next: AtomicPtr::new(ptr::null_mut()),
            }
        }
    }

    /// The `tail` value meaning "held, nobody queued": the lock's own address, never a node's
    /// and never dereferenced as one. (The lock cannot move while held: it is borrowed.)
    #[inline]
    fn held(&self) -> *mut Node {
        self as *const Self as *mut Node
    }

    #[cold]
    fn lock_slow(&self) {
        let mut backoff = Backoff::new();
        loop {
            // ORDERING: Relaxed: the compare-exchanges below carry the orderings.
            let prev = self.tail.load(Relaxed);
            if prev.is_null() {
                // ORDERING: Acquire pairs with the Release compare-exchange in `unlock`.
                if self
                    .tail
                    .compare_exchange(prev, self.held(), Acquire, Relaxed)
                    .is_ok()
                {
                    return;
                }
                backoff.spin();
                continue;
            }
            let node = Node {
                waiting: AtomicBool::new(true),
                next: AtomicPtr::new(ptr::null_mut()),
            };
            let me = &node as *const Node as *mut Node;
            // ORDERING: AcqRel. Release: our node's initialization happens-before the next
            // waiter's link into it (it reads `tail` with Acquire here). Acquire: the previous
            // owner's `next` reset (in `acquire_queued`) happens-before our link below, so
            // our link is not overwritten by it.
            if self
                .tail
                .compare_exchange(prev, me, AcqRel, Relaxed)
                .is_err()
            {
                backoff.spin();
                continue;
            }
            let link = if prev == self.held() {
                &self.next
            } else {
                // SAFETY: `prev` is the node of the waiter that swung `tail` before us; it
                // stays on that waiter's stack until that waiter has seen our link (it waits
                // for a non-null `next` before leaving, see below).
                unsafe { &(*prev).next }
            };
            // ORDERING: Release pairs with the Acquire loads of `next` (in `unlock` and in the
            // predecessor's `acquire_queued`): our node's initialization happens-before the
            // grant that clears its flag.
            link.store(me, Release);
            self.acquire_queued(&node, me);
            return;
        }
    }

    /// Waits on our own node until granted, then makes the lock forget it: moves our
    /// successor (if any) into the lock's `next`, or swings `tail` back to "held, nobody
    /// queued". When this returns nobody can reach `node` any more.
    fn acquire_queued(&self, node: &Node, me: *mut Node) {
        let mut backoff = Backoff::new();
        // ORDERING: Acquire pairs with the Release store in `unlock` that grants us the lock.
        while node.waiting.load(Acquire) {
            backoff.snooze();
        }
        // ORDERING: Acquire pairs with the successor's Release link store.
        let mut succ = node.next.load(Acquire);
        if succ.is_null() {
            // ORDERING: Relaxed: made visible to a later waiter's link by the Release of the
            // compare-exchange just below (its AcqRel compare-exchange reads that value).
            self.next.store(ptr::null_mut(), Relaxed);
            // ORDERING: Release, see above; Relaxed on failure (the successor's link is
            // awaited below with Acquire).
            if self
                .tail
                .compare_exchange(me, self.held(), Release, Relaxed)
                .is_ok()
            {
                return;
            }
            // Someone swung `tail` past us and is about to link into our node: wait for it.
            let mut backoff = Backoff::new();
            loop {
                // ORDERING: Acquire, as above.
                succ = node.next.load(Acquire);
                if !succ.is_null() {
                    break;
                }
                backoff.snooze();
            }
        }
        // ORDERING: Relaxed: only this owner reads it (in `unlock`), sequenced after.
        self.next.store(succ, Relaxed);
    }
}

impl Default for RawMcsLock {
    fn default() -> Self {
        Self::new()
    }
}

impl core::fmt::Debug for RawMcsLock {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("RawMcsLock")
            .field("locked", &self.is_locked())
            .finish()
    }
}

// SAFETY: the lock is acquired only (a) by a compare-exchange of `tail` from null (free) to
// "held", Acquire, or (b) by a queued waiter whose flag the owner cleared in `unlock`
// (Release store, read with Acquire). `tail` returns to null only in `unlock`, by its owner;
// a grant is made only by the owner, to one waiter, in its `unlock`. So one owner at a time,
// and each acquire synchronizes with the previous owner's release.
unsafe impl RawLock for RawMcsLock {
    impl_init!(new);

    #[inline]
    fn lock(&self) {
        // ORDERING: Acquire pairs with the Release compare-exchange in `unlock`.
        if self
            .tail
            .compare_exchange(ptr::null_mut(), self.held(), Acquire, Relaxed)
            .is_err()
        {
            self.lock_slow();
        }
    }

    #[inline]
    fn try_lock(&self) -> bool {
        // ORDERING: Acquire pairs with the Release compare-exchange in `unlock`.
        self.tail
            .compare_exchange(ptr::null_mut(), self.held(), Acquire, Relaxed)
            .is_ok()
    }

    #[inline]
    unsafe fn unlock(&self) {
        // ORDERING: Acquire pairs with the Release link store of a waiter behind "held".
        let mut succ = self.next.load(Acquire);
        if succ.is_null() {
            // ORDERING: Release pairs with the Acquire compare-exchange of the next owner
            // that finds the lock free.
            if self
                .tail
                .compare_exchange(self.held(), ptr::null_mut(), Release, Relaxed)
                .is_ok()
            {
                return;
            }
            // A waiter swung `tail` and is about to link itself: wait for the link.
            let mut backoff = Backoff::new();
            loop {
                // ORDERING: Acquire, as above.
                succ = self.next.load(Acquire);
                if !succ.is_null() {
                    break;
                }
                backoff.snooze();
            }
        }
        // SAFETY: `succ` is the first queued waiter's node, linked with Release and read with
        // Acquire; that waiter spins in `acquire_queued` until this store, so the node is
        // alive. This is our last access to it.
        // ORDERING: Release pairs with the waiter's Acquire load of its flag: our critical
        // section happens-before its own.
        unsafe { (*succ).waiting.store(false, Release) };
    }

    #[inline]
    fn is_locked(&self) -> bool {
        // ORDERING: Relaxed: a snapshot for diagnostics.
        !self.tail.load(Relaxed).is_null()
    }
}

#[cfg(all(feature = "lock_api", not(baresync_loom)))]
super::impl_lock_api!([] RawMcsLock);

#[cfg(all(test, not(baresync_loom)))]
mod tests {
    use super::super::test_support::{self, counting_threads, joined_count};
    use super::*;
    use std::sync::Arc;

    #[test]
    fn basics() {
        let l = RawMcsLock::new();
        super::super::test_support::raw_lock_basics(&l);
        assert!(l.next.load(Relaxed).is_null());
    }

    /// Waiters queue behind the owner and are served in order, each exactly once; the lock
    /// ends free with no stale link.
    #[test]
    fn queued_waiters_are_served() {
        let l = Arc::new(RawMcsLock::new());
        let per = if cfg!(miri) { 10 } else { 5_000 };
        let (handles, count) = counting_threads(&l, 3, per, test_support::lock);
        let total = joined_count(handles, count);
        assert_eq!(total, 3 * u64::from(per));
        assert!(!l.is_locked());
        assert!(l.next.load(Relaxed).is_null());
    }

    #[test]
    fn is_two_words() {
        assert_eq!(
            core::mem::size_of::<RawMcsLock>(),
            2 * core::mem::size_of::<usize>()
        );
    }
}
