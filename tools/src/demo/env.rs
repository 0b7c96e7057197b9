//! Environment checks, cgroup v2 handling and system metadata.

use std::fmt;
use std::fs;
use std::io::ErrorKind;
use std::path::{Path, PathBuf};
use std::thread;
use std::time::{Duration, Instant};

use anyhow::{anyhow, Context, Result};

/// Why `run` refuses to start.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EnvError {
    NotRoot { euid: u32 },
    NoCgroup2 { root: PathBuf },
    NoCpuController { root: PathBuf, available: String },
}

impl fmt::Display for EnvError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            EnvError::NotRoot { euid } => write!(
                f,
                "must run as root (effective uid is {euid}): it creates cgroups and sets nice -20"
            ),
            EnvError::NoCgroup2 { root } => write!(
                f,
                "cgroup v2 is not mounted at {} (no cgroup.controllers there; a cgroup v1 or hybrid layout is not supported)",
                root.display()
            ),
            EnvError::NoCpuController { root, available } => write!(
                f,
                "the cpu controller is not available in cgroup v2 at {} (cgroup.controllers: \"{}\"; is it bound to a cgroup v1 hierarchy?)",
                root.display(),
                available
            ),
        }
    }
}

impl std::error::Error for EnvError {}

/// Whether `word` is one of the whitespace-separated words of `list`.
pub fn has_word(list: &str, word: &str) -> bool {
    list.split_whitespace().any(|w| w == word)
}

/// Check that `run` can work with the cgroup v2 hierarchy at `cgroup_root`
/// as effective uid `euid`.
pub fn check_environment(cgroup_root: &Path, euid: u32) -> Result<(), EnvError> {
    if euid != 0 {
        return Err(EnvError::NotRoot { euid });
    }
    let controllers = match fs::read_to_string(cgroup_root.join("cgroup.controllers")) {
        Ok(s) => s,
        Err(_) => {
            return Err(EnvError::NoCgroup2 {
                root: cgroup_root.to_path_buf(),
            })
        }
    };
    if !has_word(&controllers, "cpu") {
        return Err(EnvError::NoCpuController {
            root: cgroup_root.to_path_buf(),
            available: controllers.trim().to_string(),
        });
    }
    Ok(())
}

/// Effective uid of this process.
pub fn euid() -> u32 {
    // SAFETY: geteuid has no preconditions.
    unsafe { libc::geteuid() }
}

/// Make sure `+cpu` is in `dir`'s `cgroup.subtree_control`.
pub fn enable_cpu_controller(dir: &Path) -> Result<()> {
    let path = dir.join("cgroup.subtree_control");
    let cur = fs::read_to_string(&path).with_context(|| format!("reading {}", path.display()))?;
    if has_word(&cur, "cpu") {
        return Ok(());
    }
    fs::write(&path, "+cpu").with_context(|| format!("writing +cpu to {}", path.display()))
}

/// Write `value` to a cgroup interface file.
pub fn cg_write(dir: &Path, file: &str, value: &str) -> Result<()> {
    let path = dir.join(file);
    fs::write(&path, value).with_context(|| format!("writing {value:?} to {}", path.display()))
}

/// Remove a cgroup directory after killing what is left in it; retries while
/// the kernel still reports it busy (exiting tasks).
pub fn remove_cgroup(dir: &Path) -> Result<()> {
    if !dir.exists() {
        return Ok(());
    }
    let kill = dir.join("cgroup.kill");
    if kill.exists() {
        let _ = fs::write(&kill, "1");
    }
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        match fs::remove_dir(dir) {
            Ok(()) => return Ok(()),
            Err(e) if e.kind() == ErrorKind::NotFound => return Ok(()),
            Err(e) if Instant::now() < deadline => {
                let _ = e;
                thread::sleep(Duration::from_millis(20));
            }
            Err(e) => return Err(anyhow!("removing cgroup {}: {e}", dir.display())),
        }
    }
}

