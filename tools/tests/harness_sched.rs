//! sched.rs: state/ops parsing and the start/stop protocol, against fake
//! sysfs files driven by fake scheduler scripts.

use scx_proxy_tools::sched::*;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

#[test]
fn state_parsing() {
    assert_eq!(parse_state("enabled\n").unwrap(), ScxState::Enabled);
    assert_eq!(parse_state("disabled").unwrap(), ScxState::Disabled);
    assert_eq!(parse_state(" enabling ").unwrap(), ScxState::Enabling);
    assert_eq!(parse_state("disabling\n").unwrap(), ScxState::Disabling);
    assert!(parse_state("").is_err());
    assert!(parse_state("enabledx").is_err());
}

#[test]
fn ops_matching() {
    assert!(ops_matches("scx_proxy\n", "scx_proxy"));
    assert!(ops_matches("bpfland_1.0.14_g1234_x86_64", "bpfland"));
    assert!(ops_matches("lavd", "lavd"));
    assert!(!ops_matches("bpfland", "lavd"));
    assert!(!ops_matches("scx", "scx_proxy"));
    assert!(!ops_matches("anything", ""));
}

#[test]
fn wait_for_times_out_and_succeeds() {
    let t = Instant::now();
    let r: Option<()> = wait_for(
        Duration::from_millis(100),
        Duration::from_millis(10),
        || None,
    );
    assert!(r.is_none());
    assert!(t.elapsed() >= Duration::from_millis(100));
    let mut n = 0;
    let r = wait_for(Duration::from_secs(5), Duration::from_millis(1), || {
        n += 1;
        (n == 3).then_some(n)
    });
    assert_eq!(r, Some(3));
    // called at least once even with a zero timeout
    assert_eq!(
        wait_for(Duration::ZERO, Duration::ZERO, || Some(1)),
        Some(1)
    );
}

struct Fake {
    dir: PathBuf,
    paths: SysfsPaths,
}

impl Fake {
    fn new(tag: &str) -> Fake {
        let dir =
            std::env::temp_dir().join(format!("harness-sched-{}-{}", tag, std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        let paths = SysfsPaths {
            state: dir.join("state"),
            ops: dir.join("ops"),
        };
        std::fs::write(&paths.state, "disabled\n").unwrap();
        Fake { dir, paths }
    }

    /// A fake scheduler: sleeps `delay`, attaches as `ops`, and on SIGINT
    /// detaches and exits with `exit_code`.
    fn script(&self, delay: &str, ops: &str, exit_code: i32) -> SchedCmd {
        let s = self.dir.join("fake.sh");
        let (st, op) = (self.paths.state.display(), self.paths.ops.display());
        std::fs::write(
            &s,
            format!(
                "#!/bin/sh\n\
                 trap 'rm -f {op}; echo disabled > {st}; exit {exit_code}' INT\n\
                 echo starting\n\
                 sleep {delay}\n\
                 echo {ops} > {op}\n\
                 echo enabled > {st}\n\
                 while :; do sleep 0.05; done\n"
            ),
        )
        .unwrap();
        SchedCmd {
            name: "fake".into(),
            binary: "/bin/sh".into(),
            args: vec![s.display().to_string()],
            ops_name: "scx_proxy".into(),
        }
    }

    fn log(&self) -> PathBuf {
        self.dir.join("log")
    }
}

impl Drop for Fake {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

fn state(p: &Path) -> String {
    std::fs::read_to_string(p).unwrap().trim().to_string()
}

#[test]
fn sysfs_reading() {
    let f = Fake::new("read");
    assert_eq!(f.paths.state().unwrap(), ScxState::Disabled);
    assert_eq!(f.paths.ops(), None);
    std::fs::write(&f.paths.ops, "scx_proxy\n").unwrap();
    std::fs::write(&f.paths.state, "enabled\n").unwrap();
    assert!(f.paths.is_enabled_as("scx_proxy"));
    assert!(!f.paths.is_enabled_as("lavd"));
    let missing = SysfsPaths {
        state: f.dir.join("nope"),
        ops: f.dir.join("nope2"),
    };
    assert!(missing.state().is_err());
}

#[test]
fn start_check_stop_cycle() {
    let f = Fake::new("cycle");
    let cmd = f.script("0.2", "scx_proxy_1.0", 0);
    let mut r = start(&cmd, &f.paths, &f.log(), Duration::from_secs(10)).unwrap();
    assert!(
        r.load_time >= Duration::from_millis(150),
        "{:?}",
        r.load_time
    );
    assert_eq!(state(&f.paths.state), "enabled");
    r.check_alive().unwrap();
    r.stop(Duration::from_secs(5)).unwrap();
    assert_eq!(state(&f.paths.state), "disabled");
    assert!(std::fs::read_to_string(f.log())
        .unwrap()
        .contains("starting"));
}

#[test]
fn wrong_ops_name_times_out() {
    let f = Fake::new("wrongops");
    let cmd = f.script("0", "lavd", 0);
    let err = start(&cmd, &f.paths, &f.log(), Duration::from_millis(700)).unwrap_err();
    let msg = format!("{err:#}");
    assert!(msg.contains("did not attach"), "{msg}");
    // the timed-out scheduler was interrupted and detached
    assert_eq!(state(&f.paths.state), "disabled");
}

#[test]
fn early_exit_is_reported_with_log() {
    let f = Fake::new("early");
    let cmd = SchedCmd {
        name: "crasher".into(),
        binary: "/bin/sh".into(),
        args: vec!["-c".into(), "echo verifier said no >&2; exit 7".into()],
        ops_name: "scx_proxy".into(),
    };
    let err = start(&cmd, &f.paths, &f.log(), Duration::from_secs(10)).unwrap_err();
    let msg = format!("{err:#}");
    assert!(
        msg.contains("exited") && msg.contains("verifier said no"),
        "{msg}"
    );
}

#[test]
fn nonzero_exit_on_sigint_fails_stop() {
    let f = Fake::new("badexit");
    let cmd = f.script("0", "scx_proxy", 3);
    let r = start(&cmd, &f.paths, &f.log(), Duration::from_secs(10)).unwrap();
    let err = r.stop(Duration::from_secs(5)).unwrap_err();
    assert!(format!("{err:#}").contains("want status 0"), "{err:#}");
}

#[test]
fn ejection_is_noticed() {
    let f = Fake::new("eject");
    let cmd = f.script("0", "scx_proxy", 0);
    let mut r = start(&cmd, &f.paths, &f.log(), Duration::from_secs(10)).unwrap();
    // the kernel kicks the scheduler out (e.g. watchdog): state goes disabled
    std::fs::write(&f.paths.state, "disabled\n").unwrap();
    let err = r.check_alive().unwrap_err();
    assert!(format!("{err:#}").contains("no longer attached"), "{err:#}");
    let _ = r.stop(Duration::from_secs(5));
}

#[test]
fn refuses_to_start_when_busy() {
    let f = Fake::new("busy");
    std::fs::write(&f.paths.state, "enabled\n").unwrap();
    std::fs::write(&f.paths.ops, "other\n").unwrap();
    let cmd = f.script("0", "scx_proxy", 0);
    let err = start(&cmd, &f.paths, &f.log(), Duration::from_secs(1)).unwrap_err();
    assert!(format!("{err:#}").contains("another scheduler"), "{err:#}");
}
