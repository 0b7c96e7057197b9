#!/usr/bin/env bash
# Storm verdicts outside CI (issues 9 and 14): boot the sched_ext kernel N
# times and run the storm line under each scheduler configuration in every
# boot, with a host-side deadline per boot, and print one verdict a boot
# (completed, HUNG, PANICKED, DIED) and one line a run.
#
#   vm-tests/manual/storm-verdict.sh [-n BOOTS] [-t SECS] [-d DEADLINE] [MODE...]
#
# MODE is default (the kernel's scheduler), noproxy (scx_proxy --no-proxy),
# proxy (scx_proxy) or bpfland (scx_bpfland from vm-tests/build-peers.sh);
# without MODEs: default noproxy proxy, and bpfland when it is built. Runs
# go in that order in each boot, so a peer that hangs the boot (issue 14:
# scx_bpfland 1.1.4 hung 3 boots of 5) loses no other run.
#   -n BOOTS     boots (default 1)
#   -t SECS      storm length (default 90; 600 is issue 9's soak)
#   -d DEADLINE  seconds before the host kills a boot (default: 200 a run
#                plus 3 x the storm length a run, plus 120)
# A run's line: samples of /sys/kernel/sched_ext/state taken every 1 s by a
# SCHED_FIFO 99 sampler, how many were not "enabled" (scx runs only), the
# storm's exit code and length, RCU stall reports, scx_proxy's longest
# runnable wait, and the scheduler's exit line. With -t 600 and mode proxy
# it is the soak; a 2-deep futex chain inside a new pid namespace
# (unshare -pf) runs first in every scx_proxy run.
#
# Results: $SCX_PROXY_RESULTS (default results/verdict)/bN/, summary.txt.
# Needs what vm-tests/run needs, and a release build (vm-tests/run builds it).
set -uo pipefail

# shellcheck source=vm-tests/host.sh
. "$(dirname "$0")/../host.sh"

STORM=(stress-ng --mutex 2 --futex 2 --rename 2 --pthread 2 --exit-group 2
	--flock 2 --sem 2 --fork 2 --switch 2 --metrics-brief)

# --- guest side -----------------------------------------------------------------
if [ "${1:-}" = --guest ]; then
	out=$2 secs=$3
	shift 3
	bin=$SCX_PROXY_TARGET/release/scx_proxy
	peers=$SCX_PROXY_CACHE/peers/bin
	fixtures=$(dirname "$0")/../fixtures
	mkdir -p "$out"
	cd /tmp || exit 1
	echo +cpu > /sys/fs/cgroup/cgroup.subtree_control 2> /dev/null
	# the sampler sleeps on a FIFO nobody writes: read -t is its timer
	mkfifo /tmp/verdict-never 2> /dev/null
	exec {never}<> /tmp/verdict-never
	rcu() { dmesg | grep -cE 'rcu: INFO: .*detected stall|rcu_preempt kthread starved'; }
	state() { cat /sys/kernel/sched_ext/state 2> /dev/null; }
	for mode in "$@"; do
		pid= log=$out/sched-$mode.log
		case $mode in
		default) ;;
		noproxy) "$bin" --no-proxy --stats-json "$out/s-$mode.json" > "$log" 2>&1 & pid=$! ;;
		proxy) "$bin" --stats-json "$out/s-$mode.json" > "$log" 2>&1 & pid=$! ;;
		bpfland) "$peers/scx_bpfland" > "$log" 2>&1 & pid=$! ;;
		*) echo "$mode: unknown mode" >> "$out/verdict.txt"; continue ;;
		esac
		if [ -n "$pid" ]; then
			for _ in $(seq 1 300); do [ "$(state)" = enabled ] && break; sleep 0.2; done
			if [ "$(state)" != enabled ]; then
				echo "$mode did not attach: $(tail -n 2 "$log" | tr '\n' ' ')" >> "$out/verdict.txt"
				kill -KILL "$pid" 2> /dev/null
				continue
			fi
		fi
		extra=
		if [ "$mode" = proxy ] || [ "$mode" = noproxy ]; then
			rc=0
			timeout 120 unshare -pf --mount-proc sh -c 'echo "pid in namespace $$"; exec python3 "$0" 4 200' \
				"$fixtures/chain.py" > "$out/pidns-$mode.log" 2>&1 || rc=$?
			extra="pidns-chain-rc $rc ($(tr '\n' ' ' < "$out/pidns-$mode.log"))"
		fi
		st0=$(rcu) t0=$SECONDS n=0 bad=0
		mkdir -p /tmp/verdict-storm && cd /tmp/verdict-storm || exit 1
		"${STORM[@]}" --timeout "${secs}s" > "$out/storm-$mode.log" 2>&1 &
		sp=$!
		cd /tmp || exit 1
		chrt -f -R -p 99 $$ > /dev/null
		while kill -0 $sp 2> /dev/null && [ $((SECONDS - t0)) -lt $((secs * 3 + 120)) ]; do
			n=$((n + 1))
			st=x
			read -r st < /sys/kernel/sched_ext/state
			if [ -n "$pid" ] && [ "$st" != enabled ]; then bad=$((bad + 1)); fi
			read -r -t 1 -u $never _
		done
		chrt -o -p 0 $$
		kill -KILL $sp 2> /dev/null
		wait $sp
		src=$?
		if [ -n "$pid" ]; then
			kill -INT "$pid"
			wait "$pid"
		fi
		mw=$(jq -r '.metrics.max_wait_us // empty' "$out/s-$mode.json" 2> /dev/null)
		dn=$(jq -c '.metrics | {donations, depth_hist, rcu_long, rcu_reader, kthread_rescued}' "$out/s-$mode.json" 2> /dev/null)
		ex=$(grep -m1 -oE 'EXIT: .*|runnable task stall.*' "$log" 2> /dev/null)
		echo "$mode: samples $n not-attached $bad storm-rc $src secs $((SECONDS - t0)) rcu-stalls $(($(rcu) - st0)) max_wait_ms $(awk -v u="${mw:-0}" 'BEGIN { printf "%.0f", u / 1000 }') ${dn:+$dn }exit '${ex:-none}' $extra" >> "$out/verdict.txt"
	done
	echo "boot done" >> "$out/verdict.txt"
	exit 0
