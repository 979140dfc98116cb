//! `Shareable`: layouts pinned, and zeroed memory used as a new instance (the way a fresh
//! `MAP_SHARED` mapping or zeroed SRAM is used).
#![cfg(not(baresync_loom))]

use baresync::raw::{RawMutex, RawSpinLock, RawTicketLock};
use baresync::shared::{self, layout_word, Shareable};
use baresync::{
    Barrier, BarrierError, BoundedSemaphore, Condvar, Event, JoinableQueue, Mutex, Queue, RawLock,
    Semaphore, Spin, SpinLock, TicketLock,
};
use core::mem::{align_of, size_of};

/// Zeroed memory with the alignment any primitive needs (a page, as `mmap` returns).
#[repr(C, align(4096))]
struct Page([u8; 4096]);

impl Page {
    fn new() -> Box<Page> {
        Box::new(Page([0; 4096]))
    }

    /// The page viewed as a `T` (a zeroed mapping cast to the primitive).
    fn attach<T: Shareable>(&mut self) -> &T {
        assert!(size_of::<T>() <= 4096);
        // SAFETY: page-aligned, 4096 zeroed bytes borrowed for the reference's lifetime, only
        // touched through `T` meanwhile.
        unsafe { shared::attach(self.0.as_mut_ptr()) }
    }

    /// The creator's side: writes `value` into the page.
    fn create<T: Shareable>(&mut self, value: T) -> &T {
        assert!(size_of::<T>() <= 4096);
        // SAFETY: as in `attach`; nobody else uses the page.
        unsafe { shared::create(self.0.as_mut_ptr(), value) }
    }

    fn word(&self, i: usize) -> u32 {
        u32::from_ne_bytes(self.0[4 * i..4 * i + 4].try_into().unwrap())
    }
}

#[test]
#[cfg(target_pointer_width = "64")]
fn sizes_and_alignments_are_pinned() {
    // Changing one of these changes what two programs sharing the memory must agree on:
    // bump the version given to `layout_word` by the programs that share it.
    assert_eq!(
        (size_of::<RawSpinLock>(), align_of::<RawSpinLock>()),
        (1, 1)
    );
    assert_eq!(
        (size_of::<RawMutex<Spin>>(), align_of::<RawMutex<Spin>>()),
        (4, 4)
    );
    assert_eq!(size_of::<RawTicketLock<Spin>>(), 8);
    assert_eq!(
        (size_of::<SpinLock<u32>>(), align_of::<SpinLock<u32>>()),
        (8, 4)
    );
    assert_eq!(size_of::<TicketLock<u32>>(), 12);
    assert_eq!(
        (
            size_of::<Mutex<u64, Spin>>(),
            align_of::<Mutex<u64, Spin>>()
        ),
        (16, 8)
    );
    assert_eq!(size_of::<Semaphore<Spin>>(), 8);
    assert_eq!(size_of::<BoundedSemaphore<Spin>>(), 8);
    assert_eq!(size_of::<Event<Spin>>(), 4);
    assert_eq!(size_of::<Barrier<Spin>>(), 8);
    assert_eq!(
        (size_of::<Condvar<Spin>>(), align_of::<Condvar<Spin>>()),
        (40, 8)
    );
    #[cfg(target_arch = "x86_64")]
    {
        // Three cache-padded lines (128 bytes each: `head` with a joinable queue's done
        // position, `tail`, the wait words), then the slots (stamp + value, 16 bytes
        // each) padded to the alignment.
        assert_eq!(size_of::<Queue<u32, 4, Spin>>(), 512);
        assert_eq!(align_of::<Queue<u32, 4, Spin>>(), 128);
        // The queue (whose own `tail` counts the puts, and whose consumer line holds the
        // done position beside `head`), then the joiners' words, cache-padded.
        assert_eq!(size_of::<JoinableQueue<u32, 4, Spin>>(), 640);
    }
}

