//! `IrqSafe<R>`: a raw lock that also holds a `critical_section` while it is held.
//!
//! Algorithm: Linux's `spin_lock_irqsave`/`spin_unlock_irqrestore` (Love, *Linux Kernel
//! Development*, ch. 10), expressed over the [`critical-section`](https://docs.rs/critical-section)
//! crate so that it works on any chip that has an implementation of it:
//!
//! - **lock**: enter a critical section (on a single-core chip: mask interrupts; on a multicore
//!   chip: mask interrupts and take the chip's cross-core lock), then acquire the inner lock
//!   `R`, then store the critical section's restore state in the `IrqSafe` itself;
//! - **unlock**: read the restore state, release the inner lock, then leave the critical
//!   section with that state (unmask interrupts if they were unmasked before `lock`).
//!
//! Why this order: an interrupt handler that takes the same lock on the same core can only run
//! when interrupts are unmasked, and they are masked for the whole time the inner lock is held,
//! so the handler can never find the lock held by the code it interrupted and spin forever.
//! A plain [`SpinLock`](crate::SpinLock) shared with a handler deadlocks exactly there.
//!
//! Progress and fairness are those of `R`, with one addition: while a core waits for `R` in
//! [`lock`](RawLock::lock), its interrupts are masked (as in Linux). Waiting with interrupts
//! masked is bounded by how long the *other* cores hold the lock; keep critical sections short,
//! and use a spinning `R` ([`RawSpinLock`], a
//! [`RawTicketLock`](crate::RawTicketLock) or [`RawMutex`](crate::RawMutex) with the
//! [`Spin`](crate::Spin) backend): a backend that sleeps cannot sleep inside a critical
//! section. [`lock_until`](RawLock::lock_until) instead takes the critical section per attempt
//! and leaves it between attempts, so interrupts run while it waits (see its documentation).
//!
//! # Nesting
//!
//! Several `IrqSafe` locks may be held at once, but they must be **released in the reverse
//! order of acquisition** (drop the inner guard before the outer one). Each lock keeps the
//! restore state of the critical section *it* entered: the outer lock's says "interrupts were
//! enabled", the inner one's says "they were already masked". Released in reverse order, the
//! inner release keeps interrupts masked and the outer one unmasks them.
//!
//! Released in the wrong order, the outer lock's release unmasks interrupts while the inner
//! lock is still held. An interrupt handler on this core that takes the inner lock then spins
//! forever on a lock its own core holds: the deadlock `IrqSafe` exists to prevent. (The
//! inner release afterwards restores "masked", which on the usual implementations does
//! nothing, so interrupts stay enabled.) The data stays protected either way, because mutual
//! exclusion comes from `R`, not from the critical section; but the `critical-section` crate
//! calls improper nesting a breach of its contract, and an implementation with a cross-core
//! lock may end that lock early. Never rely on it.
//!
//! # Examples
//!
//! A counter shared between thread mode and an interrupt handler, in a `static`:
//!
//! ```
//! # // Firmware gets its critical section from its HAL or from `cortex-m`'s
//! # // `critical-section-single-core` feature; this host example models "interrupts masked"
//! # // with a flag (the tests of this crate enable `critical-section/restore-state-bool`).
//! # use std::sync::atomic::{AtomicBool, Ordering::SeqCst};
//! # static MASKED: AtomicBool = AtomicBool::new(false);
//! # struct HostCs;
//! # critical_section::set_impl!(HostCs);
//! # // SAFETY: a single-threaded example: the flag stands for the interrupt mask.
//! # unsafe impl critical_section::Impl for HostCs {
//! #     unsafe fn acquire() -> bool { !MASKED.swap(true, SeqCst) }
//! #     unsafe fn release(was_enabled: bool) { if was_enabled { MASKED.store(false, SeqCst) } }
//! # }
//! use baresync::IrqSpinLock;
//!
//! static TICKS: IrqSpinLock<u32> = IrqSpinLock::new(0);
//!
//! /// The timer interrupt: it can never find `TICKS` held by the code it interrupted.
//! fn on_systick() {
//!     *TICKS.lock() += 1;
//! }
//!
//! on_systick();
//! let ticks = TICKS.lock(); // interrupts are masked from here...
//! assert_eq!(*ticks, 1);
//! # assert!(MASKED.load(SeqCst));
//! drop(ticks); // ...to here
//! # assert!(!MASKED.load(SeqCst));
//! ```

