//! Deadlock: two workers take two locks in opposite orders.
//!
//! Worker 1 takes `ACCOUNTS` then `AUDIT_LOG`; worker 2 takes `AUDIT_LOG` then `ACCOUNTS`. Each
//! takes its first lock, pauses (as real work would), then asks for the second, which the
//! other holds: both wait forever.
//!
//! - `cargo run --example deadlock`: the workers hang; a watchdog in `main` sees that neither
//!   finished within a few seconds, says so, and exits with status 0 (the hang is the
//!   expected outcome of this demonstration).
//! - `cargo run --example deadlock --features lockdep`: the lock-order checker has seen
//!   `ACCOUNTS → AUDIT_LOG` by the time worker 2 asks for `ACCOUNTS` while holding
//!   `AUDIT_LOG`, and reports the cycle before worker 2 starts waiting, with where each lock
//!   was taken. Worker 2 then backs out (the handler below panics in it), which lets worker 1
//!   finish: no hang on the first run. The check does not depend on the timing: run
//!   with `--features lockdep` and `DEADLOCK_PAUSE_MS=0` and the inversion is still
//!   reported, even when the workers happen never to overlap.

use baresync::Mutex;
use std::sync::mpsc;
use std::thread;
use std::time::Duration;

static ACCOUNTS: Mutex<u64> = Mutex::new(100);
static AUDIT_LOG: Mutex<Vec<&str>> = Mutex::new(Vec::new());

fn pause() {
    let ms = std::env::var("DEADLOCK_PAUSE_MS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(100);
    thread::sleep(Duration::from_millis(ms));
}

/// Moves money, then logs it: accounts first.
fn transfer() {
    let mut balance = ACCOUNTS.lock();
    pause();
    let mut log = AUDIT_LOG.lock();
    *balance -= 10;
    log.push("transfer 10");
}

/// Reads the log, then checks the balance: log first (the inverted order).
fn audit() {
    let log = AUDIT_LOG.lock();
    pause();
    let balance = ACCOUNTS.lock();
    println!("audit: {} entries, balance {}", log.len(), *balance);
}

#[cfg(feature = "lockdep")]
fn report(report: &baresync::lockdep::Report<'_>) {
    eprintln!("{report}");
    // Back out of the acquisition that would deadlock: this worker's locks are released as
    // its guards unwind.
    panic!("lockdep: lock-order cycle, acquisition abandoned");
}

fn main() {
    #[cfg(feature = "lockdep")]
    {
        use baresync::lockdep::{self, Class};
        static ACCOUNTS_CLASS: Class = Class::new("ACCOUNTS");
        static AUDIT_LOG_CLASS: Class = Class::new("AUDIT_LOG");
        lockdep::set_handler(report);
        // Names for the report (a static is a class of its own already, named by address).
        lockdep::set_class(&ACCOUNTS, &ACCOUNTS_CLASS);
        lockdep::set_class(&AUDIT_LOG, &AUDIT_LOG_CLASS);
    }

    let (done_tx, done_rx) = mpsc::channel();
    let workers = [("transfer", transfer as fn()), ("audit", audit as fn())].map(|(name, f)| {
        let done = done_tx.clone();
        thread::spawn(move || {
            let ok = std::panic::catch_unwind(f).is_ok();
            done.send((name, ok)).unwrap();
        })
    });

    let mut finished = Vec::new();
    while finished.len() < workers.len() {
        match done_rx.recv_timeout(Duration::from_secs(3)) {
            Ok(w) => finished.push(w),
            Err(_) => {
                println!(
                    "deadlock: after 3 s {} of 2 workers finished; the others wait forever \
                     for a lock the other worker holds",
                    finished.len()
                );
                println!("run with `--features lockdep` to have it reported before it hangs");
                #[cfg(feature = "lockdep")]
                panic!("the checker should have reported the inversion before the hang");
                #[cfg(not(feature = "lockdep"))]
                std::process::exit(0);
            }
        }
    }
    for w in workers {
        w.join().unwrap();
    }
    let abandoned: Vec<_> = finished
        .iter()
        .filter(|(_, ok)| !ok)
        .map(|(n, _)| *n)
        .collect();
    println!("finished: {finished:?}");
    if cfg!(feature = "lockdep") {
        assert_eq!(
            abandoned.len(),
            1,
            "exactly one worker's acquisition is reported"
        );
        println!(
            "lockdep reported the inversion; `{}` backed out, no hang",
            abandoned[0]
        );
    } else {
        // Without the checker and without a hang: the timing kept the workers apart.
        println!("no deadlock this time: the workers did not overlap");
    }
}
