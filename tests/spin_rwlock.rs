//! `SpinRwLock` through its public API, with threads: reader/writer exclusion over a multi-word
//! value with more threads than cores, a waiting writer holding new readers back, upgrades and
//! downgrades that let no writer in between, the try and `_until` forms, and the reader-count
//! limit.

use baresync::{RwLockUpgradableReadGuard, RwLockWriteGuard, SpinRwLock};
use std::sync::atomic::{AtomicUsize, Ordering::SeqCst};
use std::sync::Arc;
use std::thread;
use std::time::{Duration, Instant};

const ROUNDS: usize = if cfg!(miri) { 20 } else { 5_000 };

/// A generous deadline: a hang becomes a failure, not a stuck test.
fn generous() -> Instant {
    Instant::now() + Duration::from_secs(if cfg!(miri) { 600 } else { 20 })
}

/// Polls `cond` until it holds, failing (not hanging) after a generous time.
fn eventually(what: &str, mut cond: impl FnMut() -> bool) {
    let limit = generous();
    while !cond() {
        assert!(Instant::now() < limit, "{what}: never happened");
        thread::sleep(Duration::from_millis(1));
    }
}

/// Nothing held, no writer flagged: the lock as new, and usable.
fn assert_idle<T>(lock: &SpinRwLock<T>) {
    assert!(!lock.is_locked());
    assert_eq!(lock.raw().readers(), 0);
    assert!(!lock.raw().writer_waiting());
    drop(lock.try_write().expect("free for a writer"));
    let (a, b) = (
        lock.try_read().expect("free"),
        lock.try_read().expect("shared"),
    );
    drop((a, b));
    drop(
        lock.try_upgradable_read()
            .expect("free for an upgradable reader"),
    );
}

/// Readers (plain and upgradable, some upgrading) check the four words are equal and no writer
/// is inside; writers check they are alone. The final value counts every write. With more
/// threads than the machine has cores the spinning waiters must yield, or this hangs.
fn exclusion(readers: usize, writers: usize) {
    struct Shared {
        lock: SpinRwLock<[u64; 4]>,
        inside_writers: AtomicUsize,
        inside_readers: AtomicUsize,
    }
    let s = Arc::new(Shared {
        lock: SpinRwLock::new([0; 4]),
        inside_writers: AtomicUsize::new(0),
        inside_readers: AtomicUsize::new(0),
    });
    let write = |s: &Shared, w: &mut [u64; 4]| {
        assert_eq!(s.inside_writers.fetch_add(1, SeqCst), 0, "two writers");
        assert_eq!(s.inside_readers.load(SeqCst), 0, "a reader beside a writer");
        for word in w.iter_mut() {
            *word += 1;
        }
        s.inside_writers.fetch_sub(1, SeqCst);
    };
    let read = |s: &Shared, v: &[u64; 4]| {
        s.inside_readers.fetch_add(1, SeqCst);
        assert_eq!(s.inside_writers.load(SeqCst), 0, "a writer beside a reader");
        assert!(v.iter().all(|w| *w == v[0]), "torn value {v:?}");
        s.inside_readers.fetch_sub(1, SeqCst);
    };
    let mut threads = Vec::new();
    for i in 0..writers {
        let s = Arc::clone(&s);
        threads.push(thread::spawn(move || {
            for j in 0..ROUNDS {
                if (i + j) % 5 == 0 {
                    // Now and then a write that downgrades, and must still read its own value.
                    let mut w = s.lock.write();
                    write(&s, &mut w);
                    let mine = *w;
                    let r = RwLockWriteGuard::downgrade(w);
                    read(&s, &r);
                    assert_eq!(*r, mine, "a writer got in during the downgrade");
                } else if let Some(mut w) = s.lock.try_write() {
                    write(&s, &mut w);
                } else {
                    write(&s, &mut s.lock.write());
                }
            }
        }));
    }
    let upgrades = Arc::new(AtomicUsize::new(0));
    for i in 0..readers {
        let s = Arc::clone(&s);
        let upgrades = Arc::clone(&upgrades);
        threads.push(thread::spawn(move || {
            for j in 0..ROUNDS {
                if (i + j) % 7 == 0 {
                    let u = s.lock.upgradable_read();
                    read(&s, &u);
                    let seen = *u;
                    if j % 2 == 0 {
                        let mut w = RwLockUpgradableReadGuard::upgrade(u);
                        assert_eq!(*w, seen, "a writer got in during the upgrade");
                        write(&s, &mut w);
                        upgrades.fetch_add(1, SeqCst);
                    }
                } else if let Some(r) = s.lock.try_read() {
                    read(&s, &r);
                } else {
                    read(&s, &s.lock.read());
                }
            }
        }));
    }
    for t in threads {
        t.join().unwrap();
    }
    let expected = (writers * ROUNDS + upgrades.load(SeqCst)) as u64;
    assert_eq!(*s.lock.read(), [expected; 4]);
    assert_idle(&s.lock);
}

