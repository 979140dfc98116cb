//! `Queue` and `JoinableQueue` through their public API, from many threads.

mod fault_support;

use baresync::{
    Closed, Futex, GetError, JoinableQueue, PushError, PutError, Queue, Spin, TryPopError,
    TryPushError, Wait, Yield,
};
use fault_support::SpinsOnly;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering::SeqCst};
use std::sync::Arc;
use std::thread;
use std::time::{Duration, Instant};

/// Items per producer.
const ITEMS: usize = if cfg!(miri) { 50 } else { 100_000 };

fn cores() -> usize {
    thread::available_parallelism().map_or(2, |n| n.get())
}

/// `producers` threads put `per_producer` items each (tagged with the producer), `consumers`
/// threads get until the queue is closed and drained. Every item must arrive exactly once,
/// and each consumer must see each producer's items in increasing order.
fn mpmc<W: Wait + 'static, const N: usize>(
    producers: usize,
    consumers: usize,
    per_producer: usize,
) {
    let q: Arc<Queue<(usize, usize), N, W>> = Arc::new(Queue::with_wait());
    let prods: Vec<_> = (0..producers)
        .map(|p| {
            let q = Arc::clone(&q);
            thread::spawn(move || {
                for i in 0..per_producer {
                    q.put((p, i)).unwrap();
                }
            })
        })
        .collect();
    let cons: Vec<_> = (0..consumers)
        .map(|_| {
            let q = Arc::clone(&q);
            thread::spawn(move || {
                let mut last = vec![None::<usize>; producers];
                let mut got = Vec::new();
                while let Ok((p, i)) = q.get() {
                    assert!(
                        last[p].map_or(true, |l| l < i),
                        "producer {p}: item {i} after {:?}",
                        last[p]
                    );
                    last[p] = Some(i);
                    got.push((p, i));
                }
                got
            })
        })
        .collect();
    for p in prods {
        p.join().unwrap();
    }
    q.close();
    let mut seen = vec![vec![false; per_producer]; producers];
    let mut total = 0;
    for c in cons {
        for (p, i) in c.join().unwrap() {
            assert!(!seen[p][i], "item ({p}, {i}) received twice");
            seen[p][i] = true;
            total += 1;
        }
    }
    assert_eq!(total, producers * per_producer, "items lost");
    assert!(q.is_empty());
}

#[test]
fn mpmc_2p2c_spin_every_item_once_in_producer_order() {
    mpmc::<Spin, 64>(2, 2, ITEMS);
}

#[test]
fn mpmc_2p2c_futex_every_item_once_in_producer_order() {
    mpmc::<Futex, 64>(2, 2, ITEMS);
}

#[test]
fn mpmc_2p2c_small_capacity() {
    mpmc::<Futex, 3>(2, 2, ITEMS / 4);
}

#[test]
fn capacity_one_works_across_threads() {
    mpmc::<Futex, 1>(2, 2, ITEMS / 10);
    mpmc::<Yield, 1>(1, 1, ITEMS / 10);
}

/// Four times more threads than cores: blocking puts and gets must not hang. `Spin` gets a
/// small load (a spinning waiter may burn its time slice while the thread it waits for is
/// descheduled); `Yield` and `Futex` get a real one.
#[test]
fn oversubscribed() {
    let half = if cfg!(miri) { 2 } else { 2 * cores() };
    mpmc::<Futex, 8>(half, half, ITEMS / 20);
    mpmc::<Yield, 8>(half, half, ITEMS / 20);
    mpmc::<Spin, 8>(half, half, if cfg!(miri) { 10 } else { 500 });
}

/// Counts live instances, to check that each item is dropped exactly once.
struct Counted(Arc<AtomicUsize>);

impl Counted {
    fn new(live: &Arc<AtomicUsize>) -> Self {
        live.fetch_add(1, SeqCst);
        Counted(Arc::clone(live))
    }
}

impl Drop for Counted {
    fn drop(&mut self) {
        let before = self.0.fetch_sub(1, SeqCst);
        assert!(before > 0, "dropped more times than created");
    }
}

