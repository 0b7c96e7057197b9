// SPDX-License-Identifier: GPL-2.0
//! Live knobs: the settings that the BPF side reads at every use (its
//! `.data` section), so that a running scheduler can change them without a
//! reload. `scx_proxy ctl KEY=VALUE ...` sends them over the scx_stats
//! socket (stats target "knobs"); the daemon checks all of them, writes them
//! all or none, logs the change and answers with the values now in force.
//! `--monitor` and `--stats` show them on their `knobs:` line.
//!
//! Turning a switch off takes effect at the next use: `proxy=off` ends every
//! donation at its next check (donation_valid() in src/bpf/donate.bpf.c), and
//! `futex=off`/`kernel-locks=off` stop new edges while the edges already made
//! end when their waits end. Changes live as long as the running instance; a
//! restart (or the service's `Restart=on-failure`) starts from the flags.

use std::collections::BTreeMap;

use anyhow::{bail, Context, Result};
use scx_stats::prelude::*;
use scx_stats_derive::{stat_doc, Stats};
use serde::{Deserialize, Serialize};

use crate::opts::{Opts, MAX_CHAIN_DEPTH, MAX_DONATION_US_MAX, MAX_DONATION_US_MIN};

/// The scx_stats target that reads and sets the knobs.
pub const STATS_TARGET: &str = "knobs";

/// The keys `scx_proxy ctl` takes, with what each one does.
pub const KEYS: &[(&str, &str)] = &[
    (
        "proxy",
        "on|off: proxy execution (donation); off is --no-proxy",
    ),
    (
        "cpu-donation",
        "on|off: proxy migration to the donor's CPU; off is --no-cpu-donation",
    ),
    (
        "kernel-locks",
        "on|off: edges from kernel mutexes and rwsems; off is --no-kernel-locks",
    ),
    (
        "futex",
        "on|off: edges from userspace futex locks; off is --no-futex",
    ),
    ("max-depth", "1-16: longest blocked-on chain followed"),
    (
        "max-donation-us",
        "100-10000000: run time one donation may lend, microseconds",
    ),
];

/// The knobs in force, as served on the stats socket (switches are 1 or 0).
#[stat_doc]
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, Stats)]
pub struct Knobs {
    #[stat(desc = "Proxy execution (donation): 1 on, 0 off")]
    pub proxy: u32,
    #[stat(desc = "Proxy migration to the donor's CPU: 1 on, 0 off")]
    pub cpu_donation: u32,
    #[stat(desc = "Edges from kernel mutexes and rwsems: 1 on, 0 off")]
    pub kernel_locks: u32,
    #[stat(desc = "Edges from userspace futex locks: 1 on, 0 off")]
    pub futex: u32,
    #[stat(desc = "Longest blocked-on chain followed")]
    pub max_depth: u32,
    #[stat(desc = "Run time one donation may lend, microseconds")]
    pub max_donation_us: u64,
}

fn on_off(v: u32) -> &'static str {
    if v != 0 {
        "on"
    } else {
        "off"
    }
}

fn parse_switch(key: &str, v: &str) -> Result<u32> {
    match v.to_ascii_lowercase().as_str() {
        "on" | "1" | "true" | "yes" => Ok(1),
        "off" | "0" | "false" | "no" => Ok(0),
        _ => bail!("{key}={v}: {key} is on or off"),
    }
}

fn parse_in<T>(key: &str, v: &str, min: T, max: T) -> Result<T>
where
    T: std::str::FromStr + PartialOrd + std::fmt::Display + Copy,
{
    match v.parse::<T>() {
        Ok(n) if n >= min && n <= max => Ok(n),
        _ => bail!("{key}={v}: {key} is a whole number from {min} to {max}"),
    }
}

impl Knobs {
    /// The knobs a daemon started with these flags begins with.
    pub fn from_opts(opts: &Opts) -> Self {
        Self {
            proxy: (!opts.no_proxy) as u32,
            cpu_donation: (!opts.no_cpu_donation) as u32,
            kernel_locks: (!opts.no_kernel_locks) as u32,
            futex: (!opts.no_futex) as u32,
            max_depth: opts.max_depth,
            max_donation_us: opts.max_donation_us,
        }
    }

