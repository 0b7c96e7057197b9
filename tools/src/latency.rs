//! Latency statistics shared by scx_proxy's workloads (inversion-demo,
//! hackbench, ...).
//!
//! Samples are recorded in nanoseconds in an HDR histogram (3 significant
//! digits, 1 ns .. 1 hour, values above saturate) by [`LatencyRecorder`].
//! [`LatencySummary`] is the serialisable result: count, throughput,
//! percentiles in microseconds, log-spaced bucket counts for plotting and the
//! histogram's recorded (value, count) pairs so that a summary can be
//! re-computed exactly ([`LatencySummary::to_histogram`]).

use std::time::Duration;

use hdrhistogram::Histogram;
use serde::{Deserialize, Serialize};

/// Lowest trackable value (ns).
pub const HIST_LOW_NS: u64 = 1;
/// Highest trackable value (ns): one hour. Larger samples saturate.
pub const HIST_HIGH_NS: u64 = 3_600_000_000_000;
/// Significant decimal digits kept by the histogram.
pub const HIST_SIGFIG: u8 = 3;
/// Log-spaced plot buckets per decade.
pub const BUCKETS_PER_DECADE: u32 = 10;
/// Lower edge of the first plot bucket (ns); smaller samples are counted in it.
pub const BUCKET_BASE_NS: f64 = 100.0;

/// A new, empty histogram with the bounds used everywhere in this crate.
pub fn new_histogram() -> Histogram<u64> {
    Histogram::new_with_bounds(HIST_LOW_NS, HIST_HIGH_NS, HIST_SIGFIG)
        .expect("static histogram bounds are valid")
}

/// Records latency samples.
#[derive(Clone, Debug)]
pub struct LatencyRecorder {
    hist: Histogram<u64>,
}

impl Default for LatencyRecorder {
    fn default() -> Self {
        Self::new()
    }
}

impl LatencyRecorder {
    pub fn new() -> Self {
        Self {
            hist: new_histogram(),
        }
    }

    /// Record one sample in nanoseconds (0 is recorded as 1 ns).
    #[inline]
    pub fn record_ns(&mut self, ns: u64) {
        self.hist.saturating_record(ns.max(HIST_LOW_NS));
    }

    /// Add another recorder's samples to this one.
    pub fn merge(&mut self, other: &LatencyRecorder) {
        self.hist
            .add(&other.hist)
            .expect("recorders share the same bounds");
    }

    #[inline]
    pub fn record(&mut self, d: Duration) {
        self.record_ns(u64::try_from(d.as_nanos()).unwrap_or(u64::MAX));
    }

    pub fn count(&self) -> u64 {
        self.hist.len()
    }

    pub fn histogram(&self) -> &Histogram<u64> {
        &self.hist
    }

    /// The recorded (value_ns, count) pairs, enough to rebuild the histogram.
    pub fn recorded_pairs(&self) -> Vec<[u64; 2]> {
        recorded_pairs(&self.hist)
    }

    /// Summary over a run that took `elapsed` wall time.
    pub fn summary(&self, elapsed: Duration) -> LatencySummary {
        LatencySummary::from_histogram(&self.hist, elapsed.as_secs_f64())
    }
}

/// One log-spaced histogram bucket: samples in `[lo_us, hi_us)`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Bucket {
    pub lo_us: f64,
    pub hi_us: f64,
    pub count: u64,
}

/// Serialisable latency statistics (times in microseconds).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct LatencySummary {
    /// Always "us": the unit of every `*_us` field.
    pub unit: String,
    pub count: u64,
    /// Wall time the samples were taken over (seconds).
    pub elapsed_s: f64,
    /// `count / elapsed_s`.
    pub ops_per_sec: f64,
    pub min_us: f64,
    pub mean_us: f64,
    pub p50_us: f64,
    pub p90_us: f64,
    pub p99_us: f64,
    pub p999_us: f64,
    pub max_us: f64,
    /// Non-empty log-spaced buckets (`BUCKETS_PER_DECADE` per decade,
    /// starting at `BUCKET_BASE_NS`), for plotting.
    pub buckets: Vec<Bucket>,
    /// HDR histogram content as (value_ns, count) pairs.
    pub recorded_ns: Vec<[u64; 2]>,
}

fn ns_to_us(ns: u64) -> f64 {
    ns as f64 / 1000.0
}

/// The recorded (value_ns, count) pairs of a histogram.
pub fn recorded_pairs(hist: &Histogram<u64>) -> Vec<[u64; 2]> {
    hist.iter_recorded()
        .map(|v| [v.value_iterated_to(), v.count_at_value()])
        .collect()
}

/// Index of the log-spaced bucket holding `ns`.
pub fn bucket_index(ns: u64) -> u32 {
    let v = ns as f64;
    if v <= BUCKET_BASE_NS {
        return 0;
    }
    let idx = ((v / BUCKET_BASE_NS).log10() * BUCKETS_PER_DECADE as f64).floor();
    idx.max(0.0) as u32
}

/// Edges `[lo, hi)` in microseconds of bucket `idx`.
pub fn bucket_edges_us(idx: u32) -> (f64, f64) {
    let edge = |i: u32| BUCKET_BASE_NS * 10f64.powf(i as f64 / BUCKETS_PER_DECADE as f64) / 1000.0;
    (edge(idx), edge(idx + 1))
}

