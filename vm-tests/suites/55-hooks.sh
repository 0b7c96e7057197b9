# shellcheck shell=bash
# Lock hooks (issue 10, part 3): what scx_proxy's futex hooks cost every
# syscall, and that both kinds of hook make edges.
#
#   hooks-attached        the default start uses fentry/fexit (log line
#                         "lock hooks: kernel-locks=tp_btf futex=fentry")
#                         and attaches the six fentry/fexit links
#   hooks-off-unattached  --no-futex attaches no futex hook at all; after
#                         `ctl futex=on` the hooks are attached and the
#                         chain fixture makes futex edges and donations
#   hooks-tracepoint-edges  --futex-hooks tracepoint: the syscall
#                         tracepoints make the same edges and donations
#   hooks-syscall-cost    syscall-bench (getppid, read of /dev/zero), ns
#                         per call, pinned to CPU HOOKS_CPU: the fastest
#                         of 15 measurements of HOOKS_CALLS calls, in each
#                         of HOOKS_RUNS interleaved runs under the kernel
#                         default, scx_proxy --no-futex, --no-proxy,
#                         scx_proxy and --futex-hooks tracepoint. The
#                         check wants scx_proxy within HOOKS_LIMIT of
#                         --no-futex on both ops, by the fastest over all
#                         runs or by the medians of the runs (either).
#                         Emulation only ever adds time, and whole runs of
#                         one configuration came out 1.5x slower than the
#                         next (medians of 5 runs gave scx_proxy/--no-futex
#                         1.322 for getppid in one CI run, 0.517 in
#                         another, on a path the fentry hooks do not
#                         touch); and one lucky fast run throws the
#                         fastest off (a --no-futex read at 770 ns against
#                         888-1,534 ns in its other runs: 1.558 by the
#                         fastest, 1.125 by the medians, in a CI-like run
#                         on 2026-12-03; read never reaches a futex hook).
#                         A hook on every syscall exceeds both: the
#                         tracepoint fallback measured 1.30-2.67x by the
#                         fastest, and 1.58x (read) and 1.98x (getppid) by
#                         the medians in that run. The issue's target is
#                         5%; the CI limit is 1.15; the line reports both
#                         statistics.

out=$RESULTS/hooks
mkdir -p "$out"
bench=$TOOLS_BIN/syscall-bench
fixtures=$(dirname "${BASH_SOURCE[0]}")/../fixtures
HOOKS_RUNS=${HOOKS_RUNS:-5}
HOOKS_CALLS=${HOOKS_CALLS:-20000}
HOOKS_LIMIT=${HOOKS_LIMIT:-1.15}
HOOKS_CPU=${HOOKS_CPU:-1}

# names of the BPF programs attached through links right now
linked_progs() {
	bpftool -j link show 2> /dev/null | jq -r '.[].prog_id' | while read -r id; do
		bpftool -j prog show id "$id" 2> /dev/null | jq -r .name
	done
}
futex_links() { linked_progs | grep -cE '^proxy_(fentry|fexit)_fu|^proxy_futex_'; }

# chain_edges NAME: the chain fixture under the running instance; its
# futex edges and depth-2 donations from `--stats-json`
chain_edges() {
	timeout 120 python3 "$fixtures/chain.py" 3 200 > "$out/chain-$1.log" 2>&1
}

# --- which hooks, and when they are attached ------------------------------
if sched_start scx_proxy --stats-json "$out/stats-fentry.json"; then
	n=$(futex_links)
	line=$(grep -m1 'lock hooks:' "$SCHED_LOG")
	sched_stop || fail hooks-detach-fentry "$(tail -n 3 "$SCHED_LOG")"
	if [[ $line == *"kernel-locks=tp_btf futex=fentry"* ]] && [ "$n" = 8 ]; then
		pass hooks-attached "${line#*] }; $n futex links"
	else
		fail hooks-attached "log: '$line'; $n futex links (want 8)"
	fi
else
	fail hooks-attach-fentry "$(tail -n 3 "$SCHED_LOG")"
fi

if sched_start scx_proxy --no-futex --stats-json "$out/stats-late.json"; then
	n0=$(futex_links)
	k=$("$SCX_PROXY" ctl futex=on 2>&1)
	n1=$(futex_links)
	chain_edges late
	crc=$?
	sched_stop || fail hooks-detach-late "$(tail -n 3 "$SCHED_LOG")"
	m=$(jq -c '.metrics | {edge_futex, donations, depth_hist}' "$out/stats-late.json" 2> /dev/null)
	if [ "$n0" = 0 ] && [ "$n1" = 8 ] && [[ $k == *futex=on* ]] && [ $crc -eq 0 ] &&
		jq -e '.metrics.edge_futex > 0 and .metrics.donations > 0' "$out/stats-late.json" > /dev/null 2>&1; then
		pass hooks-off-unattached "--no-futex: $n0 futex links; ctl futex=on: $n1 links, '$k'; chain: $m"
	else
		fail hooks-off-unattached "links $n0 then $n1 (want 0, 8); ctl '$k'; chain rc $crc: $m"
	fi
