//! `pollloop`: adaptive busy-polling against eventfd notification, as in
//! QEMU's aio-posix (see [`scx_proxy_tools::iowork`]).

use clap::Parser;
use scx_proxy_tools::iowork::{pollloop, PollloopConfig, MAX_KNOB_US, MAX_RATE};
use scx_proxy_tools::window::{check_window, print_json, WindowArgs};
use std::process::ExitCode;

/// A producer publishes --rate events per second on a fixed schedule; the
/// consumer busy-polls for new events for --poll-us, then announces it is
/// going to sleep and blocks reading an eventfd, which the producer writes
/// only for a sleeping consumer. Measures the wake-to-handle latency (event
/// timestamp to the consumer handling it), how many events were caught while
/// polling or after sleeping, the consumer's CPU use and the producer's
/// missed slots.
#[derive(Debug, Parser)]
#[command(name = "pollloop", version)]
struct Args {
    /// How long the consumer busy-polls before sleeping, microseconds
    #[arg(long, default_value_t = 32, value_parser = clap::value_parser!(u64).range(0..=MAX_KNOB_US))]
    poll_us: u64,
    /// Events per second
    #[arg(long, default_value_t = 2000, value_parser = clap::value_parser!(u64).range(1..=MAX_RATE))]
    rate: u64,
    #[command(flatten)]
    window: WindowArgs,
}

fn main() -> ExitCode {
    let a = Args::parse();
    let cfg = PollloopConfig {
        poll_us: a.poll_us,
        rate: a.rate,
        runtime_s: a.window.runtime,
        warmup_s: a.window.warmup,
    };
    if let Err(code) = check_window("pollloop", cfg.runtime_s, cfg.warmup_s) {
        return code;
    }
    match pollloop(&cfg) {
        Ok(r) if a.window.json => print_json(&r),
        Ok(r) => {
            let l = &r.wake;
            println!(
                "wake latency (us): p50 {:.1} p90 {:.1} p99 {:.1} p99.9 {:.1} max {:.1}",
                l.p50_us, l.p90_us, l.p99_us, l.p999_us, l.max_us
            );
            println!(
                "events {} ({:.1}/s)  polled {}  after sleep {}  spurious wakeups {}",
                r.events, r.events_per_sec, r.polled_hits, r.sleeps, r.spurious_wakeups
            );
            println!(
                "p99 (us): polled {:.1}  after sleep {:.1}  same CPU as the producer {}",
                r.wake_polled.p99_us, r.wake_slept.p99_us, r.same_cpu_events
            );
            println!(
                "consumer CPU {:.1}%  missed slots {}  ring-full drops {}",
                r.consumer_cpu_percent, r.missed_slots, r.ring_full_drops
            );
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("pollloop: {e:#}");
            ExitCode::FAILURE
        }
    }
}
