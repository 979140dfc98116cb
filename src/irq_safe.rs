//! `IrqLock<R, T>`: a lock around a `T` whose holder also holds a `critical_section`, used
//! through a closure; and `IrqSafe<R>`, the raw building block under it.
//!
//! Algorithm: Linux's `spin_lock_irqsave`/`spin_unlock_irqrestore` (Love, *Linux Kernel
//! Development*, ch. 10), expressed over the [`critical-section`](https://docs.rs/critical-section)
//! crate so that it works on any chip that has an implementation of it:
//!
//! - **lock**: enter a critical section (on a single-core chip: mask interrupts; on a multicore
//!   chip: mask interrupts and take the chip's cross-core lock), then acquire the inner lock
//!   `R`, then store the critical section's restore state in the lock itself;
//! - **unlock**: read the restore state, release the inner lock, then leave the critical
//!   section with that state (unmask interrupts if they were unmasked before `lock`).
//!
//! Why this order: an interrupt handler that takes the same lock on the same core can only run
//! when interrupts are unmasked, and they are masked for the whole time the inner lock is held,
//! so the handler can never find the lock held by the code it interrupted and spin forever.
//! A plain [`SpinLock`](crate::SpinLock) shared with a handler deadlocks exactly there.
//!
//! Progress and fairness are those of `R`, with one addition: while a core waits for `R` in
//! [`lock`](IrqLock::lock), its interrupts are masked (as in Linux). Waiting with interrupts
//! masked is bounded by how long the *other* cores hold the lock; keep critical sections short,
//! and use a spinning `R` ([`RawSpinLock`], a
//! [`RawTicketLock`](crate::RawTicketLock) or [`RawMutex`](crate::RawMutex) with the
//! [`Spin`](crate::Spin) backend): a backend that sleeps cannot sleep inside a critical
//! section. [`lock_until`](IrqLock::lock_until) instead takes the critical section per attempt
//! and leaves it between attempts, so interrupts run while it waits (see its documentation).
//!
//! # Nesting: why the lock is used through a closure
//!
//! `critical_section::acquire` and `release` must nest last-in-first-out: the critical section
//! entered last is left first. Each lock keeps the restore state of the critical section *it*
//! entered, so a lock released out of that order restores an outer state while an inner
//! critical section is still open. Two things then break:
//!
//! - **Data races.** A lock taken outside `critical_section::with` and released inside it ends
//!   the *outer* critical section (on a multicore chip: releases the cross-core lock; with
//!   critical-section's `std` implementation: unlocks its process-wide mutex) while `with`'s
//!   `CriticalSection` token is still alive. Another core or thread then enters a critical
//!   section too, and both access the same `critical_section::Mutex<Cell<_>>`: a data race,
//!   undefined behaviour, in safe code. (The guard-based API before `IrqLock` allowed exactly
//!   this; `tests/fault_irq.rs` checks it no longer compiles.)
//! - **Deadlock.** Released outer-first, two nested locks unmask interrupts while the inner one
//!   is still held; a handler on this core that takes the inner lock spins forever.
//!
//! A guard that safe code may drop at any time cannot keep that order, so the safe API is
//! closure-scoped: [`IrqLock::lock`] runs `f(&mut T)` between acquisition and release, and
//! anything `f` enters (another `IrqLock`, `critical_section::with`) is left before `f`
//! returns, so every section nests inside the lock's by construction. A panic in `f` releases
//! the inner lock, then the critical section, on the way out, and leaves the lock usable. The
//! guard form, [`IrqLock::lock_guard`], and the raw [`IrqSafe`] operations are `unsafe`: their
//! caller promises the order.
//!
//! Locking the same `IrqLock` again inside `f` deadlocks with a spinning `R`: the raw lock
//! does not know its owner, and checking would cost every acquisition. Likewise a handler that
//! the critical section does not mask (the NMI, a fault handler) must never take the lock.
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
//!     TICKS.lock(|ticks| *ticks += 1);
//! }
//!
//! on_systick();
//! let ticks = TICKS.lock(|ticks| {
//!     // interrupts are masked in here
//! #   assert!(MASKED.load(SeqCst));
//!     *ticks
//! });
//! assert_eq!(ticks, 1);
//! # assert!(!MASKED.load(SeqCst));
//! ```

use crate::raw::{raw_init, RawLock, RawSpinLock};
use crate::Deadline;
use core::cell::UnsafeCell;
use core::fmt;
use core::marker::PhantomData;
use core::ops::{Deref, DerefMut};
use critical_section::RestoreState;

