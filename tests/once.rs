//! `Once`, `OnceCell` and `Lazy` across threads: exactly one initializer runs however many
//! threads race, every thread sees the whole value it wrote, waiters that find the
//! initializer running are woken, and each value is dropped exactly once.

use baresync::{Futex, Lazy, Once, OnceCell, Spin, Wait, Yield};
use std::sync::atomic::{AtomicUsize, Ordering::SeqCst};
use std::sync::{Arc, Barrier};
use std::thread;
use std::time::{Duration, Instant};

/// Rounds of fresh cells raced by the threads.
const ROUNDS: usize = if cfg!(miri) { 3 } else { 200 };
/// Racing threads (more than the machine's cores: the backends must cope).
const THREADS: usize = if cfg!(miri) { 3 } else { 8 };

/// Joins `t`, failing instead of hanging if it does not finish in a generous time.
fn join_within<T>(t: thread::JoinHandle<T>, what: &str) -> T {
    let limit = Instant::now() + Duration::from_secs(if cfg!(miri) { 600 } else { 20 });
    while !t.is_finished() {
        assert!(Instant::now() < limit, "{what}: hung");
        thread::sleep(Duration::from_millis(1));
    }
    t.join().unwrap()
}

/// A value several words long, written by the initializer: a reader that saw a partial one
/// would find the words disagree.
#[derive(Debug, PartialEq)]
struct Wide {
    words: [usize; 8],
}

impl Wide {
    fn new(v: usize) -> Wide {
        Wide { words: [v; 8] }
    }
    fn check(&self) -> usize {
        assert!(
            self.words.iter().all(|&w| w == self.words[0]),
            "partial value: {self:?}"
        );
        self.words[0]
    }
}

fn cells_race<W: Wait + Send + Sync + 'static>(threads: usize) {
    for _ in 0..ROUNDS {
        let cell: Arc<OnceCell<Wide, W>> = Arc::new(OnceCell::with_wait());
        let runs = Arc::new(AtomicUsize::new(0));
        let start = Arc::new(Barrier::new(threads));
        let workers: Vec<_> = (0..threads)
            .map(|id| {
                let (cell, runs, start) = (cell.clone(), runs.clone(), start.clone());
                thread::spawn(move || {
                    start.wait();
                    let v = cell.get_or_init(|| {
                        runs.fetch_add(1, SeqCst);
                        Wide::new(id + 1)
                    });
                    v.check()
                })
            })
            .collect();
        let seen: Vec<usize> = workers
            .into_iter()
            .map(|w| join_within(w, "racer"))
            .collect();
        assert_eq!(runs.load(SeqCst), 1, "exactly one initializer runs");
        assert!(
            seen.iter().all(|&v| v == seen[0]),
            "everyone sees one value: {seen:?}"
        );
        assert_eq!(cell.get().map(Wide::check), Some(seen[0]));
    }
}

#[test]
fn cells_race_futex() {
    cells_race::<Futex>(THREADS);
}

#[test]
fn cells_race_yield() {
    cells_race::<Yield>(THREADS);
}

#[test]
fn cells_race_spin() {
    // Spinning waiters: no more threads than the 2 cores CI has.
    cells_race::<Spin>(2);
}

/// The initializer is slow, so that the others wait long enough to sleep and must be woken.
fn slow_initializer_wakes_waiters<W: Wait + Send + Sync + 'static>() {
    let once: Arc<Once<W>> = Arc::new(Once::with_wait());
    let data = Arc::new(AtomicUsize::new(0));
    let started = Arc::new(Barrier::new(2));
    let init = {
        let (once, data, started) = (once.clone(), data.clone(), started.clone());
        thread::spawn(move || {
            once.call_once(|| {
                started.wait();
                thread::sleep(Duration::from_millis(if cfg!(miri) { 1 } else { 20 }));
                data.store(42, SeqCst);
            })
        })
    };
    started.wait();
    let waiters: Vec<_> = (0..THREADS - 1)
        .map(|i| {
            let (once, data) = (once.clone(), data.clone());
            thread::spawn(move || {
                if i % 2 == 0 {
                    once.call_once(|| panic!("the initializer is already running"));
                } else {
                    once.wait();
                }
                assert!(once.is_completed());
                data.load(SeqCst)
            })
        })
        .collect();
    join_within(init, "initializer");
    for w in waiters {
        assert_eq!(join_within(w, "waiter"), 42);
    }
}

#[test]
fn slow_initializer_wakes_waiters_futex() {
    slow_initializer_wakes_waiters::<Futex>();
}

#[test]
fn slow_initializer_wakes_waiters_yield() {
    slow_initializer_wakes_waiters::<Yield>();
}

