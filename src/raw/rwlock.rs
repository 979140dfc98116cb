//! `RawRwLock` and `RawRwMutex<W>`: a 4-byte reader-writer lock with writer preference and a
//! reader hand-off.
//!
//! Algorithm: one 32-bit word that counts active readers, waiting readers and waiting writers
//! exactly, and waits through [`Wait`] on that word (the futex reader-writer lock of std and
//! of Linux's `rwsem` share the idea of keeping waiter state in the lock word; the hand-off to
//! every waiting reader at once is the reader half of Brandenburg and Anderson's phase-fair
//! locks, "Reader-Writer Synchronization for Shared-Memory Multiprocessor Real-Time Systems",
//! ECRTS 2009). Progress: deadlock-free; a reader or writer in its slow path waits a bounded
//! number of phases of the other kind (below); writers among themselves are unordered, as in
//! [`RawMutex`](crate::RawMutex).
//!
//! - **Writer preference.** A waiting writer (or upgrader) is counted in the word, and while
//!   the count is not zero no new reader enters: the readers inside drain and the writer gets
//!   the lock. A writer therefore waits for at most one reader phase per writer phase before it
//!   (the readers inside when it arrived, or the batch handed off by the writer before it).
//! - **Readers are not starved either.** A reader that must wait polls for a bounded budget
//!   (the pre-sleep rounds, below), then registers in the word; the next write unlock admits
//!   every registered reader at once (moves their count to the active count and flips a
//!   generation bit the waiters watch), even while other writers wait. A reader therefore waits
//!   for its polling budget plus at most one writer phase (the writer holding the lock or the
//!   first waiting writer to get it).
//! - **The cost to readers**: a read lock is one `fetch_add`, checked after the fact (a reader
//!   refused because a writer holds or waits for the lock undoes its increment, which counts
//!   as a read unlock: the writer may see one reader more for that moment), a read unlock one
//!   `fetch_sub`. A reader arriving while a writer waits blocks even though the
//!   lock is read-locked, so a thread that read-locks twice can deadlock against a waiting
//!   writer (as with std's `RwLock`): do not nest read locks.
//! - **Upgradable reads**: one upgradable reader at a time, alongside plain readers; it blocks
//!   writers and other upgradable readers but not readers, and can become the writer
//!   (`upgrade`) once the other readers have left, registering as a waiting writer meanwhile.
//!
//! **When a waiter registers** decides how the lock behaves when threads outnumber cores. A
//! registered waiter holds others back: a registered writer keeps new readers out, and a write
//! unlock hands a read lock to every registered reader, which the next writer then waits for.
//! A registered thread that the scheduler has taken off its core therefore stalls every thread
//! that runs. So readers (and upgradable-read waiters) poll unregistered through the pre-sleep
//! budget (spin hints, then yields: the thread they wait for may need this core) and register
//! only to sleep; writers register at once (writer preference needs it) and then poll the same
//! budget before they sleep. Measured (`host-runner bench`, 2 cores, 99 % reads, 4 threads):
//! registering every waiter at once ran at about 0.25x of `std::sync::RwLock`, this at about
//! par with it (`docs/design.md`, "RwLock when threads outnumber cores").
//!
//! Every sleeping state is counted or flagged in the word, and every sleep is on the value a
//! waiter last saw after registering there, so the release that a sleeper waits for sees it and
//! wakes (`wake_all`: with one word, readers and writers cannot be woken apart); an uncontended
//! read or write makes no wake call.

use super::impl_init;
use crate::sync::atomic::{
    fence, AtomicU32,
    Ordering::{Acquire, Relaxed, Release},
};
use crate::sync::const_fn;
use crate::wait::{wait_for, Backoff, DefaultWait, Forever, PreSleep, Wait};
use crate::Deadline;
use core::marker::PhantomData;

/// One active reader (the upgradable reader counts as one too).
const READER: u32 = 1;
/// Active readers, bits 0..=16: at most [`MAX_READERS`] held read locks, plus the readers
/// whose fast-path increment is about to be undone (see [`OVERFLOW`]).
const READERS: u32 = 0x1_FFFF;
/// The most read locks held at once; one more panics.
pub(crate) const MAX_READERS: u32 = 0xFFFF;
/// Set in the reader count once it exceeds [`MAX_READERS`]. The read fast path adds first and
/// checks after (one `fetch_add`), so a refused reader's increment is in the word until it
/// undoes it: the count may pass `MAX_READERS` for a moment, by one per thread between its
/// increment and its undo, and the 65536 values above the limit are the guard band that keeps
/// it from carrying into the waiting readers' count.
const OVERFLOW: u32 = MAX_READERS + 1;
/// One registered waiting reader.
const WAITING_READER: u32 = 1 << 17;
/// Registered waiting readers, bits 17..=23. When full, further readers wait unregistered
/// (polling, never sleeping) and are not part of the next hand-off.
const WAITING_READERS: u32 = 0x7F << 17;
/// One registered waiting writer (or upgrader).
const WAITING_WRITER: u32 = 1 << 24;
/// Registered waiting writers, bits 24..=27. When full, further writers wait unregistered
/// (polling, never sleeping) and do not hold readers back.
const WAITING_WRITERS: u32 = 0xF << 24;
/// A registered writer or upgrader, or a waiter for the upgradable read, may sleep: set just
/// before it sleeps, cleared (with a wake) by a release that may let it in. Registered readers
/// need no flag: they register only to sleep.
const SLEEPERS: u32 = 1 << 28;
/// The upgradable read is held (its holder is also counted in `READERS`).
const UPGRADABLE: u32 = 1 << 29;
/// Write-locked.
const WRITER: u32 = 1 << 30;
/// Flipped by each hand-off to the registered readers, which watch it to learn they were
/// admitted. Only its change matters: it cannot flip twice while a registered reader waits,
/// because the first flip gives that reader a read lock and no writer can enter until it leaves.
const GEN: u32 = 1 << 31;

/// A reader-writer lock with no data: the algorithm behind a
/// [`ReadWriteLock`](crate::ReadWriteLock).
///
/// Shared (read) locks may be held by many at once; an exclusive (write) lock by one, with no
/// readers; an upgradable read by one at a time, alongside readers, and it may become the write
/// lock.
///
/// # Safety
///
/// An implementation must provide reader-writer exclusion: while an exclusive lock is held, no
/// shared, upgradable or other exclusive acquisition succeeds; while any shared or upgradable
/// lock is held, no exclusive acquisition succeeds; at most one upgradable lock is held at a
/// time. Every acquisition must synchronize with (happen after) the releases that let it in
/// (an exclusive acquisition after every earlier release; a shared one after the previous
/// exclusive release), so that what a writer wrote is visible to the next readers and writer,
/// and readers' reads happen before the next writer's writes. [`ReadWriteLock`](crate::ReadWriteLock)
/// hands out `&T` and `&mut T` on the strength of these promises.
///
/// A method that panics must leave the lock as it was before the call (for
/// [`upgrade`](RawRwLock::upgrade) and [`upgrade_until`](RawRwLock::upgrade_until): the
/// upgradable lock still held), or, if it panics after acquiring, the lock held, which only
/// costs liveness. The three downgrades are the exception: a downgrade that panics must do so
/// after taking effect (the caller then holds the weaker lock, which
/// [`ReadWriteLock`](crate::ReadWriteLock)'s guards release while unwinding); a downgrade that
/// panicked before taking effect would have the caller's guard release a lock it does not
/// hold in that form, breaking exclusion. `RawRwMutex` calls user code in a downgrade only in
/// its wake call, after the state change.
///
/// # Examples
///
/// ```
/// use baresync::{RawRwLock, RawRwMutex, Spin};
///
/// static RAW: RawRwMutex<Spin> = RawRwMutex::with_wait();
/// RAW.lock_shared();
/// RAW.lock_shared();
/// assert!(!RAW.try_lock_exclusive());
/// // SAFETY: this thread took two shared locks just above.
/// unsafe { RAW.unlock_shared() };
/// unsafe { RAW.unlock_shared() };
/// assert!(RAW.try_lock_exclusive());
/// assert!(RAW.is_locked_exclusive());
/// // SAFETY: acquired just above.
/// unsafe { RAW.unlock_exclusive() };
/// assert!(!RAW.is_locked());
/// ```
pub unsafe trait RawRwLock {
    /// An unlocked lock, for `const` and `static` initialization.
    #[cfg(not(baresync_loom))]
    const INIT: Self;

