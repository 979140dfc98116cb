//! Cortex-M (ARMv6-M and ARMv7E-M): vector table, reset code and a single-core critical
//! section.

// On a hard-float target the compiler may use FPU registers: grant full access to coprocessors
// 10 and 11 (CPACR bits 20-23) before any Rust code runs.
#[cfg(target_abi = "eabihf")]
macro_rules! enable_fpu {
    () => {
        "ldr r0, =0xE000ED88\n ldr r1, [r0]\n ldr r2, =0x00F00000\n orrs r1, r2\n str r1, [r0]\n dsb\n isb"
    };
}
#[cfg(not(target_abi = "eabihf"))]
macro_rules! enable_fpu {
    () => {
        ""
    };
}

// The reset handler: zero .bss, copy .data from flash, then run `main`. Thumb-1 only, so the
// same code runs on ARMv6-M. Linker symbols come from link/cortex-m.x.
core::arch::global_asm!(
    ".section .text.reset, \"ax\"",
    ".global reset",
    ".type reset, %function",
    ".thumb_func",
    "reset:",
    "    ldr r0, =__sbss",
    "    ldr r1, =__ebss",
    "    movs r2, #0",
    "2:  cmp r0, r1",
    "    bhs 3f",
    "    str r2, [r0]",
    "    adds r0, #4",
    "    b 2b",
    "3:  ldr r0, =__sdata",
    "    ldr r1, =__edata",
    "    ldr r2, =__sidata",
    "4:  cmp r0, r1",
    "    bhs 5f",
    "    ldr r3, [r2]",
    "    str r3, [r0]",
    "    adds r0, #4",
    "    adds r2, #4",
    "    b 4b",
    "5:",
    enable_fpu!(),
    "    bl main",
    "6:  b 6b",
    ".ltorg",
    ".size reset, . - reset",
);

extern "C" {
    /// The reset handler defined in assembly above.
    fn reset() -> !;
}

/// Vector table entry 1 (entry 0, the initial stack pointer, is written by the linker script).
#[link_section = ".vector_table.reset"]
#[used]
static RESET_VECTOR: unsafe extern "C" fn() -> ! = reset;

/// Entries 2..=15: every system exception halts; `None` marks the reserved slots (a null
/// function pointer, as the architecture expects).
#[link_section = ".vector_table.exceptions"]
#[used]
static EXCEPTIONS: [Option<extern "C" fn() -> !>; 14] = [
    Some(halt), // NMI
    Some(halt), // HardFault
    Some(halt), // MemManage (reserved on ARMv6-M)
    Some(halt), // BusFault (reserved on ARMv6-M)
    Some(halt), // UsageFault (reserved on ARMv6-M)
    None,
    None,
    None,
    None,
    Some(halt), // SVCall
    Some(halt), // DebugMonitor (reserved on ARMv6-M)
    None,
    Some(halt), // PendSV
    Some(halt), // SysTick
];

extern "C" fn halt() -> ! {
    loop {
        core::hint::spin_loop();
    }
}

/// A critical section for a single-core Cortex-M: mask interrupts with PRIMASK.
///
/// Sound only on single-core parts (it masks this core's interrupts and nothing more:
/// on a multicore chip the other core keeps running). Every target uses it for `IrqSafe`; on
/// ARMv6-M, which has no compare-and-swap, `portable-atomic` emulates read-modify-write
/// operations with it too.
mod critical_section_impl {
    use core::arch::asm;

    struct SingleCoreArm;
    critical_section::set_impl!(SingleCoreArm);

    // SAFETY: `acquire` masks every maskable interrupt on the only core, so nothing else runs
    // until `release`; `release` unmasks only if interrupts were enabled before the matching
    // `acquire`, so nested sections restore the outer state. The `asm!` blocks are not `nomem`,
    // so they are compiler barriers: no memory access moves out of the section.
    unsafe impl critical_section::Impl for SingleCoreArm {
        unsafe fn acquire() -> bool {
            let primask: u32;
            // SAFETY: reading PRIMASK and setting it have no memory effects beyond masking
            // interrupts, which is the point.
            unsafe {
                asm!("mrs {}, PRIMASK", "cpsid i", out(reg) primask, options(nostack, preserves_flags));
            }
            // PRIMASK bit 0 clear: interrupts were enabled.
            primask & 1 == 0
        }

        unsafe fn release(were_enabled: bool) {
            if were_enabled {
                // SAFETY: re-enables interrupts that were enabled when the outermost section
                // began; the caller (the `critical-section` crate) pairs it with `acquire`.
                unsafe { asm!("cpsie i", options(nostack, preserves_flags)) };
            }
        }
    }
}
