//! sched-harness: compares schedulers on the hackbench matrix.
//!
//! Data model and analysis live here (pure, unit-tested); [`cli`] holds the
//! command line and [`runner`] the part that starts schedulers and runs
//! workloads inside the VM. Output formats are in [`crate::report`].
//!
//! Statistics: per (cell, scheduler, tool) the median of the repetitions, the
//! min/max and the interquartile range (linear interpolation between order
//! statistics, like numpy's default); the ratio of a scheduler is its median
//! divided by the kernel default's median in the same cell (> 1 = slower).

pub mod cli;
pub mod runner;
pub mod workload;

use crate::hackbench::{Ipc, Mode};
use serde::{Deserialize, Serialize};

/// Name of the no-sched_ext baseline.
pub const DEFAULT: &str = "default";
/// Name of scx_proxy with donation on.
pub const SCX_PROXY: &str = "scx_proxy";
/// Name of scx_proxy with `--no-proxy`.
pub const SCX_PROXY_NOPROXY: &str = "scx_proxy-noproxy";
/// Another build of scx_proxy (`--scx-proxy-base`), for before/after ratios.
pub const SCX_PROXY_BASE: &str = "scx_proxy-base";
/// Known peers: (report name, binary name, ops name).
pub const PEERS: &[(&str, &str, &str)] = &[
    ("scx_bpfland", "scx_bpfland", "bpfland"),
    ("scx_lavd", "scx_lavd", "lavd"),
];
/// Every scheduler the harness knows, in report order.
pub const ALL_SCHEDULERS: &[&str] = &[
    DEFAULT,
    SCX_PROXY,
    SCX_PROXY_NOPROXY,
    "scx_bpfland",
    "scx_lavd",
];

/// Whether `name` is one of the peers (used as baselines).
pub fn is_peer(name: &str) -> bool {
    PEERS.iter().any(|p| p.0 == name)
}

/// One cell of the matrix.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Cell {
    pub ipc: Ipc,
    pub mode: Mode,
    pub groups: usize,
    pub loops: usize,
}

impl Cell {
    /// Stable identifier, e.g. `pipe/threads/g1`.
    pub fn id(&self) -> String {
        format!(
            "{}/{}/g{}",
            self.ipc.as_str(),
            self.mode.as_str(),
            self.groups
        )
    }

    /// hackbench flags for this cell (without `--json`).
    pub fn hackbench_args(&self) -> Vec<String> {
        let mut a = Vec::new();
        if self.ipc == Ipc::Pipe {
            a.push("-p".to_string());
        }
        if self.mode == Mode::Threads {
            a.push("-T".to_string());
        }
        a.extend([
            "-g".into(),
            self.groups.to_string(),
            "-l".into(),
            self.loops.to_string(),
        ]);
        a
    }

    /// `perf bench sched messaging` flags for the same workload.
    pub fn perf_args(&self) -> Vec<String> {
        let mut a: Vec<String> = vec!["bench".into(), "sched".into(), "messaging".into()];
        if self.ipc == Ipc::Pipe {
            a.push("-p".into());
        }
        if self.mode == Mode::Threads {
            a.push("-t".into());
        }
        a.extend([
            "-g".into(),
            self.groups.to_string(),
            "-l".into(),
            self.loops.to_string(),
        ]);
        a
    }
}

/// Builds the matrix {pipe, socket} x {threads, processes} x groups.
/// `loops_for(groups)` gives the loops of a group count.
pub fn build_matrix(
    ipcs: &[Ipc],
    modes: &[Mode],
    groups: &[usize],
    loops_for: impl Fn(usize) -> usize,
) -> Vec<Cell> {
    let mut v = Vec::new();
    for &ipc in ipcs {
        for &mode in modes {
            for &g in groups {
                v.push(Cell {
                    ipc,
                    mode,
                    groups: g,
                    loops: loops_for(g),
                });
            }
        }
    }
    v
}

/// Which workload produced a sample.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Tool {
    /// This crate's `hackbench`.
    Hackbench,
    /// `perf bench sched messaging` (cross-check).
    Perf,
    /// One of the other workloads ([`workload::Workload`]); `time_s` holds
    /// the metric named by the cell, in its unit.
    Workload,
}

