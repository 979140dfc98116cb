//! Reader-writer exclusion, consistent reads and writer preference for `RwLock<T, W>` and
//! `SpinRwLock<T>` (in the `RwLock` family: the same checks).
//!
//! Each operation is a read (most), a write, or an upgradable read that upgrades and writes.
//! The data is four plain `u64` words that every writer increments one by one, with a race
//! window between the words; readers read the four words with race windows in between.
//!
//! Checks:
//! - **mutual exclusion**: occupancy counters of writers and readers; a writer must find
//!   nobody else inside, a reader no writer;
//! - **consistent read**: a reader must see the four words equal (a writer in the middle of
//!   its update would show them unequal);
//! - **lost updates**: at the end each word equals the number of writes;
//! - **writer preference**: a reader that saw a writer registered as waiting while the lock
//!   was not write-locked (`!is_locked_exclusive()`, then `waiting_writers() > 0`, read just
//!   before it asked for the lock) may only enter after a write (or upgrade) has completed
//!   since: a count of completed writes, taken before the look and again inside, must have
//!   moved. (A reader that finds a writer *holding* the lock is let in by that writer's
//!   unlock even if other writers wait: that is how readers are not starved.) A writer that is registered leaves its wait only
//!   by acquiring (the writers here wait untimed), and its write completes before its unlock,
//!   so a correct writer-preferring lock never trips it.
//!
//! Reported (notes): the most reader phases (intervals with readers inside, counted when a
//! reader finds none inside) one writer waited through, and the most write phases one reader
//! waited through: both bounded for this lock (a writer: one reader phase per writer ahead of
//! it; a reader: the writes that pass during its polling budget, then one), and the measure of
//! starvation for others.
//!
//! Negative controls: a reader-writer "lock" that excludes nobody (must trip mutual
//! exclusion, consistent read and lost updates), and a correct but reader-preferring spin
//! reader-writer lock (readers enter whenever no writer holds it; it trips writer
//! preference).

use super::{
    checks, Backend, Expect, Outcome, RunCtx, Scenario, ScenarioInfo, Tally, Violation, Worker,
};
use baresync::{
    CachePadded, Deadline, Futex, RawRwLock, RawRwMutex, RawSpinRwLock, ReadWriteLock,
    RwLockUpgradableReadGuard, Spin, Wait, Yield,
};
use std::marker::PhantomData;
use std::ptr;
use std::sync::atomic::{AtomicU32, AtomicU64, AtomicUsize, Ordering::SeqCst};
use std::sync::Arc;

/// A raw reader-writer lock the writer-preference check can look into.
pub trait WaitingWriters: RawRwLock {
    /// Writers registered as waiting right now.
    fn waiting_writers(&self) -> u32;
}

impl<W: Wait> WaitingWriters for RawRwMutex<W> {
    fn waiting_writers(&self) -> u32 {
        RawRwMutex::waiting_writers(self)
    }
}

/// `SpinRwLock` has no count, only a flag: one writer or more flagged as waiting. The flag is
/// cleared only by a writer (or upgrade) taking the lock (the writers here wait untimed), so
/// the check's rule holds for it as for a count.
impl WaitingWriters for RawSpinRwLock {
    fn waiting_writers(&self) -> u32 {
        u32::from(self.writer_waiting())
    }
}

/// A stress scenario for `ReadWriteLock<R, Words>`.
pub struct RwLockScenario<R> {
    info: ScenarioInfo,
    _r: PhantomData<fn() -> R>,
}

/// One scenario per backend.
pub fn scenarios() -> Vec<Box<dyn Scenario>> {
    vec![
        Box::new(RwLockScenario::<RawRwMutex<Spin>>::new(Backend::Spin)),
        Box::new(RwLockScenario::<RawRwMutex<Yield>>::new(Backend::Yield)),
        Box::new(RwLockScenario::<RawRwMutex<Futex>>::new(Backend::Futex)),
        Box::new(RwLockScenario::<RawSpinRwLock>::named(
            "SpinRwLock",
            Backend::Spin,
        )),
    ]
}

/// The negative controls.
pub fn controls() -> Vec<Box<dyn Scenario>> {
    vec![
        Box::new(RwLockScenario::<NotExcluding>::control(
            "control: RwLock excluding nobody",
            &[
                checks::MUTUAL_EXCLUSION,
                checks::CONSISTENT_READ,
                checks::LOST_UPDATES,
            ],
        )),
        Box::new(RwLockScenario::<ReaderPreferring>::control(
            "control: RwLock preferring readers",
            &[checks::WRITER_PREFERENCE],
        )),
    ]
}

