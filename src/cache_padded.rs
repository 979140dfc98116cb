//! `CachePadded<T>`: one value per cache line.

use core::fmt;
use core::ops::{Deref, DerefMut};

/// Aligns and pads a value to the cache-line size, so that atomics written by different cores
/// do not share a line (false sharing).
///
/// The alignment is 128 bytes on x86_64 and aarch64 (whose prefetchers pull cache lines in
/// pairs, and Apple's M-series cores have 128-byte lines), 256 on s390x, 32 on 32-bit ARM,
/// RISC-V and MIPS microcontrollers (whose lines, where they have caches at all, are 32 bytes;
/// more would waste their scarce RAM), and 64 everywhere else.
///
/// # Examples
///
/// ```
/// use baresync::CachePadded;
/// use core::sync::atomic::AtomicUsize;
///
/// struct Counters {
///     head: CachePadded<AtomicUsize>,
///     tail: CachePadded<AtomicUsize>,
/// }
/// static C: Counters = Counters {
///     head: CachePadded::new(AtomicUsize::new(0)),
///     tail: CachePadded::new(AtomicUsize::new(0)),
/// };
/// let distance = &C.tail as *const _ as usize - &C.head as *const _ as usize;
/// assert!(distance >= 32);
/// ```
#[cfg_attr(any(target_arch = "x86_64", target_arch = "aarch64"), repr(align(128)))]
#[cfg_attr(target_arch = "s390x", repr(align(256)))]
#[cfg_attr(
    any(
        target_arch = "arm",
        target_arch = "riscv32",
        target_arch = "mips",
        target_arch = "mips32r6"
    ),
    repr(align(32))
)]
#[cfg_attr(
    not(any(
        target_arch = "x86_64",
        target_arch = "aarch64",
        target_arch = "s390x",
        target_arch = "arm",
        target_arch = "riscv32",
        target_arch = "mips",
        target_arch = "mips32r6"
    )),
    repr(align(64))
)]
#[derive(Clone, Copy, Default, PartialEq, Eq, Hash)]
#[repr(C)]
pub struct CachePadded<T> {
    value: T,
}

impl<T> CachePadded<T> {
    /// Wraps `value`; usable in a `static`.
    ///
    /// # Examples
    ///
    /// ```
    /// let padded = baresync::CachePadded::new(1u8);
    /// assert!(core::mem::size_of_val(&padded) >= 32);
    /// ```
    #[inline]
    pub const fn new(value: T) -> Self {
        CachePadded { value }
    }

    /// Unwraps the value.
    ///
    /// # Examples
    ///
    /// ```
    /// assert_eq!(baresync::CachePadded::new(7).into_inner(), 7);
    /// ```
    #[inline]
    pub fn into_inner(self) -> T {
        self.value
    }
}

impl<T> Deref for CachePadded<T> {
    type Target = T;

    #[inline]
    fn deref(&self) -> &T {
        &self.value
    }
}

impl<T> DerefMut for CachePadded<T> {
    #[inline]
    fn deref_mut(&mut self) -> &mut T {
        &mut self.value
    }
}

impl<T> From<T> for CachePadded<T> {
    fn from(value: T) -> Self {
        Self::new(value)
    }
}

impl<T: fmt::Debug> fmt::Debug for CachePadded<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("CachePadded").field(&self.value).finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn alignment_matches_the_target() {
        let align = core::mem::align_of::<CachePadded<u8>>();
        if cfg!(any(target_arch = "x86_64", target_arch = "aarch64")) {
            assert_eq!(align, 128);
        } else {
            assert!(align >= 32);
        }
        assert_eq!(core::mem::size_of::<CachePadded<u8>>(), align);
    }
}
