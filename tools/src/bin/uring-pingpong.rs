//! `uring-pingpong`: io_uring completion delivery latency between two
//! threads with their own rings (see [`scx_proxy_tools::iowork`]).

use clap::Parser;
use scx_proxy_tools::iowork::{uring_pingpong, Mechanism, PingpongConfig};
use scx_proxy_tools::window::{check_window, print_json, WindowArgs};
use std::process::ExitCode;

/// Two threads, each with its own io_uring and pinned to its own CPU,
/// ping-pong a message: the initiator sends it to the responder's ring and
/// waits for the reply on its own ring, the responder waits for it and
/// replies; both wait in io_uring_enter (submit and wait for 1 CQE).
/// Measures the round-trip time (two cross-thread wakeups of tasks sleeping
/// in io_uring) and round trips/s. The message travels by IORING_OP_MSG_RING
/// (a CQE posted into the other ring; delivered as task_work with
/// --defer-taskrun) or by a pipe write SQE completing the other ring's pipe
/// read SQE (always delivered as task_work).
#[derive(Debug, Parser)]
#[command(name = "uring-pingpong", version)]
struct Args {
    /// CPUs of the initiator and the responder, comma-separated
    #[arg(long, value_delimiter = ',', default_value = "0,1")]
    cpus: Vec<usize>,
    /// Don't pin the threads (nor the hog) to CPUs
    #[arg(long)]
    no_pin: bool,
    /// How the message reaches the other ring
    #[arg(long, value_enum, default_value_t = Mechanism::Auto)]
    mechanism: Mechanism,
    /// Set IORING_SETUP_COOP_TASKRUN and IORING_SETUP_TASKRUN_FLAG on both
    /// rings (Linux >= 5.19): task_work does not interrupt a running task
    #[arg(long)]
    coop_taskrun: bool,
    /// Set IORING_SETUP_SINGLE_ISSUER and IORING_SETUP_DEFER_TASKRUN on both
    /// rings (Linux >= 6.1): completions run as task_work when the task waits
    #[arg(long)]
    defer_taskrun: bool,
    /// Spin a CPU hog on the responder's CPU for the whole run
    #[arg(long)]
    hog: bool,
    #[command(flatten)]
    window: WindowArgs,
}

fn main() -> ExitCode {
    let a = Args::parse();
    let cpus = match a.cpus[..] {
        [c0, c1] => [c0, c1],
        _ => {
            eprintln!("uring-pingpong: --cpus takes exactly two CPUs (initiator,responder)");
            return ExitCode::from(2);
        }
    };
    let cfg = PingpongConfig {
        cpus: (!a.no_pin).then_some(cpus),
        mechanism: a.mechanism,
        coop_taskrun: a.coop_taskrun,
        defer_taskrun: a.defer_taskrun,
        hog: a.hog,
        runtime_s: a.window.runtime,
        warmup_s: a.window.warmup,
    };
    if let Err(code) = check_window("uring-pingpong", cfg.runtime_s, cfg.warmup_s) {
        return code;
    }
    match uring_pingpong(&cfg) {
        Ok(r) if a.window.json => print_json(&r),
        Ok(r) => {
            let yn = |b: bool| if b { "yes" } else { "no" };
            let pin = match r.config.cpus {
                Some([c0, c1]) => format!("{c0},{c1}"),
                None => "unpinned".into(),
            };
            println!(
                "mechanism {}  coop_taskrun {}  defer_taskrun {}  hog {}  cpus {pin}",
                r.mechanism.name(),
                yn(r.coop_taskrun),
                yn(r.defer_taskrun),
                yn(r.hog)
            );
            let l = &r.rtt;
            println!(
                "round trip (us): p50 {:.1} p90 {:.1} p99 {:.1} p99.9 {:.1} max {:.1}",
                l.p50_us, l.p90_us, l.p99_us, l.p999_us, l.max_us
            );
            println!(
                "round trips {} per second {:.1}",
                r.round_trips, r.round_trips_per_sec
            );
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("uring-pingpong: {e:#}");
            ExitCode::FAILURE
        }
    }
}
