//! What the barrier tests need of a barrier, for `Barrier<W>` and the lean `SpinBarrier`:
//! shared by `tests/barrier.rs` (threads) and `tests/loom_barrier.rs` (loom models, where
//! `baresync` is the `--cfg baresync_loom` build).

use baresync::{Barrier, SpinBarrier, Wait};

/// A barrier that `lockstep` and `generations` can drive (never broken there).
pub trait Phases: Send + Sync + 'static {
    fn with_parties(parties: usize) -> Self;
    /// Waits for the generation; whether this party was its leader.
    fn wait_leader(&self) -> bool;
    /// Nobody waits, and nothing is broken.
    fn assert_idle(&self);
}

impl<W: Wait + 'static> Phases for Barrier<W> {
    fn with_parties(parties: usize) -> Self {
        Barrier::with_wait(parties)
    }
    fn wait_leader(&self) -> bool {
        self.wait().expect("nobody breaks this barrier").is_leader()
    }
    fn assert_idle(&self) {
        assert_eq!(self.n_waiting(), 0);
        assert!(!self.is_broken());
    }
}

impl Phases for SpinBarrier {
    fn with_parties(parties: usize) -> Self {
        SpinBarrier::new(parties)
    }
    fn wait_leader(&self) -> bool {
        self.wait().is_leader()
    }
    fn assert_idle(&self) {
        assert_eq!(self.n_waiting(), 0);
    }
}
