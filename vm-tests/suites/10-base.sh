# shellcheck shell=bash
# Base scheduler (issue 2): load, stay attached under a mixed load, honour
# cgroup cpu.weight (flat and nested, issue 10) and nice, refuse bad
# situations clearly, detach cleanly.

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

# --- hierarchical cpu.weight (issue 10): nested cgroups, one CPU -------------
# Every hog spins on CPU 0 in a leaf cgroup; a window measures the leaves'
# usage_usec over wdur. Expected shares follow cpu.weight down the tree.
hogs=()
hog() {	# hog CGROUP: a CPU-bound task on CPU 0 in CGROUP
	( echo $BASHPID > "/sys/fs/cgroup/$1/cgroup.procs"; exec taskset -c 0 sh -c 'while :; do :; done' ) &
	hogs+=($!)
}
mkcg() {	# mkcg PATH WEIGHT: a cgroup, its parent's cpu controller on
	mkdir -p "/sys/fs/cgroup/$1"
	grep -qw cpu "/sys/fs/cgroup/$(dirname "$1")/cgroup.subtree_control" ||
		echo +cpu > "/sys/fs/cgroup/$(dirname "$1")/cgroup.subtree_control"
	echo "$2" > "/sys/fs/cgroup/$1/cpu.weight"
}
window() {	# window CGROUP...: usage_usec of each over wdur, into $use[]
	local c i u1=()
	sleep 2
	for c; do u1+=("$(cg_usage "$c")"); done
	sleep "$wdur"
	use=()
	i=0
	for c; do use+=($(($(cg_usage "$c") - u1[i]))); i=$((i + 1)); done
}
shares() {	# shares CHECK "NAME=WANT..." : every leaf's usage over the first's
	local name=$1 ok=1 msg="" i=0 w0 r
	shift
	w0=${1#*=}
	for nw in "$@"; do
		r=$(ratio "${use[i]}" "${use[0]}")
		want=$(awk -v a="${nw#*=}" -v b="$w0" 'BEGIN { printf "%.3f", a / b }')
		msg="$msg ${nw%=*} ${use[i]} us ($r, want $want);"
		ratio_within "${use[i]}" "${use[0]}" "$want" 0.10 || ok=0
		i=$((i + 1))
	done
	echo "$name$msg" >> "$bo/weights.txt"
	if [ $ok = 1 ]; then pass "$name" "within 10%:$msg"; else fail "$name" "wanted within 10%:$msg"; fi
}
mkcg hA 100; mkcg hA/a1 100; mkcg hA/a2 100; mkcg hB 100
hog hA/a1; moved=${hogs[-1]}; hog hA/a2; hog hB
window hA/a1 hA/a2 hB
shares base-cgroup-nested "a1=1" "a2=1" "B=2"
echo 300 > /sys/fs/cgroup/hA/cpu.weight
window hA/a1 hA/a2 hB
shares base-cgroup-weight-change "a1=3" "a2=3" "B=2"
# the hog of A/a1 moves to B while running: A(300){a2} against B(100){2 hogs}
echo "$moved" > /sys/fs/cgroup/hB/cgroup.procs
window hA/a2 hB
shares base-cgroup-task-moved "a2=3" "B=1"
kill "${hogs[@]}"; wait "${hogs[@]}" 2> /dev/null
hogs=()
# systemd's shape: user.slice/user-1000.slice/{app,bg}.slice beside system.slice
mkcg hu.slice 100; mkcg hu.slice/u1000.slice 100
mkcg hu.slice/u1000.slice/app.slice 200; mkcg hu.slice/u1000.slice/bg.slice 100
mkcg hs.slice 100; mkcg hs.slice/svc.service 100
hog hu.slice/u1000.slice/app.slice; hog hu.slice/u1000.slice/bg.slice; hog hs.slice/svc.service
window hu.slice/u1000.slice/app.slice hu.slice/u1000.slice/bg.slice hs.slice/svc.service
shares base-cgroup-three-levels "app=2" "bg=1" "system=3"
kill "${hogs[@]}"; wait "${hogs[@]}" 2> /dev/null
rmdir /sys/fs/cgroup/hA/a1 /sys/fs/cgroup/hA/a2 /sys/fs/cgroup/hA /sys/fs/cgroup/hB \
	/sys/fs/cgroup/hu.slice/u1000.slice/app.slice /sys/fs/cgroup/hu.slice/u1000.slice/bg.slice \
	/sys/fs/cgroup/hu.slice/u1000.slice /sys/fs/cgroup/hu.slice \
	/sys/fs/cgroup/hs.slice/svc.service /sys/fs/cgroup/hs.slice 2> /dev/null

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
