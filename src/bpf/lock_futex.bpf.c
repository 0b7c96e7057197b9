/* SPDX-License-Identifier: GPL-2.0 */
/*
 * blocked_on edges for userspace locks built on futexes. Two sets of hooks
 * feed the same two functions (futex_op_begin(), futex_op_end()); the
 * daemon loads and attaches one set (scheduler.rs, hooks.rs):
 *  - fentry/fexit on the kernel's futex_wait, futex_lock_pi, futex_wake and
 *    futex_unlock_pi, where the kernel's BTF has them (6.12 and 7.x do).
 *    Only futex calls pay for them.
 *  - The futex syscall tracepoints otherwise. Attaching any syscall
 *    tracepoint sends every syscall of every task through the slow path
 *    (TIF_SYSCALL_TRACEPOINT), so this is the fallback.
 * With neither (or --no-futex at start) no futex hook is attached at all.
 *
 * Covered:
 *  - PI futexes (FUTEX_LOCK_PI, FUTEX_LOCK_PI2; glibc PTHREAD_PRIO_INHERIT
 *    mutexes): the owner is the TID in the futex word (& FUTEX_TID_MASK).
 *  - glibc normal, recursive, error-checking and adaptive pthread mutexes
 *    (FUTEX_WAIT/FUTEX_WAIT_BITSET on the mutex's __lock word): the owner is
 *    __owner at offset 8 of pthread_mutex_t. The edge is made only when the
 *    wait looks like glibc's lock slow path: expected value 2 and word 2
 *    ("locked, with waiters"), __kind at offset 16 a mutex kind.
 * Not covered: futex_waitv, futex2 futex_wait(), rwlocks, semaphores,
 * condition variables and other futex words (they fail the checks above).
 *
 * Which owners are accepted (the same rule for both kinds):
 *  - The TID is resolved in the waiter's pid namespace (bpf_task_from_vpid,
 *    so futex donation works inside containers; on a kernel without it,
 *    only waiters in the initial pid namespace make futex edges).
 *  - The owner is a live thread other than the waiter, and sched_ext runs
 *    it (not a PI-boosted or RT task).
 *  - Same process as the waiter; or, for a process-shared futex (the wait
 *    without FUTEX_PRIVATE_FLAG, and for glibc mutexes the PSHARED bit in
 *    __kind), a process of the same effective uid, or any process if the
 *    waiter's euid is 0. Anything else is refused (STAT_EDGE_FOREIGN): a
 *    user cannot forge a lock word to make another user's waiter donate to
 *    them, or to pull another user's task onto a CPU of their choosing.
 *
 * Invariants:
 *  - An edge lives from the waiting syscall's entry to its exit, whatever
 *    the exit (woken, EAGAIN, timeout, signal); a new wait makes a new edge.
 *  - The owner is tracked in futex_owners (blocked_on.bpf.c): set by each
 *    waiter from the lock word, ended by the owner's own FUTEX_WAKE /
 *    FUTEX_WAKE_BITSET / FUTEX_UNLOCK_PI on the word when that call
 *    returns (fexit, or the syscall's exit), not when it starts: until the
 *    waiter is woken, the owner still holds it up, so it keeps the
 *    donation. Ended at the call's start, a starved owner lost its donated
 *    context at the next tick while still inside futex_wake() and finished
 *    the wake only when the wait bound rescued it: the waiter's
 *    acquisition took 207-436 ms in about 1 of 4 20 s runs of
 *    30-adversarial's starvation chain (traced). Handed to a waiter whose
 *    wait returned 0.
 *  - Lock ids follow the kernel's futex keys: a private futex (or a shared
 *    one in private memory) is (tgid, user address); a process-shared one
 *    in a file or shared memory is (inode, offset in it), found with
 *    bpf_find_vma(). So the same address in two processes is two locks, a
 *    shared mutex mapped at two addresses is one, and no two locks share an
 *    id. (If the address space is busy, bpf_find_vma() fails and the wait
 *    keeps the private key: at worst that wait's owner is not seen
 *    releasing, and donation_valid()'s re-walk, the budget and the owner's
 *    next handoff bound it.)
 */