/// A raw lock `R` that also holds a critical section (interrupts masked on this core) while
/// it is held: the `critical-section` counterpart of Linux's `spin_lock_irqsave`, with no data
/// attached.
///
/// Needs feature `critical-section`.
///
/// The building block of [`IrqLock`], which is what to use. Its acquiring operations are
/// `unsafe` because the critical section they enter must be left in last-in-first-out order
/// with every other critical section (see the [module documentation](self)); for the same
/// reason it does not implement [`RawLock`], so [`Lock`](crate::Lock) cannot hand out guards
/// for it that safe code could drop in any order.
///
/// Its size is `R`'s plus the restore state's (1 byte with
/// `critical-section/restore-state-bool`, as `cortex-m` uses), rounded up to alignment.
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
/// use baresync::{IrqSafe, RawTicketLock, Spin};
///
/// static RAW: IrqSafe<RawTicketLock<Spin>> = IrqSafe::with_raw();
///
/// // SAFETY: unlocked below, with no other critical section entered or left in between.
/// unsafe { RAW.lock() };
/// assert!(RAW.is_locked());
/// # assert!(MASKED.load(SeqCst));
/// // SAFETY: locked just above by this context, on this core.
/// unsafe { RAW.unlock() };
/// assert!(!RAW.is_locked());
/// # assert!(!MASKED.load(SeqCst));
/// ```
#[cfg_attr(docsrs, doc(cfg(feature = "critical-section")))]
pub struct IrqSafe<R> {
    inner: R,
    /// The restore state of the critical section entered by the current holder: written by
    /// the holder after it acquired `inner`, read by the holder before it releases `inner`;
    /// [`RestoreState::invalid`] until first locked, then stale (never read) while unlocked.
    restore: UnsafeCell<RestoreState>,
}

// SAFETY: `restore` is only touched by the holder of `inner` (see `keep` and `unlock`), so
// sharing an `IrqSafe` between threads shares `R` (hence `R: Sync`) and hands the restore
// slot from holder to holder under `R`'s mutual exclusion and happens-before.
unsafe impl<R: Sync> Sync for IrqSafe<R> {}
// SAFETY: a `RestoreState` is plain data (a bool or an integer) that means something only to
// the holder; an unlocked `IrqSafe` carries no state tied to a core. Moving a locked one to
// another thread does not unlock it there: `unlock`'s contract (same context, same core) is
// the caller's to keep, and `IrqLock` lends it only by reference while locked.
unsafe impl<R: Send> Send for IrqSafe<R> {}

impl IrqSafe<RawSpinLock> {
    crate::sync::const_fn! {
        /// A new, unlocked interrupt-safe spin lock; usable in a `static`. Other raw locks:
        /// [`with_raw`](IrqSafe::with_raw).
        ///
        /// # Examples
        ///
        /// ```
        /// let raw = baresync::IrqSafe::new(); // `IrqSafe<RawSpinLock>`
        /// assert!(!raw.is_locked());
        /// ```
        #[inline]
        pub const fn new() -> Self {
            Self::with_raw()
        }
    }
}

