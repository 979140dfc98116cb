//! Reader-writer lock benches: `baresync::RwLock` next to `std::sync::RwLock`,
//! `parking_lot::RwLock` and `spin::RwLock`, in one run.
//!
//! - `read/IMPL/1`, `write/IMPL/1`: one thread, uncontended read (or write) lock, touch four
//!   words, unlock (issue 13's target: the read within 1.1× of `spin::RwLock`'s).
//! - `mix R% reads/IMPL/T`: T threads pinned round-robin to the cores share the operations, a
//!   per-thread xorshift choosing a read with probability R %; the time is per operation
//!   (lower is better), for 100, 99 and 90 % reads and a write-heavy 50 %.
//!
//! Run: `cargo bench --bench rwlock`. Numbers for the docs come from `host-runner bench`.

// criterion_group! generates an undocumented public function.
#![allow(missing_docs)]

mod common;

use baresync::{Futex, RwLock, Spin, Yield};
use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion};
use std::cell::Cell;
use std::hint::black_box;
use std::time::Duration;

/// A reader-writer lock around four words.
trait Rw: Send + Sync + 'static {
    const NAME: &'static str;
    fn create() -> Self;
    fn read(&self) -> u64;
    fn write(&self);
}

macro_rules! rw {
    ($ty:ty, $name:expr, $new:expr) => {
        impl Rw for $ty {
            const NAME: &'static str = $name;
            fn create() -> Self {
                $new
            }
            #[inline]
            fn read(&self) -> u64 {
                self.read().iter().sum()
            }
            #[inline]
            fn write(&self) {
                for w in self.write().iter_mut() {
                    *w += 1;
                }
            }
        }
    };
}

rw!(RwLock<[u64; 4], Spin>, "baresync::RwLock<Spin>", RwLock::with_wait([0; 4]));
rw!(RwLock<[u64; 4], Yield>, "baresync::RwLock<Yield>", RwLock::with_wait([0; 4]));
rw!(RwLock<[u64; 4], Futex>, "baresync::RwLock<Futex>", RwLock::with_wait([0; 4]));
rw!(
    parking_lot::RwLock<[u64; 4]>,
    "parking_lot::RwLock",
    parking_lot::RwLock::new([0; 4])
);
rw!(
    spin::RwLock<[u64; 4]>,
    "spin::RwLock",
    spin::RwLock::new([0; 4])
);

struct StdRw(std::sync::RwLock<[u64; 4]>);

impl Rw for StdRw {
    const NAME: &'static str = "std::sync::RwLock";
    fn create() -> Self {
        StdRw(std::sync::RwLock::new([0; 4]))
    }
    #[inline]
    fn read(&self) -> u64 {
        self.0.read().unwrap().iter().sum()
    }
    #[inline]
    fn write(&self) {
        for w in self.0.write().unwrap().iter_mut() {
            *w += 1;
        }
    }
}

fn uncontended_one<L: Rw>(c: &mut Criterion) {
    let l = L::create();
    c.bench_function(&format!("read/{}/1", L::NAME), |b| {
        b.iter(|| black_box(black_box(&l).read()))
    });
    c.bench_function(&format!("write/{}/1", L::NAME), |b| {
        b.iter(|| black_box(&l).write())
    });
}

fn uncontended(c: &mut Criterion) {
    uncontended_one::<RwLock<[u64; 4], Spin>>(c);
    uncontended_one::<RwLock<[u64; 4], Futex>>(c);
    uncontended_one::<parking_lot::RwLock<[u64; 4]>>(c);
    uncontended_one::<spin::RwLock<[u64; 4]>>(c);
    uncontended_one::<StdRw>(c);
}

std::thread_local! {
    static RNG: Cell<u64> = const { Cell::new(0) };
}

/// A per-thread xorshift draw in 0..1000.
fn draw() -> u64 {
    RNG.with(|r| {
        let mut x = r.get();
        if x == 0 {
            x = 0x9E37_79B9_7F4A_7C15 ^ (r as *const _ as u64);
        }
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        r.set(x);
        x % 1000
    })
}

fn mix_one<L: Rw>(c: &mut Criterion, reads_per_mille: u64, threads: usize) {
    let mut group = c.benchmark_group(format!("mix {}% reads", reads_per_mille / 10));
    group.bench_with_input(BenchmarkId::new(L::NAME, threads), &threads, |b, &t| {
        b.iter_custom(|iters| {
            common::pinned_share(t, iters, L::create(), move |l: &L| {
                if draw() < reads_per_mille {
                    black_box(l.read());
                } else {
                    l.write();
                }
            })
        })
    });
    group.finish();
}

fn mixes(c: &mut Criterion) {
    let cores = common::cores().len().max(1);
    for reads in [1000, 990, 900, 500] {
        for threads in [1, cores, 4 * cores] {
            mix_one::<RwLock<[u64; 4], Futex>>(c, reads, threads);
            mix_one::<RwLock<[u64; 4], Spin>>(c, reads, threads);
            mix_one::<parking_lot::RwLock<[u64; 4]>>(c, reads, threads);
            mix_one::<spin::RwLock<[u64; 4]>>(c, reads, threads);
            mix_one::<StdRw>(c, reads, threads);
        }
    }
}

criterion_group! {
    name = rwlock;
    config = Criterion::default()
        .sample_size(20)
        .warm_up_time(Duration::from_millis(300))
        .measurement_time(Duration::from_secs(1));
    targets = uncontended, mixes
}
criterion_main!(rwlock);
