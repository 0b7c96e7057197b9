//! Starting, watching and stopping sched_ext schedulers (inside the test VM).
//!
//! * start: spawn the scheduler binary, then poll until
//!   `/sys/kernel/sched_ext/state` reads `enabled` **and**
//!   `/sys/kernel/sched_ext/root/ops` starts with the expected ops name
//!   (`scx_proxy`, `bpfland`, `lavd`, ...; scx_utils may append a version
//!   suffix, hence "starts with"), or fail after a timeout (peers can need
//!   ~50 s to pass the verifier under software emulation). The process
//!   exiting early is reported with the tail of its log.
//! * alive check: the process still runs, the state is `enabled` and the ops
//!   name still matches (so a scheduler ejected by the kernel mid-benchmark is
//!   noticed instead of silently benchmarking the fair class).
//! * stop: SIGINT, wait for the process (SIGKILL after the timeout, which is
//!   an error), require exit status 0, then wait for the state `disabled`.
//!
//! The sysfs paths are parameters ([`SysfsPaths`]) so the logic can be tested
//! against ordinary files.

use anyhow::{anyhow, bail, Context, Result};
use nix::sys::signal::{kill, Signal};
use nix::unistd::Pid;
use std::fs::File;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

pub const STATE_PATH: &str = "/sys/kernel/sched_ext/state";
pub const OPS_PATH: &str = "/sys/kernel/sched_ext/root/ops";

/// Value of `/sys/kernel/sched_ext/state`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ScxState {
    Enabling,
    Enabled,
    Disabling,
    Disabled,
}

/// Parses the content of `/sys/kernel/sched_ext/state` (surrounding
/// whitespace ignored).
pub fn parse_state(s: &str) -> Result<ScxState> {
    match s.trim() {
        "enabling" => Ok(ScxState::Enabling),
        "enabled" => Ok(ScxState::Enabled),
        "disabling" => Ok(ScxState::Disabling),
        "disabled" => Ok(ScxState::Disabled),
        other => bail!("unknown sched_ext state {:?}", other),
    }
}

/// Whether the content of `root/ops` names the expected scheduler: the
/// trimmed value starts with `expected` (scx_utils may append `_<version>`).
/// An empty expectation never matches.
pub fn ops_matches(ops: &str, expected: &str) -> bool {
    let ops = ops.trim();
    !expected.is_empty() && ops.starts_with(expected)
}

/// Where the sched_ext sysfs files are.
#[derive(Debug, Clone)]
pub struct SysfsPaths {
    pub state: PathBuf,
    pub ops: PathBuf,
}

impl Default for SysfsPaths {
    fn default() -> Self {
        SysfsPaths {
            state: STATE_PATH.into(),
            ops: OPS_PATH.into(),
        }
    }
}

impl SysfsPaths {
    /// Current state; an error when sched_ext isn't available at all.
    pub fn state(&self) -> Result<ScxState> {
        let s = std::fs::read_to_string(&self.state).with_context(|| {
            format!(
                "reading {} (is this a kernel with CONFIG_SCHED_CLASS_EXT?)",
                self.state.display()
            )
        })?;
        parse_state(&s)
    }

    /// Ops name of the attached scheduler, `None` when there's none (the file
    /// exists only while a scheduler is attached).
    pub fn ops(&self) -> Option<String> {
        std::fs::read_to_string(&self.ops)
            .ok()
            .map(|s| s.trim().to_string())
    }

    /// True when a scheduler whose ops name starts with `expected` is fully
    /// enabled.
    pub fn is_enabled_as(&self, expected: &str) -> bool {
        matches!(self.state(), Ok(ScxState::Enabled))
            && self.ops().is_some_and(|o| ops_matches(&o, expected))
    }
}

/// Polls `cond` every `interval` until it returns `Some`, or `None` after
/// `timeout`. `cond` is always called at least once.
pub fn wait_for<T>(
    timeout: Duration,
    interval: Duration,
    mut cond: impl FnMut() -> Option<T>,
) -> Option<T> {
    let start = Instant::now();
    loop {
        if let Some(v) = cond() {
            return Some(v);
        }
        if start.elapsed() >= timeout {
            return None;
        }
        std::thread::sleep(interval);
    }
}

/// How to run one scheduler.
#[derive(Debug, Clone)]
pub struct SchedCmd {
    /// Label used in reports.
    pub name: String,
    pub binary: PathBuf,
    pub args: Vec<String>,
    /// Expected prefix of `root/ops`.
    pub ops_name: String,
}

/// A started scheduler.
#[derive(Debug)]
pub struct Running {
    pub cmd: SchedCmd,
    child: Child,
    pub log: PathBuf,
    /// Time from spawn to enabled-with-the-right-ops.
    pub load_time: Duration,
    paths: SysfsPaths,
}

