//! Lock-order checking (feature `lockdep`): finds a deadlock the first time both orders of
//! an inversion have been seen, even if the timing never made them deadlock.
//!
//! The idea is the Linux kernel's lockdep. Every lock and every primitive that can block
//! belongs to a **class**: the address of the object (a `static`'s address names it for the
//! life of the program), or a named [`Class`] given with [`set_class`] to locks created at run
//! time. Each execution context keeps a **held stack** of the classes it holds, with the
//! `#[track_caller]` location of each acquisition. Acquiring class `B` while holding `A` adds
//! the edge `A → B` to a global **order graph**; when a new edge closes a cycle the checker
//! **reports** it, with the location of every acquisition in the cycle, before the
//! acquisition starts waiting (so before any hang).
//!
//! Blocking waits are classes too. Waiting on a [`Semaphore`](crate::Semaphore), an
//! [`Event`](crate::Event), a [`Condvar`](crate::Condvar), a [`Queue`](crate::Queue)'s
//! `get`/`put`, a [`Barrier`](crate::Barrier) or a running [`Once`](crate::Once) orders the
//! wait after every lock held (`L → W`); signalling it (`release`, a permit's drop, `set`,
//! `notify_*`, `push`/`put`, `pop`/`get`) while holding `L` records that the wait needs `L`
//! (`W → L`). A thread that waits while holding the very lock its waker needs closes the
//! cycle `L → W → L` and is reported: a blocking wait started while holding a lock through
//! which nobody else could make progress. An initializer of a `Once`/`OnceCell`/`Lazy` holds
//! the `Once`'s class while it runs.
//!
//! What is checked, and what is not (the limits):
//! - Only blocking acquisitions add edges: `try_*` cannot deadlock, and a `*_until(deadline)`
//!   or `*_timeout` acquisition has its own way out; both still count as held.
//! - A class is an address: two locks that live at the same address at different times (a
//!   lock freed and another allocated in its place) are one class unless named; locks created
//!   at run time should be named with [`set_class`], or they each become a class (and fill the
//!   class table).
//! - A lock acquired in one context and released in another (possible only through
//!   `force_unlock`) leaves the first context's held stack wrong.
//! - A wait that several signallers can end is reported if one of them needs a lock the
//!   waiter holds, even if another signaller would have ended it: the checker does not know
//!   which signaller runs.
//! - A [`JoinableQueue`](crate::JoinableQueue) item taken makes the taker hold an unfinished
//!   task (the class of the queue's `join`) until it calls `task_done`: a worker's locks order
//!   after the join, and a `join` made holding one of them closes a cycle. A task handed to
//!   another thread to mark done stays held by the taker.
//! - A [`Barrier`](crate::Barrier) arrival signals the wait with the locks the party took and
//!   released since its previous arrival (recorded from its first arrival on, the last
//!   [`DEPTH`] distinct ones); a lock it still holds when arriving is ordered before the wait
//!   instead.
//! - Locks handed between contexts through raw `RawLock` calls, and locks of other crates,
//!   are invisible.
//!
//! # Reports and handler
//!
//! A [`Report`] goes to the handler installed with [`set_handler`]. The default handler
//! panics with the report (with `std`, after printing it to stderr, so that a report in a
//! thread whose panic is caught is still seen). Firmware can log it over a UART and go on.
//! A report is made outside the checker's own lock, and before the acquisition that caused it
//! changes any state: a panicking handler leaves every lock as it was.
//!
//! # Sizes
//!
//! The tables have fixed capacities, chosen when the crate is compiled, from the environment
//! variables `BARESYNC_LOCKDEP_CLASSES` (classes in the order graph, default 256),
//! `BARESYNC_LOCKDEP_EDGES` (edges, default 1024), `BARESYNC_LOCKDEP_DEPTH` (classes held at
//! once by one context, default 16), `BARESYNC_LOCKDEP_NAMED` (locks given a [`Class`] at
//! once, default 64) and, without `std`, `BARESYNC_LOCKDEP_CONTEXTS` (execution contexts,
//! default 8). A full table is reported once ([`Report::Overflow`]), never silently: the
//! checker then goes on without the entries that did not fit.
//!
//! # Execution contexts
//!
//! With `std` the held stack is thread-local. Without `std` the user says what an execution
//! context is by installing a function that returns its id, with `set_context_id` (without `std`): the
//! current core and task for an RTOS, `core_id * 2 + in_interrupt` for bare metal. Until one
//! is installed every acquisition is reported ([`Report::NoContext`]).
//!
//! # Cost
//!
//! With the feature off, none of this exists: every hook compiles to nothing, and the sizes
//! and code of every primitive are unchanged. With it on, an acquisition with no other class
//! held pushes onto the held stack (a few loads and stores); an acquisition with others held
//! takes the checker's spin lock and scans the edge table (and searches the graph once per new
//! edge). Acquisitions are located with `#[track_caller]`.
//!
//! # Examples
//!
//! ```
//! use baresync::{lockdep, SpinLock};
//!
//! static A: SpinLock<u32> = SpinLock::new(0);
//! static B: SpinLock<u32> = SpinLock::new(0);
//!
//! {
//!     let _a = A.lock();
//!     let _b = B.lock(); // records A → B
//! }
//! // Taking them in the other order closes the cycle: the default handler panics.
//! let inverted = std::panic::catch_unwind(|| {
//!     let _b = B.lock();
//!     let _a = A.lock();
//! });
//! assert!(inverted.is_err());
//! assert!(!A.is_locked() && !B.is_locked());
//! ```

use crate::raw::{RawLock, RawSpinLock};
use crate::sync::atomic::{AtomicBool, AtomicPtr, Ordering::Relaxed};
use core::cell::{Cell, UnsafeCell};
use core::fmt;
use core::panic::Location;

