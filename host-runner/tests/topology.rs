//! Topology from sample sysfs trees built in a temporary directory.

use host_runner::pin::Plan;
use host_runner::topology::{Source, Topology};
use std::fs;
use std::path::Path;

/// A CPU in a sample tree: (cpu, package, core_id).
type Cpu = (usize, u32, u32);

/// Writes `devices/system/cpu/{online, cpuN/topology/*}` under `root`. Offline CPUs get a
/// directory without topology files, as the kernel does.
fn sysfs(root: &Path, online: &str, cpus: &[Cpu], offline: &[usize]) {
    let dir = root.join("devices/system/cpu");
    fs::create_dir_all(&dir).unwrap();
    fs::write(dir.join("online"), format!("{online}\n")).unwrap();
    for &(cpu, package, core) in cpus {
        let topo = dir.join(format!("cpu{cpu}/topology"));
        fs::create_dir_all(&topo).unwrap();
        fs::write(topo.join("physical_package_id"), format!("{package}\n")).unwrap();
        fs::write(topo.join("core_id"), format!("{core}\n")).unwrap();
    }
    for &cpu in offline {
        fs::create_dir_all(dir.join(format!("cpu{cpu}"))).unwrap();
    }
}

fn read(online: &str, cpus: &[Cpu], offline: &[usize]) -> Topology {
    let tmp = tempfile::tempdir().unwrap();
    sysfs(tmp.path(), online, cpus, offline);
    Topology::from_sysfs(tmp.path(), None).unwrap()
}

#[test]
fn smt_siblings_are_skipped() {
    // 4 cores, 2 threads each; siblings numbered the Intel way (cpu n and n + 4).
    let cpus: Vec<Cpu> = (0..8).map(|c| (c, 0, (c % 4) as u32)).collect();
    let t = read("0-7", &cpus, &[]);
    assert_eq!(t.source, Source::Sysfs);
    assert_eq!(t.cpus.len(), 8);
    assert_eq!(t.core_cpus(), vec![0, 1, 2, 3]);
    assert_eq!(t.smt, Some(true));
    assert_eq!(t.packages, 1);
    assert!(t.cores.iter().all(|c| c.threads == 2));
    let text = t.to_string();
    assert!(text.contains("SMT: on"), "{text}");
    assert!(text.contains("physical cores: 4"), "{text}");
}

#[test]
fn adjacent_smt_siblings_pick_the_lowest() {
    // AMD-style numbering: cpu 2k and 2k + 1 share core k.
    let cpus: Vec<Cpu> = (0..8).map(|c| (c, 0, (c / 2) as u32)).collect();
    let t = read("0-7", &cpus, &[]);
    assert_eq!(t.core_cpus(), vec![0, 2, 4, 6]);
}

#[test]
fn without_smt() {
    let cpus: Vec<Cpu> = (0..4).map(|c| (c, 0, c as u32)).collect();
    let t = read("0-3", &cpus, &[]);
    assert_eq!(t.core_cpus(), vec![0, 1, 2, 3]);
    assert_eq!(t.smt, Some(false));
    assert!(t.to_string().contains("SMT: off"));
}

#[test]
fn offline_cpus_are_skipped() {
    // cpu 0 (core 0) and cpu 2 (core 2) are offline; cpu 4 is core 0's sibling and online,
    // so core 0 is still there, represented by cpu 4.
    let cpus: Vec<Cpu> = vec![(1, 0, 1), (3, 0, 3), (4, 0, 0), (5, 0, 1)];
    let t = read("1,3-5", &cpus, &[0, 2]);
    assert_eq!(t.cpus, vec![1, 3, 4, 5]);
    assert_eq!(t.core_cpus(), vec![1, 3, 4]);
    assert_eq!(t.smt, Some(true));
}

#[test]
fn two_packages_with_the_same_core_ids() {
    // core_id restarts in each package: (package, core) pairs are what identify a core.
    let cpus: Vec<Cpu> = (0..8)
        .map(|c| (c, (c / 4) as u32, (c % 4) as u32))
        .collect();
    let t = read("0-7", &cpus, &[]);
    assert_eq!(t.packages, 2);
    assert_eq!(t.core_cpus(), (0..8).collect::<Vec<_>>());
    assert_eq!(t.smt, Some(false));
    assert!(t.to_string().contains("package 1: 4 cores"));
}

#[test]
fn single_cpu() {
    let t = read("0", &[(0, 0, 0)], &[]);
    assert_eq!(t.core_cpus(), vec![0]);
    assert_eq!(t.smt, Some(false));
    // Lock stress needs two workers, so one CPU is oversubscribed by default.
    let plan = Plan::new(&t, None, None).unwrap();
    assert_eq!(plan.workers, vec![0, 0]);
    assert!(plan.oversubscribed);
}

#[test]
fn large_machine() {
    // 2 packages x 64 cores x 2 threads = 256 CPUs, siblings at n and n + 128.
    let cpus: Vec<Cpu> = (0..256)
        .map(|c| {
            let phys = c % 128;
            (c, (phys / 64) as u32, (phys % 64) as u32)
        })
        .collect();
    let t = read("0-255", &cpus, &[]);
    assert_eq!(t.cpus.len(), 256);
    assert_eq!(t.packages, 2);
    assert_eq!(t.core_cpus(), (0..128).collect::<Vec<_>>());
    assert_eq!(t.smt, Some(true));
    let plan = Plan::new(&t, None, None).unwrap();
    assert_eq!(plan.threads(), 128);
    assert!(!plan.oversubscribed);
    let plan = Plan::new(&t, Some(300), None).unwrap();
    assert!(plan.oversubscribed);
    assert_eq!(plan.workers[128], 0);
    assert!(plan.to_string().contains("w299"));
}

#[test]
fn affinity_mask_restricts_cpus() {
    let cpus: Vec<Cpu> = (0..4).map(|c| (c, 0, c as u32)).collect();
    let tmp = tempfile::tempdir().unwrap();
    sysfs(tmp.path(), "0-3", &cpus, &[]);
    let t = Topology::from_sysfs(tmp.path(), Some(&[1, 3])).unwrap();
    assert_eq!(t.core_cpus(), vec![1, 3]);
}

#[test]
fn unreadable_sysfs_is_an_error() {
    let tmp = tempfile::tempdir().unwrap();
    assert!(Topology::from_sysfs(tmp.path(), None).is_err());
    // `online` names a CPU whose topology files are missing.
    sysfs(tmp.path(), "0-1", &[(0, 0, 0)], &[]);
    let err = Topology::from_sysfs(tmp.path(), None).unwrap_err();
    assert!(err.contains("cpu1"), "{err}");
}

#[test]
fn detect_finds_at_least_one_cpu() {
    let t = Topology::detect();
    assert!(!t.cpus.is_empty());
    assert!(!t.cores.is_empty());
    assert!(t.cores.len() <= t.cpus.len());
}