/// One measured run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Sample {
    pub rep: usize,
    pub scheduler: String,
    pub cell: String,
    pub tool: Tool,
    /// Benchmark time as reported by the tool, seconds.
    pub time_s: f64,
    /// Sum of the workers' `se.nr_migrations` (hackbench only).
    pub migrations: Option<u64>,
    /// Workers' voluntary + involuntary context switches from
    /// /proc/thread-self/sched (hackbench only).
    pub worker_ctx_switches: Option<u64>,
    /// Context switches of the whole process tree from wait4()'s rusage
    /// (ru_nvcsw + ru_nivcsw).
    pub rusage_ctx_switches: Option<u64>,
}

/// Status of a scheduler over the whole run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SchedulerInfo {
    pub name: String,
    /// Binary used, `None` for the kernel default.
    pub binary: Option<String>,
    pub args: Vec<String>,
    /// Expected ops name prefix, `None` for the kernel default.
    pub ops_name: Option<String>,
    /// `false` when the binary was not found: the scheduler was skipped.
    pub present: bool,
    /// Why it is missing/skipped, when it is.
    pub missing_reason: Option<String>,
    /// Seconds from spawn to attached, per successful start.
    pub load_times_s: Vec<f64>,
    /// Start/stop/ejection errors (each costs the data of that repetition).
    pub errors: Vec<String>,
    /// scx_proxy only: its own counters over each repetition it ran (read
    /// from its `--stats-json` when it stopped), so that a table shows
    /// whether proxy execution acted at all during the run.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub proxy_counts: Vec<ProxyCounts>,
}

/// scx_proxy's counters over one repetition (every cell and workload run
/// while it was attached).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProxyCounts {
    /// Repetition, from 1.
    pub rep: usize,
    /// Donations made (a waiter's context given to a chain's end).
    pub donations: u64,
    /// Owners moved to their donor's CPU.
    pub proxy_migrations: u64,
    /// blocked_on edges made: kernel mutexes and rwsems, futex locks.
    pub lock_edges: u64,
}

/// Reads [`ProxyCounts`] from the JSON that `scx_proxy --stats-json` writes
/// at exit (`{"metrics": {"donations": .., "proxy_migrations": ..,
/// "edge_mutex": .., ...}}`).
pub fn proxy_counts(json: &str, rep: usize) -> anyhow::Result<ProxyCounts> {
    let v: serde_json::Value = serde_json::from_str(json)?;
    let m = v
        .get("metrics")
        .ok_or_else(|| anyhow::anyhow!("no \"metrics\" object"))?;
    let get = |k: &str| {
        m.get(k)
            .and_then(serde_json::Value::as_u64)
            .ok_or_else(|| anyhow::anyhow!("no counter \"{k}\" in \"metrics\""))
    };
    let mut lock_edges = 0;
    for k in ["edge_mutex", "edge_rwsem", "edge_futex", "edge_pi_futex"] {
        lock_edges += get(k)?;
    }
    Ok(ProxyCounts {
        rep,
        donations: get("donations")?,
        proxy_migrations: get("proxy_migrations")?,
        lock_edges,
    })
}

/// Median, min, max and quartiles of a sample.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Spread {
    pub n: usize,
    pub median: f64,
    pub min: f64,
    pub max: f64,
    pub q1: f64,
    pub q3: f64,
}

/// Quantile `q` in [0, 1] of sorted data by linear interpolation (numpy's
/// default, "type 7"). `None` for empty input.
pub fn quantile_sorted(sorted: &[f64], q: f64) -> Option<f64> {
    if sorted.is_empty() {
        return None;
    }
    let q = q.clamp(0.0, 1.0);
    let pos = q * (sorted.len() - 1) as f64;
    let lo = pos.floor() as usize;
    let hi = pos.ceil() as usize;
    let frac = pos - lo as f64;
    Some(sorted[lo] + (sorted[hi] - sorted[lo]) * frac)
}

/// Median (mean of the two middle values for even counts).
pub fn median(data: &[f64]) -> Option<f64> {
    let mut v: Vec<f64> = data.iter().copied().filter(|x| x.is_finite()).collect();
    v.sort_by(|a, b| a.total_cmp(b));
    quantile_sorted(&v, 0.5)
}

