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
pub mod sched;
// wakeup-latency workloads: schbench, pipe ping-pong
pub mod wakeup;
