//! `stress --processes [--kill]`: the shared-memory primitives stressed by forked worker
//! processes, one pinned per CPU of the plan, every primitive and every counter in one
//! anonymous `MAP_SHARED` mapping (zeroed by the kernel: the primitives start as new, which
//! is what `baresync::shared::Shareable` promises).
//!
//! Scenarios (each checked, each with the negative control that must make its check fail):
//! - `robust-mutex`: a `RobustMutex<[u64; 2]>` whose critical section increments both
//!   halves with jitter in between; an occupancy counter checks mutual exclusion; an
//!   acquisition that is not told "owner died" must find both halves equal (else a death went
//!   unreported); the taker of a dead owner's lock repairs and marks consistent. Control
//!   (`--kill`): a taker that ignores the "owner died" outcome (does not repair) must be
//!   caught by the next consistent acquisition.
//! - `shared-mutex`: `Mutex<u64, SharedFutex>`, occupancy and a non-atomic count that must
//!   equal the acquisitions. Not run with `--kill` (a plain mutex whose owner is killed stays
//!   locked for ever: that is what the robust mutex is for). Control: no lock at all.
//! - `queue`: `JoinableQueue<u64, 64, SharedFutex>`, half the workers producing tagged
//!   sequence numbers, half consuming; each consumer sets the item's bit in a shared bitmap
//!   (a bit already set: delivered twice) and checks per-producer order, then `task_done`.
//!   At the end the parent drains the queue: every item a producer's `put` acknowledged was
//!   received or drained, except at most one per killed consumer (the one it held). With
//!   `--kill` only consumers are killed: a producer killed inside `put` leaves a slot claimed
//!   and never published, which wedges the queue at that slot (docs/processes.md). Control
//!   (`--kill`): consumers that take up to 32 items before recording and acknowledging them
//!   (late acknowledgements): a killed one loses more than the one item the check allows per
//!   killed consumer, which the no-loss check must catch.
//!
//! `--jitter` adds random spins and yields inside and outside the critical sections, as in the
//! threaded runs; the controls always jitter (their broken step must be hit within the run).
//! `--json FILE` writes every scenario's outcome ([`ProcessReport`]).
//!
//! - `semaphore`: `Semaphore<SharedFutex>` with half as many permits as workers (at least 1);
//!   an occupancy counter checks that no more hold one at once. Control: one permit too many.
//! - `barrier`: `Barrier<SharedFutex>` of every worker; each counts its arrival before waiting
//!   and, leaving generation `g`, checks that `g × workers` arrivals were counted. Control: a
//!   barrier one party short. Neither runs with `--kill` (a worker killed holding a permit or
//!   before arriving takes it with it: docs/processes.md).
//! - `rwlock`: `RwLock<(), SharedFutex>` guarding four plain words in the mapping; a quarter
//!   of the operations write (increment the words one by one, with race windows in between),
//!   an eighth take an upgradable read and upgrade it, the rest read the four words with race
//!   windows in between. Occupancy counters check that a writer is alone and a reader never
//!   beside a writer, a reader must see the four words equal, and at the end every word must
//!   equal the writes (the threaded rwlock scenario's checks, without its writer-preference
//!   one). Control: readers that read without the read lock (a lock whose read side excludes
//!   no writer); it must be caught by `consistent-read`.
//! - `event`: `Event<SharedFutex>`, worker 0 setting it in rounds, the others waiting (the
//!   threaded event scenario's protocol): no waiter back from its wait before its round's
//!   `set`, and every waiter back within 2 s of it (a waiter asleep at the `set` whose wake is
//!   lost never comes back; every eighth round the setter waits 2 ms before `set` so the
//!   waiters are asleep). At the stop the parent `set`s the event (repeatedly, until the
//!   workers have left) to release the waiters. Controls: waiters that do not wait (caught by
//!   `released-after-set`), and `Event<NoopSharedWake>`, whose waits sleep in the shared futex
//!   and whose wakes do nothing: caught by `every-waiter-released` and as a hang (its
//!   sleepers ignore the parent's `set` too, as the threaded `NoopWake` controls do). Neither
//!   runs with `--kill` (a reader or writer killed inside holds the lock for ever; a killed
//!   setter's round never completes).
//!
//! The workers wait with deadlines that poll the stop word, so survivors leave when the
//! parent stops the run; a worker still running 10 s after the stop is a hang.
//!
//! What is not shared with the threaded scenarios: the worker bodies and checks are written
//! again here (the threaded harness's `RunCtx` owns its workers through `Arc`s and threads, and
//! its scenarios keep their state on the heap, which a forked child would only copy).

use crate::args::{EXIT_OK, EXIT_VIOLATION};
use crate::pin::{pin_current, Plan};
use crate::rng::XorShift;
use baresync::shared::{self, Shareable, SharedWait};
use baresync::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, Ordering::SeqCst};
use baresync::{
    Barrier, Deadline, Event, JoinableQueue, Mutex, RobustError, RobustMutex, RwLock,
    RwLockUpgradableReadGuard, Semaphore, SharedFutex, Wait,
};
use serde::Serialize;
use std::time::{Duration, Instant};

/// How long survivors get to leave after the stop before they count as hung.
const HANG_LIMIT: Duration = Duration::from_secs(10);
/// Items per producer at most (the bitmap's size).
const MAX_ITEMS: u64 = 1 << 18;
const MAX_WORKERS: usize = 64;
/// Items the broken queue control's consumers hold before acknowledging them.
const MAX_BATCH: usize = 32;

/// An anonymous shared mapping, inherited by forked children, zeroed by the kernel (also used
/// by `bench`'s `processes` group).
pub struct Mapping {
    ptr: *mut u8,
    len: usize,
}

