//! The side-effecting part of sched-harness: resolving binaries, starting and
//! stopping schedulers, running the workloads and collecting samples.

use super::cli::Args;
use super::workload::{self, MetricInfo, Workload};
use super::{
    add_round_ratios, check_threshold, check_threshold_with, cross_check, proxy_counts,
    summarize_with, Cell, Report, Sample, SchedulerInfo, Tool, DEFAULT, PEERS, REPORT_FORMAT,
    SCX_PROXY, SCX_PROXY_BASE, SCX_PROXY_NOPROXY,
};
use crate::hackbench::HackResult;
use crate::sched::{self, SchedCmd, SysfsPaths};
use anyhow::{anyhow, bail, Context, Result};
use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

/// Where scx_proxy's own build puts its binary.
pub const SCX_PROXY_BUILD_PATH: &str = "/var/cache/scx_proxy/target/release/scx_proxy";

pub const COUNTERS_DOC: &str = "migrations, worker_ctx_switches: sums over hackbench's workers of \
se.nr_migrations and nr_voluntary_switches+nr_involuntary_switches read by each worker from \
/proc/thread-self/sched after its last message; rusage_ctx_switches: ru_nvcsw+ru_nivcsw of the \
benchmark's whole process tree from wait4()";

/// First existing file named `name` in $PATH.
pub fn which(name: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|d| d.join(name))
        .find(|p| p.is_file())
}

fn exe_dir() -> Option<PathBuf> {
    std::env::current_exe()
        .ok()
        .and_then(|p| p.parent().map(Path::to_path_buf))
}

/// scx_proxy binary: --scx-proxy, $SCX_PROXY, next to this binary, the
/// project's build path, $PATH.
pub fn resolve_scx_proxy(explicit: Option<&Path>) -> Option<PathBuf> {
    if let Some(p) = explicit {
        return Some(p.to_path_buf());
    }
    if let Some(p) = std::env::var_os("SCX_PROXY").filter(|p| !p.is_empty()) {
        return Some(PathBuf::from(p));
    }
    let candidates = [
        exe_dir().map(|d| d.join("scx_proxy")),
        Some(PathBuf::from(SCX_PROXY_BUILD_PATH)),
    ];
    candidates
        .into_iter()
        .flatten()
        .find(|p| p.is_file())
        .or_else(|| which("scx_proxy"))
}

/// hackbench binary: --hackbench, next to this binary, $PATH.
pub fn resolve_hackbench(explicit: Option<&Path>) -> Result<PathBuf> {
    if let Some(p) = explicit {
        return Ok(p.to_path_buf());
    }
    exe_dir()
        .map(|d| d.join("hackbench"))
        .filter(|p| p.is_file())
        .or_else(|| which("hackbench"))
        .ok_or_else(|| {
            anyhow!("hackbench not found next to sched-harness nor in $PATH: use --hackbench")
        })
}

/// A workload's binary: next to this binary, else $PATH.
pub fn resolve_tool(name: &str) -> Result<PathBuf> {
    exe_dir()
        .map(|d| d.join(name))
        .filter(|p| p.is_file())
        .or_else(|| which(name))
        .ok_or_else(|| anyhow!("{name} not found next to sched-harness nor in $PATH"))
}

/// A scheduler as planned: what to run, or why it can't.
#[derive(Debug, Clone)]
pub struct Planned {
    pub info: SchedulerInfo,
    /// `None` for the kernel default.
    pub cmd: Option<SchedCmd>,
}

