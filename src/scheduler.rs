// SPDX-License-Identifier: GPL-2.0
//! Scheduler lifecycle: open, configure, load, attach, run, report, restart.

use std::collections::BTreeMap;
use std::mem::MaybeUninit;
use std::os::unix::fs::MetadataExt;
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use crossbeam::channel::RecvTimeoutError;
use libbpf_rs::{MapCore, MapFlags, OpenObject, PrintLevel};
use log::{info, warn};
use scx_stats::prelude::*;
use scx_utils::{scx_ops_attach, scx_ops_load, scx_ops_open, uei_exited, uei_report};
use scx_utils::{Topology, UserExitInfo};

use crate::bpf_intf;
use crate::bpf_skel::*;
use crate::hooks::{FutexHooks, HookPlan, KernelHooks};
use crate::knobs::Knobs;
use crate::opts::Opts;
use crate::report::{lock_kind_name, top_locks, LockEntry};
use crate::stats::{CgroupMetrics, Metrics, StatsReq, StatsRes};

/// libbpf's messages of the current load attempt, kept to show the verifier
/// log when the kernel rejects the program.
static LIBBPF_LOG: Mutex<String> = Mutex::new(String::new());
static LIBBPF_VERBOSE: AtomicBool = AtomicBool::new(false);

fn libbpf_print(_level: PrintLevel, msg: String) {
    // Everything is kept for the verifier log tail; -v also shows it live.
    if LIBBPF_VERBOSE.load(Ordering::Relaxed) {
        eprint!("{msg}");
    }
    if let Ok(mut log) = LIBBPF_LOG.lock() {
        if log.len() < (16 << 20) {
            log.push_str(&msg);
        }
    }
}

pub fn init_libbpf_logging(verbose: u8) {
    LIBBPF_VERBOSE.store(verbose > 0, Ordering::Relaxed);
    libbpf_rs::set_print(Some((PrintLevel::Debug, libbpf_print)));
}

fn take_libbpf_log() -> String {
    LIBBPF_LOG
        .lock()
        .map(|mut l| std::mem::take(&mut *l))
        .unwrap_or_default()
}

/// The kernel's bypass-mode slice (sched_ext module parameter).
const SLICE_BYPASS_PARAM: &str = "/sys/module/sched_ext/parameters/slice_bypass_us";
/// What scx_proxy sets it to while loaded, in microseconds.
const SLICE_BYPASS_US: u32 = 200;

/// Shortens the kernel's bypass slice while scx_proxy is loaded and puts
/// the old value back when dropped.
///
/// Why: whenever a sched_ext scheduler goes away (stopped, or ejected by the
/// watchdog), the kernel first puts every sched_ext task in bypass mode,
/// served round-robin with this slice (5 ms by default), and then waits for
/// RCU grace periods (percpu_down_write() of scx_fork_rwsem, then
/// synchronize_rcu()). The RCU grace-period kthread is itself a sched_ext
/// task. With N runnable tasks and real-time tasks leaving sched_ext only the
/// ext deadline server's share f, each of its wake-ups waits about
/// N * slice / f: with a storm's ~800 tasks and f = 5% of 2 CPUs that is
/// 40 s per wake-up, and a grace period needs several. The disable then
/// looks like a hang (docs/rt-disable-hang.md). A 200 us slice makes each
/// wait 25 times shorter. It only matters during bypass (enable, disable).
pub struct BypassSlice {
    old: Option<String>,
}

impl BypassSlice {
    pub fn shorten() -> Self {
        let old = std::fs::read_to_string(SLICE_BYPASS_PARAM)
            .ok()
            .map(|s| s.trim().to_string());
        match &old {
            Some(v) if std::fs::write(SLICE_BYPASS_PARAM, SLICE_BYPASS_US.to_string()).is_ok() => {
                info!("sched_ext bypass slice {v} us -> {SLICE_BYPASS_US} us while scx_proxy runs");
            }
            _ => {
                warn!("cannot set {SLICE_BYPASS_PARAM}: a disable under real-time load may be slow")
            }
        }
        Self { old }
    }
}

impl Drop for BypassSlice {
    fn drop(&mut self) {
        if let Some(v) = &self.old {
            let _ = std::fs::write(SLICE_BYPASS_PARAM, v);
        }
    }
}