impl<R: RawLock> IrqSafe<R> {
    crate::sync::const_fn! {
        /// A new, unlocked lock over the raw lock `R`, named by the type; usable in a
        /// `static`.
        ///
        /// # Examples
        ///
        /// ```
        /// use baresync::{IrqSafe, RawTicketLock, Spin};
        ///
        /// static RAW: IrqSafe<RawTicketLock<Spin>> = IrqSafe::with_raw();
        /// assert!(!RAW.is_locked());
        /// ```
        #[inline]
        pub const fn with_raw() -> Self {
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
    /// static RAW: IrqSafe<RawSpinLock> = IrqSafe::with_raw();
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

    /// Enters a critical section, then acquires `R` (waiting for it with interrupts masked).
    ///
    /// # Safety
    ///
    /// The caller must release the lock with [`unlock`](IrqSafe::unlock), in this context and
    /// on this core, in last-in-first-out order with every other critical section on this
    /// core: each critical section entered after this call (`critical_section::with`,
    /// `critical_section::acquire`, another `IrqSafe` or [`IrqLock`]) must have been left before
    /// `unlock`, and `unlock` must come before any critical section that was open at this call
    /// is left (in particular, before the `critical_section::with` closure this is called in
    /// returns).
    ///
    /// # Examples
    ///
    /// See [`IrqSafe`].
    #[inline]
    pub unsafe fn lock(&self) {
        // SAFETY: paired with exactly one `release` in `unlock`, in the holder's context, with
        // this state (kept in `restore` meanwhile), in LIFO order (the caller's contract).
        let state = unsafe { critical_section::acquire() };
        // ORDERING: `R::lock` acquires (pairs with `R::unlock`'s release); the critical
        // section adds its own acquire on the implementation's shared location.
        self.inner.lock();
        // SAFETY: `inner` was just acquired, with `state` from the `acquire` above.
        unsafe { self.keep(state) };
    }

    /// Enters a critical section and tries `R` once; on failure leaves the critical section
    /// again before returning `false`, so no interrupts stay masked.
    ///
    /// # Safety
    ///
    /// As [`lock`](IrqSafe::lock), when this returns `true`.
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
    /// use baresync::{IrqSafe, RawSpinLock};
    ///
    /// static RAW: IrqSafe<RawSpinLock> = IrqSafe::with_raw();
    /// // SAFETY: released below, with no critical section entered or left in between.
    /// assert!(unsafe { RAW.try_lock() });
    /// // SAFETY: a failed `try_lock` leaves the critical section it entered.
    /// assert!(!unsafe { RAW.try_lock() });
    /// // SAFETY: locked by the first `try_lock`, in this context.
    /// unsafe { RAW.unlock() };
    /// # assert!(!MASKED.load(SeqCst));
    /// ```
    #[inline]
    pub unsafe fn try_lock(&self) -> bool {
        // SAFETY: paired with exactly one `release`: below on failure, in `unlock` on success
        // (LIFO by the caller's contract).
        let state = unsafe { critical_section::acquire() };
        // ORDERING: `R::try_lock` acquires on success (pairs with `R::unlock`'s release).
        if self.inner.try_lock() {
            // SAFETY: `inner` was just acquired, with `state` from the `acquire` above.
            unsafe { self.keep(state) };
            true
        } else {
            // SAFETY: releases the critical section entered above, with its own state; nothing
            // was entered inside it, so nesting is intact.
            unsafe { critical_section::release(state) };
            false
        }
    }

    /// Tries `R` once per attempt, each attempt inside its own critical section, and leaves
    /// the critical section between attempts, where `deadline` is polled.
    ///
    /// Waiting this way lets interrupts run while this core waits: a deadline driven by a
    /// timer interrupt (a tick counter) keeps advancing, which it would not if the whole wait
    /// ran with interrupts masked, and interrupt latency stays bounded by one attempt rather
    /// than by the other core's critical section. The price: `R`'s own waiting (a ticket
    /// lock's queue, a mutex's sleep) is not used, so a waiter may be overtaken by `lock`
    /// callers; [`lock`](IrqSafe::lock) is the fair (for a fair `R`) and faster way to wait
    /// when waiting with interrupts masked is acceptable. A `deadline` that panics does so
    /// with neither the critical section nor `R` held by this call.
    ///
    /// # Safety
    ///
    /// As [`lock`](IrqSafe::lock), when this returns `true`.
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
    /// use baresync::{IrqSafe, RawSpinLock};
    ///
    /// static RAW: IrqSafe<RawSpinLock> = IrqSafe::with_raw();
    /// // SAFETY: released below, with no critical section entered or left in between.
    /// assert!(unsafe { RAW.lock_until(&mut || false) });
    /// // SAFETY: locked just above, in this context.
    /// unsafe { RAW.unlock() };
    /// # assert!(!MASKED.load(SeqCst));
    /// ```
    pub unsafe fn lock_until(&self, deadline: &mut impl Deadline) -> bool {
        // Between attempts nothing is held: interrupts are unmasked (unless the caller masked
        // them), so a tick-driven deadline advances, and a panicking one leaves nothing behind.
        crate::raw::poll_try_lock(
            // SAFETY: on success, the caller's contract; on failure `try_lock` left the
            // critical section it entered.
            || unsafe { self.try_lock() },
            deadline,
        )
    }

    /// Releases `R`, then leaves the critical section with the state kept when it was locked.
    ///
    /// # Safety
    ///
    /// The lock must be held by the caller's context, on this core, through
    /// [`lock`](IrqSafe::lock), [`try_lock`](IrqSafe::try_lock) or
    /// [`lock_until`](IrqSafe::lock_until), and the last-in-first-out rule of
    /// [`lock`](IrqSafe::lock) must hold: every critical section entered since is already
    /// left.
    ///
    /// # Examples
    ///
    /// See [`IrqSafe`].
    #[inline]
    pub unsafe fn unlock(&self) {
        // SAFETY: the caller holds `inner` (this function's contract), so it is the only
        // context touching `restore`. Read before releasing `inner`: after that, the next
        // holder (on another core) overwrites it.
        let state = unsafe { *self.restore.get() };
        // SAFETY: held by the caller's context (this function's contract).
        // ORDERING: `R::unlock` releases (pairs with the next holder's acquire), publishing the
        // critical section's writes and our read of `restore` before the next write to it.
        unsafe { self.inner.unlock() };
        // SAFETY: `state` came from the `acquire` made when this context locked (kept in
        // `restore` by `lock`/`try_lock`), and the sections entered since are left (the
        // caller's contract). Leaving the critical section after `inner` is released means
        // no interrupt can run on this core while `inner` is held.
        unsafe { critical_section::release(state) };
    }

    /// Whether the lock is held by anyone right now. A snapshot for diagnostics and
    /// assertions: it may be stale as soon as it returns.
    ///
    /// # Examples
    ///
    /// ```
    /// use baresync::{IrqSafe, RawSpinLock};
    ///
    /// let raw: IrqSafe<RawSpinLock> = IrqSafe::default();
    /// assert!(!raw.is_locked());
    /// ```
    #[inline]
    pub fn is_locked(&self) -> bool {
        self.inner.is_locked()
    }
}

impl<R: RawLock> Default for IrqSafe<R> {
    fn default() -> Self {
        Self::with_raw()
    }
}

impl<R: RawLock> fmt::Debug for IrqSafe<R> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("IrqSafe")
            .field("locked", &self.inner.is_locked())
            .finish_non_exhaustive()
    }
}

