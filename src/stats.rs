// SPDX-License-Identifier: GPL-2.0
//! Scheduler statistics, served through scx_stats (`scx_proxy --monitor`)
//! and printed with `--stats`.

use std::collections::BTreeMap;
use std::io::Write;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use anyhow::Result;
use crossbeam::channel::{Receiver, Sender};
use scx_stats::prelude::*;
use scx_stats_derive::{stat_doc, Stats};
use serde::{Deserialize, Serialize};

use crate::knobs::Knobs;
use crate::report::LockEntry;

/// What a stats-socket client asks the scheduler loop for.
pub enum StatsReq {
    /// The counters now.
    Metrics,
    /// Set these knobs (key -> value; none: just read them).
    Knobs(BTreeMap<String, String>),
}

/// The scheduler loop's answer.
pub enum StatsRes {
    Metrics(Box<Metrics>),
    /// The knobs in force after the change, or why nothing changed.
    Knobs(std::result::Result<Knobs, String>),
}

#[stat_doc]
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, Stats)]
#[stat(_om_prefix = "c_", _om_label = "cgroup")]
pub struct CgroupMetrics {
    #[stat(desc = "cpu.weight")]
    pub weight: u64,
    #[stat(desc = "Runnable tasks now")]
    pub nr_runnable: u64,
    #[stat(desc = "Times one of its tasks started running")]
    pub nr_dispatches: u64,
    #[stat(desc = "CPU time charged, in microseconds")]
    pub runtime_us: u64,
}