    /// An unlocked lock (loom's atomics cannot be built in a constant).
    #[cfg(baresync_loom)]
    #[doc(hidden)]
    fn init() -> Self;

    /// Acquires a shared lock, waiting as long as it takes.
    fn lock_shared(&self);
    /// Acquires a shared lock if that is possible right now; never waits.
    fn try_lock_shared(&self) -> bool;
    /// Acquires a shared lock unless `deadline` expires first; returns whether it did.
    fn lock_shared_until(&self, deadline: &mut impl Deadline) -> bool;
    /// Releases a shared lock.
    ///
    /// # Safety
    ///
    /// The caller's context must hold a shared lock, which it gives up.
    unsafe fn unlock_shared(&self);

    /// Acquires the exclusive lock, waiting as long as it takes.
    fn lock_exclusive(&self);
    /// Acquires the exclusive lock if it is free right now; never waits.
    fn try_lock_exclusive(&self) -> bool;
    /// Acquires the exclusive lock unless `deadline` expires first; returns whether it did.
    fn lock_exclusive_until(&self, deadline: &mut impl Deadline) -> bool;
    /// Releases the exclusive lock.
    ///
    /// # Safety
    ///
    /// The caller's context must hold the exclusive lock.
    unsafe fn unlock_exclusive(&self);

    /// Acquires the upgradable lock (a shared lock that may become exclusive), waiting as
    /// long as it takes.
    fn lock_upgradable(&self);
    /// Acquires the upgradable lock if that is possible right now; never waits.
    fn try_lock_upgradable(&self) -> bool;
    /// Acquires the upgradable lock unless `deadline` expires first; returns whether it did.
    fn lock_upgradable_until(&self, deadline: &mut impl Deadline) -> bool;
    /// Releases the upgradable lock.
    ///
    /// # Safety
    ///
    /// The caller's context must hold the upgradable lock.
    unsafe fn unlock_upgradable(&self);

    /// Turns the upgradable lock into the exclusive lock, waiting for the other readers to
    /// leave.
    ///
    /// # Safety
    ///
    /// The caller's context must hold the upgradable lock. If this panics, it still does.
    unsafe fn upgrade(&self);
    /// Turns the upgradable lock into the exclusive lock if no other reader holds the lock
    /// right now; never waits. On `false` the upgradable lock is still held.
    ///
    /// # Safety
    ///
    /// The caller's context must hold the upgradable lock.
    unsafe fn try_upgrade(&self) -> bool;
    /// Turns the upgradable lock into the exclusive lock unless `deadline` expires first. On
    /// `false` (or a panic) the upgradable lock is still held.
    ///
    /// # Safety
    ///
    /// The caller's context must hold the upgradable lock.
    unsafe fn upgrade_until(&self, deadline: &mut impl Deadline) -> bool;

    /// Turns the exclusive lock into a shared lock, without letting a writer in between.
    ///
    /// # Safety
    ///
    /// The caller's context must hold the exclusive lock.
    unsafe fn downgrade(&self);
    /// Turns the exclusive lock into the upgradable lock, without letting a writer in between.
    ///
    /// # Safety
    ///
    /// The caller's context must hold the exclusive lock.
    unsafe fn downgrade_to_upgradable(&self);
    /// Turns the upgradable lock into a plain shared lock.
    ///
    /// # Safety
    ///
    /// The caller's context must hold the upgradable lock.
    unsafe fn downgrade_upgradable(&self);

    /// Whether any lock (shared, upgradable or exclusive) is held right now. A snapshot.
    fn is_locked(&self) -> bool;
    /// Whether the exclusive lock is held right now. A snapshot.
    fn is_locked_exclusive(&self) -> bool;
}

/// A 4-byte reader-writer lock that waits through `W`: writer-preferring, with every waiting
/// reader admitted at the next write unlock (see [`RwLock`](crate::RwLock) for the bounds).
///
/// Use it through [`RwLock<T, W>`](crate::RwLock).
///
/// # Examples
///
/// ```
/// use baresync::{RawRwLock, RawRwMutex};
///
/// let raw = RawRwMutex::new();
/// raw.lock_upgradable();
/// assert!(raw.try_lock_shared()); // readers may join an upgradable reader
/// // SAFETY: the shared lock was taken just above.
/// unsafe { raw.unlock_shared() };
/// // SAFETY: this thread holds the upgradable lock.
/// unsafe { raw.upgrade() };
/// assert!(raw.is_locked_exclusive());
/// // SAFETY: the upgrade made this thread the writer.
/// unsafe { raw.unlock_exclusive() };
/// assert_eq!(core::mem::size_of::<RawRwMutex>(), 4);
/// ```
#[repr(C)]
pub struct RawRwMutex<W = DefaultWait> {
    /// bits 0..=16: active readers (the upgradable reader included) · 17..=23: registered
    /// waiting readers · 24..=27: registered waiting writers and upgraders · 28: an
    /// upgradable-read waiter may sleep · 29: upgradable read held · 30: write-locked ·
    /// 31: hand-off generation
    state: AtomicU32,
    _wait: PhantomData<fn() -> W>,
}

#[cold]
#[inline(never)]
#[track_caller]
fn too_many_readers() -> ! {
    panic!("RwLock reader count overflow: more than 65535 read locks held at once (leaked read guards?)");
}

/// What a slow path waits to acquire; one wait loop ([`RawRwMutex::wait_as`]) serves all four.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Kind {
    /// A shared lock.
    Read,
    /// The exclusive lock, holding nothing.
    Write,
    /// The exclusive lock, holding the upgradable lock.
    Upgrade,
    /// The upgradable lock.
    Upgradable,
}

impl Kind {
    /// What registering as a waiter adds to the word: one to the waiting readers' or the
    /// waiting writers' count (nothing for an upgradable-read waiter, which is not counted).
    #[inline]
    fn mark(self) -> u32 {
        match self {
            Kind::Read => WAITING_READER,
            Kind::Write | Kind::Upgrade => WAITING_WRITER,
            Kind::Upgradable => 0,
        }
    }

    /// The mark's whole count, all ones when full.
    #[inline]
    fn field(self) -> u32 {
        match self {
            Kind::Read => WAITING_READERS,
            Kind::Write | Kind::Upgrade => WAITING_WRITERS,
            Kind::Upgradable => 0,
        }
    }
}

/// Whether an optional deadline has expired (`None`: never).
#[inline]
fn expired<D: Deadline>(deadline: Option<&mut D>) -> bool {
    match deadline {
        Some(d) => d.expired(),
        None => false,
    }
}

