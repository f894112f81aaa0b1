#!/usr/bin/env bash
# stress.sh - grade every lab's reference again and again while both CPU
# cores are busy with other work; every run must give full marks.
#
#   grader/bench/stress.sh [RUNS]      (default 50)
#
# The load is two busy loops, each stopped by `timeout` after the runs
# (and at most after two hours), so nothing is left running. Prints one
# line per run and a summary; exits 1 if any run lost a point.
# Leave this checkout alone while it runs: a `make grade` started beside
# it writes the same build/labNN/solution/results.json it reads.
set -euo pipefail
cd "$(dirname "$0")/../.."

runs=${1:-50}
max_load_seconds=7200
cores=$(nproc)
pids=()
for _ in $(seq 1 "$cores"); do
	timeout "$max_load_seconds" sh -c 'while :; do :; done' &
	pids+=("$!")
done
trap 'kill "${pids[@]}" 2>/dev/null || true' EXIT

# The watched program that came nearest its stall window in this run
# (build/labNN/solution/results.json): how much room a passing run had.
nearest_stall() {
	python3 - build/lab*/solution/results.json <<'EOF'
import json, sys
best = None
for path in sys.argv[1:]:
    with open(path) as f:
        for test in json.load(f)["tests"]:
            p = test.get("longest_pause")
            if p and (best is None or p["seconds"] / p["stall_window"] > best[0]):
                best = (p["seconds"] / p["stall_window"], p, test["name"])
if best:
    _, p, name = best
    print(f"pause {p['seconds']:.2f}/{p['stall_window']:g} s in {name}")
EOF
}

failures=0
start=$(date +%s)
for i in $(seq 1 "$runs"); do
	t0=$(date +%s.%N)
	status=0
	make --no-print-directory grade LAB=all SOLUTION=1 >/tmp/stress.$$ 2>&1 || status=$?
	t1=$(date +%s.%N)
	score=$(grep -o 'Score: [0-9]*/[0-9]*' /tmp/stress.$$ | tail -1 | cut -d' ' -f2)
	earned=${score%/*}
	possible=${score#*/}
	verdict=ok
	if [ "$status" -ne 0 ] || [ -z "$score" ] || [ "$earned" != "$possible" ]; then
		verdict=LOST
		failures=$((failures + 1))
		cp /tmp/stress.$$ "/tmp/stress-run-$i.log"
	fi
	pause=$(nearest_stall)
	awk -v i="$i" -v a="$t0" -v b="$t1" -v s="$score" -v v="$verdict" -v p="$pause" \
		'BEGIN { printf "run %2d  %6.1f s  score %s  %s  %s\n", i, b - a, s, v, p }'
done
rm -f /tmp/stress.$$
echo "stress: $runs runs of every lab's reference with $cores busy loops in" \
	"$(( $(date +%s) - start )) s; runs that lost points: $failures" \
	"$([ "$failures" -gt 0 ] && echo '(logs in /tmp/stress-run-N.log)')"
[ "$failures" -eq 0 ]
