//! Processes (Linux): the shared-memory primitives measured with forked worker PROCESSES, one
//! pinned per CPU of the run, every primitive in one anonymous `MAP_SHARED` mapping, next to
//! what a Linux program would otherwise use between processes (through `libc`): a
//! process-shared `pthread_mutex_t` (the reference of every lock row), a robust one, a POSIX
//! unnamed semaphore (`sem_init(.., pshared = 1, ..)`), a pipe for the queue, a
//! process-shared `pthread_barrier_t`, and a flag under a process-shared mutex and condition
//! variable for the event.
//!
//! Each window forks its processes afresh (the fork is outside the timed part: they start on
//! a shared go word, and a window runs from the go to the end of the last counted operation),
//! so every candidate of a round sees the same host; rounds interleave as in every group.
//!
//! - `mutex, uncontended`: one process, lock + unlock, ns per pair.
//! - `mutex, contended`: one process per core, lock, increment a counter in the mapping,
//!   unlock; ops/s of all and fairness.
//! - `semaphore, 1 permit`: one process per core, acquire + release; ops/s.
//! - `queue, 1 producer + 1 consumer`: `u64` items from one process to another; items/s
//!   received. The pipe carries each item in one 8-byte `write` (one message per `put`).
//! - `barrier`: one process per core, barrier waits in a loop; rounds/s (the slowest
//!   process's count; processes left waiting when the window stops are killed).
//! - `event ping-pong`: two processes hand a turn back and forth through two events (set,
//!   wait, clear); ns per round trip.
//! - `owner death`: a process holding a robust lock is SIGKILLed while another waits in
//!   `lock`; the latency from the `kill` to the waiter's return with "owner died", p50 and max
//!   over the kills of a window (the value is the median). The robust `pthread_mutex_t` is told
//!   by the kernel (its robust futex list is walked when the thread dies); baresync's
//!   `RobustMutex` waiter notices by its liveness check, every `check_interval()` (10 ms), so
//!   each kill comes a random 1 to 13 ms after the waiter went to sleep, sampling where in
//!   that interval a death falls.

use super::{Candidate, Env, Experiment, Group, Histogram, Sample, Unit};
use crate::rng::XorShift;
use crate::stress::process::{kill, reap, spawn, Mapping};
use baresync::shared::{self, Shareable};
use baresync::sync::atomic::{AtomicU32, AtomicU64, Ordering::Relaxed, Ordering::SeqCst};
use baresync::SharedFutex;
use baresync::{Barrier, CachePadded, Event, Mutex, Queue, RobustError, RobustMutex, Semaphore};
use std::time::{Duration, Instant};

/// The reference of the ratios: the OS's own primitive for the row's case, through libc.
pub const REFERENCE: &str = "libc (pthread / POSIX / pipe)";

const MAX_PROCS: usize = 64;
/// Where the primitives start in the mapping (the control block is before).
const PRIM: usize = 64 * 1024;
const MAP_LEN: usize = 128 * 1024;
/// How long processes still running after the stop get before they are killed (barrier
/// waiters left behind; anything else there is a bug in the bench).
const GRACE: Duration = Duration::from_millis(50);

/// The control block at the start of every mapping.
#[repr(C)]
struct Ctl {
    ready: AtomicU32,
    go: AtomicU32,
    stop: AtomicU32,
    /// Operations of each process (written as it goes or at its end).
    counts: [CachePadded<AtomicU64>; MAX_PROCS],
    /// When each process's last counted operation ended, ns on the run's clock.
    ended: [AtomicU64; MAX_PROCS],
    /// Owner death: the owner holds the lock; the waiter is about to lock.
    held: AtomicU32,
    waiting: AtomicU32,
    /// Owner death: the waiter's return, ns; the outcome (1: owner died reported).
    acquired_ns: AtomicU64,
    outcome: AtomicU32,
}
// SAFETY: `repr(C)`, atomics only, zero is the initial state.
unsafe impl Shareable for Ctl {}

/// One window's mapping: the control block, and the primitives at [`PRIM`].
struct Arena {
    map: Mapping,
}

