//! Shared between cores or images (docs/processes.md): an arena behind a layout word, attached
//! from a fixed buffer (in a real two-image system, a `NOLOAD` section at the same address in
//! both linker scripts; here `.bss`), holding a queue both sides use.

use baresync::shared::{self, layout_word, Shareable};
use baresync::sync::atomic::{
    AtomicU32,
    Ordering::{AcqRel, Acquire},
};
use baresync::{Queue, Spin};
use core::cell::UnsafeCell;
use core::hint::black_box;

/// What both images share.
#[repr(C)]
struct Arena {
    /// 0: nobody attached yet · otherwise the creator's `layout_word::<Arena>(VERSION)`.
    layout: AtomicU32,
    queue: Queue<u32, 4, Spin>,
}

// SAFETY: `repr(C)`, shareable fields (an atomic and a queue of integers), all zero = new.
unsafe impl Shareable for Arena {}

/// Bumped whenever `Arena` changes.
const VERSION: u32 = 1;

/// Stands for the shared RAM region.
#[repr(C, align(128))]
struct SharedRam(UnsafeCell<[u8; 1024]>);

// SAFETY: only ever accessed through `shared::attach`, i.e. through atomics and the queue's
// own synchronization.
unsafe impl Sync for SharedRam {}

const _: () = assert!(core::mem::size_of::<Arena>() <= 1024);

static RAM: SharedRam = SharedRam(UnsafeCell::new([0; 1024]));

fn arena() -> &'static Arena {
    // SAFETY: aligned (128 ≥ the arena's alignment), zero-initialized, static, touched only
    // through `Arena`.
    unsafe { shared::attach(RAM.0.get().cast()) }
}

/// Attaches: the first side writes the layout word, a later one must find the same.
#[no_mangle]
#[inline(never)]
pub fn probe_shared_attach() -> bool {
    let want = layout_word::<Arena>(VERSION);
    // ORDERING: AcqRel/Acquire: the creator's writes before publishing the word are seen by
    // an attacher that reads it.
    match arena().layout.compare_exchange(0, want, AcqRel, Acquire) {
        Ok(_) => true,
        Err(seen) => seen == want,
    }
}

/// One item through the shared queue.
#[no_mangle]
#[inline(never)]
pub fn probe_shared_queue() -> bool {
    let q = &arena().queue;
    q.push(black_box(7)).is_ok() && q.pop() == Some(7)
}

/// Calls every shared-arena probe.
pub fn run() {
    black_box(probe_shared_attach());
    black_box(probe_shared_attach());
    black_box(probe_shared_queue());
}
