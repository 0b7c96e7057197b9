//! IO-thread workloads (issue 11): how a scheduler treats threads that sleep
//! in io_uring, epoll or on an eventfd and are woken by another thread.
//!
//! All times come from `CLOCK_MONOTONIC` ([`now_ns`]); latencies are recorded
//! in a [`LatencyRecorder`] and reported as a [`LatencySummary`]. Each run has
//! a warm-up (`warmup_s`) and a measured window of `runtime_s` seconds: only
//! operations *started* inside the window are recorded and counted, and rates
//! are those counts divided by `runtime_s`.
//!
//! **uring-pingpong** ([`uring_pingpong`]): two threads, each with its own
//! io_uring, normally pinned to two CPUs. The initiator sends a message to the
//! responder's ring and waits for the reply on its own ring; the responder
//! waits for the message and replies the same way. Both wait in
//! `io_uring_enter(GETEVENTS, min_complete = 1)` (submit-and-wait; the reply
//! is submitted by the same call that waits for the next message). Measured:
//! the round-trip time at the initiator (from just before submitting the
//! message to having reaped the reply's CQE) and round trips per second. A
//! round trip is two cross-thread wakeups of a task sleeping in io_uring. How
//! the message travels (`mechanism`):
//! - `msg-ring`: `IORING_OP_MSG_RING` (Linux >= 5.18) posts a CQE into the
//!   other ring. With a target ring set up with `DEFER_TASKRUN`
//!   (`--defer-taskrun`, Linux >= 6.1) the CQE is delivered as task_work to
//!   the target ring's task, which runs it when it waits; otherwise the
//!   kernel posts the CQE directly from the sender's context and wakes the
//!   waiter (no task_work).
//! - `pipe`: the receiver keeps a read SQE on a pipe outstanding, the sender
//!   submits a write SQE to that pipe. The read finds the pipe empty and arms
//!   a poll; the write's wakeup queues task_work to the receiving task, which
//!   performs the read and posts the CQE: completion delivery by task_work on
//!   every kernel with io_uring.
//!
//! `IORING_SETUP_COOP_TASKRUN` (`--coop-taskrun`) makes queueing task_work
//! not interrupt (IPI) the target task when it is running; a sleeping target
//! is woken either way. It applies to the `pipe` path (`DEFER_TASKRUN` never
//! interrupts), not to a directly posted `msg-ring` CQE. `--hog` adds a
//! thread spinning on the responder's CPU, so the responder must be
//! scheduled in against a busy CPU.
//!
//! **evloop** ([`evloop`]): a single-threaded event loop in the style of
//! Samba's tevent serves `clients` client threads over pipes (one request
//! pipe and one reply pipe per client). A client writes an 8-byte request
//! holding its send time, blocks in `read(2)` on its reply pipe, records the
//! *reply latency* (send to reply read), optionally spins `think_us` and
//! repeats. The loop waits for readable request pipes with `epoll_wait(2)`
//! (`epoll`) or with io_uring (`uring`: one read SQE outstanding per request
//! pipe, resubmitted after each completion, waiting in submit-and-wait), then
//! for each request spins `work_us` and writes the reply with `write(2)`.
//! Measured: requests served per second (`events`) and the reply latency,
//! which includes queueing behind other clients' requests in the loop.
//!
//! **pollloop** ([`pollloop`]): adaptive polling as in QEMU's aio-posix. A
//! producer thread generates `rate` events per second on a fixed schedule,
//! sleeping with `clock_nanosleep(TIMER_ABSTIME)` until each slot (if it wakes
//! up a slot or more late it does not burst: the passed slots are skipped and
//! counted as `missed_slots`). Per event it stores its timestamp in a ring
//! slot, publishes it by incrementing a shared counter and writes an eventfd
//! only if the consumer has announced that it is going to sleep. The consumer
//! busy-polls the counter for up to `poll_us` microseconds; if nothing
//! arrives, it sets its "sleeping" flag, re-checks the counter (so that an
//! event published concurrently is not lost) and blocks in `read(2)` on the
//! eventfd. Measured: *wake latency* (the producer's timestamp, taken just
//! before publishing, to the consumer handling the event), how many events
//! were found without sleeping (`polled_hits`: while polling or at the
//! re-check) or after sleeping on the eventfd (`sleeps`), the consumer's CPU
//! use (its `CLOCK_THREAD_CPUTIME_ID` time over the wall time of the measured
//! window) and the producer's `missed_slots`. For tracing, the JSON also has
//! the latency of each of the two paths (`wake_polled`, `wake_slept`) and how
//! many events the consumer handled on the CPU they were published from
//! (`same_cpu_events`).
//!
//! Bounded runtime: every loop stops at the end of the measured window. Waits
//! in io_uring (`IORING_ENTER_EXT_ARG` timeout, Linux >= 5.11) and epoll time
//! out every 100 ms to look at the stop flag and for a stall; a blocking pipe
//! or eventfd read is released by its peer's shutdown (closing the pipe, a
//! final eventfd write), which also happens when the peer fails. The
//! ping-pong's initiator and the event loop fail after 10 s without progress,
//! and the threads of a run that has not finished 20 s after its end are
//! abandoned with an error (the binaries then exit, which ends them).

use std::fs::File;
use std::io::{self, Read, Write};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, AtomicUsize, Ordering};
use std::sync::{mpsc, Arc};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

use anyhow::{anyhow, bail, Context, Result};
use io_uring::{opcode, squeue, types, IoUring, Probe};
use nix::sched::{sched_setaffinity, CpuSet};
use nix::sys::epoll::{Epoll, EpollCreateFlags, EpollEvent, EpollFlags};
use nix::unistd::Pid;
use serde::{Deserialize, Serialize};

use crate::demo::roles::current_cpu;
use crate::latency::{LatencyRecorder, LatencySummary};

/// A wait that sees no progress for this long fails the run.
const STALL_NS: u64 = 10_000_000_000;
/// Threads still running this long after the end of the run are abandoned.
const JOIN_GRACE: Duration = Duration::from_secs(20);
/// Timeout of one io_uring / epoll wait (then the stop flag is checked).
const WAIT_SLICE: Duration = Duration::from_millis(100);
/// How long thread start-up (pinning, ring set-up) may take.
const SETUP_TIMEOUT: Duration = Duration::from_secs(10);
/// Upper bound of the CPU-work and polling knobs (microseconds).
pub const MAX_KNOB_US: u64 = 1_000_000;
/// Most clients of the event loop.
pub const MAX_CLIENTS: usize = 1024;
/// Highest event rate of pollloop (per second).
pub const MAX_RATE: u64 = 1_000_000;

/// `CLOCK_MONOTONIC` in nanoseconds (shared by all threads of the process).
pub fn now_ns() -> u64 {
    clock_ns(libc::CLOCK_MONOTONIC)
}

