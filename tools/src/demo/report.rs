//! Result files of `run` and the `compare` table.

use std::fs;
use std::path::Path;

use anyhow::{bail, Context, Result};
use serde::{Deserialize, Serialize};

use super::cli::{CsClock, Scenario};
use crate::latency::{fmt_us, LatencySummary};

/// Value of [`RunResult::schema`].
pub const SCHEMA: &str = "scx_proxy/inversion-demo/v1";

/// Scenario parameters as run.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Params {
    /// Chain depth (number of lock owners); 0 for rename scenarios.
    pub depth: u32,
    pub pi_mutex: bool,
    pub cs_us: u64,
    pub cs_clock: CsClock,
    pub think_us: u64,
    pub owner_gap_us: u64,
    /// Owners' CPU spin after each release (0 in files from before it existed).
    #[serde(default)]
    pub owner_spin_us: u64,
    pub hogs: usize,
    pub fg_weight: u32,
    pub bg_weight: u32,
    pub hog_weight: u32,
    pub fg_nice: i32,
    pub bg_nice: i32,
    /// Number of background lock holders (renamers or owners).
    pub background_tasks: usize,
    pub workdir: String,
}

/// Everything `run` writes to `--out`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct RunResult {
    pub schema: String,
    pub label: String,
    pub scenario: Scenario,
    /// Requested measurement duration (s); the measured one is latency.elapsed_s.
    pub duration_s: f64,
    pub params: Params,
    /// `uname -r`.
    pub kernel: String,
    pub ncpus: usize,
    /// sched_ext scheduler attached at start ("default" when none).
    pub scheduler: String,
    /// Scheduler configuration the run is labelled with in reports:
    /// "default", "scx_proxy --no-proxy", "scx_proxy", ... (files from
    /// before it existed: derived from `scheduler`, see [`RunResult::config_name`]).
    #[serde(default)]
    pub config: String,
    /// Content of /sys/kernel/sched_ext/state at start, if present.
    pub sched_ext_state: Option<String>,
    /// Scheduler attached at the end (differs from `scheduler` if it changed).
    pub scheduler_at_end: String,
    /// Start time, seconds since the Unix epoch.
    pub started_unix_s: u64,
    /// Foreground latency: per rename() or per mutex acquisition.
    pub latency: LatencySummary,
}

impl RunResult {
    pub fn write(&self, path: &Path) -> Result<()> {
        let data = serde_json::to_vec_pretty(self)?;
        fs::write(path, data).with_context(|| format!("writing {}", path.display()))
    }

    pub fn read(path: &Path) -> Result<Self> {
        let data = fs::read(path).with_context(|| format!("cannot read {}", path.display()))?;
        let r: RunResult = serde_json::from_slice(&data)
            .with_context(|| format!("{} is not an inversion-demo result", path.display()))?;
        if r.schema != SCHEMA {
            bail!(
                "{}: unsupported schema {:?} (expected {SCHEMA:?})",
                path.display(),
                r.schema
            );
        }
        Ok(r)
    }

    /// Scenario name including the chain depth ("chain3").
    pub fn scenario_name(&self) -> String {
        match self.scenario {
            Scenario::Chain => format!(
                "chain{}{}",
                self.params.depth,
                if self.params.pi_mutex { "-pi" } else { "" }
            ),
            s => s.name().to_string(),
        }
    }

    /// The configuration shown in reports: `config`, or for older files
    /// the scheduler's short name.
    pub fn config_name(&self) -> String {
        if self.config.is_empty() {
            short_ops_name(&self.scheduler).to_string()
        } else {
            self.config.clone()
        }
    }

    /// Label of this run in plots: "<label> (<config>)".
    pub fn plot_label(&self) -> String {
        format!("{} ({})", self.label, self.config_name())
    }