impl<R: WaitingWriters + Send + Sync + 'static> RwLockScenario<R> {
    fn new(backend: Backend) -> Self {
        Self::named(&format!("RwLock<{backend:?}>"), backend)
    }

    fn named(name: &str, backend: Backend) -> Self {
        RwLockScenario {
            info: ScenarioInfo::new(name, "RwLock", Some(backend)),
            _r: PhantomData,
        }
    }

    fn control(name: &str, checks: &'static [&'static str]) -> Self {
        RwLockScenario {
            info: ScenarioInfo {
                expect: Expect::Fail(checks),
                ..ScenarioInfo::new(name, "control", None)
            },
            _r: PhantomData,
        }
    }
}

struct State<R> {
    lock: ReadWriteLock<R, [u64; 4]>,
    writers_in: CachePadded<AtomicUsize>,
    readers_in: CachePadded<AtomicUsize>,
    /// Writes (and upgrades) completed, counted inside the write lock.
    writes: CachePadded<AtomicU64>,
    /// Reader phases begun: a reader that found no reader inside.
    reader_phases: CachePadded<AtomicU64>,
    worst_reader_phases: AtomicU64,
    worst_write_phases: AtomicU64,
    tally: Tally,
}

impl<R: WaitingWriters + Send + Sync + 'static> Scenario for RwLockScenario<R> {
    fn info(&self) -> ScenarioInfo {
        self.info.clone()
    }

    fn covers(&self) -> &'static [&'static str] {
        if self.info.expect == Expect::Pass {
            &[]
        } else {
            &["RwLock"]
        }
    }

    fn run(&self, ctx: &mut RunCtx<'_>) -> Outcome {
        let state = Arc::new(State::<R> {
            lock: ReadWriteLock::with_raw([0; 4]),
            writers_in: CachePadded::new(AtomicUsize::new(0)),
            readers_in: CachePadded::new(AtomicUsize::new(0)),
            writes: CachePadded::new(AtomicU64::new(0)),
            reader_phases: CachePadded::new(AtomicU64::new(0)),
            worst_reader_phases: AtomicU64::new(0),
            worst_write_phases: AtomicU64::new(0),
            tally: Tally::default(),
        });
        let s = Arc::clone(&state);
        let finished = ctx.run_workers(move |w| {
            while w.next_op() {
                w.outside_jitter();
                match w.rng.below(16) {
                    0 => {
                        let phases = s.reader_phases.load(SeqCst);
                        let mut guard = s.lock.write();
                        s.note_writer_wait(phases);
                        s.enter_writer();
                        write_words(&mut guard, w);
                        s.leave_writer();
                        drop(guard);
                    }
                    1 => {
                        let u = s.lock.upgradable_read();
                        s.enter_reader(None, w, &u);
                        let phases = s.reader_phases.load(SeqCst);
                        let mut guard = RwLockUpgradableReadGuard::upgrade(u);
                        s.note_writer_wait(phases);
                        s.enter_writer();
                        write_words(&mut guard, w);
                        s.leave_writer();
                        drop(guard);
                    }
                    _ => {
                        let writes = s.writes.load(SeqCst);
                        // A writer waiting while readers (not a writer) hold the lock: this
                        // reader must not go before it. (Behind a writer that holds the lock,
                        // a waiting reader is let in by that writer's unlock, before the next
                        // writer: bounded reader waits, by design.)
                        let writer_waiting =
                            !s.lock.is_locked_exclusive() && s.lock.raw().waiting_writers() > 0;
                        let guard = s.lock.read();
                        s.enter_reader(Some((writes, writer_waiting)), w, &guard);
                        drop(guard);
                    }
                }
            }
        });
        let mut violations = state.tally.violations();
        let mut notes = Vec::new();
        if finished {
            let writes = state.writes.load(SeqCst);
            let words = *state.lock.read();
            if words.iter().any(|&v| v != writes) {
                violations.push(Violation {
                    check: checks::LOST_UPDATES,
                    count: words.iter().map(|&v| v.abs_diff(writes)).max().unwrap_or(0),
                    detail: format!("words are {words:?} after {writes} writes"),
                });
            }
            notes.push(format!(
                "{writes} writes; a writer waited through at most {} reader phases, a reader \
                 through at most {} writes",
                state.worst_reader_phases.load(SeqCst),
                state.worst_write_phases.load(SeqCst)
            ));
        }
        Outcome { violations, notes }
    }
}

impl<R: WaitingWriters> State<R> {
    fn note_writer_wait(&self, phases_before: u64) {
        let waited = self.reader_phases.load(SeqCst) - phases_before;
        self.worst_reader_phases.fetch_max(waited, SeqCst);
    }

    /// Inside the write lock: checks it is alone.
    fn enter_writer(&self) {
        let writers = self.writers_in.fetch_add(1, SeqCst);
        let readers = self.readers_in.load(SeqCst);
        if writers != 0 || readers != 0 {
            self.tally.hit(checks::MUTUAL_EXCLUSION, || {
                format!("a writer found {writers} writers and {readers} readers inside")
            });
        }
    }

