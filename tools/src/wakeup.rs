//! Wakeup-latency workloads (issue 11): a schbench-style message/worker
//! benchmark and `perf bench sched pipe`'s ping-pong.
//!
//! schbench (Chris Mason's): each message thread posts a request to each of
//! its workers and wakes it; a worker records its *wakeup latency* (from the
//! post to running again), does `work_us` of CPU work, records its *request
//! latency* (post to done) and goes back to sleep; when all its workers are
//! done the message thread posts the next round. Reported: p50/p90/p99/p99.9
//! of both latencies and requests per second. Waits and wakeups are
//! `thread::park`/`unpark` (a futex per thread, as schbench's own futexes).
//!
//! pipe: two threads ping-pong one byte over two pipes, `loops` round trips;
//! reported as microseconds per round trip and round trips per second, as
//! `perf bench sched pipe -T` does.

use std::io::{Read, Write};
use std::os::fd::{FromRawFd, OwnedFd};
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, OnceLock};
use std::thread;
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use serde::{Deserialize, Serialize};

use crate::latency::{LatencyRecorder, LatencySummary};

static EPOCH: OnceLock<Instant> = OnceLock::new();

/// Monotonic nanoseconds since the first call in this process.
fn now_ns() -> u64 {
    EPOCH.get_or_init(Instant::now).elapsed().as_nanos() as u64
}

/// Spin on the CPU for `us` microseconds (the worker's request work).
fn spin_us(us: u64) {
    let end = Instant::now() + Duration::from_micros(us);
    let mut x = 0u64;
    while Instant::now() < end {
        x = std::hint::black_box(x.wrapping_mul(6364136223846793005).wrapping_add(1));
    }
}

/// schbench's knobs.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct SchbenchConfig {
    pub message_threads: usize,
    pub workers: usize,
    pub runtime_s: f64,
    pub warmup_s: f64,
    pub work_us: u64,
}

/// schbench's result.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct SchbenchResult {
    pub config: SchbenchConfig,
    /// requests completed after the warm-up
    pub requests: u64,
    pub rps: f64,
    pub wakeup: LatencySummary,
    pub request: LatencySummary,
}

struct Slot {
    posted_ns: AtomicU64,
    pending: AtomicBool,
}

struct Group {
    slots: Vec<Slot>,
    done: AtomicUsize,
}

pub fn schbench(cfg: &SchbenchConfig) -> Result<SchbenchResult> {
    if cfg.message_threads == 0 || cfg.workers == 0 {
        bail!("need at least one message thread and one worker");
    }
    if cfg.runtime_s.is_nan() || cfg.runtime_s <= 0.0 || cfg.warmup_s.is_nan() || cfg.warmup_s < 0.0
    {
        bail!("runtime must be > 0 and warm-up >= 0");
    }
    now_ns();
    let stop = Arc::new(AtomicBool::new(false));
    let record_from = now_ns() + (cfg.warmup_s * 1e9) as u64;
    let mut handles = Vec::new();
    for _ in 0..cfg.message_threads {
        let group = Arc::new(Group {
            slots: (0..cfg.workers)
                .map(|_| Slot {
                    posted_ns: AtomicU64::new(0),
                    pending: AtomicBool::new(false),
                })
                .collect(),
            done: AtomicUsize::new(0),
        });
        let stop_m = stop.clone();
        let (workers, work_us) = (cfg.workers, cfg.work_us);
        handles.push(
            thread::Builder::new()
                .name("schbench-msg".into())
                .spawn(move || message_thread(group, workers, work_us, stop_m, record_from))
                .context("spawning a message thread")?,
        );
    }
    let t0 = Instant::now();
    thread::sleep(Duration::from_secs_f64(cfg.warmup_s + cfg.runtime_s));
    stop.store(true, Ordering::Release);
    let mut wake = LatencyRecorder::new();
    let mut req = LatencyRecorder::new();
    for h in handles {
        let (w, r) = h
            .join()
            .map_err(|_| anyhow::anyhow!("a message thread panicked"))??;
        wake.merge(&w);
        req.merge(&r);
    }
    let elapsed = t0.elapsed().as_secs_f64() - cfg.warmup_s;
    let measured = Duration::from_secs_f64(elapsed.max(1e-9));
    let requests = req.count();
    Ok(SchbenchResult {
        config: cfg.clone(),
        requests,
        rps: requests as f64 / measured.as_secs_f64(),
        wakeup: wake.summary(measured),
        request: req.summary(measured),
    })
}

