/* SPDX-License-Identifier: GPL-2.0 */
/*
 * scx_proxy: weighted-fair virtual-time scheduling with proxy execution.
 *
 * Base policy (this file):
 *  - Every task has a virtual time (p->scx.dsq_vtime) that advances by the
 *    time it runs scaled by 100 / its effective weight. A task in the root
 *    cgroup weighs its own weight (nice 0 = 100); a task in another cgroup
 *    weighs its cgroup's cpu.weight times its share of the cgroup's runnable
 *    weight. So a cgroup's tasks together get CPU in proportion to cpu.weight
 *    against their siblings. Cgroups are treated as flat: each one's own
 *    cpu.weight counts, whatever its depth.
 *  - A waking task's vtime is clamped to at most slice_lag_ns behind
 *    vtime_now: bounded credit for sleepers.
 *  - One shared vtime-ordered DSQ per LLC (DSQ id = LLC index). A CPU takes
 *    from its own LLC's DSQ first, then steals from the others.
 *  - select_cpu picks an idle CPU (prev first) and dispatches straight to it.
 *    Per-CPU kthreads and SCX_ENQ_LAST tasks go straight to the local DSQ.
 *
 * Invariants:
 *  - vtime_now only advances from tasks taken from a shared DSQ in vtime
 *    order, so a low-weight task dispatched directly to an idle CPU cannot
 *    drag everyone's sleeper credit forward.
 *  - A cgroup's sum_weight counts exactly its runnable tasks: added in
 *    ops.runnable, removed in ops.quiescent, moved in ops.cgroup_move,
 *    adjusted in ops.set_weight, via task_ctx.contrib_weight.
 *  - Nothing is placed on a CPU outside the task's cpumask: direct dispatch
 *    only targets the CPU select_cpu_dfl chose or one task_allowed_on() ok'd.
 *
 * Proxy execution lives in donate.bpf.c (chain walk, donation, migration)
 * and the lock_*.bpf.c files (where blocked_on edges come from).
 */
#include "scx_proxy.bpf.h"

char _license[] SEC("license") = "GPL";

UEI_DEFINE(uei);

#include "donate.bpf.c"
#include "lock_kernel.bpf.c"
#include "lock_futex.bpf.c"

static struct cgrp_ctx *cgrp_ctx_get(u64 cgid)
{
	return bpf_map_lookup_elem(&cgrp_ctxs, &cgid);
}

/* Effective weight of @p: its share of the whole machine, in weight units. */
static u32 task_eff_weight(struct task_struct *p, struct task_ctx *tctx)
{
	struct cgrp_ctx *cgc;
	u64 w = p->scx.weight ?: 1, sum;

	if (tctx->cgid == CGROUP_ROOT_ID)
		return w;
	cgc = cgrp_ctx_get(tctx->cgid);
	if (!cgc)
		return w;
	sum = cgc->sum_weight;
	if (sum < w)
		sum = w;
	w = (u64)cgc->weight * w / sum;
	return w ?: 1;
}

/*
 * Time run since ops.running, on a clock that is monotonic across CPUs, and
 * bounded: a bogus value must never throw a task's vtime far away.
 */
static u64 run_time(struct task_ctx *tctx)
{
	u64 now = bpf_ktime_get_ns(), start = tctx->last_run_at;

	if (!start || now <= start)
		return 0;
	now -= start;
	return now < 10000000000ULL ? now : 10000000000ULL;
}

static void cgrp_add_runnable(struct task_ctx *tctx, u32 weight)
{
	struct cgrp_ctx *cgc = cgrp_ctx_get(tctx->cgid);

	if (tctx->contrib_weight)
		return;
	tctx->contrib_weight = weight ?: 1;
	if (cgc) {
		__sync_fetch_and_add(&cgc->sum_weight, tctx->contrib_weight);
		__sync_fetch_and_add(&cgc->nr_runnable, 1);
	}
}

static void cgrp_sub_runnable(struct task_ctx *tctx)
{
	struct cgrp_ctx *cgc = cgrp_ctx_get(tctx->cgid);

	if (!tctx->contrib_weight)
		return;
	if (cgc) {
		__sync_fetch_and_sub(&cgc->sum_weight, tctx->contrib_weight);
		__sync_fetch_and_sub(&cgc->nr_runnable, 1);
	}
	tctx->contrib_weight = 0;
}

static bool is_pcpu_kthread(struct task_struct *p)
{
	return (p->flags & PF_KTHREAD) && p->nr_cpus_allowed == 1;
}

