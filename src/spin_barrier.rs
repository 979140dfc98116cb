//! `SpinBarrier`: a lean, spinning, reusable barrier (one atomic word, no abort or timeouts).
//!
//! Algorithm: a centralized counting barrier with a generation counter (Mellor-Crummey and
//! Scott, "Algorithms for Scalable Synchronization on Shared-Memory Multiprocessors", 1991),
//! the count and the generation packed into one 32-bit word. Arriving is one `fetch_add(1)`;
//! the last party of a generation (the leader) then advances the generation and takes its
//! `parties` arrivals out of the count in one more `fetch_add`, so that arrivals of the next
//! generation made in between (threads outnumbering parties) stay counted. The other parties
//! poll the generation. The word is never compared-and-swapped: arriving cannot fail or retry,
//! which is what keeps the code small (`docs/code-size.md`; [`Barrier`] uses a
//! compare-and-swap loop because its arrival must check the broken and resetting flags).
//!
//! It is the lean counterpart of [`Barrier`], as [`SpinLock`](crate::SpinLock) is of
//! [`Mutex`](crate::Mutex): [`wait`](SpinBarrier::wait) can neither time out nor be aborted,
//! and there is no `reset` (use [`Barrier`] for those, and for a backend that sleeps). It
//! calls no user code (no deadline, no wait backend), so nothing can unwind out of it.
//!
//! Guarantees:
//! - exactly one party per generation gets [`BarrierWaitResult::is_leader`] `true` (the last
//!   to arrive);
//! - everything each party did before [`wait`](SpinBarrier::wait) happens-before everything
//!   every party of the same generation does after its `wait` returns;
//! - a fast party that re-enters `wait` for the next generation while slow ones are still
//!   leaving the previous one is counted in the next generation.
//!
//! Progress: arriving is wait-free (one read-modify-write); leaving is blocking by nature (a
//! party waits for the last one). Waiters spin with bounded exponential backoff
//! ([`Backoff`]); with feature `std`, a waiter whose backoff is spent yields its time slice at
//! every further poll, so that with more threads than cores the last party gets scheduled.
//! Without `std` waiters spin on, which is right when each thread owns its core.
//!
//! More threads than `parties` may call `wait` at once: generations are then formed in arrival
//! order, `parties` arrivals each, with one leader each, and a party returns only once its own
//! generation has completed. This holds while fewer than 65536 arrivals are outstanding (made,
//! but not yet taken out of the count by their generation's leader): at most
//! `parties × (threads + 1)`. The generation counter has 16 bits and a waiter compares it
//! with its own within a window of 32767 generations: a waiter descheduled while 32768 or
//! more later generations complete (only possible with more threads than `parties`) waits on
//! until the counter comes round again. With exactly `parties` threads neither bound can be
//! reached: the next generation cannot complete without every party of this one.

use crate::barrier::BarrierWaitResult;
use crate::sync::atomic::{
    AtomicU32,
    Ordering::{Acquire, Relaxed, Release},
};
use crate::sync::const_fn;
use crate::wait::Backoff;
#[cfg(doc)]
use crate::Barrier;
use core::fmt;

/// Bits 0..16: arrivals not yet taken out by their generation's leader.
const COUNT_MASK: u32 = 0xFFFF;
/// One step of the generation counter (bits 16..32, wrapping).
const GEN_ONE: u32 = 1 << 16;

/// A lean reusable barrier for `parties` threads: one atomic word, spinning only.
///
/// No abort, reset or timeouts, and no sleeping backend: see [`Barrier`] for those. Nothing
/// can unwind out of [`wait`](SpinBarrier::wait) (it calls no user code).
///
/// # Examples
///
/// ```
/// use baresync::SpinBarrier;
/// use std::sync::atomic::{AtomicU32, Ordering::Relaxed};
///
/// static BARRIER: SpinBarrier = SpinBarrier::new(3);
/// static DONE: AtomicU32 = AtomicU32::new(0);
///
/// let threads: Vec<_> = (0..3)
///     .map(|_| {
///         std::thread::spawn(|| {
///             DONE.fetch_add(1, Relaxed);
///             let r = BARRIER.wait();
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
pub struct SpinBarrier {
    /// bits 0..16: arrivals not yet taken out · bits 16..32: completed generations (wrapping)
    state: AtomicU32,
    /// How many parties complete a generation (1..=MAX_PARTIES).
    parties: u32,
}

