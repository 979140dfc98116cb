//! `Event<W>`: a manual-reset flag that releases every waiter (Python's `threading.Event`).
//!
//! Algorithm: one 32-bit word holds the flag (bit 0), a "sleepers may exist" flag (bit 1) and
//! a generation counter (bits 2–31) that [`set`](Event::set) advances each time it turns the
//! flag on. A waiter records the generation it saw with the flag off and returns as soon as
//! the flag is on **or** the generation has moved: so `set()` followed at once by `clear()`
//! still releases every thread that was already waiting, even one that never saw the flag on
//! (a plain flag would strand it). Waiters sleep on the word through the [`Wait`] backend `W`
//! after setting the sleeper flag; `set` makes a wake call (`wake_all`) only if that flag was
//! on, so setting an event nobody waits for costs one compare-and-swap. With a backend whose
//! waking is a no-op ([`Spin`](crate::Spin), `Yield`) the sleeper flag is never used.
//!
//! Guarantees:
//! - a `wait` that returns (or `wait_until` that returns `true`) synchronizes with the `set`
//!   that released it: what the setter wrote before `set` is visible after `wait`;
//! - every thread waiting when `set` is called is released, whatever `clear` does afterwards;
//! - fairness does not arise (everyone is released at once); progress: `set`, `clear` and
//!   `is_set` never wait (lock-free), `wait` blocks until a `set`;
//! - more threads than cores: spinning waiters ([`Spin`](crate::Spin)) take CPU time from the thread that
//!   would set the event; use `Yield` or `Futex` then.
//!
//! The generation has 30 bits and wraps: a waiter that stays off the processor while exactly
//! 2³⁰ `set`s (with `clear`s between them) happen could miss them all, if it then finds the
//! word exactly as it left it. Rejected alternative: a separate 32-bit waiter counter; it
//! makes a second word to keep consistent and does not remove the (even more remote) wrap.

use crate::sync::atomic::{
    AtomicU32,
    Ordering::{Acquire, Relaxed, Release},
};
use crate::sync::const_fn;
use crate::wait::{wait_for, DefaultWait, Forever, PreSleep, Wait};
use crate::{Deadline, WaitTimeoutResult};
use core::fmt;
use core::marker::PhantomData;

/// The event is set.
const SET: u32 = 1;
/// A waiter may be asleep on the word: `set` must wake (never used when `W::WAKE_IS_NOOP`).
const SLEEPERS: u32 = 1 << 1;
/// One step of the generation counter, which occupies the bits above the two flags.
const GENERATION_ONE: u32 = 1 << 2;
/// The generation counter's bits.
const GENERATION: u32 = !(SET | SLEEPERS);

/// A flag threads can wait on: [`set`](Event::set) releases every waiter, and stays set (new
/// waiters return at once) until [`clear`](Event::clear).
///
/// Python's `threading.Event`. 4 bytes, `const` constructible, never allocates.
///
/// # Examples
///
/// Workers wait for a start signal:
///
/// ```
/// use baresync::Event;
/// use std::sync::atomic::{AtomicU32, Ordering::SeqCst};
///
/// static START: Event = Event::new();
/// static STARTED: AtomicU32 = AtomicU32::new(0);
///
/// let workers: Vec<_> = (0..3)
///     .map(|_| {
///         std::thread::spawn(|| {
///             START.wait();
///             STARTED.fetch_add(1, SeqCst);
///         })
///     })
///     .collect();
/// assert_eq!(STARTED.load(SeqCst), 0);
/// START.set();
/// for w in workers {
///     w.join().unwrap();
/// }
/// assert_eq!(STARTED.load(SeqCst), 3);
/// ```
#[repr(C)]
pub struct Event<W = DefaultWait> {
    /// bit 0: set · bit 1: sleepers may exist · bits 2–31: generation (advanced by each
    /// `set` that turns the flag on; wraps)
    state: AtomicU32,
    _wait: PhantomData<fn() -> W>,
}

/// Whether a waiter that started in generation `start` (flag off) is released by state `s`.
#[inline]
fn released(s: u32, start: u32) -> bool {
    s & SET != 0 || s & GENERATION != start
}

