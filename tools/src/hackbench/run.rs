//! The benchmark proper: channel setup, workers (threads or forked processes),
//! ready/wake-up synchronisation and timing, modelled on perf's
//! `bench/sched-messaging.c`.

use super::{parse_proc_sched, Config, HackResult, Ipc, Mode, SchedStats};
use anyhow::{anyhow, bail, Context, Result};
use nix::poll::{poll, PollFd, PollFlags, PollTimeout};
use nix::sys::socket::{socketpair, AddressFamily, SockFlag, SockType};
use nix::sys::wait::{waitpid, WaitStatus};
use nix::unistd::{fork, pipe, ForkResult, Pid};
use std::io;
use std::os::fd::{AsRawFd, BorrowedFd, OwnedFd, RawFd};
use std::sync::Arc;
use std::time::Instant;

/// Stack size of a worker thread: workers only hold a message buffer on the
/// heap, so keep the footprint small like perf (PTHREAD_STACK_MIN there).
const THREAD_STACK: usize = 128 * 1024;

/// One record of the stats pipe (process mode): 4 little-endian u64.
const STATS_REC: usize = 32;

/// Creates one sender->receiver channel: `(read end, write end)`.
fn channel(ipc: Ipc) -> Result<(OwnedFd, OwnedFd)> {
    match ipc {
        Ipc::Pipe => pipe().context("pipe()"),
        Ipc::Socket => socketpair(
            AddressFamily::Unix,
            SockType::Stream,
            None,
            SockFlag::empty(),
        )
        .context("socketpair(AF_UNIX, SOCK_STREAM)"),
    }
}

fn write_all(fd: RawFd, mut buf: &[u8]) -> io::Result<()> {
    while !buf.is_empty() {
        // SAFETY: buf is a valid slice for its length; fd is owned by the caller.
        let r = unsafe { libc::write(fd, buf.as_ptr().cast(), buf.len()) };
        if r < 0 {
            let e = io::Error::last_os_error();
            if e.kind() == io::ErrorKind::Interrupted {
                continue;
            }
            return Err(e);
        }
        buf = &buf[r as usize..];
    }
    Ok(())
}

/// Reads exactly `buf.len()` bytes; EOF before that is an error.
fn read_exact(fd: RawFd, buf: &mut [u8]) -> io::Result<()> {
    let mut done = 0;
    while done < buf.len() {
        // SAFETY: the range [done, len) of buf is valid and writable.
        let r = unsafe { libc::read(fd, buf[done..].as_mut_ptr().cast(), buf.len() - done) };
        if r < 0 {
            let e = io::Error::last_os_error();
            if e.kind() == io::ErrorKind::Interrupted {
                continue;
            }
            return Err(e);
        }
        if r == 0 {
            return Err(io::Error::new(
                io::ErrorKind::UnexpectedEof,
                "channel closed early",
            ));
        }
        done += r as usize;
    }
    Ok(())
}

/// Tells the parent we're ready, then blocks until the wake-up byte arrives
/// (the byte is never consumed, so one write wakes every worker).
fn ready(ready_w: RawFd, wake_r: RawFd) -> io::Result<()> {
    write_all(ready_w, b"R")?;
    // SAFETY: wake_r stays open for the whole run (owned by the parent, or
    // inherited by the forked child).
    let wake = unsafe { BorrowedFd::borrow_raw(wake_r) };
    loop {
        let mut fds = [PollFd::new(wake, PollFlags::POLLIN)];
        match poll(&mut fds, PollTimeout::NONE) {
            Ok(_) => return Ok(()),
            Err(nix::errno::Errno::EINTR) => continue,
            Err(e) => return Err(e.into()),
        }
    }
}

fn own_sched_stats(enabled: bool) -> Option<SchedStats> {
    if !enabled {
        return None;
    }
    std::fs::read_to_string("/proc/thread-self/sched")
        .ok()
        .and_then(|t| parse_proc_sched(&t))
}