impl Arena {
    fn new() -> Arena {
        Arena {
            map: Mapping::new(MAP_LEN),
        }
    }
    fn ctl(&self) -> &Ctl {
        const { assert!(std::mem::size_of::<Ctl>() <= PRIM) };
        self.map.arena()
    }
    /// The primitive region, for the libc objects (initialized in place by their `_init`).
    fn raw<T>(&self) -> *mut T {
        assert!(std::mem::size_of::<T>() <= MAP_LEN - PRIM);
        // SAFETY: in bounds of the mapping (just checked), page-aligned + 64 KiB.
        unsafe { self.map.ptr().add(PRIM) }.cast()
    }
    /// The primitive region as a shareable baresync type (zero: new).
    fn shared<T: Shareable>(&self) -> &T {
        // SAFETY: aligned, in bounds (`raw` checks), zeroed, touched only through `T`.
        unsafe { shared::attach(self.raw::<u8>()) }
    }
    /// Writes `value` into the primitive region, before any process attaches.
    fn create<T: Shareable>(&self, value: T) -> &T {
        // SAFETY: as in `shared`; nobody else uses the region yet.
        unsafe { shared::create(self.raw::<u8>(), value) }
    }
}

/// Forks `n` processes pinned as `env` says, starts them together, stops them after the
/// window and reaps them; `body(i, ctl)` runs in process `i` and returns its count. Bodies
/// also publish their count as they go (`ctl.counts[i]`, a line of their own), so a process
/// still blocked [`GRACE`] after the stop (killed then) is counted too.
fn window(
    env: &Env,
    a: &Arena,
    n: usize,
    body: impl Fn(usize, &Ctl) -> u64,
) -> (Vec<u64>, Duration) {
    let ctl = a.ctl();
    let pids: Vec<libc::pid_t> = (0..n)
        .map(|i| {
            let body = &body;
            spawn(env.cpu(i), move || {
                ctl.ready.fetch_add(1, SeqCst);
                while ctl.go.load(SeqCst) == 0 {
                    std::hint::spin_loop();
                }
                let c = body(i, ctl);
                ctl.counts[i].store(c, SeqCst);
                ctl.ended[i].store(env.now_ns(), SeqCst);
            })
        })
        .collect();
    let ready_until = Instant::now() + Duration::from_secs(10);
    while ctl.ready.load(SeqCst) < n as u32 && Instant::now() < ready_until {
        std::thread::yield_now();
    }
    let t0 = env.now_ns();
    ctl.go.store(1, SeqCst);
    std::thread::sleep(env.window);
    ctl.stop.store(1, SeqCst);
    let stopped = env.now_ns();
    let limit = Instant::now() + GRACE;
    for pid in pids {
        let _ = reap(pid, limit);
    }
    let counts: Vec<u64> = (0..n).map(|i| ctl.counts[i].load(SeqCst)).collect();
    let end = (0..n)
        .map(|i| ctl.ended[i].load(SeqCst))
        .max()
        .unwrap_or(0)
        .max(stopped);
    (counts, Duration::from_nanos(end.saturating_sub(t0)))
}

fn ops_per_sec(counts: Vec<u64>, busy: Duration) -> Sample {
    let total: u64 = counts.iter().sum();
    Sample {
        value: (total > 0).then(|| total as f64 / busy.as_secs_f64()),
        counts,
        ..Sample::default()
    }
}

fn ns_per_op(ops: u64, busy: Duration) -> Sample {
    Sample {
        value: (ops > 0).then(|| busy.as_nanos() as f64 / ops as f64),
        ..Sample::default()
    }
}

// ---- the libc objects, initialized in the mapping ----

/// A process-shared (and optionally robust) `pthread_mutex_t` at `m`.
///
/// # Safety
///
/// `m` points to writable memory for a `pthread_mutex_t` that nothing uses yet.
unsafe fn pthread_mutex_init(m: *mut libc::pthread_mutex_t, robust: bool) {
    // SAFETY: `attr` is initialized by `pthread_mutexattr_init` before use and destroyed
    // after; `m` as the caller promises.
    unsafe {
        let mut attr: libc::pthread_mutexattr_t = std::mem::zeroed();
        assert_eq!(libc::pthread_mutexattr_init(&mut attr), 0);
        assert_eq!(
            libc::pthread_mutexattr_setpshared(&mut attr, libc::PTHREAD_PROCESS_SHARED),
            0
        );
        if robust {
            assert_eq!(
                libc::pthread_mutexattr_setrobust(&mut attr, libc::PTHREAD_MUTEX_ROBUST),
                0
            );
        }
        assert_eq!(libc::pthread_mutex_init(m, &attr), 0);
        libc::pthread_mutexattr_destroy(&mut attr);
    }
}

