# shellcheck shell=bash
# 50-hackbench: scx_proxy must cost (almost) nothing on message-passing work
# (Proxy Execution v6 made `perf bench sched messaging -p -t -g 1` 6.3x
# slower by migrating whole blocked chains on every handoff).
#
# Sourced by the guest runner (vm-tests/lib.sh) with set -u and $RESULTS,
# $WORK, $TOOLS_BIN, $SCX_PROXY, pass/fail/check/log available.
#
# Runs a short matrix ({pipe,socket} x {threads,processes} x {1,4} groups,
# HB_RUNS repetitions, schedulers interleaved) for the kernel default vs
# scx_proxy (plus scx_bpfland/scx_lavd with HB_PEERS=1, when $HB_PEERS_DIR
# has them; their numbers are reported, the checks compare with the kernel
# default only) and records:
#   hackbench-output          hackbench's human and JSON output are well formed
#   hackbench-harness         sched-harness ran: scx_proxy started/stopped
#                             cleanly every repetition, results.json parses,
#                             ratios.png is a PNG
#   hackbench-threshold       scx_proxy vs the kernel default: geometric mean
#                             over the 8 cells <= HB_GEOMEAN and every cell
#                             <= HB_CELL (see below for why these values)
#
# Thresholds (measured in this VM: TCG, 2 vCPUs, kernel 7.3.4). The kernel
# default against itself (A/A: median of odd vs even repetitions, 10 runs of
# loops 60) gave per-cell ratios 0.79-1.26 on a quiet host and 0.53-2.21
# while other VMs loaded the host; the geometric mean over the 8 cells gave
# 1.01-1.06 on the quiet host. Single runs vary by 35-130% of the median
# (min-max). So a per-cell limit of 2.0 (the regression we guard against,
# Proxy Execution v6's, is 6.3x) and a geometric-mean limit of 1.35: a
# uniform 35% slowdown fails, noise does not. Override with HB_CELL /
# HB_GEOMEAN. For real comparisons use sched-harness with more --runs and
# --threshold 1.10 on a quiet machine.
#
# HB_BASE=/path/to/scx_proxy adds that build as scheduler scx_proxy-base
# (before/after ratios from one boot; vm-tests/run passes it into the guest
# through SCX_PROXY_GUEST_ENV, e.g. SCX_PROXY_GUEST_ENV="HB_BASE=...").
#
# Budget: 188 s of VM time measured with loops 200 (default + scx_proxy,
# 5 runs; +1-2 s per scx_proxy start); the default is loops 100 since the
# CI run on 3c99a42 took 81 minutes (the A/A above was at loops 60, and
# scx_proxy's cells sit at 0.4-0.8x the default, far from the limits).

hb_out=$RESULTS/hackbench
mkdir -p "$hb_out"
HB_RUNS=${HB_RUNS:-5}
HB_LOOPS=${HB_LOOPS:-100}
HB_CELL=${HB_CELL:-2.0}
HB_GEOMEAN=${HB_GEOMEAN:-1.35}
HB_PEERS_DIR=${HB_PEERS_DIR:-/var/cache/scx_proxy/peers/bin}
# Peers only when asked (HB_PEERS=1, also read by 52-workloads), so that a
# run's time does not depend on what the cache holds: with both peers built
# the CI-like run on cb4b2bb took 1272 s for its 'rest' boot instead of ~750.
HB_PEERS=${HB_PEERS:-0}

# --- hackbench alone -------------------------------------------------------
hb_check_output() {
    local human json
    human=$("$TOOLS_BIN/hackbench" -p -T -g 1 -l 10) || return 1
    grep -Eq '^Time: [0-9]+\.[0-9]{3}$' <<<"$human" || { echo "no Time: line in: $human"; return 1; }
    json=$("$TOOLS_BIN/hackbench" -g 2 -f 5 -l 10 --json) || return 1
    # 2 groups x 5 x 5 x 10 loops = 500 messages
    grep -q '"messages":500' <<<"$json" || { echo "bad JSON: $json"; return 1; }
    # invalid flags are rejected with status 2
    local rc=0
    "$TOOLS_BIN/hackbench" -g 0 2>/dev/null || rc=$?
    [[ $rc == 2 ]] || { echo "hackbench -g 0 gave status $rc, want 2"; return 1; }
}
check hackbench-output hb_check_output

