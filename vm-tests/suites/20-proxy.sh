# shellcheck shell=bash
# Proxy execution (issue 3): the same inversion workloads under
# scx_proxy --no-proxy and scx_proxy, in this one boot, compared as ratios.
#
#   rename      kernel mutex (s_vfs_rename_mutex): donations seen on a mutex,
#               p99.9 and max >= 10x better with donation (issue 3's target)
#   chain2      2-deep glibc mutex chain, nice -20 waiter, nice 19 owners:
#               p99 <= 3x the critical section and p99 >= 10x better
#   pi          PTHREAD_PRIO_INHERIT mutex: PI edges made, p99.9 >= 2x better
#   pinned      depth 1 with the owner pinned to the other CPU: donation
#               without migration, nothing ejected, p99.9 >= 2x better
#   donors      two donors for one owner, the better one timing out: both
#               lend, woken donors stop lending; runner-up handovers reported
#   chain       fixtures/chain.py: a 2-deep chain that forms every round
#   deadlock    a 2-cycle of timed mutex waits: stays attached, walks end
#   mixed       the base suite's mixed load with donation on: stays attached
#   pidns       the chain fixture inside a new pid namespace (unshare -pf, as
#               in a container: TIDs in lock words are namespace-local):
#               futex edges and depth-2 donations made there too
#   live        live knobs (issue 12): one instance, `scx_proxy ctl proxy=off`
#               then `proxy=on` while the rename inversion runs: p99.9 with
#               donation back on >= 5x better than while it was off; ctl
#               reads, refuses bad values and non-root without changing
#               anything, and --monitor shows the knobs in force

demo=$TOOLS_BIN/inversion-demo
out=$RESULTS/proxy
mkdir -p "$out"
secs=${PROXY_SECONDS:-12}
cs_us=${PROXY_CS_US:-5000}
gap_us=${PROXY_OWNER_GAP_US:-100}
# the chain2 waiter sleeps 30 ms between acquisitions: with the demo's
# default 0.5 ms most acquisitions are uncontended and the inversions (under
# 1% of them) only show at p99.9; the issue's target is about p99
chain_think_us=${PROXY_CHAIN_THINK_US:-30000}

q() { jq -r "$2" "$out/$1.json" 2>/dev/null || echo 0; }	# q RUN FILTER
st() { jq -c "$2" "$out/stats-$1.json" 2>/dev/null; }	# st RUN FILTER

# run SCENARIO CONFIG DEMO-ARGS...: one run under its own scheduler instance
# (CONFIG noproxy or proxy), so that each run's statistics are its own.
run() {
	local r=$1 cfg=$2 flag=
	shift 2
	[ "$cfg" = noproxy ] && flag=--no-proxy
	if ! sched_start scx_proxy $flag --stats-json "$out/stats-$r-$cfg.json"; then
		fail "proxy-attach-$r-$cfg" "$(tail -n 3 "$SCHED_LOG")"
		return
	fi
	"$demo" run "$@" --duration "$secs" --out "$out/$r-$cfg.json" --label "$r/$cfg" \
		> "$out/$r-$cfg.log" 2>&1 || fail "proxy-run-$r-$cfg" "$(tail -n 2 "$out/$r-$cfg.log")"
	[[ "$(sched_state)/$(sched_ops)" == enabled/scx_proxy* ]] ||
		fail "proxy-attached-$r-$cfg" "state $(sched_state) after the run"
	sched_stop || fail "proxy-detach-$r-$cfg" "$(tail -n 3 "$SCHED_LOG")"
}

for cfg in noproxy proxy; do
	run rename $cfg --scenario rename
	run chain2 $cfg --scenario chain --depth 2 --cs-us $cs_us --owner-gap-us $gap_us \
		--think-us $chain_think_us
	run pi $cfg --scenario pi-futex --cs-us $cs_us --owner-gap-us $gap_us
	run pinned $cfg --scenario chain --depth 1 --owner-cpu 1 --cs-us $cs_us --owner-gap-us $gap_us
done

# two donors for one owner, the better one timing out: both lend, a woken
# donor stops lending, the scheduler stays attached (its own instance, so
# the counts are its own). Whether the runner-up takes over in a round
# depends on the emulated guest's timing (in debug runs the first donor's
# wait often ended before the second blocked), so the handover count is
# reported, not required.
if sched_start scx_proxy --max-donation-us 2000000 --stats-json "$out/stats-donors.json"; then
	if timeout 180 python3 "$(dirname "${BASH_SOURCE[0]}")/../fixtures/donors.py" 8 600 \
		> "$out/donors.log" 2>&1 && [ "$(sched_state)" = enabled ]; then
		pass proxy-donors-fixture "$(cat "$out/donors.log"); still attached"
	else
		fail proxy-donors-fixture "$(tail -n 2 "$out/donors.log"); state $(sched_state)"
	fi
	sched_stop || fail proxy-detach-donors "$(tail -n 3 "$SCHED_LOG")"
	m=$(jq -c '.metrics | {donations, donor_woken, donor_handovers, donation_end}' "$out/stats-donors.json" 2>/dev/null)
	if jq -e '.metrics.donations >= 8 and .metrics.donor_woken > 0' "$out/stats-donors.json" > /dev/null 2>&1; then
		pass proxy-donors-lend "$m"
	else
		fail proxy-donors-lend "wanted a donation per round and woken donors: $m"
	fi
	info proxy-donor-handovers "$m"
