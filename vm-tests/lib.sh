# shellcheck shell=bash
# Helpers for the guest side of the VM suite (sourced by guest.sh; suites
# use them). Every check ends up as one line of $RESULTS/checks.tsv:
#   PASS|FAIL <tab> name <tab> detail
# which the host turns into the final "N passed, N failed".

SCHED_EXT=/sys/kernel/sched_ext
PEERS_BIN=${SCX_PROXY_PEERS_BIN:-${SCX_PROXY_CACHE:-/var/cache/scx_proxy}/peers/bin}
SCHED_PID=
SCHED_NAME=
SCHED_LOG=
SCHED_START_S=

log() { echo "[vm $(date +%T)] $*" | tee -a "$RESULTS/guest.log" >&2; }

_record() {
	local status=$1 name=$2 detail=${3:-}
	detail=$(printf '%s' "$detail" | tr '\t\n' '  ' | cut -c1-400)
	name=${CHECK_PREFIX:-}$name
	printf '%s\t%s\t%s\n' "$status" "$name" "$detail" >> "$RESULTS/checks.tsv"
	log "$status $name${detail:+: $detail}"
}
pass() { _record PASS "$1" "${2:-}"; }
# info NAME DETAIL: a measurement worth reporting that is not a check.
info() { _record INFO "$1" "${2:-}"; }
fail() { _record FAIL "$1" "${2:-failed}"; }

# check NAME CMD...: pass iff CMD exits 0; its output goes to the guest log.
check() {
	local name=$1 out rc
	shift
	out=$("$@" 2>&1)
	rc=$?
	printf '%s\n' "$out" >> "$RESULTS/guest.log"
	if [ $rc -eq 0 ]; then
		pass "$name"
	else
		fail "$name" "exit $rc: $(printf '%s' "$out" | tail -n 3)"
	fi
	return $rc
}

sched_state() { cat "$SCHED_EXT/state" 2>/dev/null || echo missing; }
sched_ops() { cat "$SCHED_EXT/root/ops" 2>/dev/null || true; }

_sched_bin() {
	case $1 in
	scx_proxy) echo "$SCX_PROXY" ;;
	# another build of scx_proxy, for before/after runs (96-cost.sh)
	scx_proxy-base) echo "${SCX_PROXY_BASE:-}" ;;
	*) echo "$PEERS_BIN/$1" ;;
	esac
}

# The ops name each scheduler registers under (prefix of root/ops).
_sched_ops_name() {
	case $1 in
	scx_proxy | scx_proxy-base) echo scx_proxy ;;
	scx_*) echo "${1#scx_}" ;;
	*) echo "$1" ;;
	esac
}

# sched_start NAME [ARGS...]: start a scheduler, wait until it is attached.
sched_start() {
	local name=$1 bin want t0 deadline
	shift
	bin=$(_sched_bin "$name")
	want=$(_sched_ops_name "$name")
	if [ ! -x "$bin" ]; then
		log "sched_start: $name not found at $bin"
		return 1
	fi
	mkdir -p "$RESULTS/logs"
	SCHED_NAME=$name
	SCHED_LOG="$RESULTS/logs/$name.$(date +%s%N).log"
	t0=$(date +%s.%N)
	"$bin" "$@" > "$SCHED_LOG" 2>&1 &
	SCHED_PID=$!
	deadline=$((SECONDS + ${SCHED_START_TIMEOUT:-150}))
	while [ $SECONDS -lt $deadline ]; do
		if [ "$(sched_state)" = enabled ] && [[ "$(sched_ops)" == "$want"* ]]; then
			SCHED_START_S=$(awk -v a="$(date +%s.%N)" -v b="$t0" 'BEGIN { printf "%.2f", a - b }')
			log "$name attached after ${SCHED_START_S}s (pid $SCHED_PID, ops $(sched_ops))"
			return 0
		fi
		if ! kill -0 "$SCHED_PID" 2>/dev/null; then
			wait "$SCHED_PID"
			log "$name exited with $? before attaching: $(tail -n 5 "$SCHED_LOG" | tr '\n' ' ')"
			SCHED_PID=
			return 1
		fi
		sleep 0.2
	done
	log "$name did not attach in time (state $(sched_state))"
	kill -KILL "$SCHED_PID" 2>/dev/null
	wait "$SCHED_PID" 2>/dev/null
	SCHED_PID=
	return 1
}

# sched_stop: SIGINT the running scheduler; ok iff rc 0 and state disabled.
sched_stop() {
	local rc i
	[ -n "$SCHED_PID" ] || return 1
	kill -INT "$SCHED_PID" 2>/dev/null
	for i in $(seq 1 300); do
		kill -0 "$SCHED_PID" 2>/dev/null || break
		sleep 0.2
	done
	if kill -0 "$SCHED_PID" 2>/dev/null; then
		log "$SCHED_NAME did not exit after SIGINT: killing it"
		kill -KILL "$SCHED_PID"
	fi
	wait "$SCHED_PID"
	rc=$?
	SCHED_PID=
	for i in $(seq 1 50); do
		[ "$(sched_state)" = disabled ] && break
		sleep 0.2
	done
	log "$SCHED_NAME exited with $rc, state $(sched_state)"
	[ $rc -eq 0 ] && [ "$(sched_state)" = disabled ]
}

