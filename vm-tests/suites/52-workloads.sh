# shellcheck shell=bash
# 52-workloads: the programs people run must not get worse (issue 11):
# wakeup latency (schbench, perf bench sched pipe), io_uring task_work
# (ping-pong plain, with COOP_TASKRUN, beside a CPU hog), an event loop
# (epoll, io_uring), a polling loop (32 us of polling, then an eventfd) and
# an aio submitter (fio libaio direct writes on ext4 over null_blk, iodepth
# 1 and 16), under the kernel default, scx_proxy and scx_bpfland when built,
# WL_RUNS interleaved repetitions in this one boot (sched-harness
# --no-hackbench --workloads all: same method and report as the hackbench
# matrix).
#
#   workloads-harness        sched-harness ran, every workload gave every
#                            metric in every repetition under the default
#                            and scx_proxy, table/JSON/chart written
#   workloads-<workload>     scx_proxy's median of the workload's primary
#                            metric(s) within WL_LIMIT (2) of the kernel
#                            default's, the p99 latencies within
#                            WL_TAIL_LIMIT (3) (ratios oriented: > 1 is
#                            worse)
#   workloads-schbench-p99   scx_proxy's median schbench p99 wakeup latency
#                            within WL_P99_FACTOR (2) of the default's (the
#                            issue's target is no worse: 720.9 against
#                            709.1 us, 1.017x, in the 5-run matrix)
#   workloads-aio-migrations the aio submitter's median migrations per 1000
#                            IOs at iodepth 1 under scx_proxy at most
#                            WL_MIGR_FACTOR (2) x the default's +
#                            WL_MIGR_SLACK (10): the regression it guards
#                            against is the bounce of the issue's thread
#                            (about 800 per 1000 IOs before scx_proxy kept
#                            a task woken by a per-CPU kworker on its CPU,
#                            scx_bpfland 835); in the 5-run matrix the
#                            kernel default gave 9.0 (4.1-14.3), scx_proxy
#                            14.2 (10.3-15.8), scx_bpfland 707.8
#   workloads-table          (reported) the medians, with scx_bpfland's
#
# This suite runs in a boot of its own under multi-threaded TCG (vm-tests/run:
# 'workloads'): under single-threaded TCG one vCPU that never halts starves
# the other until that one's next timer interrupt, so a task the guest sees
# running there holds up the tasks queued behind it for up to a tick. Every
# wakeup-latency workload measured that, not the scheduler: schbench p99
# 5.8-6.2 ms for scx_proxy against 1.9-2.0 ms for the default there, 0.67-0.73
# ms against 0.64-0.68 ms multi-threaded, same build (perf sched timehist of
# the single-threaded boot: a worker queued on CPU 0 for 4.7 ms while the
# message thread "ran" there and CPU 1 never went idle); uring-hog 4.1x the
# default single-threaded, 0.25x multi-threaded; evloop reply p99 2.1-3.95x
# and 0.97-1.12x.
#
# WL_LIMIT is 2.0 in CI, the hackbench suite's per-cell limit: the kernel
# default against itself varies by up to that much here (50-hackbench.sh),
# and p99s of 1.5 s runs more: a p99 is a few waits for a tick (4 ms), so
# it comes in steps of about 2x the default's ~2 ms. The default's own
# three evloop-epoll p99s spanned 1.9-3.3 ms in one boot, and scx_proxy's
# median was 2.02x the default's in a CI-like run on a7a4e29 (1.95x and
# 1.92x for evloop-uring and pollloop), where an earlier CI run measured
# 1.07-1.63x; hence WL_TAIL_LIMIT 3.0. sched-harness knows one limit
# (--workload-threshold WL_LIMIT), so its table.txt still marks a p99 cell
# between WL_LIMIT and WL_TAIL_LIMIT "FAIL"; the checks below are the
# verdict. The issue's targets (1.10x of the better of default and
# scx_bpfland, medians of 5 runs) are measured with `vm-tests/run vm 95`
# (multi-threaded TCG too); the README has that table.
#
# Budget: about 25 s per scheduler and repetition (10 workloads of
# WL_SECONDS, the aio ones also make a file system), so ~4 min with the
# defaults and scx_bpfland.