#[test]
fn exclusion_few_threads() {
    exclusion(1, 1);
}

#[test]
fn exclusion_oversubscribed() {
    exclusion(
        if cfg!(miri) { 2 } else { 6 },
        if cfg!(miri) { 2 } else { 3 },
    );
}

/// While a writer waits, a new reader (or upgradable reader) does not enter, even though the
/// lock is only read-locked; once the reader inside leaves, the writer gets in.
#[test]
fn a_waiting_writer_holds_new_readers_back() {
    let lock = Arc::new(SpinRwLock::new(0));
    let r = lock.read();
    let writer = {
        let lock = Arc::clone(&lock);
        thread::spawn(move || *lock.write() = 1)
    };
    eventually("the writer flags itself", || lock.raw().writer_waiting());
    assert!(
        lock.try_read().is_none(),
        "a new reader overtook a waiting writer"
    );
    assert!(lock.try_upgradable_read().is_none());
    assert!(lock.read_until(|| true).is_none());
    assert_eq!(*r, 0);
    drop(r);
    writer.join().unwrap();
    assert_eq!(*lock.read(), 1);
    assert_idle(&lock);
}

/// An upgrade waits for the other readers, holds new readers back meanwhile, and no writer
/// gets in between the upgradable read and the write.
#[test]
fn upgrade_waits_for_readers_and_lets_no_writer_in() {
    let lock = Arc::new(SpinRwLock::new(0u32));
    let r = lock.read();
    let u = lock.upgradable_read();
    let writer = {
        let lock = Arc::clone(&lock);
        thread::spawn(move || *lock.write() = 2)
    };
    eventually("the writer flags itself", || lock.raw().writer_waiting());
    // A failed try_upgrade keeps the upgradable lock.
    let u = RwLockUpgradableReadGuard::try_upgrade(u).expect_err("a reader is inside");
    let u = RwLockUpgradableReadGuard::upgrade_until(u, || true).expect_err("timed out");
    assert_eq!(lock.raw().readers(), 2);
    let upgrader = {
        let lock = Arc::clone(&lock);
        thread::spawn(move || {
            // The upgradable lock moves to this thread only as a value: take a fresh one
            // after the guard below is dropped.
            let u = lock.upgradable_read();
            let mut w = RwLockUpgradableReadGuard::upgrade(u);
            let seen = *w;
            *w = 1;
            seen
        })
    };
    drop(u);
    // The writer may go first or the upgrader; the upgrader's write follows its own read.
    drop(r);
    let seen = upgrader.join().unwrap();
    writer.join().unwrap();
    let v = *lock.read();
    assert!(
        (seen == 0 && v == 2) || (seen == 2 && v == 1),
        "seen {seen}, final {v}"
    );
    assert_idle(&lock);
}

/// Each writer writes its own id, downgrades, and must still read its id: no writer got in
/// between. The same for a downgrade to an upgradable read, and for that one's downgrade.
#[test]
fn downgrade_lets_no_writer_in() {
    let lock = Arc::new(SpinRwLock::new(0usize));
    let threads: Vec<_> = (1..=3)
        .map(|id| {
            let lock = Arc::clone(&lock);
            thread::spawn(move || {
                for j in 0..ROUNDS {
                    let mut w = lock.write();
                    *w = id;
                    if j % 2 == 0 {
                        let r = RwLockWriteGuard::downgrade(w);
                        assert_eq!(*r, id);
                    } else {
                        let u = RwLockWriteGuard::downgrade_to_upgradable(w);
                        assert_eq!(*u, id);
                        let r = RwLockUpgradableReadGuard::downgrade(u);
                        assert_eq!(*r, id);
                    }
                }
            })
        })
        .collect();
    for t in threads {
        t.join().unwrap();
    }
    assert_idle(&lock);
}

