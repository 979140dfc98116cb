//! Loom models of `RawRwMutex<W>`.
//!
//! Run with
//! `RUSTFLAGS="--cfg baresync_loom" LOOM_MAX_PREEMPTIONS=2 cargo test --release --test loom_rwlock`.
//!
//! What is checked:
//! - reader/writer exclusion and happens-before: the data is a `loom::cell::UnsafeCell`
//!   written by writers and read by readers, so a reader beside a writer, or an acquisition
//!   that does not synchronize with the release before it (including the hand-off to waiting
//!   readers and the upgrade), is reported by loom;
//! - upgrade: an upgradable reader that upgrades while a reader and a writer race it;
//! - writer preference: once a writer is registered as waiting, no new reader enters;
//! - no lost wake-up: waiters sleep for real on [`LoomFutex`]; a release that forgets to wake
//!   leaves a thread asleep forever, which loom reports as a deadlock;
//! - a timed waiter that gives up leaves the lock usable;
//! - a reader refused by the read fast path undoes its increment as a read unlock does.
//!
//! The `negative_*` models break one thing (a backend that never wakes) and must make loom
//! panic: they show that the models above can fail.
#![cfg(baresync_loom)]

mod loom_support;
use loom_support::*;

use baresync::{RawRwLock, RawRwMutex, Spin};
use loom::cell::UnsafeCell;
use loom::thread;
use std::sync::Arc;

struct Shared<R> {
    raw: R,
    data: UnsafeCell<usize>,
}

// SAFETY: `data` is accessed only under the lock (what the models check) or after joins.
unsafe impl<R: Sync> Sync for Shared<R> {}
// SAFETY: as above.
unsafe impl<R: Send> Send for Shared<R> {}

impl<R: RawRwLock> Shared<R> {
    fn new() -> Arc<Self> {
        Arc::new(Shared {
            raw: R::init(),
            data: UnsafeCell::new(0),
        })
    }

    /// A write: a non-atomic increment. The caller holds the exclusive lock.
    fn write(&self) {
        // SAFETY: the caller holds the exclusive lock; loom reports it if that does not exclude.
        self.data.with_mut(|p| unsafe { *p += 1 });
    }

    /// A read. The caller holds a shared, upgradable or exclusive lock.
    fn read(&self) -> usize {
        // SAFETY: as above.
        self.data.with(|p| unsafe { *p })
    }

    fn writer(&self) {
        self.raw.lock_exclusive();
        self.write();
        // SAFETY: acquired just above.
        unsafe { self.raw.unlock_exclusive() };
    }

    fn reader(&self) -> usize {
        self.raw.lock_shared();
        let v = self.read();
        // SAFETY: acquired just above.
        unsafe { self.raw.unlock_shared() };
        v
    }

    fn value(&self) -> usize {
        self.read()
    }
}

/// One writer and (with `reader_thread`) one reader race the main thread, which writes (or
/// reads): every access is ordered, the final count is right, and the lock ends free.
fn exclusion<R: RawRwLock + Send + Sync + 'static>(main_writes: bool, reader_thread: bool) {
    model(move || {
        let s = Shared::<R>::new();
        let w = spawn_with(&s, Shared::writer);
        let r = reader_thread.then(|| spawn_with(&s, Shared::reader));
        if main_writes {
            s.writer();
        } else {
            s.reader();
        }
        w.join().unwrap();
        let seen = r.map_or(0, |r| r.join().unwrap());
        let writes = 1 + usize::from(main_writes);
        assert!(seen <= writes);
        assert_eq!(s.value(), writes);
        assert!(!s.raw.is_locked());
    });
}

/// Two threads only: two spinners at once make loom's exploration diverge (see
/// `tests/loom_lock.rs`).
#[test]
fn spin_reader_writer_exclusion() {
    exclusion::<RawRwMutex<Spin>>(false, false);
}

#[test]
fn futex_reader_writer_exclusion() {
    reset_counters();
    exclusion::<RawRwMutex<LoomFutex>>(true, true);
    assert!(sleeps() > 0, "no execution reached the sleeping path");
}