pub struct Scheduler<'a> {
    skel: BpfSkel<'a>,
    struct_ops: Option<libbpf_rs::Link>,
    hooks: HookPlan,
    /// The lock-family hooks attached so far (kernel locks, futexes).
    kernel_lock_links: Vec<libbpf_rs::Link>,
    futex_links: Vec<libbpf_rs::Link>,
    stats_server: StatsServer<StatsReq, StatsRes>,
    top_locks: usize,
    cgroup_paths: BTreeMap<u64, String>,
    pub load_time: Duration,
}

impl<'a> Scheduler<'a> {
    pub fn init(opts: &Opts, open_object: &'a mut MaybeUninit<OpenObject>) -> Result<Self> {
        let topo = Topology::new().context("reading the CPU topology")?;
        let nr_cpus = *scx_utils::NR_CPU_IDS;
        let nr_llcs = topo.all_llcs.len().max(1);
        if nr_cpus > bpf_intf::consts_MAX_CPUS as usize {
            anyhow::bail!(
                "{nr_cpus} CPUs: scx_proxy supports at most {}",
                bpf_intf::consts_MAX_CPUS
            );
        }
        if nr_llcs > bpf_intf::consts_MAX_LLCS as usize {
            anyhow::bail!(
                "{nr_llcs} LLCs: scx_proxy supports at most {}",
                bpf_intf::consts_MAX_LLCS
            );
        }

        let skel_builder = BpfSkelBuilder::default();
        let open_opts = opts.libbpf.clone().into_bpf_open_opts();
        let mut skel = scx_ops_open!(skel_builder, open_object, proxy_ops, open_opts)?;
        skel.struct_ops.proxy_ops_mut().exit_dump_len = opts.exit_dump_len;

        let rodata = skel.maps.rodata_data.as_mut().context("no rodata")?;
        rodata.slice_ns = opts.slice_us * 1000;
        rodata.slice_lag_ns = opts.slice_us * 1000 * opts.slice_lag;
        rodata.wait_bound_ns = opts.wait_bound_ms * 1_000_000;
        rodata.rescue_slice_ns = (opts.slice_us * 1000 / 4).max(100_000);
        rodata.wakeup_preempt = !opts.no_wakeup_preempt;
        rodata.wakeup_busy_ns = opts.wakeup_busy_us.unwrap_or(opts.slice_us) * 1000;
        rodata.nr_llcs = nr_llcs as u32;
        rodata.nr_cpu_ids_ = nr_cpus as u32;
        // LLC index per CPU: the n-th LLC of the topology gets DSQ n.
        for (idx, llc) in topo.all_llcs.values().enumerate() {
            for cpu in llc.all_cpus.keys() {
                if *cpu < nr_cpus {
                    rodata.cpu_llc[*cpu] = idx as u32;
                    rodata.llc_cpus[idx] += 1;
                }
            }
        }
        let hooks = HookPlan::choose(KernelHooks::probe(), opts.futex_hooks, opts.require_hooks)?;
        for w in hooks.warnings() {
            warn!("{w}");
        }
        // Every lock-family program is attached by hand (attach_hooks), the
        // families this kernel cannot hook, and the futex hooks not in use,
        // are not even loaded.
        {
            let p = &mut skel.progs;
            let fentry = hooks.futex == Some(FutexHooks::Fentry);
            let tp = hooks.futex == Some(FutexHooks::Tracepoint);
            for (prog, load) in [
                (&mut p.proxy_contention_begin, hooks.kernel_locks),
                (&mut p.proxy_contention_end, hooks.kernel_locks),
                (&mut p.proxy_fentry_futex_wait, fentry),
                (&mut p.proxy_fexit_futex_wait, fentry),
                (&mut p.proxy_fentry_futex_lock_pi, fentry),
                (&mut p.proxy_fexit_futex_lock_pi, fentry),
                (&mut p.proxy_fentry_futex_wake, fentry),
                (&mut p.proxy_fexit_futex_wake, fentry),
                (&mut p.proxy_fentry_futex_unlock_pi, fentry),
                (&mut p.proxy_fexit_futex_unlock_pi, fentry),
                (&mut p.proxy_futex_enter, tp),
                (&mut p.proxy_futex_exit, tp),
            ] {
                prog.set_autoattach(false);
                prog.set_autoload(load);
            }
        }
        let mut knobs = Knobs::from_opts(opts);
        if !hooks.kernel_locks {
            knobs.kernel_locks = 0;
        }
        if hooks.futex.is_none() {
            knobs.futex = 0;
        }
        let data = skel.maps.data_data.as_mut().context("no data section")?;
        write_knobs(data, &knobs);

        let t0 = Instant::now();
        take_libbpf_log();
        let mut skel = match scx_ops_load!(skel, proxy_ops, uei) {
            Ok(s) => s,
            Err(e) => {
                let log = take_libbpf_log();
                if !log.is_empty() {
                    eprintln!("---- libbpf / verifier log (last 60 lines) ----");
                    eprintln!("{}", crate::preflight::log_tail(&log, 60));
                    eprintln!("---- end of log (run with -v for all of it) ----");
                }
                return Err(e.context("the kernel rejected scx_proxy's BPF program"));
            }
        };
        let load_time = t0.elapsed();
        let struct_ops = Some(scx_ops_attach!(skel, proxy_ops)?);
        let stats_server = launch_stats_server()?;
        let mut sched = Self {
            skel,
            struct_ops,
            hooks,
            kernel_lock_links: Vec::new(),
            futex_links: Vec::new(),
            stats_server,
            top_locks: opts.top_locks,
            cgroup_paths: BTreeMap::new(),
            load_time,
        };
        sched.attach_hooks(&knobs)?;

        info!(
            "scx_proxy attached in {:.2}s: {} CPUs, {} LLC(s), slice {} us, wakeup preemption {}, wait bound {} ms, proxy {}, cpu donation {}, kernel locks {}, futexes {}, max depth {}",
            load_time.as_secs_f64(),
            nr_cpus,
            nr_llcs,
            opts.slice_us,
            if opts.no_wakeup_preempt {
                "off".to_string()
            } else {
                format!(
                    "of tasks busy {} us",
                    opts.wakeup_busy_us.unwrap_or(opts.slice_us)
                )
            },
            opts.wait_bound_ms,
            if opts.no_proxy { "off" } else { "on" },
            if opts.no_cpu_donation { "off" } else { "on" },
            if knobs.kernel_locks == 0 { "off" } else { "on" },
            if knobs.futex == 0 { "off" } else { "on" },
            opts.max_depth
        );
        info!("lock hooks: {}", sched.hooks);
        Ok(sched)
    }