impl Mapping {
    /// A zeroed shared mapping of `len` bytes.
    pub fn new(len: usize) -> Mapping {
        // SAFETY: a fresh anonymous mapping; no existing memory is touched.
        let ptr = unsafe {
            libc::mmap(
                std::ptr::null_mut(),
                len,
                libc::PROT_READ | libc::PROT_WRITE,
                libc::MAP_SHARED | libc::MAP_ANONYMOUS,
                -1,
                0,
            )
        };
        assert_ne!(ptr, libc::MAP_FAILED, "mmap failed");
        Mapping {
            ptr: ptr.cast(),
            len,
        }
    }

    /// The start of the mapping (page-aligned).
    pub fn ptr(&self) -> *mut u8 {
        self.ptr
    }

    /// The shared `T` at the start of the mapping.
    pub fn arena<T: Shareable>(&self) -> &T {
        assert!(std::mem::size_of::<T>() <= self.len);
        // SAFETY: page-aligned, zeroed, valid while `self` lives; only touched through `T`.
        unsafe { shared::attach(self.ptr) }
    }
}

impl Drop for Mapping {
    fn drop(&mut self) {
        // SAFETY: the mapping made in `new`; no reference into it outlives `self`.
        unsafe { libc::munmap(self.ptr.cast(), self.len) };
    }
}

/// Forks a worker pinned to `cpu` running `body`; the child exits with `_exit(0)` (or 1 on a
/// panic).
pub fn spawn(cpu: usize, body: impl FnOnce()) -> libc::pid_t {
    // SAFETY: the child runs `body` (atomics and the primitives on the mapping, the futex
    // through rustix, its own pinning) and leaves with `_exit`, running no destructor of the
    // parent's state.
    match unsafe { libc::fork() } {
        -1 => panic!("fork failed: {}", std::io::Error::last_os_error()),
        0 => {
            pin_current(cpu);
            let ok = std::panic::catch_unwind(std::panic::AssertUnwindSafe(body)).is_ok();
            // SAFETY: ends the child.
            unsafe { libc::_exit(if ok { 0 } else { 1 }) }
        }
        pid => pid,
    }
}

/// Waits for `pid` until `until`; `Some(exited cleanly)`, or `None` (then killed) at the limit.
pub fn reap(pid: libc::pid_t, until: Instant) -> Option<bool> {
    loop {
        let mut status = 0;
        // SAFETY: polls our own child.
        match unsafe { libc::waitpid(pid, &mut status, libc::WNOHANG) } {
            0 if Instant::now() < until => std::thread::sleep(Duration::from_millis(2)),
            0 => {
                // SAFETY: our own child, not yet reaped.
                unsafe {
                    libc::kill(pid, libc::SIGKILL);
                    libc::waitpid(pid, &mut status, 0);
                }
                return None;
            }
            _ => return Some(libc::WIFEXITED(status) && libc::WEXITSTATUS(status) == 0),
        }
    }
}

/// SIGKILLs our child `pid` and reaps it.
pub fn kill(pid: libc::pid_t) {
    let mut status = 0;
    // SAFETY: our own child, reaped at once.
    unsafe {
        libc::kill(pid, libc::SIGKILL);
        libc::waitpid(pid, &mut status, 0);
    }
}

/// Spins for a random short while: the jitter that widens race windows.
fn jitter(rng: &mut XorShift) {
    for _ in 0..rng.below(64) {
        std::hint::spin_loop();
    }
    if rng.one_in(64) {
        std::thread::yield_now();
    }
}

#[repr(C)]
struct Counters {
    stop: AtomicU32,
    inside: AtomicU32,
    acquisitions: AtomicU64,
    exclusion: AtomicU64,
    unreported_death: AtomicU64,
    owner_died: AtomicU64,
    bad_repair: AtomicU64,
    duplicates: AtomicU64,
    order: AtomicU64,
    received: AtomicU64,
    /// `rwlock`: reads that saw the four words unequal.
    torn: AtomicU64,
    /// `event`: waiters that returned before their round's `set`.
    early: AtomicU64,
    /// `event`: rounds whose waiters were not all back [`RELEASE_LIMIT`] after the `set`.
    not_released: AtomicU64,
    put: [AtomicU64; MAX_WORKERS],
}
// SAFETY: `repr(C)`, atomics only, zero = all counts 0.
unsafe impl Shareable for Counters {}

#[repr(C)]
struct RobustArena {
    c: Counters,
    lock: RobustMutex<[u64; 2]>,
}
// SAFETY: `repr(C)`, shareable fields.
unsafe impl Shareable for RobustArena {}

#[repr(C)]
struct MutexArena {
    c: Counters,
    lock: Mutex<(), SharedFutex>,
    /// Incremented non-atomically under `lock` (or, in the control, without it).
    count: u64,
}
// SAFETY: `repr(C)`, shareable fields.
unsafe impl Shareable for MutexArena {}

#[repr(C)]
struct QueueArena {
    c: Counters,
    queue: JoinableQueue<u64, 64, SharedFutex>,
    /// One bit per (producer, sequence number): delivered.
    seen: [AtomicU64; MAX_WORKERS / 2 * (MAX_ITEMS as usize / 64)],
}
// SAFETY: `repr(C)`, shareable fields.
unsafe impl Shareable for QueueArena {}

#[repr(C)]
struct SemaphoreArena {
    c: Counters,
    sem: Semaphore<SharedFutex>,
}
// SAFETY: `repr(C)`, shareable fields.
unsafe impl Shareable for SemaphoreArena {}

#[repr(C)]
struct BarrierArena {
    c: Counters,
    barrier: Barrier<SharedFutex>,
    /// Arrivals of every worker at every generation, counted before its wait.
    arrivals: AtomicU64,
}
// SAFETY: `repr(C)`, shareable fields.
unsafe impl Shareable for BarrierArena {}