# --- the comparison ----------------------------------------------------------
hb_scheds=default,scx_proxy
for hb_peer in scx_bpfland scx_lavd; do
    if [[ $HB_PEERS != 1 ]]; then
        log "hackbench: peer $hb_peer not compared (HB_PEERS=1 asks for it)"
    elif [[ -x $HB_PEERS_DIR/$hb_peer ]]; then
        hb_scheds+=",$hb_peer"
    else
        log "hackbench: peer $hb_peer not in $HB_PEERS_DIR: not compared"
    fi
done

# HB_BASE: another scx_proxy build (say, from before a change), compared in
# the same boot as scheduler scx_proxy-base (reported, not checked)
hb_base=()
if [[ -n ${HB_BASE:-} ]]; then
    hb_scheds=default,scx_proxy-base,${hb_scheds#default,}
    hb_base=(--scx-proxy-base "$HB_BASE")
fi

log "hackbench: sched-harness --schedulers $hb_scheds --runs $HB_RUNS --loops $HB_LOOPS"
hb_rc=0
"$TOOLS_BIN/sched-harness" \
    --schedulers "$hb_scheds" \
    --scx-proxy "$SCX_PROXY" "${hb_base[@]}" \
    --peers-dir "$HB_PEERS_DIR" \
    --runs "$HB_RUNS" --loops "$HB_LOOPS" --groups 1,4 \
    --threshold "$HB_CELL" --threshold-geomean "$HB_GEOMEAN" \
    --threshold-baseline default --threshold-candidate scx_proxy \
    --out-dir "$hb_out" \
    >"$hb_out/stdout.txt" 2>"$hb_out/stderr.txt" || hb_rc=$?
log "hackbench: sched-harness exit status $hb_rc; table in $hb_out/table.txt"
[[ -f $hb_out/table.txt ]] && while IFS= read -r hb_line; do log "  $hb_line"; done <"$hb_out/table.txt"

hb_well_formed() {
    [[ -s $hb_out/results.json ]] || { echo "no results.json"; return 1; }
    if command -v python3 >/dev/null; then
        python3 - "$hb_out/results.json" <<'PY' || return 1
import json, sys
r = json.load(open(sys.argv[1]))
names = {s["name"]: s for s in r["schedulers"]}
assert names["scx_proxy"]["present"], "scx_proxy missing"
cells = {c["ipc"] + c["mode"] + str(c["groups"]) for c in r["cells"]}
assert len(cells) == 8, cells
for want in ("default", "scx_proxy"):
    n = sum(1 for s in r["samples"] if s["scheduler"] == want and s["tool"] == "hackbench")
    assert n == 8 * r["runs"], f"{want}: {n} samples"
assert r["threshold"] is not None
PY
    else
        grep -q '"threshold"' "$hb_out/results.json" || return 1
    fi
    [[ $(head -c 4 "$hb_out/ratios.png" | od -An -c | tr -d ' ') == *PNG* ]] || { echo "ratios.png is not a PNG"; return 1; }
}

case $hb_rc in
    0 | 1)
        if hb_msg=$(hb_well_formed 2>&1); then pass hackbench-harness; else fail hackbench-harness "outputs malformed: $hb_msg"; fi
        ;;
    *)
        fail hackbench-harness "sched-harness exited $hb_rc: $(tail -n 20 "$hb_out/stderr.txt" | tr '\n' ' ')"
        ;;
esac
case $hb_rc in
    0) pass hackbench-threshold "$(grep -m1 '^Threshold' "$hb_out/table.txt")" ;;
    1) fail hackbench-threshold "$(grep -E 'THRESHOLD FAILED' "$hb_out/stderr.txt" | tr '\n' ' ')" ;;
    *) fail hackbench-threshold "no verdict (sched-harness exit $hb_rc)" ;;
esac