else
	fail hooks-attach-late "$(tail -n 3 "$SCHED_LOG")"
fi

if sched_start scx_proxy --futex-hooks tracepoint --stats-json "$out/stats-tp.json"; then
	line=$(grep -m1 'lock hooks:' "$SCHED_LOG")
	n=$(futex_links)
	chain_edges tp
	crc=$?
	sched_stop || fail hooks-detach-tp "$(tail -n 3 "$SCHED_LOG")"
	m=$(jq -c '.metrics | {edge_futex, donations, depth_hist}' "$out/stats-tp.json" 2> /dev/null)
	if [[ $line == *"futex=tracepoint"* ]] && [ "$n" = 2 ] && [ $crc -eq 0 ] &&
		jq -e '.metrics.edge_futex > 0 and .metrics.donations > 0 and .metrics.depth_hist[1] > 0' \
			"$out/stats-tp.json" > /dev/null 2>&1; then
		pass hooks-tracepoint-edges "${line#*] }; $n links; $(tr '\n' ' ' < "$out/chain-tp.log")| $m"
	else
		fail hooks-tracepoint-edges "log '$line', $n links (want 2), chain rc $crc: $m"
	fi
else
	fail hooks-attach-tp "$(tail -n 3 "$SCHED_LOG")"
fi

# --- what the hooks cost every syscall -------------------------------------
# config name -> scheduler arguments ("-": the kernel default)
declare -A hargs=([default]=- [nofutex]=--no-futex [noproxy]=--no-proxy [proxy]="" \
	[tracepoint]="--futex-hooks tracepoint")
order=(default nofutex noproxy proxy tracepoint)
: > "$out/bench.tsv"
for rep in $(seq 1 "$HOOKS_RUNS"); do
	# rotate the order every repetition, so that drift hits all alike
	for i in "${!order[@]}"; do
		cfg=${order[$(((i + rep) % ${#order[@]}))]}
		if [ "${hargs[$cfg]}" != - ]; then
			# shellcheck disable=SC2086
			sched_start scx_proxy ${hargs[$cfg]} || {
				fail "hooks-start-$cfg" "$(tail -n 3 "$SCHED_LOG")"
				continue
			}
		fi
		for op in getppid read; do
			# the fastest of 15 measurements: under emulation single
			# measurements of one configuration vary 3x, the fastest
			# much less; pinned, so that every configuration
			# measures the same vCPU
			ns=$(taskset -c "$HOOKS_CPU" "$bench" --op $op --calls "$HOOKS_CALLS" --repeat 15 --json | jq -r .ns_per_call_min)
			printf '%s\t%s\t%s\n' "$cfg" "$op" "$ns" >> "$out/bench.tsv"
		done
		if [ "${hargs[$cfg]}" != - ]; then
			sched_stop || fail "hooks-stop-$cfg" "$(tail -n 3 "$SCHED_LOG")"
		fi
	done
done
values() {	# values CFG OP: one per run, ascending
	awk -F'\t' -v c="$1" -v o="$2" '$1 == c && $2 == o { print $3 }' "$out/bench.tsv" | sort -g
}
med() {	# med CFG OP: median ns per call over the runs
	values "$1" "$2" | awk '{ v[NR] = $1 } END { if (NR) printf "%.1f", (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2; else print 0 }'
}
best() {	# best CFG OP: fastest ns per call over the runs
	values "$1" "$2" | awk 'NR == 1 { printf "%.1f", $1 } END { if (!NR) print 0 }'
}
table="config getppid_min read_min getppid_median read_median"
for cfg in "${order[@]}"; do
	table="$table | $cfg $(best "$cfg" getppid) $(best "$cfg" read) $(med "$cfg" getppid) $(med "$cfg" read)"
done
echo "$table" | tr '|' '\n' > "$out/bench-summary.txt"
info hooks-syscall-table "ns per call on CPU $HOOKS_CPU, fastest and median of $HOOKS_RUNS interleaved runs: $table"
ok=1
msg=""
for op in getppid read; do
	r=$(ratio "$(best proxy $op)" "$(best nofutex $op)")
	t=$(ratio "$(best tracepoint $op)" "$(best nofutex $op)")
	rmed=$(ratio "$(med proxy $op)" "$(med nofutex $op)")
	msg="$msg $op: scx_proxy/--no-futex $r (medians $rmed), tracepoint/--no-futex $t;"
	le "$r" "$HOOKS_LIMIT" || le "$rmed" "$HOOKS_LIMIT" || ok=0
done
if [ $ok = 1 ]; then
	pass hooks-syscall-cost "within $HOOKS_LIMIT:$msg"
else
	fail hooks-syscall-cost "wanted scx_proxy/--no-futex <= $HOOKS_LIMIT (fastest or medians):$msg"
fi
