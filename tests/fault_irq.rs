//! Fault injection and the nesting rule for `IrqLock`, against a model of critical-section's
//! `std` implementation.
//!
//! This file's critical section is built like the one the `critical-section` crate ships
//! behind its `std` feature (which cannot be enabled here: the other test binaries bring
//! their own implementations): one process-wide mutex, re-entrant per thread, so a critical
//! section on one thread excludes every other thread, as a multicore chip's cross-core lock
//! does. A `critical_section::Mutex<Cell<_>>` is then shared data whose only protection is
//! that nesting rule, and Miri checks every access to it for data races. The model also
//! counts, per thread, the sections entered and left and the current depth, so that every test
//! can assert that each section entered was left exactly once.
//!
//! Before the fix, `IrqSpinLock::lock` returned a guard that safe code could take outside
//! `critical_section::with` and drop inside it, ending the process-wide section while `with`'s
//! token was alive: `old_pattern_no_longer_compiles` (trybuild, `tests/ui/irq/`) keeps that
//! from coming back, and `closure_form_keeps_critical_section_mutex_race_free` is the
//! two-thread access that raced then (lost updates natively, a data race under Miri).
#![cfg(feature = "critical-section")]

mod fault_support;
use fault_support::*;

use baresync::{IrqLock, IrqSpinLock, RawTicketLock, Spin};
use std::cell::{Cell, RefCell};
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::atomic::{AtomicUsize, Ordering::Relaxed};
use std::sync::{Mutex, MutexGuard};
use std::thread;

// ---------------------------------------------------------------------------------------------
// The model of critical-section's `std` implementation, with per-thread counters.
// ---------------------------------------------------------------------------------------------

/// The one process-wide lock every outermost critical section takes.
static GLOBAL: Mutex<()> = Mutex::new(());

thread_local! {
    /// The guard of `GLOBAL` while this thread is in a critical section.
    static HELD: RefCell<Option<MutexGuard<'static, ()>>> = const { RefCell::new(None) };
    static ENTERED: Cell<u32> = const { Cell::new(0) };
    static LEFT: Cell<u32> = const { Cell::new(0) };
    static DEPTH: Cell<u32> = const { Cell::new(0) };
}

struct StdModelCs;
critical_section::set_impl!(StdModelCs);

// SAFETY: the outermost section on a thread holds `GLOBAL` until it is left, so no two threads
// are ever inside a critical section at once (the contract for a multicore implementation);
// nested sections on the same thread return `true` ("nested") and leave `GLOBAL` alone, as
// critical-section's `std` implementation does. A panic inside `GLOBAL.lock()` cannot poison
// it (nothing runs while it is held but the sections themselves), and a poisoned guard is
// taken anyway.
unsafe impl critical_section::Impl for StdModelCs {
    unsafe fn acquire() -> bool {
        ENTERED.with(|e| e.set(e.get() + 1));
        DEPTH.with(|d| d.set(d.get() + 1));
        if HELD.with(|h| h.borrow().is_some()) {
            return true;
        }
        let guard = GLOBAL.lock().unwrap_or_else(|e| e.into_inner());
        HELD.with(|h| *h.borrow_mut() = Some(guard));
        false
    }

    unsafe fn release(nested: bool) {
        LEFT.with(|l| l.set(l.get() + 1));
        DEPTH.with(|d| d.set(d.get() - 1));
        if !nested {
            HELD.with(|h| drop(h.borrow_mut().take()));
        }
    }
}

/// This thread's (sections entered, sections left, current depth).
fn sections() -> (u32, u32, u32) {
    (
        ENTERED.with(Cell::get),
        LEFT.with(Cell::get),
        DEPTH.with(Cell::get),
    )
}

/// Resets this thread's counters (the depth must already be 0).
fn reset_sections() {
    assert_eq!(DEPTH.with(Cell::get), 0, "a section was left open");
    ENTERED.with(|e| e.set(0));
    LEFT.with(|l| l.set(0));
}

/// A value that counts its live instances, to check nothing is dropped twice or leaked (only
/// `closure_panic_releases_everything` makes them).
static LIVE: AtomicUsize = AtomicUsize::new(0);

struct Counted;

impl Counted {
    fn new() -> Self {
        LIVE.fetch_add(1, Relaxed);
        Counted
    }
}

impl Drop for Counted {
    fn drop(&mut self) {
        LIVE.fetch_sub(1, Relaxed);
    }
}

// ---------------------------------------------------------------------------------------------
// The nesting rule: critical_section::Mutex stays race-free.
// ---------------------------------------------------------------------------------------------

static LOCK: IrqSpinLock<u32> = IrqSpinLock::new(0);
static COUNT: critical_section::Mutex<Cell<u32>> = critical_section::Mutex::new(Cell::new(0));

/// A read-modify-write of `COUNT` with a yield in the middle: any other thread inside a
/// critical section at the same time loses an update (natively) or races (Miri).
fn bump_count(cs: critical_section::CriticalSection<'_>) {
    let count = COUNT.borrow(cs);
    let seen = count.get();
    thread::yield_now();
    count.set(seen + 1);
}