impl SpinBarrier {
    /// The largest number of parties: 65535 (the arrival count has 16 bits of the word).
    ///
    /// # Examples
    ///
    /// ```
    /// assert_eq!(baresync::SpinBarrier::MAX_PARTIES, 65535);
    /// ```
    pub const MAX_PARTIES: usize = COUNT_MASK as usize;

    const_fn! {
        /// A barrier that releases its waiters each time `parties` threads have called
        /// [`wait`](SpinBarrier::wait); usable in a `static`.
        ///
        /// # Panics
        ///
        /// If `parties` is 0 or above [`MAX_PARTIES`](SpinBarrier::MAX_PARTIES), as
        /// [`Barrier::new`] does. In a `const` or `static` initializer the panic is a compile
        /// error:
        ///
        /// ```compile_fail
        /// static NOBODY: baresync::SpinBarrier = baresync::SpinBarrier::new(0);
        /// ```
        ///
        /// # Examples
        ///
        /// ```
        /// static PHASE: baresync::SpinBarrier = baresync::SpinBarrier::new(4);
        /// assert_eq!(PHASE.parties(), 4);
        /// ```
        #[inline]
        pub const fn new(parties: usize) -> Self {
            assert!(parties != 0, "a SpinBarrier needs at least one party");
            assert!(parties <= COUNT_MASK as usize, "a SpinBarrier has at most 65535 parties");
            SpinBarrier { state: AtomicU32::new(0), parties: parties as u32 }
        }
    }

    /// A barrier whose word starts at `state`, for the wrap-around tests.
    #[cfg(test)]
    fn with_state(parties: usize, state: u32) -> Self {
        let b = Self::new(parties);
        b.state.store(state, Relaxed);
        b
    }

    /// Waits until `parties` threads (this one included) have called `wait`, then returns in
    /// all of them; exactly one gets [`is_leader`](BarrierWaitResult::is_leader) `true`.
    ///
    /// Never fails and never unwinds; spins (yielding with feature `std` once its backoff is
    /// spent) until the generation completes.
    ///
    /// # Examples
    ///
    /// ```
    /// use baresync::SpinBarrier;
    ///
    /// static BARRIER: SpinBarrier = SpinBarrier::new(2);
    /// let other = std::thread::spawn(|| BARRIER.wait().is_leader());
    /// let me = BARRIER.wait().is_leader();
    /// assert!(me ^ other.join().unwrap());
    /// ```
    #[inline]
    #[cfg_attr(all(feature = "lockdep", not(baresync_loom)), track_caller)]
    pub fn wait(&self) -> BarrierWaitResult {
        lockdep_hook! {
            crate::lockdep::before_acquire(crate::lockdep::key(self), "SpinBarrier");
            crate::lockdep::arrive(crate::lockdep::key(self), "SpinBarrier");
        }
        let parties = self.parties;
        // ORDERING: Release: this party's writes before `wait` reach every party whose Acquire
        // operation reads this arrival or a later value of the word (every modification of it
        // is a read-modify-write, so all later values are in this arrival's release sequence):
        // the leader's Acquire advance and the waiters' Acquire polls below.
        let s = self.state.fetch_add(1, Release);
        // This arrival's place: `pos` among the arrivals not yet taken out, whose first
        // `parties` belong to generation `s`'s counter, the next `parties` to the one after...
        let mut pos = s & COUNT_MASK;
        let mut gen = s & !COUNT_MASK;
        while pos >= parties {
            pos -= parties;
            gen = gen.wrapping_add(GEN_ONE);
        }
        if pos + 1 == parties {
            // The leader: take this generation's arrivals out and advance the generation in
            // one step, so that arrivals of the next one made meanwhile stay counted.
            // ORDERING: Acquire: this RMW reads a value later than every arrival of this
            // generation (they came before ours), all Release RMWs whose release sequences it
            // ends, so their writes before `wait` happen-before the leader's return. No
            // Release needed: the waiters that read this value see the leader's own writes
            // through the release sequence of its Release arrival above.
            self.state
                .fetch_add(GEN_ONE.wrapping_sub(parties), Acquire);
            return BarrierWaitResult { leader: true };
        }
        // Wait until the generation counter has passed ours: `state - gen` is then at least
        // `GEN_ONE` (the count bits are below it), and negative while it lags behind (a party
        // counted in a generation after the current one).
        let mut backoff = Backoff::new();
        // ORDERING: Acquire pairs with the leader's advance (and, through the release
        // sequences of the arrivals, with every arrival of our generation): every party's
        // writes before `wait` happen-before our return.
        while (self.state.load(Acquire).wrapping_sub(gen) as i32) < GEN_ONE as i32 {
            backoff.snooze();
        }
        BarrierWaitResult { leader: false }
    }

