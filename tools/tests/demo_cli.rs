//! Host tests of inversion-demo's command line (runs the built binary).

use std::fs;
use std::path::PathBuf;
use std::process::{Command, Output};

fn demo(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_inversion-demo"))
        .args(args)
        .output()
        .expect("run inversion-demo")
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

fn tmpdir(tag: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("demo-cli-{tag}-{}", std::process::id()));
    let _ = fs::remove_dir_all(&d);
    fs::create_dir_all(&d).unwrap();
    d
}

#[test]
fn bad_scenario_is_rejected() {
    let o = demo(&["run", "--scenario", "nonsense", "--out", "/tmp/x.json"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(
        stderr(&o).contains("invalid value 'nonsense'"),
        "{}",
        stderr(&o)
    );
}

#[test]
fn chain_depth_must_be_1_to_4() {
    for bad in ["0", "5"] {
        let o = demo(&[
            "run",
            "--scenario",
            "chain",
            "--depth",
            bad,
            "--out",
            "/tmp/x.json",
        ]);
        assert_eq!(o.status.code(), Some(2), "depth {bad}");
        assert!(stderr(&o).contains("--depth"), "{}", stderr(&o));
    }
    let o = demo(&[
        "run",
        "--scenario",
        "futex",
        "--depth",
        "2",
        "--out",
        "/tmp/x.json",
    ]);
    assert_eq!(o.status.code(), Some(1));
    assert!(stderr(&o).contains("only valid with --scenario chain"));
}

#[test]
fn owner_spin_needs_a_lock_owner() {
    for sc in ["rename", "futex-nocontention"] {
        let o = demo(&[
            "run",
            "--scenario",
            sc,
            "--owner-spin-us",
            "1000",
            "--out",
            "/tmp/x.json",
        ]);
        assert_eq!(o.status.code(), Some(1), "{sc}");
        assert!(
            stderr(&o).contains("--owner-spin-us is only valid with lock owners"),
            "{sc}: {}",
            stderr(&o)
        );
    }
}

#[test]
fn empty_config_is_rejected() {
    let o = demo(&[
        "run",
        "--scenario",
        "futex",
        "--config",
        " ",
        "--out",
        "/tmp/x.json",
    ]);
    assert_eq!(o.status.code(), Some(1));
    assert!(
        stderr(&o).contains("--config must not be empty"),
        "{}",
        stderr(&o)
    );
}

#[test]
fn help_names_the_controls_and_config() {
    let o = demo(&["run", "--help"]);
    assert!(o.status.success());
    let h = String::from_utf8_lossy(&o.stdout);
    for want in [
        "futex-nocontention",
        "rename-nocontention",
        "--config",
        "--owner-spin-us",
    ] {
        assert!(h.contains(want), "run --help lacks {want}: {h}");
    }
}

#[test]
fn bad_duration_is_rejected() {
    let o = demo(&[
        "run",
        "--scenario",
        "rename",
        "--duration",
        "0",
        "--out",
        "/tmp/x.json",
    ]);
    assert_eq!(o.status.code(), Some(1));
    assert!(stderr(&o).contains("--duration"), "{}", stderr(&o));
}

#[test]
fn compare_needs_existing_files() {
    let o = demo(&["compare", "/nonexistent/a.json"]);
    assert_eq!(o.status.code(), Some(1));
    let e = stderr(&o);
    assert!(e.contains("cannot read /nonexistent/a.json"), "{e}");
    assert_eq!(e.trim().lines().count(), 1, "one-line error: {e}");
    let o = demo(&["compare"]);
    assert_eq!(o.status.code(), Some(2));
}

#[test]
fn run_refuses_without_cgroup_v2_cpu() {
    // A fake cgroup root without the cpu controller: refused as root for the
    // missing controller, as a normal user for not being root; either way
    // with a one-line error and nothing created.
    let d = tmpdir("cgroot");
    fs::write(d.join("cgroup.controllers"), "cpuset memory\n").unwrap();
    let root = d.to_str().unwrap();
    let out = d.join("out.json");
    let o = demo(&[
        "run",
        "--scenario",
        "rename",
        "--duration",
        "1",
        "--cgroup-root",
        root,
        "--out",
        out.to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(1));
    let e = stderr(&o);
    // SAFETY: geteuid has no preconditions.
    let want = if unsafe { libc::geteuid() } == 0 {
        "cpu controller is not available"
    } else {
        "must run as root"
    };
    assert!(e.contains(want), "{e}");
    assert_eq!(e.trim().lines().count(), 1, "{e}");
    assert!(!out.exists());
    assert_eq!(
        fs::read_dir(&d).unwrap().count(),
        1,
        "no cgroup was created"
    );
    fs::remove_dir_all(&d).unwrap();
}

#[test]
fn compare_writes_table_and_plot() {
    // Build two result files through the library, then compare them.
    use scx_proxy_tools::demo::cli::{CsClock, Scenario};
    use scx_proxy_tools::demo::report::{Params, RunResult, SCHEMA};
    use scx_proxy_tools::latency::LatencyRecorder;
    let d = tmpdir("compare");
    let mut files = Vec::new();
    for (i, tail_ms) in [(0, 800u64), (1, 20)] {
        let mut rec = LatencyRecorder::new();
        for k in 0..1000u64 {
            rec.record_ns(50_000 + k * 10);
        }
        rec.record_ns(tail_ms * 1_000_000);
        let r = RunResult {
            schema: SCHEMA.into(),
            label: format!("run{i}"),
            scenario: Scenario::Rename,
            duration_s: 1.0,
            params: Params {
                depth: 0,
                pi_mutex: false,
                cs_us: 1000,
                cs_clock: CsClock::Cpu,
                think_us: 0,
                owner_gap_us: 500,
                owner_spin_us: 0,
                hogs: 4,
                fg_weight: 10000,
                bg_weight: 4,
                hog_weight: 512,
                fg_nice: 0,
                bg_nice: 0,
                background_tasks: 1,
                workdir: "/tmp".into(),
            },
            kernel: "test".into(),
            ncpus: 2,
            scheduler: "default".into(),
            config: "default".into(),
            sched_ext_state: None,
            scheduler_at_end: "default".into(),
            started_unix_s: 0,
            latency: rec.summary(std::time::Duration::from_secs(1)),
        };
        let p = d.join(format!("run{i}.json"));
        r.write(&p).unwrap();
        files.push(p.to_str().unwrap().to_string());
    }
    let plot = d.join("cmp.png");
    let o = demo(&[
        "compare",
        &files[0],
        &files[1],
        "--markdown",
        "--plot",
        plot.to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let table = String::from_utf8_lossy(&o.stdout);
    assert!(table.contains("| run1 | rename | default |"), "{table}");
    assert!(!table.contains("scheduler"), "{table}");
    assert!(table.contains("0.03x"), "max ratio 20ms/800ms: {table}");
    assert!(fs::metadata(&plot).unwrap().len() > 1000);
    fs::remove_dir_all(&d).unwrap();
}
