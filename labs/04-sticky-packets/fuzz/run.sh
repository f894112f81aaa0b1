#!/bin/sh
# fuzz/run.sh - fuzz the lab 04 decoder with libFuzzer (clang 14).
#
#   labs/04-sticky-packets/fuzz/run.sh [SECONDS] [SRC_DIR]
#
# SECONDS: how long to fuzz (default 180). SRC_DIR: the folder whose
# frame.c is fuzzed (default: the lab folder, your code; use
# labs/04-sticky-packets/solution for the reference). Builds
# build/fuzz04/fuzz_frame with AddressSanitizer and UBSan, keeps the
# corpus in build/fuzz04/corpus between runs, and exits non-zero when
# libFuzzer finds a crash (the input is saved as build/fuzz04/crash-*).
# FUZZ_OUT=DIR works in DIR instead of build/fuzz04; FUZZ_CC=clang-14
# picks the compiler. Needs clang and libFuzzer (Debian: clang,
# libclang-rt-14-dev).
set -eu

here=$(cd "$(dirname "$0")" && pwd)
lab=$(dirname "$here")
root=$(cd "$lab/../.." && pwd)
seconds=${1:-180}
src=${2:-$lab}
out=${FUZZ_OUT:-$root/build/fuzz04}
cc=${FUZZ_CC:-clang}

mkdir -p "$out/corpus"
"$cc" -std=c11 -D_DEFAULT_SOURCE -g -O1 -Wall -Wextra \
	-fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined \
	-I"$lab" -o "$out/fuzz_frame" "$here/fuzz_frame.c" "$src/frame.c"

# A few seeds: two messages in each framing, an over-limit header, a
# long line. Byte 0: bit 7 = line mode, bits 0-5 = limit; byte 1: cuts.
seed() { printf "$2" > "$out/corpus/seed-$1"; }
seed len '\020\003\000\000\000\002hi\000\000\000\000'
seed line '\220\005hello\n\nworld\n'
seed over '\004\001\000\000\000\005abcde'
seed long '\204\002abcdefgh\n'

cd "$out"
# -print_final_stats shows the runs made; the corpus size is the number
# of files in build/fuzz04/corpus when it ends.
"$out/fuzz_frame" -max_total_time="$seconds" -max_len=4096 \
	-print_final_stats=1 -artifact_prefix="$out/" "$out/corpus"
echo "corpus: $(ls "$out/corpus" | wc -l) inputs in $out/corpus"