    /// How many parties complete a generation.
    ///
    /// # Examples
    ///
    /// ```
    /// static BARRIER: baresync::SpinBarrier = baresync::SpinBarrier::new(5);
    /// assert_eq!(BARRIER.parties(), 5);
    /// ```
    #[inline]
    pub fn parties(&self) -> usize {
        self.parties as usize
    }

    /// How many parties are waiting in the newest generation that has not completed; a
    /// snapshot. (With more threads than parties, arrivals of earlier generations whose
    /// leader has not advanced yet are not counted.)
    ///
    /// # Examples
    ///
    /// ```
    /// use baresync::SpinBarrier;
    ///
    /// static BARRIER: SpinBarrier = SpinBarrier::new(2);
    /// let t = std::thread::spawn(|| BARRIER.wait());
    /// while BARRIER.n_waiting() == 0 {
    ///     std::thread::yield_now();
    /// }
    /// BARRIER.wait();
    /// t.join().unwrap();
    /// assert_eq!(BARRIER.n_waiting(), 0);
    /// ```
    #[inline]
    pub fn n_waiting(&self) -> usize {
        // ORDERING: Relaxed: a snapshot for diagnostics.
        ((self.state.load(Relaxed) & COUNT_MASK) % self.parties) as usize
    }
}

impl fmt::Debug for SpinBarrier {
    /// Never blocks: a snapshot of the state.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // ORDERING: Relaxed: a snapshot for display.
        let s = self.state.load(Relaxed);
        f.debug_struct("SpinBarrier")
            .field("parties", &self.parties)
            .field("arrived", &(s & COUNT_MASK))
            .field("generation", &(s >> GEN_ONE.trailing_zeros()))
            .finish()
    }
}

#[cfg(all(test, not(baresync_loom)))]
mod tests {
    use super::*;
    use std::format;
    use std::sync::Arc;
    use std::vec::Vec;

    #[test]
    fn one_party_is_always_leader() {
        let b = SpinBarrier::new(1);
        for _ in 0..10 {
            assert!(b.wait().is_leader());
        }
        assert_eq!(b.n_waiting(), 0);
        assert_eq!(b.state.load(Relaxed), 10 * GEN_ONE);
    }

    #[test]
    #[should_panic(expected = "a SpinBarrier needs at least one party")]
    fn zero_parties_panics() {
        let _ = SpinBarrier::new(core::hint::black_box(0));
    }

    #[test]
    #[should_panic(expected = "a SpinBarrier has at most 65535 parties")]
    fn too_many_parties_panics() {
        let _ = SpinBarrier::new(core::hint::black_box(65536));
    }

    #[test]
    fn max_parties_fits() {
        let b = SpinBarrier::new(SpinBarrier::MAX_PARTIES);
        assert_eq!(b.parties(), 65535);
        // 65534 arrivals by hand, then the last: the count field holds them all.
        b.state.store(65534, Relaxed);
        assert_eq!(b.n_waiting(), 65534);
        assert!(b.wait().is_leader());
        assert_eq!(b.state.load(Relaxed), GEN_ONE);
    }

