//! The controller of `run`, and `compare`.

use std::fs;
use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Mutex, Once};
use std::thread;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use anyhow::{anyhow, bail, Context, Result};

use super::cli::{CompareArgs, RunArgs, Scenario};
use super::env;
use super::locks::SharedLocks;
use super::report::{compare_table, Params, RunResult, SCHEMA};
use super::roles::read_result;
use crate::latency::{histogram_from_pairs, LatencySummary};
use crate::plot::{plot_latency_histograms, PlotRun};

/// Nice value of the foreground in futex scenarios.
pub const FG_NICE_FUTEX: i32 = -20;
/// Nice value of the lock owners in futex scenarios.
pub const BG_NICE_FUTEX: i32 = 19;
/// cpu.weight of the background in `rename-unthrottled` (the kernel default).
pub const UNTHROTTLED_WEIGHT: u32 = 100;

/// What must be undone; shared with the Ctrl-C handler.
#[derive(Default)]
struct Teardown {
    children: Vec<(String, Child)>,
    /// Created cgroups, parents before children.
    cgroups: Vec<PathBuf>,
    scratch: Option<PathBuf>,
}

static TEARDOWN: Mutex<Option<Teardown>> = Mutex::new(None);
static INTERRUPTED: AtomicBool = AtomicBool::new(false);
static HANDLER: Once = Once::new();

fn with_teardown<R>(f: impl FnOnce(&mut Teardown) -> R) -> R {
    let mut g = TEARDOWN.lock().unwrap_or_else(|e| e.into_inner());
    f(g.get_or_insert_with(Teardown::default))
}

/// Undo everything recorded so far; returns the problems met.
///
/// The lock is held throughout, so a concurrent caller (the Ctrl-C handler
/// vs. the main thread) waits until the cleanup is complete.
fn teardown() -> Vec<String> {
    let mut guard = TEARDOWN.lock().unwrap_or_else(|e| e.into_inner());
    let Some(mut t) = guard.take() else {
        return Vec::new();
    };
    let mut problems = Vec::new();
    for (_, c) in t.children.iter_mut() {
        let _ = c.kill();
    }
    for (name, c) in t.children.iter_mut() {
        if let Err(e) = c.wait() {
            problems.push(format!("waiting for {name}: {e}"));
        }
    }
    for cg in t.cgroups.iter().rev() {
        if let Err(e) = env::remove_cgroup(cg) {
            problems.push(format!("{e:#}"));
        }
    }
    if let Some(s) = &t.scratch {
        if s.exists() {
            if let Err(e) = fs::remove_dir_all(s) {
                problems.push(format!("removing {}: {e}", s.display()));
            }
        }
    }
    problems
}

fn install_handler() {
    HANDLER.call_once(|| {
        let r = ctrlc::set_handler(|| {
            INTERRUPTED.store(true, Ordering::SeqCst);
            eprintln!("inversion-demo: interrupted, cleaning up");
            for p in teardown() {
                eprintln!("inversion-demo: cleanup: {p}");
            }
            std::process::exit(130);
        });
        if let Err(e) = r {
            eprintln!("inversion-demo: warning: cannot install signal handler: {e}");
        }
    });
}

/// A started role: its stdin (for `go`) and its name.
struct Started {
    name: String,
    stdin: ChildStdin,
}

struct Spawner {
    exe: PathBuf,
}

