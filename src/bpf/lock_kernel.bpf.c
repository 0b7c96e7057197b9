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
 *    chain walk (edge_owner()): it changes on handoff, and may be NULL when
 *    the lock was released in between (counted as STAT_EDGE_NO_OWNER).
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
	u32 type, owner_pid;

	if (!track_kernel_locks)
		return 0;
	type = kernel_lock_type(flags);
	if (type == LOCK_NONE)
		return 0;

	p = bpf_get_current_task_btf();
	tctx = task_ctx_get(p);
	if (!tctx)
		return 0;

	owner_pid = kernel_lock_owner(type, (u64)lock);
	edge_begin(p, tctx, (u64)lock, (u64)lock, type, owner_pid);
	return 0;
}

SEC("tp_btf/contention_end")
int BPF_PROG(proxy_contention_end, void *lock, int ret)
{
	struct task_struct *p = bpf_get_current_task_btf();
	struct task_ctx *tctx = task_ctx_get(p);

	if (tctx && tctx->blocked_on == (u64)lock &&
	    (tctx->blocked_type == LOCK_MUTEX || tctx->blocked_type == LOCK_RWSEM))
		edge_end(p, tctx);
	return 0;
}