use crate::raw::{raw_init, RawLock, RawSpinLock};
use crate::{Deadline, Lock};
use core::cell::UnsafeCell;
use core::fmt;
use critical_section::RestoreState;

/// A raw lock `R` that also holds a critical section (interrupts masked on this core) while
/// it is held: the `critical-section` counterpart of Linux's `spin_lock_irqsave`.
///
/// Use it through [`Lock`], usually as [`IrqSpinLock<T>`]; see the [module
/// documentation](self) for the order of operations and the rule for nesting.
///
/// Its size is `R`'s plus the restore state's (1 byte with
/// `critical-section/restore-state-bool`, as `cortex-m` uses), rounded up to alignment.
///
/// # Examples
///
/// A ticket lock whose holder also masks interrupts:
///
/// ```
/// # use std::sync::atomic::{AtomicBool, Ordering::SeqCst};
/// # static MASKED: AtomicBool = AtomicBool::new(false);
/// # struct HostCs;
/// # critical_section::set_impl!(HostCs);
/// # // SAFETY: a single-threaded example: the flag stands for the interrupt mask.
/// # unsafe impl critical_section::Impl for HostCs {
/// #     unsafe fn acquire() -> bool { !MASKED.swap(true, SeqCst) }
/// #     unsafe fn release(was_enabled: bool) { if was_enabled { MASKED.store(false, SeqCst) } }
/// # }
/// use baresync::{IrqSafe, Lock, RawLock, RawTicketLock, Spin};
///
/// static UART_TX: Lock<IrqSafe<RawTicketLock<Spin>>, [u8; 16]> = Lock::new([0; 16]);
///
/// UART_TX.lock()[0] = b'>';
/// assert_eq!(UART_TX.lock()[0], b'>');
///
/// // A failed `try_lock` leaves the critical section it entered.
/// let held = UART_TX.lock();
/// assert!(UART_TX.try_lock().is_none());
/// drop(held);
/// # assert!(!MASKED.load(SeqCst));
/// ```
pub struct IrqSafe<R> {
    inner: R,
    /// The restore state of the critical section entered by the current holder: written by
    /// the holder after it acquired `inner`, read by the holder before it releases `inner`;
    /// [`RestoreState::invalid`] (never passed to `release`) while unlocked.
    restore: UnsafeCell<RestoreState>,
}

/// A test-and-test-and-set spin lock around a `T` whose holder also holds a critical section:
/// the lock to share between thread mode and interrupt handlers.
///
/// # Examples
///
/// ```
/// # use std::sync::atomic::{AtomicBool, Ordering::SeqCst};
/// # static MASKED: AtomicBool = AtomicBool::new(false);
/// # struct HostCs;
/// # critical_section::set_impl!(HostCs);
/// # // SAFETY: a single-threaded example: the flag stands for the interrupt mask.
/// # unsafe impl critical_section::Impl for HostCs {
/// #     unsafe fn acquire() -> bool { !MASKED.swap(true, SeqCst) }
/// #     unsafe fn release(was_enabled: bool) { if was_enabled { MASKED.store(false, SeqCst) } }
/// # }
/// use baresync::IrqSpinLock;
///
/// static RX_BYTES: IrqSpinLock<[u8; 4]> = IrqSpinLock::new([0; 4]);
///
/// fn on_uart_rx(byte: u8) {
///     RX_BYTES.lock().rotate_left(1);
///     RX_BYTES.lock()[3] = byte;
/// }
///
/// on_uart_rx(b'o');
/// on_uart_rx(b'k');
/// assert_eq!(&RX_BYTES.lock()[2..], b"ok");
/// ```
pub type IrqSpinLock<T> = Lock<IrqSafe<RawSpinLock>, T>;

