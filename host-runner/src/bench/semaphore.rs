//! Semaphores: `Semaphore<W>` and `BoundedSemaphore<Futex>` next to a counting semaphore
//! built from `std::sync::Mutex` + `Condvar` (the reference; std has none of its own).
//!
//! The reference is written as a competent user would: it counts its waiters under the mutex
//! and calls `notify_one` only when one is counted, so a release nobody waits for costs a
//! lock + unlock and no futex wake system call.
//!
//! - `uncontended`: one thread, acquire + release (RAII permit dropped), ns per pair.
//! - `contended`: one thread per core on a single permit, and 4× cores threads on one permit
//!   per core; ops/s and fairness.

use super::{candidates, run_window, Env, Experiment, Group, Sample, Unit};
use baresync::CachePadded;
use baresync::{BoundedSemaphore, Futex, Semaphore, Spin, Yield};
use std::sync::atomic::Ordering::Relaxed;

/// A semaphore, whatever it is built from.
pub trait BenchSem: Send + Sync + 'static {
    /// A semaphore with `permits` permits.
    fn create(permits: u32) -> Self;
    /// Takes a permit (waiting if needed) and gives it back.
    fn acquire_release(&self);
}

impl<W: baresync::Wait + Send + Sync + 'static> BenchSem for Semaphore<W> {
    fn create(permits: u32) -> Self {
        Semaphore::with_wait(permits)
    }
    #[inline]
    fn acquire_release(&self) {
        drop(self.acquire());
    }
}

impl<W: baresync::Wait + Send + Sync + 'static> BenchSem for BoundedSemaphore<W> {
    fn create(permits: u32) -> Self {
        BoundedSemaphore::with_wait(permits)
    }
    #[inline]
    fn acquire_release(&self) {
        drop(self.acquire());
    }
}

/// Permits and waiters of [`StdSemaphore`], under its mutex.
#[derive(Debug)]
struct Counts {
    permits: u32,
    waiters: u32,
}

/// The semaphore a competent user builds from std's mutex and condition variable: waiters
/// count themselves, and a release notifies only when one is counted.
pub struct StdSemaphore {
    state: std::sync::Mutex<Counts>,
    cv: std::sync::Condvar,
}

impl StdSemaphore {
    /// Takes a permit, waiting while there is none.
    pub fn acquire(&self) {
        let unpoison = std::sync::PoisonError::into_inner;
        let mut s = self.state.lock().unwrap_or_else(unpoison);
        while s.permits == 0 {
            s.waiters += 1;
            s = self.cv.wait(s).unwrap_or_else(unpoison);
            s.waiters -= 1;
        }
        s.permits -= 1;
    }

    /// Gives a permit back, waking one waiter if any is counted.
    pub fn release(&self) {
        let unpoison = std::sync::PoisonError::into_inner;
        let mut s = self.state.lock().unwrap_or_else(unpoison);
        s.permits += 1;
        let wake = s.waiters > 0;
        drop(s);
        if wake {
            self.cv.notify_one();
        }
    }
}

impl BenchSem for StdSemaphore {
    fn create(permits: u32) -> Self {
        StdSemaphore {
            state: std::sync::Mutex::new(Counts {
                permits,
                waiters: 0,
            }),
            cv: std::sync::Condvar::new(),
        }
    }
    fn acquire_release(&self) {
        self.acquire();
        self.release();
    }
}

/// The reference of the ratios.
pub const REFERENCE: &str = "std Mutex+Condvar semaphore";

fn uncontended<S: BenchSem>(env: &Env) -> Sample {
    let sem = CachePadded::new(S::create(1));
    let w = run_window(env, 1, |_, stop| {
        let mut n = 0u64;
        while !stop.load(Relaxed) {
            for _ in 0..256 {
                sem.acquire_release();
            }
            n += 256;
        }
        n
    });
    let ops = w.counts[0];
    Sample {
        value: (ops > 0).then(|| w.busy().as_nanos() as f64 / ops as f64),
        ..Sample::default()
    }
}

fn contended<S: BenchSem>(env: &Env, threads: usize, permits: u32) -> Sample {
    let sem = CachePadded::new(S::create(permits));
    let w = run_window(env, threads, |_, stop| {
        let mut n = 0u64;
        while !stop.load(Relaxed) {
            sem.acquire_release();
            n += 1;
        }
        n
    });
    let total: u64 = w.counts.iter().sum();
    Sample {
        value: Some(total as f64 / w.busy().as_secs_f64()),
        counts: w.counts,
        ..Sample::default()
    }
}

/// The candidates, in `dispatch!`'s order.
const CANDIDATES: [(&str, bool); 5] = [
    ("baresync::Semaphore<Spin>", false),
    ("baresync::Semaphore<Yield>", false),
    ("baresync::Semaphore<Futex>", false),
    ("baresync::BoundedSemaphore<Futex>", false),
    (REFERENCE, true),
];

macro_rules! dispatch {
    ($i:expr, $f:ident, $($arg:expr),*) => {
        match $i {
            0 => $f::<Semaphore<Spin>>($($arg),*),
            1 => $f::<Semaphore<Yield>>($($arg),*),
            2 => $f::<Semaphore<Futex>>($($arg),*),
            3 => $f::<BoundedSemaphore<Futex>>($($arg),*),
            _ => $f::<StdSemaphore>($($arg),*),
        }
    };
}

/// The semaphore group for `cores` cores.
pub fn group(cores: usize) -> Group {
    let mut experiments = vec![Experiment {
        case: "uncontended".into(),
        threads: 1,
        unit: Unit::NsPerOp,
        relative_to_floor: false,
        candidates: candidates(&CANDIDATES, move |env, i| dispatch!(i, uncontended, env)),
    }];
    let permits_many = u32::try_from(cores).unwrap_or(u32::MAX);
    for (case, threads, permits) in [
        ("contended, 1 permit", cores.max(2), 1),
        ("contended, 1 permit per core", 4 * cores, permits_many),
    ] {
        experiments.push(Experiment {
            case: case.into(),
            threads,
            unit: Unit::OpsPerSec,
            relative_to_floor: false,
            candidates: candidates(&CANDIDATES, move |env, i| {
                dispatch!(i, contended, env, threads, permits)
            }),
        });
    }
    Group {
        name: "semaphore",
        title: "semaphore acquire + release",
        reference: REFERENCE,
        experiments,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicU32, Ordering::SeqCst};

    /// The reference semaphore admits at most its permits at once, hands every permit back,
    /// and leaves no waiter counted once everyone is through.
    #[test]
    fn std_semaphore_counts_permits_and_waiters() {
        let sem = StdSemaphore::create(2);
        let inside = AtomicU32::new(0);
        let most = AtomicU32::new(0);
        std::thread::scope(|s| {
            for _ in 0..4 {
                s.spawn(|| {
                    for _ in 0..2_000 {
                        sem.acquire();
                        let now = inside.fetch_add(1, SeqCst) + 1;
                        most.fetch_max(now, SeqCst);
                        std::thread::yield_now();
                        inside.fetch_sub(1, SeqCst);
                        sem.release();
                    }
                });
            }
        });
        assert!(most.load(SeqCst) <= 2, "more holders than permits");
        let s = sem.state.lock().unwrap();
        assert_eq!((s.permits, s.waiters), (2, 0));
    }
}
