//! Threads named across processes (feature `std`, Linux and Android).
//!
//! A thread id (`gettid`) names one live thread in the whole system (within one pid
//! namespace), not only in its process, so it identifies a lock owner to every process that
//! maps the lock. What it does not do alone is survive reuse: once a thread has ended the
//! kernel may give its id to a new thread (after cycling through `pid_max` ids). Each id here
//! therefore comes with the thread's start time (in clock ticks since boot, from
//! `/proc/thread-self/stat`): an id and a start time together never name two threads, because
//! a reused id belongs to a thread that started later.

use core::num::NonZeroUsize;
use core::sync::atomic::{AtomicU32, AtomicU8, Ordering::Relaxed};
use std::cell::Cell;

/// The calling thread's kernel thread id (`gettid`), unique among the live threads of every
/// process of this pid namespace.
#[inline]
pub(crate) fn tid() -> u32 {
    rustix::thread::gettid().as_raw_nonzero().get() as u32
}

/// What `/proc/<tid>/stat` says about a thread.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ThreadState {
    /// Running (or sleeping, stopped...), started at this many clock ticks after boot.
    Alive { start: u64 },
    /// Gone: no such thread, or a zombie (its process was killed and not yet reaped, or it
    /// exited): it will never run again.
    Dead,
    /// `/proc` could not be read (not mounted, no permission): nothing is known.
    Unknown,
}

/// Looks thread `tid` up in `/proc` (any thread of any process, by its global id).
pub(crate) fn thread_state(tid: u32) -> ThreadState {
    use std::io::Read;
    let mut buf = [0u8; 512];
    let path = std::format!("/proc/{tid}/stat");
    let n = match std::fs::File::open(path) {
        Ok(mut f) => match f.read(&mut buf) {
            Ok(n) => n,
            Err(_) => return ThreadState::Unknown,
        },
        // No entry: gone, unless /proc hides it (`hidepid`, another uid's process) or is
        // not mounted at all; `kill(tid, 0)` (no signal sent) tells: ESRCH only when no
        // thread has that id.
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            return match rustix::process::Pid::from_raw(tid as i32)
                .map(rustix::process::test_kill_process)
            {
                Some(Err(rustix::io::Errno::SRCH)) => ThreadState::Dead,
                _ => ThreadState::Unknown,
            };
        }
        Err(_) => return ThreadState::Unknown,
    };
    parse_stat(&buf[..n])
}

/// Parses `pid (comm) state ... starttime ...`: the state is the first field after the last
/// `)` (comm may hold anything, even parentheses), the start time the 20th.
fn parse_stat(stat: &[u8]) -> ThreadState {
    let Some(close) = stat.iter().rposition(|&b| b == b')') else {
        return ThreadState::Unknown;
    };
    let Ok(rest) = core::str::from_utf8(&stat[close + 1..]) else {
        return ThreadState::Unknown;
    };
    let mut fields = rest.split_ascii_whitespace();
    let state = fields.next();
    if matches!(state, Some("Z" | "X" | "x")) {
        return ThreadState::Dead;
    }
    match fields.nth(18).and_then(|s| s.parse().ok()) {
        Some(start) => ThreadState::Alive { start },
        None => ThreadState::Unknown,
    }
}

/// Bumped by a `pthread_atfork` child handler in every child of a `fork`: a thread's cached id
/// is valid while the generation it was read under is still the current one.
static FORK_GENERATION: AtomicU32 = AtomicU32::new(0);
/// The child handler: 0 not registered yet, 1 being registered, 2 registered, 3 failed.
static ATFORK: AtomicU8 = AtomicU8::new(0);

extern "C" fn forked_child() {
    // ORDERING: Relaxed: runs in the child's only thread (the one that called `fork`), before
    // `fork` returns there; that thread's later reads are sequenced after it.
    FORK_GENERATION.fetch_add(1, Relaxed);
}

/// Registers [`forked_child`] once per process; whether it is registered.
fn atfork_registered() -> bool {
    // ORDERING: Relaxed throughout. What must hold is that a thread that sees 2 and then forks
    // runs the handler: glibc takes one lock both to register a handler and to fork, so if
    // that fork had taken it before the registration, the fork would happen-before the
    // registration and so before the store of 2, which the load sequenced before the fork
    // could then not have read.
    match ATFORK.load(Relaxed) {
        2 => true,
        0 if ATFORK.compare_exchange(0, 1, Relaxed, Relaxed).is_ok() => {
            // SAFETY: registers a child handler that only increments an atomic, which is
            // async-signal-safe; no prepare or parent handler.
            let ok = unsafe { libc::pthread_atfork(None, None, Some(forked_child)) } == 0;
            ATFORK.store(if ok { 2 } else { 3 }, Relaxed);
            ok
        }
        // Being registered by another thread, or failed: read the id afresh this time.
        _ => false,
    }
}