impl Event {
    const_fn! {
        /// A new event, not set; usable in a `static`.
        ///
        /// # Examples
        ///
        /// ```
        /// use baresync::{Event, Futex};
        ///
        /// static READY: Event = Event::new();
        /// static SHUTDOWN: Event<Futex> = Event::with_wait();
        /// assert!(!READY.is_set() && !SHUTDOWN.is_set());
        ///
        /// let local = Event::new(); // no annotation needed
        /// local.set();
        /// assert!(local.is_set());
        /// ```
        #[inline]
        pub const fn new() -> Self {
            Self::with_wait()
        }
    }
}

impl<W: Wait> Event<W> {
    const_fn! {
        /// Like [`new`](Event::new), with the wait backend `W` named by the type;
        /// usable in a `static`. (`new` builds the default backend,
        /// [`DefaultWait`]: `rustc` does not use a type parameter's
        /// default to infer it, so one constructor cannot serve both.)
        ///
        /// # Examples
        ///
        /// ```
        /// use baresync::{Event, Spin};
        ///
        /// static READY: Event<Spin> = Event::with_wait();
        /// READY.set();
        /// assert!(READY.is_set());
        /// ```
        #[inline]
        pub const fn with_wait() -> Self {
            Event { state: AtomicU32::new(0), _wait: PhantomData }
        }
    }

    /// Turns the flag on and releases every thread waiting in [`wait`](Event::wait) or
    /// [`wait_until`](Event::wait_until). Threads that wait later return at once, until
    /// [`clear`](Event::clear).
    ///
    /// What this thread wrote before `set` is visible to every waiter it releases (and to any
    /// thread that sees [`is_set`](Event::is_set) return `true` because of it).
    ///
    /// # Examples
    ///
    /// ```
    /// use baresync::Event;
    ///
    /// static DONE: Event = Event::new();
    /// DONE.set();
    /// DONE.set(); // setting again changes nothing
    /// assert!(DONE.is_set());
    /// DONE.wait(); // returns at once
    /// ```
    #[inline]
    #[cfg_attr(all(feature = "lockdep", not(baresync_loom)), track_caller)]
    pub fn set(&self) {
        lockdep_hook! { crate::lockdep::signal(crate::lockdep::key(self), "Event") }
        // ORDERING: Relaxed: only the starting guess of the compare-and-swap below.
        let mut s = self.state.load(Relaxed);
        loop {
            let new = if s & SET != 0 {
                // Already set: write the same value, so that this call is still a release
                // that a later waiter's Acquire can pair with.
                s
            } else {
                // Turn the flag on, advance the generation, and clear the sleeper flag: we
                // wake every sleeper below, and a new waiter sees the flag and does not sleep.
                (s.wrapping_add(GENERATION_ONE) | SET) & !SLEEPERS
            };
            // ORDERING: Release pairs with every Acquire read of the state (the loads in `wait`,
            // `wait_until`, `wait_slow_until` and `is_set`, and the compare-exchange that
            // announces a sleeper): what this thread wrote before `set` happens-before what a released
            // waiter does. (Later read-modify-writes, `clear` included, continue this release
            // sequence, so a waiter that only sees the generation moved synchronizes too.)
            match self.state.compare_exchange_weak(s, new, Release, Relaxed) {
                Ok(_) => break,
                Err(seen) => s = seen,
            }
        }
        if !W::WAKE_IS_NOOP && s & SLEEPERS != 0 {
            self.wake_slow();
        }
    }

    #[cold]
    fn wake_slow(&self) {
        W::wake_all(&self.state);
    }

    /// Turns the flag off: threads that call [`wait`](Event::wait) from now on wait for the
    /// next [`set`](Event::set). Threads already released by an earlier `set` stay released,
    /// even those that have not run yet.
    ///
    /// # Examples
    ///
    /// ```
    /// use baresync::Event;
    ///
    /// static FLAG: Event = Event::new();
    /// FLAG.set();
    /// FLAG.clear();
    /// assert!(!FLAG.is_set());
    /// let mut polls = 0;
    /// assert!(FLAG.wait_until(|| { polls += 1; polls > 10 }).timed_out());
    /// ```
    #[inline]
    pub fn clear(&self) {
        // ORDERING: Relaxed: clearing publishes nothing (a waiter never returns because of a
        // `clear`), and as a read-modify-write it keeps the generation and the sleeper flag
        // intact and continues the release sequence of the `set` before it.
        self.state.fetch_and(!SET, Relaxed);
    }

