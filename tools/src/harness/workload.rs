//! The harness's workloads besides the hackbench matrix (issue 11): wakeup
//! latency, io_uring task_work, event loops, a polling loop and an aio
//! submitter. Each is one of this crate's binaries run with `--json`; each
//! run yields a few metrics, and every metric is a cell of the report,
//! named `<workload>/<metric>` (e.g. `schbench/wakeup-p99`).
//!
//! A metric is either lower-is-better (latencies, us per operation,
//! migrations) or higher-is-better (requests/s, events/s, IOPS). Ratios
//! in the report are always oriented so that > 1 means worse than the
//! default: median / default's median for the first, default's median /
//! median for the second. Primary metrics are what `--threshold` checks;
//! the others are reported only.

use anyhow::{anyhow, Context, Result};
use serde::{Deserialize, Serialize};

/// A workload of the harness.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "kebab-case")]
pub enum Workload {
    /// schbench: message threads waking workers (wakeup p99, requests/s)
    Schbench,
    /// perf bench sched pipe: two threads ping-ponging on pipes (us per round trip)
    Pipe,
    /// io_uring ping-pong between two rings pinned to CPUs 0 and 1, pipe reads completed as task_work (round trip p50/p99)
    Uring,
    /// ... with IORING_SETUP_COOP_TASKRUN
    UringCoop,
    /// ... with a CPU hog beside the responder
    UringHog,
    /// event loop serving clients over pipes, epoll (events/s, reply p99)
    EvloopEpoll,
    /// ... io_uring
    EvloopUring,
    /// polling loop: 32 us of polling, then an eventfd (wake p99, poller CPU)
    Pollloop,
    /// fio libaio direct writes on ext4 over null_blk, iodepth 1 (IOPS, migrations/1000 IOs)
    AioQd1,
    /// ... iodepth 16
    AioQd16,
}

/// Every workload, in report order.
pub const ALL_WORKLOADS: &[Workload] = &[
    Workload::Schbench,
    Workload::Pipe,
    Workload::Uring,
    Workload::UringCoop,
    Workload::UringHog,
    Workload::EvloopEpoll,
    Workload::EvloopUring,
    Workload::Pollloop,
    Workload::AioQd1,
    Workload::AioQd16,
];

/// One metric a workload reports.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MetricInfo {
    /// Cell id: `<workload>/<metric>`.
    pub cell: String,
    pub unit: String,
    pub higher_is_better: bool,
    /// Checked by `--threshold` (the others are reported only).
    pub primary: bool,
}

/// Whether `cell` counts up among `metrics` (events/s, IOPS); every other
/// cell, hackbench's times and the latencies, counts down.
pub fn higher_is_better(metrics: &[MetricInfo], cell: &str) -> bool {
    metrics.iter().any(|m| m.cell == cell && m.higher_is_better)
}

