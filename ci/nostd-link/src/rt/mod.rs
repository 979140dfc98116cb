//! The smallest runtime that lets a bare-metal binary start: reset code that sets up the
//! stack and RAM and calls `main`, a panic handler, and a single-core critical section (for
//! `IrqSafe`, and on targets without compare-and-swap for `portable-atomic`).
//!
//! Written here rather than taken from `cortex-m-rt`/`riscv-rt` so that the binary contains
//! only baresync and a few dozen bytes of startup code (which keeps the code-size table
//! honest), and so that the check does not depend on those crates' releases.

#[cfg(target_arch = "arm")]
mod arm;
#[cfg(any(target_arch = "riscv32", target_arch = "riscv64"))]
mod riscv;

/// Halts on panic: firmware built with `panic = "abort"` has nowhere to unwind to.
#[panic_handler]
fn panic(_info: &core::panic::PanicInfo<'_>) -> ! {
    loop {
        core::hint::spin_loop();
    }
}
