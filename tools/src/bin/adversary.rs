// SPDX-License-Identifier: GPL-2.0
//! `adversary`: the workloads of scx_proxy's adversarial VM suite, one
//! subcommand per attack. Each prints one JSON object on stdout with what it
//! measured; the suite (vm-tests/suites/30-adversarial.sh) checks the bounds.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use clap::{Parser, Subcommand};
use serde_json::json;

use scx_proxy_tools::adversary::*;

/// Adversarial workloads for scx_proxy's VM suite.
#[derive(Parser)]
#[command(name = "adversary", version)]
struct Cli {
    #[command(subcommand)]
    cmd: Cmd,
}

#[derive(Subcommand)]
enum Cmd {
    /// Spin on the CPU for SECS and report the longest gap between two
    /// progress samples (time the task did not run) and its CPU share.
    Gaps {
        #[arg(long, default_value_t = 10.0)]
        secs: f64,
        /// nice value to set first (-20..19)
        #[arg(long, allow_hyphen_values = true)]
        nice: Option<i32>,
        /// SCHED_FIFO priority to set first (1..99)
        #[arg(long)]
        fifo: Option<i32>,
    },
    /// A nice 19 thread takes a mutex and spins holding it for SECS (wall
    /// time); its
    /// sibling sleeps 100 ms and then blocks on the mutex (it lends to the
    /// holder). Meant to be run as an unprivileged user beside a victim.
    Monopoly {
        #[arg(long, default_value_t = 45.0)]
        secs: f64,
    },
    /// THREADS threads take one mutex in turn, spinning CS_US inside and
    /// OUTSIDE_US outside it; reports every thread's worst wait.
    Churn {
        #[arg(long, default_value_t = 8)]
        threads: usize,
        #[arg(long, default_value_t = 30.0)]
        secs: f64,
        #[arg(long, default_value_t = 500)]
        cs_us: u64,
        #[arg(long, default_value_t = 500)]
        outside_us: u64,
    },
    /// The owner of a mutex dies while a nice -20 waiter blocks on it;
    /// reports how long after the death the waiter got the lock (or, for a
    /// non-robust mutex, its timed wait returned).
    OwnerDeath {
        #[arg(long, value_enum)]
        kind: MutexKind,
        #[arg(long, value_enum)]
        how: Death,
        #[arg(long, default_value_t = 5)]
        rounds: u32,
        /// Timed-wait limit for the non-robust kind, ms.
        #[arg(long, default_value_t = 1000)]
        timeout_ms: u64,
    },
    /// Build futex words that look like PI and process-shared glibc
    /// mutexes naming VICTIM's TID, and wait on them (with a timeout).
    Forge {
        #[arg(long)]
        victim_tid: i32,
        #[arg(long, default_value_t = 50)]
        rounds: u32,
    },
    /// WAITERS threads block on one mutex held by a nice 19 spinner, and
    /// PAIRS mutexes are each held by a sleeping owner with one waiter.
    Scale {
        #[arg(long, default_value_t = 10000)]
        waiters: usize,
        #[arg(long, default_value_t = 2000)]
        pairs: usize,
        /// How long the locks are held once every thread is started, s.
        #[arg(long, default_value_t = 10.0)]
        hold_secs: f64,
    },
    /// A PI mutex held by a nice 19 SCHED_OTHER owner (CS_MS of CPU) with a
    /// SCHED_FIFO and a nice -20 SCHED_OTHER waiter, ROUNDS times.
    PiMixed {
        #[arg(long, default_value_t = 10)]
        rounds: u32,
        #[arg(long, default_value_t = 20)]
        cs_ms: u64,
    },
}

fn main() {
    let cli = Cli::parse();
    let res = match cli.cmd {
        Cmd::Gaps { secs, nice, fifo } => gaps(secs, nice, fifo),
        Cmd::Monopoly { secs } => monopoly(secs),
        Cmd::Churn {
            threads,
            secs,
            cs_us,
            outside_us,
        } => churn(threads, secs, cs_us, outside_us),
        Cmd::OwnerDeath {
            kind,
            how,
            rounds,
            timeout_ms,
        } => owner_death(kind, how, rounds, timeout_ms),
        Cmd::Forge { victim_tid, rounds } => forge(victim_tid, rounds),
        Cmd::Scale {
            waiters,
            pairs,
            hold_secs,
        } => scale(waiters, pairs, hold_secs),
        Cmd::PiMixed { rounds, cs_ms } => pi_mixed(rounds, cs_ms),
    };
    match res {
        Ok(v) => println!("{v}"),
        Err(e) => {
            eprintln!("adversary: error: {e:#}");
            std::process::exit(1);
        }
    }
}