/// A waiter's registration in the word. Its drop deregisters on every way out of the slow
/// path that did not acquire (deadline, panic in the deadline or in `W`); a reader that a
/// hand-off admitted meanwhile releases that read lock again on unwind. The sleepers' flag is
/// shared by every sleeper and left set: it costs the next release one needless wake call,
/// which clears it.
struct Registration<'a, W: Wait> {
    lock: &'a RawRwMutex<W>,
    kind: Kind,
    registered: bool,
    /// For a reader: the generation seen when registering.
    gen: u32,
}

impl<W: Wait> Registration<'_, W> {
    /// Leaves the queue without acquiring; `true` if a hand-off had admitted this reader
    /// already (it then holds a read lock).
    fn give_up(&mut self) -> bool {
        if !core::mem::take(&mut self.registered) {
            return false;
        }
        match self.kind {
            Kind::Read => self.lock.abandon_read(self.gen),
            Kind::Write | Kind::Upgrade => {
                self.lock.abandon_write();
                false
            }
            Kind::Upgradable => false,
        }
    }
}

impl<W: Wait> Drop for Registration<'_, W> {
    fn drop(&mut self) {
        if self.give_up() {
            // SAFETY: the hand-off gave this thread a read lock that nobody will release.
            unsafe { self.lock.unlock_shared() };
        }
    }
}

impl RawRwMutex {
    const_fn! {
        /// A new, unlocked lock waiting through the default backend
        /// ([`DefaultWait`](crate::wait::DefaultWait)).
        ///
        /// # Examples
        ///
        /// ```
        /// use baresync::{RawRwLock, RawRwMutex};
        ///
        /// let raw = RawRwMutex::new(); // no annotation needed
        /// assert!(!raw.is_locked());
        /// ```
        #[inline]
        pub const fn new() -> Self {
            Self::with_wait()
        }
    }
}

impl<W: Wait> RawRwMutex<W> {
    const_fn! {
        /// A new, unlocked lock waiting through `W`, named by the type.
        ///
        /// # Examples
        ///
        /// ```
        /// use baresync::{RawRwLock, RawRwMutex, Spin};
        ///
        /// static RAW: RawRwMutex<Spin> = RawRwMutex::with_wait();
        /// assert!(!RAW.is_locked());
        /// ```
        #[inline]
        pub const fn with_wait() -> Self {
            RawRwMutex { state: AtomicU32::new(0), _wait: PhantomData }
        }
    }

    /// A lock whose word starts at `state` (test-only: counters near their limits).
    #[cfg(all(test, not(baresync_loom)))]
    fn with_state(state: u32) -> Self {
        RawRwMutex {
            state: AtomicU32::new(state),
            _wait: PhantomData,
        }
    }

    /// Whether a new reader may enter a lock in state `s` (overflow aside).
    #[inline]
    fn readable(s: u32) -> bool {
        s & (WRITER | WAITING_WRITERS) == 0
    }

    /// The state after taking a lock of `kind` from state `s`, if that is possible now.
    #[inline]
    fn take(kind: Kind, s: u32) -> Option<u32> {
        match kind {
            Kind::Read => {
                if !Self::readable(s) {
                    return None;
                }
                if s & READERS >= MAX_READERS {
                    too_many_readers();
                }
                Some(s + READER)
            }
            Kind::Write => Self::take_exclusive(s),
            Kind::Upgrade => Self::take_upgrade(s),
            Kind::Upgradable => Self::take_upgradable(s),
        }
    }

    /// The slow path of every acquisition, written once: waits until a lock of `kind` can be
    /// taken (or, for a registered reader, until a hand-off admits it), or `deadline` expires.
    ///
    /// When a waiter registers is what keeps the lock fast when threads outnumber cores: a
    /// registered waiter holds others back (a waiting writer keeps new readers out; a write
    /// unlock hands a read lock to every registered reader, which the next writer then waits
    /// for), so a registered thread that is not running stalls everyone. Readers and
    /// upgradable-read waiters therefore poll unregistered through the pre-sleep budget
    /// ([`PreSleep`]: spins, then yields) and register only to sleep; writers must register at
    /// once (writer preference), then poll the same budget before they sleep.
    #[cold]
    #[inline(never)]
    fn wait_as<D: Deadline>(&self, kind: Kind, mut deadline: Option<&mut D>) -> bool {
        let mut reg = Registration {
            lock: self,
            kind,
            registered: false,
            gen: 0,
        };
        let mut pre_sleep = PreSleep::new();
        let mut full = Backoff::new();
        // Under loom every waiter registers first, as writers do: the unregistered polling
        // changes nothing in the word, and registering first keeps the sleeping paths (and the
        // lost wake-ups the models look for) within the models' preemption bound.
        let register_first = cfg!(baresync_loom) || matches!(kind, Kind::Write | Kind::Upgrade);
        // ORDERING: Relaxed: only chooses the next step; acquiring is an Acquire CAS or fence.
        let mut s = self.state.load(Relaxed);
        loop {
            if reg.registered && kind == Kind::Read && s & GEN != reg.gen {
                // A write unlock admitted every registered reader, this one included.
                reg.registered = false;
                // ORDERING: Acquire fence pairs with the Release compare-exchange of the
                // hand-off in `release_writer`, whose flip of GEN the load above saw (or a
                // later read-modify-write in its release sequence): the writer's writes
                // happen-before our reads.
                fence(Acquire);
                return true;
            }
            if let Some(new) = Self::take(kind, s) {
                let new = new - if reg.registered { kind.mark() } else { 0 };
                // ORDERING: Acquire pairs with the Release of every earlier unlock this
                // acquisition depends on (the last write unlock; for a writer or upgrader also
                // the readers' `fetch_sub`s and the last upgradable unlock), so their accesses
                // happen-before ours.
                match self.state.compare_exchange_weak(s, new, Acquire, Relaxed) {
                    Ok(_) => {
                        reg.registered = false;
                        return true;
                    }
                    Err(now) => {
                        s = now;
                        continue;
                    }
                }
            }
            // Poll while the budget lasts: unregistered (readers, upgradable-read waiters) or
            // registered (writers, upgraders).
            if (reg.registered || !register_first) && pre_sleep.poll() {
                if expired(deadline.as_deref_mut()) {
                    return reg.give_up();
                }
                // ORDERING: Relaxed, as above.
                s = self.state.load(Relaxed);
                continue;
            }
            if !reg.registered {
                if kind == Kind::Upgradable {
                    // Nothing to count: it sleeps under the sleepers' flag, set below.
                    reg.registered = true;
                } else if s & kind.field() == kind.field() {
                    // The count is full: poll unregistered, never sleeping, since no release
                    // promises to wake this waiter. (A backend whose waits poll needs no wake:
                    // it waits below, as a registered waiter does, which saves a loop.)
                    if !W::WAKE_IS_NOOP {
                        full.snooze();
                        if expired(deadline.as_deref_mut()) {
                            return false;
                        }
                        // ORDERING: Relaxed, as above.
                        s = self.state.load(Relaxed);
                        continue;
                    }
                } else {
                    // ORDERING: Relaxed: registering publishes no data; the release that
                    // admits or wakes us reads the registration from this same word.
                    match self
                        .state
                        .compare_exchange_weak(s, s + kind.mark(), Relaxed, Relaxed)
                    {
                        Ok(_) => {
                            reg.registered = true;
                            reg.gen = s & GEN;
                            s += kind.mark();
                        }
                        Err(now) => s = now,
                    }
                    continue;
                }
            }
            if kind != Kind::Read && !W::WAKE_IS_NOOP && s & SLEEPERS == 0 {
                // About to sleep: ask the release that can let us in to wake us. Checked before
                // every sleep, since a wake clears the flag for everyone it wakes. (A registered
                // reader needs no flag: the write unlock that admits it wakes.)
                // ORDERING: Relaxed: the flag publishes no data, and the release that sees it
                // reads it from this same word.
                match self
                    .state
                    .compare_exchange_weak(s, s | SLEEPERS, Relaxed, Relaxed)
                {
                    Ok(_) => s |= SLEEPERS,
                    Err(now) => s = now,
                }
                continue;
            }
            if W::SPINS_ONLY {
                // `W` would only poll (`Spin`): back off here, this loop being the poll.
                if expired(deadline.as_deref_mut()) {
                    return reg.give_up();
                }
                full.spin();
            } else if !wait_for::<W, D>(&self.state, s, deadline.as_deref_mut()) {
                // Admitted between the last look and the deadline: keep the lock.
                return reg.give_up();
            }
            // ORDERING: Relaxed, as above.
            s = self.state.load(Relaxed);
        }
    }

