#!/usr/bin/env bash
# sandbox-cost.sh - what the grading sandbox costs: `make grade LAB=all
# SOLUTION=1` with every layer, and with none (no bubblewrap, no cgroups,
# no namespaces: GRADER_SANDBOX=0 GRADER_CGROUP=0 GRADER_ENCLOSURE=0),
# in alternating rounds, each from a clean build of the references.
#
#   grader/bench/sandbox-cost.sh [ROUNDS]     (default 5)
#
# Prints each run, then per side the median with the lowest and highest,
# and the median of the per-round ratios (sandbox / none). Run it on a
# quiet machine: both sides share its cores with whatever else runs.
set -euo pipefail
cd "$(dirname "$0")/../.."

rounds=${1:-5}
declare -a on off ratios

run() {	# run SIDE ENV... : prints seconds, fails unless full marks
	local side=$1; shift
	rm -rf build/lab*/solution
	local start end status=0
	start=$(date +%s.%N)
	env "$@" make --no-print-directory grade LAB=all SOLUTION=1 >/tmp/sandbox-cost.$$ 2>&1 || status=$?
	end=$(date +%s.%N)
	local score
	score=$(grep -o 'Score: [0-9]*/[0-9]*' /tmp/sandbox-cost.$$ | tail -1 | cut -d' ' -f2)
	if [ "$status" -ne 0 ]; then
		echo "$side: not full marks (exit $status, score ${score:-none}); see /tmp/sandbox-cost.$$" >&2
		exit 1
	fi
	awk -v a="$start" -v b="$end" 'BEGIN { printf "%.2f", b - a }'
}

for i in $(seq 1 "$rounds"); do
	# Alternate which side goes first, so that neither always runs warm.
	if [ $((i % 2)) -eq 1 ]; then
		a=$(run sandbox GRADER_SANDBOX=1); b=$(run none GRADER_SANDBOX=0 GRADER_CGROUP=0 GRADER_ENCLOSURE=0)
	else
		b=$(run none GRADER_SANDBOX=0 GRADER_CGROUP=0 GRADER_ENCLOSURE=0); a=$(run sandbox GRADER_SANDBOX=1)
	fi
	on+=("$a"); off+=("$b")
	ratios+=("$(awk -v a="$a" -v b="$b" 'BEGIN { printf "%.3f", a / b }')")
	printf 'round %d  sandbox %6.2f s  none %6.2f s  ratio %s\n' "$i" "$a" "$b" "${ratios[-1]}"
done
rm -f /tmp/sandbox-cost.$$

stats() {	# stats VALUES... : median [min-max]
	local sorted n
	sorted=$(printf '%s\n' "$@" | sort -n)
	n=$#
	printf '%s [%s-%s]' "$(echo "$sorted" | sed -n "$(( (n + 1) / 2 ))p")" \
		"$(echo "$sorted" | head -1)" "$(echo "$sorted" | tail -1)"
}
echo "sandbox: $(stats "${on[@]}") s; none: $(stats "${off[@]}") s; ratio (sandbox/none, per round): $(stats "${ratios[@]}")"