/// The mutexes of the lock rows.
#[derive(Clone, Copy)]
enum LockKind {
    Baresync,
    Robust,
    Pthread,
    PthreadRobust,
}

#[repr(C)]
struct PthreadLock {
    m: libc::pthread_mutex_t,
    data: u64,
}

fn lock_window(env: &Env, kind: LockKind, n: usize) -> (Vec<u64>, Duration) {
    let a = Arena::new();
    match kind {
        LockKind::Baresync => {
            let m: &CachePadded<Mutex<u64, SharedFutex>> = a.shared();
            window(env, &a, n, |i, ctl| {
                let mut k = 0;
                while ctl.stop.load(Relaxed) == 0 {
                    *m.lock() += 1;
                    k += 1;
                    ctl.counts[i].store(k, Relaxed);
                }
                k
            })
        }
        LockKind::Robust => {
            let m: &CachePadded<RobustMutex<u64>> = a.shared();
            window(env, &a, n, |i, ctl| {
                let mut k = 0;
                while ctl.stop.load(Relaxed) == 0 {
                    match m.lock() {
                        Ok(mut g) => *g += 1,
                        Err(_) => panic!("no owner dies in this window"),
                    }
                    k += 1;
                    ctl.counts[i].store(k, Relaxed);
                }
                k
            })
        }
        LockKind::Pthread | LockKind::PthreadRobust => {
            let p = a.raw::<PthreadLock>();
            // SAFETY: the region is ours and unused until the fork.
            unsafe {
                pthread_mutex_init(
                    std::ptr::addr_of_mut!((*p).m),
                    matches!(kind, LockKind::PthreadRobust),
                )
            };
            window(env, &a, n, |i, ctl| {
                let mut k = 0;
                while ctl.stop.load(Relaxed) == 0 {
                    // SAFETY: an initialized process-shared mutex in the mapping; `data` is
                    // touched only while holding it.
                    unsafe {
                        let m = std::ptr::addr_of_mut!((*p).m);
                        assert_eq!(libc::pthread_mutex_lock(m), 0);
                        let d = std::ptr::addr_of_mut!((*p).data);
                        d.write_volatile(d.read_volatile() + 1);
                        libc::pthread_mutex_unlock(m);
                    }
                    k += 1;
                    ctl.counts[i].store(k, Relaxed);
                }
                k
            })
        }
    }
}

fn lock_uncontended(env: &Env, kind: LockKind) -> Sample {
    // One process; the window's count is of lock + unlock pairs (the loop checks the stop
    // word once per pair, as in the contended rows).
    let (counts, busy) = lock_window(env, kind, 1);
    ns_per_op(counts[0], busy)
}

fn lock_contended(env: &Env, kind: LockKind, n: usize) -> Sample {
    let (counts, busy) = lock_window(env, kind, n);
    ops_per_sec(counts, busy)
}

fn semaphore(env: &Env, posix: bool, n: usize) -> Sample {
    let a = Arena::new();
    let (counts, busy) = if posix {
        let s = a.raw::<libc::sem_t>();
        // SAFETY: unused memory for a sem_t; pshared = 1, one permit.
        assert_eq!(unsafe { libc::sem_init(s, 1, 1) }, 0);
        window(env, &a, n, |i, ctl| {
            let mut k = 0;
            while ctl.stop.load(Relaxed) == 0 {
                // SAFETY: an initialized process-shared semaphore in the mapping.
                unsafe {
                    while libc::sem_wait(s) != 0 {}
                    libc::sem_post(s);
                }
                k += 1;
                ctl.counts[i].store(k, Relaxed);
            }
            k
        })
    } else {
        let s: &Semaphore<SharedFutex> = a.create(Semaphore::with_wait(1));
        window(env, &a, n, |i, ctl| {
            let mut k = 0;
            while ctl.stop.load(Relaxed) == 0 {
                drop(s.acquire());
                k += 1;
                ctl.counts[i].store(k, Relaxed);
            }
            k
        })
    };
    ops_per_sec(counts, busy)
}

