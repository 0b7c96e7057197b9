//! hackbench: the scheduler message-passing benchmark of `perf bench sched
//! messaging` and rt-tests' `hackbench`, in Rust.
//!
//! # Workload
//! `G` groups; each group has `N` senders and `N` receivers (`N` = `--fds`,
//! default 20). Every receiver owns one channel (a pipe with `--pipe`, else a
//! UNIX stream socketpair); every sender of a group writes `L` (`--loops`)
//! messages of `S` bytes (`--datasize`, default 100) into the channel of every
//! receiver of its group, in order `loop 0: receiver 0..N, loop 1: ...`. A
//! receiver reads until it got `N * L` messages. Workers are forked processes
//! (default, `--process`) or threads (`--threads`). All workers first report
//! ready and block in `poll()` on a common wake-up pipe; the clock starts when
//! the parent writes the wake-up byte and stops when the last worker has been
//! reaped (joined/waited), exactly like `perf bench sched messaging`.
//!
//! Total messages = `G * N * N * L`; throughput = messages / time.
//!
//! # Flag mapping
//! | this tool            | perf bench sched messaging | rt-tests hackbench   |
//! |----------------------|----------------------------|----------------------|
//! | `-p, --pipe`         | `-p, --pipe`               | `-p, --pipe`         |
//! | `-T, --threads` (also `-t`) | `-t, --thread`      | `-T, --threads`      |
//! | `-P, --process` (default) | (default)             | `-P, --process` (default) |
//! | `-g, --groups G` (10) | `-g, --group G` (10)      | `-g, --groups G` (10) |
//! | `-l, --loops L` (100) | `-l, --nr_loops L` (100)  | `-l, --loops L` (100) |
//! | `-f, --fds N` (20)   | fixed 20 (newer perf: `-f`) | `-f, --fds N` (20)  |
//! | `-s, --datasize S` (100) | fixed 100             | `-s, --datasize S` (100) |
//!
//! So `perf bench sched messaging -p -t -l 100000 -g 1` is
//! `hackbench -p -T -l 100000 -g 1`.
//!
//! # Scheduling statistics
//! Unless `--no-sched-stats`, each worker reads `/proc/thread-self/sched` just
//! after its last message (one small read, inside the timed window but only
//! the last worker's read can add to it) and the totals of `se.nr_migrations`,
//! `nr_voluntary_switches` and `nr_involuntary_switches` over all workers are
//! reported. The file exists on kernels with scheduler debug info (always on
//! since 6.x; `CONFIG_SCHED_DEBUG` before): when it is missing the stats are
//! reported as absent, not as zero.

mod run;

pub use run::run;

use anyhow::{bail, Result};
use clap::{ArgAction, Parser};
use serde::{Deserialize, Serialize};

/// Channel type connecting senders to receivers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Ipc {
    Pipe,
    Socket,
}

/// Worker type.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Mode {
    Threads,
    Processes,
}

impl Ipc {
    pub fn as_str(self) -> &'static str {
        match self {
            Ipc::Pipe => "pipe",
            Ipc::Socket => "socket",
        }
    }
}

impl Mode {
    pub fn as_str(self) -> &'static str {
        match self {
            Mode::Threads => "threads",
            Mode::Processes => "processes",
        }
    }
}

/// Largest message accepted by `--datasize` (1 MiB).
pub const MAX_DATASIZE: usize = 1 << 20;

const ABOUT: &str =
    "Scheduler message-passing benchmark (perf bench sched messaging / rt-tests hackbench)";
const AFTER_HELP: &str = "\
G groups of N senders and N receivers; every sender sends L messages of S bytes to every receiver
of its group through a pipe (-p) or a UNIX stream socketpair (default); workers are processes
(default) or threads (-T). Prints 'Time: X.XXX' (seconds, like rt-tests hackbench) and the
throughput; --json prints one JSON object instead.

