//! Implementing `Wait` on an RTOS's own blocking primitive: a worked example.
//!
//! `rtos` below is a mock scheduler with the shape most RTOS kernels have: a wait list
//! protected by the kernel's lock, a "block the current task until woken" call, and "wake one"
//! / "wake all" calls that move tasks from the wait list back to the ready state. Threads stand
//! in for tasks, and parking a thread stands in for the context switch.
//!
//! The one rule a `Wait` backend must keep is that checking the word and going to sleep are
//! atomic with respect to a wake: `block_on` re-checks the word under the wait-list lock, the
//! same lock `wake` takes, so a wake that comes after the check always finds the task on the
//! list. With that, baresync's `Mutex`, `Semaphore`, `Event`, `Queue`, ... run on the RTOS
//! unchanged, by naming the backend: `Mutex<T, RtosWait>`.

use baresync::sync::atomic::{AtomicU32, Ordering::Relaxed};
use baresync::{Deadline, Event, Mutex, Queue, Semaphore, Wait};
use std::sync::atomic::{AtomicUsize, Ordering::SeqCst};
use std::thread;
use std::time::Duration;

/// The mock RTOS kernel.
mod rtos {
    use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering::SeqCst};
    use std::sync::{Arc, Mutex};
    use std::thread::{self, Thread};
    use std::time::Duration;

    /// A blocked task: what it waits on, and how to make it ready again.
    struct Blocked {
        /// The address of the word the task waits on (the RTOS "event object").
        object: usize,
        task: Thread,
        ready: Arc<AtomicBool>,
    }

    /// The kernel's wait list, behind the kernel lock (a real kernel masks interrupts or takes
    /// its scheduler lock here).
    static WAIT_LIST: Mutex<Vec<Blocked>> = Mutex::new(Vec::new());
    /// How many times a task was really put on the wait list (for the tests).
    pub static BLOCKS: AtomicUsize = AtomicUsize::new(0);

    /// Blocks the current task on `object` if `still_waiting()` holds under the kernel lock,
    /// until a `wake` picks it or `timeout` (one "tick" by default) passes. Returns at once if
    /// `still_waiting()` is false.
    pub fn block_on(
        object: usize,
        still_waiting: impl FnOnce() -> bool,
        timeout: Option<Duration>,
    ) {
        let ready = Arc::new(AtomicBool::new(false));
        {
            let mut list = WAIT_LIST.lock().unwrap();
            if !still_waiting() {
                return;
            }
            list.push(Blocked {
                object,
                task: thread::current(),
                ready: Arc::clone(&ready),
            });
            BLOCKS.fetch_add(1, SeqCst);
        } // the kernel lock is released only once the task is on the list
        match timeout {
            None => {
                while !ready.load(SeqCst) {
                    thread::park(); // "context switch" until made ready
                }
            }
            Some(timeout) => {
                if !ready.load(SeqCst) {
                    thread::park_timeout(timeout);
                }
                if !ready.load(SeqCst) {
                    // Timed out: take this task off the wait list again.
                    let mut list = WAIT_LIST.lock().unwrap();
                    list.retain(|b| !Arc::ptr_eq(&b.ready, &ready));
                }
            }
        }
    }

    /// Makes up to `n` tasks blocked on `object` ready, oldest first.
    pub fn wake(object: usize, n: usize) {
        let mut list = WAIT_LIST.lock().unwrap();
        let mut woken = 0;
        list.retain(|b| {
            if woken < n && b.object == object {
                woken += 1;
                b.ready.store(true, SeqCst);
                b.task.unpark();
                false
            } else {
                true
            }
        });
    }
}

/// baresync's `Wait` over the mock RTOS.
struct RtosWait;

// SAFETY: only reads the word it is given (or passes its address on); never writes it.
unsafe impl Wait for RtosWait {
    fn wait(atomic: &AtomicU32, expected: u32) {
        let object = atomic as *const AtomicU32 as usize;
        // ORDERING: Relaxed: the primitive re-reads the word with its own ordering after
        // `wait` returns; here the load only decides whether to block, under the kernel lock
        // that `wake` also takes, so no wake between the check and the block is lost.
        rtos::block_on(object, || atomic.load(Relaxed) == expected, None);
    }