    /// Takes a registered reader out of the count; `true` if a hand-off had admitted it
    /// already (it then holds a read lock).
    fn abandon_read(&self, gen: u32) -> bool {
        // ORDERING: Relaxed: only chooses between the two exits below.
        let mut s = self.state.load(Relaxed);
        loop {
            if s & GEN != gen {
                // ORDERING: Acquire fence pairs with the hand-off's Release, as in the slow path.
                fence(Acquire);
                return true;
            }
            // ORDERING: Relaxed: leaving the queue publishes nothing.
            match self
                .state
                .compare_exchange_weak(s, s - WAITING_READER, Relaxed, Relaxed)
            {
                Ok(_) => return false,
                Err(now) => s = now,
            }
        }
    }

    /// Takes a registered writer (or upgrader) out of the count; when it was the last one,
    /// wakes the readers and upgradable-read waiters it held back.
    fn abandon_write(&self) {
        // ORDERING: Relaxed: leaving the queue publishes nothing.
        let prev = self.state.fetch_sub(WAITING_WRITER, Relaxed);
        let now = prev - WAITING_WRITER;
        if !W::WAKE_IS_NOOP
            && now & WAITING_WRITERS == 0
            && now & (WAITING_READERS | SLEEPERS) != 0
        {
            self.wake_slow();
        }
    }

    /// The exclusive lock's fast path: one compare-exchange from the idle word.
    #[inline]
    fn lock_exclusive_fast(&self) -> bool {
        // ORDERING: Acquire pairs with the Release of every earlier unlock (the last write
        // unlock's compare-exchange and the readers' `fetch_sub`s since), so their accesses
        // happen-before ours.
        self.state
            .compare_exchange(0, WRITER, Acquire, Relaxed)
            .is_ok()
    }

    /// `try_lock_exclusive` when the word is not idle: the lock may still be free (a
    /// generation bit, a sleepers' flag or waiting counts set), so it looks. Out of line, for
    /// code size.
    #[cold]
    #[inline(never)]
    fn try_lock_exclusive_slow(&self) -> bool {
        self.try_as(Kind::Write)
    }

    /// Takes a lock of `kind` if it can be taken now, without waiting or registering (the
    /// `try_*` forms of the write, upgradable and upgrade locks; the read lock's fast path is
    /// a `fetch_add`).
    #[inline]
    fn try_as(&self, kind: Kind) -> bool {
        // ORDERING: Relaxed: the compare-exchange is the acquire.
        let mut s = self.state.load(Relaxed);
        while let Some(new) = Self::take(kind, s) {
            // ORDERING: Acquire pairs with the Release of every earlier unlock this
            // acquisition depends on, as in `wait_as` (the last write unlock; for a writer or
            // upgrader also the readers' `fetch_sub`s and the last upgradable unlock).
            match self.state.compare_exchange_weak(s, new, Acquire, Relaxed) {
                Ok(_) => return true,
                Err(now) => s = now,
            }
        }
        false
    }

    /// The exclusive lock from state `s`, if it is free.
    #[inline]
    fn take_exclusive(s: u32) -> Option<u32> {
        (s & (READERS | WRITER | UPGRADABLE) == 0).then_some(s | WRITER)
    }

    /// The exclusive lock from the upgradable holder's state `s`, if it is the only reader.
    #[inline]
    fn take_upgrade(s: u32) -> Option<u32> {
        (s & READERS == READER).then(|| s - READER - UPGRADABLE + WRITER)
    }

    /// The upgradable lock from state `s`, if it is free and no writer waits.
    #[inline]
    fn take_upgradable(s: u32) -> Option<u32> {
        if s & (WRITER | UPGRADABLE | WAITING_WRITERS) != 0 {
            return None;
        }
        if s & READERS >= MAX_READERS {
            too_many_readers();
        }
        Some(s + READER + UPGRADABLE)
    }

    /// Releases the exclusive lock, keeping `keep` (nothing, a read lock, or the upgradable
    /// lock) for the caller, and admits every registered reader. Every write unlock (and
    /// downgrade) is a call to this one function, for code size: the uncontended unlock is
    /// still one compare-exchange, from the guess that nobody waits (no load first).
    #[inline(never)]
    fn release_writer(&self, keep: u32) {
        let mut s = WRITER;
        loop {
            let waiting_readers = (s & WAITING_READERS) / WAITING_READER;
            // Waiting writers stay registered (and keep new readers out); upgradable-read
            // waiters are woken and register again if they must. Readers refused by the read
            // fast path may be counted (their undo follows): they stay counted.
            let mut new = (s & (WAITING_WRITERS | READERS)) + keep;
            let mut wake = s & SLEEPERS != 0;
            if waiting_readers > 0 {
                // The hand-off: every registered reader becomes an active one.
                new += waiting_readers * READER;
                new |= (s & GEN) ^ GEN;
                wake = true;
            }
            // ORDERING: Release pairs with the Acquire of whoever enters next: a writer's or
            // reader's compare-exchange, or the fence of a reader admitted here.
            match self.state.compare_exchange_weak(s, new, Release, Relaxed) {
                Ok(_) => {
                    if wake && !W::WAKE_IS_NOOP {
                        self.wake_slow();
                    }
                    return;
                }
                Err(now) => s = now,
            }
        }
    }

    #[cold]
    fn wake_slow(&self) {
        W::wake_all(&self.state);
    }

    /// A read unlock that left the word at `now` with the sleepers' flag set: if that was the
    /// last reader (or all but an upgrader waiting to upgrade) and a writer waits, clears the
    /// flag (the `fetch_sub` could not) and wakes the sleepers. A sleeper that sets the flag
    /// again after the clear sleeps on a value this wake follows, or finds the word changed.
    #[cold]
    #[inline(never)]
    fn unlock_shared_slow(&self, now: u32) {
        let readers = now & READERS;
        // A writer holding the lock (a refused reader undoing its increment) wakes the
        // sleepers itself when it releases.
        if now & WRITER != 0
            || now & WAITING_WRITERS == 0
            || !(readers == 0 || (readers == READER && now & UPGRADABLE != 0))
        {
            return;
        }
        // ORDERING: Relaxed: clearing the flag publishes nothing; woken threads re-read the
        // word with their own orderings.
        self.state.fetch_and(!SLEEPERS, Relaxed);
        W::wake_all(&self.state);
    }
}

impl<W: Wait> Default for RawRwMutex<W> {
    fn default() -> Self {
        Self::with_wait()
    }
}

