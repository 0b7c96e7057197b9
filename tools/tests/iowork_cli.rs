//! uring-pingpong, evloop and pollloop: they run, report sane numbers,
//! refuse bad flags.
//!
//! The io_uring runs expect io_uring to work on the test host: where it does
//! not (kernel.io_uring_disabled, a seccomp filter), they fail and show the
//! binary's "io_uring_setup failed: ..." message.

use serde_json::Value;
use std::process::Command;

fn run(bin: &str, args: &[&str]) -> (i32, String, String) {
    let o = Command::new(bin).args(args).output().expect("binary runs");
    (
        o.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&o.stdout).into_owned(),
        String::from_utf8_lossy(&o.stderr).into_owned(),
    )
}

/// Run with `--json`; the one JSON object it prints.
fn run_json(bin: &str, args: &[&str]) -> Value {
    let mut a = args.to_vec();
    a.push("--json");
    let (rc, out, err) = run(bin, &a);
    assert_eq!(rc, 0, "{bin} {args:?} failed: {err}");
    assert_eq!(out.trim().lines().count(), 1, "one line of JSON: {out}");
    serde_json::from_str(out.trim()).unwrap_or_else(|e| panic!("{e}: {out}"))
}

fn f(v: &Value, key: &str) -> f64 {
    v[key]
        .as_f64()
        .unwrap_or_else(|| panic!("number {key} in {v}"))
}

fn u(v: &Value, key: &str) -> u64 {
    v[key]
        .as_u64()
        .unwrap_or_else(|| panic!("integer {key} in {v}"))
}

/// A latency summary with at least `min_count` samples and ordered
/// percentiles; returns its count.
fn check_summary(s: &Value, min_count: u64) -> u64 {
    let n = u(s, "count");
    assert!(n >= min_count, "count {n} < {min_count}");
    let (min, p50, p99, max) = (
        f(s, "min_us"),
        f(s, "p50_us"),
        f(s, "p99_us"),
        f(s, "max_us"),
    );
    assert!(
        0.0 < min && min <= p50 && p50 <= p99 && p99 <= max,
        "min {min} p50 {p50} p99 {p99} max {max}"
    );
    let bucketed: u64 = s["buckets"]
        .as_array()
        .unwrap()
        .iter()
        .map(|b| u(b, "count"))
        .sum();
    assert_eq!(bucketed, n);
    n
}

const PINGPONG: &str = env!("CARGO_BIN_EXE_uring-pingpong");
const EVLOOP: &str = env!("CARGO_BIN_EXE_evloop");
const POLLLOOP: &str = env!("CARGO_BIN_EXE_pollloop");

/// Round trips consistent with the rtt summary, echoed flags.
fn check_pingpong(v: &Value, mechanism: &str, coop: bool, defer: bool, hog: bool) {
    assert_eq!(v["mechanism"], mechanism, "{v}");
    assert_eq!(v["coop_taskrun"], coop);
    assert_eq!(v["defer_taskrun"], defer);
    assert_eq!(v["hog"], hog);
    assert_eq!(v["config"]["coop_taskrun"], coop);
    assert_eq!(v["config"]["hog"], hog);
    let n = check_summary(&v["rtt"], 20);
    assert_eq!(u(v, "round_trips"), n);
    let rate = f(v, "round_trips_per_sec");
    let runtime = f(&v["config"], "runtime_s");
    assert!(
        rate > 0.0 && (rate * runtime - n as f64).abs() < 1.0,
        "{rate}"
    );
}

#[test]
fn uring_pingpong_round_trips() {
    let v = run_json(PINGPONG, &["-r", "0.4", "-w", "0.1"]);
    // auto: MSG_RING where the kernel has it (>= 5.18), else the pipe
    let mech = v["mechanism"].as_str().unwrap().to_string();
    assert!(mech == "msg-ring" || mech == "pipe", "{v}");
    assert_eq!(v["config"]["mechanism"], "auto");
    assert_eq!(v["config"]["cpus"], serde_json::json!([0, 1]));
    check_pingpong(&v, &mech, false, false, false);

    let (rc, out, err) = run(PINGPONG, &["-r", "0.3", "-w", "0.05"]);
    assert_eq!(rc, 0, "{err}");
    assert!(out.contains("round trips") && out.contains("p99"), "{out}");
}

