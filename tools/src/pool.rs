//! `sched-pool`: one verdict per cell from several sched-harness runs.
//!
//! Under this project's emulator one boot's medians decide a cell near a
//! ratio bar by the boot's luck: a build compared with itself differed by
//! up to 9 % in a median, and a cell's verdict flipped between boots with
//! no change to the scheduler (README, "One build against itself"). This
//! module pools the per-round ratios ([`paired_ratios`]: candidate against
//! baseline within one interleaved round) of every run given, and decides
//! each cell by a distribution-free confidence interval for their median:
//! *met* when the whole interval is at or below the bar, *missed* when it
//! is all above, *undecided* otherwise (too few rounds, or a median within
//! the noise of the bar).
//!
//! The baseline of a cell in a run is the one that run's verdict chose
//! (its `--threshold-baseline`: the kernel default, or the better of the
//! default and scx_bpfland by their medians in that boot), so a pooled
//! ratio is against the same baseline each run was judged against.

use crate::harness::{median, paired_ratios, workload, CellVerdict, Report};
use serde::{Deserialize, Serialize};

/// How one cell came out over all the runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum PoolVerdict {
    /// The confidence interval of the pooled median is at or below the bar.
    Met,
    /// It is all above the bar.
    Missed,
    /// It straddles the bar, or there are too few rounds for one.
    Undecided,
}

impl PoolVerdict {
    pub fn as_str(self) -> &'static str {
        match self {
            PoolVerdict::Met => "met",
            PoolVerdict::Missed => "missed",
            PoolVerdict::Undecided => "undecided",
        }
    }
}

/// One run's part in a pooled cell.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RunPart {
    /// The run's name (the path it was read from).
    pub run: String,
    /// Its baseline for this cell.
    pub baseline: String,
    /// Its rounds and their median ratio.
    pub rounds: usize,
    pub median: f64,
}

/// A cell's per-round ratios over every run that has it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PooledCell {
    pub cell: String,
    pub runs: Vec<RunPart>,
    /// All rounds of all runs.
    pub rounds: usize,
    pub median: f64,
    /// Confidence interval of the median (absent with too few rounds).
    pub ci: Option<(f64, f64)>,
    /// Rounds whose ratio is above the bar.
    pub over: usize,
    pub verdict: PoolVerdict,
}

/// The pooled verdicts, with what they were computed with.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Pool {
    pub candidate: String,
    pub threshold: f64,
    pub confidence: f64,
    pub cells: Vec<PooledCell>,
}

/// ln C(n, k)
fn ln_choose(n: usize, k: usize) -> f64 {
    (1..=k).map(|i| ((n - k + i) as f64 / i as f64).ln()).sum()
}

/// P(X < k) for X ~ Binomial(n, 1/2).
fn binom_half_below(n: usize, k: usize) -> f64 {
    let ln_half_n = n as f64 * 0.5f64.ln();
    (0..k.min(n + 1))
        .map(|i| (ln_choose(n, i) + ln_half_n).exp())
        .sum()
}

/// Distribution-free confidence interval for the median of `sorted`
/// (ascending) at level `confidence`: the order statistics x(k) and
/// x(n+1-k) for the largest k with P(Binomial(n, 1/2) < k) <= (1 -
/// confidence) / 2, which cover the median with probability at least
/// `confidence` whatever the distribution. `None` when even the smallest
/// and largest values are not enough (n < 6 at 95 %).
pub fn median_ci(sorted: &[f64], confidence: f64) -> Option<(f64, f64)> {
    let n = sorted.len();
    let tail = (1.0 - confidence) / 2.0;
    let mut k = 0;
    while k < n / 2 && binom_half_below(n, k + 1) <= tail {
        k += 1;
    }
    (k >= 1).then(|| (sorted[k - 1], sorted[n - k]))
}

/// The verdicts a run made: its workload cells, then its hackbench cells.
fn verdicts(r: &Report) -> impl Iterator<Item = &CellVerdict> {
    r.workload_threshold
        .iter()
        .chain(r.threshold.iter())
        .flat_map(|t| t.cells.iter())
}

