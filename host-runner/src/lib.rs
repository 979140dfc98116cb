//! `host-runner`: runs baresync's primitives on real cores, pinned, and checks their
//! invariants.
//!
//! - [`args`]: what every subcommand shares: exit statuses, usage errors, argument parsers.
//! - [`topology`]: logical CPUs, packages, physical cores, SMT (sysfs on Linux).
//! - [`pin`]: which CPU each worker runs on.
//! - [`stress`]: the harness, a [`stress::Scenario`] per primitive, and negative controls.
//! - [`bench`](mod@bench): `bench` (measurements next to the baselines) and `report` (docs/results/).
//! - [`report`]: the table and the JSON report.
//! - [`term`]: tables that fit the terminal.
//! - [`cli`]: the command line.

pub mod args;
pub mod bench;
pub mod cli;
pub mod pin;
pub mod report;
pub mod rng;
pub mod stress;
pub mod term;
pub mod topology;