#[stat_doc]
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, Stats)]
#[stat(top)]
pub struct Metrics {
    #[stat(desc = "Enqueued into a shared vtime DSQ")]
    pub enq_shared: u64,
    #[stat(desc = "Dispatched directly to an idle CPU")]
    pub enq_local: u64,
    #[stat(desc = "Per-CPU kthreads dispatched locally")]
    pub enq_kthread: u64,
    #[stat(desc = "SCX_ENQ_LAST: last task kept on its CPU")]
    pub enq_last: u64,
    #[stat(desc = "Idle CPUs picked in select_cpu")]
    pub idle_pick: u64,
    #[stat(desc = "Idle CPUs kicked after an enqueue")]
    pub idle_kick: u64,
    #[stat(desc = "Running tasks preempted for a waking task ahead in vtime")]
    pub wakeup_preempt: u64,
    #[stat(desc = "Woken by a per-CPU kthread on the CPU it last ran on: stayed there")]
    pub kthread_wake: u64,
    #[stat(desc = "Sync wakeups by a CPU-bound waker: sent to an idle CPU")]
    pub sync_busy_waker: u64,
    #[stat(desc = "No idle CPU at a wakeup: stayed on the waker's CPU, where it last ran")]
    pub wakee_stayed: u64,
    #[stat(desc = "Tasks moved from a shared DSQ to a CPU")]
    pub dispatch: u64,
    #[stat(desc = "... of which stolen from another LLC")]
    pub steal: u64,
    #[stat(desc = "Dispatches that pulled another LLC's head, fallen behind in vtime")]
    pub llc_balance: u64,
    #[stat(desc = "Previous task kept running (first in vtime order, or nothing else queued)")]
    pub keep_running: u64,
    #[stat(desc = "Tasks moved to a rescue DSQ: runnable past the wait bound")]
    pub rescued: u64,
    #[stat(desc = "Slices cut at a tick to make way for rescued tasks")]
    pub rescue_preempt: u64,
    #[stat(desc = "CPUs taken by a higher class (RT/DL): local DSQ re-enqueued")]
    pub cpu_release: u64,
    #[stat(desc = "Tasks re-enqueued from a local DSQ a higher class took")]
    pub reenq: u64,
    #[stat(desc = "Longest runnable wait seen, microseconds (a maximum, not a count)")]
    pub max_wait_us: u64,
    #[stat(desc = "Cgroups not tracked: table full (their tasks weighed alone)")]
    pub cgroup_table_full: u64,
    #[stat(desc = "CPUs that went offline or online")]
    pub cpu_hotplug: u64,
    #[stat(
        desc = "Tasks run first: per-CPU kthreads switched out runnable, RCU readers past the bound"
    )]
    pub rcu_reader: u64,
    #[stat(desc = "Kernel threads rescued to the urgent DSQ")]
    pub kthread_rescued: u64,
    #[stat(
        desc = "Tasks seen queued inside an RCU read-side section for over 1 s: moved to the urgent DSQ before the wait bound"
    )]
    pub rcu_long: u64,
    #[stat(desc = "Blocked-on edges: kernel mutexes")]
    pub edge_mutex: u64,
    #[stat(desc = "Blocked-on edges: rwsems")]
    pub edge_rwsem: u64,
    #[stat(desc = "Blocked-on edges: glibc futex mutexes")]
    pub edge_futex: u64,
    #[stat(desc = "Blocked-on edges: PI futexes")]
    pub edge_pi_futex: u64,
    #[stat(desc = "Futex waits rejected (not a locked mutex)")]
    pub edge_rejected: u64,
    #[stat(desc = "Contention with no owner left")]
    pub edge_no_owner: u64,
    #[stat(desc = "Edges not indexed: table full")]
    pub edge_table_full: u64,
    #[stat(
        desc = "Futex owners refused: another user's task, or a private futex of another process"
    )]
    pub edge_foreign: u64,
    #[stat(desc = "Kernel locks met inside a futex wait (futex edge kept)")]
    pub edge_nested: u64,
    #[stat(desc = "Futex owners that released the lock (their edges ended)")]
    pub owner_released: u64,
    #[stat(desc = "Remembered tasks whose pid was reused by another task (refused)")]
    pub ref_stale: u64,
    #[stat(desc = "Donations made")]
    pub donations: u64,
    #[stat(desc = "... to an owner waiting in a DSQ")]
    pub donations_queued: u64,
    #[stat(desc = "... to an owner already running")]
    pub donations_running: u64,
    #[stat(desc = "... to a sleeping owner (pending)")]
    pub donations_sleeping: u64,
    #[stat(desc = "Blocking owners that passed on their own donor's donation (chain middle)")]
    pub donations_passed: u64,
    #[stat(desc = "Lock waits whose owner was not behind the donor: nothing to lend")]
    pub no_inversion: u64,
    #[stat(desc = "Donation walks that met a lock with no known owner")]
    pub walk_no_owner: u64,
    #[stat(desc = "Donation walks that met an owner outside sched_ext (RT or PI-boosted)")]
    pub owner_not_ext: u64,
    #[stat(desc = "Donations ended (donor stopped waiting)")]
    pub donation_end: u64,
    #[stat(desc = "Donations that used up their time budget")]
    pub donation_expired: u64,
    #[stat(desc = "Running donees preempted at a tick: their donation had ended")]
    pub donation_tick_end: u64,
    #[stat(desc = "Donors woken in their wait (stop lending, donee preempted)")]
    pub donor_woken: u64,
    #[stat(desc = "Woken donors that slept again still blocked and lent again")]
    pub redonations: u64,
    #[stat(desc = "Runner-up donors that took over when the donor stopped")]
    pub donor_handovers: u64,
    #[stat(desc = "Lock waits whose chain walk met a cycle (deadlock)")]
    pub cycles: u64,
    #[stat(desc = "Lock waits whose chain walk stopped at --max-depth")]
    pub depth_capped: u64,
    #[stat(desc = "Proxy migrations: owner placed on the donor's CPU")]
    pub proxy_migrations: u64,
    #[stat(desc = "Owner boosted on its own CPU")]
    pub proxy_local: u64,
    #[stat(desc = "Donor's CPU not allowed for the owner")]
    pub proxy_not_allowed: u64,
    #[stat(desc = "Return migrations after a donation")]
    pub return_migrations: u64,
    #[stat(desc = "Time owners ran on donated context, microseconds")]
    pub donated_us: u64,
    #[stat(desc = "Chain depth histogram: depth 1, 2, ..., 8+")]
    pub depth_hist: Vec<u64>,
    #[stat(desc = "Blocked-on edges live now")]
    pub blocked_now: u64,
    #[stat(desc = "Knobs in force (scx_proxy ctl changes them)")]
    pub knobs: Knobs,
    #[stat(desc = "Lock hooks in use: kernel-locks=tp_btf|none futex=fentry|tracepoint|none")]
    pub hooks: String,
    #[stat(desc = "Per-cgroup accounting, by cgroup path")]
    pub cgroups: BTreeMap<String, CgroupMetrics>,
    #[stat(desc = "Most-contended locks")]
    pub locks: Vec<LockEntry>,
}

