//! One-time initialization: [`Once`], [`OnceCell<T, W>`](OnceCell) and [`Lazy<T, F, W>`](Lazy).
//!
//! Algorithm: one 32-bit state word, the one-time initialization of std's futex `Once` and of
//! `std::sync::OnceLock`, with a "sleepers may exist" flag so that finishing an initialization
//! nobody waited for costs no wake call:
//!
//! | word | meaning |
//! |---|---|
//! | `0` incomplete | no value; the first caller that moves the word to running runs its initializer |
//! | `1` running | one thread runs its initializer; the others wait |
//! | `2` complete | the value is written and published; never changes again (until `take`, which needs `&mut`) |
//! | `+4` sleepers | a waiter may sleep on the word (never set when the backend's waking is a no-op) |
//!
//! The fast path ([`OnceCell::get`], [`Once::is_completed`], [`Lazy::force`] after the first
//! time) is a single `Acquire` load compared with "complete".
//!
//! Guarantees:
//! - **exactly one initializer runs to completion**, however many threads race; the others
//!   wait through `W` and then see the value (what the initializer wrote happens-before what a
//!   waiter does after it returns);
//! - **a panicking (or, in [`OnceCell::get_or_try_init`], failing) initializer** puts the word
//!   back to incomplete and wakes every sleeper: nothing is published, the cell stays empty,
//!   and the next caller runs its own initializer (std's `OnceLock` semantics; there is no
//!   poison flag). Nobody waits forever for an initializer that is gone, and nothing
//!   uninitialized is ever read. A [`Lazy`] has only one initializer, consumed by the attempt
//!   that panicked: every later access panics ("poisoned"), as std's `LazyLock` does;
//! - **re-entrant initialization** (the initializer reaching, directly or not, the cell it is
//!   initializing) cannot succeed. With feature `std` it panics with a message (the waiter
//!   finds its own thread running the initializer), and the panic unwinds through the
//!   initializer, which puts the cell back to incomplete. Without `std` there is no thread
//!   identity to compare, and the thread waits for itself forever, as it does with std's
//!   `OnceLock` today. Two threads that initialize two cells each needing the other's
//!   deadlock in both builds;
//! - progress: `get`/`is_completed` never wait; waiting for a running initializer is blocking
//!   (a preempted initializer holds up every waiter). With [`Spin`](crate::Spin), waiters
//!   burn their time slice when threads outnumber cores; the default backend with `std`
//!   sleeps.
//!
//! Design choice: the three types share the one protocol in [`Once`]; `OnceCell` adds the
//! value slot, `Lazy` the initializer slot. The state table has a fourth value beyond std's
//! (incomplete *with sleepers*) because [`Once::wait`] and [`OnceCell::wait`] may sleep before
//! anyone starts an initializer. Rejected: a `Lazy` that retries by calling a `Fn`
//! initializer again after a panic (spin's `Lazy` and std's `LazyLock` both consume an
//! `FnOnce`, and users write closures that move captured state).

use crate::sync::atomic::{
    AtomicU32,
    Ordering::{Acquire, Relaxed, Release},
};
use crate::sync::cell::UnsafeCell;
use crate::sync::const_fn;
use crate::wait::{DefaultWait, PreSleep, Wait};
use core::fmt;
use core::marker::PhantomData;
use core::mem::MaybeUninit;
use core::ops::Deref;
use core::panic::{RefUnwindSafe, UnwindSafe};

/// No value; the next caller with an initializer runs it.
const INCOMPLETE: u32 = 0;
/// One thread runs its initializer.
const RUNNING: u32 = 1;
/// The value is written and published.
const COMPLETE: u32 = 2;
/// The phase bits (incomplete, running or complete).
const PHASE: u32 = 3;
/// A waiter may sleep on the word: whoever ends a phase must wake (never set when
/// `W::WAKE_IS_NOOP`). Never set together with `COMPLETE`.
const SLEEPERS: u32 = 4;

/// Runs a piece of code exactly once (the `std::sync::Once` of this crate).
///
/// 4 bytes, `const` constructible. If the closure given to [`call_once`](Once::call_once)
/// panics, the `Once` is left incomplete and the next `call_once` runs its own closure (std's
/// `Once` poisons instead). Waiters wait through `W`
/// ([`DefaultWait`]: sleeps with `std`, spins without).
///
/// # Examples
///
/// ```
/// use baresync::Once;
///
/// static INIT: Once = Once::new();
/// static mut TABLE: [u8; 4] = [0; 4];
///
/// fn table() -> [u8; 4] {
///     // SAFETY: written only inside `call_once`, read only after it returned.
///     INIT.call_once(|| unsafe { TABLE = [1, 2, 3, 4] });
///     unsafe { TABLE }
/// }
/// assert_eq!(table(), [1, 2, 3, 4]);
/// ```
pub struct Once<W = DefaultWait> {
    /// bits 0–1: 0 incomplete · 1 running · 2 complete; bit 2: sleepers may exist
    state: AtomicU32,
    _wait: PhantomData<fn() -> W>,
}

impl Once {
    const_fn! {
        /// A new, incomplete `Once` waiting through the default backend; usable in a `static`.
        ///
        /// # Examples
        ///
        /// ```
        /// use baresync::Once;
        ///
        /// static START: Once = Once::new();
        /// assert!(!START.is_completed());
        /// ```
        #[inline]
        pub const fn new() -> Self {
            Self::with_wait()
        }
    }
}

impl<W: Wait> Once<W> {
    const_fn! {
        /// A new, incomplete `Once` whose waiters wait through `W`; usable in a `static`.
        ///
        /// # Examples
        ///
        /// ```
        /// use baresync::{Once, Spin};
        ///
        /// static BOOT: Once<Spin> = Once::with_wait();
        /// BOOT.call_once(|| {});
        /// assert!(BOOT.is_completed());
        /// ```
        #[inline]
        pub const fn with_wait() -> Self {
            Once { state: AtomicU32::new(INCOMPLETE), _wait: PhantomData }
        }
    }