#[repr(C)]
struct RwArena {
    c: Counters,
    lock: RwLock<(), SharedFutex>,
    writers_in: AtomicU64,
    readers_in: AtomicU64,
    /// Writes completed, counted inside the write lock.
    writes: AtomicU64,
    /// Four plain words that every writer increments one by one, read and written with
    /// volatile accesses under `lock` (in the control, read without it).
    words: [u64; 4],
}
// SAFETY: `repr(C)`, shareable fields.
unsafe impl Shareable for RwArena {}

#[repr(C)]
struct EventArena<W: SharedWait> {
    c: Counters,
    event: Event<W>,
    /// The round the setter has opened.
    round: AtomicU64,
    /// The last round whose `set` is about to be (or has been) called.
    set_round: AtomicU64,
    /// Waiters of the current round that are about to wait.
    arrived: AtomicU64,
    /// Waiters of the current round that are back from their wait.
    released: AtomicU64,
}
// SAFETY: `repr(C)`, shareable fields (the event's backend is a `SharedWait`).
unsafe impl<W: SharedWait> Shareable for EventArena<W> {}

/// The event control's wait backend: its waits really sleep (in the shared futex), its wakes
/// do nothing, so a sleeper is never woken: the `every-waiter-released` check and the hang
/// check must catch it (the process twin of the threaded `NoopWake`). Only a type parameter,
/// never a value.
enum NoopSharedWake {}

// SAFETY: only reads the word it is given (or passes its address to the futex); never writes
// it. Its wakes do nothing on purpose (a negative control).
unsafe impl Wait for NoopSharedWake {
    // False: the event must believe its sleepers can be woken, and call the wakes.
    const WAKE_IS_NOOP: bool = false;

    fn wait(atomic: &AtomicU32, expected: u32) {
        <SharedFutex as Wait>::wait(atomic, expected);
    }

    fn wait_until(atomic: &AtomicU32, expected: u32, deadline: &mut impl Deadline) -> bool {
        <SharedFutex as Wait>::wait_until(atomic, expected, deadline)
    }

    fn wake_one(_: &AtomicU32) {}

    fn wake_all(_: &AtomicU32) {}
}

// SAFETY: deliberately broken, for the negative control only: its wakes reach nobody in any
// process (its waits sleep in the shared futex, keyed by the page, like `SharedFutex`'s).
// Nothing but the control's event uses it.
unsafe impl SharedWait for NoopSharedWake {}

/// Every `ASLEEP_EVERY`-th event round the setter sleeps `ASLEEP_SETTLE` before `set`, so that
/// the waiters are asleep in the futex when it comes (a setter that always finds them still
/// polling would never exercise the wake, nor notice a wake that does nothing).
const ASLEEP_EVERY: u64 = 8;
const ASLEEP_SETTLE: Duration = Duration::from_millis(2);
/// How long after a `set` every waiter of the round must be back: generous (a wake takes
/// microseconds, a loaded machine's scheduling tens of milliseconds); a lost wake-up exceeds it
/// for ever.
const RELEASE_LIMIT: Duration = Duration::from_secs(2);

/// A deadline that expires at the stop of the run and tells a sleeping backend that an hour is
/// left: a sleeper re-checks it only when woken, so a lost wake-up stays a hang. (The parent
/// `set`s the event after the stop, which wakes the sleepers of a working event.)
struct AtStop<'a>(&'a AtomicU32);

impl Deadline for AtStop<'_> {
    fn expired(&mut self) -> bool {
        self.0.load(SeqCst) != 0
    }

    fn remaining(&self) -> Option<Duration> {
        Some(Duration::from_secs(3600))
    }
}

/// Permits of the semaphore scenario: fewer than the workers, so they contend.
fn permits(n: usize) -> u32 {
    (n as u32 / 2).max(1)
}

/// What a scenario does: the body of worker `w` of `n`, and the verdict.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Kind {
    Robust {
        repair: bool,
    },
    Mutex {
        locked: bool,
    },
    /// `batch`: how many items a consumer takes before it records and acknowledges them (1:
    /// each at once; more: the broken control, whose killed consumers lose what they held).
    Queue {
        batch: usize,
    },
    /// At most `permits(n)` holders at once; `extra`: permits the semaphore has beyond that
    /// (the control: one too many).
    Semaphore {
        extra: u32,
    },
    /// Nobody leaves generation `g` before all `n` have arrived at it; `short`: parties fewer
    /// than the workers (the control).
    Barrier {
        short: usize,
    },
    /// No reader beside a writer, no read of a half-written value, no lost write;
    /// `read_locked`: readers take the read lock (false: the control, whose readers read
    /// without it, so its read side excludes no writer).
    RwLock {
        read_locked: bool,
    },
    /// Every waiter released by its round's `set` (within [`RELEASE_LIMIT`]), none before it.
    Event {
        mode: EventMode,
    },
}

/// The event scenario's event, or the broken one of a control.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum EventMode {
    /// `Event<SharedFutex>`.
    Real,
    /// The control: `Event<NoopSharedWake>`, whose `set` wakes no sleeper.
    NoopWake,
    /// The control: waiters that do not wait.
    NotWaiting,
}

struct Run {
    name: &'static str,
    kind: Kind,
    expect_fail: bool,
}