    /// Attach the hooks of each lock family whose knob is on and that is
    /// not attached yet. Hooks are never detached while the scheduler runs:
    /// a family turned off keeps them, so that edges in flight end with
    /// their waits (the BPF side makes no new ones).
    fn attach_hooks(&mut self, k: &Knobs) -> Result<()> {
        let p = &self.skel.progs;
        if k.kernel_locks != 0 && self.hooks.kernel_locks && self.kernel_lock_links.is_empty() {
            for prog in [&p.proxy_contention_begin, &p.proxy_contention_end] {
                self.kernel_lock_links
                    .push(prog.attach().context("attaching the kernel lock hooks")?);
            }
        }
        if k.futex != 0 && self.futex_links.is_empty() {
            let progs = match self.hooks.futex {
                Some(FutexHooks::Fentry) => vec![
                    &p.proxy_fentry_futex_wait,
                    &p.proxy_fexit_futex_wait,
                    &p.proxy_fentry_futex_lock_pi,
                    &p.proxy_fexit_futex_lock_pi,
                    &p.proxy_fentry_futex_wake,
                    &p.proxy_fexit_futex_wake,
                    &p.proxy_fentry_futex_unlock_pi,
                    &p.proxy_fexit_futex_unlock_pi,
                ],
                Some(FutexHooks::Tracepoint) => vec![&p.proxy_futex_enter, &p.proxy_futex_exit],
                None => vec![],
            };
            for prog in progs {
                self.futex_links
                    .push(prog.attach().context("attaching the futex hooks")?);
            }
        }
        Ok(())
    }

    /// The knobs in force (what the BPF side reads now).
    pub fn knobs(&self) -> Knobs {
        match self.skel.maps.data_data.as_ref() {
            Some(d) => Knobs {
                proxy: d.proxy_enabled as u32,
                cpu_donation: d.cpu_donation as u32,
                kernel_locks: d.track_kernel_locks as u32,
                futex: d.track_futexes as u32,
                max_depth: d.max_chain_depth,
                max_donation_us: d.max_donation_ns / 1000,
            },
            None => Knobs::default(),
        }
    }