#[test]
fn mutex_layout_state_word_then_data() {
    let mut page = Page::new();
    {
        let m = page.attach::<Mutex<u32, Spin>>();
        let mut g = m.lock();
        *g = 0xA5A5_5A5A;
        assert!(m.is_locked());
    }
    assert_eq!(
        page.word(0),
        0,
        "offset 0: the state word, back to unlocked"
    );
    assert_eq!(page.word(1), 0xA5A5_5A5A, "offset 4: the data");
}

#[test]
fn semaphore_layout_count_then_slack() {
    let mut page = Page::new();
    page.attach::<Semaphore<Spin>>().release(3);
    assert_eq!(page.word(0), 3, "offset 0: the count");
    assert_eq!(
        page.word(1),
        0,
        "offset 4: MAX_PERMITS - bound, 0 for a Semaphore"
    );
    let mut page = Page::new();
    assert_eq!(
        page.create(BoundedSemaphore::<Spin>::with_wait(2)).bound(),
        2
    );
    assert_eq!(page.word(0), 2);
    // Bits 0..=30: MAX_PERMITS - bound; bit 31: "bounded" (clear in zero bytes).
    assert_eq!(page.word(1), (Semaphore::<Spin>::MAX_PERMITS - 2) | 1 << 31);
}

#[test]
fn zeroed_locks_are_new_and_unlocked() {
    let mut page = Page::new();
    let m = page.attach::<Mutex<u64, Spin>>();
    assert!(!m.is_locked());
    *m.lock() += 41;
    *m.lock() += 1;
    assert_eq!(*m.lock(), 42);

    let raw: RawSpinLock = shared::zeroed();
    assert!(!raw.is_locked());
    assert!(raw.try_lock());
    assert!(!raw.try_lock());
    // SAFETY: locked just above.
    unsafe { raw.unlock() };

    let t: TicketLock<[u8; 3]> = shared::zeroed();
    t.lock()[2] = 9;
    assert_eq!(*t.lock(), [0, 0, 9]);
    let guard = t.lock();
    assert!(t.try_lock().is_none());
    drop(guard);
    assert!(t.try_lock().is_some());
}

#[test]
fn zeroed_rwlock_is_new_and_unlocked() {
    let mut page = Page::new();
    {
        let l = page.attach::<baresync::RwLock<u32, Spin>>();
        assert_eq!(core::mem::size_of::<baresync::RwLock<u32, Spin>>(), 8);
        {
            let r1 = l.read();
            let r2 = l.read();
            assert_eq!(*r1 + *r2, 0);
            assert!(l.try_write().is_none());
        }
        *l.write() = 9;
    }
    assert_eq!(page.word(0), 0, "offset 0: the state word, unlocked");
    assert_eq!(page.word(1), 9, "offset 4: the data");
}

#[test]
fn zeroed_semaphore_is_new_zero() {
    let mut page = Page::new();
    let s = page.attach::<Semaphore<Spin>>();
    assert_eq!(s.available(), 0);
    assert!(s.try_acquire().is_none());
    s.release(Semaphore::<Spin>::MAX_PERMITS);
    assert_eq!(s.available(), Semaphore::<Spin>::MAX_PERMITS);
    let p = s.acquire_many(2);
    assert_eq!(s.available(), Semaphore::<Spin>::MAX_PERMITS - 2);
    drop(p);
}

#[test]
fn zeroed_bounded_semaphore_is_valid_but_unconfigured() {
    let b: BoundedSemaphore<Spin> = shared::zeroed();
    assert_eq!(b.available(), 0);
    assert_eq!(b.bound(), Semaphore::<Spin>::MAX_PERMITS);
    assert!(b.release(1).is_ok());
}

#[test]
fn zeroed_event_and_condvar_are_new() {
    let mut page = Page::new();
    let e = page.attach::<Event<Spin>>();
    assert!(!e.is_set());
    e.set();
    assert!(e.is_set());
    e.wait();
    e.clear();
    assert!(!e.is_set());

    let lock: Mutex<bool, Spin> = shared::zeroed();
    let cv: Condvar<Spin> = shared::zeroed();
    std::thread::scope(|s| {
        s.spawn(|| {
            *lock.lock() = true;
            cv.notify_all();
        });
        let mut g = lock.lock();
        while !*g {
            g = cv.wait(g);
        }
    });
}

