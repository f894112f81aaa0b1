#!/usr/bin/env bash
# grade-times.sh - how long grading a lab's reference takes, and whether
# the score is the same every time.
#
#   grader/bench/grade-times.sh [LAB] [RUNS]     (defaults: 01, 20; LAB may be "all")
#
# Each run starts from a clean build of the reference, so a run's time is
# "build plus every test", valgrind tests included. Prints one line per
# run, then min/median/max and whether every score was the same.
set -euo pipefail
cd "$(dirname "$0")/../.."

lab=${1:-01}
runs=${2:-20}
if [ "$lab" = all ]; then out="build/lab*/solution"; else out="build/lab$lab/solution"; fi
times=()
scores=()

for i in $(seq 1 "$runs"); do
	rm -rf $out
	start=$(date +%s.%N)
	status=0
	make --no-print-directory grade LAB="$lab" SOLUTION=1 >/tmp/grade-times.$$ 2>&1 || status=$?
	end=$(date +%s.%N)
	score=$(grep -o 'Score: [0-9]*/[0-9]*' /tmp/grade-times.$$ | tail -1 | cut -d' ' -f2)
	elapsed=$(awk -v a="$start" -v b="$end" 'BEGIN { printf "%.3f", b - a }')
	printf 'run %2d  %6.2f s  score %s  exit %d\n' "$i" "$elapsed" "${score:-none}" "$status"
	times+=("$elapsed")
	scores+=("${score:-none}")
done
rm -f /tmp/grade-times.$$

sorted=$(printf '%s\n' "${times[@]}" | sort -n)
min=$(echo "$sorted" | head -1)
max=$(echo "$sorted" | tail -1)
median=$(echo "$sorted" | sed -n "$(( (runs + 1) / 2 ))p")
distinct=$(printf '%s\n' "${scores[@]}" | sort -u | wc -l)
printf 'lab %s, %d runs: min %.2f s, median %.2f s, max %.2f s; ' "$lab" "$runs" "$min" "$median" "$max"
if [ "$distinct" -eq 1 ]; then
	echo "every score was ${scores[0]}"
else
	echo "SCORES DIFFERED: $(printf '%s\n' "${scores[@]}" | sort | uniq -c | tr '\n' ' ')"
	exit 1
fi
