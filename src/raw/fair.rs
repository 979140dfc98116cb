//! `RawFairLock<W>`: a lock that lets running threads barge, with a bound on how often a
//! queued waiter can be bypassed, and a gate that closes only for a waiter that is running.
//!
//! Algorithm: bounded bypass ("eventual fairness" counted in acquisitions rather than time:
//! parking_lot's `Mutex` hands off to the oldest sleeper after about 0.5 ms), with the
//! waiters queued in ticket order (Reed and Kanodia, 1979) and only the first of them
//! competing for the lock (concurrency restriction, as in Dice's Malthusian locks, EuroSys
//! 2017). Two limits on the bypass count, the way Dice and Kogan's fissile locks (2020) let
//! the queue head become "impatient":
//!
//! - A thread that finds the lock free takes it (barging), even if others queue. Barging is
//!   what keeps the lock fast when threads outnumber cores: a running thread takes a free lock
//!   instead of handing it to a waiter that may be descheduled (the hand-off a strict FIFO
//!   lock must make, and what makes [`RawTicketLock`](crate::RawTicketLock) collapse).
//! - A thread that finds it held keeps barging for a moment: a backoff of spin hints, then,
//!   with `std` and a sleeping `W`, 13 rounds of `thread::yield_now` each followed by an
//!   attempt (the default `Mutex`'s waiter budget). Only then does it draw a ticket and join
//!   the queue; the lock's state word counts the queued waiters. A yield gives the core to an
//!   owner that was preempted holding the lock, and keeps the queue short: a queued
//!   acquisition waits for a wake-up per turn ahead of it, which is what the p99.9 acquire
//!   latency sampled when threads outnumber cores (`docs/design.md`, "FairLock, fourth
//!   round"). Only the waiter whose ticket is served (the head) competes for the lock; the
//!   waiters behind it wait through `W` for their turn at the head.
//! - **Queueing early after a lost race**: a caller that saw the lock free, tried, and lost
//!   it to another thread knows that the owners are running, not descheduled holding the
//!   lock; if nobody is queued, it stops barging after 5 spin rounds (31 hints) and queues,
//!   where as the head it closes the gate. Barging on, it could lose the race for the whole
//!   budget, the 2-thread p99.9 tail (`docs/design.md`, "Issue 15, eighth pass").
//! - **Per-waiter wake**: with a sleeping `W`, a waiter behind the head sleeps on its own
//!   word, a turn slot picked by hashing the lock's address and its ticket in a table shared
//!   by every fair lock of the program (as TWA's waiting array, Dice and Kogan, Euro-Par
//!   2019), and passing the turn wakes the slot of the next ticket only: one wake-up per
//!   turn, not one for every queued waiter (the thundering herd of a single queue word). A
//!   polling `W` (`Spin`, `Yield`) polls the `head` word and never touches the table.
//! - While anyone is queued, every acquisition by a thread that is not the head (a barger)
//!   increments a bypass count in the state word.
//! - **The gate**: the head polls the state word; when a poll finds the lock held and the
//!   count at [`GATE_AFTER`](RawFairLock::GATE_AFTER) (16) or more, the head sets the GATE
//!   bit, and bargers are refused until the head has acquired (which clears the gate and the
//!   count). Only the head closes the gate, and it does so while it runs: a head that is
//!   descheduled, yielding or asleep closes nothing, so the running threads keep the lock
//!   busy instead of waiting for the scheduler to run the head (the collapse of the first
//!   version of this lock, which closed the gate for whichever head it had).
//! - **The hard limit**: once the count reaches [`MAX_BYPASSES`](RawFairLock::MAX_BYPASSES)
//!   (K = 1023), bargers are refused whether the head runs or not: the next acquisition is
//!   the head's. This is what makes the bound unconditional.
//!
//! **The bound**: from the moment a `lock` caller joins the queue until it holds the lock, at
//! most K bargers acquire between any two acquisitions by queued waiters, and the queued
//! waiters acquire in the order they joined. So a caller with n waiters queued ahead of it is
//! bypassed at most (n + 1)·K times and acquires after at most (n + 1)·(K + 1) − 1 other
//! acquisitions; with T threads using the lock, n ≤ T − 2. It is a count of acquisitions,
//! not a time, and it holds whatever the scheduler does and with any backend, `Spin`
//! included: the counting is done by read-modify-writes of the state word, not by the
//! waiter. **While the head runs** it is bypassed `GATE_AFTER` times plus at most the
//! acquisitions that complete between two of its polls (a poll is one load of the state word
//! and a spin hint), and then, once the owner of the moment releases, the lock is its. A
//! head that was not running when its 16th bypass came closes the gate at its first poll
//! after it runs again (its first poll after `W::wait` returns), or is served by the hard
//! limit, whichever comes first.
//!
//! Timed waiters ([`lock_until`](RawLock::lock_until)) and [`try_lock`](RawLock::try_lock)
//! do not queue (a drawn ticket cannot be given back before its turn): they are bargers, so
//! they count against the bound of the queued waiters and have no bound of their own.
//!
//! Progress: starvation-free for `lock` callers (the bound above) as long as every owner
//! releases; deadlock-free. A head that closed the gate and is then preempted before the
//! lock is free keeps the lock idle until it runs: the price of the gate, paid only when the
//! head was preempted within one critical section of closing it.
//!
//! If `W` panics while a waiter is queued, a drop guard still waits (spinning, then yielding
//! with `std`, without calling `W` again) for that waiter's turn at the head, leaves the queue
//! without taking the lock (opening the gate if it had closed it) and passes the turn on; the
//! panic propagates after that.

use super::{impl_init, RawLock};
use crate::sync::atomic::{
    AtomicU32,
    Ordering::{Acquire, Relaxed, Release},
};
use crate::sync::const_fn;
use crate::wait::{Backoff, DefaultWait, Wait, SPIN_ROUNDS_BEFORE_SLEEP};
use crate::Deadline;
use core::marker::PhantomData;

/// `state`: the lock is held.
const LOCKED: u32 = 1;
/// `state`: a waiter may sleep on `state` through `W` (only with a sleeping `W`).
const SLEEPERS: u32 = 1 << 1;
/// `state`: the gate is closed: the head of the queue, while running, saw itself bypassed
/// [`GATE_AFTER`](RawFairLock::GATE_AFTER) times and reserved the next acquisition. Set and
/// cleared only by the head.
const GATE: u32 = 1 << 2;
/// `state`: where the bypass count starts.
const BYPASS_SHIFT: u32 = 3;
/// `state`: one bypass of the queue; the bypass count is `(state & BYPASS_MASK) >> 3`.
const BYPASS_ONE: u32 = 1 << BYPASS_SHIFT;
/// `state`: bits 3–12, the bypass count (at most `MAX_BYPASSES`, which must fit).
const BYPASS_MASK: u32 = 0x3ff << BYPASS_SHIFT;
/// `state`: the owner took the lock as the head of the queue and passed the turn on, and the
/// wake-up of the next ticket is still to be made (only with a sleeping `W`). Set by the
/// head's acquiring compare-exchange; cleared by the same thread after its release, once it
/// has read `head`, and before its wake-up's system call, which is so made outside the
/// critical section. Nobody acquires while it is set (see [`HELD`]), so only that thread
/// clears it.
const WAKE_NEXT: u32 = 1 << 13;
/// `state`: the lock cannot be taken while any of these is set.
const HELD: u32 = LOCKED | WAKE_NEXT;
/// `state`: where the waiter count starts.
const WAITER_SHIFT: u32 = 14;
/// `state`: one queued waiter; the count is `state >> 14`.
const WAITER_ONE: u32 = 1 << WAITER_SHIFT;
/// `state`: bits 14–31, the number of queued waiters.
const WAITER_MASK: u32 = !(WAITER_ONE - 1);

