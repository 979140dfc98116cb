//! The physical floor: core-to-core cache-line latency, by ping-pong.
//!
//! Two threads pinned to CPUs `a` and `b` bounce one cache line: `a` stores an odd number,
//! `b` answers with the next even one, `a` waits for it and goes on. Half a round trip is the
//! one-way latency, the least any hand-off between those cores can cost. The window is cut in
//! five slices and the median slice is kept, so one preemption does not move the floor.

use super::{median, PairLatency};
use crate::pin::pin_current;
use baresync::CachePadded;
use std::sync::atomic::{AtomicU64, Ordering::Acquire, Ordering::Release};
use std::time::{Duration, Instant};

const SLICES: usize = 5;
const DONE: u64 = u64::MAX;

/// One-way latency between CPUs `a` and `b` in ns, measured for about `window`.
pub fn pair_ns(a: usize, b: usize, window: Duration) -> Option<f64> {
    let line = CachePadded::new(AtomicU64::new(0));
    let start = std::sync::Barrier::new(2);
    let slice = window / SLICES as u32;
    let per_slice = std::thread::scope(|s| {
        let (line, start) = (&*line, &start);
        s.spawn(move || {
            pin_current(b);
            start.wait();
            loop {
                // ORDERING: Acquire/Release make this a message-passing ping-pong, as a lock
                // hand-off is; the cost measured is the line's transfer.
                let v = line.load(Acquire);
                if v == DONE {
                    break;
                }
                if v & 1 == 1 {
                    line.store(v + 1, Release);
                } else {
                    std::hint::spin_loop();
                }
            }
        });
        // The pinger is a thread of its own too: pinning the caller would pin it for good.
        let pinger = s.spawn(move || {
            pin_current(a);
            start.wait();
            let mut x = 1u64;
            let mut out = Vec::with_capacity(SLICES);
            for _ in 0..SLICES {
                let t0 = Instant::now();
                let mut trips = 0u64;
                loop {
                    for _ in 0..64 {
                        line.store(x, Release);
                        while line.load(Acquire) != x + 1 {
                            std::hint::spin_loop();
                        }
                        x += 2;
                    }
                    trips += 64;
                    if t0.elapsed() >= slice {
                        break;
                    }
                }
                out.push(t0.elapsed().as_nanos() as f64 / (2 * trips) as f64);
            }
            line.store(DONE, Release);
            out
        });
        pinger.join().unwrap_or_default()
    });
    median(&per_slice)
}

/// Every pair of `cpus` (none with fewer than two).
pub fn all_pairs(cpus: &[usize], window: Duration) -> Vec<PairLatency> {
    let mut v = Vec::new();
    for (i, &a) in cpus.iter().enumerate() {
        for &b in &cpus[i + 1..] {
            if let Some(ns) = pair_ns(a, b, window) {
                v.push(PairLatency { a, b, ns });
            }
        }
    }
    v
}

/// The floor checked before each round: the first two CPUs of the run.
pub fn round_floor(env: &super::Env, window: Duration) -> Option<f64> {
    if env.cpus.len() < 2 {
        return None;
    }
    pair_ns(env.cpus[0], env.cpus[1], window)
}
