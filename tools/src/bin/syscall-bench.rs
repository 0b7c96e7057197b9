//! `syscall-bench`: the cost of a cheap syscall, in nanoseconds per call.
//!
//! Measures what a scheduler's hooks add to every syscall: attaching any
//! syscall tracepoint (as scx_proxy's futex fallback does) sends every
//! syscall of every task through the kernel's slow path, while fentry hooks
//! on the futex functions cost nothing here. Ops: `getppid` (the syscall
//! and nothing else) and `read` (one byte from /dev/zero).

use anyhow::{Context, Result};
use clap::{Parser, ValueEnum};
use serde::Serialize;
use std::fs::File;
use std::io::Read;
use std::process::ExitCode;
use std::time::Instant;

#[derive(Clone, Copy, Debug, ValueEnum, Serialize)]
#[serde(rename_all = "lowercase")]
enum Op {
    Getppid,
    Read,
}

/// Time a cheap syscall in a loop; print nanoseconds per call.
#[derive(Debug, Parser)]
#[command(name = "syscall-bench", version)]
struct Args {
    /// Which syscall to time
    #[arg(long, value_enum, default_value_t = Op::Getppid)]
    op: Op,
    /// Calls per measurement
    #[arg(long, default_value_t = 200_000, value_parser = clap::value_parser!(u64).range(1..))]
    calls: u64,
    /// Measurements; the report gives the fastest and the median
    #[arg(long, default_value_t = 3, value_parser = clap::value_parser!(u64).range(1..=1000))]
    repeat: u64,
    /// Print one JSON object instead of text
    #[arg(long)]
    json: bool,
}

#[derive(Debug, Serialize)]
struct Report {
    op: Op,
    calls: u64,
    repeat: u64,
    ns_per_call_min: f64,
    ns_per_call_median: f64,
}

fn measure(op: Op, calls: u64, zero: &mut File) -> Result<f64> {
    let mut buf = [0u8; 1];
    let t0 = Instant::now();
    for _ in 0..calls {
        match op {
            // SAFETY: getppid has no arguments and cannot fail
            Op::Getppid => unsafe {
                libc::syscall(libc::SYS_getppid);
            },
            Op::Read => {
                zero.read_exact(&mut buf).context("reading /dev/zero")?;
            }
        }
    }
    Ok(t0.elapsed().as_nanos() as f64 / calls as f64)
}

fn run(args: &Args) -> Result<Report> {
    let mut zero = File::open("/dev/zero").context("opening /dev/zero")?;
    let mut v = Vec::new();
    for _ in 0..args.repeat {
        v.push(measure(args.op, args.calls, &mut zero)?);
    }
    v.sort_by(f64::total_cmp);
    Ok(Report {
        op: args.op,
        calls: args.calls,
        repeat: args.repeat,
        ns_per_call_min: v[0],
        ns_per_call_median: v[v.len() / 2],
    })
}

fn main() -> ExitCode {
    let args = Args::parse();
    match run(&args) {
        Ok(r) if args.json => {
            println!("{}", serde_json::to_string(&r).expect("report serialises"));
            ExitCode::SUCCESS
        }
        Ok(r) => {
            println!(
                "{:?}: {:.1} ns per call (median of {}, fastest {:.1}; {} calls each)",
                r.op, r.ns_per_call_median, r.repeat, r.ns_per_call_min, r.calls
            );
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("syscall-bench: {e:#}");
            ExitCode::FAILURE
        }
    }
}
