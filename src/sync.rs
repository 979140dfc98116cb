//! The one module that names atomics.
//!
//! Every other module imports its atomic types, orderings and spin hint from here, so the
//! whole crate switches implementation in one place:
//!
//! | build | atomics come from |
//! |---|---|
//! | default | `core::sync::atomic` |
//! | feature `portable-atomic` | the [`portable-atomic`](https://docs.rs/portable-atomic) crate, for targets without compare-and-swap (thumbv6m, riscv32i); the final binary picks how CAS is provided (its `critical-section` or `unsafe-assume-single-core` feature) |
//! | `--cfg baresync_loom` | the [`loom`](https://docs.rs/loom) model checker |
//!
//! A [`Wait`](crate::Wait) implementation written outside this crate names the atomic it
//! waits on as `baresync::sync::atomic::AtomicU32`.

/// The atomic types and orderings used throughout the crate.
pub mod atomic {
    #[cfg(baresync_loom)]
    pub use loom::sync::atomic::{AtomicBool, AtomicU32, AtomicU8, AtomicUsize, Ordering};

    #[cfg(all(not(baresync_loom), feature = "portable-atomic"))]
    pub use portable_atomic::{AtomicBool, AtomicU32, AtomicU8, AtomicUsize, Ordering};

    #[cfg(all(not(baresync_loom), not(feature = "portable-atomic")))]
    pub use core::sync::atomic::{AtomicBool, AtomicU32, AtomicU8, AtomicUsize, Ordering};
}

/// Tells the processor (or, under loom, the model checker) that this thread is spinning.
///
/// Under loom a spin loop must yield, or the model checker explores it forever.
#[inline(always)]
pub(crate) fn spin_loop() {
    #[cfg(baresync_loom)]
    loom::thread::yield_now();
    #[cfg(not(baresync_loom))]
    core::hint::spin_loop();
}

/// Declares a `const fn` that loses its `const` under loom, whose atomics cannot be built in
/// a constant.
macro_rules! const_fn {
    ($(#[$attr:meta])* $vis:vis const fn $($rest:tt)*) => {
        #[cfg(not(baresync_loom))]
        $(#[$attr])* $vis const fn $($rest)*
        #[cfg(baresync_loom)]
        $(#[$attr])* $vis fn $($rest)*
    };
}
pub(crate) use const_fn;
