//! `sched-pool`: one verdict per cell from the results.json of several
//! sched-harness runs (several boots). See [`scx_proxy_tools::pool`].

use anyhow::Context;
use clap::Parser;
use scx_proxy_tools::{pool, report};
use std::path::PathBuf;
use std::process::ExitCode;

/// Pools the per-round ratios of several sched-harness runs and decides
/// each cell by a confidence interval of their median.
///
/// A round is one interleaved repetition of a run: the candidate's sample
/// against the baseline's sample of the same round, oriented so that a
/// ratio above 1 is worse for the candidate (higher-is-better cells, such
/// as events/s and IOPS, are inverted). Each run's cells are paired
/// against the baseline that run's verdict chose (the kernel default, or
/// the better of it and scx_bpfland). The rounds of every run are pooled,
/// and the median of all of them gets a distribution-free interval (order
/// statistics of the binomial): a cell is "met" when the whole interval is
/// at or below --threshold, "missed" when it is all above, and
/// "undecided" otherwise (it needs at least 6 rounds at 95 %).
///
/// Pool only runs of the same candidate build: the tool cannot tell two
/// builds apart; it lists each run's per-cell median so that an outlier run
/// shows.
///
/// Exit status: 0 when no cell is missed, 1 when one is, 2 on bad input.
#[derive(Debug, Parser)]
#[command(name = "sched-pool", version, verbatim_doc_comment)]
struct Args {
    /// results.json files written by sched-harness (one per run)
    #[arg(required = true)]
    runs: Vec<PathBuf>,
    /// Scheduler judged
    #[arg(long, default_value = "scx_proxy")]
    candidate: String,
    /// The bar on the ratio (issue 11's target: 1.10)
    #[arg(long, default_value_t = 1.10)]
    threshold: f64,
    /// Level of the interval, between 0.5 and 1 (exclusive)
    #[arg(long, default_value_t = 0.95)]
    confidence: f64,
    /// Print the pooled verdicts as JSON instead of the table
    #[arg(long)]
    json: bool,
}

fn main() -> ExitCode {
    let a = Args::parse();
    if !(a.threshold.is_finite() && a.threshold > 0.0) {
        eprintln!("sched-pool: --threshold must be a positive number");
        return ExitCode::from(2);
    }
    if !(a.confidence > 0.5 && a.confidence < 1.0) {
        eprintln!("sched-pool: --confidence must be above 0.5 and below 1");
        return ExitCode::from(2);
    }
    let mut runs = Vec::new();
    for path in &a.runs {
        let r = std::fs::read_to_string(path)
            .map_err(anyhow::Error::from)
            .and_then(|s| report::from_json(&s))
            .with_context(|| format!("{}", path.display()));
        match r {
            Ok(r) if r.schedulers.iter().any(|s| s.name == a.candidate) => {
                runs.push((path.display().to_string(), r))
            }
            Ok(_) => {
                eprintln!(
                    "sched-pool: {}: {} did not run in it",
                    path.display(),
                    a.candidate
                );
                return ExitCode::from(2);
            }
            Err(e) => {
                eprintln!("sched-pool: {e:#}");
                return ExitCode::from(2);
            }
        }
    }
    let p = pool::pool(&runs, &a.candidate, a.threshold, a.confidence);
    if p.cells.is_empty() {
        eprintln!(
            "sched-pool: no cell has a verdict with rounds of {} in these runs (were they run with --threshold or --workload-threshold?)",
            a.candidate
        );
        return ExitCode::from(2);
    }
    for (name, _) in &runs {
        if !p
            .cells
            .iter()
            .any(|c| c.runs.iter().any(|r| &r.run == name))
        {
            eprintln!(
                "sched-pool: {name}: no verdict with rounds of {} in it: not pooled",
                a.candidate
            );
        }
    }
    if a.json {
        println!(
            "{}",
            serde_json::to_string_pretty(&p).expect("pool serialises")
        );
    } else {
        for (i, (name, _)) in runs.iter().enumerate() {
            println!("run {}: {name}", i + 1);
        }
        print!("{}", pool::table(&p));
    }
    if p.cells
        .iter()
        .any(|c| c.verdict == pool::PoolVerdict::Missed)
    {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    }
}
