//! Fault injection for the locks, semaphores, `Event` and `Barrier`: user code that runs inside
//! them (a `Deadline`, a `Wait` backend, a `RawLock` implementation) panics or is slow, and the
//! primitive must be left as its guards say: lock free or held, permits back, no ghost waiter,
//! the barrier broken rather than waiting for a party that is gone.

mod fault_support;
use fault_support::*;

use baresync::{
    Barrier, BarrierError, BoundedSemaphore, Event, FairLock, Futex, Lock, Mutex, RawFairLock,
    RawLock, RawTicketLock, Semaphore, Spin, SpinLock, TicketLock, Wait, Yield,
};
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::atomic::{AtomicBool, Ordering::SeqCst};
use std::sync::Arc;
use std::thread;
use std::time::Duration;

/// The calls on which the injected deadline panics: the first, and a later one.
const CALLS: [u32; 2] = [1, 5];

// ---------------------------------------------------------------------------------------------
// `Lock::lock_until` with a panicking deadline, for each raw lock.

/// The lock is held (by this thread's guard) while another attempt's deadline panics: the
/// guard still holds it, the data is intact, and once the guard goes the lock is free.
fn lock_until_deadline_panics<R: RawLock>() {
    for k in CALLS {
        let lock: Lock<R, u32> = Lock::with_raw(7);
        let mut held = lock.lock();
        must_panic(|| lock.lock_until(panics_on_call(k)).map(|_| ()));
        assert!(lock.is_locked(), "the holder's guard still holds the lock");
        *held += 1;
        drop(held);
        assert!(!lock.is_locked());
        let g = lock.lock_until(generous()).expect("the lock is free");
        assert_eq!(*g, 8);
        drop(g);
        // A panic on a free lock's attempt never happens: `try_lock` comes first.
        assert!(lock.lock_until(|| panic!("not called")).is_some());
        assert!(!lock.is_locked());
    }
}

#[test]
fn spin_lock_until_deadline_panics() {
    lock_until_deadline_panics::<baresync::RawSpinLock>();
}

#[test]
fn ticket_lock_until_deadline_panics() {
    lock_until_deadline_panics::<RawTicketLock<Spin>>();
    lock_until_deadline_panics::<RawTicketLock<Yield>>();
    lock_until_deadline_panics::<RawTicketLock<Futex>>();
}

#[test]
fn fair_lock_until_deadline_panics() {
    lock_until_deadline_panics::<RawFairLock<Spin>>();
    lock_until_deadline_panics::<RawFairLock<Yield>>();
    lock_until_deadline_panics::<RawFairLock<Futex>>();
}

/// A timed waiter among queued untimed ones, on a lock that queues them (`waiters` counts
/// them): its deadline panics while they wait; each queued waiter still gets the lock, and
/// nothing stays counted.
fn lock_until_panics_among_queued_waiters<R>(lock: Lock<R, u64>, waiters: fn(&R) -> u32)
where
    R: RawLock + Send + Sync + 'static,
{
    let lock = Arc::new(lock);
    let held = lock.lock();
    let queued: Vec<_> = (0..2)
        .map(|_| {
            let lock = Arc::clone(&lock);
            thread::spawn(move || *lock.lock() += 1)
        })
        .collect();
    while waiters(lock.raw()) < 2 {
        thread::yield_now();
    }
    must_panic(|| lock.lock_until(panics_on_call(3)).map(|_| ()));
    drop(held);
    for q in queued {
        join_within(q, "a queued waiter");
    }
    assert_eq!(*lock.lock_until(generous()).expect("free"), 2);
    assert_eq!(waiters(lock.raw()), 0);
    assert!(!lock.is_locked());
}

/// The fair lock's timed waiter (a barger) among queued waiters.
#[test]
fn fair_lock_until_panics_among_queued_waiters() {
    let lock: FairLock<u64, Yield> = FairLock::with_wait(0);
    lock_until_panics_among_queued_waiters(lock, RawFairLock::waiters);
}

