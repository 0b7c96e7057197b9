//! What the workload binaries (schbench, uring-pingpong, evloop, pollloop)
//! share on their command line: the measured window's flags and the JSON
//! output.

use serde::Serialize;
use std::process::ExitCode;

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