/// Resolves the selected schedulers' binaries.
pub fn plan_schedulers(args: &Args) -> Vec<Planned> {
    let scx = resolve_scx_proxy(args.scx_proxy.as_deref());
    args.schedulers
        .iter()
        .map(|name| {
            let (binary, sched_args, ops): (Option<PathBuf>, Vec<String>, Option<&str>) = match name
                .as_str()
            {
                DEFAULT => (None, vec![], None),
                SCX_PROXY => (scx.clone(), vec![], Some("scx_proxy")),
                SCX_PROXY_NOPROXY => (scx.clone(), vec!["--no-proxy".into()], Some("scx_proxy")),
                SCX_PROXY_BASE => (args.scx_proxy_base.clone(), vec![], Some("scx_proxy")),
                peer => {
                    let (_, bin, ops) = PEERS
                        .iter()
                        .find(|p| p.0 == peer)
                        .expect("validated scheduler name");
                    (Some(args.peers_dir.join(bin)), vec![], Some(*ops))
                }
            };
            let mut info = SchedulerInfo {
                name: name.clone(),
                binary: binary.as_ref().map(|b| b.display().to_string()),
                args: sched_args.clone(),
                ops_name: ops.map(str::to_string),
                present: true,
                missing_reason: None,
                load_times_s: vec![],
                errors: vec![],
                proxy_counts: vec![],
            };
            if name != DEFAULT {
                match &binary {
                    None => {
                        info.present = false;
                        info.missing_reason = Some(
                            "scx_proxy binary not found (--scx-proxy, $SCX_PROXY, next to \
                             sched-harness, the build path, $PATH)"
                                .into(),
                        );
                    }
                    Some(b) if !b.is_file() => {
                        info.present = false;
                        info.missing_reason = Some(format!("{} does not exist", b.display()));
                    }
                    _ => {}
                }
            }
            let cmd = match (&binary, ops) {
                (Some(b), Some(o)) if info.present => Some(SchedCmd {
                    name: name.clone(),
                    binary: b.clone(),
                    args: sched_args,
                    ops_name: o.to_string(),
                }),
                _ => None,
            };
            Planned { info, cmd }
        })
        .collect()
}

/// Output of one measured child process.
pub struct Measured {
    pub stdout: String,
    pub stderr: String,
    pub status: i32,
    /// ru_nvcsw + ru_nivcsw of the child and its reaped descendants.
    pub ctx_switches: u64,
}

/// Runs `cmd` to completion, collecting stdout/stderr and wait4()'s rusage;
/// kills it after `timeout`.
pub fn run_measured(cmd: &mut Command, timeout: Duration) -> Result<Measured> {
    let mut child = cmd
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .with_context(|| format!("spawning {:?}", cmd))?;
    let pid = child.id() as libc::pid_t;
    let mut so = child.stdout.take().expect("piped");
    let mut se = child.stderr.take().expect("piped");
    let t_out = std::thread::spawn(move || {
        let mut s = String::new();
        let _ = so.read_to_string(&mut s);
        s
    });
    let t_err = std::thread::spawn(move || {
        let mut s = String::new();
        let _ = se.read_to_string(&mut s);
        s
    });
    let (cancel_tx, cancel_rx) = mpsc::channel::<()>();
    let watchdog = std::thread::spawn(move || {
        if let Err(mpsc::RecvTimeoutError::Timeout) = cancel_rx.recv_timeout(timeout) {
            // SAFETY: plain kill(2) of our own, not yet reaped, child.
            unsafe { libc::kill(pid, libc::SIGKILL) };
            true
        } else {
            false
        }
    });
    let mut status = 0;
    // SAFETY: rusage is plain data, filled by the kernel.
    let mut ru: libc::rusage = unsafe { std::mem::zeroed() };
    loop {
        // SAFETY: waiting for our own child with valid out-pointers.
        let r = unsafe { libc::wait4(pid, &mut status, 0, &mut ru) };
        if r == pid {
            break;
        }
        let e = std::io::Error::last_os_error();
        if e.kind() != std::io::ErrorKind::Interrupted {
            return Err(anyhow!(e).context("wait4"));
        }
    }
    let _ = cancel_tx.send(());
    let killed = watchdog.join().unwrap_or(false);
    let stdout = t_out.join().unwrap_or_default();
    let stderr = t_err.join().unwrap_or_default();
    if killed {
        bail!("{:?} killed after the run timeout of {:?}", cmd, timeout);
    }
    let code = if libc::WIFEXITED(status) {
        libc::WEXITSTATUS(status)
    } else {
        128 + libc::WTERMSIG(status)
    };
    Ok(Measured {
        stdout,
        stderr,
        status: code,
        ctx_switches: (ru.ru_nvcsw + ru.ru_nivcsw) as u64,
    })
}

/// Parses `Total time: 1.234 [sec]` out of `perf bench sched messaging`.
pub fn parse_perf_total(out: &str) -> Option<f64> {
    out.lines().find_map(|l| {
        let rest = l.trim().strip_prefix("Total time:")?;
        rest.split_whitespace().next()?.parse::<f64>().ok()
    })
}

struct Ctx<'a> {
    args: &'a Args,
    hackbench: PathBuf,
    /// (workload, its binary)
    workloads: Vec<(Workload, PathBuf)>,
    timeout: Duration,
}