/// The try and `_until` forms: a free lock is taken even at an expired deadline, a held one
/// is not, and a writer that gives up leaves no flag behind (readers enter again).
#[test]
fn try_and_until_forms() {
    let lock = SpinRwLock::new(5);
    assert!(lock.read_until(|| true).is_some(), "free: taken at once");
    assert!(lock.write_until(|| true).is_some());
    assert!(lock.upgradable_read_until(|| true).is_some());

    let w = lock.write();
    assert!(lock.try_read().is_none() && lock.try_write().is_none());
    assert!(lock.try_upgradable_read().is_none());
    let mut polls = 0;
    assert!(lock
        .read_until(|| {
            polls += 1;
            polls > 3
        })
        .is_none());
    assert!(lock.write_until(|| true).is_none());
    assert!(lock.upgradable_read_until(|| true).is_none());
    assert!(lock.is_locked_exclusive());
    drop(w);
    assert_idle(&lock);

    let r = lock.read();
    assert!(lock.write_until(|| true).is_none());
    assert!(
        !lock.raw().writer_waiting(),
        "the writer that gave up unflagged"
    );
    assert!(lock.try_read().is_some(), "readers are not held back by it");
    let u = lock
        .try_upgradable_read()
        .expect("upgradable beside a reader");
    assert!(lock.try_upgradable_read().is_none(), "one at a time");
    let u = RwLockUpgradableReadGuard::upgrade_until(u, || true).expect_err("a reader inside");
    assert!(!lock.raw().writer_waiting());
    drop(r);
    let w = RwLockUpgradableReadGuard::try_upgrade(u).expect("alone now");
    assert!(lock.is_locked_exclusive());
    drop(w);
    assert_idle(&lock);
}

/// A timed writer whose deadline expires while held back lets the held-back readers in.
#[test]
fn a_writer_that_gives_up_lets_held_back_readers_in() {
    let lock = Arc::new(SpinRwLock::new(0));
    let r = lock.read();
    let writer = {
        let lock = Arc::clone(&lock);
        thread::spawn(move || {
            let limit = Instant::now() + Duration::from_millis(if cfg!(miri) { 1 } else { 50 });
            lock.write_until(move || Instant::now() >= limit).is_some()
        })
    };
    assert!(!writer.join().unwrap(), "a reader held the lock throughout");
    assert!(lock.try_read().is_some());
    drop(r);
    assert_idle(&lock);
}

/// 65535 read locks at once (upgradable one included), one more panics with a message and
/// leaves the count as it was. The locks are taken and given back through the raw lock (65535
/// guards would overflow lockdep's held-lock table with feature `lockdep`); the attempts that
/// must panic go through the guards' API.
#[cfg_attr(miri, ignore = "65535 acquisitions")]
#[test]
fn reader_overflow_panics() {
    use baresync::RawRwLock;
    let lock = SpinRwLock::new(());
    lock.raw().lock_upgradable();
    for _ in 1..65535 {
        assert!(lock.raw().try_lock_shared(), "below the limit");
    }
    assert_eq!(lock.raw().readers(), 65535);
    for attempt in 0..3 {
        let r = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| match attempt {
            0 => drop(lock.read()),
            1 => drop(lock.try_read()),
            _ => drop(lock.read_until(|| true)),
        }));
        let msg = r.expect_err("one read lock too many must panic");
        let msg = msg.downcast_ref::<&str>().copied().unwrap_or("");
        assert!(msg.contains("reader count overflow"), "{msg}");
        assert_eq!(lock.raw().readers(), 65535);
    }
    assert!(lock.try_write().is_none());
    for _ in 1..65535 {
        // SAFETY: gives back one of the read locks taken above.
        unsafe { lock.raw().unlock_shared() };
    }
    // SAFETY: the upgradable lock taken above.
    unsafe { lock.raw().unlock_upgradable() };
    assert_idle(&lock);
}
