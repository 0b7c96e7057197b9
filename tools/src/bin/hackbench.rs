//! `hackbench`: the `perf bench sched messaging` / rt-tests hackbench
//! workload. See [`scx_proxy_tools::hackbench`] for the workload and the flag
//! mapping (perf: `-p` pipe, `-t` threads, `-g` groups, `-l` loops; rt-tests:
//! `-p -s -l -g -f -T -P`).

use clap::Parser;
use scx_proxy_tools::hackbench::{run, Args};
use std::process::ExitCode;

fn main() -> ExitCode {
    let args = Args::parse();
    let cfg = match args.to_config() {
        Ok(c) => c,
        Err(e) => {
            eprintln!("hackbench: {e:#}");
            return ExitCode::from(2);
        }
    };
    match run(&cfg) {
        Ok(res) => {
            if args.json {
                println!(
                    "{}",
                    serde_json::to_string(&res).expect("result serialises")
                );
            } else {
                print!("{}", res.human());
            }
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("hackbench: {e:#}");
            ExitCode::FAILURE
        }
    }
}
