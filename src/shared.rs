//! Primitives shared between address spaces: processes mapping the same memory, cores running
//! separately built images over shared RAM.
//!
//! A type may live in memory that several programs map only if its bytes mean the same thing
//! in each of them. [`Shareable`] marks those types, and the compiler refuses the others:
//!
//! - the layout is fixed (`#[repr(C)]` all the way down), so two builds of the same crate
//!   version for the same target agree on it; [`layout_word`] lets them check;
//! - nothing inside points into one address space (no references, `Box`, function pointers)
//!   or names per-process state (a `StdThreadId` is a counter private to one process, a
//!   private futex is keyed by the address in one process);
//! - every all-zero byte pattern is a valid instance, so a freshly `ftruncate`d file, a new
//!   anonymous `MAP_SHARED` mapping or zeroed SRAM needs no initialization race. For most
//!   types zero **is** `new()`; where a type carries configuration (a [`Barrier`]'s party
//!   count, a [`BoundedSemaphore`]'s bound) zero is valid but unconfigured, and the creator
//!   writes `new(..)` into the mapping before any other program attaches (the attach protocol
//!   in `docs/processes.md`).
//!
//! A primitive that waits is shareable only with a wait backend that works across address
//! spaces ([`SharedWait`]): [`Spin`], `Yield` and `SharedFutex` (Linux futex without the
//! private flag), not `Futex` (whose private futex never wakes another process), so
//! `Mutex<T>` with the default backend is not shareable while `Mutex<T, SharedFutex>` is. A
//! [`ReentrantLock`] is shareable only with an identity unique across processes
//! ([`SharedIdentity`], e.g. `ProcessThreadId`). A [`Queue`] holds `T: Shareable + Copy`:
//! plain data, which no process needs to drop.
//!
//! | shareable | all zero is |
//! |---|---|
//! | `Lock<R, T>` (`SpinLock`, `TicketLock`, `Mutex<T, W>`) with `R`, `T` shareable | `new(T::zeroed)`, unlocked |
//! | [`RawSpinLock`], [`RawTicketLock<W>`], [`RawMutex<W>`], `RawRwMutex<W>` | `new()` |
//! | `RwLock<T, W>` (`ReadWriteLock<R, T>`) with `R`, `T` shareable | unlocked, holding zero |
//! | `ReentrantLock<T, I, W>` | `new(T::zeroed)`, unowned |
//! | [`Semaphore<W>`] | `Semaphore::new(0)` |
//! | [`BoundedSemaphore<W>`] | a semaphore with no permits and bound `MAX_PERMITS`: write `new(n)` first |
//! | [`Event<W>`], [`Condvar<W>`] | `new()` |
//! | [`Barrier<W>`] | a barrier of 0 parties that nobody can complete: write `new(n)` first |
//! | [`Queue<T, N, W>`], [`JoinableQueue<T, N, W>`] | `new()`, empty and open |
//! | integers, floats, `bool`, `char`, arrays, atomics, [`CachePadded<T>`] | zero |
//!
//! `usize`-sized fields (queue positions, the reentrant owner) make 32-bit and 64-bit
//! programs disagree: share only between programs of one pointer width ([`layout_word`]
//! includes it).
//!
//! # Examples
//!
//! ```
//! use baresync::shared::{self, Shareable};
//! use baresync::{Mutex, Queue, Spin};
//!
//! fn fits_in_a_mapping<T: Shareable>() {}
//! fits_in_a_mapping::<Mutex<u64, Spin>>();
//! fits_in_a_mapping::<Queue<[u8; 16], 8, Spin>>();
//!
//! // Zeroed memory is a new, unlocked mutex holding 0.
//! let m: Mutex<u64, Spin> = shared::zeroed();
//! *m.lock() += 1;
//! assert_eq!(*m.lock(), 1);
//! ```

#![cfg_attr(docsrs, doc(cfg(not(baresync_loom))))]