/// The calling thread's id and start time, read once per thread (and again after a `fork`,
/// whose child thread has a new id but inherits the parent's thread-locals).
///
/// A `fork` is noticed by a generation a `pthread_atfork` child handler bumps, so a cached id
/// costs no system call. Where the handler could not be registered, each call makes a
/// `gettid` system call and compares. (A child made by a raw `clone` system call, bypassing
/// libc's `fork`, runs no handler: it must not use a cached id, that is, must not call into
/// these locks before `exec`.)
#[inline]
pub(crate) fn current_thread() -> (u32, u64) {
    std::thread_local! {
        // (fork generation it was read under, or None: check with gettid; tid; start time);
        // tid 0: not read yet. No destructor, so usable while other thread-locals are
        // destroyed.
        static ME: Cell<(Option<u32>, u32, u64)> = const { Cell::new((None, 0, 0)) };
    }
    ME.with(|me| {
        let (generation, cached, start) = me.get();
        // ORDERING: Relaxed: only a child handler changes it, in this thread's own past.
        if cached != 0 && generation == Some(FORK_GENERATION.load(Relaxed)) {
            return (cached, start);
        }
        let registered = atfork_registered();
        // ORDERING: Relaxed, as above; read before `gettid`, so a fork after it is noticed.
        let now = FORK_GENERATION.load(Relaxed);
        let tid = tid();
        let start = if cached == tid {
            start
        } else {
            match thread_state(tid) {
                ThreadState::Alive { start } => start,
                // Without /proc the id alone still names one live thread.
                _ => 0,
            }
        };
        me.set((registered.then_some(now), tid, start));
        (tid, start)
    })
}

/// The [`ThreadIdentity`](crate::ThreadIdentity) of threads in several processes sharing a
/// [`ReentrantLock`](crate::ReentrantLock): the kernel thread id, and on 64-bit targets the
/// thread's start time in its upper 32 bits.
///
/// The id names one live thread among all processes (of one pid namespace: processes in
/// different pid namespaces, such as two containers, must not share a reentrant lock). The
/// start time keeps a thread that reuses the id of a dead owner from finding "its" id in the
/// owner word (on 32-bit targets only the id is kept). The first call of each thread makes a
/// `gettid` system call and reads `/proc/thread-self/stat`; later calls read the cached pair
/// (a `pthread_atfork` handler makes a forked child, which inherits the parent's
/// thread-locals, read its own afresh).
///
/// # Examples
///
/// ```
/// # if cfg!(miri) { return; } // reads /proc (Miri isolates the file system)
/// use baresync::{shared::Shareable, ProcessThreadId, ReentrantLock, SharedFutex, ThreadIdentity};
///
/// fn fits_in_a_mapping<T: Shareable>(_: &T) {}
///
/// let lock = ReentrantLock::<u32, ProcessThreadId, SharedFutex>::with_identity(0);
/// fits_in_a_mapping(&lock);
/// let outer = lock.lock();
/// let inner = lock.lock();
/// assert_eq!(*inner + *outer, 0);
/// assert_ne!(ProcessThreadId::current(), std::thread::spawn(ProcessThreadId::current).join().unwrap());
/// ```
#[cfg_attr(docsrs, doc(cfg(all(feature = "std", target_os = "linux"))))]
#[derive(Debug, Clone, Copy, Default)]
pub struct ProcessThreadId;

// SAFETY: a kernel thread id is unique among live threads of all processes (one pid
// namespace, as documented) and constant for a thread's life; the start time read for it is
// constant too. A forked child re-reads both (its tid differs from the cached one). The
// thread-local has no destructor.
unsafe impl crate::ThreadIdentity for ProcessThreadId {
    #[inline]
    fn current() -> NonZeroUsize {
        let (tid, start) = current_thread();
        #[cfg(target_pointer_width = "64")]
        let id = (tid as usize) | ((start as u32 as usize) << 32);
        #[cfg(not(target_pointer_width = "64"))]
        let id = {
            let _ = start;
            tid as usize
        };
        // A tid is never 0.
        NonZeroUsize::new(id).unwrap_or(NonZeroUsize::MIN)
    }
}

// SAFETY: as above, the ids are unique across processes.
unsafe impl crate::shared::SharedIdentity for ProcessThreadId {}

