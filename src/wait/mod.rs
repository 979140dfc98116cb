//! How a thread waits for a 32-bit atomic word to change.
//!
//! Every primitive that can block is written once against [`Wait`], a futex-shaped interface:
//! "sleep while this word still holds the value I saw" and "wake sleepers of this word". The
//! backend decides what waiting means:
//!
//! | backend | waiting | waking | use it when |
//! |---|---|---|---|
//! | [`Spin`] (the default without `std`) | spins with bounded exponential backoff | free (no-op) | one thread per core: bare metal, a kernel with preemption disabled, short critical sections |
//! | `Yield` (feature `std`) | spins briefly, then `thread::yield_now` | free (no-op) | threads may outnumber cores but sleeping costs too much |
//! | `Futex` (feature `std`; the default with it) | sleeps in the kernel | a system call, only when a sleeper may exist | threads outnumber cores, or waits are long |
//! | `SharedFutex` (feature `std`, Linux/Android) | sleeps in the kernel, futex keyed by the page | a system call, as `Futex` | the primitive lives in memory shared between processes |
//! | your own | your scheduler's wait queue | your scheduler | an RTOS or kernel with its own blocking primitive |
//!
//! Primitives keep a "sleepers may exist" state next to their data (as std's futex mutex does
//! with its 0/1/2 states), so with every backend an uncontended release performs no wake call.
//!
//! Pure spin algorithms that never block (the 1-byte spin lock, the ticket hand-off) use
//! [`Backoff`] directly.

use crate::sync::atomic::AtomicU32;
use crate::Deadline;

mod spin;
pub use spin::Spin;

#[cfg(all(test, not(baresync_loom)))]
pub(crate) mod testing;

#[cfg(all(feature = "std", not(baresync_loom)))]
mod futex;
#[cfg(all(feature = "std", not(baresync_loom)))]
pub use futex::Futex;

#[cfg(all(
    feature = "std",
    not(baresync_loom),
    any(target_os = "linux", target_os = "android")
))]
mod shared_futex;
#[cfg(all(
    feature = "std",
    not(baresync_loom),
    any(target_os = "linux", target_os = "android")
))]
pub use shared_futex::SharedFutex;

#[cfg(all(feature = "std", not(baresync_loom)))]
mod yielding;
#[cfg(all(feature = "std", not(baresync_loom)))]
pub use yielding::Yield;

/// The backend a primitive waits through when none is named (every `W` parameter except a
/// FIFO lock's, see [`FairDefault`]): [`Futex`] with feature `std`, [`Spin`] without.
///
/// With `std` there is a scheduler, and threads may outnumber cores: a waiter that spins may
/// burn its time slice while the thread it waits for is descheduled. Measured on 2 cores with
/// 8 threads, contended increments of `Mutex<_, Spin>` fell to 0.22× of its 2-thread
/// throughput, while `Mutex<_, Futex>` kept 1.07× (see `docs/design.md`). Without `std` there
/// is no scheduler to lose the core to, or the kernel or RTOS names its own backend.
///
/// # Examples
///
/// ```
/// use baresync::{wait::DefaultWait, Futex, Mutex, Semaphore, Spin};
/// use core::any::TypeId;
///
/// // Built with feature `std` (a default feature): what is not named sleeps.
/// assert_eq!(TypeId::of::<DefaultWait>(), TypeId::of::<Futex>());
/// assert_eq!(TypeId::of::<Mutex<u8>>(), TypeId::of::<Mutex<u8, Futex>>());
/// assert_eq!(TypeId::of::<Semaphore>(), TypeId::of::<Semaphore<Futex>>());
/// // Name `Spin` where every thread owns its core and waits are short.
/// static HOT: Mutex<u64, Spin> = Mutex::with_wait(0);
/// *HOT.lock() += 1;
/// ```
#[cfg(all(feature = "std", not(baresync_loom)))]
pub type DefaultWait = Futex;

/// The backend a primitive waits through when none is named: `Futex` with feature `std`,
/// [`Spin`] without (see the `std` build's documentation for the measurement behind it).
#[cfg(not(all(feature = "std", not(baresync_loom))))]
pub type DefaultWait = Spin;