    /// The generation counter is driven past its wrap (16 bits) by real rounds.
    #[test]
    fn generation_wraps() {
        let b = SpinBarrier::with_state(1, 0xFFFE * GEN_ONE);
        for _ in 0..4 {
            assert!(b.wait().is_leader());
        }
        assert_eq!(b.state.load(Relaxed), 2 * GEN_ONE);

        const PARTIES: usize = 3;
        const ROUNDS: usize = 8;
        let b = Arc::new(SpinBarrier::with_state(PARTIES, 0xFFFD * GEN_ONE));
        let arrived: Arc<[std::sync::atomic::AtomicUsize; ROUNDS]> =
            Arc::new(core::array::from_fn(|_| Default::default()));
        let threads: Vec<_> = (0..PARTIES)
            .map(|_| {
                let (b, arrived) = (b.clone(), arrived.clone());
                std::thread::spawn(move || {
                    let mut leaders = 0;
                    for round in 0..ROUNDS {
                        arrived[round].fetch_add(1, Relaxed);
                        leaders += usize::from(b.wait().is_leader());
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

    /// Arrivals made before the leader's advance (more threads than parties) are counted in
    /// the next generations, in arrival order: driven by hand on the word, one step at a time.
    #[test]
    fn early_arrivals_of_later_generations_stay_counted() {
        // Two parties. Generation 0 has had both arrivals, but its leader has not advanced
        // yet; two more arrivals came in meanwhile (generation 1, complete too) and one more
        // (generation 2).
        let b = SpinBarrier::with_state(2, 5);
        // The sixth arrival completes generation 2: it is a leader, and advances at once.
        assert!(b.wait().is_leader());
        assert_eq!(b.state.load(Relaxed), GEN_ONE + 4);
        // The two missing advances (generations 0 and 1's leaders, descheduled).
        b.state.fetch_add(GEN_ONE.wrapping_sub(2), Relaxed);
        b.state.fetch_add(GEN_ONE.wrapping_sub(2), Relaxed);
        assert_eq!(b.state.load(Relaxed), 3 * GEN_ONE);
        assert_eq!(b.n_waiting(), 0);
    }

    /// The waiting condition: a party waits while the counter has not passed its generation,
    /// including when the word is behind it (a party counted ahead) and across the wrap.
    #[test]
    fn waits_until_the_counter_passes_its_generation() {
        // `wait` on a 3-party barrier whose word says: generation 0xFFFF, three arrivals in
        // (generation 0xFFFF complete, leader not advanced), one more (generation 0). Ours is
        // the fifth: generation 0 (after the wrap), not the leader. A helper thread advances
        // once (the late leader): not enough. Then the sixth arrival completes generation 0.
        let b = Arc::new(SpinBarrier::with_state(3, 0xFFFF * GEN_ONE + 4));
        let waiter = {
            let b = b.clone();
            std::thread::spawn(move || b.wait().is_leader())
        };
        while b.state.load(Relaxed) & COUNT_MASK != 5 {
            std::thread::yield_now();
        }
        b.state.fetch_add(GEN_ONE.wrapping_sub(3), Relaxed);
        assert_eq!(b.state.load(Relaxed), 2);
        assert_eq!(b.n_waiting(), 2);
        for _ in 0..100 {
            std::thread::yield_now();
        }
        assert!(!waiter.is_finished(), "released before its generation completed");
        assert!(b.wait().is_leader());
        assert!(!waiter.join().unwrap());
        assert_eq!(b.state.load(Relaxed), GEN_ONE);
    }

    #[test]
    fn debug_shows_a_snapshot() {
        let b = SpinBarrier::new(3);
        assert_eq!(
            format!("{b:?}"),
            "SpinBarrier { parties: 3, arrived: 0, generation: 0 }"
        );
        let b = SpinBarrier::with_state(3, 7 * GEN_ONE + 2);
        assert_eq!(
            format!("{b:?}"),
            "SpinBarrier { parties: 3, arrived: 2, generation: 7 }"
        );
        assert_eq!(b.n_waiting(), 2);
    }
}
