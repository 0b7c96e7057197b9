//! Host tests of inversion-demo's statistics, result files, compare table
//! and environment checks (no root, cgroup or VM needed).

use std::fs;
use std::path::PathBuf;
use std::time::Duration;

use scx_proxy_tools::demo::cli::{CsClock, Scenario};
use scx_proxy_tools::demo::env::{check_environment, EnvError};
use scx_proxy_tools::demo::report::{compare_rows, compare_table, Params, RunResult, SCHEMA};
use scx_proxy_tools::latency::{LatencyRecorder, LatencySummary};

fn tmpdir(tag: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("demo-test-{tag}-{}", std::process::id()));
    let _ = fs::remove_dir_all(&d);
    fs::create_dir_all(&d).unwrap();
    d
}

fn summary_of(samples_us: &[u64], secs: u64) -> LatencySummary {
    let mut r = LatencyRecorder::new();
    for &us in samples_us {
        r.record(Duration::from_micros(us));
    }
    r.summary(Duration::from_secs(secs))
}

fn result(label: &str, scenario: Scenario, samples_us: &[u64]) -> RunResult {
    RunResult {
        schema: SCHEMA.to_string(),
        label: label.to_string(),
        scenario,
        duration_s: 10.0,
        params: Params {
            depth: if scenario == Scenario::Chain { 3 } else { 1 },
            pi_mutex: false,
            cs_us: 1000,
            cs_clock: CsClock::Cpu,
            think_us: 500,
            owner_gap_us: 500,
            owner_spin_us: 0,
            hogs: 4,
            fg_weight: 10000,
            bg_weight: 4,
            hog_weight: 512,
            fg_nice: -20,
            bg_nice: 19,
            background_tasks: 1,
            workdir: "/tmp".into(),
        },
        kernel: "6.99.0-test".into(),
        ncpus: 2,
        scheduler: "default".into(),
        config: "default".into(),
        sched_ext_state: Some("disabled".into()),
        scheduler_at_end: "default".into(),
        started_unix_s: 1_700_000_000,
        latency: summary_of(samples_us, 10),
    }
}

fn within(v: f64, want: f64) -> bool {
    (v - want).abs() <= want * 0.002
}

#[test]
fn percentiles_with_a_heavy_tail() {
    // 9990 fast samples of 10us and 10 inversions of 500ms.
    let mut s = vec![10u64; 9990];
    s.extend([500_000u64; 10]);
    let l = summary_of(&s, 10);
    assert_eq!(l.count, 10_000);
    assert!(within(l.ops_per_sec, 1000.0));
    assert!(within(l.p50_us, 10.0), "p50 {}", l.p50_us);
    assert!(within(l.p99_us, 10.0), "p99 {}", l.p99_us);
    // The 99.9th percentile falls exactly on the last fast sample ...
    assert!(within(l.p999_us, 10.0), "p99.9 {}", l.p999_us);
    assert!(within(l.max_us, 500_000.0), "max {}", l.max_us);
    // ... and one more slow sample moves it into the tail.
    s[0] = 500_000;
    let l = summary_of(&s, 10);
    assert!(within(l.p999_us, 500_000.0), "p99.9 {}", l.p999_us);
    let tail: u64 = l
        .buckets
        .iter()
        .filter(|b| b.lo_us > 100_000.0)
        .map(|b| b.count)
        .sum();
    assert_eq!(tail, 11);
}

#[test]
fn json_round_trip() {
    let d = tmpdir("json");
    let p = d.join("r.json");
    let r = result("futex/default", Scenario::Futex, &[5, 6, 7, 1_000_000]);
    r.write(&p).unwrap();
    let back = RunResult::read(&p).unwrap();
    assert_eq!(back, r);
    // The recorded histogram re-computes the same statistics.
    let again =
        LatencySummary::from_histogram(&back.latency.to_histogram(), back.latency.elapsed_s);
    assert_eq!(again, r.latency);
    // The JSON carries the fields a reader/plotter needs.
    let v: serde_json::Value = serde_json::from_slice(&fs::read(&p).unwrap()).unwrap();
    assert_eq!(v["scenario"], "futex");
    assert_eq!(v["params"]["cs_clock"], "cpu");
    assert_eq!(v["latency"]["count"], 4);
    assert!(v["latency"]["buckets"].as_array().unwrap().len() >= 2);
    assert!(v["latency"]["p999_us"].as_f64().unwrap() > 900_000.0);
    fs::remove_dir_all(&d).unwrap();
}

#[test]
fn read_rejects_garbage_and_other_schemas() {
    let d = tmpdir("garbage");
    let p = d.join("g.json");
    fs::write(&p, "{\"hello\": 1}").unwrap();
    assert!(RunResult::read(&p).is_err());
    let mut r = result("x", Scenario::Rename, &[1]);
    r.schema = "something/else".into();
    r.write(&p).unwrap();
    let e = RunResult::read(&p).unwrap_err().to_string();
    assert!(e.contains("unsupported schema"), "{e}");
    assert!(RunResult::read(&d.join("missing.json")).is_err());
    fs::remove_dir_all(&d).unwrap();
}

