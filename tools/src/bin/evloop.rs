//! `evloop`: a tevent-style event loop serving clients over pipes (see
//! [`scx_proxy_tools::iowork`]).

use clap::Parser;
use scx_proxy_tools::iowork::{evloop, Backend, EvloopConfig, MAX_CLIENTS, MAX_KNOB_US};
use scx_proxy_tools::window::{check_window, print_json, WindowArgs};
use std::process::ExitCode;

/// One event-loop thread (like Samba's tevent) serves --clients client
/// threads over pipes. A client writes a request, blocks reading the reply
/// and repeats after --think-us; the loop waits for requests with epoll_wait
/// or io_uring, spins --work-us per request and writes the reply. Measures
/// requests served per second and the clients' reply latency (request
/// written to reply read, including queueing in the loop).
#[derive(Debug, Parser)]
#[command(name = "evloop", version)]
struct Args {
    /// How the loop waits for requests
    #[arg(long, value_enum, default_value_t = Backend::Epoll)]
    backend: Backend,
    /// Client threads
    #[arg(short = 'c', long, default_value_t = 4, value_parser = clap::value_parser!(u64).range(1..=MAX_CLIENTS as u64))]
    clients: u64,
    /// CPU work per request in the loop, microseconds
    #[arg(long, default_value_t = 10, value_parser = clap::value_parser!(u64).range(0..=MAX_KNOB_US))]
    work_us: u64,
    /// CPU spin of a client between a reply and its next request, microseconds
    #[arg(long, default_value_t = 0, value_parser = clap::value_parser!(u64).range(0..=MAX_KNOB_US))]
    think_us: u64,
    #[command(flatten)]
    window: WindowArgs,
}

fn main() -> ExitCode {
    let a = Args::parse();
    let cfg = EvloopConfig {
        backend: a.backend,
        clients: a.clients as usize,
        work_us: a.work_us,
        think_us: a.think_us,
        runtime_s: a.window.runtime,
        warmup_s: a.window.warmup,
    };
    if let Err(code) = check_window("evloop", cfg.runtime_s, cfg.warmup_s) {
        return code;
    }
    match evloop(&cfg) {
        Ok(r) if a.window.json => print_json(&r),
        Ok(r) => {
            println!("backend {}  clients {}", r.backend.name(), r.clients);
            let l = &r.reply;
            println!(
                "reply latency (us): p50 {:.1} p90 {:.1} p99 {:.1} p99.9 {:.1} max {:.1}",
                l.p50_us, l.p90_us, l.p99_us, l.p999_us, l.max_us
            );
            println!(
                "reply p99 by part (us): to the loop serving it {:.1}, serving {:.1}, to the client's read {:.1}",
                r.reply_queue.p99_us, r.reply_service.p99_us, r.reply_wake.p99_us
            );
            for (who, t) in [("loop", r.loop_sched), ("clients", r.clients_sched)] {
                if let Some(t) = t {
                    println!(
                        "{who}: on a CPU {:.1} ms, runnable but waiting {:.1} ms, switched in {} times",
                        t.cpu_us / 1e3,
                        t.run_delay_us / 1e3,
                        t.slices
                    );
                }
            }
            println!("events {} per second {:.1}", r.events, r.events_per_sec);
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("evloop: {e:#}");
            ExitCode::FAILURE
        }
    }
}
