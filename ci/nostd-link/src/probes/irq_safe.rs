//! `IrqSpinLock` and a raw `IrqSafe<RawTicketLock>` in statics: lock, try_lock, lock_until.
//! Their critical section is the binary's own (src/rt/): interrupts masked on the one core.

use super::poll_budget;
use baresync::{IrqSafe, IrqSpinLock, RawLock, RawTicketLock, Spin};
use core::hint::black_box;

static IRQ_SPIN_LOCK: IrqSpinLock<u32> = IrqSpinLock::new(0);
static RAW_IRQ_TICKET_LOCK: IrqSafe<RawTicketLock<Spin>> = IrqSafe::new();

#[no_mangle]
#[inline(never)]
pub fn probe_irqspinlock_lock() {
    *IRQ_SPIN_LOCK.lock() += 1;
}

#[no_mangle]
#[inline(never)]
pub fn probe_irqspinlock_try_lock() -> bool {
    IRQ_SPIN_LOCK.try_lock().map(|mut g| *g += 1).is_some()
}

#[no_mangle]
#[inline(never)]
pub fn probe_irqspinlock_lock_until() -> bool {
    IRQ_SPIN_LOCK
        .lock_until(poll_budget(100))
        .map(|mut g| *g += 1)
        .is_some()
}

#[no_mangle]
#[inline(never)]
pub fn probe_rawirqticketlock_lock() {
    RAW_IRQ_TICKET_LOCK.lock();
    black_box(RAW_IRQ_TICKET_LOCK.is_locked());
    // SAFETY: acquired by `lock` just above, in this context.
    unsafe { RAW_IRQ_TICKET_LOCK.unlock() };
}

/// Calls every interrupt-safe lock probe.
pub fn run() {
    probe_irqspinlock_lock();
    black_box(probe_irqspinlock_try_lock());
    black_box(probe_irqspinlock_lock_until());
    probe_rawirqticketlock_lock();
}
