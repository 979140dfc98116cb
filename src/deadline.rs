//! Deadlines without a clock.
//!
//! A `no_std` target may have no clock at all, or one that only the application knows how to
//! read (a SysTick counter, an RTOS tick, a cycle counter). So a deadline here is anything that
//! can answer "has it expired yet?": a closure, a spin budget, or, with feature `std`, an
//! [`Instant`](std::time::Instant).
//!
//! Every blocking operation in the crate has an `*_until(deadline)` form that takes an
//! `impl Deadline`.

use core::time::Duration;

/// Something that can tell whether the time to wait has run out.
///
/// A deadline is polled: a waiter asks [`expired`](Deadline::expired) between attempts, so it
/// must be cheap. A sleeping [`Wait`](crate::Wait) backend also asks
/// [`remaining`](Deadline::remaining) to sleep no longer than needed; a deadline that cannot
/// say (a closure) is polled at the backend's own interval instead.
///
/// # Examples
///
/// A spin budget as a deadline: give up after 1000 polls.
///
/// ```
/// use baresync::{Deadline, SpinLock};
///
/// static LOCK: SpinLock<u32> = SpinLock::new(0);
///
/// let held = LOCK.lock();
/// let mut polls = 0;
/// let budget = move || {
///     polls += 1;
///     polls > 1000
/// };
/// // Somebody holds the lock, so the attempt gives up once the budget is spent.
/// assert!(LOCK.lock_until(budget).is_none());
/// drop(held);
/// assert!(LOCK.lock_until(|| false).is_some());
/// ```
pub trait Deadline {
    /// Returns `true` once the deadline has passed. It may be called many times and may
    /// change state (count polls, read a clock).
    fn expired(&mut self) -> bool;

    /// How long is left, if this deadline knows; `None` (the default) if it cannot tell.
    ///
    /// Sleeping backends use it to bound a sleep; a deadline that returns `None` is polled.
    fn remaining(&self) -> Option<Duration> {
        None
    }
}

impl<F: FnMut() -> bool> Deadline for F {
    #[inline]
    fn expired(&mut self) -> bool {
        self()
    }
}

#[cfg(feature = "std")]
#[cfg_attr(docsrs, doc(cfg(feature = "std")))]
impl Deadline for std::time::Instant {
    #[inline]
    fn expired(&mut self) -> bool {
        std::time::Instant::now() >= *self
    }

    #[inline]
    fn remaining(&self) -> Option<Duration> {
        Some(self.saturating_duration_since(std::time::Instant::now()))
    }
}

/// The deadline behind every `*_timeout(Duration)` method: `now + timeout`, or never when the
/// sum does not fit in an `Instant` (`Duration::MAX` means "wait forever", not a panic).
#[cfg(feature = "std")]
#[derive(Clone, Copy, Debug)]
pub(crate) struct Timeout(Option<std::time::Instant>);

#[cfg(feature = "std")]
impl Timeout {
    /// A deadline `timeout` from now.
    pub(crate) fn after(timeout: Duration) -> Self {
        Timeout(std::time::Instant::now().checked_add(timeout))
    }
}

#[cfg(feature = "std")]
impl Deadline for Timeout {
    #[inline]
    fn expired(&mut self) -> bool {
        match &mut self.0 {
            Some(at) => at.expired(),
            None => false,
        }
    }

    #[inline]
    fn remaining(&self) -> Option<Duration> {
        // An unrepresentable deadline has "more than any Duration" left.
        match &self.0 {
            Some(at) => at.remaining(),
            None => Some(Duration::MAX),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn closure_deadline_counts_polls() {
        let mut n = 0;
        let mut d = move || {
            n += 1;
            n > 3
        };
        assert!(!d.expired());
        assert!(!d.expired());
        assert!(!d.expired());
        assert!(d.expired());
        assert_eq!(Deadline::remaining(&d), None);
    }

    #[cfg(feature = "std")]
    #[test]
    fn instant_in_the_past_is_expired() {
        let mut past = std::time::Instant::now();
        assert!(past.expired());
        assert_eq!(past.remaining(), Some(Duration::ZERO));
    }

    #[cfg(feature = "std")]
    #[test]
    fn huge_timeout_never_expires_and_does_not_panic() {
        let mut t = Timeout::after(Duration::MAX);
        assert!(!t.expired());
        assert!(t.remaining().unwrap() > Duration::from_secs(1_000_000));
        let mut zero = Timeout::after(Duration::ZERO);
        assert!(zero.expired());
    }
}

/// What a timed wait that returns no value reports: whether it gave up because its deadline
/// expired. The one convention of the crate, as std's
/// [`WaitTimeoutResult`](std::sync::WaitTimeoutResult): ask
/// [`timed_out`](WaitTimeoutResult::timed_out).
///
/// Returned by [`Condvar::wait_until`](crate::Condvar::wait_until) and its forms (next to the
/// guard), [`Event::wait_until`](crate::Event::wait_until) and
/// [`JoinableQueue::join_until`](crate::JoinableQueue::join_until) with their `*_timeout`
/// forms. A timed wait that returns a value says it timed out through that value instead
/// (`lock_until` → `None`, `get_until` → `Err(GetError::Timeout)`).
///
/// # Examples
///
/// ```
/// use baresync::Event;
///
/// static READY: Event = Event::new();
/// let result = READY.wait_until(|| true); // expired at once
/// assert!(result.timed_out());
/// READY.set();
/// assert!(!READY.wait_until(|| true).timed_out(), "set: not a timeout, even at expiry");
/// ```
#[must_use = "a timed wait may have given up: check `timed_out()`"]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct WaitTimeoutResult(bool);

impl WaitTimeoutResult {
    /// The result of a wait: `timed_out` is `true` when the deadline expired before what was
    /// waited for happened.
    #[inline]
    pub(crate) const fn new(timed_out: bool) -> Self {
        WaitTimeoutResult(timed_out)
    }

    /// Whether the wait gave up because its deadline expired (`false`: what it waited for
    /// happened).
    ///
    /// # Examples
    ///
    /// ```
    /// use baresync::JoinableQueue;
    ///
    /// let q: JoinableQueue<u8, 2> = JoinableQueue::new();
    /// assert!(!q.join_until(|| true).timed_out(), "no unfinished task");
    /// q.put(1).unwrap();
    /// assert!(q.join_until(|| true).timed_out());
    /// ```
    #[inline]
    #[must_use]
    pub const fn timed_out(self) -> bool {
        self.0
    }
}
