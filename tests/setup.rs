//! Host tests of vm-tests/setup.sh that install nothing: its package list,
//! and what it prints when it may not install.

use std::path::Path;
use std::process::Command;

const REPO: &str = env!("CARGO_MANIFEST_DIR");

fn setup() -> Command {
    Command::new(Path::new(REPO).join("vm-tests/setup.sh"))
}

#[test]
fn lists_the_packages() {
    let o = setup().arg("--list").output().unwrap();
    assert!(o.status.success());
    let out = String::from_utf8_lossy(&o.stdout);
    for p in [
        "clang-19",
        "qemu-system-x86",
        "busybox-static",
        "jq",
        "pip:virtme-ng",
    ] {
        assert!(
            out.lines().any(|l| l == p),
            "{p} missing from --list: {out}"
        );
    }
}

#[test]
fn unknown_argument_is_refused() {
    let o = setup().arg("--frobnicate").output().unwrap();
    assert_eq!(o.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&o.stderr).contains("unknown argument '--frobnicate'"));
}

#[test]
fn without_cargo_and_vng_it_prints_the_steps_and_fails() {
    // A PATH without cargo and without any pip-installed vng; with
    // SCX_PROXY_NO_INSTALL=1 it must not install, only say what to run.
    let o = setup()
        .env("PATH", "/usr/sbin:/usr/bin:/sbin:/bin")
        .env("SCX_PROXY_NO_INSTALL", "1")
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(1));
    let e = String::from_utf8_lossy(&o.stderr);
    assert!(e.contains("missing: cargo"), "{e}");
    assert!(
        e.contains("cannot install here: SCX_PROXY_NO_INSTALL=1"),
        "{e}"
    );
    assert!(e.contains("rustup"), "{e}");
    if !Path::new("/usr/bin/vng").exists() {
        assert!(e.contains("missing: virtme-ng"), "{e}");
        assert!(e.contains("pip install") && e.contains("virtme-ng"), "{e}");
    }
}
