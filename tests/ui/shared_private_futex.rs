// `Futex` uses private futexes, which never wake a sleeper in another process.
use baresync::shared::Shareable;
use baresync::{Futex, Mutex};

fn share<T: Shareable>() {}

fn main() {
    share::<Mutex<u32, Futex>>();
}
