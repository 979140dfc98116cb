//! `RawTicketLock<W>`: a FIFO ticket lock whose waiters can give their core away.
//!
//! Algorithm: the ticket lock (Reed and Kanodia's sequencers, 1979; Mellor-Crummey and Scott,
//! 1991): a waiter takes a ticket with one fetch-and-add and waits until the "now serving"
//! counter reaches it. Service is strictly first-come first-served. Progress: starvation-free
//! while every waiter keeps running; but a waiter that is descheduled when its turn comes holds
//! up everyone behind it, which is why a pure-spin ticket lock collapses when threads
//! outnumber cores (each hand-off to a preempted thread costs a scheduler time slice).
//!
//! The answer here: only the waiter next in line spins (briefly, polling at full rate); every
//! waiter further back, and the head once its budget is spent, waits through the backend `W`.
//! With `Yield` or `Futex` those waiters give their core to the threads that need it (the
//! owner and the head); with `Spin` they spin on the shared word with backoff, which is right
//! when each thread owns its core. (`Spin` only spins, `Wait::SPINS_ONLY`, so its waiters do
//! not call it: they poll in one loop, the head at full rate and each waiter behind it with a
//! pause that grows with its place in line, Mellor-Crummey and Scott's proportional backoff;
//! see `RawTicketLock::pauses`.) The lock still hands over strictly in ticket order, and
//! that has a floor no backend removes: with more threads than cores and every thread
//! contending, most hand-offs go to a thread that is not running, so each costs a context
//! switch instead of a cache miss (measured on 2 cores, 8 threads: 0.01–0.10× the 2-thread
//! throughput, `spin::TicketMutex` 0.02–0.09×; see `docs/design.md`).
//!
//! With a sleeping backend, bit 31 of the serving word says "a waiter may be sleeping": a
//! waiter sets it with a read-modify-write before sleeping and the unlocker clears it with the
//! swap that advances the counter, so a wake call is made only when someone may sleep, and no
//! wake-up can be lost between the two (they are read-modify-writes of one word).
//!
//! Tickets are 31 bits and wrap; at most 2^31 − 1 threads can wait at once. The wrap is
//! harmless: "now serving" cannot pass a drawn ticket, so a waiter never sees its own ticket
//! number come round again.
//!
//! A drawn ticket cannot be cancelled, and every later ticket waits for it. So if `W` panics
//! while a waiter holds a ticket, a drop guard still waits (spinning, then yielding with
//! `std`, without calling `W` again) for that ticket's turn and passes it on with an unlock;
//! the panic propagates after that. (The timed waiter, `lock_until`, never draws a ticket, so
//! its deadline may panic anywhere.)

use super::{impl_init, RawLock};
use crate::sync::atomic::{
    AtomicU32,
    Ordering::{Acquire, Relaxed, Release},
};
use crate::sync::const_fn;
use crate::wait::{Backoff, FairDefault, Wait, SPIN_ROUNDS_BEFORE_SLEEP};
use crate::Deadline;
use core::marker::PhantomData;

/// Set in `serving` while a waiter may be sleeping (sleeping backends only).
const SLEEPERS: u32 = 1 << 31;
/// The ticket bits of `next` and `serving` with a sleeping backend.
const TICKET_MASK: u32 = SLEEPERS - 1;
/// Spin hints per place in line between two polls of a waiter behind the head, when `W` only
/// spins (`RawTicketLock::pauses`).
const PAUSES_PER_PLACE: u32 = (1 << Backoff::LIMIT) / PLACES_BACKED_OFF;
/// Places behind the head beyond which the pause stops growing (at `2^Backoff::LIMIT` hints).
const PLACES_BACKED_OFF: u32 = 4;
/// Whether `try_lock` reads `next` before it tries to draw a ticket: with native
/// compare-and-swap, so that a timed waiter polling a held lock only reads. Without one
/// (thumbv6m, riscv32i: `portable-atomic` makes every access, a load too, a critical section of
/// its own) a polling backend's `try_lock` is one load of `serving` and one compare-exchange of
/// `next` against it ([`RawTicketLock::try_draw_served`]): one critical section fewer, and the
/// `TicketLock` row of `docs/code-size.md` was 1.13x spin's on thumbv6m with the extra load.
const READ_NEXT_FIRST: bool = cfg!(target_has_atomic = "32");