    /// `scx_proxy ctl`: apply `sets` to the running scheduler, all or none.
    pub fn set_knobs(&mut self, sets: &BTreeMap<String, String>) -> Result<Knobs> {
        let old = self.knobs();
        let new = old.with(sets)?;
        if new.kernel_locks != 0 && !self.hooks.kernel_locks {
            anyhow::bail!(
                "kernel-locks=on: this kernel has no hooks for kernel locks ({})",
                self.hooks
            );
        }
        if new.futex != 0 && self.hooks.futex.is_none() {
            anyhow::bail!(
                "futex=on: this kernel has no hooks for futex locks ({})",
                self.hooks
            );
        }
        // hooks first: a knob is on only once its hooks are attached
        self.attach_hooks(&new)?;
        let data = self
            .skel
            .maps
            .data_data
            .as_mut()
            .context("no data section")?;
        write_knobs(data, &new);
        let changes = new.changes_from(&old);
        if !changes.is_empty() {
            info!("knobs changed: {}", changes.join(", "));
        }
        Ok(self.knobs())
    }

    /// The per-CPU counters, summed over CPUs (maxima for the slots that
    /// hold a maximum).
    fn read_counters(&self) -> Vec<u64> {
        let n = bpf_intf::stat_idx_NR_PROXY_STATS as usize;
        let mut sums = vec![0u64; n];
        for (i, sum) in sums.iter_mut().enumerate() {
            let key = (i as u32).to_ne_bytes();
            let is_max = i == bpf_intf::stat_idx_STAT_MAX_WAIT_NS as usize;
            if let Ok(Some(vals)) = self.skel.maps.stats.lookup_percpu(&key, MapFlags::ANY) {
                for v in vals {
                    if v.len() >= 8 {
                        let v = u64::from_ne_bytes(v[..8].try_into().unwrap());
                        *sum = if is_max { (*sum).max(v) } else { *sum + v };
                    }
                }
            }
        }
        sums
    }

    fn cgroup_path(&mut self, cgid: u64) -> String {
        if cgid == 1 {
            return "/".into();
        }
        if !self.cgroup_paths.contains_key(&cgid) {
            self.cgroup_paths = scan_cgroups(Path::new("/sys/fs/cgroup"));
        }
        self.cgroup_paths
            .get(&cgid)
            .cloned()
            .unwrap_or_else(|| format!("cgroup-{cgid}"))
    }

