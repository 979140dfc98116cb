//! Forked processes sharing an anonymous `MAP_SHARED` mapping, for the process tests.
#![allow(dead_code)]

use baresync::shared::{self, Shareable};

/// An anonymous shared mapping: zeroed by the kernel, inherited by forked children.
pub struct Mapping {
    ptr: *mut u8,
    len: usize,
}

impl Mapping {
    pub fn new(len: usize) -> Mapping {
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

    pub fn at<T: Shareable>(&self, offset: usize) -> &T {
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
pub fn fork(child: impl FnOnce() -> bool) -> libc::pid_t {
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

pub fn join(pid: libc::pid_t) -> bool {
    join_within(pid, std::time::Duration::from_secs(60)).expect("child hung")
}

/// Waits for the child up to `limit` (a hang turned into a failure, not a timing check):
/// `None` (and the child killed) if it has not exited by then.
pub fn join_within(pid: libc::pid_t, limit: std::time::Duration) -> Option<bool> {
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