/// A FIFO-fair ticket lock in 8 bytes, whose waiters beyond the first wait through `W`
/// ([`FairDefault`]: `Yield` with feature `std`, `Spin` without).
///
/// Use it through [`TicketLock<T, W>`](crate::TicketLock). A waiter with a deadline
/// ([`lock_until`](RawLock::lock_until)) cannot give a ticket back, so it does not queue: it
/// polls for a moment when the lock is free and nobody is queued, and is not fair.
///
/// # Examples
///
/// ```
/// use baresync::{RawLock, RawTicketLock};
///
/// static RAW: RawTicketLock = RawTicketLock::new();
/// RAW.lock();
/// assert!(!RAW.try_lock());
/// // SAFETY: acquired just above.
/// unsafe { RAW.unlock() };
/// assert!(!RAW.is_locked());
/// ```
#[repr(C)]
pub struct RawTicketLock<W = FairDefault> {
    /// The next ticket to hand out (low 31 bits, bit 31 ignored, when `W` sleeps; all 32 bits
    /// when `W` only polls: see `MASK`).
    next: AtomicU32,
    /// bits 0–30: the ticket now served · bit 31: a waiter may be sleeping (when `W` only
    /// polls, nobody sleeps and all 32 bits are the ticket)
    serving: AtomicU32,
    _wait: PhantomData<fn() -> W>,
}

impl RawTicketLock {
    const_fn! {
        /// A new, unlocked ticket lock whose waiters use the default FIFO backend
        /// ([`FairDefault`](crate::wait::FairDefault)).
        ///
        /// # Examples
        ///
        /// ```
        /// use baresync::{RawLock, RawTicketLock};
        ///
        /// let raw = RawTicketLock::new(); // no annotation needed
        /// assert!(raw.try_lock());
        /// ```
        #[inline]
        pub const fn new() -> Self {
            Self::with_wait()
        }
    }
}

impl<W: Wait> RawTicketLock<W> {
    /// The ticket bits of `next` and `serving` for this backend: 31 bits when `W` sleeps (bit
    /// 31 of `serving` is then the sleeper flag), all 32 when it only polls (no flag is ever
    /// set, and the counters wrap at 2^32 without masking: fewer instructions on every path).
    const MASK: u32 = if W::WAKE_IS_NOOP { u32::MAX } else { TICKET_MASK };

    const_fn! {
        /// A new, unlocked ticket lock whose waiters wait through `W`, named by the type.
        ///
        /// # Examples
        ///
        /// ```
        /// use baresync::{RawLock, RawTicketLock, Spin};
        ///
        /// static RAW: RawTicketLock<Spin> = RawTicketLock::with_wait();
        /// assert!(RAW.try_lock());
        /// ```
        #[inline]
        pub const fn with_wait() -> Self {
            RawTicketLock {
                next: AtomicU32::new(0),
                serving: AtomicU32::new(0),
                _wait: PhantomData,
            }
        }
    }

    /// How many threads hold a ticket and wait for their turn (the owner not counted). A
    /// snapshot for diagnostics and tests: it may change as soon as it is read.
    ///
    /// # Examples
    ///
    /// ```
    /// use baresync::{RawLock, RawTicketLock};
    ///
    /// static RAW: RawTicketLock = RawTicketLock::new();
    /// assert_eq!(RAW.waiters(), 0);
    /// RAW.lock();
    /// assert_eq!(RAW.waiters(), 0);
    /// // SAFETY: acquired just above.
    /// unsafe { RAW.unlock() };
    /// ```
    pub fn waiters(&self) -> u32 {
        // ORDERING: Acquire, so that the difference is never negative: the owner that stored
        // this `serving` value took its ticket (advancing `next` past it) before its Release
        // unlock, so the `next` read below is at least `serving`. (With Relaxed a stale `next`
        // can be read and the difference wraps; loom found it.)
        let serving = self.serving.load(Acquire) & Self::MASK;
        // ORDERING: Relaxed: see above.
        let next = self.next.load(Relaxed) & Self::MASK;
        // Tickets handed out and not yet done, the owner's included.
        let outstanding = next.wrapping_sub(serving) & Self::MASK;
        outstanding.saturating_sub(1)
    }

    /// How many times the waiter next in line polls the serving word at full rate before it
    /// waits through `W`.
    ///
    /// The head polls without backoff: it is the only waiter the next hand-off can go to, so a
    /// backoff pause only delays its own turn (measured with `host-runner bench`, median
    /// release-to-acquire latency on 2 cores: 190–212 ns with exponential backoff here, 165–172
    /// ns polling, `spin::TicketMutex` 140–159 ns in the same runs).
    /// With a polling backend that yields (`Yield`) the budget is about one backoff's worth of
    /// pauses (a backend that only spins has no budget: see `spin_for_turn`). With a
    /// sleeping one it is much longer: once the head sleeps, every hand-off waits for a
    /// wake-up, during which the next head gives up and sleeps too, a convoy in which each
    /// acquisition costs a wake-up latency (measured: 30k acquisitions/s with 2 threads on 2
    /// cores). Polling longer than a wake-up takes breaks the convoy: the budget is as many
    /// pauses as the crate's `SPIN_ROUNDS_BEFORE_SLEEP` backoff rounds make, tens of
    /// microseconds on current x86 cores. Only the head polls; the waiters behind it wait
    /// through `W`.
    const HEAD_POLLS: u32 = if W::WAKE_IS_NOOP {
        Backoff::PAUSES_PER_BACKOFF
    } else {
        Backoff::pauses_in(SPIN_ROUNDS_BEFORE_SLEEP)
    };