#define FUTEX_WAIT		0
#define FUTEX_WAKE		1
#define FUTEX_LOCK_PI		6
#define FUTEX_UNLOCK_PI		7
#define FUTEX_WAIT_BITSET	9
#define FUTEX_WAKE_BITSET	10
#define FUTEX_LOCK_PI2		13
#define FUTEX_PRIVATE_FLAG	128
#define FUTEX_CMD_MASK		127
#define FUTEX_TID_MASK		0x3fffffffU

#define PTHREAD_MUTEX_KIND_MASK	0x7f
#define PTHREAD_MUTEX_PSHARED	128
#define PTHREAD_MUTEX_ELISION	(256 | 512)

struct task_struct *bpf_task_from_vpid(s32 vpid) __ksym __weak;

struct glibc_mutex_head {
	u32 lock;	/* __lock: 0 free, 1 locked, 2 locked with waiters */
	u32 count;
	u32 owner;	/* __owner: TID of the owner */
	u32 nusers;
	u32 kind;	/* __kind */
};

struct vma_key {
	u64 uaddr;
	u64 addr;
	u64 space;
};

static long vma_key_cb(struct task_struct *task, struct vm_area_struct *vma,
		       void *data)
{
	struct vma_key *k = data;
	struct file *f = vma->vm_file;

	if (f) {
		k->space = (u64)BPF_CORE_READ(f, f_inode);
		/* the top bit keeps offset 0 from reading as "no lock" */
		k->addr = ((vma->vm_pgoff << 12) + (k->uaddr - vma->vm_start)) |
			  (1ULL << 63);
	}
	return 0;
}

/* The lock id of the futex word @uaddr of current @p (see the header). */
static void futex_lock_id(struct task_struct *p, u64 uaddr, bool shared,
			  u32 type, struct lock_id *id)
{
	struct vma_key k = { .uaddr = uaddr, .addr = uaddr, .space = p->tgid };

	if (shared)
		bpf_find_vma(p, uaddr, vma_key_cb, &k, 0);
	id->addr = k.addr;
	id->space = k.space;
	id->type = type;
	id->pad = 0;
}

/* The thread @tid names in @p's pid namespace, with a reference; or NULL. */
static struct task_struct *task_from_tid(struct task_struct *p, u32 tid)
{
	if (!tid)
		return NULL;
	if (bpf_ksym_exists(bpf_task_from_vpid))
		return bpf_task_from_vpid(tid);
	/* no vpid look-up: only the initial namespace's TIDs are global */
	if (BPF_CORE_READ(p, thread_pid, level) != 0)
		return NULL;
	return bpf_task_from_pid(tid);
}

/* May waiter @p lend to @owner, across processes only if @shared? */
static bool owner_acceptable(struct task_struct *p, struct task_struct *owner,
			     bool shared)
{
	u32 euid, oeuid;

	if (owner->tgid == p->tgid)
		return true;
	if (!shared)
		return false;
	euid = BPF_CORE_READ(p, cred, euid.val);
	oeuid = BPF_CORE_READ(owner, cred, euid.val);
	return euid == 0 || euid == oeuid;
}

/*
 * The owner of the futex lock at @uaddr (@shared: a process-shared wait)
 * that current @p is about to wait for, as a task_ref (0 if the wait does
 * not look like a lock wait, or the owner is not acceptable).
 */