/// Parses a table size from the environment at compile time.
const fn size(value: Option<&str>, default: usize) -> usize {
    let bytes = match value {
        Some(v) => v.as_bytes(),
        None => return default,
    };
    assert!(!bytes.is_empty(), "BARESYNC_LOCKDEP_*: empty size");
    let mut n: usize = 0;
    let mut i = 0;
    while i < bytes.len() {
        let digit = bytes[i];
        assert!(
            digit.is_ascii_digit(),
            "BARESYNC_LOCKDEP_*: a size is a decimal number"
        );
        n = n * 10 + (digit - b'0') as usize;
        i += 1;
    }
    n
}

/// How many classes the order graph holds (`BARESYNC_LOCKDEP_CLASSES`, default 256).
pub const CLASSES: usize = size(option_env!("BARESYNC_LOCKDEP_CLASSES"), 256);
/// How many edges the order graph holds (`BARESYNC_LOCKDEP_EDGES`, default 1024).
pub const EDGES: usize = size(option_env!("BARESYNC_LOCKDEP_EDGES"), 1024);
/// How many classes one context may hold at once (`BARESYNC_LOCKDEP_DEPTH`, default 16).
pub const DEPTH: usize = size(option_env!("BARESYNC_LOCKDEP_DEPTH"), 16);
/// How many objects may carry a [`Class`] at once (`BARESYNC_LOCKDEP_NAMED`, default 64).
pub const NAMED: usize = size(option_env!("BARESYNC_LOCKDEP_NAMED"), 64);
/// How many execution contexts exist, without `std` (`BARESYNC_LOCKDEP_CONTEXTS`, default 8).
pub const CONTEXTS: usize = size(option_env!("BARESYNC_LOCKDEP_CONTEXTS"), 8);
/// The longest cycle a report lists in full; longer ones say how many steps were left out.
pub const MAX_REPORTED_STEPS: usize = 8;

const _: () = assert!(CLASSES >= 2 && CLASSES < u16::MAX as usize);
const _: () = assert!(EDGES >= 1 && EDGES < u16::MAX as usize);
const _: () = assert!(DEPTH >= 1 && CONTEXTS >= 1);

/// A named lock class, for locks created at run time (see [`set_class`]).
///
/// # Examples
///
/// ```
/// use baresync::{lockdep, Mutex};
///
/// static ACCOUNTS: lockdep::Class = lockdep::Class::new("accounts");
/// let account = Box::new(Mutex::new(0u64));
/// lockdep::set_class(&*account, &ACCOUNTS);
/// *account.lock() += 1;
/// lockdep::clear_class(&*account);
/// ```
#[derive(Debug)]
pub struct Class {
    name: &'static str,
}

impl Class {
    /// A class with this name (shown in reports).
    ///
    /// # Examples
    ///
    /// ```
    /// static QUEUES: baresync::lockdep::Class = baresync::lockdep::Class::new("queues");
    /// assert_eq!(QUEUES.name(), "queues");
    /// ```
    pub const fn new(name: &'static str) -> Self {
        Class { name }
    }

    /// The class's name.
    ///
    /// # Examples
    ///
    /// ```
    /// let c = baresync::lockdep::Class::new("pool");
    /// assert_eq!(c.name(), "pool");
    /// ```
    pub const fn name(&self) -> &'static str {
        self.name
    }
}

/// One class as a report shows it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ClassInfo {
    /// The class's key: the object's address, or the [`Class`]'s address.
    pub key: usize,
    /// The [`Class`]'s name, if the object was given one.
    pub name: Option<&'static str>,
    /// What kind of object it is (`"SpinLock"`, `"Semaphore"`, `"Queue::get"`, ...).
    pub kind: &'static str,
}

impl fmt::Display for ClassInfo {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.name {
            Some(name) => write!(f, "{} `{}`", self.kind, name),
            None => write!(f, "{} at {:#x}", self.kind, self.key),
        }
    }
}

/// One edge of a cycle: `taken` was acquired (or waited on) at `taken_at` while `held` was
/// held, acquired at `held_at`. For a signal (`signal`), the wait class `held` was signalled
/// at `held_at` while the lock `taken`, acquired at `taken_at`, was held: the wait needs it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Step {
    /// The class held (for a signal: the wait class signalled).
    pub held: ClassInfo,
    /// Where it was acquired (for a signal: where it was signalled).
    pub held_at: &'static Location<'static>,
    /// The class acquired next (for a signal: the lock held while signalling).
    pub taken: ClassInfo,
    /// Where that happened (for a signal: where that lock was acquired).
    pub taken_at: &'static Location<'static>,
    /// Whether this edge was recorded by a signal.
    pub signal: bool,
}

/// What the checker found.
#[derive(Clone, Copy, Debug)]
#[non_exhaustive]
pub enum Report<'a> {
    /// A cycle in the order graph: each step's `taken` is the next step's `held`, and the last
    /// step's `taken` is the first step's `held`. The last step is the acquisition being
    /// made, which has not started waiting.
    Cycle {
        /// The steps, at most [`MAX_REPORTED_STEPS`].
        steps: &'a [Step],
        /// How many steps of a longer cycle were left out.
        omitted: usize,
    },
    /// A context acquires a class it already holds (a non-reentrant lock taken twice, an
    /// initializer waiting for its own `Once`): a certain deadlock.
    Recursive {
        /// The class.
        class: ClassInfo,
        /// Where it is held.
        held_at: &'static Location<'static>,
        /// Where it is acquired again.
        again_at: &'static Location<'static>,
    },
    /// A lock taken inside an `IrqLock` (so with interrupts masked, possibly in an interrupt
    /// handler that takes that `IrqLock`) and elsewhere with interrupts enabled: an interrupt
    /// whose handler takes it, arriving while it is held with interrupts enabled, spins
    /// forever on its own core (Linux: "irq-safe → irq-unsafe"). Take it through an `IrqLock`
    /// everywhere, or never under one. Reported once per class.
    IrqUnsafe {
        /// The class.
        class: ClassInfo,
        /// Where it was taken inside an `IrqLock`.
        masked_at: &'static Location<'static>,
        /// Where it was taken with no `IrqLock` held.
        unmasked_at: &'static Location<'static>,
    },
    /// A table is full; the checker goes on without the entries that did not fit (reported
    /// once per table).
    Overflow {
        /// The table (`"classes"`, `"edges"`, `"held stack"`, `"named classes"`,
        /// `"contexts"`).
        table: &'static str,
        /// Its capacity.
        capacity: usize,
        /// The environment variable that sets it at compile time.
        env: &'static str,
    },
    /// Without `std`, no context id function is installed (`set_context_id` (without `std`)); nothing is
    /// checked until one is (reported once).
    NoContext,
}