fn worker(kind: Kind, map: &Mapping, w: usize, n: usize, seed: u64, jitter_on: bool) {
    let mut rng = XorShift::new(seed, w as u64 + 1);
    let jitter = |rng: &mut XorShift| {
        if jitter_on {
            jitter(rng);
        }
    };
    match kind {
        Kind::Robust { repair } => {
            let a: &RobustArena = map.arena();
            while a.c.stop.load(SeqCst) == 0 {
                let (mut g, died) = match a.lock.lock() {
                    Ok(g) => (g, false),
                    Err(RobustError::OwnerDied(g)) => (g, true),
                    Err(_) => panic!("the robust lock became unrecoverable"),
                };
                if died {
                    a.c.owner_died.fetch_add(1, SeqCst);
                    // The dead owner was inside; so are we now.
                    a.c.inside.store(1, SeqCst);
                    if g[0] != g[1] && g[0] != g[1] + 1 {
                        a.c.bad_repair.fetch_add(1, SeqCst);
                    }
                    if repair {
                        g[1] = g[0];
                        g.mark_consistent();
                    } else {
                        // The broken control: carry on as if nothing happened.
                        g.mark_consistent();
                    }
                } else {
                    if a.c.inside.fetch_add(1, SeqCst) != 0 {
                        a.c.exclusion.fetch_add(1, SeqCst);
                    }
                    if g[0] != g[1] {
                        a.c.unreported_death.fetch_add(1, SeqCst);
                        g[1] = g[0]; // report once
                    }
                }
                g[0] += 1;
                jitter(&mut rng);
                g[1] += 1;
                a.c.acquisitions.fetch_add(1, SeqCst);
                a.c.inside.fetch_sub(1, SeqCst);
                drop(g);
                jitter(&mut rng);
            }
        }
        Kind::Mutex { locked } => {
            let a: &MutexArena = map.arena();
            while a.c.stop.load(SeqCst) == 0 {
                let g = if locked { Some(a.lock.lock()) } else { None };
                if a.c.inside.fetch_add(1, SeqCst) != 0 {
                    a.c.exclusion.fetch_add(1, SeqCst);
                }
                // The count, a plain u64 in the mapping, read and written with volatile accesses
                // (another process changes it; the compiler must not cache it).
                // SAFETY: in bounds of the mapping, aligned (a field of the `repr(C)` arena).
                let p =
                    unsafe { map.ptr.add(std::mem::offset_of!(MutexArena, count)) }.cast::<u64>();
                // SAFETY: under the lock, exclusive; in the control, a race on purpose between
                // processes (torn or lost updates of a u64, which the check counts).
                unsafe {
                    let v = p.read_volatile();
                    jitter(&mut rng);
                    p.write_volatile(v + 1);
                }
                a.c.acquisitions.fetch_add(1, SeqCst);
                a.c.inside.fetch_sub(1, SeqCst);
                drop(g);
                jitter(&mut rng);
            }
        }
        Kind::Semaphore { .. } => {
            let a: &SemaphoreArena = map.arena();
            let allowed = permits(n);
            let stop = || a.c.stop.load(SeqCst) != 0;
            while !stop() {
                let Some(p) = a.sem.acquire_until(stop) else {
                    continue;
                };
                if a.c.inside.fetch_add(1, SeqCst) >= allowed {
                    a.c.exclusion.fetch_add(1, SeqCst);
                }
                jitter(&mut rng);
                a.c.acquisitions.fetch_add(1, SeqCst);
                a.c.inside.fetch_sub(1, SeqCst);
                drop(p);
                jitter(&mut rng);
            }
        }
        Kind::Barrier { .. } => {
            let a: &BarrierArena = map.arena();
            let stop = || a.c.stop.load(SeqCst) != 0;
            let mut generation = 0u64;
            while !stop() {
                a.arrivals.fetch_add(1, SeqCst);
                if a.barrier.wait_until(stop).is_err() {
                    break; // the stop broke the barrier (a timeout breaks it for all)
                }
                generation += 1;
                // Everyone arrived at every generation up to this one.
                if a.arrivals.load(SeqCst) < generation * n as u64 {
                    a.c.exclusion.fetch_add(1, SeqCst);
                }
                a.c.acquisitions.fetch_add(1, SeqCst);
                jitter(&mut rng);
            }
        }
        Kind::RwLock { read_locked } => {
            let a: &RwArena = map.arena();
            // SAFETY: in bounds of the mapping, aligned (a field of the `repr(C)` arena).
            let words = unsafe { map.ptr.add(std::mem::offset_of!(RwArena, words)) }.cast::<u64>();
            while a.c.stop.load(SeqCst) == 0 {
                match rng.below(8) {
                    0 | 1 => {
                        let g = a.lock.write();
                        rw_write(a, words, &mut rng, jitter_on);
                        drop(g);
                    }
                    2 => {
                        // An upgradable read, then its upgrade and a write.
                        let u = a.lock.upgradable_read();
                        rw_read(a, words, &mut rng, jitter_on);
                        let g = RwLockUpgradableReadGuard::upgrade(u);
                        rw_write(a, words, &mut rng, jitter_on);
                        drop(g);
                    }
                    _ => {
                        let g = read_locked.then(|| a.lock.read());
                        rw_read(a, words, &mut rng, jitter_on);
                        drop(g);
                    }
                }
                a.c.acquisitions.fetch_add(1, SeqCst);
                jitter(&mut rng);
            }
        }
        Kind::Event { mode } => match mode {
            EventMode::NoopWake => {
                let a: &EventArena<NoopSharedWake> = map.arena();
                event_worker(a, w, n, false, &mut rng, jitter_on);
            }
            EventMode::Real | EventMode::NotWaiting => {
                let a: &EventArena<SharedFutex> = map.arena();
                event_worker(a, w, n, mode == EventMode::NotWaiting, &mut rng, jitter_on);
            }
        },
        Kind::Queue { batch } => {
            let a: &QueueArena = map.arena();
            let producers = n / 2;
            let stop = || a.c.stop.load(SeqCst) != 0;
            if w < producers {
                let mut seq = 0u64;
                while !stop() && seq < MAX_ITEMS {
                    let item = (w as u64) << 32 | seq;
                    if a.queue.put_until(item, &stop).is_ok() {
                        a.c.put[w].store(seq + 1, SeqCst);
                        seq += 1;
                    }
                    jitter(&mut rng);
                }
            } else {
                let mut last = [None::<u64>; MAX_WORKERS];
                let mut held = [0u64; MAX_BATCH];
                let mut k = 0;
                while !stop() {
                    if let Ok(item) = a.queue.get_until(&stop) {
                        held[k] = item;
                        k += 1;
                    }
                    if k < batch.min(MAX_BATCH) && !stop() {
                        continue;
                    }
                    for &item in &held[..k] {
                        let (p, seq) = ((item >> 32) as usize, item & 0xFFFF_FFFF);
                        if last[p].is_some_and(|l| l >= seq) {
                            a.c.order.fetch_add(1, SeqCst);
                        }
                        last[p] = Some(seq);
                        let bit = p * MAX_ITEMS as usize + seq as usize;
                        if a.seen[bit / 64].fetch_or(1 << (bit % 64), SeqCst) & (1 << (bit % 64))
                            != 0
                        {
                            a.c.duplicates.fetch_add(1, SeqCst);
                        }
                        a.c.received.fetch_add(1, SeqCst);
                        let _ = a.queue.task_done();
                    }
                    k = 0;
                    jitter(&mut rng);
                }
            }
        }
    }
}

