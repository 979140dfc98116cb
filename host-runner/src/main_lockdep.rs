//! `host-runner-lockdep`: host-runner built with baresync's lock-order checker on (feature
//! `lockdep`), under its own name so that it never replaces the `host-runner` binary. `report`
//! runs its `bench --group lockdep` next to host-runner's for the checker's cost.

fn main() {
    std::process::exit(host_runner::cli::main());
}
