//! Python's RLock "box" exercise: `add_one`/`remove_one` each take the lock, and
//! `add_many`/`remove_many` take it and then call them, so the same thread locks twice. A
//! plain lock would deadlock; a `ReentrantLock` counts the nesting.
//!
//! The guard gives `&T` (nested guards alias), so the box keeps its count in a `Cell`.
//!
//! Run: `cargo run --example rlock_box`

use baresync::{Futex, ReentrantLock, StdThreadId};
use std::cell::Cell;
use std::thread;

/// A box of items; every operation is atomic with respect to other threads.
struct ItemBox {
    items: ReentrantLock<Cell<i64>, StdThreadId, Futex>,
}

impl ItemBox {
    const fn new() -> Self {
        ItemBox {
            items: ReentrantLock::new(Cell::new(0)),
        }
    }

    fn execute(&self, delta: i64) {
        let items = self.items.lock();
        items.set(items.get() + delta);
    }

    fn add_one(&self) {
        let _held = self.items.lock();
        self.execute(1); // locks again: depth 2 (3 from add_many)
    }

    fn remove_one(&self) {
        let _held = self.items.lock();
        self.execute(-1);
    }

    /// Adds `n` items; other threads see none or all of them.
    fn add_many(&self, n: u32) {
        let held = self.items.lock();
        let before = held.get();
        for _ in 0..n {
            self.add_one();
        }
        // Nobody else ran in between: the batch is atomic.
        assert_eq!(held.get(), before + i64::from(n));
        assert_eq!(self.items.lock_count(), 1);
    }

    fn remove_many(&self, n: u32) {
        let held = self.items.lock();
        let before = held.get();
        for _ in 0..n {
            self.remove_one();
        }
        assert_eq!(held.get(), before - i64::from(n));
    }

    fn count(&self) -> i64 {
        self.items.lock().get()
    }
}

static BOX: ItemBox = ItemBox::new();

fn main() {
    let rounds = 1000;
    thread::scope(|s| {
        s.spawn(|| {
            for _ in 0..rounds {
                BOX.add_many(5);
            }
        });
        s.spawn(|| {
            for _ in 0..rounds {
                BOX.remove_many(3);
            }
        });
    });
    let n = BOX.count();
    println!("{rounds} × add_many(5) and {rounds} × remove_many(3), nested locking: {n} items");
    assert_eq!(n, rounds * 5 - rounds * 3);
    assert!(!BOX.items.is_locked());
    println!("ok: nesting counted, nothing lost, lock free at the end");
}