/// The [`OwnerLiveness`](crate::raw::OwnerLiveness) of threads in processes sharing a
/// [`RobustMutex`](crate::RobustMutex): an owner is the kernel thread id (low 32 bits) and the
/// thread's start time in clock ticks since boot (high 32 bits).
///
/// An owner is dead when `/proc/<tid>/stat` is gone, shows a zombie (a killed process not yet
/// reaped), or shows a thread that started at another time: the id was reused by a newer
/// thread, which therefore never looks like the old owner, and a live owner is never declared
/// dead. If `/proc` cannot be read nothing is ever declared dead (the lock then behaves as a
/// plain mutex). Both ids come from one pid namespace and one time namespace (`/proc` shifts
/// start times by the reader's boot-time offset): processes in different pid or time
/// namespaces must not share a robust lock. An owner that `execve`s is not seen dead while
/// the new program runs (`docs/processes.md`).
///
/// # Examples
///
/// ```
/// # if cfg!(miri) { return; } // reads /proc (Miri isolates the file system)
/// use baresync::{raw::OwnerLiveness, ProcessLiveness};
///
/// let me = ProcessLiveness::current();
/// assert!(!ProcessLiveness::is_dead(me));
/// let gone = std::thread::spawn(ProcessLiveness::current).join().unwrap();
/// // Once the kernel has finished the thread's exit (a moment after `join`):
/// while !ProcessLiveness::is_dead(gone) {
///     std::thread::yield_now();
/// }
/// ```
#[cfg(target_has_atomic = "64")]
#[cfg_attr(docsrs, doc(cfg(all(feature = "std", target_os = "linux"))))]
#[derive(Debug, Clone, Copy, Default)]
pub struct ProcessLiveness;

// SAFETY: the id (tid, start time) names one thread (a tid is unique among live threads; a
// reused tid has a later start time) and is constant for its life; never all ones (a tid is
// below 2^30). `is_dead` says dead only when /proc shows the tid gone, a zombie, or a thread
// with another start time: each means the owner thread has ended.
#[cfg(target_has_atomic = "64")]
unsafe impl crate::raw::OwnerLiveness for ProcessLiveness {
    #[inline]
    fn current() -> core::num::NonZeroU64 {
        let (tid, start) = current_thread();
        let id = u64::from(tid) | (start & 0xFFFF_FFFF) << 32;
        // A tid is never 0.
        core::num::NonZeroU64::new(id).unwrap_or(core::num::NonZeroU64::MIN)
    }

    fn is_dead(owner: core::num::NonZeroU64) -> bool {
        let tid = owner.get() as u32;
        let start = owner.get() >> 32;
        if start == 0 {
            // The owner could not read its own start time (no /proc when it locked): nothing
            // here could tell it from a thread that reused its id, so it is never declared
            // dead (the lock then behaves as a plain mutex).
            return false;
        }
        match thread_state(tid) {
            ThreadState::Dead => true,
            ThreadState::Alive { start: now } => now & 0xFFFF_FFFF != start,
            ThreadState::Unknown => false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_state_and_start_time() {
        let line =
            b"1234 (a) b (c)) S 1 1234 1234 0 -1 4194560 100 0 0 0 1 2 0 0 20 0 1 0 98765 1000 200";
        assert_eq!(parse_stat(line), ThreadState::Alive { start: 98765 });
        let zombie = b"1234 (x) Z 1 1234 1234 0 -1 4194560 100 0 0 0 1 2 0 0 20 0 1 0 98765 0 0";
        assert_eq!(parse_stat(zombie), ThreadState::Dead);
        assert_eq!(parse_stat(b"garbage"), ThreadState::Unknown);
    }

    #[test]
    #[cfg_attr(miri, ignore = "reads /proc")]
    fn this_thread_is_alive_and_a_finished_one_is_not() {
        let (tid, start) = current_thread();
        assert_eq!(thread_state(tid), ThreadState::Alive { start });
        let other = std::thread::spawn(current_thread).join().unwrap();
        assert_ne!(other.0, tid);
        // A joined thread is gone, once the kernel has finished its exit (`join` may return
        // a moment before). Its id could be reused by then, but only by a thread started
        // later, which `Alive` with a later start tells apart. While it exits, `Unknown` is a
        // correct answer too (the entry vanishes between the open and the read, or the id is
        // taken by a new thread between the missing entry and `kill`; one of them failed a
        // gate run, with this binary's other tests starting threads beside it), so only a
        // state that lasts fails the test; this thread's own entry stays readable throughout.
        let until = std::time::Instant::now() + std::time::Duration::from_secs(5);
        loop {
            let state = thread_state(other.0);
            match state {
                ThreadState::Dead => break,
                ThreadState::Alive { start } if start != other.1 => break,
                ThreadState::Unknown | ThreadState::Alive { .. } => {
                    assert_eq!(
                        thread_state(tid),
                        ThreadState::Alive { start },
                        "/proc unreadable"
                    );
                    assert!(
                        std::time::Instant::now() < until,
                        "a joined thread still {state:?}"
                    );
                    std::thread::yield_now();
                }
            }
        }
    }
}
