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
    fn kernel_release_is_nonempty() {
        assert!(!kernel_release().is_empty());
    }
}
