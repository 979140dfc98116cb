//! Builds baresync with its minimum supported Rust version; see Cargo.toml.
//!
//! The crate documentation below is the repository's README.md, so `cargo test --doc` here
//! compiles and runs the README's examples against the library as a user sees it.
#![no_std]
#![doc = include_str!("../../../README.md")]

pub use baresync;
