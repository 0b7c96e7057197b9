# shellcheck shell=bash
# 96-cost: what the sched_ext callbacks cost on the wakeup-bound workloads
# that scx_proxy misses against the kernel default (issue 11), and where
# aio at iodepth 16 runs. Not part of `vm-tests/run test`: run it with
# `vm-tests/run vm 96` (multi-threaded TCG, as the 'workloads' boot).
#
# Under the kernel default, scx_proxy, another build of it as
# scx_proxy-base when SCX_PROXY_BASE names one (SCX_PROXY_GUEST_ENV=
# "SCX_PROXY_BASE=/path"), and scx_bpfland (when built,
# vm-tests/build-peers.sh), COST_RUNS (3) interleaved rounds of:
#   - uring-pingpong --mechanism pipe (the harness's 'uring' cell): round
#     trip p50 and round trips;
#   - evloop --backend uring (the 'evloop-uring' cell): events/s;
#   - aio-bench --iodepth 16 (the 'aio-qd16' cell): IOPS and the
#     submitter's migrations per 1000 IOs.
# Then one more round with kernel.bpf_stats_enabled=1, which counts every
# BPF program's runs and run time (it adds two clock reads per run, so
# latencies are taken from the other rounds): the struct_ops programs' run
# time per round trip, per event and per IO, with each callback's share.
#
#   cost-runs   every workload gave its metric under every scheduler in
#               every round
#   cost-bpf    in the counted round, every sched_ext scheduler's
#               callbacks ran (run counts and run time above 0) and the
#               kernel default ran none of ours
#   cost-<cell> (reported) medians, ratios to the default, BPF time per unit
#
# Results: $RESULTS/cost/ (cost.tsv: scheduler, round, cell, value; bpf.tsv:
# scheduler, cell, program, runs, run time in ns, units of work).

c_out=$RESULTS/cost
mkdir -p "$c_out"
COST_RUNS=${COST_RUNS:-3}
c_scheds=(default scx_proxy)
[[ -n ${SCX_PROXY_BASE:-} ]] && c_scheds+=(scx_proxy-base)
[[ -x $PEERS_BIN/scx_bpfland ]] && c_scheds+=(scx_bpfland)
: > "$c_out/cost.tsv"
: > "$c_out/bpf.tsv"
c_missing=0

# c_snap FILE: run counts and run time of every loaded BPF program
c_snap() {
	bpftool prog show -j 2> /dev/null |
		jq '[.[] | {id, name, type, t: (.run_time_ns // 0), n: (.run_cnt // 0)}]' > "$1"
}