fn queue(env: &Env, pipe: bool) -> Sample {
    let a = Arena::new();
    let (counts, busy) = if pipe {
        let mut fds = [0; 2];
        // SAFETY: `fds` has room for the two descriptors.
        assert_eq!(unsafe { libc::pipe(fds.as_mut_ptr()) }, 0);
        let [rd, wr] = fds;
        let r = window(env, &a, 2, |i, ctl| {
            let mut k = 0u64;
            if i == 0 {
                // SAFETY: our copy of the read end, not used by the producer.
                unsafe { libc::close(rd) };
                while ctl.stop.load(Relaxed) == 0 {
                    let item = k;
                    // SAFETY: writes the 8 bytes of `item` (atomic: below PIPE_BUF).
                    let w = unsafe { libc::write(wr, (&raw const item).cast(), 8) };
                    if w != 8 {
                        break;
                    }
                    k += 1;
                    ctl.counts[i].store(k, Relaxed);
                }
                // The consumer sees the end of the file once the producer exits.
                0
            } else {
                // SAFETY: our copy of the write end, so that the producer's exit ends the file.
                unsafe { libc::close(wr) };
                let mut item = 0u64;
                loop {
                    // SAFETY: reads at most 8 bytes into `item`.
                    let got = unsafe { libc::read(rd, (&raw mut item).cast(), 8) };
                    if got != 8 || ctl.stop.load(Relaxed) != 0 {
                        break;
                    }
                    k += 1;
                    ctl.counts[i].store(k, Relaxed);
                }
                k
            }
        });
        // SAFETY: the parent's copies, no longer needed.
        unsafe {
            libc::close(rd);
            libc::close(wr);
        }
        r
    } else {
        let q: &Queue<u64, 64, SharedFutex> = a.shared();
        window(env, &a, 2, |i, ctl| {
            let stop = || ctl.stop.load(Relaxed) != 0;
            let mut k = 0u64;
            if i == 0 {
                while !stop() {
                    if q.put_until(k, stop).is_err() {
                        break;
                    }
                    k += 1;
                    ctl.counts[i].store(k, Relaxed);
                }
                0
            } else {
                while q.get_until(stop).is_ok() && !stop() {
                    k += 1;
                    ctl.counts[i].store(k, Relaxed);
                }
                k
            }
        })
    };
    ops_per_sec(counts[1..].to_vec(), busy)
}

fn barrier(env: &Env, pthread: bool, n: usize) -> Sample {
    let a = Arena::new();
    let counts = if pthread {
        let b = a.raw::<libc::pthread_barrier_t>();
        // SAFETY: `attr` initialized before use; `b` unused memory for a barrier.
        unsafe {
            let mut attr: libc::pthread_barrierattr_t = std::mem::zeroed();
            assert_eq!(libc::pthread_barrierattr_init(&mut attr), 0);
            assert_eq!(
                libc::pthread_barrierattr_setpshared(&mut attr, libc::PTHREAD_PROCESS_SHARED),
                0
            );
            assert_eq!(libc::pthread_barrier_init(b, &attr, n as u32), 0);
            libc::pthread_barrierattr_destroy(&mut attr);
        }
        window(env, &a, n, |i, ctl| {
            let mut k = 0;
            while ctl.stop.load(Relaxed) == 0 {
                // SAFETY: an initialized process-shared barrier in the mapping.
                unsafe { libc::pthread_barrier_wait(b) };
                k += 1;
                ctl.counts[i].store(k, Relaxed);
            }
            k
        })
        .0
    } else {
        let b: &Barrier<SharedFutex> = a.create(Barrier::with_wait(n));
        window(env, &a, n, |i, ctl| {
            let mut k = 0;
            while ctl.stop.load(Relaxed) == 0 {
                if b.wait().is_err() {
                    break;
                }
                k += 1;
                ctl.counts[i].store(k, Relaxed);
            }
            k
        })
        .0
    };
    // The rounds every process completed, over the window (those left waiting at the stop
    // were killed: their last round did not complete).
    let rounds = counts.iter().copied().min().unwrap_or(0);
    Sample {
        value: (rounds > 0).then(|| rounds as f64 / env.window.as_secs_f64()),
        counts,
        ..Sample::default()
    }
}

/// An event made of a flag under a process-shared mutex and condition variable (on the
/// monotonic clock, so waits can poll the stop word).
#[repr(C)]
struct PthreadEvent {
    m: libc::pthread_mutex_t,
    c: libc::pthread_cond_t,
    flag: u32,
}