impl Ctx<'_> {
    fn hackbench_run(&self, cell: &Cell, loops: usize) -> Result<(HackResult, u64)> {
        let mut c = cell.hackbench_args();
        // replace the loops value (last argument)
        *c.last_mut().expect("loops") = loops.to_string();
        let m = run_measured(
            Command::new(&self.hackbench).args(&c).arg("--json"),
            self.timeout,
        )?;
        if m.status != 0 {
            bail!(
                "hackbench {} exited {}: {}",
                c.join(" "),
                m.status,
                m.stderr.trim()
            );
        }
        let r: HackResult = serde_json::from_str(m.stdout.trim())
            .with_context(|| format!("parsing hackbench output {:?}", m.stdout))?;
        Ok((r, m.ctx_switches))
    }

    fn perf_run(&self, cell: &Cell) -> Result<(f64, u64)> {
        let m = run_measured(
            Command::new(&self.args.perf).args(cell.perf_args()),
            self.timeout,
        )?;
        if m.status != 0 {
            bail!("perf bench exited {}: {}", m.status, m.stderr.trim());
        }
        let t = parse_perf_total(&m.stdout)
            .ok_or_else(|| anyhow!("no 'Total time:' in perf output {:?}", m.stdout))?;
        Ok((t, m.ctx_switches))
    }

    /// Runs every workload once under the current scheduler: the samples
    /// of those that ran, and an error for each that did not (a workload
    /// that fails costs only its own data).
    fn run_workloads(
        &self,
        rep: usize,
        sched_name: &str,
        running: &mut Option<sched::Running>,
    ) -> (Vec<Sample>, Vec<String>, bool) {
        let (mut out, mut errs) = (Vec::new(), Vec::new());
        let mut died = false;
        for (w, bin) in &self.workloads {
            let args = w.args(self.args.workload_seconds);
            let res = run_measured(Command::new(bin).args(&args), self.timeout).and_then(|m| {
                if m.status != 0 {
                    bail!(
                        "{} {} exited {}: {}",
                        w.binary(),
                        args.join(" "),
                        m.status,
                        m.stderr.trim()
                    );
                }
                w.parse(&m.stdout)
            });
            match res {
                Ok(metrics) => {
                    let line: Vec<String> =
                        metrics.iter().map(|(c, v)| format!("{c} {v:.1}")).collect();
                    eprintln!("  [rep {}] {:<18} {}", rep + 1, sched_name, line.join("  "));
                    out.extend(metrics.into_iter().map(|(cell, v)| Sample {
                        rep,
                        scheduler: sched_name.to_string(),
                        cell,
                        tool: Tool::Workload,
                        time_s: v,
                        migrations: None,
                        worker_ctx_switches: None,
                        rusage_ctx_switches: None,
                    }));
                }
                Err(e) => {
                    eprintln!(
                        "  [rep {}] {:<18} {}: {:#}",
                        rep + 1,
                        sched_name,
                        w.name(),
                        e
                    );
                    errs.push(format!("rep {}: {}: {:#}", rep + 1, w.name(), e));
                }
            }
            if let Some(run) = running.as_mut() {
                if let Err(e) = run.check_alive() {
                    errs.push(format!("rep {}: after {}: {:#}", rep + 1, w.name(), e));
                    out.clear();
                    died = true;
                    break;
                }
            }
        }
        (out, errs, died)
    }

    /// Runs every cell once under the current scheduler.
    fn run_cells(
        &self,
        rep: usize,
        sched_name: &str,
        cells: &[Cell],
        running: &mut Option<sched::Running>,
    ) -> Result<Vec<Sample>> {
        let mut out = Vec::new();
        if cells.is_empty() {
            return Ok(out);
        }
        for _ in 0..self.args.warmup {
            let c = cells[0];
            self.hackbench_run(&c, (c.loops / 4).max(1))
                .context("warm-up run")?;
        }
        for cell in cells {
            let (r, cs) = self.hackbench_run(cell, cell.loops)?;
            if let Some(run) = running.as_mut() {
                run.check_alive()?;
            }
            let st = r.sched_stats;
            eprintln!(
                "  [rep {}] {:<18} {:<22} hackbench {:8.3} s{}",
                rep + 1,
                sched_name,
                cell.id(),
                r.time_s,
                st.map(|s| format!("  migr {}", s.migrations))
                    .unwrap_or_default()
            );
            out.push(Sample {
                rep,
                scheduler: sched_name.to_string(),
                cell: cell.id(),
                tool: Tool::Hackbench,
                time_s: r.time_s,
                migrations: st.map(|s| s.migrations),
                worker_ctx_switches: st.map(|s| s.voluntary_switches + s.involuntary_switches),
                rusage_ctx_switches: Some(cs),
            });
            if self.args.perf_crosscheck {
                let (t, cs) = self.perf_run(cell)?;
                if let Some(run) = running.as_mut() {
                    run.check_alive()?;
                }
                eprintln!(
                    "  [rep {}] {:<18} {:<22} perf      {:8.3} s",
                    rep + 1,
                    sched_name,
                    cell.id(),
                    t
                );
                out.push(Sample {
                    rep,
                    scheduler: sched_name.to_string(),
                    cell: cell.id(),
                    tool: Tool::Perf,
                    time_s: t,
                    migrations: None,
                    worker_ctx_switches: None,
                    rusage_ctx_switches: Some(cs),
                });
            }
        }
        Ok(out)
    }
}

