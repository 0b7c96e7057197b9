//! `aio-bench` (issue 11): one fio thread doing libaio direct I/O, and how
//! often the scheduler moves it between CPUs.
//!
//! The workload comes from a Linux scheduler mailing-list thread about
//! single-thread aio: one fio job thread submits 4 KiB direct I/O with
//! libaio (`io_submit`, then sleeps in `io_getevents`). The completion work
//! is queued to a kworker bound to the submitter's CPU; when that kworker
//! wakes, the scheduler moves the submitter to another CPU, later back
//! again: IOPS drop and migrations per I/O soar. aio-bench runs that job
//! once, under whatever scheduler is running, and reports its IOPS and the
//! submitter's migrations per 1,000 I/Os.
//!
//! # Targets
//!
//! - `fs` (default, the kworker shape): a null_blk device loaded by
//!   aio-bench (`modprobe null_blk nr_devices=1 queue_mode=2 irqmode=2
//!   completion_nsec=10000 memory_backed=1 bs=4096 gb=N no_sched=1`:
//!   multi-queue, no I/O scheduler, memory-backed, and each request is
//!   completed by a 10 us hrtimer, a hard interrupt on the CPU that
//!   submitted it, after the submission has returned, as a device's
//!   per-CPU queue interrupt would), formatted ext4 (`mkfs.ext4 -q -F`,
//!   inode tables and journal initialised by mkfs, so no `ext4lazyinit`
//!   thread runs beside the job) and mounted on a temporary directory. fio
//!   writes sequentially into a fresh file that it first preallocates with
//!   fallocate(2) (`--fallocate=native`), so every block it writes is an
//!   unwritten extent. Such a write is not finished when its bio is: ext4
//!   must convert the extent to written (a journalled metadata change), so
//!   iomap's bio completion, in the timer interrupt, queues the rest on the
//!   file system's `dio/nullb0` workqueue (`sb->s_dio_done_wq`, per-CPU and
//!   bound); its kworker on that CPU converts the extent and completes the
//!   aio, which wakes the submitter sleeping in `io_getevents`.
//!   Why not `irqmode=0` (completion inside the submission call): then the
//!   bio completes while iomap's submission still holds its reference on
//!   the direct I/O, so the submitter itself drops the last reference and
//!   converts the extent inline: no kworker at all. Observed in the test VM
//!   (kernel 7.3.4, 2 CPUs, default scheduler, fio 3.33, 3 s runs):
//!   `--null-irqmode 0` and `1` (softirq, which also ran before the
//!   submission returned): the submitter never slept (2-3 voluntary
//!   switches, 3 s of CPU), no kworker was seen on `dio/nullb0`, 0
//!   migrations; `irqmode=2`: about one voluntary switch per I/O,
//!   kworkers bound to both CPUs (`kworker/0:2`, `kworker/1:1`) seen
//!   running `dio/nullb0`, 2.6 to 20 submitter migrations per 1,000 I/Os
//!   over five runs, one at iodepth 4 (noisy under emulation). On a 6.18 host (ext4
//!   on virtio-blk, whose interrupt completes the bio) a kworker's
//!   `/proc/<pid>/comm` read `kworker/1:1+dio/vda` during the run and
//!   `filefrag -v` showed exactly the written part of the file converted
//!   from unwritten. Every run records the kworkers it saw on that
//!   workqueue ([`AioResult::dio_kworkers`], from their comm: `+dio/<dev>`
//!   while executing it, `-dio/<dev>` after; sampled every 200 ms), so
//!   whether the shape happened is part of each result, not assumed. The
//!   jbd2 journal thread also wakes (every conversion is a journal
//!   transaction): part of the workload. The write stops at the end of the
//!   file or at `--runtime`, whichever comes first (not time-based);
//!   `runtime_s` is fio's measured runtime.
//! - `raw` (the contrast): random 4 KiB direct reads from `/dev/nullb0`
//!   (null_blk, not memory-backed, `irqmode=0`), time-based. A block
//!   device's direct I/O completes the aio in the bio's completion, which
//!   with `irqmode=0` runs inside `io_submit`: no kworker, and the
//!   submitter does not sleep (observed in the VM: 3 voluntary switches in
//!   3 s, 0 migrations).
//! - `--file PATH`: no null_blk; fio writes a fresh preallocated file (as
//!   `fs`) in the directory PATH (or at the new path PATH) on whatever file
//!   system that is, and aio-bench removes it afterwards. Whether a kworker
//!   is involved depends on that file system and device (`dio_kworkers`
//!   lists those seen on the `dio/<device>` workqueue of the device under
//!   PATH, which ext4 and xfs use).
//!
//! A null_blk module that is already loaded is reused only if `/dev/nullb0`
//! fits (the target's `irqmode`, no I/O scheduler, not mounted or held;
//! for `fs` also memory-backed and at least `--null-gb` big); otherwise
//! aio-bench says what does not fit and stops (`fs` formats a reused
//! device). It unloads null_blk only if it loaded it, and unmounts and
//! removes what it created on every exit path it controls (success, error,
//! SIGINT/SIGTERM/SIGHUP; not SIGKILL).
//!
//! # The fio job
//!
//! One job (`--name=aio --numjobs=1`) run as a thread of the fio process
//! (`--thread`): `--ioengine=libaio --direct=1 --bs=4k --iodepth=D`, see
//! [`fio_args`] for the full command line. fio's own setup (laying out the
//! file) happens before the job's I/O; fio is killed if it has not finished
//! after [`fio_timeout`].
//!
//! # Measured quantities
//!
//! - `iops`, `ios` (`total_ios`), `io_bytes` and `runtime_s` of the job's
//!   write (or read) direction, from fio's JSON output.
//! - `lat_p50_us`, `lat_p99_us`: fio's total latency percentiles (`lat_ns`,
//!   submission to completion, `--lat_percentiles=1`); if a fio version
//!   does not report them, its completion-latency percentiles (`clat_ns`),
//!   and `lat_source` says which.
//! - The submitter's migrations and context switches: while fio runs,
//!   `/proc/<fio>/task/*/sched` is read every [`POLL_INTERVAL`] and the
//!   highest `se.nr_migrations`, `nr_voluntary_switches`,
//!   `nr_involuntary_switches` and `se.sum_exec_runtime` of each thread are
//!   kept. `se.nr_migrations` counts the task's CPU changes
//!   (`set_task_cpu()`), in every scheduling class, sched_ext included. The
//!   counts cover the job thread's whole life (its setup is short next to
//!   the I/O). Residual error: changes after the last poll before the
//!   thread exits are missed, at most one poll interval of the run
//!   (20 ms plus the time a poll takes; of a 3 s run, under 1 % of the
//!   count at a steady rate).
//! - Which thread is the submitter: fio does not name its threads (on fio
//!   3.33 every thread's comm is `fio`, the job name is not used), so the
//!   submitter is the thread, other than fio's main thread (tid = fio's
//!   pid), with the most CPU time (`se.sum_exec_runtime`): it issues every
//!   `io_submit`/`io_getevents`; the only other thread is fio's helper
//!   thread, which ticks. Checked on the host: after 0.7 s of a run, main
//!   thread 98 switches, helper 5, job thread 5440 (about one per I/O at
//!   iodepth 1); in the VM every run saw these 3 threads
//!   (`fio_threads_seen`). CPU time rather than switches, because with the `raw`
//!   target the job thread need not sleep at all (the I/O is complete when
//!   `io_submit` returns).
//! - `migrations_per_kilo_io` = submitter migrations × 1000 / `ios`.

use std::collections::BTreeMap;
use std::io::Read;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

use anyhow::{anyhow, bail, Context, Result};
use serde::{Deserialize, Serialize};
use serde_json::Value;

