#!/usr/bin/env bash
# Manual reproducer (not part of CI): a sched_ext disable under real-time
# load takes as long as the RCU grace-period kthread needs to be served by
# the bypass-mode round-robin on the ext deadline server's share.
#
# Run inside a VM booted with a sched_ext kernel (vng, 2 vCPUs), as root:
#   vm-tests/manual/rt-disable-hang.sh SCHEDULER_BIN [N_SPINNERS] [BYPASS_US]
# It starts SCHEDULER_BIN, waits until it is attached, sets the kernel's
# bypass slice to BYPASS_US (default 5000, the kernel's default), starts one
# SCHED_FIFO spinner per CPU and N_SPINNERS (default 400) SCHED_OTHER
# spinners, then stops the scheduler with SIGINT and reports how long the
# kernel took to reach state "disabled" (gives up after 600 s). Any
# scheduler shows it; with BYPASS_US 200 the same disable is much shorter.
set -u
bin=${1:?scheduler binary}
n=${2:-400}
bypass=${3:-5000}
param=/sys/module/sched_ext/parameters/slice_bypass_us
state() { cat /sys/kernel/sched_ext/state; }

"$bin" > /tmp/rt-disable-sched.log 2>&1 &
sched=$!
for _ in $(seq 1 300); do [ "$(state)" = enabled ] && break; sleep 0.2; done
[ "$(state)" = enabled ] || { echo "scheduler did not attach"; exit 1; }
echo "$bypass" > "$param"
echo "bypass slice $(cat $param) us, $n SCHED_OTHER spinners, $(nproc) SCHED_FIFO spinners"

pids=()
for _ in $(seq 1 "$n"); do sh -c 'while :; do :; done' & pids+=($!); done
sleep 5
for c in $(seq 0 $(($(nproc) - 1))); do
	taskset -c "$c" chrt -f 10 sh -c 'while :; do :; done' & pids+=($!)
done
sleep 5
t0=$(date +%s)
kill -INT "$sched"
while [ "$(state)" != disabled ] && [ $(($(date +%s) - t0)) -lt 600 ]; do sleep 1; done
echo "state $(state) $(($(date +%s) - t0)) s after SIGINT"
kill -KILL "${pids[@]}" 2>/dev/null
wait "$sched"
echo 5000 > "$param"
dmesg | grep -E 'blocked for more than|rcu.*stall|kthread starved' | tail -n 5