// Every atomic of the checks is SeqCst, as in the rest of this file: the arguments are about
// the order of a handful of counter updates, and the cost is noise next to the waits.

/// Inside a read (or upgradable read) lock, or none (the control): no writer may be inside,
/// and the four words must be equal.
fn rw_read(a: &RwArena, words: *const u64, rng: &mut XorShift, jitter_on: bool) {
    a.readers_in.fetch_add(1, SeqCst);
    if a.writers_in.load(SeqCst) != 0 {
        a.c.exclusion.fetch_add(1, SeqCst);
    }
    let mut seen = [0u64; 4];
    for (i, word) in seen.iter_mut().enumerate() {
        // SAFETY: in bounds of the arena's four words, aligned. Under a read lock no writer
        // touches them (what is checked); in the control, a race on purpose between
        // processes, which the check counts.
        *word = unsafe { words.add(i).read_volatile() };
        if jitter_on {
            jitter(rng);
        }
    }
    if seen.iter().any(|&v| v != seen[0]) {
        a.c.torn.fetch_add(1, SeqCst);
    }
    a.readers_in.fetch_sub(1, SeqCst);
}

/// Inside the write lock: checks it is alone, then increments the four words one by one, with
/// race windows in between (a reader beside it sees them unequal).
fn rw_write(a: &RwArena, words: *mut u64, rng: &mut XorShift, jitter_on: bool) {
    let writers = a.writers_in.fetch_add(1, SeqCst);
    if writers != 0 || a.readers_in.load(SeqCst) != 0 {
        a.c.exclusion.fetch_add(1, SeqCst);
    }
    for i in 0..4 {
        // SAFETY: in bounds of the arena's four words, aligned; the write lock is held, so
        // this process alone touches them (what is checked).
        unsafe {
            let p = words.add(i);
            let v = p.read_volatile();
            if jitter_on {
                jitter(rng);
            }
            p.write_volatile(v + 1);
        }
    }
    a.writes.fetch_add(1, SeqCst);
    a.writers_in.fetch_sub(1, SeqCst);
}

/// Worker 0 sets the event in rounds, the others wait. For round `r` the setter clears the
/// event, zeroes the round's counters, publishes `r`, waits until every waiter has arrived
/// (each counts itself just before its wait), stores `set_round = r` and only then `set`s. A
/// waiter back from its wait must see `set_round >= r` (else it was released before the set);
/// the setter then waits until every waiter is back, and counts the round as not released if
/// that takes more than [`RELEASE_LIMIT`] (a lost wake-up). Waiters wait untimed (even
/// rounds) or until the stop ([`AtStop`], odd rounds): a wake that never comes stays a hang.
/// `not_waiting`: the control whose waiters skip the wait.
fn event_worker<W: SharedWait>(
    a: &EventArena<W>,
    w: usize,
    n: usize,
    not_waiting: bool,
    rng: &mut XorShift,
    jitter_on: bool,
) {
    let stop = || a.c.stop.load(SeqCst) != 0;
    let waiters = n as u64 - 1;
    if w == 0 {
        let mut r = 0;
        while !stop() {
            r += 1;
            a.event.clear();
            a.arrived.store(0, SeqCst);
            a.released.store(0, SeqCst);
            a.round.store(r, SeqCst);
            while a.arrived.load(SeqCst) < waiters {
                if stop() {
                    return;
                }
                std::thread::yield_now();
            }
            if jitter_on {
                jitter(rng);
            }
            if r % ASLEEP_EVERY == 0 {
                std::thread::sleep(ASLEEP_SETTLE);
            }
            a.set_round.store(r, SeqCst);
            a.event.set();
            let set_at = Instant::now();
            let mut reported = false;
            while a.released.load(SeqCst) < waiters {
                if stop() {
                    return;
                }
                if !reported && set_at.elapsed() > RELEASE_LIMIT {
                    reported = true;
                    a.c.not_released.fetch_add(1, SeqCst);
                }
                std::thread::yield_now();
            }
            a.c.acquisitions.fetch_add(1, SeqCst);
        }
    } else {
        let mut last = 0;
        while !stop() {
            let r = a.round.load(SeqCst);
            if r <= last {
                std::thread::yield_now();
                continue;
            }
            last = r;
            a.arrived.fetch_add(1, SeqCst);
            if !not_waiting {
                if r.is_multiple_of(2) {
                    a.event.wait();
                } else if a.event.wait_until(AtStop(&a.c.stop)).timed_out() {
                    return;
                }
                if stop() {
                    // Released by the parent's `set` after the stop (or one we cannot tell
                    // from it): not a round's.
                    return;
                }
            }
            if a.set_round.load(SeqCst) < r {
                a.c.early.fetch_add(1, SeqCst);
            }
            a.released.fetch_add(1, SeqCst);
        }
    }
}

