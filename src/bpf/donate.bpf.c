/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Chain walk, donation of a donor's scheduling context, charging, proxy and
 * return migration.
 *
 * Model (after the kernel's find_proxy_task()):
 *   donor --blocked_on--> lock --owner--> task --blocked_on--> ... --> end
 * The end of the chain is the first owner that is not itself blocked (or
 * was woken in its wait, or waits for a lock that was just released). It runs at the donor's place in the vtime order
 * (the better of its own and the donor's), on the donor's CPU when allowed
 * (proxy migration), and what it runs on that context is charged to the
 * donor, not to itself.
 *
 * What a donation can cost whom (the invariant):
 *  - The donee's place is the donor's place, and every nanosecond the donee
 *    runs on it advances that place by ns * 100 / the donor's weight (the
 *    donation record's vtime at once, the donor's own vtime through
 *    pending_charge when it wakes, after its sleeper-credit clamp), and is
 *    added to the donor's cgroup. Charged as it is used: at ops.tick, when
 *    dispatch keeps the donee running, and at ops.stopping. So a donor and
 *    its donees together get no more CPU than the donor alone was entitled
 *    to, whatever their weights; N donors lend N entitlements, as N
 *    runnable threads would have had.
 *  - One episode (one lock wait of one donor) lends at most max_donation_ns
 *    of run time (--max-donation-us); the running donee is preempted at
 *    the tick that uses it up. A donor lends only while it sleeps in its
 *    wait: once woken, its donation ends at once and the donee running on it
 *    is preempted (kick, and again at its next tick).
 *  - A donee goes straight to a CPU's local DSQ (proxy migration, or a boost
 *    on its own CPU) only when its donated place is at the head of that
 *    CPU's vtime order, i.e. when the donor itself would have been picked
 *    next; else it waits in the shared DSQ at the donor's place. So lending
 *    never puts anyone ahead of a task the donor was not ahead of.
 *
 * Other invariants:
 *  - A donation is never trusted once made: donation_valid() re-walks the
 *    chain from the donor before every use and drops the donation when the
 *    donor stopped waiting, the chain no longer runs through the task, the
 *    budget is used, the task left sched_ext, or proxy is off.
 *  - There is one chain walk, chain_walk(); every walk is bounded by
 *    max_chain_depth (<= MAX_CHAIN_DEPTH) and stops when it returns to its
 *    start (a deadlock cycle) or meets a task outside sched_ext (an RT or
 *    PI-boosted owner: the kernel already runs it).
 *  - Donor, donee, runner-up and charge records are task_refs: a donor that
 *    exited, or whose pid was reused, is no donor.
 *  - One donor per donee at a time: the earliest place wins, the best of the
 *    others is kept as the runner-up and takes over, with a budget of its
 *    own, when the donor stops lending.
 */

/* What a chain walk found. */
struct walk {
	task_ref end;		/* the runnable end (0: none) */
	u32 depth;		/* edges walked */
	bool on_path;		/* the task looked for is on the chain */
	bool lent_end;		/* the end was given the donation */
	bool cycle;		/* the chain came back to its start */
	bool capped;		/* stopped at max_chain_depth */
};

/* Does @tctx's chain go on past it? (Blocked, and asleep in that wait.) */
static __always_inline bool chain_goes_on(struct task_ctx *tctx)
{
	return tctx->blocked_on.addr && !tctx->woken;
}

/*
 * Is @d's donor still lending, as far as it can be told without a walk:
 * alive, asleep in its wait, and within the episode's budget?
 */
static bool donation_lends(struct task_ctx *tctx, struct donation *d)
{
	struct task_struct *donor;
	struct task_ctx *dctx;
	bool ok;

	donor = ref_get(d->donor, &dctx);
	if (!donor)
		return false;
	ok = chain_goes_on(dctx) && dctx->blocked_since == d->since &&
	     tctx->donated_ns < max_donation_ns;
	bpf_task_release(donor);
	return ok;
}

/* Remember @d as @octx's runner-up donation if it beats the current one. */
static void runner_up(struct task_ctx *octx, const struct donation *d)
{
	if (octx->alt.donor && octx->alt.donor != d->donor &&
	    !vtime_before(d->vtime, octx->alt.vtime))
		return;
	octx->alt = *d;
}

