//! What the host looks like: logical CPUs, packages, physical cores, SMT.
//!
//! On Linux the answer comes from sysfs: `devices/system/cpu/online` names the online CPUs,
//! and each CPU's `topology/{physical_package_id,core_id}` names the physical core it runs
//! on. A physical core is one `(package, core_id)` pair; it is represented by its
//! lowest-numbered online CPU, so SMT siblings are skipped. Elsewhere, or when sysfs cannot
//! be read, every CPU that `core_affinity::get_core_ids()` reports counts as its own core
//! (SMT unknown).
//!
//! The sysfs root is a parameter ([`Topology::from_sysfs`]) so tests can feed sample trees.

use serde::Serialize;
use std::collections::BTreeMap;
use std::fmt;
use std::path::Path;

/// Where the topology came from.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Source {
    /// Linux sysfs: physical cores and SMT are known.
    Sysfs,
    /// `core_affinity::get_core_ids()`: each CPU counts as a core, SMT unknown.
    Affinity,
}

/// One physical core, as the CPU that represents it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub struct Core {
    /// The physical package (socket).
    pub package: u32,
    /// The core's id inside its package (not necessarily dense).
    pub core_id: u32,
    /// The lowest-numbered usable CPU of this core: the one a worker is pinned to.
    pub cpu: usize,
    /// How many usable logical CPUs (SMT threads) this core has.
    pub threads: usize,
}

/// The CPUs and cores of the host.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Topology {
    /// Where this came from.
    pub source: Source,
    /// Usable logical CPUs (online, and in this process's affinity mask when known), sorted.
    pub cpus: Vec<usize>,
    /// One entry per physical core, sorted by representative CPU.
    pub cores: Vec<Core>,
    /// Number of packages.
    pub packages: usize,
    /// `Some(true)` when some core has more than one usable logical CPU; `None` if unknown.
    pub smt: Option<bool>,
}

impl Topology {
    /// The host's topology: sysfs on Linux, `core_affinity` otherwise or as a fallback.
    ///
    /// On Linux the CPUs are further limited to this process's affinity mask (as reported by
    /// `core_affinity`), so that a run under `taskset` or a cpuset never pins outside it.
    pub fn detect() -> Topology {
        let allowed: Option<Vec<usize>> =
            core_affinity::get_core_ids().map(|ids| ids.into_iter().map(|c| c.id).collect());
        if cfg!(target_os = "linux") {
            if let Ok(t) = Topology::from_sysfs(Path::new("/sys"), allowed.as_deref()) {
                return t;
            }
        }
        Topology::from_cpu_list(allowed.unwrap_or_else(|| vec![0]))
    }

    /// Reads the topology from the sysfs tree under `root` (normally `/sys`).
    ///
    /// `allowed`, when given, restricts the usable CPUs (the affinity mask); CPUs outside it
    /// are skipped as if offline, unless that would leave none.
    ///
    /// # Errors
    ///
    /// A message naming the file when `online` or a CPU's topology files are missing or
    /// malformed.
    pub fn from_sysfs(root: &Path, allowed: Option<&[usize]>) -> Result<Topology, String> {
        let cpu_dir = root.join("devices/system/cpu");
        let online_path = cpu_dir.join("online");
        let online = std::fs::read_to_string(&online_path)
            .map_err(|e| format!("{}: {e}", online_path.display()))?;
        let mut online =
            parse_cpu_list(online.trim()).map_err(|e| format!("{}: {e}", online_path.display()))?;
        if let Some(allowed) = allowed {
            let kept: Vec<usize> = online
                .iter()
                .copied()
                .filter(|c| allowed.contains(c))
                .collect();
            if !kept.is_empty() {
                online = kept;
            }
        }
        if online.is_empty() {
            return Err(format!("{}: no online CPU", online_path.display()));
        }
        // (package, core_id) -> (lowest cpu, thread count); `online` is sorted, so the first
        // CPU seen for a pair is its lowest.
        let mut pairs: BTreeMap<(u32, u32), (usize, usize)> = BTreeMap::new();
        for &cpu in &online {
            let topo = cpu_dir.join(format!("cpu{cpu}/topology"));
            let read = |name: &str| -> Result<u32, String> {
                let p = topo.join(name);
                let s = std::fs::read_to_string(&p).map_err(|e| format!("{}: {e}", p.display()))?;
                s.trim()
                    .parse::<i64>()
                    .map_err(|e| format!("{}: {e}", p.display()))
                    // Some firmware reports -1 for an unknown package: treat it as package 0.
                    .map(|v| u32::try_from(v).unwrap_or(0))
            };
            let package = read("physical_package_id")?;
            let core_id = read("core_id")?;
            pairs
                .entry((package, core_id))
                .and_modify(|(_, n)| *n += 1)
                .or_insert((cpu, 1));
        }
        let mut cores: Vec<Core> = pairs
            .iter()
            .map(|(&(package, core_id), &(cpu, threads))| Core {
                package,
                core_id,
                cpu,
                threads,
            })
            .collect();
        cores.sort_by_key(|c| c.cpu);
        let packages = {
            let mut p: Vec<u32> = cores.iter().map(|c| c.package).collect();
            p.sort_unstable();
            p.dedup();
            p.len()
        };
        let smt = Some(cores.iter().any(|c| c.threads > 1));
        Ok(Topology {
            source: Source::Sysfs,
            cpus: online,
            cores,
            packages,
            smt,
        })
    }