/// The closure form cannot end a critical section early: `COUNT`, protected only by the
/// critical section, is updated by two threads with no update lost and, under Miri, no data
/// race, whether `critical_section::with` is entered inside the lock or the lock inside it.
#[test]
fn closure_form_keeps_critical_section_mutex_race_free() {
    const N: u32 = if cfg!(miri) { 8 } else { 500 };
    let locker = thread::spawn(|| {
        for i in 0..N {
            if i % 2 == 0 {
                LOCK.lock(|v| {
                    *v += 1;
                    critical_section::with(bump_count);
                });
            } else {
                critical_section::with(|cs| {
                    LOCK.lock(|v| *v += 1);
                    bump_count(cs); // still inside `with`'s section
                });
            }
        }
        sections()
    });
    for _ in 0..N {
        critical_section::with(bump_count);
    }
    let (entered, left, depth) = locker.join().unwrap();
    assert_eq!((entered, depth), (left, 0), "every section left once");
    assert_eq!(
        entered,
        2 * N,
        "one for the lock, one for `with`, per round"
    );
    assert_eq!(critical_section::with(|cs| COUNT.borrow(cs).get()), 2 * N);
    assert_eq!(LOCK.lock(|v| *v), N);
}

/// The old pattern (a guard taken outside `critical_section::with` and dropped inside it) must
/// not compile in safe code: neither through `Lock<IrqSafe<_>, _>` (no longer a `RawLock`)
/// nor through `IrqLock` (its guard is `unsafe` to get, and its closure cannot leak `&mut T`).
#[test]
#[cfg_attr(miri, ignore = "trybuild runs the compiler")]
fn old_pattern_no_longer_compiles() {
    trybuild::TestCases::new().compile_fail("tests/ui/irq/*.rs");
}

// ---------------------------------------------------------------------------------------------
// Fault injection: the user's closure and the user's deadline panic.
// ---------------------------------------------------------------------------------------------

/// Call site: `lock_until`'s deadline. It is polled between attempts, outside the critical
/// section; a panic there must leave no section open and the lock not held by this call. The
/// lock is held by this thread's own outer `lock` meanwhile (so every attempt fails without
/// waiting for another thread), and the unwind then also releases that.
#[test]
fn deadline_panic_in_lock_until_leaves_nothing_held() {
    static L: IrqLock<RawTicketLock<Spin>, u32> = IrqLock::with_raw(0);
    for k in [1, 3] {
        reset_sections();
        let ran = Cell::new(false);
        let unwound = catch_unwind(AssertUnwindSafe(|| {
            L.lock(|_| L.lock_until(panics_on_call(k), |_| ran.set(true)))
        }));
        assert!(unwound.is_err(), "the deadline's panic propagates");
        assert!(
            !ran.get(),
            "the closure never ran: the lock was never acquired"
        );
        assert!(
            !L.is_locked(),
            "neither the attempts nor the outer lock hold it"
        );
        let (entered, left, depth) = sections();
        assert_eq!(depth, 0);
        assert_eq!(entered, left, "each section left exactly once");
        assert_eq!(
            entered,
            1 + k,
            "the outer lock's section, then one per attempt"
        );
        assert_eq!(L.try_lock(|v| *v += 1), Some(()), "the lock still works");
    }
    assert_eq!(L.lock(|v| *v), 2);
}

/// Call site: the closure of `lock`, `try_lock` and `lock_until`, alone and inside a
/// `critical_section::with` it entered. The unwind leaves every section once, releases the
/// lock, drops nothing twice and leaks nothing; the lock works afterwards.
#[test]
fn closure_panic_releases_everything() {
    type Op = fn(&IrqSpinLock<Vec<Counted>>, fn(&mut Vec<Counted>));
    let ops: [(&str, u32, Op); 4] = [
        ("lock", 1, |l, f| l.lock(f)),
        ("try_lock", 1, |l, f| l.try_lock(f).unwrap_or(())),
        ("lock_until", 1, |l, f| {
            l.lock_until(|| false, f).unwrap_or(())
        }),
        ("lock inside with", 2, |l, f| {
            critical_section::with(|_| l.lock(f));
        }),
    ];
    for (name, sections_per_call, op) in ops {
        for inner_with in [false, true] {
            let lock: IrqSpinLock<Vec<Counted>> = IrqLock::new(vec![Counted::new()]);
            reset_sections();
            let f: fn(&mut Vec<Counted>) = if inner_with {
                |v| {
                    v.push(Counted::new());
                    critical_section::with(|_| panic!("injected"));
                }
            } else {
                |v| {
                    v.push(Counted::new());
                    panic!("injected");
                }
            };
            let unwound = catch_unwind(AssertUnwindSafe(|| op(&lock, f)));
            assert!(unwound.is_err(), "{name}: the panic propagates");
            assert!(!lock.is_locked(), "{name}: released");
            let (entered, left, depth) = sections();
            assert_eq!(depth, 0, "{name}: no section left open");
            assert_eq!(entered, left, "{name}: each section left once");
            assert_eq!(entered, sections_per_call + u32::from(inner_with), "{name}");
            assert_eq!(lock.lock(|v| v.len()), 2, "{name}: usable, the push kept");
            assert_eq!(
                LIVE.load(Relaxed),
                2,
                "{name}: nothing dropped early or twice"
            );
            drop(lock);
            assert_eq!(LIVE.load(Relaxed), 0, "{name}: nothing leaked");
        }
    }
}
