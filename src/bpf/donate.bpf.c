/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Blocked-on edges, chain walk and donation of a donor's scheduling context.
 *
 * Model (after the kernel's find_proxy_task()):
 *   donor --blocked_on--> lock --owner--> task --blocked_on--> ... --> end
 * The end of the chain is the first owner that is not itself blocked. It
 * gets the donor's place in the vtime order (the better of its own and the
 * donor's), runs on the donor's CPU when allowed (proxy migration), and the
 * time it runs on that context is charged to the donor, not to itself.
 *
 * Invariants:
 *  - A donation is never trusted once made: donation_valid() re-walks the
 *    chain from the donor before every use and drops the donation when the
 *    donor stopped waiting, the chain no longer ends at the task, the
 *    donated-time budget (max_donation_ns) is used, or proxy is off. So a
 *    wrong or stale edge costs at most one budget, and no donation outlives
 *    its donor (bpf_task_from_pid() fails once the donor has exited).
 *  - Every walk is bounded by max_chain_depth (<= MAX_CHAIN_DEPTH) and stops
 *    when it returns to its start: a deadlock cycle ends the walk.
 *  - Owners are resolved to pids and looked up with bpf_task_from_pid():
 *    no raw task pointer from a lock word is ever used as trusted.
 *  - A donor lends its context only while it sleeps in its wait. Once it
 *    is woken (ops.runnable with the edge still set: the lock was released
 *    to it, or a timeout or signal) it runs by itself: its donation stops
 *    counting at once and the donee running on it is preempted, so that
 *    an owner that could re-take the lock straight away (mutex stealing,
 *    glibc's unfair mutexes) cannot keep the CPU on the donor's context
 *    while the donor waits to run. A woken donor that goes back to sleep
 *    still blocked (it lost the race) donates again from ops.quiescent.
 *    A woken task in the middle of a chain is treated as its runnable end.
 *  - One donor per donee at a time: the one with the earliest vtime wins,
 *    and the best of the others is kept as the runner-up, which takes over
 *    (if it still lends) when the donor stops. Others lend again at their
 *    next lock hook.
 */

/* Owner pid of a kernel mutex or rwsem, read from its owner word. */
static u32 kernel_lock_owner(u32 type, u64 lock)
{
	struct task_struct *owner;
	u64 word = 0;

	switch (type) {
	case LOCK_MUTEX: {
		struct mutex *m = (void *)lock;

		word = BPF_CORE_READ(m, owner.counter);
		break;
	}
	case LOCK_RWSEM: {
		struct rw_semaphore *sem = (void *)lock;

		word = BPF_CORE_READ(sem, owner.counter);
		if (word & 1)	/* RWSEM_READER_OWNED: owners unknown */
			return 0;
		break;
	}
	default:
		return 0;
	}

	owner = (struct task_struct *)(word & ~0x7ULL);
	if (!owner)
		return 0;
	return BPF_CORE_READ(owner, pid);
}

/*
 * Owner pid of the lock @tctx is blocked on: read live for kernel locks (it
 * changes on handoff), as seen at wait time for futexes (user memory of
 * another task cannot be read from here).
 */
static u32 edge_owner(struct task_ctx *tctx)
{
	if (tctx->blocked_type == LOCK_MUTEX || tctx->blocked_type == LOCK_RWSEM)
		return kernel_lock_owner(tctx->blocked_type, tctx->blocked_on);
	return tctx->blocked_owner;
}

/* Does @tctx's chain go on past it? (Blocked, and asleep in that wait.) */
static __always_inline bool chain_goes_on(struct task_ctx *tctx)
{
	return tctx->blocked_on && !tctx->woken;
}

/*
 * Follow the chain from @start (pid @start_pid) to its runnable end.
 * Returns the end's pid, 0 if there is none (no owner, cycle, too deep, or a
 * task sched_ext does not manage). *depth gets the number of edges walked;
 * *on_path is set if @want is one of the owners met on the way (end
 * included). Used to re-check donations, so it counts nothing: cycles and
 * capped walks are counted once per lock hook, by donate().
 */
static u32 chain_walk(u32 start_pid, struct task_ctx *start, u32 *depth,
		      u32 want, bool *on_path)
{
	struct task_ctx *cur = start;
	u32 i, end = 0;

	*depth = 0;
	*on_path = false;
	bpf_for(i, 0, MAX_CHAIN_DEPTH) {
		struct task_struct *owner;
		struct task_ctx *octx;
		u32 owner_pid;

		if (i >= max_chain_depth)
			return 0;
		owner_pid = edge_owner(cur);
		if (!owner_pid)
			return 0;
		if (owner_pid == start_pid)
			return 0;
		if (owner_pid == want)
			*on_path = true;
		owner = bpf_task_from_pid(owner_pid);
		if (!owner)
			return 0;
		octx = task_ctx_get(owner);
		bpf_task_release(owner);
		if (!octx)
			return 0;
		*depth = i + 1;
		if (!chain_goes_on(octx)) {
			end = owner_pid;
			break;
		}
		cur = octx;
	}
	return end;
}

/*
 * Does @donor_pid still lend its context to @p: alive, asleep in its wait,
 * and its chain still runs through @p?
 */
static bool donor_backs(struct task_struct *p, u32 donor_pid)
{
	struct task_struct *donor;
	struct task_ctx *dctx;
	u32 depth, end = 0;
	bool on_path = false;

	donor = bpf_task_from_pid(donor_pid);
	if (!donor)
		return false;
	dctx = task_ctx_get(donor);
	bpf_task_release(donor);
	if (dctx && chain_goes_on(dctx))
		end = chain_walk(donor_pid, dctx, &depth, p->pid, &on_path);
	return end && on_path;
}

/*
 * Is @p's donation (if any) still backed by a waiting donor, whose chain
 * still runs through @p? (An owner in the middle of a chain keeps the
 * donation while it is blocked, so that it runs on it as soon as it gets
 * its own lock and becomes the end.) When the donor stops lending or its
 * budget is used, the runner-up donor, if it still lends, takes over with
 * a budget of its own.
 */
static bool donation_valid(struct task_struct *p, struct task_ctx *tctx)
{
	u32 why = STAT_DONATION_END;

	if (!tctx->donor.pid)
		return false;
	if (proxy_enabled) {
		if (tctx->donated_ns < max_donation_ns) {
			if (donor_backs(p, tctx->donor.pid))
				return true;
		} else {
			why = STAT_DONATION_EXPIRED;
		}
	}
	stat_inc(why);

	if (proxy_enabled && tctx->alt.pid && tctx->alt.pid != tctx->donor.pid &&
	    donor_backs(p, tctx->alt.pid)) {
		tctx->donor = tctx->alt;
		tctx->donated_ns = 0;
		tctx->alt.pid = 0;
		stat_inc(STAT_DONOR_HANDOVER);
		return true;
	}
	tctx->alt.pid = 0;
	tctx->donor.pid = 0;
	return false;
}

/* Remember @d as @octx's runner-up donation if it beats the current one. */
static void runner_up(struct task_ctx *octx, const struct donation *d)
{
	if (octx->alt.pid && octx->alt.pid != d->pid &&
	    !vtime_before(d->vtime, octx->alt.vtime))
		return;
	octx->alt = *d;
}

static void lock_stat_donation(u64 key)
{
	struct lock_stat *ls = bpf_map_lookup_elem(&lock_stats, &key);

	if (ls)
		__sync_fetch_and_add(&ls->nr_donations, 1);
}

/* Give @donor's context (@dvtime) to @owner, one task of its chain. */
static void donate_one(struct task_struct *owner, struct task_ctx *octx,
		       struct task_struct *donor, struct task_ctx *dctx,
		       u64 dvtime)
{
	struct donation d = {
		.pid = donor->pid,
		.cpu = bpf_get_smp_processor_id(),
		.vtime = dvtime,
		.since = dctx->blocked_since,
	};

	if (octx->alt.pid == d.pid)
		octx->alt.pid = 0;
	/* a better donation still stands: this donor is the runner-up */
	if (octx->donor.pid && octx->donor.pid != d.pid &&
	    donation_valid(owner, octx) &&
	    !vtime_before(d.vtime, octx->donor.vtime)) {
		runner_up(octx, &d);
		return;
	}
	/* the donation it replaces, if it still stands, is the runner-up */
	if (octx->donor.pid && octx->donor.pid != d.pid)
		runner_up(octx, &octx->donor);

	/* a new episode gets a new donated-time budget */
	if (octx->donor.pid != d.pid || octx->donor.since != d.since)
		octx->donated_ns = 0;
	octx->donor = d;
}

/*
 * @donor (current, in a lock hook) has just blocked: give its context to
 * every task of its chain, so that the end runs on it now and each owner
 * further up runs on it as soon as it gets its lock. Runs in a tracing
 * program: it may only record state and ask for the placement
 * (cpu_ctx.proxy_pid, read by this CPU's next ops.dispatch, which runs as
 * soon as the donor sleeps).
 */
static void donate(struct task_struct *donor, struct task_ctx *dctx)
{
	struct task_struct *owner;
	struct task_ctx *octx, *cur = dctx;
	struct cpu_ctx *cpuc;
	u32 i, owner_pid, end = 0, depth = 0;
	u64 dvtime;

	if (!proxy_enabled)
		return;

	/* A donor that itself runs on donated context passes that on. */
	dvtime = donor->scx.dsq_vtime;
	if (dctx->donor.pid && vtime_before(dctx->donor.vtime, dvtime))
		dvtime = dctx->donor.vtime;

	bpf_for(i, 0, MAX_CHAIN_DEPTH) {
		bool blocked;

		if (i >= max_chain_depth) {
			stat_inc(STAT_DEPTH_CAPPED);
			return;
		}
		owner_pid = edge_owner(cur);
		if (!owner_pid)
			return;
		if (owner_pid == donor->pid) {
			stat_inc(STAT_CYCLES);
			return;
		}
		owner = bpf_task_from_pid(owner_pid);
		if (!owner)
			return;
		octx = task_ctx_get(owner);
		if (!octx) {
			bpf_task_release(owner);
			return;
		}
		depth = i + 1;
		blocked = chain_goes_on(octx);

		/*
		 * Donate only where there is an inversion to fix: the owner's
		 * own place is more than a slice behind the donor's. Message-
		 * passing work, whose tasks all sit within a slice of each
		 * other, never pays for proxying.
		 */
		if (vtime_before(dvtime + slice_ns, owner->scx.dsq_vtime)) {
			donate_one(owner, octx, donor, dctx, dvtime);
			if (!blocked) {
				end = owner_pid;
				if (owner->on_cpu) {
					stat_inc(STAT_DONATIONS_RUNNING);
				} else if (owner->scx.flags & SCX_TASK_QUEUED) {
					stat_inc(STAT_DONATIONS_QUEUED);
					cpuc = cpu_ctx_get();
					if (cpuc)
						cpuc->proxy_pid = owner_pid;
				} else {
					stat_inc(STAT_DONATIONS_SLEEPING);
				}
			}
		}
		bpf_task_release(owner);
		if (!blocked)
			break;
		cur = octx;
	}

	if (!end)
		return;
	dctx->donee_pid = end;
	stat_inc(STAT_DONATIONS);
	lock_stat_donation(dctx->blocked_on);
	if (depth >= 8)
		stat_inc(STAT_DEPTH_8P);
	else if (depth >= 1)
		stat_inc(STAT_DEPTH_1 + depth - 1);
}

/* Preempt @pid if it is running on the context of @d1 or @d2. */
static void preempt_if_lent(u32 pid, u32 d1, u32 d2)
{
	struct task_struct *owner;
	struct task_ctx *octx;

	owner = bpf_task_from_pid(pid);
	if (!owner)
		return;
	octx = task_ctx_get(owner);
	if (octx && octx->running_donor &&
	    (octx->running_donor == d1 || octx->running_donor == d2) &&
	    owner->on_cpu)
		scx_bpf_kick_cpu(scx_bpf_task_cpu(owner), SCX_KICK_PREEMPT);
	bpf_task_release(owner);
}

/*
 * @dctx (pid @pid, still with its edge) stops passing a context down its
 * chain. Preempt the task that runs on it right now, so that it goes on
 * with its own (its next ops.enqueue finds the donation invalid and
 * returns it home): the chain end it gave its own context to, or its
 * lock's owner if that runs on the context @dctx itself was lent (the
 * middle of a chain passes its donor's context on).
 */
static void donee_preempt(u32 pid, struct task_ctx *dctx)
{
	u32 owner_pid = edge_owner(dctx);

	if (dctx->donee_pid && dctx->donee_pid != pid)
		preempt_if_lent(dctx->donee_pid, pid, dctx->donor.pid);
	if (owner_pid && owner_pid != pid && owner_pid != dctx->donee_pid)
		preempt_if_lent(owner_pid, pid, dctx->donor.pid);
}

/* @p (current) starts waiting for @lock owned by @owner_pid. */
static __always_inline void edge_begin(struct task_struct *p, struct task_ctx *tctx, u64 lock,
		       u64 key, u32 type, u32 owner_pid)
{
	struct lock_stat *ls, init = {};
	u32 pid = p->pid;
	u64 now;

	if (!owner_pid) {
		stat_inc(STAT_EDGE_NO_OWNER);
		return;
	}
	if (owner_pid == pid)
		return;

	now = bpf_ktime_get_ns();
	if (tctx->blocked_on != key) {
		if (tctx->blocked_on) {
			/* a previous edge that never saw its end */
			bpf_map_delete_elem(&blocked_tasks, &pid);
		}
		tctx->blocked_since = now;
		if (bpf_map_update_elem(&blocked_tasks, &pid, &key, BPF_ANY))
			stat_inc(STAT_EDGE_TABLE_FULL);

		ls = bpf_map_lookup_elem(&lock_stats, &key);
		if (!ls) {
			init.addr = lock;
			init.type = type;
			bpf_map_update_elem(&lock_stats, &key, &init, BPF_NOEXIST);
			ls = bpf_map_lookup_elem(&lock_stats, &key);
		}
		if (ls) {
			struct task_struct *owner;

			__sync_fetch_and_add(&ls->nr_waits, 1);
			__sync_fetch_and_add(&ls->nr_waiting, 1);
			ls->owner_pid = owner_pid;
			ls->waiter_tgid = p->tgid;
			owner = bpf_task_from_pid(owner_pid);
			if (owner) {
				bpf_probe_read_kernel_str(ls->owner_comm,
							  sizeof(ls->owner_comm),
							  owner->comm);
				bpf_task_release(owner);
			}
		}
		stat_inc(STAT_EDGE_MUTEX + type - LOCK_MUTEX);
	}
	tctx->blocked_on = key;
	tctx->blocked_type = type;
	tctx->blocked_owner = owner_pid;
	tctx->woken = false;

	donate(p, tctx);
}

/* @p stops waiting (acquired, timed out, interrupted, or exiting). */
static void edge_end(struct task_struct *p, struct task_ctx *tctx)
{
	struct lock_stat *ls;
	u64 key = tctx->blocked_on;
	u32 pid = p->pid;

	if (!key)
		return;
	ls = bpf_map_lookup_elem(&lock_stats, &key);
	if (ls) {
		if (ls->nr_waiting)
			__sync_fetch_and_sub(&ls->nr_waiting, 1);
		__sync_fetch_and_add(&ls->blocked_ns,
				     bpf_ktime_get_ns() - tctx->blocked_since);
	}
	bpf_map_delete_elem(&blocked_tasks, &pid);

	/* the donation ends with the wait */
	donee_preempt(pid, tctx);
	tctx->donee_pid = 0;
	tctx->blocked_on = 0;
	tctx->blocked_type = LOCK_NONE;
	tctx->blocked_owner = 0;
	tctx->woken = false;
}

/*
 * ops.runnable of a task with an edge: the donor was woken (the lock was
 * handed to it or released, or a timeout or signal) and will run by itself.
 */
static void donor_woken(struct task_struct *p, struct task_ctx *tctx)
{
	tctx->woken = true;
	stat_inc(STAT_DONOR_WOKEN);
	donee_preempt(p->pid, tctx);
}

/*
 * ops.quiescent(SLEEP) of a task with an edge: a woken donor that lost the
 * race for its lock sleeps again without a new lock hook; lend again.
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
 * Where should a donee with a valid donation be placed? Returns the CPU
 * whose local DSQ it goes to, or -1 to leave it in the shared DSQ (with the
 * donated vtime). Counts proxy migrations and remembers home for the return.
 */
static s32 proxy_target(struct task_struct *p, struct task_ctx *tctx)
{
	s32 cur = scx_bpf_task_cpu(p);
	s32 target = tctx->donor.cpu;

	if (cpu_donation && target != cur && task_allowed_on(p, target)) {
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
 * its own CPU, preempting what runs there). Returns true if it moved one.
 */
static bool dispatch_proxy_owner(s32 cpu)
{
	struct task_struct *owner, *t;
	struct task_ctx *octx;
	struct cpu_ctx *cpuc;
	bool moved = false;
	u64 dsq_id;
	u32 pid;

	cpuc = cpu_ctx_get();
	if (!cpuc || !cpuc->proxy_pid)
		return false;
	pid = cpuc->proxy_pid;
	cpuc->proxy_pid = 0;

	owner = bpf_task_from_pid(pid);
	if (!owner)
		return false;
	octx = task_ctx_get(owner);
	if (!octx || !(owner->scx.flags & SCX_TASK_QUEUED) ||
	    !donation_valid(owner, octx)) {
		bpf_task_release(owner);
		return false;
	}
	dsq_id = llc_dsq(scx_bpf_task_cpu(owner));
	bpf_task_release(owner);

	bpf_for_each(scx_dsq, t, dsq_id, 0) {
		s32 target;

		if (t->pid != pid)
			continue;
		target = proxy_target(t, octx);
		if (target < 0)
			break;
		scx_bpf_dsq_move_set_slice(BPF_FOR_EACH_ITER, slice_ns);
		moved = scx_bpf_dsq_move(BPF_FOR_EACH_ITER, t,
					 SCX_DSQ_LOCAL_ON | target, 0);
		if (moved && target != cpu)
			scx_bpf_kick_cpu(target, SCX_KICK_PREEMPT);
		break;
	}
	return moved;
}

/*
 * ops.stopping of a donee that ran on @donor_pid's context: charge the run
 * to the donor, not to the donee (even if the donation ended meanwhile: the
 * run started on it).
 */
static void charge_donor(u32 donor_pid, struct task_ctx *tctx, u64 used)
{
	struct task_struct *donor;
	struct task_ctx *dctx;

	tctx->donated_ns += used;
	stat_add(STAT_DONATED_NS, used);
	donor = bpf_task_from_pid(donor_pid);
	if (!donor)
		return;
	dctx = task_ctx_get(donor);
	if (dctx)
		__sync_fetch_and_add(&dctx->pending_charge,
				     used * 100 / (dctx->eff_weight ?: 1));
	bpf_task_release(donor);
}