impl<W> core::fmt::Debug for RawRwMutex<W> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        // ORDERING: Relaxed: a snapshot for display.
        let s = self.state.load(Relaxed);
        f.debug_struct("RawRwMutex")
            .field("readers", &(s & READERS))
            .field("writer", &(s & WRITER != 0))
            .field("upgradable", &(s & UPGRADABLE != 0))
            .field("waiting_readers", &((s & WAITING_READERS) / WAITING_READER))
            .field("waiting_writers", &((s & WAITING_WRITERS) / WAITING_WRITER))
            .field("sleepers", &(s & SLEEPERS != 0))
            .finish()
    }
}

// SAFETY: the word admits a writer only from a state with no active reader, no upgradable
// reader and no writer (`take_exclusive`, `take_upgrade` with the upgrader as the only reader),
// readers only without a writer (`readable`, and the hand-off, which clears WRITER in the same
// step), and the upgradable reader only without a writer or another upgradable one. Every
// acquisition is an Acquire read-modify-write (or a fence after seeing the hand-off) and every
// release a Release one, all on this one word, so each acquisition happens after the releases
// it depends on. Panics (user deadlines, `W`) are caught by the registrations' drop guards,
// which leave the counts as they were (a hand-off that admitted a panicking reader is undone).
unsafe impl<W: Wait> RawRwLock for RawRwMutex<W> {
    impl_init!(with_wait);

    #[inline]
    fn lock_shared(&self) {
        if !self.try_lock_shared_fast() {
            self.wait_as(Kind::Read, None::<&mut Forever>);
        }
    }

    #[inline]
    fn try_lock_shared(&self) -> bool {
        self.try_lock_shared_fast()
    }

    fn lock_shared_until(&self, deadline: &mut impl Deadline) -> bool {
        self.try_lock_shared_fast() || self.wait_as(Kind::Read, Some(deadline))
    }

    #[inline]
    unsafe fn unlock_shared(&self) {
        // ORDERING: Release pairs with the Acquire of the next writer or upgrader, so our
        // reads happen-before its writes.
        let prev = self.state.fetch_sub(READER, Release);
        // One test on the fast path: a sleeping writer is flagged (the flag is the same before
        // and after the subtraction, which cannot borrow past the held read lock).
        if !W::WAKE_IS_NOOP && prev & SLEEPERS != 0 {
            self.unlock_shared_slow(prev - READER);
        }
    }

    #[inline]
    fn lock_exclusive(&self) {
        // Any other state (flags, waiters, a generation bit) is the slow path's, whose first
        // step takes the lock if it is free.
        if !self.lock_exclusive_fast() {
            self.wait_as(Kind::Write, None::<&mut Forever>);
        }
    }

    #[inline]
    fn try_lock_exclusive(&self) -> bool {
        self.lock_exclusive_fast() || self.try_lock_exclusive_slow()
    }

    fn lock_exclusive_until(&self, deadline: &mut impl Deadline) -> bool {
        self.try_lock_exclusive() || self.wait_as(Kind::Write, Some(deadline))
    }

    #[inline]
    unsafe fn unlock_exclusive(&self) {
        self.release_writer(0);
    }

    #[inline]
    fn lock_upgradable(&self) {
        if !self.try_lock_upgradable() {
            self.wait_as(Kind::Upgradable, None::<&mut Forever>);
        }
    }

    #[inline]
    fn try_lock_upgradable(&self) -> bool {
        self.try_as(Kind::Upgradable)
    }

    fn lock_upgradable_until(&self, deadline: &mut impl Deadline) -> bool {
        self.try_lock_upgradable() || self.wait_as(Kind::Upgradable, Some(deadline))
    }

    unsafe fn unlock_upgradable(&self) {
        // ORDERING: Relaxed: the compare-exchange below publishes.
        let mut s = self.state.load(Relaxed);
        loop {
            let new = (s - READER - UPGRADABLE) & !SLEEPERS;
            let wake = s & SLEEPERS != 0;
            // ORDERING: Release pairs with the Acquire of the next writer, so the upgradable
            // reader's reads happen-before its writes.
            match self.state.compare_exchange_weak(s, new, Release, Relaxed) {
                Ok(_) => {
                    if wake && !W::WAKE_IS_NOOP {
                        self.wake_slow();
                    }
                    return;
                }
                Err(now) => s = now,
            }
        }
    }

    unsafe fn upgrade(&self) {
        // SAFETY: forwarded from the caller.
        if !unsafe { self.try_upgrade() } {
            self.wait_as(Kind::Upgrade, None::<&mut Forever>);
        }
    }

    unsafe fn try_upgrade(&self) -> bool {
        self.try_as(Kind::Upgrade)
    }

    unsafe fn upgrade_until(&self, deadline: &mut impl Deadline) -> bool {
        // SAFETY: forwarded from the caller.
        let upgraded = unsafe { self.try_upgrade() };
        upgraded || self.wait_as(Kind::Upgrade, Some(deadline))
    }

    unsafe fn downgrade(&self) {
        self.release_writer(READER);
    }

    unsafe fn downgrade_to_upgradable(&self) {
        self.release_writer(READER + UPGRADABLE);
    }

    unsafe fn downgrade_upgradable(&self) {
        // ORDERING: Relaxed: the upgradable reader wrote nothing, so there is nothing to
        // publish; the next upgradable reader only reads, and any writer after it waits for
        // our read unlock, which is Release.
        let mut s = self.state.load(Relaxed);
        loop {
            let new = (s - UPGRADABLE) & !SLEEPERS;
            // ORDERING: Relaxed, as above.
            match self.state.compare_exchange_weak(s, new, Relaxed, Relaxed) {
                Ok(_) => {
                    if s & SLEEPERS != 0 && !W::WAKE_IS_NOOP {
                        self.wake_slow();
                    }
                    return;
                }
                Err(now) => s = now,
            }
        }
    }

    #[inline]
    fn is_locked(&self) -> bool {
        // ORDERING: Relaxed: a snapshot for diagnostics.
        self.state.load(Relaxed) & (READERS | WRITER) != 0
    }

    #[inline]
    fn is_locked_exclusive(&self) -> bool {
        // ORDERING: Relaxed: a snapshot for diagnostics.
        self.state.load(Relaxed) & WRITER != 0
    }
}

impl<W> RawRwMutex<W> {
    /// Active read locks right now (the upgradable one included). A snapshot for diagnostics.
    ///
    /// # Examples
    ///
    /// ```
    /// let lock = baresync::RwLock::new(());
    /// let (_a, _b) = (lock.read(), lock.read());
    /// assert_eq!(lock.raw().readers(), 2);
    /// ```
    pub fn readers(&self) -> u32 {
        // ORDERING: Relaxed: a snapshot for diagnostics.
        self.state.load(Relaxed) & READERS
    }

    /// Readers registered as waiting (the next write unlock admits them). A snapshot.
    ///
    /// # Examples
    ///
    /// ```
    /// let lock = baresync::RwLock::new(());
    /// assert_eq!(lock.raw().waiting_readers(), 0);
    /// ```
    pub fn waiting_readers(&self) -> u32 {
        // ORDERING: Relaxed: a snapshot for diagnostics.
        (self.state.load(Relaxed) & WAITING_READERS) / WAITING_READER
    }

    /// Writers (and upgraders) registered as waiting; while any is, new readers wait. A
    /// snapshot.
    ///
    /// # Examples
    ///
    /// ```
    /// let lock = baresync::RwLock::new(());
    /// assert_eq!(lock.raw().waiting_writers(), 0);
    /// ```
    pub fn waiting_writers(&self) -> u32 {
        // ORDERING: Relaxed: a snapshot for diagnostics.
        (self.state.load(Relaxed) & WAITING_WRITERS) / WAITING_WRITER
    }
}