/// A lock around a `T` whose holder also holds a critical section (interrupts masked on this
/// core): the lock to share between thread mode and interrupt handlers, used through a
/// closure.
///
/// Needs feature `critical-section`.
///
/// [`lock`](IrqLock::lock) enters the critical section, acquires `R`, runs `f(&mut T)`, then
/// releases `R` and leaves the critical section, also when `f` panics. The closure keeps
/// critical sections nested last-in-first-out, which a guard could not (see the [module
/// documentation](self)); the guard form, [`lock_guard`](IrqLock::lock_guard), is `unsafe`.
/// Any spinning raw lock can be used: [`IrqSpinLock<T>`] for the common case,
/// `IrqLock<RawTicketLock<Spin>, T>` for FIFO order between cores.
///
/// Calling `lock` on the same lock inside `f` deadlocks (the raw lock does not know its
/// owner).
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
/// use baresync::{IrqLock, RawTicketLock, Spin};
///
/// static UART_TX: IrqLock<RawTicketLock<Spin>, [u8; 16]> = IrqLock::with_raw([0; 16]);
///
/// UART_TX.lock(|tx| tx[0] = b'>');
/// assert_eq!(UART_TX.lock(|tx| tx[0]), b'>');
///
/// // Locks nest: the inner one is released first, by construction.
/// static STATS: IrqLock<RawTicketLock<Spin>, u32> = IrqLock::with_raw(0);
/// UART_TX.lock(|tx| STATS.lock(|sent| *sent += tx.len() as u32));
/// assert_eq!(STATS.lock(|sent| *sent), 16);
/// # assert!(!MASKED.load(SeqCst));
/// ```
#[cfg_attr(docsrs, doc(cfg(feature = "critical-section")))]
pub struct IrqLock<R, T: ?Sized> {
    raw: IrqSafe<R>,
    data: UnsafeCell<T>,
}

/// A test-and-test-and-set spin lock around a `T` whose holder also holds a critical section:
/// the lock to share between thread mode and interrupt handlers.
///
/// Needs feature `critical-section`.
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
///     RX_BYTES.lock(|rx| {
///         rx.rotate_left(1);
///         rx[3] = byte;
///     });
/// }
///
/// on_uart_rx(b'o');
/// on_uart_rx(b'k');
/// assert_eq!(RX_BYTES.lock(|rx| [rx[2], rx[3]]), *b"ok");
/// ```
#[cfg_attr(docsrs, doc(cfg(feature = "critical-section")))]
pub type IrqSpinLock<T> = IrqLock<RawSpinLock, T>;

// SAFETY: an `IrqLock` can be sent to another thread with the value inside it when `T: Send`;
// the raw lock is plain atomics and an unlocked restore slot (see `IrqSafe`'s `Send`).
unsafe impl<R: RawLock + Send, T: ?Sized + Send> Send for IrqLock<R, T> {}
// SAFETY: sharing an `IrqLock` lets each thread obtain `&mut T` in turn (moving access to `T`
// between threads, hence `T: Send`), never two at once (`R`'s mutual exclusion, inside
// `IrqSafe`); `T: Sync` is not needed because no two threads see `&T` at the same time.
unsafe impl<R: RawLock + Sync, T: ?Sized + Send> Sync for IrqLock<R, T> {}