s32 BPF_STRUCT_OPS(proxy_select_cpu, struct task_struct *p, s32 prev_cpu,
		   u64 wake_flags)
{
	struct task_ctx *tctx = task_ctx_get(p);
	bool is_idle = false;
	s32 cpu, home;

	if (tctx) {
		/* a donee is placed by enqueue, next to its donor */
		if (donation_valid(p, tctx))
			return prev_cpu;
		home = return_target(p, tctx);
		if (home >= 0)
			prev_cpu = home;
	}

	cpu = scx_bpf_select_cpu_dfl(p, prev_cpu, wake_flags, &is_idle);
	if (is_idle) {
		stat_inc(STAT_IDLE_PICK);
		stat_inc(STAT_ENQ_LOCAL);
		scx_bpf_dsq_insert(p, SCX_DSQ_LOCAL, slice_ns, 0);
	}
	return cpu;
}

void BPF_STRUCT_OPS(proxy_enqueue, struct task_struct *p, u64 enq_flags)
{
	struct task_ctx *tctx = task_ctx_get(p);
	u64 vtime = p->scx.dsq_vtime, charge;
	s32 cpu = scx_bpf_task_cpu(p), target;

	if (is_pcpu_kthread(p)) {
		stat_inc(STAT_ENQ_KTHREAD);
		scx_bpf_dsq_insert(p, SCX_DSQ_LOCAL, slice_ns, enq_flags);
		return;
	}
	if (enq_flags & SCX_ENQ_LAST) {
		stat_inc(STAT_ENQ_LAST);
		scx_bpf_dsq_insert(p, SCX_DSQ_LOCAL, slice_ns, enq_flags);
		return;
	}

	if (tctx) {
		/* time others ran on this task's donated context */
		charge = tctx->pending_charge;
		if (charge) {
			__sync_fetch_and_sub(&tctx->pending_charge, charge);
			p->scx.dsq_vtime += charge;
			vtime = p->scx.dsq_vtime;
		}

		if (donation_valid(p, tctx)) {
			target = proxy_target(p, tctx);
			if (target >= 0) {
				/* local DSQs are FIFO: its own vtime stays */
				scx_bpf_dsq_insert(p, SCX_DSQ_LOCAL_ON | target,
						   slice_ns, enq_flags);
				scx_bpf_kick_cpu(target, SCX_KICK_PREEMPT);
				return;
			}
			/*
			 * No CPU for it: queue it at the donor's place. The
			 * insert overwrites p->scx.dsq_vtime, so keep its own
			 * for ops.running to restore: the boost must not
			 * outlive the donation.
			 */
			if (vtime_before(tctx->donor.vtime, vtime)) {
				tctx->saved_vtime = vtime;
				tctx->vtime_saved = true;
				vtime = tctx->donor.vtime;
			}
		} else {
			target = return_target(p, tctx);
			if (target >= 0)
				cpu = target;
		}
		tctx->from_shared = true;
	}

	/* bounded credit for sleepers */
	if (vtime_before(vtime, vtime_now - slice_lag_ns))
		vtime = vtime_now - slice_lag_ns;
	p->scx.dsq_vtime = vtime;

	stat_inc(STAT_ENQ_SHARED);
	scx_bpf_dsq_insert_vtime(p, llc_dsq(cpu), slice_ns, vtime, enq_flags);

	/* wake an idle CPU that may run it (prefer the one it is headed to) */
	if (task_allowed_on(p, cpu) && scx_bpf_test_and_clear_cpu_idle(cpu)) {
		stat_inc(STAT_IDLE_KICK);
		scx_bpf_kick_cpu(cpu, SCX_KICK_IDLE);
		return;
	}
	cpu = scx_bpf_pick_idle_cpu(p->cpus_ptr, 0);
	if (cpu >= 0) {
		stat_inc(STAT_IDLE_KICK);
		scx_bpf_kick_cpu(cpu, SCX_KICK_IDLE);
	}
}

/*
 * @p's place in the vtime order now: its own vtime including the run in
 * progress (charged only at ops.stopping), or the donor's place while it
 * runs on a donation that is still valid.
 */
static u64 task_vtime_now(struct task_struct *p)
{
	struct task_ctx *tctx = task_ctx_get(p);
	u64 vtime = p->scx.dsq_vtime;

	if (!tctx)
		return vtime;
	if (!tctx->running_donor)
		return vtime + run_time(tctx) * 100 / task_eff_weight(p, tctx);
	if (donation_valid(p, tctx) && vtime_before(tctx->donor.vtime, vtime))
		vtime = tctx->donor.vtime;
	return vtime;
}

