//! `IrqLock` (and the raw `IrqSafe`) on the host, against a model of a core's interrupt mask.
//!
//! Each test thread is a core. This file's `critical_section` implementation masks the
//! calling thread's interrupts (a thread-local flag) and records every acquire and release
//! with its restore state; it has no cross-core lock (the inner `RawLock` is what excludes the
//! other cores). A simulated interrupt controller keeps pending "interrupts" per core and runs
//! their handlers only while that core's interrupts are unmasked: at once when raised unmasked,
//! otherwise when the critical section that masked them is left, as an NVIC does.
//!
//! A handler that takes a lock its own core already holds would spin forever on hardware. The
//! handlers here check for that first and record it as a deadlock instead of hanging, so the
//! tests can assert that `IrqLock` never lets it happen, and that a plain spin lock does (the
//! control).

use baresync::{IrqLock, IrqSafe, IrqSpinLock, RawSpinLock, RawTicketLock, Spin, SpinLock};
use std::cell::{Cell, RefCell};
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering::SeqCst};
use std::sync::mpsc;
use std::thread;

// ---------------------------------------------------------------------------------------------
// The model: one interrupt mask and one pending list per thread ("core").
// ---------------------------------------------------------------------------------------------

/// One record of the critical-section log.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Cs {
    /// `acquire` returned this restore state: were interrupts enabled before?
    Acquire(bool),
    /// `release` was given this restore state.
    Release(bool),
}

thread_local! {
    static MASKED: Cell<bool> = const { Cell::new(false) };
    static DEPTH: Cell<u32> = const { Cell::new(0) };
    static LOG: RefCell<Vec<Cs>> = const { RefCell::new(Vec::new()) };
    static PENDING: RefCell<Vec<fn()>> = const { RefCell::new(Vec::new()) };
    static HANDLED: Cell<u32> = const { Cell::new(0) };
    static WOULD_DEADLOCK: Cell<u32> = const { Cell::new(0) };
}

struct ModelCs;
critical_section::set_impl!(ModelCs);

// SAFETY: a section masks the calling thread's (core's) simulated interrupts until the matching
// release, and nested sections restore the outer state, which is the contract for a per-core
// interrupt mask. It gives no exclusion between threads: every test that shares data between
// threads does so through the `RawLock` inside `IrqSafe`, which is the point under test.
unsafe impl critical_section::Impl for ModelCs {
    unsafe fn acquire() -> bool {
        let was_enabled = !MASKED.with(|m| m.replace(true));
        DEPTH.with(|d| d.set(d.get() + 1));
        LOG.with(|l| l.borrow_mut().push(Cs::Acquire(was_enabled)));
        was_enabled
    }

    unsafe fn release(restore_enabled: bool) {
        DEPTH.with(|d| d.set(d.get() - 1));
        LOG.with(|l| l.borrow_mut().push(Cs::Release(restore_enabled)));
        if restore_enabled {
            MASKED.with(|m| m.set(false));
            dispatch();
        }
    }
}

fn masked() -> bool {
    MASKED.with(Cell::get)
}

fn take_log() -> Vec<Cs> {
    LOG.with(|l| std::mem::take(&mut *l.borrow_mut()))
}

/// Raises an interrupt on this core: its handler runs now if interrupts are unmasked,
/// otherwise as soon as they are.
fn raise(handler: fn()) {
    PENDING.with(|p| p.borrow_mut().push(handler));
    if !masked() {
        dispatch();
    }
}

/// Runs the pending handlers, as the core does when it takes the interrupts.
fn dispatch() {
    while !masked() {
        let Some(handler) = PENDING.with(|p| p.borrow_mut().pop()) else {
            return;
        };
        handler();
        HANDLED.with(|h| h.set(h.get() + 1));
    }
}

fn pending() -> usize {
    PENDING.with(|p| p.borrow().len())
}

fn handled() -> u32 {
    HANDLED.with(Cell::get)
}

fn would_deadlock() -> u32 {
    WOULD_DEADLOCK.with(Cell::get)
}

/// What an interrupt handler does with a lock shared with thread mode: lock it and add one
/// (`increment`). If this core already holds the lock, locking would spin forever (the holder
/// cannot run until the handler returns): record the deadlock instead of hanging the test.
fn handler_increments(held_by_this_core: bool, increment: impl FnOnce()) {
    if held_by_this_core {
        WOULD_DEADLOCK.with(|d| d.set(d.get() + 1));
        return;
    }
    increment();
}

// ---------------------------------------------------------------------------------------------
// One core: thread mode and an interrupt handler sharing a lock.
// ---------------------------------------------------------------------------------------------

static TICKS: IrqSpinLock<u32> = IrqSpinLock::new(0);
/// Set by thread mode while it holds `TICKS` (on the one thread that uses it).
static TICKS_HELD: AtomicBool = AtomicBool::new(false);

