//! `inversion-demo`: a priority-inversion workload for evaluating scx_proxy.
//!
//! Modelled on the public "priority-inversion-demo" used to evaluate the
//! kernel's Proxy Execution series: a high-priority *foreground* task
//! repeatedly takes a lock that a starved *background* task also takes, while
//! CPU hogs in a medium-weight cgroup keep the background task off the CPU.
//! Whenever the background task is preempted while holding the lock, the
//! foreground task waits for as long as the background task is starved:
//! priority inversion. The tool measures the foreground's per-operation
//! latency (HDR histogram) so schedulers can be compared.
//!
//! # Scenarios
//! - `rename`: the foreground (cgroup `fg`, cpu.weight 10000) times
//!   cross-directory `rename()`s; cross-directory renames serialise on the
//!   superblock's `s_vfs_rename_mutex` (a kernel mutex). A background renamer
//!   does the same in cgroup `bg` (cpu.weight 4); 2 x nCPU hog threads spin in
//!   cgroup `hogs` (cpu.weight 512). Each role renames its *own* file between
//!   its *own* pair of directories, so the only lock they share is
//!   `s_vfs_rename_mutex` (not the directories' `i_rwsem`). The foreground
//!   sleeps `--think-us` (default 500) before each timed rename, like an
//!   interactive task, so that the percentiles are not dominated by
//!   back-to-back uncontended renames (`--think-us 0` for a tight loop).
//!   Controls: `rename-unthrottled` (background at cpu.weight 100, the
//!   default) and `rename-nocontention` (no background renamer).
//! - `futex`: a glibc `pthread_mutex_t` (process-shared, in a `MAP_SHARED`
//!   file mapping). The waiter (nice -20, cgroup `fg`) sleeps `--think-us`,
//!   then locks/unlocks, timing the acquisition. The owner (nice 19, cgroup
//!   `bg`) locks, spins a CPU-bound critical section of `--cs-us` (thread CPU
//!   time by default, so a starved owner needs that much *CPU* to finish),
//!   unlocks and sleeps `--owner-gap-us` so the waiter can get in.
//! - `pi-futex`: the same with a `PTHREAD_PRIO_INHERIT` mutex.
//! - `chain --depth N` (1..=4): waiter -> lock 0 held by owner 0, which holds
//!   it while acquiring lock 1 held by owner 1, ... The last owner runs the
//!   critical section. `--pi` makes the chain's mutexes PI mutexes.
//!
//! # Process structure (design choice)
//! Every role runs in its own *process*: the binary re-executes itself
//! (`/proc/self/exe __role ...`, a hidden subcommand). This keeps cgroup v2
//! placement trivial and robust (a process moves itself by writing its PID to
//! the target's `cgroup.procs`; no threaded cgroups needed) and lets each role
//! have its own nice value. Futex scenarios share their mutexes through a
//! file in the scratch directory that every role maps `MAP_SHARED`
//! (an anonymous `MAP_SHARED` mapping would not survive `exec`), initialised
//! with `PTHREAD_PROCESS_SHARED` by the controller.
//!
//! Start-up handshake: each role moves itself into its cgroup, sets its nice
//! value and `PR_SET_PDEATHSIG` (so it dies with the controller), prints
//! `ready` on stdout and waits for `go` on stdin. The controller starts the
//! hogs and background roles, lets them settle for a moment, then starts the
//! foreground, which runs for `--duration` seconds and writes its histogram
//! to a result file. Everything else is then killed.
//!
//! # Cleanup
//! The controller creates `<cgroup-root>/inversion-demo.<pid>/{fg,bg,hogs}`
//! and `<workdir>/inversion-demo.<pid>/`. On normal exit, on errors and on
//! Ctrl-C/SIGTERM (ctrlc handler) it SIGKILLs its children, kills anything
//! left in the cgroups (`cgroup.kill`), removes the cgroups (leaves first)
//! and the scratch directory.
//!
//! # Refusals
//! `run` refuses with a one-line error unless it runs as root, cgroup v2 is
//! mounted at the cgroup root (it has `cgroup.controllers`) and the `cpu`
//! controller is available there ([`env::check_environment`]).

pub mod cli;
pub mod env;
pub mod locks;
pub mod report;
pub mod roles;
pub mod runner;