    /// Whether the flag is on right now; never waits (the `try_*` form of [`wait`](Event::wait)).
    ///
    /// A `true` synchronizes with the `set` that turned it on, as a returning `wait` does.
    ///
    /// # Examples
    ///
    /// ```
    /// use baresync::Event;
    ///
    /// static LINK_UP: Event = Event::new();
    /// assert!(!LINK_UP.is_set());
    /// LINK_UP.set();
    /// assert!(LINK_UP.is_set());
    /// ```
    #[inline]
    pub fn is_set(&self) -> bool {
        // ORDERING: Acquire pairs with the Release compare-and-swap in `set`.
        self.state.load(Acquire) & SET != 0
    }

    /// Waits until the event is set (returns at once if it is), through `W`.
    ///
    /// Returns once a `set` has happened since the call began, even if a `clear` followed it
    /// before this thread ran again.
    ///
    /// # Examples
    ///
    /// ```
    /// use baresync::{Event, Futex};
    ///
    /// static CONFIG_LOADED: Event<Futex> = Event::with_wait();
    ///
    /// let reader = std::thread::spawn(|| CONFIG_LOADED.wait());
    /// CONFIG_LOADED.set();
    /// reader.join().unwrap();
    /// ```
    #[inline]
    #[cfg_attr(all(feature = "lockdep", not(baresync_loom)), track_caller)]
    pub fn wait(&self) {
        lockdep_hook! { crate::lockdep::before_acquire(crate::lockdep::key(self), "Event") }
        // ORDERING: Acquire pairs with the Release compare-and-swap in `set`.
        let s = self.state.load(Acquire);
        if s & SET == 0 {
            self.wait_slow_until(s, None::<&mut Forever>);
        }
    }

    /// Waits until the event is set or `deadline` expires;
    /// [`timed_out`](WaitTimeoutResult::timed_out) only when the deadline expired first.
    ///
    /// # Examples
    ///
    /// ```
    /// use baresync::Event;
    ///
    /// static READY: Event = Event::new();
    /// let mut polls = 0;
    /// assert!(READY.wait_until(|| { polls += 1; polls > 100 }).timed_out());
    /// READY.set();
    /// assert!(!READY.wait_until(|| true).timed_out(), "already set: no timeout even at expiry");
    /// ```
    #[inline]
    pub fn wait_until(&self, mut deadline: impl Deadline) -> WaitTimeoutResult {
        // ORDERING: Acquire pairs with the Release compare-and-swap in `set`.
        let s = self.state.load(Acquire);
        WaitTimeoutResult::new(s & SET == 0 && !self.wait_slow_until(s, Some(&mut deadline)))
    }

    /// Waits until the event is set or `timeout` passes;
    /// [`timed_out`](WaitTimeoutResult::timed_out) if it passed first. A timeout too large to
    /// represent (`Duration::MAX`) waits forever.
    ///
    /// Needs feature `std` (a default feature).
    ///
    /// # Examples
    ///
    /// ```
    /// use baresync::{Event, Futex};
    /// use std::time::Duration;
    ///
    /// static READY: Event<Futex> = Event::with_wait();
    /// assert!(READY.wait_timeout(Duration::from_millis(5)).timed_out());
    /// READY.set();
    /// assert!(!READY.wait_timeout(Duration::MAX).timed_out());
    /// ```
    #[cfg(feature = "std")]
    #[cfg_attr(docsrs, doc(cfg(feature = "std")))]
    #[inline]
    pub fn wait_timeout(&self, timeout: core::time::Duration) -> WaitTimeoutResult {
        self.wait_until(crate::deadline::Timeout::after(timeout))
    }