/// The backend a FIFO lock's waiters use when none is named: [`Yield`] with feature `std`,
/// [`Spin`] without.
///
/// A FIFO lock hands the lock to one particular waiter. Under a scheduler that waiter may be
/// descheduled when its turn comes, and a waiter that only spins then burns its time slice
/// waiting for it: measured on 2 cores with 8 threads, 8000 hand-offs of a spinning ticket
/// lock took 290 s, the same with `Yield` 0.13 s. Without `std` there is no scheduler to lose
/// the turn to (bare metal, or a kernel that disables preemption while spinning), and an RTOS
/// names its own backend.
///
/// # Examples
///
/// ```
/// use baresync::{wait::FairDefault, TicketLock, Yield};
/// use core::any::TypeId;
///
/// // Built with feature `std`: a FIFO lock's waiters yield their core.
/// assert_eq!(TypeId::of::<FairDefault>(), TypeId::of::<Yield>());
/// assert_eq!(TypeId::of::<TicketLock<u8>>(), TypeId::of::<TicketLock<u8, Yield>>());
/// ```
#[cfg(all(feature = "std", not(baresync_loom)))]
pub type FairDefault = Yield;

/// The backend a FIFO lock's waiters use when none is named: `Yield` with feature `std`,
/// [`Spin`] without (see the `std` build's documentation for the measurement behind it).
#[cfg(not(all(feature = "std", not(baresync_loom))))]
pub type FairDefault = Spin;

/// A way for a thread to wait until a 32-bit atomic word changes, and to wake such waiters.
///
/// The contract is the futex one:
/// - [`wait`](Wait::wait) returns when `atomic` no longer holds `expected`, and may also return
///   spuriously; the caller re-checks its condition in a loop.
/// - It must not miss a change: if the word is changed and [`wake_one`](Wait::wake_one) or
///   [`wake_all`](Wait::wake_all) is called after `wait` observed `expected`, the waiter
///   returns. (A backend that sleeps must check the word and go to sleep atomically with
///   respect to a wake, as the kernel's futex does.)
/// - A caller that changes the word and then calls `wake_*` needs no other ordering from the
///   backend: the waiter re-reads the word with the ordering its own protocol needs.
///
/// Backends are zero-sized types named in a type parameter (`Mutex<T, Futex>`), so the choice
/// costs nothing at run time.
///
/// # Safety
///
/// An implementation must never **write** to the word it is given: it may only read it
/// (compare it with `expected`, or pass its address to the OS or to a scheduler as a key).
/// The methods receive the primitive's own state word as `&AtomicU32`, so a backend that
/// stored to it (say, 0 into a [`RawMutex`](crate::RawMutex) held by another thread, or into a
/// ticket lock's "now serving" counter) would let two threads acquire the same lock and hand
/// out two `&mut T`. That is the one promise soundness rests on, hence an `unsafe trait`.
///
/// Everything else in the contract above is about liveness, and every primitive treats a
/// backend as untrusted for it:
/// - a `wait` that returns at once or spuriously only costs CPU time (every caller re-checks
///   its condition in a loop); one that sleeps through a change, misses a wake, or never
///   returns, a `wait_until` that reports "expired" after being woken, or a
///   [`WAKE_IS_NOOP`](Wait::WAKE_IS_NOOP) of `true` with a sleeping `wait`, only costs
///   liveness: a thread waits longer or forever;
/// - a method that panics: each primitive leaves its word as its guards say (a ticket lock
///   waiter's drawn ticket is still served, a barrier party is taken out of the count and the
///   barrier breaks, a condition variable or queue waiter deregisters, no permit or lock is
///   taken or lost); a sleeper flag left set costs the next release one needless wake call,
///   and that release clears it. `tests/fault_sync.rs`, `tests/fault_condvar.rs` and
///   `tests/fault_queue.rs` check each primitive with a backend that panics and with one that
///   is slow. A panic in `wake_*` while a primitive is already unwinding aborts the process
///   (Rust's rule for a panic during unwinding; nothing catches it, with or without `std`:
///   `tests/fault_wake_unwind.rs` shows the abort), so a backend's wake should not panic.
///
/// # Examples
///
/// A backend for a scheduler that can only "run something else":
///
/// ```
/// use baresync::sync::atomic::{AtomicU32, Ordering::Relaxed};
/// use baresync::{Deadline, Mutex, Wait};
///
/// fn run_other_tasks() { /* the RTOS's yield */ }
///
/// struct RtosYield;
///
/// // SAFETY: only reads the word it is given (or passes its address on); never writes it.
/// unsafe impl Wait for RtosYield {
///     fn wait(atomic: &AtomicU32, expected: u32) {
///         if atomic.load(Relaxed) == expected {
///             run_other_tasks();
///         }
///     }
///     fn wait_until(atomic: &AtomicU32, expected: u32, deadline: &mut impl Deadline) -> bool {
///         if deadline.expired() {
///             return false;
///         }
///         Self::wait(atomic, expected);
///         true
///     }
///     fn wake_one(_: &AtomicU32) {}
///     fn wake_all(_: &AtomicU32) {}
/// }
///
/// static SHARED: Mutex<u32, RtosYield> = Mutex::with_wait(0);
/// *SHARED.lock() += 1;
/// assert_eq!(*SHARED.lock(), 1);
/// ```
pub unsafe trait Wait {
    /// `true` when [`wake_one`](Wait::wake_one) and [`wake_all`](Wait::wake_all) do nothing
    /// (waiters poll). Primitives then skip the bookkeeping that only exists to avoid needless
    /// wake calls: a spin-backed mutex unlocks with a plain store instead of a swap.
    ///
    /// Leave it `false` (the default) for any backend whose waiters can sleep: a `true` here
    /// with a sleeping `wait` loses wake-ups.
    const WAKE_IS_NOOP: bool = false;

