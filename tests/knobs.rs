//! Live knobs (`scx_proxy ctl`): parsing, checking, all-or-nothing updates
//! and the binary's errors. The change in a running scheduler is tested in
//! the VM suite (vm-tests/suites/20-proxy.sh, proxy-live-*).
use std::collections::BTreeMap;
use std::process::Command;

use clap::Parser;
use scx_proxy::knobs::{parse_set, sets_of, Knobs, KEYS};
use scx_proxy::opts::Opts;

fn defaults() -> Knobs {
    Knobs::from_opts(&Opts::try_parse_from(["scx_proxy"]).unwrap())
}

fn sets(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

#[test]
fn flags_give_the_starting_knobs() {
    let k = defaults();
    assert_eq!(
        k.line(),
        "proxy=on cpu-donation=on kernel-locks=on futex=on max-depth=8 max-donation-us=100000"
    );
    let o = Opts::try_parse_from([
        "scx_proxy",
        "--no-proxy",
        "--no-futex",
        "--max-depth",
        "3",
        "--max-donation-us",
        "5000",
    ])
    .unwrap();
    let k = Knobs::from_opts(&o);
    assert_eq!((k.proxy, k.futex, k.kernel_locks), (0, 0, 1));
    assert_eq!((k.max_depth, k.max_donation_us), (3, 5000));
}

#[test]
fn settings_apply() {
    let k = defaults()
        .with(&sets(&[
            ("proxy", "off"),
            ("cpu-donation", "0"),
            ("kernel-locks", "false"),
            ("futex", "ON"),
            ("max-depth", "16"),
            ("max-donation-us", "100"),
        ]))
        .unwrap();
    assert_eq!(
        k.line(),
        "proxy=off cpu-donation=off kernel-locks=off futex=on max-depth=16 max-donation-us=100"
    );
    assert_eq!(
        k.changes_from(&defaults()),
        [
            "proxy on -> off",
            "cpu-donation on -> off",
            "kernel-locks on -> off",
            "max-depth 8 -> 16",
            "max-donation-us 100000 -> 100"
        ]
    );
    // what `line` prints is what `ctl` takes back
    let back: BTreeMap<_, _> = k.line().split(' ').map(|s| parse_set(s).unwrap()).collect();
    assert_eq!(defaults().with(&back).unwrap(), k);
}

#[test]
fn one_bad_setting_changes_nothing() {
    let k = defaults();
    for bad in [
        &[("proxy", "off"), ("max-depth", "17")][..],
        &[("proxy", "maybe")],
        &[("max-depth", "0")],
        &[("max-donation-us", "99")],
        &[("max-donation-us", "10000001")],
        &[("max-donation-us", "-5")],
        &[("max-donation-us", "1e3")],
        &[("futex", "")],
        &[("slice-us", "100")],
    ] {
        // the error names the bad key (the last of each case)
        let err = k.with(&sets(bad)).unwrap_err().to_string();
        let key = bad.last().unwrap().0;
        assert!(
            err.contains(&format!("{key:?}")) || err.contains(&format!("{key}=")),
            "{bad:?}: {err}"
        );
    }
    assert_eq!(k, defaults());
    let err = k.with(&sets(&[("bogus", "1")])).unwrap_err().to_string();
    for (key, _) in KEYS {
        assert!(err.contains(key), "the error lists {key}: {err}");
    }
}

#[test]
fn key_value_syntax() {
    assert_eq!(
        parse_set("max-depth=3").unwrap(),
        ("max-depth".into(), "3".into())
    );
    for bad in ["proxy", "=off", "proxy=", "target=top", ""] {
        assert!(parse_set(bad).is_err(), "{bad:?}");
    }
    let args = sets(&[("target", "knobs"), ("proxy", "off")]);
    assert_eq!(sets_of(&args), sets(&[("proxy", "off")]));
}

#[test]
fn ctl_help_lists_every_key() {
    let bin = env!("CARGO_BIN_EXE_scx_proxy");
    let out = Command::new(bin).args(["ctl", "--help"]).output().unwrap();
    assert!(out.status.success());
    let help = String::from_utf8_lossy(&out.stdout);
    for (key, _) in KEYS {
        assert!(
            help.contains(&format!("{key}=")),
            "ctl --help names {key}: {help}"
        );
    }
}

#[test]
fn ctl_errors_are_clear() {
    let bin = env!("CARGO_BIN_EXE_scx_proxy");
    let run = |args: &[&str]| {
        let out = Command::new(bin).args(args).output().unwrap();
        (
            out.status.code(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    };
    let (rc, err) = run(&["ctl", "max-depth=99"]);
    assert_eq!(rc, Some(1));
    assert!(
        err.contains("max-depth=99: max-depth is a whole number from 1 to 16"),
        "{err}"
    );
    let (rc, err) = run(&["ctl", "proxy=off", "proxy=on"]);
    assert_eq!(rc, Some(1));
    assert!(err.contains("given twice"), "{err}");
    let (rc, err) = run(&["ctl", "proxy"]);
    assert_eq!(rc, Some(1));
    assert!(err.contains("not KEY=VALUE"), "{err}");
    if !std::path::Path::new("/sys/kernel/sched_ext").exists() {
        let (rc, err) = run(&["ctl", "proxy=off"]);
        assert_eq!(rc, Some(1));
        assert!(err.contains("has no sched_ext"), "{err}");
    } else {
        eprintln!(
            "NOTE: this host has sched_ext: ctl against no scheduler is checked in the VM suite"
        );
    }
}