fn kernel_release() -> String {
    std::fs::read_to_string("/proc/sys/kernel/osrelease")
        .map(|s| s.trim().to_string())
        .unwrap_or_else(|_| "unknown".into())
}

/// Runs the whole comparison. Errors only for problems that make the run
/// meaningless (no hackbench, sched_ext busy...); per-scheduler failures are
/// recorded in the report.
pub fn run(args: &Args, cells: &[Cell]) -> Result<Report> {
    let t0 = Instant::now();
    let hackbench = if cells.is_empty() {
        PathBuf::from("hackbench")
    } else {
        resolve_hackbench(args.hackbench.as_deref())?
    };
    let workloads = args
        .workloads()?
        .into_iter()
        .map(|w| resolve_tool(w.binary()).map(|b| (w, b)))
        .collect::<Result<Vec<_>>>()?;
    let mut planned = plan_schedulers(args);
    for p in &planned {
        if let Some(r) = &p.info.missing_reason {
            eprintln!("sched-harness: {} MISSING: {}", p.info.name, r);
        }
    }
    let paths = SysfsPaths::default();
    if planned.iter().any(|p| p.cmd.is_some()) {
        match paths.state()? {
            sched::ScxState::Disabled => {}
            st => bail!(
                "sched_ext is {:?} (ops {:?}) before the harness started: stop that scheduler first",
                st,
                paths.ops()
            ),
        }
    }
    if args.perf_crosscheck {
        let ok = Command::new(&args.perf)
            .arg("--version")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .map(|s| s.success())
            .unwrap_or(false);
        if !ok {
            bail!(
                "--perf-crosscheck: {} --version failed",
                args.perf.display()
            );
        }
    }
    let logs = args.out_dir.join("logs");
    std::fs::create_dir_all(&logs).with_context(|| format!("creating {}", logs.display()))?;
    let ctx = Ctx {
        args,
        hackbench,
        workloads,
        timeout: Duration::from_secs_f64(args.run_timeout),
    };
    let start_timeout = Duration::from_secs_f64(args.start_timeout);
    let stop_timeout = Duration::from_secs_f64(args.stop_timeout);
    let present: Vec<usize> = (0..planned.len())
        .filter(|&i| planned[i].info.present)
        .collect();
    let mut samples = Vec::new();
    for rep in 0..args.runs {
        // Rotate the order every repetition: each scheduler goes first equally often.
        let n = present.len();
        for k in 0..n {
            let idx = present[(k + rep) % n];
            let p = &mut planned[idx];
            let name = p.info.name.clone();
            let mut running = None;
            // scx_proxy (any build) writes its counters here when it stops
            let stats = p
                .cmd
                .as_ref()
                .filter(|c| c.ops_name == SCX_PROXY)
                .map(|_| logs.join(format!("{}-rep{}.stats.json", name, rep + 1)));
            if let Some(cmd) = &p.cmd {
                let log = logs.join(format!("{}-rep{}.log", name, rep + 1));
                let mut cmd = cmd.clone();
                if let Some(f) = &stats {
                    let _ = std::fs::remove_file(f);
                    cmd.args.push("--stats-json".into());
                    cmd.args.push(f.display().to_string());
                }
                match sched::start(&cmd, &paths, &log, start_timeout) {
                    Ok(r) => {
                        eprintln!(
                            "sched-harness: rep {}: {} attached in {:.1} s (pid {})",
                            rep + 1,
                            name,
                            r.load_time.as_secs_f64(),
                            r.pid()
                        );
                        p.info.load_times_s.push(r.load_time.as_secs_f64());
                        running = Some(r);
                    }
                    Err(e) => {
                        eprintln!("sched-harness: rep {}: {:#}", rep + 1, e);
                        p.info
                            .errors
                            .push(format!("rep {}: start: {:#}", rep + 1, e));
                        continue;
                    }
                }
            } else {
                eprintln!("sched-harness: rep {}: {} (kernel default)", rep + 1, name);
            }
            let res = ctx.run_cells(rep, &name, cells, &mut running);
            // whether this repetition's data was kept (its counters with it)
            let mut kept = false;
            match res {
                Ok(s) => {
                    samples.extend(s);
                    let (s, errs, died) = ctx.run_workloads(rep, &name, &mut running);
                    samples.extend(s);
                    p.info.errors.extend(errs);
                    kept = !died;
                }
                Err(e) => {
                    eprintln!("sched-harness: rep {}: {}: {:#}", rep + 1, name, e);
                    p.info
                        .errors
                        .push(format!("rep {}: run (data discarded): {:#}", rep + 1, e));
                }
            }
            if let Some(r) = running {
                let stopped = r.stop(stop_timeout);
                if let (Ok(()), Some(f), true) = (&stopped, &stats, kept) {
                    match std::fs::read_to_string(f)
                        .map_err(anyhow::Error::from)
                        .and_then(|j| proxy_counts(&j, rep + 1))
                    {
                        Ok(c) => {
                            eprintln!(
                                "sched-harness: rep {}: {}: {} donations, {} proxy migrations, {} lock edges",
                                rep + 1,
                                name,
                                c.donations,
                                c.proxy_migrations,
                                c.lock_edges
                            );
                            p.info.proxy_counts.push(c);
                        }
                        Err(e) => eprintln!(
                            "sched-harness: rep {}: {}: no counters from {}: {:#}",
                            rep + 1,
                            name,
                            f.display(),
                            e
                        ),
                    }
                }
                if let Err(e) = stopped {
                    eprintln!("sched-harness: rep {}: {:#}", rep + 1, e);
                    p.info
                        .errors
                        .push(format!("rep {}: stop: {:#}", rep + 1, e));
                    // Don't go on with a scheduler still attached.
                    if !matches!(paths.state(), Ok(sched::ScxState::Disabled)) {
                        bail!(
                            "sched_ext still not disabled after stopping {}: giving up",
                            name
                        );
                    }
                }
            }
        }
    }
    let cell_ids: Vec<String> = cells.iter().map(Cell::id).collect();
    let names: Vec<String> = planned.iter().map(|p| p.info.name.clone()).collect();
    let metrics: Vec<MetricInfo> = ctx
        .workloads
        .iter()
        .flat_map(|(w, _)| w.metrics())
        .collect();
    let hib = |cell: &str| workload::higher_is_better(&metrics, cell);
    let mut tools = vec![Tool::Hackbench];
    if args.perf_crosscheck {
        tools.push(Tool::Perf);
    }
    let mut summaries = summarize_with(&samples, &cell_ids, &names, &tools, &hib);
    let metric_ids: Vec<String> = metrics.iter().map(|m| m.cell.clone()).collect();
    summaries.extend(summarize_with(
        &samples,
        &metric_ids,
        &names,
        &[Tool::Workload],
        &hib,
    ));
    let primary: Vec<String> = metrics
        .iter()
        .filter(|m| m.primary)
        .map(|m| m.cell.clone())
        .collect();
    let workload_threshold = args.workload_threshold.map(|t| {
        let mut th = check_threshold_with(
            &summaries,
            &primary,
            &args.threshold_candidate,
            Some(t),
            None,
            args.threshold_baseline,
            &hib,
        );
        add_round_ratios(&mut th, &samples, &hib);
        th
    });
    let threshold = (args.threshold.is_some() || args.threshold_geomean.is_some()).then(|| {
        check_threshold(
            &summaries,
            &cell_ids,
            &args.threshold_candidate,
            args.threshold,
            args.threshold_geomean,
            args.threshold_baseline,
        )
    });
    let crosscheck = args
        .perf_crosscheck
        .then(|| cross_check(&summaries, args.crosscheck_band));
    Ok(Report {
        format: REPORT_FORMAT,
        kernel: kernel_release(),
        runs: args.runs,
        cells: cells.to_vec(),
        metrics,
        schedulers: planned.into_iter().map(|p| p.info).collect(),
        counters: COUNTERS_DOC.into(),
        samples,
        summaries,
        threshold,
        workload_threshold,
        crosscheck,
        wall_s: t0.elapsed().as_secs_f64(),
    })
}
