//! Helpers shared by the harness's integration tests.

use scx_proxy_tools::harness::SchedulerInfo;

/// A scheduler that ran, with nothing else recorded.
pub fn present(name: &str) -> SchedulerInfo {
    SchedulerInfo {
        name: name.into(),
        binary: None,
        args: vec![],
        ops_name: None,
        present: true,
        missing_reason: None,
        load_times_s: vec![],
        errors: vec![],
        proxy_counts: vec![],
    }
}