/// Kernel release (`uname -r`).
pub fn kernel_release() -> String {
    // SAFETY: utsname is plain data; uname fills it.
    unsafe {
        let mut u: libc::utsname = std::mem::zeroed();
        if libc::uname(&mut u) != 0 {
            return "unknown".into();
        }
        std::ffi::CStr::from_ptr(u.release.as_ptr())
            .to_string_lossy()
            .into_owned()
    }
}

/// Number of online CPUs.
pub fn online_cpus() -> usize {
    std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(1)
}

/// Which scheduler is attached.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SchedInfo {
    /// `/sys/kernel/sched_ext/state`, if it exists.
    pub state: Option<String>,
    /// sched_ext ops name when enabled, else "default".
    pub scheduler: String,
}

/// Read the sched_ext state under `sysfs` (normally `/sys/kernel/sched_ext`).
pub fn sched_info_at(sysfs: &Path) -> SchedInfo {
    let read = |p: PathBuf| fs::read_to_string(p).ok().map(|s| s.trim().to_string());
    let state = read(sysfs.join("state"));
    let ops = read(sysfs.join("root/ops")).filter(|s| !s.is_empty());
    let scheduler = match (&state, ops) {
        (Some(st), Some(ops)) if st == "enabled" => ops,
        _ => "default".to_string(),
    };
    SchedInfo { state, scheduler }
}

pub fn sched_info() -> SchedInfo {
    sched_info_at(Path::new("/sys/kernel/sched_ext"))
}

/// scx_proxy's flags that change its policy, so that a run's configuration
/// names them: (flag, takes a value, name shown).
const SCX_PROXY_POLICY_FLAGS: [(&str, bool, &str); 9] = [
    ("--no-proxy", false, "--no-proxy"),
    ("--no-kernel-locks", false, "--no-kernel-locks"),
    ("--no-futex", false, "--no-futex"),
    ("--no-cpu-donation", false, "--no-cpu-donation"),
    ("--slice-us", true, "--slice-us"),
    ("-s", true, "--slice-us"),
    ("--slice-lag", true, "--slice-lag"),
    ("--max-depth", true, "--max-depth"),
    ("--max-donation-us", true, "--max-donation-us"),
];

/// The configuration a run is labelled with: "default" without a sched_ext
/// scheduler; for scx_proxy, "scx_proxy" plus the policy flags among
/// `daemon_args` (the running daemon's arguments after argv\[0\], if found),
/// e.g. "scx_proxy --no-proxy"; otherwise the ops name without version.
pub fn config_name(scheduler: &str, daemon_args: Option<&[String]>) -> String {
    if scheduler == "default" {
        return "default".to_string();
    }
    let name = super::report::short_ops_name(scheduler);
    if name != "scx_proxy" {
        return name.to_string();
    }
    let mut out = name.to_string();
    let mut args = daemon_args.unwrap_or(&[]).iter();
    while let Some(a) = args.next() {
        let (flag, inline) = match a.split_once('=') {
            Some((f, v)) => (f, Some(v)),
            None => (a.as_str(), None),
        };
        let Some(&(_, takes_value, shown)) =
            SCX_PROXY_POLICY_FLAGS.iter().find(|(f, _, _)| *f == flag)
        else {
            continue;
        };
        out.push(' ');
        out.push_str(shown);
        if takes_value {
            match inline.map(str::to_string).or_else(|| args.next().cloned()) {
                Some(v) => {
                    out.push(' ');
                    out.push_str(&v);
                }
                None => break,
            }
        }
    }
    out
}

/// Arguments (after argv\[0\]) of a running process whose name is `comm`,
/// from `proc` (normally `/proc`); the first one found.
pub fn find_process_args(proc: &Path, comm: &str) -> Option<Vec<String>> {
    for e in fs::read_dir(proc).ok()?.flatten() {
        let name = e.file_name();
        if !name.to_string_lossy().bytes().all(|b| b.is_ascii_digit()) {
            continue;
        }
        let Ok(c) = fs::read_to_string(e.path().join("comm")) else {
            continue;
        };
        if c.trim_end() != comm {
            continue;
        }
        let Ok(cmd) = fs::read(e.path().join("cmdline")) else {
            continue;
        };
        let mut parts: Vec<String> = cmd
            .split(|&b| b == 0)
            .map(|p| String::from_utf8_lossy(p).into_owned())
            .collect();
        if parts.last().is_some_and(|p| p.is_empty()) {
            parts.pop();
        }
        if parts.is_empty() {
            continue; // a kernel thread or a zombie
        }
        parts.remove(0);
        return Some(parts);
    }
    None
}

