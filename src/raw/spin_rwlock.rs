//! `RawSpinRwLock`: a lean spinning reader-writer lock in one 32-bit word.
//!
//! The reader-writer counterpart of [`RawSpinLock`](crate::RawSpinLock): what firmware wants
//! when it needs many readers or one writer and nothing else, at about the code size of
//! `spin`'s `RwLock` (`docs/code-size.md`). [`RwLock`](crate::RwLock) is the full lock: it
//! bounds how long readers and writers wait, and sleeps.
//!
//! Algorithm: the word holds the reader count (bits 16..=31, the upgradable reader included)
//! and three flags: write-locked, upgradable read held, and "a writer waits". A reader enters
//! by compare-exchange, adding one reader, only while neither the writer bit nor the waiting
//! flag is set. A writer takes the word by compare-exchange when no reader and no writer is
//! in; while it cannot, it sets the waiting flag, so that new readers hold off and the readers
//! inside drain (writer preference, as in Linux's `rwlock_t` with queued writers or
//! Mellor-Crummey and Scott's writer-preference lock, without the queue). A write unlock
//! stores 0: every waiting writer sets the flag again on its next poll.
//!
//! What it promises, and what not: see [`RawSpinRwLock`] (the public documentation).

use super::impl_init;
use crate::sync::atomic::{
    AtomicU32,
    Ordering::{Acquire, Relaxed, Release},
};
use crate::sync::const_fn;
use crate::wait::Backoff;
use crate::{Deadline, RawRwLock};

/// Whether an acquisition reads the word before its first compare-exchange: with a native
/// compare-exchange, so that a waiter polling a held lock only reads its cache line. Without
/// one (thumbv6m, whose read-modify-writes `portable-atomic` builds from a critical section)
/// every access, a load too, is a critical section of its own: there the first
/// compare-exchange guesses the idle word instead, and a wrong guess returns the word (as
/// `RawSpinLock`'s `TEST_FIRST`).
const TEST_FIRST: bool = cfg!(any(target_has_atomic = "8", baresync_loom));

/// Write-locked.
const WRITER: u32 = 1;
/// The upgradable read is held (its holder also counts as a reader).
const UPGRADABLE: u32 = 1 << 1;
/// A writer (or an upgrade) waits: new readers and upgradable readers hold off.
const WRITER_WAITING: u32 = 1 << 2;
/// One reader. The count is the word's top 16 bits, so that one reader too many carries out
/// of the word, which `checked_add` catches in one instruction.
const READER: u32 = 1 << 16;

/// A 4-byte spinning reader-writer lock: writer-preferring, unfair, never sleeps.
///
/// Use it through [`SpinRwLock<T>`](crate::SpinRwLock). The reader-writer counterpart of
/// [`RawSpinLock`](crate::RawSpinLock): many readers or one writer and nothing else, at about
/// the code size of `spin`'s `RwLock`; [`RwLock`](crate::RwLock) bounds every wait and
/// sleeps. One word: the reader count and three flags (write-locked, upgradable read held, a
/// writer waits). What it promises, and what not:
/// - **Unfair, no bound.** A waiter may lose every race: a writer to other writers, a reader
///   as long as writers keep coming (each waiting writer holds new readers back). Readers
///   alone cannot starve a writer: once it has raised the flag no new reader enters, and only
///   a writer's acquisition lowers it. But a write unlock lowers it for every writer still
///   waiting, and readers enter until one of them polls again, so when writers contend a
///   writer may wait through many reader phases (`host-runner stress` notes hundreds, where
///   [`RwLock`](crate::RwLock) has one or two).
/// - **Never sleeps.** Waiters spin with bounded exponential backoff; with feature `std` a
///   waiter whose backoff is spent yields its time slice (as `RawSpinLock` does), so that
///   with more threads than cores the holder gets the core. Without `std` it spins on.
/// - **Do not nest read locks**: a thread holding a read lock that asks for another can wait
///   forever behind a writer that waits for the first one.
/// - **Upgradable read**: one holder at a time, alongside readers; [`upgrade`](RawRwLock::upgrade)
///   flags itself as a waiting writer and waits for the other readers to leave. No writer can
///   get in between.
/// - The `_until` forms poll with the same backoff and call the deadline between attempts; a
///   writer (or upgrade) that gives up, or whose deadline panics, clears the waiting flag (a
///   guard does it while unwinding). Another writer still waiting sets it again on its next
///   poll.
/// - At most 65535 read locks at once (the upgradable one included); one more panics, and the
///   count never wraps.
/// - The downgrades never panic (no user code runs in them).
///
/// With feature `lock_api` it implements `lock_api::RawRwLock` and its upgrade and downgrade
/// traits, as [`RawRwMutex`](crate::RawRwMutex) does.
///
/// # Examples
///
/// ```
/// use baresync::{RawRwLock, RawSpinRwLock};
///
/// static RAW: RawSpinRwLock = RawSpinRwLock::new();
/// RAW.lock_shared();
/// assert!(RAW.try_lock_shared());
/// assert!(!RAW.try_lock_exclusive());
/// // SAFETY: this thread took two shared locks just above.
/// unsafe { RAW.unlock_shared() };
/// unsafe { RAW.unlock_shared() };
/// assert!(RAW.try_lock_exclusive());
/// // SAFETY: acquired just above.
/// unsafe { RAW.unlock_exclusive() };
/// assert_eq!(core::mem::size_of::<RawSpinRwLock>(), 4);
/// ```
#[derive(Debug)]
#[repr(C)]
pub struct RawSpinRwLock {
    /// bit 0: write-locked · 1: upgradable read held · 2: a writer waits · 16..=31: readers
    state: AtomicU32,
}