    /// Spin hints a waiter `ahead` places from its turn (1: next in line) makes between two
    /// reads of the serving word, when `W` only spins (`SPINS_ONLY`).
    ///
    /// Proportional backoff (Mellor-Crummey and Scott, 1991): a waiter's expected wait grows
    /// with the number of hand-offs before its own, so it reads the shared word that much
    /// less often, and a hand-off's cache line is contended by the few waiters nearest their
    /// turn instead of all of them. The head polls at full rate (one hint, as spin's
    /// `TicketMutex`): the next hand-off is its own. Capped at the same `2^LIMIT` hints as the
    /// exponential [`Backoff`] it replaces here, so a waiter far back overshoots its turn by
    /// at most one such round, as before. One under loom.
    #[inline]
    fn pauses(ahead: u32) -> u32 {
        if cfg!(baresync_loom) {
            return 1;
        }
        // `ahead` is at least 1: `serving` never passes a drawn ticket.
        ahead.wrapping_sub(1).min(PLACES_BACKED_OFF) * PAUSES_PER_PLACE + 1
    }

    /// Waits for `ticket`'s turn when `W` would only poll on this core (`SPINS_ONLY`, as
    /// `Spin`): polls the serving word here, one loop for every place in line, pausing in
    /// proportion to the place (see `pauses`). Calls no user code, so nothing can unwind with
    /// the ticket drawn.
    #[inline]
    fn spin_for_turn(&self, ticket: u32) {
        loop {
            // ORDERING: Acquire pairs with the Release store in `unlock`: when our ticket
            // comes up, the previous owner's writes happen-before ours.
            let serving = self.serving.load(Acquire) & Self::MASK;
            if serving == ticket {
                return;
            }
            let mut n = Self::pauses(ticket.wrapping_sub(serving) & Self::MASK);
            loop {
                crate::sync::spin_loop();
                n -= 1;
                if n == 0 {
                    break;
                }
            }
        }
    }

    /// Waits for `ticket`'s turn. A drawn ticket cannot be handed back, and every later ticket
    /// waits for it: if `W` unwinds out of here, a guard still waits for the turn (without
    /// `W`) and passes it on, so the lock is not stuck for everyone.
    #[cold]
    fn lock_slow(&self, ticket: u32, serving: u32) {
        let guard = ServeOnUnwind { lock: self, ticket };
        self.wait_for_turn(ticket, serving);
        core::mem::forget(guard);
    }

    /// Waits for `ticket`'s turn, given `serving`, the value of the serving word the caller
    /// just read (with Acquire) and found not to be that turn.
    fn wait_for_turn(&self, ticket: u32, mut serving: u32) {
        let mut head_polls = 0u32;
        loop {
            let ahead = ticket.wrapping_sub(serving & Self::MASK) & Self::MASK;
            if ahead == 1 && head_polls < Self::HEAD_POLLS {
                // Next in line: the hand-off should be a cache miss away, so poll.
                crate::sync::spin_loop();
                head_polls += 1;
            } else if W::WAKE_IS_NOOP {
                // Nobody sleeps, so no flag: poll the word through the backend.
                W::wait(&self.serving, serving);
            } else {
                // Announce a sleeper, then sleep on the word as it is now.
                // ORDERING: Acquire, because if our turn has come we own the lock from here
                // on; it pairs with the Release swap in `unlock`. Both are read-modify-writes
                // of `serving`, so either the unlocker's swap sees SLEEPERS and wakes us, or
                // this fetch_or sees the advanced counter.
                let seen = self.serving.fetch_or(SLEEPERS, Acquire);
                if seen & Self::MASK == ticket {
                    // Our turn came meanwhile. The flag we set costs the next unlock one
                    // spurious wake call at most.
                    return;
                }
                W::wait(&self.serving, seen | SLEEPERS);
            }
            // ORDERING: Acquire pairs with the Release store or swap in `unlock`: when our
            // ticket comes up, the previous owner's writes happen-before ours.
            serving = self.serving.load(Acquire);
            if serving & Self::MASK == ticket {
                return;
            }
        }
    }
}

/// Serves a drawn ticket whose waiter unwinds (see `lock_slow`).
struct ServeOnUnwind<'a, W: Wait> {
    lock: &'a RawTicketLock<W>,
    ticket: u32,
}

