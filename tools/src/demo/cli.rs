//! Command line of `inversion-demo`.

use std::path::PathBuf;

use anyhow::{bail, Result};
use clap::{Args, Parser, Subcommand, ValueEnum};
use serde::{Deserialize, Serialize};

#[derive(Parser, Debug)]
#[command(
    name = "inversion-demo",
    version,
    about = "Priority-inversion demo workload: a high-priority task blocked on a lock held by a starved low-priority task",
    long_about = "Priority-inversion demo workload for scx_proxy.\n\n\
        `run` sets up cgroups (cgroup v2, cpu controller; needs root), starts a \
        foreground task, a throttled background lock holder and CPU hogs, and \
        records the foreground's per-operation latency. `compare` tabulates and \
        plots several runs' JSON files."
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// Run one scenario and record the foreground's latency.
    Run(RunArgs),
    /// Compare runs: one table (ratios against the first file) and one plot.
    Compare(CompareArgs),
    /// Internal: one role of a running scenario (started by `run`).
    #[command(name = "__role", hide = true)]
    Role(RoleArgs),
}

/// Scenario to run.
#[derive(ValueEnum, Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Scenario {
    /// Cross-directory rename() (kernel s_vfs_rename_mutex); background renamer at cpu.weight 4.
    Rename,
    /// Control: as `rename` with the background renamer at normal weight.
    RenameUnthrottled,
    /// Control: as `rename` without a background renamer.
    RenameNocontention,
    /// glibc pthread mutex held by a nice 19, cpu.weight 4 owner.
    Futex,
    /// Control: as `futex` without a lock owner (the waiter's floor).
    FutexNocontention,
    /// As `futex` with a PTHREAD_PRIO_INHERIT mutex.
    PiFutex,
    /// Chain of --depth mutexes/owners; the last owner runs the critical section.
    Chain,
}

impl Scenario {
    pub fn name(self) -> &'static str {
        match self {
            Scenario::Rename => "rename",
            Scenario::RenameUnthrottled => "rename-unthrottled",
            Scenario::RenameNocontention => "rename-nocontention",
            Scenario::Futex => "futex",
            Scenario::FutexNocontention => "futex-nocontention",
            Scenario::PiFutex => "pi-futex",
            Scenario::Chain => "chain",
        }
    }

    pub fn is_rename(self) -> bool {
        matches!(
            self,
            Scenario::Rename | Scenario::RenameUnthrottled | Scenario::RenameNocontention
        )
    }
}

/// How the critical section's length is measured.
#[derive(ValueEnum, Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum CsClock {
    /// Thread CPU time: the owner must actually get --cs-us of CPU.
    Cpu,
    /// CLOCK_MONOTONIC: the section ends --cs-us after it began (once the owner runs again).
    Wall,
}

#[derive(Args, Debug, Clone)]
pub struct RunArgs {
    /// Scenario to run.
    #[arg(long, value_enum)]
    pub scenario: Scenario,
    /// Measured duration in seconds.
    #[arg(long, default_value_t = 20.0)]
    pub duration: f64,
    /// Where to write the JSON result.
    #[arg(long)]
    pub out: PathBuf,
    /// Label of this run in reports (default: the scenario, e.g. "chain2").
    #[arg(long)]
    pub label: Option<String>,
    /// Scheduler configuration in reports, e.g. "scx_proxy --no-proxy"
    /// (default: detected: "default" without a sched_ext scheduler; for
    /// scx_proxy its name plus the policy flags of the running daemon;
    /// otherwise the sched_ext ops name).
    #[arg(long)]
    pub config: Option<String>,
    /// Also plot this run's latency histogram (.png or .svg).
    #[arg(long)]
    pub plot: Option<PathBuf>,
    /// Chain depth, 1..=4 (only with --scenario chain; default 2).
    #[arg(long, value_parser = clap::value_parser!(u32).range(1..=4))]
    pub depth: Option<u32>,
    /// Use PTHREAD_PRIO_INHERIT mutexes for the chain (only with --scenario chain).
    #[arg(long)]
    pub pi: bool,
    /// Critical section length of the (last) lock owner, in microseconds.
    #[arg(long, default_value_t = 1000)]
    pub cs_us: u64,
    /// Clock that measures the critical section.
    #[arg(long, value_enum, default_value_t = CsClock::Cpu)]
    pub cs_clock: CsClock,
    /// Foreground sleep before each timed operation, in microseconds (0: back-to-back).
    #[arg(long, default_value_t = 500)]
    pub think_us: u64,
    /// Owners' sleep after releasing their lock, in microseconds.
    #[arg(long, default_value_t = 500)]
    pub owner_gap_us: u64,
    /// Owners' CPU spin after releasing their lock (before the sleep), in
    /// microseconds of the --cs-clock: an owner that stays runnable has no
    /// sleeper credit and is preempted at random points, often holding the
    /// lock.
    #[arg(long, default_value_t = 0)]
    pub owner_spin_us: u64,
    /// Pin the lock owners (futex scenarios) to this CPU, e.g. away from the
    /// waiter's, to see donation work without moving the owner.
    #[arg(long)]
    pub owner_cpu: Option<usize>,
    /// Number of CPU hog threads (default: 2 x online CPUs).
    #[arg(long)]
    pub hogs: Option<usize>,
    /// cpu.weight of the foreground cgroup.
    #[arg(long, default_value_t = 10000, value_parser = clap::value_parser!(u32).range(1..=10000))]
    pub fg_weight: u32,
    /// cpu.weight of the background cgroup (rename-unthrottled always uses 100).
    #[arg(long, default_value_t = 4, value_parser = clap::value_parser!(u32).range(1..=10000))]
    pub bg_weight: u32,
    /// cpu.weight of the hogs' cgroup.
    #[arg(long, default_value_t = 512, value_parser = clap::value_parser!(u32).range(1..=10000))]
    pub hog_weight: u32,
    /// Directory for scratch files (a per-run subdirectory is created and removed).
    #[arg(long, default_value = "/tmp")]
    pub workdir: PathBuf,
    /// cgroup v2 mount point.
    #[arg(long, default_value = "/sys/fs/cgroup")]
    pub cgroup_root: PathBuf,
    /// Seconds the background and hogs run before the foreground starts.
    #[arg(long, default_value_t = 0.5)]
    pub warmup: f64,
}