/// A turn slot: a waiter may sleep on this slot through `W` (only with a sleeping `W`).
const SLOT_SLEEPERS: u32 = 1;
/// A turn slot: one turn passed to a ticket that maps to this slot (bits 1–31 count them, so
/// that a sleeper's expected value is stale once a turn was passed there).
const SLOT_PASS: u32 = 2;

/// How many turn slots there are ([`TURN_SLOTS`]); a power of two.
#[cfg(not(baresync_loom))]
const TURN_SLOT_COUNT: usize = 64;

/// Consecutive tickets of one lock map to slots this far apart (odd, so that 64 consecutive
/// tickets of one lock never share a slot; 33 words, so that two consecutive ones are not in
/// the same 128-byte pair of cache lines).
#[cfg(not(baresync_loom))]
const TURN_SLOT_STRIDE: u32 = 33;

/// The words that queued waiters behind the head sleep on, with a sleeping `W` (one per
/// ticket, hashed by lock address and ticket, shared by every `RawFairLock` of the program,
/// as in Dice and Kogan's TWA, Euro-Par 2019): passing the turn to ticket t wakes the sleepers
/// of t's slot only, normally t alone, instead of every queued waiter. 256 bytes, referenced
/// only by sleeping backends (a `Spin` or `Yield` waiter polls `head`, and the linker drops
/// the table from a program that uses only those).
#[cfg(not(baresync_loom))]
static TURN_SLOTS: TurnSlots = TurnSlots([const { AtomicU32::new(0) }; TURN_SLOT_COUNT]);

/// Barging attempts of `lock`, each after a `thread::yield_now`, once its spinning ones have
/// failed and before it queues (`std`, a sleeping `W`): the default `Mutex`'s 13 yields.
/// Before they were added (only ~200 spin hints, then the queue), `FairLock<Futex>` with 8
/// threads on 2 cores ran at 0.13–0.33× of `parking_lot::Mutex` with a p99.9 acquire latency of
/// 300–800 µs; with them, at 0.77–1.01× of it, and at about 1 µs (`docs/design.md`, "FairLock,
/// fourth round").
#[cfg(all(feature = "std", not(baresync_loom)))]
const PREQUEUE_YIELDS: u32 = super::mutex::YIELD_ROUNDS;

/// Why a barging attempt ([`RawFairLock::barge`]) failed.
#[derive(Clone, Copy)]
struct Refused {
    /// It found the lock free and tried to take it, and another thread took it first: the
    /// lock's owners are running and taking it as it comes free.
    lost_race: bool,
    /// The state word it last read counted queued waiters.
    queued: bool,
}

/// The turn slots, aligned to a cache-line pair.
#[cfg(not(baresync_loom))]
#[repr(align(128))]
struct TurnSlots([AtomicU32; TURN_SLOT_COUNT]);

/// A lock with a stated starvation bound that keeps its throughput when threads outnumber
/// cores: running threads may take a free lock ahead of queued waiters, but once the first
/// queued waiter, while running, sees itself bypassed [`GATE_AFTER`](RawFairLock::GATE_AFTER)
/// times it closes the lock to them, and never more than
/// [`MAX_BYPASSES`](RawFairLock::MAX_BYPASSES) times in a row; queued waiters are served in
/// the order they came. 12 bytes; the waiters wait through `W`
/// ([`DefaultWait`]: `Futex`, which sleeps, with feature `std`; `Spin` without). With a
/// sleeping `W`, each waiter behind the first sleeps on its own word of a 256-byte table
/// shared by all fair locks, so that passing the turn wakes one waiter, not all of them.
///
/// Use it through [`FairLock<T, W>`](crate::FairLock).
///
/// **The bound**: from the moment a `lock` caller joins the queue until it holds the lock, at
/// most `MAX_BYPASSES` (K) acquisitions by threads that did not queue (`try_lock`,
/// `lock_until`, or a `lock` that found the lock free) happen between two acquisitions by
/// queued waiters, and queued waiters acquire in the order they joined. A caller with n
/// waiters queued ahead of it is bypassed at most (n + 1)·K times, and acquires after at most
/// (n + 1)·(K + 1) − 1 other acquisitions (with T threads using the lock, n ≤ T − 2). The
/// count is kept in the lock word by the acquiring threads, so it holds whatever the
/// scheduler does and with any backend, `Spin` included. While the first queued waiter runs,
/// it is bypassed only `GATE_AFTER` (16) times plus those that complete between two of its
/// polls of the lock word; a descheduled waiter does not hold the lock up. Timed waiters and
/// `try_lock` do not queue and have no bound of their own.
///
/// # Examples
///
/// ```
/// use baresync::{RawFairLock, RawLock};
///
/// static RAW: RawFairLock = RawFairLock::new();
/// RAW.lock();
/// assert!(!RAW.try_lock());
/// // SAFETY: acquired just above.
/// unsafe { RAW.unlock() };
/// assert!(!RAW.is_locked());
/// ```
pub struct RawFairLock<W = DefaultWait> {
    /// bit 0: locked · bit 1: a waiter may sleep on this word · bit 2: the gate (closed by
    /// the head) · bits 3–12: acquisitions that bypassed the queue since a queued waiter
    /// last acquired · bits 13–31: queued waiters
    state: AtomicU32,
    /// The next ticket to hand out.
    next: AtomicU32,
    /// The ticket of the waiter at the head of the queue. Polling waiters (`W::WAKE_IS_NOOP`)
    /// wait on it; sleeping ones on their ticket's turn slot.
    head: AtomicU32,
    /// The loom build's turn slots, in the lock (loom atomics cannot live in a `static`); two,
    /// so that the models with three threads see two waiters share one.
    #[cfg(baresync_loom)]
    turn_slots: [AtomicU32; 2],
    _wait: PhantomData<fn() -> W>,
}

impl RawFairLock {
    const_fn! {
        /// A new, unlocked lock whose waiters use the default backend ([`DefaultWait`]: a
        /// sleeping one with `std`: a lock meant for more threads than cores lets its queued
        /// waiters sleep, see `docs/design.md`).
        ///
        /// # Examples
        ///
        /// ```
        /// use baresync::{RawFairLock, RawLock};
        ///
        /// let raw = RawFairLock::new(); // no annotation needed
        /// assert!(raw.try_lock());
        /// ```
        #[inline]
        pub const fn new() -> Self {
            Self::with_wait()
        }
    }
}

impl<W: Wait> RawFairLock<W> {
    /// The most acquisitions by threads that are not queued (bargers) between two
    /// acquisitions by queued waiters, whatever the scheduler does: the head of the queue is
    /// bypassed at most this many times. (2 in the loom build, to keep the models small.)
    ///
    /// A running head closes the gate much earlier ([`GATE_AFTER`](Self::GATE_AFTER)); this
    /// limit serves a head that does not run (preempted, yielding, asleep). Chosen large so
    /// that the lock waits for the scheduler to run such a head at most once per 1024
    /// acquisitions (a wait of a context switch amortized over 1024 acquisitions of tens of
    /// ns), and no larger, so that a waiter's worst case stays a fixed multiple of the thread
    /// count; it fits the 10 bits the count has in the lock word (see `docs/design.md`).
    ///
    /// # Examples
    ///
    /// ```
    /// use baresync::RawFairLock;
    ///
    /// assert_eq!(RawFairLock::<baresync::Spin>::MAX_BYPASSES, 1023);
    /// ```
    pub const MAX_BYPASSES: u32 = if cfg!(baresync_loom) { 2 } else { 1023 };