impl<W: Wait> Drop for ServeOnUnwind<'_, W> {
    fn drop(&mut self) {
        // `W` just panicked: wait without it, yielding (with `std`) once the backoff is spent.
        let mut backoff = Backoff::new();
        // ORDERING: Acquire pairs with the Release in `unlock`: for a moment we own the lock,
        // and the previous owner's writes must happen-before our own unlock's Release.
        while self.lock.serving.load(Acquire) & RawTicketLock::<W>::MASK != self.ticket {
            backoff.snooze();
        }
        // SAFETY: our ticket is served, so this thread owns the lock; nothing was done under
        // it, and unlocking passes the turn to the next ticket.
        unsafe { self.lock.unlock() };
    }
}

impl<W: Wait> Default for RawTicketLock<W> {
    fn default() -> Self {
        Self::with_wait()
    }
}

impl<W: Wait> core::fmt::Debug for RawTicketLock<W> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        // ORDERING: Relaxed: a snapshot for display.
        let next = self.next.load(Relaxed) & Self::MASK;
        let serving = self.serving.load(Relaxed) & Self::MASK;
        f.debug_struct("RawTicketLock")
            .field("next", &next)
            .field("serving", &serving)
            .finish()
    }
}

// SAFETY: each ticket is handed out once (fetch_add and the try_lock compare-exchange are
// read-modify-writes of `next`), only the owner of ticket t advances `serving` from t to t + 1,
// and a thread enters only when `serving` equals its ticket; so one owner at a time. Entering
// is an Acquire read of the value the previous owner wrote with Release in `unlock`.
unsafe impl<W: Wait> RawLock for RawTicketLock<W> {
    impl_init!(with_wait);
    const DEBUG_NAME: &'static str = "TicketLock";

    #[inline]
    fn lock(&self) {
        // ORDERING: Relaxed: the ticket's uniqueness comes from the read-modify-write itself;
        // synchronization with the previous owner comes from the Acquire load of `serving`.
        let ticket = self.next.fetch_add(1, Relaxed) & Self::MASK;
        if W::SPINS_ONLY {
            // Nothing to unwind from and no budget to keep: one loop, inlined.
            return self.spin_for_turn(ticket);
        }
        // ORDERING: Acquire pairs with the Release in `unlock`.
        let serving = self.serving.load(Acquire);
        if serving & Self::MASK != ticket {
            self.lock_slow(ticket, serving);
        }
    }

    #[inline]
    fn try_lock(&self) -> bool {
        if !READ_NEXT_FIRST && Self::MASK == u32::MAX {
            return self.try_draw_served();
        }
        // `next` is read first. If `serving` then equals it and the compare-exchange still
        // finds `next` unchanged, no ticket was handed out since, and `serving` cannot pass an
        // untaken ticket: the lock was free all along and ticket `next` is ours. (Only 2^32
        // acquisitions between the load and the compare-exchange could fool the latter.)
        // ORDERING: Relaxed: the argument does not need the two loads in this order. If the
        // compare-exchange finds `next == n`, no ticket `n` or later has been drawn by then,
        // so `serving` (which never passes an undrawn ticket) was at most `n` whenever it was
        // read; reading `n` there means ticket `n - 1` was released and nobody holds the lock.
        // (Every write to `next` is a Relaxed RMW: an Acquire here would pair with nothing.)
        let next = self.next.load(Relaxed);
        // ORDERING: Acquire pairs with the Release in `unlock` of the previous owner.
        let serving = self.serving.load(Acquire) & Self::MASK;
        // ORDERING: Relaxed on the compare-exchange, for the same reason as in `lock`.
        next & Self::MASK == serving
            && self
                .next
                .compare_exchange(next, next.wrapping_add(1), Relaxed, Relaxed)
                .is_ok()
    }

