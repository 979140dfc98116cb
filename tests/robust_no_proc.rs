//! Regression (red team R1): `ProcessLiveness::is_dead` treats "/proc/<tid>/stat: NotFound" as death, so where
//! /proc is not mounted (chroot, sandbox, minimal container) a LIVE owner is reported dead and
//! a second thread gets the lock while the first still holds it (two guards, data race from
//! safe code). The docs (src/process.rs:153, docs/processes.md:104) promise the opposite.
//!
//! Runs itself again inside `unshare -Urm` with an empty tmpfs over /proc.
#![cfg(all(target_os = "linux", feature = "std", not(baresync_loom)))]
use baresync::{RobustError, RobustMutex};
use std::sync::mpsc;

static M: RobustMutex<u64> = RobustMutex::new(0);

fn body() {
    let (locked_tx, locked_rx) = mpsc::channel();
    let (done_tx, done_rx) = mpsc::channel::<()>();
    let t = std::thread::spawn(move || {
        let mut g = M
            .lock()
            .unwrap_or_else(|_| panic!("first lock must be consistent"));
        *g += 1;
        locked_tx.send(()).unwrap();
        done_rx.recv().unwrap(); // hold the lock while main tries
        drop(g);
    });
    locked_rx.recv().unwrap();
    // The owner thread is alive and holds the lock: try_lock must say WouldBlock.
    let r = M.try_lock();
    let what = match &r {
        Ok(_) => "Ok (lock granted)",
        Err(RobustError::OwnerDied(_)) => "OwnerDied (lock granted)",
        Err(RobustError::NotRecoverable) => "NotRecoverable",
        Err(RobustError::WouldBlock) => "WouldBlock",
    };
    let second_holder = !matches!(r, Err(RobustError::WouldBlock));
    drop(r);
    done_tx.send(()).unwrap();
    let _ = t.join();
    assert!(
        !second_holder,
        "live owner's lock was handed to a second thread: try_lock returned {what}"
    );
}

#[test]
#[cfg_attr(miri, ignore = "unshare, /proc")]
fn live_owner_not_declared_dead_without_proc() {
    if std::env::var_os("RT_IN_NS").is_some() {
        assert!(
            std::fs::metadata("/proc/self").is_err(),
            "setup: /proc should be hidden"
        );
        body();
        return;
    }
    let exe = std::env::current_exe().unwrap();
    let st = std::process::Command::new("unshare")
        .args(["-Urm", "sh", "-c"])
        .arg(format!(
            "mount -t tmpfs none /proc && RT_IN_NS=1 exec '{}' --exact live_owner_not_declared_dead_without_proc --nocapture --test-threads=1",
            exe.display()
        ))
        .status()
        .expect("unshare");
    assert!(st.success(), "child (no /proc) failed: {st}");
}

/// Control: with /proc mounted the same scenario is fine.
#[test]
#[cfg_attr(miri, ignore = "reads /proc")]
fn control_with_proc() {
    if std::env::var_os("RT_IN_NS").is_some() {
        return;
    }
    body();
}