#[cold]
#[inline(never)]
#[track_caller]
fn too_many_readers() -> ! {
    panic!("SpinRwLock reader count overflow: more than 65535 read locks held at once");
}

/// Clears the waiting-writer flag when dropped: a timed writer or upgrade that gives up (or
/// whose deadline panics) must not leave new readers held back with no writer coming.
struct ClearWaiting<'a>(&'a AtomicU32);

impl Drop for ClearWaiting<'_> {
    fn drop(&mut self) {
        // ORDERING: Relaxed: the flag only holds readers back; it publishes nothing, and the
        // readers it lets in acquire from the releases that the compare-exchange reads.
        self.0.fetch_and(!WRITER_WAITING, Relaxed);
    }
}

impl RawSpinRwLock {
    const_fn! {
        /// A new, unlocked lock.
        ///
        /// # Examples
        ///
        /// ```
        /// use baresync::{RawRwLock, RawSpinRwLock};
        ///
        /// let raw = RawSpinRwLock::new();
        /// assert!(!raw.is_locked());
        /// ```
        #[inline]
        pub const fn new() -> Self {
            RawSpinRwLock { state: AtomicU32::new(0) }
        }
    }

    /// A lock whose word starts at `state` (test-only: counters near their limits).
    #[cfg(all(test, not(baresync_loom)))]
    fn with_state(state: u32) -> Self {
        RawSpinRwLock {
            state: AtomicU32::new(state),
        }
    }

    /// Read locks held right now, the upgradable one included. A snapshot for diagnostics.
    ///
    /// # Examples
    ///
    /// ```
    /// use baresync::{RawRwLock, RawSpinRwLock};
    ///
    /// let raw = RawSpinRwLock::new();
    /// raw.lock_shared();
    /// raw.lock_upgradable();
    /// assert_eq!(raw.readers(), 2);
    /// ```
    pub fn readers(&self) -> u32 {
        // ORDERING: Relaxed: a snapshot, not used to synchronize.
        self.state.load(Relaxed) / READER
    }

    /// Whether a writer (or an upgrade) has flagged that it waits, holding new readers back. A
    /// snapshot for diagnostics: a writer that gave up leaves it clear.
    ///
    /// # Examples
    ///
    /// ```
    /// use baresync::{RawRwLock, RawSpinRwLock};
    ///
    /// let raw = RawSpinRwLock::new();
    /// raw.lock_shared();
    /// assert!(!raw.lock_exclusive_until(&mut || true));
    /// assert!(!raw.writer_waiting(), "the timed-out writer cleared its flag");
    /// ```
    pub fn writer_waiting(&self) -> bool {
        // ORDERING: Relaxed: a snapshot, not used to synchronize.
        self.state.load(Relaxed) & WRITER_WAITING != 0
    }

    /// One attempt at the exclusive lock from a word whose bits other than the waiting flag
    /// are `held` (0 for a writer, the upgradable reader alone for an upgrade); if the lock is
    /// not free and `flag`, sets the waiting flag instead. Returns whether it took the lock.
    /// A compare-exchange that fails because the word changed is retried while the word it
    /// returns is still free (or still lacks the flag).
    #[inline]
    fn try_exclusive(&self, held: u32, flag: bool) -> bool {
        self.try_exclusive_as::<TEST_FIRST>(held, flag)
    }

