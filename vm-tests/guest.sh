#!/usr/bin/env bash
# Guest side of the VM suite: runs inside the virtme-ng guest, as root.
#   guest.sh MODE RESULTS_DIR      MODE: test (all suites but the compat,
#                                  llc and manual ones: 95 and up)
#                                  | base | rest | workloads | adversarial
#                                  | storm | demo
#                                  | llc (the 2-LLC boot) | compat (the 6.12
#                                  boot) | suite name glob
set -u
MODE=$1
export RESULTS=$2
here=$(cd "$(dirname "$0")" && pwd)
export WORK
WORK=$(mktemp -d /tmp/scx-vm.XXXXXX)
export TOOLS_BIN=${TOOLS_BIN:?}
export SCX_PROXY=$TOOLS_BIN/scx_proxy
. "$here/lib.sh"

touch "$RESULTS/checks.tsv"
log "guest up: kernel $(uname -r), $(nproc) CPUs, sched_ext state $(sched_state)"
uname -r > "$RESULTS/kernel-release"
cgroup_setup || fail vm-cgroup-setup "cannot enable the cpu controller"
dmesg -c > "$RESULTS/dmesg-boot.txt" 2>&1

case $MODE in
test) suites=$(ls "$here"/suites/*.sh | grep -vE '/(60|90|9[5-9])-') ;;
base) suites=$(ls "$here"/suites/10-*.sh) ;;
rest) suites=$(ls "$here"/suites/*.sh | grep -vE '/(10|30|35|52|60|90|9[5-9])-') ;;
workloads) suites=$(ls "$here"/suites/52-*.sh) ;;
llc) suites=$(ls "$here"/suites/60-*.sh) ;;
compat) suites=$(ls "$here"/suites/90-*.sh) ;;
adversarial) suites=$(ls "$here"/suites/30-*.sh) ;;
storm) suites=$(ls "$here"/suites/35-*.sh) ;;
demo) suites=$(ls "$here"/suites/*demo*.sh) ;;
*) suites=$(ls "$here"/suites/$MODE*.sh 2>/dev/null) ;;
esac
[ -n "$suites" ] || fail vm-suites "no suite matches '$MODE'"

for s in $suites; do
	log "=== suite $(basename "$s")"
	( . "$s" )
	# a suite that left a scheduler attached must not spoil the next one
	if [ "$(sched_state)" != disabled ]; then
		fail "$(basename "$s" .sh)-left-attached" "state $(sched_state) after the suite"
		pkill -INT -f "$TOOLS_BIN/scx_proxy" 2>/dev/null
		sleep 5
	fi
done

trouble=$(kernel_trouble)
dmesg > "$RESULTS/dmesg-$MODE.txt" 2>&1
if [ -n "$trouble" ]; then
	fail "kernel-log-clean-$MODE" "$(printf '%s' "$trouble" | head -n 5)"
else
	pass "kernel-log-clean-$MODE" "no BUG/WARNING/stall/ejection in the kernel log"
fi
rm -rf "$WORK"
touch "$RESULTS/done-$MODE"
log "guest done"