/* Give donation @d to @octx, one task of the donor's chain. */
static void donate_one(struct task_ctx *octx, struct donation *d)
{
	if (octx->alt.donor == d->donor)
		octx->alt.donor = 0;
	/* a better donation still stands: this donor is the runner-up */
	if (octx->donor.donor && octx->donor.donor != d->donor &&
	    donation_lends(octx, &octx->donor) &&
	    !vtime_before(d->vtime, octx->donor.vtime)) {
		runner_up(octx, d);
		return;
	}
	/* the donation it replaces is the runner-up */
	if (octx->donor.donor && octx->donor.donor != d->donor)
		runner_up(octx, &octx->donor);

	/* a new episode gets a new budget */
	if (octx->donor.donor != d->donor || octx->donor.since != d->since)
		octx->donated_ns = 0;
	octx->donor = *d;
}

/*
 * @owner (ref @oref) is on the chain of donation @lend: donate where there
 * is an inversion to fix: the owner's own place is more than a slice
 * behind the donor's, or the owner weighs less than half the donor (its
 * place may still look level, just after both woke from sleeping, but one
 * slice of it puts it far behind). Message-passing work, whose tasks weigh
 * the same and sit within a slice of each other, never pays for proxying.
 * Returns true if @owner is the end and got the donation.
 */
static bool lend_to(struct task_struct *owner, struct task_ctx *octx,
		    task_ref oref, struct donation *lend, bool is_end)
{
	struct cpu_ctx *cpuc;

	if (!vtime_before(lend->vtime + slice_ns, owner->scx.dsq_vtime) &&
	    (u64)octx->eff_weight * 2 >= lend->weight) {
		if (is_end)
			stat_inc(STAT_NO_INVERSION);
		return false;
	}
	donate_one(octx, lend);
	if (!is_end)
		return false;
	if (task_on_cpu(owner)) {
		stat_inc(STAT_DONATIONS_RUNNING);
	} else if (owner->scx.flags & SCX_TASK_QUEUED) {
		stat_inc(STAT_DONATIONS_QUEUED);
		cpuc = cpu_ctx_get();
		if (cpuc) {
			cpuc->proxy_owner = oref;
			cpuc->proxy_tries = 0;
		}
	} else {
		stat_inc(STAT_DONATIONS_SLEEPING);
	}
	return true;
}

/*
 * Follow the chain from @start (ref @start_ref) to its runnable end. With
 * @lend, give that donation to every task of the chain on the way (so that
 * an owner further up runs on it as soon as it gets its own lock). @want:
 * a task to look for on the path (0: none).
 */
static void chain_walk(task_ref start_ref, struct task_ctx *start,
		       task_ref want, struct donation *lend, struct walk *w)
{
	struct task_ctx *cur = start;
	u32 i;

	w->end = 0;
	w->depth = 0;
	w->on_path = false;
	w->lent_end = false;
	w->cycle = false;
	w->capped = false;
	bpf_for(i, 0, MAX_CHAIN_DEPTH) {
		struct task_struct *owner;
		struct task_ctx *octx;
		task_ref oref;
		bool goes_on;

		if (i >= max_chain_depth) {
			w->capped = true;
			return;
		}
		oref = blocked_on_owner(cur);
		if (!oref) {
			if (lend)
				stat_inc(STAT_WALK_NO_OWNER);
			return;
		}
		if (oref == start_ref) {
			w->cycle = true;
			return;
		}
		if (oref == want)
			w->on_path = true;
		owner = ref_get(oref, &octx);
		if (!owner) {
			if (lend)
				stat_inc(STAT_WALK_NO_OWNER);
			return;
		}
		if (!task_is_ext(owner)) {
			if (lend)
				stat_inc(STAT_OWNER_NOT_EXT);
			bpf_task_release(owner);
			return;
		}
		w->depth = i + 1;
		/*
		 * An owner blocked on a lock with no known owner is the end:
		 * that lock was just released (its owner's wake removed the
		 * record) and this owner is about to be woken to take it;
		 * it is the task to run.
		 */
		goes_on = chain_goes_on(octx) && blocked_on_owner(octx);
		if (lend && lend_to(owner, octx, oref, lend, !goes_on))
			w->lent_end = true;
		bpf_task_release(owner);
		if (!goes_on) {
			w->end = oref;
			return;
		}
		cur = octx;
	}
}

/*
 * Does donor @dref still lend its context to @p (ref @pref): alive, asleep
 * in its wait, and its chain still runs through @p?
 */