fn sender(
    outs: &[RawFd],
    cfg: &Config,
    ready_w: RawFd,
    wake_r: RawFd,
) -> io::Result<Option<SchedStats>> {
    let data = vec![b'S'; cfg.datasize];
    ready(ready_w, wake_r)?;
    for _ in 0..cfg.loops {
        for &fd in outs {
            write_all(fd, &data)?;
        }
    }
    Ok(own_sched_stats(cfg.sched_stats))
}

fn receiver(
    inp: RawFd,
    cfg: &Config,
    ready_w: RawFd,
    wake_r: RawFd,
) -> io::Result<Option<SchedStats>> {
    let mut data = vec![0u8; cfg.datasize];
    ready(ready_w, wake_r)?;
    for _ in 0..cfg.fds * cfg.loops {
        read_exact(inp, &mut data)?;
    }
    Ok(own_sched_stats(cfg.sched_stats))
}

/// Makes sure RLIMIT_NOFILE allows `needed` descriptors, raising the soft
/// limit up to the hard one if necessary.
fn ensure_nofile(needed: usize) -> Result<()> {
    let mut lim = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: lim is a valid rlimit to fill.
    if unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut lim) } != 0 {
        return Ok(()); // can't tell: let the syscalls report it
    }
    let want = (needed + 64) as libc::rlim_t;
    if lim.rlim_cur >= want {
        return Ok(());
    }
    if lim.rlim_max < want {
        bail!(
            "this run needs about {} open file descriptors but RLIMIT_NOFILE's hard limit is {}: \
             use fewer --groups/--fds, processes instead of threads, or raise the limit (ulimit -n)",
            want,
            lim.rlim_max
        );
    }
    lim.rlim_cur = want;
    // SAFETY: lim is a valid rlimit.
    if unsafe { libc::setrlimit(libc::RLIMIT_NOFILE, &lim) } != 0 {
        bail!(
            "could not raise RLIMIT_NOFILE to {}: {}",
            want,
            io::Error::last_os_error()
        );
    }
    Ok(())
}

/// Runs the benchmark once.
pub fn run(cfg: &Config) -> Result<HackResult> {
    cfg.validate()?;
    ensure_nofile(cfg.fds_needed())?;
    let (ready_r, ready_w) = pipe().context("ready pipe")?;
    let (wake_r, wake_w) = pipe().context("wake-up pipe")?;

    let (start, stats) = match cfg.mode {
        Mode::Threads => run_threads(cfg, &ready_r, &ready_w, &wake_r, &wake_w)?,
        Mode::Processes => run_processes(cfg, &ready_r, ready_w, &wake_r, &wake_w)?,
    };
    let time_s = start.elapsed().as_secs_f64();
    let messages = cfg
        .messages()
        .ok_or_else(|| anyhow!("message count overflow"))?;
    Ok(HackResult {
        config: *cfg,
        tasks: cfg.tasks() as u64,
        messages,
        time_s,
        msgs_per_s: if time_s > 0.0 {
            messages as f64 / time_s
        } else {
            0.0
        },
        sched_stats: stats,
    })
}

/// Waits for `n` ready bytes, then starts the clock and wakes everyone.
fn start_all(n: usize, ready_r: &OwnedFd, wake_w: &OwnedFd) -> Result<Instant> {
    let mut buf = vec![0u8; n];
    read_exact(ready_r.as_raw_fd(), &mut buf).context("waiting for the workers to be ready")?;
    let start = Instant::now();
    write_all(wake_w.as_raw_fd(), b"W").context("waking the workers")?;
    Ok(start)
}

/// The value of `r`, or `None` after keeping its error in `slot`.
fn ok_or_keep<T>(r: Result<T>, slot: &mut Option<anyhow::Error>) -> Option<T> {
    r.map_err(|e| *slot = Some(e)).ok()
}

type Joined = std::thread::JoinHandle<io::Result<Option<SchedStats>>>;

