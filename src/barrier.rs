//! `Barrier<W>`: a reusable barrier that elects a leader and can be broken (Python's Barrier).
//!
//! Algorithm: a sense-reversing counting barrier (Mellor-Crummey and Scott, "Algorithms for
//! Scalable Synchronization on Shared-Memory Multiprocessors", 1991, the centralized barrier),
//! with the "sense" widened to a generation counter and the count, the generation and the
//! broken flags packed into one 32-bit word, so that arriving, completing a generation, breaking
//! and resetting are each one compare-and-swap on that word, and waiters wait on it through
//! `W`. The alternative of a lock and a condition variable (std's `Barrier`) costs a lock round
//! trip per party and a wake per generation; it was rejected for that.
//!
//! Guarantees:
//! - exactly one party per generation gets [`BarrierWaitResult::is_leader`] `true` (the last
//!   to arrive);
//! - everything each party did before [`wait`](Barrier::wait) happens-before everything every
//!   party does after its `wait` returns `Ok`;
//! - generations never overlap: a fast party that re-enters `wait` for the next generation
//!   while slow ones are still leaving the previous one is counted in the next generation;
//! - [`abort`](Barrier::abort), and a [`wait_until`](Barrier::wait_until) whose deadline
//!   expires, break the barrier: every party waiting and every later caller gets
//!   [`BarrierError::Broken`] (the one that timed out gets [`BarrierError::Timeout`]) until
//!   [`reset`](Barrier::reset) (Python's rule). An `Err` carries no happens-before: a party
//!   that gets `Broken` is not promised to see what the thread that called `abort` wrote
//!   before it (breaking is a Relaxed write); hand such data over by other means;
//! - a party that unwinds out of `wait` or `wait_until` (a panicking deadline or `W`) is
//!   treated as one that timed out: it is no longer counted and the barrier is broken, so the
//!   others get `Broken` instead of waiting for it forever (a party that will never arrive
//!   means the group cannot meet). If its generation had completed first, nothing changes;
//! - `reset` breaks exactly the parties waiting at that moment; a party of a generation that
//!   completed keeps its `Ok` however late it wakes. Only the last arrival of a generation
//!   advances the generation counter (never `abort` or `reset`), so while a party waits the
//!   counter moves at most once and cannot come back to the party's value: its 13 bits never
//!   wrap onto a waiter. Instead, the count of parties inside survives `abort` and `reset`:
//!   each party leaving a broken generation takes itself out, and after a `reset` new callers
//!   wait until the parties it broke have all left (Python's "draining");
//! - waking is free while nobody sleeps: a waiter announces that it may sleep with a flag, and
//!   only then does the leader make a wake call.
//!
//! Progress: arriving is lock-free, except right after a `reset` that broke parties which have
//! not left yet (a caller waits for them, as in Python); leaving is blocking by nature (a party
//! waits for the last one). With more threads than cores, a [`Spin`](crate::Spin) waiter may spin away its time slice while the
//! last party waits to be scheduled: use `Yield` or `Futex` there.
//!
//! The barrier is meant for exactly `parties` threads. More threads calling `wait` at once is
//! memory-safe but the grouping of threads into generations is then unspecified (a thread may
//! get `Err(Broken)` after a `reset` that it did not race with, and one descheduled for 8192
//! generations may wait on until the generation after).

use crate::sync::atomic::{
    AtomicU32,
    Ordering::{AcqRel, Acquire, Relaxed, Release},
};
use crate::sync::const_fn;
use crate::wait::{wait_for, DefaultWait, Forever, PreSleep, Wait};
use crate::Deadline;
use core::fmt;
use core::marker::PhantomData;

/// Bits 0..16: parties inside the current generation (arrived and not yet left).
const ARRIVED_MASK: u32 = 0xFFFF;
/// The barrier is broken (aborted or timed out) until `reset`.
const BROKEN: u32 = 1 << 16;
/// `reset` was called while parties were inside: they leave with `Broken`, and new callers
/// wait until the last of them has left (the arrival count drains to 0), which clears it.
const RESETTING: u32 = 1 << 17;
/// A thread may sleep on the word: whoever changes what sleepers wait for must wake them.
const SLEEPERS: u32 = 1 << 18;
/// One step of the generation counter (bits 19..32, wrapping). Only the last arrival of a
/// generation advances it (never `abort` or `reset`), so while a party waits it can advance
/// at most once (the next generation cannot complete without that party), and its width
/// does not matter for correctness.
const GEN_ONE: u32 = 1 << 19;
const GEN_MASK: u32 = !(GEN_ONE - 1);

