// The same for a sleeping mutex's guard.
use baresync::{Futex, Mutex};

static LOCK: Mutex<u32, Futex> = Mutex::with_wait(0);

fn main() {
    let guard = LOCK.lock();
    std::thread::spawn(move || drop(guard));
}