fn run_threads(
    cfg: &Config,
    ready_r: &OwnedFd,
    ready_w: &OwnedFd,
    wake_r: &OwnedFd,
    wake_w: &OwnedFd,
) -> Result<(Instant, Option<SchedStats>)> {
    let c = *cfg;
    let (rw, wr) = (ready_w.as_raw_fd(), wake_r.as_raw_fd());
    let mut handles: Vec<Joined> = Vec::with_capacity(cfg.tasks());
    let mut spawn_err = None;
    'groups: for _ in 0..cfg.groups {
        let mut outs = Vec::with_capacity(cfg.fds);
        for _ in 0..cfg.fds {
            let Some((r, w)) = ok_or_keep(channel(cfg.ipc), &mut spawn_err) else {
                break 'groups;
            };
            outs.push(w);
            let h = std::thread::Builder::new()
                .name("hb-recv".into())
                .stack_size(THREAD_STACK)
                .spawn(move || {
                    let res = receiver(r.as_raw_fd(), &c, rw, wr);
                    drop(r);
                    res
                });
            match h {
                Ok(h) => handles.push(h),
                Err(e) => {
                    spawn_err = Some(anyhow!(e).context("spawning a receiver thread"));
                    break 'groups;
                }
            }
        }
        let outs = Arc::new(outs);
        for _ in 0..cfg.fds {
            let outs = Arc::clone(&outs);
            let h = std::thread::Builder::new()
                .name("hb-send".into())
                .stack_size(THREAD_STACK)
                .spawn(move || {
                    let raw: Vec<RawFd> = outs.iter().map(|f| f.as_raw_fd()).collect();
                    sender(&raw, &c, rw, wr)
                });
            match h {
                Ok(h) => handles.push(h),
                Err(e) => {
                    spawn_err = Some(anyhow!(e).context("spawning a sender thread"));
                    break 'groups;
                }
            }
        }
    }
    if let Some(e) = spawn_err {
        // Release the workers already waiting so they fail fast, then report.
        drop(write_all(wake_w.as_raw_fd(), b"W"));
        return Err(e);
    }
    let start = start_all(handles.len(), ready_r, wake_w)?;
    let mut total = SchedStats::default();
    let mut all = true;
    let mut first_err = None;
    for h in handles {
        match h.join() {
            Ok(Ok(Some(st))) => total.add(&st),
            Ok(Ok(None)) => all = false,
            Ok(Err(e)) => {
                first_err.get_or_insert(anyhow!(e).context("worker thread failed"));
            }
            Err(_) => {
                first_err.get_or_insert(anyhow!("worker thread panicked"));
            }
        }
    }
    if let Some(e) = first_err {
        return Err(e);
    }
    Ok((start, (all && cfg.sched_stats).then_some(total)))
}

/// Forks one worker; the child runs `f`, sends its stats record and exits.
fn fork_worker<F>(stats_w: RawFd, f: F) -> Result<Pid>
where
    F: FnOnce() -> io::Result<Option<SchedStats>>,
{
    // SAFETY: the parent is single-threaded in process mode (no worker
    // threads exist), so the child may allocate; it ends with _exit().
    match unsafe { fork() }.context("fork()")? {
        ForkResult::Parent { child } => Ok(child),
        ForkResult::Child => {
            let code = match std::panic::catch_unwind(std::panic::AssertUnwindSafe(f)) {
                Ok(Ok(st)) => {
                    let st = st.unwrap_or_default(); // workers == 0: unavailable
                    let mut rec = [0u8; STATS_REC];
                    for (i, v) in [
                        st.workers,
                        st.migrations,
                        st.voluntary_switches,
                        st.involuntary_switches,
                    ]
                    .iter()
                    .enumerate()
                    {
                        rec[i * 8..i * 8 + 8].copy_from_slice(&v.to_le_bytes());
                    }
                    if write_all(stats_w, &rec).is_ok() {
                        0
                    } else {
                        3
                    }
                }
                Ok(Err(e)) => {
                    eprintln!("hackbench worker {}: {}", std::process::id(), e);
                    1
                }
                Err(_) => 2,
            };
            // SAFETY: terminating the child without running the parent's
            // atexit handlers or destructors.
            unsafe { libc::_exit(code) }
        }
    }
}