// SAFETY: `restore` is only touched by the holder of `inner` (see the `RawLock` impl), so
// sharing an `IrqSafe` between threads shares `R` (hence `R: Sync`) and hands the restore
// slot from holder to holder under `R`'s mutual exclusion and happens-before.
unsafe impl<R: Sync> Sync for IrqSafe<R> {}
// SAFETY: a `RestoreState` is plain data (a bool or an integer) that means something only to
// the holder; an unlocked `IrqSafe` carries no state tied to a core, and a locked one cannot be
// moved (it is borrowed by its guard).
unsafe impl<R: Send> Send for IrqSafe<R> {}

impl<R: RawLock> IrqSafe<R> {
    crate::sync::const_fn! {
        /// A new, unlocked lock; usable in a `static`.
        ///
        /// # Examples
        ///
        /// ```
        /// use baresync::{IrqSafe, RawLock, RawSpinLock};
        ///
        /// static RAW: IrqSafe<RawSpinLock> = IrqSafe::new();
        /// assert!(!RAW.is_locked());
        /// ```
        #[inline]
        pub const fn new() -> Self {
            IrqSafe { inner: raw_init!(R), restore: UnsafeCell::new(RestoreState::invalid()) }
        }
    }

    /// The inner lock, e.g. to check [`is_locked`](RawLock::is_locked) on it.
    ///
    /// # Examples
    ///
    /// ```
    /// use baresync::{IrqSafe, RawLock, RawSpinLock};
    ///
    /// static RAW: IrqSafe<RawSpinLock> = IrqSafe::new();
    /// assert!(!RAW.inner().is_locked());
    /// ```
    #[inline]
    pub fn inner(&self) -> &R {
        &self.inner
    }

    /// Stores the restore state of the critical section this context entered.
    ///
    /// # Safety
    ///
    /// The caller must have just acquired `self.inner`, with `state` from the
    /// `critical_section::acquire` it made before.
    #[inline]
    unsafe fn keep(&self, state: RestoreState) {
        // SAFETY: only the holder of `inner` touches `restore`, and the caller is the holder.
        // The previous holder's write is ordered before ours by `R`'s acquire, which
        // synchronizes with its release (the `RawLock` contract).
        unsafe { *self.restore.get() = state };
    }
}

impl<R: RawLock> Default for IrqSafe<R> {
    fn default() -> Self {
        Self::new()
    }
}

impl<R: RawLock> fmt::Debug for IrqSafe<R> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("IrqSafe")
            .field("locked", &self.inner.is_locked())
            .finish_non_exhaustive()
    }
}

// SAFETY: every acquisition goes through `R`, which provides mutual exclusion and the
// release-to-acquire happens-before (`R: RawLock`); the critical section only adds interrupt
// masking on top. The restore slot is written only by the holder after acquiring `R` and read
// by it before releasing `R`.
unsafe impl<R: RawLock> RawLock for IrqSafe<R> {
    crate::raw::impl_init!();

    /// Enters a critical section, then acquires `R` (waiting for it with interrupts masked).
    #[inline]
    fn lock(&self) {
        // SAFETY: paired with exactly one `release` in `unlock`, in the holder's context, with
        // this state (kept in `restore` meanwhile). Nesting is the caller's rule to keep (see
        // the module documentation).
        let state = unsafe { critical_section::acquire() };
        // ORDERING: `R::lock` acquires (pairs with `R::unlock`'s release); the critical
        // section adds its own acquire on the implementation's shared location.
        self.inner.lock();
        // SAFETY: `inner` was just acquired, with `state` from the `acquire` above.
        unsafe { self.keep(state) };
    }