impl PthreadEvent {
    /// # Safety
    ///
    /// `p` points to unused writable memory for a `PthreadEvent`.
    unsafe fn init(p: *mut PthreadEvent) {
        // SAFETY: as the caller promises; `attr` initialized before use.
        unsafe {
            pthread_mutex_init(std::ptr::addr_of_mut!((*p).m), false);
            let mut attr: libc::pthread_condattr_t = std::mem::zeroed();
            assert_eq!(libc::pthread_condattr_init(&mut attr), 0);
            assert_eq!(
                libc::pthread_condattr_setpshared(&mut attr, libc::PTHREAD_PROCESS_SHARED),
                0
            );
            assert_eq!(
                libc::pthread_condattr_setclock(&mut attr, libc::CLOCK_MONOTONIC),
                0
            );
            assert_eq!(
                libc::pthread_cond_init(std::ptr::addr_of_mut!((*p).c), &attr),
                0
            );
            libc::pthread_condattr_destroy(&mut attr);
        }
    }

    /// # Safety
    ///
    /// `p` was initialized by `init`.
    unsafe fn set(p: *mut PthreadEvent) {
        // SAFETY: as the caller promises; `flag` only under the mutex.
        unsafe {
            libc::pthread_mutex_lock(std::ptr::addr_of_mut!((*p).m));
            (*p).flag = 1;
            libc::pthread_cond_broadcast(std::ptr::addr_of_mut!((*p).c));
            libc::pthread_mutex_unlock(std::ptr::addr_of_mut!((*p).m));
        }
    }

    /// Waits for the flag and clears it; `false` if `stop` turned first.
    ///
    /// # Safety
    ///
    /// `p` was initialized by `init`.
    unsafe fn wait_clear(p: *mut PthreadEvent, stop: &AtomicU32) -> bool {
        // SAFETY: as the caller promises; `flag` only under the mutex.
        unsafe {
            let m = std::ptr::addr_of_mut!((*p).m);
            libc::pthread_mutex_lock(m);
            while (*p).flag == 0 && stop.load(Relaxed) == 0 {
                let mut ts: libc::timespec = std::mem::zeroed();
                libc::clock_gettime(libc::CLOCK_MONOTONIC, &mut ts);
                ts.tv_nsec += 1_000_000;
                if ts.tv_nsec >= 1_000_000_000 {
                    ts.tv_sec += 1;
                    ts.tv_nsec -= 1_000_000_000;
                }
                libc::pthread_cond_timedwait(std::ptr::addr_of_mut!((*p).c), m, &ts);
            }
            let got = (*p).flag != 0;
            (*p).flag = 0;
            libc::pthread_mutex_unlock(m);
            got
        }
    }
}

fn event(env: &Env, pthread: bool) -> Sample {
    let a = Arena::new();
    let (counts, busy) = if pthread {
        let e = a.raw::<[PthreadEvent; 2]>();
        // SAFETY: unused memory for the two events.
        unsafe {
            PthreadEvent::init(std::ptr::addr_of_mut!((*e)[0]));
            PthreadEvent::init(std::ptr::addr_of_mut!((*e)[1]));
        }
        window(env, &a, 2, |i, ctl| {
            // SAFETY: both events initialized above, in the mapping.
            let (mine, theirs) = unsafe {
                (
                    std::ptr::addr_of_mut!((*e)[i]),
                    std::ptr::addr_of_mut!((*e)[1 - i]),
                )
            };
            let mut k = 0;
            if i == 0 {
                // SAFETY: as above.
                unsafe { PthreadEvent::set(theirs) };
            }
            // SAFETY: as above.
            while unsafe { PthreadEvent::wait_clear(mine, &ctl.stop) } {
                // SAFETY: as above.
                unsafe { PthreadEvent::set(theirs) };
                k += 1;
                ctl.counts[i].store(k, Relaxed);
            }
            k
        })
    } else {
        let e: &[Event<SharedFutex>; 2] = a.shared();
        window(env, &a, 2, |i, ctl| {
            let (mine, theirs) = (&e[i], &e[1 - i]);
            let mut k = 0;
            if i == 0 {
                theirs.set();
            }
            while !mine.wait_until(|| ctl.stop.load(Relaxed) != 0).timed_out() {
                mine.clear();
                theirs.set();
                k += 1;
                ctl.counts[i].store(k, Relaxed);
            }
            k
        })
    };
    // Each process counts the turns it got; a round trip is one turn of each.
    ns_per_op(counts.iter().copied().min().unwrap_or(0), busy)
}