fn clock_ns(clock: libc::clockid_t) -> u64 {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: ts is a valid timespec for clock_gettime to fill
    unsafe { libc::clock_gettime(clock, &mut ts) };
    ts.tv_sec as u64 * 1_000_000_000 + ts.tv_nsec as u64
}

/// Spin on the CPU for `us` microseconds of wall time.
fn spin_us(us: u64) {
    if us == 0 {
        return;
    }
    let end = now_ns() + us * 1000;
    let mut x = 0u64;
    while now_ns() < end {
        x = std::hint::black_box(x.wrapping_mul(6364136223846793005).wrapping_add(1));
    }
}

fn secs_ns(s: f64) -> u64 {
    (s * 1e9) as u64
}

fn check_times(runtime_s: f64, warmup_s: f64) -> Result<()> {
    if !(runtime_s > 0.0 && runtime_s <= 86400.0 && (0.0..=3600.0).contains(&warmup_s)) {
        bail!("runtime must be in (0, 86400] s and warm-up in [0, 3600] s");
    }
    Ok(())
}

/// A pipe (read end, write end), close-on-exec.
fn pipe_pair() -> Result<(File, File)> {
    let mut fds = [0i32; 2];
    // SAFETY: fds is a valid array of two ints for pipe2(2) to fill
    if unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_CLOEXEC) } != 0 {
        return Err(io::Error::last_os_error()).context("pipe2(2)");
    }
    // SAFETY: pipe2(2) returned two fresh descriptors that nothing else owns
    let (r, w) = unsafe { (OwnedFd::from_raw_fd(fds[0]), OwnedFd::from_raw_fd(fds[1])) };
    Ok((r.into(), w.into()))
}

/// Read one little-endian u64; `None` on end of file before its first byte.
fn read_u64(f: &mut File) -> io::Result<Option<u64>> {
    Ok(read_u64s::<1>(f)?.map(|w| w[0]))
}

/// `N` (at most 4) little-endian u64s; `None` at end of file before the
/// first byte.
fn read_u64s<const N: usize>(f: &mut File) -> io::Result<Option<[u64; N]>> {
    let mut buf = [0u8; 32];
    let b = &mut buf[..8 * N];
    let mut got = 0;
    while got < b.len() {
        match f.read(&mut b[got..]) {
            Ok(0) if got == 0 => return Ok(None),
            Ok(0) => return Err(io::ErrorKind::UnexpectedEof.into()),
            Ok(n) => got += n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    let mut w = [0u64; N];
    for (i, c) in b.chunks_exact(8).enumerate() {
        w[i] = u64::from_le_bytes(c.try_into().expect("8 bytes"));
    }
    Ok(Some(w))
}

/// Pin the calling thread to `cpu`.
fn pin_to(cpu: usize) -> Result<()> {
    let mut set = CpuSet::new();
    set.set(cpu)
        .map_err(|e| anyhow!("pinning to CPU {cpu} failed: {e} (pass --no-pin to run unpinned)"))?;
    sched_setaffinity(Pid::from_raw(0), &set)
        .map_err(|e| anyhow!("pinning to CPU {cpu} failed: {e} (pass --no-pin to run unpinned)"))
}

fn online_cpus() -> i64 {
    // SAFETY: sysconf has no memory-safety preconditions
    unsafe { libc::sysconf(libc::_SC_NPROCESSORS_ONLN) as i64 }
}

fn uring_unavailable(e: io::Error) -> anyhow::Error {
    anyhow!(
        "io_uring_setup failed: {e} (kernel without io_uring, or io_uring disabled by sysctl \
         kernel.io_uring_disabled)"
    )
}

/// A plain io_uring with `entries` entries that supports bounded waits.
fn new_ring(entries: u32) -> Result<IoUring> {
    let ring = IoUring::new(entries).map_err(uring_unavailable)?;
    if !ring.params().is_feature_ext_arg() {
        bail!(
            "io_uring lacks IORING_FEAT_EXT_ARG (Linux >= 5.11), needed for waits with a timeout"
        );
    }
    Ok(ring)
}

/// Queue an SQE.
///
/// # Safety
/// Buffers and descriptors named by `e` must stay valid until it completes.
unsafe fn push(ring: &mut IoUring, e: &squeue::Entry) -> Result<()> {
    // SAFETY: forwarded to the caller
    unsafe { ring.submission().push(e) }.map_err(|_| anyhow!("io_uring submission queue full"))
}

/// Submit queued SQEs and wait up to [`WAIT_SLICE`] for at least one CQE.
fn submit_and_wait(ring: &IoUring) -> Result<()> {
    let ts = types::Timespec::from(WAIT_SLICE);
    let args = types::SubmitArgs::new().timespec(&ts);
    match ring.submitter().submit_with_args(1, &args) {
        Ok(_) => Ok(()),
        Err(e)
            if matches!(
                e.raw_os_error(),
                Some(libc::ETIME | libc::EINTR | libc::EBUSY | libc::EAGAIN)
            ) =>
        {
            Ok(())
        }
        Err(e) => Err(e).context("io_uring_enter"),
    }
}

fn cqe_error(res: i32) -> io::Error {
    io::Error::from_raw_os_error(-res)
}

/// An 8-byte buffer for an SQE. Deliberately leaked: a request still in
/// flight when its ring is torn down (after an error) may write to it.
fn leak_buf() -> *mut [u8; 8] {
    Box::into_raw(Box::new([0u8; 8]))
}

/// The failure of a thread that only reacts to another thread's stop or
/// failure; the other thread's error is the one to report.
#[derive(Debug)]
struct PeerGone(&'static str);

impl std::fmt::Display for PeerGone {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.0)
    }
}

impl std::error::Error for PeerGone {}

/// The most informative of several errors: the first that is not a
/// [`PeerGone`], else the first.
fn pick_error(mut errs: Vec<anyhow::Error>) -> anyhow::Error {
    match errs
        .iter()
        .position(|e| e.downcast_ref::<PeerGone>().is_none())
    {
        Some(i) => errs.swap_remove(i),
        None if !errs.is_empty() => errs.swap_remove(0),
        None => anyhow!("no error"),
    }
}

/// Wait until `all_done()` or `until`; an error if the threads are stuck.
fn await_finished(all_done: impl Fn() -> bool, until: Instant) -> Result<()> {
    while !all_done() {
        if Instant::now() >= until {
            bail!(
                "threads still running {} s after the end of the run (a stuck thread); giving up",
                JOIN_GRACE.as_secs()
            );
        }
        thread::sleep(Duration::from_millis(5));
    }
    Ok(())
}

fn join<T>(h: JoinHandle<Result<T>>, name: &str) -> Result<T> {
    h.join()
        .map_err(|_| anyhow!("the {name} thread panicked"))?
}

fn end_of_run(warmup_s: f64, runtime_s: f64) -> Instant {
    Instant::now() + Duration::from_secs_f64(warmup_s + runtime_s) + JOIN_GRACE
}

// ---------------------------------------------------------------------------
// uring-pingpong

/// How a message reaches the other thread's ring.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "kebab-case")]
pub enum Mechanism {
    /// `msg-ring` if the kernel supports IORING_OP_MSG_RING, else `pipe`
    Auto,
    /// IORING_OP_MSG_RING posts a CQE into the other ring (Linux >= 5.18)
    MsgRing,
    /// A write SQE to a pipe completes the other ring's read SQE by task_work
    Pipe,
}

impl Mechanism {
    pub fn name(self) -> &'static str {
        match self {
            Mechanism::Auto => "auto",
            Mechanism::MsgRing => "msg-ring",
            Mechanism::Pipe => "pipe",
        }
    }
}

