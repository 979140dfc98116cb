// A `OnceCell` hands out `&T` to every thread: a `static` of a `!Sync` value must not compile.
use baresync::OnceCell;
use std::cell::Cell;

static COUNTER: OnceCell<Cell<u32>> = OnceCell::new();

fn main() {
    COUNTER.get_or_init(|| Cell::new(0));
}
