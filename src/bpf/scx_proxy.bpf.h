/* SPDX-License-Identifier: GPL-2.0 */
/*
 * State shared by the parts of scx_proxy's BPF scheduler.
 *
 * The scheduler is one BPF object built from main.bpf.c, which includes the
 * other parts in this order:
 *
 *   scx_proxy.bpf.h	task/cgroup context, maps, tunables (this file)
 *   donate.bpf.c	chain walk, donation, proxy and return migration
 *   lock_kernel.bpf.c	blocked_on edges for kernel mutexes and rwsems
 *   lock_futex.bpf.c	blocked_on edges for userspace futex locks
 *   main.bpf.c		base policy, CPU placement, sched_ext_ops
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
 *  - Edges (task_ctx.blocked_on != 0) are only set by the blocked task itself
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
const volatile u32 nr_llcs = 1;
const volatile u32 nr_cpu_ids_ = 1;
const volatile u32 cpu_llc[MAX_CPUS];		/* cpu -> LLC index */

/* ... and policy knobs the daemon may change while running (bss). */
bool proxy_enabled = true;		/* --no-proxy clears it */
bool track_kernel_locks = true;		/* --no-kernel-locks */
bool track_futexes = true;		/* --no-futex */
bool cpu_donation = true;		/* --no-cpu-donation */
u32 max_chain_depth = 8;		/* --max-depth */
u64 max_donation_ns = 100000000ULL;	/* --max-donation-us */

#define CGROUP_ROOT_ID	1

/* A donor's scheduling context as lent to one donee. */
struct donation {
	u32 pid;		/* the donor; 0: none */
	s32 cpu;		/* where the donor was running */
	u64 vtime;		/* the donor's place in the vtime order */
	u64 since;		/* the donor's blocked_since: identifies the episode */
};

/* Per-task context. */
struct task_ctx {
	u64 cgid;		/* cgroup the task's time is charged to */
	u32 contrib_weight;	/* weight added to cgroup sum_weight while runnable */
	u32 eff_weight;		/* last computed effective weight (>= 1) */
	u64 last_run_at;	/* when it last started running */
	bool from_shared;	/* picked from a shared vtime DSQ */

	/* blocked_on edge: this task waits for @blocked_on (it is a donor) */
	u64 blocked_on;		/* lock address, 0 if not blocked */
	u32 blocked_type;	/* enum lock_type */
	u32 blocked_owner;	/* owner pid when the edge was made */
	u64 blocked_since;
	bool woken;		/* woken while blocked: runs by itself, lends nothing */

	/* donation received: this task runs on a donor's context */
	struct donation donor;	/* the donation it runs on (donor.pid 0: none) */
	struct donation alt;	/* runner-up: takes over when the donor stops */
	u64 donated_ns;		/* run time used on this donation (budget) */
	u32 running_donor;	/* current run is on this donor's context (0: own) */
	bool vtime_saved;	/* queued at the donor's place: own vtime below */
	u64 saved_vtime;	/* own vtime while queued at the donor's place */

	/* proxy / return migration */
	bool proxy_migrated;	/* placed away from home for a donation */
	s32 home_cpu;		/* where it would have run without it */

	/* as a donor: the chain end it last gave its context to */
	u32 donee_pid;

	/* time run for donees, charged to this task as a donor */
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

/* Per-lock report: lock address -> stats; when full, new locks go unreported. */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, MAX_LOCKS);
	__type(key, u64);
	__type(value, struct lock_stat);
} lock_stats SEC(".maps");

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

/* Per-CPU: the owner a donor on this CPU asked to be proxied here. */
struct cpu_ctx {
	u32 proxy_pid;
};

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, u32);
	__type(value, struct cpu_ctx);
} cpu_ctxs SEC(".maps");

/* Oldest vtime still competing: the base for sleepers' credit. */
u64 vtime_now;

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

static __always_inline struct task_ctx *task_ctx_get(struct task_struct *p)
{
	return bpf_task_storage_get(&task_ctxs, p, 0, 0);
}

static __always_inline struct cpu_ctx *cpu_ctx_get(void)
{
	u32 zero = 0;

	return bpf_map_lookup_elem(&cpu_ctxs, &zero);
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
