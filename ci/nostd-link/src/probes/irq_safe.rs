//! `IrqSpinLock`, an `IrqLock<RawTicketLock>` and a raw `IrqSafe<RawTicketLock>` in statics:
//! lock, try_lock, lock_until (closure-scoped), the `unsafe` guard form and the raw calls.
//! Their critical section is the binary's own (src/rt/): interrupts masked on the one core.

use super::poll_budget;
use baresync::{IrqLock, IrqSafe, IrqSpinLock, RawTicketLock, Spin};
use core::hint::black_box;

static IRQ_SPIN_LOCK: IrqSpinLock<u32> = IrqSpinLock::new(0);
static IRQ_TICKET_LOCK: IrqLock<RawTicketLock<Spin>, u32> = IrqLock::with_raw(0);
static RAW_IRQ_TICKET_LOCK: IrqSafe<RawTicketLock<Spin>> = IrqSafe::with_raw();

#[no_mangle]
#[inline(never)]
pub fn probe_irqspinlock_lock() {
    IRQ_SPIN_LOCK.lock(|v| *v += 1);
}

#[no_mangle]
#[inline(never)]
pub fn probe_irqspinlock_try_lock() -> bool {
    IRQ_SPIN_LOCK.try_lock(|v| *v += 1).is_some()
}

#[no_mangle]
#[inline(never)]
pub fn probe_irqspinlock_lock_until() -> bool {
    IRQ_SPIN_LOCK
        .lock_until(poll_budget(100), |v| *v += 1)
        .is_some()
}

#[no_mangle]
#[inline(never)]
pub fn probe_irqticketlock_lock_guard() {
    // SAFETY: the guard is dropped at the end of this block; no critical section is entered or
    // left while it lives.
    unsafe {
        let mut guard = IRQ_TICKET_LOCK.lock_guard();
        *guard += 1;
    }
}

#[no_mangle]
#[inline(never)]
pub fn probe_rawirqticketlock_lock() {
    // SAFETY: unlocked just below, with no critical section entered or left in between.
    unsafe { RAW_IRQ_TICKET_LOCK.lock() };
    black_box(RAW_IRQ_TICKET_LOCK.is_locked());
    // SAFETY: acquired by `lock` just above, in this context.
    unsafe { RAW_IRQ_TICKET_LOCK.unlock() };
}

/// Calls every interrupt-safe lock probe.
pub fn run() {
    probe_irqspinlock_lock();
    black_box(probe_irqspinlock_try_lock());
    black_box(probe_irqspinlock_lock_until());
    probe_irqticketlock_lock_guard();
    probe_rawirqticketlock_lock();
}