impl fmt::Display for Report<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Report::Cycle { steps, omitted } => {
                writeln!(f, "lockdep: lock-order cycle (possible deadlock):")?;
                for (i, s) in steps.iter().enumerate() {
                    if s.signal {
                        writeln!(
                            f,
                            "  {}. {} signalled at {} while holding {} taken at {}",
                            i + 1,
                            s.held,
                            s.held_at,
                            s.taken,
                            s.taken_at
                        )?;
                    } else {
                        writeln!(
                            f,
                            "  {}. {} taken at {} while holding {} taken at {}",
                            i + 1,
                            s.taken,
                            s.taken_at,
                            s.held,
                            s.held_at
                        )?;
                    }
                }
                if *omitted > 0 {
                    writeln!(f, "  ... and {omitted} more steps")?;
                }
                write!(f, "  the last acquisition closes the cycle")
            }
            Report::Recursive {
                class,
                held_at,
                again_at,
            } => write!(
                f,
                "lockdep: {class} acquired at {again_at} while already held (taken at {held_at}): \
                 deadlock"
            ),
            Report::IrqUnsafe {
                class,
                masked_at,
                unmasked_at,
            } => write!(
                f,
                "lockdep: {class} taken at {masked_at} inside an IrqLock (interrupts masked, \
                 possibly in an interrupt handler) and at {unmasked_at} with interrupts \
                 enabled: an interrupt whose handler takes it, arriving while it is held there, \
                 spins forever"
            ),
            Report::Overflow {
                table,
                capacity,
                env,
            } => write!(
                f,
                "lockdep: the {table} table is full ({capacity} entries); checking goes on \
                 without what did not fit; raise {env} at compile time"
            ),
            Report::NoContext => write!(
                f,
                "lockdep: no execution context id installed (lockdep::set_context_id); \
                 nothing is checked"
            ),
        }
    }
}

/// The handler: null means the default.
static HANDLER: AtomicPtr<()> = AtomicPtr::new(core::ptr::null_mut());