#[test]
fn every_item_dropped_exactly_once() {
    let live = Arc::new(AtomicUsize::new(0));
    {
        let q: Queue<Counted, 5> = Queue::new();
        for _ in 0..5 {
            q.push(Counted::new(&live)).unwrap();
        }
        // A rejected push gives the item back (dropped here, once).
        let rejected = q.push(Counted::new(&live)).unwrap_err();
        drop(rejected);
        assert_eq!(live.load(SeqCst), 5);
        // Evictions return the oldest item: dropped by us, once.
        for _ in 0..7 {
            let evicted = q.force_push(Counted::new(&live)).unwrap();
            assert!(evicted.is_some());
        }
        assert_eq!(live.load(SeqCst), 5);
        drop(q.pop());
        drop(q.pop());
        assert_eq!(live.load(SeqCst), 3);
    } // three left inside, dropped with the queue
    assert_eq!(live.load(SeqCst), 0);
}

/// Producers force-push into a small queue while consumers pop: every item created is either
/// received, evicted (returned to its producer) or left inside, exactly once.
#[test]
fn force_push_under_contention_loses_and_duplicates_nothing() {
    let per = if cfg!(miri) { 50 } else { 20_000 };
    let q: Arc<Queue<usize, 4, Spin>> = Arc::new(Queue::with_wait());
    let stop = Arc::new(AtomicBool::new(false));
    let producers: Vec<_> = (0..2)
        .map(|p| {
            let q = Arc::clone(&q);
            thread::spawn(move || {
                let mut evicted = Vec::new();
                for i in 0..per {
                    if let Some(old) = q.force_push(p * per + i).unwrap() {
                        evicted.push(old);
                    }
                }
                evicted
            })
        })
        .collect();
    let consumer = {
        let (q, stop) = (Arc::clone(&q), Arc::clone(&stop));
        thread::spawn(move || {
            let mut got = Vec::new();
            while !stop.load(SeqCst) {
                if let Some(v) = q.pop() {
                    got.push(v);
                }
            }
            got
        })
    };
    let mut all: Vec<usize> = producers
        .into_iter()
        .flat_map(|p| p.join().unwrap())
        .collect();
    stop.store(true, SeqCst);
    all.extend(consumer.join().unwrap());
    while let Some(v) = q.pop() {
        all.push(v);
    }
    all.sort_unstable();
    assert_eq!(all, (0..2 * per).collect::<Vec<_>>());
}

#[test]
fn put_until_returns_the_item_on_expiry() {
    let q: Queue<String, 1, Futex> = Queue::with_wait();
    q.put("kept".into()).unwrap();
    let start = Instant::now();
    let err = q
        .put_until("back".to_string(), start + Duration::from_millis(20))
        .unwrap_err();
    assert!(start.elapsed() >= Duration::from_millis(20));
    assert_eq!(err, PutError::Timeout("back".to_string()));
    let err = q
        .put_timeout("again".to_string(), Duration::from_millis(1))
        .unwrap_err();
    assert_eq!(err.into_inner(), "again");
    assert_eq!(q.get().unwrap(), "kept");
}

/// Consumers with very short deadlines race a producer: every item is either received by a
/// `get_until` or still in the queue at the end, never lost.
#[test]
fn get_until_never_loses_an_item() {
    let n = if cfg!(miri) { 50 } else { 20_000 };
    let q: Arc<Queue<usize, 8, Yield>> = Arc::new(Queue::with_wait());
    let done = Arc::new(AtomicBool::new(false));
    let consumers: Vec<_> = (0..2)
        .map(|_| {
            let (q, done) = (Arc::clone(&q), Arc::clone(&done));
            thread::spawn(move || {
                let mut got = Vec::new();
                let mut timeouts = 0usize;
                while !done.load(SeqCst) {
                    let mut polls = 0;
                    match q.get_until(|| {
                        polls += 1;
                        polls > 2
                    }) {
                        Ok(v) => got.push(v),
                        Err(GetError::Timeout) => timeouts += 1,
                        Err(GetError::Closed) => unreachable!(),
                    }
                }
                (got, timeouts)
            })
        })
        .collect();
    for i in 0..n {
        q.put(i).unwrap();
    }
    done.store(true, SeqCst);
    let mut all = Vec::new();
    for c in consumers {
        all.extend(c.join().unwrap().0);
    }
    while let Some(v) = q.pop() {
        all.push(v);
    }
    all.sort_unstable();
    assert_eq!(all, (0..n).collect::<Vec<_>>());
}