    /// These knobs with `sets` (key -> value) applied. Every key and value
    /// is checked first: one bad setting changes nothing.
    pub fn with(&self, sets: &BTreeMap<String, String>) -> Result<Self> {
        let mut k = self.clone();
        for (key, v) in sets {
            let v = v.trim();
            match key.as_str() {
                "proxy" => k.proxy = parse_switch(key, v)?,
                "cpu-donation" => k.cpu_donation = parse_switch(key, v)?,
                "kernel-locks" => k.kernel_locks = parse_switch(key, v)?,
                "futex" => k.futex = parse_switch(key, v)?,
                "max-depth" => k.max_depth = parse_in(key, v, 1, MAX_CHAIN_DEPTH)?,
                "max-donation-us" => {
                    k.max_donation_us = parse_in(key, v, MAX_DONATION_US_MIN, MAX_DONATION_US_MAX)?
                }
                _ => bail!(
                    "unknown knob {key:?}: the knobs are {}",
                    KEYS.iter().map(|(k, _)| *k).collect::<Vec<_>>().join(", ")
                ),
            }
        }
        Ok(k)
    }

    /// `key value` pairs in the order of KEYS.
    fn pairs(&self) -> [(&'static str, String); 6] {
        [
            ("proxy", on_off(self.proxy).into()),
            ("cpu-donation", on_off(self.cpu_donation).into()),
            ("kernel-locks", on_off(self.kernel_locks).into()),
            ("futex", on_off(self.futex).into()),
            ("max-depth", self.max_depth.to_string()),
            ("max-donation-us", self.max_donation_us.to_string()),
        ]
    }

    /// One line: `proxy=on cpu-donation=on ... max-donation-us=100000`,
    /// in the form `scx_proxy ctl` takes.
    pub fn line(&self) -> String {
        self.pairs()
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect::<Vec<_>>()
            .join(" ")
    }

    /// What differs from `old`, as `key old -> new`.
    pub fn changes_from(&self, old: &Self) -> Vec<String> {
        old.pairs()
            .iter()
            .zip(self.pairs().iter())
            .filter(|(a, b)| a.1 != b.1)
            .map(|(a, b)| format!("{} {} -> {}", a.0, a.1, b.1))
            .collect()
    }
}

/// `KEY=VALUE` from the command line.
pub fn parse_set(s: &str) -> Result<(String, String)> {
    let (k, v) = s.split_once('=').with_context(|| {
        format!("{s:?} is not KEY=VALUE (e.g. proxy=off, max-donation-us=5000)")
    })?;
    if k.is_empty() || v.is_empty() || k == "target" {
        bail!("{s:?} is not KEY=VALUE (e.g. proxy=off, max-donation-us=5000)");
    }
    Ok((k.to_string(), v.to_string()))
}

/// The stats request's arguments without the scx_stats routing key.
pub fn sets_of(args: &BTreeMap<String, String>) -> BTreeMap<String, String> {
    args.iter()
        .filter(|(k, _)| k.as_str() != "target")
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect()
}

/// `scx_proxy ctl`: read or set the knobs of the running scx_proxy.
pub fn ctl(sysfs: &std::path::Path, sets: &[String]) -> Result<Knobs> {
    let mut args = vec![("target".to_string(), STATS_TARGET.to_string())];
    let mut seen = BTreeMap::new();
    for s in sets {
        let (k, v) = parse_set(s)?;
        if seen.insert(k.clone(), v.clone()).is_some() {
            bail!("{k} is given twice");
        }
        args.push((k, v));
    }
    // validate locally too, so that a typo is reported without a daemon
    Knobs::default().with(&seen)?;

    match crate::preflight::attached_scheduler(sysfs) {
        Some(ops) if ops.starts_with("scx_proxy") => {}
        Some(ops) => bail!("the attached sched_ext scheduler is {ops}, not scx_proxy"),
        None if sysfs.join("state").exists() => {
            bail!("no sched_ext scheduler is attached: start scx_proxy first")
        }
        None => bail!(
            "this kernel has no sched_ext ({} is missing): nothing to control",
            sysfs.display()
        ),
    }
    let mut client = StatsClient::new()
        .set_path(crate::scheduler::STATS_SOCKET)
        .connect(Some(5000))
        .with_context(|| {
            format!(
                "connecting to scx_proxy's stats socket ({}; root only)",
                crate::scheduler::STATS_SOCKET
            )
        })?;
    client
        .request::<Knobs>("stats", args)
        .context("scx_proxy refused the change")
}