impl Spread {
    /// Statistics of `data` (non-finite values ignored); `None` if empty.
    pub fn of(data: &[f64]) -> Option<Spread> {
        let mut v: Vec<f64> = data.iter().copied().filter(|x| x.is_finite()).collect();
        if v.is_empty() {
            return None;
        }
        v.sort_by(|a, b| a.total_cmp(b));
        Some(Spread {
            n: v.len(),
            median: quantile_sorted(&v, 0.5)?,
            min: v[0],
            max: v[v.len() - 1],
            q1: quantile_sorted(&v, 0.25)?,
            q3: quantile_sorted(&v, 0.75)?,
        })
    }

    /// (max - min) / median, the relative run-to-run range.
    pub fn rel_range(&self) -> f64 {
        if self.median > 0.0 {
            (self.max - self.min) / self.median
        } else {
            0.0
        }
    }
}

/// `num / den` when both are positive and finite.
pub fn ratio(num: f64, den: f64) -> Option<f64> {
    (num.is_finite() && den.is_finite() && den > 0.0 && num >= 0.0).then(|| num / den)
}

/// Summary of one (cell, scheduler, tool).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Summary {
    pub cell: String,
    pub scheduler: String,
    pub tool: Tool,
    pub time: Spread,
    /// Median time / the kernel default's median time in the same cell.
    pub ratio_to_default: Option<f64>,
    pub median_migrations: Option<f64>,
    pub median_worker_ctx_switches: Option<f64>,
    pub median_rusage_ctx_switches: Option<f64>,
}

fn med_opt(v: impl Iterator<Item = Option<u64>>) -> Option<f64> {
    let vals: Vec<f64> = v.flatten().map(|x| x as f64).collect();
    median(&vals)
}

/// Summaries of every (cell, scheduler, tool) that has samples, in the
/// order of `cells` then `schedulers`; every metric lower-is-better.
pub fn summarize(
    samples: &[Sample],
    cells: &[String],
    schedulers: &[String],
    tools: &[Tool],
) -> Vec<Summary> {
    summarize_with(samples, cells, schedulers, tools, &|_| false)
}

/// [`summarize`], where `higher_is_better(cell)` says which cells'
/// ratios are inverted (default's median / median: > 1 is still worse).
pub fn summarize_with(
    samples: &[Sample],
    cells: &[String],
    schedulers: &[String],
    tools: &[Tool],
    higher_is_better: &dyn Fn(&str) -> bool,
) -> Vec<Summary> {
    let mut out = Vec::new();
    for tool in tools {
        for cell in cells {
            let pick = |s: &str| -> Vec<&Sample> {
                samples
                    .iter()
                    .filter(|x| x.tool == *tool && &x.cell == cell && x.scheduler == s)
                    .collect()
            };
            let def_median =
                Spread::of(&pick(DEFAULT).iter().map(|s| s.time_s).collect::<Vec<_>>())
                    .map(|s| s.median);
            for sched in schedulers {
                let ss = pick(sched);
                let times: Vec<f64> = ss.iter().map(|s| s.time_s).collect();
                let Some(time) = Spread::of(&times) else {
                    continue;
                };
                out.push(Summary {
                    cell: cell.clone(),
                    scheduler: sched.clone(),
                    tool: *tool,
                    time,
                    ratio_to_default: def_median.and_then(|d| {
                        workload::worse_ratio(time.median, d, higher_is_better(cell))
                    }),
                    median_migrations: med_opt(ss.iter().map(|s| s.migrations)),
                    median_worker_ctx_switches: med_opt(ss.iter().map(|s| s.worker_ctx_switches)),
                    median_rusage_ctx_switches: med_opt(ss.iter().map(|s| s.rusage_ctx_switches)),
                });
            }
        }
    }
    out
}

/// Which schedulers the threshold compares against.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum Baseline {
    /// The best (lowest median) of the kernel default and the peers present.
    Best,
    /// The kernel default only.
    Default,
    /// The better of the kernel default and scx_bpfland (issue 11's target).
    #[value(name = "default-bpfland")]
    #[serde(rename = "default-bpfland")]
    DefaultBpfland,
}