    /// Runs `f` if no call has completed yet, and returns once one has (this one or another
    /// thread's): what the completed closure did is visible afterwards.
    ///
    /// If another thread is running its closure, waits for it. If `f` panics, the panic
    /// propagates, the `Once` stays incomplete, and the next `call_once` runs its own closure.
    ///
    /// # Panics
    ///
    /// If `f` panics; with feature `std`, if `f` calls `call_once` (or `wait`) on this same
    /// `Once` (without `std` that call never returns).
    ///
    /// # Examples
    ///
    /// ```
    /// use baresync::Once;
    /// use std::sync::atomic::{AtomicU32, Ordering::Relaxed};
    ///
    /// static ONCE: Once = Once::new();
    /// static RUNS: AtomicU32 = AtomicU32::new(0);
    /// let threads: Vec<_> = (0..4)
    ///     .map(|_| std::thread::spawn(|| ONCE.call_once(|| { RUNS.fetch_add(1, Relaxed); })))
    ///     .collect();
    /// for t in threads {
    ///     t.join().unwrap();
    /// }
    /// assert_eq!(RUNS.load(Relaxed), 1);
    /// ```
    #[inline]
    pub fn call_once(&self, f: impl FnOnce()) {
        if !self.is_completed() {
            let _ = self.initialize_slow(Some(|| {
                f();
                Ok::<(), core::convert::Infallible>(())
            }));
        }
    }

    /// Whether a call has completed; never waits. A `true` synchronizes with the completed
    /// call, as a returning [`call_once`](Once::call_once) does.
    ///
    /// # Examples
    ///
    /// ```
    /// use baresync::Once;
    ///
    /// static ONCE: Once = Once::new();
    /// assert!(!ONCE.is_completed());
    /// ONCE.call_once(|| {});
    /// assert!(ONCE.is_completed());
    /// ```
    #[inline]
    pub fn is_completed(&self) -> bool {
        // ORDERING: Acquire pairs with the Release swap in `finish` that completed the word:
        // what the initializer wrote happens-before what the caller does next.
        self.state.load(Acquire) == COMPLETE
    }

    /// Waits, through `W`, until a call has completed, without running anything itself.
    ///
    /// A panicking closure does not end the wait: it waits for the next call that completes.
    ///
    /// # Panics
    ///
    /// With feature `std`, if called from inside this `Once`'s own running closure.
    ///
    /// # Examples
    ///
    /// ```
    /// use baresync::Once;
    ///
    /// static READY: Once = Once::new();
    /// let waiter = std::thread::spawn(|| READY.wait());
    /// READY.call_once(|| {});
    /// waiter.join().unwrap();
    /// ```
    #[inline]
    pub fn wait(&self) {
        if !self.is_completed() {
            let _ = self.initialize_slow(None::<fn() -> Result<(), core::convert::Infallible>>);
        }
    }

    /// Runs `f` as the one initializer if nothing has completed yet; `Err` from `f` (or a
    /// panic) leaves the word incomplete.
    #[inline]
    fn initialize<E>(&self, f: impl FnOnce() -> Result<(), E>) -> Result<(), E> {
        if self.is_completed() {
            return Ok(());
        }
        self.initialize_slow(Some(f))
    }

    /// The slow path of every operation, written once: with `f`, run it if the word is
    /// incomplete; without, only wait. Returns once the word is complete, or with `f`'s error.
    #[cold]
    fn initialize_slow<E>(&self, mut f: Option<impl FnOnce() -> Result<(), E>>) -> Result<(), E> {
        let mut pre_sleep = PreSleep::new();
        loop {
            // ORDERING: Acquire pairs with the Release swap in `finish` that completed the
            // word (see `is_completed`).
            let s = self.state.load(Acquire);
            if s == COMPLETE {
                return Ok(());
            }
            if s & PHASE == INCOMPLETE {
                if let Some(init) = f.take() {
                    // ORDERING: Acquire pairs with the Release swap in `finish` that ended the
                    // previous running phase: a failed attempt wrote no value, but it may have
                    // written memory the next runner touches (`Lazy` takes its initializer out
                    // of its slot before calling it), and without this edge the two accesses
                    // race (Miri, `fault_once::lazy_poisoned_with_waiters`, seed 2; see
                    // docs/memory-ordering.md). Failure: Relaxed, we look again with the
                    // Acquire load above. The sleeper flag is kept: whoever ends the phase
                    // must wake them.
                    match self
                        .state
                        .compare_exchange(s, RUNNING | (s & SLEEPERS), Acquire, Relaxed)
                    {
                        Ok(_) => return self.run(init),
                        Err(_) => {
                            // Lost the race (or a sleeper flag appeared): look again.
                            f = Some(init);
                            continue;
                        }
                    }
                }
            }
            #[cfg(all(feature = "std", not(baresync_loom)))]
            if s & PHASE == RUNNING {
                reentry::check(&self.state);
            }
            // A wait for a running initializer orders after the locks held here; waiting
            // for one's own initializer is reported as recursive (with `std`, `reentry`
            // panics first).
            lockdep_hook! {
                if s & PHASE == RUNNING {
                    crate::lockdep::before_acquire(crate::lockdep::key(self), "Once");
                }
            }
            self.wait_on(s, &mut pre_sleep);
        }
    }

