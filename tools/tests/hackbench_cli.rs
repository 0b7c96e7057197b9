//! hackbench flag parsing and validation.

use clap::Parser;
use scx_proxy_tools::hackbench::{parse_proc_sched, Args, Config, Ipc, Mode, MAX_DATASIZE};

fn parse(argv: &[&str]) -> Result<Args, clap::Error> {
    Args::try_parse_from(std::iter::once("hackbench").chain(argv.iter().copied()))
}

#[test]
fn defaults_match_perf_and_rt_tests() {
    let c = parse(&[]).unwrap().to_config().unwrap();
    assert_eq!(c.groups, 10);
    assert_eq!(c.fds, 20);
    assert_eq!(c.loops, 100);
    assert_eq!(c.datasize, 100);
    assert_eq!(c.ipc, Ipc::Socket);
    assert_eq!(c.mode, Mode::Processes);
    assert!(c.sched_stats);
    assert_eq!(c, Config::default());
}

#[test]
fn short_flags_like_rt_tests() {
    let c = parse(&["-p", "-T", "-g", "3", "-f", "7", "-l", "11", "-s", "64"])
        .unwrap()
        .to_config()
        .unwrap();
    assert_eq!(
        (c.ipc, c.mode, c.groups, c.fds, c.loops, c.datasize),
        (Ipc::Pipe, Mode::Threads, 3, 7, 11, 64)
    );
    assert_eq!(c.tasks(), 42);
    assert_eq!(c.messages(), Some(3 * 7 * 7 * 11));
}

#[test]
fn perf_style_t_is_threads() {
    let c = parse(&["-p", "-t", "-l", "100000", "-g", "1"])
        .unwrap()
        .to_config()
        .unwrap();
    assert_eq!(c.mode, Mode::Threads);
    assert_eq!(c.ipc, Ipc::Pipe);
    assert_eq!(c.loops, 100000);
    assert_eq!(c.groups, 1);
}

#[test]
fn long_flags_and_json() {
    let a = parse(&[
        "--pipe",
        "--process",
        "--groups",
        "2",
        "--loops",
        "5",
        "--fds",
        "4",
        "--datasize",
        "10",
        "--json",
        "--no-sched-stats",
    ])
    .unwrap();
    assert!(a.json);
    let c = a.to_config().unwrap();
    assert_eq!(c.mode, Mode::Processes);
    assert!(!c.sched_stats);
}

#[test]
fn threads_and_process_conflict() {
    let e = parse(&["-T", "-P"]).unwrap_err();
    assert_eq!(e.kind(), clap::error::ErrorKind::ArgumentConflict);
}

#[test]
fn zero_values_are_rejected_with_clear_errors() {
    for (flag, word) in [
        ("-g", "--groups"),
        ("-f", "--fds"),
        ("-l", "--loops"),
        ("-s", "--datasize"),
    ] {
        let err = parse(&[flag, "0"]).unwrap().to_config().unwrap_err();
        let msg = format!("{err:#}");
        assert!(msg.contains(word), "{flag} 0 gave {msg:?}");
    }
}

#[test]
fn oversized_values_are_rejected() {
    let big = (MAX_DATASIZE + 1).to_string();
    let msg = format!(
        "{:#}",
        parse(&["-s", &big]).unwrap().to_config().unwrap_err()
    );
    assert!(msg.contains("maximum"), "{msg}");
    let msg = format!(
        "{:#}",
        parse(&["-g", "100000", "-f", "20"])
            .unwrap()
            .to_config()
            .unwrap_err()
    );
    assert!(msg.contains("too many tasks"), "{msg}");
    assert!(parse(&["-g", "-1"]).is_err());
    assert!(parse(&["-l", "x"]).is_err());
}

#[test]
fn fds_needed_depends_on_mode() {
    let mut c = Config {
        groups: 10,
        ..Config::default()
    };
    c.mode = Mode::Threads;
    assert_eq!(c.fds_needed(), 10 * 20 * 2 + 6);
    c.mode = Mode::Processes;
    assert_eq!(c.fds_needed(), 20 * 2 + 6);
}

#[test]
fn help_documents_the_mapping() {
    let mut cmd = <Args as clap::CommandFactory>::command();
    let help = cmd.render_long_help().to_string();
    assert!(help.contains("perf bench sched messaging"), "{help}");
    assert!(help.contains("rt-tests"), "{help}");
    assert!(help.contains("-T"), "{help}");
}

#[test]
fn proc_sched_parsing() {
    let text = "hackbench (124, #threads: 1)\n\
        -------------------------------------------------------------------\n\
        se.exec_start                                :         10977.252457\n\
        se.nr_migrations                             :                    7\n\
        nr_switches                                  :                   51\n\
        nr_voluntary_switches                        :                   40\n\
        nr_involuntary_switches                      :                   11\n";
    let st = parse_proc_sched(text).unwrap();
    assert_eq!(st.workers, 1);
    assert_eq!(st.migrations, 7);
    assert_eq!(st.voluntary_switches, 40);
    assert_eq!(st.involuntary_switches, 11);
    assert!(parse_proc_sched("nr_switches : 3\n").is_none());
}