else
	fail proxy-attach-donors "$(tail -n 3 "$SCHED_LOG")"
fi

# the 2-deep chain inside a new pid namespace, under its own instance
if sched_start scx_proxy --stats-json "$out/stats-pidns.json"; then
	timeout 120 unshare -pf --mount-proc sh -c 'echo "pid in namespace $$"; exec python3 "$0" 5 200' \
		"$(dirname "${BASH_SOURCE[0]}")/../fixtures/chain.py" > "$out/pidns.log" 2>&1
	prc=$?
	sched_stop || fail proxy-detach-pidns "$(tail -n 3 "$SCHED_LOG")"
	m=$(st pidns '.metrics | {edge_futex, edge_foreign, donations, depth_hist}')
	if [ $prc -eq 0 ] && grep -q '^pid in namespace 1$' "$out/pidns.log" &&
		jq -e '.metrics.edge_futex > 0 and .metrics.donations > 0 and .metrics.depth_hist[1] > 0' \
			"$out/stats-pidns.json" > /dev/null 2>&1; then
		pass proxy-pidns-chain "$(tr '\n' ' ' < "$out/pidns.log")| $m"
	else
		fail proxy-pidns-chain "rc $prc: $(tr '\n' ' ' < "$out/pidns.log")| wanted futex edges and depth-2 donations: $m"
	fi
else
	fail proxy-attach-pidns "$(tail -n 3 "$SCHED_LOG")"
fi