/// Kills per window of the owner-death rows: about one per 6 ms of window, 3 to 25.
fn kills_per_window(window: Duration) -> usize {
    ((window.as_millis() / 6) as usize).clamp(3, 25)
}

/// Owner death: `kills` times, a process takes the robust lock and holds it, another waits in
/// `lock`, the first is SIGKILLed; the latency from the kill to the waiter's return.
fn owner_death(env: &Env, pthread: bool) -> Sample {
    let a = Arena::new();
    let ctl = a.ctl();
    let pm = a.raw::<libc::pthread_mutex_t>();
    if pthread {
        // SAFETY: unused memory for the mutex.
        unsafe { pthread_mutex_init(pm, true) };
    }
    let rm: &RobustMutex<u64> = a.shared();
    let mut h = Histogram::new();
    let mut failures = 0u64;
    let kills = kills_per_window(env.window);
    let mut rng = XorShift::new(env.now_ns(), 0x0D1E);
    for _ in 0..kills {
        ctl.held.store(0, SeqCst);
        ctl.waiting.store(0, SeqCst);
        ctl.outcome.store(0, SeqCst);
        let owner = spawn(env.cpu(0), || {
            if pthread {
                // SAFETY: the initialized robust mutex; held until this process is killed.
                let r = unsafe { libc::pthread_mutex_lock(pm) };
                if r == libc::EOWNERDEAD {
                    // SAFETY: held, as above.
                    unsafe { libc::pthread_mutex_consistent(pm) };
                }
                ctl.held.store(1, SeqCst);
            } else {
                let g = match rm.lock() {
                    Ok(g) => g,
                    Err(RobustError::OwnerDied(mut g)) => {
                        g.mark_consistent();
                        g
                    }
                    Err(e) => panic!("{e}"),
                };
                ctl.held.store(1, SeqCst);
                std::mem::forget(g);
            }
            loop {
                std::thread::sleep(Duration::from_secs(1));
            }
        });
        let until = Instant::now() + Duration::from_secs(5);
        while ctl.held.load(SeqCst) == 0 && Instant::now() < until {
            std::thread::yield_now();
        }
        let waiter = spawn(env.cpu(1), || {
            ctl.waiting.store(1, SeqCst);
            let died = if pthread {
                // SAFETY: the initialized robust mutex.
                let r = unsafe { libc::pthread_mutex_lock(pm) };
                ctl.acquired_ns.store(env.now_ns(), SeqCst);
                let died = r == libc::EOWNERDEAD;
                // SAFETY: held (locked above, or told "owner died", which also holds it).
                unsafe {
                    if died {
                        libc::pthread_mutex_consistent(pm);
                    }
                    libc::pthread_mutex_unlock(pm);
                }
                died
            } else {
                let r = rm.lock();
                ctl.acquired_ns.store(env.now_ns(), SeqCst);
                match r {
                    Err(RobustError::OwnerDied(mut g)) => {
                        g.mark_consistent();
                        true
                    }
                    _ => false,
                }
            };
            ctl.outcome.store(u32::from(died), SeqCst);
        });
        while ctl.waiting.load(SeqCst) == 0 && Instant::now() < until {
            std::thread::yield_now();
        }
        // Let the waiter get into `lock` and to sleep, for a random while: the latency of a
        // liveness check depends on where the death falls in the waiter's check interval,
        // so the kills sample that phase (1 to 13 ms, more than one 10 ms interval).
        std::thread::sleep(Duration::from_micros(1000 + u64::from(rng.below(12_000))));
        let t_kill = env.now_ns();
        kill(owner);
        let clean = reap(waiter, Instant::now() + Duration::from_secs(5));
        if clean == Some(true) && ctl.outcome.load(SeqCst) == 1 {
            h.record(ctl.acquired_ns.load(SeqCst).saturating_sub(t_kill));
        } else {
            failures += 1;
        }
    }
    if failures > 0 {
        eprintln!("bench processes: owner death not reported {failures} time(s) of {kills}");
    }
    let latency = h.percentiles();
    Sample {
        value: latency.map(|p| p.p50),
        events: Some(h.count()),
        latency,
        ..Sample::default()
    }
}