/// uring-pingpong's knobs.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct PingpongConfig {
    /// CPUs of the initiator and the responder (the hog shares the
    /// responder's); `None`: threads not pinned.
    pub cpus: Option<[usize; 2]>,
    /// Requested mechanism (`auto` picks one).
    pub mechanism: Mechanism,
    pub coop_taskrun: bool,
    pub defer_taskrun: bool,
    pub hog: bool,
    pub runtime_s: f64,
    pub warmup_s: f64,
}

/// uring-pingpong's result.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct PingpongResult {
    pub config: PingpongConfig,
    /// Mechanism used: `msg-ring` or `pipe`.
    pub mechanism: Mechanism,
    pub coop_taskrun: bool,
    pub defer_taskrun: bool,
    pub hog: bool,
    /// Round trips started in the measured window.
    pub round_trips: u64,
    pub round_trips_per_sec: f64,
    /// Round-trip time at the initiator.
    pub rtt: LatencySummary,
}

const UD_SENT: u64 = 1 << 63;
const UD_RECV: u64 = 1 << 62;
const UD_MSG: u64 = 1 << 61;

/// One side of the ping-pong.
struct Side {
    initiator: bool,
    mech: Mechanism,
    cpu: Option<usize>,
    coop: bool,
    defer: bool,
    skip_success: bool,
    /// (read end, write end) of the pipes, `pipe` mechanism only
    pipes: Option<(File, File)>,
}

/// What a side needs once both rings exist.
struct Start {
    peer_ring: RawFd,
    record_from: u64,
    end: u64,
}

fn build_ring(coop: bool, defer: bool) -> Result<IoUring> {
    let mut b = IoUring::builder();
    let mut flags = Vec::new();
    if coop {
        b.setup_coop_taskrun().setup_taskrun_flag();
        flags.push("COOP_TASKRUN|IORING_SETUP_TASKRUN_FLAG (Linux >= 5.19)");
    }
    if defer {
        b.setup_single_issuer().setup_defer_taskrun();
        flags.push("SINGLE_ISSUER|IORING_SETUP_DEFER_TASKRUN (Linux >= 6.1)");
    }
    b.build(8).map_err(|e| {
        if flags.is_empty() {
            uring_unavailable(e)
        } else {
            anyhow!(
                "io_uring_setup with IORING_SETUP_{} failed: {e} (the kernel rejects the flag)",
                flags.join(" and IORING_SETUP_")
            )
        }
    })
}

impl Side {
    fn pipe_fds(&self) -> (RawFd, RawFd) {
        let (r, w) = self.pipes.as_ref().expect("pipe mechanism has pipes");
        (r.as_raw_fd(), w.as_raw_fd())
    }

    fn read_entry(&self, buf: *mut [u8; 8]) -> squeue::Entry {
        opcode::Read::new(types::Fd(self.pipe_fds().0), buf.cast(), 8)
            .build()
            .user_data(UD_RECV)
    }

    /// The SQE sending `v` to the peer.
    fn send_entry(&self, peer_ring: RawFd, wbuf: *mut [u8; 8], v: u64) -> squeue::Entry {
        let e = match self.mech {
            Mechanism::Pipe => {
                // SAFETY: wbuf is a leaked buffer; the previous write from it
                // completed before the peer could answer it
                unsafe { wbuf.write_volatile(v.to_le_bytes()) };
                opcode::Write::new(types::Fd(self.pipe_fds().1), wbuf.cast_const().cast(), 8)
                    .build()
            }
            _ => opcode::MsgRingData::new(types::Fd(peer_ring), 0, UD_MSG | v, None).build(),
        };
        let e = e.user_data(UD_SENT);
        if self.skip_success {
            e.flags(squeue::Flags::SKIP_SUCCESS)
        } else {
            e
        }
    }

    /// Handle one CQE; returns the value of a received message.
    fn on_cqe(
        &self,
        ring: &mut IoUring,
        ud: u64,
        res: i32,
        rbuf: *mut [u8; 8],
    ) -> Result<Option<u64>> {
        if ud == UD_SENT {
            if res < 0 {
                bail!("sending the message failed: {}", cqe_error(res));
            }
            if self.mech == Mechanism::Pipe && res != 8 {
                bail!("short pipe write ({res} bytes)");
            }
            Ok(None)
        } else if ud == UD_RECV {
            if res == 0 {
                return Err(PeerGone("the peer closed its pipe").into());
            }
            if res < 0 {
                bail!("pipe read failed: {}", cqe_error(res));
            }
            if res != 8 {
                bail!("short pipe read ({res} bytes)");
            }
            // SAFETY: the read into rbuf has completed
            let v = u64::from_le_bytes(unsafe { rbuf.read_volatile() });
            // SAFETY: rbuf is leaked, the pipe stays open while the ring exists
            unsafe { push(ring, &self.read_entry(rbuf))? };
            Ok(Some(v))
        } else if ud & UD_MSG != 0 {
            if res < 0 {
                bail!("message CQE with error {}", cqe_error(res));
            }
            Ok(Some(ud & !UD_MSG))
        } else {
            bail!("unexpected CQE user_data {ud:#x} res {res}")
        }
    }

    fn run(&self, ring: &mut IoUring, st: &Start, stop: &AtomicBool) -> Result<LatencyRecorder> {
        let (rbuf, wbuf) = (leak_buf(), leak_buf());
        if self.mech == Mechanism::Pipe {
            // SAFETY: rbuf is leaked, the pipe stays open while the ring exists
            unsafe { push(ring, &self.read_entry(rbuf))? };
        }
        let mut cqes: Vec<(u64, i32)> = Vec::with_capacity(8);
        let mut rec = LatencyRecorder::new();
        let mut seq = 0u64;
        loop {
            let t0 = now_ns();
            if self.initiator {
                if t0 >= st.end {
                    return Ok(rec);
                }
                seq += 1;
                // SAFETY: wbuf is leaked; the peer ring stays open until
                // both sides are done sending
                unsafe { push(ring, &self.send_entry(st.peer_ring, wbuf, seq))? };
            }
            // wait for a message (the responder) or the reply to `seq`
            loop {
                submit_and_wait(ring)?;
                cqes.clear();
                cqes.extend(ring.completion().map(|c| (c.user_data(), c.result())));
                let mut got = false;
                for &(ud, res) in &cqes {
                    let Some(v) = self.on_cqe(ring, ud, res, rbuf)? else {
                        continue;
                    };
                    if self.initiator {
                        if v != seq {
                            bail!("reply {v} does not answer message {seq}");
                        }
                        got = true;
                    } else {
                        // SAFETY: as above
                        unsafe { push(ring, &self.send_entry(st.peer_ring, wbuf, v))? };
                    }
                }
                if got {
                    break;
                }
                if stop.load(Ordering::Acquire) {
                    return if self.initiator {
                        Err(PeerGone("the responder stopped").into())
                    } else {
                        Ok(rec)
                    };
                }
                if self.initiator && now_ns().saturating_sub(t0) > STALL_NS {
                    bail!(
                        "no reply from the responder for {} s (round trip {seq})",
                        STALL_NS / 1_000_000_000
                    );
                }
            }
            let t1 = now_ns();
            if t0 >= st.record_from {
                rec.record_ns(t1 - t0);
            }
        }
    }
}