/// A queued fair-lock waiter whose `W::wait` panics (the head, waiting on the state word, and
/// a waiter behind it, waiting on the queue word): each leaves the queue without the lock and
/// passes its turn on; the lock works and nobody stays counted.
#[test]
fn fair_lock_survives_a_panicking_wait() {
    let lock: Arc<FairLock<u32, PanickyWait<5>>> = Arc::new(FairLock::with_wait(0));
    let held = lock.lock();
    let victims: Vec<_> = (0..2)
        .map(|_| {
            let lock = Arc::clone(&lock);
            thread::spawn(move || {
                arm(1);
                catch_unwind(AssertUnwindSafe(|| *lock.lock() += 100)).is_err()
            })
        })
        .collect();
    for v in victims {
        assert!(join_within(v, "a panicking waiter"));
    }
    assert_eq!(lock.raw().waiters(), 0);
    assert!(lock.is_locked(), "still held by this thread");
    drop(held);
    let g = lock
        .lock_until(generous())
        .expect("the lock must not be stuck on a panicked waiter's turn");
    assert_eq!(*g, 0, "no panicked waiter ran its critical section");
    drop(g);
    *lock.lock() += 1;
    assert_eq!(*lock.lock(), 1);
    assert!(!lock.is_locked());
}

/// The fair lock's release wakes the next ticket's waiter, asleep on its turn slot, and that
/// wake panics: the release still happened (the lock is free, the panic propagates out of
/// `unlock`), and the waiter is woken by the next release instead of sleeping for good (it
/// was, before `RearmOnUnwind`: nobody passes that turn again).
#[test]
fn fair_lock_turn_wake_that_panics_is_made_again_by_the_next_release() {
    let l: Arc<RawFairLock<WakePanics<0>>> = Arc::new(RawFairLock::with_wait());
    l.lock();
    let head = {
        let l = Arc::clone(&l);
        thread::spawn(move || {
            l.lock();
            // Our release's first wake call is the turn wake of the waiter behind us.
            arm_wake(1);
            // SAFETY: held by this thread.
            let panicked = catch_unwind(AssertUnwindSafe(|| unsafe { l.unlock() })).is_err();
            arm_wake(0);
            panicked
        })
    };
    // The head queues and sleeps on the state word; the waiter behind it on its turn slot.
    WakePanics::<0>::until_sleeping(1);
    assert_eq!(l.waiters(), 1);
    let behind = lock_and_unlock_on_a_thread(&l);
    WakePanics::<0>::until_sleeping(2);
    assert_eq!(l.waiters(), 2);
    // SAFETY: held by this thread. Wakes the head, which takes the lock and releases it.
    unsafe { l.unlock() };
    assert!(
        join_within(head, "the head"),
        "the head's turn wake panicked"
    );
    next_release_wakes(&l, behind, "the waiter whose turn wake panicked");
}

/// The same for the wake of the state word's sleepers (here the head of the queue): a release
/// whose wake of them panics leaves them to the next release, not asleep for good.
#[test]
fn fair_lock_head_wake_that_panics_is_made_again_by_the_next_release() {
    let l: Arc<RawFairLock<WakePanics<1>>> = Arc::new(RawFairLock::with_wait());
    l.lock();
    let head = lock_and_unlock_on_a_thread(&l);
    WakePanics::<1>::until_sleeping(1);
    arm_wake(1);
    // SAFETY: held by this thread.
    must_panic(|| unsafe { l.unlock() });
    arm_wake(0);
    next_release_wakes(&l, head, "the head whose wake panicked");
}

/// A thread that takes `l` and releases it (it queues if `l` is held).
fn lock_and_unlock_on_a_thread<R: RawLock + Send + Sync + 'static>(
    l: &Arc<R>,
) -> thread::JoinHandle<()> {
    let l = Arc::clone(l);
    thread::spawn(move || {
        l.lock();
        // SAFETY: held by this thread.
        unsafe { l.unlock() };
    })
}

/// After a release whose wake panicked: the release happened (`l` is free), and the next
/// release, this thread's, wakes `waiter`, which then takes the lock and finishes; nobody
/// stays queued.
fn next_release_wakes<W: Wait>(l: &RawFairLock<W>, waiter: thread::JoinHandle<()>, what: &str) {
    assert!(!l.is_locked(), "the release happened before the wake");
    l.lock();
    // SAFETY: held by this thread.
    unsafe { l.unlock() };
    join_within(waiter, what);
    assert_eq!(l.waiters(), 0);
    assert!(!l.is_locked());
}

#[test]
fn mutex_lock_until_deadline_panics() {
    lock_until_deadline_panics::<baresync::RawMutex<Spin>>();
    lock_until_deadline_panics::<baresync::RawMutex<Futex>>();
}

/// The ticket lock's timed waiter against a queue of untimed ones: every queued waiter still
/// gets the lock, in turn.
#[test]
fn ticket_lock_until_panics_among_queued_waiters() {
    let lock: TicketLock<u64, Yield> = TicketLock::new(0);
    lock_until_panics_among_queued_waiters(lock, RawTicketLock::waiters);
}

// ---------------------------------------------------------------------------------------------
// A `Wait` backend that panics inside `lock`.