/// Non-empty log-spaced buckets of a histogram, in increasing order.
pub fn log_buckets(hist: &Histogram<u64>) -> Vec<Bucket> {
    let mut out: Vec<Bucket> = Vec::new();
    for v in hist.iter_recorded() {
        let idx = bucket_index(v.value_iterated_to());
        let (lo_us, hi_us) = bucket_edges_us(idx);
        match out.last_mut() {
            Some(b) if b.lo_us == lo_us => b.count += v.count_at_value(),
            _ => out.push(Bucket {
                lo_us,
                hi_us,
                count: v.count_at_value(),
            }),
        }
    }
    out
}

impl LatencySummary {
    pub fn from_histogram(hist: &Histogram<u64>, elapsed_s: f64) -> Self {
        let count = hist.len();
        let q = |quantile: f64| {
            if count == 0 {
                0.0
            } else {
                ns_to_us(hist.value_at_quantile(quantile))
            }
        };
        Self {
            unit: "us".to_string(),
            count,
            elapsed_s,
            ops_per_sec: if elapsed_s > 0.0 {
                count as f64 / elapsed_s
            } else {
                0.0
            },
            min_us: if count == 0 {
                0.0
            } else {
                ns_to_us(hist.min())
            },
            mean_us: if count == 0 {
                0.0
            } else {
                hist.mean() / 1000.0
            },
            p50_us: q(0.50),
            p90_us: q(0.90),
            p99_us: q(0.99),
            p999_us: q(0.999),
            max_us: if count == 0 {
                0.0
            } else {
                ns_to_us(hist.max())
            },
            buckets: log_buckets(hist),
            recorded_ns: recorded_pairs(hist),
        }
    }

    /// Rebuild the HDR histogram from `recorded_ns`.
    pub fn to_histogram(&self) -> Histogram<u64> {
        histogram_from_pairs(&self.recorded_ns)
    }

    /// One-line human summary.
    pub fn one_line(&self) -> String {
        format!(
            "n={} ({:.1} ops/s)  p50 {}  p90 {}  p99 {}  p99.9 {}  max {}",
            self.count,
            self.ops_per_sec,
            fmt_us(self.p50_us),
            fmt_us(self.p90_us),
            fmt_us(self.p99_us),
            fmt_us(self.p999_us),
            fmt_us(self.max_us)
        )
    }
}

/// Histogram from (value_ns, count) pairs.
pub fn histogram_from_pairs(pairs: &[[u64; 2]]) -> Histogram<u64> {
    let mut h = new_histogram();
    for [v, c] in pairs {
        h.saturating_record_n((*v).max(HIST_LOW_NS), *c);
    }
    h
}

/// Human-readable duration given in microseconds ("12.3us", "4.56ms", "1.23s").
pub fn fmt_us(us: f64) -> String {
    if us >= 1_000_000.0 {
        format!("{:.2}s", us / 1_000_000.0)
    } else if us >= 1000.0 {
        format!("{:.2}ms", us / 1000.0)
    } else {
        format!("{us:.1}us")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn close(a: f64, b: f64) -> bool {
        (a - b).abs() <= b.abs() * 0.002 + 1e-9
    }

    #[test]
    fn percentiles_of_uniform_samples() {
        let mut r = LatencyRecorder::new();
        for us in 1..=1000u64 {
            r.record(Duration::from_micros(us));
        }
        let s = r.summary(Duration::from_secs(2));
        assert_eq!(s.count, 1000);
        assert!(close(s.ops_per_sec, 500.0));
        assert!(close(s.p50_us, 500.0), "p50 {}", s.p50_us);
        assert!(close(s.p90_us, 900.0), "p90 {}", s.p90_us);
        assert!(close(s.p99_us, 990.0), "p99 {}", s.p99_us);
        assert!(close(s.p999_us, 999.0), "p99.9 {}", s.p999_us);
        assert!(close(s.max_us, 1000.0), "max {}", s.max_us);
        assert!(close(s.min_us, 1.0), "min {}", s.min_us);
        assert!(close(s.mean_us, 500.5), "mean {}", s.mean_us);
        let total: u64 = s.buckets.iter().map(|b| b.count).sum();
        assert_eq!(total, 1000);
    }

    #[test]
    fn buckets_are_log_spaced_and_ordered() {
        assert_eq!(bucket_index(50), 0);
        assert_eq!(bucket_index(1_000), 10);
        assert_eq!(bucket_index(1_000_000), 40);
        let (lo, hi) = bucket_edges_us(10);
        assert!(close(lo, 1.0) && close(hi, 10f64.powf(0.1)));
        let mut r = LatencyRecorder::new();
        r.record_ns(1_500);
        r.record_ns(1_500_000);
        r.record_ns(1_510_000);
        let b = log_buckets(r.histogram());
        assert_eq!(b.len(), 2);
        assert_eq!(b[1].count, 2);
        assert!(b[0].hi_us <= b[1].lo_us);
        assert!(b[1].lo_us <= 1500.0 && 1510.0 < b[1].hi_us);
    }

    #[test]
    fn empty_summary_is_zero() {
        let s = LatencyRecorder::new().summary(Duration::from_secs(1));
        assert_eq!(s.count, 0);
        assert_eq!(s.max_us, 0.0);
        assert!(s.buckets.is_empty());
    }

    #[test]
    fn rebuild_from_pairs_preserves_stats() {
        let mut r = LatencyRecorder::new();
        for i in 0..10_000u64 {
            r.record_ns(1_000 + i * i);
        }
        let s = r.summary(Duration::from_secs(1));
        let again = LatencySummary::from_histogram(&s.to_histogram(), 1.0);
        assert_eq!(s, again);
    }

    #[test]
    fn formats_units() {
        assert_eq!(fmt_us(12.34), "12.3us");
        assert_eq!(fmt_us(4560.0), "4.56ms");
        assert_eq!(fmt_us(1_230_000.0), "1.23s");
    }
}