/// A ping-pong thread: pin, build the ring, announce it, run.
fn pingpong_side(
    side: Side,
    ready: mpsc::Sender<(usize, Option<RawFd>)>,
    start: mpsc::Receiver<Start>,
    stop: Arc<AtomicBool>,
    done: Arc<AtomicUsize>,
) -> Result<LatencyRecorder> {
    let idx = usize::from(!side.initiator);
    let mut ring = None;
    let res = (|| {
        let built = side
            .cpu
            .map_or(Ok(()), pin_to)
            .and_then(|()| build_ring(side.coop, side.defer));
        let r = match built {
            Ok(r) => r,
            Err(e) => {
                let _ = ready.send((idx, None));
                return Err(e);
            }
        };
        let _ = ready.send((idx, Some(r.as_raw_fd())));
        let ring = ring.insert(r);
        let st = start
            .recv_timeout(SETUP_TIMEOUT)
            .map_err(|_| PeerGone("the run was aborted during set-up"))?;
        side.run(ring, &st, &stop)
    })();
    // Either side finishing ends the run. The ring must outlive the peer's
    // last MSG_RING to it: wait (boundedly) until the peer is done sending.
    stop.store(true, Ordering::SeqCst);
    done.fetch_add(1, Ordering::SeqCst);
    let t = Instant::now();
    while done.load(Ordering::SeqCst) < 2 && t.elapsed() < Duration::from_secs(2) {
        thread::sleep(Duration::from_millis(1));
    }
    drop(ring);
    res
}

/// A thread spinning until `stop`, pinned to `cpu` if given.
fn hog(cpu: Option<usize>, stop: Arc<AtomicBool>, ready: mpsc::Sender<Result<()>>) {
    let pinned = cpu.map_or(Ok(()), pin_to).context("the hog thread");
    let ok = pinned.is_ok();
    let _ = ready.send(pinned);
    let mut x = 1u64;
    while ok && !stop.load(Ordering::Relaxed) {
        for _ in 0..1000 {
            x = std::hint::black_box(x.wrapping_mul(6364136223846793005).wrapping_add(1));
        }
    }
}

/// Run the io_uring ping-pong.
pub fn uring_pingpong(cfg: &PingpongConfig) -> Result<PingpongResult> {
    check_times(cfg.runtime_s, cfg.warmup_s)?;
    if cfg.cpus.is_some() && online_cpus() < 2 {
        bail!("only one CPU online, but the two threads are pinned to two CPUs (pass --no-pin to run unpinned)");
    }
    let probe_ring = new_ring(8)?;
    let mut probe = Probe::new();
    let has_msg_ring = probe_ring.submitter().register_probe(&mut probe).is_ok()
        && probe.is_supported(opcode::MsgRingData::CODE);
    let skip_success = probe_ring.params().is_feature_skip_cqe_on_success();
    drop(probe_ring);
    let mech = match cfg.mechanism {
        Mechanism::Auto if has_msg_ring => Mechanism::MsgRing,
        Mechanism::Auto => Mechanism::Pipe,
        Mechanism::MsgRing if !has_msg_ring => {
            bail!("this kernel does not support IORING_OP_MSG_RING (Linux >= 5.18); use --mechanism pipe")
        }
        m => m,
    };
    let (mut to_responder, mut to_initiator) = (None, None);
    if mech == Mechanism::Pipe {
        to_responder = Some(pipe_pair()?);
        to_initiator = Some(pipe_pair()?);
    }
    let mut pipes = [None, None];
    if let (Some((r1, w1)), Some((r2, w2))) = (to_responder, to_initiator) {
        pipes = [Some((r2, w1)), Some((r1, w2))];
    }
    let stop = Arc::new(AtomicBool::new(false));
    let done = Arc::new(AtomicUsize::new(0));

    let mut hog_handle = None;
    if cfg.hog {
        let (tx, rx) = mpsc::channel();
        let (cpu, st) = (cfg.cpus.map(|c| c[1]), stop.clone());
        hog_handle = Some(
            thread::Builder::new()
                .name("pingpong-hog".into())
                .spawn(move || hog(cpu, st, tx))
                .context("spawning the hog thread")?,
        );
        let started = rx
            .recv_timeout(SETUP_TIMEOUT)
            .map_err(|_| anyhow!("the hog thread did not start"))
            .and_then(|r| r);
        if let Err(e) = started {
            stop.store(true, Ordering::SeqCst);
            return Err(e);
        }
    }

    let (ready_tx, ready_rx) = mpsc::channel();
    let mut start_txs = Vec::new();
    let mut handles = Vec::new();
    for (i, p) in pipes.into_iter().enumerate() {
        let side = Side {
            initiator: i == 0,
            mech,
            cpu: cfg.cpus.map(|c| c[i]),
            coop: cfg.coop_taskrun,
            defer: cfg.defer_taskrun,
            skip_success,
            pipes: p,
        };
        let (start_tx, start_rx) = mpsc::channel();
        start_txs.push(start_tx);
        let (rt, st, dn) = (ready_tx.clone(), stop.clone(), done.clone());
        handles.push(
            thread::Builder::new()
                .name(
                    if i == 0 {
                        "pingpong-init"
                    } else {
                        "pingpong-resp"
                    }
                    .into(),
                )
                .spawn(move || pingpong_side(side, rt, start_rx, st, dn))
                .context("spawning a ping-pong thread")?,
        );
    }
    let mut fds = [None, None];
    for _ in 0..2 {
        match ready_rx.recv_timeout(SETUP_TIMEOUT) {
            Ok((i, fd)) => fds[i] = fd,
            Err(_) => break,
        }
    }
    let until = end_of_run(cfg.warmup_s, cfg.runtime_s);
    if let [Some(a), Some(b)] = fds {
        let record_from = now_ns() + secs_ns(cfg.warmup_s);
        let end = record_from + secs_ns(cfg.runtime_s);
        for (tx, peer_ring) in start_txs.iter().zip([b, a]) {
            let _ = tx.send(Start {
                peer_ring,
                record_from,
                end,
            });
        }
    } else {
        stop.store(true, Ordering::SeqCst);
    }
    drop(start_txs);
    let finished = await_finished(
        || {
            handles.iter().all(|h| h.is_finished())
                && hog_handle.as_ref().is_none_or(|h| h.is_finished())
        },
        until,
    );
    stop.store(true, Ordering::SeqCst);
    finished?;
    if let Some(h) = hog_handle {
        h.join().map_err(|_| anyhow!("the hog thread panicked"))?;
    }
    let mut results: Vec<Result<LatencyRecorder>> = Vec::new();
    for (h, name) in handles.into_iter().zip(["initiator", "responder"]) {
        results.push(join(h, name).with_context(|| format!("the {name}")));
    }
    if results.iter().any(|r| r.is_err()) {
        return Err(pick_error(
            results.into_iter().filter_map(|r| r.err()).collect(),
        ));
    }
    let rec = results.swap_remove(0)?;
    let round_trips = rec.count();
    if round_trips == 0 {
        bail!("no round trip completed in the measured window");
    }
    let measured = Duration::from_secs_f64(cfg.runtime_s);
    Ok(PingpongResult {
        config: cfg.clone(),
        mechanism: mech,
        coop_taskrun: cfg.coop_taskrun,
        defer_taskrun: cfg.defer_taskrun,
        hog: cfg.hog,
        round_trips,
        round_trips_per_sec: round_trips as f64 / cfg.runtime_s,
        rtt: rec.summary(measured),
    })
}