/// Regression: a ticket lock waiter whose `W::wait` panicked left its drawn ticket unserved,
/// and the lock was stuck for everyone once the counter reached it. Now its unwind waits for
/// its turn and passes it on.
#[test]
fn ticket_lock_survives_a_panicking_wait() {
    let lock: Arc<TicketLock<u32, PanickyWait<0>>> = Arc::new(TicketLock::with_wait(0));
    let held = lock.lock();
    let victim = {
        let lock = Arc::clone(&lock);
        thread::spawn(move || {
            arm(1);
            catch_unwind(AssertUnwindSafe(|| *lock.lock() += 100)).is_err()
        })
    };
    PanickyWait::<0>::until_panicked();
    drop(held);
    assert!(join_within(victim, "the panicking waiter"));
    let g = lock
        .lock_until(generous())
        .expect("the lock must not be stuck on the panicked waiter's ticket");
    assert_eq!(*g, 0, "the panicked waiter never ran its critical section");
    drop(g);
    assert_eq!(lock.raw().waiters(), 0);
    assert!(!lock.is_locked());
}

/// A mutex waiter whose `W::wait` panics: the holder still holds, the waiter holds nothing,
/// and the lock works afterwards (a leftover "contended" state costs one wake at most).
#[test]
fn mutex_survives_a_panicking_wait() {
    let lock: Arc<Mutex<u32, PanickyWait<1>>> = Arc::new(Mutex::with_wait(0));
    let held = lock.lock();
    let victim = {
        let lock = Arc::clone(&lock);
        thread::spawn(move || {
            arm(1);
            catch_unwind(AssertUnwindSafe(|| *lock.lock() += 100)).is_err()
        })
    };
    assert!(join_within(victim, "the panicking waiter"));
    assert!(lock.is_locked());
    drop(held);
    assert!(!lock.is_locked());
    *lock.lock_until(generous()).expect("free") += 1;
    assert_eq!(*lock.lock(), 1);
    assert!(!lock.is_locked());
}

// ---------------------------------------------------------------------------------------------
// A `RawLock` that keeps its contract but panics before acquiring, or is slow.

/// A spin lock whose `lock` panics before acquiring when this thread is armed, and which
/// sleeps a little before every acquisition attempt (a slow, contract-keeping lock).
struct OddRawLock {
    inner: baresync::RawSpinLock,
}

// SAFETY: every acquisition and release is the inner spin lock's; the panic and the sleep
// come before any of them.
unsafe impl RawLock for OddRawLock {
    const INIT: Self = OddRawLock {
        inner: baresync::RawSpinLock::new(),
    };
    fn lock(&self) {
        if PANIC_IN.with(|c| c.replace(0)) == 1 {
            panic!("injected");
        }
        if !cfg!(miri) {
            thread::sleep(Duration::from_micros(50));
        }
        self.inner.lock();
    }
    fn try_lock(&self) -> bool {
        self.inner.try_lock()
    }
    unsafe fn unlock(&self) {
        // SAFETY: forwarded: the caller holds the lock, which is the inner lock.
        unsafe { self.inner.unlock() }
    }
    fn is_locked(&self) -> bool {
        self.inner.is_locked()
    }
}

/// The safe `Lock` over such a raw lock stays sound: a panicking `lock` hands out no guard and
/// leaves the lock free; a slow one still excludes (an exact non-atomic count).
#[test]
fn lock_over_a_panicking_or_slow_raw_lock() {
    let lock: Arc<Lock<OddRawLock, u64>> = Arc::new(Lock::with_raw(0));
    arm(1);
    must_panic(|| *lock.lock() += 1);
    assert!(!lock.is_locked());
    assert_eq!(*lock.lock(), 0);
    let per_thread = if cfg!(miri) { 10 } else { 500 };
    let threads: Vec<_> = (0..3)
        .map(|_| {
            let lock = Arc::clone(&lock);
            thread::spawn(move || {
                for _ in 0..per_thread {
                    let mut g = lock.lock();
                    let v = std::hint::black_box(*g);
                    thread::yield_now();
                    *g = v + 1;
                }
            })
        })
        .collect();
    for t in threads {
        t.join().unwrap();
    }
    assert_eq!(*lock.lock(), 3 * per_thread);
    assert!(!lock.is_locked());
}

// ---------------------------------------------------------------------------------------------
// Semaphores.

