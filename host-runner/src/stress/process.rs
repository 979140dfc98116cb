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
//! The workers wait with deadlines that poll the stop word, so survivors leave when the
//! parent stops the run; a worker still running 10 s after the stop is a hang.
//!
//! What is not shared with the threaded scenarios: the worker bodies are written again here
//! (the threaded harness's `RunCtx` owns its workers through `Arc`s and threads).

use crate::args::{EXIT_OK, EXIT_VIOLATION};
use crate::pin::{pin_current, Plan};
use crate::rng::XorShift;
use baresync::shared::{self, Shareable};
use baresync::sync::atomic::{AtomicU32, AtomicU64, Ordering::SeqCst};
use baresync::{JoinableQueue, Mutex, RobustError, RobustMutex, SharedFutex};
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
            .max(1 << 16)
            .next_multiple_of(4096),
    );
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
    let caught = || {
        matches!(r.kind, Kind::Queue { .. })
            || counters.unreported_death.load(SeqCst) + counters.exclusion.load(SeqCst) > 0
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
    for pid in pids {
        match reap(pid, limit) {
            Some(true) => {}
            Some(false) => crashed += 1,
            None => hung += 1,
        }
    }
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