// ---------------------------------------------------------------------------
// evloop

/// How the event loop waits for requests.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "kebab-case")]
pub enum Backend {
    /// epoll_wait(2) on the request pipes
    Epoll,
    /// io_uring: one read SQE per request pipe, submit-and-wait
    Uring,
}

impl Backend {
    pub fn name(self) -> &'static str {
        match self {
            Backend::Epoll => "epoll",
            Backend::Uring => "uring",
        }
    }
}

/// evloop's knobs.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct EvloopConfig {
    pub backend: Backend,
    pub clients: usize,
    /// CPU spin per request in the loop (us)
    pub work_us: u64,
    /// CPU spin of a client between a reply and its next request (us)
    pub think_us: u64,
    pub runtime_s: f64,
    pub warmup_s: f64,
}

/// evloop's result.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct EvloopResult {
    pub config: EvloopConfig,
    pub backend: Backend,
    pub clients: usize,
    /// Requests served whose send time is in the measured window.
    pub events: u64,
    pub events_per_sec: f64,
    /// Reply latency at the clients (request written to reply read).
    pub reply: LatencySummary,
    /// The reply latency's three parts, each over the same requests:
    /// request written to the loop starting to serve it (the loop's
    /// wakeup, and its queue of other clients' requests) ...
    pub reply_queue: LatencySummary,
    /// ... the loop serving it (its --work-us, and any time it lost the
    /// CPU meanwhile) ...
    pub reply_service: LatencySummary,
    /// ... and reply written to the client's read returning (the client's
    /// wakeup and its wait for a CPU).
    pub reply_wake: LatencySummary,
    /// The loop thread's scheduling from when it served its first request
    /// of the measured window to its exit (absent without schedstat) ...
    pub loop_sched: Option<ThreadSched>,
    /// ... and the clients' together, over their measured window.
    pub clients_sched: Option<ThreadSched>,
}

/// A thread's scheduling over the measured window, from
/// /proc/thread-self/schedstat (CONFIG_SCHED_INFO): time on a CPU, time
/// runnable but waiting for one, and how many times it was switched in.
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct ThreadSched {
    pub cpu_us: f64,
    pub run_delay_us: f64,
    pub slices: u64,
}

impl ThreadSched {
    /// The calling thread's counters so far; `None` without schedstat.
    fn now() -> Option<ThreadSched> {
        let s = std::fs::read_to_string("/proc/thread-self/schedstat").ok()?;
        let mut it = s.split_whitespace().map(|x| x.parse::<u64>().ok());
        let (cpu, delay, slices) = (it.next()??, it.next()??, it.next()??);
        Some(ThreadSched {
            cpu_us: cpu as f64 / 1e3,
            run_delay_us: delay as f64 / 1e3,
            slices,
        })
    }

    /// What happened between `start` and `self`.
    fn since(self, start: ThreadSched) -> ThreadSched {
        ThreadSched {
            cpu_us: self.cpu_us - start.cpu_us,
            run_delay_us: self.run_delay_us - start.run_delay_us,
            slices: self.slices.saturating_sub(start.slices),
        }
    }

    fn add(self, o: ThreadSched) -> ThreadSched {
        ThreadSched {
            cpu_us: self.cpu_us + o.cpu_us,
            run_delay_us: self.run_delay_us + o.run_delay_us,
            slices: self.slices + o.slices,
        }
    }
}

/// The calling thread's [`ThreadSched`] from the moment `start` was taken.
fn sched_since(start: Option<ThreadSched>) -> Option<ThreadSched> {
    Some(ThreadSched::now()?.since(start?))
}

/// Bytes of a reply: the request's send time echoed, then the loop's clock
/// when it started serving the request and when it wrote the reply.
const REPLY_LEN: usize = 24;

/// What the loop does with one request (an 8-byte send time `v`).
struct Server {
    work_us: u64,
    record_from: u64,
    end: u64,
    served: u64,
    /// The loop thread's schedstat at its first request of the window.
    sched_start: Option<ThreadSched>,
}

impl Server {
    /// Serve a request; `false` if the client has gone away.
    fn serve(&mut self, reply: &mut File, v: u64) -> Result<bool> {
        let start = now_ns();
        spin_us(self.work_us);
        let mut msg = [0u8; REPLY_LEN];
        for (i, w) in [v, start, now_ns()].into_iter().enumerate() {
            msg[i * 8..i * 8 + 8].copy_from_slice(&w.to_le_bytes());
        }
        match reply.write_all(&msg) {
            Ok(()) => {}
            Err(e) if e.kind() == io::ErrorKind::BrokenPipe => return Ok(false),
            Err(e) => return Err(e).context("writing a reply"),
        }
        if (self.record_from..self.end).contains(&v) {
            if self.served == 0 {
                self.sched_start = ThreadSched::now();
            }
            self.served += 1;
        }
        Ok(true)
    }
}

fn stall_error() -> anyhow::Error {
    anyhow!(
        "no request from any client for {} s",
        STALL_NS / 1_000_000_000
    )
}