    fn leave_writer(&self) {
        self.writes.fetch_add(1, SeqCst);
        self.writers_in.fetch_sub(1, SeqCst);
    }

    /// Inside a read (or upgradable) lock: checks no writer is inside and the words agree,
    /// and (for a plain reader) the writer-preference rule.
    fn enter_reader(&self, before: Option<(u64, bool)>, w: &mut Worker, words: &[u64; 4]) {
        let words: *const [u64; 4] = words;
        let first = self.readers_in.fetch_add(1, SeqCst) == 0;
        if first {
            self.reader_phases.fetch_add(1, SeqCst);
        }
        let writers = self.writers_in.load(SeqCst);
        if writers != 0 {
            self.tally.hit(checks::MUTUAL_EXCLUSION, || {
                format!("a reader found {writers} writers inside")
            });
        }
        if let Some((writes_before, writer_waiting)) = before {
            let writes = self.writes.load(SeqCst);
            self.worst_write_phases
                .fetch_max(writes - writes_before, SeqCst);
            if writer_waiting && writes == writes_before {
                self.tally.hit(checks::WRITER_PREFERENCE, || {
                    "a reader entered while a writer it saw waiting had not written yet".into()
                });
            }
        }
        let mut seen = [0u64; 4];
        for (i, word) in seen.iter_mut().enumerate() {
            // SAFETY: a read lock is held: no writer touches the words (what is checked).
            *word = unsafe { ptr::read_volatile(words.cast::<u64>().add(i)) };
            w.race_window();
        }
        if seen.iter().any(|&v| v != seen[0]) {
            self.tally.hit(checks::CONSISTENT_READ, || {
                format!("a reader saw the words {seen:?}")
            });
        }
        self.readers_in.fetch_sub(1, SeqCst);
    }
}

/// Increments the four words one by one, with race windows in between: a reader beside this
/// writer sees them unequal.
fn write_words(words: &mut [u64; 4], w: &mut Worker) {
    let words: *mut [u64; 4] = words;
    for i in 0..4 {
        // SAFETY: in bounds of the four words. The write lock is held, so this thread alone
        // touches them (what is checked; volatile so the compiler keeps every access and its
        // window, for the negative control).
        let p = unsafe { words.cast::<u64>().add(i) };
        // SAFETY: as above.
        let v = unsafe { ptr::read_volatile(p) };
        // Between the read and the write: a second writer inside loses an update.
        w.race_window();
        // SAFETY: as above.
        unsafe { ptr::write_volatile(p, v + 1) };
    }
}

/// A reader-writer "lock" that excludes nobody.
#[derive(Debug)]
pub struct NotExcluding;

// SAFETY: deliberately unsound: it provides no exclusion and no happens-before, breaking the
// `RawRwLock` contract on purpose. It is the stress suite's negative control, run through the
// same scenario so that each exclusion check is seen to catch a broken lock; the data races
// it causes on the scenario's words are what is detected. It never protects real data.
unsafe impl RawRwLock for NotExcluding {
    const INIT: Self = NotExcluding;
    fn lock_shared(&self) {}
    fn try_lock_shared(&self) -> bool {
        true
    }
    fn lock_shared_until(&self, _: &mut impl Deadline) -> bool {
        true
    }
    unsafe fn unlock_shared(&self) {}
    fn lock_exclusive(&self) {}
    fn try_lock_exclusive(&self) -> bool {
        true
    }
    fn lock_exclusive_until(&self, _: &mut impl Deadline) -> bool {
        true
    }
    unsafe fn unlock_exclusive(&self) {}
    fn lock_upgradable(&self) {}
    fn try_lock_upgradable(&self) -> bool {
        true
    }
    fn lock_upgradable_until(&self, _: &mut impl Deadline) -> bool {
        true
    }
    unsafe fn unlock_upgradable(&self) {}
    unsafe fn upgrade(&self) {}
    unsafe fn try_upgrade(&self) -> bool {
        true
    }
    unsafe fn upgrade_until(&self, _: &mut impl Deadline) -> bool {
        true
    }
    unsafe fn downgrade(&self) {}
    unsafe fn downgrade_to_upgradable(&self) {}
    unsafe fn downgrade_upgradable(&self) {}
    fn is_locked(&self) -> bool {
        false
    }
    fn is_locked_exclusive(&self) -> bool {
        false
    }
}

impl WaitingWriters for NotExcluding {
    fn waiting_writers(&self) -> u32 {
        0
    }
}

/// A correct reader-writer spin lock that prefers readers: a reader enters whenever no
/// writer holds the lock, even while writers wait. Writers count themselves as waiting (so
/// the scenario can see them) but hold nobody back.
#[derive(Debug)]
pub struct ReaderPreferring {
    /// Bit 31: write-locked; bit 30: the upgradable read is held; low bits: readers.
    state: AtomicU32,
    waiting: AtomicU32,
}