    /// Enters a critical section and tries `R` once; on failure leaves the critical section
    /// again before returning `false`, so no interrupts stay masked.
    #[inline]
    fn try_lock(&self) -> bool {
        // SAFETY: paired with exactly one `release`: below on failure, in `unlock` on success.
        let state = unsafe { critical_section::acquire() };
        // ORDERING: `R::try_lock` acquires on success (pairs with `R::unlock`'s release).
        if self.inner.try_lock() {
            // SAFETY: `inner` was just acquired, with `state` from the `acquire` above.
            unsafe { self.keep(state) };
            true
        } else {
            // SAFETY: releases the critical section entered above, with its own state; nothing
            // was acquired inside it, so nesting is intact.
            unsafe { critical_section::release(state) };
            false
        }
    }

    /// Tries `R` once per attempt, each attempt inside its own critical section, and leaves
    /// the critical section between attempts.
    ///
    /// Waiting this way lets interrupts run while this core waits: a deadline driven by a
    /// timer interrupt (a tick counter) keeps advancing, which it would not if the whole wait
    /// ran with interrupts masked, and interrupt latency stays bounded by one attempt rather
    /// than by the other core's critical section. The price: `R`'s own waiting (a ticket
    /// lock's queue, a mutex's sleep) is not used, so a waiter may be overtaken by `lock`
    /// callers; [`lock`](RawLock::lock) is the fair (for a fair `R`) and faster way to wait
    /// when waiting with interrupts masked is acceptable.
    fn lock_until(&self, deadline: &mut impl Deadline) -> bool {
        // Each `try_lock` takes and leaves its own critical section, so interrupts are
        // unmasked between attempts (unless the caller masked them).
        crate::raw::poll_try_lock(self, deadline)
    }

    /// Releases `R`, then leaves the critical section with the state `lock` kept.
    ///
    /// # Safety
    ///
    /// As [`RawLock::unlock`]: the lock must be held by the caller's context, which for
    /// `IrqSafe` also means on the same core (the critical section belongs to it); and
    /// `IrqSafe` locks held together must be released in reverse order (see the module
    /// documentation).
    #[inline]
    unsafe fn unlock(&self) {
        // SAFETY: the caller holds `inner` (this function's contract), so it is the only
        // context touching `restore`. Read before releasing `inner`: after that, the next
        // holder (on another core) overwrites it.
        let state = unsafe { *self.restore.get() };
        // SAFETY: held by the caller's context (this function's contract).
        // ORDERING: `R::unlock` releases (pairs with the next holder's acquire), publishing the
        // critical section's writes and our read of `restore` before the next write to it.
        unsafe { self.inner.unlock() };
        // SAFETY: `state` came from the `acquire` made when this context locked (kept in
        // `restore` by `lock`/`try_lock`); leaving the critical section after `inner` is
        // released means no interrupt can run on this core while `inner` is held.
        unsafe { critical_section::release(state) };
    }

    #[inline]
    fn is_locked(&self) -> bool {
        self.inner.is_locked()
    }
}

#[cfg(all(feature = "lock_api", not(baresync_loom)))]
crate::raw::impl_lock_api!([R: RawLock] crate::irq_safe::IrqSafe<R>);

#[cfg(all(test, not(baresync_loom)))]
mod tests {
    //! The unit test's own critical section: a per-thread "interrupts masked" flag with a log.
    //! (This needs `critical-section/restore-state-bool`, enabled by the dev-dependency.)
    use super::*;
    use core::cell::{Cell, RefCell};
    use std::vec::Vec;

