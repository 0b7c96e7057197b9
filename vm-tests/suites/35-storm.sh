# shellcheck shell=bash
# The lock-stressor storm (issues 9 and 14), in a boot of its own: stress-ng
# mutex (SCHED_FIFO threads on a PI mutex), futex, rename, pthread,
# exit-group, flock, sem, fork and switch stressors, 90 s (three times the
# kernel's longest watchdog timeout, 4.5 times scx_proxy's 20 s). The host
# side gives the boot a deadline and a verdict (completed, panicked, hung);
# here every case must keep scx_proxy attached at every 1 s sample and the
# storm must end by itself.
#
#   storm-noproxy    scx_proxy --no-proxy under the storm
#   storm-proxy      scx_proxy (donation on) under the storm
#   storm-stop       (manual, STORM_STOP=1 vm-tests/run vm storm; not in CI)
#                    scx_proxy stopped with SIGINT 30 s into the storm: it
#                    should detach within 30 s and the storm still complete.
#                    On 7.3.4 it does not: the kernel's disable stalls in
#                    bypass mode with rcu_preempt starved (kept out of CI as
#                    issue 14 asks; docs/rt-disable-hang.md has the traces).

out=$RESULTS/storm
mkdir -p "$out" "$WORK/storm"
secs=${STORM_SECONDS:-90}
STORM=(stress-ng --mutex 2 --futex 2 --rename 2 --pthread 2 --exit-group 2
	--flock 2 --sem 2 --fork 2 --switch 2 --timeout "${secs}s" --metrics-brief)

rcu_stalls() { dmesg | grep -cE 'rcu: INFO: .*detected stall|rcu_preempt kthread starved'; }

storm_case() {	# NAME [SCX_PROXY ARGS]
	local name=$1 sp rc t0 st0
	shift
	if ! sched_start scx_proxy --stats-json "$out/stats-$name.json" "$@"; then
		fail "$name-attach" "$(tail -n 3 "$SCHED_LOG")"
		return
	fi
	st0=$(rcu_stalls)
	t0=$SECONDS
	( cd "$WORK/storm" && exec "${STORM[@]}" ) > "$out/$name.log" 2>&1 &
	sp=$!
	watch_attached $((secs + 120)) $sp
	if kill -0 $sp 2>/dev/null; then
		fail "$name-completed" "the storm did not end $((secs + 120)) s after it started"
		kill -KILL $sp
	fi
	wait $sp
	rc=$?
	if [ "$WATCH_BAD" = 0 ] && kill -0 "$SCHED_PID" 2>/dev/null; then
		pass "$name-attached" "$WATCH_SAMPLES/$WATCH_SAMPLES samples enabled+scx_proxy over $((SECONDS - t0)) s"
	else
		fail "$name-attached" "$WATCH_BAD/$WATCH_SAMPLES samples not attached: $(head -n 3 "$WORK/bad-samples"); $(grep -iE 'stall|error' "$SCHED_LOG" | head -n 2)"
	fi
	if [ $((SECONDS - t0)) -le $((secs + 120)) ]; then
		pass "$name-completed" "stress-ng ended by itself after $((SECONDS - t0)) s (rc $rc)"
	fi
	sched_stop || fail "$name-detach" "$(tail -n 3 "$SCHED_LOG")"
	info "$name-stats" "rcu stall reports $(($(rcu_stalls) - st0)); $(jq -c '.metrics | {rescued, max_wait_us, cpu_release, reenq, donations, donation_expired, edge_pi_futex, edge_futex, edge_mutex}' "$out/stats-$name.json" 2>/dev/null)"
}

storm_case storm-noproxy --no-proxy
storm_case storm-proxy

# stop scx_proxy 30 s into the storm: it must detach, and the storm go on.
# A manual reproducer of the kernel's disable stall (see the header).
if [ "${STORM_STOP:-0}" != 1 ]; then
	info storm-stop-skipped "the stop-mid-storm case is a manual reproducer (STORM_STOP=1): on 7.3.4 the kernel's disable stalls under it, docs/rt-disable-hang.md"
elif sched_start scx_proxy; then
	( cd "$WORK/storm" && exec "${STORM[@]}" ) > "$out/storm-stop.log" 2>&1 &
	sp=$!
	sleep 30
	kill -INT "$SCHED_PID"
	rt_wait_state disabled 120
	for _ in $(seq 1 60); do kill -0 "$SCHED_PID" 2>/dev/null || break; sleep 1; done
	wait "$SCHED_PID"
	src=$?
	SCHED_PID=
	if [ "$RT_STATE" = disabled ] && le "$RT_WAITED" 30 && [ $src = 0 ]; then
		pass storm-stop-detach "detached ${RT_WAITED} s after SIGINT, exit status 0"
	else
		fail storm-stop-detach "state $RT_STATE ${RT_WAITED} s after SIGINT, exit status $src"
	fi
	t1=$SECONDS
	while [ $((SECONDS - t1)) -lt $((secs + 60)) ] && kill -0 $sp 2>/dev/null; do sleep 1; done
	if kill -0 $sp 2>/dev/null; then
		fail storm-stop-completed "the storm did not end after the scheduler was stopped"
		kill -KILL $sp
	else
		wait $sp
		pass storm-stop-completed "stress-ng ended by itself (rc $?) under the kernel's scheduler"
	fi
else
	fail storm-stop-attach "$(tail -n 3 "$SCHED_LOG")"
fi