    /// The bypass count at which the head of the queue, when it polls the lock word and finds
    /// the lock held, closes the gate: bargers are then refused until the head has acquired.
    /// A head that keeps running is bypassed this many times, plus those that complete
    /// between two of its polls. (1 in the loom build.)
    ///
    /// Chosen so that a hand-off to the head, a cache-line transfer between cores, is paid at
    /// most once per 17 acquisitions while the wait of a running head stays a few hundred ns.
    ///
    /// # Examples
    ///
    /// ```
    /// use baresync::RawFairLock;
    ///
    /// assert_eq!(RawFairLock::<baresync::Spin>::GATE_AFTER, 16);
    /// ```
    pub const GATE_AFTER: u32 = if cfg!(baresync_loom) { 1 } else { 16 };

    const_fn! {
        /// A new, unlocked lock whose waiters wait through `W`, named by the type.
        ///
        /// # Examples
        ///
        /// ```
        /// use baresync::{RawFairLock, RawLock, Spin};
        ///
        /// static RAW: RawFairLock<Spin> = RawFairLock::with_wait();
        /// assert!(RAW.try_lock());
        /// ```
        #[inline]
        pub const fn with_wait() -> Self {
            RawFairLock {
                state: AtomicU32::new(0),
                next: AtomicU32::new(0),
                head: AtomicU32::new(0),
                #[cfg(baresync_loom)]
                turn_slots: [AtomicU32::new(0), AtomicU32::new(0)],
                _wait: PhantomData,
            }
        }
    }

    /// How many `lock` callers are queued (the owner and bargers not counted). A snapshot for
    /// diagnostics and tests: it may change as soon as it is read.
    ///
    /// # Examples
    ///
    /// ```
    /// use baresync::{RawFairLock, RawLock};
    ///
    /// static RAW: RawFairLock = RawFairLock::new();
    /// RAW.lock();
    /// assert_eq!(RAW.waiters(), 0);
    /// // SAFETY: acquired just above.
    /// unsafe { RAW.unlock() };
    /// ```
    pub fn waiters(&self) -> u32 {
        // ORDERING: Relaxed: a snapshot for diagnostics.
        self.state.load(Relaxed) >> WAITER_SHIFT
    }

    /// How many times the head polls the state word at full rate before it waits through
    /// `W`: as in [`RawTicketLock`](crate::RawTicketLock), one backoff's worth with a polling
    /// backend, longer than a wake-up with a sleeping one (a shorter budget lets a convoy of
    /// sleeping heads form).
    const HEAD_POLLS: u32 = if W::WAKE_IS_NOOP {
        Backoff::PAUSES_PER_BACKOFF
    } else {
        Backoff::pauses_in(SPIN_ROUNDS_BEFORE_SLEEP)
    };

    /// Whether a barger may take the lock in state `s`: it is free, the gate is open, and
    /// either nobody is queued or the head has been bypassed fewer than `MAX_BYPASSES` times.
    #[inline]
    fn barger_may_take(s: u32) -> bool {
        s & (HELD | GATE) == 0
            && (s & WAITER_MASK == 0 || (s & BYPASS_MASK) < Self::MAX_BYPASSES * BYPASS_ONE)
    }

    /// One barging attempt: takes the lock if [`barger_may_take`](Self::barger_may_take),
    /// counting a bypass when anyone is queued. Retries only while the word changes under it
    /// with the lock still free.
    #[inline]
    fn try_barge(&self) -> bool {
        self.barge().is_ok()
    }

    /// [`try_barge`](Self::try_barge), telling why it failed.
    #[inline]
    fn barge(&self) -> Result<(), Refused> {
        // ORDERING: Relaxed: the compare-exchange below is the acquire.
        let mut s = self.state.load(Relaxed);
        let mut tried = false;
        loop {
            if !Self::barger_may_take(s) {
                return Err(Refused {
                    lost_race: tried,
                    queued: s & WAITER_MASK != 0,
                });
            }
            tried = true;
            let bypass = if s & WAITER_MASK != 0 { BYPASS_ONE } else { 0 };
            // ORDERING: Acquire pairs with the Release `fetch_sub` in `unlock`, so the
            // previous owner's writes happen-before ours.
            match self
                .state
                .compare_exchange_weak(s, (s | LOCKED) + bypass, Acquire, Relaxed)
            {
                Ok(_) => return Ok(()),
                Err(seen) => s = seen,
            }
        }
    }

    /// Barging attempts of `lock` before it joins the queue, one per backoff round (the
    /// backoff ramps from 1 to 64 spin hints: about 200 hints in all). 1 in the loom build.
    const BARGE_ROUNDS: u32 = if cfg!(baresync_loom) {
        1
    } else {
        Backoff::LIMIT + 2
    };

    /// Spin rounds after which a `lock` caller that has lost a race for the free lock, and
    /// finds nobody queued, joins the queue at once ([`queue_now`](Self::queue_now)) instead
    /// of spinning and yielding on: 5, after 31 spin hints (about 0.5 µs here). 1 in the loom
    /// build.
    const RACE_ROUNDS: u32 = if cfg!(baresync_loom) { 1 } else { 5 };

    /// Whether `lock` stops barging after spin round `round` (counted from 1; 0 is the attempt
    /// before any spin) and queues:
    /// once [`RACE_ROUNDS`](Self::RACE_ROUNDS) have passed, if this call has lost a race for
    /// the free lock (it saw the lock free, tried, and another thread took it first) and
    /// nobody is queued.
    ///
    /// A lost race says that the lock's owners are running and take it as it comes free, so
    /// barging on is a race the caller keeps losing (a waiter that spun the whole budget
    /// against a running owner was the 2-thread p99.9 tail), and the queue, where it is the
    /// head and closes the gate after [`GATE_AFTER`](Self::GATE_AFTER) bypasses, bounds its
    /// wait. A caller that has only ever found the lock held cannot tell a long critical
    /// section from an owner that is descheduled holding it, and keeps its yields for the
    /// latter. With others queued, the caller would wait for their turns too: it keeps the
    /// whole budget. Measured in `docs/design.md`, "Issue 15, eighth pass".
    #[inline(always)]
    fn queue_now(round: u32, lost_race: bool, queued: bool) -> bool {
        round >= Self::RACE_ROUNDS && lost_race && !queued
    }

    /// The slow path of `lock`: a few more barging attempts, with backoff and then (`std`, a
    /// sleeping `W`) yielding the core between them, then queue.
    ///
    /// A thread that is running keeps trying for a moment before it joins the queue, as
    /// parking_lot's waiters spin and yield before they park: a queued waiter waits its turn
    /// behind the others, and when threads outnumber cores those may be descheduled or
    /// asleep, so every acquisition that goes through the queue is a slow one (a wake-up and
    /// a scheduling delay per turn ahead of it), and a non-empty queue also makes the bargers
    /// count toward the gate. [`BARGE_ROUNDS`](Self::BARGE_ROUNDS) of spinning (about 200
    /// hints), then, with `std` and a sleeping `W`, [`PREQUEUE_YIELDS`] rounds of
    /// `thread::yield_now`, each followed by an attempt: the default `Mutex`'s budget (a
    /// yield hands the core to an owner that was preempted holding the lock; measured in
    /// `docs/design.md`, "FairLock, fourth round"). Polling backends (`Spin`, `Yield`) keep
    /// the spin only. A caller that loses a race for the free lock to a running owner while
    /// nobody is queued cuts this short and queues ([`queue_now`](Self::queue_now)). The bound
    /// is counted from joining, so it does not change.
    #[cold]
    fn lock_slow(&self) {
        if !self.barge_before_queueing() {
            self.lock_queued(|| {});
        }
    }

