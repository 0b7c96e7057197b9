/* SPDX-License-Identifier: GPL-2.0 */
/*
 * blocked_on edges for kernel sleeping locks, from the lock contention
 * tracepoints (the same ones `perf lock contention` uses).
 *
 * Covered: struct mutex (LCB_F_MUTEX; the rename lock s_vfs_rename_mutex is
 * one) and writer-owned struct rw_semaphore (LCB_F_READ/LCB_F_WRITE without
 * SPIN/PERCPU/RT: inode locks are rwsems). Not covered: spinlocks and rwlocks
 * (never sleep), percpu rwsems, rt_mutexes, reader-owned rwsems (the owner
 * word does not name the readers).
 *
 * Invariants:
 *  - The optimistic-spin phase (LCB_F_SPIN) makes no edge: the waiter is
 *    still running. The edge is made when the waiter is about to sleep and
 *    removed by the contention_end that follows, whatever its result.
 *  - The owner is read from the lock word at the hook and again at every
 *    chain walk (blocked_on_owner()): it changes on handoff, and may be NULL
 *    when the lock was released in between (counted as STAT_EDGE_NO_OWNER).
 *  - A kernel lock met while the task already has a futex edge (inside the
 *    futex syscall) makes no edge: the futex edge stays (STAT_EDGE_NESTED).
 *  - Each hook goes from lock event to blocked_on (set_blocked_on() /
 *    clear_blocked_on()) to donation (donate() / stop_lending()) in view.
 */

#define LCB_F_SPIN	(1U << 0)
#define LCB_F_READ	(1U << 1)
#define LCB_F_WRITE	(1U << 2)
#define LCB_F_RT	(1U << 3)
#define LCB_F_PERCPU	(1U << 4)
#define LCB_F_MUTEX	(1U << 5)

static u32 kernel_lock_type(unsigned int flags)
{
	if (flags & (LCB_F_SPIN | LCB_F_RT | LCB_F_PERCPU))
		return LOCK_NONE;
	if (flags & LCB_F_MUTEX)
		return LOCK_MUTEX;
	if (flags & (LCB_F_READ | LCB_F_WRITE))
		return LOCK_RWSEM;
	return LOCK_NONE;
}

SEC("tp_btf/contention_begin")
int BPF_PROG(proxy_contention_begin, void *lock, unsigned int flags)
{
	struct task_struct *p;
	struct task_ctx *tctx;
	struct lock_id id;
	task_ref owner;

	if (!track_kernel_locks)
		return 0;
	id.type = kernel_lock_type(flags);
	if (id.type == LOCK_NONE)
		return 0;

	p = bpf_get_current_task_btf();
	tctx = task_ctx_get(p);
	if (!tctx)
		return 0;
	/*
	 * A kernel lock met inside a futex wait (mmap_lock while the futex
	 * word is faulted in, ...) is a short inner wait: the futex edge,
	 * and the donation made along it, stay.
	 */
	if (tctx->blocked_on.addr && !is_kernel_lock(tctx->blocked_on.type)) {
		stat_inc(STAT_EDGE_NESTED);
		return 0;
	}

	id.addr = (u64)lock;
	id.space = 0;
	id.pad = 0;
	owner = ref_of_pid(kernel_lock_owner(id.type, id.addr));
	if (set_blocked_on(p, tctx, &id, owner))
		donate(p, tctx);
	return 0;
}

SEC("tp_btf/contention_end")
int BPF_PROG(proxy_contention_end, void *lock, int ret)
{
	struct task_struct *p = bpf_get_current_task_btf();
	struct task_ctx *tctx = task_ctx_get(p);
	struct lock_id was;

	if (!tctx || tctx->blocked_on.addr != (u64)lock ||
	    !is_kernel_lock(tctx->blocked_on.type))
		return 0;
	stop_lending(p, tctx);
	clear_blocked_on(p, tctx, &was);
	return 0;
}