# Kernel log lines that mean trouble: oopses, warnings, stalls, ejections.
kernel_trouble() {
	dmesg | grep -E 'BUG:|WARNING:|Oops|Call Trace|stall|sched_ext:.*(disabled|error)' |
		grep -v 'unregistered from user space' || true
}

# Cgroup v2 with the cpu controller for our test cgroups.
cgroup_setup() {
	if ! grep -q ' /sys/fs/cgroup cgroup2 ' /proc/mounts; then
		mount -t cgroup2 none /sys/fs/cgroup || return 1
	fi
	grep -qw cpu /sys/fs/cgroup/cgroup.subtree_control ||
		echo +cpu > /sys/fs/cgroup/cgroup.subtree_control
}

# cpu.stat usage_usec of a cgroup.
cg_usage() { awk '$1 == "usage_usec" { print $2 }' "/sys/fs/cgroup/$1/cpu.stat"; }

# Run time of a task in ns (/proc/PID/schedstat).
task_runtime() { awk '{ print $1 }' "/proc/$1/schedstat"; }

# ratio_within A B WANT TOL: is A/B within TOL (fraction) of WANT?
ratio_within() {
	awk -v a="$1" -v b="$2" -v w="$3" -v t="$4" \
		'BEGIN { if (b <= 0) exit 1; r = a / b; exit !(r >= w * (1 - t) && r <= w * (1 + t)) }'
}
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b <= 0) print "inf"; else printf "%.3f", a / b }'; }

# watch_attached SECS PID...: sample the state every second until all PIDs
# have exited (at most SECS s); sets WATCH_SAMPLES and WATCH_BAD (samples
# not enabled+scx_proxy) and leaves the bad ones in $WORK/bad-samples.
# The sampler must not be starved by the load it watches: it runs as
# SCHED_FIFO 99 (reset-on-fork, so nothing it starts inherits that) and
# forks nothing while it samples (bash builtins only; the 1 s pause is a
# timed read on a FIFO nobody writes).
watch_attached() {
	local secs=$1 end p alive st ops fd
	shift
	WATCH_SAMPLES=0
	WATCH_BAD=0
	: > "$WORK/bad-samples"
	[ -p "$WORK/never" ] || mkfifo "$WORK/never"
	exec {fd}<>"$WORK/never"
	chrt -f -R -p 99 $BASHPID 2>/dev/null
	end=$((SECONDS + secs))
	while [ $SECONDS -lt $end ]; do
		alive=0
		for p in "$@"; do kill -0 "$p" 2>/dev/null && alive=1; done
		[ $alive = 1 ] || break
		WATCH_SAMPLES=$((WATCH_SAMPLES + 1))
		st=missing
		ops=
		read -r st < "$SCHED_EXT/state" 2>/dev/null
		read -r ops < "$SCHED_EXT/root/ops" 2>/dev/null
		if [ "$st" != enabled ] || [[ "$ops" != scx_proxy* ]]; then
			WATCH_BAD=$((WATCH_BAD + 1))
			echo "sample $WATCH_SAMPLES at ${SECONDS}s: state $st ops $ops" >> "$WORK/bad-samples"
		fi
		read -r -t 1 -u "$fd" _
	done
	chrt -o -p 0 $BASHPID 2>/dev/null
	exec {fd}>&-
}

# jnum FILE FILTER: a number from a JSON file (0 when absent).
jnum() { jq -r "$2 // 0" "$1" 2>/dev/null || echo 0; }

# le A B: is A <= B (floats)?
le() { awk -v a="$1" -v b="$2" 'BEGIN { exit !(a <= b) }'; }

# rt_wait_state WANT SECS: wait (fork-free, as SCHED_FIFO 99 like
# watch_attached) until the sched_ext state is WANT, at most SECS s; sets
# RT_WAITED to the seconds it took (ms precision) and RT_STATE to the state.
rt_wait_state() {
	local want=$1 secs=$2 fd t0 now
	[ -p "$WORK/never" ] || mkfifo "$WORK/never"
	exec {fd}<>"$WORK/never"
	chrt -f -R -p 99 $BASHPID 2>/dev/null
	t0=${EPOCHREALTIME/./}
	RT_STATE=missing
	while :; do
		read -r RT_STATE < "$SCHED_EXT/state" 2>/dev/null
		now=${EPOCHREALTIME/./}
		[ "$RT_STATE" = "$want" ] && break
		[ $(((now - t0) / 1000000)) -ge "$secs" ] && break
		read -r -t 0.1 -u "$fd" _
	done
	RT_WAITED=$(awk -v d=$((now - t0)) 'BEGIN { printf "%.3f", d / 1e6 }')
	chrt -o -p 0 $BASHPID 2>/dev/null
	exec {fd}>&-
}