static bool donor_backs(task_ref pref, task_ref dref)
{
	struct task_struct *donor;
	struct task_ctx *dctx;
	struct walk w = {};

	donor = ref_get(dref, &dctx);
	if (!donor)
		return false;
	if (chain_goes_on(dctx))
		chain_walk(dref, dctx, pref, NULL, &w);
	bpf_task_release(donor);
	return w.end && w.on_path;
}

/*
 * Is @p's donation (if any) still backed by a waiting donor whose chain
 * still runs through @p? (An owner in the middle of a chain keeps the
 * donation while it is blocked, so that it runs on it as soon as it gets
 * its own lock and becomes the end.) When the donor stops lending or its
 * budget is used, the runner-up, if it still lends, takes over with a
 * budget of its own.
 */
static bool donation_valid(struct task_struct *p, struct task_ctx *tctx)
{
	u32 why = STAT_DONATION_END;
	task_ref pref;

	if (!tctx->donor.donor)
		return false;
	pref = ref_of(p, tctx);
	if (proxy_enabled && task_is_ext(p)) {
		if (tctx->donated_ns < max_donation_ns) {
			if (donor_backs(pref, tctx->donor.donor))
				return true;
		} else {
			why = STAT_DONATION_EXPIRED;
		}
	}
	stat_inc(why);

	if (proxy_enabled && task_is_ext(p) && tctx->alt.donor &&
	    tctx->alt.donor != tctx->donor.donor &&
	    donor_backs(pref, tctx->alt.donor)) {
		tctx->donor = tctx->alt;
		tctx->donated_ns = 0;
		tctx->alt.donor = 0;
		stat_inc(STAT_DONOR_HANDOVER);
		return true;
	}
	tctx->alt.donor = 0;
	tctx->donor.donor = 0;
	return false;
}

/* @p's place in the vtime order while it may run on its donation. */
static __always_inline u64 donee_vtime(struct task_struct *p,
				       struct task_ctx *tctx)
{
	u64 vtime = p->scx.dsq_vtime;

	if (vtime_before(tctx->donor.vtime, vtime))
		vtime = tctx->donor.vtime;
	return vtime;
}

/*
 * @donor (current, in a lock hook) has just blocked: give its context to
 * every task of its chain, so that the end runs on it now and each owner
 * further up runs on it as soon as it gets its lock. Runs in a tracing
 * program: it may only record state and ask for the placement
 * (cpu_ctx.proxy_owner, read by this CPU's next ops.dispatch, which runs as
 * soon as the donor sleeps).
 */
static void donate(struct task_struct *donor, struct task_ctx *dctx)
{
	struct donation d;
	struct walk w;
	task_ref me;

	if (!proxy_enabled || !task_is_ext(donor))
		return;

	me = ref_of(donor, dctx);
	d.donor = me;
	d.cpu = bpf_get_smp_processor_id();
	d.since = dctx->blocked_since;
	d.weight = dctx->eff_weight;
	/* its place, with what its donees ran since it last woke */
	d.vtime = donor->scx.dsq_vtime + dctx->pending_charge;
	/*
	 * A donor that itself runs on a better donated context (the middle
	 * of a chain, blocking on its next lock) passes that donation on as
	 * it is: the donees run on its donor's place, charged to its donor at
	 * that donor's weight, within that episode's budget, and only while
	 * that donor still waits. (Passing on only the place, charged to the
	 * middle task, advanced it at the middle task's weight: behind a
	 * nice 19 middle owner in a weight-4 cgroup, the end lost the place
	 * within one tick and starved until the wait bound rescued it.
	 * Counted in STAT_DONATIONS_PASSED: 0-2 times per 20 s run of
	 * 30-adversarial's starvation chain.)
	 */
	if (dctx->donor.donor && dctx->donor.donor != me &&
	    vtime_before(dctx->donor.vtime, d.vtime) &&
	    donation_lends(dctx, &dctx->donor)) {
		d = dctx->donor;
		d.cpu = bpf_get_smp_processor_id();
		stat_inc(STAT_DONATIONS_PASSED);
	}

	chain_walk(me, dctx, 0, &d, &w);
	if (w.cycle)
		stat_inc(STAT_CYCLES);
	if (w.capped)
		stat_inc(STAT_DEPTH_CAPPED);
	if (!w.lent_end)
		return;
	dctx->donee = w.end;
	stat_inc(STAT_DONATIONS);
	lock_stat_donation(&dctx->blocked_on);
	if (w.depth >= 8)
		stat_inc(STAT_DEPTH_8P);
	else if (w.depth >= 1)
		stat_inc(STAT_DEPTH_1 + w.depth - 1);
}

