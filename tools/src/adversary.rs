//! Building blocks of the `adversary` workloads: glibc mutexes of every
//! kind in shared memory, timed waits, owner deaths, forged futex words,
//! CPU spinning with gap measurement, nice and SCHED_FIFO.

use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

use anyhow::{bail, Result};

use crate::demo::locks::{check, init_mutex, MutexAttrs};
use crate::demo::roles::{current_cpu, thread_cpu_ns};

#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum MutexKind {
    /// PTHREAD_MUTEX_NORMAL, not robust
    Normal,
    /// robust (PTHREAD_MUTEX_ROBUST)
    Robust,
    /// PTHREAD_PRIO_INHERIT
    Pi,
    /// PTHREAD_PRIO_INHERIT and robust
    PiRobust,
}

impl MutexKind {
    pub fn robust(self) -> bool {
        matches!(self, MutexKind::Robust | MutexKind::PiRobust)
    }
    pub fn pi(self) -> bool {
        matches!(self, MutexKind::Pi | MutexKind::PiRobust)
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum Death {
    /// the owner's process is SIGKILLed
    Kill,
    /// the owner thread calls pthread_exit()
    Exit,
}

/// A glibc mutex in its own anonymous shared page (so that it survives a
/// fork as one lock), with a flag word beside it.
pub struct Mutex {
    page: *mut u8,
}

// SAFETY: a pthread mutex and an atomic flag, both made for concurrent use.
unsafe impl Send for Mutex {}
unsafe impl Sync for Mutex {}

const PAGE: usize = 4096;

impl Mutex {
    pub fn new(kind: MutexKind, pshared: bool) -> Result<Self> {
        // SAFETY: anonymous shared mapping of one page, checked below.
        let page = unsafe {
            libc::mmap(
                std::ptr::null_mut(),
                PAGE,
                libc::PROT_READ | libc::PROT_WRITE,
                libc::MAP_SHARED | libc::MAP_ANONYMOUS,
                -1,
                0,
            )
        };
        if page == libc::MAP_FAILED {
            bail!("mmap: {}", std::io::Error::last_os_error());
        }
        let me = Self {
            page: page as *mut u8,
        };
        let attrs = MutexAttrs {
            pshared,
            robust: kind.robust(),
            pi: kind.pi(),
        };
        // SAFETY: the mutex lives at the start of our fresh page.
        unsafe { init_mutex(me.raw(), attrs)? };
        Ok(me)
    }

    fn raw(&self) -> *mut libc::pthread_mutex_t {
        self.page as *mut libc::pthread_mutex_t
    }

    /// A flag word beside the mutex, shared with forked children.
    pub fn flag(&self) -> &AtomicU32 {
        // SAFETY: offset 2048 of our page, aligned, only used atomically.
        unsafe { &*(self.page.add(2048) as *const AtomicU32) }
    }

    pub fn lock(&self) -> Result<()> {
        // SAFETY: an initialised mutex.
        check(
            unsafe { libc::pthread_mutex_lock(self.raw()) },
            "pthread_mutex_lock",
        )
    }

    pub fn unlock(&self) -> Result<()> {
        // SAFETY: an initialised mutex, unlocked by its owner.
        check(
            unsafe { libc::pthread_mutex_unlock(self.raw()) },
            "pthread_mutex_unlock",
        )
    }

    /// pthread_mutex_timedlock until `deadline`: 0, EOWNERDEAD (then made
    /// consistent and held), ETIMEDOUT, ...
    pub fn lock_until(&self, deadline: Instant) -> i32 {
        let ts = realtime_at(deadline);
        // SAFETY: an initialised mutex and a valid timespec.
        let rc = unsafe { libc::pthread_mutex_timedlock(self.raw(), &ts) };
        if rc == libc::EOWNERDEAD {
            // SAFETY: we hold it; mark it usable again.
            unsafe { libc::pthread_mutex_consistent(self.raw()) };
        }
        rc
    }
}

impl Drop for Mutex {
    fn drop(&mut self) {
        // SAFETY: unmapping the page new() mapped.
        unsafe { libc::munmap(self.page as *mut libc::c_void, PAGE) };
    }
}

/// CLOCK_REALTIME timespec for a monotonic instant (pthread timeouts).
fn realtime_at(deadline: Instant) -> libc::timespec {
    let mut now = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: valid out-pointer.
    unsafe { libc::clock_gettime(libc::CLOCK_REALTIME, &mut now) };
    let left = deadline.saturating_duration_since(Instant::now());
    let ns = now.tv_nsec as u64 + left.subsec_nanos() as u64;
    libc::timespec {
        tv_sec: now.tv_sec + left.as_secs() as libc::time_t + (ns / 1_000_000_000) as libc::time_t,
        tv_nsec: (ns % 1_000_000_000) as libc::c_long,
    }
}

fn gettid() -> libc::pid_t {
    // SAFETY: no arguments.
    unsafe { libc::gettid() }
}

/// Set the calling thread's nice value.
pub fn set_nice(n: i32) -> Result<()> {
    // SAFETY: plain syscall on our own thread.
    if unsafe { libc::setpriority(libc::PRIO_PROCESS, gettid() as libc::id_t, n) } != 0 {
        bail!("setpriority({n}): {}", std::io::Error::last_os_error());
    }
    Ok(())
}

/// Make the calling thread SCHED_FIFO at `prio`.
pub fn set_fifo(prio: i32) -> Result<()> {
    let p = libc::sched_param {
        sched_priority: prio,
    };
    // SAFETY: pid 0 is the calling thread.
    if unsafe { libc::sched_setscheduler(0, libc::SCHED_FIFO, &p) } != 0 {
        bail!(
            "sched_setscheduler(FIFO {prio}): {}",
            std::io::Error::last_os_error()
        );
    }
    Ok(())
}

/// Burn `d` of the calling thread's CPU time.
pub fn spin_cpu(d: Duration) {
    let end = thread_cpu_ns() + d.as_nanos() as u64;
    let mut x: u64 = 1;
    while thread_cpu_ns() < end {
        for _ in 0..100 {
            x = std::hint::black_box(x.wrapping_mul(6364136223846793005).wrapping_add(1));
        }
    }
}

pub struct Gaps {
    pub wall_s: f64,
    pub max_gap_ms: f64,
    pub cpu_share: f64,
    /// CPUs it was seen running on (bit n: CPU n), sampled as it spins
    pub cpus_seen: u64,
}

/// Spin for `d` of wall time; the longest gap between two consecutive
/// clock reads is the longest time the thread did not run.
pub fn spin_gaps(d: Duration) -> Gaps {
    let cpu0 = thread_cpu_ns();
    let t0 = Instant::now();
    let mut last = t0;
    let mut max_gap = Duration::ZERO;
    let mut cpus_seen = 0u64;
    let mut n = 0u32;
    loop {
        n = n.wrapping_add(1);
        if n.is_multiple_of(4096) {
            let cpu = current_cpu();
            if cpu < 64 {
                cpus_seen |= 1 << cpu;
            }
        }
        let now = Instant::now();
        let gap = now - last;
        if gap > max_gap {
            max_gap = gap;
        }
        last = now;
        if now - t0 >= d {
            break;
        }
    }
    let wall = t0.elapsed();
    Gaps {
        wall_s: wall.as_secs_f64(),
        max_gap_ms: max_gap.as_secs_f64() * 1e3,
        cpu_share: (thread_cpu_ns() - cpu0) as f64 / wall.as_nanos() as f64,
        cpus_seen,
    }
}

pub struct DeathResult {
    /// what the waiter's lock call returned (errno name)
    pub result: String,
    /// from the owner's death to the waiter's return, ms
    pub after_death_ms: f64,
}

fn errno_name(rc: i32) -> String {
    match rc {
        0 => "acquired".into(),
        libc::EOWNERDEAD => "EOWNERDEAD".into(),
        libc::ETIMEDOUT => "ETIMEDOUT".into(),
        libc::ENOTRECOVERABLE => "ENOTRECOVERABLE".into(),
        e => format!("errno {e}"),
    }
}

/// How long the waiter may wait at most: robust kinds get the lock when
/// the owner dies; a non-robust one never does, so its wait is timed.
fn wait_limit(kind: MutexKind, timeout_ms: u64) -> Duration {
    if kind.robust() {
        Duration::from_secs(10)
    } else {
        Duration::from_millis(timeout_ms)
    }
}

/// Owner in a forked child, SIGKILLed 100 ms after the waiter blocked.
pub fn death_by_kill(kind: MutexKind, timeout_ms: u64) -> Result<DeathResult> {
    let m = Mutex::new(kind, true)?;
    m.flag().store(0, Ordering::SeqCst);
    // SAFETY: the process is single-threaded here (the caller spawns no
    // threads before this), so the child may run Rust code after fork.
    let child = unsafe { libc::fork() };
    if child < 0 {
        bail!("fork: {}", std::io::Error::last_os_error());
    }
    if child == 0 {
        let _ = set_nice(19);
        if m.lock().is_ok() {
            m.flag().store(1, Ordering::SeqCst);
        }
        loop {
            spin_cpu(Duration::from_millis(10));
        }
    }
    while m.flag().load(Ordering::SeqCst) == 0 {
        std::thread::sleep(Duration::from_millis(1));
    }
    let killer = std::thread::spawn(move || {
        std::thread::sleep(Duration::from_millis(100));
        let t = Instant::now();
        // SAFETY: our own child.
        unsafe { libc::kill(child, libc::SIGKILL) };
        t
    });
    let deadline = Instant::now() + Duration::from_millis(100) + wait_limit(kind, timeout_ms);
    let rc = m.lock_until(deadline);
    let back = Instant::now();
    let killed = killer.join().unwrap();
    if rc == 0 || rc == libc::EOWNERDEAD {
        m.unlock()?;
    }
    // SAFETY: reaping our own child.
    unsafe { libc::waitpid(child, std::ptr::null_mut(), 0) };
    Ok(DeathResult {
        result: errno_name(rc),
        after_death_ms: back.saturating_duration_since(killed).as_secs_f64() * 1e3,
    })
}

/// CLOCK_MONOTONIC in ns (the clock Instant uses on Linux).
fn mono_ns() -> u64 {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: valid out-pointer.
    unsafe { libc::clock_gettime(libc::CLOCK_MONOTONIC, &mut ts) };
    ts.tv_sec as u64 * 1_000_000_000 + ts.tv_nsec as u64
}

struct ExitArg {
    m: *const Mutex,
    died_ns: std::sync::atomic::AtomicU64,
}

extern "C" fn exiting_owner(arg: *mut libc::c_void) -> *mut libc::c_void {
    // SAFETY: arg is the ExitArg the creator keeps alive until joined.
    let a = unsafe { &*(arg as *const ExitArg) };
    let m = unsafe { &*a.m };
    let _ = set_nice(19);
    if m.lock().is_ok() {
        m.flag().store(1, Ordering::SeqCst);
    }
    spin_cpu(Duration::from_millis(200));
    a.died_ns.store(mono_ns(), Ordering::SeqCst);
    // SAFETY: a plain C thread (no Rust frames to unwind) exiting with the
    // mutex held, which is the point.
    unsafe { libc::pthread_exit(std::ptr::null_mut()) }
}

/// Owner thread that pthread_exit()s holding the mutex.
pub fn death_by_exit(kind: MutexKind, timeout_ms: u64) -> Result<DeathResult> {
    let m = Mutex::new(kind, false)?;
    m.flag().store(0, Ordering::SeqCst);
    let arg = Box::new(ExitArg {
        m: &m,
        died_ns: std::sync::atomic::AtomicU64::new(0),
    });
    let mut th: libc::pthread_t = 0;
    // SAFETY: arg outlives the thread (joined below).
    let rc = unsafe {
        libc::pthread_create(
            &mut th,
            std::ptr::null(),
            exiting_owner,
            &*arg as *const ExitArg as *mut libc::c_void,
        )
    };
    check(rc, "pthread_create")?;
    while m.flag().load(Ordering::SeqCst) == 0 {
        std::thread::sleep(Duration::from_millis(1));
    }
    let deadline = Instant::now() + Duration::from_millis(200) + wait_limit(kind, timeout_ms);
    let rc = m.lock_until(deadline);
    let back = mono_ns();
    // SAFETY: joining the thread we created.
    unsafe { libc::pthread_join(th, std::ptr::null_mut()) };
    if rc == 0 || rc == libc::EOWNERDEAD {
        m.unlock()?;
    }
    // the owner stamps the time just before pthread_exit()
    let died = arg.died_ns.load(Ordering::SeqCst);
    Ok(DeathResult {
        result: errno_name(rc),
        after_death_ms: back.saturating_sub(died) as f64 / 1e6,
    })
}

const FUTEX_WAIT: i32 = 0;
const FUTEX_LOCK_PI: i32 = 6;
const FUTEX_UNLOCK_PI: i32 = 7;

fn futex(addr: *const u32, op: i32, val: u32, ts: *const libc::timespec) -> i32 {
    // SAFETY: futex on our own word; the kernel validates the rest.
    let rc = unsafe { libc::syscall(libc::SYS_futex, addr, op, val, ts, 0usize, 0u32) };
    if rc == 0 {
        0
    } else {
        std::io::Error::last_os_error().raw_os_error().unwrap_or(-1)
    }
}

/// FUTEX_LOCK_PI (process-shared form) on a private word holding `tid`.
pub fn forged_pi_wait(tid: i32, timeout: Duration) -> i32 {
    let word = Box::new(AtomicU32::new(tid as u32));
    let ts = realtime_at(Instant::now() + timeout);
    let rc = futex(word.as_ptr(), FUTEX_LOCK_PI, 0, &ts);
    if rc == 0 {
        futex(word.as_ptr(), FUTEX_UNLOCK_PI, 0, std::ptr::null());
    }
    rc
}

/// FUTEX_WAIT (process-shared form) on a word laid out as a locked,
/// contended PTHREAD_PROCESS_SHARED glibc mutex whose __owner is `tid`.
pub fn forged_glibc_wait(tid: i32, timeout: Duration) -> i32 {
    // __lock = 2, __count, __owner = tid, __nusers, __kind = PSHARED
    let words: Box<[AtomicU32; 10]> = Box::new(std::array::from_fn(|i| {
        AtomicU32::new(match i {
            0 => 2,
            2 => tid as u32,
            3 => 1,
            4 => 128,
            _ => 0,
        })
    }));
    let ts = libc::timespec {
        tv_sec: timeout.as_secs() as libc::time_t,
        tv_nsec: timeout.subsec_nanos() as libc::c_long,
    };
    futex(words[0].as_ptr(), FUTEX_WAIT, 2, &ts)
}