/// The main thread holds the write lock while a reader and a writer wait (asleep); its unlock
/// hands off to the reader and must wake everyone who can go. Covers the hand-off's
/// Release/Acquire (the reader reads the written value) and lost wake-ups.
#[test]
fn hand_off_wakes_readers_and_writers() {
    reset_counters();
    model(|| {
        let s = Shared::<RawRwMutex<LoomFutex>>::new();
        s.raw.lock_exclusive();
        let r = spawn_with(&s, Shared::reader);
        let w = spawn_with(&s, Shared::writer);
        s.write();
        // SAFETY: acquired above.
        unsafe { s.raw.unlock_exclusive() };
        let seen = r.join().unwrap();
        w.join().unwrap();
        assert!(seen >= 1, "the reader came after the first writer");
        assert_eq!(s.value(), 2);
        assert!(!s.raw.is_locked());
    });
    assert!(sleeps() > 0, "no execution reached the sleeping path");
}

/// An upgradable reader upgrades and writes while a reader and a writer race it.
#[test]
fn upgrade_excludes() {
    model(|| {
        let s = Shared::<RawRwMutex<LoomFutex>>::new();
        let r = spawn_with(&s, Shared::reader);
        let w = spawn_with(&s, Shared::writer);
        s.raw.lock_upgradable();
        let before = s.read();
        // SAFETY: the upgradable lock is held.
        unsafe { s.raw.upgrade() };
        assert_eq!(s.read(), before, "no writer got in between");
        s.write();
        // SAFETY: the upgrade made this thread the writer.
        unsafe { s.raw.downgrade() };
        assert_eq!(s.read(), before + 1);
        // SAFETY: the downgrade left a shared lock.
        unsafe { s.raw.unlock_shared() };
        r.join().unwrap();
        w.join().unwrap();
        assert_eq!(s.value(), 2);
        assert!(!s.raw.is_locked());
    });
}

/// Once a writer is registered as waiting, a new reader does not enter although only readers
/// hold the lock; when the reader inside leaves, the writer is woken and goes first.
#[test]
fn writer_preference() {
    model(|| {
        let s = Shared::<RawRwMutex<LoomFutex>>::new();
        s.raw.lock_shared();
        let w = spawn_with(&s, Shared::writer);
        while s.raw.waiting_writers() == 0 {
            thread::yield_now();
        }
        assert!(
            !s.raw.try_lock_shared(),
            "a reader overtook a waiting writer"
        );
        assert!(!s.raw.try_lock_upgradable());
        // SAFETY: acquired above.
        unsafe { s.raw.unlock_shared() };
        w.join().unwrap();
        assert_eq!(s.reader(), 1);
    });
}

/// A reader with a deadline of one poll races the writer's unlock and another reader: whatever
/// happens, nothing stays registered and the lock is usable.
#[test]
fn timed_reader_races_unlock() {
    reset_counters();
    model(|| {
        let s = Shared::<RawRwMutex<LoomFutex>>::new();
        s.raw.lock_exclusive();
        let timed = spawn_with(&s, move |s| {
            let got = s.raw.lock_shared_until(&mut expires_after(1));
            if got {
                s.read();
                // SAFETY: acquired just above.
                unsafe { s.raw.unlock_shared() };
            }
            got
        });
        s.write();
        // SAFETY: acquired above.
        unsafe { s.raw.unlock_exclusive() };
        record_outcome(timed.join().unwrap());
        assert_eq!(s.raw.waiting_readers(), 0);
        s.writer();
        assert_eq!(s.value(), 2);
        assert!(!s.raw.is_locked());
    });
}

/// A writer with a deadline gives up while a reader holds the lock and a second reader waits
/// behind it: its deregistration must wake the held-back reader.
#[test]
fn timed_writer_gives_up_and_wakes_held_back_reader() {
    model(|| {
        let s = Shared::<RawRwMutex<LoomFutex>>::new();
        s.raw.lock_shared();
        let timed = spawn_with(&s, move |s| {
            let got = s.raw.lock_exclusive_until(&mut expires_after(1));
            if got {
                s.write();
                // SAFETY: acquired just above.
                unsafe { s.raw.unlock_exclusive() };
            }
            got
        });
        let r = spawn_with(&s, Shared::reader);
        let got = timed.join().unwrap();
        // Only now does the first reader leave: a reader held back by the timed-out writer had
        // to be woken by that writer's deregistration.
        s.read();
        // SAFETY: acquired above.
        unsafe { s.raw.unlock_shared() };
        r.join().unwrap();
        assert_eq!(s.value(), usize::from(got));
        assert_eq!(s.raw.waiting_writers(), 0);
        assert!(!s.raw.is_locked());
    });
}