static task_ref futex_lock_owner(struct task_struct *p, u64 uaddr,
				 bool shared, u32 val, bool pi)
{
	struct glibc_mutex_head m;
	struct task_struct *owner;
	struct task_ctx *octx;
	task_ref ref = 0;
	u32 tid;

	if (pi) {
		if (bpf_probe_read_user(&tid, sizeof(tid), (void *)uaddr))
			return 0;
		tid &= FUTEX_TID_MASK;
	} else {
		if (val != 2)
			return 0;
		if (bpf_probe_read_user(&m, sizeof(m), (void *)uaddr))
			return 0;
		if (m.lock != 2)
			return 0;
		if ((m.kind & PTHREAD_MUTEX_KIND_MASK) > 3 ||
		    (m.kind & ~(PTHREAD_MUTEX_KIND_MASK | PTHREAD_MUTEX_PSHARED |
				PTHREAD_MUTEX_ELISION)))
			return 0;
		shared = shared && (m.kind & PTHREAD_MUTEX_PSHARED);
		tid = m.owner;
	}

	owner = task_from_tid(p, tid);
	if (!owner)
		return 0;
	octx = task_ctx_get(owner);
	if (owner == p || !octx || !task_is_ext(owner)) {
		bpf_task_release(owner);
		return 0;
	}
	if (owner_acceptable(p, owner, shared))
		ref = ref_of(owner, octx);
	else
		stat_inc(STAT_EDGE_FOREIGN);
	bpf_task_release(owner);
	return ref;
}

/* What a hooked futex call does to the blocked-on graph. */
enum futex_hook_op {
	FUTEX_OP_WAIT,		/* may wait for a glibc mutex's owner */
	FUTEX_OP_LOCK_PI,	/* may wait for a PI futex's owner */
	FUTEX_OP_WAKE,		/* an owner lets go of a lock word */
	FUTEX_OP_UNLOCK_PI,
};

/*
 * Current starts futex operation @op on the word at @uaddr (@shared: not
 * FUTEX_PRIVATE_FLAG; @val: the value a FUTEX_WAIT expects).
 */
static void futex_op_begin(u64 uaddr, bool shared, u32 val, int op)
{
	struct task_struct *p;
	struct task_ctx *tctx;
	struct lock_id id;
	task_ref owner;
	bool pi;

	if (!track_futexes)
		return;
	p = bpf_get_current_task_btf();
	tctx = task_ctx_get(p);
	if (!tctx)
		return;

	pi = op == FUTEX_OP_LOCK_PI || op == FUTEX_OP_UNLOCK_PI;
	if (op == FUTEX_OP_WAKE || op == FUTEX_OP_UNLOCK_PI) {
		/* an owner lets go of a lock: its edges end when this returns */
		futex_lock_id(p, uaddr, shared,
			      pi ? LOCK_PI_FUTEX : LOCK_FUTEX, &tctx->releasing);
		return;
	}

	owner = futex_lock_owner(p, uaddr, shared, val, pi);
	if (!owner) {
		stat_inc(STAT_EDGE_REJECTED);
		return;
	}
	futex_lock_id(p, uaddr, shared, pi ? LOCK_PI_FUTEX : LOCK_FUTEX, &id);
	futex_owner_set(&id, owner);
	if (set_blocked_on(p, tctx, &id, owner))
		donate(p, tctx);
}

/* Current's futex wake or unlock returned: the lock it let go of is free. */
static void futex_release_end(struct task_struct *p, struct task_ctx *tctx)
{
	if (!tctx || !tctx->releasing.addr)
		return;
	futex_owner_released(&tctx->releasing, ref_of(p, tctx));
	tctx->releasing.addr = 0;
}

/*
 * Current's futex call returned @ret: a wake or unlock releases the lock it
 * let go of (handoff); a wait or PI lock ends its futex edge.
 */
static void futex_op_end(long ret)
{
	struct task_struct *p = bpf_get_current_task_btf();
	struct task_ctx *tctx = task_ctx_get(p);
	struct lock_id was;

	futex_release_end(p, tctx);
	if (!tctx || !tctx->blocked_on.addr ||
	    is_kernel_lock(tctx->blocked_on.type))
		return;
	stop_lending(p, tctx);
	clear_blocked_on(p, tctx, &was);
	/*
	 * Woken (0): for a PI futex the kernel made it the owner; a glibc
	 * waiter is about to take the lock (if it loses, its next wait
	 * records the real owner). Other waiters now wait for it.
	 */
	if (ret == 0)
		futex_owner_set(&was, ref_of(p, tctx));
}