/// The checks that failed, as (check, count, detail).
fn verdict(kind: Kind, map: &Mapping, n: usize, kills: u64, killed_consumers: u64) -> Vec<String> {
    let mut bad = Vec::new();
    let mut check = |name: &str, count: u64, detail: String| {
        if count != 0 {
            bad.push(format!("{name}: {count} ({detail})"));
        }
    };
    match kind {
        Kind::Robust { .. } => {
            let a: &RobustArena = map.arena();
            let c = &a.c;
            check(
                "mutual-exclusion",
                c.exclusion.load(SeqCst),
                "two inside at once".into(),
            );
            check(
                "death-reported",
                c.unreported_death.load(SeqCst),
                "a consistent acquisition found a dead owner's half-update".into(),
            );
            check(
                "repairable",
                c.bad_repair.load(SeqCst),
                "owner-died data neither before nor mid-update".into(),
            );
            let died = c.owner_died.load(SeqCst);
            check(
                "deaths<=kills",
                died.saturating_sub(kills),
                format!("{died} owner-died reports for {kills} kills"),
            );
            match a.lock.lock() {
                Ok(g) | Err(RobustError::OwnerDied(g)) => {
                    let acq = c.acquisitions.load(SeqCst);
                    let lost = g[0].abs_diff(acq);
                    check(
                        "count",
                        lost.saturating_sub(kills),
                        format!("data {} for {acq} acquisitions, {kills} kills", g[0]),
                    );
                }
                Err(e) => check("recoverable", 1, e.to_string()),
            }
        }
        Kind::Mutex { .. } => {
            let a: &MutexArena = map.arena();
            let c = &a.c;
            check(
                "mutual-exclusion",
                c.exclusion.load(SeqCst),
                "two inside at once".into(),
            );
            let acq = c.acquisitions.load(SeqCst);
            let _g = a.lock.lock();
            // SAFETY: every worker has exited; the field lies in the mapping.
            let v = unsafe {
                map.ptr
                    .add(std::mem::offset_of!(MutexArena, count))
                    .cast::<u64>()
                    .read_volatile()
            };
            check(
                "count",
                v.abs_diff(acq),
                format!("data {v} for {acq} acquisitions"),
            );
        }
        Kind::Semaphore { .. } | Kind::Barrier { .. } => {
            let c: &Counters = map.arena();
            let name = if matches!(kind, Kind::Semaphore { .. }) {
                "permits-respected"
            } else {
                "all-arrived"
            };
            check(
                name,
                c.exclusion.load(SeqCst),
                if name == "permits-respected" {
                    format!("more than {} holders at once", permits(n))
                } else {
                    "a worker left a generation before every worker arrived at it".into()
                },
            );
            check(
                "progress",
                u64::from(c.acquisitions.load(SeqCst) == 0),
                "no operation completed".into(),
            );
        }
        Kind::RwLock { .. } => {
            let a: &RwArena = map.arena();
            let c = &a.c;
            check(
                "mutual-exclusion",
                c.exclusion.load(SeqCst),
                "a writer beside another writer or a reader".into(),
            );
            check(
                "consistent-read",
                c.torn.load(SeqCst),
                "a reader saw the four words unequal (a write half done)".into(),
            );
            let writes = a.writes.load(SeqCst);
            let mut words = [0u64; 4];
            for (i, word) in words.iter_mut().enumerate() {
                // SAFETY: every worker has exited; the words lie in the mapping.
                *word = unsafe {
                    map.ptr
                        .add(std::mem::offset_of!(RwArena, words))
                        .cast::<u64>()
                        .add(i)
                        .read_volatile()
                };
            }
            check(
                "lost-updates",
                words.iter().map(|&v| v.abs_diff(writes)).max().unwrap_or(0),
                format!("words {words:?} after {writes} writes"),
            );
            check(
                "progress",
                u64::from(writes == 0),
                "no write completed".into(),
            );
        }
        Kind::Event { .. } => {
            let c: &Counters = map.arena();
            check(
                "released-after-set",
                c.early.load(SeqCst),
                "waiters back from their wait before their round's set".into(),
            );
            check(
                "every-waiter-released",
                c.not_released.load(SeqCst),
                format!(
                    "rounds whose waiters were not all back {RELEASE_LIMIT:?} after the set (a \
                     lost wake-up)"
                ),
            );
            check(
                "progress",
                u64::from(c.acquisitions.load(SeqCst) == 0),
                "no round completed".into(),
            );
        }
        Kind::Queue { .. } => {
            let a: &QueueArena = map.arena();
            let c = &a.c;
            check(
                "exactly-once",
                c.duplicates.load(SeqCst),
                "items delivered twice".into(),
            );
            check(
                "fifo-per-producer",
                c.order.load(SeqCst),
                "out of order".into(),
            );
            let mut drained = 0;
            while a.queue.pop().is_some() {
                drained += 1;
            }
            let put: u64 = (0..n / 2).map(|p| c.put[p].load(SeqCst)).sum();
            let got = c.received.load(SeqCst) + drained;
            check(
                "no-loss",
                put.saturating_sub(got).saturating_sub(killed_consumers),
                format!(
                    "{put} put, {got} received or drained, {killed_consumers} consumers killed"
                ),
            );
            check(
                "no-invention",
                got.saturating_sub(put + n as u64),
                format!("{got} received for {put} acknowledged puts"),
            );
        }
    }
    bad
}

/// What one process scenario found (a line of `--json`'s `scenarios`).
#[derive(Debug, Clone, Serialize)]
pub struct Outcome {
    /// The scenario.
    pub name: String,
    /// A negative control: its checks must fail.
    pub control: bool,
    /// Worker processes.
    pub processes: usize,
    /// Workers SIGKILLed (`--kill`).
    pub kills: u64,
    /// What was done (acquisitions, deaths reported, items received).
    pub info: String,
    /// The checks that failed, with counts and details.
    pub violations: Vec<String>,
    /// Passed: no violation, or (a control) caught.
    pub passed: bool,
}

