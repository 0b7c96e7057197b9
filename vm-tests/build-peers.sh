#!/usr/bin/env bash
# Builds the peer sched_ext schedulers that sched-harness compares scx_proxy
# with (scx_bpfland, scx_lavd) into /var/cache/scx_proxy/peers/bin.
# Opt-in: a long build (BPF + Rust, tens of minutes on 2 cores). Skips each
# peer already installed at the pinned version.
#
# Usage: vm-tests/build-peers.sh [--force] [scx_bpfland|scx_lavd ...]
#        (no names: both)
# Env:   PEERS_ROOT (default /var/cache/scx_proxy/peers), BPF_CLANG, LIBCLANG_PATH
set -euo pipefail

SCX_BPFLAND_VERSION=1.1.4
SCX_LAVD_VERSION=1.1.4

PEERS_ROOT=${PEERS_ROOT:-/var/cache/scx_proxy/peers}
export BPF_CLANG=${BPF_CLANG:-clang-19}
export LIBCLANG_PATH=${LIBCLANG_PATH:-/usr/lib/llvm-19/lib}
FORCE=0
EXTRA=()
if [[ ${1:-} == --force ]]; then FORCE=1; EXTRA=(--force); shift; fi
WANT=("$@")
for w in "${WANT[@]}"; do
    case $w in
    scx_bpfland | scx_lavd) ;;
    *) echo "build-peers: unknown peer '$w' (scx_bpfland, scx_lavd)" >&2; exit 2 ;;
    esac
done

command -v "$BPF_CLANG" >/dev/null || { echo "build-peers: $BPF_CLANG not found (apt-get install clang-19)" >&2; exit 1; }
[[ -d $LIBCLANG_PATH ]] || { echo "build-peers: LIBCLANG_PATH=$LIBCLANG_PATH does not exist" >&2; exit 1; }

# installed <crate> <version>: true when cargo's install record has it.
installed() {
    [[ -x $PEERS_ROOT/bin/$1 ]] &&
        grep -qs "\"$1 $2 (registry" "$PEERS_ROOT/.crates2.json"
}

mkdir -p "$PEERS_ROOT"
for spec in "scx_bpfland $SCX_BPFLAND_VERSION" "scx_lavd $SCX_LAVD_VERSION"; do
    read -r crate version <<<"$spec"
    if [[ ${#WANT[@]} -gt 0 ]] && [[ " ${WANT[*]} " != *" $crate "* ]]; then
        continue
    fi
    if [[ $FORCE == 0 ]] && installed "$crate" "$version"; then
        echo "build-peers: $crate $version already in $PEERS_ROOT/bin"
        continue
    fi
    echo "build-peers: installing $crate $version into $PEERS_ROOT"
    cargo install --locked --root "$PEERS_ROOT" --version "=$version" "${EXTRA[@]}" "$crate"
done
ls -l "$PEERS_ROOT/bin"
