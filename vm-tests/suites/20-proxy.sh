# shellcheck shell=bash
# Proxy execution (issue 3): the same inversion workloads under
# scx_proxy --no-proxy and scx_proxy, in this one boot, compared as ratios.
#
#   rename      kernel mutex (s_vfs_rename_mutex): p99.9 and max with donation
#               at most 1/10 of --no-proxy; donations seen on a mutex
#   chain2      2-deep glibc mutex chain, nice -20 waiter, nice 19 owners:
#               p99 with donation <= 3 x critical section, >= 10x better
#   pi          PTHREAD_PRIO_INHERIT mutex: donation helps (p99 >= 2x better)
#   pinned      depth 1 with the owner pinned to the other CPU: helps, and
#               nothing is ejected
#   deadlock    a 2-cycle of timed mutex waits: stays attached, walks end
#   mixed       the base suite's mixed load with donation on: stays attached

demo=$TOOLS_BIN/inversion-demo
out=$RESULTS/proxy
mkdir -p "$out"
secs=${PROXY_SECONDS:-12}
cs_us=${PROXY_CS_US:-5000}
gap_us=${PROXY_OWNER_GAP_US:-100}

proxy_runs() {	# proxy_runs CONFIG
	local cfg=$1
	"$demo" run --scenario rename --duration "$secs" --out "$out/rename-$cfg.json" \
		--label "rename/$cfg" > "$out/rename-$cfg.log" 2>&1 ||
		fail "proxy-run-rename-$cfg" "$(tail -n 2 "$out/rename-$cfg.log")"
	"$demo" run --scenario chain --depth 2 --cs-us $cs_us --owner-gap-us $gap_us --duration "$secs" \
		--out "$out/chain2-$cfg.json" --label "chain2/$cfg" > "$out/chain2-$cfg.log" 2>&1 ||
		fail "proxy-run-chain2-$cfg" "$(tail -n 2 "$out/chain2-$cfg.log")"
	"$demo" run --scenario pi-futex --cs-us $cs_us --owner-gap-us $gap_us --duration "$secs" \
		--out "$out/pi-$cfg.json" --label "pi/$cfg" > "$out/pi-$cfg.log" 2>&1 ||
		fail "proxy-run-pi-$cfg" "$(tail -n 2 "$out/pi-$cfg.log")"
	"$demo" run --scenario chain --depth 1 --owner-cpu 1 --cs-us $cs_us --owner-gap-us $gap_us --duration "$secs" \
		--out "$out/pinned-$cfg.json" --label "pinned/$cfg" > "$out/pinned-$cfg.log" 2>&1 ||
		fail "proxy-run-pinned-$cfg" "$(tail -n 2 "$out/pinned-$cfg.log")"
}

q() { jq -r "$2" "$out/$1.json" 2>/dev/null || echo 0; }	# q RUN FILTER

if sched_start scx_proxy --no-proxy --stats-json "$out/stats-noproxy.json"; then
	proxy_runs noproxy
	sched_stop || fail proxy-noproxy-detach "$(tail -n 3 "$SCHED_LOG")"
else
	fail proxy-noproxy-attach "$(tail -n 3 "$SCHED_LOG")"
fi

if ! sched_start scx_proxy --stats-json "$out/stats-proxy.json"; then
	fail proxy-attach "$(tail -n 3 "$SCHED_LOG")"
	return 0
fi
proxy_runs proxy

# deadlock cycle: the chain walk must end, the scheduler must stay attached
if timeout 120 python3 "$(dirname "${BASH_SOURCE[0]}")/../fixtures/deadlock.py" 5 300 > "$out/deadlock.log" 2>&1 &&
	[ "$(sched_state)" = enabled ] && kill -0 "$SCHED_PID"; then
	pass proxy-deadlock-cycle "$(cat "$out/deadlock.log"); still attached"
else
	fail proxy-deadlock-cycle "$(tail -n 2 "$out/deadlock.log"); state $(sched_state)"
fi

# the base mixed load, with donation on
stress-ng --cpu 2 --pipe 2 --futex 2 --mutex 2 --timeout 15s --quiet > /dev/null 2>&1 &
spid=$!
bad=0
for _ in $(seq 1 15); do
	[[ "$(sched_state)/$(sched_ops)" == enabled/scx_proxy* ]] || bad=$((bad + 1))
	sleep 1
