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
    pub use loom::sync::atomic::{
        fence, AtomicBool, AtomicPtr, AtomicU32, AtomicU64, AtomicU8, AtomicUsize, Ordering,
    };

    #[cfg(all(
        not(baresync_loom),
        feature = "portable-atomic",
        target_has_atomic = "64"
    ))]
    pub use portable_atomic::AtomicU64;
    #[cfg(all(not(baresync_loom), feature = "portable-atomic"))]
    pub use portable_atomic::{
        fence, AtomicBool, AtomicPtr, AtomicU32, AtomicU8, AtomicUsize, Ordering,
    };

    #[cfg(all(
        not(baresync_loom),
        not(feature = "portable-atomic"),
        target_has_atomic = "64"
    ))]
    pub use core::sync::atomic::AtomicU64;
    #[cfg(all(not(baresync_loom), not(feature = "portable-atomic")))]
    pub use core::sync::atomic::{
        fence, AtomicBool, AtomicPtr, AtomicU32, AtomicU8, AtomicUsize, Ordering,
    };
}

/// `UnsafeCell` with closure access (`with`, `with_mut`), so that under
/// `--cfg baresync_loom` loom checks every access to the data it holds; `core`'s cell otherwise.
pub(crate) mod cell {
    #[cfg(baresync_loom)]
    pub(crate) use loom::cell::UnsafeCell;

    /// `core::cell::UnsafeCell` with loom's closure-based interface.
    #[cfg(not(baresync_loom))]
    #[derive(Debug, Default)]
    #[repr(transparent)]
    pub(crate) struct UnsafeCell<T: ?Sized>(core::cell::UnsafeCell<T>);

    #[cfg(not(baresync_loom))]
    impl<T> UnsafeCell<T> {
        #[inline(always)]
        pub(crate) const fn new(value: T) -> Self {
            UnsafeCell(core::cell::UnsafeCell::new(value))
        }
    }

    #[cfg(not(baresync_loom))]
    impl<T: ?Sized> UnsafeCell<T> {
        /// Calls `f` with a shared pointer to the contents.
        #[inline(always)]
        pub(crate) fn with<R>(&self, f: impl FnOnce(*const T) -> R) -> R {
            f(self.0.get())
        }

        /// Calls `f` with a mutable pointer to the contents.
        #[inline(always)]
        pub(crate) fn with_mut<R>(&self, f: impl FnOnce(*mut T) -> R) -> R {
            f(self.0.get())
        }
    }
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

/// Runs `f` under loom, for the in-file `loom_*` models (counters driven past their wrap), with
/// a preemption bound of 2 unless `LOOM_MAX_PREEMPTIONS` sets one.
#[cfg(all(test, baresync_loom))]
pub(crate) fn loom_model(f: impl Fn() + Sync + Send + 'static) {
    let mut builder = loom::model::Builder::new();
    if builder.preemption_bound.is_none() {
        builder.preemption_bound = Some(2);
    }
    builder.check(f);
}