    /// [`try_exclusive`](Self::try_exclusive) with `TEST_FIRST` as a parameter, so that the
    /// unit tests run the thumbv6m form on the host too.
    #[inline]
    fn try_exclusive_as<const TEST_FIRST: bool>(&self, held: u32, flag: bool) -> bool {
        // The first compare-exchange expects `held` unless the word is read first (see
        // `TEST_FIRST`); a wrong guess costs one failed compare-exchange, which returns the word.
        // ORDERING: Relaxed: the compare-exchange below is the acquire.
        let mut s = if TEST_FIRST { self.state.load(Relaxed) } else { held };
        loop {
            let free = s & !WRITER_WAITING == held;
            if !free {
                if !flag || (TEST_FIRST && s & WRITER_WAITING != 0) {
                    return false;
                }
                // Sets the flag. With a native compare-exchange (`TEST_FIRST`) by `fetch_or`,
                // after a look: the smaller code there. Without one, by the same
                // compare-exchange that takes the lock, without looking (the look costs a
                // critical section too): one critical section in the code instead of two.
                // `docs/design.md`, "SpinRwLock", has the bytes of each.
                if TEST_FIRST {
                    // ORDERING: Relaxed: the flag holds new readers back and publishes
                    // nothing; the writer acquires with its compare-exchange below.
                    self.state.fetch_or(WRITER_WAITING, Relaxed);
                    return false;
                }
            }
            // Taking the lock clears the waiting flag: writers still waiting set it again.
            let new = if free { WRITER } else { s | WRITER_WAITING };
            // ORDERING: Acquire pairs with the Release of the last unlock (a read unlock's
            // `fetch_sub`, a write unlock's store), so that earlier readers' reads and the
            // previous writer's writes happen before this writer's. (Setting the flag needs
            // no ordering; on targets without `TEST_FIRST` it shares the instruction.)
            match self.state.compare_exchange(s, new, Acquire, Relaxed) {
                Ok(_) => return free,
                Err(now) => s = now,
            }
        }
    }

    /// Polls [`try_exclusive`](Self::try_exclusive) with the waiting flag until it succeeds.
    #[inline]
    fn lock_exclusive_from(&self, held: u32) {
        self.poll(|l| l.try_exclusive(held, true));
    }

    /// Polls [`try_exclusive`](Self::try_exclusive) with the waiting flag until it succeeds
    /// (`true`) or `deadline` expires (`false`, the flag cleared).
    fn lock_exclusive_from_until(&self, held: u32, deadline: &mut impl Deadline) -> bool {
        // Between attempts the flag may be set: `clear` clears it when the deadline expires
        // and when it panics.
        let clear = ClearWaiting(&self.state);
        let took = self.poll_until(|l| l.try_exclusive(held, true), deadline);
        if took {
            // The successful compare-exchange cleared the flag.
            core::mem::forget(clear);
        }
        took
    }

    /// Adds a reader (with `UPGRADABLE` for the upgradable lock) while the word has none of
    /// `blocked`. Returns whether it did.
    #[inline]
    fn try_add_reader(&self, add: u32, blocked: u32) -> bool {
        self.try_add_reader_as::<TEST_FIRST>(add, blocked)
    }

    /// [`try_add_reader`](Self::try_add_reader) with `TEST_FIRST` as a parameter (see
    /// [`try_exclusive_as`](Self::try_exclusive_as)).
    #[inline]
    fn try_add_reader_as<const TEST_FIRST: bool>(&self, add: u32, blocked: u32) -> bool {
        // ORDERING: Relaxed: the compare-exchange below is the acquire.
        let mut s = if TEST_FIRST { self.state.load(Relaxed) } else { 0 };
        loop {
            if s & blocked != 0 {
                return false;
            }
            let Some(new) = (s | (add - READER)).checked_add(READER) else {
                too_many_readers()
            };
            // ORDERING: Acquire pairs with the Release store of the last write unlock (or the
            // downgrade's Release), so that the writer's writes happen before this read.
            match self
                .state
                .compare_exchange_weak(s, new, Acquire, Relaxed)
            {
                Ok(_) => return true,
                Err(now) => s = now,
            }
        }
    }

