//! baresync in firmware: every primitive in a `static`, and a queue shared between thread mode
//! and the SysTick interrupt through an [`IrqSpinLock`].
//!
//! The SysTick handler logs each tick into `SAMPLES` with `force_push` (a ring: when full, the
//! oldest entry is evicted). `force_push` may wait for an operation in progress on the oldest
//! slot; an interrupt handler must never wait for the code it interrupted, so every access to
//! `SAMPLES`, from the handler and from thread mode, happens inside `TICK_LOG.lock(|log| ..)`,
//! an `IrqSpinLock`. Holding it masks interrupts, so the handler can never interrupt thread
//! mode in the middle of a queue operation, and the counters in `TICK_LOG` always agree with
//! the queue's length. (A plain `SpinLock` there would deadlock the first time the tick fired
//! while thread mode held it.) The lock is used through a closure, so the critical section it
//! enters is always left before any critical section around it: no guard can outlive its
//! place in the nesting.
//!
//! Thread mode waits for the handler's `Event`, drains ten ticks in order, checks the counters,
//! then exercises every other primitive and prints one line per check through semihosting;
//! `.ci/run` runs it in QEMU and compares the lines.
#![no_std]
#![no_main]
#![deny(unsafe_op_in_unsafe_fn)]

use baresync::{
    Barrier, BoundedSemaphore, CachePadded, Condvar, Event, IrqSpinLock, JoinableQueue, Mutex,
    Queue, ReentrantLock, RwLockUpgradableReadGuard, RwLockWriteGuard, Semaphore, SpinLock,
    SpinRwLock, ThreadIdentity, TicketLock,
};
use core::cell::Cell;
use core::num::NonZeroUsize;
// The atomics baresync uses: `core`'s, or portable-atomic's on ARMv6-M.
use baresync::sync::atomic::{AtomicU32, Ordering::Relaxed};
use cortex_m::peripheral::syst::SystClkSource;
use cortex_m_rt::{entry, exception};
use cortex_m_semihosting::{debug, hprintln};

/// The counters that must agree with `SAMPLES`; both are only touched while this is held.
struct TickLog {
    /// Ticks pushed into `SAMPLES` by the handler.
    produced: u32,
    /// Entries the handler evicted because the ring was full.
    evicted: u32,
    /// Entries thread mode took out.
    received: u32,
}

static TICK_LOG: IrqSpinLock<TickLog> = IrqSpinLock::new(TickLog {
    produced: 0,
    evicted: 0,
    received: 0,
});
/// Tick numbers, oldest first. Accessed only while holding `TICK_LOG`.
static SAMPLES: Queue<u32, 4> = Queue::new();
/// Set by the handler once the first ticks are in `SAMPLES`.
static TICKING: Event = Event::new();

static SPIN: SpinLock<u32> = SpinLock::new(0);
static TICKET: TicketLock<u32> = TicketLock::new(0);
static TABLE: SpinRwLock<[u32; 2]> = SpinRwLock::new([0; 2]);
static MUTEX: Mutex<[u8; 4]> = Mutex::new([0; 4]);
static NESTED: ReentrantLock<Cell<u32>, ContextId> = ReentrantLock::with_identity(Cell::new(0));
static POOL: Semaphore = Semaphore::new(2);
static BOUNDED: BoundedSemaphore = BoundedSemaphore::new(1);
static READY: SpinLock<bool> = SpinLock::new(false);
static CONDVAR: Condvar = Condvar::new();
static BARRIER: Barrier = Barrier::new(1);
static JOBS: JoinableQueue<u32, 4> = JoinableQueue::new();
static HITS: CachePadded<AtomicU32> = CachePadded::new(AtomicU32::new(0));

/// Ticks to receive before the SysTick check passes.
const TICKS_WANTED: u32 = 10;

/// Which context is running, for `ReentrantLock`: the active exception number (IPSR) plus
/// one, so thread mode is 1 and each exception handler has its own id.
struct ContextId;

// SAFETY: on this single-core chip an exception handler never shares its exception number with
// a context it preempted (thread mode is 0; an exception cannot preempt itself), and the number
// is fixed for as long as the handler runs; a later activation of the same handler reuses the
// id only after the earlier one returned, which happens-before on the one core.
unsafe impl ThreadIdentity for ContextId {
    fn current() -> NonZeroUsize {
        let ipsr: u32;
        // SAFETY: reading IPSR has no side effects.
        unsafe {
            core::arch::asm!("mrs {}, IPSR", out(reg) ipsr, options(nomem, nostack, preserves_flags))
        };
        // The exception number is 9 bits: `+ 1` cannot overflow.
        NonZeroUsize::new((ipsr & 0x1ff) as usize + 1).unwrap_or(NonZeroUsize::MIN)
    }
}

#[exception]
fn SysTick() {
    // A handler is only preempted by higher-priority exceptions; the lock masks those too,
    // and thread mode cannot be holding it (it masks SysTick while it does).
    let tick = TICK_LOG.lock(|log| {
        log.produced += 1;
        match SAMPLES.force_push(log.produced) {
            Ok(Some(_oldest)) => log.evicted += 1,
            Ok(None) => {}
            Err(_closed) => {} // never closed
        }
        log.produced
    });
    if tick >= 2 {
        TICKING.set();
    }
}

/// A deadline of `polls` polls, for the `*_until` checks.
fn poll_budget(polls: u32) -> impl FnMut() -> bool {
    let mut used = 0;
    move || {
        used += 1;
        used > polls
    }
}