/// A reusable barrier for `parties` threads that waits through `W`.
///
/// # Examples
///
/// ```
/// use baresync::Barrier;
/// use std::sync::atomic::{AtomicU32, Ordering::Relaxed};
///
/// static BARRIER: Barrier = Barrier::new(3);
/// static DONE: AtomicU32 = AtomicU32::new(0);
///
/// let threads: Vec<_> = (0..3)
///     .map(|_| {
///         std::thread::spawn(|| {
///             DONE.fetch_add(1, Relaxed);
///             let r = BARRIER.wait().unwrap();
///             // Every party has done its part of phase one.
///             assert_eq!(DONE.load(Relaxed), 3);
///             r.is_leader()
///         })
///     })
///     .collect();
/// let leaders = threads.into_iter().map(|t| t.join().unwrap());
/// assert_eq!(leaders.filter(|&leader| leader).count(), 1);
/// ```
#[repr(C)]
pub struct Barrier<W = DefaultWait> {
    /// bits 0..16: inside · 16: BROKEN · 17: RESETTING · 18: SLEEPERS · 19..32: generation
    state: AtomicU32,
    /// How many parties complete a generation (1..=MAX_PARTIES).
    parties: u32,
    _wait: PhantomData<fn() -> W>,
}

/// What [`Barrier::wait`] returns to each party of a completed generation.
///
/// # Examples
///
/// ```
/// let barrier = baresync::Barrier::<baresync::Spin>::with_wait(1);
/// assert!(barrier.wait().unwrap().is_leader());
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BarrierWaitResult {
    pub(crate) leader: bool,
}

impl BarrierWaitResult {
    /// `true` for exactly one party per generation: the last one to arrive.
    ///
    /// # Examples
    ///
    /// ```
    /// static BARRIER: baresync::Barrier = baresync::Barrier::new(1);
    /// assert!(BARRIER.wait().unwrap().is_leader());
    /// ```
    #[inline]
    pub fn is_leader(&self) -> bool {
        self.leader
    }
}

/// Why [`Barrier::wait`] did not complete a generation.
///
/// # Examples
///
/// ```
/// use baresync::{Barrier, BarrierError};
///
/// static BARRIER: Barrier = Barrier::new(2);
/// BARRIER.abort();
/// assert_eq!(BARRIER.wait(), Err(BarrierError::Broken));
/// assert_eq!(BarrierError::Broken.to_string(), "the barrier is broken");
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BarrierError {
    /// The barrier was broken (by [`Barrier::abort`], by another party's timeout or unwind,
    /// or by [`Barrier::reset`] while this party waited).
    Broken,
    /// This party's deadline expired; it broke the barrier for everyone.
    Timeout,
}

impl fmt::Display for BarrierError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            BarrierError::Broken => "the barrier is broken",
            BarrierError::Timeout => "timed out waiting at the barrier",
        })
    }
}

impl core::error::Error for BarrierError {}

impl Barrier {
    const_fn! {
        /// A barrier that releases its waiters each time `parties` threads have called
        /// [`wait`](Barrier::wait); usable in a `static`.
        ///
        /// `parties` is a `usize`, as in std's `Barrier::new`: it counts threads, which code
        /// counts in `usize` (`available_parallelism`, `Vec::len`). A semaphore's count is a
        /// `u32` instead, because it is the word its `Wait` backend waits on; here the waited-on
        /// word holds the arrivals, and the bound is [`MAX_PARTIES`](Barrier::MAX_PARTIES).
        ///
        /// # Panics
        ///
        /// If `parties` is 0 (a barrier nobody can complete is a bug, not a configuration:
        /// Python raises `ValueError`; std's `Barrier` silently treats 0 as 1) or above
        /// [`MAX_PARTIES`](Barrier::MAX_PARTIES). In a `const` or `static` initializer the panic
        /// is a compile error:
        ///
        /// ```compile_fail
        /// static NOBODY: baresync::Barrier = baresync::Barrier::new(0);
        /// ```
        ///
        /// # Examples
        ///
        /// ```
        /// static PHASE: baresync::Barrier = baresync::Barrier::new(4);
        /// assert_eq!(PHASE.parties(), 4);
        ///
        /// // No annotation needed, and shared the usual way:
        /// let shared = std::sync::Arc::new(baresync::Barrier::new(3));
        /// assert_eq!(shared.parties(), 3);
        /// ```
        #[inline]
        pub const fn new(parties: usize) -> Self {
            Self::with_wait(parties)
        }
    }
}

impl<W: Wait> Barrier<W> {
    /// The largest number of parties a barrier can have: 65535 (the arrival count has 16 bits
    /// of the state word).
    ///
    /// # Examples
    ///
    /// ```
    /// assert_eq!(baresync::Barrier::<baresync::Spin>::MAX_PARTIES, 65535);
    /// ```
    pub const MAX_PARTIES: usize = ARRIVED_MASK as usize;