/// Pools `runs` (name, report) for `candidate`: every cell some run judged,
/// in the order the runs first judged them.
pub fn pool(runs: &[(String, Report)], candidate: &str, threshold: f64, confidence: f64) -> Pool {
    let mut order: Vec<String> = Vec::new();
    for (_, r) in runs {
        for v in verdicts(r) {
            if !order.contains(&v.cell) {
                order.push(v.cell.clone());
            }
        }
    }
    let cells = order
        .into_iter()
        .filter_map(|cell| {
            let mut all = Vec::new();
            let mut parts = Vec::new();
            for (name, r) in runs {
                let Some(base) = verdicts(r)
                    .find(|v| v.cell == cell)
                    .and_then(|v| v.baseline.clone())
                else {
                    continue;
                };
                let rr = paired_ratios(
                    &r.samples,
                    &cell,
                    candidate,
                    &base,
                    workload::higher_is_better(&r.metrics, &cell),
                );
                let Some(m) = median(&rr) else {
                    continue;
                };
                parts.push(RunPart {
                    run: name.clone(),
                    baseline: base,
                    rounds: rr.len(),
                    median: m,
                });
                all.extend(rr);
            }
            all.sort_by(f64::total_cmp);
            let median = median(&all)?;
            let ci = median_ci(&all, confidence);
            let verdict = match ci {
                Some((_, hi)) if hi <= threshold => PoolVerdict::Met,
                Some((lo, _)) if lo > threshold => PoolVerdict::Missed,
                _ => PoolVerdict::Undecided,
            };
            Some(PooledCell {
                cell,
                runs: parts,
                rounds: all.len(),
                median,
                over: all.iter().filter(|&&x| x > threshold).count(),
                ci,
                verdict,
            })
        })
        .collect();
    Pool {
        candidate: candidate.to_string(),
        threshold,
        confidence,
        cells,
    }
}

/// The text table: one line per cell.
pub fn table(p: &Pool) -> String {
    let mut out = format!(
        "{} against each run's baseline, bar {:.2}, {:.0} % interval of the median of all rounds (> 1: worse)\n",
        p.candidate,
        p.threshold,
        p.confidence * 100.0
    );
    out.push_str(&format!(
        "{:<24} {:>4} {:>6} {:>7} {:>15} {:>6}  {:<9}  runs (rounds, median)\n",
        "cell", "runs", "rounds", "median", "interval", "over", "verdict"
    ));
    for c in &p.cells {
        let ci =
            c.ci.map_or("-".to_string(), |(lo, hi)| format!("{lo:.3}-{hi:.3}"));
        let runs: Vec<String> = c
            .runs
            .iter()
            .map(|r| format!("{}, {:.3}", r.rounds, r.median))
            .collect();
        out.push_str(&format!(
            "{:<24} {:>4} {:>6} {:>7.3} {:>15} {:>6}  {:<9}  {}\n",
            c.cell,
            c.runs.len(),
            c.rounds,
            c.median,
            ci,
            c.over,
            c.verdict.as_str(),
            runs.join("; ")
        ));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn binomial_tail_matches_exact_values() {
        // P(X < 1) and P(X < 2) for n = 6: 1/64 and 7/64
        assert!((binom_half_below(6, 1) - 1.0 / 64.0).abs() < 1e-12);
        assert!((binom_half_below(6, 2) - 7.0 / 64.0).abs() < 1e-12);
        assert!((binom_half_below(10, 11) - 1.0).abs() < 1e-9);
    }

    #[test]
    fn median_interval_uses_the_right_order_statistics() {
        let v: Vec<f64> = (1..=5).map(f64::from).collect();
        assert_eq!(median_ci(&v, 0.95), None, "5 rounds cannot give 95 %");
        let v: Vec<f64> = (1..=6).map(f64::from).collect();
        // P(X < 1) = 1/64 <= 0.025 < P(X < 2): k = 1, the extremes
        assert_eq!(median_ci(&v, 0.95), Some((1.0, 6.0)));
        let v: Vec<f64> = (1..=20).map(f64::from).collect();
        // n = 20: P(X < 6) = 0.0207 <= 0.025 < P(X < 7) = 0.0577
        assert_eq!(median_ci(&v, 0.95), Some((6.0, 15.0)));
        // a lower level narrows it
        assert_eq!(median_ci(&v, 0.80), Some((7.0, 14.0)));
    }
}