done
wait $spid
if [ $bad -eq 0 ] && kill -0 "$SCHED_PID" 2>/dev/null; then
	pass proxy-mixed-load-attached "15/15 samples attached (stress-ng cpu/pipe/futex/mutex)"
else
	fail proxy-mixed-load-attached "$bad/15 samples not attached"
fi

if sched_stop; then
	pass proxy-detach "exit status 0, state disabled"
else
	fail proxy-detach "$(tail -n 3 "$SCHED_LOG")"
fi

# --- the verdicts -------------------------------------------------------------
for r in rename chain2 pi pinned; do
	for c in noproxy proxy; do
		[ -s "$out/$r-$c.json" ] || fail "proxy-result-$r-$c" "no result"
	done
done

np999=$(q rename-noproxy .latency.p999_us); pp999=$(q rename-proxy .latency.p999_us)
nmax=$(q rename-noproxy .latency.max_us); pmax=$(q rename-proxy .latency.max_us)
msg="p99.9 ${np999} -> ${pp999} us ($(ratio "$np999" "$pp999")x), max ${nmax} -> ${pmax} us ($(ratio "$nmax" "$pmax")x)"
if awk -v a="$np999" -v b="$pp999" -v c="$nmax" -v d="$pmax" \
	'BEGIN { exit !(b > 0 && d > 0 && b * 10 <= a && d * 10 <= c) }'; then
	pass proxy-rename-inversion "$msg"
else
	fail proxy-rename-inversion "$msg (want both >= 10x)"
fi
s=$out/stats-proxy.json
if jq -e '.metrics.edge_mutex > 0 and .metrics.donations > 0 and
	([.metrics.locks[] | select(.kind == "mutex" and .donations > 0)] | length) > 0' "$s" > /dev/null 2>&1; then
	pass proxy-rename-donations "$(jq -c '{edge_mutex: .metrics.edge_mutex, donations: .metrics.donations, proxy_migrations: .metrics.proxy_migrations, return_migrations: .metrics.return_migrations, donated_us: .metrics.donated_us}' "$s")"
else
	fail proxy-rename-donations "no donations on a mutex in $(jq -c '.metrics | {edge_mutex, donations}' "$s" 2>/dev/null)"
fi

n99=$(q chain2-noproxy .latency.p99_us); p99=$(q chain2-proxy .latency.p99_us)
msg="p99 ${n99} -> ${p99} us ($(ratio "$n99" "$p99")x), critical section ${cs_us} us"
if awk -v a="$n99" -v b="$p99" -v cs=$cs_us 'BEGIN { exit !(b > 0 && b <= 3 * cs && b * 10 <= a) }'; then
	pass proxy-futex-chain2 "$msg"
else
	fail proxy-futex-chain2 "$msg (want <= 3x cs and >= 10x better)"
fi

for r in pi pinned; do
	n99=$(q $r-noproxy .latency.p99_us); p99=$(q $r-proxy .latency.p99_us)
	msg="p99 ${n99} -> ${p99} us ($(ratio "$n99" "$p99")x)"
	if awk -v a="$n99" -v b="$p99" 'BEGIN { exit !(b > 0 && b * 2 <= a) }'; then
		pass "proxy-$r" "$msg"
	else
		fail "proxy-$r" "$msg (want >= 2x better)"
	fi
done
if jq -e '.metrics.edge_futex > 0 and .metrics.edge_pi_futex > 0 and .metrics.cycles > 0' "$s" > /dev/null 2>&1; then
	pass proxy-futex-edges "$(jq -c '.metrics | {edge_futex, edge_pi_futex, edge_rejected, cycles, depth_hist}' "$s")"
else
	fail proxy-futex-edges "$(jq -c '.metrics | {edge_futex, edge_pi_futex, cycles}' "$s" 2>/dev/null)"
fi

"$demo" compare "$out"/rename-noproxy.json "$out"/rename-proxy.json "$out"/chain2-noproxy.json \
	"$out"/chain2-proxy.json "$out"/pi-noproxy.json "$out"/pi-proxy.json \
	"$out"/pinned-noproxy.json "$out"/pinned-proxy.json --markdown > "$out/table.md" 2>&1 || true