    /// A timed waiter cannot give a ticket back, so it does not queue: it waits (through `W`,
    /// sleeping if `W` sleeps) for the counter to move, and takes the lock with
    /// [`try_lock`](RawLock::try_lock) at a moment when it is free and nobody is queued.
    /// Unfair: queued waiters always go first.
    fn lock_until(&self, deadline: &mut impl Deadline) -> bool {
        let mut backoff = Backoff::new();
        loop {
            if self.try_lock() {
                return true;
            }
            if deadline.expired() {
                return false;
            }
            // ORDERING: Acquire pairs with the Release in `unlock` that wrote the `serving`
            // read here, so that the `next` read below is at least it (the ticket released
            // was drawn before). With Relaxed, `next` may be read older than `serving`: a free
            // lock looks held, and with `Spin`, whose wait ends only when `serving` moves, the
            // waiter waits forever (loom: `ticket_spin_timed_waiter_sees_free_lock`). `try_lock`
            // is still the acquire of the lock itself.
            let seen = self.serving.load(Acquire);
            // ORDERING: Relaxed: every write to `next` is a Relaxed RMW; the Acquire above is
            // what bounds this read from below.
            if self.next.load(Relaxed) & Self::MASK == seen & Self::MASK {
                // Free: the `try_lock` above lost a race; retry after a pause.
                backoff.spin();
                continue;
            }
            // Held: wait for the counter to move. With a sleeping backend, announce the
            // sleeper first (see `lock_slow`): an unlock after the announcement sees the flag and
            // wakes us.
            let seen = if W::WAKE_IS_NOOP {
                seen
            } else {
                // ORDERING: Relaxed: nothing is acquired here; `try_lock` is the acquire. The
                // read-modify-write itself orders it against the unlocker's swap.
                let announced = self.serving.fetch_or(SLEEPERS, Relaxed);
                if announced & Self::MASK != seen & Self::MASK {
                    // An unlock came between the load above and the announcement: it saw no
                    // flag and woke nobody, and the lock may now be free. Sleeping would wait
                    // out the whole deadline on a free lock (loom found it); retry instead.
                    continue;
                }
                announced | SLEEPERS
            };
            if !W::wait_until(&self.serving, seen, deadline) {
                return false;
            }
        }
    }

    #[inline]
    unsafe fn unlock(&self) {
        #[cfg(not(target_has_atomic = "32"))]
        if W::WAKE_IS_NOOP {
            // Without native compare-and-swap (thumbv6m) every atomic access, load and store
            // too, is emulated in a critical section (portable-atomic): one read-modify-write
            // is one such section where the load and store below are two. No flag to keep:
            // with a polling backend all 32 bits are the ticket, and it wraps at 2^32.
            // ORDERING: Release pairs with the Acquire load of the next ticket's owner.
            self.serving.fetch_add(1, Release);
            return;
        }
        // ORDERING: Relaxed: only the owner changes the ticket bits, and it read them itself.
        let next = (self.serving.load(Relaxed) & Self::MASK).wrapping_add(1) & Self::MASK;
        if W::WAKE_IS_NOOP {
            // ORDERING: Release pairs with the Acquire load of the next ticket's owner.
            self.serving.store(next, Release);
        } else {
            // ORDERING: Release as above; the swap also clears SLEEPERS and reports whether
            // it was set (see the fetch_or in `lock_slow`).
            if self.serving.swap(next, Release) & SLEEPERS != 0 {
                self.wake_slow();
            }
        }
    }

    #[inline]
    fn is_locked(&self) -> bool {
        // ORDERING: Relaxed: a snapshot for diagnostics.
        self.next.load(Relaxed) & Self::MASK != self.serving.load(Relaxed) & Self::MASK
    }
}

impl<W: Wait> RawTicketLock<W> {
    /// `try_lock` without the read of `next`, for a polling backend (no flag bit: `MASK` is
    /// `u32::MAX`) on a target without native compare-and-swap (see [`READ_NEXT_FIRST`]).
    /// Reads `serving` (`s`), then draws ticket `s` only if `next` is still `s`: if the
    /// compare-exchange finds `next == s`, ticket `s` had not been drawn, so `serving`, which
    /// never passes an undrawn ticket and never goes back, is still `s`: the owner of ticket
    /// `s - 1` has released and nobody holds the lock. (Only 2^32 acquisitions between the load
    /// and the compare-exchange could fool the latter.)
    #[inline]
    fn try_draw_served(&self) -> bool {
        debug_assert_eq!(Self::MASK, u32::MAX);
        // ORDERING: Acquire pairs with the Release in `unlock` of the owner that stored `s`.
        let s = self.serving.load(Acquire);
        // ORDERING: Relaxed: the ticket's uniqueness comes from the read-modify-write itself,
        // as in `lock`; the synchronization is the Acquire load above.
        self.next
            .compare_exchange(s, s.wrapping_add(1), Relaxed, Relaxed)
            .is_ok()
    }

    /// Wakes every sleeper: only the one whose ticket came up will stay awake, but a futex
    /// cannot pick it out.
    #[cold]
    fn wake_slow(&self) {
        W::wake_all(&self.serving);
    }
}

