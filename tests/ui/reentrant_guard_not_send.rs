// A reentrant lock guard must stay on the thread that owns the lock: it is the owner that
// counts and releases it.
use baresync::{ReentrantLock, StdThreadId};

static LOCK: ReentrantLock<u32, StdThreadId> = ReentrantLock::new(0);

fn main() {
    let guard = LOCK.lock();
    std::thread::spawn(move || drop(guard));
}