fn systick() {
    handler_increments(TICKS_HELD.load(SeqCst), || TICKS.lock(|t| *t += 1));
}

#[test]
fn interrupt_never_runs_while_the_irq_safe_lock_is_held() {
    for round in 1..=100 {
        TICKS.lock(|ticks| {
            TICKS_HELD.store(true, SeqCst);
            assert!(masked(), "holding an IrqLock masks interrupts");
            raise(systick);
            assert_eq!(pending(), 1, "the interrupt waits while the lock is held");
            *ticks += 1;
            TICKS_HELD.store(false, SeqCst);
        }); // released: the lock first, then the mask; the pending interrupt runs now
        assert!(!masked());
        assert_eq!(pending(), 0);
        assert_eq!(handled(), round);
        // An interrupt raised while no lock is held runs at once.
        raise(systick);
        assert_eq!(handled(), round + 1);
        HANDLED.with(|h| h.set(round));
    }
    assert_eq!(would_deadlock(), 0);
    assert_eq!(
        TICKS.lock(|t| *t),
        300,
        "100 increments in thread mode, 200 in the handler"
    );
}

static PLAIN: SpinLock<u32> = SpinLock::new(0);
static PLAIN_HELD: AtomicBool = AtomicBool::new(false);

fn plain_handler() {
    handler_increments(PLAIN_HELD.load(SeqCst), || *PLAIN.lock() += 1);
}

/// The control: a plain spin lock masks nothing, so the handler runs while thread mode holds
/// the lock, and on hardware would spin forever. The model must catch it.
#[test]
fn control_plain_spin_lock_would_deadlock() {
    let mut guard = PLAIN.lock();
    PLAIN_HELD.store(true, SeqCst);
    assert!(!masked());
    raise(plain_handler);
    assert_eq!(
        would_deadlock(),
        1,
        "the handler ran while its core held the lock"
    );
    *guard += 1;
    PLAIN_HELD.store(false, SeqCst);
}

// ---------------------------------------------------------------------------------------------
// Nesting.
// ---------------------------------------------------------------------------------------------

static OUTER: IrqSpinLock<u32> = IrqSpinLock::new(0);
static INNER: IrqLock<RawTicketLock<Spin>, u32> = IrqLock::with_raw(0);
static INNER_HELD: AtomicBool = AtomicBool::new(false);

fn inner_handler() {
    handler_increments(INNER_HELD.load(SeqCst), || INNER.lock(|i| *i += 1));
}

#[test]
fn nested_locks_restore_in_reverse_order() {
    take_log();
    OUTER.lock(|_| {
        INNER.lock(|_| {
            INNER_HELD.store(true, SeqCst);
            raise(inner_handler);
            DEPTH.with(|d| assert_eq!(d.get(), 2));
            INNER_HELD.store(false, SeqCst);
        });
        assert!(masked(), "the inner release restores 'masked'");
        assert_eq!(pending(), 1, "no interrupt while the outer lock is held");
    });
    assert!(!masked(), "the outer release restores 'enabled'");
    assert_eq!(pending(), 0);
    assert_eq!(would_deadlock(), 0);
    assert_eq!(
        INNER.lock(|i| *i),
        1,
        "the handler ran once, after both locks were released"
    );
    take_log(); // the line above logged its own section
    assert_eq!(DEPTH.with(Cell::get), 0);
}

#[test]
fn nested_log_order() {
    static A: IrqSpinLock<()> = IrqSpinLock::new(());
    static B: IrqSpinLock<()> = IrqSpinLock::new(());
    take_log();
    A.lock(|_| B.lock(|_| ()));
    assert_eq!(
        take_log(),
        [
            Cs::Acquire(true),  // A: interrupts were enabled
            Cs::Acquire(false), // B: already masked
            Cs::Release(false), // B: keep them masked
            Cs::Release(true),  // A: unmask
        ]
    );
}

static BROKEN_OUTER: IrqSpinLock<u32> = IrqSpinLock::new(0);
static BROKEN_INNER: IrqSpinLock<u32> = IrqSpinLock::new(0);
static BROKEN_INNER_HELD: AtomicBool = AtomicBool::new(false);

fn broken_inner_handler() {
    handler_increments(BROKEN_INNER_HELD.load(SeqCst), || {
        BROKEN_INNER.lock(|i| *i += 1)
    });
}