/*
 * fentry/fexit hooks. Only the first arguments are read, which are the
 * same on 6.12 and 7.x (7.x added a robust-list argument to futex_wake and
 * futex_unlock_pi after them). The kernel's internal flags: FLAGS_SHARED
 * is 0x10 since 6.7 (every kernel with sched_ext); a FUTEX_TRYLOCK_PI
 * comes as futex_lock_pi(..., trylock = 1) and never waits.
 */
#define FLAGS_SHARED		0x10

SEC("fentry/futex_wait")
int BPF_PROG(proxy_fentry_futex_wait, u32 *uaddr, unsigned int flags, u32 val)
{
	futex_op_begin((u64)uaddr, flags & FLAGS_SHARED, val, FUTEX_OP_WAIT);
	return 0;
}

SEC("fexit/futex_wait")
int BPF_PROG(proxy_fexit_futex_wait)
{
	u64 ret = 0;

	bpf_get_func_ret(ctx, &ret);
	futex_op_end((int)ret);
	return 0;
}

SEC("fentry/futex_lock_pi")
int BPF_PROG(proxy_fentry_futex_lock_pi, u32 *uaddr, unsigned int flags,
	     void *time, int trylock)
{
	if (!trylock)
		futex_op_begin((u64)uaddr, flags & FLAGS_SHARED, 0,
			       FUTEX_OP_LOCK_PI);
	return 0;
}

SEC("fexit/futex_lock_pi")
int BPF_PROG(proxy_fexit_futex_lock_pi)
{
	u64 ret = 0;

	bpf_get_func_ret(ctx, &ret);
	futex_op_end((int)ret);
	return 0;
}

SEC("fentry/futex_wake")
int BPF_PROG(proxy_fentry_futex_wake, u32 *uaddr, unsigned int flags)
{
	futex_op_begin((u64)uaddr, flags & FLAGS_SHARED, 0, FUTEX_OP_WAKE);
	return 0;
}

SEC("fexit/futex_wake")
int BPF_PROG(proxy_fexit_futex_wake)
{
	struct task_struct *p = bpf_get_current_task_btf();

	futex_release_end(p, task_ctx_get(p));
	return 0;
}

SEC("fentry/futex_unlock_pi")
int BPF_PROG(proxy_fentry_futex_unlock_pi, u32 *uaddr, unsigned int flags)
{
	futex_op_begin((u64)uaddr, flags & FLAGS_SHARED, 0,
		       FUTEX_OP_UNLOCK_PI);
	return 0;
}

SEC("fexit/futex_unlock_pi")
int BPF_PROG(proxy_fexit_futex_unlock_pi)
{
	struct task_struct *p = bpf_get_current_task_btf();

	futex_release_end(p, task_ctx_get(p));
	return 0;
}

/* The syscall tracepoints: the same operations, decoded from the op. */
SEC("tracepoint/syscalls/sys_enter_futex")
int proxy_futex_enter(struct trace_event_raw_sys_enter *ctx)
{
	u32 op = ctx->args[1], cmd = op & FUTEX_CMD_MASK;
	bool shared = !(op & FUTEX_PRIVATE_FLAG);
	u64 uaddr = ctx->args[0];

	switch (cmd) {
	case FUTEX_WAIT:
	case FUTEX_WAIT_BITSET:
		futex_op_begin(uaddr, shared, (u32)ctx->args[2], FUTEX_OP_WAIT);
		break;
	case FUTEX_LOCK_PI:
	case FUTEX_LOCK_PI2:
		futex_op_begin(uaddr, shared, 0, FUTEX_OP_LOCK_PI);
		break;
	case FUTEX_WAKE:
	case FUTEX_WAKE_BITSET:
		futex_op_begin(uaddr, shared, 0, FUTEX_OP_WAKE);
		break;
	case FUTEX_UNLOCK_PI:
		futex_op_begin(uaddr, shared, 0, FUTEX_OP_UNLOCK_PI);
		break;
	}
	return 0;
}

SEC("tracepoint/syscalls/sys_exit_futex")
int proxy_futex_exit(struct trace_event_raw_sys_exit *ctx)
{
	futex_op_end(ctx->ret);
	return 0;
}
