//! One primitive per feature, for `./measure`: with no feature this is the empty baseline (the
//! startup code of `ci/nostd-link` and a loop), with one feature it adds that primitive in a
//! `static` and the operations firmware typically uses on it, each in an `#[inline(never)]`
//! function so that nothing is folded away. See `Cargo.toml` for the feature names.
#![no_std]
#![no_main]
#![deny(unsafe_op_in_unsafe_fn)]

#[path = "../../nostd-link/src/rt/mod.rs"]
mod rt;

#[allow(unused_imports)]
use core::hint::black_box;

/// A deadline for the `*_until` operations: a poll budget the compiler cannot see through.
#[allow(dead_code)]
fn budget() -> impl FnMut() -> bool {
    let limit = black_box(100u32);
    let mut used = 0u32;
    move || {
        used += 1;
        used > limit
    }
}

/// Defines `static $name: $ty = $init;` and an `#[inline(never)]` function per operation, and
/// a `run` calling each, all under `cfg(feature = $feature)`.
macro_rules! measure {
    ($feature:literal, $module:ident, static $name:ident: $ty:ty = $init:expr;
     $(fn $op:ident() $body:block)*) => {
        #[cfg(feature = $feature)]
        mod $module {
            #[allow(unused_imports)]
            use super::{black_box, budget};
            static $name: $ty = $init;
            $(
                #[inline(never)]
                fn $op() { $body }
            )*
            pub fn run() {
                $($op();)*
            }
        }
    };
}

/// `measure!` for a `Lock`-shaped type around a `u32`: `lock` and `try_lock`, and
/// `lock_until` when asked for (`, lock_until`), each incrementing the value. Without it, a
/// lock has only the operations spin's mutexes have (the same-operations rows).
macro_rules! measure_lock {
    ($feature:literal, $module:ident, $ty:ty $(, $until:ident)?) => {
        measure! {
            $feature,
            $module,
            static L: $ty = <$ty>::new(0);
            fn lock() {
                *L.lock() += 1;
            }
            fn try_lock() {
                black_box(L.try_lock().map(|mut g| *g += 1));
            }
            $(
                fn $until() {
                    black_box(L.$until(budget()).map(|mut g| *g += 1));
                }
            )?
        }
    };
}

