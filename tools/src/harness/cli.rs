//! Command line of `sched-harness`.

use super::workload::{parse_workloads, Workload};
use super::{build_matrix, Baseline, Cell, ALL_SCHEDULERS, DEFAULT, SCX_PROXY_BASE};
use crate::hackbench::{Ipc, Mode};
use anyhow::{bail, Result};
use clap::Parser;
use std::path::PathBuf;

const ABOUT: &str = "Compare sched_ext schedulers (scx_proxy, peers) with the kernel default on the hackbench matrix and IO/wakeup workloads";
const AFTER_HELP: &str = "\
Runs INSIDE the test VM, as root. For each repetition, for each scheduler (order rotated every
repetition so drift hits all equally): start it, wait until /sys/kernel/sched_ext/state is
'enabled' and root/ops starts with its ops name, run one unrecorded warm-up and then every cell
of the matrix with hackbench (and perf bench sched messaging with --perf-crosscheck), check it is
still attached, stop it with SIGINT (exit status 0 and state 'disabled' required).

Schedulers: default (no sched_ext scheduler), scx_proxy, scx_proxy-noproxy (scx_proxy
--no-proxy), scx_bpfland, scx_lavd (peers: from --peers-dir; reported as missing when absent).

scx_proxy binary, first found of: --scx-proxy, $SCX_PROXY, scx_proxy next to this binary,
/var/cache/scx_proxy/target/release/scx_proxy, scx_proxy in $PATH.

Cells: {pipe,socket} x {threads,processes} x --groups; loops per cell = --loops / groups
(rounded, at least 1) so every cell moves about the same number of messages (--fixed-loops: no
scaling).

