// A lock guard must stay on the thread that locked: the raw lock is released by its owner.
use baresync::SpinLock;

static LOCK: SpinLock<u32> = SpinLock::new(0);

fn main() {
    let guard = LOCK.lock();
    std::thread::spawn(move || drop(guard));
}
