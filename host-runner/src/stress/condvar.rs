//! `Condvar<W>` stress: not written yet (see the issue); no scenario.

use super::Scenario;

/// No scenario yet.
pub fn scenarios() -> Vec<Box<dyn Scenario>> {
    Vec::new()
}
