//! Link check and code-size probe for baresync on bare-metal targets.
//!
//! Puts every primitive in a `static` (the locks, `IrqLock`/`IrqSafe` locks, `ReentrantLock` with a
//! bare-metal `ThreadIdentity`, a reader-writer lock, semaphores, event, condition variable, barrier, queue,
//! joinable queue, `Once`, `OnceCell` and `Lazy`), uses each operation from the entry point, and links the result into a firmware-shaped binary for each target in
//! `.cargo/config.toml`. That proves what a unit test on the host cannot: that baresync
//! builds with `default-features = false`, that its constructors are `const`, and that nothing
//! pulls in `std`, an allocator, or an atomic instruction the target lacks (a missing
//! compare-and-swap shows up here as an undefined `__sync_*`/`__atomic_*` symbol at link time).
//!
//! Layout, so that new primitives slot in:
//! - `src/rt/`: reset code, panic handler and critical section, one file per architecture;
//! - `src/probes/`: one module per primitive family; each operation is a `#[no_mangle]`,
//!   `#[inline(never)]` function named `probe_<type>_<operation>`, so `./sizes` can report the
//!   bytes each one costs. A new primitive is a new module there plus one line in
//!   [`probes::run_all`].
#![no_std]
#![no_main]
#![deny(unsafe_op_in_unsafe_fn)]

mod probes;
mod rt;

/// The entry point, called by the reset code in `rt` once the stack and RAM are set up.
#[no_mangle]
pub extern "C" fn main() -> ! {
    loop {
        probes::run_all();
    }
}
