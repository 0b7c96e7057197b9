/* SPDX-License-Identifier: GPL-2.0 */
/*
 * State shared by the parts of scx_proxy's BPF scheduler.
 *
 * The scheduler is one BPF object built from main.bpf.c, which includes the
 * other parts in this order:
 *
 *   scx_proxy.bpf.h	task/cgroup context, maps, tunables, task refs (this file)
 *   blocked_on.bpf.c	blocked_on edges: set/clear, owner of a lock, lock report
 *   donate.bpf.c	chain walk, donation, charging, proxy and return migration
 *   lock_kernel.bpf.c	where kernel mutex/rwsem edges come from
 *   lock_futex.bpf.c	where userspace futex lock edges come from
 *   main.bpf.c		base policy, run-time accounting, wait bound, sched_ext_ops
 *
 * Why #include and not separate objects linked by libbpf (as scx_lavd is
 * built): the parts call each other's helpers with trusted task pointers
 * and share maps and globals. Linked separately, every cross-file helper
 * would need __hidden linkage and every map and global an extern
 * declaration here, for no gain in what the verifier sees (one program per
 * hook either way). It stays one unit; the file split is by concern, and
 * each file's header states its invariants.
 *
 * Vocabulary follows the kernel's proxy-execution series: a task blocked on a
 * lock is a *donor*; the lock's *owner* runs on the donor's scheduling context
 * (its place in the vtime order and its slice); placing the owner on the
 * donor's CPU is *proxy migration*; sending it back when the donation ends is
 * *return migration*.
 *
 * Invariants:
 *  - task_ctx exists for every task between ops.init_task and exit_task;
 *    tracing programs may see tasks without one and must cope (NULL).
 *  - Tasks are remembered by reference (task_ref: pid plus a serial number
 *    given at ops.init_task), never by bare pid: ref_get() gives the task
 *    only if the pid still names the same task, so a reused pid gets
 *    nothing that was meant for the task that had it before.
 *  - Edges (task_ctx.blocked_on) are only set by the blocked task itself
 *    (the hooks run in its context) and cleared by it, or by exit_task.
 *  - Task pointers read from lock words are never dereferenced as trusted:
 *    only their pid is taken, and bpf_task_from_pid() gives a reference.
 */
#ifndef __SCX_PROXY_BPF_H
#define __SCX_PROXY_BPF_H

#include <scx/common.bpf.h>
#include <bpf/bpf_core_read.h>
#include "intf.h"

/* Tunables: set by the daemon before load (rodata) ... */
const volatile u64 slice_ns = 5000000ULL;	/* --slice-us */
const volatile u64 slice_lag_ns = 20000000ULL;	/* sleeper credit bound */
const volatile u64 wait_bound_ns = 200000000ULL;	/* --wait-bound-ms */
const volatile u64 rescue_slice_ns = 1250000ULL;	/* slice of a rescued task */
const volatile u64 wakeup_busy_ns = 5000000ULL;	/* --wakeup-busy-us */
const volatile bool wakeup_preempt = true;	/* --no-wakeup-preempt */
const volatile u32 nr_llcs = 1;
const volatile u32 nr_cpu_ids_ = 1;
const volatile u32 cpu_llc[MAX_CPUS];		/* cpu -> LLC index */
const volatile u32 llc_cpus[MAX_LLCS];		/* LLC index -> CPUs in it */

/*
 * ... and policy knobs that `scx_proxy ctl` changes while running (.data,
 * memory-mapped by the daemon; src/knobs.rs). Each is read at its use, so a
 * change takes effect at the next hook, walk or check: no state may depend
 * on a knob keeping the value it had when the state was made (a donation is
 * re-checked against proxy_enabled and max_donation_ns in donation_valid(),
 * and edges are cleared whatever track_* says now).
 */
bool proxy_enabled = true;		/* --no-proxy clears it */
bool track_kernel_locks = true;		/* --no-kernel-locks */
bool track_futexes = true;		/* --no-futex */
bool cpu_donation = true;		/* --no-cpu-donation */
u32 max_chain_depth = 8;		/* --max-depth */
u64 max_donation_ns = 100000000ULL;	/* --max-donation-us */

/*
 * Effective weights (a task's share of the machine) are kept in units of
 * 1/1024 of a weight: a task of nice 0 in the root cgroup weighs 100 *
 * EFF_WEIGHT_ONE. Deep cgroup trees give small shares (a weight-4 cgroup
 * beside weight-512 and weight-10000 siblings under a weight-100 parent
 * gets 0.04), and whole weight units rounded them all to 1, which made a
 * starved cgroup's task weigh as much as its heavy neighbours'.
 */
#define EFF_WEIGHT_SHIFT	10
#define EFF_WEIGHT_ONE		(1ULL << EFF_WEIGHT_SHIFT)
#define CGROUP_ROOT_ID	1
#define NSEC_PER_SEC_	1000000000ULL

