// SPDX-License-Identifier: GPL-2.0
//! Command-line options of the scx_proxy daemon.

use clap::Parser;

use crate::hooks::FutexHooksOpt;
use scx_utils::libbpf_clap_opts::LibbpfOpts;

/// Hard cap of the blocked-on chain walk (MAX_CHAIN_DEPTH in src/bpf/intf.h).
pub const MAX_CHAIN_DEPTH: u32 = 16;
/// Range of --max-donation-us (and of the live knob max-donation-us).
pub const MAX_DONATION_US_MIN: u64 = 100;
pub const MAX_DONATION_US_MAX: u64 = 10_000_000;

/// scx_proxy: a sched_ext scheduler with proxy execution.
///
/// Weighted-fair virtual-time scheduling that honours nice levels and cgroup
/// cpu.weight, plus proxy execution (generalised priority inheritance): when
/// a task blocks on a kernel mutex/rwsem or a userspace futex lock, the
/// scheduler follows the blocked-on chain to the runnable owner and donates
/// the waiter's scheduling context to it (its place in the vtime order, its
/// slice, and its CPU), charging the time to the waiter. When the lock is
/// released the owner gets its own context back and returns to its CPU.
///
/// Needs root and a kernel with sched_ext (6.12+, CONFIG_SCHED_CLASS_EXT=y;
/// check that /sys/kernel/sched_ext exists). Stop it with Ctrl-C or SIGTERM:
/// the kernel's default scheduler takes over again. While it runs,
/// `scx_proxy ctl` reads and changes its policy knobs (donation on/off, lock
/// families, chain depth, donation budget) without a reload.
#[derive(Debug, Clone, Parser)]
#[command(
    name = "scx_proxy",
    version,
    disable_version_flag = true,
    verbatim_doc_comment
)]
pub struct Opts {
    /// Time slice in microseconds: how long a task runs before the next one
    /// in vtime order gets the CPU.
    #[arg(short = 's', long, default_value_t = 5000, value_parser = clap::value_parser!(u64).range(100..=1_000_000))]
    pub slice_us: u64,

    /// How far behind the current vtime a waking sleeper may be placed
    /// (sleeper credit), in multiples of the slice.
    #[arg(long, default_value_t = 4, value_parser = clap::value_parser!(u64).range(1..=100))]
    pub slice_lag: u64,

    /// Wakeup preemption of CPU-bound tasks, in microseconds (default:
    /// --slice-us): a waking task that finds no idle CPU preempts, of the
    /// running tasks of its LLC (but its waker's CPU) ahead of it in
    /// virtual time that have run this long since they last slept, the one
    /// furthest ahead. A waker that has run this long without sleeping
    /// also loses the kernel's wake-affine choice: a sync wakeup it makes
    /// goes to an idle CPU, not behind it on its own. Smaller: lower
    /// wakeup latency beside busy tasks, more preemptions (preempting
    /// every task ahead made hackbench 3.5x slower).
    #[arg(long, value_parser = clap::value_parser!(u64).range(0..=1_000_000))]
    pub wakeup_busy_us: Option<u64>,

    /// Never preempt a running task for a waking one: a woken task that
    /// finds no idle CPU waits for a slice to end (at most --slice-us,
    /// rounded up to a tick).
    #[arg(long)]
    pub no_wakeup_preempt: bool,

    /// Wait bound in milliseconds: a task that has been runnable this long
    /// without running is moved ahead of the vtime order (oldest first), so
    /// that no weights, however extreme, and no real-time load make a task
    /// wait for seconds. Weights hold as long as the lightest task's turn
    /// comes within this bound.
    #[arg(long, default_value_t = 200, value_parser = clap::value_parser!(u64).range(20..=5000))]
    pub wait_bound_ms: u64,

    /// Turn proxy execution off: no donation at all (baseline for A/B runs).
    /// Blocked-on edges are still tracked and reported.
    #[arg(long)]
    pub no_proxy: bool,

    /// Do not track kernel mutexes and rwsems.
    #[arg(long)]
    pub no_kernel_locks: bool,

    /// Do not track userspace futex locks (glibc mutexes, PI futexes).
    #[arg(long)]
    pub no_futex: bool,