impl<T> IrqLock<RawSpinLock, T> {
    crate::sync::const_fn! {
        /// A new, unlocked [`IrqSpinLock`] holding `value`; usable in a `static`. Other raw
        /// locks: [`with_raw`](IrqLock::with_raw).
        ///
        /// # Examples
        ///
        /// ```
        /// use baresync::IrqSpinLock;
        ///
        /// static LEVELS: IrqSpinLock<[u16; 2]> = IrqSpinLock::new([0, 0]);
        /// let local = IrqSpinLock::new(5); // no annotation needed
        /// assert!(!LEVELS.is_locked() && !local.is_locked());
        /// ```
        #[inline]
        pub const fn new(value: T) -> Self {
            Self::with_raw(value)
        }
    }
}

impl<R: RawLock, T> IrqLock<R, T> {
    crate::sync::const_fn! {
        /// A new, unlocked lock holding `value` over the raw lock `R`, named by the type;
        /// usable in a `static`.
        ///
        /// # Examples
        ///
        /// ```
        /// use baresync::{IrqLock, RawTicketLock, Spin};
        ///
        /// static TURNS: IrqLock<RawTicketLock<Spin>, u32> = IrqLock::with_raw(0);
        /// assert!(!TURNS.is_locked());
        /// ```
        #[inline]
        pub const fn with_raw(value: T) -> Self {
            IrqLock { raw: IrqSafe::with_raw(), data: UnsafeCell::new(value) }
        }
    }

    /// Consumes the lock and returns the value; no locking needed, the lock is owned.
    ///
    /// # Examples
    ///
    /// ```
    /// let lock = baresync::IrqSpinLock::new([1, 2]);
    /// assert_eq!(lock.into_inner(), [1, 2]);
    /// ```
    #[inline]
    pub fn into_inner(self) -> T {
        self.data.into_inner()
    }
}

impl<R: RawLock, T: ?Sized> IrqLock<R, T> {
    /// Enters a critical section, acquires the lock (waiting as `R` waits, with interrupts
    /// masked), runs `f` on the value, then releases the lock and leaves the critical section;
    /// returns what `f` returned.
    ///
    /// If `f` panics, the lock is released and the critical section left (in that order)
    /// while the panic unwinds; the lock stays usable. Calling `lock` on the same lock inside
    /// `f` deadlocks.
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
    /// static PENDING: IrqSpinLock<u32> = IrqSpinLock::new(3);
    /// let taken = PENDING.lock(|pending| core::mem::take(pending));
    /// assert_eq!(taken, 3);
    /// assert_eq!(PENDING.lock(|pending| *pending), 0);
    /// ```
    #[inline]
    #[cfg_attr(all(feature = "lockdep", not(baresync_loom)), track_caller)]
    pub fn lock<U>(&self, f: impl FnOnce(&mut T) -> U) -> U {
        // SAFETY: the guard lives in this frame only and is dropped when `f` returns or
        // unwinds. Whatever `f` enters in safe code (`critical_section::with`, another
        // `IrqLock::lock`) is closure-scoped and left before `f` returns; unsafe code in `f`
        // that leaves a section open breaks its own contract. So the section this enters is
        // left last-in-first-out, and the guard is dropped in this context.
        let mut guard = unsafe { self.lock_guard() };
        f(&mut guard)
    }

    /// Runs `f` on the value if the lock is free right now, as [`lock`](IrqLock::lock) does;
    /// `None` if it is held (the critical section entered for the attempt is left again).
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
    /// static FLAG: IrqSpinLock<bool> = IrqSpinLock::new(false);
    /// assert_eq!(FLAG.try_lock(|flag| core::mem::replace(flag, true)), Some(false));
    /// // Held (here by ourselves): refused, with the lock and the interrupt mask as they were.
    /// assert_eq!(FLAG.lock(|_| FLAG.try_lock(|_| ())), None);
    /// ```
    #[inline]
    #[cfg_attr(all(feature = "lockdep", not(baresync_loom)), track_caller)]
    pub fn try_lock<U>(&self, f: impl FnOnce(&mut T) -> U) -> Option<U> {
        // SAFETY: on success the guard below takes over the acquisition; LIFO as in `lock`.
        if unsafe { self.raw.try_lock() } {
            lockdep_hook! { crate::lockdep::acquired(crate::lockdep::key(self), crate::lockdep::IRQ_LOCK) }
            // SAFETY: acquired just above by this context.
            let mut guard = unsafe { IrqLockGuard::new(self) };
            Some(f(&mut guard))
        } else {
            None
        }
    }