fn gaps(secs: f64, nice: Option<i32>, fifo: Option<i32>) -> Result<serde_json::Value> {
    if let Some(n) = nice {
        set_nice(n)?;
    }
    if let Some(p) = fifo {
        set_fifo(p)?;
    }
    let g = spin_gaps(Duration::from_secs_f64(secs));
    Ok(json!({
        "secs": g.wall_s,
        "max_gap_ms": g.max_gap_ms,
        "cpu_share": g.cpu_share,
        "cpus_seen": g.cpus_seen,
    }))
}

fn monopoly(secs: f64) -> Result<serde_json::Value> {
    let m = Arc::new(Mutex::new(MutexKind::Normal, false)?);
    let held = Arc::new(AtomicBool::new(false));
    let (m2, h2) = (m.clone(), held.clone());
    let holder = std::thread::spawn(move || -> Result<()> {
        set_nice(19)?;
        m2.lock()?;
        h2.store(true, Ordering::SeqCst);
        let end = Instant::now() + Duration::from_secs_f64(secs);
        while Instant::now() < end {
            spin_cpu(Duration::from_micros(100));
        }
        m2.unlock()
    });
    while !held.load(Ordering::SeqCst) {
        std::thread::sleep(Duration::from_millis(1));
    }
    std::thread::sleep(Duration::from_millis(100));
    let t0 = Instant::now();
    m.lock()?;
    let waited = t0.elapsed();
    m.unlock()?;
    holder.join().unwrap()?;
    Ok(json!({ "holder_secs": secs, "sibling_wait_s": waited.as_secs_f64() }))
}

fn churn(threads: usize, secs: f64, cs_us: u64, outside_us: u64) -> Result<serde_json::Value> {
    let m = Arc::new(Mutex::new(MutexKind::Normal, false)?);
    let end = Instant::now() + Duration::from_secs_f64(secs);
    let handles: Vec<_> = (0..threads)
        .map(|_| {
            let m = m.clone();
            std::thread::spawn(move || -> Result<(u64, f64)> {
                let (mut n, mut worst) = (0u64, 0f64);
                while Instant::now() < end {
                    let t0 = Instant::now();
                    m.lock()?;
                    worst = worst.max(t0.elapsed().as_secs_f64() * 1e3);
                    spin_cpu(Duration::from_micros(cs_us));
                    m.unlock()?;
                    n += 1;
                    spin_cpu(Duration::from_micros(outside_us));
                }
                Ok((n, worst))
            })
        })
        .collect();
    let mut per = Vec::new();
    for h in handles {
        per.push(h.join().unwrap()?);
    }
    let worst = per.iter().map(|p| p.1).fold(0f64, f64::max);
    Ok(json!({
        "threads": threads,
        "acquisitions": per.iter().map(|p| p.0).collect::<Vec<_>>(),
        "worst_wait_ms_per_thread": per.iter().map(|p| p.1).collect::<Vec<_>>(),
        "worst_wait_ms": worst,
    }))
}

fn owner_death(
    kind: MutexKind,
    how: Death,
    rounds: u32,
    timeout_ms: u64,
) -> Result<serde_json::Value> {
    set_nice(-20)?;
    let mut after_ms = Vec::new();
    let mut results = Vec::new();
    for _ in 0..rounds {
        let r = match how {
            Death::Kill => death_by_kill(kind, timeout_ms)?,
            Death::Exit => death_by_exit(kind, timeout_ms)?,
        };
        after_ms.push(r.after_death_ms);
        results.push(r.result);
    }
    let worst = after_ms.iter().copied().fold(0f64, f64::max);
    Ok(json!({
        "kind": format!("{kind:?}"),
        "how": format!("{how:?}"),
        "rounds": rounds,
        "results": results,
        "after_death_ms": after_ms,
        "worst_after_death_ms": worst,
    }))
}

fn forge(victim_tid: i32, rounds: u32) -> Result<serde_json::Value> {
    let mut pi_rc = Vec::new();
    let mut glibc_rc = Vec::new();
    for _ in 0..rounds {
        pi_rc.push(forged_pi_wait(victim_tid, Duration::from_millis(20)));
        glibc_rc.push(forged_glibc_wait(victim_tid, Duration::from_millis(20)));
    }
    let count = |v: &Vec<i32>, e: i32| v.iter().filter(|&&x| x == e).count();
    Ok(json!({
        "rounds": rounds,
        "pi_timeouts": count(&pi_rc, libc::ETIMEDOUT),
        "pi_other": pi_rc.iter().filter(|&&x| x != libc::ETIMEDOUT).collect::<Vec<_>>(),
        "glibc_timeouts": count(&glibc_rc, libc::ETIMEDOUT),
        "glibc_other": glibc_rc.iter().filter(|&&x| x != libc::ETIMEDOUT).collect::<Vec<_>>(),
    }))
}

