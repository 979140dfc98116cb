//! One-time initialization benches: reading an initialized cell, next to std and spin, in
//! one run.
//!
//! - `get/IMPL/1`: `OnceCell::get` on an initialized cell (the target: within 1.1× of
//!   `std::sync::OnceLock::get`), next to `spin::Once::get`.
//! - `deref/IMPL/1`: `*lazy` on a forced `Lazy`, next to `std::sync::LazyLock` and
//!   `spin::Lazy`.
//!
//! The cell's address goes through `black_box` on every call, so that no implementation's
//! load is hoisted out of the loop. Run: `cargo bench --bench once`. Numbers for the docs come
//! from `host-runner bench`.

// criterion_group! generates an undocumented public function.
#![allow(missing_docs)]

use baresync::{Futex, Lazy, OnceCell, Spin};
use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion};
use std::hint::black_box;
use std::time::Duration;

fn get(c: &mut Criterion) {
    let mut group = c.benchmark_group("get");
    let futex: OnceCell<u64, Futex> = OnceCell::from(7);
    let spinning: OnceCell<u64, Spin> = OnceCell::from(7);
    let std_cell = std::sync::OnceLock::from(7u64);
    let spin_once = spin::Once::initialized(7u64);
    group.bench_function(BenchmarkId::new("baresync::OnceCell<Futex>", 1), |b| {
        b.iter(|| *black_box(&futex).get().unwrap())
    });
    group.bench_function(BenchmarkId::new("baresync::OnceCell<Spin>", 1), |b| {
        b.iter(|| *black_box(&spinning).get().unwrap())
    });
    group.bench_function(BenchmarkId::new("std::sync::OnceLock", 1), |b| {
        b.iter(|| *black_box(&std_cell).get().unwrap())
    });
    group.bench_function(BenchmarkId::new("spin::Once", 1), |b| {
        b.iter(|| *black_box(&spin_once).get().unwrap())
    });
    group.finish();
}

fn deref(c: &mut Criterion) {
    let mut group = c.benchmark_group("deref");
    let lazy: Lazy<u64> = Lazy::new(|| 7);
    let std_lazy: std::sync::LazyLock<u64> = std::sync::LazyLock::new(|| 7);
    let spin_lazy: spin::Lazy<u64> = spin::Lazy::new(|| 7);
    black_box((*lazy, *std_lazy, *spin_lazy));
    group.bench_function(BenchmarkId::new("baresync::Lazy", 1), |b| {
        b.iter(|| **black_box(&lazy))
    });
    group.bench_function(BenchmarkId::new("std::sync::LazyLock", 1), |b| {
        b.iter(|| **black_box(&std_lazy))
    });
    group.bench_function(BenchmarkId::new("spin::Lazy", 1), |b| {
        b.iter(|| **black_box(&spin_lazy))
    });
    group.finish();
}

criterion_group! {
    name = once;
    config = Criterion::default()
        .sample_size(20)
        .warm_up_time(Duration::from_millis(300))
        .measurement_time(Duration::from_secs(1));
    targets = get, deref
}
criterion_main!(once);
