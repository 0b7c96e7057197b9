#!/usr/bin/env bash
# Install what scx_proxy's build and VM suite need, if it is missing.
#
#   vm-tests/setup.sh           check; install what is missing (Debian/Ubuntu, root)
#   vm-tests/setup.sh --check   check only: list what is missing, exit 1 if anything is
#   vm-tests/setup.sh --list    print the apt packages and the pip package, one a line
#
# Called by vm-tests/run at its start (every mode). When everything is
# present it is a fast no-op (one dpkg-query and one `vng --version`). What
# it installs:
#   - apt: the packages in APT_PACKAGES below (compiler and libraries for the
#     BPF build, QEMU and busybox for virtme-ng, the guest's workload tools);
#   - pip: virtme-ng (the `vng` VM runner; not packaged in Debian 12);
#   - on Debian 12, QEMU 10 from bookworm-backports in place of 12's 7.2:
#     QEMU before 8.1 lets a vCPU run a stale translation of kernel text
#     that another vCPU has just patched (fixed upstream by "accel/tcg:
#     Always lock pages before translation"), and multi-threaded boots died
#     of it ("Oops: int3" in __schedule, scx_tick, ...) when sched_ext's
#     static keys flipped: a CI run's 6.12 boot twice, then a third panic;
# and it requires cargo (a Rust toolchain), which it does not install.
# Where it cannot install (no apt-get, not root, SCX_PROXY_NO_INSTALL=1) it
# prints the exact commands that would and exits 1.
set -euo pipefail

APT_PACKAGES=(
	clang-19 libclang-19-dev llvm-19 libelf-dev zlib1g-dev libzstd-dev pkg-config
	qemu-system-x86 busybox-static kmod xz-utils debian-archive-keyring
	stress-ng linux-perf rt-tests jq util-linux bc procps bpftool fio e2fsprogs
)
PIP_PACKAGE=virtme-ng
# the first QEMU with the fix for the stale-translation race (above)
QEMU_MIN=8.1
QEMU_PACKAGES=(qemu-system-x86 qemu-system-common qemu-system-data)
BACKPORTS_SOURCES=/etc/apt/sources.list.d/scx-proxy-bookworm-backports.sources

say() { echo "setup: $*" >&2; }

usage() {
	sed -n '2,16p' "$0" | sed 's/^# \{0,1\}//'
}

mode=install
case ${1:-} in
'') ;;
--check) mode=check ;;
--list)
	printf '%s\n' "${APT_PACKAGES[@]}" "pip:$PIP_PACKAGE"
	exit 0
	;;
-h | --help)
	usage
	exit 0
	;;
*)
	say "error: unknown argument '$1'"
	usage >&2
	exit 2
	;;
esac

t0=$(date +%s.%N)
elapsed() { awk -v a="$t0" -v b="$(date +%s.%N)" 'BEGIN { printf "%.2f", b - a }'; }

# missing_apt: the APT_PACKAGES that dpkg does not have installed.
missing_apt() {
	command -v dpkg-query > /dev/null || {
		printf '%s\n' "${APT_PACKAGES[@]}"
		return
	}
	local installed
	installed=$(dpkg-query -W -f='${db:Status-Abbrev} ${Package}\n' "${APT_PACKAGES[@]}" 2>/dev/null |
		awk '$1 == "ii" { sub(/:.*/, "", $2); print $2 }' || true)
	local p
	for p in "${APT_PACKAGES[@]}"; do
		grep -qxF "$p" <<< "$installed" || echo "$p"
	done
}

# vng_ok: virtme-ng runs (a pyenv shim left behind by an uninstall exists
# but fails, so `command -v` is not enough).
vng_ok() { vng --version > /dev/null 2>&1; }

# pip_cmd: how to run pip for the python that should own vng.
pip_cmd() {
	local py
	py=$(command -v python3 || true)
	[ -n "$py" ] || return 1
	echo "$py -m pip install --quiet"
	# PEP 668: a distribution's own python refuses pip installs unless told.
	if "$py" -c 'import sys, sysconfig, os; sys.exit(not os.path.exists(os.path.join(sysconfig.get_paths()["stdlib"], "EXTERNALLY-MANAGED")))' 2>/dev/null; then
		echo "--break-system-packages"
	fi
}

# qemu_version: the installed qemu-system-x86_64's version, or nothing.
qemu_version() { qemu-system-x86_64 --version 2> /dev/null | awk 'NR == 1 { print $4 }'; }

# qemu_old: the installed QEMU is older than QEMU_MIN.
qemu_old() {
	local v
	v=$(qemu_version)
	[ -n "$v" ] && ! printf '%s\n%s\n' "$QEMU_MIN" "$v" | sort -V -C
}

# on_bookworm: Debian 12, whose backports suite has a newer QEMU.
on_bookworm() { [ "$(. /etc/os-release 2> /dev/null && echo "${VERSION_CODENAME:-}")" = bookworm ]; }

# backports_sources: the apt sources entry for bookworm-backports (deb822).
backports_sources() {
	printf '%s\n' 'Types: deb' 'URIs: http://deb.debian.org/debian' 'Suites: bookworm-backports' \
		'Components: main' 'Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg'
}

# qemu_backports: install QEMU_PACKAGES from bookworm-backports (adding that
# suite to apt's sources first), nothing else from there.
qemu_backports() {
	say "QEMU $(qemu_version) is older than $QEMU_MIN (multi-threaded TCG runs stale kernel text); installing QEMU from bookworm-backports"
	if [ ! -f "$BACKPORTS_SOURCES" ]; then
		backports_sources > "$BACKPORTS_SOURCES" || { say "error: cannot write $BACKPORTS_SOURCES"; exit 1; }
	fi
	DEBIAN_FRONTEND=noninteractive apt-get update -q >&2 || { say "error: apt-get update failed"; exit 1; }
	DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends \
		"${QEMU_PACKAGES[@]/%//bookworm-backports}" >&2 ||
		{ say "error: apt-get install ${QEMU_PACKAGES[*]/%//bookworm-backports} failed"; exit 1; }
	qemu_old && { say "error: QEMU is still $(qemu_version) after installing it from bookworm-backports"; exit 1; }
	say "QEMU is now $(qemu_version)"
}

