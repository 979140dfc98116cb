//! The process-shared sleeping wait backend (feature `std`, Linux and Android).
//!
//! The kernel's futex without `FUTEX_PRIVATE_FLAG`: the kernel keys the sleepers by the
//! physical page (inode and offset for a file mapping) instead of by this process's address
//! space, so a wake from one process reaches a sleeper in another that maps the same word,
//! at whatever address. The private futex of [`Futex`](super::Futex) is cheaper (no page
//! lookup) and never reaches another process, which is why only this backend is
//! [`SharedWait`](crate::shared::SharedWait).
//!
//! The system calls go through `rustix` (its `thread::futex`), not hand-written wrappers.
//!
//! Other hosts: there is no `SharedFutex`; between processes use `Spin` or `Yield`, whose
//! waiters poll the shared word and need no kernel object. (macOS 14.4's
//! `os_sync_wait_on_address` with its shared flag, or Windows' named events, could back it;
//! not done.)

use super::Wait;
use crate::sync::atomic::AtomicU32;
use crate::Deadline;
use core::time::Duration;
use rustix::thread::futex;

/// How long a sleeper waits, at most, before polling a deadline that cannot say how much time
/// is left (a closure).
const POLL_INTERVAL: Duration = Duration::from_millis(1);

/// Sleep in the kernel until woken, across processes: the Linux futex without the private
/// flag.
///
/// Use it for primitives in memory mapped by several processes (`MAP_SHARED`, `memfd`, a
/// file); within one process [`Futex`](super::Futex) is a little cheaper. Waiting and waking
/// work at any address each process mapped the word at.
///
/// # Examples
///
/// ```
/// use baresync::{shared::SharedWait, Mutex, SharedFutex};
///
/// fn usable_between_processes<W: SharedWait>() {}
/// usable_between_processes::<SharedFutex>();
///
/// let m = Mutex::<u32, SharedFutex>::with_wait(0);
/// *m.lock() += 1;
/// assert_eq!(*m.lock(), 1);
/// ```
#[cfg_attr(docsrs, doc(cfg(all(feature = "std", target_os = "linux"))))]
#[derive(Debug, Clone, Copy, Default)]
pub struct SharedFutex;

/// The word as the `core` atomic rustix takes (the same type, unless `portable-atomic`
/// supplies the crate's atomics, whose `AtomicU32` has the same layout).
#[inline]
fn core_atomic(atomic: &AtomicU32) -> &core::sync::atomic::AtomicU32 {
    // SAFETY: `as_ptr` points to a live, aligned 32-bit atomic word for as long as `atomic`
    // is borrowed; the kernel accesses it atomically, as every other user does.
    unsafe { core::sync::atomic::AtomicU32::from_ptr(atomic.as_ptr()) }
}

fn sys_wait(atomic: &AtomicU32, expected: u32, timeout: Option<Duration>) {
    let ts = timeout.map(|t| futex::Timespec {
        tv_sec: t.as_secs().try_into().unwrap_or(i64::MAX),
        tv_nsec: t.subsec_nanos().into(),
    });
    // EAGAIN (the word changed), EINTR (a signal), ETIMEDOUT: all mean "look again", which
    // `Wait::wait` allows (spurious returns).
    let _ = futex::wait(
        core_atomic(atomic),
        futex::Flags::empty(),
        expected,
        ts.as_ref(),
    );
}

// SAFETY: only reads the word it is given (the kernel compares it); never writes it.
unsafe impl Wait for SharedFutex {
    #[inline]
    fn wait(atomic: &AtomicU32, expected: u32) {
        sys_wait(atomic, expected, None);
    }

    fn wait_until(atomic: &AtomicU32, expected: u32, deadline: &mut impl Deadline) -> bool {
        if deadline.expired() {
            return false;
        }
        sys_wait(
            atomic,
            expected,
            Some(deadline.remaining().unwrap_or(POLL_INTERVAL)),
        );
        true
    }

    #[inline]
    fn wake_one(atomic: &AtomicU32) {
        let _ = futex::wake(core_atomic(atomic), futex::Flags::empty(), 1);
    }

    #[inline]
    fn wake_all(atomic: &AtomicU32) {
        let _ = futex::wake(core_atomic(atomic), futex::Flags::empty(), i32::MAX as u32);
    }
}

// SAFETY: a shared futex is keyed by the mapped page, so wakes reach waiters of every process
// that maps the word.
unsafe impl crate::shared::SharedWait for SharedFutex {}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sync::atomic::Ordering::SeqCst;
    use std::sync::Arc;

    #[test]
    #[cfg_attr(
        miri,
        ignore = "Miri rejects rustix's libc-backend futex call (an `*const AtomicU32` where \
                  the variadic `syscall` expects `*mut u32`); the private `Futex` is covered"
    )]
    fn returns_at_once_when_the_value_differs() {
        let a = AtomicU32::new(1);
        SharedFutex::wait(&a, 0);
    }

    #[test]
    #[cfg_attr(
        miri,
        ignore = "Miri rejects rustix's libc-backend futex call (an `*const AtomicU32` where \
                  the variadic `syscall` expects `*mut u32`); the private `Futex` is covered"
    )]
    fn wake_releases_a_sleeper() {
        let a = Arc::new(AtomicU32::new(0));
        let t = {
            let a = Arc::clone(&a);
            std::thread::spawn(move || {
                while a.load(SeqCst) == 0 {
                    SharedFutex::wait(&a, 0);
                }
            })
        };
        std::thread::sleep(Duration::from_millis(10));
        a.store(1, SeqCst);
        SharedFutex::wake_all(&a);
        t.join().unwrap();
    }

    #[test]
    #[cfg_attr(
        miri,
        ignore = "Miri rejects rustix's libc-backend futex call (an `*const AtomicU32` where \
                  the variadic `syscall` expects `*mut u32`); the private `Futex` is covered"
    )]
    fn expired_deadline_returns_false() {
        let a = AtomicU32::new(0);
        assert!(!SharedFutex::wait_until(&a, 0, &mut || true));
        let mut polls = 0;
        assert!(SharedFutex::wait_until(&a, 0, &mut || {
            polls += 1;
            polls > 1
        }));
    }
}
