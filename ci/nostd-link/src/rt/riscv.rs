//! RISC-V machine mode (RV32I and up): reset code and a single-hart critical section.

// `_start`: set gp and sp, park every hart but hart 0, install a trap vector that halts, zero
// .bss, copy .data from flash, then run `main`. Only base-ISA and Zicsr instructions, so the
// same code runs on riscv32i. Linker symbols come from link/riscv32.x.
core::arch::global_asm!(
    ".section .text.start, \"ax\"",
    ".global _start",
    "_start:",
    "    .option push",
    // gp must be loaded with an absolute address, not relaxed against itself.
    "    .option norelax",
    "    la gp, __global_pointer$",
    "    .option pop",
    "    csrr t0, mhartid",
    "    bnez t0, 7f",
    "    la sp, _stack_top",
    "    la t0, 8f",
    "    csrw mtvec, t0",
    "    la t0, __sbss",
    "    la t1, __ebss",
    "2:  bgeu t0, t1, 3f",
    "    sw zero, 0(t0)",
    "    addi t0, t0, 4",
    "    j 2b",
    "3:  la t0, __sdata",
    "    la t1, __edata",
    "    la t2, __sidata",
    "4:  bgeu t0, t1, 5f",
    "    lw t3, 0(t2)",
    "    sw t3, 0(t0)",
    "    addi t0, t0, 4",
    "    addi t2, t2, 4",
    "    j 4b",
    "5:  call main",
    "7:  wfi",
    "    j 7b",
    // mtvec needs a 4-byte aligned address (direct mode).
    "    .balign 4",
    "8:  j 8b",
);

/// A critical section for a single-hart RISC-V in machine mode: clear `mstatus.MIE`.
///
/// Sound only with one hart (other harts keep running; `_start` parks them).
/// Every target uses it for `IrqSafe`; on riscv32i, which has no atomic instructions,
/// `portable-atomic` emulates read-modify-write operations with it too.
mod critical_section_impl {
    use core::arch::asm;

    /// `mstatus.MIE`: machine-mode interrupts enabled.
    const MIE: usize = 1 << 3;

    struct SingleHartRiscv;
    critical_section::set_impl!(SingleHartRiscv);

    // SAFETY: `acquire` clears MIE atomically with reading it, so no interrupt runs on the
    // only hart until `release`; `release` sets MIE only if it was set before the matching
    // `acquire`, so nested sections restore the outer state. The `asm!` blocks are not `nomem`,
    // so they are compiler barriers: no memory access moves out of the section.
    unsafe impl critical_section::Impl for SingleHartRiscv {
        unsafe fn acquire() -> bool {
            let mstatus: usize;
            // SAFETY: clearing MIE only masks interrupts, which is the point.
            unsafe { asm!("csrrci {}, mstatus, 8", out(reg) mstatus, options(nostack)) };
            mstatus & MIE != 0
        }

        unsafe fn release(were_enabled: bool) {
            if were_enabled {
                // SAFETY: re-enables interrupts that were enabled when the outermost section
                // began; the caller (the `critical-section` crate) pairs it with `acquire`.
                unsafe { asm!("csrsi mstatus, 8", options(nostack)) };
            }
        }
    }
}