/// A test hook for host-runner's FIFO check (std only, hidden: not part of the API).
#[cfg(all(feature = "std", not(baresync_loom)))]
impl<W: Wait> RawTicketLock<W> {
    /// [`lock`](RawLock::lock), but right after the ticket is drawn, takes a stamp from
    /// `stamps` (`fetch_add`, Release) and stores it in `slot` (Relaxed), so that a checker
    /// knows this thread is queued from the moment its place in line is fixed. Plain atomics,
    /// no user code: nothing can unwind between the draw and the wait and leave a ticket that
    /// is never served (a closure or trait hook here could panic with the ticket drawn).
    #[doc(hidden)]
    pub fn lock_stamped(
        &self,
        stamps: &std::sync::atomic::AtomicU64,
        slot: &std::sync::atomic::AtomicU64,
    ) {
        // ORDERING: Relaxed, as in `lock`.
        let ticket = self.next.fetch_add(1, Relaxed) & Self::MASK;
        // ORDERING: Release heads a release sequence: a checker whose Acquire `fetch_add` on
        // `stamps` returns a later value synchronizes with it, so our draw above
        // happens-before that checker's own draw, and coherence of `next` makes our ticket
        // the earlier one.
        let stamp = stamps.fetch_add(1, std::sync::atomic::Ordering::Release);
        // ORDERING: Relaxed: the value carries the meaning; the checker clears it in its own
        // critical section, ordered by the lock.
        slot.store(stamp, std::sync::atomic::Ordering::Relaxed);
        // ORDERING: Acquire pairs with the Release in `unlock`.
        let serving = self.serving.load(Acquire);
        if serving & Self::MASK != ticket {
            self.lock_slow(ticket, serving);
        }
    }
}

#[cfg(all(feature = "lock_api", not(baresync_loom)))]
super::impl_lock_api!([W: Wait] RawTicketLock<W>);

#[cfg(all(test, not(baresync_loom)))]
mod tests {
    use super::super::test_support::{counting_threads, joined_count};
    use super::*;

    #[test]
    fn basics() {
        fn check<W: Wait>() {
            let l = RawTicketLock::<W>::with_wait();
            super::super::test_support::raw_lock_basics(&l);
            // Three tickets drawn and served (`try_lock`, `lock`, the timed lock's), and no
            // sleeper flag left behind.
            assert_eq!(l.next.load(Relaxed), 3);
            assert_eq!(l.serving.load(Relaxed), 3);
        }
        check::<crate::Spin>();
        #[cfg(feature = "std")]
        check::<crate::Yield>();
        #[cfg(feature = "std")]
        check::<crate::Futex>();
    }

    /// The no-CAS targets' `try_lock` (see `READ_NEXT_FIRST`; a host build takes the other
    /// path, so it is called directly): free, held, released, and across the 32-bit wrap.
    #[test]
    fn try_draw_served_takes_only_a_free_lock() {
        let l = RawTicketLock::<crate::Spin>::with_wait();
        for start in [0, u32::MAX - 1] {
            l.next.store(start, Relaxed);
            l.serving.store(start, Relaxed);
            for _ in 0..3 {
                assert!(l.try_draw_served());
                assert!(l.is_locked());
                assert!(!l.try_draw_served());
                l.next.fetch_add(1, Relaxed); // a waiter draws the next ticket
                // SAFETY: held by this thread; the turn passes to the waiter.
                unsafe { l.unlock() };
                assert!(l.is_locked(), "the waiter's turn: not free");
                assert!(!l.try_draw_served());
                // SAFETY: the waiter's turn, taken over by this thread.
                unsafe { l.unlock() };
                assert!(!l.is_locked());
            }
        }
    }

    #[cfg(feature = "std")]
    #[test]
    fn tickets_wrap_around() {
        let l = RawTicketLock::<crate::Futex>::with_wait();
        l.next.store(TICKET_MASK, Relaxed);
        l.serving.store(TICKET_MASK, Relaxed);
        for _ in 0..3 {
            l.lock();
            assert!(l.is_locked());
            // SAFETY: held by this thread.
            unsafe { l.unlock() };
            assert!(!l.is_locked());
        }
        assert_eq!(l.serving.load(Relaxed), 2);
    }