    /// `true` when [`wait`](Wait::wait) only polls the word on the calling thread's core: it
    /// never yields, sleeps or otherwise lets another thread run in the caller's place (as
    /// [`Spin`]). A primitive may then poll the word itself, on a schedule that
    /// knows more than the backend does, instead of calling `wait` at all: a
    /// [`RawTicketLock`](crate::RawTicketLock) waiter pauses in proportion to its place in
    /// line. Such a backend should also set [`WAKE_IS_NOOP`](Wait::WAKE_IS_NOOP), since
    /// nobody sleeps.
    ///
    /// Leave it `false` (the default) for any backend that yields or sleeps: a `true` there
    /// only costs liveness (waiters keep their core, and `wait` may never be called), never
    /// soundness. Added after the trait was published, with a default, so existing
    /// implementations are unchanged.
    const SPINS_ONLY: bool = false;

    /// Waits while `atomic` holds `expected`; may return spuriously.
    fn wait(atomic: &AtomicU32, expected: u32);

    /// Like [`wait`](Wait::wait), but gives up once `deadline` has expired and returns `false`
    /// then. Returns `true` when it stopped waiting for any other reason (including
    /// spuriously).
    ///
    /// It must return `true` whenever it may have been woken: primitives wake a single
    /// sleeper (`wake_one`) and count on the woken thread to retry, and a waiter that reported
    /// "expired" after consuming that wake would leave the other sleepers asleep.
    fn wait_until(atomic: &AtomicU32, expected: u32, deadline: &mut impl Deadline) -> bool;

    /// Wakes at least one thread waiting on `atomic`, if any waits.
    ///
    /// Should not panic. Primitives call it from `Drop` (a guard's unlock, a permit's
    /// release, a `Once` initializer's reset), also while a panic unwinds through the
    /// critical section, where a second panic aborts the process: Rust's rule, which no
    /// primitive tries to catch (`no_std` cannot). Outside an unwind, a panic here propagates
    /// and the primitive stays as its guards say (see the trait's docs).
    fn wake_one(atomic: &AtomicU32);

    /// Wakes every thread waiting on `atomic`.
    ///
    /// Should not panic: as for [`wake_one`](Wait::wake_one), a panic while the caller is
    /// already unwinding aborts the process.
    fn wake_all(atomic: &AtomicU32);
}

