//! Shared by the criterion benches (each bench file includes it with `mod common;`).

use std::sync::OnceLock;

/// The cores this process may run on, read once. `core_affinity::get_core_ids` reads the
/// calling thread's affinity, which is a single core once a bench has pinned its main thread:
/// reading it afresh after that would put every later thread on that one core.
pub fn cores() -> &'static [core_affinity::CoreId] {
    static CORES: OnceLock<Vec<core_affinity::CoreId>> = OnceLock::new();
    CORES.get_or_init(|| core_affinity::get_core_ids().unwrap_or_default())
}
