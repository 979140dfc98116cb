//! Which CPU each worker runs on, and pinning it there.

use crate::topology::{format_cpu_list, Topology};
use serde::Serialize;
use std::fmt;

/// The assignment of workers to CPUs for a run.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Plan {
    /// The CPUs workers may use, in assignment order.
    pub cpus: Vec<usize>,
    /// `workers[i]` is the CPU worker `i` is pinned to (round-robin over `cpus`).
    pub workers: Vec<usize>,
    /// More workers than chosen CPUs: some share a CPU, so waiting strategies matter.
    pub oversubscribed: bool,
    /// Whether `cpus` came from `--cpus` (true) or from one CPU per physical core (false).
    pub explicit_cpus: bool,
}

/// Lock stress needs contention: with fewer than two workers nothing can race, so the
/// default never goes below two (on a single CPU that means oversubscribing).
pub const MIN_DEFAULT_WORKERS: usize = 2;

impl Plan {
    /// One worker per physical core (or per CPU of `cpus`), or `threads` workers assigned
    /// round-robin over them.
    ///
    /// # Errors
    ///
    /// A message when `threads` is 0 or `cpus` names a CPU the host cannot use.
    pub fn new(
        topo: &Topology,
        threads: Option<usize>,
        cpus: Option<&[usize]>,
    ) -> Result<Plan, String> {
        let (chosen, explicit_cpus) = match cpus {
            Some(list) => {
                let unknown: Vec<usize> = list
                    .iter()
                    .copied()
                    .filter(|c| !topo.cpus.contains(c))
                    .collect();
                if !unknown.is_empty() {
                    return Err(format!(
                        "--cpus names CPUs this process cannot use: {} (usable: {})",
                        format_cpu_list(&unknown),
                        format_cpu_list(&topo.cpus)
                    ));
                }
                (list.to_vec(), true)
            }
            None => (topo.core_cpus(), false),
        };
        if chosen.is_empty() {
            return Err("no CPU to run on".into());
        }
        let n = match threads {
            Some(0) => return Err("--threads must be at least 1".into()),
            Some(n) => n,
            None => chosen.len().max(MIN_DEFAULT_WORKERS),
        };
        let workers = (0..n).map(|i| chosen[i % chosen.len()]).collect();
        Ok(Plan {
            oversubscribed: n > chosen.len(),
            cpus: chosen,
            workers,
            explicit_cpus,
        })
    }

    /// Number of workers.
    pub fn threads(&self) -> usize {
        self.workers.len()
    }
}

impl fmt::Display for Plan {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let what = if self.explicit_cpus {
            "chosen with --cpus"
        } else {
            "one per physical core"
        };
        write!(
            f,
            "workers: {} on CPUs {} ({what}){}",
            self.workers.len(),
            format_cpu_list(&{
                let mut c = self.cpus.clone();
                c.sort_unstable();
                c
            }),
            if self.oversubscribed {
                format!(
                    ", oversubscribed: {} workers on {} CPUs",
                    self.workers.len(),
                    self.cpus.len()
                )
            } else {
                String::new()
            }
        )?;
        // Eight assignments per line keeps hundreds of workers readable.
        for (row, chunk) in self.workers.chunks(8).enumerate() {
            let line: String = chunk
                .iter()
                .enumerate()
                .map(|(i, cpu)| format!("  w{:<3} -> cpu {cpu:<4}", row * 8 + i))
                .collect();
            write!(f, "\n{}", line.trim_end())?;
        }
        Ok(())
    }
}

/// Pins the calling thread to `cpu`; returns whether the OS accepted it.
pub fn pin_current(cpu: usize) -> bool {
    core_affinity::set_for_current(core_affinity::CoreId { id: cpu })
}

/// A worker that could not be pinned where the plan said.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub struct PinFailure {
    /// The worker's index.
    pub worker: usize,
    /// The CPU it should have been pinned to.
    pub cpu: usize,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_plan_is_one_worker_per_core() {
        let t = Topology::from_cpu_list(vec![0, 1, 2, 3]);
        let p = Plan::new(&t, None, None).unwrap();
        assert_eq!(p.workers, vec![0, 1, 2, 3]);
        assert!(!p.oversubscribed);
    }

    #[test]
    fn single_cpu_gets_two_workers() {
        let t = Topology::from_cpu_list(vec![0]);
        let p = Plan::new(&t, None, None).unwrap();
        assert_eq!(p.workers, vec![0, 0]);
        assert!(p.oversubscribed);
        assert!(p.to_string().contains("oversubscribed"));
    }

    #[test]
    fn threads_round_robin_and_cpus() {
        let t = Topology::from_cpu_list(vec![0, 1, 2, 3]);
        let p = Plan::new(&t, Some(5), Some(&[0, 2, 3])).unwrap();
        assert_eq!(p.workers, vec![0, 2, 3, 0, 2]);
        assert!(p.oversubscribed);
        assert!(Plan::new(&t, Some(0), None).is_err());
        let e = Plan::new(&t, None, Some(&[7])).unwrap_err();
        assert!(e.contains('7'), "{e}");
    }
}