wl_out=$RESULTS/workloads
mkdir -p "$wl_out"
WL_RUNS=${WL_RUNS:-3}
WL_SECONDS=${WL_SECONDS:-1.5}
WL_LIMIT=${WL_LIMIT:-2.0}
WL_P99_FACTOR=${WL_P99_FACTOR:-2.0}
WL_TAIL_LIMIT=${WL_TAIL_LIMIT:-3.0}
WL_MIGR_FACTOR=${WL_MIGR_FACTOR:-2}
WL_MIGR_SLACK=${WL_MIGR_SLACK:-10}
WL_PEERS_DIR=${HB_PEERS_DIR:-/var/cache/scx_proxy/peers/bin}

wl_scheds=default,scx_proxy
for wl_peer in scx_bpfland scx_lavd; do
	[[ -x $WL_PEERS_DIR/$wl_peer ]] && wl_scheds+=",$wl_peer"
done
# WL_BASE=/path/to/a/scx_proxy (or a script exec'ing one with flags): run
# as scheduler scx_proxy-base beside the others (reported, not checked)
wl_base=()
if [[ -n ${WL_BASE:-} ]]; then
	wl_scheds+=,scx_proxy-base
	wl_base=(--scx-proxy-base "$WL_BASE")
fi

log "workloads: sched-harness --schedulers $wl_scheds --runs $WL_RUNS --workload-seconds $WL_SECONDS"
wl_rc=0
"$TOOLS_BIN/sched-harness" \
	--no-hackbench --workloads all --workload-seconds "$WL_SECONDS" \
	--schedulers "$wl_scheds" \
	--scx-proxy "$SCX_PROXY" "${wl_base[@]}" \
	--peers-dir "$WL_PEERS_DIR" \
	--runs "$WL_RUNS" \
	--workload-threshold "$WL_LIMIT" \
	--threshold-baseline default --threshold-candidate scx_proxy \
	--out-dir "$wl_out" \
	> "$wl_out/stdout.txt" 2> "$wl_out/stderr.txt" || wl_rc=$?
log "workloads: sched-harness exit status $wl_rc; table in $wl_out/table.txt"
[[ -f $wl_out/table.txt ]] && while IFS= read -r wl_line; do log "  $wl_line"; done < "$wl_out/table.txt"

wl_json=$wl_out/results.json

# wl_med SCHED CELL: median of a metric, or "nan"
wl_med() {
	jq -r --arg s "$1" --arg c "$2" \
		'[.summaries[] | select(.scheduler == $s and .cell == $c)][0].time.median // "nan"' \
		"$wl_json" 2> /dev/null || echo nan
}

wl_well_formed() {
	[[ -s $wl_json ]] || { echo "no results.json"; return 1; }
	local want n s c missing=""
	want=$(jq -r '.runs' "$wl_json") || return 1
	for s in default scx_proxy; do
		for c in $(jq -r '.metrics[].cell' "$wl_json"); do
			n=$(jq --arg s "$s" --arg c "$c" \
				'[.samples[] | select(.scheduler == $s and .cell == $c)] | length' "$wl_json")
			[[ $n == "$want" ]] || missing+=" $s:$c=$n"
		done
	done
	n=$(jq '.metrics | length' "$wl_json")
	[[ $n -ge 16 ]] || { echo "only $n metrics"; return 1; }
	[[ -z $missing ]] || { echo "samples missing (want $want each):$missing"; return 1; }
	[[ $(head -c 4 "$wl_out/ratios.png" | od -An -c | tr -d ' ') == *PNG* ]] || { echo "ratios.png is not a PNG"; return 1; }
	jq -e '.workload_threshold != null' "$wl_json" > /dev/null || { echo "no workload threshold verdict"; return 1; }
}

