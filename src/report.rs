// SPDX-License-Identifier: GPL-2.0
//! The per-lock report: which locks tasks blocked on, who owned them, how
//! long waiters waited and how often their context was donated.

use std::io::Write;

use anyhow::Result;
use scx_stats_derive::{stat_doc, Stats};
use serde::{Deserialize, Serialize};

#[stat_doc]
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, Stats)]
#[stat(_om_prefix = "l_", _om_label = "lock")]
pub struct LockEntry {
    #[stat(desc = "Lock address (kernel, or user virtual for futexes)")]
    pub addr: String,
    #[stat(desc = "Lock type: mutex, rwsem, futex, pi-futex")]
    pub kind: String,
    #[stat(desc = "Last owner: comm/pid")]
    pub owner: String,
    #[stat(desc = "Process (tgid) of the last waiter")]
    pub waiter_tgid: u32,
    #[stat(desc = "Waiters blocked now")]
    pub waiting: u32,
    #[stat(desc = "Contended acquisitions")]
    pub waits: u64,
    #[stat(desc = "Donations on behalf of its waiters")]
    pub donations: u64,
    #[stat(desc = "Total time waiters were blocked, microseconds")]
    pub blocked_us: u64,
}

pub fn lock_kind_name(kind: u32) -> &'static str {
    match kind {
        1 => "mutex",
        2 => "rwsem",
        3 => "futex",
        4 => "pi-futex",
        _ => "?",
    }
}

/// Most-blocked-on locks first, `top` of them.
pub fn top_locks(mut locks: Vec<LockEntry>, top: usize) -> Vec<LockEntry> {
    locks.sort_by(|a, b| {
        b.blocked_us
            .cmp(&a.blocked_us)
            .then(b.waits.cmp(&a.waits))
            .then(a.addr.cmp(&b.addr))
    });
    locks.truncate(top);
    locks
}

pub fn format_locks<W: Write>(w: &mut W, locks: &[LockEntry]) -> Result<()> {
    if locks.is_empty() {
        return Ok(());
    }
    writeln!(
        w,
        "  {:<18} {:<8} {:<24} {:>7} {:>8} {:>9} {:>12}",
        "lock", "type", "owner", "waiting", "waits", "donations", "blocked_us"
    )?;
    for l in locks {
        writeln!(
            w,
            "  {:<18} {:<8} {:<24} {:>7} {:>8} {:>9} {:>12}",
            l.addr, l.kind, l.owner, l.waiting, l.waits, l.donations, l.blocked_us
        )?;
    }
    Ok(())
}