    /// Readable multi-line summary.
    pub fn summary_text(&self) -> String {
        let l = &self.latency;
        format!(
            "inversion-demo: {label}\n  scenario {sc}, config {cfg} (scheduler {sched}), kernel {k}, {n} CPUs\n  \
             foreground {what}: {count} samples in {el:.1}s ({ops:.1} ops/s)\n  \
             latency: p50 {p50}  p90 {p90}  p99 {p99}  p99.9 {p999}  max {max}\n",
            label = self.label,
            sc = self.scenario_name(),
            cfg = self.config_name(),
            sched = self.scheduler,
            k = self.kernel,
            n = self.ncpus,
            what = if self.scenario.is_rename() {
                "rename()"
            } else {
                "mutex acquisition"
            },
            count = l.count,
            el = l.elapsed_s,
            ops = l.ops_per_sec,
            p50 = fmt_us(l.p50_us),
            p90 = fmt_us(l.p90_us),
            p99 = fmt_us(l.p99_us),
            p999 = fmt_us(l.p999_us),
            max = fmt_us(l.max_us),
        )
    }
}

/// A sched_ext ops name without the version and build triple scx_utils
/// appends ("scx_proxy_0.1.0_x86_64_unknown_linux_gnu" -> "scx_proxy"):
/// everything before the first "_<digit>".
pub fn short_ops_name(ops: &str) -> &str {
    let b = ops.as_bytes();
    (0..b.len().saturating_sub(1))
        .find(|&i| b[i] == b'_' && b[i + 1].is_ascii_digit())
        .map_or(ops, |i| &ops[..i])
}

/// Header of the compare table.
pub const COMPARE_HEADER: [&str; 12] = [
    "label",
    "scenario",
    "config",
    "count",
    "ops/s",
    "p50",
    "p90",
    "p99",
    "p99.9",
    "max",
    "p99.9 ratio",
    "max ratio",
];

fn ratio(v: f64, base: f64) -> String {
    if base > 0.0 {
        format!("{:.2}x", v / base)
    } else {
        "-".to_string()
    }
}

/// Rows of the compare table. A row's ratios are relative to the first run
/// of the same scenario with the same parameters (its own baseline, e.g.
/// `futex` under the first configuration), so that runs of different
/// workloads are never divided by each other.
pub fn compare_rows(runs: &[RunResult]) -> Vec<Vec<String>> {
    runs.iter()
        .map(|r| {
            let first = runs
                .iter()
                .find(|b| b.scenario == r.scenario && b.params == r.params)
                .unwrap_or(r);
            let l = &r.latency;
            vec![
                r.label.clone(),
                r.scenario_name(),
                r.config_name(),
                l.count.to_string(),
                format!("{:.1}", l.ops_per_sec),
                fmt_us(l.p50_us),
                fmt_us(l.p90_us),
                fmt_us(l.p99_us),
                fmt_us(l.p999_us),
                fmt_us(l.max_us),
                ratio(l.p999_us, first.latency.p999_us),
                ratio(l.max_us, first.latency.max_us),
            ]
        })
        .collect()
}

/// The compare table as aligned text or Markdown.
pub fn compare_table(runs: &[RunResult], markdown: bool) -> String {
    let rows = compare_rows(runs);
    let header: Vec<String> = COMPARE_HEADER.iter().map(|s| s.to_string()).collect();
    let mut out = String::new();
    if markdown {
        out.push_str(&format!("| {} |\n", header.join(" | ")));
        let align: Vec<&str> = (0..header.len())
            .map(|i| if i < 3 { "---" } else { "---:" })
            .collect();
        out.push_str(&format!("| {} |\n", align.join(" | ")));
        for r in &rows {
            out.push_str(&format!("| {} |\n", r.join(" | ")));
        }
        return out;
    }
    let mut widths: Vec<usize> = header.iter().map(|h| h.len()).collect();
    for r in &rows {
        for (w, c) in widths.iter_mut().zip(r) {
            *w = (*w).max(c.len());
        }
    }
    let fmt_row = |cells: &[String]| {
        cells
            .iter()
            .enumerate()
            .map(|(i, c)| {
                if i < 3 {
                    format!("{c:<w$}", w = widths[i])
                } else {
                    format!("{c:>w$}", w = widths[i])
                }
            })
            .collect::<Vec<_>>()
            .join("  ")
            .trim_end()
            .to_string()
    };
    out.push_str(&fmt_row(&header));
    out.push('\n');
    for r in &rows {
        out.push_str(&fmt_row(r));
        out.push('\n');
    }
    out
}