    /// The counters start a few steps before their wrap (with a sleeping backend, `next` also
    /// before its 32-bit wrap, where bit 31 flips but is not a ticket bit), then threads drive
    /// them past it: mutual exclusion holds (an exact non-atomic count), `try_lock` and
    /// `lock_until` work across it, and the lock ends free with nobody waiting. A polling
    /// backend (`Yield`) uses all 32 bits, a sleeping one (`Futex`) 31.
    #[cfg(feature = "std")]
    #[test]
    fn tickets_wrap_around_under_contention() {
        fn run<W: Wait + 'static>(next: u32, serving: u32) {
            let l: std::sync::Arc<RawTicketLock<W>> = std::sync::Arc::new(RawTicketLock::with_wait());
            l.next.store(next, Relaxed);
            l.serving.store(serving, Relaxed);
            // Each thread takes the lock in turn by `lock`, `try_lock` and `lock_until`.
            let (handles, count) = counting_threads(&l, 3, 4, |l, thread, round| {
                match (thread + round) % 3 {
                    0 => l.lock(),
                    1 => {
                        while !l.try_lock() {
                            std::thread::yield_now();
                        }
                    }
                    _ => assert!(l.lock_until(&mut || false)),
                }
            });
            assert_eq!(joined_count(handles, count), 12);
            assert!(!l.is_locked());
            assert_eq!(l.waiters(), 0);
            let mask = RawTicketLock::<W>::MASK;
            assert_eq!(l.serving.load(Relaxed) & mask, serving.wrapping_add(12) & mask);
        }
        let polling = RawTicketLock::<crate::Yield>::MASK;
        assert_eq!(polling, u32::MAX, "a polling backend uses all 32 bits");
        run::<crate::Yield>(polling - 2, polling - 2);
        // `Spin` only spins: its waiters poll in `spin_for_turn`, their places in line
        // computed across the wrap. Under Miri this run once did not finish for some seeds:
        // `lock_until` read `serving` Relaxed and then an older `next`, took the free lock
        // for held and, with `Spin`, waited forever (see docs/design.md, "A Miri run that
        // does not finish", and the loom model `ticket_spin_timed_waiter_sees_free_lock`).
        run::<crate::Spin>(polling - 2, polling - 2);
        assert_eq!(RawTicketLock::<crate::Futex>::MASK, TICKET_MASK);
        run::<crate::Futex>(TICKET_MASK - 2, TICKET_MASK - 2);
        run::<crate::Futex>(u32::MAX - 2, TICKET_MASK - 2);
    }

    /// A waiter whose `W::wait` panics: its drawn ticket is still served (the unwind waits for
    /// its turn and passes it on), and no sleeper flag is left for later unlocks to pay for.
    #[test]
    fn panicking_wait_serves_its_ticket_and_leaves_no_ghost() {
        use crate::wait::testing::{must_panic, PanickyWait};
        let l: std::sync::Arc<RawTicketLock<PanickyWait>> =
            std::sync::Arc::new(RawTicketLock::with_wait());
        l.lock();
        let victim = {
            let l = l.clone();
            std::thread::spawn(move || {
                PanickyWait::arm(1);
                must_panic(|| l.lock());
            })
        };
        // Wait until the victim is past its head polls and has announced itself.
        while l.serving.load(Relaxed) & SLEEPERS == 0 {
            std::thread::yield_now();
        }
        // SAFETY: held by this thread.
        unsafe { l.unlock() };
        assert_eq!(PanickyWait::wakes(), 1);
        victim.join().unwrap();
        assert_eq!(
            l.serving.load(Relaxed),
            2,
            "both tickets served, no flag left"
        );
        assert_eq!(l.next.load(Relaxed), 2);
        l.lock();
        // SAFETY: held by this thread.
        unsafe { l.unlock() };
        assert_eq!(PanickyWait::wakes(), 1, "no wake call without a sleeper");
    }

    /// The pause between two polls (`SPINS_ONLY`): one hint for the head, growing with the
    /// place in line and never shrinking, capped at one full backoff round (`2^LIMIT` hints,
    /// plus the head's one), also for the largest places.
    #[test]
    fn pauses_grow_with_the_place_and_are_capped() {
        type L = RawTicketLock<crate::Spin>;
        assert_eq!(L::pauses(1), 1);
        assert!(L::pauses(2) > 1);
        let mut last = 0;
        for ahead in (1..64).chain([u32::MAX / 16, u32::MAX - 1, u32::MAX]) {
            let p = L::pauses(ahead);
            assert!(p >= last, "pauses({ahead}) = {p} < {last}");
            assert!(p <= (1 << Backoff::LIMIT) + 1, "pauses({ahead}) = {p}");
            last = p;
        }
        assert_eq!(last, (1 << Backoff::LIMIT) + 1);
    }

    /// A backend that says it only spins (`SPINS_ONLY`) and panics if it is ever called.
    struct SpinsOnlyNeverCalled;

    // SAFETY: never touches the word.
    unsafe impl Wait for SpinsOnlyNeverCalled {
        const WAKE_IS_NOOP: bool = true;
        const SPINS_ONLY: bool = true;
        fn wait(_atomic: &AtomicU32, _expected: u32) {
            panic!("`wait` called for a SPINS_ONLY backend");
        }
        fn wait_until(_atomic: &AtomicU32, _expected: u32, _: &mut impl Deadline) -> bool {
            panic!("`wait_until` called for a SPINS_ONLY backend");
        }
        fn wake_one(_atomic: &AtomicU32) {}
        fn wake_all(_atomic: &AtomicU32) {}
    }

    /// With a `SPINS_ONLY` backend the waiters poll the serving word themselves, the head and
    /// the waiters behind it alike, and never call `W::wait`: two waiters queue behind the
    /// owner (one next in line, one behind it), the owner keeps the lock long enough for the
    /// head to spend any polling budget, and both still get the lock in turn.
    #[cfg(feature = "std")]
    #[test]
    fn spins_only_backend_is_never_called() {
        let l: std::sync::Arc<RawTicketLock<SpinsOnlyNeverCalled>> =
            std::sync::Arc::new(RawTicketLock::with_wait());
        l.lock();
        let waiters: std::vec::Vec<_> = (0..2)
            .map(|_| {
                let l = l.clone();
                std::thread::spawn(move || {
                    l.lock();
                    // SAFETY: held by this thread.
                    unsafe { l.unlock() };
                })
            })
            .collect();
        while l.waiters() < 2 {
            std::thread::yield_now();
        }
        // Longer than any head budget: thousands of polls.
        std::thread::sleep(std::time::Duration::from_millis(if cfg!(miri) { 1 } else { 20 }));
        // SAFETY: held by this thread.
        unsafe { l.unlock() };
        for w in waiters {
            w.join().expect("a waiter called the backend");
        }
        assert!(!l.is_locked());
        assert_eq!(l.waiters(), 0);
    }

    #[test]
    fn is_eight_bytes() {
        assert_eq!(core::mem::size_of::<RawTicketLock>(), 8);
    }
}

