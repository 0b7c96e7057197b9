#!/usr/bin/env bash
# Build scx_proxy and install it as a systemd service.
#
#   ./install.sh [--prefix DIR] [--destdir DIR] [--no-build]   install
#   ./install.sh --uninstall [--prefix DIR] [--destdir DIR]    remove
#
# Installs:
#   PREFIX/bin/scx_proxy                    (PREFIX default /usr/local)
#   /etc/systemd/system/scx_proxy.service   (from services/, ExecStart -> PREFIX/bin)
#   /etc/default/scx_proxy                  (flags: SCX_PROXY_FLAGS; an existing
#                                            one is kept)
# then `systemctl daemon-reload` when systemd is running. It does not enable
# or start the service: `systemctl enable --now scx_proxy` (README, "Run it
# as a service").
#
# --prefix DIR    install the binary in DIR/bin (default /usr/local)
# --destdir DIR   stage everything under DIR (packaging, tests); no systemctl
# --no-build      install the binary already built (CARGO_TARGET_DIR or
#                 ./target, release profile) instead of running cargo build
# --uninstall     stop and disable the service, remove the binary and the
#                 unit; /etc/default/scx_proxy only if it is unchanged
#
# The build needs what vm-tests/setup.sh installs (clang-19, libbpf's
# libraries) and cargo; BPF_CLANG and LIBCLANG_PATH default to clang-19's.
set -euo pipefail

repo=$(cd "$(dirname "$0")" && pwd)
prefix=/usr/local
destdir=
build=1
action=install

say() { echo "install.sh: $*" >&2; }
die() { say "error: $*"; exit 1; }
usage() { sed -n '2,25p' "$0" | sed 's/^# \{0,1\}//'; }

while [ $# -gt 0 ]; do
	case $1 in
	--prefix) [ $# -ge 2 ] || die "--prefix needs a directory"; prefix=$2; shift ;;
	--prefix=*) prefix=${1#*=} ;;
	--destdir) [ $# -ge 2 ] || die "--destdir needs a directory"; destdir=$2; shift ;;
	--destdir=*) destdir=${1#*=} ;;
	--no-build) build=0 ;;
	--uninstall) action=uninstall ;;
	-h | --help) usage; exit 0 ;;
	*) usage >&2; die "unknown argument '$1'" ;;
	esac
	shift
done
case $prefix in
/*) ;;
*) die "--prefix must be an absolute path (got '$prefix')" ;;
esac
prefix=${prefix%/}
[ -n "$destdir" ] && destdir=$(mkdir -p "$destdir" && cd "$destdir" && pwd)

bin=$destdir$prefix/bin/scx_proxy
unit=$destdir/etc/systemd/system/scx_proxy.service
envfile=$destdir/etc/default/scx_proxy
# systemctl only for a real install on a machine where systemd runs
systemd_up() { [ -z "$destdir" ] && [ -d /run/systemd/system ] && command -v systemctl > /dev/null; }

if [ -z "$destdir" ] && [ "$(id -u)" != 0 ]; then
	die "must run as root to $action in / (or use --destdir DIR to stage)"
fi

if [ $action = uninstall ]; then
	if systemd_up; then
		systemctl disable --now scx_proxy.service 2>/dev/null || true
	fi
	rm -f "$bin" "$unit"
	say "removed $bin and $unit"
	if [ -f "$envfile" ]; then
		if cmp -s "$envfile" "$repo/services/scx_proxy.default"; then
			rm -f "$envfile"
			say "removed $envfile"
		else
			say "kept $envfile (it was changed; remove it by hand if unwanted)"
		fi
	fi
	systemd_up && systemctl daemon-reload
	exit 0
fi

target=${CARGO_TARGET_DIR:-$repo/target}
if [ $build = 1 ]; then
	command -v cargo > /dev/null || die "cargo not found (a Rust toolchain is needed; see vm-tests/setup.sh)"
	say "building: cargo build --release --bin scx_proxy"
	(cd "$repo" && BPF_CLANG=${BPF_CLANG:-clang-19} LIBCLANG_PATH=${LIBCLANG_PATH:-/usr/lib/llvm-19/lib} \
		cargo build --release -p scx_proxy --bin scx_proxy) || die "cargo build failed"
fi
built=$target/release/scx_proxy
[ -x "$built" ] || die "$built not found (build it, or drop --no-build)"

install -D -m 0755 "$built" "$bin"
install -d "$(dirname "$unit")"
sed "s|^ExecStart=/usr/local/bin/scx_proxy |ExecStart=$prefix/bin/scx_proxy |" \
	"$repo/services/scx_proxy.service" > "$unit.tmp"
grep -q "^ExecStart=$prefix/bin/scx_proxy " "$unit.tmp" || die "could not set ExecStart in $unit"
chmod 0644 "$unit.tmp"
mv "$unit.tmp" "$unit"
if [ -e "$envfile" ]; then
	say "kept the existing $envfile"
else
	install -D -m 0644 "$repo/services/scx_proxy.default" "$envfile"
fi
say "installed $bin, $unit, $envfile"
if systemd_up; then
	systemctl daemon-reload
	say "enable and start it with: systemctl enable --now scx_proxy"
else
	say "systemd is not running here (or --destdir): no daemon-reload"
fi