fi

# --- host side ------------------------------------------------------------------
repo=$(cd "$(dirname "$0")/../.." && pwd)
export SCX_PROXY_CACHE=${SCX_PROXY_CACHE:-/var/cache/scx_proxy}
export SCX_PROXY_TARGET=${CARGO_TARGET_DIR:-$SCX_PROXY_CACHE/target}
boots=1 secs=90 deadline=
while getopts n:t:d:h opt; do
	case $opt in
	n) boots=$OPTARG ;;
	t) secs=$OPTARG ;;
	d) deadline=$OPTARG ;;
	*) sed -n '2,28p' "$0" | sed 's/^# \{0,1\}//'; exit 2 ;;
	esac
done
shift $((OPTIND - 1))
modes=("$@")
if [ ${#modes[@]} -eq 0 ]; then
	modes=(default noproxy proxy)
	[ -x "$SCX_PROXY_CACHE/peers/bin/scx_bpfland" ] && modes+=(bpfland)
fi
for m in "${modes[@]}"; do
	case $m in
	default | noproxy | proxy) ;;
	bpfland) [ -x "$SCX_PROXY_CACHE/peers/bin/scx_bpfland" ] ||
		{ echo "storm-verdict: scx_bpfland is not built (vm-tests/build-peers.sh)" >&2; exit 2; } ;;
	*) echo "storm-verdict: unknown mode '$m' (default, noproxy, proxy, bpfland)" >&2; exit 2 ;;
	esac
done
[ -x "$SCX_PROXY_TARGET/release/scx_proxy" ] ||
	{ echo "storm-verdict: no release build at $SCX_PROXY_TARGET/release (run vm-tests/run vm 10 first)" >&2; exit 2; }
deadline=${deadline:-$((${#modes[@]} * (200 + 3 * secs) + 120))}
release=$("$repo/vm-tests/fetch-kernel.sh") || { echo "storm-verdict: no kernel" >&2; exit 2; }
results=${SCX_PROXY_RESULTS:-$repo/results/verdict}
mkdir -p "$results"
summary=$results/summary.txt
echo "# $(date -u +%FT%TZ) $(git -C "$repo" rev-parse --short HEAD) kernel $release, storm ${secs}s, modes ${modes[*]}, deadline ${deadline}s" >> "$summary"

for i in $(seq 1 "$boots"); do
	d=$results/b$i
	rm -rf "$d"
	mkdir -p "$d"
	t0=$SECONDS
	vng_deadline "$deadline" "$d/console.log" -v -r "$release" --disable-kvm --cpus 2 --memory 3G \
		--qemu-opts="-accel tcg,thread=single" --rodir "$SCX_PROXY_CACHE" --rwdir "$results" \
		-- "SCX_PROXY_TARGET=$SCX_PROXY_TARGET SCX_PROXY_CACHE=$SCX_PROXY_CACHE bash $repo/vm-tests/manual/storm-verdict.sh --guest $d $secs ${modes[*]}"
	rc=$?
	v=completed
	grep -q "boot done" "$d/verdict.txt" 2> /dev/null || v="DIED (vng rc $rc)"
	[ $rc = 124 ] && v="HUNG (deadline ${deadline}s passed)"
	grep -q "Kernel panic" "$d/console.log" && v=PANICKED
	ej=$(grep -E 'sched_ext: BPF scheduler .* disabled \(' "$d/console.log" | grep -vc 'unregistered from user space')
	st=$(grep -c '(disabling)' "$d/console.log")
	echo "boot $i: $v in $((SECONDS - t0)) s; ejections $ej; console lines of a scheduler stuck disabling $st" | tee -a "$summary"
	for m in "${modes[@]}"; do
		grep "^$m: " "$d/verdict.txt" 2> /dev/null ||
			echo "$m: no result (the boot ended during or before this run)"
	done | sed 's/^/  /' | tee -a "$summary"
done