    pub fn metrics(&mut self) -> Metrics {
        use bpf_intf::*;
        let c = self.read_counters();
        let g = |i: stat_idx| c[i as usize];
        let mut m = Metrics {
            enq_shared: g(stat_idx_STAT_ENQ_SHARED),
            enq_local: g(stat_idx_STAT_ENQ_LOCAL),
            enq_kthread: g(stat_idx_STAT_ENQ_KTHREAD),
            enq_last: g(stat_idx_STAT_ENQ_LAST),
            idle_pick: g(stat_idx_STAT_IDLE_PICK),
            idle_kick: g(stat_idx_STAT_IDLE_KICK),
            wakeup_preempt: g(stat_idx_STAT_WAKEUP_PREEMPT),
            kthread_wake: g(stat_idx_STAT_KTHREAD_WAKE),
            sync_busy_waker: g(stat_idx_STAT_SYNC_BUSY_WAKER),
            wakee_stayed: g(stat_idx_STAT_WAKEE_STAYED),
            dispatch: g(stat_idx_STAT_DISPATCH),
            steal: g(stat_idx_STAT_STEAL),
            llc_balance: g(stat_idx_STAT_LLC_BALANCE),
            keep_running: g(stat_idx_STAT_KEEP_RUNNING),
            rescued: g(stat_idx_STAT_RESCUED),
            rescue_preempt: g(stat_idx_STAT_RESCUE_PREEMPT),
            cpu_release: g(stat_idx_STAT_CPU_RELEASE),
            reenq: g(stat_idx_STAT_REENQ),
            max_wait_us: g(stat_idx_STAT_MAX_WAIT_NS) / 1000,
            cgroup_table_full: g(stat_idx_STAT_CGROUP_TABLE_FULL),
            cpu_hotplug: g(stat_idx_STAT_CPU_HOTPLUG),
            rcu_reader: g(stat_idx_STAT_RCU_READER),
            kthread_rescued: g(stat_idx_STAT_KTHREAD_RESCUED),
            rcu_long: g(stat_idx_STAT_RCU_LONG),
            edge_mutex: g(stat_idx_STAT_EDGE_MUTEX),
            edge_rwsem: g(stat_idx_STAT_EDGE_RWSEM),
            edge_futex: g(stat_idx_STAT_EDGE_FUTEX),
            edge_pi_futex: g(stat_idx_STAT_EDGE_PI_FUTEX),
            edge_rejected: g(stat_idx_STAT_EDGE_REJECTED),
            edge_no_owner: g(stat_idx_STAT_EDGE_NO_OWNER),
            edge_table_full: g(stat_idx_STAT_EDGE_TABLE_FULL),
            edge_foreign: g(stat_idx_STAT_EDGE_FOREIGN),
            edge_nested: g(stat_idx_STAT_EDGE_NESTED),
            owner_released: g(stat_idx_STAT_OWNER_RELEASED),
            ref_stale: g(stat_idx_STAT_REF_STALE),
            donations: g(stat_idx_STAT_DONATIONS),
            donations_queued: g(stat_idx_STAT_DONATIONS_QUEUED),
            donations_running: g(stat_idx_STAT_DONATIONS_RUNNING),
            donations_sleeping: g(stat_idx_STAT_DONATIONS_SLEEPING),
            donations_passed: g(stat_idx_STAT_DONATIONS_PASSED),
            no_inversion: g(stat_idx_STAT_NO_INVERSION),
            walk_no_owner: g(stat_idx_STAT_WALK_NO_OWNER),
            owner_not_ext: g(stat_idx_STAT_OWNER_NOT_EXT),
            donation_end: g(stat_idx_STAT_DONATION_END),
            donation_expired: g(stat_idx_STAT_DONATION_EXPIRED),
            donation_tick_end: g(stat_idx_STAT_DONATION_TICK_END),
            donor_woken: g(stat_idx_STAT_DONOR_WOKEN),
            redonations: g(stat_idx_STAT_REDONATE),
            donor_handovers: g(stat_idx_STAT_DONOR_HANDOVER),
            cycles: g(stat_idx_STAT_CYCLES),
            depth_capped: g(stat_idx_STAT_DEPTH_CAPPED),
            proxy_migrations: g(stat_idx_STAT_PROXY_MIGRATIONS),
            proxy_local: g(stat_idx_STAT_PROXY_LOCAL),
            proxy_not_allowed: g(stat_idx_STAT_PROXY_NOT_ALLOWED),
            return_migrations: g(stat_idx_STAT_RETURN_MIGRATIONS),
            donated_us: g(stat_idx_STAT_DONATED_NS) / 1000,
            depth_hist: (stat_idx_STAT_DEPTH_1..=stat_idx_STAT_DEPTH_8P)
                .map(|i| c[i as usize])
                .collect(),
            blocked_now: self.skel.maps.blocked_tasks.keys().count() as u64,
            knobs: self.knobs(),
            hooks: self.hooks.to_string(),
            ..Default::default()
        };

        let cg_entries: Vec<(u64, cgrp_ctx)> = self
            .skel
            .maps
            .cgrp_ctxs
            .keys()
            .filter_map(|k| {
                let v = self.skel.maps.cgrp_ctxs.lookup(&k, MapFlags::ANY).ok()??;
                let id = u64::from_ne_bytes(k[..8].try_into().ok()?);
                Some((id, plain_from_bytes::<cgrp_ctx>(&v)?))
            })
            .collect();
        for (id, cg) in cg_entries {
            if cg.nr_dispatches == 0 && cg.runtime_ns == 0 {
                continue;
            }
            let path = self.cgroup_path(id);
            m.cgroups.insert(
                path,
                CgroupMetrics {
                    weight: cg.weight as u64,
                    nr_runnable: cg.nr_runnable as u64,
                    nr_dispatches: cg.nr_dispatches,
                    runtime_us: cg.runtime_ns / 1000,
                },
            );
        }

        let locks: Vec<LockEntry> = self
            .skel
            .maps
            .lock_stats
            .keys()
            .filter_map(|k| {
                let v = self.skel.maps.lock_stats.lookup(&k, MapFlags::ANY).ok()??;
                let l = plain_from_bytes::<lock_stat>(&v)?;
                let comm: Vec<u8> = l
                    .owner_comm
                    .iter()
                    .take_while(|c| **c != 0)
                    .map(|c| *c as u8)
                    .collect();
                Some(LockEntry {
                    addr: format!("{:#x}", l.addr),
                    kind: lock_kind_name(l.type_).to_string(),
                    owner: format!("{}/{}", String::from_utf8_lossy(&comm), l.owner_pid),
                    waiter_tgid: l.waiter_tgid,
                    waiting: l.nr_waiting,
                    waits: l.nr_waits,
                    donations: l.nr_donations,
                    blocked_us: l.blocked_ns / 1000,
                })
            })
            .collect();
        m.locks = top_locks(locks, self.top_locks);
        m
    }