    /// The barging attempts of `lock` before it queues (see [`lock_slow`](Self::lock_slow)):
    /// true if one took the lock. Shared with `lock_counted`, so that host-runner's bound
    /// check runs the same path as `lock`.
    #[inline(always)]
    fn barge_before_queueing(&self) -> bool {
        let mut lost_race = false;
        let mut backoff = Backoff::new();
        // Round 0 is the attempt before any backoff.
        for round in 0..=Self::BARGE_ROUNDS {
            if round > 0 {
                backoff.spin();
            }
            match self.barge() {
                Ok(()) => return true,
                Err(refused) => {
                    lost_race |= refused.lost_race;
                    if Self::queue_now(round, lost_race, refused.queued) {
                        return false;
                    }
                }
            }
        }
        #[cfg(all(feature = "std", not(baresync_loom)))]
        if !W::WAKE_IS_NOOP {
            for _ in 0..PREQUEUE_YIELDS {
                std::thread::yield_now();
                if self.try_barge() {
                    return true;
                }
            }
        }
        false
    }

    /// Queues and waits for the lock. `on_join` runs right after this thread is counted in
    /// the state word (crate code only: host-runner's bound check, through `lock_counted`).
    #[inline(always)]
    fn lock_queued(&self, on_join: impl FnOnce()) {
        // Join the queue: draw a ticket, then count ourselves in the state word. From the
        // count on, every barger's acquisition is a counted bypass.
        // ORDERING: Relaxed: the ticket's uniqueness comes from the read-modify-write; the
        // queue carries no data (the state word's Acquire does).
        let ticket = self.next.fetch_add(1, Relaxed);
        // ORDERING: Relaxed: the count only steers bargers; the lock is acquired below by a
        // compare-exchange with Acquire.
        let before = self.state.fetch_add(WAITER_ONE, Relaxed);
        debug_assert!(
            before & WAITER_MASK != WAITER_MASK,
            "queued waiter count overflow"
        );
        let queued = Queued { lock: self, ticket };
        on_join();
        queued.wait_for_turn();
        queued.acquire_as_head();
        core::mem::forget(queued);
        // We own the lock: hand the head of the queue on (only the head writes `head`). With a
        // sleeping `W`, our acquisition set WAKE_NEXT, and `unlock` wakes the next ticket.
        // ORDERING: Relaxed: the queue carries no data (acquiring the lock is the state
        // word's Acquire compare-exchange). A sleeping waiter sees this store through the
        // slot's Release in `wake_turn`, which this thread makes after it, in `unlock`.
        self.head.store(ticket.wrapping_add(1), Relaxed);
    }

    /// With a sleeping `W`, wakes the waiter of ticket `next` if it sleeps (and any waiter
    /// whose ticket shares its slot), after `head` was set to `next`.
    #[inline]
    fn wake_turn(&self, next: u32) {
        if !W::WAKE_IS_NOOP {
            let slot = self.turn_slot(next);
            // ORDERING: Release pairs with the Acquire `fetch_or` of a waiter announcing
            // itself in `wait_for_turn`: both are read-modify-writes of the slot, so either
            // the announcement comes first and this reads SLOT_SLEEPERS and wakes, or this
            // comes first and the waiter's re-check of `head` sees the store above.
            let before = slot.fetch_add(SLOT_PASS, Release);
            if before & SLOT_SLEEPERS != 0 {
                // ORDERING: Relaxed: the flag only saves wake-ups. A waiter that announces
                // itself between the add and this clear saw the new pass count, so its
                // expected value is stale once this clears the flag, and it does not sleep
                // (or is in `W::wait` already and woken below).
                slot.fetch_and(!SLOT_SLEEPERS, Relaxed);
                let guard = RearmOnUnwind {
                    state: &self.state,
                    slot: Some(slot),
                };
                W::wake_all(slot);
                core::mem::forget(guard);
            }
        }
    }

    /// The word that the waiter with `ticket` sleeps on, with a sleeping `W`.
    #[inline]
    fn turn_slot(&self, ticket: u32) -> &AtomicU32 {
        #[cfg(baresync_loom)]
        {
            &self.turn_slots[(ticket & 1) as usize]
        }
        #[cfg(not(baresync_loom))]
        {
            // A multiplicative hash of the lock's address (its low bits are alignment) picks
            // where this lock's tickets start; the stride spreads consecutive tickets.
            let lock = ((self as *const Self as usize) >> 2) as u32;
            let base = lock.wrapping_mul(0x9E37_79B9) >> 26;
            let i = base.wrapping_add(ticket).wrapping_mul(TURN_SLOT_STRIDE) as usize;
            &TURN_SLOTS.0[i % TURN_SLOT_COUNT]
        }
    }
}

/// A queued waiter: its drawn ticket, counted in `state`. Dropped only on unwind (a panicking
/// `W`): it then waits for its turn without `W`, leaves the queue and passes the turn on, so
/// that the waiters behind it are served and no count is left behind.
struct Queued<'a, W: Wait> {
    lock: &'a RawFairLock<W>,
    ticket: u32,
}

impl<W: Wait> Queued<'_, W> {
    /// Waits until this waiter's ticket is at the head of the queue: polling `head` with a
    /// polling `W`, asleep on its ticket's turn slot with a sleeping one.
    fn wait_for_turn(&self) {
        let head = &self.lock.head;
        loop {
            // ORDERING: Relaxed: see `pass_turn`.
            let h = head.load(Relaxed);
            if h == self.ticket {
                return;
            }
            if W::WAKE_IS_NOOP {
                W::wait(head, h);
                continue;
            }
            let slot = self.lock.turn_slot(self.ticket);
            // ORDERING: Acquire pairs with the Release `fetch_add` in `pass_turn`: if that
            // pass comes first in the slot's order, the re-check below sees its `head`.
            let seen = slot.fetch_or(SLOT_SLEEPERS, Acquire) | SLOT_SLEEPERS;
            // ORDERING: Relaxed: made current by the Acquire above.
            if head.load(Relaxed) == self.ticket {
                return;
            }
            W::wait(slot, seen);
        }
    }

    /// As the head of the queue, takes the lock: whenever it is free, resetting the bypass
    /// count, opening the gate and leaving the queue in the same compare-exchange. While the
    /// lock is held, closes the gate once the count reaches `GATE_AFTER` (bargers are refused
    /// from then on, and at `MAX_BYPASSES` even with the gate open).
    /// With a sleeping `W`, the acquisition also sets WAKE_NEXT.
    fn acquire_as_head(&self) {
        let state = &self.lock.state;
        let mut polls = 0u32;
        loop {
            // ORDERING: Relaxed: the compare-exchange is the acquire.
            let s = state.load(Relaxed);
            if s & HELD == 0 {
                // Keep SLEEPERS: timed waiters may sleep on the word.
                let wake_next = if W::WAKE_IS_NOOP { 0 } else { WAKE_NEXT };
                let taken = ((s & !(BYPASS_MASK | GATE)) | LOCKED | wake_next) - WAITER_ONE;
                // ORDERING: Acquire pairs with the Release `fetch_sub` in `unlock`.
                if state
                    .compare_exchange_weak(s, taken, Acquire, Relaxed)
                    .is_ok()
                {
                    return;
                }
                continue;
            }
            if s & GATE == 0 && s & BYPASS_MASK >= RawFairLock::<W>::GATE_AFTER * BYPASS_ONE {
                // Running, and bypassed enough: reserve the next acquisition. Only the head
                // sets GATE, so this cannot close it for anyone else.
                // ORDERING: Relaxed: nothing is published; the bargers' compare-exchanges
                // and this read-modify-write are ordered on the word itself.
                state.fetch_or(GATE, Relaxed);
                polls = 0;
                continue;
            }
            if polls < RawFairLock::<W>::HEAD_POLLS {
                polls += 1;
                crate::sync::spin_loop();
                continue;
            }
            let seen = if W::WAKE_IS_NOOP {
                s
            } else {
                // ORDERING: Relaxed: nothing is acquired here. The read-modify-write orders
                // the announcement against `unlock`'s `fetch_sub`s: either one of those sees
                // SLEEPERS and wakes, or this sees the lock free and retries.
                let announced = state.fetch_or(SLEEPERS, Relaxed);
                if announced & HELD == 0 {
                    continue;
                }
                announced | SLEEPERS
            };
            W::wait(state, seen);
        }
    }
}