    const_fn! {
        /// Like [`new`](Barrier::new), with the wait backend `W` named by the type;
        /// usable in a `static`. (`new` builds the default backend,
        /// [`DefaultWait`]: `rustc` does not use a type parameter's
        /// default to infer it, so one constructor cannot serve both.)
        ///
        /// # Panics
        ///
        /// As [`new`](Barrier::new).
        ///
        /// # Examples
        ///
        /// ```
        /// use baresync::{Barrier, Spin};
        ///
        /// static PHASE: Barrier<Spin> = Barrier::with_wait(2);
        /// assert_eq!(PHASE.parties(), 2);
        /// ```
        #[inline]
        pub const fn with_wait(parties: usize) -> Self {
            assert!(parties != 0, "a Barrier needs at least one party");
            assert!(parties <= ARRIVED_MASK as usize, "a Barrier has at most 65535 parties");
            Barrier { state: AtomicU32::new(0), parties: parties as u32, _wait: PhantomData }
        }
    }

    /// A barrier whose generation counter starts at `gen` (mod 2^13), for the wrap-around tests.
    #[cfg(test)]
    fn at_generation(parties: usize, gen: u32) -> Self {
        let b = Self::with_wait(parties);
        b.state.store(gen.wrapping_mul(GEN_ONE), Relaxed);
        b
    }

    /// Waits until `parties` threads (this one included) have called `wait`, then returns in
    /// all of them; exactly one gets [`is_leader`](BarrierWaitResult::is_leader) `true`.
    ///
    /// # Errors
    ///
    /// [`BarrierError::Broken`] if the barrier is broken when called or becomes broken while
    /// waiting ([`abort`](Barrier::abort), another party's timeout, [`reset`](Barrier::reset)).
    ///
    /// # Examples
    ///
    /// ```
    /// use baresync::{Barrier, Futex};
    ///
    /// static BARRIER: Barrier<Futex> = Barrier::with_wait(2);
    /// let other = std::thread::spawn(|| BARRIER.wait().unwrap().is_leader());
    /// let me = BARRIER.wait().unwrap().is_leader();
    /// assert!(me ^ other.join().unwrap());
    /// ```
    #[inline]
    #[cfg_attr(all(feature = "lockdep", not(baresync_loom)), track_caller)]
    pub fn wait(&self) -> Result<BarrierWaitResult, BarrierError> {
        lockdep_hook! {
            crate::lockdep::before_acquire(crate::lockdep::key(self), "Barrier");
            crate::lockdep::arrive(crate::lockdep::key(self), "Barrier");
        }
        self.wait_inner(None::<&mut Forever>)
    }

    /// Like [`wait`](Barrier::wait), but gives up once `deadline` expires, breaking the
    /// barrier for every other party (Python's rule: a party that stops waiting means the
    /// group cannot meet).
    ///
    /// # Errors
    ///
    /// [`BarrierError::Timeout`] to the party whose deadline expired (only if the generation
    /// had not completed by then); [`BarrierError::Broken`] as for `wait`.
    ///
    /// # Panics
    ///
    /// If `deadline` (or `W`) panics, the panic propagates once this party has been taken out
    /// of the barrier, which it breaks as a timeout would (unless its generation had completed
    /// already): the other parties get `Broken` instead of waiting for it forever.
    ///
    /// # Examples
    ///
    /// ```
    /// use baresync::{Barrier, BarrierError};
    ///
    /// static BARRIER: Barrier = Barrier::new(2);
    /// let mut polls = 0;
    /// let r = BARRIER.wait_until(|| { polls += 1; polls > 100 });
    /// assert_eq!(r, Err(BarrierError::Timeout));
    /// assert!(BARRIER.is_broken());
    /// BARRIER.reset();
    /// assert!(!BARRIER.is_broken());
    /// ```
    #[inline]
    #[cfg_attr(all(feature = "lockdep", not(baresync_loom)), track_caller)]
    pub fn wait_until(
        &self,
        mut deadline: impl Deadline,
    ) -> Result<BarrierWaitResult, BarrierError> {
        // A timed wait adds no order (it has a way out), but the arrival still ends the
        // other parties' waits.
        lockdep_hook! { crate::lockdep::arrive(crate::lockdep::key(self), "Barrier") }
        self.wait_inner(Some(&mut deadline))
    }

    /// Like [`wait_until`](Barrier::wait_until) with a deadline `timeout` from now.
    ///
    /// Needs feature `std` (a default feature).
    ///
    /// # Errors
    ///
    /// As for [`wait_until`](Barrier::wait_until).
    ///
    /// # Examples
    ///
    /// ```
    /// use baresync::{Barrier, BarrierError, Futex};
    /// use std::time::Duration;
    ///
    /// let barrier: Barrier<Futex> = Barrier::with_wait(2);
    /// assert_eq!(barrier.wait_timeout(Duration::from_millis(5)), Err(BarrierError::Timeout));
    /// ```
    #[cfg(feature = "std")]
    #[cfg_attr(docsrs, doc(cfg(feature = "std")))]
    #[inline]
    #[cfg_attr(all(feature = "lockdep", not(baresync_loom)), track_caller)]
    pub fn wait_timeout(
        &self,
        timeout: core::time::Duration,
    ) -> Result<BarrierWaitResult, BarrierError> {
        self.wait_until(crate::deadline::Timeout::after(timeout))
    }