fn loop_epoll(mut pipes: Vec<(File, File)>, srv: &mut Server) -> Result<()> {
    let ep = Epoll::new(EpollCreateFlags::EPOLL_CLOEXEC).context("epoll_create1")?;
    for (i, (req, _)) in pipes.iter().enumerate() {
        ep.add(req, EpollEvent::new(EpollFlags::EPOLLIN, i as u64))
            .context("epoll_ctl")?;
    }
    let mut open = vec![true; pipes.len()];
    let mut active = pipes.len();
    let mut events = vec![EpollEvent::empty(); pipes.len()];
    let mut last = now_ns();
    while active > 0 {
        let n = match ep.wait(&mut events, WAIT_SLICE.as_millis() as u16) {
            Ok(n) => n,
            Err(nix::errno::Errno::EINTR) => 0,
            Err(e) => return Err(e).context("epoll_wait"),
        };
        if n == 0 {
            if now_ns().saturating_sub(last) > STALL_NS {
                return Err(stall_error());
            }
            continue;
        }
        last = now_ns();
        for ev in &events[..n] {
            let i = ev.data() as usize;
            if !open[i] {
                continue;
            }
            let (req, rep) = &mut pipes[i];
            let alive = match read_u64(req).context("reading a request")? {
                Some(v) => srv.serve(rep, v)?,
                None => false,
            };
            if !alive {
                ep.delete(&*req).context("epoll_ctl")?;
                open[i] = false;
                active -= 1;
            }
        }
    }
    Ok(())
}

fn loop_uring(mut ring: IoUring, mut pipes: Vec<(File, File)>, srv: &mut Server) -> Result<()> {
    // Deliberately leaked, see leak_buf.
    let bufs: Vec<*mut [u8; 8]> = (0..pipes.len()).map(|_| leak_buf()).collect();
    let read = |i: usize, fd: RawFd| {
        opcode::Read::new(types::Fd(fd), bufs[i].cast(), 8)
            .build()
            .user_data(i as u64)
    };
    for (i, (req, _)) in pipes.iter().enumerate() {
        // SAFETY: bufs are leaked; an in-flight request holds a reference to
        // its pipe, so the descriptors may be closed before it completes
        unsafe { push(&mut ring, &read(i, req.as_raw_fd()))? };
    }
    let mut active = pipes.len();
    let mut cqes: Vec<(u64, i32)> = Vec::with_capacity(pipes.len());
    let mut last = now_ns();
    while active > 0 {
        submit_and_wait(&ring)?;
        cqes.clear();
        cqes.extend(ring.completion().map(|c| (c.user_data(), c.result())));
        if cqes.is_empty() {
            if now_ns().saturating_sub(last) > STALL_NS {
                return Err(stall_error());
            }
            continue;
        }
        last = now_ns();
        for &(ud, res) in &cqes {
            let i = ud as usize;
            let (req, rep) = &mut pipes[i];
            let alive = match res {
                8 => {
                    // SAFETY: the read into bufs[i] has completed
                    let v = u64::from_le_bytes(unsafe { bufs[i].read_volatile() });
                    srv.serve(rep, v)?
                }
                0 => false,
                r if r == -libc::EINTR || r == -libc::EAGAIN => true,
                r if r < 0 => bail!("reading a request failed: {}", cqe_error(r)),
                r => bail!("short read of a request ({r} bytes)"),
            };
            if alive {
                // SAFETY: as above
                unsafe { push(&mut ring, &read(i, req.as_raw_fd()))? };
            } else {
                active -= 1;
            }
        }
    }
    Ok(())
}

/// A client's reply latencies: the whole, then its three parts (see
/// [`EvloopResult`]).
#[derive(Default)]
struct ReplyRecs([LatencyRecorder; 4], Option<ThreadSched>);

fn evloop_client(
    mut req: File,
    mut rep: File,
    think_us: u64,
    record_from: u64,
    end: u64,
) -> Result<ReplyRecs> {
    let mut rec = ReplyRecs::default();
    let mut sched_start = None;
    loop {
        let t0 = now_ns();
        if t0 >= end {
            break;
        }
        if t0 >= record_from && sched_start.is_none() {
            sched_start = ThreadSched::now();
        }
        match req.write_all(&t0.to_le_bytes()) {
            Ok(()) => {}
            Err(e) if e.kind() == io::ErrorKind::BrokenPipe => {
                return Err(PeerGone("the event loop closed the request pipe").into())
            }
            Err(e) => return Err(e).context("writing a request"),
        }
        let Some([v, start, sent]) = read_u64s::<3>(&mut rep).context("reading a reply")? else {
            return Err(PeerGone("the event loop closed the reply pipe").into());
        };
        let t1 = now_ns();
        if v != t0 {
            bail!("reply {v} does not answer request {t0}");
        }
        if t0 >= record_from {
            // the parts' ends are read on two CPUs: a part whose clocks
            // disagree by more than its length counts as 0 (the sum of the
            // parts may then differ from the whole by that much)
            let parts = [
                t1 - t0,
                start.saturating_sub(t0),
                sent.saturating_sub(start),
                t1.saturating_sub(sent),
            ];
            for (r, ns) in rec.0.iter_mut().zip(parts) {
                r.record_ns(ns);
            }
        }
        spin_us(think_us);
    }
    rec.1 = sched_since(sched_start);
    // closing the request pipe tells the loop this client is done
    drop(req);
    Ok(rec)
}

/// Run the event loop and its clients.
pub fn evloop(cfg: &EvloopConfig) -> Result<EvloopResult> {
    check_times(cfg.runtime_s, cfg.warmup_s)?;
    if !(1..=MAX_CLIENTS).contains(&cfg.clients) {
        bail!("clients must be in 1..={MAX_CLIENTS}");
    }
    if cfg.work_us > MAX_KNOB_US || cfg.think_us > MAX_KNOB_US {
        bail!("work and think time must be at most {MAX_KNOB_US} us");
    }
    let ring = match cfg.backend {
        Backend::Uring => Some(new_ring((cfg.clients as u32).next_power_of_two().max(8))?),
        Backend::Epoll => None,
    };
    let (mut loop_side, mut client_side) = (Vec::new(), Vec::new());
    for _ in 0..cfg.clients {
        let (req_r, req_w) = pipe_pair()?;
        let (rep_r, rep_w) = pipe_pair()?;
        loop_side.push((req_r, rep_w));
        client_side.push((req_w, rep_r));
    }
    let record_from = now_ns() + secs_ns(cfg.warmup_s);
    let end = record_from + secs_ns(cfg.runtime_s);
    let until = end_of_run(cfg.warmup_s, cfg.runtime_s);
    let mut srv = Server {
        work_us: cfg.work_us,
        record_from,
        end,
        served: 0,
        sched_start: None,
    };
    let lp = thread::Builder::new()
        .name("evloop".into())
        .spawn(move || -> Result<(u64, Option<ThreadSched>)> {
            match ring {
                Some(r) => loop_uring(r, loop_side, &mut srv)?,
                None => loop_epoll(loop_side, &mut srv)?,
            }
            Ok((srv.served, sched_since(srv.sched_start)))
        })
        .context("spawning the loop thread")?;
    let mut clients = Vec::new();
    for (req, rep) in client_side {
        let think = cfg.think_us;
        let spawned = thread::Builder::new()
            .name("evloop-client".into())
            .spawn(move || evloop_client(req, rep, think, record_from, end));
        match spawned {
            Ok(h) => clients.push(h),
            // dropping the remaining pipes lets the loop and clients finish
            Err(e) => return Err(e).context("spawning a client thread"),
        }
    }
    await_finished(
        || lp.is_finished() && clients.iter().all(|h| h.is_finished()),
        until,
    )?;
    let mut errs = Vec::new();
    let served = join(lp, "loop").context("the event loop");
    let mut rec = ReplyRecs::default();
    let mut clients_sched = Some(ThreadSched::default());
    for h in clients {
        match join(h, "client").context("a client") {
            Ok(r) => {
                for (all, one) in rec.0.iter_mut().zip(&r.0) {
                    all.merge(one);
                }
                clients_sched = clients_sched.zip(r.1).map(|(a, b)| a.add(b));
            }
            Err(e) => errs.push(e),
        }
    }
    let (served, loop_sched) = match served {
        Ok(s) if errs.is_empty() => s,
        Ok(_) => return Err(pick_error(errs)),
        Err(e) => return Err(e),
    };
    if served == 0 {
        bail!("no request served in the measured window");
    }
    let sum = |i: usize| rec.0[i].summary(Duration::from_secs_f64(cfg.runtime_s));
    Ok(EvloopResult {
        config: cfg.clone(),
        backend: cfg.backend,
        clients: cfg.clients,
        events: served,
        events_per_sec: served as f64 / cfg.runtime_s,
        reply: sum(0),
        reply_queue: sum(1),
        reply_service: sum(2),
        reply_wake: sum(3),
        loop_sched,
        clients_sched,
    })
}