/* The rescue DSQ of an LLC: tasks that waited past wait_bound_ns, FIFO. */
#define RESCUE_DSQ(llc)	(RESCUE_DSQ_BASE + (llc))
#define URGENT_DSQ(llc)	(URGENT_DSQ_BASE + (llc))

/*
 * A task reference: (serial << 32) | pid. 0 is no task. The serial is given
 * at ops.init_task, so a reused pid does not match an old reference.
 */
typedef u64 task_ref;

/* A donor's scheduling context as lent to one donee. */
struct donation {
	task_ref donor;		/* 0: none */
	s32 cpu;		/* where the donor was running */
	u64 vtime;		/* the donor's place, advanced by what is charged */
	u64 since;		/* the donor's blocked_since: identifies the episode */
	u32 weight;		/* the donor's effective weight */
};

/*
 * Where a blocked task waits. As the kernel keys futexes: a kernel lock by
 * its address (space 0); a process-private futex by (process, address); a
 * process-shared futex in a file or shared memory by (inode, offset), so
 * that every process that maps it names the same lock.
 */
struct lock_id {
	u64 addr;		/* kernel address, user address, or file offset
				 * with bit 63 set; never 0 (0: no lock) */
	u64 space;		/* 0, the tgid, or the backing inode's address */
	u32 type;		/* enum lock_type */
	u32 pad;
};

/* Per-task context. */
struct task_ctx {
	u32 serial;		/* second half of this task's task_ref */
	u32 eff_weight;		/* last effective weight, EFF_WEIGHT_ONE units (>= 1) */
	u64 cgid;		/* cgroup the task's time is charged to */
	u32 contrib_weight;	/* weight added to cgroup sum_weight while runnable */
	bool from_shared;	/* picked from a shared vtime DSQ in vtime order */
	bool rescued;		/* sits in a rescue DSQ */
	bool rescue_run;	/* current run was picked from a rescue DSQ */
	u64 last_run_at;	/* run time is accounted up to here */
	u64 wait_since;		/* runnable and not running since (0: not waiting) */
	u64 run_started;	/* the current run began here */
	u64 busy_ns;		/* run time since it last slept */
	u64 avg_burst_ns;	/* run time between sleeps, moving average */
	u64 run_waited_since;	/* wait_since before the current run began */
	u64 rcu_reader_since;	/* rescue scans have seen it queued inside an
				 * RCU read-side section since (0: not at the
				 * last scan that saw it) */

	/* blocked_on edge: this task waits for @blocked_on (it is a donor) */
	struct lock_id blocked_on;	/* .addr 0: not blocked */
	u64 blocked_since;
	bool woken;		/* woken while blocked: runs by itself, lends nothing */
	/* a futex this task is waking or unlocking: released when that ends */
	struct lock_id releasing;	/* .addr 0: none */

	/* donation received: this task runs on a donor's context */
	struct donation donor;	/* the donation it runs on (.donor 0: none) */
	struct donation alt;	/* runner-up: takes over when the donor stops */
	u64 donated_ns;		/* run time used on this donation (budget) */
	task_ref running_donor;	/* current run is on this donor's context (0: own) */
	bool vtime_saved;	/* queued at the donor's place: own vtime below */
	u64 saved_vtime;	/* own vtime while queued at the donor's place */

	/* proxy / return migration */
	bool proxy_migrated;	/* placed away from home for a donation */
	s32 home_cpu;		/* where it would have run without it */

	/* as a donor: the chain end it last gave its context to */
	task_ref donee;

	/* time run for donees, owed by this task as a donor (vtime units) */
	u64 pending_charge;
};

struct {
	__uint(type, BPF_MAP_TYPE_TASK_STORAGE);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, int);
	__type(value, struct task_ctx);
} task_ctxs SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, MAX_CGROUPS);
	__type(key, u64);
	__type(value, struct cgrp_ctx);
} cgrp_ctxs SEC(".maps");

/* Per-lock report: lock -> stats; when full, the least used entries go. */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, MAX_LOCKS);
	__type(key, struct lock_id);
	__type(value, struct lock_stat);
} lock_stats SEC(".maps");

/*
 * Futex lock -> its owner as last seen (blocked_on.bpf.c). A waiter sets
 * it, the owner's wake/unlock of that word deletes it (handoff), a waiter
 * whose wait ends successfully becomes the presumed owner.
 */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, MAX_BLOCKED);
	__type(key, struct lock_id);
	__type(value, task_ref);
} futex_owners SEC(".maps");

/* Blocked tasks (pid -> 1): lets the daemon count live edges. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, MAX_BLOCKED);
	__type(key, u32);
	__type(value, u64);
} blocked_tasks SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, NR_PROXY_STATS);
	__type(key, u32);
	__type(value, u64);
} stats SEC(".maps");

/* Per-CPU state. */
struct cpu_ctx {
	task_ref proxy_owner;	/* the owner a donor here asked to be proxied here */
	u32 proxy_tries;	/* dispatches that did not find it queued yet */
	/*
	 * Rescue scan counters: kept in map memory, where the verifier does
	 * not track their values, so that the DSQ iterator loop converges.
	 */
	u32 scan_seen;
	u32 scan_moved;
};

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, u32);
	__type(value, struct cpu_ctx);
} cpu_ctxs SEC(".maps");