impl Metrics {
    /// Counters since `prev` (gauges, histograms of state and the lock list
    /// are taken as they are now).
    pub fn delta(&self, prev: &Self) -> Self {
        macro_rules! d {
            ($($f:ident),*) => { Self { $($f: self.$f.saturating_sub(prev.$f),)* ..self.clone() } };
        }
        let mut out = d!(
            enq_shared,
            enq_local,
            enq_kthread,
            enq_last,
            idle_pick,
            idle_kick,
            wakeup_preempt,
            kthread_wake,
            sync_busy_waker,
            wakee_stayed,
            dispatch,
            steal,
            llc_balance,
            keep_running,
            rescued,
            rescue_preempt,
            cpu_release,
            reenq,
            cgroup_table_full,
            cpu_hotplug,
            rcu_reader,
            kthread_rescued,
            rcu_long,
            edge_mutex,
            edge_rwsem,
            edge_futex,
            edge_pi_futex,
            edge_rejected,
            edge_no_owner,
            edge_table_full,
            edge_foreign,
            edge_nested,
            owner_released,
            ref_stale,
            donations,
            donations_queued,
            donations_running,
            donations_sleeping,
            donations_passed,
            no_inversion,
            walk_no_owner,
            owner_not_ext,
            donation_end,
            donation_expired,
            donation_tick_end,
            donor_woken,
            redonations,
            donor_handovers,
            cycles,
            depth_capped,
            proxy_migrations,
            proxy_local,
            proxy_not_allowed,
            return_migrations,
            donated_us
        );
        out.depth_hist = self
            .depth_hist
            .iter()
            .enumerate()
            .map(|(i, v)| v.saturating_sub(prev.depth_hist.get(i).copied().unwrap_or(0)))
            .collect();
        out
    }

