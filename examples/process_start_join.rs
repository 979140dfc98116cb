//! Processes (not threads): named processes started and joined; `terminate` and `is_alive`;
//! and a process terminated while holding a `RobustMutex`, whose survivor repairs the data.
//!
//! `cargo run --example process_start_join` (Linux).

#[cfg(target_os = "linux")]
#[path = "process_support/mod.rs"]
mod process_support;

#[cfg(target_os = "linux")]
fn main() {
    use baresync::shared::Shareable;
    use baresync::sync::atomic::{AtomicU32, Ordering::SeqCst};
    use baresync::{RobustError, RobustMutex};
    use process_support::{Mapping, Process};

    #[repr(C)]
    struct Arena {
        greeted: AtomicU32,
        started: AtomicU32,
        /// An account moved between two halves: their sum must stay 100.
        account: RobustMutex<[u32; 2]>,
    }
    // SAFETY: `repr(C)`, shareable fields, zero = new.
    unsafe impl Shareable for Arena {}

    let map = Mapping::new(4096);
    let a: &Arena = map.arena();

    // 1. Named processes, started and joined.
    let mut procs: Vec<Process> = ["worker-1", "worker-2", "worker-3"]
        .iter()
        .map(|name| {
            Process::start(name, || {
                println!("hello from {name} (pid {})", std::process::id());
                a.greeted.fetch_add(1, SeqCst);
            })
        })
        .collect();
    for p in &mut procs {
        assert_eq!(p.join(), 0, "{} failed", p.name);
        println!("joined {}", p.name);
    }
    assert_eq!(a.greeted.load(SeqCst), 3);

    // 2. terminate and is_alive.
    let mut sleeper = Process::start("sleeper", || loop {
        std::thread::sleep(std::time::Duration::from_secs(1));
    });
    assert!(sleeper.is_alive());
    println!("sleeper alive: {}", sleeper.is_alive());
    sleeper.terminate();
    assert!(!sleeper.is_alive());
    println!(
        "sleeper alive after terminate: {} (exit code {})",
        sleeper.is_alive(),
        sleeper.join()
    );

    // 3. Terminated while holding the robust lock.
    *a.account.lock().unwrap() = [100, 0];
    let mut mover = Process::start("mover", || {
        let mut g = a.account.lock().unwrap();
        g[0] -= 30; // half of a transfer...
        a.started.store(1, SeqCst);
        loop {
            std::thread::sleep(std::time::Duration::from_secs(1)); // ...never finished
        }
    });
    while a.started.load(SeqCst) == 0 {
        std::thread::yield_now();
    }
    mover.terminate();
    println!("terminated {} while it held the lock", mover.name);
    match a.account.lock() {
        Err(RobustError::OwnerDied(mut g)) => {
            println!("owner died; found {:?}, sum {}", *g, g[0] + g[1]);
            assert_eq!(g[0] + g[1], 70, "the half-done transfer");
            g[1] = 100 - g[0]; // repair: complete the transfer
            g.mark_consistent();
            println!("repaired to {:?}", *g);
        }
        _ => panic!("the survivor must be told the owner died"),
    }
    let g = a.account.lock().expect("consistent again");
    assert_eq!(g[0] + g[1], 100);
}

#[cfg(not(target_os = "linux"))]
fn main() {}
