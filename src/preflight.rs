// SPDX-License-Identifier: GPL-2.0
//! Checks made before loading, each with a one-line error a user can act on.
//! The paths are parameters so that the checks can be tested without a
//! sched_ext kernel.

use anyhow::{bail, Result};
use std::path::Path;

/// The sched_ext sysfs directory of the running kernel.
pub const SCHED_EXT_SYSFS: &str = "/sys/kernel/sched_ext";

pub fn check_root(euid: u32) -> Result<()> {
    if euid != 0 {
        bail!("scx_proxy must run as root (it loads a BPF scheduler); try: sudo scx_proxy");
    }
    Ok(())
}

/// The kernel must have sched_ext.
pub fn check_sched_ext(sysfs: &Path, release: &str) -> Result<()> {
    if !sysfs.join("state").exists() {
        bail!(
            "kernel {release} has no sched_ext ({} is missing): boot a 6.12+ kernel \
             built with CONFIG_SCHED_CLASS_EXT=y",
            sysfs.display()
        );
    }
    Ok(())
}

/// State of the sched_ext core and the name of the attached scheduler.
pub fn attached_scheduler(sysfs: &Path) -> Option<String> {
    let state = std::fs::read_to_string(sysfs.join("state")).ok()?;
    if state.trim() == "disabled" {
        return None;
    }
    let ops = std::fs::read_to_string(sysfs.join("root/ops"))
        .map(|s| s.trim().to_string())
        .unwrap_or_default();
    Some(if ops.is_empty() {
        format!("unknown (state: {})", state.trim())
    } else {
        ops
    })
}

/// No other sched_ext scheduler may be attached.
pub fn check_no_other_scheduler(sysfs: &Path) -> Result<()> {
    if let Some(ops) = attached_scheduler(sysfs) {
        bail!(
            "another sched_ext scheduler is already attached: {ops} \
             (from {}/root/ops); stop it first",
            sysfs.display()
        );
    }
    Ok(())
}

/// libbpf resolves the scheduler's __kconfig externs from the kernel config.
pub fn check_kconfig(boot: &Path, proc_config: &Path, release: &str) -> Result<()> {
    let cfg = boot.join(format!("config-{release}"));
    if !cfg.exists() && !proc_config.exists() {
        bail!(
            "libbpf needs the kernel config to load a BPF scheduler, but neither {} nor {} \
             exists: install your kernel's config there, or give the CONFIG_ lines it needs with --kconfig",
            cfg.display(),
            proc_config.display()
        );
    }
    Ok(())
}

/// Keep the last `n` lines of a (verifier) log.
pub fn log_tail(log: &str, n: usize) -> String {
    let lines: Vec<&str> = log.lines().collect();
    let start = lines.len().saturating_sub(n);
    lines[start..].join("\n")
}