#[test]
fn uring_pingpong_pipe_coop_taskrun_hog() {
    let v = run_json(
        PINGPONG,
        &[
            "--mechanism",
            "pipe",
            "--coop-taskrun",
            "--hog",
            "-r",
            "0.4",
            "-w",
            "0.1",
        ],
    );
    assert_eq!(v["config"]["mechanism"], "pipe");
    check_pingpong(&v, "pipe", true, false, true);
}

#[test]
fn uring_pingpong_msg_ring_defer_taskrun_unpinned() {
    // needs Linux >= 6.1 (DEFER_TASKRUN)
    let v = run_json(
        PINGPONG,
        &[
            "--mechanism",
            "msg-ring",
            "--defer-taskrun",
            "--no-pin",
            "-r",
            "0.3",
            "-w",
            "0.05",
        ],
    );
    assert_eq!(v["config"]["cpus"], Value::Null);
    check_pingpong(&v, "msg-ring", false, true, false);
}

#[test]
fn uring_pingpong_refuses_bad_flags() {
    for args in [
        &["--cpus", "0"][..],
        &["--cpus", "0,1,1"],
        &["--cpus", "x,1"],
        &["-r", "0"],
        &["-r", "nan"],
        &["-w", "4000"],
        &["--mechanism", "carrier-pigeon"],
        &["--no-such-flag"],
    ] {
        let (rc, out, err) = run(PINGPONG, args);
        assert_eq!(rc, 2, "{args:?}: {out} {err}");
        assert!(!err.is_empty(), "{args:?} says why");
    }
    // a CPU that does not exist is a runtime error naming the way out
    let (rc, _, err) = run(PINGPONG, &["--cpus", "0,4095", "-r", "0.1"]);
    assert_eq!(rc, 1, "{err}");
    assert!(
        err.starts_with("uring-pingpong: ") && err.contains("--no-pin"),
        "{err}"
    );
}

fn check_evloop(backend: &str) {
    let v = run_json(
        EVLOOP,
        &[
            "--backend",
            backend,
            "-c",
            "3",
            "--work-us",
            "5",
            "-r",
            "0.4",
            "-w",
            "0.1",
        ],
    );
    assert_eq!(v["backend"], backend);
    assert_eq!(v["config"]["backend"], backend);
    assert_eq!(u(&v, "clients"), 3);
    assert_eq!(u(&v["config"], "work_us"), 5);
    // every request sent in the window is served and its reply read
    let events = u(&v, "events");
    assert_eq!(check_summary(&v["reply"], 50), events, "{v}");
    let rate = f(&v, "events_per_sec");
    assert!(
        rate > 0.0 && (rate * 0.4 - events as f64).abs() < 1.0,
        "{rate}"
    );
    // a reply includes the loop's 5 us of work (histogram precision: 0.1%)
    let min = f(&v["reply"], "min_us");
    assert!(min >= 4.99, "reply min {min} us < 5 us of work");
    // its three parts are measured on the same requests; serving is the
    // work, and no part is longer than the longest whole reply
    for part in ["reply_queue", "reply_service", "reply_wake"] {
        assert_eq!(check_summary(&v[part], 50), events, "{part}: {v}");
        let max = f(&v[part], "max_us");
        assert!(max <= f(&v["reply"], "max_us") * 1.002, "{part} max {max}");
    }
    let min = f(&v["reply_service"], "min_us");
    assert!(min >= 4.99, "service min {min} us < 5 us of work");
    // the loop's and clients' schedstat over the window, where the kernel
    // has it
    if std::path::Path::new("/proc/thread-self/schedstat").exists() {
        for who in ["loop_sched", "clients_sched"] {
            let t = &v[who];
            assert!(u(t, "slices") >= 1, "{who}: {t}");
            assert!(
                f(t, "cpu_us") > 0.0 && f(t, "run_delay_us") >= 0.0,
                "{who}: {t}"
            );
        }
        // the loop ran its 5 us for every request it served
        assert!(
            f(&v["loop_sched"], "cpu_us") >= events as f64 * 5.0 * 0.99,
            "{v}"
        );
    }
}

#[test]
fn evloop_epoll_serves_clients() {
    check_evloop("epoll");
    let (rc, out, err) = run(EVLOOP, &["-c", "2", "-r", "0.3", "-w", "0.05"]);
    assert_eq!(rc, 0, "{err}");
    assert!(
        out.contains("backend epoll")
            && out.contains("events")
            && out.contains("reply p99 by part"),
        "{out}"
    );
}

#[test]
fn evloop_uring_serves_clients() {
    check_evloop("uring");
}