case $wl_rc in
0 | 1)
	if wl_msg=$(wl_well_formed 2>&1); then
		pass workloads-harness "$(jq '.samples | length' "$wl_json") samples"
	else
		fail workloads-harness "$wl_msg; $(grep -m3 'rep ' "$wl_out/stderr.txt" | grep -iE 'error|exited|not found' | tr '\n' ' ')"
	fi
	;;
*)
	fail workloads-harness "sched-harness exited $wl_rc: $(tail -n 20 "$wl_out/stderr.txt" | tr '\n' ' ')"
	;;
esac

# one check per workload over its primary metrics' ratios to the default
if [[ -s $wl_json ]] && jq -e '.workload_threshold != null' "$wl_json" > /dev/null 2>&1; then
	for wl in $(jq -r '.workload_threshold.cells[].cell | split("/")[0]' "$wl_json" | uniq); do
		wl_v=$(jq -r --arg w "$wl" --argjson l "$WL_LIMIT" --argjson lp "$WL_TAIL_LIMIT" \
			'[.workload_threshold.cells[] | select(.cell | startswith($w + "/"))] |
			 (map(.ratio != null and .ratio <= (if (.cell | endswith("-p99")) then $lp else $l end)) | all | tostring) + "\t" +
			 (map(.cell + " " + (if .ratio == null then "no data" else (.ratio * 1000 | round / 1000 | tostring) + "x default" end)) | join("; "))' "$wl_json")
		if [[ ${wl_v%%$'\t'*} == true ]]; then
			pass "workloads-$wl" "scx_proxy vs default (limit $WL_LIMIT, p99s $WL_TAIL_LIMIT): ${wl_v#*$'\t'}"
		else
			fail "workloads-$wl" "scx_proxy vs default (limit $WL_LIMIT, p99s $WL_TAIL_LIMIT): ${wl_v#*$'\t'}"
		fi
	done
else
	fail workloads-threshold "no workload threshold verdict in $wl_json"
fi

wl_p99=$(wl_med scx_proxy schbench/wakeup-p99)
wl_p99d=$(wl_med default schbench/wakeup-p99)
wl_r=$(ratio "$wl_p99" "$wl_p99d")
wl_msg="schbench p99 wakeup: scx_proxy $wl_p99 us, default $wl_p99d us (${wl_r}x)"
if [[ $wl_p99 != nan && $wl_p99d != nan ]] && le "$wl_r" "$WL_P99_FACTOR"; then
	pass workloads-schbench-p99 "$wl_msg; at most ${WL_P99_FACTOR}x"
else
	fail workloads-schbench-p99 "$wl_msg; wanted at most ${WL_P99_FACTOR}x"
fi

wl_d=$(wl_med default aio-qd1/migr-per-kio)
wl_p=$(wl_med scx_proxy aio-qd1/migr-per-kio)
wl_d16=$(wl_med default aio-qd16/migr-per-kio)
wl_p16=$(wl_med scx_proxy aio-qd16/migr-per-kio)
wl_msg="migrations per 1000 IOs, default/scx_proxy: iodepth 1 $wl_d/$wl_p, iodepth 16 $wl_d16/$wl_p16"
wl_lim=$(awk -v d="$wl_d" -v f="$WL_MIGR_FACTOR" -v s="$WL_MIGR_SLACK" 'BEGIN { print d * f + s }')
if [[ $wl_p != nan && $wl_d != nan ]] && le "$wl_p" "$wl_lim"; then
	pass workloads-aio-migrations "$wl_msg (iodepth 1: at most $wl_lim)"
else
	fail workloads-aio-migrations "$wl_msg (iodepth 1: wanted at most $wl_lim)"
fi

wl_table=""
for c in $(jq -r '.metrics[].cell' "$wl_json" 2> /dev/null); do
	wl_table+="$c:"
	for s in ${wl_scheds//,/ }; do
		wl_table+=" $s $(wl_med "$s" "$c")"
	done
	wl_table+="; "
done
info workloads-table "medians of $WL_RUNS runs of ${WL_SECONDS}s: $wl_table"