    /// Breaks the barrier: every party waiting now, and every later caller of `wait`, gets
    /// [`BarrierError::Broken`] until [`reset`](Barrier::reset). An `abort` after a `reset`
    /// whose waiters have not all left yet cancels that reset (as in Python).
    ///
    /// # Examples
    ///
    /// ```
    /// static BARRIER: baresync::Barrier = baresync::Barrier::new(2);
    /// BARRIER.abort();
    /// assert!(BARRIER.is_broken());
    /// assert!(BARRIER.wait().is_err());
    /// ```
    pub fn abort(&self) {
        // The parties inside stay counted: each one leaves (decrements) on its way out.
        self.break_with(|s| (s | BROKEN) & !(RESETTING | SLEEPERS));
    }

    /// Moves the state word to `next(s)` (which clears `SLEEPERS`) unless it is there already,
    /// and wakes the sleepers the old word announced: `abort` and `reset`, written once.
    fn break_with(&self, next: impl Fn(u32) -> u32) {
        // ORDERING: Relaxed: a first guess for the compare-exchange.
        let mut s = self.state.load(Relaxed);
        loop {
            let n = next(s);
            if n == s {
                return; // already there, nobody to wake
            }
            // ORDERING: Relaxed: a broken barrier promises no happens-before to anyone (an
            // error return carries no data); the flags themselves are seen by every later RMW
            // and by the waiters' loads through coherence of this one word.
            match self.state.compare_exchange_weak(s, n, Relaxed, Relaxed) {
                Ok(_) => {
                    if s & SLEEPERS != 0 {
                        self.wake_slow();
                    }
                    return;
                }
                Err(now) => s = now,
            }
        }
    }

    /// Returns the barrier to its initial state: not broken, nobody arrived. Parties waiting
    /// at that moment get [`BarrierError::Broken`]; parties of a generation that had already
    /// completed keep their `Ok`, however late they wake (as in Python).
    ///
    /// `reset` never waits. If parties it breaks have not left yet (a thread descheduled inside
    /// `wait`), later callers of `wait` wait until they have, so that the next generation
    /// counts only its own parties (Python's "draining").
    ///
    /// # Examples
    ///
    /// ```
    /// static BARRIER: baresync::Barrier = baresync::Barrier::new(1);
    /// BARRIER.abort();
    /// BARRIER.reset();
    /// assert!(BARRIER.wait().is_ok());
    /// ```
    pub fn reset(&self) {
        self.break_with(|s| {
            if s & ARRIVED_MASK == 0 {
                // Nobody inside: fresh at once. The generation stays: it counts completions
                // only (see `GEN_ONE`).
                s & GEN_MASK
            } else {
                // The parties inside leave with `Broken`; the last one clears RESETTING.
                (s | RESETTING) & !(BROKEN | SLEEPERS)
            }
        });
    }

    /// Whether the barrier is broken right now (a snapshot). `false` as soon as
    /// [`reset`](Barrier::reset) returns, even while the parties it broke are still leaving.
    ///
    /// # Examples
    ///
    /// ```
    /// static BARRIER: baresync::Barrier = baresync::Barrier::new(2);
    /// assert!(!BARRIER.is_broken());
    /// ```
    #[inline]
    pub fn is_broken(&self) -> bool {
        // ORDERING: Relaxed: a snapshot for diagnostics.
        self.state.load(Relaxed) & BROKEN != 0
    }

    /// How many parties complete a generation.
    ///
    /// # Examples
    ///
    /// ```
    /// static BARRIER: baresync::Barrier = baresync::Barrier::new(5);
    /// assert_eq!(BARRIER.parties(), 5);
    /// ```
    #[inline]
    pub fn parties(&self) -> usize {
        self.parties as usize
    }

    /// How many parties are waiting in the current generation (0 while broken, and while the
    /// parties broken by a `reset` are leaving); a snapshot.
    ///
    /// # Examples
    ///
    /// ```
    /// use baresync::{Barrier, Futex};
    ///
    /// static BARRIER: Barrier<Futex> = Barrier::with_wait(2);
    /// let t = std::thread::spawn(|| BARRIER.wait().unwrap());
    /// while BARRIER.n_waiting() == 0 {
    ///     std::thread::yield_now();
    /// }
    /// BARRIER.wait().unwrap();
    /// t.join().unwrap();
    /// assert_eq!(BARRIER.n_waiting(), 0);
    /// ```
    #[inline]
    pub fn n_waiting(&self) -> usize {
        // ORDERING: Relaxed: a snapshot for diagnostics.
        let s = self.state.load(Relaxed);
        if s & (BROKEN | RESETTING) != 0 {
            0
        } else {
            (s & ARRIVED_MASK) as usize
        }
    }