    fn exited(&mut self) -> bool {
        uei_exited!(&self.skel, uei)
    }

    /// Serve statistics until asked to stop or the kernel ends the scheduler.
    pub fn run(&mut self, shutdown: Arc<AtomicBool>) -> Result<UserExitInfo> {
        let (res_ch, req_ch) = self.stats_server.channels();
        while !shutdown.load(Ordering::Relaxed) && !self.exited() {
            match req_ch.recv_timeout(Duration::from_millis(250)) {
                Ok(StatsReq::Metrics) => {
                    res_ch.send(StatsRes::Metrics(Box::new(self.metrics())))?
                }
                Ok(StatsReq::Knobs(sets)) => {
                    let r = self.set_knobs(&sets).map_err(|e| format!("{e:#}"));
                    if let Err(e) = &r {
                        warn!("knobs unchanged: {e}");
                    }
                    res_ch.send(StatsRes::Knobs(r))?
                }
                Err(RecvTimeoutError::Timeout) => {}
                Err(e) => Err(e)?,
            }
        }
        let _ = self.struct_ops.take();
        uei_report!(&self.skel, uei)
    }
}

impl Drop for Scheduler<'_> {
    fn drop(&mut self) {
        if self.struct_ops.is_some() {
            warn!("scx_proxy: detaching");
        }
    }
}

/// Write the knobs into the BPF program's `.data` (memory-mapped: the BPF
/// side sees each field at its next read; each is one aligned store).
fn write_knobs(data: &mut types::data, k: &Knobs) {
    data.proxy_enabled = k.proxy != 0;
    data.track_kernel_locks = k.kernel_locks != 0;
    data.track_futexes = k.futex != 0;
    data.cpu_donation = k.cpu_donation != 0;
    data.max_chain_depth = k.max_depth;
    data.max_donation_ns = k.max_donation_us * 1000;
}

/// Where scx_stats puts the socket (its default path).
pub const STATS_SOCKET: &str = "/var/run/scx/root/stats";

/// Start the stats server. Its socket also changes knobs, so only root may
/// connect: it is created under umask 077 (socket 0600, and a directory it
/// creates 0700), so there is no moment when another user could connect,
/// whatever the umask scx_proxy was started with. The chmod to 0600 after
/// it is a second guard.
fn launch_stats_server() -> Result<StatsServer<StatsReq, StatsRes>> {
    use std::os::unix::fs::PermissionsExt;
    extern "C" {
        fn umask(mask: u32) -> u32;
    }
    // SAFETY: umask(2) cannot fail; the old mask is put back just after.
    let old = unsafe { umask(0o077) };
    let server = StatsServer::new(crate::stats::server_data())
        .set_path(STATS_SOCKET)
        .launch();
    unsafe { umask(old) };
    let server = server.context("starting the stats server")?;
    let path = Path::new(STATS_SOCKET);
    if let Err(e) = std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600)) {
        warn!("cannot restrict {}: {e}", path.display());
    }
    Ok(server)
}

/// A value of a map whose C type is plain old data, copied out of its bytes.
fn plain_from_bytes<T: Copy>(bytes: &[u8]) -> Option<T> {
    if bytes.len() < std::mem::size_of::<T>() {
        return None;
    }
    // SAFETY: T is a bindgen-generated plain C struct (integers and arrays of
    // them), valid for any bit pattern, and bytes holds at least its size.
    Some(unsafe { std::ptr::read_unaligned(bytes.as_ptr() as *const T) })
}

/// cgroup id (the directory's inode number on cgroupfs) -> path.
pub fn scan_cgroups(root: &Path) -> BTreeMap<u64, String> {
    let mut out = BTreeMap::new();
    let mut stack = vec![root.to_path_buf()];
    while let Some(dir) = stack.pop() {
        if out.len() > 100_000 {
            break;
        }
        if let Ok(md) = std::fs::metadata(&dir) {
            let rel = dir.strip_prefix(root).unwrap_or(&dir);
            out.insert(md.ino(), format!("/{}", rel.display()));
        }
        if let Ok(rd) = std::fs::read_dir(&dir) {
            for e in rd.flatten() {
                if e.file_type().map(|t| t.is_dir()).unwrap_or(false) {
                    stack.push(e.path());
                }
            }
        }
    }
    out
}