fn close_wakes_blocked<W: Wait + 'static>() {
    // Blocked getters on an empty queue.
    let q: Arc<Queue<u32, 2, W>> = Arc::new(Queue::with_wait());
    let getters: Vec<_> = (0..3)
        .map(|_| {
            let q = Arc::clone(&q);
            thread::spawn(move || q.get())
        })
        .collect();
    thread::sleep(Duration::from_millis(if cfg!(miri) { 1 } else { 30 }));
    q.close();
    for g in getters {
        assert_eq!(g.join().unwrap(), Err(Closed(())));
    }
    // Blocked putters on a full queue.
    let q: Arc<Queue<u32, 1, W>> = Arc::new(Queue::with_wait());
    q.put(0).unwrap();
    let putters: Vec<_> = (1..4)
        .map(|i| {
            let q = Arc::clone(&q);
            thread::spawn(move || q.put(i))
        })
        .collect();
    thread::sleep(Duration::from_millis(if cfg!(miri) { 1 } else { 30 }));
    q.close();
    let mut back: Vec<u32> = putters
        .into_iter()
        .map(|p| p.join().unwrap().unwrap_err().into_inner())
        .collect();
    back.sort_unstable();
    assert_eq!(back, [1, 2, 3]);
    assert_eq!(q.get(), Ok(0));
    assert_eq!(q.get(), Err(Closed(())));
}

#[test]
fn close_wakes_blocked_put_and_get_futex() {
    close_wakes_blocked::<Futex>();
}

#[test]
fn close_wakes_blocked_put_and_get_spin() {
    close_wakes_blocked::<Spin>();
}

#[test]
fn get_drains_after_close() {
    static Q: Queue<u32, 4, Futex> = Queue::with_wait();
    for i in 0..4 {
        Q.put(i).unwrap();
    }
    Q.close();
    assert!(Q.is_closed());
    let drained: Vec<u32> = std::iter::from_fn(|| Q.get().ok()).collect();
    assert_eq!(drained, [0, 1, 2, 3]);
    assert_eq!(
        Q.get_timeout(Duration::from_secs(10)),
        Err(GetError::Closed)
    );
}

/// Closing while producers and consumers run: every item that a put accepted is received
/// (drained) exactly once; every rejected one came back to its producer.
#[test]
fn close_racing_put_and_get_loses_nothing() {
    let q: Arc<Queue<usize, 4, Futex>> = Arc::new(Queue::new());
    let producers: Vec<_> = (0..2)
        .map(|p| {
            let q = Arc::clone(&q);
            thread::spawn(move || {
                let (mut sent, mut back) = (Vec::new(), Vec::new());
                for i in 0..ITEMS {
                    match q.put(p * ITEMS + i) {
                        Ok(()) => sent.push(p * ITEMS + i),
                        Err(Closed(v)) => back.push(v),
                    }
                }
                (sent, back)
            })
        })
        .collect();
    let consumers: Vec<_> = (0..2)
        .map(|_| {
            let q = Arc::clone(&q);
            thread::spawn(move || std::iter::from_fn(|| q.get().ok()).collect::<Vec<_>>())
        })
        .collect();
    thread::sleep(Duration::from_millis(if cfg!(miri) { 1 } else { 5 }));
    q.close();
    let mut sent = Vec::new();
    let mut back_count = 0;
    for p in producers {
        let (s, b) = p.join().unwrap();
        sent.extend(s);
        back_count += b.len();
    }
    let mut got: Vec<usize> = consumers
        .into_iter()
        .flat_map(|c| c.join().unwrap())
        .collect();
    sent.sort_unstable();
    got.sort_unstable();
    assert_eq!(got, sent);
    assert_eq!(sent.len() + back_count, 2 * ITEMS);
}