// ---------------------------------------------------------------------------
// pollloop

/// pollloop's knobs.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct PollloopConfig {
    /// How long the consumer busy-polls before sleeping (us)
    pub poll_us: u64,
    /// Events per second
    pub rate: u64,
    pub runtime_s: f64,
    pub warmup_s: f64,
}

/// pollloop's result. Counts cover events produced in the measured window.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct PollloopResult {
    pub config: PollloopConfig,
    /// Events handled by the consumer (== `produced`).
    pub events: u64,
    pub events_per_sec: f64,
    /// Events published by the producer.
    pub produced: u64,
    /// Wake-to-handle latency: producer timestamp to the consumer handling it.
    pub wake: LatencySummary,
    /// Events the consumer found without sleeping (while polling, or at the
    /// re-check after announcing its sleep).
    pub polled_hits: u64,
    /// Events the consumer found after sleeping on the eventfd.
    pub sleeps: u64,
    /// Wake-to-handle latency of the events found without sleeping.
    pub wake_polled: LatencySummary,
    /// Wake-to-handle latency of the events found after sleeping.
    pub wake_slept: LatencySummary,
    /// Events the consumer handled on the CPU the producer published them
    /// from (sched_getcpu(3) on both sides): the two threads shared a CPU.
    pub same_cpu_events: u64,
    /// eventfd wakeups that found no new event.
    pub spurious_wakeups: u64,
    /// eventfd writes by the producer (it writes only to a sleeping consumer).
    pub eventfd_writes: u64,
    /// Consumer thread CPU time / wall time over the measured window, percent.
    pub consumer_cpu_percent: f64,
    /// Slots the producer skipped because it woke up a slot or more late.
    pub missed_slots: u64,
    /// Slots skipped because the consumer was a whole ring of events behind.
    pub ring_full_drops: u64,
}

const SLOTS: u64 = 4096;

struct PollShared {
    slots: Vec<AtomicU64>,
    /// The CPU each slot was published from.
    slot_cpus: Vec<AtomicU32>,
    produced: AtomicU64,
    consumed: AtomicU64,
    sleeping: AtomicBool,
    stop: AtomicBool,
    efd: OwnedFd,
}

impl PollShared {
    fn kick(&self) -> io::Result<()> {
        let v: u64 = 1;
        loop {
            // SAFETY: writes 8 bytes from a valid u64 to our eventfd
            let r = unsafe { libc::write(self.efd.as_raw_fd(), (&v as *const u64).cast(), 8) };
            if r == 8 {
                return Ok(());
            }
            let e = io::Error::last_os_error();
            if e.kind() != io::ErrorKind::Interrupted {
                return Err(e);
            }
        }
    }

    fn sleep(&self) -> io::Result<()> {
        let mut v: u64 = 0;
        loop {
            // SAFETY: reads 8 bytes into a valid u64 from our eventfd
            let r = unsafe { libc::read(self.efd.as_raw_fd(), (&mut v as *mut u64).cast(), 8) };
            if r == 8 {
                return Ok(());
            }
            let e = io::Error::last_os_error();
            if e.kind() != io::ErrorKind::Interrupted {
                return Err(e);
            }
        }
    }
}

/// Sets the stop flag and wakes the consumer when the producer ends, however
/// it ends.
struct StopOnDrop(Arc<PollShared>);

impl Drop for StopOnDrop {
    fn drop(&mut self) {
        self.0.stop.store(true, Ordering::SeqCst);
        let _ = self.0.kick();
    }
}

#[derive(Default)]
struct ProducerStats {
    produced: u64,
    eventfd_writes: u64,
    missed_slots: u64,
    ring_full_drops: u64,
}

fn sleep_until_ns(t: u64) {
    let ts = libc::timespec {
        tv_sec: (t / 1_000_000_000) as libc::time_t,
        tv_nsec: (t % 1_000_000_000) as libc::c_long,
    };
    // SAFETY: ts is a valid timespec, the remaining-time pointer may be null
    while unsafe {
        libc::clock_nanosleep(
            libc::CLOCK_MONOTONIC,
            libc::TIMER_ABSTIME,
            &ts,
            std::ptr::null_mut(),
        )
    } == libc::EINTR
    {}
}

fn producer(sh: Arc<PollShared>, rate: u64, record_from: u64, end: u64) -> Result<ProducerStats> {
    let _stop = StopOnDrop(sh.clone());
    let period = (1_000_000_000 / rate).max(1);
    let mut st = ProducerStats::default();
    let mut seq = 0u64;
    let mut next = now_ns();
    loop {
        sleep_until_ns(next);
        let t = now_ns();
        if t >= end {
            break;
        }
        let measured = t >= record_from;
        if seq - sh.consumed.load(Ordering::Acquire) >= SLOTS {
            st.ring_full_drops += u64::from(measured);
        } else {
            let slot = (seq % SLOTS) as usize;
            sh.slots[slot].store(t, Ordering::Relaxed);
            sh.slot_cpus[slot].store(current_cpu(), Ordering::Relaxed);
            seq += 1;
            sh.produced.store(seq, Ordering::SeqCst);
            if sh.sleeping.load(Ordering::SeqCst) {
                sh.kick().context("writing the eventfd")?;
                st.eventfd_writes += u64::from(measured);
            }
            st.produced += u64::from(measured);
        }
        next += period;
        let now = now_ns();
        if now >= next {
            // late by a slot or more: skip the passed slots, no burst
            let k = (now - next) / period + 1;
            st.missed_slots += if measured { k } else { 0 };
            next += k * period;
        }
    }
    Ok(st)
}