    /// One step of waiting while the word holds `s` (running, or incomplete for a waiter with
    /// no initializer): poll for a while, then announce a sleeper and sleep through `W`.
    #[inline]
    fn wait_on(&self, s: u32, pre_sleep: &mut PreSleep) {
        if W::WAKE_IS_NOOP {
            W::wait(&self.state, s);
            return;
        }
        // Poll before sleeping: an initializer that finishes within microseconds then costs
        // no wake-up.
        if pre_sleep.poll() {
            return;
        }
        if s & SLEEPERS == 0 {
            // Announce a sleeper. `finish` swaps the word after this compare-and-swap (both
            // are read-modify-writes of the word) and sees the flag, or before it, and then
            // the swap fails and we look again.
            // ORDERING: Relaxed: it publishes nothing, and the caller re-reads the word with
            // Acquire before trusting it.
            if self
                .state
                .compare_exchange(s, s | SLEEPERS, Relaxed, Relaxed)
                .is_err()
            {
                return;
            }
        }
        W::wait(&self.state, s | SLEEPERS);
    }

    /// Runs `f` while holding the running phase; ends the phase whether `f` returns `Ok`,
    /// `Err` or panics.
    fn run<E>(&self, f: impl FnOnce() -> Result<(), E>) -> Result<(), E> {
        /// Puts the word back to incomplete (and wakes the sleepers) unless disarmed: on a
        /// panic of `f` or an `Err`.
        struct Reset<'a, W: Wait>(&'a Once<W>);
        impl<W: Wait> Drop for Reset<'_, W> {
            fn drop(&mut self) {
                self.0.finish(INCOMPLETE);
            }
        }
        let reset = Reset(self);
        #[cfg(all(feature = "std", not(baresync_loom)))]
        let frame = reentry::Frame::new(&self.state);
        #[cfg(all(feature = "std", not(baresync_loom)))]
        let _entered = frame.enter();
        // The initializer holds the `Once`'s class while it runs: the locks it takes order
        // after it, and a waiter holding one of them closes a cycle.
        #[cfg(all(feature = "lockdep", not(baresync_loom)))]
        let _held = {
            struct Held(usize);
            impl Drop for Held {
                fn drop(&mut self) {
                    crate::lockdep::released(self.0);
                }
            }
            crate::lockdep::acquired(crate::lockdep::key(self), "Once");
            Held(crate::lockdep::key(self))
        };
        let r = f();
        if r.is_ok() {
            core::mem::forget(reset);
            self.finish(COMPLETE);
        }
        r
    }

    /// Ends the running phase with `to` (complete or incomplete) and wakes the sleepers the
    /// old word announced.
    #[inline]
    fn finish(&self, to: u32) {
        // ORDERING: Release pairs with the Acquire loads of the word (`is_completed`,
        // `initialize_slow`): the initializer's writes (the value of a `OnceCell`) happen-
        // before what a thread that sees "complete" does. Going back to incomplete, it pairs
        // with the Acquire compare-and-swap of the next runner: what the failed attempt
        // wrote (a `Lazy`'s emptied initializer slot) happens-before that runner's access.
        let old = self.state.swap(to, Release);
        if !W::WAKE_IS_NOOP && old & SLEEPERS != 0 {
            self.wake_slow();
        }
    }

    #[cold]
    fn wake_slow(&self) {
        W::wake_all(&self.state);
    }
}

impl Default for Once {
    fn default() -> Self {
        Self::new()
    }
}

impl<W: Wait> fmt::Debug for Once<W> {
    /// Never blocks: shows whether a call has completed.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Once")
            .field("is_completed", &self.is_completed())
            .finish_non_exhaustive()
    }
}

/// Re-entrant initialization detection (feature `std`): the state words whose initializer
/// this thread is running, as an intrusive list of frames on this thread's stack (innermost
/// first). Nothing allocates: a global allocator that uses a `Lazy` of its own stays usable
/// while another cell initializes.
#[cfg(all(feature = "std", not(baresync_loom)))]
mod reentry {
    use crate::sync::atomic::AtomicU32;
    use core::cell::Cell;
    use core::ptr;

    std::thread_local! {
        /// The innermost frame of this thread, or null.
        static TOP: Cell<*const Frame> = const { Cell::new(ptr::null()) };
    }

    /// One initializer being run by this thread: the address of its state word.
    pub(super) struct Frame {
        key: usize,
        prev: Cell<*const Frame>,
    }

    /// Keeps a [`Frame`] on this thread's list until dropped; borrows it, so the frame cannot
    /// move or go away while listed.
    pub(super) struct Entered<'a>(&'a Frame);

    impl Frame {
        pub(super) fn new(state: &AtomicU32) -> Frame {
            Frame {
                key: state as *const AtomicU32 as usize,
                prev: Cell::new(ptr::null()),
            }
        }

        /// Lists this frame as the innermost one of this thread.
        pub(super) fn enter(&self) -> Entered<'_> {
            // A thread whose locals are gone only loses the detection.
            let _ = TOP.try_with(|top| {
                self.prev.set(top.get());
                top.set(self);
            });
            Entered(self)
        }
    }

    impl Drop for Entered<'_> {
        fn drop(&mut self) {
            let _ = TOP.try_with(|top| {
                // Frames are entered and left in stack order (`Once::run` is a plain call,
                // unwinding included), so this one is the innermost if it was listed.
                if ptr::eq(top.get(), self.0) {
                    top.set(self.0.prev.get());
                }
            });
        }
    }

    /// Panics if this thread is running the initializer of `state`: waiting for it would
    /// never end.
    pub(super) fn check(state: &AtomicU32) {
        let key = state as *const AtomicU32 as usize;
        let mine = TOP
            .try_with(|top| {
                let mut p = top.get();
                while !p.is_null() {
                    // SAFETY: every listed frame is alive: its `Entered` guard, which borrows
                    // it, unlists it before the frame can move or be freed, and frames are
                    // listed and unlisted in stack order on this thread only.
                    let f = unsafe { &*p };
                    if f.key == key {
                        return true;
                    }
                    p = f.prev.get();
                }
                false
            })
            .unwrap_or(false);
        if mine {
            panic!(
                "re-entrant initialization: this thread is already running the initializer \
                 of this Once/OnceCell/Lazy, and waiting for it would deadlock"
            );
        }
    }
}