/// Bounded exponential backoff for spin loops.
///
/// Each [`spin`](Backoff::spin) issues `2^step` spin hints, doubling up to
/// `2^`[`Backoff::LIMIT`] and staying there. Backing off spreads out the retries of many
/// spinners so the cache line they contend on is not bounced on every cycle; the bound keeps
/// the added hand-off latency small (64 `pause`s are 1–10 µs on current x86 cores).
///
/// Under loom, a spin is one yield to the model checker and completes the backoff at once.
///
/// # Examples
///
/// ```
/// use baresync::sync::atomic::{AtomicBool, Ordering::Acquire};
/// use baresync::wait::Backoff;
///
/// let ready = AtomicBool::new(true);
/// let mut backoff = Backoff::new();
/// while !ready.load(Acquire) {
///     backoff.spin();
/// }
/// ```
#[derive(Debug, Clone)]
pub struct Backoff {
    /// Spin hints in the next round: `2^step`, kept as the count itself (1, 2, 4, ... up to
    /// `2^LIMIT`), so a round is a count-down loop and a shift, the smallest code for the
    /// spin loops every primitive inlines (`docs/code-size.md`).
    spins: u32,
}

impl Backoff {
    /// The largest step: at most `2^LIMIT` spin hints per [`spin`](Backoff::spin).
    ///
    /// Chosen by measurement on x86_64 (see `docs/design.md`): 6 keeps the worst added
    /// hand-off latency near that of one cross-core cache miss times the spin count, while
    /// larger limits lengthened hand-offs without raising contended throughput.
    pub const LIMIT: u32 = 6;

    /// A fresh backoff, starting with a single spin hint.
    #[inline]
    pub const fn new() -> Self {
        Backoff { spins: 1 }
    }

    /// Spins for the current step, then doubles the next one (up to the limit).
    #[inline]
    pub fn spin(&mut self) {
        #[cfg(baresync_loom)]
        {
            crate::sync::spin_loop();
            // One yield stands for the whole backoff: callers that switch strategy once the
            // backoff is spent (to sleeping) must reach that path inside a small model.
            self.spins = 1 << Self::LIMIT;
        }
        #[cfg(not(baresync_loom))]
        {
            // At least one hint: `spins` is never 0.
            let mut n = self.spins;
            loop {
                crate::sync::spin_loop();
                n -= 1;
                if n == 0 {
                    break;
                }
            }
            if self.spins < 1 << Self::LIMIT {
                self.spins <<= 1;
            }
        }
    }

    /// Spin hints in one whole backoff, from the first round to the limit: what a waiter
    /// polling at full rate spends in the same time. One under loom.
    pub(crate) const PAUSES_PER_BACKOFF: u32 = Self::pauses_in(Self::LIMIT + 1);

    /// Spin hints in the first `rounds` rounds of a backoff. One under loom, where a single
    /// round stands for the whole backoff.
    pub(crate) const fn pauses_in(rounds: u32) -> u32 {
        if cfg!(baresync_loom) {
            return 1;
        }
        let ramp = if rounds < Self::LIMIT {
            rounds
        } else {
            Self::LIMIT
        };
        // Rounds 0..ramp spin 1, 2, 4, ... hints; every round after them 2^LIMIT.
        ((1 << ramp) - 1) + (rounds - ramp) * (1 << Self::LIMIT)
    }

    /// One backoff round; once the backoff is spent, with feature `std`, yields the thread
    /// instead (the thread being waited for may be descheduled, and only the scheduler can run
    /// it). Without `std`, the same as [`spin`](Backoff::spin).
    #[inline]
    pub(crate) fn snooze(&mut self) {
        #[cfg(all(feature = "std", not(baresync_loom)))]
        if self.is_completed() {
            std::thread::yield_now();
            return;
        }
        self.spin();
    }

    /// Whether the backoff has reached its limit: a caller that can do something better than
    /// spin (yield, sleep) should do it now.
    #[inline]
    pub fn is_completed(&self) -> bool {
        self.spins >= 1 << Self::LIMIT
    }

    /// Starts over from a single spin hint.
    #[inline]
    pub fn reset(&mut self) {
        self.spins = 1;
    }
}

impl Default for Backoff {
    fn default() -> Self {
        Self::new()
    }
}