/// Prints one check's line, or the failure and exits with an error status.
fn check(name: &str, ok: bool) {
    if ok {
        hprintln!("ok {}", name);
    } else {
        hprintln!("FAILED {}", name);
        debug::exit(debug::EXIT_FAILURE);
    }
}

/// `TicketLock::try_lock` takes a free lock and refuses a held one (on thumbv6m, without
/// compare-and-swap, this is its one-load path).
fn ticket_try_lock() -> bool {
    let Some(held) = TICKET.try_lock() else {
        return false;
    };
    let refused = TICKET.try_lock().is_none();
    drop(held);
    refused && TICKET.try_lock().is_some()
}

/// `SpinRwLock`: readers share and keep a writer out (a timed one gives up and leaves no
/// waiting flag), a writer keeps readers out, an upgrade and a downgrade (on thumbv6m, without
/// compare-and-swap, each attempt guesses the idle word first).
fn spin_rwlock() -> bool {
    let (a, b) = (TABLE.read(), TABLE.try_read());
    let shared = b.is_some()
        && TABLE.try_write().is_none()
        && TABLE.write_until(poll_budget(3)).is_none()
        && !TABLE.raw().writer_waiting();
    drop((a, b));
    let mut w = TABLE.write();
    w[0] = 7;
    let excluded = TABLE.try_read().is_none() && TABLE.try_upgradable_read().is_none();
    drop(w);
    let u = TABLE.upgradable_read();
    let mut w = RwLockUpgradableReadGuard::upgrade(u);
    w[1] = 8;
    let r = RwLockWriteGuard::downgrade(w);
    shared && excluded && *r == [7, 8] && TABLE.try_read().is_some()
}

/// Receives ticks from the SysTick handler until `TICKS_WANTED` arrived; checks their order
/// and the counters at every step.
fn drain_ticks() -> bool {
    let mut last = 0;
    let mut in_order = true;
    let mut consistent = true;
    loop {
        let done = TICK_LOG.lock(|log| {
            // While `TICK_LOG` is held the handler cannot run: the counters and the queue agree.
            consistent &= log.produced - log.evicted - log.received == SAMPLES.len() as u32;
            if let Some(tick) = SAMPLES.pop() {
                log.received += 1;
                in_order &= tick > last;
                last = tick;
            }
            log.received == TICKS_WANTED
        });
        if done {
            return in_order && consistent;
        }
        // Interrupts run again here.
        cortex_m::asm::nop();
    }
}

#[entry]
fn main() -> ! {
    let mut core = cortex_m::Peripherals::take().expect("taken once");
    // A tick every 10 000 core cycles.
    core.SYST.set_clock_source(SystClkSource::Core);
    core.SYST.set_reload(10_000 - 1);
    core.SYST.clear_current();
    core.SYST.enable_interrupt();
    core.SYST.enable_counter();

    hprintln!("baresync firmware example");
    TICKING.wait(); // spins (the `Spin` backend) until the handler sets it
    check("Event set by the SysTick handler", TICKING.is_set());
    check(
        "Queue shared with SysTick through IrqSpinLock: ticks in order, counters agree",
        drain_ticks(),
    );
    core.SYST.disable_interrupt();
    core.SYST.disable_counter();

    *SPIN.lock() += 1;
    *TICKET.lock() += 2;
    MUTEX.lock()[0] = 3;
    check(
        "SpinLock, TicketLock, Mutex",
        *SPIN.lock() == 1 && *TICKET.lock() == 2 && MUTEX.try_lock().map(|m| m[0]) == Some(3),
    );
    check("TicketLock try_lock: free, then held", ticket_try_lock());
    check(
        "SpinRwLock: readers share, writers exclude, upgrade, downgrade",
        spin_rwlock(),
    );

    {
        let outer = NESTED.lock();
        let inner = NESTED.lock();
        inner.set(outer.get() + 1);
        check("ReentrantLock nested twice", NESTED.lock_count() == 2);
    }

    {
        let a = POOL.try_acquire();
        let b = POOL.acquire_until(poll_budget(10));
        let c = POOL.try_acquire();
        check(
            "Semaphore: two permits, the third refused",
            a.is_some() && b.is_some() && c.is_none(),
        );
    }
    let permit = BOUNDED.acquire();
    permit.forget();
    check(
        "BoundedSemaphore refuses to release past its bound",
        BOUNDED.release(1).is_ok() && BOUNDED.release(1).is_err(),
    );

    *READY.lock() = true;
    CONDVAR.notify_all();
    let (ready, timed_out) =
        CONDVAR.wait_while_until(READY.lock(), poll_budget(10), |ready| !*ready);
    check(
        "Condvar over a SpinLock guard",
        *ready && !timed_out.timed_out(),
    );
    drop(ready);

    check(
        "Barrier of one elects its leader",
        BARRIER.wait().map(|r| r.is_leader()) == Ok(true),
    );

    JOBS.push(7).ok();
    let job = JOBS.pop();
    let done = JOBS.task_done().is_ok();
    check(
        "JoinableQueue: push, pop, task_done, join",
        job == Some(7) && done && !JOBS.join_until(poll_budget(10)).timed_out(),
    );

    HITS.fetch_add(1, Relaxed);
    check("CachePadded", HITS.load(Relaxed) == 1);

    hprintln!("all primitives ok");
    debug::exit(debug::EXIT_SUCCESS);
    loop {
        cortex_m::asm::wfi();
    }
}

#[panic_handler]
fn panic(info: &core::panic::PanicInfo<'_>) -> ! {
    hprintln!("panic: {}", info);
    debug::exit(debug::EXIT_FAILURE);
    loop {
        cortex_m::asm::wfi();
    }
}