Workloads (--workloads, besides or instead of the hackbench matrix with --no-hackbench): each
run after the matrix under the same scheduler start, about --workload-seconds each, with --json;
every metric is a cell named <workload>/<metric>:
  schbench      schbench -m 2 -t 2 --work-us 100: wakeup-p99, wakeup-p50 (us), rps
  pipe          pipe-bench (perf bench sched pipe): round-trip (us)
  uring         uring-pingpong, two rings on CPUs 0 and 1, a pipe read completed as
                task_work: rtt-p50, rtt-p99 (us)
  uring-coop    ... with IORING_SETUP_COOP_TASKRUN
  uring-hog     ... with a CPU hog beside the responder
  evloop-epoll  evloop, 4 clients over pipes, epoll: events (events/s), reply-p99 (us)
  evloop-uring  ... io_uring
  pollloop      pollloop, 32 us polling then an eventfd: wake-p99 (us), poller-cpu (%)
  aio-qd1       aio-bench (fio libaio direct writes, ext4 on null_blk), iodepth 1: iops,
                migr-per-kio (the submitter's migrations per 1000 IOs)
  aio-qd16      ... iodepth 16
Ratios are oriented so that > 1 is worse: median / default's median for times, default's
median / median for rates. --workload-threshold checks the primary metric(s) of each workload
(schbench rps, pipe round-trip, uring* rtt-p50, evloop* events and reply-p99,
pollloop wake-p99, aio* iops).

Counters: migrations and worker context switches are the sums of se.nr_migrations and
nr_(in)voluntary_switches that each hackbench worker reads from /proc/thread-self/sched after
its last message; rusage_ctx_switches is ru_nvcsw+ru_nivcsw of the benchmark's whole process
tree from wait4().

scx_proxy's own counters: every scx_proxy build runs with
--stats-json logs/<name>-rep<N>.stats.json; its donations, proxy migrations and lock edges in
each repetition whose data was kept go into results.json (schedulers[].proxy_counts) and a line
under table.txt and table.md, so a table shows whether proxy execution acted at all while it ran.

Outputs in --out-dir: results.json, table.txt, table.md (the README's markdown table), ratios.png, ratios.svg, logs/ (scheduler logs).
Exit status: 0 ok, 1 threshold failed, 2 bad usage, 3 scheduler or workload errors.";

/// Command line of `sched-harness`.
#[derive(Debug, Clone, Parser)]
#[command(name = "sched-harness", version, about = ABOUT, after_help = AFTER_HELP)]
pub struct Args {
    /// Schedulers to compare, comma-separated, in report order
    #[arg(
        long,
        value_delimiter = ',',
        default_value = "default,scx_proxy,scx_proxy-noproxy,scx_bpfland,scx_lavd"
    )]
    pub schedulers: Vec<String>,

    /// Repetitions of the whole matrix per scheduler
    #[arg(long, default_value_t = 5)]
    pub runs: usize,

    /// Group counts of the matrix, comma-separated
    #[arg(long, value_delimiter = ',', default_value = "1,4")]
    pub groups: Vec<usize>,

    /// Loops of a 1-group cell (cells with G groups use loops/G, see --fixed-loops)
    #[arg(long, default_value_t = 200)]
    pub loops: usize,

    /// Use --loops for every group count instead of loops/G
    #[arg(long)]
    pub fixed_loops: bool,

    /// Channel types, comma-separated: pipe, socket
    #[arg(long, value_delimiter = ',', default_value = "pipe,socket")]
    pub ipc: Vec<String>,

    /// Worker types, comma-separated: threads, processes
    #[arg(long, value_delimiter = ',', default_value = "threads,processes")]
    pub modes: Vec<String>,

    /// Unrecorded warm-up runs (first cell, loops/4) after each scheduler start
    #[arg(long, default_value_t = 1)]
    pub warmup: usize,

    /// Directory holding peer scheduler binaries (scx_bpfland, scx_lavd)
    #[arg(long, default_value = "/var/cache/scx_proxy/peers/bin")]
    pub peers_dir: PathBuf,

    /// scx_proxy binary (see below for the default search)
    #[arg(long)]
    pub scx_proxy: Option<PathBuf>,

    /// Another scx_proxy build (say, from before a change), run as the
    /// scheduler "scx_proxy-base" beside the others: before/after ratios
    /// from one boot
    #[arg(long)]
    pub scx_proxy_base: Option<PathBuf>,

    /// hackbench binary (default: next to this binary, else $PATH)
    #[arg(long)]
    pub hackbench: Option<PathBuf>,

    /// perf binary for --perf-crosscheck
    #[arg(long, default_value = "perf")]
    pub perf: PathBuf,

    /// Seconds to wait for a scheduler to attach (peers can need ~50 s to pass the verifier in the VM)
    #[arg(long, default_value_t = 120.0)]
    pub start_timeout: f64,

    /// Seconds to wait for a scheduler to exit after SIGINT and detach
    #[arg(long, default_value_t = 30.0)]
    pub stop_timeout: f64,

    /// Seconds after which one benchmark run is killed
    #[arg(long, default_value_t = 600.0)]
    pub run_timeout: f64,

    /// Output directory
    #[arg(long, default_value = "sched-harness-out")]
    pub out_dir: PathBuf,

    /// Print the JSON document on stdout instead of the table
    #[arg(long)]
    pub json: bool,

    /// Fail (exit 1) when the candidate's median on any cell exceeds RATIO x the baseline's
    #[arg(long, value_name = "RATIO")]
    pub threshold: Option<f64>,

    /// Fail (exit 1) when the geometric mean over the cells of the candidate's ratio to the
    /// baseline exceeds RATIO (less noisy than the per-cell --threshold)
    #[arg(long, value_name = "RATIO")]
    pub threshold_geomean: Option<f64>,

    /// Baseline of --threshold and --workload-threshold: best = best of default and the peers
    /// present; default = kernel default only; default-bpfland = the better of the default and
    /// scx_bpfland (issue 11's target)
    #[arg(long, value_enum, default_value_t = Baseline::Best)]
    pub threshold_baseline: Baseline,

    /// Scheduler checked by --threshold
    #[arg(long, default_value = "scx_proxy")]
    pub threshold_candidate: String,

    /// Also run every cell with `perf bench sched messaging` and compare the ratios' direction
    #[arg(long)]
    pub perf_crosscheck: bool,

    /// Ratios within 1 +- BAND count as "same" in the cross-check
    #[arg(long, default_value_t = 0.05)]
    pub crosscheck_band: f64,

    /// Workloads to run besides the hackbench matrix, comma-separated: all,
    /// none, or names from the list below
    #[arg(long, value_delimiter = ',', default_value = "none")]
    pub workloads: Vec<String>,

    /// Seconds each workload run measures
    #[arg(long, default_value_t = 2.0)]
    pub workload_seconds: f64,

    /// Run only the workloads, not the hackbench matrix
    #[arg(long)]
    pub no_hackbench: bool,

    /// Fail (exit 1) when the candidate's median of a workload's primary metric is worse
    /// than RATIO x the baseline's (--threshold-baseline, --threshold-candidate). Each
    /// cell's verdict also reports the ratio within each interleaved round (range, and how
    /// many rounds were over RATIO); the verdict stays the medians'
    #[arg(long, value_name = "RATIO")]
    pub workload_threshold: Option<f64>,

    /// Run nothing: read a results.json written before and write its
    /// table.txt, table.md, ratios.png and ratios.svg again into --out-dir
    #[arg(long, value_name = "RESULTS_JSON")]
    pub redraw: Option<PathBuf>,

    /// Don't draw ratios.png/ratios.svg
    #[arg(long)]
    pub no_chart: bool,
}