/// `stress --processes --json`: the whole run.
#[derive(Debug, Clone, Serialize)]
pub struct ProcessReport {
    /// Always `processes`.
    pub mode: &'static str,
    /// `--kill`.
    pub kill: bool,
    /// `--jitter`.
    pub jitter: bool,
    /// The jitter seed.
    pub seed: u64,
    /// Per scenario, ms.
    pub duration_ms: u64,
    /// The CPUs the workers were pinned to.
    pub cpus: Vec<usize>,
    /// Every scenario and control.
    pub scenarios: Vec<Outcome>,
    /// Every scenario passed and every control was caught.
    pub ok: bool,
}

/// Runs one scenario (violations and hangs are printed).
fn run(
    r: &Run,
    plan: &Plan,
    duration: Duration,
    seed: u64,
    kill_workers: bool,
    jitter: bool,
) -> Outcome {
    // A control jitters always: its broken step must be hit within the run.
    let jitter = jitter || r.expect_fail;
    let n = plan.workers.len().clamp(2, MAX_WORKERS);
    let map = Mapping::new(
        std::mem::size_of::<QueueArena>()
            .max(std::mem::size_of::<SemaphoreArena>())
            .max(std::mem::size_of::<BarrierArena>())
            .max(std::mem::size_of::<RwArena>())
            .max(std::mem::size_of::<EventArena<SharedFutex>>())
            .max(1 << 16)
            .next_multiple_of(4096),
    );
    // The primitives that carry configuration are written before any worker attaches.
    match r.kind {
        Kind::Semaphore { extra } => {
            // SAFETY: the mapping is fresh, page-aligned and large enough; nobody uses it yet.
            let _: &Semaphore<SharedFutex> = unsafe {
                shared::create(
                    map.ptr().add(std::mem::offset_of!(SemaphoreArena, sem)),
                    Semaphore::with_wait(permits(n) + extra),
                )
            };
        }
        Kind::Barrier { short } => {
            // SAFETY: as above.
            let _: &Barrier<SharedFutex> = unsafe {
                shared::create(
                    map.ptr().add(std::mem::offset_of!(BarrierArena, barrier)),
                    Barrier::with_wait(n - short),
                )
            };
        }
        _ => {}
    }
    let mut pids: Vec<libc::pid_t> = (0..n)
        .map(|w| {
            let cpu = plan.workers[w % plan.workers.len()];
            let map = &map;
            spawn(cpu, move || worker(r.kind, map, w, n, seed, jitter))
        })
        .collect();
    let mut rng = XorShift::new(seed, 0xDEAD);
    let (mut kills, mut killed_consumers) = (0u64, 0u64);
    let until = Instant::now() + duration;
    // A control runs on (up to 5 s more) until its check has fired: with few kills in a short
    // run, none may land inside the critical section. (The queue control's loss is counted
    // at the end only: it runs the scenario's time, in which its consumers, killed while
    // holding several unacknowledged items, lose some.)
    let counters: &Counters = map.arena();
    let caught = || match r.kind {
        Kind::Queue { .. } => true,
        // The check the control is for: a read of a half-written value.
        Kind::RwLock { .. } => counters.torn.load(SeqCst) > 0,
        Kind::Event { .. } => counters.early.load(SeqCst) + counters.not_released.load(SeqCst) > 0,
        _ => counters.unreported_death.load(SeqCst) + counters.exclusion.load(SeqCst) > 0,
    };
    let control_until = until + Duration::from_secs(5);
    while Instant::now() < until || (r.expect_fail && !caught() && Instant::now() < control_until) {
        std::thread::sleep(Duration::from_millis(5 + u64::from(rng.below(40))));
        if !kill_workers {
            continue;
        }
        // Only consumers in the queue scenario (see the module doc).
        let w = match r.kind {
            Kind::Queue { .. } => n / 2 + rng.below((n - n / 2) as u32) as usize,
            _ => rng.below(n as u32) as usize,
        };
        kill(pids[w]);
        kills += 1;
        if matches!(r.kind, Kind::Queue { .. }) {
            killed_consumers += 1;
        }
        let cpu = plan.workers[w % plan.workers.len()];
        let map = &map;
        pids[w] = spawn(cpu, move || worker(r.kind, map, w, n, seed ^ kills, jitter));
    }
    let stop_word: &Counters = map.arena();
    stop_word.stop.store(1, SeqCst);
    let limit = Instant::now() + HANG_LIMIT;
    let mut hung = 0;
    let mut crashed = 0;
    // The event scenarios' release action: waiters asleep at the stop are woken by a `set`,
    // repeated while the workers leave (a setter that had not yet seen the stop may `clear`
    // after one). Under the no-op wake backend nobody is woken: the hang check reports it.
    let release: Option<Box<dyn Fn() + Sync + '_>> = match r.kind {
        Kind::Event {
            mode: EventMode::NoopWake,
        } => {
            let a: &EventArena<NoopSharedWake> = map.arena();
            Some(Box::new(move || a.event.set()))
        }
        Kind::Event { .. } => {
            let a: &EventArena<SharedFutex> = map.arena();
            Some(Box::new(move || a.event.set()))
        }
        _ => None,
    };
    let reaped = AtomicBool::new(false);
    std::thread::scope(|s| {
        if let Some(release) = &release {
            let reaped = &reaped;
            s.spawn(move || {
                while !reaped.load(SeqCst) {
                    release();
                    std::thread::sleep(Duration::from_millis(1));
                }
            });
        }
        for pid in pids {
            match reap(pid, limit) {
                Some(true) => {}
                Some(false) => crashed += 1,
                None => hung += 1,
            }
        }
        reaped.store(true, SeqCst);
    });
    let mut bad = verdict(r.kind, &map, n, kills, killed_consumers);
    if hung != 0 {
        bad.push(format!(
            "hang: {hung} workers still running {HANG_LIMIT:?} after the stop"
        ));
    }
    if crashed != 0 {
        bad.push(format!("crash: {crashed} workers panicked"));
    }
    let c: &Counters = map.arena();
    let info = match r.kind {
        Kind::Robust { .. } => format!(
            "{} acquisitions, {} owner deaths reported",
            c.acquisitions.load(SeqCst),
            c.owner_died.load(SeqCst)
        ),
        Kind::Mutex { .. } => format!("{} acquisitions", c.acquisitions.load(SeqCst)),
        Kind::Queue { .. } => format!("{} items received", c.received.load(SeqCst)),
        Kind::Semaphore { .. } => format!("{} acquisitions", c.acquisitions.load(SeqCst)),
        Kind::Barrier { .. } => format!("{} passes", c.acquisitions.load(SeqCst)),
        Kind::RwLock { .. } => {
            let a: &RwArena = map.arena();
            format!(
                "{} operations, {} writes",
                c.acquisitions.load(SeqCst),
                a.writes.load(SeqCst)
            )
        }
        Kind::Event { .. } => format!("{} rounds", c.acquisitions.load(SeqCst)),
    };
    let failed = !bad.is_empty();
    let status = match (failed, r.expect_fail) {
        (false, false) => "PASS",
        (true, true) => "PASS (control caught)",
        (false, true) => "FAIL (control not caught)",
        (true, false) => "FAIL",
    };
    println!(
        "{:<26} {n} processes{}: {info}: {status}",
        r.name,
        if kill_workers {
            format!(", {kills} killed")
        } else {
            String::new()
        }
    );
    if failed != r.expect_fail || r.expect_fail {
        for b in &bad {
            println!("    {b}");
        }
    }
    Outcome {
        name: r.name.to_string(),
        control: r.expect_fail,
        processes: n,
        kills,
        info,
        violations: bad,
        passed: failed == r.expect_fail,
    }
}

