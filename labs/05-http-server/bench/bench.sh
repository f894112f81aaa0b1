#!/bin/sh
# bench/bench.sh - requests per second of the lab 05 reference server,
# measured with wrk (Debian package wrk) over loopback.
#
#   labs/05-http-server/bench/bench.sh [SECONDS]    or: make bench LAB=05
#   SOLUTION=0 ... your code, SOLUTION=1 ... the reference; by default the
#   reference where it exists (the course's repository), else your code
#   (a student's handout, which has no solution/).
#
# The server is sequential, so wrk uses one connection (-c 1): that is
# the number later labs (concurrency, lab 06) compare against. Results
# depend on the machine; docs/05-http.md records one run.
set -eu
lab=$(cd "$(dirname "$0")/.." && pwd)
root=$(cd "$lab/../.." && pwd)
seconds=${1:-5}
if [ -d "$lab/solution" ]; then default=1; else default=0; fi
if [ "${SOLUTION:-$default}" = 1 ]; then
	[ -d "$lab/solution" ] || { echo "bench: no reference here ($lab/solution); SOLUTION=0 measures your code" >&2; exit 2; }
	src=$lab/solution out=$root/build/lab05/solution
else
	src=$lab out=$root/build/lab05
fi
echo "bench: $src"
command -v wrk >/dev/null || { echo "bench: wrk is not installed (make deps)" >&2; exit 1; }
make -s -C "$root" -f labs/build.mk LAB_DIR="$lab" SRC_DIR="$src" OUT="$out" programs

tmp=$(mktemp -d)
server_pid=
cleanup() {
	[ -n "$server_pid" ] && kill "$server_pid" 2>/dev/null && wait "$server_pid" 2>/dev/null
	rm -rf "$tmp"
}
trap cleanup EXIT INT TERM

mkdir "$tmp/www"
head -c 1024 /dev/zero | tr '\0' 'x' > "$tmp/www/index.html"
head -c 65536 /dev/urandom > "$tmp/www/64k.bin"
head -c 1048576 /dev/urandom > "$tmp/www/1m.bin"

# The server's log line per request goes to /dev/null: a terminal would
# slow it down more than the network does.
"$out/http_server" -p 0 -d "$tmp/www" > "$tmp/announce" 2>/dev/null &
server_pid=$!
tries=0
until grep -q '^listening on' "$tmp/announce"; do
	tries=$((tries + 1))
	[ $tries -gt 50 ] && { echo "bench: the server did not start" >&2; exit 1; }
	sleep 0.1
done
port=$(sed -n 's/^listening on .*:\([0-9]*\)$/\1/p' "$tmp/announce")

echo "wrk, 1 thread, 1 connection, ${seconds}s per file, $(nproc) CPU(s)"
for file in index.html 64k.bin 1m.bin; do
	printf '%-12s ' "$file"
	wrk -t 1 -c 1 -d "${seconds}s" "http://127.0.0.1:$port/$file" |
		awk '/Requests\/sec/ { rps = $2 } /Transfer\/sec/ { tps = $2 }
		     /Latency/ { lat = $2 }
		     /Socket errors|Non-2xx/ { sub(/^ */, ""); bad = bad "; " $0 }
		     END { printf "%10s req/s  %10s/s  latency %s%s\n", rps, tps, lat, bad }'
done
