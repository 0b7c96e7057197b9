//! What the workload binaries (schbench, uring-pingpong, evloop, pollloop)
//! share on their command line: the measured window's flags and the JSON
//! output.

use serde::Serialize;
use std::process::ExitCode;

/// The measured window's flags of uring-pingpong, evloop and pollloop
/// (`#[command(flatten)]`).
#[derive(Debug, Clone, clap::Args)]
pub struct WindowArgs {
    /// Seconds measured (after the warm-up)
    #[arg(short = 'r', long, default_value_t = 2.0)]
    pub runtime: f64,
    /// Seconds run before recording
    #[arg(short = 'w', long, default_value_t = 0.2)]
    pub warmup: f64,
    /// Print one JSON object instead of text
    #[arg(long)]
    pub json: bool,
}

/// Checks `--runtime` (in (0, 86400] s) and `--warmup` (in [0, 3600] s);
/// on a bad value prints `tool: ...` and gives exit status 2.
pub fn check_window(tool: &str, runtime_s: f64, warmup_s: f64) -> Result<(), ExitCode> {
    let runtime_ok = runtime_s > 0.0 && runtime_s <= 86400.0;
    if runtime_ok && (0.0..=3600.0).contains(&warmup_s) {
        Ok(())
    } else {
        eprintln!("{tool}: --runtime must be in (0, 86400] and --warmup in [0, 3600]");
        Err(ExitCode::from(2))
    }
}

/// Prints `r` as one JSON object on stdout.
pub fn print_json<T: Serialize>(r: &T) -> ExitCode {
    println!("{}", serde_json::to_string(r).expect("result serialises"));
    ExitCode::SUCCESS
}
