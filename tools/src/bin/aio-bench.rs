//! `aio-bench`: one fio thread doing libaio direct I/O; its IOPS and how
//! often the scheduler migrates it (see [`scx_proxy_tools::aio`]).

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, Ordering};

use clap::Parser;
use scx_proxy_tools::aio::{resolve_file, run, AioConfig, AioResult, TargetKind};

/// Runs one single-thread fio libaio job (4 KiB direct I/O) and reports its
/// IOPS, latency and the submitting thread's migrations per 1,000 I/Os.
/// --target fs and raw load null_blk and need root; --file does not.
#[derive(Debug, Parser)]
#[command(name = "aio-bench", version)]
struct Args {
    /// fs: ext4 on a memory-backed null_blk, sequential writes into a
    /// fresh preallocated file (completion through a per-CPU kworker);
    /// raw: random reads from the null_blk device (completion inline)
    /// [default: fs]
    #[arg(long, value_enum, conflicts_with = "file")]
    target: Option<TargetKind>,
    /// Instead of null_blk: a directory (a fresh file is written in it and
    /// removed afterwards) or a new file's path, on any file system
    #[arg(long, value_name = "PATH", conflicts_with = "null_gb")]
    file: Option<PathBuf>,
    /// I/Os in flight
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u32).range(1..=1024))]
    iodepth: u32,
    /// Seconds of I/O at most (the write stops earlier at the end of the file)
    #[arg(long, default_value_t = 3, value_parser = clap::value_parser!(u64).range(1..=3600))]
    runtime: u64,
    /// MiB of the file written [default: fs, 3/4 of the new file system's
    /// free space; --file, half the free space, at most 1024]
    #[arg(long, value_parser = clap::value_parser!(u64).range(1..=1 << 24))]
    size_mb: Option<u64>,
    /// null_blk's size, GiB (memory-backed for fs: it holds what is written)
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u64).range(1..=64))]
    null_gb: u64,
    /// null_blk's irqmode: 0 completes each request inside the submission,
    /// 1 in a softirq, 2 in a timer interrupt after 10 us [default: fs 2,
    /// raw 0]
    #[arg(long, conflicts_with = "file", value_parser = clap::value_parser!(u8).range(0..=2))]
    null_irqmode: Option<u8>,
    /// Print one JSON object instead of text
    #[arg(long)]
    json: bool,
}

static STOP: AtomicBool = AtomicBool::new(false);

fn print_text(r: &AioResult) {
    let c = &r.config;
    let size = c
        .size_bytes
        .map(|s| format!(", {} MiB", s >> 20))
        .unwrap_or_default();
    println!(
        "target {} ({}{}{}), {} 4k, iodepth {}, runtime cap {} s",
        c.target.name(),
        c.file,
        c.device
            .as_ref()
            .filter(|d| **d != c.file)
            .map(|d| format!(" on {d}"))
            .unwrap_or_default(),
        size,
        c.rw.fio_name(),
        c.iodepth,
        c.runtime_s
    );
    if let Some(n) = &c.null_blk {
        println!(
            "null_blk: irqmode {}{}, {}memory-backed, {} MiB, {}",
            n.irqmode,
            if n.irqmode == "2" {
                format!(" (completion_nsec {})", n.completion_nsec)
            } else {
                String::new()
            },
            if n.memory_backed { "" } else { "not " },
            n.size_bytes >> 20,
            if n.loaded_by_aio_bench {
                "loaded by aio-bench"
            } else {
                "already loaded"
            }
        );
    }
    println!(
        "iops {:.1} ios {} runtime {:.3} s{}",
        r.iops,
        r.ios,
        r.runtime_s,
        if r.stopped_at_end_of_file {
            " (reached the end of the file)"
        } else {
            ""
        }
    );
    println!(
        "submitter tid {}: migrations {} ({:.2} per 1000 IOs), switches voluntary {} involuntary {}, cpu {:.1} ms",
        r.submitter_tid,
        r.submitter_migrations,
        r.migrations_per_kilo_io,
        r.submitter_voluntary_switches,
        r.submitter_involuntary_switches,
        r.submitter_cpu_ms
    );
    let us = |v: Option<f64>| v.map_or("-".to_string(), |v| format!("{v:.1}"));
    println!(
        "latency ({}) us: p50 {} p99 {}",
        r.lat_source.as_deref().unwrap_or("none"),
        us(r.lat_p50_us),
        us(r.lat_p99_us)
    );
    if !r.dio_kworkers.is_empty() {
        println!("dio workqueue kworkers: {}", r.dio_kworkers.join(" "));
    }
    println!("{}: {}", r.fio_version, r.fio_command.join(" "));
}

fn main() -> ExitCode {
    let a = Args::parse();
    if a.target == Some(TargetKind::Raw) && a.size_mb.is_some() {
        eprintln!(
            "aio-bench: --size-mb does not apply to --target raw (fio reads the whole device)"
        );
        return ExitCode::from(2);
    }
    if let Some(p) = &a.file {
        if let Err(e) = resolve_file(p) {
            eprintln!("aio-bench: {e:#}");
            return ExitCode::from(2);
        }
    }
    let target = match (&a.file, a.target) {
        (Some(_), _) => TargetKind::File,
        (None, t) => t.unwrap_or(TargetKind::Fs),
    };
    if let Err(e) = ctrlc::set_handler(|| STOP.store(true, Ordering::Release)) {
        eprintln!("aio-bench: warning: no SIGINT/SIGTERM handler ({e}); an interrupted run will not clean up");
    }
    let cfg = AioConfig {
        target,
        file: a.file,
        iodepth: a.iodepth,
        runtime_s: a.runtime,
        size_mb: a.size_mb,
        null_gb: a.null_gb,
        null_irqmode: a.null_irqmode,
    };
    match run(&cfg, &STOP) {
        Ok(r) if a.json => {
            println!("{}", serde_json::to_string(&r).expect("result serialises"));
            ExitCode::SUCCESS
        }
        Ok(r) => {
            print_text(&r);
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("aio-bench: {e:#}");
            ExitCode::FAILURE
        }
    }
}
