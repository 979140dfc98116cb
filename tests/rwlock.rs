//! The reader-writer locks through their public API, with threads. For both raw locks
//! (`RwLock`'s `RawRwMutex`, over several backends, and `SpinRwLock`'s `RawSpinRwLock`), one
//! generic test each: reader/writer exclusion over a multi-word value (with more threads than
//! cores), a waiting writer holding new readers back, upgrades and downgrades that let no
//! writer in between, the try, `_until` and `_timeout` forms, a writer that gives up. For
//! `RwLock` only: readers admitted at the next write unlock, registered waiters, a spins-only
//! backend. `SpinRwLock`'s own (its reader-count limit) is in `tests/spin_rwlock.rs`.

mod fault_support;
use baresync::{
    Futex, RawRwMutex, RawSpinRwLock, ReadWriteLock, RwLock, RwLockUpgradableReadGuard,
    RwLockWriteGuard, Spin, Yield,
};
use fault_support::{assert_rw_idle, RwState, SpinsOnly};
use std::sync::atomic::{AtomicUsize, Ordering::SeqCst};
use std::sync::Arc;
use std::thread;
use std::time::{Duration, Instant};

const ROUNDS: usize = if cfg!(miri) { 30 } else { 5_000 };

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

/// Runs each generic test below once per raw lock, as `<test>::rw_mutex` (`RwLock`'s raw lock,
/// default backend) and `<test>::spin_rwlock` (`SpinRwLock`'s).
macro_rules! for_both_locks {
    ($($test:ident),* $(,)?) => {$(
        mod $test {
            #[test]
            fn rw_mutex() {
                super::$test::<baresync::RawRwMutex>();
            }
            #[test]
            fn spin_rwlock() {
                super::$test::<baresync::RawSpinRwLock>();
            }
        }
    )*};
}

for_both_locks!(
    readers_share,
    a_waiting_writer_holds_new_readers_back,
    upgrade_waits_for_readers_and_lets_no_writer_in,
    downgrade_lets_no_writer_in,
    try_and_until_forms,
    timeouts,
    a_writer_that_gives_up_lets_held_back_readers_in,
);