    /// Arrival, then (unless this party completes the generation) the wait, written once for
    /// `wait` (`None`) and `wait_until` (`Some`).
    fn wait_inner<D: Deadline>(
        &self,
        mut deadline: Option<&mut D>,
    ) -> Result<BarrierWaitResult, BarrierError> {
        // ORDERING: Relaxed: a first guess for the compare-exchange.
        let mut s = self.state.load(Relaxed);
        // Arrive.
        loop {
            if s & BROKEN != 0 {
                return Err(BarrierError::Broken);
            }
            if s & RESETTING != 0 {
                s = self.drain_slow(&mut deadline)?;
                continue;
            }
            if (s & ARRIVED_MASK) + 1 == self.parties {
                // The last party: start the next generation (nobody inside, flags cleared).
                let next = (s & GEN_MASK).wrapping_add(GEN_ONE);
                // ORDERING: AcqRel. Acquire: every other party's arrival is a Release RMW of
                // this word and all later changes are RMWs, so they are in the release
                // sequences this read ends, and their writes before `wait` happen-before the
                // leader's return. Release: the waiters' Acquire loads that read `next` (or a
                // later RMW) then see those writes and the leader's.
                match self.state.compare_exchange_weak(s, next, AcqRel, Relaxed) {
                    Ok(_) => {
                        if s & SLEEPERS != 0 {
                            // A panicking `W::wake_all` leaves the word consistent; it only
                            // costs the sleepers their wake-up (liveness, not safety).
                            self.wake_slow();
                        }
                        return Ok(BarrierWaitResult { leader: true });
                    }
                    Err(now) => s = now,
                }
            } else {
                // ORDERING: Release: this party's writes before `wait` reach the leader, whose
                // AcqRel compare-exchange reads this value or a later RMW of it.
                match self.state.compare_exchange_weak(s, s + 1, Release, Relaxed) {
                    Ok(_) => break,
                    Err(now) => s = now,
                }
            }
        }
        self.wait_slow(s & GEN_MASK, deadline)
    }

    /// Waits, before arriving, until the parties broken by a `reset` have left; returns the
    /// state word then. A deadline that expires here, or an unwind out of the deadline or of
    /// `W`, breaks the barrier (it cancels the reset), as a timeout does after arriving.
    #[cold]
    fn drain_slow<D: Deadline>(&self, deadline: &mut Option<&mut D>) -> Result<u32, BarrierError> {
        let mut guard = AbortOnUnwind {
            barrier: self,
            armed: true,
        };
        let mut pre_sleep = PreSleep::new();
        let mut timed_out = false;
        loop {
            // ORDERING: Relaxed: the caller arrives with a compare-exchange that checks this
            // value again; the drain promises no happens-before.
            let s = self.state.load(Relaxed);
            if s & RESETTING == 0 {
                guard.armed = false;
                return Ok(s);
            }
            if timed_out {
                let next = (s | BROKEN) & !(RESETTING | SLEEPERS);
                // ORDERING: Relaxed: breaking promises no happens-before (see `abort`).
                if self
                    .state
                    .compare_exchange(s, next, Relaxed, Relaxed)
                    .is_ok()
                {
                    guard.armed = false;
                    if s & SLEEPERS != 0 {
                        self.wake_slow();
                    }
                    return Err(BarrierError::Timeout);
                }
                continue;
            }
            if !self.sleep(s, deadline, &mut pre_sleep) {
                timed_out = true;
            }
        }
    }

    /// Waits for generation `gen` (which this party joined) to end.
    #[cold]
    fn wait_slow<D: Deadline>(
        &self,
        gen: u32,
        mut deadline: Option<&mut D>,
    ) -> Result<BarrierWaitResult, BarrierError> {
        // An unwind out of the deadline or `W` (user code) leaves like a timeout: the party
        // stops being counted and breaks the barrier, so that nobody waits for it forever.
        let mut guard = LeaveOnUnwind {
            barrier: self,
            gen,
            armed: true,
        };
        let mut pre_sleep = PreSleep::new();
        let mut timed_out = false;
        loop {
            // ORDERING: Acquire pairs with the leader's AcqRel compare-exchange that starts the
            // next generation: the other parties' writes before `wait` happen-before our return.
            let s = self.state.load(Acquire);
            if s & GEN_MASK != gen {
                // Our generation completed. (Only completions advance the generation, and the
                // next one cannot complete without us, so any change means ours completed.)
                guard.armed = false;
                return Ok(BarrierWaitResult { leader: false });
            }
            if s & (BROKEN | RESETTING) != 0 || timed_out {
                let left = self.leave(gen, timed_out, &mut guard.armed);
                // `leave` disarmed the guard before it returned; saying so here spares the
                // normal path the guard's drop (a second `leave` call in the code).
                core::mem::forget(guard);
                return match left {
                    Leave::Completed => Ok(BarrierWaitResult { leader: false }),
                    Leave::Broke => Err(BarrierError::Timeout),
                    Leave::Left => Err(BarrierError::Broken),
                };
            }
            if !self.sleep(s, &mut deadline, &mut pre_sleep) {
                timed_out = true;
            }
        }
    }

