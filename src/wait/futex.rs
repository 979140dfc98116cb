//! The sleeping wait backend (feature `std`).
//!
//! On Linux and Android it is the kernel's futex (`FUTEX_WAIT_PRIVATE`/`FUTEX_WAKE_PRIVATE`).
//! Elsewhere it falls back to a small table of parking buckets, each a `std::sync::Mutex` and
//! `Condvar`, indexed by the word's address: the same check-then-sleep atomicity as a futex,
//! at the price of a mutex round trip per wake. The fallback is compiled and tested on Linux
//! too, so it does not rot.

use super::Wait;
use crate::sync::atomic::AtomicU32;
use crate::Deadline;
use core::time::Duration;

/// How long a sleeper waits, at most, before polling a deadline that cannot say how much time
/// is left (a closure).
const POLL_INTERVAL: Duration = Duration::from_millis(1);

/// Sleep in the operating system until woken: waiting threads use no CPU.
///
/// Needs feature `std` (a default feature).
///
/// On Linux and Android this is the futex system call; on other systems a portable parking
/// table built on `std::sync::{Mutex, Condvar}`. A wake is a system call, so every primitive
/// only calls it when its state says a sleeper may exist.
///
/// With a [`Deadline`] that cannot tell its [`remaining`](Deadline::remaining) time (a
/// closure), a sleeper wakes every millisecond to poll it.
///
/// # Examples
///
/// ```
/// use baresync::{Futex, Mutex};
/// use std::sync::Arc;
///
/// let shared = Arc::new(Mutex::<u64, Futex>::with_wait(0));
/// let handles: Vec<_> = (0..4)
///     .map(|_| {
///         let shared = Arc::clone(&shared);
///         std::thread::spawn(move || {
///             for _ in 0..1000 {
///                 *shared.lock() += 1;
///             }
///         })
///     })
///     .collect();
/// for h in handles {
///     h.join().unwrap();
/// }
/// assert_eq!(*shared.lock(), 4000);
/// ```
#[cfg_attr(docsrs, doc(cfg(feature = "std")))]
#[derive(Debug, Clone, Copy, Default)]
pub struct Futex;

// SAFETY: only reads the word it is given (or passes its address on); never writes it.
unsafe impl Wait for Futex {
    #[inline]
    fn wait(atomic: &AtomicU32, expected: u32) {
        sys::wait(atomic, expected, None);
    }

    fn wait_until(atomic: &AtomicU32, expected: u32, deadline: &mut impl Deadline) -> bool {
        if deadline.expired() {
            return false;
        }
        let timeout = deadline.remaining().unwrap_or(POLL_INTERVAL);
        sys::wait(atomic, expected, Some(timeout));
        true
    }

    #[inline]
    fn wake_one(atomic: &AtomicU32) {
        sys::wake(atomic, false);
    }

    #[inline]
    fn wake_all(atomic: &AtomicU32) {
        sys::wake(atomic, true);
    }
}

#[cfg(any(target_os = "linux", target_os = "android"))]
mod sys {
    use crate::sync::atomic::AtomicU32;
    use core::time::Duration;

    pub(super) fn wait(atomic: &AtomicU32, expected: u32, timeout: Option<Duration>) {
        let ts = timeout.map(|t| libc::timespec {
            // A timeout beyond what `time_t` holds is clamped: the wait may return early
            // (spuriously), which callers allow, and never overflows.
            tv_sec: t.as_secs().try_into().unwrap_or(libc::time_t::MAX),
            // Below 10^9, so it fits the C long of every target (32 bits on some).
            tv_nsec: t.subsec_nanos() as libc::c_long,
        });
        let ts_ptr = ts
            .as_ref()
            .map_or(core::ptr::null(), |t| t as *const libc::timespec);
        // SAFETY: `atomic.as_ptr()` points to a live, aligned 32-bit word for the duration of
        // the call (we hold `&AtomicU32`), and `ts_ptr` is null or points to `ts`, which lives
        // until the call returns. FUTEX_WAIT only reads both. Errors (EAGAIN when the value
        // already changed, EINTR, ETIMEDOUT) all mean "return and let the caller re-check".
        unsafe {
            libc::syscall(
                libc::SYS_futex,
                atomic.as_ptr(),
                libc::FUTEX_WAIT | libc::FUTEX_PRIVATE_FLAG,
                expected,
                ts_ptr,
            );
        }
    }

