//! `sched-harness`: compares scx_proxy, scx_proxy --no-proxy and peer
//! sched_ext schedulers with the kernel default on the hackbench matrix,
//! inside the test VM. See `sched-harness --help` and
//! [`scx_proxy_tools::harness`].

use clap::Parser;
use scx_proxy_tools::harness::{cli::Args, runner};
use scx_proxy_tools::report;
use std::process::ExitCode;

fn main() -> ExitCode {
    let args = Args::parse();
    let cells = match args.validate() {
        Ok(c) => c,
        Err(e) => {
            eprintln!("sched-harness: {e:#}");
            return ExitCode::from(2);
        }
    };
    let rep = match &args.redraw {
        Some(path) => match std::fs::read_to_string(path)
            .map_err(anyhow::Error::from)
            .and_then(|s| report::from_json(&s))
        {
            Ok(r) => r,
            Err(e) => {
                eprintln!("sched-harness: --redraw {}: {e:#}", path.display());
                return ExitCode::from(2);
            }
        },
        None => match runner::run(&args, &cells) {
            Ok(r) => r,
            Err(e) => {
                eprintln!("sched-harness: {e:#}");
                return ExitCode::from(3);
            }
        },
    };
    if args.redraw.is_some() {
        if let Err(e) = std::fs::create_dir_all(&args.out_dir) {
            eprintln!("sched-harness: creating {}: {e}", args.out_dir.display());
            return ExitCode::from(3);
        }
    }
    let table = report::table(&rep);
    let json = report::to_json(&rep);
    let md = report::markdown(&rep);
    let out = &args.out_dir;
    let mut write_err = false;
    for (name, text) in [
        ("table.txt", &table),
        ("table.md", &md),
        ("results.json", &json),
    ] {
        if let Err(e) = std::fs::write(out.join(name), text) {
            eprintln!("sched-harness: writing {}: {}", out.join(name).display(), e);
            write_err = true;
        }
    }
    if !args.no_chart {
        if let Err(e) = report::bar_chart_png(&rep, &out.join("ratios.png")) {
            eprintln!("sched-harness: {e:#}");
            write_err = true;
        }
        if let Err(e) = report::bar_chart_svg(&rep, &out.join("ratios.svg")) {
            eprintln!("sched-harness: {e:#}");
            write_err = true;
        }
    }
    if args.json {
        println!("{json}");
    } else {
        print!("{table}");
    }
    if let Some(th) = &rep.threshold {
        if !th.pass {
            if let Some(l) = th.geomean_limit {
                if !th.geomean_ratio.is_some_and(|g| g <= l) {
                    eprintln!(
                        "sched-harness: THRESHOLD FAILED geometric mean of the ratios {} > {:.3}",
                        th.geomean_ratio
                            .map(|g| format!("{g:.3}"))
                            .unwrap_or_else(|| "(missing)".into()),
                        l
                    );
                }
            }
            for c in th.failed_cells() {
                eprintln!("sched-harness: THRESHOLD FAILED {}: {}", c.cell, c.reason);
            }
            return ExitCode::from(1);
        }
    }
    if let Some(th) = &rep.workload_threshold {
        if !th.pass {
            for c in th.failed_cells() {
                eprintln!(
                    "sched-harness: WORKLOAD THRESHOLD FAILED {}: {}",
                    c.cell, c.reason
                );
            }
            return ExitCode::from(1);
        }
    }
    let sched_errors = rep
        .schedulers
        .iter()
        .any(|s| s.present && !s.errors.is_empty());
    if sched_errors || write_err {
        return ExitCode::from(3);
    }
    ExitCode::SUCCESS
}