    /// Runs `f` on the value as [`lock`](IrqLock::lock) does, unless `deadline` expires first
    /// (`None` then, `f` not called).
    ///
    /// Each attempt takes the critical section and leaves it again on failure; `deadline` is
    /// polled between attempts, outside the critical section, so interrupts run while this
    /// waits and a deadline counted in timer ticks advances (see
    /// [`IrqSafe::lock_until`]). A `deadline` that panics leaves the lock and the critical
    /// section as they were.
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
    /// static BUS: IrqSpinLock<u32> = IrqSpinLock::new(0);
    /// let mut polls = 0;
    /// let busy = BUS.lock(|_| {
    ///     BUS.lock_until(|| { polls += 1; polls > 10 }, |transfers| *transfers += 1)
    /// });
    /// assert_eq!(busy, None);
    /// assert_eq!(BUS.lock_until(|| true, |transfers| { *transfers += 1; *transfers }), Some(1));
    /// ```
    #[inline]
    #[cfg_attr(all(feature = "lockdep", not(baresync_loom)), track_caller)]
    pub fn lock_until<U>(
        &self,
        mut deadline: impl Deadline,
        f: impl FnOnce(&mut T) -> U,
    ) -> Option<U> {
        // SAFETY: on success the guard below takes over the acquisition; LIFO as in `lock`.
        if unsafe { self.raw.lock_until(&mut deadline) } {
            lockdep_hook! { crate::lockdep::acquired(crate::lockdep::key(self), crate::lockdep::IRQ_LOCK) }
            // SAFETY: acquired just above by this context.
            let mut guard = unsafe { IrqLockGuard::new(self) };
            Some(f(&mut guard))
        } else {
            None
        }
    }

    /// [`lock_until`](IrqLock::lock_until) with a deadline `timeout` from now. A timeout too
    /// large to represent (`Duration::MAX`) waits forever.
    ///
    /// Needs feature `std` (a default feature).
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
    /// use std::time::Duration;
    ///
    /// static LINK: IrqSpinLock<bool> = IrqSpinLock::new(false);
    /// assert_eq!(LINK.lock_timeout(Duration::from_millis(10), |up| *up), Some(false));
    /// ```
    #[cfg(feature = "std")]
    #[cfg_attr(docsrs, doc(cfg(feature = "std")))]
    #[inline]
    pub fn lock_timeout<U>(
        &self,
        timeout: core::time::Duration,
        f: impl FnOnce(&mut T) -> U,
    ) -> Option<U> {
        self.lock_until(crate::deadline::Timeout::after(timeout), f)
    }

    /// Whether the lock is held right now (by anyone). A snapshot: it may change at once.
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
    /// let lock = baresync::IrqSpinLock::new(());
    /// assert!(lock.lock(|_| lock.is_locked()));
    /// assert!(!lock.is_locked());
    /// ```
    #[inline]
    pub fn is_locked(&self) -> bool {
        self.raw.is_locked()
    }

    /// A mutable reference to the value; no locking needed, since `&mut self` proves no one
    /// else can hold the lock.
    ///
    /// # Examples
    ///
    /// ```
    /// let mut lock = baresync::IrqSpinLock::new(1);
    /// *lock.get_mut() += 1;
    /// assert_eq!(lock.into_inner(), 2);
    /// ```
    #[inline]
    pub fn get_mut(&mut self) -> &mut T {
        self.data.get_mut()
    }

    /// Acquires the lock as [`lock`](IrqLock::lock) does and returns a guard that releases it
    /// (then leaves the critical section) when dropped: for code that cannot be written as one
    /// closure.
    ///
    /// # Safety
    ///
    /// The guard must be dropped in this context, on this core, in last-in-first-out order
    /// with every other critical section and `IrqLock` guard on this core: whatever was entered
    /// after it (`critical_section::with`, `critical_section::acquire`, another guard) is left
    /// before it is dropped, and it is dropped before any critical section that was open when
    /// it was taken is left (for example, inside the `critical_section::with` closure it was
    /// taken in, never after). Dropped out of order, it ends a critical section that another
    /// one is still inside of, which breaks `critical_section::Mutex` (see the [module
    /// documentation](self)). Forgetting the guard leaves the lock held and interrupts masked.
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
    /// static A: IrqSpinLock<u32> = IrqSpinLock::new(1);
    /// static B: IrqSpinLock<u32> = IrqSpinLock::new(2);
    /// // SAFETY: `b` is dropped before `a`, and nothing else enters or leaves a critical
    /// // section meanwhile.
    /// unsafe {
    ///     let mut a = A.lock_guard();
    ///     let mut b = B.lock_guard();
    ///     core::mem::swap(&mut *a, &mut *b);
    ///     drop(b);
    ///     drop(a);
    /// }
    /// assert_eq!(A.lock(|a| *a), 2);
    /// # assert!(!MASKED.load(SeqCst));
    /// ```
    #[inline]
    #[cfg_attr(all(feature = "lockdep", not(baresync_loom)), track_caller)]
    pub unsafe fn lock_guard(&self) -> IrqLockGuard<'_, R, T> {
        lockdep_hook! { crate::lockdep::before_acquire(crate::lockdep::key(self), crate::lockdep::IRQ_LOCK) }
        // SAFETY: the guard takes over the acquisition; the caller keeps the LIFO rule for it
        // (this function's contract, the same as `IrqSafe::lock`'s).
        unsafe { self.raw.lock() };
        lockdep_hook! { crate::lockdep::acquired(crate::lockdep::key(self), crate::lockdep::IRQ_LOCK) }
        // SAFETY: acquired just above by this context.
        unsafe { IrqLockGuard::new(self) }
    }
}