/// Last `n` lines of a log file, for error messages.
pub fn log_tail(path: &Path, n: usize) -> String {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(n)..].join("\n")
}

/// Starts `cmd` (stdout+stderr to `log`) and waits until it is attached.
pub fn start(cmd: &SchedCmd, paths: &SysfsPaths, log: &Path, timeout: Duration) -> Result<Running> {
    match paths.state()? {
        ScxState::Disabled => {}
        st => bail!(
            "cannot start {}: sched_ext is {:?} (ops {:?}): another scheduler is attached",
            cmd.name,
            st,
            paths.ops().unwrap_or_default()
        ),
    }
    let out = File::create(log).with_context(|| format!("creating {}", log.display()))?;
    let err = out.try_clone()?;
    let t0 = Instant::now();
    let mut command = Command::new(&cmd.binary);
    command
        .args(&cmd.args)
        .stdin(Stdio::null())
        .stdout(out)
        .stderr(err);
    // A harness started in the background (nohup, `&` in a script) inherits
    // SIGINT ignored, and so would the scheduler: give it the default back so
    // that SIGINT stops it.
    // SAFETY: signal() is async-signal-safe; nothing else runs in the child.
    unsafe {
        command.pre_exec(|| {
            libc::signal(libc::SIGINT, libc::SIG_DFL);
            libc::signal(libc::SIGTERM, libc::SIG_DFL);
            Ok(())
        });
    }
    let mut child = command
        .spawn()
        .with_context(|| format!("spawning {}", cmd.binary.display()))?;
    let outcome = wait_for(timeout, Duration::from_millis(50), || {
        if let Ok(Some(st)) = child.try_wait() {
            return Some(Err(st));
        }
        paths.is_enabled_as(&cmd.ops_name).then_some(Ok(()))
    });
    match outcome {
        Some(Ok(())) => Ok(Running {
            cmd: cmd.clone(),
            child,
            log: log.to_path_buf(),
            load_time: t0.elapsed(),
            paths: paths.clone(),
        }),
        Some(Err(st)) => bail!(
            "{} exited ({}) before attaching; log {}:\n{}",
            cmd.name,
            st,
            log.display(),
            log_tail(log, 15)
        ),
        None => {
            let _ = interrupt_and_wait(&mut child, Duration::from_secs(10));
            bail!(
                "{} did not attach within {:?} (state {:?}, ops {:?}); log {}:\n{}",
                cmd.name,
                timeout,
                paths.state().ok(),
                paths.ops(),
                log.display(),
                log_tail(log, 15)
            )
        }
    }
}

/// SIGINT, then wait up to `timeout`; SIGKILL (and an error) after that.
fn interrupt_and_wait(child: &mut Child, timeout: Duration) -> Result<ExitStatus> {
    let pid = Pid::from_raw(child.id() as i32);
    if let Ok(Some(st)) = child.try_wait() {
        return Ok(st);
    }
    kill(pid, Signal::SIGINT).context("sending SIGINT")?;
    if let Some(st) = wait_for(timeout, Duration::from_millis(20), || {
        child.try_wait().ok().flatten()
    }) {
        return Ok(st);
    }
    let _ = child.kill();
    let _ = child.wait();
    Err(anyhow!(
        "did not exit within {:?} of SIGINT: killed",
        timeout
    ))
}

impl Running {
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Errors if the scheduler exited, or is no longer the attached one.
    pub fn check_alive(&mut self) -> Result<()> {
        if let Some(st) = self.child.try_wait()? {
            bail!(
                "{} exited ({}) during the benchmark; log {}:\n{}",
                self.cmd.name,
                st,
                self.log.display(),
                log_tail(&self.log, 15)
            );
        }
        if !self.paths.is_enabled_as(&self.cmd.ops_name) {
            bail!(
                "{} is no longer attached (state {:?}, ops {:?})",
                self.cmd.name,
                self.paths.state().ok(),
                self.paths.ops()
            );
        }
        Ok(())
    }

    /// SIGINT, wait, require exit status 0 and state `disabled`.
    pub fn stop(mut self, timeout: Duration) -> Result<()> {
        let st = interrupt_and_wait(&mut self.child, timeout)
            .with_context(|| format!("stopping {}", self.cmd.name))?;
        if !st.success() {
            bail!(
                "{} exited with {} on SIGINT (want status 0); log {}:\n{}",
                self.cmd.name,
                st,
                self.log.display(),
                log_tail(&self.log, 15)
            );
        }
        let disabled = wait_for(timeout, Duration::from_millis(20), || {
            matches!(self.paths.state(), Ok(ScxState::Disabled)).then_some(())
        });
        if disabled.is_none() {
            bail!(
                "{} exited but sched_ext state is {:?}, not disabled",
                self.cmd.name,
                self.paths.state().ok()
            );
        }
        Ok(())
    }
}