#[test]
fn evloop_with_think_time() {
    let v = run_json(
        EVLOOP,
        &[
            "-c",
            "1",
            "--think-us",
            "200",
            "--work-us",
            "0",
            "-r",
            "0.3",
            "-w",
            "0.05",
        ],
    );
    // one client thinking 200 us per request: at most 1500 in 0.3 s
    let events = u(&v, "events");
    assert!((10..=1500).contains(&events), "{events}");
    assert_eq!(check_summary(&v["reply"], 10), events);
}

#[test]
fn evloop_refuses_bad_flags() {
    for args in [
        &["-c", "0"][..],
        &["-c", "1025"],
        &["--backend", "kqueue"],
        &["--work-us", "1000001"],
        &["--think-us", "-1"],
        &["-r", "0"],
        &["-w", "-0.5"],
    ] {
        let (rc, out, err) = run(EVLOOP, args);
        assert_eq!(rc, 2, "{args:?}: {out} {err}");
        assert!(!err.is_empty(), "{args:?} says why");
    }
}

/// Counts consistent; returns (polled_hits, sleeps, consumer_cpu_percent).
fn check_pollloop(v: &Value, min_events: u64) -> (u64, u64, f64) {
    let events = u(v, "events");
    assert!(events >= min_events, "{events} events: {v}");
    assert_eq!(check_summary(&v["wake"], min_events), events);
    assert_eq!(u(v, "produced"), events, "every produced event is handled");
    let (polled, sleeps) = (u(v, "polled_hits"), u(v, "sleeps"));
    assert_eq!(polled + sleeps, events);
    // the two paths' latencies split the events between them
    assert_eq!(u(&v["wake_polled"], "count"), polled, "{v}");
    assert_eq!(u(&v["wake_slept"], "count"), sleeps, "{v}");
    assert!(u(v, "same_cpu_events") <= events, "{v}");
    // an eventfd write only wakes a consumer that announced its sleep
    assert!(u(v, "eventfd_writes") <= sleeps + u(v, "spurious_wakeups") + 2);
    let rate = f(v, "events_per_sec");
    assert!(rate > 0.0);
    // slots: produced + missed + dropped <= rate * runtime (+3 at the window edges)
    let slots = u(v, "missed_slots") + u(v, "ring_full_drops") + events;
    let cfg = &v["config"];
    let budget = f(cfg, "rate") * f(cfg, "runtime_s") + 3.0;
    assert!(slots as f64 <= budget, "{slots} slots > {budget}");
    let cpu = f(v, "consumer_cpu_percent");
    assert!((0.0..=105.0).contains(&cpu), "cpu {cpu}%");
    (polled, sleeps, cpu)
}

#[test]
fn pollloop_polls_or_sleeps() {
    let base = ["--rate", "1000", "-r", "0.5", "-w", "0.1"];
    // never polling: the consumer sleeps before (nearly) every event
    let mut a = base.to_vec();
    a.extend(["--poll-us", "0"]);
    let v = run_json(POLLLOOP, &a);
    assert_eq!(u(&v["config"], "poll_us"), 0);
    assert_eq!(u(&v["config"], "rate"), 1000);
    let (_, sleeps_lo, cpu_lo) = check_pollloop(&v, 100);
    assert!(sleeps_lo > 0, "{v}");
    // polling longer than the 1 ms between events: it catches events polling
    let mut a = base.to_vec();
    a.extend(["--poll-us", "5000"]);
    let v = run_json(POLLLOOP, &a);
    let (polled_hi, _, cpu_hi) = check_pollloop(&v, 100);
    assert!(polled_hi > 0, "{v}");
    assert!(cpu_hi > cpu_lo, "polling costs CPU: {cpu_hi}% vs {cpu_lo}%");

    let (rc, out, err) = run(POLLLOOP, &["-r", "0.3", "-w", "0.05"]);
    assert_eq!(rc, 0, "{err}");
    assert!(
        out.contains("wake latency")
            && out.contains("missed slots")
            && out.contains("same CPU as the producer"),
        "{out}"
    );
}

#[test]
fn pollloop_refuses_bad_flags() {
    for args in [
        &["--rate", "0"][..],
        &["--rate", "1000001"],
        &["--poll-us", "1000001"],
        &["-r", "0"],
        &["-r", "100000"],
        &["-w", "3601"],
    ] {
        let (rc, out, err) = run(POLLLOOP, args);
        assert_eq!(rc, 2, "{args:?}: {out} {err}");
        assert!(!err.is_empty(), "{args:?} says why");
    }
}
