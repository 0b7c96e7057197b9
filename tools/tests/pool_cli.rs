//! sched-pool: per-round ratios of several harness runs pooled into one
//! verdict per cell.

use scx_proxy_tools::harness::workload::MetricInfo;
use scx_proxy_tools::harness::*;
use scx_proxy_tools::pool::{self, PoolVerdict};
use scx_proxy_tools::report;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

mod common;
use common::present;

fn metric(cell: &str, higher_is_better: bool) -> MetricInfo {
    MetricInfo {
        cell: cell.into(),
        unit: "x".into(),
        higher_is_better,
        primary: true,
    }
}

/// A harness report judged as sched-harness judges one
/// (--workload-threshold 2 --threshold-baseline default-bpfland), from
/// `(scheduler, cell, [value per round])`. Cells: "ev" counts events (higher
/// is better), "lat" and "noisy" are latencies.
fn run(data: &[(&str, &str, &[f64])]) -> Report {
    let mut samples = Vec::new();
    for (sched, cell, vals) in data {
        for (rep, v) in vals.iter().enumerate() {
            samples.push(Sample {
                rep,
                scheduler: sched.to_string(),
                cell: cell.to_string(),
                tool: Tool::Workload,
                time_s: *v,
                migrations: None,
                worker_ctx_switches: None,
                rusage_ctx_switches: None,
            });
        }
    }
    let metrics = vec![
        metric("ev", true),
        metric("lat", false),
        metric("noisy", false),
    ];
    let cells: Vec<String> = metrics.iter().map(|m| m.cell.clone()).collect();
    let mut scheds: Vec<String> = data.iter().map(|d| d.0.to_string()).collect();
    scheds.dedup();
    let hib = |c: &str| c == "ev";
    let sum = summarize_with(&samples, &cells, &scheds, &[Tool::Workload], &hib);
    let mut th = check_threshold_with(
        &sum,
        &cells,
        SCX_PROXY,
        Some(2.0),
        None,
        Baseline::DefaultBpfland,
        &hib,
    );
    add_round_ratios(&mut th, &samples, &hib);
    Report {
        format: REPORT_FORMAT,
        kernel: "test".into(),
        runs: 4,
        cells: vec![],
        metrics,
        schedulers: scheds.iter().map(|s| present(s)).collect(),
        counters: "x".into(),
        samples,
        summaries: sum,
        threshold: None,
        workload_threshold: Some(th),
        crosscheck: None,
        wall_s: 1.0,
    }
}

/// Two boots: scx_proxy does 1/1.25 of the events in every round (a real
/// miss at 1.10), meets the latency cell within 5 %, and is 0.8x or 1.3x
/// on the noisy cell. In the second boot scx_bpfland has the better
/// latency median and is that cell's baseline there.
fn runs() -> (Report, Report) {
    let a = run(&[
        (DEFAULT, "ev", &[100.0, 110.0, 90.0, 100.0]),
        (SCX_PROXY, "ev", &[80.0, 88.0, 72.0, 80.0]),
        (DEFAULT, "lat", &[10.0, 10.0, 20.0, 10.0]),
        (SCX_PROXY, "lat", &[10.0, 10.5, 19.0, 9.0]),
        (DEFAULT, "noisy", &[10.0, 10.0, 10.0, 10.0]),
        (SCX_PROXY, "noisy", &[8.0, 13.0, 8.0, 13.0]),
    ]);
    let b = run(&[
        (DEFAULT, "ev", &[50.0, 60.0, 55.0, 50.0]),
        (SCX_PROXY, "ev", &[40.0, 48.0, 44.0, 40.0]),
        (DEFAULT, "lat", &[30.0, 30.0, 30.0, 30.0]),
        ("scx_bpfland", "lat", &[20.0, 20.0, 20.0, 20.0]),
        (SCX_PROXY, "lat", &[20.0, 20.5, 19.0, 20.0]),
        (DEFAULT, "noisy", &[10.0, 10.0, 10.0, 10.0]),
        (SCX_PROXY, "noisy", &[13.0, 8.0, 13.0, 8.0]),
    ]);
    (a, b)
}