#[test]
fn zeroed_barrier_has_no_parties_until_written() {
    let mut page = Page::new();
    {
        let b = page.attach::<Barrier<Spin>>();
        assert_eq!(b.parties(), 0);
        // Valid but unconfigured: a party would wait for ever, so only a deadline frees it.
        assert_eq!(b.wait_until(|| true), Err(BarrierError::Timeout));
    }
    let mut page = Page::new();
    // The attach protocol: the creator writes `new(n)` before anyone else attaches.
    let b = page.create(Barrier::<Spin>::with_wait(2));
    std::thread::scope(|s| {
        let other = s.spawn(|| b.wait().unwrap().is_leader());
        let mine = b.wait().unwrap().is_leader();
        assert!(mine ^ other.join().unwrap(), "exactly one leader");
    });
}

#[test]
fn zeroed_queues_are_new_and_empty() {
    let mut page = Page::new();
    let q = page.attach::<Queue<[u16; 3], 4, Spin>>();
    assert!(q.is_empty());
    assert_eq!(q.capacity(), 4);
    for i in 0..4u16 {
        q.push([i, i, i]).unwrap();
    }
    assert!(q.push([9; 3]).is_err(), "full after capacity items");
    for i in 0..4u16 {
        assert_eq!(q.pop(), Some([i; 3]));
    }
    assert!(q.is_empty());

    let mut page = Page::new();
    let jq = page.attach::<JoinableQueue<u32, 2, Spin>>();
    std::thread::scope(|s| {
        s.spawn(|| {
            for _ in 0..10 {
                let v = jq.get().unwrap();
                assert!(v < 10);
                jq.task_done().unwrap();
            }
        });
        for i in 0..10 {
            jq.put(i).unwrap();
        }
        jq.join();
    });
    assert!(jq.task_done().is_err(), "no unfinished task left");
}

#[test]
fn layout_word_tells_layouts_apart() {
    assert_eq!(
        layout_word::<Queue<u32, 4, Spin>>(1),
        layout_word::<Queue<u32, 4, Spin>>(1)
    );
    assert_ne!(
        layout_word::<Queue<u32, 4, Spin>>(1),
        layout_word::<Queue<u32, 16, Spin>>(1)
    );
    // Only size, alignment and pointer width are seen: two layouts that agree on them (here
    // 4 and 8 slots, both padded to 512 bytes) need different versions.
    assert_eq!(
        size_of::<Queue<u32, 4, Spin>>() == size_of::<Queue<u32, 8, Spin>>(),
        layout_word::<Queue<u32, 4, Spin>>(1) == layout_word::<Queue<u32, 8, Spin>>(1)
    );
    assert_ne!(
        layout_word::<Event<Spin>>(1),
        layout_word::<Semaphore<Spin>>(1)
    );
    assert_ne!(layout_word::<Event<Spin>>(1), layout_word::<Event<Spin>>(2));
}

#[test]
#[should_panic(expected = "not aligned")]
fn attach_refuses_misaligned_memory() {
    let mut page = Page::new();
    // SAFETY: never reached: the alignment check panics first.
    let _e: &Event<Spin> = unsafe { shared::attach(page.0.as_mut_ptr().add(1)) };
}

// Regression (red team R2): `zeroed` is safe, so a zero-capacity queue must not be reachable
// through it. `Queue<_, 0, _>: Shareable` still holds (the bound cannot say `N >= 1`), but
// `zeroed`, `attach` and `create` evaluate `Shareable::CHECK`, which for a queue is its
// `N >= 1` assertion: `shared::zeroed::<Queue<u64, 0, Spin>>()` is now an error when the program is built (a
// post-monomorphization error, which `cargo check` and so trybuild do not see: the
// `compile_fail` doctest on `shared::zeroed` pins it).
