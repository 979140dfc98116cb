//! Loom models of the raw reader-writer locks: `RawRwMutex<W>` and `RawSpinRwLock`. A model
//! of a promise both make (exclusion, happens-before, upgrade, downgrade, a timed writer that
//! gives up) is written once, generic over the raw lock, and run for each; with
//! `RawSpinRwLock` with two threads only (two spinners at once make loom's exploration
//! diverge, see `tests/loom_lock.rs`).
//!
//! Run with
//! `RUSTFLAGS="--cfg baresync_loom" LOOM_MAX_PREEMPTIONS=2 cargo test --release --test loom_rwlock`.
//!
//! What is checked:
//! - reader/writer and writer/writer exclusion and happens-before: the data is a
//!   `loom::cell::UnsafeCell` written by writers and read by readers, so a reader beside a
//!   writer, or an acquisition that does not synchronize with the release before it (including
//!   the hand-off to waiting readers and the upgrade), is reported by loom; a reader that runs
//!   after the writer sees its write;
//! - upgrade: an upgradable reader that upgrades while a reader (and a writer) race it;
//!   downgrade: a writer that downgrades while a reader waits;
//! - writer preference: once a writer is registered as waiting, no new reader enters;
//! - no lost wake-up: waiters sleep for real on [`LoomFutex`]; a release that forgets to wake
//!   leaves a thread asleep forever, which loom reports as a deadlock;
//! - a timed waiter that gives up leaves the lock usable and nothing waiting (no registration,
//!   no waiting-writer flag): a reader then enters;
//! - a reader refused by the read fast path undoes its increment as a read unlock does.
//!
//! The `negative_*` models break one thing (a backend that never wakes) and must make loom
//! panic: they show that the models above can fail.
#![cfg(baresync_loom)]

mod loom_support;
use loom_support::*;

use baresync::{RawRwLock, RawRwMutex, RawSpinRwLock, Spin, Wait};
use loom::cell::UnsafeCell;
use loom::thread;
use std::sync::Arc;

/// What a model checks of a raw lock's own state: nothing left waiting (no registered reader
/// or writer in `RawRwMutex`, no waiting-writer flag in `RawSpinRwLock`).
trait NoWaiter: RawRwLock + Send + Sync + 'static {
    fn no_waiter(&self) -> bool;
}

impl<W: Wait + 'static> NoWaiter for RawRwMutex<W> {
    fn no_waiter(&self) -> bool {
        self.waiting_readers() == 0 && self.waiting_writers() == 0
    }
}

impl NoWaiter for RawSpinRwLock {
    fn no_waiter(&self) -> bool {
        !self.writer_waiting()
    }
}

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
fn exclusion<R: NoWaiter>(main_writes: bool, reader_thread: bool) {
    model(move || {
        let s = Shared::<R>::new();
        let w = spawn_with(&s, Shared::writer);
        let r = reader_thread.then(|| spawn_with(&s, Shared::reader));
        let main_seen = if main_writes {
            s.writer();
            0
        } else {
            s.reader()
        };
        w.join().unwrap();
        let seen = r.map_or(0, |r| r.join().unwrap());
        let writes = 1 + usize::from(main_writes);
        assert!(seen <= writes && main_seen <= writes);
        assert_eq!(s.value(), writes);
        assert!(!s.raw.is_locked());
        assert!(s.raw.no_waiter());
    });
}

/// Two threads only: two spinners at once make loom's exploration diverge (see
/// `tests/loom_lock.rs`).
#[test]
fn spin_reader_writer_exclusion() {
    exclusion::<RawRwMutex<Spin>>(false, false);
}

#[test]
fn spin_rwlock_reader_writer_exclusion() {
    exclusion::<RawSpinRwLock>(false, false);
}