/// A cell written once, then read by anyone without locking (the `std::sync::OnceLock` of
/// this crate).
///
/// `const` constructible; its size is `T`'s plus the 4-byte state word (padded to `T`'s
/// alignment). Reading it after initialization ([`get`](OnceCell::get)) is one `Acquire` load.
/// Threads that find the initializer running wait through `W`. A panicking initializer leaves
/// the cell empty and the next caller retries.
///
/// # Examples
///
/// ```
/// use baresync::OnceCell;
///
/// static CONFIG: OnceCell<u32> = OnceCell::new();
///
/// assert_eq!(CONFIG.get(), None);
/// assert_eq!(*CONFIG.get_or_init(|| 115_200), 115_200);
/// assert_eq!(CONFIG.set(9600), Err(9600));
/// assert_eq!(CONFIG.get(), Some(&115_200));
/// ```
pub struct OnceCell<T, W = DefaultWait> {
    once: Once<W>,
    /// Initialized exactly when `once` is complete.
    value: UnsafeCell<MaybeUninit<T>>,
}

// SAFETY: sharing a `&OnceCell` lets any thread read `&T` (so `T: Sync`) and lets the thread
// whose initializer wins move a `T` it created into the cell, to be dropped or taken by the
// owner on another thread (so `T: Send`), as `std::sync::OnceLock`. The state word grants the
// slot to one writer and publishes it with Release/Acquire.
unsafe impl<T: Send + Sync, W> Sync for OnceCell<T, W> {}

// SAFETY: moving the cell moves the `T` (hence `T: Send`); the rest is an atomic word.
unsafe impl<T: Send, W> Send for OnceCell<T, W> {}

// A panicking initializer leaves the cell empty, as before the call: no broken invariant to
// observe, as std's `OnceLock`.
impl<T: RefUnwindSafe + UnwindSafe, W> RefUnwindSafe for OnceCell<T, W> {}
impl<T: UnwindSafe, W> UnwindSafe for OnceCell<T, W> {}

impl<T> OnceCell<T> {
    const_fn! {
        /// A new, empty cell waiting through the default backend; usable in a `static`.
        ///
        /// # Examples
        ///
        /// ```
        /// use baresync::OnceCell;
        ///
        /// static NAME: OnceCell<&str> = OnceCell::new();
        /// assert!(NAME.get().is_none());
        /// ```
        #[inline]
        pub const fn new() -> Self {
            Self::with_wait()
        }
    }
}

impl<T, W: Wait> OnceCell<T, W> {
    const_fn! {
        /// A new, empty cell whose waiters wait through `W`; usable in a `static`.
        ///
        /// # Examples
        ///
        /// ```
        /// use baresync::{OnceCell, Spin};
        ///
        /// static CLOCK_HZ: OnceCell<u32, Spin> = OnceCell::with_wait();
        /// assert_eq!(*CLOCK_HZ.get_or_init(|| 48_000_000), 48_000_000);
        /// ```
        #[inline]
        pub const fn with_wait() -> Self {
            OnceCell { once: Once::with_wait(), value: UnsafeCell::new(MaybeUninit::uninit()) }
        }
    }

    /// The value, if the cell is initialized; never waits. One `Acquire` load.
    ///
    /// # Examples
    ///
    /// ```
    /// use baresync::OnceCell;
    ///
    /// let cell: OnceCell<u8> = OnceCell::new();
    /// assert_eq!(cell.get(), None);
    /// cell.set(7).unwrap();
    /// assert_eq!(cell.get(), Some(&7));
    /// ```
    #[inline]
    pub fn get(&self) -> Option<&T> {
        if self.once.is_completed() {
            // SAFETY: complete, and the Acquire load in `is_completed` saw it: the value was
            // written and published, and is never written again while `&self` exists.
            Some(unsafe { self.get_unchecked() })
        } else {
            None
        }
    }

    /// # Safety
    /// The cell must be complete, as seen by an Acquire load of this thread.
    #[inline]
    unsafe fn get_unchecked(&self) -> &T {
        // SAFETY: the caller promises the slot is initialized and published; it is only
        // written while running (by one thread) or through `&mut self`.
        self.value.with(|p| unsafe { (*p).assume_init_ref() })
    }

    /// The value, mutably; `None` if the cell is empty. Needs no synchronization (`&mut`).
    ///
    /// # Examples
    ///
    /// ```
    /// use baresync::OnceCell;
    ///
    /// let mut cell: OnceCell<u32> = OnceCell::from(1);
    /// *cell.get_mut().unwrap() += 1;
    /// assert_eq!(cell.get(), Some(&2));
    /// ```
    #[inline]
    pub fn get_mut(&mut self) -> Option<&mut T> {
        if self.once.is_completed() {
            // SAFETY: complete, and `&mut self` excludes every other access.
            Some(self.value.with_mut(|p| unsafe { (*p).assume_init_mut() }))
        } else {
            None
        }
    }