/*
 * @prev used up its slice and is still runnable: should it go on rather
 * than the head of its LLC's DSQ? Only if it is still first in vtime order;
 * without this check two tasks sharing a CPU would simply alternate.
 */
static bool prev_goes_on(struct task_struct *prev, u64 dsq_id)
{
	struct task_struct *head;

	if (!prev || !(prev->scx.flags & SCX_TASK_QUEUED) || is_pcpu_kthread(prev))
		return false;
	head = __COMPAT_scx_bpf_dsq_peek(dsq_id);
	return !head || !vtime_before(head->scx.dsq_vtime, task_vtime_now(prev));
}

void BPF_STRUCT_OPS(proxy_dispatch, s32 cpu, struct task_struct *prev)
{
	u32 i, own = llc_dsq(cpu);

	if (dispatch_proxy_owner(cpu))
		return;

	if (prev_goes_on(prev, own) && scx_bpf_dsq_nr_queued(own) > 0) {
		stat_inc(STAT_KEEP_RUNNING);
		prev->scx.slice = slice_ns;
		return;
	}

	if (scx_bpf_dsq_move_to_local(own, 0)) {
		stat_inc(STAT_DISPATCH);
		return;
	}
	bpf_for(i, 0, MAX_LLCS) {
		if (i >= nr_llcs)
			break;
		if (i == own)
			continue;
		if (scx_bpf_dsq_move_to_local(i, 0)) {
			stat_inc(STAT_DISPATCH);
			stat_inc(STAT_STEAL);
			return;
		}
	}

	/* nothing else to run: let prev go on */
	if (prev && (prev->scx.flags & SCX_TASK_QUEUED)) {
		stat_inc(STAT_KEEP_RUNNING);
		prev->scx.slice = slice_ns;
	}
}

void BPF_STRUCT_OPS(proxy_runnable, struct task_struct *p, u64 enq_flags)
{
	struct task_ctx *tctx = task_ctx_get(p);

	if (!tctx)
		return;
	cgrp_add_runnable(tctx, p->scx.weight);
	if (tctx->blocked_on)
		donor_woken(p, tctx);
}

void BPF_STRUCT_OPS(proxy_running, struct task_struct *p)
{
	struct task_ctx *tctx = task_ctx_get(p);
	struct cgrp_ctx *cgc;

	if (!tctx)
		return;
	tctx->last_run_at = bpf_ktime_get_ns();
	tctx->running_donor = donation_valid(p, tctx) ? tctx->donor.pid : 0;
	/*
	 * vtime_now follows tasks taken in vtime order on their own context;
	 * a donee pulled out of order (its own vtime may be far ahead) would
	 * drag every sleeper's credit base along with it.
	 */
	if (tctx->from_shared) {
		tctx->from_shared = false;
		if (!tctx->running_donor &&
		    vtime_before(vtime_now, p->scx.dsq_vtime))
			vtime_now = p->scx.dsq_vtime;
	}
	/* it was queued at a donor's place: back to its own vtime */
	if (tctx->vtime_saved) {
		tctx->vtime_saved = false;
		p->scx.dsq_vtime = tctx->saved_vtime;
	}
	cgc = cgrp_ctx_get(tctx->cgid);
	if (cgc)
		__sync_fetch_and_add(&cgc->nr_dispatches, 1);
}

void BPF_STRUCT_OPS(proxy_stopping, struct task_struct *p, bool runnable)
{
	struct task_ctx *tctx = task_ctx_get(p);
	struct cgrp_ctx *cgc;
	u64 used;

	if (!tctx || !tctx->last_run_at)
		return;
	used = run_time(tctx);
	tctx->last_run_at = 0;
	tctx->eff_weight = task_eff_weight(p, tctx);

	if (tctx->running_donor) {
		/* ran on a donor's context: the donor pays */
		charge_donor(tctx->running_donor, tctx, used);
		tctx->running_donor = 0;
		return;
	}

	p->scx.dsq_vtime += used * 100 / tctx->eff_weight;
	cgc = cgrp_ctx_get(tctx->cgid);
	if (cgc)
		__sync_fetch_and_add(&cgc->runtime_ns, used);
}

void BPF_STRUCT_OPS(proxy_quiescent, struct task_struct *p, u64 deq_flags)
{
	struct task_ctx *tctx = task_ctx_get(p);

	if (!tctx)
		return;
	cgrp_sub_runnable(tctx);
	if (tctx->blocked_on && (deq_flags & SCX_DEQ_SLEEP))
		donor_sleeps(p, tctx);
}