    std::thread_local! {
        static MASKED: Cell<bool> = const { Cell::new(false) };
        static LOG: RefCell<Vec<(&'static str, bool)>> = const { RefCell::new(Vec::new()) };
        static WATCHING: Cell<bool> = const { Cell::new(false) };
        static RELEASED_WHILE_LOCKED: Cell<Option<bool>> = const { Cell::new(None) };
    }

    struct TestCs;
    critical_section::set_impl!(TestCs);

    // SAFETY: each thread has its own flag, so a section on one thread never lets another
    // thread's code in under it; the unit tests use only one thread per lock.
    unsafe impl critical_section::Impl for TestCs {
        unsafe fn acquire() -> bool {
            let was_enabled = !MASKED.with(|m| m.replace(true));
            LOG.with(|l| l.borrow_mut().push(("acquire", was_enabled)));
            was_enabled
        }

        unsafe fn release(was_enabled: bool) {
            LOG.with(|l| l.borrow_mut().push(("release", was_enabled)));
            if WATCHING.with(Cell::get) {
                RELEASED_WHILE_LOCKED.with(|r| r.set(Some(WATCHED.is_locked())));
            }
            if was_enabled {
                MASKED.with(|m| m.set(false));
            }
        }
    }

    fn take_log() -> Vec<(&'static str, bool)> {
        LOG.with(|l| core::mem::take(&mut *l.borrow_mut()))
    }

    fn masked() -> bool {
        MASKED.with(Cell::get)
    }

    #[test]
    fn restores_in_reverse_order() {
        let outer: Lock<IrqSafe<RawSpinLock>, u8> = Lock::new(0);
        let inner: Lock<IrqSafe<RawSpinLock>, u8> = Lock::new(0);
        take_log();
        let a = outer.lock();
        let b = inner.lock();
        assert!(masked());
        drop(b);
        assert!(masked(), "releasing the inner lock keeps interrupts masked");
        drop(a);
        assert!(!masked(), "releasing the outer lock unmasks them");
        assert_eq!(
            take_log(),
            [
                ("acquire", true),
                ("acquire", false),
                ("release", false),
                ("release", true)
            ]
        );
    }

    #[test]
    fn failed_try_lock_leaves_the_critical_section() {
        let l: IrqSafe<RawSpinLock> = IrqSafe::new();
        l.inner().lock(); // held by "another core"
        take_log();
        assert!(!l.try_lock());
        assert!(!masked());
        assert_eq!(take_log(), [("acquire", true), ("release", true)]);
        // SAFETY: acquired on `inner` just above.
        unsafe { l.inner().unlock() };
    }

    /// Watched by the critical section's `release` when `WATCHING` is set on a thread.
    static WATCHED: IrqSafe<RawSpinLock> = IrqSafe::new();

    #[test]
    fn inner_lock_is_released_before_interrupts_are_unmasked() {
        WATCHED.lock();
        assert!(masked() && WATCHED.is_locked());
        WATCHING.with(|w| w.set(true));
        // SAFETY: held by this thread, taken just above.
        unsafe { WATCHED.unlock() };
        WATCHING.with(|w| w.set(false));
        assert!(!masked());
        assert_eq!(
            RELEASED_WHILE_LOCKED.with(Cell::get),
            Some(false),
            "the critical section was left with the inner lock still held"
        );
    }

    #[test]
    fn lock_until_unmasks_between_attempts() {
        let l: IrqSafe<RawSpinLock> = IrqSafe::new();
        l.inner().lock();
        let mut polls = 0;
        let mut masked_during_poll = false;
        assert!(!l.lock_until(&mut || {
            masked_during_poll |= masked();
            polls += 1;
            polls > 5
        }));
        assert!(
            !masked_during_poll,
            "the deadline is polled with interrupts unmasked"
        );
        assert!(!masked());
        // SAFETY: acquired on `inner` above.
        unsafe { l.inner().unlock() };
        assert!(l.lock_until(&mut || true));
        assert!(masked());
        // SAFETY: acquired by `lock_until` just above.
        unsafe { l.unlock() };
        assert!(!masked());
    }
}
