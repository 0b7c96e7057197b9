# shellcheck shell=bash
# 52-workloads: the programs people run must not get worse (issue 11):
# wakeup latency (schbench, perf bench sched pipe), io_uring task_work
# (ping-pong plain, with COOP_TASKRUN, beside a CPU hog), an event loop
# (epoll, io_uring), a polling loop (32 us of polling, then an eventfd) and
# an aio submitter (fio libaio direct writes on ext4 over null_blk, iodepth
# 1 and 16), under the kernel default and scx_proxy (and the peers when
# built and HB_PEERS=1), WL_RUNS interleaved repetitions in this one boot
# (sched-harness --no-hackbench --workloads all: same method and report as
# the hackbench matrix).
#
#   workloads-harness        sched-harness ran, every workload gave every
#                            metric in every repetition under the default
#                            and scx_proxy, table/JSON/chart written, and
#                            scx_proxy's own counters (donations, proxy
#                            migrations, lock edges: its --stats-json) came
#                            back for every repetition
#   workloads-proxy-counts   (reported) those counters, per repetition
#   workloads-<workload>     scx_proxy's median of the workload's primary
#                            metric(s) within WL_LIMIT (2) of the kernel
#                            default's, the p99 latencies within
#                            WL_TAIL_LIMIT (3) (ratios oriented: > 1 is
#                            worse)
#   workloads-schbench-p99   scx_proxy's median schbench p99 wakeup latency
#                            within WL_P99_FACTOR (2) of the default's (the
#                            issue's target is no worse: 468.0 against
#                            543.7 us, 0.861x, in the 5-run matrix on db7987b)
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
#   workloads-table          (reported) the medians, with the peers' (HB_PEERS=1)
#
# A workload whose check fails is measured again (WL_CONFIRM_RUNS, 4, more
# interleaved runs under the default and scx_proxy, same boot) and every
# check is then made on the medians of all its runs (3 + 4): the log says
# so loudly and the failed first verdict stays as an INFO line
# (workloads-<check>-first). One boot's 3 runs can be far off: the CI run
# on 3beb55e measured evloop-uring reply p99 3.99x the default, the 5-run
# matrix 1.12x. 0 turns the confirmation off.
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
# WL_SECONDS, the aio ones also make a file system), so ~3 min with the
# defaults (default and scx_proxy, 3 runs), more for a confirmation.

wl_out=$RESULTS/workloads
mkdir -p "$wl_out"
WL_RUNS=${WL_RUNS:-3}
WL_SECONDS=${WL_SECONDS:-1.5}
WL_LIMIT=${WL_LIMIT:-2.0}
WL_P99_FACTOR=${WL_P99_FACTOR:-2.0}
WL_TAIL_LIMIT=${WL_TAIL_LIMIT:-3.0}
WL_MIGR_FACTOR=${WL_MIGR_FACTOR:-2}
WL_MIGR_SLACK=${WL_MIGR_SLACK:-10}
WL_CONFIRM_RUNS=${WL_CONFIRM_RUNS:-4}
WL_PEERS_DIR=${HB_PEERS_DIR:-/var/cache/scx_proxy/peers/bin}

# the peers only with HB_PEERS=1 (see 50-hackbench.sh)
wl_scheds=default,scx_proxy
for wl_peer in scx_bpfland scx_lavd; do
	[[ ${HB_PEERS:-0} == 1 && -x $WL_PEERS_DIR/$wl_peer ]] && wl_scheds+=",$wl_peer"
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
# The results the checks read: this run's, and the confirmation run's below.
wl_files=("$wl_json")

# wl_med SCHED CELL: the median of a metric over every run in wl_files, or
# "nan"
wl_med() {
	jq -rs --arg s "$1" --arg c "$2" \
		'[.[].samples[] | select(.scheduler == $s and .cell == $c) | .time_s] | sort |
		 if length == 0 then "nan"
		 elif length % 2 == 1 then .[length / 2 | floor]
		 else (.[length / 2 - 1] + .[length / 2]) / 2 end' \
		"${wl_files[@]}" 2> /dev/null || echo nan
}