/// `wait` called before anyone starts initializing sleeps until a later `set`.
#[test]
fn wait_before_any_initializer() {
    let cell: Arc<OnceCell<Wide>> = Arc::new(OnceCell::new());
    let waiters: Vec<_> = (0..THREADS - 1)
        .map(|_| {
            let cell = cell.clone();
            thread::spawn(move || cell.wait().check())
        })
        .collect();
    thread::sleep(Duration::from_millis(if cfg!(miri) { 1 } else { 20 }));
    cell.set(Wide::new(9)).unwrap();
    for w in waiters {
        assert_eq!(join_within(w, "waiter"), 9);
    }
}

/// Racing `set`s: exactly one succeeds, the others get their value back.
#[test]
fn racing_sets() {
    for _ in 0..ROUNDS {
        let cell: Arc<OnceCell<usize>> = Arc::new(OnceCell::new());
        let start = Arc::new(Barrier::new(THREADS));
        let workers: Vec<_> = (0..THREADS)
            .map(|id| {
                let (cell, start) = (cell.clone(), start.clone());
                thread::spawn(move || {
                    start.wait();
                    match cell.set(id) {
                        Ok(()) => Some(id),
                        Err(back) => {
                            assert_eq!(back, id);
                            None
                        }
                    }
                })
            })
            .collect();
        let won: Vec<usize> = workers
            .into_iter()
            .filter_map(|w| join_within(w, "setter"))
            .collect();
        assert_eq!(won.len(), 1);
        assert_eq!(cell.get(), Some(&won[0]));
    }
}

static LAZY_RUNS: AtomicUsize = AtomicUsize::new(0);
static LAZY: Lazy<Wide> = Lazy::new(|| {
    LAZY_RUNS.fetch_add(1, SeqCst);
    Wide::new(7)
});

#[test]
fn lazy_static_forced_by_many() {
    let start = Arc::new(Barrier::new(THREADS));
    let workers: Vec<_> = (0..THREADS)
        .map(|_| {
            let start = start.clone();
            thread::spawn(move || {
                start.wait();
                LAZY.check()
            })
        })
        .collect();
    for w in workers {
        assert_eq!(join_within(w, "forcer"), 7);
    }
    assert_eq!(LAZY_RUNS.load(SeqCst), 1);
}

static DROPS: AtomicUsize = AtomicUsize::new(0);

struct Counted;
impl Drop for Counted {
    fn drop(&mut self) {
        DROPS.fetch_add(1, SeqCst);
    }
}

/// Every value created is dropped exactly once: by the cell, by `take`'s caller, or (the
/// losers of `set`) given back.
#[test]
fn each_value_dropped_once() {
    DROPS.store(0, SeqCst);
    {
        let cell: OnceCell<Counted> = OnceCell::new();
        assert!(cell.set(Counted).is_ok());
        assert!(cell.set(Counted).is_err()); // returned and dropped here
        assert_eq!(DROPS.load(SeqCst), 1);
    }
    assert_eq!(DROPS.load(SeqCst), 2);
    let mut cell: OnceCell<Counted> = OnceCell::new();
    cell.get_or_init(|| Counted);
    drop(cell.take());
    assert_eq!(DROPS.load(SeqCst), 3);
    drop(cell);
    assert_eq!(DROPS.load(SeqCst), 3, "an emptied cell drops nothing");
    let lazy = Lazy::new(|| Counted);
    let _ = &*lazy;
    drop(lazy);
    assert_eq!(DROPS.load(SeqCst), 4);
    let never: Lazy<Counted, _> = Lazy::new(|| Counted);
    drop(never);
    assert_eq!(DROPS.load(SeqCst), 4, "an unforced Lazy creates nothing");
}

/// The statics the docs promise, in every shape the constructors allow.
#[test]
fn const_constructible() {
    static A: Once = Once::new();
    static B: Once<Spin> = Once::with_wait();
    static C: OnceCell<u32> = OnceCell::new();
    static D: OnceCell<u32, Yield> = OnceCell::with_wait();
    static E: Lazy<u32> = Lazy::new(|| 1);
    static F: Lazy<u32, fn() -> u32, Spin> = Lazy::with_wait(|| 2);
    A.call_once(|| {});
    B.call_once(|| {});
    assert!(A.is_completed() && B.is_completed());
    assert_eq!(*C.get_or_init(|| 3) + *D.get_or_init(|| 4) + *E + *F, 10);
}

/// Initializing a cell from its own initializer panics with a message (feature `std`), in a
/// thread so that a regression (a silent deadlock) fails the test instead of hanging it; the
/// cell is left empty and usable.
#[test]
fn reentrant_initialization_panics() {
    let cell: Arc<OnceCell<u32>> = Arc::new(OnceCell::new());
    let t = {
        let cell = cell.clone();
        thread::spawn(move || {
            let r = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                *cell.get_or_init(|| *cell.get_or_init(|| 1) + 1)
            }));
            let p = r.expect_err("re-entrant initialization must panic");
            let msg = p.downcast_ref::<&str>().copied().unwrap_or("");
            assert!(msg.contains("re-entrant initialization"), "{msg}");
        })
    };
    join_within(t, "re-entrant initializer");
    assert_eq!(cell.get(), None);
    assert_eq!(*cell.get_or_init(|| 3), 3);
}
