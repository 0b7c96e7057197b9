/* SPDX-License-Identifier: GPL-2.0 */
/*
 * blocked_on bookkeeping: the one place where a task's blocked_on edge is
 * set and cleared, and where the owner at the other end of an edge is
 * resolved. The lock_*.bpf.c files say where edges come from; donate.bpf.c
 * says what is done with them.
 *
 *   set_blocked_on(p, lock, owner)	p (current) starts waiting for lock
 *   clear_blocked_on(p)		p stops waiting (any reason, or exit)
 *   blocked_on_owner(tctx)		the owner of the lock tctx waits for, now
 *
 * Invariants:
 *  - An edge is set and cleared only by the blocked task itself (the hooks
 *    run in its context) or by its exit_task; a task has at most one edge.
 *  - The owner of a kernel mutex/rwsem is read from the lock word at every
 *    look-up (it changes on handoff, and may be NULL when the lock was
 *    released in between).
 *  - The owner of a futex lock is what futex_owners says now, not what it
 *    was when the edge was made: the waiter that makes an edge records the
 *    owner it read; the owner's own FUTEX_WAKE/FUTEX_UNLOCK_PI on that word
 *    deletes the record when the call returns (handoff: the task no longer
 *    holds the lock, and its waiter has been woken); a
 *    waiter whose wait returns 0 becomes the presumed owner (for PI futexes
 *    the kernel has made it the owner; for glibc mutexes it is about to take
 *    the lock, and if it loses the race its next wait records the real
 *    owner). A process-shared futex is keyed by its backing inode and
 *    offset (lock_futex.bpf.c), so the owner's wake matches its waiters'
 *    key from any process. So a donation to a task that released the lock
 *    ends at the next check (ops.tick at the latest: within one tick).
 *  - Every owner is held as a task_ref: a task whose pid was reused is not
 *    the owner.
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

static __always_inline bool is_kernel_lock(u32 type)
{
	return type == LOCK_MUTEX || type == LOCK_RWSEM;
}

/* The owner of the lock @tctx waits for, now; 0 if none is known. */
static task_ref blocked_on_owner(struct task_ctx *tctx)
{
	struct lock_id id = tctx->blocked_on;
	task_ref *owner;

	if (!id.addr)
		return 0;
	if (is_kernel_lock(id.type))
		return ref_of_pid(kernel_lock_owner(id.type, id.addr));
	owner = bpf_map_lookup_elem(&futex_owners, &id);
	return owner ? *owner : 0;
}

/* A futex lock's owner as seen by a waiter, or by a waiter that got it. */
static void futex_owner_set(struct lock_id *id, task_ref owner)
{
	bpf_map_update_elem(&futex_owners, id, &owner, BPF_ANY);
}

/*
 * Current task @me woke waiters of, or unlocked, the futex @id: if it was
 * the recorded owner, it holds that lock no more.
 */
static void futex_owner_released(struct lock_id *id, task_ref me)
{
	task_ref *owner = bpf_map_lookup_elem(&futex_owners, id);

	if (owner && *owner == me) {
		bpf_map_delete_elem(&futex_owners, id);
		stat_inc(STAT_OWNER_RELEASED);
	}
}

static void lock_stat_wait(struct task_struct *p, struct lock_id *id,
			   task_ref owner_ref)
{
	struct lock_stat *ls, init = {};
	struct task_struct *owner;
	struct task_ctx *octx;

	ls = bpf_map_lookup_elem(&lock_stats, id);
	if (!ls) {
		init.addr = id->addr;
		init.type = id->type;
		bpf_map_update_elem(&lock_stats, id, &init, BPF_NOEXIST);
		ls = bpf_map_lookup_elem(&lock_stats, id);
		if (!ls)
			return;
	}
	__sync_fetch_and_add(&ls->nr_waits, 1);
	__sync_fetch_and_add(&ls->nr_waiting, 1);
	ls->owner_pid = (u32)owner_ref;
	ls->waiter_tgid = p->tgid;
	owner = ref_get(owner_ref, &octx);
	if (owner) {
		bpf_probe_read_kernel_str(ls->owner_comm, sizeof(ls->owner_comm),
					  owner->comm);
		bpf_task_release(owner);
	}
}

static void lock_stat_donation(struct lock_id *id)
{
	struct lock_stat *ls = bpf_map_lookup_elem(&lock_stats, id);

	if (ls)
		__sync_fetch_and_add(&ls->nr_donations, 1);
}

/*
 * @p (current) starts waiting for @id, owned by @owner. Returns true if the
 * edge is set (the caller then donates along it).
 */
static __always_inline bool set_blocked_on(struct task_struct *p,
					   struct task_ctx *tctx,
					   struct lock_id *id, task_ref owner)
{
	u32 pid = p->pid;
	u64 v = 1;

	if (!owner) {
		stat_inc(STAT_EDGE_NO_OWNER);
		return false;
	}
	if (owner == ref_of(p, tctx))
		return false;

	if (tctx->blocked_on.addr != id->addr ||
	    tctx->blocked_on.space != id->space ||
	    tctx->blocked_on.type != id->type) {
		tctx->blocked_since = bpf_ktime_get_ns();
		if (bpf_map_update_elem(&blocked_tasks, &pid, &v, BPF_ANY))
			stat_inc(STAT_EDGE_TABLE_FULL);
		lock_stat_wait(p, id, owner);
		stat_inc(STAT_EDGE_MUTEX + id->type - LOCK_MUTEX);
	}
	tctx->blocked_on = *id;
	tctx->woken = false;
	return true;
}

/*
 * @p stops waiting (acquired, timed out, interrupted, or exiting). Returns
 * the lock it waited for in *was (addr 0 if none).
 */
static void clear_blocked_on(struct task_struct *p, struct task_ctx *tctx,
			     struct lock_id *was)
{
	struct lock_stat *ls;
	u32 pid = p->pid;

	*was = tctx->blocked_on;
	if (!was->addr)
		return;
	ls = bpf_map_lookup_elem(&lock_stats, was);
	if (ls) {
		if (ls->nr_waiting)
			__sync_fetch_and_sub(&ls->nr_waiting, 1);
		__sync_fetch_and_add(&ls->blocked_ns,
				     bpf_ktime_get_ns() - tctx->blocked_since);
	}
	bpf_map_delete_elem(&blocked_tasks, &pid);
	tctx->blocked_on.addr = 0;
	tctx->blocked_on.space = 0;
	tctx->blocked_on.type = LOCK_NONE;
	tctx->woken = false;
}
