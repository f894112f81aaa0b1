#!/bin/sh
# fuzz/run.sh - fuzz the lab 05 parsers (http_parse.c) with libFuzzer.
#
#   labs/05-http-server/fuzz/run.sh [SECONDS]        your http_parse.c
#   SOLUTION=1 labs/05-http-server/fuzz/run.sh 300   the reference
#
# Builds fuzz_parse.c with clang's -fsanitize=fuzzer,address,undefined
# into build/lab05-fuzz/, seeds a corpus with a few valid messages, and
# runs for SECONDS (default 60). A crash or a broken contract stops it
# with a report and a crash-* file to replay: build/lab05-fuzz/fuzz_parse FILE
set -eu
lab=$(cd "$(dirname "$0")/.." && pwd)
root=$(cd "$lab/../.." && pwd)
seconds=${1:-60}
src=$lab
if [ "${SOLUTION:-0}" = 1 ]; then
	src=$lab/solution
fi
out=$root/build/lab05-fuzz
mkdir -p "$out/corpus"
cd "$out"

clang -std=c11 -D_DEFAULT_SOURCE -g -O1 -fsanitize=fuzzer,address,undefined \
	-fno-sanitize-recover=undefined -I"$lab" \
	-o fuzz_parse "$lab/fuzz/fuzz_parse.c" "$src/http_parse.c"

seed() { printf "$2" > "corpus/$1"; }
seed get 'GET /index.html HTTP/1.1\r\nHost: a\r\nAccept: */*\r\n\r\n'
seed post 'POST /echo HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\n\r\nabc'
seed lf 'GET / HTTP/1.0\nConnection: keep-alive\n\n'
seed te 'POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: gzip, chunked\r\n\r\n'
seed resp 'HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello'
seed chunk '\0044\r\nWiki\r\n5;x=y\r\npedia\r\n0\r\nT: 1\r\n\r\n'

echo "fuzzing $src/http_parse.c for $seconds s (corpus: $out/corpus)"
./fuzz_parse -max_total_time="$seconds" -max_len=4096 -print_final_stats=1 \
	-timeout=5 -rss_limit_mb=1024 corpus