impl<W: Wait> RawRwMutex<W> {
    /// The read lock's fast path, and all of `try_lock_shared`: one `fetch_add`, kept if no
    /// writer holds or waits for the lock and the count stays within [`MAX_READERS`], undone
    /// otherwise ([`refuse_read`](Self::refuse_read)).
    ///
    /// Adding first and checking after, as spin's `RwLock` does, costs one read-modify-write
    /// where a load and a compare-exchange cost two dependent steps: measured on the 2-core
    /// AMD host, a load + compare-exchange read lock with this crate's read unlock took 1.3x
    /// the time of a `fetch_add` one (`docs/design.md`, "RwLock: code size and the uncontended
    /// read"). The refused reader's increment is visible until its undo: writers and upgraders
    /// then see one reader more and wait for the undo, which wakes them as a read unlock does.
    #[inline]
    fn try_lock_shared_fast(&self) -> bool {
        // ORDERING: Acquire pairs with the Release of the last write unlock (the compare-
        // exchange in `unlock_exclusive` or `release_writer`), so the writer's writes
        // happen-before our reads.
        let prev = self.state.fetch_add(READER, Acquire);
        // One test: the count after our increment has OVERFLOW set exactly when it passed
        // MAX_READERS, and the increment leaves the writer bits as they were.
        if prev.wrapping_add(READER) & (WRITER | WAITING_WRITERS | OVERFLOW) == 0 {
            return true;
        }
        self.refuse_read(prev);
        false
    }

    /// Undoes a refused read fast path whose `fetch_add` returned `prev`, as a read unlock
    /// (a writer may have been waiting for the count to drop), then panics if the refusal was
    /// the reader limit rather than a writer.
    #[cold]
    #[inline(never)]
    fn refuse_read(&self, prev: u32) {
        // ORDERING: Relaxed: the refused reader read nothing, so it publishes nothing; a
        // writer that enters after this undo still synchronizes with the last real read
        // unlock, whose Release heads a release sequence this read-modify-write continues.
        let p = self.state.fetch_sub(READER, Relaxed);
        if !W::WAKE_IS_NOOP && p & SLEEPERS != 0 {
            self.unlock_shared_slow(p - READER);
        }
        if Self::readable(prev) {
            too_many_readers();
        }
    }
}

/// Implements `lock_api::RawRwLock` (with downgrades and upgradable reads) for `$ty` by
/// forwarding to its [`RawRwLock`] implementation; for [`RawRwMutex`] and
/// [`RawSpinRwLock`](crate::RawSpinRwLock).
#[cfg(all(feature = "lock_api", not(baresync_loom)))]
macro_rules! impl_lock_api_rw {
    ([$($gen:tt)*] $ty:ty) => {
        // SAFETY: forwards to the `RawRwLock` implementation, whose contract (reader-writer
        // exclusion, acquisitions synchronizing with the releases before them) is the one
        // `lock_api` requires. Guards are `!Send` because a lock is released by its owner.
        #[cfg_attr(docsrs, doc(cfg(feature = "lock_api")))]
        unsafe impl<$($gen)*> lock_api::RawRwLock for $ty {
            #[allow(clippy::declare_interior_mutable_const)]
            const INIT: Self = <Self as $crate::RawRwLock>::INIT;
            type GuardMarker = lock_api::GuardNoSend;

            #[inline]
            fn lock_shared(&self) {
                $crate::RawRwLock::lock_shared(self)
            }

            #[inline]
            fn try_lock_shared(&self) -> bool {
                $crate::RawRwLock::try_lock_shared(self)
            }

            #[inline]
            unsafe fn unlock_shared(&self) {
                // SAFETY: `lock_api` calls this only for a shared lock this context holds.
                unsafe { $crate::RawRwLock::unlock_shared(self) }
            }

            #[inline]
            fn lock_exclusive(&self) {
                $crate::RawRwLock::lock_exclusive(self)
            }

            #[inline]
            fn try_lock_exclusive(&self) -> bool {
                $crate::RawRwLock::try_lock_exclusive(self)
            }

            #[inline]
            unsafe fn unlock_exclusive(&self) {
                // SAFETY: `lock_api` calls this only while this context holds the exclusive
                // lock.
                unsafe { $crate::RawRwLock::unlock_exclusive(self) }
            }

            #[inline]
            fn is_locked(&self) -> bool {
                $crate::RawRwLock::is_locked(self)
            }

            #[inline]
            fn is_locked_exclusive(&self) -> bool {
                $crate::RawRwLock::is_locked_exclusive(self)
            }
        }

        // SAFETY: `downgrade` keeps a shared lock without letting a writer in, as required.
        #[cfg_attr(docsrs, doc(cfg(feature = "lock_api")))]
        unsafe impl<$($gen)*> lock_api::RawRwLockDowngrade for $ty {
            #[inline]
            unsafe fn downgrade(&self) {
                // SAFETY: `lock_api` calls this only while this context holds the exclusive
                // lock.
                unsafe { $crate::RawRwLock::downgrade(self) }
            }
        }

        // SAFETY: one upgradable lock at a time, compatible with shared locks and exclusive of
        // writers; `upgrade` waits for the other readers and lets no writer in between.
        #[cfg_attr(docsrs, doc(cfg(feature = "lock_api")))]
        unsafe impl<$($gen)*> lock_api::RawRwLockUpgrade for $ty {
            #[inline]
            fn lock_upgradable(&self) {
                $crate::RawRwLock::lock_upgradable(self)
            }

            #[inline]
            fn try_lock_upgradable(&self) -> bool {
                $crate::RawRwLock::try_lock_upgradable(self)
            }

            #[inline]
            unsafe fn unlock_upgradable(&self) {
                // SAFETY: `lock_api` calls this only while this context holds the upgradable
                // lock.
                unsafe { $crate::RawRwLock::unlock_upgradable(self) }
            }

            #[inline]
            unsafe fn upgrade(&self) {
                // SAFETY: as above.
                unsafe { $crate::RawRwLock::upgrade(self) }
            }

            #[inline]
            unsafe fn try_upgrade(&self) -> bool {
                // SAFETY: as above.
                unsafe { $crate::RawRwLock::try_upgrade(self) }
            }
        }

        // SAFETY: both downgrades keep the lock without letting a writer in between.
        #[cfg_attr(docsrs, doc(cfg(feature = "lock_api")))]
        unsafe impl<$($gen)*> lock_api::RawRwLockUpgradeDowngrade for $ty {
            #[inline]
            unsafe fn downgrade_upgradable(&self) {
                // SAFETY: `lock_api` calls this only while this context holds the upgradable
                // lock.
                unsafe { $crate::RawRwLock::downgrade_upgradable(self) }
            }

            #[inline]
            unsafe fn downgrade_to_upgradable(&self) {
                // SAFETY: `lock_api` calls this only while this context holds the exclusive
                // lock.
                unsafe { $crate::RawRwLock::downgrade_to_upgradable(self) }
            }
        }
    };
}
#[cfg(all(feature = "lock_api", not(baresync_loom)))]
pub(crate) use impl_lock_api_rw;

#[cfg(all(feature = "lock_api", not(baresync_loom)))]
impl_lock_api_rw!([W: Wait] RawRwMutex<W>);

/// The `lock_api` implementations' tests. Needs feature `lock_api`.
#[cfg(all(feature = "lock_api", not(baresync_loom)))]
mod lock_api_impls {
    #[allow(unused_imports)]
    use super::{RawRwLock, RawRwMutex};

