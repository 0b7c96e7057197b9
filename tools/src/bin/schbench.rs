//! `schbench`: wakeup and request latency of message threads waking worker
//! threads (after Chris Mason's schbench; see [`scx_proxy_tools::wakeup`]).

use clap::Parser;
use scx_proxy_tools::wakeup::{schbench, SchbenchConfig};
use scx_proxy_tools::window::{check_window, print_json};
use std::process::ExitCode;

/// Message threads wake their workers; each worker records its wakeup
/// latency (post to running) and request latency (post to done) after
/// --work-us of CPU work. Prints p50/p90/p99/p99.9 of both and requests/s.
#[derive(Debug, Parser)]
#[command(name = "schbench", version)]
struct Args {
    /// Message threads
    #[arg(short = 'm', long, default_value_t = 2, value_parser = clap::value_parser!(u64).range(1..=1024))]
    message_threads: u64,
    /// Workers per message thread
    #[arg(short = 't', long, default_value_t = 4, value_parser = clap::value_parser!(u64).range(1..=1024))]
    threads: u64,
    /// Seconds measured (after the warm-up)
    #[arg(short = 'r', long, default_value_t = 10.0)]
    runtime: f64,
    /// Seconds run before recording
    #[arg(short = 'w', long, default_value_t = 1.0)]
    warmup: f64,
    /// CPU work per request, microseconds
    #[arg(long, default_value_t = 100)]
    work_us: u64,
    /// Print one JSON object instead of text
    #[arg(long)]
    json: bool,
}

fn main() -> ExitCode {
    let a = Args::parse();
    let cfg = SchbenchConfig {
        message_threads: a.message_threads as usize,
        workers: a.threads as usize,
        runtime_s: a.runtime,
        warmup_s: a.warmup,
        work_us: a.work_us,
    };
    if let Err(code) = check_window("schbench", cfg.runtime_s, cfg.warmup_s) {
        return code;
    }
    match schbench(&cfg) {
        Ok(r) if a.json => print_json(&r),
        Ok(r) => {
            for (name, l) in [("wakeup", &r.wakeup), ("request", &r.request)] {
                println!(
                    "{name} latency (us): p50 {:.1} p90 {:.1} p99 {:.1} p99.9 {:.1} max {:.1}",
                    l.p50_us, l.p90_us, l.p99_us, l.p999_us, l.max_us
                );
            }
            println!("requests {} rps {:.1}", r.requests, r.rps);
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("schbench: {e:#}");
            ExitCode::FAILURE
        }
    }
}