    /// Polls `attempt` with backoff until it succeeds; with feature `std` a waiter whose
    /// backoff is spent yields (`Backoff::snooze`), as `RawSpinLock`'s does.
    ///
    /// Its own loop, not [`poll_until`](Self::poll_until) with a deadline that never expires:
    /// that form measured 8 bytes more on thumbv6m (484 against 476 for `read`, `write`,
    /// `try_read`, `try_write`, 1.09× of spin's `RwLock`; `docs/code-size.md`).
    #[inline]
    fn poll(&self, attempt: impl Fn(&Self) -> bool) {
        let mut backoff = Backoff::new();
        while !attempt(self) {
            backoff.snooze();
        }
    }

    /// [`poll`](Self::poll) until `attempt` succeeds (`true`) or `deadline` expires
    /// (`false`). Nothing is held between attempts, so a panicking deadline leaves the lock as
    /// it was (a writer's flag is its caller's to clear).
    fn poll_until(&self, attempt: impl Fn(&Self) -> bool, deadline: &mut impl Deadline) -> bool {
        let mut backoff = Backoff::new();
        loop {
            if attempt(self) {
                return true;
            }
            if deadline.expired() {
                return false;
            }
            backoff.snooze();
        }
    }
}

impl Default for RawSpinRwLock {
    fn default() -> Self {
        Self::new()
    }
}

// SAFETY: a shared or upgradable lock is taken only by a compare-exchange from a word without
// the writer bit, and the exclusive lock only by a compare-exchange from a word with no reader,
// no upgradable reader and no writer (an upgrade: with only its own upgradable read), so the
// holders the word counts never conflict; the upgradable bit is set only from a word without
// it. The acquisitions are Acquire and every release is a Release read-modify-write or store
// on the same word (the flag updates in between are read-modify-writes, which continue the
// release sequences), so each acquisition happens after the releases that let it in.
unsafe impl RawRwLock for RawSpinRwLock {
    impl_init!(new);

    /// Polls [`try_lock_shared`](RawRwLock::try_lock_shared) with backoff: one loop and no
    /// slow path of its own, the smallest code (`docs/design.md`, "SpinRwLock").
    #[inline]
    fn lock_shared(&self) {
        self.poll(Self::try_lock_shared);
    }

    #[inline]
    fn try_lock_shared(&self) -> bool {
        self.try_add_reader(READER, WRITER | WRITER_WAITING)
    }

    fn lock_shared_until(&self, deadline: &mut impl Deadline) -> bool {
        self.poll_until(Self::try_lock_shared, deadline)
    }

    #[inline]
    unsafe fn unlock_shared(&self) {
        // ORDERING: Release pairs with the Acquire compare-exchange of the next writer (or
        // upgrade), so that this reader's reads happen before its writes.
        self.state.fetch_sub(READER, Release);
    }

    #[inline]
    fn lock_exclusive(&self) {
        self.lock_exclusive_from(0);
    }

    #[inline]
    fn try_lock_exclusive(&self) -> bool {
        self.try_exclusive(0, false)
    }

    fn lock_exclusive_until(&self, deadline: &mut impl Deadline) -> bool {
        self.lock_exclusive_from_until(0, deadline)
    }

    #[inline]
    unsafe fn unlock_exclusive(&self) {
        // While write-locked nothing else is in the word but the waiting flag, which waiting
        // writers set again: the unlock stores 0.
        // ORDERING: Release pairs with the Acquire compare-exchange of the next reader or
        // writer, publishing this writer's writes.
        #[cfg(not(baresync_loom))]
        self.state.store(0, Release);
        // Under loom a swap, as in `RawSpinLock::unlock` (tokio-rs/loom#254): the same release
        // for the model.
        #[cfg(baresync_loom)]
        self.state.swap(0, Release);
    }

    fn lock_upgradable(&self) {
        self.poll(Self::try_lock_upgradable);
    }

    fn try_lock_upgradable(&self) -> bool {
        self.try_add_reader(READER | UPGRADABLE, WRITER | UPGRADABLE | WRITER_WAITING)
    }

    fn lock_upgradable_until(&self, deadline: &mut impl Deadline) -> bool {
        self.poll_until(Self::try_lock_upgradable, deadline)
    }

    unsafe fn unlock_upgradable(&self) {
        // ORDERING: Release, as `unlock_shared`: the upgradable reader is a reader.
        self.state.fetch_sub(READER | UPGRADABLE, Release);
    }