fn run_processes(
    cfg: &Config,
    ready_r: &OwnedFd,
    ready_w: OwnedFd,
    wake_r: &OwnedFd,
    wake_w: &OwnedFd,
) -> Result<(Instant, Option<SchedStats>)> {
    let (stats_r, stats_w) = pipe().context("stats pipe")?;
    let (rw, wr, sw) = (ready_w.as_raw_fd(), wake_r.as_raw_fd(), stats_w.as_raw_fd());
    let mut pids = Vec::with_capacity(cfg.tasks());
    let mut err = None;
    'groups: for _ in 0..cfg.groups {
        let mut outs = Vec::with_capacity(cfg.fds);
        for _ in 0..cfg.fds {
            let Some((r, w)) = ok_or_keep(channel(cfg.ipc), &mut err) else {
                break 'groups;
            };
            let (rr, wraw) = (r.as_raw_fd(), w.as_raw_fd());
            match fork_worker(sw, || {
                // SAFETY: the child's copy of the write end: close it so
                // only senders hold write ends (as perf does).
                unsafe { libc::close(wraw) };
                receiver(rr, cfg, rw, wr)
            }) {
                Ok(p) => pids.push(p),
                Err(e) => {
                    err = Some(e);
                    break 'groups;
                }
            }
            drop(r); // the parent no longer needs the read end
            outs.push(w);
        }
        let raw: Vec<RawFd> = outs.iter().map(|f| f.as_raw_fd()).collect();
        for _ in 0..cfg.fds {
            match fork_worker(sw, || sender(&raw, cfg, rw, wr)) {
                Ok(p) => pids.push(p),
                Err(e) => {
                    err = Some(e);
                    break 'groups;
                }
            }
        }
        drop(outs); // close this group's write ends in the parent
    }
    drop(stats_w);
    drop(ready_w);
    if let Some(e) = err {
        for p in &pids {
            let _ = nix::sys::signal::kill(*p, nix::sys::signal::Signal::SIGKILL);
        }
        for p in &pids {
            let _ = waitpid(*p, None);
        }
        return Err(e);
    }
    let start = start_all(pids.len(), ready_r, wake_w)?;
    // Drain the stats records until every child has closed the pipe (exited).
    let mut records = Vec::with_capacity(pids.len() * STATS_REC);
    {
        let mut f = std::fs::File::from(stats_r);
        io::Read::read_to_end(&mut f, &mut records).context("reading worker stats")?;
    }
    let mut failed = 0;
    for p in &pids {
        loop {
            match waitpid(*p, None) {
                Ok(WaitStatus::Exited(_, 0)) => break,
                Ok(WaitStatus::Exited(..)) | Ok(WaitStatus::Signaled(..)) => {
                    failed += 1;
                    break;
                }
                Ok(_) => continue,
                Err(nix::errno::Errno::EINTR) => continue,
                Err(e) => return Err(anyhow!(e).context("waitpid")),
            }
        }
    }
    if failed > 0 {
        bail!("{} of {} worker processes failed", failed, pids.len());
    }
    let mut total = SchedStats::default();
    let mut all = records.len() == pids.len() * STATS_REC;
    for rec in records.chunks_exact(STATS_REC) {
        let v = |i: usize| u64::from_le_bytes(rec[i * 8..i * 8 + 8].try_into().unwrap());
        let st = SchedStats {
            workers: v(0),
            migrations: v(1),
            voluntary_switches: v(2),
            involuntary_switches: v(3),
        };
        if st.workers == 0 {
            all = false;
        }
        total.add(&st);
    }
    Ok((start, (all && cfg.sched_stats).then_some(total)))
}