impl Baseline {
    /// Whether `sched`'s median can be the baseline.
    pub fn eligible(self, sched: &str) -> bool {
        sched == DEFAULT
            || match self {
                Baseline::Best => is_peer(sched),
                Baseline::Default => false,
                Baseline::DefaultBpfland => sched == "scx_bpfland",
            }
    }

    /// How the report names it.
    pub fn describe(self) -> &'static str {
        match self {
            Baseline::Best => "best of default and peers",
            Baseline::Default => "default",
            Baseline::DefaultBpfland => "better of default and scx_bpfland",
        }
    }

    /// How the markdown table's target column names it ("within 1.10x of the ...").
    pub fn header(self) -> &'static str {
        match self {
            Baseline::Best => "best",
            b => b.describe(),
        }
    }
}

/// Threshold verdict of one cell.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CellVerdict {
    pub cell: String,
    pub candidate_median: Option<f64>,
    /// Scheduler whose median is the baseline.
    pub baseline: Option<String>,
    pub baseline_median: Option<f64>,
    pub ratio: Option<f64>,
    pub pass: bool,
    pub reason: String,
    /// The same ratio within each repetition (see [`add_round_ratios`]);
    /// absent in reports written before it existed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rounds: Option<RoundRatios>,
}

/// A cell's candidate/baseline ratio taken within each repetition: the
/// candidate's run against the baseline's run of the same interleaved
/// round, oriented as the cell's ratio (> 1 is worse). How far these
/// spread shows whether a median ratio near the limit is the scheduler
/// or the noise between rounds.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RoundRatios {
    /// Rounds where both schedulers have a sample.
    pub n: usize,
    pub min: f64,
    pub median: f64,
    pub max: f64,
    /// Rounds whose ratio is above the limit (0 without a limit).
    pub over: usize,
}

/// Result of threshold mode.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ThresholdResult {
    pub candidate: String,
    /// Per-cell limit (`--threshold`), if any.
    pub threshold: Option<f64>,
    /// Limit on the geometric mean of the per-cell ratios
    /// (`--threshold-geomean`), if any.
    pub geomean_limit: Option<f64>,
    /// Geometric mean of the per-cell ratios; `None` if a cell has no ratio.
    pub geomean_ratio: Option<f64>,
    pub baseline: Baseline,
    pub cells: Vec<CellVerdict>,
    pub pass: bool,
}

impl ThresholdResult {
    pub fn failed_cells(&self) -> Vec<&CellVerdict> {
        self.cells.iter().filter(|c| !c.pass).collect()
    }
}

/// Checks `candidate`'s hackbench median in every cell against the baseline
/// (see [`Baseline`]): a cell fails when `candidate / baseline > threshold`,
/// or when either has no data (a missing measurement is not a pass). With
/// `geomean_limit`, the geometric mean of the per-cell ratios must also be
/// `<= geomean_limit` (a less noisy check: it averages over the cells).
pub fn check_threshold(
    summaries: &[Summary],
    cells: &[String],
    candidate: &str,
    threshold: Option<f64>,
    geomean_limit: Option<f64>,
    baseline: Baseline,
) -> ThresholdResult {
    check_threshold_with(
        summaries,
        cells,
        candidate,
        threshold,
        geomean_limit,
        baseline,
        &|_| false,
    )
}