#[test]
fn pooled_rounds_decide_met_missed_and_undecided() {
    let (a, b) = runs();
    let p = pool::pool(&[("a".into(), a), ("b".into(), b)], SCX_PROXY, 1.10, 0.95);
    let cell = |c: &str| p.cells.iter().find(|x| x.cell == c).unwrap();
    assert_eq!(
        p.cells.iter().map(|c| c.cell.as_str()).collect::<Vec<_>>(),
        ["ev", "lat", "noisy"]
    );

    let ev = cell("ev");
    assert_eq!(
        (ev.rounds, ev.over, ev.verdict),
        (8, 8, PoolVerdict::Missed)
    );
    assert!((ev.median - 1.25).abs() < 1e-9, "{ev:?}");
    // 8 rounds at 95 %: the extremes (P(X < 1) = 1/256, P(X < 2) = 9/256)
    let (lo, hi) = ev.ci.unwrap();
    assert!((lo - 1.25).abs() < 1e-9 && (hi - 1.25).abs() < 1e-9);

    let lat = cell("lat");
    assert_eq!(lat.verdict, PoolVerdict::Met, "{lat:?}");
    assert_eq!(
        lat.runs
            .iter()
            .map(|r| (r.run.as_str(), r.baseline.as_str(), r.rounds))
            .collect::<Vec<_>>(),
        [("a", DEFAULT, 4), ("b", "scx_bpfland", 4)],
        "each run's own baseline"
    );
    assert!(lat.ci.unwrap().1 <= 1.10);

    let noisy = cell("noisy");
    assert_eq!((noisy.over, noisy.verdict), (4, PoolVerdict::Undecided));
    assert!((noisy.median - 1.05).abs() < 1e-9, "{noisy:?}");

    // one run alone has 4 rounds: no 95 % interval, nothing decided
    let (a, _) = runs();
    let one = pool::pool(&[("a".into(), a)], SCX_PROXY, 1.10, 0.95);
    assert!(one
        .cells
        .iter()
        .all(|c| c.ci.is_none() && c.verdict == PoolVerdict::Undecided));

    let t = pool::table(&p);
    assert!(t.contains("bar 1.10, 95 % interval"), "{t}");
    let ev_line = t.lines().find(|l| l.starts_with("ev ")).unwrap();
    assert!(ev_line.contains("missed") && ev_line.contains("4, 1.250; 4, 1.250"));
}

fn write(dir: &Path, name: &str, r: &Report) -> PathBuf {
    let p = dir.join(name);
    std::fs::write(&p, report::to_json(r)).unwrap();
    p
}

fn sched_pool(args: &[&std::ffi::OsStr]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_sched-pool"))
        .args(args)
        .output()
        .unwrap()
}

#[test]
fn cli_reads_results_files_and_rejects_bad_input() {
    let dir = std::env::temp_dir().join(format!("sched-pool-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let (a, b) = runs();
    let pa = write(&dir, "a.json", &a);
    let pb = write(&dir, "b.json", &b);

    // the events cell is missed: exit 1
    let o = sched_pool(&[pa.as_os_str(), pb.as_os_str()]);
    assert_eq!(o.status.code(), Some(1), "{o:?}");
    let out = String::from_utf8_lossy(&o.stdout);
    assert!(out.contains(&format!("run 2: {}", pb.display())), "{out}");
    assert!(out
        .lines()
        .any(|l| l.starts_with("ev ") && l.contains("missed")));

    // with a bar of 1.5 nothing is missed: exit 0; JSON on request
    let o = sched_pool(&[
        "--threshold".as_ref(),
        "1.5".as_ref(),
        "--json".as_ref(),
        pa.as_os_str(),
        pb.as_os_str(),
    ]);
    assert_eq!(o.status.code(), Some(0), "{o:?}");
    let j: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(j["threshold"], 1.5);
    assert_eq!(j["cells"][0]["cell"], "ev");
    assert_eq!(j["cells"][0]["verdict"], "met");
    assert_eq!(j["cells"][2]["verdict"], "met", "0.8-1.3 is within 1.5");

    // a run without a verdict adds nothing, and says so
    let mut c = a.clone();
    c.workload_threshold = None;
    let pc = write(&dir, "c.json", &c);
    let o = sched_pool(&[pa.as_os_str(), pc.as_os_str()]);
    assert!(
        String::from_utf8_lossy(&o.stderr).contains("c.json: no verdict"),
        "{o:?}"
    );

    // bad input: exit 2 and a message naming it
    let bad: [(&[&str], &str); 4] = [
        (&["/nonexistent/results.json"], "/nonexistent/results.json"),
        (&["--candidate", "scx_nope"], "scx_nope did not run in it"),
        (&["--confidence", "1.5"], "--confidence"),
        (&["--threshold", "0"], "--threshold"),
    ];
    for (args, msg) in bad {
        let mut v: Vec<&std::ffi::OsStr> = args.iter().map(|s| s.as_ref()).collect();
        v.push(pa.as_os_str());
        let o = sched_pool(&v);
        assert_eq!(o.status.code(), Some(2), "{args:?}: {o:?}");
        assert!(
            String::from_utf8_lossy(&o.stderr).contains(msg),
            "{args:?}: {o:?}"
        );
    }
    std::fs::write(dir.join("junk.json"), "{").unwrap();
    let o = sched_pool(&[dir.join("junk.json").as_os_str()]);
    assert_eq!(o.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&o.stderr).contains("junk.json"));
    std::fs::remove_dir_all(&dir).unwrap();
}