/// Installs the function that receives every report (in place of the default, which panics;
/// with `std` it prints the report to stderr first).
///
/// The handler runs in the context that made the report, with no checker lock held; it may
/// take locks (which are checked as usual), log, or panic.
///
/// # Examples
///
/// ```
/// use baresync::lockdep::{self, Report};
///
/// fn log(report: &Report<'_>) {
///     eprintln!("{report}"); // firmware: write it to the UART
/// }
/// lockdep::set_handler(log);
/// # lockdep::reset_handler();
/// ```
pub fn set_handler(handler: fn(&Report<'_>)) {
    // ORDERING: Relaxed: only a function pointer is published, and the code it points to
    // needs no publication; state the handler reads is synchronized by the handler's own
    // means (as for any function called from another thread).
    HANDLER.store(handler as *mut (), Relaxed);
}

/// Puts the default handler back.
///
/// # Examples
///
/// ```
/// baresync::lockdep::reset_handler();
/// ```
pub fn reset_handler() {
    // ORDERING: Relaxed: the default handler reads nothing the caller wrote.
    HANDLER.store(core::ptr::null_mut(), Relaxed);
}

/// The default handler: panics with the report (with `std`, printed to stderr first).
///
/// # Panics
///
/// Always.
///
/// # Examples
///
/// ```
/// use baresync::lockdep::{self, Report};
///
/// let r = std::panic::catch_unwind(|| lockdep::default_handler(&Report::NoContext));
/// assert!(r.is_err());
/// ```
pub fn default_handler(report: &Report<'_>) {
    #[cfg(feature = "std")]
    std::eprintln!("{report}");
    panic!("{report}");
}

#[cold]
#[inline(never)]
fn report(report: &Report<'_>) {
    // A report made while this thread unwinds (a permit or a guard dropped by a panicking
    // thread signals): a panicking handler would abort the process. Printed instead.
    #[cfg(feature = "std")]
    if std::thread::panicking() {
        std::eprintln!("{report}");
        return;
    }
    // ORDERING: Relaxed: see `set_handler`.
    let handler = HANDLER.load(Relaxed);
    if handler.is_null() {
        default_handler(report);
    } else {
        // SAFETY: only `set_handler` stores a non-null pointer, and it stores a
        // `fn(&Report<'_>)`; function pointers round-trip through `*mut ()` unchanged.
        let handler: fn(&Report<'_>) = unsafe { core::mem::transmute(handler) };
        handler(report);
    }
}

// ---------------------------------------------------------------------------------------
// Held stacks.

/// One class held by a context.
#[derive(Clone, Copy)]
struct Held {
    key: usize,
    kind: &'static str,
    at: &'static Location<'static>,
}

/// The classes one context holds, innermost last.
struct Stack {
    len: Cell<usize>,
    /// Pushes that did not fit (their releases are matched against this count).
    lost: Cell<usize>,
    items: [Cell<Option<Held>>; DEPTH],
    /// Whether this context has arrived at a `Barrier`: from then on it records in `since`
    /// the locks it releases, which its next arrival signals.
    party: Cell<bool>,
    /// The classes taken and released since this context's last arrival at a `Barrier`
    /// (distinct, oldest first; the oldest is dropped when full: a history, not a table).
    since_len: Cell<usize>,
    since: [Cell<Option<Held>>; DEPTH],
}

impl Stack {
    const fn new() -> Self {
        Stack {
            len: Cell::new(0),
            lost: Cell::new(0),
            items: [const { Cell::new(None) }; DEPTH],
            party: Cell::new(false),
            since_len: Cell::new(0),
            since: [const { Cell::new(None) }; DEPTH],
        }
    }

    /// The classes held, outermost first.
    fn held(&self) -> impl Iterator<Item = Held> + '_ {
        (0..self.len.get()).map(|i| self.get(i))
    }

    /// Records that `held` was released (for the next `Barrier` arrival), if this context is
    /// a barrier party.
    fn remember(&self, held: Held) {
        if !self.party.get() || held.kind == TASK {
            return;
        }
        let len = self.since_len.get();
        if (0..len).any(|i| self.since[i].get().is_some_and(|h| h.key == held.key)) {
            return;
        }
        if len == DEPTH {
            for i in 0..DEPTH - 1 {
                self.since[i].set(self.since[i + 1].get());
            }
            self.since[DEPTH - 1].set(Some(held));
        } else {
            self.since[len].set(Some(held));
            self.since_len.set(len + 1);
        }
    }

    fn get(&self, i: usize) -> Held {
        match self.items[i].get() {
            Some(h) => h,
            None => unreachable!("lockdep: held stack entry below len is empty"),
        }
    }

    fn find(&self, key: usize) -> Option<usize> {
        (0..self.len.get()).rev().find(|&i| self.get(i).key == key)
    }
}

#[cfg(feature = "std")]
std::thread_local! {
    static HELD: Stack = const { Stack::new() };
}

/// Runs `f` on the current context's held stack; `None` when there is none (a thread being
/// torn down, or no context id without `std`).
#[cfg(feature = "std")]
fn with_stack<U>(f: impl FnOnce(&Stack) -> U) -> Option<U> {
    HELD.try_with(f).ok()
}

#[cfg(not(feature = "std"))]
struct Stacks([Stack; CONTEXTS]);

// SAFETY: each stack is used only by the context whose id indexes it, and the contract of
// `set_context_id` says no two contexts that can run at the same time, or preempt one
// another, share an id; so no `Cell` is ever touched by two contexts at once.
#[cfg(not(feature = "std"))]
unsafe impl Sync for Stacks {}

#[cfg(not(feature = "std"))]
static STACKS: Stacks = Stacks([const { Stack::new() }; CONTEXTS]);

#[cfg(not(feature = "std"))]
static CONTEXT_ID: AtomicPtr<()> = AtomicPtr::new(core::ptr::null_mut());

#[cfg(not(feature = "std"))]
static NO_CONTEXT_REPORTED: AtomicBool = AtomicBool::new(false);

/// Installs the function that names the current execution context (without `std`).
///
/// # Safety
///
/// Two execution contexts that can run at the same time (on two cores) or preempt one another
/// (a task and an interrupt handler, two tasks of a preemptive scheduler) must never get the
/// same id from `id` while either holds a lock; ids must be below [`CONTEXTS`] (a larger one
/// is reported as an overflow). Install it before any context takes a lock, and never
/// replace it while locks are held.
///
/// # Examples
///
/// ```ignore
/// fn context() -> usize {
///     let core = read_core_id();
///     core * 2 + usize::from(in_interrupt())
/// }
/// // SAFETY: a core's thread mode and its interrupt handlers get different ids.
/// unsafe { baresync::lockdep::set_context_id(context) };
/// ```
#[cfg(not(feature = "std"))]
pub unsafe fn set_context_id(id: fn() -> usize) {
    // ORDERING: Relaxed: a function pointer, as in `set_handler`.
    CONTEXT_ID.store(id as *mut (), Relaxed);
}

#[cfg(not(feature = "std"))]
fn with_stack<U>(f: impl FnOnce(&Stack) -> U) -> Option<U> {
    // ORDERING: Relaxed: see `set_context_id`.
    let id = CONTEXT_ID.load(Relaxed);
    if id.is_null() {
        // ORDERING: Relaxed: a once-only flag; nothing is published with it.
        if !NO_CONTEXT_REPORTED.swap(true, Relaxed) {
            report(&Report::NoContext);
        }
        return None;
    }
    // SAFETY: only `set_context_id` stores a non-null pointer, a `fn() -> usize`.
    let id: fn() -> usize = unsafe { core::mem::transmute(id) };
    match STACKS.0.get(id()) {
        Some(stack) => Some(f(stack)),
        None => {
            overflow(OVERFLOW_CONTEXTS);
            None
        }
    }
}

// ---------------------------------------------------------------------------------------
// The order graph.

#[derive(Clone, Copy)]
struct ClassSlot {
    key: usize,
    name: Option<&'static str>,
    kind: &'static str,
    /// Where it was first taken while an `IrqLock` was held (interrupts masked).
    masked_at: Option<&'static Location<'static>>,
    /// Where it was first taken with no `IrqLock` held (recorded when the acquisition was
    /// nested, or once some class was taken masked).
    unmasked_at: Option<&'static Location<'static>>,
    /// Whether the two were reported already.
    irq_reported: bool,
}

#[derive(Clone, Copy)]
struct Edge {
    from: u16,
    to: u16,
    held_at: &'static Location<'static>,
    taken_at: &'static Location<'static>,
    signal: bool,
}

struct Tables {
    classes: [Option<ClassSlot>; CLASSES],
    n_classes: usize,
    edges: [Option<Edge>; EDGES],
    n_edges: usize,
    /// Objects given a named class: (object address, class).
    named: [Option<(usize, &'static Class)>; NAMED],
    /// Search scratch: the edge by which each class was reached (`u16::MAX`: not yet).
    parent: [u16; CLASSES],
    /// Search scratch: the classes to visit.
    todo: [u16; CLASSES],
}

struct Graph {
    lock: RawSpinLock,
    tables: UnsafeCell<Tables>,
}

// SAFETY: `tables` is only touched through `Graph::with`, which holds `lock`.
unsafe impl Sync for Graph {}

static GRAPH: Graph = Graph {
    lock: <RawSpinLock as RawLock>::INIT,
    tables: UnsafeCell::new(Tables {
        classes: [None; CLASSES],
        n_classes: 0,
        edges: [None; EDGES],
        n_edges: 0,
        named: [None; NAMED],
        parent: [u16::MAX; CLASSES],
        todo: [0; CLASSES],
    }),
};

/// Whether any object carries a named class (skips the search of `named` when none does).
static ANY_NAMED: AtomicBool = AtomicBool::new(false);

impl Graph {
    /// Runs `f` on the tables under the checker's lock (and, with feature `critical-section`
    /// and without `std`, inside a critical section, so that an interrupt handler that takes
    /// a lock on this core never spins on a checker lock its own core holds). `f` runs no
    /// user code.
    fn with<U>(&self, f: impl FnOnce(&mut Tables) -> U) -> U {
        let run = || {
            self.lock.lock();
            struct Unlock<'a>(&'a RawSpinLock);
            impl Drop for Unlock<'_> {
                fn drop(&mut self) {
                    // SAFETY: locked just above by this context, released once, here.
                    unsafe { self.0.unlock() }
                }
            }
            let _unlock = Unlock(&self.lock);
            // SAFETY: the lock is held, so this is the only reference to the tables.
            f(unsafe { &mut *self.tables.get() })
        };
        #[cfg(all(feature = "critical-section", not(feature = "std")))]
        return critical_section::with(|_| run());
        #[cfg(not(all(feature = "critical-section", not(feature = "std"))))]
        run()
    }
}

const OVERFLOW_CLASSES: usize = 0;
const OVERFLOW_EDGES: usize = 1;
const OVERFLOW_DEPTH: usize = 2;
const OVERFLOW_NAMED: usize = 3;
#[cfg(not(feature = "std"))]
const OVERFLOW_CONTEXTS: usize = 4;

static OVERFLOWED: [AtomicBool; 5] = [const { AtomicBool::new(false) }; 5];

/// Reports that a table is full, once per table.
#[cold]
fn overflow(table: usize) {
    // ORDERING: Relaxed: a once-only flag; nothing is published with it.
    if OVERFLOWED[table].swap(true, Relaxed) {
        return;
    }
    let (table, capacity, env) = match table {
        OVERFLOW_CLASSES => ("classes", CLASSES, "BARESYNC_LOCKDEP_CLASSES"),
        OVERFLOW_EDGES => ("edges", EDGES, "BARESYNC_LOCKDEP_EDGES"),
        OVERFLOW_DEPTH => ("held stack", DEPTH, "BARESYNC_LOCKDEP_DEPTH"),
        OVERFLOW_NAMED => ("named classes", NAMED, "BARESYNC_LOCKDEP_NAMED"),
        _ => ("contexts", CONTEXTS, "BARESYNC_LOCKDEP_CONTEXTS"),
    };
    report(&Report::Overflow {
        table,
        capacity,
        env,
    });
}

impl Tables {
    fn named_class(&self, key: usize) -> Option<&'static Class> {
        // ORDERING: Relaxed: the flag only skips the search; `named` itself is read under the
        // checker's lock, which orders it after every `set_class`.
        if !ANY_NAMED.load(Relaxed) {
            return None;
        }
        self.named
            .iter()
            .flatten()
            .find(|(object, _)| *object == key)
            .map(|(_, class)| *class)
    }

    fn info(&self, index: u16) -> ClassInfo {
        match self.classes[index as usize] {
            Some(c) => ClassInfo {
                key: c.key,
                name: c.name,
                kind: c.kind,
            },
            None => unreachable!("lockdep: edge to an empty class slot"),
        }
    }

    /// The class index of an object, added if new; `Err` with the overflow when full.
    fn class(&mut self, key: usize, kind: &'static str) -> Result<u16, usize> {
        let (key, name) = match self.named_class(key) {
            Some(class) => (class as *const Class as usize, Some(class.name)),
            None => (key, None),
        };
        let used = &self.classes[..self.n_classes];
        if let Some(i) = used.iter().position(|c| c.is_some_and(|c| c.key == key)) {
            return Ok(i as u16);
        }
        if self.n_classes == CLASSES {
            return Err(OVERFLOW_CLASSES);
        }
        self.classes[self.n_classes] = Some(ClassSlot {
            key,
            name,
            kind,
            masked_at: None,
            unmasked_at: None,
            irq_reported: false,
        });
        self.n_classes += 1;
        Ok((self.n_classes - 1) as u16)
    }

    fn has_edge(&self, from: u16, to: u16) -> bool {
        self.edges[..self.n_edges]
            .iter()
            .flatten()
            .any(|e| e.from == from && e.to == to)
    }

    /// Searches a path `from →* to` (breadth first, so the shortest); fills `out` with its
    /// steps and returns how many there are in all.
    fn path(&mut self, from: u16, to: u16, out: &mut [Step; MAX_REPORTED_STEPS]) -> usize {
        self.parent[..self.n_classes].fill(u16::MAX);
        let (mut head, mut tail) = (0, 0);
        self.todo[tail] = from;
        tail += 1;
        let mut found = from == to;
        while head < tail && !found {
            let node = self.todo[head];
            head += 1;
            for (i, e) in self.edges[..self.n_edges].iter().enumerate() {
                let Some(e) = e else { continue };
                if e.from != node || e.to == from || self.parent[e.to as usize] != u16::MAX {
                    continue;
                }
                self.parent[e.to as usize] = i as u16;
                if e.to == to {
                    found = true;
                    break;
                }
                self.todo[tail] = e.to;
                tail += 1;
            }
        }
        if !found || from == to {
            return 0;
        }
        // Walk back from `to`, then reverse into `out`.
        let mut len = 0;
        let mut node = to;
        while node != from {
            len += 1;
            let e = self.edges[self.parent[node as usize] as usize].expect("edge on the path");
            node = e.from;
        }
        let shown = len.min(MAX_REPORTED_STEPS - 1);
        let mut node = to;
        let mut i = len;
        while node != from {
            i -= 1;
            let e = self.edges[self.parent[node as usize] as usize].expect("edge on the path");
            if i < shown {
                out[i] = Step {
                    held: self.info(e.from),
                    held_at: e.held_at,
                    taken: self.info(e.to),
                    taken_at: e.taken_at,
                    signal: e.signal,
                };
            }
            node = e.from;
        }
        len
    }
}