/// fio's job name.
pub const JOB_NAME: &str = "aio";
/// How often fio's threads' `/proc/.../sched` are read.
pub const POLL_INTERVAL: Duration = Duration::from_millis(20);
/// Every how many polls the kworkers' names are scanned.
const KWORKER_SCAN_EVERY: u64 = 10;
/// The null_blk device aio-bench uses.
pub const NULLB: &str = "nullb0";

/// Which I/O aio-bench runs.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum TargetKind {
    /// ext4 on a memory-backed null_blk; sequential writes into a fresh
    /// preallocated file (completion through a per-CPU kworker)
    Fs,
    /// random reads from the raw null_blk device (completion inline)
    Raw,
    /// a fresh preallocated file in a given directory (`--file`)
    #[value(skip)]
    File,
}

impl TargetKind {
    pub fn name(self) -> &'static str {
        match self {
            TargetKind::Fs => "fs",
            TargetKind::Raw => "raw",
            TargetKind::File => "file",
        }
    }
}

/// fio's `--rw`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Rw {
    Write,
    RandRead,
}

impl Rw {
    pub fn fio_name(self) -> &'static str {
        match self {
            Rw::Write => "write",
            Rw::RandRead => "randread",
        }
    }
    /// The direction's key in fio's JSON job object.
    pub fn json_key(self) -> &'static str {
        match self {
            Rw::Write => "write",
            Rw::RandRead => "read",
        }
    }
}

/// What to build fio's command line from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FioSpec {
    pub filename: String,
    pub rw: Rw,
    pub iodepth: u32,
    pub runtime_s: u64,
    /// bytes of the file (None: the whole device)
    pub size_bytes: Option<u64>,
    pub time_based: bool,
}

/// fio's `--filename` takes `:` as a separator of several files; a literal
/// colon is written `\:`.
fn fio_escape_filename(name: &str) -> String {
    name.replace(':', "\\:")
}

/// fio's arguments (without the program name) for one single-thread libaio
/// job.
pub fn fio_args(s: &FioSpec) -> Vec<String> {
    let mut a: Vec<String> = vec![
        "--output-format=json".into(),
        format!("--name={JOB_NAME}"),
        format!("--filename={}", fio_escape_filename(&s.filename)),
        "--ioengine=libaio".into(),
        "--direct=1".into(),
        "--bs=4k".into(),
        format!("--iodepth={}", s.iodepth),
        format!("--rw={}", s.rw.fio_name()),
    ];
    if let Some(size) = s.size_bytes {
        a.push(format!("--size={size}"));
    }
    match s.rw {
        // a fresh file, preallocated: unwritten extents
        Rw::Write => a.push("--fallocate=native".into()),
        // no random map (no bookkeeping), a different sequence every run
        Rw::RandRead => a.extend(["--norandommap".into(), "--randrepeat=0".into()]),
    }
    a.push(format!("--runtime={}s", s.runtime_s));
    if s.time_based {
        a.push("--time_based".into());
    }
    a.extend([
        "--thread".into(),
        "--numjobs=1".into(),
        "--lat_percentiles=1".into(),
        "--percentile_list=50:99".into(),
    ]);
    a
}

/// How long fio may take before it is killed: the runtime twice over plus
/// a minute (the test VM is ~50x slower than bare metal; fio's start-up and
/// file layout come on top of the runtime).
pub fn fio_timeout(runtime_s: u64) -> Duration {
    Duration::from_secs(runtime_s.saturating_mul(2).saturating_add(60))
}

/// The JSON document in fio's stdout: from the first line that starts with
/// `{` (fio may print notes before it).
pub fn extract_json(stdout: &str) -> Option<&str> {
    if stdout.starts_with('{') {
        return Some(stdout);
    }
    stdout.find("\n{").map(|i| &stdout[i + 1..])
}

/// The numbers aio-bench takes from fio's JSON.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct FioReport {
    pub fio_version: String,
    pub error: i64,
    pub iops: f64,
    pub ios: u64,
    pub io_bytes: u64,
    pub runtime_ms: u64,
    pub lat_p50_us: Option<f64>,
    pub lat_p99_us: Option<f64>,
    /// "lat" (submission to completion) or "clat" (completion only)
    pub lat_source: Option<String>,
}

fn percentile_us(lat: &Value, key: &str) -> Option<f64> {
    lat.get("percentile")?
        .get(key)?
        .as_f64()
        .map(|ns| ns / 1000.0)
}

/// Parse fio's `--output-format=json` output for the one job's `rw`
/// direction.
pub fn parse_fio_json(text: &str, rw: Rw) -> Result<FioReport> {
    let json = extract_json(text).ok_or_else(|| anyhow!("no JSON object in fio's output"))?;
    let v: Value = serde_json::from_str(json).context("parsing fio's JSON output")?;
    let version = v
        .get("fio version")
        .and_then(Value::as_str)
        .unwrap_or("unknown")
        .to_string();
    let jobs = v
        .get("jobs")
        .and_then(Value::as_array)
        .ok_or_else(|| anyhow!("fio's JSON has no jobs"))?;
    let job = jobs
        .iter()
        .find(|j| j.get("jobname").and_then(Value::as_str) == Some(JOB_NAME))
        .ok_or_else(|| anyhow!("fio's JSON has no job named {JOB_NAME}"))?;
    let d = job
        .get(rw.json_key())
        .ok_or_else(|| anyhow!("fio's job has no {} section", rw.json_key()))?;
    let num = |k: &str| -> Result<&Value> {
        d.get(k)
            .ok_or_else(|| anyhow!("fio's {} section has no {k}", rw.json_key()))
    };
    let (mut p50, mut p99, mut source) = (None, None, None);
    for (src, key) in [("lat", "lat_ns"), ("clat", "clat_ns")] {
        if let Some(l) = d.get(key) {
            let (a, b) = (percentile_us(l, "50.000000"), percentile_us(l, "99.000000"));
            if a.is_some() || b.is_some() {
                (p50, p99, source) = (a, b, Some(src.to_string()));
                break;
            }
        }
    }
    Ok(FioReport {
        fio_version: version,
        error: job.get("error").and_then(Value::as_i64).unwrap_or(0),
        iops: num("iops")?.as_f64().unwrap_or(0.0),
        ios: num("total_ios")?.as_u64().unwrap_or(0),
        io_bytes: num("io_bytes")?.as_u64().unwrap_or(0),
        runtime_ms: num("runtime")?.as_u64().unwrap_or(0),
        lat_p50_us: p50,
        lat_p99_us: p99,
        lat_source: source,
    })
}

/// The counters aio-bench reads from `/proc/<pid>/task/<tid>/sched`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct SchedSample {
    pub nr_migrations: u64,
    pub nr_switches: u64,
    pub voluntary: u64,
    pub involuntary: u64,
    /// se.sum_exec_runtime, milliseconds
    pub exec_ms: f64,
}

/// Parse a `/proc/<pid>/sched` text; None if `se.nr_migrations` is missing.
pub fn parse_sched(text: &str) -> Option<SchedSample> {
    let mut s = SchedSample::default();
    let mut seen = false;
    for line in text.lines() {
        let Some((k, v)) = line.split_once(':') else {
            continue;
        };
        let (k, v) = (k.trim(), v.trim());
        match k {
            "se.nr_migrations" => {
                s.nr_migrations = v.parse().ok()?;
                seen = true;
            }
            "nr_switches" => s.nr_switches = v.parse().unwrap_or(0),
            "nr_voluntary_switches" => s.voluntary = v.parse().unwrap_or(0),
            "nr_involuntary_switches" => s.involuntary = v.parse().unwrap_or(0),
            "se.sum_exec_runtime" => s.exec_ms = v.parse().unwrap_or(0.0),
            _ => {}
        }
    }
    seen.then_some(s)
}