    fn wait_until(atomic: &AtomicU32, expected: u32, deadline: &mut impl Deadline) -> bool {
        if deadline.expired() {
            return false;
        }
        let object = atomic as *const AtomicU32 as usize;
        // Block for at most one tick (or what is left, if the deadline knows), then let the
        // primitive re-check its condition and poll the deadline again.
        let tick = Duration::from_millis(1);
        let timeout = deadline.remaining().map_or(tick, |left| left.min(tick));
        // ORDERING: as in `wait`.
        rtos::block_on(object, || atomic.load(Relaxed) == expected, Some(timeout));
        true
    }

    fn wake_one(atomic: &AtomicU32) {
        rtos::wake(atomic as *const AtomicU32 as usize, 1);
    }

    fn wake_all(atomic: &AtomicU32) {
        rtos::wake(atomic as *const AtomicU32 as usize, usize::MAX);
    }
}

const TASKS: usize = 4;
const ROUNDS: u64 = if cfg!(miri) { 20 } else { 2_000 };

static COUNTER: Mutex<u64, RtosWait> = Mutex::with_wait(0);

#[test]
fn mutex_over_the_rtos_counts_exactly() {
    let tasks: Vec<_> = (0..TASKS)
        .map(|_| {
            thread::spawn(|| {
                for i in 0..ROUNDS {
                    let mut counter = COUNTER.lock();
                    let seen = *counter;
                    if i % 64 == 0 {
                        // A long critical section now and then, so that others block.
                        thread::sleep(Duration::from_micros(200));
                    }
                    *counter = seen + 1;
                }
            })
        })
        .collect();
    for task in tasks {
        task.join().unwrap();
    }
    assert_eq!(*COUNTER.lock(), TASKS as u64 * ROUNDS);
    assert!(
        rtos::BLOCKS.load(SeqCst) > 0,
        "some task blocked on the RTOS wait list"
    );
}

static SLOTS: Semaphore<RtosWait> = Semaphore::with_wait(2);
static INSIDE: AtomicUsize = AtomicUsize::new(0);
static MOST_INSIDE: AtomicUsize = AtomicUsize::new(0);

#[test]
fn semaphore_over_the_rtos_admits_at_most_its_permits() {
    let tasks: Vec<_> = (0..6)
        .map(|_| {
            thread::spawn(|| {
                for _ in 0..ROUNDS / 20 {
                    let _permit = SLOTS.acquire();
                    let now = INSIDE.fetch_add(1, SeqCst) + 1;
                    MOST_INSIDE.fetch_max(now, SeqCst);
                    thread::sleep(Duration::from_micros(50));
                    INSIDE.fetch_sub(1, SeqCst);
                }
            })
        })
        .collect();
    for task in tasks {
        task.join().unwrap();
    }
    assert!(MOST_INSIDE.load(SeqCst) <= 2);
    assert_eq!(SLOTS.available(), 2);
}

static STARTED: Event<RtosWait> = Event::with_wait();
static MAILBOX: Queue<u32, 2, RtosWait> = Queue::with_wait();

#[test]
fn event_and_queue_over_the_rtos() {
    let consumer = thread::spawn(|| {
        STARTED.wait(); // blocks on the RTOS until set
        (0..10).map(|_| MAILBOX.get().unwrap()).collect::<Vec<_>>()
    });
    thread::sleep(Duration::from_millis(5));
    STARTED.set();
    for i in 0..10 {
        MAILBOX.put(i).unwrap(); // blocks on the RTOS while the mailbox is full
    }
    assert_eq!(consumer.join().unwrap(), (0..10).collect::<Vec<_>>());
}

static BUSY: Mutex<(), RtosWait> = Mutex::with_wait(());

#[test]
fn lock_until_gives_up_at_the_deadline() {
    let held = BUSY.lock();
    let mut ticks = 0;
    let got = thread::scope(|s| {
        s.spawn(|| {
            BUSY.lock_until(|| {
                ticks += 1;
                ticks > 5
            })
            .is_some()
        })
        .join()
        .unwrap()
    });
    assert!(!got);
    drop(held);
    assert!(BUSY.lock_until(|| false).is_some());
}
