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

/// Runs setup.sh (installing nothing) with a stand-in qemu-system-x86_64
/// that reports `version`, first on PATH; returns its stderr.
fn with_qemu_version(version: &str) -> String {
    use std::os::unix::fs::PermissionsExt;
    let dir = std::env::temp_dir().join(format!(
        "scx-proxy-setup-qemu-{}-{version}",
        std::process::id()
    ));
    std::fs::create_dir_all(&dir).unwrap();
    let fake = dir.join("qemu-system-x86_64");
    std::fs::write(
        &fake,
        format!("#!/bin/sh\necho 'QEMU emulator version {version} (stand-in)'\n"),
    )
    .unwrap();
    std::fs::set_permissions(&fake, std::fs::Permissions::from_mode(0o755)).unwrap();
    let o = setup()
        .env(
            "PATH",
            format!("{}:/usr/sbin:/usr/bin:/sbin:/bin", dir.display()),
        )
        .env("SCX_PROXY_NO_INSTALL", "1")
        .output()
        .unwrap();
    std::fs::remove_dir_all(&dir).unwrap();
    String::from_utf8_lossy(&o.stderr).into_owned()
}

#[test]
fn qemu_before_8_1_is_replaced_on_bookworm_and_flagged_elsewhere() {
    let bookworm = std::fs::read_to_string("/etc/os-release")
        .is_ok_and(|s| s.lines().any(|l| l == "VERSION_CODENAME=bookworm"));
    let e = with_qemu_version("7.2.22");
    if bookworm {
        assert!(
            e.contains("missing: QEMU >= 8.1 (installed: 7.2.22)"),
            "{e}"
        );
        assert!(e.contains("qemu-system-x86/bookworm-backports"), "{e}");
    } else {
        assert!(e.contains("warning: QEMU 7.2.22 is older than 8.1"), "{e}");
    }
    for ok in ["8.1.0", "10.0.2"] {
        let e = with_qemu_version(ok);
        assert!(
            !e.contains("QEMU >= 8.1") && !e.contains("older than"),
            "{ok}: {e}"
        );
    }
}