/// Everything a report needs, copied out of the tables so the lock can be released first.
/// (Kept on the stack of the acquiring context: no heap, and the cycle is rare.)
#[allow(clippy::large_enum_variant)]
enum Found {
    Nothing,
    Cycle {
        steps: [Step; MAX_REPORTED_STEPS],
        shown: usize,
        omitted: usize,
    },
    Overflow(usize),
}

/// Adds the edges `held → new` for each `held`, and finds the first cycle one of them closes.
/// `reverse` adds `new → held` instead (a signal recorded while holding locks); a task of a
/// `JoinableQueue` is never held against a signal (taking one never waits, so no signaller
/// can be kept from it).
fn add_edges(held: impl Iterator<Item = Held>, new: Held, reverse: bool) -> Found {
    GRAPH.with(|t| {
        let to = match t.class(new.key, new.kind) {
            Ok(c) => c,
            Err(o) => return Found::Overflow(o),
        };
        let mut found = Found::Nothing;
        for held in held {
            if reverse && held.kind == TASK {
                continue;
            }
            let h = match t.class(held.key, held.kind) {
                Ok(c) => c,
                Err(o) => return Found::Overflow(o),
            };
            if h == to {
                continue;
            }
            let (from, to, held_at, taken_at) = if reverse {
                (to, h, new.at, held.at)
            } else {
                (h, to, held.at, new.at)
            };
            if t.has_edge(from, to) {
                continue;
            }
            if matches!(found, Found::Nothing) {
                let mut steps = [Step {
                    held: t.info(from),
                    held_at,
                    taken: t.info(to),
                    taken_at,
                    signal: reverse,
                }; MAX_REPORTED_STEPS];
                // A path back `to →* from` plus the new edge is a cycle.
                let len = t.path(to, from, &mut steps);
                if len > 0 {
                    let shown = len.min(MAX_REPORTED_STEPS - 1);
                    steps[shown] = Step {
                        held: t.info(from),
                        held_at,
                        taken: t.info(to),
                        taken_at,
                        signal: reverse,
                    };
                    found = Found::Cycle {
                        steps,
                        shown: shown + 1,
                        omitted: len - shown,
                    };
                }
            }
            if t.n_edges == EDGES {
                return match found {
                    Found::Nothing => Found::Overflow(OVERFLOW_EDGES),
                    cycle => cycle,
                };
            }
            t.edges[t.n_edges] = Some(Edge {
                from,
                to,
                held_at,
                taken_at,
                signal: reverse,
            });
            t.n_edges += 1;
        }
        found
    })
}

