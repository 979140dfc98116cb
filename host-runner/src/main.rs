//! `host-runner`: topology, stress, bench and report for baresync on this host.
//!
//! Exit status: 0 success, 1 an invariant broke or a negative control was not caught,
//! 2 bad arguments.

fn main() {
    std::process::exit(host_runner::cli::main());
}