measure_lock!("spinlock", spinlock, baresync::SpinLock<u32>, lock_until);
measure_lock!("spinlock-basic", spinlock_basic, baresync::SpinLock<u32>);
measure_lock!(
    "ticketlock",
    ticketlock,
    baresync::TicketLock<u32>,
    lock_until
);
measure_lock!(
    "ticketlock-basic",
    ticketlock_basic,
    baresync::TicketLock<u32>
);
measure_lock!("fairlock", fairlock, baresync::FairLock<u32>, lock_until);
measure_lock!("mutex", mutex, baresync::Mutex<u32>, lock_until);
// `IrqSpinLock` is closure-scoped: the same three operations, each incrementing the value.
measure! {
    "irqspinlock",
    irqspinlock,
    static L: baresync::IrqSpinLock<u32> = baresync::IrqSpinLock::new(0);
    fn lock() {
        L.lock(|v| *v += 1);
    }
    fn try_lock() {
        black_box(L.try_lock(|v| *v += 1));
    }
    fn lock_until() {
        black_box(L.lock_until(budget(), |v| *v += 1));
    }
}
measure! {
    "reentrantlock",
    reentrantlock,
    static L: baresync::ReentrantLock<core::cell::Cell<u32>, super::OneContext> =
        baresync::ReentrantLock::with_identity(core::cell::Cell::new(0));
    fn lock() {
        let g = L.lock();
        let h = L.lock();
        h.set(g.get() + 1);
    }
    fn try_lock() {
        black_box(L.try_lock().map(|g| g.set(g.get() + 1)));
    }
    fn lock_until() {
        black_box(L.lock_until(budget()).map(|g| g.set(g.get() + 1)));
    }
}
measure! {
    "rwlock",
    rwlock,
    static L: baresync::RwLock<u32, baresync::Spin> = baresync::RwLock::with_wait(0);
    fn read() {
        black_box(*L.read());
    }
    fn write() {
        *L.write() += 1;
    }
    fn try_read() {
        black_box(L.try_read().map(|g| *g));
    }
    fn try_write() {
        black_box(L.try_write().map(|mut g| *g += 1));
    }
}
measure! {
    "spinrwlock",
    spinrwlock,
    static L: baresync::SpinRwLock<u32> = baresync::SpinRwLock::new(0);
    fn read() {
        black_box(*L.read());
    }
    fn write() {
        *L.write() += 1;
    }
    fn try_read() {
        black_box(L.try_read().map(|g| *g));
    }
    fn try_write() {
        black_box(L.try_write().map(|mut g| *g += 1));
    }
}
measure! {
    "oncecell",
    oncecell,
    static C: baresync::OnceCell<u32, baresync::Spin> = baresync::OnceCell::with_wait();
    fn get_or_init() {
        black_box(*C.get_or_init(|| black_box(48_000_000)));
    }
    fn get() {
        black_box(C.get().copied());
    }
}
measure! {
    "lazy",
    lazy,
    static L: baresync::Lazy<[u8; 16], fn() -> [u8; 16], baresync::Spin> =
        baresync::Lazy::with_wait(|| core::array::from_fn(|i| (i as u8).wrapping_mul(3)));
    fn force() {
        black_box(L[black_box(5)]);
    }
}
measure! {
    "semaphore",
    semaphore,
    static S: baresync::Semaphore = baresync::Semaphore::new(2);
    fn acquire() {
        drop(black_box(S.acquire()));
    }
    fn try_acquire() {
        black_box(S.try_acquire());
    }
    fn acquire_until() {
        black_box(S.acquire_until(budget()));
    }
    fn release() {
        S.release(black_box(1));
    }
}
measure! {
    "boundedsemaphore",
    boundedsemaphore,
    static S: baresync::BoundedSemaphore = baresync::BoundedSemaphore::new(2);
    fn acquire() {
        drop(black_box(S.acquire()));
    }
    fn try_acquire() {
        black_box(S.try_acquire());
    }
    fn acquire_until() {
        black_box(S.acquire_until(budget()));
    }
    fn release() {
        black_box(S.release(black_box(1)).is_ok());
    }
}
measure! {
    "event",
    event,
    static E: baresync::Event = baresync::Event::new();
    fn set() {
        E.set();
    }
    fn clear() {
        E.clear();
    }
    fn wait_until() {
        black_box(E.wait_until(budget()).timed_out());
    }
}
measure! {
    "condvar",
    condvar,
    static C: baresync::Condvar = baresync::Condvar::new();
    fn notify_one() {
        black_box(C.notify_one());
    }
    fn notify_all() {
        black_box(C.notify_all());
    }
    fn wait_until() {
        static L: baresync::SpinLock<bool> = baresync::SpinLock::new(false);
        black_box(C.wait_until(L.lock(), budget()).1.timed_out());
    }
}
// The barriers are built for 2 parties, which is what a barrier is for. With 1 every arrival
// completes a generation, and where the compiler sees every store to the `static` (thumbv6m,
// whose read-modify-writes are plain loads and stores in a critical section) it folds the
// waiting path away: `SpinBarrier` measured 68 bytes there, with no wait loop left.
measure! {
    "barrier",
    barrier,
    static B: baresync::Barrier = baresync::Barrier::new(2);
    fn wait() {
        black_box(B.wait().is_ok());
    }
    fn wait_until() {
        black_box(B.wait_until(budget()).is_ok());
    }
}
measure! {
    "barrier-basic",
    barrier_basic,
    static B: baresync::Barrier = baresync::Barrier::new(2);
    fn wait() {
        black_box(B.wait().is_ok());
    }
}
measure! {
    "spinbarrier",
    spinbarrier,
    static B: baresync::SpinBarrier = baresync::SpinBarrier::new(2);
    fn wait() {
        black_box(B.wait().is_leader());
    }
}
measure! {
    "queue",
    queue,
    static Q: baresync::Queue<u32, 8> = baresync::Queue::new();
    fn push() {
        black_box(Q.push(black_box(1)).is_ok());
    }
    fn pop() {
        black_box(Q.pop());
    }
    fn put_until() {
        black_box(Q.put_until(black_box(2), budget()).is_ok());
    }
    fn get_until() {
        black_box(Q.get_until(budget()).ok());
    }
}
measure! {
    "queue-basic",
    queue_basic,
    static Q: baresync::Queue<u32, 8> = baresync::Queue::new();
    fn push() {
        black_box(Q.push(black_box(1)).is_ok());
    }
    fn pop() {
        black_box(Q.pop());
    }
}
measure! {
    "queue-try",
    queue_try,
    static Q: baresync::Queue<u32, 8> = baresync::Queue::new();
    fn try_push() {
        black_box(Q.try_push(black_box(1)).is_ok());
    }
    fn try_pop() {
        black_box(Q.try_pop().ok());
    }
}
measure! {
    "joinablequeue",
    joinablequeue,
    static Q: baresync::JoinableQueue<u32, 8> = baresync::JoinableQueue::new();
    fn push() {
        black_box(Q.push(black_box(1)).is_ok());
    }
    fn pop() {
        black_box(Q.pop());
    }
    fn task_done() {
        black_box(Q.task_done().is_ok());
    }
    fn join_until() {
        black_box(Q.join_until(budget()).timed_out());
    }
}
measure_lock!(
    "spin-spinmutex",
    spin_spinmutex,
    spin::mutex::SpinMutex<u32>
);
measure_lock!(
    "spin-ticketmutex",
    spin_ticketmutex,
    spin::mutex::TicketMutex<u32>
);
measure! {
    "spin-once",
    spin_once,
    static C: spin::Once<u32> = spin::Once::new();
    fn call_once() {
        black_box(*C.call_once(|| black_box(48_000_000)));
    }
    fn get() {
        black_box(C.get().copied());
    }
}
measure! {
    "spin-lazy",
    spin_lazy,
    static L: spin::Lazy<[u8; 16]> =
        spin::Lazy::new(|| core::array::from_fn(|i| (i as u8).wrapping_mul(3)));
    fn force() {
        black_box(L[black_box(5)]);
    }
}
measure! {
    "spin-rwlock",
    spin_rwlock,
    static L: spin::RwLock<u32> = spin::RwLock::new(0);
    fn read() {
        black_box(*L.read());
    }
    fn write() {
        *L.write() += 1;
    }
    fn try_read() {
        black_box(L.try_read().map(|g| *g));
    }
    fn try_write() {
        black_box(L.try_write().map(|mut g| *g += 1));
    }
}
measure! {
    "spin-barrier",
    spin_barrier,
    static B: spin::Barrier = spin::Barrier::new(2);
    fn wait() {
        black_box(B.wait().is_leader());
    }
}
measure! {
    "heapless-mpmc",
    heapless_mpmc,
    static Q: heapless::mpmc::Q8<u32> = heapless::mpmc::Q8::new();
    fn enqueue() {
        black_box(Q.enqueue(black_box(1)).is_ok());
    }
    fn dequeue() {
        black_box(Q.dequeue());
    }
}

