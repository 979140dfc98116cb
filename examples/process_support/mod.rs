//! A small `multiprocessing.Process` for the process examples and tests: named forked
//! children sharing one anonymous `MAP_SHARED` mapping with the parent (Linux).
//!
//! One module for both: the examples include it as `#[path = "process_support/mod.rs"]`, the
//! tests as `#[path = "../examples/process_support/mod.rs"]`. Each uses part of it.
#![allow(dead_code)]

use baresync::shared::{self, Shareable};
use std::time::Duration;

/// Shared memory the children inherit: zeroed by the kernel, so shareable primitives in it
/// start as new.
pub struct Mapping {
    ptr: *mut u8,
    len: usize,
}

impl Mapping {
    pub fn new(len: usize) -> Mapping {
        // SAFETY: a fresh anonymous mapping.
        let ptr = unsafe {
            libc::mmap(
                std::ptr::null_mut(),
                len,
                libc::PROT_READ | libc::PROT_WRITE,
                libc::MAP_SHARED | libc::MAP_ANONYMOUS,
                -1,
                0,
            )
        };
        assert_ne!(ptr, libc::MAP_FAILED, "mmap failed");
        Mapping {
            ptr: ptr.cast(),
            len,
        }
    }

    /// The shared `T` at the start of the mapping (all in the examples is one `repr(C)` arena).
    pub fn arena<T: Shareable>(&self) -> &T {
        assert!(std::mem::size_of::<T>() <= self.len);
        // SAFETY: page-aligned, zeroed, lives as long as `self`, used only through `T`.
        unsafe { shared::attach(self.ptr) }
    }

    /// The shared `T` at `offset` bytes into the mapping (the tests place several).
    pub fn at<T: Shareable>(&self, offset: usize) -> &T {
        assert!(offset + core::mem::size_of::<T>() <= self.len);
        // SAFETY: inside the mapping, which lives as long as `self`; zeroed or a `T` written
        // by the caller's code, touched only through `T`.
        unsafe { shared::attach(self.ptr.add(offset)) }
    }
}

/// A named child process, as Python's `multiprocessing.Process`.
pub struct Process {
    pub name: String,
    pid: libc::pid_t,
    exit: Option<i32>,
}

impl Process {
    /// Forks a child running `f`; it exits with status 0 when `f` returns (1 if it panics).
    pub fn start(name: &str, f: impl FnOnce()) -> Process {
        // SAFETY: the child only runs `f` (atomics and primitives on the shared mapping,
        // printing) and leaves with `_exit`, skipping the parent's destructors.
        match unsafe { libc::fork() } {
            -1 => panic!("fork failed"),
            0 => {
                let ok = std::panic::catch_unwind(std::panic::AssertUnwindSafe(f)).is_ok();
                use std::io::Write;
                let _ = std::io::stdout().flush();
                // SAFETY: ends the child.
                unsafe { libc::_exit(if ok { 0 } else { 1 }) }
            }
            pid => Process {
                name: name.into(),
                pid,
                exit: None,
            },
        }
    }

    /// Whether the child is still running (Python's `is_alive`).
    pub fn is_alive(&mut self) -> bool {
        if self.exit.is_some() {
            return false;
        }
        let mut status = 0;
        // SAFETY: polls our own child.
        match unsafe { libc::waitpid(self.pid, &mut status, libc::WNOHANG) } {
            0 => true,
            _ => {
                self.exit = Some(decode(status));
                false
            }
        }
    }

    /// Waits for the child; its exit code (negative: killed by that signal), as Python's
    /// `exitcode`. A child still running after a minute is a hang: it is killed and this
    /// panics.
    pub fn join(&mut self) -> i32 {
        for _ in 0..60_000 {
            if !self.is_alive() {
                return self.exit.unwrap();
            }
            std::thread::sleep(Duration::from_millis(1));
        }
        self.terminate();
        panic!("{} hung", self.name);
    }

    /// Kills the child with SIGKILL (Python's `terminate` sends SIGTERM; SIGKILL cannot be
    /// caught, which is the point of the robust-lock example) and reaps it.
    pub fn terminate(&mut self) {
        if self.exit.is_none() {
            let mut status = 0;
            // SAFETY: our own child, not yet reaped.
            unsafe {
                libc::kill(self.pid, libc::SIGKILL);
                libc::waitpid(self.pid, &mut status, 0);
            }
            self.exit = Some(decode(status));
        }
    }
}

fn decode(status: i32) -> i32 {
    if libc::WIFEXITED(status) {
        libc::WEXITSTATUS(status)
    } else {
        -libc::WTERMSIG(status)
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

impl Drop for Mapping {
    fn drop(&mut self) {
        // SAFETY: the mapping made in `new`, no reference into it outlives `self`.
        unsafe { libc::munmap(self.ptr.cast(), self.len) };
    }
}