#[test]
fn semaphore_acquire_until_deadline_panics() {
    fn check<W: Wait>() {
        for k in CALLS {
            let sem: Semaphore<W> = Semaphore::with_wait(2);
            let held = sem.acquire_many(2);
            must_panic(|| sem.acquire_until(panics_on_call(k)).map(|p| p.forget()));
            must_panic(|| {
                sem.acquire_many_until(2, panics_on_call(k))
                    .map(|p| p.forget())
            });
            assert_eq!(sem.available(), 0, "nothing taken by the panicked attempts");
            drop(held);
            assert_eq!(sem.available(), 2);
            let p = sem
                .acquire_many_until(2, generous())
                .expect("both permits back");
            assert_eq!(p.permits(), 2);
            drop(p);
            assert_eq!(sem.available(), 2);
        }
    }
    check::<Spin>();
    check::<Futex>();
}

#[test]
fn bounded_semaphore_acquire_until_deadline_panics() {
    fn check<W: Wait>() {
        for k in CALLS {
            let sem: BoundedSemaphore<W> = BoundedSemaphore::with_wait(2);
            let held = sem.acquire();
            must_panic(|| {
                sem.acquire_many_until(2, panics_on_call(k))
                    .map(|p| p.forget())
            });
            assert_eq!(sem.available(), 1);
            let other = sem.acquire();
            must_panic(|| sem.acquire_until(panics_on_call(k)).map(|p| p.forget()));
            assert_eq!(sem.available(), 0);
            drop((held, other));
            assert_eq!(sem.available(), 2);
            assert_eq!(sem.release(1).map_err(|e| e.bound()), Err(2));
            assert_eq!(sem.acquire_many_until(2, generous()).unwrap().permits(), 2);
            assert_eq!(sem.available(), 2);
        }
    }
    check::<Spin>();
    check::<Futex>();
}

/// A semaphore waiter whose `W::wait` panics takes no permit, and the next release still
/// reaches a later waiter.
#[test]
fn semaphore_survives_a_panicking_wait() {
    let sem: Arc<Semaphore<PanickyWait<2>>> = Arc::new(Semaphore::with_wait(0));
    let victim = {
        let sem = Arc::clone(&sem);
        thread::spawn(move || {
            arm(1);
            catch_unwind(AssertUnwindSafe(|| sem.acquire().forget())).is_err()
        })
    };
    assert!(join_within(victim, "the panicking waiter"));
    assert_eq!(sem.available(), 0);
    let waiter = {
        let sem = Arc::clone(&sem);
        thread::spawn(move || sem.acquire().forget())
    };
    sem.release(1);
    join_within(waiter, "a later waiter");
    assert_eq!(sem.available(), 0);
    sem.release(2);
    assert_eq!(sem.available(), 2);
}

// ---------------------------------------------------------------------------------------------
// Event.

#[test]
fn event_wait_until_deadline_panics() {
    fn check<W: Wait + Send + Sync + 'static>() {
        for k in CALLS {
            let ev: Arc<Event<W>> = Arc::new(Event::with_wait());
            must_panic(|| ev.wait_until(panics_on_call(k)));
            assert!(!ev.is_set());
            // A later waiter is still released by `set`.
            let waiter = {
                let ev = Arc::clone(&ev);
                thread::spawn(move || !ev.wait_until(generous()).timed_out())
            };
            ev.set();
            assert!(join_within(waiter, "a later waiter"));
            assert!(!ev.wait_until(|| panic!("not called when set")).timed_out());
        }
    }
    check::<Spin>();
    check::<Futex>();
}

#[test]
fn event_survives_a_panicking_wait() {
    let ev: Arc<Event<PanickyWait<3>>> = Arc::new(Event::with_wait());
    let victim = {
        let ev = Arc::clone(&ev);
        thread::spawn(move || {
            arm(1);
            catch_unwind(AssertUnwindSafe(|| ev.wait())).is_err()
        })
    };
    assert!(join_within(victim, "the panicking waiter"));
    let waiter = {
        let ev = Arc::clone(&ev);
        thread::spawn(move || ev.wait())
    };
    ev.set();
    join_within(waiter, "a later waiter");
    ev.clear();
    assert!(!ev.is_set());
}

// ---------------------------------------------------------------------------------------------
// Barrier: a party that unwinds out of `wait_until` is treated as one that timed out.