    #[cfg(test)]
    mod tests {
        use super::*;
        use std::sync::Arc;

        /// `lock_api::RwLock` over each raw reader-writer lock: writes, upgrades and downgrades
        /// from three threads, every read whole, every write counted.
        #[test]
        fn lock_api_rwlock_counts_and_upgrades() {
            counts_and_upgrades::<RawRwMutex<crate::Futex>>();
            counts_and_upgrades::<crate::RawSpinRwLock>();
        }

        fn counts_and_upgrades<R>()
        where
            R: lock_api::RawRwLockUpgradeDowngrade + Send + Sync + 'static,
        {
            type L<R> = lock_api::RwLock<R, [u64; 2]>;
            let n = if cfg!(miri) { 20 } else { 2_000 };
            let l = Arc::new(L::<R>::new([0; 2]));
            let threads: std::vec::Vec<_> = (0..3)
                .map(|i| {
                    let l = Arc::clone(&l);
                    std::thread::spawn(move || {
                        for _ in 0..n {
                            if i == 0 {
                                let u = l.upgradable_read();
                                let mut w = lock_api::RwLockUpgradableReadGuard::upgrade(u);
                                w[0] += 1;
                                w[1] += 1;
                            } else {
                                let r = l.read();
                                assert_eq!(r[0], r[1]);
                                drop(r);
                                let mut w = l.write();
                                w[0] += 1;
                                w[1] += 1;
                                let r = lock_api::RwLockWriteGuard::downgrade(w);
                                assert_eq!(r[0], r[1]);
                            }
                        }
                    })
                })
                .collect();
            for t in threads {
                t.join().unwrap();
            }
            assert_eq!(*l.read(), [3 * n; 2]);
            assert!(!l.is_locked());
        }
    }
}

#[cfg(all(test, not(baresync_loom)))]
mod tests {
    use super::*;
    use crate::wait::testing::{must_panic, PanickyWait};
    use crate::Spin;

    fn unlock_shared<W: Wait>(l: &RawRwMutex<W>) {
        // SAFETY: the tests call it only for a shared lock they hold.
        unsafe { l.unlock_shared() }
    }

    fn state<W>(l: &RawRwMutex<W>) -> u32 {
        l.state.load(Relaxed)
    }

    /// The contract walk shared with `RawSpinRwLock`; a writer or upgrade that timed out
    /// leaves no registration.
    fn basics<W: Wait>() {
        use super::super::test_support::{rw_basics, RwAt};
        rw_basics(&RawRwMutex::<W>::with_wait(), |l, at| match at {
            RwAt::TwoReaders => {
                assert_eq!(l.readers(), 2);
                assert_eq!(state(l) & (WAITING_READERS | WAITING_WRITERS), 0);
            }
            RwAt::Fresh => assert_eq!(state(l), 0, "a timed-out writer leaves no registration"),
            RwAt::Idle => assert_eq!(state(l) & !(SLEEPERS | GEN), 0),
            RwAt::UpgradableAndReader => assert_eq!(
                state(l) & WAITING_WRITERS,
                0,
                "a timed-out upgrade deregisters"
            ),
            RwAt::Upgraded => assert_eq!(l.readers(), 0),
            RwAt::Upgradable | RwAt::OneReader => assert_eq!(l.readers(), 1),
        });
    }

    #[test]
    fn spin_basics() {
        basics::<Spin>();
    }

    #[cfg(feature = "std")]
    #[test]
    fn sleeping_basics() {
        basics::<crate::Futex>();
        basics::<crate::Yield>();
        basics::<PanickyWait>();
    }

    #[cfg(feature = "std")]
    #[test]
    fn is_four_bytes() {
        assert_eq!(core::mem::size_of::<RawRwMutex<Spin>>(), 4);
        assert_eq!(core::mem::size_of::<RawRwMutex<crate::Futex>>(), 4);
    }

    /// The reader count is driven to its limit: one more read lock panics with a message and
    /// leaves the word as it was; nothing wraps into the writer bit.
    #[test]
    fn reader_overflow_panics() {
        let l = RawRwMutex::<Spin>::with_state(MAX_READERS - 1);
        assert!(l.try_lock_shared());
        assert_eq!(state(&l), MAX_READERS);
        super::super::test_support::rw_reader_overflow_panics(&l, |l| {
            assert_eq!(state(l), MAX_READERS);
        });
    }

    /// A reader refused by the fast path is counted until its undo: a write unlock (and a
    /// downgrade) in between keeps that count, so the undo cannot borrow from the waiting
    /// readers' count or leave a read lock behind. Seen failing when the write release
    /// rebuilt the word without the reader count.
    #[test]
    fn write_release_keeps_a_refused_readers_count() {
        for keep in [0, READER] {
            let l = RawRwMutex::<PanickyWait>::with_wait();
            l.lock_exclusive();
            // A reader's fast-path increment, refused (the lock is write-locked), not yet undone.
            l.state.fetch_add(READER, Relaxed);
            // A registered waiting reader, as `wait_as(Kind::Read, ..)` leaves it.
            l.state.fetch_add(WAITING_READER, Relaxed);
            if keep == 0 {
                // SAFETY: held exclusively.
                unsafe { l.unlock_exclusive() };
            } else {
                // SAFETY: held exclusively.
                unsafe { l.downgrade() };
            }
            // The hand-off admitted the registered reader; the refused one is still counted.
            assert_eq!(state(&l) & READERS, 2 + keep, "keep {keep}");
            assert_eq!(state(&l) & (WAITING_READERS | WRITER), 0);
            // The undo.
            l.state.fetch_sub(READER, Relaxed);
            for _ in 0..1 + keep {
                unlock_shared(&l);
            }
            assert_eq!(state(&l) & !GEN, 0);
            assert!(l.try_lock_exclusive());
        }
    }

    /// The write fast path only takes the idle word (0); a free lock whose word is not idle (a
    /// generation bit left by a hand-off, a sleepers' flag left by a panicking waiter, a
    /// registered writer about to retry) is still taken, by `try_lock_exclusive`'s out-of-line
    /// look and by `lock_exclusive`'s slow path, and the unlock clears what it should.
    #[test]
    fn a_free_word_that_is_not_idle_is_still_taken() {
        for (extra, after) in [(GEN, 0), (SLEEPERS, 0), (WAITING_WRITER, WAITING_WRITER)] {
            let l = RawRwMutex::<Spin>::with_state(extra);
            assert!(l.try_lock_exclusive(), "{extra:#x}");
            assert_eq!(state(&l), extra | WRITER);
            // SAFETY: held exclusively.
            unsafe { l.unlock_exclusive() };
            assert_eq!(state(&l), after, "{extra:#x}");
            let l = RawRwMutex::<Spin>::with_state(extra);
            l.lock_exclusive();
            assert!(l.is_locked_exclusive());
            // SAFETY: held exclusively.
            unsafe { l.unlock_exclusive() };
            assert_eq!(state(&l), after, "{extra:#x}");
        }
    }

