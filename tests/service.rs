//! Host tests of the systemd unit, its environment file and install.sh
//! (services/, install.sh). Nothing is installed on the host: install.sh
//! runs with --destdir into a temporary tree. Where `systemd-analyze` is
//! available the unit is also checked with `systemd-analyze verify`.

use std::collections::BTreeMap;
use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

const REPO: &str = env!("CARGO_MANIFEST_DIR");

/// section -> key -> values (a key may repeat).
type Unit = BTreeMap<String, BTreeMap<String, Vec<String>>>;

fn parse_unit(text: &str) -> Result<Unit, String> {
    let mut unit = Unit::new();
    let mut section: Option<String> = None;
    for (n, raw) in text.lines().enumerate() {
        let line = raw.trim();
        if line.is_empty() || line.starts_with('#') || line.starts_with(';') {
            continue;
        }
        if let Some(s) = line.strip_prefix('[').and_then(|l| l.strip_suffix(']')) {
            section = Some(s.to_string());
            unit.entry(s.to_string()).or_default();
            continue;
        }
        let Some(sec) = &section else {
            return Err(format!("line {}: key outside a section: {raw}", n + 1));
        };
        let Some((k, v)) = line.split_once('=') else {
            return Err(format!("line {}: not key=value: {raw}", n + 1));
        };
        unit.get_mut(sec)
            .unwrap()
            .entry(k.trim().to_string())
            .or_default()
            .push(v.trim().to_string());
    }
    Ok(unit)
}

fn one<'a>(u: &'a Unit, sec: &str, key: &str) -> &'a str {
    let v = u
        .get(sec)
        .and_then(|s| s.get(key))
        .unwrap_or_else(|| panic!("[{sec}] {key} missing"));
    assert_eq!(v.len(), 1, "[{sec}] {key} given {} times", v.len());
    &v[0]
}

fn unit_text() -> String {
    fs::read_to_string(Path::new(REPO).join("services/scx_proxy.service")).unwrap()
}

fn tmpdir(tag: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("scx-service-{tag}-{}", std::process::id()));
    let _ = fs::remove_dir_all(&d);
    fs::create_dir_all(&d).unwrap();
    d
}

#[test]
fn unit_parser_rejects_garbage() {
    assert!(parse_unit("Foo=bar\n").is_err());
    assert!(parse_unit("[Unit]\nno equals sign\n").is_err());
    let u = parse_unit("[A]\nk=1\nk=2\n").unwrap();
    assert_eq!(u["A"]["k"], vec!["1", "2"]);
}

#[test]
fn unit_has_the_required_keys() {
    let u = parse_unit(&unit_text()).unwrap();
    let sections: Vec<&str> = u.keys().map(String::as_str).collect();
    assert_eq!(sections, ["Install", "Service", "Unit"]);
    assert!(!one(&u, "Unit", "Description").is_empty());
    assert_eq!(one(&u, "Service", "Type"), "simple");
    assert_eq!(
        one(&u, "Service", "EnvironmentFile"),
        "-/etc/default/scx_proxy"
    );
    assert_eq!(
        one(&u, "Service", "ExecStart"),
        "/usr/local/bin/scx_proxy $SCX_PROXY_FLAGS"
    );
    assert_eq!(one(&u, "Service", "Restart"), "on-failure");
    // the daemon's stderr (the kernel's exit reason) goes to the journal
    assert_eq!(one(&u, "Service", "StandardError"), "journal");
    assert_eq!(one(&u, "Install", "WantedBy"), "multi-user.target");
    // no typos: only keys this unit means to use
    let known = [
        "Description",
        "After",
        "StartLimitIntervalSec",
        "StartLimitBurst",
        "Type",
        "EnvironmentFile",
        "ExecStart",
        "Restart",
        "RestartSec",
        "KillSignal",
        "TimeoutStopSec",
        "StandardOutput",
        "StandardError",
        "SyslogIdentifier",
        "WantedBy",
    ];
    for (sec, keys) in &u {
        for k in keys.keys() {
            assert!(known.contains(&k.as_str()), "unexpected key [{sec}] {k}");
        }
    }
}

#[test]
fn env_file_sets_the_flags_variable() {
    let text = fs::read_to_string(Path::new(REPO).join("services/scx_proxy.default")).unwrap();
    let assigns: Vec<&str> = text
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .collect();
    assert_eq!(assigns, ["SCX_PROXY_FLAGS=\"\""], "{text}");
    // and a shell (as systemd's EnvironmentFile reads it: KEY=value) agrees
    let o = Command::new("bash")
        .arg("-c")
        .arg(format!(
            "set -u; . {}/services/scx_proxy.default; printf '[%s]' \"$SCX_PROXY_FLAGS\"",
            REPO
        ))
        .output()
        .unwrap();
    assert_eq!(String::from_utf8_lossy(&o.stdout), "[]");
}

fn install(args: &[&str], target: &Path) -> Output {
    Command::new(Path::new(REPO).join("install.sh"))
        .args(args)
        .env("CARGO_TARGET_DIR", target)
        .output()
        .unwrap()
}