    unsafe fn upgrade(&self) {
        self.lock_exclusive_from(READER | UPGRADABLE);
    }

    unsafe fn try_upgrade(&self) -> bool {
        self.try_exclusive(READER | UPGRADABLE, false)
    }

    unsafe fn upgrade_until(&self, deadline: &mut impl Deadline) -> bool {
        self.lock_exclusive_from_until(READER | UPGRADABLE, deadline)
    }

    unsafe fn downgrade(&self) {
        // The word is the writer bit and maybe the waiting flag (kept: the writer waiting
        // still has to wait for this reader). Adding `READER - WRITER` clears the one and
        // counts the other. Never panics.
        // ORDERING: Release pairs with the Acquire compare-exchange of the readers that enter
        // next, publishing this writer's writes.
        self.state.fetch_add(READER - WRITER, Release);
    }

    unsafe fn downgrade_to_upgradable(&self) {
        // As `downgrade`, also setting the upgradable bit. Never panics.
        // ORDERING: Release, as in `downgrade`.
        self.state.fetch_add(READER + UPGRADABLE - WRITER, Release);
    }

    unsafe fn downgrade_upgradable(&self) {
        // The reader count keeps this holder's read lock; only the bit goes, which lets the
        // next upgradable reader in: it synchronizes with nothing this holder did as an
        // upgradable reader that its read unlock will not publish. Never panics.
        self.state.fetch_sub(UPGRADABLE, Relaxed);
    }

    fn is_locked(&self) -> bool {
        // ORDERING: Relaxed: a snapshot, not used to synchronize.
        self.state.load(Relaxed) & !WRITER_WAITING != 0
    }

    fn is_locked_exclusive(&self) -> bool {
        // ORDERING: Relaxed: a snapshot, not used to synchronize.
        self.state.load(Relaxed) & WRITER != 0
    }
}

#[cfg(all(feature = "lock_api", not(baresync_loom)))]
super::rwlock::impl_lock_api_rw!([] RawSpinRwLock);

#[cfg(all(test, not(baresync_loom)))]
mod tests {
    use super::*;

    /// The reader count's bits.
    const READERS: u32 = !(READER - 1);

    fn state(l: &RawSpinRwLock) -> u32 {
        l.state.load(Relaxed)
    }

    #[test]
    fn is_four_bytes() {
        assert_eq!(core::mem::size_of::<RawSpinRwLock>(), 4);
    }

    /// The contract walk shared with `RawRwMutex`, checking the whole word at each step: a
    /// `try_lock_exclusive` flags nothing, and a timed-out writer or upgrade clears its flag.
    #[test]
    fn basics() {
        use super::super::test_support::{rw_basics, RwAt};
        rw_basics(&RawSpinRwLock::new(), |l, at| {
            let want = match at {
                RwAt::TwoReaders => 2 * READER,
                RwAt::Fresh | RwAt::Idle => 0,
                RwAt::UpgradableAndReader => UPGRADABLE | (2 * READER),
                RwAt::Upgraded => WRITER,
                RwAt::Upgradable => UPGRADABLE | READER,
                RwAt::OneReader => READER,
            };
            assert_eq!(state(l), want, "{at:?}");
            assert_eq!(l.readers(), want >> 16, "{at:?}");
            assert!(!l.writer_waiting(), "{at:?}");
        });
    }

    /// A writer that must wait flags itself; the flag holds new readers and upgradable readers
    /// back (not the readers inside), and the writer's acquisition clears it.
    #[test]
    fn a_waiting_writer_holds_new_readers_back() {
        let l = RawSpinRwLock::new();
        l.lock_shared();
        let mut seen = false;
        assert!(!l.lock_exclusive_until(&mut || {
            seen = l.writer_waiting();
            // While flagged, no new reader enters.
            assert!(!l.try_lock_shared() && !l.try_lock_upgradable());
            true
        }));
        assert!(seen, "the waiting writer flags itself");
        assert!(l.try_lock_shared(), "unflagged again: readers enter");
        // SAFETY: two shared locks held.
        unsafe { l.unlock_shared() };
        // SAFETY: as above.
        unsafe { l.unlock_shared() };
        // A flag left by a writer still waiting does not stop an acquisition, which clears it.
        let l = RawSpinRwLock::with_state(WRITER_WAITING);
        assert!(l.try_lock_exclusive());
        assert_eq!(state(&l), WRITER);
        // SAFETY: held exclusively.
        unsafe { l.unlock_exclusive() };
        let l = RawSpinRwLock::with_state(WRITER_WAITING | UPGRADABLE | READER);
        // SAFETY: the word says an upgradable lock is held; this test stands for its holder.
        assert!(unsafe { l.try_upgrade() });
        assert_eq!(state(&l), WRITER);
        // The downgrades keep a waiting writer's flag.
        let l = RawSpinRwLock::with_state(WRITER | WRITER_WAITING);
        // SAFETY: as above, for the exclusive lock.
        unsafe { l.downgrade() };
        assert_eq!(state(&l), WRITER_WAITING | READER);
    }

