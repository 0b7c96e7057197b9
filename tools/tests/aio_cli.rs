//! aio-bench: a `--file` run on this host reports sane numbers and cleans
//! up; bad flags exit 2. Needs fio: without it these tests fail (they do not
//! skip), saying so.

use std::path::PathBuf;
use std::process::Command;

fn run(args: &[&str]) -> (i32, String, String) {
    let o = Command::new(env!("CARGO_BIN_EXE_aio-bench"))
        .args(args)
        .output()
        .expect("aio-bench runs");
    (
        o.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&o.stdout).into_owned(),
        String::from_utf8_lossy(&o.stderr).into_owned(),
    )
}

fn require_fio() {
    match Command::new("fio").arg("--version").output() {
        Ok(o) if o.status.success() => {}
        Ok(o) => panic!(
            "`fio --version` failed: {}",
            String::from_utf8_lossy(&o.stderr)
        ),
        Err(e) => panic!("fio not found ({e}): apt-get install fio (the aio-bench tests need it)"),
    }
}

/// A fresh, empty directory under cargo's per-target temp dir (on disk).
fn scratch(name: &str) -> PathBuf {
    let d = PathBuf::from(env!("CARGO_TARGET_TMPDIR"))
        .join(format!("aio-bench-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

#[test]
fn file_run_reports_iops_and_migrations() {
    require_fio();
    let dir = scratch("json");
    let (rc, out, err) = run(&["--file", dir.to_str().unwrap(), "--runtime", "1", "--json"]);
    assert_eq!(rc, 0, "aio-bench failed: {err}");
    let v: serde_json::Value = serde_json::from_str(out.trim()).unwrap();
    let ios = v["ios"].as_u64().unwrap();
    let iops = v["iops"].as_f64().unwrap();
    let runtime = v["runtime_s"].as_f64().unwrap();
    assert!(ios > 0 && iops > 0.0, "{out}");
    assert!(runtime > 0.0 && runtime < 10.0, "{out}");
    // fio's IOPS is its I/O count over its runtime (ms resolution)
    assert!(
        (iops * runtime - ios as f64).abs() <= ios as f64 * 0.01 + 2.0,
        "{out}"
    );
    let mig = v["submitter_migrations"].as_u64().unwrap();
    let per_k = v["migrations_per_kilo_io"].as_f64().unwrap();
    assert!(per_k >= 0.0);
    let want = mig as f64 * 1000.0 / ios as f64;
    assert!((per_k - want).abs() <= 1e-9 * want.max(1.0), "{out}");
    // the job thread was found: not fio's main thread, it ran, and it did
    // (at most about) one voluntary switch per I/O at iodepth 1
    assert!(v["fio_threads_seen"].as_u64().unwrap() >= 2, "{out}");
    assert!(v["submitter_cpu_ms"].as_f64().unwrap() > 0.0, "{out}");
    let vol = v["submitter_voluntary_switches"].as_u64().unwrap();
    assert!(vol > 0 && vol <= ios + 1000, "{out}");
    assert!(
        v["submitter_involuntary_switches"].as_u64().is_some(),
        "{out}"
    );
    let (p50, p99) = (
        v["lat_p50_us"].as_f64().unwrap(),
        v["lat_p99_us"].as_f64().unwrap(),
    );
    assert!(p50 > 0.0 && p99 >= p50, "{out}");
    assert_eq!(v["config"]["target"], "file");
    assert_eq!(v["config"]["rw"], "write");
    assert_eq!(v["config"]["iodepth"], 1);
    assert_eq!(v["config"]["runtime_s"], 1);
    assert!(v["fio_version"].as_str().unwrap().starts_with("fio-"));
    let cmd: Vec<&str> = v["fio_command"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a.as_str().unwrap())
        .collect();
    for want in [
        "fio",
        "--ioengine=libaio",
        "--direct=1",
        "--thread",
        "--numjobs=1",
    ] {
        assert!(cmd.contains(&want), "{want} not in {cmd:?}");
    }
    // the file fio wrote is gone
    let left: Vec<_> = std::fs::read_dir(&dir).unwrap().collect();
    assert!(left.is_empty(), "left behind: {left:?}");
    std::fs::remove_dir(&dir).unwrap();
}

#[test]
fn text_output_at_depth_4() {
    require_fio();
    let dir = scratch("text");
    let (rc, out, err) = run(&[
        "--file",
        dir.to_str().unwrap(),
        "--runtime",
        "1",
        "--iodepth",
        "4",
        "--size-mb",
        "32",
    ]);
    assert_eq!(rc, 0, "aio-bench failed: {err}");
    for want in [
        "iops ",
        "migrations ",
        "per 1000 IOs",
        "iodepth 4",
        "32 MiB",
    ] {
        assert!(out.contains(want), "{want} missing: {out}");
    }
    assert_eq!(std::fs::read_dir(&dir).unwrap().count(), 0);
    std::fs::remove_dir(&dir).unwrap();
}

#[test]
fn bad_flags_exit_2() {
    let dir = scratch("flags");
    let d = dir.to_str().unwrap();
    let existing = dir.join("precious");
    std::fs::write(&existing, b"data").unwrap();
    for args in [
        vec!["--bogus"],
        vec!["--iodepth", "0"],
        vec!["--runtime", "0"],
        vec!["--target", "nvme"],
        vec!["--file", d, "--target", "raw"],
        vec!["--file", d, "--null-gb", "2"],
        vec!["--target", "raw", "--size-mb", "64"],
        vec!["--null-irqmode", "3"],
        vec!["--file", d, "--null-irqmode", "2"],
        vec!["--file", existing.to_str().unwrap()],
    ] {
        let (rc, _, err) = run(&args);
        assert_eq!(rc, 2, "{args:?}: {err}");
        assert!(!err.is_empty(), "{args:?}: no message");
    }
    // the existing file was not touched
    assert_eq!(std::fs::read(&existing).unwrap(), b"data");
    std::fs::remove_dir_all(&dir).unwrap();
}