# wl_runs SCHED CELL: how many runs wl_med takes the median of
wl_runs() {
	jq -s --arg s "$1" --arg c "$2" \
		'[.[].samples[] | select(.scheduler == $s and .cell == $c)] | length' "${wl_files[@]}"
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
	# scx_proxy's own counters (its --stats-json), one set per run
	n=$(jq '[.schedulers[] | select(.name == "scx_proxy") | .proxy_counts // [] | length] | add // 0' "$wl_json")
	[[ $n == "$want" ]] || { echo "scx_proxy's counters for $n of $want runs"; return 1; }
}

case $wl_rc in
0 | 1)
	if wl_msg=$(wl_well_formed 2>&1); then
		pass workloads-harness "$(jq '.samples | length' "$wl_json") samples"
		info workloads-proxy-counts "$(grep -h '(all its cells and workloads)' "$wl_out/table.txt" | tr '\n' ' ')"
	else
		fail workloads-harness "$wl_msg; $(grep -m3 'rep ' "$wl_out/stderr.txt" | grep -iE 'error|exited|not found' | tr '\n' ' ')"
	fi
	;;
*)
	fail workloads-harness "sched-harness exited $wl_rc: $(tail -n 20 "$wl_out/stderr.txt" | tr '\n' ' ')"
	;;
esac

# wl_checks: every verdict below, one line each "PASS|FAIL<tab>check<tab>
# detail<tab>workload to run again if it failed", from the medians over
# wl_files (wl_med). Ratios are oriented so that > 1 is worse, as in
# sched-harness's table; the primary cells are those of its threshold.
wl_checks() {
	local wl c hib d p r ok msg all lim st
	for wl in $(jq -r '.workload_threshold.cells[].cell | split("/")[0]' "$wl_json" | uniq); do
		all=true msg=""
		for c in $(jq -r --arg w "$wl" '.workload_threshold.cells[].cell | select(startswith($w + "/"))' "$wl_json"); do
			hib=$(jq -r --arg c "$c" '[.metrics[] | select(.cell == $c)][0].higher_is_better' "$wl_json")
			d=$(wl_med default "$c")
			p=$(wl_med scx_proxy "$c")
			lim=$WL_LIMIT
			[[ $c == *-p99 ]] && lim=$WL_TAIL_LIMIT
			if [[ $d == nan || $p == nan ]]; then
				r="no data" ok=false
			else
				if [[ $hib == true ]]; then r=$(ratio "$d" "$p"); else r=$(ratio "$p" "$d"); fi
				le "$r" "$lim" && ok=true || ok=false
				r="${r}x default (limit $lim)"
			fi
			[[ $ok == true ]] || all=false
			msg+="${msg:+; }$c $r"
		done
		st=PASS
		[[ $all == true ]] || st=FAIL
		printf '%s\tworkloads-%s\tscx_proxy vs default, medians of %s runs: %s\t%s\n' \
			"$st" "$wl" "$(wl_runs scx_proxy "$c")" "$msg" "$wl"
	done

	d=$(wl_med default schbench/wakeup-p99)
	p=$(wl_med scx_proxy schbench/wakeup-p99)
	r=$(ratio "$p" "$d")
	st=FAIL
	[[ $p != nan && $d != nan ]] && le "$r" "$WL_P99_FACTOR" && st=PASS
	printf '%s\tworkloads-schbench-p99\tschbench p99 wakeup, medians of %s runs: scx_proxy %s us, default %s us (%sx); at most %sx\tschbench\n' \
		"$st" "$(wl_runs scx_proxy schbench/wakeup-p99)" "$p" "$d" "$r" "$WL_P99_FACTOR"

	d=$(wl_med default aio-qd1/migr-per-kio)
	p=$(wl_med scx_proxy aio-qd1/migr-per-kio)
	lim=$(awk -v d="$d" -v f="$WL_MIGR_FACTOR" -v s="$WL_MIGR_SLACK" 'BEGIN { print d * f + s }')
	st=FAIL
	[[ $p != nan && $d != nan ]] && le "$p" "$lim" && st=PASS
	printf '%s\tworkloads-aio-migrations\tmigrations per 1000 IOs, medians of %s runs, default/scx_proxy: iodepth 1 %s/%s, iodepth 16 %s/%s (iodepth 1: at most %s)\taio-qd1\n' \
		"$st" "$(wl_runs scx_proxy aio-qd1/migr-per-kio)" "$d" "$p" \
		"$(wl_med default aio-qd16/migr-per-kio)" "$(wl_med scx_proxy aio-qd16/migr-per-kio)" "$lim"
}