/* Oldest vtime still competing: the base for sleepers' credit. */
u64 vtime_now;

/* Serial numbers for task refs. */
u32 task_serial;

static __always_inline void stat_add(u32 idx, u64 v)
{
	u64 *cnt = bpf_map_lookup_elem(&stats, &idx);

	if (cnt)
		*cnt += v;
}

static __always_inline void stat_inc(u32 idx)
{
	stat_add(idx, 1);
}

/* Per-CPU maximum (the daemon takes the maximum over CPUs). */
static __always_inline void stat_max(u32 idx, u64 v)
{
	u64 *cnt = bpf_map_lookup_elem(&stats, &idx);

	if (cnt && *cnt < v)
		*cnt = v;
}

static __always_inline struct task_ctx *task_ctx_get(struct task_struct *p)
{
	return bpf_task_storage_get(&task_ctxs, p, 0, 0);
}

static __always_inline task_ref ref_of(struct task_struct *p,
				       struct task_ctx *tctx)
{
	return ((u64)tctx->serial << 32) | (u32)p->pid;
}

/*
 * The task @ref names, with a reference the caller releases, and its
 * context in *ctxp; NULL if it exited or its pid now names another task.
 */
static __always_inline struct task_struct *ref_get(task_ref ref,
						   struct task_ctx **ctxp)
{
	struct task_struct *t;
	struct task_ctx *c;

	if (!ref)
		return NULL;
	t = bpf_task_from_pid((u32)ref);
	if (!t)
		return NULL;
	c = task_ctx_get(t);
	if (!c || c->serial != (u32)(ref >> 32)) {
		if (c)
			stat_inc(STAT_REF_STALE);
		bpf_task_release(t);
		return NULL;
	}
	*ctxp = c;
	return t;
}

/* The reference of the task with global pid @pid now (0 if none). */
static task_ref ref_of_pid(u32 pid)
{
	struct task_struct *t;
	struct task_ctx *c;
	task_ref ref = 0;

	if (!pid)
		return 0;
	t = bpf_task_from_pid(pid);
	if (!t)
		return 0;
	c = task_ctx_get(t);
	if (c)
		ref = ref_of(t, c);
	bpf_task_release(t);
	return ref;
}

static __always_inline struct cgrp_ctx *cgrp_ctx_get(u64 cgid)
{
	return bpf_map_lookup_elem(&cgrp_ctxs, &cgid);
}

static __always_inline struct cpu_ctx *cpu_ctx_get(void)
{
	u32 zero = 0;

	return bpf_map_lookup_elem(&cpu_ctxs, &zero);
}

static __always_inline u32 llc_nr_cpus(u32 llc)
{
	return llc_cpus[llc & (MAX_LLCS - 1)] ?: 1;
}

static __always_inline u64 llc_dsq(s32 cpu)
{
	u32 idx = cpu;

	if (idx >= MAX_CPUS)
		return 0;
	/* the mask keeps the verifier sure of the bound (MAX_CPUS is 2^n) */
	return cpu_llc[idx & (MAX_CPUS - 1)];
}

static __always_inline bool vtime_before(u64 a, u64 b)
{
	return (s64)(a - b) < 0;
}

/*
 * Is @p scheduled by sched_ext right now? Not while a PI boost or
 * sched_setscheduler() has put it in the RT or deadline class (prio < 100):
 * then the kernel runs it, and it neither lends nor receives a donation.
 */
static __always_inline bool task_is_ext(struct task_struct *p)
{
	return p->prio >= 100;
}

/* task_struct.on_cpu was an int up to 6.x and is a u8 since (7.x). */
struct task_struct___on_cpu_int {
	int on_cpu;
} __attribute__((preserve_access_index));

/* Is @p running on a CPU right now (between context switches)? */
static __always_inline bool task_on_cpu(struct task_struct *p)
{
	if (bpf_core_field_size(p->on_cpu) == sizeof(u8))
		return p->on_cpu;
	return ((struct task_struct___on_cpu_int *)p)->on_cpu;
}

/*
 * May @p be placed on @cpu? Dispatching to a local DSQ outside the task's
 * cpumask, or moving a migration-disabled task, gets the scheduler ejected.
 */
static __always_inline bool task_allowed_on(struct task_struct *p, s32 cpu)
{
	if (cpu < 0 || cpu >= nr_cpu_ids_)
		return false;
	if (!bpf_cpumask_test_cpu(cpu, p->cpus_ptr))
		return false;
	if (p->migration_disabled && scx_bpf_task_cpu(p) != cpu)
		return false;
	return true;
}

#endif /* __SCX_PROXY_BPF_H */