/// [`check_threshold`] over hackbench and workload cells, where
/// `higher_is_better(cell)` marks the cells whose best baseline is the
/// highest median and whose ratio is baseline / candidate.
pub fn check_threshold_with(
    summaries: &[Summary],
    cells: &[String],
    candidate: &str,
    threshold: Option<f64>,
    geomean_limit: Option<f64>,
    baseline: Baseline,
    higher_is_better: &dyn Fn(&str) -> bool,
) -> ThresholdResult {
    let limit = threshold.unwrap_or(f64::INFINITY);
    let mut verdicts = Vec::new();
    for cell in cells {
        let hib = higher_is_better(cell);
        let of = |s: &str| {
            summaries
                .iter()
                .find(|x| x.tool != Tool::Perf && &x.cell == cell && x.scheduler == s)
                .map(|x| x.time.median)
        };
        let cand = of(candidate);
        let mut base: Option<(String, f64)> = None;
        for s in summaries
            .iter()
            .filter(|x| x.tool != Tool::Perf && &x.cell == cell)
        {
            let eligible = baseline.eligible(&s.scheduler);
            let better = |b: &(String, f64)| {
                if hib {
                    s.time.median > b.1
                } else {
                    s.time.median < b.1
                }
            };
            if eligible && base.as_ref().is_none_or(better) {
                base = Some((s.scheduler.clone(), s.time.median));
            }
        }
        let (pass, ratio_v, reason) = match (cand, &base) {
            (None, _) => (false, None, format!("no {candidate} data")),
            (_, None) => (false, None, "no baseline data".to_string()),
            (Some(c), Some((bn, bm))) => match workload::worse_ratio(c, *bm, hib) {
                None => (false, None, "invalid times".to_string()),
                Some(r) if r > limit => (false, Some(r), format!("{r:.3} x {bn} > {limit:.3}")),
                Some(r) => (true, Some(r), format!("{r:.3} x {bn} <= {limit:.3}")),
            },
        };
        verdicts.push(CellVerdict {
            cell: cell.clone(),
            candidate_median: cand,
            baseline: base.as_ref().map(|b| b.0.clone()),
            baseline_median: base.as_ref().map(|b| b.1),
            ratio: ratio_v,
            pass,
            reason,
            rounds: None,
        });
    }
    let geomean_ratio = geomean(&verdicts.iter().map(|v| v.ratio).collect::<Vec<_>>());
    let geo_ok = match geomean_limit {
        None => true,
        Some(l) => geomean_ratio.is_some_and(|g| g <= l),
    };
    let cells_ok = !verdicts.is_empty()
        && verdicts
            .iter()
            .all(|v| v.pass || (threshold.is_none() && v.ratio.is_some()));
    ThresholdResult {
        candidate: candidate.to_string(),
        threshold,
        geomean_limit,
        geomean_ratio,
        baseline,
        cells: verdicts,
        pass: cells_ok && geo_ok,
    }
}

/// `candidate`'s ratio to `baseline` on `cell` within each repetition
/// where both have a harness sample (perf samples are not paired), as
/// [`workload::worse_ratio`] orients it (> 1: the candidate did worse),
/// sorted.
pub fn paired_ratios(
    samples: &[Sample],
    cell: &str,
    candidate: &str,
    baseline: &str,
    higher_is_better: bool,
) -> Vec<f64> {
    let of =
        |x: &Sample, sched: &str| x.tool != Tool::Perf && x.cell == cell && x.scheduler == sched;
    let mut r: Vec<f64> = samples
        .iter()
        .filter(|c| of(c, candidate))
        .filter_map(|c| {
            let b = samples.iter().find(|b| of(b, baseline) && b.rep == c.rep)?;
            workload::worse_ratio(c.time_s, b.time_s, higher_is_better)
        })
        .collect();
    r.sort_by(f64::total_cmp);
    r
}

/// Fills every verdict's [`RoundRatios`] from the raw samples (the
/// harness tool's, not perf's; one per scheduler, cell and repetition) and
/// appends them to its reason: "rounds 0.951-1.312, 2 of 5 over". The
/// verdict itself stays the medians'.
pub fn add_round_ratios(
    th: &mut ThresholdResult,
    samples: &[Sample],
    higher_is_better: &dyn Fn(&str) -> bool,
) {
    let limit = th.threshold;
    for v in &mut th.cells {
        let Some(base) = v.baseline.clone() else {
            continue;
        };
        let r = paired_ratios(
            samples,
            &v.cell,
            &th.candidate,
            &base,
            higher_is_better(&v.cell),
        );
        if r.is_empty() {
            continue;
        }
        let over = limit.map_or(0, |l| r.iter().filter(|&&x| x > l).count());
        let rr = RoundRatios {
            n: r.len(),
            min: r[0],
            median: median(&r).unwrap_or(r[0]),
            max: r[r.len() - 1],
            over,
        };
        v.reason = format!(
            "{}; rounds {:.3}-{:.3}, {} of {} over",
            v.reason, rr.min, rr.max, rr.over, rr.n
        );
        v.rounds = Some(rr);
    }
}

