/* SPDX-License-Identifier: GPL-2.0 */
/*
 * blocked_on edges for userspace locks built on futexes, from the futex
 * syscall tracepoints (stable across kernels, unlike fentry on futex
 * internals that may be inlined).
 *
 * Covered:
 *  - PI futexes (FUTEX_LOCK_PI, FUTEX_LOCK_PI2; glibc PTHREAD_PRIO_INHERIT
 *    mutexes): the owner is the TID in the futex word (& FUTEX_TID_MASK).
 *  - glibc normal, recursive, error-checking and adaptive pthread mutexes
 *    (FUTEX_WAIT/FUTEX_WAIT_BITSET on the mutex's __lock word): the owner is
 *    __owner at offset 8 of pthread_mutex_t. The edge is made only when the
 *    wait looks like glibc's lock slow path: expected value 2 and word 2
 *    ("locked, with waiters"), __kind at offset 16 a mutex kind, and __owner
 *    a live thread other than the waiter, of the waiter's process unless the
 *    mutex is process-shared (PTHREAD_MUTEX_PSHARED_BIT in __kind).
 * Not covered: futex_waitv, futex2 futex_wait(), rwlocks, semaphores,
 * condition variables and other futex words (they fail the checks above).
 *
 * Invariants:
 *  - An edge lives from the waiting syscall's entry to its exit, whatever
 *    the exit (woken, EAGAIN, timeout, signal); a new wait makes a new edge.
 *  - The owner TID is read at wait time; glibc writes __owner after taking
 *    the lock, so it may be stale: donation_valid() and the donated-time
 *    budget bound what a wrong edge can cost.
 *  - Lock keys mix the waiter's tgid into the user address: the same
 *    address in two processes is two locks.
 */

#define FUTEX_WAIT		0
#define FUTEX_LOCK_PI		6
#define FUTEX_WAIT_BITSET	9
#define FUTEX_LOCK_PI2		13
#define FUTEX_CMD_MASK		127
#define FUTEX_TID_MASK		0x3fffffffU

#define PTHREAD_MUTEX_KIND_MASK	0x7f
#define PTHREAD_MUTEX_PSHARED	128
#define PTHREAD_MUTEX_ELISION	(256 | 512)

struct glibc_mutex_head {
	u32 lock;	/* __lock: 0 free, 1 locked, 2 locked with waiters */
	u32 count;
	u32 owner;	/* __owner: TID of the owner */
	u32 nusers;
	u32 kind;	/* __kind */
};

static u64 futex_key(struct task_struct *p, u64 uaddr)
{
	return uaddr ^ ((u64)p->tgid << 40);
}

/* The owner TID of a glibc mutex the current task waits for, or 0. */
static u32 glibc_mutex_owner(struct task_struct *p, u64 uaddr, u32 val)
{
	struct glibc_mutex_head m;
	struct task_struct *owner;
	bool ok;

	if (val != 2)
		return 0;
	if (bpf_probe_read_user(&m, sizeof(m), (void *)uaddr))
		return 0;
	if (m.lock != 2 || !m.owner || m.owner == p->pid)
		return 0;
	if ((m.kind & PTHREAD_MUTEX_KIND_MASK) > 3 ||
	    (m.kind & ~(PTHREAD_MUTEX_KIND_MASK | PTHREAD_MUTEX_PSHARED |
			PTHREAD_MUTEX_ELISION)))
		return 0;

	owner = bpf_task_from_pid(m.owner);
	if (!owner)
		return 0;
	ok = owner->tgid == p->tgid || (m.kind & PTHREAD_MUTEX_PSHARED);
	bpf_task_release(owner);
	return ok ? m.owner : 0;
}

SEC("tracepoint/syscalls/sys_enter_futex")
int proxy_futex_enter(struct trace_event_raw_sys_enter *ctx)
{
	struct task_struct *p;
	struct task_ctx *tctx;
	u64 uaddr = ctx->args[0];
	u32 cmd = ctx->args[1] & FUTEX_CMD_MASK;
	u32 owner = 0, word, type;

	if (!track_futexes)
		return 0;
	if (cmd != FUTEX_WAIT && cmd != FUTEX_WAIT_BITSET &&
	    cmd != FUTEX_LOCK_PI && cmd != FUTEX_LOCK_PI2)
		return 0;

	p = bpf_get_current_task_btf();
	tctx = task_ctx_get(p);
	if (!tctx)
		return 0;

	if (cmd == FUTEX_LOCK_PI || cmd == FUTEX_LOCK_PI2) {
		type = LOCK_PI_FUTEX;
		if (!bpf_probe_read_user(&word, sizeof(word), (void *)uaddr))
			owner = word & FUTEX_TID_MASK;
	} else {
		type = LOCK_FUTEX;
		owner = glibc_mutex_owner(p, uaddr, (u32)ctx->args[2]);
		if (!owner) {
			stat_inc(STAT_EDGE_REJECTED);
			return 0;
		}
	}
	edge_begin(p, tctx, uaddr, futex_key(p, uaddr), type, owner);
	return 0;
}

SEC("tracepoint/syscalls/sys_exit_futex")
int proxy_futex_exit(struct trace_event_raw_sys_exit *ctx)
{
	struct task_struct *p = bpf_get_current_task_btf();
	struct task_ctx *tctx = task_ctx_get(p);

	if (tctx && tctx->blocked_on &&
	    (tctx->blocked_type == LOCK_FUTEX || tctx->blocked_type == LOCK_PI_FUTEX))
		edge_end(p, tctx);
	return 0;
}