/// Decision (see the module doc): the party is no longer counted and the barrier breaks, so
/// the parties waiting get `Broken` instead of waiting forever for one that will not come.
#[test]
fn barrier_wait_until_deadline_panics() {
    fn check<W: Wait + Send + Sync + 'static>() {
        for k in CALLS {
            let b: Arc<Barrier<W>> = Arc::new(Barrier::with_wait(3));
            let other = {
                let b = Arc::clone(&b);
                thread::spawn(move || b.wait())
            };
            while b.n_waiting() < 1 {
                thread::yield_now();
            }
            must_panic(|| b.wait_until(panics_on_call(k)));
            assert!(b.is_broken());
            assert_eq!(
                join_within(other, "the other party"),
                Err(BarrierError::Broken)
            );
            assert_eq!(b.n_waiting(), 0);
            b.reset();
            assert!(!b.is_broken());
            // Exactly the three new parties make a generation: nobody is counted twice.
            let others: Vec<_> = (0..2)
                .map(|_| {
                    let b = Arc::clone(&b);
                    thread::spawn(move || b.wait().unwrap().is_leader())
                })
                .collect();
            let mut leaders = usize::from(b.wait().unwrap().is_leader());
            for o in others {
                leaders += usize::from(join_within(o, "a new party"));
            }
            assert_eq!(leaders, 1);
        }
    }
    check::<Spin>();
    check::<Futex>();
}

/// A barrier party whose `W::wait` panics leaves and breaks the barrier, like a timeout.
#[test]
fn barrier_survives_a_panicking_wait() {
    let b: Arc<Barrier<PanickyWait<4>>> = Arc::new(Barrier::with_wait(2));
    let victim = {
        let b = Arc::clone(&b);
        thread::spawn(move || {
            arm(1);
            catch_unwind(AssertUnwindSafe(|| b.wait())).is_err()
        })
    };
    assert!(join_within(victim, "the panicking party"));
    assert!(b.is_broken());
    assert_eq!(b.n_waiting(), 0);
    assert_eq!(b.wait(), Err(BarrierError::Broken));
    b.reset();
    let other = {
        let b = Arc::clone(&b);
        thread::spawn(move || b.wait().unwrap().is_leader())
    };
    let me = b.wait().unwrap().is_leader();
    assert!(me ^ join_within(other, "the other party"));
}

// ---------------------------------------------------------------------------------------------
// A slow `Wait` backend: everything still works, only slower.

#[test]
fn slow_wait_keeps_every_primitive_correct() {
    let rounds = if cfg!(miri) { 3 } else { 50 };
    let mutex: Arc<Mutex<u64, SlowWait>> = Arc::new(Mutex::with_wait(0));
    let ticket: Arc<TicketLock<u64, SlowWait>> = Arc::new(TicketLock::with_wait(0));
    let fair: Arc<FairLock<u64, SlowWait>> = Arc::new(FairLock::with_wait(0));
    let sem: Arc<Semaphore<SlowWait>> = Arc::new(Semaphore::with_wait(1));
    let inside = Arc::new(AtomicBool::new(false));
    let barrier: Arc<Barrier<SlowWait>> = Arc::new(Barrier::with_wait(3));
    let event: Arc<Event<SlowWait>> = Arc::new(Event::with_wait());
    let threads: Vec<_> = (0..3)
        .map(|_| {
            let (mutex, ticket, fair, sem, inside, barrier, event) = (
                mutex.clone(),
                ticket.clone(),
                fair.clone(),
                sem.clone(),
                inside.clone(),
                barrier.clone(),
                event.clone(),
            );
            thread::spawn(move || {
                event.wait();
                let mut leaders = 0;
                for _ in 0..rounds {
                    *mutex.lock() += 1;
                    *ticket.lock() += 1;
                    *fair.lock() += 1;
                    let permit = sem.acquire();
                    assert!(!inside.swap(true, SeqCst), "two holders of one permit");
                    thread::yield_now();
                    inside.store(false, SeqCst);
                    drop(permit);
                    leaders += usize::from(barrier.wait().unwrap().is_leader());
                }
                leaders
            })
        })
        .collect();
    event.set();
    let leaders: usize = threads
        .into_iter()
        .map(|t| join_within(t, "a worker"))
        .sum();
    assert_eq!(leaders, rounds);
    assert_eq!(*mutex.lock(), 3 * rounds as u64);
    assert_eq!(*ticket.lock(), 3 * rounds as u64);
    assert_eq!(*fair.lock(), 3 * rounds as u64);
    assert_eq!(fair.raw().waiters(), 0);
    assert_eq!(sem.available(), 1);
    assert!(!mutex.is_locked() && !ticket.is_locked());
}

/// `SpinLock` needs no backend, but its `lock_until` runs the deadline too: covered above.
#[test]
fn spin_lock_alias_is_the_raw_spin_lock() {
    let l: SpinLock<u8> = SpinLock::new(1);
    must_panic(|| {
        let _g = l.lock();
        l.lock_until(panics_on_call(1)).map(|_| ())
    });
    assert!(
        !l.is_locked(),
        "the guard dropped during the unwind released the lock"
    );
}