fn report_found(found: Found) {
    match found {
        Found::Nothing => {}
        Found::Cycle {
            steps,
            shown,
            omitted,
        } => report(&Report::Cycle {
            steps: &steps[..shown],
            omitted,
        }),
        Found::Overflow(table) => overflow(table),
    }
}

// ---------------------------------------------------------------------------------------
// Hooks, called by the primitives.

/// Before a blocking acquisition of `key` (a lock, or a wait on `key`): a class already held
/// is reported as recursive, and new edges from each held class are checked for cycles.
/// Changes nothing the caller depends on; the handler may panic out of it.
#[inline]
#[track_caller]
pub(crate) fn before_acquire(key: usize, kind: &'static str) {
    let new = Held {
        key,
        kind,
        at: Location::caller(),
    };
    let Some(found) = with_stack(|stack| {
        // ORDERING: Relaxed: a hint that the interrupt check has something to compare; the
        // class table it leads to is read under the checker's lock.
        if stack.len.get() == 0 && !ANY_MASKED.load(Relaxed) {
            return None;
        }
        Some(check(stack, new))
    }) else {
        return;
    };
    if let Some(found) = found {
        found();
    }
}

/// The kind of a read lock of an `RwLock`.
pub(crate) const RW_READ: &str = "RwLock (read)";
/// The kind of an upgradable read lock of an `RwLock`.
pub(crate) const RW_UPGRADABLE: &str = "RwLock (upgradable read)";
/// The kind of a write lock of an `RwLock`.
pub(crate) const RW_WRITE: &str = "RwLock (write)";

/// Whether two acquisitions of one `RwLock` in these modes can both be held by one context:
/// reads share with reads and with the upgradable read (a second upgradable read or a write
/// waits for the first: a certain deadlock).
fn may_share(held: &str, new: &str) -> bool {
    let read_or_upgradable = |k: &str| k == RW_READ || k == RW_UPGRADABLE;
    read_or_upgradable(held) && read_or_upgradable(new) && !(held == RW_UPGRADABLE && new == RW_UPGRADABLE)
}