    /// Takes this party (of generation `gen`) out of the count, breaking the barrier first if
    /// `break_it` and nobody has; the last party out of a `reset` generation clears
    /// `RESETTING`. Clears `*armed` once this party is out, before any wake call (user code).
    fn leave(&self, gen: u32, break_it: bool, armed: &mut bool) -> Leave {
        // ORDERING: Acquire: if our generation completed meanwhile we return `Ok`, and this
        // load (or the failed compare-exchange below) pairs with the leader's AcqRel, as in
        // `wait_slow`.
        let mut s = self.state.load(Acquire);
        loop {
            if s & GEN_MASK != gen {
                *armed = false;
                return Leave::Completed;
            }
            // Never below 0 (only reachable when more threads than `parties` use the barrier).
            let mut next = if s & ARRIVED_MASK != 0 { s - 1 } else { s };
            let breaks = break_it && s & (BROKEN | RESETTING) == 0;
            if breaks {
                next |= BROKEN;
            }
            let drained = next & RESETTING != 0 && next & ARRIVED_MASK == 0;
            if drained {
                next &= !RESETTING;
            }
            let wake = (breaks || drained) && s & SLEEPERS != 0;
            if wake {
                next &= !SLEEPERS;
            }
            // ORDERING: Relaxed on success: leaving a broken generation promises no
            // happens-before. Acquire on failure: see the load above.
            match self.state.compare_exchange_weak(s, next, Relaxed, Acquire) {
                Ok(_) => {
                    *armed = false;
                    if wake {
                        self.wake_slow();
                    }
                    return if breaks { Leave::Broke } else { Leave::Left };
                }
                Err(now) => s = now,
            }
        }
    }

    /// One step of a wait on the word, which held `s`: with a sleeping backend, poll for a
    /// while (`pre_sleep`), then announce a sleeper and sleep. Returns `false` once `deadline`
    /// has expired.
    fn sleep<D: Deadline>(
        &self,
        s: u32,
        deadline: &mut Option<&mut D>,
        pre_sleep: &mut PreSleep,
    ) -> bool {
        if W::SPINS_ONLY {
            // `W` would only poll (`Spin`): back off here, the caller's loop being the poll.
            if deadline.as_deref_mut().is_some_and(|d| d.expired()) {
                return false;
            }
            pre_sleep.spin();
            return true;
        }
        let mut expected = s;
        if !W::WAKE_IS_NOOP {
            // Poll first, for longer than a wake-up takes: the last party is often a few
            // hundred cycles away, and a party that sleeps sooner makes the convoy in which
            // every round waits for a wake-up (the leader is already back, spinning out a
            // short budget of its own, by the time the sleeper wakes). Measured with
            // `host-runner bench`, 2 threads on 2 cores: 24.6 µs a round with one backoff
            // here, as slow as `std::sync::Barrier`; 0.2 µs with `PreSleep`.
            if deadline.as_deref_mut().is_some_and(|d| d.expired()) {
                return false;
            }
            if pre_sleep.poll() {
                return true;
            }
            if s & SLEEPERS == 0 {
                // ORDERING: Relaxed: the flag only tells the next changer of the word to wake;
                // the happens-before comes from the caller's load.
                if self
                    .state
                    .compare_exchange(s, s | SLEEPERS, Relaxed, Relaxed)
                    .is_err()
                {
                    return true;
                }
                expected = s | SLEEPERS;
            }
        }
        wait_for::<W, D>(&self.state, expected, deadline.as_deref_mut())
    }

    #[cold]
    fn wake_slow(&self) {
        W::wake_all(&self.state);
    }
}

/// How [`Barrier::leave`] ended.
enum Leave {
    /// The party's generation had completed: it was not inside any more.
    Completed,
    /// The party left and broke the barrier.
    Broke,
    /// The party left a broken or resetting barrier.
    Left,
}

/// Takes an arrived party out of the barrier (breaking it) if its wait unwinds.
struct LeaveOnUnwind<'a, W: Wait> {
    barrier: &'a Barrier<W>,
    gen: u32,
    armed: bool,
}

impl<W: Wait> Drop for LeaveOnUnwind<'_, W> {
    fn drop(&mut self) {
        if self.armed {
            self.barrier.leave(self.gen, true, &mut self.armed);
        }
    }
}

/// Breaks the barrier if a party unwinds while it waits for a `reset` to drain.
struct AbortOnUnwind<'a, W: Wait> {
    barrier: &'a Barrier<W>,
    armed: bool,
}

impl<W: Wait> Drop for AbortOnUnwind<'_, W> {
    fn drop(&mut self) {
        if self.armed {
            self.barrier.abort();
        }
    }
}