/// Geometric mean; `None` if empty or any value is missing or not positive.
pub fn geomean(v: &[Option<f64>]) -> Option<f64> {
    if v.is_empty() {
        return None;
    }
    let mut sum = 0.0;
    for x in v {
        let x = (*x)?;
        if !(x > 0.0 && x.is_finite()) {
            return None;
        }
        sum += x.ln();
    }
    Some((sum / v.len() as f64).exp())
}

/// Direction of a ratio to the default, with a dead band.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Direction {
    Faster,
    Same,
    Slower,
}

/// `Faster` below `1 - band`, `Slower` above `1 + band`, else `Same`.
pub fn direction(ratio: f64, band: f64) -> Direction {
    if ratio < 1.0 - band {
        Direction::Faster
    } else if ratio > 1.0 + band {
        Direction::Slower
    } else {
        Direction::Same
    }
}

/// Agreement of hackbench's and perf's ratio in one (cell, scheduler).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CrossCheckRow {
    pub cell: String,
    pub scheduler: String,
    pub hackbench_ratio: f64,
    pub perf_ratio: f64,
    pub hackbench_dir: Direction,
    pub perf_dir: Direction,
    /// Same direction (both inside the band counts as the same).
    pub agree: bool,
    /// Opposite directions outside the band: a real disagreement.
    pub contradict: bool,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CrossCheck {
    pub band: f64,
    pub rows: Vec<CrossCheckRow>,
    pub agreeing: usize,
    pub contradicting: usize,
}

/// Compares the direction of every non-default scheduler's ratio between the
/// two tools. A row where one tool is inside the band and the other outside
/// neither agrees nor contradicts.
pub fn cross_check(summaries: &[Summary], band: f64) -> CrossCheck {
    let mut rows = Vec::new();
    for h in summaries
        .iter()
        .filter(|s| s.tool == Tool::Hackbench && s.scheduler != DEFAULT)
    {
        let Some(hr) = h.ratio_to_default else {
            continue;
        };
        let Some(pr) = summaries
            .iter()
            .find(|p| p.tool == Tool::Perf && p.cell == h.cell && p.scheduler == h.scheduler)
            .and_then(|p| p.ratio_to_default)
        else {
            continue;
        };
        let (hd, pd) = (direction(hr, band), direction(pr, band));
        rows.push(CrossCheckRow {
            cell: h.cell.clone(),
            scheduler: h.scheduler.clone(),
            hackbench_ratio: hr,
            perf_ratio: pr,
            hackbench_dir: hd,
            perf_dir: pd,
            agree: hd == pd,
            contradict: matches!(
                (hd, pd),
                (Direction::Faster, Direction::Slower) | (Direction::Slower, Direction::Faster)
            ),
        });
    }
    CrossCheck {
        band,
        agreeing: rows.iter().filter(|r| r.agree).count(),
        contradicting: rows.iter().filter(|r| r.contradict).count(),
        rows,
    }
}

/// Everything a harness run produced (the JSON document).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Report {
    /// Format version of this document.
    pub format: u32,
    /// Kernel release (`uname -r`) where it ran.
    pub kernel: String,
    pub runs: usize,
    pub cells: Vec<Cell>,
    /// The other workloads' metrics (cells `<workload>/<metric>`), in
    /// report order.
    #[serde(default)]
    pub metrics: Vec<workload::MetricInfo>,
    pub schedulers: Vec<SchedulerInfo>,
    /// How migrations/context switches were measured.
    pub counters: String,
    pub samples: Vec<Sample>,
    pub summaries: Vec<Summary>,
    pub threshold: Option<ThresholdResult>,
    /// `--workload-threshold` over the workloads' primary metrics.
    #[serde(default)]
    pub workload_threshold: Option<ThresholdResult>,
    pub crosscheck: Option<CrossCheck>,
    /// Total wall time of the harness, seconds.
    pub wall_s: f64,
}

pub const REPORT_FORMAT: u32 = 2;
