# shellcheck shell=bash
# Base scheduler (issue 2): load, stay attached under a mixed load, honour
# cgroup cpu.weight and nice, refuse bad situations clearly, detach cleanly.

# where this suite's files go (the compat boot runs it again into another)
bo=${BASE_OUT:-$RESULTS}
mkdir -p "$bo"

# --- error paths: a second instance, a non-root user --------------------------
if sched_start scx_proxy --stats-json "$bo/base-stats.json"; then
	pass base-attach "attached in ${SCHED_START_S}s, ops $(sched_ops)"
	echo "$SCHED_START_S" > "$bo/base-attach-seconds"
	grep -o 'attached in [0-9.]*s' "$SCHED_LOG" | head -n1 > "$bo/base-load-time" || true
else
	fail base-attach "scx_proxy did not attach: $(tail -n 5 "$SCHED_LOG" | tr '\n' ' ')"
	return 0
fi

out=$("$SCX_PROXY" 2>&1)
rc=$?
if [ $rc -ne 0 ] && grep -q 'already attached: scx_proxy' <<<"$out"; then
	pass base-refuses-second-instance "$(head -n1 <<<"$out")"
else
	fail base-refuses-second-instance "rc $rc: $out"
fi
out=$(setpriv --reuid=65534 --regid=65534 --clear-groups "$SCX_PROXY" 2>&1)
rc=$?
if [ $rc -ne 0 ] && grep -q 'must run as root' <<<"$out"; then
	pass base-refuses-non-root "$(head -n1 <<<"$out")"
else
	fail base-refuses-non-root "rc $rc: $out"
fi

# --- mixed load: cpu + pipe + futex stressors, a fork storm, weighted cgroups -
mkdir -p /sys/fs/cgroup/mix-lo /sys/fs/cgroup/mix-hi
echo 50 > /sys/fs/cgroup/mix-lo/cpu.weight
echo 500 > /sys/fs/cgroup/mix-hi/cpu.weight
dur=${BASE_MIX_SECONDS:-25}
stress-ng --cpu 2 --pipe 2 --futex 2 --timeout "${dur}s" --quiet > "$WORK/stress.log" 2>&1 &
spid=$!
( echo $BASHPID > /sys/fs/cgroup/mix-lo/cgroup.procs; exec stress-ng --cpu 1 --timeout "${dur}s" --quiet ) &
lpid=$!
( echo $BASHPID > /sys/fs/cgroup/mix-hi/cgroup.procs; exec stress-ng --cpu 1 --timeout "${dur}s" --quiet ) &
hpid=$!
( end=$((SECONDS + dur - 5)); n=0
  while [ $SECONDS -lt $end ]; do
	for i in 1 2 3 4 5 6 7 8; do /bin/true & done; wait; n=$((n + 8))
  done; echo "$n" > "$WORK/forks" ) &
fpid=$!
samples=0
bad=0
end=$((SECONDS + dur))
while [ $SECONDS -lt $end ]; do
	st=$(sched_state)
	ops=$(sched_ops)
	samples=$((samples + 1))
	if [ "$st" != enabled ] || [[ "$ops" != scx_proxy* ]]; then
		bad=$((bad + 1))
		echo "sample $samples: state $st ops $ops" >> "$WORK/bad-samples"
	fi
	sleep 1
done
wait $spid $lpid $hpid $fpid
forks=$(cat "$WORK/forks" 2>/dev/null || echo 0)
if [ $bad -eq 0 ] && [ $samples -ge 5 ] && kill -0 "$SCHED_PID" 2>/dev/null; then
	pass base-mixed-load-attached "$samples/$samples samples enabled+scx_proxy over ${dur}s; $forks forks"
else
	fail base-mixed-load-attached "$bad/$samples bad samples: $(head -n 3 "$WORK/bad-samples" 2>/dev/null)"
fi
rmdir /sys/fs/cgroup/mix-lo /sys/fs/cgroup/mix-hi 2>/dev/null

# --- cgroup cpu.weight 100 vs 300 on one CPU ----------------------------------
wdur=${BASE_WEIGHT_SECONDS:-12}
mkdir -p /sys/fs/cgroup/w100 /sys/fs/cgroup/w300
echo 100 > /sys/fs/cgroup/w100/cpu.weight
echo 300 > /sys/fs/cgroup/w300/cpu.weight
( echo $BASHPID > /sys/fs/cgroup/w100/cgroup.procs; exec taskset -c 0 sh -c 'while :; do :; done' ) &
a=$!
( echo $BASHPID > /sys/fs/cgroup/w300/cgroup.procs; exec taskset -c 0 sh -c 'while :; do :; done' ) &
b=$!
sleep 2
u1a=$(cg_usage w100); u1b=$(cg_usage w300)
sleep "$wdur"
u2a=$(cg_usage w100); u2b=$(cg_usage w300)
kill $a $b; wait $a $b 2>/dev/null
da=$((u2a - u1a)); db=$((u2b - u1b))
r=$(ratio $db $da)
echo "cgroup_w300_over_w100 $r" >> "$bo/weights.txt"
if ratio_within $db $da 3 0.10; then
	pass base-cgroup-weight "cpu.weight 300:100 got ${db}:${da} us = $r (want 3 +-10%)"
else
	fail base-cgroup-weight "cpu.weight 300:100 got ${db}:${da} us = $r (want 3 +-10%)"
fi
rmdir /sys/fs/cgroup/w100 /sys/fs/cgroup/w300

# --- nice 0 vs nice 5 on one CPU (weights 1024:335) ---------------------------
taskset -c 0 sh -c 'while :; do :; done' &
a=$!
taskset -c 0 nice -n 5 sh -c 'while :; do :; done' &
b=$!
sleep 2
t1a=$(task_runtime $a); t1b=$(task_runtime $b)
sleep "$wdur"
t2a=$(task_runtime $a); t2b=$(task_runtime $b)
kill $a $b; wait $a $b 2>/dev/null
da=$((t2a - t1a)); db=$((t2b - t1b))
r=$(ratio $da $db)
want=$(awk 'BEGIN { printf "%.3f", 1024 / 335 }')
echo "nice0_over_nice5 $r" >> "$bo/weights.txt"
if ratio_within $da $db "$want" 0.10; then
	pass base-nice-weight "nice 0:5 got $r (want $want +-10%)"
else
	fail base-nice-weight "nice 0:5 got ${da}:${db} ns = $r (want $want +-10%)"
fi

# --- detach ---------------------------------------------------------------------
if sched_stop; then
	pass base-detach "exit status 0, state disabled"
else
	fail base-detach "$(tail -n 5 "$SCHED_LOG" | tr '\n' ' ')"
fi
if [ -s "$bo/base-stats.json" ] && jq -e '.metrics.dispatch > 0' "$bo/base-stats.json" >/dev/null; then
	pass base-stats-json "dispatches $(jq .metrics.dispatch "$bo/base-stats.json"), load $(jq .load_time_s "$bo/base-stats.json")s"
else
	fail base-stats-json "no or empty $bo/base-stats.json"
fi
