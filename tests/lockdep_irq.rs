//! The lock-order checker's interrupt check (features `lockdep` and `critical-section`): a
//! lock taken inside an `IrqLock` and elsewhere with interrupts enabled is reported.
#![cfg(all(feature = "lockdep", feature = "critical-section", feature = "std"))]

use baresync::lockdep::{self, Report};
use baresync::{IrqSpinLock, SpinLock};
use std::cell::{Cell, RefCell};

std::thread_local! {
    static MASKED: Cell<bool> = const { Cell::new(false) };
    static REPORTS: RefCell<Vec<String>> = const { RefCell::new(Vec::new()) };
}

/// A core's interrupt mask, per thread (as in tests/irq_safe.rs).
struct ModelCs;
critical_section::set_impl!(ModelCs);

// SAFETY: a section masks the calling thread's simulated interrupts until the matching
// release, and nested sections restore the outer state: the contract for a per-core mask.
unsafe impl critical_section::Impl for ModelCs {
    unsafe fn acquire() -> bool {
        !MASKED.with(|m| m.replace(true))
    }

    unsafe fn release(restore_enabled: bool) {
        if restore_enabled {
            MASKED.with(|m| m.set(false));
        }
    }
}

fn record(report: &Report<'_>) {
    REPORTS.with(|r| r.borrow_mut().push(report.to_string()));
}

fn take_reports() -> Vec<String> {
    lockdep::set_handler(record);
    REPORTS.with(|r| std::mem::take(&mut *r.borrow_mut()))
}

#[test]
fn a_lock_taken_inside_and_outside_an_irq_lock_is_reported() {
    take_reports();
    static DEVICE: IrqSpinLock<u32> = IrqSpinLock::new(0);
    static STATS: SpinLock<u32> = SpinLock::new(0);
    // As an interrupt handler would: the IrqLock, then the plain lock under it.
    DEVICE.lock(|d| {
        *d += 1;
        *STATS.lock() += 1;
    });
    assert!(take_reports().is_empty());
    // Thread mode, interrupts enabled: the handler above could interrupt this and spin.
    let line = line!() + 1;
    *STATS.lock() += 1;
    let reports = take_reports();
    assert_eq!(reports.len(), 1, "{reports:?}");
    assert!(reports[0].contains("IrqLock"), "{}", reports[0]);
    assert!(
        reports[0].contains(&format!("lockdep_irq.rs:{line}:")),
        "{}",
        reports[0]
    );
    // Once per class.
    *STATS.lock() += 1;
    assert!(take_reports().is_empty());
}

#[test]
fn a_lock_always_taken_under_an_irq_lock_is_not_reported() {
    take_reports();
    static TIMER: IrqSpinLock<u32> = IrqSpinLock::new(0);
    static TICKS: SpinLock<u32> = SpinLock::new(0);
    for _ in 0..3 {
        TIMER.lock(|_| *TICKS.lock() += 1);
    }
    assert!(take_reports().is_empty());
}