#[test]
fn joinable_join_returns_after_every_task_done() {
    let q: Arc<JoinableQueue<u32, 4, Futex>> = Arc::new(JoinableQueue::new());
    let processed = Arc::new(AtomicUsize::new(0));
    let n = if cfg!(miri) { 20 } else { 2000 };
    let workers: Vec<_> = (0..3)
        .map(|_| {
            let (q, processed) = (Arc::clone(&q), Arc::clone(&processed));
            thread::spawn(move || {
                while let Ok(_item) = q.get() {
                    processed.fetch_add(1, SeqCst);
                    q.task_done().unwrap();
                }
            })
        })
        .collect();
    for round in 1..=3 {
        for i in 0..n {
            q.put(i).unwrap();
        }
        q.join();
        assert_eq!(processed.load(SeqCst), round * n as usize);
        assert_eq!(q.unfinished_tasks(), 0);
    }
    q.join(); // again, nothing pending
    assert!(!q.join_timeout(Duration::from_millis(1)).timed_out());
    q.close();
    for w in workers {
        w.join().unwrap();
    }
}

#[test]
fn joinable_join_until_times_out_while_tasks_are_pending() {
    static Q: JoinableQueue<u8, 2, Futex> = JoinableQueue::with_wait();
    Q.put(1).unwrap();
    let start = Instant::now();
    assert!(Q.join_timeout(Duration::from_millis(10)).timed_out());
    assert!(start.elapsed() >= Duration::from_millis(10));
    let joiner = thread::spawn(|| Q.join());
    assert_eq!(Q.get(), Ok(1));
    Q.task_done().unwrap();
    joiner.join().unwrap();
}

#[test]
fn joinable_task_done_too_often_is_an_error() {
    let q: JoinableQueue<u8, 2> = JoinableQueue::new();
    assert!(q.task_done().is_err());
    q.put(1).unwrap();
    q.get().unwrap();
    assert!(q.task_done().is_ok());
    let e = q.task_done().unwrap_err();
    assert!(e.to_string().contains("more times"));
    assert_eq!(q.unfinished_tasks(), 0);
}

#[test]
fn capacity_one_queue_in_a_static() {
    static ONE: Queue<u64, 1> = Queue::new();
    assert_eq!(ONE.capacity(), 1);
    let consumer = thread::spawn(|| (0..100u64).map(|_| ONE.get().unwrap()).sum::<u64>());
    for i in 0..100 {
        ONE.put(i).unwrap();
    }
    assert_eq!(consumer.join().unwrap(), (0..100).sum());
    assert!(ONE.is_empty() && !ONE.is_full());
}

#[test]
fn send_and_sync_as_sound() {
    fn send_sync<T: Send + Sync>() {}
    send_sync::<Queue<Vec<u8>, 4>>();
    send_sync::<JoinableQueue<String, 4, Futex>>();
    // `Cell` is Send but not Sync: a queue of them may still be shared.
    send_sync::<Queue<std::cell::Cell<u8>, 4>>();
}

/// Rounds of the linearizability checks below (each one a put or push and the pops after it).
const LIN_ROUNDS: usize = if cfg!(miri) { 100 } else { 50_000 };

/// Issue 10, defect 7 (no false "empty"): producers keep the queue busy while one thread,
/// the only consumer, puts a marker and then pops until it gets the marker back. Until it
/// does, the marker is provably inside, so `pop` must never return `None` (nor `try_pop`
/// `Empty`). Before the fix, `pop` returned `None` whenever the oldest slot's producer was
/// still writing it.
fn never_empty_while_an_item_is_inside<W: Wait + 'static>(use_try: bool) {
    const MARK: usize = usize::MAX;
    let q: Arc<Queue<usize, 8, W>> = Arc::new(Queue::with_wait());
    let stop = Arc::new(AtomicBool::new(false));
    let producers: Vec<_> = (0..3)
        .map(|p| {
            let (q, stop) = (Arc::clone(&q), Arc::clone(&stop));
            thread::spawn(move || {
                let mut i = 0;
                while !stop.load(SeqCst) {
                    // Leave room for the marker: fill at most half the queue.
                    if q.len() < 4 {
                        let _ = q.try_push(p * 1_000_000_000 + i);
                        i += 1;
                    } else {
                        thread::yield_now();
                    }
                }
            })
        })
        .collect();
    let mut busy = 0usize;
    for round in 0..LIN_ROUNDS {
        q.put(MARK).unwrap();
        loop {
            let got = if use_try {
                match q.try_pop() {
                    Ok(v) => Some(v),
                    Err(TryPopError::Busy) => {
                        busy += 1;
                        continue;
                    }
                    Err(TryPopError::Empty) => None,
                }
            } else {
                q.pop()
            };
            match got {
                Some(MARK) => break,
                Some(_) => {}
                None => {
                    stop.store(true, SeqCst);
                    panic!("round {round}: the queue reported empty while our item was inside");
                }
            }
        }
    }
    stop.store(true, SeqCst);
    for p in producers {
        p.join().unwrap();
    }
    // `busy` only says the try form did not wait; nothing to assert on its value.
    let _ = busy;
}