fn scale(waiters: usize, pairs: usize, hold_secs: f64) -> Result<serde_json::Value> {
    let t0 = Instant::now();
    let big = Arc::new(Mutex::new(MutexKind::Normal, false)?);
    let release = Arc::new(AtomicBool::new(false));
    let held = Arc::new(AtomicU64::new(0));
    let mut hs = Vec::new();
    let spawn = |f: Box<dyn FnOnce() -> Result<()> + Send>| {
        std::thread::Builder::new()
            .stack_size(64 << 10)
            .spawn(f)
            .context("spawning a thread")
    };
    {
        let (m, r, h) = (big.clone(), release.clone(), held.clone());
        hs.push(spawn(Box::new(move || {
            set_nice(19)?;
            m.lock()?;
            h.fetch_add(1, Ordering::SeqCst);
            while !r.load(Ordering::Relaxed) {
                spin_cpu(Duration::from_millis(1));
            }
            m.unlock()
        }))?);
    }
    let mut pair_locks = Vec::with_capacity(pairs);
    for _ in 0..pairs {
        let m = Arc::new(Mutex::new(MutexKind::Normal, false)?);
        let (m1, r, h) = (m.clone(), release.clone(), held.clone());
        hs.push(spawn(Box::new(move || {
            m1.lock()?;
            h.fetch_add(1, Ordering::SeqCst);
            while !r.load(Ordering::Relaxed) {
                std::thread::sleep(Duration::from_millis(50));
            }
            m1.unlock()
        }))?);
        pair_locks.push(m);
    }
    // every owner holds its lock before its waiter comes
    while held.load(Ordering::SeqCst) < pairs as u64 + 1 {
        std::thread::sleep(Duration::from_millis(1));
    }
    for m in pair_locks {
        hs.push(spawn(Box::new(move || {
            m.lock()?;
            m.unlock()
        }))?);
    }
    for _ in 0..waiters {
        let m = big.clone();
        hs.push(spawn(Box::new(move || {
            m.lock()?;
            m.unlock()
        }))?);
    }
    let started = t0.elapsed();
    std::thread::sleep(Duration::from_secs_f64(hold_secs));
    let t1 = Instant::now();
    release.store(true, Ordering::SeqCst);
    let n = hs.len();
    for h in hs {
        h.join().unwrap()?;
    }
    Ok(json!({
        "threads": n,
        "start_s": started.as_secs_f64(),
        "drain_s": t1.elapsed().as_secs_f64(),
    }))
}

fn pi_mixed(rounds: u32, cs_ms: u64) -> Result<serde_json::Value> {
    let m = Arc::new(Mutex::new(MutexKind::Pi, false)?);
    let mut fifo_ms = Vec::new();
    let mut other_ms = Vec::new();
    for _ in 0..rounds {
        let held = Arc::new(AtomicBool::new(false));
        let (m1, h1) = (m.clone(), held.clone());
        let owner = std::thread::spawn(move || -> Result<()> {
            set_nice(19)?;
            m1.lock()?;
            h1.store(true, Ordering::SeqCst);
            spin_cpu(Duration::from_millis(cs_ms));
            m1.unlock()
        });
        while !held.load(Ordering::SeqCst) {
            std::thread::sleep(Duration::from_micros(200));
        }
        let waiter = |fifo: bool| {
            let m = m.clone();
            std::thread::spawn(move || -> Result<f64> {
                if fifo {
                    set_fifo(10)?;
                } else {
                    set_nice(-20)?;
                }
                let t0 = Instant::now();
                m.lock()?;
                let w = t0.elapsed().as_secs_f64() * 1e3;
                spin_cpu(Duration::from_millis(1));
                m.unlock()?;
                Ok(w)
            })
        };
        let (f, o) = (waiter(true), waiter(false));
        fifo_ms.push(f.join().unwrap()?);
        other_ms.push(o.join().unwrap()?);
        owner.join().unwrap()?;
    }
    let worst = fifo_ms
        .iter()
        .chain(other_ms.iter())
        .copied()
        .fold(0f64, f64::max);
    if worst.is_nan() {
        bail!("no measurement");
    }
    Ok(json!({
        "rounds": rounds,
        "fifo_wait_ms": fifo_ms,
        "other_wait_ms": other_ms,
        "worst_wait_ms": worst,
    }))
}
