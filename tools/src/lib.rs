//! Shared library of scx_proxy's tools: result formats, latency statistics,
//! plotting and the plumbing to start/stop schedulers inside the test VM.
pub mod adversary;
pub mod demo;
pub mod latency;
pub mod plot;

// hackbench and sched-harness (scheduler comparison)
pub mod hackbench;
pub mod harness;
pub mod report;
// sched-pool: verdicts pooled over several sched-harness runs
pub mod pool;
pub mod sched;
// wakeup-latency workloads: schbench, pipe ping-pong
pub mod wakeup;
// IO-thread workloads (issue 11): io_uring ping-pong, event loop, polling loop
pub mod iowork;
// aio submitter under fio (issue 11)
pub mod aio;
// the workload binaries' measured-window flags and JSON output
pub mod window;