#[test]
fn pop_never_reports_empty_while_an_item_is_inside() {
    never_empty_while_an_item_is_inside::<Yield>(false);
}

#[test]
fn try_pop_never_reports_empty_while_an_item_is_inside() {
    never_empty_while_an_item_is_inside::<Yield>(true);
}

/// Issue 10, defect 7 (no false "full"): one producer (this thread) keeps the queue full
/// while consumers pop. Once `len` has seen a pop claim an item after the queue was full, the
/// queue holds at most `N - 1` items (no one else pushes), so the producer's next `push` must
/// not return `Full` (nor `try_push` `Full`). Before the fix, `push` returned `Full` whenever
/// the oldest slot's consumer was still moving its item out.
fn never_full_after_a_pop_claimed<W: Wait + 'static>(use_try: bool) {
    const N: usize = 4;
    let q: Arc<Queue<usize, N, W>> = Arc::new(Queue::with_wait());
    let stop = Arc::new(AtomicBool::new(false));
    let consumers: Vec<_> = (0..3)
        .map(|_| {
            let (q, stop) = (Arc::clone(&q), Arc::clone(&stop));
            thread::spawn(move || {
                while !stop.load(SeqCst) {
                    let _ = q.try_pop();
                }
            })
        })
        .collect();
    let mut pushed = 0usize;
    for round in 0..LIN_ROUNDS {
        // Fill the queue until a push is refused as full (pops race us)...
        while q.try_push(pushed).is_ok() {
            pushed += 1;
        }
        // ...and wait until a pop has claimed an item: only this thread pushes, so from then
        // on there is room for one.
        while q.len() == N {
            std::hint::spin_loop();
        }
        let full = if use_try {
            loop {
                match q.try_push(pushed) {
                    Err(TryPushError::Busy(_)) => continue,
                    r => break r.is_err_and(|e| e.is_full()),
                }
            }
        } else {
            matches!(q.push(pushed), Err(PushError::Full(_)))
        };
        if full {
            stop.store(true, SeqCst);
            panic!("round {round}: the queue reported full after a pop claimed an item");
        }
        pushed += 1;
    }
    stop.store(true, SeqCst);
    for c in consumers {
        c.join().unwrap();
    }
}

#[test]
fn push_never_reports_full_after_a_pop_claimed() {
    never_full_after_a_pop_claimed::<Yield>(false);
}

#[test]
fn try_push_never_reports_full_after_a_pop_claimed() {
    never_full_after_a_pop_claimed::<Yield>(true);
}

/// A backend that only spins (`Wait::SPINS_ONLY`, as `Spin`) is never called (the one here
/// panics if it is): `put` on a full queue, `get` on an empty one, and `push` and `pop` behind
/// a slot in progress poll in the queue's own loop.
#[test]
fn a_spins_only_backend_is_polled_by_the_queue_itself() {
    mpmc::<SpinsOnly, 3>(2, 2, ITEMS / 4);
    never_empty_while_an_item_is_inside::<SpinsOnly>(false);
    never_full_after_a_pop_claimed::<SpinsOnly>(false);
}

// ---------------------------------------------------------------------------------------------
// drain and try_iter
// ---------------------------------------------------------------------------------------------

/// `drain` takes what was inside when it began, oldest first, and leaves later pushes; it is
/// lazy (what it did not yield stays) and fused.
#[test]
fn drain_takes_the_items_inside_when_it_began() {
    let q = Queue::<u32, 8>::new();
    assert_eq!(q.drain().next(), None);
    for i in 0..5 {
        q.push(i).unwrap();
    }
    let mut d = q.drain();
    assert_eq!(d.size_hint(), (0, Some(5)));
    assert_eq!((d.next(), d.next()), (Some(0), Some(1)));
    q.push(5).unwrap();
    drop(d); // early: 2, 3, 4 stay
    assert_eq!(q.len(), 4);
    let mut d = q.drain();
    q.push(6).unwrap();
    assert_eq!(d.by_ref().collect::<Vec<_>>(), [2, 3, 4, 5]);
    assert_eq!(d.next(), None);
    assert_eq!(q.pop(), Some(6));
}