impl<W: Wait> Drop for Queued<'_, W> {
    fn drop(&mut self) {
        // Unwinding from `W`: wait for our turn without calling `W` again.
        let mut backoff = Backoff::new();
        // ORDERING: Relaxed: see `pass_turn`.
        while self.lock.head.load(Relaxed) != self.ticket {
            backoff.snooze();
        }
        // At the head: leave the queue without the lock. The bypass count and the gate
        // belonged to our wait; the next head starts from zero, with the gate open.
        // ORDERING: Relaxed: nothing is acquired or published.
        let mut s = self.lock.state.load(Relaxed);
        loop {
            let left = (s & !(BYPASS_MASK | GATE)) - WAITER_ONE;
            // ORDERING: Relaxed, as above.
            match self
                .lock
                .state
                .compare_exchange_weak(s, left, Relaxed, Relaxed)
            {
                Ok(_) => break,
                Err(seen) => s = seen,
            }
        }
        let next = self.ticket.wrapping_add(1);
        // ORDERING: Relaxed: see `lock_queued`; the wake-up below follows in this thread.
        self.lock.head.store(next, Relaxed);
        self.lock.wake_turn(next);
    }
}

impl<W: Wait> Default for RawFairLock<W> {
    fn default() -> Self {
        Self::with_wait()
    }
}

impl<W> core::fmt::Debug for RawFairLock<W> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        // ORDERING: Relaxed: a snapshot for display.
        let s = self.state.load(Relaxed);
        f.debug_struct("RawFairLock")
            .field("locked", &(s & LOCKED != 0))
            .field("bypasses", &((s & BYPASS_MASK) >> BYPASS_SHIFT))
            .field("gate", &(s & GATE != 0))
            .field("waiters", &(s >> WAITER_SHIFT))
            .finish()
    }
}

// SAFETY: the LOCKED bit is set only by a compare-exchange (Acquire) from a value with LOCKED
// (and WAKE_NEXT) clear (`try_barge`, `acquire_as_head`), and cleared only by `unlock`
// (Release); every other change of the word (the counts, SLEEPERS, GATE, the release of
// WAKE_NEXT) is a read-modify-write that keeps LOCKED as it is. So one owner at a time, and
// each acquire reads the releasing `fetch_sub` or a later read-modify-write in its release
// sequence, which makes the previous owner's writes happen-before the next owner's.
unsafe impl<W: Wait> RawLock for RawFairLock<W> {
    impl_init!(with_wait);

    #[inline]
    fn lock(&self) {
        // ORDERING: Acquire pairs with the Release `fetch_sub` in `unlock`. From 0 only: free,
        // nobody queued, nobody sleeping.
        if self
            .state
            .compare_exchange(0, LOCKED, Acquire, Relaxed)
            .is_err()
        {
            self.lock_slow();
        }
    }

    /// Takes the lock if it is free, the gate is open and the head of the queue (if any) has
    /// been bypassed fewer than [`MAX_BYPASSES`](RawFairLock::MAX_BYPASSES) times; counts as
    /// one bypass.
    #[inline]
    fn try_lock(&self) -> bool {
        self.try_barge()
    }

    /// A timed waiter cannot give a ticket back before its turn, so it does not queue: it
    /// barges (counting against the queued waiters' bound) and between attempts waits through
    /// `W` for the state word to change. It has no bound of its own.
    fn lock_until(&self, deadline: &mut impl Deadline) -> bool {
        let mut backoff = Backoff::new();
        loop {
            if self.try_barge() {
                return true;
            }
            if deadline.expired() {
                return false;
            }
            // ORDERING: Relaxed: only decides whether to wait; `try_barge` is the acquire.
            let s = self.state.load(Relaxed);
            if Self::barger_may_take(s) {
                backoff.spin();
                continue;
            }
            let seen = if W::WAKE_IS_NOOP {
                s
            } else {
                // ORDERING: Relaxed: as in `acquire_as_head`.
                let announced = self.state.fetch_or(SLEEPERS, Relaxed);
                if announced != s {
                    continue;
                }
                announced | SLEEPERS
            };
            if !W::wait_until(&self.state, seen, deadline) {
                return false;
            }
        }
    }

    #[inline]
    unsafe fn unlock(&self) {
        // ORDERING: Release pairs with the Acquire compare-exchange of the next owner. A
        // read-modify-write, because queued waiters change the counts concurrently.
        let before = self.state.fetch_sub(LOCKED, Release);
        if !W::WAKE_IS_NOOP && before & (SLEEPERS | WAKE_NEXT) != 0 {
            self.wake_slow(before);
        }
    }

    #[inline]
    fn is_locked(&self) -> bool {
        // ORDERING: Relaxed: a snapshot for diagnostics.
        self.state.load(Relaxed) & LOCKED != 0
    }
}

impl<W: Wait> RawFairLock<W> {
    /// After a release that saw `before`: if this owner took the lock as the head
    /// (WAKE_NEXT), makes the lock available (clears WAKE_NEXT) and wakes the next ticket;
    /// then, if SLEEPERS was set, clears it and wakes every sleeper of the state word (the
    /// head and timed waiters; a futex cannot pick out the head). A sleeper that announces
    /// itself after the clear sees the lock free in its own `fetch_or` and does not sleep.
    #[cold]
    fn wake_slow(&self, mut before: u32) {
        if before & WAKE_NEXT != 0 {
            // ORDERING: Relaxed: this thread stored it in `lock_queued`, and no other thread
            // can have acquired since (WAKE_NEXT is set), so no later head has moved it.
            let next = self.head.load(Relaxed);
            // ORDERING: Relaxed: the next owner's Acquire compare-exchange may read this
            // value, and still synchronizes with the Release `fetch_sub` of LOCKED in
            // `unlock`: a read-modify-write continues its release sequence, and this thread
            // wrote nothing the next owner needs in between. SLEEPERS is read again: a waiter
            // may have announced itself on the word between the two read-modify-writes.
            before |= self.state.fetch_sub(WAKE_NEXT, Relaxed);
            self.wake_turn(next);
        }
        if before & SLEEPERS != 0 {
            // ORDERING: Acquire pairs with the Release `fetch_or` of SLEEPERS in
            // `RearmOnUnwind` (every write to `state` is a read-modify-write, so any value
            // read here continues that release sequence): the slot flag it set before is then
            // visible to the load below. The wake-up itself carries no data; sleepers re-read
            // the word.
            self.state.fetch_and(!SLEEPERS, Acquire);
            let guard = RearmOnUnwind {
                state: &self.state,
                slot: None,
            };
            W::wake_all(&self.state);
            core::mem::forget(guard);
            // A turn wake that unwound (`RearmOnUnwind`) left the head asleep on its slot
            // with the flag set again: wake it now. Otherwise the flag is clear (or set by a
            // waiter 64 tickets on, which a pass only wakes to re-check and sleep again).
            // ORDERING: Relaxed: `head` is only written by an owner, and this thread's
            // acquisition (or the head's own) happens-before this release; the slot's flag
            // is made visible by the Acquire above.
            let head = self.head.load(Relaxed);
            if self.turn_slot(head).load(Relaxed) & SLOT_SLEEPERS != 0 {
                self.wake_turn(head);
            }
        }
    }
}

