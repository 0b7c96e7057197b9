//! The role processes started by `run` (hidden `__role` subcommand).

use std::fs;
use std::io::{BufRead, Write};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use serde::{Deserialize, Serialize};

use super::cli::{CsClock, RoleArgs, RoleKind};
use super::locks::SharedLocks;
use crate::latency::LatencyRecorder;

/// What the foreground role writes to its result file.
#[derive(Debug, Serialize, Deserialize)]
pub struct RoleResult {
    pub elapsed_ns: u64,
    pub recorded_ns: Vec<[u64; 2]>,
}

/// Join the cgroup, set nice and die with the parent.
fn setup(args: &RoleArgs) -> Result<()> {
    // SAFETY: prctl/getppid have no memory-safety preconditions.
    unsafe {
        libc::prctl(
            libc::PR_SET_PDEATHSIG,
            libc::SIGKILL as libc::c_ulong,
            0,
            0,
            0,
        );
        if libc::getppid() == 1 {
            bail!("parent already exited");
        }
    }
    if let Some(cg) = &args.cgroup {
        let procs = cg.join("cgroup.procs");
        fs::write(&procs, std::process::id().to_string())
            .with_context(|| format!("joining {}", procs.display()))?;
    }
    if let Some(cpu) = args.cpu {
        // SAFETY: cpu_set_t is plain data; CPU_SET stays within it for
        // cpu < CPU_SETSIZE, checked first.
        unsafe {
            if cpu >= libc::CPU_SETSIZE as usize {
                bail!("--cpu {cpu}: beyond CPU_SETSIZE");
            }
            let mut set: libc::cpu_set_t = std::mem::zeroed();
            libc::CPU_SET(cpu, &mut set);
            if libc::sched_setaffinity(0, std::mem::size_of::<libc::cpu_set_t>(), &set) != 0 {
                bail!(
                    "sched_setaffinity(cpu {cpu}): {}",
                    std::io::Error::last_os_error()
                );
            }
        }
    }
    if args.nice != 0 {
        // SAFETY: plain syscall; who = 0 is this thread (threads created
        // later inherit it).
        let rc = unsafe { libc::setpriority(libc::PRIO_PROCESS, 0, args.nice) };
        if rc != 0 {
            bail!(
                "setpriority({}): {}",
                args.nice,
                std::io::Error::last_os_error()
            );
        }
    }
    Ok(())
}

/// Print `ready`, then block until the controller says `go`.
fn handshake() -> Result<()> {
    let mut out = std::io::stdout().lock();
    writeln!(out, "ready")?;
    out.flush()?;
    drop(out);
    let mut line = String::new();
    std::io::stdin().lock().read_line(&mut line)?;
    if line.trim() != "go" {
        bail!("controller went away before start");
    }
    Ok(())
}

fn need<'a, T>(v: &'a Option<T>, what: &str) -> Result<&'a T> {
    v.as_ref().with_context(|| format!("role needs --{what}"))
}

