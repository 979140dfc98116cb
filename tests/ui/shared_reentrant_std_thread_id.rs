// `StdThreadId` counts threads of one process: two processes hand out the same ids.
use baresync::shared::Shareable;
use baresync::{ReentrantLock, Spin, StdThreadId};

fn share<T: Shareable>() {}

fn main() {
    share::<ReentrantLock<u32, StdThreadId, Spin>>();
}