impl RunArgs {
    /// Checks that clap cannot express.
    pub fn validate(&self) -> Result<()> {
        if !(self.duration.is_finite() && self.duration > 0.0 && self.duration <= 86_400.0) {
            bail!("--duration must be > 0 and <= 86400 seconds");
        }
        if !(self.warmup.is_finite() && self.warmup >= 0.0 && self.warmup <= 600.0) {
            bail!("--warmup must be between 0 and 600 seconds");
        }
        if self.depth.is_some() && self.scenario != Scenario::Chain {
            bail!("--depth is only valid with --scenario chain");
        }
        if self.pi && self.scenario != Scenario::Chain {
            bail!("--pi is only valid with --scenario chain (use --scenario pi-futex)");
        }
        if self.cs_us > 10_000_000 {
            bail!("--cs-us must be <= 10000000");
        }
        if self.owner_spin_us > 10_000_000 {
            bail!("--owner-spin-us must be <= 10000000");
        }
        if self.owner_spin_us > 0
            && !matches!(
                self.scenario,
                Scenario::Futex | Scenario::PiFutex | Scenario::Chain
            )
        {
            bail!("--owner-spin-us is only valid with lock owners (futex, pi-futex, chain)");
        }
        if matches!(&self.config, Some(c) if c.trim().is_empty()) {
            bail!("--config must not be empty");
        }
        Ok(())
    }

    pub fn depth(&self) -> u32 {
        match self.scenario {
            Scenario::Chain => self.depth.unwrap_or(2),
            Scenario::Futex | Scenario::PiFutex => 1,
            _ => 0,
        }
    }

    /// Whether the futex scenario's mutexes are PTHREAD_PRIO_INHERIT.
    pub fn pi_mutex(&self) -> bool {
        self.scenario == Scenario::PiFutex || (self.scenario == Scenario::Chain && self.pi)
    }
}

#[derive(Args, Debug, Clone)]
pub struct CompareArgs {
    /// Result files written by `run` (ratios are relative to the first).
    #[arg(required = true, num_args = 1..)]
    pub files: Vec<PathBuf>,
    /// Write one combined plot (.png or .svg).
    #[arg(long)]
    pub plot: Option<PathBuf>,
    /// Print the table as Markdown.
    #[arg(long)]
    pub markdown: bool,
    /// Plot title.
    #[arg(long, default_value = "inversion-demo: foreground latency")]
    pub title: String,
}

/// Role of a child process.
#[derive(ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum RoleKind {
    /// Timed cross-directory renames (foreground).
    FgRename,
    /// Untimed cross-directory renames (background).
    BgRename,
    /// CPU hog threads.
    Hog,
    /// Timed mutex acquisitions (foreground).
    Waiter,
    /// Mutex owner (background).
    Owner,
}

#[derive(Args, Debug, Clone)]
pub struct RoleArgs {
    #[arg(long, value_enum)]
    pub kind: RoleKind,
    /// cgroup directory to join.
    #[arg(long)]
    pub cgroup: Option<PathBuf>,
    #[arg(long, default_value_t = 0, allow_negative_numbers = true)]
    pub nice: i32,
    #[arg(long)]
    pub dir_a: Option<PathBuf>,
    #[arg(long)]
    pub dir_b: Option<PathBuf>,
    #[arg(long, default_value = "file")]
    pub file: String,
    #[arg(long, default_value_t = 0)]
    pub duration_ms: u64,
    #[arg(long, default_value_t = 0)]
    pub think_us: u64,
    #[arg(long, default_value_t = 0)]
    pub cs_us: u64,
    #[arg(long, value_enum, default_value_t = CsClock::Cpu)]
    pub cs_clock: CsClock,
    #[arg(long, default_value_t = 0)]
    pub gap_us: u64,
    /// CPU spin after releasing the lock (owner), in microseconds.
    #[arg(long, default_value_t = 0)]
    pub spin_us: u64,
    /// Pin this role to one CPU.
    #[arg(long)]
    pub cpu: Option<usize>,
    #[arg(long)]
    pub lock_file: Option<PathBuf>,
    /// Number of mutexes in the lock file.
    #[arg(long, default_value_t = 1)]
    pub locks: usize,
    /// Index of the lock this role takes.
    #[arg(long, default_value_t = 0)]
    pub lock: usize,
    #[arg(long, default_value_t = 1)]
    pub threads: usize,
    /// Where the foreground writes its result.
    #[arg(long)]
    pub result: Option<PathBuf>,
}
