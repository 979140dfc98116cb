//! `RwLock` through its public API, with threads: reader/writer exclusion over a multi-word
//! value, writer preference, readers admitted at the next write unlock, upgrades and
//! downgrades that let no writer in between, timeouts, and every backend.

mod fault_support;
use baresync::{
    Futex, RawRwMutex, ReadWriteLock, RwLock, RwLockUpgradableReadGuard, RwLockWriteGuard, Spin,
    Wait, Yield,
};
use fault_support::SpinsOnly;
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

/// Readers check that the four words are equal (a writer in the middle of its update would
/// show them unequal) and that no writer is inside; writers check they are alone. The final
/// value counts every write.
fn exclusion<W: Wait + Send + Sync + 'static>(readers: usize, writers: usize) {
    struct Shared<W: Wait> {
        lock: RwLock<[u64; 4], W>,
        inside_writers: AtomicUsize,
        inside_readers: AtomicUsize,
    }
    let s = Arc::new(Shared::<W> {
        lock: RwLock::with_wait([0; 4]),
        inside_writers: AtomicUsize::new(0),
        inside_readers: AtomicUsize::new(0),
    });
    let mut threads = Vec::new();
    for _ in 0..writers {
        let s = Arc::clone(&s);
        threads.push(thread::spawn(move || {
            for _ in 0..ROUNDS {
                let mut w = s.lock.write();
                assert_eq!(s.inside_writers.fetch_add(1, SeqCst), 0, "two writers");
                assert_eq!(s.inside_readers.load(SeqCst), 0, "a reader beside a writer");
                for word in w.iter_mut() {
                    *word += 1;
                }
                s.inside_writers.fetch_sub(1, SeqCst);
            }
        }));
    }
    for i in 0..readers {
        let s = Arc::clone(&s);
        threads.push(thread::spawn(move || {
            for j in 0..ROUNDS {
                let check = |v: &[u64; 4]| {
                    assert!(v.iter().all(|w| *w == v[0]), "torn value {v:?}");
                };
                if (i + j) % 7 == 0 {
                    // An upgradable reader now and then, sometimes upgrading.
                    let u = s.lock.upgradable_read();
                    s.inside_readers.fetch_add(1, SeqCst);
                    assert_eq!(s.inside_writers.load(SeqCst), 0, "a writer beside a reader");
                    check(&u);
                    s.inside_readers.fetch_sub(1, SeqCst);
                    if j % 2 == 0 {
                        let mut w = RwLockUpgradableReadGuard::upgrade(u);
                        assert_eq!(s.inside_writers.fetch_add(1, SeqCst), 0, "two writers");
                        assert_eq!(s.inside_readers.load(SeqCst), 0);
                        for word in w.iter_mut() {
                            *word += 1;
                        }
                        s.inside_writers.fetch_sub(1, SeqCst);
                    }
                } else {
                    let r = s.lock.read();
                    s.inside_readers.fetch_add(1, SeqCst);
                    assert_eq!(s.inside_writers.load(SeqCst), 0, "a writer beside a reader");
                    check(&r);
                    s.inside_readers.fetch_sub(1, SeqCst);
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
    assert!(!s.lock.is_locked());
    assert_eq!(s.lock.raw().waiting_readers(), 0);
    assert_eq!(s.lock.raw().waiting_writers(), 0);
}

#[test]
fn exclusion_spin() {
    exclusion::<Spin>(2, 2);
}

#[test]
fn exclusion_spins_only() {
    exclusion::<SpinsOnly>(2, 2);
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

#[test]
fn exclusion_futex_oversubscribed() {
    exclusion::<Futex>(6, 3);
}

#[test]
fn exclusion_yield() {
    exclusion::<Yield>(3, 2);
}

#[test]
fn readers_share() {
    let lock = Arc::new(RwLock::new(7));
    let r = lock.read();
    let other = {
        let lock = Arc::clone(&lock);
        thread::spawn(move || lock.read_until(generous()).map(|g| *g))
    };
    assert_eq!(other.join().unwrap(), Some(7), "a second reader got in");
    assert_eq!(*r, 7);
}

/// While a writer waits, a new reader does not enter, even though the lock is only
/// read-locked; once the reader inside leaves, the writer goes first.
#[test]
fn a_waiting_writer_holds_new_readers_back() {
    let lock = Arc::new(RwLock::new(0));
    let r = lock.read();
    let writer = {
        let lock = Arc::clone(&lock);
        thread::spawn(move || *lock.write() = 1)
    };
    eventually("the writer registers", || lock.raw().waiting_writers() == 1);
    assert!(
        lock.try_read().is_none(),
        "a new reader overtook a waiting writer"
    );
    assert!(lock.try_upgradable_read().is_none());
    assert!(lock.read_until(|| true).is_none());
    drop(r);
    writer.join().unwrap();
    assert_eq!(*lock.read(), 1);
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

/// Upgrade waits for the other readers, holds new readers back meanwhile, and no writer gets
/// in between the upgradable read and the write.
#[test]
fn upgrade_waits_for_readers_and_lets_no_writer_in() {
    use std::sync::mpsc::channel;
    let lock = Arc::new(RwLock::new(0u32));
    let r = lock.read();
    let (holding_tx, holding) = channel();
    let (go, go_rx) = channel::<()>();
    let upgrader = {
        let lock = Arc::clone(&lock);
        thread::spawn(move || {
            let u = lock.upgradable_read();
            holding_tx.send(()).unwrap();
            go_rx.recv().unwrap();
            let mut w = RwLockUpgradableReadGuard::upgrade(u);
            *w = 10;
        })
    };
    holding.recv().unwrap();
    let writer = {
        let lock = Arc::clone(&lock);
        thread::spawn(move || {
            let mut w = lock.write();
            assert_eq!(*w, 10, "the writer ran after the upgrade");
            *w = 20;
        })
    };
    eventually("the writer registers", || lock.raw().waiting_writers() == 1);
    go.send(()).unwrap();
    eventually("the upgrader registers", || {
        lock.raw().waiting_writers() == 2
    });
    assert!(
        lock.try_read().is_none(),
        "a new reader overtook the upgrade"
    );
    drop(r);
    upgrader.join().unwrap();
    writer.join().unwrap();
    assert_eq!(*lock.read(), 20);
}

/// Each writer writes its own id, downgrades, and must still read its id: no writer got in
/// between the write and the read lock. Same for a downgrade to an upgradable read.
#[test]
fn downgrade_lets_no_writer_in() {
    let lock = Arc::new(RwLock::<usize, Futex>::with_wait(0));
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
    assert!(!lock.is_locked());
}

#[test]
fn timeouts() {
    let lock = RwLock::new(1);
    let w = lock.write();
    assert!(lock.read_timeout(Duration::from_millis(2)).is_none());
    assert!(lock.write_timeout(Duration::from_millis(2)).is_none());
    assert!(lock
        .upgradable_read_timeout(Duration::from_millis(2))
        .is_none());
    drop(w);
    assert_eq!(lock.raw().waiting_readers(), 0);
    assert_eq!(lock.raw().waiting_writers(), 0);
    let u = lock.upgradable_read_timeout(Duration::MAX).unwrap();
    let r = lock.read_timeout(Duration::MAX).unwrap();
    let u = RwLockUpgradableReadGuard::upgrade_timeout(u, Duration::from_millis(2)).unwrap_err();
    drop(r);
    let w = RwLockUpgradableReadGuard::upgrade_timeout(u, Duration::MAX).unwrap();
    drop(w);
    assert!(lock.write_timeout(Duration::ZERO).is_some());
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

/// Readers held back only by a waiting writer are let in when that writer gives up.
#[test]
fn a_writer_that_gives_up_lets_held_back_readers_in() {
    let lock = Arc::new(RwLock::new(0));
    let r = lock.read();
    let writer = {
        let lock = Arc::clone(&lock);
        thread::spawn(move || {
            let deadline = Instant::now() + Duration::from_millis(50);
            lock.write_until(deadline).is_some()
        })
    };
    eventually("the writer registers", || lock.raw().waiting_writers() == 1);
    let reader = {
        let lock = Arc::clone(&lock);
        thread::spawn(move || lock.read_until(generous()).is_some())
    };
    assert!(
        !writer.join().unwrap(),
        "the writer timed out: a reader still held the lock"
    );
    assert!(reader.join().unwrap(), "the held-back reader got in");
    drop(r);
    assert!(!lock.is_locked());
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