/// Per thread, the highest value seen of each counter.
#[derive(Clone, Debug, Default)]
pub struct ThreadTracker {
    threads: BTreeMap<u32, SchedSample>,
}

impl ThreadTracker {
    pub fn update(&mut self, tid: u32, s: SchedSample) {
        let m = self.threads.entry(tid).or_default();
        m.nr_migrations = m.nr_migrations.max(s.nr_migrations);
        m.nr_switches = m.nr_switches.max(s.nr_switches);
        m.voluntary = m.voluntary.max(s.voluntary);
        m.involuntary = m.involuntary.max(s.involuntary);
        m.exec_ms = m.exec_ms.max(s.exec_ms);
    }
    pub fn len(&self) -> usize {
        self.threads.len()
    }
    pub fn is_empty(&self) -> bool {
        self.threads.is_empty()
    }
    /// The job thread: not the main thread (`main_tid`), most CPU time
    /// (ties: most switches).
    pub fn submitter(&self, main_tid: u32) -> Option<(u32, SchedSample)> {
        self.threads
            .iter()
            .filter(|(&tid, _)| tid != main_tid)
            .max_by(|a, b| {
                a.1.exec_ms
                    .total_cmp(&b.1.exec_ms)
                    .then(a.1.nr_switches.cmp(&b.1.nr_switches))
            })
            .map(|(&t, &s)| (t, s))
    }
}

/// `count` per 1,000 I/Os.
pub fn per_kilo_io(count: u64, ios: u64) -> Option<f64> {
    (ios > 0).then(|| count as f64 * 1000.0 / ios as f64)
}

/// If `comm` is a kworker's name showing that it is running (`+`) or last
/// ran (`-`) the `dio/<dev>` workqueue, the kworker's own name
/// (`kworker/1:1`); rescuer threads (`kworker/R-dio/...`) are not counted.
pub fn dio_kworker<'a>(comm: &'a str, dev: &str) -> Option<&'a str> {
    let comm = comm.trim_end();
    if !comm.starts_with("kworker/") || comm.starts_with("kworker/R-") {
        return None;
    }
    let wq = format!("dio/{dev}");
    let base = comm.strip_suffix(wq.as_str())?;
    base.strip_suffix('+').or_else(|| base.strip_suffix('-'))
}

/// The last `n` lines of `s`.
pub fn tail_lines(s: &str, n: usize) -> String {
    let lines: Vec<&str> = s.lines().collect();
    lines[lines.len().saturating_sub(n)..].join("\n")
}

/// The size of the file fio writes: `requested` MiB if given (it must fit in
/// 95 % of `avail`), else `fraction` of `avail` capped at `cap`, in whole
/// MiB, at least 16 MiB.
pub fn file_size(requested_mb: Option<u64>, avail: u64, fraction: f64, cap: u64) -> Result<u64> {
    const MIB: u64 = 1 << 20;
    let size = match requested_mb {
        Some(mb) => {
            let b = mb.saturating_mul(MIB);
            if b as f64 > avail as f64 * 0.95 {
                bail!("--size-mb {mb} does not fit: {} MiB free", avail / MIB);
            }
            b
        }
        None => ((avail as f64 * fraction) as u64).min(cap) / MIB * MIB,
    };
    if size < 16 * MIB {
        bail!(
            "not enough free space for the file: {} MiB free, {} MiB wanted (at least 16)",
            avail / MIB,
            size / MIB
        );
    }
    Ok(size)
}

/// null_blk's completion timer with `irqmode=2`, nanoseconds (null_blk's
/// default, pinned here).
pub const NULL_BLK_COMPLETION_NSEC: u64 = 10_000;

/// The null_blk `irqmode` a target uses unless told otherwise: `fs` 2
/// (timer: the request completes in a timer interrupt on the submitting
/// CPU, after the submission returned), `raw` 0 (inside the submission).
pub fn default_irqmode(target: TargetKind) -> u8 {
    match target {
        TargetKind::Fs => 2,
        _ => 0,
    }
}

/// `modprobe null_blk` arguments.
pub fn null_blk_modprobe_args(gb: u64, memory_backed: bool, irqmode: u8) -> Vec<String> {
    let mut a: Vec<String> = vec![
        "null_blk".into(),
        "nr_devices=1".into(),
        "queue_mode=2".into(),
        format!("irqmode={irqmode}"),
    ];
    if irqmode == 2 {
        a.push(format!("completion_nsec={NULL_BLK_COMPLETION_NSEC}"));
    }
    a.extend([
        format!("memory_backed={}", u8::from(memory_backed)),
        "bs=4096".into(),
        format!("gb={gb}"),
        "no_sched=1".into(),
    ]);
    a
}

/// What aio-bench knows about `/dev/nullb0`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct NullBlkState {
    pub size_bytes: u64,
    pub memory_backed: bool,
    pub irqmode: String,
    pub completion_nsec: String,
    /// the active I/O scheduler
    pub scheduler: String,
    pub mounted_at: Option<String>,
    pub holders: Vec<String>,
    /// aio-bench loaded the module (and unloads it at the end)
    pub loaded_by_aio_bench: bool,
}

/// Why `/dev/nullb0` does not fit the target (empty: it fits).
pub fn null_blk_misfit(s: &NullBlkState, fs: bool, min_bytes: u64, irqmode: u8) -> Vec<String> {
    let mut why = Vec::new();
    if let Some(m) = &s.mounted_at {
        why.push(format!("it is mounted at {m}"));
    }
    if !s.holders.is_empty() {
        why.push(format!("it is held by {}", s.holders.join(", ")));
    }
    if s.irqmode != irqmode.to_string() {
        why.push(format!(
            "its irqmode is {} (aio-bench needs {irqmode} here)",
            s.irqmode
        ));
    }
    if s.scheduler != "none" {
        why.push(format!(
            "its I/O scheduler is {} (aio-bench needs none: echo none > /sys/block/{NULLB}/queue/scheduler)",
            s.scheduler
        ));
    }
    if fs && !s.memory_backed {
        why.push("it is not memory-backed (an ext4 file system needs memory_backed=1)".into());
    }
    if fs && s.size_bytes < min_bytes {
        why.push(format!(
            "it has {} MiB, --null-gb asks for {} MiB",
            s.size_bytes >> 20,
            min_bytes >> 20
        ));
    }
    why
}

/// The active scheduler in a `queue/scheduler` text (`[none] mq-deadline`).
pub fn active_scheduler(text: &str) -> String {
    let t = text.trim();
    match (t.find('['), t.find(']')) {
        (Some(a), Some(b)) if a < b => t[a + 1..b].to_string(),
        _ => t.to_string(),
    }
}

/// Where `dev` (`/dev/nullb0`) is mounted, from a `/proc/mounts` text.
pub fn mounted_at(mounts: &str, dev: &str) -> Option<String> {
    mounts.lines().find_map(|l| {
        let mut f = l.split_whitespace();
        (f.next() == Some(dev)).then(|| f.next().unwrap_or("?").to_string())
    })
}

// ---------------------------------------------------------------------------
// running it

/// aio-bench's knobs.
#[derive(Clone, Debug, PartialEq)]
pub struct AioConfig {
    pub target: TargetKind,
    /// `--file`: a directory (a fresh file is made in it) or a new path
    pub file: Option<PathBuf>,
    pub iodepth: u32,
    pub runtime_s: u64,
    pub size_mb: Option<u64>,
    pub null_gb: u64,
    /// null_blk's irqmode (None: [`default_irqmode`])
    pub null_irqmode: Option<u8>,
}

