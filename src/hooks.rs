// SPDX-License-Identifier: GPL-2.0
//! Which lock-family hooks this kernel can take, and which ones scx_proxy
//! loads and attaches (the BPF side of each is in src/bpf/lock_*.bpf.c).
//!
//! - Kernel locks: the `contention_begin`/`contention_end` tracepoints,
//!   attached as `tp_btf` programs (the kernel's BTF must name them).
//! - Futex locks: fentry/fexit on `futex_wait`, `futex_lock_pi`,
//!   `futex_wake` and `futex_unlock_pi` where the kernel's BTF has all four
//!   (only futex calls pay for them); else the `syscalls:sys_{enter,exit}_futex`
//!   tracepoints, which send every syscall of every task through the
//!   kernel's slow path while attached.
//!
//! A family whose hooks this kernel lacks is left out: scx_proxy says so in
//! one line and in `--stats` (`hooks:`), and `ctl` refuses to turn it on;
//! with `--require-hooks`, or an explicit `--futex-hooks fentry|tracepoint`,
//! it refuses to start instead. A family turned off at start
//! (`--no-kernel-locks`, `--no-futex`) is loaded but not attached, so it
//! costs nothing; `ctl` attaches it when turned on. `ctl ...=off` leaves the
//! hooks attached, so that edges in flight still end with their waits.

use std::fmt;
use std::path::Path;

use anyhow::{bail, Result};
use libbpf_rs::btf::types::{Func, Typedef};
use libbpf_rs::Btf;

/// The kernel functions the fentry/fexit futex hooks attach to.
pub const FUTEX_FUNCS: [&str; 4] = [
    "futex_wait",
    "futex_lock_pi",
    "futex_wake",
    "futex_unlock_pi",
];

/// The BTF typedef the kernel makes for the tracepoint `tp_btf` programs use.
pub const KERNEL_LOCK_TP: &str = "btf_trace_contention_begin";

/// Where libbpf looks for tracepoint ids (tracefs, then debugfs).
const TRACEFS_EVENTS: [&str; 2] = [
    "/sys/kernel/tracing/events",
    "/sys/kernel/debug/tracing/events",
];

/// `--futex-hooks`: which futex hooks to use.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, clap::ValueEnum)]
pub enum FutexHooksOpt {
    /// fentry/fexit where the kernel has them, else the syscall tracepoints
    #[default]
    Auto,
    /// fentry/fexit on the kernel's futex functions, or refuse to start
    Fentry,
    /// the futex syscall tracepoints, or refuse to start
    Tracepoint,
}

/// The futex hooks in use.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FutexHooks {
    Fentry,
    Tracepoint,
}

/// What this kernel offers, as probed from its BTF and tracefs.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct KernelHooks {
    pub contention_tp: bool,
    pub futex_fentry: bool,
    pub futex_tracepoint: bool,
}

impl KernelHooks {
    /// Probe the running kernel.
    pub fn probe() -> Self {
        let btf = Btf::from_vmlinux().ok();
        let has_func = |name: &str| {
            btf.as_ref()
                .is_some_and(|b| b.type_by_name::<Func>(name).is_some())
        };
        Self {
            contention_tp: btf
                .as_ref()
                .is_some_and(|b| b.type_by_name::<Typedef>(KERNEL_LOCK_TP).is_some()),
            futex_fentry: FUTEX_FUNCS.iter().all(|f| has_func(f)),
            futex_tracepoint: TRACEFS_EVENTS
                .iter()
                .any(|d| Path::new(d).join("syscalls/sys_enter_futex/id").exists()),
        }
    }
}

/// The hooks scx_proxy loads: `None` for a family left out.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct HookPlan {
    pub kernel_locks: bool,
    pub futex: Option<FutexHooks>,
    /// Families left out because the kernel lacks their hooks.
    pub missing_kernel_locks: bool,
    pub missing_futex: bool,
}

