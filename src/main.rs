// SPDX-License-Identifier: GPL-2.0
//! `scx_proxy`: load the scheduler, run until Ctrl-C/SIGTERM, report.

use std::mem::MaybeUninit;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, Result};
use clap::Parser;
use log::info;

use scx_proxy::knobs;
use scx_proxy::opts::{Cmd, Opts};
use scx_proxy::preflight;
use scx_proxy::scheduler::{init_libbpf_logging, BypassSlice, Scheduler};
use scx_proxy::stats;

fn main() {
    let opts = Opts::parse();
    if let Err(e) = run(opts) {
        eprintln!("scx_proxy: error: {e:#}");
        std::process::exit(1);
    }
}

fn release() -> String {
    std::fs::read_to_string("/proc/sys/kernel/osrelease")
        .map(|s| s.trim().to_string())
        .unwrap_or_else(|_| "?".into())
}

fn run(opts: Opts) -> Result<()> {
    if opts.version {
        println!(
            "scx_proxy {}",
            scx_utils::build_id::full_version(env!("CARGO_PKG_VERSION"))
        );
        return Ok(());
    }
    if opts.help_stats {
        stats::server_data().describe_meta(&mut std::io::stdout(), None)?;
        return Ok(());
    }
    if let Some(Cmd::Ctl { sets }) = &opts.cmd {
        let knobs = knobs::ctl(std::path::Path::new(preflight::SCHED_EXT_SYSFS), sets)?;
        println!("{}", knobs.line());
        return Ok(());
    }

    let level = match opts.verbose {
        0 => simplelog::LevelFilter::Info,
        1 => simplelog::LevelFilter::Debug,
        _ => simplelog::LevelFilter::Trace,
    };
    simplelog::TermLogger::init(
        level,
        simplelog::ConfigBuilder::new()
            .set_time_level(simplelog::LevelFilter::Off)
            .set_target_level(simplelog::LevelFilter::Off)
            .set_thread_level(simplelog::LevelFilter::Off)
            .set_location_level(simplelog::LevelFilter::Off)
            .build(),
        simplelog::TerminalMode::Stderr,
        simplelog::ColorChoice::Never,
    )?;

    let shutdown = Arc::new(AtomicBool::new(false));
    let sd = shutdown.clone();
    ctrlc::set_handler(move || sd.store(true, Ordering::Relaxed))
        .context("installing the Ctrl-C/SIGTERM handler")?;

    if let Some(intv) = opts.monitor {
        return stats::monitor(Duration::from_secs_f64(intv), shutdown);
    }

    let sysfs = std::path::Path::new(preflight::SCHED_EXT_SYSFS);
    let rel = release();
    preflight::check_root(unsafe { libc_geteuid() })?;
    preflight::check_sched_ext(sysfs, &rel)?;
    preflight::check_no_other_scheduler(sysfs)?;
    if opts.libbpf.kconfig.is_none() {
        preflight::check_kconfig(
            std::path::Path::new("/boot"),
            std::path::Path::new("/proc/config.gz"),
            &rel,
        )?;
    }
    init_libbpf_logging(opts.verbose);

    if let Some(intv) = opts.stats {
        let sd = shutdown.clone();
        std::thread::spawn(move || {
            // the server comes up with the scheduler: retry until it answers
            let _ = stats::monitor(Duration::from_secs_f64(intv), sd);
        });
    }

    // kept until after the last detach (see BypassSlice)
    let _bypass = BypassSlice::shorten();
    let mut open_object = MaybeUninit::uninit();
    loop {
        let mut sched = Scheduler::init(&opts, &mut open_object)?;
        let uei = sched.run(shutdown.clone());
        let final_metrics = sched.metrics();
        if let Some(path) = &opts.stats_json {
            let json = serde_json::json!({
                "load_time_s": sched.load_time.as_secs_f64(),
                "metrics": final_metrics,
            });
            std::fs::write(path, serde_json::to_string_pretty(&json)?)
                .with_context(|| format!("writing {}", path.display()))?;
        }
        let mut out = std::io::stderr();
        final_metrics.format(&mut out)?;
        drop(sched);
        let uei = uei?;
        if uei.should_restart() && !shutdown.load(Ordering::Relaxed) {
            info!("the kernel asked scx_proxy to restart: reloading");
            continue;
        }
        break;
    }
    Ok(())
}

extern "C" {
    #[link_name = "geteuid"]
    fn libc_geteuid() -> u32;
}