/// A reader refused by the read fast path (a writer waits) undoes its increment, and the undo
/// counts as a read unlock: when the last real reader leaves while the refused reader is still
/// counted, that reader's undo is the release the sleeping writer waits for and must wake it.
/// Seen failing (a deadlock) with the undo's wake removed.
#[test]
fn refused_reader_undo_wakes_the_writer() {
    reset_counters();
    model(|| {
        let s = Shared::<RawRwMutex<LoomFutex>>::new();
        s.raw.lock_shared();
        let w = spawn_with(&s, Shared::writer);
        while s.raw.waiting_writers() == 0 {
            thread::yield_now();
        }
        let late = spawn_with(&s, move |s| {
            // Refused while the writer waits; admitted only after its write.
            if s.raw.try_lock_shared() {
                assert_eq!(s.read(), 1, "a reader overtook a waiting writer");
                // SAFETY: acquired just above.
                unsafe { s.raw.unlock_shared() };
            }
        });
        // SAFETY: acquired above.
        unsafe { s.raw.unlock_shared() };
        late.join().unwrap();
        w.join().unwrap();
        assert_eq!(s.value(), 1);
        assert!(!s.raw.is_locked());
    });
    assert!(sleeps() > 0, "no execution reached the sleeping path");
}

/// `try_lock_exclusive` on a word that is not idle (here the generation bit a hand-off left)
/// takes its out-of-line path, whose compare-exchange must acquire like the fast one: the
/// reader admitted by the hand-off reads, leaves, and the main thread's `try_lock_exclusive`
/// then writes. Seen failing (a concurrent read and write) with that compare-exchange Relaxed.
#[test]
fn try_write_after_a_hand_off_sees_the_reader_leave() {
    model(|| {
        let s = Shared::<RawRwMutex<LoomFutex>>::new();
        s.raw.lock_exclusive();
        let r = spawn_with(&s, Shared::reader);
        s.write();
        // SAFETY: acquired above.
        unsafe { s.raw.unlock_exclusive() };
        while !s.raw.try_lock_exclusive() {
            thread::yield_now();
        }
        s.write();
        // SAFETY: acquired just above.
        unsafe { s.raw.unlock_exclusive() };
        assert!(
            r.join().unwrap() >= 1,
            "the reader came after the first write"
        );
        assert_eq!(s.value(), 2);
    });
}

/// A backend that never wakes: some execution must leave a sleeper stranded (loom reports a
/// deadlock), so the hand-off model can fail.
#[test]
#[should_panic]
fn negative_no_wake_deadlocks() {
    model(|| {
        let s = Shared::<RawRwMutex<Park<false, false>>>::new();
        s.raw.lock_exclusive();
        let r = spawn_with(&s, Shared::reader);
        s.write();
        // SAFETY: acquired above.
        unsafe { s.raw.unlock_exclusive() };
        r.join().unwrap();
    });
}

/// `try_lock_shared` must acquire what the writer published: the main thread writes, a spawned
/// reader polls `try_lock_shared` and reads.
#[test]
fn try_read_sees_the_write() {
    model(|| {
        let s = Shared::<RawRwMutex<LoomFutex>>::new();
        let r = spawn_with(&s, move |s| loop {
            if s.raw.try_lock_shared() {
                let v = s.read();
                // SAFETY: acquired just above.
                unsafe { s.raw.unlock_shared() };
                return v;
            }
            thread::yield_now();
        });
        s.writer();
        assert!(r.join().unwrap() <= 1);
    });
}

/// The upgradable reader's reads happen before the next writer's write: the main thread reads
/// under the upgradable lock and releases it, a spawned writer writes.
#[test]
fn upgradable_unlock_publishes_to_the_next_writer() {
    model(|| {
        let s = Shared::<RawRwMutex<LoomFutex>>::new();
        let w = spawn_with(&s, Shared::writer);
        s.raw.lock_upgradable();
        s.read();
        // SAFETY: acquired above.
        unsafe { s.raw.unlock_upgradable() };
        w.join().unwrap();
        assert_eq!(s.value(), 1);
    });
}