/// The run's configuration as reported.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct RunConfig {
    pub target: TargetKind,
    pub rw: Rw,
    pub iodepth: u32,
    /// the requested runtime (fio's cap)
    pub runtime_s: u64,
    /// the block device (`/dev/nullb0`) or, for `--file`, the device under
    /// the file system if it is a block device
    pub device: Option<String>,
    /// the file (or device) fio did I/O on
    pub file: String,
    pub size_bytes: Option<u64>,
    pub null_blk: Option<NullBlkState>,
}

/// aio-bench's result.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct AioResult {
    pub config: RunConfig,
    pub iops: f64,
    pub ios: u64,
    pub io_bytes: u64,
    /// fio's measured runtime of the job's I/O
    pub runtime_s: f64,
    /// the fs/file write reached the end of the file before --runtime
    pub stopped_at_end_of_file: bool,
    pub submitter_tid: u32,
    pub submitter_migrations: u64,
    pub migrations_per_kilo_io: f64,
    pub submitter_voluntary_switches: u64,
    pub submitter_involuntary_switches: u64,
    pub submitter_cpu_ms: f64,
    pub lat_p50_us: Option<f64>,
    pub lat_p99_us: Option<f64>,
    pub lat_source: Option<String>,
    /// kworkers seen running (`+`) or having last run (`-`) the
    /// `dio/<device>` workqueue during the run
    pub dio_kworkers: Vec<String>,
    /// fio threads seen, and how many times they were sampled
    pub fio_threads_seen: usize,
    pub samples: u64,
    pub fio_version: String,
    /// the fio command line, program name first
    pub fio_command: Vec<String>,
}

/// Cleanup steps run in reverse order when dropped (on success, error or
/// interruption).
type CleanupStep = Box<dyn FnOnce() -> Result<()>>;

#[derive(Default)]
struct Cleanup {
    steps: Vec<(String, CleanupStep)>,
}

impl Cleanup {
    fn push(&mut self, what: impl Into<String>, f: impl FnOnce() -> Result<()> + 'static) {
        self.steps.push((what.into(), Box::new(f)));
    }
}

impl Drop for Cleanup {
    fn drop(&mut self) {
        while let Some((what, f)) = self.steps.pop() {
            if let Err(e) = f() {
                eprintln!("aio-bench: cleanup: {what}: {e:#}");
            }
        }
    }
}

/// A child process with its stdout and stderr read by two threads.
struct Running {
    child: Child,
    out: JoinHandle<Vec<u8>>,
    err: JoinHandle<Vec<u8>>,
}

struct Captured {
    status: ExitStatus,
    stdout: String,
    stderr: String,
}

fn reader(mut r: impl Read + Send + 'static) -> JoinHandle<Vec<u8>> {
    thread::spawn(move || {
        let mut b = Vec::new();
        let _ = r.read_to_end(&mut b);
        b
    })
}

/// Spawn `prog args`; a missing program is "PROG not found: HINT".
fn spawn_captured(prog: &str, args: &[String], hint: &str) -> Result<Running> {
    let mut child = match Command::new(prog)
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
    {
        Ok(c) => c,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => bail!("{prog} not found: {hint}"),
        Err(e) => return Err(e).with_context(|| format!("starting {prog}")),
    };
    let out = reader(child.stdout.take().expect("stdout is piped"));
    let err = reader(child.stderr.take().expect("stderr is piped"));
    Ok(Running { child, out, err })
}

impl Running {
    fn pid(&self) -> u32 {
        self.child.id()
    }
    fn try_wait(&mut self) -> Result<Option<ExitStatus>> {
        self.child.try_wait().context("waiting for a child")
    }
    /// SIGTERM, then SIGKILL after 5 s.
    fn terminate(&mut self) -> Result<ExitStatus> {
        let pid = nix::unistd::Pid::from_raw(self.child.id() as i32);
        let _ = nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGTERM);
        let t0 = Instant::now();
        while t0.elapsed() < Duration::from_secs(5) {
            if let Some(st) = self.try_wait()? {
                return Ok(st);
            }
            thread::sleep(POLL_INTERVAL);
        }
        let _ = self.child.kill();
        self.child.wait().context("waiting for a killed child")
    }
    fn finish(self, status: ExitStatus) -> Captured {
        let text = |h: JoinHandle<Vec<u8>>| {
            String::from_utf8_lossy(&h.join().unwrap_or_default()).into_owned()
        };
        Captured {
            status,
            stdout: text(self.out),
            stderr: text(self.err),
        }
    }
}

fn check_stop(stop: &AtomicBool) -> Result<()> {
    if stop.load(Ordering::Acquire) {
        bail!("interrupted");
    }
    Ok(())
}

/// Run `prog args` to completion within `timeout`; fail on a non-zero exit
/// with the tail of its stderr.
fn run_bounded(
    prog: &str,
    args: &[String],
    hint: &str,
    timeout: Duration,
    stop: &AtomicBool,
) -> Result<Captured> {
    let mut r = spawn_captured(prog, args, hint)?;
    let t0 = Instant::now();
    loop {
        if let Some(st) = r.try_wait()? {
            let c = r.finish(st);
            if !c.status.success() {
                bail!(
                    "`{prog} {}` failed ({}): {}",
                    args.join(" "),
                    c.status,
                    tail_lines(&c.stderr, 10).trim()
                );
            }
            return Ok(c);
        }
        if stop.load(Ordering::Acquire) {
            r.terminate()?;
            bail!("interrupted");
        }
        if t0.elapsed() > timeout {
            r.terminate()?;
            bail!(
                "`{prog} {}` did not finish within {} s; killed",
                args.join(" "),
                timeout.as_secs()
            );
        }
        thread::sleep(POLL_INTERVAL);
    }
}

fn read_trim(p: impl AsRef<Path>) -> Result<String> {
    let p = p.as_ref();
    Ok(std::fs::read_to_string(p)
        .with_context(|| format!("reading {}", p.display()))?
        .trim()
        .to_string())
}

fn is_root() -> bool {
    // SAFETY: geteuid(2) has no preconditions and cannot fail
    unsafe { libc::geteuid() == 0 }
}

/// `/dev/nullb0`'s configuration: from its configfs directory if it was
/// made there, else from the module's parameters (the devices made at load
/// time use them).
fn null_blk_state(loaded_by_aio_bench: bool) -> Result<NullBlkState> {
    let sys = PathBuf::from(format!("/sys/block/{NULLB}"));
    let cfs = PathBuf::from(format!("/sys/kernel/config/nullb/{NULLB}"));
    let param = |name: &str| -> Result<String> {
        if cfs.is_dir() {
            read_trim(cfs.join(name))
        } else {
            read_trim(format!("/sys/module/null_blk/parameters/{name}"))
        }
    };
    let sectors: u64 = read_trim(sys.join("size"))?
        .parse()
        .context("parsing the device size")?;
    let mb = param("memory_backed")?;
    let holders = std::fs::read_dir(sys.join("holders"))
        .map(|d| {
            d.filter_map(|e| e.ok())
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .collect()
        })
        .unwrap_or_default();
    Ok(NullBlkState {
        size_bytes: sectors * 512,
        memory_backed: matches!(mb.as_str(), "Y" | "1"),
        irqmode: param("irqmode")?,
        completion_nsec: param("completion_nsec").unwrap_or_default(),
        scheduler: active_scheduler(&read_trim(sys.join("queue/scheduler")).unwrap_or_default()),
        mounted_at: mounted_at(
            &std::fs::read_to_string("/proc/self/mounts").unwrap_or_default(),
            &format!("/dev/{NULLB}"),
        ),
        holders,
        loaded_by_aio_bench,
    })
}

