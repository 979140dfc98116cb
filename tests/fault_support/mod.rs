//! What the fault-injection tests (`tests/fault_*.rs`) share: a deadline that panics on a
//! chosen call, a `Wait` backend that panics on a chosen call and one that keeps the contract
//! but is slow, and the checks around them (`must_panic`, `generous`, `join_within`); and what
//! the reader-writer tests share across both raw locks (`RwState`, `assert_rw_idle`).
#![allow(dead_code)] // each test file uses its own part

/// A deadline that never expires and panics on its `k`-th call (1: the first).
pub fn panics_on_call(k: u32) -> impl FnMut() -> bool {
    let mut calls = 0;
    move || {
        calls += 1;
        if calls == k {
            panic!("injected");
        }
        false
    }
}

/// A `Wait` that keeps the contract but is slow: it sleeps 1 ms before each wait through
/// `Futex`, so that many things happen while a waiter is inside it (a slow scheduler).
#[cfg(feature = "std")]
pub struct SlowWait;

#[cfg(feature = "std")]
// SAFETY: only reads the word it is given (or passes its address on); never writes it.
unsafe impl baresync::Wait for SlowWait {
    fn wait(atomic: &baresync::sync::atomic::AtomicU32, expected: u32) {
        std::thread::sleep(std::time::Duration::from_millis(1));
        <baresync::Futex as baresync::Wait>::wait(atomic, expected);
    }
    fn wait_until(
        atomic: &baresync::sync::atomic::AtomicU32,
        expected: u32,
        deadline: &mut impl baresync::Deadline,
    ) -> bool {
        std::thread::sleep(std::time::Duration::from_millis(1));
        <baresync::Futex as baresync::Wait>::wait_until(atomic, expected, deadline)
    }
    fn wake_one(atomic: &baresync::sync::atomic::AtomicU32) {
        <baresync::Futex as baresync::Wait>::wake_one(atomic);
    }
    fn wake_all(atomic: &baresync::sync::atomic::AtomicU32) {
        <baresync::Futex as baresync::Wait>::wake_all(atomic);
    }
}

/// Runs `f`, which must panic with the injected panic.
pub fn must_panic<T>(f: impl FnOnce() -> T) {
    let r = std::panic::catch_unwind(std::panic::AssertUnwindSafe(f));
    let payload = r.err().expect("the injected panic must propagate");
    assert_eq!(payload.downcast_ref::<&str>(), Some(&"injected"));
}

/// A generous deadline: a hang becomes a failure, not a stuck test.
pub fn generous() -> std::time::Instant {
    std::time::Instant::now() + std::time::Duration::from_secs(if cfg!(miri) { 600 } else { 20 })
}

/// Joins `t`, failing instead of hanging if it does not finish in a generous time.
pub fn join_within<T>(t: std::thread::JoinHandle<T>, what: &str) -> T {
    let limit = generous();
    while !t.is_finished() {
        assert!(std::time::Instant::now() < limit, "{what}: hung");
        std::thread::sleep(std::time::Duration::from_millis(1));
    }
    t.join().unwrap()
}

thread_local! {
    /// Calls of `PanickyWait::wait`/`wait_until` left before the one that panics, in this
    /// thread (0: never panic).
    pub static PANIC_IN: std::cell::Cell<u32> = const { std::cell::Cell::new(0) };
}

/// Makes this thread's `k`-th call of a `PanickyWait` wait panic.
pub fn arm(k: u32) {
    PANIC_IN.with(|c| c.set(k));
}

/// How many times a `PanickyWait<ID>` has panicked (per `ID`, so tests do not see each other).
pub static PANICKED: [std::sync::atomic::AtomicUsize; 8] =
    [const { std::sync::atomic::AtomicUsize::new(0) }; 8];

/// A `Wait` that keeps the contract (it delegates to `Yield`) but panics on the armed call of
/// the arming thread, before waiting.
pub struct PanickyWait<const ID: usize = 0>;

