# shellcheck shell=bash
# Priority-inversion demo: short `rename` and `futex` runs of inversion-demo
# under (1) the kernel's default scheduler, (2) scx_proxy --no-proxy and
# (3) scx_proxy, compared into $RESULTS/demo/ (per scenario and all together:
# <name>.txt, <name>.md, <name>.png, plus every run's JSON and log).
#
# Checks only that the runs work and their outputs are well-formed; whether
# donation helps is judged elsewhere. A scheduler that fails to attach is
# recorded as a failure of each of its runs; the other runs still happen.
#
# Tunables: DEMO_SECONDS (default 8), DEMO_SCENARIOS (default "rename futex").

demo_bin=$TOOLS_BIN/inversion-demo
demo_out=$RESULTS/demo
demo_secs=${DEMO_SECONDS:-8}
demo_scenarios=${DEMO_SCENARIOS:-rename futex}
demo_configs="default noproxy proxy"
mkdir -p "$demo_out"

if [ ! -x "$demo_bin" ]; then
	fail demo-binary "inversion-demo not found at $demo_bin"
	return 0
fi
if ! command -v jq > /dev/null; then
	fail demo-jq "jq is not installed in the guest: cannot validate the results"
fi

# demo_valid JSON CONFIG: the result parses, has samples and sane statistics,
# and names the scheduler that was attached.
demo_valid() {
	local json=$1 cfg=$2 sched_ok
	case $cfg in
	default) sched_ok='.scheduler == "default"' ;;
	*) sched_ok='(.scheduler | startswith("scx_proxy"))' ;;
	esac
	jq -e "
		.schema == \"scx_proxy/inversion-demo/v1\" and
		.latency.count > 0 and .latency.ops_per_sec > 0 and
		.latency.p50_us > 0 and .latency.p50_us <= .latency.p99_us and
		.latency.p99_us <= .latency.p999_us and .latency.p999_us <= .latency.max_us and
		(.latency.buckets | length) > 0 and
		([.latency.buckets[].count] | add) == .latency.count and
		(.kernel | length) > 0 and $sched_ok
	" "$json" > /dev/null
}

# demo_run SCENARIO CONFIG: one run, recorded as check demo-SCENARIO-CONFIG.
demo_run() {
	local sc=$1 cfg=$2 json log rc
	json=$demo_out/$sc-$cfg.json
	log=$demo_out/$sc-$cfg.log
	log "demo: $sc under $cfg (${demo_secs}s)"
	timeout $((demo_secs * 4 + 240)) "$demo_bin" run --scenario "$sc" \
		--duration "$demo_secs" --label "$sc/$cfg" --workdir "$WORK" \
		--out "$json" > "$log" 2>&1
	rc=$?
	if [ $rc -ne 0 ]; then
		fail "demo-$sc-$cfg" "exit $rc: $(tail -n 3 "$log" | tr '\n' ' ')"
		rm -f "$json"
		return 1
	fi
	if demo_valid "$json" "$cfg"; then
		pass "demo-$sc-$cfg" "$(jq -r '.latency | "n=\(.count) p99.9=\(.p999_us)us max=\(.max_us)us"' "$json")"
	else
		fail "demo-$sc-$cfg" "malformed result $json: $(head -c 300 "$json" | tr '\n' ' ')"
		return 1
	fi
}

# --- refusal: not root -------------------------------------------------------
if command -v setpriv > /dev/null; then
	out=$(setpriv --reuid=65534 --regid=65534 --clear-groups "$demo_bin" run \
		--scenario rename --duration 1 --workdir "$WORK" --out "$WORK/nobody.json" 2>&1)
	rc=$?
	if [ $rc -ne 0 ] && grep -q 'must run as root' <<< "$out" && [ ! -e "$WORK/nobody.json" ]; then
		pass demo-refuses-non-root "$out"
	else
		fail demo-refuses-non-root "rc $rc: $out"
	fi
fi

# --- the runs ------------------------------------------------------------------
for cfg in $demo_configs; do
	attached=1
	case $cfg in
	default)
		if [ "$(sched_state)" != disabled ] && [ "$(sched_state)" != missing ]; then
			fail demo-default-scheduler "a sched_ext scheduler is attached: $(sched_ops)"
			attached=0
		fi
		;;
	noproxy)
		sched_start scx_proxy --no-proxy || attached=0
		;;
	proxy)
		sched_start scx_proxy || attached=0
		;;
	esac
	for sc in $demo_scenarios; do
		if [ $attached = 1 ]; then
			demo_run "$sc" "$cfg"
		else
			fail "demo-$sc-$cfg" "not run: scheduler for '$cfg' did not attach (see $RESULTS/logs/)"
		fi
	done
	if [ "$cfg" != default ] && [ $attached = 1 ]; then
		if sched_stop; then
			pass "demo-sched-stop-$cfg"
		else
			fail "demo-sched-stop-$cfg" "scx_proxy ($cfg) did not detach cleanly"
		fi
	fi
done

# Nothing left behind by the runs.
left=$(ls -d /sys/fs/cgroup/inversion-demo.* "$WORK"/inversion-demo.* 2>/dev/null)
if [ -z "$left" ]; then
	pass demo-cleanup "no cgroups or scratch directories left"
else
	fail demo-cleanup "left behind: $(echo $left)"
fi

# --- comparisons ---------------------------------------------------------------
# demo_compare NAME JSON...: NAME.txt, NAME.md, NAME.png in $demo_out.
demo_compare() {
	local name=$1 title
	shift
	title="inversion-demo $name: default vs scx_proxy --no-proxy vs scx_proxy (${demo_secs}s runs)"
	if "$demo_bin" compare "$@" --title "$title" --plot "$demo_out/$name.png" \
		> "$demo_out/$name.txt" 2> "$demo_out/$name.err" &&
		"$demo_bin" compare "$@" --markdown > "$demo_out/$name.md" 2>> "$demo_out/$name.err"; then
		:
	else
		fail "demo-compare-$name" "$(tail -n 3 "$demo_out/$name.err" | tr '\n' ' ')"
		return 1
	fi
	local rows=$(($# + 1)) png_magic
	png_magic=$(head -c 4 "$demo_out/$name.png" | od -An -c | tr -d ' ')
	if [ "$(wc -l < "$demo_out/$name.txt")" -eq $rows ] &&
		[ "$(wc -l < "$demo_out/$name.md")" -eq $((rows + 1)) ] &&
		[ -s "$demo_out/$name.png" ] && [ "$png_magic" = '211PNG' ]; then
		pass "demo-compare-$name" "$rows-line table, plot $(stat -c %s "$demo_out/$name.png") bytes"
	else
		fail "demo-compare-$name" "bad outputs: txt $(wc -l < "$demo_out/$name.txt") lines, md $(wc -l < "$demo_out/$name.md") lines, png magic '$png_magic'"
	fi
	rm -f "$demo_out/$name.err"
}

all=()
for sc in $demo_scenarios; do
	files=()
	for cfg in $demo_configs; do
		[ -s "$demo_out/$sc-$cfg.json" ] && files+=("$demo_out/$sc-$cfg.json")
	done
	if [ ${#files[@]} -eq 0 ]; then
		fail "demo-compare-$sc" "no successful run to compare"
		continue
	fi
	demo_compare "$sc" "${files[@]}"
	all+=("${files[@]}")
done
if [ ${#all[@]} -gt 0 ]; then
	demo_compare all "${all[@]}"
	log "demo results in $demo_out:"
	cat "$demo_out/all.txt" >&2
fi
