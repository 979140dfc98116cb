// A `Box` points into one address space: a queue of them cannot be shared.
use baresync::shared::Shareable;
use baresync::{Queue, Spin};

fn share<T: Shareable>() {}

fn main() {
    share::<Queue<Box<u32>, 4, Spin>>();
}