/// The slow part of `before_acquire`: returns the report to make (run after every borrow of
/// the stack has ended).
#[cold]
fn check(stack: &Stack, new: Held) -> impl FnOnce() {
    let recursive = stack
        .find(new.key)
        .map(|i| stack.get(i))
        .filter(|held| !may_share(held.kind, new.kind));
    let found = if recursive.is_some() {
        Found::Nothing
    } else {
        add_edges(stack.held(), new, false)
    };
    let irq = irq_check(stack, new);
    move || {
        if let Some(irq) = irq {
            report(&irq);
        }
        if let Some(held) = recursive {
            let class = GRAPH.with(|t| ClassInfo {
                key: t
                    .named_class(held.key)
                    .map_or(held.key, |c| c as *const Class as usize),
                name: t.named_class(held.key).map(|c| c.name),
                kind: new.kind,
            });
            report(&Report::Recursive {
                class,
                held_at: held.at,
                again_at: new.at,
            });
        }
        report_found(found);
    }
}

/// The kind of an `IrqLock`.
pub(crate) const IRQ_LOCK: &str = "IrqLock";

/// Whether some class was taken inside an `IrqLock`: from then on every blocking acquisition
/// is looked up for the interrupt check.
static ANY_MASKED: AtomicBool = AtomicBool::new(false);

/// Records whether `new` is taken inside an `IrqLock` or not, and returns the report when a
/// class has now been taken both ways.
fn irq_check(stack: &Stack, new: Held) -> Option<Report<'static>> {
    if new.kind == IRQ_LOCK {
        return None;
    }
    let masked = (0..stack.len.get()).any(|i| stack.get(i).kind == IRQ_LOCK);
    // Unmasked acquisitions are recorded when the checker looks at them anyway (nested ones)
    // and, once some class was taken masked, all of them.
    // ORDERING: Relaxed: see `before_acquire`.
    if !masked && stack.len.get() == 0 && !ANY_MASKED.load(Relaxed) {
        return None;
    }
    let found = GRAPH.with(|t| {
        let index = t.class(new.key, new.kind).ok()? as usize;
        let slot = t.classes[index].as_mut()?;
        if masked {
            slot.masked_at.get_or_insert(new.at);
        } else {
            slot.unmasked_at.get_or_insert(new.at);
        }
        match (slot.masked_at, slot.unmasked_at, slot.irq_reported) {
            (Some(masked_at), Some(unmasked_at), false) => {
                slot.irq_reported = true;
                Some(Report::IrqUnsafe {
                    class: t.info(index as u16),
                    masked_at,
                    unmasked_at,
                })
            }
            _ => None,
        }
    });
    if masked {
        // ORDERING: Relaxed: see `before_acquire`.
        ANY_MASKED.store(true, Relaxed);
    }
    found
}

/// After `key` has been acquired (by any means, `try_*` included): pushes it.
#[inline]
#[track_caller]
pub(crate) fn acquired(key: usize, kind: &'static str) {
    let at = Location::caller();
    let pushed = with_stack(|stack| {
        let len = stack.len.get();
        if len == DEPTH {
            stack.lost.set(stack.lost.get() + 1);
            return false;
        }
        stack.items[len].set(Some(Held { key, kind, at }));
        stack.len.set(len + 1);
        true
    });
    if pushed == Some(false) {
        overflow(OVERFLOW_DEPTH);
    }
}

/// After `key` has been released: pops it (wherever it is in the stack).
#[inline]
pub(crate) fn released(key: usize) {
    with_stack(|stack| match stack.find(key) {
        Some(i) => {
            stack.remember(stack.get(i));
            let len = stack.len.get();
            for j in i..len - 1 {
                stack.items[j].set(stack.items[j + 1].get());
            }
            stack.items[len - 1].set(None);
            stack.len.set(len - 1);
        }
        None => stack.lost.set(stack.lost.get().saturating_sub(1)),
    });
}

/// A signal that ends waits on `key` (a semaphore release, an event set, a notify, a push),
/// made while holding locks: records that the wait needs each of them.
#[inline]
#[track_caller]
pub(crate) fn signal(key: usize, kind: &'static str) {
    let at = Location::caller();
    let found = with_stack(|stack| {
        if stack.len.get() == 0 {
            return Found::Nothing;
        }
        add_edges(stack.held(), Held { key, kind, at }, true)
    });
    if let Some(found) = found {
        report_found(found);
    }
}

/// The kind of a task taken from a `JoinableQueue` and not yet marked done (the class of its
/// `join`).
pub(crate) const TASK: &str = "JoinableQueue (join, unfinished tasks)";

/// An item was taken from the `JoinableQueue` whose join class is `key`: this context holds
/// an unfinished task until it calls `task_done`, and every lock it takes meanwhile orders
/// after the join (`join → L`: a joiner holding `L` waits for a task that needs `L`). Taking
/// a task never waits, so it adds no order itself; a context holds one task per queue however
/// many items it took.
#[inline]
#[track_caller]
pub(crate) fn task_taken(key: usize) {
    let at = Location::caller();
    let pushed = with_stack(|stack| {
        if stack.find(key).is_some() {
            return true;
        }
        let len = stack.len.get();
        if len == DEPTH {
            stack.lost.set(stack.lost.get() + 1);
            return false;
        }
        stack.items[len].set(Some(Held {
            key,
            kind: TASK,
            at,
        }));
        stack.len.set(len + 1);
        true
    });
    if pushed == Some(false) {
        overflow(OVERFLOW_DEPTH);
    }
}

