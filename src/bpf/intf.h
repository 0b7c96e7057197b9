/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Types and constants shared by the BPF scheduler and the Rust daemon
 * (bindgen turns this file into src/bpf_intf.rs).
 *
 * Everything here is ABI between the two halves: the daemon reads the maps
 * and the stats array laid out below, so change both sides together.
 */
#ifndef __SCX_PROXY_INTF_H
#define __SCX_PROXY_INTF_H

#ifndef __VMLINUX_H__
typedef unsigned char u8;
typedef unsigned int u32;
typedef int s32;
typedef unsigned long long u64;
typedef long long s64;
#endif

enum consts {
	MAX_CPUS		= 1024,
	MAX_LLCS		= 64,
	MAX_CHAIN_DEPTH		= 16,	/* hard cap; --max-depth picks <= this */
	MAX_CGROUPS		= 4096,
	MAX_CGRP_LEVELS		= 16,	/* deeper cgroups: tasks weighed alone */
	MAX_BLOCKED		= 16384,	/* blocked-on edges tracked at once */
	MAX_LOCKS		= 4096,	/* per-lock report entries */
	TASK_COMM_LEN_		= 16,
	NSEC_PER_USEC_		= 1000,
	MAX_RESCUE_SCAN		= 1024,	/* queued tasks one rescue scan looks at */
	MAX_RESCUE_MOVES	= 64,	/* tasks one rescue scan may move */
};

/*
 * DSQ ids: LLC n's vtime DSQ is n, its rescue DSQ RESCUE_DSQ_BASE + n, its
 * urgent DSQ (the kernel's housekeeping) URGENT_DSQ_BASE + n.
 */
#define RESCUE_DSQ_BASE	0x10000
#define URGENT_DSQ_BASE	0x20000

/* Lock families a blocked-on edge can come from. */
enum lock_type {
	LOCK_NONE		= 0,
	LOCK_MUTEX		= 1,	/* struct mutex (contention tracepoints) */
	LOCK_RWSEM		= 2,	/* struct rw_semaphore, writer-owned */
	LOCK_FUTEX		= 3,	/* glibc normal/recursive/errorcheck/adaptive mutex */
	LOCK_PI_FUTEX		= 4,	/* FUTEX_LOCK_PI(2): owner TID in the futex word */
	NR_LOCK_TYPES		= 5,
};