/// A wake call (`W::wake_all`, user code) that unwinds after its flag was cleared would leave
/// its sleepers asleep for good: the head on the state word, or the waiter whose turn it is on
/// its slot, which nobody passes again (and once the bypass limit reserves the lock for that
/// waiter, everyone else would wait too). This sets the flags again, the slot's and SLEEPERS
/// in the state word, so that the next release's `wake_slow` makes the wake-up again: the
/// sleepers are woken by the next release instead of never (the backend's panic still costs
/// them that wait). `tests/fault_sync.rs` injects both panics.
struct RearmOnUnwind<'a> {
    state: &'a AtomicU32,
    /// The turn slot whose wake unwound (`None`: the wake of the state word's sleepers).
    slot: Option<&'a AtomicU32>,
}

impl Drop for RearmOnUnwind<'_> {
    fn drop(&mut self) {
        if let Some(slot) = self.slot {
            // ORDERING: Relaxed: published by the Release below.
            slot.fetch_or(SLOT_SLEEPERS, Relaxed);
        }
        // ORDERING: Release pairs with the Acquire `fetch_and` in `wake_slow`, so the next
        // release that sees this SLEEPERS also sees the slot's flag.
        self.state.fetch_or(SLEEPERS, Release);
    }
}

/// Test hooks for host-runner's bound check (std only, hidden: not part of the API).
#[cfg(all(feature = "std", not(baresync_loom)))]
impl<W: Wait> RawFairLock<W> {
    /// The bypass count now (0 while nobody is queued). A snapshot for tests.
    #[doc(hidden)]
    pub fn bypasses(&self) -> u32 {
        // ORDERING: Relaxed: a snapshot.
        (self.state.load(Relaxed) & BYPASS_MASK) >> BYPASS_SHIFT
    }

    /// [`lock`](RawLock::lock) (the same attempts before queueing), for a checker that
    /// numbers acquisitions in `count` (one SeqCst `fetch_add` inside each critical
    /// section). Returns `None` when the lock was taken without queueing, or `Some(c)` where
    /// `c` is `count` read right after this thread joined the queue: the acquisitions
    /// numbered from `c` on, before this thread's own, are the ones that overtook it, at most
    /// T·(K + 1) with T threads calling `lock`.
    ///
    /// Why the read cannot be stale enough to invent overtakes: the SeqCst fence after the
    /// joining read-modify-write makes it synchronize with the release of every earlier owner
    /// whose unlock it follows in the state word's order, so their increments happen-before
    /// the `fetch_add(0)` and are counted before `c`; only the owner at the time of joining
    /// may be numbered after `c` (the "+ 1" in T·(K + 1) − 1 + 1). No user code runs inside.
    #[doc(hidden)]
    pub fn lock_counted(&self, count: &std::sync::atomic::AtomicU64) -> Option<u64> {
        if self.barge_before_queueing() {
            return None;
        }
        use crate::sync::atomic::{fence, Ordering::SeqCst};
        let mut joined_at = 0;
        self.lock_queued(|| {
            // ORDERING: see the doc comment; a checker's, not the lock's.
            fence(SeqCst);
            joined_at = count.fetch_add(0, std::sync::atomic::Ordering::SeqCst);
        });
        Some(joined_at)
    }
}

#[cfg(all(feature = "lock_api", not(baresync_loom)))]
super::impl_lock_api!([W: Wait] RawFairLock<W>);

#[cfg(all(test, not(baresync_loom)))]
mod tests {
    use super::super::test_support::{self, counting_threads, joined_count};
    use super::*;
    use std::sync::Arc;

    fn basics<W: Wait>() {
        let l = RawFairLock::<W>::with_wait();
        super::super::test_support::raw_lock_basics(&l);
        assert_eq!(l.state.load(Relaxed), 0);
    }

    #[test]
    fn basics_each_backend() {
        basics::<crate::Spin>();
        #[cfg(feature = "std")]
        basics::<crate::Yield>();
        #[cfg(feature = "std")]
        basics::<crate::Futex>();
    }