#[test]
fn spin_rwlock_writer_writer_exclusion() {
    exclusion::<RawSpinRwLock>(true, false);
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

/// An upgradable reader (the main thread) upgrades and writes while a reader (and, with
/// `writer_thread`, a writer) race it: no writer gets in between, the upgrade and the other
/// accesses exclude; then it leaves by a downgrade and a read unlock, or (without
/// `downgrade`) by a write unlock.
fn upgrade<R: NoWaiter>(writer_thread: bool, downgrade: bool) {
    model(move || {
        let s = Shared::<R>::new();
        let r = spawn_with(&s, Shared::reader);
        let w = writer_thread.then(|| spawn_with(&s, Shared::writer));
        s.raw.lock_upgradable();
        let before = s.read();
        // SAFETY: the upgradable lock is held.
        unsafe { s.raw.upgrade() };
        assert_eq!(s.read(), before, "no writer got in between");
        s.write();
        if downgrade {
            // SAFETY: the upgrade made this thread the writer.
            unsafe { s.raw.downgrade() };
            assert_eq!(s.read(), before + 1);
            // SAFETY: the downgrade left a shared lock.
            unsafe { s.raw.unlock_shared() };
        } else {
            // SAFETY: the upgrade made this thread the writer.
            unsafe { s.raw.unlock_exclusive() };
        }
        let writes = 1 + usize::from(writer_thread);
        assert!(r.join().unwrap() <= writes);
        if let Some(w) = w {
            w.join().unwrap();
        }
        assert_eq!(s.value(), writes);
        assert!(!s.raw.is_locked());
        assert!(s.raw.no_waiter());
    });
}

#[test]
fn upgrade_excludes() {
    upgrade::<RawRwMutex<LoomFutex>>(true, true);
}

#[test]
fn spin_rwlock_upgrade_excludes() {
    upgrade::<RawSpinRwLock>(false, false);
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

/// A writer with a deadline gives up while the main thread holds a read lock (and, with
/// `reader_thread`, a second reader waits behind it): it leaves nothing waiting, so the main
/// thread's next read attempt enters, and (`RawRwMutex`) its deregistration wakes the
/// held-back reader.
fn timed_writer_gives_up<R: NoWaiter>(reader_thread: bool) {
    model(move || {
        let s = Shared::<R>::new();
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
        let r = reader_thread.then(|| spawn_with(&s, Shared::reader));
        let got = timed.join().unwrap();
        assert!(!got, "a reader held the lock throughout");
        assert!(s.raw.try_lock_shared(), "held back by a writer that left");
        // Only now does the first reader leave: a reader held back by the timed-out writer had
        // to be woken by that writer's deregistration.
        s.read();
        // SAFETY: two shared locks held by this thread.
        unsafe { s.raw.unlock_shared() };
        // SAFETY: as above.
        unsafe { s.raw.unlock_shared() };
        if let Some(r) = r {
            r.join().unwrap();
        }
        assert_eq!(s.value(), 0);
        assert!(s.raw.no_waiter());
        assert!(!s.raw.is_locked());
    });
}

#[test]
fn timed_writer_gives_up_and_wakes_held_back_reader() {
    timed_writer_gives_up::<RawRwMutex<LoomFutex>>(true);
}

#[test]
fn spin_rwlock_timed_writer_gives_up_and_leaves_no_flag() {
    timed_writer_gives_up::<RawSpinRwLock>(false);
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

/// The upgradable reader's reads happen before the next writer's write, and the other way
/// round: the main thread reads under the upgradable lock and releases it while a spawned
/// writer writes; the read and the write are ordered either way (the upgradable unlock's
/// Release and the writer's Acquire, or the writer's unlock and the upgradable Acquire).
fn upgradable_read_then_writer<R: NoWaiter>() {
    model(|| {
        let s = Shared::<R>::new();
        let w = spawn_with(&s, Shared::writer);
        s.raw.lock_upgradable();
        let seen = s.read();
        // SAFETY: acquired above.
        unsafe { s.raw.unlock_upgradable() };
        w.join().unwrap();
        assert!(seen <= 1);
        assert_eq!(s.value(), 1);
        assert!(!s.raw.is_locked());
    });
}

#[test]
fn upgradable_unlock_publishes_to_the_next_writer() {
    upgradable_read_then_writer::<RawRwMutex<LoomFutex>>();
}

#[test]
fn spin_rwlock_upgradable_unlock_publishes_to_the_next_writer() {
    upgradable_read_then_writer::<RawSpinRwLock>();
}

/// The write happens before a later read: a reader that enters after the writer's unlock
/// (it polls until the lock shows the write done) must see the value, through the unlock's
/// Release and the reader's Acquire.
fn write_then_read<R: NoWaiter>() {
    model(|| {
        let s = Shared::<R>::new();
        let w = spawn_with(&s, Shared::writer);
        while s.reader() != 1 {
            thread::yield_now();
        }
        w.join().unwrap();
    });
}

#[test]
fn write_happens_before_a_later_read() {
    write_then_read::<RawRwMutex<LoomFutex>>();
}

#[test]
fn spin_rwlock_write_happens_before_a_later_read() {
    write_then_read::<RawSpinRwLock>();
}

/// A writer downgrades (to a read lock, or to the upgradable lock and then to a read lock)
/// while a reader races it: the write happens before the other reader's read whenever it
/// enters after the downgrade, and no access is unordered.
fn downgrade<R: NoWaiter>(to_upgradable: bool) {
    model(move || {
        let s = Shared::<R>::new();
        let r = spawn_with(&s, Shared::reader);
        s.raw.lock_exclusive();
        s.write();
        if to_upgradable {
            // SAFETY: held exclusively.
            unsafe { s.raw.downgrade_to_upgradable() };
            assert!(!s.raw.try_lock_upgradable());
            // SAFETY: the downgrade left the upgradable lock.
            unsafe { s.raw.downgrade_upgradable() };
        } else {
            // SAFETY: held exclusively.
            unsafe { s.raw.downgrade() };
        }
        assert_eq!(s.read(), 1);
        // SAFETY: the downgrade left a shared lock.
        unsafe { s.raw.unlock_shared() };
        assert!(r.join().unwrap() <= 1);
        assert!(!s.raw.is_locked());
        assert!(s.raw.no_waiter());
    });
}

#[test]
fn downgrade_publishes_the_write() {
    downgrade::<RawRwMutex<LoomFutex>>(false);
}

#[test]
fn downgrade_to_upgradable_publishes_the_write() {
    downgrade::<RawRwMutex<LoomFutex>>(true);
}

#[test]
fn spin_rwlock_downgrade_publishes_the_write() {
    downgrade::<RawSpinRwLock>(false);
}

#[test]
fn spin_rwlock_downgrade_to_upgradable_publishes_the_write() {
    downgrade::<RawSpinRwLock>(true);
}