void BPF_STRUCT_OPS(proxy_set_weight, struct task_struct *p, u32 weight)
{
	struct task_ctx *tctx = task_ctx_get(p);

	if (tctx && tctx->contrib_weight) {
		cgrp_sub_runnable(tctx);
		cgrp_add_runnable(tctx, weight);
	}
}

void BPF_STRUCT_OPS(proxy_enable, struct task_struct *p)
{
	p->scx.dsq_vtime = vtime_now;
}

s32 BPF_STRUCT_OPS(proxy_init_task, struct task_struct *p,
		   struct scx_init_task_args *args)
{
	struct task_ctx *tctx;

	tctx = bpf_task_storage_get(&task_ctxs, p, 0,
				    BPF_LOCAL_STORAGE_GET_F_CREATE);
	if (!tctx)
		return -ENOMEM;
	tctx->cgid = args->cgroup ? args->cgroup->kn->id : CGROUP_ROOT_ID;
	tctx->eff_weight = p->scx.weight ?: 1;
	tctx->home_cpu = -1;
	return 0;
}

void BPF_STRUCT_OPS(proxy_exit_task, struct task_struct *p,
		    struct scx_exit_task_args *args)
{
	struct task_ctx *tctx = task_ctx_get(p);

	if (!tctx)
		return;
	/* a donor that exits takes its edge along; donees see it gone */
	edge_end(p, tctx);
	cgrp_sub_runnable(tctx);
	tctx->donor.pid = 0;
	tctx->alt.pid = 0;
}

s32 BPF_STRUCT_OPS(proxy_cgroup_init, struct cgroup *cgrp,
		   struct scx_cgroup_init_args *args)
{
	struct cgrp_ctx init = { .weight = args->weight ?: 100 };
	u64 cgid = cgrp->kn->id;

	/* when the table is full the cgroup's tasks are weighed alone */
	bpf_map_update_elem(&cgrp_ctxs, &cgid, &init, BPF_ANY);
	return 0;
}

void BPF_STRUCT_OPS(proxy_cgroup_exit, struct cgroup *cgrp)
{
	u64 cgid = cgrp->kn->id;

	bpf_map_delete_elem(&cgrp_ctxs, &cgid);
}

void BPF_STRUCT_OPS(proxy_cgroup_set_weight, struct cgroup *cgrp, u32 weight)
{
	struct cgrp_ctx *cgc = cgrp_ctx_get(cgrp->kn->id);

	if (cgc)
		cgc->weight = weight ?: 1;
}

void BPF_STRUCT_OPS(proxy_cgroup_move, struct task_struct *p,
		    struct cgroup *from, struct cgroup *to)
{
	struct task_ctx *tctx = task_ctx_get(p);
	u32 w;

	if (!tctx)
		return;
	w = tctx->contrib_weight;
	if (w)
		cgrp_sub_runnable(tctx);
	tctx->cgid = to->kn->id;
	if (w)
		cgrp_add_runnable(tctx, w);
}

s32 BPF_STRUCT_OPS_SLEEPABLE(proxy_init)
{
	u32 i;
	s32 ret;

	bpf_for(i, 0, MAX_LLCS) {
		if (i >= nr_llcs)
			break;
		ret = scx_bpf_create_dsq(i, -1);
		if (ret) {
			scx_bpf_error("failed to create DSQ %u: %d", i, ret);
			return ret;
		}
	}
	return 0;
}

void BPF_STRUCT_OPS(proxy_exit, struct scx_exit_info *ei)
{
	UEI_RECORD(uei, ei);
}

SCX_OPS_DEFINE(proxy_ops,
	       .select_cpu		= (void *)proxy_select_cpu,
	       .enqueue			= (void *)proxy_enqueue,
	       .dispatch		= (void *)proxy_dispatch,
	       .runnable		= (void *)proxy_runnable,
	       .running			= (void *)proxy_running,
	       .stopping		= (void *)proxy_stopping,
	       .quiescent		= (void *)proxy_quiescent,
	       .set_weight		= (void *)proxy_set_weight,
	       .enable			= (void *)proxy_enable,
	       .init_task		= (void *)proxy_init_task,
	       .exit_task		= (void *)proxy_exit_task,
	       .cgroup_init		= (void *)proxy_cgroup_init,
	       .cgroup_exit		= (void *)proxy_cgroup_exit,
	       .cgroup_set_weight	= (void *)proxy_cgroup_set_weight,
	       .cgroup_move		= (void *)proxy_cgroup_move,
	       .init			= (void *)proxy_init,
	       .exit			= (void *)proxy_exit,
	       .flags			= SCX_OPS_ENQ_LAST,
	       .name			= "scx_proxy");