# live knobs: donation off, then on again, in one running instance
knob_line() { "$SCX_PROXY" ctl "$@" 2>&1; }
if sched_start scx_proxy --stats-json "$out/stats-live.json"; then
	k0=$(knob_line)
	want="proxy=on cpu-donation=on kernel-locks=on futex=on max-depth=8 max-donation-us=100000"
	if [ "$k0" = "$want" ]; then
		pass proxy-live-read "$k0"
	else
		fail proxy-live-read "wanted '$want', got '$k0'"
	fi
	bad=$(knob_line max-depth=3 max-donation-us=5); brc=$?
	nobody="(setpriv missing: not checked)"
	if command -v setpriv > /dev/null; then
		nobody=$(setpriv --reuid=65534 --regid=65534 --clear-groups "$SCX_PROXY" ctl proxy=off 2>&1)
		nobody="rc $? $nobody"
	fi
	# ctl refuses that before it connects; send it to the daemon itself
	# too, past ctl's check: its answer must be EINVAL, and the good
	# setting beside the bad one (max-depth=3) must not be applied
	raw=$(python3 -c 'import json, socket, sys
s = socket.socket(socket.AF_UNIX)
s.connect(sys.argv[1])
s.sendall((json.dumps({"req": "stats", "args": {"target": "knobs", "max-depth": "3", "max-donation-us": "5"}}) + "\n").encode())
print(s.makefile().readline().strip())' /var/run/scx/root/stats 2>&1)
	k1=$(knob_line)
	if [ $brc -ne 0 ] && grep -q 'max-donation-us=5: max-donation-us is a whole number' <<< "$bad" &&
		jq -e '.errno == 22 and (.args.resp | tostring | test("max-donation-us=5"))' <<< "$raw" > /dev/null 2>&1 &&
		[[ $nobody != "rc 0"* ]] && [ "$k1" = "$want" ]; then
		pass proxy-live-refused "bad value: $bad | daemon: $raw | non-root: $nobody | unchanged: $k1"
	else
		fail proxy-live-refused "rc $brc: $bad | daemon: $raw | non-root: $nobody | knobs now: $k1"
	fi
	koff=$(knob_line proxy=off)
	"$demo" run --scenario rename --duration "$secs" --out "$out/live-off.json" --label "rename/live proxy=off" \
		> "$out/live-off.log" 2>&1 || fail proxy-live-run-off "$(tail -n 2 "$out/live-off.log")"
	kon=$(knob_line proxy=on)
	"$demo" run --scenario rename --duration "$secs" --out "$out/live-on.json" --label "rename/live proxy=on" \
		> "$out/live-on.log" 2>&1 || fail proxy-live-run-on "$(tail -n 2 "$out/live-on.log")"
	mon=$(timeout 6 "$SCX_PROXY" --monitor 1 2>&1 | grep -m1 'knobs:')
	attached=$(sched_state)/$(sched_ops)
	sched_stop || fail proxy-live-detach "$(tail -n 3 "$SCHED_LOG")"
	if [[ $koff == proxy=off* ]] && [[ $kon == proxy=on* ]] && [[ $mon == *"knobs: proxy=on "* ]] &&
		[[ $attached == enabled/scx_proxy* ]] && grep -q 'knobs changed: proxy on -> off' "$SCHED_LOG" &&
		grep -q 'knobs changed: proxy off -> on' "$SCHED_LOG"; then
		pass proxy-live-switch "ctl: '$koff' then '$kon'; monitor: '${mon# }'; logged: $(grep -c 'knobs changed' "$SCHED_LOG") changes"
	else
		fail proxy-live-switch "off '$koff', on '$kon', monitor '$mon', state $attached, log: $(grep 'knobs' "$SCHED_LOG" | tr '\n' ' ')"
	fi
	off999=$(jnum "$out/live-off.json" .latency.p999_us); on999=$(jnum "$out/live-on.json" .latency.p999_us)
	msg="rename p99.9 ${off999} us with proxy=off -> ${on999} us after proxy=on ($(ratio "$off999" "$on999")x), same instance"
	if awk -v a="$off999" -v b="$on999" 'BEGIN { exit !(b > 0 && b * 5 <= a) }'; then
		pass proxy-live-tail "$msg"
	else
		fail proxy-live-tail "wanted >= 5x; $msg"
	fi
else
	fail proxy-attach-live "$(tail -n 3 "$SCHED_LOG")"
fi

# deadlock cycle and the mixed load, under one instance with donation on
if sched_start scx_proxy --stats-json "$out/stats-proxy.json"; then
	if timeout 120 python3 "$(dirname "${BASH_SOURCE[0]}")/../fixtures/deadlock.py" 5 300 \
		> "$out/deadlock.log" 2>&1 && [ "$(sched_state)" = enabled ] && kill -0 "$SCHED_PID"; then
		pass proxy-deadlock-cycle "$(cat "$out/deadlock.log"); still attached"
	else
		fail proxy-deadlock-cycle "$(tail -n 2 "$out/deadlock.log"); state $(sched_state)"
	fi
	# a 2-deep chain that forms every round (the demo's chain2 run forms one
	# only when the waiter happens to block while owner1 waits on lock2)
	if timeout 120 python3 "$(dirname "${BASH_SOURCE[0]}")/../fixtures/chain.py" 5 200 \
		> "$out/chain-fixture.log" 2>&1; then
		pass proxy-chain-fixture "$(cat "$out/chain-fixture.log")"
	else
		fail proxy-chain-fixture "$(tail -n 2 "$out/chain-fixture.log")"
	fi
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
	if jq -e '.metrics.cycles > 0' "$out/stats-proxy.json" > /dev/null 2>&1; then
		pass proxy-deadlock-walk-ends "$(jq -c '.metrics | {cycles, edge_futex, depth_capped}' "$out/stats-proxy.json")"
	else
		fail proxy-deadlock-walk-ends "no cycle seen: $(jq -c '.metrics | {cycles, edge_futex}' "$out/stats-proxy.json" 2>/dev/null)"
	fi
else
	fail proxy-attach "$(tail -n 3 "$SCHED_LOG")"
fi

# --- the verdicts -------------------------------------------------------------

# rename: donations happen on the mutex, and they shorten the tail
s=$out/stats-rename-proxy.json
if jq -e '.metrics.edge_mutex > 0 and .metrics.donations > 0 and
	([.metrics.locks[] | select(.kind == "mutex" and .donations > 0)] | length) > 0' "$s" > /dev/null 2>&1; then
	pass proxy-rename-donations "$(st rename-proxy '.metrics | {edge_mutex, donations, donations_queued, donations_running, proxy_migrations, proxy_local, return_migrations, donated_us, donation_expired}')"
else
	fail proxy-rename-donations "no donations on a mutex: $(st rename-proxy '.metrics | {edge_mutex, donations}')"
fi
np999=$(q rename-noproxy .latency.p999_us); pp999=$(q rename-proxy .latency.p999_us)
nmax=$(q rename-noproxy .latency.max_us); pmax=$(q rename-proxy .latency.max_us)
msg="p99.9 ${np999} -> ${pp999} us ($(ratio "$np999" "$pp999")x), max ${nmax} -> ${pmax} us ($(ratio "$nmax" "$pmax")x)"
if awk -v a="$np999" -v b="$pp999" 'BEGIN { exit !(b > 0 && b < a) }'; then
	pass proxy-rename-tail-better "$msg"
else
	fail proxy-rename-tail-better "$msg (donation did not shorten the p99.9)"
fi
if awk -v a="$np999" -v b="$pp999" -v c="$nmax" -v d="$pmax" \
	'BEGIN { exit !(b > 0 && d > 0 && b * 10 <= a && d * 10 <= c) }'; then
	pass proxy-rename-10x "p99.9 and max both >= 10x better: $msg"
else
	fail proxy-rename-10x "issue 3 wants p99.9 and max >= 10x better; $msg"
fi

# futex chain of 2: the tail collapses to a few critical sections
n99=$(q chain2-noproxy .latency.p99_us); p99=$(q chain2-proxy .latency.p99_us)
n999=$(q chain2-noproxy .latency.p999_us); p999=$(q chain2-proxy .latency.p999_us)
msg="p99 ${n99} -> ${p99} us ($(ratio "$n99" "$p99")x), p99.9 ${n999} -> ${p999} us, critical section ${cs_us} us"
if awk -v a="$n99" -v b="$p99" -v cs=$cs_us \
	'BEGIN { exit !(b > 0 && b <= 3 * cs && b * 10 <= a) }'; then
	pass proxy-futex-chain2-latency "p99 <= 3x cs and >= 10x better: $msg"
else
	fail proxy-futex-chain2-latency "wanted p99 <= 3x cs and >= 10x better; $msg"
fi
info proxy-futex-chain2-stats "$(st chain2-proxy '.metrics | {edge_futex, edge_rejected, donations, depth_hist}')"
if jq -e '.metrics.edge_futex > 0 and .metrics.donations > 0 and .metrics.depth_hist[1] > 0' \
	"$out/stats-proxy.json" > /dev/null 2>&1; then
	pass proxy-futex-depth2-donation "$(st proxy '.metrics | {edge_futex, donations, depth_hist}')"
else
	fail proxy-futex-depth2-donation "no depth-2 donation in the chain fixture: $(st proxy '.metrics | {edge_futex, donations, depth_hist}')"
fi

# PI futex and a pinned owner: edges and donations are made and nothing is
# ejected (run() checked the attachment); the latency effect is reported.
if jq -e '.metrics.edge_pi_futex > 0' "$out/stats-pi-proxy.json" > /dev/null 2>&1; then
	pass proxy-pi-edges "$(st pi-proxy '.metrics | {edge_pi_futex, donations, donated_us}')"
else
	fail proxy-pi-edges "no PI futex edge: $(st pi-proxy '.metrics | {edge_pi_futex}')"
fi
# The pinned owner is never moved: every proxy migration of the instance
# is accounted for by a donation on a kernel lock (another task of the
# guest; the CI-like run on c92e9f3 had one: a task blocked on a kernel
# mutex held by the scx_proxy daemon, which was moved to it), none by the
# demo's futex.
if jq -e '.metrics as $m | $m.edge_futex > 0 and $m.proxy_migrations <=
	([$m.locks[]? | select(.kind == "mutex" or .kind == "rwsem") | .donations] | add // 0)' \
	"$out/stats-pinned-proxy.json" > /dev/null 2>&1; then
	pass proxy-pinned-no-migration "$(st pinned-proxy '.metrics | {edge_futex, edge_mutex, edge_rwsem, donations, proxy_local, proxy_not_allowed, proxy_migrations}')"
else
	fail proxy-pinned-no-migration "want proxy migrations <= kernel-lock donations: $(st pinned-proxy '.metrics | {edge_futex, edge_mutex, edge_rwsem, proxy_migrations, locks: [.locks[]? | {kind, owner, donations}]}')"
fi
# "donation must still help": p99.9 at least 2x better (measured 77x-274x
# once donors stop lending when woken; the margin is for emulation noise)
for r in pi pinned; do
	n999=$(q $r-noproxy .latency.p999_us); p999=$(q $r-proxy .latency.p999_us)
	msg="p99 $(q $r-noproxy .latency.p99_us) -> $(q $r-proxy .latency.p99_us) us, p99.9 $n999 -> $p999 us ($(ratio "$n999" "$p999")x)"
	if awk -v a="$n999" -v b="$p999" 'BEGIN { exit !(b > 0 && b * 2 <= a) }'; then
		pass "proxy-$r-helps" "$msg"
	else
		fail "proxy-$r-helps" "p99.9 not 2x better with donation; $msg"
	fi
done

"$demo" compare "$out"/rename-noproxy.json "$out"/rename-proxy.json "$out"/chain2-noproxy.json \
	"$out"/chain2-proxy.json "$out"/pi-noproxy.json "$out"/pi-proxy.json \
	"$out"/pinned-noproxy.json "$out"/pinned-proxy.json --markdown > "$out/table.md" 2>&1 || true