    pub(super) fn wake(atomic: &AtomicU32, all: bool) {
        let count: libc::c_int = if all { libc::c_int::MAX } else { 1 };
        // SAFETY: `atomic.as_ptr()` points to a live, aligned 32-bit word; FUTEX_WAKE does not
        // access memory through it, it only uses the address as the wait-queue key.
        unsafe {
            libc::syscall(
                libc::SYS_futex,
                atomic.as_ptr(),
                libc::FUTEX_WAKE | libc::FUTEX_PRIVATE_FLAG,
                count,
            );
        }
    }
}

#[cfg(not(any(target_os = "linux", target_os = "android")))]
mod sys {
    pub(super) use super::parking::{wait, wake};
}

/// The portable fallback: a fixed table of parking buckets hashed by address.
#[cfg_attr(any(target_os = "linux", target_os = "android"), allow(dead_code))]
mod parking {
    use crate::sync::atomic::{AtomicU32, Ordering::Relaxed};
    use core::time::Duration;
    use std::sync::{Condvar, Mutex, PoisonError};

    struct Bucket {
        mutex: Mutex<()>,
        cond: Condvar,
    }

    const BUCKETS: usize = 64;

    static TABLE: [Bucket; BUCKETS] = [const {
        Bucket {
            mutex: Mutex::new(()),
            cond: Condvar::new(),
        }
    }; BUCKETS];

    fn bucket(atomic: &AtomicU32) -> &'static Bucket {
        // Fibonacci hashing of the address; the low bits of an aligned address are zero.
        let addr = atomic as *const AtomicU32 as usize;
        let hash = addr.wrapping_mul(0x9E37_79B9_7F4A_7C15_u64 as usize);
        &TABLE[(hash >> (usize::BITS - 6)) % BUCKETS]
    }

    pub(crate) fn wait(atomic: &AtomicU32, expected: u32, timeout: Option<Duration>) {
        let b = bucket(atomic);
        let guard = b.mutex.lock().unwrap_or_else(PoisonError::into_inner);
        // ORDERING: Relaxed is enough: a waker changes the word and then takes this bucket's
        // mutex to notify. Either that mutex hand-off orders the change before this load, or
        // this thread is already inside `cond.wait` (which released the mutex atomically)
        // when the waker notifies. Either way the change is not missed.
        if atomic.load(Relaxed) != expected {
            return;
        }
        match timeout {
            None => drop(b.cond.wait(guard).unwrap_or_else(PoisonError::into_inner)),
            Some(t) => drop(
                b.cond
                    .wait_timeout(guard, t)
                    .unwrap_or_else(PoisonError::into_inner),
            ),
        }
    }

    pub(crate) fn wake(atomic: &AtomicU32, _all: bool) {
        let b = bucket(atomic);
        let _guard = b.mutex.lock().unwrap_or_else(PoisonError::into_inner);
        // Several words share a bucket, so even `wake_one` must wake all of the bucket's
        // sleepers: a single notify could reach a sleeper of another word and be lost.
        b.cond.notify_all();
    }

    #[cfg(test)]
    mod tests {
        use super::*;
        use crate::sync::atomic::Ordering::SeqCst;
        use std::sync::Arc;

        #[test]
        fn returns_at_once_when_the_value_differs() {
            let a = AtomicU32::new(1);
            wait(&a, 0, None);
        }

        #[test]
        fn wake_releases_a_sleeper() {
            let a = Arc::new(AtomicU32::new(0));
            let t = {
                let a = Arc::clone(&a);
                std::thread::spawn(move || {
                    while a.load(SeqCst) == 0 {
                        wait(&a, 0, None);
                    }
                })
            };
            std::thread::sleep(Duration::from_millis(20));
            a.store(1, SeqCst);
            wake(&a, false);
            t.join().unwrap();
        }

        #[test]
        fn timeout_returns() {
            let a = AtomicU32::new(0);
            wait(&a, 0, Some(Duration::from_millis(5)));
            assert_eq!(a.load(SeqCst), 0);
        }
    }
}
