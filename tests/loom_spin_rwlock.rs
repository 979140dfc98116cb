//! Loom models of `RawSpinRwLock`.
//!
//! Run with
//! `RUSTFLAGS="--cfg baresync_loom" LOOM_MAX_PREEMPTIONS=2 cargo test --release --test loom_spin_rwlock`.
//!
//! What is checked, with two threads (two spinners at once make loom's exploration diverge,
//! see `tests/loom_lock.rs`):
//! - reader/writer and writer/writer exclusion and happens-before: the data is a
//!   `loom::cell::UnsafeCell` written by writers and read by readers, so a reader beside a
//!   writer, or an acquisition that does not synchronize with the release before it, is
//!   reported by loom; a reader that runs after the writer sees its write;
//! - upgrade and downgrade: an upgradable reader that upgrades and writes while a reader
//!   races it; a writer that downgrades while a reader waits;
//! - a timed writer that gives up leaves no waiting-writer flag: a reader then enters.
#![cfg(baresync_loom)]

mod loom_support;
use loom_support::*;

use baresync::{RawRwLock, RawSpinRwLock};
use loom::cell::UnsafeCell;
use std::sync::Arc;

struct Shared {
    raw: RawSpinRwLock,
    data: UnsafeCell<usize>,
}

// SAFETY: `data` is accessed only under the lock (what the models check) or after joins.
unsafe impl Sync for Shared {}
// SAFETY: as above.
unsafe impl Send for Shared {}

impl Shared {
    fn new() -> Arc<Self> {
        Arc::new(Shared {
            raw: RawSpinRwLock::init(),
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
}

/// A writer thread races the main thread, which writes or reads: every access is ordered,
/// the final count is right, and the lock ends free.
fn exclusion(main_writes: bool) {
    model(move || {
        let s = Shared::new();
        let w = spawn_with(&s, Shared::writer);
        let seen = if main_writes {
            s.writer();
            0
        } else {
            s.reader()
        };
        w.join().unwrap();
        assert!(seen <= 1);
        assert_eq!(s.read(), 1 + usize::from(main_writes));
        assert!(!s.raw.is_locked());
        assert!(!s.raw.writer_waiting());
    });
}

#[test]
fn reader_writer_exclusion() {
    exclusion(false);
}

#[test]
fn writer_writer_exclusion() {
    exclusion(true);
}

/// The write happens before a later read: a reader that enters after the writer's unlock
/// (it waits until the lock shows the write done) must see the value, through the unlock's
/// Release and the reader's Acquire.
#[test]
fn write_happens_before_a_later_read() {
    model(|| {
        let s = Shared::new();
        let w = spawn_with(&s, Shared::writer);
        loop {
            s.raw.lock_shared();
            let v = s.read();
            // SAFETY: acquired just above.
            unsafe { s.raw.unlock_shared() };
            if v == 1 {
                break;
            }
            loom::thread::yield_now();
        }
        w.join().unwrap();
    });
}

/// The main thread takes the upgradable lock, upgrades and writes, while another thread reads:
/// the reader sees 0 or 1, never a torn or unordered access; the upgrade and the read exclude.
#[test]
fn upgrade_excludes_readers() {
    model(|| {
        let s = Shared::new();
        let r = spawn_with(&s, Shared::reader);
        s.raw.lock_upgradable();
        // SAFETY: this thread holds the upgradable lock.
        unsafe { s.raw.upgrade() };
        s.write();
        // SAFETY: the upgrade made this thread the writer.
        unsafe { s.raw.unlock_exclusive() };
        assert!(r.join().unwrap() <= 1);
        assert_eq!(s.read(), 1);
        assert!(!s.raw.is_locked());
    });
}

/// A writer downgrades (to a read lock, or to the upgradable lock and then to a read lock)
/// while a reader races it: the write happens before the other reader's read whenever it
/// enters after the downgrade, and no access is unordered.
fn downgrade(to_upgradable: bool) {
    model(move || {
        let s = Shared::new();
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
    });
}

#[test]
fn downgrade_publishes_the_write() {
    downgrade(false);
}

#[test]
fn downgrade_to_upgradable_publishes_the_write() {
    downgrade(true);
}

/// An upgradable reader reads and leaves while a writer races it: the read and the write are
/// ordered either way (the upgradable unlock's Release, the writer's Acquire).
#[test]
fn upgradable_read_then_writer() {
    model(|| {
        let s = Shared::new();
        let w = spawn_with(&s, Shared::writer);
        s.raw.lock_upgradable();
        let seen = s.read();
        // SAFETY: this thread holds the upgradable lock.
        unsafe { s.raw.unlock_upgradable() };
        w.join().unwrap();
        assert!(seen <= 1);
        assert_eq!(s.read(), 1);
        assert!(!s.raw.is_locked());
    });
}

/// A timed writer that gives up while a reader holds the lock clears its flag: the main
/// thread's next read attempt enters.
#[test]
fn a_writer_that_gives_up_leaves_no_flag() {
    model(|| {
        let s = Shared::new();
        s.raw.lock_shared();
        let w = spawn_with(&s, |s: &Shared| {
            let got = s.raw.lock_exclusive_until(&mut expires_after(1));
            if got {
                s.write();
                // SAFETY: acquired just above.
                unsafe { s.raw.unlock_exclusive() };
            }
            got
        });
        let got = w.join().unwrap();
        assert!(!got, "a reader held the lock throughout");
        assert!(s.raw.try_lock_shared(), "held back by a writer that left");
        // SAFETY: two shared locks held by this thread.
        unsafe { s.raw.unlock_shared() };
        // SAFETY: as above.
        unsafe { s.raw.unlock_shared() };
        assert!(!s.raw.is_locked());
    });
}
