// A queue with no room at all is rejected at compile time (by a constant assertion in `new`).
use baresync::Queue;

static NOTHING: Queue<u8, 0> = Queue::new();

fn main() {
    let _ = NOTHING.push(1);
}
