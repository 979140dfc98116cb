//! Exactly once, per-producer FIFO, checksum and drain-on-close for `Queue<T, N, W>`; and
//! `join` after every `task_done` for `JoinableQueue<T, N, W>`.
//!
//! Even-numbered workers produce, odd-numbered ones consume (a single worker does both in
//! turn). An item is `producer << 40 | seq`, `seq` counting from 0 per producer. A consumer
//! keeps, per producer, the last `seq` it received: a new one must be larger (per-producer
//! FIFO). Each received id sets its bit in a per-producer bitmap (the first [`BITMAP_SEQS`]
//! sequence numbers of each producer): a bit already set is a duplicate. Producers stop at
//! the time bound (or when a partner left); the last one to stop closes the queue, and
//! consumers `get` until `Closed`, so the count and the checksum of the received ids must
//! equal those of the ids put: a loss shows there, and so does a duplicate beyond the bitmap.
//!
//! Joinable: consumers increment a `done` counter before each `task_done`. Now and then a
//! producer reads `put` (items whose `put` returned) and calls `join_until`; if it returns
//! `true`, `done` must be at least that `put`: every task put before `join` was called was
//! marked done before `join` returned. At the end `unfinished_tasks()` must be 0.
//!
//! The join check's negative control is a joinable queue whose `join` returns at once
//! ([`JoinAtOnce`]).
//!
//! Blocking calls use the scenario's [`Until`](super::Until) deadline, which sleeping backends
//! re-check only when woken (a lost wake-up is a hang the progress watchdog reports); no
//! release action is needed: consumers drain until the close, which wakes them.
//!
//! The negative controls' consumers throw away one item in a thousand (a queue that drops an
//! item), or hold one item in a few hundred back and deliver it after the next one (a queue
//! that reorders).

use super::{
    checks, Backend, Expect, Outcome, RunCtx, Scenario, ScenarioInfo, SetOnDrop, Tally, Violation,
    Worker,
};
use baresync::{CachePadded, Deadline, Futex, GetError, JoinableQueue, Queue, Spin, Wait, Yield};
use std::marker::PhantomData;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering::SeqCst};
use std::sync::Arc;

/// Capacity of the queue under test: small, so producers often find it full.
const CAPACITY: usize = 64;
/// Sequence numbers per producer covered by the duplicate bitmap.
pub const BITMAP_SEQS: u64 = 1 << 22;
const SEQ_BITS: u32 = 40;

/// The two queues behind one interface.
pub trait Q: Send + Sync + 'static {
    /// An empty queue.
    fn create() -> Self;
    /// `put_until`; false when it gave up.
    fn put_until(&self, v: u64, d: impl Deadline) -> bool;
    /// `get_until`.
    fn get_until(&self, d: impl Deadline) -> Result<u64, GetError>;
    /// `close`.
    fn close(&self);
    /// Marks a task done (joinable only).
    fn task_done(&self) {}
    /// `join_until` (joinable only; `None` for the plain queue).
    fn join_until(&self, _d: impl Deadline) -> Option<bool> {
        None
    }
    /// Unfinished tasks (joinable only).
    fn unfinished(&self) -> usize {
        0
    }
    /// Whether the join checks apply.
    const JOINABLE: bool;
}

impl<W: Wait + Send + Sync + 'static> Q for Queue<u64, CAPACITY, W> {
    fn create() -> Self {
        Queue::with_wait()
    }
    fn put_until(&self, v: u64, d: impl Deadline) -> bool {
        Queue::put_until(self, v, d).is_ok()
    }
    fn get_until(&self, d: impl Deadline) -> Result<u64, GetError> {
        Queue::get_until(self, d)
    }
    fn close(&self) {
        Queue::close(self);
    }
    const JOINABLE: bool = false;
}