/// Readers (plain and upgradable, some upgrading; by `try_` first now and then) check that the
/// four words are equal (a writer in the middle of its update would show them unequal) and
/// that no writer is inside; writers (some by `try_write`, some downgrading and reading their
/// own value) check they are alone. The final value counts every write. With more threads
/// than the machine has cores, spinning waiters must yield, or this hangs.
fn exclusion<R: RwState>(readers: usize, writers: usize) {
    struct Shared<R: RwState> {
        lock: ReadWriteLock<R, [u64; 4]>,
        inside_writers: AtomicUsize,
        inside_readers: AtomicUsize,
    }
    let s = Arc::new(Shared::<R> {
        lock: ReadWriteLock::with_raw([0; 4]),
        inside_writers: AtomicUsize::new(0),
        inside_readers: AtomicUsize::new(0),
    });
    fn write<R: RwState>(s: &Shared<R>, w: &mut [u64; 4]) {
        assert_eq!(s.inside_writers.fetch_add(1, SeqCst), 0, "two writers");
        assert_eq!(s.inside_readers.load(SeqCst), 0, "a reader beside a writer");
        for word in w.iter_mut() {
            *word += 1;
        }
        s.inside_writers.fetch_sub(1, SeqCst);
    }
    fn read<R: RwState>(s: &Shared<R>, v: &[u64; 4]) {
        s.inside_readers.fetch_add(1, SeqCst);
        assert_eq!(s.inside_writers.load(SeqCst), 0, "a writer beside a reader");
        assert!(v.iter().all(|w| *w == v[0]), "torn value {v:?}");
        s.inside_readers.fetch_sub(1, SeqCst);
    }
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
    for i in 0..readers {
        let s = Arc::clone(&s);
        threads.push(thread::spawn(move || {
            for j in 0..ROUNDS {
                if (i + j) % 7 == 0 {
                    // An upgradable reader now and then, sometimes upgrading.
                    let u = s.lock.upgradable_read();
                    read(&s, &u);
                    let seen = *u;
                    if j % 2 == 0 {
                        let mut w = RwLockUpgradableReadGuard::upgrade(u);
                        assert_eq!(*w, seen, "a writer got in during the upgrade");
                        write(&s, &mut w);
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
    let upgrades: usize = (0..readers)
        .map(|i| {
            (0..ROUNDS)
                .filter(|j| (i + j) % 7 == 0 && j % 2 == 0)
                .count()
        })
        .sum();
    let expected = (writers * ROUNDS + upgrades) as u64;
    assert_eq!(*s.lock.read(), [expected; 4]);
    assert_rw_idle(&s.lock);
}

#[test]
fn exclusion_spin() {
    exclusion::<RawRwMutex<Spin>>(2, 2);
}

#[test]
fn exclusion_spins_only() {
    exclusion::<RawRwMutex<SpinsOnly>>(2, 2);
}

#[test]
fn exclusion_futex_oversubscribed() {
    exclusion::<RawRwMutex<Futex>>(6, 3);
}

#[test]
fn exclusion_yield() {
    exclusion::<RawRwMutex<Yield>>(3, 2);
}

#[test]
fn spin_rwlock_exclusion_few_threads() {
    exclusion::<RawSpinRwLock>(1, 1);
}

#[test]
fn spin_rwlock_exclusion_oversubscribed() {
    exclusion::<RawSpinRwLock>(
        if cfg!(miri) { 2 } else { 6 },
        if cfg!(miri) { 2 } else { 3 },
    );
}

fn readers_share<R: RwState>() {
    let lock = Arc::new(ReadWriteLock::<R, i32>::with_raw(7));
    let r = lock.read();
    let other = {
        let lock = Arc::clone(&lock);
        thread::spawn(move || lock.read_until(generous()).map(|g| *g))
    };
    assert_eq!(other.join().unwrap(), Some(7), "a second reader got in");
    assert_eq!(*r, 7);
    drop(r);
    assert_rw_idle(&lock);
}

/// While a writer waits (registered, or flagged), a new reader (or upgradable reader) does not
/// enter, even though the lock is only read-locked; once the reader inside leaves, the writer
/// goes first.
fn a_waiting_writer_holds_new_readers_back<R: RwState>() {
    let lock = Arc::new(ReadWriteLock::<R, i32>::with_raw(0));
    let r = lock.read();
    let writer = {
        let lock = Arc::clone(&lock);
        thread::spawn(move || *lock.write() = 1)
    };
    eventually("the writer waits", || lock.raw().writers_waiting() == 1);
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
    assert_rw_idle(&lock);
}

/// An upgrade waits for the other readers and holds new readers back meanwhile; a failed
/// `try_upgrade` or an expired `upgrade_until` keeps the upgradable lock; no writer gets in
/// between the upgradable read and the write (a writer already waiting comes after).
fn upgrade_waits_for_readers_and_lets_no_writer_in<R: RwState>() {
    use std::sync::mpsc::channel;
    let lock = Arc::new(ReadWriteLock::<R, u32>::with_raw(0));
    let r = lock.read();
    let (holding_tx, holding) = channel();
    let (go, go_rx) = channel::<()>();
    let (tried_tx, tried) = channel();
    let upgrader = {
        let lock = Arc::clone(&lock);
        thread::spawn(move || {
            let u = lock.upgradable_read();
            let seen = *u;
            holding_tx.send(()).unwrap();
            go_rx.recv().unwrap();
            // The reader is inside: a failed attempt keeps the upgradable lock.
            let u = RwLockUpgradableReadGuard::try_upgrade(u).expect_err("a reader is inside");
            let u = RwLockUpgradableReadGuard::upgrade_until(u, || true).expect_err("timed out");
            tried_tx.send(()).unwrap();
            let mut w = RwLockUpgradableReadGuard::upgrade(u);
            assert_eq!(*w, seen, "a writer got in during the upgrade");
            *w = 10;
        })
    };
    holding.recv().unwrap();
    assert!(lock.try_upgradable_read().is_none(), "one at a time");
    let writer = {
        let lock = Arc::clone(&lock);
        thread::spawn(move || {
            let mut w = lock.write();
            assert_eq!(*w, 10, "the writer ran after the upgrade");
            *w = 20;
        })
    };
    eventually("the writer waits", || lock.raw().writers_waiting() == 1);
    go.send(()).unwrap();
    tried.recv().unwrap();
    assert_eq!(
        lock.raw().read_locks(),
        2,
        "the reader and the upgradable reader"
    );
    // `RwLock` counts the upgrade as a second waiting writer; `SpinRwLock` has one flag, up
    // again (the expired upgrade lowered it) once the writer or the upgrade polls.
    let waiting = if R::COUNTS_WAITING_WRITERS { 2 } else { 1 };
    eventually("the upgrader waits", || {
        lock.raw().writers_waiting() == waiting
    });
    assert!(
        lock.try_read().is_none(),
        "a new reader overtook the upgrade"
    );
    drop(r);
    upgrader.join().unwrap();
    writer.join().unwrap();
    assert_eq!(*lock.read(), 20);
    assert_rw_idle(&lock);
}

/// Each writer writes its own id, downgrades, and must still read its id: no writer got in
/// between the write and the read lock. The same for a downgrade to an upgradable read, and
/// for that one's downgrade.
fn downgrade_lets_no_writer_in<R: RwState>() {
    let lock = Arc::new(ReadWriteLock::<R, usize>::with_raw(0));
    let threads: Vec<_> = (1..=4)
        .map(|id| {
            let lock = Arc::clone(&lock);
            thread::spawn(move || {
                for i in 0..ROUNDS {
                    let mut w = lock.write();
                    *w = id;
                    if i % 2 == 0 {
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
    assert_rw_idle(&lock);
}

/// The try and `_until` forms: a free lock is taken even at an expired deadline, a held one
/// is not, and a writer or an upgrade that gives up leaves no waiting writer behind (readers
/// enter again).
fn try_and_until_forms<R: RwState>() {
    let lock = ReadWriteLock::<R, i32>::with_raw(5);
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
    assert_rw_idle(&lock);

    let r = lock.read();
    assert!(lock.write_until(|| true).is_none());
    assert_eq!(
        lock.raw().writers_waiting(),
        0,
        "the writer that gave up is gone"
    );
    assert!(lock.try_read().is_some(), "readers are not held back by it");
    let u = lock
        .try_upgradable_read()
        .expect("upgradable beside a reader");
    assert!(lock.try_upgradable_read().is_none(), "one at a time");
    let u = RwLockUpgradableReadGuard::upgrade_until(u, || true).expect_err("a reader inside");
    assert_eq!(lock.raw().writers_waiting(), 0);
    drop(r);
    let w = RwLockUpgradableReadGuard::try_upgrade(u).expect("alone now");
    assert!(lock.is_locked_exclusive());
    drop(w);
    assert_rw_idle(&lock);
}

/// The `_timeout` forms: a held lock times out, a free one is taken at `Duration::ZERO`, and an
/// upgrade times out beside a reader.
fn timeouts<R: RwState>() {
    let lock = ReadWriteLock::<R, i32>::with_raw(1);
    let w = lock.write();
    assert!(lock.read_timeout(Duration::from_millis(2)).is_none());
    assert!(lock.write_timeout(Duration::from_millis(2)).is_none());
    assert!(lock
        .upgradable_read_timeout(Duration::from_millis(2))
        .is_none());
    drop(w);
    assert_eq!(lock.raw().readers_waiting(), 0);
    assert_eq!(lock.raw().writers_waiting(), 0);
    let u = lock.upgradable_read_timeout(Duration::MAX).unwrap();
    let r = lock.read_timeout(Duration::MAX).unwrap();
    let u = RwLockUpgradableReadGuard::upgrade_timeout(u, Duration::from_millis(2)).unwrap_err();
    drop(r);
    let w = RwLockUpgradableReadGuard::upgrade_timeout(u, Duration::MAX).unwrap();
    drop(w);
    assert!(lock.write_timeout(Duration::ZERO).is_some());
    assert_rw_idle(&lock);
}

/// Readers held back only by a waiting writer are let in when that writer gives up.
fn a_writer_that_gives_up_lets_held_back_readers_in<R: RwState>() {
    let lock = Arc::new(ReadWriteLock::<R, i32>::with_raw(0));
    let r = lock.read();
    let writer = {
        let lock = Arc::clone(&lock);
        thread::spawn(move || {
            let deadline = Instant::now() + Duration::from_millis(50);
            lock.write_until(deadline).is_some()
        })
    };
    eventually("the writer waits", || lock.raw().writers_waiting() == 1);
    let reader = {
        let lock = Arc::clone(&lock);
        thread::spawn(move || lock.read_until(generous()).is_some())
    };
    assert!(
        !writer.join().unwrap(),
        "the writer timed out: a reader still held the lock"
    );
    assert!(reader.join().unwrap(), "the held-back reader got in");
    assert!(lock.try_read().is_some());
    drop(r);
    assert_rw_idle(&lock);
}

/// A writer and a reader wait, registered, behind a write lock held long enough for any
/// polling budget to run out; with a `SPINS_ONLY` backend neither calls it, and both get in.
#[test]
fn registered_waiters_poll_a_spins_only_backend_themselves() {
    let lock = Arc::new(RwLock::<u64, SpinsOnly>::with_wait(0));
    let mut held = lock.write();
    let writer = {
        let lock = Arc::clone(&lock);
        thread::spawn(move || *lock.write() += 1)
    };
    eventually("the writer registers", || {
        lock.raw().waiting_writers() == 1 || writer.is_finished()
    });
    let reader = {
        let lock = Arc::clone(&lock);
        thread::spawn(move || *lock.read())
    };
    eventually("the reader registers", || {
        lock.raw().waiting_readers() == 1 || reader.is_finished()
    });
    thread::sleep(Duration::from_millis(if cfg!(miri) { 1 } else { 20 }));
    *held = 10;
    drop(held);
    writer.join().expect("the writer called the backend");
    assert!(reader.join().expect("the reader called the backend") >= 10);
    assert_eq!(*lock.read(), 11);
    assert!(!lock.is_locked());
}

/// Readers that wait for a writer are let in by its unlock, before a second waiting writer:
/// the unlock itself makes them readers.
#[test]
fn waiting_readers_go_before_the_next_writer() {
    let lock = Arc::new(RwLock::new(0));
    let w = lock.write();
    let readers: Vec<_> = (0..2)
        .map(|_| {
            let lock = Arc::clone(&lock);
            thread::spawn(move || *lock.read())
        })
        .collect();
    eventually("the readers register", || lock.raw().waiting_readers() == 2);
    let writer = {
        let lock = Arc::clone(&lock);
        thread::spawn(move || *lock.write() = 2)
    };
    eventually("the second writer registers", || {
        lock.raw().waiting_writers() == 1
    });
    let mut w = w;
    *w = 1;
    drop(w);
    // The unlock handed the lock to both readers at once: the writer cannot be inside.
    assert!(!lock.is_locked_exclusive());
    for r in readers {
        assert_eq!(
            r.join().unwrap(),
            1,
            "the readers saw the first writer's value"
        );
    }
    writer.join().unwrap();
    assert_eq!(*lock.read(), 2);
}

/// A timed-out waiter leaves nothing behind while others keep waiting and get in.
#[test]
fn timed_out_waiters_leave_the_others_waiting() {
    let lock = Arc::new(RwLock::new(0));
    let w = lock.write();
    let patient = {
        let lock = Arc::clone(&lock);
        thread::spawn(move || lock.read_until(generous()).map(|g| *g))
    };
    eventually("the patient reader registers", || {
        lock.raw().waiting_readers() == 1
    });
    assert!(lock.read_timeout(Duration::from_millis(3)).is_none());
    assert!(lock.write_timeout(Duration::from_millis(3)).is_none());
    assert_eq!(lock.raw().waiting_readers(), 1);
    assert_eq!(lock.raw().waiting_writers(), 0);
    drop(w);
    assert_eq!(patient.join().unwrap(), Some(0));
}

#[test]
fn generic_over_the_raw_lock() {
    static TABLE: ReadWriteLock<RawRwMutex<Spin>, [u8; 2]> = ReadWriteLock::with_raw([1, 2]);
    assert_eq!(TABLE.read()[1], 2);
    TABLE.write()[1] = 3;
    assert_eq!(*TABLE.read(), [1, 3]);
    let l: RwLock<u8, Yield> = RwLock::default();
    assert_eq!(*l.read(), 0);
    let l: RwLock<u8> = RwLock::from(4);
    assert_eq!(l.into_inner(), 4);
}