impl Spawner {
    /// Start a role and wait until it reports `ready`.
    fn start(&self, name: &str, args: &[String]) -> Result<Started> {
        let mut child = Command::new(&self.exe)
            .arg("__role")
            .args(args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .with_context(|| format!("starting {name}"))?;
        let stdin = child.stdin.take().expect("piped");
        let stdout = child.stdout.take().expect("piped");
        with_teardown(|t| t.children.push((name.to_string(), child)));
        let mut line = String::new();
        BufReader::new(stdout).read_line(&mut line)?;
        if line.trim() != "ready" {
            bail!("{name} failed to start (see its error above)");
        }
        Ok(Started {
            name: name.to_string(),
            stdin,
        })
    }
}

fn go(s: &mut Started) -> Result<()> {
    writeln!(s.stdin, "go").with_context(|| format!("starting {}", s.name))?;
    s.stdin.flush()?;
    Ok(())
}

fn now_unix() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

/// Entry point of `run`.
pub fn run(args: &RunArgs) -> Result<RunResult> {
    args.validate()?;
    env::check_environment(&args.cgroup_root, env::euid())?;
    install_handler();
    let r = run_inner(args);
    if INTERRUPTED.load(Ordering::SeqCst) {
        // The signal handler cleans up and exits with 130; don't race it
        // with an error exit (children dying of the same Ctrl-C make
        // run_inner fail).
        loop {
            thread::sleep(Duration::from_secs(1));
        }
    }
    let problems = teardown();
    for p in &problems {
        eprintln!("inversion-demo: cleanup: {p}");
    }
    let result = r?;
    if !problems.is_empty() {
        bail!("cleanup failed: {}", problems.join("; "));
    }
    Ok(result)
}

fn s<T: ToString>(v: T) -> String {
    v.to_string()
}

fn run_inner(args: &RunArgs) -> Result<RunResult> {
    let pid = std::process::id();
    let ncpus = env::online_cpus();
    let sched = env::sched_info();
    let config = args
        .config
        .clone()
        .unwrap_or_else(|| env::detect_config(&sched));
    let started_unix_s = now_unix();
    let depth = args.depth();
    let pi = args.pi_mutex();
    let think_us = args.think_us;
    let hogs = args.hogs.unwrap_or(2 * ncpus);
    let futex = !args.scenario.is_rename();
    // futex-nocontention has a lock but no owner
    let nlocks = (depth as usize).max(1);
    let bg_weight = if args.scenario == Scenario::RenameUnthrottled {
        UNTHROTTLED_WEIGHT
    } else {
        args.bg_weight
    };
    let (fg_nice, bg_nice) = if futex {
        (FG_NICE_FUTEX, BG_NICE_FUTEX)
    } else {
        (0, 0)
    };
    let background_tasks = match args.scenario {
        Scenario::RenameNocontention | Scenario::FutexNocontention => 0,
        s if s.is_rename() => 1,
        _ => depth as usize,
    };

    // cgroups
    let root = &args.cgroup_root;
    env::enable_cpu_controller(root)?;
    let top = root.join(format!("inversion-demo.{pid}"));
    fs::create_dir(&top).with_context(|| format!("creating cgroup {}", top.display()))?;
    with_teardown(|t| t.cgroups.push(top.clone()));
    env::enable_cpu_controller(&top)?;
    let mk = |name: &str, weight: u32| -> Result<PathBuf> {
        let d = top.join(name);
        fs::create_dir(&d).with_context(|| format!("creating cgroup {}", d.display()))?;
        with_teardown(|t| t.cgroups.push(d.clone()));
        env::cg_write(&d, "cpu.weight", &weight.to_string())?;
        Ok(d)
    };
    let cg_fg = mk("fg", args.fg_weight)?;
    let cg_bg = mk("bg", bg_weight)?;
    let cg_hogs = mk("hogs", args.hog_weight)?;

    // scratch
    let scratch = args.workdir.join(format!("inversion-demo.{pid}"));
    fs::create_dir_all(&scratch)
        .with_context(|| format!("creating scratch dir {}", scratch.display()))?;
    with_teardown(|t| t.scratch = Some(scratch.clone()));
    let result_file = scratch.join("fg-result.json");
    let lock_file = scratch.join("locks");
    if futex {
        // Initialise and unmap; the roles map the file themselves.
        drop(SharedLocks::create(&lock_file, nlocks, pi)?);
    }

    let exe = fs::read_link("/proc/self/exe").context("finding own executable")?;
    let sp = Spawner { exe };
    let duration_ms = (args.duration * 1000.0).round().max(1.0) as u64;
    let mut background = Vec::new();

    if hogs > 0 {
        background.push(sp.start(
            "hogs",
            &[
                s("--kind=hog"),
                format!("--cgroup={}", cg_hogs.display()),
                format!("--threads={hogs}"),
            ],
        )?);
    }
    let fg_args: Vec<String> = if futex {
        let common = |kind: &str, cg: &Path, nice: i32| {
            vec![
                format!("--kind={kind}"),
                format!("--cgroup={}", cg.display()),
                format!("--nice={nice}"),
                format!("--lock-file={}", lock_file.display()),
                format!("--locks={nlocks}"),
            ]
        };
        for i in 0..depth as usize {
            let mut a = common("owner", &cg_bg, bg_nice);
            a.extend([
                format!("--lock={i}"),
                format!("--cs-us={}", args.cs_us),
                format!(
                    "--cs-clock={}",
                    match args.cs_clock {
                        super::cli::CsClock::Cpu => "cpu",
                        super::cli::CsClock::Wall => "wall",
                    }
                ),
                format!("--gap-us={}", args.owner_gap_us),
                format!("--spin-us={}", args.owner_spin_us),
            ]);
            if let Some(cpu) = args.owner_cpu {
                a.push(format!("--cpu={cpu}"));
            }
            background.push(sp.start(&format!("owner{i}"), &a)?);
        }
        let mut a = common("waiter", &cg_fg, fg_nice);
        a.extend([
            s("--lock=0"),
            format!("--think-us={think_us}"),
            format!("--duration-ms={duration_ms}"),
            format!("--result={}", result_file.display()),
        ]);
        a
    } else {
        let dirs = |who: &str| -> Result<(PathBuf, PathBuf)> {
            let a = scratch.join(format!("{who}_a"));
            let b = scratch.join(format!("{who}_b"));
            fs::create_dir(&a)?;
            fs::create_dir(&b)?;
            Ok((a, b))
        };
        if background_tasks > 0 {
            let (a, b) = dirs("bg")?;
            background.push(sp.start(
                "bg-renamer",
                &[
                    s("--kind=bg-rename"),
                    format!("--cgroup={}", cg_bg.display()),
                    format!("--nice={bg_nice}"),
                    format!("--dir-a={}", a.display()),
                    format!("--dir-b={}", b.display()),
                    s("--file=bg"),
                ],
            )?);
        }
        let (a, b) = dirs("fg")?;
        vec![
            s("--kind=fg-rename"),
            format!("--cgroup={}", cg_fg.display()),
            format!("--nice={fg_nice}"),
            format!("--dir-a={}", a.display()),
            format!("--dir-b={}", b.display()),
            s("--file=fg"),
            format!("--think-us={think_us}"),
            format!("--duration-ms={duration_ms}"),
            format!("--result={}", result_file.display()),
        ]
    };
    let mut fg = sp.start("foreground", &fg_args)?;

    for b in background.iter_mut() {
        go(b)?;
    }
    thread::sleep(Duration::from_secs_f64(args.warmup));
    eprintln!(
        "inversion-demo: running {} for {:.1}s under {} ({} hogs, background cpu.weight {})",
        args.scenario.name(),
        args.duration,
        config,
        hogs,
        bg_weight
    );
    go(&mut fg)?;

    // Wait for the foreground: it stops by itself after the duration, but a
    // blocked waiter only notices once it gets its lock.
    let limit = Duration::from_secs_f64(args.duration * 3.0 + 120.0);
    let t0 = Instant::now();
    loop {
        let status = with_teardown(|t| {
            t.children
                .iter_mut()
                .find(|(n, _)| n == "foreground")
                .map(|(_, c)| c.try_wait())
        });
        match status {
            Some(Ok(Some(st))) if st.success() => break,
            Some(Ok(Some(st))) => bail!("foreground failed: {st}"),
            Some(Ok(None)) => {}
            Some(Err(e)) => bail!("waiting for foreground: {e}"),
            None => bail!("foreground vanished"),
        }
        if t0.elapsed() > limit {
            bail!(
                "foreground did not finish within {:.0}s (a lock owner never ran?)",
                limit.as_secs_f64()
            );
        }
        thread::sleep(Duration::from_millis(50));
    }
    let sched_end = env::sched_info();
    let rr = read_result(&result_file)?;
    let hist = histogram_from_pairs(&rr.recorded_ns);
    let latency = LatencySummary::from_histogram(&hist, rr.elapsed_ns as f64 / 1e9);
    if latency.count == 0 {
        return Err(anyhow!("the foreground recorded no samples"));
    }
    let label = args.label.clone().unwrap_or_else(|| match args.scenario {
        Scenario::Chain => format!("chain{depth}{}", if pi { "-pi" } else { "" }),
        s => s.name().to_string(),
    });
    if sched_end.scheduler != sched.scheduler {
        eprintln!(
            "inversion-demo: warning: scheduler changed during the run ({} -> {})",
            sched.scheduler, sched_end.scheduler
        );
    }
    Ok(RunResult {
        schema: SCHEMA.to_string(),
        label,
        scenario: args.scenario,
        duration_s: args.duration,
        params: Params {
            depth,
            pi_mutex: pi,
            cs_us: args.cs_us,
            cs_clock: args.cs_clock,
            think_us,
            owner_gap_us: args.owner_gap_us,
            owner_spin_us: args.owner_spin_us,
            hogs,
            fg_weight: args.fg_weight,
            bg_weight,
            hog_weight: args.hog_weight,
            fg_nice,
            bg_nice,
            background_tasks,
            workdir: args.workdir.display().to_string(),
        },
        kernel: env::kernel_release(),
        ncpus,
        scheduler: sched.scheduler,
        config,
        sched_ext_state: sched.state,
        scheduler_at_end: sched_end.scheduler,
        started_unix_s,
        latency,
    })
}

/// `run` end to end: run, write JSON, print, plot.
pub fn run_command(args: &RunArgs) -> Result<()> {
    let r = run(args)?;
    r.write(&args.out)?;
    print!("{}", r.summary_text());
    println!("  wrote {}", args.out.display());
    if let Some(p) = &args.plot {
        plot_runs(
            p,
            &format!("inversion-demo: {}", r.label),
            std::slice::from_ref(&r),
        )?;
        println!("  plot {}", p.display());
    }
    Ok(())
}

fn plot_runs(path: &Path, title: &str, runs: &[RunResult]) -> Result<()> {
    let labels: Vec<String> = runs.iter().map(RunResult::plot_label).collect();
    let pr: Vec<PlotRun> = runs
        .iter()
        .zip(&labels)
        .map(|(r, label)| PlotRun {
            label,
            summary: &r.latency,
        })
        .collect();
    plot_latency_histograms(path, title, &pr)
}

/// Entry point of `compare`.
pub fn compare_command(args: &CompareArgs) -> Result<String> {
    let runs = args
        .files
        .iter()
        .map(|f| RunResult::read(f))
        .collect::<Result<Vec<_>>>()?;
    let table = compare_table(&runs, args.markdown);
    if let Some(p) = &args.plot {
        plot_runs(p, &args.title, &runs)?;
    }
    Ok(table)
}