/// Load null_blk (or check the loaded one fits); returns `/dev/nullb0`'s
/// state. The module's unloading is pushed on `cleanup` if aio-bench loaded
/// it.
fn setup_null_blk(
    target: TargetKind,
    gb: u64,
    irqmode: u8,
    cleanup: &mut Cleanup,
    stop: &AtomicBool,
) -> Result<NullBlkState> {
    let fs = target == TargetKind::Fs;
    let min_bytes = gb << 30;
    let dev = format!("/dev/{NULLB}");
    let advice = "(`rmmod null_blk` and aio-bench loads it itself, or use --file DIR)";
    if Path::new("/sys/module/null_blk").exists() {
        if !Path::new(&format!("/sys/block/{NULLB}")).exists() {
            bail!("null_blk is already loaded but there is no {dev} {advice}");
        }
        let s = null_blk_state(false)?;
        let why = null_blk_misfit(&s, fs, min_bytes, irqmode);
        if !why.is_empty() {
            bail!(
                "null_blk is already loaded and {dev} does not fit --target {}: {} {advice}",
                target.name(),
                why.join("; ")
            );
        }
        return Ok(s);
    }
    let args = null_blk_modprobe_args(gb, fs, irqmode);
    run_bounded(
        "modprobe",
        &args,
        "apt-get install kmod",
        Duration::from_secs(60),
        stop,
    )
    .with_context(|| {
        let rel = std::fs::read_to_string("/proc/sys/kernel/osrelease").unwrap_or_default();
        format!(
            "loading null_blk (is the module installed for kernel {}? hosts without it can use --file DIR)",
            rel.trim()
        )
    })?;
    cleanup.push("unloading null_blk", || {
        let mut last = None;
        for _ in 0..25 {
            match Command::new("rmmod").arg("null_blk").output() {
                Ok(o) if o.status.success() => return Ok(()),
                Ok(o) => last = Some(String::from_utf8_lossy(&o.stderr).trim().to_string()),
                Err(e) => last = Some(e.to_string()),
            }
            thread::sleep(Duration::from_millis(200));
        }
        bail!("rmmod null_blk failed: {}", last.unwrap_or_default())
    });
    let t0 = Instant::now();
    while !(Path::new(&dev).exists() && Path::new(&format!("/sys/block/{NULLB}/size")).exists()) {
        check_stop(stop)?;
        if t0.elapsed() > Duration::from_secs(10) {
            bail!("null_blk loaded but {dev} did not appear within 10 s");
        }
        thread::sleep(POLL_INTERVAL);
    }
    let mut s = null_blk_state(true)?;
    if s.scheduler != "none" {
        let _ = std::fs::write(format!("/sys/block/{NULLB}/queue/scheduler"), "none");
        s = null_blk_state(true)?;
    }
    let why = null_blk_misfit(&s, fs, min_bytes, irqmode);
    if !why.is_empty() {
        bail!(
            "the null_blk device aio-bench loaded is not as asked: {}",
            why.join("; ")
        );
    }
    Ok(s)
}

fn cstr(p: &Path) -> Result<std::ffi::CString> {
    std::ffi::CString::new(p.as_os_str().as_encoded_bytes()).context("a path with a NUL byte")
}

fn mount_ext4(dev: &str, dir: &Path) -> Result<()> {
    let (src, tgt, fstype) = (cstr(Path::new(dev))?, cstr(dir)?, c"ext4");
    // SAFETY: NUL-terminated strings that outlive the call; no mount data
    let r = unsafe {
        libc::mount(
            src.as_ptr(),
            tgt.as_ptr(),
            fstype.as_ptr(),
            libc::MS_NOATIME,
            std::ptr::null(),
        )
    };
    if r != 0 {
        return Err(std::io::Error::last_os_error())
            .with_context(|| format!("mounting {dev} (ext4) on {}", dir.display()));
    }
    Ok(())
}

fn umount(dir: &Path) -> Result<()> {
    let tgt = cstr(dir)?;
    for _ in 0..25 {
        // SAFETY: a NUL-terminated path that outlives the call
        if unsafe { libc::umount2(tgt.as_ptr(), 0) } == 0 {
            return Ok(());
        }
        let e = std::io::Error::last_os_error();
        if e.raw_os_error() != Some(libc::EBUSY) {
            return Err(e).with_context(|| format!("unmounting {}", dir.display()));
        }
        thread::sleep(Duration::from_millis(200));
    }
    // SAFETY: as above
    if unsafe { libc::umount2(tgt.as_ptr(), libc::MNT_DETACH) } == 0 {
        bail!(
            "{} stayed busy for 5 s; detached it (lazy unmount)",
            dir.display()
        );
    }
    Err(std::io::Error::last_os_error()).with_context(|| format!("unmounting {}", dir.display()))
}

fn avail_bytes(dir: &Path) -> Result<u64> {
    let st =
        nix::sys::statvfs::statvfs(dir).with_context(|| format!("statvfs {}", dir.display()))?;
    Ok(st.blocks_available() as u64 * st.fragment_size() as u64)
}

/// The block device under `path`'s file system (`vda`, `nvme0n1p2`), if it
/// is one.
fn block_device_of(path: &Path) -> Option<String> {
    let dev = std::fs::metadata(path).ok()?.dev();
    let link = std::fs::read_link(format!(
        "/sys/dev/block/{}:{}",
        libc::major(dev),
        libc::minor(dev)
    ))
    .ok()?;
    Some(link.file_name()?.to_string_lossy().into_owned())
}

/// A fresh temporary directory (mount point).
fn make_temp_dir() -> Result<PathBuf> {
    let base = std::env::temp_dir();
    for i in 0..100 {
        let d = base.join(format!("aio-bench.{}.{i}", std::process::id()));
        match std::fs::create_dir(&d) {
            Ok(()) => return Ok(d),
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => continue,
            Err(e) => return Err(e).with_context(|| format!("creating {}", d.display())),
        }
    }
    bail!(
        "could not create a temporary directory in {}",
        base.display()
    )
}

/// The file `--file PATH` designates: PATH/aio-bench.<pid>.dat for a
/// directory, PATH itself if it does not exist yet; an existing file is
/// refused (aio-bench would destroy it, and needs a fresh one).
pub fn resolve_file(path: &Path) -> Result<PathBuf> {
    if path.is_dir() {
        let f = path.join(format!("aio-bench.{}.dat", std::process::id()));
        if f.exists() {
            bail!("{} exists already", f.display());
        }
        return Ok(f);
    }
    if path.exists() {
        bail!(
            "--file {} exists and is not a directory: aio-bench writes a fresh file and would destroy it; give a directory or a new path",
            path.display()
        );
    }
    let parent = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    };
    if !parent.is_dir() {
        bail!(
            "--file {}: {} is not a directory",
            path.display(),
            parent.display()
        );
    }
    Ok(path.to_path_buf())
}

/// `fio --version`, or "fio not found: apt-get install fio".
pub fn fio_version(stop: &AtomicBool) -> Result<String> {
    let c = run_bounded(
        "fio",
        &["--version".to_string()],
        "apt-get install fio",
        Duration::from_secs(30),
        stop,
    )?;
    Ok(c.stdout.trim().to_string())
}

/// What the fio run observed.
struct FioRun {
    captured: Captured,
    pid: u32,
    tracker: ThreadTracker,
    kworkers: Vec<String>,
    samples: u64,
}

fn sample_threads(pid: u32, tracker: &mut ThreadTracker) -> u64 {
    let Ok(dir) = std::fs::read_dir(format!("/proc/{pid}/task")) else {
        return 0;
    };
    let mut n = 0;
    for e in dir.flatten() {
        let Some(tid) = e.file_name().to_str().and_then(|s| s.parse::<u32>().ok()) else {
            continue;
        };
        if let Some(s) = std::fs::read_to_string(e.path().join("sched"))
            .ok()
            .as_deref()
            .and_then(parse_sched)
        {
            tracker.update(tid, s);
            n += 1;
        }
    }
    n
}