/* Global counters, one slot each in the per-CPU stats array. */
enum stat_idx {
	STAT_ENQ_SHARED,	/* inserted into an LLC's shared vtime DSQ */
	STAT_ENQ_LOCAL,		/* direct dispatch to an idle CPU (select_cpu; a pinned wakee) */
	STAT_ENQ_KTHREAD,	/* per-CPU kthread dispatched locally */
	STAT_ENQ_LAST,		/* SCX_ENQ_LAST: nothing else to run */
	STAT_IDLE_PICK,		/* idle CPU found in select_cpu */
	STAT_IDLE_KICK,		/* idle CPU kicked after a shared enqueue */
	STAT_DISPATCH,		/* tasks moved from a shared DSQ to a CPU */
	STAT_STEAL,		/* ... of which from another LLC's DSQ */
	STAT_LLC_BALANCE,	/* ... and to pull an LLC that fell behind in vtime */
	STAT_KEEP_RUNNING,	/* prev kept running: nothing else queued */
	STAT_RESCUED,		/* moved to a rescue DSQ: waited past the bound */
	STAT_RESCUE_PREEMPT,	/* slice cut at a tick: rescued tasks wait */
	STAT_CPU_RELEASE,	/* a higher class took a CPU: its local DSQ re-enqueued */
	STAT_REENQ,		/* ... tasks that came back through ops.enqueue */
	STAT_MAX_WAIT_NS,	/* longest runnable wait seen (maximum, not a sum) */
	STAT_CGROUP_TABLE_FULL,	/* cgroup map full or too deep: tasks weighed alone */
	STAT_CPU_HOTPLUG,	/* CPUs that went offline or online */
	STAT_RCU_READER,	/* run first: pcpu kthread switched out, reader past bound */
	STAT_KTHREAD_RESCUED,	/* ... kthreads rescued to the front of the line */
	STAT_RCU_LONG,		/* queued in an RCU reader > RCU_READER_LONG_NS */
	STAT_WAKEUP_PREEMPT,	/* a waking task ahead in vtime kicked a running one */
	STAT_KTHREAD_WAKE,	/* woken by a per-CPU kthread on its CPU: stayed there */
	STAT_SYNC_BUSY_WAKER,	/* sync wakeup by a CPU-bound waker: not on its CPU */
	STAT_WAKEE_STAYED,	/* no idle CPU: stayed on its waker's CPU, its last */
	/* blocked-on tracking */
	STAT_EDGE_MUTEX,
	STAT_EDGE_RWSEM,
	STAT_EDGE_FUTEX,
	STAT_EDGE_PI_FUTEX,
	STAT_EDGE_REJECTED,	/* futex word did not look like a locked mutex */
	STAT_EDGE_NO_OWNER,	/* owner gone between the failed attempt and the hook */
	STAT_EDGE_TABLE_FULL,	/* blocked map full: edge not tracked */
	STAT_EDGE_FOREIGN,	/* owner of another user, not the waiter's to lend to */
	STAT_EDGE_NESTED,	/* kernel lock met inside a futex wait: futex edge kept */
	STAT_OWNER_RELEASED,	/* futex owner released the lock: its edges end */
	STAT_REF_STALE,		/* a remembered task's pid now names another task */
	/* donation */
	STAT_DONATIONS,		/* a donor's context given to a chain end */
	STAT_DONATIONS_QUEUED,	/* ... applied to an owner waiting in a DSQ */
	STAT_DONATIONS_RUNNING,	/* ... owner already running: applied at its next enqueue */
	STAT_DONATIONS_SLEEPING,/* ... owner asleep: kept pending */
	STAT_DONATIONS_PASSED,	/* a chain's middle passed on its donor's donation */
	STAT_NO_INVERSION,	/* chain end not behind the donor: nothing lent */
	STAT_WALK_NO_OWNER,	/* donation walk met a lock with no known owner */
	STAT_OWNER_NOT_EXT,	/* donation walk met an owner outside sched_ext (RT/PI) */
	STAT_DONATION_END,	/* donation found invalid (donor stopped waiting) */
	STAT_DONATION_EXPIRED,	/* donated-time budget used up */
	STAT_DONATION_TICK_END,	/* running donee preempted: its donation ended */
	STAT_DONOR_WOKEN,	/* donor woken in its wait: stops lending */
	STAT_REDONATE,		/* woken donor slept again still blocked: lends again */
	STAT_DONOR_HANDOVER,	/* runner-up donor took over a donation */
	STAT_CYCLES,		/* chain walk met a cycle (deadlock) */
	STAT_DEPTH_CAPPED,	/* chain walk stopped at --max-depth */
	STAT_PROXY_MIGRATIONS,	/* owner placed on the donor's CPU */
	STAT_PROXY_LOCAL,	/* owner boosted on its own (allowed) CPU */
	STAT_PROXY_NOT_ALLOWED,	/* donor's CPU outside owner's cpumask/migration-disabled */
	STAT_RETURN_MIGRATIONS,	/* owner sent back to its home CPU after a donation */
	STAT_DONATED_NS,	/* time owners ran on donated context */
	STAT_DEPTH_1,		/* chain depth histogram: 1 .. 8+ */
	STAT_DEPTH_2,
	STAT_DEPTH_3,
	STAT_DEPTH_4,
	STAT_DEPTH_5,
	STAT_DEPTH_6,
	STAT_DEPTH_7,
	STAT_DEPTH_8P,
	NR_PROXY_STATS,
};

/* Per-cgroup accounting, keyed by cgroup id (the cgroup directory's inode). */
struct cgrp_ctx {
	u32 weight;		/* cpu.weight, 1..10000 */
	u32 nr_runnable;	/* runnable tasks charged to this cgroup */
	u64 sum_weight;		/* sum of their task weights */
	u64 runtime_ns;		/* CPU time charged */
	u64 nr_dispatches;	/* times one of its tasks started running */
	/* the hierarchy (main.bpf.c, "Hierarchical weights") */
	u64 parent;		/* parent's cgroup id (0 at the top level) */
	u32 level;		/* 1 directly under the root cgroup */
	u32 nr_active;		/* runnable tasks here + active child cgroups */
	s64 child_weight;	/* cpu.weight sum of the active child cgroups */
	u64 hweight;		/* share of the machine, weight units << 30 */
	u64 hweight_gen;	/* hweight is good while this is cgrp_gen */
};

/* Per-lock report entry, keyed by struct lock_id (address, process, type). */
struct lock_stat {
	u64 addr;
	u32 type;		/* enum lock_type */
	u32 owner_pid;		/* last owner seen */
	u32 waiter_tgid;	/* process of the last waiter (futex addresses are per-mm) */
	u32 nr_waiting;		/* waiters blocked right now */
	u64 nr_waits;		/* contended acquisitions seen */
	u64 nr_donations;	/* donations made on behalf of its waiters */
	u64 blocked_ns;		/* total time waiters spent blocked */
	char owner_comm[TASK_COMM_LEN_];
};

#endif /* __SCX_PROXY_INTF_H */