use crate::barrier::Barrier;
use crate::condvar::Condvar;
use crate::event::Event;
use crate::queue::{JoinableQueue, Queue};
use crate::raw::{RawLock, RawMutex, RawSpinLock, RawTicketLock};
use crate::reentrant::{ReentrantLock, ThreadIdentity};
use crate::semaphore::{BoundedSemaphore, Semaphore};
use crate::{CachePadded, Lock, Spin, Wait};
use core::marker::PhantomData;

/// Types whose bytes are valid in memory mapped by several programs at once.
///
/// # Safety
///
/// Implement it only for a type that
/// - has a layout fixed by its definition (`#[repr(C)]`, `#[repr(transparent)]` or a
///   primitive), with every field `Shareable`;
/// - holds no pointer, reference or handle whose meaning belongs to one address space, and no
///   state whose meaning belongs to one process (a per-process counter, a private futex key);
/// - is valid (sound to use through `&Self`, and to drop) when every byte is zero;
/// - keeps its invariants with nothing but its bytes: two programs operating on the same bytes
///   through the same code behave as two threads of one program would.
///
/// # Examples
///
/// ```
/// use baresync::shared::Shareable;
///
/// #[repr(C)]
/// #[derive(Clone, Copy)]
/// struct Reading {
///     sensor: u16,
///     millivolts: i32,
/// }
///
/// // SAFETY: `repr(C)`, plain integers (all zero is a reading of 0 mV from sensor 0).
/// unsafe impl Shareable for Reading {}
///
/// let q: baresync::Queue<Reading, 4, baresync::Spin> = baresync::shared::zeroed();
/// assert!(q.is_empty());
/// q.push(Reading { sensor: 3, millivolts: -12 }).unwrap();
/// assert_eq!(q.pop().unwrap().millivolts, -12);
/// ```
pub unsafe trait Shareable {
    /// Evaluated (at compile time, per type) by [`zeroed`], [`attach`] and [`create`]: the
    /// checks a type's constructor makes that zero bytes would skip (a `Queue`'s `N >= 1`).
    /// An impl for a struct holding such types should set it to its fields' checks
    /// (`const CHECK: () = <Field as Shareable>::CHECK;`).
    const CHECK: () = ();
}

/// Wait backends that work when the waiting and the waking program are different processes
/// (or cores) mapping the same word.
///
/// # Safety
///
/// A wake from any program that maps the word must reach (or need not reach) a waiter in any
/// other: spinning backends, and futexes keyed by the physical page (Linux futexes without
/// `FUTEX_PRIVATE_FLAG`). Waits may still return spuriously, as [`Wait`] allows.
///
/// # Examples
///
/// ```
/// use baresync::shared::SharedWait;
///
/// fn between_processes<W: SharedWait>() {}
/// between_processes::<baresync::Spin>();
/// ```
pub unsafe trait SharedWait: Wait {}

/// Thread identities that are unique across every process that maps a [`ReentrantLock`], not
/// only inside one.
///
/// # Safety
///
/// Everything [`ThreadIdentity`] requires, across processes: no two live threads of any
/// process sharing the lock ever return the same id.
///
/// # Examples
///
/// ```
/// use baresync::shared::SharedIdentity;
///
/// use baresync::{shared::SharedWait, ReentrantLock, Spin};
///
/// fn share<T, I: SharedIdentity, W: SharedWait>(_: &ReentrantLock<T, I, W>) {}
/// ```
pub unsafe trait SharedIdentity: ThreadIdentity {}

/// A value of `T` whose bytes are all zero: for most shareable types, their `new()`.
///
/// It evaluates [`Shareable::CHECK`]: a type whose constructor refuses some parameters
/// refuses them here too, when the program is built:
///
/// ```compile_fail,E0080
/// // A queue of no slot (red team R2: it indexed past its empty slot array).
/// let q: baresync::Queue<u64, 0, baresync::Spin> = baresync::shared::zeroed();
/// let _ = q.try_push(7);
/// ```
///
/// # Examples
///
/// ```
/// use baresync::{shared, Semaphore, Spin};
///
/// let s: Semaphore<Spin> = shared::zeroed();
/// assert_eq!(s.available(), 0);
/// s.release(2);
/// assert!(s.try_acquire().is_some());
/// ```
#[inline]
pub fn zeroed<T: Shareable>() -> T {
    #[allow(clippy::let_unit_value)]
    let () = T::CHECK;
    // SAFETY: `Shareable` requires that all-zero bytes are a valid `T`.
    unsafe { core::mem::zeroed() }
}