    pub fn format<W: Write>(&self, w: &mut W) -> Result<()> {
        writeln!(
            w,
            "[scx_proxy] enq shared/local/kthr/last {}/{}/{}/{} | dispatch {} steal {} balance {} keep {} | idle pick/kick {}/{} | wakeup preempt {} | kthread wake {} | sync busy waker {} | wakee stayed {}",
            self.enq_shared, self.enq_local, self.enq_kthread, self.enq_last,
            self.dispatch, self.steal, self.llc_balance, self.keep_running, self.idle_pick, self.idle_kick,
            self.wakeup_preempt, self.kthread_wake, self.sync_busy_waker, self.wakee_stayed
        )?;
        writeln!(
            w,
            "  wait bound: rescued {} (kthreads {}, slices cut {}) | rcu readers first {} long {} | max wait {} us | cpu release {} re-enqueued {} | cgroups untracked {} | cpu hotplug {}",
            self.rescued, self.kthread_rescued, self.rescue_preempt, self.rcu_reader, self.rcu_long, self.max_wait_us, self.cpu_release, self.reenq, self.cgroup_table_full, self.cpu_hotplug
        )?;
        writeln!(
            w,
            "  edges mutex/rwsem/futex/pi {}/{}/{}/{} (rejected {} foreign {} nested {} no-owner {} released {} stale-ref {} live {}) | donations {} (queued {} running {} sleeping {} passed on {}) no-inversion {} no-owner {} not-ext {} end {} expired {} tick-end {} | donor woken {} re-lent {} handover {}",
            self.edge_mutex, self.edge_rwsem, self.edge_futex, self.edge_pi_futex,
            self.edge_rejected, self.edge_foreign, self.edge_nested, self.edge_no_owner,
            self.owner_released, self.ref_stale, self.blocked_now, self.donations,
            self.donations_queued, self.donations_running, self.donations_sleeping, self.donations_passed,
            self.no_inversion, self.walk_no_owner, self.owner_not_ext, self.donation_end, self.donation_expired, self.donation_tick_end,
            self.donor_woken, self.redonations, self.donor_handovers
        )?;
        writeln!(
            w,
            "  proxy mig {} local {} not-allowed {} | return mig {} | donated {} us | cycles {} capped {} | depth {:?}",
            self.proxy_migrations, self.proxy_local, self.proxy_not_allowed,
            self.return_migrations, self.donated_us, self.cycles, self.depth_capped,
            self.depth_hist
        )?;
        writeln!(w, "  knobs: {} | hooks: {}", self.knobs.line(), self.hooks)?;
        for (path, c) in &self.cgroups {
            writeln!(
                w,
                "  cgroup {:<28} weight {:>5} runnable {:>3} dispatches {:>8} runtime {:>10} us",
                path, c.weight, c.nr_runnable, c.nr_dispatches, c.runtime_us
            )?;
        }
        crate::report::format_locks(w, &self.locks)?;
        Ok(())
    }
}

fn ask_metrics(req_ch: &Sender<StatsReq>, res_ch: &Receiver<StatsRes>) -> Result<Metrics> {
    req_ch.send(StatsReq::Metrics)?;
    match res_ch.recv()? {
        StatsRes::Metrics(m) => Ok(*m),
        StatsRes::Knobs(_) => anyhow::bail!("stats: knobs answer to a metrics request"),
    }
}

pub fn server_data() -> StatsServerData<StatsReq, StatsRes> {
    let open: Box<dyn StatsOpener<StatsReq, StatsRes>> = Box::new(move |(req_ch, res_ch)| {
        let mut prev = ask_metrics(req_ch, res_ch)?;

        let read: Box<dyn StatsReader<StatsReq, StatsRes>> =
            Box::new(move |_args, (req_ch, res_ch)| {
                let cur = ask_metrics(req_ch, res_ch)?;
                let delta = cur.delta(&prev);
                prev = cur;
                delta.to_json()
            });

        Ok(read)
    });

    // `scx_proxy ctl`: the request's other arguments are the knobs to set
    let knobs: Box<dyn StatsReaderSend<StatsReq, StatsRes>> =
        Box::new(move |args, (req_ch, res_ch)| {
            req_ch.send(StatsReq::Knobs(crate::knobs::sets_of(args)))?;
            match res_ch.recv()? {
                StatsRes::Knobs(Ok(k)) => k.to_json(),
                StatsRes::Knobs(Err(e)) => Err(anyhow::anyhow!(e).context(StatsErrno(EINVAL))),
                StatsRes::Metrics(_) => anyhow::bail!("stats: metrics answer to a knobs request"),
            }
        });

    StatsServerData::new()
        .add_meta(CgroupMetrics::meta())
        .add_meta(crate::report::LockEntry::meta())
        .add_meta(Knobs::meta())
        .add_meta(Metrics::meta())
        .add_ops("top", StatsOps { open, close: None })
        .add_stats(crate::knobs::STATS_TARGET, knobs)
}

/// EINVAL, the errno the stats socket answers a refused knob change with.
const EINVAL: i32 = 22;

/// `--monitor`: print what a running scx_proxy serves, every `intv`.
pub fn monitor(intv: Duration, shutdown: Arc<AtomicBool>) -> Result<()> {
    scx_utils::monitor_stats::<Metrics>(
        &[],
        intv,
        || shutdown.load(Ordering::Relaxed),
        |metrics| metrics.format(&mut std::io::stdout()),
    )
}
