//! `ReentrantLock` in a static, with a bare-metal `ThreadIdentity`: lock (twice, nested),
//! try_lock, lock_until.

use super::poll_budget;
use baresync::{ReentrantLock, Spin, ThreadIdentity};
use core::cell::Cell;
use core::hint::black_box;
use core::num::NonZeroUsize;

/// The execution context as an id, for a single-core chip.
///
/// On Cortex-M: the active exception number (IPSR) plus one, so thread mode is 1 and every
/// exception handler, which preempts thread mode and lower-priority handlers, has its own id;
/// an exception cannot preempt itself, so no two live contexts share one. On RISC-V: this
/// binary runs on hart 0 only and never enables interrupts, so there is one context; its id is
/// the hart id plus one (a firmware with interrupt handlers would derive the id from `mcause`
/// while in a handler, as the ARM one does from IPSR).
pub struct ContextId;

// SAFETY: see the type's documentation: ids are distinct for contexts that can be live at the
// same time and stable while a context runs (an exception number does not change during its
// handler); an id is reused only by a later activation of the same handler, after the earlier
// one returned, which happens-before on the one core.
unsafe impl ThreadIdentity for ContextId {
    #[inline]
    fn current() -> NonZeroUsize {
        let raw: usize;
        #[cfg(target_arch = "arm")]
        // SAFETY: reading IPSR has no side effects.
        unsafe {
            core::arch::asm!("mrs {}, IPSR", out(reg) raw, options(nomem, nostack, preserves_flags));
        }
        #[cfg(any(target_arch = "riscv32", target_arch = "riscv64"))]
        // SAFETY: reading mhartid has no side effects.
        unsafe {
            core::arch::asm!("csrr {}, mhartid", out(reg) raw, options(nomem, nostack));
        }
        // The exception number is at most 9 bits and the hart id small: `+ 1` cannot wrap.
        NonZeroUsize::new((raw & 0x1ff) + 1).unwrap_or(NonZeroUsize::MIN)
    }
}

static RLOCK: ReentrantLock<Cell<u32>, ContextId, Spin> =
    ReentrantLock::with_identity(Cell::new(0));

#[no_mangle]
#[inline(never)]
pub fn probe_reentrantlock_lock() {
    let outer = RLOCK.lock();
    let inner = RLOCK.lock();
    inner.set(outer.get() + 1);
}

#[no_mangle]
#[inline(never)]
pub fn probe_reentrantlock_try_lock() -> bool {
    RLOCK.try_lock().map(|g| g.set(g.get() + 1)).is_some()
}

#[no_mangle]
#[inline(never)]
pub fn probe_reentrantlock_lock_until() -> bool {
    RLOCK
        .lock_until(poll_budget(100))
        .map(|g| g.set(g.get() + 1))
        .is_some()
}

/// Calls every reentrant-lock probe.
pub fn run() {
    probe_reentrantlock_lock();
    black_box(probe_reentrantlock_try_lock());
    black_box(probe_reentrantlock_lock_until());
}