if [[ -s $wl_json ]] && jq -e '.workload_threshold != null' "$wl_json" > /dev/null 2>&1; then
	wl_verdicts=$(wl_checks)
	# A workload that failed is measured again, WL_CONFIRM_RUNS more
	# interleaved runs under the default and scx_proxy in this boot, and
	# judged on the medians of all its runs: one boot's 3 runs of 1.5 s
	# can be off by a tick-quantized p99 or one slow run (evloop-uring
	# reply p99 3.99x in one CI run, 1.12x in the 5-run matrix).
	wl_again=$(awk -F'\t' '$1 == "FAIL" { print $4 }' <<< "$wl_verdicts" | sort -u | paste -sd, -)
	if [[ -n $wl_again && $WL_CONFIRM_RUNS -gt 0 ]]; then
		log "workloads: !!! over the limit in $WL_RUNS runs: $wl_again; measuring those again, $WL_CONFIRM_RUNS more runs !!!"
		while IFS=$'\t' read -r st name detail _; do
			[[ $st == FAIL ]] && info "$name-first" "before the confirmation runs: $detail"
		done <<< "$wl_verdicts"
		wl_cout=$wl_out/confirm
		mkdir -p "$wl_cout"
		wl_crc=0
		"$TOOLS_BIN/sched-harness" \
			--no-hackbench --workloads "$wl_again" --workload-seconds "$WL_SECONDS" \
			--schedulers default,scx_proxy --scx-proxy "$SCX_PROXY" \
			--runs "$WL_CONFIRM_RUNS" --out-dir "$wl_cout" \
			> "$wl_cout/stdout.txt" 2> "$wl_cout/stderr.txt" || wl_crc=$?
		log "workloads: confirmation sched-harness exit status $wl_crc"
		if [[ $wl_crc -eq 0 && -s $wl_cout/results.json ]]; then
			wl_files+=("$wl_cout/results.json")
			wl_verdicts=$(wl_checks)
		else
			fail workloads-confirm "sched-harness exited $wl_crc: $(tail -n 5 "$wl_cout/stderr.txt" | tr '\n' ' ')"
		fi
	fi
	while IFS=$'\t' read -r st name detail _; do
		if [[ $st == PASS ]]; then pass "$name" "$detail"; else fail "$name" "$detail"; fi
	done <<< "$wl_verdicts"
else
	fail workloads-threshold "no workload threshold verdict in $wl_json"
fi

wl_table=""
for c in $(jq -r '.metrics[].cell' "$wl_json" 2> /dev/null); do
	wl_table+="$c:"
	for s in ${wl_scheds//,/ }; do
		wl_table+=" $s $(wl_med "$s" "$c")"
	done
	wl_table+="; "
done
wl_runs_said="$WL_RUNS runs of ${WL_SECONDS}s"
[[ ${#wl_files[@]} -gt 1 ]] && wl_runs_said+=" ($((WL_RUNS + WL_CONFIRM_RUNS)) for $wl_again)"
info workloads-table "medians of $wl_runs_said: $wl_table"