/// One message thread and its workers; returns their latency recorders.
fn message_thread(
    group: Arc<Group>,
    workers: usize,
    work_us: u64,
    stop: Arc<AtomicBool>,
    record_from: u64,
) -> Result<(LatencyRecorder, LatencyRecorder)> {
    let me = thread::current();
    let mut hs = Vec::new();
    for i in 0..workers {
        let (g, st, msg) = (group.clone(), stop.clone(), me.clone());
        hs.push(
            thread::Builder::new()
                .name("schbench-worker".into())
                .spawn(move || worker(g, i, workers, work_us, st, msg, record_from))
                .context("spawning a worker")?,
        );
    }
    let threads: Vec<thread::Thread> = hs.iter().map(|h| h.thread().clone()).collect();
    while !stop.load(Ordering::Acquire) {
        group.done.store(0, Ordering::Release);
        for (slot, t) in group.slots.iter().zip(&threads) {
            slot.posted_ns.store(now_ns(), Ordering::Release);
            slot.pending.store(true, Ordering::Release);
            t.unpark();
        }
        while group.done.load(Ordering::Acquire) < workers && !stop.load(Ordering::Acquire) {
            thread::park_timeout(Duration::from_millis(50));
        }
    }
    for t in &threads {
        t.unpark();
    }
    let mut wake = LatencyRecorder::new();
    let mut req = LatencyRecorder::new();
    for h in hs {
        let (w, r) = h.join().map_err(|_| anyhow::anyhow!("a worker panicked"))?;
        wake.merge(&w);
        req.merge(&r);
    }
    Ok((wake, req))
}

fn worker(
    group: Arc<Group>,
    i: usize,
    workers: usize,
    work_us: u64,
    stop: Arc<AtomicBool>,
    msg: thread::Thread,
    record_from: u64,
) -> (LatencyRecorder, LatencyRecorder) {
    let mut wake = LatencyRecorder::new();
    let mut req = LatencyRecorder::new();
    let slot = &group.slots[i];
    loop {
        while !slot.pending.swap(false, Ordering::AcqRel) {
            if stop.load(Ordering::Acquire) {
                return (wake, req);
            }
            thread::park_timeout(Duration::from_millis(50));
        }
        let posted = slot.posted_ns.load(Ordering::Acquire);
        let woke = now_ns();
        spin_us(work_us);
        let done = now_ns();
        if posted >= record_from {
            wake.record_ns(woke.saturating_sub(posted));
            req.record_ns(done.saturating_sub(posted));
        }
        if group.done.fetch_add(1, Ordering::AcqRel) + 1 == workers {
            msg.unpark();
        }
    }
}

/// `perf bench sched pipe -T`'s result.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct PipeResult {
    pub loops: u64,
    pub total_s: f64,
    pub usecs_per_op: f64,
    pub ops_per_sec: f64,
}

fn pipe_pair() -> Result<(std::fs::File, std::fs::File)> {
    let mut fds = [0i32; 2];
    // SAFETY: fds is a valid array of two ints for pipe(2) to fill
    if unsafe { libc::pipe(fds.as_mut_ptr()) } != 0 {
        return Err(std::io::Error::last_os_error()).context("pipe(2)");
    }
    // SAFETY: pipe(2) returned two fresh descriptors that nothing else owns
    let (r, w) = unsafe { (OwnedFd::from_raw_fd(fds[0]), OwnedFd::from_raw_fd(fds[1])) };
    Ok((r.into(), w.into()))
}

/// Two threads ping-pong one byte `loops` times over two pipes.
pub fn pipe(loops: u64) -> Result<PipeResult> {
    if loops == 0 {
        bail!("loops must be at least 1");
    }
    let (mut r1, mut w1) = pipe_pair()?;
    let (mut r2, mut w2) = pipe_pair()?;
    let echo = thread::Builder::new()
        .name("pipe-echo".into())
        .spawn(move || -> std::io::Result<()> {
            let mut b = [0u8; 1];
            for _ in 0..loops {
                r1.read_exact(&mut b)?;
                w2.write_all(&b)?;
            }
            Ok(())
        })
        .context("spawning the echo thread")?;
    let t0 = Instant::now();
    let mut b = [7u8; 1];
    for _ in 0..loops {
        w1.write_all(&b).context("writing to the pipe")?;
        r2.read_exact(&mut b).context("reading from the pipe")?;
    }
    let total = t0.elapsed().as_secs_f64();
    echo.join()
        .map_err(|_| anyhow::anyhow!("the echo thread panicked"))?
        .context("the echo thread")?;
    Ok(PipeResult {
        loops,
        total_s: total,
        usecs_per_op: total * 1e6 / loops as f64,
        ops_per_sec: loops as f64 / total,
    })
}