impl<R: RawLock, T: Default> Default for IrqLock<R, T> {
    fn default() -> Self {
        Self::with_raw(T::default())
    }
}

impl<R: RawLock, T> From<T> for IrqLock<R, T> {
    fn from(value: T) -> Self {
        Self::with_raw(value)
    }
}

impl<R: RawLock, T: ?Sized + fmt::Debug> fmt::Debug for IrqLock<R, T> {
    /// Never waits: shows the value if the lock is free right now (formatting it inside a
    /// critical section), `<locked>` otherwise.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut d = f.debug_struct("IrqLock");
        if self
            .try_lock(|data| {
                d.field("data", &&*data);
            })
            .is_none()
        {
            d.field("data", &format_args!("<locked>"));
        }
        d.finish_non_exhaustive()
    }
}

/// Proof of holding an [`IrqLock`] (and the critical section it entered): gives `&T` and
/// `&mut T`; when dropped, releases the lock, then leaves the critical section. Obtained only
/// through the `unsafe` [`IrqLock::lock_guard`].
///
/// Needs feature `critical-section`.
///
/// `!Send`: the critical section belongs to the core that entered it.
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
/// static COUNT: IrqSpinLock<u32> = IrqSpinLock::new(0);
/// // SAFETY: dropped at the end of this block; no critical section entered or left inside.
/// unsafe {
///     let mut count = COUNT.lock_guard();
///     *count += 1;
/// }
/// assert_eq!(COUNT.lock(|c| *c), 1);
/// ```
#[must_use = "if unused the lock is released (and the critical section left) at once"]
#[cfg_attr(docsrs, doc(cfg(feature = "critical-section")))]
pub struct IrqLockGuard<'a, R: RawLock, T: ?Sized> {
    lock: &'a IrqLock<R, T>,
    /// `!Send`: released in the context, and on the core, that acquired.
    _not_send: PhantomData<*const ()>,
}

// SAFETY: a shared guard only gives `&T`, so it may be shared when `T: Sync`.
unsafe impl<R: RawLock + Sync, T: ?Sized + Sync> Sync for IrqLockGuard<'_, R, T> {}

impl<'a, R: RawLock, T: ?Sized> IrqLockGuard<'a, R, T> {
    /// # Safety
    ///
    /// `lock.raw` must have just been acquired by this context, and the LIFO rule of
    /// [`IrqLock::lock_guard`] must hold for the returned guard.
    #[inline]
    unsafe fn new(lock: &'a IrqLock<R, T>) -> Self {
        IrqLockGuard {
            lock,
            _not_send: PhantomData,
        }
    }
}

impl<R: RawLock, T: ?Sized> Deref for IrqLockGuard<'_, R, T> {
    type Target = T;

    #[inline]
    fn deref(&self) -> &T {
        // SAFETY: the guard proves the lock is held, so no other `&mut T` exists.
        unsafe { &*self.lock.data.get() }
    }
}

impl<R: RawLock, T: ?Sized> DerefMut for IrqLockGuard<'_, R, T> {
    #[inline]
    fn deref_mut(&mut self) -> &mut T {
        // SAFETY: the guard proves exclusive access, and `&mut self` that it is unique.
        unsafe { &mut *self.lock.data.get() }
    }
}

impl<R: RawLock, T: ?Sized> Drop for IrqLockGuard<'_, R, T> {
    #[inline]
    fn drop(&mut self) {
        // Before the release: an interrupt that the release lets in runs with the lock no
        // longer held by this context.
        lockdep_hook! { crate::lockdep::released(crate::lockdep::key(self.lock)) }
        // SAFETY: the guard holds the lock in this context (`!Send`), and it is dropped in
        // LIFO order (the contract of `lock_guard`, or kept by `lock`/`try_lock`/`lock_until`,
        // which drop it when `f` returns or unwinds).
        unsafe { self.lock.raw.unlock() };
    }
}

impl<R: RawLock, T: ?Sized + fmt::Debug> fmt::Debug for IrqLockGuard<'_, R, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&**self, f)
    }
}

