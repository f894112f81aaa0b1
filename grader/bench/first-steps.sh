#!/usr/bin/env bash
# first-steps.sh - what a learner sees first: in a student's copy of the
# course (make handout, every lab, no solutions), each lab's untouched
# skeleton is built and graded; prints how many lines `make grade` writes
# and the first lines (the step view), and times `make grade STEP=1` on
# lab 01's skeleton.
#
#   grader/bench/first-steps.sh [RUNS]     (default 5 timed STEP=1 runs)
#
# The goals it is read against (figures in grader/bench/README.md): the
# first step's reports only, about 60 lines on a skeleton, and STEP=1 of
# lab 01 within 2 s on a quiet 2-core machine.
set -euo pipefail
cd "$(dirname "$0")/../.."

runs=${1:-5}
copy=$(mktemp -d /tmp/first-steps.XXXXXX)
trap 'rm -rf "$copy"' EXIT

make --no-print-directory handout OUT="$copy/labs" WEEK=6 >/dev/null
cd "$copy/labs"

for lab in 01 02 03 04 05 06; do
	make --no-print-directory "lab$lab" >/dev/null 2>&1 || true
	make --no-print-directory grade >"$copy/grade.txt" 2>&1 || true
	lines=$(wc -l <"$copy/grade.txt")
	score=$(grep -o 'Score: [0-9]*/[0-9]*' "$copy/grade.txt" | tail -1 | cut -d' ' -f2)
	steps=$(grep -c '^  Step ' "$copy/grade.txt" || true)
	printf 'lab %s skeleton: %3d lines, %d step lines, score %s\n' \
		"$lab" "$lines" "$steps" "${score:-none}"
done

make --no-print-directory lab01 >/dev/null 2>&1 || true
for i in $(seq 1 "$runs"); do
	start=$(date +%s.%N)
	make --no-print-directory grade STEP=1 >/dev/null 2>&1 || true
	end=$(date +%s.%N)
	awk -v i="$i" -v a="$start" -v b="$end" \
		'BEGIN { printf "lab 01 skeleton, make grade STEP=1, run %d: %.2f s\n", i, b - a }'
done