/// What the nesting rule of the `unsafe` guard form prevents (and the closure form makes
/// impossible): releasing the outer lock first unmasks interrupts while the inner lock is
/// still held, and a handler taking the inner lock would deadlock.
#[test]
fn out_of_order_guards_unmask_interrupts_while_the_inner_lock_is_held() {
    // SAFETY: NOT kept, on purpose: `outer` is dropped before `inner`, against the contract of
    // `lock_guard`, to show the consequence. With this file's critical section (a per-thread
    // flag, no cross-core lock, no `CriticalSection` token alive) the only effect is on the
    // modelled interrupt mask, which is what the test observes.
    let (outer, inner) = unsafe { (BROKEN_OUTER.lock_guard(), BROKEN_INNER.lock_guard()) };
    BROKEN_INNER_HELD.store(true, SeqCst);
    raise(broken_inner_handler);
    assert_eq!(pending(), 1);
    drop(outer); // wrong order
    assert!(
        !masked(),
        "the outer state ('enabled') was restored with the inner lock held"
    );
    assert_eq!(
        would_deadlock(),
        1,
        "the handler ran while its core held the inner lock"
    );
    BROKEN_INNER_HELD.store(false, SeqCst);
    drop(inner);
    assert!(
        !masked(),
        "the inner release restores 'masked' only by not unmasking"
    );
}

// ---------------------------------------------------------------------------------------------
// try_lock and lock_until.
// ---------------------------------------------------------------------------------------------

/// Holds `lock` on another thread ("core") until the returned sender is dropped or sent to.
fn hold_elsewhere(lock: &'static IrqSpinLock<u32>) -> mpsc::Sender<()> {
    let (locked_tx, locked_rx) = mpsc::channel();
    let (release_tx, release_rx) = mpsc::channel::<()>();
    thread::spawn(move || {
        lock.lock(|_| {
            locked_tx.send(()).unwrap();
            let _ = release_rx.recv();
        });
    });
    locked_rx.recv().unwrap();
    release_tx
}

#[test]
fn failed_try_lock_releases_its_critical_section() {
    static L: IrqSpinLock<u32> = IrqSpinLock::new(0);
    let release = hold_elsewhere(&L);
    take_log();
    assert_eq!(L.try_lock(|_| ()), None);
    assert!(!masked());
    assert_eq!(take_log(), [Cs::Acquire(true), Cs::Release(true)]);
    drop(release);
    while L.is_locked() {
        thread::yield_now();
    }
    assert_eq!(L.try_lock(|_| masked()), Some(true), "free now, and masks");
    assert!(!masked());
}

static TIMER_TICKS: AtomicU32 = AtomicU32::new(0);

fn timer() {
    TIMER_TICKS.fetch_add(1, SeqCst);
}

/// A deadline counted in timer interrupts expires only if interrupts run while waiting:
/// `lock_until` leaves the critical section between attempts.
#[test]
fn lock_until_lets_interrupts_run_while_waiting() {
    static L: IrqSpinLock<u32> = IrqSpinLock::new(0);
    let release = hold_elsewhere(&L);
    let mut masked_while_polled = false;
    let got = L.lock_until(
        || {
            masked_while_polled |= masked();
            raise(timer); // the hardware timer fires on its own; here, once per poll
            TIMER_TICKS.load(SeqCst) >= 20
        },
        |_| (),
    );
    assert!(got.is_none(), "the other core kept the lock");
    assert!(!masked_while_polled);
    assert_eq!(pending(), 0, "every tick was served while waiting");
    assert!(TIMER_TICKS.load(SeqCst) >= 20);
    drop(release);
    let got = L.lock_until(|| false, |_| masked());
    assert_eq!(
        got,
        Some(true),
        "released by the other core; masks while held"
    );
    assert!(!masked());
}

// ---------------------------------------------------------------------------------------------
// Two cores, each with an interrupt handler, sharing one IrqSpinLock.
// ---------------------------------------------------------------------------------------------

static SHARED: IrqSpinLock<u32> = IrqSpinLock::new(0);

thread_local! {
    static SHARED_HELD_HERE: Cell<bool> = const { Cell::new(false) };
}

fn shared_handler() {
    handler_increments(SHARED_HELD_HERE.with(Cell::get), || {
        SHARED.lock(|s| *s += 1)
    });
}

#[test]
fn two_cores_and_their_interrupts_count_exactly() {
    const N: u32 = if cfg!(miri) { 50 } else { 20_000 };
    let cores: Vec<_> = (0..2)
        .map(|_| {
            thread::spawn(|| {
                for i in 0..N {
                    SHARED.lock(|shared| {
                        SHARED_HELD_HERE.with(|h| h.set(true));
                        if i % 2 == 0 {
                            raise(shared_handler); // pending until the lock is released
                        }
                        *shared += 1;
                        SHARED_HELD_HERE.with(|h| h.set(false));
                    });
                    if i % 2 == 1 {
                        raise(shared_handler); // runs at once, may wait for the other core
                    }
                }
                assert_eq!(pending(), 0);
                assert_eq!(DEPTH.with(Cell::get), 0);
                (handled(), would_deadlock())
            })
        })
        .collect();
    for core in cores {
        let (handled, deadlocks) = core.join().unwrap();
        assert_eq!(handled, N);
        assert_eq!(deadlocks, 0);
    }
    assert_eq!(SHARED.lock(|s| *s), 4 * N);
    let _: &IrqSafe<RawSpinLock> = &IrqSafe::new();
}
