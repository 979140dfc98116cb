// `IrqSafe` is not a `RawLock`: `Lock` would hand out guards that safe code can drop in any
// order, e.g. inside a `critical_section::with` entered after the guard was taken, which ends
// the outer critical section while `with`'s token is still alive.
use baresync::{IrqSafe, Lock, RawSpinLock};

fn old_pattern(lock: &Lock<IrqSafe<RawSpinLock>, u32>) {
    let guard = lock.lock();
    critical_section::with(|_| drop(guard));
}

fn main() {}
