//! `Once`, `OnceCell` and `Lazy` in statics: call_once, get_or_init, get, set, force.

use baresync::{Lazy, Once, OnceCell, Spin};
use core::hint::black_box;

static INIT: Once<Spin> = Once::with_wait();
static CLOCK_HZ: OnceCell<u32, Spin> = OnceCell::with_wait();
static TABLE: Lazy<[u8; 16], fn() -> [u8; 16], Spin> =
    Lazy::with_wait(|| core::array::from_fn(|i| (i as u8).wrapping_mul(3)));

#[no_mangle]
#[inline(never)]
pub fn probe_once_call_once() -> bool {
    INIT.call_once(|| black_box(()));
    INIT.is_completed()
}

#[no_mangle]
#[inline(never)]
pub fn probe_once_cell_get_or_init() -> u32 {
    *CLOCK_HZ.get_or_init(|| black_box(48_000_000))
}

#[no_mangle]
#[inline(never)]
pub fn probe_once_cell_get() -> u32 {
    CLOCK_HZ.get().copied().unwrap_or(0)
}

#[no_mangle]
#[inline(never)]
pub fn probe_once_cell_set() -> bool {
    CLOCK_HZ.set(black_box(8_000_000)).is_ok()
}

#[no_mangle]
#[inline(never)]
pub fn probe_lazy_force() -> u8 {
    TABLE[black_box(5)]
}

/// Calls every once probe.
pub fn run() {
    black_box(probe_once_call_once());
    black_box(probe_once_cell_get_or_init());
    black_box(probe_once_cell_get());
    black_box(probe_once_cell_set());
    black_box(probe_lazy_force());
}