#[cfg(all(test, not(baresync_loom)))]
mod tests {
    //! The unit test's own critical section: a per-thread "interrupts masked" flag with a log.
    //! (This needs `critical-section/restore-state-bool`, enabled by the dev-dependency.)
    use super::*;
    use core::cell::{Cell, RefCell};
    use std::panic::{catch_unwind, AssertUnwindSafe};
    use std::vec::Vec;

    std::thread_local! {
        static MASKED: Cell<bool> = const { Cell::new(false) };
        static LOG: RefCell<Vec<(&'static str, bool)>> = const { RefCell::new(Vec::new()) };
        /// Called by `release` when set: records whether the watched lock was still held.
        static WATCH: Cell<Option<fn() -> bool>> = const { Cell::new(None) };
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
            if let Some(is_locked) = WATCH.with(Cell::get) {
                RELEASED_WHILE_LOCKED.with(|r| r.set(Some(is_locked())));
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
        let outer: IrqSpinLock<u8> = IrqLock::new(0);
        let inner: IrqSpinLock<u8> = IrqLock::new(0);
        take_log();
        outer.lock(|_| {
            inner.lock(|_| assert!(masked()));
            assert!(masked(), "releasing the inner lock keeps interrupts masked");
        });
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
        let l: IrqSpinLock<u8> = IrqLock::new(0);
        l.raw.inner().lock(); // held by "another core"
        take_log();
        assert_eq!(l.try_lock(|v| *v), None);
        assert!(!masked());
        assert_eq!(take_log(), [("acquire", true), ("release", true)]);
        // SAFETY: acquired on `inner` just above.
        unsafe { l.raw.inner().unlock() };
        assert_eq!(l.try_lock(|v| *v), Some(0));
        assert!(!masked());
    }

    static WATCHED: IrqSafe<RawSpinLock> = IrqSafe::with_raw();

    #[test]
    fn inner_lock_is_released_before_interrupts_are_unmasked() {
        // SAFETY: unlocked below; no other section is entered or left in between.
        unsafe { WATCHED.lock() };
        assert!(masked() && WATCHED.is_locked());
        WATCH.with(|w| w.set(Some(|| WATCHED.is_locked())));
        // SAFETY: held by this thread, taken just above.
        unsafe { WATCHED.unlock() };
        WATCH.with(|w| w.set(None));
        assert!(!masked());
        assert_eq!(
            RELEASED_WHILE_LOCKED.with(|r| r.take()),
            Some(false),
            "the critical section was left with the inner lock still held"
        );
    }

    static PANICKY: IrqSpinLock<u32> = IrqSpinLock::new(0);

    /// Fault injection at the user closure of `lock`, `try_lock` and `lock_until`: the unwind
    /// releases the inner lock, then leaves the critical section (once), and the lock works.
    #[test]
    fn panic_in_closure_releases_lock_then_critical_section() {
        type Op = fn(fn(&mut u32)) -> Option<()>;
        let ops: [(&str, Op); 3] = [
            ("lock", |f| {
                PANICKY.lock(f);
                Some(())
            }),
            ("try_lock", |f| PANICKY.try_lock(f)),
            ("lock_until", |f| PANICKY.lock_until(|| false, f)),
        ];
        for (name, op) in ops {
            take_log();
            WATCH.with(|w| w.set(Some(|| PANICKY.is_locked())));
            let unwound = catch_unwind(AssertUnwindSafe(|| {
                op(|v| {
                    *v += 1;
                    panic!("injected");
                })
            }));
            WATCH.with(|w| w.set(None));
            assert!(unwound.is_err(), "{name}: the panic propagates");
            assert_eq!(
                RELEASED_WHILE_LOCKED.with(|r| r.take()),
                Some(false),
                "{name}: the critical section was left before the inner lock"
            );
            assert_eq!(
                take_log(),
                [("acquire", true), ("release", true)],
                "{name}: one section, left once"
            );
            assert!(!masked() && !PANICKY.is_locked(), "{name}");
        }
        assert_eq!(
            PANICKY.lock(|v| *v),
            3,
            "every closure ran, the lock still works"
        );
        assert!(!masked());
    }

    #[test]
    fn lock_until_unmasks_between_attempts() {
        let l: IrqSpinLock<u8> = IrqLock::new(0);
        l.raw.inner().lock();
        let mut polls = 0;
        let mut masked_during_poll = false;
        let got = l.lock_until(
            || {
                masked_during_poll |= masked();
                polls += 1;
                polls > 5
            },
            |v| *v,
        );
        assert_eq!(got, None);
        assert!(
            !masked_during_poll,
            "the deadline is polled with interrupts unmasked"
        );
        assert!(!masked());
        // SAFETY: acquired on `inner` above.
        unsafe { l.raw.inner().unlock() };
        assert_eq!(l.lock_until(|| true, |_| masked()), Some(true));
        assert!(!masked());
    }
}