impl<W: Wait + Send + Sync + 'static> Q for JoinableQueue<u64, CAPACITY, W> {
    fn create() -> Self {
        JoinableQueue::with_wait()
    }
    fn put_until(&self, v: u64, d: impl Deadline) -> bool {
        JoinableQueue::put_until(self, v, d).is_ok()
    }
    fn get_until(&self, d: impl Deadline) -> Result<u64, GetError> {
        JoinableQueue::get_until(self, d)
    }
    fn close(&self) {
        JoinableQueue::close(self);
    }
    fn task_done(&self) {
        let _ = JoinableQueue::task_done(self);
    }
    fn join_until(&self, d: impl Deadline) -> Option<bool> {
        Some(!JoinableQueue::join_until(self, d).timed_out())
    }
    fn unfinished(&self) -> usize {
        self.unfinished_tasks()
    }
    const JOINABLE: bool = true;
}

/// A joinable queue whose `join` returns at once: the negative control of the join check.
pub struct JoinAtOnce<W>(JoinableQueue<u64, CAPACITY, W>);

impl<W: Wait + Send + Sync + 'static> Q for JoinAtOnce<W> {
    fn create() -> Self {
        JoinAtOnce(JoinableQueue::with_wait())
    }
    fn put_until(&self, v: u64, d: impl Deadline) -> bool {
        self.0.put_until(v, d).is_ok()
    }
    fn get_until(&self, d: impl Deadline) -> Result<u64, GetError> {
        self.0.get_until(d)
    }
    fn close(&self) {
        self.0.close();
    }
    fn task_done(&self) {
        let _ = self.0.task_done();
    }
    fn join_until(&self, _d: impl Deadline) -> Option<bool> {
        // Broken on purpose: claims every task is done without waiting.
        Some(true)
    }
    fn unfinished(&self) -> usize {
        self.0.unfinished_tasks()
    }
    const JOINABLE: bool = true;
}

/// A stress scenario for the queue `T`.
pub struct QueueScenario<T> {
    info: ScenarioInfo,
    drop_items: bool,
    reorder_items: bool,
    _q: PhantomData<fn() -> T>,
}

impl<T: Q> QueueScenario<T> {
    /// A scenario for a real queue.
    pub fn new(name: impl Into<String>, primitive: &'static str, backend: Option<Backend>) -> Self {
        QueueScenario {
            info: ScenarioInfo::new(name, primitive, backend),
            drop_items: false,
            reorder_items: false,
            _q: PhantomData,
        }
    }

    /// A negative control run with the real scenario (for a broken `T`), expected to trip
    /// `checks`.
    pub fn expecting_failure(mut self, checks: &'static [&'static str]) -> Self {
        self.info.expect = Expect::Fail(checks);
        self
    }

    /// The negative control: consumers discard one item in a thousand.
    pub fn dropping_items(mut self, checks: &'static [&'static str]) -> Self {
        self.drop_items = true;
        self.info.expect = Expect::Fail(checks);
        self
    }

    /// The negative control: consumers now and then deliver an item after the next one.
    pub fn reordering_items(mut self, checks: &'static [&'static str]) -> Self {
        self.reorder_items = true;
        self.info.expect = Expect::Fail(checks);
        self
    }
}

/// Both queues with each backend.
pub fn scenarios() -> Vec<Box<dyn Scenario>> {
    vec![
        Box::new(QueueScenario::<Queue<u64, CAPACITY, Spin>>::new(
            "Queue<Spin>",
            "Queue",
            Some(Backend::Spin),
        )),
        Box::new(QueueScenario::<Queue<u64, CAPACITY, Yield>>::new(
            "Queue<Yield>",
            "Queue",
            Some(Backend::Yield),
        )),
        Box::new(QueueScenario::<Queue<u64, CAPACITY, Futex>>::new(
            "Queue<Futex>",
            "Queue",
            Some(Backend::Futex),
        )),
        Box::new(QueueScenario::<JoinableQueue<u64, CAPACITY, Spin>>::new(
            "JoinableQueue<Spin>",
            "JoinableQueue",
            Some(Backend::Spin),
        )),
        Box::new(QueueScenario::<JoinableQueue<u64, CAPACITY, Yield>>::new(
            "JoinableQueue<Yield>",
            "JoinableQueue",
            Some(Backend::Yield),
        )),
        Box::new(QueueScenario::<JoinableQueue<u64, CAPACITY, Futex>>::new(
            "JoinableQueue<Futex>",
            "JoinableQueue",
            Some(Backend::Futex),
        )),
    ]
}