impl<W> fmt::Debug for Barrier<W> {
    /// Never blocks: a snapshot of the state.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // ORDERING: Relaxed: a snapshot for display.
        let s = self.state.load(Relaxed);
        f.debug_struct("Barrier")
            .field("parties", &self.parties)
            .field("arrived", &(s & ARRIVED_MASK))
            .field("broken", &(s & BROKEN != 0))
            .field("generation", &(s >> GEN_ONE.trailing_zeros()))
            .finish()
    }
}

#[cfg(all(test, not(baresync_loom)))]
mod tests {
    use super::*;
    use crate::Spin;
    use std::format;

    #[test]
    fn one_party_is_always_leader() {
        let b: Barrier = Barrier::new(1);
        for _ in 0..10 {
            assert!(b.wait().unwrap().is_leader());
        }
        assert_eq!(b.n_waiting(), 0);
    }

    #[test]
    #[should_panic(expected = "at least one party")]
    fn zero_parties_panics() {
        let _ = Barrier::<Spin>::with_wait(core::hint::black_box(0));
    }

    #[test]
    #[should_panic(expected = "at most 65535")]
    fn too_many_parties_panics() {
        let _ = Barrier::<Spin>::with_wait(core::hint::black_box(65536));
    }

    #[test]
    fn max_parties_fits() {
        let b: Barrier = Barrier::new(Barrier::<Spin>::MAX_PARTIES);
        assert_eq!(b.parties(), 65535);
    }

    #[test]
    fn timeout_breaks_then_reset_repairs() {
        let b: Barrier = Barrier::new(2);
        assert_eq!(b.wait_until(|| true), Err(BarrierError::Timeout));
        assert!(b.is_broken());
        assert_eq!(b.n_waiting(), 0);
        assert_eq!(b.wait(), Err(BarrierError::Broken));
        assert_eq!(b.wait_until(|| false), Err(BarrierError::Broken));
        b.reset();
        assert!(!b.is_broken());
        assert_eq!(b.n_waiting(), 0);
        // Usable again: a 2-party barrier needs a second arrival; time out once more.
        assert_eq!(b.wait_until(|| true), Err(BarrierError::Timeout));
    }

    #[test]
    fn reset_of_fresh_barrier_is_noop() {
        let b: Barrier = Barrier::new(1);
        b.reset();
        assert!(b.wait().is_ok());
        b.abort();
        b.abort();
        assert!(b.is_broken());
        b.reset();
        assert!(b.wait().unwrap().is_leader());
    }

    #[test]
    fn generation_wraps() {
        let b: Barrier = Barrier::new(1);
        for _ in 0..(1u32 << 13) + 5 {
            assert!(b.wait().unwrap().is_leader());
        }
    }

    /// The generation counter is driven past its wrap (13 bits) by real rounds, with one
    /// party and with several threads; the leader count and the lockstep stay right.
    #[test]
    fn generation_wraps_from_near_its_end() {
        let top = GEN_MASK >> GEN_ONE.trailing_zeros();
        let b: Barrier = Barrier::at_generation(1, top - 2);
        for _ in 0..6 {
            assert!(b.wait().unwrap().is_leader());
        }
        assert_eq!(b.state.load(Relaxed) & GEN_MASK, 3 * GEN_ONE);

        const PARTIES: usize = 3;
        const ROUNDS: usize = 8;
        let b: std::sync::Arc<Barrier> =
            std::sync::Arc::new(Barrier::at_generation(PARTIES, top - 2));
        let arrived: std::sync::Arc<[std::sync::atomic::AtomicUsize; ROUNDS]> =
            std::sync::Arc::new(core::array::from_fn(|_| Default::default()));
        let threads: std::vec::Vec<_> = (0..PARTIES)
            .map(|_| {
                let (b, arrived) = (b.clone(), arrived.clone());
                std::thread::spawn(move || {
                    let mut leaders = 0;
                    for round in 0..ROUNDS {
                        arrived[round].fetch_add(1, Relaxed);
                        leaders += usize::from(b.wait().unwrap().is_leader());
                        assert_eq!(arrived[round].load(Relaxed), PARTIES);
                    }
                    leaders
                })
            })
            .collect();
        let leaders: usize = threads.into_iter().map(|t| t.join().unwrap()).sum();
        assert_eq!(leaders, ROUNDS);
        assert_eq!(b.state.load(Relaxed), 5 * GEN_ONE);
    }