/* Preempt @ref if it is running on the context of @d1 or @d2. */
static void preempt_if_lent(task_ref ref, task_ref d1, task_ref d2)
{
	struct task_struct *owner;
	struct task_ctx *octx;

	owner = ref_get(ref, &octx);
	if (!owner)
		return;
	if (octx->running_donor &&
	    (octx->running_donor == d1 || octx->running_donor == d2) &&
	    task_on_cpu(owner))
		scx_bpf_kick_cpu(scx_bpf_task_cpu(owner), SCX_KICK_PREEMPT);
	bpf_task_release(owner);
}

/*
 * @p (@dctx, still with its edge) stops passing a context down its chain.
 * Preempt the task that runs on it right now, so that it goes on with its
 * own (its next ops.enqueue finds the donation invalid and returns it
 * home): the chain end it gave its context to, or its lock's owner if that
 * runs on the context @p itself was lent (the middle of a chain passes its
 * donor's context on). Its next tick would stop it too; the kick makes it
 * now.
 */
static void stop_lending(struct task_struct *p, struct task_ctx *dctx)
{
	task_ref me = ref_of(p, dctx), owner = blocked_on_owner(dctx);

	if (dctx->donee && dctx->donee != me)
		preempt_if_lent(dctx->donee, me, dctx->donor.donor);
	if (owner && owner != me && owner != dctx->donee)
		preempt_if_lent(owner, me, dctx->donor.donor);
	dctx->donee = 0;
}

/*
 * ops.runnable of a task with an edge: the donor was woken (the lock was
 * handed to it or released, or a timeout or signal) and will run by itself.
 */
static void donor_woken(struct task_struct *p, struct task_ctx *tctx)
{
	stat_inc(STAT_DONOR_WOKEN);
	stop_lending(p, tctx);
	tctx->woken = true;
}

/*
 * ops.quiescent(SLEEP) of a task with an edge: a woken donor that lost the
 * race for its lock sleeps again without a new lock hook; lend again (same
 * episode, same budget).
 */
static void donor_sleeps(struct task_struct *p, struct task_ctx *tctx)
{
	if (!tctx->woken)
		return;
	tctx->woken = false;
	stat_inc(STAT_REDONATE);
	donate(p, tctx);
}

/*
 * A donee ran @used ns on the context of tctx->running_donor: the donor
 * pays, at its own weight, into the donation's place (at once) and its own
 * vtime (pending_charge, applied when it wakes) and its cgroup.
 */
static void charge_donor(struct task_ctx *tctx, u64 used)
{
	struct task_struct *donor;
	struct task_ctx *dctx;
	struct cgrp_ctx *cgc;
	u64 charge;

	tctx->donated_ns += used;
	stat_add(STAT_DONATED_NS, used);
	donor = ref_get(tctx->running_donor, &dctx);
	if (!donor)
		return;
	charge = used * 100 * EFF_WEIGHT_ONE / (dctx->eff_weight ?: 1);
	__sync_fetch_and_add(&dctx->pending_charge, charge);
	if (tctx->donor.donor == tctx->running_donor)
		tctx->donor.vtime += charge;
	cgc = cgrp_ctx_get(dctx->cgid);
	if (cgc)
		__sync_fetch_and_add(&cgc->runtime_ns, used);
	bpf_task_release(donor);
}

/* Is @vtime at the head of @cpu's vtime order (nothing queued before it)? */
static bool at_head(s32 cpu, u64 vtime)
{
	struct task_struct *head = __COMPAT_scx_bpf_dsq_peek(llc_dsq(cpu));

	return !head || !vtime_before(head->scx.dsq_vtime, vtime);
}

/*
 * Where should a donee with a valid donation, at donated place @vtime, be
 * placed? Returns the CPU whose local DSQ it goes to (the donor's, or its
 * own to boost it there), or -1 to leave it in the shared DSQ at the
 * donated place. With @check_head, only a CPU whose vtime order @vtime
 * heads. Counts proxy migrations and remembers home for the return.
 */