const RP_WRITER: u32 = 1 << 31;
const RP_UPGRADABLE: u32 = 1 << 30;

impl ReaderPreferring {
    fn spin_until(&self, mut step: impl FnMut(u32) -> Option<u32>) {
        loop {
            let s = self.state.load(SeqCst);
            if let Some(new) = step(s) {
                if self.state.compare_exchange(s, new, SeqCst, SeqCst).is_ok() {
                    return;
                }
            }
            std::thread::yield_now();
        }
    }

    fn try_step(&self, step: impl Fn(u32) -> Option<u32>) -> bool {
        let s = self.state.load(SeqCst);
        step(s).is_some_and(|new| self.state.compare_exchange(s, new, SeqCst, SeqCst).is_ok())
    }

    fn shared(s: u32) -> Option<u32> {
        (s & RP_WRITER == 0).then_some(s + 1)
    }

    fn exclusive(s: u32) -> Option<u32> {
        (s == 0).then_some(RP_WRITER)
    }

    fn upgradable(s: u32) -> Option<u32> {
        (s & (RP_WRITER | RP_UPGRADABLE) == 0).then_some(s + 1 + RP_UPGRADABLE)
    }

    fn upgrade(s: u32) -> Option<u32> {
        (s == RP_UPGRADABLE + 1).then_some(RP_WRITER)
    }

    fn waiting_for(&self, step: impl FnMut(u32) -> Option<u32>) {
        self.waiting.fetch_add(1, SeqCst);
        self.spin_until(step);
        self.waiting.fetch_sub(1, SeqCst);
    }
}

// SAFETY: a compare-exchange (SeqCst) state machine: writers enter only from the unlocked
// state (or the sole upgradable reader's), readers only without a writer, one upgradable
// reader at a time; every acquisition and release is a SeqCst read-modify-write of the word.
unsafe impl RawRwLock for ReaderPreferring {
    const INIT: Self = ReaderPreferring {
        state: AtomicU32::new(0),
        waiting: AtomicU32::new(0),
    };
    fn lock_shared(&self) {
        self.spin_until(Self::shared);
    }
    fn try_lock_shared(&self) -> bool {
        self.try_step(Self::shared)
    }
    fn lock_shared_until(&self, _: &mut impl Deadline) -> bool {
        self.lock_shared();
        true
    }
    unsafe fn unlock_shared(&self) {
        self.state.fetch_sub(1, SeqCst);
    }
    fn lock_exclusive(&self) {
        if !self.try_lock_exclusive() {
            self.waiting_for(Self::exclusive);
        }
    }
    fn try_lock_exclusive(&self) -> bool {
        self.try_step(Self::exclusive)
    }
    fn lock_exclusive_until(&self, _: &mut impl Deadline) -> bool {
        self.lock_exclusive();
        true
    }
    unsafe fn unlock_exclusive(&self) {
        self.state.fetch_sub(RP_WRITER, SeqCst);
    }
    fn lock_upgradable(&self) {
        self.spin_until(Self::upgradable);
    }
    fn try_lock_upgradable(&self) -> bool {
        self.try_step(Self::upgradable)
    }
    fn lock_upgradable_until(&self, _: &mut impl Deadline) -> bool {
        self.lock_upgradable();
        true
    }
    unsafe fn unlock_upgradable(&self) {
        self.state.fetch_sub(RP_UPGRADABLE + 1, SeqCst);
    }
    unsafe fn upgrade(&self) {
        if !self.try_step(Self::upgrade) {
            self.waiting_for(Self::upgrade);
        }
    }
    unsafe fn try_upgrade(&self) -> bool {
        self.try_step(Self::upgrade)
    }
    unsafe fn upgrade_until(&self, _: &mut impl Deadline) -> bool {
        // SAFETY: forwarded from the caller.
        unsafe { self.upgrade() };
        true
    }
    unsafe fn downgrade(&self) {
        self.state.fetch_sub(RP_WRITER - 1, SeqCst);
    }
    unsafe fn downgrade_to_upgradable(&self) {
        self.state.fetch_sub(RP_WRITER - 1 - RP_UPGRADABLE, SeqCst);
    }
    unsafe fn downgrade_upgradable(&self) {
        self.state.fetch_sub(RP_UPGRADABLE, SeqCst);
    }
    fn is_locked(&self) -> bool {
        self.state.load(SeqCst) != 0
    }
    fn is_locked_exclusive(&self) -> bool {
        self.state.load(SeqCst) & RP_WRITER != 0
    }
}

impl WaitingWriters for ReaderPreferring {
    fn waiting_writers(&self) -> u32 {
        self.waiting.load(SeqCst)
    }
}