/// `heapless::spsc::Queue` needs `&mut` to split it into a producer and a consumer, so it is
/// split once, at start, from a `static` that nothing else touches.
#[cfg(feature = "heapless-spsc")]
mod heapless_spsc {
    use core::hint::black_box;
    use heapless::spsc::{Consumer, Producer, Queue};

    #[inline(never)]
    fn enqueue(p: &mut Producer<'static, u32, 8>) {
        black_box(p.enqueue(black_box(1)).is_ok());
    }

    #[inline(never)]
    fn dequeue(c: &mut Consumer<'static, u32, 8>) {
        black_box(c.dequeue());
    }

    pub fn run() -> ! {
        static mut Q: Queue<u32, 8> = Queue::new();
        // SAFETY: the only reference ever made to `Q`, made once (`run` does not return).
        let q: &'static mut Queue<u32, 8> = unsafe { &mut *core::ptr::addr_of_mut!(Q) };
        let (mut p, mut c) = q.split();
        loop {
            enqueue(&mut p);
            dequeue(&mut c);
        }
    }
}

/// The one context of this binary, for `ReentrantLock`.
#[allow(dead_code)]
pub struct OneContext;

// SAFETY: this binary runs in one context only (no interrupts are enabled), so one id is
// "distinct for every live thread" and stable.
unsafe impl baresync::ThreadIdentity for OneContext {
    fn current() -> core::num::NonZeroUsize {
        core::num::NonZeroUsize::MIN
    }
}

/// The entry point, called by the reset code in `rt`.
#[no_mangle]
pub extern "C" fn main() -> ! {
    #[cfg(feature = "heapless-spsc")]
    heapless_spsc::run();
    #[allow(unreachable_code)]
    loop {
        #[cfg(feature = "spinlock")]
        spinlock::run();
        #[cfg(feature = "spinlock-basic")]
        spinlock_basic::run();
        #[cfg(feature = "ticketlock")]
        ticketlock::run();
        #[cfg(feature = "ticketlock-basic")]
        ticketlock_basic::run();
        #[cfg(feature = "fairlock")]
        fairlock::run();
        #[cfg(feature = "mutex")]
        mutex::run();
        #[cfg(feature = "irqspinlock")]
        irqspinlock::run();
        #[cfg(feature = "reentrantlock")]
        reentrantlock::run();
        #[cfg(feature = "rwlock")]
        rwlock::run();
        #[cfg(feature = "spinrwlock")]
        spinrwlock::run();
        #[cfg(feature = "semaphore")]
        semaphore::run();
        #[cfg(feature = "boundedsemaphore")]
        boundedsemaphore::run();
        #[cfg(feature = "event")]
        event::run();
        #[cfg(feature = "condvar")]
        condvar::run();
        #[cfg(feature = "barrier")]
        barrier::run();
        #[cfg(feature = "barrier-basic")]
        barrier_basic::run();
        #[cfg(feature = "spinbarrier")]
        spinbarrier::run();
        #[cfg(feature = "queue")]
        queue::run();
        #[cfg(feature = "queue-basic")]
        queue_basic::run();
        #[cfg(feature = "queue-try")]
        queue_try::run();
        #[cfg(feature = "joinablequeue")]
        joinablequeue::run();
        #[cfg(feature = "spin-spinmutex")]
        spin_spinmutex::run();
        #[cfg(feature = "spin-ticketmutex")]
        spin_ticketmutex::run();
        #[cfg(feature = "spin-rwlock")]
        spin_rwlock::run();
        #[cfg(feature = "oncecell")]
        oncecell::run();
        #[cfg(feature = "lazy")]
        lazy::run();
        #[cfg(feature = "spin-once")]
        spin_once::run();
        #[cfg(feature = "spin-lazy")]
        spin_lazy::run();
        #[cfg(feature = "spin-barrier")]
        spin_barrier::run();
        #[cfg(feature = "heapless-mpmc")]
        heapless_mpmc::run();
        black_box(());
    }
}