    /// The slow path of `wait` (no deadline) and `wait_until`, written once. `s` is the state
    /// the caller saw, with the flag off; its generation is the one this wait began in.
    /// Returns `false` only when the deadline expired before a `set`.
    #[cold]
    fn wait_slow_until<D: Deadline>(&self, mut s: u32, mut deadline: Option<&mut D>) -> bool {
        let start = s & GENERATION;
        let mut pre_sleep = PreSleep::new();
        loop {
            if released(s, start) {
                return true;
            }
            // With a sleeping backend, poll before sleeping: a `set` that comes within
            // microseconds then costs no wake-up.
            if !W::WAKE_IS_NOOP && pre_sleep.poll() {
                // ORDERING: Acquire pairs with the Release compare-and-swap in `set`.
                s = self.state.load(Acquire);
                if !released(s, start) && deadline.as_deref_mut().is_some_and(|d| d.expired()) {
                    return false;
                }
                continue;
            }
            let mut expected = s;
            if !W::WAKE_IS_NOOP && s & SLEEPERS == 0 {
                // Announce a sleeper before sleeping. A `set` after this compare-and-swap
                // reads the flag (both are read-modify-writes of this word) and wakes us; one
                // before it makes the swap fail, and we look again.
                // ORDERING: Relaxed on success: it publishes nothing, and as a
                // read-modify-write it continues the release sequence of the last `set`.
                // Acquire on failure: the value read may be a `set` that releases us.
                match self
                    .state
                    .compare_exchange(s, s | SLEEPERS, Relaxed, Acquire)
                {
                    Ok(_) => expected = s | SLEEPERS,
                    Err(seen) => {
                        s = seen;
                        continue;
                    }
                }
            }
            let in_time = wait_for::<W, D>(&self.state, expected, deadline.as_deref_mut());
            // ORDERING: Acquire pairs with the Release compare-and-swap in `set`.
            s = self.state.load(Acquire);
            if !in_time {
                // A `set` that came just as the deadline expired still counts.
                return released(s, start);
            }
        }
    }
}

impl<W: Wait> Default for Event<W> {
    fn default() -> Self {
        Self::with_wait()
    }
}

impl<W: Wait> fmt::Debug for Event<W> {
    /// Never blocks: shows whether the event is set right now.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Event")
            .field("is_set", &self.is_set())
            .finish_non_exhaustive()
    }
}

#[cfg(all(test, not(baresync_loom)))]
mod tests {
    use super::*;
    use crate::Spin;
    use std::format;

    fn basics<W: Wait>() {
        let e = Event::<W>::with_wait();
        assert!(!e.is_set());
        let mut polls = 0;
        assert!(e
            .wait_until(|| {
                polls += 1;
                polls > 3
            })
            .timed_out());
        e.set();
        assert!(e.is_set());
        e.wait();
        assert!(!e.wait_until(|| true).timed_out());
        e.set();
        assert!(e.is_set());
        e.clear();
        assert!(!e.is_set());
        e.clear();
        assert!(!e.is_set());
        assert!(e.wait_until(|| true).timed_out());
    }

    #[test]
    fn spin_basics() {
        basics::<Spin>();
    }

    #[cfg(feature = "std")]
    #[test]
    fn sleeping_backend_basics() {
        basics::<crate::Futex>();
        basics::<crate::Yield>();
    }

    #[test]
    fn set_advances_the_generation_once() {
        let e: Event = Event::new();
        e.set();
        e.set();
        assert_eq!(e.state.load(Relaxed), GENERATION_ONE | SET);
        e.clear();
        assert_eq!(e.state.load(Relaxed), GENERATION_ONE);
        e.set();
        assert_eq!(e.state.load(Relaxed), (2 * GENERATION_ONE) | SET);
    }

    #[test]
    fn a_waiter_of_an_older_generation_is_released_though_the_flag_is_off() {
        let e: Event = Event::new();
        let start = e.state.load(Relaxed);
        e.set();
        e.clear();
        assert!(!e.is_set());
        // What a waiter that saw `start` finds when it runs again.
        assert!(e.wait_slow_until(start, Some(&mut || true)));
        assert!(e.wait_slow_until(start, None::<&mut Forever>));
    }

    #[cfg(feature = "std")]
    #[test]
    fn generation_wraps_without_touching_the_flags() {
        let e: Event<crate::Futex> = Event::with_wait();
        e.state.store(GENERATION | SLEEPERS, Relaxed);
        e.set();
        assert_eq!(e.state.load(Relaxed), SET);
        e.clear();
        assert_eq!(e.state.load(Relaxed), 0);
    }