/// Entry point of `__role`.
pub fn run_role(args: &RoleArgs) -> Result<()> {
    setup(args)?;
    match args.kind {
        RoleKind::Hog => {
            handshake()?;
            hog(args.threads.max(1))
        }
        RoleKind::FgRename | RoleKind::BgRename => {
            let (a, b) = (need(&args.dir_a, "dir-a")?, need(&args.dir_b, "dir-b")?);
            let src = a.join(&args.file);
            let dst = b.join(&args.file);
            fs::write(&src, b"x").with_context(|| format!("creating {}", src.display()))?;
            handshake()?;
            if args.kind == RoleKind::BgRename {
                loop {
                    fs::rename(&src, &dst)?;
                    fs::rename(&dst, &src)?;
                }
            }
            let think = Duration::from_micros(args.think_us);
            let mut rec = LatencyRecorder::new();
            let start = Instant::now();
            let end = start + Duration::from_millis(args.duration_ms);
            loop {
                for (from, to) in [(&src, &dst), (&dst, &src)] {
                    if !think.is_zero() {
                        std::thread::sleep(think);
                    }
                    let t0 = Instant::now();
                    fs::rename(from, to)?;
                    let t1 = Instant::now();
                    rec.record(t1 - t0);
                }
                if Instant::now() >= end {
                    break;
                }
            }
            write_result(need(&args.result, "result")?, &rec, start.elapsed())
        }
        RoleKind::Waiter => {
            let locks = SharedLocks::open(need(&args.lock_file, "lock-file")?, args.locks)?;
            handshake()?;
            let think = Duration::from_micros(args.think_us);
            let mut rec = LatencyRecorder::new();
            let start = Instant::now();
            let end = start + Duration::from_millis(args.duration_ms);
            while Instant::now() < end {
                if !think.is_zero() {
                    std::thread::sleep(think);
                }
                let t0 = Instant::now();
                locks.lock(args.lock)?;
                let t1 = Instant::now();
                locks.unlock(args.lock)?;
                rec.record(t1 - t0);
            }
            write_result(need(&args.result, "result")?, &rec, start.elapsed())
        }
        RoleKind::Owner => {
            let locks = SharedLocks::open(need(&args.lock_file, "lock-file")?, args.locks)?;
            handshake()?;
            let gap = Duration::from_micros(args.gap_us);
            let me = args.lock;
            let last = me + 1 >= locks.len();
            loop {
                locks.lock(me)?;
                if last {
                    spin(args.cs_us, args.cs_clock);
                } else {
                    // Hold our lock while acquiring the next one in the chain.
                    locks.lock(me + 1)?;
                    locks.unlock(me + 1)?;
                }
                locks.unlock(me)?;
                if args.spin_us > 0 {
                    spin(args.spin_us, args.cs_clock);
                }
                if !gap.is_zero() {
                    std::thread::sleep(gap);
                }
            }
        }
    }
}

fn write_result(path: &PathBuf, rec: &LatencyRecorder, elapsed: Duration) -> Result<()> {
    let r = RoleResult {
        elapsed_ns: elapsed.as_nanos() as u64,
        recorded_ns: rec.recorded_pairs(),
    };
    let tmp = path.with_extension("tmp");
    fs::write(&tmp, serde_json::to_vec(&r)?)?;
    fs::rename(&tmp, path)?;
    Ok(())
}

/// Read a foreground result file.
pub fn read_result(path: &Path) -> Result<RoleResult> {
    let data = fs::read(path).with_context(|| format!("reading {}", path.display()))?;
    serde_json::from_slice(&data).with_context(|| format!("parsing {}", path.display()))
}

fn hog(threads: usize) -> Result<()> {
    let mut hs = Vec::new();
    for _ in 1..threads {
        hs.push(std::thread::spawn(burn_forever));
    }
    burn_forever();
    Ok(())
}

fn burn_forever() {
    let mut x: u64 = 1;
    loop {
        for _ in 0..1_000_000 {
            x = std::hint::black_box(x.wrapping_mul(6364136223846793005).wrapping_add(1));
        }
    }
}

/// Nanoseconds of CPU time consumed by the calling thread.
pub fn thread_cpu_ns() -> u64 {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: valid out-pointer.
    unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut ts) };
    ts.tv_sec as u64 * 1_000_000_000 + ts.tv_nsec as u64
}

/// The CPU the calling thread runs on (u32::MAX if sched_getcpu(3) fails).
pub fn current_cpu() -> u32 {
    // SAFETY: sched_getcpu has no preconditions
    let c = unsafe { libc::sched_getcpu() };
    u32::try_from(c).unwrap_or(u32::MAX)
}

/// Busy-loop for `us` microseconds of thread CPU time or wall time.
pub fn spin(us: u64, clock: CsClock) {
    let ns = us * 1000;
    let mut x: u64 = 1;
    let mut burn = || {
        for _ in 0..200 {
            x = std::hint::black_box(x.wrapping_mul(6364136223846793005).wrapping_add(1));
        }
    };
    match clock {
        CsClock::Cpu => {
            let start = thread_cpu_ns();
            while thread_cpu_ns().saturating_sub(start) < ns {
                burn();
            }
        }
        CsClock::Wall => {
            let start = Instant::now();
            while (start.elapsed().as_nanos() as u64) < ns {
                burn();
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spin_takes_at_least_the_requested_time() {
        for clock in [CsClock::Cpu, CsClock::Wall] {
            let t = Instant::now();
            let c = thread_cpu_ns();
            spin(20_000, clock);
            assert!(t.elapsed() >= Duration::from_millis(20), "{clock:?}");
            if clock == CsClock::Cpu {
                assert!(thread_cpu_ns() - c >= 20_000_000);
            }
        }
    }
}