/// [`config_name`] for the scheduler attached now.
pub fn detect_config(sched: &SchedInfo) -> String {
    let args = if sched.scheduler.starts_with("scx_proxy") {
        find_process_args(Path::new("/proc"), "scx_proxy")
    } else {
        None
    };
    config_name(&sched.scheduler, args.as_deref())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn words() {
        assert!(has_word("cpuset cpu io", "cpu"));
        assert!(!has_word("cpuset io memory", "cpu"));
    }

    #[test]
    fn sched_info_reads_sysfs() {
        let d = std::env::temp_dir().join(format!("demo-sched-{}", std::process::id()));
        fs::create_dir_all(d.join("root")).unwrap();
        assert_eq!(sched_info_at(&d.join("nope")).scheduler, "default");
        fs::write(d.join("state"), "disabled\n").unwrap();
        fs::write(d.join("root/ops"), "\n").unwrap();
        assert_eq!(sched_info_at(&d).scheduler, "default");
        assert_eq!(sched_info_at(&d).state.as_deref(), Some("disabled"));
        fs::write(d.join("state"), "enabled\n").unwrap();
        fs::write(d.join("root/ops"), "proxy_1.0\n").unwrap();
        assert_eq!(sched_info_at(&d).scheduler, "proxy_1.0");
        fs::remove_dir_all(&d).unwrap();
    }

    #[test]
    fn config_names() {
        let v = |a: &[&str]| a.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        let ops = "scx_proxy_0.1.0_x86_64_unknown_linux_gnu";
        assert_eq!(config_name("default", None), "default");
        assert_eq!(config_name(ops, None), "scx_proxy");
        assert_eq!(config_name(ops, Some(&v(&[]))), "scx_proxy");
        assert_eq!(
            config_name(ops, Some(&v(&["--stats-json", "/x", "--no-proxy"]))),
            "scx_proxy --no-proxy"
        );
        assert_eq!(
            config_name(
                ops,
                Some(&v(&["-v", "--max-depth", "2", "-s", "100", "--stats", "1"]))
            ),
            "scx_proxy --max-depth 2 --slice-us 100"
        );
        assert_eq!(
            config_name(ops, Some(&v(&["--slice-lag=8", "--no-cpu-donation"]))),
            "scx_proxy --slice-lag 8 --no-cpu-donation"
        );
        assert_eq!(config_name("bpfland_1.1.4_x86_64", None), "bpfland");
    }

    #[test]
    fn finds_a_process_by_name() {
        let d = std::env::temp_dir().join(format!("demo-proc-{}", std::process::id()));
        let _ = fs::remove_dir_all(&d);
        for (pid, comm, cmd) in [
            ("12", "bash\n", &b"bash\0-c\0x\0"[..]),
            ("13", "scx_proxy\n", &b""[..]),
            (
                "14",
                "scx_proxy\n",
                &b"/usr/bin/scx_proxy\0--no-proxy\0"[..],
            ),
        ] {
            fs::create_dir_all(d.join(pid)).unwrap();
            fs::write(d.join(pid).join("comm"), comm).unwrap();
            fs::write(d.join(pid).join("cmdline"), cmd).unwrap();
        }
        fs::create_dir_all(d.join("self")).unwrap();
        assert_eq!(
            find_process_args(&d, "scx_proxy"),
            Some(vec!["--no-proxy".to_string()])
        );
        assert_eq!(find_process_args(&d, "scx_lavd"), None);
        fs::remove_dir_all(&d).unwrap();
    }

    #[test]
    fn kernel_release_is_nonempty() {
        assert!(!kernel_release().is_empty());
    }
}