    /// A topology where each CPU of `cpus` is its own core in package 0 (SMT unknown).
    pub fn from_cpu_list(mut cpus: Vec<usize>) -> Topology {
        cpus.sort_unstable();
        cpus.dedup();
        if cpus.is_empty() {
            cpus.push(0);
        }
        let cores = cpus
            .iter()
            .map(|&cpu| Core {
                package: 0,
                core_id: u32::try_from(cpu).unwrap_or(u32::MAX),
                cpu,
                threads: 1,
            })
            .collect();
        Topology {
            source: Source::Affinity,
            cpus,
            cores,
            packages: 1,
            smt: None,
        }
    }

    /// The representative CPU of each physical core: where workers go by default.
    pub fn core_cpus(&self) -> Vec<usize> {
        self.cores.iter().map(|c| c.cpu).collect()
    }
}

impl fmt::Display for Topology {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let smt = match self.smt {
            Some(true) => "on",
            Some(false) => "off",
            None => "unknown",
        };
        let source = match self.source {
            Source::Sysfs => "sysfs",
            Source::Affinity => "core_affinity (no sysfs)",
        };
        writeln!(f, "topology source: {source}")?;
        writeln!(
            f,
            "logical CPUs: {} ({})",
            self.cpus.len(),
            format_cpu_list(&self.cpus)
        )?;
        writeln!(f, "packages: {}", self.packages)?;
        writeln!(f, "physical cores: {}", self.cores.len())?;
        write!(f, "SMT: {smt}")?;
        let mut by_package: BTreeMap<u32, Vec<usize>> = BTreeMap::new();
        for c in &self.cores {
            by_package.entry(c.package).or_default().push(c.cpu);
        }
        for (p, cpus) in by_package {
            write!(
                f,
                "\n  package {p}: {} cores, represented by CPUs {}",
                cpus.len(),
                format_cpu_list(&cpus)
            )?;
        }
        Ok(())
    }
}

/// Parses a Linux CPU list such as `0,2-3,8-11`; the result is sorted and without repeats.
///
/// # Errors
///
/// A message for an empty list, a malformed number or a reversed range.
pub fn parse_cpu_list(s: &str) -> Result<Vec<usize>, String> {
    let s = s.trim();
    if s.is_empty() {
        return Err("empty CPU list".into());
    }
    let mut out = Vec::new();
    for part in s.split(',') {
        let part = part.trim();
        let num = |t: &str| -> Result<usize, String> {
            t.trim()
                .parse::<usize>()
                .map_err(|_| format!("bad CPU number {t:?} in {s:?}"))
        };
        match part.split_once('-') {
            Some((a, b)) => {
                let (a, b) = (num(a)?, num(b)?);
                if a > b {
                    return Err(format!("reversed CPU range {part:?} in {s:?}"));
                }
                if b - a > 1 << 20 {
                    return Err(format!("CPU range {part:?} is too large"));
                }
                out.extend(a..=b);
            }
            None => out.push(num(part)?),
        }
    }
    out.sort_unstable();
    out.dedup();
    Ok(out)
}

/// Formats sorted CPU numbers as a compact list: `[0, 1, 2, 5]` → `0-2,5`.
pub fn format_cpu_list(cpus: &[usize]) -> String {
    let mut out = String::new();
    let mut i = 0;
    while i < cpus.len() {
        let start = cpus[i];
        let mut end = start;
        while i + 1 < cpus.len() && cpus[i + 1] == end + 1 {
            i += 1;
            end = cpus[i];
        }
        if !out.is_empty() {
            out.push(',');
        }
        if start == end {
            out.push_str(&start.to_string());
        } else {
            out.push_str(&format!("{start}-{end}"));
        }
        i += 1;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cpu_lists() {
        assert_eq!(parse_cpu_list("0").unwrap(), vec![0]);
        assert_eq!(parse_cpu_list("0,2-3").unwrap(), vec![0, 2, 3]);
        assert_eq!(parse_cpu_list("3,0-1,1").unwrap(), vec![0, 1, 3]);
        assert_eq!(parse_cpu_list("0-255\n").unwrap().len(), 256);
        assert!(parse_cpu_list("").is_err());
        assert!(parse_cpu_list("3-1").is_err());
        assert!(parse_cpu_list("a").is_err());
        assert!(parse_cpu_list("1,,2").is_err());
        assert_eq!(format_cpu_list(&[0, 1, 2, 5, 7, 8]), "0-2,5,7-8");
        assert_eq!(format_cpu_list(&[4]), "4");
    }

    #[test]
    fn cpu_list_fallback() {
        let t = Topology::from_cpu_list(vec![3, 1, 1]);
        assert_eq!(t.cpus, vec![1, 3]);
        assert_eq!(t.core_cpus(), vec![1, 3]);
        assert_eq!(t.smt, None);
        assert_eq!(Topology::from_cpu_list(vec![]).cpus, vec![0]);
    }
}