    /// The value, running `f` to create it if the cell is empty. Exactly one initializer runs
    /// to completion however many threads call this at once; the others wait for it through
    /// `W`.
    ///
    /// If `f` panics, the panic propagates, the cell stays empty, and waiting threads (and
    /// later callers) run their own initializers.
    ///
    /// # Panics
    ///
    /// If `f` panics; with feature `std`, if `f` reaches `get_or_init` (or any initializing or
    /// waiting call) of this same cell (without `std` that call never returns).
    ///
    /// # Examples
    ///
    /// ```
    /// use baresync::OnceCell;
    ///
    /// static TABLE: OnceCell<[u32; 16]> = OnceCell::new();
    /// let t = TABLE.get_or_init(|| core::array::from_fn(|i| (i * i) as u32));
    /// assert_eq!(t[4], 16);
    /// ```
    #[inline]
    pub fn get_or_init(&self, f: impl FnOnce() -> T) -> &T {
        match self.get_or_try_init(|| Ok::<T, core::convert::Infallible>(f())) {
            Ok(v) => v,
            Err(never) => match never {},
        }
    }

    /// The value, running `f` to create it if the cell is empty; an `Err` from `f` is
    /// returned and leaves the cell empty (a later call tries again).
    ///
    /// # Errors
    ///
    /// The error `f` returned; the cell stays empty then.
    ///
    /// # Panics
    ///
    /// As [`get_or_init`](OnceCell::get_or_init).
    ///
    /// # Examples
    ///
    /// ```
    /// use baresync::OnceCell;
    ///
    /// let cell: OnceCell<u32> = OnceCell::new();
    /// assert_eq!(cell.get_or_try_init(|| "9x".parse::<u32>()).is_err(), true);
    /// assert_eq!(cell.get(), None);
    /// assert_eq!(cell.get_or_try_init(|| "96".parse::<u32>()), Ok(&96));
    /// ```
    #[inline]
    pub fn get_or_try_init<E>(&self, f: impl FnOnce() -> Result<T, E>) -> Result<&T, E> {
        self.once.initialize(|| {
            let v = f()?;
            // SAFETY: this thread holds the running phase: no other thread reads or writes
            // the slot until `finish` publishes it.
            self.value.with_mut(|p| unsafe { (*p).write(v) });
            Ok(())
        })?;
        // SAFETY: `initialize` returned Ok: complete, seen by an Acquire load of this thread
        // (or written by it).
        Ok(unsafe { self.get_unchecked() })
    }

    /// Stores `value` if the cell is empty (waiting for a running initializer first);
    /// otherwise gives `value` back.
    ///
    /// # Errors
    ///
    /// `Err(value)` if the cell already holds a value.
    ///
    /// # Examples
    ///
    /// ```
    /// use baresync::OnceCell;
    ///
    /// static ID: OnceCell<u64> = OnceCell::new();
    /// assert_eq!(ID.set(1), Ok(()));
    /// assert_eq!(ID.set(2), Err(2));
    /// assert_eq!(ID.get(), Some(&1));
    /// ```
    #[inline]
    pub fn set(&self, value: T) -> Result<(), T> {
        let mut value = Some(value);
        self.get_or_init(|| value.take().unwrap_or_else(|| unreachable!()));
        match value {
            None => Ok(()),
            Some(v) => Err(v),
        }
    }

    /// Waits, through `W`, until the cell is initialized (by another thread), and returns the
    /// value.
    ///
    /// # Panics
    ///
    /// With feature `std`, if called from inside this cell's own running initializer.
    ///
    /// # Examples
    ///
    /// ```
    /// use baresync::OnceCell;
    ///
    /// static PEER: OnceCell<u16> = OnceCell::new();
    /// let reader = std::thread::spawn(|| *PEER.wait());
    /// PEER.set(8080).unwrap();
    /// assert_eq!(reader.join().unwrap(), 8080);
    /// ```
    #[inline]
    pub fn wait(&self) -> &T {
        self.once.wait();
        // SAFETY: `wait` returned: complete, seen by an Acquire load of this thread.
        unsafe { self.get_unchecked() }
    }

    /// Takes the value out, leaving the cell empty (and initializable again).
    ///
    /// # Examples
    ///
    /// ```
    /// use baresync::OnceCell;
    ///
    /// let mut cell: OnceCell<String> = OnceCell::new();
    /// assert_eq!(cell.take(), None);
    /// cell.set("a".into()).unwrap();
    /// assert_eq!(cell.take().as_deref(), Some("a"));
    /// assert_eq!(cell.get(), None);
    /// ```
    #[inline]
    pub fn take(&mut self) -> Option<T> {
        if self.once.is_completed() {
            // ORDERING: Relaxed: `&mut self` excludes every other access.
            self.once.state.store(INCOMPLETE, Relaxed);
            // SAFETY: it was complete (initialized) and is now marked empty, so the value is
            // read out exactly once.
            Some(self.value.with_mut(|p| unsafe { (*p).assume_init_read() }))
        } else {
            None
        }
    }

    /// The value, if the cell holds one, consuming the cell.
    ///
    /// # Examples
    ///
    /// ```
    /// use baresync::OnceCell;
    ///
    /// let cell: OnceCell<Vec<u8>> = OnceCell::new();
    /// cell.get_or_init(|| vec![1, 2]);
    /// assert_eq!(cell.into_inner(), Some(vec![1, 2]));
    /// ```
    #[inline]
    pub fn into_inner(mut self) -> Option<T> {
        self.take()
    }
}

impl<T, W> Drop for OnceCell<T, W> {
    fn drop(&mut self) {
        // ORDERING: Relaxed: `&mut self` excludes every other access, and whatever made it
        // exclusive (a join, the end of a borrow) ordered the initializer's writes before it.
        if self.once.state.load(Relaxed) == COMPLETE {
            // Marked empty first: if `T::drop` panics, nothing here drops it again.
            self.once.state.store(INCOMPLETE, Relaxed);
            // SAFETY: it was complete: the value is initialized, and dropped exactly once.
            self.value
                .with_mut(|p| unsafe { core::ptr::drop_in_place((*p).as_mut_ptr()) });
        }
    }
}