impl HookPlan {
    /// Choose the hooks from what the kernel offers and what was asked.
    pub fn choose(k: KernelHooks, futex: FutexHooksOpt, require: bool) -> Result<Self> {
        let kernel_locks = k.contention_tp;
        if !kernel_locks && require {
            bail!(
                "--require-hooks: this kernel has no lock contention tracepoints \
                 ({KERNEL_LOCK_TP} is not in its BTF), so kernel mutexes cannot be tracked"
            );
        }
        let futex = match futex {
            FutexHooksOpt::Fentry if !k.futex_fentry => bail!(
                "--futex-hooks fentry: this kernel's BTF lacks one of {}",
                FUTEX_FUNCS.join(", ")
            ),
            FutexHooksOpt::Tracepoint if !k.futex_tracepoint => bail!(
                "--futex-hooks tracepoint: no syscalls:sys_enter_futex tracepoint \
                 (CONFIG_FTRACE_SYSCALLS, tracefs)"
            ),
            FutexHooksOpt::Fentry => Some(FutexHooks::Fentry),
            FutexHooksOpt::Tracepoint => Some(FutexHooks::Tracepoint),
            FutexHooksOpt::Auto if k.futex_fentry => Some(FutexHooks::Fentry),
            FutexHooksOpt::Auto if k.futex_tracepoint => Some(FutexHooks::Tracepoint),
            FutexHooksOpt::Auto if require => bail!(
                "--require-hooks: this kernel has neither fentry on {} nor the futex \
                 syscall tracepoints, so futex locks cannot be tracked",
                FUTEX_FUNCS.join("/")
            ),
            FutexHooksOpt::Auto => None,
        };
        Ok(Self {
            kernel_locks,
            futex,
            missing_kernel_locks: !kernel_locks,
            missing_futex: futex.is_none(),
        })
    }

    /// One line per family left out, for the log.
    pub fn warnings(&self) -> Vec<String> {
        let mut w = Vec::new();
        if self.missing_kernel_locks {
            w.push(format!(
                "kernel locks are not tracked: this kernel has no lock contention \
                 tracepoints ({KERNEL_LOCK_TP} is not in its BTF)"
            ));
        }
        if self.missing_futex {
            w.push(format!(
                "futex locks are not tracked: this kernel has neither fentry on {} \
                 nor the futex syscall tracepoints",
                FUTEX_FUNCS.join("/")
            ));
        }
        w
    }
}

impl fmt::Display for HookPlan {
    /// `kernel-locks=tp_btf futex=fentry` (`none` for a family left out).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let kl = if self.kernel_locks { "tp_btf" } else { "none" };
        let fx = match self.futex {
            Some(FutexHooks::Fentry) => "fentry",
            Some(FutexHooks::Tracepoint) => "tracepoint",
            None => "none",
        };
        write!(f, "kernel-locks={kl} futex={fx}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const ALL: KernelHooks = KernelHooks {
        contention_tp: true,
        futex_fentry: true,
        futex_tracepoint: true,
    };

    #[test]
    fn auto_prefers_fentry_then_tracepoint_then_none() {
        let p = HookPlan::choose(ALL, FutexHooksOpt::Auto, false).unwrap();
        assert_eq!(p.futex, Some(FutexHooks::Fentry));
        assert_eq!(p.to_string(), "kernel-locks=tp_btf futex=fentry");
        let k = KernelHooks {
            futex_fentry: false,
            ..ALL
        };
        let p = HookPlan::choose(k, FutexHooksOpt::Auto, false).unwrap();
        assert_eq!(p.futex, Some(FutexHooks::Tracepoint));
        let k = KernelHooks {
            futex_fentry: false,
            futex_tracepoint: false,
            ..ALL
        };
        let p = HookPlan::choose(k, FutexHooksOpt::Auto, false).unwrap();
        assert_eq!(p.futex, None);
        assert!(p.missing_futex);
        assert_eq!(p.warnings().len(), 1);
        assert_eq!(p.to_string(), "kernel-locks=tp_btf futex=none");
    }

    #[test]
    fn explicit_or_required_hooks_refuse_to_start_without_them() {
        let k = KernelHooks {
            futex_fentry: false,
            ..ALL
        };
        let e = HookPlan::choose(k, FutexHooksOpt::Fentry, false).unwrap_err();
        assert!(e.to_string().contains("futex_wait"), "{e}");
        assert_eq!(
            HookPlan::choose(k, FutexHooksOpt::Tracepoint, false)
                .unwrap()
                .futex,
            Some(FutexHooks::Tracepoint)
        );
        let k = KernelHooks {
            contention_tp: false,
            ..ALL
        };
        assert!(HookPlan::choose(k, FutexHooksOpt::Auto, true).is_err());
        let p = HookPlan::choose(k, FutexHooksOpt::Auto, false).unwrap();
        assert!(!p.kernel_locks && p.missing_kernel_locks);
        assert!(p.warnings()[0].contains("kernel locks are not tracked"));
        let none = KernelHooks::default();
        assert!(HookPlan::choose(none, FutexHooksOpt::Auto, true).is_err());
        assert!(HookPlan::choose(none, FutexHooksOpt::Tracepoint, false).is_err());
    }
}
