# shellcheck shell=bash
# 95-matrix: the README's table and chart (issue 11): the hackbench matrix
# and every workload of 52-workloads in one sched-harness run, under the
# kernel default, scx_proxy, scx_proxy --no-proxy and the peers built by
# vm-tests/build-peers.sh, MX_RUNS interleaved repetitions in one boot, and
# the issue's target: scx_proxy within MX_TARGET (1.10) of the better of the
# kernel default and scx_bpfland on every workload's primary metric
# (--threshold-baseline default-bpfland; scx_lavd is reported, not a bar).
# Not part of `vm-tests/run test` (20-27 minutes with scx_bpfland and
# scx_lavd, MX_RUNS=5: 1610 s on 90037d1, 1170 s on db7987b): run it with
# `vm-tests/run vm 95` (multi-threaded TCG, as the 'workloads' boot: see
# 52-workloads.sh);
# results in results/vm/matrix/, the README's table in table.md.
#
#   matrix-harness   sched-harness ran, every scheduler present started and
#                    stopped cleanly, table/JSON/chart written
#   matrix-target    (reported) the workload threshold's verdict per cell,
#                    with its ratios within each round (range, rounds over)

mx_out=$RESULTS/matrix
mkdir -p "$mx_out"
MX_RUNS=${MX_RUNS:-5}
MX_SECONDS=${MX_SECONDS:-2}
MX_LOOPS=${MX_LOOPS:-100}
MX_TARGET=${MX_TARGET:-1.10}
mx_peers=${HB_PEERS_DIR:-/var/cache/scx_proxy/peers/bin}
mx_scheds=default,scx_proxy,scx_proxy-noproxy
for p in scx_bpfland scx_lavd; do
	[[ -x $mx_peers/$p ]] && mx_scheds+=",$p"
done
mx_cmd=("$TOOLS_BIN/sched-harness" --schedulers "$mx_scheds" --scx-proxy "$SCX_PROXY"
	--peers-dir "$mx_peers" --runs "$MX_RUNS" --loops "$MX_LOOPS" --groups 1,4
	--workloads all --workload-seconds "$MX_SECONDS"
	--workload-threshold "$MX_TARGET" --threshold-baseline default-bpfland --threshold-candidate scx_proxy
	--out-dir "$mx_out")
log "matrix: ${mx_cmd[*]}"
echo "${mx_cmd[*]}" > "$mx_out/command.txt"
mx_rc=0
"${mx_cmd[@]}" > "$mx_out/stdout.txt" 2> "$mx_out/stderr.txt" || mx_rc=$?
[[ -f $mx_out/table.txt ]] && while IFS= read -r l; do log "  $l"; done < "$mx_out/table.txt"
if [[ $mx_rc -le 1 ]] && [[ -s $mx_out/results.json ]] &&
	[[ $(jq '[.schedulers[] | select(.present and (.errors | length) > 0)] | length' "$mx_out/results.json") == 0 ]]; then
	pass matrix-harness "$(jq '.samples | length' "$mx_out/results.json") samples, exit $mx_rc"
else
	fail matrix-harness "exit $mx_rc: $(grep -E 'rep [0-9]+:' "$mx_out/stderr.txt" | grep -iE 'error|exited|fail' | head -n 5 | tr '\n' ' ')"
fi
info matrix-target "$(jq -r '.workload_threshold.cells[] | (if .pass then "ok " else "MISS " end) + .cell + " " + .reason' "$mx_out/results.json" 2> /dev/null | tr '\n' ';')"
