// `new` builds the default backend (`Futex` with `std`): a `static` that names another backend
// is built with `with_wait`. rustc does not use a type parameter's default to infer it, so one
// constructor cannot both infer `let m = Mutex::new(5);` and follow a `static`'s annotation.
use baresync::{Mutex, Spin};

static HOT: Mutex<u64, Spin> = Mutex::new(0);

fn main() {
    *HOT.lock() += 1;
}
