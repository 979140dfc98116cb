//! Every lock, safe and raw, in a `static`; `lock`, `try_lock` and `lock_until` on each.

use super::poll_budget;
use baresync::{
    FairLock, McsLock, Mutex, RawFairLock, RawLock, RawMcsLock, RawMutex, RawSpinLock,
    RawTicketLock, Spin, SpinLock, TicketLock,
};
use core::hint::black_box;

static SPIN_LOCK: SpinLock<u32> = SpinLock::new(0);
static TICKET_LOCK: TicketLock<u32> = TicketLock::new(0);
static MUTEX: Mutex<u32, Spin> = Mutex::with_wait(0);
static FAIR_LOCK: FairLock<u32> = FairLock::new(0);
static MCS_LOCK: McsLock<u32> = McsLock::new(0);

static RAW_SPIN_LOCK: RawSpinLock = RawSpinLock::new();
static RAW_TICKET_LOCK: RawTicketLock = RawTicketLock::new();
static RAW_MUTEX: RawMutex<Spin> = RawMutex::with_wait();
static RAW_FAIR_LOCK: RawFairLock = RawFairLock::new();
static RAW_MCS_LOCK: RawMcsLock = RawMcsLock::new();

/// Three probes for a safe `Lock` in a static: lock and increment, try_lock, and lock_until
/// with a poll budget.
macro_rules! lock_probes {
    ($lock:ident, $lock_fn:ident, $try_fn:ident, $until_fn:ident) => {
        #[no_mangle]
        #[inline(never)]
        pub fn $lock_fn() {
            *$lock.lock() += 1;
        }

        #[no_mangle]
        #[inline(never)]
        pub fn $try_fn() -> bool {
            match $lock.try_lock() {
                Some(mut guard) => {
                    *guard += 1;
                    true
                }
                None => false,
            }
        }

        #[no_mangle]
        #[inline(never)]
        pub fn $until_fn() -> bool {
            match $lock.lock_until(poll_budget(100)) {
                Some(mut guard) => {
                    *guard += 1;
                    true
                }
                None => false,
            }
        }
    };
}

/// Three probes for a raw lock in a static, through the `RawLock` trait.
macro_rules! raw_lock_probes {
    ($lock:ident, $lock_fn:ident, $try_fn:ident, $until_fn:ident) => {
        #[no_mangle]
        #[inline(never)]
        pub fn $lock_fn() {
            $lock.lock();
            black_box($lock.is_locked());
            // SAFETY: acquired by `lock` just above, in this context.
            unsafe { $lock.unlock() };
        }

        #[no_mangle]
        #[inline(never)]
        pub fn $try_fn() -> bool {
            let acquired = $lock.try_lock();
            if acquired {
                // SAFETY: `try_lock` returned true, so this context holds the lock.
                unsafe { $lock.unlock() };
            }
            acquired
        }

        #[no_mangle]
        #[inline(never)]
        pub fn $until_fn() -> bool {
            let acquired = $lock.lock_until(&mut poll_budget(100));
            if acquired {
                // SAFETY: `lock_until` returned true, so this context holds the lock.
                unsafe { $lock.unlock() };
            }
            acquired
        }
    };
}

lock_probes!(
    SPIN_LOCK,
    probe_spinlock_lock,
    probe_spinlock_try_lock,
    probe_spinlock_lock_until
);
lock_probes!(
    TICKET_LOCK,
    probe_ticketlock_lock,
    probe_ticketlock_try_lock,
    probe_ticketlock_lock_until
);
lock_probes!(
    MUTEX,
    probe_mutex_lock,
    probe_mutex_try_lock,
    probe_mutex_lock_until
);
lock_probes!(
    FAIR_LOCK,
    probe_fairlock_lock,
    probe_fairlock_try_lock,
    probe_fairlock_lock_until
);
lock_probes!(
    MCS_LOCK,
    probe_mcslock_lock,
    probe_mcslock_try_lock,
    probe_mcslock_lock_until
);
raw_lock_probes!(
    RAW_MCS_LOCK,
    probe_rawmcslock_lock,
    probe_rawmcslock_try_lock,
    probe_rawmcslock_lock_until
);
raw_lock_probes!(
    RAW_FAIR_LOCK,
    probe_rawfairlock_lock,
    probe_rawfairlock_try_lock,
    probe_rawfairlock_lock_until
);
raw_lock_probes!(
    RAW_SPIN_LOCK,
    probe_rawspinlock_lock,
    probe_rawspinlock_try_lock,
    probe_rawspinlock_lock_until
);
raw_lock_probes!(
    RAW_TICKET_LOCK,
    probe_rawticketlock_lock,
    probe_rawticketlock_try_lock,
    probe_rawticketlock_lock_until
);
raw_lock_probes!(
    RAW_MUTEX,
    probe_rawmutex_lock,
    probe_rawmutex_try_lock,
    probe_rawmutex_lock_until
);

/// Calls every lock probe.
pub fn run() {
    probe_spinlock_lock();
    black_box(probe_spinlock_try_lock());
    black_box(probe_spinlock_lock_until());
    probe_ticketlock_lock();
    black_box(probe_ticketlock_try_lock());
    black_box(probe_ticketlock_lock_until());
    probe_mutex_lock();
    black_box(probe_mutex_try_lock());
    black_box(probe_mutex_lock_until());
    probe_mcslock_lock();
    black_box(probe_mcslock_try_lock());
    black_box(probe_mcslock_lock_until());
    probe_rawmcslock_lock();
    black_box(probe_rawmcslock_try_lock());
    black_box(probe_rawmcslock_lock_until());
    probe_fairlock_lock();
    black_box(probe_fairlock_try_lock());
    black_box(probe_fairlock_lock_until());
    probe_rawfairlock_lock();
    black_box(probe_rawfairlock_try_lock());
    black_box(probe_rawfairlock_lock_until());
    probe_rawspinlock_lock();
    black_box(probe_rawspinlock_try_lock());
    black_box(probe_rawspinlock_lock_until());
    probe_rawticketlock_lock();
    black_box(probe_rawticketlock_try_lock());
    black_box(probe_rawticketlock_lock_until());
    probe_rawmutex_lock();
    black_box(probe_rawmutex_try_lock());
    black_box(probe_rawmutex_lock_until());
}