/// (metric name, JSON pointer in the tool's output, unit, higher is better, primary)
type MetricSpec = (&'static str, &'static str, &'static str, bool, bool);

impl Workload {
    pub fn name(self) -> &'static str {
        match self {
            Workload::Schbench => "schbench",
            Workload::Pipe => "pipe",
            Workload::Uring => "uring",
            Workload::UringCoop => "uring-coop",
            Workload::UringHog => "uring-hog",
            Workload::EvloopEpoll => "evloop-epoll",
            Workload::EvloopUring => "evloop-uring",
            Workload::Pollloop => "pollloop",
            Workload::AioQd1 => "aio-qd1",
            Workload::AioQd16 => "aio-qd16",
        }
    }

    /// The binary (next to sched-harness) that runs it.
    pub fn binary(self) -> &'static str {
        match self {
            Workload::Schbench => "schbench",
            Workload::Pipe => "pipe-bench",
            Workload::Uring | Workload::UringCoop | Workload::UringHog => "uring-pingpong",
            Workload::EvloopEpoll | Workload::EvloopUring => "evloop",
            Workload::Pollloop => "pollloop",
            Workload::AioQd1 | Workload::AioQd16 => "aio-bench",
        }
    }

    /// Its arguments for a run of about `seconds` (plus `--json`).
    pub fn args(self, seconds: f64) -> Vec<String> {
        let s = format!("{seconds}");
        let whole = format!("{}", seconds.ceil().max(1.0) as u64);
        let v: Vec<&str> = match self {
            Workload::Schbench => vec![
                "-m",
                "2",
                "-t",
                "2",
                "-r",
                &s,
                "-w",
                "0.5",
                "--work-us",
                "100",
            ],
            // about 4000 round trips per second in the VM
            Workload::Pipe => {
                return vec![
                    "-l".into(),
                    format!("{}", (seconds * 4000.0).max(500.0) as u64),
                    "--json".into(),
                ]
            }
            // a pipe read on the other ring: its completion reaches the
            // waiting thread as task_work (a MSG_RING CQE would be posted
            // straight into its ring unless that ring defers task_work)
            Workload::Uring => vec!["-r", &s, "--mechanism", "pipe"],
            Workload::UringCoop => vec!["-r", &s, "--mechanism", "pipe", "--coop-taskrun"],
            Workload::UringHog => vec!["-r", &s, "--mechanism", "pipe", "--hog"],
            Workload::EvloopEpoll => vec!["--backend", "epoll", "-r", &s],
            Workload::EvloopUring => vec!["--backend", "uring", "-r", &s],
            Workload::Pollloop => vec!["-r", &s],
            // aio-bench takes whole seconds
            Workload::AioQd1 => vec!["--iodepth", "1", "--runtime", &whole],
            Workload::AioQd16 => vec!["--iodepth", "16", "--runtime", &whole],
        };
        let mut a: Vec<String> = v.into_iter().map(String::from).collect();
        a.push("--json".into());
        a
    }

    fn specs(self) -> &'static [MetricSpec] {
        match self {
            Workload::Schbench => &[
                ("wakeup-p99", "/wakeup/p99_us", "us", false, false),
                ("wakeup-p50", "/wakeup/p50_us", "us", false, false),
                ("rps", "/rps", "req/s", true, true),
            ],
            Workload::Pipe => &[("round-trip", "/usecs_per_op", "us", false, true)],
            Workload::Uring | Workload::UringCoop | Workload::UringHog => &[
                ("rtt-p50", "/rtt/p50_us", "us", false, true),
                ("rtt-p99", "/rtt/p99_us", "us", false, false),
            ],
            Workload::EvloopEpoll | Workload::EvloopUring => &[
                ("events", "/events_per_sec", "events/s", true, true),
                ("reply-p99", "/reply/p99_us", "us", false, true),
            ],
            Workload::Pollloop => &[
                ("wake-p99", "/wake/p99_us", "us", false, true),
                ("poller-cpu", "/consumer_cpu_percent", "%", false, false),
            ],
            Workload::AioQd1 | Workload::AioQd16 => &[
                ("iops", "/iops", "IO/s", true, true),
                (
                    "migr-per-kio",
                    "/migrations_per_kilo_io",
                    "migr/1000 IOs",
                    false,
                    false,
                ),
            ],
        }
    }

    /// The metrics this workload reports.
    pub fn metrics(self) -> Vec<MetricInfo> {
        self.specs()
            .iter()
            .map(|&(m, _, unit, hib, primary)| MetricInfo {
                cell: format!("{}/{}", self.name(), m),
                unit: unit.into(),
                higher_is_better: hib,
                primary,
            })
            .collect()
    }

    /// Picks this workload's metrics out of its tool's JSON output:
    /// (cell id, value), every one required.
    pub fn parse(self, out: &str) -> Result<Vec<(String, f64)>> {
        let v: serde_json::Value = serde_json::from_str(out.trim())
            .with_context(|| format!("parsing {} output {:?}", self.binary(), out.trim()))?;
        self.specs()
            .iter()
            .map(|&(m, ptr, ..)| {
                let x = v
                    .pointer(ptr)
                    .and_then(serde_json::Value::as_f64)
                    .filter(|x| x.is_finite() && *x >= 0.0)
                    .ok_or_else(|| anyhow!("{}: no number at {ptr} in its JSON", self.binary()))?;
                Ok((format!("{}/{}", self.name(), m), x))
            })
            .collect()
    }
}