/// Views shared memory at `ptr` as a `T`.
///
/// The memory must hold zeros (a new mapping) or a `T` written by a program of the same build
/// (same crate version, target and [`layout_word`]).
///
/// # Panics
///
/// If `ptr` is not aligned for `T`.
///
/// # Safety
///
/// `ptr` must be valid for reads and writes of `size_of::<T>()` bytes for `'a`, by this
/// program and by the others that map it, and those bytes must be accessed only through `T`'s
/// own methods (atomics) meanwhile: the memory is all zero or holds a `T` (see above). The
/// caller must not create a `&mut T` to it while another program may be using it.
///
/// # Examples
///
/// ```
/// use baresync::{shared, Event, Spin};
///
/// let mut page = [0u32; 4]; // stands for a MAP_SHARED mapping
/// // SAFETY: aligned, zeroed, lives for the whole example, touched only through the Event.
/// let ev: &Event<Spin> = unsafe { shared::attach(page.as_mut_ptr().cast()) };
/// ev.set();
/// assert!(ev.is_set());
/// ```
#[inline]
pub unsafe fn attach<'a, T: Shareable>(ptr: *mut u8) -> &'a T {
    #[allow(clippy::let_unit_value)]
    let () = T::CHECK;
    assert!(
        (ptr as usize) % core::mem::align_of::<T>() == 0,
        "shared memory not aligned for the primitive"
    );
    // SAFETY: aligned (checked), valid for `size_of::<T>()` bytes for `'a` (caller), and
    // holding a valid `T` (zeros, which `Shareable` makes valid, or a `T` written earlier).
    unsafe { &*ptr.cast::<T>() }
}

/// Writes `value` into shared memory at `ptr` and views it as a `T`: the creator's side of
/// the attach protocol, for types whose zero is not the instance wanted (a [`Barrier`]'s party
/// count, a [`BoundedSemaphore`]'s bound). Others [`attach`] afterwards.
///
/// # Panics
///
/// If `ptr` is not aligned for `T`.
///
/// # Safety
///
/// As for [`attach`]; and no other program may use the memory until this returns (create
/// before forking the workers, or publish "ready" through a word they poll).
///
/// # Examples
///
/// ```
/// use baresync::{shared, Barrier, Spin};
///
/// let mut page = [0u32; 2]; // stands for a MAP_SHARED mapping
/// // SAFETY: aligned, valid for the example, nobody else attached yet.
/// let b: &Barrier<Spin> = unsafe { shared::create(page.as_mut_ptr().cast(), Barrier::with_wait(1)) };
/// assert!(b.wait().unwrap().is_leader());
/// ```
#[inline]
pub unsafe fn create<'a, T: Shareable>(ptr: *mut u8, value: T) -> &'a T {
    #[allow(clippy::let_unit_value)]
    let () = T::CHECK;
    assert!(
        (ptr as usize) % core::mem::align_of::<T>() == 0,
        "shared memory not aligned for the primitive"
    );
    // SAFETY: aligned (checked) and valid for writes of a `T` (caller); nobody else reads the
    // memory until we return (caller). The old bytes were zero or a `T`; a `Shareable` needs
    // no drop of what it overwrites beyond what a killed process would leave.
    unsafe {
        ptr.cast::<T>().write(value);
        &*ptr.cast::<T>()
    }
}