#[cfg(all(test, baresync_loom))]
mod loom_wrap {
    use super::*;
    use loom::sync::Arc;
    use loom::thread;

    use crate::sync::loom_model as model;

    /// Two threads take the lock across the ticket counters' wrap (with `Spin`, which polls,
    /// the counters use all 32 bits: see `MASK`): one owner at a time (loom checks the cell),
    /// and both tickets served.
    #[test]
    fn loom_ticket_wrap() {
        model(|| {
            let l = Arc::new(RawTicketLock::<crate::Spin>::with_wait());
            l.next.store(u32::MAX, Relaxed);
            l.serving.store(u32::MAX, Relaxed);
            let cell = Arc::new(crate::sync::cell::UnsafeCell::new(0u32));
            let t = {
                let (l, cell) = (l.clone(), cell.clone());
                thread::spawn(move || {
                    l.lock();
                    // SAFETY: under the lock; loom reports any concurrent access.
                    cell.with_mut(|p| unsafe { *p += 1 });
                    // SAFETY: held by this thread.
                    unsafe { l.unlock() };
                })
            };
            l.lock();
            // SAFETY: as above.
            cell.with_mut(|p| unsafe { *p += 1 });
            // SAFETY: held by this thread.
            unsafe { l.unlock() };
            t.join().unwrap();
            // SAFETY: both threads are done.
            assert_eq!(cell.with(|p| unsafe { *p }), 2);
            assert_eq!(l.serving.load(Relaxed), 1);
            assert!(!l.is_locked());
        });
    }
}

#[cfg(all(test, baresync_loom))]
mod loom_try_draw {
    use super::*;
    use crate::sync::loom_model as model;
    use loom::cell::UnsafeCell;
    use loom::sync::Arc;
    use loom::thread;

    struct Guarded {
        lock: RawTicketLock<crate::Spin>,
        count: UnsafeCell<u32>,
    }

    // SAFETY: `count` is accessed only by the thread that holds `lock`.
    unsafe impl Sync for Guarded {}

    impl Guarded {
        /// Adds one to the count; the caller holds the lock.
        fn bump_and_unlock(&self) {
            // SAFETY: the caller holds the lock, so this thread has `count` alone.
            self.count.with_mut(|c| unsafe { *c += 1 });
            // SAFETY: the caller holds the lock.
            unsafe { self.lock.unlock() };
        }
    }

    /// The no-CAS targets' `try_lock` against a ticket holder and a second trier: it takes
    /// only a free lock, after the previous owner's writes (loom's cell sees a missing
    /// happens-before as a race), and every acquisition is counted once.
    #[test]
    fn loom_ticket_try_draw_served() {
        model(|| {
            let g = Arc::new(Guarded {
                lock: RawTicketLock::with_wait(),
                count: UnsafeCell::new(0),
            });
            let t = {
                let g = g.clone();
                thread::spawn(move || {
                    let took = g.lock.try_draw_served();
                    if took {
                        g.bump_and_unlock();
                    }
                    u32::from(took)
                })
            };
            g.lock.lock();
            g.bump_and_unlock();
            let took = u32::from(g.lock.try_draw_served());
            if took == 1 {
                g.bump_and_unlock();
            }
            let expected = 1 + took + t.join().unwrap();
            g.lock.lock();
            // SAFETY: this thread holds the lock.
            let count = g.count.with(|c| unsafe { *c });
            // SAFETY: held by this thread.
            unsafe { g.lock.unlock() };
            assert_eq!(count, expected);
        });
    }
}