# c_diff BEFORE AFTER SCHED CELL UNITS: per struct_ops program, into bpf.tsv
c_diff() {
	jq -r --arg s "$3" --arg c "$4" --arg u "$5" -s '
		(.[0] | map({key: (.id | tostring), value: .}) | from_entries) as $b
		| .[1][] | select(.type == "struct_ops")
		| . as $a | ($b[$a.id | tostring] // {t: 0, n: 0}) as $o
		| select($a.n - $o.n > 0)
		| [$s, $c, $a.name, ($a.n - $o.n), ($a.t - $o.t), $u] | @tsv' "$1" "$2" >> "$c_out/bpf.tsv"
}

c_record() { # sched round cell value
	if [[ -z $4 || $4 == null ]]; then
		c_missing=$((c_missing + 1))
		log "cost: $1 round $2: no $3"
		return
	fi
	printf '%s\t%s\t%s\t%s\n' "$1" "$2" "$3" "$4" >> "$c_out/cost.tsv"
}

c_round() { # round counted
	local r=$1 counted=$2 s f busy0 busy1
	for s in "${c_scheds[@]}"; do
		if [[ $s != default ]] && ! sched_start "$s"; then
			c_missing=$((c_missing + 3))
			continue
		fi
		f=$c_out/$s.$r
		c_snap "$f.pp.0"
		"$TOOLS_BIN/uring-pingpong" -r 2 --mechanism pipe --json > "$f.pp.json" 2> /dev/null
		c_snap "$f.pp.1"
		c_record "$s" "$r" uring/rtt-p50 "$(jq -r '.rtt.p50_us' "$f.pp.json" 2> /dev/null)"
		c_record "$s" "$r" uring/round-trips "$(jq -r '.round_trips' "$f.pp.json" 2> /dev/null)"
		c_snap "$f.ev.0"
		"$TOOLS_BIN/evloop" --backend uring -r 2 --json > "$f.ev.json" 2> /dev/null
		c_snap "$f.ev.1"
		c_record "$s" "$r" evloop-uring/events-per-s "$(jq -r '.events_per_sec' "$f.ev.json" 2> /dev/null)"
		c_record "$s" "$r" evloop-uring/events "$(jq -r '.events' "$f.ev.json" 2> /dev/null)"
		c_snap "$f.aio.0"
		"$TOOLS_BIN/aio-bench" --iodepth 16 --runtime 2 --json > "$f.aio.json" 2> "$f.aio.err"
		c_snap "$f.aio.1"
		c_record "$s" "$r" aio-qd16/iops "$(jq -r '.iops' "$f.aio.json" 2> /dev/null)"
		c_record "$s" "$r" aio-qd16/ios "$(jq -r '.ios' "$f.aio.json" 2> /dev/null)"
		c_record "$s" "$r" aio-qd16/migr-per-kio "$(jq -r '.migrations_per_kilo_io' "$f.aio.json" 2> /dev/null)"
		if [[ $counted == 1 ]]; then
			c_diff "$f.pp.0" "$f.pp.1" "$s" uring "$(jq -r '.round_trips' "$f.pp.json")"
			c_diff "$f.ev.0" "$f.ev.1" "$s" evloop-uring "$(jq -r '.events' "$f.ev.json")"
			c_diff "$f.aio.0" "$f.aio.1" "$s" aio-qd16 "$(jq -r '.ios' "$f.aio.json")"
		fi
		rm -f "$f".*.0 "$f".*.1
		[[ $s != default ]] && sched_stop
	done
}

for c_r in $(seq 1 "$COST_RUNS"); do
	c_round "$c_r" 0
done
sysctl -qw kernel.bpf_stats_enabled=1
c_round counted 1
sysctl -qw kernel.bpf_stats_enabled=0

if [[ $c_missing == 0 ]]; then
	pass cost-runs "${#c_scheds[@]} schedulers x $COST_RUNS rounds + 1 counted"
else
	fail cost-runs "$c_missing metrics missing (see guest.log)"
fi

# the counted round: every sched_ext scheduler's callbacks ran; none of
# them under the default
c_bad=
for s in "${c_scheds[@]}"; do
	c_n=$(awk -F'\t' -v s="$s" '$1 == s && $4 > 0 && $5 > 0 { n++ } END { print n + 0 }' "$c_out/bpf.tsv")
	if [[ $s == default && $c_n != 0 ]] || [[ $s != default && $c_n == 0 ]]; then
		c_bad+="$s: $c_n programs counted; "
	fi
done
if [[ -z $c_bad ]]; then
	pass cost-bpf "struct_ops run time counted for ${c_scheds[*]:1}"
else
	fail cost-bpf "$c_bad"
fi

# c_med SCHED CELL: median over the uncounted rounds
c_med() {
	awk -F'\t' -v s="$1" -v c="$2" '$1 == s && $3 == c && $2 != "counted" { print $4 }' "$c_out/cost.tsv" |
		sort -g | awk '{ v[NR] = $1 } END { if (NR) print (NR % 2 ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2) }'
}
# c_per SCHED CELL: struct_ops run time per unit of work, in us, and the
# three costliest callbacks
c_per() {
	awk -F'\t' -v s="$1" -v c="$2" '$1 == s && $2 == c {
		t += $5; u = $6; p[$3] = $5; n[$3] = $4 }
		END {
			if (!u) { print "-"; exit }
			printf "%.1f us/unit (", t / u / 1000
			k = 0
			for (x in p) o[k++] = x
			for (i = 0; i < k; i++) for (j = i + 1; j < k; j++)
				if (p[o[j]] > p[o[i]]) { y = o[i]; o[i] = o[j]; o[j] = y }
			for (i = 0; i < k && i < 3; i++)
				printf "%s%s %.1f us x %.2f", i ? ", " : "", o[i], p[o[i]] / n[o[i]] / 1000, n[o[i]] / u
			printf ")"
		}' "$c_out/bpf.tsv"
}
# ratios to the default, oriented as the harness's: > 1 is worse
for cell in uring/rtt-p50 evloop-uring/events-per-s aio-qd16/iops; do
	c_line=
	c_def=$(c_med default "$cell")
	for s in "${c_scheds[@]}"; do
		c_v=$(c_med "$s" "$cell")
		case $cell in
		uring/*) c_line+="$s $c_v us ($(ratio "$c_v" "$c_def")x) bpf $(c_per "$s" uring)" ;;
		evloop*) c_line+="$s $c_v/s ($(ratio "$c_def" "$c_v")x) bpf $(c_per "$s" evloop-uring)" ;;
		aio*)
			c_line+="$s $c_v IO/s ($(ratio "$c_def" "$c_v")x) bpf $(c_per "$s" aio-qd16)"
			c_line+=" migr/1000 IOs $(c_med "$s" aio-qd16/migr-per-kio)"
			;;
		esac
		c_line+="; "
	done
	info "cost-${cell%%/*}" "$c_line"
done

# which of scx_proxy's paths the ping-pong's wakeups take: one more run,
# its own instance, with --stats-json
if sched_start scx_proxy --stats-json "$c_out/pp-stats.json"; then
	"$TOOLS_BIN/uring-pingpong" -r 2 --mechanism pipe --json > "$c_out/pp-stats-run.json" 2> /dev/null
	sched_stop
	c_rt=$(jq -r '.round_trips' "$c_out/pp-stats-run.json" 2> /dev/null)
	info cost-uring-paths "$c_rt round trips (+ 0.2 s warm-up); $(jq -r '.metrics | to_entries |
		map(select((.key | test("^(enq_|idle_|dispatch|wakeup_preempt|wakee_stayed|keep_running)")) and (.value | type) == "number" and .value > 0))
		| map("\(.key) \(.value)") | join(", ")' "$c_out/pp-stats.json" 2> /dev/null)"
fi