/// A word describing `T`'s layout for this build: its size, alignment, the pointer width and
/// `version` (the caller's own layout version, bumped whenever what it shares changes).
///
/// Two programs (two processes, two firmware images on two cores) that attach the same
/// memory compare it on attach: equal words mean they agree on the layout (with high
/// probability: it is a hash); different words mean they must not share. The creator stores
/// it next to the primitive; each attacher checks it. The word sees only size, alignment and
/// pointer width: a change that keeps those (a field reordered, a queue of 4 slots against
/// one of 8, both padded to the same size) must bump `version`.
///
/// # Examples
///
/// ```
/// use baresync::{shared::layout_word, Mutex, Spin};
///
/// const MINE: u32 = layout_word::<Mutex<[u32; 4], Spin>>(1);
/// assert_eq!(MINE, layout_word::<Mutex<[u32; 4], Spin>>(1));
/// assert_ne!(MINE, layout_word::<Mutex<[u32; 8], Spin>>(1));
/// assert_ne!(MINE, layout_word::<Mutex<[u32; 4], Spin>>(2));
/// ```
pub const fn layout_word<T: Shareable>(version: u32) -> u32 {
    // FNV-1a over the four numbers, byte by byte.
    const fn mix(mut h: u32, v: u64) -> u32 {
        let mut i = 0;
        while i < 8 {
            h ^= ((v >> (8 * i)) & 0xFF) as u32;
            h = h.wrapping_mul(0x0100_0193);
            i += 1;
        }
        h
    }
    let mut h = 0x811C_9DC5;
    h = mix(h, core::mem::size_of::<T>() as u64);
    h = mix(h, core::mem::align_of::<T>() as u64);
    h = mix(h, usize::BITS as u64);
    mix(h, version as u64)
}

// ---- plain data ------------------------------------------------------------------------

macro_rules! plain {
    ($($t:ty),*) => {
        $(
            // SAFETY: a primitive with a fixed layout, no pointer, valid when zero.
            unsafe impl Shareable for $t {}
        )*
    };
}
plain!(
    u8,
    u16,
    u32,
    u64,
    u128,
    usize,
    i8,
    i16,
    i32,
    i64,
    i128,
    isize,
    f32,
    f64,
    bool,
    char,
    ()
);

// SAFETY: N elements laid out contiguously; shareable if each is.
unsafe impl<T: Shareable, const N: usize> Shareable for [T; N] {
    const CHECK: () = T::CHECK;
}
// SAFETY: zero-sized, no data.
unsafe impl<T: ?Sized> Shareable for PhantomData<T> {}
// SAFETY: `repr(C, align(..))` around a shareable `T`, whose zero is its own.
unsafe impl<T: Shareable> Shareable for CachePadded<T> {
    const CHECK: () = T::CHECK;
}

#[cfg(not(baresync_loom))]
mod atomics {
    use super::Shareable;
    use crate::sync::atomic::{AtomicBool, AtomicU32, AtomicU8, AtomicUsize};

    // SAFETY: an atomic has the layout of its integer (zero valid), and lock-free atomic
    // operations on shared memory are atomic between processes (the hardware sees addresses,
    // not processes).
    unsafe impl Shareable for AtomicBool {}
    // SAFETY: as above.
    unsafe impl Shareable for AtomicU8 {}
    // SAFETY: as above.
    unsafe impl Shareable for AtomicU32 {}
    // SAFETY: as above.
    unsafe impl Shareable for AtomicUsize {}
    #[cfg(target_has_atomic = "64")]
    // SAFETY: as above.
    unsafe impl Shareable for core::sync::atomic::AtomicU64 {}
}

// ---- wait backends ---------------------------------------------------------------------

// SAFETY: `Spin` only reads the word; waking is a no-op that every spinner sees through the
// word itself, in any address space.
unsafe impl SharedWait for Spin {}
#[cfg(all(feature = "std", not(baresync_loom)))]
// SAFETY: `Yield` spins and yields on the word; waking is a no-op, as for `Spin`.
unsafe impl SharedWait for crate::Yield {}

// ---- primitives ------------------------------------------------------------------------