struct State<T> {
    queue: T,
    threads: usize,
    drop_items: bool,
    reorder_items: bool,
    producers_left: AtomicUsize,
    /// Items whose `put` returned, and the wrapping sum of their mixed ids.
    put: CachePadded<AtomicU64>,
    put_sum: AtomicU64,
    /// Items received (discarded ones of the control are not), and their sum.
    got: CachePadded<AtomicU64>,
    got_sum: AtomicU64,
    /// Tasks marked done, counted just before `task_done`.
    done_tasks: CachePadded<AtomicU64>,
    /// Producers inside `join`: the others hold their puts meanwhile, since `join` returns
    /// only once the count of unfinished tasks reaches zero, which steady puts could put off
    /// for longer than the progress limit (a joiner asleep that long counts as stuck).
    joining: AtomicUsize,
    /// Per producer, one bit per sequence number.
    bitmaps: Vec<Vec<AtomicU64>>,
    done: AtomicBool,
    tally: Tally,
}

fn mix(id: u64) -> u64 {
    // splitmix64's finalizer: a sum of mixed ids catches a loss paired with a duplicate.
    let mut z = id.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

fn is_producer(index: usize, threads: usize) -> bool {
    threads == 1 || index.is_multiple_of(2)
}

fn is_consumer(index: usize, threads: usize) -> bool {
    threads == 1 || index % 2 == 1
}

impl<T: Q> Scenario for QueueScenario<T> {
    fn info(&self) -> ScenarioInfo {
        self.info.clone()
    }

    fn run(&self, ctx: &mut RunCtx<'_>) -> Outcome {
        let threads = ctx.threads();
        let producers = (0..threads).filter(|&i| is_producer(i, threads)).count();
        let words = (BITMAP_SEQS / 64) as usize;
        let state = Arc::new(State {
            queue: T::create(),
            threads,
            drop_items: self.drop_items,
            reorder_items: self.reorder_items,
            producers_left: AtomicUsize::new(producers),
            put: CachePadded::new(AtomicU64::new(0)),
            put_sum: AtomicU64::new(0),
            got: CachePadded::new(AtomicU64::new(0)),
            got_sum: AtomicU64::new(0),
            done_tasks: CachePadded::new(AtomicU64::new(0)),
            joining: AtomicUsize::new(0),
            bitmaps: (0..producers)
                .map(|_| (0..words).map(|_| AtomicU64::new(0)).collect())
                .collect(),
            done: AtomicBool::new(false),
            tally: Tally::default(),
        });
        let shared = Arc::clone(&state);
        let finished = ctx.run_workers(move |w| worker(&shared, w));
        let mut violations = state.tally.violations();
        if finished {
            let (put, got) = (state.put.load(SeqCst), state.got.load(SeqCst));
            if put != got {
                violations.push(Violation {
                    check: checks::EXACTLY_ONCE,
                    count: put.abs_diff(got),
                    detail: format!("{put} items put, {got} received after close and drain"),
                });
            }
            let (ps, gs) = (state.put_sum.load(SeqCst), state.got_sum.load(SeqCst));
            if ps != gs {
                violations.push(Violation {
                    check: checks::CHECKSUM,
                    count: 1,
                    detail: format!("checksum of ids put {ps:#x}, received {gs:#x}"),
                });
            }
            if T::JOINABLE {
                let left = state.queue.unfinished();
                if left != 0 {
                    violations.push(Violation {
                        check: checks::JOIN,
                        count: 1,
                        detail: format!("{left} unfinished tasks at the end"),
                    });
                }
            }
        }
        Outcome::new(violations)
    }
}

fn worker<T: Q>(s: &State<T>, w: &mut Worker) {
    let n = s.threads;
    let producer = is_producer(w.index, n);
    let consumer = is_consumer(w.index, n);
    // Producer number: even workers in order (or 0 alone).
    let pid = (w.index / 2) as u64;
    let mut seq: u64 = 0;
    let mut last = Seen {
        last: vec![None; s.bitmaps.len()],
        held: None,
    };
    if producer {
        {
            // Setting `done` when leaving the production loop (even by a panic) frees
            // partners blocked in `put`; consumers keep draining until the close.
            let _leaving = SetOnDrop(&s.done);
            while w.next_op() {
                w.outside_jitter();
                while s.joining.load(SeqCst) > 0 && !(w.stopping() || s.done.load(SeqCst)) {
                    std::thread::yield_now();
                }
                let id = pid << SEQ_BITS | seq;
                if !s.queue.put_until(id, w.until(&s.done)) {
                    break;
                }
                s.put.fetch_add(1, SeqCst);
                s.put_sum.fetch_add(mix(id), SeqCst);
                seq += 1;
                if consumer && !receive(s, w, &mut last, false) {
                    break;
                }
                if T::JOINABLE && w.rng.one_in(256) {
                    check_join(s, w);
                }
            }
        }
        if s.producers_left.fetch_sub(1, SeqCst) == 1 {
            s.queue.close();
        }
    }
    if consumer {
        while receive(s, w, &mut last, true) {
            w.progressed();
        }
    }
}

/// A consumer's view: the last `seq` received per producer, and the reordering control's
/// item held back.
struct Seen {
    last: Vec<Option<u64>>,
    held: Option<u64>,
}

/// Receives one item and checks it; false once the queue is closed and empty (or, when not
/// `draining`, when the wait gave up).
fn receive<T: Q>(s: &State<T>, w: &mut Worker, seen: &mut Seen, draining: bool) -> bool {
    let never = || false;
    let got = if draining {
        s.queue.get_until(never)
    } else {
        s.queue.get_until(w.until(&s.done))
    };
    let id = match got {
        Ok(id) => id,
        Err(_) => {
            if let Some(held) = seen.held.take() {
                deliver(s, &mut seen.last, held);
            }
            return false;
        }
    };
    if s.drop_items && w.rng.one_in(1000) {
        // The broken queue of the negative control: the item vanishes.
        s.queue.task_done();
        s.done_tasks.fetch_add(1, SeqCst);
        return true;
    }
    if s.reorder_items && seen.held.is_none() && w.rng.one_in(300) {
        // The broken queue of the other control: this item comes after the next one.
        seen.held = Some(id);
        return true;
    }
    deliver(s, &mut seen.last, id);
    if let Some(held) = seen.held.take() {
        deliver(s, &mut seen.last, held);
    }
    true
}

/// Checks and counts one delivered item.
fn deliver<T: Q>(s: &State<T>, last: &mut [Option<u64>], id: u64) {
    let p = (id >> SEQ_BITS) as usize;
    let q = id & ((1 << SEQ_BITS) - 1);
    if let Some(prev) = last.get(p).copied().flatten() {
        if q <= prev {
            s.tally.hit(checks::PRODUCER_FIFO, || {
                format!("received seq {q} of producer {p} after seq {prev}")
            });
        }
    }
    if let Some(slot) = last.get_mut(p) {
        *slot = Some(q);
    }
    if q < BITMAP_SEQS {
        if let Some(map) = s.bitmaps.get(p) {
            let bit = 1u64 << (q % 64);
            if map[(q / 64) as usize].fetch_or(bit, SeqCst) & bit != 0 {
                s.tally.hit(checks::EXACTLY_ONCE, || {
                    format!("seq {q} of producer {p} received twice")
                });
            }
        }
    }
    s.got.fetch_add(1, SeqCst);
    s.got_sum.fetch_add(mix(id), SeqCst);
    s.done_tasks.fetch_add(1, SeqCst);
    s.queue.task_done();
}

/// `join` must not return before every task put before it was called is done.
fn check_join<T: Q>(s: &State<T>, w: &Worker) {
    s.joining.fetch_add(1, SeqCst);
    let put = s.put.load(SeqCst);
    let joined = s.queue.join_until(w.until(&s.done));
    s.joining.fetch_sub(1, SeqCst);
    if joined == Some(true) {
        let done = s.done_tasks.load(SeqCst);
        if done < put {
            s.tally.hit(checks::JOIN, || {
                format!("join returned with {done} tasks done of {put} put before it")
            });
        }
    }
}
