# shellcheck shell=bash
# Host-side helpers shared by vm-tests/run and vm-tests/manual/*.sh
# (sourced; the guest side is lib.sh).

# vng_deadline DEADLINE LOG VNG-ARGS...: boot `vng VNG-ARGS...` in a session
# of its own, stdin from /dev/null, output to LOG. When DEADLINE seconds
# pass, the whole session (vng, virtme-run and QEMU) gets SIGTERM, and
# SIGKILL 30 s later; whatever is left of the session when vng exits is
# killed too, so a hung guest never leaves a QEMU running beside the next
# boot (`timeout setsid vng` killed only vng). Returns vng's exit code, or
# 124 when the deadline passed.
vng_deadline() {
	local deadline=$1 log=$2 pid t0 i
	shift 2
	# not a job-control shell: the child is no group leader, so setsid
	# does not fork, and $! is the new session's (and group's) id
	setsid vng "$@" < /dev/null > "$log" 2>&1 &
	pid=$!
	t0=$SECONDS
	while kill -0 "$pid" 2> /dev/null; do
		if [ $((SECONDS - t0)) -ge "$deadline" ]; then
			kill -TERM -- "-$pid" 2> /dev/null
			for i in $(seq 1 30); do
				kill -0 -- "-$pid" 2> /dev/null || break
				sleep 1
			done
			kill -KILL -- "-$pid" 2> /dev/null
			wait "$pid" 2> /dev/null
			return 124
		fi
		sleep 1
	done
	wait "$pid"
	i=$?
	kill -KILL -- "-$pid" 2> /dev/null
	return $i
}