/// The processes group for `cores` cores.
pub fn group(cores: usize) -> Group {
    let n = cores.max(2);
    let locks = |contended: bool| {
        [
            ("baresync::Mutex<SharedFutex>", false, LockKind::Baresync),
            ("baresync::RobustMutex", false, LockKind::Robust),
            (REFERENCE, true, LockKind::Pthread),
            (
                "pthread_mutex_t (pshared, robust)",
                true,
                LockKind::PthreadRobust,
            ),
        ]
        .into_iter()
        .map(|(name, baseline, kind)| {
            if contended {
                Candidate::new(name, baseline, move |env| lock_contended(env, kind, n))
            } else {
                Candidate::new(name, baseline, move |env| lock_uncontended(env, kind))
            }
        })
        .collect()
    };
    let pair = |ours: &str, f: fn(&Env, bool) -> Sample| {
        vec![
            Candidate::new(ours, false, move |env| f(env, false)),
            Candidate::new(REFERENCE, true, move |env| f(env, true)),
        ]
    };
    let exp = |case: &str, threads, unit, candidates| Experiment {
        case: case.into(),
        threads,
        unit,
        relative_to_floor: false,
        candidates,
    };
    Group {
        name: "processes",
        title: "shared-memory primitives between forked processes (one per core), next to the \
                OS's own (libc: a process-shared pthread_mutex_t, sem_t, a pipe, \
                pthread_barrier_t, a mutex + condition variable flag, a robust pthread_mutex_t)",
        reference: REFERENCE,
        experiments: vec![
            exp(
                "mutex, uncontended (libc: pthread_mutex_t pshared)",
                1,
                Unit::NsPerOp,
                locks(false),
            ),
            exp(
                "mutex, contended (libc: pthread_mutex_t pshared)",
                n,
                Unit::OpsPerSec,
                locks(true),
            ),
            exp(
                "semaphore, 1 permit (libc: sem_t pshared)",
                n,
                Unit::OpsPerSec,
                vec![
                    Candidate::new("baresync::Semaphore<SharedFutex>", false, move |env| {
                        semaphore(env, false, n)
                    }),
                    Candidate::new(REFERENCE, true, move |env| semaphore(env, true, n)),
                ],
            ),
            exp(
                "queue, 1 producer + 1 consumer (libc: a pipe, 8-byte writes)",
                2,
                Unit::OpsPerSec,
                pair("baresync::Queue<u64, 64, SharedFutex>", queue),
            ),
            exp(
                "barrier rounds (libc: pthread_barrier_t pshared)",
                n,
                Unit::OpsPerSec,
                vec![
                    Candidate::new("baresync::Barrier<SharedFutex>", false, move |env| {
                        barrier(env, false, n)
                    }),
                    Candidate::new(REFERENCE, true, move |env| barrier(env, true, n)),
                ],
            ),
            exp(
                "event ping-pong, per round trip (libc: flag + pthread mutex/cond pshared)",
                2,
                Unit::NsPerOp,
                pair("baresync::Event<SharedFutex>", event),
            ),
            exp(
                "owner death: SIGKILL to the waiter's 'owner died' (libc: robust pthread_mutex_t)",
                2,
                Unit::Ns,
                pair("baresync::RobustMutex", owner_death),
            ),
        ],
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env() -> Env {
        let cpus = crate::topology::Topology::detect().core_cpus();
        Env {
            cpus,
            // Long enough that a process descheduled by the other builds still counts.
            window: Duration::from_millis(50),
            origin: Instant::now(),
        }
    }

    /// Every candidate measures something (processes started, counted, reaped), and the
    /// owner-death rows saw every death reported.
    #[test]
    fn every_candidate_measures() {
        let env = env();
        for e in group(2).experiments {
            for c in &e.candidates {
                let s = (c.run)(&env);
                assert!(
                    s.value.is_some_and(|v| v > 0.0),
                    "{} / {}: {:?}",
                    e.case,
                    c.name,
                    s.value
                );
                if e.unit == Unit::Ns {
                    assert_eq!(s.events, Some(kills_per_window(env.window) as u64));
                }
            }
        }
    }
}
