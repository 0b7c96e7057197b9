// SPDX-License-Identifier: GPL-2.0
//! scx_proxy: a sched_ext scheduler with proxy execution. The BPF side is in
//! src/bpf/; this crate loads it, sets its policy and reports what it did.

pub mod bpf_intf;
#[allow(clippy::all)]
pub mod bpf_skel;
pub mod hooks;
pub mod knobs;
pub mod opts;
pub mod preflight;
pub mod report;
pub mod scheduler;
pub mod stats;
