//! # baresync
//!
//! Synchronization primitives built from atomics, for firmware, kernels and any code that
//! cannot lean on an operating system.
//!
//! | type | what it is (Python / std name) |
//! |---|---|
//! | [`SpinLock`], [`TicketLock`], [`FairLock`], [`McsLock`], [`Mutex`] (all [`Lock<R, T>`](Lock)) | mutual exclusion with a guard: test-and-test-and-set, FIFO ticket, bounded-bypass fair, MCS queue, sleeping three-state (`Lock`, `std::sync::Mutex`) |
//! | [`RwLock`] (a [`ReadWriteLock<R, T>`](ReadWriteLock)) | many readers or one writer, writer-preferring, with upgradable reads (`RwLock`) |
//! | [`SpinRwLock`] (a [`ReadWriteLock<R, T>`](ReadWriteLock)) | the lean spinning reader-writer lock: writer-preferring, unfair, never sleeps (`spin::RwLock`) |
//! | [`ReentrantLock`] | a lock its owner may take again (`RLock`, `ReentrantLock`) |
//! | [`Semaphore`], [`BoundedSemaphore`] | counting semaphores with RAII permits |
//! | [`Event`] | a manual-reset flag that releases every waiter |
//! | [`Condvar`] | a condition variable over any lock guard (`Condition`) |
//! | [`Once`], [`OnceCell`], [`Lazy`] | one-time initialization of `static`s: exactly one initializer runs, a panicking one lets the next caller retry (`std::sync::Once`, `OnceLock`, `LazyLock`) |
//! | [`Barrier`], [`SpinBarrier`] | a reusable barrier that elects a leader and can be aborted; a lean spinning one without abort or timeouts |
//! | [`Queue`], [`JoinableQueue`] | a bounded MPMC queue in a fixed array, closable, with task accounting |
//! | `IrqLock<R, T>`, `IrqSpinLock<T>` (feature `critical-section`) | a lock that also masks interrupts while held (Linux `spin_lock_irqsave`), used through a closure |
//! | [`CachePadded`] | one value per cache line |
//!
//! `docs/README.md` in the repository helps choose between them from measured numbers.
//!
//! - `no_std`, no heap; every constructor is `const fn`, so every primitive can live in a
//!   `static`.
//! - Waiting is pluggable ([`Wait`]): spin ([`Spin`]), yield or sleep in the OS (`Yield`,
//!   `Futex`, feature `std`), or your RTOS's own blocking primitive. A primitive whose backend
//!   is not named sleeps with `std` and spins without ([`wait::DefaultWait`]); a FIFO lock
//!   yields with `std` ([`wait::FairDefault`]).
//! - Every blocking operation has a `try_*` form that never waits and an `*_until(deadline)`
//!   form; deadlines ([`Deadline`]) need no clock. A timed wait that returns no value returns a
//!   [`WaitTimeoutResult`] (`.timed_out()`, as std's condition variable).
//! - `Type::new(..)` builds the default backend, so `let m = Mutex::new(5);` needs no
//!   annotation; `Type::with_wait(..)` builds the backend the type names
//!   (`static HOT: Mutex<u64, Spin> = Mutex::with_wait(0);`), `Lock::with_raw` any raw lock, and
//!   `ReentrantLock::with_identity` any thread identity.
//! - Every atomic ordering is justified in the code and model-checked with loom.
//!
//! ```
//! use baresync::SpinLock;
//!
//! static EVENTS: SpinLock<u32> = SpinLock::new(0);
//!
//! fn on_event() {
//!     *EVENTS.lock() += 1;
//! }
//!
//! on_event();
//! assert_eq!(*EVENTS.lock(), 1);
//! ```
//!
//! ## Features
//!
//! | feature | default | what it adds |
//! |---|---|---|
//! | `std` | yes | `Futex` and `Yield` wait backends, `*_timeout(Duration)` methods |
//! | `portable-atomic` | no | atomics from `portable-atomic` for targets without compare-and-swap |
//! | `critical-section` | no | `IrqLock<R, T>`/`IrqSpinLock<T>` (and the raw `IrqSafe<R>`): locks that also hold a `critical_section` |
//! | `lock_api` | no | `lock_api::RawMutex` for every raw lock |
//! | `lockdep` | no | lock-order checking: reports a lock-order cycle (a possible deadlock) the first time it is seen, with where each lock was taken (module `lockdep`) |
//!
//! ## No poisoning
//!
//! A panic while a guard is held releases the lock as the guard is dropped during unwinding;
//! the data is left as the panicking code left it. There is no poison flag to check.
#![no_std]
#![cfg_attr(docsrs, feature(doc_cfg))]
#![deny(unsafe_op_in_unsafe_fn)]
#![warn(missing_docs)]

#[cfg(any(test, feature = "std"))]
extern crate std;

