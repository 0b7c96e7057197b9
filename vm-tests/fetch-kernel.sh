#!/usr/bin/env bash
# Fetch Debian's prebuilt sched_ext kernel into the cache and make it bootable
# by virtme-ng, without touching the system's apt sources.
#
#   vm-tests/fetch-kernel.sh            prints the kernel release when ready
#
# Environment: SCX_PROXY_CACHE (default /var/cache/scx_proxy),
#              SCX_PROXY_KERNEL_VERSION (default from vm-tests/kernel.conf).
#
# What "bootable" means here (see the project README):
#  - /lib/modules/<release>/ holds the kernel's modules and vmlinuz, depmod run
#    (vng loads the guest's 9p/overlay modules from the host's /lib/modules);
#  - /boot/config-<release> holds the kernel config: libbpf resolves __kconfig
#    externs from it and fails with "failed to open system Kconfig" without it.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
. "$here/kernel.conf"
cache=${SCX_PROXY_CACHE:-/var/cache/scx_proxy}
version=${SCX_PROXY_KERNEL_VERSION:-$KERNEL_VERSION_DEFAULT}
release="$version-amd64"
series=${version%%.*}.$(echo "$version" | cut -d. -f2)   # 7.3.4+deb13 -> 7.3
kdir="$cache/kernels/$release"

log() { echo "fetch-kernel: $*" >&2; }
die() { echo "fetch-kernel: error: $*" >&2; exit 1; }

if [ -f "$kdir/.complete" ] && [ -f "/lib/modules/$release/vmlinuz" ] &&
   [ -f "/boot/config-$release" ] && [ -f "/lib/modules/$release/modules.dep" ]; then
	echo "$release"
	exit 0
fi

[ "$(id -u)" = 0 ] || die "must run as root (installs /lib/modules/$release and /boot/config-$release)"
for t in apt-get dpkg-deb depmod xz; do
	command -v "$t" >/dev/null || die "$t not found"
done

mkdir -p "$kdir/apt/lists/partial" "$kdir/apt/cache/archives/partial" "$kdir/debs"
if [ ! -f "$kdir/.complete" ]; then
	# The Debian mirror the system's own sources already use.
	mirror=$(grep -rhoE 'https?://[^ ]*debian[^ ]*' /etc/apt/sources.list /etc/apt/sources.list.d/ 2>/dev/null |
		grep -v security | grep -v snapshot | head -n1 || true)
	[ -n "$mirror" ] || die "no Debian mirror found in /etc/apt/sources.list*"
	keyring=/usr/share/keyrings/debian-archive-keyring.gpg
	[ -f "$keyring" ] || die "$keyring missing (package debian-archive-keyring)"
	echo "deb [signed-by=$keyring] $mirror $KERNEL_SUITE main" > "$kdir/apt/sources.list"
	aptopts=(-o "Dir::Etc::sourcelist=$kdir/apt/sources.list" -o Dir::Etc::sourceparts=-
		 -o "Dir::State::Lists=$kdir/apt/lists" -o "Dir::Cache=$kdir/apt/cache"
		 -o APT::Get::List-Cleanup=0 -o Debug::NoLocking=1)
	log "reading $KERNEL_SUITE from $mirror"
	apt-get -q "${aptopts[@]}" update >&2 || die "apt-get update of $KERNEL_SUITE failed"
	pkgs=("linux-binary-$release" "linux-modules-$release" "linux-config-$series")
	log "downloading ${pkgs[*]}"
	(cd "$kdir/debs" && apt-get -q "${aptopts[@]}" download "${pkgs[@]}" >&2) ||
		die "download failed; available kernels: $(apt-cache "${aptopts[@]}" search --names-only '^linux-binary-7' 2>/dev/null | cut -d' ' -f1 | tr '\n' ' ')"
	rm -rf "$kdir/root" && mkdir -p "$kdir/root"
	for d in "$kdir"/debs/*.deb; do
		dpkg-deb -x "$d" "$kdir/root"
	done
	touch "$kdir/.complete"
fi

src="$kdir/root/usr/lib/modules/$release"
[ -f "$src/vmlinuz" ] || die "$src/vmlinuz missing after unpacking"
mkdir -p /lib/modules
rm -rf "/lib/modules/$release"
cp -a "$src" "/lib/modules/$release"
depmod "$release"
cfg=$(find "$kdir/root" -name 'config.amd64_none_amd64.xz' | head -n1)
[ -n "$cfg" ] || die "config.amd64_none_amd64.xz not found in linux-config-$series"
mkdir -p /boot
xz -dc "$cfg" > "/boot/config-$release"
grep -q '^CONFIG_SCHED_CLASS_EXT=y' "/boot/config-$release" || die "$release has no CONFIG_SCHED_CLASS_EXT"
log "kernel $release ready"
echo "$release"