#[derive(Default)]
struct ConsumerStats {
    rec: LatencyRecorder,
    rec_polled: LatencyRecorder,
    rec_slept: LatencyRecorder,
    same_cpu: u64,
    polled_hits: u64,
    sleeps: u64,
    spurious_wakeups: u64,
    cpu_ns: u64,
    wall_ns: u64,
}

fn consumer(sh: Arc<PollShared>, poll_us: u64, record_from: u64) -> Result<ConsumerStats> {
    let mut st = ConsumerStats::default();
    let mut seen = 0u64;
    let mut window: Option<(u64, u64)> = None;
    let handle = |upto: u64, polled: bool, st: &mut ConsumerStats, seen: &mut u64| {
        let now = now_ns();
        let cpu = current_cpu();
        for s in *seen..upto {
            let slot = (s % SLOTS) as usize;
            let t = sh.slots[slot].load(Ordering::Relaxed);
            if t >= record_from {
                let lat = now.saturating_sub(t);
                st.rec.record_ns(lat);
                if polled {
                    st.polled_hits += 1;
                    st.rec_polled.record_ns(lat);
                } else {
                    st.sleeps += 1;
                    st.rec_slept.record_ns(lat);
                }
                if sh.slot_cpus[slot].load(Ordering::Relaxed) == cpu {
                    st.same_cpu += 1;
                }
            }
        }
        *seen = upto;
        sh.consumed.store(upto, Ordering::Release);
    };
    loop {
        let now = now_ns();
        if window.is_none() && now >= record_from {
            window = Some((now, clock_ns(libc::CLOCK_THREAD_CPUTIME_ID)));
        }
        // poll
        let poll_end = now + poll_us * 1000;
        let mut found = 0;
        loop {
            let p = sh.produced.load(Ordering::Acquire);
            if p > seen {
                found = p;
                break;
            }
            if sh.stop.load(Ordering::Acquire) || now_ns() >= poll_end {
                break;
            }
            std::hint::spin_loop();
        }
        if found > 0 {
            handle(found, true, &mut st, &mut seen);
            continue;
        }
        if sh.stop.load(Ordering::SeqCst) {
            break;
        }
        // announce the sleep, re-check, sleep
        sh.sleeping.store(true, Ordering::SeqCst);
        let p = sh.produced.load(Ordering::SeqCst);
        if p > seen {
            sh.sleeping.store(false, Ordering::SeqCst);
            handle(p, true, &mut st, &mut seen);
            continue;
        }
        if sh.stop.load(Ordering::SeqCst) {
            break;
        }
        let slept = sh.sleep();
        sh.sleeping.store(false, Ordering::SeqCst);
        slept.context("reading the eventfd")?;
        let p = sh.produced.load(Ordering::SeqCst);
        if p > seen {
            handle(p, false, &mut st, &mut seen);
        } else if !sh.stop.load(Ordering::SeqCst) && now_ns() >= record_from {
            st.spurious_wakeups += 1;
        }
    }
    // the producer stored its last event before setting stop
    let p = sh.produced.load(Ordering::SeqCst);
    if p > seen {
        handle(p, true, &mut st, &mut seen);
    }
    if let Some((wall0, cpu0)) = window {
        st.wall_ns = now_ns() - wall0;
        st.cpu_ns = clock_ns(libc::CLOCK_THREAD_CPUTIME_ID) - cpu0;
    }
    Ok(st)
}

/// Run the polling consumer against the fixed-rate producer.
pub fn pollloop(cfg: &PollloopConfig) -> Result<PollloopResult> {
    check_times(cfg.runtime_s, cfg.warmup_s)?;
    if cfg.poll_us > MAX_KNOB_US {
        bail!("poll time must be at most {MAX_KNOB_US} us");
    }
    if !(1..=MAX_RATE).contains(&cfg.rate) {
        bail!("rate must be in 1..={MAX_RATE} per second");
    }
    // SAFETY: eventfd has no memory-safety preconditions
    let efd = unsafe { libc::eventfd(0, libc::EFD_CLOEXEC) };
    if efd < 0 {
        return Err(io::Error::last_os_error()).context("eventfd(2)");
    }
    let sh = Arc::new(PollShared {
        slots: (0..SLOTS).map(|_| AtomicU64::new(0)).collect(),
        slot_cpus: (0..SLOTS).map(|_| AtomicU32::new(u32::MAX)).collect(),
        produced: AtomicU64::new(0),
        consumed: AtomicU64::new(0),
        sleeping: AtomicBool::new(false),
        stop: AtomicBool::new(false),
        // SAFETY: eventfd(2) returned a fresh descriptor that nothing else owns
        efd: unsafe { OwnedFd::from_raw_fd(efd) },
    });
    let record_from = now_ns() + secs_ns(cfg.warmup_s);
    let end = record_from + secs_ns(cfg.runtime_s);
    let until = end_of_run(cfg.warmup_s, cfg.runtime_s);
    let (sc, poll_us) = (sh.clone(), cfg.poll_us);
    let cons = thread::Builder::new()
        .name("pollloop-consumer".into())
        .spawn(move || consumer(sc, poll_us, record_from))
        .context("spawning the consumer thread")?;
    let (sp, rate) = (sh.clone(), cfg.rate);
    let prod = thread::Builder::new()
        .name("pollloop-producer".into())
        .spawn(move || producer(sp, rate, record_from, end));
    let prod = match prod {
        Ok(h) => h,
        Err(e) => {
            drop(StopOnDrop(sh));
            return Err(e).context("spawning the producer thread");
        }
    };
    await_finished(|| cons.is_finished() && prod.is_finished(), until)?;
    let p = join(prod, "producer").context("the producer")?;
    let c = join(cons, "consumer").context("the consumer")?;
    let events = c.rec.count();
    if events == 0 {
        bail!("no event handled in the measured window");
    }
    let elapsed = Duration::from_secs_f64(cfg.runtime_s);
    Ok(PollloopResult {
        config: cfg.clone(),
        events,
        events_per_sec: events as f64 / cfg.runtime_s,
        produced: p.produced,
        wake: c.rec.summary(elapsed),
        polled_hits: c.polled_hits,
        sleeps: c.sleeps,
        wake_polled: c.rec_polled.summary(elapsed),
        wake_slept: c.rec_slept.summary(elapsed),
        same_cpu_events: c.same_cpu,
        spurious_wakeups: c.spurious_wakeups,
        eventfd_writes: p.eventfd_writes,
        consumer_cpu_percent: if c.wall_ns > 0 {
            c.cpu_ns as f64 * 100.0 / c.wall_ns as f64
        } else {
            0.0
        },
        missed_slots: p.missed_slots,
        ring_full_drops: p.ring_full_drops,
    })
}