fn parse_ipc(s: &str) -> Result<Ipc> {
    match s.trim() {
        "pipe" => Ok(Ipc::Pipe),
        "socket" => Ok(Ipc::Socket),
        o => bail!("unknown --ipc {:?} (want pipe or socket)", o),
    }
}

fn parse_mode(s: &str) -> Result<Mode> {
    match s.trim() {
        "threads" | "thread" => Ok(Mode::Threads),
        "processes" | "process" => Ok(Mode::Processes),
        o => bail!("unknown --modes {:?} (want threads or processes)", o),
    }
}

/// Loops of a cell with `groups` groups.
pub fn loops_for(loops: usize, groups: usize, fixed: bool) -> usize {
    if fixed || groups == 0 {
        loops
    } else {
        ((loops as f64 / groups as f64).round() as usize).max(1)
    }
}

impl Args {
    /// The workloads of `--workloads`.
    pub fn workloads(&self) -> Result<Vec<Workload>> {
        parse_workloads(&self.workloads)
    }

    /// Validates the flags; returns the matrix.
    pub fn validate(&self) -> Result<Vec<Cell>> {
        if self.runs == 0 {
            bail!("--runs must be at least 1");
        }
        if self.loops == 0 {
            bail!("--loops must be at least 1");
        }
        if self.groups.is_empty() || self.groups.contains(&0) {
            bail!("--groups must list group counts >= 1");
        }
        if self.schedulers.is_empty() {
            bail!("--schedulers is empty");
        }
        for (i, s) in self.schedulers.iter().enumerate() {
            if s == SCX_PROXY_BASE {
                if self.scx_proxy_base.is_none() {
                    bail!("{SCX_PROXY_BASE} needs --scx-proxy-base PATH (the other build)");
                }
            } else if !ALL_SCHEDULERS.contains(&s.as_str()) {
                bail!(
                    "unknown scheduler {:?} (known: {})",
                    s,
                    ALL_SCHEDULERS.join(", ")
                );
            }
            if self.schedulers[..i].contains(s) {
                bail!("scheduler {:?} listed twice", s);
            }
        }
        for (flag, t) in [
            ("--threshold", self.threshold),
            ("--threshold-geomean", self.threshold_geomean),
            ("--workload-threshold", self.workload_threshold),
        ] {
            if let Some(t) = t {
                if !t.is_finite() || t <= 0.0 {
                    bail!("{} must be a positive ratio (e.g. 1.10), got {}", flag, t);
                }
            }
        }
        let workloads = self.workloads()?;
        if self.no_hackbench && workloads.is_empty() {
            bail!("--no-hackbench without --workloads: nothing to run");
        }
        if self.no_hackbench && (self.threshold.is_some() || self.threshold_geomean.is_some()) {
            bail!("--threshold/--threshold-geomean check the hackbench matrix, which --no-hackbench drops (use --workload-threshold)");
        }
        if self.workload_threshold.is_some() && workloads.is_empty() {
            bail!("--workload-threshold without --workloads");
        }
        if !(self.workload_seconds.is_finite() && (0.2..=600.0).contains(&self.workload_seconds)) {
            bail!("--workload-seconds must be in [0.2, 600]");
        }
        if self.threshold.is_some()
            || self.threshold_geomean.is_some()
            || self.workload_threshold.is_some()
        {
            if !self.schedulers.contains(&self.threshold_candidate) {
                bail!(
                    "--threshold checks {:?}, which is not in --schedulers",
                    self.threshold_candidate
                );
            }
            if !self.schedulers.iter().any(|s| s == DEFAULT) {
                bail!("--threshold needs the kernel default in --schedulers");
            }
        }
        if !(0.0..1.0).contains(&self.crosscheck_band) {
            bail!("--crosscheck-band must be in [0, 1)");
        }
        for (name, v) in [
            ("--start-timeout", self.start_timeout),
            ("--stop-timeout", self.stop_timeout),
            ("--run-timeout", self.run_timeout),
        ] {
            if !v.is_finite() || v <= 0.0 {
                bail!("{} must be a positive number of seconds", name);
            }
        }
        let ipcs = self
            .ipc
            .iter()
            .map(|s| parse_ipc(s))
            .collect::<Result<Vec<_>>>()?;
        let modes = self
            .modes
            .iter()
            .map(|s| parse_mode(s))
            .collect::<Result<Vec<_>>>()?;
        if ipcs.is_empty() || modes.is_empty() {
            bail!("--ipc and --modes must not be empty");
        }
        if self.no_hackbench {
            return Ok(Vec::new());
        }
        let mut groups = self.groups.clone();
        groups.dedup();
        Ok(build_matrix(&ipcs, &modes, &groups, |g| {
            loops_for(self.loops, g, self.fixed_loops)
        }))
    }
}