#[test]
fn install_and_uninstall_into_a_staging_tree() {
    let d = tmpdir("install");
    // a stand-in for the built binary (--no-build: nothing is compiled)
    let target = d.join("target");
    fs::create_dir_all(target.join("release")).unwrap();
    let fake = target.join("release/scx_proxy");
    fs::write(&fake, "#!/bin/sh\necho fake scx_proxy\n").unwrap();
    fs::set_permissions(&fake, fs::Permissions::from_mode(0o755)).unwrap();
    let stage = d.join("stage");
    let st = stage.to_str().unwrap();

    let o = install(
        &["--destdir", st, "--prefix", "/opt/scx", "--no-build"],
        &target,
    );
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let bin = stage.join("opt/scx/bin/scx_proxy");
    let unit = stage.join("etc/systemd/system/scx_proxy.service");
    let env = stage.join("etc/default/scx_proxy");
    assert_eq!(
        fs::metadata(&bin).unwrap().permissions().mode() & 0o777,
        0o755
    );
    let u = parse_unit(&fs::read_to_string(&unit).unwrap()).unwrap();
    assert_eq!(
        one(&u, "Service", "ExecStart"),
        "/opt/scx/bin/scx_proxy $SCX_PROXY_FLAGS",
        "ExecStart follows --prefix"
    );
    assert!(fs::read_to_string(&env)
        .unwrap()
        .contains("SCX_PROXY_FLAGS=\"\""));

    // a second install keeps the administrator's flags
    fs::write(&env, "SCX_PROXY_FLAGS=\"--no-proxy\"\n").unwrap();
    let o = install(
        &["--destdir", st, "--prefix", "/opt/scx", "--no-build"],
        &target,
    );
    assert!(o.status.success());
    assert!(String::from_utf8_lossy(&o.stderr).contains("kept the existing"));
    assert_eq!(
        fs::read_to_string(&env).unwrap(),
        "SCX_PROXY_FLAGS=\"--no-proxy\"\n"
    );

    // uninstall: binary and unit gone, the changed env file kept
    let o = install(
        &["--destdir", st, "--prefix", "/opt/scx", "--uninstall"],
        &target,
    );
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert!(!bin.exists() && !unit.exists());
    assert!(env.exists(), "a changed env file is kept");
    // an unchanged one is removed
    fs::copy(Path::new(REPO).join("services/scx_proxy.default"), &env).unwrap();
    let o = install(&["--destdir", st, "--uninstall"], &target);
    assert!(o.status.success());
    assert!(!env.exists());
    fs::remove_dir_all(&d).unwrap();
}

#[test]
fn install_refuses_bad_arguments() {
    let d = tmpdir("badargs");
    let st = d.to_str().unwrap();
    for (args, want) in [
        (vec!["--bogus"], "unknown argument '--bogus'"),
        (
            vec!["--prefix", "relative/dir"],
            "--prefix must be an absolute path",
        ),
        (vec!["--prefix"], "--prefix needs a directory"),
        // nothing built in an empty target dir
        (vec!["--destdir", st, "--no-build"], "not found (build it"),
    ] {
        let o = install(&args, &d.join("empty-target"));
        assert_eq!(o.status.code(), Some(1), "{args:?}");
        let e = String::from_utf8_lossy(&o.stderr);
        assert!(e.contains(want), "{args:?}: {e}");
    }
    let o = install(&["--help"], &d);
    assert!(o.status.success());
    assert!(String::from_utf8_lossy(&o.stdout).contains("--uninstall"));
    fs::remove_dir_all(&d).unwrap();
}

/// `systemd-analyze verify` on a copy of the unit whose ExecStart is an
/// existing binary (verify checks that it is executable); Some(clean) or
/// None without systemd-analyze.
fn analyze(unit_text: &str, tag: &str) -> Option<(bool, String)> {
    if Command::new("systemd-analyze")
        .arg("--version")
        .output()
        .is_err()
    {
        return None;
    }
    let d = tmpdir(tag);
    let p = d.join("scx_proxy.service");
    let text = unit_text.replace(
        "ExecStart=/usr/local/bin/scx_proxy ",
        "ExecStart=/bin/true ",
    );
    fs::write(&p, text).unwrap();
    let o = Command::new("systemd-analyze")
        .arg("verify")
        .arg(&p)
        .output()
        .unwrap();
    fs::remove_dir_all(&d).unwrap();
    let msg = format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    );
    Some((o.status.success() && msg.trim().is_empty(), msg))
}

#[test]
fn systemd_analyze_verify_is_clean() {
    let text = unit_text();
    let Some((clean, msg)) = analyze(&text, "verify") else {
        eprintln!("systemd-analyze not installed: unit checked by the parser tests only");
        return;
    };
    assert!(clean, "systemd-analyze verify: {msg}");
    // the check can fail: a misspelt key and a bad Restart= are reported
    let bad = text
        .replace("Type=simple", "Tpye=simple")
        .replace("Restart=on-failure", "Restart=sometimes");
    let (clean, msg) = analyze(&bad, "verify-bad").unwrap();
    assert!(!clean, "a broken unit passed: {msg}");
    assert!(msg.contains("Tpye"), "{msg}");
}