impl<const ID: usize> PanickyWait<ID> {
    fn maybe_panic() {
        let left = PANIC_IN.with(|c| c.get());
        if left == 0 {
            return;
        }
        PANIC_IN.with(|c| c.set(left - 1));
        if left == 1 {
            PANICKED[ID].fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            panic!("injected");
        }
    }
    /// Waits until a `PanickyWait<ID>` has panicked in some thread.
    pub fn until_panicked() {
        while PANICKED[ID].load(std::sync::atomic::Ordering::SeqCst) == 0 {
            std::thread::yield_now();
        }
    }
}

// SAFETY: only reads the word it is given (or passes its address on); never writes it.
unsafe impl<const ID: usize> baresync::Wait for PanickyWait<ID> {
    fn wait(atomic: &baresync::sync::atomic::AtomicU32, expected: u32) {
        Self::maybe_panic();
        <baresync::Yield as baresync::Wait>::wait(atomic, expected);
    }
    fn wait_until(
        atomic: &baresync::sync::atomic::AtomicU32,
        expected: u32,
        deadline: &mut impl baresync::Deadline,
    ) -> bool {
        Self::maybe_panic();
        <baresync::Yield as baresync::Wait>::wait_until(atomic, expected, deadline)
    }
    fn wake_one(atomic: &baresync::sync::atomic::AtomicU32) {
        <baresync::Yield as baresync::Wait>::wake_one(atomic);
    }
    fn wake_all(atomic: &baresync::sync::atomic::AtomicU32) {
        <baresync::Yield as baresync::Wait>::wake_all(atomic);
    }
}

thread_local! {
    /// Wake calls of a `WakePanics` backend left before the one that panics, in this thread
    /// (0: never panic).
    static WAKE_PANIC_IN: std::cell::Cell<u32> = const { std::cell::Cell::new(0) };
}

/// Makes this thread's `k`-th wake call of a `WakePanics` backend panic (0: none).
pub fn arm_wake(k: u32) {
    WAKE_PANIC_IN.with(|c| c.set(k));
}

/// Threads inside `WakePanics::<ID>::wait`/`wait_until` (asleep, with nothing changing the
/// word), per `ID`, so the tests of one file do not see each other.
pub static SLEEPING: [std::sync::atomic::AtomicUsize; 2] =
    [const { std::sync::atomic::AtomicUsize::new(0) }; 2];

/// `Futex`, whose `wake_one`/`wake_all` panic on this thread's armed call (`arm_wake`), and
/// which counts the threads inside its waits (`SLEEPING[ID]`), so that a test can wait until
/// the thread its wake must reach is asleep.
#[cfg(feature = "std")]
pub struct WakePanics<const ID: usize>;

#[cfg(feature = "std")]
impl<const ID: usize> WakePanics<ID> {
    fn maybe_panic() {
        let left = WAKE_PANIC_IN.with(|c| c.get());
        if left != 0 {
            WAKE_PANIC_IN.with(|c| c.set(left - 1));
            if left == 1 {
                panic!("injected");
            }
        }
    }

    /// Waits until `n` threads are inside a wait.
    pub fn until_sleeping(n: usize) {
        let limit = generous();
        while SLEEPING[ID].load(std::sync::atomic::Ordering::SeqCst) != n {
            assert!(std::time::Instant::now() < limit, "{n} sleepers never came");
            std::thread::sleep(std::time::Duration::from_millis(1));
        }
    }

    /// Runs `wait`, counted in `SLEEPING[ID]` while inside.
    fn counted<T>(wait: impl FnOnce() -> T) -> T {
        use std::sync::atomic::Ordering::SeqCst;
        SLEEPING[ID].fetch_add(1, SeqCst);
        let r = wait();
        SLEEPING[ID].fetch_sub(1, SeqCst);
        r
    }
}