// SAFETY: `repr(C)` bool, zero = unlocked (`RawSpinLock::new`).
unsafe impl Shareable for RawSpinLock {}
// SAFETY: `repr(C)` two u32 words, zero = ticket 0 served, none taken: `new()`; waits and
// wakes through a shared backend.
unsafe impl<W: SharedWait> Shareable for RawTicketLock<W> {}
// SAFETY: `repr(C)` one u32 word, zero = unlocked: `new()`; waits through a shared backend.
unsafe impl<W: SharedWait> Shareable for RawMutex<W> {}
// SAFETY: `repr(C)` raw lock then data, both shareable; zero = unlocked, holding zero.
unsafe impl<R: RawLock + Shareable, T: Shareable> Shareable for Lock<R, T> {
    const CHECK: () = T::CHECK;
}
// SAFETY: `repr(C)` one u32 state word, zero = no readers, no writer, no waiters: `new()`;
// waits through a shared backend.
unsafe impl<W: SharedWait> Shareable for crate::raw::RawRwMutex<W> {}
// SAFETY: `repr(C)` raw lock then data, both shareable; zero = unlocked, holding zero.
unsafe impl<R: crate::raw::RawRwLock + Shareable, T: Shareable> Shareable
    for crate::rwlock::ReadWriteLock<R, T>
{
    const CHECK: () = T::CHECK;
}
// SAFETY: `repr(C)`; the raw mutex is shared, the owner word holds ids unique across
// processes (`SharedIdentity`), zero = no owner and count 0: `new(zero)`.
unsafe impl<T: Shareable, I: SharedIdentity, W: SharedWait> Shareable for ReentrantLock<T, I, W> {
    const CHECK: () = T::CHECK;
}
// SAFETY: `repr(C)` state word and bound slack, zero = 0 permits, bound `MAX_PERMITS`:
// `Semaphore::new(0)`.
unsafe impl<W: SharedWait> Shareable for Semaphore<W> {}
// SAFETY: as `Semaphore` (zero is valid: no permits, bound `MAX_PERMITS`).
unsafe impl<W: SharedWait> Shareable for BoundedSemaphore<W> {}
// SAFETY: `repr(C)` one state word, zero = clear, generation 0: `new()`.
unsafe impl<W: SharedWait> Shareable for Event<W> {}
// SAFETY: `repr(C)` words and counters, zero = no waiters: `new()`.
unsafe impl<W: SharedWait> Shareable for Condvar<W> {}
// SAFETY: `repr(C)` state word and party count; zero parties is valid (every `wait` waits
// until a deadline or an abort), just not useful: the creator writes `new(n)` first.
unsafe impl<W: SharedWait> Shareable for Barrier<W> {}
// SAFETY: `repr(C)` positions, wait words and slots (stamp 0, value zero), zero = `new()`;
// `T: Copy` has no drop glue, so an item left behind by a killed process needs no drop, and
// `T: Shareable` has no pointers.
unsafe impl<T: Shareable + Copy, const N: usize, W: SharedWait> Shareable for Queue<T, N, W> {
    // Zero bytes skip `with_wait`'s compile-time `N >= 1` check: make it here (a queue of
    // no slot would index past its array).
    const CHECK: () = Queue::<T, N, W>::NONZERO;
}
// SAFETY: `repr(C)` queue plus counters, zero = `new()`.
unsafe impl<T: Shareable + Copy, const N: usize, W: SharedWait> Shareable
    for JoinableQueue<T, N, W>
{
    const CHECK: () = Queue::<T, N, W>::NONZERO;
}

#[cfg(all(
    feature = "std",
    target_has_atomic = "64",
    any(target_os = "linux", target_os = "android")
))]
mod robust {
    use super::{Shareable, SharedWait};
    use crate::raw::RawRobustMutex;
    use crate::{ProcessLiveness, RobustMutex};

    // SAFETY: `repr(C)` owner word (kernel thread id and start time: meaningful to every
    // process of the pid namespace), epoch and sleeper count; zero = unlocked, consistent.
    unsafe impl<W: SharedWait> Shareable for RawRobustMutex<ProcessLiveness, W> {}
    // SAFETY: `repr(C)` raw lock then data, both shareable; zero = `new(zero)`.
    unsafe impl<T: Shareable, W: SharedWait> Shareable for RobustMutex<T, ProcessLiveness, W> {
        const CHECK: () = T::CHECK;
    }
}