/// A consumer that empties the queue under a running `drain` makes it stop, and stay stopped;
/// it never takes more than the count it began with.
#[test]
fn drain_stops_when_another_consumer_took_the_rest() {
    let q = Queue::<u32, 4>::new();
    q.push(1).unwrap();
    q.push(2).unwrap();
    let mut d = q.drain();
    assert_eq!(q.pop(), Some(1));
    assert_eq!(d.next(), Some(2));
    assert_eq!(q.pop(), None);
    assert_eq!(d.next(), None, "found empty");
    q.push(3).unwrap();
    assert_eq!(d.next(), None, "fused");
    let mut d = q.drain();
    assert_eq!(q.pop(), Some(3));
    q.push(4).unwrap();
    q.push(5).unwrap();
    assert_eq!(d.next(), Some(4), "within the count it began with");
    assert_eq!(d.next(), None, "never more than that count");
    assert_eq!(q.pop(), Some(5));
}

/// `try_iter` takes everything, also what is pushed while it runs, and never waits.
#[test]
fn try_iter_takes_until_empty() {
    let q = Queue::<u32, 4>::new();
    assert_eq!(q.try_iter().next(), None);
    q.push(1).unwrap();
    q.push(2).unwrap();
    let mut it = q.try_iter();
    assert_eq!(it.next(), Some(1));
    q.push(3).unwrap();
    assert_eq!(it.collect::<Vec<_>>(), [2, 3]);
    assert!(q.is_empty());
    let jq = JoinableQueue::<u32, 4>::new();
    jq.put(7).unwrap();
    jq.put(8).unwrap();
    assert_eq!(jq.drain().collect::<Vec<_>>(), [7, 8]);
    assert_eq!(
        jq.unfinished_tasks(),
        2,
        "taking items does not finish tasks"
    );
    jq.put(9).unwrap();
    assert_eq!(jq.try_iter().collect::<Vec<_>>(), [9]);
}

/// Producers push distinct items while consumers drain (both iterators) in loops: every item
/// is taken exactly once, and each producer's items come out in order.
fn drains_race_pushes<W: Wait + 'static>() {
    let per = if cfg!(miri) { 20 } else { 20_000 };
    let q: Arc<Queue<(usize, usize), 4, W>> = Arc::new(Queue::with_wait());
    let done = Arc::new(AtomicUsize::new(0));
    let producers: Vec<_> = (0..2)
        .map(|p| {
            let (q, done) = (Arc::clone(&q), Arc::clone(&done));
            thread::spawn(move || {
                for i in 0..per {
                    q.put((p, i)).unwrap();
                }
                done.fetch_add(1, SeqCst);
            })
        })
        .collect();
    let consumers: Vec<_> = (0..2)
        .map(|c| {
            let (q, done) = (Arc::clone(&q), Arc::clone(&done));
            thread::spawn(move || {
                let mut got = Vec::new();
                loop {
                    let finished = done.load(SeqCst) == 2;
                    if c == 0 {
                        got.extend(q.drain());
                    } else {
                        got.extend(q.try_iter());
                    }
                    if finished && q.is_empty() {
                        return got;
                    }
                    thread::yield_now();
                }
            })
        })
        .collect();
    for p in producers {
        p.join().unwrap();
    }
    let mut all = Vec::new();
    for c in consumers {
        let got = c.join().unwrap();
        for p in 0..2 {
            let mine: Vec<_> = got
                .iter()
                .filter(|(q, _)| *q == p)
                .map(|(_, i)| *i)
                .collect();
            assert!(mine.windows(2).all(|w| w[0] < w[1]), "producer {p}'s order");
        }
        all.extend(got);
    }
    all.extend(q.try_iter());
    all.sort_unstable();
    let want: Vec<_> = (0..2).flat_map(|p| (0..per).map(move |i| (p, i))).collect();
    assert_eq!(all, want, "each item exactly once");
}

#[test]
fn drains_race_pushes_spin() {
    drains_race_pushes::<Spin>();
}

#[test]
fn drains_race_pushes_futex() {
    drains_race_pushes::<Futex>();
}