/// `stress --processes [--kill] [--jitter] [--json FILE]`: runs every process scenario and its
/// controls; the exit status is 1 if a scenario failed or a control was not caught (or the
/// JSON could not be written). Without `--jitter` the scenarios run without random delays;
/// the controls always jitter.
pub fn main(
    plan: &Plan,
    duration: Duration,
    seed: u64,
    kill_workers: bool,
    jitter: bool,
    json: Option<&mut std::fs::File>,
) -> i32 {
    println!(
        "stress --processes: {} worker processes on CPUs {:?}, {duration:?} per scenario, seed \
         {seed:#x}, jitter {}{}",
        plan.workers.len().clamp(2, MAX_WORKERS),
        plan.cpus,
        if jitter { "on" } else { "off (controls: on)" },
        if kill_workers {
            ", killing workers (SIGKILL) at random points"
        } else {
            ""
        }
    );
    let mut runs = vec![
        Run {
            name: "robust-mutex",
            kind: Kind::Robust { repair: true },
            expect_fail: false,
        },
        Run {
            name: "queue",
            kind: Kind::Queue { batch: 1 },
            expect_fail: false,
        },
    ];
    if kill_workers {
        runs.push(Run {
            name: "control: death ignored",
            kind: Kind::Robust { repair: false },
            expect_fail: true,
        });
        runs.push(Run {
            name: "control: late acks",
            kind: Kind::Queue { batch: MAX_BATCH },
            expect_fail: true,
        });
    } else {
        runs.push(Run {
            name: "shared-mutex",
            kind: Kind::Mutex { locked: true },
            expect_fail: false,
        });
        runs.push(Run {
            name: "control: no lock",
            kind: Kind::Mutex { locked: false },
            expect_fail: true,
        });
        // Not with --kill: a worker killed holding a permit, or before arriving, takes it
        // with it for ever (docs/processes.md); survivors would only wait for the stop.
        runs.push(Run {
            name: "semaphore",
            kind: Kind::Semaphore { extra: 0 },
            expect_fail: false,
        });
        runs.push(Run {
            name: "control: one permit too many",
            kind: Kind::Semaphore { extra: 1 },
            expect_fail: true,
        });
        runs.push(Run {
            name: "barrier",
            kind: Kind::Barrier { short: 0 },
            expect_fail: false,
        });
        runs.push(Run {
            name: "control: one party short",
            kind: Kind::Barrier { short: 1 },
            expect_fail: true,
        });
        // Not with --kill either: a reader or writer killed inside holds the lock for ever.
        runs.push(Run {
            name: "rwlock",
            kind: Kind::RwLock { read_locked: true },
            expect_fail: false,
        });
        runs.push(Run {
            name: "control: unlocked reads",
            kind: Kind::RwLock { read_locked: false },
            expect_fail: true,
        });
        // Not with --kill: a killed setter's round (and a killed waiter's) never completes.
        runs.push(Run {
            name: "event",
            kind: Kind::Event {
                mode: EventMode::Real,
            },
            expect_fail: false,
        });
        runs.push(Run {
            name: "control: not waiting",
            kind: Kind::Event {
                mode: EventMode::NotWaiting,
            },
            expect_fail: true,
        });
        runs.push(Run {
            name: "control: set wakes nobody",
            kind: Kind::Event {
                mode: EventMode::NoopWake,
            },
            expect_fail: true,
        });
    }
    let scenarios: Vec<Outcome> = runs
        .iter()
        .map(|r| run(r, plan, duration, seed, kill_workers, jitter))
        .collect();
    let mut ok = scenarios.iter().all(|o| o.passed);
    if let Some(file) = json {
        let report = ProcessReport {
            mode: "processes",
            kill: kill_workers,
            jitter,
            seed,
            duration_ms: duration.as_millis() as u64,
            cpus: plan.workers.clone(),
            scenarios,
            ok,
        };
        use std::io::Write as _;
        let written = serde_json::to_writer_pretty(&mut *file, &report)
            .map_err(std::io::Error::from)
            .and_then(|()| writeln!(file));
        if let Err(e) = written {
            eprintln!("error: writing the JSON report: {e}");
            ok = false;
        }
    }
    if ok {
        EXIT_OK
    } else {
        EXIT_VIOLATION
    }
}