impl<T> Default for OnceCell<T> {
    /// An empty cell, as [`OnceCell::new`].
    fn default() -> Self {
        Self::new()
    }
}

impl<T: fmt::Debug, W: Wait> fmt::Debug for OnceCell<T, W> {
    /// Never blocks: `OnceCell(value)` or `OnceCell(<uninit>)`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut t = f.debug_tuple("OnceCell");
        match self.get() {
            Some(v) => t.field(v),
            None => t.field(&format_args!("<uninit>")),
        };
        t.finish()
    }
}

impl<T: Clone, W: Wait> Clone for OnceCell<T, W> {
    /// A cell holding a clone of this one's value, or an empty cell (a running initializer
    /// is not waited for).
    fn clone(&self) -> Self {
        match self.get() {
            Some(v) => Self::from(v.clone()),
            None => Self::with_wait(),
        }
    }
}

impl<T, W: Wait> From<T> for OnceCell<T, W> {
    /// A cell that already holds `value`.
    fn from(value: T) -> Self {
        let cell = Self::with_wait();
        // ORDERING: Relaxed: the cell is not shared yet.
        cell.once.state.store(COMPLETE, Relaxed);
        // SAFETY: not shared yet; the slot becomes initialized before anyone can read it.
        cell.value.with_mut(|p| unsafe { (*p).write(value) });
        cell
    }
}

impl<T: PartialEq, W: Wait> PartialEq for OnceCell<T, W> {
    /// Equal when both are empty, or both hold equal values.
    fn eq(&self, other: &Self) -> bool {
        self.get() == other.get()
    }
}

impl<T: Eq, W: Wait> Eq for OnceCell<T, W> {}

/// A value computed on first access by `F`, for `static`s (the `std::sync::LazyLock` of this
/// crate).
///
/// A [`OnceCell`] and the initializer. The first access ([`force`](Lazy::force) or `*lazy`)
/// runs `F`; threads that access it meanwhile wait through `W`; later accesses are one
/// `Acquire` load.
///
/// **Poisoning**: `F` is an `FnOnce`, consumed by the first attempt. If it panics, the
/// `Lazy` stays empty and every later access panics with "Lazy instance has previously been
/// poisoned" (waiters woken by the failed attempt included), as with std's `LazyLock`; nothing
/// waits forever. Use a [`OnceCell`] with `get_or_init` where a later caller should retry.
///
/// # Examples
///
/// ```
/// use baresync::Lazy;
///
/// static PRIMES: Lazy<[u32; 5]> = Lazy::new(|| [2, 3, 5, 7, 11]);
///
/// assert_eq!(PRIMES[3], 7);
/// assert_eq!(PRIMES.len(), 5);
/// ```
pub struct Lazy<T, F = fn() -> T, W = DefaultWait> {
    cell: OnceCell<T, W>,
    /// `Some` until the first attempt takes it; touched only by the thread holding the
    /// running phase, or through `&mut self`.
    init: UnsafeCell<Option<F>>,
}

// SAFETY: a shared `Lazy` hands out `&T` (so `T: Sync`), and the thread that first forces it
// runs `F` (moved to it: `F: Send`) and creates the `T` that the owner later drops (`T: Send`),
// as std's `LazyLock`. The initializer slot is only touched by the thread holding the running
// phase of the state word.
unsafe impl<T: Send + Sync, F: Send, W> Sync for Lazy<T, F, W> {}

// A panicking initializer poisons the `Lazy` (every later access panics): nothing broken is
// observable, as std's `LazyLock`.
impl<T: RefUnwindSafe + UnwindSafe, F: UnwindSafe, W> RefUnwindSafe for Lazy<T, F, W> {}

impl<T, F: FnOnce() -> T> Lazy<T, F> {
    const_fn! {
        /// A `Lazy` that will run `f` on first access, waiting through the default backend;
        /// usable in a `static`.
        ///
        /// # Examples
        ///
        /// ```
        /// use baresync::Lazy;
        ///
        /// static GREETING: Lazy<String> = Lazy::new(|| "hello".to_uppercase());
        /// assert_eq!(*GREETING, "HELLO");
        /// ```
        #[inline]
        pub const fn new(f: F) -> Self {
            Self::with_wait(f)
        }
    }
}

impl<T, F: FnOnce() -> T, W: Wait> Lazy<T, F, W> {
    const_fn! {
        /// A `Lazy` that will run `f` on first access, whose waiters wait through `W`; usable
        /// in a `static`.
        ///
        /// # Examples
        ///
        /// ```
        /// use baresync::{Lazy, Spin};
        ///
        /// static MASKS: Lazy<[u8; 8], fn() -> [u8; 8], Spin> =
        ///     Lazy::with_wait(|| core::array::from_fn(|i| 1 << i));
        /// assert_eq!(MASKS[7], 0x80);
        /// ```
        #[inline]
        pub const fn with_wait(f: F) -> Self {
            Lazy { cell: OnceCell::with_wait(), init: UnsafeCell::new(Some(f)) }
        }
    }

    /// The value, running the initializer first if this is the first access (what `Deref`
    /// does).
    ///
    /// # Panics
    ///
    /// If the initializer panics (now, or in an earlier attempt: poisoned); with feature
    /// `std`, if the initializer forces this same `Lazy`.
    ///
    /// # Examples
    ///
    /// ```
    /// use baresync::Lazy;
    ///
    /// static BIG: Lazy<Vec<u64>> = Lazy::new(|| (0..1000).collect());
    /// assert_eq!(Lazy::force(&BIG).len(), 1000);
    /// ```
    #[inline]
    pub fn force(this: &Self) -> &T {
        this.cell.get_or_init(|| {
            // SAFETY: this closure runs only while this thread holds the running phase, the
            // only time the initializer slot is touched through `&self`.
            let f = this.init.with_mut(|p| unsafe { (*p).take() });
            match f {
                Some(f) => f(),
                None => panic!("Lazy instance has previously been poisoned"),
            }
        })
    }

