//! Pre-load checks: each bad situation gets its own clear error.
use scx_proxy::preflight::*;
use std::fs;
use std::path::Path;

fn tmpdir(name: &str) -> std::path::PathBuf {
    let d = std::env::temp_dir().join(format!("scx-proxy-test-{}-{name}", std::process::id()));
    let _ = fs::remove_dir_all(&d);
    fs::create_dir_all(&d).unwrap();
    d
}

#[test]
fn non_root_is_refused() {
    let e = check_root(1000).unwrap_err().to_string();
    assert!(e.contains("must run as root"), "{e}");
    assert!(check_root(0).is_ok());
}

#[test]
fn kernel_without_sched_ext_is_refused() {
    let d = tmpdir("nosched");
    let e = check_sched_ext(&d.join("sched_ext"), "6.1.0-test")
        .unwrap_err()
        .to_string();
    assert!(e.contains("6.1.0-test has no sched_ext"), "{e}");
    assert!(e.contains("CONFIG_SCHED_CLASS_EXT"), "{e}");
}

#[test]
fn another_scheduler_is_named() {
    let d = tmpdir("other");
    fs::create_dir_all(d.join("root")).unwrap();
    fs::write(d.join("state"), "enabled\n").unwrap();
    fs::write(d.join("root/ops"), "bpfland_1.1.4\n").unwrap();
    assert!(check_sched_ext(&d, "x").is_ok());
    let e = check_no_other_scheduler(&d).unwrap_err().to_string();
    assert!(e.contains("already attached: bpfland_1.1.4"), "{e}");

    fs::write(d.join("state"), "disabled\n").unwrap();
    assert!(check_no_other_scheduler(&d).is_ok());
    assert_eq!(attached_scheduler(&d), None);
}

#[test]
fn missing_kernel_config_is_explained() {
    let d = tmpdir("kconfig");
    let e = check_kconfig(&d, &d.join("config.gz"), "7.3.4-test")
        .unwrap_err()
        .to_string();
    assert!(e.contains("config-7.3.4-test"), "{e}");
    fs::write(d.join("config-7.3.4-test"), "CONFIG_SCHED_CLASS_EXT=y\n").unwrap();
    assert!(check_kconfig(&d, Path::new("/nonexistent"), "7.3.4-test").is_ok());
}

#[test]
fn log_tail_keeps_the_end() {
    let log: String = (1..=100).map(|i| format!("line {i}\n")).collect();
    let t = log_tail(&log, 3);
    assert_eq!(t, "line 98\nline 99\nline 100");
    assert_eq!(log_tail("a\nb", 10), "a\nb");
}
