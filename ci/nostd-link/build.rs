//! Hands the linker the script for the target's architecture.
//!
//! The scripts live in `link/`; the one for this build is copied to `OUT_DIR` as `link.x`, so
//! the linker finds it through a search path whatever directory cargo runs from.

use std::{env, fs, path::PathBuf};

fn main() {
    let arch = env::var("CARGO_CFG_TARGET_ARCH").expect("cargo sets CARGO_CFG_TARGET_ARCH");
    let os = env::var("CARGO_CFG_TARGET_OS").unwrap_or_default();
    println!("cargo:rerun-if-changed=build.rs");
    println!("cargo:rerun-if-changed=link");

    // A host build (`cargo check` without `--target`) has nothing to link here.
    if os != "none" {
        return;
    }
    let script = match arch.as_str() {
        "arm" => "link/cortex-m.x",
        "riscv32" => "link/riscv32.x",
        other => panic!("no linker script for target_arch = {other:?}; add one under link/"),
    };
    let out = PathBuf::from(env::var("OUT_DIR").expect("cargo sets OUT_DIR"));
    fs::copy(script, out.join("link.x")).expect("copy the linker script to OUT_DIR");
    println!("cargo:rustc-link-search={}", out.display());
    println!("cargo:rustc-link-arg-bins=-Tlink.x");
}