    /// Which futex hooks to use: fentry/fexit on the kernel's futex
    /// functions (only futex calls pay), or the futex syscall tracepoints
    /// (every syscall of every task takes the slow path while they are
    /// attached). auto: fentry where the kernel has it.
    #[arg(long, value_enum, default_value_t = FutexHooksOpt::Auto)]
    pub futex_hooks: FutexHooksOpt,

    /// Refuse to start when the kernel lacks a lock family's hooks (by
    /// default scx_proxy starts without that family and says so).
    #[arg(long)]
    pub require_hooks: bool,

    /// Donate the waiter's slice and vtime but never move the owner to the
    /// waiter's CPU (no proxy migration).
    #[arg(long)]
    pub no_cpu_donation: bool,

    /// Longest blocked-on chain followed (waiter -> owner -> ...), 1 to 16.
    #[arg(long, default_value_t = 8, value_parser = clap::value_parser!(u32).range(1..=MAX_CHAIN_DEPTH as i64))]
    pub max_depth: u32,

    /// Most time, in microseconds, an owner may run on one donation before
    /// it falls back to its own context (bounds the cost of a wrong edge).
    #[arg(long, default_value_t = 100000, value_parser = clap::value_parser!(u64).range(MAX_DONATION_US_MIN..=MAX_DONATION_US_MAX))]
    pub max_donation_us: u64,

    /// Print scheduler statistics every SECS seconds while scheduling.
    #[arg(long, value_name = "SECS", value_parser = parse_interval)]
    pub stats: Option<f64>,

    /// Do not load a scheduler: connect to a running scx_proxy and print its
    /// statistics and lock report every SECS seconds.
    #[arg(long, value_name = "SECS", value_parser = parse_interval)]
    pub monitor: Option<f64>,

    /// Number of locks in the per-lock report printed with --stats/--monitor
    /// and at exit.
    #[arg(long, default_value_t = 8)]
    pub top_locks: usize,

    /// Write the final statistics and lock report as JSON to this file when
    /// the scheduler stops.
    #[arg(long, value_name = "FILE")]
    pub stats_json: Option<std::path::PathBuf>,

    /// Size of the kernel's debug dump buffer printed when the scheduler is
    /// ejected (0: none).
    #[arg(long, default_value_t = 0)]
    pub exit_dump_len: u32,

    /// Verbose output, including libbpf's messages (-v: info, -vv: debug).
    #[arg(short = 'v', long, action = clap::ArgAction::Count)]
    pub verbose: u8,

    /// Print the version and exit.
    #[arg(short = 'V', long)]
    pub version: bool,

    /// Describe the statistics (scx_stats metadata) and exit.
    #[arg(long)]
    pub help_stats: bool,

    #[clap(flatten, next_help_heading = "Libbpf Options")]
    pub libbpf: LibbpfOpts,

    #[command(subcommand)]
    pub cmd: Option<Cmd>,
}

#[derive(Debug, Clone, clap::Subcommand)]
pub enum Cmd {
    /// Read or change the knobs of the running scx_proxy, without a reload.
    ///
    /// With no KEY=VALUE, prints the knobs in force. Otherwise sets them all
    /// (or, if one is bad, none) and prints the knobs now in force. Needs
    /// root (the stats socket /var/run/scx/root/stats is root's). The
    /// change lasts until scx_proxy stops; a restart starts from its flags.
    ///
    /// Keys:
    ///   proxy=on|off            proxy execution (donation); off is --no-proxy
    ///   cpu-donation=on|off     proxy migration to the donor's CPU
    ///   kernel-locks=on|off     edges from kernel mutexes and rwsems
    ///   futex=on|off            edges from userspace futex locks
    ///   max-depth=1..16         longest blocked-on chain followed
    ///   max-donation-us=100..10000000
    ///                           run time one donation may lend
    ///
    /// Example: scx_proxy ctl proxy=off max-donation-us=5000
    #[command(verbatim_doc_comment)]
    Ctl {
        /// Knobs to set, e.g. proxy=off.
        #[arg(value_name = "KEY=VALUE")]
        sets: Vec<String>,
    },
}

fn parse_interval(s: &str) -> Result<f64, String> {
    let v: f64 = s
        .parse()
        .map_err(|_| format!("'{s}' is not a number of seconds"))?;
    if !(v.is_finite() && v > 0.0 && v <= 3600.0) {
        return Err(format!("interval must be > 0 and <= 3600 seconds, got {s}"));
    }
    Ok(v)
}