#[cfg(feature = "std")]
// SAFETY: only reads the word it is given (or passes its address on); never writes it.
unsafe impl<const ID: usize> baresync::Wait for WakePanics<ID> {
    fn wait(atomic: &baresync::sync::atomic::AtomicU32, expected: u32) {
        Self::counted(|| <baresync::Futex as baresync::Wait>::wait(atomic, expected));
    }
    fn wait_until(
        atomic: &baresync::sync::atomic::AtomicU32,
        expected: u32,
        deadline: &mut impl baresync::Deadline,
    ) -> bool {
        Self::counted(|| {
            <baresync::Futex as baresync::Wait>::wait_until(atomic, expected, deadline)
        })
    }
    fn wake_one(atomic: &baresync::sync::atomic::AtomicU32) {
        Self::maybe_panic();
        <baresync::Futex as baresync::Wait>::wake_one(atomic);
    }
    fn wake_all(atomic: &baresync::sync::atomic::AtomicU32) {
        Self::maybe_panic();
        <baresync::Futex as baresync::Wait>::wake_all(atomic);
    }
}

/// A backend that says it only spins (`Wait::SPINS_ONLY`, as `Spin`) and panics if it is
/// called: a primitive's waiters must then poll the word themselves (in a barrier, a panic in
/// `W` would break it, and the test sees the `Broken` or the panic).
pub struct SpinsOnly;

// SAFETY: never touches the word.
unsafe impl baresync::Wait for SpinsOnly {
    const WAKE_IS_NOOP: bool = true;
    const SPINS_ONLY: bool = true;
    fn wait(_: &baresync::sync::atomic::AtomicU32, _: u32) {
        panic!("`wait` called for a SPINS_ONLY backend");
    }
    fn wait_until(
        _: &baresync::sync::atomic::AtomicU32,
        _: u32,
        _: &mut impl baresync::Deadline,
    ) -> bool {
        panic!("`wait_until` called for a SPINS_ONLY backend");
    }
    fn wake_one(_: &baresync::sync::atomic::AtomicU32) {}
    fn wake_all(_: &baresync::sync::atomic::AtomicU32) {}
}

/// What the reader-writer tests (`tests/rwlock.rs`, `tests/fault_rwlock.rs`,
/// `tests/spin_rwlock.rs`) read of a raw reader-writer lock's own state, so that one generic
/// test checks both `RawRwMutex` (which registers its waiters) and `RawSpinRwLock` (which has
/// only a waiting-writer flag).
pub trait RwState: baresync::RawRwLock + Send + Sync + 'static {
    /// Whether the lock counts each waiting writer (`RawRwMutex`); `false`: one flag for all.
    const COUNTS_WAITING_WRITERS: bool;
    /// The read locks held (the upgradable one included).
    fn read_locks(&self) -> u32;
    /// The registered waiting writers and upgraders; for a flag, 1 while it is raised.
    fn writers_waiting(&self) -> u32;
    /// The registered waiting readers (0 for a lock that registers none).
    fn readers_waiting(&self) -> u32;
}

impl<W: baresync::Wait + 'static> RwState for baresync::RawRwMutex<W> {
    const COUNTS_WAITING_WRITERS: bool = true;
    fn read_locks(&self) -> u32 {
        self.readers()
    }
    fn writers_waiting(&self) -> u32 {
        self.waiting_writers()
    }
    fn readers_waiting(&self) -> u32 {
        self.waiting_readers()
    }
}

impl RwState for baresync::RawSpinRwLock {
    const COUNTS_WAITING_WRITERS: bool = false;
    fn read_locks(&self) -> u32 {
        self.readers()
    }
    fn writers_waiting(&self) -> u32 {
        u32::from(self.writer_waiting())
    }
    fn readers_waiting(&self) -> u32 {
        0
    }
}

/// Nothing held, no waiter registered or flagged: the lock as new, and usable (a writer, two
/// readers at once, an upgradable reader).
pub fn assert_rw_idle<R: RwState, T>(lock: &baresync::ReadWriteLock<R, T>) {
    assert!(!lock.is_locked());
    assert_eq!(lock.raw().read_locks(), 0);
    assert_eq!(lock.raw().readers_waiting(), 0);
    assert_eq!(lock.raw().writers_waiting(), 0);
    drop(lock.try_write().expect("free for a writer"));
    let (a, b) = (
        lock.try_read().expect("free"),
        lock.try_read().expect("shared"),
    );
    drop((a, b));
    drop(
        lock.try_upgradable_read()
            .expect("free for an upgradable reader"),
    );
}