// Without compare-and-swap (thumbv6m, riscv32i, msp430) `core`'s atomics have no
// read-modify-write methods; the `portable-atomic` feature supplies them. One clear error
// instead of dozens from inside the crate (`no method named fetch_or found for AtomicU32`).
#[cfg(not(any(
    feature = "portable-atomic",
    baresync_loom,
    all(
        target_has_atomic = "8",
        target_has_atomic = "32",
        target_has_atomic = "ptr"
    )
)))]
compile_error!(
    "baresync: this target has no compare-and-swap; enable the feature `portable-atomic` \
     (and give portable-atomic a way to provide it: its `critical-section` or \
     `unsafe-assume-single-core` feature). See the README, section \"Targets without \
     compare-and-swap\"."
);

/// Compiles the crate's items only where atomics with compare-and-swap exist (natively, from
/// `portable-atomic`, or from loom), so that the `compile_error!` above is the only error.
macro_rules! with_compare_and_swap {
    ($($item:item)*) => {
        $(
            #[cfg(any(
                feature = "portable-atomic",
                baresync_loom,
                all(target_has_atomic = "8", target_has_atomic = "32", target_has_atomic = "ptr")
            ))]
            $item
        )*
    };
}

/// Runs its statements only with feature `lockdep` (the lock-order checker's hooks), so that
/// without the feature they compile to nothing.
macro_rules! lockdep_hook {
    ($($body:tt)*) => {
        #[cfg(all(feature = "lockdep", not(baresync_loom)))]
        {
            $($body)*
        }
    };
}

with_compare_and_swap! {
    pub mod sync;

    #[cfg(all(feature = "lockdep", not(baresync_loom)))]
    #[cfg_attr(docsrs, doc(cfg(feature = "lockdep")))]
    pub mod lockdep;

    pub mod barrier;
    pub mod cache_padded;
    pub mod condvar;
    pub mod deadline;
    pub mod event;
    #[cfg(feature = "critical-section")]
    #[cfg_attr(docsrs, doc(cfg(feature = "critical-section")))]
    pub mod irq_safe;
    pub mod lock;
    pub mod once;
    #[cfg(all(
        feature = "std",
        not(baresync_loom),
        any(target_os = "linux", target_os = "android")
    ))]
    #[cfg_attr(docsrs, doc(cfg(all(feature = "std", target_os = "linux"))))]
    pub mod process;
    pub mod queue;
    pub mod raw;
    pub mod reentrant;
    #[cfg(all(
        feature = "std",
        not(baresync_loom),
        target_has_atomic = "64",
        any(target_os = "linux", target_os = "android")
    ))]
    #[cfg_attr(docsrs, doc(cfg(all(feature = "std", target_os = "linux"))))]
    pub mod robust;
    pub mod rwlock;
    pub mod semaphore;
    #[cfg(not(baresync_loom))]
    pub mod shared;
    pub mod spin_barrier;
    pub mod wait;

    pub use cache_padded::CachePadded;
    pub use deadline::{Deadline, WaitTimeoutResult};
    pub use lock::{FairLock, Lock, LockGuard, McsLock, Mutex, SpinLock, TicketLock};
    pub use raw::{
        RawFairLock, RawLock, RawMcsLock, RawMutex, RawRwLock, RawRwMutex, RawSpinLock,
        RawSpinRwLock, RawTicketLock,
    };
    pub use wait::{Spin, Wait};

    pub use barrier::{Barrier, BarrierError, BarrierWaitResult};
    pub use condvar::{Condvar, CondvarGuard};
    pub use event::Event;
    pub use once::{Lazy, Once, OnceCell};
    pub use queue::{
        Closed, Drain, GetError, JoinableQueue, PushError, PutError, Queue, TaskDoneError, TryIter,
        TryPopError, TryPushError,
    };
    pub use reentrant::{ReentrantLock, ReentrantLockGuard, ThreadIdentity};
    pub use rwlock::{
        ReadWriteLock, RwLock, RwLockReadGuard, RwLockUpgradableReadGuard, RwLockWriteGuard,
        SpinRwLock,
    };
    pub use semaphore::{BoundExceeded, BoundedSemaphore, Permit, Semaphore};
    pub use spin_barrier::SpinBarrier;

    #[cfg(feature = "critical-section")]
    pub use irq_safe::{IrqLock, IrqLockGuard, IrqSafe, IrqSpinLock};
    #[cfg(all(feature = "std", not(baresync_loom)))]
    pub use reentrant::StdThreadId;
    #[cfg(all(feature = "std", not(baresync_loom)))]
    pub use wait::{Futex, Yield};
    #[cfg(all(
        feature = "std",
        not(baresync_loom),
        target_has_atomic = "64",
        any(target_os = "linux", target_os = "android")
    ))]
    pub use {
        process::ProcessLiveness,
        robust::{RobustError, RobustMutex, RobustMutexGuard},
    };
    #[cfg(all(
        feature = "std",
        not(baresync_loom),
        any(target_os = "linux", target_os = "android")
    ))]
    pub use {process::ProcessThreadId, wait::SharedFutex};
}
