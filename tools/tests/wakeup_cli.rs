//! schbench and pipe-bench: they run, report sane numbers, refuse bad flags.

use std::process::Command;

fn run(bin: &str, args: &[&str]) -> (i32, String, String) {
    let o = Command::new(bin).args(args).output().expect("binary runs");
    (
        o.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&o.stdout).into_owned(),
        String::from_utf8_lossy(&o.stderr).into_owned(),
    )
}

#[test]
fn schbench_reports_wakeup_and_request_latency() {
    let (rc, out, err) = run(
        env!("CARGO_BIN_EXE_schbench"),
        &[
            "-m",
            "1",
            "-t",
            "2",
            "-r",
            "0.5",
            "-w",
            "0.1",
            "--work-us",
            "50",
            "--json",
        ],
    );
    assert_eq!(rc, 0, "{err}");
    let v: serde_json::Value = serde_json::from_str(out.trim()).unwrap();
    let requests = v["requests"].as_u64().unwrap();
    assert!(requests > 10, "{out}");
    assert!(v["rps"].as_f64().unwrap() > 0.0);
    let (w50, r50) = (
        v["wakeup"]["p50_us"].as_f64().unwrap(),
        v["request"]["p50_us"].as_f64().unwrap(),
    );
    // a request includes its wakeup and 50 us of work
    assert!(
        w50 > 0.0 && r50 >= 50.0 && r50 > w50,
        "wakeup p50 {w50}, request p50 {r50}"
    );
    assert_eq!(v["wakeup"]["count"].as_u64().unwrap(), requests);
    let (rc, _, err) = run(env!("CARGO_BIN_EXE_schbench"), &["-m", "0"]);
    assert_eq!(rc, 2, "{err}");
    let (rc, _, err) = run(env!("CARGO_BIN_EXE_schbench"), &["-r", "0"]);
    assert_eq!(rc, 2, "{err}");
}

#[test]
fn pipe_bench_times_round_trips() {
    let (rc, out, err) = run(env!("CARGO_BIN_EXE_pipe-bench"), &["-l", "2000", "--json"]);
    assert_eq!(rc, 0, "{err}");
    let v: serde_json::Value = serde_json::from_str(out.trim()).unwrap();
    assert_eq!(v["loops"].as_u64(), Some(2000));
    let us = v["usecs_per_op"].as_f64().unwrap();
    assert!(
        us > 0.0 && (us * 2000.0 / 1e6 - v["total_s"].as_f64().unwrap()).abs() < 1e-6,
        "{out}"
    );
    let (rc, out, _) = run(env!("CARGO_BIN_EXE_pipe-bench"), &["-l", "100"]);
    assert_eq!(rc, 0);
    assert!(out.contains("usecs/op"), "{out}");
    let (rc, _, _) = run(env!("CARGO_BIN_EXE_pipe-bench"), &["-l", "0"]);
    assert_eq!(rc, 2);
}