    /// The reader count is driven to its limit: one more read lock panics with a message and
    /// leaves the word as it was; nothing wraps into the flags.
    #[test]
    fn reader_overflow_panics() {
        let l = RawSpinRwLock::with_state(READERS - READER);
        assert_eq!(l.readers(), 65534);
        assert!(l.try_lock_shared());
        assert_eq!(l.readers(), 65535);
        super::super::test_support::rw_reader_overflow_panics(&l, |l| {
            assert_eq!(state(l), READERS);
        });
    }

    /// The attempts in both forms (reading the word first, as on the host, and guessing it, as
    /// on thumbv6m), from every kind of word: the same outcome and the same word after.
    #[test]
    fn both_forms_of_the_attempts_agree() {
        const R: u32 = READER;
        const U: u32 = READER | UPGRADABLE;
        let words = [
            0,
            WRITER_WAITING,
            WRITER,
            WRITER | WRITER_WAITING,
            R,
            2 * R,
            (2 * R) | WRITER_WAITING,
            U,
            U | WRITER_WAITING,
            U | R,
            U | R | WRITER_WAITING,
        ];
        for w in words {
            for (held, flag) in [(0, false), (0, true), (U, false), (U, true)] {
                if held == U && w & UPGRADABLE == 0 {
                    continue; // an upgrade needs the upgradable lock held
                }
                let (a, b) = (
                    RawSpinRwLock::with_state(w),
                    RawSpinRwLock::with_state(w),
                );
                let got = (a.try_exclusive_as::<true>(held, flag), b.try_exclusive_as::<false>(held, flag));
                assert_eq!(got.0, got.1, "{w:#x} {held:#x} {flag}");
                assert_eq!(state(&a), state(&b), "{w:#x} {held:#x} {flag}");
                let free = w & !WRITER_WAITING == held;
                assert_eq!(got.0, free, "{w:#x} {held:#x} {flag}");
                let after = if free {
                    WRITER
                } else if flag {
                    w | WRITER_WAITING
                } else {
                    w
                };
                assert_eq!(state(&a), after, "{w:#x} {held:#x} {flag}");
            }
            for (add, blocked) in [
                (R, WRITER | WRITER_WAITING),
                (U, WRITER | UPGRADABLE | WRITER_WAITING),
            ] {
                let (a, b) = (
                    RawSpinRwLock::with_state(w),
                    RawSpinRwLock::with_state(w),
                );
                let got = (a.try_add_reader_as::<true>(add, blocked), b.try_add_reader_as::<false>(add, blocked));
                assert_eq!(got.0, got.1, "{w:#x} {add:#x}");
                assert_eq!(got.0, w & blocked == 0, "{w:#x} {add:#x}");
                assert_eq!(state(&a), state(&b), "{w:#x} {add:#x}");
                assert_eq!(state(&a), if got.0 { w + add } else { w }, "{w:#x} {add:#x}");
            }
        }
    }

    /// A deadline that panics while a writer or an upgrade is flagged leaves the flag clear.
    #[test]
    fn panicking_deadline_clears_the_flag() {
        let l = RawSpinRwLock::new();
        l.lock_upgradable();
        l.lock_shared();
        for upgrade in [false, true] {
            let r = std::panic::catch_unwind(core::panic::AssertUnwindSafe(|| {
                let mut d = || -> bool {
                    assert!(l.writer_waiting());
                    panic!("injected")
                };
                if upgrade {
                    // SAFETY: the upgradable lock is held.
                    unsafe { l.upgrade_until(&mut d) }
                } else {
                    l.lock_exclusive_until(&mut d)
                }
            }));
            assert!(r.is_err());
            assert_eq!(state(&l), UPGRADABLE | (2 * READER), "upgrade {upgrade}");
        }
    }
}