    /// A backend whose waits block while a gate is closed: a waiter inside it stands for a
    /// descheduled thread.
    #[cfg(feature = "std")]
    struct GatedWait;
    #[cfg(feature = "std")]
    static GATE_OPEN: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);
    #[cfg(feature = "std")]
    static IN_WAIT: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);

    // SAFETY: only reads the word it is given; never writes it.
    #[cfg(feature = "std")]
    unsafe impl Wait for GatedWait {
        const WAKE_IS_NOOP: bool = true;
        fn wait(_atomic: &AtomicU32, _expected: u32) {
            use std::sync::atomic::Ordering::SeqCst;
            IN_WAIT.fetch_add(1, SeqCst);
            while !GATE_OPEN.load(SeqCst) {
                std::thread::yield_now();
            }
            IN_WAIT.fetch_sub(1, SeqCst);
        }
        fn wait_until(atomic: &AtomicU32, expected: u32, _: &mut impl Deadline) -> bool {
            Self::wait(atomic, expected);
            true
        }
        fn wake_one(_: &AtomicU32) {}
        fn wake_all(_: &AtomicU32) {}
    }

    /// The head of the queue is "descheduled" (blocked in its backend) while this thread
    /// barges: exactly `MAX_BYPASSES` barging acquisitions succeed, then the lock is refused
    /// to bargers (though free) until the head has taken it; then barging works again.
    #[cfg(feature = "std")]
    #[test]
    fn bargers_are_refused_after_max_bypasses() {
        use std::sync::atomic::Ordering::SeqCst;
        let l: Arc<RawFairLock<GatedWait>> = Arc::new(RawFairLock::with_wait());
        l.lock();
        let head = {
            let l = l.clone();
            std::thread::spawn(move || {
                l.lock();
                let bypasses_seen = l.bypasses();
                // SAFETY: held by this thread.
                unsafe { l.unlock() };
                bypasses_seen
            })
        };
        while IN_WAIT.load(SeqCst) == 0 {
            std::thread::yield_now();
        }
        assert_eq!(l.waiters(), 1);
        // SAFETY: held by this thread.
        unsafe { l.unlock() };
        let mut barged = 0;
        while barged <= RawFairLock::<GatedWait>::MAX_BYPASSES && l.try_lock() {
            barged += 1;
            // SAFETY: held by this thread.
            unsafe { l.unlock() };
        }
        assert_eq!(barged, RawFairLock::<GatedWait>::MAX_BYPASSES);
        assert!(!l.is_locked(), "free, but reserved for the head");
        assert!(!l.lock_until(&mut || true), "timed waiters are refused too");
        GATE_OPEN.store(true, SeqCst);
        assert_eq!(
            head.join().unwrap(),
            0,
            "the head's acquisition reset the count"
        );
        assert_eq!(l.state.load(Relaxed), 0, "nobody queued, nothing counted");
        assert!(l.try_lock());
        // SAFETY: held by this thread.
        unsafe { l.unlock() };
    }

    /// A running head closes the gate: with the lock held and the head queued and polling
    /// (`Spin`: it never leaves the CPU voluntarily), bypasses counted up to `GATE_AFTER`
    /// make the head set GATE by itself; from then on bargers are refused although far
    /// fewer than `MAX_BYPASSES` bypasses are counted, and the head's acquisition clears
    /// the gate and the count.
    #[cfg(feature = "std")]
    #[test]
    fn a_running_head_closes_the_gate_after_gate_after_bypasses() {
        use std::time::{Duration, Instant};
        let l: Arc<RawFairLock<crate::Spin>> = Arc::new(RawFairLock::with_wait());
        l.lock();
        let head = {
            let l = l.clone();
            std::thread::spawn(move || {
                l.lock();
                let s = l.state.load(Relaxed);
                // SAFETY: held by this thread.
                unsafe { l.unlock() };
                s
            })
        };
        let limit = Instant::now() + Duration::from_secs(20);
        while l.waiters() == 0 {
            assert!(Instant::now() < limit, "the head never queued");
            std::thread::yield_now();
        }
        // Below GATE_AFTER the gate stays open, however long the head polls.
        l.state.fetch_add(
            (RawFairLock::<crate::Spin>::GATE_AFTER - 1) * BYPASS_ONE,
            Relaxed,
        );
        std::thread::sleep(Duration::from_millis(20));
        assert_eq!(l.state.load(Relaxed) & GATE, 0, "closed before GATE_AFTER");
        // The GATE_AFTER-th bypass (as `try_barge` counts it while we hold the lock).
        l.state.fetch_add(BYPASS_ONE, Relaxed);
        while l.state.load(Relaxed) & GATE == 0 {
            assert!(Instant::now() < limit, "a running head did not close the gate");
            std::thread::yield_now();
        }
        assert!(l.bypasses() < RawFairLock::<crate::Spin>::MAX_BYPASSES);
        assert!(
            !RawFairLock::<crate::Spin>::barger_may_take(l.state.load(Relaxed) & !LOCKED),
            "a closed gate refuses bargers even when the lock is free"
        );
        // SAFETY: held by this thread.
        unsafe { l.unlock() };
        let at_head = head.join().unwrap();
        assert_eq!(at_head & (GATE | BYPASS_MASK), 0, "the head cleared gate and count");
        assert_eq!(l.state.load(Relaxed), 0);
    }

    /// The real `Futex`, counting per thread the waits on words other than one lock's state
    /// word (the queue's waits), and how many threads are inside such a wait.
    #[cfg(feature = "std")]
    struct CountingFutex;
    #[cfg(feature = "std")]
    static COUNTED_STATE_WORD: std::sync::atomic::AtomicUsize =
        std::sync::atomic::AtomicUsize::new(0);
    #[cfg(feature = "std")]
    static QUEUE_SLEEPING: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
    #[cfg(feature = "std")]
    std::thread_local! {
        static QUEUE_WAITS: core::cell::Cell<u32> = const { core::cell::Cell::new(0) };
    }

    // SAFETY: only reads the word it is given (through `Futex`); never writes it.
    #[cfg(feature = "std")]
    unsafe impl Wait for CountingFutex {
        fn wait(atomic: &AtomicU32, expected: u32) {
            use std::sync::atomic::Ordering::SeqCst;
            if atomic as *const AtomicU32 as usize == COUNTED_STATE_WORD.load(SeqCst) {
                return crate::Futex::wait(atomic, expected);
            }
            QUEUE_WAITS.with(|c| c.set(c.get() + 1));
            QUEUE_SLEEPING.fetch_add(1, SeqCst);
            crate::Futex::wait(atomic, expected);
            QUEUE_SLEEPING.fetch_sub(1, SeqCst);
        }
        fn wait_until(atomic: &AtomicU32, expected: u32, deadline: &mut impl Deadline) -> bool {
            crate::Futex::wait_until(atomic, expected, deadline)
        }
        fn wake_one(atomic: &AtomicU32) {
            crate::Futex::wake_one(atomic);
        }
        fn wake_all(atomic: &AtomicU32) {
            crate::Futex::wake_all(atomic);
        }
    }

    /// Regression (the thundering herd of issue 15): with waiters asleep behind the head,
    /// each pass of the turn wakes only the waiter whose turn it is, so every waiter behind
    /// the head goes to sleep once and is woken once. (When they all slept on one queue word,
    /// the waiter k places back was woken k times.)
    #[cfg(feature = "std")]
    #[test]
    fn passing_the_turn_wakes_only_the_next_waiter() {
        use std::sync::atomic::Ordering::SeqCst;
        use std::time::{Duration, Instant};
        const BEHIND: u32 = if cfg!(miri) { 2 } else { 4 };
        let l: Arc<RawFairLock<CountingFutex>> = Arc::new(RawFairLock::with_wait());
        COUNTED_STATE_WORD.store(&l.state as *const AtomicU32 as usize, SeqCst);
        l.lock();
        let limit = Instant::now() + Duration::from_secs(20);
        let spawn = |l: &Arc<RawFairLock<CountingFutex>>| {
            let l = l.clone();
            std::thread::spawn(move || {
                l.lock();
                // SAFETY: held by this thread.
                unsafe { l.unlock() };
                QUEUE_WAITS.with(core::cell::Cell::get)
            })
        };
        let head = spawn(&l);
        while l.waiters() < 1 {
            assert!(Instant::now() < limit, "the head never queued");
            std::thread::yield_now();
        }
        let behind: std::vec::Vec<_> = (1..=BEHIND)
            .map(|i| {
                let t = spawn(&l);
                while QUEUE_SLEEPING.load(SeqCst) < i {
                    assert!(Instant::now() < limit, "waiter {i} never slept");
                    std::thread::yield_now();
                }
                t
            })
            .collect();
        assert_eq!(l.waiters(), 1 + BEHIND);
        // SAFETY: held by this thread.
        unsafe { l.unlock() };
        assert_eq!(head.join().unwrap(), 0, "the head waits on the state word");
        let waits: std::vec::Vec<u32> = behind.into_iter().map(|t| t.join().unwrap()).collect();
        assert_eq!(
            waits,
            std::vec![1; BEHIND as usize],
            "each waiter behind the head slept once and was woken once"
        );
        assert_eq!(l.waiters(), 0);
    }

    /// The rule that ends the barging phase early (issue 15, eighth pass): only after
    /// `RACE_ROUNDS` spin rounds, only once a race for the free lock was lost, and only with
    /// nobody queued; and it comes before the spin budget runs out.
    #[test]
    fn only_a_lone_caller_that_lost_a_race_queues_early() {
        type L = RawFairLock<crate::Spin>;
        const { assert!(L::RACE_ROUNDS < L::BARGE_ROUNDS) };
        assert!(L::queue_now(L::RACE_ROUNDS, true, false));
        assert!(L::queue_now(L::BARGE_ROUNDS, true, false));
        assert!(!L::queue_now(L::RACE_ROUNDS - 1, true, false));
        assert!(!L::queue_now(L::RACE_ROUNDS, false, false));
        assert!(!L::queue_now(L::RACE_ROUNDS, true, true));
    }

    /// `barge` tells a held lock (no race lost) from a free one (taken), and sees the queue.
    #[test]
    fn barge_reports_why_it_was_refused() {
        let l = RawFairLock::<crate::Spin>::with_wait();
        assert!(l.barge().is_ok());
        let refused = l.barge().unwrap_err();
        assert!(!refused.lost_race && !refused.queued);
        l.state.fetch_add(WAITER_ONE, Relaxed);
        let refused = l.barge().unwrap_err();
        assert!(!refused.lost_race && refused.queued);
        l.state.fetch_sub(WAITER_ONE, Relaxed);
        // SAFETY: acquired by the first `barge`.
        unsafe { l.unlock() };
        assert_eq!(l.state.load(Relaxed), 0);
    }

    /// Regression (issue 15, fourth round): a `lock` caller that shares its core with an owner
    /// descheduled while holding the lock gives the core to that owner before it queues, and
    /// takes the lock without queueing once the owner releases. Both threads are pinned to one
    /// CPU, and the owner "is preempted" by yielding a few times while it holds the lock:
    /// each of its yields lets the caller run one round of its own. Before the fourth round
    /// the caller spun about 200 hints, which cannot help an owner that is not running, and
    /// queued (with 8 threads on 2 cores, the queue's wake-ups were a p99.9 acquire latency
    /// of 300–800 µs); the owner then found it queued.
    #[cfg(all(feature = "std", target_os = "linux"))]
    #[test]
    fn a_caller_yields_to_a_descheduled_owner_before_it_queues() {
        use std::sync::atomic::{AtomicBool, Ordering::SeqCst};
        if cfg!(miri) {
            return; // no CPU affinity under Miri
        }
        let Some(cpu) = core_affinity::get_core_ids().and_then(|ids| ids.into_iter().next())
        else {
            return;
        };
        let l: Arc<RawFairLock<crate::Futex>> = Arc::new(RawFairLock::with_wait());
        let started = Arc::new(AtomicBool::new(false));
        let owner = {
            let (l, started) = (l.clone(), started.clone());
            std::thread::spawn(move || {
                if !core_affinity::set_for_current(cpu) {
                    return None;
                }
                l.lock();
                let caller = {
                    let (l, started) = (l.clone(), started.clone());
                    std::thread::spawn(move || {
                        assert!(core_affinity::set_for_current(cpu));
                        started.store(true, SeqCst);
                        l.lock();
                        // SAFETY: held by this thread.
                        unsafe { l.unlock() };
                    })
                };
                while !started.load(SeqCst) {
                    std::thread::yield_now();
                }
                // Descheduled while holding the lock: the caller, on this CPU, runs meanwhile.
                for _ in 0..4 {
                    std::thread::yield_now();
                }
                let queued = l.waiters();
                // SAFETY: held by this thread.
                unsafe { l.unlock() };
                caller.join().unwrap();
                Some(queued)
            })
        };
        if let Some(queued) = owner.join().unwrap() {
            assert_eq!(
                queued, 0,
                "the caller queued instead of yielding to the descheduled owner"
            );
        }
        assert_eq!(l.state.load(Relaxed) & !SLEEPERS, 0);
    }

    /// More waiters queued than there are turn slots: tickets 64 apart share a slot, so a
    /// pass of the turn wakes (and clears the sleepers flag under) a waiter whose turn has not
    /// come; that waiter must sleep again and still be woken at its own turn. Every waiter
    /// acquires, the count is exact and every drawn ticket is served.
    #[cfg(feature = "std")]
    #[test]
    fn more_waiters_than_turn_slots() {
        use std::time::{Duration, Instant};
        let threads = if cfg!(miri) { 3 } else { TURN_SLOT_COUNT as u32 + 8 };
        let rounds = if cfg!(miri) { 2 } else { 20 };
        let l: Arc<RawFairLock<crate::Futex>> = Arc::new(RawFairLock::with_wait());
        l.lock();
        let (handles, count) = counting_threads(&l, threads, rounds, test_support::lock);
        let limit = Instant::now() + Duration::from_secs(20);
        while l.waiters() < threads {
            assert!(Instant::now() < limit, "not every thread queued");
            std::thread::sleep(Duration::from_millis(1));
        }
        // SAFETY: held by this thread.
        unsafe { l.unlock() };
        assert_eq!(joined_count(handles, count), u64::from(threads * rounds));
        assert_eq!(l.waiters(), 0);
        assert_eq!(l.next.load(Relaxed), l.head.load(Relaxed));
    }

    /// A queued waiter whose `W::wait` panics: it leaves the queue without the lock, the
    /// waiters behind it are served, and no count or flag is left behind.
    #[test]
    fn panicking_wait_leaves_the_queue_and_passes_the_turn() {
        use crate::wait::testing::{must_panic, PanickyWait};
        let l: Arc<RawFairLock<PanickyWait>> = Arc::new(RawFairLock::with_wait());
        l.lock();
        let victim = {
            let l = l.clone();
            std::thread::spawn(move || {
                PanickyWait::arm(1);
                must_panic(|| l.lock());
            })
        };
        victim.join().unwrap();
        assert_eq!(l.waiters(), 0, "the victim left the queue");
        assert!(l.is_locked(), "still held by this thread");
        let behind = {
            let l = l.clone();
            std::thread::spawn(move || {
                l.lock();
                // SAFETY: held by this thread.
                unsafe { l.unlock() };
            })
        };
        while l.waiters() == 0 {
            std::thread::yield_now();
        }
        // SAFETY: held by this thread.
        unsafe { l.unlock() };
        behind.join().unwrap();
        assert!(!l.is_locked());
        assert_eq!(l.state.load(Relaxed) & !SLEEPERS, 0);
        assert_eq!(l.next.load(Relaxed), 2);
        assert_eq!(l.head.load(Relaxed), 2);
    }

    /// The tickets wrap at 32 bits: the queue keeps serving, polling `head` or asleep on
    /// the turn slots (whose hash takes the wrapped ticket).
    #[cfg(feature = "std")]
    fn tickets_wrap_around<W: Wait + 'static>() {
        let l: Arc<RawFairLock<W>> = Arc::new(RawFairLock::with_wait());
        l.next.store(u32::MAX - 1, Relaxed);
        l.head.store(u32::MAX - 1, Relaxed);
        let rounds = if cfg!(miri) { 5 } else { 200 };
        let (handles, count) = counting_threads(&l, 3, rounds, test_support::lock);
        let total = joined_count(handles, count);
        assert_eq!(total, 3 * u64::from(rounds));
        assert_eq!(l.state.load(Relaxed) & !SLEEPERS, 0);
        assert_eq!(
            l.next.load(Relaxed),
            l.head.load(Relaxed),
            "every drawn ticket was served"
        );
    }

    #[cfg(feature = "std")]
    #[test]
    fn tickets_wrap_around_polling() {
        tickets_wrap_around::<crate::Yield>();
    }

    #[cfg(feature = "std")]
    #[test]
    fn tickets_wrap_around_sleeping() {
        tickets_wrap_around::<crate::Futex>();
    }

    #[test]
    fn is_twelve_bytes() {
        assert_eq!(core::mem::size_of::<RawFairLock>(), 12);
    }
}