    /// The value, if an access has already initialized it; never runs the initializer and
    /// never waits.
    ///
    /// # Examples
    ///
    /// ```
    /// use baresync::Lazy;
    ///
    /// static N: Lazy<u32> = Lazy::new(|| 3);
    /// assert_eq!(Lazy::get(&N), None);
    /// assert_eq!(*N, 3);
    /// assert_eq!(Lazy::get(&N), Some(&3));
    /// ```
    #[inline]
    pub fn get(this: &Self) -> Option<&T> {
        this.cell.get()
    }

    /// Consumes the `Lazy`: `Ok(value)` if it was initialized, `Err(initializer)` if it never
    /// was.
    ///
    /// # Panics
    ///
    /// If the `Lazy` is poisoned (its initializer panicked): there is neither.
    ///
    /// # Examples
    ///
    /// ```
    /// use baresync::Lazy;
    ///
    /// let lazy = Lazy::new(|| 5);
    /// let f = Lazy::into_value(lazy).unwrap_err();
    /// assert_eq!(f(), 5);
    /// let lazy = Lazy::new(|| 5);
    /// assert_eq!(*lazy, 5);
    /// assert_eq!(Lazy::into_value(lazy).ok(), Some(5));
    /// ```
    pub fn into_value(this: Self) -> Result<T, F> {
        let mut this = this;
        if let Some(v) = this.cell.take() {
            return Ok(v);
        }
        // SAFETY: we own the `Lazy`: no other access.
        match this.init.with_mut(|p| unsafe { (*p).take() }) {
            Some(f) => Err(f),
            None => panic!("Lazy instance has previously been poisoned"),
        }
    }
}

impl<T, F: FnOnce() -> T, W: Wait> Deref for Lazy<T, F, W> {
    type Target = T;

    /// Forces the `Lazy` (see [`Lazy::force`]).
    #[inline]
    fn deref(&self) -> &T {
        Lazy::force(self)
    }
}

impl<T: Default> Default for Lazy<T> {
    /// A `Lazy` that will create `T::default()`.
    fn default() -> Self {
        Lazy::new(T::default)
    }
}

impl<T: fmt::Debug, F, W: Wait> fmt::Debug for Lazy<T, F, W> {
    /// Never forces or blocks: `Lazy(value)` or `Lazy(<uninit>)`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut t = f.debug_tuple("Lazy");
        match self.cell.get() {
            Some(v) => t.field(v),
            None => t.field(&format_args!("<uninit>")),
        };
        t.finish()
    }
}

#[cfg(all(test, not(baresync_loom)))]
mod tests {
    use super::*;
    use crate::wait::testing::{must_panic, PanickyWait};
    use crate::Spin;
    use std::format;
    use std::string::String;

    #[test]
    fn once_runs_once_and_completes() {
        let o: Once<Spin> = Once::with_wait();
        let mut runs = 0;
        assert!(!o.is_completed());
        o.call_once(|| runs += 1);
        o.call_once(|| runs += 1);
        assert_eq!(runs, 1);
        assert!(o.is_completed());
        assert_eq!(o.state.load(Relaxed), COMPLETE);
        o.wait();
    }

    #[test]
    fn panicking_initializer_leaves_incomplete_and_next_call_runs() {
        let o: Once = Once::new();
        must_panic(|| o.call_once(|| panic!("injected")));
        assert_eq!(o.state.load(Relaxed), INCOMPLETE);
        let mut ran = false;
        o.call_once(|| ran = true);
        assert!(ran && o.is_completed());
    }

    #[test]
    fn failing_try_init_leaves_the_cell_empty() {
        let c: OnceCell<u32> = OnceCell::new();
        assert_eq!(c.get_or_try_init(|| Err::<u32, _>("no")), Err("no"));
        assert_eq!(c.once.state.load(Relaxed), INCOMPLETE);
        assert_eq!(c.get(), None);
        assert_eq!(c.get_or_try_init(|| Ok::<_, ()>(4)), Ok(&4));
        assert_eq!(c.get_or_try_init(|| Err::<u32, _>("unused")), Ok(&4));
    }

    /// A finished initialization wakes only when a sleeper was announced, and clears the flag.
    #[test]
    fn finish_wakes_only_announced_sleepers() {
        let o = Once::<PanickyWait>::with_wait();
        let before = PanickyWait::wakes();
        o.call_once(|| {});
        assert_eq!(PanickyWait::wakes(), before, "nobody slept: no wake call");

        let o = Once::<PanickyWait>::with_wait();
        // A waiter announced itself while the word was incomplete (`wait`).
        o.state.store(SLEEPERS, Relaxed);
        o.call_once(|| {
            assert_eq!(
                o.state.load(Relaxed),
                RUNNING | SLEEPERS,
                "flag kept while running"
            );
        });
        assert_eq!(PanickyWait::wakes(), before + 1);
        assert_eq!(o.state.load(Relaxed), COMPLETE);

        let o = Once::<PanickyWait>::with_wait();
        o.state.store(SLEEPERS, Relaxed);
        must_panic(|| o.call_once(|| panic!("injected")));
        assert_eq!(
            PanickyWait::wakes(),
            before + 2,
            "a failed attempt wakes too"
        );
        assert_eq!(o.state.load(Relaxed), INCOMPLETE);
    }

