//! `pipe-bench`: `perf bench sched pipe -T` (two threads ping-pong one byte
//! over two pipes; see [`scx_proxy_tools::wakeup`]).

use clap::Parser;
use scx_proxy_tools::wakeup::pipe;
use std::process::ExitCode;

/// Two threads ping-pong over two pipes; prints microseconds per round trip.
#[derive(Debug, Parser)]
#[command(name = "pipe-bench", version)]
struct Args {
    /// Round trips
    #[arg(short = 'l', long, default_value_t = 100_000, value_parser = clap::value_parser!(u64).range(1..))]
    loops: u64,
    /// Print one JSON object instead of text
    #[arg(long)]
    json: bool,
}

fn main() -> ExitCode {
    let a = Args::parse();
    match pipe(a.loops) {
        Ok(r) if a.json => {
            println!("{}", serde_json::to_string(&r).expect("result serialises"));
            ExitCode::SUCCESS
        }
        Ok(r) => {
            println!(
                "Total time: {:.3} [sec]\n{:.3} usecs/op\n{:.0} ops/sec",
                r.total_s, r.usecs_per_op, r.ops_per_sec
            );
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("pipe-bench: {e:#}");
            ExitCode::FAILURE
        }
    }
}