fn scan_kworkers(dev: &str, seen: &mut Vec<String>) {
    let Ok(dir) = std::fs::read_dir("/proc") else {
        return;
    };
    for e in dir.flatten() {
        if !e
            .file_name()
            .to_str()
            .is_some_and(|s| s.bytes().all(|b| b.is_ascii_digit()))
        {
            continue;
        }
        if let Ok(comm) = std::fs::read_to_string(e.path().join("comm")) {
            if let Some(k) = dio_kworker(&comm, dev) {
                if !seen.iter().any(|s| s == k) {
                    seen.push(k.to_string());
                }
            }
        }
    }
}

fn run_fio(
    args: &[String],
    runtime_s: u64,
    dio_dev: Option<&str>,
    stop: &AtomicBool,
) -> Result<FioRun> {
    let mut r = spawn_captured("fio", args, "apt-get install fio")?;
    let pid = r.pid();
    let timeout = fio_timeout(runtime_s);
    let t0 = Instant::now();
    let mut tracker = ThreadTracker::default();
    let mut kworkers = Vec::new();
    let mut samples = 0;
    let mut polls = 0u64;
    let status = loop {
        samples += sample_threads(pid, &mut tracker);
        if let Some(dev) = dio_dev {
            if polls.is_multiple_of(KWORKER_SCAN_EVERY) {
                scan_kworkers(dev, &mut kworkers);
            }
        }
        polls += 1;
        if let Some(st) = r.try_wait()? {
            break st;
        }
        if stop.load(Ordering::Acquire) {
            r.terminate()?;
            bail!("interrupted; fio stopped");
        }
        if t0.elapsed() > timeout {
            let st = r.terminate()?;
            let c = r.finish(st);
            bail!(
                "fio did not finish within {} s; killed. Its stderr ends:\n{}",
                timeout.as_secs(),
                tail_lines(&c.stderr, 20)
            );
        }
        thread::sleep(POLL_INTERVAL);
    };
    if let Some(dev) = dio_dev {
        scan_kworkers(dev, &mut kworkers);
    }
    Ok(FioRun {
        captured: r.finish(status),
        pid,
        tracker,
        kworkers,
        samples,
    })
}