    /// A party of the last generation before the wrap, held inside while `abort` and `reset`
    /// cycle: they never move the generation, so it comes back `Broken`, and the drain leaves
    /// the word clean (nobody counted, no flags).
    #[test]
    fn reset_at_the_wrap_drains_to_a_clean_word() {
        let top = GEN_MASK >> GEN_ONE.trailing_zeros();
        let b: Barrier<Spin> = Barrier::at_generation(2, top);
        // Arrive by hand, as a party that is now descheduled would have.
        b.state.fetch_add(1, Relaxed);
        for _ in 0..3 {
            b.abort();
            b.reset();
        }
        assert_eq!(b.state.load(Relaxed), (top * GEN_ONE) | RESETTING | 1);
        assert_eq!(b.n_waiting(), 0);
        assert!(!b.is_broken());
        // The held party wakes up and leaves.
        assert_eq!(
            b.wait_slow(top * GEN_ONE, None::<&mut Forever>),
            Err(BarrierError::Broken)
        );
        assert_eq!(b.state.load(Relaxed), top * GEN_ONE);
        assert!(b.wait_until(|| true) == Err(BarrierError::Timeout));
        assert_eq!(b.state.load(Relaxed), (top * GEN_ONE) | BROKEN);
        b.reset();
        assert_eq!(b.state.load(Relaxed), top * GEN_ONE);
    }

    /// A deadline that panics while the party waits: the party is taken out of the count and
    /// the barrier is broken (as on a timeout); no sleeper flag is left behind.
    #[test]
    fn deadline_panic_leaves_and_breaks() {
        let b: Barrier<Spin> = Barrier::with_wait(3);
        let r = std::panic::catch_unwind(core::panic::AssertUnwindSafe(|| {
            let mut n = 0;
            b.wait_until(move || {
                n += 1;
                if n == 3 {
                    panic!("injected");
                }
                false
            })
        }));
        assert!(r.is_err());
        assert_eq!(b.state.load(Relaxed), BROKEN);
        b.reset();
        assert_eq!(b.state.load(Relaxed), 0);
    }

    /// A deadline that panics while the party waits for a `reset` to drain: the barrier is
    /// broken (the reset is cancelled); the party never arrived.
    #[test]
    fn deadline_panic_while_draining_breaks() {
        let b: Barrier<Spin> = Barrier::with_wait(2);
        b.state.fetch_add(1, Relaxed); // a party inside, descheduled
        b.reset();
        let r = std::panic::catch_unwind(core::panic::AssertUnwindSafe(|| {
            b.wait_until(|| panic!("injected"))
        }));
        assert!(r.is_err());
        assert_eq!(b.state.load(Relaxed), BROKEN | 1);
        assert_eq!(
            b.wait_slow(0, None::<&mut Forever>),
            Err(BarrierError::Broken)
        );
        assert_eq!(b.state.load(Relaxed), BROKEN);
    }

    /// A party whose `W::wait` panics (after it set the sleeper flag) leaves the count and
    /// breaks the barrier; the flag is cleared with the wake call that breaking makes, so no
    /// ghost sleeper is left for later changes of the word to pay for.
    #[test]
    fn panicking_wait_leaves_and_breaks_without_a_ghost() {
        use crate::wait::testing::{must_panic, PanickyWait};
        let b: Barrier<PanickyWait> = Barrier::with_wait(2);
        PanickyWait::arm(1);
        must_panic(|| b.wait());
        assert_eq!(b.state.load(Relaxed), BROKEN);
        let wakes = PanickyWait::wakes();
        b.reset();
        assert_eq!(b.state.load(Relaxed), 0);
        assert_eq!(b.wait_until(|| true), Err(BarrierError::Timeout));
        b.abort();
        b.reset();
        assert_eq!(
            PanickyWait::wakes(),
            wakes,
            "no wake call without a sleeper"
        );
    }

    #[test]
    fn errors_display_and_debug() {
        assert_eq!(
            format!("{}", BarrierError::Timeout),
            "timed out waiting at the barrier"
        );
        let b: Barrier = Barrier::new(3);
        assert_eq!(
            format!("{b:?}"),
            "Barrier { parties: 3, arrived: 0, broken: false, generation: 0 }"
        );
        fn is_error<E: core::error::Error>() {}
        is_error::<BarrierError>();
    }
}

#[cfg(all(test, baresync_loom))]
mod loom_wrap {
    use super::*;
    use loom::sync::Arc;
    use loom::thread;

    use crate::sync::loom_model as model;

    /// Two parties go through two generations across the generation counter's wrap (its last
    /// value, then 0, then 1): one leader each, and the word ends clean.
    #[test]
    fn loom_barrier_generation_wrap() {
        model(|| {
            let top = GEN_MASK >> GEN_ONE.trailing_zeros();
            let b = Arc::new(Barrier::<crate::Spin>::at_generation(2, top));
            let t = {
                let b = b.clone();
                thread::spawn(move || {
                    let first = b.wait().unwrap().is_leader();
                    (first, b.wait().unwrap().is_leader())
                })
            };
            let first = b.wait().unwrap().is_leader();
            let second = b.wait().unwrap().is_leader();
            let (t_first, t_second) = t.join().unwrap();
            assert!(first ^ t_first);
            assert!(second ^ t_second);
            assert_eq!(b.state.load(Relaxed), GEN_ONE);
        });
    }
}