    /// A waiter whose `W::wait` panics leaves at most a sleeper flag, which costs the next
    /// finish one wake call.
    #[test]
    fn panicking_wait_leaves_no_ghost() {
        let o = Once::<PanickyWait>::with_wait();
        o.state.store(RUNNING, Relaxed); // as if another thread ran its initializer
        PanickyWait::arm(1);
        must_panic(|| o.wait());
        assert_eq!(o.state.load(Relaxed), RUNNING | SLEEPERS);
        let before = PanickyWait::wakes();
        o.finish(COMPLETE);
        assert_eq!(PanickyWait::wakes(), before + 1);
        assert!(o.is_completed());
    }

    // Re-entrance is detected only with `std` (a thread-local list of running initializers).
    #[cfg(feature = "std")]
    #[test]
    fn reentrant_initialization_panics_and_resets() {
        let c: OnceCell<u32> = OnceCell::new();
        must_panic_with(
            || {
                let _ = c.get_or_init(|| *c.get_or_init(|| 1) + 1);
            },
            "re-entrant initialization",
        );
        assert_eq!(c.get(), None);
        assert_eq!(*c.get_or_init(|| 5), 5);
        // Nested initialization of *another* cell is fine.
        let d: OnceCell<u32> = OnceCell::new();
        let e: OnceCell<u32> = OnceCell::new();
        assert_eq!(*d.get_or_init(|| *e.get_or_init(|| 2) + 1), 3);
    }

    /// The frame list survives an inner unwind: after a re-entrant panic in a nested cell is
    /// caught inside the outer initializer, the outer cell is still recognized as running here.
    // Re-entrance is detected only with `std` (a thread-local list of running initializers).
    #[cfg(feature = "std")]
    #[test]
    fn nested_frames_survive_an_inner_unwind() {
        let outer: OnceCell<u32> = OnceCell::new();
        let inner: OnceCell<u32> = OnceCell::new();
        must_panic_with(
            || {
                let _ = outer.get_or_init(|| {
                    must_panic_with(
                        || {
                            let _ = inner.get_or_init(|| *inner.get_or_init(|| 1));
                        },
                        "re-entrant",
                    );
                    assert_eq!(*inner.get_or_init(|| 2), 2, "inner usable again");
                    *outer.get_or_init(|| 3)
                });
            },
            "re-entrant",
        );
        assert_eq!(outer.get(), None);
        assert_eq!(inner.get(), Some(&2));
        // Nothing is left listed: a fresh initialization of `outer` on this thread runs.
        assert_eq!(*outer.get_or_init(|| 4), 4);
    }

    // Re-entrance is detected only with `std` (a thread-local list of running initializers).
    #[cfg(feature = "std")]
    #[test]
    fn reentrant_wait_panics() {
        let o: Once = Once::new();
        must_panic_with(|| o.call_once(|| o.wait()), "re-entrant");
        assert!(!o.is_completed());
    }

    fn must_panic_with(f: impl FnOnce(), what: &str) {
        let r = std::panic::catch_unwind(core::panic::AssertUnwindSafe(f));
        let p = r.unwrap_err();
        let msg = p
            .downcast_ref::<String>()
            .map(String::as_str)
            .or_else(|| p.downcast_ref::<&str>().copied())
            .unwrap_or("");
        assert!(msg.contains(what), "{msg}");
    }

    #[test]
    fn cell_api() {
        let mut c: OnceCell<String> = OnceCell::default();
        assert_eq!(format!("{c:?}"), "OnceCell(<uninit>)");
        assert_eq!(c.get_mut(), None);
        assert_eq!(c.set("a".into()), Ok(()));
        assert_eq!(c.set("b".into()), Err("b".into()));
        assert_eq!(format!("{c:?}"), "OnceCell(\"a\")");
        c.get_mut().unwrap().push('x');
        let d = c.clone();
        assert_eq!(d.get().map(String::as_str), Some("ax"));
        assert_eq!(c, d);
        assert_eq!(c.take().as_deref(), Some("ax"));
        assert_eq!(c.once.state.load(Relaxed), INCOMPLETE);
        assert_ne!(c, d);
        assert_eq!(c.clone(), OnceCell::new());
        assert_eq!(*c.get_or_init(|| "again".into()), "again");
        assert_eq!(d.into_inner().as_deref(), Some("ax"));
        let f: OnceCell<u8> = OnceCell::from(3);
        assert_eq!(f.get(), Some(&3));
        assert_eq!(*f.wait(), 3);
    }

    #[test]
    fn lazy_api_and_poisoning() {
        let l: Lazy<u32> = Lazy::new(|| 4);
        assert_eq!(format!("{l:?}"), "Lazy(<uninit>)");
        assert_eq!(*l, 4);
        assert_eq!(format!("{l:?}"), "Lazy(4)");
        let d: Lazy<u8> = Lazy::default();
        assert_eq!(Lazy::get(&d), None);
        assert_eq!(*d, 0);

        let p: Lazy<u32, _> = Lazy::new(|| -> u32 { panic!("injected") });
        must_panic(|| *p);
        assert_eq!(p.cell.once.state.load(Relaxed), INCOMPLETE);
        must_panic_with(
            || {
                let _ = *p;
            },
            "poisoned",
        );
        must_panic_with(
            || {
                let _ = Lazy::into_value(p);
            },
            "poisoned",
        );
    }

    #[test]
    fn sizes_and_auto_traits() {
        fn send_sync<T: Send + Sync>() {}
        send_sync::<Once>();
        send_sync::<OnceCell<u32>>();
        send_sync::<Lazy<u32>>();
        assert_eq!(core::mem::size_of::<Once>(), 4);
        assert_eq!(core::mem::size_of::<OnceCell<u32>>(), 8);
        assert_eq!(core::mem::size_of::<OnceCell<u8, Spin>>(), 8);
    }
}