Flag mapping:
  perf bench sched messaging:  -p -> -p   -t -> -T (or -t)   -g G -> -g G   -l L -> -l L
                               (perf fixes 20 fds and 100-byte messages: the defaults here)
  rt-tests hackbench:          -p -s -l -g -f -T -P have the same meaning here
Example: 'perf bench sched messaging -p -t -l 100000 -g 1' == 'hackbench -p -T -l 100000 -g 1'";

/// Command line of `hackbench`.
#[derive(Debug, Clone, Parser)]
#[command(name = "hackbench", version, about = ABOUT, after_help = AFTER_HELP)]
pub struct Args {
    /// Use pipes instead of UNIX stream socketpairs
    #[arg(short = 'p', long = "pipe")]
    pub pipe: bool,

    /// Use threads instead of processes (perf's -t is accepted too)
    #[arg(
        short = 'T',
        long = "threads",
        visible_short_alias = 't',
        conflicts_with = "process"
    )]
    pub threads: bool,

    /// Use forked processes (the default)
    #[arg(short = 'P', long = "process")]
    pub process: bool,

    /// Number of groups of senders+receivers
    #[arg(short = 'g', long = "groups", default_value_t = 10)]
    pub groups: usize,

    /// Number of senders (and of receivers) per group
    #[arg(short = 'f', long = "fds", default_value_t = 20)]
    pub fds: usize,

    /// Number of messages each sender sends to each receiver
    #[arg(short = 'l', long = "loops", default_value_t = 100)]
    pub loops: usize,

    /// Size of one message in bytes
    #[arg(short = 's', long = "datasize", default_value_t = 100)]
    pub datasize: usize,

    /// Print the result as one JSON object (and nothing else on stdout)
    #[arg(long = "json")]
    pub json: bool,

    /// Don't collect per-worker migrations/context switches from /proc/thread-self/sched
    #[arg(long = "no-sched-stats", action = ArgAction::SetTrue)]
    pub no_sched_stats: bool,
}

/// A validated benchmark configuration.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Config {
    pub groups: usize,
    pub fds: usize,
    pub loops: usize,
    pub datasize: usize,
    pub ipc: Ipc,
    pub mode: Mode,
    pub sched_stats: bool,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            groups: 10,
            fds: 20,
            loops: 100,
            datasize: 100,
            ipc: Ipc::Socket,
            mode: Mode::Processes,
            sched_stats: true,
        }
    }
}

impl Args {
    /// Validates the flags into a [`Config`].
    pub fn to_config(&self) -> Result<Config> {
        let cfg = Config {
            groups: self.groups,
            fds: self.fds,
            loops: self.loops,
            datasize: self.datasize,
            ipc: if self.pipe { Ipc::Pipe } else { Ipc::Socket },
            mode: if self.threads {
                Mode::Threads
            } else {
                Mode::Processes
            },
            sched_stats: !self.no_sched_stats,
        };
        cfg.validate()?;
        Ok(cfg)
    }
}

impl Config {
    /// Rejects configurations that can't run or would overflow the counters.
    pub fn validate(&self) -> Result<()> {
        if self.groups == 0 {
            bail!("--groups must be at least 1 (got 0)");
        }
        if self.fds == 0 {
            bail!("--fds must be at least 1 (got 0): a group needs senders and receivers");
        }
        if self.loops == 0 {
            bail!("--loops must be at least 1 (got 0)");
        }
        if self.datasize == 0 {
            bail!("--datasize must be at least 1 byte (got 0)");
        }
        if self.datasize > MAX_DATASIZE {
            bail!(
                "--datasize {} is larger than the maximum {} bytes",
                self.datasize,
                MAX_DATASIZE
            );
        }
        let tasks = self.groups.checked_mul(2 * self.fds);
        match tasks {
            Some(t) if t <= 100_000 => {}
            _ => bail!(
                "{} groups x {} fds = too many tasks (max 100000)",
                self.groups,
                self.fds
            ),
        }
        if self.messages().is_none() {
            bail!("groups x fds x fds x loops overflows a 64-bit message count");
        }
        Ok(())
    }