#[test]
fn compare_ratios_are_relative_to_the_first_run_of_each_scenario() {
    let base = result("rename", Scenario::Rename, &[100, 200, 1000]);
    let mut worse = result("rename", Scenario::Rename, &[100, 200, 4000]);
    worse.config = "scx_proxy --no-proxy".into();
    let chain = result("c", Scenario::Chain, &[100, 200, 500]);
    let mut chain_b = result("c", Scenario::Chain, &[100, 200, 5000]);
    chain_b.config = "scx_proxy".into();
    // same scenario, other parameters: its own baseline
    let mut chain_other = result("c", Scenario::Chain, &[100, 200, 250]);
    chain_other.params.owner_spin_us = 1000;
    let rows = compare_rows(&[base.clone(), worse, chain, chain_b, chain_other]);
    assert_eq!(rows.len(), 5);
    assert_eq!(rows[0][10], "1.00x");
    assert_eq!(rows[0][11], "1.00x");
    assert_eq!(rows[1][11], "4.00x");
    assert_eq!(rows[1][2], "scx_proxy --no-proxy");
    assert_eq!(rows[2][1], "chain3");
    assert_eq!(rows[2][11], "1.00x", "chain is not divided by rename");
    assert_eq!(rows[3][11], "10.00x");
    assert_eq!(rows[3][2], "scx_proxy");
    assert_eq!(rows[4][11], "1.00x");
    let md = compare_table(std::slice::from_ref(&base), true);
    assert!(md.starts_with("| label | scenario | config |"), "{md}");
    assert_eq!(md.lines().count(), 3);
    let txt = compare_table(&[base], false);
    assert!(txt.contains("rename") && txt.contains("default") && txt.contains("p99.9"));
}

#[test]
fn config_of_files_without_one_comes_from_the_scheduler() {
    // a result written before `config` existed
    let d = tmpdir("oldconfig");
    let mut r = result("rename/proxy", Scenario::Rename, &[100, 200]);
    r.scheduler = "scx_proxy_0.1.0_x86_64_unknown_linux_gnu".into();
    let mut v = serde_json::to_value(&r).unwrap();
    v.as_object_mut().unwrap().remove("config");
    v["params"].as_object_mut().unwrap().remove("owner_spin_us");
    let p = d.join("old.json");
    fs::write(&p, serde_json::to_vec(&v).unwrap()).unwrap();
    let back = RunResult::read(&p).unwrap();
    assert_eq!(back.config, "");
    assert_eq!(back.config_name(), "scx_proxy");
    assert_eq!(back.plot_label(), "rename/proxy (scx_proxy)");
    assert_eq!(back.params.owner_spin_us, 0);
    assert_eq!(compare_rows(&[back])[0][2], "scx_proxy");
    fs::remove_dir_all(&d).unwrap();
}

#[test]
fn environment_refusals() {
    let d = tmpdir("cg");
    // Not root: refused before anything else.
    fs::write(d.join("cgroup.controllers"), "cpuset cpu io memory\n").unwrap();
    assert_eq!(
        check_environment(&d, 1000),
        Err(EnvError::NotRoot { euid: 1000 })
    );
    assert_eq!(check_environment(&d, 0), Ok(()));
    // cpu bound elsewhere: "cpuset" must not count as "cpu".
    fs::write(d.join("cgroup.controllers"), "cpuset io memory pids\n").unwrap();
    let e = check_environment(&d, 0).unwrap_err();
    assert!(matches!(e, EnvError::NoCpuController { .. }));
    assert!(e.to_string().contains("cpu controller is not available"));
    // No cgroup v2 at all (a v1 tmpfs has no cgroup.controllers).
    fs::remove_file(d.join("cgroup.controllers")).unwrap();
    let e = check_environment(&d, 0).unwrap_err();
    assert!(matches!(e, EnvError::NoCgroup2 { .. }));
    assert!(e.to_string().contains("cgroup v2 is not mounted"));
    assert_eq!(e.to_string().lines().count(), 1);
    fs::remove_dir_all(&d).unwrap();
}

#[test]
fn plots_are_written() {
    let d = tmpdir("plot");
    let a = result("a", Scenario::Rename, &[10, 20, 30, 400_000]);
    let b = result("b", Scenario::Rename, &[10, 20, 30, 40]);
    for name in ["p.png", "p.svg"] {
        let p = d.join(name);
        let runs = [
            scx_proxy_tools::plot::PlotRun {
                label: &a.label,
                summary: &a.latency,
            },
            scx_proxy_tools::plot::PlotRun {
                label: &b.label,
                summary: &b.latency,
            },
        ];
        scx_proxy_tools::plot::plot_latency_histograms(&p, "test", &runs).unwrap();
        let bytes = fs::read(&p).unwrap();
        assert!(bytes.len() > 1000, "{name} is only {} bytes", bytes.len());
        if name.ends_with(".png") {
            assert_eq!(&bytes[..4], b"\x89PNG");
        } else {
            assert!(String::from_utf8_lossy(&bytes).contains("<svg"));
        }
    }
    fs::remove_dir_all(&d).unwrap();
}
