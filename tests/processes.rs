//! Primitives shared by forked processes through one `MAP_SHARED` mapping.
#![cfg(all(target_os = "linux", feature = "std"))]

use baresync::shared::{self, Shareable};
use baresync::{Mutex, ProcessThreadId, ReentrantLock, Semaphore, SharedFutex, ThreadIdentity};

/// An anonymous shared mapping: zeroed by the kernel, inherited by forked children.
struct Mapping {
    ptr: *mut u8,
    len: usize,
}

impl Mapping {
    fn new(len: usize) -> Mapping {
        // SAFETY: a fresh anonymous mapping; no existing memory is touched.
        let ptr = unsafe {
            libc::mmap(
                core::ptr::null_mut(),
                len,
                libc::PROT_READ | libc::PROT_WRITE,
                libc::MAP_SHARED | libc::MAP_ANONYMOUS,
                -1,
                0,
            )
        };
        assert_ne!(ptr, libc::MAP_FAILED);
        Mapping {
            ptr: ptr.cast(),
            len,
        }
    }

    fn at<T: Shareable>(&self, offset: usize) -> &T {
        assert!(offset + core::mem::size_of::<T>() <= self.len);
        // SAFETY: inside the mapping, which lives as long as `self`; zeroed or a `T` written
        // by this test's code, touched only through `T`.
        unsafe { shared::attach(self.ptr.add(offset)) }
    }
}

impl Drop for Mapping {
    fn drop(&mut self) {
        // SAFETY: the mapping made in `new`, no reference into it outlives `self`.
        unsafe { libc::munmap(self.ptr.cast(), self.len) };
    }
}

/// Runs `child` in a forked process, which exits with status 0 if it returns `true`, 1
/// otherwise (or if it panics). Returns the child's pid.
fn fork(child: impl FnOnce() -> bool) -> libc::pid_t {
    // SAFETY: the child only runs `child` (atomics, futex calls through rustix, no locks of
    // the test harness) and leaves with `_exit`, skipping the parent's destructors.
    match unsafe { libc::fork() } {
        -1 => panic!("fork failed"),
        0 => {
            let ok = std::panic::catch_unwind(std::panic::AssertUnwindSafe(child)).unwrap_or(false);
            // SAFETY: ends this (child) process.
            unsafe { libc::_exit(if ok { 0 } else { 1 }) }
        }
        pid => pid,
    }
}

fn join(pid: libc::pid_t) -> bool {
    join_within(pid, std::time::Duration::from_secs(60)).expect("child hung")
}

/// Waits for the child up to `limit` (a hang turned into a failure, not a timing check):
/// `None` (and the child killed) if it has not exited by then.
fn join_within(pid: libc::pid_t, limit: std::time::Duration) -> Option<bool> {
    let until = std::time::Instant::now() + limit;
    loop {
        let mut status = 0;
        // SAFETY: polls our own child.
        match unsafe { libc::waitpid(pid, &mut status, libc::WNOHANG) } {
            0 if std::time::Instant::now() < until => {
                std::thread::sleep(std::time::Duration::from_millis(5))
            }
            0 => {
                // SAFETY: our own child, not yet reaped.
                unsafe {
                    libc::kill(pid, libc::SIGKILL);
                    libc::waitpid(pid, &mut status, 0);
                }
                return None;
            }
            p => {
                assert_eq!(p, pid);
                return Some(libc::WIFEXITED(status) && libc::WEXITSTATUS(status) == 0);
            }
        }
    }
}

const N: u64 = 20_000;

#[test]
#[cfg_attr(miri, ignore = "fork")]
fn shared_futex_mutex_excludes_across_processes() {
    let map = Mapping::new(4096);
    let m: &Mutex<u64, SharedFutex> = map.at(0);
    let children: Vec<_> = (0..2)
        .map(|_| {
            fork(|| {
                for _ in 0..N {
                    // A read-modify-write that is not atomic: lost updates if the lock failed.
                    let mut g = m.lock();
                    let v = *g;
                    std::hint::black_box(());
                    *g = v + 1;
                }
                true
            })
        })
        .collect();
    for _ in 0..N {
        *m.lock() += 1;
    }
    for c in children {
        assert!(join(c));
    }
    assert_eq!(*m.lock(), 3 * N);
}

#[test]
#[cfg_attr(miri, ignore = "fork")]
fn a_sleeper_in_another_process_is_woken() {
    let map = Mapping::new(4096);
    let s: &Semaphore<SharedFutex> = map.at(0);
    // The child blocks (sleeps in the kernel without a timeout: no permits) until the
    // parent releases; a wake that does not cross processes leaves it asleep for ever.
    let child = fork(|| {
        drop(s.acquire());
        true
    });
    std::thread::sleep(std::time::Duration::from_millis(20));
    s.release(1);
    let woken = join_within(child, std::time::Duration::from_secs(5));
    assert_eq!(
        woken,
        Some(true),
        "the child was not woken by the parent's release"
    );
}

#[test]
#[cfg_attr(miri, ignore = "fork")]
fn process_thread_ids_differ_across_processes_and_reentrant_lock_excludes() {
    let map = Mapping::new(4096);
    let ids: &[baresync::sync::atomic::AtomicUsize; 2] = map.at(0);
    let lock: &ReentrantLock<u32, ProcessThreadId, SharedFutex> = map.at(64);
    let held = lock.lock();
    let child = fork(|| {
        ids[0].store(
            ProcessThreadId::current().get(),
            core::sync::atomic::Ordering::SeqCst,
        );
        // Not the owner: its id differs from the parent's, so no reentry.
        lock.try_lock().is_none()
    });
    assert!(join(child));
    let child_id = ids[0].load(core::sync::atomic::Ordering::SeqCst);
    assert_ne!(child_id, 0);
    assert_ne!(child_id, ProcessThreadId::current().get());
    drop(held);
}