    /// Refused readers' increments in flight may carry the count past `MAX_READERS` (the guard
    /// band): every reader then panics, the count never reaches the waiting readers' bits, and
    /// once the increments are undone the limit is exact again.
    #[test]
    fn guard_band_above_the_reader_limit() {
        let l = RawRwMutex::<Spin>::with_state(MAX_READERS + 7);
        for _ in 0..3 {
            let r = std::panic::catch_unwind(|| l.try_lock_shared());
            assert!(r.is_err(), "a reader past the limit must panic");
            assert_eq!(state(&l), MAX_READERS + 7);
        }
        assert!(std::panic::catch_unwind(|| l.lock_upgradable()).is_err());
        assert!(std::panic::catch_unwind(|| l.lock_shared_until(&mut || false)).is_err());
        assert_eq!(state(&l), MAX_READERS + 7);
        assert_eq!(l.waiting_readers(), 0);
        // The seven in-flight increments are undone, and one held reader leaves.
        l.state.fetch_sub(7 + READER, Relaxed);
        assert!(l.try_lock_shared(), "the 65535th read lock");
        assert!(std::panic::catch_unwind(|| l.try_lock_shared()).is_err());
        assert_eq!(state(&l), MAX_READERS);
    }

    /// With the waiting-reader count full, a reader that must wait polls unregistered and
    /// still gives up (or gets in) correctly; the same for writers.
    #[test]
    fn full_waiting_counts_poll_unregistered() {
        let l = RawRwMutex::<PanickyWait>::with_state(WRITER | WAITING_READERS);
        let mut n = 0;
        assert!(!l.lock_shared_until(&mut || {
            n += 1;
            n > 5
        }));
        assert_eq!(state(&l), WRITER | WAITING_READERS);
        let l = RawRwMutex::<PanickyWait>::with_state(WRITER | WAITING_WRITERS);
        let mut n = 0;
        assert!(!l.lock_exclusive_until(&mut || {
            n += 1;
            n > 5
        }));
        assert_eq!(state(&l), WRITER | WAITING_WRITERS);
    }

    /// The generation bit wraps (flips back) on every second hand-off; a reader registered
    /// under either value is admitted by the next one.
    #[test]
    fn hand_off_generation_wraps() {
        let l = RawRwMutex::<PanickyWait>::with_wait();
        for round in 0..4u32 {
            l.lock_exclusive();
            let before = state(&l) & GEN;
            // A registered reader, as `wait_as(Kind::Read, ..)` leaves it.
            l.state.fetch_add(WAITING_READER, Relaxed);
            // SAFETY: held exclusively.
            unsafe { l.unlock_exclusive() };
            let s = state(&l);
            assert_eq!(
                s & READERS,
                1,
                "round {round}: the registered reader was admitted"
            );
            assert_eq!(s & GEN, before ^ GEN);
            assert!(l.abandon_read(before), "it sees that it was admitted");
            unlock_shared(&l);
        }
    }

    /// A reader whose `W::wait` or deadline panics while registered leaves no registration
    /// behind; one that a hand-off admitted before its panic gives the read lock back.
    #[test]
    fn panicking_wait_or_deadline_leaves_no_registration() {
        let l = RawRwMutex::<PanickyWait>::with_wait();
        l.lock_exclusive();
        PanickyWait::arm(1);
        must_panic(|| l.lock_shared());
        assert_eq!(state(&l), WRITER);
        must_panic(|| l.lock_shared_until(&mut || panic!("injected")));
        assert_eq!(state(&l), WRITER);
        // A writer leaves its sleepers' flag behind (it costs the next release one wake call,
        // which clears it), never its registration.
        PanickyWait::arm(1);
        must_panic(|| l.lock_exclusive());
        assert_eq!(state(&l) & !SLEEPERS, WRITER);
        must_panic(|| l.lock_exclusive_until(&mut || panic!("injected")));
        assert_eq!(state(&l) & !SLEEPERS, WRITER);
        PanickyWait::arm(1);
        must_panic(|| l.lock_upgradable());
        assert_eq!(state(&l) & !SLEEPERS, WRITER);
        // SAFETY: held exclusively.
        unsafe { l.unlock_exclusive() };
        assert_eq!(state(&l), 0);

        // Admitted, then the panic: the read lock goes back.
        l.lock_exclusive();
        let reg = Registration {
            lock: &l,
            kind: Kind::Read,
            registered: true,
            gen: 0,
        };
        l.state.fetch_add(WAITING_READER, Relaxed);
        // SAFETY: held exclusively.
        unsafe { l.unlock_exclusive() };
        assert_eq!(state(&l) & READERS, 1);
        drop(reg);
        assert_eq!(state(&l) & (READERS | WAITING_READERS), 0);
    }

    /// The upgrade's wait panics: the upgradable lock is still held and the writer
    /// registration is gone.
    #[test]
    fn panicking_upgrade_keeps_the_upgradable_lock() {
        let l = RawRwMutex::<PanickyWait>::with_wait();
        l.lock_upgradable();
        l.lock_shared();
        PanickyWait::arm(1);
        // SAFETY: the upgradable lock is held.
        must_panic(|| unsafe { l.upgrade() });
        assert_eq!(state(&l) & !SLEEPERS, UPGRADABLE | (2 * READER));
        // SAFETY: as above.
        must_panic(|| unsafe { l.upgrade_until(&mut || panic!("injected")) });
        assert_eq!(state(&l) & !SLEEPERS, UPGRADABLE | (2 * READER));
        unlock_shared(&l);
        // SAFETY: as above.
        unsafe { l.unlock_upgradable() };
        assert_eq!(state(&l), 0);
    }

    /// A reader that must wait stays unregistered (it holds nobody back and is handed nothing
    /// while it may be off its core) until its polling budget is spent, then registers to
    /// sleep; a writer registers at once (writer preference). Registering every waiter at once
    /// made the lock collapse when threads outnumber cores (`docs/design.md`).
    #[test]
    fn readers_register_only_to_sleep() {
        use crate::wait::SPIN_ROUNDS_BEFORE_SLEEP;
        let l = RawRwMutex::<PanickyWait>::with_wait();
        l.lock_exclusive();
        let mut polls = 0;
        let mut seen = std::vec::Vec::new();
        assert!(!l.lock_shared_until(&mut || {
            polls += 1;
            seen.push(l.waiting_readers());
            polls > SPIN_ROUNDS_BEFORE_SLEEP + 2
        }));
        let budget = SPIN_ROUNDS_BEFORE_SLEEP as usize;
        assert!(
            seen[..budget].iter().all(|&n| n == 0),
            "registered while polling: {seen:?}"
        );
        assert!(
            seen[budget..].iter().all(|&n| n == 1),
            "not registered to sleep: {seen:?}"
        );
        assert_eq!(state(&l), WRITER, "the timed-out reader deregistered");
        // SAFETY: held exclusively.
        unsafe { l.unlock_exclusive() };

        l.lock_shared();
        let mut first = None;
        assert!(!l.lock_exclusive_until(&mut || {
            first.get_or_insert(l.waiting_writers());
            true
        }));
        assert_eq!(first, Some(1), "a writer registers before it polls");
        unlock_shared(&l);
        assert_eq!(state(&l) & !SLEEPERS, 0);
    }

    /// An uncontended read or write makes no wake call.
    #[test]
    fn uncontended_makes_no_wake_call() {
        let l = RawRwMutex::<PanickyWait>::with_wait();
        let before = PanickyWait::wakes();
        for _ in 0..3 {
            l.lock_shared();
            l.lock_shared();
            unlock_shared(&l);
            unlock_shared(&l);
            l.lock_exclusive();
            // SAFETY: held exclusively.
            unsafe { l.unlock_exclusive() };
            l.lock_upgradable();
            // SAFETY: the upgradable lock is held.
            unsafe { l.upgrade() };
            // SAFETY: held exclusively.
            unsafe { l.downgrade() };
            unlock_shared(&l);
        }
        assert_eq!(PanickyWait::wakes(), before);
    }
}
