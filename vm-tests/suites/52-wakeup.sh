# shellcheck shell=bash
# Wakeup latency (issue 11, first part): schbench-style message/worker
# wakeups and perf bench sched pipe's ping-pong, under the kernel default
# and scx_proxy (and scx_bpfland when built: reported, not checked), in this
# one boot, WAKE_RUNS interleaved runs each (order rotated every run).
#
#   wakeup-tools        both tools ran in every configuration, JSON parsed
#   wakeup-schbench     scx_proxy's median p99 wakeup latency at most
#                       WAKE_P99_US (10 ms: two slices) and its median
#                       requests/s within WAKE_LIMIT of the kernel default's
#   wakeup-vs-default   (reported) p99 wakeup against the default and
#                       scx_bpfland. The issue's target, p99 no worse than
#                       the default, is NOT met yet: in the first boot here
#                       scx_proxy's p99 was 5.2 ms against the default's
#                       2.0 ms (scx_bpfland 4.2 ms). scx_proxy does not
#                       preempt on wakeup: a woken worker that finds no
#                       idle CPU waits for a running task's slice to end,
#                       and slices end at a tick (4 ms at HZ=250): with
#                       --slice-us 1000 the p99 was still 4.1-4.3 ms
#                       (4.4-4.8 ms with the default 5 ms; 3 runs each, one
#                       boot). This check holds the line at two slices
#                       until wakeup preemption lands.
#   wakeup-pipe         scx_proxy's median us per pipe round trip within
#                       WAKE_LIMIT of the kernel default's
#
# WAKE_LIMIT is 2.0 in CI, the hackbench suite's per-cell limit: the kernel
# default against itself varies by up to that much here (50-hackbench.sh).
# The issue's targets (p99 wakeup no worse than the default, 1.10x of the
# better of default and scx_bpfland) need a quiet machine and more runs:
# the note reports the medians against them.

out=$RESULTS/wakeup
mkdir -p "$out"
WAKE_RUNS=${WAKE_RUNS:-3}
WAKE_LIMIT=${WAKE_LIMIT:-2.0}
WAKE_P99_US=${WAKE_P99_US:-10000}
sb_args=(-m 2 -t 2 -r "${WAKE_SECONDS:-4}" -w 0.5 --work-us 100 --json)
pipe_loops=${WAKE_PIPE_LOOPS:-20000}
PEERS_DIR=${HB_PEERS_DIR:-/var/cache/scx_proxy/peers/bin}

cfgs=(default scx_proxy)
[ -x "$PEERS_DIR/scx_bpfland" ] && cfgs+=(scx_bpfland)
: > "$out/runs.tsv"
bad=0
for rep in $(seq 1 "$WAKE_RUNS"); do
	for i in "${!cfgs[@]}"; do
		cfg=${cfgs[$(((i + rep) % ${#cfgs[@]}))]}
		if [ "$cfg" != default ] && ! sched_start "$cfg"; then
			fail "wakeup-start-$cfg" "$(tail -n 3 "$SCHED_LOG")"
			continue
		fi
		sb=$("$TOOLS_BIN/schbench" "${sb_args[@]}" 2> "$out/err.txt") || bad=$((bad + 1))
		pp=$("$TOOLS_BIN/pipe-bench" -l "$pipe_loops" --json 2>> "$out/err.txt") || bad=$((bad + 1))
		echo "$sb" > "$out/schbench-$cfg-$rep.json"
		echo "$pp" > "$out/pipe-$cfg-$rep.json"
		printf '%s\t%s\t%s\t%s\t%s\n' "$cfg" \
			"$(jq -r .wakeup.p99_us <<< "$sb" 2> /dev/null || echo nan)" \
			"$(jq -r .rps <<< "$sb" 2> /dev/null || echo nan)" \
			"$(jq -r .usecs_per_op <<< "$pp" 2> /dev/null || echo nan)" \
			"$(jq -r .wakeup.p50_us <<< "$sb" 2> /dev/null || echo nan)" >> "$out/runs.tsv"
		if [ "$cfg" != default ]; then
			sched_stop || fail "wakeup-stop-$cfg" "$(tail -n 3 "$SCHED_LOG")"
		fi
	done
done
wmed() {	# wmed CFG COLUMN: median over the runs
	awk -F'\t' -v c="$1" -v k="$2" '$1 == c && $k != "nan" { print $k }' "$out/runs.tsv" | sort -g |
		awk '{ v[NR] = $1 } END { if (NR) printf "%.2f", (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2; else print 0 }'
}
table="medians of $WAKE_RUNS runs (schbench ${sb_args[*]:0:6}, pipe $pipe_loops loops):"
for cfg in "${cfgs[@]}"; do
	table="$table $cfg: wakeup p50 $(wmed "$cfg" 5) us p99 $(wmed "$cfg" 2) us, $(wmed "$cfg" 3) rps, pipe $(wmed "$cfg" 4) us/op;"
done
info wakeup-table "$table"
n=$(awk -F'\t' '$2 != "nan" && $2 != "" && $4 != "nan" && $4 != ""' "$out/runs.tsv" | wc -l)
if [ $bad -eq 0 ] && [ "$n" -eq $((WAKE_RUNS * ${#cfgs[@]})) ]; then
	pass wakeup-tools "$n runs, every JSON parsed"
else
	fail wakeup-tools "$bad tool failures, $n good runs of $((WAKE_RUNS * ${#cfgs[@]})): $(tail -n 3 "$out/err.txt" | tr '\n' ' ')"
fi
p99=$(wmed scx_proxy 2)
p99r=$(ratio "$p99" "$(wmed default 2)")
p99b=$(ratio "$p99" "$(wmed scx_bpfland 2)")
rpsr=$(ratio "$(wmed default 3)" "$(wmed scx_proxy 3)")
msg="scx_proxy p99 wakeup $p99 us: $p99r x default's, $p99b x scx_bpfland's; requests/s default/scx_proxy $rpsr"
info wakeup-vs-default "$msg"
if le "$p99" "$WAKE_P99_US" && le "$rpsr" "$WAKE_LIMIT"; then
	pass wakeup-schbench "p99 <= $WAKE_P99_US us, requests/s within $WAKE_LIMIT: $msg"
else
	fail wakeup-schbench "wanted p99 <= $WAKE_P99_US us and requests/s within $WAKE_LIMIT: $msg"
fi
pr=$(ratio "$(wmed scx_proxy 4)" "$(wmed default 4)")
if le "$pr" "$WAKE_LIMIT"; then
	pass wakeup-pipe "us per round trip scx_proxy/default $pr (limit $WAKE_LIMIT)"
else
	fail wakeup-pipe "us per round trip scx_proxy/default $pr (limit $WAKE_LIMIT)"
fi