    /// Total number of tasks (senders + receivers).
    pub fn tasks(&self) -> usize {
        self.groups * 2 * self.fds
    }

    /// Total messages exchanged: `groups * fds * fds * loops`.
    pub fn messages(&self) -> Option<u64> {
        (self.groups as u64)
            .checked_mul(self.fds as u64)?
            .checked_mul(self.fds as u64)?
            .checked_mul(self.loops as u64)
    }

    /// File descriptors the parent needs open at once (thread mode keeps every
    /// channel open; process mode closes them group by group), plus the
    /// ready/wake/stats pipes.
    pub fn fds_needed(&self) -> usize {
        let channels = match self.mode {
            Mode::Threads => self.groups * self.fds * 2,
            Mode::Processes => self.fds * 2,
        };
        channels + 6
    }
}

/// Scheduling statistics summed over all workers.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SchedStats {
    /// Workers whose `/proc/thread-self/sched` could be read.
    pub workers: u64,
    /// Sum of `se.nr_migrations`.
    pub migrations: u64,
    /// Sum of `nr_voluntary_switches`.
    pub voluntary_switches: u64,
    /// Sum of `nr_involuntary_switches`.
    pub involuntary_switches: u64,
}

impl SchedStats {
    pub fn add(&mut self, o: &SchedStats) {
        self.workers += o.workers;
        self.migrations += o.migrations;
        self.voluntary_switches += o.voluntary_switches;
        self.involuntary_switches += o.involuntary_switches;
    }
}

/// Parses the text of `/proc/<pid>/sched` into one worker's statistics.
/// Returns `None` when `se.nr_migrations` is missing.
pub fn parse_proc_sched(text: &str) -> Option<SchedStats> {
    let mut st = SchedStats {
        workers: 1,
        ..Default::default()
    };
    let mut have_migr = false;
    for line in text.lines() {
        let Some((key, val)) = line.split_once(':') else {
            continue;
        };
        let key = key.trim();
        let Ok(v) = val.trim().parse::<u64>() else {
            continue;
        };
        match key {
            "se.nr_migrations" => {
                st.migrations = v;
                have_migr = true;
            }
            "nr_voluntary_switches" => st.voluntary_switches = v,
            "nr_involuntary_switches" => st.involuntary_switches = v,
            _ => {}
        }
    }
    have_migr.then_some(st)
}

/// Result of one benchmark run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct HackResult {
    pub config: Config,
    /// Tasks run (senders + receivers).
    pub tasks: u64,
    /// Messages exchanged.
    pub messages: u64,
    /// Wall time from wake-up to the last worker reaped, in seconds.
    pub time_s: f64,
    /// `messages / time_s`.
    pub msgs_per_s: f64,
    /// Summed worker statistics; `None` if disabled or not all workers could
    /// read `/proc/thread-self/sched`.
    pub sched_stats: Option<SchedStats>,
}

impl HackResult {
    /// Human-readable report in the style of rt-tests hackbench.
    pub fn human(&self) -> String {
        let c = &self.config;
        let mut s = format!(
            "Running in {} mode with {} groups using {} file descriptors each (== {} tasks)\n\
             Each sender will pass {} messages of {} bytes ({})\n\
             Time: {:.3}\n\
             Throughput: {:.0} messages/s ({} messages)\n",
            match c.mode {
                Mode::Threads => "threaded",
                Mode::Processes => "process",
            },
            c.groups,
            2 * c.fds,
            self.tasks,
            c.loops,
            c.datasize,
            c.ipc.as_str(),
            self.time_s,
            self.msgs_per_s,
            self.messages,
        );
        if let Some(st) = &self.sched_stats {
            s.push_str(&format!(
                "Migrations: {}  Context switches: {} voluntary, {} involuntary\n",
                st.migrations, st.voluntary_switches, st.involuntary_switches
            ));
        }
        s
    }
}
