//! hackbench really exchanges the messages, in all four modes.

use scx_proxy_tools::hackbench::{run, Config, HackResult, Ipc, Mode};
use std::process::Command;

fn small(ipc: Ipc, mode: Mode) -> Config {
    Config {
        groups: 2,
        fds: 3,
        loops: 50,
        datasize: 100,
        ipc,
        mode,
        sched_stats: true,
    }
}

#[test]
fn all_modes_run_and_count() {
    let have_sched = std::path::Path::new("/proc/thread-self/sched").exists();
    for ipc in [Ipc::Pipe, Ipc::Socket] {
        for mode in [Mode::Threads, Mode::Processes] {
            let cfg = small(ipc, mode);
            let r = run(&cfg).unwrap_or_else(|e| panic!("{ipc:?}/{mode:?}: {e:#}"));
            assert_eq!(r.messages, 2 * 3 * 3 * 50);
            assert_eq!(r.tasks, 12);
            assert!(r.time_s > 0.0 && r.time_s < 60.0, "{}", r.time_s);
            assert!((r.msgs_per_s - r.messages as f64 / r.time_s).abs() < 1e-6 * r.msgs_per_s);
            if have_sched {
                let st = r.sched_stats.expect("stats from /proc/thread-self/sched");
                assert_eq!(st.workers, 12, "{ipc:?}/{mode:?}");
                // the counters were read: some worker blocked (a receiver
                // waiting for its sender). Not every one need: a worker
                // whose start signal and messages were already there when
                // it read never sleeps (11 switches for 12 workers in a
                // CI-like run on 2026-12-03)
                assert!(st.voluntary_switches >= 1, "{st:?}");
            }
        }
    }
}

#[test]
fn large_messages_cross_pipe_buffer() {
    // 100 KiB messages exceed the 64 KiB pipe buffer: partial reads/writes.
    let cfg = Config {
        groups: 1,
        fds: 2,
        loops: 5,
        datasize: 100 * 1024,
        ipc: Ipc::Pipe,
        mode: Mode::Threads,
        sched_stats: false,
    };
    let r = run(&cfg).unwrap();
    assert_eq!(r.messages, 20);
    assert!(r.sched_stats.is_none());
}

#[test]
fn binary_json_and_human_output() {
    let exe = env!("CARGO_BIN_EXE_hackbench");
    let out = Command::new(exe)
        .args(["-p", "-T", "-g", "1", "-f", "4", "-l", "10", "--json"])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let r: HackResult = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(r.messages, 4 * 4 * 10);
    assert_eq!(r.config.mode, Mode::Threads);

    let out = Command::new(exe)
        .args(["-g", "1", "-f", "2", "-l", "5"])
        .output()
        .unwrap();
    let s = String::from_utf8(out.stdout).unwrap();
    let t = s
        .lines()
        .find_map(|l| l.strip_prefix("Time: "))
        .expect("Time: line");
    // printed to the millisecond (like rt-tests): a fast run prints 0.000
    let t: f64 = t.parse().expect("Time: is a number");
    assert!(t.is_finite() && t >= 0.0, "Time: {t}");
    assert!(s.contains("messages/s"), "{s}");
}

#[test]
fn binary_rejects_zero_groups() {
    let out = Command::new(env!("CARGO_BIN_EXE_hackbench"))
        .args(["-g", "0"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("--groups must be at least 1"));
}