/// Set up the target, run fio once while sampling its threads, clean up.
/// `stop` (set by a signal handler) interrupts it; cleanup still runs.
pub fn run(cfg: &AioConfig, stop: &AtomicBool) -> Result<AioResult> {
    if !(1..=4096).contains(&cfg.iodepth) || cfg.runtime_s == 0 || cfg.null_gb == 0 {
        bail!("iodepth must be in 1..=4096 and runtime and null-gb at least 1");
    }
    let irqmode = cfg.null_irqmode.unwrap_or(default_irqmode(cfg.target));
    if irqmode > 2 {
        bail!("null_blk's irqmode is 0, 1 or 2");
    }
    let version = fio_version(stop)?;
    let mut cleanup = Cleanup::default();
    let (spec, device, dio_dev, null_blk) = match (cfg.target, &cfg.file) {
        (TargetKind::File, Some(p)) => {
            let file = resolve_file(p)?;
            let dir = file.parent().unwrap_or(Path::new(".")).to_path_buf();
            let size = file_size(cfg.size_mb, avail_bytes(&dir)?, 0.5, 1 << 30)?;
            let f = file.clone();
            cleanup.push(
                format!("removing {}", file.display()),
                move || match std::fs::remove_file(&f) {
                    Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
                        Err(e).with_context(|| format!("removing {}", f.display()))
                    }
                    _ => Ok(()),
                },
            );
            let dev = block_device_of(&dir);
            let spec = FioSpec {
                filename: file.to_string_lossy().into_owned(),
                rw: Rw::Write,
                iodepth: cfg.iodepth,
                runtime_s: cfg.runtime_s,
                size_bytes: Some(size),
                time_based: false,
            };
            (spec, dev.as_ref().map(|d| format!("/dev/{d}")), dev, None)
        }
        (TargetKind::File, None) => bail!("--target file needs --file PATH"),
        (_, Some(_)) => bail!("--file goes without --target"),
        (TargetKind::Fs, None) => {
            if !is_root() {
                bail!("--target fs loads null_blk, formats and mounts it: run as root (or use --file DIR)");
            }
            let nb = setup_null_blk(TargetKind::Fs, cfg.null_gb, irqmode, &mut cleanup, stop)?;
            check_stop(stop)?;
            let dev = format!("/dev/{NULLB}");
            run_bounded(
                "mkfs.ext4",
                &[
                    "-q".into(),
                    "-F".into(),
                    "-E".into(),
                    "lazy_itable_init=0,lazy_journal_init=0".into(),
                    dev.clone(),
                ],
                "apt-get install e2fsprogs",
                Duration::from_secs(300),
                stop,
            )?;
            check_stop(stop)?;
            let fs_known = std::fs::read_to_string("/proc/filesystems")
                .unwrap_or_default()
                .lines()
                .any(|l| l.split_whitespace().last() == Some("ext4"));
            if !fs_known {
                // best effort: mount(2) says what is wrong if this fails
                let _ = Command::new("modprobe").arg("ext4").output();
            }
            let mnt = make_temp_dir()?;
            let m = mnt.clone();
            cleanup.push(format!("removing {}", mnt.display()), move || {
                std::fs::remove_dir(&m).with_context(|| format!("removing {}", m.display()))
            });
            mount_ext4(&dev, &mnt)?;
            let m = mnt.clone();
            cleanup.push(format!("unmounting {}", mnt.display()), move || umount(&m));
            let size = file_size(cfg.size_mb, avail_bytes(&mnt)?, 0.75, u64::MAX)?;
            let spec = FioSpec {
                filename: mnt.join("aio-bench.dat").to_string_lossy().into_owned(),
                rw: Rw::Write,
                iodepth: cfg.iodepth,
                runtime_s: cfg.runtime_s,
                size_bytes: Some(size),
                time_based: false,
            };
            (spec, Some(dev), Some(NULLB.to_string()), Some(nb))
        }
        (TargetKind::Raw, None) => {
            if cfg.size_mb.is_some() {
                bail!("--size-mb does not apply to --target raw (fio reads the whole device)");
            }
            if !is_root() {
                bail!("--target raw loads null_blk: run as root (or use --file DIR)");
            }
            let nb = setup_null_blk(TargetKind::Raw, cfg.null_gb, irqmode, &mut cleanup, stop)?;
            let dev = format!("/dev/{NULLB}");
            let spec = FioSpec {
                filename: dev.clone(),
                rw: Rw::RandRead,
                iodepth: cfg.iodepth,
                runtime_s: cfg.runtime_s,
                size_bytes: None,
                time_based: true,
            };
            (spec, Some(dev), None, Some(nb))
        }
    };
    check_stop(stop)?;
    let args = fio_args(&spec);
    let run = run_fio(&args, cfg.runtime_s, dio_dev.as_deref(), stop)?;
    let c = &run.captured;
    if !c.status.success() {
        bail!(
            "fio failed ({}); its stderr ends:\n{}",
            c.status,
            tail_lines(&c.stderr, 20)
        );
    }
    let rep = parse_fio_json(&c.stdout, spec.rw).with_context(|| {
        format!(
            "fio's output; its stderr ends:\n{}",
            tail_lines(&c.stderr, 20)
        )
    })?;
    if rep.error != 0 {
        bail!(
            "fio's job failed (error {}); its stderr ends:\n{}",
            rep.error,
            tail_lines(&c.stderr, 20)
        );
    }
    if rep.ios == 0 {
        bail!(
            "fio completed no I/O; its stderr ends:\n{}",
            tail_lines(&c.stderr, 20)
        );
    }
    let (tid, sub) = run.tracker.submitter(run.pid).ok_or_else(|| {
        anyhow!(
            "fio's job thread was never sampled ({} threads seen in {} samples)",
            run.tracker.len(),
            run.samples
        )
    })?;
    let mut command = vec!["fio".to_string()];
    command.extend(args);
    Ok(AioResult {
        config: RunConfig {
            target: cfg.target,
            rw: spec.rw,
            iodepth: cfg.iodepth,
            runtime_s: cfg.runtime_s,
            device,
            file: spec.filename.clone(),
            size_bytes: spec.size_bytes,
            null_blk,
        },
        iops: rep.iops,
        ios: rep.ios,
        io_bytes: rep.io_bytes,
        runtime_s: rep.runtime_ms as f64 / 1000.0,
        stopped_at_end_of_file: !spec.time_based
            && spec.size_bytes.is_some_and(|s| rep.io_bytes >= s),
        submitter_tid: tid,
        submitter_migrations: sub.nr_migrations,
        migrations_per_kilo_io: per_kilo_io(sub.nr_migrations, rep.ios).unwrap_or(0.0),
        submitter_voluntary_switches: sub.voluntary,
        submitter_involuntary_switches: sub.involuntary,
        submitter_cpu_ms: sub.exec_ms,
        lat_p50_us: rep.lat_p50_us,
        lat_p99_us: rep.lat_p99_us,
        lat_source: rep.lat_source,
        dio_kworkers: run.kworkers,
        fio_threads_seen: run.tracker.len(),
        samples: run.samples,
        fio_version: if rep.fio_version == "unknown" {
            version
        } else {
            rep.fio_version
        },
        fio_command: command,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// fio 3.33's output for aio-bench's write job (`--file` on ext4 on
    /// virtio-blk, a 64 MiB file, `--runtime=1s`), captured on the host.
    const FIO_WRITE: &str = include_str!("../tests/fixtures/fio-write.json");

    /// fio 3.33's output for the `raw` job's options on a loop device.
    const FIO_RANDREAD: &str = include_str!("../tests/fixtures/fio-randread.json");

    /// `/proc/<fio>/task/<job thread>/sched` during a run (kernel 6.18).
    const SCHED: &str = r#"fio (23541, #threads: 3)
-------------------------------------------------------------------
se.exec_start                                :      48945452.571491
se.vruntime                                  :         72751.680659
se.sum_exec_runtime                          :            51.756792
se.nr_migrations                             :                    0
nr_switches                                  :                 1251
nr_voluntary_switches                        :                 1250
nr_involuntary_switches                      :                    1
se.load.weight                               :              1048576
se.avg.load_sum                              :                28966
se.avg.runnable_sum                          :             29273730
se.avg.util_sum                              :             12984071
se.avg.load_avg                              :                  634
se.avg.runnable_avg                          :                  626
se.avg.util_avg                              :                  277
se.avg.last_update_time                      :       48945452570624
se.avg.util_est                              :                  348
policy                                       :                    0
prio                                         :                  120
se.slice                                     :              1400000
clock-delta                                  :                   25
mm->numa_scan_seq                            :                    0
numa_pages_migrated                          :                    0
numa_preferred_nid                           :                   -1
total_numa_faults                            :                    0
current_node=0, numa_group_id=0
numa_faults node=0 task_private=0 task_shared=0 group_private=0 group_shared=0
"#;

    fn spec(rw: Rw) -> FioSpec {
        FioSpec {
            filename: "/mnt/aio-bench.dat".into(),
            rw,
            iodepth: 1,
            runtime_s: 3,
            size_bytes: Some(64 << 20),
            time_based: false,
        }
    }

    #[test]
    fn fio_args_make_one_single_thread_libaio_job() {
        let a = fio_args(&spec(Rw::Write));
        let want = "--output-format=json --name=aio --filename=/mnt/aio-bench.dat \
            --ioengine=libaio --direct=1 --bs=4k --iodepth=1 --rw=write \
            --size=67108864 --fallocate=native --runtime=3s --thread --numjobs=1 \
            --lat_percentiles=1 --percentile_list=50:99";
        assert_eq!(
            a.join(" "),
            want.split_whitespace().collect::<Vec<_>>().join(" ")
        );
        assert!(!a.iter().any(|x| x == "--time_based"));

        let mut r = spec(Rw::RandRead);
        r.filename = "/dev/nullb0".into();
        r.size_bytes = None;
        r.time_based = true;
        r.iodepth = 8;
        let a = fio_args(&r);
        for want in [
            "--rw=randread",
            "--time_based",
            "--norandommap",
            "--randrepeat=0",
            "--iodepth=8",
            "--filename=/dev/nullb0",
        ] {
            assert!(a.iter().any(|x| x == want), "{want} missing from {a:?}");
        }
        assert!(!a
            .iter()
            .any(|x| x.starts_with("--size") || x.starts_with("--fallocate")));
        assert_eq!(a.iter().filter(|x| x.starts_with("--name=")).count(), 1);
    }

    #[test]
    fn fio_filename_colons_are_escaped() {
        let mut s = spec(Rw::Write);
        s.filename = "/tmp/a:b/f".into();
        assert!(fio_args(&s).contains(&"--filename=/tmp/a\\:b/f".to_string()));
    }

    #[test]
    fn fio_timeout_leaves_room() {
        assert_eq!(fio_timeout(3), Duration::from_secs(66));
        assert!(fio_timeout(u64::MAX) >= Duration::from_secs(60));
    }

    #[test]
    fn parses_fio_write_json() {
        let r = parse_fio_json(FIO_WRITE, Rw::Write).unwrap();
        assert_eq!(r.fio_version, "fio-3.33");
        assert_eq!(r.error, 0);
        assert_eq!(r.ios, 8730);
        assert_eq!(r.runtime_ms, 1003);
        assert!((r.iops - 8703.888335).abs() < 1e-6);
        assert_eq!(r.io_bytes, 8730 * 4096);
        assert_eq!(r.lat_source.as_deref(), Some("lat"));
        let (p50, p99) = (r.lat_p50_us.unwrap(), r.lat_p99_us.unwrap());
        assert!(p50 > 0.0 && p99 >= p50, "{p50} {p99}");
        // the wrong direction is all zeros
        let r = parse_fio_json(FIO_WRITE, Rw::RandRead).unwrap();
        assert_eq!((r.ios, r.lat_source), (0, None));
    }

    #[test]
    fn parses_fio_randread_json_after_notes() {
        let text = format!("fio: a note printed before the JSON\n{FIO_RANDREAD}");
        let r = parse_fio_json(&text, Rw::RandRead).unwrap();
        assert_eq!(r.ios, 143817);
        assert_eq!(r.runtime_ms, 1001);
        assert!((r.iops - 143673.326673).abs() < 1e-6);
        assert!(r.lat_p50_us.unwrap() > 0.0);
    }

    #[test]
    fn falls_back_to_clat_percentiles() {
        let mut v: Value = serde_json::from_str(FIO_WRITE).unwrap();
        let w = &mut v["jobs"][0]["write"];
        let clat50 = w["clat_ns"]["percentile"]["50.000000"].as_f64().unwrap();
        w["lat_ns"].as_object_mut().unwrap().remove("percentile");
        let r = parse_fio_json(&v.to_string(), Rw::Write).unwrap();
        assert_eq!(r.lat_source.as_deref(), Some("clat"));
        assert_eq!(r.lat_p50_us, Some(clat50 / 1000.0));
    }

    #[test]
    fn rejects_output_without_the_job() {
        assert!(parse_fio_json("fio: no JSON here", Rw::Write).is_err());
        assert!(parse_fio_json(r#"{"fio version": "x", "jobs": []}"#, Rw::Write).is_err());
        let other = FIO_WRITE.replacen(r#""jobname" : "aio""#, r#""jobname" : "other""#, 1);
        assert!(parse_fio_json(&other, Rw::Write).is_err());
    }

    #[test]
    fn parses_proc_sched() {
        let s = parse_sched(SCHED).unwrap();
        assert_eq!(s.nr_migrations, 0);
        assert_eq!(s.nr_switches, 1251);
        assert_eq!(s.voluntary, 1250);
        assert_eq!(s.involuntary, 1);
        assert!((s.exec_ms - 51.756792).abs() < 1e-9);
        assert_eq!(parse_sched("nr_switches : 3\n"), None);
        let m = SCHED.replace(
            "se.nr_migrations                             :                    0",
            "se.nr_migrations                             :                  417",
        );
        assert_eq!(parse_sched(&m).unwrap().nr_migrations, 417);
    }

    fn sample(mig: u64, sw: u64, ms: f64) -> SchedSample {
        SchedSample {
            nr_migrations: mig,
            nr_switches: sw,
            voluntary: sw,
            involuntary: 0,
            exec_ms: ms,
        }
    }

    #[test]
    fn tracker_keeps_maxima_and_picks_the_busiest_non_main_thread() {
        let mut t = ThreadTracker::default();
        // main thread 100: many switches; helper 101; job 102
        t.update(100, sample(4, 98, 900.0));
        t.update(101, sample(0, 5, 0.3));
        t.update(102, sample(10, 4000, 50.0));
        t.update(102, sample(12, 5440, 80.0));
        // an older sample can't lower a counter
        t.update(102, sample(11, 5000, 70.0));
        assert_eq!(t.len(), 3);
        let (tid, s) = t.submitter(100).unwrap();
        assert_eq!(tid, 102);
        assert_eq!((s.nr_migrations, s.nr_switches), (12, 5440));
        // a submitter that never sleeps (raw): still the most CPU time
        let mut t = ThreadTracker::default();
        t.update(100, sample(1, 98, 2.0));
        t.update(101, sample(0, 5, 0.3));
        t.update(102, sample(3, 2, 990.0));
        assert_eq!(t.submitter(100).unwrap().0, 102);
        let mut t = ThreadTracker::default();
        t.update(100, sample(1, 98, 2.0));
        assert_eq!(t.submitter(100), None);
    }

    #[test]
    fn rates_per_kilo_io() {
        assert_eq!(per_kilo_io(12, 8730), Some(12.0 * 1000.0 / 8730.0));
        assert_eq!(per_kilo_io(0, 5), Some(0.0));
        assert_eq!(per_kilo_io(2000, 1000), Some(2000.0));
        assert_eq!(per_kilo_io(3, 0), None);
    }

    #[test]
    fn recognises_dio_kworkers() {
        assert_eq!(
            dio_kworker("kworker/1:1+dio/vda\n", "vda"),
            Some("kworker/1:1")
        );
        assert_eq!(
            dio_kworker("kworker/0:2-dio/nullb0", "nullb0"),
            Some("kworker/0:2")
        );
        assert_eq!(
            dio_kworker("kworker/u8:3+dio/nullb0", "nullb0"),
            Some("kworker/u8:3")
        );
        assert_eq!(dio_kworker("kworker/R-dio/vda", "vda"), None);
        assert_eq!(dio_kworker("kworker/1:1+dio/vdb", "vda"), None);
        assert_eq!(dio_kworker("kworker/1:1-events", "vda"), None);
        assert_eq!(dio_kworker("fio", "vda"), None);
    }

    #[test]
    fn sizes_the_file() {
        const M: u64 = 1 << 20;
        // fs: 3/4 of the free space, whole MiB
        assert_eq!(
            file_size(None, 1000 * M + 5, 0.75, u64::MAX).unwrap(),
            750 * M
        );
        // --file: half, capped at 1 GiB
        assert_eq!(file_size(None, 100 << 30, 0.5, 1 << 30).unwrap(), 1 << 30);
        assert_eq!(file_size(Some(64), 1 << 30, 0.5, 1 << 30).unwrap(), 64 * M);
        assert!(file_size(Some(1000), 1000 * M, 0.5, 1 << 30).is_err());
        assert!(file_size(None, 20 * M, 0.5, 1 << 30).is_err());
    }

    #[test]
    fn null_blk_modprobe_line() {
        assert_eq!(
            null_blk_modprobe_args(1, true, 2).join(" "),
            "null_blk nr_devices=1 queue_mode=2 irqmode=2 completion_nsec=10000 \
             memory_backed=1 bs=4096 gb=1 no_sched=1"
        );
        let raw = null_blk_modprobe_args(4, false, 0);
        assert_eq!(
            raw.join(" "),
            "null_blk nr_devices=1 queue_mode=2 irqmode=0 memory_backed=0 bs=4096 gb=4 no_sched=1"
        );
        assert_eq!(default_irqmode(TargetKind::Fs), 2);
        assert_eq!(default_irqmode(TargetKind::Raw), 0);
    }

    #[test]
    fn judges_an_existing_null_blk() {
        let ok = NullBlkState {
            size_bytes: 1 << 30,
            memory_backed: true,
            irqmode: "2".into(),
            completion_nsec: "10000".into(),
            scheduler: "none".into(),
            mounted_at: None,
            holders: vec![],
            loaded_by_aio_bench: false,
        };
        assert!(null_blk_misfit(&ok, true, 1 << 30, 2).is_empty());
        assert!(null_blk_misfit(&ok, true, 1 << 30, 0)[0].contains("irqmode is 2"));
        let bad = NullBlkState {
            size_bytes: 250 << 30,
            memory_backed: false,
            irqmode: "1".into(),
            scheduler: "mq-deadline".into(),
            mounted_at: Some("/mnt".into()),
            ..ok.clone()
        };
        let why = null_blk_misfit(&bad, true, 1 << 30, 2).join("; ");
        for w in [
            "mounted at /mnt",
            "irqmode is 1",
            "mq-deadline",
            "not memory-backed",
        ] {
            assert!(why.contains(w), "{w}: {why}");
        }
        // raw: memory backing and size do not matter
        let raw = NullBlkState {
            memory_backed: false,
            size_bytes: 1 << 20,
            irqmode: "0".into(),
            ..ok.clone()
        };
        assert!(null_blk_misfit(&raw, false, 1 << 30, 0).is_empty());
        assert!(!null_blk_misfit(&raw, true, 1 << 30, 0).is_empty());
    }

    #[test]
    fn reads_scheduler_and_mounts() {
        assert_eq!(active_scheduler("[none] mq-deadline kyber\n"), "none");
        assert_eq!(active_scheduler("none [mq-deadline]"), "mq-deadline");
        assert_eq!(active_scheduler("none"), "none");
        let mounts =
            "/dev/vda / ext4 rw,relatime 0 0\n/dev/nullb0 /tmp/aio-bench.1.0 ext4 rw 0 0\n";
        assert_eq!(
            mounted_at(mounts, "/dev/nullb0").as_deref(),
            Some("/tmp/aio-bench.1.0")
        );
        assert_eq!(mounted_at(mounts, "/dev/nullb1"), None);
    }

    #[test]
    fn tails_lines() {
        assert_eq!(tail_lines("a\nb\nc\n", 2), "b\nc");
        assert_eq!(tail_lines("a", 5), "a");
    }
}