    #[cfg(feature = "std")]
    #[test]
    fn clear_keeps_the_sleeper_flag() {
        let e: Event<crate::Futex> = Event::with_wait();
        e.state.store(SLEEPERS | SET, Relaxed);
        e.clear();
        assert_eq!(e.state.load(Relaxed), SLEEPERS);
    }

    /// A waiter whose `W::wait` panics: the sleeper flag it set costs the next `set` one wake
    /// call, which clears it; later `set`s make none.
    #[test]
    fn panicking_wait_leaves_no_ghost_sleeper() {
        use crate::wait::testing::{must_panic, PanickyWait};
        let e = Event::<PanickyWait>::with_wait();
        PanickyWait::arm(1);
        must_panic(|| e.wait());
        assert_eq!(e.state.load(Relaxed), SLEEPERS);
        must_panic(|| e.wait_until(|| panic!("injected")));
        e.set();
        assert_eq!(PanickyWait::wakes(), 1);
        assert_eq!(e.state.load(Relaxed), GENERATION_ONE | SET);
        e.clear();
        e.set();
        assert_eq!(PanickyWait::wakes(), 1, "no wake call without a sleeper");
    }

    /// The generation is driven past its wrap by real `set`/`clear` cycles with threads
    /// waiting; a waiter that saw the last generation before the wrap (flag off) is released
    /// by the first after it even when the flag is off again.
    #[cfg(feature = "std")]
    #[test]
    fn generation_wraps_with_waiters() {
        let e: std::sync::Arc<Event<crate::Yield>> = std::sync::Arc::new(Event::with_wait());
        e.state.store(GENERATION - 2 * GENERATION_ONE, Relaxed);
        for _ in 0..5 {
            let waiters: std::vec::Vec<_> = (0..2)
                .map(|_| {
                    let e = e.clone();
                    std::thread::spawn(move || e.wait())
                })
                .collect();
            e.set();
            for w in waiters {
                w.join().unwrap();
            }
            e.clear();
        }
        assert_eq!(e.state.load(Relaxed), 2 * GENERATION_ONE);

        let e: Event<crate::Yield> = Event::with_wait();
        e.state.store(GENERATION, Relaxed);
        let start = e.state.load(Relaxed);
        e.set();
        e.clear();
        assert_eq!(e.state.load(Relaxed), 0);
        assert!(e.wait_slow_until(start, Some(&mut || true)));
    }

    #[test]
    fn debug_never_blocks() {
        let e: Event = Event::default();
        assert_eq!(format!("{e:?}"), "Event { is_set: false, .. }");
        e.set();
        assert_eq!(format!("{e:?}"), "Event { is_set: true, .. }");
    }

    #[cfg(feature = "std")]
    #[test]
    fn size_and_auto_traits() {
        fn send_sync<T: Send + Sync>() {}
        send_sync::<Event>();
        send_sync::<Event<crate::Futex>>();
        assert_eq!(core::mem::size_of::<Event<crate::Futex>>(), 4);
    }

    #[cfg(feature = "std")]
    #[test]
    fn timeouts_return() {
        let e: Event<crate::Futex> = Event::with_wait();
        assert!(e
            .wait_timeout(core::time::Duration::from_millis(2))
            .timed_out());
        assert!(e.wait_timeout(core::time::Duration::ZERO).timed_out());
        e.set();
        assert!(!e.wait_timeout(core::time::Duration::MAX).timed_out());
    }
}

#[cfg(all(test, baresync_loom))]
mod loom_wrap {
    use super::*;
    use loom::sync::Arc;
    use loom::thread;

    use crate::sync::loom_model as model;

    /// A waiter that saw the generation counter's last value (flag off) is released by a
    /// `set` that wraps it to 0, even if `clear` follows at once.
    #[test]
    fn loom_event_generation_wrap() {
        model(|| {
            let e = Arc::new(Event::<crate::Spin>::with_wait());
            e.state.store(GENERATION, Relaxed);
            let waiter = {
                let e = e.clone();
                thread::spawn(move || {
                    assert!(e.wait_slow_until(GENERATION, None::<&mut crate::wait::Forever>));
                })
            };
            e.set();
            e.clear();
            waiter.join().unwrap();
            assert_eq!(e.state.load(Relaxed), 0);
        });
    }
}