/// Parses `--workloads`: names separated by commas, `all`, or `none`.
pub fn parse_workloads(list: &[String]) -> Result<Vec<Workload>> {
    use clap::ValueEnum;
    let mut out = Vec::new();
    for w in list.iter().map(|s| s.trim()).filter(|s| !s.is_empty()) {
        match w {
            "none" => {}
            "all" => out.extend_from_slice(ALL_WORKLOADS),
            _ => {
                let x = Workload::from_str(w, false).map_err(|_| {
                    anyhow!(
                        "unknown workload '{w}' (all, none, {})",
                        ALL_WORKLOADS
                            .iter()
                            .map(|w| w.name())
                            .collect::<Vec<_>>()
                            .join(", ")
                    )
                })?;
                out.push(x);
            }
        }
    }
    let mut seen = Vec::new();
    out.retain(|w| {
        let new = !seen.contains(w);
        seen.push(*w);
        new
    });
    Ok(out)
}

/// Ratio of `value` to `base`, oriented so that > 1 is worse.
pub fn worse_ratio(value: f64, base: f64, higher_is_better: bool) -> Option<f64> {
    if higher_is_better {
        super::ratio(base, value)
    } else {
        super::ratio(value, base)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip_and_are_unique() {
        for w in ALL_WORKLOADS {
            assert_eq!(parse_workloads(&[w.name().into()]).unwrap(), vec![*w]);
        }
        assert_eq!(
            parse_workloads(&["all".into()]).unwrap().len(),
            ALL_WORKLOADS.len()
        );
        assert!(parse_workloads(&["none".into()]).unwrap().is_empty());
        assert_eq!(
            parse_workloads(&["pipe".into(), "pipe".into()]).unwrap(),
            vec![Workload::Pipe]
        );
        let e = parse_workloads(&["nope".into()]).unwrap_err().to_string();
        assert!(
            e.contains("unknown workload 'nope'") && e.contains("aio-qd16"),
            "{e}"
        );
        let mut cells: Vec<String> = ALL_WORKLOADS
            .iter()
            .flat_map(|w| w.metrics())
            .map(|m| m.cell)
            .collect();
        let n = cells.len();
        cells.sort();
        cells.dedup();
        assert_eq!(cells.len(), n);
    }

    #[test]
    fn every_workload_has_a_primary_metric_and_json_flag() {
        for w in ALL_WORKLOADS {
            assert!(w.metrics().iter().any(|m| m.primary), "{w:?}");
            assert_eq!(w.args(2.0).last().map(String::as_str), Some("--json"));
        }
        assert_eq!(Workload::Pipe.args(2.0)[..2], ["-l", "8000"]);
        assert!(Workload::UringCoop
            .args(1.0)
            .contains(&"--coop-taskrun".into()));
        assert!(Workload::AioQd16
            .args(1.0)
            .windows(2)
            .any(|w| w == ["--iodepth", "16"]));
    }

    #[test]
    fn parse_picks_metrics_and_rejects_missing_ones() {
        let out = r#"{"rps": 1234.5, "wakeup": {"p99_us": 800.0, "p50_us": 40.0}}"#;
        let m = Workload::Schbench.parse(out).unwrap();
        assert_eq!(
            m,
            vec![
                ("schbench/wakeup-p99".to_string(), 800.0),
                ("schbench/wakeup-p50".to_string(), 40.0),
                ("schbench/rps".to_string(), 1234.5)
            ]
        );
        let e = Workload::Schbench
            .parse(r#"{"rps": 1.0, "wakeup": {"p50_us": 1.0}}"#)
            .unwrap_err()
            .to_string();
        assert!(e.contains("/wakeup/p99_us"), "{e}");
        assert!(Workload::Pipe.parse("not json").is_err());
        assert!(Workload::Pipe.parse(r#"{"usecs_per_op": -1}"#).is_err());
    }

    #[test]
    fn ratios_are_oriented_worse_above_one() {
        assert_eq!(worse_ratio(2.0, 1.0, false), Some(2.0));
        assert_eq!(worse_ratio(50.0, 100.0, true), Some(2.0));
        assert_eq!(worse_ratio(1.0, 0.0, false), None);
        assert_eq!(worse_ratio(0.0, 1.0, true), None);
    }
}