/// `task_done` on the `JoinableQueue` whose join class is `key`: signals its joiners (with
/// the locks held), and this context no longer holds a task of it.
#[inline]
#[track_caller]
pub(crate) fn task_done(key: usize) {
    signal(key, TASK);
    with_stack(|stack| {
        if let Some(i) = stack.find(key) {
            let len = stack.len.get();
            for j in i..len - 1 {
                stack.items[j].set(stack.items[j + 1].get());
            }
            stack.items[len - 1].set(None);
            stack.len.set(len - 1);
        }
    });
}

/// An arrival at the `Barrier` `key`: it ends the other parties' waits, so those waits need
/// every lock this context took (and released) before arriving, since its previous arrival:
/// `B → L` for each. A lock it still holds is left out: held across the barrier, it is
/// ordered before the wait instead (`L → B`, by `before_acquire`), and a party holding a lock
/// of its own at the barrier keeps no other party out. A party that takes `L` before arriving
/// while another waits holding `L` closes `L → B → L`. A context records what it releases
/// only from its first arrival on, so the first generation's locks are not seen.
#[inline]
#[track_caller]
pub(crate) fn arrive(key: usize, kind: &'static str) {
    let at = Location::caller();
    let found = with_stack(|stack| {
        let was_party = stack.party.replace(true);
        let len = stack.since_len.replace(0);
        if !was_party || len == 0 {
            return Found::Nothing;
        }
        let mut taken = [None; DEPTH];
        for (slot, cell) in taken.iter_mut().zip(&stack.since[..len]) {
            *slot = cell.take().filter(|h: &Held| stack.find(h.key).is_none());
        }
        add_edges(taken.into_iter().flatten(), Held { key, kind, at }, true)
    });
    if let Some(found) = found {
        report_found(found);
    }
}

/// Gives `object` the named class `class` (in place of its address), until
/// [`clear_class`]: for locks created at run time, so that all of them are one class, and a
/// lock freed and another allocated at its address are not confused.
///
/// Give the class before the object is first locked.
///
/// # Examples
///
/// ```
/// use baresync::{lockdep, SpinLock};
///
/// static NODES: lockdep::Class = lockdep::Class::new("tree nodes");
/// let nodes: Vec<SpinLock<u8>> = (0..3).map(|_| SpinLock::new(0)).collect();
/// for n in &nodes {
///     lockdep::set_class(n, &NODES);
/// }
/// // ... every node is now one class: taking two nodes nested is "NODES while holding
/// // NODES", so nest them only with `try_lock`.
/// for n in &nodes {
///     lockdep::clear_class(n);
/// }
/// ```
pub fn set_class<T: ?Sized>(object: &T, class: &'static Class) {
    let key = object as *const T as *const () as usize;
    let full = GRAPH.with(|t| {
        if let Some(slot) = t.named.iter_mut().find(|s| s.is_some_and(|(k, _)| k == key)) {
            *slot = Some((key, class));
            return false;
        }
        match t.named.iter_mut().find(|s| s.is_none()) {
            Some(slot) => {
                *slot = Some((key, class));
                // ORDERING: Relaxed: see `named_class`; the checker's lock orders `named`.
                ANY_NAMED.store(true, Relaxed);
                false
            }
            None => true,
        }
    });
    if full {
        overflow(OVERFLOW_NAMED);
    }
}

/// Takes back the named class of `object` (call it before the object is freed).
///
/// # Examples
///
/// ```
/// use baresync::{lockdep, Mutex};
///
/// static JOBS: lockdep::Class = lockdep::Class::new("jobs");
/// let m = Mutex::new(0);
/// lockdep::set_class(&m, &JOBS);
/// lockdep::clear_class(&m);
/// ```
pub fn clear_class<T: ?Sized>(object: &T) {
    let key = object as *const T as *const () as usize;
    GRAPH.with(|t| {
        for slot in t.named.iter_mut() {
            if slot.is_some_and(|(k, _)| k == key) {
                *slot = None;
            }
        }
    });
}

/// How many classes the current context holds (for tests and assertions).
///
/// # Examples
///
/// ```
/// let lock = baresync::SpinLock::new(());
/// let before = baresync::lockdep::held_count();
/// let g = lock.lock();
/// assert_eq!(baresync::lockdep::held_count(), before + 1);
/// drop(g);
/// assert_eq!(baresync::lockdep::held_count(), before);
/// ```
pub fn held_count() -> usize {
    with_stack(|s| s.len.get()).unwrap_or(0)
}

/// Forgets every class and edge of the order graph, and which tables overflowed (named
/// classes and held stacks stay): for a program that runs independent phases whose locks
/// live at addresses another phase's locks had (a test harness between tests).
///
/// Call it only while no lock is being acquired elsewhere: an edge added by a concurrent
/// acquisition may be lost (never a false report).
///
/// # Examples
///
/// ```
/// baresync::lockdep::clear_graph();
/// assert_eq!(baresync::lockdep::graph_size(), (0, 0));
/// ```
pub fn clear_graph() {
    GRAPH.with(|t| {
        t.classes[..t.n_classes].fill(None);
        t.n_classes = 0;
        t.edges[..t.n_edges].fill(None);
        t.n_edges = 0;
    });
    for flag in &OVERFLOWED {
        // ORDERING: Relaxed: once-only flags; nothing is published with them.
        flag.store(false, Relaxed);
    }
}

/// How many classes and edges the order graph holds, for sizing the tables.
///
/// # Examples
///
/// ```
/// let (classes, edges) = baresync::lockdep::graph_size();
/// assert!(classes <= baresync::lockdep::CLASSES && edges <= baresync::lockdep::EDGES);
/// ```
pub fn graph_size() -> (usize, usize) {
    GRAPH.with(|t| (t.n_classes, t.n_edges))
}

/// The key of an object: its address.
#[inline(always)]
pub(crate) fn key<T: ?Sized>(object: &T) -> usize {
    object as *const T as *const () as usize
}
