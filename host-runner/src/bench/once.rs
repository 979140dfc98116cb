//! One-time initialization: reading an initialized `OnceCell` (what every access to a lazily
//! initialized `static` costs) next to `std::sync::OnceLock::get` (the reference) and
//! `spin::Once::get`.
//!
//! - `get after init`: one thread, ns per `get` (each is one Acquire load and a compare for
//!   all three; the cell's address goes through `black_box` every time so that no candidate's
//!   load is hoisted out of the loop).
//! - `get after init, every core`: one thread per core reading the same cell, ops/s (a
//!   read-only cache line shared by every core: it should scale linearly).
//!
//! First-initialization contention (threads racing to initialize fresh cells) is not measured
//! here: it happens once per cell, and building fresh cells per round would dominate the
//! window; the stress scenario exercises it.

use super::{candidates, run_window, Env, Experiment, Group, Sample, Unit};
use baresync::{CachePadded, Futex, OnceCell, Spin};
use std::hint::black_box;
use std::sync::atomic::Ordering::Relaxed;

/// An initialized one-time cell, whatever it is.
pub trait BenchOnce: Send + Sync + 'static {
    /// A cell already holding `value`.
    fn initialized(value: u64) -> Self;
    /// Reads the value (`None` would mean uninitialized).
    fn read(&self) -> Option<&u64>;
}

impl<W: baresync::Wait + Send + Sync + 'static> BenchOnce for OnceCell<u64, W> {
    fn initialized(value: u64) -> Self {
        let c = OnceCell::with_wait();
        let _ = c.set(value);
        c
    }
    #[inline]
    fn read(&self) -> Option<&u64> {
        self.get()
    }
}

impl BenchOnce for std::sync::OnceLock<u64> {
    fn initialized(value: u64) -> Self {
        let c = std::sync::OnceLock::new();
        let _ = c.set(value);
        c
    }
    #[inline]
    fn read(&self) -> Option<&u64> {
        self.get()
    }
}

impl BenchOnce for spin::Once<u64> {
    fn initialized(value: u64) -> Self {
        spin::Once::initialized(value)
    }
    #[inline]
    fn read(&self) -> Option<&u64> {
        self.get()
    }
}

/// The reference of the ratios.
pub const REFERENCE: &str = "std::sync::OnceLock";

/// `threads` threads read the cell for the window; ops/s, or ns per read with one thread.
fn reads<C: BenchOnce>(env: &Env, threads: usize) -> Sample {
    let cell = CachePadded::new(C::initialized(7));
    let w = run_window(env, threads, |_, stop| {
        let mut n = 0u64;
        let mut sum = 0u64;
        while !stop.load(Relaxed) {
            for _ in 0..256 {
                sum = sum.wrapping_add(*black_box(&*cell).read().unwrap_or(&0));
            }
            n += 256;
        }
        black_box(sum);
        n
    });
    let total: u64 = w.counts.iter().sum();
    if threads == 1 {
        Sample {
            value: (total > 0).then(|| w.busy().as_nanos() as f64 / total as f64),
            ..Sample::default()
        }
    } else {
        Sample {
            value: Some(total as f64 / w.busy().as_secs_f64()),
            counts: w.counts,
            ..Sample::default()
        }
    }
}

/// The candidates, in `dispatch!`'s order.
const CANDIDATES: [(&str, bool); 4] = [
    ("baresync::OnceCell<Futex>", false),
    ("baresync::OnceCell<Spin>", false),
    (REFERENCE, true),
    ("spin::Once", true),
];

macro_rules! dispatch {
    ($i:expr, $f:ident, $($arg:expr),*) => {
        match $i {
            0 => $f::<OnceCell<u64, Futex>>($($arg),*),
            1 => $f::<OnceCell<u64, Spin>>($($arg),*),
            2 => $f::<std::sync::OnceLock<u64>>($($arg),*),
            _ => $f::<spin::Once<u64>>($($arg),*),
        }
    };
}

/// The once group for `cores` cores.
pub fn group(cores: usize) -> Group {
    let experiments = [
        ("get after init", 1, Unit::NsPerOp),
        ("get after init, every core", cores.max(2), Unit::OpsPerSec),
    ]
    .into_iter()
    .map(|(case, threads, unit)| Experiment {
        case: case.into(),
        threads,
        unit,
        relative_to_floor: false,
        candidates: candidates(&CANDIDATES, move |env, i| dispatch!(i, reads, env, threads)),
    })
    .collect();
    Group {
        name: "once",
        title: "reading an initialized one-time cell",
        reference: REFERENCE,
        experiments,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every candidate reads back the value it was initialized with.
    #[test]
    fn candidates_hold_their_value() {
        fn check<C: BenchOnce>() {
            assert_eq!(C::initialized(7).read(), Some(&7));
        }
        check::<OnceCell<u64, Futex>>();
        check::<OnceCell<u64, Spin>>();
        check::<std::sync::OnceLock<u64>>();
        check::<spin::Once<u64>>();
    }
}