/// Backoff rounds a waiter spins before it waits through a sleeping backend (after the first
/// `Backoff::LIMIT` rounds, each is `2^LIMIT` spin hints: about 4000 hints in all, tens of µs).
///
/// It must outlast a wake-up: a waiter that sleeps sooner makes the next hand-off wait for its
/// wake-up, during which the next waiter gives up and sleeps too, and the lock settles into a
/// convoy paying a wake-up per acquisition. Measured with criterion, contended increments on 2
/// cores: the ticket lock went from 3.6 µs to 64 ns each, `Mutex<Futex>` from 33.5 ns to
/// 21 ns (`parking_lot::Mutex` 30 ns in the same run). One round under loom, to keep the
/// models small.
#[cfg(not(baresync_loom))]
pub(crate) const SPIN_ROUNDS_BEFORE_SLEEP: u32 = 64;
#[cfg(baresync_loom)]
pub(crate) const SPIN_ROUNDS_BEFORE_SLEEP: u32 = 1;

/// What a waiter with a sleeping backend does before it sleeps: `SPIN_ROUNDS_BEFORE_SLEEP`
/// rounds of polling, spin hints while the backoff ramps up and then, with feature `std`, a
/// yield per round ([`Backoff::snooze`]).
///
/// Used where a waiter waits for a one-off change another thread makes (a barrier's last
/// party, a notification, a `set`, an item or a free slot in a queue). The yields matter when
/// threads outnumber cores: the thread being waited for may need this core, and a waiter that
/// only spins would hold it for the whole budget. Measured with `host-runner bench`
/// (`--quick`, 2 cores): a `Barrier<Futex>` round with 2 threads 24.6 µs with one backoff and
/// then sleep (as slow as `std::sync::Barrier`), 0.2 µs with this; with 4 threads, 43 µs
/// spinning the whole budget, 1.6 µs yielding through it. `Condvar<Futex>` ping-pong: 55 µs a
/// round trip before, 0.38 µs after.
///
/// Not used by the semaphores, whose waiters compete for the word they poll: a waiter inside
/// a yield misses the release and the running thread takes the permit again. Measured:
/// `Semaphore<Futex>` with 8 threads on 2 cores fell from 13.4–14.5M to 9.0–9.3M/s; it keeps
/// its own spin-only budget. `RawMutex` measured such a loss too once (2 threads, 47.5M to
/// 32.4M acquisitions/s) but, measured again for issue 15 with threads outnumbering cores,
/// gained from yielding; it has its own shorter budget, 3 spin rounds and then yields (its
/// `POLL_ROUNDS`, `docs/design.md`).
#[derive(Debug)]
pub(crate) struct PreSleep {
    backoff: Backoff,
    rounds: u32,
}

impl PreSleep {
    #[inline]
    pub(crate) const fn new() -> Self {
        PreSleep {
            backoff: Backoff::new(),
            rounds: 0,
        }
    }

    /// Polls one more round and returns `true`, or returns `false` once the budget is spent
    /// (time to sleep).
    #[inline]
    pub(crate) fn poll(&mut self) -> bool {
        if self.rounds >= SPIN_ROUNDS_BEFORE_SLEEP {
            return false;
        }
        self.rounds += 1;
        self.backoff.snooze();
        true
    }

    /// One round of the backoff alone, without counting it against the budget: for a waiter
    /// whose backend only spins (`Wait::SPINS_ONLY`) and so never sleeps.
    #[inline]
    pub(crate) fn spin(&mut self) {
        self.backoff.spin();
    }
}

/// Waits through `W`, with a deadline (`Some`) or without (`None`); returns `false` only when
/// the deadline expired.
///
/// Lets a primitive write its blocking slow path once for both `op()` and `op_until()`:
/// without a deadline the backend's untimed `wait` is used, so a sleeping backend never polls.
#[inline]
pub(crate) fn wait_for<W: Wait, D: Deadline>(
    atomic: &AtomicU32,
    expected: u32,
    deadline: Option<&mut D>,
) -> bool {
    match deadline {
        None => {
            W::wait(atomic, expected);
            true
        }
        Some(d) => W::wait_until(atomic, expected, d),
    }
}

/// The deadline type of an untimed wait (`None::<&mut Forever>`); it has no values.
pub(crate) enum Forever {}

impl Deadline for Forever {
    fn expired(&mut self) -> bool {
        match *self {}
    }
}