static s32 proxy_target(struct task_struct *p, struct task_ctx *tctx,
			u64 vtime, bool check_head)
{
	s32 cur = scx_bpf_task_cpu(p);
	s32 target = tctx->donor.cpu;

	if (cpu_donation && target != cur && task_allowed_on(p, target)) {
		if (check_head && !at_head(target, vtime))
			return -1;
		if (!tctx->proxy_migrated) {
			tctx->proxy_migrated = true;
			tctx->home_cpu = cur;
		}
		stat_inc(STAT_PROXY_MIGRATIONS);
		return target;
	}
	if (cpu_donation && target != cur)
		stat_inc(STAT_PROXY_NOT_ALLOWED);
	/* no CPU donation: boost it where it may run */
	if (task_allowed_on(p, cur)) {
		if (check_head && !at_head(cur, vtime))
			return -1;
		stat_inc(STAT_PROXY_LOCAL);
		return cur;
	}
	return -1;
}

/*
 * Return migration: the donation is over and the task was moved for it.
 * Send it back, once, to the CPU it would have run on. Returns the home CPU
 * to prefer, or -1.
 */
static s32 return_target(struct task_struct *p, struct task_ctx *tctx)
{
	s32 home = tctx->home_cpu;

	if (!tctx->proxy_migrated)
		return -1;
	tctx->proxy_migrated = false;
	if (!task_allowed_on(p, home) || home == scx_bpf_task_cpu(p))
		return -1;
	stat_inc(STAT_RETURN_MIGRATIONS);
	return home;
}

/*
 * ops.dispatch on a donor's CPU: pull the owner the donor asked for out of
 * the shared DSQ it waits in and run it here (or, if it may not run here, on
 * its own CPU, preempting what runs there). The donor was running here: the
 * CPU is its to lend. Returns true only if it gave this CPU a task: when
 * the owner went elsewhere, dispatch must still find this CPU one. (On 7.x
 * an empty dispatch under the ext deadline server stops the server, and it
 * starts again only when the CPU's sched_ext runqueue empties: under
 * real-time load the CPU's queued sched_ext tasks then starve.)
 *
 * An owner that is queued but not in the shared DSQ yet is asked for again
 * at this CPU's next dispatches (at most PROXY_OWNER_TRIES of them, while
 * its donation holds and it is not running): its ops.enqueue may be in
 * flight on another CPU, having looked for a donation before this one was
 * made, and will insert it at its own place. Traced in 30-adversarial's
 * starvation chain: the first owner, woken by the second, was enqueued
 * that way a moment after the waiter lent to it, was not found, and
 * waited at its own nice-19 place until the wait bound rescued it (the
 * visible sequence of 6 of 9 acquisitions over 200 ms in 84 20 s runs).
 */
#define PROXY_OWNER_TRIES	8

static bool dispatch_proxy_owner(s32 cpu)
{
	struct task_struct *owner, *t;
	struct task_ctx *octx;
	struct cpu_ctx *cpuc;
	bool moved = false, found = false;
	task_ref ref;
	u64 dsq_id;
	u32 pid;

	cpuc = cpu_ctx_get();
	if (!cpuc || !cpuc->proxy_owner)
		return false;
	ref = cpuc->proxy_owner;
	cpuc->proxy_owner = 0;

	owner = ref_get(ref, &octx);
	if (!owner)
		return false;
	if (!(owner->scx.flags & SCX_TASK_QUEUED) || task_on_cpu(owner) ||
	    !donation_valid(owner, octx)) {
		bpf_task_release(owner);
		return false;
	}
	dsq_id = llc_dsq(scx_bpf_task_cpu(owner));
	bpf_task_release(owner);

	pid = (u32)ref;
	bpf_for_each(scx_dsq, t, dsq_id, 0) {
		s32 target;

		if (t->pid != pid)
			continue;
		found = true;
		target = proxy_target(t, octx, 0, false);
		if (target < 0)
			break;
		scx_bpf_dsq_move_set_slice(BPF_FOR_EACH_ITER, slice_ns);
		moved = scx_bpf_dsq_move(BPF_FOR_EACH_ITER, t,
					 SCX_DSQ_LOCAL_ON | target, 0);
		if (moved && target != cpu) {
			scx_bpf_kick_cpu(target, SCX_KICK_PREEMPT);
			moved = false;
		}
		break;
	}
	if (!found && cpuc->proxy_tries < PROXY_OWNER_TRIES) {
		cpuc->proxy_owner = ref;
		cpuc->proxy_tries++;
	}
	return moved;
}