mapfile -t apt_missing < <(missing_apt)
vng_missing=0
vng_ok || vng_missing=1
cargo_missing=0
command -v cargo > /dev/null || cargo_missing=1

# an old QEMU is replaced where a newer one can be had (Debian 12); elsewhere
# the runner's retries of boots that died of the fault (vm-tests/run) remain
qemu_upgrade=0
if qemu_old; then
	if on_bookworm; then
		qemu_upgrade=1
	else
		say "warning: QEMU $(qemu_version) is older than $QEMU_MIN: multi-threaded boots may die of its stale-translation fault (\"Oops: int3\"; vm-tests/run runs them again); install QEMU $QEMU_MIN or later"
	fi
fi

if [ ${#apt_missing[@]} -eq 0 ] && [ $vng_missing = 0 ] && [ $cargo_missing = 0 ] && [ $qemu_upgrade = 0 ]; then
	say "all ${#APT_PACKAGES[@]} apt packages (QEMU $(qemu_version)), virtme-ng and cargo present ($(elapsed)s)"
	exit 0
fi

[ ${#apt_missing[@]} -gt 0 ] && say "missing apt packages: ${apt_missing[*]}"
[ $vng_missing = 1 ] && say "missing: virtme-ng (vng does not run)"
[ $cargo_missing = 1 ] && say "missing: cargo (a Rust toolchain; this script does not install it)"
[ $qemu_upgrade = 1 ] && say "missing: QEMU >= $QEMU_MIN (installed: $(qemu_version)); bookworm-backports has one"

pip=$(pip_cmd | tr "\n" " " | sed "s/  */ /g" || true)
apt_cmd="apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends ${apt_missing[*]:-}"
# manual_steps REASON: print what to run instead, and fail.
manual_steps() {
	say "error: cannot install here: $1. Run these (as root, on Debian/Ubuntu), then try again:"
	[ ${#apt_missing[@]} -gt 0 ] && say "  $apt_cmd"
	[ $qemu_upgrade = 1 ] && say "  printf '%s\\n' $(backports_sources | sed "s/.*/'&'/" | tr '\n' ' ')> $BACKPORTS_SOURCES && apt-get update && apt-get install -y --no-install-recommends ${QEMU_PACKAGES[*]/%//bookworm-backports}"
	if [ $vng_missing = 1 ]; then
		if [ -n "$pip" ]; then
			say "  $pip$PIP_PACKAGE"
		else
			say "  (install python3 and python3-pip, then) python3 -m pip install $PIP_PACKAGE"
		fi
	fi
	cargo_steps
	exit 1
}
# cargo_steps: how to get cargo, if it is missing.
cargo_steps() {
	[ $cargo_missing = 1 ] || return 0
	say "  curl --proto '=https' --tlsv1.2 -sSf https://sh.rustup.rs | sh -s -- -y && . ~/.cargo/env"
	say "  (or any Rust toolchain with cargo on PATH; this script does not install it)"
}

[ $mode = check ] && manual_steps "--check given"
[ "${SCX_PROXY_NO_INSTALL:-0}" = 1 ] && manual_steps "SCX_PROXY_NO_INSTALL=1"
[ "$(id -u)" = 0 ] || manual_steps "not root"
command -v apt-get > /dev/null && command -v dpkg-query > /dev/null ||
	manual_steps "no apt-get/dpkg (not Debian or Ubuntu)"

if [ ${#apt_missing[@]} -gt 0 ]; then
	say "installing: ${apt_missing[*]}"
	export DEBIAN_FRONTEND=noninteractive
	apt-get update -q >&2 || { say "error: apt-get update failed"; exit 1; }
	apt-get install -y -q --no-install-recommends "${apt_missing[@]}" >&2 ||
		{ say "error: apt-get install ${apt_missing[*]} failed"; exit 1; }
	mapfile -t still < <(missing_apt)
	[ ${#still[@]} -eq 0 ] || { say "error: still missing after apt-get install: ${still[*]}"; exit 1; }
fi

# after the apt packages: a fresh machine gets Debian 12's QEMU 7.2 there
qemu_old && on_bookworm && qemu_backports

if [ $vng_missing = 1 ]; then
	if [ -z "$pip" ] || ! python3 -m pip --version > /dev/null 2>&1; then
		say "installing python3-pip (for virtme-ng)"
		DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends python3-pip >&2 ||
			{ say "error: apt-get install python3-pip failed"; exit 1; }
		pip=$(pip_cmd | tr "\n" " ")
	fi
	say "installing $PIP_PACKAGE: $pip$PIP_PACKAGE"
	# shellcheck disable=SC2086 # $pip is a command line
	$pip "$PIP_PACKAGE" >&2 || { say "error: pip install $PIP_PACKAGE failed"; exit 1; }
	hash -r
	command -v pyenv > /dev/null && pyenv rehash 2>/dev/null
	vng_ok || { say "error: vng still does not run after installing $PIP_PACKAGE (is $(dirname "$(command -v python3)") on PATH?)"; exit 1; }
fi
if [ $cargo_missing = 1 ]; then
	say "error: cargo not found; install it, then run again:"
	cargo_steps
	exit 1
fi
say "done: everything present ($(elapsed)s)"
