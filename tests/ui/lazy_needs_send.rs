// The thread that first forces a `Lazy` creates the value the owner later drops: a `!Send`
// value (here an `Rc`, whose count is not atomic) must not be shared across threads.
use baresync::Lazy;
use std::rc::Rc;

fn main() {
    let lazy: Lazy<Rc<u32>, fn() -> Rc<u32>> = Lazy::new(|| Rc::new(1));
    std::thread::scope(|s| {
        s.spawn(|| **lazy);
    });
}
